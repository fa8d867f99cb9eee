"""SEC-3: /audit — the main admin reads who did what, when, before → after; 10 a page, newest first."""
from __future__ import annotations

from bot.store import write_audit
from bot.ui.org import AuditCD
from tests.support.factories import make_org, make_user

MAIN, ADMIN = 100001, 100002


async def fill(store, org, n):
    """n renames by the main admin, one minute apart, oldest first (UTC times in the store)."""
    async with store.raw_tx() as db:
        for i in range(n):
            await write_audit(db, MAIN, org, "org.rename", None, {"name": f"名{i}"}, {"name": f"名{i + 1}"},
                              f"2026-11-23T01:{i:02d}:00+00:00")


async def test_sec_3_audit_lists_who_what_when_before_after_in_local_time(client_factory, store):
    await make_user(store, MAIN, "王主任", verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN)
    c = client_factory(MAIN)
    await c.press(await c.press(await c.send("/org"), "🔧 设置"), "开启加入审核")
    await fill(store, org, 1)
    sent = await c.send("/audit")
    text = sent.text
    assert "操作日志" in text and "金水区委宣传部 ⚪ 未认证" in text and "第 1 页" in text
    assert "<b>2026-11-23 09:00</b> 王主任：组织改名\n    名0 → 名1" in text, "UTC+8 for Asia/Shanghai"
    assert "王主任：设置加入审核\n    关 → 开" in text
    assert text.index("组织改名") < text.index("设置加入审核"), "newest first"
    assert sent.messages[0].protect_content is True
    assert sent.buttons() == []


async def test_sec_3_audit_pages_ten_at_a_time_both_ways(client_factory, store):
    await make_user(store, MAIN, verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN)
    await fill(store, org, 23)
    c = client_factory(MAIN)
    first = await c.send("/audit")
    assert first.text.count("组织改名") == 10 and "名22 → 名23" in first.text and "名13 → 名14" in first.text
    assert [b for b, _ in first.buttons()] == ["较早 ▶"]
    second = await c.press(first, "较早")
    assert "第 2 页" in second.text and "名13 → 名14" not in second.text
    assert "名12 → 名13" in second.text and "名3 → 名4" in second.text and "名2 → 名3" not in second.text
    assert [b for b, _ in second.buttons()] == ["◀ 较新", "较早 ▶"]
    third = await c.press(second, "较早")
    assert third.text.count("组织改名") == 3 and "名0 → 名1" in third.text
    assert [b for b, _ in third.buttons()] == ["◀ 较新"]
    back = await c.press(third, "较新")
    assert "第 2 页" in back.text and back.text.count("组织改名") == 10 and "名3 → 名4" in back.text
    top = await c.press(back, "较新")
    assert "第 1 页" in top.text and "名22 → 名23" in top.text and [b for b, _ in top.buttons()] == ["较早 ▶"]


async def test_sec_3_audit_is_for_the_main_admin_only(client_factory, store):
    await make_user(store, MAIN, verified=True)
    await make_user(store, ADMIN, verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN, admins=[ADMIN])
    await fill(store, org, 2)
    admin = client_factory(ADMIN)
    assert "只有主管理员可以查看操作日志" in (await admin.send("/audit")).text
    pressed = await admin.click(AuditCD(org=org).pack())  # forged: a plain admin's card has no such button
    assert "只有主管理员可以查看操作日志" in pressed.answers[0].text and not pressed.texts
    await make_user(store, 100009, verified=True)
    assert "还不是任何学习组织的管理员" in (await client_factory(100009).send("/audit")).text


async def test_sec_3_audit_from_the_org_card_and_english(client_factory, store):
    await make_user(store, MAIN, verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN)
    await fill(store, org, 1)
    c = client_factory(MAIN, language_code="en")
    card = await c.send("/org")
    log = await c.press(card, "Audit log")
    assert "renamed the organisation" in log.text and "名0 → 名1" in log.text

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
    assert "<b>2026-11-23 09:00</b> 王主任 把组织名称从“名0”改为“名1”" in text, "UTC+8 for Asia/Shanghai"
    assert "王主任 开启了加入审核" in text
    assert text.index("把组织名称") < text.index("开启了加入审核"), "newest first (by entry)"
    assert sent.messages[0].protect_content is True
    assert sent.buttons() == []


async def test_sec_3_audit_pages_ten_at_a_time_both_ways(client_factory, store):
    await make_user(store, MAIN, verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN)
    await fill(store, org, 23)
    c = client_factory(MAIN)
    first = await c.send("/audit")
    assert first.text.count("把组织名称") == 10 and "“名22”改为“名23”" in first.text and "“名13”改为“名14”" in first.text
    assert [b for b, _ in first.buttons()] == ["较早 ▶"]
    second = await c.press(first, "较早")
    assert "第 2 页" in second.text and "“名13”改为“名14”" not in second.text
    assert "“名12”改为“名13”" in second.text and "“名3”改为“名4”" in second.text and "“名2”改为“名3”" not in second.text
    assert [b for b, _ in second.buttons()] == ["◀ 较新", "较早 ▶"]
    third = await c.press(second, "较早")
    assert third.text.count("把组织名称") == 3 and "“名0”改为“名1”" in third.text
    assert [b for b, _ in third.buttons()] == ["◀ 较新"]
    back = await c.press(third, "较新")
    assert "第 2 页" in back.text and back.text.count("把组织名称") == 10 and "“名3”改为“名4”" in back.text
    top = await c.press(back, "较新")
    assert "第 1 页" in top.text and "“名22”改为“名23”" in top.text and [b for b, _ in top.buttons()] == ["较早 ▶"]


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
    assert "renamed the organisation from “名0” to “名1”" in log.text


async def test_sec_3_only_the_main_admin_sees_audit_in_help_and_the_menu(client_factory, store):
    from aiogram.methods import SetMyCommands
    await make_user(store, MAIN, "王主任", verified=True)
    await make_user(store, ADMIN, "李干事", verified=True)
    await make_org(store, "金水区委宣传部", MAIN, admins=[ADMIN])
    for user_id, sees in ((MAIN, True), (ADMIN, False)):
        sent = await client_factory(user_id).send("/help")
        assert ("/audit" in sent.text) is sees, (user_id, sent.text)
        assert "/members" in sent.text  # both are admins
        # the roles were written outside the store's writes: the menu is set at their first update, once
        (menu,) = sent.of(SetMyCommands)
        assert ("audit" in [c.command for c in menu.commands]) is sees
        assert not (await client_factory(user_id).start()).of(SetMyCommands)


def test_sec_3_every_audit_action_written_reads_as_a_sentence_in_both_languages():
    from bot.i18n import I18n
    from tests.handlers.test_authz import written_audit_actions
    i18n = I18n()
    for lang in i18n.languages:
        missing = sorted(a for a in written_audit_actions()
                         if not any(f"audit.say.{a.replace('.', '_')}{v}" in i18n.catalogues[lang]
                                    for v in ("", "_keep")))
        assert not missing, f"{lang}: no [audit.say] sentence for {missing}"


async def test_sec_3_audit_reads_as_sentences_with_names_local_time_no_ids_nothing_cut(client_factory, store):
    await make_user(store, MAIN, "张伟", verified=True)
    await make_user(store, 100007, "王芳")
    org = await make_org(store, "机关党总支", MAIN, branches=["第一党支部", "研发&测试党支部"])
    long_reason = "因为参加市里组织的专题学习活动表现突出并且按时完成了全部的学习任务所以额外奖励"  # > 40 characters
    async with store.raw_tx() as db:
        b1, b2 = [r[0] for r in await (await db.execute("SELECT id FROM branches ORDER BY id")).fetchall()]
        rows = [
            ("member.import", None, None, {"added": 2, "present": 0, "branches": []}),
            ("member.move", "member:41", {"name": "李四", "phone": "+8613800000004", "branch_id": b1},
             {"name": "李四", "phone": "+8613800000004", "branch_id": b2}),
            ("invite.create", "invite:3", None, {"branch_id": b1, "expires_at": "2026-11-30T01:00:00+00:00",
                                                 "max_uses": 10}),
            ("join.approve", "join_request:9", {"status": "pending"},
             {"status": "approved", "user_id": 100007, "branch_id": b2}),
            ("points.adjust", "100007", None, {"amount": 5, "reason": long_reason, "day": "2026-11-23"}),
        ]
        for n, (action, target, before, after) in enumerate(rows):
            await write_audit(db, MAIN, org, action, target, before, after, f"2026-11-23T02:0{n}:00+00:00")
    text = (await client_factory(MAIN).send("/audit")).text
    for line in ("<b>2026-11-23 10:00</b> 张伟 向 机关党总支 批量导入成员：新增 2 人，已在本组织 0 人",
                 "<b>2026-11-23 10:01</b> 张伟 把成员 李四 从“第一党支部”调到“研发&amp;测试党支部”",  # escaped once
                 "张伟 创建了邀请链接 #3（支部：第一党支部，有效期至 2026-11-30，最多 10 次）",
                 "张伟 同意了 王芳 的加入申请（研发&amp;测试党支部）",
                 f"张伟 给 王芳 加了 5 分，理由：{long_reason}"):
        assert line in text, (line, text)
    for internal in ("member:", "branch_id", "user_id", "join_request", "100007", "…", "→ {"):
        assert internal not in text, internal

"""/orgreport and /reportsettings through the dispatcher (REP-2..8, SEC-1, SEC-2, SEC-4): what an admin
sees and gets (texts, buttons, photos, workbooks, outbox rows), what a non-admin is refused."""
from __future__ import annotations

from datetime import datetime, timedelta
from io import BytesIO

from aiogram.methods import SendDocument, SendPhoto
from openpyxl import load_workbook
from PIL import Image

from bot.services import reports as svc
from tests.conftest import TZ
from tests.support.factories import NOW, make_member, make_org, make_user
from tests.support.sql import store_rows

ADMIN, ALICE, BOB, CAROL, OUTSIDER, LOWER_ADMIN = 510001, 510002, 510003, 510004, 510009, 510005


async def award(store, user_id, day, amount):
    await store.award_points(user_id, "daily", day, amount, cap=None, best_of_day=False, ref="t", reason=None,
                             idem_key=f"t:{user_id}:{day}", now=NOW)


async def setup(store, clock):
    """A root with one lower organisation and two branches; yesterday Alice 5 points, Bob 0, the day before
    nobody; Dave is listed but never registered."""
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=TZ))
    await make_user(store, ADMIN, "管理员", verified=True)
    phones = {u: await make_user(store, u, n) for u, n in ((ALICE, "王芳"), (BOB, "李强"), (CAROL, "赵敏"))}
    await make_user(store, OUTSIDER, "路人")
    await make_user(store, LOWER_ADMIN, "乡镇管理员", verified=True)
    root = await make_org(store, "县委宣传部学习组织", ADMIN, branches=["第一支部", "第二支部"], certified=True)
    lower = await make_org(store, "乡镇学习组织", LOWER_ADMIN, certified=True, parent_id=root)
    await make_member(store, root, "王芳", phones[ALICE], "第一支部", activated=True)
    await make_member(store, root, "李强", phones[BOB], "第二支部", activated=True)
    await make_member(store, lower, "赵敏", phones[CAROL], activated=True)
    await make_member(store, lower, "孙悦", "+8613900000001")
    async with store.raw_tx() as db:  # make_member writes no history: listed since 2026-11-01
        await db.execute("DELETE FROM member_history")
        await db.execute("INSERT INTO member_history (org_id, branch_id, phone, start_day) "
                         "SELECT org_id, branch_id, phone, '2026-11-01' FROM members")
        await db.execute("UPDATE users SET registered_at = '2026-11-02T09:00:00+08:00'")
    await award(store, ALICE, "2026-11-22", 5)
    await award(store, CAROL, "2026-11-22", 2)
    await svc.catch_up(store, clock, days=30)
    return root, lower


async def test_rep_2_overview_table_and_change_rates(store, clock, client_factory):
    root, _lower = await setup(store, clock)
    sent = await client_factory(ADMIN).send("/orgreport")
    text = sent.text
    assert "县委宣传部学习组织" in text and "2026-11-22" in text
    assert "总人数：4（较前日 +0.0%）" in text
    assert "当日积分：7（—）" in text          # the day before had 0 points: no rate
    assert "活跃人数：2（—）" in text
    assert "人均积分：1.75（—）" in text and "参与率：50%（—）" in text
    assert "已激活 3 人 · 未激活 1 人" in text
    assert "[组织] 乡镇学习组织：2 人，活跃 1，人均 1，参与率 50%" in text
    assert "[支部] 第一支部：1 人，活跃 1，人均 5，参与率 100%" in text
    assert "🔒" in text and sent.messages[0].protect_content is True  # SEC-1, on by default
    labels = [label for label, _ in sent.buttons()]
    assert {"📈 7 天趋势", "📈 30 天趋势", "📈 90 天趋势", "📥 导出 Excel", "🔑 激活情况", "💤 不活跃成员"} <= set(labels)
    # sorted by per-capita: 第一支部 (5) first; by participation it stays first (100 %)
    resorted = await client_factory(ADMIN).press(sent, "按参与率排序")
    assert resorted.text.index("第一支部") < resorted.text.index("乡镇学习组织")


async def test_rep_3_trend_chart_is_a_watermarked_protected_photo(store, clock, client_factory):
    root, _ = await setup(store, clock)
    client = client_factory(ADMIN)
    sent = await client.press((await client.send("/orgreport")), "90 天趋势")
    [photo] = sent.of(SendPhoto)
    assert photo.protect_content is True and "🔒" in photo.caption and "90" in photo.caption
    image = Image.open(BytesIO(photo.photo.data))
    assert image.format == "PNG" and image.width == 900


async def test_rep_4_export_has_two_sheets_with_formats(store, clock, client_factory):
    root, _ = await setup(store, clock)
    client = client_factory(ADMIN)
    menu = await client.press((await client.send("/orgreport")), "导出")
    sent = await client.press(menu, "近 7 天")
    [doc] = sent.of(SendDocument)
    assert doc.protect_content is True and "2026-11-16" in doc.caption and "2026-11-22" in doc.caption
    book = load_workbook(BytesIO(doc.document.data))
    orgs, members = book.worksheets
    assert orgs.title == "组织每日" and members.title == "成员每日"
    assert orgs.freeze_panes == "A2" and orgs.auto_filter.ref.startswith("A1:")
    rows = [[c.value for c in r] for r in orgs.iter_rows(min_row=2)]
    assert len(rows) == 14  # 7 days x (the root and its lower organisation)
    last_root = [r for r in rows if r[1] == "县委宣传部学习组织"][-1]
    assert last_root[2:6] == [4, 0, 2, 7] and orgs["H2"].number_format == "0.0\\%"
    header = [c.value for c in members[1]]
    assert header[:7] == ["姓名", "手机号", "组织", "支部", "已激活", "合计积分", "活跃天数"] and header[-1] == "11-22"
    alice = next(r for r in members.iter_rows(min_row=2, values_only=True) if r[0] == "王芳")
    assert alice[5] == 5 and alice[-1] == 5
    assert not str(alice[1]).startswith(("'", "+"))  # the phone as the member export shows it, no text marker


async def test_rep_4_custom_range_bad_input_stays(store, clock, client_factory):
    await setup(store, clock)
    client = client_factory(ADMIN)
    menu = await client.press((await client.send("/orgreport")), "导出")
    assert "开始和结束日期" in (await client.press(menu, "自定义")).text
    assert "日期范围无效" in (await client.send("上周")).text
    sent = await client.send("2026-11-20 2026-11-22")
    assert len(sent.of(SendDocument)) == 1


async def test_rep_6_activation_lists_who_has_not_activated_with_their_place(store, clock, client_factory):
    await setup(store, clock)
    client = client_factory(ADMIN)
    sent = await client.press((await client.send("/orgreport")), "激活情况")
    assert "已激活：3 人" in sent.text and "未激活：1 人" in sent.text
    assert "孙悦（乡镇学习组织）" in sent.text and "王芳" not in sent.text


async def test_rep_8_inactive_list_and_nudge_once_a_day(store, clock, client_factory):
    await setup(store, clock)
    client = client_factory(ADMIN)
    sent = await client.press((await client.send("/orgreport")), "不活跃成员")
    assert "连续 3 天没有积分的成员共 1 人" in sent.text and "李强" in sent.text and "王芳" not in sent.text
    done = await client.press(sent, "一键提醒")
    assert "已提醒 1 人" in done.text
    [row] = await store_rows(store, "SELECT chat_id, payload, dedupe_key FROM outbox")
    assert row[0] == BOB and "管理员" in row[1] and row[2] == f"nudge:{BOB}:2026-11-23"
    again = await client.click(sent.button("一键提醒"))  # stale: the same notice's button pressed again
    assert "已提醒 0 人；1 人今天已被提醒过" in again.text


async def test_sec_4_non_admin_is_refused_also_by_a_stale_button(store, clock, client_factory):
    root, _ = await setup(store, clock)
    sent = await client_factory(OUTSIDER).send("/orgreport")
    assert "不是任何学习组织的管理员" in sent.text
    pressed = await client_factory(OUTSIDER).click(f"rp:trend:{root}:0:90")  # forged: an outsider's trend button
    assert not pressed.of(SendPhoto)


async def test_rep_5_settings_recipients_time_and_unreachable(store, clock, client_factory):
    root, _ = await setup(store, clock)
    client = client_factory(ADMIN)
    shown = await client.send("/reportsettings")
    assert "推送：⏸ 已关闭" in shown.text and "每天 08:00" in shown.text
    picker = await client.press(shown, "接收人")
    assert {"▫️ 管理员", "▫️ 王芳", "▫️ 李强"} <= {label for label, _ in picker.buttons()}
    picked = await client.press(picker, "王芳")
    assert "✅ 王芳" in [label for label, _ in picked.buttons()]
    await client.press(picked, "李强")
    turned_on = await client.press((await client.send("/reportsettings")), "开启推送")
    assert "推送：✅ 已开启" in turned_on.text
    # armed at once, without a restart: each recipient's slot today at 08:00 is past, so tomorrow's
    refs = {r[0] for r in await store_rows(store, "SELECT ref FROM due_work WHERE kind = 'report_slot'")}
    assert refs == {f"{root}:{ALICE}:2026-11-24", f"{root}:{BOB}:2026-11-24"}
    asked = await client.press(turned_on, "发送时间")
    assert "发送时间" in asked.text
    assert "时间格式不对" in (await client.send("25:00")).text
    saved = await client.send("21:30")
    assert "已保存" in saved.text and "每天 21:30" in saved.text
    refs = {r[0]: r[1] for r in await store_rows(store, "SELECT ref, due_at FROM due_work WHERE kind = 'report_slot'")}
    assert refs[f"{root}:{ALICE}:2026-11-23"] == "2026-11-23T13:30:00.000000+00:00"  # today 21:30 local
    async with store.raw_tx() as db:  # Bob blocked the bot: a push to him ...
        cur = await db.execute("INSERT INTO outbox (chat_id, kind, payload, status, next_attempt_at, created_at) "
                               "VALUES (?, 'text', '{}', 'sending', ?, ?)", (BOB, NOW, NOW))
        push_id = cur.lastrowid
    await store.mark_unreachable(push_id, BOB, "Forbidden: bot was blocked by the user", NOW)  # ... got a 403
    again = await client.send("/reportsettings")
    assert "李强 ⚠️ 无法送达" in again.text and "王芳 ⚠️" not in again.text


async def test_rep_5_push_enqueues_text_chart_once_per_slot(store, clock, client_factory, outbox, i18n):
    from bot.reports_notify import push_report

    root, _ = await setup(store, clock)
    admin = await store.get_user(ADMIN)
    from bot.services.roles import Actor
    actor = Actor(user=admin, admin_org_ids=frozenset({root}))
    s = await svc.settings(store, actor, root)
    await svc.save_settings(store, clock, actor, s.__class__(root, True, "08:00", "xlsx", 5, 3, (ALICE,)))
    day = clock.today()
    assert await push_report(store, clock, i18n, outbox, root, ALICE, day) == 3
    assert await push_report(store, clock, i18n, outbox, root, ALICE, day) == 0  # the same slot again: nothing
    rows = await store_rows(store, "SELECT kind, dedupe_key FROM outbox ORDER BY id")
    assert rows == [("text", f"report:{root}:{ALICE}:{day}:text"), ("photo", f"report:{root}:{ALICE}:{day}:chart"),
                    ("document", f"report:{root}:{ALICE}:{day}:xlsx")]
    # taken off the list: the slot sends nothing
    await svc.save_settings(store, clock, actor, s.__class__(root, True, "08:00", "xlsx", 5, 3, (BOB,)))
    assert await push_report(store, clock, i18n, outbox, root, ALICE, day + timedelta(days=1)) == 0


async def test_rep_5_a_chart_that_fails_leaves_the_text_and_tomorrows_slot(store, clock, outbox, i18n, monkeypatch,
                                                                           caplog):
    """The daily push of an organisation whose chart cannot be drawn still sends the report's text, and the
    slot of the next day is armed, instead of the slot failing and retrying hourly."""
    import bot.reports_notify as notify
    from bot.repositories.due import DueItem
    from bot.services.roles import Actor

    root, _ = await setup(store, clock)
    actor = Actor(user=await store.get_user(ADMIN), admin_org_ids=frozenset({root}))
    s = await svc.settings(store, actor, root)
    await svc.save_settings(store, clock, actor, s.__class__(root, True, "08:00", "chart", 5, 3, (ALICE,)))

    def broken(*_args, **_kwargs):
        raise ValueError("the chart could not be drawn")

    monkeypatch.setattr(notify, "trend_png", broken)
    day = clock.today()
    slot = notify.slot_handlers(store, clock, i18n, outbox)[svc.SLOT_KIND]
    await slot(DueItem(1, svc.SLOT_KIND, svc.slot_ref(root, ALICE, day), clock.now()), clock.now())
    rows = await store_rows(store, "SELECT kind, dedupe_key FROM outbox ORDER BY id")
    assert rows == [("text", f"report:{root}:{ALICE}:{day}:text")]
    refs = {r[0] for r in await store_rows(store, "SELECT ref FROM due_work WHERE kind = 'report_slot'")}
    assert svc.slot_ref(root, ALICE, day + timedelta(days=1)) in refs
    assert "the chart could not be drawn" in caplog.text

"""MEM-1, 2, 3, 5, 7 through the dispatcher: list, search, add, copy, edit, export, and refusals."""
from __future__ import annotations

import asyncio
from io import BytesIO

import openpyxl
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendDocument, SendMessage

from bot.ui.members import MemAddCD, MemberCD, MemFilterCD, MemListCD, MemSearchCD, MoveCD
from tests.support.factories import make_member, make_org, make_user
from tests.support.sql import file_rows as rows

ADMIN, ADMIN2, OTHER_ADMIN, PLAIN = 100001, 100002, 100003, 100004


async def setup(store, n_members: int = 0):
    for uid, name in ((ADMIN, "王管理"), (ADMIN2, "李管理"), (OTHER_ADMIN, "赵外人"), (PLAIN, "钱成员")):
        await make_user(store, uid, name, verified=True)
    org = await make_org(store, "某某县委宣传部", ADMIN, admins=[ADMIN2], branches=["第一支部", "第二支部"])
    other = await make_org(store, "邻县党外人士学习组织", OTHER_ADMIN, branches=["甲支部"])
    for i in range(n_members):
        await make_member(store, org, f"成员{i:02d}", f"+86139{i:08d}", "第一支部" if i % 2 else "第二支部")
    return org, other


def last_markup(sent):
    for call in reversed(sent.calls):
        if getattr(call, "reply_markup", None) is not None:
            return call.reply_markup
    return None


async def test_mem_7_list_pages_ten_with_totals_and_protected(client_factory, store):
    org, _ = await setup(store, n_members=23)
    c = client_factory(ADMIN)
    sent = await c.send("/members")
    msg = sent.of(SendMessage)[-1]
    assert msg.protect_content is True
    assert "共 23 人" in msg.text and "第 1/3 页" in msg.text
    assert msg.text.count("  ⚪ 未激活") == 10
    assert "成员00  13900000000  第二支部  ⚪ 未激活" in msg.text
    page2 = await c.press(sent, "下一页")
    assert "第 2/3 页" in page2.text and "11. 成员10" in page2.text
    page3 = await c.press(page2, "下一页")
    assert "第 3/3 页" in page3.text and page3.text.count("  ⚪ 未激活") == 3
    assert "下一页" not in [b for b, _ in page3.buttons()][-4:]
    back = await c.press(page3, "上一页")
    assert "第 2/3 页" in back.text


async def test_mem_7_search_by_name_or_phone_fragment_pages_the_same(client_factory, store):
    org, _ = await setup(store, n_members=23)
    c = client_factory(ADMIN)
    ask = await c.press(await c.send("/members"), "🔍 搜索")
    assert "搜索的姓名或手机号" in ask.text
    found = await c.send("成员1")
    assert "🔍 搜索：成员1" in found.text and "符合条件：10 人" in found.text and "成员19" in found.text
    assert found.of(SendMessage)[-1].protect_content is True
    await c.press(found, "🔍 搜索")
    by_phone = await c.send("0000 021")
    assert "符合条件：1 人" in by_phone.text and "成员21" in by_phone.text
    await c.press(by_phone, "🔍 搜索")
    many = await c.send("139")
    assert "符合条件：23 人" in many.text
    nxt = await c.press(many, "下一页")
    assert "🔍 搜索：139" in nxt.text and "第 2/3 页" in nxt.text
    await c.press(nxt, "🔍 搜索")
    none = await c.send("%")
    assert "没有符合条件的成员" in none.text


async def test_mem_7_filter_by_branch(client_factory, store):
    org, _ = await setup(store, n_members=5)
    await make_member(store, org, "无支部者", "+8613700000001")
    c = client_factory(ADMIN)
    menu = await c.press(await c.send("/members"), "🏷 按支部筛选")
    labels = [b for b, _ in menu.buttons()]
    assert labels == ["👥 全部成员", "第一支部", "第二支部", "无支部的成员"]
    first = await c.press(menu, "第一支部")
    assert "🏷 支部：第一支部" in first.text and "符合条件：2 人" in first.text and "第二支部  " not in first.text
    none = await c.press(await c.press(first, "🏷 按支部筛选"), "无支部的成员")
    assert "无支部者  13700000001  无支部" in none.text and "符合条件：1 人" in none.text


async def test_mem_3_activation_marks_follow_registered_phones(client_factory, store):
    org, _ = await setup(store)
    await make_user(store, 200001, "已注册", phone="+8613600000001")
    await make_member(store, org, "已注册", "+8613600000001", "第一支部")
    await make_member(store, org, "未注册", "+8613600000002", "第一支部")
    sent = await client_factory(ADMIN).send("/members")
    assert "共 2 人：✅ 已激活 1 人，⚪ 未激活 1 人" in sent.text
    assert "已注册  13600000001  第一支部  ✅ 已激活" in sent.text
    assert "未注册  13600000002  第一支部  ⚪ 未激活" in sent.text


async def _to_phone_step(c, name="孙小明"):
    await c.press(await c.send("/members"), "➕ 添加成员")
    return await c.send(name)


async def test_mem_1_add_member_activated_at_once_with_audit(client_factory, store, settings):
    org, _ = await setup(store)
    await make_user(store, 200002, "孙小明", phone="+8613500000002")
    c = client_factory(ADMIN)
    start = await c.press(await c.send("/members"), "➕ 添加成员")
    assert "第 1 步" in start.text
    ask_phone = await c.send("  孙小明 ")
    assert "第 2 步" in ask_phone.text
    ask_branch = await c.send("+86 135-0000-0002")
    assert [b for b, _ in ask_branch.buttons()] == ["第一支部", "第二支部", "不属于任何支部"]
    done = await c.press(ask_branch, "第二支部")
    assert "已添加成员：孙小明（13500000002），第二支部，✅ 已激活" in done.text
    assert rows(settings, "SELECT name, phone, activated_at IS NOT NULL FROM members WHERE org_id = ?", org) == [
        ("孙小明", "+8613500000002", 1)]
    audit = rows(settings, "SELECT actor_id, action, after FROM audit_log WHERE org_id = ?", org)
    assert audit[0][:2] == (ADMIN, "member.add") and "+8613500000002" in audit[0][2]


async def test_mem_1_bad_inputs_keep_the_step(client_factory, store, settings):
    org, _ = await setup(store)
    await make_member(store, org, "老成员", "+8613500000009", "第一支部")
    c = client_factory(ADMIN)
    await c.press(await c.send("/members"), "➕ 添加成员")
    assert "请用文字输入" in (await c.sticker()).text
    assert "不能超过 20 个字" in (await c.send("张" * 21)).text
    assert "姓名不能为空" in (await c.send("\u200b ")).text
    assert "第 2 步" in (await c.send("张" * 20)).text
    assert "不是有效的中国大陆手机号" in (await c.send("+86 12345678901")).text
    assert "位数太少" in (await c.send("12345")).text
    assert "只能包含数字" in (await c.send("abc")).text
    assert "已在本组织的成员名单中" in (await c.send("135 0000 0009")).text
    ask_branch = await c.send("13500000008")
    assert "第 3 步" in ask_branch.text
    assert "请点击上方的按钮" in (await c.send("第一支部")).text
    await c.press(ask_branch, "不属于任何支部")
    assert rows(settings, "SELECT name, branch_id FROM members WHERE phone = '+8613500000008'") == [("张" * 20, None)]
    assert rows(settings, "SELECT count(*) FROM members")[0][0] == 2


async def test_mem_1_copy_from_another_org_shows_only_its_name(client_factory, store, settings):
    org, other = await setup(store)
    await make_member(store, other, "在别处的名字", "+8613400000001", "甲支部")
    c = client_factory(ADMIN)
    await _to_phone_step(c, "周同志")
    offer = await c.send("13400000001")
    assert "邻县党外人士学习组织" in offer.text and "复制到本组织" in [b for b, _ in offer.buttons()][0]
    assert "在别处的名字" not in offer.text and "甲支部" not in offer.text
    ask_branch = await c.press(offer, "复制到本组织")
    done = await c.press(ask_branch, "第一支部")
    assert "已添加成员：周同志" in done.text
    assert sorted(rows(settings, "SELECT org_id, name FROM members WHERE phone = '+8613400000001'")) == [
        (org, "周同志"), (other, "在别处的名字")]
    # declining the copy adds nothing
    await make_member(store, other, "另一人", "+8613400000002")
    await _to_phone_step(c, "吴同志")
    offer = await c.send("13400000002")
    assert "没有添加成员" in (await c.press(offer, "不添加")).text
    assert rows(settings, "SELECT count(*) FROM members WHERE org_id = ?", org)[0][0] == 1


async def test_mem_1_two_admins_adding_the_same_phone_at_once_make_one_row(client_factory, store, settings,
                                                                          session):
    org, _ = await setup(store)
    a, b = client_factory(ADMIN), client_factory(ADMIN2, first_name="李管理")
    asks = {}
    for c, name in ((a, "甲"), (b, "乙")):
        await _to_phone_step(c, name)
        asks[c.user_id] = await c.send("13300000001")
    before = len(session.calls)
    await asyncio.gather(a.press(asks[ADMIN], "不属于任何支部"), b.press(asks[ADMIN2], "不属于任何支部"))
    assert rows(settings, "SELECT count(*) FROM members WHERE phone = '+8613300000001'")[0][0] == 1
    calls = session.calls[before:]  # both chats: the two clicks ran interleaved
    added = [c.chat_id for c in calls if isinstance(c, EditMessageText) and "已添加成员" in c.text]
    refused = [c for c in calls if isinstance(c, AnswerCallbackQuery) and c.show_alert and "已在本组织" in c.text]
    assert len(added) == 1 and len(refused) == 1
    assert rows(settings, "SELECT count(*) FROM audit_log WHERE action = 'member.add'")[0][0] == 1


async def test_mem_2_edit_name_phone_branch_and_remove_never_touch_users_or_points(client_factory, store, settings):
    org, _ = await setup(store)
    await make_user(store, 200003, "注册人", phone="+8613200000003")
    async with store.raw_tx() as db:
        await db.execute("INSERT INTO points (user_id, amount, source, day, idem_key, created_at) "
                         "VALUES (200003, 5, 'quiz', '2026-11-20', 'k1', 'now')")
    await make_member(store, org, "郑一", "+8613200000001", "第一支部")
    member_id = rows(settings, "SELECT id FROM members WHERE phone = '+8613200000001'")[0][0]
    c = client_factory(ADMIN)
    listing = await c.send("/members")
    card = await c.press(listing, "郑一")
    assert "郑一" in card.text and "13200000001" in card.text and card.of(SendMessage)[-1].protect_content
    await c.press(card, "改姓名")
    assert "不能超过" in (await c.send("长" * 21)).text
    assert "姓名已改为 郑二" in (await c.send("郑二")).text
    await c.press(card, "改手机号")
    assert "位数太少" in (await c.send("1320")).text
    changed = await c.send("13200000003")
    assert "13200000003（✅ 已激活）" in changed.text
    move = await c.press(card, "换支部")
    assert [b for b, _ in move.buttons()] == ["第二支部", "不属于任何支部"]
    assert "已移到：第二支部" in (await c.press(move, "第二支部")).text
    assert rows(settings, "SELECT m.name, m.phone, b.name, m.activated_at IS NOT NULL FROM members m "
                          "JOIN branches b ON b.id = m.branch_id WHERE m.id = ?", member_id) == [
        ("郑二", "+8613200000003", "第二支部", 1)]
    confirm = await c.press(card, "移除")
    assert "注册信息和积分不受影响" in confirm.text
    assert "没有移除" in (await c.press(confirm, "✖ 不移除")).text
    confirm = await c.press(card, "🗑 移除")
    assert "已把 郑二 从本组织移除" in (await c.press(confirm, "🗑 确认移除")).text
    assert rows(settings, "SELECT count(*) FROM members WHERE id = ?", member_id)[0][0] == 0
    assert rows(settings, "SELECT phone FROM users WHERE id = 200003") == [("+8613200000003",)]
    assert rows(settings, "SELECT sum(amount) FROM points WHERE user_id = 200003") == [(5,)]
    audit = rows(settings, "SELECT action, before, after FROM audit_log WHERE org_id = ? ORDER BY id", org)
    assert [a for a, _, _ in audit] == ["member.edit", "member.edit", "member.move", "member.remove"]
    assert '"郑一"' in audit[0][1] and '"郑二"' in audit[0][2]
    assert '"+8613200000001"' in audit[1][1] and '"+8613200000003"' in audit[1][2]
    assert audit[3][2] is None
    # a button of the removed member is stale now
    gone = await c.click(listing.button("郑一"))  # stale: the listing from before the removal
    assert any(a.show_alert and "已不在本组织的名单中" in a.text for a in gone.answers)


async def test_mem_2_phone_edit_to_a_listed_phone_is_refused(client_factory, store, settings):
    org, _ = await setup(store)
    await make_member(store, org, "甲", "+8613100000001")
    await make_member(store, org, "乙", "+8613100000002")
    member_id = rows(settings, "SELECT id FROM members WHERE name = '甲'")[0][0]
    c = client_factory(ADMIN)
    await c.press(await c.press(await c.send("/members"), "甲"), "📱 改手机号")
    assert "已在本组织的成员名单中" in (await c.send("13100000002")).text
    assert rows(settings, "SELECT phone FROM members WHERE id = ?", member_id) == [("+8613100000001",)]


async def test_sec_4_member_and_other_admin_are_refused_also_by_stale_buttons(client_factory, store, settings):
    org, _ = await setup(store)
    await make_member(store, org, "钱成员", "+8613800100004", "第一支部")  # PLAIN is a member, not an admin
    member_id = rows(settings, "SELECT id FROM members")[0][0]
    branch_id = rows(settings, "SELECT id FROM branches WHERE name = '第二支部'")[0][0]
    before = rows(settings, "SELECT * FROM members")
    for uid in (PLAIN, OTHER_ADMIN):
        c = client_factory(uid)
        if uid == PLAIN:
            for cmd in ("/members", "/export", "/template", "/import"):
                assert "还不是任何学习组织的管理员" in (await c.send(cmd)).text
        for data in (MemListCD(org_id=org, page=0).pack(), MemAddCD(org_id=org).pack(),
                     MemSearchCD(org_id=org).pack(), MemFilterCD(org_id=org).pack(),
                     MemberCD(action="open", member_id=member_id).pack(),
                     MemberCD(action="rm_yes", member_id=member_id).pack(),
                     MemberCD(action="name", member_id=member_id).pack(),
                     MoveCD(member_id=member_id, branch_id=branch_id).pack()):
            sent = await c.click(data)  # forged: none of these is shown to them
            assert any(a.show_alert and "没有执行此操作的权限" in a.text for a in sent.answers), (uid, data)
            assert not sent.of(SendMessage)
    # an admin demoted while a flow was open is refused at the next step
    c = client_factory(ADMIN2)
    await _to_phone_step(c, "新人")
    async with store.raw_tx() as db:
        await db.execute("DELETE FROM org_admins WHERE user_id = ?", (ADMIN2,))
    assert "没有执行此操作的权限" in (await c.send("13000000001")).text
    assert rows(settings, "SELECT * FROM members") == before


async def test_mem_4_template_has_the_org_branches_in_the_dropdown(client_factory, store):
    org, _ = await setup(store)
    sent = await client_factory(ADMIN).send("/template")
    doc = sent.of(SendDocument)[-1]
    # SEC-1 aside: the admin saves the template and fills it in Excel; the caption says so
    assert doc.protect_content is False and doc.document.filename.endswith(".xlsx") and "可以保存" in doc.caption
    book = openpyxl.load_workbook(BytesIO(doc.document.data))
    members, guide = book.worksheets
    assert [c.value for c in members[1]] == ["姓名*", "手机号*", "所属支部*", "备注"]
    assert [guide.cell(row=r, column=3).value for r in (2, 3)] == ["第一支部", "第二支部"]
    rule = members.data_validations.dataValidation[0]
    assert rule.type == "list" and "$C$2:$C$3" in rule.formula1


async def test_mem_5_export_columns_and_point_sums(client_factory, store, clock, settings):
    org, _ = await setup(store)
    await make_user(store, 200010, "积分人", phone="+8613900000010")
    await make_member(store, org, "积分人", "+8613900000010", "第一支部", activated=True)
    await make_member(store, org, "=HYPERLINK(\"http://x\",\"y\")", "+8613900000011")
    today = clock.today()  # 2026-11-23 in Asia/Shanghai
    async with store.raw_tx() as db:
        for n, (day, amount) in enumerate([(today.isoformat(), 3), ("2026-11-17", 2), ("2026-11-16", 7),
                                           ("2026-01-01", 10)]):
            await db.execute("INSERT INTO points (user_id, amount, source, day, idem_key, created_at) "
                             "VALUES (200010, ?, 'quiz', ?, ?, 'now')", (amount, day, f"k{n}"))
    sent = await client_factory(ADMIN).send("/export")
    doc = sent.of(SendDocument)[-1]
    assert doc.protect_content is True and "2026-11-17 至 2026-11-23" in doc.caption
    assert "不能转发或保存：里面有成员的手机号" in doc.caption  # says it is protected, and why
    data = doc.document.data
    book = openpyxl.load_workbook(BytesIO(data), read_only=True)
    table = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert table[0] == ["姓名", "手机号", "所属支部", "是否激活", "近7日积分", "总积分"]
    assert table[1] == ["'=HYPERLINK(\"http://x\",\"y\")", "13900000011", None, "否", 0, 0]
    assert table[2] == ["积分人", "13900000010", "第一支部", "是", 5, 22]
    import zipfile
    sheet_xml = zipfile.ZipFile(BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml


async def test_mem_1_a_command_typed_mid_flow_is_not_taken_as_a_name(client_factory, store, settings):
    await setup(store, n_members=1)
    c = client_factory(ADMIN)
    await c.press(await c.send("/members"), "➕ 添加成员")
    sent = await c.send("/members")
    assert "成员名单" in sent.text
    assert rows(settings, "SELECT count(*) FROM members") == [(1,)]

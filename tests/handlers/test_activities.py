"""WORK-2 collective activities through the dispatcher: the /activity flow, QR deep link and code-word
check-in (inside the window, once, for the target only), marking from the member screen, the attendance
list and its .xlsx; LEARN-7 points adjustment from the member screen (audited, in /report by source);
SEC-1 protect_content on the export; SEC-4 on forged buttons."""
from __future__ import annotations

import re
from io import BytesIO

import openpyxl
from aiogram.methods import SendDocument, SendPhoto

from bot.ui.activities import ActAction, ActivityCD, MemberWorkAction, MemberWorkCD
from tests.support.factories import make_member, make_org, make_user
from tests.support.sql import file_rows as rows

ADMIN, OUTSIDER = 100001, 100009
ALICE, BOB, CAROL, NOT_LISTED = 200001, 200002, 200003, 200009
CODE_RE = re.compile(r"/checkin ([A-Z0-9]{6})")
LINK_RE = re.compile(r"start=(a_[A-Za-z0-9_-]+)")


async def setup(store):
    await make_user(store, ADMIN, "王管理", verified=True)
    await make_user(store, OUTSIDER, "外人", verified=True)
    org = await make_org(store, "某县委宣传部", ADMIN, branches=["第一支部", "第二支部"], certified=True)
    await make_org(store, "邻县", OUTSIDER, certified=True)
    for uid, name, branch in ((ALICE, "艾丽", "第一支部"), (BOB, "鲍勃", "第一支部"), (CAROL, "卡罗", "第二支部")):
        await make_member(store, org, name, await make_user(store, uid, name), branch, activated=True)
    await make_user(store, NOT_LISTED, "路人")
    return org


async def create_activity(c, window="2026-11-23 16:00-18:00", points="3", target="仅本组织"):
    sent = await c.send("/activity")
    sent = await c.press(sent, "新建活动")
    sent = await c.press(sent, "党课")
    await c.send("学习二十大精神专题党课")
    await c.send(window)
    sent = await c.send(points)
    sent = await c.press(sent, target)
    if target == "选定的支部":
        sent = await c.press(sent, "第一支部")
        sent = await c.press(sent, "选好了")
    return await c.press(sent, "创建")


async def test_work_2_create_then_qr_and_code_word_check_in_pay_once(client_factory, store, settings):
    await setup(store)
    admin = client_factory(ADMIN)
    created = await create_activity(admin)
    assert "活动 #1 已创建" in created.text and "已签到：<b>0</b> 人" in created.text
    photo = created.of(SendPhoto)[-1]
    payload = LINK_RE.search(photo.caption).group(1)
    code = CODE_RE.search(photo.caption).group(1)
    alice = client_factory(ALICE)
    assert "签到成功，获得 3 积分" in (await alice.start(payload)).text
    assert "已经签到过" in (await alice.start(payload)).text
    assert "已经签到过" in (await alice.send(f"/checkin {code}")).text
    assert "签到成功" in (await client_factory(BOB).send(f"/checkin {code.lower()}")).text
    assert rows(settings, "SELECT user_id, SUM(amount) FROM points WHERE source = 'activity' GROUP BY user_id "
                          "ORDER BY user_id") == [(ALICE, 3), (BOB, 3)]
    card = await admin.press(await admin.send("/activity"), "#1")
    assert "已签到：<b>2</b> 人" in card.text
    listing = await admin.press(card, "签到名单")
    assert "艾丽（扫码" in listing.text and "鲍勃（口令" in listing.text
    export = (await admin.press(card, "导出名单")).of(SendDocument)[-1]
    assert export.protect_content is True  # SEC-1
    book = openpyxl.load_workbook(BytesIO(export.document.data), read_only=True)
    table = [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert table[0] == ("姓名", "签到方式", "签到时间", "积分") and {r[0] for r in table[1:]} == {"艾丽", "鲍勃"}


async def test_work_2_bad_input_window_code_target(client_factory, store, clock):
    await setup(store)
    admin = client_factory(ADMIN)
    sent = await admin.press(await admin.send("/activity"), "新建活动")
    await admin.press(sent, "讲座")
    await admin.send("讲座")
    assert "看不懂这个时间段" in (await admin.send("明天下午")).text
    assert "结束时间必须晚于开始时间" in (await admin.send("2026-11-23 18:00-16:00")).text
    assert "已经过去了" in (await admin.send("2026-11-20 16:00-18:00")).text
    assert "第 4 步" in (await admin.send("2026-11-23 16:00-18:00")).text
    assert "0 到 100 之间" in (await admin.send("abc")).text
    await admin.send("/cancel")
    created = await create_activity(admin, target="选定的支部")
    code = CODE_RE.search(created.of(SendPhoto)[-1].caption).group(1)
    assert "签到口令不对" in (await client_factory(ALICE).send("/checkin ZZZZZZ")).text
    assert "不在这个活动的签到范围内" in (await client_factory(CAROL).send(f"/checkin {code}")).text  # 第二支部
    assert "不在这个活动的签到范围内" in (await client_factory(NOT_LISTED).send(f"/checkin {code}")).text
    assert "请在 /checkin 后面加上" in (await client_factory(ALICE).send("/checkin")).text
    clock.advance(hours=2)  # 19:00: the window closed at 18:00
    assert "签到已经结束" in (await client_factory(ALICE).send(f"/checkin {code}")).text
    later = await create_activity(admin, window="2026-11-24 09:00-11:00")
    code = CODE_RE.search(later.of(SendPhoto)[-1].caption).group(1)
    assert "还没开始签到" in (await client_factory(ALICE).send(f"/checkin {code}")).text


async def open_card(admin, name):
    page = await admin.send("/members")
    return await admin.press(page, name)


async def test_work_2_admin_marks_attended_from_member_screen(client_factory, store, settings):
    await setup(store)
    admin = client_factory(ADMIN)
    await create_activity(admin)
    card = await open_card(admin, "卡罗")
    menu = await admin.press(card, "标记参加活动")
    marked = await admin.press(menu, "学习二十大精神专题党课")
    assert "已标记参加" in marked.text and "计 3 分" in marked.text
    again = await admin.press(await admin.press(card, "标记参加活动"), "学习二十大精神专题党课")  # from the card again
    assert "已经签到过" in again.text
    assert rows(settings, "SELECT user_id, how, marked_by FROM activity_checkins") == [(CAROL, "admin", ADMIN)]
    assert rows(settings, "SELECT action FROM audit_log WHERE action = 'activity.mark'") == [("activity.mark",)]


async def test_learn_7_adjust_points_with_reason_audited_and_in_report(client_factory, store, settings):
    await setup(store)
    admin = client_factory(ADMIN)
    card = await open_card(admin, "艾丽")
    ask = await admin.press(card, "调整积分")
    assert "+5 原因" in ask.text
    assert "格式" in (await admin.send("五分")).text
    assert "请填写调整积分的原因" in (await admin.send("+5")).text
    assert "已为 艾丽 调整积分 +5（原因：志愿服务）" in (await admin.send("+5 志愿服务")).text
    await admin.press(card, "调整积分")
    assert "-2" in (await admin.send("-2 迟到")).text
    assert rows(settings, "SELECT amount, source, reason FROM points WHERE user_id = ? AND source IN "
                          "('adjust', 'penalty') ORDER BY id", ALICE) == [(5, "adjust", "志愿服务"), (-2, "penalty", "迟到")]
    assert len(rows(settings, "SELECT 1 FROM audit_log WHERE action LIKE 'points.%'")) == 2  # SEC-3
    report = await client_factory(ALICE).send("/report")
    assert "管理员调整：5 分" in report.text and "扣分：-2 分" in report.text


async def test_sec_4_forged_activity_and_member_buttons(client_factory, store):
    await setup(store)
    await create_activity(client_factory(ADMIN))
    outsider = client_factory(OUTSIDER)
    # forged: an admin of another organisation presses this organisation's buttons
    for data in (ActivityCD(action=ActAction.open, activity_id=1), ActivityCD(action=ActAction.export, activity_id=1),
                 MemberWorkCD(action=MemberWorkAction.mark, member_id=1, value=1),
                 MemberWorkCD(action=MemberWorkAction.adjust, member_id=1),
                 MemberWorkCD(action=MemberWorkAction.correspondent, member_id=1, value=1)):
        sent = await outsider.click(data.pack())  # forged: another organisation's ids
        assert sent.answers[-1].text == "您没有执行此操作的权限。", data


async def test_work_2_a_title_of_invisible_characters_is_refused(client_factory, store):
    """An activity titled with three zero-width spaces would list as blank: refused, the flow stays."""
    await setup(store)
    admin = client_factory(ADMIN)
    await admin.press(await admin.press(await admin.send("/activity"), "新建活动"), "讲座")
    refused = await admin.send("\u200b\u200b\u200b")
    assert "活动名称不能为空（只有空格或不可见字符也算空）" in refused.text
    assert "第 3 步" in (await admin.send("\u202e党课\u200b")).text

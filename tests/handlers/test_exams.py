"""LEARN-6 special exams through the dispatcher: the admin's create flow with its bad inputs, publishing
with notices, a member taking the exam (start, answer, leave, continue, submit with a confirm), scope
re-checked on a forwarded button (SEC-4), a button of an earlier attempt, questions locked once started,
results and the workbook, and the sweep's deadline, countdown and reminder work."""
from __future__ import annotations

import io
import re
from datetime import timedelta

from aiogram.methods import EditMessageText, SendDocument
from openpyxl import load_workbook

from bot.flows.exam_take import ExamDueWork
from bot.repositories.due import DueItem
from bot.services import exam_attempts
from tests.support.exam_factories import exam_world, published_exam
from tests.support.quiz_factories import make_bank

ADMIN, MEMBER, OUTSIDER = 510001, 510002, 510003


def right(sent) -> str:
    return re.findall(r"答案是 ([A-D])", sent.text)[-1]


async def open_card(admin, title: str = "党史专题考试"):
    panel = await admin.send("/exams")
    listing = await admin.press(panel, "管理考试")
    return await admin.press(listing, title)


async def start_exam(me):
    listing = await me.send("/exams")
    rules = await me.press(listing, "参加")
    return await me.press(rules, "开始作答")


async def test_learn_6_admin_creates_with_bad_inputs_then_publishes_and_members_are_told(store, clock,
                                                                                          client_factory):
    w = await exam_world(store)
    await make_bank(store, 6, org_id=w.org_id, prefix="党史")
    admin = client_factory(ADMIN, "李管理")
    panel = await admin.send("/exams")
    new = await admin.press(panel, "管理考试")
    ask = await admin.press(new, "新建考试")
    assert "第 1 步" in ask.text
    source = await admin.send("党史专题考试")
    count_q = await admin.press(source, "随机抽题")
    assert "抽题数量" in count_q.text
    assert "抽题数量须在 1 到 100 之间" in (await admin.send("500")).text
    assert "只有 10 道" in (await admin.send("20")).text  # the bank holds 4 + 6
    limit_q = await admin.send("5")
    assert "第 3 步" in limit_q.text
    assert "大于 0" in (await admin.send("0")).text  # a time limit of 0: stays at the step
    window_q = await admin.send("10")
    assert "第 4 步" in window_q.text
    too_short = await admin.send("2026-11-23 17:00 ~ 2026-11-23 17:05")
    assert "不能长于开放时间段" in too_short.text
    pass_q = await admin.send("2026-11-23 17:00 ~ 2026-11-25 18:00")
    assert "第 5 步" in pass_q.text
    assert "不能高于总分" in (await admin.send("6")).text  # above the maximum of 5
    attempts_q = await admin.send("4")
    await admin.press(attempts_q, "不限次数")
    policy_q = await admin.send("5")
    saved = await admin.press(policy_q, "超时自动交卷")
    assert "考试已保存" in saved.text and "5 题" in saved.text
    published = await admin.press(saved, "立即发布")
    assert "已发布" in published.text
    audit = await store._all("SELECT action, org_id FROM audit_log WHERE action LIKE 'exam.%' ORDER BY id")
    assert [tuple(r) for r in audit] == [("exam.create", w.org_id), ("exam.publish", w.org_id)]  # SEC-3
    pushes = await store._all("SELECT chat_id, payload FROM outbox")
    assert [r["chat_id"] for r in pushes] == [MEMBER] and "党史专题考试" in pushes[0]["payload"]
    member = client_factory(MEMBER, "王芳")
    listing = await member.send("/exams")
    assert "党史专题考试" in listing.text and "开放中" in listing.text and "暂无成绩" in listing.text


async def test_learn_6_take_leave_continue_and_submit_with_confirm(store, clock, client_factory):
    w = await exam_world(store)
    await published_exam(store, clock, w, minutes=10, policy="reset", pass_mark=3, points=5)
    me = client_factory(MEMBER, "王芳")
    listing = await me.send("/exams")
    rules = await me.press(listing, "参加")
    assert "限时 10 分钟" in rules.text and "确定开始吗" in rules.text and "清空重答" in rules.text
    started = await me.press(rules, "开始作答")
    deadline = (clock.now() + timedelta(minutes=10)).astimezone(clock.tz).strftime("%H:%M")
    assert f"截止 {deadline}" in started.texts[0] and "剩余 10:00" in started.texts[0]
    assert "第 1/4 题" in started.texts[1]
    again = await me.press(rules, "开始作答")  # a double tap: the same attempt
    assert (await store._all("SELECT COUNT(*) AS n FROM exam_attempts"))[0]["n"] == 1 and "第 1/4 题" in again.text
    clock.advance(seconds=30)
    q2 = await me.press(started, right(started))
    assert "第 2/4 题" in q2.text and "已答 1 题" in q2.text
    await me.send("/cancel")  # leaving keeps the answers
    clock.advance(minutes=2)
    back = await me.send("/exams")
    assert "作答中" in back.text and "剩余 07:30" in back.text
    resumed = await me.press(back, "继续作答")
    assert "剩余 07:30" in resumed.texts[0] and "第 2/4 题" in resumed.texts[1]
    asked = await me.press(resumed, "交卷")
    assert "还有 3 题未作答" in asked.text
    done = await me.press(asked, "确定交卷")
    assert "得分：1/4（正确率 25%）" in done.text and "未通过" in done.text and "用时：2 分 30 秒" in done.text
    assert "解析1" in done.text  # the explanations follow
    assert (await store._all("SELECT status, correct FROM exam_attempts"))[0]["correct"] == 1
    stale = await me.press(started, "A")  # a question message of the finished attempt
    assert "之前一次作答的按钮" in stale.answers[0].text


async def test_learn_6_forwarded_button_outside_the_subtree_and_early_start_are_refused(store, clock,
                                                                                          client_factory):
    w = await exam_world(store)
    exam_id = await published_exam(store, clock, w)
    outsider = client_factory(OUTSIDER, "外人")
    # forged: a button of an exam not meant for the outsider's organisation (SEC-4)
    sent = await outsider.click(f"ex:o:{exam_id}")  # forged: an outsider opens a forwarded exam button
    assert "不面向您所在的组织" in sent.answers[0].text and sent.answers[0].show_alert
    # forged: its start button
    sent = await outsider.click(f"ex:s:{exam_id}")  # forged: an outsider starts a forwarded exam
    assert "不面向您所在的组织" in sent.answers[0].text
    assert (await store._all("SELECT COUNT(*) AS n FROM exam_attempts"))[0]["n"] == 0
    later = await published_exam(store, clock, w, opens_in=90, title="下周考试")
    me = client_factory(MEMBER, "王芳")
    # forged: the start button of an exam not open yet (its list offers none)
    sent = await me.click(f"ex:s:{later}")  # forged: an exam whose window has not opened, started by a forged button
    assert "尚未开始" in sent.answers[0].text


async def test_learn_6_editing_an_exam_that_has_attempts_is_refused_with_the_reason(store, clock, client_factory):
    w = await exam_world(store)
    exam_id = await published_exam(store, clock, w)
    await exam_attempts.start(store, clock, w.member, exam_id, 28)
    admin = client_factory(ADMIN, "李管理")
    card = await open_card(admin)
    assert "已锁定" in card.text
    refused = await admin.press(card, "修改")
    assert "已经有人开始作答" in refused.answers[0].text


async def test_learn_6_results_message_and_workbook(store, clock, client_factory):
    w = await exam_world(store)
    exam_id = await published_exam(store, clock, w, pass_mark=1)
    attempt, _ = await exam_attempts.start(store, clock, w.member, exam_id, 28)
    view = await exam_attempts.view(store, clock, w.member, attempt.id)
    await exam_attempts.answer(store, clock, w.member, attempt.id, view.position, "ABCD".index(view.item.question.answer[0]))
    await exam_attempts.submit(store, clock, w.member, attempt.id, confirmed=True)
    admin = client_factory(ADMIN, "李管理")
    card = await open_card(admin)
    results = await admin.press(card, "成绩与题目分析")
    assert "通过 1 人" in results.text and "✅ 通过：王芳" in results.text and "题目分析" in results.text
    exported = await admin.press(card, "导出成绩表")
    doc = exported.of(SendDocument)[0]
    book = load_workbook(io.BytesIO(doc.document.data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[1][:3] == ("姓名", "手机号", "最高分") and rows[2][0] == "王芳" and rows[2][2] == 1
    assert rows[2][1] == "13800510002"  # as the member export shows it: no "'+86" text marker in the cell
    assert doc.protect_content
    member = client_factory(MEMBER, "王芳")
    # forged: the results button of an admin's card, sent by a member
    refused = await member.click(f"ex:R:{exam_id}")  # forged: a member presses an admin's results button
    assert "没有执行此操作的权限" in refused.answers[0].text


async def test_learn_6_sweep_resets_at_the_deadline_edits_the_countdown_and_reminds(store, clock, i18n, bot,
                                                                                     session, client_factory, outbox):
    w = await exam_world(store)
    await published_exam(store, clock, w, minutes=10, policy="reset")
    me = client_factory(MEMBER, "王芳")
    started = await start_exam(me)
    await me.press(started, right(started))
    work = ExamDueWork(store, clock, i18n, bot, outbox)
    handlers = work.handlers()
    attempt = (await store._all("SELECT id FROM exam_attempts"))[0]["id"]
    clock.advance(seconds=30)
    before = len(session.calls)
    await handlers["exam_tick"](DueItem(0, "exam_tick", f"attempt:{attempt}", clock.now()), clock.now())
    await work.drain()
    edits = [c for c in session.calls[before:] if isinstance(c, EditMessageText)]
    assert len(edits) == 1 and "剩余 09:30" in edits[0].text
    clock.advance(minutes=4, seconds=30)
    await handlers["exam_remind"](DueItem(0, "exam_remind", f"attempt:{attempt}:5", clock.now()), clock.now())
    clock.advance(minutes=5)
    await handlers["exam_deadline"](DueItem(0, "exam_deadline", f"attempt:{attempt}", clock.now()), clock.now())
    pushes = [r["payload"] for r in await store._all("SELECT payload FROM outbox WHERE chat_id = ? ORDER BY id",
                                                      (MEMBER,))]
    assert "还剩 5 分钟" in pushes[0] and "已清空" in pushes[1]
    assert (await store._all("SELECT status FROM exam_attempts"))[0]["status"] == "reset"
    assert (await store._all("SELECT COUNT(*) AS n FROM exam_answers"))[0]["n"] == 0
    late = await me.press(started, "A")  # the question message of the attempt reset
    assert "之前一次作答的按钮" in late.answers[0].text
    again = await me.send("/exams")
    assert "参加" in str(again.buttons()) and "已作答 0 次" in again.text

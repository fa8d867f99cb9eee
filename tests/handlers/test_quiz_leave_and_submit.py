"""Issue 15, quizzes: submit asks when questions are unanswered, the weekly quiz says that only one
attempt counts, /cancel leaves a round (kept in /records as left unfinished), a challenge question
that times out is closed by the sweep and the person told, the notebook shows the options."""
from __future__ import annotations

from bot.scheduler import Sweeper
from bot.services import quiz
from tests.handlers.test_quiz import answer_all, ledger, option, right_letter
from tests.support.factories import make_user
from tests.support.quiz_factories import make_bank, make_question

USER, OTHER = 420001, 420002


async def test_learn_2_submit_with_unanswered_questions_asks_first_and_goes_back(store, clock, client_factory):
    await make_user(store, USER)
    await make_bank(store, 5)
    me = client_factory(USER)
    shown = await me.send("/quiz")
    for _ in range(2):
        clock.advance(seconds=3)
        shown = await me.press(shown, option(shown, right_letter(shown)))
    assert "第 3/5 题" in shown.text
    clock.advance(seconds=3)
    shown = await me.press(shown, "下一题")  # the third is skipped
    asked = await me.press(shown, "📤 交卷")
    assert "共 5 题，还有 3 题未作答，仍要交卷吗？" in asked.text and "未作答的题按答错计" in asked.text
    assert [label for label, _ in asked.buttons()] == ["📤 仍然交卷", "↩️ 回到第 3 题（未作答）"]
    assert (await store._one("SELECT status FROM quiz_attempts"))["status"] == "open"  # nothing closed yet
    back = await me.press(asked, "回到第 3 题")
    assert "第 3/5 题" in back.text and "您的答案" not in back.text
    clock.advance(seconds=3)
    fourth = await me.press(back, option(back, right_letter(back)))
    asked = await me.press(fourth, "📤 交卷")
    assert "还有 2 题未作答" in asked.text and "↩️ 回到第 4 题（未作答）" in [label for label, _ in asked.buttons()]
    done = await me.press(asked, "仍然交卷")
    assert "已交卷" in done.text and "3/5（60%）" in done.text and "获得积分：3 分" in done.text
    assert await ledger(store, USER) == [("daily", 3)]
    # every question answered: no question asked
    shown = await me.send("/quiz")
    last = await answer_all(me, clock, shown)
    assert "已交卷" in (await me.press(last, "📤 交卷")).text


async def test_learn_2_unanswered_question_uses_english_plurals(store, clock, client_factory):
    await make_user(store, OTHER)
    await make_bank(store, 5)
    me = client_factory(OTHER, language_code="en")
    shown = await me.send("/quiz")
    for _ in range(4):
        clock.advance(seconds=3)
        shown = await me.press(shown, option(shown, right_letter(shown)))
    asked = await me.press(shown, "Submit")
    assert "1 of 5 questions is unanswered — submit anyway?" in asked.text
    assert [label for label, _ in asked.buttons()] == ["📤 Submit anyway", "↩️ Go to question 5 (unanswered)"]
    await me.press(asked, "Submit anyway")
    shown = await me.send("/quiz")
    asked = await me.press(shown, "Submit")
    assert "5 of 5 questions are unanswered — submit anyway?" in asked.text


async def test_learn_3_weekly_quiz_says_only_the_first_attempt_counts_and_asks_before_submit(
        store, clock, client_factory):
    await make_user(store, USER)
    await make_bank(store, 12)
    me = client_factory(USER)
    first = await me.send("/weekly")
    assert "每周一答每人每周只有第一次作答计分" in first.text and "第 1/10 题" in first.text
    assert first.text.index("只有第一次作答计分") < first.text.index("第 1/10 题")  # before the first question
    clock.advance(seconds=3)
    second = await me.press(first, option(first, right_letter(first)))
    assert "只有第一次作答计分" not in second.text  # said once
    asked = await me.press(second, "📤 交卷")
    assert "共 10 题，还有 9 题未作答" in asked.text
    done = await me.press(asked, "仍然交卷")
    assert "1/10" in done.text and await ledger(store, USER) == [("weekly", 1)]
    practice = await me.send("/weekly")
    assert "只有第一次作答计分" not in practice.text and "这一轮为练习" in practice.text


async def test_learn_2_cancel_leaves_the_round_and_records_show_it_left_unfinished(store, clock, client_factory):
    await make_user(store, USER)
    await make_bank(store, 5)
    me = client_factory(USER)
    first = await me.send("/quiz")
    clock.advance(seconds=3)
    second = await me.press(first, option(first, right_letter(first)))
    left = await me.send("/cancel")
    assert "已退出本轮：📝 每日答题" in left.text and "未完成" in left.text and "当前没有进行中的操作" not in left.text
    row = await store._one("SELECT status, correct, points, submitted_at FROM quiz_attempts")
    assert (row["status"], row["correct"], row["points"]) == ("expired", 1, 0) and row["submitted_at"]
    stale = await me.press(second, option(second, right_letter(second)))
    assert stale.answers[0].text == "本轮答题已结束。"
    assert await ledger(store, USER) == [] and (await store._one("SELECT COUNT(*) AS n FROM wrongbook"))["n"] == 0
    # a submitted round beside it: the records list both, only the submitted one opens
    last = await answer_all(me, clock, await me.send("/quiz"))
    await me.press(last, "📤 交卷")
    records = await me.send("/records")
    assert "中途退出，未完成" in records.text and "5/5" in records.text
    assert [label for label, _ in records.buttons()] == ["1. 每日答题 5/5"]
    assert "共 2 次" in records.text
    # nothing open any more: /cancel says so
    assert "当前没有进行中的操作" in (await me.send("/cancel")).text


async def test_learn_2_cancel_while_a_blank_waits_for_text_and_in_the_scored_weekly(store, clock, client_factory):
    await make_user(store, USER)
    await make_question(store, "blank", "党的根本宗旨是____", answer=(("全心全意为人民服务",),))
    me = client_factory(USER)
    shown = await me.send("/quiz")
    assert "请直接发送您的答案" in shown.text
    left = await me.send("/cancel")
    assert "已退出本轮：📝 每日答题" in left.text
    after = await me.send("全心全意为人民服务")  # no longer taken as the answer
    assert "您的答案" not in after.text
    assert (await store._one("SELECT status FROM quiz_attempts"))["status"] == "expired"

    await make_bank(store, 12)
    weekly = await me.send("/weekly")
    assert "第 1/10 题" in weekly.text
    left = await me.send("取消")
    assert "已退出本轮：📅 每周一答" in left.text and "之后的 /weekly 为练习" in left.text
    again = await me.send("/weekly")
    assert "这一轮为练习" in again.text


def timeout_sweeper(store, clock, bot, outbox, i18n) -> Sweeper:
    """The sweep as bot/app.py wires it: the quiz's due work, a challenge's time-out told to the person."""
    from bot.flows.quiz import timeout_notifier

    sweeper = Sweeper(store, clock)
    for kind, handler in quiz.due_handlers(store, clock, timeout_notifier(bot, outbox, i18n, store)).items():
        sweeper.register(kind, handler)
    return sweeper


async def test_challenge_time_out_in_the_sweep_tells_the_person_and_removes_the_buttons(
        store, clock, client_factory, bot, outbox, i18n):
    await make_user(store, USER)
    await make_bank(store, 12)
    me = client_factory(USER)
    shown = await me.press(await me.start(), "⚔️ 挑战答题")
    clock.advance(seconds=3)
    shown = await me.press(shown, option(shown, right_letter(shown)))  # one right, the second shown
    waiting = right_letter(shown)
    sweeper = timeout_sweeper(store, clock, bot, outbox, i18n)
    await quiz.arm_due_work(store, clock)
    clock.advance(seconds=30)
    await sweeper.sweep()
    await outbox.flush()
    assert not any("超过作答时间" in (m.text or "") for m in me.window)  # within the limit: nothing yet
    clock.advance(seconds=20)
    await sweeper.sweep()
    await outbox.flush()
    question, push = me.window[-2], me.window[-1]
    assert "时间到" in question.text and question.reply_markup is None  # its buttons are gone
    assert "超过作答时间，本题按答错计" in push.text and f"正确答案：{waiting}. " in push.text
    assert "连续答对：1 题" in push.text and "本轮没有获得积分" in push.text and "💡 解析：" in push.text
    assert [b.text for row in push.reply_markup.inline_keyboard for b in row] == ["⚔️ 再次挑战", "📕 错题本"]
    row = await store._one("SELECT status, total, correct FROM quiz_attempts")
    assert tuple(row) == ("submitted", 2, 1)
    await sweeper.sweep()
    await outbox.flush()
    assert sum("超过作答时间" in (m.text or "") for m in me.window) == 1  # told once
    late = await me.click(shown.button(option(shown, waiting)))  # stale: a tap on the closed question
    assert late.answers[0].text == "本轮答题已结束。"


async def test_challenge_resumed_question_is_the_one_the_time_out_edits(
        store, clock, client_factory, bot, outbox, i18n):
    await make_user(store, USER)
    await make_bank(store, 12)
    me = client_factory(USER)
    first = await me.press(await me.start(), "⚔️ 挑战答题")
    assert "第 1 题" in first.text
    clock.advance(seconds=10)
    resumed = await me.press(await me.start(), "⚔️ 挑战答题")  # shown again as a new message
    assert "继续上次未完成的答题" in resumed.text
    sweeper = timeout_sweeper(store, clock, bot, outbox, i18n)
    await quiz.arm_due_work(store, clock)
    clock.advance(seconds=60)
    await sweeper.sweep()
    await outbox.flush()
    resumed_now = me._current(resumed)[0]
    assert "时间到" in resumed_now.text and resumed_now.reply_markup is None
    assert "连续答对：0 题" in me.window[-1].text


async def test_learn_5_wrongbook_shows_the_options_with_the_right_letters(store, clock, client_factory):
    await make_user(store, USER)
    await make_question(store, "multiple", "选出正确的两项", options=("甲项", "乙项", "丙项"), answer=("A", "C"))
    await make_question(store, "judge", "这是对的", answer=("T",))
    me = client_factory(USER)
    shown = await me.send("/quiz")
    for _ in range(2):
        clock.advance(seconds=3)
        if "选出正确的两项" in shown.text:
            shown = await me.press(shown, option(shown, "B"))
            shown = await me.press(shown, "确认答案")
        else:
            shown = await me.press(shown, "错误")
    await me.press(shown, "📤 交卷")
    book = await me.send("/wrongbook")
    assert "✅ A. 甲项" in book.text and "▫️ B. 乙项" in book.text and "✅ C. 丙项" in book.text
    assert "正确答案：A、C" in book.text and "正确答案：正确" in book.text
    assert "✅ A. 正确" not in book.text  # a true/false question has no option lines

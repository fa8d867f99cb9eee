"""LEARN-2 daily quiz and the fair-play rules of every quiz, through the dispatcher."""
from __future__ import annotations

import re

from aiogram.methods import AnswerCallbackQuery

from bot.ui.quiz import QuizCD
from tests.support.factories import make_member, make_org, make_user
from tests.support.quiz_factories import make_bank, make_question

USER, OTHER = 400001, 400002


def right_letter(sent) -> str:
    return re.search(r"答案是 ([A-D])", sent.text).group(1)


def wrong_letter(sent) -> str:
    return "B" if right_letter(sent) != "B" else "C"


def option(sent, letter: str) -> str:
    """The label of option `letter` on the question `sent` shows."""
    for label, data in sent.buttons():
        if label.endswith(letter) and data and data.startswith("qz:o:"):
            return label
    raise AssertionError(f"no option {letter} in {sent.buttons()}")


async def ledger(store, user_id=USER, source=None):
    rows = await store._all("SELECT source, amount FROM points WHERE user_id = ? AND source <> 'login' ORDER BY id",
                            (user_id,))
    return [tuple(r) for r in rows if source is None or r[0] == source]


async def answer_all(client, clock, sent, *, right: bool = True):
    """Answers the shown question and every one after it; returns the last question's reply."""
    while True:
        clock.advance(seconds=3)
        letter = right_letter(sent) if right else wrong_letter(sent)
        sent = await client.press(sent, option(sent, letter))
        if "已是最后一题" in sent.text:
            return sent


async def test_learn_2_daily_quiz_change_answer_submit_explanations_and_capped_points(store, clock, client_factory):
    await make_user(store, USER)
    await make_bank(store, 7)
    me = client_factory(USER)
    first = await me.send("/quiz")
    assert "每日答题" in first.text and "第 1/5 题" in first.text and "单选题" in first.text
    assert {"A", "B", "C", "D", "下一题 ▶️", "📤 交卷"} <= {label for label, _ in first.buttons()}
    q1_right = right_letter(first)
    clock.advance(seconds=3)
    second = await me.press(first, option(first, wrong_letter(first)))  # a wrong answer first …
    assert "第 2/5 题" in second.text
    clock.advance(seconds=3)
    back = await me.press(second, "上一题")
    assert "第 1/5 题" in back.text and f"您的答案：{wrong_letter(first)}" in back.text
    clock.advance(seconds=3)
    again = await me.press(back, option(back, q1_right))  # … changed before submit
    assert "第 2/5 题" in again.text
    last = await answer_all(me, clock, again)
    assert "第 5/5 题" in last.text
    clock.advance(seconds=3)
    done = await me.press(last, "交卷")
    assert "已交卷" in done.text and "5/5（100%）" in done.text and "获得积分：5 分" in done.text
    assert "用时" in done.text and done.text.count("💡 解析：解析") == 5 and "答案与解析" in done.text
    assert await ledger(store) == [("daily", 5)]
    row = await store._one("SELECT status, correct, total, points, flagged FROM quiz_attempts")
    assert tuple(row) == ("submitted", 5, 5, 5, 0)

    # a second round the same day: allowed, but the day's cap is reached
    round2 = await me.press(await me.start(), "📝 每日答题")
    assert "第 1/5 题" in round2.text
    last = await answer_all(me, clock, round2)
    done = await me.press(last, "交卷")
    assert "已达上限" in done.text
    assert await ledger(store) == [("daily", 5)]


async def test_learn_2_prefers_unseen_questions_from_own_orgs_and_global_bank(store, clock, client_factory):
    phone = await make_user(store, USER)
    await make_user(store, 400010, "管理员", verified=True)
    upper = await make_org(store, "上级", 400010)
    mine = await make_org(store, "本级", 400010, parent_id=upper)
    other = await make_org(store, "别人", 400010)
    await make_member(store, mine, "张伟", phone, activated=True)
    visible = {await make_question(store, stem="全局", answer=("A",)),
               await make_question(store, stem="上级的", answer=("A",), org_id=upper),
               await make_question(store, stem="本级的", answer=("A",), org_id=mine)}
    await make_question(store, stem="别人的", answer=("A",), org_id=other)
    await make_question(store, stem="已停用", answer=("A",), retired=True)
    extra = {await make_question(store, stem=f"全局{i}", answer=("A",)) for i in range(4)}
    first = set(await store.draw_for_user(USER, phone, 5))
    assert first <= visible | extra and len(first) == 5
    await store.create_attempt(USER, "daily", "2026-11-23", sorted(first), "2026-11-23T09:00:00+08:00")
    second = set(await store.draw_for_user(USER, phone, 2))
    assert second == (visible | extra) - first  # the unseen ones come first


async def test_learn_2_fair_play_stale_forged_and_double_presses(store, clock, client_factory):
    await make_user(store, USER)
    await make_user(store, OTHER, "李娜")
    await make_bank(store, 5)
    me, other = client_factory(USER), client_factory(OTHER, "李娜")
    first = await me.send("/quiz")
    attempt = (await store._one("SELECT id FROM quiz_attempts"))["id"]
    # somebody else pressing my buttons
    forged = await other.click(first.button(option(first, "A")))  # forged: another person's quiz button
    assert forged.answers[0].text == "这不是您的答题。" and not forged.of(AnswerCallbackQuery)[0].show_alert
    # a press for a question not shown now (forged position) and an out-of-range option
    ahead = await me.click(QuizCD(a="o", t=attempt, p=3, o=0).pack())  # forged: a question not shown yet
    assert ahead.answers[0].text == "这道题已不是当前题目。"
    bad = await me.click(QuizCD(a="o", t=attempt, p=0, o=7).pack())  # forged: no such option
    assert bad.answers[0].text == "这个按钮已失效。"
    # the same answer pressed twice quickly: the second is for a question no longer shown
    clock.advance(seconds=2)
    press = option(first, right_letter(first))
    second = await me.press(first, press)
    twice = await me.click(first.button(press))  # stale: the first question's button, tapped again
    assert twice.answers[0].text == "这道题已不是当前题目。"
    rows = await store._all("SELECT answered_at FROM quiz_items WHERE answered_at IS NOT NULL")
    assert len(rows) == 1
    # after submit, every old button says the round is over; a double submit pays once
    asked = await me.press(second, "📤 交卷")  # four left unanswered: it asks first
    await me.press(asked, "仍然交卷")
    again = await me.click(second.button("交卷"))  # stale: a double submit
    assert again.answers[0].text == "本轮答题已结束。"
    old = await me.click(first.button(press))  # stale: a button of the first question
    assert old.answers[0].text == "本轮答题已结束。"
    assert await ledger(store) == [("daily", 1)]


async def test_learn_2_answers_faster_than_reading_are_flagged(store, clock, client_factory):
    await make_user(store, USER)
    await make_bank(store, 5)
    me = client_factory(USER)
    first = await me.send("/quiz")
    await me.press(first, option(first, right_letter(first)))  # 0 ms after it was shown
    item = await store._one("SELECT fast, answer_ms FROM quiz_items WHERE position = 0")
    assert item["fast"] == 1 and item["answer_ms"] < 1000
    assert (await store._one("SELECT flagged FROM quiz_attempts"))["flagged"] == 1


async def test_learn_2_blank_and_multiple_choice_answers(store, clock, client_factory):
    await make_user(store, USER)
    await make_question(store, "blank", "党的根本宗旨是____", answer=(("全心全意为人民服务",),),
                        explanation="宗旨")
    me = client_factory(USER)
    shown = await me.send("/quiz")
    assert "填空题" in shown.text and "请直接发送您的答案" in shown.text
    sticker = await me.sticker()
    assert "请用文字输入" in sticker.text
    clock.advance(seconds=5)
    typed = await me.send(" 全心全意 为人民服务 ")
    assert "您的答案：全心全意 为人民服务" in typed.text
    done = await me.press(typed, "交卷")
    assert "1/1（100%）" in done.text

    clock.advance(days=1)
    await make_question(store, "multiple", "选出 A 和 C", options=("一", "二", "三"), answer=("A", "C"))
    await make_question(store, "blank", "两空：__ 和 __", answer=(("ABC", "abc"), ("第二",)))
    await make_question(store, "judge", "这是对的", answer=("T",))
    shown = await me.send("/quiz")
    seen = []
    for _ in range(4):
        text = shown.text
        seen.append(text)
        clock.advance(seconds=2)
        if "选出 A 和 C" in text:
            shown = await me.press(shown, option(shown, "A"))
            shown = await me.press(shown, option(shown, "C"))
            assert "您的答案：A、C" in shown.text
            shown = await me.press(shown, "确认答案")
        elif "两空" in text:
            bad = await me.send("只有一个")
            assert "这道题有 2 个空" in bad.text
            shown = await me.send("ａｂｃ；第 二")
        elif "这是对的" in text:
            shown = await me.press(shown, "正确")
        else:
            shown = await me.send("全心全意为人民服务")
        if "已是最后一题" in shown.text:
            break
    done = await me.press(shown, "交卷")
    assert "（100%）" in done.text, done.text


async def test_learn_2_empty_bank_is_a_clear_message(store, clock, client_factory):
    await make_user(store, USER)
    me = client_factory(USER)
    sent = await me.send("/quiz")
    assert "题库里还没有可用的题目" in sent.text
    sent = await me.press(await me.start(), "⚔️ 挑战答题")
    assert "题库里还没有可用的题目" in sent.text
    sent = await me.send("/weekly")
    assert "题库里还没有可用的题目" in sent.text


async def test_learn_2_a_submit_handled_again_after_a_crash_shows_the_result_once_paid(client_factory, store, clock,
                                                                                       session):
    """Killed after the submit's commit and before its reply, the press is handled again at start
    (replaying): the person gets the result and the review, the ledger pays once. Pressed again in a
    normal run (a double tap), it stays a short note."""
    from tests.support.recording import find_button

    await make_user(store, USER)
    await make_bank(store, 7)
    me = client_factory(USER)
    first = await me.press(await me.start(), "📝 每日答题")
    last = await answer_all(me, clock, first)
    message, button = find_button(me._current(last), "交卷")  # the question as the person saw it
    done = await me.press(last, "交卷")
    assert "已交卷" in done.text and "获得积分：5 分" in done.text
    again = await me._press(message, button, {"replaying": True})  # stale: the same press, replayed
    assert "已交卷" in again.text and "获得积分：5 分" in again.text and "答案与解析" in again.text
    assert await ledger(store) == [("daily", 5)]
    twice = await me._press(message, button)  # stale: the same press in a normal run
    assert not twice.text and twice.answers and twice.answers[-1].text
    assert await ledger(store) == [("daily", 5)]


async def test_learn_2_an_answer_handled_again_after_a_crash_shows_the_question_the_round_is_on(
        client_factory, store, clock):
    """Killed after an answer's commit and before the message moved on, the press is handled again at
    start (replaying): the message shows the question the round is on now, so the person goes on
    answering (in a normal run the same stale press stays a short note). The answer counts once."""
    from tests.support.recording import find_button

    await make_user(store, USER)
    await make_bank(store, 7)
    me = client_factory(USER)
    first = await me.send("/quiz")
    assert "第 1/5 题" in first.text
    label = option(first, right_letter(first))
    message, button = find_button(me._current(first), label)  # the first question, as the person saw it
    clock.advance(seconds=3)
    moved = await me.press(first, label)
    assert "第 2/5 题" in moved.text
    stale = await me._press(message, button)  # a normal run: a short note, nothing changes
    assert not stale.text and stale.answers[-1].text
    again = await me._press(message, button, {"replaying": True})
    assert "第 2/5 题" in again.text and "下一题 ▶️" in {label for label, _ in again.buttons()}
    clock.advance(seconds=3)
    third = await me.press(moved, option(again, right_letter(again)))  # (the chat here had the first edit)
    assert "第 3/5 题" in third.text
    last = await answer_all(me, clock, third)
    done = await me.press(last, "交卷")
    assert "获得积分：5 分" in done.text and "（100%）" in done.text  # the first answer counted once

"""LEARN-3 weekly quiz, the challenge quiz and LEARN-5 wrong-answer notebook, through the dispatcher."""
from __future__ import annotations

from datetime import datetime

from bot.scheduler import Sweeper
from bot.services import quiz
from tests.conftest import OPERATOR_ID, TZ
from tests.handlers.test_quiz import answer_all, ledger, option, right_letter, wrong_letter
from tests.support.factories import make_member, make_org, make_user
from tests.support.quiz_factories import make_bank

USER, ADMIN = 410001, 410002


async def test_learn_3_weekly_quiz_scores_once_then_practice(store, clock, client_factory):
    await make_user(store, USER)
    await make_bank(store, 12)
    me = client_factory(USER)
    first = await me.send("/weekly")
    assert "每周一答" in first.text and "第 1/10 题" in first.text
    last = await answer_all(me, clock, first)
    done = await me.press(last, "交卷")
    assert "10/10" in done.text and "获得积分：10 分" in done.text
    again = await me.press(await me.start(), "📅 每周一答")
    assert "这一轮为练习，不计积分" in again.text and "每周一答（练习）" in again.text
    last = await answer_all(me, clock, again)
    done = await me.press(last, "交卷")
    assert "不计积分" in done.text
    assert await ledger(store, USER) == [("weekly", 10)]
    # the same set for everyone this week; a new week brings a new set and a new scored attempt
    sets = await store._all("SELECT period FROM weekly_sets")
    assert [r["period"] for r in sets] == [quiz.week_period(clock.today())]
    clock.advance(days=7)
    nxt = await me.send("/weekly")
    assert "练习" not in nxt.text


async def test_learn_3_one_scored_attempt_is_a_store_rule(store, clock):
    await make_user(store, USER)
    ids = list(await make_bank(store, 3))
    await store.create_attempt(USER, "weekly", "2026-11-23", ids, "t", period="2026-W48", scope=0)
    import pytest

    from bot.store import Conflict

    with pytest.raises(Conflict):
        await store.create_attempt(USER, "weekly", "2026-11-23", ids, "t", period="2026-W48", scope=0)
    await store.create_attempt(USER, "weekly", "2026-11-23", ids, "t", period="2026-W48", scope=0, scored=False)


async def test_learn_3_admin_publishes_their_organisations_set(store, clock, client_factory):
    await make_user(store, ADMIN, "管理员", verified=True)
    phone = await make_user(store, USER)
    org = await make_org(store, "某支部", ADMIN)
    await make_member(store, org, "张伟", phone, activated=True)
    await make_bank(store, 3, prefix="全局")
    own = await make_bank(store, 10, org_id=org, prefix="本组织")
    admin = client_factory(ADMIN, "管理员")
    panel = await admin.send("/weekly")
    assert "发布本周题目：某支部" in panel.text or any("某支部" in b for b, _ in panel.buttons())
    published = await admin.press(panel, "某支部")
    assert "已发布" in published.text and "共 10 题" in published.text
    audit = await store._one("SELECT action, org_id FROM audit_log WHERE action = 'quiz.weekly_publish'")
    assert tuple(audit) == ("quiz.weekly_publish", org)
    me = client_factory(USER)
    first = await me.send("/weekly")
    assert "本组织" in first.text
    items = await store._all("SELECT question_id FROM quiz_items")
    assert {r["question_id"] for r in items} == set(own)
    # once somebody started it, it can no longer be replaced; a stranger cannot publish for it
    refused = await admin.press(panel, "某支部")
    assert "不能再更换" in refused.answers[0].text
    stranger = client_factory(USER)
    from bot.ui.quiz import WeeklyCD

    denied = await stranger.click(WeeklyCD(act="pub", org=org).pack())  # forged: an admin's button
    assert denied.answers[0].text == "您没有执行此操作的权限。"
    denied = await stranger.click(WeeklyCD(act="pub", org=0).pack())  # forged: the operator's
    assert denied.answers[0].text == "您没有执行此操作的权限。"


def quiz_sweeper(store, clock) -> Sweeper:
    """The bot's sweep of due work with the quiz's handlers, as bot/app.py wires it."""
    sweeper = Sweeper(store, clock)
    for kind, handler in quiz.due_handlers(store, clock).items():
        sweeper.register(kind, handler)
    return sweeper


async def test_learn_3_monday_job_draws_the_global_set_and_operator_can_publish(store, clock, client_factory):
    await make_user(store, OPERATOR_ID, "运维")
    await make_bank(store, 4)
    sweeper = quiz_sweeper(store, clock)
    await quiz.arm_due_work(store, clock)
    await sweeper.sweep()
    assert await store._all("SELECT period FROM weekly_sets") == []  # Monday 00:00 has not come yet
    clock.set(datetime(2026, 11, 30, 0, 0, tzinfo=TZ))  # the next Monday, 00:00 in the configured zone
    await sweeper.sweep()
    assert [r["period"] for r in await store._all("SELECT period FROM weekly_sets")] == ["2026-W49"]
    armed = await store.due_row(quiz.WEEKLY_DRAW, "global")
    assert datetime.fromisoformat(armed.due_at) == datetime(2026, 12, 7, 0, 0, tzinfo=TZ)  # re-armed
    assert await quiz.draw_weekly(store, clock) is False  # exactly once a week
    op = client_factory(OPERATOR_ID, "运维")
    panel = await op.send("/weekly")
    done = await op.press(panel, "全局")
    assert "共 4 题" in done.text


async def test_challenge_runs_until_the_first_wrong_answer_and_pays_by_streak(store, clock, client_factory):
    await make_user(store, USER)
    await make_bank(store, 12)
    me = client_factory(USER)
    shown = await me.press(await me.start(), "⚔️ 挑战答题")
    assert "挑战答题" in shown.text and "45 秒" in shown.text
    assert not any("交卷" in label for label, _ in shown.buttons())
    for n in range(5):
        clock.advance(seconds=3)
        shown = await me.press(shown, option(shown, right_letter(shown)))
        assert f"已连续答对 {n + 1} 题" in shown.text
    clock.advance(seconds=3)
    over = await me.press(shown, option(shown, wrong_letter(shown)))
    assert "挑战结束" in over.text and "连续答对：5 题" in over.text and "获得积分：3 分" in over.text
    assert await ledger(store, USER) == [("challenge", 3)]
    row = await store._one("SELECT total, correct, points, status FROM quiz_attempts")
    assert tuple(row) == (6, 5, 3, "submitted")
    # the wrongly answered question is now in the notebook
    assert (await store._one("SELECT COUNT(*) AS n FROM wrongbook"))["n"] == 1

    # a second challenge the same day with a shorter streak adds nothing (best of the day)
    shown = await me.press(await me.start(), "⚔️ 挑战答题")
    clock.advance(seconds=3)
    over = await me.press(shown, option(shown, wrong_letter(shown)))
    assert "挑战结束" in over.text
    assert await ledger(store, USER) == [("challenge", 3)]


async def test_challenge_time_limit_holds_at_the_next_action_and_in_the_sweep(store, clock, client_factory):
    await make_user(store, USER)
    await make_bank(store, 12)
    me = client_factory(USER)
    shown = await me.press(await me.start(), "⚔️ 挑战答题")
    clock.advance(seconds=3)
    shown = await me.press(shown, option(shown, right_letter(shown)))
    clock.advance(seconds=46)
    late = await me.press(shown, option(shown, right_letter(shown)))
    assert "超过作答时间" in late.text and "连续答对：1 题" in late.text
    # the question left unanswered counts as wrong: it is in the notebook, the one answered right is not
    timed_out = await store._one("SELECT question_id, correct, answer FROM quiz_items WHERE position = 1")
    assert (timed_out["correct"], timed_out["answer"]) == (0, None)
    assert [r["question_id"] for r in await store._all("SELECT question_id FROM wrongbook")] == [timed_out["question_id"]]
    # unattended: the periodic job ends it
    shown = await me.press(await me.start(), "⚔️ 挑战答题")
    sweeper = quiz_sweeper(store, clock)
    await quiz.arm_due_work(store, clock)
    clock.advance(seconds=30)
    await sweeper.sweep()
    latest = "SELECT status FROM quiz_attempts ORDER BY id DESC LIMIT 1"
    assert (await store._one(latest))["status"] == "open"  # within the limit
    clock.advance(seconds=30)
    await sweeper.sweep()
    assert (await store._one(latest))["status"] != "open"
    stale = await me.press(shown, option(shown, right_letter(shown)))
    assert stale.answers[0].text == "本轮答题已结束。"


async def test_learn_5_wrongbook_collects_and_releases_after_two_right_in_a_row(store, clock, client_factory):
    await make_user(store, USER)
    await make_bank(store, 5)
    me = client_factory(USER)
    first = await me.send("/quiz")
    last = await answer_all(me, clock, first, right=False)
    await me.press(last, "交卷")
    book = await me.send("/wrongbook")
    assert "共 5 题" in book.text and "答错 1 次" in book.text
    first_book = book
    for round_no in range(2):
        shown = await me.press(book, "练习错题")
        assert "错题练习" in shown.text
        last = await answer_all(me, clock, shown)
        done = await me.press(last, "交卷")
        assert "错题练习不计积分" in done.text
        book = await me.press(await me.start(), "📕 错题本")
        if round_no == 0:
            assert "已连续答对 1 次" in book.text
    assert "错题本是空的" in book.text
    empty = await me.click(first_book.button("练习错题"))  # stale: an old "practise" button
    assert "没有需要练习的题目" in empty.text
    assert await ledger(store, USER) == []

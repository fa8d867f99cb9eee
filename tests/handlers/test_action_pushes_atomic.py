"""Issue 13, "nothing lost": an action and the pushes it causes are one transaction. When building the
pushes fails after the action was done, the action leaves no trace, the person gets the generic
apology (not a traceback), and the same press afterwards works. (That every push of the suite is
enqueued inside an action's transaction is checked by the store fixture: `strict_pushes`.)"""
from __future__ import annotations

from typing import Any

from aiogram.methods import EditMessageText, SendMessage

from bot import notify
from bot.flows import quiz as quiz_flow
from bot.flows import task_compose
from bot.services import quiz
from tests.handlers.test_invites import ADMIN2, _pending
from tests.handlers.test_quiz import option, right_letter
from tests.handlers.test_quiz_leave_and_submit import USER, timeout_sweeper
from tests.handlers.test_tasks import ADMIN, MEMBERS, compose, setup
from tests.support.factories import make_user
from tests.support.pg import connect_committed
from tests.support.quiz_factories import make_bank

APOLOGY = "抱歉，处理时出了点问题，请稍后再试。"


def broken(*_args, **_kwargs):
    raise RuntimeError("secret internals of a push builder")


def counts(conn: Any, *tables: str) -> dict[str, int]:
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


async def test_issue13_a_join_approval_whose_notice_fails_stays_pending(client_factory, store, settings, registered,
                                                                        session, outbox, monkeypatch):
    conn, notices = await _pending(client_factory, store, settings, registered, session, outbox)
    (notice,) = [n for n in notices if n.chat_id == ADMIN2]
    before = counts(conn, "members", "audit_log", "outbox")
    monkeypatch.setattr(notify, "text_push", broken)  # the joiner's notice cannot be built
    sent = await client_factory(ADMIN2).press(notice, "✅ 同意")
    # answered once: by the callback middleware, not again by the error handler
    assert [(a.text, a.show_alert) for a in sent.answers] == [(APOLOGY, True)]
    assert "secret internals" not in str(sent.calls)
    assert not sent.of(EditMessageText)  # the admin's notice still offers the decision
    assert tuple(conn.execute("SELECT status, decided_by FROM join_requests").fetchone()) == ("pending", None)
    assert counts(conn, "members", "audit_log", "outbox") == before
    assert await outbox.flush() == 0

    monkeypatch.undo()
    sent = await client_factory(ADMIN2).press(notice, "✅ 同意")
    assert "已同意" in sent.answers[-1].text
    assert tuple(conn.execute("SELECT status, decided_by FROM join_requests").fetchone()) == ("approved", ADMIN2)
    mark = len(session.calls)
    assert await outbox.flush() == 1
    told = [c.text for c in session.calls[mark:] if isinstance(c, SendMessage)]
    assert len(told) == 1 and "管理员已同意您加入" in told[0]


async def test_issue13_a_task_whose_notices_fail_is_not_created(client_factory, store, settings, outbox, session,
                                                                 monkeypatch):
    await setup(store)
    conn = connect_committed(settings)
    c = client_factory(ADMIN)
    preview = await compose(c, deadline="2026-12-31 18:00")
    monkeypatch.setattr(task_compose, "notice_pushes", broken)
    sent = await c.press(preview, "发送")
    assert sent.answers and {a.text for a in sent.answers} == {APOLOGY}
    assert "已发出" not in sent.text and "secret internals" not in str(sent.calls)
    assert counts(conn, "tasks", "task_recipients", "outbox") == {"tasks": 0, "task_recipients": 0, "outbox": 0}
    assert conn.execute("SELECT COUNT(*) FROM due_work WHERE kind = 'task_remind'").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'task.send'").fetchone()[0] == 0

    monkeypatch.undo()  # the flow stayed at its preview: sending again works
    sent = await c.press(preview, "发送")
    # task #1 on SQLite; PostgreSQL's sequences do not roll back, so there the number after a failed try
    assert "已发出，共 6 人" in sent.text and conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM due_work WHERE kind = 'task_remind'").fetchone()[0] == 1
    mark = len(session.calls)
    await outbox.flush()
    assert {c.chat_id for c in session.calls[mark:] if isinstance(c, SendMessage)} == {uid for uid, _ in MEMBERS}


async def test_issue13_a_challenge_time_out_whose_notice_fails_stays_open_until_it_can_be_told(
        store, clock, client_factory, bot, outbox, i18n, monkeypatch):
    """Scheduled work too: the time-out (counted wrong, paid) and its push are one transaction; the
    question's edit comes after the commit."""
    await make_user(store, USER)
    await make_bank(store, 12)
    me = client_factory(USER)
    shown = await me.press(await me.start(), "⚔️ 挑战答题")
    shown = await me.press(shown, option(shown, right_letter(shown)))
    sweeper = timeout_sweeper(store, clock, bot, outbox, i18n)
    await quiz.arm_due_work(store, clock)
    monkeypatch.setattr(quiz_flow, "timeout_push_text", broken)
    clock.advance(seconds=60)
    shown_before = len(me.window)
    await sweeper.sweep()
    assert await outbox.flush() == 0
    assert tuple(await store._one("SELECT status, correct FROM quiz_attempts")) == ("open", None)  # not ended
    assert len(me.window) == shown_before and me.window[-1].reply_markup is not None  # not edited either

    monkeypatch.undo()
    clock.advance(seconds=quiz.CHALLENGE_SCAN_SECONDS * 2)  # the failed scan's retry is due
    await sweeper.sweep()
    await outbox.flush()
    assert tuple(await store._one("SELECT status, total, correct FROM quiz_attempts")) == ("submitted", 2, 1)
    assert sum("超过作答时间" in (m.text or "") for m in me.window) == 1
    assert "时间到" in me.window[-2].text and me.window[-2].reply_markup is None

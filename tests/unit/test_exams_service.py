"""LEARN-6 special exams: the service's rules over a real store with a clock the tests move."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import DomainError, NotAllowed
from bot.services import exam_attempts, exams
from tests.support.exam_factories import exam_world, published_exam, settings

PER_SECOND = 28.0


def letters(world):
    return list(world.bank.values())


async def answer_index(view, right: bool = True) -> int:
    letter = view.item.question.answer[0]
    idx = "ABCD".index(letter)
    return idx if right else (idx + 1) % 4


async def test_learn_6_bad_settings_get_specific_messages(store, clock):
    w = await exam_world(store)
    cases = [({"minutes": 0}, "exams.bad_time_limit"), ({"minutes": 120, "window_hours": 1},
             "exams.limit_longer_than_window"), ({"pass_mark": 5}, "exams.bad_pass_mark")]
    for kw, key in cases:
        with pytest.raises(DomainError) as err:
            await exams.create(store, clock, w.admin, w.org_id, settings(clock, **kw), list(w.bank))
        assert err.value.key == key
    with pytest.raises(DomainError) as err:
        await exams.create(store, clock, w.admin, w.org_id, settings(clock), [])
    assert err.value.key == "exams.no_questions"
    with pytest.raises(NotAllowed):
        await exams.create(store, clock, w.member, w.org_id, settings(clock), list(w.bank))


async def test_learn_6_window_double_start_and_scope(store, clock):
    w = await exam_world(store)
    early = await published_exam(store, clock, w, opens_in=60)
    with pytest.raises(DomainError) as err:
        await exams.rules(store, clock, w.member, early)
    assert err.value.key == "exams.not_open_yet"
    exam_id = await published_exam(store, clock, w, window_hours=1)
    with pytest.raises(NotAllowed):
        await exams.rules(store, clock, w.outsider, exam_id)  # SEC-4: a forwarded button, not in the subtree
    first, created = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    again, created_again = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    assert created and not created_again and first.id == again.id  # a double tap: one attempt
    rows = await store._all("SELECT COUNT(*) AS n FROM exam_attempts WHERE exam_id = ?", (exam_id,))
    assert rows[0]["n"] == 1
    clock.advance(hours=2)
    with pytest.raises(DomainError) as err:
        await exams.rules(store, clock, w.member, await published_exam(store, clock, w, opens_in=-120, window_hours=1))
    assert err.value.key == "exams.closed"


async def test_learn_6_finish_in_time_scores_pays_once_and_locks_questions(store, clock):
    w = await exam_world(store)
    exam_id = await published_exam(store, clock, w, points=5, pass_mark=3, attempts=2)
    attempt, _ = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    with pytest.raises(DomainError) as err:
        await exams.check_editable(store, w.admin, exam_id)
    assert err.value.key == "exams.locked"
    view = await exam_attempts.view(store, clock, w.member, attempt.id)
    for n in range(4):
        clock.advance(seconds=20)
        view = await exam_attempts.answer(store, clock, w.member, attempt.id, view.position, await answer_index(view, n != 3))
    res = await exam_attempts.submit(store, clock, w.member, attempt.id, confirmed=False)
    assert (res.correct, res.attempt.total, res.accuracy, res.passed, res.paid) == (3, 4, 75, True, 5)
    assert res.seconds == 80
    second, _ = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    res2 = await exam_attempts.submit(store, clock, w.member, second.id, confirmed=True)  # nothing answered: confirmed
    assert res2.correct == 0 and res2.best == 3 and res2.paid == 0
    with pytest.raises(DomainError) as err:
        await exams.rules(store, clock, w.member, exam_id)
    assert err.value.key == "exams.no_attempts_left"
    ledger = await store._all("SELECT amount FROM points WHERE source = 'exam'")
    assert [r["amount"] for r in ledger] == [5]


async def test_learn_6_unanswered_submit_asks_first(store, clock):
    w = await exam_world(store)
    exam_id = await published_exam(store, clock, w)
    attempt, _ = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    with pytest.raises(exams.NeedsConfirm) as err:
        await exam_attempts.submit(store, clock, w.member, attempt.id, confirmed=False)
    assert err.value.params == {"missing": 4}


def _no_pushes(*_a):
    return []


async def test_learn_6_deadline_policies_reset_submit_grace(store, clock):
    w = await exam_world(store)
    out = {}
    for policy in ("reset", "submit", "grace"):
        exam_id = await published_exam(store, clock, w, policy=policy, minutes=10, title=f"考试{policy}")
        attempt, _ = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
        view = await exam_attempts.view(store, clock, w.member, attempt.id)
        await exam_attempts.answer(store, clock, w.member, attempt.id, view.position, await answer_index(view))
        out[policy] = attempt
    clock.advance(minutes=10, seconds=1)
    with pytest.raises(DomainError) as err:  # the server's clock, whatever the buttons show
        await exam_attempts.answer(store, clock, w.member, out["submit"].id, 1, 0)
    assert err.value.key == "exams.time_up"
    reset = await exam_attempts.apply_deadline(store, clock, out["reset"].id, False, _no_pushes)
    assert reset.what == "reset"
    assert await store.exam_answers(out["reset"].id) and not any(a.answer for a in await store.exam_answers(out["reset"].id))
    rules = await exams.rules(store, clock, w.member, out["reset"].exam_id)
    assert rules.live is None and rules.used == 0  # must start again
    submitted = await exam_attempts.apply_deadline(store, clock, out["submit"].id, False, _no_pushes)
    assert submitted.what == "submitted" and submitted.result.correct == 1
    grace = await exam_attempts.apply_deadline(store, clock, out["grace"].id, False, _no_pushes)
    assert grace.what == "grace"
    with pytest.raises(DomainError) as err:
        await exam_attempts.answer(store, clock, w.member, out["grace"].id, 1, 0)
    assert err.value.key == "exams.grace_submit_only"
    res = await exam_attempts.submit(store, clock, w.member, out["grace"].id, confirmed=True)
    assert res.correct == 1
    again = await exam_attempts.apply_deadline(store, clock, out["submit"].id, False, _no_pushes)
    assert again.what == "none"  # idempotent: a rerun of the sweep changes nothing


async def test_learn_6_grace_that_runs_out_is_abandoned(store, clock):
    w = await exam_world(store)
    exam_id = await published_exam(store, clock, w, policy="grace", grace=60)
    attempt, _ = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    clock.advance(minutes=10)
    assert (await exam_attempts.apply_deadline(store, clock, attempt.id, False, _no_pushes)).what == "grace"
    clock.advance(seconds=61)
    with pytest.raises(DomainError):
        await exam_attempts.submit(store, clock, w.member, attempt.id, confirmed=True)
    assert (await exam_attempts.apply_deadline(store, clock, attempt.id, True, _no_pushes)).what == "abandoned"


async def test_learn_6_answer_on_an_earlier_attempt_is_refused(store, clock):
    w = await exam_world(store)
    exam_id = await published_exam(store, clock, w)
    first, _ = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    await exam_attempts.submit(store, clock, w.member, first.id, confirmed=True)
    await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    with pytest.raises(exams.Stale) as err:
        await exam_attempts.answer(store, clock, w.member, first.id, 0, 0)
    assert err.value.key == "exams.attempt_over"
    with pytest.raises(exams.Stale):
        await exam_attempts.answer(store, clock, w.admin, first.id, 0, 0)


async def test_learn_6_report_counts_and_first_attempt_stats(store, clock):
    w = await exam_world(store)
    exam_id = await published_exam(store, clock, w, pass_mark=2)
    attempt, _ = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    view = await exam_attempts.view(store, clock, w.member, attempt.id)
    view = await exam_attempts.answer(store, clock, w.member, attempt.id, view.position, await answer_index(view))
    await exam_attempts.answer(store, clock, w.member, attempt.id, view.position, await answer_index(view))
    await exam_attempts.submit(store, clock, w.member, attempt.id, confirmed=True)
    rep = await exams.report(store, w.admin, exam_id)
    assert [r.name for r in rep.passed] == ["王芳"] and rep.average == 2
    assert rep.stats.people == 1 and len(rep.stats.items) == 4


def test_learn_6_tick_interval_keeps_edits_under_the_rate():
    assert exam_attempts.tick_interval(10, 28) == 30
    assert exam_attempts.tick_interval(5000, 28) == pytest.approx(5000 / 14)


async def test_learn_6_publish_later_writes_a_due_row(store, clock):
    w = await exam_world(store)
    exam_id = await exams.create(store, clock, w.admin, w.org_id, settings(clock), list(w.bank))
    await exams.publish(store, clock, w.admin, exam_id, clock.now() + timedelta(hours=1), lambda e, p: [])
    rows = await store._all("SELECT kind, ref FROM due_work WHERE kind = 'exam_publish'")
    assert [tuple(r) for r in rows] == [("exam_publish", f"exam:{exam_id}")]
    assert await exams.my_exams(store, w.member) == []
    assert await exams.publish_due(store, exam_id, clock.now(), lambda e, people: [
        {"chat_id": p.user_id, "payload": {"text": "x"}} for p in people])
    assert [m.exam.id for m in await exams.my_exams(store, w.member)] == [exam_id]
    pushes = await store._all("SELECT chat_id FROM outbox")
    assert [r["chat_id"] for r in pushes] == [w.member.id]


async def test_learn_6_a_deadline_submit_run_twice_pays_and_tells_once(store, clock):
    """A crash after the submit but before the sweep marked its row done runs the handler again."""
    w = await exam_world(store)
    exam_id = await published_exam(store, clock, w, policy="submit", pass_mark=1, points=4)
    attempt, _ = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    view = await exam_attempts.view(store, clock, w.member, attempt.id)
    await exam_attempts.answer(store, clock, w.member, attempt.id, view.position, await answer_index(view))
    clock.advance(minutes=11)

    def pushes(what, att, exam, res):
        return [{"chat_id": att.user_id, "payload": {"text": what}, "dedupe_key": f"exam:{att.id}:{what}"}]

    first = await exam_attempts.apply_deadline(store, clock, attempt.id, False, pushes)
    again = await exam_attempts.apply_deadline(store, clock, attempt.id, False, pushes)
    assert first.what == "submitted" and first.result.paid == 4 and again.result.paid == 0
    assert [r["n"] for r in await store._all("SELECT COUNT(*) AS n FROM outbox")] == [1]
    assert [r["amount"] for r in await store._all("SELECT amount FROM points WHERE source = 'exam'")] == [4]
    rows = await store._all("SELECT kind FROM due_work WHERE ref = ? AND done_at IS NULL", (f"attempt:{attempt.id}",))
    assert [r["kind"] for r in rows] == ["exam_deadline"]  # left for the sweep to mark done


async def test_learn_6_a_deadline_submit_whose_notice_fails_leaves_the_attempt_open_and_unpaid(store, clock):
    """Issue 13: the submit, its points and its notice are one transaction; a failure undoes all three,
    and the sweep's next run submits, pays and tells once."""
    w = await exam_world(store)
    exam_id = await published_exam(store, clock, w, policy="submit", pass_mark=1, points=4)
    attempt, _ = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    view = await exam_attempts.view(store, clock, w.member, attempt.id)
    await exam_attempts.answer(store, clock, w.member, attempt.id, view.position, await answer_index(view))
    clock.advance(minutes=11)

    def broken(what, att, exam, res):
        raise RuntimeError("the notice could not be built")

    with pytest.raises(RuntimeError):
        await exam_attempts.apply_deadline(store, clock, attempt.id, False, broken)
    assert (await store.get_exam_attempt(attempt.id)).status == "open"
    assert [tuple(r) for r in await store._all("SELECT amount FROM points WHERE source = 'exam'")] == []
    assert [tuple(r) for r in await store._all("SELECT id FROM outbox")] == []

    def pushes(what, att, exam, res):
        return [{"chat_id": att.user_id, "payload": {"text": what}, "dedupe_key": f"exam:{att.id}:{what}"}]

    done = await exam_attempts.apply_deadline(store, clock, attempt.id, False, pushes)
    assert done.what == "submitted" and done.result.paid == 4
    assert [r["chat_id"] for r in await store._all("SELECT chat_id FROM outbox")] == [w.member.id]


async def test_learn_6_a_submit_whose_points_fail_stays_open(store, clock, monkeypatch):
    """The person's submit and the points for passing commit together: no submitted attempt without its points."""
    w = await exam_world(store)
    exam_id = await published_exam(store, clock, w, policy="submit", pass_mark=1, points=4)
    attempt, _ = await exam_attempts.start(store, clock, w.member, exam_id, PER_SECOND)
    view = await exam_attempts.view(store, clock, w.member, attempt.id)
    await exam_attempts.answer(store, clock, w.member, attempt.id, view.position, await answer_index(view))

    async def failing_award(*args, **kwargs):
        raise RuntimeError("the ledger is unavailable")

    monkeypatch.setattr(exam_attempts.points, "award", failing_award)
    with pytest.raises(RuntimeError):
        await exam_attempts.submit(store, clock, w.member, attempt.id, confirmed=True)
    assert (await store.get_exam_attempt(attempt.id)).status == "open"
    monkeypatch.undo()
    res = await exam_attempts.submit(store, clock, w.member, attempt.id, confirmed=True)
    assert res.paid == 4 and (await store.get_exam_attempt(attempt.id)).status == "submitted"

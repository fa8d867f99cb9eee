"""Taking a special exam (LEARN-6): the attempt's rules, no aiogram and no SQL.

An attempt's deadline is its start plus the time limit, never after the window closes. Answers are
accepted while the attempt is open and the server's clock is before the deadline, whatever the
buttons show. The sweep applies the exam's policy at the deadline (reset, submit, grace; see
services/exams.py), edits the countdown and sends the 5- and 1-minute reminders. Points for passing
are paid once per exam and person (the ledger's idempotency key).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.errors import DomainError
from bot.repositories.exams import Exam, ExamAnswer, ExamAttempt, ExamConflict
from bot.services import points
from bot.services import quiz as grading
from bot.services.exams import (
    EDIT_SHARE,
    TICK_SECONDS,
    NeedsConfirm,
    Stale,
    check_startable,
    visible_exam,
    window_state,
)
from bot.services.roles import Actor
from bot.store import Store


def tick_interval(live_attempts: int, per_second: float) -> float:
    """Seconds between two countdown edits of one attempt: 30, or longer when so many attempts run
    that their edits would take more than EDIT_SHARE of the configured rate."""
    budget = max(per_second * EDIT_SHARE, 0.1)
    return max(float(TICK_SECONDS), live_attempts / budget)


async def start(store: Store, clock: Clock, actor: Actor, exam_id: int, per_second: float) -> tuple[ExamAttempt, bool]:
    """The live attempt (a second tap or device gets the same one back) and whether it is new."""
    exam = await visible_exam(store, actor, exam_id)
    now = clock.now()
    if exam.questions == 0:
        raise DomainError("exams.no_questions")
    deadline = min(now + timedelta(seconds=exam.time_limit), exam.closes_at)
    first_tick: datetime | None = now + timedelta(seconds=tick_interval(await store.live_exam_attempts() + 1,
                                                                          per_second))
    if first_tick is not None and first_tick >= deadline - timedelta(seconds=5):
        first_tick = None  # the deadline's own message comes first
    try:
        return await store.start_exam_attempt(exam.id, actor.id, now, deadline, first_tick)
    except ExamConflict as exc:
        if exc.what == "busy":  # the other tap's attempt
            live = [a for a in await store.user_exam_attempts(exam.id, actor.id) if a.status in ("open", "grace")]
            if live:
                return live[0], False
        used = len([a for a in await store.user_exam_attempts(exam.id, actor.id) if a.status == "submitted"])
        check_startable(exam, now, used)
        raise Stale("exams.gone") from None


@dataclass(frozen=True)
class View:
    """An attempt with all its questions and answers; `position` is the question to show."""
    exam: Exam
    attempt: ExamAttempt
    answers: list[ExamAnswer]
    position: int
    now: datetime

    @property
    def answered(self) -> int:
        return sum(1 for a in self.answers if a.answer)

    @property
    def seconds_left(self) -> int:
        end = self.attempt.grace_until if self.attempt.status == "grace" and self.attempt.grace_until \
            else self.attempt.deadline
        return max(0, int((end - self.now).total_seconds()))

    @property
    def item(self) -> ExamAnswer:
        return self.answers[self.position]


async def _own(store: Store, actor: Actor, attempt_id: int) -> ExamAttempt:
    attempt = await store.get_exam_attempt(attempt_id)
    if attempt is None or attempt.user_id != actor.id:
        raise Stale("exams.not_yours")
    return attempt


async def view(store: Store, clock: Clock, actor: Actor, attempt_id: int, position: int | None = None) -> View:
    attempt = await _own(store, actor, attempt_id)
    exam = await visible_exam(store, actor, attempt.exam_id)
    answers = await store.exam_answers(attempt.id)
    if not answers:
        raise DomainError("exams.no_questions")
    if position is None:
        unanswered = [a.position for a in answers if not a.answer]
        position = attempt.position if attempt.position < len(answers) else 0
        if answers[position].answer and unanswered:
            position = unanswered[0]
    return View(exam, attempt, answers, max(0, min(position, len(answers) - 1)), clock.now())


def _check_live(attempt: ExamAttempt, now: datetime) -> None:
    if attempt.status == "grace":
        raise DomainError("exams.grace_submit_only")
    if attempt.status != "open":
        raise Stale("exams.attempt_over")
    if now >= attempt.deadline:
        raise DomainError("exams.time_up")


async def answer(store: Store, clock: Clock, actor: Actor, attempt_id: int, position: int,
                 option: int | None = None, text: str | None = None) -> View:
    """One answer by the server's clock: a choice (a multiple choice toggles the option and stays),
    true/false, or the typed blanks. Single, true/false and blanks move on to the next question."""
    attempt = await _own(store, actor, attempt_id)
    now = clock.now()
    _check_live(attempt, now)
    current = await view(store, clock, actor, attempt_id, position)
    item = current.answers[position] if 0 <= position < len(current.answers) else None
    if item is None:
        raise Stale("exams.attempt_over")
    q = item.question
    given: list[str]
    if q.kind == "blank":
        if text is None:
            raise Stale("exams.attempt_over")
        given = grading.split_blanks(text, q.blanks)
    else:
        if option is None or not 0 <= option < grading.options_of(q):
            raise Stale("exams.attempt_over")
        code = grading.JUDGE[option] if q.kind == "judge" else grading.LETTERS[option]
        if q.kind == "multiple":
            chosen = set(item.answer or ())
            chosen ^= {code}
            given = sorted(chosen)
            if not given:
                raise DomainError("exams.choose_one")
        else:
            given = [code]
    stays = q.kind == "multiple"
    following = position if stays else _next_position(current.answers, position)
    if not await store.record_exam_answer(attempt.id, position, given, grading.grade(q, given), now, following):
        raise DomainError("exams.time_up")
    return await view(store, clock, actor, attempt_id, following)


def _next_position(answers: list[ExamAnswer], position: int) -> int:
    later = [a.position for a in answers if a.position > position and not a.answer]
    if later:
        return later[0]
    return min(position + 1, len(answers) - 1)


async def set_header(store: Store, actor: Actor, attempt_id: int, message_id: int) -> None:
    """The message the countdown edits (a new one on every continue)."""
    await _own(store, actor, attempt_id)
    await store.set_exam_header(attempt_id, message_id)


async def move(store: Store, clock: Clock, actor: Actor, attempt_id: int, position: int) -> View:
    attempt = await _own(store, actor, attempt_id)
    if attempt.status not in ("open", "grace"):
        raise Stale("exams.attempt_over")
    current = await view(store, clock, actor, attempt_id, position)
    await store.set_exam_position(attempt.id, current.position)
    return current


@dataclass(frozen=True)
class Result:
    exam: Exam
    attempt: ExamAttempt
    answers: list[ExamAnswer]
    best: int
    paid: int
    passed: bool
    seconds: int
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> int:
        return self.attempt.correct or 0

    @property
    def accuracy(self) -> int:
        return round(100 * self.correct / self.attempt.total) if self.attempt.total else 0


async def submit(store: Store, clock: Clock, actor: Actor, attempt_id: int, *, confirmed: bool) -> Result:
    """The person's submit: open, or in a grace period (while it lasts, by the server's clock)."""
    attempt = await _own(store, actor, attempt_id)
    now = clock.now()
    if attempt.status == "grace":
        if attempt.grace_until is not None and now >= attempt.grace_until:
            raise DomainError("exams.grace_over")
    elif attempt.status != "open":
        raise Stale("exams.attempt_over")
    elif now >= attempt.deadline:
        raise DomainError("exams.time_up")
    if not confirmed:
        answers = await store.exam_answers(attempt.id)
        missing = sum(1 for a in answers if not a.answer)
        if missing:
            raise NeedsConfirm("exams.confirm_unanswered", missing=missing)
    async with store.atomic():  # the submit and its points commit together
        done = await store.submit_exam_attempt(attempt.id, now, timed_out=False)
        if done is None:
            raise Stale("exams.attempt_over")
        return await result(store, clock, done)


async def result(store: Store, clock: Clock, attempt: ExamAttempt) -> Result:
    """Scores, best score kept, points for passing paid once per exam and person."""
    exam = await store.get_exam(attempt.exam_id)
    assert exam is not None
    answers = await store.exam_answers(attempt.id)
    passed = (attempt.correct or 0) >= exam.pass_mark
    paid = 0
    if passed and exam.points:
        paid = await points.award(store, clock, attempt.user_id, points.EXAM, exam.points, ref=f"exam:{exam.id}",
                                  idem_key=f"{exam.id}:{attempt.user_id}")
    scores = [a.correct or 0 for a in await store.user_exam_attempts(exam.id, attempt.user_id)
              if a.status == "submitted"]
    end = attempt.ended_at or clock.now()
    return Result(exam, attempt, answers, max(scores or [0]), paid, passed,
                  max(0, int((end - attempt.started_at).total_seconds())))


async def review(store: Store, clock: Clock, actor: Actor, exam_id: int) -> Result:
    """A closed exam's explanations, over the person's best attempt."""
    exam = await visible_exam(store, actor, exam_id)
    done = [a for a in await store.user_exam_attempts(exam.id, actor.id) if a.status == "submitted"]
    if window_state(exam, clock.now()) != "closed" and not (exam.max_attempts and len(done) >= exam.max_attempts):
        raise DomainError("exams.review_after_close")
    if not done:
        raise DomainError("exams.nothing_to_review")
    best = max(done, key=lambda a: (a.correct or 0, -a.id))
    answers = await store.exam_answers(best.id)
    return Result(exam, best, answers, best.correct or 0, 0, (best.correct or 0) >= exam.pass_mark,
                  int(((best.ended_at or best.started_at) - best.started_at).total_seconds()))


# -- the sweep -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What the deadline did: reset | submitted | grace | abandoned | none."""
    what: str
    attempt: ExamAttempt
    exam: Exam | None = None
    result: Result | None = None


PushesFor = Callable[[str, ExamAttempt, Exam, "Result | None"], list[dict[str, Any]]]


async def apply_deadline(store: Store, clock: Clock, attempt_id: int, grace_end: bool,
                         pushes_for: PushesFor) -> Outcome | None:
    """The policy at an attempt's deadline (idempotent: a second run finds it ended)."""
    attempt = await store.get_exam_attempt(attempt_id)
    if attempt is None:
        return None
    exam = await store.get_exam(attempt.exam_id)
    if exam is None:
        return None
    now = clock.now()
    if grace_end:
        if attempt.status != "grace":
            return Outcome("none", attempt, exam)
        ok = await store.abandon_exam_attempt(attempt.id, now, pushes_for("abandoned", attempt, exam, None))
        return Outcome("abandoned" if ok else "none", attempt, exam)
    if attempt.status == "submitted" and attempt.timed_out and exam.policy == "submit":
        # written by a version that committed the submit before its points and pushes: both again
        # (the points are idempotent, the pushes deduplicated)
        res = await result(store, clock, attempt)
        await store.enqueue_exam_pushes(pushes_for("submitted", attempt, exam, res), now)
        return Outcome("none", attempt, exam, res)
    if attempt.status != "open":
        return Outcome("none", attempt, exam)
    if exam.policy == "reset":
        ok = await store.reset_exam_attempt(attempt.id, now, pushes_for("reset", attempt, exam, None))
        return Outcome("reset" if ok else "none", attempt, exam)
    if exam.policy == "grace":
        until = now + timedelta(seconds=exam.grace_seconds)
        ok = await store.exam_attempt_to_grace(attempt.id, until, now, pushes_for("grace", attempt, exam, None))
        return Outcome("grace" if ok else "none", attempt, exam)
    async with store.atomic():  # the submit, its points and its notices commit together
        done = await store.submit_exam_attempt(attempt.id, now, timed_out=True)
        if done is None:
            return Outcome("none", attempt, exam)
        res = await result(store, clock, done)
        await store.enqueue_exam_pushes(pushes_for("submitted", done, exam, res), now)
    return Outcome("submitted", done, exam, res)


# -- countdown and reminders (the sweep) -------------------------------------------------------------
async def countdown(store: Store, clock: Clock, attempt_id: int, per_second: float
                    ) -> tuple[ExamAttempt, Exam] | None:
    """One countdown step of an open attempt: the next step is armed (every TICK_SECONDS, or less
    often when many attempts run, never within 5 s of the deadline); returns what the header shows
    now, or None when there is nothing to edit."""
    attempt = await store.get_exam_attempt(attempt_id)
    if attempt is None or attempt.status != "open":
        return None
    now = clock.now()
    following = now + timedelta(seconds=tick_interval(await store.live_exam_attempts(), per_second))
    if following < attempt.deadline - timedelta(seconds=5):
        await store.schedule_exam_tick(attempt.id, following)
    exam = await store.get_exam(attempt.exam_id)
    if exam is None or attempt.header_id is None:
        return None
    return attempt, exam


async def header_now(store: Store, attempt_id: int) -> tuple[ExamAttempt, Exam] | None:
    """The attempt and exam for a countdown edit about to be made (None: over meanwhile)."""
    attempt = await store.get_exam_attempt(attempt_id)
    if attempt is None or attempt.header_id is None or attempt.status != "open":
        return None
    exam = await store.get_exam(attempt.exam_id)
    return (attempt, exam) if exam is not None else None


Reminder = Callable[[ExamAttempt, Exam, int, datetime], dict[str, Any]]


async def remind(store: Store, clock: Clock, attempt_id: int, minutes: int, build: Reminder) -> bool:
    """The `minutes`-left reminder of an open attempt, through the outbox; a stale one (the bot was
    down, or the clock jumped) is skipped: "5 minutes left" would be wrong."""
    attempt = await store.get_exam_attempt(attempt_id)
    now = clock.now()
    if attempt is None or attempt.status != "open":
        return False
    if (attempt.deadline - now).total_seconds() < minutes * 60 - 30:
        return False
    exam = await store.get_exam(attempt.exam_id)
    if exam is None:
        return False
    await store.enqueue_exam_pushes([build(attempt, exam, minutes, now)], now)
    return True

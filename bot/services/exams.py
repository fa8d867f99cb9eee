"""Special exams (专题考试, LEARN-6): the rules, no aiogram and no SQL.

An admin creates an exam for their organisation's subtree and publishes it (now, or at a time: a
due row). A member of the subtree starts an attempt inside the open/close window; its deadline is
the start plus the time limit, never after the window closes. Answers are accepted while the
attempt is open and the server's clock is before the deadline, whatever the buttons show. At the
deadline the sweep applies the exam's policy: `reset` (the manual's rule: answers cleared, the
attempt does not count, start again), `submit` (scored as answered) or `grace` (a grace period in
which the attempt may only be submitted; unsubmitted at its end it is abandoned, as in Moodle).
Points for passing are paid once per exam and person (the ledger's idempotency key).
Every action re-checks the actor's role and scope when it runs (SEC-4).
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.errors import DomainError, NotAllowed
from bot.models import Org, Question
from bot.repositories.exams import (
    Exam,
    ExamAnswer,
    ExamAttempt,
    ExamConflict,
    ExamSettings,
    MyExam,
    Recipient,
    ResultRow,
)
from bot.services import exam_stats, points
from bot.services import quiz as grading
from bot.services.roles import Actor
from bot.store import Store

POLICIES = ("reset", "submit", "grace")
TITLE_LIMIT = 60
MAX_QUESTIONS = 100
MAX_POINTS = 100
TICK_SECONDS = 30          # the countdown is edited at most this often
EDIT_SHARE = 0.5           # countdown edits may use this share of the configured send rate
DEFAULT_GRACE = 120


class Stale(DomainError):
    """A press that does not fit the attempt as it is now (not yours, over, another attempt)."""


class NeedsConfirm(DomainError):
    """Submitting with unanswered questions: the person is asked first."""


# -- settings ----------------------------------------------------------------------------------
def check_settings(s: ExamSettings, questions: int) -> ExamSettings:
    """Bad input gets a specific message (the flow stays at its step)."""
    title = s.title.strip()
    if not title or len(title) > TITLE_LIMIT:
        raise DomainError("exams.bad_title", limit=TITLE_LIMIT)
    if questions <= 0:
        raise DomainError("exams.no_questions")
    if questions > MAX_QUESTIONS:
        raise DomainError("exams.too_many_questions", limit=MAX_QUESTIONS)
    if s.closes_at <= s.opens_at:
        raise DomainError("exams.bad_window")
    window = int((s.closes_at - s.opens_at).total_seconds())
    if s.time_limit <= 0:
        raise DomainError("exams.bad_time_limit")
    if s.time_limit > window:
        raise DomainError("exams.limit_longer_than_window", limit=s.time_limit // 60, window=window // 60)
    if not 0 < s.pass_mark <= questions:
        raise DomainError("exams.bad_pass_mark", most=questions)
    if s.max_attempts is not None and s.max_attempts <= 0:
        raise DomainError("exams.bad_attempts")
    if not 0 <= s.points <= MAX_POINTS:
        raise DomainError("exams.bad_points", most=MAX_POINTS)
    if s.policy not in POLICIES:
        raise DomainError("exams.bad_policy")
    grace = s.grace_seconds if s.policy == "grace" else 0
    if s.policy == "grace" and not 0 < grace <= 3600:
        raise DomainError("exams.bad_grace")
    return ExamSettings(title, s.time_limit, s.opens_at, s.closes_at, s.pass_mark, s.max_attempts, s.points,
                        s.policy, grace)


def parse_minutes(text: str, *, allow_zero: bool = False) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise DomainError("exams.not_a_number") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise DomainError("exams.bad_time_limit")
    return value


def parse_count(text: str, key: str = "exams.not_a_number", low: int = 0, high: int = 10_000) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise DomainError("exams.not_a_number") from None
    if not low <= value <= high:
        raise DomainError(key, low=low, high=high, most=high)
    return value


def parse_when(text: str, clock: Clock) -> datetime:
    """'2026-11-26 09:00' (or 11-26 09:00, or 09:00 today) in the configured time zone."""
    text = text.strip().replace("/", "-").replace("：", ":").replace("T", " ")
    now = clock.now()
    for fmt, fill in (("%Y-%m-%d %H:%M", None), ("%m-%d %H:%M", "year"), ("%H:%M", "day")):
        try:
            parsed = datetime.strptime(text, fmt)  # noqa: DTZ007 - the zone is attached below
        except ValueError:
            continue
        if fill == "year":
            parsed = parsed.replace(year=now.year)
        elif fill == "day":
            parsed = parsed.replace(year=now.year, month=now.month, day=now.day)
        return parsed.replace(tzinfo=clock.tz)
    raise DomainError("exams.bad_time")


def parse_window(text: str, clock: Clock) -> tuple[datetime, datetime]:
    """'<open> ~ <close>' or only '<close>' (opens now)."""
    for sep in ("~", "～", " - ", "至", "到", " to "):
        if sep in text:
            first, second = text.split(sep, 1)
            return parse_when(first, clock), parse_when(second, clock)
    return clock.now(), parse_when(text, clock)


# -- admins --------------------------------------------------------------------------------------
def admin_org_ids(actor: Actor) -> list[int]:
    return sorted(actor.admin_org_ids)


async def admin_orgs(store: Store, actor: Actor) -> list[Org]:
    """The organisations the actor may create exams for (their admin roles, checked now)."""
    return await store.orgs_by_ids(admin_org_ids(actor))


async def admin_exams(store: Store, actor: Actor) -> list[Exam]:
    if not actor.admin_org_ids:
        raise NotAllowed()
    return await store.exams_of_orgs(actor.admin_org_ids)


async def admin_exam(store: Store, actor: Actor, exam_id: int) -> Exam:
    exam = await store.get_exam(exam_id)
    if exam is None:
        raise Stale("exams.gone")
    actor.require_admin_of(exam.org_id)
    return exam


async def check_org(store: Store, actor: Actor, org_id: int) -> Org:
    actor.require_admin_of(org_id)
    org = await store.get_org(org_id)
    if org is None:
        raise Stale("exams.gone")
    return org


async def draw(store: Store, actor: Actor, org_id: int, count: int, tag: str | None) -> list[int]:
    await check_org(store, actor, org_id)
    if not 0 < count <= MAX_QUESTIONS:
        raise DomainError("exams.bad_count", most=MAX_QUESTIONS)
    ids = await store.exam_draw(org_id, count, (tag or "").strip() or None)
    if len(ids) < count:
        raise DomainError("exams.bank_too_small", have=len(ids), want=count)
    return ids


async def bank_page(store: Store, actor: Actor, org_id: int, offset: int, size: int) -> tuple[int, list[Question]]:
    await check_org(store, actor, org_id)
    return await store.exam_bank_page(org_id, size, max(offset, 0))


async def from_sheet(store: Store, clock: Clock, actor: Actor, org_id: int, data: bytes,
                     labels: Sequence[dict[str, str]]) -> tuple[list[int], int]:
    """An uploaded question sheet (the `/template questions` format): its rows enter the
    organisation's bank (the question import) and become the exam's questions, in file order.
    Returns (question ids, rows rejected)."""
    from bot.services import questions

    await check_org(store, actor, org_id)
    parsed = await questions.parse_file(data, labels)
    valid, rejected = questions.validate_rows(parsed.rows)
    if not valid:
        raise DomainError("exams.sheet_empty", rejected=len(rejected))
    await store.add_questions(actor.id, org_id, [q.store_row() for q in valid], clock.now().isoformat())
    ids = await store.question_ids_by_fingerprint(org_id, [q.fingerprint for q in valid])
    return ids, len(rejected)


async def create(store: Store, clock: Clock, actor: Actor, org_id: int, settings: ExamSettings,
                 question_ids: Sequence[int], exam_id: int | None = None) -> int:
    """A new exam (a draft until published), or the same exam edited while nobody has started it."""
    await check_org(store, actor, org_id)
    settings = check_settings(settings, len(question_ids))
    if exam_id is None:
        return await store.create_exam(org_id, settings, list(question_ids), actor.id, clock.now())
    exam = await admin_exam(store, actor, exam_id)
    try:
        await store.update_exam(exam.id, settings, list(question_ids), actor.id, clock.now())
    except ExamConflict:
        raise DomainError("exams.locked") from None
    return exam.id


async def check_editable(store: Store, actor: Actor, exam_id: int) -> Exam:
    exam = await admin_exam(store, actor, exam_id)
    if exam.started:
        raise DomainError("exams.locked")
    return exam


Notices = Callable[[Exam, list[Recipient]], list[dict[str, Any]]]


async def publish(store: Store, clock: Clock, actor: Actor, exam_id: int, at: datetime | None,
                  notices: Notices) -> Exam:
    """Now: the notices to the subtree are written in the publishing transaction; at a time: a due row."""
    exam = await admin_exam(store, actor, exam_id)
    if exam.questions == 0:
        raise DomainError("exams.no_questions")
    now = clock.now()
    if at is not None and at <= now:
        at = None
    if at is not None and at >= exam.closes_at:
        raise DomainError("exams.publish_after_close")
    pushes = notices(exam, await store.subtree_recipients(exam.org_id)) if at is None else []
    if not await store.publish_exam(exam.id, at, pushes, actor.id, now):
        raise DomainError("exams.already_published")
    refreshed = await store.get_exam(exam.id)
    assert refreshed is not None
    return refreshed


async def publish_due(store: Store, exam_id: int, now: datetime, notices: Notices) -> bool:
    exam = await store.get_exam(exam_id)
    if exam is None or exam.status != "scheduled":
        return False
    return await store.publish_due_exam(exam_id, notices(exam, await store.subtree_recipients(exam.org_id)), now)


# -- members -------------------------------------------------------------------------------------
async def my_exams(store: Store, actor: Actor) -> list[MyExam]:
    actor.require_registered()
    return await store.exams_for_phone(actor.id, actor.user.phone or "")


async def visible_exam(store: Store, actor: Actor, exam_id: int) -> Exam:
    """SEC-4 on every press: the exam is published and the actor is in its subtree (or its admin)."""
    actor.require_registered()
    exam = await store.get_exam(exam_id)
    if exam is None:
        raise Stale("exams.gone")
    if exam.org_id in actor.admin_org_ids:
        return exam
    if exam.status != "published" or not await store.phone_sees_org(actor.user.phone or "", exam.org_id):
        raise NotAllowed("exams.not_in_scope")
    return exam


def window_state(exam: Exam, now: datetime) -> str:
    if now < exam.opens_at:
        return "upcoming"
    if now >= exam.closes_at:
        return "closed"
    return "open"


@dataclass(frozen=True)
class Rules:
    exam: Exam
    used: int
    live: ExamAttempt | None


async def rules(store: Store, clock: Clock, actor: Actor, exam_id: int) -> Rules:
    """What the person confirms before starting; refuses outside the window or with no attempt left."""
    exam = await visible_exam(store, actor, exam_id)
    attempts = await store.user_exam_attempts(exam.id, actor.id)
    live = next((a for a in attempts if a.status in ("open", "grace")), None)
    used = sum(1 for a in attempts if a.status == "submitted")
    if live is None:
        _check_startable(exam, clock.now(), used)
    return Rules(exam, used, live)


def _check_startable(exam: Exam, now: datetime, used: int) -> None:
    state = window_state(exam, now)
    if state == "upcoming":
        raise DomainError("exams.not_open_yet", at=exam.opens_at.astimezone(now.tzinfo).strftime("%m-%d %H:%M"))
    if state == "closed":
        raise DomainError("exams.closed")
    if exam.max_attempts is not None and used >= exam.max_attempts:
        raise DomainError("exams.no_attempts_left", allowed=exam.max_attempts)


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
        _check_startable(exam, now, used)
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
        # a run interrupted after the submit: the points (idempotent) and the pushes (deduplicated) again
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
    done = await store.submit_exam_attempt(attempt.id, now, timed_out=True)
    if done is None:
        return Outcome("none", attempt, exam)
    res = await result(store, clock, done)
    await store.enqueue_exam_pushes(pushes_for("submitted", done, exam, res), now)
    return Outcome("submitted", done, exam, res)


# -- results for admins ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    exam: Exam
    rows: list[ResultRow]
    passed: list[ResultRow]
    failed: list[ResultRow]
    not_started: list[ResultRow]
    average: float | None
    bands: list[tuple[int, int, int]]
    stats: exam_stats.ExamStats
    questions: list[Question]


async def report(store: Store, actor: Actor, exam_id: int) -> Report:
    exam = await admin_exam(store, actor, exam_id)
    rows = await store.exam_result_rows(exam.id, exam.org_id)
    scored = [r for r in rows if r.best is not None]
    passed = [r for r in scored if (r.best or 0) >= exam.pass_mark]
    failed = [r for r in scored if (r.best or 0) < exam.pass_mark]
    not_started = [r for r in rows if r.best is None]
    best = [r.best or 0 for r in scored]
    average = statistics.fmean(best) if best else None
    matrix = await store.first_attempt_matrix(exam.id)
    stats = exam_stats.analyse(matrix, exam.questions)
    return Report(exam, rows, passed, failed, not_started, average, exam_stats.distribution(best, exam.questions),
                  stats, await store.exam_questions(exam.id))


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

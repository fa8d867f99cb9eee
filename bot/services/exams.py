"""Special exams (专题考试, LEARN-6): the exam's rules, no aiogram and no SQL. Taking one (attempts,
answers, the deadline's policy, countdown and reminders): services/exam_attempts.py.

An admin creates an exam for their organisation's subtree and publishes it (now, or at a time: a
due row). A member of the subtree may start it inside the open/close window while attempts are
left. At an attempt's deadline the exam's policy applies: `reset` (the manual's rule: answers
cleared, the attempt does not count, start again), `submit` (scored as answered) or `grace` (a grace
period in which the attempt may only be submitted; unsubmitted at its end it is abandoned, as in
Moodle). Every action re-checks the actor's role and scope when it runs (SEC-4).
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.errors import DomainError, NotAllowed
from bot.models import Org, Question
from bot.repositories.exams import (
    Exam,
    ExamAttempt,
    ExamConflict,
    ExamSettings,
    MyExam,
    Recipient,
    ResultRow,
)
from bot.services import exam_stats, questions
from bot.services.roles import Actor
from bot.services.text import clean_text, fitted
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
def clean_title(raw: str | None) -> str:
    return fitted(clean_text(raw), TITLE_LIMIT, "exams.empty_title", "exams.bad_title")


def check_settings(s: ExamSettings, questions: int) -> ExamSettings:
    """Bad input gets a specific message (the flow stays at its step)."""
    title = clean_title(s.title)
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


async def check_questions(store: Store, actor: Actor, org_id: int, question_ids: Sequence[int]) -> None:
    """SEC-4: every id (from a press or a saved draft) names a question in use that the organisation's
    exams may draw on (exam_bank_page); a forged, foreign or deleted id is refused by name."""
    await check_org(store, actor, org_id)
    allowed = await store.exam_bank_ids(org_id, question_ids)
    if any(not isinstance(q, int) or q not in allowed for q in question_ids):
        raise DomainError("exams.question_unavailable")


async def from_sheet(store: Store, clock: Clock, actor: Actor, org_id: int, data: bytes,
                     labels: Sequence[dict[str, str]]) -> tuple[list[int], int]:
    """An uploaded question sheet (the `/template questions` format): its rows enter the
    organisation's bank (the question import) and become the exam's questions, in file order.
    Returns (question ids, rows rejected)."""
    await check_org(store, actor, org_id)
    parsed = await questions.parse_file(data, labels)
    valid, rejected = questions.validate_rows(parsed.rows)
    if not valid:
        raise DomainError("exams.sheet_empty", rejected=len(rejected))
    await store.add_questions(actor.id, org_id, [q.store_row() for q in valid], clock.now().isoformat())
    found = await store.question_ids_by_fingerprint(org_id, [q.fingerprint for q in valid])
    usable = await store.exam_bank_ids(org_id, found)  # a row matching a retired question is not drawn
    ids = [q for q in found if q in usable]
    return ids, len(rejected) + len(valid) - len(ids)


async def create(store: Store, clock: Clock, actor: Actor, org_id: int, settings: ExamSettings,
                 question_ids: Sequence[int], exam_id: int | None = None) -> int:
    """A new exam (a draft until published), or the same exam edited while nobody has started it."""
    await check_org(store, actor, org_id)
    settings = check_settings(settings, len(question_ids))
    if len(set(question_ids)) != len(question_ids):
        raise DomainError("exams.question_twice")
    exam = await admin_exam(store, actor, exam_id) if exam_id is not None else None
    if exam is not None and exam.org_id != org_id:
        raise NotAllowed()  # an exam stays with its organisation; its questions are checked against that one
    await check_questions(store, actor, org_id, question_ids)
    if exam is None:
        return await store.create_exam(org_id, settings, list(question_ids), actor.id, clock.now())
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
        check_startable(exam, clock.now(), used)
    return Rules(exam, used, live)


def check_startable(exam: Exam, now: datetime, used: int) -> None:
    state = window_state(exam, now)
    if state == "upcoming":
        raise DomainError("exams.not_open_yet", at=exam.opens_at.astimezone(now.tzinfo).strftime("%m-%d %H:%M"))
    if state == "closed":
        raise DomainError("exams.closed")
    if exam.max_attempts is not None and used >= exam.max_attempts:
        raise DomainError("exams.no_attempts_left", allowed=exam.max_attempts)


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

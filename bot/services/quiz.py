"""Daily, weekly and challenge quizzes (LEARN-2, 3 and the 挑战答题): drawing, grading, attempts,
submit and fair play.

Fair play: every press names (attempt, position, option) and is accepted only when the attempt
belongs to the presser, is open, and that position is the question shown to them now; anything
else is `Stale` (a short note, nothing written). An answer given under FAST_MS after the question
was shown is flagged in the record. Points go through the ledger with a key derived from the
attempt (weekly: from the user and the week), so a double submit pays once.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from bot.clock import Clock
from bot.errors import DomainError
from bot.models import Question
from bot.repositories.due import DueItem
from bot.services import points, questions
from bot.services.roles import Actor
from bot.store import AttemptHead, Conflict, QuizItem, Store

DAILY_SIZE = 5          # LEARN-2: questions in a daily round
WEEKLY_SIZE = 10        # LEARN-3: questions in a weekly set
CHALLENGE_SIZE = 30     # the most questions a challenge can run to
CHALLENGE_SECONDS = 45  # per challenge question; an unanswered one counts as wrong
FAST_MS = 1000          # an answer sooner than this after the question appeared is flagged
LETTERS = "ABCDEFGHIJ"
JUDGE = ("T", "F")
LEAVE_WRONGBOOK_AFTER = 2  # LEARN-5: right answers in a row that take a question out of the notebook


class Stale(DomainError):
    """A press that does not fit the attempt as it is now (not yours, over, moved on, forged)."""


@dataclass(frozen=True)
class Shown:
    """The question to show now; `note` names a line above it (practice, right, resumed, …)."""
    head: AttemptHead
    item: QuizItem
    note: str | None = None
    streak: int = 0


@dataclass(frozen=True)
class Result:
    """A finished attempt: its items with answers, the points asked for and those the ledger paid."""
    head: AttemptHead
    items: list[QuizItem]
    asked: int
    paid: int
    seconds: int
    timed_out: bool = False


@dataclass(frozen=True)
class Unanswered:
    """Submit pressed with questions still unanswered: the person confirms first (or goes back)."""
    head: AttemptHead
    missing: int
    first: int  # the position of the first unanswered question


# -- grading -----------------------------------------------------------------------------------
def normalise(text: str) -> str:
    """Blanks are compared after folding width (NFKC), case and all whitespace (LEARN-1)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def grade(question: Question, given: list[str] | tuple[str, ...]) -> bool:
    """Choices by their letters; blanks after normalising, a unit the stem prints right after the
    blank (（ ）分) allowed in the answer (5分) (LEARN-1)."""
    if question.kind != "blank":
        return sorted(given) == sorted(question.answer)
    if len(given) != len(question.answer):
        return False
    units = [questions.blank_units(t.stem) for t in question.texts.values()]
    return all(questions.blank_matches(accepted, g, [u[n] for u in units if n < len(u)])
               for n, (g, accepted) in enumerate(zip(given, question.answer)))


def split_blanks(text: str, blanks: int) -> list[str]:
    """One typed message holds every blank: separated by new lines or ; (also ；|), else by commas."""
    text = unicodedata.normalize("NFKC", text).strip()
    if blanks <= 1:
        return [text]
    for pattern in (r"[\n;|]+", r"[\n;|,、]+", r"\s+"):
        parts = [p.strip() for p in re.split(pattern, text) if p.strip()]
        if len(parts) == blanks:
            return parts
    raise DomainError("quiz.blank_count", blanks=blanks)


def options_of(question: Question) -> int:
    return 2 if question.kind == "judge" else len(question.texts["zh"].options)


def week_period(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _elapsed_ms(since: str | None, now: datetime) -> int:
    if since is None:
        return 10 ** 9
    return int((now - datetime.fromisoformat(since)).total_seconds() * 1000)


def _check(head: AttemptHead | None, actor: Actor, position: int | None) -> AttemptHead:
    if head is None or head.user_id != actor.id:
        raise Stale("quiz.not_yours")
    if head.status != "open":
        raise Stale("quiz.closed")
    if position is not None and head.position != position:
        raise Stale("quiz.moved_on")
    return head


def timed_out(head: AttemptHead, now: datetime) -> bool:
    return head.kind == "challenge" and _elapsed_ms(head.shown_at, now) > CHALLENGE_SECONDS * 1000


# -- starting and resuming -----------------------------------------------------------------------
async def show(store: Store, attempt_id: int, note: str | None = None) -> Shown:
    head, items = await store.quiz_view(attempt_id)
    assert head is not None
    return Shown(head, items[head.position], note, streak=head.position if head.kind == "challenge" else 0)


async def _resume(store: Store, clock: Clock, head: AttemptHead, note: str | None = "resumed") -> Shown:
    """Shown again from now: the reading time of a fast answer counts from this moment."""
    await store.move_attempt(head.id, head.position, head.position, clock.now().isoformat())
    return await show(store, head.id, note)


async def start_daily(store: Store, clock: Clock, actor: Actor) -> Shown:
    actor.require_registered()
    today = clock.today().isoformat()
    head = await store.open_attempt(actor.id, "daily")
    if head is not None:
        if head.started_at[:10] == today:
            return await _resume(store, clock, head)
        await store.expire_attempt(head.id)
    ids = await store.draw_for_user(actor.id, actor.user.phone, DAILY_SIZE)
    if not ids:
        raise DomainError("quiz.empty_bank")
    attempt_id = await store.create_attempt(actor.id, "daily", today, ids, clock.now().isoformat())
    return await show(store, attempt_id)


async def weekly_set(store: Store, clock: Clock, actor: Actor) -> tuple[str, int, list[int]]:
    """This week's set for the actor; the global one is drawn now when nobody published one."""
    period = week_period(clock.today())
    found = await store.weekly_set_for(period, actor.user.phone)
    if found is None:
        await draw_weekly(store, clock)
        found = await store.weekly_set_for(period, actor.user.phone)
    if found is None:
        raise DomainError("quiz.empty_bank")
    return period, found[0], found[1]


async def start_weekly(store: Store, clock: Clock, actor: Actor) -> Shown:
    """One scored attempt per user and week (a unique index); later rounds are practice."""
    actor.require_registered()
    period, scope, ids = await weekly_set(store, clock, actor)
    head = await store.open_attempt(actor.id, "weekly")
    if head is not None:
        if head.period == period:
            return await _resume(store, clock, head)
        await store.expire_attempt(head.id)
    now, today = clock.now().isoformat(), clock.today().isoformat()
    if await store.scored_weekly(actor.id, period) is None:
        try:
            attempt_id = await store.create_attempt(actor.id, "weekly", today, ids, now, period=period, scope=scope)
            return await show(store, attempt_id, "weekly_once")  # said before the first question
        except Conflict:
            pass
    attempt_id = await store.create_attempt(actor.id, "weekly", today, ids, now, period=period, scope=scope,
                                            scored=False, mark_seen=False)
    return await show(store, attempt_id, "practice")


async def start_challenge(store: Store, clock: Clock, actor: Actor) -> Shown:
    actor.require_registered()
    head = await store.open_attempt(actor.id, "challenge")
    if head is not None:
        if not timed_out(head, clock.now()):
            return await show(store, head.id, "resumed")
        await _finish(store, clock, head, keep_through=head.position, timed_out=True)
    ids = await store.draw_for_user(actor.id, actor.user.phone, CHALLENGE_SIZE)
    if not ids:
        raise DomainError("quiz.empty_bank")
    attempt_id = await store.create_attempt(actor.id, "challenge", clock.today().isoformat(), ids,
                                            clock.now().isoformat(), mark_seen=False)
    return await show(store, attempt_id)


async def start_practice(store: Store, clock: Clock, actor: Actor, question_ids: list[int]) -> Shown:
    """A wrong-book round (LEARN-5): no points; right and wrong answers move the notebook."""
    head = await store.open_attempt(actor.id, "practice")
    if head is not None:
        return await _resume(store, clock, head)
    attempt_id = await store.create_attempt(actor.id, "practice", clock.today().isoformat(), question_ids,
                                            clock.now().isoformat(), mark_seen=False)
    return await show(store, attempt_id)


# -- answering -------------------------------------------------------------------------------------
async def choose(store: Store, clock: Clock, actor: Actor, attempt_id: int, position: int,
                 option: int) -> Shown | Result:
    """An option button: single choice and true/false answer (and move on), multiple choice toggles."""
    head, items = await store.quiz_view(attempt_id, (position, position + 1))
    head = _check(head, actor, position)
    item = items[position]
    question = item.question
    if question.kind == "blank" or not 0 <= option < options_of(question):
        raise Stale("quiz.bad_option")
    now = clock.now()
    if timed_out(head, now):
        return await _finish(store, clock, head, keep_through=position, timed_out=True)
    if question.kind == "multiple":
        given = sorted(set(item.answer or ()) ^ {LETTERS[option]})
        return await _record(store, clock, head, item, given, now, advance=False, nxt=None)
    given = [JUDGE[option] if question.kind == "judge" else LETTERS[option]]
    return await _record(store, clock, head, item, given, now, advance=True, nxt=items.get(position + 1))


async def confirm(store: Store, clock: Clock, actor: Actor, attempt_id: int, position: int) -> Shown | Result:
    """Multiple choice: the toggled letters are the answer (in a challenge they are graded now)."""
    head, items = await store.quiz_view(attempt_id, (position, position + 1))
    head = _check(head, actor, position)
    item = items[position]
    if not item.answer:
        raise Stale("quiz.choose_first")
    now = clock.now()
    if timed_out(head, now):
        return await _finish(store, clock, head, keep_through=position, timed_out=True)
    return await _record(store, clock, head, item, list(item.answer), now, advance=True, nxt=items.get(position + 1))


async def type_answer(store: Store, clock: Clock, actor: Actor, attempt_id: int, position: int,
                      text: str) -> Shown | Result:
    head, items = await store.quiz_view(attempt_id, (position, position + 1))
    head = _check(head, actor, position)
    item = items[position]
    if item.question.kind != "blank":
        raise Stale("quiz.moved_on")
    now = clock.now()
    if timed_out(head, now):
        return await _finish(store, clock, head, keep_through=position, timed_out=True)
    given = split_blanks(text, item.question.blanks)
    if any(len(g) > 200 for g in given):
        raise DomainError("quiz.blank_too_long")
    return await _record(store, clock, head, item, given, now, advance=True, nxt=items.get(position + 1))


async def _record(store: Store, clock: Clock, head: AttemptHead, item: QuizItem, given: list[str],
                  now: datetime, *, advance: bool, nxt: QuizItem | None) -> Shown | Result:
    """One small write: the answer, and (when moving on) the next position with its shown time."""
    correct = grade(item.question, given)
    first = item.answered_at is None
    ms = _elapsed_ms(head.shown_at, now)
    fast = first and ms < FAST_MS
    challenge = head.kind == "challenge"
    ends = challenge and advance and (not correct or nxt is None)
    following = nxt if advance and not ends else None  # the question shown next, if it moves on
    move_on = following is not None
    to = following.position if following is not None else head.position
    if not await store.record_answer(head.id, head.position, given, correct, ms if first else None, fast,
                                     now.isoformat(), to_position=to,
                                     shown_at=now.isoformat() if move_on else head.shown_at):
        raise Stale("quiz.moved_on")
    if ends:
        return await _finish(store, clock, head, keep_through=head.position)
    answered = replace(item, answer=tuple(given), correct=correct, answered_at=now.isoformat())
    if following is not None:
        moved = replace(head, position=to, shown_at=now.isoformat(), flagged=head.flagged or fast)
        return Shown(moved, following, "right" if challenge else None, streak=to if challenge else 0)
    note = "last" if advance and not challenge else None
    return Shown(replace(head, flagged=head.flagged or fast), answered, note,
                 streak=head.position if challenge else 0)


async def move(store: Store, clock: Clock, actor: Actor, attempt_id: int, position: int, forward: bool) -> Shown:
    """Previous / next question before submit (not in a challenge)."""
    to = position + (1 if forward else -1)
    head, items = await store.quiz_view(attempt_id, (to,))
    head = _check(head, actor, position)
    if head.kind == "challenge" or to not in items:
        raise Stale("quiz.bad_option")
    now = clock.now().isoformat()
    if not await store.move_attempt(attempt_id, position, to, now):
        raise Stale("quiz.moved_on")
    return Shown(replace(head, position=to, shown_at=now), items[to])


# -- submitting ------------------------------------------------------------------------------------
async def _unanswered(store: Store, head: AttemptHead) -> list[int]:
    _head, items = await store.quiz_view(head.id, tuple(range(head.total)))
    return [p for p, item in sorted(items.items()) if not item.answer]


async def submit(store: Store, clock: Clock, actor: Actor, attempt_id: int, *,
                 force: bool = False) -> Result | Unanswered:
    """Closes and pays the round; with questions unanswered it asks first (Unanswered) unless `force`."""
    head = await store.get_attempt(attempt_id)
    if head is not None and head.user_id == actor.id and head.status == "submitted" and head.points is None:
        return await _settle(store, clock, head)  # closed but not yet paid (a crash in between): pay now
    head = _check(head, actor, None)
    if head.kind == "challenge":
        raise Stale("quiz.bad_option")
    if not force and (missing := await _unanswered(store, head)):
        return Unanswered(head, len(missing), missing[0])
    return await _finish(store, clock, head)


async def shown_again(store: Store, clock: Clock, actor: Actor, attempt_id: int) -> Shown | Result | None:
    """Where the owner's round is now, for a press handled again after a crash between its commit and
    its reply (the person still sees the question before it): the question the round is on (shown
    from now: they had not seen it), or the result of a round closed and paid already, as its submit
    showed it (None: not their round, or a round closed unpaid)."""
    head = await store.get_attempt(attempt_id)
    if head is None or head.user_id != actor.id:
        return None
    if head.status == "open":  # (one past its time limit: the sweep ends it and tells them)
        return None if timed_out(head, clock.now()) else await _resume(store, clock, head, note=None)
    if head.status != "submitted" or head.points is None:
        return None
    terms = _award_terms(head)
    items = await store.attempt_items(head.id)
    end = datetime.fromisoformat(head.submitted_at) if head.submitted_at else clock.now()
    seconds = max(0, int((end - datetime.fromisoformat(head.started_at)).total_seconds()))
    return Result(head, items, terms[1] if terms else 0, head.points, seconds)


async def to_unanswered(store: Store, clock: Clock, actor: Actor, attempt_id: int, position: int) -> Shown:
    """From the submit question back to the first unanswered question (the shown one if none is left)."""
    head, _items = await store.quiz_view(attempt_id)
    head = _check(head, actor, position)
    if head.kind == "challenge":
        raise Stale("quiz.bad_option")
    missing = await _unanswered(store, head)
    to = missing[0] if missing else position
    now = clock.now().isoformat()
    if not await store.move_attempt(attempt_id, position, to, now):
        raise Stale("quiz.moved_on")
    return await show(store, attempt_id)


async def leave(store: Store, clock: Clock, actor: Actor) -> AttemptHead | None:
    """/cancel during a quiz: the round shown last is closed as left unfinished (status 'expired',
    its answers kept, no points, the notebook unchanged); it stays in the records as such. A scored
    weekly round left this way is the week's one attempt. None when no round is open."""
    head = await store.latest_open_attempt(actor.id)
    if head is None or not await store.leave_attempt(head.id, clock.now().isoformat()):
        return None
    return head


async def remember_message(store: Store, head: AttemptHead, message_id: int) -> None:
    """A challenge question sent as a new message: its id, so the sweep can take its buttons away at
    the time-out (an edit in place keeps the id; the answer path writes nothing for it)."""
    if head.kind == "challenge" and head.message_id != message_id:
        await store.set_attempt_message(head.id, message_id)


async def _finish(store: Store, clock: Clock, head: AttemptHead, *, keep_through: int | None = None,
                  timed_out: bool = False) -> Result:
    if not await store.close_attempt(head.id, clock.now().isoformat(), leave_wrongbook_after=LEAVE_WRONGBOOK_AFTER,
                                     keep_through=keep_through, timed_out=timed_out):
        raise Stale("quiz.closed")
    closed = await store.get_attempt(head.id)
    assert closed is not None
    return await _settle(store, clock, closed, timed_out=timed_out)


def _award_terms(head: AttemptHead) -> tuple[str, int, str] | None:
    """(source, points asked for, idempotency key) or None when the round earns nothing."""
    correct = head.correct or 0
    if head.kind == "daily":
        return points.DAILY, points.quiz_points(points.DAILY, correct), f"attempt:{head.id}"
    if head.kind == "weekly" and head.scored:
        return points.WEEKLY, points.quiz_points(points.WEEKLY, correct), f"{head.user_id}:{head.period}"
    if head.kind == "challenge":
        return points.CHALLENGE, points.quiz_points(points.CHALLENGE, correct), f"attempt:{head.id}"
    return None


async def _settle(store: Store, clock: Clock, head: AttemptHead, *, timed_out: bool = False) -> Result:
    terms = _award_terms(head)
    asked = paid = 0
    if terms is not None:
        source, asked, key = terms
        if asked > 0:
            paid = await points.award(store, clock, head.user_id, source, asked, ref=f"attempt:{head.id}",
                                      idem_key=key)
    await store.set_attempt_points(head.id, paid)
    items = await store.attempt_items(head.id)
    end = datetime.fromisoformat(head.submitted_at) if head.submitted_at else clock.now()
    seconds = max(0, int((end - datetime.fromisoformat(head.started_at)).total_seconds()))
    return Result(replace(head, points=paid), items, asked, paid, seconds, timed_out)


# -- scheduled jobs and publishing ---------------------------------------------------------------
async def draw_weekly(store: Store, clock: Clock) -> bool:
    """The Monday 00:00 job (and the lazy fallback): the global set of this ISO week, unless drawn."""
    ids = await store.draw_for_scope(0, WEEKLY_SIZE)
    if not ids:
        return False
    return await store.ensure_weekly_set(week_period(clock.today()), 0, ids, clock.now().isoformat())


async def publish_weekly(store: Store, clock: Clock, actor: Actor, scope: int) -> int:
    """An admin publishes this week's set for their organisation (scope = its id), the operator the
    global one (scope 0). Returns the number of questions."""
    if scope == 0:
        actor.require_operator()
    else:
        actor.require_admin_of(scope)
    ids = await store.draw_for_scope(scope, WEEKLY_SIZE)
    if not ids:
        raise DomainError("quiz.empty_bank")
    try:
        await store.publish_weekly_set(week_period(clock.today()), scope, ids, actor.id, clock.now().isoformat(),
                                       scope or None)
    except Conflict:
        raise DomainError("quiz.weekly_taken") from None
    return len(ids)


AfterCommit = Callable[[], Awaitable[None]]
# tells the person (bot/flows/quiz.py, wired in bot/app.py): enqueues the push inside the transaction
# that ends the challenge, and returns what to do once it committed (a Bot API call), if anything
TimeoutNotice = Callable[[Result], Awaitable[AfterCommit | None]]


async def expire_challenges(store: Store, clock: Clock, on_timeout: TimeoutNotice | None = None) -> int:
    """The periodic job: challenges whose question waited past the limit end (counted wrong) and pay;
    `on_timeout` tells each person (time's up, the right answer, streak and points): its push is
    written in the transaction that ends the challenge, so the two commit together."""
    cutoff = clock.now().timestamp() - CHALLENGE_SECONDS
    done = 0
    for head in await store.stale_challenges(datetime.fromtimestamp(cutoff, clock.tz).isoformat()):
        after: AfterCommit | None = None
        try:
            async with store.atomic():
                result = await _finish(store, clock, head, keep_through=head.position, timed_out=True)
                if on_timeout is not None:
                    after = await on_timeout(result)
        except Stale:
            continue
        done += 1
        if after is not None:
            await after()
    return done


# due work (bot/scheduler.py's Sweeper runs these rows; the composition root registers the handlers)
WEEKLY_DRAW = "weekly_draw"        # one row, ref "global": the next Monday 00:00 in the configured zone
CHALLENGE_SCAN = "challenge_scan"  # one row, ref "all": re-armed every CHALLENGE_SCAN_SECONDS
CHALLENGE_SCAN_SECONDS = 10


def next_monday(now: datetime, tz: tzinfo) -> datetime:
    """00:00 of the first Monday strictly after `now`, in the zone `tz`."""
    local = now.astimezone(tz)
    days = 7 - local.weekday()  # Monday (0) -> next week's Monday
    return datetime.combine(local.date() + timedelta(days=days), time(0, 0), tz)


async def arm_due_work(store: Store, clock: Clock) -> None:
    """At start: the weekly draw and the challenge scan are armed unless pending already (a time that
    fell due while the bot was down is kept, so the first sweep runs it)."""
    now = clock.now()
    await store.ensure_due(WEEKLY_DRAW, "global", next_monday(now, clock.tz))
    await store.ensure_due(CHALLENGE_SCAN, "all", now)


def due_handlers(store: Store, clock: Clock, on_timeout: TimeoutNotice | None = None
                 ) -> dict[str, Callable[[DueItem, datetime], Awaitable[None]]]:
    """The weekly set drawn on Monday 00:00 in the configured zone (LEARN-3), and challenges past their
    time limit closed, paid and told (`on_timeout`). Both read the database, so running one twice
    changes nothing."""

    async def weekly(item: DueItem, now: datetime) -> None:
        await draw_weekly(store, clock)
        await store.put_due_now(WEEKLY_DRAW, item.ref, next_monday(now, clock.tz))

    async def challenges(item: DueItem, now: datetime) -> None:
        await expire_challenges(store, clock, on_timeout)
        await store.put_due_now(CHALLENGE_SCAN, item.ref, now + timedelta(seconds=CHALLENGE_SCAN_SECONDS))

    return {WEEKLY_DRAW: weekly, CHALLENGE_SCAN: challenges}

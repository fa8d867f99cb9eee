"""The points ledger's rules (LEARN-7), all in one place: sources, per-point values and daily caps.

Every award names its source, day and reference and carries an idempotency key that the store
keeps unique, so a double click or a retried update never pays twice.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.errors import DomainError
from bot.services.roles import Actor
from bot.services.text import clean_text
from bot.store import Store

LOGIN, DAILY, WEEKLY, CHALLENGE, EXAM, ACTIVITY, ADJUST, PENALTY = (
    "login", "daily", "weekly", "challenge", "exam", "activity", "adjust", "penalty")


@dataclass(frozen=True)
class Rule:
    per_correct: int = 1        # points for each correct answer (quizzes)
    daily_cap: int | None = None  # the most this source pays a user in one day
    best_of_day: bool = False     # the day's points are the best result, not the sum


RULES: dict[str, Rule] = {
    LOGIN: Rule(daily_cap=1),
    DAILY: Rule(per_correct=1, daily_cap=5),
    WEEKLY: Rule(per_correct=1),
    CHALLENGE: Rule(daily_cap=6, best_of_day=True),
    EXAM: Rule(),
    ACTIVITY: Rule(),
    ADJUST: Rule(),
    PENALTY: Rule(),
}

# Challenge quiz (挑战答题): a streak of this many correct answers earns these points.
CHALLENGE_STEPS: list[tuple[int, int]] = [(10, 6), (5, 3)]
ADJUST_LIMIT = 1000
REASON_MAX = 200  # characters of an adjustment's reason (stored, audit-logged, shown back)


def challenge_points(streak: int) -> int:
    for needed, points in CHALLENGE_STEPS:
        if streak >= needed:
            return points
    return 0


def quiz_points(source: str, correct: int) -> int:
    """What a quiz round of `correct` right answers asks for, before the daily cap."""
    if source == CHALLENGE:
        return challenge_points(correct)
    return RULES[source].per_correct * correct


async def award(store: Store, clock: Clock, user_id: int, source: str, amount: int, *, ref: str,
                idem_key: str, reason: str | None = None) -> int:
    """Pays `amount` within the source's daily cap; returns what was paid (0 if capped or paid before)."""
    rule = RULES[source]
    paid = await store.award_points(user_id, source, clock.today().isoformat(), amount, cap=rule.daily_cap,
                                    best_of_day=rule.best_of_day, ref=ref, reason=reason,
                                    idem_key=f"{source}:{idem_key}", now=clock.now().isoformat())
    return paid or 0


async def daily_login(store: Store, clock: Clock, user_id: int) -> int:
    day = clock.today().isoformat()
    return await award(store, clock, user_id, LOGIN, 1, ref=day, idem_key=f"{user_id}:{day}")


async def adjust(store: Store, clock: Clock, actor: Actor, org_id: int, user_id: int, amount: int,
                 reason: str, idem_key: str) -> int:
    """An admin's adjustment (positive) or penalty (negative), with a reason, audit-logged."""
    actor.require_admin_of(org_id)
    user = await store.get_user(user_id)
    if user is None or not user.phone or await store.membership_in(org_id, user.phone) is None:
        raise DomainError("points.not_member")
    reason = clean_text(reason)
    if not reason:
        raise DomainError("points.reason_required")
    if len(reason) > REASON_MAX:
        raise DomainError("points_reason.too_long", limit=REASON_MAX)
    if amount == 0 or abs(amount) > ADJUST_LIMIT:
        raise DomainError("points.bad_amount", limit=ADJUST_LIMIT)
    source = ADJUST if amount > 0 else PENALTY
    day = clock.today().isoformat()
    paid = await store.award_points(user_id, source, day, amount, cap=None, best_of_day=False, ref=f"org:{org_id}",
                                    reason=reason, idem_key=f"{source}:{idem_key}", now=clock.now().isoformat(),
                                    actor_id=actor.id, org_id=org_id)
    return paid or 0

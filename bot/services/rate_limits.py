"""Per-person limits on the actions that notify other people, in one place.

A correspondent's manuscript notifies the organisation's admins, a task notice every member it
targets, a certification application the upper organisation's admins, a manual reminder every
pending member. Each action has limits "at most `count` in `window`", counted from the rows the
actions wrote (bot/repositories/rate_limits.py), so they hold across restarts and processes, by the
injected clock. (Join requests and applications to rename are one pending at a time; REP-8's nudge
once a day: their own rules.) A refusal says when the person may try again.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.errors import DomainError
from bot.services.roles import Actor
from bot.store import Store

MANUSCRIPT, TASK, CERT_APPLICATION, TASK_REMIND = "manuscript", "task", "cert_application", "task_remind"


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    window: timedelta

    @property
    def hours(self) -> int:
        return max(1, round(self.window.total_seconds() / 3600))


HOUR, DAY = timedelta(hours=1), timedelta(days=1)
LIMITS: dict[str, tuple[Limit, ...]] = {
    MANUSCRIPT: (Limit(5, HOUR), Limit(20, DAY)),
    TASK: (Limit(10, HOUR), Limit(40, DAY)),
    CERT_APPLICATION: (Limit(5, DAY),),
    TASK_REMIND: (Limit(10, HOUR), Limit(40, DAY)),
}


async def check(store: Store, clock: Clock, actor: Actor, action: str) -> None:
    """Raises DomainError("limit.<action>", count, hours, at) when the actor reached a limit of the
    action; `at` is the local time from which one more is allowed."""
    limits = LIMITS[action]
    latest = await _latest(store, actor, action)(max(limit.count for limit in limits))
    now = clock.now()
    times = sorted((datetime.fromisoformat(t) for t in latest), reverse=True)
    for limit in limits:
        if len(times) >= limit.count and (free := times[limit.count - 1] + limit.window) > now:
            raise DomainError(f"limit.{action}", count=limit.count, hours=limit.hours, at=_when(clock, free))


def _latest(store: Store, actor: Actor, action: str) -> Callable[[int], Awaitable[list[str]]]:
    if action == TASK_REMIND:
        return lambda n: store.latest_reminders(actor.id, actor.admin_org_ids, n)
    return lambda n: store.latest_actions(action, actor.id, n)


def _when(clock: Clock, at: datetime) -> str:
    """The time to try again, in the bot's time zone: with the date when it is not today."""
    if at.second or at.microsecond:  # rounded up: at the minute shown, it is allowed
        at = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    local = at.astimezone(clock.now().tzinfo)
    return local.strftime("%H:%M" if local.date() == clock.today() else "%m-%d %H:%M")

"""A learner's own views: answer records (LEARN-4), learning report and rank (LEARN-8).

Everything here reads; every view is of the actor's own data, checked when it runs (SEC-4):
an attempt id from a button is served only to the person who made the attempt, a rank only
to a member of that organisation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bot.clock import Clock
from bot.errors import DomainError
from bot.models import Question
from bot.repositories.learner import AttemptRow
from bot.services import points
from bot.services.roles import Actor
from bot.store import Membership, Store

PAGE_SIZE = 10
REPORT_DAYS = 7
TOP = 10


# -- records (LEARN-4) ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    id: int
    kind: str
    day: str
    submitted_at: str | None
    total: int
    correct: int
    points: int
    flagged: bool
    left: bool = False  # left unfinished with /cancel: no score, no review

    @property
    def ratio(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass(frozen=True)
class Today:
    attempts: int
    points: int
    best: Attempt | None


@dataclass(frozen=True)
class RecordsPage:
    today: Today
    attempts: list[Attempt]
    page: int
    pages: int
    count: int


@dataclass(frozen=True)
class ReviewItem:
    position: int
    question: Question
    given: list[Any]   # the user's answer as stored: letters, ["T"]/["F"], or one string per blank
    correct: bool
    fast: bool


@dataclass(frozen=True)
class Review:
    attempt: Attempt
    items: list[ReviewItem]


def _attempt(row: AttemptRow) -> Attempt:
    return Attempt(id=row.id, kind=row.kind, day=row.day, submitted_at=row.submitted_at, total=row.total or 0,
                   correct=row.correct or 0, points=row.points or 0, flagged=row.flagged,
                   left=row.status == "expired")


def best_of(attempts: list[Attempt]) -> Attempt | None:
    """The best score: highest accuracy, then most correct answers, then the earliest."""
    if not attempts:
        return None
    return max(attempts, key=lambda a: (a.ratio, a.correct, -a.id))


async def records_page(store: Store, clock: Clock, actor: Actor, page: int) -> RecordsPage:
    actor.require_registered()
    today = clock.today().isoformat()
    count = await store.learner_attempt_count(actor.id)
    pages = max(1, -(-count // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    rows = await store.learner_attempt_page(actor.id, PAGE_SIZE, page * PAGE_SIZE)
    todays = [_attempt(r) for r in await store.learner_attempts_on(actor.id, today)]
    points_today = sum((await store.points_on(actor.id, today)).values())
    return RecordsPage(today=Today(len(todays), points_today, best_of(todays)),
                       attempts=[_attempt(r) for r in rows], page=page, pages=pages, count=count)


def _given(raw: str | None) -> list[Any]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    return value if isinstance(value, list) else [value]


async def review(store: Store, actor: Actor, attempt_id: int) -> Review:
    """One's own submitted attempt, question by question; anyone else's is refused like a missing one."""
    actor.require_registered()
    row = await store.learner_attempt(attempt_id)
    if row is None or row.user_id != actor.id:
        raise DomainError("learner.not_your_attempt")
    if row.status != "submitted":
        raise DomainError("learner.not_submitted")
    items = [ReviewItem(position=item.position, question=q, given=_given(item.given), correct=bool(item.correct),
                        fast=item.fast)
             for item, q in await store.learner_attempt_review_items(attempt_id)]
    return Review(attempt=_attempt(row), items=items)


# -- report (LEARN-8) ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DayPoints:
    day: date
    by_source: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_source.values())


@dataclass(frozen=True)
class Report:
    days: list[DayPoints]          # oldest first, every one of the last REPORT_DAYS days
    by_source: dict[str, int]      # the period's points per source, in ledger order of sources
    week_total: int
    total: int

    @property
    def sources(self) -> list[str]:
        return list(self.by_source)


def source_order(sources: set[str]) -> list[str]:
    """Sources in the ledger rules' order (login, daily, weekly, …), unknown ones last."""
    known = list(points.RULES)
    return sorted(sources, key=lambda s: (known.index(s) if s in known else len(known), s))


async def report(store: Store, clock: Clock, actor: Actor) -> Report:
    actor.require_registered()
    end = clock.today()
    start = end - timedelta(days=REPORT_DAYS - 1)
    rows = await store.learner_points_by_day_source(actor.id, start.isoformat(), end.isoformat())
    per_day: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for day, source, amount in rows:
        per_day.setdefault(day, {})[source] = amount
        totals[source] = totals.get(source, 0) + amount
    order = source_order(set(totals))
    days = []
    for i in range(REPORT_DAYS):
        when = start + timedelta(days=i)
        got = per_day.get(when.isoformat(), {})
        days.append(DayPoints(when, {s: got[s] for s in order if s in got}))
    return Report(days=days, by_source={s: totals[s] for s in order}, week_total=sum(totals.values()),
                  total=await store.points_total(actor.id))


# -- rank (LEARN-8) ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ranked:
    user_id: int
    name: str
    phone: str
    week: int
    total: int
    week_rank: int
    total_rank: int


@dataclass(frozen=True)
class OrgRank:
    org: Membership
    me: Ranked
    ranked: int                    # registered members ranked
    top_week: list[Ranked]
    top_total: list[Ranked]
    admin: bool                    # the viewer administers it: phones are shown whole (SEC-5)


async def _org_rank(store: Store, clock: Clock, actor: Actor, membership: Membership) -> OrgRank | None:
    since = (clock.today() - timedelta(days=REPORT_DAYS - 1)).isoformat()
    rows = await store.learner_org_ranking(membership.org_id, actor.id, since, TOP)
    people = {r.user_id: Ranked(r.user_id, r.name, r.phone, r.week, r.total, r.week_rank, r.total_rank)
              for r in rows}
    if actor.id not in people:
        return None
    # the rows hold the first TOP of each order (and me): sorting them the same way finds each top list
    top_week = sorted(people.values(), key=lambda p: (-p.week, p.name, p.user_id))[:TOP]
    top_total = sorted(people.values(), key=lambda p: (-p.total, p.name, p.user_id))[:TOP]
    return OrgRank(org=membership, me=people[actor.id], ranked=rows[0].ranked, top_week=top_week,
                   top_total=top_total, admin=membership.org_id in actor.admin_org_ids)


async def ranks(store: Store, clock: Clock, actor: Actor) -> list[OrgRank]:
    """My rank in each organisation that lists my phone (one query per organisation)."""
    actor.require_registered()
    out = []
    for membership in await store.memberships(actor.user.phone or ""):
        rank = await _org_rank(store, clock, actor, membership)
        if rank is not None:
            out.append(rank)
    return out


async def org_rank(store: Store, clock: Clock, actor: Actor, org_id: int) -> OrgRank:
    """One organisation's ranking, for a button press: the viewer must still be its member."""
    actor.require_registered()
    membership = next((m for m in await store.memberships(actor.user.phone or "") if m.org_id == org_id), None)
    rank = await _org_rank(store, clock, actor, membership) if membership else None
    if rank is None:
        raise DomainError("learner.not_member")
    return rank


async def memberships(store: Store, actor: Actor) -> list[Membership]:
    """The organisations the actor is listed in (by their phone), for "my organisations"."""
    return await store.memberships(actor.user.phone) if actor.user.phone else []

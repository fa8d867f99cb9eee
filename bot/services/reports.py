"""Organisation reports (REP-1..8, SEC-1): the nightly snapshot and its catch-up, the overview with
change rates, the table of lower organisations and branches, trends, activation, inactive members,
report settings and the schedule of each recipient's daily slot.

Scheduled work is due rows (bot/repositories/due.py): "report_snapshot" at 00:05 local every day,
and one "report_slot" row per (organisation, recipient, day) at the send time. Both handlers may run
twice (a crash before the sweep marks them done); they compute or enqueue idempotently.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from bot.clock import Clock
from bot.errors import DomainError
from bot.models import Org, User
from bot.repositories.due import DueItem, put_due
from bot.repositories.reports import CONTENTS, DayFigures, Person, SettingsRow, TableRow
from bot.services.outbox_status import unreachable_user_ids
from bot.services.roles import Actor
from bot.services.text import whole_number
from bot.store import Store

__all__ = ["SNAPSHOT_KIND", "SLOT_KIND", "TREND_DAYS", "KEEP_DAYS", "Overview", "Trend", "change_rate",
           "catch_up", "arm_snapshot", "snapshot_handlers", "overview", "lower_table", "trend", "activation",
           "not_activated", "inactive", "settings", "save_settings", "parse_send_time", "slot_ref", "parse_slot_ref",
           "next_slot", "arm_all_slots", "recipient_candidates", "report_org", "export_range",
           "update_settings", "toggle_recipient", "inactive_everyone", "export_days", "parse_range", "SettingsView",
           "settings_view", "sees_full_phones"]

SNAPSHOT_KIND = "report_snapshot"
SLOT_KIND = "report_slot"
SNAPSHOT_AT = time(0, 5)
TREND_DAYS = (7, 30, 90)
KEEP_DAYS = 400        # snapshots kept (REP-1 asks for at least 90)
CATCH_UP_DAYS = 90     # how far back a start computes missing days
PAGE = 8
MAX_EXPORT_DAYS = 92
NUDGE_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class Overview:
    org: Org
    day: date
    today: DayFigures | None
    before: DayFigures | None
    target: int | None
    protect: bool

    def rate(self, field: str) -> float | None:
        """REP-1 change rate of a figure, yesterday against the day before; None ("—") when that was 0."""
        if self.today is None or self.before is None:
            return None
        return change_rate(float(getattr(self.today, field)), float(getattr(self.before, field)))


@dataclass(frozen=True, slots=True)
class Trend:
    org: Org
    days: list[date]
    figures: list[DayFigures]   # one per day (a day with no snapshot counts as zeros)
    target: int | None


def change_rate(today: float, before: float) -> float | None:
    """(today - before) / before * 100; None when before is 0 (shown as "—")."""
    if before == 0:
        return None
    return (today - before) / before * 100.0


# -- the snapshot ------------------------------------------------------------------------------
async def catch_up(store: Store, clock: Clock, *, days: int = CATCH_UP_DAYS) -> list[str]:
    """Computes every day of the last `days` up to yesterday that has no snapshot yet (all of them on a
    first start, the missed ones after a stop), oldest first; prunes snapshots past KEEP_DAYS."""
    today = clock.today()
    first = today - timedelta(days=days)
    done = await store.snapshot_days_done(first.isoformat())
    missing = [d.isoformat() for d in (first + timedelta(days=i) for i in range(days)) if d.isoformat() not in done]
    now = clock.now().isoformat()
    for day in missing:
        await store.snapshot_day(day, now)
    await store.prune_snapshots((today - timedelta(days=KEEP_DAYS)).isoformat())
    return missing


def _local(clock: Clock, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=clock.tz)


async def arm_snapshot(store: Store, clock: Clock) -> None:
    """At start: today's 00:05 row, unless pending; past already, so the first sweep catches up."""
    today = clock.today()
    await store.ensure_due(SNAPSHOT_KIND, f"day:{today.isoformat()}", _local(clock, today, SNAPSHOT_AT))


def snapshot_handlers(store: Store, clock: Clock) -> dict[str, Callable[[DueItem, datetime], Awaitable[None]]]:
    async def nightly(item: DueItem, now: datetime) -> None:
        await catch_up(store, clock)
        await store.refresh_rank_base(clock.today().isoformat())  # /rank's base (LEARN-8)
        tomorrow = now.astimezone(clock.tz).date() + timedelta(days=1)
        await store.put_due_now(SNAPSHOT_KIND, f"day:{tomorrow.isoformat()}", _local(clock, tomorrow, SNAPSHOT_AT))

    return {SNAPSHOT_KIND: nightly}


# -- reading ----------------------------------------------------------------------------------------
async def report_org(store: Store, actor: Actor, org_id: int) -> Org:
    """The organisation, when the actor administers it (SEC-4: checked on every press)."""
    actor.require_admin_of(org_id)
    org = await store.get_org(org_id)
    if org is None:
        raise DomainError("reports.org_gone")
    return org


async def sees_full_phones(store: Store, user: User, org_id: int) -> bool:
    """SEC-5 for what is sent outside a press (the daily push): full phone numbers only to an admin of the
    organisation at this moment (verified, as RNV-1 counts admins); any other recipient, such as a member
    named in REP-5's settings, gets them masked."""
    if not (user.registered and user.verified):
        return False
    admin_ids, _main_ids = await store.admin_org_ids(user.id)
    return org_id in admin_ids


async def overview(store: Store, clock: Clock, actor: Actor, org_id: int) -> Overview:
    """REP-2: yesterday against the day before."""
    org = await report_org(store, actor, org_id)
    day = clock.today() - timedelta(days=1)
    rows = {f.day: f for f in await store.org_days(org_id, (day - timedelta(days=1)).isoformat(), day.isoformat())}
    s = await store.report_settings(org_id)
    return Overview(org, day, rows.get(day.isoformat()), rows.get((day - timedelta(days=1)).isoformat()),
                    s.daily_target, org.protect_content)


async def lower_table(store: Store, clock: Clock, actor: Actor, org_id: int, order: str, page: int
                      ) -> tuple[int, list[TableRow]]:
    await report_org(store, actor, org_id)
    day = (clock.today() - timedelta(days=1)).isoformat()
    return await store.lower_table(org_id, day, order, PAGE, max(page, 0) * PAGE)


async def trend(store: Store, clock: Clock, actor: Actor | None, org_id: int, days: int) -> Trend:
    """REP-3: the last `days` (7, 30 or 90) up to yesterday. `actor` None: the scheduler's push."""
    if days not in TREND_DAYS:
        raise DomainError("reports.bad_range")
    if actor is not None:
        org = await report_org(store, actor, org_id)
    else:
        found = await store.get_org(org_id)
        if found is None:
            raise DomainError("reports.org_gone")
        org = found
    last = clock.today() - timedelta(days=1)
    span = [last - timedelta(days=days - 1 - i) for i in range(days)]
    rows = {f.day: f for f in await store.org_days(org_id, span[0].isoformat(), last.isoformat())}
    s = await store.report_settings(org_id)
    figures = [rows.get(d.isoformat()) or DayFigures(org_id, d.isoformat(), 0, 0, 0, 0, None, 0, 0.0, 0.0, None, None)
               for d in span]
    return Trend(org, span, figures, s.daily_target)


async def activation(store: Store, actor: Actor, org_id: int) -> tuple[Org, int, int]:
    """REP-6: (organisation, activated, not activated) now."""
    org = await report_org(store, actor, org_id)
    yes, no = await store.activation_counts(org_id)
    return org, yes, no


async def not_activated(store: Store, actor: Actor, org_id: int, page: int) -> list[Person]:
    await report_org(store, actor, org_id)
    return await store.not_activated(org_id, PAGE, max(page, 0) * PAGE)


async def inactive(store: Store, clock: Clock, actor: Actor, org_id: int, page: int, *, limit: int = PAGE
                   ) -> tuple[int, int, list[Person]]:
    """REP-8: (N days, how many, one page) of registered people with no points in the last N days."""
    await report_org(store, actor, org_id)
    n = (await store.report_settings(org_id)).inactive_days
    since = (clock.today() - timedelta(days=n - 1)).isoformat()
    count, people = await store.inactive_people(org_id, since, limit, max(page, 0) * limit)
    return n, count, people


async def export_range(store: Store, clock: Clock, actor: Actor, org_id: int, first: date, last: date
                       ) -> tuple[Org, list[tuple[str, DayFigures]], list[Person], list[tuple[str, str, int]]]:
    """REP-4: the organisation and its direct lower ones by day, and the members' points by day."""
    org = await report_org(store, actor, org_id)
    if last < first or (last - first).days + 1 > MAX_EXPORT_DAYS or last >= clock.today():
        raise DomainError("reports.bad_range")
    lower = [o.id for o in await store.lower_orgs(org_id)]
    orgs = await store.orgs_days([org_id, *lower], first.isoformat(), last.isoformat())
    people, points = await store.member_points(org_id, first.isoformat(), last.isoformat())
    return org, orgs, people, points


# -- settings and the daily slots (REP-5) -----------------------------------------------------------
async def settings(store: Store, actor: Actor, org_id: int) -> SettingsRow:
    await report_org(store, actor, org_id)
    return await store.report_settings(org_id)


def parse_send_time(text: str) -> str:
    """"8:00", "08:00", "2030" -> "HH:MM"; DomainError("reports.bad_time") otherwise."""
    digits = text.strip().replace("：", ":")
    if ":" not in digits and len(digits) in (3, 4) and whole_number(digits) is not None:
        digits = digits[:-2] + ":" + digits[-2:]
    hour_text, _, minute_text = digits.partition(":")
    hour, minute = whole_number(hour_text, 2), whole_number(minute_text, 2)
    if hour is None or minute is None or len(minute_text.strip()) != 2 or hour >= 24 or minute >= 60:
        raise DomainError("reports.bad_time")
    return f"{hour:02d}:{minute:02d}"


def slot_ref(org_id: int, user_id: int, day: date) -> str:
    return f"{org_id}:{user_id}:{day.isoformat()}"


def parse_slot_ref(ref: str) -> tuple[int, int, date]:
    org, user, day = ref.split(":")
    return int(org), int(user), date.fromisoformat(day)


def next_slot(clock: Clock, send_time: str, after: datetime) -> tuple[date, datetime]:
    """The first slot at `send_time` strictly after `after`: (its day, its moment)."""
    hour, minute = (int(x) for x in send_time.split(":"))
    local = after.astimezone(clock.tz)
    day = local.date()
    at = _local(clock, day, time(hour, minute))
    if at <= local:
        day += timedelta(days=1)
        at = _local(clock, day, time(hour, minute))
    return day, at


async def save_settings(store: Store, clock: Clock, actor: Actor, s: SettingsRow) -> SettingsRow:
    """Stores the settings and arms the next slot of each recipient in the same transaction, so a change
    takes effect without a restart (a recipient taken off or a report turned off is skipped at its slot)."""
    await report_org(store, actor, s.org_id)
    if s.content not in CONTENTS:
        raise DomainError("reports.bad_content")
    if s.daily_target is not None and not 0 < s.daily_target <= 1000:
        raise DomainError("reports.bad_target")
    if not 1 <= s.inactive_days <= 60:
        raise DomainError("reports.bad_days")
    s = replace(s, recipients=await _checked_recipients(store, s))
    now = clock.now()
    async with store.report_tx() as db:
        await store.write_report_settings(db, s, now.isoformat())
        if s.enabled:
            for user_id in s.recipients:
                day, at = next_slot(clock, s.send_time, now)
                await put_due(db, SLOT_KIND, slot_ref(s.org_id, user_id, day), at)
    return await store.report_settings(s.org_id)


async def _checked_recipients(store: Store, s: SettingsRow) -> tuple[int, ...]:
    """SEC-4: a recipient added (an id from a press) must be an admin or registered member of the organisation;
    one already named who has left since is taken off (nothing goes to them), not a reason to refuse the change."""
    named = (await store.report_settings(s.org_id)).recipients
    kept = []
    for user_id in s.recipients:
        if await store.is_recipient_candidate(s.org_id, user_id):
            kept.append(user_id)
        elif user_id not in named:
            raise DomainError("reports.bad_recipient")
    return tuple(kept)


async def arm_all_slots(store: Store, clock: Clock) -> None:
    """At start: each recipient's next slot, unless one is pending already (a slot missed while the
    bot was down keeps its time, so the first sweep sends it)."""
    now = clock.now()
    for s in await store.enabled_report_settings():
        for user_id in s.recipients:
            day, at = next_slot(clock, s.send_time, now)
            await store.ensure_due(SLOT_KIND, slot_ref(s.org_id, user_id, day), at)


async def recipient_candidates(store: Store, actor: Actor, org_id: int, page: int
                               ) -> tuple[int, list[tuple[int, str]]]:
    await report_org(store, actor, org_id)
    return await store.recipient_candidates(org_id, PAGE, max(page, 0) * PAGE)


async def update_settings(store: Store, clock: Clock, actor: Actor, org_id: int, **changes: object) -> SettingsRow:
    """One setting changed (enabled, send_time, content, daily_target, inactive_days, recipients)."""
    current = await settings(store, actor, org_id)
    return await save_settings(store, clock, actor, replace(current, **changes))  # type: ignore[arg-type]


async def toggle_recipient(store: Store, clock: Clock, actor: Actor, org_id: int, user_id: int) -> SettingsRow:
    current = await settings(store, actor, org_id)
    chosen = [u for u in current.recipients if u != user_id]
    if user_id not in current.recipients:
        chosen.append(user_id)
    return await save_settings(store, clock, actor, replace(current, recipients=tuple(chosen)))


async def inactive_everyone(store: Store, clock: Clock, actor: Actor, org_id: int) -> tuple[Org, list[Person]]:
    """REP-8's nudge: every inactive person (at most NUDGE_LIMIT at once)."""
    org = await report_org(store, actor, org_id)
    _, _, people = await inactive(store, clock, actor, org_id, 0, limit=NUDGE_LIMIT)
    return org, people


def export_days(clock: Clock, days: int) -> tuple[date, date]:
    last = clock.today() - timedelta(days=1)
    return last - timedelta(days=days - 1), last


def parse_range(text: str) -> tuple[date, date]:
    parts = text.replace("~", " ").replace("至", " ").replace(",", " ").split()
    try:
        first, last = (date.fromisoformat(p) for p in parts)
    except ValueError:
        raise DomainError("reports.bad_range") from None
    return first, last


@dataclass(frozen=True, slots=True)
class SettingsView:
    org: Org
    settings: SettingsRow
    names: dict[int, str]
    unreachable: set[int]


async def settings_view(store: Store, actor: Actor, org_id: int) -> SettingsView:
    """REP-5's screen: the settings, the recipients' names, and which of them the bot cannot reach."""
    org = await report_org(store, actor, org_id)
    s = await store.report_settings(org_id)
    return SettingsView(org, s, await store.user_names(s.recipients), await unreachable_user_ids(store, s.recipients))

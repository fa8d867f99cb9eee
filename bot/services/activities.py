"""Collective activities (WORK-2): 党课, 党日活动, 讲座 and others. An admin creates one (kind, title, time
window, points, who may check in); members check in by the QR code's deep link (`a_<token>`), by
`/checkin <code word>`, or are marked by an admin from the member screen; only inside the window,
once per person. Points go to the ledger with the activity as reference (idempotent per person), so
a check-in retried after a crash pays once."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.clock import Clock
from bot.errors import DomainError, NotAllowed
from bot.repositories.activities import ActivityRow, Attendee
from bot.repositories.members import MemberRow
from bot.repositories.tasks import Target
from bot.services import points
from bot.services.roles import Actor
from bot.services.tasks import make_target
from bot.services.text import clean_text, fitted, whole_number
from bot.store import Store

KINDS = ("class", "day", "lecture", "other")
PREFIX = "a"
MAX_TITLE = 60
MAX_POINTS = 100
MAX_LENGTH = timedelta(days=7)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud at an event
CODE_LENGTH = 6
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,43}$")
_WINDOW_RE = re.compile(
    r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\s+(\d{1,2})[:：](\d{2})\s*[-~至到—]+\s*"
    r"(?:(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\s+)?(\d{1,2})[:：](\d{2})\s*$")

_ADJUST_RE = re.compile(r"^\s*([+\-＋－]?\d{1,6})\s*(.*)$", re.S)

QR, CODE, ADMIN = "qr", "code", "admin"


@dataclass(frozen=True, slots=True)
class CheckIn:
    activity: ActivityRow
    first: bool   # False: checked in before (nothing paid again)
    paid: int


def clean_title(raw: str | None) -> str:
    return fitted(clean_text(raw), MAX_TITLE, "activity.empty_title", "activity.title_too_long")


def parse_window(raw: str, clock: Clock) -> tuple[datetime, datetime]:
    """'2026-11-23 14:00-16:00' or '2026-11-23 14:00 - 2026-11-24 12:00', in the deployment's time zone."""
    found = _WINDOW_RE.match(raw or "")
    if not found:
        raise DomainError("activity.bad_window")
    y, mo, d, h, mi, y2, mo2, d2, h2, mi2 = found.groups()
    try:
        start = datetime(int(y), int(mo), int(d), int(h), int(mi), tzinfo=clock.tz)
        end_day = (int(y2), int(mo2), int(d2)) if y2 else (start.year, start.month, start.day)
        end = datetime(*end_day, int(h2), int(mi2), tzinfo=clock.tz)
    except ValueError:
        raise DomainError("activity.bad_window") from None
    if end <= start:
        raise DomainError("activity.window_order")
    if end - start > MAX_LENGTH:
        raise DomainError("activity.window_long", days=MAX_LENGTH.days)
    if end <= clock.now():
        raise DomainError("activity.window_past")
    return start, end


def parse_points(raw: str) -> int:
    points = whole_number(raw)
    if points is None or points > MAX_POINTS:
        raise DomainError("activity.bad_points", limit=MAX_POINTS)
    return points


def new_code_word() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def payload(activity: ActivityRow) -> str:
    return f"{PREFIX}_{activity.token}"


async def create(store: Store, clock: Clock, actor: Actor, target: Target, kind: str, raw_title: str,
                 starts_at: datetime, ends_at: datetime, points_each: int) -> ActivityRow:
    actor.require_admin_of(target.org_id)
    if kind not in KINDS:
        raise DomainError("stale_button")
    # checked here as well, whoever built the target: its branches must still be the organisation's own
    target = await make_target(store, actor, target.org_id, target.kind, target.branch_ids)
    title = clean_title(raw_title)
    if ends_at <= clock.now():
        raise DomainError("activity.window_past")
    for _attempt in range(5):  # a clash of 6 characters from 31 is rare; drawing again settles it
        activity_id = await store.create_activity(
            target.org_id, actor.id, kind, title, starts_at.astimezone(UTC).isoformat(),
            ends_at.astimezone(UTC).isoformat(), points_each, target, secrets.token_urlsafe(16), new_code_word(),
            clock.now().isoformat())
        if activity_id is not None:
            found = await store.get_activity(activity_id)
            assert found is not None
            return found
    raise DomainError("unexpected")


async def admin_activities(store: Store, actor: Actor) -> list[ActivityRow]:
    if not actor.admin_org_ids:
        raise NotAllowed("not_admin")
    return await store.org_activities(actor.admin_org_ids)


async def for_admin(store: Store, actor: Actor, activity_id: int) -> ActivityRow:
    activity = await store.get_activity(activity_id)
    if activity is None:
        raise DomainError("activity.gone")
    actor.require_admin_of(activity.org_id)
    return activity


async def attendance(store: Store, actor: Actor, activity_id: int) -> tuple[ActivityRow, list[Attendee]]:
    activity = await for_admin(store, actor, activity_id)
    return activity, await store.attendees(activity_id)


def _window(activity: ActivityRow) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(activity.starts_at), datetime.fromisoformat(activity.ends_at)


async def _check_in(store: Store, clock: Clock, activity: ActivityRow, user_id: int, phone: str | None, how: str,
                    marked_by: int | None) -> CheckIn:
    start, end = _window(activity)
    now = clock.now()
    if now < start:
        raise DomainError("activity.not_started", start=start.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M"))
    if now > end:
        raise DomainError("activity.ended")
    name = await store.in_target(activity.target, phone) if phone else None
    if name is None:
        raise DomainError("activity.not_in_target" if marked_by is None else "activity.member_not_in_target")
    first = await store.check_in(activity.id, user_id, name, how, marked_by, activity.org_id, now.isoformat())
    # paid after the check-in row and keyed per (activity, person): a retry after a crash in between pays once
    paid = await points.award(store, clock, user_id, points.ACTIVITY, activity.points, ref=f"activity:{activity.id}",
                              idem_key=f"{activity.id}:{user_id}") if activity.points else 0
    return CheckIn(activity, first, paid)


async def check_in_by_token(store: Store, clock: Clock, actor: Actor, token: str) -> CheckIn:
    actor.require_registered()
    activity = await store.activity_by(token=token) if TOKEN_RE.match(token or "") else None
    if activity is None:
        raise DomainError("activity.bad_link")
    return await _check_in(store, clock, activity, actor.id, actor.user.phone, QR, None)


async def check_in_by_code(store: Store, clock: Clock, actor: Actor, raw_code: str) -> CheckIn:
    actor.require_registered()
    code = (raw_code or "").strip().upper()
    activity = await store.activity_by(code_word=code) if code else None
    if activity is None:
        raise DomainError("activity.bad_code")
    return await _check_in(store, clock, activity, actor.id, actor.user.phone, CODE, None)


async def member_for_admin(store: Store, actor: Actor, member_id: int) -> MemberRow:
    """A member record of an organisation the actor administers (checked now, SEC-4)."""
    member = await store.get_member(member_id)
    if member is None:
        raise DomainError("stale_button")
    actor.require_admin_of(member.org_id)
    return member


async def member_user_id(store: Store, member: MemberRow) -> int | None:
    """The registered user a member record stands for (by phone), if any: whose points an admin adjusts."""
    return await store.user_by_phone_registered(member.phone)


def parse_adjustment(raw: str) -> tuple[int, str]:
    """'+5 参加志愿服务' or '-3 违反纪律': a signed whole number, then the reason (LEARN-7)."""
    found = _ADJUST_RE.match(raw or "")
    if not found:
        raise DomainError("activity.bad_adjustment")
    amount = int(found.group(1).replace("＋", "+").replace("－", "-"))
    reason = clean_text(found.group(2))
    if not reason:
        raise DomainError("points.reason_required")
    if len(reason) > points.REASON_MAX:  # it is stored, audit-logged and shown back in one message
        raise DomainError("points_reason.too_long", limit=points.REASON_MAX)
    if amount == 0 or abs(amount) > points.ADJUST_LIMIT:
        raise DomainError("points.bad_amount", limit=points.ADJUST_LIMIT)
    return amount, reason


async def recent_for_member(store: Store, clock: Clock, actor: Actor, member_id: int
                            ) -> tuple[MemberRow, list[ActivityRow]]:
    """The member and the activities of their organisation whose window is open now, for "mark attended"."""
    member = await member_for_admin(store, actor, member_id)
    now = clock.now()
    found = [a for a in await store.org_activities([member.org_id], limit=50)
             if _window(a)[0] <= now <= _window(a)[1]]
    return member, found


async def mark(store: Store, clock: Clock, actor: Actor, activity_id: int, member_id: int) -> CheckIn:
    """An admin marks a member attended (the member's user must be registered)."""
    activity = await for_admin(store, actor, activity_id)
    member = await store.get_member(member_id)
    if member is None or member.org_id != activity.org_id:
        raise DomainError("stale_button")
    user_id = await store.user_by_phone_registered(member.phone)
    if user_id is None:
        raise DomainError("activity.member_not_registered", name=member.name)
    return await _check_in(store, clock, activity, user_id, member.phone, ADMIN, actor.id)

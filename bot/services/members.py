"""MEM-1, 2, 3, 5, 7: the member list of an organisation, one member at a time, and its export.

Every function takes the actor and checks, at the moment it runs, that they administer the
organisation concerned (SEC-4), whatever ids a button carried. Writes go through the store,
one transaction each with its audit row (SEC-3); users and points are never touched (FAQ 20).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.clock import Clock
from bot.errors import DomainError
from bot.models import Org
from bot.render.phone import InvalidPhone, normalize_phone
from bot.repositories.members import MemberRow
from bot.services.roles import Actor
from bot.store import Conflict, Store

PAGE_SIZE = 10
NAME_MAX = 20
QUERY_MAX = 30
EXPORT_DAYS = 7

_INVISIBLE = dict.fromkeys(map(ord, "\u115f\u1160\u3164\uffa0\u200b\u200c\u200d\u2060\ufeff\u180e"), " ")


@dataclass(frozen=True)
class Branch:
    id: int
    name: str


@dataclass(frozen=True)
class Member:
    id: int
    org_id: int
    name: str
    phone: str
    branch_id: int | None
    branch: str | None
    activated: bool


@dataclass(frozen=True)
class MemberPage:
    org: Org
    members: list[Member]
    page: int  # 0-based, clamped to the pages there are
    pages: int
    total: int  # the whole organisation
    activated: int
    matching: int  # those the filter keeps
    branch_id: int | None  # None every branch, 0 without a branch
    branch: str | None
    query: str | None


@dataclass(frozen=True)
class Export:
    org: Org
    rows: list[tuple[str, str, str, bool, int, int]]  # (name, phone, branch, activated, points_7d, points_total)
    since: str
    today: str


def _member(row: MemberRow) -> Member:
    return Member(row.id, row.org_id, row.name, row.phone, row.branch_id, row.branch, row.activated)


def clean_name(raw: str | None) -> str:
    """Names of members: 1–20 characters after trimming (as REG-4)."""
    name = " ".join(unicodedata.normalize("NFKC", raw or "").translate(_INVISIBLE).split())
    if not name:
        raise DomainError("mem.name_empty")
    if len(name) > NAME_MAX:
        raise DomainError("mem.name_too_long", length=len(name), limit=NAME_MAX)
    return name


def clean_phone(raw: str | None) -> str:
    try:
        return normalize_phone(raw or "")
    except InvalidPhone as exc:
        raise DomainError(f"mem.phone.{exc.code}", phone=(raw or "")[:30]) from None


def search_terms(query: str | None) -> tuple[str | None, str | None]:
    """A name fragment and, when the query looks like a number, its digits (MEM-7)."""
    text = " ".join(unicodedata.normalize("NFKC", query or "").split())[:QUERY_MAX]
    if not text:
        return None, None
    compact = re.sub(r"[\s\-()+]", "", text)
    digits = compact if compact.isdigit() else None
    return text, digits


async def _org(store: Store, actor: Actor, org_id: int) -> Org:
    actor.require_admin_of(org_id)
    org = await store.get_org(org_id)
    if org is None:
        raise DomainError("stale_button")
    return org


async def org_for_admin(store: Store, actor: Actor, org_id: int) -> Org:
    return await _org(store, actor, org_id)


async def branches(store: Store, actor: Actor, org_id: int) -> list[Branch]:
    actor.require_admin_of(org_id)
    return [Branch(r.id, r.name) for r in await store.member_branches(org_id)]


async def list_members(store: Store, actor: Actor, org_id: int, page: int = 0, branch_id: int | None = None,
                       query: str | None = None) -> MemberPage:
    """MEM-3, MEM-7: one page of the list, the organisation's totals and the filter's count."""
    org = await _org(store, actor, org_id)
    branch_name = None
    if branch_id:
        found = [b for b in await branches(store, actor, org_id) if b.id == branch_id]
        if not found:
            raise DomainError("mem.branch_gone")
        branch_name = found[0].name
    text, digits = search_terms(query)
    total, activated = await store.member_counts(org_id)
    filtered = branch_id is not None or text is not None
    matching = (await store.member_counts(org_id, branch_id, text, digits))[0] if filtered else total
    pages = max(1, -(-matching // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    rows = await store.member_page(org_id, PAGE_SIZE, page * PAGE_SIZE, branch_id, text, digits)
    return MemberPage(org, [_member(r) for r in rows], page, pages, total, activated, matching, branch_id,
                      branch_name, text)


async def get_member(store: Store, actor: Actor, member_id: int) -> Member:
    row = await store.get_member(member_id)
    if row is None:
        raise DomainError("mem.member_gone")
    actor.require_admin_of(row.org_id)
    return _member(row)


async def check_new_phone(store: Store, actor: Actor, org_id: int, raw_phone: str) -> tuple[str, list[str]]:
    """MEM-1 before adding: the normalised phone and the names of the other organisations that
    list it (FAQ 8: the person may be copied here). Refused when this organisation lists it."""
    actor.require_admin_of(org_id)
    phone = clean_phone(raw_phone)
    if await store.member_phone_in_org(org_id, phone):
        raise DomainError("mem.phone_listed", phone=display_phone(phone))
    return phone, await store.other_orgs_listing_phone(phone, org_id)


async def add_member(store: Store, clock: Clock, actor: Actor, org_id: int, name: str, phone: str,
                     branch_id: int | None) -> Member:
    """MEM-1: exactly one row per phone in an organisation, also when two admins race."""
    actor.require_admin_of(org_id)
    name, phone = clean_name(name), clean_phone(phone)
    try:
        member_id = await store.add_member(actor.id, org_id, name, phone, branch_id, clock.now().isoformat())
    except Conflict as exc:
        if exc.what == "phone":
            raise DomainError("mem.phone_listed", phone=display_phone(phone)) from None
        raise DomainError("mem.branch_gone") from None
    return await get_member(store, actor, member_id)


async def _update(store: Store, clock: Clock, actor: Actor, member_id: int, **changes: Any) -> Member:
    member = await get_member(store, actor, member_id)
    try:
        done = await store.update_member(actor.id, member.org_id, member_id, clock.now().isoformat(), **changes)
    except Conflict as exc:
        if exc.what == "phone":
            raise DomainError("mem.phone_listed", phone=display_phone(changes["phone"])) from None
        raise DomainError("mem.branch_gone") from None
    if done is None:
        raise DomainError("mem.member_gone")
    return await get_member(store, actor, member_id)


async def rename(store: Store, clock: Clock, actor: Actor, member_id: int, raw_name: str) -> Member:
    return await _update(store, clock, actor, member_id, name=clean_name(raw_name))


async def change_phone(store: Store, clock: Clock, actor: Actor, member_id: int, raw_phone: str) -> Member:
    """The phone is normalised again, stays unique in the organisation, and activation follows it."""
    return await _update(store, clock, actor, member_id, phone=clean_phone(raw_phone))


async def move(store: Store, clock: Clock, actor: Actor, member_id: int, branch_id: int | None) -> Member:
    return await _update(store, clock, actor, member_id, branch_id=branch_id)


async def remove(store: Store, clock: Clock, actor: Actor, member_id: int) -> Member:
    member = await get_member(store, actor, member_id)
    if await store.remove_member(actor.id, member.org_id, member_id, clock.now().isoformat()) is None:
        raise DomainError("mem.member_gone")
    return member


async def export(store: Store, clock: Clock, actor: Actor, org_id: int) -> Export:
    """MEM-5: every member with activation and points (the last 7 days, today included, and in all)."""
    org = await _org(store, actor, org_id)
    today = clock.today()
    since = (today - timedelta(days=EXPORT_DAYS - 1)).isoformat()
    rows = await store.member_export_rows(org_id, since)
    out = [(r.name, export_phone(r.phone), r.branch or "", r.activated, r.points_7d, r.points_total) for r in rows]
    return Export(org, out, since, today.isoformat())


def display_phone(phone: str) -> str:
    """Admins see the whole number; mainland mobiles without the +86."""
    return phone[3:] if phone.startswith("+86") and len(phone) == 14 else phone


export_phone = display_phone  # 11 digits are not mistaken for a formula (see render/excel.py)

"""ORG-1…9, SEC-3/4: learning organisations, their branches and admin group, free of aiogram.

Every function that changes something takes the actor and checks their role at that moment
(SEC-4); the store writes the audit row in the same transaction (SEC-3).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.errors import DomainError, NotAllowed
from bot.models import Org, User
from bot.render.phone import InvalidPhone, normalize_phone
from bot.repositories.orgs import AdminRow, BranchRow
from bot.services.registration import _squash as squash
from bot.services.renames import RenameRequest, check_no_pending_rename, request_rename
from bot.services.roles import Actor
from bot.store import Conflict, Store

KINDS = ("party", "nonparty")
NAME_SOFT_MAX = 20   # FAQ 3: longer names should be simplified
NAME_MAX = 50
NEEDLESS_SUFFIX = "学习管理组"
NONPARTY_SUFFIX = "党外人士学习组织"
REGION_MIN, REGION_MAX = 2, 40
BRANCH_NAME_MAX = 30
BRANCH_KINDS = ("general", "branch")  # 党总支 (top level, may hold 党支部) | 党支部
FLAGS = ("join_approval", "protect_content")
AUDIT_PAGE = 10


# -- naming rules (pure) ---------------------------------------------------------------------

@dataclass(frozen=True)
class OrgName:
    name: str
    long: bool  # over NAME_SOFT_MAX: the person is asked to simplify, and may keep it


def check_org_name(raw: str | None, kind: str) -> OrgName:
    """ORG-2 / FAQ 3 (sharing a name with another certified organisation is certification's rule)."""
    if kind not in KINDS:
        raise ValueError(kind)
    name = squash(raw or "")
    if not name:
        raise DomainError("org.name_empty")
    if len(name) > NAME_MAX:
        raise DomainError("org.name_too_long", length=len(name), limit=NAME_MAX)
    if name.endswith(NEEDLESS_SUFFIX):
        raise DomainError("org.name_needless_suffix", suffix=NEEDLESS_SUFFIX,
                          suggestion=name[:-len(NEEDLESS_SUFFIX)].strip() or "—")
    if kind == "nonparty" and (not name.endswith(NONPARTY_SUFFIX) or name == NONPARTY_SUFFIX):
        raise DomainError("org.nonparty_suffix", suffix=NONPARTY_SUFFIX)
    return OrgName(name, len(name) > NAME_SOFT_MAX)


def clean_region(raw: str | None) -> str:
    region = squash(raw or "")
    if not REGION_MIN <= len(region) <= REGION_MAX:
        raise DomainError("org.region_length", min=REGION_MIN, max=REGION_MAX, length=len(region))
    return region


def clean_branch_name(raw: str | None) -> str:
    name = squash(raw or "")
    if not name:
        raise DomainError("org.branch_name_empty")
    if len(name) > BRANCH_NAME_MAX:
        raise DomainError("org.branch_name_too_long", length=len(name), limit=BRANCH_NAME_MAX)
    return name


# -- records ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class AdminInfo:
    user_id: int
    name: str
    phone: str
    role: str  # main | admin
    verified: bool

    @property
    def is_main(self) -> bool:
        return self.role == "main"


@dataclass(frozen=True)
class BranchInfo:
    id: int
    parent_id: int | None
    name: str
    kind: str
    members: int
    children: int


@dataclass(frozen=True)
class OrgCard:
    org: Org
    parent: Org | None
    branches: int
    members: int
    activated: int
    admins: list[AdminInfo]
    is_main: bool


@dataclass(frozen=True)
class Dissolution:
    org: Org
    members: int


@dataclass(frozen=True)
class AuditEntry:
    id: int
    actor_name: str
    action: str
    target: str | None
    before: Any
    after: Any
    at: datetime
    params: dict[str, Any] = field(default_factory=dict)  # the sentence's names and numbers (no ids)


@dataclass(frozen=True)
class AuditPage:
    org: Org
    entries: list[AuditEntry]
    has_newer: bool
    has_older: bool


# -- helpers ---------------------------------------------------------------------------------

def _now(clock: Clock) -> str:
    return clock.now().isoformat()


async def org_for_admin(store: Store, actor: Actor, org_id: int) -> Org:
    """The organisation, when the actor administers it at this moment (SEC-4)."""
    actor.require_admin_of(org_id)
    org = await store.get_org(org_id)
    if org is None:
        raise DomainError("stale_button")
    return org


async def _org_of_main(store: Store, actor: Actor, org_id: int, refusal: str = "org.admins_main_only") -> Org:
    """Admins who are not the main admin get the rule's own refusal (FAQ 4), others the plain one."""
    actor.require_admin_of(org_id)
    if org_id not in actor.main_admin_org_ids:
        raise NotAllowed(refusal)
    return await org_for_admin(store, actor, org_id)


def _admin(row: AdminRow) -> AdminInfo:
    return AdminInfo(row.user_id, row.name or "", row.phone or "", row.role, row.verified)


def _branch(row: BranchRow) -> BranchInfo:
    return BranchInfo(row.id, row.parent_id, row.name, row.kind, row.members, row.children)


async def _reload(store: Store, org_id: int) -> Org:
    """The organisation as just written (gone only if dissolved meanwhile)."""
    org = await store.get_org(org_id)
    if org is None:
        raise DomainError("stale_button")
    return org


async def pending_admin_org_ids(store: Store, actor: Actor) -> frozenset[int]:
    """Organisations whose admin group lists this unverified user (RNV-1: they act once verified)."""
    if not actor.registered or actor.user.verified:
        return frozenset()
    ids, _main = await store.admin_org_ids(actor.id)
    return ids


# -- organisations ---------------------------------------------------------------------------

async def create_org(store: Store, clock: Clock, actor: Actor, kind: str, raw_name: str, raw_region: str) -> Org:
    """ORG-1: a verified user creates it and becomes its main admin."""
    actor.require_registered()
    if not actor.user.verified:
        raise DomainError("org.verify_first")
    name = check_org_name(raw_name, kind).name
    region = clean_region(raw_region)
    org_id = await store.create_org(actor.id, kind, name, region, _now(clock))
    return await _reload(store, org_id)


async def org_card(store: Store, actor: Actor, org_id: int) -> OrgCard:
    org = await org_for_admin(store, actor, org_id)
    counts = await store.org_counts(org_id)
    parent = await store.get_org(org.parent_id) if org.parent_id else None
    admins = [_admin(r) for r in await store.org_admin_rows(org_id)]
    return OrgCard(org, parent, counts.branches, counts.members, counts.activated, admins,
                   org_id in actor.main_admin_org_ids)


async def set_flag(store: Store, clock: Clock, actor: Actor, org_id: int, flag: str, value: bool) -> Org:
    """Join approval (MEM-6) and protect_content (SEC-1) switches."""
    if flag not in FLAGS:
        raise DomainError("stale_button")
    org = await org_for_admin(store, actor, org_id)
    if getattr(org, flag) != value:
        await store.set_org_flag(actor.id, org_id, flag, value, _now(clock))
    return await _reload(store, org_id)


async def can_rename(store: Store, actor: Actor, org_id: int) -> Org:
    """ORG-6: free before certification; afterwards a request the upper organisation approves
    (a root's: the operator), one pending at a time."""
    org = await org_for_admin(store, actor, org_id)
    if org.certified:
        await check_no_pending_rename(store, org)
    return org


async def check_rename(store: Store, actor: Actor, org_id: int, raw_name: str) -> OrgName:
    org = await can_rename(store, actor, org_id)
    checked = check_org_name(raw_name, org.kind)
    if checked.name == org.name:
        raise DomainError("org.name_unchanged")
    return checked


async def rename_org(store: Store, clock: Clock, actor: Actor, org_id: int, raw_name: str) -> Org | RenameRequest:
    """The renamed Org, or for a certified organisation the RenameRequest now waiting for approval."""
    checked = await check_rename(store, actor, org_id, raw_name)
    org = await _reload(store, org_id)
    if org.certified:
        return await request_rename(store, clock, actor, org, checked.name)
    await store.rename_org(actor.id, org_id, checked.name, _now(clock))
    return await _reload(store, org_id)


async def dissolve_preview(store: Store, actor: Actor, org_id: int) -> Dissolution:
    """ORG-7: main admin only; its certified lower organisations are un-certified first, then it
    is un-certified from its upper one, then it can be dissolved."""
    org = await _org_of_main(store, actor, org_id, "org.dissolve_main_only")
    counts = await store.org_counts(org_id)
    if counts.lower:
        raise DomainError("org.dissolve_has_lower", count=counts.lower)
    if org.certified:
        raise DomainError("org.dissolve_certified", org=org.name)
    return Dissolution(org, counts.members)


async def dissolve_org(store: Store, clock: Clock, actor: Actor, org_id: int) -> Dissolution:
    """Removes memberships, branches and the admin group; never users or their points (FAQ 20)."""
    preview = await dissolve_preview(store, actor, org_id)
    try:
        await store.dissolve_org(actor.id, org_id, _now(clock))
    except Conflict:  # certified (or given a lower organisation) since the preview
        await dissolve_preview(store, actor, org_id)  # raises the specific refusal
        raise DomainError("stale_button") from None
    return preview


# -- branches (ORG-3) ------------------------------------------------------------------------

async def branches(store: Store, actor: Actor, org_id: int) -> tuple[Org, list[BranchInfo]]:
    org = await org_for_admin(store, actor, org_id)
    return org, [_branch(r) for r in await store.org_branches(org_id)]


async def get_branch(store: Store, actor: Actor, org_id: int, branch_id: int) -> BranchInfo:
    _org, items = await branches(store, actor, org_id)
    for b in items:
        if b.id == branch_id:
            return b
    raise DomainError("stale_button")


async def add_branch(store: Store, clock: Clock, actor: Actor, org_id: int, kind: str, raw_name: str,
                     parent_id: int | None = None) -> BranchInfo:
    """A 党总支 or 党支部 at the top level, or a 党支部 under a 党总支 — one level of nesting only."""
    if kind not in BRANCH_KINDS:
        raise DomainError("stale_button")
    _org, items = await branches(store, actor, org_id)
    if parent_id is not None:
        parent = next((b for b in items if b.id == parent_id), None)
        if parent is None:
            raise DomainError("stale_button")
        if kind != "branch" or parent.kind != "general" or parent.parent_id is not None:
            raise DomainError("org.branch_nesting")
    name = clean_branch_name(raw_name)
    if any(b.name == name for b in items):
        raise DomainError("org.branch_name_taken", name=name)
    try:
        branch_id = await store.add_branch(actor.id, org_id, parent_id, kind, name, _now(clock))
    except Conflict:
        raise DomainError("org.branch_name_taken", name=name) from None
    return BranchInfo(branch_id, parent_id, name, kind, 0, 0)


async def rename_branch(store: Store, clock: Clock, actor: Actor, org_id: int, branch_id: int,
                        raw_name: str) -> BranchInfo:
    branch = await get_branch(store, actor, org_id, branch_id)
    name = clean_branch_name(raw_name)
    if name == branch.name:
        return branch
    try:
        await store.rename_branch(actor.id, org_id, branch_id, name, _now(clock))
    except Conflict:
        raise DomainError("org.branch_name_taken", name=name) from None
    return await get_branch(store, actor, org_id, branch_id)


async def delete_branch(store: Store, clock: Clock, actor: Actor, org_id: int, branch_id: int) -> BranchInfo:
    """Members of the branch (and of its 党支部) stay in the organisation without a branch."""
    branch = await get_branch(store, actor, org_id, branch_id)
    await store.delete_branch(actor.id, org_id, branch_id, _now(clock))
    return branch


# -- the admin group (ORG-4, ORG-5, FAQ 4, 5, 14) --------------------------------------------

async def admins(store: Store, actor: Actor, org_id: int) -> tuple[Org, list[AdminInfo]]:
    org = await org_for_admin(store, actor, org_id)
    return org, [_admin(r) for r in await store.org_admin_rows(org_id)]


async def require_admin_manager(store: Store, actor: Actor, org_id: int) -> Org:
    """Only the main admin adds, removes and hands over (FAQ 4)."""
    return await _org_of_main(store, actor, org_id)


@dataclass(frozen=True)
class AddedAdmin:
    org: Org
    user: User


async def add_admin(store: Store, clock: Clock, actor: Actor, org_id: int, raw_phone: str) -> AddedAdmin:
    org = await require_admin_manager(store, actor, org_id)
    try:
        phone = normalize_phone(raw_phone)
    except InvalidPhone:
        raise DomainError("org.admin_phone_invalid") from None
    user_id = await store.user_id_by_phone(phone)
    user = await store.get_user(user_id) if user_id is not None else None
    if user is None or not user.registered:
        raise DomainError("org.admin_not_registered", phone=phone)
    try:
        await store.add_org_admin(actor.id, org_id, user.id, _label(user), _now(clock))
    except Conflict:
        raise DomainError("org.already_admin", name=user.display_name) from None
    return AddedAdmin(org, user)


async def remove_admin(store: Store, clock: Clock, actor: Actor, org_id: int, user_id: int) -> AdminInfo:
    """Main admin only, never themselves."""
    target = await admin_to_remove(store, actor, org_id, user_id)
    if not await store.remove_org_admin(actor.id, org_id, user_id, _info_label(target), _now(clock)):
        raise DomainError("stale_button")
    return target


async def admin_to_remove(store: Store, actor: Actor, org_id: int, user_id: int) -> AdminInfo:
    """The confirm step of a removal checks the same rules as the removal."""
    await require_admin_manager(store, actor, org_id)
    _org, group = await admins(store, actor, org_id)
    if user_id == actor.id:
        raise DomainError("org.cannot_remove_self")
    target = next((a for a in group if a.user_id == user_id and not a.is_main), None)
    if target is None:
        raise DomainError("stale_button")
    return target


async def handover_candidates(store: Store, actor: Actor, org_id: int) -> list[AdminInfo]:
    """ORG-5 / FAQ 5: only to another admin already in the group; alone, the main admin cannot hand over."""
    await require_admin_manager(store, actor, org_id)
    _org, group = await admins(store, actor, org_id)
    others = [a for a in group if not a.is_main]
    if not others:
        raise DomainError("org.handover_alone")
    return others


async def handover_target(store: Store, actor: Actor, org_id: int, user_id: int) -> AdminInfo:
    target = next((a for a in await handover_candidates(store, actor, org_id) if a.user_id == user_id), None)
    if target is None:
        raise DomainError("stale_button")
    if not target.verified:
        raise DomainError("org.handover_unverified", name=target.name)
    return target


async def hand_over(store: Store, clock: Clock, actor: Actor, org_id: int, user_id: int) -> AdminInfo:
    """The old main admin stays in the group as an ordinary admin."""
    target = await handover_target(store, actor, org_id, user_id)
    if not await store.hand_over_main_admin(actor.id, org_id, user_id, _info_label(target), _now(clock)):
        raise DomainError("stale_button")
    return target


def _label(user: User) -> str:
    return f"{user.display_name} ({user.phone})"


def _info_label(admin: AdminInfo) -> str:
    return f"{admin.name} ({admin.phone})"


# -- the audit log (SEC-3) -------------------------------------------------------------------

async def audit_page(store: Store, clock: Clock, actor: Actor, org_id: int, *, before_id: int = 0,
                     after_id: int = 0) -> AuditPage:
    """Newest first, AUDIT_PAGE at a time; paging by id cursors (older: before_id, newer: after_id)."""
    org = await _org_of_main(store, actor, org_id, "org.audit_main_only")
    if after_id:
        rows = await store.audit_entries_newer(org_id, after_id, AUDIT_PAGE + 1)
        has_newer, has_older = len(rows) > AUDIT_PAGE, True
        rows = rows[-AUDIT_PAGE:]
    else:
        rows = await store.audit_entries(org_id, limit=AUDIT_PAGE + 1, before_id=before_id or None)
        has_newer, has_older = bool(before_id), len(rows) > AUDIT_PAGE
        rows = rows[:AUDIT_PAGE]
    raw = [(r, _json(r.before), _json(r.after)) for r in rows]
    user_ids = {r.actor_id for r in rows}
    org_ids: set[int] = set()
    for r, before, after in raw:
        values = {**(before if isinstance(before, dict) else {}), **(after if isinstance(after, dict) else {})}
        user_ids |= {v for k in ("user_id", "addressee_id") if isinstance(v := values.get(k), int)}
        org_ids |= {v for k in ("upper_id", "lower_id") if isinstance(v := values.get(k), int)}
        kind, _sep, ref = (r.target or "").partition(":")
        if kind == "org" and ref.isdigit():
            org_ids.add(int(ref))
        if r.action.startswith("points.") and (r.target or "").isdigit():
            user_ids.add(int(r.target or "0"))
    names = await store.user_names(user_ids)
    org_names = {o.id: o.name for o in await store.orgs_by_ids(org_ids)}
    branch_names = {b.id: b.name for b in await store.org_branches(org_id)}
    lookup = _AuditNames(names, org_names, branch_names, clock)
    entries = [AuditEntry(r.id, names.get(r.actor_id, ""), r.action, r.target, before, after,
                          datetime.fromisoformat(r.at).astimezone(clock.tz),
                          _sentence_params(r.action, r.target, before, after, lookup))
               for r, before, after in raw]
    return AuditPage(org, entries, has_newer, has_older)


@dataclass(frozen=True)
class _AuditNames:
    users: dict[int, str]
    orgs: dict[int, str]
    branches: dict[int, str]
    clock: Clock


AUDIT_PARAMS = ("target", "name", "old", "new", "branch", "old_branch", "number", "upper", "lower", "user", "state",
                "added", "present", "updated", "renamed", "rows", "branches", "period", "questions", "reason",
                "amount", "bank", "expires", "limit", "note")


def _sentence_params(action: str, target: str | None, before: Any, after: Any, names: _AuditNames) -> dict[str, Any]:
    """SEC-3: what a sentence of the log needs, as names a main admin knows (never an internal id);
    every key of AUDIT_PARAMS is present ("" or 0 when the row does not have it)."""
    b = before if isinstance(before, dict) else {}
    a = after if isinstance(after, dict) else {}
    out: dict[str, Any] = dict.fromkeys(AUDIT_PARAMS, "")
    out.update(dict.fromkeys(("added", "present", "updated", "renamed", "rows", "questions", "amount", "bank"), 0))
    kind, _sep, ref = (target or "").partition(":")
    if kind == "invite" and ref.isdigit():
        out["number"] = int(ref)
    elif kind == "org" and ref.isdigit():
        out["lower"] = names.orgs.get(int(ref), "")
    elif not (kind in {"member", "branch", "cert_invite", "cert_application", "rename_request", "join_request",
                       "task", "activity", "manuscript"} and ref.isdigit()):
        out["target"] = target or ""
    out["name"] = a.get("name") or a.get("title") or b.get("name") or out["target"]
    if "name" in a and "name" in b:
        out["old"], out["new"] = b["name"], a["name"]

    def branch(value: Any) -> str:
        return names.branches.get(value, "") if isinstance(value, int) else ""

    out["branch"], out["old_branch"] = branch(a.get("branch_id")), branch(b.get("branch_id"))
    for k in ("upper", "lower"):
        if isinstance(a.get(f"{k}_id"), int):
            out[k] = names.orgs.get(a[f"{k}_id"], "")
    user_id = a.get("user_id", a.get("addressee_id"))
    if action.startswith("points.") and (target or "").isdigit():
        user_id = int(target or "0")
    out["user"] = names.users.get(user_id, "") if isinstance(user_id, int) else ""
    flag = action.removeprefix("org.")
    if flag in FLAGS and isinstance(a.get(flag), bool):
        out["state"] = "on" if a[flag] else "off"
    for k in ("added", "present", "updated", "renamed", "rows", "amount", "bank"):
        if isinstance(a.get(k), int):
            out[k] = a[k]
    if isinstance(a.get("branches"), list):
        out["branches"] = "、".join(str(n) for n in a["branches"])
    if isinstance(a.get("questions"), list):
        out["questions"] = len(a["questions"])
    if action == "quiz.weekly_publish":
        out["period"] = target or ""
    out["reason"] = a.get("reason") or ""
    out["note"] = a.get("note") or ""
    if isinstance(a.get("max_uses"), int):
        out["limit"] = a["max_uses"]
    if isinstance(a.get("expires_at"), str):
        try:
            out["expires"] = datetime.fromisoformat(a["expires_at"]).astimezone(names.clock.tz).strftime("%Y-%m-%d")
        except ValueError:
            out["expires"] = a["expires_at"]
    if action == "branch.delete" and isinstance(b.get("members"), int):
        out["rows"] = b["members"]
    if action == "org.dissolve" and isinstance(b.get("members"), int):
        out["rows"] = b["members"]
    if action == "member.import_names":
        out["state"] = a.get("decision", "")
    if action == "member.correspondent" and isinstance(a.get("correspondent"), bool):
        out["state"] = "on" if a["correspondent"] else "off"
    if action == "task.send" and isinstance(a.get("recipients"), int):
        out["rows"] = a["recipients"]
    if isinstance(a.get("to_org_id"), int):  # a manuscript forwarded upwards (WORK-3)
        out["upper"] = names.orgs.get(a["to_org_id"], "")
    return out


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


async def orgs_by_ids(store: Store, org_ids: frozenset[int] | set[int] | list[int]) -> list[Org]:
    """The organisations with these ids, ordered by id (the choices of a picker)."""
    return await store.orgs_by_ids(org_ids)


async def get_org(store: Store, org_id: int) -> Org | None:
    return await store.get_org(org_id)

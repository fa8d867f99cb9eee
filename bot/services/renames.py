"""ORG-6: a certified organisation's new name waits for its upper organisation (a root's for the
operator); the request, its decision, and who may decide. Every change re-checks the role (SEC-4)."""
from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.errors import DomainError
from bot.models import Org
from bot.repositories.renames import RenameRow
from bot.services.cert_common import REASON_MAX, clean_text
from bot.services.cert_common import existing_org as _org
from bot.services.cert_common import now_iso as _now
from bot.services.roles import Actor
from bot.store import Conflict, Store


@dataclass(frozen=True)
class RenameRequest:
    id: int
    org: Org
    upper_id: int | None  # None: a root, the operator decides
    old_name: str
    new_name: str
    requested_by: int
    requester_name: str
    status: str
    reason: str | None
    decider_name: str | None


async def from_row(store: Store, row: RenameRow) -> RenameRequest:
    return RenameRequest(row.id, await _org(store, row.org_id), row.upper_id, row.old_name, row.new_name,
                         row.requested_by, row.requester_name or "", row.status, row.reason, row.decider_name)


async def rename_request(store: Store, req_id: int) -> RenameRequest:
    row = await store.get_rename_request(req_id)
    if row is None:
        raise DomainError("cert.rename_gone")
    return await from_row(store, row)


async def check_no_pending_rename(store: Store, org: Org) -> None:
    pending = await store.pending_rename(org.id)
    if pending is not None:
        raise DomainError("cert.rename_pending", name=pending.new_name)


async def request_rename(store: Store, clock: Clock, actor: Actor, org: Org, name: str) -> RenameRequest:
    """A certified organisation's new name waits for its upper organisation (a root's for the operator)."""
    actor.require_admin_of(org.id)
    if await store.certified_name_taken(org.parent_id, name, org.id):
        raise DomainError("cert.rename_name_taken", org=name)
    await check_no_pending_rename(store, org)
    try:
        req_id = await store.request_rename(org.id, name, actor.id, _now(clock))
    except Conflict as exc:
        if exc.what == "pending":
            await check_no_pending_rename(store, org)
        raise DomainError("cert.not_certified", org=org.name) from None
    return await rename_request(store, req_id)


def _require_rename_decider(actor: Actor, req: RenameRequest) -> None:
    if req.upper_id is None:
        actor.require_operator()
    else:
        actor.require_admin_of(req.upper_id)


def _rename_already(req: RenameRequest) -> DomainError:
    return DomainError(f"cert.rename_already_{req.status}", org=req.org.name, by=req.decider_name or "—")


async def pending_rename_for_decider(store: Store, actor: Actor, req_id: int) -> RenameRequest:
    req = await rename_request(store, req_id)
    _require_rename_decider(actor, req)
    if req.status != "pending":
        raise _rename_already(req)
    return req


async def decide_rename(store: Store, clock: Clock, actor: Actor, req_id: int, approve: bool,
                        reason: str | None = None) -> RenameRequest:
    await pending_rename_for_decider(store, actor, req_id)
    if not approve:
        reason = clean_text(reason, REASON_MAX, "reason")
    try:
        done = await store.decide_rename(req_id, approve, actor.id, reason, _now(clock))
    except Conflict:
        req = await rename_request(store, req_id)
        raise DomainError("cert.rename_name_taken", org=req.new_name) from None
    decided = await rename_request(store, req_id)
    if not done:
        raise _rename_already(decided)
    return decided

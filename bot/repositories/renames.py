"""Rename requests of certified organisations (ORG-6): decided once by the upper organisation (a
root's by the operator); `UPDATE ... WHERE status = 'pending'` lets exactly one decision win."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import aiosqlite

from bot.repositories.audit import write_audit
from bot.repositories.base import Conflict, Repository, fetch_one, fetch_row, last_id, marks
from bot.repositories.names import sort_key


@dataclass(frozen=True, slots=True)
class RenameRow:
    id: int
    org_id: int
    upper_id: int | None  # None: a root, the operator decides
    old_name: str
    new_name: str
    requested_by: int
    status: str  # pending | approved | rejected | withdrawn
    reason: str | None
    created_at: str
    decided_by: int | None
    decided_at: str | None
    requester_name: str | None
    decider_name: str | None


_RENAME_SELECT = (
    "SELECT r.id, r.org_id, r.upper_id, r.old_name, r.new_name, r.requested_by, r.status, r.reason, "
    "r.created_at, r.decided_by, r.decided_at, COALESCE(u.name, u.first_name) AS requester_name, "
    "COALESCE(d.name, d.first_name) AS decider_name "
    "FROM rename_requests r JOIN users u ON u.id = r.requested_by LEFT JOIN users d ON d.id = r.decided_by")


async def withdraw_renames(db: aiosqlite.Connection, org_id: int, now: str) -> None:
    """The organisation's upper one changed: a rename request addressed to the old one ends."""
    await db.execute("UPDATE rename_requests SET status = 'withdrawn', decided_at = ? "
                     "WHERE org_id = ? AND status = 'pending'", (now, org_id))


class RenamesRepository(Repository):
    async def request_rename(self, org_id: int, new_name: str, actor_id: int, now: str) -> int:
        """Raises Conflict("pending") when one is pending, Conflict("not_certified")."""
        async with self._tx() as db:
            row = await fetch_one(db, "SELECT name, parent_id, certified_at FROM orgs WHERE id = ?", (org_id,))
            if row is None or row["certified_at"] is None:
                raise Conflict("not_certified")
            try:
                cur = await db.execute(
                    """INSERT INTO rename_requests (org_id, upper_id, old_name, new_name, requested_by, created_at)
                       VALUES (?, ?, ?, ?, ?, ?)""", (org_id, row["parent_id"], row["name"], new_name, actor_id, now))
            except aiosqlite.IntegrityError:
                raise Conflict("pending") from None
            req_id = last_id(cur)
            for target in (org_id, row["parent_id"]):
                if target is not None:
                    await write_audit(db, actor_id, target, "cert.rename_request", f"rename_request:{req_id}",
                                      {"name": row["name"]}, {"name": new_name}, now)
            return req_id

    async def get_rename_request(self, req_id: int) -> RenameRow | None:
        row = await self._one(f"{_RENAME_SELECT} WHERE r.id = ?", (req_id,))
        return RenameRow(*tuple(row)) if row else None

    async def pending_rename(self, org_id: int) -> RenameRow | None:
        row = await self._one(f"{_RENAME_SELECT} WHERE r.org_id = ? AND r.status = 'pending'", (org_id,))
        return RenameRow(*tuple(row)) if row else None

    async def rename_requests_received(self, upper_ids: Iterable[int], roots: bool,
                                       limit: int = 30) -> list[RenameRow]:
        """Pending requests to these upper organisations, and to the operator (roots) when asked."""
        ids = sorted(set(upper_ids))
        uppers = marks(ids) or "NULL"
        rows = await self._all(f"{_RENAME_SELECT} WHERE r.status = 'pending' AND (r.upper_id IN ({uppers}) "
                               "OR (? = 1 AND r.upper_id IS NULL)) ORDER BY r.id LIMIT ?", [*ids, int(roots), limit])
        return [RenameRow(*tuple(r)) for r in rows]

    async def decide_rename(self, req_id: int, approve: bool, actor_id: int, reason: str | None, now: str) -> bool:
        """Exactly one decision wins (False otherwise). Approval renames the organisation, unless a
        certified sibling has the new name meanwhile (Conflict("name_taken"), nothing written)."""
        status = "approved" if approve else "rejected"
        async with self._tx() as db:
            cur = await db.execute(
                """UPDATE rename_requests SET status = ?, reason = ?, decided_by = ?, decided_at = ?
                   WHERE id = ? AND status = 'pending'""", (status, reason, actor_id, now, req_id))
            if cur.rowcount == 0:
                return False
            req = await fetch_row(db, "SELECT org_id, upper_id, old_name, new_name FROM rename_requests "
                                      "WHERE id = ?", (req_id,))
            org_id, upper_id, old_name, new_name = tuple(req)
            if approve:
                if await fetch_one(db, "SELECT 1 FROM orgs WHERE parent_id IS ? AND name = ? AND id <> ? "
                                       "AND certified_at IS NOT NULL", (upper_id, new_name, org_id)):
                    raise Conflict("name_taken")
                await db.execute("UPDATE orgs SET name = ?, sort_key = ? WHERE id = ?",
                                 (new_name, sort_key(new_name), org_id))
                await write_audit(db, actor_id, org_id, "org.rename", f"rename_request:{req_id}",
                                  {"name": old_name}, {"name": new_name}, now)
            for target in (org_id, upper_id):
                if target is not None:
                    await write_audit(db, actor_id, target, f"cert.rename_{'approve' if approve else 'reject'}",
                                      f"rename_request:{req_id}", {"name": old_name},
                                      {"name": new_name, "status": status, "reason": reason}, now)
            return True

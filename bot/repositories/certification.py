"""Certification between organisations (CERT-1..7, MEM-8) and the org_tree closure table.

Every decision is one transaction: the status moves from 'pending' with `WHERE status = 'pending'`
(exactly one decision wins), the tree rules are checked again inside it, and the closure table,
the organisation row and the audit rows change together."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.models import Org
from bot.repositories.audit import write_audit
from bot.repositories.base import Conflict, Repository, fetch_one, fetch_row, last_id, like_pattern, marks
from bot.repositories.orgs import ORG_COLUMNS, org_from_row
from bot.repositories.renames import withdraw_renames
from bot.repositories.users import ADMIN_LANGUAGES_SQL, UserLanguage, user_language


@dataclass(frozen=True, slots=True)
class SubtreeOrg:
    """An organisation of a subtree with its depth under the subtree's top and its member count."""
    id: int
    name: str
    parent_id: int | None
    certified_at: str | None
    depth: int
    members: int


@dataclass(frozen=True, slots=True)
class CertInviteRow:
    id: int
    org_id: int
    addressee_id: int | None
    note: str | None
    created_by: int
    created_at: str
    expires_at: str  # UTC, ISO
    revoked_at: str | None


@dataclass(frozen=True, slots=True)
class CertLinkRow:
    """A certification link still usable, with its addressee's name."""
    id: int
    addressee_id: int | None
    note: str | None
    created_at: str
    expires_at: str
    addressee_name: str | None


@dataclass(frozen=True, slots=True)
class CertApplicationRow:
    id: int
    upper_id: int
    lower_id: int
    invite_id: int | None
    applicant_id: int
    status: str  # pending | approved | rejected | withdrawn
    reason: str | None
    created_at: str
    decided_by: int | None
    decided_at: str | None
    applicant_name: str | None
    applicant_phone: str | None
    decider_name: str | None


_APP_SELECT = (
    "SELECT a.id, a.upper_id, a.lower_id, a.invite_id, a.applicant_id, a.status, a.reason, a.created_at, "
    "a.decided_by, a.decided_at, COALESCE(u.name, u.first_name) AS applicant_name, u.phone AS applicant_phone, "
    "COALESCE(d.name, d.first_name) AS decider_name "
    "FROM cert_applications a JOIN users u ON u.id = a.applicant_id LEFT JOIN users d ON d.id = a.decided_by")
_CERT_INVITE_COLUMNS = "id, org_id, addressee_id, note, created_by, created_at, expires_at, revoked_at"


# -- the closure table ---------------------------------------------------------------------------
async def _attach(db: aiosqlite.Connection, lower_id: int, upper_id: int) -> None:
    """The lower organisation's whole subtree gets every ancestor of the upper one (incl. itself)."""
    await db.execute(
        """INSERT INTO org_tree (ancestor_id, descendant_id, depth)
           SELECT a.ancestor_id, d.descendant_id, a.depth + d.depth + 1
           FROM org_tree a JOIN org_tree d ON d.ancestor_id = ? WHERE a.descendant_id = ?""",
        (lower_id, upper_id))


async def _detach(db: aiosqlite.Connection, org_id: int) -> None:
    """The subtree of org_id loses every ancestor outside it; its own rows stay."""
    await db.execute(
        """DELETE FROM org_tree
           WHERE descendant_id IN (SELECT descendant_id FROM org_tree WHERE ancestor_id = ?)
             AND ancestor_id NOT IN (SELECT descendant_id FROM org_tree WHERE ancestor_id = ?)""",
        (org_id, org_id))


async def _check_attach(db: aiosqlite.Connection, lower_id: int, upper_id: int) -> aiosqlite.Row:
    """CERT-4 and ORG-2 inside the deciding transaction; returns the lower organisation's row."""
    upper = await fetch_one(db, "SELECT certified_at FROM orgs WHERE id = ?", (upper_id,))
    lower = await fetch_one(db, "SELECT name, parent_id FROM orgs WHERE id = ?", (lower_id,))
    if upper is None or lower is None:
        raise Conflict("gone")
    if upper["certified_at"] is None:
        raise Conflict("upper_uncertified")
    if lower["parent_id"] is not None:
        raise Conflict("has_upper")
    if await fetch_one(db, "SELECT 1 FROM org_tree WHERE ancestor_id = ? AND descendant_id = ?",
                       (lower_id, upper_id)):
        raise Conflict("cycle")
    if await fetch_one(db, "SELECT 1 FROM orgs WHERE parent_id = ? AND name = ? AND id <> ? "
                           "AND certified_at IS NOT NULL", (upper_id, lower["name"], lower_id)):
        raise Conflict("name_taken")
    return lower


class CertificationRepository(Repository):
    # -- the tree ------------------------------------------------------------------------------
    async def subtree_ids(self, org_id: int) -> list[int]:
        """This organisation and everything certified under it: one indexed read of the closure table."""
        rows = await self._all("SELECT descendant_id FROM org_tree WHERE ancestor_id = ?", (org_id,))
        return [r[0] for r in rows]

    async def subtree_member_count(self, org_id: int) -> int:
        return int(await self._value("SELECT COUNT(*) FROM org_tree t JOIN members m ON m.org_id = t.descendant_id "
                                     "WHERE t.ancestor_id = ?", (org_id,)))

    async def subtree_rows(self, org_id: int, limit: int = 1000) -> list[SubtreeOrg]:
        """The subtree's organisations with their depth under org_id and their member counts."""
        rows = await self._all(
            """SELECT o.id, o.name, o.parent_id, o.certified_at, t.depth,
                      (SELECT COUNT(*) FROM members m WHERE m.org_id = o.id) AS members
               FROM org_tree t JOIN orgs o ON o.id = t.descendant_id
               WHERE t.ancestor_id = ? ORDER BY t.depth, o.name, o.id LIMIT ?""", (org_id, limit))
        return [SubtreeOrg(*tuple(r)) for r in rows]

    async def subtree_size(self, org_id: int) -> int:
        return int(await self._value("SELECT COUNT(*) FROM org_tree WHERE ancestor_id = ?", (org_id,)))

    async def is_under(self, org_id: int, ancestor_id: int) -> bool:
        """True when org_id is ancestor_id or certified somewhere below it."""
        return await self._one("SELECT 1 FROM org_tree WHERE ancestor_id = ? AND descendant_id = ?",
                               (ancestor_id, org_id)) is not None

    async def lower_orgs(self, org_id: int) -> list[Org]:
        rows = await self._all(f"SELECT {ORG_COLUMNS} FROM orgs WHERE parent_id = ? ORDER BY name, id", (org_id,))
        return [org_from_row(r) for r in rows]

    async def certified_name_taken(self, upper_id: int | None, name: str, org_id: int) -> bool:
        """ORG-2: two certified organisations under the same upper one (or two roots) share no name."""
        row = await self._one(
            "SELECT 1 FROM orgs WHERE parent_id IS ? AND name = ? AND id <> ? AND certified_at IS NOT NULL",
            (upper_id, name, org_id))
        return row is not None

    async def cert_recipients(self, org_id: int) -> list[UserLanguage]:
        """Who is told about the organisation's certification: its admin group with their languages."""
        return [user_language(r) for r in await self._all(ADMIN_LANGUAGES_SQL, (org_id,))]

    # -- invitations (CERT-1) ------------------------------------------------------------------
    async def create_cert_invite(self, org_id: int, token_hash: str, addressee_id: int | None, note: str | None,
                                 created_by: int, now: str, expires_at: str) -> int:
        async with self._tx() as db:
            row = await fetch_one(db, "SELECT certified_at FROM orgs WHERE id = ?", (org_id,))
            if row is None or row["certified_at"] is None:
                raise Conflict("uncertified")
            cur = await db.execute(
                """INSERT INTO cert_invites (org_id, token_hash, addressee_id, note, created_by, created_at, expires_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (org_id, token_hash, addressee_id, note, created_by, now, expires_at))
            invite_id = last_id(cur)
            await write_audit(db, created_by, org_id, "cert.invite", f"cert_invite:{invite_id}", None,
                              {"addressee_id": addressee_id, "note": note, "expires_at": expires_at}, now)
            return invite_id

    async def cert_invites_of(self, org_id: int, not_expired_before: str, limit: int = 20) -> list[CertLinkRow]:
        """An organisation's certification links still usable (not revoked, not expired), newest
        first, with the addressee's name."""
        rows = await self._all(
            """SELECT c.id, c.addressee_id, c.note, c.created_at, c.expires_at, u.name AS addressee_name
               FROM cert_invites c LEFT JOIN users u ON u.id = c.addressee_id
               WHERE c.org_id = ? AND c.revoked_at IS NULL AND c.expires_at > ? ORDER BY c.id DESC LIMIT ?""",
            (org_id, not_expired_before, limit))
        return [CertLinkRow(*tuple(r)) for r in rows]

    async def revoke_cert_invite(self, invite_id: int, actor_id: int, now: str) -> bool:
        """False when it was revoked already (or is gone)."""
        async with self._tx() as db:
            cur = await db.execute("UPDATE cert_invites SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL "
                                   "RETURNING org_id", (now, invite_id))
            row = await cur.fetchone()
            if row is None:
                return False
            await write_audit(db, actor_id, row[0], "cert.invite_revoke", f"cert_invite:{invite_id}",
                              {"revoked_at": None}, {"revoked_at": now}, now)
            return True

    async def get_cert_invite(self, invite_id: int) -> CertInviteRow | None:
        row = await self._one(f"SELECT {_CERT_INVITE_COLUMNS} FROM cert_invites WHERE id = ?", (invite_id,))
        return CertInviteRow(*tuple(row)) if row else None

    async def cert_invite_by_hash(self, token_hash: str) -> CertInviteRow | None:
        row = await self._one(f"SELECT {_CERT_INVITE_COLUMNS} FROM cert_invites WHERE token_hash = ?",
                              (token_hash,))
        return CertInviteRow(*tuple(row)) if row else None

    # -- applications (CERT-2, CERT-3) ---------------------------------------------------------
    async def apply_for_certification(self, invite_id: int, upper_id: int, lower_id: int, applicant_id: int,
                                      now: str) -> int:
        """A pending application. Raises Conflict: gone, upper_uncertified, has_upper, cycle, name_taken,
        pending (this organisation has one pending already)."""
        async with self._tx() as db:
            await _check_attach(db, lower_id, upper_id)
            try:
                cur = await db.execute(
                    """INSERT INTO cert_applications (upper_id, lower_id, invite_id, applicant_id, created_at)
                       VALUES (?, ?, ?, ?, ?)""", (upper_id, lower_id, invite_id, applicant_id, now))
            except aiosqlite.IntegrityError:
                raise Conflict("pending") from None
            app_id = last_id(cur)
            for org_id, action in ((lower_id, "cert.apply"), (upper_id, "cert.received")):
                await write_audit(db, applicant_id, org_id, action, f"cert_application:{app_id}", None,
                                  {"upper_id": upper_id, "lower_id": lower_id, "status": "pending"}, now)
            return app_id

    async def get_cert_application(self, app_id: int) -> CertApplicationRow | None:
        row = await self._one(f"{_APP_SELECT} WHERE a.id = ?", (app_id,))
        return CertApplicationRow(*tuple(row)) if row else None

    async def pending_cert_application(self, lower_id: int) -> CertApplicationRow | None:
        row = await self._one(f"{_APP_SELECT} WHERE a.lower_id = ? AND a.status = 'pending'", (lower_id,))
        return CertApplicationRow(*tuple(row)) if row else None

    async def cert_applications_received(self, upper_ids: Iterable[int], limit: int = 30) -> list[CertApplicationRow]:
        return await self._pending_applications("upper_id", upper_ids, limit)

    async def cert_applications_sent(self, lower_ids: Iterable[int], limit: int = 30) -> list[CertApplicationRow]:
        return await self._pending_applications("lower_id", lower_ids, limit)

    async def _pending_applications(self, side: str, org_ids: Iterable[int], limit: int) -> list[CertApplicationRow]:
        ids = sorted(set(org_ids))
        if not ids:
            return []
        rows = await self._all(f"{_APP_SELECT} WHERE a.status = 'pending' AND a.{side} IN ({marks(ids)}) "
                               "ORDER BY a.id LIMIT ?", [*ids, limit])
        return [CertApplicationRow(*tuple(r)) for r in rows]

    async def decide_cert_application(self, app_id: int, approve: bool, actor_id: int, reason: str | None,
                                      now: str) -> bool:
        """Exactly one decision wins: False when it was decided (or withdrawn) already. Approval
        re-checks CERT-4/ORG-2 (raises Conflict, nothing written), certifies the lower organisation
        under the upper one and puts its subtree under the upper one's ancestors."""
        status = "approved" if approve else "rejected"
        async with self._tx() as db:
            cur = await db.execute(
                """UPDATE cert_applications SET status = ?, reason = ?, decided_by = ?, decided_at = ?
                   WHERE id = ? AND status = 'pending'""", (status, reason, actor_id, now, app_id))
            if cur.rowcount == 0:
                return False
            app = await fetch_row(db, "SELECT upper_id, lower_id FROM cert_applications WHERE id = ?", (app_id,))
            upper_id, lower_id = app["upper_id"], app["lower_id"]
            before: dict[str, Any] | None = None
            if approve:
                lower = await _check_attach(db, lower_id, upper_id)
                before = {"parent_id": lower["parent_id"]}
                await db.execute("UPDATE orgs SET parent_id = ?, certified_at = ? WHERE id = ?",
                                 (upper_id, now, lower_id))
                await _attach(db, lower_id, upper_id)
                await withdraw_renames(db, lower_id, now)
            after = {"status": status, "upper_id": upper_id, "lower_id": lower_id, "reason": reason}
            actions = ("cert.approve", "cert.approved") if approve else ("cert.reject", "cert.rejected")
            for org_id, action in zip((upper_id, lower_id), actions):
                await write_audit(db, actor_id, org_id, action, f"cert_application:{app_id}", before or
                                  {"status": "pending"}, after, now)
            return True

    async def withdraw_cert_application(self, app_id: int, actor_id: int, now: str) -> bool:
        async with self._tx() as db:
            cur = await db.execute(
                """UPDATE cert_applications SET status = 'withdrawn', decided_by = ?, decided_at = ?
                   WHERE id = ? AND status = 'pending'""", (actor_id, now, app_id))
            if cur.rowcount == 0:
                return False
            app = await fetch_row(db, "SELECT upper_id, lower_id FROM cert_applications WHERE id = ?", (app_id,))
            for org_id in (app["lower_id"], app["upper_id"]):
                await write_audit(db, actor_id, org_id, "cert.withdraw", f"cert_application:{app_id}",
                                  {"status": "pending"}, {"status": "withdrawn"}, now)
            return True

    # -- un-certify (CERT-6), roots (CERT-7) -----------------------------------------------------
    async def uncertify_org(self, org_id: int, actor_id: int, now: str) -> int | None:
        """Bottom-up only: raises Conflict("has_lower") or Conflict("not_certified"). The organisation
        loses its upper one (returned, None for a root) and its certification; the closure rows that
        tied it to its ancestors go; a pending rename request (to the old upper) is withdrawn."""
        async with self._tx() as db:
            row = await fetch_one(db, "SELECT parent_id, certified_at FROM orgs WHERE id = ?", (org_id,))
            if row is None or row["certified_at"] is None:
                raise Conflict("not_certified")
            if await fetch_one(db, "SELECT 1 FROM orgs WHERE parent_id = ?", (org_id,)):
                raise Conflict("has_lower")
            parent_id: int | None = row["parent_id"]
            await db.execute("UPDATE orgs SET parent_id = NULL, certified_at = NULL WHERE id = ?", (org_id,))
            await _detach(db, org_id)
            await withdraw_renames(db, org_id, now)
            before = {"parent_id": parent_id, "certified_at": row["certified_at"]}
            after = {"parent_id": None, "certified_at": None}
            await write_audit(db, actor_id, org_id, "cert.uncertify", f"org:{org_id}", before, after, now)
            if parent_id is not None:
                await write_audit(db, actor_id, parent_id, "cert.uncertify_lower", f"org:{org_id}", before, after,
                                  now)
            return parent_id

    async def certify_root(self, org_id: int, actor_id: int, now: str) -> None:
        """CERT-7: raises Conflict: gone, has_upper, certified, pending (it applied somewhere), name_taken."""
        async with self._tx() as db:
            row = await fetch_one(db, "SELECT name, parent_id, certified_at FROM orgs WHERE id = ?", (org_id,))
            if row is None:
                raise Conflict("gone")
            if row["parent_id"] is not None:
                raise Conflict("has_upper")
            if row["certified_at"] is not None:
                raise Conflict("certified")
            if await fetch_one(db, "SELECT 1 FROM cert_applications WHERE lower_id = ? AND status = 'pending'",
                               (org_id,)):
                raise Conflict("pending")
            if await fetch_one(db, "SELECT 1 FROM orgs WHERE parent_id IS NULL AND name = ? AND id <> ? "
                                   "AND certified_at IS NOT NULL", (row["name"], org_id)):
                raise Conflict("name_taken")
            await db.execute("UPDATE orgs SET certified_at = ? WHERE id = ?", (now, org_id))
            await write_audit(db, actor_id, org_id, "cert.root", f"org:{org_id}", {"certified_at": None},
                              {"certified_at": now}, now)

    async def root_candidates(self, text: str | None, org_id: int | None, limit: int) -> list[Org]:
        """Organisations without an upper one and not certified, newest first; by name part or id."""
        clauses: list[str] = ["parent_id IS NULL", "certified_at IS NULL"]
        params: list[Any] = []
        if org_id is not None:
            clauses.append("id = ?")
            params.append(org_id)
        elif text:
            clauses.append("name LIKE ? ESCAPE '\\'")
            params.append(like_pattern(text))
        rows = await self._all(f"SELECT {ORG_COLUMNS} FROM orgs WHERE {' AND '.join(clauses)} "
                               "ORDER BY id DESC LIMIT ?", [*params, limit])
        return [org_from_row(r) for r in rows]

    async def certified_roots(self, limit: int) -> list[Org]:
        rows = await self._all(f"SELECT {ORG_COLUMNS} FROM orgs WHERE parent_id IS NULL AND certified_at IS NOT NULL "
                               "ORDER BY name, id LIMIT ?", (limit,))
        return [org_from_row(r) for r in rows]

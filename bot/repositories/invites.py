"""Join links and join requests (MEM-6)."""
from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from bot.repositories import membership_history as history
from bot.repositories.audit import write_audit
from bot.repositories.base import Conflict, Repository, fetch_one, fetch_row, fetch_value, last_id
from bot.repositories.users import ADMIN_LANGUAGES_SQL, UserLanguage, user_language


@dataclass(frozen=True, slots=True)
class InviteRow:
    id: int
    org_id: int
    branch_id: int | None
    branch_name: str | None
    created_by: int
    created_at: str
    expires_at: str  # UTC, ISO
    max_uses: int | None
    uses: int
    revoked_at: str | None


@dataclass(frozen=True, slots=True)
class JoinBranchRow:
    """A branch as the joiner chooses it."""
    id: int
    name: str
    parent_id: int | None
    parent_name: str | None


@dataclass(frozen=True, slots=True)
class ListedMember:
    """The member row a phone has in an organisation."""
    id: int
    branch_id: int | None
    branch_name: str | None


@dataclass(frozen=True, slots=True)
class JoinRequestRow:
    id: int
    org_id: int
    branch_id: int | None
    branch_name: str | None
    user_id: int
    user_name: str | None
    user_phone: str | None
    language: str | None
    tg_language: str | None
    invite_id: int | None
    status: str  # pending | approved | rejected
    created_at: str
    decided_by: int | None
    decided_at: str | None


_INVITE_SELECT = ("SELECT i.id, i.org_id, i.branch_id, b.name AS branch_name, i.created_by, i.created_at, "
                  "i.expires_at, i.max_uses, i.uses, i.revoked_at FROM invites i "
                  "LEFT JOIN branches b ON b.id = i.branch_id")


def _invite(row: aiosqlite.Row) -> InviteRow:
    return InviteRow(*tuple(row))


async def _use_invite(db: aiosqlite.Connection, invite_id: int, now_utc: str) -> None:
    """Counts one use, only while the link is valid and under its limit, so that concurrent
    joins can never exceed the limit. Raises Conflict("invite") otherwise."""
    cur = await db.execute(
        """UPDATE invites SET uses = uses + 1 WHERE id = ? AND revoked_at IS NULL AND expires_at > ?
           AND (max_uses IS NULL OR uses < max_uses)""", (invite_id, now_utc))
    if cur.rowcount == 0:
        raise Conflict("invite")


class InvitesRepository(Repository):
    async def create_invite(self, org_id: int, branch_id: int | None, token_hash: str, created_by: int,
                            now: str, expires_at: str, max_uses: int | None) -> int | None:
        """A new join link and its audit row; None when the branch is not one of the organisation's.
        A link with this token hash already made raises Conflict("invite_exists") (a repeated press)."""
        async with self._tx() as db:
            if branch_id is not None and await fetch_one(
                    db, "SELECT 1 FROM branches WHERE id = ? AND org_id = ?", (branch_id, org_id)) is None:
                return None
            cur = await db.execute(
                """INSERT INTO invites (org_id, branch_id, token_hash, created_by, created_at, expires_at, max_uses)
                   VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token_hash) DO NOTHING""",
                (org_id, branch_id, token_hash, created_by, now, expires_at, max_uses))
            if cur.rowcount == 0:
                raise Conflict("invite_exists")
            invite_id = last_id(cur)
            await write_audit(db, created_by, org_id, "invite.create", f"invite:{invite_id}", None,
                              {"branch_id": branch_id, "expires_at": expires_at, "max_uses": max_uses}, now)
            return invite_id

    async def get_invite(self, invite_id: int) -> InviteRow | None:
        row = await self._one(f"{_INVITE_SELECT} WHERE i.id = ?", (invite_id,))
        return _invite(row) if row else None

    async def invite_by_hash(self, token_hash: str) -> InviteRow | None:
        row = await self._one(f"{_INVITE_SELECT} WHERE i.token_hash = ?", (token_hash,))
        return _invite(row) if row else None

    async def org_invites(self, org_id: int, not_expired_before: str, limit: int = 100) -> list[InviteRow]:
        """The organisation's links expiring after the given time, newest first."""
        rows = await self._all(f"{_INVITE_SELECT} WHERE i.org_id = ? AND i.expires_at > ? ORDER BY i.id DESC LIMIT ?",
                               (org_id, not_expired_before, limit))
        return [_invite(r) for r in rows]

    async def revoke_invite(self, invite_id: int, actor_id: int, now: str) -> bool:
        """False when it was revoked already (or is gone)."""
        async with self._tx() as db:
            cur = await db.execute("UPDATE invites SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                   (now, invite_id))
            if cur.rowcount == 0:
                return False
            org_id = await fetch_value(db, "SELECT org_id FROM invites WHERE id = ?", (invite_id,))
            await write_audit(db, actor_id, org_id, "invite.revoke", f"invite:{invite_id}", {"revoked_at": None},
                              {"revoked_at": now}, now)
            return True

    async def join_branches(self, org_id: int) -> list[JoinBranchRow]:
        """Branches as the joiner chooses them: each with its parent's name."""
        rows = await self._all(
            """SELECT b.id, b.name, b.parent_id, p.name AS parent_name FROM branches b
               LEFT JOIN branches p ON p.id = b.parent_id WHERE b.org_id = ?
               ORDER BY COALESCE(p.name, b.name), b.parent_id IS NOT NULL, b.name""", (org_id,))
        return [JoinBranchRow(*tuple(r)) for r in rows]

    async def join_admins(self, org_id: int) -> list[UserLanguage]:
        """Who decides join requests: each admin of the organisation with their language."""
        return [user_language(r) for r in await self._all(ADMIN_LANGUAGES_SQL, (org_id,))]

    async def membership_in(self, org_id: int, phone: str) -> ListedMember | None:
        row = await self._one(
            """SELECT m.id, m.branch_id, b.name AS branch_name FROM members m
               LEFT JOIN branches b ON b.id = m.branch_id WHERE m.org_id = ? AND m.phone = ?""", (org_id, phone))
        return ListedMember(row["id"], row["branch_id"], row["branch_name"]) if row else None

    async def pending_join_request(self, org_id: int, user_id: int) -> int | None:
        value: int | None = await self._value(
            "SELECT id FROM join_requests WHERE org_id = ? AND user_id = ? AND status = 'pending'", (org_id, user_id))
        return value

    async def join_by_invite(self, invite_id: int, org_id: int, branch_id: int | None, user_id: int, name: str,
                             phone: str, now: str, now_utc: str) -> int:
        """Adds the activated member and counts the use, in one transaction. Raises Conflict("invite")
        (the link may not be used any more) or Conflict("member") (already listed)."""
        async with self._tx() as db:
            await _use_invite(db, invite_id, now_utc)
            cur = await db.execute(
                """INSERT INTO members (org_id, branch_id, name, phone, activated_at, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, phone) DO NOTHING""",
                (org_id, branch_id, name, phone, now, now, now))
            if cur.rowcount == 0:
                raise Conflict("member")
            member_id = last_id(cur)
            await history.history_join(db, org_id, branch_id, phone, now)
            await write_audit(db, user_id, org_id, "member.join", f"member:{member_id}", None,
                              {"invite_id": invite_id, "branch_id": branch_id, "name": name}, now)
            return member_id

    async def request_join(self, invite_id: int, org_id: int, branch_id: int | None, user_id: int, phone: str,
                           now: str, now_utc: str) -> int:
        """A pending join request and the use it counts, in one transaction. Raises Conflict("invite"),
        Conflict("member") or Conflict("pending") (one pending request per organisation and person)."""
        async with self._tx() as db:
            if await fetch_one(db, "SELECT 1 FROM members WHERE org_id = ? AND phone = ?", (org_id, phone)):
                raise Conflict("member")
            await _use_invite(db, invite_id, now_utc)
            try:
                cur = await db.execute(
                    """INSERT INTO join_requests (org_id, branch_id, user_id, invite_id, created_at)
                       VALUES (?, ?, ?, ?, ?)""", (org_id, branch_id, user_id, invite_id, now))
            except aiosqlite.IntegrityError:
                raise Conflict("pending") from None
            return last_id(cur)

    async def get_join_request(self, request_id: int) -> JoinRequestRow | None:
        row = await self._one(
            """SELECT r.id, r.org_id, r.branch_id, b.name AS branch_name, r.user_id, u.name AS user_name,
                      u.phone AS user_phone, u.language, u.tg_language, r.invite_id, r.status, r.created_at,
                      r.decided_by, r.decided_at
               FROM join_requests r JOIN users u ON u.id = r.user_id
               LEFT JOIN branches b ON b.id = r.branch_id WHERE r.id = ?""", (request_id,))
        return JoinRequestRow(*tuple(row)) if row else None

    async def decide_join_request(self, request_id: int, approve: bool, actor_id: int, now: str) -> bool:
        """Exactly one decision wins: False when the request was decided already. Approval adds
        the activated member in the same transaction; both write the audit row."""
        status = "approved" if approve else "rejected"
        async with self._tx() as db:
            cur = await db.execute(
                """UPDATE join_requests SET status = ?, decided_by = ?, decided_at = ?
                   WHERE id = ? AND status = 'pending'""", (status, actor_id, now, request_id))
            if cur.rowcount == 0:
                return False
            req = await fetch_row(db, "SELECT org_id, branch_id, user_id FROM join_requests WHERE id = ?",
                                  (request_id,))
            if approve:
                await db.execute(
                    """INSERT INTO members (org_id, branch_id, name, phone, activated_at, created_at, updated_at)
                       SELECT ?, ?, u.name, u.phone, ?, ?, ? FROM users u WHERE u.id = ? AND u.phone IS NOT NULL
                       ON CONFLICT (org_id, phone) DO UPDATE
                       SET activated_at = COALESCE(members.activated_at, excluded.activated_at)""",
                    (req["org_id"], req["branch_id"], now, now, now, req["user_id"]))
                phone = await fetch_value(db, "SELECT phone FROM users WHERE id = ?", (req["user_id"],))
                if phone:
                    await history.history_ensure_open(db, req["org_id"], req["branch_id"], phone, now)
            await write_audit(db, actor_id, req["org_id"], f"join.{'approve' if approve else 'reject'}",
                              f"join_request:{request_id}", {"status": "pending"},
                              {"status": status, "user_id": req["user_id"], "branch_id": req["branch_id"]}, now)
            return True

"""Members of an organisation: add, edit, move, remove, list, search, import, export (MEM), and the
memberships a phone has (REG-7)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from types import EllipsisType
from typing import Any

import aiosqlite

from bot.repositories import membership_history as history
from bot.repositories.audit import write_audit
from bot.repositories.base import Conflict, Repository, fetch_one, last_id, like_pattern
from bot.repositories.names import sort_key


@dataclass(frozen=True, slots=True)
class Membership:
    org_id: int
    org_name: str
    certified: bool
    branch_name: str | None


@dataclass(frozen=True, slots=True)
class MemberRow:
    id: int
    org_id: int
    name: str
    phone: str
    branch_id: int | None
    branch: str | None  # the branch's name
    note: str | None
    activated: bool  # a registered user has the phone


@dataclass(frozen=True, slots=True)
class MemberBranchRow:
    id: int
    name: str
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class MemberFields:
    """What an edit may change (and the audit row records)."""
    name: str
    phone: str
    branch_id: int | None


@dataclass(frozen=True, slots=True)
class MemberExportRow:
    name: str
    phone: str
    branch: str | None
    activated: bool
    points_7d: int
    points_total: int


async def memberships_of(db: aiosqlite.Connection, phone: str) -> list[Membership]:
    async with db.execute(
        """SELECT o.id, o.name, o.certified_at, b.name AS branch FROM members m
           JOIN orgs o ON o.id = m.org_id LEFT JOIN branches b ON b.id = m.branch_id
           WHERE m.phone = ? ORDER BY o.sort_key, o.id""", (phone,)) as cur:
        rows = await cur.fetchall()
    return [Membership(r["id"], r["name"], r["certified_at"] is not None, r["branch"]) for r in rows]


_MEMBER_SELECT = (
    "SELECT m.id, m.org_id, m.name, m.phone, m.branch_id, b.name AS branch, m.note, "
    "EXISTS (SELECT 1 FROM users u WHERE u.phone = m.phone) AS activated "
    "FROM members m LEFT JOIN branches b ON b.id = m.branch_id")


def _member(row: aiosqlite.Row) -> MemberRow:
    return MemberRow(row["id"], row["org_id"], row["name"], row["phone"], row["branch_id"], row["branch"],
                     row["note"], bool(row["activated"]))


def _member_where(org_id: int, branch_id: int | None, text: str | None, digits: str | None
                  ) -> tuple[str, list[Any]]:
    """branch_id None = every branch, 0 = members without a branch; text matches names,
    digits match phones (MEM-7)."""
    clauses: list[str] = ["m.org_id = ?"]
    params: list[Any] = [org_id]
    if branch_id == 0:
        clauses.append("m.branch_id IS NULL")
    elif branch_id is not None:
        clauses.append("m.branch_id = ?")
        params.append(branch_id)
    alternatives = []
    if text:
        alternatives.append("m.name LIKE ? ESCAPE '\\'")
        params.append(like_pattern(text))
    if digits:
        alternatives.append("m.phone LIKE ?")
        params.append(f"%{digits}%")
    if alternatives:
        clauses.append("(" + " OR ".join(alternatives) + ")")
    return " AND ".join(clauses), params


async def _check_branch(db: aiosqlite.Connection, org_id: int, branch_id: int | None) -> None:
    if branch_id is None:
        return
    if await fetch_one(db, "SELECT 1 FROM branches WHERE id = ? AND org_id = ?", (branch_id, org_id)) is None:
        raise Conflict("branch")


async def _member_fields(db: aiosqlite.Connection, org_id: int, member_id: int) -> MemberFields | None:
    row = await fetch_one(db, "SELECT name, phone, branch_id FROM members WHERE id = ? AND org_id = ?",
                          (member_id, org_id))
    return MemberFields(row["name"], row["phone"], row["branch_id"]) if row else None


class MembersRepository(Repository):
    async def member_branches(self, org_id: int) -> list[MemberBranchRow]:
        rows = await self._all("SELECT id, name, parent_id FROM branches WHERE org_id = ? ORDER BY sort_key, id",
                               (org_id,))
        return [MemberBranchRow(r["id"], r["name"], r["parent_id"]) for r in rows]

    async def member_counts(self, org_id: int, branch_id: int | None = None, text: str | None = None,
                            digits: str | None = None) -> tuple[int, int]:
        """(members, activated) among those matching the filter."""
        where, params = _member_where(org_id, branch_id, text, digits)
        row = await self._one(
            "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM users u WHERE u.phone = m.phone) "
            f"THEN 1 ELSE 0 END), 0) AS activated FROM members m WHERE {where}", params)
        return (int(row["total"]), int(row["activated"])) if row else (0, 0)

    async def member_page(self, org_id: int, limit: int, offset: int, branch_id: int | None = None,
                          text: str | None = None, digits: str | None = None) -> list[MemberRow]:
        where, params = _member_where(org_id, branch_id, text, digits)
        rows = await self._all(f"{_MEMBER_SELECT} WHERE {where} ORDER BY m.sort_key, m.id LIMIT ? OFFSET ?",
                               [*params, limit, offset])
        return [_member(r) for r in rows]

    async def get_member(self, member_id: int) -> MemberRow | None:
        row = await self._one(f"{_MEMBER_SELECT} WHERE m.id = ?", (member_id,))
        return _member(row) if row else None

    async def member_phone_in_org(self, org_id: int, phone: str) -> bool:
        return await self._one("SELECT 1 FROM members WHERE org_id = ? AND phone = ?", (org_id, phone)) is not None

    async def other_orgs_listing_phone(self, phone: str, org_id: int) -> list[str]:
        """Names of the other organisations that list this phone (FAQ 8), nothing more."""
        rows = await self._all(
            "SELECT DISTINCT o.name, o.sort_key FROM members m JOIN orgs o ON o.id = m.org_id "
            "WHERE m.phone = ? AND m.org_id <> ? ORDER BY o.sort_key", (phone, org_id))
        return [r["name"] for r in rows]

    async def add_member(self, actor_id: int, org_id: int, name: str, phone: str, branch_id: int | None,
                         now: str) -> int:
        """MEM-1: one member, activated at once when a registered user has the phone (FAQ 18).
        Raises Conflict("phone") when the organisation lists the phone already, Conflict("branch")."""
        async with self._tx() as db:
            await _check_branch(db, org_id, branch_id)
            try:
                cur = await db.execute(
                    "INSERT INTO members (org_id, branch_id, name, sort_key, phone, activated_at, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, (SELECT ? FROM users WHERE phone = ?), ?, ?)",
                    (org_id, branch_id, name, sort_key(name), phone, now, phone, now, now))
            except aiosqlite.IntegrityError as exc:
                raise Conflict("phone" if "UNIQUE" in str(exc) else "branch") from None
            member_id = last_id(cur)
            await history.history_join(db, org_id, branch_id, phone, now)
            await write_audit(db, actor_id, org_id, "member.add", f"member:{member_id}", None,
                              {"name": name, "phone": phone, "branch_id": branch_id}, now)
            return member_id

    async def update_member(self, actor_id: int, org_id: int, member_id: int, now: str, *,
                            name: str | None = None, phone: str | None = None,
                            branch_id: int | None | EllipsisType = ...) -> tuple[MemberFields, MemberFields] | None:
        """MEM-2: name, phone (activation recomputed) or branch (`...`: unchanged); never users or points
        (FAQ 20). Returns (before, after); None when the member is gone; raises Conflict("phone"),
        Conflict("branch")."""
        async with self._tx() as db:
            before = await _member_fields(db, org_id, member_id)
            if before is None:
                return None
            if not isinstance(branch_id, EllipsisType):
                await _check_branch(db, org_id, branch_id)
            after = MemberFields(before.name if name is None else name, before.phone if phone is None else phone,
                                 before.branch_id if isinstance(branch_id, EllipsisType) else branch_id)
            try:
                await db.execute(
                    "UPDATE members SET name = ?, sort_key = ?, phone = ?, branch_id = ?, updated_at = ?, "
                    "activated_at = CASE WHEN phone = ? THEN activated_at "
                    "ELSE (SELECT ? FROM users WHERE phone = ?) END WHERE id = ?",
                    (after.name, sort_key(after.name), after.phone, after.branch_id, now, after.phone, now,
                     after.phone, member_id))
            except aiosqlite.IntegrityError as exc:
                raise Conflict("phone" if "UNIQUE" in str(exc) else "branch") from None
            if after.phone != before.phone:
                await history.history_leave(db, org_id, before.phone, now)
                await history.history_join(db, org_id, after.branch_id, after.phone, now)
            elif after.branch_id != before.branch_id:
                await history.history_move(db, org_id, after.phone, after.branch_id, now)
            old, new = asdict(before), asdict(after)
            changed = [k for k in old if old[k] != new[k]]
            action = "member.move" if changed == ["branch_id"] else "member.edit"
            await write_audit(db, actor_id, org_id, action, f"member:{member_id}", old, new, now)
            return before, after

    async def remove_member(self, actor_id: int, org_id: int, member_id: int, now: str) -> MemberFields | None:
        """MEM-2: the membership goes; the user and their points stay (FAQ 20)."""
        async with self._tx() as db:
            before = await _member_fields(db, org_id, member_id)
            if before is None:
                return None
            await db.execute("DELETE FROM members WHERE id = ?", (member_id,))
            await history.history_leave(db, org_id, before.phone, now)
            await write_audit(db, actor_id, org_id, "member.remove", f"member:{member_id}", asdict(before), None, now)
            return before

    async def listed_names(self, org_id: int) -> dict[str, tuple[int, str]]:
        """MEM-4: phone → (member id, name) of everyone the organisation lists."""
        rows = await self._all("SELECT id, name, phone FROM members WHERE org_id = ?", (org_id,))
        return {r["phone"]: (r["id"], r["name"]) for r in rows}

    async def resolve_import_names(self, actor_id: int, org_id: int, changes: list[tuple[int, str, str]],
                                   update: bool, now: str) -> int:
        """MEM-4: an import's rows whose phone was listed under another name: `changes` are (member
        id, listed name, the file's name). Updating renames each member still listed under that name
        (a member.edit audit row each); either decision is one member.import_names audit row.
        Returns how many members were renamed."""
        renamed = 0
        async with self._tx() as db:
            for member_id, listed, name in changes if update else []:
                cur = await db.execute("UPDATE members SET name = ?, sort_key = ?, updated_at = ? WHERE id = ? "
                                       "AND org_id = ? AND name = ?",
                                       (name, sort_key(name), now, member_id, org_id, listed))
                if cur.rowcount:
                    renamed += 1
                    await write_audit(db, actor_id, org_id, "member.edit", f"member:{member_id}", {"name": listed},
                                      {"name": name}, now)
            await write_audit(db, actor_id, org_id, "member.import_names", None, None,
                              {"decision": "update" if update else "keep", "rows": len(changes),
                               "renamed": renamed}, now)
        return renamed

    async def import_members(self, actor_id: int, org_id: int, rows: list[tuple[str, str, str, str]],
                             new_branches: list[str], now: str) -> tuple[int, int, list[str]]:
        """MEM-4 in one transaction: creates `new_branches`, adds the rows (name, phone, branch
        name, note) whose phone the organisation does not list yet, activates them by one UPDATE.
        Returns (added, already present, branches created). Raises Conflict("branch") when a
        row names a branch that does not exist (nothing is written then)."""
        async with self._tx() as db:
            created = await self._create_branches(db, org_id, new_branches, now)
            async with db.execute("SELECT id, name FROM branches WHERE org_id = ?", (org_id,)) as cur:
                branch_ids = {r["name"]: r["id"] for r in await cur.fetchall()}
            if any(b not in branch_ids for _, _, b, _ in rows):
                raise Conflict("branch")
            async with db.execute("SELECT phone FROM members WHERE org_id = ?", (org_id,)) as cur:
                listed = {r["phone"] for r in await cur.fetchall()}
            new = [(org_id, branch_ids[b], name, sort_key(name), phone, note or None, now, now)
                   for name, phone, b, note in rows if phone not in listed]
            await db.executemany(
                "INSERT INTO members (org_id, branch_id, name, sort_key, phone, note, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, phone) DO NOTHING", new)
            await history.history_join_many(db, [(o, br, phone) for o, br, _, _, phone, *_ in new], now)
            if new:
                await db.execute(
                    "UPDATE members SET activated_at = ? WHERE org_id = ? AND activated_at IS NULL "
                    "AND phone IN (SELECT phone FROM users WHERE phone IS NOT NULL)", (now, org_id))
            for name in created:
                await write_audit(db, actor_id, org_id, "branch.create", f"branch:{branch_ids[name]}", None,
                                  {"name": name, "via": "member.import"}, now)
            await write_audit(db, actor_id, org_id, "member.import", None, None,
                              {"added": len(new), "present": len(rows) - len(new), "branches": created}, now)
            return len(new), len(rows) - len(new), created

    @staticmethod
    async def _create_branches(db: aiosqlite.Connection, org_id: int, names: list[str], now: str) -> list[str]:
        """The branches of an import that the organisation does not have yet (their names)."""
        if not names:
            return []
        async with db.execute("SELECT name FROM branches WHERE org_id = ?", (org_id,)) as cur:
            existing = {r["name"] for r in await cur.fetchall()}
        created = [n for n in dict.fromkeys(names) if n not in existing]
        await db.executemany(
            "INSERT INTO branches (org_id, name, sort_key, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (org_id, name) DO NOTHING", [(org_id, n, sort_key(n), now) for n in created])
        return created

    async def member_export_rows(self, org_id: int, since_day: str) -> list[MemberExportRow]:
        """MEM-5: each member with their branch, activation and points since `since_day` and in all,
        the points from the ledger of the user with the member's phone."""
        rows = await self._all(
            """SELECT m.name, m.phone, b.name AS branch, u.id IS NOT NULL AS activated,
                      COALESCE(SUM(CASE WHEN p.day >= ? THEN p.amount ELSE 0 END), 0) AS points_7d,
                      COALESCE(SUM(p.amount), 0) AS points_total
               FROM members m
               LEFT JOIN branches b ON b.id = m.branch_id
               LEFT JOIN users u ON u.phone = m.phone
               LEFT JOIN points p ON p.user_id = u.id
               WHERE m.org_id = ?
               GROUP BY m.id, m.name, m.phone, b.name, u.id, b.sort_key, m.sort_key
               ORDER BY b.sort_key, m.sort_key, m.id""", (since_day, org_id))
        return [MemberExportRow(r["name"], r["phone"], r["branch"], bool(r["activated"]), r["points_7d"],
                                r["points_total"]) for r in rows]

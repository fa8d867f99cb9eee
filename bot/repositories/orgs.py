"""Organisations, their branches and their admin group (ORG)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import aiosqlite

from bot.models import Org
from bot.repositories import membership_history as history
from bot.repositories.audit import write_audit
from bot.repositories.base import Conflict, Repository, fetch_row, fetch_value, last_id, marks
from bot.repositories.names import sort_key
from bot.repositories.users import menus_due

ORG_COLUMNS = ("id, name, region, kind, parent_id, certified_at, join_approval, protect_content, created_by, "
               "created_at")


def org_from_row(row: aiosqlite.Row) -> Org:
    """An `orgs` row (selected with ORG_COLUMNS) as the model."""
    values = {k: row[k] for k in row.keys()}  # noqa: SIM118 - `in` on a sqlite3.Row tests its values
    values["join_approval"] = bool(values["join_approval"])
    values["protect_content"] = bool(values["protect_content"])
    return Org(**values)


@dataclass(frozen=True, slots=True)
class OrgCounts:
    branches: int
    members: int
    activated: int
    lower: int  # organisations certified directly under it


@dataclass(frozen=True, slots=True)
class AdminRow:
    user_id: int
    role: str  # main | admin
    name: str | None
    phone: str | None
    verified: bool


@dataclass(frozen=True, slots=True)
class BranchRow:
    id: int
    parent_id: int | None
    name: str
    kind: str  # general | branch
    members: int
    children: int


class OrgsRepository(Repository):
    async def get_org(self, org_id: int) -> Org | None:
        row = await self._one(f"SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?", (org_id,))
        return org_from_row(row) if row else None

    async def orgs_by_ids(self, org_ids: Iterable[int]) -> list[Org]:
        ids = sorted(set(org_ids))
        if not ids:
            return []
        rows = await self._all(f"SELECT {ORG_COLUMNS} FROM orgs WHERE id IN ({marks(ids)}) ORDER BY sort_key, id", ids)
        return [org_from_row(r) for r in rows]

    async def create_org(self, actor_id: int, kind: str, name: str, region: str, now: str) -> int:
        """ORG-1: the organisation and its main admin (the creator), with the audit row."""
        async with self._tx(admins=True) as db:
            cur = await db.execute(
                "INSERT INTO orgs (name, sort_key, region, kind, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, sort_key(name), region, kind, actor_id, now))
            org_id = last_id(cur)
            await db.execute("INSERT INTO org_admins (org_id, user_id, role, added_at) VALUES (?, ?, 'main', ?)",
                             (org_id, actor_id, now))
            await menus_due(db, (actor_id,), now)
            await db.execute("INSERT INTO org_tree (ancestor_id, descendant_id, depth) VALUES (?, ?, 0)",
                             (org_id, org_id))
            await write_audit(db, actor_id, org_id, "org.create", name, None,
                              {"name": name, "kind": kind, "region": region}, now)
            return org_id

    async def org_counts(self, org_id: int) -> OrgCounts:
        row = await self._one(
            """SELECT (SELECT COUNT(*) FROM branches WHERE org_id = ?) AS branches,
                      (SELECT COUNT(*) FROM members WHERE org_id = ?) AS members,
                      (SELECT COUNT(*) FROM members WHERE org_id = ? AND activated_at IS NOT NULL) AS activated,
                      (SELECT COUNT(*) FROM orgs WHERE parent_id = ?) AS lower""",
            (org_id, org_id, org_id, org_id))
        return OrgCounts(*tuple(row)) if row else OrgCounts(0, 0, 0, 0)

    async def org_admin_rows(self, org_id: int) -> list[AdminRow]:
        """The admin group: main admin first, then by name (pinyin)."""
        rows = await self._all(
            """SELECT a.user_id, a.role, u.name, u.phone, u.verified_at IS NOT NULL AS verified FROM org_admins a
               JOIN users u ON u.id = a.user_id WHERE a.org_id = ?
               ORDER BY a.role = 'main' DESC, u.sort_key, a.user_id""", (org_id,))
        return [AdminRow(r["user_id"], r["role"], r["name"], r["phone"], bool(r["verified"])) for r in rows]

    async def set_org_flag(self, actor_id: int, org_id: int, flag: str, value: bool, now: str) -> None:
        if flag not in ("join_approval", "protect_content"):
            raise ValueError(flag)
        async with self._tx() as db:
            before = bool(await fetch_value(db, f"SELECT {flag} FROM orgs WHERE id = ?", (org_id,)))
            await db.execute(f"UPDATE orgs SET {flag} = ? WHERE id = ?", (int(value), org_id))
            await write_audit(db, actor_id, org_id, f"org.{flag}", None, {flag: before}, {flag: value}, now)

    async def rename_org(self, actor_id: int, org_id: int, name: str, now: str) -> None:
        async with self._tx() as db:
            before = await fetch_value(db, "SELECT name FROM orgs WHERE id = ?", (org_id,))
            await db.execute("UPDATE orgs SET name = ?, sort_key = ? WHERE id = ?", (name, sort_key(name), org_id))
            await write_audit(db, actor_id, org_id, "org.rename", None, {"name": before}, {"name": name}, now)

    async def dissolve_org(self, actor_id: int, org_id: int, now: str) -> None:
        """ORG-7/FAQ 20: memberships, branches, admin rows and the organisation go; users and points stay.
        The audit row keeps the organisation's id (audit_log has no foreign key)."""
        async with self._tx(admins=True) as db:
            row = await fetch_row(
                db, """SELECT o.name, o.kind, o.region, (SELECT COUNT(*) FROM members m WHERE m.org_id = o.id) AS n,
                              o.certified_at, EXISTS (SELECT 1 FROM orgs c WHERE c.parent_id = o.id) AS has_lower
                       FROM orgs o WHERE o.id = ?""", (org_id,))
            if row["has_lower"]:  # ORG-7, checked again in the transaction (certification may have changed)
                raise Conflict("has_lower")
            if row["certified_at"] is not None:
                raise Conflict("certified")
            await write_audit(db, actor_id, org_id, "org.dissolve", row["name"],
                              {"name": row["name"], "kind": row["kind"], "region": row["region"], "members": row["n"]},
                              None, now)
            await db.execute("UPDATE questions SET retired_at = ? WHERE org_id = ? AND retired_at IS NULL",
                             (now, org_id))
            await history.history_close_org(db, org_id, now)
            admins = await db.execute_fetchall("SELECT user_id FROM org_admins WHERE org_id = ?", (org_id,))
            await menus_due(db, (r[0] for r in admins), now)  # the whole admin group loses the role
            for sql in ("DELETE FROM members WHERE org_id = ?", "DELETE FROM branches WHERE org_id = ?",
                        "DELETE FROM org_admins WHERE org_id = ?", "DELETE FROM orgs WHERE id = ?"):
                await db.execute(sql, (org_id,))

    # -- branches (ORG-3) ----------------------------------------------------------------------
    async def org_branches(self, org_id: int) -> list[BranchRow]:
        """Branches with their member counts (a 党总支's includes its 党支部's), each 党总支 followed
        by its 党支部, by name (pinyin)."""
        rows = await self._all(
            """SELECT b.id, b.parent_id, b.name, b.kind,
                      (SELECT COUNT(*) FROM members m WHERE m.branch_id = b.id OR m.branch_id IN
                          (SELECT c.id FROM branches c WHERE c.parent_id = b.id)) AS members,
                      (SELECT COUNT(*) FROM branches c WHERE c.parent_id = b.id) AS children
               FROM branches b LEFT JOIN branches p ON p.id = b.parent_id WHERE b.org_id = ?
               ORDER BY COALESCE(p.sort_key, b.sort_key), COALESCE(b.parent_id, b.id), b.parent_id IS NOT NULL,
                        b.sort_key, b.id""", (org_id,))
        return [BranchRow(*tuple(r)) for r in rows]

    async def add_branch(self, actor_id: int, org_id: int, parent_id: int | None, kind: str, name: str,
                         now: str) -> int:
        """Raises Conflict("branch_name") when the organisation has a branch of that name."""
        async with self._tx() as db:
            try:
                cur = await db.execute(
                    "INSERT INTO branches (org_id, parent_id, name, sort_key, kind, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (org_id, parent_id, name, sort_key(name), kind, now))
            except aiosqlite.IntegrityError:
                raise Conflict("branch_name") from None
            await write_audit(db, actor_id, org_id, "branch.add", name, None,
                              {"name": name, "kind": kind, "parent_id": parent_id}, now)
            return last_id(cur)

    async def rename_branch(self, actor_id: int, org_id: int, branch_id: int, name: str, now: str) -> None:
        async with self._tx() as db:
            before = await fetch_value(db, "SELECT name FROM branches WHERE id = ? AND org_id = ?", (branch_id, org_id))
            try:
                await db.execute("UPDATE branches SET name = ?, sort_key = ? WHERE id = ?",
                                 (name, sort_key(name), branch_id))
            except aiosqlite.IntegrityError:
                raise Conflict("branch_name") from None
            await write_audit(db, actor_id, org_id, "branch.rename", name, {"name": before}, {"name": name}, now)

    async def delete_branch(self, actor_id: int, org_id: int, branch_id: int, now: str) -> None:
        """The branch and its 党支部 go; their members stay in the organisation without a branch."""
        async with self._tx() as db:
            name = await fetch_value(db, "SELECT name FROM branches WHERE id = ? AND org_id = ?", (branch_id, org_id))
            moved = await fetch_value(
                db, """SELECT COUNT(*) FROM members WHERE branch_id IN
                       (SELECT id FROM branches WHERE id = ? OR parent_id = ?)""", (branch_id, branch_id))
            await db.execute(
                """UPDATE members SET branch_id = NULL, updated_at = ? WHERE branch_id IN
                   (SELECT id FROM branches WHERE id = ? OR parent_id = ?)""", (now, branch_id, branch_id))
            await db.execute("DELETE FROM branches WHERE parent_id = ?", (branch_id,))
            await db.execute("DELETE FROM branches WHERE id = ?", (branch_id,))
            await write_audit(db, actor_id, org_id, "branch.delete", name, {"name": name, "members": moved}, None, now)

    # -- the admin group (ORG-4, ORG-5) ----------------------------------------------------------
    async def add_org_admin(self, actor_id: int, org_id: int, user_id: int, label: str, now: str) -> None:
        """ORG-4. Raises Conflict("admin") when the person is in the admin group already."""
        async with self._tx(admins=True) as db:
            try:
                await db.execute("INSERT INTO org_admins (org_id, user_id, role, added_at) VALUES (?, ?, 'admin', ?)",
                                 (org_id, user_id, now))
            except aiosqlite.IntegrityError:
                raise Conflict("admin") from None
            await menus_due(db, (user_id,), now)
            await write_audit(db, actor_id, org_id, "admin.add", label, None, {"role": "admin"}, now)

    async def remove_org_admin(self, actor_id: int, org_id: int, user_id: int, label: str, now: str) -> bool:
        """Ordinary admins only (never the main admin); False when there was no such admin."""
        async with self._tx(admins=True) as db:
            cur = await db.execute("DELETE FROM org_admins WHERE org_id = ? AND user_id = ? AND role = 'admin'",
                                   (org_id, user_id))
            if cur.rowcount == 0:
                return False
            await menus_due(db, (user_id,), now)
            await write_audit(db, actor_id, org_id, "admin.remove", label, {"role": "admin"}, None, now)
            return True

    async def hand_over_main_admin(self, actor_id: int, org_id: int, user_id: int, label: str, now: str) -> bool:
        """ORG-5: the actor (main) and an ordinary admin swap roles; False when the target is not one."""
        async with self._tx(admins=True) as db:
            cur = await db.execute("UPDATE org_admins SET role = 'main' WHERE org_id = ? AND user_id = ? "
                                   "AND role = 'admin'", (org_id, user_id))
            if cur.rowcount == 0:
                return False
            await db.execute("UPDATE org_admins SET role = 'admin' WHERE org_id = ? AND user_id = ?",
                             (org_id, actor_id))
            await menus_due(db, (actor_id, user_id), now)  # /audit moves with the main admin's role
            await write_audit(db, actor_id, org_id, "admin.handover", label, {"main": actor_id},
                              {"main": user_id}, now)
            return True

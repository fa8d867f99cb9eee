"""Test data written straight into the store (for tests about what comes after it exists)."""
from __future__ import annotations

from collections.abc import Iterable

from bot.repositories.names import backfill_sort_keys
from bot.store import Store

NOW = "2026-11-23T09:00:00+08:00"


async def make_user(store: Store, user_id: int, name: str = "张伟", phone: str | None = None,
                    verified: bool = False) -> str:
    """A registered (optionally verified) user; returns the phone."""
    phone = phone or f"+86138{user_id % 100000000:08d}"
    async with store.raw_tx() as db:
        await db.execute(
            """INSERT INTO users (id, first_name, phone, name, agreed_at, registered_at, real_name, id_hash,
                                  id_masked, verified_at, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (user_id, name, phone, name, NOW, NOW, name if verified else None,
             f"hash-{user_id}" if verified else None, "110***********0000" if verified else None,
             NOW if verified else None, NOW, NOW))
        await backfill_sort_keys(db)  # what the repositories compute on write
    return phone


async def make_org(store: Store, name: str, main_admin: int, *, admins: Iterable[int] = (),
                   branches: Iterable[str | tuple[str, str]] = (), certified: bool = False,
                   parent_id: int | None = None, kind: str = "party", region: str = "河南省郑州市") -> int:
    """An organisation with its main admin, other admins and branches ('name' or ('child', 'parent'))."""
    async with store.raw_tx() as db:
        cur = await db.execute(
            "INSERT INTO orgs (name, region, kind, parent_id, certified_at, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (name, region, kind, parent_id, NOW if certified else None, main_admin, NOW))
        org_id = cur.lastrowid
        await db.execute("INSERT INTO org_tree (ancestor_id, descendant_id, depth) SELECT ancestor_id, ?, depth + 1 "
                         "FROM org_tree WHERE descendant_id = ? UNION ALL SELECT ?, ?, 0",
                         (org_id, parent_id, org_id, org_id))
        await db.execute("INSERT INTO org_admins (org_id, user_id, role, added_at) VALUES (?, ?, 'main', ?)",
                         (org_id, main_admin, NOW))
        for admin in admins:
            await db.execute("INSERT INTO org_admins (org_id, user_id, role, added_at) VALUES (?, ?, 'admin', ?)",
                             (org_id, admin, NOW))
        ids: dict[str, int] = {}
        for branch in branches:
            child, parent = (branch, None) if isinstance(branch, str) else branch
            cur = await db.execute("INSERT INTO branches (org_id, parent_id, name, created_at) VALUES (?, ?, ?, ?)",
                                   (org_id, ids.get(parent) if parent else None, child, NOW))
            ids[child] = cur.lastrowid
        await backfill_sort_keys(db)
    return org_id


async def make_member(store: Store, org_id: int, name: str, phone: str, branch: str | None = None,
                      activated: bool = False) -> None:
    async with store.raw_tx() as db:
        branch_id = None
        if branch:
            async with db.execute("SELECT id FROM branches WHERE org_id = ? AND name = ?", (org_id, branch)) as cur:
                branch_id = (await cur.fetchone())[0]
        await db.execute(
            "INSERT INTO members (org_id, branch_id, name, phone, activated_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (org_id, branch_id, name, phone, NOW if activated else None, NOW, NOW))
        await backfill_sort_keys(db)

"""Membership history: when a phone was listed in an organisation, and in which branch (REP-1).

One row per stretch of days: `start_day` is the first local day the phone was listed there,
`end_day` the first day it no longer was (NULL while it still is). A move between branches ends
one row and starts another on the same day. Counting "members at the end of day D" is then
`start_day <= D AND (end_day IS NULL OR end_day > D)`, so any past day can be recomputed.

The writers take the caller's connection: they run inside the transaction of the member write
they record (add, import, move, remove, join, dissolve), never on their own.
"""
from __future__ import annotations

from collections.abc import Iterable

import aiosqlite

__all__ = ["history_join", "history_join_many", "history_leave", "history_move", "history_ensure_open",
           "history_close_org", "day_of"]

# The table is migration 14 (bot/migrations.py). No foreign key on org_id: a dissolved organisation's
# rows are closed, never deleted, so that its upper organisation's past days still count the people it had.


def day_of(now: str) -> str:
    """The local day of a stored timestamp (the clock writes local ISO-8601 times)."""
    return now[:10]


async def history_join(db: aiosqlite.Connection, org_id: int, branch_id: int | None, phone: str, now: str) -> None:
    await db.execute("INSERT INTO member_history (org_id, branch_id, phone, start_day) VALUES (?, ?, ?, ?)",
                     (org_id, branch_id, phone, day_of(now)))


async def history_join_many(db: aiosqlite.Connection, rows: Iterable[tuple[int, int | None, str]], now: str) -> None:
    """(org_id, branch_id, phone) rows listed from today (an import)."""
    day = day_of(now)
    await db.executemany("INSERT INTO member_history (org_id, branch_id, phone, start_day) VALUES (?, ?, ?, ?)",
                         [(org_id, branch_id, phone, day) for org_id, branch_id, phone in rows])


async def history_leave(db: aiosqlite.Connection, org_id: int, phone: str, now: str) -> None:
    await db.execute("UPDATE member_history SET end_day = ? WHERE org_id = ? AND phone = ? AND end_day IS NULL",
                     (day_of(now), org_id, phone))


async def history_move(db: aiosqlite.Connection, org_id: int, phone: str, branch_id: int | None, now: str) -> None:
    await history_leave(db, org_id, phone, now)
    await history_join(db, org_id, branch_id, phone, now)


async def history_close_org(db: aiosqlite.Connection, org_id: int, now: str) -> None:
    """Dissolving: everybody listed leaves today."""
    await db.execute("UPDATE member_history SET end_day = ? WHERE org_id = ? AND end_day IS NULL",
                     (day_of(now), org_id))


async def history_ensure_open(db: aiosqlite.Connection, org_id: int, branch_id: int | None, phone: str,
                              now: str) -> None:
    """A listing starting today unless the phone is listed there already (an upsert of a member)."""
    await db.execute(
        "INSERT INTO member_history (org_id, branch_id, phone, start_day) SELECT ?, ?, ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM member_history WHERE org_id = ? AND phone = ? AND end_day IS NULL)",
        (org_id, branch_id, phone, day_of(now), org_id, phone))

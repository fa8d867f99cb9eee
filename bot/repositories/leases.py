"""Named leases (issue 17, several bot processes on one database): a row per lease saying which process
holds it until when (by the injected clock). bot/leases.py renews them; the scheduler's sweep and the
outbox sender run only in the holder of theirs.

Taking and renewing are the same one conditional statement (an upsert whose update applies only when
the row is ours or has expired), so two processes can never both succeed: on SQLite the write lock
orders them, on PostgreSQL the upsert locks the row and the second re-checks the condition against
the first's committed row. Portable SQL: ON CONFLICT ... DO UPDATE ... WHERE, text times in UTC.
"""
from __future__ import annotations

from datetime import datetime

from bot.repositories.base import Repository
from bot.repositories.due import utc_text

_TAKE = """INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
           WHERE leases.holder = excluded.holder OR leases.expires_at < ?"""


class LeasesRepository(Repository):
    async def take_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Takes or renews the lease `name` for `holder` until `until`; True when `holder` has it now
        (it was free, expired by `now`, or `holder`'s already)."""
        async with self._tx() as db:
            cur = await db.execute(_TAKE, (name, holder, utc_text(until), utc_text(now)))
            return cur.rowcount == 1

    async def release_lease(self, name: str, holder: str) -> bool:
        """Gives the lease up at once (a process stopping): another takes it at its next try."""
        async with self._tx() as db:
            cur = await db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))
            return cur.rowcount == 1

    async def lease_holder(self, name: str, now: datetime) -> str | None:
        """Who holds `name` at `now` (None: nobody, or an expired holder)."""
        row = await self._one("SELECT holder, expires_at FROM leases WHERE name = ?", (name,))
        if row is None or row["expires_at"] < utc_text(now):
            return None
        return str(row["holder"])

"""The points ledger (LEARN-7): append-only, one row per award, unique idempotency key, with the
running sums per user and per (user, day) kept in the same transaction."""
from __future__ import annotations

import sqlite3

from bot.repositories.audit import AUDIT_SQL, _audit_params
from bot.repositories.base import Repository, nothing


class PointsRepository(Repository):
    async def award_points(self, user_id: int, source: str, day: str, amount: int, *, cap: int | None,
                           best_of_day: bool, ref: str | None, reason: str | None, idem_key: str,
                           now: str, actor_id: int | None = None, org_id: int | None = None) -> int | None:
        """Pays what the cap still allows, in one transaction (a group commit). Returns the amount
        written (0 when the cap is reached), or None when this idempotency key was paid before. With
        `best_of_day` the day's total for the source is raised to `amount` (never summed). An
        `actor_id` writes the audit row of an admin adjustment in the same transaction."""

        def write(conn: sqlite3.Connection) -> int | None:
            if conn.execute("SELECT 1 FROM points WHERE idem_key = ?", (idem_key,)).fetchone():
                return None
            earned: int = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM points WHERE user_id = ? AND source = ? "
                                       "AND day = ?", (user_id, source, day)).fetchone()[0]
            target = amount if cap is None else min(amount, cap)
            pay = target - earned if best_of_day else (amount if cap is None else min(amount, cap - earned))
            if amount > 0:
                pay = max(pay, 0)
            if pay == 0:
                return 0
            conn.execute(
                "INSERT INTO points (user_id, amount, source, day, ref, reason, idem_key, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (user_id, pay, source, day, ref, reason, idem_key, now))
            conn.execute("INSERT INTO points_daily (user_id, day, amount) VALUES (?, ?, ?) ON CONFLICT "
                         "(user_id, day) DO UPDATE SET amount = points_daily.amount + excluded.amount",
                         (user_id, day, pay))
            conn.execute("INSERT INTO points_totals (user_id, total) VALUES (?, ?) ON CONFLICT (user_id) "
                         "DO UPDATE SET total = points_totals.total + excluded.total", (user_id, pay))
            if actor_id is not None:
                conn.execute(AUDIT_SQL, _audit_params(actor_id, org_id, f"points.{source}", str(user_id), None,
                                                     {"amount": pay, "reason": reason, "day": day}, now))
            return pay

        return await self._write_batched(write, nothing)

    async def points_total(self, user_id: int) -> int:
        """The running sum award_points keeps, not a sum over the user's whole ledger."""
        total = await self._value("SELECT total FROM points_totals WHERE user_id = ?", (user_id,))
        return int(total or 0)

    async def points_on(self, user_id: int, day: str) -> dict[str, int]:
        """The day's points by source."""
        rows = await self._all("SELECT source, SUM(amount) AS n FROM points WHERE user_id = ? AND day = ? "
                               "GROUP BY source", (user_id, day))
        return {r["source"]: r["n"] for r in rows}

"""The points ledger (LEARN-7): append-only, one row per award, unique idempotency key, with the
running sums per user and per (user, day) kept in the same transaction. Written in SQLAlchemy Core
(bot/db/engine.py runs it on either backend); the statements are built once, here."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, literal, select

from bot.db.dialects import per_dialect, pick
from bot.db.tables_learning import points, points_daily, points_totals
from bot.db.tables_orgs import audit_log
from bot.repositories.audit import _audit_params
from bot.repositories.base import Repository, nothing

_PAID = select(literal(1)).where(points.c.idem_key == bindparam("idem_key"))
_EARNED = select(func.coalesce(func.sum(points.c.amount), 0)).where(
    points.c.user_id == bindparam("user_id"), points.c.source == bindparam("source"), points.c.day == bindparam("day"))
_LEDGER = insert(points)


def _daily(insert: Any) -> Any:
    stmt = insert(points_daily)
    return stmt.on_conflict_do_update(index_elements=[points_daily.c.user_id, points_daily.c.day],
                                      set_={"amount": points_daily.c.amount + stmt.excluded.amount})


def _totals(insert: Any) -> Any:
    stmt = insert(points_totals)
    return stmt.on_conflict_do_update(index_elements=[points_totals.c.user_id],
                                      set_={"total": points_totals.c.total + stmt.excluded.total})


_DAILY = per_dialect(_daily)
_TOTALS = per_dialect(_totals)
_AUDIT = insert(audit_log)
_AUDIT_KEYS = ("actor_id", "org_id", "action", "target", "before", "after", "at")  # _audit_params' order
_TOTAL = select(points_totals.c.total).where(points_totals.c.user_id == bindparam("user_id"))
_ON = (select(points.c.source, func.sum(points.c.amount).label("n"))
       .where(points.c.user_id == bindparam("user_id"), points.c.day == bindparam("day")).group_by(points.c.source))


class PointsRepository(Repository):
    async def award_points(self, user_id: int, source: str, day: str, amount: int, *, cap: int | None,
                           best_of_day: bool, ref: str | None, reason: str | None, idem_key: str,
                           now: str, actor_id: int | None = None, org_id: int | None = None) -> int | None:
        """Pays what the cap still allows, in one transaction (a group commit). Returns the amount
        written (0 when the cap is reached), or None when this idempotency key was paid before. With
        `best_of_day` the day's total for the source is raised to `amount` (never summed). An
        `actor_id` writes the audit row of an admin adjustment in the same transaction."""

        def write(conn: Connection) -> int | None:
            if conn.execute(_PAID, {"idem_key": idem_key}).first():
                return None
            earned = int(conn.execute(_EARNED, {"user_id": user_id, "source": source, "day": day}).scalar_one())
            target = amount if cap is None else min(amount, cap)
            pay = target - earned if best_of_day else (amount if cap is None else min(amount, cap - earned))
            if amount > 0:
                pay = max(pay, 0)
            if pay == 0:
                return 0
            conn.execute(_LEDGER, {"user_id": user_id, "amount": pay, "source": source, "day": day, "ref": ref,
                                   "reason": reason, "idem_key": idem_key, "created_at": now})
            conn.execute(pick(conn, _DAILY), {"user_id": user_id, "day": day, "amount": pay})
            conn.execute(pick(conn, _TOTALS), {"user_id": user_id, "total": pay})
            if actor_id is not None:
                row = _audit_params(actor_id, org_id, f"points.{source}", str(user_id), None,
                                    {"amount": pay, "reason": reason, "day": day}, now)
                conn.execute(_AUDIT, dict(zip(_AUDIT_KEYS, row, strict=True)))
            return pay

        return await self._batched(write, nothing)

    async def points_total(self, user_id: int) -> int:
        """The running sum award_points keeps, not a sum over the user's whole ledger."""
        total = await self._q(lambda conn: conn.execute(_TOTAL, {"user_id": user_id}).scalar())
        return int(total or 0)

    async def points_on(self, user_id: int, day: str) -> dict[str, int]:
        """The day's points by source."""
        rows = await self._q(lambda conn: conn.execute(_ON, {"user_id": user_id, "day": day}).all())
        return {source: int(n) for source, n in rows}

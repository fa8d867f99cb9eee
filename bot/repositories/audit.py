"""The audit log (SEC-3): written inside the transaction of the action it records, read by page."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.repositories.base import Repository

AUDIT_SQL = "INSERT INTO audit_log (actor_id, org_id, action, target, before, after, at) VALUES (?, ?, ?, ?, ?, ?, ?)"


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit_log row; `before` and `after` are JSON text (None: nothing)."""
    id: int
    actor_id: int
    org_id: int | None
    action: str
    target: str | None
    before: str | None
    after: str | None
    at: str


def _audit_params(actor_id: int, org_id: int | None, action: str, target: str | None, before: Any, after: Any,
                 at: str) -> tuple[Any, ...]:
    return (actor_id, org_id, action, target, None if before is None else json.dumps(before, ensure_ascii=False),
            None if after is None else json.dumps(after, ensure_ascii=False), at)


async def write_audit(
    db: aiosqlite.Connection, actor_id: int, org_id: int | None, action: str, target: str | None,
    before: Any, after: Any, at: str,
) -> None:
    """Called inside the transaction of the action it records."""
    await db.execute(AUDIT_SQL, _audit_params(actor_id, org_id, action, target, before, after, at))


_AUDIT_COLUMNS = "id, actor_id, org_id, action, target, before, after, at"


def _audit_row(row: aiosqlite.Row) -> AuditRow:
    return AuditRow(*tuple(row))


class AuditRepository(Repository):
    async def audit_entries(self, org_id: int, limit: int = 20, before_id: int | None = None) -> list[AuditRow]:
        rows = await self._all(
            f"""SELECT {_AUDIT_COLUMNS} FROM audit_log
                WHERE org_id = ? AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?""",
            (org_id, before_id, before_id, limit),
        )
        return [_audit_row(r) for r in rows]

    async def audit_entries_newer(self, org_id: int, after_id: int, limit: int = 20) -> list[AuditRow]:
        """The page before a cursor when paging back: entries newer than after_id, newest first."""
        rows = await self._all(
            f"""SELECT {_AUDIT_COLUMNS} FROM audit_log
                WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?""", (org_id, after_id, limit))
        return [_audit_row(r) for r in reversed(rows)]

"""Due work: every scheduled time (exam deadlines, reminders, the weekly draw, challenge time-outs)
is a row of `due_work`; bot/scheduler.py's Sweeper runs the rows whose time has come.

A row is (kind, ref) -> due_at. `put_due` arms it (a new time replaces the old one and re-arms a
row already done); the sweep marks it done after its handler ran, or pushes it later with
`retry_due` when the handler failed. Times are written by `utc_text` only: UTC, fixed width, so
the strings sort by time and `due_at <= ?` compares times.

A handler re-arms its own row (a recurring job) by putting a later due_at: `finish_due` marks only
rows that are still due at the sweep's `now`, so the re-armed row stays pending.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiosqlite

_ERROR_CHARS = 500


@dataclass(slots=True, frozen=True)
class DueRow:
    """A due_work row as stored: times as UTC text, done_at None while pending."""

    id: int
    kind: str
    ref: str
    due_at: str
    created_at: str
    done_at: str | None
    tries: int
    last_error: str | None


@dataclass(slots=True, frozen=True)
class DueItem:
    id: int
    kind: str         # e.g. "exam_deadline", "weekly_draw", "challenge_scan"
    ref: str          # what it is about, unique together with kind
    due_at: datetime  # aware, UTC
    tries: int = 0    # failed runs so far (the sweep's backoff grows with it)


def utc_text(when: datetime) -> str:
    """The one way to write a due time: UTC, microseconds always present, so strings sort by time."""
    if when.tzinfo is None:
        raise ValueError("a due time must be timezone-aware")
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _item(row: aiosqlite.Row) -> DueItem:
    return DueItem(row["id"], row["kind"], row["ref"], datetime.fromisoformat(row["due_at"]), row["tries"])


_PUT_SQL = """INSERT INTO due_work (kind, ref, due_at, created_at) VALUES (?, ?, ?, ?)
              ON CONFLICT (kind, ref) DO UPDATE SET due_at = excluded.due_at, done_at = NULL, tries = 0,
                                                     last_error = NULL"""


async def put_due(db: aiosqlite.Connection, kind: str, ref: str, due_at: datetime) -> None:
    """Inside the caller's own write transaction (like write_audit): arms (kind, ref) at due_at; a new
    time replaces the old one and re-arms a row already done."""
    await db.execute(_PUT_SQL, (kind, ref, utc_text(due_at), utc_text(datetime.now(UTC))))


async def drop_due(db: aiosqlite.Connection, kind: str, ref: str) -> None:
    """Inside the caller's own write transaction: (kind, ref) will not run (absent is fine)."""
    await db.execute("DELETE FROM due_work WHERE kind = ? AND ref = ?", (kind, ref))


class DueRepository:
    """The due_work queries, a mixin composed into bot.store.Store (which provides the members below)."""

    if TYPE_CHECKING:
        def _tx(self, *, users: Iterable[int] = (), admins: bool = False, attempts: Iterable[int] = (),
                bank: bool = False) -> AbstractAsyncContextManager[aiosqlite.Connection]: ...

        async def _one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None: ...

        async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]: ...

    async def due_items(self, now: datetime, limit: int = 2000) -> list[DueItem]:
        """Pending rows with due_at <= now, in due order (ties by id, i.e. by arming order)."""
        rows = await self._all(
            "SELECT id, kind, ref, due_at, tries FROM due_work WHERE done_at IS NULL AND due_at <= ? "
            "ORDER BY due_at, id LIMIT ?", (utc_text(now), limit))
        return [_item(r) for r in rows]

    async def finish_due(self, ids: Sequence[int], now: datetime) -> None:
        """Marks a batch done in one transaction. A row its handler re-armed to a later time (due_at
        after now) stays pending."""
        if not ids:
            return
        stamp = utc_text(now)
        async with self._tx() as db:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start:start + 500])
                await db.execute(
                    f"UPDATE due_work SET done_at = ? WHERE id IN ({','.join('?' for _ in chunk)}) "
                    "AND done_at IS NULL AND due_at <= ?", (stamp, *chunk, stamp))

    async def retry_due(self, item_id: int, at: datetime, error: str) -> None:
        """A failed run: tries + 1, the error kept, due again at `at`."""
        async with self._tx() as db:
            await db.execute("UPDATE due_work SET tries = tries + 1, due_at = ?, last_error = ? "
                             "WHERE id = ? AND done_at IS NULL", (utc_text(at), error[:_ERROR_CHARS], item_id))

    async def next_due_at(self) -> datetime | None:
        row = await self._one("SELECT MIN(due_at) AS t FROM due_work WHERE done_at IS NULL")
        return datetime.fromisoformat(row["t"]) if row is not None and row["t"] is not None else None

    async def put_due_now(self, kind: str, ref: str, due_at: datetime) -> None:
        """put_due in a transaction of its own, for callers outside one."""
        async with self._tx() as db:
            await put_due(db, kind, ref, due_at)

    async def ensure_due(self, kind: str, ref: str, due_at: datetime) -> bool:
        """Arms (kind, ref) at due_at unless it is pending already (its time is kept then: a recurring
        row armed at start must not lose a time that fell due while the bot was down). True when armed."""
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO due_work (kind, ref, due_at, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, ref) DO UPDATE SET due_at = excluded.due_at, done_at = NULL, tries = 0, "
                "last_error = NULL WHERE due_work.done_at IS NOT NULL",
                (kind, ref, utc_text(due_at), utc_text(datetime.now(UTC))))
            return cur.rowcount > 0

    async def due_row(self, kind: str, ref: str) -> DueRow | None:
        """One row as it is (tests, the sandbox, diagnostics)."""
        row = await self._one("SELECT id, kind, ref, due_at, created_at, done_at, tries, last_error FROM due_work "
                              "WHERE kind = ? AND ref = ?", (kind, ref))
        return DueRow(*row) if row is not None else None

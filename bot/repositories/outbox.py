"""Durable pushes (DESIGN "Pushes"): enqueued in the action's own transaction or alone, sent by
bot/outbox.py."""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.repositories.base import Repository


@dataclass(frozen=True, slots=True)
class Push:
    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]  # the send method's keyword arguments, as enqueued
    file_name: str | None
    file_data: bytes | None
    attempts: int


class OutboxRepository(Repository):
    async def enqueue_pushes(self, pushes: Iterable[dict[str, Any]], now: str) -> int:
        """Each push: chat_id, kind, payload (dict), optional file_name/file_data/dedupe_key.
        A push whose dedupe_key exists already is skipped (exactly once). Returns how many were new."""
        rows = [(p["chat_id"], p.get("kind", "text"), json.dumps(p["payload"], ensure_ascii=False),
                 p.get("file_name"), p.get("file_data"), p.get("dedupe_key"), now, now) for p in pushes]
        async with self._tx() as db:
            before = db.total_changes
            await db.executemany(
                """INSERT INTO outbox (chat_id, kind, payload, file_name, file_data, dedupe_key,
                                       next_attempt_at, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING""", rows)
            return db.total_changes - before

    async def due_pushes(self, now: str, limit: int = 100) -> list[Push]:
        rows = await self._all(
            """SELECT id, chat_id, kind, payload, file_name, file_data, attempts FROM outbox
               WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?""", (now, limit))
        return [Push(r["id"], r["chat_id"], r["kind"], json.loads(r["payload"]), r["file_name"], r["file_data"],
                     r["attempts"]) for r in rows]

    async def next_push_at(self) -> str | None:
        value: str | None = await self._value("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE status = 'pending'")
        return value

    async def mark_push_sent(self, push_id: int, message_id: int | None, now: str) -> None:
        async with self._tx() as db:
            await db.execute("UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?, attempts = attempts + 1, "
                             "file_data = NULL WHERE id = ?", (now, message_id, push_id))

    async def mark_push_retry(self, push_id: int, error: str, next_at: str, *, count_attempt: bool = True) -> None:
        async with self._tx() as db:
            await db.execute("UPDATE outbox SET attempts = attempts + ?, last_error = ?, next_attempt_at = ? "
                             "WHERE id = ?", (1 if count_attempt else 0, error[:500], next_at, push_id))

    async def mark_push_final(self, push_id: int, status: str, error: str) -> None:
        async with self._tx() as db:
            await db.execute("UPDATE outbox SET status = ?, last_error = ?, attempts = attempts + 1, file_data = NULL "
                             "WHERE id = ?", (status, error[:500], push_id))

    async def push_counts(self) -> dict[str, int]:
        """How many pushes are in each status (pending, sent, failed, unreachable)."""
        rows = await self._all("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

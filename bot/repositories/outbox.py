"""Durable pushes (DESIGN "Pushes"): enqueued in the action's own transaction, either inside a
repository's `_tx` (`enqueue_in`) or with `enqueue_pushes` inside the store's atomic() block that
also holds the action; sent by bot/outbox.py.

A row's life: pending -> sending (claimed just before the Bot API call) -> sent (Telegram accepted
it) | pending again (retry later: Telegram busy or down, for as long as that lasts) | failed (refused
for good: a 4xx other than 403 and 429) | unreachable (403: the person blocked the bot) |
skipped_unreachable (not sent: the person was unreachable already) | obsolete (not sent: its
`expires_at` passed before Telegram took it, or a newer push of its kind superseded it). Rows left
'sending' by a crash are pending again at the next start (`release_claims`), so at most the rows in
flight at the kill are sent twice.

A file sent to many is stored once in outbox_files by its content hash; the first accepted send
records Telegram's file_id there and later sends use it."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from bot.repositories.base import Repository, StoreError, marks, nothing

PUSH_STATUSES = ("pending", "sending", "sent", "failed", "unreachable", "skipped_unreachable", "obsolete")


@dataclass(frozen=True, slots=True)
class Push:
    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]  # the send method's keyword arguments, as enqueued
    file_name: str | None
    file_data: bytes | None  # only rows enqueued before files were stored by hash
    attempts: int
    file_hash: str | None = None  # outbox_files.sha256 of the file to send
    file_id: str | None = None    # Telegram's id for that file, once one send was accepted


@dataclass(frozen=True, slots=True)
class Claim:
    """What one claim took: the rows now 'sending', and how many were skipped as unreachable."""
    pushes: list[Push]
    skipped: int


def file_hash(kind: str, data: bytes) -> str:
    return hashlib.sha256(kind.encode() + b":" + data).hexdigest()


_INSERT = """INSERT INTO outbox (chat_id, kind, payload, file_name, file_hash, dedupe_key, next_attempt_at, created_at,
                                 expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING"""
_INSERT_FILE = """INSERT INTO outbox_files (sha256, kind, data, created_at) VALUES (?, ?, ?, ?)
                  ON CONFLICT (sha256) DO NOTHING"""


def _rows(pushes: Iterable[dict[str, Any]], now: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rows: list[tuple[Any, ...]] = []
    files: dict[str, tuple[Any, ...]] = {}
    for p in pushes:
        kind = p.get("kind", "text")
        digest = None
        data = p.get("file_data")
        if data is not None:
            digest = file_hash(kind, data)
            files.setdefault(digest, (digest, kind, data, now))
        rows.append((p["chat_id"], kind, json.dumps(p["payload"], ensure_ascii=False), p.get("file_name"), digest,
                     p.get("dedupe_key"), now, now, p.get("expires_at")))
    return rows, list(files.values())


async def enqueue_in(db: aiosqlite.Connection, pushes: Iterable[dict[str, Any]], now: str) -> int:
    """Writes pushes inside the caller's own write transaction (like write_audit), so the action and
    its notices commit or roll back together. Each push is what bot/outbox.py's text_push/file_push
    build; a push whose dedupe_key exists already is skipped. Returns how many rows were added.
    The sender finds them at its next poll (at most a few seconds); call Outbox.wake() after the
    commit to send at once."""
    pushes = list(pushes)
    await _supersede(db, pushes)
    rows, files = _rows(pushes, now)
    if files:
        await db.executemany(_INSERT_FILE, files)
    before = db.total_changes
    await db.executemany(_INSERT, rows)
    return db.total_changes - before


async def _supersede(db: aiosqlite.Connection, pushes: list[dict[str, Any]]) -> None:
    """A push with `supersedes` (a dedupe-key prefix, e.g. one recipient's daily reports) makes the
    rows of that prefix still waiting obsolete: the newer one replaces them (its own keys are kept)."""
    keys = [p["dedupe_key"] for p in pushes if p.get("dedupe_key")]
    for prefix in sorted({p["supersedes"] for p in pushes if p.get("supersedes")}):
        await db.execute(f"""UPDATE outbox SET status = 'obsolete', last_error = 'superseded', file_data = NULL
                             WHERE status = 'pending' AND dedupe_key LIKE ?
                               AND dedupe_key NOT IN ({marks(keys) if keys else "''"})""", (prefix + "%", *keys))


# The claim's row lock on PostgreSQL, a comment to SQLite (whose write lock already makes a claim
# exclusive): bot/dialect.py turns this marker into the clause, so that two senders skip each other's
# rows instead of waiting for them (issue 17). Kept last in the statement, after LIMIT.
SKIP_LOCKED = "/*FOR UPDATE OF o SKIP LOCKED*/"

_FLAG = """INSERT INTO unreachable_users (user_id, since, last_error) VALUES (?, ?, ?)
           ON CONFLICT (user_id) DO UPDATE SET last_error = excluded.last_error"""


def _unflag_chat_of(conn: sqlite3.Connection, push_id: int) -> int | None:
    """Clears the unreachable flag of a push's recipient; their id when there was one."""
    row = conn.execute("SELECT chat_id FROM outbox WHERE id = ?", (push_id,)).fetchone()
    if row is None:
        return None
    cur = conn.execute("DELETE FROM unreachable_users WHERE user_id = ?", (row[0],))
    return int(row[0]) if cur.rowcount else None


_PUSH_COLUMNS = """o.id, o.chat_id, o.kind, o.payload, o.file_name, o.file_data, o.attempts, o.file_hash,
                   f.file_id"""


def _passed(expires_at: str | None, now: str) -> bool:
    """Compared as times (the two may be written in different zones)."""
    return expires_at is not None and datetime.fromisoformat(expires_at) <= datetime.fromisoformat(now)


def _push(r: Any) -> Push:
    return Push(r["id"], r["chat_id"], r["kind"], json.loads(r["payload"]), r["file_name"], r["file_data"],
                r["attempts"], r["file_hash"], r["file_id"])


class OutboxRepository(Repository):
    # user ids that answered 403, loaded once and kept write-through: the check made on every
    # incoming update (ActorMiddleware) is a set lookup, not a query
    _unreachable_ids: set[int] | None = None

    async def enqueue_pushes(self, pushes: Iterable[dict[str, Any]], now: str) -> int:
        """Each push: chat_id, kind, payload (dict), optional file_name/file_data/dedupe_key.
        A push whose dedupe_key exists already is skipped (exactly once). Returns how many were new.
        Call it inside the store's atomic() block with the action causing the pushes, so both commit
        together; with `strict_pushes` (tests) a call outside such a block is an error."""
        if self.strict_pushes and not self._in_atomic():
            raise StoreError("pushes enqueued outside the transaction of the action causing them")
        async with self._tx() as db:
            return await enqueue_in(db, pushes, now)

    async def release_claims(self, claimed_before: str | None = None) -> int:
        """At start: rows a killed sender had claimed are pending again (some may have reached
        Telegram already: those are the bounded duplicates). Returns how many. `claimed_before`
        (several processes): only claims older than that, which no live sender still holds."""
        async with self._tx() as db:
            if claimed_before is None:
                cur = await db.execute("UPDATE outbox SET status = 'pending', claimed_at = NULL "
                                       "WHERE status = 'sending'")
            else:
                cur = await db.execute("UPDATE outbox SET status = 'pending', claimed_at = NULL "
                                       "WHERE status = 'sending' AND claimed_at < ?", (claimed_before,))
            return cur.rowcount

    async def claim_pushes(self, now: str, limit: int = 200) -> Claim:
        """Claims the next due push of each chat (a chat's rows go in order: a chat whose first row
        is in flight or waits for a retry sends nothing else meanwhile), oldest first, at most `limit`.
        Rows to unreachable people are marked skipped_unreachable instead, all of that chat's."""
        async with self._tx() as db:
            # pending rows in id order (the index on status keeps them so), each the first of its
            # chat still to go: usually the first `limit` rows qualify, so a claim reads about that many
            rows = list(await db.execute_fetchall(
                f"""SELECT {_PUSH_COLUMNS}, (u.user_id IS NOT NULL) AS unreachable, o.expires_at
                    FROM outbox AS o
                    LEFT JOIN outbox_files AS f ON f.sha256 = o.file_hash
                    LEFT JOIN unreachable_users AS u ON u.user_id = o.chat_id
                    WHERE o.status = 'pending' AND o.next_attempt_at <= ?
                      AND NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.status IN ('pending', 'sending')
                                      AND e.chat_id = o.chat_id AND e.id < o.id)
                    ORDER BY o.id LIMIT ? {SKIP_LOCKED}""", (now, limit)))
            blocked = [r["chat_id"] for r in rows if r["unreachable"]]
            skipped = 0
            expired = [r["id"] for r in rows if _passed(r["expires_at"], now)]
            if expired:
                cur = await db.execute(
                    f"""UPDATE outbox SET status = 'obsolete', last_error = 'expired', file_data = NULL
                        WHERE status = 'pending' AND id IN ({marks(expired)})""", expired)
                skipped += cur.rowcount
                rows = [r for r in rows if r["id"] not in set(expired)]
            if blocked:
                cur = await db.execute(
                    f"""UPDATE outbox SET status = 'skipped_unreachable', file_data = NULL
                        WHERE status = 'pending' AND chat_id IN ({marks(blocked)})""", blocked)
                skipped += cur.rowcount
            claimed = [r for r in rows if not r["unreachable"]]
            if claimed:
                ids = [r["id"] for r in claimed]
                # the status re-checked: a row another sender claimed meanwhile (possible only on a
                # server without SKIP LOCKED's row locks) is not claimed twice
                cur = await db.execute(f"UPDATE outbox SET status = 'sending', claimed_at = ? "
                                       f"WHERE id IN ({marks(ids)}) AND status = 'pending'", [now, *ids])
                if cur.rowcount != len(ids):
                    mine = {int(r[0]) for r in await db.execute_fetchall(
                        f"SELECT id FROM outbox WHERE id IN ({marks(ids)}) AND status = 'sending' AND claimed_at = ?",
                        [*ids, now])}
                    claimed = [r for r in claimed if r["id"] in mine]
            return Claim([_push(r) for r in claimed], skipped)

    async def due_pushes(self, now: str, limit: int = 100) -> list[Push]:
        """Pending rows due at `now` (read only; the sender claims with claim_pushes)."""
        rows = await self._all(
            f"""SELECT {_PUSH_COLUMNS} FROM outbox AS o LEFT JOIN outbox_files AS f ON f.sha256 = o.file_hash
                WHERE o.status = 'pending' AND o.next_attempt_at <= ? ORDER BY o.id LIMIT ?""", (now, limit))
        return [_push(r) for r in rows]

    async def next_push_at(self) -> str | None:
        value: str | None = await self._value("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE status = 'pending'")
        return value

    async def push_file_data(self, sha256: str) -> tuple[bytes | None, str | None]:
        """(data, file_id) of a stored file."""
        row = await self._one("SELECT data, file_id FROM outbox_files WHERE sha256 = ?", (sha256,))
        return (None, None) if row is None else (row["data"], row["file_id"])

    async def set_push_file_id(self, sha256: str, file_id: str | None) -> None:
        """Telegram's file_id for a stored file (None: forget one Telegram no longer accepts)."""
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE outbox_files SET file_id = ? WHERE sha256 = ?", (file_id, sha256))
        await self._write_batched(write, nothing)

    # the outcomes of a send, each a small write in the store's group commit
    async def mark_push_sent(self, push_id: int, message_id: int | None, now: str) -> None:
        """Telegram accepted it; a person flagged unreachable is reachable again (only looked up
        while someone is flagged)."""
        ids = await self._unreachable()
        check = bool(ids)

        def write(conn: sqlite3.Connection) -> int | None:
            conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?, attempts = attempts + 1, "
                         "file_data = NULL WHERE id = ?", (now, message_id, push_id))
            return _unflag_chat_of(conn, push_id) if check else None

        await self._write_batched(write, lambda user_id: ids.discard(user_id) if user_id is not None else None)

    async def mark_push_retry(self, push_id: int, error: str, next_at: str, *, count_attempt: bool = True) -> None:
        """Pending again, due at `next_at`."""
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE outbox SET status = 'pending', claimed_at = NULL, attempts = attempts + ?, "
                         "last_error = ?, next_attempt_at = ? WHERE id = ?",
                         (1 if count_attempt else 0, error[:500], next_at, push_id))
        await self._write_batched(write, nothing)

    async def mark_push_final(self, push_id: int, status: str, error: str) -> None:
        """A final status; 'unreachable' flags the person too (like mark_unreachable)."""
        if status not in PUSH_STATUSES:
            raise ValueError(status)
        ids = await self._unreachable()

        def write(conn: sqlite3.Connection) -> int | None:
            conn.execute("UPDATE outbox SET status = ?, last_error = ?, attempts = attempts + 1, file_data = NULL "
                         "WHERE id = ?", (status, error[:500], push_id))
            if status != "unreachable":
                return None
            row = conn.execute("SELECT chat_id, COALESCE(claimed_at, created_at) FROM outbox WHERE id = ?",
                               (push_id,)).fetchone()
            if row is None:
                return None
            conn.execute(_FLAG, (row[0], row[1], error[:500]))
            return int(row[0])

        await self._write_batched(write, lambda user_id: ids.add(user_id) if user_id is not None else None)

    async def waiting_push_keys(self, prefix: str) -> list[str]:
        """The dedupe keys beginning with `prefix` of pushes not yet sent (pending, or in flight)."""
        rows = await self._all("SELECT dedupe_key FROM outbox WHERE status IN ('pending', 'sending') "
                               "AND dedupe_key LIKE ? ORDER BY id", (prefix + "%",))
        return [str(r["dedupe_key"]) for r in rows]

    async def push_counts(self) -> dict[str, int]:
        """How many pushes are in each status (see PUSH_STATUSES); statuses with none are left out."""
        rows = await self._all("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    # -- people who blocked the bot ------------------------------------------------------------
    async def _unreachable(self) -> set[int]:
        if not self.caching:  # another process may have flagged or cleared someone: read every time
            return {int(r["user_id"]) for r in await self._all("SELECT user_id FROM unreachable_users")}
        if self._unreachable_ids is None:
            rows = await self._all("SELECT user_id FROM unreachable_users")
            # Two first readers may both load; the first set stays the one cache, so a write that
            # captured it (mark_unreachable's after-callback) is never lost to a second load.
            if self._unreachable_ids is None:
                self._unreachable_ids = {int(r["user_id"]) for r in rows}
        return self._unreachable_ids

    async def mark_unreachable(self, push_id: int, user_id: int, error: str, now: str) -> None:
        """A 403: the row is final ('unreachable') and the person is unreachable until they write again."""
        ids = await self._unreachable()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE outbox SET status = 'unreachable', last_error = ?, attempts = attempts + 1, "
                         "file_data = NULL WHERE id = ?", (error[:500], push_id))
            conn.execute(_FLAG, (user_id, now, error[:500]))

        await self._write_batched(write, lambda _: ids.add(user_id))

    async def clear_unreachable(self, user_id: int) -> bool:
        """The person wrote to the bot: pushes reach them again. Cheap when they were not
        unreachable (a set lookup, no query). Returns whether a flag was cleared."""
        ids = await self._unreachable()
        if user_id not in ids:
            return False

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM unreachable_users WHERE user_id = ?", (user_id,))

        await self._write_batched(write, lambda _: ids.discard(user_id))
        return True

    async def unreachable_among(self, user_ids: Sequence[int]) -> set[int]:
        ids = await self._unreachable()
        return {u for u in user_ids if u in ids}

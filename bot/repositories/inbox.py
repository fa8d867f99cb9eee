"""The update inbox: every update from Telegram is stored here before the next getUpdates confirms it
(bot/polling.py), so a bot killed mid-handler finds it again at start.

A row is one update, keyed by Telegram's update_id: its JSON (bot/redaction.py's update_body: an ID
number typed in it is kept redacted, RNV-3), when it came, when its handling finished (NULL while it
is in flight) and how many starts tried it again. `accept_updates` stores a
batch in one insert and returns only the ids it had never seen, so an update Telegram delivers again
(the bot died after storing it, before confirming it) is handled once. Done rows are kept for
KEEP_DONE (Telegram redelivers an unconfirmed update for up to 24 hours), then pruned.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.repositories.base import Repository, marks, nothing
from bot.repositories.due import utc_text

KEEP_DONE = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class StoredUpdate:
    update_id: int
    body: str  # the update as JSON, in Telegram's field names, ID numbers in it redacted (bot/redaction.py)
    tries: int  # starts that found it not done before this one


@dataclass(frozen=True, slots=True)
class Hold:
    """Rows stored by one of several processes: whose they are and until when, and each update's person."""
    holder: str
    until: datetime
    persons: dict[int, int | None]  # update_id -> the person whose turn it takes (None: nobody's)


class InboxRepository(Repository):
    async def accept_updates(self, updates: Sequence[tuple[int, str]], now: datetime) -> list[int]:
        """Stores a batch of (update_id, json) durably (committed when this returns) and returns the
        ids that were new, in the batch's order. An id stored before with the same JSON is Telegram
        delivering it again: left as it is (done or in flight). An id stored before with other JSON
        is another update under a used id (a restarted sandbox counts from 1 again; Telegram picks
        ids afresh after a quiet week): it replaces the old row and counts as new."""
        if not updates:
            return []
        stamp = utc_text(now)

        def write(conn: sqlite3.Connection) -> list[int]:
            batch = dict(updates)  # an id twice in one batch: once
            ids = list(batch)
            stored = dict(conn.execute(f"SELECT update_id, body FROM inbox WHERE update_id IN ({marks(ids)})", ids))
            new = [(uid, body, stamp) for uid, body in batch.items() if uid not in stored]
            reused = [(body, stamp, uid) for uid, body in batch.items() if uid in stored and stored[uid] != body]
            conn.executemany("INSERT INTO inbox (update_id, body, received_at) VALUES (?, ?, ?)", new)
            conn.executemany("UPDATE inbox SET body = ?, received_at = ?, done_at = NULL, tries = 0 "
                             "WHERE update_id = ?", reused)
            fresh = {uid for uid, _b, _s in new} | {uid for _b, _s, uid in reused}
            return [uid for uid in ids if uid in fresh]

        return await self._write_batched(write, nothing)

    async def accept_held_updates(self, updates: Sequence[tuple[int, str]], now: datetime, hold: Hold) -> list[int]:
        """accept_updates for one of several processes on one database: the new rows carry their
        person and are held by this process until `hold.until` (bot/polling.py's InboxTurns renews
        the hold while it has them). An update another process stored at the same moment (Telegram
        delivering it again there) is new for that one only."""
        if not updates:
            return []
        stamp, until = utc_text(now), utc_text(hold.until)

        def write(conn: sqlite3.Connection) -> list[int]:
            batch = dict(updates)
            ids = list(batch)
            stored = dict(conn.execute(f"SELECT update_id, body FROM inbox WHERE update_id IN ({marks(ids)})", ids))
            new = [(uid, body, stamp, hold.persons.get(uid), hold.holder, until)
                   for uid, body in batch.items() if uid not in stored]
            reused = [(body, stamp, hold.persons.get(uid), hold.holder, until, uid)
                      for uid, body in batch.items() if uid in stored and stored[uid] != body]
            # ON CONFLICT DO NOTHING: another process storing the same update at the same moment
            # (Telegram delivering it again to the other one) keeps its row; only the one that
            # inserted counts it as new
            fresh: set[int] = set()
            for row in new:
                cur = conn.execute("INSERT INTO inbox (update_id, body, received_at, person, held_by, held_until) "
                                   "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (update_id) DO NOTHING", row)
                if cur.rowcount == 1:
                    fresh.add(row[0])
            for params in reused:
                cur = conn.execute("UPDATE inbox SET body = ?, received_at = ?, done_at = NULL, tries = 0, person = ?, "
                                   "held_by = ?, held_until = ? WHERE update_id = ? AND body <> ?",
                                   (*params, params[0]))
                if cur.rowcount == 1:
                    fresh.add(params[-1])
            return [uid for uid in ids if uid in fresh]

        return await self._write_batched(write, nothing)

    async def renew_holds(self, holder: str, until: datetime) -> int:
        """Keeps this process's unfinished rows its own until `until` (the heartbeat); returns how many."""
        stamp = utc_text(until)
        async with self._tx() as db:
            cur = await db.execute("UPDATE inbox SET held_until = ? WHERE held_by = ? AND done_at IS NULL",
                                   (stamp, holder))
            return cur.rowcount

    async def release_holds(self, holder: str) -> int:
        """A process stopping: its unfinished rows are free for another process to adopt at once."""
        async with self._tx() as db:
            cur = await db.execute("UPDATE inbox SET held_until = NULL WHERE held_by = ? AND done_at IS NULL",
                                   (holder,))
            return cur.rowcount

    async def take_turn(self, update_id: int, holder: str, until: datetime) -> str:
        """Whether this process may handle its update now, in one conditional statement: the row must
        still be held by `holder` and not done, and no earlier update of the same person may be
        unfinished (wherever it is held). Returns "go" (the hold is renewed to `until`), "wait"
        (an earlier update of that person is still to be handled) or "gone" (done already, or the
        hold was lost: another process adopted the row)."""
        async with self._tx() as db:
            cur = await db.execute(
                """UPDATE inbox SET held_until = ?
                   WHERE update_id = ? AND held_by = ? AND done_at IS NULL
                     AND NOT EXISTS (SELECT 1 FROM inbox AS e WHERE e.person = inbox.person
                                     AND e.update_id < inbox.update_id AND e.done_at IS NULL)""",
                (utc_text(until), update_id, holder))
            if cur.rowcount == 1:
                return "go"
            async with db.execute("SELECT held_by, done_at FROM inbox WHERE update_id = ?", (update_id,)) as rows:
                row = await rows.fetchone()
        if row is None or row[1] is not None or row[0] != holder:
            return "gone"
        return "wait"

    async def adopt_updates(self, holder: str, now: datetime, until: datetime, limit: int = 500) -> list[StoredUpdate]:
        """Unfinished rows nobody holds any more (their process was killed, or stopped without
        finishing them; held by nobody: stored by a single-process run) become `holder`'s, oldest
        first, each counting one more try. Safe against another process adopting at the same time:
        each row is taken with the condition re-checked, and only those now held by `holder` are
        returned."""
        stamp, expiry = utc_text(now), utc_text(until)
        async with self._tx() as db:
            candidates = [int(r[0]) for r in await db.execute_fetchall(
                "SELECT update_id FROM inbox WHERE done_at IS NULL AND (held_until IS NULL OR held_until < ?) "
                "ORDER BY update_id LIMIT ?", (stamp, limit))]
            if not candidates:
                return []
            await db.execute(
                f"""UPDATE inbox SET held_by = ?, held_until = ?, tries = tries + 1
                    WHERE update_id IN ({marks(candidates)}) AND done_at IS NULL
                      AND (held_until IS NULL OR held_until < ?)""", (holder, expiry, *candidates, stamp))
            rows = list(await db.execute_fetchall(
                f"""SELECT update_id, body, tries FROM inbox WHERE update_id IN ({marks(candidates)})
                    AND held_by = ? AND held_until = ? AND done_at IS NULL ORDER BY update_id""",
                (*candidates, holder, expiry)))
        return [StoredUpdate(int(r[0]), r[1], int(r[2]) - 1) for r in rows]

    async def finish_updates(self, update_ids: Sequence[int], now: datetime) -> None:
        """Handled (successfully or with the person told of the error): one statement, in a group commit."""
        if not update_ids:
            return
        stamp = utc_text(now)
        rows = [(stamp, uid) for uid in update_ids]

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany("UPDATE inbox SET done_at = ? WHERE update_id = ? AND done_at IS NULL", rows)

        await self._write_batched(write, nothing)

    async def unfinished_updates(self) -> list[StoredUpdate]:
        """What a previous run stored and did not finish, oldest first; each counts one more try."""
        async with self._tx() as db:
            await db.execute("UPDATE inbox SET tries = tries + 1 WHERE done_at IS NULL")
            rows = list(await db.execute_fetchall(
                "SELECT update_id, body, tries FROM inbox WHERE done_at IS NULL ORDER BY update_id"))
        return [StoredUpdate(r[0], r[1], r[2] - 1) for r in rows]

    async def prune_updates(self, now: datetime, keep: timedelta = KEEP_DONE) -> int:
        """Forgets done rows received before now - keep; returns how many. Rows come in update_id
        order, so the cut is the first recent row's id (found by scanning only the old rows)."""
        cutoff = utc_text(now - keep)
        async with self._tx() as db:
            async with db.execute("SELECT update_id FROM inbox WHERE received_at >= ? ORDER BY update_id LIMIT 1",
                                  (cutoff,)) as cur:
                first = await cur.fetchone()
            if first is None:
                cur = await db.execute("DELETE FROM inbox WHERE done_at IS NOT NULL")
            else:
                cur = await db.execute("DELETE FROM inbox WHERE update_id < ? AND done_at IS NOT NULL", (first[0],))
            return cur.rowcount

    async def last_update_id(self) -> int | None:
        """The highest update_id stored (None: none)."""
        value = await self._value("SELECT MAX(update_id) FROM inbox")
        return None if value is None else int(value)

    async def inbox_counts(self) -> tuple[int, int]:
        """(in flight or not yet handled, done and kept)."""
        row = await self._one("SELECT COUNT(*) - COUNT(done_at), COUNT(done_at) FROM inbox")
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

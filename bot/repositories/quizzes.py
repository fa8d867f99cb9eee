"""Quiz attempts: daily, weekly, challenge and wrong-book practice rounds (LEARN-2, 3, 5), the weekly
sets, the wrong-answer notebook. The answer path reads from the attempt cache and writes in a group
commit (Store._write_batched): every aiosqlite call is a thread hop, and under load a hop waits for
the GIL."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from typing import cast

import aiosqlite

from bot.models import Question
from bot.repositories.audit import write_audit
from bot.repositories.base import Conflict, Repository, fetch_one, last_id
from bot.repositories.questions import question_from_row


@dataclass(frozen=True, slots=True)
class AttemptHead:
    """A quiz attempt without its items: what every press re-checks (owner, open, question shown now)."""
    id: int
    user_id: int
    kind: str
    status: str
    position: int
    shown_at: str | None
    started_at: str
    submitted_at: str | None
    total: int
    correct: int | None
    points: int | None
    scored: bool
    period: str | None
    flagged: bool
    message_id: int | None = None  # a challenge: the message showing its question (the time-out edits it)


@dataclass(frozen=True, slots=True)
class QuizItem:
    """One question of an attempt with the answer given so far (None: not answered)."""
    position: int
    question: Question
    answer: tuple[str, ...] | None
    correct: bool | None
    answered_at: str | None


_HEAD_COLUMNS = ("a.id AS a_id, a.user_id, a.kind AS a_kind, a.status, a.position, a.shown_at, a.started_at, "
                 "a.submitted_at, a.total, a.correct AS a_correct, a.points, a.scored, a.period, a.flagged, "
                 "a.message_id")
_ITEM_COLUMNS = ("i.position AS i_pos, i.answer AS given, i.correct AS i_correct, i.answered_at, q.id AS id, "
                 "q.org_id AS org_id, q.kind AS kind, q.body AS body, q.answer AS answer, q.tags AS tags")
# questions a user sees: the global bank and the banks of their organisations and those above them
_VISIBLE_TO_PHONE = ("(q.org_id IS NULL OR q.org_id IN (SELECT t.ancestor_id FROM members m "
                     "JOIN org_tree t ON t.descendant_id = m.org_id WHERE m.phone = ?))")


def _head(row: aiosqlite.Row) -> AttemptHead:
    return AttemptHead(row["a_id"], row["user_id"], row["a_kind"], row["status"], row["position"], row["shown_at"],
                       row["started_at"], row["submitted_at"], row["total"], row["a_correct"], row["points"],
                       bool(row["scored"]), row["period"], bool(row["flagged"]), row["message_id"])


def _item(row: aiosqlite.Row, question: Question | None = None) -> QuizItem:
    given = row["given"]
    return QuizItem(row["i_pos"], question or question_from_row(row),
                    tuple(json.loads(given)) if given is not None else None,
                    None if row["i_correct"] is None else bool(row["i_correct"]), row["answered_at"])


class QuizzesRepository(Repository):
    async def draw_for_user(self, user_id: int, phone: str | None, n: int) -> list[int]:
        """Questions the user may see, never seen ones first, then the longest unseen, then at random."""
        rows = await self._all(
            f"""SELECT q.id FROM questions q
                LEFT JOIN seen_questions s ON s.user_id = ? AND s.question_id = q.id
                WHERE q.retired_at IS NULL AND {_VISIBLE_TO_PHONE}
                ORDER BY CASE WHEN s.last_seen IS NULL THEN 0 ELSE 1 END, s.last_seen, RANDOM() LIMIT ?""",
            (user_id, phone or "", n))
        return [r["id"] for r in rows]

    async def draw_for_scope(self, scope: int, n: int) -> list[int]:
        """A weekly set: scope 0 draws from the global bank; an organisation from its own bank first,
        then the banks above it and the global one."""
        if scope == 0:
            rows = await self._all("SELECT q.id FROM questions q WHERE q.retired_at IS NULL AND q.org_id IS NULL "
                                   "ORDER BY RANDOM() LIMIT ?", (n,))
        else:
            rows = await self._all(
                """SELECT q.id FROM questions q WHERE q.retired_at IS NULL AND (q.org_id IS NULL OR q.org_id IN
                       (SELECT ancestor_id FROM org_tree WHERE descendant_id = ?))
                   ORDER BY CASE WHEN q.org_id = ? THEN 0 ELSE 1 END, RANDOM() LIMIT ?""", (scope, scope, n))
        return [r["id"] for r in rows]

    async def create_attempt(self, user_id: int, kind: str, day: str, question_ids: list[int], now: str, *,
                             period: str | None = None, scope: int | None = None, scored: bool = True,
                             mark_seen: bool = True) -> int:
        """The attempt with its items, the first question shown now. A second scored weekly attempt of
        the same week raises Conflict("weekly_scored")."""
        async with self._tx() as db:
            try:
                cur = await db.execute(
                    "INSERT INTO quiz_attempts (user_id, kind, day, period, scope, scored, position, shown_at, "
                    "started_at, total) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                    (user_id, kind, day, period, scope, int(scored), now, now, len(question_ids)))
            except aiosqlite.IntegrityError:
                raise Conflict("weekly_scored") from None
            attempt_id = last_id(cur)
            await db.executemany("INSERT INTO quiz_items (attempt_id, position, question_id) VALUES (?, ?, ?)",
                                 [(attempt_id, pos, qid) for pos, qid in enumerate(question_ids)])
            if mark_seen:
                await db.executemany(
                    "INSERT INTO seen_questions (user_id, question_id, last_seen) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_id, question_id) DO UPDATE SET last_seen = excluded.last_seen, "
                    "times = seen_questions.times + 1", [(user_id, qid, now) for qid in question_ids])
            return attempt_id

    async def open_attempt(self, user_id: int, kind: str) -> AttemptHead | None:
        row = await self._one(f"SELECT {_HEAD_COLUMNS} FROM quiz_attempts a WHERE a.status = 'open' AND a.kind = ? "
                              "AND a.user_id = ? ORDER BY a.id DESC LIMIT 1", (kind, user_id))
        return _head(row) if row else None

    async def latest_open_attempt(self, user_id: int) -> AttemptHead | None:
        """The user's open round of any kind whose question was shown last."""
        row = await self._one(f"SELECT {_HEAD_COLUMNS} FROM quiz_attempts a WHERE a.status = 'open' "
                              "AND a.user_id = ? ORDER BY a.shown_at DESC, a.id DESC LIMIT 1", (user_id,))
        return _head(row) if row else None

    async def leave_attempt(self, attempt_id: int, now: str) -> bool:
        """Closes an open round as left unfinished ('expired', at `now`, right answers so far counted, no
        points, the notebook unchanged); False if it was not open."""
        async with self._tx(attempts=(attempt_id,)) as db:
            cur = await db.execute(
                "UPDATE quiz_attempts SET status = 'expired', submitted_at = ?, points = 0, "
                "correct = (SELECT COUNT(*) FROM quiz_items WHERE attempt_id = ? AND correct = 1) "
                "WHERE id = ? AND status = 'open'", (now, attempt_id, attempt_id))
            return cur.rowcount > 0

    async def set_attempt_message(self, attempt_id: int, message_id: int) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE quiz_attempts SET message_id = ? WHERE id = ?", (message_id, attempt_id))

        def after(_none: None) -> None:
            cached = self._attempts.get(attempt_id)
            if cached is not None:  # kept, with the id: the next press reads no row
                self._attempts.put(attempt_id, (replace(cached[0], message_id=message_id), cached[1]))

        try:
            await self._write_batched(write, after)
        except BaseException:
            self._attempts.drop(attempt_id)
            raise

    async def expire_attempt(self, attempt_id: int) -> None:
        async with self._tx(attempts=(attempt_id,)) as db:
            await db.execute("UPDATE quiz_attempts SET status = 'expired' WHERE id = ? AND status = 'open'",
                             (attempt_id,))

    async def quiz_view(self, attempt_id: int, positions: tuple[int, ...] | None = None
                        ) -> tuple[AttemptHead | None, dict[int, QuizItem]]:
        """The attempt and its items at those positions (None: the one shown now): every press reads
        this, so the whole attempt is cached (write-through: record_answer updates the entry, every
        other write to an attempt forgets it)."""
        cached = self._attempts.get(attempt_id)
        if cached is None:
            # the whole attempt, kept; without caches (issue 17) only the items wanted
            if self.caching:
                only, params = "", [attempt_id]
            elif positions is None:
                only, params = " AND i.position = a.position", [attempt_id]
            else:
                only, params = f" AND i.position IN ({', '.join('?' * len(positions)) or 'NULL'})", [*positions,
                                                                                                   attempt_id]
            rows = await self._all(
                f"""SELECT {_HEAD_COLUMNS}, {_ITEM_COLUMNS} FROM quiz_attempts a
                    LEFT JOIN quiz_items i ON i.attempt_id = a.id{only}
                    LEFT JOIN questions q ON q.id = i.question_id WHERE a.id = ?""", params)
            if not rows:
                return None, {}
            question = self._sharedquestion_from_row if self.caching else question_from_row
            cached = (_head(rows[0]), {r["i_pos"]: _item(r, question(r)) for r in rows if r["i_pos"] is not None})
            if self.caching:
                self._attempts.put(attempt_id, cached)
        head, items = cached
        wanted = (head.position,) if positions is None else positions
        return head, {p: items[p] for p in wanted if p in items}

    def _sharedquestion_from_row(self, row: aiosqlite.Row) -> Question:
        """One Question object per question for all cached attempts (fewer objects for the collector)."""
        question = cast(Question | None, self._questions.get(row["id"]))
        if question is None:
            question = question_from_row(row)
            self._questions.put(question.id, question)
        return question

    async def attempt_items(self, attempt_id: int) -> list[QuizItem]:
        rows = await self._all(f"SELECT {_ITEM_COLUMNS} FROM quiz_items i JOIN questions q ON q.id = i.question_id "
                               "WHERE i.attempt_id = ? ORDER BY i.position", (attempt_id,))
        return [_item(r) for r in rows]

    async def record_answer(self, attempt_id: int, position: int, answer: list[str], correct: bool,
                            answer_ms: int | None, fast: bool, now: str, *, to_position: int,
                            shown_at: str | None) -> bool:
        """One answer, and the question shown next; False when `position` is no longer the one shown."""
        given = json.dumps(answer, ensure_ascii=False)

        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE quiz_attempts SET position = ?, shown_at = ?, flagged = CASE WHEN ? = 1 THEN 1 ELSE flagged "
                "END WHERE id = ? AND position = ? AND status = 'open'",
                (to_position, shown_at, int(fast), attempt_id, position))
            if cur.rowcount == 0:
                return False
            conn.execute(
                "UPDATE quiz_items SET answer = ?, correct = ?, answered_at = ?, answer_ms = COALESCE(answer_ms, ?), "
                "fast = CASE WHEN ? = 1 THEN 1 ELSE fast END WHERE attempt_id = ? AND position = ?",
                (given, int(correct), now, answer_ms, int(fast), attempt_id, position))
            return True

        def after(done: bool) -> None:
            cached = self._attempts.get(attempt_id)
            if cached is None:
                return
            if not done:
                self._attempts.drop(attempt_id)  # the cache was not what is stored: read it again
                return
            head, items = cached
            items = dict(items)
            items[position] = replace(items[position], answer=tuple(answer), correct=correct, answered_at=now)
            self._attempts.put(attempt_id, (replace(head, position=to_position, shown_at=shown_at,
                                                    flagged=head.flagged or fast), items))

        try:
            return await self._write_batched(write, after)
        except BaseException:
            self._attempts.drop(attempt_id)
            raise

    async def move_attempt(self, attempt_id: int, from_position: int, to_position: int, now: str) -> bool:
        async with self._tx(attempts=(attempt_id,)) as db:
            cur = await db.execute("UPDATE quiz_attempts SET position = ?, shown_at = ? WHERE id = ? AND position = ? "
                                   "AND status = 'open'", (to_position, now, attempt_id, from_position))
            return cur.rowcount > 0

    async def close_attempt(self, attempt_id: int, now: str, *, leave_wrongbook_after: int,
                            keep_through: int | None = None, timed_out: bool = False) -> bool:
        """Submits an open attempt in one transaction (a group commit): counts, and the wrong book
        (answered wrong: in, or back to a streak of 0; right: streak + 1, out at
        `leave_wrongbook_after`). With `keep_through` the items after that position (never shown) are
        dropped; `timed_out` counts the question at `keep_through`, if unanswered, as wrong (a
        challenge's time limit). False if not open."""

        def write(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT user_id FROM quiz_attempts WHERE id = ? AND status = 'open'",
                               (attempt_id,)).fetchone()
            if row is None:
                return False
            user_id = row[0]
            if keep_through is not None:
                conn.execute("DELETE FROM quiz_items WHERE attempt_id = ? AND position > ?", (attempt_id, keep_through))
                if timed_out:
                    conn.execute("UPDATE quiz_items SET correct = 0 WHERE attempt_id = ? AND position = ? "
                                 "AND answer IS NULL", (attempt_id, keep_through))
            conn.execute(
                """UPDATE quiz_attempts SET status = 'submitted', submitted_at = ?,
                       total = (SELECT COUNT(*) FROM quiz_items WHERE attempt_id = ?),
                       correct = (SELECT COUNT(*) FROM quiz_items WHERE attempt_id = ? AND correct = 1)
                   WHERE id = ?""", (now, attempt_id, attempt_id, attempt_id))
            conn.execute(
                """INSERT INTO wrongbook (user_id, question_id, added_at)
                   SELECT ?, question_id, ? FROM quiz_items WHERE attempt_id = ? AND correct = 0
                   ON CONFLICT (user_id, question_id) DO UPDATE SET wrong_times = wrongbook.wrong_times + 1,
                       streak = 0""", (user_id, now, attempt_id))
            conn.execute(
                """UPDATE wrongbook SET streak = streak + 1 WHERE user_id = ?
                     AND question_id IN (SELECT question_id FROM quiz_items WHERE attempt_id = ? AND correct = 1)""",
                (user_id, attempt_id))
            conn.execute("DELETE FROM wrongbook WHERE user_id = ? AND streak >= ?", (user_id, leave_wrongbook_after))
            return True

        try:
            return await self._write_batched(write, lambda _done: self._attempts.drop(attempt_id))
        except BaseException:
            self._attempts.drop(attempt_id)
            raise

    async def set_attempt_points(self, attempt_id: int, points: int) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE quiz_attempts SET points = ? WHERE id = ?", (points, attempt_id))

        await self._write_batched(write, lambda _none: self._attempts.drop(attempt_id))

    async def get_attempt(self, attempt_id: int) -> AttemptHead | None:
        row = await self._one(f"SELECT {_HEAD_COLUMNS} FROM quiz_attempts a WHERE a.id = ?", (attempt_id,))
        return _head(row) if row else None

    async def stale_challenges(self, shown_before: str, limit: int = 500) -> list[AttemptHead]:
        rows = await self._all(f"SELECT {_HEAD_COLUMNS} FROM quiz_attempts a WHERE a.status = 'open' "
                               "AND a.kind = 'challenge' AND a.shown_at < ? ORDER BY a.id LIMIT ?",
                               (shown_before, limit))
        return [_head(r) for r in rows]

    # weekly sets (LEARN-3): scope 0 is the global set, otherwise the publishing organisation's id
    async def weekly_set_for(self, period: str, phone: str | None) -> tuple[int, list[int]] | None:
        """The set of the nearest organisation above the user (their own first) that published one,
        else the global one."""
        row = await self._one(
            """SELECT x.scope, x.question_ids FROM (
                   SELECT w.scope, w.question_ids,
                          (SELECT MIN(t.depth) FROM members m JOIN org_tree t ON t.descendant_id = m.org_id
                           WHERE m.phone = ? AND t.ancestor_id = w.scope) AS d
                   FROM weekly_sets w WHERE w.period = ?) x
               WHERE x.scope = 0 OR x.d IS NOT NULL
               ORDER BY CASE WHEN x.d IS NULL THEN 1 ELSE 0 END, x.d, x.scope LIMIT 1""", (phone or "", period))
        return (row["scope"], json.loads(row["question_ids"])) if row else None

    async def ensure_weekly_set(self, period: str, scope: int, question_ids: list[int], now: str) -> bool:
        """Draws the set unless one exists (the scheduler's Monday draw); True when written."""
        async with self._tx() as db:
            cur = await db.execute("INSERT INTO weekly_sets (period, scope, question_ids, created_at) "
                                   "VALUES (?, ?, ?, ?) ON CONFLICT (period, scope) DO NOTHING",
                                   (period, scope, json.dumps(question_ids), now))
            return cur.rowcount > 0

    async def publish_weekly_set(self, period: str, scope: int, question_ids: list[int], by: int, now: str,
                                 org_id: int | None) -> None:
        """An admin's or the operator's set; replaces a drawn one until somebody has started it.
        Raises Conflict("weekly_taken")."""
        async with self._tx() as db:
            if await fetch_one(db, "SELECT 1 FROM quiz_attempts WHERE kind = 'weekly' AND period = ? AND scope = ? "
                                   "LIMIT 1", (period, scope)):
                raise Conflict("weekly_taken")
            await db.execute(
                "INSERT INTO weekly_sets (period, scope, question_ids, published_by, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (period, scope) "
                "DO UPDATE SET question_ids = excluded.question_ids, "
                "published_by = excluded.published_by, created_at = excluded.created_at",
                (period, scope, json.dumps(question_ids), by, now))
            await write_audit(db, by, org_id, "quiz.weekly_publish", period, None,
                              {"scope": scope, "questions": question_ids}, now)

    async def scored_weekly(self, user_id: int, period: str) -> AttemptHead | None:
        row = await self._one(f"SELECT {_HEAD_COLUMNS} FROM quiz_attempts a WHERE a.user_id = ? AND a.kind = 'weekly' "
                              "AND a.period = ? AND a.scored = 1", (user_id, period))
        return _head(row) if row else None

    # the wrong-answer notebook (LEARN-5)
    async def wrongbook_ids(self, user_id: int, n: int) -> list[int]:
        rows = await self._all("SELECT question_id FROM wrongbook WHERE user_id = ? ORDER BY added_at, question_id "
                               "LIMIT ?", (user_id, n))
        return [r["question_id"] for r in rows]

    async def wrongbook_page(self, user_id: int, limit: int, offset: int = 0
                             ) -> tuple[int, list[tuple[Question, int, int]]]:
        """(how many in all, [(question, times answered wrong, current streak of right answers)])."""
        count = int(await self._value("SELECT COUNT(*) AS n FROM wrongbook WHERE user_id = ?", (user_id,)))
        rows = await self._all(
            """SELECT q.id AS id, q.org_id AS org_id, q.kind AS kind, q.body AS body, q.answer AS answer,
                      q.tags AS tags, w.wrong_times, w.streak FROM wrongbook w
               JOIN questions q ON q.id = w.question_id WHERE w.user_id = ?
               ORDER BY w.added_at, w.question_id LIMIT ? OFFSET ?""",
            (user_id, limit, offset))
        return count, [(question_from_row(r), r["wrong_times"], r["streak"]) for r in rows]


"""Special exams (LEARN-6): the SQL of attempts and answers (schema and shared records in
bot/repositories/exams.py). One live attempt per (exam, person) is a unique index; the deadline,
countdown and reminder rows of an attempt are written in the transaction that starts, moves or
ends it, so a restart loses none."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from bot.repositories.base import Repository
from bot.repositories.due import drop_due, put_due, utc_text
from bot.repositories.exams import (
    ATTEMPT_COLUMNS,
    ATTEMPT_FROM,
    DEADLINE,
    REMIND,
    REMIND_MINUTES,
    TICK,
    ExamAnswer,
    ExamAttempt,
    ExamConflict,
    attempt_from_row,
    drop_attempt_dues,
    enqueue_pushes,
)
from bot.repositories.questions import question_from_row


class ExamAttemptsRepository(Repository):
    """Mixin of the Store: exam attempts and their answers."""


    async def start_exam_attempt(self, exam_id: int, user_id: int, now: datetime, deadline: datetime,
                                 first_tick: datetime | None) -> tuple[ExamAttempt, bool]:
        """(the live attempt, True when this call started it). Another live one is returned as it is
        (a double tap, a second device); raises ExamConflict("attempts_used") when none is left and
        ExamConflict("not_open") outside the window, both checked inside the transaction."""
        async with self._tx() as db:
            async with db.execute("SELECT id FROM exam_attempts WHERE exam_id = ? AND user_id = ? AND status IN "
                                  "('open', 'grace')", (exam_id, user_id)) as cur:
                live = await cur.fetchone()
            if live is None:
                async with db.execute(
                        "SELECT e.max_attempts, e.opens_at, e.closes_at, e.status, "
                        "(SELECT COUNT(*) FROM exam_questions x WHERE x.exam_id = e.id) AS n, "
                        "(SELECT COUNT(*) FROM exam_attempts b WHERE b.exam_id = e.id AND b.user_id = ? "
                        "AND b.status = 'submitted') AS used FROM exams e WHERE e.id = ?", (user_id, exam_id)) as cur:
                    exam = await cur.fetchone()
                if exam is None or exam["status"] != "published":
                    raise ExamConflict("gone")
                if not exam["opens_at"] <= utc_text(now) < exam["closes_at"]:
                    raise ExamConflict("not_open")
                if exam["max_attempts"] is not None and exam["used"] >= exam["max_attempts"]:
                    raise ExamConflict("attempts_used")
                try:
                    cur2 = await db.execute(
                        "INSERT INTO exam_attempts (exam_id, user_id, status, started_at, deadline, total) "
                        "VALUES (?, ?, 'open', ?, ?, ?)", (exam_id, user_id, utc_text(now), utc_text(deadline),
                                                          exam["n"]))
                except aiosqlite.IntegrityError:  # a parallel start won between our read and write
                    raise ExamConflict("busy") from None
                attempt_id = int(cur2.lastrowid or 0)
                ref = f"attempt:{attempt_id}"
                await put_due(db, DEADLINE, ref, deadline)
                if first_tick is not None:
                    await put_due(db, TICK, ref, first_tick)
                for minutes in REMIND_MINUTES:
                    at = deadline.timestamp() - minutes * 60
                    if at > now.timestamp():
                        await put_due(db, REMIND, f"{ref}:{minutes}", datetime.fromtimestamp(at, deadline.tzinfo))
                created = True
            else:
                attempt_id, created = live["id"], False
            async with db.execute(f"SELECT {ATTEMPT_COLUMNS} FROM {ATTEMPT_FROM} WHERE a.id = ?",
                                  (attempt_id,)) as cur:
                row = await cur.fetchone()
            assert row is not None
            return attempt_from_row(row), created

    async def get_exam_attempt(self, attempt_id: int) -> ExamAttempt | None:
        row = await self._one(f"SELECT {ATTEMPT_COLUMNS} FROM {ATTEMPT_FROM} WHERE a.id = ?", (attempt_id,))
        return attempt_from_row(row) if row else None

    async def exam_answers(self, attempt_id: int) -> list[ExamAnswer]:
        """Every question of the attempt's exam in order, with the answer given (None: not answered)."""
        rows = await self._all(
            """SELECT x.position AS pos, q.id, q.org_id, q.kind, q.body, q.answer, q.tags, w.answer AS given,
                      w.correct AS right FROM exam_attempts a JOIN exam_questions x ON x.exam_id = a.exam_id
               JOIN questions q ON q.id = x.question_id
               LEFT JOIN exam_answers w ON w.attempt_id = a.id AND w.position = x.position
               WHERE a.id = ? ORDER BY x.position""", (attempt_id,))
        return [ExamAnswer(r["pos"], question_from_row(r), tuple(json.loads(r["given"])) if r["given"] else None,
                           None if r["right"] is None else bool(r["right"])) for r in rows]

    async def record_exam_answer(self, attempt_id: int, position: int, answer: Sequence[str], correct: bool,
                                 now: datetime, next_position: int) -> bool:
        """False when the attempt is no longer open or its deadline has passed by `now` (the server's clock)."""
        async with self._tx() as db:
            cur = await db.execute("UPDATE exam_attempts SET position = ? WHERE id = ? AND status = 'open' "
                                   "AND deadline > ?", (next_position, attempt_id, utc_text(now)))
            if cur.rowcount == 0:
                return False
            await db.execute(
                "INSERT INTO exam_answers (attempt_id, position, answer, correct, answered_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (attempt_id, position) DO UPDATE SET answer = excluded.answer, "
                "correct = excluded.correct, answered_at = excluded.answered_at",
                (attempt_id, position, json.dumps(list(answer), ensure_ascii=False), int(correct), utc_text(now)))
            return True

    async def set_exam_position(self, attempt_id: int, position: int) -> None:
        async with self._tx() as db:
            await db.execute("UPDATE exam_attempts SET position = ? WHERE id = ?", (position, attempt_id))

    async def set_exam_header(self, attempt_id: int, header_id: int) -> None:
        async with self._tx() as db:
            await db.execute("UPDATE exam_attempts SET header_id = ? WHERE id = ?", (header_id, attempt_id))

    async def submit_exam_attempt(self, attempt_id: int, now: datetime, *, timed_out: bool,
                                  pushes: Sequence[dict[str, Any]] = ()) -> ExamAttempt | None:
        """Scores a live attempt (open, or in its grace period) and ends its due rows; None when it was not live.
        `timed_out` (the sweep's submit at the deadline) keeps the deadline row itself: the sweep marks it
        done once the result's points and pushes are written, so a crash in between runs it again."""
        async with self._tx() as db:
            cur = await db.execute(
                """UPDATE exam_attempts SET status = 'submitted', ended_at = ?, timed_out = ?,
                       correct = (SELECT COUNT(*) FROM exam_answers w WHERE w.attempt_id = ? AND w.correct = 1)
                   WHERE id = ? AND status IN ('open', 'grace')""", (utc_text(now), int(timed_out), attempt_id,
                                                                       attempt_id))
            if cur.rowcount == 0:
                return None
            await drop_attempt_dues(db, attempt_id, keep_deadline=timed_out)
            await enqueue_pushes(db, pushes, now.isoformat())
            async with db.execute(f"SELECT {ATTEMPT_COLUMNS} FROM {ATTEMPT_FROM} WHERE a.id = ?",
                                  (attempt_id,)) as c:
                row = await c.fetchone()
            return attempt_from_row(row) if row else None

    async def reset_exam_attempt(self, attempt_id: int, now: datetime, pushes: Sequence[dict[str, Any]]) -> bool:
        """The manual's rule at the deadline: the answers are cleared and the attempt does not count."""
        return await self._end_attempt(attempt_id, "reset", ("open",), now, pushes, clear=True)

    async def abandon_exam_attempt(self, attempt_id: int, now: datetime, pushes: Sequence[dict[str, Any]]) -> bool:
        """A grace period that ran out without a submit: not scored (as in Moodle)."""
        return await self._end_attempt(attempt_id, "abandoned", ("grace",), now, pushes, clear=False)

    async def _end_attempt(self, attempt_id: int, status: str, from_status: tuple[str, ...], now: datetime,
                           pushes: Sequence[dict[str, Any]], *, clear: bool) -> bool:
        marks = ",".join("?" * len(from_status))
        async with self._tx() as db:
            cur = await db.execute(f"UPDATE exam_attempts SET status = ?, ended_at = ?, timed_out = 1 WHERE id = ? "
                                   f"AND status IN ({marks})", (status, utc_text(now), attempt_id, *from_status))
            if cur.rowcount == 0:
                return False
            if clear:
                await db.execute("DELETE FROM exam_answers WHERE attempt_id = ?", (attempt_id,))
            await drop_attempt_dues(db, attempt_id)
            await enqueue_pushes(db, pushes, now.isoformat())
            return True

    async def exam_attempt_to_grace(self, attempt_id: int, grace_until: datetime, now: datetime,
                                    pushes: Sequence[dict[str, Any]]) -> bool:
        async with self._tx() as db:
            cur = await db.execute("UPDATE exam_attempts SET status = 'grace', grace_until = ? WHERE id = ? "
                                   "AND status = 'open'", (utc_text(grace_until), attempt_id))
            if cur.rowcount == 0:
                return False
            ref = f"attempt:{attempt_id}"
            await drop_due(db, TICK, ref)
            await put_due(db, DEADLINE, f"{ref}:grace", grace_until)
            await enqueue_pushes(db, pushes, now.isoformat())
            return True

    async def schedule_exam_tick(self, attempt_id: int, at: datetime) -> bool:
        """The next countdown edit of a still-open attempt; False when it is over."""
        async with self._tx() as db:
            async with db.execute("SELECT 1 FROM exam_attempts WHERE id = ? AND status = 'open'", (attempt_id,)) as c:
                if await c.fetchone() is None:
                    return False
            await put_due(db, TICK, f"attempt:{attempt_id}", at)
            return True

    async def enqueue_exam_pushes(self, pushes: Sequence[dict[str, Any]], now: datetime) -> None:
        async with self._tx() as db:
            await enqueue_pushes(db, pushes, now.isoformat())

    async def live_exam_attempts(self) -> int:
        row = await self._one("SELECT COUNT(*) AS n FROM exam_attempts WHERE status = 'open'")
        return int(row["n"]) if row else 0

    async def user_exam_attempts(self, exam_id: int, user_id: int) -> list[ExamAttempt]:
        rows = await self._all(f"SELECT {ATTEMPT_COLUMNS} FROM {ATTEMPT_FROM} WHERE a.exam_id = ? "
                               "AND a.user_id = ? ORDER BY a.id", (exam_id, user_id))
        return [attempt_from_row(r) for r in rows]

"""Special exams (LEARN-6): the only SQL for exams, their questions, attempts and answers.

Times are stored as UTC text (bot.repositories.due.utc_text) so that strings sort by time. One live
attempt per (exam, person) is a unique index: a double tap or a second device cannot start two.
Every deadline, countdown edit and reminder of an attempt is a due row written in the transaction
that starts, moves or ends the attempt (bot/repositories/due.py), so a restart loses none.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from bot.models import Question
from bot.repositories.audit import write_audit
from bot.repositories.base import Repository
from bot.repositories.due import drop_due, put_due, utc_text
from bot.repositories.outbox import enqueue_in
from bot.repositories.questions import question_from_row

LIVE = ("open", "grace")
# The questions an organisation's exams may use: in use, and global or of the organisation or one above it.
_EXAM_BANK = ("q.retired_at IS NULL AND (q.org_id IS NULL OR q.org_id IN "
              "(SELECT ancestor_id FROM org_tree WHERE descendant_id = ?))")
DEADLINE, TICK, REMIND, PUBLISH = "exam_deadline", "exam_tick", "exam_remind", "exam_publish"
REMIND_MINUTES = (5, 1)


class ExamConflict(Exception):
    """A rule the database keeps said no: `what` names it (started, attempts_used, not_open, gone)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True, slots=True)
class ExamSettings:
    title: str
    time_limit: int          # seconds
    opens_at: datetime
    closes_at: datetime
    pass_mark: int           # right answers needed
    max_attempts: int | None  # None: unlimited
    points: int
    policy: str              # reset | submit | grace
    grace_seconds: int


@dataclass(frozen=True, slots=True)
class Exam:
    id: int
    org_id: int
    org_name: str
    title: str
    time_limit: int
    opens_at: datetime
    closes_at: datetime
    pass_mark: int
    max_attempts: int | None
    points: int
    policy: str
    grace_seconds: int
    status: str
    publish_at: datetime | None
    questions: int
    started: bool             # somebody has started it: its questions are locked


@dataclass(frozen=True, slots=True)
class ExamAttempt:
    id: int
    exam_id: int
    user_id: int
    status: str
    started_at: datetime
    deadline: datetime
    grace_until: datetime | None
    ended_at: datetime | None
    total: int
    correct: int | None
    timed_out: bool
    header_id: int | None
    position: int
    language: str | None      # the person's chosen language (for what the sweep sends)


@dataclass(frozen=True, slots=True)
class ExamAnswer:
    position: int
    question: Question
    answer: tuple[str, ...] | None
    correct: bool | None


@dataclass(frozen=True, slots=True)
class MyExam:
    """An exam as one member sees it in the list."""
    exam: Exam
    used: int                 # attempts submitted
    best: int | None
    live: ExamAttempt | None


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    language: str | None


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One member of the exam's subtree with their best submitted score (None: not started)."""
    user_id: int | None
    name: str
    phone: str
    best: int | None
    attempts: int
    best_seconds: int | None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _need(text: str) -> datetime:
    return datetime.fromisoformat(text)


_EXAM_COLUMNS = ("e.id, e.org_id, o.name AS org_name, e.title, e.time_limit, e.opens_at, e.closes_at, e.pass_mark, "
                 "e.max_attempts, e.points, e.policy, e.grace_seconds, e.status, e.publish_at, "
                 "(SELECT COUNT(*) FROM exam_questions x WHERE x.exam_id = e.id) AS n_questions, "
                 "EXISTS (SELECT 1 FROM exam_attempts s WHERE s.exam_id = e.id) AS started")
ATTEMPT_COLUMNS = ("a.id, a.exam_id, a.user_id, a.status, a.started_at, a.deadline, a.grace_until, a.ended_at, "
                    "a.total, a.correct, a.timed_out, a.header_id, a.position, u.language AS language")
ATTEMPT_FROM = "exam_attempts a JOIN users u ON u.id = a.user_id"
# the organisations whose exams a phone sees: those its member records are in, and those above them
_ORGS_OF_PHONE = ("SELECT t.ancestor_id FROM members m JOIN org_tree t ON t.descendant_id = m.org_id "
                  "WHERE m.phone = ?")


def _exam(row: aiosqlite.Row) -> Exam:
    return Exam(row["id"], row["org_id"], row["org_name"], row["title"], row["time_limit"], _need(row["opens_at"]),
                _need(row["closes_at"]), row["pass_mark"], row["max_attempts"], row["points"], row["policy"],
                row["grace_seconds"], row["status"], _dt(row["publish_at"]), row["n_questions"], bool(row["started"]))


def attempt_from_row(row: aiosqlite.Row) -> ExamAttempt:
    return ExamAttempt(row["id"], row["exam_id"], row["user_id"], row["status"], _need(row["started_at"]),
                       _need(row["deadline"]), _dt(row["grace_until"]), _dt(row["ended_at"]), row["total"],
                       row["correct"], bool(row["timed_out"]), row["header_id"], row["position"], row["language"])


async def enqueue_pushes(db: aiosqlite.Connection, pushes: Sequence[dict[str, Any]], now: str) -> None:
    """The exam's notices, in the transaction of the change they tell about (bot/repositories/outbox.py)."""
    if pushes:
        await enqueue_in(db, pushes, now)


async def drop_attempt_dues(db: aiosqlite.Connection, attempt_id: int, *, keep_deadline: bool = False) -> None:
    ref = f"attempt:{attempt_id}"
    if not keep_deadline:
        await drop_due(db, DEADLINE, ref)
    await drop_due(db, DEADLINE, f"{ref}:grace")
    await drop_due(db, TICK, ref)
    for minutes in REMIND_MINUTES:
        await drop_due(db, REMIND, f"{ref}:{minutes}")


class ExamsRepository(Repository):
    """Mixin of the Store (like the other *Queries classes): exams, who sees them, results.
    Attempts and answers: bot/repositories/exam_attempts.py."""


    # -- exams ------------------------------------------------------------------------------------
    async def create_exam(self, org_id: int, s: ExamSettings, question_ids: Sequence[int], actor_id: int,
                          now: datetime) -> int:
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO exams (org_id, title, time_limit, opens_at, closes_at, pass_mark, max_attempts, points, "
                "policy, grace_seconds, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (org_id, s.title, s.time_limit, utc_text(s.opens_at), utc_text(s.closes_at), s.pass_mark,
                 s.max_attempts, s.points, s.policy, s.grace_seconds, actor_id, utc_text(now)))
            exam_id = int(cur.lastrowid or 0)
            await db.executemany("INSERT INTO exam_questions (exam_id, position, question_id) VALUES (?, ?, ?)",
                                 [(exam_id, pos, qid) for pos, qid in enumerate(question_ids)])
            await write_audit(db, actor_id, org_id, "exam.create", str(exam_id), None,
                              {"title": s.title, "questions": len(question_ids)}, now.isoformat())
            return exam_id

    async def update_exam(self, exam_id: int, s: ExamSettings, question_ids: Sequence[int] | None, actor_id: int,
                          now: datetime) -> None:
        """Raises ExamConflict("started") once anybody has started it (its questions and rules are locked)."""
        async with self._tx() as db:
            await _check_not_started(db, exam_id)
            await db.execute(
                "UPDATE exams SET title = ?, time_limit = ?, opens_at = ?, closes_at = ?, pass_mark = ?, "
                "max_attempts = ?, points = ?, policy = ?, grace_seconds = ? WHERE id = ?",
                (s.title, s.time_limit, utc_text(s.opens_at), utc_text(s.closes_at), s.pass_mark, s.max_attempts,
                 s.points, s.policy, s.grace_seconds, exam_id))
            if question_ids is not None:
                await db.execute("DELETE FROM exam_questions WHERE exam_id = ?", (exam_id,))
                await db.executemany("INSERT INTO exam_questions (exam_id, position, question_id) VALUES (?, ?, ?)",
                                     [(exam_id, pos, qid) for pos, qid in enumerate(question_ids)])
            await write_audit(db, actor_id, await _exam_org(db, exam_id), "exam.edit", str(exam_id), None,
                              {"title": s.title}, now.isoformat())

    async def publish_exam(self, exam_id: int, at: datetime | None, pushes: Sequence[dict[str, Any]], actor_id: int,
                           now: datetime) -> bool:
        """Now (with the notices to the subtree in the same transaction) or at `at` (a due row; the
        notices are written when it runs). False when it was published already."""
        async with self._tx() as db:
            if at is None:
                cur = await db.execute("UPDATE exams SET status = 'published', publish_at = ? WHERE id = ? "
                                       "AND status <> 'published'", (utc_text(now), exam_id))
                if cur.rowcount == 0:
                    return False
                await drop_due(db, PUBLISH, f"exam:{exam_id}")
                await enqueue_pushes(db, pushes, now.isoformat())
            else:
                cur = await db.execute("UPDATE exams SET status = 'scheduled', publish_at = ? WHERE id = ? "
                                       "AND status <> 'published'", (utc_text(at), exam_id))
                if cur.rowcount == 0:
                    return False
                await put_due(db, PUBLISH, f"exam:{exam_id}", at)
            await write_audit(db, actor_id, await _exam_org(db, exam_id), "exam.publish", str(exam_id), None,
                              {"at": utc_text(at or now)}, now.isoformat())
            return True

    async def publish_due_exam(self, exam_id: int, pushes: Sequence[dict[str, Any]], now: datetime) -> bool:
        """The scheduled publish, run by the sweep: exactly once (a rerun finds it published)."""
        async with self._tx() as db:
            cur = await db.execute("UPDATE exams SET status = 'published' WHERE id = ? AND status = 'scheduled'",
                                   (exam_id,))
            if cur.rowcount == 0:
                return False
            await enqueue_pushes(db, pushes, now.isoformat())
            return True

    async def get_exam(self, exam_id: int) -> Exam | None:
        row = await self._one(f"SELECT {_EXAM_COLUMNS} FROM exams e JOIN orgs o ON o.id = e.org_id WHERE e.id = ?",
                              (exam_id,))
        return _exam(row) if row else None

    async def exams_of_orgs(self, org_ids: Iterable[int], limit: int = 30) -> list[Exam]:
        ids = sorted(set(org_ids))
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = await self._all(f"SELECT {_EXAM_COLUMNS} FROM exams e JOIN orgs o ON o.id = e.org_id "
                               f"WHERE e.org_id IN ({marks}) ORDER BY e.id DESC LIMIT ?", (*ids, limit))
        return [_exam(r) for r in rows]

    async def exam_questions(self, exam_id: int) -> list[Question]:
        rows = await self._all("SELECT q.id, q.org_id, q.kind, q.body, q.answer, q.tags FROM exam_questions x "
                               "JOIN questions q ON q.id = x.question_id WHERE x.exam_id = ? ORDER BY x.position",
                               (exam_id,))
        return [question_from_row(r) for r in rows]

    async def exam_draw(self, org_id: int, n: int, tag: str | None) -> list[int]:
        """Questions the organisation's subtree sees (its bank, the banks above it, the global one), at random."""
        tag_sql = ""
        params: list[Any] = [org_id]
        if tag:
            tag_sql = " AND (',' || q.tags || ',') LIKE ?"
            params.append(f"%,{tag},%")
        rows = await self._all(
            f"SELECT q.id FROM questions q WHERE {_EXAM_BANK}{tag_sql} ORDER BY RANDOM() LIMIT ?",
            (*params, n))
        return [r["id"] for r in rows]

    async def exam_bank_page(self, org_id: int, limit: int, offset: int) -> tuple[int, list[Question]]:
        count = await self._one(f"SELECT COUNT(*) AS n FROM questions q WHERE {_EXAM_BANK}", (org_id,))
        rows = await self._all(f"SELECT q.id, q.org_id, q.kind, q.body, q.answer, q.tags FROM questions q "
                               f"WHERE {_EXAM_BANK} ORDER BY q.id LIMIT ? OFFSET ?", (org_id, limit, offset))
        return (count["n"] if count else 0), [question_from_row(r) for r in rows]

    async def exam_bank_ids(self, org_id: int, question_ids: Iterable[int]) -> set[int]:
        """Which of `question_ids` the organisation may put into an exam (the bank exam_bank_page shows)."""
        ids = sorted(set(question_ids))
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = await self._all(f"SELECT q.id FROM questions q WHERE {_EXAM_BANK} AND q.id IN ({marks})",
                               (org_id, *ids))
        return {r["id"] for r in rows}

    async def question_ids_by_fingerprint(self, org_id: int, fingerprints: Sequence[str]) -> list[int]:
        """The ids of an organisation bank's questions in the order of `fingerprints` (an uploaded sheet's rows)."""
        if not fingerprints:
            return []
        marks = ",".join("?" * len(fingerprints))
        rows = await self._all(f"SELECT id, fingerprint FROM questions WHERE org_id = ? AND fingerprint IN ({marks})",
                               (org_id, *fingerprints))
        by_fp = {r["fingerprint"]: r["id"] for r in rows}
        return [by_fp[fp] for fp in fingerprints if fp in by_fp]

    async def exams_for_phone(self, user_id: int, phone: str) -> list[MyExam]:
        """Published exams of the member's organisations and those above them, newest first, with the
        member's attempts used, best score and live attempt."""
        rows = await self._all(
            f"""SELECT {_EXAM_COLUMNS},
                   (SELECT COUNT(*) FROM exam_attempts b WHERE b.exam_id = e.id AND b.user_id = ?
                        AND b.status = 'submitted') AS used,
                   (SELECT MAX(b.correct) FROM exam_attempts b WHERE b.exam_id = e.id AND b.user_id = ?
                        AND b.status = 'submitted') AS best,
                   (SELECT b.id FROM exam_attempts b WHERE b.exam_id = e.id AND b.user_id = ?
                        AND b.status IN ('open', 'grace')) AS live_id
                FROM exams e JOIN orgs o ON o.id = e.org_id
                WHERE e.status = 'published' AND e.org_id IN ({_ORGS_OF_PHONE})
                ORDER BY e.closes_at DESC, e.id DESC LIMIT 30""", (user_id, user_id, user_id, phone))
        live_ids = [r["live_id"] for r in rows if r["live_id"]]
        live: dict[int, ExamAttempt] = {}
        if live_ids:
            marks = ",".join("?" * len(live_ids))
            found = await self._all(f"SELECT {ATTEMPT_COLUMNS} FROM {ATTEMPT_FROM} WHERE a.id IN ({marks})", live_ids)
            live = {r["id"]: attempt_from_row(r) for r in found}
        return [MyExam(_exam(r), r["used"], r["best"], live.get(r["live_id"])) for r in rows]

    async def phone_sees_org(self, phone: str, org_id: int) -> bool:
        row = await self._one(f"SELECT 1 FROM ({_ORGS_OF_PHONE}) x WHERE x.ancestor_id = ? LIMIT 1", (phone, org_id))
        return row is not None

    async def subtree_recipients(self, org_id: int) -> list[Recipient]:
        """Registered people listed as members anywhere in the organisation's subtree."""
        rows = await self._all(
            """SELECT DISTINCT u.id, u.language FROM members m JOIN org_tree t ON t.descendant_id = m.org_id
               JOIN users u ON u.phone = m.phone WHERE t.ancestor_id = ? AND u.registered_at IS NOT NULL
               ORDER BY u.id""", (org_id,))
        return [Recipient(r["id"], r["language"]) for r in rows]

    # -- results for admins ---------------------------------------------------------------------------
    async def exam_result_rows(self, exam_id: int, org_id: int) -> list[ResultRow]:
        """Every member of the subtree (by phone, once) with their best submitted score, attempts and time."""
        rows = await self._all(
            """SELECT u.id AS user_id, MIN(m.name) AS name, m.phone AS phone,
                   (SELECT MAX(b.correct) FROM exam_attempts b WHERE b.exam_id = ? AND b.user_id = u.id
                        AND b.status = 'submitted') AS best,
                   (SELECT COUNT(*) FROM exam_attempts b WHERE b.exam_id = ? AND b.user_id = u.id
                        AND b.status = 'submitted') AS attempts,
                   (SELECT b.started_at || '|' || b.ended_at FROM exam_attempts b WHERE b.exam_id = ?
                        AND b.user_id = u.id AND b.status = 'submitted' ORDER BY b.correct DESC, b.id LIMIT 1) AS span
               FROM members m JOIN org_tree t ON t.descendant_id = m.org_id
               LEFT JOIN users u ON u.phone = m.phone
               WHERE t.ancestor_id = ? GROUP BY m.phone, u.id ORDER BY MIN(m.name), m.phone""",
            (exam_id, exam_id, exam_id, org_id))
        out = []
        for r in rows:
            seconds = None
            if r["span"]:
                start, end = r["span"].split("|")
                seconds = int((_need(end) - _need(start)).total_seconds())
            out.append(ResultRow(r["user_id"], r["name"], r["phone"], r["best"], r["attempts"] or 0, seconds))
        return out

    async def first_attempt_matrix(self, exam_id: int) -> list[list[int]]:
        """One row per person's first submitted attempt: 1/0 per question position (unanswered: 0)."""
        rows = await self._all(
            """SELECT a.id, x.position, COALESCE(w.correct, 0) AS right FROM exam_attempts a
               JOIN exam_questions x ON x.exam_id = a.exam_id
               LEFT JOIN exam_answers w ON w.attempt_id = a.id AND w.position = x.position
               WHERE a.exam_id = ? AND a.status = 'submitted' AND a.id = (SELECT MIN(b.id) FROM exam_attempts b
                   WHERE b.exam_id = a.exam_id AND b.user_id = a.user_id AND b.status = 'submitted')
               ORDER BY a.id, x.position""", (exam_id,))
        matrix: dict[int, list[int]] = {}
        for r in rows:
            matrix.setdefault(r["id"], []).append(int(r["right"]))
        return list(matrix.values())


async def _check_not_started(db: aiosqlite.Connection, exam_id: int) -> None:
    async with db.execute("SELECT 1 FROM exam_attempts WHERE exam_id = ? LIMIT 1", (exam_id,)) as cur:
        if await cur.fetchone():
            raise ExamConflict("started")


async def _exam_org(db: aiosqlite.Connection, exam_id: int) -> int | None:
    """The organisation an exam belongs to, for its audit rows (the org's audit log lists them)."""
    async with db.execute("SELECT org_id FROM exams WHERE id = ?", (exam_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])

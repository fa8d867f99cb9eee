"""The only place with SQL. SQLite through aiosqlite: WAL, foreign keys, busy timeout,
versioned migrations, one transaction per action.

All access goes through one connection guarded by an asyncio lock, so a transaction is never
interleaved with another task's statements. SQL is kept portable (plain SQL, ON CONFLICT
upserts) so that a PostgreSQL backend can follow.
"""
from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiosqlite

from bot.models import Org, Question, QuestionText, User
from bot.repositories.due import MIGRATION as DUE_MIGRATION
from bot.repositories.due import DueRepository
from bot.repositories.exam_attempts import ExamAttemptQueries
from bot.repositories.exams import MIGRATION as EXAMS_MIGRATION
from bot.repositories.exams import ExamQueries

MIGRATIONS: list[str] = [
    # 1: users, FSM state, audit log
    """
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        first_name    TEXT NOT NULL DEFAULT '',
        last_name     TEXT,
        username      TEXT,
        tg_language   TEXT,
        language      TEXT,
        phone         TEXT UNIQUE,
        name          TEXT,
        org_name      TEXT,
        agreed_at     TEXT,
        registered_at TEXT,
        real_name     TEXT,
        id_hash       TEXT UNIQUE,
        id_masked     TEXT,
        verified_at   TEXT,
        menu          TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE TABLE fsm (
        key   TEXT PRIMARY KEY,
        state TEXT,
        data  TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE audit_log (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        actor_id  INTEGER NOT NULL,
        org_id    INTEGER,
        action    TEXT NOT NULL,
        target    TEXT,
        before    TEXT,
        after     TEXT,
        at        TEXT NOT NULL
    );
    CREATE INDEX audit_log_org ON audit_log (org_id, id);
    """,
    # 2: learning organisations, their admins, branches and members
    """
    CREATE TABLE orgs (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        name            TEXT NOT NULL,
        region          TEXT NOT NULL DEFAULT '',
        kind            TEXT NOT NULL DEFAULT 'party' CHECK (kind IN ('party', 'nonparty')),
        parent_id       INTEGER REFERENCES orgs (id),
        certified_at    TEXT,
        join_approval   INTEGER NOT NULL DEFAULT 0,
        protect_content INTEGER NOT NULL DEFAULT 1,
        created_by      INTEGER NOT NULL REFERENCES users (id),
        created_at      TEXT NOT NULL
    );
    CREATE INDEX orgs_parent ON orgs (parent_id);
    CREATE TABLE org_admins (
        org_id   INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        user_id  INTEGER NOT NULL REFERENCES users (id),
        role     TEXT NOT NULL CHECK (role IN ('main', 'admin')),
        added_at TEXT NOT NULL,
        PRIMARY KEY (org_id, user_id)
    );
    CREATE INDEX org_admins_user ON org_admins (user_id);
    CREATE TABLE branches (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id     INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        parent_id  INTEGER REFERENCES branches (id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (org_id, name)
    );
    CREATE TABLE members (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id       INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        branch_id    INTEGER REFERENCES branches (id) ON DELETE SET NULL,
        name         TEXT NOT NULL,
        phone        TEXT NOT NULL,
        note         TEXT,
        activated_at TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        UNIQUE (org_id, phone)
    );
    CREATE INDEX members_phone ON members (phone);
    CREATE INDEX members_branch ON members (org_id, branch_id);
    """,
    # 3: join invitations, join requests, the points ledger
    """
    CREATE TABLE invites (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id      INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        branch_id   INTEGER REFERENCES branches (id) ON DELETE CASCADE,
        token_hash  TEXT NOT NULL UNIQUE,
        created_by  INTEGER NOT NULL REFERENCES users (id),
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        max_uses    INTEGER,
        uses        INTEGER NOT NULL DEFAULT 0,
        revoked_at  TEXT
    );
    CREATE INDEX invites_org ON invites (org_id, id);
    CREATE TABLE join_requests (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id      INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        branch_id   INTEGER REFERENCES branches (id) ON DELETE SET NULL,
        user_id     INTEGER NOT NULL REFERENCES users (id),
        invite_id   INTEGER REFERENCES invites (id) ON DELETE SET NULL,
        status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
        created_at  TEXT NOT NULL,
        decided_by  INTEGER REFERENCES users (id),
        decided_at  TEXT
    );
    CREATE UNIQUE INDEX join_requests_pending ON join_requests (org_id, user_id) WHERE status = 'pending';
    CREATE TABLE points (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id     INTEGER NOT NULL REFERENCES users (id),
        amount      INTEGER NOT NULL,
        source      TEXT NOT NULL,
        day         TEXT NOT NULL,
        ref         TEXT,
        reason      TEXT,
        idem_key    TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL
    );
    CREATE INDEX points_user_day ON points (user_id, day);
    """,
    # 4: the outbox of pushes (DESIGN "Pushes")
    """
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id         INTEGER NOT NULL,
        kind            TEXT NOT NULL CHECK (kind IN ('text', 'photo', 'document')),
        payload         TEXT NOT NULL,
        file_name       TEXT,
        file_data       BLOB,
        dedupe_key      TEXT UNIQUE,
        status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sent', 'failed', 'unreachable')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        created_at      TEXT NOT NULL,
        sent_at         TEXT,
        message_id      INTEGER
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    """,
    # 5: a branch is a 党总支 ('general', top level, may hold 党支部) or a 党支部 ('branch') (ORG-3)
    """
    ALTER TABLE branches ADD COLUMN kind TEXT NOT NULL DEFAULT 'branch' CHECK (kind IN ('general', 'branch'))
    """,
    # 6: the organisation tree as a closure table (DESIGN "Store"): one row per (ancestor, descendant)
    # pair of the certified tree, depth 0 for the organisation itself; "this organisation and everything
    # under it" is `WHERE ancestor_id = ?`. Kept right by certify/un-certify/dissolve.
    """
    CREATE TABLE org_tree (
        ancestor_id   INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        descendant_id INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        depth         INTEGER NOT NULL,
        PRIMARY KEY (ancestor_id, descendant_id)
    );
    CREATE INDEX org_tree_descendant ON org_tree (descendant_id, depth);
    INSERT INTO org_tree (ancestor_id, descendant_id, depth) SELECT id, id, 0 FROM orgs
    """,
    # 7: the question bank (LEARN-1). org_id NULL is the operator's global bank; an organisation's
    # questions are seen by its subtree. No foreign key on org_id: a dissolved organisation's
    # questions are retired, never deleted, so that past attempts can still be reviewed.
    """
    CREATE TABLE questions (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id      INTEGER,
        kind        TEXT NOT NULL CHECK (kind IN ('single', 'multiple', 'judge', 'blank')),
        body        TEXT NOT NULL,
        answer      TEXT NOT NULL,
        tags        TEXT NOT NULL DEFAULT '',
        fingerprint TEXT NOT NULL,
        created_by  INTEGER,
        created_at  TEXT NOT NULL,
        retired_at  TEXT
    );
    CREATE UNIQUE INDEX questions_fingerprint ON questions (COALESCE(org_id, 0), fingerprint);
    CREATE INDEX questions_org ON questions (org_id)
    """,
    # 8: quiz attempts (LEARN-2..5): daily, weekly, challenge and wrong-book practice rounds.
    # quiz_attempts.position is the question shown now (answers are accepted for it only) and shown_at
    # when it was shown; scored = 0 marks a weekly practice round (no points). One scored weekly
    # attempt per user and ISO week (period '2026-W48') is a unique index. quiz_items.answer is JSON:
    # a list of strings, choice letters (["A", "C"]), judge ["T"] or ["F"], or one typed text per blank;
    # answer_ms is from shown to first answer, fast = 1 when under a human's reading time.
    """
    CREATE TABLE quiz_attempts (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id      INTEGER NOT NULL REFERENCES users (id),
        kind         TEXT NOT NULL CHECK (kind IN ('daily', 'weekly', 'challenge', 'practice')),
        day          TEXT NOT NULL,
        period       TEXT,
        scope        INTEGER,
        scored       INTEGER NOT NULL DEFAULT 1,
        status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'submitted', 'expired')),
        position     INTEGER NOT NULL DEFAULT 0,
        shown_at     TEXT,
        started_at   TEXT NOT NULL,
        submitted_at TEXT,
        total        INTEGER NOT NULL,
        correct      INTEGER,
        points       INTEGER,
        flagged      INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX quiz_attempts_user ON quiz_attempts (user_id, day);
    CREATE INDEX quiz_attempts_open ON quiz_attempts (status, kind, user_id);
    CREATE UNIQUE INDEX quiz_attempts_weekly_scored ON quiz_attempts (user_id, period)
        WHERE kind = 'weekly' AND scored = 1;
    CREATE TABLE quiz_items (
        attempt_id  INTEGER NOT NULL REFERENCES quiz_attempts (id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        question_id INTEGER NOT NULL REFERENCES questions (id),
        answer      TEXT,
        correct     INTEGER,
        answered_at TEXT,
        answer_ms   INTEGER,
        fast        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (attempt_id, position)
    );
    CREATE TABLE seen_questions (
        user_id     INTEGER NOT NULL REFERENCES users (id),
        question_id INTEGER NOT NULL REFERENCES questions (id),
        last_seen   TEXT NOT NULL,
        times       INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (user_id, question_id)
    );
    CREATE TABLE weekly_sets (
        period       TEXT NOT NULL,
        scope        INTEGER NOT NULL DEFAULT 0,
        question_ids TEXT NOT NULL,
        published_by INTEGER,
        created_at   TEXT NOT NULL,
        PRIMARY KEY (period, scope)
    );
    CREATE TABLE wrongbook (
        user_id     INTEGER NOT NULL REFERENCES users (id),
        question_id INTEGER NOT NULL REFERENCES questions (id),
        added_at    TEXT NOT NULL,
        wrong_times INTEGER NOT NULL DEFAULT 1,
        streak      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, question_id)
    );
    CREATE INDEX points_source_day ON points (user_id, source, day)
    """,
    # 9: certification invitations, applications, rename requests (CERT, ORG-6). An application or a
    # rename request is decided once: `UPDATE ... WHERE status = 'pending'` lets exactly one decision win.
    # One pending application per lower organisation, one pending rename per organisation.
    """
    CREATE TABLE cert_invites (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id       INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        token_hash   TEXT NOT NULL UNIQUE,
        addressee_id INTEGER REFERENCES users (id),
        note         TEXT,
        created_by   INTEGER NOT NULL REFERENCES users (id),
        created_at   TEXT NOT NULL,
        expires_at   TEXT NOT NULL,
        revoked_at   TEXT
    );
    CREATE INDEX cert_invites_org ON cert_invites (org_id, id);
    CREATE TABLE cert_applications (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        upper_id     INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        lower_id     INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        invite_id    INTEGER REFERENCES cert_invites (id) ON DELETE SET NULL,
        applicant_id INTEGER NOT NULL REFERENCES users (id),
        status       TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
        reason       TEXT,
        created_at   TEXT NOT NULL,
        decided_by   INTEGER REFERENCES users (id),
        decided_at   TEXT
    );
    CREATE UNIQUE INDEX cert_applications_pending ON cert_applications (lower_id) WHERE status = 'pending';
    CREATE INDEX cert_applications_upper ON cert_applications (upper_id, status, id);
    CREATE TABLE rename_requests (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id       INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        upper_id     INTEGER REFERENCES orgs (id) ON DELETE CASCADE,
        old_name     TEXT NOT NULL,
        new_name     TEXT NOT NULL,
        requested_by INTEGER NOT NULL REFERENCES users (id),
        status       TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
        reason       TEXT,
        created_at   TEXT NOT NULL,
        decided_by   INTEGER REFERENCES users (id),
        decided_at   TEXT
    );
    CREATE UNIQUE INDEX rename_requests_pending ON rename_requests (org_id) WHERE status = 'pending';
    CREATE INDEX rename_requests_upper ON rename_requests (upper_id, status)
    """,
    # 10: reserved for the question-bank work
    "SELECT 1",
    # 11: reserved for the quiz work
    "SELECT 1",
    # 12: running sums of the ledger per user and per (user, day), kept by award_points in the same
    # transaction, so a ranking of 100,000 members reads one row per member instead of a year of rows
    """
    CREATE TABLE points_daily (
        user_id INTEGER NOT NULL REFERENCES users (id),
        day     TEXT NOT NULL,
        amount  INTEGER NOT NULL,
        PRIMARY KEY (user_id, day)
    );
    CREATE TABLE points_totals (
        user_id INTEGER PRIMARY KEY REFERENCES users (id),
        total   INTEGER NOT NULL
    );
    INSERT INTO points_daily (user_id, day, amount) SELECT user_id, day, SUM(amount) FROM points GROUP BY user_id, day;
    INSERT INTO points_totals (user_id, total) SELECT user_id, SUM(amount) FROM points GROUP BY user_id
    """,
    # 13: due work, every scheduled time as a row (bot/repositories/due.py, swept by bot/scheduler.py)
    DUE_MIGRATION,
    # 14: special exams (LEARN-6), schema in bot/repositories/exams.py
    EXAMS_MIGRATION,
]

_USER_COLUMNS = (
    "id, first_name, last_name, username, tg_language, language, phone, name, org_name, "
    "registered_at, real_name, id_masked, verified_at"
)


class StoreError(Exception):
    pass


class Conflict(StoreError):
    """A uniqueness rule said no; `what` names it (e.g. "phone", "id_number")."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True, slots=True)
class Membership:
    org_id: int
    org_name: str
    certified: bool
    branch_name: str | None


class _Lru:
    """A bounded map, least recently used out first: the store's write-through read caches.

    Sound because the bot's process is the database's one writer (DESIGN: one writer connection):
    every write goes through this store, which updates or drops the entries it touches."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._map: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any, default: Any = None) -> Any:
        value = self._map.get(key, _MISSING)
        if value is _MISSING:
            return default
        self._map.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self._map[key] = value
        self._map.move_to_end(key)
        if len(self._map) > self._size:
            self._map.popitem(last=False)

    def drop(self, *keys: Any) -> None:
        for key in keys:
            self._map.pop(key, None)

    def clear(self) -> None:
        self._map.clear()


_MISSING = object()


def _nothing(_result: Any) -> None:
    """A batched write that no cache follows."""


class _Base:
    """The connection, its lock and the three ways to use it."""

    _db: aiosqlite.Connection
    _lock: asyncio.Lock
    _users: _Lru     # user id -> User | None (None: no row yet)
    _admins: _Lru    # user id -> (admin org ids, main admin org ids)
    _attempts: _Lru  # quiz attempt id -> (AttemptHead, {position: QuizItem}), the whole attempt
    _questions: _Lru  # question id -> Question (a question's text and answer never change once stored)
    _pending: list[tuple[Callable[[Any], Any], Callable[[Any], None], asyncio.Future[Any]]]  # the next group commit
    _committers: set[asyncio.Task[None]]

    @asynccontextmanager
    async def _tx(self, *, users: Iterable[int] = (), admins: bool = False, attempts: Iterable[int] = (),
                  bank: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction (BEGIN IMMEDIATE), rolled back on any error. The cached rows it may
        change are named: those users, everybody's admin roles, those quiz attempts, every question
        (and so every cached attempt, which holds its questions); they are forgotten before the lock
        is released, so the next read sees what was written."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            else:
                await self._db.execute("COMMIT")
            finally:
                self._users.drop(*users)
                self._attempts.drop(*attempts)
                if admins:
                    self._admins.clear()
                if bank:
                    self._questions.clear()
                    self._attempts.clear()

    @asynccontextmanager
    async def raw_tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """A transaction for statements written outside the store (tests' fixtures): every cached
        row is forgotten afterwards, since the store cannot know what they changed."""
        async with self._tx(admins=True, bank=True) as db:
            try:
                yield db
            finally:
                self._users.clear()

    async def _write_batched(self, write: Callable[[Any], Any], after: Callable[[Any], None]) -> Any:
        """A small write run in a group commit: the writes that arrive while the database is busy
        share one transaction and one trip to its thread. `write(conn)` gets the sqlite3 connection
        inside a savepoint of its own (an exception undoes that write alone and is raised to its
        caller); `after(result)` runs on the event loop before the lock is released, so the caches
        it updates never lag behind a later write."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((write, after, future))
        if len(self._pending) == 1:
            task = asyncio.ensure_future(self._commit_pending())
            self._committers.add(task)  # a task nobody refers to may be collected before it ends
            task.add_done_callback(self._committers.discard)
        return await future

    async def _commit_pending(self) -> None:
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return

            def run() -> list[tuple[bool, Any]]:
                conn = self._db._conn
                conn.execute("BEGIN IMMEDIATE")
                outcomes: list[tuple[bool, Any]] = []
                try:
                    for write, _after, _future in batch:
                        conn.execute("SAVEPOINT w")
                        try:
                            outcomes.append((True, write(conn)))
                        except Exception as exc:  # noqa: BLE001 - handed to the caller below
                            conn.execute("ROLLBACK TO w")
                            outcomes.append((False, exc))
                        conn.execute("RELEASE w")
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return outcomes

            try:
                outcomes = await self._db._execute(run)
            except BaseException as exc:
                for _write, _after, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else StoreError("cancelled"))
                if not isinstance(exc, Exception):
                    raise
                return
            for (_write, after, future), (ok, value) in zip(batch, outcomes):
                if ok:  # written, even when its caller has gone (cancelled): the caches must know
                    try:
                        after(value)
                    except Exception as exc:  # noqa: BLE001 - the caller hears of it, the batch goes on
                        ok, value = False, exc
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    async def _one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock, self._db.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock:  # one trip to the database thread (a cursor's execute + fetchall + close is three)
            return list(await self._db.execute_fetchall(sql, tuple(params)))


class _OrgQueries(_Base):
    """Organisations, branches, admins, audit reads (ORG, SEC-3)."""

    # == orgs: section owned by the organisations work ==

    async def get_org(self, org_id: int) -> Org | None:
        row = await self._one(f"SELECT {_ORG_COLUMNS} FROM orgs WHERE id = ?", (org_id,))
        return _org(row) if row else None

    async def orgs_by_ids(self, org_ids: Iterable[int]) -> list[Org]:
        ids = sorted(set(org_ids))
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = await self._all(f"SELECT {_ORG_COLUMNS} FROM orgs WHERE id IN ({marks}) ORDER BY name, id", ids)
        return [_org(r) for r in rows]

    async def create_org(self, actor_id: int, kind: str, name: str, region: str, now: str) -> int:
        """ORG-1: the organisation and its main admin (the creator), with the audit row."""
        async with self._tx(admins=True) as db:
            cur = await db.execute(
                "INSERT INTO orgs (name, region, kind, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                (name, region, kind, actor_id, now))
            org_id = cur.lastrowid
            await db.execute("INSERT INTO org_admins (org_id, user_id, role, added_at) VALUES (?, ?, 'main', ?)",
                             (org_id, actor_id, now))
            await db.execute("INSERT INTO org_tree (ancestor_id, descendant_id, depth) VALUES (?, ?, 0)",
                             (org_id, org_id))
            await write_audit(db, actor_id, org_id, "org.create", name, None,
                              {"name": name, "kind": kind, "region": region}, now)
            return org_id

    async def org_counts(self, org_id: int) -> dict[str, int]:
        row = await self._one(
            """SELECT (SELECT COUNT(*) FROM branches WHERE org_id = ?) AS branches,
                      (SELECT COUNT(*) FROM members WHERE org_id = ?) AS members,
                      (SELECT COUNT(*) FROM members WHERE org_id = ? AND activated_at IS NOT NULL) AS activated,
                      (SELECT COUNT(*) FROM orgs WHERE parent_id = ?) AS lower""",
            (org_id, org_id, org_id, org_id))
        return dict(row)

    async def org_admin_rows(self, org_id: int) -> list[dict[str, Any]]:
        """The admin group: main admin first, then by the time they were added."""
        rows = await self._all(
            """SELECT a.user_id, a.role, u.name, u.phone, u.verified_at IS NOT NULL AS verified FROM org_admins a
               JOIN users u ON u.id = a.user_id WHERE a.org_id = ?
               ORDER BY a.role = 'main' DESC, a.added_at, a.user_id""", (org_id,))
        return [dict(r) for r in rows]

    async def set_org_flag(self, actor_id: int, org_id: int, flag: str, value: bool, now: str) -> None:
        if flag not in ("join_approval", "protect_content"):
            raise ValueError(flag)
        async with self._tx() as db:
            async with db.execute(f"SELECT {flag} FROM orgs WHERE id = ?", (org_id,)) as cur:
                before = bool((await cur.fetchone())[0])
            await db.execute(f"UPDATE orgs SET {flag} = ? WHERE id = ?", (int(value), org_id))
            await write_audit(db, actor_id, org_id, f"org.{flag}", None, {flag: before}, {flag: value}, now)

    async def rename_org(self, actor_id: int, org_id: int, name: str, now: str) -> None:
        async with self._tx() as db:
            async with db.execute("SELECT name FROM orgs WHERE id = ?", (org_id,)) as cur:
                before = (await cur.fetchone())[0]
            await db.execute("UPDATE orgs SET name = ? WHERE id = ?", (name, org_id))
            await write_audit(db, actor_id, org_id, "org.rename", None, {"name": before}, {"name": name}, now)

    async def dissolve_org(self, actor_id: int, org_id: int, now: str) -> None:
        """ORG-7/FAQ 20: memberships, branches, admin rows and the organisation go; users and points stay.
        The audit row keeps the organisation's id (audit_log has no foreign key)."""
        async with self._tx(admins=True) as db:
            async with db.execute(
                    """SELECT o.name, o.kind, o.region, (SELECT COUNT(*) FROM members m WHERE m.org_id = o.id) AS n,
                              o.certified_at, EXISTS (SELECT 1 FROM orgs c WHERE c.parent_id = o.id) AS has_lower
                       FROM orgs o WHERE o.id = ?""", (org_id,)) as cur:
                row = await cur.fetchone()
            if row["has_lower"]:  # ORG-7, checked again in the transaction (certification may have changed)
                raise Conflict("has_lower")
            if row["certified_at"] is not None:
                raise Conflict("certified")
            await write_audit(db, actor_id, org_id, "org.dissolve", row["name"],
                              {"name": row["name"], "kind": row["kind"], "region": row["region"], "members": row["n"]},
                              None, now)
            await db.execute("UPDATE questions SET retired_at = ? WHERE org_id = ? AND retired_at IS NULL",
                             (now, org_id))
            for sql in ("DELETE FROM members WHERE org_id = ?", "DELETE FROM branches WHERE org_id = ?",
                        "DELETE FROM org_admins WHERE org_id = ?", "DELETE FROM orgs WHERE id = ?"):
                await db.execute(sql, (org_id,))

    async def org_branches(self, org_id: int) -> list[dict[str, Any]]:
        """Branches with their member counts, each 党总支 followed by its 党支部."""
        rows = await self._all(
            """SELECT b.id, b.parent_id, b.name, b.kind,
                      (SELECT COUNT(*) FROM members m WHERE m.branch_id = b.id) AS members,
                      (SELECT COUNT(*) FROM branches c WHERE c.parent_id = b.id) AS children
               FROM branches b WHERE b.org_id = ?
               ORDER BY COALESCE(b.parent_id, b.id), b.parent_id IS NOT NULL, b.id""", (org_id,))
        return [dict(r) for r in rows]

    async def add_branch(self, actor_id: int, org_id: int, parent_id: int | None, kind: str, name: str,
                         now: str) -> int:
        """Raises Conflict("branch_name") when the organisation has a branch of that name."""
        async with self._tx() as db:
            try:
                cur = await db.execute(
                    "INSERT INTO branches (org_id, parent_id, name, kind, created_at) VALUES (?, ?, ?, ?, ?)",
                    (org_id, parent_id, name, kind, now))
            except aiosqlite.IntegrityError:
                raise Conflict("branch_name") from None
            await write_audit(db, actor_id, org_id, "branch.add", name, None,
                              {"name": name, "kind": kind, "parent_id": parent_id}, now)
            return cur.lastrowid

    async def rename_branch(self, actor_id: int, org_id: int, branch_id: int, name: str, now: str) -> None:
        async with self._tx() as db:
            async with db.execute("SELECT name FROM branches WHERE id = ? AND org_id = ?", (branch_id, org_id)) as cur:
                before = (await cur.fetchone())[0]
            try:
                await db.execute("UPDATE branches SET name = ? WHERE id = ?", (name, branch_id))
            except aiosqlite.IntegrityError:
                raise Conflict("branch_name") from None
            await write_audit(db, actor_id, org_id, "branch.rename", name, {"name": before}, {"name": name}, now)

    async def delete_branch(self, actor_id: int, org_id: int, branch_id: int, now: str) -> None:
        """The branch and its 党支部 go; their members stay in the organisation without a branch."""
        async with self._tx() as db:
            async with db.execute("SELECT name FROM branches WHERE id = ? AND org_id = ?", (branch_id, org_id)) as cur:
                name = (await cur.fetchone())[0]
            async with db.execute(
                    """SELECT COUNT(*) FROM members WHERE branch_id IN
                       (SELECT id FROM branches WHERE id = ? OR parent_id = ?)""", (branch_id, branch_id)) as cur:
                moved = (await cur.fetchone())[0]
            await db.execute(
                """UPDATE members SET branch_id = NULL, updated_at = ? WHERE branch_id IN
                   (SELECT id FROM branches WHERE id = ? OR parent_id = ?)""", (now, branch_id, branch_id))
            await db.execute("DELETE FROM branches WHERE parent_id = ?", (branch_id,))
            await db.execute("DELETE FROM branches WHERE id = ?", (branch_id,))
            await write_audit(db, actor_id, org_id, "branch.delete", name, {"name": name, "members": moved}, None, now)

    async def add_org_admin(self, actor_id: int, org_id: int, user_id: int, label: str, now: str) -> None:
        """ORG-4. Raises Conflict("admin") when the person is in the admin group already."""
        async with self._tx(admins=True) as db:
            try:
                await db.execute("INSERT INTO org_admins (org_id, user_id, role, added_at) VALUES (?, ?, 'admin', ?)",
                                 (org_id, user_id, now))
            except aiosqlite.IntegrityError:
                raise Conflict("admin") from None
            await write_audit(db, actor_id, org_id, "admin.add", label, None, {"role": "admin"}, now)

    async def remove_org_admin(self, actor_id: int, org_id: int, user_id: int, label: str, now: str) -> bool:
        """Ordinary admins only (never the main admin); False when there was no such admin."""
        async with self._tx(admins=True) as db:
            cur = await db.execute("DELETE FROM org_admins WHERE org_id = ? AND user_id = ? AND role = 'admin'",
                                   (org_id, user_id))
            if cur.rowcount == 0:
                return False
            await write_audit(db, actor_id, org_id, "admin.remove", label, {"role": "admin"}, None, now)
            return True

    async def hand_over_main_admin(self, actor_id: int, org_id: int, user_id: int, label: str, now: str) -> bool:
        """ORG-5: the actor (main) and an ordinary admin swap roles; False when the target is not one."""
        async with self._tx(admins=True) as db:
            cur = await db.execute("UPDATE org_admins SET role = 'main' WHERE org_id = ? AND user_id = ? "
                                   "AND role = 'admin'", (org_id, user_id))
            if cur.rowcount == 0:
                return False
            await db.execute("UPDATE org_admins SET role = 'admin' WHERE org_id = ? AND user_id = ?",
                             (org_id, actor_id))
            await write_audit(db, actor_id, org_id, "admin.handover", label, {"main": actor_id},
                              {"main": user_id}, now)
            return True

    async def user_names(self, user_ids: Iterable[int]) -> dict[int, str]:
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        rows = await self._all(f"SELECT id, COALESCE(name, first_name) AS name FROM users WHERE id IN "
                               f"({','.join('?' * len(ids))})", ids)
        return {r["id"]: r["name"] for r in rows}

    async def audit_entries_newer(self, org_id: int, after_id: int, limit: int = 20) -> list[dict[str, Any]]:
        """The page before a cursor when paging back: entries newer than after_id, newest first."""
        rows = await self._all(
            """SELECT id, actor_id, org_id, action, target, before, after, at FROM audit_log
               WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?""", (org_id, after_id, limit))
        return [dict(r) for r in reversed(rows)]


class _MemberQueries(_Base):
    """Members: add, edit, move, remove, list, search, import, export (MEM)."""

    # == members: section owned by the members work ==

    _MEMBER_SELECT = (
        "SELECT m.id, m.org_id, m.name, m.phone, m.branch_id, b.name AS branch, m.note, "
        "EXISTS (SELECT 1 FROM users u WHERE u.phone = m.phone) AS activated "
        "FROM members m LEFT JOIN branches b ON b.id = m.branch_id")

    @staticmethod
    def _member_where(org_id: int, branch_id: int | None, text: str | None, digits: str | None
                      ) -> tuple[str, list[Any]]:
        """branch_id None = every branch, 0 = members without a branch; text matches names,
        digits match phones (MEM-7)."""
        clauses, params = ["m.org_id = ?"], [org_id]
        if branch_id == 0:
            clauses.append("m.branch_id IS NULL")
        elif branch_id is not None:
            clauses.append("m.branch_id = ?")
            params.append(branch_id)
        alternatives = []
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            alternatives.append("m.name LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        if digits:
            alternatives.append("m.phone LIKE ?")
            params.append(f"%{digits}%")
        if alternatives:
            clauses.append("(" + " OR ".join(alternatives) + ")")
        return " AND ".join(clauses), params

    async def member_branches(self, org_id: int) -> list[dict[str, Any]]:
        rows = await self._all("SELECT id, name, parent_id FROM branches WHERE org_id = ? ORDER BY name, id",
                               (org_id,))
        return [dict(r) for r in rows]

    async def member_counts(self, org_id: int, branch_id: int | None = None, text: str | None = None,
                            digits: str | None = None) -> tuple[int, int]:
        """(members, activated) among those matching the filter."""
        where, params = self._member_where(org_id, branch_id, text, digits)
        row = await self._one(
            "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM users u WHERE u.phone = m.phone) "
            f"THEN 1 ELSE 0 END), 0) AS activated FROM members m WHERE {where}", params)
        return int(row["total"]), int(row["activated"])

    async def member_page(self, org_id: int, limit: int, offset: int, branch_id: int | None = None,
                          text: str | None = None, digits: str | None = None) -> list[dict[str, Any]]:
        where, params = self._member_where(org_id, branch_id, text, digits)
        rows = await self._all(f"{self._MEMBER_SELECT} WHERE {where} ORDER BY m.name, m.id LIMIT ? OFFSET ?",
                               [*params, limit, offset])
        return [dict(r) for r in rows]

    async def get_member(self, member_id: int) -> dict[str, Any] | None:
        row = await self._one(f"{self._MEMBER_SELECT} WHERE m.id = ?", (member_id,))
        return dict(row) if row else None

    async def member_phone_in_org(self, org_id: int, phone: str) -> bool:
        return await self._one("SELECT 1 FROM members WHERE org_id = ? AND phone = ?", (org_id, phone)) is not None

    async def other_orgs_listing_phone(self, phone: str, org_id: int) -> list[str]:
        """Names of the other organisations that list this phone (FAQ 8), nothing more."""
        rows = await self._all(
            "SELECT DISTINCT o.name FROM members m JOIN orgs o ON o.id = m.org_id "
            "WHERE m.phone = ? AND m.org_id <> ? ORDER BY o.name", (phone, org_id))
        return [r["name"] for r in rows]

    @staticmethod
    async def _check_branch(db: aiosqlite.Connection, org_id: int, branch_id: int | None) -> None:
        if branch_id is None:
            return
        async with db.execute("SELECT 1 FROM branches WHERE id = ? AND org_id = ?", (branch_id, org_id)) as cur:
            if await cur.fetchone() is None:
                raise Conflict("branch")

    async def add_member(self, actor_id: int, org_id: int, name: str, phone: str, branch_id: int | None,
                         now: str) -> int:
        """MEM-1: one member, activated at once when a registered user has the phone (FAQ 18).
        Raises Conflict("phone") when the organisation lists the phone already, Conflict("branch")."""
        async with self._tx() as db:
            await self._check_branch(db, org_id, branch_id)
            try:
                cur = await db.execute(
                    "INSERT INTO members (org_id, branch_id, name, phone, activated_at, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, (SELECT ? FROM users WHERE phone = ?), ?, ?)",
                    (org_id, branch_id, name, phone, now, phone, now, now))
            except aiosqlite.IntegrityError as exc:
                raise Conflict("phone" if "UNIQUE" in str(exc) else "branch") from None
            member_id = int(cur.lastrowid)
            await write_audit(db, actor_id, org_id, "member.add", f"member:{member_id}", None,
                              {"name": name, "phone": phone, "branch_id": branch_id}, now)
            return member_id

    async def update_member(self, actor_id: int, org_id: int, member_id: int, now: str, *,
                            name: str | None = None, phone: str | None = None,
                            branch_id: int | None | type(...) = ...) -> tuple[dict, dict] | None:
        """MEM-2: name, phone (activation recomputed) or branch; never users or points (FAQ 20).
        None when the member is gone; raises Conflict("phone"), Conflict("branch")."""
        async with self._tx() as db:
            async with db.execute("SELECT name, phone, branch_id FROM members WHERE id = ? AND org_id = ?",
                                  (member_id, org_id)) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            before = {k: row[k] for k in ("name", "phone", "branch_id")}
            after = dict(before)
            if name is not None:
                after["name"] = name
            if phone is not None:
                after["phone"] = phone
            if branch_id is not ...:
                await self._check_branch(db, org_id, branch_id)
                after["branch_id"] = branch_id
            try:
                await db.execute(
                    "UPDATE members SET name = ?, phone = ?, branch_id = ?, updated_at = ?, "
                    "activated_at = CASE WHEN phone = ? THEN activated_at "
                    "ELSE (SELECT ? FROM users WHERE phone = ?) END WHERE id = ?",
                    (after["name"], after["phone"], after["branch_id"], now, after["phone"], now, after["phone"],
                     member_id))
            except aiosqlite.IntegrityError as exc:
                raise Conflict("phone" if "UNIQUE" in str(exc) else "branch") from None
            changed = [k for k in before if before[k] != after[k]]
            action = "member.move" if changed == ["branch_id"] else "member.edit"
            await write_audit(db, actor_id, org_id, action, f"member:{member_id}", before, after, now)
            return before, after

    async def remove_member(self, actor_id: int, org_id: int, member_id: int, now: str) -> dict | None:
        """MEM-2: the membership goes; the user and their points stay (FAQ 20)."""
        async with self._tx() as db:
            async with db.execute("SELECT name, phone, branch_id FROM members WHERE id = ? AND org_id = ?",
                                  (member_id, org_id)) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            before = {k: row[k] for k in ("name", "phone", "branch_id")}
            await db.execute("DELETE FROM members WHERE id = ?", (member_id,))
            await write_audit(db, actor_id, org_id, "member.remove", f"member:{member_id}", before, None, now)
            return before

    async def import_members(self, actor_id: int, org_id: int, rows: list[tuple[str, str, str, str]],
                             new_branches: list[str], now: str) -> tuple[int, int, list[str]]:
        """MEM-4 in one transaction: creates `new_branches`, adds the rows (name, phone, branch
        name, note) whose phone the organisation does not list yet, activates them by one UPDATE.
        Returns (added, already present, branches created). Raises Conflict("branch") when a
        row names a branch that does not exist (nothing is written then)."""
        async with self._tx() as db:
            created: list[str] = []
            if new_branches:
                async with db.execute("SELECT name FROM branches WHERE org_id = ?", (org_id,)) as cur:
                    existing = {r["name"] for r in await cur.fetchall()}
                created = [n for n in dict.fromkeys(new_branches) if n not in existing]
                await db.executemany(
                    "INSERT INTO branches (org_id, name, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (org_id, name) DO NOTHING", [(org_id, n, now) for n in created])
            async with db.execute("SELECT id, name FROM branches WHERE org_id = ?", (org_id,)) as cur:
                branch_ids = {r["name"]: r["id"] for r in await cur.fetchall()}
            if any(b not in branch_ids for _, _, b, _ in rows):
                raise Conflict("branch")
            async with db.execute("SELECT phone FROM members WHERE org_id = ?", (org_id,)) as cur:
                listed = {r["phone"] for r in await cur.fetchall()}
            new = [(org_id, branch_ids[b], name, phone, note or None, now, now)
                   for name, phone, b, note in rows if phone not in listed]
            await db.executemany(
                "INSERT INTO members (org_id, branch_id, name, phone, note, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, phone) DO NOTHING", new)
            if new:
                await db.execute(
                    "UPDATE members SET activated_at = ? WHERE org_id = ? AND activated_at IS NULL "
                    "AND phone IN (SELECT phone FROM users WHERE phone IS NOT NULL)", (now, org_id))
            for name in created:
                await write_audit(db, actor_id, org_id, "branch.create", f"branch:{branch_ids[name]}", None,
                                  {"name": name, "via": "member.import"}, now)
            await write_audit(db, actor_id, org_id, "member.import", None, None,
                              {"added": len(new), "present": len(rows) - len(new), "branches": created}, now)
            return len(new), len(rows) - len(new), created

    async def member_export_rows(self, org_id: int, since_day: str) -> list[tuple]:
        """MEM-5: (name, phone, branch, activated, points since `since_day`, total points), the
        points from the ledger of the user with the member's phone."""
        rows = await self._all(
            """SELECT m.name, m.phone, b.name AS branch, u.id IS NOT NULL AS activated,
                      COALESCE(SUM(CASE WHEN p.day >= ? THEN p.amount ELSE 0 END), 0) AS points_7d,
                      COALESCE(SUM(p.amount), 0) AS points_total
               FROM members m
               LEFT JOIN branches b ON b.id = m.branch_id
               LEFT JOIN users u ON u.phone = m.phone
               LEFT JOIN points p ON p.user_id = u.id
               WHERE m.org_id = ?
               GROUP BY m.id, m.name, m.phone, b.name, u.id
               ORDER BY b.name, m.name, m.id""", (since_day, org_id))
        return [tuple(r) for r in rows]


class _InviteQueries(_Base):
    """Join invitations and join requests (MEM-6)."""

    # == invites: section owned by the invites work ==

    _INVITE_COLUMNS = ("i.id, i.org_id, i.branch_id, b.name AS branch_name, i.created_by, i.created_at, "
                       "i.expires_at, i.max_uses, i.uses, i.revoked_at")

    async def create_invite(self, org_id: int, branch_id: int | None, token_hash: str, created_by: int,
                            now: str, expires_at: str, max_uses: int | None) -> int | None:
        """A new join link and its audit row; None when the branch is not one of the organisation's."""
        async with self._tx() as db:
            if branch_id is not None:
                async with db.execute("SELECT 1 FROM branches WHERE id = ? AND org_id = ?", (branch_id, org_id)) as cur:
                    if await cur.fetchone() is None:
                        return None
            cur = await db.execute(
                """INSERT INTO invites (org_id, branch_id, token_hash, created_by, created_at, expires_at, max_uses)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (org_id, branch_id, token_hash, created_by, now, expires_at, max_uses))
            invite_id = cur.lastrowid
            await write_audit(db, created_by, org_id, "invite.create", f"invite:{invite_id}", None,
                              {"branch_id": branch_id, "expires_at": expires_at, "max_uses": max_uses}, now)
            return invite_id

    async def get_invite(self, invite_id: int) -> dict[str, Any] | None:
        row = await self._one(f"SELECT {self._INVITE_COLUMNS} FROM invites i "
                              "LEFT JOIN branches b ON b.id = i.branch_id WHERE i.id = ?", (invite_id,))
        return dict(row) if row else None

    async def invite_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        row = await self._one(f"SELECT {self._INVITE_COLUMNS} FROM invites i "
                              "LEFT JOIN branches b ON b.id = i.branch_id WHERE i.token_hash = ?", (token_hash,))
        return dict(row) if row else None

    async def org_invites(self, org_id: int, not_expired_before: str, limit: int = 100) -> list[dict[str, Any]]:
        """The organisation's links expiring after the given time, newest first."""
        rows = await self._all(
            f"""SELECT {self._INVITE_COLUMNS} FROM invites i LEFT JOIN branches b ON b.id = i.branch_id
                WHERE i.org_id = ? AND i.expires_at > ? ORDER BY i.id DESC LIMIT ?""",
            (org_id, not_expired_before, limit))
        return [dict(r) for r in rows]

    async def revoke_invite(self, invite_id: int, actor_id: int, now: str) -> bool:
        """False when it was revoked already (or is gone)."""
        async with self._tx() as db:
            cur = await db.execute("UPDATE invites SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                   (now, invite_id))
            if cur.rowcount == 0:
                return False
            async with db.execute("SELECT org_id FROM invites WHERE id = ?", (invite_id,)) as c:
                org_id = (await c.fetchone())["org_id"]
            await write_audit(db, actor_id, org_id, "invite.revoke", f"invite:{invite_id}", {"revoked_at": None},
                              {"revoked_at": now}, now)
            return True

    async def join_branches(self, org_id: int) -> list[dict[str, Any]]:
        """Branches as the joiner chooses them: id, name, parent_id, parent_name."""
        rows = await self._all(
            """SELECT b.id, b.name, b.parent_id, p.name AS parent_name FROM branches b
               LEFT JOIN branches p ON p.id = b.parent_id WHERE b.org_id = ?
               ORDER BY COALESCE(p.name, b.name), b.parent_id IS NOT NULL, b.name""", (org_id,))
        return [dict(r) for r in rows]

    async def join_admins(self, org_id: int) -> list[dict[str, Any]]:
        """Who decides join requests: id and language of each admin of the organisation."""
        rows = await self._all(
            """SELECT u.id, u.language, u.tg_language FROM org_admins a JOIN users u ON u.id = a.user_id
               WHERE a.org_id = ? ORDER BY a.role = 'main' DESC, u.id""", (org_id,))
        return [dict(r) for r in rows]

    async def membership_in(self, org_id: int, phone: str) -> dict[str, Any] | None:
        row = await self._one(
            """SELECT m.id, m.branch_id, b.name AS branch_name FROM members m
               LEFT JOIN branches b ON b.id = m.branch_id WHERE m.org_id = ? AND m.phone = ?""", (org_id, phone))
        return dict(row) if row else None

    async def pending_join_request(self, org_id: int, user_id: int) -> int | None:
        row = await self._one("SELECT id FROM join_requests WHERE org_id = ? AND user_id = ? AND status = 'pending'",
                              (org_id, user_id))
        return row["id"] if row else None

    @staticmethod
    async def _use_invite(db: aiosqlite.Connection, invite_id: int, now_utc: str) -> None:
        """Counts one use, only while the link is valid and under its limit, so that concurrent
        joins can never exceed the limit. Raises Conflict("invite") otherwise."""
        cur = await db.execute(
            """UPDATE invites SET uses = uses + 1 WHERE id = ? AND revoked_at IS NULL AND expires_at > ?
               AND (max_uses IS NULL OR uses < max_uses)""", (invite_id, now_utc))
        if cur.rowcount == 0:
            raise Conflict("invite")

    async def join_by_invite(self, invite_id: int, org_id: int, branch_id: int | None, user_id: int, name: str,
                             phone: str, now: str, now_utc: str) -> int:
        """Adds the activated member and counts the use, in one transaction. Raises Conflict("invite")
        (the link may not be used any more) or Conflict("member") (already listed)."""
        async with self._tx() as db:
            await self._use_invite(db, invite_id, now_utc)
            cur = await db.execute(
                """INSERT INTO members (org_id, branch_id, name, phone, activated_at, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, phone) DO NOTHING""",
                (org_id, branch_id, name, phone, now, now, now))
            if cur.rowcount == 0:
                raise Conflict("member")
            member_id = cur.lastrowid
            await write_audit(db, user_id, org_id, "member.join", f"member:{member_id}", None,
                              {"invite_id": invite_id, "branch_id": branch_id, "name": name}, now)
            return member_id

    async def request_join(self, invite_id: int, org_id: int, branch_id: int | None, user_id: int, phone: str,
                           now: str, now_utc: str) -> int:
        """A pending join request and the use it counts, in one transaction. Raises Conflict("invite"),
        Conflict("member") or Conflict("pending") (one pending request per organisation and person)."""
        async with self._tx() as db:
            async with db.execute("SELECT 1 FROM members WHERE org_id = ? AND phone = ?", (org_id, phone)) as cur:
                if await cur.fetchone():
                    raise Conflict("member")
            await self._use_invite(db, invite_id, now_utc)
            try:
                cur = await db.execute(
                    """INSERT INTO join_requests (org_id, branch_id, user_id, invite_id, created_at)
                       VALUES (?, ?, ?, ?, ?)""", (org_id, branch_id, user_id, invite_id, now))
            except aiosqlite.IntegrityError:
                raise Conflict("pending") from None
            return cur.lastrowid

    async def get_join_request(self, request_id: int) -> dict[str, Any] | None:
        row = await self._one(
            """SELECT r.id, r.org_id, r.branch_id, b.name AS branch_name, r.user_id, u.name AS user_name,
                      u.phone AS user_phone, u.language, u.tg_language, r.invite_id, r.status, r.created_at,
                      r.decided_by, r.decided_at
               FROM join_requests r JOIN users u ON u.id = r.user_id
               LEFT JOIN branches b ON b.id = r.branch_id WHERE r.id = ?""", (request_id,))
        return dict(row) if row else None

    async def decide_join_request(self, request_id: int, approve: bool, actor_id: int, now: str) -> bool:
        """Exactly one decision wins: False when the request was decided already. Approval adds
        the activated member in the same transaction; both write the audit row."""
        status = "approved" if approve else "rejected"
        async with self._tx() as db:
            cur = await db.execute(
                """UPDATE join_requests SET status = ?, decided_by = ?, decided_at = ?
                   WHERE id = ? AND status = 'pending'""", (status, actor_id, now, request_id))
            if cur.rowcount == 0:
                return False
            async with db.execute("SELECT org_id, branch_id, user_id FROM join_requests WHERE id = ?",
                                  (request_id,)) as c:
                req = await c.fetchone()
            if approve:
                await db.execute(
                    """INSERT INTO members (org_id, branch_id, name, phone, activated_at, created_at, updated_at)
                       SELECT ?, ?, u.name, u.phone, ?, ?, ? FROM users u WHERE u.id = ? AND u.phone IS NOT NULL
                       ON CONFLICT (org_id, phone) DO UPDATE
                       SET activated_at = COALESCE(members.activated_at, excluded.activated_at)""",
                    (req["org_id"], req["branch_id"], now, now, now, req["user_id"]))
            await write_audit(db, actor_id, req["org_id"], f"join.{'approve' if approve else 'reject'}",
                              f"join_request:{request_id}", {"status": "pending"},
                              {"status": status, "user_id": req["user_id"], "branch_id": req["branch_id"]}, now)
            return True


@dataclass(frozen=True, slots=True)
class Push:
    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    file_name: str | None
    file_data: bytes | None
    attempts: int


class _OutboxQueries(_Base):
    """Durable pushes: enqueued in the action's own transaction or alone, sent by bot/outbox.py."""

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
        row = await self._one("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE status = 'pending'")
        return row["t"] if row else None

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
        rows = await self._all("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        return {r["status"]: r["n"] for r in rows}


class _PointsQueries(_Base):
    """The points ledger (LEARN-7): append-only, one row per award, unique idempotency key."""

    async def award_points(self, user_id: int, source: str, day: str, amount: int, *, cap: int | None,
                           best_of_day: bool, ref: str | None, reason: str | None, idem_key: str,
                           now: str, actor_id: int | None = None, org_id: int | None = None) -> int | None:
        """Pays what the cap still allows, in one transaction (a group commit). Returns the amount
        written (0 when the cap is reached), or None when this idempotency key was paid before. With
        `best_of_day` the day's total for the source is raised to `amount` (never summed). An
        `actor_id` writes the audit row of an admin adjustment in the same transaction."""

        def write(conn: Any) -> int | None:
            if conn.execute("SELECT 1 FROM points WHERE idem_key = ?", (idem_key,)).fetchone():
                return None
            earned = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM points WHERE user_id = ? AND source = ? "
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
                conn.execute(_AUDIT_SQL, _audit_params(actor_id, org_id, f"points.{source}", str(user_id), None,
                                                       {"amount": pay, "reason": reason, "day": day}, now))
            return pay

        return await self._write_batched(write, _nothing)

    async def points_total(self, user_id: int) -> int:
        """The running sum award_points keeps, not a sum over the user's whole ledger."""
        row = await self._one("SELECT total FROM points_totals WHERE user_id = ?", (user_id,))
        return row["total"] if row else 0

    async def points_on(self, user_id: int, day: str) -> dict[str, int]:
        rows = await self._all("SELECT source, SUM(amount) AS n FROM points WHERE user_id = ? AND day = ? "
                               "GROUP BY source", (user_id, day))
        return {r["source"]: r["n"] for r in rows}


# -- certification (CERT-1..7, ORG-6, MEM-8) ----------------------------------------------------
class _CertQueries(_Base):
    """Certification between organisations (CERT), rename requests (ORG-6), the org_tree closure table.

    Every decision is one transaction: the status moves from 'pending' with `WHERE status = 'pending'`
    (exactly one decision wins), the tree rules are checked again inside it, and the closure table,
    the organisation row and the audit rows change together."""

    _APP_SELECT = (
        "SELECT a.id, a.upper_id, a.lower_id, a.invite_id, a.applicant_id, a.status, a.reason, a.created_at, "
        "a.decided_by, a.decided_at, COALESCE(u.name, u.first_name) AS applicant_name, u.phone AS applicant_phone, "
        "COALESCE(d.name, d.first_name) AS decider_name "
        "FROM cert_applications a JOIN users u ON u.id = a.applicant_id LEFT JOIN users d ON d.id = a.decided_by")
    _RENAME_SELECT = (
        "SELECT r.id, r.org_id, r.upper_id, r.old_name, r.new_name, r.requested_by, r.status, r.reason, "
        "r.created_at, r.decided_by, r.decided_at, COALESCE(u.name, u.first_name) AS requester_name, "
        "COALESCE(d.name, d.first_name) AS decider_name "
        "FROM rename_requests r JOIN users u ON u.id = r.requested_by LEFT JOIN users d ON d.id = r.decided_by")

    # -- the closure table ---------------------------------------------------------------------
    @staticmethod
    async def _attach(db: aiosqlite.Connection, lower_id: int, upper_id: int) -> None:
        """The lower organisation's whole subtree gets every ancestor of the upper one (incl. itself)."""
        await db.execute(
            """INSERT INTO org_tree (ancestor_id, descendant_id, depth)
               SELECT a.ancestor_id, d.descendant_id, a.depth + d.depth + 1
               FROM org_tree a JOIN org_tree d ON d.ancestor_id = ? WHERE a.descendant_id = ?""",
            (lower_id, upper_id))

    @staticmethod
    async def _detach(db: aiosqlite.Connection, org_id: int) -> None:
        """The subtree of org_id loses every ancestor outside it; its own rows stay."""
        await db.execute(
            """DELETE FROM org_tree
               WHERE descendant_id IN (SELECT descendant_id FROM org_tree WHERE ancestor_id = ?)
                 AND ancestor_id NOT IN (SELECT descendant_id FROM org_tree WHERE ancestor_id = ?)""",
            (org_id, org_id))

    @staticmethod
    async def _fetch(db: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with db.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def _check_attach(self, db: aiosqlite.Connection, lower_id: int, upper_id: int) -> aiosqlite.Row:
        """CERT-4 and ORG-2 inside the deciding transaction; returns the lower organisation's row."""
        upper = await self._fetch(db, "SELECT certified_at FROM orgs WHERE id = ?", (upper_id,))
        lower = await self._fetch(db, "SELECT name, parent_id FROM orgs WHERE id = ?", (lower_id,))
        if upper is None or lower is None:
            raise Conflict("gone")
        if upper["certified_at"] is None:
            raise Conflict("upper_uncertified")
        if lower["parent_id"] is not None:
            raise Conflict("has_upper")
        if await self._fetch(db, "SELECT 1 FROM org_tree WHERE ancestor_id = ? AND descendant_id = ?",
                             (lower_id, upper_id)):
            raise Conflict("cycle")
        if await self._fetch(db, "SELECT 1 FROM orgs WHERE parent_id = ? AND name = ? AND id <> ? "
                                 "AND certified_at IS NOT NULL", (upper_id, lower["name"], lower_id)):
            raise Conflict("name_taken")
        return lower

    async def subtree_ids(self, org_id: int) -> list[int]:
        """This organisation and everything certified under it: one indexed read of the closure table."""
        rows = await self._all("SELECT descendant_id FROM org_tree WHERE ancestor_id = ?", (org_id,))
        return [r[0] for r in rows]

    async def subtree_member_count(self, org_id: int) -> int:
        row = await self._one("SELECT COUNT(*) FROM org_tree t JOIN members m ON m.org_id = t.descendant_id "
                              "WHERE t.ancestor_id = ?", (org_id,))
        return int(row[0])

    async def subtree_rows(self, org_id: int, limit: int = 1000) -> list[dict[str, Any]]:
        """The subtree's organisations with their depth under org_id and their member counts."""
        rows = await self._all(
            """SELECT o.id, o.name, o.parent_id, o.certified_at, t.depth,
                      (SELECT COUNT(*) FROM members m WHERE m.org_id = o.id) AS members
               FROM org_tree t JOIN orgs o ON o.id = t.descendant_id
               WHERE t.ancestor_id = ? ORDER BY t.depth, o.name, o.id LIMIT ?""", (org_id, limit))
        return [dict(r) for r in rows]

    async def subtree_size(self, org_id: int) -> int:
        row = await self._one("SELECT COUNT(*) FROM org_tree WHERE ancestor_id = ?", (org_id,))
        return int(row[0])

    async def is_under(self, org_id: int, ancestor_id: int) -> bool:
        """True when org_id is ancestor_id or certified somewhere below it."""
        return await self._one("SELECT 1 FROM org_tree WHERE ancestor_id = ? AND descendant_id = ?",
                               (ancestor_id, org_id)) is not None

    async def lower_orgs(self, org_id: int) -> list[Org]:
        rows = await self._all(f"SELECT {_ORG_COLUMNS} FROM orgs WHERE parent_id = ? ORDER BY name, id", (org_id,))
        return [_org(r) for r in rows]

    async def certified_name_taken(self, upper_id: int | None, name: str, org_id: int) -> bool:
        """ORG-2: two certified organisations under the same upper one (or two roots) share no name."""
        row = await self._one(
            "SELECT 1 FROM orgs WHERE parent_id IS ? AND name = ? AND id <> ? AND certified_at IS NOT NULL",
            (upper_id, name, org_id))
        return row is not None

    async def cert_recipients(self, org_id: int) -> list[dict[str, Any]]:
        """Who is told about the organisation's certification: its admin group with their languages."""
        rows = await self._all(
            """SELECT u.id, u.language, u.tg_language FROM org_admins a JOIN users u ON u.id = a.user_id
               WHERE a.org_id = ? ORDER BY a.role = 'main' DESC, u.id""", (org_id,))
        return [dict(r) for r in rows]

    async def user_languages(self, user_ids: Iterable[int]) -> list[dict[str, Any]]:
        ids = sorted(set(user_ids))
        if not ids:
            return []
        rows = await self._all(f"SELECT id, language, tg_language FROM users WHERE id IN ({','.join('?' * len(ids))})",
                               ids)
        return [dict(r) for r in rows]

    # -- invitations (CERT-1) ------------------------------------------------------------------
    async def create_cert_invite(self, org_id: int, token_hash: str, addressee_id: int | None, note: str | None,
                                 created_by: int, now: str, expires_at: str) -> int:
        async with self._tx() as db:
            row = await self._fetch(db, "SELECT certified_at FROM orgs WHERE id = ?", (org_id,))
            if row is None or row["certified_at"] is None:
                raise Conflict("uncertified")
            cur = await db.execute(
                """INSERT INTO cert_invites (org_id, token_hash, addressee_id, note, created_by, created_at, expires_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (org_id, token_hash, addressee_id, note, created_by, now, expires_at))
            invite_id = cur.lastrowid
            await write_audit(db, created_by, org_id, "cert.invite", f"cert_invite:{invite_id}", None,
                              {"addressee_id": addressee_id, "note": note, "expires_at": expires_at}, now)
            return invite_id

    async def cert_invites_of(self, org_id: int, not_expired_before: str, limit: int = 20) -> list[dict[str, Any]]:
        """An organisation's certification links still usable (not revoked, not expired), newest
        first, with the addressee's name."""
        rows = await self._all(
            """SELECT c.id, c.addressee_id, c.note, c.created_at, c.expires_at, u.name AS addressee_name
               FROM cert_invites c LEFT JOIN users u ON u.id = c.addressee_id
               WHERE c.org_id = ? AND c.revoked_at IS NULL AND c.expires_at > ? ORDER BY c.id DESC LIMIT ?""",
            (org_id, not_expired_before, limit))
        return [dict(r) for r in rows]

    async def revoke_cert_invite(self, invite_id: int, actor_id: int, now: str) -> bool:
        """False when it was revoked already (or is gone)."""
        async with self._tx() as db:
            cur = await db.execute("UPDATE cert_invites SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL "
                                   "RETURNING org_id", (now, invite_id))
            row = await cur.fetchone()
            if row is None:
                return False
            await write_audit(db, actor_id, row[0], "cert.invite_revoke", f"cert_invite:{invite_id}",
                              {"revoked_at": None}, {"revoked_at": now}, now)
            return True

    _CERT_INVITE_COLUMNS = "id, org_id, addressee_id, note, created_by, created_at, expires_at, revoked_at"

    async def get_cert_invite(self, invite_id: int) -> dict[str, Any] | None:
        row = await self._one(f"SELECT {self._CERT_INVITE_COLUMNS} FROM cert_invites WHERE id = ?", (invite_id,))
        return dict(row) if row else None

    async def cert_invite_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        row = await self._one(f"SELECT {self._CERT_INVITE_COLUMNS} FROM cert_invites WHERE token_hash = ?",
                              (token_hash,))
        return dict(row) if row else None

    # -- applications (CERT-2, CERT-3) ---------------------------------------------------------
    async def apply_for_certification(self, invite_id: int, upper_id: int, lower_id: int, applicant_id: int,
                                      now: str) -> int:
        """A pending application. Raises Conflict: gone, upper_uncertified, has_upper, cycle, name_taken,
        pending (this organisation has one pending already)."""
        async with self._tx() as db:
            await self._check_attach(db, lower_id, upper_id)
            try:
                cur = await db.execute(
                    """INSERT INTO cert_applications (upper_id, lower_id, invite_id, applicant_id, created_at)
                       VALUES (?, ?, ?, ?, ?)""", (upper_id, lower_id, invite_id, applicant_id, now))
            except aiosqlite.IntegrityError:
                raise Conflict("pending") from None
            app_id = cur.lastrowid
            for org_id, action in ((lower_id, "cert.apply"), (upper_id, "cert.received")):
                await write_audit(db, applicant_id, org_id, action, f"cert_application:{app_id}", None,
                                  {"upper_id": upper_id, "lower_id": lower_id, "status": "pending"}, now)
            return app_id

    async def get_cert_application(self, app_id: int) -> dict[str, Any] | None:
        row = await self._one(f"{self._APP_SELECT} WHERE a.id = ?", (app_id,))
        return dict(row) if row else None

    async def pending_cert_application(self, lower_id: int) -> dict[str, Any] | None:
        row = await self._one(f"{self._APP_SELECT} WHERE a.lower_id = ? AND a.status = 'pending'", (lower_id,))
        return dict(row) if row else None

    async def cert_applications_received(self, upper_ids: Iterable[int], limit: int = 30) -> list[dict[str, Any]]:
        ids = sorted(set(upper_ids))
        if not ids:
            return []
        rows = await self._all(f"{self._APP_SELECT} WHERE a.status = 'pending' AND a.upper_id IN "
                               f"({','.join('?' * len(ids))}) ORDER BY a.id LIMIT ?", [*ids, limit])
        return [dict(r) for r in rows]

    async def cert_applications_sent(self, lower_ids: Iterable[int], limit: int = 30) -> list[dict[str, Any]]:
        ids = sorted(set(lower_ids))
        if not ids:
            return []
        rows = await self._all(f"{self._APP_SELECT} WHERE a.status = 'pending' AND a.lower_id IN "
                               f"({','.join('?' * len(ids))}) ORDER BY a.id LIMIT ?", [*ids, limit])
        return [dict(r) for r in rows]

    async def decide_cert_application(self, app_id: int, approve: bool, actor_id: int, reason: str | None,
                                      now: str) -> bool:
        """Exactly one decision wins: False when it was decided (or withdrawn) already. Approval
        re-checks CERT-4/ORG-2 (raises Conflict, nothing written), certifies the lower organisation
        under the upper one and puts its subtree under the upper one's ancestors."""
        status = "approved" if approve else "rejected"
        async with self._tx() as db:
            cur = await db.execute(
                """UPDATE cert_applications SET status = ?, reason = ?, decided_by = ?, decided_at = ?
                   WHERE id = ? AND status = 'pending'""", (status, reason, actor_id, now, app_id))
            if cur.rowcount == 0:
                return False
            app = await self._fetch(db, "SELECT upper_id, lower_id FROM cert_applications WHERE id = ?", (app_id,))
            upper_id, lower_id = app["upper_id"], app["lower_id"]
            before = None
            if approve:
                lower = await self._check_attach(db, lower_id, upper_id)
                before = {"parent_id": lower["parent_id"]}
                await db.execute("UPDATE orgs SET parent_id = ?, certified_at = ? WHERE id = ?",
                                 (upper_id, now, lower_id))
                await self._attach(db, lower_id, upper_id)
                await self._withdraw_renames(db, lower_id, now)
            after = {"status": status, "upper_id": upper_id, "lower_id": lower_id, "reason": reason}
            actions = ("cert.approve", "cert.approved") if approve else ("cert.reject", "cert.rejected")
            for org_id, action in zip((upper_id, lower_id), actions):
                await write_audit(db, actor_id, org_id, action, f"cert_application:{app_id}", before or
                                  {"status": "pending"}, after, now)
            return True

    async def withdraw_cert_application(self, app_id: int, actor_id: int, now: str) -> bool:
        async with self._tx() as db:
            cur = await db.execute(
                """UPDATE cert_applications SET status = 'withdrawn', decided_by = ?, decided_at = ?
                   WHERE id = ? AND status = 'pending'""", (actor_id, now, app_id))
            if cur.rowcount == 0:
                return False
            app = await self._fetch(db, "SELECT upper_id, lower_id FROM cert_applications WHERE id = ?", (app_id,))
            for org_id in (app["lower_id"], app["upper_id"]):
                await write_audit(db, actor_id, org_id, "cert.withdraw", f"cert_application:{app_id}",
                                  {"status": "pending"}, {"status": "withdrawn"}, now)
            return True

    # -- un-certify (CERT-6), roots (CERT-7) -----------------------------------------------------
    async def uncertify_org(self, org_id: int, actor_id: int, now: str) -> int | None:
        """Bottom-up only: raises Conflict("has_lower") or Conflict("not_certified"). The organisation
        loses its upper one (returned, None for a root) and its certification; the closure rows that
        tied it to its ancestors go; a pending rename request (to the old upper) is withdrawn."""
        async with self._tx() as db:
            row = await self._fetch(db, "SELECT parent_id, certified_at FROM orgs WHERE id = ?", (org_id,))
            if row is None or row["certified_at"] is None:
                raise Conflict("not_certified")
            if await self._fetch(db, "SELECT 1 FROM orgs WHERE parent_id = ?", (org_id,)):
                raise Conflict("has_lower")
            parent_id = row["parent_id"]
            await db.execute("UPDATE orgs SET parent_id = NULL, certified_at = NULL WHERE id = ?", (org_id,))
            await self._detach(db, org_id)
            await self._withdraw_renames(db, org_id, now)
            before = {"parent_id": parent_id, "certified_at": row["certified_at"]}
            after = {"parent_id": None, "certified_at": None}
            await write_audit(db, actor_id, org_id, "cert.uncertify", f"org:{org_id}", before, after, now)
            if parent_id is not None:
                await write_audit(db, actor_id, parent_id, "cert.uncertify_lower", f"org:{org_id}", before, after,
                                  now)
            return parent_id

    async def certify_root(self, org_id: int, actor_id: int, now: str) -> None:
        """CERT-7: raises Conflict: gone, has_upper, certified, pending (it applied somewhere), name_taken."""
        async with self._tx() as db:
            row = await self._fetch(db, "SELECT name, parent_id, certified_at FROM orgs WHERE id = ?", (org_id,))
            if row is None:
                raise Conflict("gone")
            if row["parent_id"] is not None:
                raise Conflict("has_upper")
            if row["certified_at"] is not None:
                raise Conflict("certified")
            if await self._fetch(db, "SELECT 1 FROM cert_applications WHERE lower_id = ? AND status = 'pending'",
                                 (org_id,)):
                raise Conflict("pending")
            if await self._fetch(db, "SELECT 1 FROM orgs WHERE parent_id IS NULL AND name = ? AND id <> ? "
                                     "AND certified_at IS NOT NULL", (row["name"], org_id)):
                raise Conflict("name_taken")
            await db.execute("UPDATE orgs SET certified_at = ? WHERE id = ?", (now, org_id))
            await write_audit(db, actor_id, org_id, "cert.root", f"org:{org_id}", {"certified_at": None},
                              {"certified_at": now}, now)

    async def root_candidates(self, text: str | None, org_id: int | None, limit: int) -> list[Org]:
        """Organisations without an upper one and not certified, newest first; by name part or id."""
        clauses, params = ["parent_id IS NULL", "certified_at IS NULL"], []
        if org_id is not None:
            clauses.append("id = ?")
            params.append(org_id)
        elif text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("name LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        rows = await self._all(f"SELECT {_ORG_COLUMNS} FROM orgs WHERE {' AND '.join(clauses)} "
                               "ORDER BY id DESC LIMIT ?", [*params, limit])
        return [_org(r) for r in rows]

    async def certified_roots(self, limit: int) -> list[Org]:
        rows = await self._all(f"SELECT {_ORG_COLUMNS} FROM orgs WHERE parent_id IS NULL AND certified_at IS NOT NULL "
                               "ORDER BY name, id LIMIT ?", (limit,))
        return [_org(r) for r in rows]

    # -- rename requests (ORG-6) -----------------------------------------------------------------
    @staticmethod
    async def _withdraw_renames(db: aiosqlite.Connection, org_id: int, now: str) -> None:
        """The organisation's upper one changed: a rename request addressed to the old one ends."""
        await db.execute("UPDATE rename_requests SET status = 'withdrawn', decided_at = ? "
                         "WHERE org_id = ? AND status = 'pending'", (now, org_id))

    async def request_rename(self, org_id: int, new_name: str, actor_id: int, now: str) -> int:
        """Raises Conflict("pending") when one is pending, Conflict("not_certified")."""
        async with self._tx() as db:
            row = await self._fetch(db, "SELECT name, parent_id, certified_at FROM orgs WHERE id = ?", (org_id,))
            if row is None or row["certified_at"] is None:
                raise Conflict("not_certified")
            try:
                cur = await db.execute(
                    """INSERT INTO rename_requests (org_id, upper_id, old_name, new_name, requested_by, created_at)
                       VALUES (?, ?, ?, ?, ?, ?)""", (org_id, row["parent_id"], row["name"], new_name, actor_id, now))
            except aiosqlite.IntegrityError:
                raise Conflict("pending") from None
            req_id = cur.lastrowid
            for target in (org_id, row["parent_id"]):
                if target is not None:
                    await write_audit(db, actor_id, target, "cert.rename_request", f"rename_request:{req_id}",
                                      {"name": row["name"]}, {"name": new_name}, now)
            return req_id

    async def get_rename_request(self, req_id: int) -> dict[str, Any] | None:
        row = await self._one(f"{self._RENAME_SELECT} WHERE r.id = ?", (req_id,))
        return dict(row) if row else None

    async def pending_rename(self, org_id: int) -> dict[str, Any] | None:
        row = await self._one(f"{self._RENAME_SELECT} WHERE r.org_id = ? AND r.status = 'pending'", (org_id,))
        return dict(row) if row else None

    async def rename_requests_received(self, upper_ids: Iterable[int], roots: bool,
                                       limit: int = 30) -> list[dict[str, Any]]:
        """Pending requests to these upper organisations, and to the operator (roots) when asked."""
        ids = sorted(set(upper_ids))
        marks = ",".join("?" * len(ids)) or "NULL"
        rows = await self._all(f"{self._RENAME_SELECT} WHERE r.status = 'pending' AND (r.upper_id IN ({marks}) "
                               f"OR (? AND r.upper_id IS NULL)) ORDER BY r.id LIMIT ?", [*ids, int(roots), limit])
        return [dict(r) for r in rows]

    async def decide_rename(self, req_id: int, approve: bool, actor_id: int, reason: str | None, now: str) -> bool:
        """Exactly one decision wins (False otherwise). Approval renames the organisation, unless a
        certified sibling has the new name meanwhile (Conflict("name_taken"), nothing written)."""
        status = "approved" if approve else "rejected"
        async with self._tx() as db:
            cur = await db.execute(
                """UPDATE rename_requests SET status = ?, reason = ?, decided_by = ?, decided_at = ?
                   WHERE id = ? AND status = 'pending'""", (status, reason, actor_id, now, req_id))
            if cur.rowcount == 0:
                return False
            req = await self._fetch(db, "SELECT org_id, upper_id, old_name, new_name FROM rename_requests "
                                        "WHERE id = ?", (req_id,))
            if approve:
                if await self._fetch(db, "SELECT 1 FROM orgs WHERE parent_id IS ? AND name = ? AND id <> ? "
                                         "AND certified_at IS NOT NULL", (req["upper_id"], req["new_name"],
                                                                          req["org_id"])):
                    raise Conflict("name_taken")
                await db.execute("UPDATE orgs SET name = ? WHERE id = ?", (req["new_name"], req["org_id"]))
                await write_audit(db, actor_id, req["org_id"], "org.rename", f"rename_request:{req_id}",
                                  {"name": req["old_name"]}, {"name": req["new_name"]}, now)
            for target in (req["org_id"], req["upper_id"]):
                if target is not None:
                    await write_audit(db, actor_id, target, f"cert.rename_{'approve' if approve else 'reject'}",
                                      f"rename_request:{req_id}", {"name": req["old_name"]},
                                      {"name": req["new_name"], "status": status, "reason": reason}, now)
            return True


# -- question bank (LEARN-1) ---------------------------------------------------------------------
class _QuestionQueries(_Base):
    async def add_questions(self, actor_id: int | None, org_id: int | None,
                            rows: list[tuple[str, str, str, str, str]], now: str) -> tuple[int, int, int, int]:
        """LEARN-1 in one transaction: adds the rows (kind, body JSON, answer JSON, tags, fingerprint)
        whose fingerprint (type, stem, options) the bank (org_id None: the global one) does not hold yet;
        a question it holds takes the row's answer, explanations, English text and tags when they
        differ (how a wrong key is corrected). Returns (added, updated, unchanged, questions the bank
        now holds). Audited when an actor acted."""
        bank = org_id or 0
        count_sql = "SELECT count(*) FROM questions WHERE COALESCE(org_id, 0) = ?"
        async with self._tx(bank=True) as db:
            async with db.execute(count_sql, (bank,)) as cur:
                before = (await cur.fetchone())[0]
            cur = await db.executemany(
                "UPDATE questions SET body = ?, answer = ?, tags = ? WHERE COALESCE(org_id, 0) = ? AND fingerprint = ? "
                "AND kind = ? AND (body <> ? OR answer <> ? OR tags <> ?)",
                [(body, answer, tags, bank, fp, kind, body, answer, tags) for kind, body, answer, tags, fp in rows])
            updated = max(cur.rowcount, 0)
            await db.executemany(
                "INSERT INTO questions (org_id, kind, body, answer, tags, fingerprint, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(org_id, *row, actor_id, now) for row in rows])
            async with db.execute(count_sql, (bank,)) as cur:
                added = (await cur.fetchone())[0] - before
            async with db.execute(count_sql + " AND retired_at IS NULL", (bank,)) as cur:
                size = (await cur.fetchone())[0]
            unchanged = len(rows) - added - updated
            if actor_id is not None:
                await write_audit(db, actor_id, org_id, "question.import", None, None,
                                  {"added": added, "updated": updated, "present": unchanged, "bank": size}, now)
            return added, updated, unchanged, size

    async def question_bank_size(self, org_id: int | None) -> int:
        """Questions in use (drawn) in one bank."""
        return (await self.bank_counts(org_id))[0]

    async def bank_counts(self, org_id: int | None) -> tuple[int, int]:
        """(questions in use, questions retired) of one bank (None: the global one)."""
        row = await self._one("SELECT count(*) - count(retired_at) AS active, count(retired_at) AS retired "
                              "FROM questions WHERE COALESCE(org_id, 0) = ?", (org_id or 0,))
        return row["active"] or 0, row["retired"] or 0

    async def bank_page(self, org_id: int | None, limit: int, offset: int) -> list[tuple[Question, str | None]]:
        """One page of a bank, newest first: each question with when it was retired (None: in use)."""
        rows = await self._all(f"SELECT {_QUESTION_COLUMNS}, retired_at FROM questions WHERE COALESCE(org_id, 0) = ? "
                               "ORDER BY id DESC LIMIT ? OFFSET ?", (org_id or 0, limit, offset))
        return [(_question(r), r["retired_at"]) for r in rows]

    async def bank_question(self, question_id: int) -> tuple[Question, str | None] | None:
        row = await self._one(f"SELECT {_QUESTION_COLUMNS}, retired_at FROM questions WHERE id = ?", (question_id,))
        return (_question(row), row["retired_at"]) if row else None

    async def set_question_retired(self, actor_id: int, question_id: int, retired: bool, label: str,
                                   now: str) -> bool:
        """Takes a question out of (or back into) the draws; attempts already made keep it. False when it
        was so already. Audited under the question's bank."""
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE questions SET retired_at = ? WHERE id = ? AND (retired_at IS NULL) = ? RETURNING org_id",
                (now if retired else None, question_id, int(retired)))
            row = await cur.fetchone()
            if row is None:
                return False
            action = "question.retire" if retired else "question.restore"
            await write_audit(db, actor_id, row[0], action, label, None, None, now)
            return True


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


@dataclass(frozen=True, slots=True)
class QuizItem:
    """One question of an attempt with the answer given so far (None: not answered)."""
    position: int
    question: Question
    answer: tuple[str, ...] | None
    correct: bool | None
    answered_at: str | None


_HEAD_COLUMNS = ("a.id AS a_id, a.user_id, a.kind AS a_kind, a.status, a.position, a.shown_at, a.started_at, "
                 "a.submitted_at, a.total, a.correct AS a_correct, a.points, a.scored, a.period, a.flagged")
_ITEM_COLUMNS = ("i.position AS i_pos, i.answer AS given, i.correct AS i_correct, i.answered_at, q.id AS id, "
                 "q.org_id AS org_id, q.kind AS kind, q.body AS body, q.answer AS answer, q.tags AS tags")
# questions a user sees: the global bank and the banks of their organisations and those above them
_VISIBLE_TO_PHONE = ("(q.org_id IS NULL OR q.org_id IN (SELECT t.ancestor_id FROM members m "
                     "JOIN org_tree t ON t.descendant_id = m.org_id WHERE m.phone = ?))")


def _head(row: aiosqlite.Row) -> AttemptHead:
    return AttemptHead(row["a_id"], row["user_id"], row["a_kind"], row["status"], row["position"], row["shown_at"],
                       row["started_at"], row["submitted_at"], row["total"], row["a_correct"], row["points"],
                       bool(row["scored"]), row["period"], bool(row["flagged"]))


def _item(row: aiosqlite.Row, question: Question | None = None) -> QuizItem:
    given = row["given"]
    return QuizItem(row["i_pos"], question or _question(row), tuple(json.loads(given)) if given is not None else None,
                    None if row["i_correct"] is None else bool(row["i_correct"]), row["answered_at"])


# -- quizzes: daily, weekly, challenge, wrong book (LEARN-2, 3, 5) -------------------------------
class _QuizQueries(_Base):
    # == quiz: section owned by the quiz work ==
    # The answer path reads from the attempt cache and writes in a group commit (_Base._write_batched):
    # every aiosqlite call is a thread hop, and under load a hop waits for the GIL.

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
            attempt_id = cur.lastrowid
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
            rows = await self._all(
                f"""SELECT {_HEAD_COLUMNS}, {_ITEM_COLUMNS} FROM quiz_attempts a
                    LEFT JOIN quiz_items i ON i.attempt_id = a.id
                    LEFT JOIN questions q ON q.id = i.question_id WHERE a.id = ?""", (attempt_id,))
            if not rows:
                return None, {}
            cached = (_head(rows[0]), {r["i_pos"]: _item(r, self._shared_question(r))
                                       for r in rows if r["i_pos"] is not None})
            self._attempts.put(attempt_id, cached)
        head, items = cached
        wanted = (head.position,) if positions is None else positions
        return head, {p: items[p] for p in wanted if p in items}

    def _shared_question(self, row: aiosqlite.Row) -> Question:
        """One Question object per question for all cached attempts (fewer objects for the collector)."""
        question = self._questions.get(row["id"])
        if question is None:
            question = _question(row)
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

        def write(conn: Any) -> bool:
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

        def write(conn: Any) -> bool:
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
        def write(conn: Any) -> None:
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
            async with db.execute("SELECT 1 FROM quiz_attempts WHERE kind = 'weekly' AND period = ? AND scope = ? "
                                  "LIMIT 1", (period, scope)) as cur:
                if await cur.fetchone():
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
        count = await self._one("SELECT COUNT(*) AS n FROM wrongbook WHERE user_id = ?", (user_id,))
        rows = await self._all(
            """SELECT q.id AS id, q.org_id AS org_id, q.kind AS kind, q.body AS body, q.answer AS answer,
                      q.tags AS tags, w.wrong_times, w.streak FROM wrongbook w
               JOIN questions q ON q.id = w.question_id WHERE w.user_id = ?
               ORDER BY w.added_at, w.question_id LIMIT ? OFFSET ?""",
            (user_id, limit, offset))
        return count["n"], [(_question(r), r["wrong_times"], r["streak"]) for r in rows]


# -- a learner's records, report and rank (LEARN-4, 8) -------------------------------------------
class _LearnerQueries(_Base):
    """Reads only: a learner's own attempts, their ledger by day and source, ranks in an organisation."""

    _ATTEMPT_COLUMNS = "id, user_id, kind, day, submitted_at, total, correct, points, flagged"

    async def learner_attempt_count(self, user_id: int) -> int:
        row = await self._one("SELECT COUNT(*) AS n FROM quiz_attempts WHERE user_id = ? AND status = 'submitted'",
                              (user_id,))
        return row["n"]

    async def learner_attempt_page(self, user_id: int, limit: int, offset: int) -> list[dict[str, Any]]:
        """Submitted attempts, newest first."""
        rows = await self._all(
            f"""SELECT {self._ATTEMPT_COLUMNS} FROM quiz_attempts WHERE user_id = ? AND status = 'submitted'
                ORDER BY day DESC, submitted_at DESC, id DESC LIMIT ? OFFSET ?""", (user_id, limit, offset))
        return [dict(r) for r in rows]

    async def learner_attempts_on(self, user_id: int, day: str) -> list[dict[str, Any]]:
        rows = await self._all(
            f"SELECT {self._ATTEMPT_COLUMNS} FROM quiz_attempts WHERE user_id = ? AND day = ? AND status = 'submitted'",
            (user_id, day))
        return [dict(r) for r in rows]

    async def learner_attempt(self, attempt_id: int) -> dict[str, Any] | None:
        row = await self._one(f"SELECT {self._ATTEMPT_COLUMNS}, status FROM quiz_attempts WHERE id = ?",
                              (attempt_id,))
        return dict(row) if row else None

    async def learner_attempt_review_items(self, attempt_id: int) -> list[tuple[dict[str, Any], Question]]:
        """(item, question) in order; item has position, given (the user's JSON answer), correct, fast."""
        rows = await self._all(
            """SELECT i.position, i.answer AS given, i.correct AS item_correct, i.fast,
                      q.id, q.org_id, q.kind, q.body, q.answer, q.tags
               FROM quiz_items i JOIN questions q ON q.id = i.question_id
               WHERE i.attempt_id = ? ORDER BY i.position""", (attempt_id,))
        return [({"position": r["position"], "given": r["given"], "correct": r["item_correct"], "fast": r["fast"]},
                 _question(r)) for r in rows]

    async def learner_points_by_day_source(self, user_id: int, since_day: str,
                                           until_day: str) -> list[tuple[str, str, int]]:
        rows = await self._all(
            """SELECT day, source, SUM(amount) AS n FROM points WHERE user_id = ? AND day >= ? AND day <= ?
               GROUP BY day, source ORDER BY day, source""", (user_id, since_day, until_day))
        return [(r["day"], r["source"], r["n"]) for r in rows]

    async def learner_org_ranking(self, org_id: int, user_id: int, since_day: str,
                                  top: int) -> list[dict[str, Any]]:
        """LEARN-8 in one query: the organisation's registered members (its members rows of every branch
        whose phone belongs to a user) with their points since `since_day` and in all. Returns the first
        `top` of each order (points, then name) and the row of `user_id`, each with week, total, week_rank,
        total_rank (1 + how many have more: ties share a rank) and ranked (how many were ranked).

        Ranks come from the per-score counts (few distinct scores), not from a window over every member:
        at 100,000 members that is several times faster in SQLite. Totals come from points_totals and the
        week from points_daily (both kept by award_points), never from the whole ledger."""
        rows = await self._all(
            """WITH people AS (
                   SELECT u.id AS user_id, m.name AS name, u.phone AS phone
                   FROM members m JOIN users u ON u.phone = m.phone
                   WHERE m.org_id = ?
               ), scores AS (
                   SELECT people.user_id, people.name, people.phone, COALESCE(t.total, 0) AS total,
                          COALESCE((SELECT SUM(d.amount) FROM points_daily d
                                    WHERE d.user_id = people.user_id AND d.day >= ?), 0) AS week
                   FROM people LEFT JOIN points_totals t ON t.user_id = people.user_id
               ), week_ranks AS (
                   SELECT week, COUNT(*) AS n, 1 + COALESCE(SUM(COUNT(*)) OVER (ORDER BY week DESC
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS week_rank
                   FROM scores GROUP BY week
               ), total_ranks AS (
                   SELECT total, 1 + COALESCE(SUM(COUNT(*)) OVER (ORDER BY total DESC
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS total_rank
                   FROM scores GROUP BY total
               ), picked AS (
                   SELECT * FROM (SELECT * FROM scores ORDER BY week DESC, name, user_id LIMIT ?) AS top_week
                   UNION
                   SELECT * FROM (SELECT * FROM scores ORDER BY total DESC, name, user_id LIMIT ?) AS top_total
                   UNION
                   SELECT * FROM scores WHERE user_id = ?
               )
               SELECT picked.user_id, picked.name, picked.phone, picked.week, picked.total,
                      week_ranks.week_rank, total_ranks.total_rank,
                      (SELECT SUM(n) FROM week_ranks) AS ranked
               FROM picked
               JOIN week_ranks ON week_ranks.week = picked.week
               JOIN total_ranks ON total_ranks.total = picked.total""",
            (org_id, since_day, top, top, user_id))
        return [dict(r) for r in rows]


class Store(_OrgQueries, _MemberQueries, _InviteQueries, _OutboxQueries, _PointsQueries, _CertQueries,
            _QuestionQueries, _QuizQueries, _LearnerQueries, DueRepository, ExamQueries,
            ExamAttemptQueries):
    def __init__(self, conn: aiosqlite.Connection, cache_size: int = 50_000) -> None:
        self._db = conn
        self._lock = asyncio.Lock()
        self._users = _Lru(cache_size)
        self._admins = _Lru(cache_size)
        self._attempts = _Lru(cache_size // 10)
        self._questions = _Lru(cache_size // 5)
        self._pending = []
        self._committers = set()

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    async def open(cls, path: Path | str) -> Store:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL"):
            await conn.execute(f"PRAGMA {pragma}")
        store = cls(conn)
        await store.migrate()
        return store

    async def close(self) -> None:
        await self._db.close()

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0])

    async def migrate(self) -> None:
        current = await self.schema_version()
        for version, script in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            async with self._tx() as db:
                for statement in _split_sql(script):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {version}")

    # -- users -----------------------------------------------------------------------------
    async def get_user(self, user_id: int) -> User | None:
        """Every update asks for its sender: served from the write-through cache after the first read."""
        cached = self._users.get(user_id, _MISSING)
        if cached is not _MISSING:
            return cached
        row = await self._one(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        user = _user(row) if row else None
        self._users.put(user_id, user)
        return user

    async def update_tg_profile(self, user: User, now: str) -> None:
        async with self._tx(users=(user.id,)) as db:
            await db.execute(
                "UPDATE users SET first_name = ?, last_name = ?, username = ?, tg_language = ?, updated_at = ? "
                "WHERE id = ?",
                (user.first_name, user.last_name, user.username, user.tg_language, now, user.id))

    async def set_language(self, user: User, language: str, now: str) -> None:
        """Stores the choice, creating the row for a visitor who has not registered yet."""
        async with self._tx(users=(user.id,)) as db:
            await db.execute(
                """INSERT INTO users (id, first_name, last_name, username, tg_language, language, created_at,
                                      updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at""",
                (user.id, user.first_name, user.last_name, user.username, user.tg_language, language, now, now))

    async def user_id_by_phone(self, phone: str) -> int | None:
        row = await self._one("SELECT id FROM users WHERE phone = ?", (phone,))
        return row["id"] if row else None

    async def complete_registration(
        self, user: User, phone: str, name: str, org_name: str | None, now: str,
    ) -> list[Membership]:
        """REG-5, REG-7 in one transaction: the account gets its phone and name, and every member
        record listed under that phone becomes activated. Raises Conflict("phone")."""
        async with self._tx(users=(user.id,)) as db:
            async with db.execute("SELECT id FROM users WHERE phone = ? AND id <> ?", (phone, user.id)) as cur:
                if await cur.fetchone():
                    raise Conflict("phone")
            await db.execute(
                """INSERT INTO users (id, first_name, last_name, username, tg_language, language, phone, name,
                                      org_name, agreed_at, registered_at, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET phone = excluded.phone, name = excluded.name,
                       org_name = excluded.org_name, agreed_at = excluded.agreed_at,
                       registered_at = excluded.registered_at, updated_at = excluded.updated_at""",
                (user.id, user.first_name, user.last_name, user.username, user.tg_language, user.language,
                 phone, name, org_name, now, now, now, now))
            await db.execute("UPDATE members SET activated_at = ? WHERE phone = ? AND activated_at IS NULL",
                             (now, phone))
            return await _memberships(db, phone)

    async def memberships(self, phone: str) -> list[Membership]:
        async with self._lock:
            return await _memberships(self._db, phone)

    async def admin_org_ids(self, user_id: int) -> tuple[frozenset[int], frozenset[int]]:
        """(organisations the user administers, those they are main admin of); cached like get_user."""
        cached = self._admins.get(user_id)
        if cached is not None:
            return cached
        rows = await self._all("SELECT org_id, role FROM org_admins WHERE user_id = ?", (user_id,))
        ids = (frozenset(r["org_id"] for r in rows), frozenset(r["org_id"] for r in rows if r["role"] == "main"))
        self._admins.put(user_id, ids)
        return ids

    async def set_verification(self, user_id: int, real_name: str, id_hash: str, id_masked: str, now: str) -> None:
        """RNV-3: one ID number verifies one account. Raises Conflict("id_number")."""
        async with self._tx(users=(user_id,)) as db:
            async with db.execute("SELECT id FROM users WHERE id_hash = ? AND id <> ?", (id_hash, user_id)) as cur:
                if await cur.fetchone():
                    raise Conflict("id_number")
            await db.execute(
                "UPDATE users SET real_name = ?, id_hash = ?, id_masked = ?, verified_at = ?, updated_at = ? "
                "WHERE id = ?", (real_name, id_hash, id_masked, now, now, user_id))

    async def get_menu_key(self, user_id: int) -> str | None:
        row = await self._one("SELECT menu FROM users WHERE id = ?", (user_id,))
        return row["menu"] if row else None

    async def set_menu_key(self, user_id: int, menu: str) -> None:
        async with self._tx() as db:
            await db.execute("UPDATE users SET menu = ? WHERE id = ?", (menu, user_id))

    # -- FSM -------------------------------------------------------------------------------
    async def fsm_get(self, key: str) -> tuple[str | None, dict[str, Any]]:
        row = await self._one("SELECT state, data FROM fsm WHERE key = ?", (key,))
        if row is None:
            return None, {}
        return row["state"], json.loads(row["data"])

    async def fsm_set_state(self, key: str, state: str | None) -> None:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO fsm (key, state) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state",
                (key, state),
            )
            await db.execute("DELETE FROM fsm WHERE key = ? AND state IS NULL AND data = '{}'", (key,))

    async def fsm_set_data(self, key: str, data: dict[str, Any]) -> None:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO fsm (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                (key, payload),
            )
            await db.execute("DELETE FROM fsm WHERE key = ? AND state IS NULL AND data = '{}'", (key,))

    # -- audit -----------------------------------------------------------------------------
    async def audit_entries(self, org_id: int, limit: int = 20, before_id: int | None = None) -> list[dict[str, Any]]:
        rows = await self._all(
            """SELECT id, actor_id, org_id, action, target, before, after, at FROM audit_log
               WHERE org_id = ? AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?""",
            (org_id, before_id, before_id, limit),
        )
        return [dict(r) for r in rows]


async def write_audit(
    db: aiosqlite.Connection, actor_id: int, org_id: int | None, action: str, target: str | None,
    before: Any, after: Any, at: str,
) -> None:
    """Called inside the transaction of the action it records."""
    await db.execute(_AUDIT_SQL, _audit_params(actor_id, org_id, action, target, before, after, at))


_AUDIT_SQL = "INSERT INTO audit_log (actor_id, org_id, action, target, before, after, at) VALUES (?, ?, ?, ?, ?, ?, ?)"


def _audit_params(actor_id: int, org_id: int | None, action: str, target: str | None, before: Any, after: Any,
                  at: str) -> tuple:
    return (actor_id, org_id, action, target, None if before is None else json.dumps(before, ensure_ascii=False),
            None if after is None else json.dumps(after, ensure_ascii=False), at)


async def _memberships(db: aiosqlite.Connection, phone: str) -> list[Membership]:
    async with db.execute(
        """SELECT o.id, o.name, o.certified_at, b.name AS branch FROM members m
           JOIN orgs o ON o.id = m.org_id LEFT JOIN branches b ON b.id = m.branch_id
           WHERE m.phone = ? ORDER BY o.name""", (phone,)) as cur:
        rows = await cur.fetchall()
    return [Membership(r["id"], r["name"], r["certified_at"] is not None, r["branch"]) for r in rows]


_ORG_COLUMNS = ("id, name, region, kind, parent_id, certified_at, join_approval, protect_content, created_by, "
                "created_at")


def _org(row: aiosqlite.Row) -> Org:
    values = {k: row[k] for k in row.keys()}  # noqa: SIM118 - `in` on a sqlite3.Row tests its values
    values["join_approval"] = bool(values["join_approval"])
    values["protect_content"] = bool(values["protect_content"])
    return Org(**values)


_QUESTION_COLUMNS = "id, org_id, kind, body, answer, tags"


def _question(row: aiosqlite.Row) -> Question:
    """A `questions` row (selected with _QUESTION_COLUMNS) as the model."""
    body = json.loads(row["body"])
    texts = {lang: QuestionText(t["stem"], tuple(t.get("options") or ()), t.get("explanation") or "")
             for lang, t in body.items()}
    answer = json.loads(row["answer"])
    return Question(id=row["id"], org_id=row["org_id"], kind=row["kind"], texts=texts,
                    answer=tuple(tuple(a) if isinstance(a, list) else a for a in answer), tags=row["tags"])


def question_body_json(texts: dict[str, QuestionText]) -> str:
    """The inverse of _question for `body` (used when writing questions)."""
    return json.dumps({lang: {"stem": t.stem, "options": list(t.options), "explanation": t.explanation}
                       for lang, t in texts.items()}, ensure_ascii=False, separators=(",", ":"))


def _user(row: aiosqlite.Row) -> User:
    return User(**{k: row[k] for k in row.keys()})  # noqa: SIM118 - `in` on a sqlite3.Row tests its values


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]

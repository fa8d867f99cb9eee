"""The Store the rest of the bot imports. SQLite through aiosqlite: WAL, foreign keys, busy timeout,
migrations (bot/db/migrations/), one transaction per action.

All access goes through one connection guarded by an asyncio lock, so a transaction is never
interleaved with another task's statements. `atomic()` widens one transaction to a whole action: every
write the current task makes inside it (through `_tx` or the group commit), and the pushes it
enqueues, commit or roll back together (DESIGN "Pushes"). This module holds that connection, the transactions,
the group commit and the read caches; the SQL lives in bot/repositories/, one mixin per aggregate,
composed here. SQL is kept portable (plain SQL, ON CONFLICT upserts) so that a PostgreSQL backend
can follow. Repositories written in SQLAlchemy Core run on the same connection and transactions through
bot/db/engine.py (`_q`, `_write`, `_in_tx`, `_batched`).
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool

from bot import pg
from bot.db.engine import PgRunner, Runner, SqliteRunner
from bot.db.migrations import ALEMBIC_MARK, head, migrate_sync
from bot.repositories.activities import ActivityQueries
from bot.repositories.audit import AuditRepository, write_audit
from bot.repositories.backup import owner_only
from bot.repositories.base import MISSING, Conflict, StoreError
from bot.repositories.certification import CertificationRepository
from bot.repositories.deployment import DeploymentRepository
from bot.repositories.due import DueRepository
from bot.repositories.exam_attempts import ExamAttemptsRepository
from bot.repositories.exams import ExamsRepository
from bot.repositories.fsm import FsmRepository
from bot.repositories.inbox import InboxRepository
from bot.repositories.invites import InvitesRepository
from bot.repositories.learner import LearnerRepository
from bot.repositories.leases import LeasesRepository
from bot.repositories.manuscripts import ManuscriptQueries
from bot.repositories.members import Membership, MembersRepository
from bot.repositories.orgs import OrgsRepository
from bot.repositories.outbox import OutboxRepository, Push
from bot.repositories.points import PointsRepository
from bot.repositories.questions import QuestionsRepository, question_body_json
from bot.repositories.quizzes import AttemptHead, QuizItem, QuizzesRepository
from bot.repositories.rate_limits import RateLimitsRepository
from bot.repositories.renames import RenamesRepository
from bot.repositories.reports import ReportsRepository
from bot.repositories.tasks import TaskQueries
from bot.repositories.users import UsersRepository

# what the rest of the bot imports from here
__all__ = ["AttemptHead", "Conflict", "Membership", "Push", "QuizItem", "Store", "StoreError",
           "question_body_json", "write_audit"]

T = TypeVar("T")
log = logging.getLogger("bot.store")
# a write of the next group commit: the write (on a sqlite3 connection, or a SQLAlchemy one when written in
# Core), what follows it on the event loop, its caller's future, and whether it is written in Core
_Pending = tuple[Callable[[Any], Any], Callable[[Any], None], "asyncio.Future[Any]", bool]


class _Lru:
    """A bounded map, least recently used out first: the store's write-through read caches.

    Sound because the bot's process is the database's one writer (DESIGN: one writer connection):
    every write goes through this store, which updates or drops the entries it touches."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._map: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, default: Any = None) -> Any:
        value = self._map.get(key, MISSING)
        if value is MISSING:
            return default
        self._map.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        self._map[key] = value
        self._map.move_to_end(key)
        if len(self._map) > self._size:
            self._map.popitem(last=False)

    def drop(self, *keys: Hashable) -> None:
        for key in keys:
            self._map.pop(key, None)

    def clear(self) -> None:
        self._map.clear()


class _StoreLock(asyncio.Lock):
    """The store's lock, which the task running an `atomic()` block holds for the whole block: for
    that task alone (`owner`), entering the lock again is a no-op (its reads must not wait for
    itself). Any other task, including one the owner spawned, waits as usual."""

    owner: asyncio.Task[Any] | None = None

    def mine(self) -> bool:
        owner = self.owner
        return owner is not None and owner is asyncio.current_task()

    async def __aenter__(self) -> None:
        owner = self.owner
        if owner is not None and owner is asyncio.current_task():
            return
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        owner = self.owner
        if owner is not None and owner is asyncio.current_task():
            return
        self.release()


async def _write_ahead_log(conn: aiosqlite.Connection, tries: int = 50) -> None:
    """PRAGMA journal_mode=WAL. On a new file that other connections open at the same moment (processes
    starting together), SQLite may answer "database is locked" at once instead of waiting (the busy
    timeout does not apply where two connections would wait on each other): tried again, 0.1 s apart."""
    for attempt in range(tries):
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            await asyncio.sleep(0.1)


class Store(UsersRepository, OrgsRepository, MembersRepository, InvitesRepository, CertificationRepository,
            RenamesRepository, QuestionsRepository, QuizzesRepository, LearnerRepository, PointsRepository,
            OutboxRepository, FsmRepository, AuditRepository, DueRepository, TaskQueries, ActivityQueries,
            ManuscriptQueries, ReportsRepository, InboxRepository, ExamsRepository, ExamAttemptsRepository,
            LeasesRepository, RateLimitsRepository, DeploymentRepository):
    def __init__(self, conn: aiosqlite.Connection, cache_size: int = 50_000) -> None:
        self._db = conn
        # cache_size=0: no read caches at all (other processes write the database too: issue 17)
        self.caching = cache_size > 0
        self.shared = not self.caching  # other processes may write too: no cache of this process is right
        self._lock: _StoreLock = _StoreLock()
        self._savepoints = 0
        # tests switch this on: a push enqueued outside an atomic() block is then an error (so the
        # suite proves that every push is written in the transaction of the action causing it)
        self.strict_pushes = False
        self._users = _Lru(cache_size)
        self._admins = _Lru(cache_size)
        self._attempts = _Lru(cache_size // 10)
        self._questions = _Lru(cache_size // 5)
        self._pending: list[_Pending] = []  # the next group commit
        self._runner: Runner | None = None  # Core statements on this connection (bot/db/engine.py), once needed
        self._committers: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    async def open(cls, path: Path | str, *, cache_size: int = 50_000) -> Store:
        """A SQLite file (or ":memory:"), or a PostgreSQL database given by its URL (bot/pg.py).
        cache_size=0: every read goes to the database (several processes share it)."""
        if pg.is_url(path):  # other processes may write: no write-through caches (issue 17)
            store = cls(cast(aiosqlite.Connection, await pg.connect(str(path))), cache_size=0)
            try:
                await store.migrate()
            except BaseException:
                await store.close()
                raise
            return store
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            owner_only(Path(path))  # names and phones: not for other users of the machine
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA busy_timeout=5000")
            await _write_ahead_log(conn)
            # secure_delete: a page freed by a delete is zeroed, so what a row held (names, phones)
            # does not outlive it in the file, its free pages or a backup copied page by page
            for pragma in ("foreign_keys=ON", "synchronous=NORMAL", "secure_delete=ON"):
                await conn.execute(f"PRAGMA {pragma}")
            store = cls(conn, cache_size=cache_size)
            await store.migrate()
        except BaseException:
            await conn.close()
            raise
        return store

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.close()
        await self._db.close()

    async def notify(self, channel: str) -> None:
        """Wakes the listeners of `channel` in every process, when the current transaction commits
        (PostgreSQL's NOTIFY); nothing on SQLite, whose processes poll."""
        if not isinstance(self._db, pg.PgConnection):
            return
        if self._lock.mine():  # inside the caller's atomic() block: sent with its commit
            await self._db.notify(channel)
            return
        async with self._lock:
            await self._db.notify(channel)

    async def listen(self, channel: str, callback: Callable[[], None]) -> bool:
        """`callback()` whenever another connection's notify on `channel` commits; False when the
        database cannot tell (SQLite: poll instead)."""
        if not isinstance(self._db, pg.PgConnection):
            return False
        async with self._lock:
            await self._db.listen(channel, callback)
        return True

    async def schema_version(self) -> str:
        """The database's Alembic revision (the head once the store is open)."""
        async with self._db.execute("SELECT version_num FROM alembic_version") as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else ""

    async def migrate(self) -> None:
        """Brings the database to this bot's schema (bot/db/migrations/: the legacy scripts a database made by
        them has not run, then the Alembic revisions), each step logged, on this store's own connection
        before anything else uses it; a database of a newer version of the bot is refused: SchemaTooNew.
        A database at the head already (every start but the first of a release) is only read, without the lock."""
        try:
            revision = await self.schema_version()
            async with self._db.execute("PRAGMA user_version") as cur:  # the legacy counter (PostgreSQL: its table)
                legacy = await cur.fetchone()
        except sqlite3.OperationalError:  # no alembic_version yet
            revision, legacy = "", None
        if revision == head() and legacy is not None and legacy[0] == ALEMBIC_MARK:
            return
        raw: Any = self._db.pg if isinstance(self._db, pg.PgConnection) else self._db

        async def same_connection() -> Any:
            return raw

        url = "postgresql+asyncpg://" if isinstance(self._db, pg.PgConnection) else "sqlite+aiosqlite://"
        # StaticPool: the one connection, never closed by the engine (the store goes on using it)
        engine = create_async_engine(url, async_creator=same_connection, poolclass=StaticPool)
        if engine.dialect.name == "sqlite":  # the migration lock: the file's write lock from the first statement
            event.listen(engine.sync_engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        async with engine.connect() as conn:
            await conn.run_sync(migrate_sync)

    # -- the three ways to use the connection ------------------------------------------------
    @asynccontextmanager
    async def _tx(self, *, users: Iterable[int] = (), admins: bool = False, attempts: Iterable[int] = (),
                  bank: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction (BEGIN IMMEDIATE), rolled back on any error. The cached rows it may
        change are named: those users, everybody's admin roles, those quiz attempts, every question
        (and so every cached attempt, which holds its questions); they are forgotten before the lock
        is released, so the next read sees what was written. Inside the current task's `atomic()`
        block it is a savepoint of that transaction instead (an error undoes this part alone)."""
        if self._lock.mine():
            async with self._savepoint(users=users, admins=admins, attempts=attempts, bank=bank) as db:
                yield db
            return
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
                self._forget(users, attempts, admins=admins, bank=bank)

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """One write transaction for a whole action, owned by the current asyncio task: every write
        the task makes inside (store methods using `_tx` or the group commit, pushes enqueued) joins
        it, and all commit together at the end or roll back together on any error. A block inside
        another joins it. Other tasks (also ones spawned inside) wait for the commit, as for any
        transaction; so nothing slow belongs inside (no Bot API calls: they would hold every other
        writer and reader for a network round trip), and no store call in another task awaited from
        inside (asyncio.gather, wait_for): that task waits for the block, which waits for it.

        Reads inside see the block's own writes. Cached rows read inside may be seen by other tasks
        before the commit; after a rollback every cache is cleared, since it may hold rows that were
        never committed."""
        if self._lock.mine():
            yield
            return
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            self._lock.owner = asyncio.current_task()
            try:
                try:
                    yield
                finally:
                    self._lock.owner = None
                await self._db.execute("COMMIT")
            except BaseException:
                try:
                    if self._db.in_transaction:
                        await self._db.execute("ROLLBACK")
                finally:
                    self._forget_all()
                raise

    def _forget(self, users: Iterable[int], attempts: Iterable[int], *, admins: bool, bank: bool) -> None:
        """The cached rows a write names are forgotten: those users, those quiz attempts, everybody's
        admin roles, every question (and so every cached attempt, which holds its questions)."""
        self._users.drop(*users)
        self._attempts.drop(*attempts)
        if admins:
            self._admins.clear()
        if bank:
            self._questions.clear()
            self._attempts.clear()

    def _in_atomic(self) -> bool:
        return self._lock.mine()

    def _forget_all(self) -> None:
        """Every cached row is forgotten (after a rollback of an atomic block)."""
        for cache in (self._users, self._admins, self._attempts, self._questions):
            cache.clear()
        self._unreachable_ids = None

    @asynccontextmanager
    async def _savepoint(self, *, users: Iterable[int], admins: bool, attempts: Iterable[int],
                         bank: bool) -> AsyncIterator[aiosqlite.Connection]:
        """`_tx` inside an atomic block: a savepoint of the block's transaction; the cached rows it
        names are forgotten at once (the block's own later reads must see its writes)."""
        self._savepoints += 1
        name = f"tx{self._savepoints}"
        await self._db.execute(f"SAVEPOINT {name}")
        try:
            yield self._db
        except BaseException:
            await self._db.execute(f"ROLLBACK TO {name}")
            await self._db.execute(f"RELEASE {name}")
            raise
        else:
            await self._db.execute(f"RELEASE {name}")
        finally:
            self._forget(users, attempts, admins=admins, bank=bank)

    @asynccontextmanager
    async def raw_tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """A transaction for statements written outside the store (tests' fixtures): every cached
        row is forgotten afterwards, since the store cannot know what they changed."""
        async with self._tx(admins=True, bank=True) as db:
            try:
                yield db
            finally:
                self._users.clear()

    async def _write_batched(self, write: Callable[[sqlite3.Connection], T], after: Callable[[T], None]) -> T:
        """`_batched` for a write of a repository still written in SQL strings (`write(conn)` gets the
        sqlite3 connection, or bot/pg.py's bridge to it on PostgreSQL)."""
        return await self._enqueue(write, after, core=False)

    async def _batched(self, write: Callable[[Connection], T], after: Callable[[T], None]) -> T:
        """A small write run in a group commit: the writes that arrive while the database is busy
        share one transaction and one trip to its thread. `write(conn)` gets the store's connection as
        SQLAlchemy's (bot/db/engine.py); an exception undoes that write alone and is raised to its
        caller (a savepoint of its own; on PostgreSQL the batch is run again with one when a write fails,
        so a write touches nothing but the database); `after(result)` runs on the event loop before the lock is
        released, so the caches it updates never lag behind a later write. Inside the current task's
        atomic block the write runs at once in that transaction (in a savepoint of its own): the group
        commit would wait for the lock the block holds."""
        return await self._enqueue(write, after, core=True)

    async def _enqueue(self, write: Callable[[Any], T], after: Callable[[T], None], *, core: bool) -> T:
        owner = self._lock.owner
        if owner is not None and owner is asyncio.current_task():
            result = await (await self._core()).run_one(write, core)
            after(result)
            return result
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((write, after, future, core))
        if len(self._pending) == 1:
            task = asyncio.ensure_future(self._commit_pending())
            self._committers.add(task)  # a task nobody refers to may be collected before it ends
            task.add_done_callback(self._committers.discard)
        return cast(T, await future)

    async def _commit_pending(self) -> None:
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                outcomes = await (await self._core()).run_batch([(write, core) for write, _a, _f, core in batch])
            except BaseException as exc:
                for _write, _after, future, _core in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else StoreError("cancelled"))
                if not isinstance(exc, Exception):
                    raise
                return
            for (_write, after, future, _core), (ok, value) in zip(batch, outcomes):
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

    # -- statements written in SQLAlchemy Core (bot/db/engine.py) ------------------------------------
    async def _core(self) -> Runner:
        """The runner of Core functions on this store's connection, made on first use (under the lock)."""
        if self._runner is None:
            if isinstance(self._db, pg.PgConnection):
                self._runner = await PgRunner.open(self._db)
            else:
                self._runner = await SqliteRunner.open(self._db)
        return self._runner

    async def _q(self, fn: Callable[[Connection], T]) -> T:
        """A read (or a single statement) written in Core: `fn(conn)` in one trip, under the lock."""
        async with self._lock:
            return await (await self._core()).run(fn)

    async def _in_tx(self, fn: Callable[[Connection], T]) -> T:
        """`fn(conn)` inside the transaction of the caller's `_tx` block (which holds the lock), with the
        statements the block runs through its aiosqlite-like connection."""
        return await (await self._core()).run(fn)

    async def _write(self, fn: Callable[[Connection], T], *, users: Iterable[int] = (), admins: bool = False,
                     attempts: Iterable[int] = (), bank: bool = False) -> T:
        """`fn(conn)` in a write transaction of its own (`_tx`, with the cached rows it names)."""
        async with self._tx(users=users, admins=admins, attempts=attempts, bank=bank):
            return await self._in_tx(fn)

    async def _one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock, self._db.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock:  # one trip to the database thread (a cursor's execute + fetchall + close is three)
            return list(await self._db.execute_fetchall(sql, tuple(params)))


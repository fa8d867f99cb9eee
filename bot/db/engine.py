"""How a statement written once in SQLAlchemy Core runs on the store's own connection, on either backend.

A repository written in Core hands the store a SYNCHRONOUS function `fn(conn: sqlalchemy.Connection)`;
the store runs it with `Runner.run(fn)` on the connection its transactions already use, so a Core
statement and a statement of an unconverted repository (still SQL strings, bot/dialect.py) inside one
`atomic()` block or one `_tx` share that transaction and its savepoints. SQLAlchemy itself never begins,
commits or rolls back anything: the store's BEGIN / COMMIT / SAVEPOINT statements do, as before.

- SQLite: a sync `Engine` whose one connection (StaticPool) is aiosqlite's own sqlite3 connection,
  used only on aiosqlite's thread (`_execute`, the queue every aiosqlite call goes through): a whole
  function, and a whole group-commit batch, is one trip to that thread, as with the sqlite3 functions
  before. Python's sqlite3 `commit()`/`rollback()` would end the store's open transaction, so SQLAlchemy
  sees the connection through `_StoreOwned`, on which they do nothing.
- PostgreSQL: `create_async_engine("postgresql+asyncpg://")` whose one connection is the store's asyncpg
  connection (`async_creator`), isolation AUTOCOMMIT (the asyncpg adapter then starts no transaction
  of its own; its commit and rollback do nothing) and no reset on return; `AsyncConnection.run_sync(fn)`
  runs the same function in a greenlet on the event loop: no thread, no rewriting of the SQL, which
  SQLAlchemy's PostgreSQL dialect compiles itself (NULLS LAST, FOR UPDATE SKIP LOCKED, casts of the
  column's type).

The alternative of aiosqlite behind `sqlite+aiosqlite` (AsyncConnection.run_sync on SQLite too) costs
one thread trip per statement instead of one per function or batch (bench/core_runner.py measures the
three ways), so SQLite keeps the sync engine.
"""
from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import aiosqlite
from sqlalchemy import Connection, create_engine
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from bot.pg import PgConnection

T = TypeVar("T")
Core = Callable[[Connection], Any]  # a write or read written in Core
Legacy = Callable[[sqlite3.Connection], Any]  # a write of an unconverted repository (SQL strings)
Outcome = tuple[bool, Any]  # (written, the write's result) or (failed, its exception)
BatchItem = tuple[Callable[[Any], Any], bool]  # (the write, written in Core)


class Runner(Protocol):
    """The store's connection as Core functions use it."""

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """`fn` on the store's connection, in whatever transaction the store has open (none: each
        statement commits at once)."""
        ...

    async def run_one(self, write: Callable[[Any], T], core: bool) -> T:
        """A write inside the store's open transaction, in a savepoint of its own."""
        ...

    async def run_batch(self, batch: Sequence[BatchItem]) -> list[Outcome]:
        """A group commit: the writes in one transaction; a write's exception undoes that write alone
        (a savepoint of its own) and is its outcome."""
        ...

    async def close(self) -> None: ...


class _StoreOwned:
    """aiosqlite's sqlite3 connection as SQLAlchemy sees it: `commit()` and `rollback()` do nothing (the
    store's own BEGIN / COMMIT / ROLLBACK statements end its transactions), and so does setting its
    `isolation_level` (it stays None, the store's; setting it commits an open transaction); everything else
    is the connection's."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.__dict__["_conn"] = conn

    def cursor(self) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor = self._conn.cursor()
        return cursor

    def commit(self) -> None:
        return None

    def rollback(self) -> None:
        return None

    def close(self) -> None:
        return None  # aiosqlite closes it

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "isolation_level":
            setattr(self._conn, name, value)


class SqliteRunner:
    def __init__(self, db: aiosqlite.Connection, conn: Connection) -> None:
        self._db = db
        self._conn = conn

    @classmethod
    async def open(cls, db: aiosqlite.Connection) -> SqliteRunner:
        raw: sqlite3.Connection = db._conn

        def connect() -> Connection:  # on aiosqlite's thread: the sqlite3 connection is bound to it
            engine = create_engine("sqlite://", creator=lambda: _StoreOwned(raw), poolclass=StaticPool,
                                   pool_reset_on_return=None, isolation_level="AUTOCOMMIT")
            return engine.connect()

        return cls(db, await _on_thread(db, connect))

    async def run(self, fn: Callable[[Connection], T]) -> T:
        return await _on_thread(self._db, lambda: fn(self._conn))

    async def run_one(self, write: Callable[[Any], T], core: bool) -> T:
        raw: sqlite3.Connection = self._db._conn
        target = self._conn if core else raw
        return await _on_thread(self._db, lambda: _in_savepoint(raw, lambda: write(target)))

    async def run_batch(self, batch: Sequence[BatchItem]) -> list[Outcome]:
        return await _on_thread(self._db, lambda: self._batch(batch))

    def _batch(self, batch: Sequence[BatchItem]) -> list[Outcome]:
        raw: sqlite3.Connection = self._db._conn
        raw.execute("BEGIN IMMEDIATE")
        outcomes: list[Outcome] = []
        try:
            for write, core in batch:
                raw.execute("SAVEPOINT w")
                try:
                    outcomes.append((True, write(self._conn if core else raw)))
                except Exception as exc:  # noqa: BLE001 - the write's outcome, handed to its caller
                    raw.execute("ROLLBACK TO w")
                    outcomes.append((False, exc))
                raw.execute("RELEASE w")
            raw.execute("COMMIT")
        except BaseException:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        return outcomes

    async def close(self) -> None:
        return None  # the sqlite3 connection is aiosqlite's: Store.close closes it


class PgRunner:
    """Core functions on the store's asyncpg connection. That connection is replaced when it is lost
    (bot/pg_link.py: a PostgreSQL restart or failover): SQLAlchemy's connection is made again on the new one
    the first time a function runs after it, and every function runs through `PgConnection.run_core`, so a
    lost connection is told as it is for the store's SQL strings (DatabaseUnavailable, nothing committed)."""

    def __init__(self, db: PgConnection) -> None:
        self._db = db
        self._raw: Any = None  # the asyncpg connection SQLAlchemy's one wraps
        self._conn: AsyncConnection | None = None

    @classmethod
    async def open(cls, db: PgConnection) -> PgRunner:
        return cls(db)

    async def _bound(self, raw: Any) -> AsyncConnection:
        """SQLAlchemy's connection on `raw`, made again when the store's connection was replaced."""
        if self._conn is None or raw is not self._raw:
            old, self._conn, self._raw = self._conn, None, raw

            async def creator() -> Any:
                return raw

            engine = create_async_engine("postgresql+asyncpg://", async_creator=creator, poolclass=StaticPool,
                                         pool_reset_on_return=None, isolation_level="AUTOCOMMIT")
            self._conn = await engine.connect()
            if old is not None:  # on a connection already gone: nothing to say to the server
                await old.engine.dispose(close=False)
        return self._conn

    async def run(self, fn: Callable[[Connection], T]) -> T:
        async def op(raw: Any) -> T:
            return await (await self._bound(raw)).run_sync(fn)

        return await self._db.run_core(op)

    async def run_one(self, write: Callable[[Any], T], core: bool) -> T:
        await self._db.execute("SAVEPOINT w")
        try:
            result = await self._write(write, core)
        except BaseException:
            await self._db.execute("ROLLBACK TO w")
            await self._db.execute("RELEASE w")
            raise
        await self._db.execute("RELEASE w")
        return result

    async def _write(self, write: Callable[[Any], T], core: bool) -> T:
        if core:
            return await self.run(write)
        bridge = self._db._conn
        return await self._db._execute(lambda: write(bridge))

    async def run_batch(self, batch: Sequence[BatchItem]) -> list[Outcome]:
        """The batch in one transaction with no savepoints (each is two round trips more per write); when
        a write fails, the transaction is rolled back and the others run again, each in a savepoint of its
        own (a write function only reads and writes the database: running it again is safe). A batch of
        one write: its transaction is its savepoint."""
        db = self._db
        await db.execute("BEGIN")
        try:
            results = [await self._write(write, core) for write, core in batch]
        except Exception as exc:  # noqa: BLE001 - a write's outcome, handed to its caller
            await asyncio.shield(db.execute("ROLLBACK"))
            if len(batch) == 1:
                return [(False, exc)]
            return await self._each_in_a_savepoint(batch)
        except BaseException:
            if db.in_transaction:
                await asyncio.shield(db.execute("ROLLBACK"))
            raise
        await db.execute("COMMIT")
        return [(True, result) for result in results]

    async def _each_in_a_savepoint(self, batch: Sequence[BatchItem]) -> list[Outcome]:
        db = self._db
        await db.execute("BEGIN")
        outcomes: list[Outcome] = []
        try:
            for write, core in batch:
                await db.execute("SAVEPOINT w")
                try:
                    outcomes.append((True, await self._write(write, core)))
                except Exception as exc:  # noqa: BLE001 - the write's outcome, handed to its caller
                    await db.execute("ROLLBACK TO w")
                    outcomes.append((False, exc))
                await db.execute("RELEASE w")
            await db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                await asyncio.shield(db.execute("ROLLBACK"))
            raise
        return outcomes

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()


def _in_savepoint(raw: sqlite3.Connection, write: Callable[[], T]) -> T:
    """On the database thread, inside an open transaction: one write in a savepoint of its own."""
    raw.execute("SAVEPOINT w")
    try:
        result = write()
    except BaseException:
        raw.execute("ROLLBACK TO w")
        raw.execute("RELEASE w")
        raise
    raw.execute("RELEASE w")
    return result


def _on_thread(db: aiosqlite.Connection, fn: Callable[[], T]) -> Awaitable[T]:
    """`fn` on aiosqlite's own thread, in its queue (aiosqlite's _execute is untyped)."""
    execute = cast(Callable[[Callable[[], T]], Awaitable[T]], db._execute)
    return execute(fn)

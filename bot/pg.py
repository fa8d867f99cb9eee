"""The PostgreSQL backend (issue 17): an asyncpg connection that offers the part of aiosqlite's API the
store and the repositories use, so that they run unchanged on either database.

- `execute` (awaitable or `async with`), `executemany`, `execute_fetchall`, cursors with `fetchone`,
  `fetchall`, `rowcount`, `lastrowid`; rows are asyncpg records (by name and by position, like
  sqlite3.Row). Each statement is rewritten by bot.dialect on its way.
- `lastrowid`: an INSERT into a table with an identity `id` gets `RETURNING id` added.
- Errors: a constraint violation is raised as sqlite3.IntegrityError with SQLite's wording
  ("UNIQUE constraint failed: members.org_id, members.phone"), which the repositories catch; any other
  error of the server as sqlite3.OperationalError (asyncpg's error is its __cause__). In
  PostgreSQL a failed statement spoils its whole transaction, where SQLite undoes the statement alone.
  Every repository that catches a conflict leaves its transaction (raises Conflict), and each
  group-committed write has a savepoint of its own (bot/db/engine.py), so statements are not wrapped
  in savepoints of their own (two more round trips each); a COMMIT of a spoilt transaction raises
  instead of PostgreSQL's silent ROLLBACK. Rule for new code: catch a constraint error only to leave
  the transaction (or put the statement in a SAVEPOINT).
- The group commit (Store._write_batched) runs `write(conn)` functions written against a synchronous
  sqlite3 connection on aiosqlite's thread. Here the store's `_execute(fn)` runs them on a worker thread
  with `_conn` a synchronous bridge whose every call is run on the event loop (which is free: it
  awaits the thread) and waited for.
- `notify` / `listen`: PostgreSQL's NOTIFY, so that a push enqueued by one process wakes the leader's
  sender at its commit (SQLite has nothing like it: there the sender polls).
- One connection, used under the store's lock as the SQLite one is. The store's write-through caches
  are off on PostgreSQL (Store.open): other processes may write.
- A lost connection heals (bot/pg_link.py has the live one): the statement that lost it raises
  DatabaseUnavailable, as does each later statement of its transaction until the ROLLBACK (nothing of
  it was committed: no half-written action); the next statement outside a transaction reconnects. A
  COMMIT whose answer is lost with the connection raises too, although the server may have committed
  it: an action is then told it failed and may have been written (at least once, never lost).
"""
from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import asyncpg

from bot import dialect
from bot.pg_link import GONE, Link
from bot.repositories.base import DatabaseUnavailable

T = TypeVar("T")

_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
_RETURNS_ROWS = ("SELECT", "WITH", "VALUES")
_SCHEMA = ("CREATE", "ALTER", "DROP")
_KEY = re.compile(r"Key \((.*?)\)=")
CHANNEL_PREFIX = "xuexi_"  # LISTEN / NOTIFY channels of the bot


def is_url(target: object) -> bool:
    """A database given as a PostgreSQL URL (DATABASE_URL), not a SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def _numeric(text: str) -> int | float:
    """NUMERIC as SQLite would give it: SUM over BIGINT is NUMERIC in PostgreSQL, an integer in SQLite."""
    return int(text) if text.lstrip("-").isdigit() else float(text)


class PgCursor:
    """What a statement gave: its rows, how many rows it changed and the id it inserted."""

    def __init__(self, rows: list[asyncpg.Record], rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    async def fetchone(self) -> asyncpg.Record | None:
        return self.fetchone_now()

    def fetchone_now(self) -> asyncpg.Record | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchall(self) -> list[asyncpg.Record]:
        return self.fetchall_now()

    def fetchall_now(self) -> list[asyncpg.Record]:
        rest, self._next = self._rows[self._next:], len(self._rows)
        return rest

    async def fetchmany(self, size: int = 1) -> list[asyncpg.Record]:
        rest = self._rows[self._next:self._next + size]
        self._next += len(rest)
        return rest

    async def close(self) -> None:
        return None

    def __aiter__(self) -> PgCursor:
        return self

    async def __anext__(self) -> asyncpg.Record:
        row = self.fetchone_now()
        if row is None:
            raise StopAsyncIteration
        return row

    async def __aenter__(self) -> PgCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Result:
    """`db.execute(...)` both awaited and used with `async with`, as aiosqlite's is."""

    def __init__(self, coro: Awaitable[PgCursor]) -> None:
        self._coro = coro
        self._cursor: PgCursor | None = None

    def __await__(self) -> Generator[Any, None, PgCursor]:
        return self._coro.__await__()

    async def __aenter__(self) -> PgCursor:
        self._cursor = await self._coro
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        return None


class PgConnection:
    """See the module's doc. Its connection comes from a Link (bot/pg_link.py), which replaces a lost one:
    a statement that loses it raises DatabaseUnavailable, and so does every later statement of the same
    transaction until its ROLLBACK (which then succeeds) or COMMIT (which raises: nothing was committed)."""

    def __init__(self, link: Link) -> None:
        self._link = link
        self._identity: set[str] | None = None  # tables with an identity `id`, read when first needed
        self._failed = False  # a statement of the open transaction failed (the transaction is spoilt)
        self._open = False  # a transaction is open (BEGIN sent, no COMMIT / ROLLBACK since)
        self._doomed = False  # the connection was lost inside the open transaction
        self.total_changes = 0
        self._loop = asyncio.get_running_loop()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-batch")  # the group commit's

    @property
    def in_transaction(self) -> bool:
        return self._doomed or self._open

    @property
    def pg(self) -> asyncpg.Connection:
        """The asyncpg connection itself (for what the aiosqlite surface does not offer, e.g. COPY)."""
        conn = self._link.current
        if conn is None:
            raise DatabaseUnavailable("no connection to the database now")
        return conn

    async def close(self) -> None:
        self._thread.shutdown(wait=False)
        await self._link.close()

    # -- waking other processes (LISTEN / NOTIFY) -------------------------------------------------------
    async def notify(self, channel: str) -> None:
        """Tells every connection listening on `channel` (in any process) that there is something for
        it: at once outside a transaction, when the transaction commits inside one (never if it rolls
        back)."""
        await self._guarded("SELECT", lambda conn: conn.execute("SELECT pg_notify($1, '')", CHANNEL_PREFIX + channel))

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """`callback()` (on the event loop) whenever a notify on `channel` commits; kept across reconnections
        (and called once after each: what was notified meanwhile is lost)."""
        await self._link.listen(CHANNEL_PREFIX + channel, callback)

    def execute(self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> _Result:
        return _Result(self._run(sql, _params(params)))

    async def executemany(self, sql: str, seq: Iterable[Iterable[Any] | Mapping[str, Any]]) -> PgCursor:
        count = 0
        for params in seq:
            count += (await self._run(sql, _params(params))).rowcount
        return PgCursor([], count, None)

    async def execute_fetchall(self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()
                               ) -> list[asyncpg.Record]:
        return (await self._run(sql, _params(params))).fetchall_now()

    # -- aiosqlite's thread, as Store._commit_pending uses it -----------------------------------------
    async def _execute(self, fn: Callable[[], T]) -> T:
        return await self._loop.run_in_executor(self._thread, fn)

    @property
    def _conn(self) -> SyncBridge:
        return SyncBridge(self, self._loop)

    # -- one statement ------------------------------------------------------------------------------
    async def _run(self, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> PgCursor:
        pragma = dialect.pragma(sql)
        if pragma is not None:
            return await self._guarded("PRAGMA", lambda conn: _pragma(conn, pragma))
        text, args = dialect.translate(sql, params)
        verb = " ".join(text.split(None, 2)[:2]).upper()  # e.g. "SELECT X", "ROLLBACK TO"
        if verb.startswith("COMMIT") and self._failed and not self._doomed:
            # PostgreSQL ends a transaction spoilt by a failed statement with a ROLLBACK, even when asked to
            # COMMIT: said aloud here, never a silent loss of what the transaction wrote
            self._failed = False
            await self._guarded("ROLLBACK", lambda conn: conn.execute("ROLLBACK"))
            raise sqlite3.OperationalError("transaction rolled back: a statement in it failed")
        if verb.startswith(("BEGIN", "ROLLBACK")):
            self._failed = False  # a new transaction, or back to before the failure
        try:
            return await self._guarded(verb, lambda conn: self._statement(conn, text, verb, args))
        except BaseException:
            if self._open:
                self._failed = True
            raise

    async def run_core(self, op: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """`op` -- SQLAlchemy's statements (bot/db/engine.py) -- on the live connection, guarded as a statement
        of this class is: a connection lost on the way is dropped and DatabaseUnavailable raised (SQLAlchemy's
        wrapping of asyncpg's error looked through), and a failure inside a transaction spoils it."""
        async def unwrapped(conn: asyncpg.Connection) -> T:
            try:
                return await op(conn)
            except Exception as exc:
                driver = _driver_error(exc)
                if driver is not None and driver is not exc and self._link.lost(driver):
                    raise driver from exc
                raise

        try:
            return await self._guarded("CORE", unwrapped)
        except BaseException:
            if self._open:
                self._failed = True
            raise

    async def _guarded(self, verb: str, op: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """`op` on the live connection. A connection lost on the way is dropped and DatabaseUnavailable
        raised; inside a transaction so is every later statement until the transaction's end (a
        ROLLBACK then succeeds at once: the server rolled it back when the connection went)."""
        rollback = verb.startswith("ROLLBACK") and not verb.startswith("ROLLBACK TO")  # not a savepoint's
        ends = rollback or verb.startswith("COMMIT")
        if self._doomed:
            if ends:
                self._doomed = False
                if rollback:
                    return cast(T, PgCursor([], -1, None))
            raise DatabaseUnavailable("the connection to the database was lost: the transaction was not committed")
        in_transaction = self._open
        try:
            conn = self._link.current if in_transaction else await self._link.live()
            if conn is None:
                raise asyncpg.InterfaceError("connection is closed")
            result = await op(conn)
        except BaseException as exc:
            if ends:
                self._open = False
            if not self._link.lost(exc):
                raise
            self._open = False
            if in_transaction and not ends:
                self._doomed = True
            elif in_transaction and rollback:  # done by the server when the connection went
                return cast(T, PgCursor([], -1, None))
            raise DatabaseUnavailable(f"the connection to the database was lost ({type(exc).__name__}: {exc}); "
                                      "nothing of the transaction was committed") from exc
        if ends:
            self._open = False
        elif verb.startswith("BEGIN"):
            self._open = True
        return result

    async def _statement(self, conn: asyncpg.Connection, text: str, verb: str, args: list[Any]) -> PgCursor:
        try:
            if verb.startswith(_RETURNS_ROWS):
                return PgCursor(await conn.fetch(text, *args), -1, None)
            if _RETURNING.search(text):
                rows = await conn.fetch(text, *args)
                self.total_changes += len(rows)
                return PgCursor(rows, len(rows), None)
            insert = _INSERT.match(text)
            if insert and insert[1].lower() in await self._identity_tables(conn):
                ids = await conn.fetch(text + " RETURNING id", *args)
                self.total_changes += len(ids)
                return PgCursor([], len(ids), int(ids[-1][0]) if ids else None)
            status = await conn.execute(text, *args)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise sqlite3.IntegrityError(_sqlite_wording(exc)) from exc
        except GONE:  # the connection, not the statement: _guarded says so
            raise
        except asyncpg.PostgresError as exc:  # as SQLite's errors are; the statement as sent, for the log
            error = sqlite3.OperationalError(f"{type(exc).__name__}: {exc}")
            error.add_note(f"SQL: {text}")
            raise error from exc
        if verb.startswith(_SCHEMA):
            self._identity = None
        count = _count(status)
        if verb.startswith(("INSERT", "UPDATE", "DELETE")):
            self.total_changes += count
        return PgCursor([], count, None)

    async def _identity_tables(self, conn: asyncpg.Connection) -> set[str]:
        if self._identity is None:
            rows = await conn.fetch(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND column_name = 'id' AND is_identity = 'YES'")
            self._identity = {row[0] for row in rows}
        return self._identity


async def _pragma(conn: asyncpg.Connection, statements: Sequence[str]) -> PgCursor:
    rows: list[asyncpg.Record] = []
    for statement in statements:
        rows = await conn.fetch(statement)
    return PgCursor(rows, -1, None)


def _driver_error(exc: BaseException) -> BaseException | None:
    """asyncpg's own error behind SQLAlchemy's wrapping of it (`orig`, then the causes), if any."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return None
        if isinstance(seen, asyncpg.PostgresError | asyncpg.InterfaceError | OSError):
            return seen
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return None


def _params(params: Iterable[Any] | Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
    return params if isinstance(params, Mapping) else tuple(params)


def _count(status: str) -> int:
    """The rows a command changed, from its status ("UPDATE 3", "INSERT 0 1")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


def _sqlite_wording(exc: asyncpg.IntegrityConstraintViolationError) -> str:
    table = getattr(exc, "table_name", None) or ""
    if isinstance(exc, asyncpg.UniqueViolationError):
        found = _KEY.search(getattr(exc, "detail", None) or "")
        columns = [c.strip() for c in found[1].split(",")] if found else [getattr(exc, "constraint_name", "")]
        return "UNIQUE constraint failed: " + ", ".join(f"{table}.{c}" for c in columns)
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return "FOREIGN KEY constraint failed"
    if isinstance(exc, asyncpg.NotNullViolationError):
        return f"NOT NULL constraint failed: {table}.{getattr(exc, 'column_name', '')}"
    if isinstance(exc, asyncpg.CheckViolationError):
        return f"CHECK constraint failed: {getattr(exc, 'constraint_name', '')}"
    return str(exc)


class SyncCursor:
    def __init__(self, cursor: PgCursor) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    def fetchone(self) -> asyncpg.Record | None:
        return self._cursor.fetchone_now()

    def fetchall(self) -> list[asyncpg.Record]:
        return self._cursor.fetchall_now()

    def __iter__(self) -> Iterator[asyncpg.Record]:
        return iter(self._cursor.fetchall_now())


class SyncBridge:
    """sqlite3.Connection's calls the group-committed writes make, from a worker thread: each is run on
    the event loop and waited for."""

    def __init__(self, conn: PgConnection, loop: asyncio.AbstractEventLoop) -> None:
        self._async = conn
        self._loop = loop

    def _wait(self, coro: Awaitable[T]) -> T:
        async def run() -> T:
            return await coro
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result()

    @property
    def in_transaction(self) -> bool:
        return self._async.in_transaction

    @property
    def total_changes(self) -> int:
        return self._async.total_changes

    def execute(self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> SyncCursor:
        return SyncCursor(self._wait(self._async._run(sql, _params(params))))

    def executemany(self, sql: str, seq: Iterable[Iterable[Any] | Mapping[str, Any]]) -> SyncCursor:
        rows = [_params(p) for p in seq]  # built on this thread: a generator may read Python state
        return SyncCursor(self._wait(self._async.executemany(sql, rows)))


async def connect(url: str) -> PgConnection:
    conn = await _open(url)
    # CREATE TABLE IF NOT EXISTS is not safe against a second process doing the same at once (both see
    # no table, one fails on the catalog's unique index): the migrations' advisory lock serialises it
    async with conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock({dialect.MIGRATION_LOCK})")
        await conn.execute(dialect.SCHEMA_VERSION_TABLE)
    return PgConnection(Link(lambda: _open(url), conn))


async def _open(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url, statement_cache_size=2048)
    await conn.set_type_codec("numeric", encoder=str, decoder=_numeric, schema="pg_catalog", format="text")
    return conn

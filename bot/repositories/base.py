"""What every repository shares: the store's core members it uses (implemented by bot.store.Store),
the store's errors, and small helpers for statements run inside a transaction.

A repository is a mixin over this base: it holds SQL and turns rows into dataclasses; the
connection, the lock, the transactions, the group commit and the caches belong to the Store.

Two ways of writing a repository's SQL, while the data layer moves to SQLAlchemy Core:
- Core (points, users, ranking, quizzes): a synchronous `fn(conn: sqlalchemy.Connection)` run by `_q` (a read),
  `_write` (a transaction of its own), `_in_tx` (inside a `_tx` block) or `_batched` (the group commit),
  on the store's own connection and transactions (bot/db/engine.py), unchanged on both backends;
- SQL strings in SQLite's dialect, rewritten for PostgreSQL by bot/dialect.py: `_one`, `_all`, `_tx`'s
  connection, `_write_batched`."""
from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Hashable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

import aiosqlite
from sqlalchemy import Connection

T = TypeVar("T")

MISSING: Any = object()  # a cache's "no entry" (None is a value: "no such row")


class StoreError(Exception):
    pass


class DatabaseUnavailable(StoreError):
    """The database cannot be reached now (PostgreSQL restarting, failing over, the network away): the
    statement's transaction was not committed, nothing of it was written. The next use tries to
    reconnect; callers treat it as "later", never as a bug."""


class Conflict(StoreError):
    """A uniqueness rule said no; `what` names it (e.g. "phone", "id_number")."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class Cache(Protocol):
    """The store's bounded write-through read caches (bot.store._Lru)."""

    def get(self, key: Hashable, default: Any = None) -> Any: ...

    def put(self, key: Hashable, value: Any) -> None: ...

    def drop(self, *keys: Hashable) -> None: ...

    def clear(self) -> None: ...


class Repository:
    """The core members the repositories use, declared for the type checker; bot.store.Store
    implements the abstract ones (its connection, lock, transactions and group commit)."""

    _db: aiosqlite.Connection
    _lock: asyncio.Lock
    _users: Cache      # user id -> User | None (None: no row yet)
    _admins: Cache     # user id -> (admin org ids, main admin org ids)
    _attempts: Cache   # quiz attempt id -> (AttemptHead, {position: QuizItem}), the whole attempt
    _questions: Cache  # question id -> Question (a question's text and answer never change once stored)
    strict_pushes: bool  # pushes only inside an atomic() block (tests)
    caching: bool  # False: no read caches (other processes write the database too)

    def _tx(self, *, users: Iterable[int] = (), admins: bool = False, attempts: Iterable[int] = (),
            bank: bool = False) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        raise NotImplementedError

    def _in_atomic(self) -> bool:
        """Whether the current task is inside the store's atomic() block."""
        raise NotImplementedError

    async def _write_batched(self, write: Callable[[sqlite3.Connection], T], after: Callable[[T], None]) -> T:
        raise NotImplementedError

    async def _batched(self, write: Callable[[Connection], T], after: Callable[[T], None]) -> T:
        raise NotImplementedError

    async def _q(self, fn: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    async def _in_tx(self, fn: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    async def _write(self, fn: Callable[[Connection], T], *, users: Iterable[int] = (), admins: bool = False,
                     attempts: Iterable[int] = (), bank: bool = False) -> T:
        raise NotImplementedError

    async def _one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        raise NotImplementedError

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        raise NotImplementedError

    async def _value(self, sql: str, params: Iterable[Any] = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = await self._one(sql, params)
        return None if row is None else row[0]


def nothing(_result: object) -> None:
    """A batched write that no cache follows."""


async def fetch_one(db: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
    async with db.execute(sql, tuple(params)) as cur:
        return await cur.fetchone()


async def fetch_row(db: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row:
    """A row the transaction knows is there (it just changed it, or checked it)."""
    row = await fetch_one(db, sql, params)
    if row is None:
        raise StoreError(f"row expected: {sql}")
    return row


async def fetch_value(db: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> Any:
    return (await fetch_row(db, sql, params))[0]


def last_id(cur: aiosqlite.Cursor) -> int:
    """The id an INSERT just gave its row."""
    if cur.lastrowid is None:
        raise StoreError("no row inserted")
    return cur.lastrowid


def marks(values: Iterable[Any]) -> str:
    """`?, ?, ?` for an IN list."""
    return ",".join("?" for _ in values)


def like_pattern(text: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching `text` anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"

"""Which unique key a failed INSERT or UPDATE written in Core ran into: by the exception's type and the
key's name, never by the wording of its message.

- PostgreSQL names the key: SQLAlchemy's IntegrityError wraps asyncpg's UniqueViolationError (its
  `__cause__`), whose `constraint_name` is the unique constraint or unique index. A database made by
  bot/migrations.py carries PostgreSQL's own names for unnamed constraints (`users_phone_key`), the
  metadata's naming convention others (`uq_users_phone`): a key lists every name it may have.
- SQLite reports no name. Its extended error code says that a UNIQUE (or PRIMARY KEY) constraint
  failed (`sqlite_errorcode`, SQLITE_CONSTRAINT_UNIQUE); which one is then asked of the data: SQLite
  undid the failed statement alone, so the key's probe (a SELECT finding a row that already holds the
  value) runs in the same transaction. Naming SQLite's indexes would not help: its message names
  columns, not indexes.
On PostgreSQL the failed statement has spoilt the transaction: the caller leaves it (raises), as every
Conflict does.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import Executable

_SQLITE_UNIQUE = {sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY}


@dataclass(frozen=True)
class UniqueKey:
    names: tuple[str, ...]  # the constraint's or unique index's names on PostgreSQL
    probe: Executable  # SQLite: finds a row holding the value, with the failed statement's parameters


def unique_conflict(conn: Connection, exc: IntegrityError, key: UniqueKey, params: Mapping[str, Any]) -> bool:
    """Whether `exc` is a violation of `key` (raised by a statement with `params` on `conn`)."""
    if conn.dialect.name == "postgresql":
        cause = exc.orig.__cause__ if exc.orig is not None else None
        return isinstance(cause, asyncpg.UniqueViolationError) and cause.constraint_name in key.names
    if getattr(exc.orig, "sqlite_errorcode", None) not in _SQLITE_UNIQUE:
        return False
    return conn.execute(key.probe, params).first() is not None

"""Where the two backends differ, said where a Core statement needs it (nothing is rewritten at run time).

- INSERT ... ON CONFLICT is each dialect's own construct (sqlite.insert, postgresql.insert:
  the same `on_conflict_do_update` / `on_conflict_do_nothing` and `excluded`); a statement built by
  `per_dialect` exists once per backend, built once, and `pick(conn, ...)` takes the connection's.
- `SortText`: a text whose NUL (bot/repositories/names.sort_key's separator) is stored as U+0001 on
  PostgreSQL, whose text holds no NUL (the next lowest character sorts alike), as it always was.
- `unique_conflict`: which unique key a failed INSERT or UPDATE ran into (bot/db/conflicts.py).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

from bot.db.base import TEXT

S = TypeVar("S")


def upsert_builders() -> dict[str, Callable[[Table], Any]]:
    return {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def per_dialect(build: Callable[[Callable[[Table], Any]], S]) -> dict[str, S]:
    """`build(insert)` once with each dialect's insert: {dialect name: statement}."""
    return {name: build(insert) for name, insert in upsert_builders().items()}


def pick(conn: Connection, statements: dict[str, S]) -> S:
    """The statement of the connection's backend."""
    return statements[conn.dialect.name]


class SortText(TypeDecorator[str]):
    """names.sort_key's text: NUL, its separator, is U+0001 on PostgreSQL (no NUL in its text)."""

    impl = TEXT
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is not None and dialect.name == "postgresql":
            return value.replace("\x00", "\x01")
        return value

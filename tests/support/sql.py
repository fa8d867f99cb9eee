"""What a test reads back from the database: rows as tuples."""
from __future__ import annotations

import sqlite3

from bot.store import Store
from tests.support.pg import CURRENT, committed


def file_rows(settings, sql: str, *params) -> list[tuple]:
    """Through a connection of its own to the database file (as any other reader would see it)."""
    if CURRENT.get("url"):  # the test's store is on PostgreSQL (tests/conftest.py `database`)
        return committed(CURRENT["url"], sql, params)
    db = sqlite3.connect(settings.database_path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


async def store_rows(store: Store, sql: str, *params) -> list[tuple]:
    """Through the store's own connection."""
    return [tuple(r) for r in await store._all(sql, params)]

"""bot/db/engine.py: a statement written once in SQLAlchemy Core runs on the store's own connection, in the
store's own transactions, on both backends: it commits and rolls back with the statements of repositories
still written as SQL strings, keeps their savepoints, joins their group commit (one thread trip for a
whole batch on SQLite), and reaches PostgreSQL as SQLAlchemy compiled it (bot/dialect.py is not asked)."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from bot import dialect
from bot.db.tables_orgs import users
from bot.models import User
from bot.repositories.base import nothing
from tests.support.sql import file_rows

NOW = "2026-11-23T09:00:00+08:00"


def visitor(user_id: int) -> User:
    return User(id=user_id, first_name="王", last_name=None, username=None, tg_language="zh", language=None,
                phone=None, name=None, org_name=None, registered_at=None, real_name=None, id_masked=None,
                verified_at=None)


def add_user(user_id: int) -> Any:
    def write(conn: Connection) -> None:
        conn.execute(insert(users).values(id=user_id, first_name="李", created_at=NOW, updated_at=NOW))
    return write


class Boom(Exception):
    pass


async def test_a_core_write_commits_with_the_string_writes_of_its_atomic_block(store, settings):
    async with store.atomic():
        await store.set_language(visitor(7), "en", NOW)  # a repository still written in SQL strings
        await store._write(add_user(8))
    assert file_rows(settings, "SELECT id FROM users ORDER BY id") == [(7,), (8,)]


async def test_a_core_write_rolls_back_with_the_string_writes_of_its_atomic_block(store, settings):
    with pytest.raises(Boom):
        async with store.atomic():
            await store._write(add_user(8))
            await store.set_language(visitor(7), "en", NOW)
            raise Boom
    assert file_rows(settings, "SELECT id FROM users") == []


async def test_a_failed_savepoint_undoes_only_its_own_core_and_string_writes(store, settings):
    async with store.atomic():
        await store._write(add_user(8))
        with pytest.raises(Boom):
            async with store._tx() as db:  # a savepoint of the block's transaction
                await db.execute("INSERT INTO users (id, first_name, created_at, updated_at) VALUES (9, 'x', ?, ?)",
                                 (NOW, NOW))
                await store._in_tx(add_user(10))
                raise Boom
        await store.set_language(visitor(7), "en", NOW)
    assert file_rows(settings, "SELECT id FROM users ORDER BY id") == [(7,), (8,)]


async def test_the_group_commit_runs_core_and_string_writes_in_one_transaction(store, settings):
    def string_write(conn: Any) -> None:
        conn.execute("INSERT INTO users (id, first_name, created_at, updated_at) VALUES (3, 'x', ?, ?)", (NOW, NOW))

    def failing(conn: Connection) -> None:  # the database refuses it (the id is taken): the batch goes on
        conn.execute(insert(users).values(id=4, first_name="x", created_at=NOW, updated_at=NOW))
        conn.execute(insert(users).values(id=1, first_name="x", created_at=NOW, updated_at=NOW))

    def count(conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    await store._q(count)  # the runner is made on first use: not part of the batch's trips
    trips = _count_thread_trips(store)
    results = await asyncio.gather(store._batched(add_user(1), nothing), store._batched(add_user(2), nothing),
                                   store._write_batched(string_write, nothing), store._batched(failing, nothing),
                                   store._batched(count, nothing), return_exceptions=True)
    assert isinstance(results[3], IntegrityError)  # its savepoint undid it alone
    assert results[4] == 3
    assert file_rows(settings, "SELECT id FROM users ORDER BY id") == [(1,), (2,), (3,)]
    if trips is not None:
        assert trips == [1]  # SQLite: the whole batch in one trip to aiosqlite's thread


async def test_a_core_statement_reaches_postgresql_as_compiled(store, monkeypatch):
    translated: list[str] = []
    translate = dialect.translate

    def recorded(sql: str, params: Any) -> Any:
        translated.append(sql.split()[0].upper())
        return translate(sql, params)

    monkeypatch.setattr(dialect, "translate", recorded)
    await store._write(add_user(5))
    assert await store._q(lambda conn: conn.execute(select(users.c.id, users.c.first_name)).all()) == [(5, "李")]
    # only the store's own transaction statements still pass through it (PostgreSQL), no INSERT nor SELECT
    assert set(translated) <= {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


def _count_thread_trips(store: Any) -> list[int] | None:
    """On SQLite, a counter of the calls to aiosqlite's thread (None on PostgreSQL)."""
    if not hasattr(store._db, "_execute") or type(store._db).__name__ != "Connection":
        return None
    trips = [0]
    execute = store._db._execute

    def counted(fn: Any) -> Any:
        trips[0] += 1
        return execute(fn)

    store._db._execute = counted
    return trips


async def test_a_unique_conflict_is_told_by_its_key_not_its_message(store):
    from bot.db.conflicts import unique_conflict
    from bot.repositories.users import _ID_NUMBER, _PHONE

    await store._write(lambda conn: conn.execute(insert(users).values(
        id=1, phone="+861", id_hash="h1", created_at=NOW, updated_at=NOW)))

    def second(conn: Connection) -> tuple[bool, bool]:
        try:
            conn.execute(insert(users).values(id=2, phone="+861", id_hash="h2", created_at=NOW, updated_at=NOW))
        except IntegrityError as exc:
            params = {"id": 2, "phone": "+861", "id_hash": "h2"}
            return unique_conflict(conn, exc, _PHONE, params), unique_conflict(conn, exc, _ID_NUMBER, params)
        raise AssertionError("no conflict")

    with pytest.raises(Boom):  # the transaction is left, as a Conflict leaves it
        async with store._tx():
            assert await store._in_tx(second) == (True, False)
            raise Boom
    assert await store._q(lambda conn: conn.execute(select(users.c.id)).scalars().all()) == [1]  # usable after


async def test_learn_3_a_second_scored_weekly_attempt_is_told_by_its_unique_index(store):
    from bot.store import Conflict

    await store.set_language(visitor(7), "zh", NOW)
    first = await store.create_attempt(7, "weekly", "2026-11-23", [], NOW, period="2026-W48", scope=0)
    with pytest.raises(Conflict) as raised:
        await store.create_attempt(7, "weekly", "2026-11-23", [], NOW, period="2026-W48", scope=0)
    assert raised.value.what == "weekly_scored"
    unscored = await store.create_attempt(7, "weekly", "2026-11-23", [], NOW, period="2026-W48", scope=0,
                                          scored=False)  # practice of the same week: no conflict
    assert (await store.scored_weekly(7, "2026-W48")).id == first != unscored

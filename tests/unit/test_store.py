import asyncio
import sqlite3

from aiogram.fsm.storage.base import StorageKey

from bot.db.migrations import head
from bot.fsm_storage import StoreStorage
from bot.store import Store
from tests.support.pg import committed


async def test_migrations_run_once_and_set_version(database, backend):
    store = await Store.open(database)
    assert await store.schema_version() == head()
    await store.close()
    store = await Store.open(database)  # second start: nothing to do, no error
    assert await store.schema_version() == head()
    await store.close()
    if backend != "sqlite":
        return
    conn = sqlite3.connect(database)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_processes_starting_at_once_on_a_new_database_migrate_it_once(backend, tmp_path, pg_server, monkeypatch):
    """Several bot processes started together on an empty database (issue 17): each opens it, one runs
    the migrations, none fails on another's half-made schema. On PostgreSQL every connection is held
    until all six are made, so that their first statements meet (CREATE TABLE IF NOT EXISTS is not
    safe against itself there: without the migrations' advisory lock around it, some fail)."""
    database = tmp_path / "new.sqlite3" if backend == "sqlite" else await pg_server.blank_database()
    if backend == "pg":
        import asyncpg

        connect, meet = asyncpg.connect, asyncio.Barrier(6)

        async def together(*args, **kwargs):
            conn = await connect(*args, **kwargs)
            await meet.wait()
            return conn

        monkeypatch.setattr(asyncpg, "connect", together)
    stores = await asyncio.gather(*(Store.open(database) for _ in range(6)))
    monkeypatch.undo()
    assert [await s.schema_version() for s in stores] == [head()] * 6
    assert committed(database, "SELECT version_num FROM alembic_version") == [(head(),)]
    for s in stores:
        await s.close()


async def test_visitor_is_not_stored_until_they_choose_a_language(store, clock):
    from bot.services.users import choose_language, touch_user

    u = await touch_user(store, clock, 5, "A", None, "a", "zh")
    assert (u.first_name, u.registered) == ("A", False) and await store.get_user(5) is None
    await choose_language(store, clock, u, "en", ["zh", "en"])
    assert (await store.get_user(5)).language == "en"
    u = await touch_user(store, clock, 5, "B", "C", None, "en")
    stored = await store.get_user(5)
    assert (stored.first_name, stored.last_name, stored.username, stored.language) == ("B", "C", None, "en")


async def test_fsm_state_survives_reopen(database):
    key = StorageKey(bot_id=1, chat_id=2, user_id=2)
    store = await Store.open(database)
    storage = StoreStorage(store)
    await storage.set_state(key, "Reg:name")
    await storage.set_data(key, {"phone": "+8613800000001", "名字": "张"})
    await store.close()
    store = await Store.open(database)
    storage = StoreStorage(store)
    assert await storage.get_state(key) == "Reg:name"
    assert await storage.get_data(key) == {"phone": "+8613800000001", "名字": "张"}
    await storage.set_state(key, None)
    await storage.set_data(key, {})
    assert await storage.get_state(key) is None and await storage.get_data(key) == {}
    await store.close()


async def test_failed_transaction_leaves_nothing(store):
    import pytest

    with pytest.raises(RuntimeError):
        async with store.raw_tx() as db:
            await db.execute("INSERT INTO users (id, first_name, created_at, updated_at) VALUES (9, 'x', 'n', 'n')")
            raise RuntimeError("half way")
    assert await store.get_user(9) is None


async def test_fsm_cache_serves_what_a_cold_read_would(database, backend):
    store = await Store.open(database)
    storage = StoreStorage(store, cache_size=1)  # a tiny cache: every other read is cold
    keys = [StorageKey(bot_id=1, chat_id=n, user_id=n) for n in (2, 3)]
    for n, key in enumerate(keys):
        await storage.set_state(key, f"Quiz:q{n}")
        await storage.set_data(key, {"pos": n, "picked": (1, 2)})
    reads = []
    original = store.fsm_get

    async def counting(key):
        reads.append(key)
        return await original(key)

    store.fsm_get = counting
    for n, key in enumerate(keys):
        assert await storage.get_state(key) == f"Quiz:q{n}"
        data = await storage.get_data(key)
        assert data == {"pos": n, "picked": [1, 2]}
        data["pos"] = 99  # a caller's change does not leak into the cache
        assert (await storage.get_data(key))["pos"] == n
    # one cold read per key, then cached; on PostgreSQL other processes write too: every read is cold
    assert len(reads) == (2 if backend == "sqlite" else 6)
    cold = StoreStorage(store)
    assert [await cold.get_data(k) for k in keys] == [await storage.get_data(k) for k in keys]
    await store.close()


def test_public_store_methods_return_typed_rows_not_dicts_or_sqlite_rows():
    """Services read rows by attribute: a public read returns a slotted dataclass, a list of them or a
    primitive; the FSM's own data (aiogram's dict) is the one mapping of arbitrary values."""
    import dataclasses
    import inspect
    import typing

    offenders = []
    for name, method in inspect.getmembers(Store, inspect.iscoroutinefunction):
        if name.startswith("_") or name == "fsm_get":
            continue
        returned = typing.get_type_hints(method)["return"]
        text = repr(returned)
        if "sqlite3.Row" in text or "dict[str, typing.Any]" in text:
            offenders.append(f"{name}: {text}")
        for part in _parts(returned):
            if dataclasses.is_dataclass(part) and part.__module__.startswith("bot.repositories"):
                assert hasattr(part, "__slots__") and part.__dataclass_params__.frozen, part
    assert not offenders, offenders


def _parts(annotation):
    import typing

    yield annotation
    for arg in typing.get_args(annotation):
        yield from _parts(arg)


async def test_a_constraint_error_leaves_the_transaction_and_nothing_of_it_is_kept(store):
    """On both backends: the store's error, and the transaction's earlier writes are gone. (PostgreSQL
    spoils a transaction at its first failed statement: a COMMIT after it is an error, not a silent
    ROLLBACK.)"""
    import sqlite3

    import pytest

    async with store.raw_tx() as db:
        await db.execute("INSERT INTO users (id, first_name, phone, created_at, updated_at) "
                         "VALUES (1, 'a', '+8613800000001', 'n', 'n')")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: users.phone"):
        async with store.raw_tx() as db:
            await db.execute("INSERT INTO users (id, first_name, created_at, updated_at) VALUES (2, 'b', 'n', 'n')")
            await db.execute("INSERT INTO users (id, first_name, phone, created_at, updated_at) "
                             "VALUES (3, 'c', '+8613800000001', 'n', 'n')")
    with pytest.raises(sqlite3.Error):
        async with store.raw_tx() as db:
            await db.execute("INSERT INTO users (id, first_name, created_at, updated_at) VALUES (4, 'd', 'n', 'n')")
            try:
                await db.execute("INSERT INTO users (id, first_name, created_at, updated_at) VALUES (1, 'e', 'n', 'n')")
            except sqlite3.IntegrityError:
                pass  # SQLite goes on (and then this test's last statement fails: no such table)
            await db.execute("SELECT * FROM no_such_table")
    assert [r[0] for r in await store._all("SELECT id FROM users ORDER BY id")] == [1]

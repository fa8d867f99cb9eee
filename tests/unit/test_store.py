import sqlite3

from aiogram.fsm.storage.base import StorageKey

from bot.fsm_storage import StoreStorage
from bot.store import MIGRATIONS, Store


async def test_migrations_run_once_and_set_version(settings):
    store = await Store.open(settings.database_path)
    assert await store.schema_version() == len(MIGRATIONS)
    await store.close()
    store = await Store.open(settings.database_path)  # second start: nothing to do, no error
    assert await store.schema_version() == len(MIGRATIONS)
    await store.close()
    conn = sqlite3.connect(settings.database_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_visitor_is_not_stored_until_they_choose_a_language(store, clock):
    from bot.services.users import choose_language, touch_user

    u = await touch_user(store, clock, 5, "A", None, "a", "zh")
    assert (u.first_name, u.registered) == ("A", False) and await store.get_user(5) is None
    await choose_language(store, clock, u, "en", ["zh", "en"])
    assert (await store.get_user(5)).language == "en"
    u = await touch_user(store, clock, 5, "B", "C", None, "en")
    stored = await store.get_user(5)
    assert (stored.first_name, stored.last_name, stored.username, stored.language) == ("B", "C", None, "en")


async def test_fsm_state_survives_reopen(settings):
    key = StorageKey(bot_id=1, chat_id=2, user_id=2)
    store = await Store.open(settings.database_path)
    storage = StoreStorage(store)
    await storage.set_state(key, "Reg:name")
    await storage.set_data(key, {"phone": "+8613800000001", "名字": "张"})
    await store.close()
    store = await Store.open(settings.database_path)
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
        async with store._tx() as db:
            await db.execute("INSERT INTO users (id, first_name, created_at, updated_at) VALUES (9, 'x', 'n', 'n')")
            raise RuntimeError("half way")
    assert await store.get_user(9) is None

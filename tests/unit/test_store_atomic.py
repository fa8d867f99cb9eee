"""Store.atomic(): one write transaction for a whole action and the pushes it causes (DESIGN "Pushes").
What a cold reader of the database file sees after a commit or a rollback, what the caches say, and
that other tasks wait for the block instead of joining it or deadlocking."""
from __future__ import annotations

import asyncio

import pytest

from bot.models import User
from bot.outbox import text_push
from bot.store import Store, StoreError
from tests.support import pg as pg_support

NOW = "2026-11-23T09:00:00+08:00"
WAIT = 5.0  # seconds: a deadlock becomes a failure, not a hung suite


def visitor(user_id: int) -> User:
    return User(id=user_id, first_name="王", last_name=None, username=None, tg_language="zh", language=None,
                phone=None, name=None, org_name=None, registered_at=None, real_name=None, id_masked=None,
                verified_at=None)


async def cold(settings, sql: str) -> list[tuple]:
    """A query through a second store on the same database (the file, or the PostgreSQL database)."""
    other = await Store.open(pg_support.CURRENT.get("url") or settings.database_path)
    try:
        return [tuple(r) for r in await other._all(sql)]
    finally:
        await other.close()


class Boom(Exception):
    pass


async def test_a_push_outside_an_action_transaction_is_refused_in_tests(store, settings):
    with pytest.raises(StoreError, match="outside the transaction"):
        await store.enqueue_pushes([text_push(1, "x")], NOW)
    async with store.atomic():
        assert await store.enqueue_pushes([text_push(1, "x")], NOW) == 1
    assert await cold(settings, "SELECT chat_id FROM outbox") == [(1,)]


async def test_writes_and_pushes_commit_together(store, settings):
    async with store.atomic():
        await store.set_language(visitor(7), "en", NOW)  # a _tx of its own, joined
        async with store.atomic():  # a nested block joins too
            await store.enqueue_pushes([text_push(7, "hello", dedupe_key="k7")], NOW)
        assert (await store.get_user(7)).language == "en"  # the block reads its own writes
    assert await cold(settings, "SELECT id, language FROM users") == [(7, "en")]
    assert await cold(settings, "SELECT chat_id, dedupe_key FROM outbox") == [(7, "k7")]


async def test_an_error_undoes_the_action_and_its_pushes_and_the_caches_forget(store, settings):
    await store.set_language(visitor(8), "zh", NOW)
    with pytest.raises(Boom):
        async with store.atomic():
            await store.set_language(visitor(7), "en", NOW)
            await store.set_language(await store.get_user(8), "en", NOW)
            assert (await store.get_user(7)).language == "en"  # now cached, uncommitted
            assert (await store.get_user(8)).language == "en"
            await store.enqueue_pushes([text_push(7, "hello")], NOW)
            raise Boom
    assert await store.get_user(7) is None  # not the cached row that was never committed
    assert (await store.get_user(8)).language == "zh"
    assert await cold(settings, "SELECT id, language FROM users") == [(8, "zh")]
    assert await cold(settings, "SELECT COUNT(*) FROM outbox") == [(0,)]
    # the store is usable afterwards
    async with store.atomic():
        await store.set_language(visitor(7), "en", NOW)
    assert await cold(settings, "SELECT id FROM users ORDER BY id") == [(7,), (8,)]


async def test_a_failed_inner_transaction_is_undone_alone_when_the_block_goes_on(store, settings):
    async with store.atomic():
        await store.set_language(visitor(7), "en", NOW)
        with pytest.raises(Boom):
            async with store.raw_tx() as db:
                await db.execute("INSERT INTO unreachable_users (user_id, since, last_error) VALUES (9, ?, 'x')",
                                 (NOW,))
                raise Boom
        await store.enqueue_pushes([text_push(7, "hello")], NOW)
    assert await cold(settings, "SELECT id FROM users") == [(7,)]
    assert await cold(settings, "SELECT COUNT(*) FROM unreachable_users") == [(0,)]
    assert await cold(settings, "SELECT chat_id FROM outbox") == [(7,)]


async def test_reads_inside_the_block_do_not_wait_for_it(store):
    async def reads() -> None:
        async with store.atomic():
            await store.set_language(visitor(7), "en", NOW)
            assert await store.push_counts() == {}          # _all
            assert await store.next_push_at() is None        # _one
            assert await store.memberships("+8613800000007") == []  # a repository holding the lock itself
            assert await store.unreachable_among([7]) == set()

    await asyncio.wait_for(reads(), WAIT)


async def test_another_task_waits_for_the_commit_then_writes(store, settings):
    inside, release = asyncio.Event(), asyncio.Event()

    async def action() -> None:
        async with store.atomic():
            await store.set_language(visitor(7), "en", NOW)
            inside.set()
            await release.wait()
            # a task spawned inside inherits nothing: it waits for this block like any other
            spawned = asyncio.create_task(store.set_language(visitor(9), "en", NOW))
            await asyncio.sleep(0.05)
            assert not spawned.done()
        await asyncio.wait_for(spawned, WAIT)

    holder = asyncio.create_task(action())
    await inside.wait()
    other = asyncio.create_task(store.set_language(visitor(8), "zh", NOW))
    reader = asyncio.create_task(store.push_counts())
    await asyncio.sleep(0.05)
    assert not other.done() and not reader.done()  # both wait for the block's lock
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, other, reader), WAIT)
    assert await cold(settings, "SELECT id FROM users ORDER BY id") == [(7,), (8,), (9,)]


async def test_group_committed_writes_inside_the_block_join_it(store, settings):
    async with store.raw_tx() as db:
        await db.execute("INSERT INTO outbox (chat_id, kind, payload, next_attempt_at, created_at) "
                         "VALUES (5, 'text', '{}', ?, ?)", (NOW, NOW))

    async def undone() -> None:
        async with store.atomic():
            await store.mark_unreachable(1, 5, "Forbidden", NOW)  # a group-committed write
            assert await store.unreachable_among([5]) == {5}
            raise Boom

    with pytest.raises(Boom):
        await asyncio.wait_for(undone(), WAIT)  # around the block: wait_for runs it in a task of its own
    assert await store.unreachable_among([5]) == set()  # the cached set forgot the undone write
    assert await cold(settings, "SELECT status FROM outbox") == [("pending",)]

    async def done() -> None:
        async with store.atomic():
            await store.mark_push_sent(1, 42, NOW)
            await store.enqueue_pushes([text_push(5, "next")], NOW)

    await asyncio.wait_for(done(), WAIT)
    assert await cold(settings, "SELECT id, status, message_id FROM outbox ORDER BY id") == [
        (1, "sent", 42), (2, "pending", None)]


async def test_a_group_committed_write_that_fails_inside_the_block_is_undone_alone(store, settings):
    def bad(conn):
        conn.execute("INSERT INTO unreachable_users (user_id, since, last_error) VALUES (3, ?, 'x')", (NOW,))
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    async def block() -> None:
        async with store.atomic():
            await store.set_language(visitor(7), "en", NOW)
            with pytest.raises(Exception, match="no_such_table"):
                await store._write_batched(bad, lambda _: None)

    await asyncio.wait_for(block(), WAIT)
    assert await cold(settings, "SELECT id FROM users") == [(7,)]
    assert await cold(settings, "SELECT COUNT(*) FROM unreachable_users") == [(0,)]

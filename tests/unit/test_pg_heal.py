"""The PostgreSQL store survives a restart of its server (`pg_ctl -m fast stop`, then start) without a
restart of the bot: while the server is away each statement fails at once with DatabaseUnavailable
(nothing of its transaction committed), and the first statement after the server's return works on a
new connection; LISTEN channels come back with it; one log line at the outage's start, one at its end.

Each test stops and starts a server of its own (tests/support/pg.PgServer), so it runs only where the
PostgreSQL server programs are (XUEXI_PG=auto or 1), not against XUEXI_PG_URL's server."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from datetime import datetime

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from bot.metrics import Metrics
from bot.pg_link import Link
from bot.repositories.base import DatabaseUnavailable
from bot.store import Store
from tests.conftest import SQLITE_ONLY, TZ
from tests.support import pg as pgsupport
from tests.support.pg import committed
from tests.support.sandbox_client import free_port
from tests.unit.test_metrics import get, tick_scheduler

NOW = datetime(2026, 10, 1, 9, 0, tzinfo=TZ)
# an update as the inbox stores it: (update_id, its JSON)
UPDATE = (1, '{"update_id": 1}')


@pytest.fixture(scope="module")
def server():
    if SQLITE_ONLY or os.environ.get("XUEXI_PG_URL"):
        pytest.skip(SQLITE_ONLY or "XUEXI_PG_URL's server is not this test's to stop")
    started = pgsupport.PgServer.start()
    yield started
    started.stop()


@pytest.fixture
async def url(server, request) -> str:
    return await server.new_database("heal_" + request.node.name.lower()[5:45])


@pytest.fixture
async def store(url):
    opened = await Store.open(url)
    opened.strict_pushes = False
    yield opened
    await opened.close()


async def stopped(server: pgsupport.PgServer) -> None:
    await asyncio.to_thread(server.pause, "fast")


async def started(server: pgsupport.PgServer) -> None:
    await asyncio.to_thread(server.resume)


async def eventually(call, seconds: float = 10.0):
    """`call()`'s result once it stops raising DatabaseUnavailable (the store reconnecting)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except DatabaseUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_a_restart_fails_statements_at_once_and_the_store_reconnects_after_it(server, store):
    await store.accept_updates([UPDATE], NOW)
    await stopped(server)
    try:
        for _ in range(3):  # fails at once, each time, with the one error type meaning "database unavailable"
            t0 = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await store.last_update_id()
            assert time.monotonic() - t0 < 6.0
    finally:
        await started(server)
    assert await eventually(store.last_update_id) == 1  # committed before the restart: there
    assert await store.accept_updates([(2, '{"update_id": 2}')], NOW) == [2]


async def test_a_transaction_cut_by_a_restart_commits_nothing_and_the_next_one_works(server, store, url):
    with pytest.raises(DatabaseUnavailable):
        async with store.atomic():
            await store.accept_updates([UPDATE], NOW)  # written inside the open transaction
            await stopped(server)
            try:
                await store.accept_updates([(2, '{"update_id": 2}')], NOW)
            finally:
                await started(server)
    assert committed(url, "SELECT update_id FROM inbox") == []  # no half-written action
    async with store.atomic():
        assert await eventually(lambda: store.accept_updates([(3, '{"update_id": 3}')], NOW)) == [3]
    assert committed(url, "SELECT update_id FROM inbox") == [(3,)]


async def test_a_group_commit_cut_by_a_restart_fails_its_writes_and_the_next_one_works(server, store, url):
    await store.accept_updates([UPDATE], NOW)
    await stopped(server)
    try:  # finish_updates is a group-committed write (the worker thread's bridge to the loop)
        results = await asyncio.gather(store.finish_updates([1], NOW), store.finish_updates([1], NOW),
                                       return_exceptions=True)
        assert all(isinstance(r, DatabaseUnavailable) for r in results), results
    finally:
        await started(server)
    assert committed(url, "SELECT done_at IS NULL FROM inbox") == [(True,)]
    await eventually(lambda: store.finish_updates([1], NOW))
    assert committed(url, "SELECT done_at IS NULL FROM inbox") == [(False,)]


async def test_listen_channels_come_back_with_the_connection(server, store, url):
    heard: list[str] = []
    assert await store.listen("outbox", lambda: heard.append("outbox"))
    await stopped(server)
    await started(server)
    await eventually(store.last_update_id)
    assert heard == ["outbox"]  # once at the reconnection: what was notified meanwhile is lost
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("NOTIFY xuexi_outbox")
    finally:
        await conn.close()
    for _ in range(50):
        if len(heard) == 2:
            break
        await asyncio.sleep(0.05)
    assert heard == ["outbox", "outbox"]


async def test_an_outage_is_logged_once_at_its_start_and_once_at_its_end(server, store, caplog):
    caplog.set_level(logging.WARNING, logger="bot.pg")
    await stopped(server)
    try:
        for _ in range(20):
            with pytest.raises(DatabaseUnavailable):
                await store.last_update_id()
    finally:
        await started(server)
    await eventually(store.last_update_id)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.pg"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("database unavailable") and lines[1].startswith("database reachable again")


class _HalfOpen:
    """A connection whose server went away unseen (a failover): open by its own account, no answer."""

    def is_closed(self) -> bool:
        return False

    async def fetchval(self, _sql: str) -> None:
        raise ConnectionResetError("connection reset by peer")

    def terminate(self) -> None:
        return None


async def test_a_connection_idle_for_a_while_is_pinged_and_replaced_when_it_does_not_answer():
    now = [0.0]
    fresh = object()

    async def connect():
        return fresh

    link = Link(connect, _HalfOpen(), ping_after=2.0, monotonic=lambda: now[0])  # type: ignore[arg-type]
    now[0] = 5.0
    assert await link.live() is fresh


async def test_healthz_is_503_with_the_reason_while_the_database_is_away_and_200_after(server, store, clock):
    scheduler = tick_scheduler()
    scheduler.start()
    metrics = Metrics(CollectorRegistry(), store, clock, scheduler)
    metrics.polled()
    port = free_port()
    runner = await metrics.serve("127.0.0.1", port)
    try:
        assert (await get(port, "/healthz"))[0] == 200
        await stopped(server)
        try:
            status, _ctype, body = await get(port, "/healthz")
        finally:
            await started(server)
        assert status == 503 and json.loads(body)["problems"] == ["database unavailable"], body
        assert json.loads(body)["database"] is False
        await eventually(store.last_update_id)
        status, _ctype, body = await get(port, "/healthz")
        assert status == 200 and json.loads(body)["database"] is True, body
    finally:
        scheduler.shutdown()
        await runner.cleanup()


async def test_a_transaction_whose_savepoint_was_rolled_back_is_still_cut_whole_by_a_restart(server, store, url):
    with pytest.raises(DatabaseUnavailable):
        async with store.atomic():
            await store.accept_updates([UPDATE], NOW)
            with pytest.raises(LookupError):
                async with store.raw_tx():  # a savepoint of the transaction, rolled back
                    raise LookupError
            await stopped(server)
            await started(server)
            await store.accept_updates([(2, '{"update_id": 2}')], NOW)  # not on a new connection, alone
    assert committed(url, "SELECT update_id FROM inbox") == []

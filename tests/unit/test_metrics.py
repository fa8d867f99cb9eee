"""Issue 16, metrics: the Prometheus endpoint scraped over HTTP (names, a fed update moving the counters,
the outbox and due-work figures read from the store at scrape time) and /healthz (bot/metrics.py)."""
from __future__ import annotations

import json
import socket
from datetime import timedelta

import aiohttp
import pytest
from aiogram import Dispatcher, F, Router
from aiogram.types import Message
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bot.errors import DomainError
from bot.handlers import errors
from bot.i18n import I18n
from bot.metrics import Metrics
from bot.polling import DurablePolling
from bot.scheduler import JobSpec, Scheduler
from tests.conftest import TZ
from tests.unit.test_inbox import start_update

NAMES = {"xuexi_updates", "xuexi_update_handling_seconds", "xuexi_update_errors", "xuexi_outbox_queue_depth",
         "xuexi_outbox_pushes", "xuexi_scheduler_lag_seconds", "xuexi_polling_alive", "xuexi_scheduler_alive"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tick_scheduler() -> Scheduler:
    """A scheduler with one job that does nothing each second (what /healthz checks is alive); not started."""
    scheduler = Scheduler(TZ)

    async def nothing() -> None:
        return None

    scheduler.add(JobSpec("tick", nothing, IntervalTrigger(seconds=1)))
    return scheduler


async def get(port: int, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, resp.headers["Content-Type"], await resp.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.mark.loose_pushes  # outbox rows as the sender finds them
async def test_the_metrics_endpoint_is_scraped_and_a_fed_update_moves_the_counters(dp, bot, store, clock):
    metrics = Metrics(CollectorRegistry(), store, clock)
    metrics.install(dp)
    port = free_port()
    runner = await metrics.serve("127.0.0.1", port)
    try:
        status, ctype, body = await get(port, "/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        assert {f.name for f in text_string_to_metric_families(body)} >= NAMES
        before = samples(body)
        assert before.get(("xuexi_updates_total", (("type", "message"),)), 0.0) == 0.0

        poller = DurablePolling(dp, bot, store, clock, observer=metrics)
        await poller.handle_batch([start_update(1001, 710001), start_update(1002, 710002)])
        await poller.drain()
        # the outbox as the store has it: two queued, one sent; a due row 30 s overdue
        now = clock.now()
        await store.enqueue_pushes([{"chat_id": 710001 + i, "payload": {"text": "x"}} for i in range(3)],
                                   now.isoformat())
        [first, *_rest] = await store.due_pushes(now.isoformat())
        await store.mark_push_sent(first.id, 1, now.isoformat())
        await store.put_due_now("test_kind", "r1", now - timedelta(seconds=30))

        after = samples((await get(port, "/metrics"))[2])
        assert after[("xuexi_updates_total", (("type", "message"),))] == 2.0
        assert after[("xuexi_update_handling_seconds_count", (("type", "message"),))] == 2.0
        assert after[("xuexi_outbox_queue_depth", ())] == 2.0
        assert after[("xuexi_outbox_pushes", (("status", "sent"),))] == 1.0
        assert after[("xuexi_outbox_pushes", (("status", "unreachable"),))] == 0.0
        assert after[("xuexi_scheduler_lag_seconds", ())] == 30.0
        assert after[("xuexi_update_errors_total", (("kind", "unexpected"),))] == 0.0
    finally:
        await runner.cleanup()


async def test_errors_reaching_the_error_handler_are_counted_by_kind(bot, store, clock):
    router = Router()

    @router.message(F.text == "/boom")
    async def boom(message: Message) -> None:
        raise RuntimeError("a bug")

    @router.message(F.text == "/no")
    async def refuse(message: Message) -> None:
        raise DomainError("not_allowed")

    dp = Dispatcher(i18n=I18n())
    dp.include_routers(router, errors.build_router())
    metrics = Metrics(CollectorRegistry(), store, clock)
    metrics.install(dp)
    poller = DurablePolling(dp, bot, store, clock, observer=metrics)
    batch = [start_update(1101, 710003, "/boom"), start_update(1102, 710003, "/no"),
             start_update(1103, 710003, "/boom")]
    await poller.handle_batch(batch)
    await poller.drain()
    got = samples((await metrics.scrape()).decode())
    assert got[("xuexi_update_errors_total", (("kind", "unexpected"),))] == 2.0
    assert got[("xuexi_update_errors_total", (("kind", "domain"),))] == 1.0
    assert got[("xuexi_updates_total", (("type", "message"),))] == 3.0


async def test_healthz_is_503_until_polling_and_the_scheduler_are_alive(store, clock):
    moments = [1000.0]
    scheduler = tick_scheduler()
    metrics = Metrics(CollectorRegistry(), store, clock, scheduler, monotonic=lambda: moments[0])
    port = free_port()
    runner = await metrics.serve("127.0.0.1", port)
    try:
        status, ctype, body = await get(port, "/healthz")
        assert status == 503 and ctype.startswith("application/json")
        assert json.loads(body)["polling"] is False and json.loads(body)["scheduler"] is False

        scheduler.start()
        metrics.polled()
        status, _ctype, body = await get(port, "/healthz")
        assert status == 200, body
        assert json.loads(body)["polling"] is True and json.loads(body)["scheduler"] is True

        moments[0] += 61  # no getUpdates answer for a minute
        status, _ctype, body = await get(port, "/healthz")
        assert status == 503 and json.loads(body)["polling"] is False and json.loads(body)["scheduler"] is True
        assert samples((await get(port, "/metrics"))[2])[("xuexi_polling_alive", ())] == 0.0

        metrics.poll_started()  # a long poll waiting for updates is alive
        assert (await get(port, "/healthz"))[0] == 200
        metrics.poll_failed()  # Telegram did not answer
        status, _ctype, body = await get(port, "/healthz")
        assert status == 503 and json.loads(body)["polling"] is False
    finally:
        scheduler.shutdown()
        await runner.cleanup()

"""Webhook mode (bot/webhook.py): aiogram's aiohttp handler, answering 200 only once the update is stored in
the durable inbox, refusing a request without the secret token, handling each update_id once and after the
answer; recovery before listening; setWebhook with the secret; healthz in webhook mode."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.methods import SendMessage, SetWebhook, TelegramMethod
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from bot.config import WebhookSettings
from bot.metrics import Metrics
from bot.webhook import SECRET_HEADER, WebhookReceiver
from tests.support.recording import RecordingSession
from tests.support.sandbox_client import free_port
from tests.unit.test_inbox import agreements, inbox_rows, sent_to, start_update
from tests.unit.test_metrics import tick_scheduler

SECRET = "unit-test-webhook-secret_0123456789"
PATH = "/telegram/webhook"


def hook(port: int = 8081) -> WebhookSettings:
    return WebhookSettings(url=f"https://bot.example.org{PATH}", secret=SECRET, host="127.0.0.1", port=port,
                           path=PATH, max_connections=7)


def body(update_id: int, user_id: int, text: str = "/start") -> str:
    return start_update(update_id, user_id, text).model_dump_json(exclude_unset=True, by_alias=True)


async def client_for(receiver: WebhookReceiver) -> TestClient:
    client = TestClient(TestServer(receiver.web_app()))
    await client.start_server()
    return client


async def running(receiver: WebhookReceiver, session: RecordingSession) -> asyncio.Task[None]:
    """receiver.run() as a task, once it listens and has set the webhook."""
    task = asyncio.create_task(receiver.run())
    for _ in range(500):
        if any(isinstance(c, SetWebhook) for c in session.calls):
            break
        await asyncio.sleep(0.01)
    return task


async def post(client: TestClient, data: str, secret: str | None = SECRET) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    resp = await client.post(PATH, data=data, headers=headers)
    await resp.read()
    return resp.status


async def test_a_request_without_the_right_secret_is_refused_and_not_stored(dp, bot, session, store, database, clock, settings):
    receiver = WebhookReceiver(dp, bot, store, clock, hook())
    client = await client_for(receiver)
    try:
        assert await post(client, body(11, 720001), secret=None) == 401
        assert await post(client, body(12, 720001), secret="not-the-secret") == 401
        assert await post(client, body(13, 720001), secret="秘密".encode().decode("latin-1")) == 401
        await receiver.inbox.drain()
        assert inbox_rows(database) == []
        assert session.calls == []
    finally:
        await client.close()


async def test_the_200_comes_once_the_update_is_stored_and_handling_follows_it(dp, store, database, clock, settings,
                                                                              monkeypatch):
    """A handler that takes long (here: Telegram slow to take its reply) does not hold the request."""
    real = store.accept_updates

    async def slow_disk(updates: Any, now: Any) -> list[int]:
        await asyncio.sleep(0.2)  # an answer sent before the commit would come before the row exists
        return await real(updates, now)

    monkeypatch.setattr(store, "accept_updates", slow_disk)

    class SlowSession(RecordingSession):
        def __init__(self) -> None:
            super().__init__()
            self.release = asyncio.Event()
            self.waiting = asyncio.Event()

        async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
            if isinstance(method, SendMessage):
                self.waiting.set()
                await self.release.wait()
            return await super().make_request(bot, method, timeout)

    session = SlowSession()
    bot = Bot(settings.bot_token, session=session)
    receiver = WebhookReceiver(dp, bot, store, clock, hook())
    client = await client_for(receiver)
    try:
        assert await post(client, body(21, 720002)) == 200
        assert inbox_rows(database) == [(21, False)]  # committed when the 200 came; not done yet
        await asyncio.wait_for(session.waiting.wait(), 10)  # the handler runs after the answer
        assert agreements(session, 720002) == 0
        session.release.set()
        await receiver.inbox.drain()
        assert agreements(session, 720002) == 1
        assert inbox_rows(database) == [(21, True)]
    finally:
        session.release.set()
        await client.close()


async def test_a_redelivered_update_id_is_answered_200_and_handled_once(dp, bot, session, store, database, clock, settings):
    receiver = WebhookReceiver(dp, bot, store, clock, hook())
    client = await client_for(receiver)
    try:
        assert await post(client, body(31, 720003)) == 200
        await receiver.inbox.drain()
        assert await post(client, body(31, 720003)) == 200  # Telegram did not get the first answer
        assert await post(client, body(32, 720004)) == 200
        await receiver.inbox.drain()
        assert agreements(session, 720003) == 1 and agreements(session, 720004) == 1
        assert inbox_rows(database) == [(31, True), (32, True)]
    finally:
        await client.close()


async def test_an_update_that_cannot_be_stored_gets_503_and_is_handled_when_delivered_again(
        dp, bot, session, store, database, clock, settings, monkeypatch):
    real = store.accept_updates
    failures = [RuntimeError("disk I/O error")]

    async def flaky(updates: Any, now: Any) -> list[int]:
        if failures:
            raise failures.pop()
        return await real(updates, now)

    monkeypatch.setattr(store, "accept_updates", flaky)
    metrics = Metrics(CollectorRegistry(), store, clock)
    receiver = WebhookReceiver(dp, bot, store, clock, hook(), observer=metrics)
    metrics.webhook_serving(True)
    metrics.webhook_registered(True)
    client = await client_for(receiver)
    try:
        assert await post(client, body(41, 720005)) == 503
        await receiver.inbox.drain()
        assert session.calls == [] and inbox_rows(database) == []  # nothing handled unstored
        assert (await metrics.refresh())["webhook"] is False  # the last update could not be stored
        assert await post(client, body(41, 720005)) == 200  # Telegram's retry
        await receiver.inbox.drain()
        assert agreements(session, 720005) == 1
        assert (await metrics.refresh())["webhook"] is True
    finally:
        await client.close()


async def test_a_body_that_is_not_an_update_is_refused(dp, bot, session, store, database, clock, settings):
    receiver = WebhookReceiver(dp, bot, store, clock, hook())
    client = await client_for(receiver)
    try:
        assert await post(client, "not json") == 400
        assert await post(client, json.dumps({"message": "no update_id"})) == 400
        assert inbox_rows(database) == [] and session.calls == []
    finally:
        await client.close()


async def test_run_handles_what_a_killed_run_left_then_listens_and_sets_the_webhook(
        dp, bot, session, store, database, clock, settings):
    await store.accept_updates([(51, body(51, 720006))], clock.now())  # stored, answered 200, then killed
    port = free_port()
    receiver = WebhookReceiver(dp, bot, store, clock, hook(port))
    task = await running(receiver, session)
    try:
        kinds = [type(c).__name__ for c in session.calls]
        assert kinds.index("SendMessage") < kinds.index("SetWebhook")  # recovered before anything new
        assert agreements(session, 720006) == 1
        set_webhook = next(c for c in session.calls if isinstance(c, SetWebhook))
        assert set_webhook.url == f"https://bot.example.org{PATH}" and set_webhook.secret_token == SECRET
        assert set_webhook.max_connections == 7
        assert set(set_webhook.allowed_updates or []) >= {"message", "callback_query"}
        # Telegram delivers the update the dead run stored again (its 200 never arrived): once
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}{PATH}", data=body(51, 720006),
                                 headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"}) as resp:
                assert resp.status == 200
            async with http.post(f"http://127.0.0.1:{port}{PATH}", data=body(52, 720007, "/help"),
                                 headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"}) as resp:
                assert resp.status == 200
        await receiver.inbox.drain()
        assert agreements(session, 720006) == 1
        assert sent_to(session, 720007)  # the new one is handled
        assert inbox_rows(database) == [(51, True), (52, True)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_healthz_in_webhook_mode(store, clock):
    scheduler = tick_scheduler()
    scheduler.start()
    metrics = Metrics(CollectorRegistry(), store, clock, scheduler)
    try:
        assert (await metrics.refresh())["mode"] == "polling"
        metrics.webhook_serving(True)
        health = await metrics.refresh()
        assert health["mode"] == "webhook" and health["webhook"] is False and "polling" not in health
        metrics.webhook_registered(True)
        health = await metrics.refresh()
        assert health["webhook"] is True and health["alive"] is True and health["last_update_seconds_ago"] is None
        metrics.webhook_received(stored=True)
        assert (await metrics.refresh())["last_update_seconds_ago"] is not None
        metrics.webhook_serving(False)  # stopped listening
        health = await metrics.refresh()
        assert health["webhook"] is False and health["alive"] is False
    finally:
        scheduler.shutdown()


async def test_each_malformed_body_gets_400_and_nothing_is_stored(dp, bot, session, store, database, clock, settings):
    """Telegram delivers again what gets 5xx; a body that can never be stored must get 400 instead."""
    receiver = WebhookReceiver(dp, bot, store, clock, hook())
    client = await client_for(receiver)
    try:
        deep = '{"update_id": 61, "message": ' + "[" * 5000 + "]" * 5000 + "}"
        assert await post(client, deep) == 400  # the parser's recursion: a 500 and a traceback before
        assert await post(client, body(2**63 + 5, 720008)) == 400  # no column holds it: 503 for ever before
        assert await post(client, body(2**64, 720008)) == 400
        assert await post(client, '{"update_id": 1e30}') == 400  # taken for an integer by pydantic
        assert await post(client, body(62, 2**63 + 1)) == 400  # a sender id outside 64 bits
        assert await post(client, body(-7, 720008)) == 400  # stored before
        assert await post(client, "[]") == 400
        await receiver.inbox.drain()
        assert inbox_rows(database) == [] and session.calls == []
        assert await post(client, body(63, 720008)) == 200  # and the next good one is taken
        await receiver.inbox.drain()
        assert inbox_rows(database) == [(63, True)] and agreements(session, 720008) == 1
    finally:
        await client.close()


async def test_refused_requests_are_logged_at_most_once_a_minute(dp, bot, session, store, database, clock, settings,
                                                                 caplog):
    receiver = WebhookReceiver(dp, bot, store, clock, hook())
    client = await client_for(receiver)

    def lines(part: str) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "bot.webhook" and part in r.getMessage()]

    try:
        with caplog.at_level(logging.INFO):
            for _ in range(30):
                assert await post(client, body(71, 720009), secret=None) == 401
            for _ in range(5):
                assert await post(client, "not json") == 400
            assert len(lines("without the secret token")) == 1 and len(lines("not an update")) == 1
            clock.advance(seconds=59)
            assert await post(client, body(71, 720009), secret="wrong") == 401
            assert len(lines("without the secret token")) == 1
            clock.advance(seconds=2)
            assert await post(client, body(71, 720009), secret="wrong") == 401
            refused = lines("without the secret token")
            assert len(refused) == 2 and "30 more since the last such line" in refused[1]
        assert inbox_rows(database) == []
    finally:
        await client.close()


async def test_half_open_connections_are_not_held(dp, bot, session, store, clock, settings):
    """A connection that never finishes its request head is closed; a body that stops coming gets 408."""
    port = free_port()
    receiver = WebhookReceiver(dp, bot, store, clock, hook(port), header_timeout=0.3, body_timeout=0.3)
    task = await running(receiver, session)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST {PATH} HTTP/1.1\r\nHost: bot\r\n".encode())  # and then nothing more
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        writer.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST {PATH} HTTP/1.1\r\nHost: bot\r\n{SECRET_HEADER}: {SECRET}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"update_id\": 81".encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)  # answered, then closed
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        writer.close()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

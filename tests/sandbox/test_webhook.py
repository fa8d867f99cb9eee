"""The sandbox as Telegram's webhook side: setWebhook / deleteWebhook / getWebhookInfo driven by a real
aiogram Bot, and the POSTs a small receiver gets (secret header, order per chat, max_connections,
retries with backoff, nothing dropped)."""
from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.sandbox.server import build_sandbox_app, get_state
from bot.sandbox.webhook import Backoff
from tests.support.sandbox_client import free_port

TOKEN = "1234567:SANDBOX-test-token"
SECRET = "s3cret-token_for-tests"


class Receiver:
    """The bot's side of the webhook: records every POST; answers what `answers` says (then 200);
    while `hold` is clear, requests wait (to see how many are in flight at once)."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict, str | None]] = []  # (update, secret header)
        self.answers: list[int] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.in_flight = 0
        self.most_in_flight = 0
        self.chats_in_flight: list[int] = []
        self.arrived = asyncio.Event()
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.server = TestServer(app)

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        chat = update["message"]["chat"]["id"] if "message" in update else None
        assert chat not in self.chats_in_flight, f"two updates of chat {chat} in flight at once"
        self.chats_in_flight.append(chat)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.arrived.set()
        try:
            await self.hold.wait()
            self.posts.append((update, request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
            status = self.answers.pop(0) if self.answers else 200
            return web.json_response({}, status=status)
        finally:
            self.in_flight -= 1
            self.chats_in_flight.remove(chat)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hook"))

    def texts(self) -> list[str]:
        return [u["message"]["text"] for u, _secret in self.posts]


@pytest.fixture
async def server():
    srv = TestServer(build_sandbox_app(bot_username="test_sandbox_bot"))
    await srv.start_server()
    get_state(srv.app).webhook_delivery.backoff = Backoff(first=0.02, factor=2.0, most=0.1)
    yield srv
    await srv.close()


@pytest.fixture
async def http(server):
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        yield session


@pytest.fixture
async def bot(server):
    api = TelegramAPIServer.from_base(str(server.make_url("")).rstrip("/"))
    b = Bot(TOKEN, session=AiohttpSession(api=api))
    yield b
    if b.session._session is not None:
        await b.session._session.close()


@pytest.fixture
async def receiver():
    r = Receiver()
    await r.server.start_server()
    yield r
    r.hold.set()
    await r.server.close()


async def new_user(http: aiohttp.ClientSession, name: str) -> int:
    async with http.post("/sandbox/users", json={"first_name": name}) as resp:
        return (await resp.json())["id"]


async def say(http: aiohttp.ClientSession, uid: int, text: str) -> None:
    async with http.post(f"/sandbox/users/{uid}/send", json={"text": text}) as resp:
        assert resp.status == 200, await resp.text()


async def until(check, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.01)


async def test_set_info_delete(bot, receiver):
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0 and info.max_connections is None
    assert await bot.set_webhook(receiver.url, secret_token=SECRET, allowed_updates=["message"]) is True
    info = await bot.get_webhook_info()
    assert (info.url, info.max_connections, info.allowed_updates) == (receiver.url, 40, ["message"])
    assert info.last_error_date is None and info.last_error_message is None
    assert await bot.set_webhook(receiver.url, max_connections=5) is True  # allowed_updates kept when not given
    info = await bot.get_webhook_info()
    assert (info.max_connections, info.allowed_updates) == (5, ["message"])
    assert await bot.delete_webhook() is True
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates(timeout=0) == []  # long polling again


@pytest.mark.parametrize("kwargs,error", [
    ({"secret_token": "no spaces allowed"}, "secret token contains unallowed characters"),
    ({"max_connections": 101}, "max_connections"),
    ({"max_connections": 0}, None),  # 0: not given, the default 40
])
async def test_set_webhook_checks_its_parameters(bot, receiver, kwargs, error):
    if error is None:
        assert await bot.set_webhook(receiver.url, **kwargs) is True
        assert (await bot.get_webhook_info()).max_connections == 40
        return
    with pytest.raises(TelegramBadRequest, match=error):
        await bot.set_webhook(receiver.url, **kwargs)
    assert (await bot.get_webhook_info()).url == ""


async def test_get_updates_conflicts_while_a_webhook_is_set(bot, http, server):
    uid = await new_user(http, "甲")
    polling = asyncio.create_task(bot.get_updates(timeout=30))  # a long poll waiting when the webhook is set
    await asyncio.sleep(0.05)
    port = free_port()  # nobody listens: the update stays queued
    assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook is active; "
                                                    "use deleteWebhook to delete the webhook first"):
        await asyncio.wait_for(polling, 5)
    await say(http, uid, "在吗")
    with pytest.raises(TelegramConflictError):
        await bot.get_updates(timeout=0)
    await until(lambda: get_state(server.app).webhook.last_error_date is not None)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1 and info.last_error_message == "Connection refused"
    assert await bot.delete_webhook() is True
    updates = await bot.get_updates(timeout=0)  # never delivered, never dropped: getUpdates gets it
    assert [u.message.text for u in updates] == ["在吗"]


async def test_updates_are_posted_with_the_secret_and_confirmed_by_2xx(bot, http, receiver):
    uid = await new_user(http, "甲")
    await say(http, uid, "早上好")  # queued before the webhook is set: delivered once it is
    assert await bot.set_webhook(receiver.url, secret_token=SECRET)
    await say(http, uid, "答题")
    await until(lambda: len(receiver.posts) == 2)
    assert receiver.texts() == ["早上好", "答题"]
    assert {secret for _u, secret in receiver.posts} == {SECRET}
    assert [u["update_id"] for u, _s in receiver.posts] == [1, 2]
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0 and info.last_error_date is None


async def test_no_secret_header_without_a_secret(bot, http, receiver):
    uid = await new_user(http, "甲")
    assert await bot.set_webhook(receiver.url)
    await say(http, uid, "你好")
    await until(lambda: len(receiver.posts) == 1)
    assert receiver.posts[0][1] is None


async def test_a_failed_delivery_is_retried_with_backoff_and_reported(bot, http, receiver, server):
    uid = await new_user(http, "甲")
    receiver.answers = [500, 502]
    assert await bot.set_webhook(receiver.url, secret_token=SECRET)
    await say(http, uid, "第一条")
    await say(http, uid, "第二条")
    await until(lambda: len(receiver.posts) == 4)
    # the first update three times (500, 502, 200), and only then the second one: the chat's order holds
    assert receiver.texts() == ["第一条", "第一条", "第一条", "第二条"]
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0
    assert info.last_error_date is not None
    assert info.last_error_message == "Wrong response from the webhook: 502 Bad Gateway"
    assert get_state(server.app).webhook.failures == 2


def test_backoff_grows_to_its_ceiling():
    backoff = Backoff(first=0.5, factor=2.0, most=5.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


async def test_an_unreachable_bot_keeps_its_updates(bot, http, receiver, server):
    uid = await new_user(http, "甲")
    assert await bot.set_webhook(f"http://127.0.0.1:{free_port()}/hook", secret_token=SECRET)
    await say(http, uid, "一")
    await say(http, uid, "二")
    state = get_state(server.app)
    await until(lambda: state.webhook.failures >= 3)  # tried again and again
    assert (await bot.get_webhook_info()).pending_update_count == 2
    assert await bot.set_webhook(receiver.url, secret_token=SECRET)  # the bot is back at another address
    await until(lambda: len(receiver.posts) == 2)
    assert receiver.texts() == ["一", "二"]
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_chats_go_in_parallel_up_to_max_connections_each_in_order(bot, http, receiver):
    users = [await new_user(http, f"用户{n}") for n in range(4)]
    receiver.hold.clear()
    assert await bot.set_webhook(receiver.url, max_connections=3)
    for round_ in range(3):
        for n, uid in enumerate(users):
            await say(http, uid, f"{n}-{round_}")
    await until(lambda: receiver.in_flight == 3)
    await asyncio.sleep(0.1)  # nothing more goes while three wait
    assert receiver.in_flight == 3 and receiver.chats_in_flight == [users[0], users[1], users[2]]
    receiver.hold.set()
    await until(lambda: len(receiver.posts) == 12)
    assert receiver.most_in_flight == 3  # never more than max_connections; never two of one chat (Receiver asserts)
    for n in range(4):
        assert [t for t in receiver.texts() if t.startswith(f"{n}-")] == [f"{n}-0", f"{n}-1", f"{n}-2"]
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_one_connection_delivers_one_at_a_time(bot, http, receiver):
    users = [await new_user(http, f"用户{n}") for n in range(3)]
    assert await bot.set_webhook(receiver.url, max_connections=1)
    for uid in users:
        await say(http, uid, str(uid))
    await until(lambda: len(receiver.posts) == 3)
    assert receiver.most_in_flight == 1 and receiver.texts() == [str(uid) for uid in users]


async def test_a_webhook_fault_fails_a_delivery_the_bot_answered(bot, http, receiver):
    """A proxy answering 500 after the bot took the update: Telegram delivers the same update again."""
    uid = await new_user(http, "甲")
    async with http.post("/sandbox/faults", json={"fail": [{"method": "webhook", "status": 500, "count": 1}]}) as r:
        assert r.status == 200
    assert await bot.set_webhook(receiver.url)
    await say(http, uid, "重复")
    await until(lambda: len(receiver.posts) == 2)
    first, again = receiver.posts
    assert first == again and json.dumps(first[0]) == json.dumps(again[0])  # the same update_id and body
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.pending_update_count == 0


async def test_drop_pending_updates_and_allowed_updates(bot, http, receiver):
    uid = await new_user(http, "甲")
    await say(http, uid, "旧消息")
    assert await bot.set_webhook(f"http://127.0.0.1:{free_port()}/hook", drop_pending_updates=True)
    assert (await bot.get_webhook_info()).pending_update_count == 0
    assert await bot.set_webhook(receiver.url, allowed_updates=["callback_query"])
    await say(http, uid, "不需要的类型")  # a message, not asked for: Telegram does not send it
    await asyncio.sleep(0.1)
    assert receiver.posts == [] and (await bot.get_webhook_info()).pending_update_count == 0
    assert await bot.set_webhook(receiver.url, allowed_updates=["message"])
    await say(http, uid, "要的")
    await until(lambda: len(receiver.posts) == 1)
    assert receiver.texts() == ["要的"]

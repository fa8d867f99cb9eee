"""The outbox against the sandbox's Telegram: limits, 429, 5xx, 403, exactly once, restart."""
from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp.test_utils import TestServer

from bot.outbox import Outbox, file_push, text_push
from bot.sandbox.server import build_sandbox_app
from bot.store import Store

TOKEN = "1000000001:SANDBOX-outbox-tests"


pytestmark = pytest.mark.loose_pushes  # the sender itself, fed directly

@pytest.fixture
async def server():
    srv = TestServer(build_sandbox_app())
    await srv.start_server()
    yield srv
    await srv.close()


@pytest.fixture
async def http(server):
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        yield session


@pytest.fixture
async def tg_bot(server):
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(str(server.make_url("")).rstrip("/"))),
              default=DefaultBotProperties(parse_mode="HTML"))
    await bot.get_me()
    yield bot
    await bot.session.close()


async def users(http, n: int) -> list[int]:
    out = []
    for i in range(n):
        async with http.post("/sandbox/users", json={"first_name": f"u{i}"}) as r:
            out.append((await r.json())["id"])
    return out


async def bot_messages(http, uid: int) -> list[dict]:
    async with http.get(f"/sandbox/users/{uid}/messages") as r:
        return [m for m in (await r.json())["messages"] if m["from"] == "bot"]


async def stats(http) -> dict:
    async with http.get("/sandbox/stats") as r:
        return await r.json()


async def faults(http, body: dict) -> None:
    async with http.post("/sandbox/faults", json=body) as r:
        assert r.status == 200


async def test_push_is_delivered_with_buttons_and_marked_sent(store, clock, tg_bot, http):
    [uid] = await users(http, 1)
    box = Outbox(store, tg_bot, clock, chat_interval=0.01)
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="确认", callback_data="ok:1")]])
    await box.enqueue(text_push(uid, "<b>学习任务</b>", reply_markup=kb, protect_content=True),
                      file_push(uid, "document", b"data", "名单.xlsx", caption="成员名单"))
    assert await box.flush() == 2
    msgs = await bot_messages(http, uid)
    assert msgs[0]["text"] == "学习任务" and msgs[0]["protect_content"] is True
    assert msgs[0]["reply_markup"]["inline_keyboard"][0][0]["text"] == "确认"
    assert msgs[1]["document"]["file_name"] == "名单.xlsx"
    assert await store.push_counts() == {"sent": 2}
    assert await box.flush() == 0  # nothing is sent twice


async def test_dedupe_key_makes_a_push_exactly_once(store, clock, tg_bot, http):
    [uid] = await users(http, 1)
    box = Outbox(store, tg_bot, clock, chat_interval=0.01)
    assert await box.enqueue(text_push(uid, "日报", dedupe_key="report:1:100001:2026-11-23")) == 1
    assert await box.enqueue(text_push(uid, "日报", dedupe_key="report:1:100001:2026-11-23")) == 0
    await box.flush()
    assert len(await bot_messages(http, uid)) == 1


async def test_limits_are_kept_so_telegram_never_says_429(store, clock, tg_bot, http):
    ids = await users(http, 6)
    await faults(http, {"rate_limit": {"global_per_s": 30, "per_chat_per_s": 1}})
    box = Outbox(store, tg_bot, clock, per_second=28, chat_interval=1.05)
    await box.enqueue(*[text_push(uid, f"第{i}条") for uid in ids for i in range(2)])
    await box.flush()
    assert (await stats(http))["rate_limited"] == 0
    assert await store.push_counts() == {"sent": 12}
    for uid in ids:
        assert [m["text"] for m in await bot_messages(http, uid)] == ["第0条", "第1条"]


async def test_pending_pushes_survive_a_restart(settings, clock, tg_bot, http):
    [uid] = await users(http, 1)
    store = await Store.open(settings.database_path)
    await Outbox(store, tg_bot, clock, chat_interval=0.01).enqueue(text_push(uid, "重启前排队"))
    await store.close()
    store = await Store.open(settings.database_path)
    await Outbox(store, tg_bot, clock, chat_interval=0.01).flush()
    assert [m["text"] for m in await bot_messages(http, uid)] == ["重启前排队"]
    await store.close()

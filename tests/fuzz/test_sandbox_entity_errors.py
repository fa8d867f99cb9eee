"""The sandbox counts the 400 "can't parse entities" answers (HTML Telegram would refuse) apart from the
other errors in GET /sandbox/stats, so that a fuzz or load run over the sandbox can assert there were none."""
from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiohttp.test_utils import TestServer

from bot.sandbox.server import build_sandbox_app

TOKEN = "1234567:SANDBOX-test-token"


async def stats(http: aiohttp.ClientSession) -> dict:
    async with http.get("/sandbox/stats") as resp:
        return await resp.json()


async def test_cant_parse_entities_answers_are_counted_apart():
    server = TestServer(build_sandbox_app(bot_username="test_sandbox_bot"))
    await server.start_server()
    api = TelegramAPIServer.from_base(str(server.make_url("")).rstrip("/"))
    bot = Bot(TOKEN, session=AiohttpSession(api=api), default=DefaultBotProperties(parse_mode="HTML"))
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as http:
            async with http.post("/sandbox/users", json={"first_name": "张", "language_code": "zh"}) as resp:
                uid = (await resp.json())["id"]
            await bot.send_message(uid, "<b>fine &amp; bold</b>")
            with pytest.raises(TelegramBadRequest, match="can't parse entities"):
                await bot.send_message(uid, "a <name> typed by someone")
            with pytest.raises(TelegramBadRequest, match="can't parse entities"):
                await bot.send_message(uid, "<b>unclosed")
            with pytest.raises(TelegramBadRequest, match="chat not found"):  # an error, not an entity error
                await bot.send_message(uid + 999, "x")
            with pytest.raises(TelegramBadRequest, match="message is too long"):
                await bot.send_message(uid, "x" * 4097)
            counted = await stats(http)
            assert (counted["errors"], counted["entity_errors"]) == (4, 2)
            async with http.post("/sandbox/reset"):
                pass
            assert (await stats(http))["entity_errors"] == 0
    finally:
        if bot.session._session is not None:
            await bot.session._session.close()
        await server.close()

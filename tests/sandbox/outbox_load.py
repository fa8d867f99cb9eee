"""A load of pushes through the sandbox (in this process) with its rate limit on and, optionally,
injected 429s (retry_after 3), 500s and one person who blocked the bot. Shared by the CI fault test
(tests/e2e/test_outbox_faults.py, a high rate so it takes seconds) and bench/outbox.py (25/s)."""
from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp.test_utils import TestServer

from bot.clock import MovableClock
from bot.outbox import Outbox, text_push
from bot.sandbox.server import build_sandbox_app
from bot.sandbox.state import get_state
from bot.store import Store

TOKEN = "1000000001:SANDBOX-outbox-load"
TZ = ZoneInfo("Asia/Shanghai")


def fault_rules(n429: int, n500: int) -> list[dict[str, Any]]:
    """429s (retry_after 3) and 500s, interleaved in groups; the sandbox answers the next calls with them."""
    rules: list[dict[str, Any]] = []
    for i in range(4):
        rules.append({"method": "sendMessage", "status": 429, "count": n429 // 4 + (i < n429 % 4), "retry_after": 3})
        rules.append({"method": "sendMessage", "status": 500, "count": n500 // 4 + (i < n500 % 4)})
    return [r for r in rules if r["count"]]


@dataclass
class LoadResult:
    pushes: int
    rate: float
    seconds: float
    delivered: int            # messages the sandbox's users received
    duplicates: int           # pushes received more than once (extra copies)
    missing: int              # pushes to reachable people never received
    to_blocked: int           # messages the blocked person received (must be 0)
    calls: int                # sendMessage calls the sandbox answered
    rate_limited: int         # 429s the sandbox answered (injected and its own rate limit)
    counts: dict[str, int] = field(default_factory=dict)  # the outbox rows by status

    @property
    def achieved(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def line(self, label: str) -> str:
        return (f"{label}: {self.pushes} pushes at {self.rate:g}/s configured: {self.seconds:.2f} s, "
                f"{self.achieved:.1f} msg/s delivered ({self.achieved / self.rate:.3f}x; "
                f"bound 1,000/rate x 1.1 = {1.1 * self.pushes / self.rate:.2f} s), calls {self.calls}, "
                f"429s {self.rate_limited}, duplicates {self.duplicates}, missing {self.missing}, "
                f"to the blocked person {self.to_blocked}, rows {self.counts}")


@asynccontextmanager
async def sandbox_with_bot(db_path: Path) -> AsyncIterator[tuple[Any, str, Bot, Store]]:
    """The sandbox on a free loopback port, a bot pointed at it (its base URL too) and the store at
    `db_path`, closed again at the end of the block."""
    app = build_sandbox_app()
    server = TestServer(app)
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base)),
              default=DefaultBotProperties(parse_mode="HTML"))
    try:
        store = await Store.open(db_path)
        try:
            yield get_state(app), base, bot, store
        finally:
            await store.close()
    finally:
        await bot.session.close()
        await server.close()


async def run_load(db_path: Path, *, pushes: int = 1000, chats: int = 500, rate: float = 200.0,
                   n429: int = 0, n500: int = 0, blocked: int = 0, sandbox_margin: float = 1.1) -> LoadResult:
    """`pushes` texts round-robin over `chats` people (the first `blocked` of them blocked the bot),
    sent by Outbox.run at `rate`; the sandbox allows `rate * sandbox_margin` per second overall (Telegram
    allows about 30 against the default 25) and 1 per second per chat. Timed from the first send to the
    moment no row is pending or in flight."""
    async with sandbox_with_bot(db_path) as (state, base, bot, store):
        async with aiohttp.ClientSession(base_url=base) as http:
            ids = []
            for i in range(chats):
                async with http.post("/sandbox/users", json={"first_name": f"u{i}"}) as r:
                    ids.append((await r.json())["id"])
            for uid in ids[:blocked]:
                async with http.post(f"/sandbox/users/{uid}/block") as r:
                    r.raise_for_status()
            body: dict[str, Any] = {"rate_limit": {"global_per_s": math.floor(rate * sandbox_margin),
                                                   "per_chat_per_s": 1},
                                    "fail": fault_rules(n429, n500)}
            async with http.post("/sandbox/faults", json=body) as r:
                r.raise_for_status()
        clock = MovableClock(TZ)
        outbox = Outbox(store, bot, clock, per_second=rate, paid_broadcast=rate > 30)
        await outbox.enqueue(*[text_push(ids[i % chats], f"push #{i}") for i in range(pushes)])
        started = time.monotonic()
        sender = asyncio.create_task(outbox.run())
        try:
            while True:
                counts = await store.push_counts()
                if not counts.get("pending") and not counts.get("sending"):
                    break
                if sender.done():
                    sender.result()
                await asyncio.sleep(0.02)
            seconds = time.monotonic() - started
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        received: Counter[str] = Counter()
        to_blocked = 0
        for n, uid in enumerate(ids):
            chat = state.chats.get(uid)
            texts = [m.tg.get("text") for m in chat.messages.values() if m.sender == "bot"] if chat else []
            if n < blocked:
                to_blocked += len(texts)
            received.update(t for t in texts if t)
        expected = {f"push #{i}" for i in range(pushes) if i % chats >= blocked}
        return LoadResult(
            pushes=pushes, rate=rate, seconds=seconds, delivered=sum(received.values()),
            duplicates=sum(n - 1 for n in received.values() if n > 1),
            missing=len(expected - set(received)), to_blocked=to_blocked,
            calls=state.calls["sendMessage"], rate_limited=state.rate_limited, counts=counts)

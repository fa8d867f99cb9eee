"""Round trips through the sandbox, and the Dispatcher.feed_update ceiling.

    .venv/bin/python bench/sandbox_roundtrip.py [--messages 2000] [--users 20] [--updates 20000]

1. user → sandbox → bot (aiogram long polling, a trivial echo handler) → sandbox → user: a child
   process runs the sandbox and the echo bot; this process plays the users over the control API.
   Printed: messages/s with one user at a time (and the latency), and with --users in parallel.
2. Dispatcher.feed_update of a trivial handler with a session that does no I/O: the framework's
   ceiling in updates/s that later benchmarks compare with.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Chat, Message, Update, User

from bench.figures import record

TOKEN = "1000000001:SANDBOX-token-for-local-use-only"


def echo_router() -> Router:
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text)

    return router


async def serve(port: int) -> None:
    from aiohttp import web

    from bot.sandbox.server import build_sandbox_app

    runner = web.AppRunner(build_sandbox_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(f"http://127.0.0.1:{port}")),
              default=DefaultBotProperties(parse_mode="HTML"))
    dp = Dispatcher()
    dp.include_router(echo_router())
    print("ready", flush=True)
    await dp.start_polling(bot, handle_signals=False, polling_timeout=10)


async def drive(port: int, messages: int, users: int) -> None:
    import aiohttp

    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async def make_user(i: int) -> int:
            async with http.post(f"{base}/sandbox/users", json={"first_name": f"u{i}"}) as r:
                return (await r.json())["id"]

        async def roundtrip(uid: int, text: str) -> float:
            t0 = time.perf_counter()
            async with http.post(f"{base}/sandbox/users/{uid}/send", json={"text": text}) as r:
                mid = (await r.json())["message_id"]
            while True:
                async with http.get(f"{base}/sandbox/users/{uid}/messages",
                                    params={"after": str(mid), "wait": "5"}) as r:
                    msgs = (await r.json())["messages"]
                if any(m["from"] == "bot" for m in msgs):
                    return time.perf_counter() - t0

        uid = await make_user(0)
        for i in range(20):  # warm up
            await roundtrip(uid, f"w{i}")
        lat = []
        t0 = time.perf_counter()
        for i in range(messages):
            lat.append(await roundtrip(uid, f"m{i}"))
        seq = messages / (time.perf_counter() - t0)
        lat.sort()
        record("sandbox_roundtrip", "echo round trips, 1 user", round(seq), "msg/s",
               f"p50 {statistics.median(lat) * 1000:.2f} ms")
        print(f"sequential, 1 user:   {seq:8.0f} messages/s   latency p50 {statistics.median(lat) * 1000:.2f} ms, "
              f"p99 {lat[int(len(lat) * 0.99) - 1] * 1000:.2f} ms   ({messages} round trips)")

        uids = [await make_user(i + 1) for i in range(users)]
        per_user = max(1, messages // users)

        async def user_loop(u: int) -> None:
            for i in range(per_user):
                await roundtrip(u, f"p{i}")

        t0 = time.perf_counter()
        await asyncio.gather(*(user_loop(u) for u in uids))
        par = users * per_user / (time.perf_counter() - t0)
        print(f"parallel, {users} users: {par:8.0f} messages/s   ({users * per_user} round trips)")
        record("sandbox_roundtrip", f"echo round trips, {users} users at once", round(par), "msg/s")


class NullSession(AiohttpSession):
    async def make_request(self, bot, method, timeout=None):  # type: ignore[override]
        return True


async def ceiling(n: int) -> float:
    router = Router()

    @router.message(F.text)
    async def trivial(message: Message) -> None:
        return None

    dp = Dispatcher()
    dp.include_router(router)
    bot = Bot(TOKEN, session=NullSession())
    now = datetime.now(UTC)
    updates = [Update(update_id=i, message=Message(
        message_id=i, date=now, chat=Chat(id=1000 + i % 100, type="private"),
        from_user=User(id=1000 + i % 100, is_bot=False, first_name="u"), text=f"t{i}")) for i in range(n)]
    # as Telegram sends them; each is parsed with the bot in its context, as long polling does, inside
    # the timing (an update built without that context is parsed again by feed_update on every call)
    raw = [u.model_dump(mode="json", exclude_none=True) for u in updates]
    for r in raw[:500]:
        await dp.feed_update(bot, Update.model_validate(r, context={"bot": bot}))
    t0 = time.perf_counter()
    for r in raw:
        await dp.feed_update(bot, Update.model_validate(r, context={"bot": bot}))
    rate = n / (time.perf_counter() - t0)
    print(f"Dispatcher.feed_update, trivial handler: {rate:8.0f} updates/s   ({n} updates, no I/O)")
    record("sandbox_roundtrip", "ceiling: feed_update, trivial handler", round(rate), "updates/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--updates", type=int, default=20000)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    from tests.support.sandbox_client import free_port

    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        asyncio.run(drive(port, args.messages, args.users))
    finally:
        child.terminate()
        child.wait()
    asyncio.run(ceiling(args.updates))
    print(json.dumps({"python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()

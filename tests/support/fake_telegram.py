"""A stand-in Bot API for start-up tests, served from a thread of the test process: getMe answers a bot
(or, with `refuse`, every call answers 401 Unauthorized as Telegram does for a revoked token), getUpdates
an empty list after a short wait, every other method `true`. Much lighter than the sandbox, and it can
appear on a port after the bot started (the "Telegram unreachable, then back" case)."""
from __future__ import annotations

import asyncio
import socket
import threading

from aiohttp import web

BOT = {"id": 4242, "is_bot": True, "first_name": "Fake", "username": "fake_test_bot"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeTelegram:
    def __init__(self, port: int | None = None, *, refuse: bool = False) -> None:
        self.port = port or free_port()
        self.refuse = refuse
        self.calls: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _answer(self, request: web.Request) -> web.Response:
        method = request.path.rsplit("/", 1)[-1]
        self.calls.append(method)
        if self.refuse:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        if method.lower() == "getme":
            return web.json_response({"ok": True, "result": BOT})
        if method.lower() == "getupdates":
            await asyncio.sleep(0.3)
            return web.json_response({"ok": True, "result": []})
        return web.json_response({"ok": True, "result": True})

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def start(self) -> FakeTelegram:
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-telegram", daemon=True)
        self._thread.start()
        assert started.wait(10), "the fake Bot API did not start"
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        runner = self._runner
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

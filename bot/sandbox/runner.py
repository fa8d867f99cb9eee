"""`xuexi-bot sandbox`: the sandbox server, the bot (its normal long polling, pointed at the
sandbox through TelegramAPIServer; with `--webhook` its webhook server on 127.0.0.1, to which the
sandbox POSTs the updates) and the scheduler, in one process."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from bot.clock import MovableClock
from bot.config import load_settings
from bot.sandbox.control import ClockControl
from bot.sandbox.server import build_sandbox_app

if TYPE_CHECKING:
    from bot.scheduler import Scheduler

log = logging.getLogger("bot.sandbox")

SANDBOX_TOKEN = "1000000001:SANDBOX-token-for-local-use-only"
BOT_USERNAME = "xuexi_sandbox_bot"


class _LateJobs:
    """The sandbox starts before the bot's scheduler exists; jobs are attached when it does."""

    def __init__(self) -> None:
        self.scheduler: Scheduler | None = None

    def list_jobs(self) -> list[dict[str, Any]]:
        return self.scheduler.list_jobs() if self.scheduler else []

    async def run_job(self, job_id: str) -> None:
        if self.scheduler is None:
            raise KeyError(job_id)
        await self.scheduler.run_job(job_id)


async def _load_demo(base: str) -> None:
    from bot.sandbox.demo import DEMO_USERS

    async with aiohttp.ClientSession() as http:
        for user in DEMO_USERS:
            async with http.post(f"{base}/sandbox/users", json=user) as resp:
                resp.raise_for_status()


def _webhook_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The bot's webhook server for the sandbox: WEBHOOK_PORT or a free port, on loopback, over http."""
    port = environ.get("WEBHOOK_PORT", "").strip()
    if not port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = str(s.getsockname()[1])
    return {"WEBHOOK_URL": f"http://127.0.0.1:{port}", "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PORT": port}


async def run_sandbox(*, host: str, port: int, db: Path | None, demo: bool, with_bot: bool = True,
                      ready: asyncio.Event | None = None, webhook: bool = False,
                      database: Mapping[str, str] | None = None) -> None:
    """`database`: {"DATABASE_URL": "postgresql://..."} to run the bot on PostgreSQL (`--database-url`);
    otherwise DATABASE_URL from the environment, else the SQLite file `db`."""
    jobs = _LateJobs()
    clock = ClockControl()  # the sandbox's own clock; the bot's once the bot exists
    sandbox = build_sandbox_app(jobs=jobs, clock=clock, bot_username=BOT_USERNAME)
    runner = web.AppRunner(sandbox, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    base = f"http://{host}:{port}"
    app = None
    try:
        if demo:
            await _load_demo(base)
        if with_bot:
            from bot.app import App
            from bot.sandbox.demo import OPERATOR_ID, seed_demo_data

            settings = load_settings(webhook=webhook, overrides={
                "BOT_TOKEN": SANDBOX_TOKEN,
                "TELEGRAM_API_URL": base,
                "DATABASE_PATH": str(db or Path("data/sandbox.sqlite3")),
                **({"OPERATOR_IDS": str(OPERATOR_ID)} if demo and not os.environ.get("OPERATOR_IDS") else {}),
                **(_webhook_env(os.environ) if webhook else {}),
                **(database or {}),
            })
            clock.clock = MovableClock(settings.timezone, settings.clock_offset_seconds)
            app = await App.create(settings, clock=clock.clock)
            jobs.scheduler = app.scheduler
            clock.after_move = app.catch_up
            if demo:
                await seed_demo_data(app)
        print(json.dumps({"sandbox": base, "web_chat": f"{base}/"}), flush=True)
        print(f"Sandbox web chat: {base}/  (Ctrl+C to stop)", flush=True)
        if ready is not None:
            ready.set()
        if app is not None:
            await app.run_updates()
        else:
            await asyncio.Event().wait()
    finally:
        if app is not None:
            await app.close()
        await runner.cleanup()

"""The sandbox app: the fake Bot API (bot/sandbox/botapi.py), the control API
(bot/sandbox/control.py) and the web chat's static files, all sharing one SandboxState.

    app = build_sandbox_app(jobs=scheduler, bot_username="xuexi_sandbox_bot")
    state = get_state(app)          # also app["sandbox"]

Point aiogram at it with `AiohttpSession(api=TelegramAPIServer.from_base("http://HOST:PORT"))`.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.sandbox.botapi import setup_botapi
from bot.sandbox.control import ClockControl, setup_control
from bot.sandbox.state import STATE_KEY, SandboxState, get_state

__all__ = ["build_sandbox_app", "get_state", "SandboxState", "STATE_KEY"]

DEFAULT_STATIC = Path(__file__).resolve().parent / "static"
STATIC_KEY = web.AppKey("sandbox_static_dir", Path)
MAX_UPLOAD = 64 * 1024 * 1024


def build_sandbox_app(*, jobs: Any = None, clock: ClockControl | None = None, bot_username: str = "xuexi_sandbox_bot",
                      static_dir: Path | None = None) -> web.Application:
    """jobs: optional object with list_jobs() -> list[dict] and async run_job(job_id) (KeyError
    for an unknown id), used by /sandbox/jobs. clock: what /sandbox/clock moves (by default a
    clock of the sandbox's own, at real time)."""
    app = web.Application(client_max_size=MAX_UPLOAD)
    state = SandboxState(bot_username=bot_username, jobs=jobs, clock=clock or ClockControl())
    app[STATE_KEY] = state
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # aiohttp's NotAppKeyWarning: the plain key is part of the contract
        app["sandbox"] = state
    app[STATIC_KEY] = Path(static_dir) if static_dir is not None else DEFAULT_STATIC
    setup_botapi(app)
    setup_control(app)
    app.router.add_get("/", index)
    app.router.add_get("/static/{path:.+}", static)
    app.on_shutdown.append(_release_waiters)
    app.on_cleanup.append(_stop_webhook)
    return app


async def _release_waiters(app: web.Application) -> None:
    get_state(app).close()


async def _stop_webhook(app: web.Application) -> None:
    await get_state(app).webhook_delivery.close()


def _serve(app: web.Application, rel: str) -> web.StreamResponse:
    root = app[STATIC_KEY].resolve()
    try:
        path = (root / rel).resolve()
        path.relative_to(root)
    except (ValueError, OSError):
        raise web.HTTPNotFound() from None
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


async def index(request: web.Request) -> web.StreamResponse:
    return _serve(request.app, "index.html")


async def static(request: web.Request) -> web.StreamResponse:
    return _serve(request.app, request.match_info["path"])

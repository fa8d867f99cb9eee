"""Starts bot processes (`xuexi-bot run`) by fork from one process that imported the bot already.

Importing aiogram and the bot takes seconds of CPU per start (aiogram.types builds its pydantic models),
and the crash tests start the bot dozens of times: this process pays it once. Each start is still a
process of its own (a fork before any event loop, database or socket exists) that `SIGKILL` ends with
no clean-up, exactly like `python -m bot run`; only the import is shared.

Protocol: one JSON line per start on stdin, {"env": {...}, "cwd": "...", "log": "..."}; the child's pid
comes back as one line on stdout. Children are reaped by the kernel (SIGCHLD ignored here), so a pid
that is gone is dead. Run as `python -m tests.support.bot_zygote`; it ends when stdin closes.
"""
from __future__ import annotations

import json
import os
import signal
import sys


def _child(spec: dict[str, object]) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    code = 1
    try:
        os.chdir(str(spec["cwd"]))
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in dict(spec["env"]).items()})  # type: ignore[call-overload]
        log = os.open(str(spec["log"]), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(log, 2)
        from bot.cli import main

        code = main(["run"])
    finally:
        os._exit(code)


def serve() -> None:
    import bot.app  # the expensive part (aiogram builds its models), done once here
    import bot.cli  # noqa: F401

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped at once: a dead pid is gone
    for line in sys.stdin:
        if not line.strip():
            continue
        spec = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(spec)
        print(pid, flush=True)


if __name__ == "__main__":
    serve()

"""Time you can move, end to end: POST /sandbox/clock moves the bot's clock and runs what fell due at
once; a bot process started against a `--no-bot` sandbox with CLOCK_OFFSET_SECONDS runs at the sandbox's
time, and what fell due while it was down runs at its start (LEARN-3 weekly draw, challenge time-outs)."""
from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.services.quiz import CHALLENGE_SECONDS, week_period
from bot.store import Store
from tests.support.factories import make_user
from tests.support.quiz_factories import make_bank
from tests.support.sandbox_client import Sandbox, SandboxProcess, SandboxUser

TZ = ZoneInfo("Asia/Shanghai")  # the bot's default zone: the weekly draw is Monday 00:00 there
MEMBER_ID = 720001
PHONE = "+8613912360001"
CLOSED = "本轮答题已结束。"


async def _prepare(path: Path) -> None:
    store = await Store.open(path)
    try:
        await make_user(store, MEMBER_ID, "王芳", phone=PHONE)
        await make_bank(store, 12)
    finally:
        await store.close()


def _next_monday(now: datetime) -> datetime:
    local = now.astimezone(TZ)
    return datetime.combine(local.date() + timedelta(days=7 - local.weekday()), datetime.min.time(), TZ)


def _start_challenge(u: SandboxUser, timeout: float = 20) -> dict:
    u.send("/start")
    menu = u.expect("请选择", timeout=timeout)
    u.press(menu, "挑战答题")
    return u.expect("请在 45 秒内作答")


def _press_first_option(sb: Sandbox, u: SandboxUser, question: dict) -> dict:
    button = question["reply_markup"]["inline_keyboard"][0][0]
    return sb.post(f"/sandbox/users/{u.id}/press",
                   {"message_id": question["message_id"], "data": button["callback_data"], "wait": 30})


def _rows(db_path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(db_path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.fixture
def clock_sandbox(tmp_path):
    path = tmp_path / "clock.sqlite3"
    asyncio.run(_prepare(path))
    proc = SandboxProcess(path)
    yield proc
    proc.stop()


def test_learn_3_moving_the_sandbox_clock_runs_due_work_at_once(clock_sandbox):
    sb, db = clock_sandbox.sandbox, clock_sandbox.db
    u = sb.user("王芳", phone=PHONE, id=MEMBER_ID)
    question = _start_challenge(u)
    before = sb.get("/sandbox/clock")
    assert before["offset_seconds"] == 0.0

    moved = sb.post("/sandbox/clock", {"advance": CHALLENGE_SECONDS + 15})
    assert moved["offset_seconds"] == CHALLENGE_SECONDS + 15
    # the sweep ran before the answer: the unattended challenge is over, nobody had to press anything
    assert _rows(db, "SELECT status FROM quiz_attempts WHERE kind = 'challenge'") != [("open",)]
    # and the person was told: the question lost its buttons, nothing is left to tap (issue 15)
    assert "超过作答时间" in u.expect("超过作答时间")["text"]
    assert not (u.current(question).get("reply_markup") or {}).get("inline_keyboard")

    monday = _next_monday(datetime.fromisoformat(moved["now"]))
    assert _rows(db, f"SELECT period FROM weekly_sets WHERE period = '{week_period(monday.date())}'") == []
    at = sb.post("/sandbox/clock", {"set": (monday + timedelta(seconds=5)).isoformat()})
    assert abs((datetime.fromisoformat(at["now"]) - monday).total_seconds() - 5) < 5
    assert _rows(db, "SELECT period, scope FROM weekly_sets") == [(week_period(monday.date()), 0)]
    rearmed = _rows(db, "SELECT due_at, done_at FROM due_work WHERE kind = 'weekly_draw'")
    assert [(datetime.fromisoformat(due), done) for due, done in rearmed] == [(monday + timedelta(days=7), None)]


def test_a_bot_started_with_the_sandbox_offset_runs_what_fell_due_while_it_was_down(tmp_path):
    """The sandbox alone in one process, the bot in another: the bot is stopped mid-challenge, the
    sandbox's clock moves past the time limit and over Monday 00:00, and a bot started with
    CLOCK_OFFSET_SECONDS set to the sandbox's offset ends the challenge and draws the week's set at start."""
    bot_db = tmp_path / "bot.sqlite3"
    asyncio.run(_prepare(bot_db))
    server = SandboxProcess(tmp_path / "server.sqlite3", args=["--no-bot"])
    sb = server.sandbox
    env = {**os.environ, "BOT_TOKEN": "1000000001:SANDBOX-token-for-local-use-only",
           "TELEGRAM_API_URL": sb.base, "DATABASE_PATH": str(bot_db),
           "SECRET_KEY": "clock-secret-key-0123456789"}

    def start_bot(offset: float) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bot", "run"], env={**env, "CLOCK_OFFSET_SECONDS": str(offset)},
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=(tmp_path / "bot.log").open("ab"))

    bot = start_bot(sb.get("/sandbox/clock")["offset_seconds"])
    try:
        u = sb.user("王芳", phone=PHONE, id=MEMBER_ID)
        question = _start_challenge(u, timeout=60)
        bot.terminate()
        bot.wait(timeout=10)

        monday = _next_monday(datetime.fromisoformat(sb.get("/sandbox/clock")["now"]))
        moved = sb.post("/sandbox/clock", {"set": (monday + timedelta(seconds=30)).isoformat()})
        assert _rows(bot_db, "SELECT status FROM quiz_attempts") == [("open",)]  # nothing ran: no bot
        assert _rows(bot_db, "SELECT period FROM weekly_sets") == []

        bot = start_bot(moved["offset_seconds"])
        # the answer comes from the new bot, after its first sweep
        assert _press_first_option(sb, u, question)["answer"]["text"] == CLOSED
        assert _rows(bot_db, "SELECT period FROM weekly_sets") == [(week_period(monday.date()),)]
        [(due_at,)] = _rows(bot_db, "SELECT due_at FROM due_work WHERE kind = 'weekly_draw' AND done_at IS NULL")
        assert datetime.fromisoformat(due_at) == monday + timedelta(days=7)  # re-armed by the moved clock
    finally:
        bot.terminate()
        bot.wait(timeout=10)
        server.stop()

"""Issue 15 end to end over the sandbox: a challenge question left unanswered past its time limit is
ended by the sweep when the clock moves: the question's buttons go, it says time is up, and the person
is told the right answer, the streak and the points in a new message."""
from __future__ import annotations

import asyncio
import re
import sqlite3

import pytest

from bot.services.quiz import CHALLENGE_SECONDS
from bot.store import Store
from tests.support.factories import make_user
from tests.support.quiz_factories import make_bank
from tests.support.sandbox_client import SandboxProcess

MEMBER_ID = 730001
PHONE = "+8613912370001"


async def _prepare(path) -> None:
    store = await Store.open(path)
    try:
        await make_user(store, MEMBER_ID, "王芳", phone=PHONE)
        await make_bank(store, 12)
    finally:
        await store.close()


@pytest.fixture
def timeout_sandbox(tmp_path):
    path = tmp_path / "timeout.sqlite3"
    asyncio.run(_prepare(path))
    proc = SandboxProcess(path)
    yield proc
    proc.stop()


def _right(msg) -> str:
    return re.search(r"答案是 ([A-D])", msg["text"]).group(1)


def test_challenge_time_out_is_told_and_the_question_closed_when_the_clock_moves(timeout_sandbox):
    sb = timeout_sandbox.sandbox
    u = sb.user("王芳", phone=PHONE, id=MEMBER_ID)
    u.send("/start")
    u.press(u.expect("请选择"), "挑战答题")
    first = u.expect("请在 45 秒内作答")
    u.press(first, _right(first))
    second = u.expect("已连续答对 1 题")
    waiting = _right(second)

    sb.post("/sandbox/clock", {"advance": CHALLENGE_SECONDS + 15})
    told = u.expect("超过作答时间")
    assert f"正确答案：{waiting}." in told["text"] and "连续答对：1 题" in told["text"]
    assert "积分" in told["text"]
    labels = [b["text"] for row in told["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["⚔️ 再次挑战", "📕 错题本"]
    closed = u.current(second)
    assert "时间到" in closed["text"] and not (closed.get("reply_markup") or {}).get("inline_keyboard")
    db = sqlite3.connect(timeout_sandbox.db)
    try:
        assert db.execute("SELECT status, total, correct FROM quiz_attempts").fetchall() == [("submitted", 2, 1)]
    finally:
        db.close()
    # the next challenge starts from the push's button
    u.press(told, "再次挑战")
    assert "第 1 题" in u.expect("请在 45 秒内作答")["text"]

"""LEARN-6 special exams end to end over the sandbox, the clock moved by POST /sandbox/clock:
start, answer half, leave, resume, finish in time (score right); run-outs under `reset` (answers gone,
must start again), `submit` (scored as answered) and `grace` (submit only); and the bot process killed
(SIGKILL) mid-attempt and started again keeps the remaining time and still enforces the deadline."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import Clock
from bot.store import Store
from tests.support.exam_factories import exam_world, published_exam
from tests.support.sandbox_client import SandboxProcess, SandboxUser

TZ = ZoneInfo("Asia/Shanghai")
MEMBER_ID = 510002
PHONE = "+8613800510002"  # make_user's phone for MEMBER_ID


async def _prepare(path: Path, *specs: dict) -> None:
    store = await Store.open(path)
    try:
        world = await exam_world(store)
        clock = Clock(TZ)
        for spec in specs:
            await published_exam(store, clock, world, **spec)
    finally:
        await store.close()


def _rows(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    db = sqlite3.connect(db_path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def _right(msg: dict) -> str:
    return re.search(r"答案是 ([A-D])", msg["text"]).group(1)


def _start(u: SandboxUser, title: str, *, timeout: float = 20) -> tuple[dict, dict]:
    u.send("/exams")
    listing = u.expect(title, timeout=timeout)
    u.press(listing, f"参加：{title}")
    u.press(u.expect("确定开始吗"), "开始作答")
    header = u.expect("截止")
    return header, u.expect("第 1/4 题")


def _answer(u: SandboxUser, question: dict, n: int, *, right: bool = True) -> dict:
    letter = _right(question) if right else ("B" if _right(question) != "B" else "C")
    u.press(question, letter)
    return u.expect(lambda m: f"第 {min(n + 1, 4)}/4 题" in (m.get("text") or "") and f"已答 {n} 题" in m["text"])


def _press_answer(u: SandboxUser, question: dict, letter: str = "A") -> str:
    for row in question["reply_markup"]["inline_keyboard"]:
        for button in row:
            if button["text"].endswith(letter):
                out = u.sb.post(f"/sandbox/users/{u.id}/press", {"message_id": question["message_id"],
                                                                 "data": button["callback_data"], "wait": 30})
                return out["answer"]["text"]
    raise AssertionError("no option button")


@pytest.fixture
def exam_sandbox(tmp_path):
    path = tmp_path / "exams.sqlite3"
    asyncio.run(_prepare(path, {"title": "考试一", "policy": "submit", "minutes": 10},
                         {"title": "考试二", "policy": "reset", "minutes": 5},
                         {"title": "考试三", "policy": "submit", "minutes": 5},
                         {"title": "考试四", "policy": "grace", "minutes": 5, "grace": 120}))
    proc = SandboxProcess(path)
    yield proc
    proc.stop()


def test_learn_6_take_leave_resume_finish_and_the_three_time_out_policies(exam_sandbox):
    sb, db = exam_sandbox.sandbox, exam_sandbox.db
    u = sb.user("王芳", phone=PHONE, id=MEMBER_ID)

    # start, answer half, leave, resume, finish in time
    header, q1 = _start(u, "考试一")
    assert "剩余 10:00" in header["text"] or "剩余 09:5" in header["text"]
    q2 = _answer(u, q1, 1)
    q3 = _answer(u, q2, 2)
    u.send("/cancel")  # leaving: the answers stay in the store, the clock keeps running
    u.expect(lambda m: "取消" in (m.get("text") or "") or "没有进行中的操作" in (m.get("text") or ""))
    sb.post("/sandbox/clock", {"advance": 120})
    u.send("/exams")
    listing = u.expect("作答中")
    assert re.search(r"剩余 0[78]:\d\d", listing["text"])
    u.press(listing, "继续作答：考试一")
    resumed_header = u.expect("截止")
    assert re.search(r"剩余 0[78]:\d\d", resumed_header["text"])
    q3 = u.expect(lambda m: "第 3/4 题" in (m.get("text") or "") and "已答 2 题" in m["text"])
    q4 = _answer(u, q3, 3)
    u.press(q4, "B" if _right(q4) != "B" else "C")  # the last one wrong
    last = u.expect(lambda m: "已答 4 题" in (m.get("text") or ""))
    u.press(last, "交卷")
    done = u.expect("已交卷")
    assert "得分：3/4（正确率 75%）" in done["text"] and "✅ 通过" in done["text"]
    u.expect("答案与解析")

    # reset: the answers are gone and it must be started again
    _h, q1 = _start(u, "考试二")
    q2 = _answer(u, q1, 1)
    sb.post("/sandbox/clock", {"advance": 5 * 60 + 2})
    u.expect("本次作答已清空")
    assert _press_answer(u, q2) == "这次作答已结束（这是之前一次作答的按钮）。发送 /exams 查看。"
    [(attempt_id, status)] = _rows(db, "SELECT a.id, a.status FROM exam_attempts a JOIN exams e ON e.id = a.exam_id "
                                       "WHERE e.title = '考试二'")
    assert status == "reset" and _rows(db, "SELECT * FROM exam_answers WHERE attempt_id = ?", (attempt_id,)) == []
    u.send("/exams")
    assert "参加：考试二" in str(u.expect("考试二")["reply_markup"])

    # submit: scored as answered
    _h, q1 = _start(u, "考试三")
    q2 = _answer(u, q1, 1)
    _answer(u, q2, 2)
    sb.post("/sandbox/clock", {"advance": 5 * 60 + 2})
    auto = u.expect("自动交卷")
    assert "得分：2/4（正确率 50%）" in auto["text"]

    # grace: only submitting is left
    _h, q1 = _start(u, "考试四")
    q2 = _answer(u, q1, 1)
    sb.post("/sandbox/clock", {"advance": 5 * 60 + 2})
    grace = u.expect("宽限期 2 分钟内只能交卷")
    assert _press_answer(u, q2) == "时间已到，宽限期内只能交卷，不能再作答。"
    u.press(grace, "交卷")
    assert "得分：1/4" in u.expect("考试四 已交卷")["text"]


def test_learn_6_deadline_after_restart(tmp_path):
    """The sandbox alone, the bot its own process: SIGKILLed mid-attempt, started again with the
    sandbox's offset it shows the time still left; killed again and started after the deadline,
    it applies the deadline at start and refuses the old buttons."""
    bot_db = tmp_path / "bot.sqlite3"
    asyncio.run(_prepare(bot_db, {"title": "考试一", "policy": "submit", "minutes": 10}))
    server = SandboxProcess(tmp_path / "server.sqlite3", args=["--no-bot"])
    sb = server.sandbox
    env = {**os.environ, "BOT_TOKEN": "1000000001:SANDBOX-token-for-local-use-only", "TELEGRAM_API_URL": sb.base,
           "DATABASE_PATH": str(bot_db), "SECRET_KEY": "exam-secret-key-0123456789"}

    def start_bot() -> subprocess.Popen:
        offset = sb.get("/sandbox/clock")["offset_seconds"]
        return subprocess.Popen([sys.executable, "-m", "bot", "run"], env={**env, "CLOCK_OFFSET_SECONDS": str(offset)},
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=(tmp_path / "bot.log").open("ab"))

    def kill(proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    bot = start_bot()
    try:
        u = sb.user("王芳", phone=PHONE, id=MEMBER_ID)
        _h, q1 = _start(u, "考试一", timeout=60)
        _answer(u, q1, 1)
        kill(bot)
        sb.post("/sandbox/clock", {"advance": 240})
        bot = start_bot()
        u.send("/exams")
        listing = u.expect("作答中", timeout=60)
        assert re.search(r"剩余 05:\d\d", listing["text"]), listing["text"]  # 10 min - 4 min - the restart
        u.press(listing, "继续作答：考试一")
        q2 = u.expect(lambda m: "第 2/4 题" in (m.get("text") or "") and "已答 1 题" in m["text"])
        q3 = _answer(u, q2, 2)
        kill(bot)
        sb.post("/sandbox/clock", {"advance": 400})
        assert _rows(bot_db, "SELECT status FROM exam_attempts") == [("open",)]  # no bot: nothing ran
        bot = start_bot()
        auto = u.expect("自动交卷", timeout=60)  # the sweep at start applied the deadline
        assert "得分：2/4" in auto["text"]
        assert _rows(bot_db, "SELECT status, timed_out, correct FROM exam_attempts") == [("submitted", 1, 2)]
        assert _press_answer(u, q3, "A") == "这次作答已结束（这是之前一次作答的按钮）。发送 /exams 查看。"
    finally:
        bot.terminate()
        bot.wait(timeout=10)
        server.stop()

"""LEARN-2, LEARN-3 end to end over the sandbox: a member takes the daily quiz, changes one answer,
submits, sees the explanations and gets exactly the capped points; a second round the same day earns
nothing more; the weekly quiz cannot be scored twice."""
from __future__ import annotations

import asyncio
import re
import sqlite3

import pytest

from bot.store import Store
from tests.support.factories import make_member, make_org, make_user
from tests.support.quiz_factories import make_bank
from tests.support.sandbox_client import SandboxProcess

ADMIN_ID, MEMBER_ID = 710001, 710002
MEMBER_PHONE = "+8613912350002"


async def _prepare(path) -> None:
    store = await Store.open(path)
    try:
        await make_user(store, ADMIN_ID, "李管理", verified=True)
        await make_user(store, MEMBER_ID, "王芳", phone=MEMBER_PHONE)
        org = await make_org(store, "中共某村支部委员会", ADMIN_ID, certified=True)
        await make_member(store, org, "王芳", MEMBER_PHONE, activated=True)
        await make_bank(store, 7)
    finally:
        await store.close()


@pytest.fixture
def quiz_sandbox(tmp_path):
    path = tmp_path / "quiz.sqlite3"
    asyncio.run(_prepare(path))
    proc = SandboxProcess(path)
    yield proc
    proc.stop()


def _right(msg) -> str:
    return re.search(r"答案是 ([A-D])", msg["text"]).group(1)


def _answer_rest(u, msg, total: int) -> dict:
    """Answers the shown question and those after it right; returns the last question's message."""
    while True:
        n = int(re.search(r"第 (\d+)/\d+ 题", msg["text"]).group(1))
        u.press(msg, _right(msg))
        if n == total:
            return u.expect("已是最后一题")
        msg = u.expect(f"第 {n + 1}/{total} 题")


def _points(db, source: str) -> list[int]:
    return [r[0] for r in db.execute("SELECT amount FROM points WHERE user_id = ? AND source = ?",
                                     (MEMBER_ID, source))]


def test_learn_2_3_daily_and_weekly_quiz_end_to_end(quiz_sandbox):
    sb = quiz_sandbox.sandbox
    db = sqlite3.connect(quiz_sandbox.db)
    u = sb.user("王芳", phone=MEMBER_PHONE, id=MEMBER_ID)
    u.send("/quiz")
    q1 = u.expect("第 1/5 题")
    wrong = "B" if _right(q1) != "B" else "C"
    u.press(q1, wrong)
    q2 = u.expect("第 2/5 题")
    u.press(q2, "上一题")
    back = u.expect(lambda m: "第 1/5 题" in m.get("text", "") and f"您的答案：{wrong}" in m.get("text", ""))
    last = _answer_rest(u, back, 5)
    u.press(last, "交卷")
    done = u.expect("已交卷")
    assert "5/5（100%）" in done["text"] and "获得积分：5 分" in done["text"] and "用时" in done["text"]
    review = u.expect("答案与解析")
    assert "解析1" in review["text"] or "解析" in review["text"]
    assert _points(db, "daily") == [5]
    answers = db.execute("SELECT answer FROM quiz_items WHERE position = 0").fetchall()
    assert answers == [(f'["{_right(q1)}"]',)]  # the changed answer is the one kept

    # a second round the same day: allowed, nothing more to earn
    u.send("/quiz")
    last = _answer_rest(u, u.expect("第 1/5 题"), 5)
    u.press(last, "交卷")
    assert "已达上限" in u.expect("已交卷")["text"]
    assert _points(db, "daily") == [5]

    assert db.execute("SELECT COUNT(*) FROM quiz_attempts WHERE status = 'submitted'").fetchone()[0] == 2

    # the weekly quiz: scored once, then practice
    u.send("/weekly")
    last = _answer_rest(u, u.expect("第 1/7 题"), 7)
    u.press(last, "交卷")
    assert "获得积分：7 分" in u.expect("已交卷")["text"]
    u.send("/weekly")
    practice = u.expect("第 1/7 题")
    assert "这一轮为练习，不计积分" in practice["text"]
    last = _answer_rest(u, practice, 7)
    u.press(last, "交卷")
    assert "不计积分" in u.expect("已交卷")["text"]
    assert _points(db, "weekly") == [7]
    scored = db.execute("SELECT COUNT(*) FROM quiz_attempts WHERE kind = 'weekly' AND scored = 1").fetchone()[0]
    assert scored == 1

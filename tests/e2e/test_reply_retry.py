"""A handler's two-call replies under Telegram's 1 message/s per chat (bot/reply_retry.py): with the
sandbox's strict per-chat limit at 1 call/s, a member answering at once gets each next question, and
the submit's result edit AND the review message after it; the second call's 429 is waited out, so no
apology is sent."""
from __future__ import annotations

import asyncio
import re

import pytest

from tests.e2e.test_quiz import MEMBER_ID, MEMBER_PHONE, _prepare  # the same member, organisation and bank
from tests.support.sandbox_client import SandboxProcess

APOLOGY = "抱歉，处理时出了点问题"


@pytest.fixture
def limited_sandbox(tmp_path):
    path = tmp_path / "retry.sqlite3"
    asyncio.run(_prepare(path))
    proc = SandboxProcess(path)
    yield proc
    proc.stop()


def test_quiz_submit_under_one_call_per_second_shows_the_result_and_the_review(limited_sandbox):
    sb = limited_sandbox.sandbox
    u = sb.user("王芳", phone=MEMBER_PHONE, id=MEMBER_ID)
    sb.post("/sandbox/reset")
    sb.post("/sandbox/faults", {"rate_limit": {"per_chat_per_s": 1}})
    u.send("/quiz")
    msg = u.expect("第 1/5 题")
    for n in range(1, 6):  # each press at once after the reply: the bot's next call in the chat is within 1 s
        u.press(msg, re.search(r"答案是 ([A-D])", msg["text"]).group(1), wait=10)
        msg = u.expect(f"第 {n + 1}/5 题" if n < 5 else "已是最后一题")
    u.press(msg, "交卷", wait=10)
    done = u.expect("已交卷")
    assert "5/5（100%）" in done["text"]
    u.expect("答案与解析")  # the call right after the result edit: a 429, waited out
    chat = [m.get("text") or "" for m in u.messages() if m["from"] == "bot"]
    assert not [text for text in chat if APOLOGY in text]
    assert sb.get("/sandbox/stats")["rate_limited"] > 0  # the limit did bite (the test is not vacuous)

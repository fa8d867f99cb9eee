"""Issue 13's crash test: the bot process is SIGKILLed in the middle of a 1,000-push batch and
started again on the same database: every push is delivered, and only the rows in flight at the
kill (claimed 'sending', not yet marked 'sent') can have been sent twice. The sandbox runs alone
(`--no-bot`), the bot in a process of its own, like test_registration_survives_a_restart_of_the_bot."""
from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.outbox import text_push
from bot.store import Store
from tests.support.sandbox_client import SandboxProcess

PUSHES, CHATS, RATE = 1000, 500, 200


async def _fill(db_path, ids: list[int]) -> None:
    store = await Store.open(db_path)
    now = datetime.now(ZoneInfo("Asia/Shanghai")).isoformat()
    await store.enqueue_pushes([text_push(ids[i % CHATS], f"push #{i}") for i in range(PUSHES)], now)
    await store.close()


def _counts(db_path) -> dict[str, int]:
    db = sqlite3.connect(db_path, timeout=10)
    try:
        return dict(db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    finally:
        db.close()


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_issue13_outbox_sigkill_mid_batch_every_push_delivered_duplicates_bounded(tmp_path):
    server = SandboxProcess(tmp_path / "server.sqlite3", args=["--no-bot"])
    sb = server.sandbox
    db_path = tmp_path / "bot.sqlite3"
    env = {**os.environ, "BOT_TOKEN": "1000000001:SANDBOX-token-for-local-use-only",
           "TELEGRAM_API_URL": sb.base, "DATABASE_PATH": str(db_path),
           "SECRET_KEY": "crash-secret-key-0123456789", "OUTBOX_RATE": str(RATE), "OUTBOX_PAID_BROADCAST": "1"}

    def start_bot() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=(tmp_path / "bot.log").open("ab"))

    def sent_calls() -> int:
        return sb.get("/sandbox/stats")["calls"].get("sendMessage", 0)

    bot = None
    try:
        ids = [sb.user(f"u{i}").id for i in range(CHATS)]
        sb.post("/sandbox/faults", {"rate_limit": {"global_per_s": int(RATE * 1.1), "per_chat_per_s": 1}})
        asyncio.run(_fill(db_path, ids))
        bot = start_bot()
        _wait(lambda: sent_calls() >= 300, 60, "the first 300 sends")
        bot.kill()  # SIGKILL: no clean-up at all
        bot.wait(timeout=10)
        at_kill = _counts(db_path)
        in_flight = at_kill.get("sending", 0)
        assert at_kill.get("pending", 0) > 0, f"the kill came after the batch: {at_kill}"
        bot = start_bot()
        _wait(lambda: _counts(db_path) == {"sent": PUSHES}, 60, "every push sent")
        received: Counter[str] = Counter()
        for uid in ids:
            received.update(m["text"] for m in sb.get(f"/sandbox/users/{uid}/messages")["messages"]
                            if m["from"] == "bot")
        twice = sum(n - 1 for n in received.values() if n > 1)
        print(f"crash test: killed after {at_kill.get('sent', 0)} marked sent, {in_flight} in flight, "
              f"{at_kill.get('pending', 0)} pending; sent twice: {twice}")
        assert set(received) == {f"push #{i}" for i in range(PUSHES)}  # every push delivered
        assert twice <= in_flight  # at most the ones in flight at the kill
        assert max(received.values()) <= 2
    finally:
        if bot is not None and bot.poll() is None:
            bot.terminate()
            bot.wait(timeout=10)
        server.stop()

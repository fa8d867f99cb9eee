"""Webhook mode end to end (issue 17): the sandbox POSTs updates to the bot's webhook server over HTTP.

- `xuexi-bot sandbox --webhook`: registration works as with long polling, and no getUpdates is ever made;
- a bot process `xuexi-bot run --webhook` against a `--no-bot` sandbox: a request without the secret
  token (or with another) gets 401 and nothing is handled; the bot SIGKILLed right after it answered 200
  for a 3,000-row member upload imports it after the restart, once; a delivery answered 500 (a proxy
  in front of the bot failing after the bot took the update) is delivered again and handled once.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e import test_registration as registration
from tests.e2e.test_inbox import ADMIN_ID, PHONE, ROWS, WAIT, _member_file, _prepare, _rows
from tests.support.sandbox_client import Sandbox, SandboxProcess, free_port

TOKEN = "1000000001:SANDBOX-token-for-local-use-only"
SECRET = "e2e-webhook-secret_0123456789"
PATH = "/telegram/webhook"


def webhook_info(sb: Sandbox) -> dict[str, Any]:
    return sb.get(f"/bot{TOKEN}/getWebhookInfo")["result"]


def post_update(url: str, update: dict[str, Any], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    req = urllib.request.Request(url, data=json.dumps(update).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def wait_for(check, what: str, timeout: float = WAIT, every: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(every)


def test_sandbox_webhook_mode_registration_works_without_get_updates(tmp_path):
    proc = SandboxProcess(tmp_path / "sandbox.sqlite3", args=["--webhook"])
    try:
        sb = proc.sandbox
        registration.test_reg_full_flow_and_main_menu(sb)
        calls = sb.get("/sandbox/stats")["calls"]
        assert calls.get("setWebhook") == 1 and "getUpdates" not in calls and "deleteWebhook" not in calls
        info = webhook_info(sb)
        assert info["url"].startswith("http://127.0.0.1:") and info["url"].endswith(PATH)
        assert info["pending_update_count"] == 0 and "last_error_date" not in info
    finally:
        proc.stop()


class WebhookBot:
    """`xuexi-bot run --webhook` in a child process, posted to by a `--no-bot` sandbox."""

    def __init__(self, tmp_path: Path, sb: Sandbox, db: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self.tmp_path = tmp_path
        self.env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": sb.base, "DATABASE_PATH": str(db),
                    "SECRET_KEY": "webhook-secret-key-0123456789", "WEBHOOK_URL": f"http://127.0.0.1:{self.port}",
                    "WEBHOOK_PORT": str(self.port), "WEBHOOK_SECRET": SECRET}
        self.sb = sb
        self.proc = self.start()

    def start(self) -> subprocess.Popen:
        before = self.sb.get("/sandbox/stats")["calls"].get("setWebhook", 0)
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--webhook"], cwd=self.tmp_path, env=self.env,
                                stdout=subprocess.DEVNULL, stderr=(self.tmp_path / "bot.log").open("ab"))
        wait_for(lambda: self.sb.get("/sandbox/stats")["calls"].get("setWebhook", 0) > before or proc.poll() is not None,
                 "the bot never set its webhook")
        assert proc.poll() is None, self.log()[-3000:]
        return proc

    def log(self) -> str:
        return (self.tmp_path / "bot.log").read_text(errors="replace")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def test_bot_process_in_webhook_mode(tmp_path):
    bot_db = tmp_path / "bot.sqlite3"
    asyncio.run(_prepare(bot_db))
    server = SandboxProcess(tmp_path / "server.sqlite3", args=["--no-bot"])
    sb = server.sandbox
    bot = WebhookBot(tmp_path, sb, bot_db)
    try:
        info = webhook_info(sb)
        assert info["url"] == bot.url and info["max_connections"] == 40
        a = sb.user("陈主任", phone=PHONE, id=ADMIN_ID)

        # -- a request without the secret, or with another, is refused and nothing is handled --------
        forged = {"update_id": 900001, "message": {
            "message_id": 1, "date": int(time.time()), "chat": {"id": ADMIN_ID, "type": "private"},
            "from": {"id": ADMIN_ID, "is_bot": False, "first_name": "陈主任"}, "text": "/help"}}
        assert post_update(bot.url, forged, None) == 401
        assert post_update(bot.url, forged, "guessed-secret-0123456789") == 401
        a.send("/start")  # a real update after the forged ones: its answer is the first thing in the chat
        first = a.expect(lambda m: True, WAIT)
        assert [m["message_id"] for m in a.messages()] == [1, first["message_id"]]  # nothing for the forged /help
        assert _rows(bot_db, "SELECT COUNT(*) FROM inbox WHERE update_id = 900001") == [(0,)]

        # -- a delivery answered 500 after the bot took it: delivered again, handled once -------------
        sb.post("/sandbox/faults", {"fail": [{"method": "webhook", "status": 500, "count": 1}]})
        a.send("/help")
        a.expect(lambda m: True, WAIT)
        wait_for(lambda: webhook_info(sb)["pending_update_count"] == 0, "the /help was never confirmed")
        info = webhook_info(sb)
        assert info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
        assert sb.get("/sandbox/faults")["fail"] == []  # the one failure was used
        time.sleep(1)  # a second handling would have answered by now
        help_update = _rows(bot_db, "SELECT update_id, done_at IS NOT NULL FROM inbox WHERE body LIKE '%/help%'")
        assert len(help_update) == 1 and help_update[0][1] == 1
        after_help = [m for m in a.messages() if m["message_id"] > first["message_id"]]
        assert len([m for m in after_help if m["from"] == "user"]) == 1
        replies = [m for m in after_help if m["from"] == "bot"]
        assert len(replies) == 1, [m.get("text") for m in replies]  # one answer to one /help

        # -- killed right after answering 200 for a long import: imported after the restart, once -----
        data = _member_file(a)
        a.send("/import")
        a.expect("批量导入成员到", WAIT)
        a.upload("document", "成员名单.xlsx", data)

        def confirmed_and_stored() -> tuple[int, str | None] | None:
            found = _rows(bot_db, "SELECT update_id, done_at FROM inbox WHERE body LIKE '%\"document\"%'")
            return found[0] if found and webhook_info(sb)["pending_update_count"] == 0 else None

        update_id, done = wait_for(confirmed_and_stored, "the upload was never stored and answered")
        bot.kill()
        assert done is None  # killed in flight: stored, confirmed to Telegram, not handled
        assert _rows(bot_db, "SELECT COUNT(*) FROM members") == [(0,)]
        assert webhook_info(sb)["pending_update_count"] == 0  # Telegram will not deliver it again
        assert not any("导入结果" in (m.get("text") or "") for m in a.messages())

        bot.proc = bot.start()
        summary = a.expect("导入结果", WAIT)
        assert f"新增：{ROWS} 人" in summary["text"], summary["text"]
        assert _rows(bot_db, "SELECT COUNT(*) FROM members") == [(ROWS,)]
        wait_for(lambda: _rows(bot_db, f"SELECT done_at IS NOT NULL FROM inbox WHERE update_id = {update_id}")
                 == [(1,)], "the update was handled but never marked done", 10)
        assert _rows(bot_db, f"SELECT tries FROM inbox WHERE update_id = {update_id}") == [(1,)]  # one restart
        time.sleep(1)
        assert len([m for m in a.messages() if "导入结果" in (m.get("text") or "")]) == 1
    except AssertionError:
        print(bot.log()[-4000:])
        raise
    finally:
        bot.stop()
        server.stop()

"""Issue 16, no update lost, end to end: a bot process (against a `--no-bot` sandbox) is SIGKILLed while
it imports a 3,000-row member file, after the upload was stored in its inbox and before the import
finished; the bot started again imports the file and tells the admin, once."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import BytesIO
from pathlib import Path

import openpyxl

from bot.store import Store
from tests.support.factories import make_org, make_user
from tests.support.sandbox_client import SandboxProcess, SandboxUser, free_port

ADMIN_ID = 730001
PHONE = "+8613912370001"
ORG = "中共崩溃测试工作委员会"
BRANCHES = ("第一党支部", "第二党支部")
ROWS = 3000
WAIT = 90


async def _prepare(path: Path) -> None:
    store = await Store.open(path)
    try:
        await make_user(store, ADMIN_ID, "陈主任", phone=PHONE, verified=True)
        await make_org(store, ORG, ADMIN_ID, branches=BRANCHES)
    finally:
        await store.close()


def _rows(db_path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(db_path, timeout=10)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _member_file(a: SandboxUser) -> bytes:
    a.send("/template")
    msg = a.expect(lambda m: "document" in m and ORG in (m.get("caption") or ""), WAIT)
    book = openpyxl.load_workbook(BytesIO(a.sb.file(msg["document"]["url"])))
    sheet = book.worksheets[0]
    for n in range(1, ROWS + 1):
        sheet.append([f"学员{n:04d}", f"1376{n:07d}", BRANCHES[n % 2], ""])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _upload_stored(db: Path, timeout: float = 60) -> tuple[int, str | None]:
    """The inbox row of the upload as soon as the bot has committed it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _rows(db, "SELECT update_id, done_at FROM inbox WHERE body LIKE '%\"document\"%'")
        if found:
            return found[0]
        time.sleep(0.002)
    raise AssertionError("the upload never reached the bot's inbox")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_an_import_killed_mid_way_is_imported_after_the_restart(tmp_path):
    bot_db = tmp_path / "bot.sqlite3"
    asyncio.run(_prepare(bot_db))
    server = SandboxProcess(tmp_path / "server.sqlite3", args=["--no-bot"])
    sb = server.sandbox
    env = {**os.environ, "BOT_TOKEN": "1000000001:SANDBOX-token-for-local-use-only",
           "TELEGRAM_API_URL": sb.base, "DATABASE_PATH": str(bot_db), "SECRET_KEY": "inbox-secret-key-0123456789"}

    metrics = f"http://127.0.0.1:{free_port()}"

    def start_bot() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path,
                                env={**env, "METRICS_PORT": metrics.rsplit(":", 1)[1]},
                                stdout=subprocess.DEVNULL, stderr=(tmp_path / "bot.log").open("ab"))

    bot = start_bot()
    try:
        a = sb.user("陈主任", phone=PHONE, id=ADMIN_ID)
        data = _member_file(a)
        a.send("/import")
        a.expect("批量导入成员到", WAIT)
        a.upload("document", "成员名单.xlsx", data)
        update_id, done = _upload_stored(bot_db)
        os.kill(bot.pid, signal.SIGKILL)
        bot.wait(timeout=10)

        # killed in flight: stored, not done, nothing imported, nobody told
        assert done is None
        assert _rows(bot_db, f"SELECT done_at FROM inbox WHERE update_id = {update_id}") == [(None,)]
        assert _rows(bot_db, "SELECT COUNT(*) FROM members") == [(0,)]
        assert not any("导入结果" in (m.get("text") or "") for m in a.messages())

        bot = start_bot()
        summary = a.expect("导入结果", WAIT)
        assert f"新增：{ROWS} 人" in summary["text"], summary["text"]
        assert _rows(bot_db, "SELECT COUNT(*) FROM members") == [(ROWS,)]
        deadline = time.monotonic() + 10  # the done mark is written right after the reply was sent
        while _rows(bot_db, f"SELECT done_at IS NULL FROM inbox WHERE update_id = {update_id}") != [(0,)]:
            assert time.monotonic() < deadline, "the update was handled but never marked done"
            time.sleep(0.05)
        assert _rows(bot_db, f"SELECT tries FROM inbox WHERE update_id = {update_id}") == [(1,)]  # one restart
        time.sleep(1)  # anything the update caused twice would be in the chat by now
        results = [m for m in a.messages() if "导入结果" in (m.get("text") or "")]
        assert len(results) == 1

        # the bot's own metrics port: healthy, and the recovered upload counted
        status, health = _get(f"{metrics}/healthz")
        assert status == 200 and json.loads(health)["polling"] is True, health
        status, text = _get(f"{metrics}/metrics")
        assert status == 200 and 'xuexi_updates_total{type="message"} 1.0' in text, (
            _rows(bot_db, "SELECT update_id, done_at, tries FROM inbox"), (tmp_path / "bot.log").read_text()[-3000:],
            [m.get("text") for m in a.messages()][-4:])
    finally:
        if bot.poll() is None:
            bot.terminate()
            bot.wait(timeout=10)
        server.stop()

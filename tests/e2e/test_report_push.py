"""REP-5 end to end: the sandbox alone in one process (--no-bot), the bot in another, given the sandbox's
moved time through CLOCK_OFFSET_SECONDS. Two recipients at 08:00 each get exactly one report with a
chart; the bot is killed (SIGKILL) and restarted at 08:00:30 and nobody gets a second one; a third
recipient who blocked the bot is shown to the admin as unreachable; a slot missed while the bot was
stopped arrives when it starts."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.clock import FakeClock
from bot.repositories.reports import SettingsRow
from bot.services import reports as svc
from bot.services.roles import Actor
from bot.store import Store
from tests.support.factories import make_member, make_org, make_user
from tests.support.sandbox_client import Sandbox, SandboxProcess

TZ = ZoneInfo("Asia/Shanghai")
PHONES = {"admin": "+8613911110000", "r1": "+8613911110001", "r2": "+8613911110002", "r3": "+8613911110003"}


async def prepare(db: Path, ids: dict[str, int], day: date) -> None:
    """The organisation, its admin and three members straight into the bot's database; the report is
    on at 08:00 for the three."""
    store = await Store.open(db)
    try:
        await make_user(store, ids["admin"], "管理员", PHONES["admin"], verified=True)
        for key, name in (("r1", "王芳"), ("r2", "李强"), ("r3", "赵敏")):
            await make_user(store, ids[key], name, PHONES[key])
        org = await make_org(store, "县委宣传部学习组织", ids["admin"], branches=["第一支部"], certified=True)
        for key, name in (("r1", "王芳"), ("r2", "李强"), ("r3", "赵敏")):
            await make_member(store, org, name, PHONES[key], "第一支部", activated=True)
        async with store.raw_tx() as db_:
            await db_.execute("DELETE FROM member_history")
            await db_.execute("INSERT INTO member_history (org_id, branch_id, phone, start_day) "
                              "SELECT org_id, branch_id, phone, '2026-10-01' FROM members")
            await db_.execute("UPDATE users SET registered_at = '2026-10-01T09:00:00+08:00'")
        # the admin saved the settings at 07:00: each recipient's 08:00 slot of that day is armed
        admin = Actor(user=await store.get_user(ids["admin"]), admin_org_ids=frozenset({org}))
        clock = FakeClock(TZ, datetime.combine(day, datetime.min.time().replace(hour=7), tzinfo=TZ))
        await svc.save_settings(store, clock, admin, SettingsRow(org, True, "08:00", "chart", None, 3,
                                                                 (ids["r1"], ids["r2"], ids["r3"])))
    finally:
        await store.close()


def reports_of(sb: Sandbox, uid: int) -> tuple[list[str], int]:
    """(the report texts, how many photos) the person has received."""
    msgs = [m for m in sb.get(f"/sandbox/users/{uid}/messages?after=0")["messages"] if m["from"] == "bot"]
    return [m["text"] for m in msgs if "每日学习报表" in (m.get("text") or "")], sum(1 for m in msgs if m.get("photo"))


def wait_for(check, timeout: float = 60, what=lambda: None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what()}")
        time.sleep(0.3)


def test_rep_5_daily_push_exactly_once_across_kill_and_missed_slot(tmp_path):
    server = SandboxProcess(tmp_path / "server.sqlite3", args=["--no-bot"])
    sb = server.sandbox
    users = {k: sb.user(name, phone=PHONES[k]) for k, name in
             (("admin", "管理员"), ("r1", "王芳"), ("r2", "李强"), ("r3", "赵敏"))}
    ids = {k: u.id for k, u in users.items()}
    db = tmp_path / "bot.sqlite3"
    today = datetime.now(TZ).date() + timedelta(days=1)
    asyncio.run(prepare(db, ids, today))
    sb.post(f"/sandbox/users/{ids['r3']}/block")

    offset = sb.post("/sandbox/clock", {"set": f"{today}T07:59:50+08:00"})["offset_seconds"]
    env = {**os.environ, "BOT_TOKEN": "1000000001:SANDBOX-token-for-local-use-only", "TELEGRAM_API_URL": sb.base,
           "DATABASE_PATH": str(db), "SECRET_KEY": "report-secret-key-0123456789"}

    def start_bot(offset_seconds: float) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path,
                                env={**env, "CLOCK_OFFSET_SECONDS": str(offset_seconds)},
                                stdout=subprocess.DEVNULL, stderr=(tmp_path / "bot.log").open("ab"))

    bot = start_bot(offset)
    try:
        # 08:00: the two reachable recipients get the report and its chart, once each
        for key in ("r1", "r2"):
            wait_for(lambda key=key: [len(x) if isinstance(x, list) else x for x in reports_of(sb, ids[key])] == [1, 1],
                     timeout=90, what=lambda key=key: sb.get(f"/sandbox/users/{ids[key]}/messages?after=0"))
        texts, _ = reports_of(sb, ids["r1"])
        assert f"{today - timedelta(days=1)} 日报" in texts[0] and "总人数：3" in texts[0]
        # killed without a chance to tidy up, restarted at 08:00:30: nobody gets a second one
        os.kill(bot.pid, signal.SIGKILL)
        bot.wait(timeout=10)
        moved = datetime.fromisoformat(sb.get("/sandbox/clock")["now"])
        target = datetime.fromisoformat(f"{today}T08:00:30+08:00")
        offset += max((target - moved).total_seconds(), 0)
        bot = start_bot(offset)
        users["admin"].send("/reportsettings")
        shown = users["admin"].expect("报表推送设置", timeout=60)
        assert "赵敏 ⚠️ 无法送达" in shown["text"] and "王芳 ⚠️" not in shown["text"]
        time.sleep(3)  # a sweep at start and a few more have run
        for key in ("r1", "r2"):
            assert reports_of(sb, ids[key])[1] == 1 and len(reports_of(sb, ids[key])[0]) == 1
        # stopped over the next 08:00: the missed slot arrives when the bot starts at 09:00
        bot.terminate()
        bot.wait(timeout=10)
        now = datetime.fromisoformat(sb.get("/sandbox/clock")["now"])
        offset += (datetime.fromisoformat(f"{today + timedelta(days=1)}T09:00:00+08:00") - now).total_seconds()
        bot = start_bot(offset)
        wait_for(lambda: (len(reports_of(sb, ids["r1"])[0]), reports_of(sb, ids["r1"])[1]) == (2, 2), timeout=90)
        texts, photos = reports_of(sb, ids["r1"])
        assert f"{today} 日报" in texts[1] and photos == 2
    finally:
        bot.terminate()
        bot.wait(timeout=10)
        server.stop()

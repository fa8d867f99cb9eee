"""The crash driver of issue 16 (tests/e2e/test_crash.py runs it short, bench/crash.py long).

A sandbox runs alone (`--no-bot`) and the bot in a process of its own on a database seeded here (an
organisation with members, lower organisations waiting to be certified, a quiz bank, an exam, the daily
report on for five members). For each of seven flows a person starts the flow over the sandbox's HTTP
API as a chat client would; the bot is SIGKILLed after a random delay (drawn from an RNG seeded by
`seed`, printed with each kill, so a failure can be replayed), started again, and then:
- what the person did last is answered after the restart (the update in flight handled), asserted on
  what their chat shows;
- the store's invariants hold (tests/support/invariants.py);
- pushes shown twice in a chat are no more than the outbox rows in flight ('sending') at the kill.

The flows: registration (the kill after a random step of it), member import (an upload of `import_rows`
new members), quiz submit, exam deadline (the clock moved past an attempt's deadline, the kill while
the bot's sweep applies it), certification approval, task sending, the daily report push (the clock
moved to the next 08:00, the kill while the reports go out).

Bot processes are forked from tests/support/bot_zygote.py (the import paid once) unless `zygote` is
False (then `python -m bot run` each time).
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl

from tests.support import invariants
from tests.support.sandbox_client import ROOT, SandboxProcess, SandboxUser

TZ = ZoneInfo("Asia/Shanghai")
TOKEN = "1000000001:SANDBOX-token-for-local-use-only"
WAIT = 60.0
ADMIN = 810001
ROOT_ORG = "崩溃测试宣传部"
BRANCH = "第一支部"
MEMBER_BASE, LOWER_BASE, NEWCOMER_BASE = 810100, 810200, 850000
REPORT_RECIPIENTS = 5
EXAM = "崩溃测试专题考试"
FLOWS = ("registration", "member_import", "quiz_submit", "exam_deadline", "cert_approval", "task_send",
         "report_push")
# the kill comes within this many seconds after the flow's last update was sent (or the bot started)
MAX_DELAY = {"registration": 0.05, "member_import": 0.25, "quiz_submit": 0.05, "exam_deadline": 1.2,
             "cert_approval": 0.05, "task_send": 0.06, "report_push": 1.2}
APOLOGY = "抱歉，处理时出了点问题，请稍后再试。"  # errors.unexpected: the person is told to try again


def _phone(uid: int) -> str:
    return f"+86138{uid % 100000000:08d}"  # what tests.support.factories.make_user gives


@dataclass
class Kill:
    flow: str
    n: int
    delay: float
    at_kill: str  # the last update (or the scheduled work): "not stored" | "in flight" | "done"
    outcome: str = ""  # "handled" | "told to repeat"
    in_flight_pushes: int = 0
    duplicates: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return (f"kill {self.flow}#{self.n}: delay {self.delay:.3f}s, update {self.at_kill} at the kill, "
                f"{self.outcome}; pushes in flight {self.in_flight_pushes}, shown twice {self.duplicates}; "
                f"violations {len(self.violations)}; {self.seconds:.1f}s")


@dataclass
class FlowSummary:
    kills: int = 0
    in_flight: int = 0  # the update (or the scheduled work) was stored and not finished at the kill
    handled: int = 0
    told_to_repeat: int = 0
    lost: int = 0
    in_flight_pushes: int = 0
    duplicates: int = 0
    violations: int = 0


async def _seed(path: Path, members: int, lowers: int) -> None:
    from bot.clock import Clock
    from bot.repositories.reports import SettingsRow
    from bot.services import exams, reports
    from bot.services.roles import Actor
    from bot.store import Store
    from tests.support.exam_factories import settings
    from tests.support.factories import make_member, make_org, make_user
    from tests.support.quiz_factories import make_bank

    store = await Store.open(path)
    try:
        await make_user(store, ADMIN, "崩溃管理员", verified=True)
        org = await make_org(store, ROOT_ORG, ADMIN, branches=[BRANCH, "第二支部"], certified=True)
        for n in range(members):
            uid = MEMBER_BASE + n
            await make_user(store, uid, f"学员{n:02d}")
            await make_member(store, org, f"学员{n:02d}", _phone(uid), BRANCH, activated=True)
        for n in range(lowers):
            uid = LOWER_BASE + n
            await make_user(store, uid, f"下级管理员{n:02d}", verified=True)
            await make_org(store, f"崩溃测试下级{n:02d}", uid)
        await make_bank(store, 7)
        bank = await make_bank(store, 4, org_id=org, prefix="考题")
        clock = Clock(TZ)
        user = await store.get_user(ADMIN)
        assert user is not None
        admin = Actor(user=user, admin_org_ids=frozenset({org}), main_admin_org_ids=frozenset({org}))
        exam_id = await exams.create(store, clock, admin, org, settings(clock, title=EXAM, minutes=5, policy="submit",
                                                                        window_hours=24 * 365), list(bank))
        await exams.publish(store, clock, admin, exam_id, None, lambda exam, people: [])
        recipients = tuple(MEMBER_BASE + n for n in range(min(REPORT_RECIPIENTS, members)))
        await reports.save_settings(store, clock, admin, SettingsRow(org, True, "08:00", "text", None, 3, recipients))
    finally:
        await store.close()


class BotLauncher:
    """Starts `xuexi-bot run` processes; SIGKILL and SIGTERM them by pid."""

    def __init__(self, workdir: Path, zygote: bool) -> None:
        self.workdir = workdir
        self.log = workdir / "bot.log"
        self._zygote: subprocess.Popen[str] | None = None
        self._plain: subprocess.Popen[bytes] | None = None
        if zygote:
            self._zygote = subprocess.Popen([sys.executable, "-m", "tests.support.bot_zygote"], cwd=ROOT,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                            stderr=self.log.open("ab"))
        self.pid: int | None = None

    def start(self, env: dict[str, str]) -> int:
        assert self.pid is None, "a bot is running already"
        if self._zygote is not None:
            assert self._zygote.stdin is not None and self._zygote.stdout is not None
            self._zygote.stdin.write(json.dumps({"env": env, "cwd": str(self.workdir), "log": str(self.log)}) + "\n")
            self._zygote.stdin.flush()
            line = self._zygote.stdout.readline()
            if not line:
                raise RuntimeError(f"the bot launcher died: {self.log.read_text(errors='replace')[-2000:]}")
            self.pid = int(line)
        else:
            self._plain = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=self.workdir, env=env,
                                           stdout=subprocess.DEVNULL, stderr=self.log.open("ab"))
            self.pid = self._plain.pid
        return self.pid

    def _gone(self) -> bool:
        if self._plain is not None:
            return self._plain.poll() is not None
        assert self.pid is not None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        return False

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._gone():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def kill(self) -> None:
        """SIGKILL: no clean-up at all."""
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        if not self._wait_gone(10):
            raise RuntimeError(f"bot {self.pid} survived SIGKILL")
        self.pid, self._plain = None, None

    def stop(self) -> None:
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not self._wait_gone(15):
            os.kill(self.pid, signal.SIGKILL)
            self._wait_gone(10)
        self.pid, self._plain = None, None

    def close(self) -> None:
        self.stop()
        if self._zygote is not None:
            assert self._zygote.stdin is not None
            self._zygote.stdin.close()
            try:
                self._zygote.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._zygote.kill()
                self._zygote.wait()


class CrashRig:
    def __init__(self, workdir: Path, seed: int, *, members: int = 12, lowers: int = 12, import_rows: int = 300,
                 zygote: bool = True, out: Callable[[str], None] = print) -> None:
        self.workdir = workdir
        self.seed = seed
        self.rng = random.Random(seed)
        self.out = out
        self.import_rows = import_rows
        self.members = members
        self.lowers = lowers
        self.db = workdir / "bot.sqlite3"
        self.kills: list[Kill] = []
        self._current: Kill | None = None  # the kill of the flow under way
        self.imported: list[set[str]] = []
        self._counters = dict.fromkeys(FLOWS, 0)
        self._duplicates = 0
        self._seen: set[str] = set()  # violations found by an earlier check (each is counted once)
        asyncio.run(_seed(self.db, members, lowers))
        self.server = SandboxProcess(workdir / "server.sqlite3", args=["--no-bot"])
        self.sb = self.server.sandbox
        self.bot = BotLauncher(workdir, zygote)
        try:
            self.sb.post("/sandbox/users", {"id": ADMIN, "first_name": "崩溃管理员", "phone": _phone(ADMIN)})
            for n in range(members):
                self.sb.post("/sandbox/users", {"id": MEMBER_BASE + n, "first_name": f"学员{n:02d}",
                                                "phone": _phone(MEMBER_BASE + n)})
            for n in range(lowers):
                self.sb.post("/sandbox/users", {"id": LOWER_BASE + n, "first_name": f"下级管理员{n:02d}",
                                                "phone": _phone(LOWER_BASE + n)})
            self.chats = [ADMIN, *(MEMBER_BASE + n for n in range(members)), *(LOWER_BASE + n for n in range(lowers))]
            self.start_bot()
            self.admin = self.user(ADMIN)
            self._template = self._fetch_template()
            self._cert_payload, self._cert_made = self._cert_invite(), self.now()
        except BaseException:
            self.close()
            raise

    # -- plumbing -------------------------------------------------------------------------------
    def user(self, uid: int) -> SandboxUser:
        u = SandboxUser(self.sb, uid)
        u.seq = self.sb.get(f"/sandbox/users/{uid}/messages?after=999999999")["seq"]  # only what comes next
        return u

    def env(self) -> dict[str, str]:
        offset = self.sb.get("/sandbox/clock")["offset_seconds"]
        return {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": self.sb.base, "DATABASE_PATH": str(self.db),
                "SECRET_KEY": "crash-secret-key-0123456789", "CLOCK_OFFSET_SECONDS": str(offset),
                "OUTBOX_RATE": "200", "OUTBOX_PAID_BROADCAST": "1"}

    def start_bot(self) -> None:
        self.bot.start(self.env())

    def close(self) -> None:
        try:
            self.bot.close()
        finally:
            self.server.stop()

    def now(self) -> datetime:
        return datetime.fromisoformat(self.sb.get("/sandbox/clock")["now"]).astimezone(TZ)

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def _last_update(self) -> int:
        return self._rows("SELECT COALESCE(MAX(update_id), 0) FROM inbox")[0][0]

    def _update_state(self, after: int) -> str:
        rows = self._rows("SELECT done_at IS NOT NULL FROM inbox WHERE update_id > ?", (after,))
        if not rows:
            return "not stored"
        return "done" if all(done for (done,) in rows) else "in flight"

    def _fetch_template(self) -> bytes:
        self.admin.send("/template")
        msg = self.admin.expect(lambda m: "document" in m and ROOT_ORG in (m.get("caption") or ""), WAIT)
        data = self.sb.file(msg["document"]["url"])
        assert isinstance(data, bytes)
        return data

    def _cert_invite(self) -> str:
        self.admin.send("/certify")
        self.admin.press(self.admin.expect(f"组织认证 · {ROOT_ORG}", WAIT), "生成认证邀请")
        link = self.admin.expect("邀请下级学习组织认证", WAIT)
        found = re.search(r"start=(c_[A-Za-z0-9_-]+)", link["text"])
        assert found, link["text"]
        return found.group(1)

    def _chat_texts(self, uid: int) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.sb.get(f"/sandbox/users/{uid}/messages")["messages"]
                if m["from"] == "bot"]

    def _drain_outbox(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self._rows("SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')")[0][0]:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def _all_duplicates(self) -> int:
        chats = {uid: self.sb.get(f"/sandbox/users/{uid}/messages")["messages"] for uid in self.chats}
        return invariants.duplicate_pushes(self.db, chats)

    # -- one kill -------------------------------------------------------------------------------
    def _kill(self, flow: str, delay: float, state: Callable[[], str]) -> Kill:
        time.sleep(delay)
        self.bot.kill()
        at_kill = state()
        in_flight = invariants.check(self.db).in_flight_pushes
        kill = self._current = Kill(flow, self._counters[flow], delay, at_kill, in_flight_pushes=in_flight)
        self.out(f"kill {flow}#{kill.n}: seed {self.seed}, delay {delay:.3f}s, {at_kill} at the kill, "
                 f"{in_flight} pushes in flight")
        self.start_bot()
        return kill

    def _answer(self, kill: Kill, u: SandboxUser, needle: str, repeat: Callable[[], object]) -> dict[str, Any]:
        """The bot's answer to what was in flight: `needle`, or the apology (told to repeat: then the
        person does it again and gets `needle`)."""
        def text(m: dict[str, Any]) -> str:
            return str(m.get("text") or m.get("caption") or "")

        shown = u.expect(lambda m: needle in text(m) or APOLOGY in text(m), WAIT)
        if needle in text(shown):
            kill.outcome = "handled"
            return shown
        kill.outcome = "told to repeat"
        self.out(f"  {kill.flow}#{kill.n}: told to repeat")
        repeat()
        return u.expect(needle, WAIT)

    def _finish(self, kill: Kill, started: float) -> Kill:
        if self.bot.pid is None:
            self.start_bot()
        self._drain_outbox()
        total = self._all_duplicates()
        kill.duplicates, self._duplicates = total - self._duplicates, total
        found = invariants.check(self.db, now=self.now(), files=self.imported).violations
        kill.violations += [v for v in found if v not in self._seen]
        self._seen.update(found)
        if kill.duplicates > kill.in_flight_pushes:
            kill.violations.append(f"{kill.duplicates} pushes shown twice, {kill.in_flight_pushes} were in flight")
        kill.seconds = time.monotonic() - started
        self.kills.append(kill)
        self.out(kill.line())
        return kill

    def _delay(self, flow: str) -> float:
        return round(self.rng.uniform(0, MAX_DELAY[flow]), 3)

    def run(self, flow: str) -> Kill:
        """One kill in `flow`. What the person never got (an assertion of the flow failing) is recorded
        as a violation, outcome "lost", and the run goes on."""
        self._counters[flow] += 1
        started = time.monotonic()
        delay = self._delay(flow)
        self._current = None
        try:
            kill: Kill = getattr(self, flow)(delay)
        except AssertionError as exc:
            kill = self._current or Kill(flow, self._counters[flow], delay, "not killed")
            kill.outcome = "lost"
            kill.violations.append(f"{flow}#{kill.n} (seed {self.seed}, delay {delay:.3f}s): {exc}")
            self.out(f"  {flow}#{kill.n}: LOST: {exc}")
            for uid in self.chats:  # nobody stays stuck in a flow for the next kills
                try:
                    self.sb.post(f"/sandbox/users/{uid}/send", {"text": "/cancel"})
                except Exception:  # noqa: BLE001 - a blocked or unknown chat: nothing to cancel
                    pass
            time.sleep(1)
        return self._finish(kill, started)

    # -- the flows ------------------------------------------------------------------------------
    def registration(self, delay: float) -> Kill:
        n = self._counters["registration"]
        uid = NEWCOMER_BASE + n
        phone = f"+86136{uid % 100000000:08d}"
        u = self.sb.user(f"新人{n:02d}", phone=phone, id=uid)
        self.chats.append(uid)
        name = f"新人{n:02d}"
        steps: list[tuple[Callable[[], object], str]] = [
            (lambda: u.send("/start"), "服务协议与隐私政策"),
            (lambda: u.press(agreement[0], "同意并继续", wait=0), "第 1 步"),
            (lambda: u.contact(), "第 2 步"),
            (lambda: u.send(name), "第 3 步"),
            (lambda: u.press(org_step[0], "跳过", wait=0), "注册成功"),
        ]
        agreement: list[dict[str, Any]] = []
        org_step: list[dict[str, Any]] = []
        at = self.rng.randrange(len(steps))
        kill: Kill | None = None
        for i, (act, needle) in enumerate(steps):
            if i == at:
                before = self._last_update()
                act()
                kill = self._kill("registration", delay, lambda before=before: self._update_state(before))
                shown = self._answer(kill, u, needle, act)
            else:
                act()
                shown = u.expect(needle, WAIT)
            if i == 0:
                agreement.append(shown)
            if i == 3:
                org_step.append(shown)
        assert kill is not None
        assert self._rows("SELECT name FROM users WHERE id = ? AND phone = ?", (uid, phone)) == [(name,)]
        self.out(f"  registration#{n}: killed after step {at + 1} of {len(steps)}")
        return kill

    def member_import(self, delay: float) -> Kill:
        n = self._counters["member_import"]
        a = self.admin
        book = openpyxl.load_workbook(BytesIO(self._template))
        sheet = book.worksheets[0]
        phones = set()
        for i in range(self.import_rows):
            phone = f"137{n:04d}{i:04d}"
            sheet.append([f"导入{i:04d}", phone, BRANCH, ""])
            phones.add("+86" + phone)
        out = BytesIO()
        book.save(out)
        a.send("/import")
        a.expect("批量导入成员到", WAIT)
        self.imported.append(phones)
        before = self._last_update()

        def upload() -> None:
            a.upload("document", f"名单{n}.xlsx", out.getvalue())

        upload()
        kill = self._kill("member_import", delay, lambda: self._update_state(before))
        summary = self._answer(kill, a, "导入结果", upload)
        assert f"新增：{self.import_rows} 人" in summary["text"], summary["text"]
        return kill

    def quiz_submit(self, delay: float) -> Kill:
        n = self._counters["quiz_submit"]
        u = self.user(MEMBER_BASE + (n - 1) % self.members)
        u.send("/quiz")
        msg = u.expect("第 1/5 题", WAIT)
        for i in range(1, 6):
            right = re.search(r"答案是 ([A-D])", msg["text"])
            assert right, msg["text"]
            u.press(msg, right.group(1))
            msg = u.expect("已是最后一题" if i == 5 else f"第 {i + 1}/5 题", WAIT)
        before = self._last_update()
        u.press(msg, "交卷", wait=0)
        kill = self._kill("quiz_submit", delay, lambda: self._update_state(before))
        done = self._answer(kill, u, "已交卷", lambda: u.press(msg, "交卷"))
        assert "5/5" in done["text"], done["text"]
        return kill

    def exam_deadline(self, delay: float) -> Kill:
        n = self._counters["exam_deadline"]
        u = self.user(MEMBER_BASE + (n - 1) % self.members)
        u.send("/exams")
        listing = u.expect(EXAM, WAIT)
        u.press(listing, f"参加：{EXAM}")
        u.press(u.expect("确定开始吗", WAIT), "开始作答")
        u.expect("截止", WAIT)
        q1 = u.expect("第 1/4 题", WAIT)
        right = re.search(r"答案是 ([A-D])", q1["text"])
        assert right, q1["text"]
        u.press(q1, right.group(1))
        u.expect(lambda m: "已答 1 题" in (m.get("text") or ""), WAIT)
        self.bot.stop()
        self.sb.post("/sandbox/clock", {"advance": 5 * 60 + 2})
        self.start_bot()
        kill = self._kill("exam_deadline", delay, lambda: "in flight" if self._rows(
            "SELECT 1 FROM exam_attempts WHERE user_id = ? AND status = 'open'", (u.id,)) else "done")
        auto = self._answer(kill, u, "自动交卷", lambda: None)
        assert "得分：1/4" in auto["text"], auto["text"]
        return kill

    def cert_approval(self, delay: float) -> Kill:
        n = self._counters["cert_approval"]
        assert n <= self.lowers, "no lower organisation left to certify"
        lower = f"崩溃测试下级{n - 1:02d}"
        k = self.user(LOWER_BASE + n - 1)
        a = self.admin
        if self.now() - self._cert_made > timedelta(days=5):  # the report pushes move the clock a day each
            self._cert_payload, self._cert_made = self._cert_invite(), self.now()
        k.send(f"/start {self._cert_payload}")
        k.press(k.expect("请选择要申请认证的本单位学习组织", WAIT), f"提交申请：{lower}")
        k.expect(f"已提交“{lower}”的认证申请", WAIT)
        notice = a.expect(lambda m: "收到认证申请" in (m.get("text") or "") and lower in m["text"], WAIT)
        before = self._last_update()
        a.press(notice, "同意", wait=0)
        kill = self._kill("cert_approval", delay, lambda: self._update_state(before))
        self._answer(kill, a, f"已同意“{lower}”", lambda: a.press(notice, "同意"))
        k.expect(f"“{lower}”现已认证", WAIT)
        return kill

    def task_send(self, delay: float) -> Kill:
        n = self._counters["task_send"]
        a = self.admin
        text = f"崩溃测试任务第 {n} 号：请学习第三章并确认。"
        a.send("/task")
        a.expect("第 1 步", WAIT)
        a.send(text)
        step = a.expect(lambda m: "第 2 步" in (m.get("text") or "") or "第 3 步" in (m.get("text") or ""), WAIT)
        if "第 2 步" in step["text"]:
            a.press(step, "仅本组织")
            a.expect("第 3 步", WAIT)
        a.send((self.now() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M"))
        a.press(a.expect("第 4 步", WAIT), "✅ 需要确认")
        preview = a.expect("请确认要发布的任务", WAIT)
        before = self._last_update()
        a.press(preview, "发送", wait=0)
        kill = self._kill("task_send", delay, lambda: self._update_state(before))
        self._answer(kill, a, f"已发出，共 {self.members} 人", lambda: a.press(preview, "发送"))
        for m in range(self.members):
            self._wait_for(MEMBER_BASE + m, text)
        return kill

    def report_push(self, delay: float) -> Kill:
        recipients = [MEMBER_BASE + m for m in range(min(REPORT_RECIPIENTS, self.members))]

        def count(uid: int) -> int:
            return sum("每日学习报表" in t for t in self._chat_texts(uid))

        before = {uid: count(uid) for uid in recipients}
        self.bot.stop()
        now = self.now()
        slot = datetime.combine(now.date() + timedelta(days=1), datetime.min.time().replace(hour=8), tzinfo=TZ)
        self.sb.post("/sandbox/clock", {"set": (slot + timedelta(seconds=1)).isoformat()})
        self.start_bot()
        kill = self._kill("report_push", delay, lambda: "done" if all(count(uid) > before[uid] for uid in recipients)
                          else "in flight")
        deadline = time.monotonic() + WAIT
        while any(count(uid) <= before[uid] for uid in recipients):
            assert time.monotonic() < deadline, f"no report for {[u for u in recipients if count(u) <= before[u]]}"
            time.sleep(0.1)
        kill.outcome = "handled"
        return kill

    def _wait_for(self, uid: int, needle: str) -> None:
        deadline = time.monotonic() + WAIT
        while not any(needle in t for t in self._chat_texts(uid)):
            assert time.monotonic() < deadline, f"user {uid} never got {needle!r}"
            time.sleep(0.1)

    # -- the whole run --------------------------------------------------------------------------
    def summary(self) -> dict[str, FlowSummary]:
        out = {flow: FlowSummary() for flow in FLOWS}
        for k in self.kills:
            s = out[k.flow]
            s.kills += 1
            s.in_flight += k.at_kill == "in flight"
            s.handled += k.outcome == "handled"
            s.told_to_repeat += k.outcome == "told to repeat"
            s.lost += k.outcome == "lost"
            s.in_flight_pushes += k.in_flight_pushes
            s.duplicates += k.duplicates
            s.violations += len(k.violations)
        return out

    def table(self) -> str:
        head = (f"{'flow':<15}{'kills':>6}{'in flight':>10}{'handled':>9}{'repeat':>8}{'lost':>6}"
                f"{'pushes in flight':>18}{'shown twice':>13}{'violations':>12}")
        lines = [head, "-" * len(head)]
        total = FlowSummary()
        for flow, s in self.summary().items():
            lines.append(f"{flow:<15}{s.kills:>6}{s.in_flight:>10}{s.handled:>9}{s.told_to_repeat:>8}{s.lost:>6}"
                         f"{s.in_flight_pushes:>18}{s.duplicates:>13}{s.violations:>12}")
            for name in vars(total):
                setattr(total, name, getattr(total, name) + getattr(s, name))
        lines.append(f"{'all':<15}{total.kills:>6}{total.in_flight:>10}{total.handled:>9}{total.told_to_repeat:>8}"
                     f"{total.lost:>6}{total.in_flight_pushes:>18}{total.duplicates:>13}{total.violations:>12}")
        return "\n".join(lines)


def run_rounds(rig: CrashRig, kills: int, flows: tuple[str, ...] = FLOWS) -> None:
    """`kills` kills in all, the flows taken in turn."""
    for i in range(kills):
        rig.run(flows[i % len(flows)])

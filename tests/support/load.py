"""The load scenario of issue #16, shared by bench/load.py (2,000 members) and tests/e2e/test_load.py (the
short version in CI).

Over the sandbox: the sandbox alone in one process (--no-bot: its HTTP work is Telegram's, not the bot's),
the bot (`xuexi-bot run`, its normal long polling, outbox and scheduler) in another, started with the
sandbox's moved time (CLOCK_OFFSET_SECONDS); this process plays the people over the control API, many at
once on one aiohttp session (Plan.split=False runs the bot inside the sandbox's process instead):

- `seed`: straight into the bot's database before it starts (the flows that make these rows have their
  own end-to-end tests): an admin, a certified root organisation with four lower ones, `members`
  registered and activated members spread over the five, a question bank, and the root's daily report on
  at 08:00 (text) for the first `recipients` members, saved through the reports service at 07:00 so that
  each recipient's slot is armed as in production.
- `run`: the sandbox's rate limit on (by default 1 call in any second per chat, as Telegram asks; an
  optional overall budget: bench/load.py's docstring says why not 30; the bot waits out the 429s its
  own two-call replies get, bot/reply_retry.py); the
  bot's clock set a few seconds before 08:00 of that day; then at once
    * every member takes the daily quiz as a chat client: /quiz, each answer pressed on the message
      that shows the question, then 交卷; the starts spread evenly over `spread` seconds, `think`
      seconds between a reply and the next press;
    * the admin sends a task notice to the whole subtree through the real /task flow;
    * the 08:00 slot falls due while the quizzes run: the report goes to every recipient.
  A press whose reply did not come (a 429 on the bot's edit, an apology toast) is pressed again after a
  second, as a person would; each such retry is counted.
- `verify`: every answer counted (quiz_items answered, attempts submitted, the points ledger), every
  push delivered exactly once (each member's chat holds exactly one task notice, each recipient's chat
  exactly one report, nobody else's any; the outbox has nothing pending or failed).

Reply latency is the time from a member's update to the bot's reply in that chat: for /quiz until the
first question shows in the chat (a long poll of the chat), for a press until the bot answered the
callback, which it does after the handler's edit or send (bot/middlewares.AnswerCallbacks).
"""
from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from tests.support.sandbox_client import SandboxProcess, find_button

TZ = ZoneInfo("Asia/Shanghai")
ADMIN = 790001
FIRST_MEMBER = 800001
ROOT, LOWER = "负载测试市委宣传部", "负载测试县委宣传部{}"
TASK_TEXT = "负载测试任务：请于本周内完成第三章学习。"
REPORT_HEAD = "每日学习报表"
REVIEW_HEAD = "答案与解析"
QUESTIONS = 20
DAILY = 5  # bot.services.quiz.DAILY_SIZE
NOW = "2026-10-01T09:00:00+08:00"
SANDBOX_TOKEN = "1000000001:SANDBOX-token-for-local-use-only"
BOT_START = 30.0  # seconds the clock is set back further for the bot's start (imports, migrations, first sweep)


@dataclass
class Plan:
    members: int = 2000
    recipients: int = 500
    spread: float = 45.0  # the members' /quiz commands spread evenly over this many seconds
    think: float = 1.0  # seconds between a reply and the member's next press (Telegram: 1 message/s per chat)
    report_after: float = 3.0  # seconds into the run at which the 08:00 slot falls due (with the task notice)
    chat_limit: float | None = 1.0  # the sandbox's per-chat limit (calls in any 1 s), None = off; see `run`
    global_limit: float | None = None  # the sandbox's overall limit (calls/s over every method), None = off
    outbox_rate: float | None = None  # OUTBOX_RATE for the bot; None = its configured default (25/s)
    deadline: float = 600.0  # seconds after which the run gives up waiting
    split: bool = True  # the bot in a process of its own beside a --no-bot sandbox (as Telegram is not on our machine)


@dataclass
class Result:
    plan: Plan
    day: date
    latencies: list[float] = field(default_factory=list)  # seconds, one per member update
    timeline: list[tuple[float, str, float]] = field(default_factory=list)  # (seconds into the run, what, latency)
    task_sent_at: float = 0.0  # seconds into the run when the admin pressed 发送
    updates: int = 0  # member updates sent (messages and presses, retries included)
    retries: int = 0  # presses repeated because the reply did not come
    quiz_seconds: float = 0.0  # first /quiz to last member's result
    push_seconds: float = 0.0  # first push enqueued to last push sent (from the outbox rows)
    pushes: int = 0
    total_seconds: float = 0.0
    rate_limited: int = 0  # 429s the sandbox answered
    errors: int = 0  # every non-ok answer of the sandbox
    calls: dict[str, int] = field(default_factory=dict)
    task_sent_in: float = 0.0  # the admin's /task flow, first message to "已发出"
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of each process during the run
    problems: list[str] = field(default_factory=list)  # what verify found wrong
    counts: dict[str, Any] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, max(0, round(q * len(lat)) - 1))] if lat else float("nan")

    @property
    def updates_per_s(self) -> float:
        return self.updates / self.quiz_seconds if self.quiz_seconds else 0.0

    @property
    def pushes_per_s(self) -> float:
        return self.pushes / self.push_seconds if self.push_seconds else 0.0

    def lines(self) -> list[str]:
        p = self.plan
        return [
            (f"{p.members} members doing the daily quiz (starts over {p.spread:g} s, {p.think:g} s per press), "
            f"a task notice to {p.members}, the daily report to {p.recipients}; sandbox limit "
            f"{p.chat_limit or 'off'}/s per chat, overall {p.global_limit or 'off'}; bot outbox "
            f"{p.outbox_rate or 'default'}/s"),
            (f"quiz: {self.updates} member updates in {self.quiz_seconds:.1f} s = {self.updates_per_s:.1f} updates/s; "
            f"presses repeated {self.retries}"),
            (f"reply latency: p50 {self.percentile(0.5) * 1000:.0f} ms, p99 {self.percentile(0.99) * 1000:.0f} ms, "
            f"max {max(self.latencies, default=float('nan')) * 1000:.0f} ms ({len(self.latencies)} replies)"),
            (f"pushes: {self.pushes} sent in {self.push_seconds:.1f} s = {self.pushes_per_s:.1f} pushes/s; "
            f"the /task flow took {self.task_sent_in:.1f} s"),
            f"sandbox: {self.rate_limited} answered 429, {self.errors} errors in all; whole run {self.total_seconds:.1f} s; "
            "CPU used: " + ", ".join(f"{name} {sec:.1f} s ({sec / max(self.total_seconds, 1e-9):.0%} of a core)"
                                     for name, sec in self.cpu.items()),
            "slowest replies: " + ", ".join(f"{lat * 1000:.0f} ms ({what} at +{at:.1f} s)" for at, what, lat in
                                            sorted(self.timeline, key=lambda x: -x[2])[:5])
            + f"; the task was sent at +{self.task_sent_at:.1f} s, the report slot at +{self.plan.report_after:g} s",
            "counts: " + ", ".join(f"{k} {v}" for k, v in self.counts.items()),
            "verified: every answer counted, every push delivered exactly once" if not self.problems
            else "PROBLEMS: " + "; ".join(self.problems[:10]) + (" …" if len(self.problems) > 10 else ""),
        ]


def member_ids(plan: Plan) -> list[int]:
    return [FIRST_MEMBER + i for i in range(plan.members)]


def phone(uid: int) -> str:
    return f"+86139{uid % 100000000:08d}"


async def seed(db: Path, plan: Plan) -> date:
    """Writes the people, organisations, bank and report settings; returns the day of the run."""
    from bot.clock import FakeClock
    from bot.repositories.names import backfill_sort_keys
    from bot.repositories.reports import SettingsRow
    from bot.services import reports as reports_svc
    from bot.services.roles import Actor
    from bot.store import Store
    from tests.support.factories import make_org, make_user
    from tests.support.quiz_factories import make_bank

    day = datetime.now(TZ).date() + timedelta(days=1)
    store = await Store.open(db)
    try:
        await make_user(store, ADMIN, "负载管理员", verified=True)
        await make_user(store, ADMIN + 1, "县管理员", verified=True)
        root = await make_org(store, ROOT, ADMIN, certified=True)
        orgs = [root] + [await make_org(store, LOWER.format(i + 1), ADMIN + 1, certified=True, parent_id=root)
                         for i in range(4)]
        ids = member_ids(plan)
        users = [(uid, f"学员{uid - FIRST_MEMBER:04d}", phone(uid)) for uid in ids]
        async with store.raw_tx() as conn:
            await conn.executemany(
                "INSERT INTO users (id, first_name, phone, name, agreed_at, registered_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(uid, name, ph, name, NOW, NOW, NOW, NOW) for uid, name, ph in users])
            await conn.executemany(
                "INSERT INTO members (org_id, name, phone, activated_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(root if n < plan.recipients else orgs[n % len(orgs)], name, ph, NOW, NOW, NOW)
                 for n, (_uid, name, ph) in enumerate(users)])
            await conn.execute("INSERT INTO member_history (org_id, branch_id, phone, start_day) "
                               "SELECT org_id, branch_id, phone, '2026-10-01' FROM members")
            await backfill_sort_keys(conn)
        await make_bank(store, QUESTIONS)
        admin = Actor(user=await store.get_user(ADMIN), admin_org_ids=frozenset({root}))
        clock = FakeClock(TZ, datetime.combine(day, datetime.min.time().replace(hour=7), tzinfo=TZ))
        await reports_svc.save_settings(store, clock, admin, SettingsRow(
            root, True, "08:00", "text", None, 3, tuple(ids[:plan.recipients])))
    finally:
        await store.close()
    return day


class Driver:
    """The people, over one aiohttp session."""

    def __init__(self, http: aiohttp.ClientSession, base: str, result: Result) -> None:
        self.http, self.base, self.result = http, base, result
        self.t0 = time.perf_counter()  # the run's start (set again when the members begin)

    def timed(self, what: str, started: float) -> None:
        lat = time.perf_counter() - started
        self.result.latencies.append(lat)
        self.result.timeline.append((started - self.t0, what, lat))

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.post(self.base + path, json=body or {}) as resp:
            out = await resp.json()
            if resp.status >= 400:
                raise RuntimeError(f"POST {path}: {resp.status} {out}")
            return out

    async def get(self, path: str, **params: Any) -> Any:
        async with self.http.get(self.base + path, params={k: str(v) for k, v in params.items()}) as resp:
            return await resp.json()

    async def send(self, uid: int, text: str) -> int:
        self.result.updates += 1
        return (await self.post(f"/sandbox/users/{uid}/send", {"text": text}))["message_id"]

    async def wait_message(self, uid: int, after: int, needle: str, timeout: float = 120) -> dict[str, Any]:
        """The first bot message after `after` whose text contains `needle` (long polls of the chat)."""
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            out = await self.get(f"/sandbox/users/{uid}/messages", after=seen, wait=10)
            for m in out["messages"]:
                if m["from"] == "bot" and needle in (m.get("text") or m.get("caption") or ""):
                    return m
            bot = [m["message_id"] for m in out["messages"] if m["from"] == "bot"]
            if bot:
                seen = max(seen, max(bot))  # a message without the needle (a push): look after it
            if time.monotonic() > deadline:
                raise RuntimeError(f"user {uid}: no bot message with {needle!r} after {after}")

    async def current(self, uid: int, message_id: int) -> dict[str, Any]:
        out = await self.get(f"/sandbox/users/{uid}/messages", after=message_id - 1)
        return next(m for m in out["messages"] if m["message_id"] == message_id)

    async def press(self, uid: int, message: dict[str, Any], label: str, shows: str, *, timed: bool = True,
                    tries: int = 8) -> dict[str, Any]:
        """Presses `label` until the chat shows `shows` in that message or a later one; returns it."""
        for _attempt in range(tries):
            button = find_button(message, label)
            self.result.updates += 1
            t0 = time.perf_counter()
            out = await self.post(f"/sandbox/users/{uid}/press",
                                  {"message_id": message["message_id"], "data": button["callback_data"], "wait": 30})
            answered = out.get("answer") is not None
            if timed and answered:
                self.timed(label, t0)
            chat = await self.get(f"/sandbox/users/{uid}/messages", after=message["message_id"] - 1)
            for m in chat["messages"]:
                if m["from"] == "bot" and shows in (m.get("text") or ""):
                    return m
            self.result.retries += 1
            await asyncio.sleep(1.5)  # the reply did not come (a 429 on it): press again
            message = await self.current(uid, message["message_id"])
        raise RuntimeError(f"user {uid}: pressing {label!r} never showed {shows!r}")

    async def quiz(self, uid: int) -> None:
        think = self.result.plan.think
        t0 = time.perf_counter()
        mid = await self.send(uid, "/quiz")
        msg = await self.wait_message(uid, mid, f"第 1/{DAILY} 题")
        self.timed("/quiz", t0)
        for n in range(1, DAILY + 1):
            await asyncio.sleep(think)
            right = re.search(r"答案是 ([A-D])", msg["text"])
            if right is None:
                raise RuntimeError(f"user {uid}: no answer in {msg['text']!r}")
            shows = f"第 {n + 1}/{DAILY} 题" if n < DAILY else "已是最后一题"
            msg = await self.press(uid, msg, right.group(1), shows)
        await asyncio.sleep(think)
        await self.press(uid, msg, "交卷", "已交卷")

    async def warm_up(self, uid: int, until: float) -> None:
        """Before the rush: the bot just started (its first sweep catches up the report days it missed, and
        the first replies wait for it); the admin sends /start until a reply comes within half a second."""
        while True:
            t0 = time.perf_counter()
            mid = await self.post(f"/sandbox/users/{uid}/send", {"text": "/start"})
            await self.wait_message(uid, mid["message_id"], "")
            if time.perf_counter() - t0 < 0.5 or time.perf_counter() > until:
                return
            await asyncio.sleep(0.5)

    async def task(self, uid: int) -> None:
        """The admin's /task flow to the whole subtree, without a deadline or confirmation."""
        t0 = time.perf_counter()
        mid = await self.send(uid, "/task")
        await self.wait_message(uid, mid, "第 1 步")
        mid = await self.send(uid, TASK_TEXT)
        step2 = await self.wait_message(uid, mid, "第 2 步")
        step3 = await self.press(uid, step2, "本组织及全部下级组织", "第 3 步", timed=False)
        step4 = await self.press(uid, step3, "不设截止时间", "第 4 步", timed=False)
        preview = await self.press(uid, step4, "不需要确认", "请确认要发布的任务", timed=False)
        reach = f"将发送给 {self.result.plan.members} 人"
        if reach not in preview["text"]:
            self.result.problems.append(f"the task preview does not say {reach!r}: {preview['text'][:200]!r}")
        self.result.task_sent_at = time.perf_counter() - self.t0
        await self.press(uid, preview, "发送", "已发出", timed=False)
        self.result.task_sent_in = time.perf_counter() - t0


def _db_counts(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        one = conn.execute
        return {
            "answered": one("SELECT COUNT(*) FROM quiz_items i JOIN quiz_attempts a ON a.id = i.attempt_id "
                            "WHERE a.kind = 'daily' AND i.answered_at IS NOT NULL").fetchone()[0],
            "submitted": one("SELECT COUNT(*) FROM quiz_attempts WHERE kind = 'daily' AND status = 'submitted'"
                             ).fetchone()[0],
            "daily_points": one("SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM points WHERE source = 'daily'"
                                ).fetchone(),
            "outbox": dict(one("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()),
            "push_span": one("SELECT MIN(created_at), MAX(sent_at) FROM outbox").fetchone(),
        }
    finally:
        conn.close()


def _outbox_settled(db: Path, expected: int) -> bool:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        total, sent = conn.execute("SELECT COUNT(*), COALESCE(SUM(status = 'sent'), 0) FROM outbox").fetchone()
        busy = conn.execute("SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')").fetchone()[0]
    finally:
        conn.close()
    return total >= expected and busy == 0 and sent >= expected


async def _settled(db: Path, expected: int, until: float) -> None:
    """Polls the outbox (another process writes it) until every push is sent or `until` passes."""
    for _ in range(int(max(0.0, until - time.perf_counter()) / 0.5) + 1):
        if _outbox_settled(db, expected):
            return
        await asyncio.sleep(0.5)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process (Linux /proc; this process's own with None), 0 if unknown."""
    try:
        if pid is None:
            usage = os.times()
            return usage.user + usage.system
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


async def _run(base: str, db: Path, plan: Plan, day: date, start_bot: Callable[[float], int] | None,
               pids: dict[str, int | None]) -> Result:
    result = Result(plan, day)
    ids = member_ids(plan)
    connector = aiohttp.TCPConnector(limit=0)  # no pool limit: a person waiting for a reply holds a connection
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        d = Driver(http, base, result)
        await d.post("/sandbox/users", {"id": ADMIN, "first_name": "负载管理员", "language_code": "zh"})
        for chunk in range(0, len(ids), 200):
            await asyncio.gather(*(d.post("/sandbox/users", {"id": uid, "first_name": f"学员{uid - FIRST_MEMBER:04d}",
                                                             "language_code": "zh", "phone": phone(uid)})
                                   for uid in ids[chunk:chunk + 200]))
        await d.post("/sandbox/reset")  # the stats count from here
        await d.post("/sandbox/faults", {"rate_limit": {"per_chat_per_s": plan.chat_limit,
                                                        "global_per_s": plan.global_limit}
                                         if plan.chat_limit or plan.global_limit else None})
        slot = datetime.combine(day, datetime.min.time().replace(hour=8), tzinfo=TZ)
        if start_bot is None:  # the bot runs in the sandbox's process: its clock is the sandbox's
            await d.post("/sandbox/clock", {"set": (slot - timedelta(seconds=plan.report_after)).isoformat()})
        else:  # the bot is started at the sandbox's moved time; the members begin once it polls
            before = plan.report_after + BOT_START
            moved = await d.post("/sandbox/clock", {"set": (slot - timedelta(seconds=before)).isoformat()})
            started = time.perf_counter()
            pids["bot"] = start_bot(moved["offset_seconds"])
            while not (await d.get("/sandbox/stats"))["calls"].get("getUpdates"):
                if time.perf_counter() - started > 120:
                    raise RuntimeError("the bot did not start polling within 120 s")
                await asyncio.sleep(0.2)
            await d.warm_up(ADMIN, started + BOT_START - 5)
            await asyncio.sleep(max(0.0, before - plan.report_after - (time.perf_counter() - started)))

        t_start = d.t0 = time.perf_counter()
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        finished: list[float] = []

        async def member(i: int, uid: int) -> None:
            await asyncio.sleep(plan.spread * i / max(1, len(ids)))
            await d.quiz(uid)
            finished.append(time.perf_counter())

        tasks = [asyncio.create_task(d.task(ADMIN))] + [asyncio.create_task(member(i, uid))
                                                         for i, uid in enumerate(ids)]
        done, pending = await asyncio.wait(tasks, timeout=plan.deadline)
        for t in pending:
            t.cancel()
        failures = [t.exception() for t in done if t.exception() is not None]
        if pending:
            result.problems.append(f"{len(pending)} people had not finished after {plan.deadline:g} s")
        for exc in failures[:5]:
            result.problems.append(f"{type(exc).__name__}: {exc}")
        if len(failures) > 5:
            result.problems.append(f"{len(failures) - 5} more failures")
        result.quiz_seconds = (max(finished) - t_start) if finished else 0.0

        expected_pushes = plan.members + plan.recipients
        await _settled(db, expected_pushes, t_start + plan.deadline)
        result.total_seconds = time.perf_counter() - t_start
        result.cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
        stats = await d.get("/sandbox/stats")
        result.rate_limited, result.errors, result.calls = stats["rate_limited"], stats["errors"], stats["calls"]

        # every push exactly once: read every chat
        notices: Counter[int] = Counter()
        reports: Counter[int] = Counter()
        reviews: Counter[int] = Counter()

        async def read_chat(uid: int) -> None:
            out = await d.get(f"/sandbox/users/{uid}/messages", after=0)
            for m in out["messages"]:
                text = m.get("text") or m.get("caption") or ""
                if m["from"] == "bot" and TASK_TEXT in text:
                    notices[uid] += 1
                if m["from"] == "bot" and REPORT_HEAD in text:
                    reports[uid] += 1
                if m["from"] == "bot" and REVIEW_HEAD in text:
                    reviews[uid] += 1

        for chunk in range(0, len(ids), 200):
            await asyncio.gather(*(read_chat(uid) for uid in ids[chunk:chunk + 200]))
        recipients = set(ids[:plan.recipients])
        bad_notice = [uid for uid in ids if notices[uid] != 1]
        bad_report = [uid for uid in ids if reports[uid] != (1 if uid in recipients else 0)]
        if bad_notice:
            result.problems.append(f"{len(bad_notice)} members without exactly one task notice, e.g. "
                                   f"{bad_notice[0]}: {notices[bad_notice[0]]}")
        no_review = [uid for uid in ids if not reviews[uid]]
        if no_review:
            result.problems.append(f"{len(no_review)} members got no review after 交卷 (the reply after the "
                                   f"result edit was lost), e.g. {no_review[0]}")
        if bad_report:
            result.problems.append(f"{len(bad_report)} members with a wrong number of reports, e.g. "
                                   f"{bad_report[0]}: {reports[bad_report[0]]}")

    counts = _db_counts(db)
    n_points, sum_points = counts.pop("daily_points")
    first, last = counts.pop("push_span")
    if first and last:
        result.push_seconds = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    result.pushes = counts["outbox"].get("sent", 0)
    result.counts = {"answers": counts["answered"], "rounds submitted": counts["submitted"],
                     "daily points rows": n_points, "daily points": sum_points,
                     "task notices": sum(notices.values()), "reports": sum(reports.values()),
                     "members with the review": sum(1 for uid in ids if reviews[uid]),
                     "outbox": counts["outbox"]}
    expect = {"answers": plan.members * DAILY, "rounds submitted": plan.members, "daily points rows": plan.members,
              "daily points": plan.members * DAILY, "task notices": plan.members, "reports": plan.recipients}
    for key, want in expect.items():
        if result.counts[key] != want:
            result.problems.append(f"{key}: {result.counts[key]}, expected {want}")
    if set(counts["outbox"]) - {"sent"}:
        result.problems.append(f"outbox rows not sent: {counts['outbox']}")
    return result


def run(folder: Path, plan: Plan) -> Result:
    """Seeds a fresh database in `folder`, starts the sandbox and the bot, runs the scenario, verifies."""
    db = folder / "load.sqlite3"
    day = asyncio.run(seed(db, plan))
    env = {"OUTBOX_RATE": str(plan.outbox_rate)} if plan.outbox_rate else {}
    if not plan.split:
        proc = SandboxProcess(db, extra_env=env)
        try:
            return asyncio.run(_run(proc.sandbox.base, db, plan, day, None,
                                    {"sandbox with the bot": proc.proc.pid, "people (this process)": None}))
        finally:
            proc.stop()
    server = SandboxProcess(folder / "sandbox.sqlite3", args=["--no-bot"])
    bots: list[subprocess.Popen[bytes]] = []

    def start_bot(offset: float) -> int:
        bots.append(subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=folder, stdout=subprocess.DEVNULL,
            stderr=(folder / "bot.log").open("ab"),
            env={**os.environ, "BOT_TOKEN": SANDBOX_TOKEN, "TELEGRAM_API_URL": server.sandbox.base,
                 "DATABASE_PATH": str(db), "SECRET_KEY": "load-secret-key-0123456789",
                 "CLOCK_OFFSET_SECONDS": str(offset), **env}))
        return bots[-1].pid

    try:
        return asyncio.run(_run(server.sandbox.base, db, plan, day, start_bot,
                                {"sandbox": server.proc.pid, "people (this process)": None}))
    finally:
        for bot in bots:
            bot.terminate()
            try:
                bot.wait(timeout=20)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait()
        server.stop()

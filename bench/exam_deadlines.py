"""5,000 exam attempts whose deadlines fall in the same minute (LEARN-6). Prints figures; not run by CI.

    .venv/bin/python -m bench.exam_deadlines [attempts] [--rate 28] [--window 40]

A fresh store in a temporary folder: one organisation, `attempts` members, one published exam
(10 questions, a 10-minute limit, policy `reset`), and one attempt per member started through the
service with the clock moved so that the deadlines spread over one minute (setup, not timed). The
bot's side is real: the Sweeper with the exam handlers (deadline, countdown edit, reminders), the
outbox sender, a Bot talking HTTP to an in-process sandbox whose rate limit is switched on
(30 messages/s overall and 1/s per chat, as Telegram), and the bot's configured rate `--rate`
(the outbox's limiter, shared by the countdown edits). Every person has a header message in the sandbox for the countdown to edit.

Time: the attempts are started at earlier clock times (setup); then the MovableClock is set 10 s
before the first deadline and runs in real time, swept every second as bot/app.py's interval job
does, through the minute of deadlines (the 1-minute reminders and the overdue countdown edits fall
due on the way). An attempt's lateness is the clock's time when the transaction that closed it
(policy reset) committed, minus its deadline. The sender delivers in real time; the bench keeps it
running `--window` seconds after the last deadline and counts, per real second, the sendMessage and
editMessageText calls the sandbox accepted and the 429s it answered. A 429 is handled when the push it hit is
sent later anyway (no push ends `failed`) and no edit raised.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from bench.due_sweep import TZ, percentile
from bench.figures import record
from bot.clock import MovableClock
from bot.flows.exam_take import ExamDueWork
from bot.i18n import I18n
from bot.outbox import Outbox
from bot.repositories.exams import ExamSettings
from bot.scheduler import Sweeper
from bot.services import exam_attempts, exams
from bot.services.roles import Actor
from bot.store import Store
from tests.support.factories import make_org, make_user
from tests.support.quiz_factories import make_bank

TOKEN = "1000000001:SANDBOX-token-for-local-use-only"
LIMIT = timedelta(minutes=10)
TELEGRAM_RATE = 30  # the sandbox's limit, as Telegram's broadcast limit; the bot is configured below it


class CountingSession(AiohttpSession):
    """Records (real time it was issued, method, outcome) of every call the bot makes."""

    def __init__(self, base: str) -> None:
        super().__init__(api=TelegramAPIServer.from_base(base))
        self.log: list[tuple[float, str, str]] = []

    async def make_request(self, bot: Bot, method: Any, timeout: int | None = None) -> Any:
        name, issued = type(method).__name__, time.monotonic()
        try:
            result = await super().make_request(bot, method, timeout)
        except Exception as exc:
            self.log.append((issued, name, type(exc).__name__))
            raise
        self.log.append((issued, name, "ok"))
        return result


async def setup(store: Store, clock: MovableClock, n: int, rate: float) -> list[tuple[int, int]]:
    """The organisation, members, exam and attempts; returns (user id, attempt id) pairs."""
    admin_id = 900000
    await make_user(store, admin_id, "管理员", verified=True)
    org = await make_org(store, "基准测试组织", admin_id, certified=True)
    bank = await make_bank(store, 10, org_id=org)
    now = clock.now()
    rows = []
    async with store.raw_tx() as db:
        for i in range(n):
            uid, phone = 1_000_000 + i, f"+86139{i:08d}"
            rows.append((uid, f"u{i}", phone, phone, now.isoformat(), now.isoformat(), now.isoformat(),
                         now.isoformat()))
        await db.executemany("INSERT INTO users (id, first_name, phone, name, agreed_at, registered_at, created_at, "
                             "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        await db.executemany("INSERT INTO members (org_id, name, phone, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                             [(org, r[1], r[2], now.isoformat(), now.isoformat()) for r in rows])
    admin = Actor(user=await store.get_user(admin_id), admin_org_ids=frozenset({org}))  # type: ignore[arg-type]
    settings = ExamSettings("基准考试", int(LIMIT.total_seconds()), now - timedelta(hours=1), now + timedelta(days=1),
                            6, None, 0, "reset", 0)
    exam_id = await exams.create(store, clock, admin, org, settings, list(bank))
    await exams.publish(store, clock, admin, exam_id, None, lambda exam, people: [])
    pairs = []
    first = now
    for i in range(n):
        clock.set(first + timedelta(seconds=60 * i / n))
        user = await store.get_user(1_000_000 + i)
        assert user is not None
        attempt, _ = await exam_attempts.start(store, clock, Actor(user=user), exam_id, rate)
        pairs.append((user.id, attempt.id))
    return pairs


def per_second(log: list[tuple[float, str, str]], names: set[str], outcome: str | None = "ok") -> dict[int, int]:
    buckets: dict[int, int] = collections.Counter()
    for at, name, result in log:
        if name in names and (outcome is None or result == outcome):
            buckets[int(at)] += 1
    return buckets


def busiest_second(log: list[tuple[float, str, str]], names: set[str]) -> int:
    """The most calls issued in any sliding one-second window (what a rate limit counts)."""
    times = sorted(at for at, name, _result in log if name in names)
    most, lo = 0, 0
    for hi, at in enumerate(times):
        while times[lo] <= at - 1.0:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


async def main(n: int, rate: float, window: float) -> None:
    from bot.sandbox.server import build_sandbox_app
    from bot.sandbox.state import get_state
    from tests.support.sandbox_client import free_port

    port = free_port()
    app = build_sandbox_app()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    state = get_state(app)
    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(Path(folder) / "bench.sqlite3")
        session = CountingSession(f"http://127.0.0.1:{port}")
        bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
        try:
            clock = MovableClock(TZ)
            start = clock.now().replace(microsecond=0) + timedelta(days=1)
            clock.set(start)
            print(f"{n} attempts, deadlines within one minute; bot configured at {rate:g}/s, sandbox limit "
                  f"{TELEGRAM_RATE}/s overall and 1/s per chat")
            t0 = time.perf_counter()
            pairs = await setup(store, clock, n, rate)
            print(f"setup {time.perf_counter() - t0:.1f} s")
            for uid, attempt_id in pairs:  # each person's chat with a header message to edit
                state.upsert_user({"id": uid, "first_name": f"u{uid}"})
                header = state.add_message(uid, "bot", {"text": "⏱"})
                await store.set_exam_header(attempt_id, header.message_id)
            state.set_faults({"rate_limit": {"global_per_s": TELEGRAM_RATE, "per_chat_per_s": 1}})
            deadlines = {r["id"]: r["deadline"] for r in await store._all("SELECT id, deadline FROM exam_attempts")}
            outbox = Outbox(store, bot, clock, per_second=rate)
            sweeper = Sweeper(store, clock)
            work = ExamDueWork(store, clock, I18n(), bot, outbox)
            for kind, handler in work.handlers().items():
                sweeper.register(kind, handler)
            closed_at: dict[int, datetime] = {}
            real_reset = store.reset_exam_attempt

            async def timed_reset(attempt_id: int, now: datetime, pushes: Any) -> bool:
                ok = await real_reset(attempt_id, now, pushes)
                closed_at[attempt_id] = clock.now()  # committed: the row is closed in the store
                return ok

            store.reset_exam_attempt = timed_reset  # type: ignore[method-assign]
            first = min(datetime.fromisoformat(d) for d in deadlines.values())
            until = max(datetime.fromisoformat(d) for d in deadlines.values())
            clock.set(first - timedelta(seconds=10))  # from here on the clock runs in real time
            sender = asyncio.create_task(outbox.run())
            real0 = time.monotonic()
            sweeps, busy = 0, 0.0
            while clock.now() < until + timedelta(seconds=3):  # the 1 s interval job, as bot/app.py runs it
                began = time.perf_counter()
                await sweeper.sweep()
                busy += time.perf_counter() - began
                sweeps += 1
                await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - began)))
            swept = time.monotonic()
            lateness = [(closed_at[a] - datetime.fromisoformat(d)).total_seconds() for a, d in deadlines.items()
                        if a in closed_at]
            assert len(lateness) == n, f"{n - len(lateness)} attempts not closed"
            await asyncio.sleep(window)
            sender.cancel()
            await work.drain()
            real1 = time.monotonic()
            sends = per_second(session.log, {"SendMessage"})
            edits = per_second(session.log, {"EditMessageText"})
            retry = sum(1 for _t, name, res in session.log if res == "TelegramRetryAfter")
            both = collections.Counter(sends) + collections.Counter(edits)
            seconds = max(1.0, real1 - real0)
            failed = await store._one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'failed'")
            pending = await store._one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")
            sent = await store._one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'")
            print(f"deadlines closed: {len(lateness)}/{n} in {sweeps} sweeps ({busy:.1f} s sweeping "
                  f"in {swept - real0:.1f} s)")
            print(f"lateness: p50 {percentile(lateness, 0.5) * 1000:.0f} ms  p99 {percentile(lateness, 0.99) * 1000:.0f} ms"
                  f"  worst {max(lateness) * 1000:.0f} ms  (limit 2000 ms: {'ok' if max(lateness) <= 2 else 'MISSED'})")
            print(f"telegram over {seconds:.0f} s real: sends {sum(sends.values())} ({sum(sends.values()) / seconds:.1f}/s),"
                  f" edits {sum(edits.values())} ({sum(edits.values()) / seconds:.1f}/s); busiest one-second window "
                  f"of calls issued (429s included): {busiest_second(session.log, {'SendMessage', 'EditMessageText'})}"
                  f" (configured {rate:g}/s); busiest calendar second of accepted ones {max(both.values(), default=0)}")
            print(f"429s answered by the sandbox: {state.rate_limited}, seen by the bot: {retry}; "
                  f"pushes sent {sent['n']}, failed {failed['n']}, still queued {pending['n']} "
                  f"(the queue drains at the configured rate)")
            print(f"countdown edits made: {work.edits_sent}")
            record("exam_deadlines", f"{n} deadlines in one minute: worst lateness", round(max(lateness) * 1000),
                   "ms", f"p99 {percentile(lateness, 0.99) * 1000:.0f} ms; {len(lateness)}/{n} closed")
            record("exam_deadlines", "busiest second of sends + edits", busiest_second(
                session.log, {"SendMessage", "EditMessageText"}), "calls", f"configured {rate:g}/s")
            record("exam_deadlines", "pushes failed after a 429", failed["n"], "pushes",
                   f"{state.rate_limited} 429s answered, {retry} seen by the bot")
        finally:
            await bot.session.close()
            await store.close()
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("attempts", nargs="?", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=28.0)
    parser.add_argument("--window", type=float, default=40.0)
    args = parser.parse_args()
    asyncio.run(main(args.attempts, args.rate, args.window))

"""Telegram down while the bot pushes: the sandbox answers every sendMessage with 500 for `down_500`
seconds, then with 429 (retry_after `retry_after`) for `down_429` seconds, while the outbox sends a
task notice to `members` people and a daily report to `recipients` of them. Shared by the CI test
(tests/e2e/test_outbox_faults.py, seconds and a back-off capped low) and bench/outage.py (3 min of
500, then 2 of 429, the default back-off).

Measured: sendMessage calls per second in the outage's first second and over the rest of it, what
the admin's task view said during it, and, after it, every push received once (or not)."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import MovableClock
from bot.i18n import I18n
from bot.middlewares import load_actor
from bot.outbox import Outbox, text_push
from bot.reports_notify import report_key_prefix
from bot.services import tasks as tsvc
from bot.store import Store
from bot.ui.tasks import notice_pushes, view_text
from tests.sandbox.outbox_load import sandbox_with_bot
from tests.support.factories import make_member, make_org, make_user

TZ = ZoneInfo("Asia/Shanghai")
ADMIN = 700000
FIRST_MEMBER = 700001


@dataclass
class OutageResult:
    outage_seconds: float
    calls_first_second: int            # sendMessage calls in the outage's first second
    calls_per_s_later: float           # ... and per second over the rest of the outage
    calls_in_outage: int
    view_during: str                   # the admin's task view in the middle of the outage
    seconds_after: float               # from the outage's end until nothing was left to send
    received: Counter[int] = field(default_factory=Counter)  # messages per chat
    expected: Counter[int] = field(default_factory=Counter)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        return sum(max(0, self.received[c] - n) for c, n in self.expected.items())

    @property
    def missing(self) -> int:
        return sum(max(0, n - self.received[c]) for c, n in self.expected.items())

    def line(self) -> str:
        return (f"outage {self.outage_seconds:g} s: sendMessage calls {self.calls_first_second} in its first second, "
                f"{self.calls_per_s_later:.2f}/s after it ({self.calls_in_outage} in all); everything sent "
                f"{self.seconds_after:.1f} s after it ended; missing {self.missing}, duplicates {self.duplicates}, "
                f"rows {self.counts}")


async def _people(store: Store, members: int) -> tuple[Any, tsvc.SentTask]:
    settings = type("S", (), {"operator_ids": frozenset()})()
    await make_user(store, ADMIN, "管理员", verified=True)
    org = await make_org(store, "故障演练组织", ADMIN, certified=True)
    for n in range(members):
        uid = FIRST_MEMBER + n
        await make_member(store, org, f"成员{n}", await make_user(store, uid, f"成员{n}"), activated=True)
    actor = await load_actor(store, settings, await store.get_user(ADMIN))  # type: ignore[arg-type]
    target = await tsvc.make_target(store, actor, org, "org")
    sent = await tsvc.send_task(store, MovableClock(TZ), actor, target, "请于本周内完成学习", needs_confirm=True)
    return actor, sent


async def run_outage(db_path: Path, *, members: int = 150, recipients: int = 40, down_500: float = 180.0,
                     down_429: float = 120.0, retry_after: int = 5, backoff_max: float = 300.0,
                     rate: float = 25.0, deadline: float = 1800.0) -> OutageResult:
    i18n, clock = I18n(), MovableClock(TZ)
    async with sandbox_with_bot(db_path) as (state, base, bot, store):
        for n in range(members):
            state.upsert_user({"id": FIRST_MEMBER + n, "first_name": f"m{n}"})
        actor, sent = await _people(store, members)
        state.set_faults({"rate_limit": {"global_per_s": 30, "per_chat_per_s": 1},
                          "fail": [{"method": "sendMessage", "status": 500, "seconds": down_500},
                                   {"method": "sendMessage", "status": 429, "seconds": down_429,
                                    "retry_after": retry_after}]})
        begun = time.monotonic()
        outbox = Outbox(store, bot, clock, per_second=rate, backoff_max=backoff_max)
        day = date.today().isoformat()
        reports = [text_push(FIRST_MEMBER + n, f"每日学习报表 {n}", supersedes=report_key_prefix(1, FIRST_MEMBER + n),
                             dedupe_key=f"{report_key_prefix(1, FIRST_MEMBER + n)}{day}:text")
                   for n in range(recipients)]
        await outbox.enqueue(*notice_pushes(i18n, clock, sent), *reports)
        sender = asyncio.create_task(outbox.run())
        outage = down_500 + down_429
        try:
            for _ in range(2000):  # the first call (the sender starting)
                if state.calls["sendMessage"]:
                    break
                await asyncio.sleep(0.005)
            await asyncio.sleep(1.0)  # the outage's first second of calls
            first = state.calls["sendMessage"]
            await asyncio.sleep(max(0.0, begun + outage / 2 - time.monotonic()))
            view = view_text(i18n.translator("zh"), clock, await tsvc.task_view(store, actor, sent.task.id))
            await asyncio.sleep(max(0.0, begun + outage - time.monotonic()))
            in_outage = state.calls["sendMessage"]
            ended = time.monotonic()
            while True:
                counts = await store.push_counts()
                if not counts.get("pending") and not counts.get("sending"):
                    break
                if sender.done():
                    sender.result()
                if time.monotonic() - ended > deadline:
                    break
                await asyncio.sleep(0.05)
            after = time.monotonic() - ended
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        received: Counter[int] = Counter()
        for uid, chat in state.chats.items():
            received[uid] = sum(1 for m in chat.messages.values() if m.sender == "bot")
        expected = Counter({FIRST_MEMBER + n: 1 + (n < recipients) for n in range(members)})
        return OutageResult(outage, first, (in_outage - first) / max(outage - 1.0, 1e-9), in_outage, view, after,
                            received, expected, counts)

"""How late the Sweeper finishes a burst of due work. Prints figures; not run by CI.

    .venv/bin/python -m bench.due_sweep [rows] [--write]

Arms `rows` (default 5,000) due rows whose times fall within the same minute, in a fresh store in a
temporary folder (not timed), with a trivial handler (`--write`: each handler also writes one row of
its own in a transaction of its own, like a handler that records what it did). Two runs:

* live: the interval job as bot/app.py runs it (every 1 s; a sweep that overruns delays the next
  tick, as APScheduler's max_instances=1 does). Time is a MovableClock set to each tick, so the
  minute passes at once while the sweep's own work takes real time.
* moved: the whole minute falls due at one sweep, as after a restart or a POST /sandbox/clock of 60 s.

A row's lateness is the clock's time when the transaction that marked it done committed, minus
its due_at (live), or minus the sweep's start (moved: the clock jump itself is not the sweep's
doing). rows/s counts rows finished per second of sweeping.

Other benches build on this one (bench/exam_deadlines.py): `arm`, `run_live`, `run_moved` and
`report` take any Sweeper and store.
"""
from __future__ import annotations

import asyncio
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import record
from bot.clock import MovableClock
from bot.repositories.due import DueItem, utc_text
from bot.scheduler import Sweeper
from bot.store import Store

TZ = ZoneInfo("Asia/Shanghai")
MINUTE = datetime(2026, 11, 30, 0, 0, tzinfo=TZ)  # a Monday 00:00, when the weekly work falls due
KIND = "bench"


async def arm(store: Store, rows: int, start: datetime = MINUTE, kind: str = KIND) -> dict[int, datetime]:
    """`rows` due rows spread evenly over the minute from `start`; returns id -> due_at."""
    step = 60 / rows
    due = [start + timedelta(seconds=i * step) for i in range(rows)]
    now = utc_text(datetime.now(UTC))
    async with store._tx() as db:
        await db.executemany("INSERT INTO due_work (kind, ref, due_at, created_at) VALUES (?, ?, ?, ?)",
                             [(kind, f"row:{i}", utc_text(t), now) for i, t in enumerate(due)])
    found = await store._all("SELECT id, due_at FROM due_work WHERE kind = ?", (kind,))
    return {r["id"]: datetime.fromisoformat(r["due_at"]) for r in found}


def watch_finishes(store: Store, clock: MovableClock) -> dict[int, datetime]:
    """id -> the clock's time when the transaction marking it done committed."""
    finished: dict[int, datetime] = {}
    real = store.finish_due

    async def timed(ids: Sequence[int], now: datetime) -> None:
        await real(ids, now)
        at = clock.now()
        for item_id in ids:
            finished[item_id] = at

    store.finish_due = timed  # type: ignore[method-assign]
    return finished


async def run_live(sweeper: Sweeper, clock: MovableClock, start: datetime, until: datetime) -> tuple[int, float]:
    """Ticks every second from `start` (a tick that finds the sweep still running waits for it, then
    the next whole second) until a tick after `until` found nothing more; returns (sweeps, busy seconds)."""
    tick, sweeps, busy = start, 0, 0.0
    while True:
        clock.set(tick)
        began = time.perf_counter()
        done = await sweeper.sweep()
        busy += time.perf_counter() - began
        sweeps += 1
        if tick > until and done == 0:
            return sweeps, busy
        after = clock.now()
        tick = max(tick + timedelta(seconds=1), after.replace(microsecond=0) + timedelta(seconds=1))


async def run_moved(sweeper: Sweeper, clock: MovableClock, to: datetime) -> tuple[datetime, float]:
    clock.set(to)
    began_at, began = clock.now(), time.perf_counter()
    await sweeper.sweep()
    return began_at, time.perf_counter() - began


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def report(label: str, lateness: list[float], busy: float, extra: str = "") -> None:
    print(f"{label:<36} rows {len(lateness):>6}  p50 {statistics.median(lateness) * 1000:8.1f} ms  "
          f"p99 {percentile(lateness, 0.99) * 1000:8.1f} ms  worst {max(lateness) * 1000:8.1f} ms  "
          f"{len(lateness) / busy:9.0f} rows/s{extra}")
    mode = label.split(",")[0]
    record("due_sweep", f"{len(lateness)} rows due in one minute, {mode}: worst lateness", round(max(lateness) * 1000, 1),
           "ms", f"{label}; p99 {percentile(lateness, 0.99) * 1000:.0f} ms, {len(lateness) / busy:.0f} rows/s")


def handler_for(store: Store, write: bool) -> Callable[[DueItem, datetime], Awaitable[None]]:
    async def trivial(item: DueItem, now: datetime) -> None:
        return None

    async def writes(item: DueItem, now: datetime) -> None:
        await store.put_due_now("bench_note", item.ref, now + timedelta(days=365))

    return writes if write else trivial


async def one(rows: int, write: bool, mode: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(Path(folder) / "bench.sqlite3")
        try:
            due = await arm(store, rows)
            clock = MovableClock(TZ)
            clock.set(MINUTE - timedelta(seconds=1))
            sweeper = Sweeper(store, clock)
            sweeper.register(KIND, handler_for(store, write))
            finished = watch_finishes(store, clock)
            handler = "one write each" if write else "trivial handler"
            if mode == "live":
                sweeps, busy = await run_live(sweeper, clock, MINUTE, MINUTE + timedelta(seconds=60))
                lateness = [(finished[i] - due[i]).total_seconds() for i in due]
                report(f"live, 1 s ticks, {handler}", lateness, busy, f"  ({sweeps} sweeps)")
            else:
                began_at, busy = await run_moved(sweeper, clock, MINUTE + timedelta(seconds=60))
                lateness = [(finished[i] - began_at).total_seconds() for i in due]
                report(f"moved 60 s at once, {handler}", lateness, busy)
            assert len(finished) == rows, f"{rows - len(finished)} rows not finished"
        finally:
            await store.close()


async def main(rows: int, write: bool) -> None:
    print(f"{rows} due rows within one minute (Python {sys.version.split()[0]})")
    for mode in ("live", "moved"):
        await one(rows, write, mode)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(main(int(args[0]) if args else 5000, "--write" in sys.argv))

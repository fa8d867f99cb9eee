"""Organisation reports at scale (REP-1..3, LEARN-8's /rank). Prints figures; not run by CI.

    .venv/bin/python -m bench.reports

Builds (not timed) bench/tree.py's 4-level certified tree of 5,000 organisations with 100,000 members in
two branches per organisation (1 % of them listed a second time one level up), every member a
registered user with a membership history, and 90 days of running sums of the ledger
(points_daily: about 60 % of the members score on a weekday, 35 % on a weekend). Then times, through
the real Store and services:

- the nightly snapshot of one day for every organisation (target < 3 s),
- a 90-day backfill, the catch-up of a first start (target < 3 min),
- /orgreport for the root: the overview with change rates and the first page of its table (< 100 ms),
- a 90-day trend chart of the root, read and drawn (< 300 ms),
- the nightly base of every organisation's ranking, then /rank in the organisation with the most
  members (< 50 ms; bench/rank.py times /rank in one organisation of 100,000),

and the peak memory of the process (< 300 MB).
"""
from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import record
from bench.tree import LEVELS, MEMBERS
from bench.tree import build as build_tree
from bot.clock import FakeClock
from bot.render.charts import Panel, Series, trend_chart_png
from bot.services import learner
from bot.services import reports as svc
from bot.services.roles import Actor
from bot.store import Store

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 23)
DAYS = 90
FIRST_USER = 1000


async def build(store: Store) -> int:
    root, _city = await build_tree(store)
    first = (TODAY - timedelta(days=DAYS + 5)).isoformat()
    async with store._tx() as db:
        await db.execute("UPDATE orgs SET created_at = ?", (first + "T09:00:00+08:00",))
        await db.execute(
            "INSERT INTO users (id, first_name, phone, name, registered_at, created_at, updated_at) "
            "SELECT 1000 + m.id, 'u', m.phone, m.name, ?, ?, ? FROM members m",
            (first + "T09:00:00+08:00", first, first))
        await db.execute("UPDATE members SET activated_at = ?", (first,))
        # two branches per organisation, members alternating; 1 % of the people listed a second time in
        # their organisation's upper one (counted once there), so every path of the snapshot runs
        await db.execute("INSERT INTO branches (org_id, name, created_at) SELECT id, '第一支部', ? FROM orgs "
                         "UNION ALL SELECT id, '第二支部', ? FROM orgs", (first, first))
        await db.execute("UPDATE members SET branch_id = (SELECT b.id FROM branches b WHERE b.org_id = members.org_id "
                         "AND b.name = CASE WHEN members.id % 2 = 0 THEN '第一支部' ELSE '第二支部' END)")
        await db.execute("INSERT INTO members (org_id, name, phone, created_at, updated_at) "
                         "SELECT o.parent_id, m.name, m.phone, ?, ? FROM members m JOIN orgs o ON o.id = m.org_id "
                         "WHERE m.id % 100 = 0 AND o.parent_id IS NOT NULL", (first, first))
        await db.execute("DELETE FROM member_history")
        await db.execute("INSERT INTO member_history (org_id, branch_id, phone, start_day) "
                         "SELECT org_id, branch_id, phone, ? FROM members", (first,))
        await db.execute(
            """WITH RECURSIVE d(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM d WHERE n < ?)
               INSERT INTO points_daily (user_id, day, amount)
               SELECT u.id, date(?, '-' || d.n || ' days'), 1 + (u.id * 7 + d.n * 13) % 11
               FROM users u CROSS JOIN d
               WHERE u.id >= ? AND (u.id * 31 + d.n * 17) % 100 <
                     CASE WHEN strftime('%w', date(?, '-' || d.n || ' days')) IN ('0', '6') THEN 35 ELSE 60 END""",
            (DAYS, TODAY.isoformat(), FIRST_USER, TODAY.isoformat()))
        await db.execute("INSERT INTO points_totals (user_id, total) SELECT user_id, SUM(amount) FROM points_daily "
                         "GROUP BY user_id")
    await store._db.execute("ANALYZE")
    return root


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> tuple[object, list[float]]:
    result, times = None, []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = await fn()
        times.append((time.perf_counter() - t0) * 1000)
    return result, times


def line(label: str, times: list[float], target_ms: float) -> bool:
    ok = statistics.median(times) < target_ms
    unit, scale = ("s", 1000.0) if target_ms >= 1000 else ("ms", 1.0)
    print(f"{label:<44} median {statistics.median(times) / scale:8.2f} {unit}   max {max(times) / scale:8.2f} {unit}"
          f"   {'OK' if ok else 'OVER'} (< {target_ms / scale:g} {unit})")
    record("reports", label.split(" (")[0].replace(" in an organisation of", " in the biggest organisation,"),
           round(statistics.median(times) / scale, 3), unit, f"median of {len(times)}; max {max(times) / scale:.3g} {unit}")
    return ok


def chart(t: svc.Trend) -> bytes:
    f = t.figures
    return trend_chart_png(t.days, [
        Panel("成员", [Series("总人数", [x.total for x in f]), Series("活跃人数", [x.active for x in f])]),
        Panel("人均积分", [Series("人均积分", [x.per_capita for x in f])]),
        Panel("参与率", [Series("参与率", [x.participation for x in f])], unit="%"),
    ], f"{t.org.name} · 近 {len(f)} 天", watermark="管理员 0001")


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "bench.sqlite3")
        try:
            t0 = time.perf_counter()
            root = await build(store)
            rows = (await store._one("SELECT COUNT(*) AS n FROM points_daily"))["n"]
            print(f"built {sum(LEVELS):,} organisations in {len(LEVELS)} levels, {MEMBERS:,} members, "
                  f"{rows:,} points_daily rows over {DAYS} days in {time.perf_counter() - t0:.0f} s (not timed)")
            clock = FakeClock(TZ, datetime(TODAY.year, TODAY.month, TODAY.day, 0, 5, tzinfo=TZ))
            ok = True

            t0 = time.perf_counter()
            done = await svc.catch_up(store, clock, days=DAYS)
            backfill = (time.perf_counter() - t0) * 1000
            assert len(done) == DAYS
            ok &= line(f"90-day backfill ({len(done)} days, first start)", [backfill], 180_000)

            yesterday = (TODAY - timedelta(days=1)).isoformat()
            _, times = await timed(lambda: store.snapshot_day(yesterday, clock.now().isoformat()), 3)
            ok &= line("nightly snapshot of one day (all organisations)", times, 3000)

            _, times = await timed(lambda: store.refresh_rank_base(TODAY.isoformat()), 1)
            ok &= line("nightly /rank base (all organisations)", times, 3000)

            [f] = await store.org_days(root, yesterday, yesterday)
            assert f.total == MEMBERS, f  # the people listed twice are counted once
            print(f"  root yesterday: total {f.total:,}, active {f.active:,}, per-capita {f.per_capita:.2f}, "
                  f"participation {f.participation:.1f} %")

            admin = Actor(user=await store.get_user(1), admin_org_ids=frozenset({root}))

            async def orgreport() -> object:
                o = await svc.overview(store, clock, admin, root)
                return o, await svc.lower_table(store, clock, admin, root, "per_capita", 0)

            _, times = await timed(orgreport, 20)
            ok &= line("/orgreport for the root (overview + table)", times, 100)

            async def trend90() -> bytes:
                t = await svc.trend(store, clock, admin, root, 90)
                return await asyncio.to_thread(chart, t)

            png, times = await timed(trend90, 5)
            ok &= line("90-day chart of the root (read + draw)", times, 300)
            await asyncio.to_thread(Path("/tmp/bench_reports_90d.png").write_bytes, png)  # type: ignore[arg-type]

            biggest = (await store._one("SELECT org_id, COUNT(*) AS n FROM members GROUP BY org_id "
                                        "ORDER BY n DESC LIMIT 1"))
            member = await store._one("SELECT u.id FROM members m JOIN users u ON u.phone = m.phone "
                                      "WHERE m.org_id = ? LIMIT 1", (biggest["org_id"],))
            user = await store.get_user(member["id"])
            actor = Actor(user=user)
            _, times = await timed(lambda: learner.ranks(store, clock, actor), 20)
            ok &= line(f"/rank in an organisation of {biggest['n']} members", times, 50)

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            mem_ok = peak < 300
            record("reports", "peak memory (max RSS)", round(peak), "MB")
            print(f"{'peak memory (max RSS)':<44} {peak:8.0f} MB   {'OK' if mem_ok else 'OVER'} (< 300 MB)")
            ok &= mem_ok
        finally:
            await store.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

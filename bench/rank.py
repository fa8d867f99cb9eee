"""/rank's query (LEARN-8) on a large organisation. Prints figures; not run by CI.

    .venv/bin/python -m bench.rank [members] [active_share]

Builds (not timed) one organisation of 100,000 members in 20 branches, every member a registered
user, and a year of ledger rows for 10 % of them (a daily login and a daily quiz each day, about
7.3 million rows), in a fresh store in a temporary folder. Then times, for one member, the one
ranking query (`Store.learner_org_ranking`: 7-day and total points, ranks with ties, top 10 and
the member's own row) and the whole service call (`services.learner.ranks`), cold and warm.
The query reads the running sums (points_totals, points_daily) that award_points keeps, so its
cost grows with the organisation's members, not with the length of their history.
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import record
from bot.clock import FakeClock
from bot.services import learner
from bot.services.roles import Actor
from bot.store import Store
from tests.support.factories import make_org, make_user

ADMIN = 1
FIRST_USER = 1000
BRANCHES = [f"第{i}支部" for i in range(1, 21)]
TODAY = date(2026, 11, 23)
NOW = "2026-11-23T09:00:00+08:00"


async def build(store: Store, members: int, active_every: int) -> int:
    await make_user(store, ADMIN, "管理员", verified=True)
    org = await make_org(store, "基准测试组织", ADMIN, branches=BRANCHES)
    async with store._tx() as db:
        async with db.execute("SELECT id FROM branches WHERE org_id = ? ORDER BY id", (org,)) as cur:
            branch_ids = [r[0] for r in await cur.fetchall()]
        users = [(FIRST_USER + i, f"+86139{i:08d}", f"成员{i:06d}") for i in range(members)]
        await db.executemany(
            "INSERT INTO users (id, first_name, phone, name, registered_at, created_at, updated_at) "
            "VALUES (?, 'u', ?, ?, ?, ?, ?)", [(uid, phone, name, NOW, NOW, NOW) for uid, phone, name in users])
        await db.executemany(
            "INSERT INTO members (org_id, branch_id, name, phone, activated_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(org, branch_ids[i % len(branch_ids)], name, phone, NOW, NOW, NOW)
             for i, (_, phone, name) in enumerate(users)])
        # a year of a daily login and a daily quiz for every `active_every`-th member (bulk SQL: bench only)
        for source, amount in (("login", "1"), ("daily", "(u.id + d.n) % 6")):
            await db.execute(
                f"""WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 364)
                    INSERT INTO points (user_id, amount, source, day, ref, idem_key, created_at)
                    SELECT u.id, {amount}, '{source}', date(?, '-' || d.n || ' days'), 'bench',
                           '{source}:' || u.id || ':' || d.n, ?
                    FROM users u CROSS JOIN d WHERE u.id >= ? AND (u.id - ?) % ? = 0""",
                (TODAY.isoformat(), NOW, FIRST_USER, FIRST_USER, active_every))
        # the running sums award_points keeps (filled in bulk here, as migration 12 does)
        await db.execute("INSERT INTO points_daily (user_id, day, amount) "
                         "SELECT user_id, day, SUM(amount) FROM points GROUP BY user_id, day")
        await db.execute("INSERT INTO points_totals (user_id, total) SELECT user_id, SUM(amount) FROM points "
                         "GROUP BY user_id")
    return org


async def timed(what, runs: int = 5) -> tuple[float, list[float], object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = await what()
        times.append((time.perf_counter() - t0) * 1000)
    return times[0], times[1:], result


async def main(members: int = 100_000, active_share: float = 0.10) -> None:
    active_every = max(1, round(1 / active_share))
    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(Path(folder) / "rank.sqlite3")
        t0 = time.perf_counter()
        org = await build(store, members, active_every)
        n_points = (await store._one("SELECT COUNT(*) AS n FROM points"))["n"]
        print(f"built {members:,} members, {n_points:,} ledger rows in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        await store.refresh_rank_base(TODAY.isoformat())  # the nightly job's base (bot/repositories/ranking.py)
        print(f"nightly rank base of every organisation: {time.perf_counter() - t0:.2f} s")
        me = FIRST_USER + min(12_345, members - 5)  # a member without points: ranked near the bottom
        since = (TODAY - timedelta(days=6)).isoformat()
        cold, warm, rows = await timed(lambda: store.learner_org_ranking(org, me, since, learner.TOP))
        assert len(rows) <= 2 * learner.TOP + 1 and any(r.user_id == me for r in rows)
        record("rank", f"ranking query, {members:,} members (warm median)", round(statistics.median(warm), 1), "ms",
               f"cold {cold:.0f} ms")
        print(f"ranking query (one org, one user): cold {cold:.0f} ms, warm median {statistics.median(warm):.0f} ms "
              f"(min {min(warm):.0f}, max {max(warm):.0f}); {len(rows)} rows returned")
        actor = Actor(user=await store.get_user(me))
        clock = FakeClock(ZoneInfo("Asia/Shanghai"))
        _, warm, ranks = await timed(lambda: learner.ranks(store, clock, actor), runs=3)
        mine = ranks[0].me
        record("rank", f"/rank service call, {members:,} members (warm median)", round(statistics.median(warm), 1), "ms")
        print(f"services.learner.ranks (/rank without sending): warm median {statistics.median(warm):.0f} ms; "
              f"rank 7d #{mine.week_rank}, total #{mine.total_rank} of {ranks[0].ranked:,}")
        await store.close()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(main(int(args[0]) if args else 100_000, float(args[1]) if len(args) > 1 else 0.10))

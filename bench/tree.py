"""Organisation subtree figures (the org_tree closure table, CERT / REP "the organisation"). Prints
figures; not run by CI.

    .venv/bin/python -m bench.tree

Builds (not timed) a 4-level certified tree of 5,000 organisations (1 province, 10 cities,
200 counties, 4,789 units) with 100,000 members, written straight into a fresh store in a
temporary folder together with its closure rows. Then times, through the real Store methods,
listing the root's subtree (`subtree_ids`) and counting its members (`subtree_member_count`),
and the same for one city. Target: each under 50 ms.
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import quick, record
from bot.store import Store
from tests.support.factories import make_user

NOW = "2026-11-23T09:00:00+08:00"
LEVELS = (1, 10, 200, 4789) if not quick() else (1, 5, 20, 100)  # organisations per level: 5,000 in all
MEMBERS = 100_000 if not quick() else 5_000
TARGET_MS = 50.0
RUNS = 20


async def build(store: Store) -> tuple[int, int]:
    """The tree, its closure rows and the members; returns (root id, first city id)."""
    await make_user(store, 1)
    parents: dict[int, int | None] = {}
    next_id, previous = 1, [None]
    for count in LEVELS:
        current = []
        for i in range(count):
            parents[next_id] = previous[i % len(previous)]
            current.append(next_id)
            next_id += 1
        previous = current
    closure = []
    for org, parent in parents.items():
        closure.append((org, org, 0))
        depth, node = 1, parent
        while node is not None:
            closure.append((node, org, depth))
            node, depth = parents[node], depth + 1
    org_ids = list(parents)
    members = [(org_ids[i % len(org_ids)], f"成员{i}", f"+86139{i:08d}", NOW, NOW) for i in range(MEMBERS)]
    async with store._tx() as db:
        await db.executemany("INSERT INTO orgs (id, name, region, parent_id, certified_at, created_by, created_at) "
                             "VALUES (?, ?, '某省', ?, ?, 1, ?)",
                             [(o, f"组织{o}", p, NOW, NOW) for o, p in parents.items()])
        await db.execute("DELETE FROM org_tree")
        await db.executemany("INSERT INTO org_tree (ancestor_id, descendant_id, depth) VALUES (?, ?, ?)", closure)
        await db.executemany("INSERT INTO members (org_id, name, phone, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                             members)
    await store._db.execute("ANALYZE")
    return org_ids[0], org_ids[1]


async def timed(fn, *args) -> tuple[object, list[float]]:
    result, times = None, []
    for _ in range(RUNS):
        start = time.perf_counter()
        result = await fn(*args)
        times.append((time.perf_counter() - start) * 1000)
    return result, times


def line(label: str, value: object, times: list[float]) -> bool:
    ok = max(times) < TARGET_MS
    print(f"{label:<34} {value:>8}   median {statistics.median(times):6.2f} ms   max {max(times):6.2f} ms   "
          f"{'OK' if ok else 'OVER'} (< {TARGET_MS:.0f} ms)")
    record("tree", f"{label} (max of {RUNS})", round(max(times), 2), "ms",
           f"{value} found; median {statistics.median(times):.2f} ms")
    return ok


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "bench.sqlite3")
        try:
            start = time.perf_counter()
            root, city = await build(store)
            print(f"built {sum(LEVELS):,} organisations in {len(LEVELS)} levels, {MEMBERS:,} members "
                  f"in {time.perf_counter() - start:.1f} s (not timed below)")
            ok = True
            ids, times = await timed(store.subtree_ids, root)
            ok &= line("subtree of the root (organisations)", f"{len(ids):,}", times)
            count, times = await timed(store.subtree_member_count, root)
            ok &= line("members under the root", f"{count:,}", times)
            ids, times = await timed(store.subtree_ids, city)
            ok &= line("subtree of one city (organisations)", f"{len(ids):,}", times)
            count, times = await timed(store.subtree_member_count, city)
            ok &= line("members under one city", f"{count:,}", times)
            assert len(await store.subtree_ids(root)) == sum(LEVELS)
            assert await store.subtree_member_count(root) == MEMBERS
        finally:
            await store.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

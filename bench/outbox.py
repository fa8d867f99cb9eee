"""The outbox's throughput against its configured rate, with and without faults, and the store's
cost per push.

    .venv/bin/python bench/outbox.py [--rate 25] [--pushes 1000] [--chats 500] [--store-pushes 20000]
                                     [--store-only]

1. `--pushes` texts round-robin over `--chats` sandbox users (the sandbox in this process, its rate
   limit on at 1.1x the configured rate overall and 1/s per chat), sent by Outbox.run at `--rate`:
   once clean, once with 8 injected 429s (retry_after 3), 8 injected 500s and one user who blocked
   the bot. Printed: seconds, achieved messages/s and its ratio to the configured rate (target
   >= 0.95x), and the 1.1 x pushes/rate bound of the fault test.
2. The store alone (a database file in a temporary folder): enqueue (one call for all), claim (the
   sender's batches) and mark sent (one group-committed write per push, concurrently like the
   sender), in microseconds per push.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import record
from bot.outbox import text_push
from bot.store import Store
from tests.sandbox.outbox_load import run_load


async def store_cost(folder: Path, pushes: int, chats: int, batch: int) -> tuple[float, float, float]:
    store = await Store.open(folder / "store.sqlite3")
    try:
        now = datetime.now(ZoneInfo("Asia/Shanghai")).isoformat()
        rows = [text_push(100_000 + i % chats, f"push #{i}") for i in range(pushes)]
        t0 = time.perf_counter()
        await store.enqueue_pushes(rows, now)
        t1 = time.perf_counter()
        claim_s = mark_s = 0.0
        while True:
            c0 = time.perf_counter()
            claim = await store.claim_pushes(now, limit=batch)
            c1 = time.perf_counter()
            claim_s += c1 - c0
            if not claim.pushes:
                break
            await asyncio.gather(*(store.mark_push_sent(p.id, 1, now) for p in claim.pushes))
            mark_s += time.perf_counter() - c1
        counts = await store.push_counts()
        assert counts == {"sent": pushes}, counts
        return (t1 - t0) / pushes * 1e6, claim_s / pushes * 1e6, mark_s / pushes * 1e6
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--pushes", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--store-pushes", type=int, default=20_000)
    parser.add_argument("--store-only", action="store_true", help="part 2 alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        loads = () if args.store_only else (("without faults", {}),
                                            ("with faults", {"n429": 8, "n500": 8, "blocked": 1}))
        for label, faults in loads:
            result = await run_load(folder / f"load-{len(faults)}.sqlite3", pushes=args.pushes, chats=args.chats,
                                    rate=args.rate, **faults)
            print(result.line(label), flush=True)
            target = "ok" if result.achieved >= 0.95 * args.rate else "BELOW 0.95x"
            bound = "ok" if result.seconds <= 1.1 * args.pushes / args.rate else "OVER 1.1x"
            print(f"  achieved/configured {result.achieved / args.rate:.3f} ({target}); "
                  f"time vs 1.1 x pushes/rate: {bound}", flush=True)
            record("outbox", f"pushes/s {label}", round(result.achieved, 2), "msg/s", f"configured {args.rate:g}/s")
            record("outbox", f"time / (pushes/rate) {label}", round(result.seconds * args.rate / args.pushes, 3), "x",
                   f"{args.pushes} pushes in {result.seconds:.2f} s")
        batch = max(100, min(4000, int(args.rate * 4)))
        enqueue, claim, mark = await store_cost(folder, args.store_pushes, min(args.store_pushes, 5000), batch)
        print(f"store cost per push ({args.store_pushes} pushes, claim batches of {batch}): enqueue {enqueue:.1f} µs "
              f"+ claim {claim:.1f} µs + mark sent {mark:.1f} µs = {enqueue + claim + mark:.1f} µs")
        record("outbox", "store cost per push", round(enqueue + claim + mark, 1), "µs")


if __name__ == "__main__":
    asyncio.run(main())

"""Telegram down for minutes while the bot pushes (REP-5): the sandbox answers every sendMessage with
500 for 3 minutes, then with 429 (retry_after 5) for 2 more, while the outbox sends a task notice to
150 members and a daily report to 40 of them at its configured rate (25/s; the back-off between two
tries of a push at most OUTBOX_BACKOFF_MAX, 300 s by default). The scenario is
tests/sandbox/outage_load.py's; its CI version (seconds instead of minutes) is in
tests/e2e/test_outbox_faults.py.

    .venv/bin/python bench/outage.py [--down-500 180] [--down-429 120] [--retry-after 5] [--backoff-max 300]
                                     [--members 150] [--recipients 40]

Printed: sendMessage calls in the outage's first second and per second over the rest of it (the sender
slows down as a whole), what the admin's task view said in the middle of it, how long after it ended
everything was sent, and the checks: every push received exactly once, no row failed. Exit status 1
when a check failed.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import record
from tests.sandbox.outage_load import run_outage


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down-500", type=float, default=180.0)
    parser.add_argument("--down-429", type=float, default=120.0)
    parser.add_argument("--retry-after", type=int, default=5)
    parser.add_argument("--backoff-max", type=float, default=300.0)
    parser.add_argument("--members", type=int, default=150)
    parser.add_argument("--recipients", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="outage-bench-") as folder:
        result = await run_outage(Path(folder) / "outage.sqlite3", members=args.members, recipients=args.recipients,
                                  down_500=args.down_500, down_429=args.down_429, retry_after=args.retry_after,
                                  backoff_max=args.backoff_max)
    print(result.line(), flush=True)
    counts = [line for line in result.view_during.splitlines() if "·" in line]  # the view's figures
    print("the admin's task view in the middle of the outage: " + " / ".join(counts))
    pushes = args.members + args.recipients
    ok = result.missing == 0 and result.duplicates == 0 and result.counts == {"sent": pushes}
    record("outage", "every push received once after the outage", int(ok), "ok", str(result.counts))
    record("outage", "sendMessage calls in the outage's first second", result.calls_first_second, "calls")
    record("outage", "sendMessage calls per second later in the outage", round(result.calls_per_s_later, 2),
           "calls/s", f"{result.calls_in_outage} calls in {result.outage_seconds:g} s")
    record("outage", "everything sent after the outage ended", round(result.seconds_after, 1), "s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

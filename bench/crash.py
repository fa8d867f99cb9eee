"""Issue 16's crash test, long version (tests/e2e/test_crash.py runs 14 kills in CI). Prints figures.

    .venv/bin/python -m bench.crash --kills 56 --seed 1

SIGKILLs the bot at random points (delays from a seeded RNG, each printed) of registration, member
import, quiz submit, exam deadline, certification approval, task sending and the daily report push, the
flows taken in turn, through a sandbox over HTTP (tests/support/crash.py). After each restart: the
person's last action answered or the person told to repeat it, the store's invariants
(tests/support/invariants.py), and pushes shown twice no more than the outbox rows in flight at the kill.
Per flow it prints kills, kills that came while the update (or the scheduled work) was in flight,
handled / told to repeat, pushes in flight at the kills, pushes shown twice, invariant violations.
Exit status 1 when a violation was found. `--plain` starts each bot with `python -m bot run` instead of
forking it from a process that imported the bot already (slower, same kills).
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import record
from tests.support import invariants
from tests.support.crash import FLOWS, CrashRig, run_rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=56, help="kills in all (the flows in turn)")
    parser.add_argument("--seed", type=int, default=None, help="RNG seed of the delays (default: random, printed)")
    parser.add_argument("--import-rows", type=int, default=1000, help="rows of each member file uploaded")
    parser.add_argument("--plain", action="store_true", help="start each bot with `python -m bot run`")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the databases and logs here")
    args = parser.parse_args()
    seed = random.randrange(1_000_000) if args.seed is None else args.seed
    per_flow = -(-args.kills // len(FLOWS))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="xuexi-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"crash bench: {args.kills} kills, seed {seed}, {args.import_rows} rows per import, work dir {workdir}")
    started = time.monotonic()
    rig = CrashRig(workdir, seed, members=max(12, per_flow + 2), lowers=per_flow + 1, import_rows=args.import_rows,
                   zygote=not args.plain)
    try:
        run_rounds(rig, args.kills)
        rig.bot.stop()
        final = invariants.check(rig.db, now=rig.now(), files=rig.imported)
    finally:
        rig.close()
    print()
    print(rig.table())
    delays = sorted(k.delay for k in rig.kills)
    print(f"\nseed {seed}; delays {delays[0]:.3f}-{delays[-1]:.3f} s; {time.monotonic() - started:.0f} s in all")
    print(f"after the last stop: {len(final.violations)} violations, {final.in_flight_pushes} pushes in flight, "
          f"{final.pending_pushes} pending")
    for line in final.violations:
        print("  " + line)
    bad = [k for k in rig.kills if k.violations]
    for k in bad:
        print(f"{k.flow}#{k.n}: " + "; ".join(k.violations))
    summary = rig.summary().values()
    note = f"seed {seed}; {len(FLOWS)} flows"
    record("crash", "kills", sum(s.kills for s in summary), "kills", note)
    record("crash", "violations", sum(s.violations for s in summary) + len(final.violations), "violations",
           "after each restart and after the last stop")
    record("crash", "people left with no answer", sum(s.lost for s in summary), "people")
    record("crash", "updates or scheduled work in flight at the kill", sum(s.in_flight for s in summary), "kills")
    record("crash", "pushes shown twice", sum(s.duplicates for s in summary), "pushes",
           f"at most the {sum(s.in_flight_pushes for s in summary)} pushes in flight at the kills")
    return 1 if bad or final.violations else 0


if __name__ == "__main__":
    sys.exit(main())

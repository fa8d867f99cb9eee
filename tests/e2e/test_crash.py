"""Issue 16's crash test, short version (bench/crash.py is the long one): the bot SIGKILLed twice in each of
seven flows (registration, member import, quiz submit, exam deadline, certification approval, task sending,
the daily report push) at a random delay drawn from a seeded RNG. After each restart the person's last
action is answered (or they are told to repeat it), the store's invariants hold, and pushes shown twice are
no more than those in flight at the kill. The seed is printed (CRASH_SEED=N replays the delays)."""
from __future__ import annotations

import os
import random

from tests.support import invariants
from tests.support.crash import FLOWS, CrashRig, run_rounds

KILLS_PER_FLOW = 2


def test_sigkill_at_random_points_of_seven_flows(tmp_path):
    seed = int(os.environ.get("CRASH_SEED") or random.randrange(1_000_000))
    print(f"crash test seed {seed} (CRASH_SEED={seed} replays it)")
    rig = CrashRig(tmp_path, seed, members=8, lowers=KILLS_PER_FLOW + 1, import_rows=300)
    try:
        run_rounds(rig, KILLS_PER_FLOW * len(FLOWS))
        rig.bot.stop()
        final = invariants.check(rig.db, now=rig.now(), files=rig.imported)
    finally:
        rig.close()
    print(rig.table())
    assert len(rig.kills) == KILLS_PER_FLOW * len(FLOWS), f"seed {seed}"
    assert {k.flow for k in rig.kills} == set(FLOWS)
    assert all(k.outcome in ("handled", "told to repeat") for k in rig.kills), f"seed {seed}"
    assert [(k.flow, k.n, k.violations) for k in rig.kills if k.violations] == [], f"seed {seed}"
    assert sum(k.at_kill == "in flight" for k in rig.kills) >= 1, f"seed {seed}: no kill came while work was in flight"
    assert final.violations == [], f"seed {seed}"

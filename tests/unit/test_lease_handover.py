"""A stopping leader hands the lead over at once (README "Several processes on one database"): it
releases the lease and, on PostgreSQL, tells the other processes, which take it without waiting for
their next turn. On a shared SQLite file (tests only) the next turn takes it."""
from __future__ import annotations

import asyncio
import time

from bot.leases import Lease
from bot.store import Store


async def test_a_stopping_leader_hands_the_lead_over_at_once(database, backend, clock):
    a_store = await Store.open(database, cache_size=0)
    b_store = await Store.open(database, cache_size=0)
    a = Lease(a_store, clock, holder="A", ttl=20.0, renew_every=3.0)
    b = Lease(b_store, clock, holder="B", ttl=20.0, renew_every=3.0)
    leading = asyncio.create_task(a.run())
    waiting = None
    try:
        await asyncio.wait_for(a.gained.wait(), 10)
        waiting = asyncio.create_task(b.run())
        await asyncio.sleep(0.3)  # B has tried (refused) and waits for its next turn, 3 s on
        assert a.held and not b.held
        stopped = time.monotonic()
        leading.cancel()  # SIGTERM's path: the lease released
        await asyncio.wait({leading})
        await asyncio.wait_for(b.gained.wait(), 10)
        took = time.monotonic() - stopped
        print(f"lead passed in {took:.3f} s on {backend}")
        assert took < (0.5 if backend == "pg" else 3.5), f"the lead passed in {took:.2f} s"
    finally:
        for task in (leading, waiting):
            if task is not None:
                task.cancel()
                await asyncio.wait({task})
        await a_store.close()
        await b_store.close()

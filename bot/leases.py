"""Leadership among several bot processes on one database (issue 17): a named lease row
(bot/repositories/leases.py) taken and renewed with one conditional statement.

`Lease.run()` tries every `renew_every` seconds: the holder renews (its lease lasts `ttl` seconds by the
injected clock), any other process takes it once it has expired. A holder killed stops renewing and
another process leads within ttl + renew_every seconds (15 + 5 by default, inside issue 17's 30 s). A
process considers itself the holder only until its last successful renewal + ttl - renew_every (by
its own monotonic time), so it stops before another may start; a renewal that fails (the database
away) counts as losing the lease, and the next try after the database's return takes it again (at
once: the connection's return wakes the listener of releases). A process stopping releases it and,
on PostgreSQL, tells the others (NOTIFY on the lease's channel), which try at once instead of at their
next turn: the lead passes in about a round trip. On a shared SQLite file (tests only) the next try
comes within renew_every.

The single-process default does not use leases: the sweep and the sender simply run.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.repositories.base import DatabaseUnavailable

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.store import Store

log = logging.getLogger("bot.leases")

LEADER = "leader"  # the lease of the scheduler's sweep and of the outbox sender


def holder_id() -> str:
    """This process, unique across machines and restarts (host, pid, a random part)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, store: Store, clock: Clock, name: str = LEADER, *, holder: str | None = None,
                 ttl: float = 15.0, renew_every: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 on_change: Callable[[bool], None] | None = None) -> None:
        if not 0 < renew_every < ttl:
            raise ValueError("renew_every must be shorter than ttl")
        self.store = store
        self.clock = clock
        self.name = name
        self.holder = holder or holder_id()
        self.ttl = ttl
        self.renew_every = renew_every
        self._monotonic = monotonic
        self._valid_until = 0.0  # monotonic: held until then, unless renewed
        self.on_change = on_change
        self._was_held = False
        self.gained = asyncio.Event()  # set while held (waiters start work at once)
        self._released = asyncio.Event()  # another process released the lease (PostgreSQL's NOTIFY)

    @property
    def channel(self) -> str:
        return f"lease_{self.name}"

    @property
    def held(self) -> bool:
        return self._monotonic() < self._valid_until

    async def try_take(self) -> bool:
        """One attempt to take or renew; True when this process holds the lease now."""
        started = self._monotonic()
        now = self.clock.now()
        try:
            ok = await self.store.take_lease(self.name, self.holder, now, now + timedelta(seconds=self.ttl))
        except DatabaseUnavailable:  # (an outage is logged once, by the connection): taken again after it
            ok = False
        except Exception:
            log.exception("lease %s: taking or renewing failed", self.name)
            ok = False
        self._valid_until = started + self.ttl - self.renew_every if ok else 0.0
        self._changed(ok)
        return ok

    def _changed(self, held: bool) -> None:
        if held:
            self.gained.set()
        else:
            self.gained.clear()
        if held != self._was_held:
            self._was_held = held
            log.info("lease %s %s by %s", self.name, "taken" if held else "lost", self.holder)
            if self.on_change is not None:
                self.on_change(held)

    async def run(self) -> None:
        """Takes/renews every renew_every seconds, or at once when another process released it, until
        cancelled; then releases the lease if held."""
        try:
            try:
                await self.store.listen(self.channel, self._released.set)
            except Exception:  # noqa: BLE001 - the turns below still come
                log.warning("lease %s: cannot listen for releases; taking over within %s s", self.name,
                            self.renew_every)
            while True:
                self._released.clear()
                await self.try_take()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._released.wait(), self.renew_every)
        finally:
            if self._valid_until:
                self._valid_until = 0.0
                self._changed(False)
                await asyncio.shield(self._release())

    async def _release(self) -> None:
        try:
            await self.store.release_lease(self.name, self.holder)
            await self.store.notify(self.channel)  # the others try now
        except Exception:  # noqa: BLE001 - it expires by itself
            log.warning("lease %s: release failed; it expires in %s s", self.name, self.ttl)

"""APScheduler 3.x with jobs rebuilt from code at every start, and the Sweeper of due work.

Every job has an explicit id, `replace_existing=True` and a generous `misfire_grace_time`
(the default of 1 s silently skips a late job). Jobs are plain async callables; the sandbox
lists them and can run one now.

Scheduled work is data: every due time is a row of `due_work` (bot/repositories/due.py) and one
interval job, the Sweeper, runs what is due by the injected clock. A restart and a moved clock
take the same path: the sweep at start runs what fell due while the bot was down, the sandbox's
POST /sandbox/clock runs it right after moving the clock.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

from bot.clock import Clock
from bot.repositories.base import DatabaseUnavailable
from bot.repositories.due import DueItem

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger("bot.scheduler")

DueHandler = Callable[[DueItem, datetime], Awaitable[None]]
"""(item, now): runs one due item; must be idempotent (a crash after it ran but before the sweep
marked it done runs it again). To recur, it re-arms its own row with a later due_at."""


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[], Awaitable[Any]]
    trigger: BaseTrigger
    misfire_grace_time: int = 3600


class Scheduler:
    def __init__(self, timezone: Any) -> None:
        # APScheduler logs two INFO lines per run; the sweep runs every second. Failures are logged by _runner.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        self._aps = AsyncIOScheduler(timezone=timezone)
        self._jobs: dict[str, JobSpec] = {}

    def add(self, spec: JobSpec) -> None:
        self._jobs[spec.id] = spec
        self._aps.add_job(self._runner(spec), trigger=spec.trigger, id=spec.id, name=spec.id,
                          replace_existing=True, misfire_grace_time=spec.misfire_grace_time,
                          coalesce=True, max_instances=1)

    def _runner(self, spec: JobSpec) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await spec.func()
            except DatabaseUnavailable:
                pass  # (an outage is logged once, by the connection): the job's next run tries again
            except Exception:
                log.exception("job %s failed", spec.id)
        return run

    def start(self) -> None:
        if not self._aps.running:
            self._aps.start()

    def shutdown(self) -> None:
        if self._aps.running:
            self._aps.shutdown(wait=False)

    # used by the sandbox control API and by tests
    def list_jobs(self) -> list[dict[str, Any]]:
        out = []
        for job_id in sorted(self._jobs):
            job = self._aps.get_job(job_id)
            nxt = getattr(job, "next_run_time", None) if job else None
            out.append({"id": job_id, "name": job_id, "next_run_time": nxt.isoformat() if nxt else None})
        return out

    async def run_job(self, job_id: str) -> None:
        spec = self._jobs[job_id]  # KeyError for an unknown job
        await spec.func()


class Sweeper:
    """Runs every due item (due_at <= clock.now()) in due order.

    Handlers of one sweep run concurrently in groups of `concurrency` (a group finishes before the
    next starts, so an earlier item never waits behind a later one); each group's successes are
    marked done in one transaction. A handler that raises (or overruns `timeout`) is logged and due
    again after a backoff that doubles with its tries (RETRY_FIRST .. RETRY_MAX). An item of a kind
    nobody registered is logged once per kind and kept for a bot that knows it. Two sweeps never
    overlap: a second caller waits for the running sweep, then sweeps itself. With `leader` (several
    processes on one database) a process sweeps only while it holds the leader lease, checked before
    each batch: exactly one process sweeps at a time.
    """

    RETRY_FIRST = 10.0    # seconds before the first retry
    RETRY_MAX = 3600.0    # the longest wait between tries

    def __init__(self, store: Store, clock: Clock, *, batch: int = 2000, concurrency: int = 50,
                 timeout: float = 120.0, leader: Callable[[], bool] | None = None) -> None:
        self._store = store
        # several processes on one database (bot/leases.py): only the lease holder sweeps; None: always
        self._leader = leader
        self._clock = clock
        self._batch = batch
        self._concurrency = concurrency
        self._timeout = timeout
        self._handlers: dict[str, DueHandler] = {}
        self._lock = asyncio.Lock()
        self._unknown: set[str] = set()

    def register(self, kind: str, handler: DueHandler) -> None:
        if kind in self._handlers:
            raise ValueError(f"a handler for due kind {kind!r} is registered already")
        self._handlers[kind] = handler

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def backoff(self, tries: int) -> timedelta:
        """The wait after the (tries + 1)-th failed run."""
        return timedelta(seconds=min(self.RETRY_MAX, self.RETRY_FIRST * 2 ** min(tries, 20)))

    async def sweep(self) -> int:
        """Runs what is due now; returns how many items finished (ran without error)."""
        async with self._lock:
            now = self._clock.now()
            finished = 0
            while True:
                if self._leader is not None and not self._leader():  # not (or no longer) the leader
                    return finished
                items = await self._store.due_items(now, self._batch)
                runnable = [item for item in items if item.kind in self._handlers]
                for kind in {item.kind for item in items} - self.kinds - self._unknown:
                    self._unknown.add(kind)
                    log.warning("due work of kind %r has no handler: kept for later", kind)
                if not runnable:
                    return finished
                for start in range(0, len(runnable), self._concurrency):
                    group = runnable[start:start + self._concurrency]
                    outcomes = await asyncio.gather(*(self._run(item, now) for item in group))
                    done = [item.id for item, ok in zip(group, outcomes) if ok]
                    await self._store.finish_due(done, now)
                    finished += len(done)
                if len(items) < self._batch:
                    return finished

    async def _run(self, item: DueItem, now: datetime) -> bool:
        try:
            await asyncio.wait_for(self._handlers[item.kind](item, now), self._timeout)
        except DatabaseUnavailable:  # not the item's fault: due as it was (no try counted), run at a later sweep
            return False
        except Exception as exc:  # logged and retried later; the sweep goes on
            error = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            log.exception("due %s %s failed (try %d): %s", item.kind, item.ref, item.tries + 1, error)
            await self._store.retry_due(item.id, now + self.backoff(item.tries), error)
            return False
        return True

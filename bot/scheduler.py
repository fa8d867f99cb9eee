"""APScheduler 3.x with jobs rebuilt from code at every start.

Every job has an explicit id, `replace_existing=True` and a generous `misfire_grace_time`
(the default of 1 s silently skips a late job). Jobs are plain async callables; the sandbox
lists them and can run one now.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

log = logging.getLogger("bot.scheduler")


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[], Awaitable[Any]]
    trigger: BaseTrigger
    misfire_grace_time: int = 3600


class Scheduler:
    def __init__(self, timezone: Any) -> None:
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

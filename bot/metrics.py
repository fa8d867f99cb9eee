"""Metrics in Prometheus' text format and a health endpoint, on an optional port (METRICS_PORT).

    GET /metrics   updates handled (by type), handling latency, errors, the outbox queue and its pushes
                   by status, the scheduler's lag
    GET /healthz   {"mode": "polling", "polling": bool, "scheduler": bool, "database": bool, ...,
                   "problems": [...]}: 200 when all are alive, 503 otherwise (the database away:
                   "database unavailable"), "problems" saying why in words; in webhook mode
                   {"mode": "webhook", "webhook": bool, "scheduler": bool, ...} where the webhook is alive
                   while its server listens, setWebhook succeeded, the last update that came could be
                   stored (one that could not was answered 503) and the latest request was not refused
                   for its secret token (xuexi_webhook_refused_total counts those); "leader":
                   whether this process runs the sweep and the sender (several processes on one
                   database, bot/leases.py; null for a single process, which always does)

The registry is the composition root's (bot/app.py makes a CollectorRegistry and passes it), never
prometheus_client's global one. Counters move as updates are handled (bot/polling.py reports to
`Metrics` as its PollingObserver, bot/webhook.py as its WebhookObserver; errors are counted by an
outer middleware on the dispatcher's error observer); the figures that live in the database
(outbox, due work) are read from the store at scrape time.
"""
from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.errors import DomainError
from bot.repositories.base import DatabaseUnavailable

if TYPE_CHECKING:
    from aiogram import Dispatcher
    from aiogram.types import TelegramObject

    from bot.clock import Clock
    from bot.scheduler import Scheduler
    from bot.store import Store

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
FINAL_STATUSES = ("sent", "failed", "unreachable", "obsolete")  # an outbox row in any other status is queued
POLLING_STALE = 60.0  # seconds without a getUpdates answer (long polls last 10 s) before polling counts as dead
SCHEDULER_STALE = timedelta(seconds=90)  # a job's next run this far in the past: the scheduler is not running
# a webhook request refused for its secret token turns /healthz 503 while it was the latest request and
# is younger than this: when WEBHOOK_SECRET differs between processes, every update Telegram routes to
# the ones without its secret is refused; a stray request from a scanner is cleared by the next update
REFUSED_STALE = 300.0


def outbox_figures(counts: dict[str, int]) -> tuple[int, dict[str, int]]:
    """(queue depth, pushes per final status) from the outbox's rows per status (Store.push_counts):
    whatever status is not final (pending, and a claimed row in flight) is queued."""
    depth = sum(n for status, n in counts.items() if status not in FINAL_STATUSES)
    return depth, {status: counts.get(status, 0) for status in FINAL_STATUSES}


class Metrics:
    def __init__(self, registry: CollectorRegistry, store: Store, clock: Clock,
                 scheduler: Scheduler | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self._store = store
        self._clock = clock
        self._scheduler = scheduler
        self._monotonic = monotonic
        self._polled_at: float | None = None  # the last getUpdates answer
        self._polling_since: float | None = None  # the getUpdates call waiting now, if any
        self._poll_failing = False  # the last getUpdates call failed
        self.mode = "polling"  # "webhook" once bot/webhook.py's server reports
        self._webhook_serving = False  # its server listens
        self._webhook_registered = False  # setWebhook succeeded
        self._webhook_store_failing = False  # the last update that came could not be stored
        self._received_at: float | None = None  # the last webhook request with the right secret
        self._refused_at: float | None = None  # the last one refused for its secret token, unless one came after
        self.updates = Counter("xuexi_updates", "Updates handled, by update type", ["type"], registry=registry)
        self.latency = Histogram("xuexi_update_handling_seconds", "Time from feeding an update to the "
                                 "dispatcher until its handling ended", ["type"], buckets=LATENCY_BUCKETS,
                                 registry=registry)
        self.errors = Counter("xuexi_update_errors", "Handler errors: domain (a rule said no, the person was "
                              "told) or unexpected (a bug: an apology was sent and the traceback logged)",
                              ["kind"], registry=registry)
        self.reply_retries = Counter("xuexi_reply_retries", "A handler's own call answered 429 and repeated after "
                                     "retry_after (bot/reply_retry.py), by method", ["method"], registry=registry)
        self.outbox_depth = Gauge("xuexi_outbox_queue_depth", "Pushes waiting in the outbox", registry=registry)
        self.pushes = Gauge("xuexi_outbox_pushes", "Outbox rows by final status", ["status"], registry=registry)
        self.scheduler_lag = Gauge("xuexi_scheduler_lag_seconds", "Now minus the due time of the oldest due "
                                   "work row not done (0 when nothing is overdue)", registry=registry)
        self.polling_alive = Gauge("xuexi_polling_alive", "1 while long polling answers", registry=registry)
        self.webhook_alive = Gauge("xuexi_webhook_alive", "1 while the webhook server listens, is registered "
                                   "with Telegram and stores what comes", registry=registry)
        self.refused = Counter("xuexi_webhook_refused", "Webhook requests refused (401) because their secret "
                               "token is not this process's WEBHOOK_SECRET", registry=registry)
        self.scheduler_alive = Gauge("xuexi_scheduler_alive", "1 while the scheduler runs its jobs",
                                     registry=registry)
        # several processes on one database (bot/leases.py): whether this one runs the sweep and the sender
        self.leading: bool | None = None  # None: a single process, which always does
        self.leader = Gauge("xuexi_leader", "1 while this process holds the leader lease (runs the due-work "
                            "sweep and the outbox sender); 1 for a single process", registry=registry)
        self.leader.set(1)
        for kind in ("domain", "unexpected", "unhandled"):
            self.errors.labels(kind)
        for status in FINAL_STATUSES:
            self.pushes.labels(status)

    def install(self, dp: Dispatcher) -> None:
        """Counts the errors that reach the dispatcher's error handlers."""
        dp.errors.outer_middleware(self._count_error)

    async def _count_error(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                           event: TelegramObject, data: dict[str, Any]) -> Any:
        exc = getattr(event, "exception", None)  # an ErrorEvent
        self.errors.labels("domain" if isinstance(exc, DomainError) else "unexpected").inc()
        return await handler(event, data)

    # -- PollingObserver (bot/polling.py) ------------------------------------------------------
    def poll_started(self) -> None:
        self._polling_since = self._monotonic()

    def polled(self) -> None:
        self._polled_at, self._polling_since, self._poll_failing = self._monotonic(), None, False

    def poll_failed(self) -> None:
        self._polling_since, self._poll_failing = None, True

    def handled(self, update_type: str, seconds: float, failed: bool) -> None:
        self.updates.labels(update_type).inc()
        self.latency.labels(update_type).observe(seconds)
        if failed:
            self.errors.labels("unhandled").inc()

    def reply_retried(self, method: str) -> None:
        """A handler's call got a 429 and is repeated after retry_after (bot/reply_retry.ReplyRetry)."""
        self.reply_retries.labels(method).inc()

    # -- WebhookObserver (bot/webhook.py) ------------------------------------------------------
    def webhook_serving(self, serving: bool) -> None:
        self.mode, self._webhook_serving = "webhook", serving

    def webhook_registered(self, ok: bool) -> None:
        self.mode, self._webhook_registered = "webhook", ok

    def lease_changed(self, held: bool) -> None:
        """The leader lease was taken (True) or lost (False) by this process."""
        self.leading = held
        self.leader.set(int(held))

    def webhook_received(self, stored: bool) -> None:
        self._received_at, self._webhook_store_failing = self._monotonic(), not stored
        self._refused_at = None

    def webhook_refused(self) -> None:
        """A request without this process's secret token was answered 401."""
        self.refused.inc()
        self._refused_at = self._monotonic()

    def is_refusing(self) -> bool:
        """The latest webhook request was refused for its secret token, within REFUSED_STALE."""
        return self._refused_at is not None and self._monotonic() - self._refused_at <= REFUSED_STALE

    def is_webhook_alive(self) -> bool:
        """The server listens, Telegram took the webhook, the last update could be stored and the
        latest request was not refused for its secret. (No update for a while is no sign of trouble:
        people may just be quiet.)"""
        return (self._webhook_serving and self._webhook_registered and not self._webhook_store_failing
                and not self.is_refusing())

    def _webhook_problems(self) -> list[str]:
        return [text for fault, text in (
            (not self._webhook_serving, "the webhook server is not listening"),
            (not self._webhook_registered, "setWebhook has not succeeded"),
            (self._webhook_store_failing, "the last update could not be stored"),
            (self.is_refusing(), ("webhook requests are refused: their secret token is not this process's "
                                 "WEBHOOK_SECRET (another process set its own with Telegram)")),
        ) if fault]

    # -- scrape time ---------------------------------------------------------------------------
    def is_polling(self) -> bool:
        """The last getUpdates call did not fail, and one answered or was sent within POLLING_STALE
        (a long poll waits up to its timeout when nobody writes)."""
        if self._poll_failing:
            return False
        now = self._monotonic()
        return any(at is not None and now - at <= POLLING_STALE for at in (self._polled_at, self._polling_since))

    def is_scheduling(self) -> bool:
        """The scheduler started and none of its jobs is long overdue (a job's next run stays in the
        past when the scheduler has stopped or the event loop is blocked)."""
        if self._scheduler is None:
            return False
        jobs = self._scheduler.list_jobs()
        if not jobs:
            return False
        now = datetime.now().astimezone()  # APScheduler's times are the wall clock's, not the bot's (movable) clock
        for job in jobs:
            nxt = job["next_run_time"]
            if nxt is None or datetime.fromisoformat(nxt) < now - SCHEDULER_STALE:
                return False
        return True

    async def _read_store(self) -> tuple[int | None, float | None, str | None]:
        """(outbox queue depth, scheduler lag) read from the store into the gauges, or the problem when it
        cannot be read: the database away makes /healthz 503 with a reason, never a 500."""
        try:
            depth, final = outbox_figures(await self._store.push_counts())
            oldest = await self._store.next_due_at()
        except DatabaseUnavailable:
            return None, None, "database unavailable"
        except Exception as exc:  # noqa: BLE001 - said in the answer; a failing health check is the sign
            return None, None, f"the database cannot be read ({type(exc).__name__}: {exc})"
        self.outbox_depth.set(depth)
        for status, n in final.items():
            self.pushes.labels(status).set(n)
        lag = max(0.0, (self._clock.now() - oldest).total_seconds()) if oldest is not None else 0.0
        self.scheduler_lag.set(lag)
        return depth, round(lag, 3), None

    async def refresh(self) -> dict[str, Any]:
        """Reads the store's figures into the gauges; returns the health summary."""
        depth, lag, database = await self._read_store()
        scheduling = self.is_scheduling()
        self.scheduler_alive.set(int(scheduling))
        figures = {"scheduler": scheduling, "scheduler_lag_seconds": lag, "outbox_queue_depth": depth,
                   "leader": self.leading, "database": database is None}
        stopped = ([] if scheduling else ["the scheduler is not running its jobs"]) + ([database] if database else [])
        healthy = scheduling and database is None
        if self.mode == "webhook":
            webhook = self.is_webhook_alive()
            self.webhook_alive.set(int(webhook))
            since = None if self._received_at is None else round(self._monotonic() - self._received_at, 3)
            return {"mode": "webhook", "webhook": webhook, "last_update_seconds_ago": since, **figures,
                    "problems": self._webhook_problems() + stopped, "alive": webhook and healthy}
        polling = self.is_polling()
        self.polling_alive.set(int(polling))
        since = None if self._polled_at is None else round(self._monotonic() - self._polled_at, 3)
        no_answer = [] if polling else ["long polling has had no answer from Telegram"]
        return {"mode": "polling", "polling": polling, "last_poll_seconds_ago": since, **figures,
                "problems": no_answer + stopped, "alive": polling and healthy}

    async def scrape(self) -> bytes:
        await self.refresh()
        return generate_latest(self.registry)

    # -- the HTTP side -------------------------------------------------------------------------
    def web_app(self) -> web.Application:
        async def metrics(_request: web.Request) -> web.Response:
            return web.Response(body=await self.scrape(), headers={"Content-Type": CONTENT_TYPE_LATEST})

        async def healthz(_request: web.Request) -> web.Response:
            health = await self.refresh()
            ok = health.pop("alive")
            return web.Response(text=json.dumps(health), status=200 if ok else 503,
                                content_type="application/json")

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        return app

    async def serve(self, host: str, port: int) -> web.AppRunner:
        """Starts the endpoint; the caller cleans the returned runner up."""
        runner = web.AppRunner(self.web_app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:  # the port is taken: nothing left behind
            await runner.cleanup()
            raise
        return runner

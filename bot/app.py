"""The composition root: settings → store → bot → dispatcher → polling or webhook. Tests call the same factories."""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sqlite3
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError, TelegramUnauthorizedError
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.fsm.strategy import FSMStrategy
from aiogram.types import User
from aiogram.utils.backoff import Backoff, BackoffConfig
from aiohttp import web
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from bot import reports_notify
from bot.clock import Clock, MovableClock
from bot.config import Settings
from bot.filters import resolve_filters_inline
from bot.flows import quiz as quiz_flow
from bot.flows.exam_take import ExamDueWork
from bot.fsm_storage import StoreStorage
from bot.handlers import build_routers, build_workflows
from bot.handlers.tasks import due_reminder_handler
from bot.i18n import I18n
from bot.leases import Lease
from bot.menus import MENU_DUE, arm_at_start, menu_due_handler
from bot.metrics import Metrics
from bot.middlewares import ActorMiddleware, AnswerCallbacks
from bot.outbox import IDLE_POLL, Outbox
from bot.polling import DurablePolling, InboxTurns
from bot.reply_retry import ReplyRetry
from bot.repositories.base import DatabaseUnavailable
from bot.response_models import KeepResponseModels
from bot.scheduler import JobSpec, Scheduler, Sweeper
from bot.services import keys, quiz, reports
from bot.services.tasks import DUE_KIND as TASK_REMIND
from bot.store import Store
from bot.ui.menu import set_default_menus
from bot.webhook import WebhookReceiver

log = logging.getLogger("bot")

SHARED_POLL = 0.5  # seconds: how often the leader looks for pushes other processes enqueued
# the first call to Telegram, tried again while Telegram cannot be reached: 1 s, growing to a minute
GREET_BACKOFF = BackoffConfig(min_delay=1.0, max_delay=60.0, factor=2.0, jitter=0.1)


class StartupError(Exception):
    """Start-up cannot go on: one line for the operator (bot/cli.py prints it and exits non-zero)."""


def database_name(settings: Settings) -> str:
    """The database as the operator named it, without a PostgreSQL password."""
    if settings.database_url is None:
        return str(settings.database_path)
    parts = urlsplit(settings.database_url)
    return f"postgresql://{parts.username or ''}@{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


def build_dispatcher(
    settings: Settings,
    store: Store,
    clock: Clock,
    i18n: I18n,
    scheduler: Scheduler | None = None,
    outbox: Outbox | None = None,
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
) -> Dispatcher:
    dp = Dispatcher(
        # no FSM cache when other processes share the database: the state is read fresh per update
        storage=storage or StoreStorage(store, cache_size=10_000 if store.caching else 0),
        events_isolation=events_isolation or SimpleEventIsolation(),
        fsm_strategy=FSMStrategy.USER_IN_CHAT,
        settings=settings,
        store=store,
        clock=clock,
        i18n=i18n,
        scheduler=scheduler,
        outbox=outbox,
        workflows=build_workflows(),
    )
    dp.update.outer_middleware(ActorMiddleware())
    dp.callback_query.middleware(AnswerCallbacks())
    dp.include_routers(*build_routers())
    resolve_filters_inline(dp)
    return dp


def build_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    if session is None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.api_base)) if settings.api_base else None
    if settings.bot_token is None:
        raise ValueError("BOT_TOKEN is required to build the bot")
    bot = Bot(settings.bot_token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    bot.session.middleware(KeepResponseModels())  # each answer's model built once, not per call
    return bot


def settle_heap() -> None:
    """Everything built at start (modules, aiogram's and pydantic's type machinery, the locales: some
    200,000 objects) lives as long as the process. Frozen out of the garbage collector's view, a full
    collection no longer walks them: on the 2-CPU machine that walk took 200-300 ms, a stall of every
    update in flight whenever one ran (bench/quiz_answers.py's p99)."""
    gc.collect()
    gc.freeze()


@dataclass
class App:
    settings: Settings
    store: Store
    clock: Clock
    i18n: I18n
    scheduler: Scheduler
    bot: Bot
    dp: Dispatcher
    outbox: Outbox
    sweeper: Sweeper
    metrics: Metrics | None = None  # counters always; served only when METRICS_PORT is set
    # SHARED_DATABASE (several processes): the leader lease (sweep and sender) and the inbox's turns
    lease: Lease | None = None
    turns: InboxTurns | None = None
    _served: web.AppRunner | None = field(default=None, init=False, repr=False)  # METRICS_PORT's server

    @classmethod
    async def create(cls, settings: Settings, clock: Clock | None = None) -> App:
        shared = settings.shared_database  # (always on with PostgreSQL: Settings.shared_database)
        try:
            store = await Store.open(settings.database, cache_size=0 if shared else 50_000)
        except (OSError, sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError, DatabaseUnavailable) as exc:
            raise StartupError(f"the database {database_name(settings)} cannot be opened: "
                               f"{type(exc).__name__}: {exc}") from None
        try:
            # data made with another SECRET_KEY is refused (ID hashes, invite and certification links)
            await keys.check_key(store, settings.secret_key)
            return await cls._assemble(settings, store, clock)
        except BaseException:  # the store's connection thread would keep the process alive
            await store.close()
            raise

    @classmethod
    async def _assemble(cls, settings: Settings, store: Store, clock: Clock | None) -> App:
        shared = settings.shared_database
        clock = clock or MovableClock(settings.timezone, settings.clock_offset_seconds)
        i18n = I18n(default=settings.default_language)
        scheduler = Scheduler(settings.timezone)
        bot = build_bot(settings)
        lease = Lease(store, clock) if shared else None
        leader = (lambda: lease.held) if lease is not None else None
        outbox = Outbox(store, bot, clock, per_second=settings.outbox_rate,
                        paid_broadcast=settings.outbox_paid_broadcast, leader=leader,
                        idle_poll=SHARED_POLL if shared else IDLE_POLL, backoff_max=settings.outbox_backoff_max)
        scheduler.add(JobSpec("outbox", outbox.flush, IntervalTrigger(minutes=1), misfire_grace_time=60))
        sweeper = Sweeper(store, clock, leader=leader)  # every due time is a row; this job runs what is due
        on_timeout = quiz_flow.timeout_notifier(bot, outbox, i18n, store)  # a challenge's time-out tells the person
        for kind, handler in quiz.due_handlers(store, clock, on_timeout).items():
            sweeper.register(kind, handler)
        await quiz.arm_due_work(store, clock)
        # exam deadlines, countdown edits, reminders, publishing (LEARN-6)
        for kind, handler in ExamDueWork(store, clock, i18n, bot, outbox).handlers().items():
            sweeper.register(kind, handler)
        sweeper.register(TASK_REMIND, due_reminder_handler(store, clock, i18n, outbox))  # WORK-1's reminder
        # the nightly snapshot and each recipient's daily report (REP-1, 5)
        for kind, handler in {**reports.snapshot_handlers(store, clock),
                              **reports_notify.slot_handlers(store, clock, i18n, outbox)}.items():
            sweeper.register(kind, handler)
        await reports.arm_snapshot(store, clock)
        # each person's command menu follows their roles, whoever's action changed them (SPEC Commands)
        sweeper.register(MENU_DUE, menu_due_handler(bot, store, i18n, settings))
        await arm_at_start(store, clock, settings)
        await reports.arm_all_slots(store, clock)
        scheduler.add(JobSpec("sweep", sweeper.sweep, IntervalTrigger(seconds=1), misfire_grace_time=60))
        dp = build_dispatcher(settings, store, clock, i18n, scheduler=scheduler, outbox=outbox)
        metrics = Metrics(CollectorRegistry(), store, clock, scheduler)  # the process's one registry
        metrics.install(dp)
        # a handler's reply survives a 429 and takes its chat's turns from the outbox's pacer (one per bot)
        bot.session.middleware(ReplyRetry(on_retry=metrics.reply_retried, pacer=outbox.limiter))
        turns = None
        if lease is not None:
            turns = InboxTurns(store, clock, lease.holder)

            def lease_changed(held: bool) -> None:
                metrics.lease_changed(held)
                if held:
                    outbox.wake()  # the new leader sends what is waiting at once

            lease.on_change = lease_changed
            metrics.lease_changed(False)
        return cls(settings, store, clock, i18n, scheduler, bot, dp, outbox, sweeper, metrics=metrics,
                   lease=lease, turns=turns)

    async def catch_up(self) -> int:
        """One sweep of what is due now, then one outbox flush (at start, and after the sandbox moved the clock)."""
        done = await self.sweeper.sweep()
        await self.outbox.flush()
        return done

    async def run_polling(self) -> None:
        """Long polling until cancelled; the scheduler runs beside it."""
        await self.bot.delete_webhook(drop_pending_updates=False)  # getUpdates is refused while one is set
        # every update stored before Telegram hears it was received (bot/polling.py)
        await self._receive(DurablePolling(self.dp, self.bot, self.store, self.clock, concurrency=64,
                                           polling_timeout=10, observer=self.metrics, turns=self.turns).run)

    async def run_webhook(self) -> None:
        """The webhook server (settings.webhook) until cancelled; the scheduler runs beside it."""
        if self.settings.webhook is None:
            raise ValueError("webhook mode needs settings.webhook (WEBHOOK_URL)")
        # every update stored before the 200 that confirms it to Telegram (bot/webhook.py)
        await self._receive(WebhookReceiver(self.dp, self.bot, self.store, self.clock, self.settings.webhook,
                                            concurrency=64, observer=self.metrics, turns=self.turns).run)

    async def run_updates(self) -> None:
        """Webhook mode when settings.webhook is set, else long polling."""
        await (self.run_webhook() if self.settings.webhook is not None else self.run_polling())

    async def serve_metrics(self) -> None:
        """METRICS_PORT's /metrics and /healthz, once; a port that cannot be had stops the start (StartupError)."""
        if self._served is not None or self.metrics is None or self.settings.metrics_port is None:
            return
        host, port = self.settings.metrics_host, self.settings.metrics_port
        try:
            self._served = await self.metrics.serve(host, port)
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise StartupError(f"METRICS_PORT: cannot listen on {host}:{port}: {reason} (every "
                               "process on a host needs a METRICS_PORT of its own)") from None
        log.info("metrics on http://%s:%d/metrics and /healthz", host, port)

    async def greet(self) -> User:
        """getMe, the first call to Telegram: tried again with back-off while Telegram cannot be reached
        (network errors, 5xx, 429), saying so each time; a token Telegram refuses stops the start."""
        backoff = Backoff(config=GREET_BACKOFF)
        while True:
            try:
                return await self.bot.get_me()
            except TelegramUnauthorizedError:
                raise StartupError("BOT_TOKEN: Telegram refused it (401 Unauthorized): revoked or mistyped; "
                                   "take the current token from @BotFather") from None
            except (TelegramNetworkError, TelegramServerError, TelegramRetryAfter) as exc:
                delay = max(next(backoff), getattr(exc, "retry_after", 0))
                log.warning("Telegram cannot be reached at start (%s); trying again in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    async def _receive(self, receive: Callable[[], Coroutine[Any, Any, None]]) -> None:
        await set_default_menus(self.bot, self.i18n)
        settle_heap()
        leading = None
        if self.lease is not None:  # several processes: the first try now, so a leader sweeps at once
            await self.lease.try_take()
            leading = asyncio.create_task(self.lease.run(), name="lease")
        try:  # what fell due while the bot was down runs before the first update
            await self.sweeper.sweep()
        except Exception:
            log.exception("the sweep at start failed; the interval job tries again")
        self.scheduler.start()
        sender = asyncio.create_task(self.outbox.run(), name="outbox")
        await self.serve_metrics()
        receiving = asyncio.create_task(receive(), name="receive")
        try:
            await asyncio.wait({receiving})  # (a cancel of this task is not passed on: the order below is)
            receiving.result()
        finally:
            # the lead goes first, before the updates in flight are drained (up to their grace), so
            # another process takes the sweep and the sender over at once
            sender.cancel()
            self.scheduler.shutdown()
            if leading is not None:
                leading.cancel()
                await asyncio.wait({leading})
            receiving.cancel()
            await asyncio.wait({receiving})

    async def close(self) -> None:
        self.scheduler.shutdown()
        if self._served is not None:
            await self._served.cleanup()
        await self.bot.session.close()
        await self.store.close()


def stop_on_signals(task: asyncio.Task[None]) -> Callable[[], None]:
    """SIGTERM (systemd's stop, `docker stop`) and SIGINT cancel `task`, so that it stops as it would
    when cancelled: nothing new taken in, what is in flight finished (or left for the next start), the
    leader lease and this process's inbox holds released at once for the other processes. Python's own
    handling of SIGTERM ends the process on the spot. Returns the undo."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def stop(name: str) -> None:
        log.info("%s: stopping", name)
        task.cancel()

    def undo() -> None:
        for sig in signals:
            loop.remove_signal_handler(sig)

    for sig in signals:
        loop.add_signal_handler(sig, stop, sig.name)
    return undo


async def _serve(app: App) -> None:
    await app.serve_metrics()  # first: /healthz answers (503) while Telegram is still being reached
    me = await app.greet()
    log.info("bot @%s (%s) %s", me.username, me.id, "webhook" if app.settings.webhook else "polling")
    await app.run_updates()


async def run(settings: Settings) -> None:
    """The process's life: open, reach Telegram, receive until SIGTERM/SIGINT; whatever happens the
    store and the session are closed, so a failure ends the process (StartupError: one line)."""
    app = await App.create(settings)
    serving = asyncio.create_task(_serve(app), name="updates")
    undo = stop_on_signals(serving)
    try:
        await serving
    except asyncio.CancelledError:
        log.info("stopped")
    finally:
        undo()
        await app.close()

"""Webhook mode (`xuexi-bot run --webhook`): Telegram POSTs each update to the bot's own HTTP server.

aiogram's aiohttp integration serves it (`SimpleRequestHandler` registered on an aiohttp app,
`setup_application` for the dispatcher's startup/shutdown, the `secret_token` checked against the
`X-Telegram-Bot-Api-Secret-Token` header: a request without it, or with another, gets 401 and is not
read). What aiogram's handler does with the update is replaced, so that none is lost:

1. the update is stored in the durable inbox (bot/repositories/inbox.py, the same rows long polling
   uses) and the insert is committed;
2. only then the bot answers 200, which is what confirms the update to Telegram. Should storing fail
   (the database away), the answer is 503 and Telegram delivers the update again later;
3. the update is handled *after* the answer, as a task (aiogram's `handle_in_background`), exactly as
   long polling handles it (bot/polling.py: at most `concurrency` at once, one person's updates in
   order through the dispatcher's event isolation, marked done in a group commit). Telegram waits
   about 60 s for an answer and counts a slow one as failed; a 2,000-row import must not hold the
   request, and the answer can carry nothing the bot needs to say (replies go through the Bot API).

An update_id Telegram delivers again (the bot answered 200 but the answer got lost, or it died between
storing and answering) is stored once and handled once: the inbox says it is not new. A bot killed
after answering finds the stored update unfinished at the next start and handles it before it
listens again (as polling does before its first getUpdates).

At start the server listens first and then calls setWebhook (url, secret_token, allowed_updates,
max_connections); at stop it does not delete the webhook: Telegram keeps the updates meanwhile and
delivers them when the bot is back (several processes behind one address keep receiving).
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from aiogram.types import Update
from aiogram.utils.backoff import Backoff
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from pydantic import ValidationError

from bot.polling import BACKOFF, PRUNE_EVERY, DurablePolling, InboxTurns, PollingObserver

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

    from bot.clock import Clock
    from bot.config import WebhookSettings
    from bot.store import Store

log = logging.getLogger("bot.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookObserver(PollingObserver, Protocol):
    """What the metrics hear in webhook mode (bot/metrics.py implements it)."""

    def webhook_serving(self, serving: bool) -> None:
        """The server listens (True) or stopped listening (False)."""

    def webhook_registered(self, ok: bool) -> None:
        """setWebhook succeeded (True) or failed (False: tried again with backoff)."""

    def webhook_received(self, stored: bool) -> None:
        """A POST with the right secret came: its update was stored (True) or storing failed (False)."""

    def webhook_refused(self) -> None:
        """A POST without the right secret came and was answered 401."""


class WebhookInbox(DurablePolling):
    """The durable inbox of bot/polling.py, fed one update per request instead of by getUpdates."""

    async def accept(self, update: Update) -> bool:
        """Stores the update (committed when this returns; raises when it could not be stored), then
        feeds it to the dispatcher as a task unless it was stored before. True: it is new."""
        body = update.model_dump_json(exclude_unset=True, by_alias=True)  # as polling stores it
        hold = self._turns.hold([update]) if self._turns is not None else None  # several processes
        stored = [(update.update_id, body)]
        fresh = await (self._store.accept_updates(stored, self._clock.now()) if hold is None
                       else self._store.accept_held_updates(stored, self._clock.now(), hold))
        if fresh:
            await self._spawn(update)  # in arrival order (one chat's next update comes after this answer)
        return bool(fresh)

    def cancel_in_flight(self) -> None:
        for task in list(self._tasks):
            task.cancel()


class DurableRequestHandler(SimpleRequestHandler):
    """aiogram's handler for one bot, answering only once the update is stored (see the module's doc)."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, inbox: WebhookInbox, *, secret_token: str,
                 observer: WebhookObserver | None = None) -> None:
        super().__init__(dispatcher, bot, handle_in_background=True, secret_token=secret_token)
        self.inbox = inbox
        self.observer = observer

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        try:
            return super().verify_secret(telegram_secret_token, bot)
        except TypeError:  # a header that is not ASCII (compare_digest refuses it): not ours
            return False

    async def handle(self, request: web.Request) -> web.Response:
        bot = await self.resolve_bot(request)
        if not self.verify_secret(request.headers.get(SECRET_HEADER, ""), bot):
            log.warning("webhook request from %s without the secret token: refused", request.remote)
            if self.observer is not None:
                self.observer.webhook_refused()
            return web.Response(status=401, text="Unauthorized")
        try:
            update = Update.model_validate(await request.json(loads=bot.session.json_loads), context={"bot": bot})
        except (ValueError, ValidationError):
            log.warning("webhook request with a body that is not an update: refused")
            return web.Response(status=400, text="Bad Request")
        try:
            await self.inbox.accept(update)
        except Exception:  # the database away: Telegram retries the delivery
            log.exception("update %d could not be stored: answered 503, Telegram delivers it again",
                          update.update_id)
            if self.observer is not None:
                self.observer.webhook_received(stored=False)
            return web.Response(status=503, text="Service Unavailable")
        if self.observer is not None:
            self.observer.webhook_received(stored=True)
        return web.json_response({})

    __call__ = handle

    async def close(self) -> None:
        """The bot's session belongs to the composition root (App.close closes it)."""


class WebhookReceiver:
    """Recovery, then the webhook server until cancelled (the counterpart of DurablePolling.run)."""

    def __init__(self, dp: Dispatcher, bot: Bot, store: Store, clock: Clock, settings: WebhookSettings, *,
                 concurrency: int = 64, observer: WebhookObserver | None = None, max_tries: int = 3,
                 stop_grace: float = 5.0, turns: InboxTurns | None = None) -> None:
        self._dp = dp
        self._bot = bot
        self._store = store
        self._clock = clock
        self._settings = settings
        self._observer = observer
        self._stop_grace = stop_grace
        self.inbox = WebhookInbox(dp, bot, store, clock, concurrency=concurrency, observer=observer,
                                  max_tries=max_tries, stop_grace=stop_grace, turns=turns)
        self.handler = DurableRequestHandler(dp, bot, self.inbox, secret_token=settings.secret, observer=observer)

    def web_app(self) -> web.Application:
        """The aiohttp app: the webhook path, and the dispatcher's startup/shutdown (aiogram's setup)."""
        app = web.Application()
        self.handler.register(app, path=self._settings.path)
        setup_application(app, self._dp, bot=self._bot, bots=(self._bot,))
        return app

    async def register(self) -> None:
        """setWebhook, tried again with backoff until Telegram takes it (the server already listens)."""
        backoff = Backoff(config=BACKOFF)
        while True:
            try:
                await self._bot.set_webhook(self._settings.url, secret_token=self._settings.secret,
                                            allowed_updates=self._dp.resolve_used_update_types(),
                                            max_connections=self._settings.max_connections,
                                            drop_pending_updates=False)
            except Exception as exc:  # noqa: BLE001 - Telegram away: again later
                log.error("setWebhook failed - %s: %s; again in %.1f s", type(exc).__name__, exc, backoff.next_delay)
                if self._observer is not None:
                    self._observer.webhook_registered(False)
                await backoff.asleep()
                continue
            if self._observer is not None:
                self._observer.webhook_registered(True)
            log.info("webhook set: %s (at most %d connections)", self._settings.url, self._settings.max_connections)
            return

    async def run(self) -> None:
        runner = web.AppRunner(self.web_app(), access_log=None)
        await runner.setup()  # the dispatcher's startup
        site: web.TCPSite | None = None
        keeper: asyncio.Task[None] | None = None
        try:
            await self._store.prune_updates(self._clock.now())
            await self.inbox.recover()  # what a killed run stored and did not finish, before anything new
            if self.inbox.shared:  # several processes: holds renewed, orphans adopted (bot/polling.py)
                keeper = asyncio.create_task(self.inbox.keep_turns(), name="inbox-turns")
            site = web.TCPSite(runner, self._settings.host, self._settings.port)
            await site.start()
            log.info("webhook server on %s:%d%s", self._settings.host, self._settings.port, self._settings.path)
            if self._observer is not None:
                self._observer.webhook_serving(True)
            await self.register()
            while True:
                await asyncio.sleep(PRUNE_EVERY)
                try:
                    await self._store.prune_updates(self._clock.now())
                except Exception:
                    log.exception("pruning the inbox failed")
        finally:
            if self._observer is not None:
                self._observer.webhook_serving(False)
            try:
                if keeper is not None:
                    keeper.cancel()
                if site is not None:
                    await site.stop()  # nothing new comes in; Telegram keeps it for the next start
                if not await self.inbox.drain(self._stop_grace):
                    log.warning("updates still in flight at stop: handled at the next start")
                    self.inbox.cancel_in_flight()
                await self.inbox.release_holds()
            finally:
                await runner.cleanup()  # the dispatcher's shutdown


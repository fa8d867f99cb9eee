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

A body that is not one update as Telegram sends it gets 400 (Telegram does not deliver it again): not
JSON, nested deeper than a parser follows, an integer outside 64 bits anywhere (no column holds it), a
negative update_id. Refused requests are logged at most once a minute each kind, with the count of those
not logged, so a scanner cannot fill the log. The server closes a connection that has sent no whole
request head within `header_timeout` (aiohttp's keep-alive timer, which also runs before the first
request), and answers 408 to a body not read within `body_timeout`: a half-open connection is not held.

At start the server listens first and then calls setWebhook (url, secret_token, allowed_updates,
max_connections); at stop it does not delete the webhook: Telegram keeps the updates meanwhile and
delivers them when the bot is back (several processes behind one address keep receiving).
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from aiogram.types import Update
from aiogram.utils.backoff import Backoff
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from pydantic import ValidationError

from bot.polling import BACKOFF, PRUNE_EVERY, DurablePolling, InboxTurns, PollingObserver
from bot.redaction import update_body
from bot.repositories.base import DatabaseUnavailable

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

    from bot.clock import Clock
    from bot.config import WebhookSettings
    from bot.store import Store

log = logging.getLogger("bot.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
INT64 = 2**63  # a column of the store holds integers in [-INT64, INT64)
HEADER_TIMEOUT = 30.0  # seconds a connection may stay without a whole request head (idle keep-alive too)
BODY_TIMEOUT = 10.0  # seconds to read a request's body
MAX_BODY = 1024 * 1024  # bytes (aiohttp's default, said here): an update is a few kilobytes


class MalformedUpdate(ValueError):
    """A request body that is not one update as Telegram sends it."""


def _int64(text: str) -> int:
    value = int(text)
    if not -INT64 <= value < INT64:
        raise MalformedUpdate("an integer outside 64 bits")
    return value


def _float64(text: str) -> float:
    value = float(text)
    if not -INT64 <= value < INT64:  # (pydantic takes 1e30 for an integer field)
        raise MalformedUpdate("a number outside 64 bits")
    return value


def parse_update(body: bytes, bot: Bot) -> Update:
    """The update in a request body; MalformedUpdate when it is none (not JSON, too deep to parse, a
    number outside 64 bits, a negative update_id, not an update)."""
    try:
        data = json.loads(body, parse_int=_int64, parse_float=_float64)
        update = Update.model_validate(data, context={"bot": bot})
    except (ValueError, ValidationError, RecursionError) as exc:
        raise MalformedUpdate(type(exc).__name__) from None
    if update.update_id < 0:
        raise MalformedUpdate("a negative update_id")
    return update


class ThrottledWarning:
    """One kind of log warning at most once per `every`, by the injected clock; the next line says how
    many were not logged in between."""

    def __init__(self, clock: Clock, what: str, every: timedelta = timedelta(minutes=1)) -> None:
        self._clock = clock
        self._what = what
        self._every = every
        self._last: datetime | None = None
        self._quiet = 0

    def __call__(self, remote: str | None, detail: str = "") -> None:
        now = self._clock.now()
        if self._last is not None and now - self._last < self._every:
            self._quiet += 1
            return
        more = f" ({self._quiet} more since the last such line)" if self._quiet else ""
        log.warning("webhook request from %s %s%s: refused%s", remote, self._what, detail, more)
        self._last, self._quiet = now, 0


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
        body = update_body(update)  # as polling stores it: an ID number typed in it redacted
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

    def __init__(self, dispatcher: Dispatcher, bot: Bot, inbox: WebhookInbox, *, secret_token: str, clock: Clock,
                 observer: WebhookObserver | None = None, body_timeout: float = BODY_TIMEOUT) -> None:
        super().__init__(dispatcher, bot, handle_in_background=True, secret_token=secret_token)
        self.inbox = inbox
        self.observer = observer
        self.body_timeout = body_timeout
        self.unauthenticated = ThrottledWarning(clock, "without the secret token")
        self.malformed = ThrottledWarning(clock, "with a body that is not an update")

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        try:
            return super().verify_secret(telegram_secret_token, bot)
        except TypeError:  # a header that is not ASCII (compare_digest refuses it): not ours
            return False

    async def handle(self, request: web.Request) -> web.Response:
        bot = await self.resolve_bot(request)
        if not self.verify_secret(request.headers.get(SECRET_HEADER, ""), bot):
            self.unauthenticated(request.remote)
            if self.observer is not None:
                self.observer.webhook_refused()
            return web.Response(status=401, text="Unauthorized")
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await request.read()
        except TimeoutError:  # a half-sent body: the connection is not kept
            self.malformed(request.remote, f" (not sent within {self.body_timeout:g} s)")
            response = web.Response(status=408, text="Request Timeout")
            response.force_close()
            return response
        try:
            update = parse_update(body, bot)
        except MalformedUpdate as exc:
            self.malformed(request.remote, f" ({exc})")
            return web.Response(status=400, text="Bad Request")
        try:
            await self.inbox.accept(update)
        except Exception as exc:  # the database away: Telegram retries the delivery
            if not isinstance(exc, DatabaseUnavailable):  # (an outage is logged once, by the connection)
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
                 stop_grace: float = 5.0, turns: InboxTurns | None = None, header_timeout: float = HEADER_TIMEOUT,
                 body_timeout: float = BODY_TIMEOUT) -> None:
        self._dp = dp
        self._header_timeout = header_timeout
        self._bot = bot
        self._store = store
        self._clock = clock
        self._settings = settings
        self._observer = observer
        self._stop_grace = stop_grace
        self.inbox = WebhookInbox(dp, bot, store, clock, concurrency=concurrency, observer=observer,
                                  max_tries=max_tries, stop_grace=stop_grace, turns=turns)
        self.handler = DurableRequestHandler(dp, bot, self.inbox, secret_token=settings.secret, clock=clock,
                                             observer=observer, body_timeout=body_timeout)

    def web_app(self) -> web.Application:
        """The aiohttp app: the webhook path, and the dispatcher's startup/shutdown (aiogram's setup)."""
        app = web.Application(client_max_size=MAX_BODY)
        self.handler.register(app, path=self._settings.path)
        setup_application(app, self._dp, bot=self._bot, bots=(self._bot,))
        return app

    def server_options(self) -> dict[str, Any]:
        """aiohttp's server settings: no access log; a connection without a whole request head is closed
        after header_timeout (the keep-alive timer runs from the connection's start and after each
        answer, and closes the connection while it waits for a head); what is left of an answered
        request's body is read for at most a second."""
        return {"access_log": None, "keepalive_timeout": self._header_timeout, "lingering_time": 1.0}

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
        runner = web.AppRunner(self.web_app(), **self.server_options())
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
                except DatabaseUnavailable:
                    pass  # the next turn
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


"""Long polling with a durable inbox: no update is lost when the bot dies mid-handler.

aiogram's own loop (Dispatcher._polling) hands each update to a task and asks for the next batch
with a higher offset, which confirms the batch to Telegram, before those tasks have finished: a
process killed then loses them. Here each batch is stored (one insert, committed) before the next
getUpdates confirms it; each update is fed to the dispatcher as a task, as aiogram does (at most
`concurrency` at once; one person's updates keep their order through the dispatcher's event
isolation, whose locks are taken in the order the tasks start); when its handling ends it is
marked done in a group commit. At start, before the first getUpdates, what a previous run stored
and did not finish is handled; an update_id seen before (Telegram delivering again what the dead
run had not confirmed) is not handled again.

A handler fed again at start may have done part of its work in the dead run: the message it edits is
edited already, the query it answers answered (Telegram then says "message is not modified" / "query
is too old"). While such an update is handled again (`REPLAYING`), `ReplayTolerance` on the bot's
session takes those answers as done, so the handler goes on to the part the dead run did not reach
(a registration whose "skip" removed its button and was killed before saving: without it, the
replayed press fails on the edit and the person is left with no button and no answer).

An update a start found unfinished `max_tries` times (it kills the bot, or hangs it) is given up
with a log line, so one poisonous update cannot keep the bot from starting.
"""
from __future__ import annotations

import asyncio
import logging
import time
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    GetUpdates,
    Response,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig
from pydantic import ValidationError

from bot.redaction import update_body
from bot.reply_retry import handling
from bot.repositories.base import DatabaseUnavailable
from bot.repositories.inbox import Hold, StoredUpdate

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

    from bot.clock import Clock
    from bot.store import Store

log = logging.getLogger("bot.polling")

BACKOFF = BackoffConfig(min_delay=1.0, max_delay=5.0, factor=1.3, jitter=0.1)  # aiogram's default
PRUNE_EVERY = 600.0  # seconds between prunes of done rows


class PollingObserver(Protocol):
    """What the metrics hear from the loop (bot/metrics.py implements it)."""

    def poll_started(self) -> None:
        """A getUpdates call is sent (a long poll: it may wait polling_timeout seconds for updates)."""

    def polled(self) -> None:
        """A getUpdates call returned (the loop is alive and reaches Telegram)."""

    def poll_failed(self) -> None:
        """A getUpdates call failed (Telegram away) or its batch could not be stored."""

    def handled(self, update_type: str, seconds: float, failed: bool) -> None:
        """One update went through the dispatcher; `failed`: an exception escaped even the error handler."""


REPLAYING: ContextVar[bool] = ContextVar("polling_replaying", default=False)
# what Telegram answers to a call whose effect is there already: per method, a part of its error text
ALREADY_DONE: dict[type[TelegramMethod[Any]], tuple[str, ...]] = {
    EditMessageText: ("message is not modified",),
    EditMessageCaption: ("message is not modified",),
    EditMessageReplyMarkup: ("message is not modified",),
    AnswerCallbackQuery: ("query is too old", "query id is invalid"),
    DeleteMessage: ("message to delete not found",),
}


class ReplayTolerance(BaseRequestMiddleware):
    """While an update of a dead run is handled again: a call Telegram refuses because its effect is
    there already (see ALREADY_DONE) returns True, as the call does when it succeeds without a message."""

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as exc:
            done = ALREADY_DONE.get(type(method), ())
            if not REPLAYING.get() or not any(part in exc.message.lower() for part in done):
                raise
            log.info("replayed update: %s was done before the restart (%s)", type(method).__name__, exc.message)
            return cast("Response[TelegramType]", True)  # the chain carries results (BaseSession.__call__ casts)


def update_type(update: Update) -> str:
    try:
        return update.event_type
    except Exception:  # noqa: BLE001 - an update type newer than this aiogram
        return "unknown"


def person_of(update: Update) -> int | None:
    """Whose turn an update takes: its sender (a callback's presser, a message's author), else its
    chat; None for an update of nobody in particular (handled whenever it comes)."""
    try:
        event = update.event
    except Exception:  # noqa: BLE001 - an update type newer than this aiogram
        return None
    user = getattr(event, "from_user", None)
    if user is not None:
        return int(user.id)
    chat = getattr(event, "chat", None)
    return int(chat.id) if chat is not None else None


class InboxTurns:
    """One person's updates one at a time and in order across several processes on one database
    (issue 17: behind a load balancer two processes may each receive one of a person's updates).

    Every row a process stores is held by it (held_by, held_until by the injected clock) and renewed
    every `renew_every` seconds while unfinished. A process handles its update only when it takes
    its turn (InboxRepository.take_turn: no earlier update of that person unfinished, wherever it is
    held) and marks it done at once after handling it; until then it waits, polling the database
    (and woken at once by its own updates finishing). A killed process stops renewing: once its holds
    expire (`hold` seconds) another process adopts its unfinished rows and handles them, in order."""

    def __init__(self, store: Store, clock: Clock, holder: str, *, hold: float = 20.0, renew_every: float = 5.0,
                 poll: float = 0.02, poll_max: float = 0.25) -> None:
        self.store = store
        self.clock = clock
        self.holder = holder
        self.hold_seconds = hold
        self.renew_every = renew_every
        self.poll = poll
        self.poll_max = poll_max
        self._finished = asyncio.Event()

    def until(self) -> datetime:
        return self.clock.now() + timedelta(seconds=self.hold_seconds)

    def hold(self, updates: list[Update]) -> Hold:
        return Hold(self.holder, self.until(), {u.update_id: person_of(u) for u in updates})

    async def wait_turn(self, update_id: int) -> bool:
        """Waits until this process may handle the update (True) or it is not this process's any
        more (False: done elsewhere, or adopted by another process after this one's hold lapsed)."""
        delay = self.poll
        while True:
            try:
                turn = await self.store.take_turn(update_id, self.holder, self.until())
            except Exception as exc:  # the database away: try again (the hold is kept meanwhile)
                if not isinstance(exc, DatabaseUnavailable):  # (an outage is logged once, by the connection)
                    log.exception("update %d: taking its turn failed", update_id)
                turn = "wait"
            if turn != "wait":
                return turn == "go"
            finished = self._finished
            try:
                await asyncio.wait_for(finished.wait(), delay)
                delay = self.poll
            except TimeoutError:
                delay = min(self.poll_max, delay * 2)

    def finished(self) -> None:
        """An update of this process is done: its waiters look again at once."""
        self._finished.set()
        self._finished = asyncio.Event()


class DurablePolling:
    def __init__(self, dp: Dispatcher, bot: Bot, store: Store, clock: Clock, *, concurrency: int = 64,
                 polling_timeout: int = 10, observer: PollingObserver | None = None, max_tries: int = 3,
                 stop_grace: float = 5.0, turns: InboxTurns | None = None) -> None:
        self._dp = dp
        self._turns = turns  # several processes on one database: rows held, updates taken in turn
        self._mine: set[int] = set()  # (with turns) update ids in flight here
        self._bot = bot
        self._store = store
        self._clock = clock
        self._timeout = polling_timeout
        self._observer = observer
        self._max_tries = max_tries
        self._stop_grace = stop_grace
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: list[int] = []  # handled, to be marked done by the next write
        self._marker: asyncio.Task[None] | None = None  # the one task writing done marks
        self._storing: asyncio.Future[list[int]] | None = None  # the batch being stored, if any
        self._above: int | None = None  # every update_id above this one is new (known once recover() ran)
        self._data: dict[str, Any] = {"dispatcher": dp, "bots": (bot,)}  # as Dispatcher.start_polling passes
        if not any(isinstance(m, ReplayTolerance) for m in bot.session.middleware):
            bot.session.middleware(ReplayTolerance())

    @property
    def shared(self) -> bool:
        """Several processes on one database: rows are held and updates taken in turn."""
        return self._turns is not None

    # -- the parts (tests and benchmarks call them directly) -------------------------------------
    async def recover(self) -> int:
        """Handles what a previous run stored and did not finish, oldest first, and waits for it.
        Returns how many updates were fed. With turns (several processes): adopts what nobody holds
        any more and feeds it (each waits for its turn; not waited for)."""
        if self._turns is not None:
            fed = await self.adopt()
            last = await self._store.last_update_id()
            self._above = -1 if last is None else last
            return fed
        fed = 0
        for item in await self._store.unfinished_updates():
            update = await self._revive(item, self._clock.now())
            if update is None:
                continue
            log.warning("handling update %d, unfinished when the bot stopped", item.update_id)
            await self._spawn(update, replay=True)
            fed += 1
        await self.drain()
        last = await self._store.last_update_id()
        self._above = -1 if last is None else last
        return fed

    async def _revive(self, item: StoredUpdate, now: datetime) -> Update | None:
        """A stored, unfinished update to handle again, or None: given up (marked done) after
        `max_tries` unfinished runs, or when it cannot be read."""
        if item.tries >= self._max_tries:
            log.error("update %d was unfinished %d times: given up", item.update_id, item.tries)
            await self._store.finish_updates([item.update_id], now)
            return None
        try:
            return Update.model_validate_json(item.body, context={"bot": self._bot})
        except ValidationError:
            log.exception("stored update %d cannot be read: given up", item.update_id)
            await self._store.finish_updates([item.update_id], now)
            return None

    async def adopt(self) -> int:
        """(With turns) the unfinished rows of processes that stopped holding them become this one's
        and are fed; returns how many."""
        assert self._turns is not None
        fed = 0
        now = self._clock.now()
        for item in await self._store.adopt_updates(self._turns.holder, now, self._turns.until()):
            if item.update_id in self._mine:
                continue
            update = await self._revive(item, now)
            if update is None:
                continue
            log.warning("handling update %d, left unfinished by another process", item.update_id)
            await self._spawn(update, replay=True)
            fed += 1
        return fed

    async def keep_turns(self) -> None:
        """(With turns) until cancelled: renews this process's holds and adopts orphaned rows every
        renew_every seconds."""
        turns = self._turns
        assert turns is not None
        while True:
            await asyncio.sleep(turns.renew_every)
            try:
                await self._store.renew_holds(turns.holder, turns.until())
                await self.adopt()
            except DatabaseUnavailable:
                pass  # renewed at the next turn, once it is back (a hold lasts 4 turns)
            except Exception:
                log.exception("renewing the inbox holds failed")

    async def release_holds(self) -> None:
        """(With turns, at stop, after the drain) this process's unfinished rows are given up for the
        others to adopt at once."""
        if self._turns is None:
            return
        try:
            await self._store.release_holds(self._turns.holder)
        except Exception:  # noqa: BLE001 - they expire by themselves
            log.warning("releasing the inbox holds failed: adopted when they expire")

    async def handle_batch(self, updates: list[Update]) -> int:
        """Stores the batch (committed before this returns) and feeds the updates not seen before.
        Returns how many were fed.

        When every id is above those stored before (always, but for the first batch after a start
        and for ids Telegram restarts lower after a quiet week), the updates are new for sure: they
        are fed while the insert commits. Otherwise the insert says which are new first. (Should the
        insert fail, the database failing, the caller asks for the batch again and an update fed
        already may be handled twice: at least once, never lost.)"""
        stored = [(u.update_id, update_body(u)) for u in updates]  # an ID number typed in one: redacted
        if not stored:
            return 0
        ids = [uid for uid, _body in stored]
        hold = self._turns.hold(updates) if self._turns is not None else None
        self._storing = storing = asyncio.ensure_future(
            self._store.accept_updates(stored, self._clock.now()) if hold is None
            else self._store.accept_held_updates(stored, self._clock.now(), hold))
        try:  # (with turns another process may have stored the same update: the insert says)
            if self._above is not None and min(ids) > self._above and hold is None:
                fresh = set(ids)
            else:
                fresh = set(await storing)
            if self._above is not None:
                self._above = max(self._above, *ids)
            fed = await self._feed_fresh(updates, fresh)
            await storing  # durable before the caller's next getUpdates confirms the batch
        finally:
            if self._storing is storing:
                self._storing = None
        return fed

    async def _feed_fresh(self, updates: list[Update], fresh: set[int]) -> int:
        fed = 0
        for update in updates:
            if update.update_id in fresh:
                fresh.discard(update.update_id)  # twice in one batch: once
                await self._spawn(update)
                fed += 1
        return fed

    async def drain(self, timeout: float | None = None) -> bool:
        """Waits for the updates in flight and their done marks; True when none is left."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        if not self._tasks and self._marker is not None:
            await asyncio.wait({self._marker}, timeout=timeout)
        return not self._tasks and self._marker is None

    # -- the loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Recovery, then long polling until cancelled; at the end the updates in flight get
        `stop_grace` seconds to finish (the rest are handled again at the next start)."""
        await self._dp.emit_startup(bot=self._bot, **self._dp.workflow_data, **self._data)
        try:
            await self._store.prune_updates(self._clock.now())
            await self.recover()
            keeper = asyncio.create_task(self.keep_turns()) if self._turns is not None else None
            try:
                await self._poll()
            finally:
                if keeper is not None:
                    keeper.cancel()
        finally:
            try:
                if not await self.drain(self._stop_grace):
                    log.warning("%d updates still in flight at stop: handled at the next start", len(self._tasks))
                    for task in list(self._tasks):
                        task.cancel()
                await self.release_holds()
            finally:
                await self._dp.emit_shutdown(bot=self._bot, **self._dp.workflow_data, **self._data)

    async def _poll(self) -> None:
        get_updates = GetUpdates(timeout=self._timeout, allowed_updates=self._dp.resolve_used_update_types())
        kwargs: dict[str, Any] = {}
        if self._bot.session.timeout:  # the request waits longer than the long poll (as aiogram's loop)
            kwargs["request_timeout"] = int(self._bot.session.timeout + self._timeout)
        backoff = Backoff(config=BACKOFF)
        pruned_at = time.monotonic()
        while True:
            if self._observer is not None:
                self._observer.poll_started()
            try:
                updates = await self._bot(get_updates, **kwargs)
                if updates:
                    await self.handle_batch(updates)  # durable before the next call confirms them
                    get_updates.offset = max(u.update_id for u in updates) + 1
            except Exception as exc:  # noqa: BLE001 - Telegram or the disk away: the same offset again later
                if not isinstance(exc, DatabaseUnavailable):  # (an outage is logged once, by the connection)
                    log.error("polling failed - %s: %s; again in %.1f s", type(exc).__name__, exc, backoff.next_delay)
                if self._observer is not None:
                    self._observer.poll_failed()
                await backoff.asleep()
                continue
            backoff.reset()
            if self._observer is not None:
                self._observer.polled()
            if time.monotonic() - pruned_at > PRUNE_EVERY:
                pruned_at = time.monotonic()
                try:
                    await self._store.prune_updates(self._clock.now())
                except DatabaseUnavailable:
                    pruned_at -= PRUNE_EVERY / 2  # again sooner
                except Exception:
                    log.exception("pruning the inbox failed")

    async def _spawn(self, update: Update, *, replay: bool = False) -> None:
        if self._turns is not None:  # the turn first (a waiting update holds no slot), then a slot
            self._mine.add(update.update_id)
            task = asyncio.create_task(self._process_in_turn(update, replay), name=f"update-{update.update_id}")
        else:
            await self._slots.acquire()  # in arrival order: the isolation locks are taken in this order too
            task = asyncio.create_task(self._process(update, replay), name=f"update-{update.update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process_in_turn(self, update: Update, replay: bool = False) -> None:
        assert self._turns is not None
        try:
            if not await self._turns.wait_turn(update.update_id):
                log.info("update %d is no longer this process's: left to its holder", update.update_id)
                return
            await self._slots.acquire()
            await self._process(update, replay, mark=False)
            try:  # at once, not in the group commit: the person's next update waits for this mark
                await self._store.finish_updates([update.update_id], self._clock.now())
            except Exception as exc:
                if not isinstance(exc, DatabaseUnavailable):
                    log.exception("update %d handled but not marked done: marked later", update.update_id)
                self._done.append(update.update_id)
                if self._marker is None:
                    self._marker = asyncio.create_task(self._mark_done(), name="inbox-done")
        finally:
            self._mine.discard(update.update_id)
            self._turns.finished()

    async def _process(self, update: Update, replay: bool = False, *, mark: bool = True) -> None:
        started = time.perf_counter()
        failed = False
        REPLAYING.set(replay)  # this task's context only
        slot = [True]  # this task holds a handler slot

        def give_back_slot() -> None:
            if slot[0]:
                slot[0] = False
                self._slots.release()

        # its calls are a person's direct replies: a 429 on one is waited out (bot/reply_retry.py), and
        # while it waits its slot goes to the next update (it finishes over the bound: no deadlock)
        handling(give_back_slot)
        try:
            # `replaying` reaches the handlers: an update a killed run left unfinished is handled again
            response = await self._dp.feed_update(self._bot, update, **self._data, replaying=replay)
            if isinstance(response, TelegramMethod):  # a handler's reply as a method (aiogram's loop sends it)
                await self._bot(response)
        except Exception:
            failed = True  # the error handler itself failed: logged; the update counts as handled
            log.exception("update %d failed", update.update_id)
        finally:
            give_back_slot()
        if self._observer is not None:
            self._observer.handled(update_type(update), time.perf_counter() - started, failed)
        if not mark:
            return
        self._done.append(update.update_id)
        if self._marker is None:
            self._marker = asyncio.create_task(self._mark_done(), name="inbox-done")

    async def _mark_done(self) -> None:
        """Group commit of the done marks: one write at a time, each taking every update that finished
        while the one before was written. While the database is unavailable the marks wait and are
        written once it is back (with several processes an unmarked update would hold its person's
        next one, wherever it is, until this process stops)."""
        backoff = Backoff(config=BACKOFF)
        try:
            while self._done:
                storing = self._storing
                if storing is not None:  # a done mark must not overtake its update's insert
                    await asyncio.wait({storing})
                ids, self._done = self._done, []
                try:
                    await self._store.finish_updates(ids, self._clock.now())
                except DatabaseUnavailable:
                    self._done = ids + self._done
                    await backoff.asleep()
                    continue
                except Exception:
                    log.exception("%d updates handled but not marked done: handled again at the next start",
                                  len(ids))
                backoff.reset()
        finally:
            self._marker = None

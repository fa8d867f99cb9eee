"""The outbox: pushes a person did not just ask for (notices, reminders, reports, approvals).

Rows are written to the store first, in the transaction of the action causing them: inside a
repository's own transaction with bot.repositories.outbox.enqueue_in, or with Outbox.enqueue inside
the action's atomic() block (bot/services/transactions.py). The sender claims each row
('sending') before the Bot API call and marks it 'sent' after Telegram accepted it, so a crash
repeats at most the rows in flight (each row is marked the moment Telegram accepts it). It keeps a
global rate (OUTBOX_RATE, default 25/s) and 1/s per chat, with turns shared with the handlers' direct
replies (bot/pacing.py). A 429 pauses that chat for `retry_after` and slows the whole sender down
(it recovers gradually); a 5xx or network error slows it down too. Either way the row is tried again
with back-off (1, 2, 4 ... s, at most OUTBOX_BACKOFF_MAX) for as long as Telegram stays down: a push
ends sent, refused for good ('failed': a 4xx Telegram will not take; 'unreachable': a 403), or
'obsolete' (its `expires_at` passed first, or a newer push of its kind superseded it). A 403 marks
the person unreachable: later pushes to them are skipped until they write to the bot again. A file
sent to many is uploaded once and re-sent by its file_id.

Several processes on one database (issue 17): only the holder of the leader lease sends (`leader`),
so the rate limits are the bot's as a whole with no shared budget; its claims are written for
`FOR UPDATE SKIP LOCKED` on PostgreSQL all the same (bot/repositories/outbox.py). The others' pushes
wake it on PostgreSQL with NOTIFY when their transaction commits (Store.notify / Store.listen); on a
shared SQLite file they are found by polling every `idle_poll` seconds.

`Outbox.limiter` is shared with other senders (e.g. countdown edits) so that edits and sends
together keep the configured rate: `async with outbox.limiter.slot(chat_id): await bot.edit_...`
(or `await outbox.limiter.acquire(chat_id)` before the call).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, Message

from bot.clock import Clock
from bot.pacing import RateLimiter
from bot.repositories.base import DatabaseUnavailable
from bot.store import Push, Store

log = logging.getLogger("bot.outbox")

MAX_ATTEMPTS = 8        # tries of one row after unexpected errors (not 429, 5xx, network) before 'failed'
MAX_BACKOFF = 300.0     # seconds: the longest wait between two tries (OUTBOX_BACKOFF_MAX)
IDLE_POLL = 5.0         # seconds: how often an idle sender looks for rows enqueued without wake()
CHANNEL = "outbox"      # what Store.notify / Store.listen call the outbox's wake-up between processes
STALE_CLAIM = 120.0     # seconds (several processes): a claim this old was a stopped leader's, sent again


class NotLeader(Exception):
    """(Several processes) this process lost the leader lease before the send: the row goes back."""


def text_push(chat_id: int, text: str, *, reply_markup: InlineKeyboardMarkup | None = None,
              protect_content: bool = False, dedupe_key: str | None = None, expires_at: datetime | None = None,
              supersedes: str | None = None) -> dict[str, Any]:
    """A text. `expires_at`: not sent from then on (it would say something no longer true);
    `supersedes`: a dedupe-key prefix whose rows still waiting this push replaces."""
    return {"chat_id": chat_id, "kind": "text", "dedupe_key": dedupe_key, **_lifetime(expires_at, supersedes),
            "payload": {"text": text, "protect_content": protect_content,
                        "reply_markup": reply_markup.model_dump(exclude_none=True) if reply_markup else None}}


def file_push(chat_id: int, kind: str, data: bytes, file_name: str, *, caption: str | None = None,
              protect_content: bool = True, dedupe_key: str | None = None, expires_at: datetime | None = None,
              supersedes: str | None = None) -> dict[str, Any]:
    """A photo or document; the same bytes pushed to many are stored once and uploaded once."""
    assert kind in ("photo", "document")
    return {"chat_id": chat_id, "kind": kind, "file_name": file_name, "file_data": data, "dedupe_key": dedupe_key,
            **_lifetime(expires_at, supersedes),
            "payload": {"caption": caption, "protect_content": protect_content, "reply_markup": None}}


def _lifetime(expires_at: datetime | None, supersedes: str | None) -> dict[str, Any]:
    return {"expires_at": expires_at.isoformat() if expires_at else None, "supersedes": supersedes}


class _KeyedLocks:
    """One lock per key while someone holds or waits for it; the entry goes with the last user."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


def _file_id_of(msg: Message, kind: str) -> str | None:
    if kind == "photo" and msg.photo:
        return msg.photo[-1].file_id
    if kind == "document" and msg.document:
        return msg.document.file_id
    return None


class Outbox:
    def __init__(self, store: Store, bot: Bot, clock: Clock, *, per_second: float = 25.0,
                 chat_interval: float = 1.0, concurrency: int = 100, paid_broadcast: bool = False,
                 batch: int | None = None, max_attempts: int = MAX_ATTEMPTS,
                 monotonic: Callable[[], float] = time.monotonic, leader: Callable[[], bool] | None = None,
                 idle_poll: float = IDLE_POLL, limiter: RateLimiter | None = None,
                 backoff_max: float = MAX_BACKOFF) -> None:
        self.store = store
        self.bot = bot
        self.clock = clock
        # the bot's one pacer (bot/pacing.py): the session's direct replies take their turns from it too
        self.limiter = limiter or RateLimiter(per_second, chat_interval, monotonic=monotonic)
        self.backoff_max = max(0.01, backoff_max)
        self.paid_broadcast = paid_broadcast
        self.max_attempts = max_attempts
        # rows in flight at most: 4 s of the rate (some wait for their chat's turn while others go)
        self._batch = batch or max(100, min(4000, int(per_second * 4)))
        self._sending = asyncio.Semaphore(max(1, concurrency))
        self._uploads = _KeyedLocks()
        self._wake = asyncio.Event()
        self.listening = asyncio.Event()  # set once other processes' pushes wake it (PostgreSQL)
        self._flush_lock = asyncio.Lock()
        self._claims_released = False
        # several processes on one database: only the leader lease's holder sends (bot/leases.py), so
        # this one limiter is the bot's whole rate; the others poll often for the rows they enqueue
        self._leader = leader
        self._idle_poll = idle_poll
        self._monotonic = monotonic
        self._stale_check_at = 0.0

    async def enqueue(self, *pushes: dict[str, Any]) -> int:
        """Writes the pushes (call it inside the action's atomic() block); the sender is woken and
        finds them once that block committed."""
        added = await self.store.enqueue_pushes(pushes, self._now())
        if added:
            self._wake.set()
            await self.store.notify(CHANNEL)  # the sender of another process (the leader's), at the commit
        return added

    def wake(self) -> None:
        """Send now what was enqueued in another transaction (enqueue_in)."""
        self._wake.set()

    def _now(self) -> str:
        return self.clock.now().isoformat()

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failed ones: 1, 2, 4 ... up to `backoff_max`."""
        return float(min(2.0 ** min(attempts, 30), self.backoff_max))

    async def flush(self) -> int:
        """Sends everything that is due now; returns how many rows were handled (sent, retried
        later, failed, or skipped as unreachable). Rows waiting for a retry are left for later."""
        async with self._flush_lock:
            if self._leader is not None:
                if not self._leader():
                    return 0
                # claims old enough that no live sender holds them (its leader was killed) go again
                # (looked for at most every STALE_CLAIM / 4 seconds: a write each flush would be a waste)
                if self._monotonic() >= self._stale_check_at:
                    self._stale_check_at = self._monotonic() + STALE_CLAIM / 4
                    stale = (self.clock.now() - timedelta(seconds=STALE_CLAIM)).isoformat()
                    released = await self.store.release_claims(stale)
                    if released:
                        log.warning("outbox: %s pushes claimed by a stopped leader are sent again", released)
            elif not self._claims_released:  # what a killed sender had claimed goes again
                released = await self.store.release_claims()
                if released:
                    log.warning("outbox: %s pushes claimed before a restart are sent again", released)
                self._claims_released = True
            return await self._send_due()

    async def _send_due(self) -> int:
        """Claims and sends until nothing is due. One row per chat per claim (a chat's rows go in
        order); the next claim is made as soon as a quarter of the rows in flight are done, so a chat
        that waits for its turn (its own replies, a 429) holds back only its own pushes."""
        handled = 0
        flying: set[asyncio.Task[None]] = set()
        try:
            while True:
                if len(flying) <= self._batch * 3 // 4 and (self._leader is None or self._leader()):
                    try:
                        claim = await self.store.claim_pushes(self._now(), limit=self._batch - len(flying))
                    except DatabaseUnavailable:
                        if not flying:
                            raise
                        claim = None  # the pushes in flight end first (their marks wait for the database)
                    if claim is not None:
                        handled += claim.skipped + len(claim.pushes)
                        flying |= {asyncio.create_task(self._deliver(push)) for push in claim.pushes}
                if not flying:  # nothing due, nothing in flight (or the lease was lost)
                    return handled
                done, flying = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if not task.cancelled() and isinstance(task.exception(), DatabaseUnavailable):
                        continue  # its outcome could not be written: the row goes again once its claim is stale
                    task.result()
        finally:
            for task in flying:
                task.cancel()

    async def run(self) -> None:
        """Until cancelled: flush, then sleep until woken or the next retry is due. On PostgreSQL a
        push another process enqueues wakes it at that commit (LISTEN / NOTIFY): the poll is then only
        a safety net for a notification lost with a dropped connection."""
        try:
            listening = await self.store.listen(CHANNEL, self.wake)
        except DatabaseUnavailable:  # the database away at the start: listened to once it is back
            listening = True
        if listening:
            self._idle_poll = max(self._idle_poll, IDLE_POLL)
            self.listening.set()
        while True:
            try:
                await self.flush()
            except DatabaseUnavailable:
                pass  # (an outage is logged once, by the connection): the next turn
            except Exception:
                log.exception("outbox flush failed")
            self._wake.clear()
            timeout = self._idle_poll
            if self._leader is not None and not self._leader():  # another process sends: wait for the lease
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
                continue
            try:
                next_at = await self.store.next_push_at()
            except Exception as exc:
                if not isinstance(exc, DatabaseUnavailable):
                    log.exception("outbox: reading the next due time failed")
                next_at = None
            if next_at:
                delta = (datetime.fromisoformat(next_at) - self.clock.now()).total_seconds()
                timeout = min(timeout, max(delta, 0.05))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _deliver(self, push: Push) -> None:
        try:
            message_id = await self._send(push)
        except NotLeader:  # another process sends it (not an attempt: nothing was sent)
            await self._settle(lambda: self.store.mark_push_retry(push.id, "not the leader", self._now(),
                                                                  count_attempt=False))
        except DatabaseUnavailable:  # before the call (a file's bytes): not an attempt, nothing was sent
            await self._settle(lambda: self.store.mark_push_retry(push.id, "database unavailable", self._now(),
                                                                  count_attempt=False))
        except TelegramRetryAfter as exc:  # flood control: this chat waits, and the whole sender slows down
            log.info("429 for chat %s: waiting %s s", push.chat_id, exc.retry_after)
            self.limiter.pause(exc.retry_after, push.chat_id)
            self.limiter.congested()
            await self._again(push, exc.message, max(float(exc.retry_after), self.backoff(push.attempts)))
        except TelegramForbiddenError as exc:
            await self.store.mark_unreachable(push.id, push.chat_id, exc.message, self._now())
        except TelegramBadRequest as exc:
            if push.file_hash and push.file_id:  # a file_id Telegram no longer takes: upload again
                log.warning("push %s: file_id refused (%s), uploading again", push.id, exc.message)
                await self.store.set_push_file_id(push.file_hash, None)
                await self._retry(push, exc.message, 0.0)
            else:
                log.warning("push %s refused: %s", push.id, exc.message)
                await self.store.mark_push_final(push.id, "failed", exc.message)
        except (TelegramServerError, TelegramNetworkError, TimeoutError, OSError) as exc:
            self.limiter.congested()  # Telegram down or overloaded: tried again until it answers
            await self._again(push, str(exc), self.backoff(push.attempts))
        except TelegramAPIError as exc:  # 401, 404, 409, 413 ...: retrying will not help
            log.warning("push %s refused: %s", push.id, exc.message)
            await self.store.mark_push_final(push.id, "failed", exc.message)
        except Exception as exc:
            log.exception("push %s: unexpected error", push.id)
            await self._retry(push, repr(exc), self.backoff(push.attempts))
        else:
            await self._settle(lambda: self.store.mark_push_sent(push.id, message_id, self._now()))

    async def _again(self, push: Push, error: str, delay: float) -> None:
        """Telegram could not take it now (429, 5xx, network): tried again after `delay`, for as long
        as that lasts (the push is not lost to an outage; it ends sent, refused, or obsolete)."""
        next_at = (self.clock.now() + timedelta(seconds=delay)).isoformat()
        await self._settle(lambda: self.store.mark_push_retry(push.id, error, next_at))

    async def _retry(self, push: Push, error: str, delay: float) -> None:
        """An unexpected error: tried again, at most `max_attempts` times in all."""
        if push.attempts + 1 >= self.max_attempts:
            log.warning("push %s failed after %s attempts: %s", push.id, push.attempts + 1, error)
            await self.store.mark_push_final(push.id, "failed", error)
            return
        next_at = (self.clock.now() + timedelta(seconds=delay)).isoformat()
        await self._settle(lambda: self.store.mark_push_retry(push.id, error, next_at))

    async def _settle(self, write: Callable[[], Awaitable[Any]]) -> None:
        """Writes a push's outcome; while the database is unavailable the write waits for it (a push
        sent and not marked so would be sent again once its claim goes stale)."""
        delay = 0.1
        while True:
            try:
                await write()
                return
            except DatabaseUnavailable:
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)

    async def _send(self, push: Push) -> int:
        if push.kind == "text":
            p = push.payload
            async with self.limiter.slot(push.chat_id), self._sending:
                self._check_leader()
                msg = await self.bot.send_message(push.chat_id, p["text"],
                                                  protect_content=bool(p.get("protect_content")),
                                                  reply_markup=_markup(p), allow_paid_broadcast=self._paid())
            return msg.message_id
        if push.file_hash is None:  # a row enqueued before files were stored by hash
            return (await self._send_file(push, BufferedInputFile(push.file_data or b"", _name(push)))).message_id
        file_id = push.file_id
        if file_id is None:
            async with self._uploads.hold(push.file_hash):  # one upload per file; the others wait for its id
                data, file_id = await self.store.push_file_data(push.file_hash)
                if file_id is None:
                    msg = await self._send_file(push, BufferedInputFile(data or b"", _name(push)))
                    new_id = _file_id_of(msg, push.kind)
                    if new_id:
                        await self.store.set_push_file_id(push.file_hash, new_id)
                    return msg.message_id
        return (await self._send_file(push, file_id)).message_id

    async def _send_file(self, push: Push, media: BufferedInputFile | str) -> Message:
        p = push.payload
        async with self.limiter.slot(push.chat_id), self._sending:
            self._check_leader()
            if push.kind == "photo":
                return await self.bot.send_photo(push.chat_id, media, caption=p.get("caption"),
                                                 protect_content=bool(p.get("protect_content")),
                                                 reply_markup=_markup(p), allow_paid_broadcast=self._paid())
            return await self.bot.send_document(push.chat_id, media, caption=p.get("caption"),
                                                protect_content=bool(p.get("protect_content")),
                                                reply_markup=_markup(p), allow_paid_broadcast=self._paid())

    def _check_leader(self) -> None:
        """Right before a Bot API call: a process that lost the lease sends nothing more."""
        if self._leader is not None and not self._leader():
            raise NotLeader

    def _paid(self) -> bool | None:
        return True if self.paid_broadcast else None


def _markup(payload: dict[str, Any]) -> InlineKeyboardMarkup | None:
    raw = payload.get("reply_markup")
    return InlineKeyboardMarkup.model_validate(raw) if raw else None


def _name(push: Push) -> str:
    return push.file_name or ("image.png" if push.kind == "photo" else "file")

"""The outbox: pushes a person did not just ask for (notices, reminders, reports, approvals).

Rows are written to the store first (in the action's transaction or alone); a sender delivers
them within Telegram's limits (about 30 messages/s overall, 1/s per chat), waits out
`retry_after` on 429, retries network and 5xx errors with backoff, marks a chat unreachable on
403 without retrying, and marks a row sent only after Telegram accepted it. A restart resumes
with whatever is still pending.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup

from bot.clock import Clock
from bot.store import Push, Store

log = logging.getLogger("bot.outbox")

MAX_ATTEMPTS = 8


def text_push(chat_id: int, text: str, *, reply_markup: InlineKeyboardMarkup | None = None,
              protect_content: bool = False, dedupe_key: str | None = None) -> dict[str, Any]:
    return {"chat_id": chat_id, "kind": "text", "dedupe_key": dedupe_key,
            "payload": {"text": text, "protect_content": protect_content,
                        "reply_markup": reply_markup.model_dump(exclude_none=True) if reply_markup else None}}


def file_push(chat_id: int, kind: str, data: bytes, file_name: str, *, caption: str | None = None,
              protect_content: bool = True, dedupe_key: str | None = None) -> dict[str, Any]:
    assert kind in ("photo", "document")
    return {"chat_id": chat_id, "kind": kind, "file_name": file_name, "file_data": data, "dedupe_key": dedupe_key,
            "payload": {"caption": caption, "protect_content": protect_content, "reply_markup": None}}


class RateLimiter:
    """At most `per_second` sends in any one-second window and one per `chat_interval` seconds to
    one chat; `pause` holds everything (Telegram's retry_after)."""

    def __init__(self, per_second: float, chat_interval: float) -> None:
        self.per_second = max(1, int(per_second))
        self.chat_interval = chat_interval
        self._window: deque[float] = deque()
        self._next_chat: dict[int, float] = {}
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self, chat_id: int) -> None:
        while True:
            async with self._lock:
                now = time.monotonic()
                wait = max(self._paused_until, self._next_chat.get(chat_id, 0.0)) - now
                if wait <= 0:
                    while self._window and self._window[0] <= now - 1.0:
                        self._window.popleft()
                    if len(self._window) < self.per_second:
                        self._window.append(now)
                        self._next_chat[chat_id] = now + self.chat_interval
                        return
                    wait = self._window[0] + 1.0 - now
            await asyncio.sleep(wait)


class Outbox:
    def __init__(self, store: Store, bot: Bot, clock: Clock, *, per_second: float = 28.0,
                 chat_interval: float = 1.0, concurrency: int = 8) -> None:
        self.store = store
        self.bot = bot
        self.clock = clock
        self.limiter = RateLimiter(per_second, chat_interval)
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()

    async def enqueue(self, *pushes: dict[str, Any]) -> int:
        added = await self.store.enqueue_pushes(pushes, self._now())
        if added:
            self._wake.set()
        return added

    def wake(self) -> None:
        self._wake.set()

    def _now(self) -> str:
        return self.clock.now().isoformat()

    async def flush(self) -> int:
        """Sends everything that is due now; returns how many were handled."""
        async with self._flush_lock:
            handled = 0
            while True:
                due = await self.store.due_pushes(self._now(), limit=200)
                if not due:
                    return handled
                # one task per chat keeps each chat's pushes in order; chats run side by side
                by_chat: dict[int, list[Push]] = defaultdict(list)
                for push in due:
                    by_chat[push.chat_id].append(push)
                sem = asyncio.Semaphore(self._concurrency)

                async def chat_worker(pushes: list[Push], sem: asyncio.Semaphore = sem) -> None:
                    async with sem:
                        for push in pushes:
                            await self._deliver(push)

                await asyncio.gather(*(chat_worker(p) for p in by_chat.values()))
                handled += len(due)

    async def run(self) -> None:
        """Until cancelled: flush, then sleep until woken or the next retry is due."""
        while True:
            try:
                await self.flush()
            except Exception:
                log.exception("outbox flush failed")
            self._wake.clear()
            timeout = 30.0
            next_at = await self.store.next_push_at()
            if next_at:
                delta = (datetime.fromisoformat(next_at) - self.clock.now()).total_seconds()
                timeout = min(timeout, max(delta, 0.05))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _deliver(self, push: Push) -> None:
        while True:
            await self.limiter.acquire(push.chat_id)
            try:
                message_id = await self._send(push)
            except TelegramRetryAfter as exc:
                log.info("429 for chat %s: waiting %s s", push.chat_id, exc.retry_after)
                self.limiter.pause(exc.retry_after)
                continue  # the same push again once the pause is over
            except TelegramForbiddenError as exc:
                await self.store.mark_push_final(push.id, "unreachable", exc.message)
            except (TelegramBadRequest, TelegramNotFound, TelegramUnauthorizedError) as exc:
                log.warning("push %s refused: %s", push.id, exc.message)
                await self.store.mark_push_final(push.id, "failed", exc.message)
            except (TimeoutError, TelegramNetworkError, TelegramServerError, OSError) as exc:
                if push.attempts + 1 >= MAX_ATTEMPTS:
                    await self.store.mark_push_final(push.id, "failed", str(exc))
                else:
                    delay = min(2 ** push.attempts, 300)
                    next_at = (self.clock.now() + timedelta(seconds=delay)).isoformat()
                    await self.store.mark_push_retry(push.id, str(exc), next_at)
            else:
                await self.store.mark_push_sent(push.id, message_id, self._now())
            return

    async def _send(self, push: Push) -> int:
        p = push.payload
        markup = InlineKeyboardMarkup.model_validate(p["reply_markup"]) if p.get("reply_markup") else None
        protect = bool(p.get("protect_content"))
        if push.kind == "text":
            msg = await self.bot.send_message(push.chat_id, p["text"], protect_content=protect, reply_markup=markup)
        elif push.kind == "photo":
            msg = await self.bot.send_photo(push.chat_id, BufferedInputFile(push.file_data or b"", push.file_name or
                                                                             "image.png"),
                                            caption=p.get("caption"), protect_content=protect, reply_markup=markup)
        else:
            msg = await self.bot.send_document(push.chat_id, BufferedInputFile(push.file_data or b"",
                                                                               push.file_name or "file"),
                                               caption=p.get("caption"), protect_content=protect, reply_markup=markup)
        return msg.message_id

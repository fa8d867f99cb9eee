"""A handler's own replies survive Telegram's "429 Too Many Requests: retry after N".

Telegram asks for about one message per second in a chat; it tolerates short bursts in private chats
but may answer 429 with `retry_after`. A handler often makes two calls in a row in the person's chat
(a quiz submit edits the result, then sends the review; a /task step edits, then asks the next
question): without this the second call's 429 reaches the error handler, and the person gets an
apology instead of the review.

`ReplyRetry` is a request middleware on the bot's session. For a call made by the task that handles
an update (bot/polling.py's `_process` marks it with `handling()`; the webhook inbox shares that
code), a 429 whose `retry_after` is at most `max_wait` seconds is waited out and the call repeated,
at most `tries` times (3: in the same second as a reply the chat may get a push, and the
outbox's next one a second later); each retry is logged and reported to `on_retry` (bot/metrics.py counts them).
A longer `retry_after`, or a 429 after the last try, is raised as before.

The same middleware paces those calls in their chat with the bot's one pacer (`pacer`, the outbox's
RateLimiter, bot/pacing.py): a reply right after a push to its chat waits for the chat's turn
(Telegram's one message per second in a chat; at most `max_wait` seconds) instead of drawing a 429, and a
push waits for the chat's replies. A reply's own calls follow each other at once (a person is waiting for
them; a 429 among them is waited out below).

Calls from any other task are left alone, among them the outbox's pushes (bot/outbox.py pauses its
limiter on a 429 and sends again later: waiting here too would handle it twice) and tasks a handler
starts (an exam countdown handles its own 429s): only the handling task itself is marked, and a task
it creates inherits the mark's value but is not that task.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

    from bot.pacing import RateLimiter

log = logging.getLogger("bot.reply_retry")

MAX_WAIT = 5.0  # seconds: a longer retry_after is not waited out inside a handler
PACED = ("Send", "Edit", "Delete", "Copy", "Forward")  # the methods that count in a chat's one per second
TRIES = 3  # repeats of one call at most (a reply may lose its second to a push, twice: task + report)

_HANDLER: ContextVar[tuple[asyncio.Task[object] | None, Callable[[], None] | None]] = ContextVar(
    "reply_retry_handler", default=(None, None))


def handling(on_wait: Callable[[], None] | None = None) -> None:
    """Marks the current task as one handling an update (its calls are a person's direct replies).
    Called at the start of the task; the mark lives in that task's context only. `on_wait` is called
    before the task sleeps out a retry_after (bot/polling.py gives back the task's handler slot then:
    a handler waiting a second for Telegram keeps no other person's update waiting)."""
    _HANDLER.set((asyncio.current_task(), on_wait))


def is_direct_reply() -> bool:
    """The current task is one that handles an update (not the outbox, not a task a handler started)."""
    task = _HANDLER.get()[0]
    return task is not None and task is asyncio.current_task()


class ReplyRetry(BaseRequestMiddleware):
    def __init__(self, *, max_wait: float = MAX_WAIT, tries: int = TRIES,
                 on_retry: Callable[[str], None] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, pacer: RateLimiter | None = None) -> None:
        self.max_wait = max_wait
        self.tries = tries
        self.on_retry = on_retry
        self._sleep = sleep
        self.pacer = pacer

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        attempt = 0
        chat_id = self._paced_chat(method)
        while True:
            try:
                if chat_id is None:
                    return await make_request(bot, method)
                await self._turn(chat_id)
                try:
                    return await make_request(bot, method)
                finally:
                    if self.pacer is not None:
                        self.pacer.ended(chat_id)
            except TelegramRetryAfter as exc:
                if attempt >= self.tries or exc.retry_after > self.max_wait or not is_direct_reply():
                    raise
                attempt += 1
                name = type(method).__name__
                log.info("%s: 429, retry after %s s (try %d of %d)", name, exc.retry_after, attempt, self.tries)
                if self.on_retry is not None:
                    self.on_retry(name)
                on_wait = _HANDLER.get()[1]
                if on_wait is not None:
                    on_wait()
                await self._sleep(max(0.0, float(exc.retry_after)))

    def _paced_chat(self, method: TelegramMethod[TelegramType]) -> int | None:
        """The chat a direct reply's message call goes to, when it takes a turn there."""
        if self.pacer is None or not is_direct_reply() or not type(method).__name__.startswith(PACED):
            return None
        chat_id = getattr(method, "chat_id", None)
        return chat_id if isinstance(chat_id, int) else None

    async def _turn(self, chat_id: int) -> None:
        assert self.pacer is not None
        if self.pacer.reply_wait(chat_id) > 1e-6:
            on_wait = _HANDLER.get()[1]
            if on_wait is not None:  # waiting for the chat: the handler slot goes to the next update
                on_wait()
        await self.pacer.chat_turn(chat_id, self.max_wait)

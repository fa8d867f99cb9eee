"""bot/reply_retry.ReplyRetry: a handler's own call answered 429 is repeated after retry_after (bounded);
calls of other tasks (the outbox, tasks a handler starts) get the 429 as before."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import EditMessageText, SendMessage

from bot.reply_retry import ReplyRetry, handling

SEND = SendMessage(chat_id=1, text="答案与解析")


class Telegram:
    """make_request: answers 429 (retry_after) to the first `limited` calls, then ok."""

    def __init__(self, limited: int, retry_after: int = 1) -> None:
        self.limited, self.retry_after, self.calls = limited, retry_after, 0

    async def __call__(self, bot: Any, method: Any) -> Any:
        self.calls += 1
        if self.calls <= self.limited:
            raise TelegramRetryAfter(method, f"Too Many Requests: retry after {self.retry_after}", self.retry_after)
        return "sent"


def retry() -> tuple[ReplyRetry, list[float], list[str]]:
    slept: list[float] = []
    retried: list[str] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return ReplyRetry(on_retry=retried.append, sleep=sleep), slept, retried


async def as_handler(middleware: ReplyRetry, telegram: Telegram, method: Any = SEND,
                     waits: list[str] | None = None) -> Any:
    async def handle() -> Any:
        handling(None if waits is None else (lambda: waits.append("slot given back")))
        return await middleware(telegram, None, method)  # type: ignore[arg-type]
    return await asyncio.create_task(handle())


async def test_a_handlers_reply_is_sent_after_retry_after() -> None:
    middleware, slept, retried = retry()
    telegram, waits = Telegram(limited=1), []
    assert await as_handler(middleware, telegram, waits=waits) == "sent"
    assert telegram.calls == 2 and slept == [1.0] and retried == ["SendMessage"]
    assert waits == ["slot given back"]  # bot/polling.py lets the next update in while this one waits


async def test_three_tries_at_most() -> None:
    middleware, slept, retried = retry()
    assert await as_handler(middleware, Telegram(limited=3), EditMessageText(text="x", chat_id=1, message_id=2)) == "sent"
    assert retried == ["EditMessageText"] * 3
    telegram = Telegram(limited=4)
    with pytest.raises(TelegramRetryAfter):
        await as_handler(middleware, telegram)
    assert telegram.calls == 4


async def test_a_long_retry_after_is_not_waited_out() -> None:
    middleware, slept, retried = retry()
    telegram = Telegram(limited=1, retry_after=30)
    with pytest.raises(TelegramRetryAfter):
        await as_handler(middleware, telegram)
    assert telegram.calls == 1 and slept == [] and retried == []


async def test_calls_outside_a_handling_task_are_left_to_their_caller() -> None:
    """The outbox's sender (no mark) and a task a handler starts (it inherits the mark but is another
    task) handle their own 429s."""
    middleware, slept, _ = retry()
    telegram = Telegram(limited=1)
    with pytest.raises(TelegramRetryAfter):
        await middleware(telegram, None, SEND)  # type: ignore[arg-type]

    async def handler_starting_a_task() -> Any:
        handling()
        return await asyncio.create_task(middleware(Telegram(limited=1), None, SEND))  # type: ignore[arg-type]

    with pytest.raises(TelegramRetryAfter):
        await asyncio.create_task(handler_starting_a_task())
    assert slept == []

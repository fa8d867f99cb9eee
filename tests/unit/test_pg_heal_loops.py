"""The bot's loops ride out a database outage (the store raising DatabaseUnavailable, as bot/pg.py does
while PostgreSQL is away): what they must write is written once the database is back, nothing twice.

The outage is played by a store whose named methods raise DatabaseUnavailable until it is lifted; every
other call, and every call after, goes to the test's real store."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import GetUpdates, SendMessage
from aiogram.types import Update

from bot.outbox import Outbox, text_push
from bot.polling import DurablePolling
from bot.repositories.base import DatabaseUnavailable
from tests.unit.test_inbox import start_update

USER = 710001


class Outage:
    """`store`, but `methods` raise DatabaseUnavailable until `lift()`."""

    def __init__(self, store: Any, *methods: str) -> None:
        self._store = store
        self._methods = set(methods)
        self.refused = 0

    def lift(self) -> None:
        self._methods = set()

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._store, name)
        if name not in self._methods:
            return real

        async def unavailable(*_args: Any, **_kwargs: Any) -> Any:
            if name not in self._methods:
                return await real(*_args, **_kwargs)
            self.refused += 1
            raise DatabaseUnavailable("the database is unavailable: ConnectionRefusedError")
        return unavailable


async def test_a_done_mark_that_meets_an_outage_is_written_once_the_database_is_back(dp, bot, store, clock):
    outage = Outage(store, "finish_updates")
    poller = DurablePolling(dp, bot, outage, clock)  # type: ignore[arg-type]
    await poller.recover()
    assert await poller.handle_batch([start_update(501, USER)]) == 1
    await asyncio.sleep(0.3)
    assert outage.refused >= 1  # handled; its mark met the outage
    outage.lift()
    assert await poller.drain(timeout=10)
    rows = await store._all("SELECT update_id, done_at IS NOT NULL FROM inbox")
    assert [tuple(r) for r in rows] == [(501, 1)]  # marked done: not handled again, holding nobody's next update
    assert await DurablePolling(dp, bot, store, clock).recover() == 0  # a restart has nothing to do again


@pytest.mark.loose_pushes
async def test_a_push_sent_while_the_database_went_away_is_marked_sent_once_it_is_back_and_not_sent_again(
        store, bot, session, clock):
    await Outbox(store, bot, clock).enqueue(text_push(USER, "日报"))
    outage = Outage(store, "mark_push_sent")
    sender = Outbox(outage, bot, clock, chat_interval=0)  # type: ignore[arg-type]
    flushing = asyncio.create_task(sender.flush())
    await asyncio.sleep(0.3)
    assert outage.refused >= 1 and not flushing.done()  # sent; its mark waits for the database
    outage.lift()
    assert await asyncio.wait_for(flushing, 10) == 1
    assert await store.push_counts() == {"sent": 1}
    assert await sender.flush() == 0
    assert [c.text for c in session.calls if isinstance(c, SendMessage)] == ["日报"]


class HeldBatch(Bot):
    """A bot whose getUpdates answers `batch` until an offset past it confirms it (then waits, as a long
    poll with nothing new does); every other call goes to its session."""

    batch: list[Update]
    offsets: list[int | None]

    async def __call__(self, method: Any, request_timeout: int | None = None) -> Any:
        if isinstance(method, GetUpdates):
            self.offsets.append(method.offset)
            if method.offset is None or method.offset <= max(u.update_id for u in self.batch):
                return self.batch
            await asyncio.sleep(3600)
        return await super().__call__(method, request_timeout=request_timeout)


async def test_polling_keeps_asking_for_a_batch_it_could_not_store_and_handles_it_once_the_database_is_back(
        dp, store, clock, settings, session):
    bot = HeldBatch(settings.bot_token, session=session)
    bot.batch, bot.offsets = [start_update(601, USER)], []
    outage = Outage(store, "accept_updates")
    poller = DurablePolling(dp, bot, outage, clock, polling_timeout=1)  # type: ignore[arg-type]
    polling = asyncio.create_task(poller._poll())
    try:
        await asyncio.sleep(1.5)
        assert outage.refused >= 2 and set(bot.offsets) == {None}  # not confirmed: asked for again
        assert await store._all("SELECT update_id FROM inbox") == []
        outage.lift()
        for _ in range(100):
            if 602 in bot.offsets:
                break
            await asyncio.sleep(0.05)
        assert bot.offsets[-1] == 602  # confirmed once stored
        assert await poller.drain(timeout=10)
    finally:
        polling.cancel()
    rows = await store._all("SELECT update_id, done_at IS NOT NULL FROM inbox")
    assert [tuple(r) for r in rows] == [(601, 1)]
    assert len([c for c in session.calls if isinstance(c, SendMessage)]) >= 1


@pytest.mark.loose_pushes
async def test_the_sender_started_while_the_database_is_away_lives_on_and_sends_once_it_is_back(
        store, bot, session, clock):
    outage = Outage(store, "listen", "release_claims", "claim_pushes", "next_push_at")
    sender = Outbox(outage, bot, clock, chat_interval=0, idle_poll=0.1)  # type: ignore[arg-type]
    running = asyncio.create_task(sender.run())
    try:
        await asyncio.sleep(0.3)
        assert not running.done(), running  # the loop did not die
        outage.lift()
        await Outbox(store, bot, clock).enqueue(text_push(USER, "日报"))
        for _ in range(100):
            if await store.push_counts() == {"sent": 1}:
                break
            await asyncio.sleep(0.05)
        assert [c.text for c in session.calls if isinstance(c, SendMessage)] == ["日报"]
    finally:
        running.cancel()

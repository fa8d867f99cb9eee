"""Issue 16, no update lost: every update is stored before the next getUpdates confirms it to Telegram,
handled, and marked done; what a killed run left unfinished is handled at the next start, once; an
update_id Telegram delivers again is not handled again (bot/polling.py, bot/repositories/inbox.py)."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiogram.methods import GetUpdates, SendMessage, TelegramMethod
from aiogram.types import Chat, Message, MessageEntity, Update, User

from bot.polling import DurablePolling
from tests.support.pg import committed
from tests.support.recording import NOW, RecordingSession

AGREEMENT = "服务协议与隐私政策"


def start_update(update_id: int, user_id: int, command: str = "/start") -> Update:
    user = User(id=user_id, is_bot=False, first_name="张伟", language_code="zh")
    return Update(update_id=update_id, message=Message(
        message_id=update_id, date=NOW, chat=Chat(id=user_id, type="private"), from_user=user, text=command,
        entities=[MessageEntity(type="bot_command", offset=0, length=len(command))]))


def sent_to(session: RecordingSession, chat_id: int) -> list[str]:
    return [c.text for c in session.calls if isinstance(c, SendMessage) and int(c.chat_id) == chat_id]


def agreements(session: RecordingSession, chat_id: int) -> int:
    """How many times the person got the agreement /start answers with."""
    return sum(AGREEMENT in text for text in sent_to(session, chat_id))


def inbox_rows(path: Any) -> list[tuple[int, bool]]:
    """(update_id, done) as another connection sees them: only what was committed."""
    return [(uid, done is not None) for uid, done in
            committed(path, "SELECT update_id, done_at FROM inbox ORDER BY update_id")]


async def test_an_update_stored_and_not_done_is_handled_at_start_exactly_once(dp, bot, session, store, clock,
                                                                               settings, database):
    # a run stored /start from two people, then died before handling the second one
    await store.accept_updates([(u.update_id, u.model_dump_json(exclude_unset=True, by_alias=True))
                                for u in (start_update(501, 700001), start_update(502, 700002))], clock.now())
    await store.finish_updates([501], clock.now())

    fed = await DurablePolling(dp, bot, store, clock).recover()

    assert fed == 1
    assert agreements(session, 700002) == 1
    assert sent_to(session, 700001) == []  # done before the crash: not again
    assert inbox_rows(database) == [(501, True), (502, True)]
    # the next start (and the one after) finds nothing left
    assert await DurablePolling(dp, bot, store, clock).recover() == 0
    assert agreements(session, 700002) == 1


async def test_a_redelivered_update_id_is_handled_once(dp, bot, session, store, clock, settings, database):
    poller = DurablePolling(dp, bot, store, clock)
    assert await poller.recover() == 0  # the start: from here on, ids above those stored are new for sure
    assert await poller.handle_batch([start_update(601, 700003), start_update(601, 700003)]) == 1  # twice in one
    await poller.drain()
    # Telegram delivers it again (the bot died before its next getUpdates confirmed it)
    assert await poller.handle_batch([start_update(601, 700003), start_update(602, 700004)]) == 1
    await poller.drain()
    assert agreements(session, 700003) == 1
    assert agreements(session, 700004) == 1
    assert inbox_rows(database) == [(601, True), (602, True)]
    # a bot started again: Telegram sends what the dead one had not confirmed, handled before
    again = DurablePolling(dp, bot, store, clock)
    assert await again.recover() == 0
    assert await again.handle_batch([start_update(602, 700004), start_update(603, 700008)]) == 1
    await again.drain()
    assert agreements(session, 700004) == 1 and agreements(session, 700008) == 1


async def test_a_used_update_id_carrying_another_update_is_handled(dp, bot, session, store, clock, settings, database):
    """A restarted sandbox numbers its updates from 1 again while the bot's inbox still has its old 1."""
    poller = DurablePolling(dp, bot, store, clock)
    await poller.recover()
    await poller.handle_batch([start_update(1, 700009)])
    await poller.drain()
    again = DurablePolling(dp, bot, store, clock)
    await again.recover()
    assert await again.handle_batch([start_update(1, 700010)]) == 1
    await again.drain()
    assert agreements(session, 700009) == agreements(session, 700010) == 1
    assert inbox_rows(database) == [(1, True)]


async def test_an_update_that_failed_at_three_starts_is_given_up(dp, bot, session, store, clock, settings, database):
    await store.accept_updates([(701, start_update(701, 700005).model_dump_json(exclude_unset=True, by_alias=True))], clock.now())
    for _ in range(3):  # three starts found it unfinished (each died while handling it)
        await store.unfinished_updates()
    assert await DurablePolling(dp, bot, store, clock, max_tries=3).recover() == 0
    assert sent_to(session, 700005) == []
    assert inbox_rows(database) == [(701, True)]


class PollingSession(RecordingSession):
    """getUpdates answers: one batch, then (checking what the database holds when the batch is
    confirmed by the next call's offset) nothing until the test stops the loop."""

    def __init__(self, batch: list[Update], db_path: Any) -> None:
        super().__init__()
        self.batch = batch
        self.db_path = db_path
        self.offsets: list[int | None] = []
        self.stored_when_confirmed: list[tuple[int, bool]] | None = None
        self.confirmed = asyncio.Event()

    async def make_request(self, bot: Any, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        if not isinstance(method, GetUpdates):
            return await super().make_request(bot, method, timeout)
        self.offsets.append(method.offset)
        if len(self.offsets) == 1:
            return self.batch
        if self.stored_when_confirmed is None:
            self.stored_when_confirmed = inbox_rows(self.db_path)
            self.confirmed.set()
        await asyncio.sleep(0.01)
        return []


async def test_a_batch_is_stored_before_the_next_get_updates_confirms_it(dp, store, clock, settings, database):
    from aiogram import Bot

    batch = [start_update(801, 700006), start_update(802, 700007)]
    session = PollingSession(batch, database)
    bot = Bot(settings.bot_token, session=session)
    poller = DurablePolling(dp, bot, store, clock, polling_timeout=1)
    loop = asyncio.create_task(poller.run())
    try:
        await asyncio.wait_for(session.confirmed.wait(), 10)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    assert session.offsets[:2] == [None, 803]
    assert session.stored_when_confirmed is not None
    assert [uid for uid, _done in session.stored_when_confirmed] == [801, 802]
    assert inbox_rows(database) == [(801, True), (802, True)]  # handled before the loop stopped
    assert agreements(session, 700006) == agreements(session, 700007) == 1


async def test_done_updates_are_pruned_after_two_days_and_unfinished_ones_kept(store, clock, settings, database):
    old = clock.now()
    await store.accept_updates([(901, "{}"), (902, "{}")], old)
    await store.finish_updates([901], old)
    await store.accept_updates([(903, "{}")], old + timedelta(days=3))
    await store.finish_updates([903], old + timedelta(days=3))
    assert await store.prune_updates(old + timedelta(days=3)) == 1
    assert inbox_rows(database) == [(902, False), (903, True)]

"""Found by the crash tests (issue 16): an update handled again at start after a SIGKILL may find part of
its work done by the dead run. Registration's "skip" removes its button and then saves; killed in
between, the press handled again failed on "message is not modified" (and on "query is too old" for
its answer) and the person was left in the last step with no button and no answer. While an update of
a dead run is handled again, bot/polling.py's ReplayTolerance takes those refusals as done."""
from __future__ import annotations

from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import AnswerCallbackQuery, EditMessageReplyMarkup, SendMessage, TelegramMethod
from aiogram.types import CallbackQuery, Update

from bot.polling import DurablePolling
from tests.support.recording import RecordingSession, find_button

PHONE = "+8613800000001"


class AnsweredOnce(RecordingSession):
    """A callback query can be answered once, as on Telegram."""

    def __init__(self) -> None:
        super().__init__()
        self.answered: set[str] = set()

    async def make_request(self, bot: Any, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        if isinstance(method, AnswerCallbackQuery):
            if method.callback_query_id in self.answered:
                self.calls.append(method)
                raise TelegramBadRequest(method, "Bad Request: query is too old and response timeout expired or "
                                                 "query ID is invalid")
            self.answered.add(method.callback_query_id)
        return await super().make_request(bot, method, timeout)


@pytest.fixture
def session() -> RecordingSession:
    return AnsweredOnce()


async def _skip_press_half_done(client, bot, session, store, clock) -> Update:
    """Registration up to the last step; then a run got the "skip" press, removed the button (and
    answered the query) and was killed before saving: the update is stored and not done."""
    await client.press(await client.start(), "✅ 同意并继续")
    await client.contact(PHONE.lstrip("+"))
    ask = await client.send("张伟")
    message, button = find_button(client._current(ask), "跳过 ⏭")
    update = Update(update_id=901, callback_query=CallbackQuery(
        id="q-skip", from_user=client.tg_user, chat_instance="ci", message=message, data=button.callback_data))
    await bot.edit_message_reply_markup(chat_id=client.user_id, message_id=message.message_id, reply_markup=None)
    await bot.answer_callback_query("q-skip")
    await store.accept_updates([(901, update.model_dump_json(exclude_unset=True, by_alias=True))], clock.now())
    return update


async def test_a_press_half_done_by_a_killed_run_is_finished_at_start(client_factory, dp, bot, session, store,
                                                                       clock):
    client = client_factory()
    await _skip_press_half_done(client, bot, session, store, clock)
    before = len(session.calls)

    assert await DurablePolling(dp, bot, store, clock).recover() == 1

    user = await store.get_user(client.user_id)
    assert user is not None and user.registered and user.phone == PHONE
    texts = [c.text for c in session.calls[before:] if isinstance(c, SendMessage)]
    assert any("注册成功" in t for t in texts), texts
    # what the dead run had done was tried again and taken as done
    assert any(isinstance(c, EditMessageReplyMarkup) for c in session.calls[before:])
    assert any(isinstance(c, AnswerCallbackQuery) for c in session.calls[before:])


async def test_outside_a_replay_the_same_refusals_are_errors(client_factory, dp, bot, session, store, clock):
    client = client_factory()
    update = await _skip_press_half_done(client, bot, session, store, clock)
    DurablePolling(dp, bot, store, clock)  # its middleware is on the session; no replay is going on
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await bot.edit_message_reply_markup(chat_id=client.user_id,
                                            message_id=update.callback_query.message.message_id, reply_markup=None)
    with pytest.raises(TelegramBadRequest, match="too old"):
        await bot.answer_callback_query("q-skip")
    # and a fresh update (not from a dead run) is handled as before: the failure shows
    await dp.feed_update(bot, update.model_copy(update={"update_id": 902}))
    assert not (await store.get_user(client.user_id) or _Unregistered()).registered


class _Unregistered:
    registered = False

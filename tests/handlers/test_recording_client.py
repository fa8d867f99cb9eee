"""The test client itself: it presses a button by its label on the message that carried it, as that
message is now in the chat, and refuses what a person could not press."""
from __future__ import annotations

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from tests.support.recording import ChatClient, RecordingSession

KB = InlineKeyboardMarkup(inline_keyboard=[
    [InlineKeyboardButton(text="Yes", callback_data="y"), InlineKeyboardButton(text="Yes please", callback_data="yp")],
    [InlineKeyboardButton(text="No", callback_data="n"), InlineKeyboardButton(text="Drop", callback_data="d")],
    [InlineKeyboardButton(text="Site", url="https://example.com")]])


def toy_dispatcher() -> tuple[Dispatcher, list[CallbackQuery]]:
    seen: list[CallbackQuery] = []
    router = Router()

    @router.message(Command("go"))
    async def go(message: Message) -> None:
        await message.answer("pick one", reply_markup=KB)

    @router.callback_query(F.data == "n")
    async def no(query: CallbackQuery) -> None:
        seen.append(query)
        await query.message.edit_text("you said no")  # the keyboard goes with the edit

    @router.callback_query(F.data == "d")
    async def drop(query: CallbackQuery) -> None:
        seen.append(query)
        await query.message.delete()

    @router.callback_query()
    async def other(query: CallbackQuery) -> None:
        seen.append(query)
        await query.message.edit_text(f"pressed {query.data}", reply_markup=KB)

    dp = Dispatcher()
    dp.include_router(router)
    return dp, seen


@pytest.fixture
def toy():
    session = RecordingSession()
    bot = Bot("1000000001:TEST-token-for-unit-tests-000", session=session)
    dp, seen = toy_dispatcher()
    return ChatClient(dp=dp, bot=bot, session=session, user_id=7), seen


async def test_press_sends_the_buttons_data_with_the_message_that_carried_it(toy):
    c, seen = toy
    sent = await c.send("/go")
    pressed = await c.press(sent, "Yes")  # the exact label wins over "Yes please"
    (query,) = seen
    assert query.data == "y" and query.message.text == "pick one"
    assert query.message.message_id == c.session.result_of(sent.messages[0]).message_id
    assert [[b.callback_data for b in row] for row in query.message.reply_markup.inline_keyboard] == [
        ["y", "yp"], ["n", "d"], [None]]
    assert pressed.text == "pressed y"
    await c.press(sent, "please")  # a unique part of a label
    assert seen[-1].data == "yp" and seen[-1].message.text == "pressed y", "the message as it is now"


async def test_ambiguous_missing_and_link_buttons_fail_with_the_labels_there_are(toy):
    c, seen = toy
    sent = await c.send("/go")
    with pytest.raises(AssertionError, match=r"2 buttons match 'Ye'"):
        await c.press(sent, "Ye")
    with pytest.raises(AssertionError, match=r"no button 'Maybe'.*'Yes please', 'No'"):
        await c.press(sent, "Maybe")
    with pytest.raises(AssertionError, match="not a callback button"):
        await c.press(sent, "Site")
    assert seen == []


async def test_a_button_edited_away_or_a_deleted_message_cannot_be_pressed(toy):
    c, seen = toy
    first = await c.send("/go")
    await c.press(first, "No")
    assert [m.text for m in c.window] == ["you said no"] and c.window[0].reply_markup is None
    with pytest.raises(AssertionError, match="no button 'Yes'"):
        await c.press(first, "Yes")
    second = await c.send("/go")
    await c.press(second, "Drop")
    with pytest.raises(AssertionError, match="deleted"):
        await c.press(second, "Yes")
    assert [q.data for q in seen] == ["n", "d"]


async def test_press_latest_uses_the_newest_message_with_the_label(toy):
    c, seen = toy
    await c.send("/go")
    await c.send("/go")
    newest = c.window[-1].message_id
    await c.press_latest("No")
    assert seen[-1].message.message_id == newest
    await c.press_latest("Yes please")  # the older message still has its keyboard
    assert seen[-1].message.message_id == newest - 1


async def test_an_edit_that_changes_nothing_is_refused_like_telegram(toy):
    c, _ = toy
    sent = await c.send("/go")
    message = c.session.result_of(sent.messages[0])
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await c.bot.edit_message_text("pick one", chat_id=c.user_id, message_id=message.message_id, reply_markup=KB)

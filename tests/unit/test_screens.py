"""show_screen: a screen replaces its message; a double tap adds nothing; an uneditable one is resent."""
from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditMessageText

from bot.ui.screens import show_screen


class FakeMessage:
    def __init__(self, error: str | None = None) -> None:
        self.error, self.edited, self.sent = error, [], []

    async def edit_text(self, text, reply_markup=None):
        if self.error:
            raise TelegramBadRequest(method=EditMessageText(text=text), message=self.error)
        self.edited.append(text)

    async def answer(self, text, reply_markup=None):
        self.sent.append(text)


@pytest.mark.parametrize("error, edited, sent", [
    (None, ["页"], []),
    ("Bad Request: message is not modified: specified new message content is the same", [], []),
    ("Bad Request: message can't be edited", [], ["页"]),
])
async def test_show_screen(error, edited, sent):
    message = FakeMessage(error)
    await show_screen(message, "页", None)
    assert (message.edited, message.sent) == (edited, sent)


async def test_show_screen_new_is_sent_below():
    message = FakeMessage()
    await show_screen(message, "页", None, new=True)
    assert (message.edited, message.sent) == ([], ["页"])

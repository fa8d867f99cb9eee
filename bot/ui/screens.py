"""Screens that replace the message they were opened from (pages, cards, detail views)."""
from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, Message


async def show_screen(message: Message, text: str, markup: InlineKeyboardMarkup | None, *, new: bool = False) -> None:
    """Edits `message` into the screen; a double tap (nothing to change) does nothing. With `new`, or
    when Telegram no longer lets the message be edited, the screen is sent below it instead."""
    if not new:
        try:
            await message.edit_text(text, reply_markup=markup)
            return
        except TelegramBadRequest as exc:
            if "not modified" in str(exc):
                return
    await message.answer(text, reply_markup=markup)

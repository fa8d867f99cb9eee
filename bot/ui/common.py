"""Filters and keyboards every area uses."""
from __future__ import annotations

from aiogram import Bot, F
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup, LinkPreviewOptions
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Label, Translator

NOT_COMMAND = ~F.text.startswith("/")  # a command typed mid-flow goes to its own handler
TEXT = F.text & NOT_COMMAND  # typed input; commands go on to their own handlers
# A message whose link is the point (an invite) shows no preview card: Bot API 7.0's link_preview_options
# (disable_web_page_preview is deprecated).
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def confirm_kb(_: Translator, yes_text: Label, yes: CallbackData, no: CallbackData) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=yes_text, callback_data=yes)
    kb.button(text=_.label("orgmenu.btn_no"), callback_data=no)
    kb.adjust(2)
    return kb.as_markup()


async def downloaded(bot: Bot | None, file_id: str) -> bytes:
    """A file a person sent (at most 20 MB, checked before), to look at what it holds."""
    buffer = await bot.download(file_id) if bot is not None else None
    return buffer.read() if buffer is not None else b""

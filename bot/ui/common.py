"""Filters and keyboards every area uses."""
from __future__ import annotations

from aiogram import F
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator

NOT_COMMAND = ~F.text.startswith("/")  # a command typed mid-flow goes to its own handler
TEXT = F.text & NOT_COMMAND  # typed input; commands go on to their own handlers


def confirm_kb(_: Translator, yes_text: str, yes: CallbackData, no: CallbackData) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=yes_text, callback_data=yes)
    kb.button(text=_("orgmenu.btn_no"), callback_data=no)
    kb.adjust(2)
    return kb.as_markup()

"""A question bank's screens (LEARN-1): callback data and the button that opens a bank."""
from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from bot.ui.imports import GLOBAL


class BankAction(StrEnum):
    page = "page"
    open = "open"
    retire = "retire"
    restore = "restore"


class BankCD(CallbackData, prefix="bk"):
    act: BankAction
    org: int = GLOBAL
    off: int = 0
    q: int = 0
    new: int = 0  # 1: shown as a new message (the pressed one is kept: an import's prompt or summary)


def browse_button(kb: InlineKeyboardBuilder, _: Translator, org_id: int | None, *, new: bool = False) -> None:
    kb.button(text=_("bank.btn_browse"), callback_data=BankCD(act=BankAction.page, org=org_id or GLOBAL,
                                                              new=int(new)))

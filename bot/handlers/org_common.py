"""What the organisation screens share (bot/handlers/org.py, org_branches.py, org_admins.py): their
callback data, input states, the back and confirm buttons."""
from __future__ import annotations

from typing import Any

from aiogram import F
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import I18n, Translator

TEXT = F.text & ~F.text.startswith("/")  # typed input; commands go on to their own handlers


class OrgCD(CallbackData, prefix="og"):
    act: str  # open | card | branches | admins | settings | rename | rename_use | dissolve | dissolve_yes
    org: int


class FlagCD(CallbackData, prefix="of"):
    org: int
    flag: str  # join_approval | protect_content
    on: int


class BranchCD(CallbackData, prefix="ob"):
    act: str  # view | add | rename | delete | delete_yes
    org: int
    br: int = 0  # the branch (view, rename, delete) or the parent 党总支 (add; 0 = top level)
    kind: str = ""  # add: general | branch


class AdminCD(CallbackData, prefix="oa"):
    act: str  # add | rm | rm_yes | ho | ho_pick | ho_yes
    org: int
    user: int = 0


class OrgInput(StatesGroup):
    rename = State()
    rename_long = State()
    branch_name = State()
    branch_rename = State()
    admin_phone = State()


def back_button(kb: InlineKeyboardBuilder, _: Translator, org_id: int, act: str = "card") -> None:
    kb.button(text=_("orgmenu.btn_back"), callback_data=OrgCD(act=act, org=org_id))


def confirm_kb(_: Translator, yes_text: str, yes: CallbackData, no: CallbackData) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=yes_text, callback_data=yes)
    kb.button(text=_("orgmenu.btn_no"), callback_data=no)
    kb.adjust(2)
    return kb.as_markup()


def translator_for(i18n: I18n, user: Any) -> Translator:
    return i18n.translator(i18n.pick(user.language, user.tg_language))

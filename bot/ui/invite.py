"""Joining by invite (MEM-6): the /invite wizard's callback data, the branch choice of a person who
opened a link, and the admins' approval buttons of a join request."""
from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from bot.ui.flow_data import FlowData

NOT_CHOSEN = -1


class InviteCD(CallbackData, prefix="iv"):
    """The wizard so far: branch_id -1 not chosen, 0 any; days 0 not chosen; uses -1 not chosen, 0 unlimited."""

    org_id: int
    branch_id: int = NOT_CHOSEN
    days: int = 0
    uses: int = NOT_CHOSEN


class InviteListCD(CallbackData, prefix="ivl"):
    org_id: int


class InviteRevokeCD(CallbackData, prefix="ivr"):
    invite_id: int


class Join(StatesGroup):
    branch = State()


class JoinData(FlowData):
    """Join.branch (MEM-6): the link this person opened last."""

    COMMAND = "/join"
    invite_id: int
    menu_after: bool = False  # opened at the end of registration (REG-6): the main menu follows the join


class JoinBranchCD(CallbackData, prefix="jb"):
    invite_id: int
    branch_id: int  # 0: no branch (offered only when the organisation has none)


class JoinDecisionCD(CallbackData, prefix="jd"):
    request_id: int
    approve: bool


def join_decision_kb(_: Translator, request_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("join.btn_approve"), callback_data=JoinDecisionCD(request_id=request_id, approve=True))
    kb.button(text=_("join.btn_reject"), callback_data=JoinDecisionCD(request_id=request_id, approve=False))
    return kb.as_markup()

"""Members (MEM-1..5, 7): the list's callback data, the add / edit / search states, and the texts
the list, the member card and the import share."""
from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup

from bot.i18n import I18n, Translator
from bot.render import excel
from bot.ui.flow_data import FlowData

ALL, NO_BRANCH = -1, 0
NONE = 0  # "no branch" in branch buttons


class MemListCD(CallbackData, prefix="ml"):
    org_id: int
    page: int
    branch: int = ALL  # -1 every branch, 0 without a branch, else a branch id
    q: bool = False  # the search text kept in the FSM data applies


class MemFilterCD(CallbackData, prefix="mf"):
    org_id: int


class MemSearchCD(CallbackData, prefix="ms"):
    org_id: int


class MemAddCD(CallbackData, prefix="ma"):
    org_id: int


class MemberAction(StrEnum):
    open = "open"
    name = "name"
    phone = "phone"
    branch = "branch"
    rm = "rm"
    rm_yes = "rm_yes"
    rm_no = "rm_no"


class MemberCD(CallbackData, prefix="me"):
    action: MemberAction
    member_id: int


class AddStep(StrEnum):
    copy = "copy"
    cancel = "cancel"
    branch = "branch"


class AddStepCD(CallbackData, prefix="mas"):
    action: AddStep
    branch_id: int = NONE


class MoveCD(CallbackData, prefix="mv"):
    member_id: int
    branch_id: int


class MemberSearch(StatesGroup):
    text = State()


class AddMember(StatesGroup):
    name = State()
    phone = State()
    copy = State()
    branch = State()


class EditMember(StatesGroup):
    name = State()
    phone = State()


class SearchData(FlowData):
    """The member list's search (MEM-7); kept after the search so that its pages keep filtering."""

    COMMAND = "/members"
    mem_query_org: int
    mem_query: str | None = None


class AddData(FlowData):
    """AddMember (MEM-1): name → phone → [copy] → branch."""

    COMMAND = "/members"
    mem_add_org: int
    mem_add_name: str | None = None
    mem_add_phone: str | None = None


class EditData(FlowData):
    """EditMember (MEM-2): the member whose name or phone is being typed."""

    COMMAND = "/members"
    mem_edit: int


def xlsx_labels(_: Translator) -> dict[str, str]:
    return excel.labels_from(_, prefix="xlsx.")


def all_xlsx_labels(i18n: I18n) -> list[dict[str, str]]:
    return [excel.labels_from(i18n.translator(lang), prefix="xlsx.") for lang in i18n.languages]


def mark(_: Translator, activated: bool) -> str:
    return _("members.mark_on") if activated else _("members.mark_off")


def branch_text(_: Translator, branch: str | None) -> str:
    return branch or _("members.no_branch")

"""File imports (MEM-4, LEARN-1): waiting for a member or a question sheet."""
from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup

from bot.ui.flow_data import FlowData

GLOBAL = 0  # QBankCD.org_id / BankCD.org of the operator's global bank


class ImportMembers(StatesGroup):
    file = State()


class ImportAction(StrEnum):
    create = "create"  # create the missing branches and import the rows that lacked them
    keep_names = "keep"  # rows whose phone is listed under another name: keep the listed names
    update_names = "upd"  # … or take the file's names


class ImportCD(CallbackData, prefix="mi"):
    action: ImportAction
    org_id: int


class ImportQuestions(StatesGroup):
    file = State()


class QBankCD(CallbackData, prefix="qb"):
    org_id: int  # GLOBAL or an organisation


class MemberImportData(FlowData):
    """/import of members (MEM-4): the organisation, then the rows that only lacked their branch."""

    COMMAND = "/import"
    imp_org: int
    imp_rows: list[Any] | None = None
    imp_branches: list[str] | None = None
    imp_names: list[Any] | None = None  # [member id, listed name, file's name] awaiting keep / update
    # [message id, added, present] of the file whose rows were committed and whose summary may not have
    # been sent (kept in the import's own transaction): the file handled again shows these counts
    imp_done: list[int] | None = None


class QuestionImportData(FlowData):
    """/import of questions (LEARN-1): the bank the file goes to (GLOBAL or an organisation)."""

    COMMAND = "/import"
    qimp_bank: int

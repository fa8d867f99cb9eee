"""File imports (MEM-4, LEARN-1): waiting for a member or a question sheet."""
from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup

GLOBAL = 0  # QBankCD.org_id / BankCD.org of the operator's global bank


class ImportMembers(StatesGroup):
    file = State()


class ImportAction(StrEnum):
    create = "create"  # create the missing branches and import the rows that lacked them


class ImportCD(CallbackData, prefix="mi"):
    action: ImportAction
    org_id: int


class ImportQuestions(StatesGroup):
    file = State()


class QBankCD(CallbackData, prefix="qb"):
    org_id: int  # GLOBAL or an organisation

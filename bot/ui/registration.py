"""Registration (REG) and real-name verification (RNV): states and buttons."""
from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup


class Reg(StatesGroup):
    agreement = State()
    phone = State()
    name = State()
    org_name = State()


class RegAction(StrEnum):
    agree = "agree"
    decline = "decline"
    terms = "terms"
    privacy = "privacy"
    skip_org = "skip_org"


class RegCD(CallbackData, prefix="reg"):
    action: RegAction


class Verify(StatesGroup):
    real_name = State()
    id_number = State()

"""Registration (REG) and real-name verification (RNV): states and buttons."""
from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup

from bot.ui.flow_data import FlowData


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


class VerifyData(FlowData):
    """/verify: the real name (never the ID number) and what to resume afterwards (RNV-1)."""

    COMMAND = "/verify"
    real_name: str
    after: dict[str, Any] | None = None

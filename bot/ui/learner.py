"""A learner's records and rank (LEARN-4, LEARN-8): callback data."""
from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class RecordsCD(CallbackData, prefix="lr"):
    page: int


class AttemptCD(CallbackData, prefix="la"):
    attempt_id: int


class RankCD(CallbackData, prefix="lk"):
    org_id: int
    by: str  # w (last 7 days) | t (total)

"""A learner's records, report and rank (LEARN-4, LEARN-8)."""
from __future__ import annotations

from aiogram import Router


def build_router() -> Router:
    router = Router(name=__name__)
    return router

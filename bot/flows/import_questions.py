"""Question bank import from .xlsx (LEARN-1): /template questions, /import of a question file."""
from __future__ import annotations

from aiogram import Router


def build_router() -> Router:
    router = Router(name=__name__)
    return router

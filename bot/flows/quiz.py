"""Daily, weekly and challenge quizzes and wrong-book practice (LEARN-2, 3, 5)."""
from __future__ import annotations

from aiogram import Router


def build_router() -> Router:
    router = Router(name=__name__)
    return router

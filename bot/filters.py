"""Role filters, set once per router. The role is the one loaded for this very update (SEC-4)."""
from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from bot.services.roles import Actor


class Registered(Filter):
    def __init__(self, registered: bool = True) -> None:
        self.registered = registered

    async def __call__(self, event: TelegramObject, actor: Actor | None = None, **_: Any) -> bool:
        return actor is not None and actor.registered == self.registered

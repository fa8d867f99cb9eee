"""What to resume after real-name verification (RNV-1). Later features register their actions."""
from __future__ import annotations

from typing import Any

from aiogram.types import Message

from bot.i18n import Translator


async def resume_after_verify(after: dict[str, Any], message: Message, _: Translator, **data: Any) -> None:
    from bot.flows.neworg import resume_neworg
    from bot.handlers.org import resume_become_admin

    actions: dict[str, Any] = {
        "neworg": resume_neworg,              # ORG-1: creating an organisation
        "become_admin": resume_become_admin,  # ORG-4: made an admin, now shows /org
    }
    action = actions.get(after.get("action", ""))
    if action is not None:
        await action(message, after, _=_, **data)

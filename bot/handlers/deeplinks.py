"""Deep-link payloads (`/start <payload>`), opened directly by registered users and resumed after
registration (REG-6). Each kind of link owns a prefix; later features add theirs here."""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.types import Message

from bot.i18n import Translator

PAYLOAD_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

Opener = Callable[..., Awaitable[None]]


def openers() -> dict[str, Opener]:
    """prefix → handler(message, payload_rest, **data). Imported lazily to keep layers one-way."""
    from bot.flows.certify import open_cert  # CERT-2: c_<token>
    from bot.flows.join import open_join  # MEM-6: j_<token>
    from bot.handlers.activities import open_checkin  # WORK-2: a_<token>, the activity's check-in QR code

    return {"j": open_join, "c": open_cert, "a": open_checkin}


async def open_payload(payload: str, message: Message, _: Translator, **data: Any) -> None:
    if PAYLOAD_RE.match(payload):
        prefix, sep, rest = payload.partition("_")
        opener = openers().get(prefix) if sep else None
        if opener is not None:
            await opener(message, rest, _=_, **data)
            return
    await message.answer(_("links.invalid"))

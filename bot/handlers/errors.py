"""One error handler: domain errors become localized messages, anything else an apology + a log line."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiogram import Router

from bot.errors import DomainError
from bot.middlewares import error_text, was_answered
from bot.repositories.base import DatabaseUnavailable

if TYPE_CHECKING:
    from aiogram.types import ErrorEvent

    from bot.i18n import I18n

log = logging.getLogger("bot.errors")


async def on_error(event: ErrorEvent, i18n: I18n, **data: Any) -> bool:
    exc, update = event.exception, event.update
    domain = exc if isinstance(exc, DomainError) else None
    if isinstance(exc, DatabaseUnavailable):  # not a bug (the outage is logged once, by the connection)
        log.info("update %s: the database is unavailable, the person gets the apology", update.update_id)
    elif domain is None:
        log.error("update %s failed: %r", update.update_id, exc, exc_info=exc)
    if was_answered(exc):
        return True  # the callback was already answered with the apology
    try:
        if update.message is not None:
            await update.message.answer(error_text(i18n, data.get("locale"), domain))
        elif update.callback_query is not None:
            await update.callback_query.answer(error_text(i18n, data.get("locale"), domain, toast=True),
                                               show_alert=True)
    except Exception:  # the apology itself failed (blocked, network): the log line is enough
        log.warning("could not tell update %s about its error", update.update_id, exc_info=True)
    return True


def build_router() -> Router:
    router = Router(name=__name__)
    router.errors.register(on_error)

    return router

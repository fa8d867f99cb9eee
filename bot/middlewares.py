"""Per-update data derived from the injected dependencies: the actor, their language, `_`."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.flags import get_flag
from aiogram.exceptions import TelegramAPIError
from aiogram.filters.callback_data import CallbackData
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from aiogram.utils.callback_answer import CallbackAnswerMiddleware

from bot.clock import Clock
from bot.config import Settings
from bot.errors import DomainError
from bot.i18n import I18n, Translator, plain
from bot.outbox import Outbox
from bot.services import points
from bot.services.roles import Actor
from bot.services.users import touch_user
from bot.store import Store
from bot.ui.menu import sync_menu

log = logging.getLogger("bot.middlewares")


@dataclass(frozen=True, slots=True)
class Ctx:
    """What a handler works with, in one parameter: the dispatcher's dependencies and this update's
    actor and language. Handlers take `ctx: Ctx` rather than listing these (few parameters each);
    the dependencies stay in the dispatcher's data by name too, for filters and helpers."""

    bot: Bot
    store: Store
    clock: Clock
    settings: Settings
    i18n: I18n
    outbox: Outbox  # None only in benchmarks that build a bare dispatcher (they never push)
    actor: Actor
    locale: str
    t: Translator  # the same as the handler's `_`


class ActorMiddleware(BaseMiddleware):
    """Loads the actor; the first update of a registered user each day pays the daily-login point.

    Who has been seen today is remembered here (one set, emptied when the day changes) so that
    only the first update of the day touches the ledger; the ledger's key keeps it exactly-once."""

    def __init__(self) -> None:
        self._day: str | None = None
        self._seen_today: set[int] = set()

    async def _daily_login(self, store: Any, clock: Any, user_id: int) -> None:
        day = clock.today().isoformat()
        if day != self._day:
            self._day, self._seen_today = day, set()
        if user_id in self._seen_today:
            return
        await points.daily_login(store, clock, user_id)
        self._seen_today.add(user_id)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        i18n = data["i18n"]
        if tg_user is None or tg_user.is_bot:
            data["locale"] = i18n.default
            data["_"] = i18n.translator(i18n.default)
            return await handler(event, data)
        store, settings = data["store"], data["settings"]
        user = await touch_user(store, data["clock"], tg_user.id, tg_user.first_name, tg_user.last_name,
                                tg_user.username, tg_user.language_code)
        await store.clear_unreachable(tg_user.id)  # they wrote: pushes reach them again (a set lookup)
        actor = await load_actor(store, settings, user)
        if actor.registered:
            await self._daily_login(store, data["clock"], user.id)
        locale = i18n.pick(user.language, user.tg_language)
        data["actor"] = actor
        data["locale"] = locale
        data["_"] = t = i18n.translator(locale)
        outbox: Any = data.get("outbox")  # absent only in benchmarks' bare dispatchers
        data["ctx"] = Ctx(bot=data["bot"], store=store, clock=data["clock"], settings=settings, i18n=i18n,
                          outbox=outbox, actor=actor, locale=locale, t=t)
        result = await handler(event, data)
        await _menu_fits(data["bot"], store, i18n, actor)
        return result


async def _menu_fits(bot: Bot, store: Store, i18n: I18n, actor: Actor) -> None:
    """The sender's command menu is compared with their roles as the update found them (free: the key
    is on their row); a change the update itself made arrives through the due work its write armed
    (bot/menus.py). A menu that cannot be set now is tried again at their next update."""
    try:
        await sync_menu(bot, store, i18n, actor)
    except TelegramAPIError as exc:
        log.warning("menu of %s not set: %s", actor.id, exc)


async def load_actor(store: Any, settings: Any, user: Any) -> Actor:
    admin_ids: frozenset[int] = frozenset()
    main_ids: frozenset[int] = frozenset()
    if user.registered and user.verified:  # RNV-1: an admin's role counts once they are verified
        admin_ids, main_ids = await store.admin_org_ids(user.id)
    return Actor(user=user, is_operator=user.id in settings.operator_ids,
                 admin_org_ids=admin_ids, main_admin_org_ids=main_ids)


class AnswerCallbacks(CallbackAnswerMiddleware):
    """Every callback query is answered exactly once, so no spinner hangs.

    Handlers set `callback_answer.text`/`show_alert` instead of calling `query.answer()`. A domain
    error raised by a handler becomes an alert (the flow stays where it was); an unexpected error
    gets the generic apology as an alert and is re-raised so the error handler logs it.
    """

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        answer = data["callback_answer"] = self.construct_callback_answer(
            properties=get_flag(data, "callback_answer"))
        try:
            if _out_of_range(data.get("callback_data")):  # forged: no row has such an id (SEC-4)
                raise DomainError("stale_button")
            return await handler(event, data)
        except DomainError as exc:
            answer.text, answer.show_alert = error_text(data["i18n"], data.get("locale"), exc, toast=True), True
            return None
        except Exception as exc:
            answer.text, answer.show_alert = error_text(data["i18n"], data.get("locale"), None, toast=True), True
            mark_answered(exc)  # the error handler gets its own copy of `data`, but this same exception
            raise
        finally:
            if not answer.disabled and not answer.answered:
                await self.answer(event, answer)  # type: ignore[arg-type]


_ANSWERED = "xuexi_callback_answered"


def mark_answered(exc: BaseException) -> None:
    """Notes on the exception that its callback query was answered with the apology already."""
    try:
        setattr(exc, _ANSWERED, True)
    except AttributeError:  # an exception type with __slots__: answered twice, which Telegram refuses harmlessly
        pass


def was_answered(exc: BaseException) -> bool:
    return bool(getattr(exc, _ANSWERED, False))


def _out_of_range(callback_data: Any) -> bool:
    """Whether unpacked callback data holds a number no button of ours carries (a forged button's): ids,
    Telegram's user ids (52 bits) and page numbers are far below 2**53; past it, SQLite overflows on a
    page's offset or the number itself."""
    if not isinstance(callback_data, CallbackData):
        return False
    return any(isinstance(v, int) and not -2**53 < v < 2**53 for v in callback_data.model_dump().values())


def error_text(i18n: I18n, locale: str | None, exc: DomainError | None, *, toast: bool = False) -> str:
    """The message for an error; as plain text for a toast (answerCallbackQuery's text is not parsed)."""
    text = i18n.t(locale, "errors.unexpected") if exc is None else i18n.t(locale, f"errors.{exc.key}", **exc.params)
    return plain(text) if toast else text

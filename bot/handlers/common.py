"""/start, /help, /lang and the fallbacks that catch what no other router took."""
from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.clock import Clock
from bot.errors import DomainError
from bot.handlers.menu import sync_menu
from bot.i18n import I18n, Translator
from bot.services.commands import commands_for
from bot.services.roles import Actor
from bot.services.users import choose_language
from bot.store import Store


class LangCD(CallbackData, prefix="lang"):
    code: str


class HelpCD(CallbackData, prefix="help"):
    pass


def lang_kb(i18n: I18n) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for code in i18n.languages:
        kb.button(text=i18n.t(code, "lang.name"), callback_data=LangCD(code=code))
    return kb.as_markup()


def help_text(_: Translator, actor: Actor) -> str:
    lines = [f"/{name} — {_(f'commands.{name}')}" for name in commands_for(actor.roles)]
    return _("help.text", commands="\n".join(lines)) if lines else _("help.empty")


def build_router() -> Router:
    router = Router(name=__name__)

    @router.message(Command("help"))
    async def help_cmd(message: Message, actor: Actor, _: Translator) -> None:
        await message.answer(help_text(_, actor))

    @router.callback_query(HelpCD.filter())
    async def help_btn(query: CallbackQuery, actor: Actor, _: Translator) -> None:
        if query.message:
            await query.message.answer(help_text(_, actor))

    @router.message(Command("lang"))
    async def lang_cmd(message: Message, i18n: I18n, _: Translator) -> None:
        await message.answer(_("lang.choose"), reply_markup=lang_kb(i18n))

    @router.callback_query(LangCD.filter(F.code == "?"))
    async def lang_menu(query: CallbackQuery, i18n: I18n, _: Translator) -> None:
        if query.message:
            await query.message.answer(_("lang.choose"), reply_markup=lang_kb(i18n))

    @router.callback_query(LangCD.filter())
    async def lang_set(query: CallbackQuery, callback_data: LangCD, bot: Bot, store: Store, clock: Clock,
                       i18n: I18n, actor: Actor, callback_answer: CallbackAnswer) -> None:
        if callback_data.code not in i18n.languages:
            raise DomainError("stale_button")
        await choose_language(store, clock, actor.user, callback_data.code, i18n.languages)
        _ = i18n.translator(callback_data.code)
        callback_answer.text = _("lang.changed")
        await sync_menu(bot, store, i18n, actor, callback_data.code)
        if query.message:
            await query.message.edit_text(_("lang.changed"))

    return router


def build_fallback_router() -> Router:
    """Registered last: what nobody else handled."""
    router = Router(name=__name__ + ".fallback")

    @router.message(F.text.startswith("/"))
    async def unknown_command(message: Message, _: Translator) -> None:
        await message.answer(_("fallback.unknown_command"))

    @router.message()
    async def anything(message: Message, state: FSMContext, _: Translator) -> None:
        await message.answer(_("fallback.not_understood"))

    @router.callback_query()
    async def stale(query: CallbackQuery, _: Translator, callback_answer: CallbackAnswer) -> None:
        callback_answer.text, callback_answer.show_alert = _("errors.stale_button"), True

    return router

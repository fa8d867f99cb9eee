"""/start, /help, /lang and the fallbacks that catch what no other router took."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters import Command

from bot.errors import DomainError
from bot.services.users import choose_language
from bot.ui.menu import HelpCD, LangCD, help_text, lang_kb

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext
    from aiogram.types import CallbackQuery, Message
    from aiogram.utils.callback_answer import CallbackAnswer

    from bot.config import Settings
    from bot.i18n import I18n, Translator
    from bot.middlewares import Ctx
    from bot.services.roles import Actor


def _help(_: Translator, actor: Actor, settings: Settings) -> str:
    """The commands of the actor's role; on a deployment without an operator yet (OPERATOR_IDS empty), also
    the person's Telegram id, which is how its owner learns what to put there."""
    text = help_text(_, actor)
    return text if settings.operator_ids else text + "\n\n" + _("help.no_operator", id=actor.user.id)


async def help_cmd(message: Message, actor: Actor, settings: Settings, _: Translator) -> None:
    await message.answer(_help(_, actor, settings))


async def help_btn(query: CallbackQuery, message: Message, actor: Actor, settings: Settings, _: Translator) -> None:
    await message.answer(_help(_, actor, settings))


async def lang_cmd(message: Message, i18n: I18n, _: Translator) -> None:
    await message.answer(_("lang.choose"), reply_markup=lang_kb(i18n))


async def lang_menu(query: CallbackQuery, message: Message, i18n: I18n, _: Translator) -> None:
    await message.answer(_("lang.choose"), reply_markup=lang_kb(i18n))


async def lang_set(query: CallbackQuery, message: Message, callback_data: LangCD, ctx: Ctx,
                   callback_answer: CallbackAnswer) -> None:
    if callback_data.code not in ctx.i18n.languages:
        raise DomainError("stale_button")
    await choose_language(ctx.store, ctx.clock, ctx.actor.user, callback_data.code, ctx.i18n.languages)
    _ = ctx.i18n.translator(callback_data.code)
    callback_answer.text = _.label("lang.changed")
    await message.edit_text(_("lang.changed"))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(help_cmd, Command("help"))
    router.callback_query.register(help_btn, HelpCD.filter())

    router.message.register(lang_cmd, Command("lang"))
    router.callback_query.register(lang_menu, LangCD.filter(F.code == "?"))

    router.callback_query.register(lang_set, LangCD.filter())

    return router


async def unknown_command(message: Message, _: Translator) -> None:
    await message.answer(_("fallback.unknown_command"))


async def anything(message: Message, state: FSMContext, _: Translator) -> None:
    await message.answer(_("fallback.not_understood"))


async def stale(query: CallbackQuery, _: Translator, callback_answer: CallbackAnswer) -> None:
    callback_answer.text, callback_answer.show_alert = _.label("errors.stale_button"), True


def build_fallback_router() -> Router:
    """Registered last: what nobody else handled."""
    router = Router(name=__name__ + ".fallback")
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(anything)

    router.callback_query.register(stale)

    return router

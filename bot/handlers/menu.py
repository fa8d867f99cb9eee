"""The command menu a person sees fits their role (Telegram command scopes)."""
from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.i18n import I18n
from bot.services.commands import commands_for, menu_key
from bot.services.roles import VISITOR, Actor
from bot.store import Store


def bot_commands(i18n: I18n, locale: str, roles: frozenset[str]) -> list[BotCommand]:
    return [BotCommand(command=name, description=i18n.t(locale, f"commands.{name}")) for name in commands_for(roles)]


async def set_default_menus(bot: Bot, i18n: I18n) -> None:
    """Visitors' menu in every language; the default language also without a language code."""
    visitor = frozenset({VISITOR})
    for lang in i18n.languages:
        await bot.set_my_commands(bot_commands(i18n, lang, visitor), scope=BotCommandScopeDefault(),
                                  language_code=lang)
    await bot.set_my_commands(bot_commands(i18n, i18n.default, visitor), scope=BotCommandScopeDefault())


async def sync_menu(bot: Bot, store: Store, i18n: I18n, actor: Actor, locale: str) -> None:
    """Set the person's own menu when their roles or language changed since it was last set."""
    key = menu_key(actor.roles, locale)
    if await store.get_menu_key(actor.id) == key:
        return
    await bot.set_my_commands(bot_commands(i18n, locale, actor.roles), scope=BotCommandScopeChat(chat_id=actor.id))
    await store.set_menu_key(actor.id, key)

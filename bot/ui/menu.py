"""The registered user's main menu, /help and /lang buttons, and the command menu that fits each
person's role (Telegram command scopes)."""
from __future__ import annotations

from enum import StrEnum

from aiogram import Bot
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import I18n, Translator
from bot.render.phone import mask_phone
from bot.services import users
from bot.services.commands import commands_for, menu_is_current, menu_key
from bot.services.roles import VISITOR, Actor
from bot.store import Membership, Store
from bot.ui.org import OrgAction, OrgCD


class MenuItem(StrEnum):
    orgs = "orgs"
    verify = "verify"
    quiz = "quiz"  # the learning items are answered by bot/flows/quiz.py and bot/handlers/learner.py
    weekly = "weekly"
    challenge = "challenge"
    exams = "exams"  # special exams (LEARN-6): bot/handlers/exams.py
    records = "records"
    wrongbook = "wrongbook"
    report = "report"
    rank = "rank"


class MenuCD(CallbackData, prefix="menu"):
    item: MenuItem


class LangCD(CallbackData, prefix="lang"):
    code: str  # a language code, or "?" for the choice


class HelpCD(CallbackData, prefix="help"):
    pass


LEARNING_ITEMS = (MenuItem.quiz, MenuItem.weekly, MenuItem.challenge, MenuItem.exams, MenuItem.records,
                  MenuItem.wrongbook, MenuItem.report, MenuItem.rank)


def lang_kb(i18n: I18n) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for code in i18n.languages:
        kb.button(text=i18n.label(code, "lang.name"), callback_data=LangCD(code=code))
    return kb.as_markup()


def help_text(_: Translator, actor: Actor) -> str:
    lines = [f"/{name} — {_(f'commands.{name}')}" for name in commands_for(actor.roles)]
    return _("help.text", commands=_.join("\n", lines)) if lines else _("help.empty")


def memberships_text(_: Translator, memberships: list[Membership]) -> str:
    if not memberships:
        return _("profile.no_orgs")
    lines = []
    for m in memberships:
        mark = _("org.mark_certified") if m.certified else _("org.mark_uncertified")
        branch = _("profile.branch", branch=m.branch_name) if m.branch_name else ""
        lines.append(_("profile.org_line", org=m.org_name, mark=mark, branch=branch))
    return _("profile.in_orgs", orgs=_.join("\n", lines))


def main_menu_kb(_: Translator, actor: Actor) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for item in LEARNING_ITEMS:
        kb.button(text=_.label(f"profile.btn_{item}"), callback_data=MenuCD(item=item))
    kb.button(text=_.label("profile.btn_orgs"), callback_data=MenuCD(item=MenuItem.orgs))
    if actor.admin_org_ids:
        kb.button(text=_.label("orgmenu.btn_menu_entry"), callback_data=OrgCD(act=OrgAction.open, org=0))
    if not actor.user.verified:
        kb.button(text=_.label("profile.btn_verify"), callback_data=MenuCD(item=MenuItem.verify))
    kb.button(text=_.label("start.btn_lang"), callback_data=LangCD(code="?"))
    kb.button(text=_.label("start.btn_help"), callback_data=HelpCD())
    kb.adjust(3, 3, 2, 2)
    return kb.as_markup()


async def send_main_menu(message: Message, actor: Actor, _: Translator) -> None:
    user = actor.user
    verified = _("profile.verified", masked=user.id_masked) if user.verified else _("profile.not_verified")
    await message.answer(
        _("profile.text", name=user.display_name, phone=mask_phone(user.phone) if user.phone else "—",
          verified=verified),
        reply_markup=main_menu_kb(_, actor))


# -- the command menu (Telegram command scopes) --------------------------------------------------
def bot_commands(i18n: I18n, locale: str, roles: frozenset[str]) -> list[BotCommand]:
    return [BotCommand(command=name, description=i18n.t(locale, f"commands.{name}")) for name in commands_for(roles)]


async def set_default_menus(bot: Bot, i18n: I18n) -> None:
    """Visitors' menu in every language; the default language also without a language code."""
    visitor = frozenset({VISITOR})
    for lang in i18n.languages:
        await bot.set_my_commands(bot_commands(i18n, lang, visitor), scope=BotCommandScopeDefault(),
                                  language_code=lang)
    await bot.set_my_commands(bot_commands(i18n, i18n.default, visitor), scope=BotCommandScopeDefault())


async def sync_menu(bot: Bot, store: Store, i18n: I18n, actor: Actor) -> bool:
    """Sets the person's own menu when it no longer fits their roles or language (the key stored with
    them says what it was set to); True when it was set."""
    user = actor.user
    locale = i18n.pick(user.language, user.tg_language)
    if menu_is_current(user.menu, actor.roles, locale, i18n.pick(user.tg_language)):
        return False
    await bot.set_my_commands(bot_commands(i18n, locale, actor.roles), scope=BotCommandScopeChat(chat_id=actor.id))
    await users.remember_menu_key(store, actor.id, menu_key(actor.roles, locale))
    return True

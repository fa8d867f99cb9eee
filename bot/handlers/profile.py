"""The registered user's main menu (profile view) and their organisations."""
from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.filters import Registered
from bot.handlers.common import HelpCD, LangCD
from bot.handlers.deeplinks import open_payload
from bot.handlers.menu import sync_menu
from bot.i18n import I18n, Translator
from bot.render.phone import mask_phone
from bot.services.roles import Actor
from bot.store import Membership, Store


class MenuCD(CallbackData, prefix="menu"):
    item: str  # orgs | verify | quiz | weekly | challenge | exams | records | wrongbook | report | rank
    # (the learning items are answered by bot/flows/quiz.py and bot/handlers/learner.py)


def memberships_text(_: Translator, memberships: list[Membership]) -> str:
    if not memberships:
        return _("profile.no_orgs")
    lines = []
    for m in memberships:
        mark = _("org.mark_certified") if m.certified else _("org.mark_uncertified")
        branch = _("profile.branch", branch=m.branch_name) if m.branch_name else ""
        lines.append(_("profile.org_line", org=m.org_name, mark=mark, branch=branch))
    return _("profile.in_orgs", orgs="\n".join(lines))


def main_menu_kb(_: Translator, actor: Actor) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for item in ("quiz", "weekly", "challenge", "exams", "records", "wrongbook", "report", "rank"):
        kb.button(text=_(f"profile.btn_{item}"), callback_data=MenuCD(item=item))
    kb.button(text=_("profile.btn_orgs"), callback_data=MenuCD(item="orgs"))
    if actor.admin_org_ids:
        from bot.handlers.org_common import OrgCD

        kb.button(text=_("orgmenu.btn_menu_entry"), callback_data=OrgCD(act="open", org=0))
    if not actor.user.verified:
        kb.button(text=_("profile.btn_verify"), callback_data=MenuCD(item="verify"))
    kb.button(text=_("start.btn_lang"), callback_data=LangCD(code="?"))
    kb.button(text=_("start.btn_help"), callback_data=HelpCD())
    kb.adjust(3, 3, 2, 2)
    return kb.as_markup()


async def send_main_menu(message: Message, store: Store, actor: Actor, _: Translator) -> None:
    user = actor.user
    verified = _("profile.verified", masked=user.id_masked) if user.verified else _("profile.not_verified")
    await message.answer(
        _("profile.text", name=user.display_name, phone=mask_phone(user.phone) if user.phone else "—",
          verified=verified),
        reply_markup=main_menu_kb(_, actor))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(Registered())
    router.callback_query.filter(Registered())

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject, bot: Bot, store: Store, i18n: I18n,
                    actor: Actor, locale: str, _: Translator, **data: object) -> None:
        await sync_menu(bot, store, i18n, actor, locale)
        if command.args:
            await open_payload(command.args, message, bot=bot, store=store, i18n=i18n, actor=actor,
                               locale=locale, _=_, **data)
            return
        await send_main_menu(message, store, actor, _)

    @router.callback_query(MenuCD.filter(F.item == "orgs"))
    async def my_orgs(query: CallbackQuery, store: Store, actor: Actor, _: Translator) -> None:
        if query.message:
            await query.message.answer(memberships_text(_, await store.memberships(actor.user.phone)))

    @router.callback_query(MenuCD.filter(F.item == "verify"))
    async def verify(query: CallbackQuery, state: FSMContext, actor: Actor, _: Translator) -> None:
        from bot.flows.verification import begin

        if query.message:
            await begin(query.message, state, actor, _)

    return router

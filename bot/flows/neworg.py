"""ORG-1, ORG-2, RNV-1: /neworg — kind → name → region → confirm; the creator becomes main admin.

An unverified user is sent through real-name verification first, which resumes here ("neworg").
A name over 20 characters gets a warning with "use it anyway" / "enter again" (FAQ 3).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import DomainError
from bot.flows.verification import begin as verify
from bot.middlewares import Ctx
from bot.services import orgs
from bot.ui.common import NOT_COMMAND, TEXT
from bot.ui.org import NewOrg, NewOrgAction, NewOrgCD, NewOrgDraft, NewOrgReady

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

    from bot.i18n import Translator
    from bot.services.roles import Actor


def kind_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for kind in orgs.KINDS:
        kb.button(text=_.label(f"neworg.btn_{kind}"), callback_data=NewOrgCD(action=NewOrgAction.kind, value=kind))
    kb.adjust(1)
    return kb.as_markup()


def long_name_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("neworg.btn_use_long"), callback_data=NewOrgCD(action=NewOrgAction.use_long))
    kb.button(text=_.label("neworg.btn_again"), callback_data=NewOrgCD(action=NewOrgAction.again))
    kb.adjust(1)
    return kb.as_markup()


def confirm_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("neworg.btn_create"), callback_data=NewOrgCD(action=NewOrgAction.create))
    kb.button(text=_.label("neworg.btn_abort"), callback_data=NewOrgCD(action=NewOrgAction.abort))
    kb.adjust(2)
    return kb.as_markup()


def ask_name_text(_: Translator, kind: str) -> str:
    return _("neworg.ask_name_nonparty" if kind == "nonparty" else "neworg.ask_name_party")


async def begin(message: Message, state: FSMContext, _: Translator) -> None:
    await NewOrgDraft().begin(state, NewOrg.kind)
    await message.answer(_("neworg.ask_kind"), reply_markup=kind_kb(_))


async def resume_neworg(message: Message, after: dict[str, Any], _: Translator, state: FSMContext,
                        **data: Any) -> None:
    """RNV-1: right after verification succeeded."""
    await begin(message, state, _)


async def _accept_name(message: Message, state: FSMContext, _: Translator, name: str) -> None:
    flow = await NewOrgDraft.load(state)
    flow.name, flow.pending = name, None
    await flow.save(state)
    await state.set_state(NewOrg.region)
    await message.answer(_("neworg.ask_region", name=name))


async def neworg_cmd(message: Message, state: FSMContext, actor: Actor, _: Translator) -> None:
    if not actor.user.verified:
        await verify(message, state, actor, _, after={"action": "neworg"})
        return
    await begin(message, state, _)


async def got_kind(query: CallbackQuery, message: Message, callback_data: NewOrgCD, state: FSMContext,
                   _: Translator) -> None:
    if callback_data.value not in orgs.KINDS:
        raise DomainError("stale_button")
    flow = await NewOrgDraft.load(state)
    flow.kind = callback_data.value
    await flow.save(state)
    await state.set_state(NewOrg.name)
    await message.edit_text(_("neworg.kind_chosen", kind=_(f"orgmenu.kind_{callback_data.value}")))
    await message.answer(ask_name_text(_, callback_data.value))


async def got_name(message: Message, state: FSMContext, _: Translator) -> None:
    flow = await NewOrgDraft.load(state)
    checked = orgs.check_org_name(message.text, flow.kind)
    if checked.long:
        flow.pending = checked.name
        await flow.save(state)
        await state.set_state(NewOrg.long_name)
        await message.answer(_("neworg.name_long", name=checked.name, length=len(checked.name),
                               soft=orgs.NAME_SOFT_MAX), reply_markup=long_name_kb(_))
        return
    await _accept_name(message, state, _, checked.name)


async def use_long(query: CallbackQuery, message: Message, state: FSMContext, _: Translator) -> None:
    pending = (await NewOrgDraft.load(state)).pending
    if not pending:
        raise DomainError("stale_button")
    await message.edit_reply_markup(reply_markup=None)
    await _accept_name(message, state, _, pending)


async def again(query: CallbackQuery, message: Message, state: FSMContext, _: Translator) -> None:
    flow = await NewOrgDraft.load(state)
    flow.pending = None
    await flow.save(state)
    await state.set_state(NewOrg.name)
    await message.edit_reply_markup(reply_markup=None)
    await message.answer(ask_name_text(_, flow.kind))


async def got_region(message: Message, state: FSMContext, _: Translator) -> None:
    region = orgs.clean_region(message.text)
    flow = await NewOrgDraft.load(state)
    flow.region = region
    await flow.save(state)
    ready = await NewOrgReady.load(state)
    await state.set_state(NewOrg.confirm)
    await message.answer(_("neworg.confirm", name=ready.name, kind=_(f"orgmenu.kind_{ready.kind}"),
                           region=region), reply_markup=confirm_kb(_))


async def create(query: CallbackQuery, message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    flow = await NewOrgReady.load(state)
    org = await orgs.create_org(ctx.store, ctx.clock, ctx.actor, flow.kind, flow.name, flow.region)
    await state.clear()
    await message.edit_text(_("neworg.created", name=org.name,
                              mark=_("org.mark_uncertified")))


async def abort(query: CallbackQuery, message: Message, state: FSMContext, _: Translator) -> None:
    await state.clear()
    await message.edit_text(_("neworg.aborted"))


async def stale(query: CallbackQuery) -> None:
    raise DomainError("stale_button")


async def kind_wrong(message: Message, _: Translator) -> None:
    await message.answer(_("neworg.kind_use_buttons"), reply_markup=kind_kb(_))


async def text_only(message: Message, _: Translator) -> None:
    await message.answer(_("neworg.text_only"))


async def confirm_wrong(message: Message, _: Translator) -> None:
    await message.answer(_("neworg.confirm_use_buttons"), reply_markup=confirm_kb(_))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(neworg_cmd, Command("neworg"))
    router.callback_query.register(got_kind, NewOrg.kind, NewOrgCD.filter(F.action == NewOrgAction.kind))

    router.message.register(got_name, NewOrg.long_name, TEXT)
    router.message.register(got_name, NewOrg.name, TEXT)
    router.callback_query.register(use_long, NewOrg.long_name, NewOrgCD.filter(F.action == NewOrgAction.use_long))

    router.callback_query.register(again, NewOrg.long_name, NewOrgCD.filter(F.action == NewOrgAction.again))
    router.message.register(got_region, NewOrg.region, TEXT)

    router.callback_query.register(create, NewOrg.confirm, NewOrgCD.filter(F.action == NewOrgAction.create))
    router.callback_query.register(abort, NewOrg.confirm, NewOrgCD.filter(F.action == NewOrgAction.abort))

    router.callback_query.register(stale, NewOrgCD.filter())
    router.message.register(kind_wrong, NewOrg.kind, NOT_COMMAND)

    router.message.register(text_only, NewOrg.region, NOT_COMMAND)
    router.message.register(text_only, NewOrg.long_name, NOT_COMMAND)
    router.message.register(text_only, NewOrg.name, NOT_COMMAND)
    router.message.register(confirm_wrong, NewOrg.confirm, NOT_COMMAND)

    return router

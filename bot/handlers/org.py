"""ORG-3…9: /org — the organisation card and its screens: settings, rename, dissolve here; branches
(org_branches.py), admins (org_admins.py), audit, question bank. Every press re-checks the role in
the service (SEC-4).

Screens edit the card message in place; the card itself is sent with the organisation's
protect_content setting (SEC-1), which its edits keep.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import notify
from bot.errors import DomainError
from bot.flows.verification import RNV
from bot.handlers import org_admins, org_branches
from bot.middlewares import Ctx, load_actor
from bot.models import Org
from bot.services import orgs, users
from bot.services.transactions import atomic
from bot.ui.certify import rename_kb
from bot.ui.common import NOT_COMMAND, TEXT, confirm_kb
from bot.ui.invite import InviteCD
from bot.ui.members import MemListCD
from bot.ui.org import (
    AuditCD,
    FlagCD,
    OrgAction,
    OrgCD,
    OrgInput,
    OrgPickCD,
    RenameData,
    back_button,
    choose_org,
    org_label,
)
from bot.ui.question_bank import browse_button

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

    from bot.config import Settings
    from bot.i18n import I18n, Translator
    from bot.services.roles import Actor
    from bot.store import Store
    from bot.ui.workflows import Workflows

log = logging.getLogger(__name__)


# -- texts and keyboards -----------------------------------------------------------------------

def _kind(_: Translator, kind: str) -> str:
    return _(f"orgmenu.kind_{kind}")


def card_text(_: Translator, card: orgs.OrgCard) -> str:
    org = card.org
    admins = _.join("、", (_("orgmenu.admin_main", name=a.name) if a.is_main else a.name for a in card.admins))
    upper = _("orgmenu.upper", upper=org_label(_, card.parent)) if card.parent else ""
    return _("orgmenu.card", label=org_label(_, org), kind=_kind(_, org.kind), region=org.region, upper=upper,
             branches=card.branches, members=card.members, activated=card.activated, admins=admins)


def card_kb(_: Translator, card: orgs.OrgCard) -> InlineKeyboardMarkup:
    org_id = card.org.id
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("orgmenu.btn_members"), callback_data=MemListCD(org_id=org_id, page=0))
    kb.button(text=_.label("orgmenu.btn_invites"), callback_data=InviteCD(org_id=org_id))
    for act in (OrgAction.branches, OrgAction.admins, OrgAction.settings, OrgAction.rename, OrgAction.dissolve):
        kb.button(text=_.label(f"orgmenu.btn_{act}"), callback_data=OrgCD(act=act, org=org_id))
    browse_button(kb, _, org_id)
    if card.is_main:
        kb.button(text=_.label("orgmenu.btn_audit"), callback_data=AuditCD(org=org_id))
    kb.adjust(2)
    return kb.as_markup()


def settings_view(_: Translator, org: Org) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    for flag in orgs.FLAGS:
        value = getattr(org, flag)
        kb.button(text=_.label(f"orgmenu.btn_{flag}_{'off' if value else 'on'}"),
                  callback_data=FlagCD(org=org.id, flag=flag, on=0 if value else 1))
    back_button(kb, _, org.id)
    kb.adjust(1)
    state = {flag: _("orgmenu.on") if getattr(org, flag) else _("orgmenu.off") for flag in orgs.FLAGS}
    return _("orgmenu.settings", org=org_label(_, org), **state), kb.as_markup()


# -- shared entry points -----------------------------------------------------------------------

async def send_card(message: Message, store: Store, actor: Actor, _: Translator, org_id: int) -> None:
    card = await orgs.org_card(store, actor, org_id)
    await message.answer(card_text(_, card), reply_markup=card_kb(_, card), protect_content=card.org.protect_content)


async def open_org(message: Message, store: Store, actor: Actor, _: Translator) -> None:
    org_id = await choose_org(message, actor, store, _, purpose="org")
    if org_id is not None:
        await send_card(message, store, actor, _, org_id)


async def resume_become_admin(message: Message, after: dict[str, Any], _: Translator, store: Store,
                              settings: Settings, bot: Bot, i18n: I18n, locale: str, workflows: Workflows,
                              **data: Any) -> None:
    """RNV-1: the new admin verified; their admin role now counts, so the command they sent runs
    (`workflows.org_commands`: /members, /template, /export, /import, /invite, /task, /activity, for
    one organisation; `workflows.admin_commands`: /review; anything else: /org)."""
    data.pop("actor", None)  # the role from before verification: loaded again below
    user = await users.get_user(store, message.chat.id)
    actor = await load_actor(store, settings, user)
    everywhere = workflows.admin_commands.get(after.get("command", "org"))
    if everywhere is not None:
        await everywhere(message, store=store, settings=settings, bot=bot, i18n=i18n, locale=locale, actor=actor,
                         _=_, workflows=workflows, **data)
        return
    run = workflows.org_commands.get(after.get("command", "org"))
    if run is None:
        await open_org(message, store, actor, _)
        return
    org_id = await choose_org(message, actor, store, _, purpose=after["command"])  # several: the picker continues
    if org_id is not None:
        await run(message, org_id, store=store, settings=settings, bot=bot, i18n=i18n, locale=locale, actor=actor,
                  _=_, workflows=workflows, **data)


# -- the router --------------------------------------------------------------------------------

async def org_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    await open_org(message, ctx.store, ctx.actor, _)


async def from_menu(query: CallbackQuery, message: Message, ctx: Ctx, _: Translator) -> None:
    await open_org(message, ctx.store, ctx.actor, _)


async def picked(query: CallbackQuery, message: Message, callback_data: OrgPickCD, ctx: Ctx, _: Translator) -> None:
    await send_card(message, ctx.store, ctx.actor, _, callback_data.org_id)


async def card(query: CallbackQuery, message: Message, callback_data: OrgCD, state: FSMContext, ctx: Ctx,
               _: Translator) -> None:
    await state.clear()
    data = await orgs.org_card(ctx.store, ctx.actor, callback_data.org)
    await message.edit_text(card_text(_, data), reply_markup=card_kb(_, data))


async def settings(query: CallbackQuery, message: Message, callback_data: OrgCD, ctx: Ctx, _: Translator) -> None:
    org = await orgs.org_for_admin(ctx.store, ctx.actor, callback_data.org)
    text, kb = settings_view(_, org)
    await message.edit_text(text, reply_markup=kb)


async def toggle(query: CallbackQuery, message: Message, callback_data: FlagCD, ctx: Ctx, _: Translator) -> None:
    org = await orgs.set_flag(ctx.store, ctx.clock, ctx.actor, callback_data.org, callback_data.flag,
                              bool(callback_data.on))
    text, kb = settings_view(_, org)
    await message.edit_text(text, reply_markup=kb)


async def rename(query: CallbackQuery, message: Message, callback_data: OrgCD, state: FSMContext, ctx: Ctx,
                 _: Translator) -> None:
    org = await orgs.can_rename(ctx.store, ctx.actor, callback_data.org)
    await RenameData(org=org.id).begin(state, OrgInput.rename)
    approval = ""
    if org.certified:  # ORG-6: the new name waits for the upper organisation (a root's: the operator)
        upper = await orgs.get_org(ctx.store, org.parent_id) if org.parent_id else None
        approval = (_("certify.rename_needs_upper", upper=upper.name) if upper
                    else _("certify.rename_needs_operator")) + "\n\n"
    await message.answer(approval + _("orgmenu.ask_rename", name=org.name, kind=_kind(_, org.kind)))


async def got_new_name(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    flow = await RenameData.load(state)
    org_id = flow.org
    checked = await orgs.check_rename(ctx.store, ctx.actor, org_id, message.text or "")
    if checked.long:
        flow.pending = checked.name
        await flow.save(state)
        await state.set_state(OrgInput.rename_long)
        await message.answer(_("neworg.name_long", name=checked.name, length=len(checked.name),
                               soft=orgs.NAME_SOFT_MAX),
                             reply_markup=confirm_kb(_, _.label("neworg.btn_use_long"),
                                                     OrgCD(act=OrgAction.rename_use, org=org_id),
                                                     OrgCD(act=OrgAction.rename, org=org_id)))
        return
    await _renamed(message, state, ctx, _, org_id, checked.name)


async def rename_use(query: CallbackQuery, message: Message, callback_data: OrgCD, state: FSMContext, ctx: Ctx,
                     _: Translator) -> None:
    pending = (await RenameData.load(state)).pending
    if not pending:
        raise DomainError("stale_button")
    await message.edit_reply_markup(reply_markup=None)
    await _renamed(message, state, ctx, _, callback_data.org, pending)


async def dissolve(query: CallbackQuery, message: Message, callback_data: OrgCD, ctx: Ctx, _: Translator) -> None:
    preview = await orgs.dissolve_preview(ctx.store, ctx.actor, callback_data.org)
    await message.edit_text(
        _("orgmenu.dissolve_confirm", org=preview.org.name, members=preview.members),
        reply_markup=confirm_kb(_, _.label("orgmenu.btn_dissolve_yes"),
                                OrgCD(act=OrgAction.dissolve_yes, org=preview.org.id),
                                OrgCD(act=OrgAction.card, org=preview.org.id)))


async def dissolve_yes(query: CallbackQuery, message: Message, callback_data: OrgCD, ctx: Ctx,
                       _: Translator) -> None:
    done = await orgs.dissolve_org(ctx.store, ctx.clock, ctx.actor, callback_data.org)
    await message.edit_text(_("orgmenu.dissolved", org=done.org.name, members=done.members))


async def text_only(message: Message, _: Translator) -> None:
    await message.answer(_("orgmenu.text_only"))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(org_cmd, Command("org"), flags={RNV: "org"})
    router.callback_query.register(from_menu, OrgCD.filter(F.act == OrgAction.open), flags={RNV: "org"})

    router.callback_query.register(picked, OrgPickCD.filter(F.purpose == "org"))
    router.callback_query.register(card, OrgCD.filter(F.act == OrgAction.card))

    # settings (join approval, SEC-1 protect_content)
    router.callback_query.register(settings, OrgCD.filter(F.act == OrgAction.settings))
    router.callback_query.register(toggle, FlagCD.filter())

    # rename (ORG-6)
    router.callback_query.register(rename, OrgCD.filter(F.act == OrgAction.rename))
    router.message.register(got_new_name, OrgInput.rename_long, TEXT)
    router.message.register(got_new_name, OrgInput.rename, TEXT)
    router.callback_query.register(rename_use, OrgInput.rename_long, OrgCD.filter(F.act == OrgAction.rename_use))

    # dissolve (ORG-7)
    router.callback_query.register(dissolve, OrgCD.filter(F.act == OrgAction.dissolve))
    router.callback_query.register(dissolve_yes, OrgCD.filter(F.act == OrgAction.dissolve_yes))

    org_branches.register(router)
    org_admins.register(router)

    router.message.register(text_only, OrgInput.admin_phone, NOT_COMMAND)
    router.message.register(text_only, OrgInput.branch_rename, NOT_COMMAND)
    router.message.register(text_only, OrgInput.branch_name, NOT_COMMAND)
    router.message.register(text_only, OrgInput.rename_long, NOT_COMMAND)
    router.message.register(text_only, OrgInput.rename, NOT_COMMAND)

    return router


async def _renamed(message: Message, state: FSMContext, ctx: Ctx, _: Translator, org_id: int, name: str) -> None:
    async with atomic(ctx.store):
        done = await orgs.rename_org(ctx.store, ctx.clock, ctx.actor, org_id, name)
        if not isinstance(done, Org):  # ORG-6: a certified organisation's new name is a request
            await notify.rename_requested(ctx.outbox, ctx.store, ctx.i18n, ctx.settings.operator_ids, done,
                                          rename_kb)
    await state.clear()
    if not isinstance(done, Org):
        await message.answer(_("certify.rename_requested", old=done.old_name, new=done.new_name))
        return
    await message.answer(_("orgmenu.renamed", name=done.name))
    await send_card(message, ctx.store, ctx.actor, _, done.id)



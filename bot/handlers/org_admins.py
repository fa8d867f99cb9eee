"""ORG-4, ORG-5: the organisation card's admin screens, registered on the /org router."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import notify
from bot.middlewares import Ctx
from bot.services import orgs, users
from bot.services.transactions import atomic
from bot.ui.common import TEXT, confirm_kb
from bot.ui.org import AdminAction, AdminCD, AdminPhoneData, OrgAction, OrgCD, OrgInput, back_button, org_label

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

    from bot.i18n import Translator
    from bot.models import Org
    from bot.services.roles import Actor
    from bot.store import Store

log = logging.getLogger(__name__)


def admins_view(_: Translator, org: Org, group: list[orgs.AdminInfo], is_main: bool,
                ) -> tuple[str, InlineKeyboardMarkup]:
    lines = []
    for a in group:
        role = _("admins.role_main") if a.is_main else _("admins.role_admin")
        pending = "" if a.verified else _("admins.unverified")
        lines.append(_("admins.line", name=a.name, phone=a.phone, role=role, pending=pending))
    kb = InlineKeyboardBuilder()
    if is_main:
        kb.button(text=_.label("admins.btn_add"), callback_data=AdminCD(act=AdminAction.add, org=org.id))
        for a in group:
            if not a.is_main:
                kb.button(text=_.label("admins.btn_remove", name=a.name),
                          callback_data=AdminCD(act=AdminAction.rm, org=org.id,
                                                user=a.user_id))
        kb.button(text=_.label("admins.btn_handover"), callback_data=AdminCD(act=AdminAction.ho, org=org.id))
    back_button(kb, _, org.id)
    kb.adjust(1)
    note = "" if is_main else "\n\n" + _("admins.main_only_note")
    return _("admins.title", org=org_label(_, org), body=_.join("\n", lines)) + note, kb.as_markup()


async def show_admins(message: Message, store: Store, actor: Actor, _: Translator, org_id: int,
                      edit: bool) -> None:
    org, group = await orgs.admins(store, actor, org_id)
    text, kb = admins_view(_, org, group, org_id in actor.main_admin_org_ids)
    if edit:
        await message.edit_text(text, reply_markup=kb)
    else:
        await message.answer(text, reply_markup=kb, protect_content=org.protect_content)


async def admins(query: CallbackQuery, message: Message, callback_data: OrgCD, state: FSMContext, ctx: Ctx,
                 _: Translator) -> None:
    await state.clear()
    await show_admins(message, ctx.store, ctx.actor, _, callback_data.org, edit=True)


async def add(query: CallbackQuery, message: Message, callback_data: AdminCD, state: FSMContext, ctx: Ctx,
              _: Translator) -> None:
    org = await orgs.require_admin_manager(ctx.store, ctx.actor, callback_data.org)
    await AdminPhoneData(org=org.id).begin(state, OrgInput.admin_phone)
    await message.answer(_("admins.ask_phone", org=org.name))


async def got_phone(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    org_id = (await AdminPhoneData.load(state)).org
    async with atomic(ctx.store):
        added = await orgs.add_admin(ctx.store, ctx.clock, ctx.actor, org_id, message.text or "")
        await notify.admin_added(ctx.outbox, ctx.i18n, ctx.actor, added, str(message.message_id))
    await state.clear()
    user = added.user
    await message.answer(_("admins.added", name=user.display_name, org=added.org.name)
                         + ("" if user.verified else "\n" + _("admins.added_needs_rnv")))
    await show_admins(message, ctx.store, ctx.actor, _, org_id, edit=False)


async def remove(query: CallbackQuery, message: Message, callback_data: AdminCD, ctx: Ctx, _: Translator) -> None:
    target = await orgs.admin_to_remove(ctx.store, ctx.actor, callback_data.org, callback_data.user)
    await message.edit_text(
        _("admins.remove_confirm", name=target.name),
        reply_markup=confirm_kb(_, _.label("admins.btn_remove_yes"),
                                AdminCD(act=AdminAction.rm_yes, org=callback_data.org, user=target.user_id),
                                OrgCD(act=OrgAction.admins, org=callback_data.org)))


async def remove_yes(query: CallbackQuery, message: Message, callback_data: AdminCD, ctx: Ctx,
                     _: Translator) -> None:
    async with atomic(ctx.store):
        target = await orgs.remove_admin(ctx.store, ctx.clock, ctx.actor, callback_data.org, callback_data.user)
        # the person removed is told (their command menu follows through the due work the removal armed)
        org, user = await orgs.get_org(ctx.store, callback_data.org), await users.get_user(ctx.store, target.user_id)
        if org is not None and user is not None:
            await notify.admin_removed(ctx.outbox, ctx.i18n, ctx.actor, org, user, query.id)
    await message.answer(_("admins.removed", name=target.name))
    await show_admins(message, ctx.store, ctx.actor, _, callback_data.org, edit=True)


async def handover(query: CallbackQuery, message: Message, callback_data: AdminCD, ctx: Ctx, _: Translator) -> None:
    candidates = await orgs.handover_candidates(ctx.store, ctx.actor, callback_data.org)
    kb = InlineKeyboardBuilder()
    for a in candidates:
        kb.button(text=a.name,
                  callback_data=AdminCD(act=AdminAction.ho_pick, org=callback_data.org, user=a.user_id))
    back_button(kb, _, callback_data.org, OrgAction.admins)
    kb.adjust(1)
    await message.edit_text(_("admins.handover_choose"), reply_markup=kb.as_markup())


async def handover_pick(query: CallbackQuery, message: Message, callback_data: AdminCD, ctx: Ctx,
                        _: Translator) -> None:
    target = await orgs.handover_target(ctx.store, ctx.actor, callback_data.org, callback_data.user)
    org = await orgs.org_for_admin(ctx.store, ctx.actor, callback_data.org)
    await message.edit_text(
        _("admins.handover_confirm", name=target.name, org=org.name),
        reply_markup=confirm_kb(_, _.label("admins.btn_handover_yes"),
                                AdminCD(act=AdminAction.ho_yes, org=callback_data.org, user=target.user_id),
                                OrgCD(act=OrgAction.admins, org=callback_data.org)))


async def handover_yes(query: CallbackQuery, message: Message, callback_data: AdminCD, ctx: Ctx,
                       _: Translator) -> None:
    async with atomic(ctx.store):
        target = await orgs.hand_over(ctx.store, ctx.clock, ctx.actor, callback_data.org, callback_data.user)
        org, user = await orgs.get_org(ctx.store, callback_data.org), await users.get_user(ctx.store, target.user_id)
        if org is not None and user is not None:
            await notify.handed_over(ctx.outbox, ctx.i18n, ctx.actor, org, user, query.id)
    if org is None or user is None:
        return
    await message.edit_text(_("admins.handed_over", name=target.name, org=org.name))


def register(router: Router) -> None:
    """ORG-4, ORG-5: the main admin adds, removes and hands over; admins only look (FAQ 4)."""
    router.callback_query.register(admins, OrgCD.filter(F.act == OrgAction.admins))
    router.callback_query.register(add, AdminCD.filter(F.act == AdminAction.add))

    router.message.register(got_phone, OrgInput.admin_phone, TEXT)
    router.callback_query.register(remove, AdminCD.filter(F.act == AdminAction.rm))

    router.callback_query.register(remove_yes, AdminCD.filter(F.act == AdminAction.rm_yes))
    router.callback_query.register(handover, AdminCD.filter(F.act == AdminAction.ho))

    router.callback_query.register(handover_pick, AdminCD.filter(F.act == AdminAction.ho_pick))
    router.callback_query.register(handover_yes, AdminCD.filter(F.act == AdminAction.ho_yes))

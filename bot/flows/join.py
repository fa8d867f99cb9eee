"""Joining an organisation by invite (MEM-6): `/start j_<token>` (also resumed after registration,
REG-6), `/join <link or token>`, the branch choice, and the admins' approval of join requests.

The invite id of the opened link is kept in the FSM state, so a branch button is honoured only
for the link this person really opened (callback data is never trusted on its own, SEC-4).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import notify
from bot.errors import DomainError
from bot.services import invites
from bot.services.invites import JoinOffer, JoinResult
from bot.services.transactions import atomic
from bot.ui.common import NOT_COMMAND
from bot.ui.invite import Join, JoinBranchCD, JoinData, JoinDecisionCD, join_decision_kb
from bot.ui.menu import send_main_menu

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
    from aiogram.utils.callback_answer import CallbackAnswer

    from bot.clock import Clock
    from bot.config import Settings
    from bot.i18n import I18n, Translator
    from bot.middlewares import Ctx
    from bot.models import Org
    from bot.outbox import Outbox
    from bot.services.roles import Actor
    from bot.store import Store

log = logging.getLogger(__name__)

# Refusals that end the link for this person: the branch choice is over too.
LINK_ENDED = {"join.expired", "join.revoked", "join.used_up", "join.unknown", "join.malformed"}


# -- texts and keyboards ---------------------------------------------------------------------------
def offer_text(_: Translator, org: Org) -> str:
    mark = _("org.mark_certified") if org.certified else _("org.mark_uncertified")
    return _("join.offer", org=org.name, mark=mark)


def result_text(_: Translator, result: JoinResult) -> str:
    if result.kind == "already_pending":
        return _("join.already_pending", org=result.org.name)
    key = f"join.{result.kind}" + ("" if result.branch else "_no_branch")
    return _(key, org=result.org.name, branch=result.branch or "")


def branch_kb(_: Translator, offer: JoinOffer) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for b in offer.branches:
        kb.button(text=b.label, callback_data=JoinBranchCD(invite_id=offer.invite.id, branch_id=b.id))
    if not offer.branches:
        kb.button(text=_.label("join.btn_no_branch"),
                  callback_data=JoinBranchCD(invite_id=offer.invite.id, branch_id=0))
    kb.adjust(1)
    return kb.as_markup()


def _error(_: Translator, exc: DomainError) -> str:
    return _(f"errors.{exc.key}", **exc.params)


# -- opening a link --------------------------------------------------------------------------------
async def open_join(message: Message, token: str, *, _: Translator, store: Store, clock: Clock,
                    settings: Settings, i18n: I18n, actor: Actor, state: FSMContext, outbox: Outbox,
                    **data: Any) -> None:
    """The opener for payload prefix "j" (and /join). Refusals are answered as messages, also when
    this runs at the end of registration from a button press."""
    try:
        opened = await invites.open_invite(store, clock, settings.secret_key, actor.user, token)
        if isinstance(opened, JoinResult):
            await message.answer(result_text(_, opened))
            return
        if not opened.needs_choice:  # the link fixes the branch: join at once
            async with atomic(store):
                result = await invites.join(store, clock, actor.user, opened.invite.id, None)
                await notify.join_requested(outbox, store, i18n, result, join_decision_kb)
            await message.answer(offer_text(_, opened.org) + "\n\n" + result_text(_, result))
            return
    except DomainError as exc:
        await message.answer(_error(_, exc))
        return
    await state.set_state(Join.branch)
    await JoinData(invite_id=opened.invite.id, menu_after=bool(data.get("menu_after"))).save(state)
    ask = _("join.choose_branch") if opened.branches else _("join.confirm_no_branch")
    await message.answer(offer_text(_, opened.org) + "\n\n" + ask, reply_markup=branch_kb(_, opened))


async def join_cmd(message: Message, command: CommandObject, bot: Bot, _: Translator, **data: Any) -> None:
    if not command.args:
        me = await bot.me()
        await message.answer(_("join.how", bot=me.username or ""))
        return
    await open_join(message, invites.parse_join_arg(command.args), _=_, bot=bot, **data)


async def branch_chosen(query: CallbackQuery, message: Message, callback_data: JoinBranchCD, state: FSMContext,
                        ctx: Ctx, _: Translator) -> None:
    flow = await JoinData.load(state)
    if flow.invite_id != callback_data.invite_id:
        raise DomainError("stale_button")  # a button of another link than the one opened last
    try:
        async with atomic(ctx.store):
            result = await invites.join(ctx.store, ctx.clock, ctx.actor.user, callback_data.invite_id,
                                        callback_data.branch_id or None)
            await notify.join_requested(ctx.outbox, ctx.store, ctx.i18n, result, join_decision_kb)
    except DomainError as exc:
        if exc.key not in LINK_ENDED:
            raise  # e.g. a branch that was just deleted: the choice stays open
        await state.clear()
        await message.edit_text(_error(_, exc))
        return
    await state.clear()
    await message.edit_text(result_text(_, result))
    if flow.menu_after:  # REG-6: the new member's way on
        await send_main_menu(message, ctx.actor, _)


async def use_buttons(message: Message, _: Translator) -> None:
    await message.answer(_("join.use_buttons"))


async def decide(query: CallbackQuery, message: Message, callback_data: JoinDecisionCD, ctx: Ctx,
                 callback_answer: CallbackAnswer, _: Translator) -> None:
    async with atomic(ctx.store):
        decision = await invites.decide(ctx.store, ctx.clock, ctx.actor, callback_data.request_id,
                                        callback_data.approve)
        await notify.join_decided(ctx.outbox, ctx.i18n, decision)
    r = decision.request
    branch = r.branch or ""
    if decision.approved:
        callback_answer.text = _.label("join.approved_answer")
        mine = _("join.decided_approved", name=r.user_name, org=r.org.name, branch=branch or _("invite.no_branch"))
    else:
        callback_answer.text = _.label("join.rejected_answer")
        mine = _("join.decided_rejected", name=r.user_name, org=r.org.name)
    await message.edit_text(mine)


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(join_cmd, Command("join"))
    router.callback_query.register(branch_chosen, Join.branch, JoinBranchCD.filter())

    router.message.register(use_buttons, Join.branch, NOT_COMMAND)
    router.callback_query.register(decide, JoinDecisionCD.filter())

    return router

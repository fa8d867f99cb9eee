"""Certification conversations: an invitation addressed to one person with a message (CERT-1),
opening an invitation and applying with one of one's organisations (CERT-2, `/start c_<token>`,
also resumed after registration, REG-6), and the reason of a rejection (CERT-3, ORG-6).

The invitation id of the opened link is kept in the FSM state, so an Apply button is honoured only
for the link this person really opened (callback data is never trusted on its own, SEC-4).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import notify
from bot.errors import DomainError
from bot.i18n import I18n, Raw, Translator
from bot.services import certification as cert
from bot.services import renames
from bot.services.transactions import atomic
from bot.ui.certify import (
    AddressedData,
    ApplyingData,
    CertAction,
    CertApplyCD,
    CertApplying,
    CertCD,
    CertDecideCD,
    CertInput,
    CertNoteCD,
    ReasonData,
    RenameDecideCD,
    decision_kb,
    link_url,
    send_invite,
)
from bot.ui.common import NOT_COMMAND, TEXT
from bot.ui.org import org_label

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

    from bot.clock import Clock
    from bot.config import Settings
    from bot.middlewares import Ctx
    from bot.outbox import Outbox
    from bot.services.roles import Actor
    from bot.store import Store

# Refusals after which the rejection is over (someone else decided, or it is gone): leave the state.
DECIDED = ("cert.already_", "cert.rename_already_", "cert.application_gone", "cert.rename_gone")


# -- texts ---------------------------------------------------------------------------------------
def _why(_: Translator, offer: cert.CertOffer, c: cert.Candidate) -> str:
    return "• " + _(f"errors.cert.why_{c.why}", **{"org": c.org.name, "upper": offer.upper.name, **c.params})


def offer_text(_: Translator, offer: cert.CertOffer) -> str:
    note = _("certify.note_line", note=offer.invite.note) if offer.invite.note else ""
    head = _("certify.offer", upper=org_label(_, offer.upper), inviter=offer.inviter, note=note)
    if not offer.eligible:
        reasons = "\n".join(_why(_, offer, c) for c in offer.candidates)
        return head + "\n\n" + _("certify.none_eligible", reasons=Raw(reasons))
    body = _("certify.choose_org")
    refused = [c for c in offer.candidates if c.why is not None]
    if refused:
        body += "\n\n" + _("certify.not_eligible", reasons=Raw("\n".join(_why(_, offer, c) for c in refused)))
    return head + "\n\n" + body


def apply_kb(_: Translator, offer: cert.CertOffer) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for org in offer.eligible:
        kb.button(text=_.label("certify.btn_apply", org=org.name),
                  callback_data=CertApplyCD(inv=offer.invite.id, org=org.id))
    kb.adjust(1)
    return kb.as_markup()


# -- opening an invitation -------------------------------------------------------------------------
async def open_cert(message: Message, token: str, *, _: Translator, store: Store, clock: Clock, settings: Settings,
                    actor: Actor, state: FSMContext, **data: Any) -> None:
    """The opener for payload prefix "c" (and `/certify <link>`); refusals are answered as messages."""
    try:
        offer = await cert.open_invite(store, clock, settings.secret_key, actor, token)
    except DomainError as exc:
        await message.answer(_(f"errors.{exc.key}", **exc.params))
        return
    if not offer.eligible:
        await message.answer(offer_text(_, offer))
        return
    await ApplyingData(cert_invite=offer.invite.id).begin(state, CertApplying.choose)
    await message.answer(offer_text(_, offer), reply_markup=apply_kb(_, offer))


async def apply(query: CallbackQuery, message: Message, callback_data: CertApplyCD, state: FSMContext, ctx: Ctx,
                _: Translator) -> None:
    if (await ApplyingData.load(state)).cert_invite != callback_data.inv:
        raise DomainError("stale_button")  # a button of another invitation than the one opened last
    async with atomic(ctx.store):
        app = await cert.apply(ctx.store, ctx.clock, ctx.actor, callback_data.inv, callback_data.org)
        await notify.application(ctx.outbox, ctx.store, ctx.i18n, app, decision_kb)
    await state.clear()
    await message.edit_text(_("certify.submitted", org=app.lower.name, upper=app.upper.name))


async def use_buttons(message: Message, _: Translator) -> None:
    await message.answer(_("certify.use_buttons"))


async def text_only(message: Message, _: Translator) -> None:
    await message.answer(_("certify.text_only"))


def build_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(apply, CertApplying.choose, CertApplyCD.filter())
    router.message.register(use_buttons, CertApplying.choose, NOT_COMMAND)

    _addressed_handlers(router)
    _reason_handlers(router)

    router.message.register(text_only, CertInput.reason, NOT_COMMAND)
    router.message.register(text_only, CertInput.note, NOT_COMMAND)
    router.message.register(text_only, CertInput.phone, NOT_COMMAND)

    return router


# -- an invitation addressed to one person, with a message (CERT-1) --------------------------------
async def start(query: CallbackQuery, message: Message, callback_data: CertCD, state: FSMContext, ctx: Ctx,
                _: Translator) -> None:
    org = await cert.require_inviter(ctx.store, ctx.actor, callback_data.org)
    await AddressedData(org=org.id).begin(state, CertInput.phone)
    await message.answer(_("certify.ask_phone", org=org.name))


async def got_phone(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    flow = await AddressedData.load(state)
    org_id = flow.org
    user = await cert.addressee_by_phone(ctx.store, ctx.actor, org_id, message.text)
    await state.set_state(CertInput.note)
    flow.addressee = user.id
    await flow.save(state)
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("certify.btn_no_note"), callback_data=CertNoteCD(org=org_id))
    await message.answer(_("certify.ask_note", name=user.display_name, limit=cert.NOTE_MAX),
                         reply_markup=kb.as_markup())


async def got_note(message: Message, state: FSMContext, **data: Any) -> None:
    await _send_addressed(message, state, message.text, **data)


async def no_note(query: CallbackQuery, message: Message, state: FSMContext, **data: Any) -> None:
    await _send_addressed(message, state, None, **data)


def _addressed_handlers(router: Router) -> None:
    router.callback_query.register(start, CertCD.filter(F.act == CertAction.invite_addr))
    router.message.register(got_phone, CertInput.phone, TEXT)

    router.message.register(got_note, CertInput.note, TEXT)
    router.callback_query.register(no_note, CertInput.note, CertNoteCD.filter())


async def _send_addressed(message: Message, state: FSMContext, note: str | None, *, bot: Bot, store: Store,
                          clock: Clock, settings: Settings, outbox: Outbox, i18n: I18n, actor: Actor, _: Translator,
                          **data: Any) -> None:
    flow = await AddressedData.load(state)
    if flow.addressee is None:
        await flow.expire(state)
    me = await bot.me()  # before the transaction: the link names the bot
    async with atomic(store):
        created = await cert.create_invite(store, clock, settings.secret_key, actor, flow.org, flow.addressee, note)
        await notify.invitation(outbox, i18n, actor, created, link_url(me.username or "", created))
    await state.clear()
    await send_invite(message, bot, clock, _, created)
    if created.addressee is not None:
        await message.answer(_("certify.invite_sent_to", name=created.addressee.display_name))


# -- rejecting with a reason (CERT-3, ORG-6) -------------------------------------------------------
async def reject(query: CallbackQuery, message: Message, callback_data: CertDecideCD, state: FSMContext, ctx: Ctx,
                 _: Translator) -> None:
    app = await cert.pending_for_upper(ctx.store, ctx.actor, callback_data.app)
    await ReasonData(app=app.id).begin(state, CertInput.reason)
    await message.answer(_("certify.ask_reason", org=app.lower.name, limit=cert.REASON_MAX))


async def reject_rename(query: CallbackQuery, message: Message, callback_data: RenameDecideCD, state: FSMContext,
                        ctx: Ctx, _: Translator) -> None:
    req = await renames.pending_rename_for_decider(ctx.store, ctx.actor, callback_data.req)
    await ReasonData(rename=req.id).begin(state, CertInput.reason)
    await message.answer(_("certify.ask_rename_reason", org=req.old_name, new=req.new_name,
                           limit=cert.REASON_MAX))


async def got_reason(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    flow = await ReasonData.load(state)
    if flow.app is None and flow.rename is None:
        await flow.expire(state)
    try:
        async with atomic(ctx.store):
            if flow.app is not None:
                app = await cert.decide(ctx.store, ctx.clock, ctx.actor, flow.app, False, message.text)
                await notify.decision(ctx.outbox, ctx.store, ctx.i18n, app, ctx.actor)
            elif flow.rename is not None:
                req = await renames.decide_rename(ctx.store, ctx.clock, ctx.actor, flow.rename, False, message.text)
                await notify.rename_decided(ctx.outbox, ctx.store, ctx.i18n, req, ctx.actor)
    except DomainError as exc:
        if exc.key.startswith(DECIDED):
            await state.clear()
        raise
    await state.clear()
    if flow.app is not None:
        await message.answer(_("certify.rejected", lower=app.lower.name, reason=app.reason))
    else:
        await message.answer(_("certify.rename_rejected", old=req.old_name, new=req.new_name, reason=req.reason))


def _reason_handlers(router: Router) -> None:
    router.callback_query.register(reject, CertDecideCD.filter(F.ok == 0))
    router.callback_query.register(reject_rename, RenameDecideCD.filter(F.ok == 0))

    router.message.register(got_reason, CertInput.reason, TEXT)

"""/review (WORK-3, admins): incoming manuscripts; reject with a reason, forward to the upper (certified)
organisation, or accept as final. The author is told of every step with the whole timeline."""
from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.errors import DomainError
from bot.flows.verification import RNV
from bot.i18n import Translator
from bot.middlewares import Ctx
from bot.services import manuscripts as svc
from bot.services import orgs
from bot.services.manuscripts import Decision
from bot.services.roles import Actor
from bot.services.transactions import atomic
from bot.store import Store
from bot.ui.common import NOT_COMMAND
from bot.ui.manuscripts import (
    ReviewAction,
    ReviewCD,
    ReviewReason,
    decision_pushes,
    incoming_kb,
    incoming_text,
    manuscript_text,
    review_kb,
)


async def review_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    await show_incoming(message, ctx.store, ctx.actor, _)


async def show_incoming(message: Message, store: Store, actor: Actor, _: Translator) -> None:
    """The incoming manuscripts of every organisation the actor administers (also resumed once a new
    admin verified, RNV-1)."""
    rows = await svc.incoming(store, actor)
    await message.answer(incoming_text(_, rows), reply_markup=incoming_kb(rows))


async def show_list(query: CallbackQuery, ctx: Ctx, _: Translator) -> None:
    rows = await svc.incoming(ctx.store, ctx.actor)
    if isinstance(query.message, Message):
        await query.message.edit_text(incoming_text(_, rows), reply_markup=incoming_kb(rows))


async def open_ms(query: CallbackQuery, callback_data: ReviewCD, ctx: Ctx, _: Translator) -> None:
    ms = await svc.for_reviewer(ctx.store, ctx.actor, callback_data.ms_id)
    if not isinstance(query.message, Message):
        return
    org = await orgs.get_org(ctx.store, ms.row.org_id)
    protect = bool(org and org.protect_content)
    await query.message.answer(manuscript_text(_, ctx.clock, ms), reply_markup=review_kb(_, ms),
                               protect_content=protect)
    for f in ms.files:  # as the author sent them, by Telegram's file id
        if f.kind == "photo":
            await query.message.answer_photo(f.file_id, protect_content=protect)
        else:
            await query.message.answer_document(f.file_id, protect_content=protect)


async def _decided(query: CallbackQuery, decision: Decision, _: Translator) -> None:
    row = decision.manuscript.row
    if isinstance(query.message, Message):
        await query.message.edit_text(_(f"manuscript.done_{decision.action}", id=row.id, title=row.title,
                                        org=row.org_name))


async def forward(query: CallbackQuery, callback_data: ReviewCD, ctx: Ctx, _: Translator) -> None:
    async with atomic(ctx.store):
        decision = await svc.forward(ctx.store, ctx.clock, ctx.actor, callback_data.ms_id)
        await ctx.outbox.enqueue(*decision_pushes(_.i18n, ctx.clock, decision))
    await _decided(query, decision, _)


async def accept(query: CallbackQuery, callback_data: ReviewCD, ctx: Ctx, _: Translator) -> None:
    async with atomic(ctx.store):
        decision = await svc.accept(ctx.store, ctx.clock, ctx.actor, callback_data.ms_id)
        await ctx.outbox.enqueue(*decision_pushes(_.i18n, ctx.clock, decision))
    await _decided(query, decision, _)


async def reject_ask(query: CallbackQuery, callback_data: ReviewCD, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    ms = await svc.for_reviewer(ctx.store, ctx.actor, callback_data.ms_id)
    if ms.row.status != "pending":
        raise DomainError("manuscript.decided")
    await state.set_state(ReviewReason.reason)
    await state.update_data(review_ms=ms.row.id)
    if isinstance(query.message, Message):
        await query.message.answer(_("manuscript.ask_reason", title=ms.row.title))


async def reject_got(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    ms_id = (await state.get_data()).get("review_ms")
    if ms_id is None:
        await state.clear()
        raise DomainError("manuscript.draft_lost")
    async with atomic(ctx.store):
        decision = await svc.reject(ctx.store, ctx.clock, ctx.actor, int(ms_id), message.text or "")
        await ctx.outbox.enqueue(*decision_pushes(_.i18n, ctx.clock, decision))
    await state.clear()
    row = decision.manuscript.row
    await message.answer(_("manuscript.done_rejected", id=row.id, title=row.title, org=row.org_name))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(review_cmd, Command("review"), flags={RNV: "review"})
    router.callback_query.register(show_list, ReviewCD.filter(F.action == ReviewAction.list))
    router.callback_query.register(open_ms, ReviewCD.filter(F.action == ReviewAction.open))
    router.callback_query.register(forward, ReviewCD.filter(F.action == ReviewAction.forward))
    router.callback_query.register(accept, ReviewCD.filter(F.action == ReviewAction.accept))
    router.callback_query.register(reject_ask, ReviewCD.filter(F.action == ReviewAction.reject))
    router.message.register(reject_got, ReviewReason.reason, F.text, NOT_COMMAND)
    return router

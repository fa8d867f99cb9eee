"""Creating a collective activity (WORK-2, admins): kind, title, time window, points, who may check in;
then the check-in QR code (a deep link `a_<token>`) and the code word to show at the event."""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.clock import Clock
from bot.errors import DomainError
from bot.i18n import Raw, Translator
from bot.middlewares import Ctx
from bot.render.qr import invite_qr_png
from bot.repositories.activities import ActivityRow
from bot.services import activities as svc
from bot.services import tasks as task_rules
from bot.ui.activities import (
    ActAction,
    ActCreateCD,
    ActivityCD,
    ActivityCreate,
    CreateAction,
    branches_kb,
    card_kb,
    card_text,
    kind_kb,
    preview_kb,
    target_kb,
)
from bot.ui.common import NOT_COMMAND
from bot.ui.flow_data import FlowData
from bot.ui.tasks import TARGET_KINDS


class ActivityDraft(FlowData):
    COMMAND: ClassVar[str] = "/activity"
    org_id: int
    kind: str = ""
    title: str = ""
    starts_at: str = ""
    ends_at: str = ""
    points: int = 0
    target: str = ""
    branch_ids: list[int] = []


async def send_qr(message: Message, bot: Bot, clock: Clock, _: Translator, a: ActivityRow) -> None:
    """The QR code of the check-in link and the code word, to show at the event (meant to be shared)."""
    me = await bot.me()
    url = f"https://t.me/{me.username}?start={svc.payload(a)}"
    start = datetime.fromisoformat(a.starts_at).astimezone(clock.tz).strftime("%Y-%m-%d %H:%M")
    png = invite_qr_png(url, a.title, _("activity.qr_subtitle", code=Raw(a.code_word), start=Raw(start)))
    await message.answer_photo(BufferedInputFile(png, filename=f"activity-{a.id}.png"),
                               caption=_("activity.qr_caption", title=a.title, code=a.code_word, url=url),
                               protect_content=False)


async def new_activity(query: CallbackQuery, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    if not ctx.actor.admin_org_ids or not isinstance(query.message, Message):
        raise DomainError("not_admin")
    org_id = (await state.get_data()).get("activity_org") or min(ctx.actor.admin_org_ids)
    ctx.actor.require_admin_of(int(org_id))
    await ActivityDraft(org_id=int(org_id)).begin(state, ActivityCreate.kind)
    await query.message.answer(_("activity.ask_kind"), reply_markup=kind_kb(_))


async def chose_kind(query: CallbackQuery, callback_data: ActCreateCD, state: FSMContext, _: Translator) -> None:
    draft = await ActivityDraft.load(state)
    if not 0 <= callback_data.value < len(svc.KINDS) or not isinstance(query.message, Message):
        raise DomainError("stale_button")
    draft.kind = svc.KINDS[callback_data.value]
    await draft.save(state)
    await state.set_state(ActivityCreate.title)
    await query.message.answer(_("activity.ask_title", limit=svc.MAX_TITLE))


async def got_title(message: Message, state: FSMContext, _: Translator) -> None:
    draft = await ActivityDraft.load(state)
    draft.title = svc.clean_title(message.text)
    await draft.save(state)
    await state.set_state(ActivityCreate.window)
    await message.answer(_("activity.ask_window"))


async def got_window(message: Message, state: FSMContext, clock: Clock, _: Translator) -> None:
    draft = await ActivityDraft.load(state)
    start, end = svc.parse_window(message.text or "", clock)
    draft.starts_at, draft.ends_at = start.isoformat(), end.isoformat()
    await draft.save(state)
    await state.set_state(ActivityCreate.points)
    await message.answer(_("activity.ask_points", limit=svc.MAX_POINTS))


async def got_points(message: Message, state: FSMContext, _: Translator) -> None:
    draft = await ActivityDraft.load(state)
    draft.points = svc.parse_points(message.text or "")
    await draft.save(state)
    await state.set_state(ActivityCreate.target)
    await message.answer(_("activity.ask_target"), reply_markup=target_kb(_))


async def _preview(message: Message, state: FSMContext, clock: Clock, _: Translator, draft: ActivityDraft) -> None:
    await state.set_state(ActivityCreate.preview)
    start, end = (datetime.fromisoformat(t).astimezone(clock.tz) for t in (draft.starts_at, draft.ends_at))
    window = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
    await message.answer(_("activity.preview", title=draft.title, kind=_(f"activity.kind_{draft.kind}"),
                           window=window, points=draft.points, target=_(f"task.target_{draft.target}")),
                         reply_markup=preview_kb(_))


async def chose_target(query: CallbackQuery, callback_data: ActCreateCD, state: FSMContext,
                       ctx: Ctx, _: Translator) -> None:
    draft = await ActivityDraft.load(state)
    if not 0 <= callback_data.value < len(TARGET_KINDS) or not isinstance(query.message, Message):
        raise DomainError("stale_button")
    draft.target, draft.branch_ids = TARGET_KINDS[callback_data.value], []
    await draft.save(state)
    ctx.actor.require_admin_of(draft.org_id)
    if draft.target == "branches":
        branches = await task_rules.target_branches(ctx.store, ctx.actor, draft.org_id)
        if not branches:
            raise DomainError("task.no_branches")
        await state.set_state(ActivityCreate.branches)
        await query.message.answer(_("task.ask_branches"), reply_markup=branches_kb(_, branches, set()))
        return
    await _preview(query.message, state, ctx.clock, _, draft)


async def toggle_branch(query: CallbackQuery, callback_data: ActCreateCD, state: FSMContext, ctx: Ctx,
                        _: Translator) -> None:
    draft = await ActivityDraft.load(state)
    draft.branch_ids = await task_rules.toggle_branch(ctx.store, ctx.actor, draft.org_id, draft.branch_ids,
                                                      callback_data.value)
    chosen = set(draft.branch_ids)
    await draft.save(state)
    if isinstance(query.message, Message):
        branches = await task_rules.target_branches(ctx.store, ctx.actor, draft.org_id)
        await query.message.edit_reply_markup(reply_markup=branches_kb(_, branches, chosen))


async def branches_done(query: CallbackQuery, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    draft = await ActivityDraft.load(state)
    await task_rules.make_target(ctx.store, ctx.actor, draft.org_id, "branches", draft.branch_ids)
    if isinstance(query.message, Message):
        await _preview(query.message, state, ctx.clock, _, draft)


async def create(query: CallbackQuery, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    draft = await ActivityDraft.load(state)
    target = await task_rules.make_target(ctx.store, ctx.actor, draft.org_id, draft.target, draft.branch_ids)
    activity = await svc.create(ctx.store, ctx.clock, ctx.actor, target, draft.kind, draft.title,
                                datetime.fromisoformat(draft.starts_at), datetime.fromisoformat(draft.ends_at),
                                draft.points)
    await state.clear()
    if isinstance(query.message, Message) and query.bot is not None:
        await query.message.edit_text(_("activity.created", id=activity.id))
        await query.message.answer(card_text(_, ctx.clock, activity), reply_markup=card_kb(_, activity))
        await send_qr(query.message, query.bot, ctx.clock, _, activity)


async def cancel(query: CallbackQuery, state: FSMContext, _: Translator) -> None:
    await state.clear()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("activity.cancelled"))


async def wrong_step(message: Message, _: Translator) -> None:
    await message.answer(_("task.use_buttons"))


def build_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(new_activity, ActivityCD.filter(F.action == ActAction.new))
    router.callback_query.register(chose_kind, ActCreateCD.filter(F.action == CreateAction.kind))
    router.message.register(got_title, ActivityCreate.title, F.text, NOT_COMMAND)
    router.message.register(got_window, ActivityCreate.window, F.text, NOT_COMMAND)
    router.message.register(got_points, ActivityCreate.points, F.text, NOT_COMMAND)
    router.callback_query.register(chose_target, ActCreateCD.filter(F.action == CreateAction.target))
    router.callback_query.register(toggle_branch, ActCreateCD.filter(F.action == CreateAction.branch))
    router.callback_query.register(branches_done, ActCreateCD.filter(F.action == CreateAction.branches_done))
    router.callback_query.register(create, ActCreateCD.filter(F.action == CreateAction.create))
    router.callback_query.register(cancel, ActCreateCD.filter(F.action == CreateAction.cancel))
    for step in (ActivityCreate.kind, ActivityCreate.title, ActivityCreate.window, ActivityCreate.points,
                 ActivityCreate.target, ActivityCreate.branches, ActivityCreate.preview):
        router.message.register(wrong_step, step, NOT_COMMAND)
    return router

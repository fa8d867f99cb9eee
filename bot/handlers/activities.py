"""/activity (WORK-2, admins): the activities with their attendee counts, the attendance list and its
.xlsx, the QR code again; /checkin <code word> and the QR deep link `a_<token>` for members; the member
screen's entries: mark attended, adjust points with a reason (LEARN-7), the correspondent flag (WORK-3)."""
from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.errors import DomainError
from bot.flows.activity_create import send_qr
from bot.flows.verification import RNV
from bot.i18n import Translator
from bot.middlewares import Ctx
from bot.render.excel import simple_table_xlsx
from bot.services import activities as svc
from bot.services import manuscripts as ms_rules
from bot.services import orgs, points
from bot.services.activities import CheckIn
from bot.ui.activities import (
    SHOW,
    ActAction,
    ActivityCD,
    MemberWorkAction,
    MemberWorkCD,
    PointsAdjust,
    attendance_text,
    card_kb,
    card_text,
    correspondent_kb,
    list_kb,
    list_text,
    mark_kb,
    when_text,
)
from bot.ui.common import NOT_COMMAND
from bot.ui.org import OrgPickCD, choose_org


async def _list(message: Message, state: FSMContext, ctx: Ctx, _: Translator, org_id: int, edit: bool = False
                ) -> None:
    ctx.actor.require_admin_of(org_id)
    await state.update_data(activity_org=org_id)
    items = [a for a in await svc.admin_activities(ctx.store, ctx.actor) if a.org_id == org_id]
    if edit:
        await message.edit_text(list_text(_, ctx.clock, items), reply_markup=list_kb(_, items))
    else:
        await message.answer(list_text(_, ctx.clock, items), reply_markup=list_kb(_, items))


async def activity_cmd(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    org_id = await choose_org(message, ctx.actor, ctx.store, _, purpose="activity")
    if org_id is not None:
        await _list(message, state, ctx, _, org_id)


async def open_list(message: Message, state: FSMContext, ctx: Ctx, _: Translator, org_id: int) -> None:
    """The activities of one organisation (also resumed once a new admin verified, RNV-1)."""
    await _list(message, state, ctx, _, org_id)


async def org_picked(query: CallbackQuery, callback_data: OrgPickCD, state: FSMContext,
                     ctx: Ctx, _: Translator) -> None:
    if isinstance(query.message, Message):
        await _list(query.message, state, ctx, _, callback_data.org_id)


async def show_list(query: CallbackQuery, callback_data: ActivityCD, state: FSMContext,
                    ctx: Ctx, _: Translator) -> None:
    org_id = (await state.get_data()).get("activity_org")
    if callback_data.activity_id:
        org_id = (await svc.for_admin(ctx.store, ctx.actor, callback_data.activity_id)).org_id
    if org_id is None or not isinstance(query.message, Message):
        raise DomainError("stale_button")
    await _list(query.message, state, ctx, _, int(org_id), edit=True)


async def open_activity(query: CallbackQuery, callback_data: ActivityCD, ctx: Ctx, _: Translator) -> None:
    a = await svc.for_admin(ctx.store, ctx.actor, callback_data.activity_id)
    if isinstance(query.message, Message):
        await query.message.edit_text(card_text(_, ctx.clock, a), reply_markup=card_kb(_, a))


async def attendance(query: CallbackQuery, callback_data: ActivityCD, ctx: Ctx, _: Translator) -> None:
    a, people = await svc.attendance(ctx.store, ctx.actor, callback_data.activity_id)
    if isinstance(query.message, Message):
        org = await orgs.get_org(ctx.store, a.org_id)
        await query.message.answer(attendance_text(_, ctx.clock, a, people),
                                   protect_content=bool(org and org.protect_content))


async def export(query: CallbackQuery, callback_data: ActivityCD, ctx: Ctx, _: Translator) -> None:
    a, people = await svc.attendance(ctx.store, ctx.actor, callback_data.activity_id)
    headers = [_.label("activity.col_name"), _.label("activity.col_how"), _.label("activity.col_at"),
               _.label("activity.col_points")]
    rows = [[p.name, _.label(f"activity.how_{p.how}"), when_text(ctx.clock, p.at), a.points] for p in people]
    data = simple_table_xlsx(a.title, headers, rows)
    if isinstance(query.message, Message):
        org = await orgs.get_org(ctx.store, a.org_id)
        await query.message.answer_document(
            BufferedInputFile(data, filename=f"activity-{a.id}-attendance.xlsx"),
            caption=_("activity.export_caption", title=a.title, count=len(people)),
            protect_content=bool(org and org.protect_content))  # SEC-1


async def show_qr(query: CallbackQuery, callback_data: ActivityCD, ctx: Ctx, _: Translator) -> None:
    a = await svc.for_admin(ctx.store, ctx.actor, callback_data.activity_id)
    if isinstance(query.message, Message) and query.bot is not None:
        await send_qr(query.message, query.bot, ctx.clock, _, a)


def _checked_in_text(_: Translator, done: CheckIn) -> str:
    if not done.first:
        return _("activity.checked_in_before", title=done.activity.title)
    return _("activity.checked_in", title=done.activity.title, points=done.paid)


async def checkin_cmd(message: Message, command: CommandObject, ctx: Ctx, _: Translator) -> None:
    if not command.args:
        await message.answer(_("activity.checkin_usage"))
        return
    done = await svc.check_in_by_code(ctx.store, ctx.clock, ctx.actor, command.args)
    await message.answer(_checked_in_text(_, done))


async def open_checkin(message: Message, rest: str, _: Translator, **data: Any) -> None:
    """Deep link a_<token> (the QR code at the event); also resumed after registration (REG-6)."""
    try:
        done = await svc.check_in_by_token(data["store"], data["clock"], data["actor"], rest)
    except DomainError as exc:
        await message.answer(_(f"errors.{exc.key}", **exc.params))
        return
    await message.answer(_checked_in_text(_, done))


# -- the member screen's entries ------------------------------------------------------------------
async def mark_menu(query: CallbackQuery, callback_data: MemberWorkCD, ctx: Ctx, _: Translator) -> None:
    member, items = await svc.recent_for_member(ctx.store, ctx.clock, ctx.actor, callback_data.member_id)
    if not isinstance(query.message, Message):
        return
    if not items:
        await query.message.answer(_("activity.mark_none"))
        return
    await query.message.answer(_("activity.mark_choose", name=member.name),
                               reply_markup=mark_kb(_, callback_data.member_id, items))


async def mark(query: CallbackQuery, callback_data: MemberWorkCD, ctx: Ctx, _: Translator) -> None:
    done = await svc.mark(ctx.store, ctx.clock, ctx.actor, callback_data.value, callback_data.member_id)
    if isinstance(query.message, Message):
        key = "activity.marked" if done.first else "activity.marked_before"
        await query.message.edit_text(_(key, title=done.activity.title, points=done.paid))


async def adjust_ask(query: CallbackQuery, callback_data: MemberWorkCD, state: FSMContext,
                     ctx: Ctx, _: Translator) -> None:
    member = await svc.member_for_admin(ctx.store, ctx.actor, callback_data.member_id)
    await state.set_state(PointsAdjust.amount)
    await state.update_data(adjust_member=callback_data.member_id)
    if isinstance(query.message, Message):
        await query.message.answer(_("activity.adjust_ask", name=member.name, limit=points.ADJUST_LIMIT))


async def adjust_got(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    member_id = (await state.get_data()).get("adjust_member")
    if member_id is None:
        await state.clear()
        raise DomainError("activity.draft_lost")
    amount, reason = svc.parse_adjustment(message.text or "")
    member = await svc.member_for_admin(ctx.store, ctx.actor, int(member_id))
    user_id = await svc.member_user_id(ctx.store, member)
    if user_id is None:
        raise DomainError("points.not_member")
    paid = await points.adjust(ctx.store, ctx.clock, ctx.actor, member.org_id, user_id, amount, reason,
                               idem_key=f"{message.chat.id}:{message.message_id}")
    await state.clear()
    await message.answer(_("activity.adjusted", name=member.name, amount=f"{paid:+d}", reason=reason))


async def correspondent(query: CallbackQuery, callback_data: MemberWorkCD, ctx: Ctx, _: Translator) -> None:
    member_id = callback_data.member_id
    if callback_data.value == SHOW:
        now = await ms_rules.is_correspondent(ctx.store, ctx.actor, member_id)
    else:
        now = await ms_rules.set_correspondent(ctx.store, ctx.clock, ctx.actor, member_id, bool(callback_data.value))
    member = await svc.member_for_admin(ctx.store, ctx.actor, member_id)
    if isinstance(query.message, Message):
        text = _("activity.correspondent_yes" if now else "activity.correspondent_no", name=member.name)
        if callback_data.value == SHOW:
            await query.message.answer(text, reply_markup=correspondent_kb(_, member_id, now))
        else:
            await query.message.edit_text(text, reply_markup=correspondent_kb(_, member_id, now))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(activity_cmd, Command("activity"), flags={RNV: "activity"})
    router.message.register(checkin_cmd, Command("checkin"))
    router.callback_query.register(org_picked, OrgPickCD.filter(F.purpose == "activity"))
    router.callback_query.register(show_list, ActivityCD.filter(F.action == ActAction.list))
    router.callback_query.register(open_activity, ActivityCD.filter(F.action == ActAction.open))
    router.callback_query.register(attendance, ActivityCD.filter(F.action == ActAction.attendance))
    router.callback_query.register(export, ActivityCD.filter(F.action == ActAction.export))
    router.callback_query.register(show_qr, ActivityCD.filter(F.action == ActAction.qr))
    router.callback_query.register(mark_menu, MemberWorkCD.filter(F.action == MemberWorkAction.mark_menu))
    router.callback_query.register(mark, MemberWorkCD.filter(F.action == MemberWorkAction.mark))
    router.callback_query.register(adjust_ask, MemberWorkCD.filter(F.action == MemberWorkAction.adjust))
    router.message.register(adjust_got, PointsAdjust.amount, F.text, NOT_COMMAND)
    router.callback_query.register(correspondent, MemberWorkCD.filter(F.action == MemberWorkAction.correspondent))
    return router

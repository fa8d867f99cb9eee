"""MEM-1 and MEM-2: adding one member (name → phone → [copy from another organisation] →
branch) and editing one (name, phone, branch, remove). The organisation and member ids kept
in the FSM data are checked again by the services at every step (SEC-4)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import DomainError
from bot.services import members as svc
from bot.ui.activities import member_work_buttons
from bot.ui.common import NOT_COMMAND
from bot.ui.members import (
    NONE,
    AddData,
    AddMember,
    AddStep,
    AddStepCD,
    EditData,
    EditMember,
    MemAddCD,
    MemberAction,
    MemberCD,
    MoveCD,
    branch_text,
    mark,
)

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

    from bot.i18n import Translator
    from bot.middlewares import Ctx
    from bot.services.roles import Actor
    from bot.store import Store


def copy_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("memberadd.btn_copy"), callback_data=AddStepCD(action=AddStep.copy))
    kb.button(text=_("memberadd.btn_cancel"), callback_data=AddStepCD(action=AddStep.cancel))
    return kb.as_markup()


def add_branch_kb(_: Translator, branches: list[svc.Branch]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for b in branches:
        kb.button(text=b.name, callback_data=AddStepCD(action=AddStep.branch, branch_id=b.id))
    kb.button(text=_("memberadd.btn_no_branch"), callback_data=AddStepCD(action=AddStep.branch, branch_id=NONE))
    kb.adjust(2)
    return kb.as_markup()


def move_kb(_: Translator, member: svc.Member, branches: list[svc.Branch]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for b in branches:
        if b.id != member.branch_id:
            kb.button(text=b.name, callback_data=MoveCD(member_id=member.id, branch_id=b.id))
    if member.branch_id is not None:
        kb.button(text=_("memberadd.btn_no_branch"), callback_data=MoveCD(member_id=member.id, branch_id=NONE))
    kb.adjust(2)
    return kb.as_markup()


def card_text(_: Translator, m: svc.Member) -> str:
    return _("memberedit.card", name=m.name, phone=svc.display_phone(m.phone), branch=branch_text(_, m.branch),
             mark=mark(_, m.activated))


def card_kb(_: Translator, m: svc.Member) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for action in ("name", "phone", "branch", "remove"):
        kb.button(text=_(f"memberedit.btn_{action}"),
                  callback_data=MemberCD(action=MemberAction.rm if action == "remove" else MemberAction(action),
                                         member_id=m.id))
    for text, data in member_work_buttons(_, m.id):  # WORK-2, WORK-3, LEARN-7: attended, points, correspondent
        kb.button(text=text, callback_data=data)
    kb.adjust(2)
    return kb.as_markup()


def confirm_kb(_: Translator, m: svc.Member) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("memberedit.btn_remove_yes"), callback_data=MemberCD(action=MemberAction.rm_yes, member_id=m.id))
    kb.button(text=_("memberedit.btn_remove_no"), callback_data=MemberCD(action=MemberAction.rm_no, member_id=m.id))
    return kb.as_markup()


async def _flow_org(state: FSMContext) -> int:
    return (await AddData.load(state)).mem_add_org


async def _ask_branch(message: Message, state: FSMContext, store: Store, actor: Actor, _: Translator) -> None:
    flow = await AddData.load(state)
    if flow.mem_add_name is None:
        await flow.expire(state)
    branches = await svc.branches(store, actor, flow.mem_add_org)
    await state.set_state(AddMember.branch)
    await message.answer(_("memberadd.ask_branch", name=flow.mem_add_name), reply_markup=add_branch_kb(_, branches))


def build_router() -> Router:
    router = Router(name=__name__)
    _add_flow(router)
    _edit_flow(router)
    return router


async def start_add(query: CallbackQuery, message: Message, callback_data: MemAddCD, state: FSMContext, ctx: Ctx,
                    _: Translator) -> None:
    org = await svc.org_for_admin(ctx.store, ctx.actor, callback_data.org_id)
    await state.set_state(AddMember.name)
    await AddData(mem_add_org=org.id).save(state)
    await message.answer(_("memberadd.ask_name", org=org.name))


async def add_got_name(message: Message, state: FSMContext, actor: Actor, _: Translator) -> None:
    flow = await AddData.load(state)
    actor.require_admin_of(flow.mem_add_org)
    flow.mem_add_name = svc.clean_name(message.text)
    await flow.save(state)
    name = flow.mem_add_name
    await state.set_state(AddMember.phone)
    await message.answer(_("memberadd.ask_phone", name=name))


async def add_got_phone(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    flow = await AddData.load(state)
    phone, elsewhere = await svc.check_new_phone(ctx.store, ctx.actor, flow.mem_add_org, message.text or "")
    flow.mem_add_phone = phone
    await flow.save(state)
    if elsewhere:
        await state.set_state(AddMember.copy)
        await message.answer(_("memberadd.listed_elsewhere", orgs=_("import.list_sep").join(elsewhere)),
                             reply_markup=copy_kb(_))
        return
    await _ask_branch(message, state, ctx.store, ctx.actor, _)


async def copy(query: CallbackQuery, message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    ctx.actor.require_admin_of(await _flow_org(state))
    await message.edit_reply_markup(reply_markup=None)
    await _ask_branch(message, state, ctx.store, ctx.actor, _)


async def no_copy(query: CallbackQuery, message: Message, state: FSMContext, _: Translator) -> None:
    await state.clear()
    await message.edit_text(_("memberadd.cancelled"))


async def got_branch(query: CallbackQuery, message: Message, callback_data: AddStepCD, state: FSMContext, ctx: Ctx,
                     _: Translator) -> None:
    flow = await AddData.load(state)
    branch_id = callback_data.branch_id or None
    try:
        member = await svc.add_member(ctx.store, ctx.clock, ctx.actor, flow.mem_add_org, flow.mem_add_name or "",
                                      flow.mem_add_phone or "", branch_id)
    except DomainError as exc:
        if exc.key == "mem.phone_listed":  # another admin was quicker: the flow is over
            await state.clear()
            await message.edit_reply_markup(reply_markup=None)
        raise
    await state.clear()
    await message.edit_text(_("memberadd.done", name=member.name, phone=svc.display_phone(member.phone),
                              branch=branch_text(_, member.branch), mark=mark(_, member.activated)))


async def add_wrong_kind(message: Message, _: Translator) -> None:
    await message.answer(_("memberadd.text_only"))


async def add_use_buttons(message: Message, _: Translator) -> None:
    await message.answer(_("memberadd.use_buttons"))


def _add_flow(router: Router) -> None:
    router.callback_query.register(start_add, MemAddCD.filter())
    router.message.register(add_got_name, AddMember.name, F.text, NOT_COMMAND)

    router.message.register(add_got_phone, AddMember.phone, F.text, NOT_COMMAND)
    router.callback_query.register(copy, AddMember.copy, AddStepCD.filter(F.action == AddStep.copy))

    router.callback_query.register(no_copy, AddMember.copy, AddStepCD.filter(F.action == AddStep.cancel))
    router.callback_query.register(got_branch, AddMember.branch, AddStepCD.filter(F.action == AddStep.branch))

    router.message.register(add_wrong_kind, AddMember.phone, NOT_COMMAND)
    router.message.register(add_wrong_kind, AddMember.name, NOT_COMMAND)
    router.message.register(add_use_buttons, AddMember.branch, NOT_COMMAND)
    router.message.register(add_use_buttons, AddMember.copy, NOT_COMMAND)


async def open_card(query: CallbackQuery, message: Message, callback_data: MemberCD, ctx: Ctx, _: Translator) -> None:
    m = await svc.get_member(ctx.store, ctx.actor, callback_data.member_id)
    org = await svc.org_for_admin(ctx.store, ctx.actor, m.org_id)
    await message.answer(card_text(_, m), reply_markup=card_kb(_, m), protect_content=org.protect_content)


async def ask_field(query: CallbackQuery, message: Message, callback_data: MemberCD, state: FSMContext, ctx: Ctx,
                    _: Translator) -> None:
    m = await svc.get_member(ctx.store, ctx.actor, callback_data.member_id)
    await state.set_state(EditMember.name if callback_data.action == "name" else EditMember.phone)
    await EditData(mem_edit=m.id).save(state)
    await message.answer(_(f"memberedit.ask_{callback_data.action}", name=m.name))


async def edit_got_name(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    m = await svc.rename(ctx.store, ctx.clock, ctx.actor, await _edited(state), message.text or "")
    await state.clear()
    await message.answer(_("memberedit.renamed", name=m.name))


async def edit_got_phone(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    m = await svc.change_phone(ctx.store, ctx.clock, ctx.actor, await _edited(state), message.text or "")
    await state.clear()
    await message.answer(_("memberedit.phone_changed", name=m.name, phone=svc.display_phone(m.phone),
                           mark=mark(_, m.activated)))


async def edit_wrong_kind(message: Message, _: Translator) -> None:
    await message.answer(_("memberedit.text_only"))


async def choose_branch(query: CallbackQuery, message: Message, callback_data: MemberCD, ctx: Ctx,
                        _: Translator) -> None:
    m = await svc.get_member(ctx.store, ctx.actor, callback_data.member_id)
    branches = await svc.branches(ctx.store, ctx.actor, m.org_id)
    await message.answer(_("memberedit.choose_branch", name=m.name), reply_markup=move_kb(_, m, branches))


async def moved(query: CallbackQuery, message: Message, callback_data: MoveCD, ctx: Ctx, _: Translator) -> None:
    m = await svc.move(ctx.store, ctx.clock, ctx.actor, callback_data.member_id, callback_data.branch_id or None)
    await message.edit_text(_("memberedit.moved", name=m.name, branch=branch_text(_, m.branch)))


async def confirm_remove(query: CallbackQuery, message: Message, callback_data: MemberCD, ctx: Ctx,
                         _: Translator) -> None:
    m = await svc.get_member(ctx.store, ctx.actor, callback_data.member_id)
    await message.answer(_("memberedit.confirm_remove", name=m.name, phone=svc.display_phone(m.phone)),
                         reply_markup=confirm_kb(_, m))


async def remove(query: CallbackQuery, message: Message, callback_data: MemberCD, ctx: Ctx, _: Translator) -> None:
    m = await svc.remove(ctx.store, ctx.clock, ctx.actor, callback_data.member_id)
    await message.edit_text(_("memberedit.removed", name=m.name))


async def keep(query: CallbackQuery, message: Message, callback_data: MemberCD, ctx: Ctx, _: Translator) -> None:
    await svc.get_member(ctx.store, ctx.actor, callback_data.member_id)
    await message.edit_text(_("memberedit.kept"))


def _edit_flow(router: Router) -> None:
    router.callback_query.register(open_card, MemberCD.filter(F.action == MemberAction.open))
    router.callback_query.register(ask_field, MemberCD.filter(F.action.in_({MemberAction.name, MemberAction.phone})))

    router.message.register(edit_got_name, EditMember.name, F.text, NOT_COMMAND)
    router.message.register(edit_got_phone, EditMember.phone, F.text, NOT_COMMAND)

    router.message.register(edit_wrong_kind, EditMember.phone, NOT_COMMAND)
    router.message.register(edit_wrong_kind, EditMember.name, NOT_COMMAND)
    router.callback_query.register(choose_branch, MemberCD.filter(F.action == MemberAction.branch))

    router.callback_query.register(moved, MoveCD.filter())
    router.callback_query.register(confirm_remove, MemberCD.filter(F.action == MemberAction.rm))

    router.callback_query.register(remove, MemberCD.filter(F.action == MemberAction.rm_yes))
    router.callback_query.register(keep, MemberCD.filter(F.action == MemberAction.rm_no))


async def _edited(state: FSMContext) -> int:
    return (await EditData.load(state)).mem_edit

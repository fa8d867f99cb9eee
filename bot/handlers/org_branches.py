"""ORG-3: the organisation card's branch screens (党总支 / 党支部), registered on the /org router."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import DomainError
from bot.services import orgs
from bot.ui.common import TEXT, confirm_kb
from bot.ui.org import (
    BranchAction,
    BranchCD,
    BranchNameData,
    BranchRenameData,
    OrgAction,
    OrgCD,
    OrgInput,
    back_button,
    org_label,
)

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

    from bot.i18n import Translator
    from bot.middlewares import Ctx
    from bot.models import Org
    from bot.services.roles import Actor
    from bot.store import Store


def branches_view(_: Translator, org: Org, items: list[orgs.BranchInfo]) -> tuple[str, InlineKeyboardMarkup]:
    lines = []
    for b in items:
        indent = "    " if b.parent_id else ""
        lines.append(_("branches.line", indent=indent, name=b.name, kind=_(f"branches.kind_{b.kind}"),
                       members=b.members))
    body = _.join("\n", lines) if lines else _("branches.none")
    kb = InlineKeyboardBuilder()
    for b in items:
        kb.button(text=("  └ " if b.parent_id else "") + b.name,
                  callback_data=BranchCD(act=BranchAction.view, org=org.id, br=b.id))
    kb.button(text=_.label("branches.btn_add_general"),
              callback_data=BranchCD(act=BranchAction.add, org=org.id, kind="general"))
    kb.button(text=_.label("branches.btn_add_branch"),
              callback_data=BranchCD(act=BranchAction.add, org=org.id, kind="branch"))
    back_button(kb, _, org.id)
    kb.adjust(*([1] * len(items)), 2, 1)
    return _("branches.title", org=org_label(_, org), body=body), kb.as_markup()


def branch_view(_: Translator, org_id: int, b: orgs.BranchInfo) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    if b.kind == "general":
        kb.button(text=_.label("branches.btn_add_child"),
                  callback_data=BranchCD(act=BranchAction.add, org=org_id, br=b.id, kind="branch"))
    kb.button(text=_.label("branches.btn_rename"), callback_data=BranchCD(act=BranchAction.rename, org=org_id, br=b.id))
    kb.button(text=_.label("branches.btn_delete"), callback_data=BranchCD(act=BranchAction.delete, org=org_id, br=b.id))
    back_button(kb, _, org_id, OrgAction.branches)
    kb.adjust(1)
    text = _("branches.view", name=b.name, kind=_(f"branches.kind_{b.kind}"), members=b.members,
             children=_("branches.children", count=b.children) if b.kind == "general" else "")
    return text, kb.as_markup()


async def show_branches(message: Message, store: Store, actor: Actor, _: Translator, org_id: int,
                        edit: bool) -> None:
    org, items = await orgs.branches(store, actor, org_id)
    text, kb = branches_view(_, org, items)
    if edit:
        await message.edit_text(text, reply_markup=kb)
    else:
        await message.answer(text, reply_markup=kb)


async def branches(query: CallbackQuery, message: Message, callback_data: OrgCD, state: FSMContext, ctx: Ctx,
                   _: Translator) -> None:
    await state.clear()
    await show_branches(message, ctx.store, ctx.actor, _, callback_data.org, edit=True)


async def view(query: CallbackQuery, message: Message, callback_data: BranchCD, ctx: Ctx, _: Translator) -> None:
    b = await orgs.get_branch(ctx.store, ctx.actor, callback_data.org, callback_data.br)
    text, kb = branch_view(_, callback_data.org, b)
    await message.edit_text(text, reply_markup=kb)


async def add(query: CallbackQuery, message: Message, callback_data: BranchCD, state: FSMContext, ctx: Ctx,
              _: Translator) -> None:
    org, items = await orgs.branches(ctx.store, ctx.actor, callback_data.org)
    parent = next((b for b in items if b.id == callback_data.br), None) if callback_data.br else None
    if (callback_data.br and parent is None) or callback_data.kind not in ("general", "branch"):
        raise DomainError("stale_button")  # gone since, or forged
    if parent is not None and (parent.kind != "general" or parent.parent_id is not None):
        raise DomainError("org.branch_nesting")
    await BranchNameData(org=org.id, parent=parent.id if parent else None,
                         kind=callback_data.kind).begin(state, OrgInput.branch_name)
    where = _("branches.under", parent=parent.name) if parent else _("branches.top_level")
    await message.answer(_("branches.ask_name", kind=_(f"branches.kind_{callback_data.kind}"),
                           where=where, limit=orgs.BRANCH_NAME_MAX))


async def got_name(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    flow = await BranchNameData.load(state)
    b = await orgs.add_branch(ctx.store, ctx.clock, ctx.actor, flow.org, flow.kind, message.text or "", flow.parent)
    await state.clear()
    await message.answer(_("branches.added", name=b.name, kind=_(f"branches.kind_{b.kind}")))
    await show_branches(message, ctx.store, ctx.actor, _, flow.org, edit=False)


async def rename(query: CallbackQuery, message: Message, callback_data: BranchCD, state: FSMContext, ctx: Ctx,
                 _: Translator) -> None:
    b = await orgs.get_branch(ctx.store, ctx.actor, callback_data.org, callback_data.br)
    await BranchRenameData(org=callback_data.org, branch=b.id).begin(state, OrgInput.branch_rename)
    await message.answer(_("branches.ask_rename", name=b.name, limit=orgs.BRANCH_NAME_MAX))


async def got_rename(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    flow = await BranchRenameData.load(state)
    b = await orgs.rename_branch(ctx.store, ctx.clock, ctx.actor, flow.org, flow.branch, message.text or "")
    await state.clear()
    await message.answer(_("branches.renamed", name=b.name))
    await show_branches(message, ctx.store, ctx.actor, _, flow.org, edit=False)


async def delete(query: CallbackQuery, message: Message, callback_data: BranchCD, ctx: Ctx, _: Translator) -> None:
    b = await orgs.get_branch(ctx.store, ctx.actor, callback_data.org, callback_data.br)
    children = _("branches.delete_children", count=b.children) if b.children else ""
    await message.edit_text(
        _("branches.delete_confirm", name=b.name, members=b.members, children=children),
        reply_markup=confirm_kb(_, _.label("branches.btn_delete_yes"),
                                BranchCD(act=BranchAction.delete_yes, org=callback_data.org, br=b.id),
                                BranchCD(act=BranchAction.view, org=callback_data.org, br=b.id)))


async def delete_yes(query: CallbackQuery, message: Message, callback_data: BranchCD, ctx: Ctx,
                     _: Translator) -> None:
    b = await orgs.delete_branch(ctx.store, ctx.clock, ctx.actor, callback_data.org, callback_data.br)
    await message.edit_text(_("branches.deleted", name=b.name))
    await show_branches(message, ctx.store, ctx.actor, _, callback_data.org, edit=False)


def register(router: Router) -> None:
    """ORG-3: 党总支 / 党支部, one level of nesting; names unique within the organisation."""
    router.callback_query.register(branches, OrgCD.filter(F.act == OrgAction.branches))
    router.callback_query.register(view, BranchCD.filter(F.act == BranchAction.view))

    router.callback_query.register(add, BranchCD.filter(F.act == BranchAction.add))
    router.message.register(got_name, OrgInput.branch_name, TEXT)

    router.callback_query.register(rename, BranchCD.filter(F.act == BranchAction.rename))
    router.message.register(got_rename, OrgInput.branch_rename, TEXT)

    router.callback_query.register(delete, BranchCD.filter(F.act == BranchAction.delete))
    router.callback_query.register(delete_yes, BranchCD.filter(F.act == BranchAction.delete_yes))

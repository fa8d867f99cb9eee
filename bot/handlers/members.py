"""/members (MEM-3, MEM-7): the paged member list with branch filter and search; /template
(MEM-4) and /export (MEM-5). Adding and editing live in bot/flows/member_edit.py, importing
in bot/flows/import_members.py. Buttons carry ids only; every press goes through a service
that checks the actor's role at that moment (SEC-4).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.flows.verification import RNV
from bot.render import excel
from bot.services import members as svc
from bot.ui.common import NOT_COMMAND
from bot.ui.members import (
    ALL,
    NO_BRANCH,
    MemAddCD,
    MemberAction,
    MemberCD,
    MemberSearch,
    MemFilterCD,
    MemListCD,
    MemSearchCD,
    SearchData,
    branch_text,
    mark,
    xlsx_labels,
)
from bot.ui.org import OrgPickCD, Purpose, choose_org, org_label
from bot.ui.screens import show_screen

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext

    from bot.clock import Clock
    from bot.i18n import Translator
    from bot.middlewares import Ctx
    from bot.services.roles import Actor
    from bot.store import Store


def page_text(_: Translator, p: svc.MemberPage) -> str:
    lines = [_("members.header", org=org_label(_, p.org), total=p.total, activated=p.activated,
               inactive=p.total - p.activated)]
    if p.branch_id == NO_BRANCH:
        lines.append(_("members.filter_no_branch"))
    elif p.branch:
        lines.append(_("members.filter_branch", branch=p.branch))
    if p.query:
        lines.append(_("members.filter_query", query=p.query))
    if p.branch_id is not None or p.query:
        lines.append(_("members.matching", count=p.matching))
    lines.append("")
    first = p.page * svc.PAGE_SIZE + 1
    for n, m in enumerate(p.members, first):
        lines.append(_("members.line", n=n, name=m.name, phone=svc.display_phone(m.phone),
                       branch=branch_text(_, m.branch), mark=mark(_, m.activated)))
    if not p.members:
        lines.append(_("members.empty"))
    lines.append("")
    lines.append(_("members.page", page=p.page + 1, pages=p.pages))
    return "\n".join(lines)


def page_kb(_: Translator, p: svc.MemberPage) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    first = p.page * svc.PAGE_SIZE + 1
    for n, m in enumerate(p.members, first):
        kb.button(text=_("members.btn_open", n=n, name=m.name),
                  callback_data=MemberCD(action=MemberAction.open, member_id=m.id))
    sizes = [2] * ((len(p.members) + 1) // 2)
    branch = ALL if p.branch_id is None else p.branch_id
    nav = 0
    if p.page > 0:
        kb.button(text=_("members.btn_prev"),
                  callback_data=MemListCD(org_id=p.org.id, page=p.page - 1, branch=branch, q=bool(p.query)))
        nav += 1
    if p.page + 1 < p.pages:
        kb.button(text=_("members.btn_next"),
                  callback_data=MemListCD(org_id=p.org.id, page=p.page + 1, branch=branch, q=bool(p.query)))
        nav += 1
    if nav:
        sizes.append(nav)
    kb.button(text=_("members.btn_add"), callback_data=MemAddCD(org_id=p.org.id))
    kb.button(text=_("members.btn_search"), callback_data=MemSearchCD(org_id=p.org.id))
    kb.button(text=_("members.btn_filter"), callback_data=MemFilterCD(org_id=p.org.id))
    sizes.append(3)
    if p.branch_id is not None or p.query:
        kb.button(text=_("members.btn_all"), callback_data=MemListCD(org_id=p.org.id, page=0))
        sizes.append(1)
    kb.adjust(*sizes)
    return kb.as_markup()


def filter_kb(_: Translator, org_id: int, branches: list[svc.Branch]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("members.btn_all"), callback_data=MemListCD(org_id=org_id, page=0))
    for b in branches:
        kb.button(text=b.name, callback_data=MemListCD(org_id=org_id, page=0, branch=b.id))
    kb.button(text=_("members.btn_no_branch"), callback_data=MemListCD(org_id=org_id, page=0, branch=NO_BRANCH))
    kb.adjust(1, 2)
    return kb.as_markup()


async def send_list(message: Message, store: Store, actor: Actor, _: Translator, org_id: int,
                    query: str | None = None) -> None:
    p = await svc.list_members(store, actor, org_id, query=query)
    await message.answer(page_text(_, p), reply_markup=page_kb(_, p), protect_content=p.org.protect_content)


async def send_template(message: Message, store: Store, actor: Actor, _: Translator, org_id: int) -> None:
    org = await svc.org_for_admin(store, actor, org_id)
    names = [b.name for b in await svc.branches(store, actor, org_id)]
    data = excel.member_template(xlsx_labels(_), names)
    await message.answer_document(BufferedInputFile(data, _("import.template_file")),
                                  caption=_("import.template_caption", org=org.name) + "\n" + _("export.editing_note"),
                                  protect_content=False)  # SEC-1 aside: the admin must save and fill it in


async def send_export(message: Message, store: Store, clock: Clock, actor: Actor, _: Translator,
                      org_id: int) -> None:
    result = await svc.export(store, clock, actor, org_id)
    data = excel.members_export(xlsx_labels(_), result.rows)
    await message.answer_document(
        BufferedInputFile(data, _("export.file")),
        caption=_("export.caption", org=result.org.name, count=len(result.rows), since=result.since,
                  today=result.today) + ("\n" + _("export.protected_note") if result.org.protect_content else ""),
        protect_content=result.org.protect_content)


async def members_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    org_id = await choose_org(message, ctx.actor, ctx.store, _, purpose=Purpose.members)
    if org_id is not None:
        await send_list(message, ctx.store, ctx.actor, _, org_id)


async def template_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    org_id = await choose_org(message, ctx.actor, ctx.store, _, purpose=Purpose.template)
    if org_id is not None:
        await send_template(message, ctx.store, ctx.actor, _, org_id)


async def export_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    org_id = await choose_org(message, ctx.actor, ctx.store, _, purpose=Purpose.export)
    if org_id is not None:
        await send_export(message, ctx.store, ctx.clock, ctx.actor, _, org_id)


async def picked(query: CallbackQuery, message: Message, callback_data: OrgPickCD, ctx: Ctx, _: Translator) -> None:
    if callback_data.purpose == "members":
        await send_list(message, ctx.store, ctx.actor, _, callback_data.org_id)
    elif callback_data.purpose == "template":
        await send_template(message, ctx.store, ctx.actor, _, callback_data.org_id)
    else:
        await send_export(message, ctx.store, ctx.clock, ctx.actor, _, callback_data.org_id)


async def list_page(query: CallbackQuery, message: Message, callback_data: MemListCD, state: FSMContext, ctx: Ctx,
                    _: Translator) -> None:
    text = None
    if callback_data.q:  # the search kept from the list's search step, if it is this list's
        search = await SearchData.load_kept(state)
        if search is not None and search.mem_query_org == callback_data.org_id:
            text = search.mem_query
    branch = None if callback_data.branch == ALL else callback_data.branch
    p = await svc.list_members(ctx.store, ctx.actor, callback_data.org_id, callback_data.page, branch, text)
    await show_screen(message, page_text(_, p), page_kb(_, p))


async def choose_filter(query: CallbackQuery, message: Message, callback_data: MemFilterCD, ctx: Ctx,
                        _: Translator) -> None:
    branches = await svc.branches(ctx.store, ctx.actor, callback_data.org_id)
    await message.edit_text(_("members.choose_filter"),
                            reply_markup=filter_kb(_, callback_data.org_id, branches))


async def ask_search(query: CallbackQuery, message: Message, callback_data: MemSearchCD, state: FSMContext,
                     ctx: Ctx, _: Translator) -> None:
    await svc.org_for_admin(ctx.store, ctx.actor, callback_data.org_id)
    await state.set_state(MemberSearch.text)
    await SearchData(mem_query_org=callback_data.org_id).save(state)
    await message.answer(_("members.ask_search"))


async def got_search(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    search = await SearchData.load(state)
    text, _digits = svc.search_terms(message.text)
    if text is None:
        await message.answer(_("members.search_text_only"))
        return
    await state.set_state(None)
    search.mem_query = text
    await search.save(state)
    await send_list(message, ctx.store, ctx.actor, _, search.mem_query_org, query=text)


async def search_wrong_kind(message: Message, _: Translator) -> None:
    await message.answer(_("members.search_text_only"))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(members_cmd, Command("members"), flags={RNV: "members"})
    router.message.register(template_cmd, Command("template"), flags={RNV: "template"})

    router.message.register(export_cmd, Command("export"), flags={RNV: "export"})
    router.callback_query.register(picked, OrgPickCD.filter(F.purpose.in_({"members", "template", "export"})))

    router.callback_query.register(list_page, MemListCD.filter())
    router.callback_query.register(choose_filter, MemFilterCD.filter())

    router.callback_query.register(ask_search, MemSearchCD.filter())
    router.message.register(got_search, MemberSearch.text, F.text, NOT_COMMAND)

    router.message.register(search_wrong_kind, MemberSearch.text, NOT_COMMAND)

    return router

"""/import (MEM-4): waiting for the .xlsx file → summary + the annotated rejects file → on
request, create the missing branches and import the rows that only lacked them.

The rows offered for that second step are kept in the FSM data (the file itself is not kept).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from io import BytesIO
from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Document, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import DomainError
from bot.flows import import_questions
from bot.flows.verification import RNV
from bot.i18n import Raw
from bot.render import excel
from bot.services import member_import
from bot.services import members as svc
from bot.services.transactions import atomic
from bot.ui.common import NOT_COMMAND
from bot.ui.imports import ImportAction, ImportCD, ImportMembers, MemberImportData
from bot.ui.members import all_xlsx_labels, xlsx_labels
from bot.ui.org import OrgPickCD, Purpose, choose_org

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext

    from bot.i18n import Translator
    from bot.middlewares import Ctx
    from bot.models import Org
    from bot.render.excel import RawRow, RowProblem
    from bot.services.roles import Actor
    from bot.store import Store

MAX_DOWNLOAD = 20 * 1024 * 1024  # what Telegram lets a bot download


def create_kb(_: Translator, org_id: int, count: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("import.btn_create", count=count),
              callback_data=ImportCD(action=ImportAction.create, org_id=org_id))
    return kb.as_markup()


def reason_text(_: Translator, problem: RowProblem) -> str:
    if problem.code == "bad_phone":
        return _("import.reason.bad_phone", why=_(f"import.phone.{problem.params.get('phone_code', 'empty')}"))
    return _(f"import.reason.{problem.code}", **problem.params)


MISMATCH_SHOWN = 20  # rows listed under another name, named in the message (all are in the file)


def rejects_file(_: Translator, rejected: list[tuple[RawRow, RowProblem]],
                 mismatched: Sequence[member_import.NameMismatch] = ()) -> bytes:
    rows = [(row, reason_text(_, problem)) for row, problem in rejected]
    rows += [(excel.RawRow(m.row.row_number, m.row.name, m.row.phone, m.row.branch, m.row.note),
              _.label("import.reason.name_mismatch", listed=m.listed_name)) for m in mismatched]  # a file: plain
    rows.sort(key=lambda pair: pair[0].row_number)
    return excel.rejects_workbook(xlsx_labels(_), rows)


def names_kb(_: Translator, org_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("import.btn_keep_names"),
              callback_data=ImportCD(action=ImportAction.keep_names, org_id=org_id))
    kb.button(text=_.label("import.btn_update_names"),
              callback_data=ImportCD(action=ImportAction.update_names, org_id=org_id))
    kb.adjust(1)
    return kb.as_markup()


def mismatch_text(_: Translator, mismatched: list[member_import.NameMismatch]) -> str:
    lines = [_("import.mismatch_line", row=m.row.row_number, phone=m.row.phone, listed=m.listed_name, name=m.row.name)
             for m in mismatched[:MISMATCH_SHOWN]]
    if len(mismatched) > MISMATCH_SHOWN:
        lines.append(_("import.mismatch_more", count=len(mismatched) - MISMATCH_SHOWN))
    return _("import.mismatch", count=len(mismatched), lines=Raw("\n".join(lines)))  # already HTML


async def ask_file(message: Message, state: FSMContext, store: Store, actor: Actor, _: Translator,
                   org_id: int) -> None:
    org = await svc.org_for_admin(store, actor, org_id)
    await state.set_state(ImportMembers.file)
    await MemberImportData(imp_org=org.id).save(state)
    await message.answer(_("import.ask_file", org=org.name) + "\n" + _("questions.also_questions"))


async def import_cmd(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    org_id = await choose_org(message, ctx.actor, ctx.store, _, purpose=Purpose.import_)
    if org_id is not None:
        await ask_file(message, state, ctx.store, ctx.actor, _, org_id)


async def picked(query: CallbackQuery, message: Message, callback_data: OrgPickCD, state: FSMContext, ctx: Ctx,
                 _: Translator) -> None:
    await ask_file(message, state, ctx.store, ctx.actor, _, callback_data.org_id)


async def got_file(message: Message, document: Document, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    flow = await MemberImportData.load(state)
    org = await svc.org_for_admin(ctx.store, ctx.actor, flow.imp_org)
    size = document.file_size or 0
    if size > MAX_DOWNLOAD:
        await message.answer(_("import.too_big", size=round(size / 1024 / 1024, 1),
                               limit=MAX_DOWNLOAD // 1024 // 1024))
        return
    buffer = BytesIO()
    await ctx.bot.download(document, destination=buffer)
    if await import_questions.is_question_file(buffer.getvalue(), ctx.i18n):  # LEARN-1: into the org's bank
        await import_questions.import_question_file(message, state, ctx.store, ctx.clock, ctx.i18n, ctx.actor, _,
                                                    org.id,
                                                    buffer.getvalue())
        return
    labels = xlsx_labels(_)
    done_before = flow.imp_done if flow.imp_done and flow.imp_done[0] == message.message_id else None
    try:
        # the rows and a note of their counts commit together; the step is left only after the summary
        # was sent, so the file handled again after a crash in between shows the same summary
        parsed = await member_import.parse_file(buffer.getvalue(), all_xlsx_labels(ctx.i18n))
        async with atomic(ctx.store):
            result = await member_import.import_sheet(ctx.store, ctx.clock, ctx.actor, org.id, parsed)
            if done_before is None:
                flow.imp_done = [message.message_id, result.added, result.present]
                await flow.save(state)
    except DomainError as exc:
        if exc.key == "mem.sheet.missing_columns":
            exc.params["columns"] = _("import.list_sep").join(
                labels[f"col.{c}"] for c in exc.params.get("columns", []))
        raise
    if done_before is not None:  # its rows are in already: what that first handling added
        result = replace(result, added=done_before[1], present=done_before[2])
    await report(message, _, org, result)
    await state.set_state(None)
    flow.imp_rows = member_import.pending_to_data(result.pending) if result.pending else None
    flow.imp_branches = result.new_branches or None
    flow.imp_names = member_import.mismatches_to_data(result.mismatched) if result.mismatched else None
    flow.imp_done = None
    await flow.save(state)


async def not_a_file(message: Message, _: Translator) -> None:
    await message.answer(_("import.not_document"))


async def create_branches(query: CallbackQuery, message: Message, callback_data: ImportCD, state: FSMContext,
                          ctx: Ctx, _: Translator) -> None:
    org = await svc.org_for_admin(ctx.store, ctx.actor, callback_data.org_id)
    flow = await MemberImportData.load_kept(state)
    if flow is None or flow.imp_org != org.id or not flow.imp_rows:
        raise DomainError("stale_button")  # the button of another import, or one already used
    rows = member_import.pending_from_data(flow.imp_rows)
    result = await member_import.import_rows(ctx.store, ctx.clock, ctx.actor, org.id, rows, flow.imp_branches or [])
    flow.imp_rows = flow.imp_branches = None
    await flow.save(state)
    await message.edit_reply_markup(reply_markup=None)
    sep = _("import.list_sep")
    text = (_("import.created", branches=sep.join(result.created), added=result.added, present=result.present)
            if result.created else _("import.created_none", added=result.added, present=result.present))
    await message.answer(text)


async def resolve_names(query: CallbackQuery, message: Message, callback_data: ImportCD, state: FSMContext,
                        ctx: Ctx, _: Translator) -> None:
    """Rows whose phone was listed under another name: keep the listed names, or take the file's."""
    org = await svc.org_for_admin(ctx.store, ctx.actor, callback_data.org_id)
    flow = await MemberImportData.load_kept(state)
    if flow is None or flow.imp_org != org.id or not flow.imp_names:
        raise DomainError("stale_button")  # the buttons of another import, or already decided
    changes = member_import.mismatches_from_data(flow.imp_names)
    update = callback_data.action == ImportAction.update_names
    renamed = await member_import.resolve_names(ctx.store, ctx.clock, ctx.actor, org.id, changes, update)
    flow.imp_names = None
    await flow.save(state)
    await message.edit_reply_markup(reply_markup=None)
    await message.answer(_("import.names_updated", count=renamed) if update
                         else _("import.names_kept", count=len(changes)))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(import_cmd, Command("import"), flags={RNV: "import"})
    router.callback_query.register(picked, OrgPickCD.filter(F.purpose == Purpose.import_))

    router.message.register(got_file, ImportMembers.file, F.document.as_("document"), NOT_COMMAND)
    router.message.register(not_a_file, ImportMembers.file, NOT_COMMAND)

    router.callback_query.register(create_branches, ImportCD.filter(F.action == ImportAction.create))
    router.callback_query.register(resolve_names, ImportCD.filter(F.action.in_({ImportAction.keep_names,
                                                                               ImportAction.update_names})))

    return router


async def report(message: Message, _: Translator, org: Org, result: member_import.ImportResult) -> None:
    lines = [_("import.summary", org=org.name, added=result.added, present=result.present,
               rejected=len(result.rejected))]
    if result.ignored_sheets:
        others = _("import.list_sep").join(result.ignored_sheets)
        lines.append(_("import.ignored_sheets", sheet=result.sheet, others=others))
    markup = None
    if result.pending:
        lines.append(_("import.offer_branches", count=len(result.pending),
                       branches=_("import.list_sep").join(result.new_branches)))
        markup = create_kb(_, org.id, len(result.pending))
    await message.answer("\n\n".join(lines), reply_markup=markup)
    if result.mismatched:  # not "already in the organisation": the admin decides
        await message.answer(mismatch_text(_, result.mismatched), reply_markup=names_kb(_, org.id))
    if result.rejected or result.mismatched:
        data = rejects_file(_, result.rejected, result.mismatched)
        await message.answer_document(BufferedInputFile(data, _("import.rejects_file")),
                                      caption=_("import.rejects_caption",
                                                count=len(result.rejected) + len(result.mismatched))
                                      + "\n" + _("export.editing_note"),
                                      protect_content=False)  # to be fixed in Excel and sent back (SEC-1 aside)

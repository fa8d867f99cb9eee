"""Question bank import from .xlsx (LEARN-1): /template questions, /import of a question file.

Who imports into which bank: the operator into the global bank, an admin into their
organisation's bank. `/import` of an operator who administers no organisation goes straight to
the global bank; an operator who also administers organisations picks one of them or the global
bank; `/import questions` asks only for a question file. An admin's plain `/import` stays the
member import (bot/flows/import_members.py), which recognises a question file by its header row
and hands it to `import_question_file` for that organisation's bank.
"""
from __future__ import annotations

import asyncio
from io import BytesIO
from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Document, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import DomainError, NotAllowed
from bot.flows.verification import RNV, RNV_OPERATOR_OK
from bot.i18n import I18n, Raw, Translator
from bot.render import question_sheet
from bot.services import orgs as orgs_svc
from bot.services import questions
from bot.ui.common import NOT_COMMAND
from bot.ui.imports import GLOBAL, ImportQuestions, QBankCD, QuestionImportData
from bot.ui.org import OrgPickCD, Purpose, org_label
from bot.ui.question_bank import browse_button

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext

    from bot.clock import Clock
    from bot.middlewares import Ctx
    from bot.models import Org
    from bot.render.excel import RowProblem
    from bot.render.question_sheet import QuestionRaw
    from bot.services.roles import Actor
    from bot.store import Store

MAX_DOWNLOAD = 20 * 1024 * 1024  # what Telegram lets a bot download
QUESTIONS_ARGS = frozenset({"questions", "question", "q", "题库", "题目", "试题"})
# RNV-1: a pending admin is sent to /verify first (an operator has the global bank: no need)
RNV_ORG = {RNV: "org", RNV_OPERATOR_OK: True}


def questions_arg(args: str | None) -> bool:
    return args is not None and args.strip().casefold() in QUESTIONS_ARGS


def sheet_labels(_: Translator) -> dict[str, str]:
    return question_sheet.labels_from(_)


def all_sheet_labels(i18n: I18n) -> list[dict[str, str]]:
    return [question_sheet.labels_from(i18n.translator(lang)) for lang in i18n.languages]


def bank_name(_: Translator, org: Org | None) -> str:
    return org.name if org is not None else _("questions.global_bank")


def reason_text(_: Translator, problem: RowProblem) -> str:
    # Written into a spreadsheet, not HTML: the person's own cell text goes in unescaped.
    params = {k: Raw(v) if isinstance(v, str) else v for k, v in problem.params.items()}
    if problem.code == "too_long":
        params["field"] = _(f"questions.field.{problem.params['field']}")
    return _(f"questions.reason.{problem.code}", **params)


def bank_kb(_: Translator, orgs: list[Org], with_global: bool, purpose: str) -> InlineKeyboardMarkup:
    """The banks to choose from. purpose "questions" → question import into the org's bank;
    "import" → the member import prompt (which takes question files too)."""
    kb = InlineKeyboardBuilder()
    if with_global:
        kb.button(text=_("questions.btn_global"), callback_data=QBankCD(org_id=GLOBAL))
    for org in orgs:
        data = QBankCD(org_id=org.id) if purpose == "questions" else OrgPickCD(purpose=Purpose.import_, org_id=org.id)
        kb.button(text=org_label(_, org), callback_data=data)
    kb.adjust(1)
    return kb.as_markup()


async def is_question_file(data: bytes, i18n: I18n) -> bool:
    """Whether an upload is a question sheet (read off the event loop; never raises)."""
    return await asyncio.to_thread(question_sheet.looks_like_questions, data, all_sheet_labels(i18n))


async def send_template(message: Message, actor: Actor, _: Translator) -> None:
    if not questions.bank_choices(actor):
        raise NotAllowed("questions.no_bank")
    examples = [row._replace(kind=_(f"questions.kind.{questions.parse_kind(row.kind)}"))
                for row in questions.example_rows()]
    data = question_sheet.question_template(sheet_labels(_), examples)
    await message.answer_document(BufferedInputFile(data, _("questions.template_file")),
                                  caption=_("questions.template_caption"))


async def choose_bank(message: Message, state: FSMContext, store: Store, actor: Actor, _: Translator,
                      purpose: str) -> None:
    banks = questions.bank_choices(actor)
    if not banks:
        raise NotAllowed("questions.no_bank")
    if len(banks) == 1:
        await ask_file(message, state, store, actor, _, banks[0] or GLOBAL)
        return
    orgs = await orgs_svc.orgs_by_ids(store, frozenset(b for b in banks if b is not None))
    text = _("questions.choose_bank") if purpose == "questions" else _("questions.choose_target")
    await message.answer(text, reply_markup=bank_kb(_, orgs, actor.is_operator, purpose))


async def ask_file(message: Message, state: FSMContext, store: Store, actor: Actor, _: Translator,
                   bank: int) -> None:
    org, size = await questions.bank_info(store, actor, bank or None)
    await state.set_state(ImportQuestions.file)
    await QuestionImportData(qimp_bank=bank).save(state)
    kb = InlineKeyboardBuilder()
    browse_button(kb, _, bank or None, new=True)
    await message.answer(_("questions.ask_file", bank=bank_name(_, org), size=size), reply_markup=kb.as_markup())


async def import_question_file(message: Message, state: FSMContext, store: Store, clock: Clock, i18n: I18n,
                               actor: Actor, _: Translator, bank: int, data: bytes) -> None:
    """Imports an uploaded question sheet into `bank` (GLOBAL or an organisation) and reports."""
    org = await questions.check_bank(store, actor, bank or None)
    try:
        result = await questions.import_file(store, clock, actor, bank or None, data, all_sheet_labels(i18n))
    except DomainError as exc:
        if exc.key == "questions.sheet.missing_columns":
            labels = sheet_labels(_)
            exc.params["columns"] = _("questions.list_sep").join(
                labels[f"col.{c}"] for c in exc.params.get("columns", []))
        raise
    await state.set_state(None)
    await report(message, _, org, result)


async def report(message: Message, _: Translator, org: Org | None, result: questions.ImportResult) -> None:
    lines = [_("questions.summary", bank=bank_name(_, org), added=result.added, present=result.present,
               rejected=len(result.rejected), size=result.bank_size)]
    if result.updated:
        lines[0] += "\n" + _("questions.summary_updated", updated=result.updated)
    if result.ignored_sheets:
        lines.append(_("questions.ignored_sheets", sheet=result.sheet,
                       others=_("questions.list_sep").join(result.ignored_sheets)))
    kb = InlineKeyboardBuilder()
    browse_button(kb, _, org.id if org else None, new=True)
    await message.answer("\n\n".join(lines), reply_markup=kb.as_markup())
    if result.rejected:
        rows: list[tuple[QuestionRaw, str]] = [(row, reason_text(_, p)) for row, p in result.rejected]
        data = question_sheet.rejects_workbook(sheet_labels(_), rows)
        await message.answer_document(BufferedInputFile(data, _("questions.rejects_file")),
                                      caption=_("questions.rejects_caption", count=len(result.rejected)),
                                      protect_content=org.protect_content if org else False)


async def _operator(message: Message, actor: Actor | None = None) -> bool:
    return actor is not None and actor.is_operator


async def template_cmd(message: Message, actor: Actor, _: Translator) -> None:
    await send_template(message, actor, _)


async def import_questions_cmd(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    await choose_bank(message, state, ctx.store, ctx.actor, _, purpose="questions")


async def operator_import_cmd(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    await choose_bank(message, state, ctx.store, ctx.actor, _, purpose="import")


async def picked(query: CallbackQuery, message: Message, callback_data: QBankCD, state: FSMContext, ctx: Ctx,
                 _: Translator) -> None:
    await ask_file(message, state, ctx.store, ctx.actor, _, callback_data.org_id)


async def got_file(message: Message, document: Document, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    bank = (await QuestionImportData.load(state)).qimp_bank
    await questions.check_bank(ctx.store, ctx.actor, bank or None)
    size = document.file_size or 0
    if size > MAX_DOWNLOAD:
        await message.answer(_("questions.too_big", size=round(size / 1024 / 1024, 1),
                               limit=MAX_DOWNLOAD // 1024 // 1024))
        return
    buffer = BytesIO()
    await ctx.bot.download(document, destination=buffer)
    await import_question_file(message, state, ctx.store, ctx.clock, ctx.i18n, ctx.actor, _, bank,
                               buffer.getvalue())


async def not_a_file(message: Message, _: Translator) -> None:
    await message.answer(_("questions.not_document"))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(template_cmd, Command("template", magic=F.args.func(questions_arg)), flags=RNV_ORG)
    router.message.register(import_questions_cmd, Command("import", magic=F.args.func(questions_arg)), flags=RNV_ORG)

    router.message.register(operator_import_cmd, Command("import"), _operator)
    router.callback_query.register(picked, QBankCD.filter())

    router.message.register(got_file, ImportQuestions.file, F.document.as_("document"), NOT_COMMAND)
    router.message.register(not_a_file, ImportQuestions.file, NOT_COMMAND)

    return router

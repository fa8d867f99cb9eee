"""/manuscript (WORK-3, correspondents): my manuscripts with their timelines; a new one: title, text,
attachments (photos, documents within Telegram's 20 MB download limit), column (栏目), then submitted
to the organisation (its admins are told through the outbox)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.errors import DomainError
from bot.i18n import Raw, Translator
from bot.middlewares import Ctx
from bot.repositories.manuscripts import Attachment
from bot.services import attachments, rate_limits
from bot.services import manuscripts as svc
from bot.services.transactions import atomic
from bot.ui.common import NOT_COMMAND, downloaded
from bot.ui.flow_data import FlowData
from bot.ui.manuscripts import (
    ManuscriptSubmit,
    MsAction,
    MsCD,
    files_kb,
    manuscript_text,
    mine_kb,
    mine_text,
    orgs_kb,
    preview_kb,
    submitted_pushes,
)


class ManuscriptDraft(FlowData):
    COMMAND: ClassVar[str] = "/manuscript"
    org_id: int
    title: str = ""
    body: str = ""
    column: str = ""
    files: list[dict[str, Any]] = []

    def attachments(self) -> list[Attachment]:
        return [Attachment(f["kind"], f["file_id"], f.get("file_name"), f.get("file_size")) for f in self.files]


async def manuscript_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    await svc.submit_orgs(ctx.store, ctx.actor)  # correspondents only
    rows = await svc.mine(ctx.store, ctx.actor)
    await message.answer(mine_text(_, rows), reply_markup=mine_kb(_, rows))


async def _begin(message: Message, state: FSMContext, _: Translator, org_id: int) -> None:
    await ManuscriptDraft(org_id=org_id).begin(state, ManuscriptSubmit.title)
    await message.answer(_("manuscript.ask_title", limit=svc.MAX_TITLE))


async def new(query: CallbackQuery, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    orgs = await svc.submit_orgs(ctx.store, ctx.actor)
    await rate_limits.check(ctx.store, ctx.clock, ctx.actor, rate_limits.MANUSCRIPT)  # before they type it all
    if not isinstance(query.message, Message):
        return
    if len(orgs) == 1:
        await _begin(query.message, state, _, orgs[0].org_id)
    else:
        await query.message.answer(_("manuscript.ask_org"), reply_markup=orgs_kb(orgs))


async def chose_org(query: CallbackQuery, callback_data: MsCD, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    if callback_data.value not in {o.org_id for o in await svc.submit_orgs(ctx.store, ctx.actor)}:
        raise DomainError("stale_button")
    if isinstance(query.message, Message):
        await _begin(query.message, state, _, callback_data.value)


async def got_title(message: Message, state: FSMContext, _: Translator) -> None:
    draft = await ManuscriptDraft.load(state)
    draft.title = svc.clean_title(message.text)
    await draft.save(state)
    await state.set_state(ManuscriptSubmit.body)
    await message.answer(_("manuscript.ask_body", limit=svc.MAX_BODY))


async def got_body(message: Message, state: FSMContext, _: Translator) -> None:
    draft = await ManuscriptDraft.load(state)
    draft.body = svc.clean_body(message.html_text)  # as typed (escaped), with the entities they used
    await draft.save(state)
    await state.set_state(ManuscriptSubmit.files)
    await message.answer(_("manuscript.ask_files", limit=svc.MAX_FILES, mb=svc.DOWNLOAD_LIMIT // 1024 // 1024),
                         reply_markup=files_kb(_))


async def got_file(message: Message, state: FSMContext, _: Translator) -> None:
    draft = await ManuscriptDraft.load(state)
    if message.photo:
        p = message.photo[-1]
        found = svc.check_attachment("photo", p.file_id, None, p.file_size, len(draft.files))
    elif message.document:
        d = message.document
        found = svc.check_attachment("document", d.file_id, d.file_name, d.file_size, len(draft.files))
        attachments.check_content(d.file_name, await downloaded(message.bot, d.file_id))
    else:
        await message.answer(_("manuscript.files_expected"), reply_markup=files_kb(_))
        return
    draft.files.append(asdict(found))
    await draft.save(state)
    await message.answer(_("manuscript.file_added", count=len(draft.files)), reply_markup=files_kb(_))


async def done_files(query: CallbackQuery, state: FSMContext, _: Translator) -> None:
    await ManuscriptDraft.load(state)
    await state.set_state(ManuscriptSubmit.column)
    if isinstance(query.message, Message):
        await query.message.answer(_("manuscript.ask_column", limit=svc.MAX_COLUMN))


async def got_column(message: Message, state: FSMContext, _: Translator) -> None:
    draft = await ManuscriptDraft.load(state)
    draft.column = svc.clean_column(message.text)
    await draft.save(state)
    await state.set_state(ManuscriptSubmit.preview)
    await message.answer(_("manuscript.preview", title=draft.title, column=draft.column, files=len(draft.files),
                           body=Raw(draft.body)), reply_markup=preview_kb(_))


async def submit(query: CallbackQuery, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    draft = await ManuscriptDraft.load(state)
    async with atomic(ctx.store):
        done = await svc.submit(ctx.store, ctx.clock, ctx.actor, draft.org_id, draft.title, draft.body,
                                draft.column, draft.attachments())
        await ctx.outbox.enqueue(*submitted_pushes(_.i18n, done))
    await state.clear()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("manuscript.submitted", id=done.manuscript.row.id,
                                        org=done.manuscript.row.org_name))


async def cancel(query: CallbackQuery, state: FSMContext, _: Translator) -> None:
    await state.clear()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("manuscript.cancelled"))


async def show_mine(query: CallbackQuery, callback_data: MsCD, ctx: Ctx, _: Translator) -> None:
    ms = await svc.for_author(ctx.store, ctx.actor, callback_data.value)
    if isinstance(query.message, Message):
        await query.message.answer(manuscript_text(_, ctx.clock, ms, with_body=False))


async def text_expected(message: Message, _: Translator) -> None:
    await message.answer(_("manuscript.text_expected"))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(manuscript_cmd, Command("manuscript"))
    router.callback_query.register(new, MsCD.filter(F.action == MsAction.new))
    router.callback_query.register(chose_org, MsCD.filter(F.action == MsAction.org))
    router.callback_query.register(show_mine, MsCD.filter(F.action == MsAction.mine))
    router.message.register(got_title, ManuscriptSubmit.title, F.text, NOT_COMMAND)
    router.message.register(got_body, ManuscriptSubmit.body, F.text, NOT_COMMAND)
    router.message.register(got_file, ManuscriptSubmit.files, NOT_COMMAND)
    router.callback_query.register(done_files, MsCD.filter(F.action == MsAction.done_files))
    router.message.register(got_column, ManuscriptSubmit.column, F.text, NOT_COMMAND)
    router.callback_query.register(submit, MsCD.filter(F.action == MsAction.submit))
    router.callback_query.register(cancel, MsCD.filter(F.action == MsAction.cancel))
    for step in (ManuscriptSubmit.title, ManuscriptSubmit.body, ManuscriptSubmit.column, ManuscriptSubmit.preview):
        router.message.register(text_expected, step, NOT_COMMAND)
    return router

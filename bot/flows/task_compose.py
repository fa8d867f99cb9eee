"""/task (WORK-1, admins): text (or a photo/file with a caption), target (the whole subtree, this
organisation only, chosen branches), optional deadline, confirmation on/off, a preview with how many
people it reaches, then sending through the outbox (protect_content per the organisation's setting)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.clock import Clock
from bot.errors import DomainError
from bot.flows.verification import RNV
from bot.i18n import Translator
from bot.middlewares import Ctx
from bot.repositories.tasks import Target
from bot.services import attachments, rate_limits
from bot.services import manuscripts as ms_rules
from bot.services import tasks as svc
from bot.services.roles import Actor
from bot.services.transactions import atomic
from bot.ui.common import NOT_COMMAND, downloaded
from bot.ui.flow_data import FlowData
from bot.ui.org import OrgPickCD, choose_org
from bot.ui.tasks import (
    TARGET_KINDS,
    ComposeAction,
    ComposeCD,
    TaskCompose,
    branches_kb,
    deadline_kb,
    needs_confirm_kb,
    notice_pushes,
    preview_kb,
    preview_text,
    target_kb,
)


class TaskDraft(FlowData):
    COMMAND: ClassVar[str] = "/task"
    org_id: int
    body: str = ""
    file_kind: str | None = None
    file_id: str | None = None
    file_name: str | None = None
    target: str = ""
    branch_ids: list[int] = []
    deadline: str | None = None
    needs_confirm: bool = False

    def target_of(self) -> Target:
        return Target(self.target, self.org_id, tuple(self.branch_ids))

    def deadline_at(self) -> datetime | None:
        return datetime.fromisoformat(self.deadline) if self.deadline else None


async def begin(message: Message, state: FSMContext, actor: Actor, _: Translator, org_id: int) -> None:
    """The flow for one organisation (also resumed once a new admin verified, RNV-1)."""
    actor.require_admin_of(org_id)
    await TaskDraft(org_id=org_id).begin(state, TaskCompose.body)
    await message.answer(_("task.ask_body", limit=svc.MAX_BODY))


async def task_cmd(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    await rate_limits.check(ctx.store, ctx.clock, ctx.actor, rate_limits.TASK)  # before they write it
    org_id = await choose_org(message, ctx.actor, ctx.store, _, purpose="task")
    if org_id is not None:
        await begin(message, state, ctx.actor, _, org_id)


async def org_picked(query: CallbackQuery, callback_data: OrgPickCD, state: FSMContext, actor: Actor,
                     _: Translator) -> None:
    if isinstance(query.message, Message):
        await begin(query.message, state, actor, _, callback_data.org_id)


async def got_body(message: Message, state: FSMContext, _: Translator) -> None:
    draft = await TaskDraft.load(state)
    if message.photo:
        draft.file_kind, draft.file_id, draft.file_name = "photo", message.photo[-1].file_id, "photo.jpg"
    elif message.document:
        ms_rules.check_attachment("document", message.document.file_id, message.document.file_name,
                                  message.document.file_size, 0)  # the bot must download it: 20 MB
        attachments.check_content(message.document.file_name, await downloaded(message.bot, message.document.file_id))
        draft.file_kind, draft.file_id = "document", message.document.file_id
        draft.file_name = message.document.file_name or "file"
    draft.body = svc.clean_body(message.html_text)  # as typed (escaped), with the entities they used
    await draft.save(state)
    await state.set_state(TaskCompose.target)
    await message.answer(_("task.ask_target"), reply_markup=target_kb(_))


async def body_expected(message: Message, _: Translator) -> None:
    await message.answer(_("task.body_expected"))


async def _ask_deadline(message: Message, state: FSMContext, _: Translator) -> None:
    await state.set_state(TaskCompose.deadline)
    await message.answer(_("task.ask_deadline"), reply_markup=deadline_kb(_))


async def chose_target(query: CallbackQuery, callback_data: ComposeCD, state: FSMContext,
                       ctx: Ctx, _: Translator) -> None:
    draft = await TaskDraft.load(state)
    if not isinstance(query.message, Message) or not 0 <= callback_data.value < len(TARGET_KINDS):
        raise DomainError("stale_button")
    draft.target, draft.branch_ids = TARGET_KINDS[callback_data.value], []
    await draft.save(state)
    if draft.target == "branches":
        branches = await svc.target_branches(ctx.store, ctx.actor, draft.org_id)
        ctx.actor.require_admin_of(draft.org_id)
        if not branches:
            raise DomainError("task.no_branches")
        await state.set_state(TaskCompose.branches)
        await query.message.answer(_("task.ask_branches"), reply_markup=branches_kb(_, branches, set()))
        return
    await svc.reach(ctx.store, ctx.actor, await svc.make_target(ctx.store, ctx.actor, draft.org_id, draft.target))
    await _ask_deadline(query.message, state, _)


async def toggle_branch(query: CallbackQuery, callback_data: ComposeCD, state: FSMContext, ctx: Ctx,
                        _: Translator) -> None:
    draft = await TaskDraft.load(state)
    draft.branch_ids = await svc.toggle_branch(ctx.store, ctx.actor, draft.org_id, draft.branch_ids,
                                               callback_data.value)
    chosen = set(draft.branch_ids)
    await draft.save(state)
    if isinstance(query.message, Message):
        branches = await svc.target_branches(ctx.store, ctx.actor, draft.org_id)
        await query.message.edit_reply_markup(reply_markup=branches_kb(_, branches, chosen))


async def branches_done(query: CallbackQuery, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    draft = await TaskDraft.load(state)
    target = await svc.make_target(ctx.store, ctx.actor, draft.org_id, "branches", draft.branch_ids)
    await svc.reach(ctx.store, ctx.actor, target)
    if isinstance(query.message, Message):
        await _ask_deadline(query.message, state, _)


async def _ask_confirm(message: Message, state: FSMContext, _: Translator) -> None:
    await state.set_state(TaskCompose.confirm)
    await message.answer(_("task.ask_confirm"), reply_markup=needs_confirm_kb(_))


async def got_deadline(message: Message, state: FSMContext, clock: Clock, _: Translator) -> None:
    draft = await TaskDraft.load(state)
    draft.deadline = svc.parse_deadline(message.text or "", clock).isoformat()
    await draft.save(state)
    await _ask_confirm(message, state, _)


async def no_deadline(query: CallbackQuery, state: FSMContext, _: Translator) -> None:
    draft = await TaskDraft.load(state)
    draft.deadline = None
    await draft.save(state)
    if isinstance(query.message, Message):
        await _ask_confirm(query.message, state, _)


async def chose_confirm(query: CallbackQuery, callback_data: ComposeCD, state: FSMContext,
                        ctx: Ctx, _: Translator) -> None:
    draft = await TaskDraft.load(state)
    draft.needs_confirm = bool(callback_data.value)
    await draft.save(state)
    target = await svc.make_target(ctx.store, ctx.actor, draft.org_id, draft.target, draft.branch_ids)
    found = await svc.reach(ctx.store, ctx.actor, target)
    await state.set_state(TaskCompose.preview)
    if isinstance(query.message, Message):
        text = preview_text(_, ctx.clock, draft.body, _(f"task.target_{draft.target}"), draft.deadline_at(),
                            draft.needs_confirm, found.users, found.members, draft.file_name)
        await query.message.answer(text, reply_markup=preview_kb(_))


def request_key(query: CallbackQuery) -> str | None:
    """The press's preview message: the same press handled again after a crash (between the task's
    commit and the state's clearing) finds the task it sent instead of sending a second one."""
    message = query.message
    return f"{message.chat.id}:{message.message_id}" if message is not None else None


async def send(query: CallbackQuery, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    key = request_key(query)
    # the same press handled again after a crash: the task it sent, whether or not the draft was cleared
    sent = await svc.sent_before(ctx.store, key) if key is not None else None
    if sent is None:
        draft = await TaskDraft.load(state)
        data = None
        if draft.file_id and query.bot is not None:
            buffer = await query.bot.download(draft.file_id)
            data = buffer.read() if buffer else None
        target = await svc.make_target(ctx.store, ctx.actor, draft.org_id, draft.target, draft.branch_ids)
        async with atomic(ctx.store):
            sent = await svc.send_task(ctx.store, ctx.clock, ctx.actor, target, draft.body,
                                       file_kind=draft.file_kind if data else None,
                                       file_name=draft.file_name if data else None, deadline=draft.deadline_at(),
                                       needs_confirm=draft.needs_confirm,
                                       remind_before=timedelta(minutes=ctx.settings.task_remind_minutes),
                                       request_key=key)
            await ctx.outbox.enqueue(*notice_pushes(_.i18n, ctx.clock, sent, data))
    await state.clear()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("task.sent", id=sent.task.id, count=len(sent.recipients)))


async def cancel(query: CallbackQuery, state: FSMContext, _: Translator) -> None:
    await state.clear()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("task.cancelled"))


async def wrong_step(message: Message, _: Translator) -> None:
    await message.answer(_("task.use_buttons"))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(task_cmd, Command("task"), flags={RNV: "task"})
    router.callback_query.register(org_picked, OrgPickCD.filter(F.purpose == "task"))
    router.message.register(got_body, TaskCompose.body, NOT_COMMAND, F.text | F.photo | F.document)
    router.message.register(body_expected, TaskCompose.body, NOT_COMMAND)
    router.callback_query.register(chose_target, ComposeCD.filter(F.action == ComposeAction.target))
    router.callback_query.register(toggle_branch, ComposeCD.filter(F.action == ComposeAction.branch))
    router.callback_query.register(branches_done, ComposeCD.filter(F.action == ComposeAction.branches_done))
    router.message.register(got_deadline, TaskCompose.deadline, F.text, NOT_COMMAND)
    router.callback_query.register(no_deadline, ComposeCD.filter(F.action == ComposeAction.no_deadline))
    router.callback_query.register(chose_confirm, ComposeCD.filter(F.action == ComposeAction.needs_confirm))
    router.callback_query.register(send, ComposeCD.filter(F.action == ComposeAction.send))
    router.callback_query.register(cancel, ComposeCD.filter(F.action == ComposeAction.cancel))
    router.message.register(wrong_step, TaskCompose.target, NOT_COMMAND)
    router.message.register(wrong_step, TaskCompose.branches, NOT_COMMAND)
    router.message.register(wrong_step, TaskCompose.confirm, NOT_COMMAND)
    router.message.register(wrong_step, TaskCompose.preview, NOT_COMMAND)
    router.message.register(wrong_step, TaskCompose.deadline, NOT_COMMAND)
    return router

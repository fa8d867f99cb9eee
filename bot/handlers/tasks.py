"""/tasks (WORK-1): a member's open tasks (confirm from there); an admin's tasks with delivered /
confirmed / pending / unreachable, the pending names (paged), "remind the pending", withdraw.
Also the automatic reminder before the deadline, run by the sweep of due work (registered in bot/app.py)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.clock import Clock
from bot.i18n import I18n, Translator
from bot.middlewares import Ctx
from bot.outbox import Outbox
from bot.services import tasks as svc
from bot.services.transactions import atomic
from bot.store import Store
from bot.ui.tasks import (
    TaskAction,
    TaskCD,
    admin_list_kb,
    admin_list_text,
    mine_kb,
    mine_text,
    reminder_pushes,
    view_kb,
    view_text,
    withdraw_kb,
)


async def _show(query: CallbackQuery, text: str, markup: Any = None) -> None:
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)


async def tasks_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    if ctx.actor.admin_org_ids:
        tasks = await svc.admin_tasks(ctx.store, ctx.actor)
        await message.answer(admin_list_text(_, ctx.clock, tasks), reply_markup=admin_list_kb(_, tasks))
        return
    mine = await svc.my_tasks(ctx.store, ctx.actor)
    await message.answer(mine_text(_, ctx.clock, mine), reply_markup=mine_kb(_, mine))


async def show_mine(query: CallbackQuery, ctx: Ctx, _: Translator) -> None:
    mine = await svc.my_tasks(ctx.store, ctx.actor)
    await _show(query, mine_text(_, ctx.clock, mine), mine_kb(_, mine))


async def show_admin(query: CallbackQuery, ctx: Ctx, _: Translator) -> None:
    tasks = await svc.admin_tasks(ctx.store, ctx.actor)
    await _show(query, admin_list_text(_, ctx.clock, tasks), admin_list_kb(_, tasks))


async def confirm(query: CallbackQuery, callback_data: TaskCD, callback_answer: CallbackAnswer, ctx: Ctx,
                  _: Translator) -> None:
    done = await svc.confirm(ctx.store, ctx.clock, ctx.actor, callback_data.task_id)
    callback_answer.text = _.label("task.confirmed" if done.first else "task.already_confirmed")
    if done.first and isinstance(query.message, Message):
        await query.message.answer(_("task.confirmed_note", id=done.task.id, org=done.task.org_name))


async def open_task(query: CallbackQuery, callback_data: TaskCD, ctx: Ctx, _: Translator) -> None:
    view = await svc.task_view(ctx.store, ctx.actor, callback_data.task_id, callback_data.page)
    await _show(query, view_text(_, ctx.clock, view), view_kb(_, view))


async def remind(query: CallbackQuery, callback_data: TaskCD, callback_answer: CallbackAnswer,
                 ctx: Ctx, _: Translator) -> None:
    async with atomic(ctx.store):
        reminder = await svc.remind_pending(ctx.store, ctx.clock, ctx.actor, callback_data.task_id)
        await ctx.outbox.enqueue(*reminder_pushes(_.i18n, ctx.clock, reminder))
    callback_answer.text = _.label("task.reminded", count=len(reminder.recipients))
    if isinstance(query.message, Message):
        await query.message.answer(_("task.reminded", count=len(reminder.recipients)))


async def withdraw(query: CallbackQuery, callback_data: TaskCD, ctx: Ctx, _: Translator) -> None:
    view = await svc.task_view(ctx.store, ctx.actor, callback_data.task_id)
    await _show(query, _("task.withdraw_ask", id=view.task.id), withdraw_kb(_, view.task.id))


async def withdraw_yes(query: CallbackQuery, callback_data: TaskCD, ctx: Ctx, _: Translator) -> None:
    task = await svc.withdraw(ctx.store, ctx.clock, ctx.actor, callback_data.task_id)
    view = await svc.task_view(ctx.store, ctx.actor, task.id)
    await _show(query, _("task.withdrawn_done", id=task.id) + "\n\n" + view_text(_, ctx.clock, view), view_kb(_, view))


def due_reminder_handler(store: Store, clock: Clock, i18n: I18n, outbox: Outbox
                         ) -> Callable[[Any, datetime], Awaitable[None]]:
    """The sweep's handler for "task_remind" rows (ref 'task:<id>'): the pending get the reminder once.
    The pushes are written in one transaction with the pending list they are built from; the sweep
    marks the row done afterwards, so a crash in between runs it again, and the pushes' dedupe keys
    make that second run add nothing (idempotent by dedupe key)."""

    async def run(item: Any, _now: datetime) -> None:
        kind, _sep, task_id = str(item.ref).partition(":")
        if kind != "task" or not task_id.isdigit():
            return
        async with atomic(store):
            reminder = await svc.due_reminder(store, int(task_id), clock.now())
            if reminder is not None:
                await outbox.enqueue(*reminder_pushes(i18n, clock, reminder))

    return run


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(tasks_cmd, Command("tasks"))
    router.callback_query.register(show_mine, TaskCD.filter(F.action == TaskAction.mine))
    router.callback_query.register(show_admin, TaskCD.filter(F.action == TaskAction.admin))
    router.callback_query.register(confirm, TaskCD.filter(F.action == TaskAction.confirm))
    router.callback_query.register(open_task, TaskCD.filter(F.action.in_({TaskAction.open, TaskAction.page})))
    router.callback_query.register(remind, TaskCD.filter(F.action == TaskAction.remind))
    router.callback_query.register(withdraw, TaskCD.filter(F.action == TaskAction.withdraw))
    router.callback_query.register(withdraw_yes, TaskCD.filter(F.action == TaskAction.withdraw_yes))
    return router

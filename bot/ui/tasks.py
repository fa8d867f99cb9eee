"""Task notices (WORK-1): callback data, the compose flow's states, keyboards, texts and the pushes."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.clock import Clock
from bot.i18n import I18n, Translator, plain
from bot.outbox import file_push, text_push
from bot.repositories.orgs import BranchRow
from bot.repositories.tasks import MyTask, Recipient, TaskRow, task_push_key
from bot.services.tasks import Reminder, SentTask, TaskView, deadline_of


class TaskAction(StrEnum):
    confirm = "c"
    open = "o"
    page = "p"
    remind = "r"
    withdraw = "w"
    withdraw_yes = "wy"
    mine = "m"
    admin = "a"


class TaskCD(CallbackData, prefix="tk"):
    action: TaskAction
    task_id: int = 0
    page: int = 0


class ComposeAction(StrEnum):
    target = "t"        # value: 0 subtree, 1 org, 2 branches
    branch = "b"        # value: branch id (toggle)
    branches_done = "bd"
    no_deadline = "nd"
    needs_confirm = "nc"  # value: 1 yes, 0 no
    send = "s"
    cancel = "x"


class ComposeCD(CallbackData, prefix="tkc"):
    action: ComposeAction
    value: int = 0


class TaskCompose(StatesGroup):
    body = State()
    target = State()
    branches = State()
    deadline = State()
    confirm = State()
    preview = State()


TARGET_KINDS = ("subtree", "org", "branches")


def when_text(clock: Clock, when: datetime | None) -> str:
    return when.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M") if when else ""


def target_picker_kb(_: Translator, pick: Callable[[int], CallbackData],
                     cancel: CallbackData | None = None) -> InlineKeyboardMarkup:
    """Who a notice or an activity is for (WORK-1, 2): `pick(index in TARGET_KINDS)` is each button's data."""
    kb = InlineKeyboardBuilder()
    for value, kind in enumerate(TARGET_KINDS):
        kb.button(text=_.label(f"task.btn_target_{kind}"), callback_data=pick(value))
    if cancel is not None:
        kb.button(text=_.label("task.btn_cancel"), callback_data=cancel)
    kb.adjust(1)
    return kb.as_markup()


def branch_picker_kb(_: Translator, branches: Sequence[BranchRow], chosen: set[int],
                     pick: Callable[[int], CallbackData], done: CallbackData) -> InlineKeyboardMarkup:
    """The branches to tick (☑️ chosen), then done: `pick(branch id)` is each button's data."""
    kb = InlineKeyboardBuilder()
    for b in branches:
        kb.button(text=f"{'☑️' if b.id in chosen else '⬜'} {b.name}", callback_data=pick(b.id))
    kb.button(text=_.label("task.btn_branches_done"), callback_data=done)
    kb.adjust(1)
    return kb.as_markup()


def target_kb(_: Translator) -> InlineKeyboardMarkup:
    return target_picker_kb(_, lambda n: ComposeCD(action=ComposeAction.target, value=n),
                            ComposeCD(action=ComposeAction.cancel))


def branches_kb(_: Translator, branches: Sequence[BranchRow], chosen: set[int]) -> InlineKeyboardMarkup:
    return branch_picker_kb(_, branches, chosen, lambda b: ComposeCD(action=ComposeAction.branch, value=b),
                            ComposeCD(action=ComposeAction.branches_done))


def deadline_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("task.btn_no_deadline"), callback_data=ComposeCD(action=ComposeAction.no_deadline))
    return kb.as_markup()


def needs_confirm_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("task.btn_confirm_yes"),
              callback_data=ComposeCD(action=ComposeAction.needs_confirm, value=1))
    kb.button(text=_.label("task.btn_confirm_no"), callback_data=ComposeCD(action=ComposeAction.needs_confirm, value=0))
    return kb.as_markup()


def preview_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("task.btn_send"), callback_data=ComposeCD(action=ComposeAction.send))
    kb.button(text=_.label("task.btn_cancel"), callback_data=ComposeCD(action=ComposeAction.cancel))
    return kb.as_markup()


def confirm_kb(_: Translator, task_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("task.btn_confirm"), callback_data=TaskCD(action=TaskAction.confirm, task_id=task_id))
    return kb.as_markup()


def notice_text(_: Translator, clock: Clock, task: TaskRow, *, reminder: bool = False) -> str:
    parts = [_("task.reminder_head" if reminder else "task.notice_head", org=task.org_name), "", task.body]
    deadline = deadline_of(task)
    if deadline:
        parts += ["", _("task.deadline_line", deadline=when_text(clock, deadline))]
    if task.needs_confirm:
        parts += ["", _("task.confirm_hint")]
    return "\n".join(parts)


def _markup_for(_: Translator, task: TaskRow) -> InlineKeyboardMarkup | None:
    return confirm_kb(_, task.id) if task.needs_confirm else None


def notice_pushes(i18n: I18n, clock: Clock, sent: SentTask, file_data: bytes | None = None) -> list[dict[str, Any]]:
    """Per recipient: the file (if any), then the notice with its confirm button, in their language."""
    out: list[dict[str, Any]] = []
    task = sent.task
    for r in sent.recipients:
        _ = i18n.translator(i18n.pick(r.language))
        if file_data is not None and task.file_kind:
            out.append(file_push(r.user_id, task.file_kind, file_data, task.file_name or "file",
                                 protect_content=sent.protect, dedupe_key=task_push_key(task.id, r.user_id, ":file")))
        out.append(text_push(r.user_id, notice_text(_, clock, task), reply_markup=_markup_for(_, task),
                             protect_content=sent.protect, dedupe_key=task_push_key(task.id, r.user_id)))
    return out


def reminder_pushes(i18n: I18n, clock: Clock, reminder: Reminder) -> list[dict[str, Any]]:
    """A reminder sent before the deadline is not sent after it (an outage, the bot down): it is
    obsolete then, the deadline it asks to meet has passed."""
    suffix = f":r{reminder.number}" if reminder.number else ":auto"
    deadline = deadline_of(reminder.task)
    expires = deadline if deadline is not None and deadline > clock.now() else None
    out = []
    for r in reminder.recipients:
        _ = i18n.translator(i18n.pick(r.language))
        out.append(text_push(r.user_id, notice_text(_, clock, reminder.task, reminder=True),
                             reply_markup=_markup_for(_, reminder.task), protect_content=reminder.protect,
                             dedupe_key=task_push_key(reminder.task.id, r.user_id, suffix), expires_at=expires))
    return out


def preview_text(_: Translator, clock: Clock, body: str, target: str, deadline: datetime | None,
                 needs_confirm: bool, users: int, members: int, attachment: str | None) -> str:
    lines = [_("task.preview_head"), "", body, "",
             _("task.preview_target", target=target),
             _("task.preview_deadline", deadline=when_text(clock, deadline) if deadline else _("task.none")),
             _("task.preview_confirm", value=_("task.yes") if needs_confirm else _("task.no"))]
    if attachment:
        lines.append(_("task.preview_file", name=attachment))
    lines += ["", _("task.preview_reach", users=users, members=members)]
    return "\n".join(lines)


def status_text(_: Translator, task: TaskRow) -> str:
    return _("task.status_withdrawn") if task.status == "withdrawn" else _("task.status_open")


def admin_list_text(_: Translator, clock: Clock, tasks: list[TaskRow]) -> str:
    if not tasks:
        return _("task.admin_none")
    lines = [_("task.admin_title"), ""]
    for t in tasks:
        deadline = deadline_of(t)
        lines.append(_("task.admin_line", id=t.id, org=t.org_name, body=_short(t.body), status=status_text(_, t),
                       deadline=when_text(clock, deadline) if deadline else _("task.none")))
    return "\n".join(lines)


def _short(body: str, n: int = 24) -> str:
    """The start of a task's text (HTML) as plain text, for a list line or a button."""
    line = " ".join(plain(body).split())
    return line if len(line) <= n else line[:n - 1] + "…"


def admin_list_kb(_: Translator, tasks: list[TaskRow], with_mine: bool = True) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for t in tasks:
        kb.button(text=_.label("task.btn_open", id=t.id, body=_short(t.body, 16)),
                  callback_data=TaskCD(action=TaskAction.open, task_id=t.id))
    if with_mine:
        kb.button(text=_.label("task.btn_mine"), callback_data=TaskCD(action=TaskAction.mine))
    kb.adjust(1)
    return kb.as_markup()


def view_text(_: Translator, clock: Clock, view: TaskView) -> str:
    t = view.task
    deadline = deadline_of(t)
    lines = [_("task.view_head", id=t.id, org=t.org_name, status=status_text(_, t)), "", t.body, "",
             _("task.preview_deadline", deadline=when_text(clock, deadline) if deadline else _("task.none")),
             _("task.view_counts", recipients=view.counts.recipients, delivered=view.counts.delivered,
               confirmed=view.counts.confirmed, pending=view.pending, unreachable=view.unreachable)]
    if view.counts.queued or view.counts.failed:  # Telegram has not taken every notice (yet)
        lines.append(_("task.view_delivery", queued=view.counts.queued, failed=view.counts.failed))
    if not t.needs_confirm:
        lines.append(_("task.view_no_confirm"))
    elif view.names:
        lines += ["", _("task.view_pending_head", page=view.page + 1, pages=view.pages)]
        lines += [_("task.view_pending_unreachable", name=n) if blocked else _("task.view_pending_line", name=n)
                  for n, blocked in view.names]
    return "\n".join(lines)


def view_kb(_: Translator, view: TaskView) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    t = view.task
    sizes = []
    if view.pages > 1:
        if view.page > 0:
            kb.button(text=_.label("task.btn_prev"), callback_data=TaskCD(action=TaskAction.page, task_id=t.id,
                                                                     page=view.page - 1))
        if view.page + 1 < view.pages:
            kb.button(text=_.label("task.btn_next"), callback_data=TaskCD(action=TaskAction.page, task_id=t.id,
                                                                     page=view.page + 1))
        sizes.append((view.page > 0) + (view.page + 1 < view.pages))
    if t.status == "open":
        if t.needs_confirm and view.pending:
            kb.button(text=_.label("task.btn_remind"), callback_data=TaskCD(action=TaskAction.remind, task_id=t.id))
            sizes.append(1)
        kb.button(text=_.label("task.btn_withdraw"), callback_data=TaskCD(action=TaskAction.withdraw, task_id=t.id))
        sizes.append(1)
    kb.button(text=_.label("task.btn_back"), callback_data=TaskCD(action=TaskAction.admin))
    sizes.append(1)
    kb.adjust(*sizes)
    return kb.as_markup()


def withdraw_kb(_: Translator, task_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("task.btn_withdraw_yes"),
              callback_data=TaskCD(action=TaskAction.withdraw_yes, task_id=task_id))
    kb.button(text=_.label("task.btn_back"), callback_data=TaskCD(action=TaskAction.open, task_id=task_id))
    return kb.as_markup()


def mine_text(_: Translator, clock: Clock, tasks: list[MyTask]) -> str:
    if not tasks:
        return _("task.mine_none")
    lines = [_("task.mine_title"), ""]
    for m in tasks:
        t = m.task
        deadline = deadline_of(t)
        state = (_("task.mine_confirmed") if m.confirmed_at else _("task.mine_pending")) if t.needs_confirm else ""
        lines.append(_("task.mine_line", id=t.id, org=t.org_name, body=_short(t.body, 40), state=state,
                       deadline=when_text(clock, deadline) if deadline else _("task.none")))
    return "\n".join(lines)


def mine_kb(_: Translator, tasks: list[MyTask]) -> InlineKeyboardMarkup | None:
    kb = InlineKeyboardBuilder()
    for m in tasks:
        if m.task.needs_confirm and not m.confirmed_at:
            kb.button(text=_.label("task.btn_confirm_id", id=m.task.id),
                      callback_data=TaskCD(action=TaskAction.confirm, task_id=m.task.id))
    kb.adjust(1)
    markup = kb.as_markup()
    return markup if markup.inline_keyboard else None


__all__ = ["TaskCD", "TaskAction", "ComposeCD", "ComposeAction", "TaskCompose", "Recipient"]

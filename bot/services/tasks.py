"""Task notices (WORK-1): an admin sends a text (with an optional photo or file) to a target, with an
optional deadline and confirmation; members confirm; the admin sees delivered / confirmed / pending /
unreachable, reminds the pending (at most every 5 minutes), withdraws; an automatic reminder goes to
the pending a set time before the deadline (a due row swept by the injected clock).

Every rule is checked when the action runs (SEC-4): the admin's role over the task's organisation,
the member's being a recipient, the task's still being open.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.clock import Clock
from bot.errors import DomainError, NotAllowed
from bot.repositories.orgs import BranchRow
from bot.repositories.tasks import (
    BRANCHES,
    ORG,
    SUBTREE,
    MyTask,
    Reach,
    Recipient,
    Target,
    TaskCounts,
    TaskRow,
)
from bot.services import rate_limits
from bot.services.outbox_status import unreachable_user_ids
from bot.services.roles import Actor
from bot.services.text import fitted, typed_html
from bot.store import Store

MAX_BODY = 3000  # leaves room for the notice's header and deadline under Telegram's 4,096
REMIND_EVERY = timedelta(minutes=5)
REMIND_BEFORE = timedelta(hours=2)  # the automatic reminder, before the deadline (TASK_REMIND_MINUTES)
PAGE = 20
DUE_KIND = "task_remind"
TARGETS = (SUBTREE, ORG, BRANCHES)

_DEADLINE_RE = re.compile(r"^\s*(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?\s+(\d{1,2})[:：](\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class SentTask:
    task: TaskRow
    recipients: list[Recipient]
    protect: bool
    new: bool = True  # False: the same request had sent it already (a press handled again after a crash)


@dataclass(frozen=True, slots=True)
class Confirmed:
    task: TaskRow
    first: bool  # False: confirmed before (a second press)


@dataclass(frozen=True, slots=True)
class TaskView:
    task: TaskRow
    counts: TaskCounts
    pending: int
    unreachable: int
    page: int
    pages: int
    names: list[tuple[str, bool]]  # (name, unreachable) of the pending on this page


@dataclass(frozen=True, slots=True)
class Reminder:
    task: TaskRow
    recipients: list[Recipient]
    number: int  # the task's n-th manual reminder; 0 for the automatic one
    protect: bool


def utc_text(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def deadline_of(task: TaskRow) -> datetime | None:
    return datetime.fromisoformat(task.deadline) if task.deadline else None


def parse_deadline(raw: str, clock: Clock) -> datetime:
    """'2026-11-30 18:00' or '11-30 18:00' in the deployment's time zone; it must lie ahead."""
    found = _DEADLINE_RE.match(raw or "")
    if not found:
        raise DomainError("task.bad_deadline")
    now = clock.now()
    year, month, day, hour, minute = found.groups()
    try:
        when = datetime(int(year) if year else now.year, int(month), int(day), int(hour), int(minute),
                        tzinfo=clock.tz)
    except ValueError:
        raise DomainError("task.bad_deadline") from None
    if not year and when < now:
        when = when.replace(year=now.year + 1)
    if when <= now:
        raise DomainError("task.deadline_past")
    return when


def clean_body(raw_html: str | None) -> str:
    """The notice's text as HTML made from the admin's message and its entities (`Message.html_text`:
    what they typed escaped, their bold and links kept), cleaned; shown as it is."""
    body, length = typed_html(raw_html)
    return fitted(body, MAX_BODY, "task.empty", "task.too_long", length=length)


async def make_target(store: Store, actor: Actor, org_id: int, kind: str, branch_ids: Sequence[int] = ()) -> Target:
    """A target of the admin's organisation; chosen branches must be the organisation's own."""
    actor.require_admin_of(org_id)
    if kind not in TARGETS:
        raise DomainError("stale_button")
    if kind != BRANCHES:
        return Target(kind, org_id)
    if not branch_ids:
        raise DomainError("task.no_branch_chosen")
    own = {b.id for b in await store.org_branches(org_id)}
    if not set(branch_ids) <= own:
        raise DomainError("task.branch_unavailable")
    return Target(kind, org_id, tuple(sorted(set(branch_ids))))


async def toggle_branch(store: Store, actor: Actor, org_id: int, chosen: Sequence[int], branch_id: int) -> list[int]:
    """A press in the branch picker of a task or an activity: a branch is added only when it is one of
    the organisation's own (SEC-4: the id came from callback data); taking one off is always allowed."""
    if branch_id not in chosen and branch_id not in {b.id for b in await target_branches(store, actor, org_id)}:
        raise DomainError("task.branch_unavailable")
    return sorted(set(chosen) ^ {branch_id})


async def reach(store: Store, actor: Actor, target: Target) -> Reach:
    """How many the task would reach; a target nobody can receive is refused here (bad input)."""
    actor.require_admin_of(target.org_id)
    found = await store.target_reach(target)
    if found.users == 0:
        raise DomainError("task.nobody", members=found.members)
    return found


async def sent_before(store: Store, request_key: str) -> SentTask | None:
    """The task that this request (the press that sends it) sent already, or None."""
    done = await store.task_sent_by(request_key)
    if done is None:
        return None
    task = await store.get_task(done[0])
    org = await store.get_org(task.org_id) if task is not None else None
    if task is None or org is None:
        return None
    return SentTask(task, done[1], org.protect_content, new=False)


async def send_task(store: Store, clock: Clock, actor: Actor, target: Target, body: str, *,
                    file_kind: str | None = None, file_name: str | None = None, deadline: datetime | None = None,
                    needs_confirm: bool = False, remind_before: timedelta = REMIND_BEFORE,
                    request_key: str | None = None) -> SentTask:
    """Creates the task for the target's registered members; the caller enqueues the notices. With a
    deadline, the automatic reminder is a due row at `deadline - remind_before` (now if that passed).
    A `request_key` (the press that sent it) that sent a task already returns that task, not a second one."""
    org = await store.get_org(target.org_id)
    if org is None:
        raise DomainError("stale_button")
    if request_key is not None and (done := await sent_before(store, request_key)) is not None:
        return done
    # checked here as well, whoever built the target: its branches must still be the organisation's own
    target = await make_target(store, actor, target.org_id, target.kind, target.branch_ids)
    await reach(store, actor, target)
    now = clock.now()
    if deadline is not None and deadline <= now:
        raise DomainError("task.deadline_past")
    await rate_limits.check(store, clock, actor, rate_limits.TASK)
    remind_at = max(deadline - remind_before, now).astimezone(UTC) if deadline is not None else None
    task_id, recipients, new = await store.create_task(
        org.id, actor.id, clean_body(body), file_kind, file_name, target,
        utc_text(deadline) if deadline else None, needs_confirm, now.isoformat(), remind_at, DUE_KIND, request_key)
    task = await store.get_task(task_id)
    assert task is not None
    return SentTask(task, recipients, org.protect_content, new)


async def _task(store: Store, task_id: int) -> TaskRow:
    task = await store.get_task(task_id)
    if task is None:
        raise DomainError("task.gone")
    return task


async def _admin_task(store: Store, actor: Actor, task_id: int) -> TaskRow:
    task = await _task(store, task_id)
    actor.require_admin_of(task.org_id)
    return task


async def confirm(store: Store, clock: Clock, actor: Actor, task_id: int) -> Confirmed:
    task = await _task(store, task_id)
    if await store.recipient(task_id, actor.id) is None:
        raise NotAllowed()
    if task.status != "open":
        raise DomainError("task.withdrawn")
    first = await store.confirm_task(task_id, actor.id, clock.now().isoformat())
    return Confirmed(task, first)


async def my_tasks(store: Store, actor: Actor) -> list[MyTask]:
    actor.require_registered()
    return await store.my_open_tasks(actor.id)


async def admin_tasks(store: Store, actor: Actor) -> list[TaskRow]:
    if not actor.admin_org_ids:
        raise NotAllowed("not_admin")
    return await store.org_tasks(actor.admin_org_ids)


async def task_view(store: Store, actor: Actor, task_id: int, page: int = 0) -> TaskView:
    task = await _admin_task(store, actor, task_id)
    counts = await store.task_counts(task_id)
    pending = await store.pending_recipients(task_id)
    blocked = await unreachable_user_ids(store, [r.user_id for r in pending])
    pages = max(1, -(-len(pending) // PAGE))
    page = min(max(page, 0), pages - 1)
    shown = pending[page * PAGE:(page + 1) * PAGE]
    return TaskView(task, counts, len(pending), len(blocked), page, pages,
                    [(r.name, r.user_id in blocked) for r in shown])


async def remind_pending(store: Store, clock: Clock, actor: Actor, task_id: int) -> Reminder:
    """The pending, reminded by hand: at most once every REMIND_EVERY per task."""
    task = await _admin_task(store, actor, task_id)
    if task.status != "open":
        raise DomainError("task.withdrawn")
    pending = await store.pending_recipients(task_id)
    if not pending:
        raise DomainError("task.none_pending")
    await rate_limits.check(store, clock, actor, rate_limits.TASK_REMIND)
    now = clock.now()
    number = await store.claim_reminder(task_id, (now - REMIND_EVERY).isoformat(), now.isoformat(), actor.id)
    if number is None:
        last = datetime.fromisoformat(task.last_remind_at) if task.last_remind_at else now
        wait = max(1, -(-int((last + REMIND_EVERY - now).total_seconds()) // 60))
        raise DomainError("task.remind_wait", minutes=wait)
    org = await store.get_org(task.org_id)
    return Reminder(task, pending, number, bool(org and org.protect_content))


async def due_reminder(store: Store, task_id: int, now: datetime) -> Reminder | None:
    """The automatic reminder's recipients, or None when there is nobody to remind (withdrawn, all
    confirmed) or its moment came only after the deadline (the clock jumped, the bot was down): a
    "before the deadline" reminder is not sent late. Idempotent by its pushes' dedupe keys."""
    task = await store.get_task(task_id)
    if task is None or task.status != "open" or task.deadline is None:
        return None
    if datetime.fromisoformat(task.deadline) <= now:
        return None
    pending = await store.pending_recipients(task_id)
    if not pending:
        return None
    org = await store.get_org(task.org_id)
    return Reminder(task, pending, 0, bool(org and org.protect_content))


async def withdraw(store: Store, clock: Clock, actor: Actor, task_id: int) -> TaskRow:
    task = await _admin_task(store, actor, task_id)
    if not await store.withdraw_task(task_id, actor.id, clock.now().isoformat(), DUE_KIND):
        raise DomainError("task.withdrawn")
    return await _task(store, task.id)


async def target_branches(store: Store, actor: Actor, org_id: int) -> list[BranchRow]:
    """The branches a notice or an activity may be aimed at: the organisation's, for its admins only."""
    actor.require_admin_of(org_id)
    return await store.org_branches(org_id)

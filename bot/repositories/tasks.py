"""Task notices (WORK-1): tasks, their recipients, confirmations; who the outbox could not reach.

A target is 'subtree' (the organisation and everything certified under it, through the org_tree
closure table), 'org' (the organisation only) or 'branches' (chosen branches of the organisation,
a 党总支 with its 党支部)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from bot.repositories.audit import write_audit
from bot.repositories.base import Repository
from bot.repositories.due import drop_due, put_due

SUBTREE, ORG, BRANCHES = "subtree", "org", "branches"


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # subtree | org | branches
    org_id: int
    branch_ids: tuple[int, ...] = ()

    def sql(self) -> tuple[str, list[Any]]:
        """`FROM members m WHERE …` of the target's members, as (where clause, params)."""
        if self.kind == SUBTREE:
            return "m.org_id IN (SELECT descendant_id FROM org_tree WHERE ancestor_id = ?)", [self.org_id]
        if self.kind == ORG:
            return "m.org_id = ?", [self.org_id]
        marks = ",".join("?" * len(self.branch_ids)) or "NULL"
        where = (f"m.org_id = ? AND (m.branch_id IN ({marks}) OR m.branch_id IN "
                 f"(SELECT id FROM branches WHERE parent_id IN ({marks})))")
        return where, [self.org_id, *self.branch_ids, *self.branch_ids]

    def branches_text(self) -> str:
        return ",".join(str(b) for b in self.branch_ids)


def target_of(kind: str, org_id: int, branch_ids: str) -> Target:
    return Target(kind, org_id, tuple(int(b) for b in branch_ids.split(",") if b))


@dataclass(frozen=True, slots=True)
class Reach:
    members: int  # listed in the target (registered or not)
    users: int    # registered users among them: who a push can reach


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    name: str
    language: str | None
    confirmed_at: str | None


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    org_id: int
    org_name: str
    created_by: int
    body: str
    file_kind: str | None
    file_name: str | None
    target: Target
    deadline: str | None
    needs_confirm: bool
    status: str
    reminders: int
    last_remind_at: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class TaskCounts:
    recipients: int
    delivered: int
    confirmed: int
    queued: int = 0  # notices Telegram has not taken yet (waiting, or tried again after an outage)
    failed: int = 0  # notices Telegram refused for good (not a 403: those are unreachable)


@dataclass(frozen=True, slots=True)
class MyTask:
    task: TaskRow
    confirmed_at: str | None


_TASK_COLUMNS = ("t.id, t.org_id, o.name AS org_name, t.created_by, t.body, t.file_kind, t.file_name, t.target, "
                 "t.branch_ids, t.deadline, t.needs_confirm, t.status, t.reminders, t.last_remind_at, t.created_at")


def _task(r: Any) -> TaskRow:
    return TaskRow(r["id"], r["org_id"], r["org_name"], r["created_by"], r["body"], r["file_kind"], r["file_name"],
                   target_of(r["target"], r["org_id"], r["branch_ids"]), r["deadline"], bool(r["needs_confirm"]),
                   r["status"], r["reminders"], r["last_remind_at"], r["created_at"])


def task_push_key(task_id: int, user_id: int, suffix: str = "") -> str:
    """The dedupe key of a task's push to one person (the notice itself has no suffix)."""
    return f"task:{task_id}:{user_id}{suffix}"


class TaskQueries(Repository):
    """Tasks and their recipients (WORK-1)."""

    async def target_reach(self, target: Target) -> Reach:
        where, params = target.sql()
        row = await self._one(
            f"""SELECT COUNT(*) AS members, COUNT(DISTINCT u.id) AS users FROM members m
                LEFT JOIN users u ON u.phone = m.phone AND u.registered_at IS NOT NULL WHERE {where}""", params)
        assert row is not None
        return Reach(int(row["members"]), int(row["users"]))

    async def in_target(self, target: Target, phone: str) -> str | None:
        """The name `phone` is listed under in the target, or None when it is not in it."""
        where, params = target.sql()
        row = await self._one(f"SELECT m.name FROM members m WHERE {where} AND m.phone = ? ORDER BY m.id LIMIT 1",
                              [*params, phone])
        return str(row["name"]) if row else None

    async def create_task(self, org_id: int, actor_id: int, body: str, file_kind: str | None,
                          file_name: str | None, target: Target, deadline: str | None, needs_confirm: bool,
                          now: str, remind_at: datetime | None = None, remind_kind: str = "task_remind",
                          request_key: str | None = None) -> tuple[int, list[Recipient], bool]:
        """The task, its recipients (the target's registered users now) and the due row of its automatic
        reminder, in one transaction. A `request_key` sent already returns that task as it was (False:
        not new) and writes nothing."""
        where, params = target.sql()
        async with self._tx() as db:
            existing = None
            if request_key is not None:
                existing = await (await db.execute("SELECT id FROM tasks WHERE request_key = ?",
                                                   (request_key,))).fetchone()
            if existing is not None:
                return int(existing[0]), await _recipients(db, int(existing[0])), False
            cur = await db.execute(
                """INSERT INTO tasks (org_id, created_by, body, file_kind, file_name, target, branch_ids, deadline,
                                      needs_confirm, created_at, request_key)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (org_id, actor_id, body, file_kind, file_name, target.kind, target.branches_text(), deadline,
                 int(needs_confirm), now, request_key))
            task_id = int(cur.lastrowid or 0)
            await db.execute(
                f"""INSERT INTO task_recipients (task_id, user_id, name)
                    SELECT ?, u.id, MIN(m.name) FROM members m JOIN users u ON u.phone = m.phone
                    WHERE u.registered_at IS NOT NULL AND {where} GROUP BY u.id""", [task_id, *params])
            recipients = await _recipients(db, task_id)
            if remind_at is not None:
                await put_due(db, remind_kind, f"task:{task_id}", remind_at)
            await write_audit(db, actor_id, org_id, "task.send", f"task:{task_id}", None,
                              {"target": target.kind, "recipients": len(recipients), "deadline": deadline}, now)
        return task_id, recipients, True

    async def task_sent_by(self, request_key: str) -> tuple[int, list[Recipient]] | None:
        """The task a request (the press that sent it) created, with its recipients; None: not sent."""
        row = await self._one("SELECT id FROM tasks WHERE request_key = ?", (request_key,))
        if row is None:
            return None
        rows = await self._all(_RECIPIENTS, (int(row[0]),))
        return int(row[0]), [Recipient(r[0], r[1], r[2], r[3]) for r in rows]

    async def get_task(self, task_id: int) -> TaskRow | None:
        row = await self._one(f"SELECT {_TASK_COLUMNS} FROM tasks t JOIN orgs o ON o.id = t.org_id WHERE t.id = ?",
                              (task_id,))
        return _task(row) if row else None

    async def org_tasks(self, org_ids: Iterable[int], limit: int = 10) -> list[TaskRow]:
        ids = list(org_ids)
        marks = ",".join("?" * len(ids)) or "NULL"
        rows = await self._all(f"SELECT {_TASK_COLUMNS} FROM tasks t JOIN orgs o ON o.id = t.org_id "
                               f"WHERE t.org_id IN ({marks}) ORDER BY t.id DESC LIMIT ?", [*ids, limit])
        return [_task(r) for r in rows]

    async def my_open_tasks(self, user_id: int, limit: int = 10) -> list[MyTask]:
        rows = await self._all(
            f"""SELECT {_TASK_COLUMNS}, r.confirmed_at AS my_confirmed FROM task_recipients r
                JOIN tasks t ON t.id = r.task_id JOIN orgs o ON o.id = t.org_id
                WHERE r.user_id = ? AND t.status = 'open' ORDER BY t.id DESC LIMIT ?""", (user_id, limit))
        return [MyTask(_task(r), r["my_confirmed"]) for r in rows]

    async def recipient(self, task_id: int, user_id: int) -> Recipient | None:
        row = await self._one(
            """SELECT r.user_id, r.name, COALESCE(u.language, u.tg_language) AS language, r.confirmed_at
               FROM task_recipients r JOIN users u ON u.id = r.user_id WHERE r.task_id = ? AND r.user_id = ?""",
            (task_id, user_id))
        return Recipient(row[0], row[1], row[2], row[3]) if row else None

    async def confirm_task(self, task_id: int, user_id: int, now: str) -> bool:
        """True when this press confirmed it (False: confirmed before)."""
        async with self._tx() as db:
            cur = await db.execute("UPDATE task_recipients SET confirmed_at = ? WHERE task_id = ? AND user_id = ? "
                                   "AND confirmed_at IS NULL", (now, task_id, user_id))
            return cur.rowcount == 1

    async def task_counts(self, task_id: int) -> TaskCounts:
        row = await self._one(
            """SELECT COUNT(*) AS n, COUNT(r.confirmed_at) AS confirmed,
                      COALESCE(SUM(CASE WHEN o.status = 'sent' THEN 1 ELSE 0 END), 0) AS delivered,
                      COALESCE(SUM(CASE WHEN o.status IN ('pending', 'sending') THEN 1 ELSE 0 END), 0) AS queued,
                      COALESCE(SUM(CASE WHEN o.status = 'failed' THEN 1 ELSE 0 END), 0) AS failed
               FROM task_recipients r
               LEFT JOIN outbox o ON o.dedupe_key = 'task:' || r.task_id || ':' || r.user_id
               WHERE r.task_id = ?""", (task_id,))
        assert row is not None
        return TaskCounts(int(row["n"]), int(row["delivered"]), int(row["confirmed"]), int(row["queued"]),
                          int(row["failed"]))

    async def pending_recipients(self, task_id: int, limit: int = 100_000, offset: int = 0) -> list[Recipient]:
        rows = await self._all(
            """SELECT r.user_id, r.name, COALESCE(u.language, u.tg_language) AS language, r.confirmed_at
               FROM task_recipients r JOIN users u ON u.id = r.user_id
               WHERE r.task_id = ? AND r.confirmed_at IS NULL ORDER BY r.name, r.user_id LIMIT ? OFFSET ?""",
            (task_id, limit, offset))
        return [Recipient(r[0], r[1], r[2], r[3]) for r in rows]

    async def pending_count(self, task_id: int) -> int:
        row = await self._one("SELECT COUNT(*) FROM task_recipients WHERE task_id = ? AND confirmed_at IS NULL",
                              (task_id,))
        return int(row[0]) if row else 0

    async def claim_reminder(self, task_id: int, not_before: str | None, now: str,
                             actor_id: int | None = None) -> int | None:
        """Counts a manual reminder when none was sent after `not_before`; its number, or None. The
        actor's reminder is logged (what their per-person limit counts: bot/repositories/rate_limits.py)."""
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE tasks SET reminders = reminders + 1, last_remind_at = ? WHERE id = ? AND status = 'open' "
                "AND (? IS NULL OR last_remind_at IS NULL OR last_remind_at <= ?)",
                (now, task_id, not_before, not_before))
            if cur.rowcount != 1:
                return None
            rows = await db.execute_fetchall("SELECT reminders, org_id FROM tasks WHERE id = ?", (task_id,))
            number, org_id = next(iter(rows))
            if actor_id is not None:
                await write_audit(db, actor_id, org_id, "task.remind", f"task:{task_id}", None,
                                  {"reminder": number}, now)
            return int(number)

    async def withdraw_task(self, task_id: int, actor_id: int, now: str, remind_kind: str = "task_remind") -> bool:
        async with self._tx() as db:
            cur = await db.execute("UPDATE tasks SET status = 'withdrawn', withdrawn_at = ? WHERE id = ? "
                                   "AND status = 'open'", (now, task_id))
            if cur.rowcount != 1:
                return False
            rows = await db.execute_fetchall("SELECT org_id FROM tasks WHERE id = ?", (task_id,))
            org_id = int(next(iter(rows))[0])
            await drop_due(db, remind_kind, f"task:{task_id}")
            await write_audit(db, actor_id, org_id, "task.withdraw", f"task:{task_id}", {"status": "open"},
                              {"status": "withdrawn"}, now)
            return True


_RECIPIENTS = """SELECT r.user_id, r.name, COALESCE(u.language, u.tg_language) AS language, r.confirmed_at
                 FROM task_recipients r JOIN users u ON u.id = r.user_id WHERE r.task_id = ? ORDER BY r.user_id"""


async def _recipients(db: aiosqlite.Connection, task_id: int) -> list[Recipient]:
    rows = await db.execute_fetchall(_RECIPIENTS, (task_id,))
    return [Recipient(r[0], r[1], r[2], r[3]) for r in rows]

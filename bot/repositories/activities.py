"""Collective activities and their check-ins (WORK-2)."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.repositories.audit import write_audit
from bot.repositories.base import Repository
from bot.repositories.tasks import Target, target_of


@dataclass(frozen=True, slots=True)
class ActivityRow:
    id: int
    org_id: int
    org_name: str
    kind: str
    title: str
    starts_at: str  # UTC ISO
    ends_at: str
    points: int
    target: Target
    token: str
    code_word: str
    created_at: str
    attendees: int


@dataclass(frozen=True, slots=True)
class Attendee:
    user_id: int
    name: str
    how: str
    at: str


_COLUMNS = ("a.id, a.org_id, o.name AS org_name, a.kind, a.title, a.starts_at, a.ends_at, a.points, a.target, "
            "a.branch_ids, a.token, a.code_word, a.created_at, "
            "(SELECT COUNT(*) FROM activity_checkins c WHERE c.activity_id = a.id) AS attendees")


def _activity(r: Any) -> ActivityRow:
    return ActivityRow(r["id"], r["org_id"], r["org_name"], r["kind"], r["title"], r["starts_at"], r["ends_at"],
                       r["points"], target_of(r["target"], r["org_id"], r["branch_ids"]), r["token"], r["code_word"],
                       r["created_at"], int(r["attendees"]))


class ActivityQueries(Repository):
    """Activities (WORK-2)."""

    async def create_activity(self, org_id: int, actor_id: int, kind: str, title: str, starts_at: str, ends_at: str,
                              points: int, target: Target, token: str, code_word: str, now: str) -> int | None:
        """The new activity's id, or None when the token or code word is taken (the caller draws again)."""
        try:
            async with self._tx() as db:
                cur = await db.execute(
                    """INSERT INTO activities (org_id, kind, title, starts_at, ends_at, points, target, branch_ids,
                                               token, code_word, created_by, created_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (org_id, kind, title, starts_at, ends_at, points, target.kind, target.branches_text(), token,
                     code_word, actor_id, now))
                activity_id = int(cur.lastrowid or 0)
                await write_audit(db, actor_id, org_id, "activity.create", f"activity:{activity_id}", None,
                            {"title": title, "kind": kind, "points": points, "starts_at": starts_at,
                             "ends_at": ends_at}, now)
                return activity_id
        except sqlite3.IntegrityError:
            return None

    async def get_activity(self, activity_id: int) -> ActivityRow | None:
        row = await self._one(f"SELECT {_COLUMNS} FROM activities a JOIN orgs o ON o.id = a.org_id WHERE a.id = ?",
                              (activity_id,))
        return _activity(row) if row else None

    async def activity_by(self, *, token: str | None = None, code_word: str | None = None) -> ActivityRow | None:
        column, value = ("token", token) if token is not None else ("code_word", code_word)
        row = await self._one(f"SELECT {_COLUMNS} FROM activities a JOIN orgs o ON o.id = a.org_id "
                              f"WHERE a.{column} = ?", (value,))
        return _activity(row) if row else None

    async def org_activities(self, org_ids: Iterable[int], limit: int = 10) -> list[ActivityRow]:
        ids = list(org_ids)
        marks = ",".join("?" * len(ids)) or "NULL"
        rows = await self._all(f"SELECT {_COLUMNS} FROM activities a JOIN orgs o ON o.id = a.org_id "
                               f"WHERE a.org_id IN ({marks}) ORDER BY a.starts_at DESC, a.id DESC LIMIT ?",
                               [*ids, limit])
        return [_activity(r) for r in rows]

    async def check_in(self, activity_id: int, user_id: int, name: str, how: str, marked_by: int | None,
                       org_id: int, now: str) -> bool:
        """True when this is the person's first check-in to the activity; an admin's mark is audited."""
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO activity_checkins (activity_id, user_id, name, how, marked_by, at) VALUES "
                "(?, ?, ?, ?, ?, ?) ON CONFLICT (activity_id, user_id) DO NOTHING",
                (activity_id, user_id, name, how, marked_by, now))
            if cur.rowcount != 1:
                return False
            if marked_by is not None:
                await write_audit(db, marked_by, org_id, "activity.mark", f"activity:{activity_id}", None,
                            {"user_id": user_id, "name": name}, now)
            return True

    async def attendees(self, activity_id: int, limit: int = 100_000) -> list[Attendee]:
        rows = await self._all("SELECT user_id, name, how, at FROM activity_checkins WHERE activity_id = ? "
                               "ORDER BY at, user_id LIMIT ?", (activity_id, limit))
        return [Attendee(r[0], r[1], r[2], r[3]) for r in rows]

    async def user_by_phone_registered(self, phone: str) -> int | None:
        row = await self._one("SELECT id FROM users WHERE phone = ? AND registered_at IS NOT NULL", (phone,))
        return int(row[0]) if row else None

"""Manuscripts (WORK-3): correspondents, manuscripts, their attachments and their timeline."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.repositories.audit import write_audit
from bot.repositories.base import Repository


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # photo | document
    file_id: str
    file_name: str | None
    file_size: int | None


@dataclass(frozen=True, slots=True)
class Step:
    org_id: int
    org_name: str
    action: str  # submitted | forwarded | rejected | accepted
    to_org_id: int | None
    to_org_name: str | None
    actor_id: int
    reason: str | None
    at: str


@dataclass(frozen=True, slots=True)
class ManuscriptRow:
    id: int
    author_id: int
    author_name: str
    origin_id: int
    org_id: int
    org_name: str
    title: str
    body: str
    column_name: str
    status: str
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class CorrespondentOrg:
    org_id: int
    org_name: str


@dataclass(frozen=True, slots=True)
class ManuscriptCounts:
    submitted: int   # submitted to the organisation by its correspondents
    forwarded: int   # forwarded up by its admins
    accepted: int    # accepted as final by its admins


_COLUMNS = ("m.id, m.author_id, COALESCE(u.name, u.first_name) AS author_name, m.origin_id, m.org_id, "
            "o.name AS org_name, m.title, m.body, m.column_name, m.status, m.created_at, m.updated_at")
_FROM = "FROM manuscripts m JOIN users u ON u.id = m.author_id JOIN orgs o ON o.id = m.org_id"


def _ms(r: Any) -> ManuscriptRow:
    return ManuscriptRow(*(r[k] for k in ("id", "author_id", "author_name", "origin_id", "org_id", "org_name",
                                          "title", "body", "column_name", "status", "created_at", "updated_at")))


class ManuscriptQueries(Repository):
    """Manuscripts (WORK-3)."""

    async def set_correspondent(self, member_id: int, org_id: int, value: bool, actor_id: int, now: str) -> bool:
        async with self._tx() as db:
            cur = await db.execute("UPDATE members SET correspondent = ?, updated_at = ? WHERE id = ? AND org_id = ? "
                                   "RETURNING name", (int(value), now, member_id, org_id))
            row = await cur.fetchone()
            if row is None:
                return False
            await write_audit(db, actor_id, org_id, "member.correspondent", f"member:{member_id}",
                              {"correspondent": not value, "name": row[0]},
                              {"correspondent": value, "name": row[0]}, now)
            return True

    async def is_correspondent_member(self, member_id: int) -> bool:
        row = await self._one("SELECT correspondent FROM members WHERE id = ?", (member_id,))
        return bool(row and row[0])

    async def correspondent_orgs(self, phone: str) -> list[CorrespondentOrg]:
        rows = await self._all("SELECT o.id, o.name FROM members m JOIN orgs o ON o.id = m.org_id "
                               "WHERE m.phone = ? AND m.correspondent = 1 ORDER BY o.name, o.id", (phone,))
        return [CorrespondentOrg(r[0], r[1]) for r in rows]

    async def submit_manuscript(self, author_id: int, org_id: int, title: str, body: str, column_name: str,
                                files: Sequence[Attachment], now: str) -> int:
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO manuscripts (author_id, origin_id, org_id, title, body, column_name, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (author_id, org_id, org_id, title, body, column_name,
                                                                now, now))
            ms_id = int(cur.lastrowid or 0)
            await db.executemany(
                "INSERT INTO manuscript_files (manuscript_id, position, kind, file_id, file_name, file_size) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(ms_id, n, f.kind, f.file_id, f.file_name, f.file_size) for n, f in enumerate(files)])
            await db.execute("INSERT INTO manuscript_steps (manuscript_id, org_id, action, actor_id, at) "
                             "VALUES (?, ?, 'submitted', ?, ?)", (ms_id, org_id, author_id, now))
            return ms_id

    async def get_manuscript(self, ms_id: int) -> ManuscriptRow | None:
        row = await self._one(f"SELECT {_COLUMNS} {_FROM} WHERE m.id = ?", (ms_id,))
        return _ms(row) if row else None

    async def manuscript_files(self, ms_id: int) -> list[Attachment]:
        rows = await self._all("SELECT kind, file_id, file_name, file_size FROM manuscript_files "
                               "WHERE manuscript_id = ? ORDER BY position", (ms_id,))
        return [Attachment(r[0], r[1], r[2], r[3]) for r in rows]

    async def manuscript_steps(self, ms_id: int) -> list[Step]:
        rows = await self._all(
            """SELECT s.org_id, o.name, s.action, s.to_org_id, t.name, s.actor_id, s.reason, s.at
               FROM manuscript_steps s JOIN orgs o ON o.id = s.org_id LEFT JOIN orgs t ON t.id = s.to_org_id
               WHERE s.manuscript_id = ? ORDER BY s.id""", (ms_id,))
        return [Step(*tuple(r)) for r in rows]

    async def incoming_manuscripts(self, org_ids: Iterable[int], limit: int = 20) -> list[ManuscriptRow]:
        ids = list(org_ids)
        marks = ",".join("?" * len(ids)) or "NULL"
        rows = await self._all(f"SELECT {_COLUMNS} {_FROM} WHERE m.org_id IN ({marks}) AND m.status = 'pending' "
                               f"ORDER BY m.id LIMIT ?", [*ids, limit])
        return [_ms(r) for r in rows]

    async def my_manuscripts(self, author_id: int, limit: int = 10) -> list[ManuscriptRow]:
        rows = await self._all(f"SELECT {_COLUMNS} {_FROM} WHERE m.author_id = ? ORDER BY m.id DESC LIMIT ?",
                               (author_id, limit))
        return [_ms(r) for r in rows]

    async def decide_manuscript(self, ms_id: int, at_org_id: int, action: str, actor_id: int, reason: str | None,
                                to_org_id: int | None, now: str) -> bool:
        """One step by the admins of the organisation it sits at: only while it is pending there, so two
        admins pressing at once make one step."""
        status = {"forwarded": "pending", "rejected": "rejected", "accepted": "accepted"}[action]
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE manuscripts SET status = ?, org_id = COALESCE(?, org_id), updated_at = ? "
                "WHERE id = ? AND org_id = ? AND status = 'pending'", (status, to_org_id, now, ms_id, at_org_id))
            if cur.rowcount != 1:
                return False
            await db.execute("INSERT INTO manuscript_steps (manuscript_id, org_id, action, to_org_id, actor_id, "
                             "reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (ms_id, at_org_id, action, to_org_id, actor_id, reason, now))
            audit_action = ("manuscript.forward" if action == "forwarded" else
                            "manuscript.accept" if action == "accepted" else "manuscript.reject")
            await write_audit(db, actor_id, at_org_id, audit_action, f"manuscript:{ms_id}", None,
                        {k: v for k, v in (("status", status), ("to_org_id", to_org_id), ("reason", reason)) if v},
                        now)
            return True

    async def manuscript_counts(self, org_id: int) -> ManuscriptCounts:
        row = await self._one(
            """SELECT SUM(CASE WHEN action = 'submitted' THEN 1 ELSE 0 END),
                      SUM(CASE WHEN action = 'forwarded' THEN 1 ELSE 0 END),
                      SUM(CASE WHEN action = 'accepted' THEN 1 ELSE 0 END)
               FROM manuscript_steps WHERE org_id = ?""", (org_id,))
        assert row is not None
        return ManuscriptCounts(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))

    async def org_admin_ids(self, org_id: int) -> list[tuple[int, str | None]]:
        """(user id, language) of the organisation's admins: who is told of an incoming manuscript."""
        rows = await self._all("SELECT u.id, COALESCE(u.language, u.tg_language) FROM org_admins a "
                               "JOIN users u ON u.id = a.user_id WHERE a.org_id = ? ORDER BY u.id", (org_id,))
        return [(int(r[0]), r[1]) for r in rows]

"""Organisation reports (REP-1..8): the daily snapshot, its reads, report settings and recipients.

"The organisation" is it with all its branches and certified lower organisations: the closure table
`org_tree` gives the subtree, `member_history` who was listed at the end of a day, `points_daily`
(the ledger's running sums per user and day) the points. Each person (a phone) is counted once per
subtree however many times it is listed there. Every figure group is one set-based statement over
all organisations at once, never a loop per organisation.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import aiosqlite

from bot.repositories.base import Repository

__all__ = ["DayFigures", "TableRow", "Person", "SettingsRow", "ReportsRepository", "CONTENTS"]

CONTENTS = ("text", "chart", "xlsx")  # text / text + chart / text + chart + .xlsx



@dataclass(frozen=True, slots=True)
class DayFigures:
    """REP-1's figures of one organisation (its whole subtree) on one day."""

    org_id: int
    day: str
    total: int
    new: int
    active: int
    points: int
    reached: int | None      # members at or over the daily target; None when no target is set (REP-7)
    activated: int
    per_capita: float
    participation: float     # percent
    peer_rank: int | None    # among organisations under the same upper one; None for a root
    peers: int | None


@dataclass(frozen=True, slots=True)
class TableRow:
    """One line of the overview's table: a direct lower organisation or a branch of this one."""

    kind: str  # "org" | "branch"
    id: int
    name: str
    total: int
    active: int
    points: int
    per_capita: float
    participation: float


@dataclass(frozen=True, slots=True)
class Person:
    phone: str
    name: str
    user_id: int | None
    org_name: str
    branch_name: str | None


@dataclass(frozen=True, slots=True)
class SettingsRow:
    org_id: int
    enabled: bool
    send_time: str
    content: str
    daily_target: int | None
    inactive_days: int
    recipients: tuple[int, ...]


_FIGURES = ("org_id, day, total, new, active, points, reached, activated, per_capita, participation, "
            "peer_rank, peers")

# A scratch table of this connection (never written to the database file).
_SNAP_LISTING_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS snap_listing (
    org_id INTEGER NOT NULL, branch_key INTEGER, phone TEXT NOT NULL, first_day TEXT NOT NULL,
    several INTEGER NOT NULL, activated INTEGER NOT NULL, reg_day TEXT, amount INTEGER NOT NULL
)
"""

# Step 1 of a day: every membership row listed at the end of :d, with its person's figures of the day,
# looked up once (users by phone, points_daily by user) into a temporary table that steps 2 and 3 read.
_SNAPSHOT_LISTING = """
INSERT INTO snap_listing (org_id, branch_key, phone, first_day, several, activated, reg_day, amount)
WITH rows_by_phone AS (
    SELECT phone, COUNT(*) AS n FROM member_history WHERE start_day <= :d GROUP BY phone
)
SELECT h.org_id, COALESCE(b.parent_id, h.branch_id), h.phone, h.start_day, CASE WHEN r.n > 1 THEN 1 ELSE 0 END,
       CASE WHEN substr(u.registered_at, 1, 10) <= :d THEN 1 ELSE 0 END, substr(u.registered_at, 1, 10),
       COALESCE(pd.amount, 0)
FROM member_history h
JOIN rows_by_phone r ON r.phone = h.phone
LEFT JOIN branches b ON b.id = h.branch_id
LEFT JOIN users u ON u.phone = h.phone
LEFT JOIN points_daily pd ON pd.user_id = u.id AND pd.day = :d
WHERE h.start_day <= :d AND (h.end_day IS NULL OR h.end_day > :d)
"""

# Step 2: each person once per subtree. A phone with a single membership row up to :d (nearly everybody)
# is summed per organisation and the sums are rolled up the closure table; only the few phones with
# several rows (listed twice, moved, re-added) are de-duplicated per (ancestor, phone), their first day
# in the subtree taken over all their rows. "New": activated that day, i.e. the later of the
# registration day and the first day listed in the subtree is :d.
_SNAPSHOT_ORGS = """
INSERT INTO org_daily (org_id, day, total, new, active, points, reached, activated, per_capita, participation)
WITH multi AS (
    SELECT t.ancestor_id AS org_id, h.phone AS phone, MIN(h.start_day) AS first_day
    FROM (SELECT DISTINCT phone FROM snap_listing WHERE several = 1) AS m
    JOIN member_history h ON h.phone = m.phone AND h.start_day <= :d
    JOIN org_tree t ON t.descendant_id = h.org_id
    GROUP BY t.ancestor_id, h.phone
), multi_present AS (
    SELECT DISTINCT t.ancestor_id AS org_id, l.phone, l.activated, l.reg_day, l.amount
    FROM snap_listing l JOIN org_tree t ON t.descendant_id = l.org_id WHERE l.several = 1
), scored AS (
    SELECT 0 AS rolled, org_id, activated, amount,
           CASE WHEN activated = 1 AND (CASE WHEN reg_day > first_day THEN reg_day ELSE first_day END) = :d
                THEN 1 ELSE 0 END AS new
    FROM snap_listing WHERE several = 0
    UNION ALL
    SELECT 1, p.org_id, p.activated, p.amount,
           CASE WHEN p.activated = 1 AND (CASE WHEN p.reg_day > m.first_day THEN p.reg_day ELSE m.first_day END) = :d
                THEN 1 ELSE 0 END
    FROM multi_present p JOIN multi m ON m.org_id = p.org_id AND m.phone = p.phone
), by_org AS (
    SELECT rolled, org_id, COUNT(*) AS total, SUM(new) AS new, SUM(CASE WHEN amount > 0 THEN 1 ELSE 0 END) AS active,
           SUM(amount) AS points, SUM(activated) AS activated
    FROM scored GROUP BY rolled, org_id
), subtree AS (
    SELECT t.ancestor_id AS org_id, b.total, b.new, b.active, b.points, b.activated
    FROM by_org b JOIN org_tree t ON t.descendant_id = b.org_id WHERE b.rolled = 0
    UNION ALL
    SELECT org_id, total, new, active, points, activated FROM by_org WHERE rolled = 1
)
SELECT org_id, :d, SUM(total), SUM(new), SUM(active), SUM(points), NULL, SUM(activated),
       SUM(points) * 1.0 / SUM(total), SUM(active) * 100.0 / SUM(total)
FROM subtree GROUP BY org_id
"""

# REP-7: for the organisations with a daily target, how many of their people reached it on :d, set-based
# from step 1's listing (each row carries its person's points of the day): each listing row joined to its
# ancestors with a target, the listing driving (SQLite probed the unindexed scratch table once per
# subtree row the other way round). It was a subquery per organisation listing its subtree again: at a
# province's size 2 million index probes of users and points_daily, 35 s on PostgreSQL. A phone with a
# single membership row is in the listing once, so only the others are de-duplicated. Targets are
# positive (services.reports), so a person without points never reaches one.
_SNAPSHOT_TARGETS = """
UPDATE org_daily SET reached = r.n
FROM (SELECT s.org_id AS org_id, COALESCE(x.n, 0) AS n FROM report_settings s LEFT JOIN (
          SELECT t.ancestor_id AS org_id, SUM(CASE WHEN l.several = 0 THEN 1 ELSE 0 END)
                 + COUNT(DISTINCT CASE WHEN l.several = 1 THEN l.phone END) AS n
          FROM snap_listing l JOIN org_tree t ON t.descendant_id = l.org_id
          JOIN report_settings s ON s.org_id = t.ancestor_id
          WHERE s.daily_target IS NOT NULL AND l.amount >= s.daily_target
          GROUP BY t.ancestor_id) AS x ON x.org_id = s.org_id
      WHERE s.daily_target IS NOT NULL) AS r
WHERE org_daily.org_id = r.org_id AND org_daily.day = :d
"""

_SNAPSHOT_EMPTY_ORGS = """
INSERT INTO org_daily (org_id, day, total, new, active, points, reached, activated, per_capita, participation)
SELECT o.id, :d, 0, 0, 0, 0, CASE WHEN s.daily_target IS NULL THEN NULL ELSE 0 END, 0, 0.0, 0.0
FROM orgs o LEFT JOIN report_settings s ON s.org_id = o.id
WHERE substr(o.created_at, 1, 10) <= :d
  AND NOT EXISTS (SELECT 1 FROM org_daily d WHERE d.org_id = o.id AND d.day = :d)
"""

# Peer rank: RANK() over per-capita points among the organisations under the same upper one (ties
# share a rank); a root has no peers.
_SNAPSHOT_RANKS = """
UPDATE org_daily SET peer_rank = r.rnk, peers = r.n
FROM (SELECT d.org_id AS org_id,
             RANK() OVER (PARTITION BY o.parent_id ORDER BY d.per_capita DESC) AS rnk,
             COUNT(*) OVER (PARTITION BY o.parent_id) AS n
      FROM org_daily d JOIN orgs o ON o.id = d.org_id
      WHERE d.day = :d AND o.parent_id IS NOT NULL) AS r
WHERE org_daily.org_id = r.org_id AND org_daily.day = :d
"""

# Step 3: branches of one organisation (not its subtree), where it has them: a 党支部 inside a 党总支
# counts to the 总支. A phone is listed once per organisation, so no de-duplication is needed.
_SNAPSHOT_BRANCHES = """
INSERT INTO branch_daily (org_id, branch_id, day, total, active, points)
SELECT org_id, branch_key, :d, COUNT(*), SUM(CASE WHEN amount > 0 THEN 1 ELSE 0 END), SUM(amount)
FROM snap_listing WHERE branch_key IS NOT NULL
GROUP BY org_id, branch_key
"""

# The people listed in a subtree now (one row per phone: the first organisation and branch by name).
_PEOPLE_NOW = """
    SELECT m.phone AS phone, MIN(m.name) AS name, MIN(o.name || char(31) || COALESCE(b.name, '')) AS place
    FROM org_tree t JOIN members m ON m.org_id = t.descendant_id
    JOIN orgs o ON o.id = m.org_id LEFT JOIN branches b ON b.id = m.branch_id
    WHERE t.ancestor_id = ?
    GROUP BY m.phone
"""


def _figures(row: aiosqlite.Row) -> DayFigures:
    return DayFigures(*(row[k] for k in _FIGURES.split(", ")))


def _person(row: aiosqlite.Row) -> Person:
    org_name, _, branch = str(row["place"]).partition("\x1f")
    return Person(row["phone"], row["name"], row["user_id"], org_name, branch or None)


class ReportsRepository(Repository):
    """Mixin composed into Store: the snapshot, its reads, report settings and recipients."""

    # -- the snapshot (REP-1) ----------------------------------------------------------------
    async def snapshot_day(self, day: str, now: str) -> None:
        """Computes (or recomputes) every organisation's and branch's figures of `day` in one
        transaction: a crash half-way leaves the day as it was."""
        params = {"d": day}
        async with self._tx() as db:
            await db.execute(_SNAP_LISTING_TABLE)
            await db.execute("DELETE FROM snap_listing")
            await db.execute("DELETE FROM org_daily WHERE day = :d", params)
            await db.execute("DELETE FROM branch_daily WHERE day = :d", params)
            await db.execute(_SNAPSHOT_LISTING, params)
            await db.execute(_SNAPSHOT_ORGS, params)
            await db.execute(_SNAPSHOT_EMPTY_ORGS, params)
            await db.execute(_SNAPSHOT_TARGETS, params)
            await db.execute(_SNAPSHOT_RANKS, params)
            await db.execute(_SNAPSHOT_BRANCHES, params)
            await db.execute("DELETE FROM snap_listing")
            await db.execute("INSERT INTO report_days (day, computed_at) VALUES (?, ?) "
                             "ON CONFLICT (day) DO UPDATE SET computed_at = excluded.computed_at", (day, now))

    async def snapshot_days_done(self, since: str) -> set[str]:
        rows = await self._all("SELECT day FROM report_days WHERE day >= ?", (since,))
        return {r["day"] for r in rows}

    async def prune_snapshots(self, before: str) -> None:
        async with self._tx() as db:
            for table in ("org_daily", "branch_daily", "report_days"):
                await db.execute(f"DELETE FROM {table} WHERE day < ?", (before,))

    # -- reads ------------------------------------------------------------------------------
    async def org_days(self, org_id: int, since: str, until: str) -> list[DayFigures]:
        rows = await self._all(f"SELECT {_FIGURES} FROM org_daily WHERE org_id = ? AND day >= ? AND day <= ? "
                               "ORDER BY day", (org_id, since, until))
        return [_figures(r) for r in rows]

    async def orgs_days(self, org_ids: Sequence[int], since: str, until: str) -> list[tuple[str, DayFigures]]:
        """(organisation name, figures) of several organisations over days (the export's first sheet)."""
        if not org_ids:
            return []
        marks = ", ".join("?" * len(org_ids))
        rows = await self._all(
            f"SELECT o.name AS org_name, {', '.join('d.' + k for k in _FIGURES.split(', '))} "
            f"FROM org_daily d JOIN orgs o ON o.id = d.org_id WHERE d.org_id IN ({marks}) AND d.day >= ? "
            "AND d.day <= ? ORDER BY d.day, d.org_id", (*org_ids, since, until))
        return [(r["org_name"], _figures(r)) for r in rows]

    async def lower_table(self, org_id: int, day: str, order: str, limit: int, offset: int
                          ) -> tuple[int, list[TableRow]]:
        """Direct lower organisations (their subtree's figures) and this organisation's branches on
        `day`, sorted by `order` ("per_capita" or "participation") then name; (how many, one page)."""
        key = "participation" if order == "participation" else "per_capita"
        union = """
            SELECT 'org' AS kind, o.id AS id, o.name AS name, d.total, d.active, d.points, d.per_capita,
                   d.participation
            FROM orgs o JOIN org_daily d ON d.org_id = o.id AND d.day = ? WHERE o.parent_id = ?
            UNION ALL
            SELECT 'branch', bd.branch_id, COALESCE(b.name, ''), bd.total, bd.active, bd.points,
                   bd.points * 1.0 / bd.total, bd.active * 100.0 / bd.total
            FROM branch_daily bd LEFT JOIN branches b ON b.id = bd.branch_id
            WHERE bd.org_id = ? AND bd.day = ? AND bd.total > 0"""
        params = [day, org_id, org_id, day]
        count = await self._one(f"SELECT COUNT(*) AS n FROM ({union}) AS t", params)
        rows = await self._all(f"SELECT * FROM ({union}) AS t ORDER BY {key} DESC, kind DESC, name "
                               "LIMIT ? OFFSET ?", [*params, limit, offset])
        return (int(count["n"]) if count else 0), [TableRow(*r) for r in rows]

    async def activation_counts(self, org_id: int) -> tuple[int, int]:
        """REP-6 now: (activated, not activated) people of the subtree, each phone once."""
        row = await self._one(
            f"""SELECT COUNT(u.id) AS yes, COUNT(*) - COUNT(u.id) AS no
                FROM ({_PEOPLE_NOW}) AS p LEFT JOIN users u ON u.phone = p.phone AND u.registered_at IS NOT NULL""",
            (org_id,))
        return (int(row["yes"] or 0), int(row["no"] or 0)) if row else (0, 0)

    async def not_activated(self, org_id: int, limit: int, offset: int) -> list[Person]:
        rows = await self._all(
            f"""SELECT p.phone, p.name, NULL AS user_id, p.place FROM ({_PEOPLE_NOW}) AS p
                WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.phone = p.phone AND u.registered_at IS NOT NULL)
                ORDER BY p.place, p.name, p.phone LIMIT ? OFFSET ?""", (org_id, limit, offset))
        return [_person(r) for r in rows]

    async def inactive_people(self, org_id: int, since_day: str, limit: int, offset: int
                              ) -> tuple[int, list[Person]]:
        """REP-8: registered people of the subtree with no points on any day from `since_day` on."""
        base = f"""SELECT p.phone, p.name, u.id AS user_id, p.place FROM ({_PEOPLE_NOW}) AS p
                   JOIN users u ON u.phone = p.phone AND u.registered_at IS NOT NULL
                   WHERE NOT EXISTS (SELECT 1 FROM points_daily d WHERE d.user_id = u.id AND d.day >= ?
                                     AND d.amount > 0)"""
        count = await self._one(f"SELECT COUNT(*) AS n FROM ({base}) AS q", (org_id, since_day))
        rows = await self._all(f"{base} ORDER BY p.place, p.name, p.phone LIMIT ? OFFSET ?",
                               (org_id, since_day, limit, offset))
        return (int(count["n"]) if count else 0), [_person(r) for r in rows]

    async def member_points(self, org_id: int, since: str, until: str
                            ) -> tuple[list[Person], list[tuple[str, str, int]]]:
        """The export's members sheet: the subtree's people now, and their (phone, day, points)."""
        people = await self._all(
            f"""SELECT p.phone, p.name, u.id AS user_id, p.place FROM ({_PEOPLE_NOW}) AS p
                LEFT JOIN users u ON u.phone = p.phone AND u.registered_at IS NOT NULL
                ORDER BY p.place, p.name, p.phone""", (org_id,))
        points = await self._all(
            f"""SELECT p.phone, d.day, d.amount FROM ({_PEOPLE_NOW}) AS p
                JOIN users u ON u.phone = p.phone JOIN points_daily d ON d.user_id = u.id
                WHERE d.day >= ? AND d.day <= ?""", (org_id, since, until))
        return [_person(r) for r in people], [(r["phone"], r["day"], r["amount"]) for r in points]

    # -- settings and recipients (REP-5, REP-7, REP-8) ---------------------------------------
    async def report_settings(self, org_id: int) -> SettingsRow:
        row = await self._one("SELECT enabled, send_time, content, daily_target, inactive_days "
                              "FROM report_settings WHERE org_id = ?", (org_id,))
        users = await self._all("SELECT user_id FROM report_recipients WHERE org_id = ? ORDER BY added_at, user_id",
                                (org_id,))
        recipients = tuple(r["user_id"] for r in users)
        if row is None:
            return SettingsRow(org_id, False, "08:00", "chart", None, 3, recipients)
        return SettingsRow(org_id, bool(row["enabled"]), row["send_time"], row["content"], row["daily_target"],
                           row["inactive_days"], recipients)

    async def enabled_report_settings(self) -> list[SettingsRow]:
        rows = await self._all("SELECT org_id FROM report_settings WHERE enabled = 1 ORDER BY org_id")
        return [await self.report_settings(r["org_id"]) for r in rows]

    async def save_report_settings(self, s: SettingsRow, now: str) -> None:
        """Settings and recipients in one transaction (the caller also arms the due rows in it)."""
        async with self._tx() as db:
            await self.write_report_settings(db, s, now)

    @staticmethod
    async def write_report_settings(db: aiosqlite.Connection, s: SettingsRow, now: str) -> None:
        await db.execute(
            """INSERT INTO report_settings (org_id, enabled, send_time, content, daily_target, inactive_days,
                                            updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (org_id) DO UPDATE SET enabled = excluded.enabled, send_time = excluded.send_time,
                   content = excluded.content, daily_target = excluded.daily_target,
                   inactive_days = excluded.inactive_days, updated_at = excluded.updated_at""",
            (s.org_id, int(s.enabled), s.send_time, s.content, s.daily_target, s.inactive_days, now))
        await db.execute("DELETE FROM report_recipients WHERE org_id = ?", (s.org_id,))
        await db.executemany("INSERT INTO report_recipients (org_id, user_id, added_at) VALUES (?, ?, ?)",
                             [(s.org_id, u, now) for u in dict.fromkeys(s.recipients)])

    def report_tx(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """A write transaction for a settings change and the due rows it arms."""
        return self._tx()

    async def recipient_candidates(self, org_id: int, limit: int, offset: int) -> tuple[int, list[tuple[int, str]]]:
        """REP-5: the organisation's admins first, then its registered members: (user id, name)."""
        base = """SELECT u.id AS id, COALESCE(u.name, u.first_name) AS name, 0 AS rank
                  FROM org_admins a JOIN users u ON u.id = a.user_id WHERE a.org_id = ?
                  UNION
                  SELECT u.id, m.name, 1 FROM members m JOIN users u ON u.phone = m.phone
                  WHERE m.org_id = ? AND u.registered_at IS NOT NULL
                    AND u.id NOT IN (SELECT user_id FROM org_admins WHERE org_id = ?)"""
        params = [org_id, org_id, org_id]
        count = await self._one(f"SELECT COUNT(*) AS n FROM ({base}) AS c", params)
        rows = await self._all(f"SELECT id, name FROM ({base}) AS c ORDER BY rank, name, id LIMIT ? OFFSET ?",
                               [*params, limit, offset])
        return (int(count["n"]) if count else 0), [(r["id"], r["name"]) for r in rows]

    async def is_recipient_candidate(self, org_id: int, user_id: int) -> bool:
        row = await self._one(
            """SELECT 1 FROM org_admins WHERE org_id = ? AND user_id = ?
               UNION SELECT 1 FROM members m JOIN users u ON u.phone = m.phone
               WHERE m.org_id = ? AND u.id = ? AND u.registered_at IS NOT NULL""",
            (org_id, user_id, org_id, user_id))
        return row is not None

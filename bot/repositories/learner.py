"""A learner's records, report and rank (LEARN-4, 8): reads only."""
from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from bot.models import Question
from bot.repositories.questions import question_from_row
from bot.repositories.ranking import RankingRepository, RankRow


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """A submitted attempt as the learner's records list it; `status` only when read alone."""
    id: int
    user_id: int
    kind: str
    day: str
    submitted_at: str | None
    total: int | None
    correct: int | None
    points: int | None
    flagged: bool
    status: str | None = None


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """One item of an attempt under review: `given` is the user's answer as stored (JSON, None: none)."""
    position: int
    given: str | None
    correct: bool | None
    fast: bool


_ATTEMPT_COLUMNS = "id, user_id, kind, day, submitted_at, total, correct, points, flagged"
# the records list submitted rounds and rounds left with /cancel ('expired' at a time); a round
# replaced unseen by the next day's draw ('expired', no time) is not one
_LISTED = "(status = 'submitted' OR (status = 'expired' AND submitted_at IS NOT NULL))"


def _attempt(row: aiosqlite.Row) -> AttemptRow:
    return AttemptRow(row["id"], row["user_id"], row["kind"], row["day"], row["submitted_at"], row["total"],
                      row["correct"], row["points"], bool(row["flagged"]),
                      row["status"] if "status" in row.keys() else None)  # noqa: SIM118 - `in` on a Row tests values

class LearnerRepository(RankingRepository):  # /rank reads last night's base when it can
    """Reads only: a learner's own attempts, their ledger by day and source, ranks in an organisation."""

    async def learner_attempt_count(self, user_id: int) -> int:
        return int(await self._value("SELECT COUNT(*) AS n FROM quiz_attempts WHERE user_id = ? "
                                     f"AND {_LISTED}", (user_id,)))

    async def learner_attempt_page(self, user_id: int, limit: int, offset: int) -> list[AttemptRow]:
        """Submitted attempts and those left with /cancel (with their status), newest first."""
        rows = await self._all(
            f"""SELECT {_ATTEMPT_COLUMNS}, status FROM quiz_attempts WHERE user_id = ?
                AND {_LISTED}
                ORDER BY day DESC, submitted_at DESC, id DESC LIMIT ? OFFSET ?""", (user_id, limit, offset))
        return [_attempt(r) for r in rows]

    async def learner_attempts_on(self, user_id: int, day: str) -> list[AttemptRow]:
        rows = await self._all(
            f"SELECT {_ATTEMPT_COLUMNS} FROM quiz_attempts WHERE user_id = ? AND day = ? AND status = 'submitted'",
            (user_id, day))
        return [_attempt(r) for r in rows]

    async def learner_attempt(self, attempt_id: int) -> AttemptRow | None:
        row = await self._one(f"SELECT {_ATTEMPT_COLUMNS}, status FROM quiz_attempts WHERE id = ?",
                              (attempt_id,))
        return _attempt(row) if row else None

    async def learner_attempt_review_items(self, attempt_id: int) -> list[tuple[ReviewRow, Question]]:
        """(item, question) in order."""
        rows = await self._all(
            """SELECT i.position, i.answer AS given, i.correct AS item_correct, i.fast,
                      q.id, q.org_id, q.kind, q.body, q.answer, q.tags
               FROM quiz_items i JOIN questions q ON q.id = i.question_id
               WHERE i.attempt_id = ? ORDER BY i.position""", (attempt_id,))
        return [(ReviewRow(r["position"], r["given"], None if r["item_correct"] is None else bool(r["item_correct"]),
                           bool(r["fast"])), question_from_row(r)) for r in rows]

    async def learner_points_by_day_source(self, user_id: int, since_day: str,
                                           until_day: str) -> list[tuple[str, str, int]]:
        rows = await self._all(
            """SELECT day, source, SUM(amount) AS n FROM points WHERE user_id = ? AND day >= ? AND day <= ?
               GROUP BY day, source ORDER BY day, source""", (user_id, since_day, until_day))
        return [(r["day"], r["source"], r["n"]) for r in rows]

    async def learner_org_ranking(self, org_id: int, user_id: int, since_day: str,
                                  top: int) -> list[RankRow]:
        """LEARN-8 in one query: the organisation's registered members (its members rows of every branch
        whose phone belongs to a user) with their points since `since_day` and in all. Returns the first
        `top` of each order (points, then name) and the row of `user_id`, each with week, total, week_rank,
        total_rank (1 + how many have more: ties share a rank) and ranked (how many were ranked).

        Ranks come from the per-score counts (few distinct scores), not from a window over every member:
        at 100,000 members that is several times faster in SQLite. Totals come from points_totals and the
        week from points_daily (both kept by award_points), never from the whole ledger."""
        fast = await self.ranking_from_base(org_id, user_id, since_day, top)
        if fast is not None:  # last night's base plus today's points: reads today's scorers only
            return fast
        rows = await self._all(
            """WITH people AS (
                   SELECT u.id AS user_id, m.name AS name, u.phone AS phone
                   FROM members m JOIN users u ON u.phone = m.phone
                   WHERE m.org_id = ?
               ), scores AS (
                   SELECT people.user_id, people.name, people.phone, COALESCE(t.total, 0) AS total,
                          COALESCE((SELECT SUM(d.amount) FROM points_daily d
                                    WHERE d.user_id = people.user_id AND d.day >= ?), 0) AS week
                   FROM people LEFT JOIN points_totals t ON t.user_id = people.user_id
               ), week_ranks AS (
                   SELECT week, COUNT(*) AS n, 1 + COALESCE(SUM(COUNT(*)) OVER (ORDER BY week DESC
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS week_rank
                   FROM scores GROUP BY week
               ), total_ranks AS (
                   SELECT total, 1 + COALESCE(SUM(COUNT(*)) OVER (ORDER BY total DESC
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS total_rank
                   FROM scores GROUP BY total
               ), picked AS (
                   SELECT * FROM (SELECT * FROM scores ORDER BY week DESC, name, user_id LIMIT ?) AS top_week
                   UNION
                   SELECT * FROM (SELECT * FROM scores ORDER BY total DESC, name, user_id LIMIT ?) AS top_total
                   UNION
                   SELECT * FROM scores WHERE user_id = ?
               )
               SELECT picked.user_id, picked.name, picked.phone, picked.week, picked.total,
                      week_ranks.week_rank, total_ranks.total_rank,
                      (SELECT SUM(n) FROM week_ranks) AS ranked
               FROM picked
               JOIN week_ranks ON week_ranks.week = picked.week
               JOIN total_ranks ON total_ranks.total = picked.total""",
            (org_id, since_day, top, top, user_id))
        return [RankRow(*tuple(r)) for r in rows]

"""/rank at scale (LEARN-8): a nightly base of every organisation's ranking, plus today's points live.

Ranking 100,000 members from the running sums still reads one row per member on every /rank (about
550 ms). Instead, the nightly job writes, per organisation and registered member, the 7-day points
up to yesterday and the total up to yesterday (`rank_base`), and how many members have each score
(`rank_hist`). A /rank then reads only today's points of the organisation's members who scored today
(through the index on points_daily (day, user_id)), shifts the histograms by them, and takes ranks
from the shifted histograms: ties share a rank, as before. The base is of last night: a member who
joined today is not in it (their /rank takes the full query), one removed today stays until tonight.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.repositories.base import Repository

__all__ = ["RankingRepository", "RankRow"]


@dataclass(frozen=True, slots=True)
class RankRow:
    """A member's standing in an organisation (LEARN-8); ties share a rank; `ranked` is how many were."""
    user_id: int
    name: str
    phone: str
    week: int
    total: int
    week_rank: int
    total_rank: int
    ranked: int

_REFRESH = (
    "DELETE FROM rank_base",
    "DELETE FROM rank_hist",
    """INSERT INTO rank_base (org_id, user_id, name, phone, week, total)
       SELECT m.org_id, u.id, m.name, u.phone,
              COALESCE((SELECT SUM(d.amount) FROM points_daily d
                        WHERE d.user_id = u.id AND d.day >= :since AND d.day < :today), 0),
              COALESCE(t.total, 0) - COALESCE((SELECT d.amount FROM points_daily d
                                               WHERE d.user_id = u.id AND d.day = :today), 0)
       FROM members m JOIN users u ON u.phone = m.phone
       LEFT JOIN points_totals t ON t.user_id = u.id""",
    """INSERT INTO rank_hist (org_id, by_total, score, n)
       SELECT org_id, 0, week, COUNT(*) FROM rank_base GROUP BY org_id, week
       UNION ALL
       SELECT org_id, 1, total, COUNT(*) FROM rank_base GROUP BY org_id, total""",
    "DELETE FROM rank_day",
    "INSERT INTO rank_day (day) VALUES (:today)",
)

# :o organisation, :today, :me, :top. Every score is the base plus today's points (0 for most).
_RANKING = """
WITH today AS MATERIALIZED (
    SELECT b.user_id, b.week AS bw, b.total AS bt, d.amount AS a
    FROM points_daily d CROSS JOIN rank_base b  -- CROSS: SQLite keeps today's rows outside (the index on day)
    WHERE d.day = :today AND b.org_id = :o AND b.user_id = d.user_id
), week_hist AS (
    SELECT s, SUM(n) AS n FROM (
        SELECT score AS s, n FROM rank_hist WHERE org_id = :o AND by_total = 0
        UNION ALL SELECT bw + a, COUNT(*) FROM today GROUP BY bw + a
        UNION ALL SELECT bw, -COUNT(*) FROM today GROUP BY bw) AS x
    GROUP BY s HAVING SUM(n) <> 0
), week_ranks AS (
    SELECT s, 1 + COALESCE(SUM(n) OVER (ORDER BY s DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
           AS rnk
    FROM week_hist
), total_hist AS (
    SELECT s, SUM(n) AS n FROM (
        SELECT score AS s, n FROM rank_hist WHERE org_id = :o AND by_total = 1
        UNION ALL SELECT bt + a, COUNT(*) FROM today GROUP BY bt + a
        UNION ALL SELECT bt, -COUNT(*) FROM today GROUP BY bt) AS x
    GROUP BY s HAVING SUM(n) <> 0
), total_ranks AS (
    SELECT s, 1 + COALESCE(SUM(n) OVER (ORDER BY s DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
           AS rnk
    FROM total_hist
), ids AS (
    -- the first of each order among today's scorers and by the base: nobody else can be in a top list
    SELECT user_id FROM (SELECT user_id FROM today ORDER BY bw + a DESC LIMIT :deep) AS t_week
    UNION SELECT user_id FROM (SELECT user_id FROM today ORDER BY bt + a DESC LIMIT :deep) AS t_total
    UNION SELECT user_id FROM (SELECT user_id FROM rank_base WHERE org_id = :o ORDER BY week DESC LIMIT :deep) AS b_week
    UNION SELECT user_id FROM (SELECT user_id FROM rank_base WHERE org_id = :o ORDER BY total DESC LIMIT :deep)
          AS b_total
    UNION SELECT :me
), candidates AS (
    SELECT b.user_id, b.name, b.phone, b.week + COALESCE(d.amount, 0) AS week, b.total + COALESCE(d.amount, 0) AS total
    FROM ids JOIN rank_base b ON b.org_id = :o AND b.user_id = ids.user_id
    LEFT JOIN points_daily d ON d.user_id = b.user_id AND d.day = :today
), picked AS (
    SELECT * FROM (SELECT * FROM candidates ORDER BY week DESC, name, user_id LIMIT :top) AS top_week
    UNION
    SELECT * FROM (SELECT * FROM candidates ORDER BY total DESC, name, user_id LIMIT :top) AS top_total
    UNION
    SELECT * FROM candidates WHERE user_id = :me
)
SELECT p.user_id, p.name, p.phone, p.week, p.total, w.rnk AS week_rank, t.rnk AS total_rank,
       (SELECT SUM(n) FROM rank_hist WHERE org_id = :o AND by_total = 0) AS ranked
FROM picked p JOIN week_ranks w ON w.s = p.week JOIN total_ranks t ON t.s = p.total
"""


class RankingRepository(Repository):
    async def refresh_rank_base(self, today: str) -> None:
        """The nightly base for `today`: the 6 days before it, the totals up to yesterday."""
        params = {"today": today, "since": (date.fromisoformat(today) - timedelta(days=6)).isoformat()}
        async with self._tx() as db:
            for sql in _REFRESH:
                await db.execute(sql, params)

    async def ranking_from_base(self, org_id: int, user_id: int, since_day: str, top: int
                                ) -> list[RankRow] | None:
        """The rows of learner_org_ranking from the nightly base, or None when the base cannot answer:
        it is of another day, or the member joined since it was written."""
        today = (date.fromisoformat(since_day) + timedelta(days=6)).isoformat()
        row = await self._one("SELECT 1 FROM rank_day d JOIN rank_base b ON b.org_id = ? AND b.user_id = ? "
                              "WHERE d.day = ?", (org_id, user_id, today))
        if row is None:
            return None
        async with self._lock:
            rows = await self._db.execute_fetchall(
                _RANKING, {"o": org_id, "today": today, "me": user_id, "top": top, "deep": 4 * top})
        return [RankRow(*tuple(r)) for r in rows]

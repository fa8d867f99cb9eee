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

from sqlalchemy import Connection, bindparam, delete, func, insert, literal, select, text, true, union_all
from sqlalchemy.sql.expression import Executable

from bot.db.base import INT, TEXT
from bot.db.tables_learning import points_daily, points_totals, rank_base, rank_day, rank_hist
from bot.db.tables_orgs import members, users
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

def _refresh_statements() -> tuple[Executable, ...]:
    """The nightly rewrite of the base, in Core: :today, and :since (six days before it)."""
    d = points_daily.alias("d")
    week = select(func.sum(d.c.amount)).where(d.c.user_id == users.c.id, d.c.day >= bindparam("since", type_=TEXT),
                                              d.c.day < bindparam("today", type_=TEXT)).scalar_subquery()
    today = select(d.c.amount).where(d.c.user_id == users.c.id, d.c.day == bindparam("today", type_=TEXT)
                                     ).scalar_subquery()
    base = (select(members.c.org_id, users.c.id, members.c.name, users.c.phone, func.coalesce(week, 0),
                   func.coalesce(points_totals.c.total, 0) - func.coalesce(today, 0))
            .select_from(members.join(users, users.c.phone == members.c.phone)
                         .outerjoin(points_totals, points_totals.c.user_id == users.c.id)))
    b = rank_base.c
    hist = union_all(
        select(b.org_id, literal(0, INT), b.week, func.count()).group_by(b.org_id, b.week),
        select(b.org_id, literal(1, INT), b.total, func.count()).group_by(b.org_id, b.total))
    return (
        delete(rank_base), delete(rank_hist),
        insert(rank_base).from_select(["org_id", "user_id", "name", "phone", "week", "total"], base),
        insert(rank_hist).from_select(["org_id", "by_total", "score", "n"], hist),
        delete(rank_day), insert(rank_day).values(day=bindparam("today", type_=TEXT)),
    )


_REFRESH = _refresh_statements()
_BASE_ANSWERS = (select(literal(1)).select_from(rank_day.join(rank_base, true()))
                 .where(rank_base.c.org_id == bindparam("o", type_=INT),
                        rank_base.c.user_id == bindparam("me", type_=INT),
                        rank_day.c.day == bindparam("today", type_=TEXT)))

# :o organisation, :today, :me, :top, :deep. Every score is the base plus today's points (0 for most). A set-based
# report: SQL text, the same on both backends (no rewriting at run time); every descending order says where NULL
# goes, last, as SQLite's default has it (PostgreSQL's is first; the indexes of rank_base are NULLS FIRST, read
# backwards by the top lists).
_RANKING = text("""
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
    SELECT s, 1 + COALESCE(SUM(n) OVER (ORDER BY s DESC NULLS LAST ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
           AS rnk
    FROM week_hist
), total_hist AS (
    SELECT s, SUM(n) AS n FROM (
        SELECT score AS s, n FROM rank_hist WHERE org_id = :o AND by_total = 1
        UNION ALL SELECT bt + a, COUNT(*) FROM today GROUP BY bt + a
        UNION ALL SELECT bt, -COUNT(*) FROM today GROUP BY bt) AS x
    GROUP BY s HAVING SUM(n) <> 0
), total_ranks AS (
    SELECT s, 1 + COALESCE(SUM(n) OVER (ORDER BY s DESC NULLS LAST ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
           AS rnk
    FROM total_hist
), ids AS (
    -- the first of each order among today's scorers and by the base: nobody else can be in a top list
    SELECT user_id FROM (SELECT user_id FROM today ORDER BY bw + a DESC NULLS LAST LIMIT :deep) AS t_week
    UNION SELECT user_id FROM (SELECT user_id FROM today ORDER BY bt + a DESC NULLS LAST LIMIT :deep) AS t_total
    UNION SELECT user_id FROM (SELECT user_id FROM rank_base WHERE org_id = :o ORDER BY week DESC NULLS LAST
                               LIMIT :deep) AS b_week
    UNION SELECT user_id FROM (SELECT user_id FROM rank_base WHERE org_id = :o ORDER BY total DESC NULLS LAST
                               LIMIT :deep) AS b_total
    UNION SELECT :me
), candidates AS (
    SELECT b.user_id, b.name, b.phone, b.week + COALESCE(d.amount, 0) AS week, b.total + COALESCE(d.amount, 0) AS total
    FROM ids JOIN rank_base b ON b.org_id = :o AND b.user_id = ids.user_id
    LEFT JOIN points_daily d ON d.user_id = b.user_id AND d.day = :today
), picked AS (
    SELECT * FROM (SELECT * FROM candidates ORDER BY week DESC NULLS LAST, name, user_id LIMIT :top) AS top_week
    UNION
    SELECT * FROM (SELECT * FROM candidates ORDER BY total DESC NULLS LAST, name, user_id LIMIT :top) AS top_total
    UNION
    SELECT * FROM candidates WHERE user_id = :me
)
SELECT p.user_id, p.name, p.phone, p.week, p.total, w.rnk AS week_rank, t.rnk AS total_rank,
       (SELECT SUM(n) FROM rank_hist WHERE org_id = :o AND by_total = 0) AS ranked
FROM picked p JOIN week_ranks w ON w.s = p.week JOIN total_ranks t ON t.s = p.total
""").bindparams(bindparam("o", type_=INT), bindparam("today", type_=TEXT), bindparam("me", type_=INT),
                bindparam("top", type_=INT), bindparam("deep", type_=INT))


class RankingRepository(Repository):
    async def refresh_rank_base(self, today: str) -> None:
        """The nightly base for `today`: the 6 days before it, the totals up to yesterday."""
        params = {"today": today, "since": (date.fromisoformat(today) - timedelta(days=6)).isoformat()}

        def write(conn: Connection) -> None:
            for statement in _REFRESH:
                conn.execute(statement, params)

        await self._write(write)

    async def ranking_from_base(self, org_id: int, user_id: int, since_day: str, top: int
                                ) -> list[RankRow] | None:
        """The rows of learner_org_ranking from the nightly base, or None when the base cannot answer:
        it is of another day, or the member joined since it was written."""
        today = (date.fromisoformat(since_day) + timedelta(days=6)).isoformat()
        params = {"o": org_id, "today": today, "me": user_id, "top": top, "deep": 4 * top}

        def read(conn: Connection) -> list[RankRow] | None:
            if conn.execute(_BASE_ANSWERS, params).first() is None:
                return None
            return [RankRow(*row) for row in conn.execute(_RANKING, params)]

        return await self._q(read)

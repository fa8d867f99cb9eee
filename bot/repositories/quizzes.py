"""Quiz attempts: daily, weekly, challenge and wrong-book practice rounds (LEARN-2, 3, 5), the weekly
sets, the wrong-answer notebook. The answer path reads from the attempt cache and writes in a group
commit (Store._batched): on SQLite every trip to aiosqlite's thread is a hop, and under load a hop waits
for the GIL. Written in SQLAlchemy Core (the statements: bot/repositories/quiz_sql.py)."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from bot.db.conflicts import UniqueKey, unique_conflict
from bot.db.dialects import pick
from bot.models import Question
from bot.repositories import quiz_sql as sql
from bot.repositories.audit import write_audit
from bot.repositories.base import Conflict, Repository, StoreError
from bot.repositories.questions import question_from_row

_WEEKLY_SCORED = UniqueKey(("quiz_attempts_weekly_scored",), sql.WEEKLY_SCORED_TAKEN)


@dataclass(frozen=True, slots=True)
class AttemptHead:
    """A quiz attempt without its items: what every press re-checks (owner, open, question shown now)."""
    id: int
    user_id: int
    kind: str
    status: str
    position: int
    shown_at: str | None
    started_at: str
    submitted_at: str | None
    total: int
    correct: int | None
    points: int | None
    scored: bool
    period: str | None
    flagged: bool
    message_id: int | None = None  # a challenge: the message showing its question (the time-out edits it)


@dataclass(frozen=True, slots=True)
class QuizItem:
    """One question of an attempt with the answer given so far (None: not answered)."""
    position: int
    question: Question
    answer: tuple[str, ...] | None
    correct: bool | None
    answered_at: str | None


def _head(row: Any) -> AttemptHead:
    return AttemptHead(row["a_id"], row["user_id"], row["a_kind"], row["status"], row["position"], row["shown_at"],
                       row["started_at"], row["submitted_at"], row["total"], row["a_correct"], row["points"],
                       bool(row["scored"]), row["period"], bool(row["flagged"]), row["message_id"])


def _item(row: Any, question: Question | None = None) -> QuizItem:
    given = row["given"]
    return QuizItem(row["i_pos"], question or question_from_row(row),
                    tuple(json.loads(given)) if given is not None else None,
                    None if row["i_correct"] is None else bool(row["i_correct"]), row["answered_at"])


def _ids(conn: Connection, statement: Any, params: dict[str, Any]) -> list[int]:
    return [row[0] for row in conn.execute(statement, params)]


def _heads(conn: Connection, statement: Any, params: dict[str, Any]) -> list[AttemptHead]:
    return [_head(row) for row in conn.execute(statement, params).mappings()]


class QuizzesRepository(Repository):
    async def draw_for_user(self, user_id: int, phone: str | None, n: int) -> list[int]:
        """Questions the user may see, never seen ones first, then the longest unseen, then at random."""
        return await self._q(lambda conn: _ids(conn, sql.DRAW_FOR_USER, {"user_id": user_id, "phone": phone or "",
                                                                         "n": n}))

    async def draw_for_scope(self, scope: int, n: int) -> list[int]:
        """A weekly set: scope 0 draws from the global bank; an organisation from its own bank first,
        then the banks above it and the global one."""
        if scope == 0:
            return await self._q(lambda conn: _ids(conn, sql.DRAW_GLOBAL, {"n": n}))
        return await self._q(lambda conn: _ids(conn, sql.DRAW_FOR_SCOPE, {"scope": scope, "n": n}))

    async def create_attempt(self, user_id: int, kind: str, day: str, question_ids: list[int], now: str, *,
                             period: str | None = None, scope: int | None = None, scored: bool = True,
                             mark_seen: bool = True) -> int:
        """The attempt with its items, the first question shown now. A second scored weekly attempt of
        the same week raises Conflict("weekly_scored")."""
        attempt = {"user_id": user_id, "kind": kind, "day": day, "period": period, "scope": scope,
                   "scored": int(scored), "position": 0, "shown_at": now, "started_at": now,
                   "total": len(question_ids)}

        def write(conn: Connection) -> int | None:
            try:
                key = conn.execute(sql.NEW_ATTEMPT, attempt).inserted_primary_key
                if key is None:
                    raise StoreError("no row inserted")
                attempt_id = int(key[0])
            except IntegrityError as exc:
                if unique_conflict(conn, exc, _WEEKLY_SCORED, attempt):
                    return None
                raise
            if question_ids:
                conn.execute(sql.NEW_ITEMS, [{"attempt_id": attempt_id, "position": pos, "question_id": qid}
                                             for pos, qid in enumerate(question_ids)])
                if mark_seen:
                    conn.execute(pick(conn, sql.SEEN), [{"user_id": user_id, "question_id": qid, "last_seen": now}
                                                        for qid in question_ids])
            return attempt_id

        async with self._tx():
            attempt_id = await self._in_tx(write)
            if attempt_id is None:
                raise Conflict("weekly_scored")
            return attempt_id

    async def open_attempt(self, user_id: int, kind: str) -> AttemptHead | None:
        heads = await self._q(lambda conn: _heads(conn, sql.OPEN_OF_KIND, {"kind": kind, "uid": user_id}))
        return heads[0] if heads else None

    async def latest_open_attempt(self, user_id: int) -> AttemptHead | None:
        """The user's open round of any kind whose question was shown last."""
        heads = await self._q(lambda conn: _heads(conn, sql.LATEST_OPEN, {"uid": user_id}))
        return heads[0] if heads else None

    async def leave_attempt(self, attempt_id: int, now: str) -> bool:
        """Closes an open round as left unfinished ('expired', at `now`, right answers so far counted, no
        points, the notebook unchanged); False if it was not open."""
        return await self._write(lambda conn: conn.execute(sql.LEAVE, {"aid": attempt_id, "now": now}).rowcount > 0,
                                 attempts=(attempt_id,))

    async def set_attempt_message(self, attempt_id: int, message_id: int) -> None:
        def write(conn: Connection) -> None:
            conn.execute(sql.SET_MESSAGE, {"aid": attempt_id, "message_id": message_id})

        def after(_none: None) -> None:
            cached = self._attempts.get(attempt_id)
            if cached is not None:  # kept, with the id: the next press reads no row
                self._attempts.put(attempt_id, (replace(cached[0], message_id=message_id), cached[1]))

        try:
            await self._batched(write, after)
        except BaseException:
            self._attempts.drop(attempt_id)
            raise

    async def expire_attempt(self, attempt_id: int) -> None:
        await self._write(lambda conn: conn.execute(sql.EXPIRE, {"aid": attempt_id}), attempts=(attempt_id,))

    async def quiz_view(self, attempt_id: int, positions: tuple[int, ...] | None = None
                        ) -> tuple[AttemptHead | None, dict[int, QuizItem]]:
        """The attempt and its items at those positions (None: the one shown now): every press reads
        this, so the whole attempt is cached (write-through: record_answer updates the entry, every
        other write to an attempt forgets it)."""
        cached = self._attempts.get(attempt_id)
        if cached is None:
            # the whole attempt, kept; without caches (issue 17) only the items wanted
            params: dict[str, Any] = {"aid": attempt_id}
            if self.caching:
                statement = sql.VIEW_ALL
            elif positions is None:
                statement = sql.VIEW_SHOWN
            else:
                statement = sql.view("at", len(positions))
                params.update({f"p{n}": p for n, p in enumerate(positions)})
            rows = await self._q(lambda conn: conn.execute(statement, params).mappings().all())
            if not rows:
                return None, {}
            question = self._sharedquestion_from_row if self.caching else question_from_row
            cached = (_head(rows[0]),
                      {r["i_pos"]: _item(r, question(cast(Any, r))) for r in rows if r["i_pos"] is not None})
            if self.caching:
                self._attempts.put(attempt_id, cached)
        head, items = cached
        wanted = (head.position,) if positions is None else positions
        return head, {p: items[p] for p in wanted if p in items}

    def _sharedquestion_from_row(self, row: Any) -> Question:
        """One Question object per question for all cached attempts (fewer objects for the collector)."""
        question = cast(Question | None, self._questions.get(row["id"]))
        if question is None:
            question = question_from_row(row)
            self._questions.put(question.id, question)
        return question

    async def attempt_items(self, attempt_id: int) -> list[QuizItem]:
        rows = await self._q(lambda conn: conn.execute(sql.ITEMS, {"aid": attempt_id}).mappings().all())
        return [_item(r) for r in rows]

    async def record_answer(self, attempt_id: int, position: int, answer: list[str], correct: bool,
                            answer_ms: int | None, fast: bool, now: str, *, to_position: int,
                            shown_at: str | None) -> bool:
        """One answer, and the question shown next; False when `position` is no longer the one shown."""
        given = json.dumps(answer, ensure_ascii=False)
        move = {"aid": attempt_id, "pos": position, "to": to_position, "shown": shown_at, "fast": int(fast)}
        item = {"aid": attempt_id, "pos": position, "given": given, "right": int(correct), "now": now,
                "ms": answer_ms, "fast": int(fast)}

        def write(conn: Connection) -> bool:
            if conn.dialect.name == "postgresql":  # the item at the position shown exists while it is open
                return conn.execute(sql.ANSWER_IN_ONE, {**move, **item}).rowcount > 0
            if conn.execute(sql.ANSWER_MOVE, move).rowcount == 0:
                return False
            conn.execute(sql.ANSWER_ITEM, item)
            return True

        def after(done: bool) -> None:
            cached = self._attempts.get(attempt_id)
            if cached is None:
                return
            if not done:
                self._attempts.drop(attempt_id)  # the cache was not what is stored: read it again
                return
            head, items = cached
            items = dict(items)
            items[position] = replace(items[position], answer=tuple(answer), correct=correct, answered_at=now)
            self._attempts.put(attempt_id, (replace(head, position=to_position, shown_at=shown_at,
                                                    flagged=head.flagged or fast), items))

        try:
            return await self._batched(write, after)
        except BaseException:
            self._attempts.drop(attempt_id)
            raise

    async def move_attempt(self, attempt_id: int, from_position: int, to_position: int, now: str) -> bool:
        params = {"aid": attempt_id, "pos": from_position, "to": to_position, "now": now}
        return await self._write(lambda conn: conn.execute(sql.MOVE, params).rowcount > 0, attempts=(attempt_id,))

    async def close_attempt(self, attempt_id: int, now: str, *, leave_wrongbook_after: int,
                            keep_through: int | None = None, timed_out: bool = False) -> bool:
        """Submits an open attempt in one transaction (a group commit): counts, and the wrong book
        (answered wrong: in, or back to a streak of 0; right: streak + 1, out at
        `leave_wrongbook_after`). With `keep_through` the items after that position (never shown) are
        dropped; `timed_out` counts the question at `keep_through`, if unanswered, as wrong (a
        challenge's time limit). False if not open."""

        def write(conn: Connection) -> bool:
            user_id = conn.execute(sql.OPEN_OWNER, {"aid": attempt_id}).scalar()
            if user_id is None:
                return False
            if keep_through is not None:
                conn.execute(sql.DROP_UNSHOWN, {"aid": attempt_id, "keep": keep_through})
                if timed_out:
                    conn.execute(sql.TIME_OUT, {"aid": attempt_id, "keep": keep_through})
            conn.execute(sql.SUBMIT, {"aid": attempt_id, "now": now})
            conn.execute(pick(conn, sql.INTO_WRONGBOOK), {"aid": attempt_id, "uid": user_id, "now": now})
            conn.execute(sql.RIGHT_AGAIN, {"aid": attempt_id, "uid": user_id})
            conn.execute(sql.LEAVE_WRONGBOOK, {"uid": user_id, "leave": leave_wrongbook_after})
            return True

        try:
            return await self._batched(write, lambda _done: self._attempts.drop(attempt_id))
        except BaseException:
            self._attempts.drop(attempt_id)
            raise

    async def set_attempt_points(self, attempt_id: int, points: int) -> None:
        def write(conn: Connection) -> None:
            conn.execute(sql.SET_POINTS, {"aid": attempt_id, "points": points})

        await self._batched(write, lambda _none: self._attempts.drop(attempt_id))

    async def get_attempt(self, attempt_id: int) -> AttemptHead | None:
        heads = await self._q(lambda conn: _heads(conn, sql.GET, {"aid": attempt_id}))
        return heads[0] if heads else None

    async def stale_challenges(self, shown_before: str, limit: int = 500) -> list[AttemptHead]:
        return await self._q(lambda conn: _heads(conn, sql.STALE_CHALLENGES, {"before": shown_before, "n": limit}))

    # weekly sets (LEARN-3): scope 0 is the global set, otherwise the publishing organisation's id
    async def weekly_set_for(self, period: str, phone: str | None) -> tuple[int, list[int]] | None:
        """The set of the nearest organisation above the user (their own first) that published one,
        else the global one."""
        row = await self._q(lambda conn: conn.execute(sql.WEEKLY_SET_FOR, {"phone": phone or "", "p": period}).first())
        return (row.scope, json.loads(row.question_ids)) if row else None

    async def ensure_weekly_set(self, period: str, scope: int, question_ids: list[int], now: str) -> bool:
        """Draws the set unless one exists (the scheduler's Monday draw); True when written."""
        params = {"period": period, "scope": scope, "question_ids": json.dumps(question_ids), "created_at": now}
        return await self._write(lambda conn: conn.execute(pick(conn, sql.DRAWN_SET), params).rowcount > 0)

    async def publish_weekly_set(self, period: str, scope: int, question_ids: list[int], by: int, now: str,
                                 org_id: int | None) -> None:
        """An admin's or the operator's set; replaces a drawn one until somebody has started it.
        Raises Conflict("weekly_taken")."""
        params = {"period": period, "scope": scope, "question_ids": json.dumps(question_ids), "published_by": by,
                  "created_at": now}

        def write(conn: Connection) -> bool:
            if conn.execute(sql.WEEKLY_TAKEN, {"p": period, "scope": scope}).first():
                return False
            conn.execute(pick(conn, sql.PUBLISHED_SET), params)
            return True

        async with self._tx() as db:
            if not await self._in_tx(write):
                raise Conflict("weekly_taken")
            await write_audit(db, by, org_id, "quiz.weekly_publish", period, None,
                              {"scope": scope, "questions": question_ids}, now)

    async def scored_weekly(self, user_id: int, period: str) -> AttemptHead | None:
        heads = await self._q(lambda conn: _heads(conn, sql.SCORED_WEEKLY, {"uid": user_id, "p": period}))
        return heads[0] if heads else None

    # the wrong-answer notebook (LEARN-5)
    async def wrongbook_ids(self, user_id: int, n: int) -> list[int]:
        return await self._q(lambda conn: _ids(conn, sql.WRONGBOOK_IDS, {"uid": user_id, "n": n}))

    async def wrongbook_page(self, user_id: int, limit: int, offset: int = 0
                             ) -> tuple[int, list[tuple[Question, int, int]]]:
        """(how many in all, [(question, times answered wrong, current streak of right answers)])."""
        def read(conn: Connection) -> tuple[int, list[tuple[Question, int, int]]]:
            count = int(conn.execute(sql.WRONGBOOK_COUNT, {"uid": user_id}).scalar_one())
            rows = conn.execute(sql.WRONGBOOK_PAGE, {"uid": user_id, "n": limit, "skip": offset}).mappings()
            return count, [(question_from_row(cast(Any, r)), r["wrong_times"], r["streak"]) for r in rows]

        return await self._q(read)

"""The quiz attempts' statements in SQLAlchemy Core, built once (bot/repositories/quizzes.py runs them).

Parameters are named; an UPDATE sets every column its parameters name, so the WHERE's parameters are
named apart from the columns (`aid`, `pos`, `uid`) and each UPDATE is given its own parameters alone.
Where NULL can meet an order, the order says where it goes, as SQLite places it (ascending: first;
descending: last)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, literal, or_, select, update

from bot.db.base import INT, TEXT
from bot.db.dialects import per_dialect
from bot.db.tables_learning import questions, quiz_attempts, quiz_items, seen_questions, weekly_sets, wrongbook
from bot.db.tables_orgs import members, org_tree

a, i, q = quiz_attempts.c, quiz_items.c, questions.c
HEAD = (a.id.label("a_id"), a.user_id, a.kind.label("a_kind"), a.status, a.position, a.shown_at, a.started_at,
        a.submitted_at, a.total, a.correct.label("a_correct"), a.points, a.scored, a.period, a.flagged,
        a.message_id)
ITEM = (i.position.label("i_pos"), i.answer.label("given"), i.correct.label("i_correct"), i.answered_at,
        q.id.label("id"), q.org_id.label("org_id"), q.kind.label("kind"), q.body.label("body"),
        q.answer.label("answer"), q.tags.label("tags"))
AID = bindparam("aid", type_=INT)


def _visible_to_phone() -> Any:
    """Questions a user sees: the global bank and the banks of their organisations and those above them."""
    above = (select(org_tree.c.ancestor_id).select_from(members.join(org_tree, org_tree.c.descendant_id ==
                                                                     members.c.org_id))
             .where(members.c.phone == bindparam("phone")))
    return or_(q.org_id.is_(None), q.org_id.in_(above))


_seen = seen_questions.c
DRAW_FOR_USER = (
    select(q.id).select_from(questions.outerjoin(seen_questions, and_(_seen.user_id == bindparam("user_id"),
                                                                    _seen.question_id == q.id)))
    .where(q.retired_at.is_(None), _visible_to_phone())
    .order_by(case((_seen.last_seen.is_(None), 0), else_=1), _seen.last_seen.nulls_first(), func.random())
    .limit(bindparam("n")))
DRAW_GLOBAL = (select(q.id).where(q.retired_at.is_(None), q.org_id.is_(None)).order_by(func.random())
               .limit(bindparam("n")))
DRAW_FOR_SCOPE = (
    select(q.id).where(q.retired_at.is_(None), or_(q.org_id.is_(None), q.org_id.in_(
        select(org_tree.c.ancestor_id).where(org_tree.c.descendant_id == bindparam("scope")))))
    .order_by(case((q.org_id == bindparam("scope"), 0), else_=1), func.random()).limit(bindparam("n")))

NEW_ATTEMPT = insert(quiz_attempts)
WEEKLY_SCORED_TAKEN = select(literal(1)).where(a.user_id == bindparam("user_id"), a.period == bindparam("period"),
                                               a.kind == "weekly", a.scored == 1)
NEW_ITEMS = insert(quiz_items)


def _seen_upsert(insert: Any) -> Any:
    stmt = insert(seen_questions)
    return stmt.on_conflict_do_update(index_elements=[_seen.user_id, _seen.question_id], set_={
        "last_seen": stmt.excluded.last_seen, "times": _seen.times + 1})


SEEN = per_dialect(_seen_upsert)

OPEN_OF_KIND = (select(*HEAD).where(a.status == "open", a.kind == bindparam("kind"), a.user_id == bindparam("uid"))
                .order_by(a.id.desc()).limit(1))
LATEST_OPEN = (select(*HEAD).where(a.status == "open", a.user_id == bindparam("uid"))
               .order_by(a.shown_at.desc().nulls_last(), a.id.desc()).limit(1))
GET = select(*HEAD).where(a.id == AID)
STALE_CHALLENGES = (select(*HEAD).where(a.status == "open", a.kind == "challenge", a.shown_at < bindparam("before"))
                    .order_by(a.id).limit(bindparam("n")))
SCORED_WEEKLY = select(*HEAD).where(a.user_id == bindparam("uid"), a.kind == "weekly", a.period == bindparam("p"),
                                    a.scored == 1)


def _count_items(*where: Any) -> Any:
    return select(func.count()).select_from(quiz_items).where(i.attempt_id == AID, *where).scalar_subquery()


LEAVE = (update(quiz_attempts).where(a.id == AID, a.status == "open")
         .values(status="expired", submitted_at=bindparam("now"), points=0, correct=_count_items(i.correct == 1)))
SET_MESSAGE = update(quiz_attempts).where(a.id == AID).values(message_id=bindparam("message_id"))
EXPIRE = update(quiz_attempts).where(a.id == AID, a.status == "open").values(status="expired")
MOVE = (update(quiz_attempts).where(a.id == AID, a.position == bindparam("pos"), a.status == "open")
        .values(position=bindparam("to"), shown_at=bindparam("now")))
SET_POINTS = update(quiz_attempts).where(a.id == AID).values(points=bindparam("points"))


@lru_cache(maxsize=64)
def view(only: str, n_positions: int = 0) -> Any:
    """The attempt and its items: all (""), the one shown now ("shown"), or those at positions p0.. ("at")."""
    on = i.attempt_id == a.id
    if only == "shown":
        on = and_(on, i.position == a.position)
    elif only == "at":
        on = and_(on, i.position.in_([bindparam(f"p{n}", type_=INT) for n in range(n_positions)])
                  if n_positions else literal(False))
    return (select(*HEAD, *ITEM).select_from(quiz_attempts.outerjoin(quiz_items, on)
                                             .outerjoin(questions, q.id == i.question_id)).where(a.id == AID))


VIEW_ALL, VIEW_SHOWN = view(""), view("shown")
ITEMS = (select(*ITEM).select_from(quiz_items.join(questions, q.id == i.question_id)).where(i.attempt_id == AID)
         .order_by(i.position))

# one answer: the attempt moves on (only from the position shown, while open), then the item takes the answer
ANSWER_MOVE = (update(quiz_attempts).where(a.id == AID, a.position == bindparam("pos"), a.status == "open")
               .values(position=bindparam("to"), shown_at=bindparam("shown"),
                       flagged=case((bindparam("fast", type_=INT) == 1, 1), else_=a.flagged)))
ANSWER_ITEM = (update(quiz_items).where(i.attempt_id == AID, i.position == bindparam("pos"))
               .values(answer=bindparam("given"), correct=bindparam("right"), answered_at=bindparam("now"),
                       answer_ms=func.coalesce(i.answer_ms, bindparam("ms", type_=INT)),
                       fast=case((bindparam("fast", type_=INT) == 1, 1), else_=i.fast)))
# PostgreSQL: both in one statement, one round trip (a data-modifying WITH, which SQLite has not): the item
# takes the answer only when the attempt moved
_MOVED = ANSWER_MOVE.returning(a.id).cte("moved")
ANSWER_IN_ONE = ANSWER_ITEM.where(exists(select(_MOVED.c.id))).add_cte(_MOVED)

OPEN_OWNER = select(a.user_id).where(a.id == AID, a.status == "open")
DROP_UNSHOWN = delete(quiz_items).where(i.attempt_id == AID, i.position > bindparam("keep"))
TIME_OUT = (update(quiz_items).where(i.attempt_id == AID, i.position == bindparam("keep"), i.answer.is_(None))
            .values(correct=0))
SUBMIT = (update(quiz_attempts).where(a.id == AID)
          .values(status="submitted", submitted_at=bindparam("now"), total=_count_items(),
                  correct=_count_items(i.correct == 1)))
_wb = wrongbook.c


def _into_wrongbook(insert: Any) -> Any:
    wrong = select(bindparam("uid", type_=INT), i.question_id, bindparam("now", type_=TEXT)).where(i.attempt_id == AID,
                                                                                        i.correct == 0)
    stmt = insert(wrongbook).from_select(["user_id", "question_id", "added_at"], wrong)
    return stmt.on_conflict_do_update(index_elements=[_wb.user_id, _wb.question_id],
                                      set_={"wrong_times": _wb.wrong_times + 1, "streak": 0})


INTO_WRONGBOOK = per_dialect(_into_wrongbook)
RIGHT_AGAIN = (update(wrongbook).where(_wb.user_id == bindparam("uid"), _wb.question_id.in_(
    select(i.question_id).where(i.attempt_id == AID, i.correct == 1))).values(streak=_wb.streak + 1))
LEAVE_WRONGBOOK = delete(wrongbook).where(_wb.user_id == bindparam("uid"), _wb.streak >= bindparam("leave"))

_w = weekly_sets.c
_depth = (select(func.min(org_tree.c.depth)).select_from(members.join(org_tree, org_tree.c.descendant_id ==
                                                                      members.c.org_id))
          .where(members.c.phone == bindparam("phone"), org_tree.c.ancestor_id == _w.scope).scalar_subquery())
_sets = select(_w.scope, _w.question_ids, _depth.label("d")).where(_w.period == bindparam("p")).subquery("x")
WEEKLY_SET_FOR = (select(_sets.c.scope, _sets.c.question_ids).where(or_(_sets.c.scope == 0, _sets.c.d.is_not(None)))
                  .order_by(case((_sets.c.d.is_(None), 1), else_=0), _sets.c.d.nulls_first(), _sets.c.scope).limit(1))


def _weekly_set(insert: Any, replace: bool) -> Any:
    stmt = insert(weekly_sets)
    if not replace:
        return stmt.on_conflict_do_nothing(index_elements=[_w.period, _w.scope])
    return stmt.on_conflict_do_update(index_elements=[_w.period, _w.scope], set_={
        "question_ids": stmt.excluded.question_ids, "published_by": stmt.excluded.published_by,
        "created_at": stmt.excluded.created_at})


DRAWN_SET = per_dialect(lambda insert: _weekly_set(insert, replace=False))
PUBLISHED_SET = per_dialect(lambda insert: _weekly_set(insert, replace=True))
WEEKLY_TAKEN = select(literal(1)).where(a.kind == "weekly", a.period == bindparam("p"),
                                        a.scope == bindparam("scope")).limit(1)

WRONGBOOK_IDS = (select(_wb.question_id).where(_wb.user_id == bindparam("uid")).order_by(_wb.added_at, _wb.question_id)
                 .limit(bindparam("n")))
WRONGBOOK_COUNT = select(func.count()).select_from(wrongbook).where(_wb.user_id == bindparam("uid"))
WRONGBOOK_PAGE = (select(q.id.label("id"), q.org_id.label("org_id"), q.kind.label("kind"), q.body.label("body"),
                         q.answer.label("answer"), q.tags.label("tags"), _wb.wrong_times, _wb.streak)
                  .select_from(wrongbook.join(questions, q.id == _wb.question_id))
                  .where(_wb.user_id == bindparam("uid"))
                  .order_by(_wb.added_at, _wb.question_id).limit(bindparam("n")).offset(bindparam("skip")))

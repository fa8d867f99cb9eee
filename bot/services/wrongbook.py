"""The wrong-answer notebook (错题本, LEARN-5).

A question answered wrong in any round (daily, weekly, challenge, practice) goes in; every right
answer to it adds to its streak and a wrong one resets it; after LEAVE_WRONGBOOK_AFTER right
answers in a row it leaves. The store applies this in the transaction that submits a round.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.errors import DomainError
from bot.models import Question
from bot.services import quiz
from bot.services.roles import Actor
from bot.store import Store

PAGE = 10
PRACTICE_SIZE = 10


@dataclass(frozen=True)
class Entry:
    question: Question
    wrong_times: int
    streak: int


@dataclass(frozen=True)
class Page:
    total: int
    offset: int
    entries: list[Entry]


async def page(store: Store, actor: Actor, offset: int = 0) -> Page:
    actor.require_registered()
    offset = max(0, offset)
    total, rows = await store.wrongbook_page(actor.id, PAGE, offset)
    return Page(total, offset, [Entry(q, wrong, streak) for q, wrong, streak in rows])


async def start_practice(store: Store, clock: Clock, actor: Actor) -> quiz.Shown:
    actor.require_registered()
    ids = await store.wrongbook_ids(actor.id, PRACTICE_SIZE)
    if not ids:
        raise DomainError("quiz.wrongbook_empty")
    return await quiz.start_practice(store, clock, actor, ids)

"""Browsing a question bank and taking questions out of use (LEARN-1).

An import cannot take a question back, and a question with a wrong key or an outdated stem must stop
being drawn at once: a bank's keepers (the operator for the global bank, an organisation's admins for
its bank) page through it, open a question and retire it, or restore it. Retiring never deletes:
attempts already made keep showing the question in records and in the wrong-answer notebook.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.errors import DomainError
from bot.models import Org, Question
from bot.services.questions import check_bank
from bot.services.roles import Actor
from bot.store import Store

PAGE = 8


@dataclass(frozen=True)
class BankPage:
    org: Org | None  # None: the global bank
    active: int
    retired: int
    offset: int
    entries: list[tuple[Question, bool]]  # (question, retired)

    @property
    def total(self) -> int:
        return self.active + self.retired


@dataclass(frozen=True)
class BankQuestion:
    org: Org | None
    question: Question
    retired: bool


async def page(store: Store, actor: Actor, org_id: int | None, offset: int) -> BankPage:
    org = await check_bank(store, actor, org_id)
    active, retired = await store.bank_counts(org_id)
    offset = max(0, min(offset, max(0, active + retired - 1) // PAGE * PAGE))
    rows = await store.bank_page(org_id, PAGE, offset)
    return BankPage(org, active, retired, offset, [(q, retired_at is not None) for q, retired_at in rows])


async def question(store: Store, actor: Actor, question_id: int) -> BankQuestion:
    found = await store.bank_question(question_id)
    if found is None:
        raise DomainError("stale_button")
    q, retired_at = found
    org = await check_bank(store, actor, q.org_id)  # SEC-4: the bank's keepers only
    return BankQuestion(org, q, retired_at is not None)


async def set_retired(store: Store, clock: Clock, actor: Actor, question_id: int, retired: bool) -> BankQuestion:
    """Retires (or restores) a question; pressing twice changes nothing more."""
    current = await question(store, actor, question_id)
    label = f"#{question_id} {current.question.text('zh').stem[:40]}"
    await store.set_question_retired(actor.id, question_id, retired, label, clock.now().isoformat())
    return await question(store, actor, question_id)

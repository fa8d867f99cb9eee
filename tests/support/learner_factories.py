"""Quiz attempts and questions written straight into the store, for the learner's views (LEARN-4)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from bot.models import QuestionText
from bot.store import Store, question_body_json

NOW = "2026-11-23T09:00:00+08:00"


async def make_question(store: Store, kind: str, stem: str, answer: list, *, options: Sequence[str] = (),
                        explanation: str = "", en: tuple[str, Sequence[str], str] | None = None,
                        org_id: int | None = None) -> int:
    """A question of the bank; `answer` as stored (letters, ["T"], or one list of accepted texts per blank);
    `en` an optional English text (stem, options, explanation)."""
    texts = {"zh": QuestionText(stem, tuple(options), explanation)}
    if en:
        texts["en"] = QuestionText(en[0], tuple(en[1]), en[2])
    async with store.raw_tx() as db:
        cur = await db.execute(
            "INSERT INTO questions (org_id, kind, body, answer, fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (org_id, kind, question_body_json(texts), json.dumps(answer, ensure_ascii=False),
             f"{kind}:{stem}", NOW))
        return cur.lastrowid


@dataclass(frozen=True)
class Item:
    question_id: int
    answer: list | None   # the user's answer as stored, None for unanswered
    correct: bool
    fast: bool = False


async def make_attempt(store: Store, user_id: int, items: Sequence[Item], *, kind: str = "daily",
                       day: str = "2026-11-23", submitted_at: str | None = None, points: int | None = None,
                       flagged: bool = False, status: str = "submitted") -> int:
    """One attempt with its items (positions 0, 1, …); total, correct and points follow from the items
    unless given."""
    correct = sum(1 for i in items if i.correct)
    submitted = submitted_at or f"{day}T10:00:00+08:00"
    async with store.raw_tx() as db:
        cur = await db.execute(
            """INSERT INTO quiz_attempts (user_id, kind, day, status, started_at, submitted_at, total, correct,
                                          points, flagged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (user_id, kind, day, status, submitted, submitted if status == "submitted" else None, len(items),
             correct if status == "submitted" else None, correct if points is None else points, int(flagged)))
        attempt_id = cur.lastrowid
        await db.executemany(
            """INSERT INTO quiz_items (attempt_id, position, question_id, answer, correct, answered_at, fast)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [(attempt_id, n, i.question_id, None if i.answer is None else json.dumps(i.answer, ensure_ascii=False),
              int(i.correct), submitted, int(i.fast)) for n, i in enumerate(items)])
        return attempt_id

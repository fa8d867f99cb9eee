"""Questions written straight into the store for quiz tests (the bank's own import is tested elsewhere)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from bot.models import QuestionText
from bot.store import Store, question_body_json

NOW = "2026-11-23T09:00:00+08:00"


async def make_question(store: Store, kind: str = "single", stem: str | None = None,
                        options: Iterable[str] = (), answer: Any = ("A",), explanation: str = "",
                        org_id: int | None = None, en: tuple[str, tuple[str, ...], str] | None = None,
                        retired: bool = False) -> int:
    """One question; `answer` as in Question.answer: letters, ("T",)/("F",), or per-blank lists."""
    options = tuple(options)
    if kind == "single" and not options:
        options = ("甲", "乙", "丙", "丁")
    if kind == "judge" and not options:
        options = ("正确", "错误")
    stem = stem or f"{kind} 题目"
    texts = {"zh": QuestionText(stem, options, explanation)}
    if en:
        texts["en"] = QuestionText(en[0], en[1], en[2])
    stored_answer = [list(a) if isinstance(a, (list, tuple)) else a for a in answer]
    fingerprint = hashlib.sha1(f"{kind}|{stem}|{options}".encode()).hexdigest()
    async with store.raw_tx() as db:
        cur = await db.execute(
            "INSERT INTO questions (org_id, kind, body, answer, fingerprint, created_at, retired_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (org_id, kind, question_body_json(texts), json.dumps(stored_answer, ensure_ascii=False), fingerprint,
             NOW, NOW if retired else None))
        return cur.lastrowid


async def make_bank(store: Store, n: int = 5, org_id: int | None = None, prefix: str = "题") -> dict[int, str]:
    """`n` single-choice questions whose right answer is named in the stem ("…答案是 B"); returns
    {question id: right letter}."""
    out = {}
    for i in range(n):
        letter = "ABCD"[i % 4]
        qid = await make_question(store, "single", f"{prefix}{i + 1}：答案是 {letter}", answer=(letter,),
                                  explanation=f"解析{i + 1}", org_id=org_id)
        out[qid] = letter
    return out

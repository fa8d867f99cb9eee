"""The question bank (LEARN-1): org_id NULL is the operator's global bank; an organisation's
questions are seen by its subtree. Questions are retired, never deleted."""
from __future__ import annotations

import json

import aiosqlite

from bot.models import Question, QuestionText
from bot.repositories.audit import write_audit
from bot.repositories.base import Repository, fetch_value

QUESTION_COLUMNS = "id, org_id, kind, body, answer, tags"


def question_from_row(row: aiosqlite.Row) -> Question:
    """A `questions` row (selected with QUESTION_COLUMNS) as the model."""
    body = json.loads(row["body"])
    texts = {lang: QuestionText(t["stem"], tuple(t.get("options") or ()), t.get("explanation") or "")
             for lang, t in body.items()}
    answer = json.loads(row["answer"])
    return Question(id=row["id"], org_id=row["org_id"], kind=row["kind"], texts=texts,
                    answer=tuple(tuple(a) if isinstance(a, list) else a for a in answer), tags=row["tags"])


def question_body_json(texts: dict[str, QuestionText]) -> str:
    """The inverse of question_from_row for `body` (used when writing questions)."""
    return json.dumps({lang: {"stem": t.stem, "options": list(t.options), "explanation": t.explanation}
                       for lang, t in texts.items()}, ensure_ascii=False, separators=(",", ":"))


class QuestionsRepository(Repository):
    async def add_questions(self, actor_id: int | None, org_id: int | None,
                            rows: list[tuple[str, str, str, str, str]], now: str) -> tuple[int, int, int, int]:
        """LEARN-1 in one transaction: adds the rows (kind, body JSON, answer JSON, tags, fingerprint)
        whose fingerprint (type, stem, options) the bank (org_id None: the global one) does not hold yet;
        a question it holds takes the row's answer, explanations, English text and tags when they
        differ (how a wrong key is corrected). Returns (added, updated, unchanged, questions the bank
        now holds). Audited when an actor acted."""
        bank = org_id or 0
        count_sql = "SELECT count(*) FROM questions WHERE COALESCE(org_id, 0) = ?"
        async with self._tx(bank=True) as db:
            before: int = await fetch_value(db, count_sql, (bank,))
            cur = await db.executemany(
                "UPDATE questions SET body = ?, answer = ?, tags = ? WHERE COALESCE(org_id, 0) = ? AND fingerprint = ? "
                "AND kind = ? AND (body <> ? OR answer <> ? OR tags <> ?)",
                [(body, answer, tags, bank, fp, kind, body, answer, tags) for kind, body, answer, tags, fp in rows])
            updated = max(cur.rowcount, 0)
            await db.executemany(
                "INSERT INTO questions (org_id, kind, body, answer, tags, fingerprint, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(org_id, *row, actor_id, now) for row in rows])
            added: int = await fetch_value(db, count_sql, (bank,)) - before
            size: int = await fetch_value(db, count_sql + " AND retired_at IS NULL", (bank,))
            unchanged = len(rows) - added - updated
            if actor_id is not None:
                await write_audit(db, actor_id, org_id, "question.import", None, None,
                                  {"added": added, "updated": updated, "present": unchanged, "bank": size}, now)
            return added, updated, unchanged, size

    async def question_bank_size(self, org_id: int | None) -> int:
        """Questions in use (drawn) in one bank."""
        return (await self.bank_counts(org_id))[0]

    async def bank_counts(self, org_id: int | None) -> tuple[int, int]:
        """(questions in use, questions retired) of one bank (None: the global one)."""
        row = await self._one("SELECT count(*) - count(retired_at) AS active, count(retired_at) AS retired "
                              "FROM questions WHERE COALESCE(org_id, 0) = ?", (org_id or 0,))
        return (row["active"] or 0, row["retired"] or 0) if row else (0, 0)

    async def bank_page(self, org_id: int | None, limit: int, offset: int) -> list[tuple[Question, str | None]]:
        """One page of a bank, newest first: each question with when it was retired (None: in use)."""
        rows = await self._all(f"SELECT {QUESTION_COLUMNS}, retired_at FROM questions WHERE COALESCE(org_id, 0) = ? "
                               "ORDER BY id DESC LIMIT ? OFFSET ?", (org_id or 0, limit, offset))
        return [(question_from_row(r), r["retired_at"]) for r in rows]

    async def bank_question(self, question_id: int) -> tuple[Question, str | None] | None:
        row = await self._one(f"SELECT {QUESTION_COLUMNS}, retired_at FROM questions WHERE id = ?", (question_id,))
        return (question_from_row(row), row["retired_at"]) if row else None

    async def set_question_retired(self, actor_id: int, question_id: int, retired: bool, label: str,
                                   now: str) -> bool:
        """Takes a question out of (or back into) the draws; attempts already made keep it. False when it
        was so already. Audited under the question's bank."""
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE questions SET retired_at = ? WHERE id = ? AND (retired_at IS NULL) = (? = 1) RETURNING org_id",
                (now if retired else None, question_id, int(retired)))
            row = await cur.fetchone()
            if row is None:
                return False
            action = "question.retire" if retired else "question.restore"
            await write_audit(db, actor_id, row[0], action, label, None, None, now)
            return True

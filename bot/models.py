"""Plain records that the store returns and services pass around (no aiogram, no SQL)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class User:
    id: int
    first_name: str
    last_name: str | None
    username: str | None
    tg_language: str | None
    language: str | None
    phone: str | None
    name: str | None
    org_name: str | None
    registered_at: str | None
    real_name: str | None
    id_masked: str | None
    verified_at: str | None
    menu: str | None = None  # the key of the command menu last set for them (bot/services/commands.py)

    @property
    def registered(self) -> bool:
        return self.registered_at is not None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True, slots=True)
class Org:
    id: int
    name: str
    region: str
    kind: str  # party | nonparty
    parent_id: int | None
    certified_at: str | None
    join_approval: bool
    protect_content: bool
    created_by: int
    created_at: str

    @property
    def certified(self) -> bool:
        return self.certified_at is not None


QUESTION_KINDS = ("single", "multiple", "judge", "blank")


@dataclass(frozen=True, slots=True)
class QuestionText:
    """A question in one language. `options` are the choices' texts in order (A, B, C …); empty for
    fill-in-the-blank; for true/false they are the two labels as shown."""
    stem: str
    options: tuple[str, ...]
    explanation: str


@dataclass(frozen=True, slots=True)
class Question:
    """A question of the bank (LEARN-1), as stored in `questions` (body and answer are JSON there).

    body   = {"zh": {"stem", "options", "explanation"}, "en": {...}}   (zh always present)
    answer = choice: ["A", "C"] (letters, sorted); judge: ["T"] or ["F"];
             blank: [["accepted", "also accepted"], [...]] (one list per blank, in order)
    """
    id: int
    org_id: int | None
    kind: str
    texts: dict[str, QuestionText]
    answer: tuple[Any, ...]  # str per choice/judge letter, tuple[str, ...] per blank
    tags: str = ""

    def text(self, language: str | None) -> QuestionText:
        return self.texts.get(language or "zh") or self.texts["zh"]

    @property
    def blanks(self) -> int:
        return len(self.answer) if self.kind == "blank" else 0

"""The question bank (LEARN-1): parsing and checking spreadsheet rows, normalising, fingerprints,
importing into a bank, and the demo bank.

A bank is the operator's global one (org_id None) or an organisation's (seen by its subtree).
Every valid row of a file is written in one transaction; a question's fingerprint (type, stem and
options after normalising) is unique per bank, so importing the same file twice adds nothing.

Formats (also explained on the template's instructions sheet):
- type: 单选/多选/判断/填空 (or single/multiple/judge/blank, with or without 题);
- choice answers are letters of filled options ("B", "AC", "A,C");
- judge answers 对/错, 正确/错误, √/×, T/F, true/false, 是/否;
- blank answers: blanks separated by ";", accepted alternatives by "|": ``北京|Beijing;长江``;
  the stem marks each blank with （ ） or ___ (three or more underscores);
- options_en: the English options in the same order, separated by "|" or line breaks.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.errors import DomainError, NotAllowed
from bot.models import Org, QuestionText
from bot.render import question_sheet
from bot.render.excel import RowProblem, SheetError
from bot.render.question_sheet import LETTERS, QuestionRaw
from bot.services.roles import Actor
from bot.services.text import clean_lines
from bot.store import Store, question_body_json

DEMO_PATH = Path(__file__).resolve().parent.parent / "assets" / "demo_questions.json"

STEM_MAX = 500
OPTION_MAX = 200
EXPLANATION_MAX = 1000
ANSWER_MAX = 100  # one accepted answer of a blank
TAGS_MAX = 100

# How a true/false question's two choices are shown (stored in `body`, per language).
JUDGE_LABELS = {"zh": ("正确", "错误"), "en": ("True", "False")}

_KINDS = {
    "single": ("单选", "单选题", "单项选择", "单项选择题", "single", "single choice", "s"),
    "multiple": ("多选", "多选题", "多项选择", "多项选择题", "multiple", "multiple choice", "multi", "m"),
    "judge": ("判断", "判断题", "是非题", "judge", "true/false", "true false", "truefalse", "tf", "j"),
    "blank": ("填空", "填空题", "blank", "fill", "fill in the blank", "fill-in-the-blank", "b"),
}
_KIND_OF = {re.sub(r"\s+", " ", name): kind for kind, names in _KINDS.items() for name in names}
_JUDGE = {**dict.fromkeys(("对", "正确", "是", "√", "✓", "✔", "t", "true", "y", "yes"), "T"),
          **dict.fromkeys(("错", "错误", "否", "×", "✗", "✘", "f", "false", "n", "no"), "F")}
_BLANK_MARK = re.compile(r"[（(][\s\u3000]*[)）]|_{3,}")
_LETTER_SEPARATORS = re.compile(r"[\s,，、;；/]+")
_TAG_SEPARATORS = re.compile(r"[\s,，、;；]+")
_GROUP_SEPARATOR = re.compile(r"[;；]")
_ALT_SEPARATOR = re.compile(r"[|｜]")
_OPTIONS_EN_SEPARATOR = re.compile(r"[|｜\n]")


@dataclass(frozen=True)
class NewQuestion:
    """A checked row, ready for the `questions` table."""
    row_number: int
    kind: str
    texts: dict[str, QuestionText]
    answer: list[Any]  # the Question.answer encoding (see bot/models.py)
    tags: str
    fingerprint: str

    def store_row(self) -> tuple[str, str, str, str, str]:
        return (self.kind, question_body_json(self.texts), json.dumps(self.answer, ensure_ascii=False),
                self.tags, self.fingerprint)


@dataclass(frozen=True)
class ImportResult:
    added: int
    present: int  # already in the bank as they are
    rejected: list[tuple[QuestionRaw, RowProblem]]
    bank_size: int
    sheet: str = ""
    ignored_sheets: list[str] = field(default_factory=list)
    updated: int = 0  # already in the bank, their answer, explanation, English text or tags now replaced


class _Reject(Exception):
    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.problem = RowProblem(code, params)


# ---------------------------------------------------------------- normalising

def normalise(text: str) -> str:
    """What two texts are compared by: full/half width, case and whitespace do not count."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def blank_correct(accepted: Iterable[Iterable[str]], given: Iterable[str]) -> bool:
    """LEARN-1: every blank's answer is one of its accepted answers, after normalising."""
    groups, answers = list(accepted), list(given)
    return len(groups) == len(answers) and all(
        normalise(a) in {normalise(x) for x in group} for group, a in zip(groups, answers))


# the unit printed right after a blank (（ ）分, ___ %, ( ) years): a run of letters (CJK or Latin, no
# digits) or a sign; an answer that repeats the start of it (5分 for （ ）分) is read without it
_AFTER_BLANK = re.compile(r"(?:" + _BLANK_MARK.pattern + r")[\s\u3000]*(%|‰|℃|°C?|[^\W\d_]{1,8})?")


def blank_units(stem: str) -> list[str]:
    """Per blank of the stem, in order, the normalised text printed right after it ("" when none)."""
    return [normalise(m.group(1) or "") for m in _AFTER_BLANK.finditer(unicodedata.normalize("NFKC", stem))]


def without_unit(answer: str, unit: str) -> str | None:
    """A normalised answer that ends with the start of `unit` (5分 for 分), without it; None otherwise."""
    for cut in range(min(len(unit), len(answer) - 1), 0, -1):
        if answer.endswith(unit[:cut]):
            return answer[:-cut]
    return None


def blank_matches(accepted: Iterable[str], given: str, units: Iterable[str] = ()) -> bool:
    """LEARN-1: one blank's answer is one of its accepted answers after normalising, also when it
    repeats the unit the stem prints after the blank (any of `units`: one per language of the stem)."""
    wanted = {normalise(a) for a in accepted}
    answer = normalise(given)
    if answer in wanted:
        return True
    return any((bare := without_unit(answer, unit)) is not None and bare in wanted for unit in units if unit)


def count_blanks(stem: str) -> int:
    return len(_BLANK_MARK.findall(unicodedata.normalize("NFKC", stem)))


def parse_kind(text: str) -> str | None:
    return _KIND_OF.get(re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).strip().casefold()))


def fingerprint(kind: str, stem: str, options: Iterable[str]) -> str:
    """Identifies a question inside a bank: its type, stem and options after normalising."""
    key = json.dumps([kind, normalise(stem), [normalise(o) for o in options]], ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()


def normalise_tags(text: str) -> str:
    return ",".join(dict.fromkeys(t for t in _TAG_SEPARATORS.split(text) if t))


# ---------------------------------------------------------------- checking rows

def _cleaned(row: QuestionRaw) -> QuestionRaw:
    """The texts a person reads, cleaned like every free text (invisible and direction characters out;
    no NFKC, which would turn an option's ① into 1)."""
    return row._replace(stem=clean_lines(row.stem), options=tuple(clean_lines(o) for o in row.options),
                        explanation=clean_lines(row.explanation), stem_en=clean_lines(row.stem_en),
                        options_en=clean_lines(row.options_en), explanation_en=clean_lines(row.explanation_en))


def check_row(row: QuestionRaw) -> NewQuestion:
    """One row as a question, or raises _Reject with the first problem found."""
    row = _cleaned(row)
    kind = parse_kind(row.kind)
    if not row.kind:
        raise _Reject("missing_kind")
    if kind is None:
        raise _Reject("unknown_kind", value=row.kind)
    if not row.stem:
        raise _Reject("missing_stem")
    _limit("stem", row.stem, STEM_MAX)
    if not row.answer:
        raise _Reject("missing_answer")
    options: tuple[str, ...] = ()
    if kind in ("single", "multiple"):
        options = _choice_options(row.options)
        answer: list[Any] = _letters(kind, row.answer, len(options))
    elif kind == "judge":
        options = JUDGE_LABELS["zh"]
        answer = _judge(row.answer)
    else:
        answer = _blanks(row.stem, row.answer)
    _limit("explanation", row.explanation, EXPLANATION_MAX)
    tags = normalise_tags(row.tags)
    _limit("tags", tags, TAGS_MAX)
    texts = {"zh": QuestionText(row.stem, options, row.explanation)}
    english = _english(row, kind, len(options), len(answer) if kind == "blank" else 0)
    if english is not None:
        texts["en"] = english
    return NewQuestion(row.row_number, kind, texts, answer, tags, fingerprint(kind, row.stem, options))


def _limit(what: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise _Reject("too_long", field=what, limit=limit)


def _choice_options(cells: tuple[str, ...]) -> tuple[str, ...]:
    filled = [i for i, text in enumerate(cells) if text]
    if len(filled) < 2:
        raise _Reject("too_few_options")
    if filled[-1] + 1 != len(filled):
        first_gap = next(i for i in range(filled[-1]) if not cells[i])
        raise _Reject("option_gap", letter=LETTERS[first_gap])
    for text in cells:
        _limit("option", text, OPTION_MAX)
    return tuple(cells[: len(filled)])


def _letters(kind: str, text: str, count: int) -> list[str]:
    letters = _LETTER_SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()
    if not letters or not all("A" <= c <= "Z" for c in letters):
        raise _Reject("bad_letters", value=text)
    for c in letters:
        if c not in LETTERS[:count]:
            raise _Reject("letter_not_option", letter=c, last=LETTERS[count - 1])
    chosen = sorted(set(letters))
    if kind == "single" and len(chosen) > 1:
        raise _Reject("single_many")
    return chosen


def _judge(text: str) -> list[str]:
    value = _JUDGE.get(unicodedata.normalize("NFKC", text).strip().casefold())
    if value is None:
        raise _Reject("bad_judge", value=text)
    return [value]


def _blanks(stem: str, text: str) -> list[list[str]]:
    groups = []
    for n, part in enumerate(_GROUP_SEPARATOR.split(text), 1):
        accepted = list(dict.fromkeys(a.strip() for a in _ALT_SEPARATOR.split(part) if a.strip()))
        if not accepted:
            raise _Reject("empty_blank", n=n)
        for a in accepted:
            _limit("answer", a, ANSWER_MAX)
        groups.append(accepted)
    blanks = count_blanks(stem)
    if blanks != len(groups):
        raise _Reject("blank_count", blanks=blanks, groups=len(groups))
    return groups


def _english(row: QuestionRaw, kind: str, options: int, blanks: int) -> QuestionText | None:
    if not row.stem_en:
        if row.options_en or row.explanation_en:
            raise _Reject("en_stem_missing")
        return None
    _limit("stem_en", row.stem_en, STEM_MAX)
    _limit("explanation_en", row.explanation_en, EXPLANATION_MAX)
    explanation = row.explanation_en or row.explanation  # an untranslated explanation beats none
    if kind == "judge":
        return QuestionText(row.stem_en, JUDGE_LABELS["en"], explanation)
    if kind == "blank":
        if count_blanks(row.stem_en) != blanks:
            raise _Reject("en_blank_count", blanks=count_blanks(row.stem_en), groups=blanks)
        return QuestionText(row.stem_en, (), explanation)
    texts = tuple(t.strip() for t in _OPTIONS_EN_SEPARATOR.split(row.options_en) if t.strip())
    if len(texts) != options:
        raise _Reject("en_options_count", expected=options, got=len(texts))
    for text in texts:
        _limit("options_en", text, OPTION_MAX)
    return QuestionText(row.stem_en, texts, explanation)


def validate_rows(rows: Iterable[QuestionRaw]) -> tuple[list[NewQuestion], list[tuple[QuestionRaw, RowProblem]]]:
    """Split rows into questions and (row, problem) pairs, in file order; a question that
    repeats an earlier row of the same file is a duplicate."""
    valid: list[NewQuestion] = []
    rejected: list[tuple[QuestionRaw, RowProblem]] = []
    first_row: dict[str, int] = {}
    for row in rows:
        try:
            question = check_row(row)
        except _Reject as exc:
            rejected.append((row, exc.problem))
            continue
        if question.fingerprint in first_row:
            rejected.append((row, RowProblem("duplicate", {"first_row": first_row[question.fingerprint]})))
            continue
        first_row[question.fingerprint] = row.row_number
        valid.append(question)
    return valid, rejected


# ---------------------------------------------------------------- banks and importing

def bank_choices(actor: Actor) -> list[int | None]:
    """The banks the actor may add to: None (global) for the operator, then their organisations."""
    return ([None] if actor.is_operator else []) + sorted(actor.admin_org_ids)


async def check_bank(store: Store, actor: Actor, org_id: int | None) -> Org | None:
    """SEC-4, checked when the action runs: the global bank is the operator's, an organisation's
    bank its admins'. Returns the organisation (None for the global bank)."""
    if org_id is None:
        if not actor.is_operator:
            raise NotAllowed()
        return None
    actor.require_admin_of(org_id)
    org = await store.get_org(org_id)
    if org is None:
        raise DomainError("stale_button")
    return org


async def parse_file(data: bytes, known_labels: Iterable[Mapping[str, str]] = ()) -> question_sheet.ParsedQuestions:
    """Reads the upload off the event loop; a file that cannot be imported raises
    DomainError("questions.sheet.<code>") (missing columns: `columns` holds field names)."""
    labels = list(known_labels)
    try:
        return await asyncio.to_thread(question_sheet.read_question_rows, data, known_labels=labels)
    except SheetError as exc:
        key = f"not_xlsx_{exc.params.get('kind', 'other')}" if exc.code == "not_xlsx" else exc.code
        if exc.code == "missing_columns" and exc.params.get("members"):
            key = "member_file"
        params = {k: v for k, v in exc.params.items() if k in ("limit", "columns", "count")}
        if exc.code == "too_large":
            params = {"limit": exc.params["limit"] // (1024 * 1024)}
        raise DomainError(f"questions.sheet.{key}", **params) from None


async def import_file(store: Store, clock: Clock, actor: Actor, org_id: int | None, data: bytes,
                      known_labels: Iterable[Mapping[str, str]] = ()) -> ImportResult:
    await check_bank(store, actor, org_id)
    parsed = await parse_file(data, known_labels)
    rows, rejected = await asyncio.to_thread(_checked_rows, parsed.rows)  # ~0.1 ms a row: off the loop
    added, updated, present, size = await store.add_questions(actor.id, org_id, rows, clock.now().isoformat())
    return ImportResult(added, present, rejected, size, parsed.sheet, parsed.ignored_sheets, updated)


StoreRow = tuple[str, str, str, str, str]  # kind, body JSON, answer JSON, tags, fingerprint


def _checked_rows(rows: list[QuestionRaw]) -> tuple[list[StoreRow], list[tuple[QuestionRaw, RowProblem]]]:
    valid, rejected = validate_rows(rows)
    return [q.store_row() for q in valid], rejected


async def bank_info(store: Store, actor: Actor, org_id: int | None) -> tuple[Org | None, int]:
    """The bank's organisation (None: global) and how many questions it holds."""
    org = await check_bank(store, actor, org_id)
    return org, await store.question_bank_size(org_id)


# ---------------------------------------------------------------- the demo bank

def demo_rows(path: Path = DEMO_PATH) -> list[QuestionRaw]:
    """The demo bank (bot/assets/demo_questions.json) as spreadsheet rows, so that it goes
    through exactly the checks an upload does."""
    items = json.loads(path.read_text(encoding="utf-8"))
    return [demo_row(n, item) for n, item in enumerate(items, 1)]


def demo_row(number: int, item: Mapping[str, Any]) -> QuestionRaw:
    options = list(item.get("options") or [])
    cells = tuple(options + [""] * (len(LETTERS) - len(options)))
    return QuestionRaw(number, item["type"], item["stem"], cells, item["answer"], item.get("explanation", ""),
                       item.get("tags", ""), item.get("stem_en", ""), "|".join(item.get("options_en") or []),
                       item.get("explanation_en", ""))


def example_rows() -> list[QuestionRaw]:
    """One demo question of each type, shown on the template's instructions sheet."""
    examples: dict[str, QuestionRaw] = {}
    for row in demo_rows():
        kind = parse_kind(row.kind) or ""
        if kind not in examples or (kind == "blank" and ";" in row.answer and ";" not in examples[kind].answer):
            examples[kind] = row  # a blank example with two blanks shows both separators
    return [examples[k] for k in ("single", "multiple", "judge", "blank") if k in examples]


async def load_demo_questions(store: Store, clock: Clock) -> int:
    """Adds the demo bank to the global bank; returns how many were new (0 the second time)."""
    rows = await asyncio.to_thread(demo_rows)
    valid, rejected = validate_rows(rows)
    if rejected:  # the asset is ours: a bad row is a bug, caught by tests/unit/test_questions.py
        raise ValueError(f"demo question {rejected[0][0].row_number}: {rejected[0][1].code}")
    added, _updated, _present, _size = await store.add_questions(None, None, [q.store_row() for q in valid],
                                                       clock.now().isoformat())
    return added

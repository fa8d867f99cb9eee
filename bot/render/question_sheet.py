"""Question-bank spreadsheets (LEARN-1): the import template, safe reading of uploaded files and
the annotated file of rejected rows. Bytes in, bytes out; the rules live in bot/services/questions.py.

Safety is the member sheet's (bot/render/excel.py): the same zip checks before openpyxl opens
the file read-only (with defusedxml), and the same formula-safe cell writers.

Labels
------
Writers take `labels`, a mapping with these keys (in the catalogues under ``questions.xlsx.``;
`labels_from` builds it): ``col.kind``, ``col.stem``, ``col.option`` (prefix of "选项A"…),
``col.answer``, ``col.explanation``, ``col.tags``, ``col.stem_en``, ``col.options_en``,
``col.explanation_en``, ``col.reason``, ``col.row``, ``sheet.questions``, ``sheet.help``,
``sheet.rejects``, ``help.lines``, ``help.examples``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

from bot.render import excel
from bot.render.excel import SheetError

if TYPE_CHECKING:  # openpyxl ships no types: this annotates, it checks nothing
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["LABEL_KEYS", "LETTERS", "ParsedQuestions", "QuestionRaw", "SheetError", "headers", "labels_from",
           "looks_like_questions", "question_template", "read_question_rows", "rejects_workbook", "row_cells"]

LETTERS = "ABCDEF"
MAX_ROWS = 10_000
FIELDS = ("kind", "stem", *(f"option_{c.lower()}" for c in LETTERS), "answer", "explanation", "tags",
          "stem_en", "options_en", "explanation_en")
REQUIRED = ("kind", "stem", "answer")
LABEL_KEYS = (
    "col.kind", "col.stem", "col.option", "col.answer", "col.explanation", "col.tags", "col.stem_en",
    "col.options_en", "col.explanation_en", "col.reason", "col.row", "sheet.questions", "sheet.help",
    "sheet.rejects", "help.lines", "help.examples",
)
_WIDTHS = (10, 50, *(18,) * len(LETTERS), 16, 40, 16, 50, 40, 40)

# Header texts recognised on upload (matching only; what people see comes from the catalogues).
_ALIASES: dict[str, tuple[str, ...]] = {
    "kind": ("题型", "题目类型", "试题类型", "类型", "type", "question type", "kind"),
    "stem": ("题干", "题目", "试题", "问题", "题目内容", "stem", "question"),
    "answer": ("答案", "正确答案", "标准答案", "参考答案", "answer", "correct answer", "key"),
    "explanation": ("解析", "答案解析", "试题解析", "explanation", "analysis"),
    "tags": ("标签", "知识点", "分类", "tags", "tag", "labels"),
    "stem_en": ("stem_en", "英文题干", "english stem", "question_en"),
    "options_en": ("options_en", "英文选项", "english options"),
    "explanation_en": ("explanation_en", "英文解析", "english explanation"),
}
for _letter in LETTERS:
    _ALIASES[f"option_{_letter.lower()}"] = (f"选项{_letter}", f"{_letter}选项", _letter, f"option {_letter}",
                                             f"option_{_letter}")
_MEMBER_HINTS = ("姓名", "手机号", "所属支部", "name", "phone")


class QuestionRaw(NamedTuple):
    row_number: int  # as Excel shows it
    kind: str
    stem: str
    options: tuple[str, ...]  # the six cells A…F, "" when empty
    answer: str
    explanation: str
    tags: str
    stem_en: str
    options_en: str
    explanation_en: str


@dataclass(frozen=True)
class ParsedQuestions:
    rows: list[QuestionRaw]
    sheet: str
    header_row: int
    ignored_sheets: list[str] = field(default_factory=list)


def labels_from(lookup: Callable[[str], str], prefix: str = "questions.xlsx.") -> dict[str, str]:
    return {key: lookup(prefix + key) for key in LABEL_KEYS}


def headers(labels: Mapping[str, str]) -> list[str]:
    """The template's header row; required columns carry a `*`."""
    out = []
    for f in FIELDS:
        if f.startswith("option_"):
            out.append(labels["col.option"] + f[-1].upper())
        else:
            out.append(labels[f"col.{f}"] + ("*" if f in REQUIRED else ""))
    return out


def row_cells(row: QuestionRaw) -> list[str]:
    """A row back in the template's column order (for the rejects file and the examples)."""
    return [row.kind, row.stem, *row.options, row.answer, row.explanation, row.tags, row.stem_en, row.options_en,
            row.explanation_en]


# ---------------------------------------------------------------- reading

def _alias_table(known_labels: Iterable[Mapping[str, str]]) -> dict[str, str]:
    aliases = {excel._norm_header(a): f for f, names in _ALIASES.items() for a in names}
    for labels in known_labels:
        for f, text in zip(FIELDS, headers(labels)):
            aliases[excel._norm_header(text)] = f
    return aliases


def read_question_rows(data: bytes, *, max_bytes: int = excel.MAX_BYTES, max_rows: int = MAX_ROWS,
                       known_labels: Iterable[Mapping[str, str]] = ()) -> ParsedQuestions:
    """Parse an uploaded question sheet or raise `SheetError` (codes as in excel.SheetError;
    missing_columns has `columns` (field names) and `members` (True when the header is a
    member list's)). Cells are trimmed strings; empty rows are skipped; nothing is validated."""
    aliases = _alias_table(known_labels)
    return excel.read_untrusted(data, max_bytes, lambda book: _parse(book, max_rows, aliases))


def looks_like_questions(data: bytes, known_labels: Iterable[Mapping[str, str]] = ()) -> bool:
    """Whether an upload's header row is a question sheet's (stem and answer columns); never raises."""
    try:
        read_question_rows(data, known_labels=known_labels, max_rows=1)
    except SheetError as exc:
        return exc.code in ("too_many_rows", "empty") and exc.params.get("header", False)
    except Exception:  # noqa: BLE001 - any other failure means: not a question sheet
        return False
    return True


def _find_header(sheet: Worksheet, aliases: dict[str, str]) -> tuple[int, dict[str, int]]:
    best: tuple[int, dict[str, int]] | None = None
    texts: list[str] = []
    for number, values in enumerate(sheet.iter_rows(min_row=1, max_row=excel.HEADER_SCAN_ROWS,
                                                    max_col=excel.HEADER_SCAN_COLS, values_only=True), 1):
        columns: dict[str, int] = {}
        for index, value in enumerate(values):
            text = excel._text(value)
            if not text:
                continue
            texts.append(excel._norm_header(text))
            f = aliases.get(excel._norm_header(text))
            if f is not None:
                columns.setdefault(f, index)
        if columns and (best is None or len(columns) > len(best[1])):
            best = (number, columns)
        if all(f in columns for f in REQUIRED):
            break
    if best is None and not texts:
        raise SheetError("empty")
    missing = [f for f in REQUIRED if best is None or f not in best[1]]
    if missing:
        members = sum(excel._norm_header(h) in texts for h in _MEMBER_HINTS) >= 2
        raise SheetError("missing_columns", columns=missing, members=members)
    assert best is not None  # every required column was found in some row
    return best


def _parse(book: Workbook, max_rows: int, aliases: dict[str, str]) -> ParsedQuestions:
    sheets = book.worksheets
    if not sheets:
        raise SheetError("empty")
    sheet = sheets[0]
    help_titles = {excel._norm_header(s) for s in excel._HELP_SHEETS}
    ignored = [s.title for s in sheets[1:] if excel._norm_header(s.title) not in help_titles]
    sheet.reset_dimensions()  # the file's own <dimension> may claim a million rows
    header_row, columns = _find_header(sheet, aliases)
    wanted = [columns.get(f) for f in FIELDS]
    width = max(i for i in wanted if i is not None) + 1
    rows: list[QuestionRaw] = []
    number = header_row
    for values in sheet.iter_rows(min_row=header_row + 1, max_col=width, values_only=True):
        number += 1
        cells = [excel._text(values[i]) if i is not None and i < len(values) else "" for i in wanted]
        if not any(cells):
            continue
        if len(rows) == max_rows:
            raise SheetError("too_many_rows", limit=max_rows, header=True)
        rows.append(QuestionRaw(number, cells[0], cells[1], tuple(cells[2:8]), *cells[8:]))
    if not rows:
        raise SheetError("empty", header=True)
    return ParsedQuestions(rows, sheet.title, header_row, ignored)


# ---------------------------------------------------------------- writing

def question_template(labels: Mapping[str, str], examples: Sequence[QuestionRaw] = ()) -> bytes:
    """The import template: an empty question sheet with its header row, and an instructions
    sheet with the formats and, below them, example rows (one per question type)."""
    book = Workbook()
    sheet = book.active
    sheet.title = excel._sheet_title(labels["sheet.questions"])
    _header_row(sheet, 1, headers(labels))
    for index in range(1, len(FIELDS) + 1):
        sheet.column_dimensions[get_column_letter(index)].number_format = "@"  # "AC", "1949" stay text
    sheet.freeze_panes = "A2"

    guide = book.create_sheet(excel._sheet_title(labels["sheet.help"]))
    lines = labels["help.lines"].strip().splitlines()
    for number, line in enumerate(lines, 1):
        cell = guide.cell(row=number, column=1)
        excel._set(cell, line.strip())
        cell.alignment = Alignment(wrap_text=False, vertical="top")
    guide.cell(row=1, column=1).font = excel._HEADER_FONT
    if examples:
        start = len(lines) + 2
        head = guide.cell(row=start, column=1)
        excel._set(head, labels["help.examples"])
        head.font = excel._HEADER_FONT
        _header_row(guide, start + 1, headers(labels))
        for offset, example in enumerate(examples, start + 2):
            for index, value in enumerate(row_cells(example), 1):
                cell = guide.cell(row=offset, column=index)
                excel._set(cell, value)
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index, width in enumerate(_WIDTHS, 1):
        guide.column_dimensions[get_column_letter(index)].width = width
    return excel._save(book)


def _header_row(sheet: Worksheet, number: int, texts: Sequence[str]) -> None:
    for index, (text, width) in enumerate(zip(texts, _WIDTHS), 1):
        cell = sheet.cell(row=number, column=index)
        excel._set(cell, text)
        cell.font = excel._HEADER_FONT
        cell.fill = excel._REQUIRED_FILL if text.endswith("*") else excel._HEADER_FILL
        sheet.column_dimensions[get_column_letter(index)].width = width


def rejects_workbook(labels: Mapping[str, str], rows: Iterable[tuple[QuestionRaw, str]]) -> bytes:
    """The rows that were not imported: the template's columns, then the reason (already
    localized, highlighted) and the row number in the uploaded file. It can be fixed and sent back."""
    head = headers(labels) + [labels["col.reason"], labels["col.row"]]
    table = ([*row_cells(row), reason, row.row_number] for row, reason in rows)
    styles = (excel.PLAIN,) * len(FIELDS) + (excel.REASON, excel.PLAIN)
    return excel._table_xlsx(labels["sheet.rejects"], head, (*_WIDTHS, 40, 10), table, styles)

"""Member spreadsheets (MEM-4, MEM-5): the import template, safe reading of uploaded files,
the annotated file of rejected rows and the member export. Bytes in, bytes out.

Labels
------
Every text a person sees comes from the locale catalogues. Writers take `labels`, a mapping
with these keys (in the catalogues under ``xlsx.``; `labels_from` builds the mapping):

- ``col.name``, ``col.phone``, ``col.branch``, ``col.note`` — member columns (the template
  adds ``*`` to the three required ones);
- ``col.reason``, ``col.row`` — the rejects file's reason and original-row columns;
- ``col.activated``, ``col.points_7d``, ``col.points_total`` — export columns;
- ``value.yes``, ``value.no`` — the export's "activated" cells;
- ``sheet.members``, ``sheet.help``, ``sheet.rejects``, ``sheet.export`` — sheet names;
- ``help.lines`` — the template's instructions, one spreadsheet row per line;
- ``help.branches`` — heading of the list of existing branches on the instructions sheet;
- ``validation.title``, ``validation.message`` — the warning of the branch drop-down.

Reading recognises header texts of both languages through a built-in alias table (matching
only, never shown) plus the ``col.*`` labels of any catalogue passed as `known_labels`.

Safety
------
Uploads are checked as zip archives (size, entry count, uncompressed size, compression ratio)
before openpyxl opens them read-only (with defusedxml) and only the first sheet is read.
Every string written that starts with ``= + - @``, tab or CR is stored as text with a leading
``'`` and Excel's quote-prefix style, so no spreadsheet program runs it as a formula; reading
strips that ``'`` again, so our own files round-trip. The template is built with openpyxl; the
long tables (rejects, export) are streamed by a small SpreadsheetML writer here, for speed.
"""
from __future__ import annotations

import html
import math
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from io import BytesIO
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import openpyxl
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from bot.render.phone import InvalidPhone, normalize_phone

if TYPE_CHECKING:  # openpyxl ships no types: these annotate, they check nothing
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = [
    "LABEL_KEYS", "MAX_BYTES", "MAX_ROWS", "MemberRow", "ParsedSheet", "RawRow", "RowProblem",
    "SheetError", "labels_from", "member_template", "members_export", "read_member_rows",
    "rejects_workbook", "validate_rows",
]

LABEL_KEYS = (
    "col.name", "col.phone", "col.branch", "col.note", "col.reason", "col.row",
    "col.activated", "col.points_7d", "col.points_total", "value.yes", "value.no",
    "sheet.members", "sheet.help", "sheet.rejects", "sheet.export",
    "help.lines", "help.branches", "validation.title", "validation.message",
)

MAX_BYTES = 20 * 1024 * 1024  # Telegram lets bots download 20 MB
MAX_ROWS = 60_000
MAX_ENTRIES = 200
MAX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_RATIO = 100  # sheet XML compresses ~5-20x; a bomb compresses ~1000x
RATIO_FLOOR = 1024 * 1024  # small parts may compress as they like
HEADER_SCAN_ROWS = 20
HEADER_SCAN_COLS = 50
MAX_CELL_TEXT = 32_000  # Excel's limit is 32,767 characters per cell
MAX_NAME = 20
MAX_NOTE = 200

FIELDS = ("name", "phone", "branch", "note")
REQUIRED = ("name", "phone", "branch")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls and password-protected .xlsx
T = TypeVar("T")
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")

# Header texts recognised on upload (matching only; what people see comes from the catalogues).
_HEADER_ALIASES = {
    "name": ("姓名", "名字", "党员姓名", "成员姓名", "name", "full name", "member name"),
    "phone": ("手机号", "手机号码", "手机", "电话", "电话号码", "联系电话", "phone", "phone number",
              "mobile", "mobile phone", "mobile number", "telephone", "tel"),
    "branch": ("所属支部", "支部", "支部名称", "所在支部", "党支部", "所属党支部", "branch",
               "branch name", "party branch"),
    "note": ("备注", "note", "notes", "remark", "remarks", "comment"),
}
_EXCEL_UNESCAPE = re.compile(r"_x005F_(x[0-9A-Fa-f]{4}_)")  # openpyxl leaves it in inline strings
_HELP_SHEETS = ("说明", "填写说明", "instructions", "help")

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")


class SheetError(Exception):
    """A file that cannot be imported. `code` is one of too_large, not_xlsx (params: kind =
    xls | zip | other), too_many_parts (count, limit: zip entries), zip_bomb (reason = size | ratio), unreadable, empty,
    missing_columns (columns: field names among name, phone, branch), too_many_rows (limit)."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params


class RawRow(NamedTuple):
    row_number: int  # as Excel shows it
    name: str
    phone: str
    branch: str
    note: str


@dataclass(frozen=True)
class ParsedSheet:
    rows: list[RawRow]
    sheet: str  # title of the sheet that was read
    header_row: int
    ignored_sheets: list[str] = field(default_factory=list)  # other sheets, not read
    ignored_columns: list[str] = field(default_factory=list)  # header texts we do not know


def labels_from(lookup: Callable[[str], str], prefix: str = "xlsx.") -> dict[str, str]:
    """The labels mapping from a catalogue lookup, e.g. ``labels_from(lambda k: i18n.t("zh", k))``."""
    return {key: lookup(prefix + key) for key in LABEL_KEYS}


# ---------------------------------------------------------------- reading

def _norm_header(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    text = re.sub(r"\(.*?\)|\[.*?\]|【.*?】", "", text)  # "手机号(必填)"
    return re.sub(r"[\s*:_]+", "", text)


def _alias_table(known_labels: Iterable[Mapping[str, str]]) -> tuple[dict[str, str], set[str]]:
    aliases = {_norm_header(a): f for f, names in _HEADER_ALIASES.items() for a in names}
    help_sheets = {_norm_header(s) for s in _HELP_SHEETS}
    for labels in known_labels:
        for f in FIELDS:
            if labels.get(f"col.{f}"):
                aliases[_norm_header(labels[f"col.{f}"])] = f
        if labels.get("sheet.help"):
            help_sheets.add(_norm_header(labels["sheet.help"]))
    return aliases, help_sheets


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
            text = text[1:].strip()  # our own escape, see _string_cell
        if "_x005F_" in text:
            text = _EXCEL_UNESCAPE.sub(r"_\1", text)
        return text
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e17:
        return str(int(value))  # 13800000000 typed into a number cell
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _check_container(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise SheetError("too_large", size=len(data), limit=max_bytes)
    if data[:8] == _OLE_MAGIC:
        raise SheetError("not_xlsx", kind="xls")
    buffer = BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        raise SheetError("not_xlsx", kind="other")
    try:
        with zipfile.ZipFile(buffer) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise SheetError("not_xlsx", kind="other") from exc
    # The declared sizes are enough: zipfile stops inflating an entry at its declared size
    # and fails its CRC check, so a part cannot grow past what is checked here.
    if len(entries) > MAX_ENTRIES:  # many parts, not necessarily large: say so, not "too large"
        raise SheetError("too_many_parts", count=len(entries), limit=MAX_ENTRIES)
    if sum(e.file_size for e in entries) > MAX_UNCOMPRESSED:
        raise SheetError("zip_bomb", reason="size")
    for e in entries:
        if e.file_size > RATIO_FLOOR and e.file_size > MAX_RATIO * max(e.compress_size, 1):
            raise SheetError("zip_bomb", reason="ratio")
    names = {e.filename for e in entries}
    if "[Content_Types].xml" not in names or any(e.flag_bits & 0x1 for e in entries):
        raise SheetError("not_xlsx", kind="zip")


def read_member_rows(data: bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS,
                     known_labels: Iterable[Mapping[str, str]] = ()) -> ParsedSheet:
    """Parse an uploaded member sheet (MEM-4) or raise `SheetError`. Rows are returned as
    trimmed strings; empty rows are skipped; nothing is validated beyond the layout."""
    aliases, help_sheets = _alias_table(known_labels)
    return read_untrusted(data, max_bytes, lambda book: _parse(book, max_rows, aliases, help_sheets))


def read_untrusted(data: bytes, max_bytes: int, parse: Callable[[Any], T]) -> T:
    """An uploaded workbook, checked as a container first, opened read-only and handed to `parse`;
    any failure of the parser on this untrusted input is SheetError("unreadable"), never a crash."""
    _check_container(data, max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about extensions it drops
            book = openpyxl.load_workbook(BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # untrusted input: any parser failure means "cannot read this file"
        raise SheetError("unreadable") from exc
    try:
        return parse(book)
    except SheetError:
        raise
    except Exception as exc:
        raise SheetError("unreadable") from exc
    finally:
        book.close()


def _find_header(sheet: Worksheet, aliases: dict[str, str]) -> tuple[int, dict[str, int], list[str]]:
    best: tuple[int, dict[str, int], list[str]] | None = None
    seen_anything = False
    for number, values in enumerate(sheet.iter_rows(min_row=1, max_row=HEADER_SCAN_ROWS,
                                                    max_col=HEADER_SCAN_COLS, values_only=True), 1):
        columns: dict[str, int] = {}
        unknown: list[str] = []
        for index, value in enumerate(values):
            text = _text(value)
            if not text:
                continue
            seen_anything = True
            f = aliases.get(_norm_header(text))
            if f is None:
                unknown.append(text)
            else:
                columns.setdefault(f, index)
        if columns and (best is None or len(columns) > len(best[1])):
            best = (number, columns, unknown)
        if all(f in columns for f in REQUIRED):
            break
    if best is None:
        if not seen_anything:
            raise SheetError("empty")
        raise SheetError("missing_columns", columns=list(REQUIRED))
    missing = [f for f in REQUIRED if f not in best[1]]
    if missing:
        raise SheetError("missing_columns", columns=missing, header_row=best[0])
    return best


def _parse(book: Workbook, max_rows: int, aliases: dict[str, str], help_sheets: set[str]) -> ParsedSheet:
    sheets = book.worksheets
    if not sheets:
        raise SheetError("empty")
    sheet = sheets[0]
    ignored = [s.title for s in sheets[1:] if _norm_header(s.title) not in help_sheets]
    sheet.reset_dimensions()  # the file's own <dimension> may claim a million rows
    header_row, columns, unknown = _find_header(sheet, aliases)
    wanted = [columns.get(f) for f in FIELDS]
    width = max(i for i in wanted if i is not None) + 1
    rows: list[RawRow] = []
    number = header_row
    for values in sheet.iter_rows(min_row=header_row + 1, max_col=width, values_only=True):
        number += 1
        cells = [_text(values[i]) if i is not None else "" for i in wanted]
        if not any(cells):
            continue
        if len(rows) == max_rows:
            raise SheetError("too_many_rows", limit=max_rows)
        rows.append(RawRow(number, *cells))
    if not rows:
        raise SheetError("empty")
    return ParsedSheet(rows, sheet.title, header_row, ignored, unknown)


# ---------------------------------------------------------------- checking rows

@dataclass(frozen=True, slots=True)
class MemberRow:
    row_number: int
    name: str
    phone: str  # E.164
    branch: str  # as spelled in `branches` when it matched one
    note: str


@dataclass(frozen=True, slots=True)
class RowProblem:
    """code: missing_name, missing_phone, missing_branch, name_too_long, note_too_long,
    bad_phone (params: phone_code from InvalidPhone), unknown_branch, duplicate_phone
    (params: first_row)."""
    code: str
    params: dict[str, Any] = field(default_factory=dict)


def _norm_branch(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def validate_rows(rows: Iterable[RawRow], branches: Collection[str] | None = None
                  ) -> tuple[list[MemberRow], list[tuple[RawRow, RowProblem]]]:
    """Split rows into valid members and (row, problem) pairs, by the rules that need no
    database (MEM-4). `branches=None` accepts any branch name (creation was requested)."""
    known = None if branches is None else {_norm_branch(b): b for b in branches}
    first_row: dict[str, int] = {}
    valid: list[MemberRow] = []
    rejected: list[tuple[RawRow, RowProblem]] = []
    for row in rows:
        problem, phone, branch = None, "", row.branch
        if not row.name:
            problem = RowProblem("missing_name")
        elif len(row.name) > MAX_NAME:
            problem = RowProblem("name_too_long", {"limit": MAX_NAME})
        elif not row.phone:
            problem = RowProblem("missing_phone")
        elif not row.branch:
            problem = RowProblem("missing_branch")
        elif len(row.note) > MAX_NOTE:
            problem = RowProblem("note_too_long", {"limit": MAX_NOTE})
        else:
            try:
                phone = normalize_phone(row.phone)
            except InvalidPhone as exc:
                problem = RowProblem("bad_phone", {"phone_code": exc.code})
            else:
                if known is not None:
                    branch = known.get(_norm_branch(row.branch), "")
                    if not branch:
                        problem = RowProblem("unknown_branch", {"branch": row.branch})
                if problem is None and phone in first_row:
                    problem = RowProblem("duplicate_phone", {"first_row": first_row[phone]})
        if problem is not None:
            rejected.append((row, problem))
            continue
        first_row[phone] = row.row_number
        valid.append(MemberRow(row.row_number, row.name, phone, branch, row.note))
    return valid, rejected


# ---------------------------------------------------------------- writing

def _set(cell: Any, value: Any) -> None:
    """Put `value` into an openpyxl cell; strings that could pass for a formula are
    quote-prefixed text (the same rule as `_string_cell`)."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        risky = value.startswith(_DANGEROUS)
        cell.value = "'" + value if risky else value
        cell.data_type = "s"
        if risky:
            cell.quotePrefix = True
    else:
        cell.value = value


def _sheet_title(text: str) -> str:
    title = re.sub(r"[\[\]:*?/\\]", " ", text).strip().strip("'")[:31]
    return title or "Sheet1"


def _save(book: Workbook) -> bytes:
    out = BytesIO()
    book.save(out)
    return out.getvalue()


# Tables of any length are streamed as SpreadsheetML by hand: openpyxl's write-only mode
# spends ~25 us of pure-Python XML serialisation per cell (7.5 s CPU for a 50,000-member
# export), this writer ~1 us. Excel, WPS, LibreOffice and openpyxl read the result.
_NS = ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PKG = "http://schemas.openxmlformats.org/package/2006"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_STATIC_PARTS = {
    "[Content_Types].xml": (
        f'<Types xmlns="{_PKG}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/></Types>'),
    "_rels/.rels": (
        f'<Relationships xmlns="{_PKG}/relationships"><Relationship Id="rId1" '
        f'Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_PKG}/relationships">'
        f'<Relationship Id="rId1" Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_DOC}/styles" Target="styles.xml"/></Relationships>'),
    # Cell styles: 0 plain, 1 header (bold, blue), 2 quote-prefixed text, 3 reason (red),
    # 4 quote-prefixed reason.
    "xl/styles.xml": (
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="3"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        '<font><color rgb="FF9C0006"/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
        '<fills count="4"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill>'
        '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/></patternFill></fill>'
        '<fill><patternFill patternType="solid"><fgColor rgb="FFFFC7CE"/><bgColor indexed="64"/></patternFill></fill>'
        '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
        '<xf numFmtId="0" fontId="2" fillId="3" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
        '<xf numFmtId="0" fontId="2" fillId="3" borderId="0" xfId="0" applyFont="1" applyFill="1" quotePrefix="1"/>'
        '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '</styleSheet>'),
}
PLAIN, HEADER, REASON = 0, 1, 3
_QUOTED = {PLAIN: 2, HEADER: 2, REASON: 4}
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")  # Excel would decode a literal "_x0041_"


def _string_cell(ref: str, text: str, style: int) -> str:
    text = ILLEGAL_CHARACTERS_RE.sub("", text)[:MAX_CELL_TEXT]
    if text.startswith(_DANGEROUS):
        text, style = "'" + text, _QUOTED[style]
    if "_x" in text:
        text = _EXCEL_ESCAPE.sub(r"_x005F_\1", text)
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}" t="inlineStr"{s}><is><t xml:space="preserve">{text.translate(_XML_ESCAPES)}</t></is></c>'


def _row_xml(number: int, values: Sequence[Any], styles: Sequence[int], letters: Sequence[str]) -> str:
    cells = []
    for letter, value, style in zip(letters, values, styles):
        ref = f"{letter}{number}"
        if value is None or value == "":
            continue
        if isinstance(value, str):
            cells.append(_string_cell(ref, value, style))
        elif isinstance(value, bool):
            cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
        elif isinstance(value, (int, float, Decimal)) and math.isfinite(value):
            cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        else:
            cells.append(_string_cell(ref, str(value), style))
    return f'<row r="{number}">{"".join(cells)}</row>'


def _table_xlsx(title: str, headers: Sequence[str], widths: Sequence[float],
                rows: Iterable[Sequence[Any]], styles: Sequence[int]) -> bytes:
    """One sheet: a bold frozen header row, then `rows`; every string is a text cell."""
    letters = [get_column_letter(i) for i in range(1, len(headers) + 1)]
    body = [_row_xml(1, headers, [HEADER] * len(headers), letters)]
    body.extend(_row_xml(n, row, styles, letters) for n, row in enumerate(rows, 2))
    cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths, 1))
    sheet_head = (
        f'{_XML}<worksheet {_NS}><dimension ref="A1:{letters[-1]}{len(body)}"/>'
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
        'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" '
        'sqref="A2"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
        f'<cols>{cols}</cols><sheetData>')
    name = html.escape(_sheet_title(title), quote=True)
    workbook = f'{_XML}<workbook {_NS}><sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, xml in _STATIC_PARTS.items():
            archive.writestr(part, _XML + xml)
        archive.writestr("xl/workbook.xml", workbook)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(sheet_head.encode())
            for start in range(0, len(body), 2000):
                sheet.write("".join(body[start:start + 2000]).encode())
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def simple_table_xlsx(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """One sheet of plain text cells under a bold header row (e.g. an activity's attendance, WORK-2)."""
    return _table_xlsx(title, headers, [20.0] * len(headers), rows, [PLAIN] * len(headers))


def _member_headers(labels: Mapping[str, str]) -> list[str]:
    return [labels["col.name"] + "*", labels["col.phone"] + "*", labels["col.branch"] + "*", labels["col.note"]]


def member_template(labels: Mapping[str, str], branches: Sequence[str] = ()) -> bytes:
    """The import template (MEM-4): a header row, an instructions sheet listing the existing
    branches, and a drop-down on the branch column (a warning, so a new branch can be typed)."""
    book = Workbook()
    sheet = book.active
    sheet.title = _sheet_title(labels["sheet.members"])
    for index, (header, width) in enumerate(zip(_member_headers(labels), (16, 20, 26, 30)), 1):
        cell = sheet.cell(row=1, column=index)
        _set(cell, header)
        cell.font = _HEADER_FONT
        cell.fill = _REQUIRED_FILL if index <= 3 else _HEADER_FILL
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.column_dimensions["B"].number_format = "@"  # phones typed as text keep every digit
    sheet.freeze_panes = "A2"

    guide = book.create_sheet(_sheet_title(labels["sheet.help"]))
    guide.column_dimensions["A"].width = 90
    guide.column_dimensions["C"].width = 30
    for number, line in enumerate(labels["help.lines"].strip().splitlines(), 1):
        cell = guide.cell(row=number, column=1)
        _set(cell, line.strip())
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    guide.cell(row=1, column=1).font = _HEADER_FONT
    head = guide.cell(row=1, column=3)
    _set(head, labels["help.branches"])
    head.font = _HEADER_FONT
    for number, branch in enumerate(branches, 2):
        _set(guide.cell(row=number, column=3), branch)
    if branches:
        quoted = guide.title.replace("'", "''")
        rule = DataValidation(type="list", formula1=f"'{quoted}'!$C$2:$C${len(branches) + 1}",
                              allow_blank=True, showErrorMessage=True, errorStyle="warning",
                              errorTitle=labels["validation.title"][:32],
                              error=labels["validation.message"][:255])
        rule.add(f"C2:C{MAX_ROWS + 1}")
        sheet.add_data_validation(rule)
    return _save(book)


def rejects_workbook(header_labels: Mapping[str, str], rows: Iterable[tuple[RawRow, str]]) -> bytes:
    """The rows that were not imported (MEM-4): the template's columns, then the reason
    (already localized, highlighted) and the row number in the uploaded file. The admin can
    fix the rows and send this file back as it is."""
    labels = header_labels
    headers = _member_headers(labels) + [labels["col.reason"], labels["col.row"]]
    table = ([row.name, row.phone, row.branch, row.note, reason, row.row_number] for row, reason in rows)
    return _table_xlsx(labels["sheet.rejects"], headers, (16, 20, 26, 30, 40, 10), table,
                       (PLAIN, PLAIN, PLAIN, PLAIN, REASON, PLAIN))


def members_export(labels: Mapping[str, str], rows: Iterable[tuple[Any, ...]]) -> bytes:
    """The member list (MEM-5). Each row: (name, phone, branch, activated: bool,
    points_7d, points_total). Pass mainland phones as 11 digits to spare them the text marker."""
    headers = [labels["col.name"], labels["col.phone"], labels["col.branch"], labels["col.activated"],
               labels["col.points_7d"], labels["col.points_total"]]
    yes, no = labels["value.yes"], labels["value.no"]
    table = ([name, phone, branch, yes if activated else no, points_7d, points_total]
             for name, phone, branch, activated, points_7d, points_total in rows)
    return _table_xlsx(labels["sheet.export"], headers, (16, 20, 26, 10, 14, 12), table, (PLAIN,) * 6)

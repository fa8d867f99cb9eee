"""The organisation report as .xlsx (REP-4): one sheet per table - organisations by day, members by
day - each with a bold frozen header, an autofilter, number formats and column widths.

Input is plain rows and already localized labels; the output is the workbook's bytes. Strings pass
through excel.py's `_set`, so a name that looks like a formula stays text.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.render.excel import _save, _set, _sheet_title

__all__ = ["Sheet", "report_workbook", "INT", "DEC2", "PCT1", "TEXT", "DATE"]

INT, DEC2, PCT1, TEXT, DATE = "0", "0.00", "0.0\\%", "@", "yyyy-mm-dd"
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


@dataclass(frozen=True)
class Sheet:
    title: str
    headers: Sequence[str]
    formats: Sequence[str]   # one number format per column (TEXT for text columns)
    widths: Sequence[float]
    rows: Sequence[Sequence[Any]]


def report_workbook(sheets: Sequence[Sheet], properties: Mapping[str, str] | None = None) -> bytes:
    book = Workbook()
    first = True
    for spec in sheets:
        sheet = book.active if first else book.create_sheet()
        first = False
        assert sheet is not None
        sheet.title = _sheet_title(spec.title)
        for col, (header, width) in enumerate(zip(spec.headers, spec.widths), 1):
            cell = sheet.cell(row=1, column=col)
            _set(cell, header)
            cell.font = _HEADER_FONT
            cell.fill = _HEADER_FILL
            sheet.column_dimensions[get_column_letter(col)].width = width
        for r, row in enumerate(spec.rows, 2):
            for col, (value, fmt) in enumerate(zip(row, spec.formats), 1):
                if value is None:
                    continue
                cell = sheet.cell(row=r, column=col)
                _set(cell, value)
                if fmt != TEXT:
                    cell.number_format = fmt
        sheet.freeze_panes = "A2"
        last = get_column_letter(max(len(spec.headers), 1))
        sheet.auto_filter.ref = f"A1:{last}{max(len(spec.rows) + 1, 2)}"
    if properties:
        book.properties.title = properties.get("title")
    return _save(book)

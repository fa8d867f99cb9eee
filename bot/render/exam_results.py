"""The results workbook of a special exam (LEARN-6): one sheet of people (passed / failed / not
started, best score, attempts, time), one of item statistics and the exam's summary figures.
Plain values in, .xlsx bytes out; text cells go through excel._set (formula-looking text quoted)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font

from bot.render.excel import _save, _set, _sheet_title

PersonRow = tuple[str, str, "int | None", int, "int | None"]          # name, phone, best, attempts, seconds
ItemRow = tuple[int, str, float, "float | None", str]                 # position (1-based), stem, facility, disc, flag


def results_workbook(labels: Mapping[str, str], title: str, pass_mark: int, people: Sequence[PersonRow],
                     items: Sequence[ItemRow], summary: Sequence[tuple[str, float | int | str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _sheet_title(labels["results"])
    bold = Font(bold=True)
    _set(sheet.cell(row=1, column=1), title)
    sheet.cell(row=1, column=1).font = bold
    headers = [labels[k] for k in ("name", "phone", "best", "attempts", "time", "verdict")]
    for col, header in enumerate(headers, start=1):
        _set(sheet.cell(row=2, column=col), header)
        sheet.cell(row=2, column=col).font = bold
    for r, (name, phone, best, attempts, seconds) in enumerate(people, start=3):
        verdict = labels["not_started"] if best is None else labels["passed" if best >= pass_mark else "failed"]
        values: tuple[object, ...] = (name, phone, best if best is not None else "", attempts,
                                      seconds if seconds is not None else "", verdict)
        for col, value in enumerate(values, start=1):
            _set(sheet.cell(row=r, column=col), value)
    for letter, width in zip("ABCDEF", (14, 16, 10, 10, 12, 10)):
        sheet.column_dimensions[letter].width = width
    stats = book.create_sheet(_sheet_title(labels["items"]))
    for col, key in enumerate(("position", "stem", "facility", "discrimination", "flag"), start=1):
        _set(stats.cell(row=1, column=col), labels[key])
        stats.cell(row=1, column=col).font = bold
    for r, (position, stem, facility, disc, flag) in enumerate(items, start=2):
        cells: tuple[object, ...] = (position, stem, round(facility, 4), "" if disc is None else round(disc, 4), flag)
        for col, cell in enumerate(cells, start=1):
            _set(stats.cell(row=r, column=col), cell)
    stats.column_dimensions["B"].width = 48
    start = len(items) + 3
    _set(stats.cell(row=start, column=1), labels["summary"])
    stats.cell(row=start, column=1).font = bold
    for r, (label, figure) in enumerate(summary, start=start + 1):
        _set(stats.cell(row=r, column=1), label)
        _set(stats.cell(row=r, column=2), figure)
    return _save(book)

"""Hostile and random .xlsx uploads, for hypothesis: the bot's own template with random cells and
formula-looking text appended, corrupt copies of it, zip bombs (declared and real), zips that are not
workbooks, bytes that are not zips at all, and one sheet over the row limit."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import datetime
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

import openpyxl
from hypothesis import strategies as st

from bot.render.excel import MAX_ENTRIES
from tests.fuzz.strategies import typed_text

FORMULAS = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/x","点我")', "=1+1", "+13800138000", "-2+3",
            "@SUM(A1:A2)", "=WEBSERVICE(\"http://x\")", "=DDE(\"cmd\";\"/C calc\";\"A0\")", "\t=1+1", "\r=1+1",
            "'=1+1", "=" + "A" * 300]
_cell = st.one_of(
    st.none(),
    typed_text().map(lambda s: s[:200]),
    st.sampled_from(FORMULAS),
    st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 1, 1)),
    st.sampled_from(["张伟", "13800138000", "+8613900001111", "第一党支部", "机关党总支", "单选", "判断", "A", "A,B"]),
)
rows = st.lists(st.lists(_cell, min_size=1, max_size=8), min_size=1, max_size=6)


def fill(template: bytes, new_rows: list[list[Any]], formulas_as_formulas: bool = True) -> bytes:
    """The template with `new_rows` appended under its header (openpyxl writes "=..." as a formula)."""
    book = openpyxl.load_workbook(io.BytesIO(template))
    sheet = book.worksheets[0]
    for row in new_rows:
        cleaned = []
        for value in row:
            if isinstance(value, str):
                value = "".join(ch for ch in value if ch >= " " or ch in "\t\n\r")  # XML 1.0 characters only
                if not formulas_as_formulas and value.startswith("="):
                    value = "'" + value
            elif isinstance(value, float) and (value != value or abs(value) == float("inf")):
                value = str(value)
            cleaned.append(value)
        sheet.append(cleaned)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _zip(entries: dict[str, bytes], level: int = 6) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


@cache
def real_bomb() -> bytes:
    """A part of 50 MB of zeros that deflates to ~50 kB (ratio ~1000)."""
    return _zip({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": bytes(50 * 1024 * 1024)}, 9)


def declared_bomb(template: bytes) -> bytes:
    """The template whose central directory claims a part of 4 GB (sizes patched, data unchanged)."""
    data = bytearray(template)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        struct.pack_into("<I", data, at + 24, 0xFFFFFFF0)  # uncompressed size in the central directory
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


@cache
def over_the_row_limit(template: bytes, limit: int) -> bytes:
    """The template with `limit` + 1 filled rows: its sheet XML written directly (openpyxl would take
    seconds), one name cell per row after the template's own header."""
    source = openpyxl.load_workbook(io.BytesIO(template))
    header = [c.value for c in next(source.worksheets[0].iter_rows(max_row=1))]
    cells = "".join(f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>'
                    for i, v in enumerate(header) if v is not None)
    body = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>人{r}</t></is></c></row>'
                   for r in range(2, limit + 3))
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             f'spreadsheetml/2006/main"><sheetData><row r="1">{cells}</row>{body}</sheetData></worksheet>')
    archive = zipfile.ZipFile(io.BytesIO(template))
    entries = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    entries["xl/worksheets/sheet1.xml"] = sheet.encode()
    return _zip(entries)


def claims_a_million_rows(template: bytes) -> bytes:
    """The template whose sheet says its dimension is A1:XFD1048576."""
    source = zipfile.ZipFile(io.BytesIO(template))
    entries = {i.filename: source.read(i.filename) for i in source.infolist()}
    for name, data in entries.items():
        if name.startswith("xl/worksheets/") and name.endswith(".xml"):
            text = data.decode()
            if "<dimension" in text:
                start = text.index("<dimension")
                end = text.index("/>", start) + 2
                text = text[:start] + '<dimension ref="A1:XFD1048576"/>' + text[end:]
            entries[name] = text.encode()
    return _zip(entries)


def hostile(template: bytes) -> st.SearchStrategy[tuple[str, bytes]]:
    """(what it is, its bytes): files that must be refused with a specific message, importing nothing."""
    return st.one_of(
        st.builds(lambda n: ("truncated", template[:n]), st.integers(0, max(len(template) - 1, 0))),
        st.builds(lambda at, b: ("corrupted", template[:at] + bytes([b]) * 64 + template[at + 64:]),
                  st.integers(30, max(len(template) - 64, 31)), st.integers(0, 255)),
        st.binary(min_size=0, max_size=2000).map(lambda b: ("random bytes", b)),
        st.sampled_from([
            ("empty", b""),
            ("xls (OLE)", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)),
            ("pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF"),
            ("png", b"\x89PNG\r\n\x1a\n" + bytes(100)),
            ("csv", "姓名,手机号,支部\n张三,13800138000,第一党支部\n".encode()),
            ("zip, not a workbook", _zip({"readme.txt": b"hello"})),
            ("zip of zips", _zip({"[Content_Types].xml": b"<Types/>", "inner.xlsx": template})),
            ("many parts", _zip({"[Content_Types].xml": b"<Types/>",
                                 **{f"xl/p{i}.xml": b"<a/>" for i in range(MAX_ENTRIES + 1)}})),
            ("bad XML parts", _zip({"[Content_Types].xml": b"<Types", "xl/workbook.xml": b"\x00\x01<<"})),
            ("deflate garbage", b"PK\x03\x04" + zlib.compress(b"x" * 100)),
        ]),
        st.just(("declared 4 GB part", declared_bomb(template))),
        st.just(("real zip bomb", real_bomb())),
    )

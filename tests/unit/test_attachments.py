"""Attachments are judged by what they hold, not by their names (WORK-1, WORK-3)."""
from __future__ import annotations

import zipfile
from io import BytesIO

import pytest

from bot.errors import DomainError
from bot.services.attachments import check_content, sniff

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64 + b"This program cannot be run"


def docx() -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def plain_zip() -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("setup.exe", EXE)
    return out.getvalue()


@pytest.mark.parametrize("data, kind", [
    (b"%PDF-1.7\n...", "pdf"), (docx(), "office"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 8, "office97"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"), (b"\x89PNG\r\n\x1a\n\x00\x00", "png"), (b"GIF89a..", "gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"), (b"\x00\x00\x00\x18ftypmp42", "mp4"),
    ("学习心得：……".encode(), "text"), ("学习心得".encode("gbk"), "text"),
    (EXE, None), (plain_zip(), None), (b"\x7fELF\x02\x01\x01\x00\x00", None),
])
def test_work_3_kinds_are_told_by_content(data, kind):
    assert sniff(data) == kind


def test_work_3_empty_file_and_a_program_named_pdf_are_refused():
    with pytest.raises(DomainError) as refused:
        check_content("report.pdf", b"")
    assert refused.value.key == "file.empty"
    with pytest.raises(DomainError) as refused:
        check_content("report.pdf", EXE)
    assert refused.value.key == "file.bad_type" and "PDF" in refused.value.params["kinds"]
    with pytest.raises(DomainError) as refused:
        check_content("report.pdf", docx())
    assert refused.value.key == "file.mismatch" and refused.value.params["found"] == "Word/Excel/PowerPoint"
    assert check_content("稿件.PDF", b"%PDF-1.4 x") == "pdf"
    assert check_content("稿件", docx()) == "office"  # no extension: the content decides

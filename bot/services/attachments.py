"""What an attached file is, judged by its content (its first bytes and, for Office files, the zip's
table of contents), never by its name: a manuscript's attachments (WORK-3) and a task notice's file
(WORK-1) must be a document, picture, video or text a reader can open. A file of 0 bytes, a program
named `report.pdf`, or a name that says one type over content of another is refused."""
from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import PurePosixPath

from bot.errors import DomainError

__all__ = ["KINDS", "check_content", "sniff"]

# The kinds accepted, as people know them (format names, the same in every language).
KINDS = {"pdf": "PDF", "office": "Word/Excel/PowerPoint", "office97": "Word/Excel/PowerPoint 97-2003",
         "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WebP", "mp4": "MP4", "text": "TXT"}
# What a file name's extension claims; an extension not listed claims nothing.
_NAMED = {"pdf": "pdf", "docx": "office", "xlsx": "office", "pptx": "office", "doc": "office97",
          "xls": "office97", "ppt": "office97", "wps": "office97", "et": "office97", "dps": "office97",
          "jpg": "jpeg", "jpeg": "jpeg", "png": "png", "gif": "gif", "webp": "webp", "mp4": "mp4", "m4v": "mp4",
          "mov": "mp4", "txt": "text"}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _office(data: bytes) -> bool:
    """A zip holding `[Content_Types].xml`: Office Open XML (docx, xlsx, pptx). Only the zip's
    directory is read, nothing is unpacked."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return "[Content_Types].xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def _text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            data.decode(encoding)
            return True
        except UnicodeDecodeError:
            continue
    return False


def sniff(data: bytes) -> str | None:
    """The kind (a key of KINDS) the content is, or None when it is none of them."""
    head = data[:16]
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "office" if _office(data) else None
    checks = ((head.startswith(_OLE), "office97"), (head.startswith(b"\xff\xd8\xff"), "jpeg"),
              (head.startswith(b"\x89PNG\r\n\x1a\n"), "png"), (head[:6] in (b"GIF87a", b"GIF89a"), "gif"),
              (head[:4] == b"RIFF" and head[8:12] == b"WEBP", "webp"), (head[4:8] == b"ftyp", "mp4"))
    for hit, kind in checks:
        if hit:
            return kind
    return "text" if _text(data) else None


def check_content(file_name: str | None, data: bytes) -> str:
    """The kind of an attached file, or the DomainError saying why it is refused."""
    if not data:
        raise DomainError("file.empty")
    found = sniff(data)
    if found is None:
        raise DomainError("file.bad_type", kinds=", ".join(KINDS.values()))
    named = _NAMED.get(PurePosixPath(file_name or "").suffix.lower().lstrip("."))
    if named is not None and named != found:
        raise DomainError("file.mismatch", name=file_name or "", named=KINDS[named], found=KINDS[found])
    return found

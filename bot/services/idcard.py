"""Resident ID numbers (RNV-2, RNV-3): validation, keyed hash and masked form.

The plain number is only ever held in memory while it is checked; what is stored is an HMAC
keyed with the deployment secret (so one number verifies one account) and a masked form.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date

from bot.errors import DomainError
from bot.services.text import clean_text

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# First digit of the province code: 1 north, 2 north-east, 3 east, 4 central-south, 5 south-west,
# 6 north-west, 7 Taiwan, 8 Hong Kong/Macau. Provinces in use: 11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81-83.
_PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                        50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})


def check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 as used by GB 11643."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS))
    return _CHECK[total % 11]


def normalize_id(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw or "")
    return re.sub(r"[\s-]", "", text).upper()


# What is kept, wherever an update is written down, in place of each character of something that
# may be an ID number (bot/redaction.py): a mark no keyboard types, so a text read back with it is
# known for one whose number was never kept
REDACTED = "\u2588"
# a run of digits (spaces, hyphens and X between them allowed, as normalize_id allows them) is
# hidden from this many digits on: 18-character numbers, the old 15-digit ones, and bank cards too
_HIDDEN_FROM = 15
_ASCII_RUN = re.compile(r"[0-9Xx][0-9Xx\s-]*")


def _number_part(char: str) -> tuple[bool, int, bool]:
    """(may stand in a number as normalize_id reads it, how many digits it stands for, is a
    separator): per character, its NFKC form (a full-width or circled digit is a digit)."""
    form = char if char.isascii() else unicodedata.normalize("NFKC", char)
    if form and all(c in "0123456789Xx" for c in form):
        return True, sum(c not in "Xx" for c in form), False
    if form and all(c.isspace() or c == "-" for c in form):
        return True, 0, True
    return False, 0, False


def _hide(text: str, start: int, end: int) -> str:
    """text[start:end] with every character but the separators replaced by REDACTED (as many as its
    UTF-16 length, so the offsets of Telegram's entities after it still hold)."""
    out = []
    for char in text[start:end]:
        _part, _digits, separator = _number_part(char)
        out.append(char if separator else REDACTED * (2 if ord(char) > 0xFFFF else 1))
    return "".join(out)


def redact_id_numbers(text: str) -> str:
    """`text` with every run that may hold an ID number hidden (REDACTED per character); the text
    itself when it holds none. Reads the text as normalize_id does, so no spelling of a number that
    validate_id_number would take (spaces, hyphens, full-width digits, a lower-case x) escapes."""
    # every character whose NFKC form is digits is numeric and stands for at most 2 (checked over all
    # of Unicode): a text with fewer numeric characters holds no run long enough
    if sum(map(str.isnumeric, text)) * 2 < _HIDDEN_FROM:
        return text
    if text.isascii():
        runs = [(m.start(), m.end()) for m in _ASCII_RUN.finditer(text)]
    else:
        runs, start = [], None
        for i, char in enumerate(text + "\0"):
            part = _number_part(char)[0] if i < len(text) else False
            if part and start is None:
                start = i
            elif not part and start is not None:
                runs.append((start, i))
                start = None
    hidden = [(a, b) for a, b in runs if sum(_number_part(c)[1] for c in text[a:b]) >= _HIDDEN_FROM]
    for a, b in reversed(hidden):
        text = text[:a] + _hide(text, a, b) + text[b:]
    return text


def validate_id_number(raw: str, today: date) -> str:
    """The normalised number, or a DomainError whose key names the reason."""
    number = normalize_id(raw)
    if REDACTED in number:  # a message read back from the inbox after a restart: never kept
        raise DomainError("rnv.not_kept")
    if len(number) != 18:
        raise DomainError("rnv.bad_length", length=len(number))
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise DomainError("rnv.bad_chars")
    if int(number[:2]) not in _PROVINCES or number[2:6] == "0000":
        raise DomainError("rnv.bad_region")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise DomainError("rnv.bad_birth") from None
    if born > today or born.year < 1900:
        raise DomainError("rnv.bad_birth")
    if check_digit(number[:17]) != number[17]:
        raise DomainError("rnv.bad_check")
    return number


def id_hash(secret: bytes, number: str) -> str:
    return hmac.new(secret, number.encode("ascii"), hashlib.sha256).hexdigest()


def mask_id(number: str) -> str:
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def validate_real_name(raw: str) -> str:
    name = clean_text(raw)
    if not 2 <= len(name) <= 30 or not re.fullmatch(r"[\w·.\- ]+", name) or re.search(r"\d|_", name):
        raise DomainError("rnv.bad_name")
    return name

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


def validate_id_number(raw: str, today: date) -> str:
    """The normalised number, or a DomainError whose key names the reason."""
    number = normalize_id(raw)
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

"""Phone numbers: normalise to E.164 and mask for display (REG-2, MEM-1, MEM-4, SEC-5).

Pure functions, no third-party data. The rules are deliberately narrow: members are mostly
mainland mobiles (11 digits, 1[3-9]...), anything else needs an explicit country code.
`phonenumbers` would validate foreign numbering plans exactly, but it is a ~9 MB dependency
for a case the spec treats loosely (SPEC MEM-4: "mainland mobile or +country"), so it is not used.
"""
from __future__ import annotations

import re
import unicodedata

__all__ = ["InvalidPhone", "normalize_phone", "mask_phone", "phone_tail", "country_code"]

# Separators people type inside numbers; anything else is refused.
_SEPARATORS = re.compile(r"[\s\-()./\u2010-\u2015\u2212\u30fc]")
_MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
# ITU-T E.164 country codes of one and two digits; every other code has three digits.
_CC1 = {"1", "7"}
_CC2 = {
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
    "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
}


class InvalidPhone(ValueError):
    """`code` says why: empty, invalid_chars, too_short, too_long, not_mainland_mobile,
    needs_country_code, bad_country_code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def normalize_phone(raw: str, default_region: str = "86", *, international: bool = False) -> str:
    """Return the number in E.164 form (``+8613800000000``) or raise `InvalidPhone`.

    Accepts spaces, dashes, dots, parentheses and full-width characters; a mainland mobile
    as 11 digits, or with ``+86`` / ``0086`` / ``86`` before it; other countries with ``+`` or
    ``00`` and 8–15 digits in all. `international=True` says the digits already start with
    the country code even without ``+`` (Telegram's `contact.phone_number` looks like that).
    """
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if text.startswith("'"):  # Excel's text marker, see render/excel.py
        text = text[1:]
    text = _SEPARATORS.sub("", text)
    if not text:
        raise InvalidPhone("empty")
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits:
        raise InvalidPhone("too_short")
    if not digits.isascii() or not digits.isdigit():
        raise InvalidPhone("invalid_chars")
    if not plus and digits.startswith("00"):
        plus, digits = True, digits[2:]
    if not plus and international:
        plus = True
    if not plus:
        digits = _with_default_region(digits, default_region)
    return _check_international(digits)


def _with_default_region(digits: str, region: str) -> str:
    if region == "86":
        if _MAINLAND_MOBILE.fullmatch(digits):
            return "86" + digits
        if len(digits) == 13 and digits.startswith("86"):
            return digits
        if len(digits) < 11:
            raise InvalidPhone("too_short")
        raise InvalidPhone("needs_country_code")
    national = digits[1:] if digits.startswith("0") else digits
    return region + national


def _check_international(digits: str) -> str:
    if not digits or digits[0] == "0":
        raise InvalidPhone("bad_country_code")
    if digits.startswith("86"):
        if not _MAINLAND_MOBILE.fullmatch(digits[2:]):
            raise InvalidPhone("not_mainland_mobile")
        return "+" + digits
    if len(digits) < 8:
        raise InvalidPhone("too_short")
    if len(digits) > 15:
        raise InvalidPhone("too_long")
    return "+" + digits


def country_code(e164: str) -> str:
    """The calling code of an E.164 number ('86', '1', '852'), by the ITU length rule."""
    digits = e164.lstrip("+")
    if digits[:1] in _CC1:
        return digits[:1]
    if digits[:2] in _CC2:
        return digits[:2]
    return digits[:3]


def phone_tail(phone: str, n: int = 4) -> str:
    """The last `n` digits (for watermarks and masked lists)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-n:]


def mask_phone(phone: str) -> str:
    """``+8613800001234`` -> ``138****1234``; ``+447911123456`` -> ``+44 ****3456``.

    Never raises: anything that is not a well-formed E.164 number keeps only its last 4 digits.
    """
    if phone.startswith("+86") and len(phone) == 14 and phone[1:].isdigit():
        national = phone[3:]
        return f"{national[:3]}****{national[-4:]}"
    if phone.startswith("+") and phone[1:].isdigit() and 8 <= len(phone) - 1 <= 15:
        return f"+{country_code(phone)} ****{phone[-4:]}"
    return "****" + phone_tail(phone)

"""RNV-2: a table of ID numbers, valid and invalid, with the reason each gets."""
from datetime import date

import pytest

from bot.errors import DomainError
from bot.services.idcard import (
    check_digit,
    id_hash,
    mask_id,
    redact_id_numbers,
    validate_id_number,
    validate_real_name,
)

TODAY = date(2026, 11, 23)


def make(first17: str) -> str:
    return first17 + check_digit(first17)


VALID = [
    "11010519491231002X",        # the GB 11643 standard's own example
    make("44052419200101001"),   # born 1920
    make("11010119900307001"),
    make("65010220000229123"),   # 29 February of a leap year
    " 1101 0519 4912 3100 2x ",  # spaces and a lower-case x are accepted
    "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits
]


@pytest.mark.parametrize("raw", VALID)
def test_rnv_2_valid_numbers(raw):
    number = validate_id_number(raw, TODAY)
    assert len(number) == 18 and number == number.upper()


INVALID = [
    ("110105194912310021", "rnv.bad_check", "wrong check digit"),
    ("11010519491231002", "rnv.bad_length", "17 digits"),
    ("1101051949123100212", "rnv.bad_length", "19 digits"),
    ("", "rnv.bad_length", "empty"),
    ("11010519491231A02X", "rnv.bad_chars", "a letter inside"),
    ("X10105194912310021", "rnv.bad_chars", "X not at the end"),
    (make("11010519990230001"), "rnv.bad_birth", "30 February 1999"),
    (make("11010519991301001"), "rnv.bad_birth", "month 13"),
    (make("11010520300101001"), "rnv.bad_birth", "born in the future"),
    (make("11010518000101001"), "rnv.bad_birth", "before 1900"),
    (make("99010519900101001"), "rnv.bad_region", "no province 99"),
    (make("00000019900101001"), "rnv.bad_region", "region zero"),
    (make("65010219000229123"), "rnv.bad_birth", "29 Feb 1900 is not a leap day"),
]


@pytest.mark.parametrize("raw,key,why", INVALID, ids=[i[2] for i in INVALID])
def test_rnv_2_invalid_numbers_with_reason(raw, key, why):
    with pytest.raises(DomainError) as err:
        validate_id_number(raw, TODAY)
    assert err.value.key == key


def test_rnv_3_hash_is_keyed_and_mask_keeps_3_and_4():
    n = "11010519491231002X"
    assert id_hash(b"a" * 16, n) != id_hash(b"b" * 16, n)
    assert id_hash(b"a" * 16, n) == id_hash(b"a" * 16, n)
    assert n not in id_hash(b"a" * 16, n)
    assert mask_id(n) == "110***********002X"


@pytest.mark.parametrize("raw,ok", [("张三", True), ("阿卜杜·热合曼", True), ("John Smith", True),
                                    ("张", False), ("张3", False), ("", False), ("  ", False)])
def test_real_name(raw, ok):
    if ok:
        assert validate_real_name(raw)
    else:
        with pytest.raises(DomainError):
            validate_real_name(raw)


@pytest.mark.parametrize("raw", VALID)
def test_rnv_3_every_spelling_of_a_valid_number_is_redacted(raw):
    hidden = redact_id_numbers(f"我的身份证号：{raw}，谢谢")
    assert hidden.startswith("我的身份证号：") and hidden.endswith("，谢谢")
    assert not any(c.isdigit() for c in hidden), hidden
    with pytest.raises(DomainError) as err:
        validate_id_number(hidden[7:-3], TODAY)
    assert err.value.key == "rnv.not_kept"


def test_rnv_3_short_numbers_are_not_redacted():
    text = "电话 +86 138-0000-0001，第 20261123 期，答案 12345678901234"
    assert redact_id_numbers(text) == text

"""Phone normalisation and masking (REG-2, MEM-4, SEC-5)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render.phone import InvalidPhone, country_code, mask_phone, normalize_phone, phone_tail

VALID = [
    ("13800000000", "+8613800000000"),
    ("138 0000 0000", "+8613800000000"),
    ("138-0000-0000", "+8613800000000"),
    ("(138) 0000.0000", "+8613800000000"),
    ("  19912345678\t", "+8619912345678"),
    ("１３８００００１２３４", "+8613800001234"),  # full-width digits
    ("＋８６ １３８ ００００ １２３４", "+8613800001234"),  # full-width plus and space
    ("+86 138 0000 1234", "+8613800001234"),
    ("+86-138-0000-1234", "+8613800001234"),
    ("(+86) 13800001234", "+8613800001234"),
    ("008613800001234", "+8613800001234"),
    ("0086 138 0000 1234", "+8613800001234"),
    ("8613800001234", "+8613800001234"),
    ("'+8613800001234", "+8613800001234"),  # text marker from our own spreadsheets
    ("+852 9123 4567", "+85291234567"),
    ("+1 (415) 555-2671", "+14155552671"),
    ("+44 7911 123456", "+447911123456"),
    ("0044 7911 123456", "+447911123456"),
    ("+7 900 123-45-67", "+79001234567"),
    ("+12345678", "+12345678"),  # 8 digits: the shortest accepted
    ("+123456789012345", "+123456789012345"),  # 15 digits: E.164's longest
]

INVALID = [
    ("", "empty"),
    ("   ", "empty"),
    ("-- ()", "empty"),
    ("1380000000a", "invalid_chars"),
    ("138 0000 0000 ext 1", "invalid_chars"),
    ("+86+13800000000", "invalid_chars"),
    ("١٣٨٠٠٠٠٠٠٠٠", "invalid_chars"),  # Arabic-Indic digits are digits, but not ours
    ("1380000000", "too_short"),  # 10 digits
    ("12345", "too_short"),
    ("12800000000", "needs_country_code"),  # 11 digits but not 1[3-9]
    ("23800000000", "needs_country_code"),
    ("138000000001", "needs_country_code"),  # 12 digits
    ("010 8888 8888", "needs_country_code"),  # a Beijing landline
    ("+86 10 8888 8888", "not_mainland_mobile"),
    ("+86 128 0000 0000", "not_mainland_mobile"),
    ("+86 138 0000 00000", "not_mainland_mobile"),
    ("8612800000000", "not_mainland_mobile"),
    ("+0123456789", "bad_country_code"),
    ("+", "too_short"),
    ("+1234567", "too_short"),
    ("+1234567890123456", "too_long"),
]


@pytest.mark.parametrize("raw, expected", VALID)
def test_reg_2_normalize_phone_valid(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw, code", INVALID)
def test_reg_2_normalize_phone_invalid(raw, code):
    with pytest.raises(InvalidPhone) as info:
        normalize_phone(raw)
    assert info.value.code == code
    assert isinstance(info.value, ValueError)


def test_reg_2_telegram_contact_digits_are_international():
    # Telegram sends contact.phone_number with or without "+", always with the country code.
    assert normalize_phone("8613800001234", international=True) == "+8613800001234"
    assert normalize_phone("447911123456", international=True) == "+447911123456"
    assert normalize_phone("+447911123456", international=True) == "+447911123456"
    with pytest.raises(InvalidPhone):
        normalize_phone("447911123456")  # without the flag, 12 plain digits are ambiguous


def test_normalize_phone_other_default_region():
    assert normalize_phone("07911 123456", default_region="44") == "+447911123456"
    assert normalize_phone("9123 4567", default_region="852") == "+85291234567"


@pytest.mark.parametrize("phone, masked", [
    ("+8613800001234", "138****1234"),
    ("+8619912345678", "199****5678"),
    ("+85291234567", "+852 ****4567"),
    ("+447911123456", "+44 ****3456"),
    ("+14155552671", "+1 ****2671"),
    ("+79001234567", "+7 ****4567"),
    ("13800001234", "****1234"),  # not E.164: only the tail
    ("", "****"),
])
def test_sec_5_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


def test_country_code_and_tail():
    assert [country_code(p) for p in ("+8613800001234", "+14155552671", "+85291234567", "+447911123456")] == \
        ["86", "1", "852", "44"]
    assert phone_tail("+8613800001234") == "1234"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.sampled_from(["", "+86", "0086", "86", "+86 "]))
def test_reg_2_mainland_mobiles_round_trip(national, prefix):
    e164 = normalize_phone(prefix + national)
    assert e164 == "+86" + national
    assert normalize_phone(e164) == e164  # idempotent
    assert mask_phone(e164) == national[:3] + "****" + national[-4:]


@given(st.text(max_size=30))
def test_normalize_phone_never_crashes(raw):
    try:
        result = normalize_phone(raw)
    except InvalidPhone as exc:
        assert exc.code
    else:
        assert result.startswith("+") and result[1:].isdigit() and 8 <= len(result) - 1 <= 15

"""LEARN-6 catalogues: every exam string exists in both languages with the same placeholders."""
from __future__ import annotations

import string

from bot.i18n import I18n


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_learn_6_exam_strings_match_in_zh_and_en():
    i18n = I18n()
    zh, en = i18n.catalogues["zh"], i18n.catalogues["en"]
    keys = [k for k in zh if k.startswith(("exams.", "errors.exams."))]
    assert len(keys) > 150
    for key in keys:
        assert key in en, key
        assert fields(zh[key]) == fields(en[key]), key

"""LEARN-1/2 grading rules: blanks compared after width, case and whitespace folding; choices as sets."""
from __future__ import annotations

from datetime import date

import pytest

from bot.errors import DomainError
from bot.models import Question, QuestionText
from bot.services import quiz
from bot.ui.quiz import QuizCD, pack_quiz


def q(kind: str, answer: tuple) -> Question:
    return Question(1, None, kind, {"zh": QuestionText("题", ("一", "二", "三"), "")}, answer)


def test_learn_1_blank_normalises_width_case_and_whitespace():
    blank = q("blank", (("Marx", "马克思"),))
    assert quiz.grade(blank, ["ｍａｒｘ"]) and quiz.grade(blank, [" m A r x "]) and quiz.grade(blank, ["马 克思"])
    assert not quiz.grade(blank, ["Engels"])
    two = q("blank", (("一",), ("二", "2")))
    assert quiz.grade(two, ["一", "２"]) and not quiz.grade(two, ["一"])


def blank_q(stem: str, answer: tuple, stem_en: str | None = None) -> Question:
    texts = {"zh": QuestionText(stem, (), "")}
    if stem_en is not None:
        texts["en"] = QuestionText(stem_en, (), "")
    return Question(1, None, "blank", texts, answer)


@pytest.mark.parametrize(("stem", "right", "typed", "other_unit"), [
    ("满分是（ ）分。", "100", "100分", "100秒"),
    ("我国有（　）个民族", "56", "56个", "56名"),
    ("中国共产党成立于（ ）年", "1921", "1921 年", "1921月"),
    ("增长了 ___ %", "6.5", "6.5％", "6.5‰"),
    ("党的二十大是第（ ）次全国代表大会", "二十", "二十次", "二十届"),
])
def test_learn_1_blank_accepts_the_unit_the_stem_prints_after_it(stem, right, typed, other_unit):
    question = blank_q(stem, ((right,),))
    assert quiz.grade(question, [right]) and quiz.grade(question, [typed])
    assert not quiz.grade(question, [other_unit])  # another unit is still wrong
    assert not quiz.grade(question, [typed[len(right):]])  # the unit alone is no answer


def test_learn_1_units_per_blank_and_per_language():
    two = blank_q("（ ）年（ ）月", (("1949",), ("10",)), "in ( ) years and ___ months")
    assert quiz.grade(two, ["1949年", "10月"]) and quiz.grade(two, ["1949 years", "10 months"])
    assert not quiz.grade(two, ["1949月", "10年"])  # each blank takes its own unit only
    bare = blank_q("（ ）是首都", (("北京",),))
    assert quiz.grade(bare, ["北京是"]) and not quiz.grade(bare, ["北京市"])


def test_learn_2_choices_compare_as_sets():
    assert quiz.grade(q("multiple", ("A", "C")), ["C", "A"])
    assert not quiz.grade(q("multiple", ("A", "C")), ["A"])
    assert quiz.grade(q("judge", ("F",)), ["F"]) and not quiz.grade(q("single", ("B",)), ["A"])


def test_learn_2_typed_blanks_are_split_by_separators():
    assert quiz.split_blanks("甲；乙", 2) == ["甲", "乙"]
    assert quiz.split_blanks("甲\n乙", 2) == ["甲", "乙"]
    assert quiz.split_blanks("甲，乙", 2) == ["甲", "乙"]
    assert quiz.split_blanks(" 甲 乙 ", 1) == ["甲 乙"]
    with pytest.raises(DomainError):
        quiz.split_blanks("甲", 2)


def test_learn_3_iso_week_period():
    assert quiz.week_period(date(2026, 11, 23)) == "2026-W48"
    assert quiz.week_period(date(2027, 1, 1)) == "2026-W53"


def test_quiz_callback_data_is_ids_only_and_packs_like_the_factory():
    assert pack_quiz("o", 123456, 29, 3) == QuizCD(a="o", t=123456, p=29, o=3).pack()
    assert len(pack_quiz("s", 10 ** 12, 99, 9).encode()) <= 64

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

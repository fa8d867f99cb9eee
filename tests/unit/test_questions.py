"""LEARN-1 rules: checking rows of every type, normalising, fingerprints, the store's bank
writes, and the demo bank (every question passes the same checks as an upload)."""
from __future__ import annotations

from collections import Counter

import pytest

from bot.render.question_sheet import QuestionRaw
from bot.repositories.questions import QUESTION_COLUMNS as _QUESTION_COLUMNS
from bot.repositories.questions import question_from_row as _question
from bot.services import questions as qs


def raw(kind="单选", stem="题干", options=("甲", "乙", "丙"), answer="A", explanation="", tags="", stem_en="",
        options_en="", explanation_en="", n=2) -> QuestionRaw:
    cells = tuple(options) + ("",) * (6 - len(options))
    return QuestionRaw(n, kind, stem, cells, answer, explanation, tags, stem_en, options_en, explanation_en)


def problem(row: QuestionRaw):
    valid, rejected = qs.validate_rows([row])
    return (rejected[0][1].code, rejected[0][1].params) if rejected else None


@pytest.mark.parametrize("row, code", [
    (raw(stem=""), "missing_stem"),
    (raw(answer=""), "missing_answer"),
    (raw(options=("甲",)), "too_few_options"),
    (raw(kind="多选", answer="AD"), "letter_not_option"),
    (raw(answer="AB"), "single_many"),
    (raw(kind="判断", options=(), answer="可能"), "bad_judge"),
    (raw(kind="填空", stem="（ ）和___", options=(), answer="甲"), "blank_count"),
    (raw(kind="填空", stem="没有空", options=(), answer="甲"), "blank_count"),
    (raw(kind="填空", stem="（ ）和（ ）", options=(), answer="甲;"), "empty_blank"),
    (raw(kind="问答"), "unknown_kind"),
    (raw(kind=""), "missing_kind"),
    (raw(stem="长" * 501), "too_long"),
    (raw(options=("甲", "", "丙")), "option_gap"),
    (raw(answer="对"), "bad_letters"),
    (raw(stem_en="Q", options_en="a|b"), "en_options_count"),
    (raw(options_en="a|b|c"), "en_stem_missing"),
    (raw(kind="填空", stem="（ ）", options=(), answer="甲", stem_en="no blank"), "en_blank_count"),
    (raw(explanation="解" * 1001), "too_long"),
])
def test_learn_1_each_bad_row_has_its_reason(row, code):
    assert problem(row)[0] == code


def test_learn_1_good_rows_of_every_type():
    valid, rejected = qs.validate_rows([
        raw(kind="单选题", answer=" b "),
        raw(kind="multiple", stem="多选", options=("a", "b", "c", "d"), answer="ｄ，Ａ、c"),
        raw(kind="TF", stem="判断", options=(), answer="√", stem_en="True?"),
        raw(kind="填空题", stem="首都是（　）， 长江注入____。", options=(), answer=" 北京 | Beijing ；东海|东海",
            stem_en="Capital ___, sea ___.", tags=" 地理，历史 、地理 "),
    ])
    assert rejected == []
    single, multiple, judge, blank = valid
    assert single.answer == ["B"] and multiple.answer == ["A", "C", "D"]
    assert judge.answer == ["T"] and judge.texts["en"].options == ("True", "False")
    assert blank.answer == [["北京", "Beijing"], ["东海"]] and blank.tags == "地理,历史"
    assert blank.texts["en"].explanation == "" and blank.texts["zh"].options == ()


def test_learn_1_english_explanation_falls_back_to_the_chinese_one():
    (q,), _ = qs.validate_rows([raw(explanation="因为", stem_en="Why", options_en="x\ny|z")])
    assert q.texts["en"].options == ("x", "y", "z") and q.texts["en"].explanation == "因为"


def test_learn_1_duplicates_in_a_file_and_fingerprints_ignore_width_case_and_spaces():
    rows = [raw(stem="ABC 题", n=2), raw(stem="ａｂｃ题 ", n=3), raw(stem="abc题", kind="多选", n=4)]
    valid, rejected = qs.validate_rows(rows)
    assert [q.row_number for q in valid] == [2, 4]
    assert [(r.row_number, p.code, p.params) for r, p in rejected] == [(3, "duplicate", {"first_row": 2})]
    assert qs.fingerprint("single", "题", ["甲"]) != qs.fingerprint("single", "题", ["乙"])


def test_learn_1_blank_answers_compared_after_normalising():
    accepted = [["北京", "Beijing"], ["1997"]]
    assert qs.blank_correct(accepted, [" ｂｅｉ jing ", "１９９７"])
    assert not qs.blank_correct(accepted, ["上海", "1997"])
    assert not qs.blank_correct(accepted, ["北京"])


def test_learn_1_demo_bank_is_real_bilingual_and_passes_the_checks():
    rows = qs.demo_rows()
    valid, rejected = qs.validate_rows(rows)
    assert rejected == [] and len(valid) == len(rows) >= 60
    kinds = Counter(q.kind for q in valid)
    assert set(kinds) == {"single", "multiple", "judge", "blank"} and min(kinds.values()) >= 10
    for q in valid:
        assert set(q.texts) == {"zh", "en"}, q.row_number
        assert q.texts["zh"].explanation and q.texts["en"].explanation and q.tags, q.row_number
        assert q.texts["zh"].stem != q.texts["en"].stem
    tags = Counter(t for q in valid for t in q.tags.split(","))
    assert tags["平台规则"] >= 20 and tags["宪法"] >= 5


async def test_learn_1_load_demo_questions_is_idempotent(store, clock):
    added = await qs.load_demo_questions(store, clock)
    assert added == len(qs.demo_rows())
    assert await qs.load_demo_questions(store, clock) == 0
    assert await store.question_bank_size(None) == added
    rows = await store._all(f"SELECT {_QUESTION_COLUMNS}, created_by FROM questions ORDER BY id")
    assert {r["org_id"] for r in rows} == {None} and {r["created_by"] for r in rows} == {None}
    models = [_question(r) for r in rows]
    blank = next(m for m in models if m.kind == "blank" and m.blanks == 2)
    assert all(isinstance(group, tuple) for group in blank.answer)
    assert models[0].text("en").stem.startswith("How many") and models[0].text(None) == models[0].texts["zh"]


async def test_learn_1_banks_are_separate_and_counted(store, clock):
    from tests.support.factories import make_org, make_user

    await make_user(store, 1, verified=True)
    org = await make_org(store, "组织", 1)
    valid, _ = qs.validate_rows([raw(), raw(stem="另一题")])
    rows = [q.store_row() for q in valid]
    assert await store.add_questions(1, org, rows, clock.now().isoformat()) == (2, 0, 0, 2)
    assert await store.add_questions(1, org, rows, clock.now().isoformat()) == (0, 0, 2, 2)
    assert await store.add_questions(None, None, rows[:1], clock.now().isoformat()) == (1, 0, 0, 1)
    assert await store.question_bank_size(org) == 2 and await store.question_bank_size(None) == 1


async def test_learn_1_check_bank_roles(store):
    from bot.errors import NotAllowed
    from bot.services.roles import Actor
    from bot.services.users import visitor

    user = visitor(5, "x", None, None, "zh")
    with pytest.raises(NotAllowed):
        await qs.check_bank(store, Actor(user), None)
    with pytest.raises(NotAllowed):
        await qs.check_bank(store, Actor(user, is_operator=True), 3)
    assert await qs.check_bank(store, Actor(user, is_operator=True), None) is None
    assert qs.bank_choices(Actor(user, is_operator=True, admin_org_ids=frozenset({4, 2}))) == [None, 2, 4]

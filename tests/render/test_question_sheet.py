"""LEARN-1 spreadsheets: the question template, safe reading of uploads (the member sheet's
checks), header recognition, and the formula-safe rejects file."""
from __future__ import annotations

import zipfile
from io import BytesIO

import openpyxl
import pytest
from openpyxl import Workbook

from bot.i18n import I18n
from bot.render import question_sheet as qs
from bot.render.excel import SheetError
from bot.services import questions


@pytest.fixture
def labels() -> dict[str, str]:
    i18n = I18n()
    return qs.labels_from(lambda key: i18n.t("zh", key))


def book_bytes(rows, title="题目", extra=()) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for name in extra:
        book.create_sheet(name).append(["x"])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def test_learn_1_template_round_trips_through_the_reader(labels):
    data = qs.question_template(labels, questions.example_rows())
    book = openpyxl.load_workbook(BytesIO(data))
    sheet = book["题目"]
    assert [c.value for c in sheet[1]] == qs.headers(labels)
    assert qs.headers(labels)[:3] == ["题型*", "题干*", "选项A"] and qs.headers(labels)[8] == "答案*"
    sheet.append(["单选", "题干", "甲", "乙", None, None, None, None, "A", "解析", "标签"])
    out = BytesIO()
    book.save(out)
    parsed = qs.read_question_rows(out.getvalue())
    assert parsed.rows == [qs.QuestionRaw(2, "单选", "题干", ("甲", "乙", "", "", "", ""), "A", "解析", "标签", "", "", "")]
    assert parsed.ignored_sheets == []  # the instructions sheet is not reported as ignored
    examples = [r for r in book["说明"].iter_rows(values_only=True) if r[0] in ("single", "multiple", "judge", "blank")]
    assert len(examples) == 4


def test_learn_1_header_found_below_a_title_in_any_order_with_aliases():
    rows = [["2026年题库"], [], ["答案", "试题类型", "题目", "A", "B", "答案解析", "英文题干"],
            ["B", "单选", "题", "x", "y", "因为", "Q?"], [None] * 7, [1, "填空", "一加零等于（ ）", None, None, None]]
    parsed = qs.read_question_rows(book_bytes(rows, extra=["其他"]))
    assert parsed.header_row == 3 and parsed.ignored_sheets == ["其他"]
    assert [(r.row_number, r.kind, r.answer, r.options[:2], r.explanation, r.stem_en) for r in parsed.rows] == [
        (4, "单选", "B", ("x", "y"), "因为", "Q?"), (6, "填空", "1", ("", ""), "", "")]


def test_learn_1_unsafe_or_wrong_files_are_refused():
    with pytest.raises(SheetError) as exc:
        qs.read_question_rows(b"plain text")
    assert exc.value.code == "not_xlsx"
    bomb = BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"0" * (10 * 1024 * 1024))
    with pytest.raises(SheetError) as exc:
        qs.read_question_rows(bomb.getvalue())
    assert exc.value.code == "zip_bomb"
    with pytest.raises(SheetError) as exc:
        qs.read_question_rows(book_bytes([["x"]]), max_bytes=10)
    assert exc.value.code == "too_large"
    with pytest.raises(SheetError) as exc:
        qs.read_question_rows(book_bytes([["题型", "题干"], ["单选", "题"]]))
    assert exc.value.code == "missing_columns" and exc.value.params == {"columns": ["answer"], "members": False}
    with pytest.raises(SheetError) as exc:
        qs.read_question_rows(book_bytes([["姓名", "手机号", "所属支部"], ["张三", "13800000000", "一支部"]]))
    assert exc.value.params["members"] is True
    with pytest.raises(SheetError) as exc:
        qs.read_question_rows(book_bytes([["题型", "题干", "答案"]] + [["判断", f"题{i}", "对"] for i in range(5)]),
                              max_rows=3)
    assert exc.value.code == "too_many_rows"


def test_learn_1_question_files_told_from_member_files():
    assert qs.looks_like_questions(book_bytes([["题型", "题干", "答案"], ["判断", "题", "对"], ["判断", "题2", "错"]]))
    assert qs.looks_like_questions(book_bytes([["Type", "Stem", "Answer"]]))
    assert not qs.looks_like_questions(book_bytes([["姓名", "手机号", "所属支部"], ["张三", "13800000000", "一支部"]]))
    assert not qs.looks_like_questions(b"junk")


def test_learn_1_rejects_file_keeps_formulas_as_text(labels):
    formula = '=HYPERLINK("http://evil.example","点我")'
    row = qs.QuestionRaw(7, "单选", formula, ("@a", "b", "", "", "", ""), "A", "", "", "", "", "")
    data = qs.rejects_workbook(labels, [(row, "原因")])
    xml = zipfile.ZipFile(BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml
    sheet = openpyxl.load_workbook(BytesIO(data)).worksheets[0]
    assert sheet["B2"].value == "'" + formula and sheet["C2"].value == "'@a"
    assert [c.value for c in sheet[1]][-2:] == ["未导入原因", "原行号"] and sheet["O2"].value == "原因"
    # sent back as it is, the rows read as they were
    assert qs.read_question_rows(data).rows[0][1:4] == ("单选", formula, ("@a", "b", "", "", "", ""))

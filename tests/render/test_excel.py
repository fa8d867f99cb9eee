"""Member spreadsheets: template, safe import, rejects file, export (MEM-4, MEM-5)."""
import zipfile
from io import BytesIO

import openpyxl
import pytest
from openpyxl import Workbook

from bot.i18n import I18n
from bot.render import excel
from bot.render.excel import RawRow, SheetError, read_member_rows

DANGEROUS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\r=CR", "=1"]


def _labels(lang: str) -> dict[str, str]:
    """The labels as the bot uses them: from the catalogues (locales/*/members.toml, [xlsx])."""
    i18n = I18n()
    return excel.labels_from(lambda key: i18n.t(lang, key))


ZH, EN = _labels("zh"), _labels("en")


def _xlsx(*sheets: tuple[str, list[list]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _members(rows: list[list], header=("姓名*", "手机号*", "所属支部*", "备注")) -> bytes:
    return _xlsx(("成员", [list(header), *rows]))


def _load(data: bytes):
    return openpyxl.load_workbook(BytesIO(data))


def _sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        return "".join(archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/"))


def _error(data: bytes, **kwargs) -> SheetError:
    with pytest.raises(SheetError) as info:
        read_member_rows(data, **kwargs)
    return info.value


# ---------------------------------------------------------------- template

def test_labels_cover_every_key_in_both_languages():
    for labels in (ZH, EN):
        assert set(labels) == set(excel.LABEL_KEYS)
        assert all(value.strip() for value in labels.values())


@pytest.mark.parametrize("labels, headers", [
    (ZH, ["姓名*", "手机号*", "所属支部*", "备注"]),
    (EN, ["Name*", "Phone*", "Branch*", "Note"]),
])
def test_mem_4_template_layout(labels, headers):
    book = _load(excel.member_template(labels, ["第一党支部", "第二党支部"]))
    assert book.sheetnames == [labels["sheet.members"], labels["sheet.help"]]
    members, guide = book.worksheets
    assert [c.value for c in members[1]] == headers
    assert members.max_row == 1  # no example rows that could be imported by mistake
    assert members.freeze_panes == "A2"
    assert all(c.font.b for c in members[1])
    help_lines = [c.value for c in guide["A"] if c.value]
    assert len(help_lines) == len(labels["help.lines"].strip().splitlines())
    assert [c.value for c in guide["C"] if c.value] == [labels["help.branches"], "第一党支部", "第二党支部"]
    (rule,) = members.data_validations.dataValidation
    assert rule.type == "list"
    assert rule.formula1 == f"'{labels['sheet.help']}'!$C$2:$C$3"
    assert "C2:C" in str(rule.sqref)
    assert rule.errorStyle == "warning"  # a new branch can still be typed


def test_mem_4_template_without_branches_has_no_dropdown():
    book = _load(excel.member_template(ZH, []))
    assert book.worksheets[0].data_validations.dataValidation == []


def test_mem_4_template_escapes_formula_like_branch_names():
    data = excel.member_template(ZH, ["=cmd|' /C calc'!A0", "普通支部"])
    cell = _load(data).worksheets[1]["C2"]
    assert cell.data_type == "s" and cell.value.startswith("'=") and cell.quotePrefix
    assert "<f>" not in _sheet_xml(data) and "<f " not in _sheet_xml(data)


def test_mem_4_template_round_trip():
    book = _load(excel.member_template(ZH, ["第一党支部"]))
    book.worksheets[0].append(["张三", "13800000000", "第一党支部", "书记"])
    book.worksheets[0].append(["李四", 13900001111, "第一党支部", None])
    out = BytesIO()
    book.save(out)
    parsed = read_member_rows(out.getvalue(), known_labels=[ZH, EN])
    assert parsed.rows == [RawRow(2, "张三", "13800000000", "第一党支部", "书记"),
                           RawRow(3, "李四", "13900001111", "第一党支部", "")]
    assert parsed.sheet == "成员" and parsed.header_row == 1
    assert parsed.ignored_sheets == []  # our own instructions sheet is not reported


# ---------------------------------------------------------------- reading

@pytest.mark.parametrize("header", [
    ["姓名*", "手机号*", "所属支部*", "备注"],
    ["Name*", "Phone*", "Branch*", "Note"],
    [" 姓名 ＊", "手机号码（必填）", "支部名称", "备注"],
    ["ＮＡＭＥ", "phone number", " BRANCH ", "remarks"],
    ["name *", "Mobile", "Branch name", None],
])
def test_mem_4_header_detection_both_languages(header):
    parsed = read_member_rows(_members([["王五", "13800000001", "一支部", "x"]], header))
    row = parsed.rows[0]
    assert (row.row_number, row.name, row.phone, row.branch) == (2, "王五", "13800000001", "一支部")


def test_mem_4_header_below_a_title_and_columns_in_any_order():
    data = _xlsx(("Sheet1", [
        ["某某党委党员名单"],
        [],
        ["序号", "所属支部", "备注", "手机号", "姓名", "性别"],
        [1, "一支部", "", "13800000001", "赵六", "男"],
        [2, None, None, None, None, "女"],  # only unknown columns filled: an empty row
        [3, "二支部", "", "13800000002", "钱七", "女"],
    ]))
    parsed = read_member_rows(data)
    assert parsed.header_row == 3
    assert parsed.rows == [RawRow(4, "赵六", "13800000001", "一支部", ""),
                           RawRow(6, "钱七", "13800000002", "二支部", "")]
    assert parsed.ignored_columns == ["序号", "性别"]


def test_mem_4_headers_from_catalogues_are_recognised():
    custom = dict(EN, **{"col.name": "Full legal name", "col.branch": "Cell"})
    data = _members([["A B", "13800000001", "One", ""]], ("Full legal name", "Phone", "Cell", "Note"))
    assert _error(data).code == "missing_columns"
    assert read_member_rows(data, known_labels=[custom]).rows[0].name == "A B"


def test_mem_4_missing_columns_are_named():
    error = _error(_members([["张三", "x"]], ("姓名", "备注")))
    assert error.code == "missing_columns"
    assert error.params["columns"] == ["phone", "branch"]
    error = _error(_xlsx(("S", [["a", "b"], ["c", "d"]])))
    assert error.code == "missing_columns" and error.params["columns"] == ["name", "phone", "branch"]


def test_mem_4_empty_rows_skipped_and_numbers_preserved():
    parsed = read_member_rows(_members([
        [None, None, None, None],
        ["  张三  ", 13800000000, " 一支部 ", 12.5],
        ["", "  ", None, ""],
        ["李四", 13900000000.0, "一支部", None],
    ]))
    assert parsed.rows == [RawRow(3, "张三", "13800000000", "一支部", "12.5"),
                           RawRow(5, "李四", "13900000000", "一支部", "")]


def test_mem_4_rows_with_gaps_in_the_xml_keep_their_numbers():
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "手机号", "支部"])
    sheet["A10"], sheet["B10"], sheet["C10"] = "张三", "13800000000", "一支部"
    out = BytesIO()
    book.save(out)
    assert [r.row_number for r in read_member_rows(out.getvalue()).rows] == [10]


def test_mem_4_extra_sheets_are_ignored_and_reported():
    data = _xlsx(
        ("成员", [["姓名", "手机号", "所属支部"], ["张三", "13800000000", "一支部"]]),
        ("说明", [["填写说明"]]),
        ("其他", [["姓名", "手机号", "所属支部"], ["李四", "13900000000", "二支部"]]),
    )
    parsed = read_member_rows(data)
    assert [r.name for r in parsed.rows] == ["张三"]
    assert parsed.ignored_sheets == ["其他"]


def test_mem_4_empty_and_header_only_files():
    assert _error(_xlsx(("S", []))).code == "empty"
    assert _error(excel.member_template(ZH, ["一支部"])).code == "empty"


def test_mem_4_too_many_rows():
    rows = [[f"n{i}", f"1380000{i:04d}", "b"] for i in range(6)]
    assert len(read_member_rows(_members(rows), max_rows=6).rows) == 6
    error = _error(_members(rows), max_rows=5)
    assert error.code == "too_many_rows" and error.params["limit"] == 5


def test_mem_4_too_large_file_is_refused_before_parsing():
    error = _error(b"PK" + bytes(20 * 1024 * 1024))
    assert error.code == "too_large"
    assert error.params == {"size": 20 * 1024 * 1024 + 2, "limit": 20 * 1024 * 1024}
    assert _error(_members([["a", "13800000000", "b"]]), max_bytes=100).code == "too_large"


@pytest.mark.parametrize("data, kind", [
    ("姓名,手机号,所属支部\n张三,13800000000,一支部\n".encode(), "other"),  # a renamed CSV
    (b"", "other"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "xls"),  # Excel 97 or an encrypted file
])
def test_mem_4_not_xlsx(data, kind):
    error = _error(data)
    assert (error.code, error.params["kind"]) == ("not_xlsx", kind)


def test_mem_4_a_zip_that_is_not_a_workbook():
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<x/>")
    assert _error(out.getvalue()).params["kind"] == "zip"


def _bomb(size_mb: int, entries: int = 1) -> bytes:
    out = BytesIO()
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        for n in range(entries):
            with archive.open(f"xl/worksheets/sheet{n + 1}.xml", "w") as part:
                for _ in range(size_mb):
                    part.write(chunk)
    return out.getvalue()


def test_mem_4_zip_bomb_total_size():
    data = _bomb(200)  # 200 MB of zeros in under 1 MB
    assert len(data) < 2 * 1024 * 1024
    error = _error(data)
    assert (error.code, error.params["reason"]) == ("zip_bomb", "size")


def test_mem_4_zip_bomb_ratio_and_entries():
    error = _error(_bomb(30))  # under the total limit, but compressed ~200:1
    assert (error.code, error.params["reason"]) == ("zip_bomb", "ratio")
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for n in range(201):
            archive.writestr(f"x{n}.xml", "")
    error = _error(out.getvalue())  # many parts, each empty: not "too large"
    assert (error.code, error.params) == ("too_many_parts", {"count": 201, "limit": 200})


def _replace_part(data: bytes, name: str, content: str) -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, content if item.filename == name else src.read(item))
    return out.getvalue()


def test_mem_4_xml_entity_expansion_is_refused():
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
              '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>')
    data = _replace_part(_members([["a", "13800000000", "b"]]), "xl/worksheets/sheet1.xml", laughs)
    assert _error(data).code == "unreadable"


def test_mem_4_corrupt_workbook_is_unreadable():
    data = _replace_part(_members([["a", "13800000000", "b"]]), "xl/workbook.xml", "<not a workbook")
    assert _error(data).code == "unreadable"


def test_mem_4_formula_cells_are_never_evaluated():
    parsed = read_member_rows(_members([["=1+1", "13800000000", "一支部", "=A2"]]))
    # openpyxl writes no cached results: a formula is read as an empty cell, never run.
    assert parsed.rows == [RawRow(2, "", "13800000000", "一支部", "")]


# ---------------------------------------------------------------- rows and the rejects file

BRANCHES = ["第一党支部", "第二党支部", "机关党支部"]


def _fifty_rows() -> list[list]:
    rows = [[f"成员{i:02d}", f"1380000{i:04d}", BRANCHES[i % 3], ""] for i in range(50)]
    rows[9][1] = "1234"  # bad phone
    rows[24][2] = "不存在的支部"  # unknown branch
    rows[41][1] = rows[3][1]  # duplicate phone in the file
    return rows


def test_mem_4_fifty_rows_three_bad():
    parsed = read_member_rows(_members(_fifty_rows()))
    assert len(parsed.rows) == 50
    valid, rejected = excel.validate_rows(parsed.rows, BRANCHES)
    assert len(valid) == 47
    assert [(row.row_number, problem.code) for row, problem in rejected] == [
        (11, "bad_phone"), (26, "unknown_branch"), (43, "duplicate_phone")]
    assert rejected[0][1].params == {"phone_code": "too_short"}
    assert rejected[2][1].params == {"first_row": 5}
    assert valid[0].phone == "+8613800000000"
    # With branch creation requested, the unknown branch is accepted as typed.
    valid, rejected = excel.validate_rows(parsed.rows, None)
    assert len(valid) == 48 and any(v.branch == "不存在的支部" for v in valid)


@pytest.mark.parametrize("row, code", [
    (RawRow(2, "", "13800000000", "第一党支部", ""), "missing_name"),
    (RawRow(2, "张" * 21, "13800000000", "第一党支部", ""), "name_too_long"),
    (RawRow(2, "张三", "", "第一党支部", ""), "missing_phone"),
    (RawRow(2, "张三", "13800000000", "", ""), "missing_branch"),
    (RawRow(2, "张三", "13800000000", "第一党支部", "x" * 201), "note_too_long"),
    (RawRow(2, "张三", "12800000000", "第一党支部", ""), "bad_phone"),
    (RawRow(2, "张三", "13800000000", "第九党支部", ""), "unknown_branch"),
])
def test_mem_4_row_problems(row, code):
    valid, rejected = excel.validate_rows([row], BRANCHES)
    assert valid == [] and rejected[0][1].code == code


def test_mem_4_branch_matching_tolerates_width_and_spaces():
    (member,), _ = excel.validate_rows([RawRow(2, "张" * 20, "+86 138 0000 0000", " 第一党支部 ", "")], ["第一党支部"])
    assert member.branch == "第一党支部" and member.phone == "+8613800000000"
    (member,), _ = excel.validate_rows([RawRow(2, "A", "13800000000", "ＡＢＣ branch", "")], ["abc  Branch"])
    assert member.branch == "abc  Branch"


def test_mem_4_rejects_workbook_has_reason_per_row():
    rows = [(RawRow(11, "成员09", "1234", "第一党支部", ""), "手机号格式不正确"),
            (RawRow(26, "成员24", "13800000024", "不存在的支部", "备注"), "支部不存在"),
            (RawRow(43, "成员41", "13800000003", "第三党支部", ""), "与第 5 行手机号重复")]
    data = excel.rejects_workbook(ZH, rows)
    sheet = _load(data).worksheets[0]
    assert sheet.title == ZH["sheet.rejects"]
    assert [c.value for c in sheet[1]] == ["姓名*", "手机号*", "所属支部*", "备注", ZH["col.reason"], ZH["col.row"]]
    assert sheet.freeze_panes == "A2"
    assert sheet.max_row == 4
    assert [sheet.cell(r, 5).value for r in (2, 3, 4)] == [reason for _, reason in rows]
    assert [sheet.cell(r, 6).value for r in (2, 3, 4)] == [11, 26, 43]
    for r in (2, 3, 4):
        reason = sheet.cell(r, 5)
        assert reason.fill.fgColor.rgb == "FFFFC7CE" and reason.fill.fill_type == "solid"
        assert sheet.cell(r, 1).fill.fill_type is None
    assert sheet.cell(2, 2).data_type == "s"  # phones stay text
    # The admin fixes the file and sends it back as it is: it parses with the original columns.
    parsed = read_member_rows(data)
    assert [(r.name, r.phone, r.branch, r.note) for r in parsed.rows] == [
        (row.name, row.phone, row.branch, row.note) for row, _ in rows]
    assert parsed.ignored_columns == [ZH["col.reason"], ZH["col.row"]]


def test_mem_4_formula_injection_in_rejects_workbook():
    rows = [(RawRow(n + 2, value, "+8613800000000", value, value), value) for n, value in enumerate(DANGEROUS)]
    data = excel.rejects_workbook(EN, rows)
    xml = _sheet_xml(data)
    assert "<f>" not in xml and "<f " not in xml
    sheet = _load(data).worksheets[0]
    for r in range(2, len(DANGEROUS) + 2):
        for c in range(1, 6):
            cell = sheet.cell(r, c)
            assert cell.data_type == "s"
            assert cell.value.startswith("'"), cell.value
            assert cell.quotePrefix
        assert sheet.cell(r, 5).fill.fill_type == "solid"  # still highlighted
    # Reading our own file back gives the original text, still never a formula.
    parsed = read_member_rows(data)
    assert [r.name for r in parsed.rows] == [v.strip() for v in DANGEROUS]


# ---------------------------------------------------------------- export

def test_mem_5_members_export_layout():
    rows = [("张三", "13800000000", "第一党支部", True, 5, 120),
            ("李四", "+447911123456", "第二党支部", False, 0, 0.5)]
    data = excel.members_export(ZH, rows)
    sheet = _load(data).worksheets[0]
    assert sheet.title == ZH["sheet.export"]
    assert [c.value for c in sheet[1]] == ["姓名", "手机号", "所属支部", "是否激活", "近7日积分", "总积分"]
    assert all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["C"].width >= 20
    assert [c.value for c in sheet[2]] == ["张三", "13800000000", "第一党支部", "是", 5, 120]
    assert [c.value for c in sheet[3]] == ["李四", "'+447911123456", "第二党支部", "否", 0, 0.5]
    assert sheet.cell(2, 2).data_type == "s" and sheet.cell(2, 5).data_type == "n"
    en = _load(excel.members_export(EN, rows)).worksheets[0]
    assert [en.cell(r, 4).value for r in (2, 3)] == ["yes", "no"]


def test_mem_5_formula_injection_in_export():
    rows = [(value, value, value, True, 1, 2) for value in DANGEROUS]
    rows.append(("#N/A", "_x0041_", "<b>&amp;</b>", False, 0, 0))
    data = excel.members_export(EN, rows)
    xml = _sheet_xml(data)
    assert "<f>" not in xml and "<f " not in xml
    sheet = _load(data).worksheets[0]
    for r in range(2, len(DANGEROUS) + 2):
        for c in (1, 2, 3):
            cell = sheet.cell(r, c)
            assert cell.data_type == "s" and cell.value.startswith("'") and cell.quotePrefix
    last = len(DANGEROUS) + 2
    assert [sheet.cell(last, c).value for c in (1, 3)] == ["#N/A", "<b>&amp;</b>"]
    assert sheet.cell(last, 1).data_type == "s"  # text, not an error value
    assert "_x005F_x0041_" in xml  # else Excel would show "A"
    parsed = read_member_rows(data)
    assert (parsed.rows[-1].name, parsed.rows[-1].phone) == ("#N/A", "_x0041_")


def test_mem_5_export_handles_control_characters_and_many_rows():
    rows = ((f"成员{i}\x00\x07", f"138{i:08d}", "支部", i % 2 == 0, i, i * 2) for i in range(1000))
    sheet = _load(excel.members_export(ZH, rows)).worksheets[0]
    assert sheet.max_row == 1001
    assert sheet.cell(1001, 1).value == "成员999"

"""LEARN-1 through the dispatcher: /template questions, /import of question sheets into the global
bank (operator) or an organisation's bank (admin), the summary, the annotated rejects file,
re-imports, refusals, and question files recognised inside the member import."""
from __future__ import annotations

import json
from io import BytesIO

import openpyxl
from aiogram.methods import EditMessageText, SendDocument, SendMessage
from openpyxl import Workbook

from bot.ui.imports import QBankCD
from tests.conftest import OPERATOR_ID
from tests.support.factories import make_org, make_user
from tests.support.sql import file_rows as db

ADMIN = 100001
MEMBER = 100002
HEADER = ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "选项F", "答案", "解析", "标签",
          "stem_en", "options_en", "explanation_en"]
TEMPLATE_HEADER = ["题型*", "题干*", "选项A", "选项B", "选项C", "选项D", "选项E", "选项F", "答案*", "解析", "标签",
                   "stem_en", "options_en", "explanation_en"]


def q(kind, stem, options=(), answer="", explanation="", tags="", stem_en="", options_en="", explanation_en=""):
    cells = list(options) + [None] * (6 - len(options))
    return [kind, stem, *cells, answer, explanation, tags, stem_en, options_en, explanation_en]


GOOD = [
    q("单选", "我国的首都是哪座城市？", ["上海", "北京", "广州"], "B", "首都是北京。", "地理",
      "What is the capital of China?", "Shanghai|Beijing|Guangzhou", "Beijing."),
    q("多选", "下列哪些是直辖市？", ["北京", "天津", "广州", "重庆"], "A、B、D", "广州是省会。", "地理，行政区划"),
    q("判断", "宪法是国家的根本法。", (), "对", "宪法序言。"),
    q("填空", "香港于（ ）年回归，澳门于___年回归。", (), "1997;1999|一九九九", "史实。", "历史",
      "Hong Kong returned in ___ and Macao in ___.", "", ""),
    q("judge", "Water boils at 90 °C at sea level.", (), "F"),
]
BAD = [
    (q("单选", "", ["甲", "乙"], "A"), "缺少题干"),
    (q("单选", "没有答案的题", ["甲", "乙"], ""), "缺少正确答案"),
    (q("单选", "只有一个选项", ["甲"], "A"), "选择题至少需要 2 个选项"),
    (q("多选", "字母不在选项中", ["甲", "乙", "丙"], "AD"), "答案中的 D 不在选项中（本题只有 A–C）"),
    (q("单选", "单选却有两个答案", ["甲", "乙", "丙"], "AB"), "单选题只能有一个正确答案"),
    (q("判断", "判断题答案不是对错", (), "也许"), "判断题的答案“也许”应为 对 或 错（也可写 T/F）"),
    (q("填空", "两个空（ ）和（ ）只给一组答案", (), "甲"), "题干中有 2 个空（用（ ）或 ___ 标出），答案却有 1 组（各空之间用 ; 分隔）"),
    (q("问答", "未知题型", (), "随便"), "无法识别的题型“问答”（应为 单选、多选、判断 或 填空）"),
    (q("判断", "长" * 501, (), "对"), "题干超过 500 个字"),
    (q("单选", "我国的首都是哪座城市？", ["上海", "北京", "广州"], "B"), "与第 2 行是同一道题"),
    (q("单选", "选项中间空了一个", ["甲", "", "丙"], "A"), "选项B为空：选项须从 A 起依次填写，中间不能留空"),
    (q("单选", "英文选项个数不对", ["甲", "乙"], "A", stem_en="Wrong", options_en="a|b|c"),
     "英文选项有 3 个，应与中文选项一样为 2 个（用 | 分隔）"),
]


def xlsx(rows, header=HEADER, title="题目") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def table_of(sent):
    docs = sent.of(SendDocument)
    assert docs, sent.text
    book = openpyxl.load_workbook(BytesIO(docs[-1].document.data), read_only=True)
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


async def admin_org(store, name="某某县委宣传部"):
    await make_user(store, ADMIN, "王管理", verified=True)
    return await make_org(store, name, ADMIN)


async def test_learn_1_template_downloads_with_the_question_columns(client_factory, store):
    await admin_org(store)
    sent = await client_factory(ADMIN).send("/template questions")
    doc = sent.of(SendDocument)[-1]
    assert doc.document.filename == "题目导入模板.xlsx" and "/import questions" in doc.caption
    book = openpyxl.load_workbook(BytesIO(doc.document.data))
    assert book.sheetnames == ["题目", "说明"]
    assert [c.value for c in book["题目"][1]] == TEMPLATE_HEADER
    assert book["题目"].max_row == 1  # no example rows that could be imported by mistake
    guide = [c.value for c in book["说明"]["A"] if c.value]
    assert any("AC" in line for line in guide) and any("长江|扬子江;东海" in line for line in guide)
    assert {"单选", "多选", "判断", "填空"} <= set(guide)  # one example of each type
    # plain /template is still the member template
    members = (await client_factory(ADMIN).send("/template")).of(SendDocument)[-1]
    assert members.document.filename == "成员导入模板.xlsx"


async def test_learn_1_template_in_english_and_for_the_operator(client_factory, store):
    await make_user(store, OPERATOR_ID, "运营")
    doc = (await client_factory(OPERATOR_ID, language_code="en").send("/template questions")).of(SendDocument)[-1]
    book = openpyxl.load_workbook(BytesIO(doc.document.data))
    assert book.sheetnames == ["Questions", "Instructions"]
    assert [c.value for c in book["Questions"][1]][:4] == ["Type*", "Stem*", "Option A", "Option B"]


async def test_learn_1_admin_import_good_and_bad_rows_comes_back_annotated(client_factory, store, settings):
    org = await admin_org(store)
    c = client_factory(ADMIN)
    ask = await c.send("/import questions")
    assert "导入题目到 <b>某某县委宣传部</b>（题库现有 0 道题）" in ask.text
    rows = GOOD + [row for row, _ in BAD]
    sent = await c.document(xlsx(rows), "questions.xlsx")
    assert "新增：5 道" in sent.text and "题库中已有（未重复导入）：0 道" in sent.text
    assert f"未导入：{len(BAD)} 行" in sent.text and "题库现有：5 道题" in sent.text
    table = table_of(sent)
    assert table[0] == TEMPLATE_HEADER + ["未导入原因", "原行号"]
    assert [(r[14], r[15]) for r in table[1:]] == [(reason, n) for n, (_, reason) in enumerate(BAD, len(GOOD) + 2)]
    assert table[1][1] is None and table[2][1] == "没有答案的题"  # the rows as they were sent
    stored = db(settings, "SELECT org_id, kind, body, answer, tags, created_by FROM questions ORDER BY id")
    assert [(r[0], r[1], r[5]) for r in stored] == [(org, k, ADMIN) for k in
                                                     ("single", "multiple", "judge", "blank", "judge")]
    single, multiple, judge, blank, english = stored
    assert json.loads(single[2])["en"] == {"stem": "What is the capital of China?",
                                           "options": ["Shanghai", "Beijing", "Guangzhou"], "explanation": "Beijing."}
    assert json.loads(single[3]) == ["B"] and json.loads(multiple[3]) == ["A", "B", "D"]
    assert multiple[4] == "地理,行政区划"
    assert json.loads(judge[3]) == ["T"] and json.loads(judge[2])["zh"]["options"] == ["正确", "错误"]
    assert json.loads(blank[3]) == [["1997"], ["1999", "一九九九"]] and json.loads(english[3]) == ["F"]
    assert db(settings, "SELECT action, org_id FROM audit_log WHERE action = 'question.import'") == [
        ("question.import", org)]
    # the same file again adds nothing
    again = await c.send("/import questions")
    assert "题库现有 5 道题" in again.text
    again = await c.document(xlsx(rows), "questions.xlsx", file_id="d2")
    assert "新增：0 道" in again.text and "题库中已有（未重复导入）：5 道" in again.text and "已更新" not in again.text
    assert db(settings, "SELECT count(*) FROM questions") == [(5,)]
    # a wrong key is corrected by importing the question again with the right one (same type, stem, options)
    fixed = [q("判断", "宪法是国家的根本法。", (), "错", "（故意改错，测试用）")]
    await c.send("/import questions")
    sent = await c.document(xlsx(fixed), "questions.xlsx", file_id="d3")
    assert "新增：0 道" in sent.text and "已更新答案、解析、标签或英文：1 道" in sent.text
    assert "题库中已有（未重复导入）：0 道" in sent.text
    row = db(settings, "SELECT answer, body FROM questions WHERE kind = 'judge' AND body LIKE '%宪法%'")[0]
    assert json.loads(row[0]) == ["F"] and json.loads(row[1])["zh"]["explanation"] == "（故意改错，测试用）"
    assert db(settings, "SELECT count(*) FROM questions") == [(5,)]


async def test_learn_1_operator_imports_into_the_global_bank(client_factory, store, settings):
    await make_user(store, OPERATOR_ID, "运营")
    c = client_factory(OPERATOR_ID)
    ask = await c.send("/import")  # administers no organisation: straight to the global bank
    assert "导入题目到 <b>全局题库</b>" in ask.text and [b for b, _ in ask.buttons()] == ["📚 题库"]
    sent = await c.document(xlsx(GOOD), "q.xlsx")
    assert "（全局题库）" in sent.text and "新增：5 道" in sent.text and not sent.of(SendDocument)
    bank = await c.press(sent, "📚 题库")  # the summary leads to the bank it filled, below it
    assert "题库：<b>全局题库</b>（在用 5 道" in bank.text and bank.of(SendMessage) and not bank.of(EditMessageText)
    assert db(settings, "SELECT DISTINCT org_id FROM questions") == [(None,)]
    # the same questions may also be in an organisation's bank: banks are separate
    org = await admin_org(store)
    await client_factory(ADMIN).send("/import questions")
    assert "新增：5 道" in (await client_factory(ADMIN).document(xlsx(GOOD), "q.xlsx", file_id="d2")).text
    assert sorted(db(settings, "SELECT COALESCE(org_id, 0), count(*) FROM questions GROUP BY org_id")) == [
        (0, 5), (org, 5)]


async def test_learn_1_operator_who_is_also_admin_picks_the_bank(client_factory, store, settings):
    await make_user(store, OPERATOR_ID, "运营", verified=True)
    org = await make_org(store, "运营自己的组织", OPERATOR_ID)
    c = client_factory(OPERATOR_ID)
    pick = await c.send("/import")
    assert "🌐 全局题库" in [label for label, _ in pick.buttons()]
    member_prompt = await c.press(pick, "运营自己的组织")
    assert "批量导入成员到 <b>运营自己的组织</b>" in member_prompt.text and "也可以发送题目表格" in member_prompt.text
    await c.press(await c.send("/import"), "🌐 全局题库")
    await c.document(xlsx(GOOD[:1]), "q.xlsx")
    pick = await c.send("/import questions")
    await c.press(pick, "运营自己的组织")
    await c.document(xlsx(GOOD[1:3]), "q.xlsx", file_id="d2")
    assert sorted(db(settings, "SELECT COALESCE(org_id, 0), count(*) FROM questions GROUP BY org_id")) == [
        (0, 1), (org, 2)]


async def test_learn_1_question_file_sent_to_the_member_import_goes_to_the_org_bank(client_factory, store, settings):
    org = await admin_org(store)
    c = client_factory(ADMIN)
    ask = await c.send("/import")
    assert "请把填好的 .xlsx 文件发给我" in ask.text and "/template questions" in ask.text
    sent = await c.document(xlsx(GOOD), "q.xlsx")
    assert "题目导入结果" in sent.text and "新增：5 道" in sent.text
    assert db(settings, "SELECT DISTINCT org_id FROM questions") == [(org,)]
    assert db(settings, "SELECT count(*) FROM members") == [(0,)]


async def test_learn_1_without_rights_refused(client_factory, store, settings):
    await make_user(store, MEMBER, "普通学员")
    member = client_factory(MEMBER)
    assert "只有学习管理员" in (await member.send("/import questions")).text
    assert "只有学习管理员" in (await member.send("/template questions")).text
    assert "还不是任何学习组织的管理员" in (await member.send("/import")).text
    visitor = client_factory(300001)
    assert not (await visitor.send("/import questions")).of(SendDocument)
    assert "还不是任何学习组织的管理员" not in (await visitor.send("/import")).text
    # a stale bank button is checked again when pressed
    org = await admin_org(store)
    stale = await member.click(QBankCD(org_id=org).pack())  # forged: an admin's bank choice
    assert any(a.show_alert for a in stale.answers)
    stale = await member.click(QBankCD(org_id=0).pack())  # forged: the operator's
    assert any(a.show_alert for a in stale.answers)
    assert db(settings, "SELECT count(*) FROM questions") == [(0,)]


async def test_learn_1_bad_files_get_a_specific_message_and_the_flow_stays(client_factory, store, settings):
    await admin_org(store)
    c = client_factory(ADMIN)
    await c.send("/import questions")
    assert "不是 Excel 表格" in (await c.document(b"not a spreadsheet", "q.xlsx")).text
    missing = await c.document(xlsx([["单选", "题"]], header=["题型", "题干"]), "q.xlsx", file_id="d2")
    assert "表格缺少必填列：答案" in missing.text
    members = await c.document(xlsx([["张三", "13800000000", "一支部"]], header=["姓名", "手机号", "所属支部"]),
                               "m.xlsx", file_id="d3")
    assert "这是一份成员名单" in members.text
    assert "没有题目" in (await c.document(xlsx([]), "e.xlsx", file_id="d4")).text
    assert "以<b>文件</b>形式" in (await c.send("你好")).text
    from aiogram.types import Document
    huge = await c._feed(message=c._message(document=Document(file_id="h", file_unique_id="h", file_name="x.xlsx",
                                                              file_size=21 * 1024 * 1024)))
    assert "文件太大（21.0 MB）" in huge.text
    ok = await c.document(xlsx(GOOD[:2]), "ok.xlsx", file_id="d5")
    assert "新增：2 道" in ok.text
    assert db(settings, "SELECT count(*) FROM questions") == [(2,)]


async def test_learn_1_english_headers_and_reasons(client_factory, store, settings):
    await admin_org(store)
    c = client_factory(ADMIN, language_code="en")
    await c.send("/import questions")
    header = ["Type", "Stem", "Option A", "Option B", "Answer", "Explanation"]
    rows = [["single", "Capital of China?", "Shanghai", "Beijing", "b", "Beijing."],
            ["single", "Broken", "x", "y", "Z", ""]]
    sent = await c.document(xlsx(rows, header=header), "q.xlsx")
    assert "Added: 1" in sent.text and "Not imported: 1 row\n" in sent.text
    table = table_of(sent)
    assert table[0][-2:] == ["Reason not imported", "Row"]
    assert table[1][-2:] == ["The answer's Z is not an option (this question has A–B)", 3]

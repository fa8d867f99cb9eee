"""LEARN-6: an exam's questions picked from the bank or taken from an uploaded question sheet (the
/template questions format, its rows becoming the exam's questions), and taking an exam of every kind of
question (multiple choice toggles, true/false, a typed fill-in-the-blank)."""
from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook

from bot.services import exams
from tests.support.exam_factories import exam_world, settings
from tests.support.quiz_factories import make_question

ADMIN, MEMBER = 510001, 510002
HEADER = ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "选项F", "答案", "解析", "标签"]


def sheet(rows) -> bytes:
    book = Workbook()
    ws = book.active
    ws.title = "题目"
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


async def _to_time_limit(admin, source_label: str):
    panel = await admin.send("/exams")
    new = await admin.press(panel, "管理考试")
    await admin.press(new, "新建考试")
    source = await admin.send("资料考试")
    return await admin.press(source, source_label)


async def test_learn_6_questions_picked_from_the_bank(store, clock, client_factory):
    w = await exam_world(store)
    admin = client_factory(ADMIN, "李管理")
    page = await _to_time_limit(admin, "从题库挑选")
    assert "共 4 道，已选 0 道" in page.text
    page = await admin.press(page, "⬜ 3")
    page = await admin.press(page, "⬜ 1")
    assert "已选 2 道" in page.text
    limit = await admin.press(page, "选好了（2 道）")
    assert "已选 2 道题" in limit.text
    picked = [r["question_id"] for r in await store._all("SELECT question_id FROM exam_questions")]
    assert picked == []  # nothing saved before the last step
    await admin.send("5")
    await admin.send("2026-11-25 18:00")
    assert "最多可作答几次" in (await admin.send("1")).text
    points = await admin.send("2")
    policy = await admin.press(points, "不给积分")
    saved = await admin.press(policy, "超时清空")
    assert "考试已保存" in saved.text and "次数：限 2 次" in saved.text and "通过积分：0" in saved.text
    ids = list(w.bank)
    picked = [r["question_id"] for r in await store._all("SELECT question_id FROM exam_questions ORDER BY position")]
    assert picked == [ids[2], ids[0]]


async def test_learn_6_questions_from_an_uploaded_sheet_and_every_kind_taken(store, clock, client_factory):
    await exam_world(store)
    admin = client_factory(ADMIN, "李管理")
    ask = await _to_time_limit(admin, "上传题目表")
    assert "/template questions" in ask.text
    data = sheet([["多选", "哪些是直辖市？", "北京", "天津", "广州", "重庆", "", "", "A、B、D", "广州是省会。", ""],
                  ["判断", "宪法是国家的根本法。", "", "", "", "", "", "", "对", "宪法序言。", ""],
                  ["填空", "香港于（ ）年回归。", "", "", "", "", "", "", "1997", "史实。", ""],
                  ["单选", "", "甲", "乙", "", "", "", "", "A", "", ""]])
    limit = await admin.document(data, "exam.xlsx")
    assert "1 行有问题" in limit.text and "已选 3 道题" in limit.text
    await admin.send("5")
    await admin.send("2026-11-25 18:00")
    await admin.send("3")
    await admin.send("1")
    policy = await admin.send("0")
    saved = await admin.press(policy, "超时自动交卷")
    await admin.press(saved, "立即发布")
    stems = [r["body"] for r in await store._all(
        "SELECT q.body FROM exam_questions x JOIN questions q ON q.id = x.question_id ORDER BY x.position")]
    assert "直辖市" in stems[0] and "宪法" in stems[1] and "香港" in stems[2]

    me = client_factory(MEMBER, "王芳")
    listing = await me.send("/exams")
    rules = await me.press(listing, "参加")
    started = await me.press(rules, "开始作答")
    q = await me.press(started, "A")  # multiple choice: a toggle, the question stays
    assert "第 1/3 题" in q.text and "您的答案：A" in q.text
    q = await me.press(q, "B")
    q = await me.press(q, "D")
    assert "您的答案：A、B、D" in q.text
    judge = await me.press(q, "下一题")
    assert "第 2/3 题" in judge.text
    blank = await me.press(judge, "正确")
    assert "第 3/3 题" in blank.text
    typed = await me.send("１９９７")  # full-width digits: compared after normalising
    assert "已答 3 题" in typed.text
    done = await me.press(typed, "交卷")
    assert "得分：3/3（正确率 100%）" in done.text and "✅ 通过" in done.text


async def test_learn_6_exam_with_no_questions_cannot_be_saved(store, clock):
    w = await exam_world(store)
    retired = await make_question(store, "single", "退役题", org_id=w.org_id, retired=True)
    assert retired
    try:
        await exams.create(store, clock, w.admin, w.org_id, settings(clock), [])
    except Exception as exc:  # noqa: BLE001 - the domain error's key is what a person reads
        assert getattr(exc, "key", "") == "exams.no_questions"
    else:
        raise AssertionError("an exam without questions was saved")

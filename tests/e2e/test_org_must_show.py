"""Issue #4 end to end over the sandbox (ORG-1, ORG-3, RNV-1, MEM-4, MEM-5, MEM-6, REG-6):

A registers, verifies on the way into /neworg and creates an organisation with two branches;
fills the downloaded template with 50 members and 3 bad rows and gets the 3 back with their
reasons; makes a join link whose QR code decodes to the same link. B, a new person, opens the
link, registers, picks a branch and is an activated member in A's export. Once A revokes the
link, C is refused.
"""
from __future__ import annotations

import re
from io import BytesIO

import openpyxl

from bot.services.idcard import check_digit
from tests.support.sandbox_client import Sandbox, SandboxUser

WAIT = 30  # seconds: generous, the shared sandbox may be busy
ORG = "中共金水区文化路街道工作委员会"
REGION = "河南省郑州市金水区"
A_PHONE, B_PHONE, C_PHONE = "+8613766600001", "+8613766600002", "+8613766600003"
A_ID = "41010519760315587" + check_digit("41010519760315587")  # well-formed, used by no other test
BRANCHES = ("第一党支部", "第二党支部")


def register(u: SandboxUser, name: str) -> None:
    """From the agreement (after /start, with or without a payload) to "注册成功"."""
    u.press(u.expect("服务协议与隐私政策", WAIT), "同意并继续")
    u.expect("第 1 步", WAIT)
    u.contact()
    step = u.expect("第 2 步", WAIT)
    u.send(name)
    if "共 2 步" not in text(step):  # a join link names the organisation: no org-name step (REG-6)
        u.press(u.expect("第 3 步", WAIT), "跳过")
    u.expect("注册成功", WAIT)


def text(message: dict) -> str:
    return message.get("text") or message.get("caption") or ""


def document(u: SandboxUser, caption_part: str) -> tuple[dict, bytes]:
    msg = u.expect(lambda m: "document" in m and caption_part in text(m), WAIT)
    return msg, u.sb.file(msg["document"]["url"])


def rows_of(data: bytes) -> list[tuple]:
    book = openpyxl.load_workbook(BytesIO(data), read_only=True)
    return [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]


def create_org_with_branches(a: SandboxUser) -> None:
    a.send("/neworg")
    a.expect("需要先完成实名认证", WAIT)
    a.expect("请输入您的真实姓名", WAIT)
    a.send("陈主任")
    a.expect("18 位居民身份证号码", WAIT)
    a.send(A_ID)
    a.expect("实名认证成功：陈主任", WAIT)
    a.press(a.expect("第 1 步（共 3 步）", WAIT), "党组织")
    a.expect("第 2 步（共 3 步）", WAIT)
    a.send(ORG)
    a.expect("第 3 步（共 3 步）", WAIT)
    a.send(REGION)
    a.press(a.expect("请确认要创建的学习组织", WAIT), "确认创建")
    a.expect(f"学习组织“{ORG}”⚪ 未认证 已创建", WAIT)

    a.send("/org")
    card = a.expect(lambda m: f"{ORG} ⚪ 未认证" in text(m) and "支部：0 个" in text(m), WAIT)
    a.press(card, "支部管理")
    screen = a.expect("还没有支部", WAIT)
    for name in BRANCHES:
        a.press(screen, "添加党支部")
        a.expect("党支部名称", WAIT)
        a.send(name)
        a.expect(f"已添加党支部“{name}”", WAIT)
        screen = a.expect(lambda m, n=name: f"• {n}（党支部，0 人）" in text(m), WAIT)


def import_members(a: SandboxUser) -> None:
    a.send("/template")
    _msg, template = document(a, ORG)
    book = openpyxl.load_workbook(BytesIO(template))
    sheet = book.worksheets[0]
    assert "姓名" in str(sheet.cell(1, 1).value)
    for n in range(1, 51):
        sheet.append([f"学员{n:02d}", f"1377770{n:04d}", BRANCHES[n % 2], ""])
    sheet.append(["", "13777709001", BRANCHES[0], "没有姓名"])          # row 52
    sheet.append(["钱错号", "12345", BRANCHES[0], ""])                 # row 53
    sheet.append(["孙重复", "13777700001", BRANCHES[1], "与第 2 行同号"])  # row 54
    out = BytesIO()
    book.save(out)

    a.send("/import")
    a.expect("批量导入成员到", WAIT)
    a.upload("document", "成员名单.xlsx", out.getvalue())
    summary = text(a.expect("导入结果", WAIT))
    assert "新增：50 人" in summary and "未导入：3 行" in summary, summary
    _msg, rejects = document(a, "未导入的 3 行")
    header, *rejected = rows_of(rejects)
    assert "未导入原因" in header and "原行号" in header
    reason, row = header.index("未导入原因"), header.index("原行号")
    by_row = {r[row]: r[reason] for r in rejected}
    assert set(by_row) == {52, 53, 54}, rejected
    assert by_row[52] == "缺少姓名"
    assert by_row[53].startswith("手机号格式不正确")
    assert by_row[54] == "手机号与第 2 行重复"


def make_link(a: SandboxUser, sb: Sandbox) -> str:
    import PIL.Image
    import zxingcpp

    a.send("/invite")
    a.press(a.expect("第 1 步", WAIT), "由加入者选择")
    a.press(a.expect("第 2 步", WAIT), "7 天")
    a.press(a.expect("第 3 步", WAIT), "不限次数")
    link = re.search(r"https://t\.me/\w+\?start=(j_[A-Za-z0-9_-]+)", text(a.expect("t.me/", WAIT)))
    assert link, "the join link is in the message"
    photo = a.expect(lambda m: "photo" in m, WAIT)
    decoded = zxingcpp.read_barcodes(PIL.Image.open(BytesIO(sb.file(photo["photo"]["url"]))))
    assert [d.text for d in decoded] == [link.group(0)], "the QR code is the same link"
    return link.group(1)


def test_issue_4_org_import_invite_join_revoke_end_to_end(sb):
    a = sb.user("陈主任", phone=A_PHONE)
    a.send("/start")
    register(a, "陈主任")
    create_org_with_branches(a)
    import_members(a)
    payload = make_link(a, sb)

    b = sb.user("钱学员", phone=B_PHONE)
    b.send(f"/start {payload}")
    register(b, "钱学员")  # REG-6: the link waits for the registration
    choice = b.expect("请选择您所在的支部", WAIT)
    assert ORG in text(choice)
    b.press(choice, BRANCHES[1])
    b.expect(f"已加入 {ORG}（{BRANCHES[1]}）", WAIT)

    a.send("/export")
    _msg, exported = document(a, "成员名单：51 人")
    header, *members = rows_of(exported)
    listed = {r[header.index("姓名")]: r for r in members}
    assert len(listed) == 51 and "学员50" in listed
    joined = listed["钱学员"]
    assert joined[header.index("所属支部")] == BRANCHES[1] and joined[header.index("是否激活")] == "是"
    assert listed["学员01"][header.index("是否激活")] == "否"

    a.send("/invite")
    a.press(a.expect("第 1 步", WAIT), "已有的邀请链接")
    listing = a.expect("已使用 1/不限", WAIT)
    a.press(listing, "撤销")
    a.expect("最近结束的链接", WAIT)

    c = sb.user("孙来晚", phone=C_PHONE)
    c.send(f"/start {payload}")
    register(c, "孙来晚")
    c.expect("已被管理员撤销", WAIT)
    a.send("/export")
    _msg, exported = document(a, "成员名单：51 人")
    assert "孙来晚" not in {r[0] for r in rows_of(exported)}

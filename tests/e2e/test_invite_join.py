"""MEM-6 end to end over the sandbox: an admin makes a join link, its QR code decodes to the link,
a new person opens it, registers, picks a branch and is an activated member; after the admin
revokes the link the next person is refused."""
from __future__ import annotations

import asyncio
import re
import sqlite3
from io import BytesIO

import pytest

from bot.store import Store
from tests.support.factories import make_org, make_user
from tests.support.sandbox_client import SandboxProcess

ADMIN_ID = 700001
ADMIN_PHONE = "+8613912340001"
ORG = "中共某县委宣传部"


async def _prepare(path) -> None:
    store = await Store.open(path)
    try:
        await make_user(store, ADMIN_ID, "李管理", phone=ADMIN_PHONE, verified=True)
        await make_org(store, ORG, ADMIN_ID, branches=["第一党支部", "第二党支部"], certified=True)
    finally:
        await store.close()


@pytest.fixture
def org_sandbox(tmp_path):
    path = tmp_path / "invites.sqlite3"
    asyncio.run(_prepare(path))
    proc = SandboxProcess(path)
    yield proc
    proc.stop()


def _register_after_link(u, name: str, invited_by: str | None = None) -> None:
    agreement = u.expect("服务协议与隐私政策")
    if invited_by:  # REG-6: the agreement names the inviting organisation; 2 steps, no org-name step
        assert f"{invited_by} 邀请您加入学习组织" in agreement["text"]
    u.press(agreement, "同意并继续")
    u.expect("第 1 步（共 2 步）" if invited_by else "第 1 步（共 3 步）")
    u.contact()
    u.expect("第 2 步")
    u.send(name)
    if not invited_by:
        u.press(u.expect("第 3 步"), "跳过")
    u.expect("注册成功")
    if invited_by:
        texts = [m.get("text") or "" for m in u.messages() if m["from"] == "bot"]
        assert not any("第 3 步" in t or "还没有加入任何学习组织" in t for t in texts), texts


def test_mem_6_invite_qr_join_and_revoke_end_to_end(org_sandbox):
    import PIL.Image
    import zxingcpp

    sb = org_sandbox.sandbox
    admin = sb.user("李管理", phone=ADMIN_PHONE, id=ADMIN_ID)
    admin.send("/invite")
    admin.press(admin.expect("第 1 步"), "由加入者选择")
    admin.press(admin.expect("第 2 步"), "7 天")
    admin.press(admin.expect("第 3 步"), "10 次")
    link_msg = admin.expect("t.me/")
    assert not link_msg["protect_content"]
    url = re.search(r"https://t\.me/\w+\?start=j_[A-Za-z0-9_-]+", link_msg["text"]).group(0)
    photo = admin.expect(lambda m: "photo" in m)
    assert not photo["protect_content"]
    decoded = zxingcpp.read_barcodes(PIL.Image.open(BytesIO(sb.file(photo["photo"]["url"]))))
    assert [d.text for d in decoded] == [url]
    payload = url.split("start=", 1)[1]

    b = sb.user("王芳", phone="+8613912340002")
    b.send(f"/start {payload}")
    _register_after_link(b, "王芳", invited_by=ORG)
    choice = b.expect("请选择您所在的支部")
    assert f"{ORG}" in choice["text"] and "✅ 已认证" in choice["text"]
    b.press(choice, "第二党支部")
    joined = b.expect("已加入 中共某县委宣传部（第二党支部）")
    menu = b.expect("请选择：")  # the main menu follows the join
    assert menu["message_id"] > joined["message_id"]
    db = sqlite3.connect(org_sandbox.db)
    rows = db.execute("""SELECT m.name, m.phone, b.name, m.activated_at IS NOT NULL FROM members m
                         JOIN branches b ON b.id = m.branch_id""").fetchall()
    assert rows == [("王芳", "+8613912340002", "第二党支部", 1)]
    assert db.execute("SELECT uses FROM invites").fetchone()[0] == 1

    admin.send("/invite")
    admin.press(admin.expect("第 1 步"), "已有的邀请链接")
    listing = admin.expect("已使用 1/10")
    admin.press(listing, "撤销 #1")
    admin.expect("最近结束的链接")
    assert db.execute("SELECT revoked_at IS NOT NULL FROM invites").fetchone()[0] == 1

    c = sb.user("赵磊", phone="+8613912340003")
    c.send(f"/start {payload}")
    _register_after_link(c, "赵磊")
    c.expect("已被管理员撤销")
    assert db.execute("SELECT count(*) FROM members").fetchone()[0] == 1

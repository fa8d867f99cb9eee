"""CERT-1…7, ORG-7 end to end over the sandbox: the operator certifies root R; R invites city C, C's
admin applies, R approves; C invites county K, K applies, C rejects with a reason, K applies again,
C approves; R's admin sees the tree R→C→K; K cannot be dissolved while certified; C cannot be
un-certified while K is under it. Notices to the other side arrive through the outbox."""
from __future__ import annotations

import asyncio
import re
import sqlite3

import pytest

from bot.store import Store
from tests.support.factories import make_org, make_user
from tests.support.sandbox_client import SandboxProcess

OPERATOR, R_ADMIN, C_ADMIN, K_ADMIN = 710001, 710002, 710003, 710004
PHONES = {R_ADMIN: "+8613912350002", C_ADMIN: "+8613912350003", K_ADMIN: "+8613912350004"}
R, C, K = "河南省委宣传部", "郑州市委宣传部", "金水区委宣传部"


async def _prepare(path) -> None:
    store = await Store.open(path)
    try:
        await make_user(store, OPERATOR, "运营方", phone="+8613912350001")
        for uid, name in ((R_ADMIN, "罗主任"), (C_ADMIN, "陈主任"), (K_ADMIN, "孔主任")):
            await make_user(store, uid, name, phone=PHONES[uid], verified=True)
        for name, admin in ((R, R_ADMIN), (C, C_ADMIN), (K, K_ADMIN)):
            await make_org(store, name, admin)
    finally:
        await store.close()


@pytest.fixture
def cert_sandbox(tmp_path):
    path = tmp_path / "certification.sqlite3"
    asyncio.run(_prepare(path))
    proc = SandboxProcess(path, extra_env={"OPERATOR_IDS": str(OPERATOR)})
    yield proc
    proc.stop()


def _invite(admin, org: str) -> str:
    admin.send("/certify")
    admin.press(admin.expect(f"组织认证 · {org}"), "生成认证邀请")
    link = admin.expect("邀请下级学习组织认证")
    assert not link["protect_content"]
    admin.expect(lambda m: "photo" in m)
    return re.search(r"start=(c_[A-Za-z0-9_-]+)", link["text"]).group(1)


def _apply(admin, payload: str, org: str) -> None:
    admin.send(f"/start {payload}")
    admin.press(admin.expect("请选择要申请认证的本单位学习组织"), f"提交申请：{org}")
    admin.expect(f"已提交“{org}”的认证申请")


def test_cert_end_to_end_root_city_county_with_a_rejection(cert_sandbox):
    sb = cert_sandbox.sandbox
    op = sb.user("运营方", id=OPERATOR)
    r = sb.user("罗主任", phone=PHONES[R_ADMIN], id=R_ADMIN)
    c = sb.user("陈主任", phone=PHONES[C_ADMIN], id=C_ADMIN)
    k = sb.user("孔主任", phone=PHONES[K_ADMIN], id=K_ADMIN)
    db = sqlite3.connect(cert_sandbox.db)

    # CERT-7: the operator certifies the root
    op.send("/certify")
    op.press(op.expect("运营方：根组织认证"), f"认证为根组织：#1 {R}")
    op.expect(f"已将“{R}”认证为根组织")
    r.expect("运营方已将学习组织")

    # CERT-1..3: R invites C, C applies, R approves; both sides are told
    _apply(c, _invite(r, R), C)
    r.press(r.expect("收到认证申请"), "同意")
    r.expect(f"已同意“{C}”认证为“{R}”的下级组织")
    c.expect(f"“{C}”现已认证")

    # C invites K; K applies; C rejects with a reason; K applies again; C approves
    payload = _invite(c, C)
    _apply(k, payload, K)
    c.press(c.expect("收到认证申请"), "拒绝")
    c.expect("请输入拒绝")
    c.send("请使用党组织全称")
    c.expect(f"已拒绝“{K}”的认证申请")
    k.expect("理由：请使用党组织全称")
    _apply(k, payload, K)
    c.press(c.expect(lambda m: "收到认证申请" in (m.get("text") or "") and "#3" in m["text"]), "同意")
    k.expect(f"“{K}”现已认证")

    # the tree R→C→K for R's admin
    r.send("/certify")
    r.press(r.expect(f"组织认证 · {R}"), "组织架构")
    tree = r.expect("组织架构 · ")["text"]
    assert "共 3 个组织" in tree
    assert tree.index(R) < tree.index(C) < tree.index(K)
    assert re.search(rf"└ {K}", tree) and re.search(rf"^└ {C}", tree, re.M)
    assert sorted(db.execute("SELECT ancestor_id, descendant_id, depth FROM org_tree").fetchall()) == [
        (1, 1, 0), (1, 2, 1), (1, 3, 2), (2, 2, 0), (2, 3, 1), (3, 3, 0)]

    # ORG-7: K cannot be dissolved while certified; CERT-6: C cannot be un-certified while K is under it
    k.send("/org")
    answer = k.press(k.expect(f"{K}"), "解散")
    assert answer["answer"]["show_alert"] and "不能直接解散" in answer["answer"]["text"]
    c.send("/certify")
    answer = c.press(c.expect(f"组织认证 · {C}"), f"解除与上级“{R}”的认证")
    assert answer["answer"]["show_alert"] and "认证只能自下而上解除" in answer["answer"]["text"]
    assert db.execute("SELECT id, parent_id, certified_at IS NOT NULL FROM orgs ORDER BY id").fetchall() == [
        (1, None, 1), (2, 1, 1), (3, 2, 1)]

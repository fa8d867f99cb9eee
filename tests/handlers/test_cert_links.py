"""CERT-1: the certification links an organisation gave out, listed from /certify and revoked."""
from __future__ import annotations

import re

from bot.ui.certify import CertLinkCD
from tests.support.factories import make_org, make_user
from tests.support.sql import store_rows as rows

R_ADMIN, C_ADMIN, K_ADMIN, OTHER = 100001, 100002, 100004, 100007


async def setup(store):
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    await make_user(store, C_ADMIN, "陈主任", verified=True)
    await make_user(store, K_ADMIN, "孔主任", verified=True)
    await make_user(store, OTHER, "欧主任", verified=True)
    r = await make_org(store, "河南省委宣传部", R_ADMIN, certified=True)
    await make_org(store, "郑州市委宣传部", C_ADMIN)
    await make_org(store, "金水区委宣传部", K_ADMIN)
    await make_org(store, "别的已认证组织", OTHER, certified=True)
    return r


async def test_cert_1_links_are_listed_and_a_revoked_one_stops_working(client_factory, store, clock):
    r = await setup(store)
    rc = client_factory(R_ADMIN)
    open_link = await rc.press(await rc.send("/certify"), "📨 生成认证邀请（链接和二维码）")
    anyone = re.search(r"start=(c_[A-Za-z0-9_-]+)", open_link.text).group(1)
    await rc.press(await rc.send("/certify"), "👤 指定接收人并留言")
    await rc.send((await store.get_user(C_ADMIN)).phone)
    await rc.send("请尽快申请认证")
    panel = await rc.send("/certify")
    listing = await rc.press(panel, "🔗 已发出的认证邀请")
    assert "<b>河南省委宣传部</b> 发出的、仍然有效的认证邀请" in listing.text
    assert "#2 · 仅限 陈主任 使用" in listing.text and "留言：请尽快申请认证" in listing.text
    assert "#1 · 任何收到链接的管理员都可使用" in listing.text and "有效期至 2026-11-30" in listing.text
    assert [b for b, _ in listing.buttons()] == ["🚫 撤销 #2", "🚫 撤销 #1", "⬅️ 返回"]
    revoked = await rc.press(listing, "🚫 撤销 #1")
    assert revoked.answers[-1].text == "已撤销认证邀请 #1。"
    assert "#1 ·" not in revoked.text and [b for b, _ in revoked.buttons()] == ["🚫 撤销 #2", "⬅️ 返回"]
    assert await rows(store, "SELECT id, revoked_at IS NOT NULL FROM cert_invites ORDER BY id") == [(1, 1), (2, 0)]
    assert await rows(store, "SELECT actor_id, org_id, action, target FROM audit_log WHERE action = "
                             "'cert.invite_revoke'") == [(R_ADMIN, r, "cert.invite_revoke", "cert_invite:1")]
    assert "已被撤销" in (await client_factory(K_ADMIN).start(anyone)).text
    again = await rc.click(listing.button("撤销 #1"))  # stale: the button as first listed, pressed again
    assert again.answers[-1].show_alert and "认证邀请 #1 已经撤销过了" in again.answers[-1].text
    # expired links drop off the list
    clock.advance(days=8)
    listing = await rc.press(await rc.send("/certify"), "🔗 已发出的认证邀请")
    assert "目前没有有效的认证邀请" in listing.text


async def test_sec_4_only_the_organisations_admins_see_or_revoke_its_links(client_factory, store):
    r = await setup(store)
    rc = client_factory(R_ADMIN)
    await rc.press(await rc.send("/certify"), "📨 生成认证邀请（链接和二维码）")
    for uid in (OTHER, C_ADMIN):
        c = client_factory(uid)
        for data in (CertLinkCD(act="list", org=r), CertLinkCD(act="revoke", link=1)):
            sent = await c.click(data.pack())  # forged: another organisation's links
            assert sent.answers[-1].show_alert and "没有执行此操作的权限" in sent.answers[-1].text and not sent.texts
    assert await rows(store, "SELECT revoked_at FROM cert_invites") == [(None,)]

"""MEM-6 join links through the dispatcher: the /invite wizard, list and revoke, opening links
(/start j_…, /join), branch choice, approval by admins; SEC-4 role checks on every press."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from datetime import UTC, timedelta
from io import BytesIO

import pytest
from aiogram.methods import AnswerCallbackQuery, SendMessage, SendPhoto

from bot.services import invites
from bot.ui.invite import InviteCD, InviteListCD, JoinBranchCD, JoinDecisionCD
from bot.ui.org import OrgPickCD
from bot.ui.workflows import PAYLOAD_RE
from tests.support.factories import make_member, make_org, make_user
from tests.support.pg import connect_committed

ADMIN, ADMIN2, JOINER, JOINER2 = 200001, 200002, 300001, 300002
ORG = "中共某县委宣传部"
LINK_RE = re.compile(r"https://t\.me/xuexi_test_bot\?start=(j_[A-Za-z0-9_-]+)")


def db(settings):
    return connect_committed(settings)


async def setup_org(store, *, branches=("第一党支部", "第二党支部"), approval=False, admins=(), certified=True):
    await make_user(store, ADMIN, "李管理", verified=True)
    for admin in admins:
        await make_user(store, admin, f"管理{admin}", verified=True)
    org_id = await make_org(store, ORG, ADMIN, admins=admins, branches=branches, certified=certified)
    if approval:
        async with store.raw_tx() as conn:
            await conn.execute("UPDATE orgs SET join_approval = 1 WHERE id = ?", (org_id,))
    return org_id


def branch_id(settings, name: str) -> int:
    return db(settings).execute("SELECT id FROM branches WHERE name = ?", (name,)).fetchone()[0]


async def create_link(client, branch: str | None = None, days: int = 7, uses: str = "不限次数"):
    """Walks the wizard with its buttons; returns (payload, the last update's Sent)."""
    sent = await client.send("/invite")
    if "第 1 步" in sent.text:  # an organisation without branches starts at step 2
        sent = await client.press(sent, branch or "由加入者选择")
    sent = await client.press(sent, f"{days} 天")
    sent = await client.press(sent, uses)
    link = next(m.text for m in sent.of(SendMessage) if m.text and "t.me" in m.text)
    return LINK_RE.search(link).group(1), sent


# -- creating ------------------------------------------------------------------------------------
@pytest.mark.parametrize("branch,days,uses,max_uses", [
    (None, 7, "不限次数", None),
    ("第一党支部", 1, "1 次", 1),
    ("第二党支部", 30, "10 次", 10),
    (None, 7, "50 次", 50),
    (None, 1, "200 次", 200),
])
async def test_mem_6_create_with_each_option(client_factory, store, settings, clock, branch, days, uses, max_uses):
    import PIL.Image
    import zxingcpp

    await setup_org(store)
    payload, sent = await create_link(client_factory(ADMIN), branch, days, uses)
    token = payload[2:]
    row = db(settings).execute("SELECT * FROM invites").fetchone()
    assert row["token_hash"] == hmac.new(settings.secret_key, token.encode(), hashlib.sha256).hexdigest()
    assert token not in " ".join(str(v) for v in tuple(row))  # only the hash is stored
    assert row["expires_at"] == (clock.now() + timedelta(days=days)).astimezone(UTC).isoformat(
        timespec="seconds")
    assert row["max_uses"] == max_uses and row["uses"] == 0 and row["created_by"] == ADMIN
    assert row["branch_id"] == (branch_id(settings, branch) if branch else None)
    text = next(m for m in sent.of(SendMessage) if m.text and "t.me" in m.text)
    assert text.protect_content is False and (branch or "由加入者选择") in text.text
    photo = sent.of(SendPhoto)[0]
    assert photo.protect_content is False
    decoded = zxingcpp.read_barcodes(PIL.Image.open(BytesIO(photo.photo.data)))
    assert [d.text for d in decoded] == [f"https://t.me/xuexi_test_bot?start={payload}"]
    audit = db(settings).execute("SELECT actor_id, action, target FROM audit_log").fetchall()
    assert [tuple(a) for a in audit] == [(ADMIN, "invite.create", f"invite:{row['id']}")]


async def test_mem_6_token_length_charset_and_payload(client_factory, store):
    await setup_org(store)
    payload, _ = await create_link(client_factory(ADMIN))
    assert PAYLOAD_RE.match(payload) and len(payload) <= 64
    token = payload[2:]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token) and len(token) * 6 >= 96
    assert len({invites.new_token() for _ in range(1000)}) == 1000


async def test_mem_6_default_expiry_is_marked_and_wizard_buttons(client_factory, store):
    await setup_org(store, branches=("党总支", ("第一党支部", "党总支")))
    admin = client_factory(ADMIN)
    sent = await admin.send("/invite")
    labels = [b for b, _ in sent.buttons()]
    assert labels == ["👥 由加入者选择支部", "党总支", "党总支 / 第一党支部", "📋 已有的邀请链接"]
    sent = await admin.press(sent, "由加入者选择")
    assert [b for b, _ in sent.buttons()] == ["1 天", "7 天（默认）", "30 天"]
    sent = await admin.press(sent, "7 天")
    assert [b for b, _ in sent.buttons()] == ["不限次数", "1 次", "10 次", "50 次", "200 次"]


async def test_mem_6_org_without_branches_skips_the_branch_step(client_factory, store):
    await setup_org(store, branches=())
    sent = await client_factory(ADMIN).send("/invite")
    assert "第 2 步" in sent.text and "1 天" in [b for b, _ in sent.buttons()]


async def test_mem_6_admin_of_two_orgs_picks_one(client_factory, store, settings):
    await setup_org(store)
    await make_org(store, "某镇党委", ADMIN, branches=["镇一支部"])
    admin = client_factory(ADMIN)
    sent = await admin.send("/invite")
    assert "请选择要管理的学习组织" in sent.text
    sent = await admin.press(sent, "某镇党委")
    assert "某镇党委" in sent.text and "镇一支部" in [b for b, _ in sent.buttons()]


async def test_mem_6_member_not_admin_cannot_invite(client_factory, store, settings, registered):
    org_id = await setup_org(store)
    await registered(JOINER)
    member = client_factory(JOINER)
    assert "还不是任何学习组织的管理员" in (await member.send("/invite")).text
    for data in (InviteCD(org_id=org_id, branch_id=0, days=7, uses=0).pack(), InviteListCD(org_id=org_id).pack(),
                 OrgPickCD(purpose="invite", org_id=org_id).pack()):
        sent = await member.click(data)  # forged: a member is shown none of these
        assert sent.answers[-1].show_alert and "没有执行此操作的权限" in sent.answers[-1].text
    assert db(settings).execute("SELECT count(*) FROM invites").fetchone()[0] == 0


async def test_mem_6_wizard_refuses_a_forged_branch_of_another_org(client_factory, store, settings):
    org_id = await setup_org(store)
    await make_user(store, 200009, "别人")
    await make_org(store, "别的组织", 200009, branches=["外支部"])
    foreign = branch_id(settings, "外支部")
    forged = InviteCD(org_id=org_id, branch_id=foreign, days=7, uses=0).pack()
    sent = await client_factory(ADMIN).click(forged)  # forged: another organisation's branch
    assert "支部已不存在" in sent.answers[-1].text
    sent = await client_factory(ADMIN).click(InviteCD(org_id=org_id, branch_id=0, days=5, uses=0).pack())  # forged:
    assert "选项无效" in sent.answers[-1].text
    assert db(settings).execute("SELECT count(*) FROM invites").fetchone()[0] == 0


# -- listing and revoking --------------------------------------------------------------------------
async def test_mem_6_list_and_revoke(client_factory, store, settings, clock):
    await setup_org(store)
    admin = client_factory(ADMIN)
    await create_link(admin, "第一党支部", 7, "10 次")
    await create_link(admin)
    listing = sent = await admin.press(await admin.send("/invite"), "📋 已有的邀请链接")
    assert "#1 · 第一党支部 · 有效期至 2026-11-30 17:00 · 已使用 0/10" in sent.text
    assert "#2 · 由加入者选择 · 有效期至 2026-11-30 17:00 · 已使用 0/不限" in sent.text
    assert [b for b, _ in sent.buttons()] == ["🚫 撤销 #2", "🚫 撤销 #1", "➕ 新建邀请链接"]
    sent = await admin.press(sent, "🚫 撤销 #1")
    assert sent.answers[-1].text == "已撤销邀请链接 #1。"
    assert "最近结束的链接" in sent.text and "#1 · 第一党支部 · 已撤销（已使用 0/10）" in sent.text
    assert [b for b, _ in sent.buttons()] == ["🚫 撤销 #2", "➕ 新建邀请链接"]
    conn = db(settings)
    assert conn.execute("SELECT revoked_at FROM invites WHERE id = 1").fetchone()[0] == clock.now().isoformat()
    audit = conn.execute("SELECT actor_id, action, target, before, after FROM audit_log ORDER BY id").fetchall()
    assert [a["action"] for a in audit] == ["invite.create", "invite.create", "invite.revoke"]
    assert audit[-1]["target"] == "invite:1" and "revoked_at" in audit[-1]["after"]
    again = await admin.click(listing.button("撤销 #1"))  # stale: the button as first sent, pressed again
    assert "已经撤销过了" in again.answers[-1].text
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 3
    clock.advance(days=8)
    sent = await admin.press(await admin.send("/invite"), "📋 已有的邀请链接")
    assert "目前没有有效的邀请链接" in sent.text and "#2 · 由加入者选择 · 已过期" in sent.text


async def test_sec_4_stale_revoke_button_from_removed_admin(client_factory, store, settings):
    await setup_org(store, admins=[ADMIN2])
    removed = client_factory(ADMIN2)
    await create_link(removed)
    listing = await removed.press(await removed.send("/invite"), "📋 已有的邀请链接")
    wizard = await removed.press(await removed.press(await removed.send("/invite"), "由加入者选择"), "7 天")
    async with store.raw_tx() as conn:
        await conn.execute("DELETE FROM org_admins WHERE user_id = ?", (ADMIN2,))
    sent = await removed.press(listing, "🚫 撤销 #1")  # stale: shown while still an admin
    assert sent.answers[-1].show_alert and "没有执行此操作的权限" in sent.answers[-1].text
    assert db(settings).execute("SELECT revoked_at FROM invites").fetchone()[0] is None
    sent = await removed.press(wizard, "不限次数")  # stale: a wizard step shown while still an admin
    assert "没有执行此操作的权限" in sent.answers[-1].text
    assert db(settings).execute("SELECT count(*) FROM invites").fetchone()[0] == 1


# -- opening a link --------------------------------------------------------------------------------
async def test_mem_6_branch_choice_required_when_not_fixed(client_factory, store, settings, registered):
    await setup_org(store, branches=("党总支", ("第一党支部", "党总支"), "机关党支部"))
    payload, _ = await create_link(client_factory(ADMIN))
    await registered(JOINER, name="王芳")
    joiner = client_factory(JOINER)
    sent = await joiner.start(payload)
    assert f"<b>{ORG}</b> ✅ 已认证" in sent.text and "请选择您所在的支部" in sent.text
    assert [b for b, _ in sent.buttons()] == ["党总支", "党总支 / 第一党支部", "机关党支部"]  # no "none"
    assert "请点击上方的按钮" in (await joiner.send("第一党支部")).text
    conn = db(settings)
    assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 0
    done = await joiner.press(sent, "党总支 / 第一党支部")
    assert "✅ 已加入 中共某县委宣传部（党总支 / 第一党支部）" in done.text
    row = conn.execute("SELECT * FROM members").fetchone()
    assert (row["name"], row["phone"], row["branch_id"]) == ("王芳", "+8613800300001", branch_id(settings, "第一党支部"))
    assert row["activated_at"] is not None
    assert conn.execute("SELECT uses FROM invites").fetchone()[0] == 1
    stale = await joiner.click(sent.button("机关党支部"))  # stale: the choice is over, its keyboard gone
    assert "按钮已失效" in stale.answers[-1].text
    assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 1


async def test_mem_6_forged_branch_button_is_refused(client_factory, store, settings, registered):
    await setup_org(store)
    payload, _ = await create_link(client_factory(ADMIN))
    await registered(JOINER)
    joiner = client_factory(JOINER)
    await joiner.start(payload)
    # forged: "none" although it has branches
    sent = await joiner.click(JoinBranchCD(invite_id=1, branch_id=0).pack())  # forged:
    assert "请先选择您所在的支部" in sent.answers[-1].text
    sent = await joiner.click(JoinBranchCD(invite_id=99, branch_id=1).pack())  # forged: a link not opened
    assert "按钮已失效" in sent.answers[-1].text
    assert db(settings).execute("SELECT count(*) FROM members").fetchone()[0] == 0


async def test_mem_6_fixed_branch_skips_the_choice(client_factory, store, settings, registered):
    await setup_org(store)
    payload, _ = await create_link(client_factory(ADMIN), "第二党支部")
    await registered(JOINER)
    sent = await client_factory(JOINER).start(payload)
    assert sent.buttons() == []
    assert f"<b>{ORG}</b> ✅ 已认证" in sent.text and "✅ 已加入 中共某县委宣传部（第二党支部）" in sent.text
    assert db(settings).execute("SELECT branch_id FROM members").fetchone()[0] == branch_id(settings, "第二党支部")


async def test_mem_6_org_without_branches_offers_none(client_factory, store, settings, registered):
    await setup_org(store, branches=(), certified=False)
    payload, _ = await create_link(client_factory(ADMIN))
    await registered(JOINER)
    joiner = client_factory(JOINER)
    sent = await joiner.start(payload)
    assert f"<b>{ORG}</b> ⚪ 未认证" in sent.text and [b for b, _ in sent.buttons()] == ["不在任何支部"]
    done = await joiner.press(sent, "不在任何支部")
    assert "✅ 已加入 中共某县委宣传部" in done.text
    assert db(settings).execute("SELECT branch_id FROM members").fetchone()[0] is None


async def test_mem_6_already_a_member(client_factory, store, settings, registered):
    org_id = await setup_org(store)
    payload, _ = await create_link(client_factory(ADMIN))
    user = await registered(JOINER)
    await make_member(store, org_id, "王芳", user.phone, branch="第二党支部", activated=True)
    sent = await client_factory(JOINER).start(payload)
    assert "您已经是 中共某县委宣传部（第二党支部）的成员" in sent.text and sent.buttons() == []
    conn = db(settings)
    assert conn.execute("SELECT uses FROM invites").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 1


async def test_mem_6_expired_link_is_refused(client_factory, store, settings, clock, registered):
    await setup_org(store)
    payload, _ = await create_link(client_factory(ADMIN))
    clock.advance(days=8)
    await registered(JOINER)
    sent = await client_factory(JOINER).start(payload)
    assert "这个邀请链接已于 2026-11-30 17:00 过期" in sent.text
    assert db(settings).execute("SELECT count(*) FROM members").fetchone()[0] == 0


async def test_mem_6_link_expiring_during_the_branch_choice(client_factory, store, settings, clock, registered):
    await setup_org(store)
    payload, _ = await create_link(client_factory(ADMIN), days=1)
    await registered(JOINER)
    joiner = client_factory(JOINER)
    offer = await joiner.start(payload)
    clock.advance(days=2)
    sent = await joiner.press(offer, "第一党支部")
    assert "过期" in sent.text
    assert db(settings).execute("SELECT count(*) FROM members").fetchone()[0] == 0
    assert "没有理解" in (await joiner.send("你好")).text  # the choice is over, not waiting for buttons


async def test_mem_6_revoked_link_is_refused(client_factory, store, settings, registered):
    await setup_org(store)
    admin = client_factory(ADMIN)
    payload, _ = await create_link(admin)
    await admin.press(await admin.press(await admin.send("/invite"), "📋 已有的邀请链接"), "🚫 撤销 #1")
    await registered(JOINER)
    sent = await client_factory(JOINER).start(payload)
    assert "已被管理员撤销" in sent.text
    assert db(settings).execute("SELECT count(*) FROM members").fetchone()[0] == 0


async def test_mem_6_used_up_link_is_refused(client_factory, store, settings, registered):
    await setup_org(store)
    payload, _ = await create_link(client_factory(ADMIN), "第一党支部", 7, "1 次")
    await registered(JOINER)
    await registered(JOINER2)
    assert "已加入" in (await client_factory(JOINER).start(payload)).text
    sent = await client_factory(JOINER2).start(payload)
    assert "使用次数已经用完（共 1 次）" in sent.text
    conn = db(settings)
    assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 1
    assert conn.execute("SELECT uses FROM invites").fetchone()[0] == 1


async def test_mem_6_use_limit_holds_when_two_join_at_once(client_factory, store, settings, registered):
    await setup_org(store)
    payload, _ = await create_link(client_factory(ADMIN), None, 7, "1 次")
    a, b = client_factory(JOINER), client_factory(JOINER2)
    await registered(JOINER)
    await registered(JOINER2)
    offer_a, offer_b = await a.start(payload), await b.start(payload)
    await asyncio.gather(a.press(offer_a, "第一党支部"), b.press(offer_b, "第二党支部"))
    conn = db(settings)
    assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 1
    assert conn.execute("SELECT uses, max_uses FROM invites").fetchone()[:] == (1, 1)


@pytest.mark.parametrize("payload,expected", [
    ("j_", "格式不正确"),
    ("j_!!!", "链接无效"),
    ("j_" + "A" * 68, "链接无效"),
    ("j_short", "格式不正确"),
    ("j_" + "A" * 22, "找不到这个链接"),
])
async def test_mem_6_malformed_payloads(client_factory, store, registered, payload, expected):
    await registered(JOINER)
    sent = await client_factory(JOINER).start(payload)
    assert expected in sent.text and sent.buttons() == []


async def test_mem_6_malformed_payload_for_a_visitor_after_registration(client_factory, store):
    joiner = client_factory(JOINER)
    agreement = await joiner.start("j_" + "B" * 68)  # kept as its first 64 characters
    await joiner.press(agreement, "✅ 同意并继续")
    await joiner.contact("8613800300001")
    done = await joiner.press(await joiner.send("王芳"), "跳过 ⏭")
    assert "注册成功" in done.texts[-3] and "格式不正确" in done.texts[-2]
    assert "请选择" in done.texts[-1] and "🏢 我的组织" in [b for b, _ in done.buttons()]  # the main menu follows


async def test_reg_6_visitor_opens_link_registers_then_chooses_branch(client_factory, store, settings):
    await setup_org(store)
    payload, _ = await create_link(client_factory(ADMIN))
    joiner = client_factory(JOINER)
    agreement = await joiner.start(payload)
    # the agreement names the organisation that invited them
    assert "服务协议" in agreement.text and "中共某县委宣传部</b> 邀请您加入学习组织" in agreement.text
    await joiner.press(agreement, "✅ 同意并继续")
    ask = await joiner.contact("8613800300001")
    assert "第 2 步（共 2 步）" in ask.text
    done = await joiner.send("王芳")  # no optional organisation-name step: the invite names it
    assert "第 3 步" not in done.text and "跳过" not in done.text
    assert "注册成功" in done.text and "请选择您所在的支部" in done.texts[-1]
    assert "还没有加入任何学习组织" not in done.text  # not before the join
    joined = await joiner.press(done, "第二党支部")
    assert "✅ 已加入 中共某县委宣传部（第二党支部）" in joined.text
    # the main menu follows the join
    assert "请选择" in joined.texts[-1] and "🏢 我的组织" in [b for b, _ in joined.buttons()]
    row = db(settings).execute("SELECT name, phone, activated_at FROM members").fetchone()
    assert row["name"] == "王芳" and row["phone"] == "+8613800300001" and row["activated_at"]


# -- /join ---------------------------------------------------------------------------------------
async def test_mem_6_join_command_accepts_url_payload_or_token(client_factory, store, settings, registered):
    await setup_org(store)
    admin = client_factory(ADMIN)
    payload, _ = await create_link(admin, "第一党支部")
    for i, arg in enumerate([f"https://t.me/xuexi_test_bot?start={payload}", payload, payload[2:]]):
        uid = JOINER + i
        await registered(uid)
        sent = await client_factory(uid).send(f"/join {arg}")
        assert "✅ 已加入 中共某县委宣传部（第一党支部）" in sent.text, arg
    assert db(settings).execute("SELECT uses FROM invites").fetchone()[0] == 3


async def test_mem_6_join_without_argument_explains(client_factory, registered):
    await registered(JOINER)
    sent = await client_factory(JOINER).send("/join")
    assert "如何加入学习组织" in sent.text and "https://t.me/xuexi_test_bot?start=j_" in sent.text
    bad = await client_factory(JOINER).send("/join https://example.com/nothing")
    assert "格式不正确" in bad.text


# -- approval ------------------------------------------------------------------------------------
async def _pending(client_factory, store, settings, registered, session, outbox):
    await setup_org(store, approval=True, admins=[ADMIN2])
    payload, _ = await create_link(client_factory(ADMIN), "第一党支部")
    await registered(JOINER, name="王芳")
    before = len(session.calls)
    sent = await client_factory(JOINER).start(payload)
    assert "需要管理员审核" in sent.text
    assert await outbox.flush() == 2  # the admins' notices go through the outbox
    notices = [c for c in session.calls[before:] if isinstance(c, SendMessage) and c.chat_id in (ADMIN, ADMIN2)]
    assert sorted(n.chat_id for n in notices) == [ADMIN, ADMIN2]
    assert "王芳（+8613800300001）申请加入" in notices[0].text
    conn = db(settings)
    assert conn.execute("SELECT status FROM join_requests").fetchone()[0] == "pending"
    assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 0
    assert conn.execute("SELECT uses FROM invites").fetchone()[0] == 1  # the request counts as a use
    again = await client_factory(JOINER).start(payload)
    assert "正在等待管理员审核" in again.text
    return conn, notices


async def test_mem_6_approval_two_admins_decide_at_once(client_factory, store, settings, registered, session,
                                                        outbox):
    conn, notices = await _pending(client_factory, store, settings, registered, session, outbox)
    to = {n.chat_id: n for n in notices}
    before = len(session.calls)
    await asyncio.gather(client_factory(ADMIN).press(to[ADMIN], "✅ 同意"),
                         client_factory(ADMIN2).press(to[ADMIN2], "❌ 拒绝"))
    await outbox.flush()
    calls = session.calls[before:]
    answers = [c for c in calls if isinstance(c, AnswerCallbackQuery)]
    assert len(answers) == 2
    status, decided_by = conn.execute("SELECT status, decided_by FROM join_requests").fetchone()
    losers = [a for a in answers if a.show_alert]
    assert len(losers) == 1 and "已经由其他管理员处理过了" in losers[0].text
    decisions = conn.execute("SELECT action FROM audit_log WHERE action LIKE 'join.%'").fetchall()
    assert len(decisions) == 1
    members = conn.execute("SELECT branch_id, activated_at FROM members").fetchall()
    told = [c.text for c in calls if isinstance(c, SendMessage) and c.chat_id == JOINER]
    if status == "approved":
        assert decided_by == ADMIN and decisions[0][0] == "join.approve"
        assert len(members) == 1 and members[0][1] is not None
        assert told == ["🎉 管理员已同意您加入 中共某县委宣传部（第一党支部）。"]
    else:
        assert decided_by == ADMIN2 and decisions[0][0] == "join.reject" and members == []
        assert len(told) == 1 and "没有同意" in told[0]


async def test_mem_6_rejection_is_told_to_the_joiner(client_factory, store, settings, registered, session, outbox):
    conn, notices = await _pending(client_factory, store, settings, registered, session, outbox)
    (notice,) = [n for n in notices if n.chat_id == ADMIN2]
    sent = await client_factory(ADMIN2).press(notice, "❌ 拒绝")
    assert sent.answers[-1].text == "已拒绝" and "已拒绝 王芳 加入" in sent.text
    before = len(session.calls)
    await outbox.flush()
    told = session.calls[before:]
    assert any(isinstance(c, SendMessage) and c.chat_id == JOINER and "没有同意" in c.text for c in told)
    assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 0
    assert conn.execute("SELECT action, actor_id FROM audit_log ORDER BY id DESC").fetchone()[:] == (
        "join.reject", ADMIN2)


async def test_sec_4_decision_by_a_non_admin_is_refused(client_factory, store, settings, registered, session,
                                                        outbox):
    conn, notices = await _pending(client_factory, store, settings, registered, session, outbox)
    await registered(JOINER2)
    # forged: an admin's button sent by someone else
    sent = await client_factory(JOINER2).click(JoinDecisionCD(request_id=1, approve=True).pack())  # forged:
    assert "没有执行此操作的权限" in sent.answers[-1].text
    async with store.raw_tx() as c:
        await c.execute("DELETE FROM org_admins WHERE user_id = ?", (ADMIN2,))
    (notice,) = [n for n in notices if n.chat_id == ADMIN2]
    sent = await client_factory(ADMIN2).press(notice, "✅ 同意")  # stale: the notice of a removed admin
    assert "没有执行此操作的权限" in sent.answers[-1].text
    assert conn.execute("SELECT status FROM join_requests").fetchone()[0] == "pending"


async def test_mem_6_use_limit_is_a_condition_of_the_write(store, settings, clock, registered):
    """Even a join that passed every check before the write cannot exceed the limit."""
    from bot.store import Conflict

    org_id = await setup_org(store)
    invite_id = await store.create_invite(org_id, None, "h", ADMIN, clock.now().isoformat(),
                                          "2099-01-01T00:00:00+00:00", 1)
    now, now_utc = clock.now().isoformat(), clock.now().astimezone(UTC).isoformat()
    await store.join_by_invite(invite_id, org_id, None, ADMIN, "甲", "+8613900000001", now, now_utc)
    with pytest.raises(Conflict) as exc:
        await store.join_by_invite(invite_id, org_id, None, ADMIN, "乙", "+8613900000002", now, now_utc)
    assert exc.value.what == "invite"
    with pytest.raises(Conflict):
        await store.request_join(invite_id, org_id, None, ADMIN, "+8613900000003", now, now_utc)
    conn = db(settings)
    assert conn.execute("SELECT uses FROM invites").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM join_requests").fetchone()[0] == 0


async def test_mem_6_english_texts(client_factory, store, registered):
    await setup_org(store)
    admin = client_factory(ADMIN, language_code="en")
    sent = await admin.send("/invite")
    assert "Step 1 of 3" in sent.text
    sent = await admin.press(sent, "The person joining chooses")
    sent = await admin.press(sent, "7 days")
    sent = await admin.press(sent, "10 times")
    assert "valid until" in sent.text.lower() and "Uses allowed: 10" in sent.text
    payload = LINK_RE.search(sent.text).group(1)
    await registered(JOINER)
    joiner = client_factory(JOINER, language_code="en")
    offer = await joiner.start(payload)
    assert "Please choose your branch" in offer.text
    assert "You joined 中共某县委宣传部 (第一党支部)" in (await joiner.press(offer, "第一党支部")).text


async def test_mem_6_last_wizard_step_pressed_three_times_at_once_makes_one_link(client_factory, store, settings):
    await setup_org(store)
    admin = client_factory(ADMIN)
    step = await admin.press(await admin.send("/invite"), "由加入者选择")
    last = await admin.press(step, "7 天")
    presses = await asyncio.gather(*(admin.press(last, "10 次") for _ in range(3)))
    assert db(settings).execute("SELECT count(*) FROM invites").fetchone()[0] == 1
    assert db(settings).execute("SELECT count(*) FROM audit_log WHERE action = 'invite.create'").fetchone()[0] == 1
    links = [m.text for p in presses for m in p.of(SendMessage) if m.text and "t.me" in m.text]
    assert len(links) == 1, links  # one link message; the other presses are told which link was made
    refusals = [a.text for p in presses for a in p.answers if a.show_alert]
    assert len(refusals) == 2 and all("已经生成了邀请链接 #1" in r for r in refusals), refusals
    # a new wizard makes a new link
    await create_link(admin)
    assert db(settings).execute("SELECT count(*) FROM invites").fetchone()[0] == 2

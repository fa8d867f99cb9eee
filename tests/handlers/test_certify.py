"""CERT-1…7, ORG-6, ORG-7, MEM-8 through the dispatcher: what each side sees, what the store holds."""
from __future__ import annotations

import asyncio
import re

from aiogram.methods import AnswerCallbackQuery, SendMessage, SendPhoto

from bot.services import certification as cert
from bot.services.roles import Actor
from bot.ui.certify import CertCD, RenameDecideCD, RootCD
from tests.conftest import OPERATOR_ID
from tests.support.factories import make_member, make_org, make_user
from tests.support.sql import store_rows as rows

R_ADMIN, C_ADMIN, C_ADMIN2, K_ADMIN, NOBODY, R_ADMIN2 = 100001, 100002, 100003, 100004, 100005, 100006


def alert(sent) -> str:
    (answer,) = sent.answers
    assert answer.show_alert, answer
    return answer.text


async def pushed(outbox, session, chat_id=None) -> list[SendMessage]:
    before = len(session.calls)
    await outbox.flush()
    return [m for m in session.calls[before:] if isinstance(m, SendMessage)
            and (chat_id is None or m.chat_id == chat_id)]


async def setup_r_and_c(store):
    """Root R (certified) with its admin, and uncertified C with its admin."""
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    await make_user(store, C_ADMIN, "陈主任", verified=True)
    r = await make_org(store, "河南省委宣传部", R_ADMIN, certified=True)
    c = await make_org(store, "郑州市委宣传部", C_ADMIN)
    return r, c


async def invite_payload(client, panel=None) -> str:
    """Presses 'make an invitation' on the /certify panel (the only organisation's, unless `panel`)."""
    sent = await client.press(panel or await client.send("/certify"), "📨 生成认证邀请（链接和二维码）")
    match = re.search(r"start=(c_[A-Za-z0-9_-]+)", sent.text)
    assert match, sent.text
    assert sent.of(SendPhoto), "the QR code comes with the link"
    return match.group(1)


async def apply_with(client, payload: str, org_name: str):
    offer = await client.start(payload)
    return await client.press(offer, f"📤 提交申请：{org_name}")


async def tree_rows(store):
    return sorted(await rows(store, "SELECT ancestor_id, descendant_id, depth FROM org_tree"))


# -- CERT-1 invitations ------------------------------------------------------------------------

async def test_cert_1_uncertified_org_cannot_invite(client_factory, store):
    _r, c = await setup_r_and_c(store)
    cc = client_factory(C_ADMIN)
    panel = await cc.send("/certify")
    assert "本组织尚未认证" in panel.text and "不能邀请下级组织认证" in panel.text
    assert not any("生成认证邀请" in label for label, _ in panel.buttons())
    forged = await cc.click(CertCD(act="invite", org=c).pack())  # forged: the panel has no such button
    assert "尚未认证，不能邀请下级组织认证" in alert(forged)
    assert await rows(store, "SELECT COUNT(*) FROM cert_invites") == [(0,)]


async def test_cert_1_certified_org_makes_link_and_qr_token_stored_hashed(client_factory, store):
    r, _c = await setup_r_and_c(store)
    rc = client_factory(R_ADMIN)
    panel = await rc.send("/certify")
    assert "河南省委宣传部" in panel.text and "根组织" in panel.text
    payload = await invite_payload(rc)
    token = payload[2:]
    assert len(payload) <= 64 and len(token) >= 16
    (stored,) = await rows(store, "SELECT org_id, token_hash, addressee_id FROM cert_invites")
    assert stored[0] == r and stored[2] is None and token not in stored[1]
    assert await rows(store, "SELECT action FROM audit_log WHERE org_id = ?", r) == [("cert.invite",)]


async def test_cert_1_addressed_invitation_with_message_only_for_that_person(client_factory, store, outbox, session):
    r, c = await setup_r_and_c(store)
    c_phone = (await store.get_user(C_ADMIN)).phone
    await make_user(store, K_ADMIN, "孔主任", verified=True)
    await make_org(store, "金水区委宣传部", K_ADMIN)
    rc = client_factory(R_ADMIN)
    assert "手机号" in (await rc.press(await rc.send("/certify"), "👤 指定接收人并留言")).text
    assert "尚未注册" in (await rc.send("13700000000")).text  # the step stays
    assert "请输入给对方的留言" in (await rc.send(c_phone)).text
    done = await rc.send("请尽快申请认证")
    assert "接收人：陈主任" in done.text and "留言：请尽快申请认证" in done.text and "已发送给 陈主任" in done.text
    payload = re.search(r"start=(c_[A-Za-z0-9_-]+)", done.text).group(1)
    (push,) = await pushed(outbox, session, C_ADMIN)
    assert "罗主任（河南省委宣传部）邀请您管理的学习组织" in push.text and payload in push.text
    assert "请尽快申请认证" in push.text
    assert "只有接收人本人可以使用" in (await client_factory(K_ADMIN).start(payload)).text
    assert "提交申请：郑州市委宣传部" in str((await client_factory(C_ADMIN).start(payload)).buttons())


# -- CERT-2, CERT-3 applying and deciding --------------------------------------------------------

async def test_cert_2_invitation_used_by_someone_who_administers_nothing(client_factory, store):
    r, _c = await setup_r_and_c(store)
    await make_user(store, NOBODY, "吴某")
    payload = await invite_payload(client_factory(R_ADMIN))
    sent = await client_factory(NOBODY).start(payload)
    assert "您还不是任何学习组织的管理员" in sent.text and "/neworg" in sent.text
    assert await rows(store, "SELECT COUNT(*) FROM cert_applications") == [(0,)]


async def test_cert_2_3_apply_approve_both_sides_told_tree_updated(client_factory, store, outbox, session):
    r, c = await setup_r_and_c(store)
    await make_user(store, R_ADMIN2, "任副主任", verified=True)
    async with store.raw_tx() as db:
        await db.execute("INSERT INTO org_admins (org_id, user_id, role, added_at) VALUES (?, ?, 'admin', 'x')",
                         (r, R_ADMIN2))
    rc, cc = client_factory(R_ADMIN), client_factory(C_ADMIN)
    payload = await invite_payload(rc)
    offer = await cc.start(payload)
    assert "河南省委宣传部" in offer.text and "邀请人：罗主任" in offer.text
    done = await cc.press(offer, "📤 提交申请：郑州市委宣传部")
    assert "已提交“郑州市委宣传部”的认证申请" in done.text
    notices = await pushed(outbox, session)
    assert {m.chat_id for m in notices} == {R_ADMIN, R_ADMIN2}
    assert all("郑州市委宣传部" in m.text and "申请人：陈主任" in m.text for m in notices)
    inbox = await rc.send("/applications")
    assert "等待您审批的认证申请" in inbox.text and "郑州市委宣传部" in inbox.text
    approved = await rc.press(inbox, "✅ 同意 #1")
    assert "已同意“郑州市委宣传部”认证为“河南省委宣传部”的下级组织" in approved.text
    org = await store.get_org(c)
    assert org.certified and org.parent_id == r
    assert await tree_rows(store) == sorted([(r, r, 0), (c, c, 0), (r, c, 1)])
    told = await pushed(outbox, session)
    assert any(m.chat_id == C_ADMIN and "现已认证" in m.text for m in told)
    assert any(m.chat_id == R_ADMIN2 and "罗主任 已同意" in m.text for m in told)
    assert {a for (a,) in await rows(store, "SELECT action FROM audit_log WHERE org_id = ?", c)} >= {
        "cert.apply", "cert.approved"}
    assert "上级组织：河南省委宣传部" in (await cc.send("/certify")).text


async def test_cert_3_reject_with_reason_then_apply_again(client_factory, store, outbox, session):
    r, c = await setup_r_and_c(store)
    rc, cc = client_factory(R_ADMIN), client_factory(C_ADMIN)
    payload = await invite_payload(rc)
    await apply_with(cc, payload, "郑州市委宣传部")
    (notice,) = await pushed(outbox, session, R_ADMIN)
    ask = await rc.press(notice, "❌ 拒绝")
    assert "请输入拒绝“郑州市委宣传部”认证申请的理由" in ask.text
    assert "请填写拒绝的理由" in (await rc.send("   ")).text
    done = await rc.send("名称不规范")
    assert "已拒绝" in done.text and "名称不规范" in done.text
    (notice,) = await pushed(outbox, session, C_ADMIN)
    assert "没有同意" in notice.text and "理由：名称不规范" in notice.text
    assert not (await store.get_org(c)).certified
    await apply_with(cc, payload, "郑州市委宣传部")
    (notice,) = await pushed(outbox, session, R_ADMIN)
    await rc.press(notice, "✅ 同意")
    assert (await store.get_org(c)).parent_id == r
    assert await rows(store, "SELECT id, status, reason FROM cert_applications ORDER BY id") == [
        (1, "rejected", "名称不规范"), (2, "approved", None)]


async def test_cert_2_applying_twice_is_refused(client_factory, store):
    r, c = await setup_r_and_c(store)
    cc = client_factory(C_ADMIN)
    payload = await invite_payload(client_factory(R_ADMIN))
    offer = await cc.start(payload)
    await cc.press(offer, "📤 提交申请：郑州市委宣传部")
    again = await cc.start(payload)
    assert "已向“河南省委宣传部”提交认证申请，正在等待审批" in again.text
    assert not any("提交申请" in label for label, _ in again.buttons())
    c_actor = Actor(await store.get_user(C_ADMIN), admin_org_ids=frozenset({c}))
    from bot.clock import FakeClock
    from tests.conftest import TZ

    try:
        await cert.apply(store, FakeClock(TZ), c_actor, 1, c)
    except Exception as exc:  # noqa: BLE001 - asserting the refusal
        assert getattr(exc, "key", "") == "cert.why_pending"
    else:
        raise AssertionError("applying twice must be refused")
    assert await rows(store, "SELECT COUNT(*) FROM cert_applications") == [(1,)]


async def test_cert_3_approving_a_withdrawn_application_is_refused(client_factory, store, outbox, session):
    r, c = await setup_r_and_c(store)
    cc, rc = client_factory(C_ADMIN), client_factory(R_ADMIN)
    await apply_with(cc, await invite_payload(rc), "郑州市委宣传部")
    (notice,) = await pushed(outbox, session, R_ADMIN)
    panel = await cc.send("/certify")
    assert "正在等待审批" in panel.text
    assert "已撤回" in (await cc.press(panel, "↩️ 撤回认证申请")).text
    assert "已被申请方撤回" in alert(await rc.press(notice, "✅ 同意"))  # stale: the notice of a withdrawn one
    assert "已被申请方撤回" in alert(await rc.press(notice, "❌ 拒绝"))
    assert not (await store.get_org(c)).certified


async def test_cert_3_two_admins_deciding_at_once_exactly_one_wins(client_factory, store, session, outbox):
    r, c = await setup_r_and_c(store)
    await make_user(store, R_ADMIN2, "任副主任", verified=True)
    async with store.raw_tx() as db:
        await db.execute("INSERT INTO org_admins (org_id, user_id, role, added_at) VALUES (?, ?, 'admin', 'x')",
                         (r, R_ADMIN2))
    a, b = client_factory(R_ADMIN), client_factory(R_ADMIN2)
    await apply_with(client_factory(C_ADMIN), await invite_payload(a), "郑州市委宣传部")
    notices = {m.chat_id: m for m in await pushed(outbox, session)}
    before = len(session.calls)
    await asyncio.gather(a.press(notices[R_ADMIN], "✅ 同意"), b.press(notices[R_ADMIN2], "✅ 同意"))
    calls = session.calls[before:]
    wins = [m.chat_id for m in calls if isinstance(m, SendMessage) and "已同意“郑州市委宣传部”认证为" in m.text]
    told = [m for m in calls if isinstance(m, AnswerCallbackQuery) and m.show_alert and "处理过了（已同意）" in m.text]
    assert len(wins) == 1 and len(told) == 1
    assert await rows(store, "SELECT status FROM cert_applications") == [("approved",)]
    assert await tree_rows(store) == sorted([(r, r, 0), (c, c, 0), (r, c, 1)])
    assert await rows(store, "SELECT COUNT(*) FROM audit_log WHERE action = 'cert.approve'") == [(1,)]


# -- CERT-4 one upper, no cycles; CERT-5 both sides ------------------------------------------------

async def test_cert_4_no_cycles_and_at_most_one_upper(client_factory, store):
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    await make_user(store, C_ADMIN, "陈主任", verified=True)
    r = await make_org(store, "河南省委宣传部", R_ADMIN, certified=True)
    c = await make_org(store, "郑州市委宣传部", C_ADMIN, certified=True, parent_id=r)
    other = await make_org(store, "开封市委宣传部", R_ADMIN, certified=True)  # another root of R's admin
    # R (a root) applying under its own descendant C
    offer = await client_factory(R_ADMIN).start(await invite_payload(client_factory(C_ADMIN)))
    assert "“郑州市委宣传部”是“河南省委宣传部”的下级组织，不能认证到自己的下级之下" in offer.text
    assert "提交申请：开封市委宣传部" in str(offer.buttons())
    assert "提交申请：河南省委宣传部" not in str(offer.buttons())
    # C already has an upper organisation
    rc = client_factory(R_ADMIN)
    panel = await rc.press(await rc.send("/certify"), "开封市委宣传部")
    offer = await client_factory(C_ADMIN).start(await invite_payload(rc, panel))
    assert "已有上级组织“河南省委宣传部”" in offer.text
    from bot.store import Conflict

    for lower, upper, what in ((r, c, "cycle"), (r, r, "cycle"), (c, other, "has_upper")):
        try:
            await store.apply_for_certification(None, upper, lower, R_ADMIN, "2026-11-23T09:00:00+08:00")
        except Conflict as exc:
            assert exc.what == what
        else:
            raise AssertionError((lower, upper))


async def test_cert_5_same_person_on_both_sides(client_factory, store, outbox, session):
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    r = await make_org(store, "某单位党委", R_ADMIN, certified=True)
    c = await make_org(store, "某单位机关党委", R_ADMIN)
    me = client_factory(R_ADMIN)
    pick = await me.send("/certify")
    panel = await me.press(pick, "某单位党委")
    payload = await invite_payload(me, panel)
    offer = await me.start(payload)
    assert "“某单位党委”就是邀请方本身" in offer.text
    await me.press(offer, "📤 提交申请：某单位机关党委")
    (notice,) = await pushed(outbox, session, R_ADMIN)
    await me.press(notice, "✅ 同意")
    assert (await store.get_org(c)).parent_id == r


# -- CERT-6 un-certify, ORG-7 dissolve, MEM-8 transfer ---------------------------------------------

async def test_cert_6_bottom_up_from_either_side_and_org_7_dissolve(client_factory, store, outbox, session):
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    await make_user(store, C_ADMIN, "陈主任", verified=True)
    await make_user(store, K_ADMIN, "孔主任", verified=True)
    r = await make_org(store, "河南省委宣传部", R_ADMIN, certified=True)
    c = await make_org(store, "郑州市委宣传部", C_ADMIN, certified=True, parent_id=r)
    k = await make_org(store, "金水区委宣传部", K_ADMIN, certified=True, parent_id=c)
    kc, cc, rc = client_factory(K_ADMIN), client_factory(C_ADMIN), client_factory(R_ADMIN)
    assert "本组织下还有 1 个下级组织" in alert(await cc.press(await cc.send("/org"), "🗑 解散"))
    assert "不能直接解散" in alert(await kc.press(await kc.send("/org"), "🗑 解散"))
    panel = await cc.send("/certify")
    refused = await cc.press(panel, "✂️ 解除与上级“河南省委宣传部”的认证")
    assert "还有 1 个认证的下级组织（金水区委宣传部）" in alert(refused)
    assert "只能由运营方解除" in alert(await rc.click(CertCD(act="unc", org=r, x=r).pack()))  # forged: a root's
    assert "您没有执行此操作的权限" in alert(await kc.click(CertCD(act="unc", org=c, x=k).pack()))  # forged: upper's
    # the upper side un-certifies K
    ask = await cc.press(panel, "✂️ 解除下级“金水区委宣传部”的认证")
    assert "确定解除“<b>金水区委宣传部</b>”与上级组织“郑州市委宣传部”的认证" in ask.text
    done = await cc.press(ask, "✂️ 确认解除认证")
    assert "已解除“金水区委宣传部”与“郑州市委宣传部”的认证" in done.text
    (notice,) = await pushed(outbox, session, K_ADMIN)
    assert "陈主任 解除了“金水区委宣传部”与上级组织“郑州市委宣传部”的认证" in notice.text
    assert not (await store.get_org(k)).certified and (await store.get_org(k)).parent_id is None
    # now the lower side un-certifies C from R
    ask = await cc.press(await cc.send("/certify"), "✂️ 解除与上级“河南省委宣传部”的认证")
    done = await cc.press(ask, "✂️ 确认解除认证")
    assert "已解除“郑州市委宣传部”与“河南省委宣传部”的认证" in done.text
    assert await tree_rows(store) == sorted([(r, r, 0), (c, c, 0), (k, k, 0)])
    confirm = await kc.press(await kc.send("/org"), "🗑 解散")
    await kc.press(confirm, "🗑 确认解散")
    assert await store.get_org(k) is None


async def test_org_7_dissolve_refused_while_lower_organisations_are_certified(client_factory, store):
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    await make_user(store, C_ADMIN, "陈主任", verified=True)
    r = await make_org(store, "河南省委宣传部", R_ADMIN, certified=True)
    await make_org(store, "郑州市委宣传部", C_ADMIN, certified=True, parent_id=r)
    rc = client_factory(R_ADMIN)
    assert "还有 1 个下级组织" in alert(await rc.press(await rc.send("/org"), "🗑 解散"))
    from bot.store import Conflict

    for org in (r,):
        try:
            await store.dissolve_org(R_ADMIN, org, "2026-11-23T09:00:00+08:00")
        except Conflict as exc:
            assert exc.what == "has_lower"
        else:
            raise AssertionError("dissolved with a lower organisation")


async def test_mem_8_transfer_keeps_members_and_points(client_factory, store, outbox, session):
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    await make_user(store, R_ADMIN2, "任主任", verified=True)
    await make_user(store, C_ADMIN, "陈主任", verified=True)
    member_phone = await make_user(store, NOBODY, "赵六")
    r1 = await make_org(store, "河南省委宣传部", R_ADMIN, certified=True)
    r2 = await make_org(store, "河北省委宣传部", R_ADMIN2, certified=True)
    c = await make_org(store, "某市委宣传部", C_ADMIN, certified=True, parent_id=r1, branches=["第一党支部"])
    await make_member(store, c, "赵六", member_phone, "第一党支部", activated=True)
    async with store.raw_tx() as db:
        await db.execute("INSERT INTO points (user_id, amount, source, day, idem_key, created_at) "
                         "VALUES (?, 5, 'daily_quiz', '2026-11-23', 'k1', 'x')", (NOBODY,))
    cc = client_factory(C_ADMIN)
    await cc.press(await cc.press(await cc.send("/certify"), "✂️ 解除与上级“河南省委宣传部”的认证"), "✂️ 确认解除认证")
    await apply_with(cc, await invite_payload(client_factory(R_ADMIN2)), "某市委宣传部")
    (notice,) = await pushed(outbox, session, R_ADMIN2)
    await client_factory(R_ADMIN2).press(notice, "✅ 同意")
    assert (await store.get_org(c)).parent_id == r2
    assert await rows(store, "SELECT name, phone FROM members WHERE org_id = ?", c) == [("赵六", member_phone)]
    assert await rows(store, "SELECT SUM(amount) FROM points WHERE user_id = ?", NOBODY) == [(5,)]
    assert await store.subtree_ids(r1) == [r1]
    assert sorted(await store.subtree_ids(r2)) == sorted([r2, c])
    assert await store.subtree_member_count(r2) == 1


# -- CERT-7 the operator ------------------------------------------------------------------------------

async def test_cert_7_operator_certifies_and_uncertifies_a_root(client_factory, store, outbox, session):
    await make_user(store, OPERATOR_ID, "运营方")
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    r = await make_org(store, "河南省委宣传部", R_ADMIN)
    await make_org(store, "河北省委宣传部", R_ADMIN)
    op = client_factory(OPERATOR_ID)
    panel = await op.send("/certify")
    assert "运营方：根组织认证" in panel.text and "河南省委宣传部" in panel.text
    found = await op.send("/certify 河南")
    assert "河北" not in found.text and "河南省委宣传部" in found.text
    assert f"#{r} 河南省委宣传部" in (await op.send(f"/certify #{r}")).text
    done = await op.press(found, "认证为根组织：#")
    assert "已将“河南省委宣传部”认证为根组织" in done.text
    assert (await store.get_org(r)).certified and (await store.get_org(r)).parent_id is None
    (notice,) = await pushed(outbox, session, R_ADMIN)
    assert "认证为根组织" in notice.text
    assert "已经认证过了" in alert(await op.press(found, "认证为根组织：#"))  # stale: the search result's button
    forged = await client_factory(R_ADMIN).click(RootCD(org=r).pack())  # forged: the operator's button
    assert "您没有执行此操作的权限" in alert(forged)
    again = await op.send("/certify")
    ask = await op.press(again, "✂️ 解除根认证：河南省委宣传部")
    await op.press(ask, "✂️ 确认解除认证")
    assert not (await store.get_org(r)).certified
    assert await rows(store, "SELECT action FROM audit_log WHERE org_id = ? AND action LIKE 'cert.%' ORDER BY id",
                      r) == [("cert.root",), ("cert.uncertify",)]


# -- ORG-6 rename approval -----------------------------------------------------------------------------

async def test_org_6_rename_request_approved_and_rejected_by_the_upper(client_factory, store, outbox, session):
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    await make_user(store, C_ADMIN, "陈主任", verified=True)
    r = await make_org(store, "河南省委宣传部", R_ADMIN, certified=True)
    c = await make_org(store, "郑州市委宣传部", C_ADMIN, certified=True, parent_id=r)
    await make_org(store, "开封市委宣传部", R_ADMIN, certified=True, parent_id=r)
    cc, rc = client_factory(C_ADMIN), client_factory(R_ADMIN)
    await cc.press(await cc.send("/org"), "✏️ 改名")
    await cc.send("中共郑州市委宣传部")
    assert "已有一条改名申请" in alert(await cc.press(await cc.send("/org"), "✏️ 改名"))
    (notice,) = await pushed(outbox, session, R_ADMIN)
    assert "“郑州市委宣传部” 申请改名为 “中共郑州市委宣传部”" in notice.text
    ask = await rc.press(notice, "❌ 拒绝")
    assert "拒绝“郑州市委宣传部”改名" in ask.text
    await rc.send("请使用全称")
    (told,) = await pushed(outbox, session, C_ADMIN)
    assert "没有通过" in told.text and "请使用全称" in told.text
    assert (await store.get_org(c)).name == "郑州市委宣传部"
    # a name a certified sibling has is refused at once (ORG-2)
    await cc.press(await cc.send("/org"), "✏️ 改名")
    assert "不能重名" in (await cc.send("开封市委宣传部")).text
    await cc.send("中共郑州市委宣传部机关")
    (notice,) = await pushed(outbox, session, R_ADMIN)
    inbox = await rc.send("/applications")
    assert "等待您审批的改名申请" in inbox.text
    done = await rc.press(inbox, "✅ 同意改名 #2")
    assert "已同意改名" in done.text
    assert (await store.get_org(c)).name == "中共郑州市委宣传部机关"
    (told,) = await pushed(outbox, session, C_ADMIN)
    assert "现名为“中共郑州市委宣传部机关”" in told.text
    assert "已经由 罗主任 处理过了" in alert(await rc.press(notice, "✅ 同意"))  # stale: decided from the inbox


async def test_org_6_root_rename_goes_to_the_operator(client_factory, store, outbox, session):
    await make_user(store, OPERATOR_ID, "运营方")
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    r = await make_org(store, "河南省委宣传部", R_ADMIN, certified=True)
    rc = client_factory(R_ADMIN)
    assert "需要运营方同意" in (await rc.press(await rc.send("/org"), "✏️ 改名")).text
    await rc.send("中共河南省委宣传部")
    (notice,) = await pushed(outbox, session, OPERATOR_ID)
    assert "申请改名为" in notice.text
    forged = await rc.click(RenameDecideCD(req=1, ok=1).pack())  # forged: the operator's button, by the applicant
    assert "您没有执行此操作的权限" in alert(forged)
    await client_factory(OPERATOR_ID).press(notice, "✅ 同意")
    assert (await store.get_org(r)).name == "中共河南省委宣传部"


async def test_cert_3_concurrent_decisions_in_the_store_exactly_one_wins(store):
    await make_user(store, R_ADMIN, verified=True)
    await make_user(store, R_ADMIN2, verified=True)
    await make_user(store, C_ADMIN, verified=True)
    r = await make_org(store, "河南省委宣传部", R_ADMIN, certified=True, admins=[R_ADMIN2])
    c = await make_org(store, "郑州市委宣传部", C_ADMIN)
    app = await store.apply_for_certification(None, r, c, C_ADMIN, "2026-11-23T09:00:00+08:00")
    results = await asyncio.gather(
        store.decide_cert_application(app, True, R_ADMIN, None, "2026-11-23T09:00:01+08:00"),
        store.decide_cert_application(app, False, R_ADMIN2, "不同意", "2026-11-23T09:00:01+08:00"))
    assert sorted(results) == [False, True]
    (status,) = await rows(store, "SELECT status FROM cert_applications")
    assert (status[0] == "approved") == (await store.get_org(c)).certified


async def test_reg_6_a_visitor_opening_a_certification_link_is_answered_after_registering(client_factory, store):

    r, _c = await setup_r_and_c(store)
    payload = await invite_payload(client_factory(R_ADMIN))
    visitor = client_factory(NOBODY)
    agreement = await visitor.start(payload)
    assert "服务协议" in agreement.text
    await visitor.press(agreement, "✅ 同意并继续")
    await visitor.contact("8613800300009")
    done = await visitor.press(await visitor.send("吴某"), "跳过 ⏭")
    assert "注册成功" in done.text and "您还不是任何学习组织的管理员" in done.texts[-2]
    assert "请选择" in done.texts[-1]  # the main menu follows (REG-6)


async def test_cert_2_pasted_link_and_tree_for_the_upper_admin(client_factory, store, outbox, session):
    r, c = await setup_r_and_c(store)
    rc, cc = client_factory(R_ADMIN), client_factory(C_ADMIN)
    payload = await invite_payload(rc)
    offer = await cc.send(f"/certify https://t.me/xuexi_test_bot?start={payload}")
    await cc.press(offer, "📤 提交申请：郑州市委宣传部")
    (notice,) = await pushed(outbox, session, R_ADMIN)
    await rc.press(notice, "✅ 同意")
    tree = await rc.press(await rc.send("/certify"), "🌲 组织架构")
    assert "共 2 个组织" in tree.text and "└ 郑州市委宣传部 ✅ 已认证（0 人）" in tree.text
    forged = await cc.click(CertCD(act="tree", org=r).pack())  # forged: the upper organisation's tree
    assert "您没有执行此操作的权限" in alert(forged)
    card = await cc.send("/org")
    assert "上级组织：河南省委宣传部 ✅ 已认证" in card.text


# -- issue 15: refusals come before anything about another organisation -------------------------
async def test_sec_4_forged_uncertify_reveals_nothing_before_the_role_check(client_factory, store):
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    await make_user(store, NOBODY, "吴某", verified=True)
    r = await make_org(store, "河南省委宣传部", R_ADMIN, certified=True)
    c = await make_org(store, "郑州市委宣传部", R_ADMIN)  # not certified
    k = await make_org(store, "金水区委宣传部", R_ADMIN, certified=True, parent_id=r)
    await make_org(store, "某乡党委", NOBODY)
    nobody = client_factory(NOBODY)
    for org, upper in ((c, c), (k, r), (r, r)):
        refused = alert(await nobody.click(CertCD(act="unc", org=org, x=upper).pack()))  # forged: not theirs
        assert refused == "您没有执行此操作的权限。", refused
        assert "郑州" not in refused and "金水" not in refused and "河南" not in refused


async def test_sec_4_applications_button_by_a_non_admin_is_refused(client_factory, store):
    await make_user(store, R_ADMIN, "罗主任", verified=True)
    await make_user(store, NOBODY, "吴某")
    r = await make_org(store, "河南省委宣传部", R_ADMIN, certified=True)
    sent = await client_factory(NOBODY).click(CertCD(act="apps", org=r).pack())  # stale: an admin's panel button
    assert "不是任何学习组织的管理员" in alert(sent)
    assert not sent.of(SendMessage)

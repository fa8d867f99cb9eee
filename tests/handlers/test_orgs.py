"""ORG-1…9, RNV-1, SEC-4/5 through the dispatcher: what a person sees, what the store holds."""
from __future__ import annotations

import pytest
from aiogram.methods import SendMessage

from bot.clock import FakeClock
from bot.errors import DomainError
from bot.services import orgs
from bot.services.roles import Actor
from bot.ui.org import AdminCD, BranchCD, OrgCD
from tests.conftest import TZ
from tests.support.factories import make_member, make_org, make_user
from tests.support.sql import store_rows as rows

GOOD_ID = "11010519491231002X"
MAIN, ADMIN, OTHER = 100001, 100002, 100003


KIND = {"party": "🚩 党组织", "nonparty": "👥 党外人士学习组织"}


async def create(c, kind="party", name="中共郑州市金水区委宣传部", region="河南省郑州市金水区"):
    await c.press(await c.send("/neworg"), KIND[kind])
    await c.send(name)
    return await c.press(await c.send(region), "确认创建")


def alert(sent) -> str:
    (answer,) = sent.answers
    assert answer.show_alert, answer
    return answer.text


# -- ORG-1, ORG-2, RNV-1: /neworg --------------------------------------------------------------

async def test_org_1_verified_user_creates_party_org_and_becomes_main_admin(client_factory, store, sweep_menus):
    await make_user(store, MAIN, verified=True)
    c = client_factory(MAIN)
    sent = await c.send("/neworg")
    assert "第 1 步" in sent.text
    assert [b for b, _ in sent.buttons()] == ["🚩 党组织", "👥 党外人士学习组织"]
    assert "党组织名称规范" in (await c.press(sent, "🚩 党组织")).text
    assert "第 3 步" in (await c.send("中共郑州市金水区委宣传部")).text
    confirm = await c.send("河南省郑州市金水区")
    assert "中共郑州市金水区委宣传部" in confirm.text and "河南省郑州市金水区" in confirm.text
    done = await c.press(confirm, "✅ 确认创建")
    assert "已创建" in done.text and "主管理员" in done.text and "⚪ 未认证" in done.text
    assert await rows(store, "SELECT name, region, kind, certified_at FROM orgs") == [
        ("中共郑州市金水区委宣传部", "河南省郑州市金水区", "party", None)]
    assert await rows(store, "SELECT user_id, role FROM org_admins") == [(MAIN, "main")]
    assert await rows(store, "SELECT actor_id, action FROM audit_log") == [(MAIN, "org.create")]
    (menu,) = await sweep_menus()  # the creation armed the refresh of the creator's menu
    assert menu.scope.chat_id == MAIN and {"org", "audit"} <= {cmd.command for cmd in menu.commands}


async def test_org_1_17_nonparty_org_name_must_end_in_the_suffix(client_factory, store):
    await make_user(store, MAIN, verified=True)
    c = client_factory(MAIN)
    assert "党外人士学习组织" in (await c.press(await c.send("/neworg"), "👥 党外人士学习组织")).text
    refused = await c.send("江苏省委宣传部")
    assert "必须是“行政机构名称 + 党外人士学习组织”" in refused.text
    assert "第 3 步" in (await c.send("江苏省党外人士学习组织")).text
    await c.press(await c.send("江苏省南京市"), "✅ 确认创建")
    assert await rows(store, "SELECT name, kind FROM orgs") == [("江苏省党外人士学习组织", "nonparty")]


async def test_org_2_name_with_trailing_xuexi_guanlizu_is_refused(client_factory, store):
    await make_user(store, MAIN, verified=True)
    c = client_factory(MAIN)
    await c.press(await c.send("/neworg"), "🚩 党组织")
    sent = await c.send("金水区委宣传部学习管理组")
    assert "不需要加“学习管理组”" in sent.text and "金水区委宣传部" in sent.text
    assert "第 3 步" in (await c.send("金水区委宣传部")).text, "the flow stayed at the name step"


async def test_org_2_blank_and_over_50_names_are_refused_and_the_step_stays(client_factory, store):
    await make_user(store, MAIN, verified=True)
    c = client_factory(MAIN)
    await c.press(await c.send("/neworg"), "🚩 党组织")
    assert "不能为空" in (await c.send("   ")).text
    assert "最多 50 个字（您输入了 51 个字）" in (await c.send("党" * 51)).text
    assert "请用文字输入" in (await c.sticker()).text
    assert "第 3 步" in (await c.send("金水区委宣传部")).text


async def test_org_2_name_over_20_gets_a_warning_use_anyway_or_enter_again(client_factory, store):
    await make_user(store, MAIN, verified=True)
    c = client_factory(MAIN)
    long_name = "中国石化集团南京化学工业有限公司党委员会机关"
    await c.press(await c.send("/neworg"), "🚩 党组织")
    warned = await c.send(long_name)
    assert "超过了 20 字" in warned.text and "简化" in warned.text
    assert [b for b, _ in warned.buttons()] == ["仍然使用这个名称", "✏️ 重新输入"]
    assert "第 2 步" in (await c.press(warned, "✏️ 重新输入")).text
    warned = await c.send(long_name)
    assert "第 3 步" in (await c.press(warned, "仍然使用这个名称")).text
    await c.press(await c.send("江苏省南京市"), "✅ 确认创建")
    assert await rows(store, "SELECT name FROM orgs") == [(long_name,)]


async def test_org_1_region_length_and_cancel(client_factory, store):
    await make_user(store, MAIN, verified=True)
    c = client_factory(MAIN)
    await c.press(await c.send("/neworg"), "🚩 党组织")
    await c.send("金水区委宣传部")
    assert "2 到 40 个字（您输入了 1 个字）" in (await c.send("豫")).text
    confirm = await c.send("河南省郑州市金水区")
    assert (await c.send("/cancel")).texts == ["已取消当前操作。"]
    assert "已失效" in alert(await c.press(confirm, "✅ 确认创建"))
    assert await rows(store, "SELECT id FROM orgs") == []


async def test_rnv_1_neworg_asks_an_unverified_user_to_verify_and_resumes(client_factory, store):
    await make_user(store, MAIN)
    c = client_factory(MAIN)
    sent = await c.send("/neworg")
    assert "需要先完成实名认证" in sent.text
    await c.send("张伟")
    resumed = await c.send(GOOD_ID)
    assert "实名认证成功" in resumed.text and "第 1 步（共 3 步）：请选择组织类型" in resumed.text
    done = await create_after_kind(c, resumed)
    assert "已创建" in done.text
    assert await rows(store, "SELECT user_id, role FROM org_admins") == [(MAIN, "main")]


async def create_after_kind(c, kinds):
    await c.press(kinds, "🚩 党组织")
    await c.send("金水区委宣传部")
    return await c.press(await c.send("河南省郑州市金水区"), "✅ 确认创建")


# -- ORG-9: /org -------------------------------------------------------------------------------

async def test_org_9_card_shows_certified_mark_counts_admins_and_management(client_factory, store):
    await make_user(store, MAIN, "王主任", verified=True)
    await make_user(store, ADMIN, "李四", verified=True)
    upper = await make_org(store, "中共郑州市委宣传部", MAIN, certified=True)
    org = await make_org(store, "金水区委宣传部", MAIN, admins=[ADMIN], branches=["第一党支部"], certified=True,
                         parent_id=upper)
    await make_member(store, org, "赵六", "+8613900000001", "第一党支部", activated=True)
    await make_member(store, org, "钱七", "+8613900000002")
    c = client_factory(MAIN)
    picker = await c.send("/org")
    assert "请选择" in picker.text
    sent = await c.press(picker, "金水区委宣传部")
    text = sent.text
    assert "金水区委宣传部 ✅ 已认证" in text and "上级组织：中共郑州市委宣传部 ✅ 已认证" in text
    assert "支部：1 个" in text and "成员：2 人（已激活 1 人）" in text and "王主任（主管理员）、李四" in text
    assert [b for b, _ in sent.buttons()] == ["👤 成员名单", "🔗 邀请成员", "🌳 支部管理", "👥 管理员", "🔧 设置",
                                              "✏️ 改名", "🗑 解散", "📚 题库", "📜 操作日志"]
    assert sent.of(SendMessage)[0].protect_content is True
    other = client_factory(ADMIN)
    card = await other.send("/org")
    assert "⚪" not in card.text and "📜 操作日志" not in [b for b, _ in card.buttons()]


async def test_org_9_uncertified_mark_and_non_admin_refused(client_factory, store):
    await make_user(store, MAIN, verified=True)
    await make_user(store, OTHER, verified=True)
    await make_org(store, "金水区委宣传部", MAIN)
    assert "金水区委宣传部 ⚪ 未认证" in (await client_factory(MAIN).send("/org")).text
    assert "还不是任何学习组织的管理员" in (await client_factory(OTHER).send("/org")).text
    org_id = (await rows(store, "SELECT id FROM orgs"))[0][0]
    stolen = await client_factory(OTHER).click(OrgCD(act="card", org=org_id).pack())  # forged: not their org
    assert "没有执行此操作的权限" in alert(stolen)


async def test_org_9_main_menu_has_the_admin_entry_for_admins(client_factory, store):
    await make_user(store, MAIN, verified=True)
    await make_org(store, "金水区委宣传部", MAIN)
    c = client_factory(MAIN)
    menu = await c.start()
    assert "⚙️ 组织管理" in [b for b, _ in menu.buttons()]
    assert "金水区委宣传部" in (await c.press(menu, "⚙️ 组织管理")).text


# -- ORG-3: branches -----------------------------------------------------------------------------

async def branch_ids(store):
    return {r[0]: r[1] for r in await rows(store, "SELECT name, id FROM branches")}


async def test_org_3_add_general_branch_and_a_branch_under_it(client_factory, store):
    await make_user(store, MAIN, verified=True)
    await make_org(store, "金水区委宣传部", MAIN)
    c = client_factory(MAIN)
    screen = await c.press(await c.send("/org"), "🌳 支部管理")
    assert "还没有支部" in screen.text
    await c.press(screen, "➕ 添加党总支")
    added = await c.send("机关党总支")
    assert "已添加党总支“机关党总支”" in added.text
    view = await c.press(added, "机关党总支")
    await c.press(view, "➕ 在此党总支下添加党支部")
    listed = await c.send("第一党支部")
    assert "    • 第一党支部（党支部，0 人）" in listed.text
    assert await rows(store, "SELECT name, kind, parent_id IS NOT NULL FROM branches ORDER BY id") == [
        ("机关党总支", "general", 0), ("第一党支部", "branch", 1)]
    assert [r[0] for r in await rows(store, "SELECT action FROM audit_log")] == ["branch.add", "branch.add"]


async def test_org_3_a_branch_under_a_branch_is_refused(client_factory, store):
    await make_user(store, MAIN, verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN)
    c = client_factory(MAIN)
    await c.press(await c.press(await c.send("/org"), "🌳 支部管理"), "➕ 添加党总支")
    added = await c.send("机关党总支")
    general = (await branch_ids(store))["机关党总支"]
    await c.press(await c.press(added, "机关党总支"), "➕ 在此党总支下添加党支部")
    listed = await c.send("第一党支部")
    child = (await branch_ids(store))["第一党支部"]
    view = await c.press(listed, "第一党支部")
    assert not [b for b, _ in view.buttons() if "添加" in b], "a 党支部 offers no place for another branch"
    # the view offers no such button; one made for the 党支部 is refused
    refused = await c.click(BranchCD(act="add", org=org, br=child, kind="branch").pack())  # forged:
    assert "只能嵌套一层" in alert(refused)
    actor = Actor(user=await store.get_user(MAIN), admin_org_ids=frozenset({org}),
                  main_admin_org_ids=frozenset({org}))
    with pytest.raises(DomainError) as exc:
        await orgs.add_branch(store, FakeClock(TZ), actor, org, "branch", "第三层", parent_id=child)
    assert exc.value.key == "org.branch_nesting"
    with pytest.raises(DomainError):  # a 党总支 never goes under anything
        await orgs.add_branch(store, FakeClock(TZ), actor, org, "general", "总支二", parent_id=general)
    assert len(await branch_ids(store)) == 2


async def test_org_3_duplicate_branch_name_is_refused_and_the_step_stays(client_factory, store):
    await make_user(store, MAIN, verified=True)
    await make_org(store, "金水区委宣传部", MAIN, branches=["第一党支部"])
    c = client_factory(MAIN)
    await c.press(await c.press(await c.send("/org"), "🌳 支部管理"), "➕ 添加党支部")
    assert "已经有名为“第一党支部”的支部" in (await c.send("第一党支部")).text
    assert "最多 30 个字" in (await c.send("支" * 31)).text
    assert "已添加" in (await c.send("第二党支部")).text
    assert set(await branch_ids(store)) == {"第一党支部", "第二党支部"}


async def test_org_3_rename_and_delete_branch_members_stay_without_branch(client_factory, store):
    await make_user(store, MAIN, verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN, branches=["第一党支部", "第二党支部"])
    await make_member(store, org, "赵六", "+8613900000001", "第一党支部")
    c = client_factory(MAIN)
    screen = await c.press(await c.send("/org"), "🌳 支部管理")
    await c.press(await c.press(screen, "第一党支部"), "✏️ 改名")
    assert "已经有名为" in (await c.send("第二党支部")).text
    renamed = await c.send("机关第一党支部")
    assert "已改名为“机关第一党支部”" in renamed.text
    confirm = await c.press(await c.press(renamed, "机关第一党支部"), "🗑 删除")
    assert "1 名成员会留在本组织中，但不再属于任何支部" in confirm.text
    await c.press(confirm, "🗑 确认删除")
    assert set(await branch_ids(store)) == {"第二党支部"}
    assert await rows(store, "SELECT name, org_id, branch_id FROM members") == [("赵六", org, None)]
    audit = await rows(store, "SELECT action, before, after FROM audit_log ORDER BY id")
    assert [a[0] for a in audit] == ["branch.rename", "branch.delete"]
    assert "第一党支部" in audit[0][1] and "机关第一党支部" in audit[0][2]


# -- ORG-4, ORG-5, FAQ 4, 5, 14: admins -------------------------------------------------------------

async def test_org_4_add_admin_by_phone_unregistered_phone_is_refused(client_factory, store):
    await make_user(store, MAIN, verified=True)
    await make_org(store, "金水区委宣传部", MAIN)
    c = client_factory(MAIN)
    await c.press(await c.press(await c.send("/org"), "👥 管理员"), "➕ 添加管理员")
    assert "该手机号尚未注册" in (await c.send("13912345678")).text
    assert "无法识别这个手机号" in (await c.send("12345")).text
    assert await rows(store, "SELECT user_id FROM org_admins") == [(MAIN,)]


async def test_org_4_admin_who_is_not_main_cannot_add_or_remove_admins(client_factory, store):
    await make_user(store, MAIN, verified=True)
    await make_user(store, ADMIN, verified=True)
    phone = await make_user(store, OTHER)
    org = await make_org(store, "金水区委宣传部", MAIN, admins=[ADMIN])
    c = client_factory(ADMIN)
    screen = await c.press(await c.send("/org"), "👥 管理员")
    assert phone not in screen.text and "+8613800100001" in screen.text, "admins see full phones of the group"
    assert [b for b, _ in screen.buttons()] == ["⬅️ 返回"] and "只有主管理员可以添加" in screen.text
    # forged: the screen has none of these buttons for a plain admin
    assert "只有主管理员可以添加、移除管理员" in alert(await c.click(AdminCD(act="add", org=org).pack()))  # forged:
    assert "只有主管理员" in alert(await c.click(AdminCD(act="rm", org=org, user=MAIN).pack()))  # forged:
    assert "只有主管理员" in alert(await c.click(AdminCD(act="ho", org=org).pack()))  # forged:
    assert len(await rows(store, "SELECT * FROM org_admins")) == 2


async def test_org_4_rnv_1_added_admin_must_verify_before_org_works(client_factory, store, session, outbox):
    await make_user(store, MAIN, "王主任", verified=True)
    phone = await make_user(store, ADMIN, "李四")
    await make_org(store, "金水区委宣传部", MAIN)
    c = client_factory(MAIN)
    admins = await c.press(await c.send("/org"), "👥 管理员")
    await c.press(admins, "➕ 添加管理员")
    sent = await c.send(phone[3:])
    assert "已将 李四 添加为“金水区委宣传部”的管理员" in sent.text and "实名认证" in sent.text
    assert not [m for m in sent.of(SendMessage) if m.chat_id == ADMIN], "the notice goes through the outbox"
    before = len(session.calls)
    assert await outbox.flush() == 1
    pushed = [m for m in session.calls[before:] if isinstance(m, SendMessage) and m.chat_id == ADMIN]
    assert len(pushed) == 1 and "王主任 已将您添加为学习组织“金水区委宣传部”的学习管理员" in pushed[0].text
    assert "先完成实名认证" in pushed[0].text
    assert await rows(store, "SELECT chat_id, status FROM outbox") == [(ADMIN, "sent")]
    assert await rows(store, "SELECT user_id, role FROM org_admins ORDER BY role") == [(ADMIN, "admin"), (MAIN, "main")]
    await c.press(await c.press(await c.send("/org"), "👥 管理员"), "➕ 添加管理员")
    assert "李四 已经是本组织的管理员" in (await c.send(phone)).text
    new = client_factory(ADMIN)
    assert "需要先完成实名认证" in (await new.send("/org")).text
    assert "需要先完成实名认证" not in (await new.send("张伟")).text
    done = await new.send(GOOD_ID)
    assert "实名认证成功" in done.text and "金水区委宣传部 ⚪ 未认证" in done.text
    assert "金水区委宣传部" in (await new.send("/org")).text


async def test_org_4_main_admin_removes_an_admin_but_not_themselves(client_factory, store, session, outbox,
                                                                    sweep_menus):
    await make_user(store, MAIN, "王主任", verified=True)
    await make_user(store, ADMIN, "李四", verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN, admins=[ADMIN])
    c = client_factory(MAIN)
    admins = await c.press(await c.send("/org"), "👥 管理员")
    assert "➖ 移除 王主任" not in [b for b, _ in admins.buttons()]
    # forged: no button removes oneself
    assert "不能移除自己" in alert(await c.click(AdminCD(act="rm", org=org, user=MAIN).pack()))  # forged:
    confirm = await c.press(admins, "➖ 移除 李四")
    assert "确定要移除管理员 李四" in confirm.text
    done = await c.press(confirm, "➖ 确认移除")
    assert "已移除管理员 李四" in done.text
    assert await rows(store, "SELECT user_id FROM org_admins") == [(MAIN,)]
    assert await rows(store, "SELECT action, target FROM audit_log") == [("admin.remove", "李四 (+8613800100002)")]
    # the person removed hears of it (through the outbox), and their menu drops the admin commands
    (menu,) = await sweep_menus()
    assert menu.scope.chat_id == ADMIN and "org" not in [cmd.command for cmd in menu.commands]
    before = len(session.calls)
    assert await outbox.flush() == 1
    pushed = [m for m in session.calls[before:] if isinstance(m, SendMessage) and m.chat_id == ADMIN]
    assert len(pushed) == 1 and "王主任 已将您从学习组织“金水区委宣传部”的管理员中移除" in pushed[0].text


async def test_sec_4_stale_button_of_a_removed_admin_is_refused_and_changes_nothing(client_factory, store):
    await make_user(store, MAIN, verified=True)
    await make_user(store, ADMIN, verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN, admins=[ADMIN])
    b = client_factory(ADMIN)
    screen = await b.press(await b.send("/org"), "🔧 设置")
    branches = await b.press(await b.send("/org"), "🌳 支部管理")
    main = client_factory(MAIN)
    await main.press(await main.press(await main.press(await main.send("/org"), "👥 管理员"), "➖ 移除"), "确认移除")
    refused = await b.press(screen, "关闭禁止转发保存")  # stale: the button of a removed admin
    assert "没有执行此操作的权限" in alert(refused) and not refused.texts
    assert (await store.get_org(org)).protect_content is True
    assert "没有执行此操作的权限" in alert(await b.press(branches, "➕ 添加党总支"))  # stale: as above


async def test_org_5_handover_alone_is_refused(client_factory, store):
    await make_user(store, MAIN, verified=True)
    await make_org(store, "金水区委宣传部", MAIN)
    c = client_factory(MAIN)
    sent = await c.press(await c.press(await c.send("/org"), "👥 管理员"), "🔁 移交主管理员")
    assert "管理组中只有您一人，无法移交" in alert(sent)


async def test_org_5_handover_to_another_admin_with_confirm(client_factory, store, session, outbox):
    await make_user(store, MAIN, "王主任", verified=True)
    await make_user(store, ADMIN, "李四", verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN, admins=[ADMIN])
    c = client_factory(MAIN)
    admins = await c.press(await c.send("/org"), "👥 管理员")
    choose = await c.press(admins, "🔁 移交主管理员")
    confirm = await c.press(choose, "李四")
    assert "确定把“金水区委宣传部”的主管理员移交给 李四" in confirm.text
    assert await rows(store, "SELECT user_id, role FROM org_admins WHERE role = 'main'") == [(MAIN, "main")]
    done = await c.press(confirm, "🔁 确认移交")
    assert "您现在是普通管理员" in done.text
    before = len(session.calls)
    await outbox.flush()
    assert [m.text for m in session.calls[before:] if isinstance(m, SendMessage) and m.chat_id == ADMIN] == [
        "📣 王主任 已把学习组织“金水区委宣传部”的主管理员移交给您。发送 /org 管理。"]
    assert dict(await rows(store, "SELECT user_id, role FROM org_admins")) == {MAIN: "admin", ADMIN: "main"}
    now = await c.press(await c.send("/org"), "👥 管理员")
    assert "➕ 添加管理员" not in [b for b, _ in now.buttons()]
    assert "只有主管理员" in alert(await c.click(AdminCD(act="add", org=org).pack()))  # forged: no longer main admin


# -- ORG-6 rename, ORG-7 dissolve, settings ----------------------------------------------------------

async def test_org_6_rename_uncertified_follows_the_naming_rules(client_factory, store):
    await make_user(store, MAIN, verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN)
    c = client_factory(MAIN)
    assert "请输入新的名称" in (await c.press(await c.send("/org"), "✏️ 改名")).text
    assert "不需要加“学习管理组”" in (await c.send("金水区委宣传部机关学习管理组")).text
    assert "与当前名称相同" in (await c.send("金水区委宣传部")).text
    done = await c.send("中共郑州市金水区委宣传部机关委员会")
    assert "已改名为“中共郑州市金水区委宣传部机关委员会”" in done.text
    assert (await store.get_org(org)).name == "中共郑州市金水区委宣传部机关委员会"
    assert await rows(store, "SELECT action, before, after FROM audit_log") == [
        ("org.rename", '{"name": "金水区委宣传部"}', '{"name": "中共郑州市金水区委宣传部机关委员会"}')]


async def test_org_6_rename_certified_needs_upper_approval(client_factory, store):
    await make_user(store, MAIN, verified=True)
    await make_user(store, OTHER, verified=True)
    upper = await make_org(store, "郑州市委宣传部", OTHER, certified=True)
    org = await make_org(store, "金水区委宣传部", MAIN, certified=True, parent_id=upper)
    c = client_factory(MAIN)
    sent = await c.press(await c.send("/org"), "✏️ 改名")
    assert "需要上级组织“郑州市委宣传部”的管理员同意" in sent.text
    assert "已提交改名申请" in (await c.send("中共郑州市金水区委宣传部")).text
    assert (await store.get_org(org)).name == "金水区委宣传部"  # the upper organisation decides (tests/handlers/test_certify.py)
    assert await rows(store, "SELECT org_id, upper_id, new_name, status FROM rename_requests") == [
        (org, upper, "中共郑州市金水区委宣传部", "pending")]


async def test_org_7_dissolve_certified_is_refused(client_factory, store):
    await make_user(store, MAIN, verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN, certified=True)
    c = client_factory(MAIN)
    assert "已认证，不能直接解散" in alert(await c.press(await c.send("/org"), "🗑 解散"))
    assert await store.get_org(org) is not None


async def test_org_7_only_the_main_admin_dissolves(client_factory, store):
    await make_user(store, MAIN, verified=True)
    await make_user(store, ADMIN, verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN, admins=[ADMIN])
    admin = client_factory(ADMIN)
    sent = await admin.press(await admin.send("/org"), "🗑 解散")
    assert "只有主管理员可以解散" in alert(sent)
    sent = await admin.click(OrgCD(act="dissolve_yes", org=org).pack())  # forged: the confirm main admins get
    assert "只有主管理员可以解散" in alert(sent)
    assert await store.get_org(org) is not None


async def test_org_7_dissolve_removes_memberships_keeps_users_and_points(client_factory, store):
    await make_user(store, MAIN, verified=True)
    member_phone = await make_user(store, OTHER)
    org = await make_org(store, "金水区委宣传部", MAIN, branches=["第一党支部"])
    keep = await make_org(store, "别的组织", MAIN)
    await make_member(store, org, "赵六", member_phone, "第一党支部", activated=True)
    await make_member(store, org, "钱七", "+8613900000002")
    await make_member(store, keep, "赵六", member_phone)
    async with store.raw_tx() as db:
        await db.execute("INSERT INTO points (user_id, amount, source, day, idem_key, created_at) "
                         "VALUES (?, 5, 'daily_quiz', '2026-11-23', 'k1', '2026-11-23')", (OTHER,))
    c = client_factory(MAIN)
    picker = await c.send("/org")
    confirm = await c.press(await c.press(picker, "金水区委宣传部"), "🗑 解散")
    assert "确定要解散学习组织“<b>金水区委宣传部</b>”" in confirm.text and "2 名成员" in confirm.text
    done = await c.press(confirm, "🗑 确认解散")
    assert "已解散" in done.text
    assert await store.get_org(org) is None
    for table in ("members", "branches", "org_admins"):
        assert await rows(store, f"SELECT COUNT(*) FROM {table} WHERE org_id = ?", org) == [(0,)]
    assert await rows(store, "SELECT org_id FROM members") == [(keep,)]
    assert await rows(store, "SELECT COUNT(*) FROM users") == [(2,)]
    assert await rows(store, "SELECT user_id, amount FROM points WHERE source = 'daily_quiz'") == [(OTHER, 5)]
    assert await rows(store, "SELECT org_id, action FROM audit_log") == [(org, "org.dissolve")]


async def test_sec_1_protect_content_on_by_default_and_switched_with_audit(client_factory, store):
    await make_user(store, MAIN, verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN)
    c = client_factory(MAIN)
    screen = await c.press(await c.send("/org"), "🔧 设置")
    assert "禁止转发和保存（成员名单、报表、导出）：开" in screen.text and "加入需管理员审核：关" in screen.text
    after = await c.press(screen, "开启加入审核")
    assert "加入需管理员审核：开" in after.text
    await c.press(after, "关闭禁止转发保存")
    org_now = await store.get_org(org)
    assert (org_now.join_approval, org_now.protect_content) == (True, False)
    assert await rows(store, "SELECT action, before, after FROM audit_log ORDER BY id") == [
        ("org.join_approval", '{"join_approval": false}', '{"join_approval": true}'),
        ("org.protect_content", '{"protect_content": true}', '{"protect_content": false}')]


async def test_org_9_card_links_to_members_and_invites_and_a_general_branch_counts_its_branches(client_factory,
                                                                                                   store):
    await make_user(store, MAIN, "王主任", verified=True)
    org = await make_org(store, "金水区委宣传部", MAIN, branches=["机关党总支", ("第一党支部", "机关党总支"), "第二党支部"])
    await make_member(store, org, "赵六", "+8613900000001", "机关党总支")
    await make_member(store, org, "钱七", "+8613900000002", "第一党支部")
    await make_member(store, org, "孙八", "+8613900000003", "第一党支部")
    await make_member(store, org, "李九", "+8613900000004", "第二党支部")
    c = client_factory(MAIN)
    members = await c.press(await c.send("/org"), "👤 成员名单")
    assert "赵六" in members.text and "李九" in members.text
    invite = await c.press(await c.send("/org"), "🔗 邀请成员")
    assert "邀请成员加入 金水区委宣传部" in invite.text and "第 1 步" in invite.text
    tree = await c.press(await c.send("/org"), "🌳 支部管理")
    assert "\n• 机关党总支（党支部，3 人）" in tree.text  # its own member and its 党支部's two (factory: kind 党支部)
    assert "    • 第一党支部（党支部，2 人）" in tree.text and "• 第二党支部（党支部，1 人）" in tree.text

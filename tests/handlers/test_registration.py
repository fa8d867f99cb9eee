"""REG-1…7 through the dispatcher: what the person sees, what the store holds."""
from __future__ import annotations

from aiogram.methods import SendMessage
from aiogram.types import ReplyKeyboardMarkup, ReplyKeyboardRemove

from tests.support.pg import connect_committed

PHONE = "+8613800000001"


def reply_kb(sent):
    kbs = [m.reply_markup for m in sent.of(SendMessage) if isinstance(m.reply_markup, ReplyKeyboardMarkup)]
    return kbs[-1] if kbs else None


async def register(client, phone=PHONE, name="张伟", org="某某县委宣传部"):
    await client.press(await client.start(), "✅ 同意并继续")
    await client.contact(phone.lstrip("+"))
    ask = await client.send(name)
    if org is None:
        return await client.press(ask, "跳过 ⏭")
    return await client.send(org)


async def test_reg_1_start_shows_agreement_with_buttons(client_factory):
    sent = await client_factory().start()
    assert "服务协议与隐私政策" in sent.text
    labels = [b for b, _ in sent.buttons()]
    assert labels == ["✅ 同意并继续", "❌ 不同意", "📄 服务协议全文", "🔒 隐私政策全文"]


async def test_reg_1_full_texts_on_demand(client_factory):
    c = client_factory()
    agreement = await c.start()
    assert "服务协议（全文）" in (await c.press(agreement, "📄 服务协议全文")).text
    assert "隐私政策（全文）" in (await c.press(agreement, "🔒 隐私政策全文")).text


async def test_reg_1_decline_stores_nothing(client_factory, store, settings):
    c = client_factory()
    sent = await c.press(await c.start(), "❌ 不同意")
    assert "没有保存您的任何信息" in sent.text
    assert await store.get_user(c.user_id) is None
    db = connect_committed(settings)
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM fsm").fetchone()[0] == 0


async def test_reg_2_contact_button_and_e164(client_factory, store):
    c = client_factory()
    sent = await c.press(await c.start(), "✅ 同意并继续")
    kb = reply_kb(sent)
    assert kb.keyboard[0][0].request_contact and kb.keyboard[0][0].text == "📱 分享我的手机号"
    sent = await c.contact("8613800000001")
    assert "第 2 步" in sent.text
    done = await c.press(await c.send("张伟"), "跳过 ⏭")
    assert "注册成功" in done.text
    user = await store.get_user(c.user_id)
    assert (user.phone, user.name, user.org_name, user.registered) == (PHONE, "张伟", None, True)


async def test_reg_3_someone_elses_contact_is_refused(client_factory, store):
    c = client_factory()
    await c.press(await c.start(), "✅ 同意并继续")
    forwarded = await c.contact("8613800000009", user_id=555)
    assert "只能绑定您本人" in forwarded.text
    no_owner = await c.contact("8613800000009", user_id=None)
    assert "只能绑定您本人" in no_owner.text
    typed = await c.send("13800000009")
    assert "不要手动输入" in typed.text and reply_kb(typed).keyboard[0][0].request_contact
    sticker = await c.sticker()
    assert "不接受贴纸" in sticker.text
    assert "第 2 步" in (await c.contact("8613800000001")).text  # the flow stayed at the phone step


async def test_reg_4_name_rules(client_factory, store):
    c = client_factory()
    await c.press(await c.start(), "✅ 同意并继续")
    await c.contact("8613800000001")
    assert "不能为空" in (await c.send("   ")).text
    assert "不能为空" in (await c.send("\u3164\u200b")).text
    assert "不能超过 20 个字（您输入了 21 个字）" in (await c.send("一" * 21)).text
    assert "用文字" in (await c.sticker()).text
    sent = await c.send("  " + "一" * 20 + "  ")
    assert "第 3 步" in sent.text
    await c.press(sent, "跳过 ⏭")
    assert (await store.get_user(c.user_id)).name == "一" * 20


async def test_reg_5_member_records_are_activated(client_factory, store, settings):
    db = connect_committed(settings)
    db.executescript("""
        INSERT INTO users (id, first_name, created_at, updated_at) VALUES (1, 'admin', 'n', 'n');
        INSERT INTO orgs (id, name, created_by, created_at, certified_at) VALUES (7, '中共某县委宣传部', 1, 'n', 'n');
        INSERT INTO orgs (id, name, created_by, created_at) VALUES (8, '某镇党委', 1, 'n');
        INSERT INTO branches (id, org_id, name, created_at) VALUES (3, 7, '第一党支部', 'n');
        INSERT INTO members (org_id, branch_id, name, phone, created_at, updated_at)
            VALUES (7, 3, '张伟', '+8613800000001', 'n', 'n'), (8, NULL, '张伟', '+8613800000001', 'n', 'n'),
                   (8, NULL, '别人', '+8613800000002', 'n', 'n');
    """)
    db.commit()
    done = await register(client_factory())
    assert "中共某县委宣传部 ✅ 已认证（第一党支部）" in done.text and "某镇党委 ⚪ 未认证" in done.text
    rows = db.execute("SELECT phone, activated_at IS NOT NULL FROM members ORDER BY id").fetchall()
    assert rows == [(PHONE, 1), (PHONE, 1), ("+8613800000002", 0)]


async def test_reg_5_no_memberships_says_how_to_join(client_factory):
    done = await register(client_factory(), org=None)
    assert "还没有加入任何学习组织" in done.text


async def test_reg_6_payload_before_registration_is_resumed(client_factory):
    c = client_factory()
    first = await c.start("j_sometoken")
    assert "服务协议" in first.text
    await c.press(first, "✅ 同意并继续")
    await c.contact("8613800000001")
    done = await c.press(await c.send("张伟"), "跳过 ⏭")
    # the payload is opened right after registration (an unknown token is refused there)
    assert "注册成功" in done.texts[-3] and "链接无效" in done.texts[-2]
    assert "请选择" in done.texts[-1] and done.buttons()  # the main menu follows (REG-6)


async def test_reg_7_phone_bound_to_another_account(client_factory, store):
    await register(client_factory(user_id=100001))
    other = client_factory(user_id=100002)
    await other.press(await other.start(), "✅ 同意并继续")
    sent = await other.contact("8613800000001")
    assert "已经绑定了另一个账号" in sent.text
    assert await store.get_user(other.user_id) is None


async def test_registered_start_shows_main_menu_and_user_menu(client_factory, session, sweep_menus):
    c = client_factory()
    await register(c)
    (menu,) = await sweep_menus()  # registration armed the refresh of their menu
    assert [x.command for x in menu.commands] == ["start", "help", "lang", "cancel", "verify", "neworg", "join",
                                                  "quiz", "weekly", "exams", "records", "wrongbook", "report", "rank",
                                                  "tasks", "checkin", "manuscript"]
    sent = await c.start()
    assert "张伟" in sent.text and "138****0001" in sent.text
    assert [b for b, _ in sent.buttons()] == ["📝 每日答题", "📅 每周一答", "⚔️ 挑战答题", "📋 专题考试", "🗂 答题记录", "📕 错题本",
                                              "📊 学习报表", "🏆 组内排名", "🏢 我的组织", "🪪 实名认证",
                                              "🌐 Language / 语言", "📖 帮助"]


async def test_cancel_at_every_step(client_factory, store):
    c = client_factory()
    for steps in ([], ["agree"], ["agree", "contact"], ["agree", "contact", "name"]):
        agreement = await c.start()
        for step in steps:
            if step == "agree":
                await c.press(agreement, "✅ 同意并继续")
            elif step == "contact":
                await c.contact("8613800000001")
            else:
                await c.send("张伟")
        sent = await c.send("/cancel")
        assert sent.texts == ["已取消当前操作。"]
        assert isinstance(sent.messages[0].reply_markup, ReplyKeyboardRemove)
        assert await store.get_user(c.user_id) is None
        assert "没有理解" not in (await c.send("你好")).text  # back to the start: asks to register


async def test_second_start_mid_flow_shows_current_step(client_factory):
    c = client_factory()
    await c.press(await c.start(), "✅ 同意并继续")
    await c.contact("8613800000001")
    sent = await c.start()
    assert "第 2 步" in sent.text

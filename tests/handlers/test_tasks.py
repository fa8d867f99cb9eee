"""WORK-1 task notices through the dispatcher: the /task flow, notices through the outbox with a confirm
button, /tasks for members and admins, remind the pending (5 minutes apart), withdraw; SEC-1 protect_content,
SEC-3 audit, SEC-4 role checks on stale and forged buttons."""
from __future__ import annotations

from types import SimpleNamespace

from aiogram.methods import SendMessage

from bot.ui.tasks import TaskAction, TaskCD
from tests.support.factories import make_member, make_org, make_user
from tests.support.sql import file_rows as rows

ADMIN, OUTSIDER = 100001, 100009
MEMBERS = [(200000 + i, f"成员{i:02d}") for i in range(6)]   # registered members of the organisation
LOWER = [(210000 + i, f"下级{i:02d}") for i in range(3)]     # registered members of the lower organisation


async def setup(store):
    await make_user(store, ADMIN, "王管理", verified=True)
    await make_user(store, OUTSIDER, "外人", verified=True)
    org = await make_org(store, "某县委宣传部", ADMIN, branches=["第一支部", "第二支部"], certified=True)
    lower = await make_org(store, "某乡党委", OUTSIDER, certified=True, parent_id=org)
    for n, (uid, name) in enumerate(MEMBERS):
        phone = await make_user(store, uid, name)
        await make_member(store, org, name, phone, "第一支部" if n < 3 else "第二支部", activated=True)
    await make_member(store, org, "未注册", "+8613900000999", "第一支部")
    for uid, name in LOWER:
        await make_member(store, lower, name, await make_user(store, uid, name), activated=True)
    return org, lower


async def compose(c, body="请于本周学习党章第一章。", target="仅本组织", deadline=None, confirm=True):
    await c.send("/task")
    sent = await c.send(body)
    sent = await c.press(sent, target)
    if target == "选定的支部":
        sent = await c.press(sent, "第一支部")
        sent = await c.press(sent, "选好了")
    if deadline:
        sent = await c.send(deadline)
    else:
        sent = await c.press(sent, "不设截止时间")
    sent = await c.press(sent, "✅ 需要确认" if confirm else "不需要确认")
    return sent


def pushed_to(session, since: int) -> dict[int, list[SendMessage]]:
    out: dict[int, list[SendMessage]] = {}
    for call in session.calls[since:]:
        if isinstance(call, SendMessage):
            out.setdefault(call.chat_id, []).append(call)
    return out


async def test_work_1_task_to_org_only_reaches_its_registered_members_protected(client_factory, store, outbox,
                                                                                 session, settings):
    await setup(store)
    c = client_factory(ADMIN)
    preview = await compose(c)
    assert "将发送给 <b>6</b> 人" in preview.text and "共 7 名成员" in preview.text
    sent = await c.press(preview, "发送")
    assert "任务 #1 已发出，共 6 人" in sent.text
    before = len(session.calls)
    await outbox.flush()
    pushes = pushed_to(session, before)
    assert set(pushes) == {uid for uid, _ in MEMBERS}
    notice = pushes[MEMBERS[0][0]][0]
    assert "请于本周学习党章第一章" in notice.text and notice.protect_content is True  # SEC-1: on by default
    assert [b.text for row in notice.reply_markup.inline_keyboard for b in row] == ["✅ 确认收到"]
    audit = rows(settings, "SELECT action, target FROM audit_log WHERE action = 'task.send'")
    assert audit == [("task.send", "task:1")]  # SEC-3


async def test_sec_1_notice_not_protected_when_the_organisation_turned_it_off(client_factory, store, outbox,
                                                                              session):
    org, _lower = await setup(store)
    async with store.raw_tx() as db:
        await db.execute("UPDATE orgs SET protect_content = 0 WHERE id = ?", (org,))
    c = client_factory(ADMIN)
    await c.press(await compose(c), "发送")
    before = len(session.calls)
    await outbox.flush()
    assert {m.protect_content for msgs in pushed_to(session, before).values() for m in msgs} == {False}


async def test_work_1_subtree_and_branches_targets(client_factory, store, outbox):
    await setup(store)
    c = client_factory(ADMIN)
    assert "将发送给 <b>9</b> 人" in (await compose(c, target="本组织及全部下级组织")).text
    await c.send("/cancel")
    assert "将发送给 <b>3</b> 人" in (await compose(c, target="选定的支部")).text


async def test_work_1_confirm_twice_and_member_tasks_list(client_factory, store, outbox, session):
    await setup(store)
    admin = client_factory(ADMIN)
    await admin.press(await compose(admin), "发送")
    await outbox.flush()
    uid = MEMBERS[0][0]
    m = client_factory(uid)
    listing = await m.send("/tasks")
    assert "#1 某县委宣传部" in listing.text and "待确认" in listing.text
    first = await m.press(listing, "确认任务 #1")
    assert first.answers[-1].text == "已确认，谢谢！"
    second = await m.press(listing, "确认任务 #1")
    assert second.answers[-1].text == "您已经确认过这个任务了。"
    assert "已确认" in (await m.send("/tasks")).text


async def test_work_1_admin_view_remind_once_per_5_minutes_and_withdraw(client_factory, store, outbox, session,
                                                                       clock):
    await setup(store)
    admin = client_factory(ADMIN)
    await admin.press(await compose(admin), "发送")
    await outbox.flush()
    for uid, _ in MEMBERS[:2]:
        await client_factory(uid).press_latest("确认收到")  # on the notice the outbox delivered
    listing = await admin.send("/tasks")
    view = await admin.press(listing, "#1")
    assert "共 6 人 · 已送达 6 · 已确认 2 · 待确认 4 · 无法送达 0" in view.text
    assert all(f"• {name}" in view.text for _, name in MEMBERS[2:])
    assert f"• {MEMBERS[0][1]}" not in view.text
    before = len(session.calls)
    reminded = await admin.press(view, "提醒未确认的人")
    assert "已向 4 名未确认的成员发送提醒" in reminded.text
    await outbox.flush()
    assert set(pushed_to(session, before)) == {uid for uid, _ in MEMBERS[2:]} | {ADMIN}
    again = await admin.press(view, "提醒未确认的人")
    assert "请 5 分钟后再试" in again.answers[-1].text
    clock.advance(minutes=5)
    assert "已向 4 名" in (await admin.press(view, "提醒未确认的人")).text
    ask = await admin.press(view, "撤回任务")
    done = await admin.press(ask, "确认撤回")
    assert "任务 #1 已撤回" in done.text
    late = await client_factory(MEMBERS[5][0]).press_latest("确认收到")  # the notice's button, after withdrawal
    assert late.answers[-1].text == "这个任务已被撤回。"
    assert "没有学习任务" in (await client_factory(MEMBERS[5][0]).send("/tasks")).text


async def test_work_1_bad_input_zero_members_bad_deadline(client_factory, store):
    await make_user(store, ADMIN, "王管理", verified=True)
    await make_org(store, "空组织", ADMIN, branches=["甲支部"], certified=True)
    c = client_factory(ADMIN)
    await c.send("/task")
    sent = await c.send("内容")
    refused = await c.press(sent, "仅本组织")
    assert "没有能收到任务的人" in refused.answers[-1].text
    assert "第 3 步" not in refused.text  # the flow stays at the target step
    await c.send("/cancel")
    await make_member(store, 1, "甲", await make_user(store, 300001, "甲"), "甲支部")
    await c.send("/task")
    sent = await c.press(await c.send("内容"), "仅本组织")
    assert "格式" in (await c.send("明天下午")).text
    assert "必须晚于现在" in (await c.send("2020-01-01 10:00")).text
    assert "第 4 步" in (await c.send("2030-01-01 10:00")).text


async def test_sec_4_forged_admin_buttons_refused(client_factory, store, outbox):
    await setup(store)
    admin = client_factory(ADMIN)
    await admin.press(await compose(admin), "发送")
    outsider = client_factory(OUTSIDER)
    # forged: an admin of another organisation presses this organisation's task buttons
    for action in (TaskAction.open, TaskAction.remind, TaskAction.withdraw_yes):
        sent = await outsider.click(TaskCD(action=action, task_id=1).pack())  # forged: not their organisation
        assert sent.answers[-1].text == "您没有执行此操作的权限。"
    # forged: a person who was not sent the task confirms it
    sent = await outsider.click(TaskCD(action=TaskAction.confirm, task_id=1).pack())  # forged: not a recipient
    assert sent.answers[-1].text == "您没有执行此操作的权限。"


async def test_work_1_automatic_reminder_2h_before_deadline_to_the_pending_only(client_factory, store, outbox,
                                                                                session, clock, i18n):
    from bot.handlers.tasks import due_reminder_handler
    from bot.scheduler import Sweeper

    sweeper = Sweeper(store, clock)
    sweeper.register("task_remind", due_reminder_handler(store, clock, i18n, outbox))
    await setup(store)
    admin = client_factory(ADMIN)  # the clock stands at 2026-11-23 17:00 in Shanghai
    await admin.press(await compose(admin, deadline="2026-11-24 12:00"), "发送")
    await outbox.flush()
    await client_factory(MEMBERS[0][0]).press_latest("确认收到")
    clock.advance(hours=16, minutes=59)  # 10:59, one minute before the reminder is due
    assert await sweeper.sweep() == 0
    clock.advance(minutes=1)
    before = len(session.calls)
    assert await sweeper.sweep() == 1
    await outbox.flush()
    pushes = pushed_to(session, before)
    assert set(pushes) == {uid for uid, _ in MEMBERS[1:]}
    assert "还没有确认" in pushes[MEMBERS[1][0]][0].text and "截止时间：2026-11-24 12:00" in pushes[MEMBERS[1][0]][0].text
    clock.advance(minutes=10)  # a second run of the handler (a crash before its row was marked) adds nothing
    mark = len(session.calls)
    await due_reminder_handler(store, clock, i18n, outbox)(SimpleNamespace(ref="task:1"), clock.now())
    await sweeper.sweep()
    await outbox.flush()
    assert not pushed_to(session, mark)


async def test_work_1_withdrawn_task_gets_no_automatic_reminder(client_factory, store, outbox, session, clock, i18n):
    from bot.handlers.tasks import due_reminder_handler
    from bot.scheduler import Sweeper

    sweeper = Sweeper(store, clock)
    sweeper.register("task_remind", due_reminder_handler(store, clock, i18n, outbox))
    await setup(store)
    admin = client_factory(ADMIN)
    await admin.press(await compose(admin, deadline="2026-11-24 12:00"), "发送")
    await outbox.flush()
    view = await admin.press(await admin.send("/tasks"), "#1")
    await admin.press(await admin.press(view, "撤回任务"), "确认撤回")
    clock.advance(days=1)
    before = len(session.calls)
    await sweeper.sweep()
    await outbox.flush()
    assert not pushed_to(session, before)


async def test_work_1_task_with_a_file_sends_the_file_then_the_notice(client_factory, store, outbox, session):
    from aiogram.methods import SendDocument
    from aiogram.types import Document

    await setup(store)
    c = client_factory(ADMIN)
    await c.send("/task")
    c.session.files["files/f1"] = c.session.files["f1"] = b"%PDF-1.4 task"
    sent = await c._feed(message=c._message(
        document=Document(file_id="f1", file_unique_id="f1", file_name="学习材料.pdf", file_size=13),
        caption="请阅读附件"))
    sent = await c.press(sent, "仅本组织")
    sent = await c.press(sent, "不设截止时间")
    preview = await c.press(sent, "不需要确认")
    assert "附件：学习材料.pdf" in preview.text
    await c.press(preview, "发送")
    before = len(session.calls)
    await outbox.flush()
    to_first = [call for call in session.calls[before:] if getattr(call, "chat_id", None) == MEMBERS[0][0]]
    assert isinstance(to_first[0], SendDocument) and isinstance(to_first[1], SendMessage)
    assert "请阅读附件" in to_first[1].text and to_first[1].reply_markup is None  # no confirmation asked


async def test_work_1_a_button_of_a_lost_draft_says_so(client_factory, store):
    await setup(store)
    c = client_factory(ADMIN)
    preview = await compose(c)
    await c.send("/cancel")
    sent = await c.press(preview, "发送")
    assert sent.answers[-1].text == "这一步已过期，请发送 /task 重新开始。"


async def test_work_1_the_send_press_handled_again_after_a_crash_sends_no_second_task(client_factory, store, outbox,
                                                                                     session, settings, monkeypatch):
    """Killed after the task's commit but before the draft was cleared, the press is handled again at
    start (the durable inbox): the admin is told about the task it sent, nobody gets a second notice."""
    from aiogram.fsm.context import FSMContext

    await setup(store)
    c = client_factory(ADMIN)
    preview = await compose(c)

    async def killed(self):
        raise RuntimeError("killed before the draft was cleared")

    monkeypatch.setattr(FSMContext, "clear", killed)
    await c.press(preview, "发送")
    monkeypatch.undo()
    assert rows(settings, "SELECT id FROM tasks") == [(1,)]  # committed, draft still there
    sent = await c.press(preview, "发送")  # stale: the same press again, as the restarted bot handles it
    assert "任务 #1 已发出，共 6 人" in sent.text
    assert rows(settings, "SELECT id FROM tasks") == [(1,)]
    before = len(session.calls)
    await outbox.flush()
    assert {uid: len(p) for uid, p in pushed_to(session, before).items()} == {uid: 1 for uid, _ in MEMBERS}
    assert rows(settings, "SELECT COUNT(*) FROM audit_log WHERE action = 'task.send'") == [(1,)]


async def test_work_1_the_send_press_handled_again_after_the_draft_was_cleared_shows_the_task_sent(
        client_factory, store, outbox, session, settings, monkeypatch):
    """Killed after the task's commit and the draft's clearing but before the preview said "sent" (the
    crash test found it under load): the press handled again at start tells the admin about the task
    it sent, not that the step expired, and nobody gets a second notice."""
    from aiogram.fsm.context import FSMContext

    await setup(store)
    c = client_factory(ADMIN)
    preview = await compose(c)
    clear = FSMContext.clear

    async def killed(self):
        await clear(self)
        raise RuntimeError("killed before the preview was edited")

    monkeypatch.setattr(FSMContext, "clear", killed)
    await c.press(preview, "发送")
    monkeypatch.undo()
    assert rows(settings, "SELECT id FROM tasks") == [(1,)]
    sent = await c.press(preview, "发送")  # stale: the same press again, as the restarted bot handles it
    assert "任务 #1 已发出，共 6 人" in sent.text and "已过期" not in sent.text
    assert rows(settings, "SELECT id FROM tasks") == [(1,)]
    before = len(session.calls)
    await outbox.flush()
    assert {uid: len(p) for uid, p in pushed_to(session, before).items()} == {uid: 1 for uid, _ in MEMBERS}


async def test_work_1_task_file_is_judged_by_its_content(client_factory, store):
    """A program named notice.pdf is refused at the first step, which stays; a real PDF passes the check."""
    await setup(store)
    c = client_factory(ADMIN)
    await c.send("/task")
    refused = await c.document(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"PE\x00\x00", "notice.pdf",
                               file_id="exe")
    assert "无法识别这个文件的内容" in refused.text
    taken = await c.document(b"%PDF-1.4 notice", "notice.pdf", file_id="pdf")
    assert "任务内容不能为空" in taken.text  # past the file check: a file alone has no text (as before)

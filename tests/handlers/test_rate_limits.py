"""Per-person limits on the actions that notify others (manuscripts, task notices, certification
applications, manual reminders): counted from the rows the actions wrote, by the injected clock, and
refused with a message that says when to try again."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import DomainError
from bot.middlewares import error_text, load_actor
from bot.services import certification as cert
from bot.services import manuscripts
from bot.services import tasks as task_svc
from tests.handlers.test_tasks import ADMIN, compose
from tests.handlers.test_tasks import setup as task_setup
from tests.support.factories import make_member, make_org, make_user
from tests.support.sql import store_rows as rows

WRITER = 200001


async def actor_of(store, settings, user_id):
    return await load_actor(store, settings, await store.get_user(user_id))


async def refused(call) -> DomainError:
    with pytest.raises(DomainError) as err:
        await call
    return err.value


async def test_limits_a_correspondent_submits_five_an_hour_and_twenty_a_day(store, settings, clock, i18n):
    await make_user(store, ADMIN, "管理", verified=True)
    org = await make_org(store, "某县委宣传部", ADMIN, certified=True)
    phone = await make_user(store, WRITER, "作者")
    await make_member(store, org, "作者", phone, activated=True)
    admin, writer = await actor_of(store, settings, ADMIN), await actor_of(store, settings, WRITER)
    await manuscripts.set_correspondent(store, clock, admin, (await store.membership_in(org, phone)).id, True)

    def submit():
        return manuscripts.submit(store, clock, writer, org, "标题", "正文", "栏目", [])

    start = clock.now()  # 2026-11-23 17:00
    for _ in range(5):
        await submit()
        clock.advance(minutes=1)
    err = await refused(submit())  # 17:05: the sixth within the hour
    assert error_text(i18n, "zh", err) == "投稿太频繁了：1 小时内最多投稿 5 篇。请在 18:00 之后再试。"
    assert error_text(i18n, "en", err) == ("Too many submissions: at most 5 manuscripts in an hour. "
                                           "Please try again after 18:00.")
    clock.advance(minutes=54, seconds=59)
    await refused(submit())  # 17:59:59
    clock.advance(seconds=1)
    await submit()  # 18:00: the first one left the hour
    for _ in range(14):  # 20 in the day, none more than five in any hour
        clock.advance(minutes=13)
        await submit()
    clock.advance(hours=1)
    err = await refused(submit())
    assert err.params["count"] == 20 and err.params["hours"] == 24
    assert error_text(i18n, "zh", err).endswith("请在 11-24 17:00 之后再试。")  # a day after the first
    clock.advance(hours=18, minutes=58)
    assert clock.now() == start + timedelta(days=1)
    await submit()
    assert await rows(store, "SELECT COUNT(*) FROM manuscripts WHERE author_id = ?", WRITER) == [(21,)]


async def test_limits_an_admin_sends_ten_task_notices_an_hour_through_the_flow(client_factory, store, settings,
                                                                             clock, outbox):
    org, _lower = await task_setup(store)
    actor = await actor_of(store, settings, ADMIN)

    async def send_one(n: int) -> None:  # from another chat window, say
        await task_svc.send_task(store, clock, actor, await task_svc.make_target(store, actor, org, "org"), f"任务{n}")

    for n in range(9):
        await send_one(n)
    admin = client_factory(ADMIN)
    ready = await compose(admin)  # the ninth in the hour: the flow starts
    await send_one(9)
    clock.advance(minutes=30)
    sent = await admin.press(ready, "发送")
    (answer,) = sent.answers
    assert answer.show_alert and answer.text == "发布任务太频繁了：1 小时内最多发布 10 条学习任务。请在 18:00 之后再试。"
    assert await rows(store, "SELECT COUNT(*) FROM tasks") == [(10,)]
    again = await client_factory(ADMIN).send("/task")  # told before writing another
    assert again.texts[-1] == "发布任务太频繁了：1 小时内最多发布 10 条学习任务。请在 18:00 之后再试。"
    clock.advance(minutes=30)
    admin = client_factory(ADMIN)
    await admin.press(await compose(admin), "发送")
    assert await rows(store, "SELECT COUNT(*) FROM tasks") == [(11,)]


async def test_limits_manual_reminders_ten_an_hour_across_tasks(store, settings, clock, i18n):
    org, _lower = await task_setup(store)
    actor = await actor_of(store, settings, ADMIN)
    target = await task_svc.make_target(store, actor, org, "org")
    ids = [(await task_svc.send_task(store, clock, actor, target, f"任务{n}", needs_confirm=True)).task.id
           for n in range(6)]
    for task_id in ids:  # each task once every 5 minutes; the person ten times an hour
        await task_svc.remind_pending(store, clock, actor, task_id)
    clock.advance(minutes=5)
    for task_id in ids[:4]:
        await task_svc.remind_pending(store, clock, actor, task_id)
    err = await refused(task_svc.remind_pending(store, clock, actor, ids[4]))
    assert error_text(i18n, "zh", err) == "提醒太频繁了：1 小时内最多手动提醒 10 次。请在 18:00 之后再试。"
    assert await rows(store, "SELECT COUNT(*) FROM audit_log WHERE action = 'task.remind' AND actor_id = ?",
                      ADMIN) == [(10,)]
    clock.advance(minutes=55)
    assert (await task_svc.remind_pending(store, clock, actor, ids[4])).number == 2


async def test_limits_certification_applications_five_a_day(store, settings, clock, i18n):
    await make_user(store, 100001, "罗主任", verified=True)
    await make_user(store, 100002, "陈主任", verified=True)
    root = await make_org(store, "河南省委宣传部", 100001, certified=True)
    lower = await make_org(store, "郑州市委宣传部", 100002)
    invite = (await cert.create_invite(store, clock, settings.secret_key,
                                      await actor_of(store, settings, 100001), root)).invite
    applicant = await actor_of(store, settings, 100002)
    for _ in range(5):  # applied and withdrawn: each one told the upper organisation's admins
        app = await cert.apply(store, clock, applicant, invite.id, lower)
        await cert.withdraw(store, clock, applicant, app.id)
        clock.advance(hours=1)
    err = await refused(cert.apply(store, clock, applicant, invite.id, lower))
    assert error_text(i18n, "zh", err) == "申请认证太频繁了：24 小时内最多提交 5 次认证申请。请在 11-24 17:00 之后再试。"
    assert "at most 5 in 24 hours" in error_text(i18n, "en", err)
    clock.advance(hours=19)  # 11-24 17:00
    await cert.apply(store, clock, applicant, invite.id, lower)

"""WORK-1 rules without the dispatcher: deadlines, targets, reach, reminders 5 minutes apart, withdrawal,
who is unreachable (the outbox's last finished push to them ended 403)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.errors import DomainError, NotAllowed
from bot.middlewares import load_actor
from bot.services import tasks as svc
from tests.support.factories import make_member, make_org, make_user

ADMIN, OTHER = 100001, 100002


async def actor_of(store, settings, uid):
    return await load_actor(store, settings, await store.get_user(uid))


async def setup(store, settings):
    await make_user(store, ADMIN, "管理", verified=True)
    await make_user(store, OTHER, "别人", verified=True)
    org = await make_org(store, "某组织", ADMIN, branches=["总支", ("支部", "总支"), "另一支部"], certified=True)
    await make_org(store, "别的组织", OTHER)
    for n, branch in enumerate(("总支", "支部", "另一支部")):
        await make_member(store, org, f"人{n}", await make_user(store, 300000 + n, f"人{n}"), branch, activated=True)
    await make_member(store, org, "未注册", "+8613912345678", "支部")
    return org, await actor_of(store, settings, ADMIN)


def test_work_1_parse_deadline(clock):
    now = clock.now()  # 2026-11-23 17:00 Shanghai
    assert svc.parse_deadline("2026-11-30 18:00", clock) == datetime(2026, 11, 30, 18, 0, tzinfo=clock.tz)
    assert svc.parse_deadline("11月24日 9:30", clock) == datetime(2026, 11, 24, 9, 30, tzinfo=clock.tz)
    assert svc.parse_deadline("11-01 09:00", clock).year == now.year + 1  # without a year: the next such day
    for bad, key in (("tomorrow", "task.bad_deadline"), ("2026-02-30 10:00", "task.bad_deadline"),
                     ("2026-11-23 16:59", "task.deadline_past")):
        with pytest.raises(DomainError) as err:
            svc.parse_deadline(bad, clock)
        assert err.value.key == key


async def test_work_1_branch_target_takes_a_general_branch_with_its_branches(store, settings):
    org, actor = await setup(store, settings)
    branches = {b.name: b.id for b in await store.org_branches(org)}
    target = await svc.make_target(store, actor, org, "branches", [branches["总支"]])
    assert (await svc.reach(store, actor, target)).users == 2  # 总支 and its 支部
    assert (await store.target_reach(target)).members == 3
    with pytest.raises(DomainError) as foreign:  # a branch of another organisation (or none): said by name
        await svc.make_target(store, actor, org, "branches", [branches["总支"], 9999])
    assert foreign.value.key == "task.branch_unavailable"
    with pytest.raises(DomainError) as err:
        await svc.make_target(store, actor, org, "branches", [])
    assert err.value.key == "task.no_branch_chosen"


async def test_work_1_reminders_five_minutes_apart_and_not_after_withdrawal(store, settings, clock):
    org, actor = await setup(store, settings)
    sent = await svc.send_task(store, clock, actor, await svc.make_target(store, actor, org, "org"), "任务",
                               needs_confirm=True, deadline=clock.now() + timedelta(hours=3))
    assert len(sent.recipients) == 3
    assert await store.due_row("task_remind", f"task:{sent.task.id}") is not None  # now + 1 h
    first = await svc.remind_pending(store, clock, actor, sent.task.id)
    assert first.number == 1 and len(first.recipients) == 3
    clock.advance(minutes=4, seconds=59)
    with pytest.raises(DomainError) as err:
        await svc.remind_pending(store, clock, actor, sent.task.id)
    assert err.value.key == "task.remind_wait" and err.value.params == {"minutes": 1}
    clock.advance(seconds=1)
    assert (await svc.remind_pending(store, clock, actor, sent.task.id)).number == 2
    await svc.withdraw(store, clock, actor, sent.task.id)
    assert await svc.due_reminder(store, sent.task.id, clock.now()) is None
    with pytest.raises(DomainError):
        await svc.withdraw(store, clock, actor, sent.task.id)


@pytest.mark.loose_pushes  # pushes as the sender finds them
async def test_work_1_unreachable_is_the_last_finished_push(store, settings, clock):
    await setup(store, settings)
    ids = [300000, 300001, 300002]
    await store.enqueue_pushes([{"chat_id": uid, "payload": {"text": "x"}, "dedupe_key": f"t{uid}"} for uid in ids],
                               clock.now().isoformat())
    pushes = {p.chat_id: p.id for p in await store.due_pushes(clock.now().isoformat())}
    await store.mark_push_final(pushes[300000], "unreachable", "Forbidden: bot was blocked by the user")
    await store.mark_push_final(pushes[300001], "unreachable", "Forbidden: bot was blocked by the user")
    await store.mark_push_sent(pushes[300002], 1, clock.now().isoformat())
    # 300001 wrote to the bot again and a later push went through: reachable again
    await store.enqueue_pushes([{"chat_id": 300001, "payload": {"text": "y"}, "dedupe_key": "later"}],
                               clock.now().isoformat())
    [later] = await store.due_pushes(clock.now().isoformat())
    await store.mark_push_sent(later.id, 2, clock.now().isoformat())
    assert await svc.unreachable_user_ids(store, ids) == {300000}


async def test_sec_4_other_admins_cannot_send_or_view(store, settings, clock):
    org, actor = await setup(store, settings)
    other = await actor_of(store, settings, OTHER)
    with pytest.raises(NotAllowed):
        await svc.make_target(store, other, org, "org")
    sent = await svc.send_task(store, clock, actor, await svc.make_target(store, actor, org, "org"), "任务")
    for call in (svc.task_view(store, other, sent.task.id), svc.withdraw(store, clock, other, sent.task.id),
                 svc.confirm(store, clock, other, sent.task.id)):
        with pytest.raises(NotAllowed):
            await call

"""An organisation with an admin, members and a bank, and exams made through the service (LEARN-6 tests)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.repositories.exams import ExamSettings
from bot.services import exams
from bot.services.roles import Actor
from bot.store import Store
from tests.support.factories import make_member, make_org, make_user
from tests.support.quiz_factories import make_bank


@dataclass
class ExamWorld:
    org_id: int
    admin: Actor
    member: Actor
    outsider: Actor
    bank: dict[int, str]


async def actor(store: Store, user_id: int, admin_of: frozenset[int] = frozenset()) -> Actor:
    user = await store.get_user(user_id)
    assert user is not None
    return Actor(user=user, admin_org_ids=admin_of, main_admin_org_ids=admin_of)


async def exam_world(store: Store, admin_id: int = 510001, member_id: int = 510002, outsider_id: int = 510003,
                     questions: int = 4) -> ExamWorld:
    await make_user(store, admin_id, "李管理", verified=True)
    phone = await make_user(store, member_id, "王芳")
    await make_user(store, outsider_id, "外人")
    org = await make_org(store, "中共某村支部委员会", admin_id, certified=True)
    await make_member(store, org, "王芳", phone, activated=True)
    bank = await make_bank(store, questions, org_id=org)
    return ExamWorld(org, await actor(store, admin_id, frozenset({org})), await actor(store, member_id),
                     await actor(store, outsider_id), bank)


def settings(clock: Clock, *, title: str = "党史专题考试", minutes: int = 10, policy: str = "reset", pass_mark: int = 3,
             attempts: int | None = None, points: int = 5, grace: int = 120, window_hours: int = 24,
             opens_in: float = -1) -> ExamSettings:
    now = clock.now()
    opens = now + timedelta(minutes=opens_in)
    return ExamSettings(title, minutes * 60, opens, opens + timedelta(hours=window_hours), pass_mark, attempts,
                        points, policy, grace)


async def published_exam(store: Store, clock: Clock, world: ExamWorld, **kw) -> int:
    exam_id = await exams.create(store, clock, world.admin, world.org_id, settings(clock, **kw), list(world.bank))
    await exams.publish(store, clock, world.admin, exam_id, None, lambda exam, people: [])
    return exam_id


def at(clock: Clock) -> datetime:
    return clock.now()

"""Demo people and data for `xuexi-bot sandbox --demo`.

The sandbox simulates four Telegram users (DEMO_USERS). On the bot's side the demo seeds, through
the same services a person would use (never raw SQL):
- 100001 张伟: registered, verified, main admin of the certified root organisation 金水区委宣传部
  with a 党总支, a 党支部 under it and 30 members (李娜 and 王芳 among them, by phone);
- 100002 李娜: registered, so her member record is activated;
- an open special exam (专题考试, LEARN-6) of the demo organisation, drawn from the demo bank;
- 100005 平台运营: registered; the sandbox makes them the operator (OPERATOR_IDS) unless one is
  configured, so certifying roots and the global question bank can be tried;
- 100003 Wang Fang and 100004 赵磊: left unregistered, to try registration (Wang Fang's phone is
  listed, so she is activated as soon as she registers; 赵磊 can join by an invite link).
Running it again adds nothing.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot.errors import DomainError
from bot.middlewares import load_actor
from bot.models import Org, User
from bot.render.excel import RawRow
from bot.repositories.tasks import Target
from bot.sandbox.demo_reports import seed_report_history
from bot.services import activities, member_import, orgs, registration, tasks, verification
from bot.services.idcard import check_digit
from bot.services.transactions import atomic
from bot.services.users import visitor
from bot.store import Conflict, Store
from bot.ui.tasks import notice_pushes

log = logging.getLogger(__name__)

DEMO_USERS: list[dict[str, Any]] = [
    {"id": 100001, "first_name": "张", "last_name": "伟", "username": "zhangwei", "language_code": "zh",
     "phone": "+8613800000001"},
    {"id": 100002, "first_name": "李", "last_name": "娜", "username": "lina", "language_code": "zh",
     "phone": "+8613800000002"},
    {"id": 100003, "first_name": "Wang", "last_name": "Fang", "username": "wangfang", "language_code": "en",
     "phone": "+8613800000003"},
    {"id": 100004, "first_name": "赵", "last_name": "磊", "language_code": "zh", "phone": "+8613800000004"},
    {"id": 100005, "first_name": "平台", "last_name": "运营", "username": "operator", "language_code": "zh",
     "phone": "+8613800000005"},
]

ADMIN_ID, MEMBER_ID, OPERATOR_ID = 100001, 100002, 100005
DEMO_ORG = "金水区委宣传部"
DEMO_REGION = "河南省郑州市金水区"
GENERAL, BRANCH = "机关党总支", "第一党支部"  # a 党总支 and a 党支部 under it (ORG-3)
# A made-up but well-formed ID number (region 410105 金水区, born 1980-01-01): RNV-2 checks pass.
DEMO_ID_NUMBER = "41010519800101123" + check_digit("41010519800101123")

_NAMES = ["王建国", "刘洋", "陈静", "杨帆", "黄磊", "赵敏", "周杰", "吴婷", "徐强", "孙丽",
          "胡斌", "朱琳", "高峰", "林芳", "何伟", "郭敏", "马超", "罗娟", "梁涛", "宋佳",
          "郑凯", "谢红", "韩冰", "唐亮", "冯雪", "于洋", "董梅", "萧然"]


DEMO_TASK = "请各位党员本周内学习《中国共产党章程》总纲部分，学完后点“确认收到”。"
DEMO_ACTIVITY = "本周主题党课：学习党章总纲"


def demo_members() -> list[RawRow]:
    """30 rows of the import template: 李娜 and 王芳 carry the demo users' phones (FAQ 18)."""
    rows = [("李娜", "13800000002", GENERAL), ("王芳", "13800000003", BRANCH)]
    rows += [(name, f"139371{n:05d}", GENERAL if n % 2 else BRANCH) for n, name in enumerate(_NAMES, 1)]
    return [RawRow(n, name, phone, branch, "") for n, (name, phone, branch) in enumerate(rows, 2)]


async def seed_demo_data(app: Any) -> None:
    """Seeds the bot's database for the demo (idempotent), then the demo question bank. A database whose
    people clash with the demo's (a phone or ID number bound to another account) keeps what it has: the
    sandbox still starts."""
    try:
        await _seed(app)
    except DomainError as exc:
        log.warning("demo data not seeded: %s %s", exc.key, exc.params)
    await _questions(app.store, app.clock)
    await _exam(app)


async def _seed(app: Any) -> None:
    store, clock, settings = app.store, app.clock, app.settings
    admin = await _registered(store, clock, DEMO_USERS[0], "张伟")
    if not admin.verified:
        await verification.verify(store, clock, settings.secret_key, admin.id, "张伟", DEMO_ID_NUMBER)
        admin = await store.get_user(admin.id)
    actor = await load_actor(store, settings, admin)
    org = await _demo_org(store, clock, actor)
    actor = await load_actor(store, settings, admin)
    await _certify(store, clock, settings, org)
    await _branches(store, clock, actor, org.id)
    total, _activated = await store.member_counts(org.id)
    if total == 0:
        result = await member_import.import_parsed(store, clock, actor, org.id, demo_members())
        if result.rejected:  # our own rows: a bug, not a person's mistake
            raise ValueError(f"demo member row {result.rejected[0][0].row_number}: {result.rejected[0][1].code}")
    await _registered(store, clock, DEMO_USERS[1], "李娜")
    await _registered(store, clock, DEMO_USERS[4], "平台运营")
    await _work(app, await load_actor(store, settings, admin), org.id)
    await seed_report_history(store, clock, org.id)  # a three-level tree with 90 days of history (REP)


async def _work(app: Any, actor: Any, org_id: int) -> None:
    """A task notice to the organisation (李娜 gets it, with a confirm button) and an activity open for
    check-in this week (code word on its /activity card), unless the demo has some already (WORK-1, 2)."""
    store, clock = app.store, app.clock
    if not await store.org_tasks([org_id], limit=1):
        outbox = getattr(app, "outbox", None)
        async with atomic(store):  # the task and its notices together
            sent = await tasks.send_task(store, clock, actor, Target("org", org_id), DEMO_TASK, needs_confirm=True,
                                         deadline=clock.now() + timedelta(days=3))
            if outbox is not None:
                await outbox.enqueue(*notice_pushes(app.i18n, clock, sent))
    if not await store.org_activities([org_id], limit=1):
        now = clock.now()
        await activities.create(store, clock, actor, Target("subtree", org_id), "class", DEMO_ACTIVITY,
                                now - timedelta(hours=1), now + timedelta(days=6), 3)


async def _registered(store: Store, clock: Any, demo: dict[str, Any], name: str) -> User:
    user = await store.get_user(demo["id"])
    if user is None or not user.registered:
        fresh = visitor(demo["id"], demo["first_name"], demo.get("last_name"), demo.get("username"),
                        demo.get("language_code"))
        await registration.complete(store, clock, fresh, demo["phone"], name, None)
        user = await store.get_user(demo["id"])
    assert user is not None  # registration.complete wrote the row
    return user


async def _demo_org(store: Store, clock: Any, actor: Any) -> Org:
    for org in await store.orgs_by_ids(actor.main_admin_org_ids):
        if org.name == DEMO_ORG:
            return org
    return await orgs.create_org(store, clock, actor, "party", DEMO_ORG, DEMO_REGION)


async def _certify(store: Store, clock: Any, settings: Any, org: Org) -> None:
    """CERT-7 is the operator's: the first configured operator certifies the demo root (or, with
    none configured, the record names the demo admin)."""
    if org.certified:
        return
    operator = min(settings.operator_ids, default=ADMIN_ID)
    try:
        await store.certify_root(org.id, operator, clock.now().isoformat())
    except Conflict as exc:  # e.g. another certified root of that name: the demo stays uncertified
        log.warning("demo organisation left uncertified: %s", exc.what)


async def _branches(store: Store, clock: Any, actor: Any, org_id: int) -> None:
    _org, items = await orgs.branches(store, actor, org_id)
    names = {b.name: b.id for b in items}
    if GENERAL not in names:
        names[GENERAL] = (await orgs.add_branch(store, clock, actor, org_id, "general", GENERAL)).id
    if BRANCH not in names:
        await orgs.add_branch(store, clock, actor, org_id, "branch", BRANCH, parent_id=names[GENERAL])


async def _questions(store: Store, clock: Any) -> None:
    from bot.services.questions import load_demo_questions

    try:
        added = await load_demo_questions(store, clock)
    except DomainError:
        log.warning("demo questions not loaded", exc_info=True)
        return
    log.info("demo questions added: %s", added)


DEMO_EXAM = "党的二十大精神专题考试"


async def _exam(app: Any) -> None:
    """One open exam in the demo organisation (once), so a newcomer sees it in /exams."""
    from datetime import timedelta

    from bot.repositories.exams import ExamSettings
    from bot.services import exams

    store, clock, settings = app.store, app.clock, app.settings
    admin = await store.get_user(ADMIN_ID)
    if admin is None or not admin.verified:
        return
    actor = await load_actor(store, settings, admin)
    org = next((o for o in await store.orgs_by_ids(actor.main_admin_org_ids) if o.name == DEMO_ORG), None)
    if org is None or await store.exams_of_orgs([org.id]):
        return
    try:
        ids = await exams.draw(store, actor, org.id, 5, None)
        now = clock.now()
        exam_settings = ExamSettings(DEMO_EXAM, 10 * 60, now - timedelta(minutes=1), now + timedelta(days=30), 3,
                                     None, 5, "reset", 0)
        exam_id = await exams.create(store, clock, actor, org.id, exam_settings, ids)
        await exams.publish(store, clock, actor, exam_id, None, lambda exam, people: [])
    except DomainError:
        log.warning("demo exam not created", exc_info=True)

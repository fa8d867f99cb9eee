"""90 days of history for the demo's organisation tree, so a newcomer's /orgreport shows real trends.

Three levels under the demo root 金水区委宣传部: two certified street organisations and a community
organisation under the first, each with its own admin (registered demo people without a Telegram
chat), branches and members, about three quarters of them registered. Members were listed over the
past months (their membership history is dated back), and the registered ones earned points most
days through the ledger (daily login and daily quiz, a weekly quiz on Mondays), more on weekdays and
a little more as weeks go by. Then the 90 days are counted (REP-1). Seeded by the same store calls
as the bot's own writes, with past dates; deterministic (a fixed random seed); run once.
"""
from __future__ import annotations

import asyncio
import hashlib
import random
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.models import User
from bot.repositories.reports import SettingsRow
from bot.services import registration, reports
from bot.services.users import visitor
from bot.store import Store

__all__ = ["seed_report_history", "LOWER_ORGS"]

DAYS = 90
# (name, upper: None = the demo root, branches, members)
LOWER_ORGS = [
    ("经三路街道学习组织", None, ["机关支部", "社区支部"], 24),
    ("丰产路街道学习组织", None, ["第一支部", "第二支部"], 18),
    ("经三路社区学习组织", "经三路街道学习组织", ["党员之家支部"], 14),
]
_SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩凯健"
FIRST_USER = 100200
ADMIN_USERS = 100100
ROOT_ADMIN = 100001  # 张伟, the demo's root admin


def _name(rnd: random.Random) -> str:
    return rnd.choice(_SURNAMES) + "".join(rnd.choice(_GIVEN) for _ in range(rnd.choice((1, 2))))


async def _person(store: Store, clock: Any, user_id: int, name: str, phone: str, registered: date) -> User:
    user = await store.get_user(user_id)
    if user is None or not user.registered:
        await registration.complete(store, clock, visitor(user_id, name, None, None, "zh"), phone, name, None)
    async with store.raw_tx() as db:  # registered back then, not today (REP-1 "new" counts that day)
        await db.execute("UPDATE users SET registered_at = ? WHERE id = ?",
                         (datetime.combine(registered, time(9), tzinfo=clock.tz).isoformat(), user_id))
    found = await store.get_user(user_id)
    assert found is not None
    return found


async def _lower_org(store: Store, clock: Any, admin_id: int, name: str, upper_id: int, founded: date) -> int:
    """Created by its own admin (ORG-8), then certified under the upper one (CERT-1..3)."""
    now = datetime.combine(founded, time(10), tzinfo=clock.tz).isoformat()
    org_id = await store.create_org(admin_id, "party", name, "河南省郑州市金水区", now)
    upper_admin = next(a.user_id for a in await store.org_admin_rows(upper_id))
    token = hashlib.sha256(f"demo-cert:{name}".encode()).hexdigest()
    invite = await store.create_cert_invite(upper_id, token, None, None, upper_admin, now, "2099-01-01T00:00:00+00:00")
    app_id = await store.apply_for_certification(invite, upper_id, org_id, admin_id, now)
    await store.decide_cert_application(app_id, True, upper_admin, None, now)
    return org_id


async def seed_report_history(store: Store, clock: Any, root_id: int) -> bool:
    """Seeds once (False when the tree is there already)."""
    existing = {o.name for o in await store.lower_orgs(root_id)}
    if LOWER_ORGS[0][0] in existing:
        return False
    rnd = random.Random(20261126)
    today = clock.today()
    start = today - timedelta(days=DAYS + 10)
    ids: dict[str | None, int] = {None: root_id}
    people: list[tuple[int, date, float]] = []  # (user id, listed since, diligence)
    for n, (name, upper, branches, size) in enumerate(LOWER_ORGS):
        admin = await _person(store, clock, ADMIN_USERS + n, _name(rnd), f"+86137100{n:05d}", start)
        org_id = await _lower_org(store, clock, admin.id, name, ids[upper], start)
        ids[name] = org_id
        now = datetime.combine(start, time(10), tzinfo=clock.tz).isoformat()
        branch_ids = [await store.add_branch(admin.id, org_id, None, "branch", b, now) for b in branches]
        for i in range(size):
            uid = FIRST_USER + n * 100 + i
            phone = f"+86137{n + 2:02d}{i:06d}"
            # most were listed before the 90 days, the rest joined along the way (a growing organisation)
            joined = start if rnd.random() < 0.6 else today - timedelta(days=rnd.randint(1, DAYS))
            listed = datetime.combine(joined, time(11), tzinfo=clock.tz).isoformat()
            person_name = _name(rnd)
            if rnd.random() < 0.78:  # registered: activated, earns points
                registered = joined + timedelta(days=rnd.choice((0, 0, 1, 3, 7)))
                if registered < today:
                    await _person(store, clock, uid, person_name, phone, registered)
                    people.append((uid, registered, rnd.uniform(0.35, 0.95)))
            await store.add_member(admin.id, org_id, person_name, phone, branch_ids[i % len(branch_ids)], listed)
    await _backdate_root(store, root_id, start)
    await store.save_report_settings(SettingsRow(root_id, False, "08:00", "chart", 6, 3, (ROOT_ADMIN,)),
                                     clock.now().isoformat())  # a daily target of 6 points (REP-7)
    await _points(store, clock, people, rnd, today)
    for i in range(DAYS, 0, -1):  # REP-1: the 90 days counted, replacing anything counted before the seed
        await store.snapshot_day((today - timedelta(days=i)).isoformat(), clock.now().isoformat())
    await reports.catch_up(store, clock)
    return True


async def _backdate_root(store: Store, root_id: int, start: date) -> None:
    """The demo root's own members were imported when the sandbox first started: as if long ago."""
    async with store.raw_tx() as db:
        await db.execute("UPDATE member_history SET start_day = ? WHERE org_id = ? AND start_day > ?",
                         (start.isoformat(), root_id, start.isoformat()))
        await db.execute("UPDATE users SET registered_at = ? WHERE id IN (100001, 100002, 100005) "
                         "AND registered_at > ?", (f"{start.isoformat()}T09:00:00+08:00", start.isoformat()))


async def _points(store: Store, clock: Any, people: list[tuple[int, date, float]], rnd: random.Random,
                  today: date) -> None:
    """Daily login and quiz points, a weekly quiz on Mondays: through the ledger, idempotent keys."""
    awards: list[tuple[int, str, str, int]] = []
    for uid, since, diligence in people:
        for back in range(DAYS, -1, -1):
            day = today - timedelta(days=back)
            if day < since:
                continue
            weekday = day.weekday() < 5
            growth = 0.15 * (DAYS - back) / DAYS  # learning picks up over the quarter
            if rnd.random() < diligence * (1.0 if weekday else 0.6) + growth - 0.1:
                awards.append((uid, "login", day.isoformat(), 1))
                awards.append((uid, "daily", day.isoformat(), rnd.choice((2, 3, 4, 5, 5))))
                if day.weekday() == 0 and rnd.random() < diligence:
                    awards.append((uid, "weekly", day.isoformat(), rnd.choice((3, 4, 5))))
    now = clock.now().isoformat()
    for chunk in range(0, len(awards), 400):  # side by side: the store commits each group together
        await asyncio.gather(*(
            store.award_points(uid, source, day, amount, cap=None, best_of_day=False, ref="demo", reason=None,
                               idem_key=f"demo:{source}:{uid}:{day}", now=now)
            for uid, source, day, amount in awards[chunk:chunk + 400]))

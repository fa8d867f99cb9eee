"""The points ledger's rules (LEARN-7): caps, best-of-day, idempotency, adjustments with audit."""
from __future__ import annotations

import asyncio

import pytest

from bot.errors import DomainError, NotAllowed
from bot.services import points
from bot.services.roles import Actor
from tests.support.factories import make_member, make_org, make_user

USER, ADMIN = 300001, 300002


async def ledger(store, user_id=USER):
    return [tuple(r) for r in await store._all(
        "SELECT source, amount, day, ref FROM points WHERE user_id = ? ORDER BY id", (user_id,))]


async def test_learn_7_daily_quiz_is_capped_at_five_a_day(store, clock):
    await make_user(store, USER)
    assert await points.award(store, clock, USER, points.DAILY, 4, ref="attempt:1", idem_key="1") == 4
    assert await points.award(store, clock, USER, points.DAILY, 4, ref="attempt:2", idem_key="2") == 1
    assert await points.award(store, clock, USER, points.DAILY, 3, ref="attempt:3", idem_key="3") == 0
    assert await store.points_on(USER, clock.today().isoformat()) == {"daily": 5}
    clock.advance(days=1)
    assert await points.award(store, clock, USER, points.DAILY, 3, ref="attempt:4", idem_key="4") == 3
    assert await store.points_total(USER) == 8
    assert len(await ledger(store)) == 3  # a capped round writes no zero row


async def test_learn_7_the_same_key_never_pays_twice(store, clock):
    await make_user(store, USER)
    results = await asyncio.gather(*(points.award(store, clock, USER, points.WEEKLY, 5, ref="attempt:9",
                                                  idem_key="9") for _ in range(5)))
    assert sorted(results) == [0, 0, 0, 0, 5]
    assert await ledger(store) == [("weekly", 5, clock.today().isoformat(), "attempt:9")]


async def test_learn_7_challenge_pays_the_best_streak_of_the_day(store, clock):
    await make_user(store, USER)
    assert points.challenge_points(4) == 0 and points.challenge_points(5) == 3
    assert points.challenge_points(9) == 3 and points.challenge_points(10) == 6 and points.challenge_points(30) == 6
    assert await points.award(store, clock, USER, points.CHALLENGE, points.challenge_points(5), ref="c1",
                              idem_key="c1") == 3
    assert await points.award(store, clock, USER, points.CHALLENGE, points.challenge_points(6), ref="c2",
                              idem_key="c2") == 0
    assert await points.award(store, clock, USER, points.CHALLENGE, points.challenge_points(12), ref="c3",
                              idem_key="c3") == 3
    assert await store.points_on(USER, clock.today().isoformat()) == {"challenge": 6}


async def test_learn_7_daily_login_once_a_day(store, clock):
    await make_user(store, USER)
    assert await points.daily_login(store, clock, USER) == 1
    assert await points.daily_login(store, clock, USER) == 0
    clock.advance(days=1)
    assert await points.daily_login(store, clock, USER) == 1
    assert [r[0] for r in await ledger(store)] == ["login", "login"]


async def test_learn_7_daily_login_is_paid_by_the_first_update_of_the_day(client_factory, store, clock):
    await make_user(store, USER)
    c = client_factory(USER)
    await c.send("/help")
    await c.send("/help")
    assert await ledger(store) == [("login", 1, clock.today().isoformat(), clock.today().isoformat())]


async def admin_setup(store):
    await make_user(store, ADMIN, "管理员", verified=True)
    phone = await make_user(store, USER, "学员")
    org = await make_org(store, "金水区委宣传部", ADMIN)
    await make_member(store, org, "学员", phone, activated=True)
    return org, Actor(user=await store.get_user(ADMIN), admin_org_ids=frozenset({org}),
                      main_admin_org_ids=frozenset({org}))


async def test_learn_7_admin_adjustment_needs_a_reason_and_is_audited(store, clock):
    org, admin = await admin_setup(store)
    with pytest.raises(DomainError) as err:
        await points.adjust(store, clock, admin, org, USER, 3, "  ", idem_key="a1")
    assert err.value.key == "points.reason_required"
    with pytest.raises(DomainError) as err:
        await points.adjust(store, clock, admin, org, USER, 0, "x", idem_key="a1")
    assert err.value.key == "points.bad_amount"
    assert await points.adjust(store, clock, admin, org, USER, 3, "党课补录", idem_key="a1") == 3
    assert await points.adjust(store, clock, admin, org, USER, 3, "党课补录", idem_key="a1") == 0
    assert await points.adjust(store, clock, admin, org, USER, -2, "违规答题", idem_key="a2") == -2
    assert [(s, a) for s, a, _, _ in await ledger(store)] == [("adjust", 3), ("penalty", -2)]
    audit = await store._all("SELECT actor_id, org_id, action, target FROM audit_log ORDER BY id")
    assert [tuple(r) for r in audit] == [(ADMIN, org, "points.adjust", str(USER)),
                                          (ADMIN, org, "points.penalty", str(USER))]


async def test_learn_7_adjustment_only_by_an_admin_of_the_members_organisation(store, clock):
    org, admin = await admin_setup(store)
    other = await make_org(store, "别的组织", ADMIN)
    outsider = Actor(user=await store.get_user(USER))
    with pytest.raises(NotAllowed):
        await points.adjust(store, clock, outsider, org, USER, 3, "x", idem_key="b1")
    admin_of_both = Actor(user=admin.user, admin_org_ids=frozenset({org, other}))
    with pytest.raises(DomainError) as err:
        await points.adjust(store, clock, admin_of_both, other, USER, 3, "x", idem_key="b2")
    assert err.value.key == "points.not_member"
    assert await ledger(store) == []

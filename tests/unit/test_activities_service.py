"""WORK-2 and LEARN-7 rules without the dispatcher: windows, points, code words, the adjustment format,
check-in pays once even when retried."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.errors import DomainError
from bot.middlewares import load_actor
from bot.repositories.tasks import Target
from bot.services import activities as svc
from tests.support.factories import make_member, make_org, make_user
from tests.support.sql import store_rows

ADMIN, ALICE = 100001, 200001


def test_work_2_parse_window(clock):
    start, end = svc.parse_window("2026-11-23 16:00-18:30", clock)
    assert (start, end) == (datetime(2026, 11, 23, 16, tzinfo=clock.tz), datetime(2026, 11, 23, 18, 30, tzinfo=clock.tz))
    _, end = svc.parse_window("2026-11-23 16:00 - 2026-11-24 12:00", clock)
    assert end == datetime(2026, 11, 24, 12, tzinfo=clock.tz)
    for bad, key in (("today", "activity.bad_window"), ("2026-11-23 18:00-16:00", "activity.window_order"),
                     ("2026-11-23 16:00 - 2026-12-23 16:00", "activity.window_long"),
                     ("2026-11-22 10:00-12:00", "activity.window_past")):
        with pytest.raises(DomainError) as err:
            svc.parse_window(bad, clock)
        assert err.value.key == key


def test_learn_7_parse_adjustment():
    assert svc.parse_adjustment("+5 志愿服务") == (5, "志愿服务")
    assert svc.parse_adjustment("－3 迟到早退") == (-3, "迟到早退")
    assert svc.parse_adjustment("2 表现突出") == (2, "表现突出")
    for bad, key in (("五分", "activity.bad_adjustment"), ("+5", "points.reason_required"),
                     ("0 无", "points.bad_amount"), ("+5000 多", "points.bad_amount")):
        with pytest.raises(DomainError) as err:
            svc.parse_adjustment(bad)
        assert err.value.key == key


def test_work_2_code_words_are_unambiguous():
    words = {svc.new_code_word() for _ in range(200)}
    assert all(len(w) == 6 and not set(w) & set("01OIL") for w in words)


async def test_work_2_check_in_retried_pays_once(store, settings, clock):
    await make_user(store, ADMIN, "管理", verified=True)
    org = await make_org(store, "某组织", ADMIN, certified=True)
    await make_member(store, org, "艾丽", await make_user(store, ALICE, "艾丽"), activated=True)
    admin = await load_actor(store, settings, await store.get_user(ADMIN))
    alice = await load_actor(store, settings, await store.get_user(ALICE))
    a = await svc.create(store, clock, admin, Target("org", org), "class", "党课", clock.now() - timedelta(hours=1),
                         clock.now() + timedelta(hours=1), 4)
    done = await svc.check_in_by_code(store, clock, alice, a.code_word)
    assert done.first and done.paid == 4
    again = await svc.check_in_by_token(store, clock, alice, a.token)
    assert not again.first and again.paid == 0
    assert await store_rows(store, "SELECT amount, ref FROM points WHERE source = 'activity'") == [(4, f"activity:{a.id}")]

"""REP-1 figures on a hand-built tree, membership history and ledger: every figure of the daily snapshot,
each person counted once per subtree, peer-rank ties, a branch move mid-period, change rates with a zero
day before, and the catch-up of missed days."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bot.services import reports as svc
from bot.services.roles import Actor
from tests.conftest import TZ

D = "2026-11-20"
D1 = "2026-11-19"  # the day before
D2 = "2026-11-18"
T = "2026-11-01T09:00:00+08:00"

#   R (1)
#   ├── A (2) ── C (4)       A has branches a1 (10), a2 (11)
#   ├── B (3)
#   └── E (5)
TREE = {1: None, 2: 1, 3: 1, 4: 2, 5: 1}
# phone -> (user id, registered at)
USERS = {"p1": (101, T), "p2": (102, T), "p3": (103, T), "p5": (105, f"{D}T10:00:00+08:00"), "p6": (106, T)}
# (org, branch, phone, start, end)
HISTORY = [
    (2, 10, "p1", "2026-11-01", None),   # p1 is listed in A ...
    (4, None, "p1", "2026-11-01", None),  # ... and in C, under A: counted once for A and for R
    (3, None, "p2", "2026-11-01", None),
    (2, 10, "p3", "2026-11-01", D1),     # p3 moves from a1 to a2 on D1
    (2, 11, "p3", D1, None),
    (4, None, "p4", "2026-11-01", None),  # never registered: not activated
    (3, None, "p5", "2026-11-10", None),  # registers on D: new on D
    (5, None, "p6", "2026-11-01", None),
    (5, None, "p7", "2026-11-01", D1),   # removed on D1: gone at the end of D1 already
]
POINTS = {(101, D): 10, (102, D): 5, (105, D): 3, (106, D): 4, (101, D1): 0, (102, D2): 2, (103, D2): 6}


@pytest.fixture
async def tree(store):
    async with store.raw_tx() as db:
        for phone, (uid, reg) in USERS.items():
            await db.execute("INSERT INTO users (id, phone, name, registered_at, created_at, updated_at) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (uid, phone, f"name-{phone}", reg, T, T))
        await db.execute("INSERT INTO users (id, name, created_at, updated_at) VALUES (1, 'admin', ?, ?)", (T, T))
        for org, parent in TREE.items():
            await db.execute("INSERT INTO orgs (id, name, parent_id, certified_at, created_by, created_at) "
                             "VALUES (?, ?, ?, ?, 1, ?)", (org, "RABCE"[org - 1], parent, T, T))
        for org in TREE:  # the closure table: every ancestor of every organisation, itself at depth 0
            depth, node = 0, org
            while node is not None:
                await db.execute("INSERT INTO org_tree VALUES (?, ?, ?)", (node, org, depth))
                node, depth = TREE[node], depth + 1
        await db.execute("INSERT INTO org_admins VALUES (1, 1, 'main', ?)", (T,))
        await db.execute("INSERT INTO org_admins VALUES (2, 1, 'main', ?)", (T,))
        for bid, name in ((10, "a1"), (11, "a2")):
            await db.execute("INSERT INTO branches (id, org_id, name, created_at) VALUES (?, 2, ?, ?)", (bid, name, T))
        for org, branch, phone, start, end in HISTORY:
            await db.execute("INSERT INTO member_history (org_id, branch_id, phone, start_day, end_day) "
                             "VALUES (?, ?, ?, ?, ?)", (org, branch, phone, start, end))
            if end is None:
                await db.execute("INSERT INTO members (org_id, branch_id, name, phone, created_at, updated_at) "
                                 "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                 (org, branch, f"name-{phone}", phone, T, T))
        for (uid, day), amount in POINTS.items():
            await db.execute("INSERT INTO points_daily VALUES (?, ?, ?)", (uid, day, amount))
    for day in (D2, D1, D):
        await store.snapshot_day(day, T)
    return store


async def figures(store, org_id, day):
    [f] = await store.org_days(org_id, day, day)
    return f


async def test_rep_1_every_figure_of_the_root(tree):
    f = await figures(tree, 1, D)
    # p1 (twice listed), p2, p3, p4, p5, p6; p7 left on D1
    assert (f.total, f.active, f.points, f.new, f.activated) == (6, 4, 22, 1, 5)
    assert f.per_capita == pytest.approx(22 / 6)
    assert f.participation == pytest.approx(4 / 6 * 100)
    assert f.peer_rank is None and f.reached is None  # a root has no peers; no target set


async def test_rep_1_member_in_two_organisations_of_one_subtree_is_counted_once(tree):
    a = await figures(tree, 2, D)  # A with C: p1 (in both), p3, p4
    assert (a.total, a.active, a.points, a.activated) == (3, 1, 10, 2)
    c = await figures(tree, 4, D)
    assert (c.total, c.active, c.points) == (2, 1, 10)


async def test_rep_1_new_is_activated_that_day(tree):
    b = await figures(tree, 3, D)
    assert (b.total, b.new, b.activated, b.active) == (2, 1, 2, 2)
    assert (await figures(tree, 3, D1)).new == 0  # p5 listed but not yet registered on D1
    assert (await figures(tree, 3, D1)).activated == 1


async def test_rep_1_peer_rank_ties_share_a_rank(tree):
    """B: 8 points / 2 = 4.0, E: 4 / 1 = 4.0, A: 10 / 3: B and E share rank 1, A is 3rd of 3."""
    ranks = {o: ((f := await figures(tree, o, D)).peer_rank, f.peers) for o in (2, 3, 5, 4)}
    assert ranks == {3: (1, 3), 5: (1, 3), 2: (3, 3), 4: (1, 1)}


async def test_rep_1_member_who_moved_branches_mid_period(tree):
    async def branches(day):
        _, rows = await tree.lower_table(2, day, "per_capita", 10, 0)
        return {r.name: (r.total, r.points) for r in rows if r.kind == "branch"}

    assert await branches(D2) == {"a1": (2, 6)}            # p1 and p3 in a1; p3 had 6 points
    assert await branches(D) == {"a1": (1, 10), "a2": (1, 0)}
    assert (await figures(tree, 2, D2)).total == (await figures(tree, 2, D)).total == 3  # the organisation: same


async def test_rep_1_removed_member_leaves_at_the_end_of_the_day_before(tree):
    assert (await figures(tree, 5, D2)).total == 2
    assert (await figures(tree, 5, D1)).total == 1


async def test_rep_7_target_share(tree):
    async with tree.raw_tx() as db:
        await db.execute("INSERT INTO report_settings (org_id, daily_target, updated_at) VALUES (1, 5, ?)", (T,))
    await tree.snapshot_day(D, T)
    f = await figures(tree, 1, D)
    assert f.reached == 2  # p1 (10) and p2 (5) reached 5; p5 (3), p6 (4) did not
    assert (await figures(tree, 3, D)).reached is None  # B has no target of its own


async def test_rep_7_a_person_listed_twice_in_a_subtree_reaches_its_target_once(tree):
    """p1 is listed in A and in C (under A): one person for A's target as for R's; C's own target
    counts p1 there too, and an organisation nobody reached has 0, not nothing."""
    async with tree.raw_tx() as db:
        for org, target in ((1, 5), (2, 8), (4, 10), (5, 9)):
            await db.execute("INSERT INTO report_settings (org_id, daily_target, updated_at) VALUES (?, ?, ?)",
                             (org, target, T))
    await tree.snapshot_day(D, T)
    assert {o: (await figures(tree, o, D)).reached for o in (1, 2, 4, 5)} == {1: 2, 2: 1, 4: 1, 5: 0}


async def test_rep_1_a_day_is_recomputed_from_history_and_ledger(tree):
    async with tree.raw_tx() as db:
        await db.execute("UPDATE points_daily SET amount = 1 WHERE user_id = 101 AND day = ?", (D,))
    await tree.snapshot_day(D, T)
    assert (await figures(tree, 1, D)).points == 13
    assert len(await tree.org_days(1, D, D)) == 1  # replaced, not added


def test_rep_1_change_rate():
    assert svc.change_rate(12, 10) == pytest.approx(20.0)
    assert svc.change_rate(5, 10) == pytest.approx(-50.0)
    assert svc.change_rate(3, 0) is None  # shown as "—"


async def test_rep_2_overview_with_a_zero_day_before(tree, clock):
    clock.set(datetime(2026, 11, 21, 9, 0, tzinfo=TZ))
    admin = Actor(user=await tree.get_user(1), admin_org_ids=frozenset({1, 2}))
    o = await svc.overview(tree, clock, admin, 1)
    assert o.day == date(2026, 11, 20) and o.today.points == 22 and o.before.points == 0
    assert o.rate("points") is None  # the day before had 0 points: "—"
    assert o.rate("total") == pytest.approx((6 - 6) / 6 * 100)


async def test_rep_1_catch_up_computes_only_missing_days(tree, clock):
    clock.set(datetime(2026, 11, 21, 0, 5, tzinfo=TZ))
    first = await svc.catch_up(tree, clock, days=10)
    assert first == [(date(2026, 11, 11) + timedelta(days=i)).isoformat() for i in range(7)]  # D2..D were done
    assert await svc.catch_up(tree, clock, days=10) == []
    async with tree.raw_tx() as db:
        await db.execute("DELETE FROM report_days WHERE day = ?", (D1,))
    assert await svc.catch_up(tree, clock, days=10) == [D1]

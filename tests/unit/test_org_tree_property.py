"""CERT-4, CERT-6, ORG-7: random sequences of certify (roots and applications, whole subtrees moving
under a new upper organisation), un-certify and dissolve keep the closure table equal to the tree
recomputed from parent links, and never make a cycle."""
from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.store import Conflict, Store
from tests.support.factories import make_user

NOW = "2026-11-23T09:00:00+08:00"
USER = 1
POOL = 4

op = st.one_of(
    st.tuples(st.just("root"), st.integers(0, POOL - 1)),
    st.tuples(st.just("certify"), st.integers(0, POOL - 1), st.integers(0, POOL - 1)),
    st.tuples(st.just("reject"), st.integers(0, POOL - 1), st.integers(0, POOL - 1)),
    st.tuples(st.just("uncertify"), st.integers(0, POOL - 1)),
    st.tuples(st.just("dissolve"), st.integers(0, POOL - 1)),
    st.tuples(st.just("create"),),
)


async def expected_closure(store: Store) -> set[tuple[int, int, int]]:
    parents = {r[0]: r[1] for r in await store._all("SELECT id, parent_id FROM orgs")}
    closure = set()
    for org in parents:
        node, depth, seen = org, 0, set()
        while node is not None:
            assert node not in seen, f"cycle through {node}"
            seen.add(node)
            closure.add((node, org, depth))
            node, depth = parents[node], depth + 1
    return closure


async def check(store: Store) -> None:
    actual = {tuple(r) for r in await store._all("SELECT ancestor_id, descendant_id, depth FROM org_tree")}
    assert actual == await expected_closure(store)
    for org_id, parent_id, certified_at in await store._all("SELECT id, parent_id, certified_at FROM orgs"):
        if certified_at is None:  # an uncertified organisation has no upper and no lower ones
            assert parent_id is None
            assert not await store._all("SELECT 1 FROM orgs WHERE parent_id = ?", (org_id,))
        if parent_id is not None:
            (upper_certified,) = await store._one("SELECT certified_at FROM orgs WHERE id = ?", (parent_id,))
            assert upper_certified is not None


async def run(ops: list[tuple]) -> None:
    store = await Store.open(":memory:")
    try:
        await make_user(store, USER)
        ids = [await store.create_org(USER, "party", f"组织{i}", "某省某市", NOW) for i in range(POOL)]
        for step in ops:
            await apply_op(store, ids, step)
            await check(store)
    finally:
        await store.close()


async def apply_op(store: Store, ids: list[int], step: tuple) -> None:
    kind, *args = step
    pick = [ids[a % len(ids)] for a in args] if ids else []
    try:
        if kind == "create":
            ids.append(await store.create_org(USER, "party", f"组织{len(ids)}", "某省某市", NOW))
        elif not ids:
            return
        elif kind == "root":
            await store.certify_root(pick[0], USER, NOW)
        elif kind in ("certify", "reject"):
            lower, upper = pick
            app_id = await store.apply_for_certification(None, upper, lower, USER, NOW)
            assert await store.decide_cert_application(app_id, kind == "certify", USER, "理由", NOW)
        elif kind == "uncertify":
            await store.uncertify_org(pick[0], USER, NOW)
        elif kind == "dissolve":
            await store.dissolve_org(USER, pick[0], NOW)
            ids.remove(pick[0])
    except Conflict:
        pass  # a refused step must leave everything as it was; check() looks


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=40))
def test_cert_4_random_certify_uncertify_dissolve_keep_closure_and_no_cycles(ops):
    asyncio.run(run(ops))


def test_cert_4_moving_a_certified_root_with_its_subtree_under_another_root():
    """The closure rows of a whole subtree follow it under its new upper organisation's ancestors."""
    async def scenario() -> None:
        store = await Store.open(":memory:")
        try:
            await make_user(store, USER)
            a, b, c, d = [await store.create_org(USER, "party", n, "某省某市", NOW) for n in "ABCD"]
            for root in (a, d):
                await store.certify_root(root, USER, NOW)
            for lower, upper in ((b, a), (c, b)):
                app = await store.apply_for_certification(None, upper, lower, USER, NOW)
                await store.decide_cert_application(app, True, USER, None, NOW)
            app = await store.apply_for_certification(None, d, a, USER, NOW)  # root A with B, C under D
            await store.decide_cert_application(app, True, USER, None, NOW)
            await check(store)
            assert sorted(await store.subtree_ids(d)) == sorted([a, b, c, d])
            assert tuple(await store._one("SELECT depth FROM org_tree WHERE ancestor_id = ? AND descendant_id = ?",
                                          (d, c))) == (3,)
            try:
                await store.apply_for_certification(None, c, d, USER, NOW)  # D under its descendant C
            except Conflict as exc:
                assert exc.what == "cycle"
            else:
                raise AssertionError("a cycle was accepted")
        finally:
            await store.close()

    asyncio.run(scenario())

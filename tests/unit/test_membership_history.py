"""REP-1's membership history is written in the same transaction as each member write: add, edit of the
phone, move, remove, import, join by invite, dissolve; the migration backfills existing members."""
from __future__ import annotations

from tests.support.factories import make_org, make_user
from tests.support.sql import store_rows

ADMIN = 520001
D1, D2, D3 = "2026-11-20T10:00:00+08:00", "2026-11-21T10:00:00+08:00", "2026-11-22T10:00:00+08:00"


async def history(store):
    return await store_rows(store, "SELECT org_id, branch_id, phone, start_day, end_day FROM member_history "
                                   "ORDER BY id")


async def test_rep_1_add_move_phone_change_remove(store):
    await make_user(store, ADMIN, verified=True)
    org = await make_org(store, "组织", ADMIN, branches=["一支部", "二支部"])
    b1, b2 = [b.id for b in await store.org_branches(org)][:2]
    member = await store.add_member(ADMIN, org, "王芳", "+8613900000001", b1, D1)
    await store.update_member(ADMIN, org, member, D2, branch_id=b2)
    await store.update_member(ADMIN, org, member, D3, phone="+8613900000002")
    assert await history(store) == [
        (org, b1, "+8613900000001", "2026-11-20", "2026-11-21"),
        (org, b2, "+8613900000001", "2026-11-21", "2026-11-22"),
        (org, b2, "+8613900000002", "2026-11-22", None)]
    await store.remove_member(ADMIN, org, member, "2026-11-23T08:00:00+08:00")
    assert (await history(store))[-1][-1] == "2026-11-23"


async def test_rep_1_import_and_dissolve(store):
    await make_user(store, ADMIN, verified=True)
    org = await make_org(store, "组织", ADMIN, branches=["一支部"])
    added, _, _ = await store.import_members(ADMIN, org, [("甲", "+8613900000011", "一支部", ""),
                                                          ("乙", "+8613900000012", "一支部", "")], [], D1)
    assert added == 2 and [r[2:] for r in await history(store)] == [
        ("+8613900000011", "2026-11-20", None), ("+8613900000012", "2026-11-20", None)]
    await store.dissolve_org(ADMIN, org, D2)
    assert {r[-1] for r in await history(store)} == {"2026-11-21"}  # closed, kept for past days

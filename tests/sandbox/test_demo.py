"""`xuexi-bot sandbox --demo`: the seeded people and organisation, seeded once however often it runs."""
from __future__ import annotations

from types import SimpleNamespace

from bot.sandbox.demo import DEMO_ID_NUMBER, DEMO_ORG, demo_members, seed_demo_data
from bot.services.idcard import validate_id_number
from tests.support.pg import table_names


async def everything(store) -> dict[str, list[tuple]]:
    """Every row of every table, on either backend (in an order of their own: rows are compared as sets)."""
    return {t: sorted((tuple(r) for r in await store._all(f"SELECT * FROM {t}")), key=repr)
            for t in await table_names(store)}


async def test_demo_seeds_once_and_the_admin_sees_the_org(store, clock, settings, i18n, bot,
                                                          client_factory, sweep_menus):
    app = SimpleNamespace(store=store, clock=clock, settings=settings, i18n=i18n, bot=bot)
    await seed_demo_data(app)
    first = await everything(store)
    await seed_demo_data(app)
    assert await everything(store) == first, "running the demo twice adds nothing"

    users = {r[0]: r[1:] for r in await store._all(
        "SELECT id, name, phone, registered_at IS NOT NULL, verified_at IS NOT NULL FROM users WHERE id < 100100", ())}
    assert users == {100001: ("张伟", "+8613800000001", 1, 1), 100002: ("李娜", "+8613800000002", 1, 0),
                     100005: ("平台运营", "+8613800000005", 1, 0)}
    (org,) = [tuple(r) for r in await store._all(
        "SELECT id, name, certified_at IS NOT NULL, parent_id FROM orgs WHERE parent_id IS NULL", ())]
    assert org[1:] == (DEMO_ORG, 1, None)
    assert [tuple(r) for r in await store._all("SELECT user_id, role FROM org_admins WHERE org_id = ?", (org[0],))
            ] == [(100001, "main")]
    branches = [tuple(r) for r in await store._all(
        "SELECT b.name, b.kind, p.name FROM branches b LEFT JOIN branches p ON p.id = b.parent_id WHERE b.org_id = ? "
        "ORDER BY b.id", (org[0],))]
    assert branches == [("机关党总支", "general", None), ("第一党支部", "branch", "机关党总支")]
    members = {r[0]: r[1] for r in await store._all("SELECT phone, activated_at IS NOT NULL FROM members "
                                                    "WHERE org_id = ?", (org[0],))}
    assert len(members) == len(demo_members()) == 30
    assert members["+8613800000002"] == 1, "李娜 registered: activated (REG-5)"
    assert members["+8613800000003"] == 0, "王芳 (demo user 100003) is activated when she registers"
    assert sum(members.values()) == 1
    assert validate_id_number(DEMO_ID_NUMBER, clock.today()) == DEMO_ID_NUMBER
    # the demo admin's menu has the admin commands before they write (the sweep at start sets it)
    menus = {m.scope.chat_id: [b.command for b in m.commands] for m in await sweep_menus()}
    assert "members" in menus[100001] and "members" not in menus[100002]

    card = await client_factory(100001).send("/org")
    assert f"{DEMO_ORG} ✅ 已认证" in card.text and "成员：30 人（已激活 1 人）" in card.text
    listing = await client_factory(100001).send("/members")
    assert "共 30 人：✅ 已激活 1 人" in listing.text and "第 1/3 页" in listing.text


async def test_demo_user_100003_is_activated_on_registration(store, clock, settings, client_factory):
    await seed_demo_data(SimpleNamespace(store=store, clock=clock, settings=settings))
    c = client_factory(100003, first_name="Wang", language_code="en")
    await c.press(await c.start(), "✅ Agree and continue")
    await c.contact("8613800000003")
    done = await c.press(await c.send("Wang Fang"), "Skip ⏭")
    assert DEMO_ORG in done.text
    assert [tuple(r) for r in await store._all(
        "SELECT name, activated_at IS NOT NULL FROM members WHERE phone = '+8613800000003'", ())] == [("王芳", 1)]


async def test_demo_keeps_a_database_whose_people_clash_with_it(store, clock, settings, registered):
    await registered(100009, phone="+8613800000001", name="别人")  # the demo admin's phone, another account
    await seed_demo_data(SimpleNamespace(store=store, clock=clock, settings=settings))
    assert await store.get_user(100001) is None
    assert [tuple(r) for r in await store._all("SELECT COUNT(*) FROM orgs", ())] == [(0,)]


async def test_demo_has_a_three_level_tree_with_90_days_of_report_history(store, clock, settings, client_factory):
    """REP: a newcomer's /orgreport shows lower organisations and real trends at once."""
    await seed_demo_data(SimpleNamespace(store=store, clock=clock, settings=settings))
    depth = [tuple(r) for r in await store._all("SELECT MAX(depth), COUNT(*) FROM org_tree WHERE ancestor_id = "
                                                "(SELECT id FROM orgs WHERE name = ?)", (DEMO_ORG,))]
    assert depth == [(2, 4)]  # the root, two street organisations, a community under one of them
    days = [tuple(r) for r in await store._all(
        "SELECT COUNT(*), MIN(total), MAX(total), SUM(CASE WHEN points > 0 THEN 1 ELSE 0 END) FROM org_daily d JOIN orgs o ON o.id = d.org_id "
        "WHERE o.name = ?", (DEMO_ORG,))]
    count, smallest, largest, with_points = days[0]
    assert count >= 90 and smallest < largest and with_points >= 80  # growing, learning most days
    report = await client_factory(100001).send("/orgreport")
    assert "经三路街道学习组织" in report.text and "丰产路街道学习组织" in report.text and "达标（每日 6 分）" in report.text

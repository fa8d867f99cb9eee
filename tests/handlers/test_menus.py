"""SPEC "Commands": the command menu shown to each person fits their role, after every role change,
whoever's action made it (the recorded setMyCommands calls: the chat scope and the command list)."""
from __future__ import annotations

from aiogram.methods import SetMyCommands

from bot.menus import arm_at_start
from tests.conftest import OPERATOR_ID
from tests.support.factories import make_org, make_user

GOOD_ID = "11010519491231002X"
MAIN, ADMIN, OTHER = 100001, 100002, 100003
USER_MENU = ["start", "help", "lang", "cancel", "verify", "neworg", "join", "quiz", "weekly", "exams", "records",
             "wrongbook", "report", "rank", "tasks", "checkin", "manuscript"]


def by_chat(menus: list[SetMyCommands]) -> dict[int, list[str]]:
    """{chat id: its command list}; a chat set twice would be a menu set more than once."""
    chats = [m.scope.chat_id for m in menus]
    assert len(chats) == len(set(chats)), f"a menu set more than once: {chats}"
    return {m.scope.chat_id: [c.command for c in m.commands] for m in menus}


async def settled(client_factory, sweep_menus, *user_ids: int) -> None:
    """Each person has written once (their menu set then) and nothing is left to refresh."""
    for user_id in user_ids:
        await client_factory(user_id).send("/help")
    await sweep_menus()


async def quiet(client_factory, sweep_menus, *user_ids: int) -> None:
    """Nothing more is set: not by the sweep, not at the people's next updates."""
    assert await sweep_menus() == []
    for user_id in user_ids:
        assert not (await client_factory(user_id).send("/help")).of(SetMyCommands)


async def test_commands_an_admin_who_verifies_with_plain_verify_gets_the_admin_menu(client_factory, store,
                                                                                   sweep_menus):
    await make_user(store, MAIN, "王主任", verified=True)
    await make_user(store, ADMIN, "李四")  # added as an admin before verifying (RNV-1)
    await make_org(store, "金水区委宣传部", MAIN, admins=[ADMIN])
    await settled(client_factory, sweep_menus, ADMIN)
    c = client_factory(ADMIN)
    await c.send("/verify")
    await c.send("李四")
    assert "实名认证成功" in (await c.send(GOOD_ID)).text
    menus = by_chat(await sweep_menus())
    assert set(menus) == {ADMIN} and {"org", "members", "task"} <= set(menus[ADMIN])
    assert "audit" not in menus[ADMIN]
    await quiet(client_factory, sweep_menus, ADMIN)


async def test_commands_a_hand_over_moves_audit_to_the_new_main_admin_once(client_factory, store, sweep_menus):
    await make_user(store, MAIN, "王主任", verified=True)
    await make_user(store, ADMIN, "李四", verified=True)
    await make_org(store, "金水区委宣传部", MAIN, admins=[ADMIN])
    await settled(client_factory, sweep_menus, MAIN, ADMIN)
    c = client_factory(MAIN)
    choose = await c.press(await c.press(await c.send("/org"), "👥 管理员"), "🔁 移交主管理员")
    done = await c.press(await c.press(choose, "李四"), "🔁 确认移交")
    assert "您现在是普通管理员" in done.text
    menus = by_chat(done.of(SetMyCommands) + await sweep_menus())
    assert set(menus) == {MAIN, ADMIN}
    assert "audit" in menus[ADMIN] and "audit" not in menus[MAIN]
    assert "org" in menus[MAIN]  # still an admin
    await quiet(client_factory, sweep_menus, MAIN, ADMIN)


async def test_commands_dissolving_rescopes_every_admin_of_the_organisation(client_factory, store, sweep_menus):
    await make_user(store, MAIN, "王主任", verified=True)
    await make_user(store, ADMIN, "李四", verified=True)
    await make_org(store, "金水区委宣传部", MAIN, admins=[ADMIN])
    await settled(client_factory, sweep_menus, MAIN, ADMIN)
    c = client_factory(MAIN)
    confirm = await c.press(await c.send("/org"), "🗑 解散")
    assert "已解散" in (done := await c.press(confirm, "🗑 确认解散")).text
    menus = by_chat(done.of(SetMyCommands) + await sweep_menus())
    assert menus == {MAIN: USER_MENU, ADMIN: USER_MENU}
    await quiet(client_factory, sweep_menus, MAIN, ADMIN)


async def test_commands_an_admin_added_by_someone_else_gets_the_menu_without_writing(client_factory, store,
                                                                                    sweep_menus):
    await make_user(store, MAIN, "王主任", verified=True)
    phone = await make_user(store, ADMIN, "李四", verified=True)
    await make_org(store, "金水区委宣传部", MAIN)
    await settled(client_factory, sweep_menus, MAIN, ADMIN)
    c = client_factory(MAIN)
    await c.press(await c.press(await c.send("/org"), "👥 管理员"), "➕ 添加管理员")
    added = await c.send(phone)
    menus = by_chat(added.of(SetMyCommands) + await sweep_menus())
    assert set(menus) == {ADMIN} and "org" in menus[ADMIN] and "audit" not in menus[ADMIN]
    await quiet(client_factory, sweep_menus, MAIN, ADMIN)


async def test_commands_operator_ids_given_at_start_set_the_operator_menu_before_they_write(
        client_factory, store, clock, settings, sweep_menus):
    await make_user(store, OPERATOR_ID, "平台运营")
    await make_user(store, OTHER, "赵六")
    await settled(client_factory, sweep_menus, OPERATOR_ID, OTHER)  # OTHER was an operator of an earlier run
    async with store.raw_tx() as db:
        await db.execute("UPDATE users SET menu = (SELECT menu FROM users WHERE id = ?) WHERE id = ?",
                         (OPERATOR_ID, OTHER))
    async with store.raw_tx() as db:  # the operator's menu as the last run left it: a plain user's
        await db.execute("UPDATE users SET menu = NULL WHERE id = ?", (OPERATOR_ID,))
    await arm_at_start(store, clock, settings)
    menus = by_chat(await sweep_menus())
    assert {"applications", "certify", "import"} <= set(menus[OPERATOR_ID])
    assert menus[OTHER] == USER_MENU  # no longer among the operator ids: the operator's commands go
    await quiet(client_factory, sweep_menus, OPERATOR_ID, OTHER)

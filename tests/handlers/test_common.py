"""/start, /help, /lang, /cancel, fallbacks and the error handler, fed through the dispatcher."""
from __future__ import annotations

import logging

from aiogram.methods import AnswerCallbackQuery, SendMessage, SetMyCommands
from aiogram.types import BotCommandScopeChat

from bot.ui.menu import LangCD


async def test_start_shows_welcome(client_factory, store):
    alice = client_factory(first_name="张伟")
    sent = await alice.start()
    assert "欢迎使用" in sent.texts[0] and "张伟" in sent.texts[0]


async def test_default_menus_are_the_visitor_menu_per_language(bot, session, i18n):
    from bot.ui.menu import set_default_menus

    await set_default_menus(bot, i18n)
    menus = [c for c in session.calls if isinstance(c, SetMyCommands)]
    assert [(m.language_code, [c.command for c in m.commands]) for m in menus] == [
        ("en", ["start", "help", "lang", "cancel"]), ("zh", ["start", "help", "lang", "cancel"]),
        (None, ["start", "help", "lang", "cancel"])]
    assert menus[0].commands[1].description == "Help" and menus[2].commands[1].description == "帮助"


async def test_english_telegram_user_gets_english(client_factory):
    bob = client_factory(user_id=100002, first_name="Bob", language_code="en-GB")
    sent = await bob.start()
    assert "Welcome to the" in sent.text


async def test_i18n_escapes_user_names(client_factory):
    eve = client_factory(user_id=100003, first_name="<b>Eve</b>")
    sent = await eve.start()
    assert "&lt;b&gt;Eve&lt;/b&gt;" in sent.text


async def test_help_lists_visitor_commands(client_factory):
    sent = await client_factory().send("/help")
    assert "/start" in sent.text and "/lang — 切换语言" in sent.text
    assert "/audit" not in sent.text


async def test_lang_switch_is_stored_and_menu_follows(client_factory, store, sweep_menus):
    alice = client_factory()
    sent = await alice.send("/lang")
    assert sent.button("English") == LangCD(code="en").pack()
    switched = await alice.press(sent, "English")
    assert switched.answers[0].text == "Language set to English."
    (menu,) = await sweep_menus()  # the choice armed the refresh of her menu
    assert menu.commands[1].description == "Help" and isinstance(menu.scope, BotCommandScopeChat)
    assert menu.scope.chat_id == alice.user_id
    assert (await store.get_user(alice.user_id)).language == "en"
    welcome = await alice.start()
    assert "Welcome to the" in welcome.text and not welcome.of(SetMyCommands)  # set once


async def test_lang_forged_code_is_refused(client_factory, store):
    alice = client_factory()
    sent = await alice.click(LangCD(code="xx").pack())  # forged: no such language button
    assert sent.answers[0].show_alert and "失效" in sent.answers[0].text
    assert await store.get_user(alice.user_id) is None


async def test_cancel_with_nothing_running(client_factory):
    sent = await client_factory().send("/cancel")
    assert sent.text == "当前没有进行中的操作。"


async def test_unknown_command_and_text(client_factory, registered):
    alice = client_factory()
    await registered(alice.user_id)
    assert "没有这个命令" in (await alice.send("/nosuch")).text
    assert "没有理解" in (await alice.send("hello")).text


async def test_visitor_is_told_to_register(client_factory):
    assert (await client_factory().send("hello")).texts == ["请先发送 /start 完成注册。"]


async def test_stale_button_is_answered(client_factory):
    sent = await client_factory().click("zz:1:2")  # stale: data no handler knows (an old release's button)
    assert len(sent.answers) == 1 and "失效" in sent.answers[0].text


async def test_unexpected_error_gives_apology_and_logs_update_id(dp, client_factory, caplog):
    from aiogram import Router

    boom = Router(name="boom")

    @boom.message(lambda m: m.text == "boom")
    async def explode(message):
        raise RuntimeError("secret internals")

    dp.sub_routers.insert(1, boom)
    boom._parent_router = dp
    alice = client_factory()
    with caplog.at_level(logging.ERROR, logger="bot.errors"):
        sent = await alice.send("boom")
    assert sent.texts == ["抱歉，处理时出了点问题，请稍后再试。"]
    assert "secret internals" not in sent.text
    assert any("update" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)


async def test_every_callback_is_answered_exactly_once(client_factory):
    alice = client_factory()
    sent = await alice.click(LangCD(code="?").pack())  # forged: refused, and still answered once
    assert len(sent.of(AnswerCallbackQuery)) == 1
    assert isinstance(sent.calls[-1], (SendMessage, AnswerCallbackQuery))


async def test_filters_run_without_a_worker_thread(client_factory, store, monkeypatch):
    """aiogram would run each synchronous filter (F.text, a State) in a thread, a hop per router tried;
    ours run in place. A member's plain text passes every router's filters on its way to the fallback."""
    from tests.support.factories import make_user

    await make_user(store, 100001)
    hops: list[object] = []

    async def no_thread(func, *args, **kwargs):
        hops.append(func)
        return func(*args, **kwargs)

    monkeypatch.setattr("asyncio.to_thread", no_thread)
    sent = await client_factory().send("随便说点什么")
    assert "没有理解您的意思" in sent.text
    assert [getattr(h, "func", h) for h in hops] == []


async def test_operator_help_lists_applications_for_root_renames(client_factory, store):
    from tests.conftest import OPERATOR_ID
    from tests.support.factories import make_user

    await make_user(store, OPERATOR_ID, "运营")
    await make_user(store, 100002, "李娜")
    assert "/applications" in (await client_factory(OPERATOR_ID).send("/help")).text
    assert "/applications" not in (await client_factory(100002).send("/help")).text


async def test_help_says_nothing_of_ids_once_an_operator_is_set(client_factory):
    sent = await client_factory(user_id=4242003).send("/help")
    assert "4242003" not in sent.text and "OPERATOR_IDS" not in sent.text

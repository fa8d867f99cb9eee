"""The sandbox's fake Bot API, driven by a real aiogram Bot: aiogram must parse every answer."""
from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BufferedInputFile,
    ChatFullInfo,
    File,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MenuButtonCommands,
    Message,
    MessageEntity,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    User,
)
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.sandbox.server import build_sandbox_app, get_state

TOKEN = "1234567:SANDBOX-test-token"
UID = 100001


@pytest.fixture
async def server():
    srv = TestServer(build_sandbox_app(bot_username="test_sandbox_bot"))
    await srv.start_server()
    yield srv
    await srv.close()


@pytest.fixture
async def http(server):
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        yield session


@pytest.fixture
async def bot(server, http):
    api = TelegramAPIServer.from_base(str(server.make_url("")).rstrip("/"))
    b = Bot(TOKEN, session=AiohttpSession(api=api), default=DefaultBotProperties(parse_mode="HTML"))
    yield b
    if b.session._session is not None:  # skip aiogram's 250 ms grace sleep in close()
        await b.session._session.close()


@pytest.fixture
async def user(http):
    async with http.post("/sandbox/users", json={"first_name": "张", "last_name": "伟", "username": "zw",
                                                 "language_code": "zh", "phone": "+8613800000001"}) as resp:
        assert (await resp.json())["id"] == UID
    return UID


async def control(http: aiohttp.ClientSession, path: str, **kw) -> dict:
    async with http.get(path, **kw) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


def dump(obj):
    """aiogram objects parsed from a response carry the bot in their context: compare data."""
    if isinstance(obj, list):
        return [dump(o) for o in obj]
    return obj.model_dump(exclude_none=True)


def png(width: int = 40, height: int = 30) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


async def test_get_me_from_token(bot):
    me = await bot.get_me()
    assert isinstance(me, User)
    assert (me.id, me.is_bot, me.username, me.first_name) == (1234567, True, "test_sandbox_bot", "学习强国 Sandbox")
    assert me.can_join_groups is False and me.supports_inline_queries is False


async def test_html_becomes_plain_text_and_utf16_entities(bot, user, http):
    msg = await bot.send_message(UID, "  <b>粗体</b> 😀 <i>it&amp;<u>u</u></i> <a href='https://e.org/x'>link</a>"
                                      "\n<pre><code class=\"language-py\">x = 1</code></pre> <code>c</code> <s>s</s>\n")
    assert isinstance(msg, Message)
    assert msg.text == "粗体 😀 it&u link\nx = 1 c s"
    got = [(e.type, e.offset, e.length, e.url, e.language) for e in msg.entities]
    assert got == [("bold", 0, 2, None, None), ("italic", 6, 4, None, None), ("underline", 9, 1, None, None),
                   ("text_link", 11, 4, "https://e.org/x", None), ("pre", 16, 5, None, "py"),
                   ("code", 22, 1, None, None), ("strikethrough", 24, 1, None, None)]
    assert msg.from_user.id == 1234567 and msg.chat.type == "private" and msg.chat.first_name == "张"
    view = (await control(http, f"/sandbox/users/{UID}/messages"))["messages"][-1]
    assert view["from"] == "bot" and view["text"] == msg.text
    assert view["html"].startswith("<b>粗体</b> 😀 <i>it&amp;<u>u</u></i> <a href=\"https://e.org/x\">link</a>")
    plain = await bot.send_message(UID, "a < b", parse_mode=None)
    assert plain.text == "a < b" and plain.entities is None
    assert plain.message_id == msg.message_id + 1
    given = await bot.send_message(UID, "<b>raw</b>", entities=[MessageEntity(type="bold", offset=0, length=3)],
                                   reply_parameters=ReplyParameters(message_id=msg.message_id))
    assert given.text == "<b>raw</b>" and given.entities[0].type == "bold"
    assert given.reply_to_message.message_id == msg.message_id and given.reply_to_message.text == msg.text
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to be replied not found"):
        await bot.send_message(UID, "x", reply_parameters=ReplyParameters(message_id=999))


async def test_inline_and_reply_keyboards_and_protect_content(bot, user, http):
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="y"),
                                                InlineKeyboardButton(text="Site", url="https://example.org")]])
    msg = await bot.send_message(UID, "pick", reply_markup=kb, protect_content=True)
    assert dump(msg.reply_markup) == dump(kb) and msg.has_protected_content is True
    reply = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="📱 Share", request_contact=True)], [KeyboardButton(
        text="Later")]], resize_keyboard=True, one_time_keyboard=True)
    msg2 = await bot.send_message(UID, "share?", reply_markup=reply)
    assert msg2.reply_markup is None and msg2.has_protected_content is None
    data = await control(http, f"/sandbox/users/{UID}/messages")
    assert data["messages"][0]["reply_markup"]["inline_keyboard"][0][0] == {"text": "Yes", "callback_data": "y"}
    assert data["messages"][0]["protect_content"] is True
    assert data["reply_keyboard"]["keyboard"][0][0] == {"text": "📱 Share", "request_contact": True}
    await bot.send_message(UID, "plain")  # no markup: the reply keyboard stays
    assert (await control(http, f"/sandbox/users/{UID}/messages"))["reply_keyboard"] is not None
    await bot.send_message(UID, "gone", reply_markup=ReplyKeyboardRemove())
    assert (await control(http, f"/sandbox/users/{UID}/messages"))["reply_keyboard"] is None


async def test_edits_and_their_errors(bot, user, http):
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]])
    msg = await bot.send_message(UID, "<b>one</b>", reply_markup=kb)
    with pytest.raises(TelegramBadRequest, match="message is not modified: specified new message content and reply "
                                                 "markup are exactly the same as a current content and reply markup "
                                                 "of the message"):
        await bot.edit_message_text("<b>one</b>", chat_id=UID, message_id=msg.message_id, reply_markup=kb)
    edited = await bot.edit_message_text("two", chat_id=UID, message_id=msg.message_id, reply_markup=kb)
    assert isinstance(edited, Message) and edited.text == "two" and edited.edit_date is not None
    assert dump(edited.reply_markup) == dump(kb) and edited.entities is None
    edited = await bot.edit_message_reply_markup(chat_id=UID, message_id=msg.message_id, reply_markup=None)
    assert edited.reply_markup is None and edited.text == "two"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=UID, message_id=msg.message_id)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to edit not found"):
        await bot.edit_message_text("x", chat_id=UID, message_id=999)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
        await bot.edit_message_text("  ", chat_id=UID, message_id=msg.message_id)
    photo = await bot.send_photo(UID, BufferedInputFile(png(), "p.png"), caption="old")
    edited = await bot.edit_message_caption(chat_id=UID, message_id=photo.message_id, caption="<i>new</i>")
    assert edited.caption == "new" and edited.caption_entities[0].type == "italic"
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=UID, message_id=photo.message_id)
    view = {m["message_id"]: m for m in (await control(http, f"/sandbox/users/{UID}/messages"))["messages"]}
    assert view[msg.message_id]["edited"] is True and view[msg.message_id]["text"] == "two"
    assert view[photo.message_id]["caption"] == "new"


async def test_delete_message(bot, user, http):
    msg = await bot.send_message(UID, "bye")
    seq = (await control(http, f"/sandbox/users/{UID}/messages"))["seq"]
    assert await bot.delete_message(UID, msg.message_id) is True
    assert (await control(http, f"/sandbox/users/{UID}/messages"))["messages"] == []
    feed = await control(http, f"/sandbox/users/{UID}/messages", params={"since": seq})
    assert feed["messages"] == [{"message_id": msg.message_id, "from": "bot", "seq": seq + 1, "deleted": True}]
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to delete not found"):
        await bot.delete_message(UID, msg.message_id)


async def test_error_texts_map_to_aiogram_exceptions(bot, user, http):
    with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
        await bot.send_message(UID, "<b></b>")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(UID, "<b>x</b>" + "好" * 4096)
    await bot.send_message(UID, "<b>" + "好" * 4096 + "</b>")  # 4096 after parsing is fine
    with pytest.raises(TelegramBadRequest, match="Bad Request: message caption is too long"):
        await bot.send_photo(UID, BufferedInputFile(png(), "p.png"), caption="x" * 1025)
    too_long = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]])
    with pytest.raises(TelegramBadRequest, match="Bad Request: BUTTON_DATA_INVALID"):
        await bot.send_message(UID, "x", reply_markup=too_long)
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(424242, "x")
    with pytest.raises(TelegramBadRequest, match="Bad Request: can't parse entities: Unsupported start tag \"foo\" "
                                                 "at byte offset 2"):
        await bot.send_message(UID, "a <foo>b</foo>")
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Can't find end tag corresponding to start "
                                                 "tag \"b\""):
        await bot.send_message(UID, "<b>bold")
    async with http.post(f"/sandbox/users/{UID}/block") as resp:
        assert resp.status == 200
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(UID, "hi")
    async with http.post(f"/sandbox/users/{UID}/unblock") as resp:
        assert resp.status == 200
    await bot.send_message(UID, "hi again")
    async with http.post("/sandbox/faults", json={"fail": [{"method": "sendMessage", "status": 429, "count": 1,
                                                            "retry_after": 7},
                                                           {"method": "getChat", "status": 500, "count": 1}]}):
        pass
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(UID, "x")
    assert info.value.retry_after == 7 and "Too Many Requests: retry after 7" in info.value.message
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.get_chat(UID)
    assert (await bot.send_message(UID, "ok now")).text == "ok now"
    stats = await control(http, "/sandbox/stats")
    assert stats["calls"]["sendMessage"] >= 10 and stats["rate_limited"] == 1 and stats["errors"] == 10


async def test_rate_limit_per_chat_and_global(bot, user, http):
    async with http.post("/sandbox/faults", json={"rate_limit": {"per_chat_per_s": 2, "global_per_s": 100}}):
        pass
    await bot.send_message(UID, "1")
    await bot.send_chat_action(UID, "typing")
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(UID, "3")
    assert info.value.retry_after == 1
    assert (await bot.get_me()).id == 1234567  # getMe is not limited
    async with http.post("/sandbox/reset"):
        pass
    await bot.send_message(UID, "free again")
    assert (await control(http, "/sandbox/stats")) == {"calls": {"sendMessage": 1}, "errors": 0, "rate_limited": 0,
                                                         "entity_errors": 0}


async def test_photo_and_document_upload_get_file_and_download(bot, user, http):
    image = png(64, 48)
    msg = await bot.send_photo(UID, BufferedInputFile(image, "qr.png"), caption="<b>QR</b>", protect_content=True)
    size = msg.photo[-1]
    assert (size.width, size.height, size.file_size) == (64, 48, len(image))
    assert msg.caption == "QR" and msg.caption_entities[0].type == "bold" and msg.has_protected_content
    f = await bot.get_file(size.file_id)
    assert isinstance(f, File) and f.file_size == len(image) and f.file_path.startswith("photos/")
    assert (await bot.download_file(f.file_path)).read() == image
    again = await bot.send_photo(UID, size.file_id)
    assert again.photo[-1].file_id == size.file_id

    data = bytes(range(256)) * 40
    doc = await bot.send_document(UID, BufferedInputFile(data, "报表.xlsx"), caption="report")
    assert doc.document.file_name == "报表.xlsx" and doc.document.file_size == len(data)
    assert doc.document.mime_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    downloaded = await bot.download(doc.document.file_id)
    assert downloaded.read() == data
    view = (await control(http, f"/sandbox/users/{UID}/messages"))["messages"]
    async with http.get(view[0]["photo"]["url"]) as resp:
        assert resp.content_type == "image/png" and await resp.read() == image
    async with http.get(view[-1]["document"]["url"]) as resp:
        assert await resp.read() == data and view[-1]["document"]["file_name"] == "报表.xlsx"

    with pytest.raises(TelegramBadRequest, match="Bad Request: wrong file identifier/HTTP URL specified"):
        await bot.send_document(UID, "no-such-file-id")
    with pytest.raises(TelegramBadRequest, match="Bad Request: IMAGE_PROCESS_FAILED"):
        await bot.send_photo(UID, BufferedInputFile(b"not an image", "x.jpg"))
    with pytest.raises(TelegramBadRequest, match="Bad Request: invalid file_id"):
        await bot.get_file("nope")
    async with http.get("/file/bot1:x/documents/none") as resp:
        assert resp.status == 404


async def test_get_updates_long_poll_and_offset(bot, user, http):
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 5

    async def later() -> None:
        await asyncio.sleep(0.2)
        async with http.post(f"/sandbox/users/{UID}/send", json={"text": "/start@test_sandbox_bot hi"}):
            pass

    task = asyncio.create_task(later())
    started = time.monotonic()
    updates = await bot.get_updates(timeout=20)
    assert time.monotonic() - started < 5
    await task
    [update] = updates
    message = update.message
    assert message.text == "/start@test_sandbox_bot hi" and message.from_user.id == UID
    assert message.from_user.language_code == "zh" and message.chat.id == UID
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bot_command", 0, 23)]
    assert (await bot.get_updates())[0].update_id == update.update_id  # not confirmed yet
    assert await bot.get_updates(offset=update.update_id + 1) == []
    assert (await control(http, "/sandbox/info")) == {"bot": {"id": 1234567, "username": "test_sandbox_bot"},
                                                      "updates_pending": 0, "seq": 1}


async def test_commands_per_scope_and_language(bot, user, http):
    default = [BotCommand(command="start", description="Start"), BotCommand(command="help", description="Help")]
    assert await bot.set_my_commands(default) is True
    assert await bot.set_my_commands([BotCommand(command="start", description="开始")], language_code="zh")
    chat_scope = BotCommandScopeChat(chat_id=UID)
    assert await bot.set_my_commands([BotCommand(command="admin", description="Admin")], scope=chat_scope)
    assert dump(await bot.get_my_commands()) == dump(default)
    assert dump(await bot.get_my_commands(scope=BotCommandScopeDefault())) == dump(default)
    assert [c.description for c in await bot.get_my_commands(language_code="zh")] == ["开始"]
    assert [c.command for c in await bot.get_my_commands(scope=chat_scope)] == ["admin"]
    assert await bot.get_my_commands(scope=chat_scope, language_code="zh") == []
    menu = await control(http, f"/sandbox/users/{UID}/commands")  # what the user's client shows
    assert menu == {"commands": [{"command": "admin", "description": "Admin"}]}
    assert await bot.delete_my_commands(scope=chat_scope) is True
    assert (await control(http, f"/sandbox/users/{UID}/commands"))["commands"][0]["description"] == "开始"
    assert await bot.get_my_commands(scope=chat_scope) == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Cmd", description="x")])


async def test_misc_methods(bot, user, server, http):
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0
    assert await bot.send_chat_action(UID, "typing") is True
    assert (await control(http, f"/sandbox/users/{UID}/messages"))["chat_action"] == "typing"
    with pytest.raises(TelegramBadRequest, match="wrong parameter action in request"):
        await bot.send_chat_action(UID, "dancing")
    chat = await bot.get_chat(UID)
    assert isinstance(chat, ChatFullInfo) and chat.type == "private" and chat.username == "zw"
    assert await bot.set_chat_menu_button(chat_id=UID, menu_button=MenuButtonCommands()) is True
    assert get_state(server.app) is server.app["sandbox"]


async def test_raw_requests_json_body_get_and_unknown_method(http, user):
    async with http.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": UID, "text": "<i>json</i>",
                                                          "parse_mode": "HTML"}) as resp:
        body = await resp.json()
    assert body["ok"] is True and body["result"]["entities"] == [{"offset": 0, "length": 4, "type": "italic"}]
    async with http.get(f"/bot{TOKEN}/getMe") as resp:
        assert (await resp.json())["result"]["username"] == "test_sandbox_bot"
    async with http.post(f"/bot{TOKEN}/sendmessage", data={"chat_id": str(UID), "text": "form"}) as resp:
        assert (await resp.json())["result"]["text"] == "form"
    async with http.post(f"/bot{TOKEN}/noSuchMethod") as resp:
        assert resp.status == 404 and await resp.json() == {"ok": False, "error_code": 404,
                                                              "description": "Not Found"}


async def test_unknown_method_maps_to_not_found(bot):
    from aiogram.methods import GetMe

    class Bogus(GetMe):
        __api_method__ = "bogusMethod"

    with pytest.raises(TelegramNotFound):
        await bot(Bogus())


async def test_answer_callback_query_twice_is_refused(bot, user, http):
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]])
    msg = await bot.send_message(UID, "press", reply_markup=kb)
    press = asyncio.create_task(http.post(f"/sandbox/users/{UID}/press",
                                          json={"message_id": msg.message_id, "data": "go"}))
    [update] = await bot.get_updates(timeout=5)
    query = update.callback_query
    assert query.data == "go" and query.from_user.id == UID and query.message.message_id == msg.message_id
    assert await bot.answer_callback_query(query.id, text="Done", show_alert=True) is True
    with pytest.raises(TelegramBadRequest, match="Bad Request: query is too old and response timeout expired or "
                                                 "query ID is invalid"):
        await bot.answer_callback_query(query.id, text="again")
    async with await press as resp:
        assert await resp.json() == {"callback_query_id": query.id, "answer": {"text": "Done", "show_alert": True}}


async def test_shutdown_releases_a_pending_long_poll(user):
    srv = TestServer(build_sandbox_app())
    await srv.start_server()
    async with aiohttp.ClientSession() as session:
        poll = asyncio.create_task(session.get(srv.make_url(f"/bot{TOKEN}/getUpdates"), params={"timeout": 50}))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await srv.close()
        async with await poll as resp:
            assert (await resp.json()) == {"ok": True, "result": []}
    assert time.monotonic() - started < 3

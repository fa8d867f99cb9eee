"""The sandbox control API (/sandbox/...), with a real aiogram Bot/Dispatcher playing the bot."""
from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import CommandStart
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.sandbox.server import build_sandbox_app

TOKEN = "7654321:SANDBOX-control-tests"


class FakeJobs:
    def __init__(self) -> None:
        self.ran: list[str] = []

    def list_jobs(self) -> list[dict]:
        return [{"id": "daily", "name": "daily", "next_run_time": "2026-11-24T09:00:00+08:00"},
                {"id": "weekly", "name": "weekly", "next_run_time": None}]

    async def run_job(self, job_id: str) -> None:
        if job_id not in ("daily", "weekly"):
            raise KeyError(job_id)
        self.ran.append(job_id)


@pytest.fixture
def jobs() -> FakeJobs:
    return FakeJobs()


@pytest.fixture
async def server(jobs, tmp_path):
    (tmp_path / "index.html").write_text("<h1>chat</h1>", encoding="utf-8")
    (tmp_path / "app.js").write_text("console.log(1)", encoding="utf-8")
    srv = TestServer(build_sandbox_app(jobs=jobs, static_dir=tmp_path))
    await srv.start_server()
    yield srv
    await srv.close()


@pytest.fixture
async def http(server):
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        yield session


@pytest.fixture
async def bot(server):
    b = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(str(server.make_url("")).rstrip("/"))))
    yield b
    if b.session._session is not None:
        await b.session._session.close()


async def call(http: aiohttp.ClientSession, verb: str, path: str, body: dict | None = None, *,
               status: int = 200, **kw) -> dict:
    async with http.request(verb, path, json=body if verb == "POST" and "data" not in kw else None, **kw) as resp:
        payload = await resp.json()
        assert resp.status == status, payload
        return payload


async def new_user(http: aiohttp.ClientSession, **profile) -> int:
    return (await call(http, "POST", "/sandbox/users", {"first_name": "Ann", **profile}))["id"]


async def test_users_are_created_updated_and_listed(http, bot):
    assert await new_user(http) == 100001
    assert await new_user(http, first_name="Bob", language_code="en", phone="+15550001") == 100002
    assert await new_user(http, id=555, first_name="Cat") == 555
    assert await new_user(http, id=100001, first_name="Anna", username="anna") == 100001
    users = {u["id"]: u for u in (await call(http, "GET", "/sandbox/users"))["users"]}
    assert users[100001] == {"id": 100001, "first_name": "Anna", "last_name": None, "username": "anna",
                             "language_code": None, "phone": None, "blocked": False, "unread": 0}
    await bot.send_message(100002, "hello")
    users = {u["id"]: u for u in (await call(http, "GET", "/sandbox/users"))["users"]}
    assert users[100002]["unread"] == 1
    await call(http, "GET", "/sandbox/users/100002/messages")
    assert (await call(http, "GET", "/sandbox/users/100002"))["unread"] == 0
    await call(http, "POST", "/sandbox/users", {"id": "x", "first_name": "Bad"}, status=400)
    await call(http, "POST", "/sandbox/users/999/send", {"text": "hi"}, status=404)


async def test_user_messages_reach_the_bot_as_aiogram_updates(http, bot):
    uid = await new_user(http, phone="+8613800000009", last_name="Lee")
    mid = (await call(http, "POST", f"/sandbox/users/{uid}/send", {"text": "/start ref_42"}))["message_id"]
    await call(http, "POST", f"/sandbox/users/{uid}/contact", {})
    await call(http, "POST", f"/sandbox/users/{uid}/contact", {"phone": "+8613911112222", "first_name": "Mum"})
    await call(http, "POST", f"/sandbox/users/{uid}/sticker", {})
    await call(http, "POST", f"/sandbox/users/{uid}/send", {"text": "plain /notcommand"})
    updates = await bot.get_updates(timeout=1)
    assert all(isinstance(u, Update) for u in updates) and len(updates) == 5
    start, own, other, sticker, plain = (u.message for u in updates)
    assert start.message_id == mid and start.text == "/start ref_42"
    assert [(e.type, e.offset, e.length) for e in start.entities] == [("bot_command", 0, 6)]
    assert own.contact.phone_number == "+8613800000009" and own.contact.user_id == uid
    assert own.contact.first_name == "Ann" and own.contact.last_name == "Lee"
    assert other.contact.phone_number == "+8613911112222" and other.contact.user_id is None
    assert sticker.sticker.type == "regular" and sticker.sticker.emoji
    assert plain.entities is None
    no_phone = await new_user(http, first_name="NoPhone")
    assert "phone" in (await call(http, "POST", f"/sandbox/users/{no_phone}/contact", {}, status=400))["error"]
    view = (await call(http, "GET", f"/sandbox/users/{uid}/messages"))["messages"]
    assert [m["from"] for m in view] == ["user"] * 5
    assert view[1]["contact"]["user_id"] == uid and view[3]["sticker"]["url"].startswith("/sandbox/files/")


async def test_uploads_are_downloadable_by_the_bot(http, bot):
    uid = await new_user(http)
    data = b"%PDF-1.4 fake pdf \x00\x01\x02" * 100
    form = aiohttp.FormData()
    form.add_field("file", data, filename="申请表.pdf", content_type="application/octet-stream")
    form.add_field("caption", "my form")
    await call(http, "POST", f"/sandbox/users/{uid}/document", data=form)
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), "blue").save(buf, "JPEG")
    form = aiohttp.FormData()
    form.add_field("file", buf.getvalue(), filename="photo.jpg", content_type="image/jpeg")
    await call(http, "POST", f"/sandbox/users/{uid}/photo", data=form)
    doc_update, photo_update = await bot.get_updates(timeout=1)
    doc = doc_update.message.document
    assert (doc.file_name, doc.mime_type, doc.file_size) == ("申请表.pdf", "application/pdf", len(data))
    assert doc_update.message.caption == "my form"
    assert (await bot.download(doc.file_id)).read() == data
    photo = photo_update.message.photo[-1]
    assert (photo.width, photo.height) == (300, 200)
    assert (await bot.download(photo.file_id)).read() == buf.getvalue()
    view = (await call(http, "GET", f"/sandbox/users/{uid}/messages"))["messages"]
    async with http.get(view[0]["document"]["url"]) as resp:
        assert resp.content_type == "application/pdf" and await resp.read() == data
    await call(http, "POST", f"/sandbox/users/{uid}/photo", {"caption": "no file"}, status=400)
    await call(http, "GET", "/sandbox/files/nope", status=404)


async def test_press_inline_button_returns_the_bots_answer(http, bot):
    uid = await new_user(http)
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="✅ Yes", callback_data="yes"),
                                                InlineKeyboardButton(text="Web", url="https://example.org")]])
    msg = await bot.send_message(uid, "Agree?", reply_markup=kb)

    async def bot_side() -> str:
        [update] = await bot.get_updates(timeout=5)
        query = update.callback_query
        assert query.message.text == "Agree?" and query.chat_instance
        await bot.answer_callback_query(query.id, text=f"got {query.data}")
        return query.id

    task = asyncio.create_task(bot_side())
    by_text = await call(http, "POST", f"/sandbox/users/{uid}/press", {"message_id": msg.message_id, "text": "✅ Yes"})
    assert by_text == {"callback_query_id": await task, "answer": {"text": "got yes", "show_alert": False}}
    await bot.get_updates(offset=(await bot.get_updates())[-1].update_id + 1)

    started = time.monotonic()
    unanswered = await call(http, "POST", f"/sandbox/users/{uid}/press",
                            {"message_id": msg.message_id, "data": "yes", "wait": 0.3})
    assert unanswered["answer"] is None and time.monotonic() - started < 5
    for bad in ({"message_id": msg.message_id, "data": "nope"}, {"message_id": msg.message_id, "text": "Web"},
                {"message_id": 99, "data": "yes"}, {"message_id": msg.message_id}):
        assert "error" in await call(http, "POST", f"/sandbox/users/{uid}/press", bad, status=400)


async def test_press_reply_keyboard_buttons(http, bot):
    uid = await new_user(http, phone="+8613800000005")
    kb = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="📱 Share phone", request_contact=True)],
                                       [KeyboardButton(text="Menu")]], resize_keyboard=True)
    await bot.send_message(uid, "Share?", reply_markup=kb)
    await call(http, "POST", f"/sandbox/users/{uid}/press", {"text": "Menu"})
    await call(http, "POST", f"/sandbox/users/{uid}/press", {"text": "📱 Share phone", "message_id": 1})
    await call(http, "POST", f"/sandbox/users/{uid}/press", {"text": "Nope"}, status=400)
    menu, share = (u.message for u in await bot.get_updates(timeout=1))
    assert menu.text == "Menu" and share.contact.phone_number == "+8613800000005" and share.contact.user_id == uid
    once = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Once")]], one_time_keyboard=True)
    await bot.send_message(uid, "one time", reply_markup=once)
    await call(http, "POST", f"/sandbox/users/{uid}/press", {"text": "Once"})
    assert (await call(http, "GET", f"/sandbox/users/{uid}/messages"))["reply_keyboard"] is None


async def test_messages_wait_after_and_since(http, bot):
    uid = await new_user(http)
    started = time.monotonic()
    empty = await call(http, "GET", f"/sandbox/users/{uid}/messages", params={"after": 0, "wait": 0.5})
    assert empty["messages"] == [] and 0.4 <= time.monotonic() - started < 5

    async def later() -> Message:
        await asyncio.sleep(0.2)
        return await bot.send_message(uid, "<b>late</b>", parse_mode="HTML")

    task = asyncio.create_task(later())
    started = time.monotonic()
    got = await call(http, "GET", f"/sandbox/users/{uid}/messages", params={"after": 0, "wait": 20})
    assert time.monotonic() - started < 5
    sent = await task
    [view] = got["messages"]
    assert view["message_id"] == sent.message_id and view["text"] == "late" and view["html"] == "<b>late</b>"
    assert view["edited"] is False and view["protect_content"] is False and view["reply_markup"] is None
    seq = got["seq"]

    asyncio.get_running_loop().call_later(
        0.2, lambda: asyncio.ensure_future(bot.edit_message_text("later", chat_id=uid, message_id=sent.message_id)))
    started = time.monotonic()
    feed = await call(http, "GET", f"/sandbox/users/{uid}/messages", params={"since": seq, "wait": 20})
    assert time.monotonic() - started < 5
    assert [(m["message_id"], m["text"], m["edited"]) for m in feed["messages"]] == [(sent.message_id, "later", True)]
    assert feed["seq"] > seq
    assert (await call(http, "GET", f"/sandbox/users/{uid}/messages", params={"after": sent.message_id}))[
        "messages"] == []
    await call(http, "GET", f"/sandbox/users/{uid}/messages", params={"wait": "soon"}, status=400)


async def test_block_and_unblock(http, bot):
    uid = await new_user(http)
    await bot.get_me()  # the sandbox learns the bot's id from its token
    assert (await call(http, "POST", f"/sandbox/users/{uid}/block"))["blocked"] is True
    assert "unblock" in (await call(http, "POST", f"/sandbox/users/{uid}/send", {"text": "hi"}, status=409))["error"]
    await call(http, "POST", f"/sandbox/users/{uid}/unblock")
    kicked, back = await bot.get_updates(timeout=1)
    assert kicked.my_chat_member.new_chat_member.status == "kicked"
    assert kicked.my_chat_member.new_chat_member.user.id == 7654321
    assert back.my_chat_member.new_chat_member.status == "member" and back.my_chat_member.from_user.id == uid


async def test_faults_stats_reset(http, bot):
    uid = await new_user(http)
    faults = await call(http, "POST", "/sandbox/faults", {"rate_limit": {"global_per_s": 2, "per_chat_per_s": None},
                                                         "fail": [{"method": "getMe", "status": 502, "count": 1}]})
    assert faults["rate_limit"] == {"global_per_s": 2, "per_chat_per_s": None}
    assert faults["fail"][0]["method"] == "getme" and faults["fail"][0]["count"] == 1
    async with http.post(f"/bot{TOKEN}/getMe") as resp:
        assert resp.status == 502 and (await resp.json())["description"] == "Bad Gateway"
    statuses = []
    for _ in range(3):
        async with http.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": str(uid), "text": "x"}) as resp:
            statuses.append(resp.status)
            body = await resp.json()
    assert statuses == [200, 200, 429] and body["parameters"] == {"retry_after": 1}
    assert body["description"] == "Too Many Requests: retry after 1"
    assert await call(http, "GET", "/sandbox/stats") == {"calls": {"getMe": 1, "sendMessage": 3}, "errors": 2,
                                                         "rate_limited": 1, "entity_errors": 0}
    assert await call(http, "GET", "/sandbox/faults") == {"rate_limit": {"global_per_s": 2, "per_chat_per_s": None},
                                                         "fail": []}
    await call(http, "POST", "/sandbox/reset")
    assert await call(http, "GET", "/sandbox/stats") == {"calls": {}, "errors": 0, "rate_limited": 0,
                                                         "entity_errors": 0}
    assert (await call(http, "GET", "/sandbox/users"))["users"][0]["id"] == uid  # users survive a reset
    await bot.send_message(uid, "fine")


async def test_jobs(http, jobs):
    listed = await call(http, "GET", "/sandbox/jobs")
    assert [j["id"] for j in listed["jobs"]] == ["daily", "weekly"]
    assert await call(http, "POST", "/sandbox/jobs/weekly/run") == {"ok": True}
    assert jobs.ran == ["weekly"]
    await call(http, "POST", "/sandbox/jobs/nope/run", status=404)


async def test_no_jobs_and_no_static_files(tmp_path: Path):
    srv = TestServer(build_sandbox_app(static_dir=tmp_path / "missing"))
    await srv.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(srv.make_url(""))) as http:
            assert await call(http, "GET", "/sandbox/jobs") == {"jobs": []}
            await call(http, "POST", "/sandbox/jobs/x/run", status=404)
            assert await call(http, "GET", "/sandbox/info") == {"bot": None, "updates_pending": 0, "seq": 0}
            async with http.get("/") as resp:
                assert resp.status == 404
    finally:
        await srv.close()


async def test_static_files(http):
    async with http.get("/") as resp:
        assert resp.status == 200 and await resp.text() == "<h1>chat</h1>"
    async with http.get("/static/app.js") as resp:
        assert resp.status == 200 and "javascript" in resp.content_type
    for path in ("/static/missing.css", "/static/..%2Fsecret", "/static/../../etc/passwd"):
        async with http.get(path) as resp:
            assert resp.status == 404


async def test_a_real_dispatcher_runs_against_the_sandbox(http, bot):
    """aiogram's own polling loop, handlers and filters over the sandbox, end to end."""
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Ping", callback_data="ping")]])
        await message.answer(f"Hello, <b>{message.from_user.first_name}</b>!", reply_markup=kb, parse_mode="HTML")

    @dp.callback_query(F.data == "ping")
    async def ping(query: CallbackQuery) -> None:
        await query.message.edit_text("Pong")
        await query.answer("pong!", show_alert=True)

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False,
                                                   polling_timeout=1))
    try:
        uid = await new_user(http, first_name="Zoe")
        await call(http, "POST", f"/sandbox/users/{uid}/send", {"text": "/start"})
        got = await call(http, "GET", f"/sandbox/users/{uid}/messages", params={"after": 1, "wait": 10})
        [hello] = got["messages"]
        assert hello["text"] == "Hello, Zoe!" and hello["html"] == "Hello, <b>Zoe</b>!"
        pressed = await call(http, "POST", f"/sandbox/users/{uid}/press",
                             {"message_id": hello["message_id"], "text": "Ping"})
        assert pressed["answer"] == {"text": "pong!", "show_alert": True}
        [pong] = (await call(http, "GET", f"/sandbox/users/{uid}/messages", params={"after": 1}))["messages"]
        assert pong["text"] == "Pong" and pong["edited"] and pong["reply_markup"] is None
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)


async def test_clock_get_advance_and_set_without_a_bot(http):
    from datetime import UTC, datetime

    start = await call(http, "GET", "/sandbox/clock")
    assert start["offset_seconds"] == 0.0
    assert abs((datetime.fromisoformat(start["now"]) - datetime.now(UTC)).total_seconds()) < 5
    moved = await call(http, "POST", "/sandbox/clock", {"advance": 3600})
    assert moved["offset_seconds"] == 3600.0
    assert abs((datetime.fromisoformat(moved["now"]) - datetime.now(UTC)).total_seconds() - 3600) < 5
    back = await call(http, "POST", "/sandbox/clock", {"advance": -600.5})
    assert back["offset_seconds"] == 3000.0 - 0.5
    target = datetime(2030, 1, 7, 0, 0, tzinfo=UTC)
    at = await call(http, "POST", "/sandbox/clock", {"set": "2030-01-07T08:00:00+08:00"})
    assert abs((datetime.fromisoformat(at["now"]) - target).total_seconds()) < 5
    assert abs(at["offset_seconds"] - (target - datetime.now(UTC)).total_seconds()) < 5
    assert (await call(http, "GET", "/sandbox/clock"))["offset_seconds"] == at["offset_seconds"]


@pytest.mark.parametrize(("body", "error"), [
    ({}, 'give exactly one of "advance" (seconds) or "set" (an ISO time)'),
    ({"advance": 1, "set": "2030-01-07T00:00:00+00:00"}, 'give exactly one of "advance" (seconds) or "set" (an ISO time)'),
    ({"advance": "soon"}, "advance must be a number of seconds, e.g. 3600 or -60"),
    ({"advance": True}, "advance must be a number of seconds, e.g. 3600 or -60"),
    ({"advance": None}, "advance must be a number of seconds, e.g. 3600 or -60"),
    ({"advance": 1e300}, "the clock cannot move more than 100 years from the real time"),
    ({"set": "next monday"}, "set must be an ISO time, e.g. 2026-11-30T00:00:00+08:00"),
    ({"set": 1234}, "set must be an ISO time, e.g. 2026-11-30T00:00:00+08:00"),
    ({"set": "2030-01-07T00:00:00"}, "set needs a UTC offset, e.g. 2026-11-30T00:00:00+08:00"),
    ({"set": "9999-01-07T00:00:00+00:00"}, "the clock cannot move more than 100 years from the real time"),
])
async def test_clock_refuses_a_bad_move_and_stays(http, body, error):
    assert await call(http, "POST", "/sandbox/clock", body, status=400) == {"error": error}
    assert (await call(http, "GET", "/sandbox/clock"))["offset_seconds"] == 0.0


async def test_clock_move_runs_the_bots_sweep_before_answering(tmp_path):
    from bot.clock import MovableClock
    from bot.sandbox.control import ClockControl

    seen: list[float] = []
    control = ClockControl(MovableClock(ZoneInfo("Asia/Shanghai"), offset_seconds=60))

    async def sweep_and_flush() -> None:
        seen.append(control.clock.offset_seconds)  # the clock has moved when the sweep runs

    control.after_move = sweep_and_flush
    srv = TestServer(build_sandbox_app(clock=control, static_dir=tmp_path))
    await srv.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(srv.make_url(""))) as http:
            assert (await call(http, "GET", "/sandbox/clock"))["offset_seconds"] == 60.0
            assert seen == []  # reading the clock runs nothing
            answer = await call(http, "POST", "/sandbox/clock", {"advance": 30})
            assert answer["offset_seconds"] == 90.0 and answer["now"].endswith("+08:00")
            assert seen == [90.0]
            await call(http, "POST", "/sandbox/clock", {"advance": "x"}, status=400)
            assert seen == [90.0]  # a refused move runs nothing

            async def broken() -> None:
                raise OSError("disk full")

            control.after_move = broken
            failed = await call(http, "POST", "/sandbox/clock", {"advance": 1}, status=500)
            assert failed == {"error": "the clock moved but the sweep failed: OSError: disk full"}
    finally:
        await srv.close()

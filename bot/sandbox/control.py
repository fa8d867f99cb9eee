"""The sandbox control API (JSON under /sandbox/): play simulated users, read their chats,
inject faults, read stats, run scheduled jobs, move the bot's clock. Used by end-to-end tests
and the web chat.

Errors are `{"error": "..."}` with 400 (bad input / no such button), 404 (unknown user, job
or file) or 409 (the user has blocked the bot: unblock first, like Telegram's "Restart").

Message view (GET /sandbox/users/{uid}/messages), one dict per message:
    message_id, from ("bot"|"user"), date, seq (sequence number of its last change),
    edited, deleted, protect_content, reply_markup (inline keyboard JSON or null),
    reply_to_message_id?, text + entities + html | caption + entities + html,
    photo {url, file_id, width, height}?, document {file_name, mime_type, file_size, url, file_id}?,
    contact {phone_number, first_name, last_name?, user_id?}?, sticker {emoji, url, file_id}?
`html` is rebuilt from text+entities (only Telegram's tags, everything else escaped; newlines
stay "\\n"). Deleted messages: `?after=N` (the default, after=0) lists the chat as it is now,
so deleted messages are absent; `?since=SEQ` is a change feed, so a deletion shows up as
{message_id, from, seq, deleted: true}. Every response also carries `seq`, `reply_keyboard`
(the chat's current ReplyKeyboardMarkup or null) and `chat_action` (a sendChatAction from
the last 5 s, or null).

Clock: GET /sandbox/clock -> {"now": "<ISO time with offset>", "offset_seconds": float}.
POST /sandbox/clock with {"advance": seconds} (a number, may be negative) or {"set": "<ISO time
with a UTC offset>"} moves the clock (time keeps running from there); when the bot runs in this
process it is the bot's clock, and the bot's due work is swept and its outbox flushed once before
the answer (same shape as GET). With `--no-bot` the sandbox keeps a clock of its own: start a
bot process with CLOCK_OFFSET_SECONDS=<offset_seconds> and it runs at the same time.
"""
from __future__ import annotations

import functools
import inspect
import io
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.web_request import FileField

from bot.clock import MovableClock
from bot.config import MAX_CLOCK_OFFSET
from bot.sandbox.html_entities import render_html, utf16_len
from bot.sandbox.state import Msg, Profile, SandboxState, get_state

log = logging.getLogger("bot.sandbox")

COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")
MAX_WAIT = 30.0

json_response = functools.partial(
    web.json_response, dumps=functools.partial(json.dumps, ensure_ascii=False, default=str))


class ControlError(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


def guarded(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    """Turn ControlError into a JSON error response."""
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as exc:
            return json_response({"error": exc.error}, status=exc.status)
    return wrapper


async def read_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ControlError(400, "invalid JSON body") from None
        if not isinstance(body, dict):
            raise ControlError(400, "the JSON body must be an object")
        return body
    return dict((await request.post()).items())


def user_of(request: web.Request, *, active: bool = True) -> tuple[SandboxState, Profile]:
    state = get_state(request.app)
    try:
        prof = state.users[int(request.match_info["uid"])]
    except (KeyError, ValueError):
        raise ControlError(404, "unknown user") from None
    if active and prof.blocked:
        raise ControlError(409, "the user has blocked the bot; unblock first")
    return state, prof


def user_says(state: SandboxState, prof: Profile, content: dict[str, Any]) -> dict[str, Any]:
    msg = state.add_message(prof.id, "user", content)
    state.push_update("message", msg.tg)
    return {"message_id": msg.message_id}


def text_message(state: SandboxState, prof: Profile, text: str) -> dict[str, Any]:
    if not text.strip():
        raise ControlError(400, "text is empty")
    if utf16_len(text) > 4096:
        raise ControlError(400, "text is longer than 4096 characters")
    content: dict[str, Any] = {"text": text}
    if m := COMMAND.match(text):
        content["entities"] = [{"offset": 0, "length": utf16_len(m.group(0)), "type": "bot_command"}]
    return user_says(state, prof, content)


def own_contact(state: SandboxState, prof: Profile) -> dict[str, Any]:
    if not prof.phone:
        raise ControlError(400, "the user has no phone number in the profile")
    contact = {"phone_number": prof.phone, "first_name": prof.first_name, "user_id": prof.id}
    if prof.last_name:
        contact["last_name"] = prof.last_name
    return user_says(state, prof, {"contact": contact})


def file_url(file_id: str) -> str:
    return f"/sandbox/files/{quote(file_id)}"


def message_view(m: Msg) -> dict[str, Any]:
    tg = m.tg
    if m.deleted:
        return {"message_id": m.message_id, "from": m.sender, "seq": m.seq, "deleted": True}
    view: dict[str, Any] = {
        "message_id": m.message_id, "from": m.sender, "date": tg["date"], "seq": m.seq,
        "edited": m.edited, "deleted": False, "protect_content": bool(tg.get("has_protected_content")),
        "reply_markup": tg.get("reply_markup")}
    if "reply_to_message" in tg:
        view["reply_to_message_id"] = tg["reply_to_message"]["message_id"]
    for key, ent_key in (("text", "entities"), ("caption", "caption_entities")):
        if key in tg:
            view[key] = tg[key]
            view["entities"] = tg.get(ent_key, [])
            view["html"] = render_html(tg[key], tg.get(ent_key))
    if "photo" in tg:
        size = tg["photo"][-1]
        view["photo"] = {"url": file_url(size["file_id"]), "file_id": size["file_id"],
                         "width": size["width"], "height": size["height"]}
    if "document" in tg:
        doc = tg["document"]
        view["document"] = {"file_name": doc.get("file_name"), "mime_type": doc.get("mime_type"),
                            "file_size": doc.get("file_size"), "url": file_url(doc["file_id"]),
                            "file_id": doc["file_id"]}
    if "contact" in tg:
        view["contact"] = tg["contact"]
    if "sticker" in tg:
        view["sticker"] = {"emoji": tg["sticker"].get("emoji"), "url": file_url(tg["sticker"]["file_id"]),
                           "file_id": tg["sticker"]["file_id"]}
    return view


def profile_view(state: SandboxState, prof: Profile) -> dict[str, Any]:
    return {"id": prof.id, "first_name": prof.first_name, "last_name": prof.last_name,
            "username": prof.username, "language_code": prof.language_code, "phone": prof.phone,
            "blocked": prof.blocked, "unread": state.unread(prof.id)}


# ---- users -----------------------------------------------------------------------------------
async def post_user(request: web.Request) -> web.Response:
    state, body = get_state(request.app), await read_body(request)
    if "id" in body and body["id"] is not None:
        try:
            body["id"] = int(body["id"])
        except (TypeError, ValueError):
            raise ControlError(400, "id must be an integer") from None
        if body["id"] <= 0:
            raise ControlError(400, "id must be positive")
    if "first_name" in body and not str(body["first_name"] or "").strip():
        raise ControlError(400, "first_name is empty")
    return json_response({"id": state.upsert_user(body).id})


async def list_users(request: web.Request) -> web.Response:
    state = get_state(request.app)
    return json_response({"users": [profile_view(state, p) for p in state.users.values()]})


async def get_user(request: web.Request) -> web.Response:
    state, prof = user_of(request, active=False)
    return json_response(profile_view(state, prof))


async def send(request: web.Request) -> web.Response:
    state, prof = user_of(request)
    body = await read_body(request)
    return json_response(text_message(state, prof, str(body.get("text") or "")))


async def contact(request: web.Request) -> web.Response:
    state, prof = user_of(request)
    body = await read_body(request)
    if not body.get("phone"):
        return json_response(own_contact(state, prof))
    shared: dict[str, Any] = {"phone_number": str(body["phone"]),
                              "first_name": str(body.get("first_name") or "Contact")}
    if body.get("last_name"):
        shared["last_name"] = str(body["last_name"])
    if body.get("user_id") is not None:
        shared["user_id"] = int(body["user_id"])
    return json_response(user_says(state, prof, {"contact": shared}))


async def upload(request: web.Request) -> web.Response:
    state, prof = user_of(request)
    kind = request.match_info["kind"]
    body = await read_body(request)
    part = body.get("file")
    if not isinstance(part, FileField):
        raise ControlError(400, "send the file as a multipart field named 'file'")
    name = unquote(part.filename) if part.filename else None  # aiohttp's FormData percent-encodes names
    f = state.store_upload(kind, part.file.read(), name, part.content_type, strict=False)
    content: dict[str, Any] = {"photo": f.photo_json()} if kind == "photo" else {"document": f.document_json()}
    if body.get("caption"):
        content["caption"] = str(body["caption"])
    return json_response(user_says(state, prof, content))


async def sticker(request: web.Request) -> web.Response:
    state, prof = user_of(request)
    f = state.files.get(state.sticker_file_id or "")
    if f is None:
        f = state.store_file("sticker", _sticker_bytes(), mime_type="image/webp", ext=".webp", width=512, height=512)
        state.sticker_file_id = f.file_id
    obj = {"file_id": f.file_id, "file_unique_id": f.file_unique_id, "type": "regular", "width": 512,
           "height": 512, "is_animated": False, "is_video": False, "emoji": "👍", "file_size": f.size}
    return json_response(user_says(state, prof, {"sticker": obj}))


def _sticker_bytes() -> bytes:
    try:
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGBA", (512, 512), (255, 200, 0, 255)).save(buf, "WEBP")
        return buf.getvalue()
    except Exception:  # noqa: BLE001 - no WEBP support: the sticker just has no picture
        return b""


async def press(request: web.Request) -> web.Response:
    state, prof = user_of(request)
    body = await read_body(request)
    if "data" not in body and "text" not in body:
        raise ControlError(400, "give the button's callback 'data' or its 'text'")
    msg = None
    if body.get("message_id") is not None:
        try:
            msg = state.find_message(prof.id, int(body["message_id"]))
        except (TypeError, ValueError):
            raise ControlError(400, "message_id must be an integer") from None
    if msg is not None and msg.sender == "bot":
        rows = (msg.tg.get("reply_markup") or {}).get("inline_keyboard") or []
        for button in (b for row in rows for b in row):
            hit = button.get("callback_data") == body["data"] if "data" in body else button.get("text") == body["text"]
            if not hit:
                continue
            if "callback_data" not in button:
                raise ControlError(400, "that button has no callback data (a url or other button): nothing to send")
            return json_response(await _callback(state, prof, msg, button["callback_data"], body))
    keyboard = state.chats[prof.id].reply_keyboard
    if "data" not in body and keyboard:
        for button in (b for row in keyboard["keyboard"] for b in row):
            if button.get("text") != body["text"]:
                continue
            if button.get("request_contact"):
                result = own_contact(state, prof)
            elif len(button) > 1:
                raise ControlError(400, "the sandbox only supports plain and request_contact reply buttons")
            else:
                result = text_message(state, prof, button["text"])
            if keyboard.get("one_time_keyboard"):
                state.chats[prof.id].reply_keyboard = None
            return json_response(result)
    if body.get("message_id") is not None and msg is None:
        raise ControlError(400, "message not found")
    raise ControlError(400, "no such button: the message has no such inline button and the chat's reply "
                            "keyboard has no such button")


async def _callback(state: SandboxState, prof: Profile, msg: Msg, data: str, body: dict[str, Any]) -> dict[str, Any]:
    qid = state.new_callback_query()
    state.push_update("callback_query", {
        "id": qid, "from": state.user_json(prof), "message": msg.tg,
        "chat_instance": str((prof.id * 1_000_003 + (state.bot_id or 0)) % 10 ** 18), "data": data})
    wait = min(float(body.get("wait", 5.0)), MAX_WAIT)
    return {"callback_query_id": qid, "answer": await state.wait_answer(qid, wait)}


async def messages(request: web.Request) -> web.Response:
    state, prof = user_of(request, active=False)
    chat = state.chats[prof.id]
    try:
        after = int(request.query.get("after", 0))
        since = int(request.query["since"]) if "since" in request.query else None
        wait = min(max(float(request.query.get("wait", 0)), 0.0), MAX_WAIT)
    except ValueError:
        raise ControlError(400, "after, since and wait must be numbers") from None
    if since is not None:
        def pick(m: Msg) -> bool:
            return m.seq > since
    else:
        def pick(m: Msg) -> bool:
            return m.message_id > after and not m.deleted
    await state.chat_signals.wait_for(
        prof.id, lambda: any(m.sender == "bot" and pick(m) for m in chat.messages.values()), wait, state.is_closed)
    picked = [m for m in sorted(chat.messages.values(), key=lambda m: m.message_id) if pick(m)]
    if picked:
        chat.read_upto = max(chat.read_upto, picked[-1].message_id)
    action = chat.action[0] if chat.action and time.time() - chat.action[1] < 5 else None
    return json_response({"messages": [message_view(m) for m in picked], "seq": state.seq,
                              "reply_keyboard": chat.reply_keyboard, "chat_action": action})


async def commands(request: web.Request) -> web.Response:
    state, prof = user_of(request, active=False)
    return json_response({"commands": state.commands_for_user(prof.id)})


async def block(request: web.Request) -> web.Response:
    state, prof = user_of(request, active=False)
    blocked = request.match_info["action"] == "block"
    if prof.blocked != blocked:
        prof.blocked = blocked
        if state.bot_id is not None:  # Telegram tells the bot through my_chat_member
            bot, member, kicked = state.bot_user(), {"status": "member"}, {"status": "kicked", "until_date": 0}
            old, new = (member, kicked) if blocked else (kicked, member)
            state.push_update("my_chat_member", {
                "chat": state.chat_json(prof), "from": state.user_json(prof), "date": int(time.time()),
                "old_chat_member": {**old, "user": bot}, "new_chat_member": {**new, "user": bot}})
    return json_response({"id": prof.id, "blocked": prof.blocked})


# ---- faults, stats, jobs, files, info ----------------------------------------------------------
async def post_faults(request: web.Request) -> web.Response:
    """A key that is present replaces that part ("rate_limit": null switches limiting off,
    "fail" replaces the whole list); an absent key leaves it as it is. Fail rules match the
    method case-insensitively, "*" matches any method; they run before the rate limit. A rule fails
    `count` calls (default 1), or with "seconds" every call it matches for that long (an outage;
    the rules are tried in order, so a later rule takes over when an earlier one's time is up).
    A rule for
    "webhook" (never matched by "*") fails webhook deliveries instead (bot/sandbox/webhook.py)."""
    state, body = get_state(request.app), await read_body(request)
    rate = body.get("rate_limit")
    if rate is not None and not isinstance(rate, dict):
        raise ControlError(400, "rate_limit must be an object or null")
    if not isinstance(body.get("fail", []), (list, type(None))):
        raise ControlError(400, "fail must be a list")
    try:
        state.set_faults(body)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ControlError(400, f"bad fault spec: {exc}") from None
    return json_response(state.faults_json())


async def get_faults(request: web.Request) -> web.Response:
    return json_response(get_state(request.app).faults_json())


async def stats(request: web.Request) -> web.Response:
    """calls per Bot API method (getUpdates too); errors counts every non-ok answer, 429s included;
    entity_errors the 400 "can't parse entities" among them (text Telegram would refuse to parse)."""
    state = get_state(request.app)
    return json_response({"calls": dict(state.calls), "errors": state.errors,
                          "rate_limited": state.rate_limited, "entity_errors": state.entity_errors})


async def reset(request: web.Request) -> web.Response:
    get_state(request.app).reset()
    return json_response({"ok": True})


async def list_jobs(request: web.Request) -> web.Response:
    jobs = get_state(request.app).jobs
    found = jobs.list_jobs() if jobs is not None else []
    if inspect.isawaitable(found):
        found = await found
    return json_response({"jobs": list(found)})


async def run_job(request: web.Request) -> web.Response:
    jobs = get_state(request.app).jobs
    if jobs is None:
        raise ControlError(404, "no jobs in this sandbox")
    try:
        await jobs.run_job(request.match_info["job_id"])
    except KeyError:
        raise ControlError(404, "unknown job") from None
    return json_response({"ok": True})


async def get_file(request: web.Request) -> web.StreamResponse:
    f = get_state(request.app).files.get(request.match_info["file_id"])
    if f is None:
        raise ControlError(404, "unknown file")
    headers = {"Content-Disposition": f"inline; filename*=UTF-8''{quote(f.file_name)}"} if f.file_name else {}
    return web.Response(body=f.data, content_type=f.mime_type, headers=headers)


async def info(request: web.Request) -> web.Response:
    state = get_state(request.app)
    bot = {"id": state.bot_id, "username": state.bot_username} if state.bot_id is not None else None
    return json_response({"bot": bot, "updates_pending": len(state.updates), "seq": state.seq})


# ---- clock ---------------------------------------------------------------------------------------
class ClockControl:
    """What /sandbox/clock moves: a MovableClock (the bot's, when the bot runs in this process) and
    what runs after a move (the bot's sweep of due work and an outbox flush; nothing without a bot)."""

    def __init__(self, clock: MovableClock | None = None,
                 after_move: Callable[[], Awaitable[object]] | None = None) -> None:
        self.clock = clock or MovableClock(ZoneInfo("UTC"))
        self.after_move = after_move


def clock_view(control: ClockControl) -> dict[str, Any]:
    return {"now": control.clock.now().isoformat(), "offset_seconds": control.clock.offset_seconds}


async def get_clock(request: web.Request) -> web.Response:
    return json_response(clock_view(get_state(request.app).clock))


async def post_clock(request: web.Request) -> web.Response:
    control, body = get_state(request.app).clock, await read_body(request)
    moves = [key for key in ("advance", "set") if key in body]
    if len(moves) != 1:
        raise ControlError(400, 'give exactly one of "advance" (seconds) or "set" (an ISO time)')
    clock = control.clock
    when: datetime | None = None
    if moves[0] == "advance":
        seconds = body["advance"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise ControlError(400, "advance must be a number of seconds, e.g. 3600 or -60")
        new_offset = clock.offset_seconds + seconds
    else:
        try:
            when = datetime.fromisoformat(body["set"]) if isinstance(body["set"], str) else None
        except ValueError:
            when = None
        if when is None:
            raise ControlError(400, "set must be an ISO time, e.g. 2026-11-30T00:00:00+08:00")
        if when.tzinfo is None:
            raise ControlError(400, "set needs a UTC offset, e.g. 2026-11-30T00:00:00+08:00")
        new_offset = (when - datetime.now(when.tzinfo)).total_seconds()
    if abs(new_offset) > MAX_CLOCK_OFFSET:
        raise ControlError(400, "the clock cannot move more than 100 years from the real time")
    if when is None:
        clock.advance(new_offset - clock.offset_seconds)
    else:
        clock.set(when)
    if control.after_move is not None:
        try:
            await control.after_move()
        except Exception as exc:  # the clock moved: say that the sweep did not finish
            log.exception("the sweep after a clock move failed")
            raise ControlError(500, f"the clock moved but the sweep failed: {type(exc).__name__}: {exc}") from None
    return json_response(clock_view(control))


def setup_control(app: web.Application) -> None:
    routes = [
        ("POST", "/users", post_user), ("GET", "/users", list_users), ("GET", "/users/{uid}", get_user),
        ("POST", "/users/{uid}/send", send), ("POST", "/users/{uid}/contact", contact),
        ("POST", "/users/{uid}/{kind:photo|document}", upload), ("POST", "/users/{uid}/sticker", sticker),
        ("POST", "/users/{uid}/press", press), ("GET", "/users/{uid}/messages", messages),
        ("GET", "/users/{uid}/commands", commands), ("POST", "/users/{uid}/{action:block|unblock}", block),
        ("POST", "/faults", post_faults), ("GET", "/faults", get_faults), ("GET", "/stats", stats),
        ("POST", "/reset", reset), ("GET", "/jobs", list_jobs), ("POST", "/jobs/{job_id}/run", run_job),
        ("GET", "/files/{file_id}", get_file), ("GET", "/info", info),
        ("GET", "/clock", get_clock), ("POST", "/clock", post_clock),
    ]
    for verb, path, handler in routes:
        app.router.add_route(verb, "/sandbox" + path, guarded(handler))

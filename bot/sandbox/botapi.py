"""The fake Telegram Bot API: `/bot{token}/{method}` and `/file/bot{token}/{file_path}`.

Parameters come as query string, urlencoded or multipart form (complex values as JSON
strings, files as `attach://key` parts or parts named after the field) or a JSON body.
Method names are case-insensitive, like Telegram's. Errors use Telegram's wording.
"""
from __future__ import annotations

import builtins
import functools
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from bot.sandbox.html_entities import check_markup, message_text
from bot.sandbox.state import Msg, SandboxState, StoredFile, get_state
from bot.sandbox.webhook import WebhookSetup

Handler = Callable[[SandboxState, "Params"], Awaitable[Any]]
HANDLERS: dict[str, tuple[str, Handler]] = {}  # lower-case name -> (canonical name, handler)
RATE_LIMITED = {"sendmessage", "sendphoto", "senddocument", "sendchataction", "editmessagetext",
                "editmessagecaption", "editmessagereplymarkup", "deletemessage", "answercallbackquery"}
CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                "upload_document", "choose_sticker", "find_location", "record_video_note",
                "upload_video_note"}
NOT_MODIFIED = ("message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message")
WRONG_FILE = "wrong file identifier/HTTP URL specified"
WEBHOOK_ACTIVE = ("Conflict: can't use getUpdates method while webhook is active; "
                  "use deleteWebhook to delete the webhook first")

json_response = functools.partial(
    web.json_response, dumps=functools.partial(json.dumps, ensure_ascii=False, default=str))


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def method(name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        HANDLERS[name.lower()] = (name, func)
        return func
    return register


class Params:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def has(self, key: str) -> bool:
        return self.raw.get(key) not in (None, "")

    def str(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None or isinstance(value, FileField):
            return None
        return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)

    def int(self, key: builtins.str) -> builtins.int | None:
        value = self.raw.get(key)
        if value in (None, ""):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad(f"invalid {key} specified") from None

    def bool(self, key: builtins.str) -> builtins.bool:
        return self.raw.get(key) in (True, 1, "true", "True", "1")

    def json(self, key: builtins.str, error: builtins.str) -> Any:
        value = self.raw.get(key)
        if isinstance(value, builtins.str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad(error) from None
        return value


async def read_params(request: web.Request) -> dict[str, Any]:
    raw: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                raw.update(body)
        else:
            raw.update((await request.post()).items())
    return raw


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return json_response(body, status=status)


async def handle_method(request: web.Request) -> web.Response:
    state = get_state(request.app)
    if state.remember_token(request.match_info["token"]) is None:
        return _error(401, "Unauthorized")
    name = request.match_info["method"]
    canonical, handler = HANDLERS.get(name.lower(), (name, None))
    state.calls[canonical] += 1
    try:
        if handler is None:
            raise ApiError(404, "Not Found")
        params = Params(await read_params(request))
        try:
            chat_id = int(params.raw.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            chat_id = None
        fault = state.take_fault(canonical, chat_id, canonical.lower() in RATE_LIMITED)
        if fault is not None:
            raise ApiError(*fault)
        result = await handler(state, params)
    except ApiError as exc:
        state.errors += 1
        if exc.status == 429:
            state.rate_limited += 1
        if "can't parse entities" in exc.description:
            state.entity_errors += 1
        return _error(exc.status, exc.description, exc.retry_after)
    return json_response({"ok": True, "result": result})


async def handle_file(request: web.Request) -> web.StreamResponse:
    state = get_state(request.app)
    f = state.files_by_path.get(request.match_info["file_path"])
    if f is None:
        return _error(404, "Not Found")
    return web.Response(body=f.data, content_type=f.mime_type)


def setup_botapi(app: web.Application) -> None:
    app.router.add_route("*", "/bot{token}/{method}", handle_method)
    app.router.add_get("/file/bot{token}/{file_path:.+}", handle_file)


# ---- shared checks ---------------------------------------------------------------------------
def chat_of(state: SandboxState, p: Params, *, check_blocked: bool = True) -> int:
    if not p.has("chat_id"):
        raise bad("chat_id is empty")
    try:
        uid = int(p.raw["chat_id"])
    except (TypeError, ValueError):
        raise bad("chat not found") from None
    if uid not in state.users:
        raise bad("chat not found")
    if check_blocked and state.users[uid].blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    return uid


def format_text(p: Params, text_key: str, entities_key: str, *, caption: bool) -> tuple[str, list[dict[str, Any]]]:
    entities = p.json(entities_key, "can't parse entities JSON object") if p.has(entities_key) else None
    try:
        return message_text(p.str(text_key) or "", p.str("parse_mode"), entities, caption=caption)
    except ValueError as exc:
        raise bad(str(exc)) from None


def parse_markup(p: Params) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    try:
        return check_markup(p.json("reply_markup", "can't parse reply keyboard markup JSON object"))
    except ValueError as exc:
        raise bad(str(exc)) from None


def reply_to(state: SandboxState, uid: int, p: Params) -> dict[str, Any]:
    params = p.json("reply_parameters", "can't parse reply parameters JSON object") or {}
    mid = params.get("message_id") if isinstance(params, dict) else None
    allow = bool(params.get("allow_sending_without_reply")) if isinstance(params, dict) else False
    if mid is None and p.has("reply_to_message_id"):
        mid, allow = p.int("reply_to_message_id"), p.bool("allow_sending_without_reply")
    if mid is None:
        return {}
    target = state.find_message(uid, int(mid))
    if target is None:
        if allow:
            return {}
        raise bad("message to be replied not found")
    return {"reply_to_message": {k: v for k, v in target.tg.items() if k != "reply_to_message"}}


async def deliver(state: SandboxState, uid: int, p: Params, content: dict[str, Any]) -> dict[str, Any]:
    inline, reply_kb = parse_markup(p)
    content.update(reply_to(state, uid, p))
    if p.bool("protect_content"):
        content["has_protected_content"] = True
    if inline is not None:
        content["reply_markup"] = inline
    if reply_kb is not None:  # a reply keyboard is not echoed; it becomes the chat's keyboard
        state.chats[uid].reply_keyboard = None if reply_kb.get("remove_keyboard") else reply_kb
    state.chats[uid].action = None
    return state.add_message(uid, "bot", content).tg


def text_content(text: str, entities: list[dict[str, Any]], key: str = "text") -> dict[str, Any]:
    ent_key = "entities" if key == "text" else "caption_entities"
    out: dict[str, Any] = {key: text} if text else {}
    if entities:
        out[ent_key] = entities
    return out


def input_file(state: SandboxState, p: Params, field: str) -> StoredFile:
    value = p.raw.get(field)
    if isinstance(value, str) and value.startswith("attach://"):
        value = p.raw.get(value[len("attach://"):])
        if value is None:
            raise bad(f"there is no {field} in the request")
    if value in (None, ""):
        raise bad(f"there is no {field} in the request")
    if isinstance(value, FileField):
        try:
            return state.store_upload(field, value.file.read(), value.filename, value.content_type, strict=True)
        except ValueError as exc:
            raise bad(str(exc)) from None
    f = state.files.get(str(value))
    if f is None:
        raise bad(WRONG_FILE)
    if f.kind != field:
        raise bad("type of file mismatch")
    return f


def editable(state: SandboxState, p: Params) -> Msg:
    if p.has("inline_message_id"):
        raise bad("MESSAGE_ID_INVALID")
    uid = chat_of(state, p)
    mid = p.int("message_id")
    msg = state.find_message(uid, mid) if mid is not None else None
    if msg is None:
        raise bad("message to edit not found")
    if msg.sender != "bot":
        raise bad("message can't be edited")
    return msg


def apply_edit(state: SandboxState, msg: Msg, changes: dict[str, Any], remove: tuple[str, ...]) -> dict[str, Any]:
    new = {k: v for k, v in msg.tg.items() if k not in remove}
    new.update(changes)
    if new == msg.tg:
        raise bad(NOT_MODIFIED)
    msg.tg = new
    state.touch(msg, edited=True)
    return msg.tg


# ---- methods ---------------------------------------------------------------------------------
@method("getMe")
async def get_me(state: SandboxState, p: Params) -> Any:
    return {**state.bot_user(), "can_join_groups": False, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False}


@method("getUpdates")
async def get_updates(state: SandboxState, p: Params) -> Any:
    limit = min(max(p.int("limit") or 100, 1), 100)
    timeout = min(max(p.int("timeout") or 0, 0), 60)
    updates = await state.get_updates(p.int("offset"), limit, timeout)
    if updates is None:
        raise ApiError(409, WEBHOOK_ACTIVE)
    return updates


@method("setWebhook")
async def set_webhook(state: SandboxState, p: Params) -> Any:
    """An empty url removes the webhook (as deleteWebhook). The sandbox posts over http too."""
    url = p.str("url") or ""
    if not url:
        state.set_webhook(None, drop_pending=p.bool("drop_pending_updates"))
        return True
    if not re.match(r"^https?://[^/\s]+", url):
        raise bad("bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.str("secret_token")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise bad("secret token contains unallowed characters")
    connections = p.int("max_connections") or 40
    if not 1 <= connections <= 100:
        raise bad("bad webhook: max_connections must be between 1 and 100")
    allowed = p.json("allowed_updates", "can't parse allowed updates JSON object") if p.has("allowed_updates") else None
    if allowed is not None and not (isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)):
        raise bad("can't parse allowed updates JSON object")
    if allowed is None and state.webhook is not None:
        allowed = state.webhook.allowed_updates  # Telegram keeps the previous setting
    state.set_webhook(WebhookSetup(url=url, secret_token=secret or None, max_connections=connections,
                                   allowed_updates=allowed), drop_pending=p.bool("drop_pending_updates"))
    return True


@method("deleteWebhook")
async def delete_webhook(state: SandboxState, p: Params) -> Any:
    state.set_webhook(None, drop_pending=p.bool("drop_pending_updates"))
    return True


@method("getWebhookInfo")
async def get_webhook_info(state: SandboxState, p: Params) -> Any:
    return state.webhook_info()


def _commands_key(state: SandboxState, p: Params) -> tuple[str, str]:
    scope = p.json("scope", "can't parse BotCommandScope JSON object")
    if scope is not None and not isinstance(scope, dict):
        raise bad("can't parse BotCommandScope JSON object")
    return state.scope_key(scope), p.str("language_code") or ""


@method("setMyCommands")
async def set_my_commands(state: SandboxState, p: Params) -> Any:
    commands = p.json("commands", "can't parse commands JSON object")
    if not isinstance(commands, list):
        raise bad("can't parse commands JSON object")
    clean = []
    for c in commands:
        command, desc = (str(c.get("command", "")), str(c.get("description", ""))) if isinstance(c, dict) else ("", "")
        if not (0 < len(command) <= 32 and all(ch in "abcdefghijklmnopqrstuvwxyz0123456789_" for ch in command)):
            raise bad("BOT_COMMAND_INVALID")
        if not 1 <= len(desc) <= 256:
            raise bad("command description must be non-empty")
        clean.append({"command": command, "description": desc})
    key = _commands_key(state, p)
    if clean:
        state.commands[key] = clean
    else:
        state.commands.pop(key, None)
    return True


@method("deleteMyCommands")
async def delete_my_commands(state: SandboxState, p: Params) -> Any:
    state.commands.pop(_commands_key(state, p), None)
    return True


@method("getMyCommands")
async def get_my_commands(state: SandboxState, p: Params) -> Any:
    return state.commands.get(_commands_key(state, p), [])


@method("sendMessage")
async def send_message(state: SandboxState, p: Params) -> Any:
    uid = chat_of(state, p)
    text, entities = format_text(p, "text", "entities", caption=False)
    if not text:
        raise bad("message text is empty")
    p.json("link_preview_options", "can't parse link preview options JSON object")  # no previews drawn here
    return await deliver(state, uid, p, text_content(text, entities))


async def _send_media(state: SandboxState, p: Params, kind: str) -> Any:
    uid = chat_of(state, p)
    caption, entities = format_text(p, "caption", "caption_entities", caption=True)
    f = input_file(state, p, kind)
    media = {"photo": f.photo_json()} if kind == "photo" else {"document": f.document_json()}
    return await deliver(state, uid, p, {**media, **text_content(caption, entities, "caption")})


@method("sendPhoto")
async def send_photo(state: SandboxState, p: Params) -> Any:
    return await _send_media(state, p, "photo")


@method("sendDocument")
async def send_document(state: SandboxState, p: Params) -> Any:
    return await _send_media(state, p, "document")


async def _edit_content(state: SandboxState, p: Params, key: str) -> Any:
    msg, ent_key = editable(state, p), ("entities" if key == "text" else "caption_entities")
    if key == "text" and "text" not in msg.tg:
        raise bad("there is no text in the message to edit")
    if key == "caption" and not ({"photo", "document"} & msg.tg.keys()):
        raise bad("there is no caption in the message to edit")
    text, entities = format_text(p, key, ent_key, caption=key == "caption")
    if key == "text" and not text:
        raise bad("message text is empty")
    inline, _ = parse_markup(p)  # no reply_markup in an edit removes the inline keyboard
    changes = text_content(text, entities, key)
    if inline is not None:
        changes["reply_markup"] = inline
    return apply_edit(state, msg, changes, (key, ent_key, "reply_markup"))


@method("editMessageText")
async def edit_message_text(state: SandboxState, p: Params) -> Any:
    return await _edit_content(state, p, "text")


@method("editMessageCaption")
async def edit_message_caption(state: SandboxState, p: Params) -> Any:
    return await _edit_content(state, p, "caption")


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(state: SandboxState, p: Params) -> Any:
    msg = editable(state, p)
    inline, _ = parse_markup(p)
    return apply_edit(state, msg, {"reply_markup": inline} if inline else {}, ("reply_markup",))


@method("deleteMessage")
async def delete_message(state: SandboxState, p: Params) -> Any:
    uid = chat_of(state, p)
    mid = p.int("message_id")
    msg = state.find_message(uid, mid) if mid is not None else None
    if msg is None:
        raise bad("message to delete not found")
    state.touch(msg, deleted=True)
    return True


@method("answerCallbackQuery")
async def answer_callback_query(state: SandboxState, p: Params) -> Any:
    answer = {"text": p.str("text"), "show_alert": p.bool("show_alert")}
    if p.has("url"):
        answer["url"] = p.str("url")
    if not state.answer_callback(p.str("callback_query_id") or "", answer):
        raise bad("query is too old and response timeout expired or query ID is invalid")
    return True


@method("sendChatAction")
async def send_chat_action(state: SandboxState, p: Params) -> Any:
    uid = chat_of(state, p)
    action = p.str("action") or ""
    if action not in CHAT_ACTIONS:
        raise bad("wrong parameter action in request")
    state.chats[uid].action = (action, time.time())
    return True


@method("getFile")
async def get_file(state: SandboxState, p: Params) -> Any:
    f = state.files.get(p.str("file_id") or "")
    if f is None:
        raise bad("invalid file_id")
    return f.file_json()


@method("getChat")
async def get_chat(state: SandboxState, p: Params) -> Any:
    uid = chat_of(state, p, check_blocked=False)
    prof = state.users[uid]
    gifts = dict.fromkeys(("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription",
                           "gifts_from_channels"), True)
    return {**state.chat_json(prof), "accent_color_id": prof.id % 7, "max_reaction_count": 11,
            "accepted_gift_types": gifts}


@method("setChatMenuButton")
async def set_chat_menu_button(state: SandboxState, p: Params) -> Any:
    button = p.json("menu_button", "can't parse menu button JSON object") or {"type": "default"}
    if p.has("chat_id"):
        chat_of(state, p, check_blocked=False)
    state.menu_buttons[p.int("chat_id")] = button
    return True


async def _ok(state: SandboxState, p: Params) -> Any:
    return True


for _name in ("setMyDescription", "setMyShortDescription", "setMyName", "setMyDefaultAdministratorRights"):
    method(_name)(_ok)

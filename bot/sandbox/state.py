"""The sandbox's in-memory world: simulated users and their private chats with the bot, the
update queue the bot long-polls, callback answers, files, injected faults and call stats.

Everything lives on one `SandboxState` hanging off the aiohttp app (no module globals).
Waiting (long-poll getUpdates, the control API's `wait`, `press` waiting for the bot's
answerCallbackQuery) uses `Signal`: an asyncio.Event that is swapped for a fresh one each
time it fires, so waiters re-check their condition after every change. What many wait for at once
(a person's chat, a press's answer: 2,000 simulated people in bench/load.py) is keyed (`Signals`,
one Signal per chat or callback query): a change wakes the waiters of its key only, not all of them
(with one Signal for all, each bot message woke every waiting person, and the sandbox spent its time
re-checking them instead of answering the bot).
"""
from __future__ import annotations

import asyncio
import copy
import hashlib
import io
import mimetypes
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from aiohttp import web

from bot.sandbox.webhook import WebhookDelivery, WebhookSetup

IMAGE_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp",
              "BMP": "image/bmp", "TIFF": "image/tiff"}
BOT_FIRST_NAME = "学习强国 Sandbox"
FIRST_USER_ID = 100001


class Signal:
    """Wake every waiter whenever something changed."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def waiter(self) -> asyncio.Event:
        """The event the next fire() sets (take it before looking, then wait on it: nothing is missed)."""
        return self._event

    async def wait_for(self, predicate: Callable[[], bool], timeout: float, stop: Callable[[], bool]) -> bool:
        """Wait until predicate() holds (True) or timeout/stop (returns predicate())."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        while True:
            event = self._event
            if predicate():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0 or stop():
                return False
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return predicate()


class Signals:
    """One Signal per key, made while someone waits on it: `fire(key)` wakes that key's waiters only."""

    def __init__(self) -> None:
        self._by_key: dict[Hashable, tuple[Signal, list[int]]] = {}  # key -> (signal, [waiters])

    def fire(self, key: Hashable) -> None:
        entry = self._by_key.get(key)
        if entry is not None:
            entry[0].fire()

    def fire_all(self) -> None:
        for signal, _waiters in list(self._by_key.values()):
            signal.fire()

    async def wait_for(self, key: Hashable, predicate: Callable[[], bool], timeout: float,
                       stop: Callable[[], bool]) -> bool:
        """Signal.wait_for, woken by fire(key) (and fire_all)."""
        entry = self._by_key.get(key)
        if entry is None:
            entry = self._by_key[key] = (Signal(), [0])
        entry[1][0] += 1
        try:
            return await entry[0].wait_for(predicate, timeout, stop)
        finally:
            entry[1][0] -= 1
            if not entry[1][0] and self._by_key.get(key) is entry:
                del self._by_key[key]


@dataclass
class Profile:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    phone: str | None = None
    blocked: bool = False


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # "photo" | "document" | "sticker"
    data: bytes
    file_path: str
    mime_type: str
    file_name: str | None = None
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        return len(self.data)

    def file_json(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "file_size": self.size,
                "file_path": self.file_path}

    def photo_json(self) -> list[dict[str, Any]]:
        """One PhotoSize (Telegram sends several thumbnails; bots use the last, the biggest)."""
        return [{"file_id": self.file_id, "file_unique_id": self.file_unique_id, "width": self.width,
                 "height": self.height, "file_size": self.size}]

    def document_json(self) -> dict[str, Any]:
        out = {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "file_name": self.file_name,
               "mime_type": self.mime_type, "file_size": self.size}
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class Msg:
    chat_id: int
    message_id: int
    sender: str  # "bot" | "user"
    tg: dict[str, Any]  # the Telegram Message object as the Bot API returns it
    seq: int
    edited: bool = False
    deleted: bool = False


@dataclass
class Chat:
    user_id: int
    messages: dict[int, Msg] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None
    read_upto: int = 0
    action: tuple[str, float] | None = None


@dataclass
class FailRule:
    method: str  # lower-case method name or "*"
    status: int
    count: int
    retry_after: int | None = None
    description: str | None = None
    # with "seconds": the rule fails every call from `since` until `until` (time.monotonic()), an outage
    since: float | None = None
    until: float | None = None


class SandboxState:
    def __init__(self, *, bot_username: str = "xuexi_sandbox_bot", jobs: Any = None, clock: Any = None) -> None:
        self.bot_username = bot_username
        self.bot_id: int | None = None
        self.jobs = jobs
        self.clock = clock  # control.ClockControl: what /sandbox/clock moves
        self.closed = False
        self.users: dict[int, Profile] = {}
        self.chats: dict[int, Chat] = {}
        self.updates: list[dict[str, Any]] = []
        self.next_update_id = 1
        self.seq = 0  # bumped on every message create/edit/delete
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self._file_counter = 0
        self.sticker_file_id: str | None = None
        self.callback_answers: dict[str, dict[str, Any] | None] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook: WebhookSetup | None = None  # set by setWebhook: updates are POSTed (bot/sandbox/webhook.py)
        self.webhook_delivery = WebhookDelivery(self)
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}  # chat id (None: default) -> MenuButton
        self.rate_limit: dict[str, float | None] | None = None
        self.fail_rules: list[FailRule] = []
        self._global_window: deque[float] = deque()
        self._chat_windows: dict[int, deque[float]] = {}
        self.calls: Counter[str] = Counter()
        self.errors = 0
        self.rate_limited = 0
        self.entity_errors = 0  # 400 "can't parse entities" answers (HTML Telegram would reject)
        self.updates_signal = Signal()
        self.chat_signals = Signals()  # by user id: a message added, edited or deleted in that chat
        self.answer_signals = Signals()  # by callback query id: the bot answered it
        self.webhook_signal = Signal()

    # ---- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Release every waiter (called on app shutdown so long polls don't hold it up)."""
        self.closed = True
        if self.webhook is not None:
            self.webhook_delivery.stop()
        for sig in (self.updates_signal, self.webhook_signal):
            sig.fire()
        self.chat_signals.fire_all()
        self.answer_signals.fire_all()

    def is_closed(self) -> bool:
        return self.closed

    # ---- bot identity ----------------------------------------------------------------------
    def remember_token(self, token: str) -> int | None:
        head = token.split(":", 1)[0]
        if not head.isdigit() or ":" not in token:
            return None
        if self.bot_id is None:
            self.bot_id = int(head)
        return self.bot_id

    def bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id or 0, "is_bot": True, "first_name": BOT_FIRST_NAME,
                "username": self.bot_username}

    # ---- users and chats -------------------------------------------------------------------
    def upsert_user(self, data: dict[str, Any]) -> Profile:
        uid = data.get("id")
        if uid is None:
            uid = max([FIRST_USER_ID - 1, *self.users]) + 1
        uid = int(uid)
        fields = ("first_name", "last_name", "username", "language_code", "phone")
        if uid in self.users:
            prof = self.users[uid]
            for name in fields:
                if name in data:
                    setattr(prof, name, data[name])
        else:
            extra: dict[str, Any] = {k: data.get(k) for k in fields[1:]}
            prof = Profile(id=uid, first_name=str(data.get("first_name") or f"User {uid}"), **extra)
            self.users[uid] = prof
            self.chats[uid] = Chat(user_id=uid)
        return prof

    def user_json(self, prof: Profile) -> dict[str, Any]:
        out: dict[str, Any] = {"id": prof.id, "is_bot": False, "first_name": prof.first_name}
        for name in ("last_name", "username", "language_code"):
            if getattr(prof, name):
                out[name] = getattr(prof, name)
        return out

    def chat_json(self, prof: Profile) -> dict[str, Any]:
        out: dict[str, Any] = {"id": prof.id, "type": "private", "first_name": prof.first_name}
        for name in ("last_name", "username"):
            if getattr(prof, name):
                out[name] = getattr(prof, name)
        return out

    def unread(self, uid: int) -> int:
        chat = self.chats[uid]
        return sum(1 for m in chat.messages.values()
                   if m.sender == "bot" and not m.deleted and m.message_id > chat.read_upto)

    # ---- messages --------------------------------------------------------------------------
    def add_message(self, uid: int, sender: str, content: dict[str, Any]) -> Msg:
        """Store a new message in the user's chat; `content` is everything but the envelope."""
        prof, chat = self.users[uid], self.chats[uid]
        mid = chat.next_message_id
        chat.next_message_id += 1
        tg = {"message_id": mid,
              "from": self.bot_user() if sender == "bot" else self.user_json(prof),
              "chat": self.chat_json(prof), "date": int(time.time()), **content}
        self.seq += 1
        msg = Msg(chat_id=uid, message_id=mid, sender=sender, tg=tg, seq=self.seq)
        chat.messages[mid] = msg
        self.chat_signals.fire(uid)
        return msg

    def find_message(self, uid: int, message_id: int) -> Msg | None:
        msg = self.chats[uid].messages.get(message_id)
        return None if msg is None or msg.deleted else msg

    def touch(self, msg: Msg, *, edited: bool = False, deleted: bool = False) -> None:
        self.seq += 1
        msg.seq = self.seq
        msg.edited = msg.edited or edited
        msg.deleted = msg.deleted or deleted
        if edited:
            msg.tg["edit_date"] = int(time.time())
        self.chat_signals.fire(msg.chat_id)

    # ---- updates ---------------------------------------------------------------------------
    def push_update(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self.next_update_id, kind: copy.deepcopy(obj)}
        self.next_update_id += 1
        self.updates.append(update)
        self.updates_signal.fire()
        self.webhook_signal.fire()
        return update

    # ---- webhook ---------------------------------------------------------------------------
    def set_webhook(self, setup: WebhookSetup | None, *, drop_pending: bool = False) -> None:
        """setWebhook (a setup) or deleteWebhook (None). Delivery starts again from the queue's oldest
        update; a POST in flight is abandoned (its update is delivered again)."""
        if self.webhook is not None:
            self.webhook_delivery.stop()
        self.webhook = setup
        if drop_pending:
            self.updates.clear()
        if setup is not None:
            self.webhook_delivery.start()
        self.updates_signal.fire()  # a long poll waiting now ends (with 409 Conflict)

    def take_webhook_fault(self) -> tuple[int, str] | None:
        """(status, reason) a delivery must be taken to have got, by a fail rule for "webhook"."""
        for rule in self.fail_rules:
            if rule.count > 0 and rule.method == "webhook":
                rule.count -= 1
                return rule.status, rule.description or _status_text(rule.status)
        return None

    def webhook_info(self) -> dict[str, Any]:
        if self.webhook is None:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self.updates)}
        return self.webhook.info(len(self.updates))

    async def get_updates(self, offset: int | None, limit: int, timeout: float) -> list[dict[str, Any]] | None:
        """The long poll; None when a webhook is set (Telegram answers 409 Conflict then)."""
        if self.webhook is not None:
            return None
        def confirm() -> None:
            if offset is None or offset == 0:
                return
            if offset > 0:
                self.updates[:] = [u for u in self.updates if u["update_id"] >= offset]
            else:
                self.updates[:] = self.updates[offset:]

        def ready() -> bool:
            confirm()
            return bool(self.updates)

        await self.updates_signal.wait_for(ready, timeout, lambda: self.closed or self.webhook is not None)
        if self.webhook is not None:
            return None
        return [dict(u) for u in self.updates[:limit]]

    # ---- callback queries ------------------------------------------------------------------
    def new_callback_query(self) -> str:
        qid = str(secrets.randbits(62))
        self.callback_answers[qid] = None
        return qid

    def answer_callback(self, qid: str, answer: dict[str, Any]) -> bool:
        if qid not in self.callback_answers or self.callback_answers[qid] is not None:
            return False
        self.callback_answers[qid] = answer
        self.answer_signals.fire(qid)
        return True

    async def wait_answer(self, qid: str, timeout: float) -> dict[str, Any] | None:
        await self.answer_signals.wait_for(qid, lambda: self.callback_answers.get(qid) is not None,
                                           timeout, self.is_closed)
        return self.callback_answers.get(qid)

    # ---- files -----------------------------------------------------------------------------
    def store_file(self, kind: str, data: bytes, *, mime_type: str, ext: str,
                   file_name: str | None = None, width: int = 0, height: int = 0) -> StoredFile:
        self._file_counter += 1
        digest = hashlib.sha256(kind.encode() + b":" + data).hexdigest()
        prefix = {"photo": "AgACAgIAAxkBAA", "sticker": "CAACAgIAAxkBAA"}.get(kind, "BQACAgIAAxkBAA")
        folder = {"photo": "photos", "sticker": "stickers"}.get(kind, "documents")
        f = StoredFile(file_id=f"{prefix}{self._file_counter}_{secrets.token_urlsafe(12)}",
                       file_unique_id=f"AQAD{digest[:12]}", kind=kind, data=data,
                       file_path=f"{folder}/file_{self._file_counter}{ext}", mime_type=mime_type,
                       file_name=file_name, width=width, height=height)
        self.files[f.file_id] = f
        self.files_by_path[f.file_path] = f
        return f

    def store_upload(self, kind: str, data: bytes, filename: str | None, content_type: str | None,
                     *, strict: bool) -> StoredFile:
        """Store an uploaded photo or document. strict: refuse non-images / odd sizes like Telegram
        (ValueError with the Bot API's error text); lenient uploads get 0x0 sizes."""
        if kind == "photo":
            info = image_info(data)
            if info is None:
                if strict:
                    raise ValueError("IMAGE_PROCESS_FAILED")
                info = (0, 0, "JPEG")
            width, height, fmt = info
            if strict and (width + height > 10000 or min(width, height) * 20 < max(width, height)):
                raise ValueError("PHOTO_INVALID_DIMENSIONS")
            mime = IMAGE_MIME.get(fmt.upper(), f"image/{fmt.lower()}")
            ext = mimetypes.guess_extension(mime) or ".jpg"
            return self.store_file("photo", data, mime_type=mime, ext=ext, width=width, height=height)
        name = PurePosixPath(filename or "document").name or "document"
        given = content_type if content_type and content_type != "application/octet-stream" else None
        mime = given or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return self.store_file("document", data, mime_type=mime, ext=PurePosixPath(name).suffix, file_name=name)

    # ---- commands --------------------------------------------------------------------------
    @staticmethod
    def scope_key(scope: dict[str, Any] | None) -> str:
        scope = dict(scope or {"type": "default"})
        for key in ("chat_id", "user_id"):
            if key in scope:
                try:
                    scope[key] = int(scope[key])
                except (TypeError, ValueError):
                    pass
        return ",".join(f"{k}={scope[k]}" for k in sorted(scope))

    def commands_for_user(self, uid: int) -> list[dict[str, str]]:
        """The menu a private-chat user would see (Telegram's scope resolution order)."""
        lang = (self.users[uid].language_code or "") if uid in self.users else ""
        scopes: list[dict[str, Any]] = [{"type": "chat", "chat_id": uid}, {"type": "all_private_chats"},
                                        {"type": "default"}]
        for scope in scopes:
            for code in ([lang, ""] if lang else [""]):
                found = self.commands.get((self.scope_key(scope), code))
                if found:
                    return found
        return []

    # ---- faults and stats ------------------------------------------------------------------
    def set_faults(self, data: dict[str, Any]) -> None:
        if "rate_limit" in data:
            self.rate_limit = data["rate_limit"] or None
            self._global_window.clear()
            self._chat_windows.clear()
        if "fail" in data:
            start = time.monotonic()
            self.fail_rules = []
            for r in data["fail"] or []:
                rule = FailRule(method=str(r.get("method", "*")).lower(), status=int(r.get("status", 500)),
                                count=int(r.get("count", 1)), retry_after=r.get("retry_after"),
                                description=r.get("description"))
                if r.get("seconds") is not None:  # timed rules follow each other: 500 for 3 min, then 429 ...
                    rule.since, rule.until = start, start + float(r["seconds"])
                    start = rule.until
                self.fail_rules.append(rule)

    def faults_json(self) -> dict[str, Any]:
        now = time.monotonic()
        return {"rate_limit": self.rate_limit,
                "fail": [{**r.__dict__, "since": None, "until": None,
                          "seconds": round(r.until - max(now, r.since or now), 3) if r.until else None}
                         for r in self.fail_rules if _live(r, now) or (r.since or 0) > now]}

    def take_fault(self, method: str, chat_id: int | None, rate_limited_method: bool
                   ) -> tuple[int, str, int | None] | None:
        """(status, description, retry_after) for a call that must fail now, else None. A rule with
        "seconds" fails every call it matches for that long (an outage), one with "count" that many."""
        now = time.monotonic()
        for rule in self.fail_rules:
            if _live(rule, now) and rule.method in ("*", method.lower()):
                if rule.until is None:
                    rule.count -= 1
                if rule.status == 429:
                    retry = int(rule.retry_after if rule.retry_after is not None else 1)
                    return 429, rule.description or f"Too Many Requests: retry after {retry}", retry
                return rule.status, rule.description or _status_text(rule.status), None
        if self.rate_limit and rate_limited_method:
            now = time.monotonic()
            windows = [(self._global_window, self.rate_limit.get("global_per_s"))]
            if chat_id is not None:
                windows.append((self._chat_windows.setdefault(chat_id, deque()),
                                self.rate_limit.get("per_chat_per_s")))
            for window, _budget in windows:
                while window and window[0] <= now - 1.0:
                    window.popleft()
            if any(budget is not None and len(window) >= budget for window, budget in windows):
                return 429, "Too Many Requests: retry after 1", 1
            for window, _ in windows:
                window.append(now)
        return None

    def reset(self) -> None:
        self.set_faults({"rate_limit": None, "fail": []})
        self.calls.clear()
        self.errors = 0
        self.rate_limited = 0
        self.entity_errors = 0  # 400 "can't parse entities" answers (HTML Telegram would reject)


def _live(rule: FailRule, now: float) -> bool:
    if rule.until is not None:
        return (rule.since or 0.0) <= now < rule.until
    return rule.count > 0


def image_info(data: bytes) -> tuple[int, int, str] | None:
    """(width, height, format) or None when the bytes are not an image PIL can read."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return 0, 0, "JPEG"
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.width, img.height, img.format or "JPEG"
    except Exception:  # noqa: BLE001
        return None


def _status_text(status: int) -> str:
    texts = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
             409: "Conflict", 500: "Internal Server Error", 502: "Bad Gateway",
             503: "Service Unavailable", 504: "Gateway Timeout"}
    return texts.get(status, f"Error {status}")


STATE_KEY = web.AppKey("sandbox_state", SandboxState)


def get_state(app: web.Application) -> SandboxState:
    return app[STATE_KEY]

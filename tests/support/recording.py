"""A Bot session that records every API call and answers with a well-formed result, and a small
client that feeds updates to the dispatcher as a person would (aiogram's own test approach)."""
from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    GetFile,
    GetMe,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    CallbackQuery,
    Chat,
    Contact,
    Document,
    File,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    PhotoSize,
    Update,
    User,
)

BOT_ID = 1000000001
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self.files: dict[str, bytes] = {}
        self._ids = itertools.count(1000)

    async def close(self) -> None:
        return None

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        self.calls.append(method)
        if isinstance(method, GetMe):
            return User(id=BOT_ID, is_bot=True, first_name="Xuexi", username="xuexi_test_bot")
        if isinstance(method, (SendMessage, SendPhoto, SendDocument)):
            return self._message(method)
        if isinstance(method, (EditMessageText, EditMessageReplyMarkup)):
            return Message(message_id=method.message_id or 0, date=NOW,
                           chat=Chat(id=int(method.chat_id or 0), type="private"),
                           text=getattr(method, "text", None), reply_markup=method.reply_markup)
        if isinstance(method, GetFile):
            return File(file_id=method.file_id, file_unique_id=method.file_id, file_path=f"files/{method.file_id}")
        return True

    def _message(self, method: Any) -> Message:
        chat = Chat(id=int(method.chat_id), type="private")
        extra: dict[str, Any] = {}
        if isinstance(method, SendPhoto):
            extra["photo"] = [PhotoSize(file_id="p1", file_unique_id="p1", width=1, height=1)]
            extra["caption"] = method.caption
        elif isinstance(method, SendDocument):
            name = getattr(method.document, "filename", None) or "file"
            extra["document"] = Document(file_id="d1", file_unique_id="d1", file_name=name)
            extra["caption"] = method.caption
        else:
            extra["text"] = method.text
        markup = method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
        return Message(message_id=next(self._ids), date=NOW, chat=chat, reply_markup=markup, **extra)

    async def stream_content(self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
                             chunk_size: int = 65536, raise_for_status: bool = True) -> AsyncGenerator[bytes, None]:
        file_id = url.rsplit("/", 1)[-1]
        yield self.files.get(file_id, b"")


@dataclass
class Sent:
    """What the bot did in answer to one update."""

    calls: list[TelegramMethod[Any]]

    @property
    def messages(self) -> list[Any]:
        return [c for c in self.calls if isinstance(c, (SendMessage, SendPhoto, SendDocument))]

    @property
    def texts(self) -> list[str]:
        out = []
        for c in self.calls:
            if isinstance(c, (SendMessage, EditMessageText)):
                out.append(c.text)
            elif isinstance(c, (SendPhoto, SendDocument)) and c.caption:
                out.append(c.caption)
        return out

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def answers(self) -> list[AnswerCallbackQuery]:
        return [c for c in self.calls if isinstance(c, AnswerCallbackQuery)]

    def of(self, kind: type) -> list[Any]:
        return [c for c in self.calls if isinstance(c, kind)]

    def buttons(self) -> list[tuple[str, str | None]]:
        """(label, callback_data) of every inline button the bot sent or edited in."""
        out = []
        for c in self.calls:
            markup = getattr(c, "reply_markup", None)
            for row in getattr(markup, "inline_keyboard", None) or []:
                out.extend((b.text, b.callback_data) for b in row)
        return out

    def button(self, label_part: str) -> str:
        for text, data in self.buttons():
            if label_part in text and data:
                return data
        raise AssertionError(f"no button with {label_part!r} in {self.buttons()}")


@dataclass
class ChatClient:
    """One simulated person talking to the dispatcher."""

    dp: Dispatcher
    bot: Bot
    session: RecordingSession
    user_id: int
    first_name: str = "测试"
    language_code: str | None = "zh"
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def tg_user(self) -> User:
        return User(id=self.user_id, is_bot=False, first_name=self.first_name, language_code=self.language_code)

    @property
    def chat(self) -> Chat:
        return Chat(id=self.user_id, type="private", first_name=self.first_name)

    async def _feed(self, **update: Any) -> Sent:
        before = len(self.session.calls)
        uid = next(self._ids) + self.user_id * 1000
        await self.dp.feed_update(self.bot, Update(update_id=uid, **update))
        return Sent(self.session.calls[before:])

    def _message(self, **fields: Any) -> Message:
        return Message(message_id=next(self._ids), date=NOW, chat=self.chat, from_user=self.tg_user, **fields)

    async def send(self, text: str) -> Sent:
        entities = None
        if text.startswith("/"):
            entities = [MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))]
        return await self._feed(message=self._message(text=text, entities=entities))

    async def start(self, payload: str | None = None) -> Sent:
        return await self.send("/start" + (f" {payload}" if payload else ""))

    async def contact(self, phone: str, user_id: int | None = -1, first_name: str = "x") -> Sent:
        owner = self.user_id if user_id == -1 else user_id
        return await self._feed(message=self._message(
            contact=Contact(phone_number=phone, first_name=first_name, user_id=owner)))

    async def document(self, data: bytes, file_name: str, file_id: str = "doc1") -> Sent:
        self.session.files[f"files/{file_id}"] = data
        self.session.files[file_id] = data
        return await self._feed(message=self._message(
            document=Document(file_id=file_id, file_unique_id=file_id, file_name=file_name, file_size=len(data))))

    async def sticker(self) -> Sent:
        from aiogram.types import Sticker

        return await self._feed(message=self._message(sticker=Sticker(
            file_id="s1", file_unique_id="s1", type="regular", width=1, height=1, is_animated=False,
            is_video=False)))

    async def click(self, data: str, message_id: int = 1) -> Sent:
        msg = Message(message_id=message_id, date=NOW, chat=self.chat, text="…")
        query = CallbackQuery(id=f"q{next(self._ids)}", from_user=self.tg_user, chat_instance="ci",
                              message=msg, data=data)
        return await self._feed(callback_query=query)

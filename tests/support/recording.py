"""A Bot session that records every API call and answers with a well-formed result, and a small
client that feeds updates to the dispatcher as a person would (aiogram's own test approach).

The session also keeps every chat as a person sees it (the chat window): each message the bot sent,
by message_id, with its current text or caption and inline keyboard, changed by edits and gone once
deleted. `ChatClient.press` presses a button found by its label on the message that carried it, so a
test presses what the bot really sent (aiogram_dialog's BotClient.click is the model)."""
from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageCaption,
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
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    PhotoSize,
    Update,
    User,
)

BOT_ID = 1000000001
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BOT_USER = User(id=BOT_ID, is_bot=True, first_name="Xuexi", username="xuexi_test_bot")


def _keyboard(message: Message) -> list[list[InlineKeyboardButton]]:
    return message.reply_markup.inline_keyboard if message.reply_markup else []


def _labels(messages: list[Message]) -> list[list[str]]:
    return [[b.text for row in _keyboard(m) for b in row] for m in messages]


def find_button(messages: list[Message], label: str) -> tuple[Message, InlineKeyboardButton]:
    """The button labelled `label` among `messages`: the one whose label is exactly `label`, else the one
    whose label contains it; none, or more than one, fails the test with the labels there are."""
    for exact in (True, False):
        found = [(m, b) for m in messages for row in _keyboard(m) for b in row
                 if (b.text == label if exact else label in b.text)]
        if len(found) == 1:
            message, button = found[0]
            if button.callback_data is None:
                raise AssertionError(f"button {button.text!r} is not a callback button")
            return message, button
        if len(found) > 1:
            raise AssertionError(f"{len(found)} buttons match {label!r}: {[b.text for _, b in found]}")
    raise AssertionError(f"no button {label!r}; the buttons there are: {_labels(messages)}")


# The update a call answers: set while a ChatClient feeds one, inherited by every task the handler starts.
_FEEDING: ContextVar[int | None] = ContextVar("feeding", default=None)


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self.fed_by: list[int | None] = []  # beside calls: the update each call answered
        self.files: dict[str, bytes] = {}
        self.chats: dict[int, dict[int, Message]] = {}  # chat id -> message id -> the message as it is now
        self._results: dict[int, Any] = {}  # id(call) -> what the session answered
        self._ids = itertools.count(1000)

    async def close(self) -> None:
        return None

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        self.calls.append(method)
        self.fed_by.append(_FEEDING.get())
        result = self._answer(method)
        self._results[id(method)] = result
        return result

    def result_of(self, call: TelegramMethod[Any]) -> Any:
        return self._results.get(id(call))

    def _answer(self, method: TelegramMethod[Any]) -> Any:
        if isinstance(method, GetMe):
            return BOT_USER
        if isinstance(method, (SendMessage, SendPhoto, SendDocument)):
            msg = self._message(method)
            self.chats.setdefault(msg.chat.id, {})[msg.message_id] = msg
            return msg
        if isinstance(method, (EditMessageText, EditMessageCaption, EditMessageReplyMarkup)):
            return self._edit(method)
        if isinstance(method, DeleteMessage):
            self.chats.get(int(method.chat_id), {}).pop(method.message_id, None)
            return True
        if isinstance(method, GetFile):
            return File(file_id=method.file_id, file_unique_id=method.file_id, file_path=f"files/{method.file_id}")
        return True

    def _edit(self, method: EditMessageText | EditMessageCaption | EditMessageReplyMarkup) -> Message:
        chat_id, message_id = int(method.chat_id or 0), method.message_id or 0
        markup = method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
        current = self.chats.get(chat_id, {}).get(message_id)
        if current is None:  # a message this session never sent (a forged button's made-up message)
            return Message(message_id=message_id, date=NOW, chat=Chat(id=chat_id, type="private"),
                           from_user=BOT_USER, text=getattr(method, "text", None), reply_markup=markup)
        update: dict[str, Any] = {"reply_markup": markup}
        if isinstance(method, EditMessageText):
            if current.text is None:
                raise TelegramBadRequest(method, "Bad Request: there is no text in the message to edit")
            update["text"] = method.text
        elif isinstance(method, EditMessageCaption):
            update["caption"] = method.caption
        edited = current.model_copy(update=update)
        if (edited.text, edited.caption, _keyboard(edited)) == (current.text, current.caption, _keyboard(current)):
            raise TelegramBadRequest(method, "Bad Request: message is not modified: specified new message content "
                                             "and reply markup are exactly the same")
        self.chats[chat_id][message_id] = edited
        return edited

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
        return Message(message_id=next(self._ids), date=NOW, chat=chat, from_user=BOT_USER, reply_markup=markup,
                       **extra)

    async def stream_content(self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
                             chunk_size: int = 65536, raise_for_status: bool = True) -> AsyncGenerator[bytes, None]:
        file_id = url.rsplit("/", 1)[-1]
        yield self.files.get(file_id, b"")


@dataclass
class Sent:
    """What the bot did in answer to one update."""

    calls: list[TelegramMethod[Any]]
    session: RecordingSession | None = None

    def message_ids(self, chat_id: int) -> list[int]:
        """The ids of the messages in `chat_id` that these calls sent or edited, in order."""
        ids: list[int] = []
        for call in self.calls:
            result = self.session.result_of(call) if self.session else None
            if isinstance(result, Message) and result.chat.id == chat_id and result.message_id not in ids:
                ids.append(result.message_id)
        return ids

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
        """The callback data of the first button sent with `label_part` in its label, as it was sent: for
        replaying a stale button with ChatClient.click; a test presses a live one with ChatClient.press."""
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

    async def _feed(self, *, handler_data: dict[str, Any] | None = None, **update: Any) -> Sent:
        """What the bot did in answer to this update alone: with many clients feeding at once, the calls
        made for other people's updates in the meantime are not part of it. `handler_data` is passed to
        the handlers as polling passes its own (e.g. replaying=True: an update of a killed run)."""
        before = len(self.session.calls)
        uid = next(self._ids) + self.user_id * 1000
        token = _FEEDING.set(uid)
        try:
            await self.dp.feed_update(self.bot, Update(update_id=uid, **update), **(handler_data or {}))
        finally:
            _FEEDING.reset(token)
        calls = self.session.calls[before:]
        fed_by = self.session.fed_by[before:]
        return Sent([c for c, by in zip(calls, fed_by, strict=True) if by == uid], self.session)

    @property
    def window(self) -> list[Message]:
        """The bot's messages in this chat as they are now, oldest first."""
        return list(self.session.chats.get(self.user_id, {}).values())

    def _current(self, target: Sent | Message | TelegramMethod[Any]) -> list[Message]:
        if isinstance(target, Sent):
            ids = target.message_ids(self.user_id)
        else:
            found = target if isinstance(target, Message) else self.session.result_of(target)
            if not isinstance(found, Message):
                raise AssertionError(f"{type(target).__name__} did not answer with a message")
            if found.chat.id != self.user_id:
                raise AssertionError(f"message {found.message_id} is in chat {found.chat.id}, not {self.user_id}")
            ids = [found.message_id]
        if not ids:
            raise AssertionError(f"no message was sent or edited in chat {self.user_id} by {target!r}")
        chat = self.session.chats.get(self.user_id, {})
        current = [chat[i] for i in ids if i in chat]
        if not current:
            raise AssertionError(f"message(s) {ids} were deleted from the chat")
        return current

    async def press(self, target: Sent | Message | TelegramMethod[Any], label: str) -> Sent:
        """Presses the button labelled `label` on the message `target` sent or edited (a Sent, one message,
        or one call from a Sent), as that message is now in the chat."""
        message, button = find_button(self._current(target), label)
        return await self._press(message, button)

    async def press_latest(self, label: str) -> Sent:
        """Presses `label` on the newest message of this chat that has such a button."""
        for message in reversed(self.window):
            if any(label in b.text for row in _keyboard(message) for b in row):
                found, button = find_button([message], label)
                return await self._press(found, button)
        raise AssertionError(f"no message in chat {self.user_id} has a button {label!r}; "
                             f"the buttons there are: {_labels(self.window)}")

    async def _press(self, message: Message, button: InlineKeyboardButton,
                     handler_data: dict[str, Any] | None = None) -> Sent:
        query = CallbackQuery(id=f"q{next(self._ids)}", from_user=self.tg_user, chat_instance="ci",
                              message=message, data=button.callback_data)
        if handler_data:  # (subclasses feeding their own way take the update's fields alone)
            return await self._feed(handler_data=handler_data, callback_query=query)
        return await self._feed(callback_query=query)

    def _message(self, **fields: Any) -> Message:
        return Message(message_id=next(self._ids), date=NOW, chat=self.chat, from_user=self.tg_user, **fields)

    async def send(self, text: str, entities: list[MessageEntity] | None = None) -> Sent:
        """A typed text; `entities` the formatting the person used (offsets in UTF-16 units)."""
        if entities is None and text.startswith("/"):
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
        """Sends callback data packed by hand, as a forged or stale button would; tests of real buttons
        use press()."""
        msg = Message(message_id=message_id, date=NOW, chat=self.chat, text="…")
        query = CallbackQuery(id=f"q{next(self._ids)}", from_user=self.tg_user, chat_instance="ci",
                              message=msg, data=data)
        return await self._feed(callback_query=query)

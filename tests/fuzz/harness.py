"""What every fuzz test shares: a recording session as strict as Telegram, a whole bot over a fresh
store driven from a synchronous hypothesis test, the checks made after each update, and the settings
(small and derandomised by default; FUZZ_EXAMPLES=N for a long, random run).

    FUZZ_EXAMPLES=500 python3 dev.py test tests/fuzz -q        # the long run: 500 examples per target

Hypothesis drives each test synchronously, so the bot lives in one asyncio.Runner per test: the same
loop for every example, the store and the dispatcher opened once, not once per example."""
from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.client.default import Default, DefaultBotProperties
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageCaption,
    EditMessageText,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup
from hypothesis import HealthCheck, settings

from bot.app import build_dispatcher
from bot.clock import FakeClock
from bot.config import Settings
from bot.i18n import I18n
from bot.outbox import Outbox
from bot.sandbox.html_entities import EntityParseError, html_to_text, utf16_len
from bot.store import Store
from tests.support.recording import _FEEDING, ChatClient, RecordingSession, Sent

T = TypeVar("T")
TZ = ZoneInfo("Asia/Shanghai")
OPERATOR_ID = 900001
ESCAPES = re.compile(r"&(?:amp|lt|gt|quot|#\d+|#x[0-9a-f]+);", re.IGNORECASE)

# Examples per target: small and the same every run in CI; FUZZ_EXAMPLES=N for a long random run.
LONG_RUN = os.environ.get("FUZZ_EXAMPLES")
EXAMPLES = int(LONG_RUN) if LONG_RUN else 10


def fuzz_settings(examples: int | None = None) -> settings:
    return settings(max_examples=examples if LONG_RUN is None and examples else EXAMPLES,
                    derandomize=LONG_RUN is None, database=None, deadline=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


class StrictSession(RecordingSession):
    """A RecordingSession that refuses what Telegram refuses: HTML it cannot parse ("can't parse
    entities"), a text over 4,096 or a caption over 1,024 characters (after parsing, in UTF-16 units as
    Telegram counts), callback data over 64 bytes; and refuses what Telegram would show badly: a
    button label or toast that shows an HTML escape (labels are never parsed), a toast over 200
    characters. Each refusal is kept in `violations` (and raised as Telegram would raise it)."""

    def __init__(self) -> None:
        super().__init__()
        self.violations: list[str] = []
        self.typed_escapes: set[str] = set()  # escapes people typed themselves may show in labels as typed

    def typed(self, text: str) -> None:
        self.typed_escapes.update(ESCAPES.findall(text))

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        problem = self.check(method)
        if problem is not None:
            self.violations.append(f"{type(method).__name__}: {problem}")
            self.calls.append(method)
            self.fed_by.append(_FEEDING.get())
            raise TelegramBadRequest(method, f"Bad Request: {problem}")
        return await super().make_request(bot, method, timeout)

    def check(self, method: TelegramMethod[Any]) -> str | None:
        if isinstance(method, (SendMessage, EditMessageText)):
            problem = _text_problem(method.text, method.parse_mode, 4096, "message is too long")
        elif isinstance(method, (SendPhoto, SendDocument, EditMessageCaption)):
            problem = _text_problem(method.caption or "", method.parse_mode, 1024, "message caption is too long")
        elif isinstance(method, AnswerCallbackQuery):
            problem = None
            if method.text and len(method.text) > 200:
                problem = f"callback answer text over 200 characters: {method.text[:80]!r}"
            elif method.text and self._escape(method.text):
                problem = f"a toast shows an HTML escape: {method.text!r}"
        else:
            problem = None
        return problem or self._markup_problem(getattr(method, "reply_markup", None))

    def _escape(self, text: str) -> bool:
        return any(e not in self.typed_escapes for e in ESCAPES.findall(text))

    def _markup_problem(self, markup: Any) -> str | None:
        rows: list[list[Any]] = []
        if isinstance(markup, InlineKeyboardMarkup):
            rows = markup.inline_keyboard
        elif isinstance(markup, ReplyKeyboardMarkup):
            rows = markup.keyboard
        for row in rows:
            for button in row:
                if self._escape(button.text):
                    return f"a button label shows an HTML escape: {button.text!r}"
                data = getattr(button, "callback_data", None)
                if data is not None and len(data.encode()) > 64:
                    return f"BUTTON_DATA_INVALID: callback data over 64 bytes: {data!r}"
        return None


def _text_problem(text: str, parse_mode: Any, limit: int, too_long: str) -> str | None:
    if isinstance(parse_mode, Default) or parse_mode == "HTML":  # the bot's default is HTML
        try:
            text, _ = html_to_text(text)
        except EntityParseError as exc:
            return f"can't parse entities: {exc}: {text[:200]!r}"
    if utf16_len(text) > limit:
        return f"{too_long} ({utf16_len(text)} > {limit})"
    return None


class ErrorLog(logging.Handler):
    """Every record at ERROR or above, from any logger (the errors router logs what it caught)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Env:
    """One bot over one fresh store, its clock at the recording session's NOW."""

    runner: asyncio.Runner
    tmp: Path
    store: Store = field(init=False)
    session: StrictSession = field(init=False)
    clock: FakeClock = field(init=False)
    i18n: I18n = field(init=False)
    errors: ErrorLog = field(init=False)

    def run(self, coro: Awaitable[T]) -> T:
        return self.runner.run(coro)  # type: ignore[arg-type]

    async def open(self) -> None:
        self.settings = Settings(bot_token="1000000001:TEST-token-for-unit-tests-000",
                                 database_path=self.tmp / "fuzz.sqlite3", timezone=TZ,
                                 operator_ids=frozenset({OPERATOR_ID}), secret_key=b"test-secret-key-0123456789",
                                 data_dir=self.tmp)
        self.store = await Store.open(self.settings.database_path)
        self.session = StrictSession()
        self.bot = Bot(self.settings.bot_token, session=self.session,
                       default=DefaultBotProperties(parse_mode="HTML"))
        self.clock = FakeClock(TZ)
        self.i18n = I18n()
        self.outbox = Outbox(self.store, self.bot, self.clock, per_second=1000, chat_interval=0)
        self.dp = build_dispatcher(self.settings, self.store, self.clock, self.i18n, outbox=self.outbox)
        self.errors = ErrorLog()
        logging.getLogger().addHandler(self.errors)

    async def close(self) -> None:
        logging.getLogger().removeHandler(self.errors)
        await self.store.close()

    def client(self, user_id: int, first_name: str = "张伟") -> ChatClient:
        return ChatClient(dp=self.dp, bot=self.bot, session=self.session, user_id=user_id, first_name=first_name,
                          language_code="zh")

    def fsm(self, client: ChatClient) -> FSMContext:
        return self.dp.fsm.get_context(self.bot, client.user_id, client.user_id)

    def label(self, key: str) -> str:
        """A button's label as a person reads it (zh): the part before the first placeholder."""
        return self.i18n.catalogues["zh"][key].split("{")[0]

    @property
    def apologies(self) -> list[str]:
        return [self.i18n.t(lang, "errors.unexpected") for lang in self.i18n.languages]

    def problems(self, sent: Sent) -> list[str]:
        """What went wrong answering one update: a refused call, a logged exception, the generic apology."""
        out = list(self.session.violations)
        out += [f"logged: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else f"logged: {r.getMessage()}"
                for r in self.errors.records]
        plain = [plain_text(t) for t in self.apologies]
        shown = [plain_text(t) for t in sent.texts] + [a.text or "" for a in sent.answers]
        out += [f"the generic apology: {s[:100]!r}" for s in shown if any(p and p in s for p in plain)]
        out += [f"a traceback shown: {s[:200]!r}" for s in shown if "Traceback" in s or 'File "' in s]
        return out

    @contextmanager
    def watching(self) -> Iterator[None]:
        self.session.violations.clear()
        self.errors.records.clear()
        yield

    async def counts(self) -> dict[str, int]:
        """Rows per table (the FSM's own table and the durable inbox aside: they change with every update)."""
        tables = [r[0] for r in await self.store._all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        out = {}
        for table in tables:
            if table in {"fsm", "inbox"}:
                continue
            (out[table],) = await self.store._one(f'SELECT COUNT(*) FROM "{table}"')
        return out


def plain_text(text: str) -> str:
    try:
        return html_to_text(text)[0]
    except EntityParseError:
        return text


def run_env(tmp: Path, body: Callable[[Env], None]) -> None:
    """Opens an Env on a fresh store, runs `body(env)` (a hypothesis test calling env.run), closes it."""
    with asyncio.Runner() as runner:
        env = Env(runner, tmp)
        runner.run(env.open())
        try:
            body(env)
        finally:
            runner.run(env.close())

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties

from bot.app import build_dispatcher
from bot.clock import FakeClock
from bot.config import Settings
from bot.i18n import I18n
from bot.store import Store
from tests.support import pg as pg_support
from tests.support.recording import ChatClient, RecordingSession

TZ = ZoneInfo("Asia/Shanghai")
OPERATOR_ID = 900001


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(bot_token="1000000001:TEST-token-for-unit-tests-000", database_path=tmp_path / "t.sqlite3",
                    timezone=TZ, operator_ids=frozenset({OPERATOR_ID}), secret_key=b"test-secret-key-0123456789",
                    data_dir=tmp_path)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "loose_pushes: pushes may be enqueued outside an action's transaction "
                                       "(tests of the outbox itself)")


# The store tests run on SQLite, and on PostgreSQL too when XUEXI_PG asks for it (tests/support/pg.py)
SQLITE_ONLY = pg_support.why_not()
# XUEXI_PG_ONLY=tests/unit[,...]: the PostgreSQL runs only of the tests under these folders (CI's time budget)
PG_ONLY = tuple(p.strip().rstrip("/") for p in os.environ.get("XUEXI_PG_ONLY", "").split(",") if p.strip())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SQLITE_ONLY or not PG_ONLY:
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        where = item.path.relative_to(config.rootpath).as_posix()
        on_pg = callspec is not None and callspec.params.get("backend") == "pg"
        inside = any(where == p or where.startswith(p + "/") for p in PG_ONLY)
        (drop if on_pg and not inside else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def pg_server():
    server = pg_support.LazyServer()
    yield server
    server.stop()


if SQLITE_ONLY:
    @pytest.fixture
    def backend() -> str:
        return "sqlite"
else:
    @pytest.fixture(params=["sqlite", "pg"])
    def backend(request) -> str:
        return request.param


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the head once per test process: each test's database starts as a copy of
    it (creating the schema through Alembic costs about 0.25 s a file). Tests of migrating itself open a
    file of their own."""
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"

    async def migrate() -> None:
        await (await Store.open(path)).close()  # the last connection's close folds the WAL into the file

    asyncio.run(migrate())
    return path


@pytest.fixture
async def database(backend: str, settings: Settings, pg_server, sqlite_template: Path):
    """What Store.open takes: the test's SQLite file (a copy of the migrated template), or the URL of a fresh
    PostgreSQL database."""
    if backend == "sqlite":
        shutil.copyfile(sqlite_template, settings.database_path)
        yield settings.database_path
        return
    url = await pg_server.fresh_database()
    pg_support.CURRENT["url"] = url
    try:
        yield url
    finally:
        pg_support.CURRENT.clear()


@pytest.fixture
async def store(database, request: pytest.FixtureRequest):
    s = await Store.open(database)
    # every push must be enqueued in the transaction of the action causing it (bot/services/transactions.py)
    s.strict_pushes = request.node.get_closest_marker("loose_pushes") is None
    yield s
    await s.close()


def pytest_terminal_summary(terminalreporter) -> None:
    if not SQLITE_ONLY and PG_ONLY:
        terminalreporter.write_line(f"store tests ran on PostgreSQL only under {', '.join(PG_ONLY)} (XUEXI_PG_ONLY); "
                                    "elsewhere on SQLite")
    if SQLITE_ONLY:
        terminalreporter.write_line(f"store tests ran on SQLite only ({SQLITE_ONLY}; "
                                    "XUEXI_PG=auto or XUEXI_PG=1 adds PostgreSQL)")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(TZ)


@pytest.fixture
def i18n() -> I18n:
    return I18n()


@pytest.fixture
def session() -> RecordingSession:
    return RecordingSession()


@pytest.fixture
async def bot(settings: Settings, session: RecordingSession):
    b = Bot(settings.bot_token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    yield b


@pytest.fixture
def outbox(store, bot, clock):
    from bot.outbox import Outbox

    return Outbox(store, bot, clock, per_second=1000, chat_interval=0)


@pytest.fixture
def dp(settings, store, clock, i18n, outbox):
    return build_dispatcher(settings, store, clock, i18n, outbox=outbox)


@pytest.fixture
def sweep_menus(store, clock, bot, i18n, settings, session):
    """Runs the due menu refreshes (bot/menus.py) as the sweep would; returns the SetMyCommands calls made."""
    from aiogram.methods import SetMyCommands

    from bot.menus import MENU_DUE, menu_due_handler
    from bot.scheduler import Sweeper

    sweeper = Sweeper(store, clock)
    sweeper.register(MENU_DUE, menu_due_handler(bot, store, i18n, settings))

    async def sweep() -> list[SetMyCommands]:
        before = len(session.calls)
        await sweeper.sweep()
        return [c for c in session.calls[before:] if isinstance(c, SetMyCommands)]

    return sweep


@pytest.fixture
def client_factory(dp, bot, session):
    def make(user_id: int = 100001, first_name: str = "张伟", language_code: str | None = "zh") -> ChatClient:
        return ChatClient(dp=dp, bot=bot, session=session, user_id=user_id, first_name=first_name,
                          language_code=language_code)

    return make


@pytest.fixture
def registered(store, clock):
    """Registers a user directly in the store (for tests about what comes after registration)."""
    from bot.services.users import visitor

    async def make(user_id: int = 100001, phone: str | None = None, name: str = "张伟",
                   first_name: str = "张伟"):
        phone = phone or f"+86138{user_id % 100000000:08d}"
        await store.complete_registration(visitor(user_id, first_name, None, None, "zh"), phone, name, None,
                                          clock.now().isoformat())
        return await store.get_user(user_id)

    return make

"""RNV-3 with the durable inbox: the digits of an ID number typed at /verify are written to no file of the
deployment — no table (the inbox's update JSON above all), not the SQLite file, its WAL or a backup, no log
line (a failing handler's either), no PostgreSQL row. Updates here come as Telegram delivers them: stored in
the inbox first (bot/polling.py, bot/webhook.py), then handled. A number stored redacted and read back after
a crash gets the person asked again, politely."""
from __future__ import annotations

import asyncio
import logging
import re
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
from aiogram.methods import DeleteMessage, TelegramMethod
from aiogram.types import Update

from bot import cli
from bot.polling import DurablePolling
from bot.redaction import RedactingRecords, install_log_redaction
from bot.services.idcard import check_digit
from bot.webhook import WebhookReceiver
from tests.support import pg as pg_support
from tests.support.pg import table_names
from tests.support.recording import ChatClient, RecordingSession, Sent
from tests.unit.test_webhook import client_for, hook, post


def number_ending_in_x() -> str:
    """A valid ID number (MOD 11-2 check character X) other than the standard's example."""
    for seq in range(100, 1000):
        first17 = f"32010219850317{seq:03d}"
        if check_digit(first17) == "X":
            return first17 + "X"
    raise AssertionError("no sequence number gives X")


NUMBER = number_ending_in_x()
# what must not be found: the number, its 17 digits, and its middle (region + birth date) alone
NEEDLES = (NUMBER, NUMBER[:17], NUMBER[3:14])


def leaks(text: str | bytes) -> list[str]:
    """The needles found in `text`, read with its spaces and hyphens taken out (as a number is typed)."""
    if isinstance(text, bytes):
        flat = text.translate(None, b" \t\r\n-")
        return [n for n in NEEDLES if n.encode() in flat]
    flat = re.sub(r"[\s-]", "", text)
    return [n for n in NEEDLES if n in flat]


class StallingSession(RecordingSession):
    """Deleting a message waits while `stall` is set: the handler is then in the middle of its work."""

    def __init__(self) -> None:
        super().__init__()
        self.stall: asyncio.Event | None = None
        self.stalled = asyncio.Event()

    async def make_request(self, bot: Any, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        if isinstance(method, DeleteMessage) and self.stall is not None:
            self.stalled.set()
            await self.stall.wait()
        return await super().make_request(bot, method, timeout)


@pytest.fixture
def session() -> RecordingSession:
    return StallingSession()


@dataclass
class InboxClient(ChatClient):
    """A person whose every update is stored in the inbox before it is handled, as polling does."""

    poller: DurablePolling | None = None

    async def _feed(self, *, handler_data: dict[str, Any] | None = None, **update: Any) -> Sent:
        assert self.poller is not None
        before = len(self.session.calls)
        await self.poller.handle_batch([Update(update_id=next(self._ids) + self.user_id * 1000, **update)])
        await self.poller.drain()
        return Sent(self.session.calls[before:], self.session)


@pytest.fixture
def deployment_logging():
    """Log records as the deployment makes them (cli.main installs the redaction at start)."""
    previous = logging.getLogRecordFactory()
    install_log_redaction()
    yield
    logging.setLogRecordFactory(previous)


@pytest.fixture
async def person(dp, bot, session, store, clock, registered) -> InboxClient:
    client = InboxClient(dp=dp, bot=bot, session=session, user_id=100001, first_name="张伟",
                         poller=DurablePolling(dp, bot, store, clock))
    await registered(client.user_id)
    assert await client.poller.recover() == 0
    return client


async def every_row(store) -> str:
    """Every row of every table, as text."""
    out = []
    for table in await table_names(store):
        out.extend(f"{table}: {tuple(row)!r}" for row in await store._all(f"SELECT * FROM {table}"))
    return "\n".join(out)


def pg_dump(url: str) -> str:
    bin_dir = pg_support.bin_dir()
    if bin_dir is None or not (bin_dir / "pg_dump").exists():
        return ""
    return subprocess.run([str(bin_dir / "pg_dump"), "--data-only", url], capture_output=True, text=True,
                          check=True, timeout=60).stdout


async def test_rnv_3_an_id_number_typed_at_verify_is_in_no_file(person, store, database, settings, caplog,
                                                                 tmp_path, monkeypatch, deployment_logging):
    with caplog.at_level(logging.DEBUG):
        await person.send("/verify")
        await person.send("张伟")
        sent = await person.send(f"{NUMBER[:6]} {NUMBER[6:14]} {NUMBER[14:]}")  # spaces are taken too
        assert "实名认证成功：张伟" in sent.text
        rows = await every_row(store)
        assert "inbox: " in rows and leaks(rows) == [], leaks(rows)
        if pg_support.CURRENT.get("url"):
            assert leaks(pg_dump(pg_support.CURRENT["url"])) == []
        else:
            files = sorted(settings.database_path.parent.glob(settings.database_path.name + "*"))
            assert any(p.name.endswith("-wal") for p in files)
            for path in files:  # the database, its WAL and shared memory, while the bot runs
                assert leaks(path.read_bytes()) == [], path
            monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
            monkeypatch.setenv("SECRET_KEY", settings.secret_key.decode())
            monkeypatch.delenv("DATABASE_URL", raising=False)
            target = tmp_path / "backup.sqlite3"
            assert cli.main(["backup", str(target)]) == 0
            assert leaks(target.read_bytes()) == []
            assert isinstance(logging.getLogRecordFactory(), RedactingRecords)  # what the deployment runs with
    assert leaks(caplog.text) == []


async def test_rnv_3_a_failing_handler_logs_no_id_number(person, store, caplog, monkeypatch, deployment_logging):
    from bot.flows import verification as flow

    async def buggy(store: Any, clock: Any, secret: bytes, user_id: int, real_name: str, raw_id: str) -> str:
        return str(int(raw_id))  # a slip that quotes the text in its error: invalid literal for int()

    monkeypatch.setattr(flow.verification, "verify", buggy)
    await person.send("/verify")
    await person.send("张伟")
    with caplog.at_level(logging.DEBUG):
        sent = await person.send(NUMBER)
    assert "抱歉" in sent.text  # the generic apology
    assert "invalid literal" in caplog.text and leaks(caplog.text) == []
    assert leaks(await every_row(store)) == []


async def test_rnv_3_the_number_of_a_run_killed_mid_check_is_asked_for_again(person, dp, bot, session, store,
                                                                              clock):
    await person.send("/verify")
    await person.send("张伟")
    # the ID number is stored and being handled when the bot is killed
    session.stall = asyncio.Event()
    killed = asyncio.create_task(person.send(NUMBER))
    await asyncio.wait_for(session.stalled.wait(), 10)
    killed.cancel()
    for task in list(person.poller._tasks):
        task.cancel()
    await asyncio.gather(killed, *person.poller._tasks, return_exceptions=True)
    session.stall = None
    assert leaks(await every_row(store)) == []
    assert await store._all("SELECT update_id FROM inbox WHERE done_at IS NULL")  # stored, not finished

    before = len(session.calls)
    restarted = DurablePolling(dp, bot, store, clock)
    assert await restarted.recover() == 1
    texts = Sent(session.calls[before:], session).texts
    assert any("服务重启了" in t and "从不保存" in t and "请重新输入身份证号" in t for t in texts), texts
    assert not (await store.get_user(person.user_id)).verified
    person.poller = restarted
    assert "实名认证成功：张伟" in (await person.send(NUMBER)).text  # still at the ID step: typed again, done
    assert leaks(await every_row(store)) == []


async def test_rnv_3_the_webhook_stores_the_update_redacted(dp, bot, session, store, clock, registered, settings):
    person = ChatClient(dp=dp, bot=bot, session=session, user_id=100002, first_name="李娜")
    await registered(person.user_id)
    await person.send("/verify")
    await person.send("李娜")
    receiver = WebhookReceiver(dp, bot, store, clock, hook())
    client = await client_for(receiver)
    try:
        message = person._message(text=NUMBER)
        assert await post(client, Update(update_id=77, message=message).model_dump_json(exclude_unset=True)) == 200
        await receiver.inbox.drain()
    finally:
        await client.close()
    assert (await store.get_user(person.user_id)).verified  # handled with the true text
    body = (await store._all("SELECT body FROM inbox WHERE update_id = 77"))[0][0]
    assert leaks(body) == [] and "█" * 18 in body


async def test_rnv_3_a_deleted_row_leaves_nothing_in_the_database_file(store, database, settings, clock):
    """PRAGMA secure_delete: what a deleted row held (here an inbox row pruned after two days) is zeroed in
    the file, not left in a free page for a backup to copy."""
    if pg_support.CURRENT.get("url"):
        pytest.skip("SQLite's file: PostgreSQL's own storage is the server's")
    marker = "宋江 +8613912345678 " * 20
    await store.accept_updates([(5, f'{{"update_id":5,"note":"{marker}"}}')], clock.now())
    await store.finish_updates([5], clock.now())
    clock.advance(days=3)
    assert await store.prune_updates(clock.now()) == 1
    await store.close()  # the WAL checkpointed into the file
    assert marker.encode() not in settings.database_path.read_bytes()

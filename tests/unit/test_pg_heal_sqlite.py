"""SQLite's faults of the database as a whole: a read-only database (SQLite's own `PRAGMA query_only`,
what a file or disk made read-only under the running bot gives: "attempt to write a readonly database")
and a full disk ("database or disk is full", raised by the connection for every write while the disk
is full). The person whose action meets it gets the apology; nothing committed before is lost; once the
fault is gone the same press works and the round ends as it would have (nothing half-written)."""
from __future__ import annotations

import re
import sqlite3

import pytest

from bot.store import Store
from tests.support.factories import make_user
from tests.support.quiz_factories import make_bank

USER = 400001
APOLOGY = "抱歉，处理时出了点问题，请稍后再试。"


@pytest.fixture
def backend() -> str:
    return "sqlite"  # these faults are SQLite's own


class FullDisk:
    """Every write refused while `full` is set, as on a full disk. The refusal comes from SQLite itself (an
    authorizer denying INSERT, UPDATE and DELETE on the store's one sqlite3 connection, which SQL strings and
    SQLAlchemy's statements share), so every way a write can take meets it; the bot sees an
    sqlite3.OperationalError on the write, as with SQLITE_FULL."""

    _WRITES = frozenset({sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE})

    def __init__(self, store: Store) -> None:
        self._store = store
        self._full = False

    async def set(self, full: bool) -> None:
        self._full = full
        db = self._store._db
        raw: sqlite3.Connection = db._conn  # type: ignore[attr-defined]
        # on aiosqlite's thread (the connection's own); an authorizer expires the prepared statements, so
        # cached ones are checked again
        await db._execute(lambda: raw.set_authorizer(self._authorize if full else None))  # type: ignore[attr-defined]

    def _authorize(self, action: int, *_args: object) -> int:
        return sqlite3.SQLITE_DENY if action in self._WRITES else sqlite3.SQLITE_OK


def right_letter(text: str) -> str:
    match = re.search(r"答案是 ([A-D])", text)
    assert match is not None, text
    return match.group(1)


def option(sent, letter: str) -> str:
    return next(label for label, data in sent.buttons() if label.endswith(letter) and data.startswith("qz:o:"))


async def answered(store: Store) -> int:
    return await store._value("SELECT COUNT(*) FROM quiz_items WHERE answered_at IS NOT NULL")


async def read_only(store: Store, on: bool) -> None:
    await store._db.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")


async def full_disk(store: Store) -> FullDisk:
    return FullDisk(store)


@pytest.mark.parametrize("fault", ["read_only", "full_disk"])
async def test_a_database_that_takes_no_writes_gives_the_apology_and_loses_nothing_committed(
        fault, store, clock, client_factory, session):
    await make_user(store, USER)
    await make_bank(store, 7)
    me = client_factory(USER)
    first = await me.send("/quiz")
    clock.advance(seconds=3)
    second = await me.press(first, option(first, right_letter(first.text)))
    assert "第 2/5 题" in second.text and await answered(store) == 1
    disk = await full_disk(store) if fault == "full_disk" else None
    if disk is not None:
        await disk.set(True)
    else:
        await read_only(store, True)
    clock.advance(seconds=3)
    refused = await me.press(second, option(second, right_letter(second.text)))
    assert [a.text for a in refused.answers] == [APOLOGY] and refused.answers[0].show_alert
    assert "第 3/5 题" not in " ".join(refused.texts)
    assert await answered(store) == 1  # the first answer, committed before: still there
    if disk is not None:
        await disk.set(False)
    else:
        await read_only(store, False)
    clock.advance(seconds=3)
    third = await me.press(second, option(second, right_letter(second.text)))  # the same press, again
    assert "第 3/5 题" in third.text and await answered(store) == 2
    sent = third
    for n in (4, 5):
        clock.advance(seconds=3)
        sent = await me.press(sent, option(sent, right_letter(sent.text)))
        assert f"第 {n}/5 题" in sent.text
    clock.advance(seconds=3)
    sent = await me.press(sent, option(sent, right_letter(sent.text)))
    clock.advance(seconds=3)
    done = await me.press(sent, "交卷")
    assert "已交卷" in done.text and "获得积分：5 分" in done.text
    points = await store._all("SELECT source, amount FROM points WHERE user_id = ? AND source = 'daily'", (USER,))
    assert [tuple(row) for row in points] == [("daily", 5)]

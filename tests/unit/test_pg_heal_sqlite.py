"""SQLite's faults of the database as a whole: a read-only database (SQLite's own `PRAGMA query_only`,
what a file or disk made read-only under the running bot gives: "attempt to write a readonly database")
and a full disk ("database or disk is full", raised by the connection for every write while the disk
is full). The person whose action meets it gets the apology; nothing committed before is lost; once the
fault is gone the same press works and the round ends as it would have (nothing half-written)."""
from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest

from bot.store import Store
from tests.support.factories import make_user
from tests.support.quiz_factories import make_bank

USER = 400001
APOLOGY = "抱歉，处理时出了点问题，请稍后再试。"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@pytest.fixture
def backend() -> str:
    return "sqlite"  # these faults are SQLite's own


class FullDisk:
    """sqlite3.Connection's calls, but every write fails as on a full disk while `full` is set."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.full = False

    def _check(self, sql: str) -> None:
        if self.full and sql.lstrip().upper().startswith(_WRITES):
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._conn.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


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
    disk = FullDisk(store._db._connection)  # type: ignore[attr-defined]
    store._db._connection = disk  # type: ignore[attr-defined]
    return disk


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
        disk.full = True
    else:
        await read_only(store, True)
    clock.advance(seconds=3)
    refused = await me.press(second, option(second, right_letter(second.text)))
    assert [a.text for a in refused.answers] == [APOLOGY] and refused.answers[0].show_alert
    assert "第 3/5 题" not in " ".join(refused.texts)
    assert await answered(store) == 1  # the first answer, committed before: still there
    if disk is not None:
        disk.full = False
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

"""Issue 17: a deployment that outgrew SQLite moves to PostgreSQL with `xuexi-bot copy-to-postgresql URL`
(bot/repositories/transfer.py, bot/cli.py). The demo's data (a three-level tree, 90 days of points, an
exam, members, the outbox) plus what a sandbox day adds are copied into an empty database: every row of
every table arrives as the PostgreSQL backend would have written it, the store's invariants hold there,
the next ids follow on (identity sequences set past the copied ids), and a second copy into the now
full database is refused with nothing written. Needs PostgreSQL (XUEXI_PG=auto or 1)."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.cli import main
from bot.db.migrations import head
from bot.sandbox.demo import seed_demo_data
from bot.services.keys import check_key, fingerprint
from bot.store import Store
from tests.support import invariants
from tests.support import pg as pg_support
from tests.support.pg import committed

pytestmark = [pytest.mark.skipif(pg_support.why_not() is not None, reason=f"PostgreSQL: {pg_support.why_not()}"),
              pytest.mark.loose_pushes]


def sqlite_tables(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name NOT LIKE 'sqlite_%' AND name <> 'alembic_version' ORDER BY name")]
        return {t: [tuple(r) for r in db.execute(f"SELECT * FROM {t}")] for t in names}


def as_postgresql_holds_it(row: tuple) -> tuple:
    return tuple(v.replace("\x00", "\x01") if isinstance(v, str) else v for v in row)


async def seeded(tmp_path: Path, clock, settings, i18n, bot) -> Path:
    source = tmp_path / "xuexi.sqlite3"
    store = await Store.open(source)
    try:
        await seed_demo_data(SimpleNamespace(store=store, clock=clock, settings=settings, i18n=i18n, bot=bot))
    finally:
        await store.close()
    return source


async def test_a_sqlite_database_copied_into_postgresql_is_the_same_database(tmp_path, pg_server, clock, settings,
                                                                             i18n, bot, capsys, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "copy-secret-key-0123456789")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    source = await seeded(tmp_path, clock, settings, i18n, bot)
    url = await pg_server.blank_database()
    before = sqlite_tables(source)
    assert sum(len(rows) for rows in before.values()) > 5000  # the demo's 90 days of history

    assert await asyncio.to_thread(main, ["copy-to-postgresql", url, "--db", str(source)]) == 0
    out = capsys.readouterr().out
    assert f"(schema version {head()})" in out and "points:" in out and "rows in" in out
    assert ":" + url.rsplit(":", 1)[1].split("/")[0] in out and "xuexi@" not in out  # where, without the user

    assert sqlite_tables(source) == before, "the operator's file is only read"
    # the source was made before key fingerprints were kept: the copy records the key in use
    assert before.pop("deployment") == []
    assert committed(url, "SELECT * FROM deployment") == [("key_fingerprint", fingerprint(b"copy-secret-key-0123456789"))]
    for table, rows in before.items():
        copied = committed(url, f"SELECT * FROM {table}")
        assert sorted(copied, key=repr) == sorted(map(as_postgresql_holds_it, rows), key=repr), table
    # the ledger's sums, the closure table, imports, exams hold there as here (the demo seeds its tasks
    # and certifications without their notices: the same few lines on both sides)
    seeded_without_notices = invariants.check(source).violations
    assert all("notice" in line for line in seeded_without_notices)
    assert invariants.check(url).violations == seeded_without_notices

    store = await Store.open(url)
    try:
        top = committed(url, "SELECT MAX(id) FROM orgs")[0][0]
        admin = (await store.get_user(100001)).id
        new_org = await store.create_org(admin, "party", "新迁入党委", "某县", clock.now().isoformat())
        assert new_org == top + 1, "the next id follows the copied ones"
    finally:
        await store.close()

    assert await asyncio.to_thread(main, ["copy-to-postgresql", url, "--db", str(source)]) == 1
    err = capsys.readouterr().err
    assert "nothing was copied" in err and "not empty" in err
    assert committed(url, "SELECT COUNT(*) FROM orgs") == [(len(before["orgs"]) + 1,)]


async def test_a_copy_that_fails_half_way_leaves_the_target_empty(tmp_path, pg_server, clock, settings, i18n, bot,
                                                                  capsys, monkeypatch):
    """A row PostgreSQL refuses (here a task naming an organisation that is not there, which SQLite let
    in with its foreign keys off) stops the copy: the target has no rows at all, and the copy can be
    run again once the source is mended."""
    monkeypatch.setenv("SECRET_KEY", "copy-secret-key-0123456789")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    source = await seeded(tmp_path, clock, settings, i18n, bot)
    with sqlite3.connect(source) as db:
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("UPDATE tasks SET org_id = 987654 WHERE id = (SELECT MIN(id) FROM tasks)")
        assert db.execute("SELECT changes()").fetchone()[0] == 1
    url = await pg_server.blank_database()
    assert await asyncio.to_thread(main, ["copy-to-postgresql", url, "--db", str(source)]) == 1
    err = capsys.readouterr().err
    assert "nothing was copied" in err and "tasks" in err
    for table in sqlite_tables(source):
        assert committed(url, f"SELECT COUNT(*) FROM {table}") == [(0,)], table

    with sqlite3.connect(source) as db:
        db.execute("UPDATE tasks SET org_id = (SELECT MIN(id) FROM orgs) WHERE org_id = 987654")
    assert await asyncio.to_thread(main, ["copy-to-postgresql", url, "--db", str(source)]) == 0
    assert committed(url, "SELECT COUNT(*) FROM tasks") == [(len(sqlite_tables(source)["tasks"]),)]


def test_the_command_says_what_it_needs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "copy-secret-key-0123456789")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["copy-to-postgresql", "--db", str(tmp_path / "x.sqlite3")]) == 2
    assert "postgresql://user:password@host:port/name" in capsys.readouterr().err
    assert main(["copy-to-postgresql", "postgresql://nobody@127.0.0.1:1/none", "--db",
                 str(tmp_path / "missing.sqlite3")]) == 1
    assert "missing.sqlite3 is not a file" in capsys.readouterr().err


async def test_the_copy_refuses_another_key_and_carries_the_fingerprint(tmp_path, pg_server, monkeypatch, capsys):
    source = tmp_path / "data" / "xuexi.sqlite3"
    store = await Store.open(source)
    await check_key(store, b"the-data-secret-key-0123")  # what the bot's start records
    await store.close()
    url = await pg_server.blank_database()
    monkeypatch.setenv("SECRET_KEY", "another-secret-key-0123")
    assert await asyncio.to_thread(main, ["copy-to-postgresql", url, "--db", str(source)]) == 1
    assert "was made with another SECRET_KEY" in capsys.readouterr().err
    assert committed(url, "SELECT to_regclass('users') IS NULL") == [(True,)]  # not even migrated
    monkeypatch.setenv("SECRET_KEY", "the-data-secret-key-0123")
    assert await asyncio.to_thread(main, ["copy-to-postgresql", url, "--db", str(source)]) == 0
    assert committed(url, "SELECT value FROM deployment") == [(fingerprint(b"the-data-secret-key-0123"),)]

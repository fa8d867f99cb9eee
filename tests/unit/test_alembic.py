"""The schema's migrations under Alembic (bot/db/migrations/), on SQLite and PostgreSQL: a database a bot of legacy
schema version 24 left, with people, an organisation, its members, a quiz attempt and pushes in it, upgraded in
place with every row kept; the revisions agree with the metadata (autogenerate finds nothing to do); a database
of a newer bot refused; processes starting together on a new database migrate it once; the frozen parts import
none of the bot's live code."""
from __future__ import annotations

import ast
import asyncio
import logging
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from alembic import command

from bot.db.migrations import ALEMBIC_MARK, config, head, revisions, sqlalchemy_url
from bot.db.migrations.legacy_postgresql import STATEMENTS as LEGACY_POSTGRESQL
from bot.migrations import LEGACY_HEAD, MIGRATIONS, SchemaTooNew, _sort_key, split_sql
from bot.repositories.names import sort_key
from bot.store import Store
from tests.support.pg import committed
from tests.unit.test_schema_metadata import differences

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "legacy_v24_data.sql"


def _data_statements() -> list[str]:
    lines = DATA.read_text(encoding="utf-8").splitlines()
    return [line.rstrip(";") for line in lines if line.strip() and not line.startswith("--")]


async def legacy_database(backend: str, tmp_path: Path, pg_server, version: int = 24) -> str:
    """A database as a bot of legacy schema `version` made it (the frozen scripts 1..version, its version
    counter), holding the fixture's rows at version 24 (none at another): what Store.open takes."""
    rows = _data_statements() if version == 24 else []
    if backend == "sqlite":
        path = tmp_path / "legacy.sqlite3"
        with sqlite3.connect(path, isolation_level=None) as db:
            for script in MIGRATIONS[:version]:
                for statement in split_sql(script):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {version}")
            for statement in rows:
                db.execute(statement)
        return str(path)
    url = await pg_server.blank_database()
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
            for statements in LEGACY_POSTGRESQL[:version]:
                for statement in statements:
                    await conn.execute(statement)
            await conn.execute(f"INSERT INTO schema_version (version) VALUES ({version})")
            for statement in rows:
                await conn.execute(statement)
    finally:
        await conn.close()
    return url


async def new_database(backend: str, tmp_path: Path, pg_server) -> str:
    return str(tmp_path / "new.sqlite3") if backend == "sqlite" else await pg_server.blank_database()


def migration_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.store" and "schema" in r.getMessage()]


async def test_a_version_24_database_is_upgraded_in_place_with_its_rows(backend, tmp_path, pg_server, caplog):
    database = await legacy_database(backend, tmp_path, pg_server)
    with caplog.at_level(logging.INFO, logger="bot.store"):
        store = await Store.open(database)
    try:
        assert await store.schema_version() == head()
        assert [m.name for m in await store.member_page(1, 10, 0)] == ["冯雪", "何伟"]
        assert (await store.get_user(710002)).phone == "+8613800000002"
        assert await store.points_total(710002) == 1
        async with store.raw_tx() as db:  # a push written after the upgrade takes the next id
            await db.execute("INSERT INTO outbox (chat_id, kind, payload, next_attempt_at, created_at) "
                             "VALUES (710001, 'text', '{}', 'n', 'n')")
    finally:
        await store.close()
    assert migration_lines(caplog) == [
        *(f"database: migrating the schema from version {v - 1} to {v} (of {LEGACY_HEAD})" for v in range(25, 28)),
        f"database: the schema of version {LEGACY_HEAD} is revision 0001: stamped",
        *(f"database: migrating the schema from revision {a} to {b} (of {head()})"
          for a, b in zip(revisions(), revisions()[1:]))]
    assert committed(database, "SELECT name, phone FROM members ORDER BY id") == [
        ("何伟", "+8613800000001"), ("冯雪", "+8613800000002")]
    assert committed(database, "SELECT name FROM orgs") == [("机关第一党支部",)]
    assert committed(database, "SELECT position, answer, correct FROM quiz_items WHERE attempt_id = 1 "
                               "ORDER BY position") == [(0, '["T"]', 1), (1, '["B"]', 0)]
    assert committed(database, "SELECT id, chat_id, status, dedupe_key, message_id, expires_at FROM outbox "
                               "ORDER BY id") == [
        (1, 710002, "sent", "task:1:710002", 9001, None), (2, 710001, "pending", "report:1:2026-11-21", None, None),
        (3, 710003, "skipped_unreachable", None, None, None), (4, 710001, "pending", None, None, None)]
    # the backfill of legacy version 25: a task's text typed before is kept as HTML showing it as typed
    assert committed(database, "SELECT body FROM tasks") == [("Bring &lt;b&gt;pens&lt;/b&gt; &amp; paper",)]


async def test_an_upgraded_legacy_database_is_the_one_the_metadata_describes(backend, tmp_path, pg_server):
    """What the legacy scripts built and the stamp took over agrees with bot/db's metadata (constraint names
    aside: the legacy scripts left them unnamed; tests/unit/test_schema_metadata.py says how it compares)."""
    database = await legacy_database(backend, tmp_path, pg_server, version=3)
    await (await Store.open(database)).close()
    assert await differences(sqlalchemy_url(database)) == ([], [])


@pytest.mark.filterwarnings("ignore:.*expression-based index")  # SQLite cannot reflect questions_fingerprint
async def test_autogenerate_on_a_database_at_head_finds_nothing_to_do(backend, tmp_path, pg_server):
    """`alembic check` (autogenerate through env.py, as a developer runs it): the revisions and the metadata
    agree, to the constraint names."""
    database = await new_database(backend, tmp_path, pg_server)
    await (await Store.open(database)).close()
    await asyncio.to_thread(command.check, config(sqlalchemy_url(database)))


async def test_a_database_of_a_newer_revision_is_refused(backend, tmp_path, pg_server):
    database = await new_database(backend, tmp_path, pg_server)
    await (await Store.open(database)).close()
    if backend == "sqlite":
        with sqlite3.connect(database) as db:
            db.execute("UPDATE alembic_version SET version_num = '9999'")
    else:
        conn = await asyncpg.connect(database)
        await conn.execute("UPDATE alembic_version SET version_num = '9999'")
        await conn.close()
    with pytest.raises(SchemaTooNew, match=f"schema revision 9999, newer than this bot's {head()}"):
        await Store.open(database)
    assert committed(database, "SELECT version_num FROM alembic_version") == [("9999",)]  # left as it was


async def test_two_stores_opening_a_new_database_at_once_migrate_it_once(backend, tmp_path, pg_server, caplog):
    database = await new_database(backend, tmp_path, pg_server)
    with caplog.at_level(logging.INFO, logger="bot.store"):
        stores = await asyncio.wait_for(asyncio.gather(Store.open(database), Store.open(database)), 60)
    for store in stores:
        await store.close()
    assert len(migration_lines(caplog)) == len(revisions())
    assert committed(database, "SELECT version_num FROM alembic_version") == [(head(),)]


async def test_a_bot_from_before_alembic_refuses_a_database_alembic_keeps(tmp_path):
    """The legacy counter is set above every legacy version: a bot from before the move to Alembic compares
    it with its scripts' count and refuses (SchemaTooNew) instead of running its scripts on it."""
    path = tmp_path / "x.sqlite3"
    await (await Store.open(path)).close()
    with sqlite3.connect(path) as db:
        (counter,) = db.execute("PRAGMA user_version").fetchone()
    assert counter == ALEMBIC_MARK > LEGACY_HEAD


def test_the_frozen_migrations_import_none_of_the_bot_s_live_code():
    frozen = [ROOT / "bot" / "migrations.py", ROOT / "bot" / "db" / "migrations" / "legacy_postgresql.py",
              *(ROOT / "bot" / "db" / "migrations" / "versions").glob("r*.py")]
    for path in frozen:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m.split(".")[0] == "bot"], path


def test_the_frozen_sort_key_is_the_one_migration_20_computed():
    names = ["于洋", "何伟", "冯雪", "第十支部", "第二支部", "机关十二支部", "成员10", "Alice", "  张 一鸣 ", ""]
    assert [_sort_key(n, postgresql=False) for n in names] == [sort_key(n) for n in names]

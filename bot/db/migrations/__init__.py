"""The schema's migrations: Alembic revisions in versions/ (one file per change, batch mode on SQLite), run by
Store.migrate through `migrate` below, configured here in code (no alembic.ini is read: an installed bot
migrates without the repository; the alembic.ini at the repository's root is for developers' `alembic revision
--autogenerate`, through env.py).

A database is brought to the head in one transaction that holds the migration lock (BEGIN IMMEDIATE on SQLite,
an advisory lock on PostgreSQL), re-reading its state once it holds it, so processes starting together
migrate it once. What it finds decides the way:
- an Alembic revision this bot knows: the revisions after it;
- one it does not know, or a legacy version above the last legacy script: refused (SchemaTooNew);
- a legacy version (a database the scripts of bot/migrations.py made): the scripts it has not run, then it is
  stamped with the baseline (0001, that same schema), then the revisions after the baseline;
- nothing: every revision from the baseline on.
The legacy counter is then set to ALEMBIC_MARK, above every legacy version, so that a bot from before the
move to Alembic refuses the database (its SchemaTooNew) instead of running its scripts on it."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.migration import MigrationContext, MigrationInfo
from alembic.operations import Operations
from alembic.script import ScriptDirectory

from bot.db.migrations.legacy_postgresql import STATEMENTS as LEGACY_POSTGRESQL
from bot.migrations import BACKFILLS, LEGACY_HEAD, MIGRATIONS, SchemaTooNew, split_sql

__all__ = ["ALEMBIC_MARK", "BASELINE", "MIGRATION_LOCK", "SchemaTooNew", "config", "head", "migrate_sync",
           "revision_of", "revisions", "sqlalchemy_url"]

HERE = Path(__file__).resolve().parent
BASELINE = "0001"  # the schema of legacy version LEGACY_HEAD
ALEMBIC_MARK = 1000  # the legacy counter of a database Alembic keeps (above every legacy version)
MIGRATION_LOCK = 7_417_001  # pg_advisory_xact_lock's key, the one the legacy migrations took
log = logging.getLogger("bot.store")


def sqlalchemy_url(database: str | Path) -> str:
    """The SQLAlchemy URL of what Store.open takes: a SQLite file (or ":memory:") or a postgresql:// URL,
    with the async drivers (aiosqlite, asyncpg)."""
    text = str(database)
    for scheme in ("postgresql://", "postgres://"):
        if text.startswith(scheme):
            return "postgresql+asyncpg://" + text[len(scheme):]
    return "sqlite+aiosqlite://" if text == ":memory:" else f"sqlite+aiosqlite:///{text}"


def config(url: str | None = None) -> Config:
    """Alembic's configuration, made in code: the scripts beside this module."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@lru_cache(maxsize=1)
def scripts() -> ScriptDirectory:
    """The revisions (read once per process: they are files of the installed bot)."""
    return ScriptDirectory.from_config(config())


def head() -> str:
    """The newest revision this bot knows."""
    found = scripts().get_current_head()
    assert found is not None
    return found


def revisions() -> list[str]:
    """Every revision, oldest first."""
    return [s.revision for s in reversed(list(scripts().walk_revisions()))]


def revision_of(conn: sa.Connection) -> str | None:
    """The database's Alembic revision (None: Alembic has not stamped it)."""
    return MigrationContext.configure(conn).get_current_revision()


def legacy_version(conn: sa.Connection) -> int:
    """The legacy scripts' counter: PRAGMA user_version, or the schema_version table on PostgreSQL."""
    if conn.dialect.name == "sqlite":
        return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.execute(sa.text("SELECT COALESCE(MAX(version), 0) FROM schema_version")).scalar_one())


def _set_legacy_version(conn: sa.Connection, version: int) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA user_version = {int(version)}")
        return
    conn.execute(sa.text("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)"))
    conn.execute(sa.text("DELETE FROM schema_version"))
    conn.execute(sa.text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": version})


def _legacy_statements(conn: sa.Connection, version: int) -> Iterator[str]:
    if conn.dialect.name == "postgresql":
        yield from LEGACY_POSTGRESQL[version - 1]
    else:
        yield from split_sql(MIGRATIONS[version - 1])


def _run_legacy(conn: sa.Connection, current: int) -> None:
    """The legacy scripts after `current`, each logged as they always were, with their backfills."""
    for version in range(current + 1, LEGACY_HEAD + 1):
        log.info("database: migrating the schema from version %d to %d (of %d)", version - 1, version, LEGACY_HEAD)
        for statement in _legacy_statements(conn, version):
            conn.exec_driver_sql(statement)
        if version in BACKFILLS:
            BACKFILLS[version](conn)


def _log_step(*, step: MigrationInfo, **_kw: Any) -> None:
    log.info("database: migrating the schema from revision %s to %s (of %s)",
             ", ".join(step.source_revision_ids) or "none", ", ".join(step.destination_revision_ids), head())


def _upgrade(conn: sa.Connection) -> None:
    """The revisions the database has not run (Alembic's `upgrade head`), each logged."""
    directory = scripts()
    context = MigrationContext.configure(conn, opts={
        "script": directory, "render_as_batch": conn.dialect.name == "sqlite", "on_version_apply": [_log_step],
        "fn": lambda rev, _context: directory._upgrade_revs("head", rev)})
    with Operations.context(context):
        context.run_migrations()


def migrate_sync(conn: sa.Connection) -> None:
    """The database behind `conn` (no transaction open) brought to the head, in one transaction holding the
    migration lock (the module's docstring). On SQLite the connection's BEGIN must be BEGIN IMMEDIATE."""
    with conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        legacy, revision = legacy_version(conn), revision_of(conn)
        if legacy > LEGACY_HEAD and legacy != ALEMBIC_MARK:
            raise SchemaTooNew(legacy, LEGACY_HEAD)
        if revision is not None and revision not in revisions():
            raise SchemaTooNew(revision, head())
        if revision is None and 0 < legacy <= LEGACY_HEAD:
            _run_legacy(conn, legacy)
            log.info("database: the schema of version %d is revision %s: stamped", LEGACY_HEAD, BASELINE)
            MigrationContext.configure(conn).stamp(scripts(), BASELINE)
        if legacy != ALEMBIC_MARK:
            _set_legacy_version(conn, ALEMBIC_MARK)
        if revision != head():
            _upgrade(conn)

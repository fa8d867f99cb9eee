"""Alembic's environment for developers' commands (`alembic revision --autogenerate -m "..."`, `alembic upgrade
head`), run through the alembic.ini at the repository's root: the database is the ini's `sqlalchemy.url`, or
DATABASE_URL / DATABASE_PATH (a SQLite file) from the environment. The bot itself never comes here: Store.migrate
runs the revisions through bot/db/migrations/__init__.py."""
from __future__ import annotations

import asyncio
import os

import sqlalchemy as sa
from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db.migrations import sqlalchemy_url
from bot.db.migrations.autogenerate import options
from bot.db.schema import metadata


def _url() -> str:
    configured = context.config.get_main_option("sqlalchemy.url")
    if configured:
        return configured
    database = os.environ.get("DATABASE_URL") or os.environ.get("DATABASE_PATH") or "data/xuexi.sqlite3"
    return sqlalchemy_url(database)


def _run(conn: sa.Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, **options(conn.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    engine = create_async_engine(_url())
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


def main() -> None:
    if context.is_offline_mode():
        context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_online())


if getattr(context, "_proxy", None) is not None:  # run by Alembic (not imported by a tool walking the package)
    main()

"""A SQLite database copied into an empty PostgreSQL database (`xuexi-bot copy-to-postgresql URL`): how a
deployment that outgrew one machine moves its data to the database server (issue 17).

The bot must be stopped first (what it wrote after the copy began would be left behind). The source is
first copied with SQLite's backup API into a temporary file, which the bot's own migrations bring to
the current schema (the operator's file is not touched). The target is migrated by the same scripts
(bot/db/migrations/) and must hold no rows. Then, in one transaction, every
table is copied with PostgreSQL's COPY in an order that puts the rows a foreign key names before the
rows naming them (a table naming itself, the organisation tree, is checked at the end of its own COPY),
each value in its column's type as the PostgreSQL backend writes it (a NUL in a text is U+0001, as
bot/dialect.py sends it), and each identity column's sequence is set past the highest id copied, so
the next id the bot takes follows on. Each table's rows are counted on both sides before the commit;
any difference, or any error, rolls everything back and the target stays empty.
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bot import dialect
from bot.repositories.backup import BackupError, _copy, inspect, newer

BATCH = 5_000  # rows read from SQLite at a time and handed to one COPY's stream


class TransferError(Exception):
    """One line for the operator; nothing was written to the target."""


@dataclass
class Copied:
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _as_column(kind: str) -> Callable[[Any], Any]:
    """A SQLite value as the PostgreSQL column of this type holds it."""
    if kind == "bigint":
        return lambda v: v if v is None or isinstance(v, int) else int(v)
    if kind == "double precision":
        return lambda v: v if v is None else float(v)
    if kind == "bytea":
        return lambda v: v if v is None or isinstance(v, bytes) else (v.encode() if isinstance(v, str) else bytes(v))
    return lambda v: v if v is None else dialect.value(v if isinstance(v, str) else str(v))


def _order(tables: list[str], references: dict[str, set[str]]) -> list[str]:
    """The tables, each after the tables its foreign keys name (itself aside)."""
    done: list[str] = []
    todo = sorted(tables)
    while todo:
        ready = [t for t in todo if references.get(t, set()) - {t} <= set(done)]
        if not ready:
            raise TransferError(f"the foreign keys of {', '.join(todo)} name each other: no order to copy them in")
        done += ready
        todo = [t for t in todo if t not in ready]
    return done


def _rows(source: sqlite3.Connection, table: str, columns: list[str],
          convert: list[Callable[[Any], Any]]) -> Iterator[tuple[Any, ...]]:
    cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
    while batch := cursor.fetchmany(BATCH):
        for row in batch:
            yield tuple(c(v) for c, v in zip(convert, row, strict=True))


async def _schema(conn: asyncpg.Connection) -> tuple[dict[str, list[tuple[str, str]]], dict[str, set[str]],
                                                      list[tuple[str, str]]]:
    """The target's tables with their (column, type) in order, what each table's foreign keys name,
    and the identity columns."""
    columns: dict[str, list[tuple[str, str]]] = {}
    identities: list[tuple[str, str]] = []
    for r in await conn.fetch("SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns "
                              "WHERE table_schema = current_schema() "
                              "AND table_name NOT IN ('schema_version', 'alembic_version') "
                              "ORDER BY table_name, ordinal_position"):
        columns.setdefault(r["table_name"], []).append((r["column_name"], r["data_type"]))
        if r["is_identity"] == "YES":
            identities.append((r["table_name"], r["column_name"]))
    references: dict[str, set[str]] = {}
    for r in await conn.fetch("SELECT conrelid::regclass::text AS t, confrelid::regclass::text AS f FROM pg_constraint "
                              "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"):
        references.setdefault(r["t"].strip('"'), set()).add(r["f"].strip('"'))
    return columns, references, identities


def snapshot(database: Path, target: Path, known: Sequence[str]) -> str:
    """A copy of the SQLite database at `database` at `target` (the operator's file is only read); its
    schema version, one of `known` (this bot's revisions, oldest first) or older. TransferError says what is
    wrong with it."""
    try:
        version = inspect(database)
        if newer(version, known):
            raise TransferError(f"{database} has schema version {version}, newer than this bot's "
                                f"{known[-1]}: copy it with the bot version that made it")
        with closing(sqlite3.connect(database, timeout=30)) as live:
            _copy(live, target)
    except (BackupError, sqlite3.DatabaseError) as exc:
        raise TransferError(str(exc)) from None
    return version


async def copy_rows(source_path: Path, url: str, progress: Callable[[str], None] = lambda line: None) -> Copied:
    """Every row of the SQLite database at `source_path` into the PostgreSQL database at `url`, both
    already at the same schema version, the target empty (TransferError otherwise: nothing copied)."""
    started = time.monotonic()
    with closing(sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)) as source:
        conn = await asyncpg.connect(url)
        try:
            copied = await _copy_all(source, conn, progress)
        finally:
            await conn.close()
    copied.seconds = time.monotonic() - started
    return copied


async def _copy_all(source: sqlite3.Connection, conn: asyncpg.Connection, progress: Callable[[str], None]) -> Copied:
    columns, references, identities = await _schema(conn)
    present = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = sorted(set(columns) - present)
    if missing:
        raise TransferError(f"the source has no table {', '.join(missing)}: not a database of this bot")
    copied = Copied()
    async with conn.transaction():
        # nobody writes the target meanwhile (a bot started on it too early waits for the commit)
        await conn.execute(f"LOCK TABLE {', '.join(columns)} IN EXCLUSIVE MODE")
        for table in sorted(columns):
            if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                raise TransferError(f"the target database is not empty (table {table} has rows): "
                                    "copy into a new database")
        for table in _order(list(columns), references):
            names = [c for c, _ in columns[table]]
            convert = [_as_column(kind) for _, kind in columns[table]]
            have = int(source.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            if have:
                await conn.copy_records_to_table(table, columns=names, records=_rows(source, table, names, convert))
            landed = int(await conn.fetchval(f"SELECT COUNT(*) FROM {table}"))
            if landed != have:
                raise TransferError(f"{table}: {have} rows in the source, {landed} copied")
            copied.tables[table] = have
            if have:
                progress(f"  {table}: {have:,} row{'' if have == 1 else 's'}")
            await asyncio.sleep(0)
        for table, column in identities:  # the next id follows the highest one copied
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                               f"COALESCE(MAX({column}), 0) + 1, false) FROM {table}")
    return copied

"""bot/db/schema.py describes exactly the database bot/migrations.py builds, on SQLite and on PostgreSQL.

A database is built by today's migrations (Store.open), and compared with the metadata by Alembic's
autogenerate (what `alembic revision --autogenerate` would write: it must be nothing) and, for what
Alembic cannot compare on these databases, by the checks below it. Kinds of difference set aside, and why:
- constraint names: the migrations leave unique, foreign key and check constraints unnamed (SQLite
  reflects no name; PostgreSQL names them itself, users_phone_key), while the metadata names them by its
  naming convention. Alembic matches those by name, so its add/remove of unique constraints and foreign
  keys is set aside here and both are compared by what they hold instead (columns; referred table and
  columns and ON DELETE), as are what Alembic does not compare at all: check constraints, the WHERE of
  partial indexes and the collation of text columns (COLLATE "C" on PostgreSQL);
- SQLite only: an identity (`Identity()` on the id columns) is PostgreSQL's; SQLite's rowid alias has none
  to reflect. A single-column PRIMARY KEY declared without NOT NULL is reported nullable by SQLite
  (PostgreSQL makes every key column NOT NULL, as the metadata says). SQLite cannot reflect the
  expression index questions_fingerprint (Alembic skips it with a warning; it is compared on PostgreSQL);
  SQLAlchemy reflects no ON DELETE of a column-level REFERENCES there, so it is read from PRAGMA
  foreign_key_list;
- PostgreSQL only: schema_version, the migrations' bookkeeping table (PRAGMA user_version on SQLite).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db.migrations import sqlalchemy_url
from bot.db.schema import ddl, metadata
from bot.store import Store

ROOT = Path(__file__).resolve().parents[2]

async def built_by_migrations(backend: str, tmp_path: Path, pg_server: Any) -> str:
    """A new database made by today's migrations: its SQLAlchemy URL."""
    database = str(tmp_path / "schema.sqlite3") if backend == "sqlite" else await pg_server.blank_database()
    store = await Store.open(database)
    await store.close()
    return sqlalchemy_url(database)


def _kept(diff: Any, dialect: str) -> bool:
    """False for a difference of a kind set aside (the module's docstring says why)."""
    change = diff[0] if isinstance(diff, list) else diff
    kind = change[0]
    if kind in {"add_fk", "remove_fk"} or (kind in {"add_constraint", "remove_constraint"}
                                           and isinstance(change[1], sa.UniqueConstraint)):
        return False
    if dialect == "sqlite" and kind == "modify_default" and isinstance(change[-1], sa.Identity):
        return False
    if dialect == "sqlite" and kind == "modify_nullable" and change[-2] is True and change[-1] is False:
        return not metadata.tables[change[2]].c[change[3]].primary_key
    return True


def _include(name: str | None, type_: str, parents: dict[str, Any]) -> bool:
    return not (type_ == "table" and name == "schema_version")


def alembic_differences(conn: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                     "include_name": _include})
    with warnings.catch_warnings():  # SQLite's unreflectable expression index (the docstring)
        warnings.filterwarnings("ignore", message=".*expression-based index")
        return [d for d in compare_metadata(context, metadata) if _kept(d, conn.dialect.name)]


def _check_sig(sqltext: str) -> tuple[str, frozenset[str]]:
    """`kind IN ('a', 'b')` (or PostgreSQL's `(kind = ANY (ARRAY['a'::text, ...]))`) as (column, values)."""
    column = re.match(r"[(\s]*(\w+)", sqltext)
    assert column, sqltext
    return column[1], frozenset(re.findall(r"'([^']*)'", sqltext))


def _where_sig(clause: Any) -> str:
    """A partial index's condition as text both backends' spellings reduce to: PostgreSQL's
    `((kind = 'weekly'::text) AND (scored = 1))` and `(status = ANY (ARRAY['open'::text, ...]))` as
    `kind = 'weekly' and scored = 1` and `status in 'open', ...`."""
    sql = str(clause).lower().replace("::text", "")
    return " ".join(re.sub(r"[()\[\]]", " ", sql).split()).replace("= any array", "in")


def _ondelete(conn: sa.Connection, table: str) -> dict[tuple[str, ...], str | None]:
    """SQLite's ON DELETE of each foreign key by its columns (PRAGMA foreign_key_list)."""
    rows = conn.exec_driver_sql(f"PRAGMA foreign_key_list({table})").all()
    return {(r[3],): (None if r[6] == "NO ACTION" else r[6]) for r in rows}


def constraint_differences(conn: sa.Connection) -> list[str]:
    """The unique, foreign key and check constraints of every table, by what they hold, on both sides,
    the condition of each partial index and the collation of each column (Alembic compares none of these)."""
    inspector = sa.inspect(conn)
    warnings.filterwarnings("ignore", message=".*expression-based index")  # within differences()' catch_warnings
    found = []
    for table in metadata.sorted_tables:
        want: set[Any] = {("unique", tuple(c.name for c in u.columns)) for u in table.constraints
                          if isinstance(u, sa.UniqueConstraint) and not isinstance(u, sa.PrimaryKeyConstraint)}
        have: set[Any] = {("unique", tuple(u["column_names"])) for u in inspector.get_unique_constraints(table.name)}
        want |= {("fk", tuple(fk.column_keys), fk.referred_table.name, tuple(e.column.name for e in fk.elements),
                  fk.ondelete) for fk in table.foreign_key_constraints}
        sqlite_ondelete = _ondelete(conn, table.name) if conn.dialect.name == "sqlite" else {}
        for fk in inspector.get_foreign_keys(table.name):
            cols = tuple(fk["constrained_columns"])
            ondelete = sqlite_ondelete[cols] if sqlite_ondelete else fk["options"].get("ondelete")
            have.add(("fk", cols, fk["referred_table"], tuple(fk["referred_columns"]), ondelete))
        want |= {("check", _check_sig(str(c.sqltext))) for c in table.constraints if isinstance(c, sa.CheckConstraint)}
        have |= {("check", _check_sig(c["sqltext"])) for c in inspector.get_check_constraints(table.name)}
        want |= {("collation", c.name, collation) for c in table.columns
                 if (collation := getattr(c.type.dialect_impl(conn.dialect), "collation", None))}
        have |= {("collation", c["name"], c["type"].collation) for c in inspector.get_columns(table.name)
                 if getattr(c["type"], "collation", None)}
        where = f"{conn.dialect.name}_where"
        want |= {("where", str(ix.name), _where_sig(ix.dialect_options[conn.dialect.name]["where"]))
                 for ix in table.indexes if ix.dialect_options[conn.dialect.name]["where"] is not None}
        have |= {("where", ix["name"], _where_sig(ix["dialect_options"][where]))
                 for ix in inspector.get_indexes(table.name) if where in ix.get("dialect_options", {})}
        found += [f"{table.name}: only in the metadata {x}" for x in sorted(want - have, key=str)]
        found += [f"{table.name}: only in the database {x}" for x in sorted(have - want, key=str)]
    return found


async def differences(url: str) -> tuple[list[Any], list[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            with warnings.catch_warnings():
                return await conn.run_sync(lambda c: (alembic_differences(c), constraint_differences(c)))
    finally:
        await engine.dispose()


async def test_the_metadata_describes_the_database_the_migrations_build(backend, tmp_path, pg_server):
    url = await built_by_migrations(backend, tmp_path, pg_server)
    alembic_found, constraints_found = await differences(url)
    assert alembic_found == []
    assert constraints_found == []


async def test_a_database_made_from_the_metadata_is_the_one_it_describes(backend, tmp_path, pg_server):
    """The metadata's own DDL (what a baseline revision would run on a new database) is valid on both
    backends and makes the database the migrations make, as far as the comparison can tell."""
    database = str(tmp_path / "new.sqlite3") if backend == "sqlite" else await pg_server.blank_database()
    url = sqlalchemy_url(database)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    finally:
        await engine.dispose()
    assert await differences(url) == ([], [])


async def test_a_column_missing_from_the_metadata_is_a_difference(backend, tmp_path, pg_server):
    url = await built_by_migrations(backend, tmp_path, pg_server)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE leases ADD COLUMN extra TEXT"))
        async with engine.connect() as conn:
            found = await conn.run_sync(alembic_differences)
    finally:
        await engine.dispose()
    assert [d[0] if isinstance(d, tuple) else d[0][0] for d in found] == ["remove_column"]
    assert (found[0][2], found[0][3].name) == ("leases", "extra")


def test_schema_sql_is_the_metadata_s_ddl():
    """schema.sql, the checked-in snapshot of the schema (PostgreSQL's DDL), is up to date."""
    assert (ROOT / "schema.sql").read_text(encoding="utf-8") == ddl("postgresql"), \
        "schema.sql is stale: regenerate it with `python -m bot.db.schema > schema.sql`"

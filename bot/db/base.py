"""The metadata every table sits on, and the column types that map as bot/migrations.py's SQL does today.

Today's SQL is SQLite's, rewritten for PostgreSQL by bot/dialect.py: INTEGER is BIGINT there (SQLite's
integers are 64-bit: Telegram ids need it), `id INTEGER PRIMARY KEY` an identity column, BLOB is BYTEA,
REAL is DOUBLE PRECISION and TEXT compares by code point (COLLATE "C"), as SQLite's does. The types below
say the same explicitly, one variant per backend."""
from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Double,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.expression import text
from sqlalchemy.types import TypeEngine

# stable names for the constraints the metadata creates (Alembic's batch mode on SQLite needs them named)
NAMING = {
    "pk": "pk_%(table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
}
metadata = MetaData(naming_convention=NAMING)

INT = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER on SQLite (a rowid alias as a key), BIGINT on PostgreSQL
TEXT = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
BLOB = LargeBinary()  # BLOB / BYTEA
REAL: TypeEngine[float] = Double().with_variant(sqlite.REAL(), "sqlite")  # REAL / DOUBLE PRECISION
# A table whose ids SQLite numbers with AUTOINCREMENT (never reused after a delete)
AUTOINCREMENT: dict[str, Any] = {"sqlite_autoincrement": True}


def default(sql: str) -> TextClause:
    """A server default written as SQL (`default("''")`, `default("0")`)."""
    return text(sql)


def id_key() -> Column[int]:
    """`id INTEGER PRIMARY KEY`: SQLite's rowid alias, an identity column on PostgreSQL."""
    return Column("id", INT, Identity(), primary_key=True)


def one_of(column: str, *values: str) -> CheckConstraint:
    """`CHECK (column IN (values...))`, named after its column."""
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


def where(sql: str) -> dict[str, Any]:
    """A partial index's condition, for both backends."""
    return {"sqlite_where": text(sql), "postgresql_where": text(sql)}


def nulls_first_on_postgresql(table: Table) -> None:
    """Each plain (non-unique, by columns) index of `table` with its columns other than `id` in NULLS FIRST
    order on PostgreSQL, as bot/dialect.py has always made them: an index then gives SQLite's order
    (NULL first, ascending). SQLite cannot say it in an index and needs not (ddl_sqlite_index below)."""
    for index in [ix for ix in table.indexes if not ix.unique]:
        columns = [c for c in index.expressions if isinstance(c, Column)]
        if len(columns) != len(index.expressions):
            continue
        table.indexes.discard(index)
        ordered = [c if c.name == "id" else c.nulls_first() for c in columns]
        Index(index.name, *ordered, **index.dialect_kwargs)


@compiles(CreateIndex, "sqlite")
def ddl_sqlite_index(create: CreateIndex, compiler: DDLCompiler, **kw: Any) -> str:
    """SQLite's CREATE INDEX without PostgreSQL's NULLS FIRST (SQLite puts NULL first anyway)."""
    sql: str = compiler.visit_create_index(create, **kw)  # type: ignore[no-untyped-call]
    return sql.replace(" NULLS FIRST", "")

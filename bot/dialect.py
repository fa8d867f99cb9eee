"""Where SQLite and PostgreSQL differ, in one place (issue 17): the repositories and the migrations are
written once, in SQLite's SQL, and a statement bound for PostgreSQL is rewritten here on its way.

Being replaced by SQLAlchemy Core (bot/db/engine.py). Statements written in Core (the repositories
points, users, ranking and quizzes) never pass through here nor through bot/pg.py's rewriting: SQLAlchemy's
PostgreSQL dialect compiles them and its asyncpg adapter sends them as compiled, on the same connection.
What still depends on this module: the migrations (bot/migrations.py and its backfills), the store's own
BEGIN / COMMIT / SAVEPOINT / PRAGMA user_version statements, and every other repository under
bot/repositories/ (activities, audit, backup, certification, deployment, due, exam_attempts, exams, fsm,
inbox, invites, learner, leases, manuscripts, members, membership_history, names, orgs, outbox, questions,
rate_limits, renames, reports, tasks, transfer) and the helpers users.py keeps for them (menus_due).

What is rewritten (outside string literals and quoted names):
- `?` and `:name` placeholders become `$1, $2, ...`, each cast to the type of the Python value bound to it
  (`$1::bigint`, `$2::text`, ...): PostgreSQL must know a parameter's type when it prepares a statement,
  and SQLite's columns take what they are given, so the value says what it is. A NULL has no type; it
  is left to the context, except in `? IS [NOT] NULL`, which has none (it is made text there);
- `x IS ?` / `x IS NOT ?` become `IS NOT DISTINCT FROM` / `IS DISTINCT FROM` (SQLite's IS compares
  any two values, PostgreSQL's only with NULL, TRUE and FALSE);
- `LIKE` becomes `ILIKE` (SQLite's LIKE ignores the case of ASCII letters, PostgreSQL's does not);
- `char(n)` (a character by its code) becomes `chr(n)`;
- `BEGIN IMMEDIATE` becomes `BEGIN` (a PostgreSQL transaction takes its row locks as it writes);
- `PRAGMA user_version` (the schema's version) is a one-row table, `schema_version`;
- in CREATE TABLE / ALTER TABLE: INTEGER is BIGINT (SQLite's integers are 64-bit: Telegram ids do not fit
  in 32), an `id INTEGER PRIMARY KEY [AUTOINCREMENT]` (SQLite's rowid alias, numbered when no id is
  given) is an identity column, BLOB is BYTEA, REAL is DOUBLE PRECISION and TEXT compares as SQLite's
  does, by code point (COLLATE "C", whatever the database's locale);
- a NUL in a text value (names.sort_key's separator) is sent as U+0001: PostgreSQL's text has no NUL.

Statements that need more than this are written portably in the repositories instead.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

MIGRATION_LOCK = 7_417_001  # pg_advisory_xact_lock's key for the migrations
SCHEMA_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)"
_PRAGMA_GET = re.compile(r"^\s*PRAGMA\s+user_version\s*;?\s*$", re.IGNORECASE)
_PRAGMA_SET = re.compile(r"^\s*PRAGMA\s+user_version\s*=\s*(\d+)\s*;?\s*$", re.IGNORECASE)
_DDL = re.compile(r"^\s*(CREATE\s+(TEMP\s+|TEMPORARY\s+)?TABLE|ALTER\s+TABLE)\b", re.IGNORECASE)

# a Python value's PostgreSQL type, for the cast of the placeholder it is bound to
_CASTS: dict[type, str] = {bool: "bigint", int: "bigint", str: "text", float: "float8", bytes: "bytea",
                           bytearray: "bytea", memoryview: "bytea"}


def pragma(sql: str) -> tuple[str, ...] | None:
    """The PostgreSQL statements for a `PRAGMA user_version` read or write (None: not one)."""
    if _PRAGMA_GET.match(sql):
        # the advisory lock is held to the end of the transaction reading the version: Store.migrate
        # re-reads it in each migration's transaction, so processes starting together migrate one at a
        # time (outside a transaction the lock is let go at once)
        return (f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})",
                "SELECT COALESCE(MAX(version), 0) AS user_version FROM schema_version")
    found = _PRAGMA_SET.match(sql)
    if found:
        return ("DELETE FROM schema_version", f"INSERT INTO schema_version (version) VALUES ({int(found[1])})")
    return None


def _cast_of(value: Any) -> str:
    for kind, cast in _CASTS.items():
        if isinstance(value, kind):
            return cast
    return "text"


def value(param: Any) -> Any:
    """A parameter as PostgreSQL takes it: what SQLite's default adapters would have stored."""
    if isinstance(param, bool):
        return int(param)
    if isinstance(param, dt.datetime):
        return param.isoformat(" ")
    if isinstance(param, dt.date):
        return param.isoformat()
    if isinstance(param, (bytearray, memoryview)):
        return bytes(param)
    if isinstance(param, str) and "\x00" in param:  # PostgreSQL's text holds no NUL: the next lowest
        return param.replace("\x00", "\x01")       # character (names.sort_key's separator) sorts alike
    return param


_ROW_LOCK = re.compile(r"/\*\s*(FOR UPDATE\b[^*]*?)\s*\*/")


def translate(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> tuple[str, list[Any]]:
    """A statement and its parameters as PostgreSQL and asyncpg take them."""
    if isinstance(params, Mapping):
        text, names = _translate(sql, (), tuple(sorted((k, _cast(v)) for k, v in params.items())))
        return text, [value(params[name]) for name in names]
    text, _ = _translate(sql, tuple(_cast(p) for p in params), ())
    return text, [value(p) for p in params]


def _cast(param: Any) -> str:
    """The cast a parameter's placeholder gets ('' for NULL: left to the context)."""
    if param is None:
        return ""
    return _CASTS.get(type(param)) or _cast_of(param)


@lru_cache(maxsize=4096)
def _translate(sql: str, casts: tuple[str, ...], named: tuple[tuple[str, str], ...]) -> tuple[str, tuple[str, ...]]:
    """The statement in SQLite's SQL as PostgreSQL takes it, its placeholders (`?` by position, or
    `:name` with `named` the casts by name) cast; and the names in the order of their numbers."""
    if _DDL.match(sql):
        sql = _ddl(sql)
    # a row lock written as a comment for SQLite (whose write lock makes a claim exclusive already),
    # e.g. the outbox claim's /*FOR UPDATE OF o SKIP LOCKED*/: the clause itself here
    sql = _ROW_LOCK.sub(r"\1", sql)
    named_casts = dict(named)
    numbers: dict[str, int] = {}
    out: list[str] = []
    n = 0
    i = 0
    length = len(sql)
    while i < length:
        ch = sql[i]
        if ch in "'\"":  # a literal or a quoted name, copied as it is ('' and "" inside are doubled quotes)
            end = i + 1
            while end < length:
                if sql[end] == ch:
                    if end + 1 < length and sql[end + 1] == ch:
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i:end + 1])
            i = end + 1
            continue
        if ch == "-" and sql.startswith("--", i):  # a comment, to the end of its line
            end = sql.find("\n", i)
            end = length if end < 0 else end
            out.append(sql[i:end])
            i = end
            continue
        if ch == "?":
            cast = casts[n] if n < len(casts) else ""
            n += 1
            if not cast and _null_test_follows(sql, i + 1):
                cast = "text"
            out.append(f"${n}::{cast}" if cast else f"${n}")
            i += 1
            continue
        if ch == ":" and named_casts and i + 1 < length and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            end = i + 1
            while end < length and (sql[end].isalnum() or sql[end] == "_"):
                end += 1
            name = sql[i + 1:end]
            number = numbers.setdefault(name, len(numbers) + 1)
            cast = named_casts.get(name, "")
            if not cast and _null_test_follows(sql, end):
                cast = "text"
            out.append(f"${number}::{cast}" if cast else f"${number}")
            i = end
            continue
        if ch.isalpha() or ch == "_":  # a word: keywords that differ
            end = i
            while end < length and (sql[end].isalnum() or sql[end] == "_"):
                end += 1
            word = sql[i:end]
            upper = word.upper()
            if upper == "LIKE":
                out.append("ILIKE")
            elif upper == "CHAR" and sql.startswith("(", end):  # char(31): a character by its code
                out.append("chr")
            elif upper == "IS" and _placeholder_follows(sql, end):
                rest = sql[end:]
                stripped = rest.lstrip()
                if stripped[:3].upper() == "NOT" and _is_placeholder(stripped[3:].lstrip()):
                    out.append("IS DISTINCT FROM")
                    end += len(rest) - len(stripped) + 3
                else:
                    out.append("IS NOT DISTINCT FROM")
            elif upper == "IMMEDIATE" and "".join(out).strip().upper() == "BEGIN":
                out.append("")
            else:
                out.append(word)
            i = end
            continue
        out.append(ch)
        i += 1
    text = "".join(out)
    if _ORDER_BY.search(text):
        text = _nulls_as_sqlite(text)
    if _INDEX.match(text):
        text = _INDEX.sub(lambda m: m[1] + ", ".join(_null_first(t) for t in m[2].split(",")) + ")", text)
    return text, tuple(sorted(numbers, key=numbers.__getitem__))


# -- NULL in an order: SQLite puts it first (ascending), PostgreSQL last --------------------------------
_ORDER_BY = re.compile(r"\bORDER\s+BY\b", re.IGNORECASE)
_INDEX = re.compile(r"^(\s*CREATE\s+INDEX\s+\w+\s+ON\s+\w+\s*\()([\w\s,]+)\)", re.IGNORECASE)
_ENDS_ORDER = {"LIMIT", "OFFSET", "UNION", "EXCEPT", "INTERSECT", "FOR", "RETURNING", "WINDOW", "ON", "ROWS", "RANGE",
               "GROUPS"}
_AN_ID = re.compile(r"^(\w+\.)?id$", re.IGNORECASE)


def _null_first(term: str) -> str:
    """An ORDER BY term (or an index's column) with NULL placed as SQLite places it. A column named `id`
    is never NULL and is left alone, so that the primary key's index still gives the order."""
    term = term.strip()
    upper = term.upper()
    if " NULLS " in upper:
        return term
    bare = re.sub(r"\s+(ASC|DESC)$", "", term, flags=re.IGNORECASE)
    if _AN_ID.match(bare):
        return term
    return term + (" NULLS LAST" if upper.endswith(" DESC") else " NULLS FIRST")


def _nulls_as_sqlite(sql: str) -> str:
    """Every ORDER BY list (of a query, a subquery or a window) with NULL first when ascending, last when
    descending, as in SQLite; indexes are made in that order too (CREATE INDEX above)."""
    out: list[str] = []
    i = 0
    length = len(sql)
    while i < length:
        found = _ORDER_BY.search(sql, i)
        if found is None:
            out.append(sql[i:])
            break
        if _inside_literal(sql, found.start()):
            out.append(sql[i:found.end()])
            i = found.end()
            continue
        out.append(sql[i:found.end()])
        i = found.end()
        depth = 0
        term_start = i
        terms: list[str] = []
        j = i
        while j < length:
            ch = sql[j]
            if ch == "'":
                end = sql.find("'", j + 1)
                j = length if end < 0 else end + 1
                continue
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                terms.append(sql[term_start:j])
                term_start = j + 1
            elif ch == ";" and depth == 0:
                break
            elif depth == 0 and (ch.isalpha()) and (j == 0 or not (sql[j - 1].isalnum() or sql[j - 1] in "_.$")):
                end = j
                while end < length and (sql[end].isalnum() or sql[end] == "_"):
                    end += 1
                if sql[j:end].upper() in _ENDS_ORDER:
                    break
                j = end
                continue
            j += 1
        terms.append(sql[term_start:j])
        tail = sql[term_start:j]
        trailing = tail[len(tail.rstrip()):]
        out.append(" " + ", ".join(_null_first(t) for t in terms) + (trailing or " "))
        i = j
    return "".join(out)


def _inside_literal(sql: str, at: int) -> bool:
    return sql.count("'", 0, at) % 2 == 1


def _is_placeholder(text: str) -> bool:
    return text.startswith("?") or (text.startswith(":") and len(text) > 1 and (text[1].isalpha() or text[1] == "_"))


def _placeholder_follows(sql: str, at: int) -> bool:
    """`IS ?` or `IS NOT ?` (not `IS NULL`, `IS NOT NULL`)."""
    rest = sql[at:].lstrip()
    if _is_placeholder(rest):
        return True
    return rest[:3].upper() == "NOT" and _is_placeholder(rest[3:].lstrip())


def _null_test_follows(sql: str, at: int) -> bool:
    """`? IS NULL` / `? IS NOT NULL`: a placeholder with no context to take a type from."""
    return re.match(r"\s+IS\s+(NOT\s+)?NULL\b", sql[at:at + 20], re.IGNORECASE) is not None


# types are written in capitals in bot/migrations.py (and literals in CHECKs in lower case)
_ID_KEY = re.compile(r"\bid(\s+)INTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?")
_INTEGER = re.compile(r"\bINTEGER\b")
_BLOB = re.compile(r"\bBLOB\b")
_REAL = re.compile(r"\bREAL\b")
_TEXT = re.compile(r"\bTEXT\b")
_AUTOINCREMENT = re.compile(r"\s+AUTOINCREMENT\b")


def _ddl(sql: str) -> str:
    sql = _ID_KEY.sub(r"id\1BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql)
    sql = _AUTOINCREMENT.sub("", sql)
    sql = _INTEGER.sub("BIGINT", sql)
    sql = _BLOB.sub("BYTEA", sql)
    sql = _TEXT.sub('TEXT COLLATE "C"', sql)  # SQLite compares text by its bytes, whatever the locale
    return _REAL.sub("DOUBLE PRECISION", sql)

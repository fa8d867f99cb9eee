"""A throwaway PostgreSQL server for the store tests (issue 17), and an emptied database for each test.

Which backends the store tests run on is chosen by the environment:
- XUEXI_PG unset or "0": SQLite only (the test summary says so);
- XUEXI_PG=auto: PostgreSQL too when its server programs are installed (Debian's `postgresql` package);
- XUEXI_PG=1: PostgreSQL too, and it is an error when it cannot be started;
- XUEXI_PG_URL=postgresql://user@host:port/postgres: use that server (a superuser role: it creates the
  session's database and empties it with foreign key checks off)
  instead of starting one.

A started server lives in a temporary directory, listens on a free loopback port, runs without fsync
(a test database is thrown away) and is stopped at the end of the session. The schema is migrated
once into a database of the session; before each test every table in it is emptied and every
identity restarts at 1, as in a new database (a copy per test, CREATE DATABASE ... TEMPLATE, took
four times as long).
"""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

_RESET = """DO $$ DECLARE r record; BEGIN
    SET LOCAL session_replication_role = replica;  -- no foreign key checks while everything goes
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT IN ('schema_version', 'alembic_version')
    LOOP EXECUTE format('DELETE FROM %I', r.tablename); END LOOP;
    FOR r IN SELECT relname FROM pg_class WHERE relkind = 'S' LOOP EXECUTE format('ALTER SEQUENCE %I RESTART', r.relname);
    END LOOP;
END $$"""
CURRENT: dict[str, str] = {}  # "url": the running test's PostgreSQL database (set by the `database` fixture)


def wanted() -> str:
    """'' (SQLite only), 'auto' or 'required'."""
    flag = os.environ.get("XUEXI_PG", "").strip().lower()
    if os.environ.get("XUEXI_PG_URL"):
        return "required"
    if flag in {"", "0", "no", "off"}:
        return ""
    return "auto" if flag == "auto" else "required"


def bin_dir() -> Path | None:
    """Where initdb and pg_ctl are (the newest Debian cluster version), or None."""
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if versions:
        return versions[-1]
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def why_not() -> str | None:
    """Why the store tests run on SQLite only (None: PostgreSQL is used)."""
    mode = wanted()
    if not mode:
        return "XUEXI_PG is not set"
    if os.environ.get("XUEXI_PG_URL"):
        return None
    if bin_dir() is None:
        if mode == "required":
            raise RuntimeError("XUEXI_PG=1 but no PostgreSQL server programs (apt-get install postgresql)")
        return "no PostgreSQL server programs found (Debian: apt-get install postgresql)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    admin_url: str  # ends in /postgres
    directory: Path | None = None
    pg_bin: Path | None = None
    run_as: list[str] = field(default_factory=list)
    options: str = ""  # the server's command-line options (pg_ctl -o), for a start after a stop

    @classmethod
    def start(cls) -> PgServer:
        url = os.environ.get("XUEXI_PG_URL")
        if url:
            return cls(admin_url=url)
        pg_bin = bin_dir()
        assert pg_bin is not None
        directory = Path(tempfile.mkdtemp(prefix="xuexi-pg-"))
        run_as: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root: as Debian's postgres user
            shutil.chown(directory, "postgres")
            run_as = ["runuser", "-u", "postgres", "--"]
        port = _free_port()
        data = directory / "data"
        subprocess.run([*run_as, str(pg_bin / "initdb"), "-D", str(data), "-U", "xuexi", "--auth=trust",
                        "-E", "UTF8", "--locale=C.UTF-8", "-N"], check=True, capture_output=True, cwd=directory)
        options = (f"-k {directory} -p {port} -h 127.0.0.1 -F -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        server = cls(admin_url=f"postgresql://xuexi@127.0.0.1:{port}/postgres", directory=directory,
                     pg_bin=pg_bin, run_as=run_as, options=options)
        server.resume()
        return server

    def _pg_ctl(self, *args: str) -> None:
        assert self.directory is not None and self.pg_bin is not None, "a server of XUEXI_PG_URL: not ours to stop"
        subprocess.run([*self.run_as, str(self.pg_bin / "pg_ctl"), "-D", str(self.directory / "data"), *args],
                       check=True, capture_output=True, cwd=self.directory)

    def pause(self, mode: str = "fast") -> None:
        """Stops the server as an operator would (`pg_ctl -m fast stop`: every session is ended, open
        transactions rolled back), keeping its data for `resume`."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def resume(self) -> None:
        """Starts the (stopped) server again, on the same port and data; returns once it accepts connections."""
        assert self.directory is not None
        self._pg_ctl("-l", str(self.directory / "log"), "-o", self.options, "-w", "start")

    def stop(self) -> None:
        if self.directory is None or self.pg_bin is None:
            return
        subprocess.run([*self.run_as, str(self.pg_bin / "pg_ctl"), "-D", str(self.directory / "data"),
                        "-m", "immediate", "stop"], capture_output=True, cwd=self.directory)
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + "/" + database

    async def _admin(self, *statements: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.admin_url)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def new_database(self, name: str) -> str:
        """The URL of a new, empty database `name` (one of that name is dropped first)."""
        await self._admin(f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
        return self.url(name)

    async def prepare(self) -> str:
        """The session's database, migrated; its name."""
        from bot.store import Store

        name = f"xuexi_test_{os.getpid()}"
        store = await Store.open(await self.new_database(name))
        await store.close()
        return name

    async def reset(self, name: str) -> None:
        """The database as a new one: no rows, identities from 1 (the schema stays)."""
        import asyncpg

        conn = await asyncpg.connect(self.url(name))
        try:
            await conn.execute(_RESET)
        finally:
            await conn.close()


class LazyServer:
    """The session's server and database, started when a test first asks for a PostgreSQL database."""

    def __init__(self) -> None:
        self._server: PgServer | None = None
        self._name: str | None = None
        self._blanks = 0

    async def fresh_database(self) -> str:
        """The URL of the session's database, emptied."""
        if self._server is None:
            self._server = await asyncio.to_thread(PgServer.start)
        if self._name is None:
            self._name = await self._server.prepare()
        else:
            await self._server.reset(self._name)
        return self._server.url(self._name)

    async def blank_database(self) -> str:
        """The URL of a new database with nothing in it (not even the schema), dropped with the server."""
        if self._server is None:
            self._server = await asyncio.to_thread(PgServer.start)
        self._blanks += 1
        return await self._server.new_database(f"xuexi_blank_{os.getpid()}_{self._blanks}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def committed(database: object, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows as another connection sees them (only what was committed), on either backend: `database`
    is what Store.open took (a SQLite path or a PostgreSQL URL). Synchronous, for tests that look
    from outside the event loop's work."""
    import sqlite3
    import threading

    from bot.pg import is_url

    if not is_url(database):
        conn = sqlite3.connect(database)  # type: ignore[arg-type]
        try:
            return [tuple(r) for r in conn.execute(sql, params)]
        finally:
            conn.close()

    from bot import dialect

    result: list[list[tuple]] = []

    async def read() -> None:
        import asyncpg

        conn = await asyncpg.connect(database)
        try:
            text, args = dialect.translate(sql, params)
            result.append([tuple(r) for r in await conn.fetch(text, *args)])
        finally:
            await conn.close()

    thread = threading.Thread(target=lambda: asyncio.run(read()))  # the test's loop is busy running the test
    thread.start()
    thread.join()
    return result[0]


class _Row(tuple):
    """A row by position and by name, as sqlite3.Row (and equal to the tuple of its values)."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


class _Cursor:
    def __init__(self, rows: list[_Row]) -> None:
        self._rows = rows

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[_Row]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self):
        return iter(self.fetchall())


class PgCommitted:
    """sqlite3.Connection's synchronous calls over a PostgreSQL database, on a thread of its own (the
    test's event loop is busy running the test): what another connection sees, for tests that read
    the database from outside the store."""

    def __init__(self, url: str) -> None:
        import threading

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._conn = self._wait(self._connect(url))

    async def _connect(self, url: str):
        import asyncpg

        return await asyncpg.connect(url)

    def _wait(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _fetch(self, sql: str, params) -> list[_Row]:
        from bot import dialect

        text, args = dialect.translate(sql, params)
        records = await self._conn.fetch(text, *args)
        out = []
        for record in records:
            row = _Row(record.values())
            row.names = tuple(record.keys())
            out.append(row)
        return out

    def execute(self, sql: str, params=()) -> _Cursor:
        return _Cursor(self._wait(self._fetch(sql, params)))

    def executescript(self, script: str) -> None:
        for statement in (s.strip() for s in script.split(";")):
            if statement:
                self.execute(statement)

    def commit(self) -> None:
        return None

    def close(self) -> None:
        self._wait(self._conn.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()


def connect_committed(settings):
    """A synchronous connection of its own to the test's database: the SQLite file, or the PostgreSQL
    database when the test runs on it (rows by name and position)."""
    import sqlite3

    if CURRENT.get("url"):
        return PgCommitted(CURRENT["url"])
    conn = sqlite3.connect(settings.database_path)
    conn.row_factory = _sqlite_row
    return conn


def _sqlite_row(cursor, values: tuple) -> _Row:
    row = _Row(values)
    row.names = tuple(d[0] for d in cursor.description)
    return row


async def table_names(store) -> list[str]:
    """The schema's tables, on either backend."""
    from bot.pg import PgConnection

    if isinstance(store._db, PgConnection):
        sql = ("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() "
               "AND tablename NOT IN ('schema_version', 'alembic_version') ORDER BY tablename")
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    return [r["name"] for r in await store._all(sql)]

"""The only place with SQL. SQLite through aiosqlite: WAL, foreign keys, busy timeout,
versioned migrations, one transaction per action.

All access goes through one connection guarded by an asyncio lock, so a transaction is never
interleaved with another task's statements. SQL is kept portable (plain SQL, ON CONFLICT
upserts) so that a PostgreSQL backend can follow.
"""
from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Iterable

import aiosqlite

from bot.models import Org, User
from dataclasses import dataclass

MIGRATIONS: list[str] = [
    # 1: users, FSM state, audit log
    """
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        first_name    TEXT NOT NULL DEFAULT '',
        last_name     TEXT,
        username      TEXT,
        tg_language   TEXT,
        language      TEXT,
        phone         TEXT UNIQUE,
        name          TEXT,
        org_name      TEXT,
        agreed_at     TEXT,
        registered_at TEXT,
        real_name     TEXT,
        id_hash       TEXT UNIQUE,
        id_masked     TEXT,
        verified_at   TEXT,
        menu          TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE TABLE fsm (
        key   TEXT PRIMARY KEY,
        state TEXT,
        data  TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE audit_log (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        actor_id  INTEGER NOT NULL,
        org_id    INTEGER,
        action    TEXT NOT NULL,
        target    TEXT,
        before    TEXT,
        after     TEXT,
        at        TEXT NOT NULL
    );
    CREATE INDEX audit_log_org ON audit_log (org_id, id);
    """,
    # 2: learning organisations, their admins, branches and members
    """
    CREATE TABLE orgs (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        name            TEXT NOT NULL,
        region          TEXT NOT NULL DEFAULT '',
        kind            TEXT NOT NULL DEFAULT 'party' CHECK (kind IN ('party', 'nonparty')),
        parent_id       INTEGER REFERENCES orgs (id),
        certified_at    TEXT,
        join_approval   INTEGER NOT NULL DEFAULT 0,
        protect_content INTEGER NOT NULL DEFAULT 1,
        created_by      INTEGER NOT NULL REFERENCES users (id),
        created_at      TEXT NOT NULL
    );
    CREATE INDEX orgs_parent ON orgs (parent_id);
    CREATE TABLE org_admins (
        org_id   INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        user_id  INTEGER NOT NULL REFERENCES users (id),
        role     TEXT NOT NULL CHECK (role IN ('main', 'admin')),
        added_at TEXT NOT NULL,
        PRIMARY KEY (org_id, user_id)
    );
    CREATE INDEX org_admins_user ON org_admins (user_id);
    CREATE TABLE branches (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id     INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        parent_id  INTEGER REFERENCES branches (id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (org_id, name)
    );
    CREATE TABLE members (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id       INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        branch_id    INTEGER REFERENCES branches (id) ON DELETE SET NULL,
        name         TEXT NOT NULL,
        phone        TEXT NOT NULL,
        note         TEXT,
        activated_at TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        UNIQUE (org_id, phone)
    );
    CREATE INDEX members_phone ON members (phone);
    CREATE INDEX members_branch ON members (org_id, branch_id);
    """,
    # 3: join invitations, join requests, the points ledger
    """
    CREATE TABLE invites (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id      INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        branch_id   INTEGER REFERENCES branches (id) ON DELETE CASCADE,
        token_hash  TEXT NOT NULL UNIQUE,
        created_by  INTEGER NOT NULL REFERENCES users (id),
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        max_uses    INTEGER,
        uses        INTEGER NOT NULL DEFAULT 0,
        revoked_at  TEXT
    );
    CREATE INDEX invites_org ON invites (org_id, id);
    CREATE TABLE join_requests (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id      INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        branch_id   INTEGER REFERENCES branches (id) ON DELETE SET NULL,
        user_id     INTEGER NOT NULL REFERENCES users (id),
        invite_id   INTEGER REFERENCES invites (id) ON DELETE SET NULL,
        status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
        created_at  TEXT NOT NULL,
        decided_by  INTEGER REFERENCES users (id),
        decided_at  TEXT
    );
    CREATE UNIQUE INDEX join_requests_pending ON join_requests (org_id, user_id) WHERE status = 'pending';
    CREATE TABLE points (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id     INTEGER NOT NULL REFERENCES users (id),
        amount      INTEGER NOT NULL,
        source      TEXT NOT NULL,
        day         TEXT NOT NULL,
        ref         TEXT,
        reason      TEXT,
        idem_key    TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL
    );
    CREATE INDEX points_user_day ON points (user_id, day);
    """,
]

_USER_COLUMNS = (
    "id, first_name, last_name, username, tg_language, language, phone, name, org_name, "
    "registered_at, real_name, id_masked, verified_at"
)


class StoreError(Exception):
    pass


class Conflict(StoreError):
    """A uniqueness rule said no; `what` names it (e.g. "phone", "id_number")."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class Membership:
    org_id: int
    org_name: str
    certified: bool
    branch_name: str | None


class _Base:
    """The connection, its lock and the three ways to use it."""

    _db: aiosqlite.Connection
    _lock: asyncio.Lock

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction (BEGIN IMMEDIATE), rolled back on any error."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            else:
                await self._db.execute("COMMIT")

    async def _one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock:
            async with self._db.execute(sql, tuple(params)) as cur:
                return await cur.fetchone()

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock:
            async with self._db.execute(sql, tuple(params)) as cur:
                return list(await cur.fetchall())


class _OrgQueries(_Base):
    """Organisations, branches, admins, audit reads (ORG, SEC-3)."""

    # == orgs: section owned by the organisations work ==

    async def get_org(self, org_id: int) -> Org | None:
        row = await self._one(f"SELECT {_ORG_COLUMNS} FROM orgs WHERE id = ?", (org_id,))
        return _org(row) if row else None

    async def orgs_by_ids(self, org_ids: Iterable[int]) -> list[Org]:
        ids = sorted(set(org_ids))
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = await self._all(f"SELECT {_ORG_COLUMNS} FROM orgs WHERE id IN ({marks}) ORDER BY name, id", ids)
        return [_org(r) for r in rows]


class _MemberQueries(_Base):
    """Members: add, edit, move, remove, list, search, import, export (MEM)."""

    # == members: section owned by the members work ==


class _InviteQueries(_Base):
    """Join invitations and join requests (MEM-6)."""

    # == invites: section owned by the invites work ==


class Store(_OrgQueries, _MemberQueries, _InviteQueries):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._db = conn
        self._lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    async def open(cls, path: Path | str) -> "Store":
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL"):
            await conn.execute(f"PRAGMA {pragma}")
        store = cls(conn)
        await store.migrate()
        return store

    async def close(self) -> None:
        await self._db.close()

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0])

    async def migrate(self) -> None:
        current = await self.schema_version()
        for version, script in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            async with self._tx() as db:
                for statement in _split_sql(script):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {version}")

    # -- users -----------------------------------------------------------------------------
    async def get_user(self, user_id: int) -> User | None:
        row = await self._one(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return _user(row) if row else None

    async def update_tg_profile(self, user: User, now: str) -> None:
        async with self._tx() as db:
            await db.execute(
                "UPDATE users SET first_name = ?, last_name = ?, username = ?, tg_language = ?, updated_at = ? "
                "WHERE id = ?",
                (user.first_name, user.last_name, user.username, user.tg_language, now, user.id))

    async def set_language(self, user: User, language: str, now: str) -> None:
        """Stores the choice, creating the row for a visitor who has not registered yet."""
        async with self._tx() as db:
            await db.execute(
                """INSERT INTO users (id, first_name, last_name, username, tg_language, language, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at""",
                (user.id, user.first_name, user.last_name, user.username, user.tg_language, language, now, now))

    async def user_id_by_phone(self, phone: str) -> int | None:
        row = await self._one("SELECT id FROM users WHERE phone = ?", (phone,))
        return row["id"] if row else None

    async def complete_registration(
        self, user: User, phone: str, name: str, org_name: str | None, now: str,
    ) -> list[Membership]:
        """REG-5, REG-7 in one transaction: the account gets its phone and name, and every member
        record listed under that phone becomes activated. Raises Conflict("phone")."""
        async with self._tx() as db:
            async with db.execute("SELECT id FROM users WHERE phone = ? AND id <> ?", (phone, user.id)) as cur:
                if await cur.fetchone():
                    raise Conflict("phone")
            await db.execute(
                """INSERT INTO users (id, first_name, last_name, username, tg_language, language, phone, name,
                                      org_name, agreed_at, registered_at, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET phone = excluded.phone, name = excluded.name,
                       org_name = excluded.org_name, agreed_at = excluded.agreed_at,
                       registered_at = excluded.registered_at, updated_at = excluded.updated_at""",
                (user.id, user.first_name, user.last_name, user.username, user.tg_language, user.language,
                 phone, name, org_name, now, now, now, now))
            await db.execute("UPDATE members SET activated_at = ? WHERE phone = ? AND activated_at IS NULL",
                             (now, phone))
            return await _memberships(db, phone)

    async def memberships(self, phone: str) -> list[Membership]:
        async with self._lock:
            return await _memberships(self._db, phone)

    async def admin_org_ids(self, user_id: int) -> tuple[frozenset[int], frozenset[int]]:
        rows = await self._all("SELECT org_id, role FROM org_admins WHERE user_id = ?", (user_id,))
        return (frozenset(r["org_id"] for r in rows),
                frozenset(r["org_id"] for r in rows if r["role"] == "main"))

    async def set_verification(self, user_id: int, real_name: str, id_hash: str, id_masked: str, now: str) -> None:
        """RNV-3: one ID number verifies one account. Raises Conflict("id_number")."""
        async with self._tx() as db:
            async with db.execute("SELECT id FROM users WHERE id_hash = ? AND id <> ?", (id_hash, user_id)) as cur:
                if await cur.fetchone():
                    raise Conflict("id_number")
            await db.execute(
                "UPDATE users SET real_name = ?, id_hash = ?, id_masked = ?, verified_at = ?, updated_at = ? "
                "WHERE id = ?", (real_name, id_hash, id_masked, now, now, user_id))

    async def get_menu_key(self, user_id: int) -> str | None:
        row = await self._one("SELECT menu FROM users WHERE id = ?", (user_id,))
        return row["menu"] if row else None

    async def set_menu_key(self, user_id: int, menu: str) -> None:
        async with self._tx() as db:
            await db.execute("UPDATE users SET menu = ? WHERE id = ?", (menu, user_id))

    # -- FSM -------------------------------------------------------------------------------
    async def fsm_get(self, key: str) -> tuple[str | None, dict[str, Any]]:
        row = await self._one("SELECT state, data FROM fsm WHERE key = ?", (key,))
        if row is None:
            return None, {}
        return row["state"], json.loads(row["data"])

    async def fsm_set_state(self, key: str, state: str | None) -> None:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO fsm (key, state) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state",
                (key, state),
            )
            await db.execute("DELETE FROM fsm WHERE key = ? AND state IS NULL AND data = '{}'", (key,))

    async def fsm_set_data(self, key: str, data: dict[str, Any]) -> None:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO fsm (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                (key, payload),
            )
            await db.execute("DELETE FROM fsm WHERE key = ? AND state IS NULL AND data = '{}'", (key,))

    # -- audit -----------------------------------------------------------------------------
    async def audit_entries(self, org_id: int, limit: int = 20, before_id: int | None = None) -> list[dict[str, Any]]:
        rows = await self._all(
            """SELECT id, actor_id, org_id, action, target, before, after, at FROM audit_log
               WHERE org_id = ? AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?""",
            (org_id, before_id, before_id, limit),
        )
        return [dict(r) for r in rows]


async def write_audit(
    db: aiosqlite.Connection, actor_id: int, org_id: int | None, action: str, target: str | None,
    before: Any, after: Any, at: str,
) -> None:
    """Called inside the transaction of the action it records."""
    await db.execute(
        "INSERT INTO audit_log (actor_id, org_id, action, target, before, after, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (actor_id, org_id, action, target,
         None if before is None else json.dumps(before, ensure_ascii=False),
         None if after is None else json.dumps(after, ensure_ascii=False), at),
    )


async def _memberships(db: aiosqlite.Connection, phone: str) -> list[Membership]:
    async with db.execute(
        """SELECT o.id, o.name, o.certified_at, b.name AS branch FROM members m
           JOIN orgs o ON o.id = m.org_id LEFT JOIN branches b ON b.id = m.branch_id
           WHERE m.phone = ? ORDER BY o.name""", (phone,)) as cur:
        rows = await cur.fetchall()
    return [Membership(r["id"], r["name"], r["certified_at"] is not None, r["branch"]) for r in rows]


_ORG_COLUMNS = ("id, name, region, kind, parent_id, certified_at, join_approval, protect_content, created_by, "
                "created_at")


def _org(row: aiosqlite.Row) -> Org:
    values = {k: row[k] for k in row.keys()}
    values["join_approval"] = bool(values["join_approval"])
    values["protect_content"] = bool(values["protect_content"])
    return Org(**values)


def _user(row: aiosqlite.Row) -> User:
    return User(**{k: row[k] for k in row.keys()})


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]

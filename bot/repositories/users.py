"""Users: the Telegram profile, language, registration (REG), real-name verification (RNV), the
menu a user last saw, admin roles as read on every update. Written in SQLAlchemy Core (bot/db/engine.py);
`menus_due`, `memberships_of` and ADMIN_LANGUAGES_SQL serve repositories still written as SQL strings."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import aiosqlite
from sqlalchemy import Connection, bindparam, func, literal, select, update
from sqlalchemy.exc import IntegrityError

from bot.db.conflicts import UniqueKey, unique_conflict
from bot.db.dialects import SortText, per_dialect, pick
from bot.db.tables_orgs import members, org_admins, users
from bot.models import User
from bot.repositories.base import MISSING, Conflict, Repository, like_pattern
from bot.repositories.due import put_due
from bot.repositories.members import Membership, memberships_of
from bot.repositories.names import sort_key

_USER_COLUMNS = ("id", "first_name", "last_name", "username", "tg_language", "language", "phone", "name", "org_name",
                 "registered_at", "real_name", "id_masked", "verified_at", "menu")
MENU_DUE = "menu"  # due_work kind: a person's command menu is compared with their roles again (bot/menus.py)


async def menus_due(db: aiosqlite.Connection, user_ids: Iterable[int], now: str) -> None:
    """Inside the caller's write transaction that may change these people's roles or language: their
    command menus are looked at again by the sweep, whoever's update made the change (a hand-over, a
    dissolution, an admin added or removed by someone else)."""
    when = datetime.fromisoformat(now)
    for user_id in sorted(set(user_ids)):
        await put_due(db, MENU_DUE, str(user_id), when if when.tzinfo else when.replace(tzinfo=UTC))



@dataclass(frozen=True, slots=True)
class UserLanguage:
    """Whom a push goes to, and in which language (the chosen one, else Telegram's)."""
    id: int
    language: str | None
    tg_language: str | None


# the organisation's admin group, main admin first, with their languages (who is told of a decision)
ADMIN_LANGUAGES_SQL = ("SELECT u.id, u.language, u.tg_language FROM org_admins a JOIN users u ON u.id = a.user_id "
                       "WHERE a.org_id = ? ORDER BY a.role = 'main' DESC, u.id")


def user_language(row: aiosqlite.Row) -> UserLanguage:
    return UserLanguage(row["id"], row["language"], row["tg_language"])


_GET = select(*(users.c[name] for name in _USER_COLUMNS)).where(users.c.id == bindparam("id"))
_BY_PHONE = select(users.c.id).where(users.c.phone == bindparam("phone"))
_PHONE_TAKEN = select(literal(1)).where(users.c.phone == bindparam("phone"), users.c.id != bindparam("id"))
_ID_TAKEN = select(literal(1)).where(users.c.id_hash == bindparam("id_hash"), users.c.id != bindparam("id"))
_PHONE = UniqueKey(("users_phone_key", "uq_users_phone"), _PHONE_TAKEN)
_ID_NUMBER = UniqueKey(("users_id_hash_key", "uq_users_id_hash"), _ID_TAKEN)
_PROFILE = update(users).where(users.c.id == bindparam("uid")).values(
    first_name=bindparam("first_name"), last_name=bindparam("last_name"), username=bindparam("username"),
    tg_language=bindparam("tg_language"), updated_at=bindparam("now"))
_VERIFY = update(users).where(users.c.id == bindparam("uid")).values(
    real_name=bindparam("real_name"), id_hash=bindparam("id_hash"), id_masked=bindparam("id_masked"),
    verified_at=bindparam("now"), updated_at=bindparam("now"))
_ACTIVATE = update(members).where(members.c.phone == bindparam("member_phone"), members.c.activated_at.is_(None)
                                  ).values(activated_at=bindparam("now"))
_MENU = select(users.c.menu).where(users.c.id == bindparam("id"))
_SET_MENU = update(users).where(users.c.id == bindparam("uid")).values(menu=bindparam("menu"))
_ADMIN_OF = select(org_admins.c.org_id, org_admins.c.role).where(org_admins.c.user_id == bindparam("id"))
# a role in the stored menu key; case aside, as SQLite's LIKE has it (ILIKE on PostgreSQL)
_MENU_NAMING = select(users.c.id).where(users.c.menu.ilike(bindparam("pattern"), escape="\\"))
_NAMES = select(users.c.id, func.coalesce(users.c.name, users.c.first_name).label("name")).where(
    users.c.id.in_(bindparam("ids", expanding=True)))
_LANGUAGES = select(users.c.id, users.c.language, users.c.tg_language).where(
    users.c.id.in_(bindparam("ids", expanding=True)))


def _language(insert: Any) -> Any:
    stmt = insert(users)
    return stmt.on_conflict_do_update(index_elements=[users.c.id], set_={
        "language": stmt.excluded.language, "updated_at": stmt.excluded.updated_at})


def _registration(insert: Any) -> Any:
    stmt = insert(users).values(sort_key=bindparam("sort_key", type_=SortText()))
    return stmt.on_conflict_do_update(index_elements=[users.c.id], set_={
        name: stmt.excluded[name] for name in ("phone", "name", "sort_key", "org_name", "agreed_at", "registered_at",
                                               "updated_at")})


_SET_LANGUAGE = per_dialect(_language)
_REGISTER = per_dialect(_registration)


def _user(row: Any) -> User:
    return User(**dict(row._mapping))


class UsersRepository(Repository):
    async def get_user(self, user_id: int) -> User | None:
        """Every update asks for its sender: served from the write-through cache after the first read."""
        cached = self._users.get(user_id, MISSING)
        if cached is not MISSING:
            return cast(User | None, cached)
        row = await self._q(lambda conn: conn.execute(_GET, {"id": user_id}).first())
        user = _user(row) if row else None
        self._users.put(user_id, user)
        return user

    async def update_tg_profile(self, user: User, now: str) -> None:
        params = {"uid": user.id, "first_name": user.first_name, "last_name": user.last_name,
                  "username": user.username, "tg_language": user.tg_language, "now": now}
        await self._write(lambda conn: conn.execute(_PROFILE, params), users=(user.id,))

    async def set_language(self, user: User, language: str, now: str) -> None:
        """Stores the choice, creating the row for a visitor who has not registered yet."""
        params = {"id": user.id, "first_name": user.first_name, "last_name": user.last_name,
                  "username": user.username, "tg_language": user.tg_language, "language": language,
                  "created_at": now, "updated_at": now}
        async with self._tx(users=(user.id,)) as db:
            await self._in_tx(lambda conn: conn.execute(pick(conn, _SET_LANGUAGE), params))
            await menus_due(db, (user.id,), now)

    async def user_id_by_phone(self, phone: str) -> int | None:
        return cast(int | None, await self._q(lambda conn: conn.execute(_BY_PHONE, {"phone": phone}).scalar()))

    async def complete_registration(
        self, user: User, phone: str, name: str, org_name: str | None, now: str,
    ) -> list[Membership]:
        """REG-5, REG-7 in one transaction: the account gets its phone and name, and every member
        record listed under that phone becomes activated. Raises Conflict("phone")."""
        params = {"id": user.id, "first_name": user.first_name, "last_name": user.last_name,
                  "username": user.username, "tg_language": user.tg_language, "language": user.language,
                  "phone": phone, "name": name, "sort_key": sort_key(name), "org_name": org_name, "agreed_at": now,
                  "registered_at": now, "created_at": now, "updated_at": now}

        def register(conn: Connection) -> bool:
            if conn.execute(_PHONE_TAKEN, params).first():
                return False
            try:
                conn.execute(pick(conn, _REGISTER), params)
            except IntegrityError as exc:  # another process took the phone since (PostgreSQL)
                if unique_conflict(conn, exc, _PHONE, params):
                    return False
                raise
            conn.execute(_ACTIVATE, {"member_phone": phone, "now": now})  # only these: an UPDATE sets what it is given
            return True

        async with self._tx(users=(user.id,)) as db:
            if not await self._in_tx(register):
                raise Conflict("phone")
            await menus_due(db, (user.id,), now)
            return await memberships_of(db, phone)

    async def memberships(self, phone: str) -> list[Membership]:
        async with self._lock:
            return await memberships_of(self._db, phone)

    async def admin_org_ids(self, user_id: int) -> tuple[frozenset[int], frozenset[int]]:
        """(organisations the user administers, those they are main admin of); cached like get_user."""
        cached = self._admins.get(user_id)
        if cached is not None:
            return cast(tuple[frozenset[int], frozenset[int]], cached)
        rows = await self._q(lambda conn: conn.execute(_ADMIN_OF, {"id": user_id}).all())
        ids = (frozenset(org for org, _role in rows), frozenset(org for org, role in rows if role == "main"))
        self._admins.put(user_id, ids)
        return ids

    async def set_verification(self, user_id: int, real_name: str, id_hash: str, id_masked: str, now: str) -> None:
        """RNV-3: one ID number verifies one account. Raises Conflict("id_number")."""
        taken = {"id": user_id, "id_hash": id_hash}
        # an UPDATE sets every column its parameters name: these alone
        verified = {"uid": user_id, "real_name": real_name, "id_hash": id_hash, "id_masked": id_masked, "now": now}

        def verify(conn: Connection) -> bool:
            if conn.execute(_ID_TAKEN, taken).first():
                return False
            try:
                conn.execute(_VERIFY, verified)
            except IntegrityError as exc:  # another process verified the number since (PostgreSQL)
                if unique_conflict(conn, exc, _ID_NUMBER, taken):
                    return False
                raise
            return True

        async with self._tx(users=(user_id,)) as db:
            if not await self._in_tx(verify):
                raise Conflict("id_number")
            await menus_due(db, (user_id,), now)  # RNV-1: their admin roles count from now on

    async def get_menu_key(self, user_id: int) -> str | None:
        return cast(str | None, await self._q(lambda conn: conn.execute(_MENU, {"id": user_id}).scalar()))

    async def set_menu_key(self, user_id: int, menu: str) -> None:
        # the cached row carries the key
        await self._write(lambda conn: conn.execute(_SET_MENU, {"uid": user_id, "menu": menu}), users=(user_id,))

    async def arm_menus(self, user_ids: Iterable[int], now: str) -> None:
        """menus_due in a transaction of its own (roles given outside the store: operator ids)."""
        async with self._tx() as db:
            await menus_due(db, user_ids, now)

    async def users_with_menu_naming(self, role: str) -> list[int]:
        """Those whose stored menu key names the role (bot/services/commands.py: menu_key)."""
        rows = await self._q(lambda conn: conn.execute(_MENU_NAMING, {"pattern": like_pattern(role)}).all())
        return [user_id for (user_id,) in rows]

    async def user_names(self, user_ids: Iterable[int]) -> dict[int, str]:
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        rows = await self._q(lambda conn: conn.execute(_NAMES, {"ids": ids}).all())
        return dict(rows)

    async def user_languages(self, user_ids: Iterable[int]) -> list[UserLanguage]:
        ids = sorted(set(user_ids))
        if not ids:
            return []
        rows = await self._q(lambda conn: conn.execute(_LANGUAGES, {"ids": ids}).all())
        return [UserLanguage(*row) for row in rows]

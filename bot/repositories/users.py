"""Users: the Telegram profile, language, registration (REG), real-name verification (RNV), the
menu a user last saw, admin roles as read on every update."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import aiosqlite

from bot.models import User
from bot.repositories.base import MISSING, Conflict, Repository, fetch_one, like_pattern, marks
from bot.repositories.due import put_due
from bot.repositories.members import Membership, memberships_of
from bot.repositories.names import sort_key

_USER_COLUMNS = (
    "id, first_name, last_name, username, tg_language, language, phone, name, org_name, "
    "registered_at, real_name, id_masked, verified_at, menu"
)
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


def _user(row: aiosqlite.Row) -> User:
    return User(**{k: row[k] for k in row.keys()})  # noqa: SIM118 - `in` on a sqlite3.Row tests its values


class UsersRepository(Repository):
    async def get_user(self, user_id: int) -> User | None:
        """Every update asks for its sender: served from the write-through cache after the first read."""
        cached = self._users.get(user_id, MISSING)
        if cached is not MISSING:
            return cast(User | None, cached)
        row = await self._one(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        user = _user(row) if row else None
        self._users.put(user_id, user)
        return user

    async def update_tg_profile(self, user: User, now: str) -> None:
        async with self._tx(users=(user.id,)) as db:
            await db.execute(
                "UPDATE users SET first_name = ?, last_name = ?, username = ?, tg_language = ?, updated_at = ? "
                "WHERE id = ?",
                (user.first_name, user.last_name, user.username, user.tg_language, now, user.id))

    async def set_language(self, user: User, language: str, now: str) -> None:
        """Stores the choice, creating the row for a visitor who has not registered yet."""
        async with self._tx(users=(user.id,)) as db:
            await db.execute(
                """INSERT INTO users (id, first_name, last_name, username, tg_language, language, created_at,
                                      updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at""",
                (user.id, user.first_name, user.last_name, user.username, user.tg_language, language, now, now))
            await menus_due(db, (user.id,), now)

    async def user_id_by_phone(self, phone: str) -> int | None:
        value: int | None = await self._value("SELECT id FROM users WHERE phone = ?", (phone,))
        return value

    async def complete_registration(
        self, user: User, phone: str, name: str, org_name: str | None, now: str,
    ) -> list[Membership]:
        """REG-5, REG-7 in one transaction: the account gets its phone and name, and every member
        record listed under that phone becomes activated. Raises Conflict("phone")."""
        async with self._tx(users=(user.id,)) as db:
            if await fetch_one(db, "SELECT id FROM users WHERE phone = ? AND id <> ?", (phone, user.id)):
                raise Conflict("phone")
            await db.execute(
                """INSERT INTO users (id, first_name, last_name, username, tg_language, language, phone, name,
                                      sort_key, org_name, agreed_at, registered_at, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET phone = excluded.phone, name = excluded.name,
                       sort_key = excluded.sort_key,
                       org_name = excluded.org_name, agreed_at = excluded.agreed_at,
                       registered_at = excluded.registered_at, updated_at = excluded.updated_at""",
                (user.id, user.first_name, user.last_name, user.username, user.tg_language, user.language,
                 phone, name, sort_key(name), org_name, now, now, now, now))
            await db.execute("UPDATE members SET activated_at = ? WHERE phone = ? AND activated_at IS NULL",
                             (now, phone))
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
        rows = await self._all("SELECT org_id, role FROM org_admins WHERE user_id = ?", (user_id,))
        ids = (frozenset(r["org_id"] for r in rows), frozenset(r["org_id"] for r in rows if r["role"] == "main"))
        self._admins.put(user_id, ids)
        return ids

    async def set_verification(self, user_id: int, real_name: str, id_hash: str, id_masked: str, now: str) -> None:
        """RNV-3: one ID number verifies one account. Raises Conflict("id_number")."""
        async with self._tx(users=(user_id,)) as db:
            if await fetch_one(db, "SELECT id FROM users WHERE id_hash = ? AND id <> ?", (id_hash, user_id)):
                raise Conflict("id_number")
            await db.execute(
                "UPDATE users SET real_name = ?, id_hash = ?, id_masked = ?, verified_at = ?, updated_at = ? "
                "WHERE id = ?", (real_name, id_hash, id_masked, now, now, user_id))
            await menus_due(db, (user_id,), now)  # RNV-1: their admin roles count from now on

    async def get_menu_key(self, user_id: int) -> str | None:
        value: str | None = await self._value("SELECT menu FROM users WHERE id = ?", (user_id,))
        return value

    async def set_menu_key(self, user_id: int, menu: str) -> None:
        async with self._tx(users=(user_id,)) as db:  # the cached row carries the key
            await db.execute("UPDATE users SET menu = ? WHERE id = ?", (menu, user_id))

    async def arm_menus(self, user_ids: Iterable[int], now: str) -> None:
        """menus_due in a transaction of its own (roles given outside the store: operator ids)."""
        async with self._tx() as db:
            await menus_due(db, user_ids, now)

    async def users_with_menu_naming(self, role: str) -> list[int]:
        """Those whose stored menu key names the role (bot/services/commands.py: menu_key)."""
        rows = await self._all("SELECT id FROM users WHERE menu LIKE ? ESCAPE '\\'", (like_pattern(role),))
        return [r["id"] for r in rows]

    async def user_names(self, user_ids: Iterable[int]) -> dict[int, str]:
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        rows = await self._all(f"SELECT id, COALESCE(name, first_name) AS name FROM users WHERE id IN ({marks(ids)})",
                               ids)
        return {r["id"]: r["name"] for r in rows}

    async def user_languages(self, user_ids: Iterable[int]) -> list[UserLanguage]:
        ids = sorted(set(user_ids))
        if not ids:
            return []
        rows = await self._all(f"SELECT id, language, tg_language FROM users WHERE id IN ({marks(ids)})", ids)
        return [user_language(r) for r in rows]

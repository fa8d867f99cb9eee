"""Telegram profile bookkeeping and language choice.

A visitor is not stored (REG-1: declining the agreement stores nothing); their row is written
when they register, or when they choose a language.
"""
from __future__ import annotations

from dataclasses import replace

from bot.clock import Clock
from bot.models import User
from bot.services.roles import OPERATOR
from bot.store import Store


def visitor(user_id: int, first_name: str, last_name: str | None, username: str | None,
            tg_language: str | None) -> User:
    return User(id=user_id, first_name=first_name, last_name=last_name, username=username,
                tg_language=tg_language, language=None, phone=None, name=None, org_name=None,
                registered_at=None, real_name=None, id_masked=None, verified_at=None)


async def touch_user(
    store: Store, clock: Clock, user_id: int, first_name: str, last_name: str | None,
    username: str | None, tg_language: str | None,
) -> User:
    """The stored user (profile refreshed when Telegram's changed), or a transient visitor."""
    user = await store.get_user(user_id)
    if user is None:
        return visitor(user_id, first_name, last_name, username, tg_language)
    profile = (first_name, last_name, username, tg_language)
    if (user.first_name, user.last_name, user.username, user.tg_language) != profile:
        user = replace(user, first_name=first_name, last_name=last_name, username=username,
                       tg_language=tg_language)
        await store.update_tg_profile(user, clock.now().isoformat())
    return user


async def choose_language(store: Store, clock: Clock, user: User, language: str, supported: list[str]) -> None:
    if language not in supported:
        raise ValueError(language)
    await store.set_language(user, language, clock.now().isoformat())


async def get_user(store: Store, user_id: int) -> User | None:
    return await store.get_user(user_id)


async def remember_menu_key(store: Store, user_id: int, key: str) -> None:
    await store.set_menu_key(user_id, key)


async def arm_operator_menus(store: Store, clock: Clock, operator_ids: frozenset[int]) -> None:
    """Operator ids come from the configuration, not from a write: at start the menus of those who hold
    the role now and of those whose menu was set while they held it are looked at again."""
    ids = set(operator_ids) | set(await store.users_with_menu_naming(OPERATOR))
    await store.arm_menus(ids, clock.now().isoformat())


async def languages(store: Store, user_ids: list[int]) -> list[tuple[int, str | None, str | None]]:
    """(id, chosen language, Telegram's language) of each user: to address a push in their language."""
    return [(u.id, u.language, u.tg_language) for u in await store.user_languages(user_ids)]

"""REG: the rules of registration, free of aiogram."""
from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.errors import DomainError
from bot.models import User
from bot.render.phone import InvalidPhone, normalize_phone
from bot.services.text import clean_text
from bot.services.text import suggested_name as suggested
from bot.store import Conflict, Membership, Store

NAME_MAX = 20
ORG_NAME_MAX = 50


@dataclass(frozen=True)
class Registered:
    phone: str
    name: str
    memberships: list[Membership]


def contact_phone(contact_phone_number: str, contact_user_id: int | None, actor_id: int) -> str:
    """REG-2/REG-3: only the person's own contact; Telegram sends it in international form."""
    if contact_user_id != actor_id:
        raise DomainError("reg.phone_not_own")
    digits = contact_phone_number.strip()
    try:
        return normalize_phone(digits, international=True)
    except InvalidPhone:
        raise DomainError("reg.phone_invalid", phone=contact_phone_number) from None


async def check_phone_free(store: Store, phone: str, actor_id: int) -> None:
    """REG-7: one phone, one account."""
    owner = await store.user_id_by_phone(phone)
    if owner is not None and owner != actor_id:
        raise DomainError("reg.phone_taken")


def suggested_name(user: User) -> str | None:
    """The name offered at registration: from Telegram's first and last name, in Chinese order for a
    Chinese name (`赵磊`, not `赵 磊`); none when it would not pass REG-4."""
    try:
        return clean_name(suggested(user.first_name, user.last_name))
    except DomainError:
        return None


def clean_name(raw: str) -> str:
    """REG-4: 1–20 characters after trimming."""
    name = clean_text(raw)
    if not name:
        raise DomainError("reg.name_empty")
    if len(name) > NAME_MAX:
        raise DomainError("reg.name_too_long", length=len(name), limit=NAME_MAX)
    return name


def clean_org_name(raw: str) -> str:
    name = clean_text(raw)
    if len(name) > ORG_NAME_MAX:
        raise DomainError("reg.org_too_long", length=len(name), limit=ORG_NAME_MAX)
    return name


async def complete(store: Store, clock: Clock, user: User, phone: str, name: str,
                   org_name: str | None) -> Registered:
    """REG-5: activates every member record with that phone, in the same transaction."""
    try:
        memberships = await store.complete_registration(user, phone, name, org_name or None,
                                                        clock.now().isoformat())
    except Conflict:
        raise DomainError("reg.phone_taken") from None
    return Registered(phone, name, memberships)

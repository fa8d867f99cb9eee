"""Which commands each role sees, in /help and in the Telegram command menu (command scopes).

A command is listed for a person when they hold any of the roles named for it. Only commands
that the bot answers are listed here; later features add their rows.
"""
from __future__ import annotations

import zlib
from functools import lru_cache

from bot.services.roles import ADMIN, MAIN_ADMIN, OPERATOR, USER, VISITOR

# (command, roles that see it) in menu order
COMMANDS: list[tuple[str, frozenset[str]]] = [
    ("start", frozenset({VISITOR})),
    ("help", frozenset({VISITOR})),
    ("lang", frozenset({VISITOR})),
    ("cancel", frozenset({VISITOR})),
    ("verify", frozenset({USER})),
    ("neworg", frozenset({USER})),
    ("join", frozenset({USER})),
    ("quiz", frozenset({USER})),
    ("weekly", frozenset({USER})),
    ("exams", frozenset({USER})),
    ("records", frozenset({USER})),
    ("wrongbook", frozenset({USER})),
    ("report", frozenset({USER})),
    ("rank", frozenset({USER})),
    ("tasks", frozenset({USER})),
    ("checkin", frozenset({USER})),
    ("manuscript", frozenset({USER})),
    ("org", frozenset({ADMIN})),
    ("members", frozenset({ADMIN})),
    ("invite", frozenset({ADMIN})),
    ("import", frozenset({ADMIN, OPERATOR})),
    ("template", frozenset({ADMIN, OPERATOR})),
    ("export", frozenset({ADMIN})),
    ("certify", frozenset({ADMIN, OPERATOR})),
    ("applications", frozenset({ADMIN, OPERATOR})),  # the operator decides root organisations' renames
    ("orgreport", frozenset({ADMIN})),
    ("reportsettings", frozenset({ADMIN})),
    ("audit", frozenset({MAIN_ADMIN})),  # SEC-3: only a main admin reads the log; others would be refused
    ("task", frozenset({ADMIN})),
    ("activity", frozenset({ADMIN})),
    ("review", frozenset({ADMIN})),
]


def commands_for(roles: frozenset[str]) -> list[str]:
    return [name for name, allowed in COMMANDS if roles & allowed]


@lru_cache(maxsize=256)  # compared on every update; a few dozen (roles, language) pairs exist
def menu_key(roles: frozenset[str], language: str) -> str:
    """What a person's menu is set to, stored with them (users.menu): a different key means the menu must
    be set again. It names the roles (so that those who held one, e.g. operator, can be found) and a
    digest of the commands (so that a version that changes the list sets everyone's menu again)."""
    commands = ",".join(commands_for(roles))
    return f"{language}:{'+'.join(sorted(roles))}:{zlib.crc32(commands.encode()):08x}"


def visitor_key(language: str) -> str:
    """A person whose menu was never set sees the default one: the visitors' menu in their language."""
    return menu_key(frozenset({VISITOR}), language)


def menu_is_current(stored: str | None, roles: frozenset[str], language: str, telegram_language: str) -> bool:
    return (stored or visitor_key(telegram_language)) == menu_key(roles, language)


__all__ = ["COMMANDS", "commands_for", "menu_is_current", "menu_key", "visitor_key",
           "ADMIN", "MAIN_ADMIN", "OPERATOR", "USER", "VISITOR"]

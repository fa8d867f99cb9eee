"""Which commands each role sees, in /help and in the Telegram command menu (command scopes).

A command is listed for a person when they hold any of the roles named for it. Only commands
that the bot answers are listed here; later features add their rows.
"""
from __future__ import annotations

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


def menu_key(roles: frozenset[str], language: str) -> str:
    """What the person's menu was last set to; a change means the menu must be set again."""
    return f"{language}:{','.join(commands_for(roles))}"


__all__ = ["COMMANDS", "commands_for", "menu_key", "ADMIN", "MAIN_ADMIN", "OPERATOR", "USER", "VISITOR"]

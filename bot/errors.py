"""Domain errors: services raise them, one error handler turns them into localized text."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule said no. `key` is a locale key under `errors.`; params fill its placeholders."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class NotAllowed(DomainError):
    """The actor's role, checked at the moment the action runs, does not allow it (SEC-4)."""

    def __init__(self, key: str = "not_allowed", **params: Any) -> None:
        super().__init__(key, **params)

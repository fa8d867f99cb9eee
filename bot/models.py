"""Plain records that the store returns and services pass around (no aiogram, no SQL)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    id: int
    first_name: str
    last_name: str | None
    username: str | None
    tg_language: str | None
    language: str | None
    phone: str | None
    name: str | None
    org_name: str | None
    registered_at: str | None
    real_name: str | None
    id_masked: str | None
    verified_at: str | None

    @property
    def registered(self) -> bool:
        return self.registered_at is not None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True)
class Org:
    id: int
    name: str
    region: str
    kind: str  # party | nonparty
    parent_id: int | None
    certified_at: str | None
    join_approval: bool
    protect_content: bool
    created_by: int
    created_at: str

    @property
    def certified(self) -> bool:
        return self.certified_at is not None

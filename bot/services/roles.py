"""Who the actor is, loaded fresh for every update (SEC-4: roles are checked when an action runs)."""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import NotAllowed
from bot.models import User

VISITOR, USER, ADMIN, OPERATOR = "visitor", "user", "admin", "operator"
MAIN_ADMIN = "main_admin"  # the main admin of at least one organisation (SEC-3: /audit)


@dataclass(frozen=True)
class Actor:
    user: User
    is_operator: bool = False
    admin_org_ids: frozenset[int] = field(default_factory=frozenset)
    main_admin_org_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def registered(self) -> bool:
        return self.user.registered

    @property
    def roles(self) -> frozenset[str]:
        roles = {VISITOR}
        if self.registered:
            roles.add(USER)
        if self.admin_org_ids:
            roles.add(ADMIN)
        if self.main_admin_org_ids:
            roles.add(MAIN_ADMIN)
        if self.is_operator:
            roles.add(OPERATOR)
        return frozenset(roles)

    def require_registered(self) -> None:
        if not self.registered:
            raise NotAllowed("register_first")

    def require_admin_of(self, org_id: int) -> None:
        if org_id not in self.admin_org_ids:
            raise NotAllowed()

    def require_main_admin_of(self, org_id: int) -> None:
        if org_id not in self.main_admin_org_ids:
            raise NotAllowed("main_admin_only")

    def require_operator(self) -> None:
        if not self.is_operator:
            raise NotAllowed()

"""Gathers the routers in the order they must be tried: /cancel first, catch-alls last."""
from __future__ import annotations

from aiogram import Router

from bot.flows import import_members, join, member_edit, neworg, registration, verification
from bot.handlers import audit, cancel, common, errors, invite, members, org, profile


def build_routers() -> list[Router]:
    return [
        errors.build_router(),
        cancel.build_router(),
        common.build_router(),
        registration.build_router(),  # visitors: everything else they send goes through registration
        profile.build_router(),
        verification.build_router(),
        # organisations (ORG), audit (SEC-3)
        neworg.build_router(),
        org.build_router(),
        audit.build_router(),
        # members (MEM-1..5, 7)
        member_edit.build_router(),
        import_members.build_router(),
        members.build_router(),
        # invitations and joining (MEM-6)
        join.build_router(),
        invite.build_router(),
        common.build_fallback_router(),
    ]

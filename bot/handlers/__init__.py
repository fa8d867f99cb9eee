"""Gathers the routers in the order they must be tried: /cancel first, catch-alls last."""
from __future__ import annotations

from aiogram import Router

from bot.flows import registration, verification
from bot.handlers import cancel, common, errors, profile


def build_routers() -> list[Router]:
    return [
        errors.build_router(),
        cancel.build_router(),
        common.build_router(),
        registration.build_router(),  # visitors: everything else they send goes through registration
        profile.build_router(),
        verification.build_router(),
        common.build_fallback_router(),
    ]

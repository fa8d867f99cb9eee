"""Certification between organisations (CERT-1..7), rename approval (ORG-6), transfer (MEM-8)."""
from __future__ import annotations

from aiogram import Router


def build_router() -> Router:
    router = Router(name=__name__)
    return router

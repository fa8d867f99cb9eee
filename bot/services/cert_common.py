"""What certification (services/certification.py) and rename requests (services/renames.py) share:
time stamps, the organisation that must still exist, and the free texts (notes, reasons) they take.
Both import this module; neither imports the other for it."""
from __future__ import annotations

from datetime import UTC, datetime

from bot.clock import Clock
from bot.errors import DomainError
from bot.models import Org
from bot.services.registration import _squash as squash
from bot.store import Store

REASON_MAX = 200


def now_iso(clock: Clock) -> str:
    return clock.now().isoformat()


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


async def existing_org(store: Store, org_id: int | None) -> Org:
    """The organisation, or the refusal that it is gone (dissolved meanwhile)."""
    org = await store.get_org(org_id) if org_id is not None else None
    if org is None:
        raise DomainError("cert.gone")
    return org


def clean_text(raw: str | None, limit: int, key: str) -> str:
    text = squash(raw or "")
    if not text:
        raise DomainError(f"cert.{key}_empty")
    if len(text) > limit:
        raise DomainError(f"cert.{key}_too_long", length=len(text), limit=limit)
    return text

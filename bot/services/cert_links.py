"""The certification links an organisation has given out (CERT-1), and taking one back.

A link (optionally addressed to one person) stays usable for its days unless revoked; an admin who
sent one to the wrong place, or whose lower organisation has applied already, revokes it here.
Applications already made through a link are not touched: they are decided in /applications.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock
from bot.errors import DomainError
from bot.models import Org
from bot.services.cert_common import now_iso, utc_iso
from bot.services.certification import require_inviter
from bot.services.roles import Actor
from bot.store import Store


@dataclass(frozen=True)
class CertLink:
    id: int
    addressee: str | None  # the one person who may use it (None: anybody with the link)
    note: str | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class CertLinks:
    org: Org
    links: list[CertLink]


async def links(store: Store, clock: Clock, actor: Actor, org_id: int) -> CertLinks:
    org = await require_inviter(store, actor, org_id)
    rows = await store.cert_invites_of(org_id, utc_iso(clock.now()))
    return CertLinks(org, [CertLink(r.id, r.addressee_name if r.addressee_id else None, r.note,
                                    datetime.fromisoformat(r.created_at), datetime.fromisoformat(r.expires_at))
                           for r in rows])


async def revoke(store: Store, clock: Clock, actor: Actor, invite_id: int) -> CertLinks:
    """Revokes a link of an organisation the actor administers; a second press says so."""
    row = await store.get_cert_invite(invite_id)
    if row is None:
        raise DomainError("stale_button")
    await require_inviter(store, actor, row.org_id)
    if not await store.revoke_cert_invite(invite_id, actor.id, now_iso(clock)):
        raise DomainError("cert.link_already_revoked", number=invite_id)
    return await links(store, clock, actor, row.org_id)

"""Admin commands act on one organisation: an admin of several chooses first.

Usage in a handler:
    org_id = await choose_org(message, actor, store, _, purpose="members")
    if org_id is None:
        return  # a choice was offered; the OrgPickCD(purpose="members") callback continues
and a callback handler for `OrgPickCD.filter(F.purpose == "members")` that calls
`actor.require_admin_of(callback_data.org_id)` again (SEC-4: never trust ids in callback data).
"""
from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import NotAllowed
from bot.i18n import Translator
from bot.models import Org
from bot.services.roles import Actor
from bot.store import Store


class OrgPickCD(CallbackData, prefix="op"):
    purpose: str
    org_id: int


def org_label(_: Translator, org: Org) -> str:
    """ORG-9: wherever an organisation is shown, its certified mark is shown."""
    mark = _("org.mark_certified") if org.certified else _("org.mark_uncertified")
    return f"{org.name} {mark}"


def org_pick_kb(_: Translator, orgs: list[Org], purpose: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for org in orgs:
        kb.button(text=org_label(_, org), callback_data=OrgPickCD(purpose=purpose, org_id=org.id))
    kb.adjust(1)
    return kb.as_markup()


async def choose_org(message: Message, actor: Actor, store: Store, _: Translator, purpose: str) -> int | None:
    """The one organisation the actor administers, or None after offering a choice."""
    if not actor.admin_org_ids:
        raise NotAllowed("not_admin")
    if len(actor.admin_org_ids) == 1:
        return next(iter(actor.admin_org_ids))
    orgs = await store.orgs_by_ids(actor.admin_org_ids)
    await message.answer(_("orgpick.choose"), reply_markup=org_pick_kb(_, orgs, purpose))
    return None

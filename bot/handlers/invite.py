"""/invite (MEM-6, admins): a three-step wizard (branch, expiry, use limit) that sends the join link
and its QR code; the list of links with a revoke button each.

The wizard keeps its choices in the callback data (ids and numbers only); every press re-checks
that the actor administers the organisation at that moment (SEC-4).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.flows.verification import RNV
from bot.i18n import Translator
from bot.render.qr import invite_qr_png
from bot.services import invites
from bot.ui.common import NO_PREVIEW
from bot.ui.invite import NOT_CHOSEN, InviteCD, InviteListCD, InviteRevokeCD
from bot.ui.org import OrgPickCD, Purpose, choose_org

if TYPE_CHECKING:
    from datetime import datetime

    from aiogram.utils.callback_answer import CallbackAnswer

    from bot.clock import Clock
    from bot.middlewares import Ctx
    from bot.models import Org
    from bot.services.invites import Branch, CreatedInvite, InviteList
    from bot.services.roles import Actor
    from bot.store import Store


# -- texts and keyboards -------------------------------------------------------------------------
def _when(moment: datetime, clock: Clock) -> str:
    return moment.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M")


def _branch_text(_: Translator, invite_branch: str | None) -> str:
    return invite_branch or _("invite.any_branch")


def _limit_text(_: Translator, max_uses: int | None) -> str:
    return str(max_uses) if max_uses is not None else _("invite.unlimited")


def branch_step_kb(_: Translator, org: Org, branches: list[Branch]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("invite.btn_any_branch"), callback_data=InviteCD(org_id=org.id, branch_id=0))
    for b in branches:
        kb.button(text=b.label, callback_data=InviteCD(org_id=org.id, branch_id=b.id))
    kb.button(text=_.label("invite.btn_list"), callback_data=InviteListCD(org_id=org.id))
    kb.adjust(1)
    return kb.as_markup()


def expiry_step_kb(_: Translator, cd: InviteCD) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for days in invites.EXPIRY_DAYS:
        key = "invite.btn_days_default" if days == invites.DEFAULT_EXPIRY_DAYS else "invite.btn_days"
        kb.button(text=_.label(key, days=days), callback_data=cd.model_copy(update={"days": days}))
    kb.adjust(3)
    return kb.as_markup()


def limit_step_kb(_: Translator, cd: InviteCD) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for uses in invites.USE_LIMITS:
        text = _.label("invite.btn_unlimited") if uses is None else _.label("invite.btn_uses", uses=uses)
        kb.button(text=text, callback_data=cd.model_copy(update={"uses": uses or 0}))
    kb.adjust(1, 4)
    return kb.as_markup()


def list_text(_: Translator, listing: InviteList, clock: Clock) -> str:
    lines = [_("invite.list_title", org=listing.org.name), ""]
    if listing.active:
        lines.append(_("invite.list_active"))
        lines += [_("invite.list_line", number=i.id, branch=_branch_text(_, i.branch_name),
                    expires=_when(i.expires_at, clock), uses=i.uses, limit=_limit_text(_, i.max_uses))
                  for i in listing.active]
    else:
        lines.append(_("invite.list_none_active"))
    if listing.ended:
        lines += ["", _("invite.list_ended")]
        lines += [_("invite.list_ended_line", number=i.id, branch=_branch_text(_, i.branch_name),
                    status=_(f"invite.status_{status}"), uses=i.uses, limit=_limit_text(_, i.max_uses))
                  for i, status in listing.ended]
    return "\n".join(lines)


def list_kb(_: Translator, listing: InviteList) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for i in listing.active[:40]:
        kb.button(text=_.label("invite.btn_revoke", number=i.id), callback_data=InviteRevokeCD(invite_id=i.id))
    kb.button(text=_.label("invite.btn_new"), callback_data=InviteCD(org_id=listing.org.id))
    kb.adjust(2)
    return kb.as_markup()


def link_url(username: str, created: CreatedInvite) -> str:
    return f"https://t.me/{username}?start={created.payload}"


# -- steps ---------------------------------------------------------------------------------------
async def _edit(message: Message, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    await message.edit_text(text, reply_markup=markup)


async def first_step(store: Store, actor: Actor, _: Translator, org_id: int) -> tuple[str, InlineKeyboardMarkup]:
    org, branches = await invites.wizard_start(store, actor, org_id)
    if not branches:  # nothing to fix the link to: straight to the expiry
        cd = InviteCD(org_id=org.id, branch_id=0)
        return _("invite.step_expiry", org=org.name, branch=_("invite.no_branch")), expiry_step_kb(_, cd)
    return _("invite.step_branch", org=org.name), branch_step_kb(_, org, branches)


async def send_invite(message: Message, bot: Bot, clock: Clock, _: Translator, created: CreatedInvite) -> None:
    """The link as text and its QR code, both shareable (protect_content off: the point is to share)."""
    me = await bot.me()
    url = link_url(me.username or "", created)
    invite = created.invite
    branch = _branch_text(_, invite.branch_name)
    expires = _when(invite.expires_at, clock)
    await message.answer(
        _("invite.link", org=created.org.name, branch=branch, expires=expires,
          limit=_limit_text(_, invite.max_uses), url=url, payload=created.payload),
        protect_content=False, link_preview_options=NO_PREVIEW)
    # Drawn into an image, not sent as HTML: the parameters are not escaped.
    subtitle = _.label("invite.qr_subtitle", branch=branch,
                       date=invite.expires_at.astimezone(clock.tz).strftime("%Y-%m-%d"))
    png = invite_qr_png(url, created.org.name, subtitle)
    await message.answer_photo(BufferedInputFile(png, filename=f"invite-{invite.id}.png"),
                               caption=_("invite.qr_caption", org=created.org.name, branch=branch, expires=expires),
                               protect_content=False)


async def invite_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    org_id = await choose_org(message, ctx.actor, ctx.store, _, purpose=Purpose.invite)
    if org_id is not None:
        text, markup = await first_step(ctx.store, ctx.actor, _, org_id)
        await message.answer(text, reply_markup=markup)


async def org_picked(query: CallbackQuery, message: Message, callback_data: OrgPickCD, ctx: Ctx, _: Translator) -> None:
    text, markup = await first_step(ctx.store, ctx.actor, _, callback_data.org_id)
    await _edit(message, text, markup)


async def wizard(query: CallbackQuery, message: Message, callback_data: InviteCD, ctx: Ctx, _: Translator) -> None:
    cd = callback_data
    if cd.branch_id == NOT_CHOSEN:
        text, markup = await first_step(ctx.store, ctx.actor, _, cd.org_id)
        await _edit(message, text, markup)
        return
    branch_id = cd.branch_id or None
    org = await invites.check_branch(ctx.store, ctx.actor, cd.org_id, branch_id)
    branches = await invites.branches(ctx.store, org.id)
    branch = next((b.label for b in branches if b.id == branch_id), None)
    branch = branch or (_("invite.any_branch") if branches else _("invite.no_branch"))
    if cd.days == 0:
        await _edit(message, _("invite.step_expiry", org=org.name, branch=branch), expiry_step_kb(_, cd))
    elif cd.uses == NOT_CHOSEN:
        await _edit(message, _("invite.step_limit", org=org.name, branch=branch, days=cd.days),
                    limit_step_kb(_, cd))
    else:
        created = await invites.create_invite(ctx.store, ctx.clock, ctx.settings.secret_key, ctx.actor, org.id,
                                              branch_id, cd.days, cd.uses or None,
                                              wizard_key=f"{message.chat.id}:{message.message_id}")
        await _edit(message, _("invite.created", number=created.invite.id))
        await send_invite(message, ctx.bot, ctx.clock, _, created)


async def show_list(query: CallbackQuery, message: Message, callback_data: InviteListCD, ctx: Ctx,
                    _: Translator) -> None:
    listing = await invites.list_invites(ctx.store, ctx.clock, ctx.actor, callback_data.org_id)
    await _edit(message, list_text(_, listing, ctx.clock), list_kb(_, listing))


async def revoke(query: CallbackQuery, message: Message, callback_data: InviteRevokeCD, ctx: Ctx,
                 callback_answer: CallbackAnswer, _: Translator) -> None:
    invite = await invites.revoke_invite(ctx.store, ctx.clock, ctx.actor, callback_data.invite_id)
    callback_answer.text = _.label("invite.revoked", number=invite.id)
    listing = await invites.list_invites(ctx.store, ctx.clock, ctx.actor, invite.org_id)
    await _edit(message, list_text(_, listing, ctx.clock), list_kb(_, listing))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(invite_cmd, Command("invite"), flags={RNV: "invite"})
    router.callback_query.register(org_picked, OrgPickCD.filter(F.purpose == Purpose.invite))

    router.callback_query.register(wizard, InviteCD.filter())
    router.callback_query.register(show_list, InviteListCD.filter())

    router.callback_query.register(revoke, InviteRevokeCD.filter())

    return router


"""Certification (CERT, ORG-6): callback data, the conversations' states, the decision buttons, and
the invitation sender the panel and the addressed invitation share."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from aiogram import Bot
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.clock import Clock
from bot.i18n import Translator
from bot.render.qr import invite_qr_png
from bot.services.certification import CreatedCertInvite
from bot.ui.common import NO_PREVIEW
from bot.ui.flow_data import FlowData


class CertAction(StrEnum):
    panel = "panel"
    invite = "invite"
    invite_addr = "invite_addr"
    tree = "tree"
    unc = "unc"
    unc_yes = "unc_yes"
    wd = "wd"
    mine = "mine"
    apps = "apps"


class CertCD(CallbackData, prefix="ce"):
    act: CertAction
    org: int
    x: int = 0  # unc/unc_yes: the panel to go back to; wd: the application


class CertDecideCD(CallbackData, prefix="cd"):
    app: int
    ok: int  # 1 approve; 0 reject (asks for the reason, bot/flows/certify.py)


class RenameDecideCD(CallbackData, prefix="rd"):
    req: int
    ok: int


class RootCD(CallbackData, prefix="cr"):
    org: int


class CertLinkAction(StrEnum):
    list = "list"
    revoke = "revoke"


class CertLinkCD(CallbackData, prefix="cl"):
    act: CertLinkAction
    org: int = 0
    link: int = 0


class CertApplyCD(CallbackData, prefix="ca"):
    inv: int
    org: int


class CertNoteCD(CallbackData, prefix="cn"):
    org: int  # no message: send the invitation as it is


class CertInput(StatesGroup):
    phone = State()
    note = State()
    reason = State()


class CertApplying(StatesGroup):
    choose = State()


class AddressedData(FlowData):
    """CertInput.phone / note (CERT-1): an invitation addressed to one person."""

    COMMAND = "/certify"
    org: int
    addressee: int | None = None


class ReasonData(FlowData):
    """CertInput.reason (CERT-3, ORG-6): the application or the rename request being rejected."""

    COMMAND = "/applications"
    app: int | None = None
    rename: int | None = None


class ApplyingData(FlowData):
    """CertApplying.choose (CERT-2): the invitation this person opened last."""

    COMMAND = "/certify"
    cert_invite: int


def links_button(kb: InlineKeyboardBuilder, _: Translator, org_id: int) -> None:
    kb.button(text=_.label("certify.links.btn_open"), callback_data=CertLinkCD(act=CertLinkAction.list, org=org_id))


def decision_kb(_: Translator, app_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("certify.btn_approve"), callback_data=CertDecideCD(app=app_id, ok=1))
    kb.button(text=_.label("certify.btn_reject"), callback_data=CertDecideCD(app=app_id, ok=0))
    return kb.as_markup()


def rename_kb(_: Translator, req_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("certify.btn_approve"), callback_data=RenameDecideCD(req=req_id, ok=1))
    kb.button(text=_.label("certify.btn_reject"), callback_data=RenameDecideCD(req=req_id, ok=0))
    return kb.as_markup()


def when(clock: Clock, moment: datetime) -> str:
    return moment.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M")


def link_url(username: str, created: CreatedCertInvite) -> str:
    return f"https://t.me/{username}?start={created.payload}"


async def send_invite(message: Message, bot: Bot, clock: Clock, _: Translator, created: CreatedCertInvite) -> str:
    """The link as text and its QR code, shareable (protect_content off). Returns the link."""
    me = await bot.me()
    url = link_url(me.username or "", created)
    expires = when(clock, created.invite.expires_at)
    to = _("certify.link_to", name=created.addressee.display_name) if created.addressee else ""
    note = _("certify.note_line", note=created.invite.note) if created.invite.note else ""
    await message.answer(_("certify.link", org=created.org.name, expires=expires, to=to, note=note, url=url,
                           payload=created.payload), protect_content=False, link_preview_options=NO_PREVIEW)
    subtitle = _.label("certify.qr_subtitle", date=created.invite.expires_at.astimezone(clock.tz).strftime("%Y-%m-%d"))
    png = invite_qr_png(url, created.org.name, subtitle)
    await message.answer_photo(BufferedInputFile(png, filename=f"certify-{created.invite.id}.png"),
                               caption=_("certify.qr_caption", org=created.org.name, expires=expires),
                               protect_content=False)
    return url

"""CERT-1: the certification links an organisation has given out, from the /certify panel; each
can be revoked (the role is re-checked on every press, SEC-4)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.services import cert_links
from bot.ui.certify import CertAction, CertCD, CertLinkAction, CertLinkCD
from bot.ui.screens import show_screen

if TYPE_CHECKING:
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
    from aiogram.utils.callback_answer import CallbackAnswer

    from bot.clock import Clock
    from bot.i18n import Translator
    from bot.middlewares import Ctx


def links_text(_: Translator, clock: Clock, found: cert_links.CertLinks) -> str:
    lines = [_("certify.links.title", org=found.org.name)]
    if not found.links:
        lines.append(_("certify.links.none"))
    for link in found.links:
        who = _("certify.links.to", name=link.addressee) if link.addressee else _("certify.links.anyone")
        line = _("certify.links.line", number=link.id, who=who,
                 created=link.created_at.astimezone(clock.tz).strftime("%m-%d %H:%M"),
                 expires=link.expires_at.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M"))
        if link.note:
            line += "\n" + _("certify.links.note", note=link.note)
        lines.append(line)
    lines.append(_("certify.links.hint"))
    return "\n\n".join(lines)


def links_kb(_: Translator, found: cert_links.CertLinks) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for link in found.links:
        kb.button(text=_("certify.links.btn_revoke", number=link.id),
                  callback_data=CertLinkCD(act=CertLinkAction.revoke,
                                           link=link.id))
    kb.button(text=_("certify.btn_back"), callback_data=CertCD(act=CertAction.panel, org=found.org.id))
    kb.adjust(1)
    return kb.as_markup()


async def show(query: CallbackQuery, message: Message, callback_data: CertLinkCD, ctx: Ctx, _: Translator) -> None:
    found = await cert_links.links(ctx.store, ctx.clock, ctx.actor, callback_data.org)
    await show_screen(message, links_text(_, ctx.clock, found), links_kb(_, found))


async def revoke(query: CallbackQuery, message: Message, callback_data: CertLinkCD, ctx: Ctx, _: Translator,
                 callback_answer: CallbackAnswer) -> None:
    found = await cert_links.revoke(ctx.store, ctx.clock, ctx.actor, callback_data.link)
    callback_answer.text = _("certify.links.revoked", number=callback_data.link)
    await show_screen(message, links_text(_, ctx.clock, found), links_kb(_, found))


def build_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(show, CertLinkCD.filter(F.act == CertLinkAction.list))
    router.callback_query.register(revoke, CertLinkCD.filter(F.act == CertLinkAction.revoke))

    return router

"""Certification between organisations (CERT-1..7), rename approval (ORG-6), transfer (MEM-8).

/certify: the certification panel of one organisation (its upper and lower organisations, invite,
un-certify, the tree); for the operator the roots panel (CERT-7). /applications: what waits for the
actor's decision, and their own pending applications. The conversations (addressed invitation,
applying through a link, the reason of a rejection) are in bot/flows/certify.py.
Every press re-checks the role in the service (SEC-4); pushes to the other side go through the outbox.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.clock import Clock
from bot.config import Settings
from bot.errors import NotAllowed
from bot.filters import Registered
from bot.handlers.cert_links import links_button
from bot.handlers.orgpick import OrgPickCD, choose_org, org_label
from bot.i18n import I18n, Raw, Translator
from bot.outbox import Outbox, text_push
from bot.render.qr import invite_qr_png
from bot.services import certification as cert
from bot.services import renames
from bot.services.certification import Application, CreatedCertInvite
from bot.services.renames import RenameRequest
from bot.services.roles import Actor
from bot.store import Store

LOWER_BUTTONS = 20
INBOX_SHOWN = 10


class CertCD(CallbackData, prefix="ce"):
    act: str  # panel | invite | tree | unc | unc_yes | wd | mine | apps
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


# -- texts and keyboards -----------------------------------------------------------------------
def _when(_: Translator, clock: Clock, moment: Any) -> str:
    return moment.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M")


def panel_text(_: Translator, p: cert.Panel) -> str:
    org = p.org
    if not org.certified:
        status = _("certify.status_uncertified")
    elif p.upper is None:
        status = _("certify.status_root")
    else:
        status = _("certify.status_under", upper=org_label(_, p.upper))
    parts = [_("certify.panel_title", label=org_label(_, org)), status]
    if p.pending:
        parts.append(_("certify.pending_sent", upper=p.pending.upper.name))
    if p.lower:
        lines = "\n".join(_("certify.lower_line", label=org_label(_, o)) for o in p.lower)
        parts.append(_("certify.lower", count=len(p.lower), lines=Raw(lines)))
    elif org.certified:
        parts.append(_("certify.lower_none"))
    if p.subtree > 1:
        parts.append(_("certify.subtree", count=p.subtree))
    if p.received:
        parts.append(_("certify.received", count=p.received))
    return "\n\n".join(parts)


def panel_kb(_: Translator, p: cert.Panel) -> InlineKeyboardMarkup:
    org_id = p.org.id
    kb = InlineKeyboardBuilder()
    if p.org.certified:
        kb.button(text=_("certify.btn_invite"), callback_data=CertCD(act="invite", org=org_id))
        kb.button(text=_("certify.btn_invite_addr"), callback_data=CertCD(act="invite_addr", org=org_id))
        links_button(kb, _, org_id)
        kb.button(text=_("certify.btn_tree"), callback_data=CertCD(act="tree", org=org_id))
    if p.upper is not None:
        kb.button(text=_("certify.btn_uncertify_self", upper=p.upper.name),
                  callback_data=CertCD(act="unc", org=org_id, x=org_id))
    for o in p.lower[:LOWER_BUTTONS]:
        kb.button(text=_("certify.btn_uncertify_lower", name=o.name),
                  callback_data=CertCD(act="unc", org=o.id, x=org_id))
    if p.pending:
        kb.button(text=_("certify.btn_withdraw"), callback_data=CertCD(act="wd", org=org_id, x=p.pending.id))
    if p.received:
        kb.button(text=_("certify.btn_apps"), callback_data=CertCD(act="apps", org=org_id))
    kb.adjust(1)
    return kb.as_markup()


def tree_text(_: Translator, t: cert.Tree) -> str:
    lines = []
    for n in t.nodes:
        indent = "　" * (n.depth - 1) + "└ " if n.depth else ""
        mark = _("org.mark_certified") if n.certified else _("org.mark_uncertified")
        lines.append(_("certify.tree_line", indent=indent, name=n.name, mark=mark, members=n.members))
    more = _("certify.tree_more", count=t.total - len(t.nodes)) if t.total > len(t.nodes) else ""
    return _("certify.tree", label=org_label(_, t.org), total=t.total, members=t.members,
             lines=Raw("\n".join(lines)), more=more)


def back_kb(_: Translator, org_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("certify.btn_back"), callback_data=CertCD(act="panel", org=org_id))
    return kb.as_markup()


def app_text(_: Translator, app: Application) -> str:
    return _("certify.app_line", id=app.id, lower=org_label(_, app.lower), region=app.lower.region,
             upper=app.upper.name, name=app.applicant_name, phone=app.applicant_phone)


def decision_kb(_: Translator, app_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("certify.btn_approve"), callback_data=CertDecideCD(app=app_id, ok=1))
    kb.button(text=_("certify.btn_reject"), callback_data=CertDecideCD(app=app_id, ok=0))
    return kb.as_markup()


def rename_text(_: Translator, req: RenameRequest) -> str:
    return _("certify.rename_line", id=req.id, old=req.old_name, new=req.new_name, name=req.requester_name)


def rename_kb(_: Translator, req_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("certify.btn_approve"), callback_data=RenameDecideCD(req=req_id, ok=1))
    kb.button(text=_("certify.btn_reject"), callback_data=RenameDecideCD(req=req_id, ok=0))
    return kb.as_markup()


def inbox_view(_: Translator, box: cert.Inbox) -> tuple[str, InlineKeyboardMarkup | None]:
    kb = InlineKeyboardBuilder()
    parts = [_("certify.inbox_title")]
    if box.received:
        listed = "\n\n".join(app_text(_, a) for a in box.received[:INBOX_SHOWN])
        parts.append(_("certify.inbox_received") + "\n" + listed)
        for a in box.received[:INBOX_SHOWN]:
            kb.button(text=_("certify.btn_approve_n", id=a.id), callback_data=CertDecideCD(app=a.id, ok=1))
            kb.button(text=_("certify.btn_reject_n", id=a.id), callback_data=CertDecideCD(app=a.id, ok=0))
    if box.renames:
        listed = "\n".join(rename_text(_, r) for r in box.renames[:INBOX_SHOWN])
        parts.append(_("certify.inbox_renames") + "\n" + listed)
        for r in box.renames[:INBOX_SHOWN]:
            kb.button(text=_("certify.btn_rename_approve_n", id=r.id), callback_data=RenameDecideCD(req=r.id, ok=1))
            kb.button(text=_("certify.btn_rename_reject_n", id=r.id), callback_data=RenameDecideCD(req=r.id, ok=0))
    if box.sent:
        parts.append(_("certify.inbox_sent") + "\n" + "\n".join(
            _("certify.sent_line", id=a.id, lower=a.lower.name, upper=a.upper.name) for a in box.sent[:INBOX_SHOWN]))
        for a in box.sent[:INBOX_SHOWN]:
            kb.button(text=_("certify.btn_withdraw_n", id=a.id), callback_data=CertCD(act="wd", org=a.lower.id, x=a.id))
    if len(parts) == 1:
        parts.append(_("certify.inbox_empty"))
    kb.adjust(2)
    return "\n\n".join(parts), kb.as_markup() if (box.received or box.renames or box.sent) else None


def roots_view(_: Translator, found: cert.RootSearch, actor: Actor) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    lines = [_("certify.op_candidate", id=o.id, name=o.name, region=o.region) for o in found.candidates]
    for o in found.candidates:
        kb.button(text=_("certify.btn_root", id=o.id, name=o.name), callback_data=RootCD(org=o.id))
    roots = [_("certify.op_root", id=o.id, name=o.name, region=o.region) for o in found.roots]
    for o in found.roots:
        kb.button(text=_("certify.btn_root_uncertify", name=o.name), callback_data=CertCD(act="unc", org=o.id))
    if actor.admin_org_ids:
        kb.button(text=_("certify.btn_mine"), callback_data=CertCD(act="mine", org=0))
    kb.adjust(1)
    text = _("certify.op_title", candidates=Raw("\n".join(lines) or _("certify.op_none")),
             roots=Raw("\n".join(roots) or _("certify.op_none")))
    return text, kb.as_markup()


def link_url(username: str, created: CreatedCertInvite) -> str:
    return f"https://t.me/{username}?start={created.payload}"


async def send_invite(message: Message, bot: Bot, clock: Clock, _: Translator, created: CreatedCertInvite) -> str:
    """The link as text and its QR code, shareable (protect_content off). Returns the link."""
    me = await bot.me()
    url = link_url(me.username or "", created)
    expires = _when(_, clock, created.invite.expires_at)
    to = _("certify.link_to", name=created.addressee.display_name) if created.addressee else ""
    note = _("certify.note_line", note=created.invite.note) if created.invite.note else ""
    await message.answer(_("certify.link", org=created.org.name, expires=expires, to=to, note=note, url=url,
                           payload=created.payload), protect_content=False, disable_web_page_preview=True)
    subtitle = _("certify.qr_subtitle", date=Raw(created.invite.expires_at.astimezone(clock.tz).strftime("%Y-%m-%d")))
    png = invite_qr_png(url, created.org.name, subtitle)
    await message.answer_photo(BufferedInputFile(png, filename=f"certify-{created.invite.id}.png"),
                               caption=_("certify.qr_caption", org=created.org.name, expires=expires),
                               protect_content=False)
    return url


# -- pushes to the other side (outbox) ---------------------------------------------------------
Render = Callable[[Translator], tuple[str, InlineKeyboardMarkup | None]]


async def push_all(outbox: Outbox, i18n: I18n, people: Iterable[tuple[int, str | None, str | None]], render: Render,
                   key: str, exclude: Iterable[int] = ()) -> None:
    skip, seen, pushes = set(exclude), set(), []
    for user_id, language, tg_language in people:
        if user_id in skip or user_id in seen:
            continue
        seen.add(user_id)
        text, markup = render(i18n.translator(i18n.pick(language, tg_language)))
        pushes.append(text_push(user_id, text, reply_markup=markup, dedupe_key=f"{key}:{user_id}"))
    if pushes:
        await outbox.enqueue(*pushes)


async def notify_application(outbox: Outbox, store: Store, i18n: I18n, app: Application) -> None:
    """CERT-3: the upper organisation's admins get the application with Approve / Reject."""
    await push_all(outbox, i18n, await cert.recipients(store, app.upper.id),
                   lambda t: (t("certify.app_received") + "\n" + app_text(t, app), decision_kb(t, app.id)),
                   f"cert-app:{app.id}")


async def notify_decision(outbox: Outbox, store: Store, i18n: I18n, app: Application, actor: Actor) -> None:
    """Both sides are told: the lower organisation's admins (and the applicant), the other upper admins."""
    def lower(t: Translator) -> tuple[str, None]:
        if app.status == "approved":
            return t("certify.approved_notice", lower=app.lower.name, upper=app.upper.name), None
        return t("certify.rejected_notice", lower=app.lower.name, upper=app.upper.name, reason=app.reason or ""), None

    def upper(t: Translator) -> tuple[str, None]:
        return t(f"certify.decided_notice_{app.status}", by=actor.user.display_name, lower=app.lower.name,
                 reason=app.reason or ""), None

    people = await cert.recipients(store, app.lower.id)
    people += [(u.id, u.language, u.tg_language) for u in await store.user_languages([app.applicant_id])]
    lower_ids = {p[0] for p in people}
    await push_all(outbox, i18n, people, lower, f"cert-decided:{app.id}", exclude=[actor.id])
    await push_all(outbox, i18n, await cert.recipients(store, app.upper.id), upper, f"cert-decided-up:{app.id}",
                   exclude=[actor.id, *lower_ids])


async def notify_uncertified(outbox: Outbox, store: Store, i18n: I18n, done: cert.Uncertified, actor: Actor,
                             key: str) -> None:
    def render(t: Translator) -> tuple[str, None]:
        if done.upper is None:
            return t("certify.root_uncertified_notice", org=done.org.name), None
        return t("certify.uncertified_notice", by=actor.user.display_name, org=done.org.name,
                 upper=done.upper.name), None

    people = await cert.recipients(store, done.org.id)
    if done.upper is not None:
        people += await cert.recipients(store, done.upper.id)
    await push_all(outbox, i18n, people, render, f"cert-uncertified:{done.org.id}:{key}", exclude=[actor.id])


async def notify_rename_requested(outbox: Outbox, store: Store, i18n: I18n, settings: Settings,
                                  req: RenameRequest) -> None:
    """ORG-6: to the upper organisation's admins, or to the operators for a root."""
    people = await cert.recipients(store, req.upper_id, settings.operator_ids)
    await push_all(outbox, i18n, people,
                   lambda t: (t("certify.rename_received") + "\n" + rename_text(t, req), rename_kb(t, req.id)),
                   f"rename-request:{req.id}", exclude=[req.requested_by])


async def notify_rename_decided(outbox: Outbox, store: Store, i18n: I18n, req: RenameRequest, actor: Actor) -> None:
    def render(t: Translator) -> tuple[str, None]:
        if req.status == "approved":
            return t("certify.rename_approved_notice", old=req.old_name, new=req.new_name), None
        return t("certify.rename_rejected_notice", old=req.old_name, new=req.new_name, reason=req.reason or ""), None

    await push_all(outbox, i18n, await cert.recipients(store, req.org.id), render, f"rename-decided:{req.id}",
                   exclude=[actor.id])


# -- the router --------------------------------------------------------------------------------
async def _show_panel(message: Message, store: Store, actor: Actor, _: Translator, org_id: int,
                      edit: bool = False) -> None:
    p = await cert.panel(store, actor, org_id)
    if edit:
        await message.edit_text(panel_text(_, p), reply_markup=panel_kb(_, p))
    else:
        await message.answer(panel_text(_, p), reply_markup=panel_kb(_, p))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(Registered())
    router.callback_query.filter(Registered())

    @router.message(Command("certify"))
    async def certify_cmd(message: Message, command: CommandObject, bot: Bot, store: Store, actor: Actor,
                          _: Translator, **data: Any) -> None:
        arg = (command.args or "").strip()
        if arg and ("start=" in arg or arg.startswith(f"{cert.PREFIX}_")):  # a pasted invitation
            from bot.flows.certify import open_cert

            token = arg.split("start=", 1)[-1].split("&")[0]
            await open_cert(message, token.removeprefix(f"{cert.PREFIX}_"), bot=bot, store=store, actor=actor, _=_,
                            **data)
            return
        if actor.is_operator:
            text, kb = roots_view(_, await cert.root_search(store, actor, arg), actor)
            await message.answer(text, reply_markup=kb)
            return
        org_id = await choose_org(message, actor, store, _, purpose="certify")
        if org_id is not None:
            await _show_panel(message, store, actor, _, org_id)

    @router.callback_query(CertCD.filter(F.act == "mine"))
    async def mine(query: CallbackQuery, store: Store, actor: Actor, _: Translator) -> None:
        if query.message:
            org_id = await choose_org(query.message, actor, store, _, purpose="certify")
            if org_id is not None:
                await _show_panel(query.message, store, actor, _, org_id)

    @router.callback_query(OrgPickCD.filter(F.purpose == "certify"))
    async def picked(query: CallbackQuery, callback_data: OrgPickCD, store: Store, actor: Actor,
                     _: Translator) -> None:
        if query.message:
            await _show_panel(query.message, store, actor, _, callback_data.org_id, edit=True)

    @router.callback_query(CertCD.filter(F.act == "panel"))
    async def show_panel(query: CallbackQuery, callback_data: CertCD, store: Store, actor: Actor,
                         _: Translator) -> None:
        if query.message:
            await _show_panel(query.message, store, actor, _, callback_data.org, edit=True)

    @router.callback_query(CertCD.filter(F.act == "invite"))
    async def invite(query: CallbackQuery, callback_data: CertCD, bot: Bot, store: Store, clock: Clock,
                     settings: Settings, actor: Actor, _: Translator) -> None:
        created = await cert.create_invite(store, clock, settings.secret_key, actor, callback_data.org)
        if query.message:
            await send_invite(query.message, bot, clock, _, created)

    @router.callback_query(CertCD.filter(F.act == "tree"))
    async def show_tree(query: CallbackQuery, callback_data: CertCD, store: Store, actor: Actor,
                        _: Translator) -> None:
        t = await cert.tree(store, actor, callback_data.org)
        if query.message:
            await query.message.edit_text(tree_text(_, t), reply_markup=back_kb(_, t.org.id))

    _uncertify_handlers(router)
    _decision_handlers(router)
    return router


def _uncertify_handlers(router: Router) -> None:
    """CERT-6 (either side, bottom-up), CERT-7 (the operator's roots), withdrawing an application."""

    @router.callback_query(CertCD.filter(F.act == "unc"))
    async def ask(query: CallbackQuery, callback_data: CertCD, store: Store, actor: Actor, _: Translator) -> None:
        preview = await cert.uncertify_preview(store, actor, callback_data.org)
        kb = InlineKeyboardBuilder()
        kb.button(text=_("certify.btn_uncertify_yes"),
                  callback_data=CertCD(act="unc_yes", org=preview.org.id, x=callback_data.x))
        if callback_data.x:
            kb.button(text=_("certify.btn_back"), callback_data=CertCD(act="panel", org=callback_data.x))
        text = (_("certify.uncertify_confirm", org=preview.org.name, upper=preview.upper.name) if preview.upper
                else _("certify.uncertify_root_confirm", org=preview.org.name))
        if query.message:
            await query.message.answer(text, reply_markup=kb.as_markup())

    @router.callback_query(CertCD.filter(F.act == "unc_yes"))
    async def confirm(query: CallbackQuery, callback_data: CertCD, store: Store, clock: Clock, outbox: Outbox,
                      i18n: I18n, actor: Actor, _: Translator) -> None:
        done = await cert.uncertify(store, clock, actor, callback_data.org)
        text = (_("certify.uncertified", org=done.org.name, upper=done.upper.name) if done.upper
                else _("certify.root_uncertified", org=done.org.name))
        if query.message:
            await query.message.edit_text(text)
        await notify_uncertified(outbox, store, i18n, done, actor, query.id)

    @router.callback_query(RootCD.filter())
    async def certify_root(query: CallbackQuery, callback_data: RootCD, store: Store, clock: Clock, outbox: Outbox,
                           i18n: I18n, actor: Actor, _: Translator) -> None:
        org = await cert.certify_root(store, clock, actor, callback_data.org)
        if query.message:
            await query.message.answer(_("certify.root_done", org=org.name))
        await push_all(outbox, i18n, await cert.recipients(store, org.id),
                       lambda t: (t("certify.root_notice", org=org.name), None),
                       f"cert-root:{org.id}:{org.certified_at}", exclude=[actor.id])

    @router.callback_query(CertCD.filter(F.act == "wd"))
    async def withdraw(query: CallbackQuery, callback_data: CertCD, store: Store, clock: Clock, actor: Actor,
                       _: Translator) -> None:
        app = await cert.withdraw(store, clock, actor, callback_data.x)
        if query.message:
            await query.message.answer(_("certify.withdrawn", org=app.lower.name, upper=app.upper.name))


def _decision_handlers(router: Router) -> None:
    """CERT-3 and ORG-6 approvals; a rejection asks for the reason first (bot/flows/certify.py)."""

    @router.message(Command("applications"))
    async def applications(message: Message, store: Store, actor: Actor, _: Translator) -> None:
        if not actor.admin_org_ids and not actor.is_operator:
            raise NotAllowed("not_admin")
        text, kb = inbox_view(_, await cert.inbox(store, actor))
        await message.answer(text, reply_markup=kb)

    @router.callback_query(CertCD.filter(F.act == "apps"))
    async def apps_button(query: CallbackQuery, store: Store, actor: Actor, _: Translator) -> None:
        text, kb = inbox_view(_, await cert.inbox(store, actor))
        if query.message:
            await query.message.answer(text, reply_markup=kb)

    @router.callback_query(CertDecideCD.filter(F.ok == 1))
    async def approve(query: CallbackQuery, callback_data: CertDecideCD, store: Store, clock: Clock, outbox: Outbox,
                      i18n: I18n, actor: Actor, callback_answer: CallbackAnswer, _: Translator) -> None:
        app = await cert.decide(store, clock, actor, callback_data.app, True)
        callback_answer.text = _("certify.approved_answer")
        if query.message:
            await query.message.answer(_("certify.approved", lower=app.lower.name, upper=app.upper.name))
        await notify_decision(outbox, store, i18n, app, actor)

    @router.callback_query(RenameDecideCD.filter(F.ok == 1))
    async def approve_rename(query: CallbackQuery, callback_data: RenameDecideCD, store: Store, clock: Clock,
                             outbox: Outbox, i18n: I18n, actor: Actor, _: Translator) -> None:
        req = await renames.decide_rename(store, clock, actor, callback_data.req, True)
        if query.message:
            await query.message.answer(_("certify.rename_approved", old=req.old_name, new=req.new_name))
        await notify_rename_decided(outbox, store, i18n, req, actor)


__all__ = ["build_router", "CertCD", "CertDecideCD", "RenameDecideCD", "RootCD", "notify_rename_requested"]

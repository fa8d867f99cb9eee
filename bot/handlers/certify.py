"""Certification between organisations (CERT-1..7), rename approval (ORG-6), transfer (MEM-8).

/certify: the certification panel of one organisation (its upper and lower organisations, invite,
un-certify, the tree); for the operator the roots panel (CERT-7). /applications: what waits for the
actor's decision, and their own pending applications. The conversations (addressed invitation,
applying through a link, the reason of a rejection) are in bot/flows/certify.py.
Every press re-checks the role in the service (SEC-4); pushes to the other side go through the outbox.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import notify
from bot.errors import NotAllowed
from bot.i18n import Raw, Translator
from bot.notify import app_text, rename_text
from bot.services import certification as cert
from bot.services import renames
from bot.services.transactions import atomic
from bot.ui.certify import (
    CertAction,
    CertCD,
    CertDecideCD,
    RenameDecideCD,
    RootCD,
    links_button,
    send_invite,
)
from bot.ui.org import OrgPickCD, Purpose, choose_org, org_label

if TYPE_CHECKING:
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
    from aiogram.utils.callback_answer import CallbackAnswer

    from bot.middlewares import Ctx
    from bot.services.roles import Actor
    from bot.store import Store
    from bot.ui.workflows import Workflows

LOWER_BUTTONS = 20
INBOX_SHOWN = 10


# -- texts and keyboards -----------------------------------------------------------------------
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
        kb.button(text=_.label("certify.btn_invite"), callback_data=CertCD(act=CertAction.invite, org=org_id))
        kb.button(text=_.label("certify.btn_invite_addr"), callback_data=CertCD(act=CertAction.invite_addr, org=org_id))
        links_button(kb, _, org_id)
        kb.button(text=_.label("certify.btn_tree"), callback_data=CertCD(act=CertAction.tree, org=org_id))
    if p.upper is not None:
        kb.button(text=_.label("certify.btn_uncertify_self", upper=p.upper.name),
                  callback_data=CertCD(act=CertAction.unc, org=org_id, x=org_id))
    for o in p.lower[:LOWER_BUTTONS]:
        kb.button(text=_.label("certify.btn_uncertify_lower", name=o.name),
                  callback_data=CertCD(act=CertAction.unc, org=o.id, x=org_id))
    if p.pending:
        kb.button(text=_.label("certify.btn_withdraw"),
                  callback_data=CertCD(act=CertAction.wd, org=org_id, x=p.pending.id))
    if p.received:
        kb.button(text=_.label("certify.btn_apps"), callback_data=CertCD(act=CertAction.apps, org=org_id))
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
    kb.button(text=_.label("certify.btn_back"), callback_data=CertCD(act=CertAction.panel, org=org_id))
    return kb.as_markup()


def inbox_view(_: Translator, box: cert.Inbox) -> tuple[str, InlineKeyboardMarkup | None]:
    kb = InlineKeyboardBuilder()
    parts = [_("certify.inbox_title")]
    if box.received:
        listed = "\n\n".join(app_text(_, a) for a in box.received[:INBOX_SHOWN])
        parts.append(_("certify.inbox_received") + "\n" + listed)
        for a in box.received[:INBOX_SHOWN]:
            kb.button(text=_.label("certify.btn_approve_n", id=a.id), callback_data=CertDecideCD(app=a.id, ok=1))
            kb.button(text=_.label("certify.btn_reject_n", id=a.id), callback_data=CertDecideCD(app=a.id, ok=0))
    if box.renames:
        listed = "\n".join(rename_text(_, r) for r in box.renames[:INBOX_SHOWN])
        parts.append(_("certify.inbox_renames") + "\n" + listed)
        for r in box.renames[:INBOX_SHOWN]:
            kb.button(text=_.label("certify.btn_rename_approve_n", id=r.id),
                      callback_data=RenameDecideCD(req=r.id, ok=1))
            kb.button(text=_.label("certify.btn_rename_reject_n", id=r.id),
                      callback_data=RenameDecideCD(req=r.id, ok=0))
    if box.sent:
        parts.append(_("certify.inbox_sent") + "\n" + "\n".join(
            _("certify.sent_line", id=a.id, lower=a.lower.name, upper=a.upper.name) for a in box.sent[:INBOX_SHOWN]))
        for a in box.sent[:INBOX_SHOWN]:
            kb.button(text=_.label("certify.btn_withdraw_n", id=a.id),
                      callback_data=CertCD(act=CertAction.wd, org=a.lower.id, x=a.id))
    if len(parts) == 1:
        parts.append(_("certify.inbox_empty"))
    kb.adjust(2)
    return "\n\n".join(parts), kb.as_markup() if (box.received or box.renames or box.sent) else None


def roots_view(_: Translator, found: cert.RootSearch, actor: Actor) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    lines = [_("certify.op_candidate", id=o.id, name=o.name, region=o.region) for o in found.candidates]
    for o in found.candidates:
        kb.button(text=_.label("certify.btn_root", id=o.id, name=o.name), callback_data=RootCD(org=o.id))
    roots = [_("certify.op_root", id=o.id, name=o.name, region=o.region) for o in found.roots]
    for o in found.roots:
        kb.button(text=_.label("certify.btn_root_uncertify", name=o.name),
                  callback_data=CertCD(act=CertAction.unc, org=o.id))
    if actor.admin_org_ids:
        kb.button(text=_.label("certify.btn_mine"), callback_data=CertCD(act=CertAction.mine, org=0))
    kb.adjust(1)
    text = _("certify.op_title", candidates=Raw("\n".join(lines) or _("certify.op_none")),
             roots=Raw("\n".join(roots) or _("certify.op_none")))
    return text, kb.as_markup()


async def _show_panel(message: Message, store: Store, actor: Actor, _: Translator, org_id: int,
                      edit: bool = False) -> None:
    p = await cert.panel(store, actor, org_id)
    if edit:
        await message.edit_text(panel_text(_, p), reply_markup=panel_kb(_, p))
    else:
        await message.answer(panel_text(_, p), reply_markup=panel_kb(_, p))


async def certify_cmd(message: Message, command: CommandObject, store: Store, actor: Actor,
                      _: Translator, workflows: Workflows, **data: Any) -> None:
    arg = (command.args or "").strip()
    if arg and ("start=" in arg or arg.startswith(f"{cert.PREFIX}_")):  # a pasted invitation
        token = arg.split("start=", 1)[-1].split("&")[0]
        await workflows.openers[cert.PREFIX](message, token.removeprefix(f"{cert.PREFIX}_"), store=store,
                                             actor=actor, _=_, workflows=workflows, **data)
        return
    if actor.is_operator:
        text, kb = roots_view(_, await cert.root_search(store, actor, arg), actor)
        await message.answer(text, reply_markup=kb)
        return
    org_id = await choose_org(message, actor, store, _, purpose=Purpose.certify)
    if org_id is not None:
        await _show_panel(message, store, actor, _, org_id)


async def mine(query: CallbackQuery, message: Message, ctx: Ctx, _: Translator) -> None:
    org_id = await choose_org(message, ctx.actor, ctx.store, _, purpose=Purpose.certify)
    if org_id is not None:
        await _show_panel(message, ctx.store, ctx.actor, _, org_id)


async def picked(query: CallbackQuery, message: Message, callback_data: OrgPickCD, ctx: Ctx, _: Translator) -> None:
    await _show_panel(message, ctx.store, ctx.actor, _, callback_data.org_id, edit=True)


async def show_panel(query: CallbackQuery, message: Message, callback_data: CertCD, ctx: Ctx, _: Translator) -> None:
    await _show_panel(message, ctx.store, ctx.actor, _, callback_data.org, edit=True)


async def invite(query: CallbackQuery, message: Message, callback_data: CertCD, ctx: Ctx, _: Translator) -> None:
    created = await cert.create_invite(ctx.store, ctx.clock, ctx.settings.secret_key, ctx.actor, callback_data.org)
    await send_invite(message, ctx.bot, ctx.clock, _, created)


async def show_tree(query: CallbackQuery, message: Message, callback_data: CertCD, ctx: Ctx, _: Translator) -> None:
    t = await cert.tree(ctx.store, ctx.actor, callback_data.org)
    await message.edit_text(tree_text(_, t), reply_markup=back_kb(_, t.org.id))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(certify_cmd, Command("certify"))
    router.callback_query.register(mine, CertCD.filter(F.act == CertAction.mine))

    router.callback_query.register(picked, OrgPickCD.filter(F.purpose == Purpose.certify))
    router.callback_query.register(show_panel, CertCD.filter(F.act == CertAction.panel))

    router.callback_query.register(invite, CertCD.filter(F.act == CertAction.invite))
    router.callback_query.register(show_tree, CertCD.filter(F.act == CertAction.tree))

    _uncertify_handlers(router)
    _decision_handlers(router)
    return router


async def ask(query: CallbackQuery, message: Message, callback_data: CertCD, ctx: Ctx, _: Translator) -> None:
    preview = await cert.uncertify_preview(ctx.store, ctx.actor, callback_data.org)
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("certify.btn_uncertify_yes"),
              callback_data=CertCD(act=CertAction.unc_yes, org=preview.org.id, x=callback_data.x))
    if callback_data.x:
        kb.button(text=_.label("certify.btn_back"), callback_data=CertCD(act=CertAction.panel, org=callback_data.x))
    text = (_("certify.uncertify_confirm", org=preview.org.name, upper=preview.upper.name) if preview.upper
            else _("certify.uncertify_root_confirm", org=preview.org.name))
    await message.answer(text, reply_markup=kb.as_markup())


async def confirm(query: CallbackQuery, message: Message, callback_data: CertCD, ctx: Ctx, _: Translator) -> None:
    async with atomic(ctx.store):
        done = await cert.uncertify(ctx.store, ctx.clock, ctx.actor, callback_data.org)
        await notify.uncertified(ctx.outbox, ctx.store, ctx.i18n, done, ctx.actor, query.id)
    text = (_("certify.uncertified", org=done.org.name, upper=done.upper.name) if done.upper
            else _("certify.root_uncertified", org=done.org.name))
    await message.edit_text(text)


async def certify_root(query: CallbackQuery, message: Message, callback_data: RootCD, ctx: Ctx,
                       _: Translator) -> None:
    async with atomic(ctx.store):
        org = await cert.certify_root(ctx.store, ctx.clock, ctx.actor, callback_data.org)
        await notify.root_certified(ctx.outbox, ctx.store, ctx.i18n, org, ctx.actor)
    await message.answer(_("certify.root_done", org=org.name))


async def withdraw(query: CallbackQuery, message: Message, callback_data: CertCD, ctx: Ctx, _: Translator) -> None:
    app = await cert.withdraw(ctx.store, ctx.clock, ctx.actor, callback_data.x)
    await message.answer(_("certify.withdrawn", org=app.lower.name, upper=app.upper.name))


def _uncertify_handlers(router: Router) -> None:
    """CERT-6 (either side, bottom-up), CERT-7 (the operator's roots), withdrawing an application."""
    router.callback_query.register(ask, CertCD.filter(F.act == CertAction.unc))
    router.callback_query.register(confirm, CertCD.filter(F.act == CertAction.unc_yes))

    router.callback_query.register(certify_root, RootCD.filter())
    router.callback_query.register(withdraw, CertCD.filter(F.act == CertAction.wd))


async def applications(message: Message, ctx: Ctx, _: Translator) -> None:
    if not ctx.actor.admin_org_ids and not ctx.actor.is_operator:
        raise NotAllowed("not_admin")
    text, kb = inbox_view(_, await cert.inbox(ctx.store, ctx.actor))
    await message.answer(text, reply_markup=kb)


async def apps_button(query: CallbackQuery, message: Message, ctx: Ctx, _: Translator) -> None:
    if not ctx.actor.admin_org_ids and not ctx.actor.is_operator:
        raise NotAllowed("not_admin")  # e.g. a stale button of an admin no longer: a refusal, not an empty inbox
    text, kb = inbox_view(_, await cert.inbox(ctx.store, ctx.actor))
    await message.answer(text, reply_markup=kb)


async def approve(query: CallbackQuery, message: Message, callback_data: CertDecideCD, ctx: Ctx,
                  callback_answer: CallbackAnswer, _: Translator) -> None:
    async with atomic(ctx.store):
        app = await cert.decide(ctx.store, ctx.clock, ctx.actor, callback_data.app, True)
        await notify.decision(ctx.outbox, ctx.store, ctx.i18n, app, ctx.actor)
    callback_answer.text = _.label("certify.approved_answer")
    await message.answer(_("certify.approved", lower=app.lower.name, upper=app.upper.name))


async def approve_rename(query: CallbackQuery, message: Message, callback_data: RenameDecideCD, ctx: Ctx,
                         _: Translator) -> None:
    async with atomic(ctx.store):
        req = await renames.decide_rename(ctx.store, ctx.clock, ctx.actor, callback_data.req, True)
        await notify.rename_decided(ctx.outbox, ctx.store, ctx.i18n, req, ctx.actor)
    await message.answer(_("certify.rename_approved", old=req.old_name, new=req.new_name))


def _decision_handlers(router: Router) -> None:
    """CERT-3 and ORG-6 approvals; a rejection asks for the reason first (bot/flows/certify.py)."""
    router.message.register(applications, Command("applications"))
    router.callback_query.register(apps_button, CertCD.filter(F.act == CertAction.apps))

    router.callback_query.register(approve, CertDecideCD.filter(F.ok == 1))
    router.callback_query.register(approve_rename, RenameDecideCD.filter(F.ok == 1))


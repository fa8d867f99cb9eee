"""SEC-3: /audit — the organisation's operation log for its main admin, 10 a page, newest first."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.flows.verification import RNV
from bot.i18n import Raw
from bot.services import orgs
from bot.ui.org import AuditCD, OrgPickCD, Purpose, choose_org, org_label

if TYPE_CHECKING:
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

    from bot.clock import Clock
    from bot.i18n import Translator
    from bot.middlewares import Ctx
    from bot.services.roles import Actor
    from bot.store import Store

def action_name(_: Translator, action: str) -> str:
    key = "audit.action." + action.replace(".", "_")
    return _(key) if _.i18n.has(key) else action


def _changes(_: Translator, before: Any, after: Any) -> str:
    b = before if isinstance(before, dict) else {}
    a = after if isinstance(after, dict) else {}
    parts = [_.label(f"audit.say.change_{k}", old=b[k], new=a[k]) for k in ("name", "phone")
             if k in a and k in b and a[k] != b[k]]
    return _.label("audit.say.sep").join(parts)


def sentence(_: Translator, page_org: str, e: orgs.AuditEntry) -> str:
    """SEC-3: one entry as a sentence with names (no internal ids), complete."""
    who = e.actor_name or _.label("audit.say.someone")
    p = dict(e.params)
    key = "audit.say." + e.action.replace(".", "_")
    if e.action == "member.import_names":
        key += "_update" if p.get("state") == "update" else "_keep"
    elif p.get("state") in ("on", "off"):
        p["state"] = _.label(f"audit.say.turned_{p['state']}")
    if not _.i18n.has(key):
        return _("audit.say.fallback", who=who, action=action_name(_, e.action))
    if e.action == "member.move":
        p["branch"] = p["branch"] or _.label("audit.say.no_branch")
        p["old_branch"] = p["old_branch"] or _.label("audit.say.no_branch")
    if e.action == "invite.create":
        p["limit"] = _.label("audit.say.limit", limit=p["limit"]) if p["limit"] else _.label("invite.unlimited")
        p["branch"] = p["branch"] or _.label("invite.any_branch")
    p["amount"] = abs(p.get("amount") or 0)
    plain = {
        "in_branch": _.label("audit.say.in_branch", branch=p["branch"]) if p.get("branch") else "",
        "new_branches": _.label("audit.say.new_branches", branches=p["branches"]) if p.get("branches") else "",
        "reason": _.label("audit.say.reason", reason=p["reason"]) if p.get("reason") else "",
        "change": _changes(_, e.before, e.after),
    }
    return _(key, **{**p, **plain, "who": who, "org": page_org})


def page_text(_: Translator, page: orgs.AuditPage, number: int) -> str:
    if not page.entries:
        return _("audit.empty", org=org_label(_, page.org))
    lines = [_("audit.say.entry", at=e.at.strftime("%Y-%m-%d %H:%M"), sentence=Raw(sentence(_, page.org.name, e)))
             for e in page.entries]
    return _("audit.title", org=org_label(_, page.org), page=number + 1) + "\n\n" + "\n".join(lines)


def page_kb(_: Translator, page: orgs.AuditPage, number: int) -> InlineKeyboardMarkup | None:
    kb = InlineKeyboardBuilder()
    if page.has_newer and page.entries:
        kb.button(text=_("audit.btn_newer"), callback_data=AuditCD(org=page.org.id, page=max(number - 1, 0),
                                                                   after=page.entries[0].id))
    if page.has_older and page.entries:
        kb.button(text=_("audit.btn_older"), callback_data=AuditCD(org=page.org.id, page=number + 1,
                                                                   before=page.entries[-1].id))
    kb.adjust(2)
    return kb.as_markup() if page.entries and (page.has_newer or page.has_older) else None


async def send_first_page(message: Message, store: Store, clock: Clock, actor: Actor, _: Translator,
                          org_id: int) -> None:
    page = await orgs.audit_page(store, clock, actor, org_id)
    await message.answer(page_text(_, page, 0), reply_markup=page_kb(_, page, 0),
                         protect_content=page.org.protect_content)


async def audit_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    main_orgs = ctx.actor.main_admin_org_ids
    if len(main_orgs) == 1:
        org_id: int | None = next(iter(main_orgs))
    else:  # none (an ordinary admin: the picker leads to the refusal) or several
        org_id = await choose_org(message, ctx.actor, ctx.store, _, purpose=Purpose.audit)
    if org_id is not None:
        await send_first_page(message, ctx.store, ctx.clock, ctx.actor, _, org_id)


async def picked(query: CallbackQuery, message: Message, callback_data: OrgPickCD, ctx: Ctx, _: Translator) -> None:
    await send_first_page(message, ctx.store, ctx.clock, ctx.actor, _, callback_data.org_id)


async def paged(query: CallbackQuery, message: Message, callback_data: AuditCD, ctx: Ctx, _: Translator) -> None:
    page = await orgs.audit_page(ctx.store, ctx.clock, ctx.actor, callback_data.org, before_id=callback_data.before,
                                 after_id=callback_data.after)
    number = callback_data.page if page.has_newer else 0
    await message.edit_text(page_text(_, page, number), reply_markup=page_kb(_, page, number))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(audit_cmd, Command("audit"), flags={RNV: "org"})
    router.callback_query.register(picked, OrgPickCD.filter(F.purpose == Purpose.audit))

    router.callback_query.register(paged, AuditCD.filter())

    return router

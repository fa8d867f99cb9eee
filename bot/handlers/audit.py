"""SEC-3: /audit — the organisation's operation log for its main admin, 10 a page, newest first."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.flows.verification import RNV
from bot.services import orgs
from bot.ui.org import AuditCD, OrgPickCD, Purpose, choose_org, org_label

if TYPE_CHECKING:
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

    from bot.clock import Clock
    from bot.i18n import Translator
    from bot.middlewares import Ctx
    from bot.services.roles import Actor
    from bot.store import Store

SHORT = 40  # characters of a before/after value in the list


def _short(_: Translator, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("audit.on") if value else _("audit.off")
    if isinstance(value, dict):
        parts = [_short(_, v) if len(value) == 1 else f"{k}={_short(_, v)}" for k, v in value.items()]
        text = ", ".join(parts)
    else:
        text = str(value)
    return text if len(text) <= SHORT else text[:SHORT - 1] + "…"


def action_name(_: Translator, action: str) -> str:
    key = "audit.action." + action.replace(".", "_")
    return _(key) if _.i18n.has(key) else action


def page_text(_: Translator, page: orgs.AuditPage, number: int) -> str:
    if not page.entries:
        return _("audit.empty", org=org_label(_, page.org))
    lines = []
    for e in page.entries:
        change = ""
        if e.before is not None or e.after is not None:
            change = _("audit.change", before=_short(_, e.before), after=_short(_, e.after))
        lines.append(_("audit.line", at=e.at.strftime("%Y-%m-%d %H:%M"), who=e.actor_name,
                       action=action_name(_, e.action), target=_("audit.target", target=e.target) if e.target else "",
                       change=change))
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

"""/orgreport (REP-2, 3, 4, 6, 7, 8; SEC-1, SEC-2): yesterday's overview with change rates and the
table of lower organisations and branches, trend charts, the .xlsx export, activation, inactive
members and their nudge. Thin: every press goes through bot/services/reports.py, which checks the
presser administers the organisation (SEC-4); the texts and images come from bot/reports_notify.py."""
from __future__ import annotations

import asyncio
from functools import partial
from typing import ClassVar

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.clock import Clock
from bot.errors import DomainError
from bot.i18n import Translator
from bot.outbox import Outbox
from bot.reports_notify import (
    nudge_inactive,
    overview_text,
    people_text,
    protect_note,
    report_xlsx,
    table_text,
    trend_png,
    viewer_mark,
)
from bot.services import reports as svc
from bot.services.roles import Actor
from bot.services.text import whole_number
from bot.store import Store
from bot.ui.flow_data import FlowData
from bot.ui.org import OrgPickCD, choose_org
from bot.ui.reports import ORDERS, ReportAction, ReportCD, ReportInput, back_kb, export_kb, overview_kb, paged_kb

TEXT = F.text & ~F.text.startswith("/")


class ExportData(FlowData):
    """The FSM data of a typed export range: which organisation it is for."""

    COMMAND: ClassVar[str] = "/orgreport"
    org: int


def _shown(query: CallbackQuery) -> Message:
    """The message that carried the pressed button (too old a message cannot be answered under)."""
    if not isinstance(query.message, Message):
        raise DomainError("stale_button")
    return query.message


async def show_overview(message: Message, store: Store, clock: Clock, actor: Actor, _: Translator, org_id: int,
                        *, order: str = "per_capita", page: int = 0, edit: bool = False) -> None:
    o = await svc.overview(store, clock, actor, org_id)
    count, rows = await svc.lower_table(store, clock, actor, org_id, order, page)
    text = overview_text(_, o) + "\n\n" + table_text(_, count, rows, page, order) + protect_note(_, o.protect)
    markup = overview_kb(_, org_id, order, page, count)
    if edit:
        await message.edit_text(text, reply_markup=markup)
    else:
        await message.answer(text, reply_markup=markup, protect_content=o.protect)


async def orgreport_cmd(message: Message, store: Store, clock: Clock, actor: Actor, _: Translator) -> None:
    org_id = await choose_org(message, actor, store, _, purpose="orgreport")
    if org_id is not None:
        await show_overview(message, store, clock, actor, _, org_id)


async def org_picked(query: CallbackQuery, callback_data: OrgPickCD, store: Store, clock: Clock, actor: Actor,
                     _: Translator) -> None:
    await show_overview(_shown(query), store, clock, actor, _, callback_data.org_id)


async def overview_pressed(query: CallbackQuery, callback_data: ReportCD, store: Store, clock: Clock, actor: Actor,
                           _: Translator) -> None:
    await show_overview(_shown(query), store, clock, actor, _, callback_data.org)


async def table_paged(query: CallbackQuery, callback_data: ReportCD, store: Store, clock: Clock, actor: Actor,
                      _: Translator) -> None:
    order = callback_data.arg if callback_data.arg in ORDERS else "per_capita"
    await show_overview(_shown(query), store, clock, actor, _, callback_data.org, order=order,
                        page=callback_data.page, edit=True)


async def trend_pressed(query: CallbackQuery, callback_data: ReportCD, store: Store, clock: Clock, actor: Actor,
                        _: Translator) -> None:
    days = whole_number(callback_data.arg, 3) or 7
    t = await svc.trend(store, clock, actor, callback_data.org, days)
    png = await asyncio.to_thread(trend_png, _, t, viewer_mark(actor.user))
    caption = _("reports.chart.caption", days=days) + protect_note(_, t.org.protect_content)
    await _shown(query).answer_photo(BufferedInputFile(png, filename=f"trend-{days}.png"), caption=caption,
                                     protect_content=t.org.protect_content)


async def export_pressed(query: CallbackQuery, callback_data: ReportCD, store: Store, actor: Actor,
                         _: Translator) -> None:
    await svc.report_org(store, actor, callback_data.org)
    await _shown(query).answer(_("reports.export.choose"), reply_markup=export_kb(_, callback_data.org))


async def send_export(message: Message, store: Store, clock: Clock, actor: Actor, _: Translator, org_id: int,
                      first_last: tuple) -> None:
    first, last = first_last
    org, orgs, people, points = await svc.export_range(store, clock, actor, org_id, first, last)
    full = org.id in actor.admin_org_ids  # SEC-5 (export_range admits the organisation's admins only)
    data = await asyncio.to_thread(partial(report_xlsx, full_phones=full), _, orgs, people, points, first, last)
    caption = _("reports.export.caption", org=org.name, first=first.isoformat(), last=last.isoformat())
    await message.answer_document(BufferedInputFile(data, filename=f"report-{first}-{last}.xlsx"),
                                  caption=caption + protect_note(_, org.protect_content),
                                  protect_content=org.protect_content)


async def export_custom_pressed(query: CallbackQuery, callback_data: ReportCD, state: FSMContext, store: Store,
                                actor: Actor, _: Translator) -> None:
    await svc.report_org(store, actor, callback_data.org)
    await ExportData(org=callback_data.org).begin(state, ReportInput.export_range)
    await _shown(query).answer(_("reports.export.ask_range"))


async def export_range_pressed(query: CallbackQuery, callback_data: ReportCD, store: Store, clock: Clock,
                               actor: Actor, _: Translator) -> None:
    days = whole_number(callback_data.arg, 3) or 1
    await send_export(_shown(query), store, clock, actor, _, callback_data.org, svc.export_days(clock, days))


async def export_range_typed(message: Message, state: FSMContext, store: Store, clock: Clock, actor: Actor,
                             _: Translator) -> None:
    data = await ExportData.load(state)
    await send_export(message, store, clock, actor, _, data.org, svc.parse_range(message.text or ""))
    await state.clear()  # a bad range raised above: the person stays here and can type it again


async def activation_pressed(query: CallbackQuery, callback_data: ReportCD, store: Store, actor: Actor,
                             _: Translator) -> None:
    org, yes, no = await svc.activation(store, actor, callback_data.org)
    page = callback_data.page
    people = await svc.not_activated(store, actor, callback_data.org, page)
    text = _("reports.activation.text", org=org.name, yes=yes, no=no) + "\n\n"
    text += (people_text(_, _("reports.activation.list_title", page=page + 1), people, page * svc.PAGE) if people
             else _("reports.activation.none"))
    await _shown(query).answer(text + protect_note(_, org.protect_content),
                               reply_markup=paged_kb(_, ReportAction.activation, org.id, page, no),
                               protect_content=org.protect_content)


async def inactive_pressed(query: CallbackQuery, callback_data: ReportCD, store: Store, clock: Clock, actor: Actor,
                           _: Translator) -> None:
    org = await svc.report_org(store, actor, callback_data.org)
    page = callback_data.page
    days, count, people = await svc.inactive(store, clock, actor, org.id, page)
    if count:
        text = people_text(_, _("reports.inactive.title", org=org.name, days=days, count=count, page=page + 1),
                           people, page * svc.PAGE)
    else:
        text = _("reports.inactive.none", days=days)
    await _shown(query).answer(text + protect_note(_, org.protect_content),
                               reply_markup=paged_kb(_, ReportAction.inactive, org.id, page, count, nudge=True),
                               protect_content=org.protect_content)


async def nudge_pressed(query: CallbackQuery, callback_data: ReportCD, outbox: Outbox, actor: Actor,
                        _: Translator) -> None:
    added, skipped = await nudge_inactive(outbox, _.i18n, actor, callback_data.org)
    await _shown(query).answer(_("reports.inactive.nudged", added=added, skipped=skipped),
                               reply_markup=back_kb(_, callback_data.org))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(orgreport_cmd, Command("orgreport"))
    router.callback_query.register(org_picked, OrgPickCD.filter(F.purpose == "orgreport"))
    router.callback_query.register(overview_pressed, ReportCD.filter(F.act == ReportAction.overview))
    router.callback_query.register(table_paged, ReportCD.filter(F.act == ReportAction.table))
    router.callback_query.register(trend_pressed, ReportCD.filter(F.act == ReportAction.trend))
    router.callback_query.register(export_pressed, ReportCD.filter(F.act == ReportAction.export))
    router.callback_query.register(export_custom_pressed,
                                   ReportCD.filter((F.act == ReportAction.export_range) & (F.arg == "custom")))
    router.callback_query.register(export_range_pressed, ReportCD.filter(F.act == ReportAction.export_range))
    router.message.register(export_range_typed, ReportInput.export_range, TEXT)
    router.callback_query.register(activation_pressed, ReportCD.filter(F.act == ReportAction.activation))
    router.callback_query.register(inactive_pressed, ReportCD.filter(F.act == ReportAction.inactive))
    router.callback_query.register(nudge_pressed, ReportCD.filter(F.act == ReportAction.nudge))
    return router

"""Organisation reports (REP-2..8) and their push settings (REP-5): callback data, input states and
keyboards shared by bot/handlers/orgreport.py and bot/flows/report_settings.py."""
from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from bot.repositories.reports import CONTENTS, SettingsRow
from bot.services import reports as svc

# Member names equal their values: a StrEnum hashes by name, and `F.act.in_({...})` compares by hash.


class ReportAction(StrEnum):
    overview = "overview"
    table = "table"
    trend = "trend"
    export = "export"
    export_range = "export_range"
    activation = "activation"
    inactive = "inactive"
    nudge = "nudge"


class ReportCD(CallbackData, prefix="rp"):
    act: ReportAction
    org: int
    page: int = 0
    arg: str = ""  # table: the order; trend: the days; export_range: days back or "custom"


class SettingsAction(StrEnum):
    show = "show"
    toggle = "toggle"
    time = "time"
    content = "content"
    target = "target"
    days = "days"
    recipients = "recipients"
    pick = "pick"


class SettingsCD(CallbackData, prefix="rs"):
    act: SettingsAction
    org: int
    page: int = 0
    user: int = 0


class ReportInput(StatesGroup):
    export_range = State()


class SettingsInput(StatesGroup):
    send_time = State()
    target = State()
    inactive_days = State()


ORDERS = ("per_capita", "participation")
EXPORT_RANGES = (("1", "range_yesterday"), ("7", "range_7"), ("30", "range_30"), ("90", "range_90"))


def overview_kb(_: Translator, org_id: int, order: str, page: int, count: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    sizes = []
    nav = 0
    if page > 0:
        kb.button(text=_("reports.btn.prev"), callback_data=ReportCD(act=ReportAction.table, org=org_id,
                                                                      page=page - 1, arg=order))
        nav += 1
    if (page + 1) * svc.PAGE < count:
        kb.button(text=_("reports.btn.next"), callback_data=ReportCD(act=ReportAction.table, org=org_id,
                                                                      page=page + 1, arg=order))
        nav += 1
    if nav:
        sizes.append(nav)
    other = "participation" if order == "per_capita" else "per_capita"
    kb.button(text=_(f"reports.btn.by_{other}"), callback_data=ReportCD(act=ReportAction.table, org=org_id,
                                                                        arg=other))
    sizes.append(1)
    for days in svc.TREND_DAYS:
        kb.button(text=_(f"reports.btn.trend{days}"), callback_data=ReportCD(act=ReportAction.trend, org=org_id,
                                                                             arg=str(days)))
    sizes.append(3)
    kb.button(text=_("reports.btn.export"), callback_data=ReportCD(act=ReportAction.export, org=org_id))
    kb.button(text=_("reports.btn.activation"), callback_data=ReportCD(act=ReportAction.activation, org=org_id))
    kb.button(text=_("reports.btn.inactive"), callback_data=ReportCD(act=ReportAction.inactive, org=org_id))
    kb.button(text=_("reports.btn.settings"), callback_data=SettingsCD(act=SettingsAction.show, org=org_id))
    sizes += [2, 2]
    kb.adjust(*sizes)
    return kb.as_markup()


def back_kb(_: Translator, org_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("reports.btn.back"), callback_data=ReportCD(act=ReportAction.overview, org=org_id))
    return kb.as_markup()


def export_kb(_: Translator, org_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for days, key in EXPORT_RANGES:
        kb.button(text=_(f"reports.btn.{key}"), callback_data=ReportCD(act=ReportAction.export_range, org=org_id,
                                                                        arg=days))
    kb.button(text=_("reports.btn.range_custom"), callback_data=ReportCD(act=ReportAction.export_range, org=org_id,
                                                                          arg="custom"))
    kb.adjust(2, 2, 1)
    return kb.as_markup()


def paged_kb(_: Translator, act: ReportAction, org_id: int, page: int, count: int, *, nudge: bool = False
             ) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    nav = 0
    if page > 0:
        kb.button(text=_("reports.btn.prev"), callback_data=ReportCD(act=act, org=org_id, page=page - 1))
        nav += 1
    if (page + 1) * svc.PAGE < count:
        kb.button(text=_("reports.btn.next"), callback_data=ReportCD(act=act, org=org_id, page=page + 1))
        nav += 1
    sizes = [nav] if nav else []
    if nudge and count:
        kb.button(text=_("reports.btn.nudge"), callback_data=ReportCD(act=ReportAction.nudge, org=org_id))
        sizes.append(1)
    kb.button(text=_("reports.btn.back"), callback_data=ReportCD(act=ReportAction.overview, org=org_id))
    sizes.append(1)
    kb.adjust(*sizes)
    return kb.as_markup()


def settings_kb(_: Translator, s: SettingsRow) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    b = "reports.settings.btn."
    kb.button(text=_(b + ("off" if s.enabled else "on")), callback_data=SettingsCD(act=SettingsAction.toggle,
                                                                                   org=s.org_id))
    kb.button(text=_(b + "recipients"), callback_data=SettingsCD(act=SettingsAction.recipients, org=s.org_id))
    kb.button(text=_(b + "time"), callback_data=SettingsCD(act=SettingsAction.time, org=s.org_id))
    kb.button(text=_(b + "content"), callback_data=SettingsCD(act=SettingsAction.content, org=s.org_id))
    kb.button(text=_(b + "target"), callback_data=SettingsCD(act=SettingsAction.target, org=s.org_id))
    kb.button(text=_(b + "days"), callback_data=SettingsCD(act=SettingsAction.days, org=s.org_id))
    kb.adjust(2, 2, 2)
    return kb.as_markup()


def next_content(content: str) -> str:
    return CONTENTS[(CONTENTS.index(content) + 1) % len(CONTENTS)]


def recipients_kb(_: Translator, org_id: int, candidates: Sequence[tuple[int, str]], chosen: Sequence[int],
                  page: int, count: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for user_id, name in candidates:
        mark = "✅ " if user_id in chosen else "▫️ "
        kb.button(text=mark + name, callback_data=SettingsCD(act=SettingsAction.pick, org=org_id, page=page,
                                                             user=user_id))
    sizes = [1] * len(candidates)
    nav = 0
    if page > 0:
        kb.button(text=_("reports.settings.btn.prev"), callback_data=SettingsCD(act=SettingsAction.recipients,
                                                                                org=org_id, page=page - 1))
        nav += 1
    if (page + 1) * svc.PAGE < count:
        kb.button(text=_("reports.settings.btn.next"), callback_data=SettingsCD(act=SettingsAction.recipients,
                                                                                org=org_id, page=page + 1))
        nav += 1
    if nav:
        sizes.append(nav)
    kb.button(text=_("reports.settings.btn.done"), callback_data=SettingsCD(act=SettingsAction.show, org=org_id,
                                                                            page=1))  # 1: edit this message
    sizes.append(1)
    kb.adjust(*sizes)
    return kb.as_markup()

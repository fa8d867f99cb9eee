"""/reportsettings (REP-5, REP-7, REP-8): who receives the daily report, when, with what content; the
daily points target and the days that count as inactive. Every change is saved at once and arms the
recipients' next slots in the same transaction, so it takes effect without a restart. Recipients the
bot cannot reach (they blocked it) are marked."""
from __future__ import annotations

from typing import ClassVar

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.clock import Clock
from bot.errors import DomainError
from bot.i18n import Translator
from bot.reports_notify import settings_text
from bot.services import reports as svc
from bot.services.roles import Actor
from bot.services.text import whole_number
from bot.store import Store
from bot.ui.flow_data import FlowData
from bot.ui.org import OrgPickCD, choose_org
from bot.ui.reports import SettingsAction, SettingsCD, SettingsInput, next_content, recipients_kb, settings_kb

TEXT = F.text & ~F.text.startswith("/")


def _shown(query: CallbackQuery) -> Message:
    """The message that carried the pressed button (too old a message cannot be answered under)."""
    if not isinstance(query.message, Message):
        raise DomainError("stale_button")
    return query.message


class SettingsData(FlowData):
    """The FSM data of a typed setting: which organisation it is for."""

    COMMAND: ClassVar[str] = "/reportsettings"
    org: int


async def show_settings(message: Message, store: Store, actor: Actor, _: Translator, org_id: int,
                        *, edit: bool = False) -> None:
    v = await svc.settings_view(store, actor, org_id)
    text = settings_text(_, v.org, v.settings, v.names, v.unreachable)
    if edit:
        await message.edit_text(text, reply_markup=settings_kb(_, v.settings))
    else:
        await message.answer(text, reply_markup=settings_kb(_, v.settings))


async def settings_cmd(message: Message, store: Store, actor: Actor, _: Translator) -> None:
    org_id = await choose_org(message, actor, store, _, purpose="reportsettings")
    if org_id is not None:
        await show_settings(message, store, actor, _, org_id)


async def org_picked(query: CallbackQuery, callback_data: OrgPickCD, store: Store, actor: Actor,
                     _: Translator) -> None:
    await show_settings(_shown(query), store, actor, _, callback_data.org_id)


async def show_pressed(query: CallbackQuery, callback_data: SettingsCD, store: Store, actor: Actor,
                       _: Translator) -> None:
    # page 1: "Done" under the recipient list, which replaced the settings in this message
    await show_settings(_shown(query), store, actor, _, callback_data.org, edit=callback_data.page == 1)


async def toggle_pressed(query: CallbackQuery, callback_data: SettingsCD, store: Store, clock: Clock, actor: Actor,
                         _: Translator) -> None:
    s = await svc.settings(store, actor, callback_data.org)
    await svc.update_settings(store, clock, actor, s.org_id, enabled=not s.enabled)
    await show_settings(_shown(query), store, actor, _, s.org_id, edit=True)


async def content_pressed(query: CallbackQuery, callback_data: SettingsCD, store: Store, clock: Clock, actor: Actor,
                          _: Translator) -> None:
    s = await svc.settings(store, actor, callback_data.org)
    await svc.update_settings(store, clock, actor, s.org_id, content=next_content(s.content))
    await show_settings(_shown(query), store, actor, _, s.org_id, edit=True)


_ASK = {SettingsAction.time: (SettingsInput.send_time, "ask_time"),
        SettingsAction.target: (SettingsInput.target, "ask_target"),
        SettingsAction.days: (SettingsInput.inactive_days, "ask_days")}


async def ask_pressed(query: CallbackQuery, callback_data: SettingsCD, state: FSMContext, store: Store,
                      actor: Actor, _: Translator) -> None:
    await svc.settings(store, actor, callback_data.org)  # SEC-4 before asking anything
    target_state, key = _ASK[callback_data.act]
    await SettingsData(org=callback_data.org).begin(state, target_state)
    await _shown(query).answer(_(f"reports.settings.{key}"))


def _whole(text: str, error: str) -> int:
    value = whole_number(text)
    if value is None:
        raise DomainError(error)
    return value


async def typed(message: Message, state: FSMContext, store: Store, clock: Clock, actor: Actor,
                _: Translator) -> None:
    """A typed time, target or number of days; bad input raises and the person stays in the state."""
    data = await SettingsData.load(state)
    current = await state.get_state()
    text = message.text or ""
    if current == SettingsInput.send_time.state:
        await svc.update_settings(store, clock, actor, data.org, send_time=svc.parse_send_time(text))
    elif current == SettingsInput.target.state:
        target = _whole(text, "reports.bad_target")
        await svc.update_settings(store, clock, actor, data.org, daily_target=target or None)
    else:
        await svc.update_settings(store, clock, actor, data.org, inactive_days=_whole(text, "reports.bad_days"))
    await state.clear()
    await message.answer(_("reports.settings.saved"))
    await show_settings(message, store, actor, _, data.org)


async def recipients_pressed(query: CallbackQuery, callback_data: SettingsCD, store: Store, actor: Actor,
                             _: Translator) -> None:
    s = await svc.settings(store, actor, callback_data.org)
    count, candidates = await svc.recipient_candidates(store, actor, s.org_id, callback_data.page)
    await _shown(query).edit_text(_("reports.settings.pick_title"),
                                  reply_markup=recipients_kb(_, s.org_id, candidates, s.recipients,
                                                             callback_data.page, count))


async def pick_pressed(query: CallbackQuery, callback_data: SettingsCD, store: Store, clock: Clock, actor: Actor,
                       _: Translator) -> None:
    s = await svc.toggle_recipient(store, clock, actor, callback_data.org, callback_data.user)
    count, candidates = await svc.recipient_candidates(store, actor, s.org_id, callback_data.page)
    await _shown(query).edit_reply_markup(reply_markup=recipients_kb(_, s.org_id, candidates, s.recipients,
                                                                     callback_data.page, count))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(settings_cmd, Command("reportsettings"))
    router.callback_query.register(org_picked, OrgPickCD.filter(F.purpose == "reportsettings"))
    router.callback_query.register(show_pressed, SettingsCD.filter(F.act == SettingsAction.show))
    router.callback_query.register(toggle_pressed, SettingsCD.filter(F.act == SettingsAction.toggle))
    router.callback_query.register(content_pressed, SettingsCD.filter(F.act == SettingsAction.content))
    router.callback_query.register(ask_pressed, SettingsCD.filter(F.act.in_({SettingsAction.time,
                                                                              SettingsAction.target,
                                                                              SettingsAction.days})))
    router.callback_query.register(recipients_pressed, SettingsCD.filter(F.act == SettingsAction.recipients))
    router.callback_query.register(pick_pressed, SettingsCD.filter(F.act == SettingsAction.pick))
    router.message.register(typed, SettingsInput.send_time, TEXT)
    router.message.register(typed, SettingsInput.target, TEXT)
    router.message.register(typed, SettingsInput.inactive_days, TEXT)
    return router

"""REG-1…7: agreement → own phone by the contact button → name → optional organisation name.

The flow's state lives in the store (FSM storage), so a registration interrupted by a restart
is finished where it stopped. A deep-link payload that arrived first is kept and resumed (REG-6).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    CallbackQuery,
    Contact,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import DomainError
from bot.services import invites, registration, users
from bot.services.roles import Actor
from bot.ui.menu import memberships_text, send_main_menu
from bot.ui.registration import Reg, RegAction, RegCD
from bot.ui.workflows import open_payload

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext

    from bot.i18n import Translator
    from bot.middlewares import Ctx


def agreement_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("reg.btn_agree"), callback_data=RegCD(action=RegAction.agree))
    kb.button(text=_.label("reg.btn_decline"), callback_data=RegCD(action=RegAction.decline))
    kb.button(text=_.label("reg.btn_terms"), callback_data=RegCD(action=RegAction.terms))
    kb.button(text=_.label("reg.btn_privacy"), callback_data=RegCD(action=RegAction.privacy))
    kb.adjust(2, 2)
    return kb.as_markup()


def phone_kb(_: Translator) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text=_.label("reg.btn_share_phone"), request_contact=True)]],
                               resize_keyboard=True)


def name_kb(suggestion: str | None) -> ReplyKeyboardMarkup | ReplyKeyboardRemove:
    if not suggestion:
        return ReplyKeyboardRemove()
    return ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text=suggestion)]], resize_keyboard=True,
                               one_time_keyboard=True)


def skip_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("reg.btn_skip"), callback_data=RegCD(action=RegAction.skip_org))
    return kb.as_markup()


def _suggested_name(actor: Actor) -> str | None:
    return registration.suggested_name(actor.user)


async def _invited(state: FSMContext) -> str | None:
    """REG-6: the organisation whose join link started this registration (it needs no org-name step)."""
    return (await state.get_data()).get("invited_org")


def ask_phone(_: Translator, invited: str | None) -> str:
    return _("reg.ask_phone_invited" if invited else "reg.ask_phone")


def ask_name(_: Translator, invited: str | None) -> str:
    return _("reg.ask_name_invited" if invited else "reg.ask_name")


async def show_step(message: Message, state: FSMContext, actor: Actor, _: Translator) -> None:
    """Shows the step the person is at (also after a restart, or a second /start)."""
    current = await state.get_state()
    invited = await _invited(state)
    if current == Reg.phone.state:
        await message.answer(ask_phone(_, invited), reply_markup=phone_kb(_))
    elif current == Reg.name.state:
        await message.answer(ask_name(_, invited), reply_markup=name_kb(_suggested_name(actor)))
    elif current == Reg.org_name.state:
        await message.answer(_("reg.ask_org"), reply_markup=skip_kb(_))
    else:
        await state.set_state(Reg.agreement)
        text = _("reg.agreement")
        if invited:  # REG-6: who invited them, before they agree
            text = _("reg.invited_by", org=invited) + "\n\n" + text
        await message.answer(text, reply_markup=agreement_kb(_))


async def start(message: Message, command: CommandObject, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    actor = ctx.actor
    if command.args:
        payload = command.args[:64]
        org = await invites.invited_org(ctx.store, ctx.clock, ctx.settings.secret_key, payload)
        await state.update_data(payload=payload, invited_org=org.name if org else None)
    if await state.get_state() not in {s.state for s in Reg.__states__}:
        await state.set_state(Reg.agreement)
        await message.answer(_("start.welcome", name=actor.user.display_name))
    await show_step(message, state, actor, _)


async def full_text(query: CallbackQuery, message: Message, callback_data: RegCD, _: Translator) -> None:
    await message.answer(_(f"reg.{callback_data.action}_full"))


async def decline(query: CallbackQuery, message: Message, state: FSMContext, _: Translator) -> None:
    await state.clear()  # REG-1: nothing is kept
    await message.edit_text(_("reg.declined"))


# the steps that finish registration (the name, for a person invited by a link, or the organisation): a
# person still in one may be registered already (killed between the commit and the reply)
FINISHING = frozenset(state for state in (Reg.name.state, Reg.org_name.state) if state)


# Each step moves the state last, after its replies: killed before that, the update handled again at
# start (bot/polling.py) meets the same step and answers again; moved first, it met the next step's
# handlers (the "agree" press a stale button, the name typed taken for the organisation's name).
async def agree(query: CallbackQuery, message: Message, state: FSMContext, _: Translator) -> None:
    await message.edit_text(_("reg.agreed"))
    await message.answer(ask_phone(_, await _invited(state)), reply_markup=phone_kb(_))
    await state.set_state(Reg.phone)


async def got_contact(message: Message, contact: Contact, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    phone = registration.contact_phone(contact.phone_number, contact.user_id, ctx.actor.id)
    await registration.check_phone_free(ctx.store, phone, ctx.actor.id)
    await state.update_data(phone=phone)
    await message.answer(ask_name(_, await _invited(state)), reply_markup=name_kb(_suggested_name(ctx.actor)))
    await state.set_state(Reg.name)


async def typed_phone(message: Message, _: Translator) -> None:
    await message.answer(_("reg.phone_typed"), reply_markup=phone_kb(_))


async def phone_wrong_kind(message: Message, _: Translator) -> None:
    await message.answer(_("reg.phone_wrong_kind"), reply_markup=phone_kb(_))


async def got_name(message: Message, state: FSMContext, ctx: Ctx, _: Translator, **data: Any) -> None:
    name = registration.clean_name(message.text or "")
    await state.update_data(name=name)
    if await _invited(state):  # REG-6: the link names the organisation; no org-name step
        await finish(message, state, ctx, _, None, data)
        return
    await message.answer(_("reg.name_ok", name=name), reply_markup=ReplyKeyboardRemove())
    await message.answer(_("reg.ask_org"), reply_markup=skip_kb(_))
    await state.set_state(Reg.org_name)


async def name_wrong_kind(message: Message, _: Translator) -> None:
    await message.answer(_("reg.name_wrong_kind"))


async def got_org(message: Message, state: FSMContext, ctx: Ctx, _: Translator, **data: Any) -> None:
    org_name = registration.clean_org_name(message.text or "")
    await finish(message, state, ctx, _, org_name, data)


async def skip_org(query: CallbackQuery, message: Message, state: FSMContext, ctx: Ctx, _: Translator,
                   **data: Any) -> None:
    await message.edit_reply_markup(reply_markup=None)
    await finish(message, state, ctx, _, None, data)


async def org_wrong_kind(message: Message, _: Translator) -> None:
    await message.answer(_("reg.org_wrong_kind"), reply_markup=skip_kb(_))


async def stale(query: CallbackQuery) -> None:
    raise DomainError("stale_button")


async def not_registered(message: Message, state: FSMContext, actor: Actor, _: Translator) -> None:
    """Anything else from a visitor: the way to register."""
    if await state.get_state() is None:
        await message.answer(_("errors.register_first"))
    else:
        await show_step(message, state, actor, _)


def build_router() -> Router:
    router = Router(name=__name__)  # visitors only: the composition root sets Registered(False)
    router.message.register(start, CommandStart())
    router.callback_query.register(full_text, RegCD.filter(F.action.in_({RegAction.terms, RegAction.privacy})))

    router.callback_query.register(decline, Reg.agreement, RegCD.filter(F.action == RegAction.decline))
    router.callback_query.register(agree, Reg.agreement, RegCD.filter(F.action == RegAction.agree))

    router.message.register(got_contact, Reg.phone, F.contact.as_("contact"))
    router.message.register(typed_phone, Reg.phone, F.text.regexp(r"^[\s+\d()（）\-]{5,}$"))

    router.message.register(phone_wrong_kind, Reg.phone)
    router.message.register(got_name, Reg.name, F.text)

    router.message.register(name_wrong_kind, Reg.name)
    router.message.register(got_org, Reg.org_name, F.text)

    router.callback_query.register(skip_org, Reg.org_name, RegCD.filter(F.action == RegAction.skip_org))
    router.message.register(org_wrong_kind, Reg.org_name)

    router.callback_query.register(stale, RegCD.filter())
    router.message.register(not_registered)

    return router


async def finish(message: Message, state: FSMContext, ctx: Ctx, _: Translator, org_name: str | None,
                 data: dict[str, Any]) -> None:
    """The last step; `data` is the rest of the handler's data, handed on to a deep link's opener."""
    store, actor = ctx.store, ctx.actor
    flow = await state.get_data()
    if "phone" not in flow or "name" not in flow:  # the flow data was lost: start again from the phone
        await state.set_state(Reg.phone)
        await message.answer(_("reg.ask_phone"), reply_markup=phone_kb(_))
        return
    result = await registration.complete(store, ctx.clock, actor.user, flow["phone"], flow["name"], org_name)
    payload = flow.get("payload")
    user = await users.get_user(store, actor.id)
    if user is None:  # registration.complete has just written the user: a lost row is a bug (logged), not input
        raise RuntimeError(f"user {actor.id} missing right after registration")
    actor = Actor(user=user, is_operator=actor.is_operator)
    if flow.get("invited_org") and not result.memberships:  # REG-6: not "in no organisation yet" before the join
        done = _("reg.done_link", name=result.name)
    else:
        done = _("reg.done", name=result.name, orgs=memberships_text(_, result.memberships))
    await message.answer(done, reply_markup=ReplyKeyboardRemove())
    await state.clear()  # last: killed before, the update handled again still finds this step (FINISHING)
    if payload:  # REG-6: the link that arrived before registration, opened by the registered user
        await open_payload(payload, message, **{**data, "bot": ctx.bot, "store": store, "clock": ctx.clock,
                                                "settings": ctx.settings, "i18n": ctx.i18n, "outbox": ctx.outbox,
                                                "actor": actor, "locale": ctx.locale, "state": state, "_": _,
                                                "menu_after": True})
        if await state.get_state() is not None:  # a choice is open (e.g. the branch): the menu follows it
            return
    await send_main_menu(message, actor, _)

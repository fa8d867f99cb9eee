"""ORG-3…9: /org — the organisation card and its management screens (branches, admins, settings,
rename, dissolve, audit). Every press re-checks the role in the service (SEC-4).

Screens edit the card message in place; the card itself is sent with the organisation's
protect_content setting (SEC-1), which its edits keep.
"""
from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.clock import Clock
from bot.config import Settings
from bot.errors import DomainError
from bot.filters import Registered
from bot.handlers.audit import AuditCD
from bot.handlers.menu import sync_menu
from bot.handlers.orgpick import OrgPickCD, choose_org, org_label
from bot.handlers.question_bank import browse_button
from bot.i18n import I18n, Translator
from bot.middlewares import load_actor
from bot.models import Org
from bot.outbox import Outbox, text_push
from bot.services import orgs
from bot.services.roles import Actor
from bot.store import Store

log = logging.getLogger(__name__)
TEXT = F.text & ~F.text.startswith("/")  # typed input; commands go on to their own handlers


class OrgCD(CallbackData, prefix="og"):
    act: str  # open | card | branches | admins | settings | rename | rename_use | dissolve | dissolve_yes
    org: int


class FlagCD(CallbackData, prefix="of"):
    org: int
    flag: str  # join_approval | protect_content
    on: int


class BranchCD(CallbackData, prefix="ob"):
    act: str  # view | add | rename | delete | delete_yes
    org: int
    br: int = 0  # the branch (view, rename, delete) or the parent 党总支 (add; 0 = top level)
    kind: str = ""  # add: general | branch


class AdminCD(CallbackData, prefix="oa"):
    act: str  # add | rm | rm_yes | ho | ho_pick | ho_yes
    org: int
    user: int = 0


class OrgInput(StatesGroup):
    rename = State()
    rename_long = State()
    branch_name = State()
    branch_rename = State()
    admin_phone = State()


# -- texts and keyboards -----------------------------------------------------------------------

def _kind(_: Translator, kind: str) -> str:
    return _(f"orgmenu.kind_{kind}")


def card_text(_: Translator, card: orgs.OrgCard) -> str:
    org = card.org
    admins = "、".join(_("orgmenu.admin_main", name=a.name) if a.is_main else a.name for a in card.admins)
    upper = _("orgmenu.upper", upper=org_label(_, card.parent)) if card.parent else ""
    return _("orgmenu.card", label=org_label(_, org), kind=_kind(_, org.kind), region=org.region, upper=upper,
             branches=card.branches, members=card.members, activated=card.activated, admins=admins)


def card_kb(_: Translator, card: orgs.OrgCard) -> InlineKeyboardMarkup:
    org_id = card.org.id
    kb = InlineKeyboardBuilder()
    for act in ("branches", "admins", "settings", "rename", "dissolve"):
        kb.button(text=_(f"orgmenu.btn_{act}"), callback_data=OrgCD(act=act, org=org_id))
    browse_button(kb, _, org_id)
    if card.is_main:
        kb.button(text=_("orgmenu.btn_audit"), callback_data=AuditCD(org=org_id))
    kb.adjust(2)
    return kb.as_markup()


def back_button(kb: InlineKeyboardBuilder, _: Translator, org_id: int, act: str = "card") -> None:
    kb.button(text=_("orgmenu.btn_back"), callback_data=OrgCD(act=act, org=org_id))


def branches_view(_: Translator, org: Org, items: list[orgs.BranchInfo]) -> tuple[str, InlineKeyboardMarkup]:
    lines = []
    for b in items:
        indent = "    " if b.parent_id else ""
        lines.append(_("branches.line", indent=indent, name=b.name, kind=_(f"branches.kind_{b.kind}"),
                       members=b.members))
    body = "\n".join(lines) if lines else _("branches.none")
    kb = InlineKeyboardBuilder()
    for b in items:
        kb.button(text=("  └ " if b.parent_id else "") + b.name, callback_data=BranchCD(act="view", org=org.id, br=b.id))
    kb.button(text=_("branches.btn_add_general"), callback_data=BranchCD(act="add", org=org.id, kind="general"))
    kb.button(text=_("branches.btn_add_branch"), callback_data=BranchCD(act="add", org=org.id, kind="branch"))
    back_button(kb, _, org.id)
    kb.adjust(*([1] * len(items)), 2, 1)
    return _("branches.title", org=org_label(_, org), body=body), kb.as_markup()


def branch_view(_: Translator, org_id: int, b: orgs.BranchInfo) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    if b.kind == "general":
        kb.button(text=_("branches.btn_add_child"), callback_data=BranchCD(act="add", org=org_id, br=b.id,
                                                                           kind="branch"))
    kb.button(text=_("branches.btn_rename"), callback_data=BranchCD(act="rename", org=org_id, br=b.id))
    kb.button(text=_("branches.btn_delete"), callback_data=BranchCD(act="delete", org=org_id, br=b.id))
    back_button(kb, _, org_id, "branches")
    kb.adjust(1)
    text = _("branches.view", name=b.name, kind=_(f"branches.kind_{b.kind}"), members=b.members,
             children=_("branches.children", count=b.children) if b.kind == "general" else "")
    return text, kb.as_markup()


def admins_view(_: Translator, org: Org, group: list[orgs.AdminInfo], is_main: bool,
                ) -> tuple[str, InlineKeyboardMarkup]:
    lines = []
    for a in group:
        role = _("admins.role_main") if a.is_main else _("admins.role_admin")
        pending = "" if a.verified else _("admins.unverified")
        lines.append(_("admins.line", name=a.name, phone=a.phone, role=role, pending=pending))
    kb = InlineKeyboardBuilder()
    if is_main:
        kb.button(text=_("admins.btn_add"), callback_data=AdminCD(act="add", org=org.id))
        for a in group:
            if not a.is_main:
                kb.button(text=_("admins.btn_remove", name=a.name), callback_data=AdminCD(act="rm", org=org.id,
                                                                                          user=a.user_id))
        kb.button(text=_("admins.btn_handover"), callback_data=AdminCD(act="ho", org=org.id))
    back_button(kb, _, org.id)
    kb.adjust(1)
    note = "" if is_main else "\n\n" + _("admins.main_only_note")
    return _("admins.title", org=org_label(_, org), body="\n".join(lines)) + note, kb.as_markup()


def settings_view(_: Translator, org: Org) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    for flag in orgs.FLAGS:
        value = getattr(org, flag)
        kb.button(text=_(f"orgmenu.btn_{flag}_{'off' if value else 'on'}"),
                  callback_data=FlagCD(org=org.id, flag=flag, on=0 if value else 1))
    back_button(kb, _, org.id)
    kb.adjust(1)
    state = {flag: _("orgmenu.on") if getattr(org, flag) else _("orgmenu.off") for flag in orgs.FLAGS}
    return _("orgmenu.settings", org=org_label(_, org), **state), kb.as_markup()


def confirm_kb(_: Translator, yes_text: str, yes: CallbackData, no: CallbackData) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=yes_text, callback_data=yes)
    kb.button(text=_("orgmenu.btn_no"), callback_data=no)
    kb.adjust(2)
    return kb.as_markup()


# -- shared entry points -----------------------------------------------------------------------

async def verify_if_pending_admin(message: Message, state: FSMContext, store: Store, actor: Actor,
                                  _: Translator, command: str = "org") -> bool:
    """RNV-1 for admin commands: an admin who has not verified yet is sent to verify first, and
    the command (/org, /members, /template, /export, /import, /invite) resumes afterwards.
    True when that happened (the command should stop)."""
    if actor.admin_org_ids or not await orgs.pending_admin_org_ids(store, actor):
        return False
    from bot.flows.verification import begin

    await begin(message, state, actor, _, after={"action": "become_admin", "command": command})
    return True


async def send_card(message: Message, store: Store, actor: Actor, _: Translator, org_id: int) -> None:
    card = await orgs.org_card(store, actor, org_id)
    await message.answer(card_text(_, card), reply_markup=card_kb(_, card), protect_content=card.org.protect_content)


async def open_org(message: Message, state: FSMContext, store: Store, actor: Actor, _: Translator) -> None:
    if await verify_if_pending_admin(message, state, store, actor, _):
        return
    org_id = await choose_org(message, actor, store, _, purpose="org")
    if org_id is not None:
        await send_card(message, store, actor, _, org_id)


async def resume_become_admin(message: Message, after: dict[str, Any], _: Translator, store: Store,
                              clock: Clock, settings: Settings, bot: Bot, i18n: I18n, locale: str,
                              state: FSMContext, **data: Any) -> None:
    """RNV-1: the new admin verified; their admin role now counts, so the command they sent runs."""
    user = await store.get_user(message.chat.id)
    actor = await load_actor(store, settings, user)
    await sync_menu(bot, store, i18n, actor, locale)
    command = after.get("command", "org")
    if command not in RESUMED_COMMANDS:
        await open_org(message, state, store, actor, _)
        return
    org_id = await choose_org(message, actor, store, _, purpose=command)  # several: the picker continues
    if org_id is not None:
        await _resume_command(command, message, state, store, clock, actor, _, org_id)


RESUMED_COMMANDS = ("members", "template", "export", "import", "invite")


async def _resume_command(command: str, message: Message, state: FSMContext, store: Store, clock: Clock,
                          actor: Actor, _: Translator, org_id: int) -> None:
    from bot.flows.import_members import ask_file
    from bot.handlers import invite, members  # they import this module

    if command == "members":
        await members.send_list(message, store, actor, _, org_id)
    elif command == "template":
        await members.send_template(message, store, actor, _, org_id)
    elif command == "export":
        await members.send_export(message, store, clock, actor, _, org_id)
    elif command == "import":
        await ask_file(message, state, store, actor, _, org_id)
    else:
        text, markup = await invite.first_step(store, actor, _, org_id)
        await message.answer(text, reply_markup=markup)


def _translator_for(i18n: I18n, user: Any) -> Translator:
    return i18n.translator(i18n.pick(user.language, user.tg_language))


# -- the router --------------------------------------------------------------------------------

def build_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(Registered())
    router.callback_query.filter(Registered())

    @router.message(Command("org"))
    async def org_cmd(message: Message, state: FSMContext, store: Store, actor: Actor, _: Translator) -> None:
        await open_org(message, state, store, actor, _)

    @router.callback_query(OrgCD.filter(F.act == "open"))
    async def from_menu(query: CallbackQuery, state: FSMContext, store: Store, actor: Actor, _: Translator) -> None:
        if query.message:
            await open_org(query.message, state, store, actor, _)

    @router.callback_query(OrgPickCD.filter(F.purpose == "org"))
    async def picked(query: CallbackQuery, callback_data: OrgPickCD, store: Store, actor: Actor,
                     _: Translator) -> None:
        if query.message:
            await send_card(query.message, store, actor, _, callback_data.org_id)

    @router.callback_query(OrgCD.filter(F.act == "card"))
    async def card(query: CallbackQuery, callback_data: OrgCD, state: FSMContext, store: Store, actor: Actor,
                   _: Translator) -> None:
        await state.clear()
        data = await orgs.org_card(store, actor, callback_data.org)
        if query.message:
            await query.message.edit_text(card_text(_, data), reply_markup=card_kb(_, data))

    # settings (join approval, SEC-1 protect_content)
    @router.callback_query(OrgCD.filter(F.act == "settings"))
    async def settings(query: CallbackQuery, callback_data: OrgCD, store: Store, actor: Actor,
                       _: Translator) -> None:
        org = await orgs.org_for_admin(store, actor, callback_data.org)
        if query.message:
            text, kb = settings_view(_, org)
            await query.message.edit_text(text, reply_markup=kb)

    @router.callback_query(FlagCD.filter())
    async def toggle(query: CallbackQuery, callback_data: FlagCD, store: Store, clock: Clock, actor: Actor,
                     _: Translator) -> None:
        org = await orgs.set_flag(store, clock, actor, callback_data.org, callback_data.flag, bool(callback_data.on))
        if query.message:
            text, kb = settings_view(_, org)
            await query.message.edit_text(text, reply_markup=kb)

    # rename (ORG-6)
    @router.callback_query(OrgCD.filter(F.act == "rename"))
    async def rename(query: CallbackQuery, callback_data: OrgCD, state: FSMContext, store: Store, actor: Actor,
                     _: Translator) -> None:
        org = await orgs.can_rename(store, actor, callback_data.org)
        await state.set_state(OrgInput.rename)
        await state.set_data({"org": org.id})
        if query.message:
            approval = ""
            if org.certified:  # ORG-6: the new name waits for the upper organisation (a root's: the operator)
                upper = await store.get_org(org.parent_id) if org.parent_id else None
                approval = (_("certify.rename_needs_upper", upper=upper.name) if upper
                            else _("certify.rename_needs_operator")) + "\n\n"
            await query.message.answer(approval + _("orgmenu.ask_rename", name=org.name, kind=_kind(_, org.kind)))

    @router.message(OrgInput.rename, TEXT)
    @router.message(OrgInput.rename_long, TEXT)
    async def got_new_name(message: Message, state: FSMContext, store: Store, clock: Clock, actor: Actor,
                           _: Translator, **deps: Any) -> None:
        org_id = (await state.get_data())["org"]
        checked = await orgs.check_rename(store, actor, org_id, message.text)
        if checked.long:
            await state.update_data(pending=checked.name)
            await state.set_state(OrgInput.rename_long)
            await message.answer(_("neworg.name_long", name=checked.name, length=len(checked.name),
                                   soft=orgs.NAME_SOFT_MAX),
                                 reply_markup=confirm_kb(_, _("neworg.btn_use_long"),
                                                         OrgCD(act="rename_use", org=org_id),
                                                         OrgCD(act="rename", org=org_id)))
            return
        await _renamed(message, state, store, clock, actor, _, org_id, checked.name, **deps)

    @router.callback_query(OrgInput.rename_long, OrgCD.filter(F.act == "rename_use"))
    async def rename_use(query: CallbackQuery, callback_data: OrgCD, state: FSMContext, store: Store,
                         clock: Clock, actor: Actor, _: Translator, **deps: Any) -> None:
        pending = (await state.get_data()).get("pending")
        if not pending or not query.message:
            raise DomainError("stale_button")
        await query.message.edit_reply_markup(reply_markup=None)
        await _renamed(query.message, state, store, clock, actor, _, callback_data.org, pending, **deps)

    # dissolve (ORG-7)
    @router.callback_query(OrgCD.filter(F.act == "dissolve"))
    async def dissolve(query: CallbackQuery, callback_data: OrgCD, store: Store, actor: Actor,
                       _: Translator) -> None:
        preview = await orgs.dissolve_preview(store, actor, callback_data.org)
        if query.message:
            await query.message.edit_text(
                _("orgmenu.dissolve_confirm", org=preview.org.name, members=preview.members),
                reply_markup=confirm_kb(_, _("orgmenu.btn_dissolve_yes"), OrgCD(act="dissolve_yes", org=preview.org.id),
                                        OrgCD(act="card", org=preview.org.id)))

    @router.callback_query(OrgCD.filter(F.act == "dissolve_yes"))
    async def dissolve_yes(query: CallbackQuery, callback_data: OrgCD, bot: Bot, store: Store, clock: Clock,
                           settings: Settings, i18n: I18n, actor: Actor, locale: str, _: Translator) -> None:
        done = await orgs.dissolve_org(store, clock, actor, callback_data.org)
        if query.message:
            await query.message.edit_text(_("orgmenu.dissolved", org=done.org.name, members=done.members))
        await sync_menu(bot, store, i18n, await load_actor(store, settings, actor.user), locale)

    _branch_handlers(router)
    _admin_handlers(router)

    not_command = ~F.text.startswith("/")

    @router.message(OrgInput.rename, not_command)
    @router.message(OrgInput.rename_long, not_command)
    @router.message(OrgInput.branch_name, not_command)
    @router.message(OrgInput.branch_rename, not_command)
    @router.message(OrgInput.admin_phone, not_command)
    async def text_only(message: Message, _: Translator) -> None:
        await message.answer(_("orgmenu.text_only"))

    return router


async def _renamed(message: Message, state: FSMContext, store: Store, clock: Clock, actor: Actor, _: Translator,
                   org_id: int, name: str, *, outbox: Outbox, i18n: I18n, settings: Settings, **_deps: Any) -> None:
    done = await orgs.rename_org(store, clock, actor, org_id, name)
    await state.clear()
    if not isinstance(done, Org):  # ORG-6: a certified organisation's new name is a request
        from bot.handlers.certify import notify_rename_requested

        await message.answer(_("certify.rename_requested", old=done.old_name, new=done.new_name))
        await notify_rename_requested(outbox, store, i18n, settings, done)
        return
    await message.answer(_("orgmenu.renamed", name=done.name))
    await send_card(message, store, actor, _, done.id)


def _branch_handlers(router: Router) -> None:
    """ORG-3: 党总支 / 党支部, one level of nesting; names unique within the organisation."""

    async def show_branches(message: Message, store: Store, actor: Actor, _: Translator, org_id: int,
                            edit: bool) -> None:
        org, items = await orgs.branches(store, actor, org_id)
        text, kb = branches_view(_, org, items)
        if edit:
            await message.edit_text(text, reply_markup=kb)
        else:
            await message.answer(text, reply_markup=kb)

    @router.callback_query(OrgCD.filter(F.act == "branches"))
    async def branches(query: CallbackQuery, callback_data: OrgCD, state: FSMContext, store: Store, actor: Actor,
                       _: Translator) -> None:
        await state.clear()
        if query.message:
            await show_branches(query.message, store, actor, _, callback_data.org, edit=True)

    @router.callback_query(BranchCD.filter(F.act == "view"))
    async def view(query: CallbackQuery, callback_data: BranchCD, store: Store, actor: Actor,
                   _: Translator) -> None:
        b = await orgs.get_branch(store, actor, callback_data.org, callback_data.br)
        if query.message:
            text, kb = branch_view(_, callback_data.org, b)
            await query.message.edit_text(text, reply_markup=kb)

    @router.callback_query(BranchCD.filter(F.act == "add"))
    async def add(query: CallbackQuery, callback_data: BranchCD, state: FSMContext, store: Store, actor: Actor,
                  _: Translator) -> None:
        org, items = await orgs.branches(store, actor, callback_data.org)
        parent = next((b for b in items if b.id == callback_data.br), None) if callback_data.br else None
        if callback_data.br and parent is None:
            raise DomainError("stale_button")
        if parent is not None and (parent.kind != "general" or parent.parent_id is not None):
            raise DomainError("org.branch_nesting")
        await state.set_state(OrgInput.branch_name)
        await state.set_data({"org": org.id, "parent": parent.id if parent else None, "kind": callback_data.kind})
        if query.message:
            where = _("branches.under", parent=parent.name) if parent else _("branches.top_level")
            await query.message.answer(_("branches.ask_name", kind=_(f"branches.kind_{callback_data.kind}"),
                                         where=where, limit=orgs.BRANCH_NAME_MAX))

    @router.message(OrgInput.branch_name, TEXT)
    async def got_name(message: Message, state: FSMContext, store: Store, clock: Clock, actor: Actor,
                       _: Translator) -> None:
        flow = await state.get_data()
        b = await orgs.add_branch(store, clock, actor, flow["org"], flow["kind"], message.text, flow["parent"])
        await state.clear()
        await message.answer(_("branches.added", name=b.name, kind=_(f"branches.kind_{b.kind}")))
        await show_branches(message, store, actor, _, flow["org"], edit=False)

    @router.callback_query(BranchCD.filter(F.act == "rename"))
    async def rename(query: CallbackQuery, callback_data: BranchCD, state: FSMContext, store: Store,
                     actor: Actor, _: Translator) -> None:
        b = await orgs.get_branch(store, actor, callback_data.org, callback_data.br)
        await state.set_state(OrgInput.branch_rename)
        await state.set_data({"org": callback_data.org, "branch": b.id})
        if query.message:
            await query.message.answer(_("branches.ask_rename", name=b.name, limit=orgs.BRANCH_NAME_MAX))

    @router.message(OrgInput.branch_rename, TEXT)
    async def got_rename(message: Message, state: FSMContext, store: Store, clock: Clock, actor: Actor,
                         _: Translator) -> None:
        flow = await state.get_data()
        b = await orgs.rename_branch(store, clock, actor, flow["org"], flow["branch"], message.text)
        await state.clear()
        await message.answer(_("branches.renamed", name=b.name))
        await show_branches(message, store, actor, _, flow["org"], edit=False)

    @router.callback_query(BranchCD.filter(F.act == "delete"))
    async def delete(query: CallbackQuery, callback_data: BranchCD, store: Store, actor: Actor,
                     _: Translator) -> None:
        b = await orgs.get_branch(store, actor, callback_data.org, callback_data.br)
        if query.message:
            children = _("branches.delete_children", count=b.children) if b.children else ""
            await query.message.edit_text(
                _("branches.delete_confirm", name=b.name, members=b.members, children=children),
                reply_markup=confirm_kb(_, _("branches.btn_delete_yes"),
                                        BranchCD(act="delete_yes", org=callback_data.org, br=b.id),
                                        BranchCD(act="view", org=callback_data.org, br=b.id)))

    @router.callback_query(BranchCD.filter(F.act == "delete_yes"))
    async def delete_yes(query: CallbackQuery, callback_data: BranchCD, store: Store, clock: Clock, actor: Actor,
                         _: Translator) -> None:
        b = await orgs.delete_branch(store, clock, actor, callback_data.org, callback_data.br)
        if query.message:
            await query.message.edit_text(_("branches.deleted", name=b.name))
            await show_branches(query.message, store, actor, _, callback_data.org, edit=False)


def _admin_handlers(router: Router) -> None:
    """ORG-4, ORG-5: the main admin adds, removes and hands over; admins only look (FAQ 4)."""

    async def show_admins(message: Message, store: Store, actor: Actor, _: Translator, org_id: int,
                          edit: bool) -> None:
        org, group = await orgs.admins(store, actor, org_id)
        text, kb = admins_view(_, org, group, org_id in actor.main_admin_org_ids)
        if edit:
            await message.edit_text(text, reply_markup=kb)
        else:
            await message.answer(text, reply_markup=kb, protect_content=org.protect_content)

    @router.callback_query(OrgCD.filter(F.act == "admins"))
    async def admins(query: CallbackQuery, callback_data: OrgCD, state: FSMContext, store: Store, actor: Actor,
                     _: Translator) -> None:
        await state.clear()
        if query.message:
            await show_admins(query.message, store, actor, _, callback_data.org, edit=True)

    @router.callback_query(AdminCD.filter(F.act == "add"))
    async def add(query: CallbackQuery, callback_data: AdminCD, state: FSMContext, store: Store, actor: Actor,
                  _: Translator) -> None:
        org = await orgs.require_admin_manager(store, actor, callback_data.org)
        await state.set_state(OrgInput.admin_phone)
        await state.set_data({"org": org.id})
        if query.message:
            await query.message.answer(_("admins.ask_phone", org=org.name))

    @router.message(OrgInput.admin_phone, TEXT)
    async def got_phone(message: Message, state: FSMContext, bot: Bot, store: Store, clock: Clock, i18n: I18n,
                        settings: Settings, outbox: Outbox, actor: Actor, _: Translator) -> None:
        org_id = (await state.get_data())["org"]
        added = await orgs.add_admin(store, clock, actor, org_id, message.text)
        await state.clear()
        user = added.user
        await message.answer(_("admins.added", name=user.display_name, org=added.org.name)
                             + ("" if user.verified else "\n" + _("admins.added_needs_rnv")))
        their = _translator_for(i18n, user)
        await outbox.enqueue(text_push(
            user.id, their("admins.you_were_added", org=added.org.name, by=actor.user.display_name)
            + "\n" + their("admins.you_next_verified" if user.verified else "admins.you_next_verify"),
            dedupe_key=f"admin-added:{org_id}:{user.id}:{message.message_id}"))
        if user.verified:
            try:
                await sync_menu(bot, store, i18n, await load_actor(store, settings, user), their.locale)
            except TelegramAPIError:
                log.info("could not set the menu of user %s", user.id, exc_info=True)
        await show_admins(message, store, actor, _, org_id, edit=False)

    @router.callback_query(AdminCD.filter(F.act == "rm"))
    async def remove(query: CallbackQuery, callback_data: AdminCD, store: Store, actor: Actor,
                     _: Translator) -> None:
        target = await orgs.admin_to_remove(store, actor, callback_data.org, callback_data.user)
        if query.message:
            await query.message.edit_text(
                _("admins.remove_confirm", name=target.name),
                reply_markup=confirm_kb(_, _("admins.btn_remove_yes"),
                                        AdminCD(act="rm_yes", org=callback_data.org, user=target.user_id),
                                        OrgCD(act="admins", org=callback_data.org)))

    @router.callback_query(AdminCD.filter(F.act == "rm_yes"))
    async def remove_yes(query: CallbackQuery, callback_data: AdminCD, store: Store, clock: Clock, actor: Actor,
                         _: Translator) -> None:
        target = await orgs.remove_admin(store, clock, actor, callback_data.org, callback_data.user)
        if query.message:
            await query.message.answer(_("admins.removed", name=target.name))
            await show_admins(query.message, store, actor, _, callback_data.org, edit=True)

    @router.callback_query(AdminCD.filter(F.act == "ho"))
    async def handover(query: CallbackQuery, callback_data: AdminCD, store: Store, actor: Actor,
                       _: Translator) -> None:
        candidates = await orgs.handover_candidates(store, actor, callback_data.org)
        kb = InlineKeyboardBuilder()
        for a in candidates:
            kb.button(text=a.name, callback_data=AdminCD(act="ho_pick", org=callback_data.org, user=a.user_id))
        back_button(kb, _, callback_data.org, "admins")
        kb.adjust(1)
        if query.message:
            await query.message.edit_text(_("admins.handover_choose"), reply_markup=kb.as_markup())

    @router.callback_query(AdminCD.filter(F.act == "ho_pick"))
    async def handover_pick(query: CallbackQuery, callback_data: AdminCD, store: Store, actor: Actor,
                            _: Translator) -> None:
        target = await orgs.handover_target(store, actor, callback_data.org, callback_data.user)
        org = await store.get_org(callback_data.org)
        if query.message:
            await query.message.edit_text(
                _("admins.handover_confirm", name=target.name, org=org.name),
                reply_markup=confirm_kb(_, _("admins.btn_handover_yes"),
                                        AdminCD(act="ho_yes", org=callback_data.org, user=target.user_id),
                                        OrgCD(act="admins", org=callback_data.org)))

    @router.callback_query(AdminCD.filter(F.act == "ho_yes"))
    async def handover_yes(query: CallbackQuery, callback_data: AdminCD, store: Store, clock: Clock,
                           outbox: Outbox, i18n: I18n, actor: Actor, _: Translator) -> None:
        target = await orgs.hand_over(store, clock, actor, callback_data.org, callback_data.user)
        org = await store.get_org(callback_data.org)
        if query.message:
            await query.message.edit_text(_("admins.handed_over", name=target.name, org=org.name))
        user = await store.get_user(target.user_id)
        their = _translator_for(i18n, user)
        await outbox.enqueue(text_push(user.id, their("admins.you_are_main", org=org.name, by=actor.user.display_name),
                                       dedupe_key=f"admin-handover:{org.id}:{user.id}:{query.id}"))

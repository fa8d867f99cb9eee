"""Organisations (ORG): the /org card's callback data and input states, the organisation picker of
admin commands, /neworg's states and buttons, the audit page's callback data."""
from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import NotAllowed
from bot.i18n import Translator
from bot.models import Org
from bot.services import orgs as orgs_svc
from bot.services.roles import Actor
from bot.store import Store
from bot.ui.flow_data import FlowData

# Member names equal their values: a StrEnum hashes by name, and `F.act.in_({...})` compares by hash.


class OrgAction(StrEnum):
    open = "open"
    card = "card"
    branches = "branches"
    admins = "admins"
    settings = "settings"
    rename = "rename"
    rename_use = "rename_use"
    dissolve = "dissolve"
    dissolve_yes = "dissolve_yes"


class OrgCD(CallbackData, prefix="og"):
    act: OrgAction
    org: int


class FlagCD(CallbackData, prefix="of"):
    org: int
    flag: str  # one of services.orgs.FLAGS: join_approval | protect_content
    on: int


class BranchAction(StrEnum):
    view = "view"
    add = "add"
    rename = "rename"
    delete = "delete"
    delete_yes = "delete_yes"


class BranchCD(CallbackData, prefix="ob"):
    act: BranchAction
    org: int
    br: int = 0  # the branch (view, rename, delete) or the parent 党总支 (add; 0 = top level)
    kind: str = ""  # add: general | branch


class AdminAction(StrEnum):
    add = "add"
    rm = "rm"
    rm_yes = "rm_yes"
    ho = "ho"
    ho_pick = "ho_pick"
    ho_yes = "ho_yes"


class AdminCD(CallbackData, prefix="oa"):
    act: AdminAction
    org: int
    user: int = 0


class AuditCD(CallbackData, prefix="au"):
    org: int
    page: int = 0
    before: int = 0  # show entries older than this id
    after: int = 0   # show entries newer than this id


class OrgInput(StatesGroup):
    rename = State()
    rename_long = State()
    branch_name = State()
    branch_rename = State()
    admin_phone = State()


class RenameData(FlowData):
    """OrgInput.rename / rename_long (ORG-6)."""

    COMMAND = "/org"
    org: int
    pending: str | None = None  # a long name waiting for "use it anyway"


class BranchNameData(FlowData):
    """OrgInput.branch_name (ORG-3): a new 党总支 / 党支部."""

    COMMAND = "/org"
    org: int
    parent: int | None
    kind: str


class BranchRenameData(FlowData):
    COMMAND = "/org"
    org: int
    branch: int


class AdminPhoneData(FlowData):
    """OrgInput.admin_phone (ORG-4)."""

    COMMAND = "/org"
    org: int


def back_button(kb: InlineKeyboardBuilder, _: Translator, org_id: int, act: OrgAction = OrgAction.card) -> None:
    kb.button(text=_("orgmenu.btn_back"), callback_data=OrgCD(act=act, org=org_id))


# -- /neworg (ORG-1, ORG-2) ----------------------------------------------------------------------
class NewOrg(StatesGroup):
    kind = State()
    name = State()
    long_name = State()  # a name over 20 characters waits for "use it anyway" / "enter again"
    region = State()
    confirm = State()


class NewOrgDraft(FlowData):
    """/neworg while it is being filled in: kind → name → region."""

    COMMAND = "/neworg"
    kind: str = "party"
    name: str | None = None
    region: str | None = None
    pending: str | None = None  # a long name waiting for "use it anyway"


class NewOrgReady(FlowData):
    """/neworg at its confirmation: everything is there."""

    COMMAND = "/neworg"
    kind: str
    name: str
    region: str


class NewOrgAction(StrEnum):
    kind = "kind"
    use_long = "use_long"
    again = "again"
    create = "create"
    abort = "abort"


class NewOrgCD(CallbackData, prefix="no"):
    action: NewOrgAction
    value: str = ""


# -- the organisation picker of admin commands ---------------------------------------------------
class Purpose(StrEnum):
    """What an admin command does once its organisation is chosen."""

    org = "org"
    members = "members"
    template = "template"
    export = "export"
    import_ = "import"
    invite = "invite"
    certify = "certify"
    audit = "audit"


class OrgPickCD(CallbackData, prefix="op"):
    purpose: str  # a Purpose (kept a plain string: buttons already in chats carry these values)
    org_id: int


def org_label(_: Translator, org: Org) -> str:
    """ORG-9: wherever an organisation is shown, its certified mark is shown."""
    mark = _("org.mark_certified") if org.certified else _("org.mark_uncertified")
    return f"{org.name} {mark}"


def org_pick_kb(_: Translator, orgs: list[Org], purpose: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for org in orgs:
        kb.button(text=org_label(_, org), callback_data=OrgPickCD(purpose=purpose, org_id=org.id))
    kb.adjust(1)
    return kb.as_markup()


async def choose_org(message: Message, actor: Actor, store: Store, _: Translator, purpose: str) -> int | None:
    """The one organisation the actor administers, or None after offering a choice.

    Usage in a handler:
        org_id = await choose_org(message, actor, store, _, purpose="members")
        if org_id is None:
            return  # a choice was offered; the OrgPickCD(purpose="members") callback continues
    and a callback handler for `OrgPickCD.filter(F.purpose == "members")` whose service checks the
    role again (SEC-4: never trust ids in callback data)."""
    if not actor.admin_org_ids:
        raise NotAllowed("not_admin")
    if len(actor.admin_org_ids) == 1:
        return next(iter(actor.admin_org_ids))
    orgs = await orgs_svc.orgs_by_ids(store, actor.admin_org_ids)
    await message.answer(_("orgpick.choose"), reply_markup=org_pick_kb(_, orgs, purpose))
    return None

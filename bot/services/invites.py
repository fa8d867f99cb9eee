"""MEM-6: join links (create, list, revoke) and joining through them (directly or by approval).

A link is `t.me/<bot>?start=j_<token>`; only an HMAC of the token is stored, so a leaked database
does not leak working links. Every admin action checks the actor's role when it runs (SEC-4).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from urllib.parse import parse_qs, urlparse

from bot.clock import Clock
from bot.errors import DomainError, NotAllowed
from bot.models import Org, User
from bot.repositories.invites import InviteRow
from bot.services.roles import Actor
from bot.store import Conflict, Store

PREFIX = "j"
EXPIRY_DAYS = (1, 7, 30)
DEFAULT_EXPIRY_DAYS = 7
USE_LIMITS = (None, 1, 10, 50, 200)  # None: unlimited
ENDED_SHOWN_DAYS = 30  # ended links stay in the list this long after their expiry
ENDED_SHOWN_MAX = 10
# secrets.token_urlsafe(16) gives 22 characters (128 bits); accept a little room either way.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,43}$")

ACTIVE, EXPIRED, REVOKED, USED_UP = "active", "expired", "revoked", "used_up"


@dataclass(frozen=True)
class Branch:
    id: int
    name: str
    parent_name: str | None

    @property
    def label(self) -> str:
        """Nested branches are shown as "总支 / 支部"."""
        return f"{self.parent_name} / {self.name}" if self.parent_name else self.name


@dataclass(frozen=True)
class Invite:
    id: int
    org_id: int
    branch_id: int | None
    branch_name: str | None
    created_by: int
    created_at: str
    expires_at: datetime
    max_uses: int | None
    uses: int
    revoked_at: str | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return REVOKED
        if now >= self.expires_at:
            return EXPIRED
        if self.max_uses is not None and self.uses >= self.max_uses:
            return USED_UP
        return ACTIVE


@dataclass(frozen=True)
class CreatedInvite:
    invite: Invite
    org: Org
    token: str

    @property
    def payload(self) -> str:
        return f"{PREFIX}_{self.token}"


@dataclass(frozen=True)
class InviteList:
    org: Org
    active: list[Invite]
    ended: list[tuple[Invite, str]]  # (invite, status)


@dataclass(frozen=True)
class JoinOffer:
    """What opening a valid link shows: the organisation and, unless fixed, the branches to choose."""

    invite: Invite
    org: Org
    branches: list[Branch]

    @property
    def needs_choice(self) -> bool:
        return self.invite.branch_id is None


@dataclass(frozen=True)
class JoinResult:
    kind: str  # joined | pending | already_member | already_pending
    org: Org
    branch: str | None
    request_id: int | None = None


@dataclass(frozen=True)
class JoinRequest:
    id: int
    org: Org
    branch: str | None
    user_id: int
    user_name: str
    user_phone: str
    user_language: str | None
    user_tg_language: str | None


@dataclass(frozen=True)
class Decision:
    request: JoinRequest
    approved: bool


# -- tokens ------------------------------------------------------------------------------------
def new_token() -> str:
    return secrets.token_urlsafe(16)


def wizard_token(secret: bytes, wizard_key: str) -> str:
    """The token of the link one wizard makes: derived from the wizard (e.g. its message), so a
    last step pressed again, or three times at once, makes the same link, i.e. one (UNIQUE hash)."""
    digest = hmac.new(secret, b"invite-wizard:" + wizard_key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def token_hash(secret: bytes, token: str) -> str:
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()


def parse_join_arg(raw: str | None) -> str:
    """The token from what a person pasted: a t.me link, `j_<token>`, or the bare token."""
    text = (raw or "").strip()
    if "start=" in text:
        url = urlparse(text if "://" in text else "https://" + text)
        text = (parse_qs(url.query).get("start") or [""])[0]
    if text.startswith(f"{PREFIX}_"):
        text = text[len(PREFIX) + 1:]
    if not TOKEN_RE.match(text):
        raise DomainError("join.malformed")
    return text


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _invite(row: InviteRow | None) -> Invite:
    if row is None:
        raise DomainError("invite.not_found")
    return Invite(**{**asdict(row), "expires_at": datetime.fromisoformat(row.expires_at)})


def _phone(user: User) -> str:
    """Joining is for registered users (the join flow asks for registration first)."""
    if user.phone is None:
        raise NotAllowed()
    return user.phone


# -- admins: create, list, revoke ----------------------------------------------------------------
async def _admin_org(store: Store, actor: Actor, org_id: int) -> Org:
    actor.require_admin_of(org_id)
    org = await store.get_org(org_id)
    if org is None:
        raise DomainError("stale_button")
    return org


async def branches(store: Store, org_id: int) -> list[Branch]:
    return [Branch(r.id, r.name, r.parent_name) for r in await store.join_branches(org_id)]


async def wizard_start(store: Store, actor: Actor, org_id: int) -> tuple[Org, list[Branch]]:
    org = await _admin_org(store, actor, org_id)
    return org, await branches(store, org_id)


async def check_branch(store: Store, actor: Actor, org_id: int, branch_id: int | None) -> Org:
    """A wizard step: the actor is still an admin and the branch is the organisation's."""
    org = await _admin_org(store, actor, org_id)
    if branch_id is not None and branch_id not in {b.id for b in await branches(store, org_id)}:
        raise DomainError("invite.bad_branch")
    return org


async def create_invite(store: Store, clock: Clock, secret: bytes, actor: Actor, org_id: int,
                        branch_id: int | None, days: int, max_uses: int | None,
                        wizard_key: str | None = None) -> CreatedInvite:
    """`wizard_key` names the wizard that asks (its message): one wizard makes one link; a repeated
    press is refused with the number of the link it made (invite.already_created)."""
    org = await _admin_org(store, actor, org_id)
    if days not in EXPIRY_DAYS or max_uses not in USE_LIMITS:
        raise DomainError("invite.bad_option")
    now = clock.now()
    token = wizard_token(secret, wizard_key) if wizard_key else new_token()
    hashed = token_hash(secret, token)
    try:
        invite_id = await store.create_invite(org_id, branch_id, hashed, actor.id,
                                              now.isoformat(), _utc(now + timedelta(days=days)), max_uses)
    except Conflict:
        made = await store.invite_by_hash(hashed)
        raise DomainError("invite.already_created", number=made.id if made else 0) from None
    if invite_id is None:
        raise DomainError("invite.bad_branch")
    row = await store.get_invite(invite_id)
    return CreatedInvite(_invite(row), org, token)


async def list_invites(store: Store, clock: Clock, actor: Actor, org_id: int) -> InviteList:
    org = await _admin_org(store, actor, org_id)
    now = clock.now()
    rows = await store.org_invites(org_id, _utc(now - timedelta(days=ENDED_SHOWN_DAYS)))
    invites = [_invite(r) for r in rows]
    active = [i for i in invites if i.status(now) == ACTIVE]
    ended = [(i, i.status(now)) for i in invites if i.status(now) != ACTIVE][:ENDED_SHOWN_MAX]
    return InviteList(org, active, ended)


async def revoke_invite(store: Store, clock: Clock, actor: Actor, invite_id: int) -> Invite:
    row = await store.get_invite(invite_id)
    if row is None:
        raise DomainError("invite.not_found")
    actor.require_admin_of(row.org_id)
    if not await store.revoke_invite(invite_id, actor.id, clock.now().isoformat()):
        raise DomainError("invite.already_revoked", number=invite_id)
    return _invite(await store.get_invite(invite_id))


# -- joining -----------------------------------------------------------------------------------
def _refuse(invite: Invite, now: datetime, tz: tzinfo) -> None:
    status = invite.status(now)
    if status == REVOKED:
        raise DomainError("join.revoked")
    if status == EXPIRED:
        raise DomainError("join.expired", date=invite.expires_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"))
    if status == USED_UP:
        raise DomainError("join.used_up", limit=invite.max_uses)


async def _valid_invite(store: Store, clock: Clock, invite_id: int) -> Invite:
    row = await store.get_invite(invite_id)
    if row is None:
        raise DomainError("join.unknown")
    invite = _invite(row)
    _refuse(invite, clock.now(), clock.tz)
    return invite


async def _already(store: Store, org: Org, user: User) -> JoinResult | None:
    member = await store.membership_in(org.id, _phone(user))
    if member is not None:
        return JoinResult("already_member", org, member.branch_name)
    request_id = await store.pending_join_request(org.id, user.id)
    if request_id is not None:
        return JoinResult("already_pending", org, None, request_id)
    return None


async def open_invite(store: Store, clock: Clock, secret: bytes, user: User, token: str) -> JoinOffer | JoinResult:
    """A link was opened: refusals are DomainErrors; a member is told so; otherwise the offer."""
    if not TOKEN_RE.match(token):
        raise DomainError("join.malformed")
    row = await store.invite_by_hash(token_hash(secret, token))
    if row is None:
        raise DomainError("join.unknown")
    invite = _invite(row)
    _refuse(invite, clock.now(), clock.tz)
    org = await store.get_org(invite.org_id)
    if org is None:
        raise DomainError("join.unknown")
    already = await _already(store, org, user)
    if already is not None:
        return already
    return JoinOffer(invite, org, [] if invite.branch_id is not None else await branches(store, org.id))


async def invited_org(store: Store, clock: Clock, secret: bytes, payload: str) -> Org | None:
    """REG-6: the organisation a deep-link payload invites to, while the link still works (None:
    not a join link, or one that would be refused; the refusal comes after registration)."""
    prefix, _sep, token = payload.partition("_")
    if prefix != PREFIX or not TOKEN_RE.match(token):
        return None
    row = await store.invite_by_hash(token_hash(secret, token))
    if row is None or _invite(row).status(clock.now()) != ACTIVE:
        return None
    return await store.get_org(row.org_id)


async def join(store: Store, clock: Clock, user: User, invite_id: int, branch_id: int | None) -> JoinResult:
    """Joins (or asks to join) with the branch fixed by the link or chosen by the person."""
    invite = await _valid_invite(store, clock, invite_id)
    org = await store.get_org(invite.org_id)
    if org is None:
        raise DomainError("join.unknown")
    options = await branches(store, org.id)
    if invite.branch_id is not None:
        branch_id = invite.branch_id
    elif branch_id is None and options:
        raise DomainError("join.choose_branch")
    elif branch_id is not None and branch_id not in {b.id for b in options}:
        raise DomainError("join.bad_branch")
    branch = next((b.label for b in options if b.id == branch_id), None)
    already = await _already(store, org, user)
    if already is not None:
        return already
    now = clock.now()
    try:
        if org.join_approval:
            request_id = await store.request_join(invite.id, org.id, branch_id, user.id, _phone(user),
                                                  now.isoformat(), _utc(now))
            return JoinResult("pending", org, branch, request_id)
        await store.join_by_invite(invite.id, org.id, branch_id, user.id, user.name or user.display_name,
                                   _phone(user), now.isoformat(), _utc(now))
    except Conflict as exc:
        if exc.what == "invite":  # it ended between the check and the write: say how
            await _valid_invite(store, clock, invite.id)
            raise DomainError("join.used_up", limit=invite.max_uses) from None
        already = await _already(store, org, user)
        if already is not None:
            return already
        raise
    return JoinResult("joined", org, branch)


async def join_request(store: Store, request_id: int) -> JoinRequest:
    row = await store.get_join_request(request_id)
    org = await store.get_org(row.org_id) if row else None
    if row is None or org is None:
        raise DomainError("join.request_gone")
    return JoinRequest(row.id, org, _branch_label(await branches(store, org.id), row.branch_id),
                       row.user_id, row.user_name or "", row.user_phone or "", row.language, row.tg_language)


def _branch_label(options: list[Branch], branch_id: int | None) -> str | None:
    return next((b.label for b in options if b.id == branch_id), None)


async def admins_to_notify(store: Store, org_id: int) -> list[tuple[int, str | None, str | None]]:
    return [(r.id, r.language, r.tg_language) for r in await store.join_admins(org_id)]


async def decide(store: Store, clock: Clock, actor: Actor, request_id: int, approve: bool) -> Decision:
    """An admin's decision; of two admins pressing at once exactly one wins, the other is told."""
    request = await join_request(store, request_id)
    actor.require_admin_of(request.org.id)
    if not await store.decide_join_request(request_id, approve, actor.id, clock.now().isoformat()):
        row = await store.get_join_request(request_id)
        raise DomainError("join.already_approved" if row and row.status == "approved" else "join.already_rejected")
    return Decision(request, approve)

"""CERT-1…7, MEM-8: certification between organisations, transfer (renames: services/renames.py).

The certified tree: a certified organisation has `certified_at` set and either an upper organisation
(`parent_id`) or none (a root, certified by the operator, CERT-7). An uncertified organisation has no
upper one and, since un-certifying goes bottom-up only (CERT-6), no lower ones either. The closure
table `org_tree` mirrors `parent_id`; the store changes both in the transaction of the decision.

A transfer (MEM-8, FAQ 20) is un-certify, then apply under the new upper organisation: the
organisation keeps its id, so its members, branches and everyone's points stay as they are.

Every function that changes something takes the actor and checks their role at that moment (SEC-4).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.errors import DomainError, NotAllowed
from bot.models import Org, User
from bot.render.phone import InvalidPhone, normalize_phone
from bot.repositories.certification import CertApplicationRow, CertInviteRow, SubtreeOrg
from bot.services import rate_limits, renames
from bot.services.cert_common import REASON_MAX as REASON_MAX  # the flows show the limit
from bot.services.cert_common import clean_text
from bot.services.cert_common import existing_org as _org
from bot.services.cert_common import now_iso as _now
from bot.services.cert_common import utc_iso as _utc
from bot.services.invites import TOKEN_RE, new_token, token_hash
from bot.services.renames import RenameRequest
from bot.services.roles import Actor
from bot.services.text import clean_text as squash
from bot.services.text import whole_number
from bot.store import Conflict, Store

PREFIX = "c"
EXPIRY_DAYS = 7
NOTE_MAX = 200
ROOTS_SHOWN = 10
TREE_SHOWN = 60

# Store conflicts and the refusals they become (errors.cert.*).
_CONFLICTS = {"gone": "cert.gone", "upper_uncertified": "cert.upper_uncertified", "has_upper": "cert.has_upper",
              "cycle": "cert.cycle", "name_taken": "cert.name_taken", "pending": "cert.already_applied",
              "has_lower": "cert.has_lower", "not_certified": "cert.not_certified", "certified": "cert.already_root",
              "uncertified": "cert.cannot_invite"}


@dataclass(frozen=True)
class CertInvite:
    id: int
    org_id: int
    addressee_id: int | None
    note: str | None
    created_by: int
    created_at: str
    expires_at: datetime
    revoked_at: str | None


@dataclass(frozen=True)
class CreatedCertInvite:
    invite: CertInvite
    org: Org
    token: str
    addressee: User | None

    @property
    def payload(self) -> str:
        return f"{PREFIX}_{self.token}"


@dataclass(frozen=True)
class Candidate:
    """One of the opener's organisations: it may apply, or `why` (a locale key) says why not."""
    org: Org
    why: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CertOffer:
    invite: CertInvite
    upper: Org
    inviter: str
    candidates: list[Candidate]

    @property
    def eligible(self) -> list[Org]:
        return [c.org for c in self.candidates if c.why is None]


@dataclass(frozen=True)
class Application:
    id: int
    upper: Org
    lower: Org
    applicant_id: int
    applicant_name: str
    applicant_phone: str
    status: str
    reason: str | None
    decider_name: str | None
    decided_by: int | None = None


@dataclass(frozen=True)
class Panel:
    org: Org
    upper: Org | None
    lower: list[Org]
    pending: Application | None
    received: int
    subtree: int  # organisations in the subtree, itself included


@dataclass(frozen=True)
class TreeNode:
    id: int
    name: str
    depth: int
    certified: bool
    members: int


@dataclass(frozen=True)
class Tree:
    org: Org
    nodes: list[TreeNode]
    total: int
    members: int


@dataclass(frozen=True)
class Uncertified:
    org: Org
    upper: Org | None


@dataclass(frozen=True)
class Inbox:
    received: list[Application]
    sent: list[Application]
    renames: list[RenameRequest]


@dataclass(frozen=True)
class RootSearch:
    candidates: list[Org]
    roots: list[Org]


# -- helpers ---------------------------------------------------------------------------------
def _refusal(exc: Conflict, **params: Any) -> DomainError:
    """Every refusal text may name the organisation, the upper one and the lower ones."""
    return DomainError(_CONFLICTS.get(exc.what, "cert.gone"), **{"org": "", "upper": "", "count": 0, "names": "",
                                                                 **params})


async def _admin_org(store: Store, actor: Actor, org_id: int) -> Org:
    actor.require_admin_of(org_id)
    return await _org(store, org_id)


# -- the panel and the tree ------------------------------------------------------------------
async def panel(store: Store, actor: Actor, org_id: int) -> Panel:
    org = await _admin_org(store, actor, org_id)
    upper = await store.get_org(org.parent_id) if org.parent_id else None
    pending = await store.pending_cert_application(org_id)
    received = await store.cert_applications_received([org_id])
    return Panel(org, upper, await store.lower_orgs(org_id), await _application(store, pending) if pending else None,
                 len(received), await store.subtree_size(org_id))


async def tree(store: Store, actor: Actor, org_id: int) -> Tree:
    """The organisation and everything certified under it, depth first (REP: "the organisation")."""
    if not actor.is_operator:
        actor.require_admin_of(org_id)
    org = await _org(store, org_id)
    rows = await store.subtree_rows(org_id, limit=TREE_SHOWN * 20)
    children: dict[int | None, list[SubtreeOrg]] = {}
    for r in rows:
        children.setdefault(r.parent_id, []).append(r)
    nodes: list[TreeNode] = []
    stack = [(next(r for r in rows if r.id == org_id), 0)]
    while stack and len(nodes) < TREE_SHOWN:
        row, depth = stack.pop()
        nodes.append(TreeNode(row.id, row.name, depth, row.certified_at is not None, row.members))
        stack.extend((c, depth + 1) for c in reversed(children.get(row.id, [])))
    return Tree(org, nodes, await store.subtree_size(org_id), await store.subtree_member_count(org_id))


# -- invitations (CERT-1) --------------------------------------------------------------------
async def require_inviter(store: Store, actor: Actor, org_id: int) -> Org:
    """Only an admin of a certified organisation invites (uncertified ones cannot, manual 2.4.2)."""
    org = await _admin_org(store, actor, org_id)
    if not org.certified:
        raise DomainError("cert.cannot_invite", org=org.name)
    return org


async def addressee_by_phone(store: Store, actor: Actor, org_id: int, raw_phone: str | None) -> User:
    await require_inviter(store, actor, org_id)
    try:
        phone = normalize_phone(raw_phone or "")
    except InvalidPhone:
        raise DomainError("cert.phone_invalid") from None
    user_id = await store.user_id_by_phone(phone)
    user = await store.get_user(user_id) if user_id is not None else None
    if user is None or not user.registered:
        raise DomainError("cert.phone_not_registered", phone=phone)
    return user


async def create_invite(store: Store, clock: Clock, secret: bytes, actor: Actor, org_id: int,
                        addressee_id: int | None = None, note: str | None = None) -> CreatedCertInvite:
    org = await require_inviter(store, actor, org_id)
    addressee = await store.get_user(addressee_id) if addressee_id is not None else None
    if addressee_id is not None and addressee is None:
        raise DomainError("cert.gone")
    if note is not None:
        note = clean_text(note, NOTE_MAX, "note")
    now = clock.now()
    token = new_token()
    try:
        invite_id = await store.create_cert_invite(org_id, token_hash(secret, token), addressee_id, note, actor.id,
                                                   now.isoformat(), _utc(now + timedelta(days=EXPIRY_DAYS)))
    except Conflict as exc:
        raise _refusal(exc, org=org.name) from None
    return CreatedCertInvite(_invite(await store.get_cert_invite(invite_id)), org, token, addressee)


def _invite(row: CertInviteRow | None) -> CertInvite:
    if row is None:
        raise DomainError("cert.invite_unknown")
    return CertInvite(**{**asdict(row), "expires_at": datetime.fromisoformat(row.expires_at)})


# -- opening an invitation and applying (CERT-2, CERT-4, CERT-5) -----------------------------
async def _valid_invite(store: Store, clock: Clock, actor: Actor, row: CertInviteRow | None) -> CertInvite:
    invite = _invite(row)
    if invite.revoked_at is not None:
        raise DomainError("cert.invite_revoked")
    if clock.now() >= invite.expires_at:
        raise DomainError("cert.invite_expired",
                          date=invite.expires_at.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M"))
    if invite.addressee_id is not None and invite.addressee_id != actor.id:
        raise DomainError("cert.invite_not_for_you")
    return invite


async def _candidate(store: Store, org: Org, upper: Org) -> Candidate:
    if org.id == upper.id:
        return Candidate(org, "self")
    if org.parent_id == upper.id:
        return Candidate(org, "already_under")
    if org.parent_id is not None:
        return Candidate(org, "has_upper", {"upper": (await _org(store, org.parent_id)).name})
    if await store.is_under(upper.id, org.id):
        return Candidate(org, "cycle")
    pending = await store.pending_cert_application(org.id)
    if pending is not None:
        return Candidate(org, "pending", {"upper": (await _org(store, pending.upper_id)).name})
    return Candidate(org)


async def _offer(store: Store, actor: Actor, invite: CertInvite) -> CertOffer:
    upper = await store.get_org(invite.org_id)
    if upper is None:
        raise DomainError("cert.invite_unknown")
    if not upper.certified:
        raise DomainError("cert.upper_uncertified")
    if not actor.admin_org_ids:
        raise DomainError("cert.no_org_to_apply", upper=upper.name)
    candidates = [await _candidate(store, org, upper) for org in await store.orgs_by_ids(actor.admin_org_ids)]
    inviter = (await store.user_names([invite.created_by])).get(invite.created_by, "")
    return CertOffer(invite, upper, inviter, candidates)


async def open_invite(store: Store, clock: Clock, secret: bytes, actor: Actor, token: str) -> CertOffer:
    if not TOKEN_RE.match(token):
        raise DomainError("cert.invite_malformed")
    row = await store.cert_invite_by_hash(token_hash(secret, token))
    return await _offer(store, actor, await _valid_invite(store, clock, actor, row))


async def apply(store: Store, clock: Clock, actor: Actor, invite_id: int, org_id: int) -> Application:
    """The opener's organisation applies under the inviting one; every rule is checked again."""
    offer = await _offer(store, actor, await _valid_invite(store, clock, actor, await store.get_cert_invite(invite_id)))
    candidate = next((c for c in offer.candidates if c.org.id == org_id), None)
    if candidate is None:
        raise NotAllowed()
    if candidate.why is not None:
        raise DomainError(f"cert.why_{candidate.why}", **{"org": candidate.org.name, "upper": offer.upper.name,
                                                          **candidate.params})
    await rate_limits.check(store, clock, actor, rate_limits.CERT_APPLICATION)
    try:
        app_id = await store.apply_for_certification(invite_id, offer.upper.id, org_id, actor.id, _now(clock))
    except Conflict as exc:
        raise _refusal(exc, org=candidate.org.name, upper=offer.upper.name) from None
    return await application(store, app_id)


# -- applications: list, decide, withdraw (CERT-3) -------------------------------------------
async def _application(store: Store, row: CertApplicationRow) -> Application:
    return Application(row.id, await _org(store, row.upper_id), await _org(store, row.lower_id), row.applicant_id,
                       row.applicant_name or "", row.applicant_phone or "", row.status, row.reason, row.decider_name,
                       row.decided_by)


async def application(store: Store, app_id: int) -> Application:
    row = await store.get_cert_application(app_id)
    if row is None:
        raise DomainError("cert.application_gone")
    return await _application(store, row)


def _already(app: Application) -> DomainError:
    return DomainError(f"cert.already_{app.status}", org=app.lower.name, by=app.decider_name or "—")


async def pending_for_upper(store: Store, actor: Actor, app_id: int) -> Application:
    """The application, while it waits and the actor administers the upper organisation."""
    app = await application(store, app_id)
    actor.require_admin_of(app.upper.id)
    if app.status != "pending":
        raise _already(app)
    return app


def _decided_so_by(app: Application, actor: Actor, approve: bool) -> bool:
    return app.decided_by == actor.id and app.status == ("approved" if approve else "rejected")


async def decide(store: Store, clock: Clock, actor: Actor, app_id: int, approve: bool,
                 reason: str | None = None) -> Application:
    """Of two admins deciding at once exactly one wins; the other is told who decided. The same decision
    by the one who made it is returned as made (idempotent): a press handled again after the bot was
    killed between the decision's commit and its notices goes on to the notices (deduplicated by key)
    instead of stopping at "already decided", which left the lower organisation never told."""
    app = await application(store, app_id)
    actor.require_admin_of(app.upper.id)
    if _decided_so_by(app, actor, approve):
        return app
    app = await pending_for_upper(store, actor, app_id)
    if not approve:
        reason = clean_text(reason, REASON_MAX, "reason")
    try:
        done = await store.decide_cert_application(app_id, approve, actor.id, reason, _now(clock))
    except Conflict as exc:
        raise _refusal(exc, org=app.lower.name, upper=app.upper.name) from None
    decided = await application(store, app_id)
    if not done and not _decided_so_by(decided, actor, approve):
        raise _already(decided)
    return decided


async def withdraw(store: Store, clock: Clock, actor: Actor, app_id: int) -> Application:
    app = await application(store, app_id)
    actor.require_admin_of(app.lower.id)
    if not await store.withdraw_cert_application(app_id, actor.id, _now(clock)):
        raise _already(await application(store, app_id))
    return await application(store, app_id)


async def inbox(store: Store, actor: Actor) -> Inbox:
    """What waits for the actor: applications to their organisations, their own applications, and
    rename requests they decide (the operator decides those of roots)."""
    received = [await _application(store, r) for r in await store.cert_applications_received(actor.admin_org_ids)]
    sent = [await _application(store, r) for r in await store.cert_applications_sent(actor.admin_org_ids)]
    waiting = [await renames.from_row(store, r) for r in
               await store.rename_requests_received(actor.admin_org_ids, roots=actor.is_operator)]
    return Inbox(received, sent, waiting)


# -- un-certify (CERT-6), transfer (MEM-8) ---------------------------------------------------
async def uncertify_preview(store: Store, actor: Actor, org_id: int) -> Uncertified:
    """Either side's admins (a root: the operator); bottom-up only."""
    org = await _org(store, org_id)
    # The role first: a forged press learns nothing about another organisation (its name, its state).
    if org.parent_id is None:
        if not actor.is_operator:
            raise NotAllowed("cert.root_operator_only" if org_id in actor.admin_org_ids else "not_allowed")
    elif org_id not in actor.admin_org_ids and org.parent_id not in actor.admin_org_ids:
        raise NotAllowed()
    if not org.certified:
        raise DomainError("cert.not_certified", org=org.name)
    lower = await store.lower_orgs(org_id)
    if lower:
        raise DomainError("cert.has_lower", org=org.name, count=len(lower), names="、".join(o.name for o in lower[:5]))
    return Uncertified(org, await store.get_org(org.parent_id) if org.parent_id else None)


async def uncertify(store: Store, clock: Clock, actor: Actor, org_id: int) -> Uncertified:
    preview = await uncertify_preview(store, actor, org_id)
    try:
        await store.uncertify_org(org_id, actor.id, _now(clock))
    except Conflict as exc:
        raise _refusal(exc, org=preview.org.name, count=1, names="") from None
    return Uncertified(await _org(store, org_id), preview.upper)


# -- the operator: roots (CERT-7) ------------------------------------------------------------
async def root_search(store: Store, actor: Actor, query: str | None = None) -> RootSearch:
    """Uncertified organisations without an upper one (by name part, or `#id` / a number), and the
    certified roots."""
    actor.require_operator()
    text = squash(query or "")
    digits = text.lstrip("#")
    org_id = whole_number(digits, 18)
    candidates = await store.root_candidates(None if org_id else text, org_id, ROOTS_SHOWN)
    return RootSearch(candidates, await store.certified_roots(ROOTS_SHOWN * 2))


async def certify_root(store: Store, clock: Clock, actor: Actor, org_id: int) -> Org:
    actor.require_operator()
    org = await _org(store, org_id)
    try:
        await store.certify_root(org_id, actor.id, _now(clock))
    except Conflict as exc:
        params: dict[str, Any] = {"org": org.name, "upper": ""}
        if exc.what == "pending":
            pending = await store.pending_cert_application(org_id)
            params["upper"] = (await _org(store, pending.upper_id)).name if pending else ""
            raise DomainError("cert.root_pending", **params) from None
        raise _refusal(exc, **params) from None
    return await _org(store, org_id)


# -- who is told -----------------------------------------------------------------------------
async def recipients(store: Store, org_id: int | None, operator_ids: frozenset[int] = frozenset()
                     ) -> list[tuple[int, str | None, str | None]]:
    """The organisation's admin group, or the operators when org_id is None (roots)."""
    rows = (await store.cert_recipients(org_id) if org_id is not None
            else await store.user_languages(operator_ids))
    return [(r.id, r.language, r.tg_language) for r in rows]

"""Manuscripts (WORK-3, notice 004 duty 4): correspondents (a member flag an admin sets) submit a title,
text, attachments and a column to their organisation; its admins reject with a reason, forward it to
the upper (certified) organisation, or accept it as final; forwarding repeats level by level (county
→ city → province). Every step is a row of the manuscript's timeline, which the author is shown."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.clock import Clock
from bot.errors import DomainError, NotAllowed
from bot.repositories.manuscripts import Attachment, CorrespondentOrg, ManuscriptCounts, ManuscriptRow, Step
from bot.repositories.members import MemberRow
from bot.services import rate_limits
from bot.services.roles import Actor
from bot.services.text import clean_lines, clean_text, fitted, typed_html
from bot.store import Store

MAX_TITLE = 60
MAX_BODY = 3000
MAX_COLUMN = 20
MAX_FILES = 10
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # Telegram lets a bot download files up to 20 MB
REJECT, FORWARD, ACCEPT = "rejected", "forwarded", "accepted"


@dataclass(frozen=True, slots=True)
class Manuscript:
    row: ManuscriptRow
    files: list[Attachment]
    steps: list[Step]


@dataclass(frozen=True, slots=True)
class Submitted:
    manuscript: Manuscript
    admins: list[tuple[int, str | None]]  # (user id, language) of the organisation's admins, told of it


@dataclass(frozen=True, slots=True)
class Decision:
    manuscript: Manuscript
    action: str
    author_language: str | None
    upper_admins: list[tuple[int, str | None]]  # (user id, language) told of a forwarded manuscript


def clean_title(raw: str | None) -> str:
    return fitted(clean_text(raw), MAX_TITLE, "manuscript.empty_title", "manuscript.title_too_long")


def clean_body(raw_html: str | None) -> str:
    """The body as HTML made from the correspondent's message and its entities (`Message.html_text`),
    cleaned; shown as it is."""
    body, length = typed_html(raw_html)
    return fitted(body, MAX_BODY, "manuscript.empty_body", "manuscript.body_too_long", length=length)


def clean_column(raw: str | None) -> str:
    return fitted(clean_text(raw), MAX_COLUMN, "manuscript.empty_column", "manuscript.column_too_long")


def check_attachment(kind: str, file_id: str, file_name: str | None, file_size: int | None,
                     already: int) -> Attachment:
    """A photo or document within Telegram's 20 MB download limit, at most MAX_FILES of them, not empty
    (what it holds is checked once downloaded: attachments.check_content)."""
    if already >= MAX_FILES:
        raise DomainError("manuscript.too_many_files", limit=MAX_FILES)
    if file_size == 0:
        raise DomainError("file.empty")
    if file_size is not None and file_size > DOWNLOAD_LIMIT:
        raise DomainError("manuscript.file_too_big", limit_mb=DOWNLOAD_LIMIT // (1024 * 1024),
                          size_mb=f"{file_size / (1024 * 1024):.1f}")
    return Attachment(kind, file_id, file_name, file_size)


async def _member_of_admins_org(store: Store, actor: Actor, member_id: int) -> MemberRow:
    member = await store.get_member(member_id)
    if member is None:
        raise DomainError("stale_button")
    actor.require_admin_of(member.org_id)
    return member


async def is_correspondent(store: Store, actor: Actor, member_id: int) -> bool:
    await _member_of_admins_org(store, actor, member_id)
    return await store.is_correspondent_member(member_id)


async def set_correspondent(store: Store, clock: Clock, actor: Actor, member_id: int, value: bool) -> bool:
    member = await _member_of_admins_org(store, actor, member_id)
    if not await store.set_correspondent(member_id, member.org_id, value, actor.id,
                                         clock.now().isoformat()):
        raise DomainError("stale_button")
    return value


async def submit_orgs(store: Store, actor: Actor) -> list[CorrespondentOrg]:
    """The organisations the actor may submit to: where they are listed as a correspondent."""
    actor.require_registered()
    found = await store.correspondent_orgs(actor.user.phone or "")
    if not found:
        raise NotAllowed("manuscript.not_correspondent")
    return found


async def submit(store: Store, clock: Clock, actor: Actor, org_id: int, title: str, body: str, column: str,
                 files: Sequence[Attachment]) -> Submitted:
    if org_id not in {o.org_id for o in await submit_orgs(store, actor)}:
        raise NotAllowed("manuscript.not_correspondent")
    if len(files) > MAX_FILES:
        raise DomainError("manuscript.too_many_files", limit=MAX_FILES)
    await rate_limits.check(store, clock, actor, rate_limits.MANUSCRIPT)
    ms_id = await store.submit_manuscript(actor.id, org_id, clean_title(title), clean_body(body),
                                          clean_column(column), list(files), clock.now().isoformat())
    return Submitted(await _load(store, ms_id), await store.org_admin_ids(org_id))


async def _load(store: Store, ms_id: int) -> Manuscript:
    row = await store.get_manuscript(ms_id)
    if row is None:
        raise DomainError("manuscript.gone")
    return Manuscript(row, await store.manuscript_files(ms_id), await store.manuscript_steps(ms_id))


async def incoming(store: Store, actor: Actor) -> list[ManuscriptRow]:
    if not actor.admin_org_ids:
        raise NotAllowed("not_admin")
    return await store.incoming_manuscripts(actor.admin_org_ids)


async def for_reviewer(store: Store, actor: Actor, ms_id: int) -> Manuscript:
    """A manuscript as the admins of the organisation it sits at see it."""
    ms = await _load(store, ms_id)
    actor.require_admin_of(ms.row.org_id)
    return ms


async def for_author(store: Store, actor: Actor, ms_id: int) -> Manuscript:
    ms = await _load(store, ms_id)
    if ms.row.author_id != actor.id:
        raise NotAllowed()
    return ms


async def mine(store: Store, actor: Actor) -> list[ManuscriptRow]:
    actor.require_registered()
    return await store.my_manuscripts(actor.id)


async def _decide(store: Store, clock: Clock, actor: Actor, ms_id: int, action: str, reason: str | None,
                  to_org_id: int | None) -> Decision:
    ms = await for_reviewer(store, actor, ms_id)
    if ms.row.status != "pending":
        raise DomainError("manuscript.decided")
    if not await store.decide_manuscript(ms_id, ms.row.org_id, action, actor.id, reason, to_org_id,
                                         clock.now().isoformat()):
        raise DomainError("manuscript.decided")
    author = await store.get_user(ms.row.author_id)
    upper = await store.org_admin_ids(to_org_id) if to_org_id is not None else []
    return Decision(await _load(store, ms_id), action, author.language or author.tg_language if author else None,
                    upper)


async def reject(store: Store, clock: Clock, actor: Actor, ms_id: int, raw_reason: str) -> Decision:
    reason = fitted(clean_lines(raw_reason), 200, "manuscript.reason_required", "manuscript.reason_too_long")
    return await _decide(store, clock, actor, ms_id, REJECT, reason, None)


async def forward_target(store: Store, actor: Actor, ms_id: int) -> int:
    """The upper organisation: only a certified organisation with one forwards."""
    ms = await for_reviewer(store, actor, ms_id)
    org = await store.get_org(ms.row.org_id)
    if org is None or not org.certified:
        raise DomainError("manuscript.forward_uncertified")
    if org.parent_id is None:
        raise DomainError("manuscript.no_upper")
    return org.parent_id


async def forward(store: Store, clock: Clock, actor: Actor, ms_id: int) -> Decision:
    upper = await forward_target(store, actor, ms_id)
    return await _decide(store, clock, actor, ms_id, FORWARD, None, upper)


async def accept(store: Store, clock: Clock, actor: Actor, ms_id: int) -> Decision:
    return await _decide(store, clock, actor, ms_id, ACCEPT, None, None)


async def counts(store: Store, actor: Actor, org_id: int) -> ManuscriptCounts:
    """Per-organisation figures for the reports: submitted to it, forwarded up and accepted by it."""
    actor.require_admin_of(org_id)
    return await store.manuscript_counts(org_id)

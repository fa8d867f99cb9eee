"""Messages pushed to other people (DESIGN "Pushes"): each built in the recipient's language and
handed to the outbox. Handlers and flows call these right after their action, inside the same
`atomic()` block (bot/services/transactions.py), so the action and its pushes commit together; this
module imports neither, nor bot/ui: a push that carries buttons gets its keyboard builder from the
caller."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiogram.types import InlineKeyboardMarkup

from bot.i18n import I18n, Translator
from bot.outbox import Outbox, text_push
from bot.services import certification as cert
from bot.services import invites, orgs, users

if TYPE_CHECKING:
    from bot.models import Org, User
    from bot.services.certification import Application, CreatedCertInvite
    from bot.services.invites import Decision, JoinResult
    from bot.services.renames import RenameRequest
    from bot.services.roles import Actor
    from bot.store import Store

Render = Callable[[Translator], tuple[str, InlineKeyboardMarkup | None]]
Keyboard = Callable[[Translator, int], InlineKeyboardMarkup]  # (translator, id) -> the push's buttons
People = Iterable[tuple[int, str | None, str | None]]  # (user id, language, Telegram's language)


def translator_for(i18n: I18n, user: Any) -> Translator:
    return i18n.translator(i18n.pick(user.language, user.tg_language))


async def push_all(outbox: Outbox, i18n: I18n, people: People, render: Render, key: str,
                   exclude: Iterable[int] = ()) -> None:
    """One push per person (each once, in their language), deduplicated by `key`."""
    skip, seen, pushes = set(exclude), set(), []
    for user_id, language, tg_language in people:
        if user_id in skip or user_id in seen:
            continue
        seen.add(user_id)
        text, markup = render(i18n.translator(i18n.pick(language, tg_language)))
        pushes.append(text_push(user_id, text, reply_markup=markup, dedupe_key=f"{key}:{user_id}"))
    if pushes:
        await outbox.enqueue(*pushes)


# -- certification (CERT-1, 3, 6, 7) and renames (ORG-6) ----------------------------------------
def org_label(_: Translator, org: Org) -> str:
    mark = _("org.mark_certified") if org.certified else _("org.mark_uncertified")
    return f"{org.name} {mark}"


def app_text(_: Translator, app: Application) -> str:
    return _("certify.app_line", id=app.id, lower=org_label(_, app.lower), region=app.lower.region,
             upper=app.upper.name, name=app.applicant_name, phone=app.applicant_phone)


def rename_text(_: Translator, req: RenameRequest) -> str:
    return _("certify.rename_line", id=req.id, old=req.old_name, new=req.new_name, name=req.requester_name)


async def application(outbox: Outbox, store: Store, i18n: I18n, app: Application, kb: Keyboard) -> None:
    """CERT-3: the upper organisation's admins get the application with Approve / Reject."""
    await push_all(outbox, i18n, await cert.recipients(store, app.upper.id),
                   lambda t: (t("certify.app_received") + "\n" + app_text(t, app), kb(t, app.id)),
                   f"cert-app:{app.id}")


async def decision(outbox: Outbox, store: Store, i18n: I18n, app: Application, actor: Actor) -> None:
    """Both sides are told: the lower organisation's admins (and the applicant), the other upper admins."""
    def lower(t: Translator) -> tuple[str, None]:
        if app.status == "approved":
            return t("certify.approved_notice", lower=app.lower.name, upper=app.upper.name), None
        return t("certify.rejected_notice", lower=app.lower.name, upper=app.upper.name, reason=app.reason or ""), None

    def upper(t: Translator) -> tuple[str, None]:
        return t(f"certify.decided_notice_{app.status}", by=actor.user.display_name, lower=app.lower.name,
                 reason=app.reason or ""), None

    people = await cert.recipients(store, app.lower.id)
    people += await users.languages(store, [app.applicant_id])
    lower_ids = {p[0] for p in people}
    await push_all(outbox, i18n, people, lower, f"cert-decided:{app.id}", exclude=[actor.id])
    await push_all(outbox, i18n, await cert.recipients(store, app.upper.id), upper, f"cert-decided-up:{app.id}",
                   exclude=[actor.id, *lower_ids])


async def uncertified(outbox: Outbox, store: Store, i18n: I18n, done: cert.Uncertified, actor: Actor,
                      key: str) -> None:
    def render(t: Translator) -> tuple[str, None]:
        if done.upper is None:
            return t("certify.root_uncertified_notice", org=done.org.name), None
        return t("certify.uncertified_notice", by=actor.user.display_name, org=done.org.name,
                 upper=done.upper.name), None

    people = await cert.recipients(store, done.org.id)
    if done.upper is not None:
        people += await cert.recipients(store, done.upper.id)
    await push_all(outbox, i18n, people, render, f"cert-uncertified:{done.org.id}:{key}", exclude=[actor.id])


async def root_certified(outbox: Outbox, store: Store, i18n: I18n, org: Org, actor: Actor) -> None:
    """CERT-7: the operator certified a root organisation; its admins are told."""
    await push_all(outbox, i18n, await cert.recipients(store, org.id),
                   lambda t: (t("certify.root_notice", org=org.name), None),
                   f"cert-root:{org.id}:{org.certified_at}", exclude=[actor.id])


async def invitation(outbox: Outbox, i18n: I18n, actor: Actor, created: CreatedCertInvite, url: str) -> None:
    """CERT-1: an invitation addressed to one person reaches them with its message."""
    person = created.addressee
    if person is None:
        return
    note_text = created.invite.note

    def render(t: Translator) -> tuple[str, None]:
        return t("certify.invite_push", by=actor.user.display_name, org=created.org.name, url=url,
                 note=t("certify.note_line", note=note_text) if note_text else ""), None

    await push_all(outbox, i18n, [(person.id, person.language, person.tg_language)], render,
                   f"cert-invite:{created.invite.id}")


async def rename_requested(outbox: Outbox, store: Store, i18n: I18n, operator_ids: frozenset[int],
                           req: RenameRequest, kb: Keyboard) -> None:
    """ORG-6: to the upper organisation's admins, or to the operators for a root."""
    people = await cert.recipients(store, req.upper_id, operator_ids)
    await push_all(outbox, i18n, people,
                   lambda t: (t("certify.rename_received") + "\n" + rename_text(t, req), kb(t, req.id)),
                   f"rename-request:{req.id}", exclude=[req.requested_by])


async def rename_decided(outbox: Outbox, store: Store, i18n: I18n, req: RenameRequest, actor: Actor) -> None:
    def render(t: Translator) -> tuple[str, None]:
        if req.status == "approved":
            return t("certify.rename_approved_notice", old=req.old_name, new=req.new_name), None
        return t("certify.rename_rejected_notice", old=req.old_name, new=req.new_name, reason=req.reason or ""), None

    await push_all(outbox, i18n, await cert.recipients(store, req.org.id), render, f"rename-decided:{req.id}",
                   exclude=[actor.id])


# -- joining (MEM-6) -----------------------------------------------------------------------------
async def join_requested(outbox: Outbox, store: Store, i18n: I18n, result: JoinResult, kb: Keyboard) -> None:
    """A pending request is announced to each admin of the organisation with Approve / Reject."""
    if result.kind != "pending" or result.request_id is None:
        return
    request = await invites.join_request(store, result.request_id)
    pushes = []
    for admin_id, language, tg_language in await invites.admins_to_notify(store, request.org.id):
        t = i18n.translator(i18n.pick(language, tg_language))
        text = t("join.admin_request", name=request.user_name, phone=request.user_phone, org=request.org.name,
                 branch=request.branch or t("invite.no_branch"))
        pushes.append(text_push(admin_id, text, reply_markup=kb(t, request.id),
                                dedupe_key=f"join-request:{request.id}:{admin_id}"))
    await outbox.enqueue(*pushes)


async def join_decided(outbox: Outbox, i18n: I18n, decision: Decision) -> None:
    r = decision.request
    branch = r.branch or ""
    t = i18n.translator(i18n.pick(r.user_language, r.user_tg_language))
    if decision.approved:
        text = t("join.approved" if branch else "join.approved_no_branch", org=r.org.name, branch=branch)
    else:
        text = t("join.rejected", org=r.org.name)
    await outbox.enqueue(text_push(r.user_id, text, dedupe_key=f"join-decided:{r.id}"))


# -- admins (ORG-4, ORG-5) -------------------------------------------------------------------------
async def admin_added(outbox: Outbox, i18n: I18n, actor: Actor, added: orgs.AddedAdmin, key: str) -> Translator:
    """Returns the new admin's translator (their command menu is set in their language)."""
    user = added.user
    their = translator_for(i18n, user)
    await outbox.enqueue(text_push(
        user.id, their("admins.you_were_added", org=added.org.name, by=actor.user.display_name)
        + "\n" + their("admins.you_next_verified" if user.verified else "admins.you_next_verify"),
        dedupe_key=f"admin-added:{added.org.id}:{user.id}:{key}"))
    return their


async def admin_removed(outbox: Outbox, i18n: I18n, actor: Actor, org: Org, user: User, key: str) -> Translator:
    their = translator_for(i18n, user)
    await outbox.enqueue(text_push(user.id, their("admins.you_were_removed", org=org.name,
                                                  by=actor.user.display_name),
                                   dedupe_key=f"admin-removed:{org.id}:{user.id}:{key}"))
    return their


async def handed_over(outbox: Outbox, i18n: I18n, actor: Actor, org: Org, user: User, key: str) -> None:
    their = translator_for(i18n, user)
    await outbox.enqueue(text_push(user.id, their("admins.you_are_main", org=org.name, by=actor.user.display_name),
                                   dedupe_key=f"admin-handover:{org.id}:{user.id}:{key}"))

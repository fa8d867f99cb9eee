"""Manuscripts (WORK-3): callback data, states, keyboards, texts and the pushes to author and admins."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.clock import Clock
from bot.i18n import I18n, Translator
from bot.outbox import text_push
from bot.repositories.manuscripts import CorrespondentOrg, ManuscriptRow, Step
from bot.services.manuscripts import Decision, Manuscript, Submitted


class MsAction(StrEnum):
    new = "n"
    org = "g"      # value: organisation id to submit to
    done_files = "f"
    submit = "s"
    cancel = "x"
    mine = "m"     # value: manuscript id (its timeline)


class MsCD(CallbackData, prefix="msc"):
    action: MsAction
    value: int = 0


class ReviewAction(StrEnum):
    list = "l"
    open = "o"
    reject = "r"
    forward = "f"
    accept = "a"


class ReviewCD(CallbackData, prefix="rv"):
    action: ReviewAction
    ms_id: int = 0


class ManuscriptSubmit(StatesGroup):
    title = State()
    body = State()
    files = State()
    column = State()
    preview = State()


class ReviewReason(StatesGroup):
    reason = State()


def when_text(clock: Clock, iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(clock.tz).strftime("%Y-%m-%d %H:%M")


def status_text(_: Translator, row: ManuscriptRow) -> str:
    return _(f"manuscript.status_{row.status}", org=row.org_name)


def step_line(_: Translator, clock: Clock, step: Step) -> str:
    return _(f"manuscript.step_{step.action}", at=when_text(clock, step.at), org=step.org_name,
             to=step.to_org_name or "", reason=step.reason or "")


def timeline_text(_: Translator, clock: Clock, steps: list[Step]) -> str:
    return "\n".join([_("manuscript.timeline_head")] + [step_line(_, clock, s) for s in steps])


def mine_text(_: Translator, rows: list[ManuscriptRow]) -> str:
    if not rows:
        return _("manuscript.mine_none")
    return "\n".join([_("manuscript.mine_title"), ""] +
                     [_("manuscript.mine_line", id=r.id, title=r.title, status=status_text(_, r)) for r in rows])


def mine_kb(_: Translator, rows: list[ManuscriptRow]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("manuscript.btn_new"), callback_data=MsCD(action=MsAction.new))
    for r in rows:
        kb.button(text=f"#{r.id} {r.title}", callback_data=MsCD(action=MsAction.mine, value=r.id))
    kb.adjust(1)
    return kb.as_markup()


def orgs_kb(orgs: list[CorrespondentOrg]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for o in orgs:
        kb.button(text=o.org_name, callback_data=MsCD(action=MsAction.org, value=o.org_id))
    kb.adjust(1)
    return kb.as_markup()


def files_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("manuscript.btn_done_files"), callback_data=MsCD(action=MsAction.done_files))
    return kb.as_markup()


def preview_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("manuscript.btn_submit"), callback_data=MsCD(action=MsAction.submit))
    kb.button(text=_("manuscript.btn_cancel"), callback_data=MsCD(action=MsAction.cancel))
    return kb.as_markup()


def manuscript_text(_: Translator, clock: Clock, ms: Manuscript, *, with_body: bool = True) -> str:
    r = ms.row
    lines = [_("manuscript.card", id=r.id, title=r.title, author=r.author_name, column=r.column_name,
               status=status_text(_, r), files=len(ms.files))]
    if with_body:
        lines += ["", r.body]
    lines += ["", timeline_text(_, clock, ms.steps)]
    return "\n".join(lines)


def incoming_text(_: Translator, rows: list[ManuscriptRow]) -> str:
    if not rows:
        return _("manuscript.incoming_none")
    return "\n".join([_("manuscript.incoming_title"), ""] +
                     [_("manuscript.incoming_line", id=r.id, title=r.title, author=r.author_name, org=r.org_name)
                      for r in rows])


def incoming_kb(rows: list[ManuscriptRow]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for r in rows:
        kb.button(text=f"#{r.id} {r.title}", callback_data=ReviewCD(action=ReviewAction.open, ms_id=r.id))
    kb.adjust(1)
    return kb.as_markup()


def review_kb(_: Translator, ms: Manuscript) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if ms.row.status == "pending":
        for action, key in ((ReviewAction.forward, "btn_forward"), (ReviewAction.accept, "btn_accept"),
                            (ReviewAction.reject, "btn_reject")):
            kb.button(text=_(f"manuscript.{key}"), callback_data=ReviewCD(action=action, ms_id=ms.row.id))
    kb.button(text=_("manuscript.btn_back"), callback_data=ReviewCD(action=ReviewAction.list))
    kb.adjust(1)
    return kb.as_markup()


def decision_pushes(i18n: I18n, clock: Clock, decision: Decision) -> list[dict[str, Any]]:
    """The author hears of every step, with the whole timeline; a forward also tells the upper admins."""
    ms = decision.manuscript
    step_no = len(ms.steps)
    _ = i18n.translator(i18n.pick(decision.author_language))
    out = [text_push(ms.row.author_id,
                     _("manuscript.author_push", title=ms.row.title, step=step_line(_, clock, ms.steps[-1])) +
                     "\n\n" + timeline_text(_, clock, ms.steps),
                     dedupe_key=f"manuscript:{ms.row.id}:{step_no}:author")]
    for user_id, language in decision.upper_admins:
        t = i18n.translator(i18n.pick(language))
        out.append(text_push(user_id, t("manuscript.incoming_push", title=ms.row.title, author=ms.row.author_name,
                                        org=ms.row.org_name),
                             dedupe_key=f"manuscript:{ms.row.id}:{step_no}:admin:{user_id}"))
    return out


def submitted_pushes(i18n: I18n, submitted: Submitted) -> list[dict[str, Any]]:
    ms = submitted.manuscript
    out = []
    for user_id, language in submitted.admins:
        t = i18n.translator(i18n.pick(language))
        out.append(text_push(user_id, t("manuscript.incoming_push", title=ms.row.title, author=ms.row.author_name,
                                        org=ms.row.org_name),
                             dedupe_key=f"manuscript:{ms.row.id}:1:admin:{user_id}"))
    return out

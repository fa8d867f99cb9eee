"""Collective activities (WORK-2) and points adjustment (LEARN-7): callback data, states, keyboards, texts."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.clock import Clock
from bot.i18n import Translator
from bot.repositories.activities import ActivityRow, Attendee
from bot.repositories.orgs import BranchRow
from bot.services.activities import KINDS
from bot.ui.tasks import branch_picker_kb, target_picker_kb


class ActAction(StrEnum):
    list = "l"
    new = "n"
    open = "o"
    attendance = "a"
    export = "x"
    qr = "q"


class ActivityCD(CallbackData, prefix="ac"):
    action: ActAction
    activity_id: int = 0


class CreateAction(StrEnum):
    kind = "k"       # value: index in KINDS
    target = "t"     # value: index in TARGET_KINDS
    branch = "b"     # value: branch id (toggle)
    branches_done = "bd"
    create = "c"
    cancel = "x"


class ActCreateCD(CallbackData, prefix="acc"):
    action: CreateAction
    value: int = 0


class MemberWorkAction(StrEnum):
    mark_menu = "mm"     # which open activity to mark the member at
    mark = "m"           # value: activity id
    adjust = "pa"        # points adjustment: asks for "+5 reason"
    correspondent = "co"  # value: 1 set, 0 unset, SHOW the flag


SHOW = -1  # MemberWorkCD.value of the correspondent entry: show the flag and its toggle


class MemberWorkCD(CallbackData, prefix="mw"):
    action: MemberWorkAction
    member_id: int
    value: int = 0


class ActivityCreate(StatesGroup):
    kind = State()
    title = State()
    window = State()
    points = State()
    target = State()
    branches = State()
    preview = State()


class PointsAdjust(StatesGroup):
    amount = State()


def when_text(clock: Clock, iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(clock.tz).strftime("%Y-%m-%d %H:%M")


def window_text(clock: Clock, a: ActivityRow) -> str:
    return f"{when_text(clock, a.starts_at)} – {when_text(clock, a.ends_at)}"


def kind_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for n, kind in enumerate(KINDS):
        kb.button(text=_.label(f"activity.kind_{kind}"), callback_data=ActCreateCD(action=CreateAction.kind, value=n))
    kb.button(text=_.label("activity.btn_cancel"), callback_data=ActCreateCD(action=CreateAction.cancel))
    kb.adjust(2, 2, 1)
    return kb.as_markup()


def target_kb(_: Translator) -> InlineKeyboardMarkup:
    return target_picker_kb(_, lambda n: ActCreateCD(action=CreateAction.target, value=n))


def branches_kb(_: Translator, branches: Sequence[BranchRow], chosen: set[int]) -> InlineKeyboardMarkup:
    return branch_picker_kb(_, branches, chosen, lambda b: ActCreateCD(action=CreateAction.branch, value=b),
                            ActCreateCD(action=CreateAction.branches_done))


def preview_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("activity.btn_create"), callback_data=ActCreateCD(action=CreateAction.create))
    kb.button(text=_.label("activity.btn_cancel"), callback_data=ActCreateCD(action=CreateAction.cancel))
    return kb.as_markup()


def card_text(_: Translator, clock: Clock, a: ActivityRow) -> str:
    return _("activity.card", id=a.id, title=a.title, kind=_(f"activity.kind_{a.kind}"), org=a.org_name,
             window=window_text(clock, a), points=a.points, target=_(f"task.target_{a.target.kind}"),
             code=a.code_word, attendees=a.attendees)


def card_kb(_: Translator, a: ActivityRow) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for action, key in ((ActAction.attendance, "btn_attendance"), (ActAction.export, "btn_export"),
                        (ActAction.qr, "btn_qr"), (ActAction.list, "btn_back")):
        kb.button(text=_.label(f"activity.{key}"), callback_data=ActivityCD(action=action, activity_id=a.id))
    kb.adjust(2, 1, 1)
    return kb.as_markup()


def list_text(_: Translator, clock: Clock, items: list[ActivityRow]) -> str:
    if not items:
        return _("activity.none")
    lines = [_("activity.list_title"), ""]
    lines += [_("activity.list_line", id=a.id, title=a.title, kind=_(f"activity.kind_{a.kind}"),
                window=window_text(clock, a), attendees=a.attendees) for a in items]
    return "\n".join(lines)


def list_kb(_: Translator, items: list[ActivityRow]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for a in items:
        kb.button(text=f"#{a.id} {a.title}", callback_data=ActivityCD(action=ActAction.open, activity_id=a.id))
    kb.button(text=_.label("activity.btn_new"), callback_data=ActivityCD(action=ActAction.new))
    kb.adjust(1)
    return kb.as_markup()


def attendance_text(_: Translator, clock: Clock, a: ActivityRow, people: list[Attendee]) -> str:
    lines = [_("activity.attendance_title", title=a.title, count=len(people)), ""]
    lines += [_("activity.attendance_line", name=p.name, how=_(f"activity.how_{p.how}"), at=when_text(clock, p.at))
              for p in people[:100]]
    if len(people) > 100:
        lines.append(_("activity.attendance_more", count=len(people) - 100))
    return "\n".join(lines)


def mark_kb(_: Translator, member_id: int, items: list[ActivityRow]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for a in items:
        kb.button(text=f"#{a.id} {a.title}",
                  callback_data=MemberWorkCD(action=MemberWorkAction.mark, member_id=member_id, value=a.id))
    kb.adjust(1)
    return kb.as_markup()


def member_work_buttons(_: Translator, member_id: int) -> list[tuple[str, MemberWorkCD]]:
    """The entries the member screen adds: mark attended, adjust points, the correspondent flag."""
    return [(_("activity.btn_mark"), MemberWorkCD(action=MemberWorkAction.mark_menu, member_id=member_id)),
            (_("activity.btn_adjust"), MemberWorkCD(action=MemberWorkAction.adjust, member_id=member_id)),
            (_("activity.btn_correspondent"), MemberWorkCD(action=MemberWorkAction.correspondent, member_id=member_id,
                                                           value=SHOW))]


def correspondent_kb(_: Translator, member_id: int, now: bool) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("activity.btn_correspondent_off" if now else "activity.btn_correspondent_on"),
              callback_data=MemberWorkCD(action=MemberWorkAction.correspondent, member_id=member_id,
                                         value=0 if now else 1))
    return kb.as_markup()

"""Creating (or, until somebody started it, editing) a special exam (LEARN-6): organisation, title,
questions (drawn at random from the bank by count and optional tag, picked from the bank, or an
uploaded question sheet), time limit, window, pass mark, attempts, points, time-out policy; then
publish now, at a time, or keep as a draft. Each step checks its input at once and stays put on
bad input; the whole is checked again when saved (services.exams.check_settings)."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.text_decorations import html_decoration

from bot.errors import DomainError
from bot.render.question_sheet import labels_from
from bot.repositories.exams import ExamSettings
from bot.services import exams
from bot.ui.exam_view import card_text, publish_notices
from bot.ui.exams import (
    PAGE,
    POLICY_CODES,
    ExamAct,
    ExamCD,
    ExamCreate,
    ExamDraft,
    ExamNewCD,
    NewAct,
    SavedExam,
    admin_card_kb,
    one_button_kb,
    orgs_kb,
    pick_kb,
    policy_kb,
    publish_kb,
    source_kb,
)

if TYPE_CHECKING:
    from bot.middlewares import Ctx

DEFAULT_GRACE_MINUTES = 2


def _settings(draft: ExamDraft) -> ExamSettings:
    return ExamSettings(draft.title, draft.time_limit, datetime.fromisoformat(draft.opens_at),
                        datetime.fromisoformat(draft.closes_at), draft.pass_mark, draft.max_attempts, draft.points,
                        draft.policy, draft.grace)


async def begin(message: Message, state: FSMContext, ctx: Ctx, exam_id: int | None = None) -> None:
    store, actor, _ = ctx.store, ctx.actor, ctx.t
    if exam_id is not None:
        exam = await exams.check_editable(store, actor, exam_id)
        orgs = [(exam.org_id, exam.org_name)]
    else:
        orgs = [(o.id, o.name) for o in await exams.admin_orgs(store, actor)]
    if not orgs:
        raise DomainError("not_admin")
    if len(orgs) == 1:
        await ExamDraft(org_id=orgs[0][0], exam_id=exam_id).begin(state, ExamCreate.title)
        await message.answer(_("exams.new.ask_title", org=orgs[0][1]))
        return
    await ExamDraft(org_id=0).begin(state, ExamCreate.org)
    await message.answer(_("exams.new.ask_org"), reply_markup=orgs_kb(orgs))


async def new_pressed(query: CallbackQuery, message: Message, callback_data: ExamCD, state: FSMContext,
                      ctx: Ctx) -> None:
    await begin(message, state, ctx, callback_data.e if callback_data.act == ExamAct.EDIT else None)


async def org_chosen(query: CallbackQuery, message: Message, callback_data: ExamNewCD, state: FSMContext,
                     ctx: Ctx) -> None:
    store, actor, _ = ctx.store, ctx.actor, ctx.t
    org = await exams.check_org(store, actor, callback_data.v)
    draft = await ExamDraft.load(state)
    draft.org_id = org.id
    await draft.save(state)
    await state.set_state(ExamCreate.title)
    await message.answer(_("exams.new.ask_title", org=org.name))


async def title_typed(message: Message, state: FSMContext, ctx: Ctx) -> None:
    _ = ctx.t
    title = exams.clean_title(message.text)
    draft = await ExamDraft.load(state)
    draft.title = title
    await draft.save(state)
    await state.set_state(ExamCreate.source)
    await message.answer(_("exams.new.ask_source"), reply_markup=source_kb(_))


async def source_chosen(query: CallbackQuery, message: Message, callback_data: ExamNewCD, state: FSMContext,
                        ctx: Ctx) -> None:
    _ = ctx.t
    draft = await ExamDraft.load(state)
    if callback_data.act == NewAct.DRAW:
        await state.set_state(ExamCreate.count)
        await message.answer(_("exams.new.ask_count"))
    elif callback_data.act == NewAct.SHEET:
        await state.set_state(ExamCreate.sheet)
        await message.answer(_("exams.new.ask_sheet"))
    else:
        draft.picked = []
        await draft.save(state)
        await state.set_state(ExamCreate.pick)
        await _pick_page(message, draft, 0, ctx)


async def _pick_page(message: Message, draft: ExamDraft, offset: int, ctx: Ctx, edit: bool = False) -> None:
    store, actor, _ = ctx.store, ctx.actor, ctx.t
    total, page = await exams.bank_page(store, actor, draft.org_id, offset, PAGE)
    if not total:
        raise DomainError("exams.bank_too_small", have=0, want=1)
    lines = [_("exams.new.pick_title", total=total, chosen=len(draft.picked))]
    for n, q in enumerate(page, start=offset + 1):
        stem = q.text(_.locale).stem
        lines.append(f"{n}. " + html_decoration.quote(stem if len(stem) <= 50 else stem[:49] + "…"))
    text, kb = "\n".join(lines), pick_kb(_, page, set(draft.picked), offset, total)
    if edit:
        try:
            await message.edit_text(text, reply_markup=kb)
            return
        except Exception:  # noqa: BLE001 - "not modified" or too old to edit: send it anew
            pass
    await message.answer(text, reply_markup=kb)


async def pick_pressed(query: CallbackQuery, message: Message, callback_data: ExamNewCD, state: FSMContext,
                       ctx: Ctx) -> None:
    draft = await ExamDraft.load(state)
    offset = 0
    if callback_data.act == NewAct.TOGGLE:
        if callback_data.v not in draft.picked:  # adding: the id must be one the picker could have shown
            await exams.check_questions(ctx.store, ctx.actor, draft.org_id, [callback_data.v])
        chosen = set(draft.picked) ^ {callback_data.v}
        draft.picked = [q for q in draft.picked if q in chosen] + [q for q in chosen if q not in draft.picked]
        offset = draft.pick_offset
    else:
        offset = draft.pick_offset = callback_data.v
    await draft.save(state)
    await _pick_page(message, draft, offset, ctx, edit=True)


async def picked_done(query: CallbackQuery, message: Message, state: FSMContext, ctx: Ctx) -> None:
    draft = await ExamDraft.load(state)
    if not draft.picked:
        raise DomainError("exams.no_questions")
    await _questions_chosen(message, state, draft, draft.picked, ctx)


async def count_typed(message: Message, state: FSMContext, ctx: Ctx) -> None:
    store, actor = ctx.store, ctx.actor
    parts = (message.text or "").split(maxsplit=1)
    count = exams.parse_count(parts[0] if parts else "", "exams.bad_count", 1, exams.MAX_QUESTIONS)
    draft = await ExamDraft.load(state)
    ids = await exams.draw(store, actor, draft.org_id, count, parts[1] if len(parts) > 1 else None)
    await _questions_chosen(message, state, draft, ids, ctx)


async def sheet_sent(message: Message, state: FSMContext, ctx: Ctx) -> None:
    store, clock, actor, _ = ctx.store, ctx.clock, ctx.actor, ctx.t
    doc = message.document
    if doc is None:
        raise DomainError("exams.new.need_sheet")
    draft = await ExamDraft.load(state)
    buf = await ctx.bot.download(doc)
    data = buf.read() if buf is not None else b""
    labels = [labels_from(partial(_.i18n.t, lang)) for lang in _.i18n.languages]
    ids, rejected = await exams.from_sheet(store, clock, actor, draft.org_id, data, labels)
    if rejected:
        await message.answer(_("exams.new.sheet_rejected", rejected=rejected, used=len(ids)))
    await _questions_chosen(message, state, draft, ids, ctx)


async def _questions_chosen(message: Message, state: FSMContext, draft: ExamDraft, ids: list[int],
                            ctx: Ctx) -> None:
    _ = ctx.t
    if not ids:
        raise DomainError("exams.no_questions")
    draft.question_ids = list(ids)
    await draft.save(state)
    await state.set_state(ExamCreate.time_limit)
    await message.answer(_("exams.new.ask_time_limit", n=len(ids)))


async def time_limit_typed(message: Message, state: FSMContext, ctx: Ctx) -> None:
    _ = ctx.t
    minutes = exams.parse_minutes(message.text or "")
    draft = await ExamDraft.load(state)
    draft.time_limit = minutes * 60
    await draft.save(state)
    await state.set_state(ExamCreate.window)
    await message.answer(_("exams.new.ask_window"))


async def window_typed(message: Message, state: FSMContext, ctx: Ctx) -> None:
    clock, _ = ctx.clock, ctx.t
    opens, closes = exams.parse_window(message.text or "", clock)
    draft = await ExamDraft.load(state)
    if closes <= opens or closes <= clock.now():
        raise DomainError("exams.bad_window")
    window = int((closes - opens).total_seconds())
    if draft.time_limit > window:
        raise DomainError("exams.limit_longer_than_window", limit=draft.time_limit // 60, window=window // 60)
    draft.opens_at, draft.closes_at = opens.isoformat(), closes.isoformat()
    await draft.save(state)
    await state.set_state(ExamCreate.pass_mark)
    await message.answer(_("exams.new.ask_pass_mark", n=len(draft.question_ids)))


async def pass_mark_typed(message: Message, state: FSMContext, ctx: Ctx) -> None:
    _ = ctx.t
    draft = await ExamDraft.load(state)
    n = len(draft.question_ids)
    draft.pass_mark = exams.parse_count(message.text or "", "exams.bad_pass_mark", 1, n)
    await draft.save(state)
    await state.set_state(ExamCreate.attempts)
    await message.answer(_("exams.new.ask_attempts"),
                         reply_markup=one_button_kb(_.label("exams.new.btn_unlimited"), NewAct.UNLIMITED))


async def _attempts_set(message: Message, state: FSMContext, ctx: Ctx, max_attempts: int | None) -> None:
    _ = ctx.t
    draft = await ExamDraft.load(state)
    draft.max_attempts = max_attempts
    await draft.save(state)
    await state.set_state(ExamCreate.points)
    await message.answer(_("exams.new.ask_points", most=exams.MAX_POINTS),
                         reply_markup=one_button_kb(_.label("exams.new.btn_no_points"), NewAct.NO_POINTS))


async def attempts_typed(message: Message, state: FSMContext, ctx: Ctx) -> None:
    await _attempts_set(message, state, ctx, exams.parse_count(message.text or "", "exams.bad_attempts", 1, 100))


async def unlimited_pressed(query: CallbackQuery, message: Message, state: FSMContext, ctx: Ctx) -> None:
    await _attempts_set(message, state, ctx, None)


async def _points_set(message: Message, state: FSMContext, ctx: Ctx, points: int) -> None:
    draft = await ExamDraft.load(state)
    draft.points = points
    await draft.save(state)
    await state.set_state(ExamCreate.policy)
    await message.answer(ctx.t("exams.new.ask_policy"), reply_markup=policy_kb(ctx.t))


async def points_typed(message: Message, state: FSMContext, ctx: Ctx) -> None:
    await _points_set(message, state, ctx,
                      exams.parse_count(message.text or "", "exams.bad_points", 0, exams.MAX_POINTS))


async def no_points_pressed(query: CallbackQuery, message: Message, state: FSMContext, ctx: Ctx) -> None:
    await _points_set(message, state, ctx, 0)


async def policy_chosen(query: CallbackQuery, message: Message, callback_data: ExamNewCD, state: FSMContext,
                        ctx: Ctx) -> None:
    _ = ctx.t
    draft = await ExamDraft.load(state)
    if not 0 <= callback_data.v < len(POLICY_CODES):
        raise DomainError("exams.bad_policy")
    draft.policy = POLICY_CODES[callback_data.v]
    await draft.save(state)
    if draft.policy == "grace":
        await state.set_state(ExamCreate.grace)
        await message.answer(_("exams.new.ask_grace", default=DEFAULT_GRACE_MINUTES))
        return
    await _save(message, state, draft, ctx)


async def grace_typed(message: Message, state: FSMContext, ctx: Ctx) -> None:
    minutes = exams.parse_count(message.text or "", "exams.bad_grace", 1, 60)
    draft = await ExamDraft.load(state)
    draft.grace = minutes * 60
    await draft.save(state)
    await _save(message, state, draft, ctx)


async def _save(message: Message, state: FSMContext, draft: ExamDraft, ctx: Ctx) -> None:
    store, clock, actor, _ = ctx.store, ctx.clock, ctx.actor, ctx.t
    exam_id = await exams.create(store, clock, actor, draft.org_id, _settings(draft), draft.question_ids,
                                 draft.exam_id)
    await SavedExam(exam_id=exam_id).begin(state, ExamCreate.publish)
    exam = await exams.admin_exam(store, actor, exam_id)
    if exam.status == "published":
        await state.clear()
        await message.answer(card_text(_, exam, clock.tz), reply_markup=admin_card_kb(_, exam))
        return
    await message.answer(_("exams.new.saved") + "\n\n" + card_text(_, exam, clock.tz), reply_markup=publish_kb(_))


async def publish_chosen(query: CallbackQuery, message: Message, callback_data: ExamNewCD, state: FSMContext,
                         ctx: Ctx) -> None:
    store, clock, actor, _ = ctx.store, ctx.clock, ctx.actor, ctx.t
    exam_id = (await SavedExam.load(state)).exam_id
    if callback_data.act == NewAct.LATER:
        await state.set_state(ExamCreate.publish_at)
        await message.answer(_("exams.new.ask_publish_at"))
        return
    await state.clear()
    if callback_data.act == NewAct.DRAFT:
        exam = await exams.admin_exam(store, actor, exam_id)
        await message.answer(_("exams.new.kept_draft"), reply_markup=admin_card_kb(_, exam))
        return
    exam = await exams.publish(store, clock, actor, exam_id, None, publish_notices(_.i18n, clock.tz))
    await message.answer(_("exams.published", title=exam.title), reply_markup=admin_card_kb(_, exam))


async def publish_at_typed(message: Message, state: FSMContext, ctx: Ctx) -> None:
    store, clock, actor, _ = ctx.store, ctx.clock, ctx.actor, ctx.t
    exam_id = (await SavedExam.load(state)).exam_id
    at = exams.parse_when(message.text or "", clock)
    if at <= clock.now() + timedelta(seconds=30):
        raise DomainError("exams.publish_in_past")
    exam = await exams.publish(store, clock, actor, exam_id, at, publish_notices(_.i18n, clock.tz))
    await state.clear()
    await message.answer(_("exams.scheduled", title=exam.title, at=message.text or ""),
                         reply_markup=admin_card_kb(_, exam))


async def bad_input(message: Message, raw_state: str | None, _: Any) -> None:
    """One fallback for every step: what the step expects, and the flow stays where it was."""
    step = (raw_state or "").rsplit(":", 1)[-1]
    await message.answer(_(f"exams.new.expect.{step}") if _.i18n.has(f"exams.new.expect.{step}")
                         else _("exams.new.expect.default"))


def build_router() -> Router:
    router = Router(name=__name__)
    cq, msg = router.callback_query, router.message
    cq.register(new_pressed, ExamCD.filter(F.act.in_({ExamAct.NEW, ExamAct.EDIT})))
    cq.register(org_chosen, ExamCreate.org, ExamNewCD.filter(F.act == NewAct.ORG))
    cq.register(source_chosen, ExamCreate.source, ExamNewCD.filter(F.act.in_({NewAct.DRAW, NewAct.PICK,
                                                                              NewAct.SHEET})))
    cq.register(pick_pressed, ExamCreate.pick, ExamNewCD.filter(F.act.in_({NewAct.TOGGLE, NewAct.PAGE})))
    cq.register(picked_done, ExamCreate.pick, ExamNewCD.filter(F.act == NewAct.PICKED))
    cq.register(unlimited_pressed, ExamCreate.attempts, ExamNewCD.filter(F.act == NewAct.UNLIMITED))
    cq.register(no_points_pressed, ExamCreate.points, ExamNewCD.filter(F.act == NewAct.NO_POINTS))
    cq.register(policy_chosen, ExamCreate.policy, ExamNewCD.filter(F.act == NewAct.POLICY))
    cq.register(publish_chosen, ExamCreate.publish, ExamNewCD.filter(F.act.in_({NewAct.NOW, NewAct.LATER,
                                                                                NewAct.DRAFT})))
    text = F.text & ~F.text.startswith("/")
    msg.register(title_typed, ExamCreate.title, text)
    msg.register(count_typed, ExamCreate.count, text)
    msg.register(sheet_sent, ExamCreate.sheet, F.document)
    msg.register(time_limit_typed, ExamCreate.time_limit, text)
    msg.register(window_typed, ExamCreate.window, text)
    msg.register(pass_mark_typed, ExamCreate.pass_mark, text)
    msg.register(attempts_typed, ExamCreate.attempts, text)
    msg.register(points_typed, ExamCreate.points, text)
    msg.register(grace_typed, ExamCreate.grace, text)
    msg.register(publish_at_typed, ExamCreate.publish_at, text)
    msg.register(bad_input, StateFilter(*ExamCreate.__states__), ~F.text.startswith("/"))
    return router

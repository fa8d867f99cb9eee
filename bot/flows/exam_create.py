"""Creating (or, until somebody started it, editing) a special exam (LEARN-6): organisation, title,
questions (drawn at random from the bank by count and optional tag, picked from the bank, or an
uploaded question sheet), time limit, window, pass mark, attempts, points, time-out policy; then
publish now, at a time, or keep as a draft. Each step checks its input at once and stays put on
bad input; the whole is checked again when saved (services.exams.check_settings)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.errors import DomainError
from bot.flows.exam_view import card_text, publish_notices
from bot.render.question_sheet import labels_from
from bot.repositories.exams import ExamSettings
from bot.services import exams
from bot.ui.exams import (
    PAGE,
    POLICY_CODES,
    ExamAct,
    ExamCD,
    ExamCreate,
    ExamNewCD,
    NewAct,
    admin_card_kb,
    one_button_kb,
    orgs_kb,
    pick_kb,
    policy_kb,
    publish_kb,
    source_kb,
)

DEFAULT_GRACE_MINUTES = 2


@dataclass
class Draft:
    """The flow's FSM data, typed: load() refuses a stale or missing draft with a specific message."""
    org_id: int
    exam_id: int | None = None
    title: str = ""
    question_ids: list[int] = field(default_factory=list)
    picked: list[int] = field(default_factory=list)
    time_limit: int = 0
    opens_at: str = ""
    closes_at: str = ""
    pass_mark: int = 0
    max_attempts: int | None = None
    points: int = 0
    policy: str = "reset"
    grace: int = 0
    version: int = 1

    @classmethod
    async def load(cls, state: FSMContext) -> Draft:
        data = (await state.get_data()).get("exam_draft")
        if not isinstance(data, dict) or data.get("version") != 1:
            await state.clear()
            raise DomainError("exams.new.stale")
        try:
            return cls(**data)
        except TypeError:
            await state.clear()
            raise DomainError("exams.new.stale") from None

    async def save(self, state: FSMContext) -> None:
        await state.update_data(exam_draft=asdict(self))

    def settings(self) -> ExamSettings:
        return ExamSettings(self.title, self.time_limit, datetime.fromisoformat(self.opens_at),
                            datetime.fromisoformat(self.closes_at), self.pass_mark, self.max_attempts, self.points,
                            self.policy, self.grace)


async def begin(message: Message, state: FSMContext, deps: dict[str, Any], exam_id: int | None = None) -> None:
    store, actor, _ = deps["store"], deps["actor"], deps["_"]
    if exam_id is not None:
        exam = await exams.check_editable(store, actor, exam_id)
        orgs = [(exam.org_id, exam.org_name)]
    else:
        orgs = [(o.id, o.name) for o in await exams.admin_orgs(store, actor)]
    if not orgs:
        raise DomainError("not_admin")
    await state.clear()
    if len(orgs) == 1:
        await Draft(org_id=orgs[0][0], exam_id=exam_id).save(state)
        await state.set_state(ExamCreate.title)
        await message.answer(_("exams.new.ask_title", org=orgs[0][1]))
        return
    await state.update_data(exam_draft={"org_id": 0, "version": 1})
    await state.set_state(ExamCreate.org)
    await message.answer(_("exams.new.ask_org"), reply_markup=orgs_kb(orgs))


async def new_pressed(query: CallbackQuery, callback_data: ExamCD, state: FSMContext, **deps: Any) -> None:
    if query.message is not None:
        await begin(query.message, state, deps,  # type: ignore[arg-type]
                    callback_data.e if callback_data.act == ExamAct.EDIT else None)


async def org_chosen(query: CallbackQuery, callback_data: ExamNewCD, state: FSMContext, **deps: Any) -> None:
    store, actor, _ = deps["store"], deps["actor"], deps["_"]
    org = await exams.check_org(store, actor, callback_data.v)
    draft = await Draft.load(state)
    draft.org_id = org.id
    await draft.save(state)
    await state.set_state(ExamCreate.title)
    if query.message is not None:
        await query.message.answer(_("exams.new.ask_title", org=org.name))


async def title_typed(message: Message, state: FSMContext, **deps: Any) -> None:
    _ = deps["_"]
    title = (message.text or "").strip()
    if not title or len(title) > exams.TITLE_LIMIT:
        raise DomainError("exams.bad_title", limit=exams.TITLE_LIMIT)
    draft = await Draft.load(state)
    draft.title = title
    await draft.save(state)
    await state.set_state(ExamCreate.source)
    await message.answer(_("exams.new.ask_source"), reply_markup=source_kb(_))


async def source_chosen(query: CallbackQuery, callback_data: ExamNewCD, state: FSMContext, **deps: Any) -> None:
    _ = deps["_"]
    draft = await Draft.load(state)
    if query.message is None:
        return
    if callback_data.act == NewAct.DRAW:
        await state.set_state(ExamCreate.count)
        await query.message.answer(_("exams.new.ask_count"))
    elif callback_data.act == NewAct.SHEET:
        await state.set_state(ExamCreate.sheet)
        await query.message.answer(_("exams.new.ask_sheet"))
    else:
        draft.picked = []
        await draft.save(state)
        await state.set_state(ExamCreate.pick)
        await _pick_page(query.message, draft, 0, deps)  # type: ignore[arg-type]


async def _pick_page(message: Message, draft: Draft, offset: int, deps: dict[str, Any], edit: bool = False) -> None:
    store, actor, _ = deps["store"], deps["actor"], deps["_"]
    total, page = await exams.bank_page(store, actor, draft.org_id, offset, PAGE)
    if not total:
        raise DomainError("exams.bank_too_small", have=0, want=1)
    lines = [_("exams.new.pick_title", total=total, chosen=len(draft.picked))]
    for n, q in enumerate(page, start=offset + 1):
        stem = q.text(_.locale).stem
        lines.append(f"{n}. " + (stem if len(stem) <= 50 else stem[:49] + "…"))
    text, kb = "\n".join(lines), pick_kb(_, page, set(draft.picked), offset, total)
    if edit:
        try:
            await message.edit_text(text, reply_markup=kb)
            return
        except Exception:  # noqa: BLE001 - "not modified" or too old to edit: send it anew
            pass
    await message.answer(text, reply_markup=kb)


async def pick_pressed(query: CallbackQuery, callback_data: ExamNewCD, state: FSMContext, **deps: Any) -> None:
    draft = await Draft.load(state)
    offset = 0
    if callback_data.act == NewAct.TOGGLE:
        chosen = set(draft.picked) ^ {callback_data.v}
        draft.picked = [q for q in draft.picked if q in chosen] + [q for q in chosen if q not in draft.picked]
        await draft.save(state)
        offset = int((await state.get_data()).get("pick_offset", 0))
    else:
        offset = callback_data.v
        await state.update_data(pick_offset=offset)
    if query.message is not None:
        await _pick_page(query.message, draft, offset, deps, edit=True)  # type: ignore[arg-type]


async def picked_done(query: CallbackQuery, state: FSMContext, **deps: Any) -> None:
    draft = await Draft.load(state)
    if not draft.picked:
        raise DomainError("exams.no_questions")
    if query.message is not None:
        await _questions_chosen(query.message, state, draft, draft.picked, deps)  # type: ignore[arg-type]


async def count_typed(message: Message, state: FSMContext, **deps: Any) -> None:
    store, actor = deps["store"], deps["actor"]
    parts = (message.text or "").split(maxsplit=1)
    count = exams.parse_count(parts[0] if parts else "", "exams.bad_count", 1, exams.MAX_QUESTIONS)
    draft = await Draft.load(state)
    ids = await exams.draw(store, actor, draft.org_id, count, parts[1] if len(parts) > 1 else None)
    await _questions_chosen(message, state, draft, ids, deps)


async def sheet_sent(message: Message, state: FSMContext, bot: Bot, **deps: Any) -> None:
    store, clock, actor, _ = deps["store"], deps["clock"], deps["actor"], deps["_"]
    doc = message.document
    if doc is None:
        raise DomainError("exams.new.need_sheet")
    draft = await Draft.load(state)
    buf = await bot.download(doc)
    data = buf.read() if buf is not None else b""
    labels = [labels_from(partial(_.i18n.t, lang)) for lang in _.i18n.languages]
    ids, rejected = await exams.from_sheet(store, clock, actor, draft.org_id, data, labels)
    if rejected:
        await message.answer(_("exams.new.sheet_rejected", rejected=rejected, used=len(ids)))
    await _questions_chosen(message, state, draft, ids, deps)


async def _questions_chosen(message: Message, state: FSMContext, draft: Draft, ids: list[int],
                            deps: dict[str, Any]) -> None:
    _ = deps["_"]
    if not ids:
        raise DomainError("exams.no_questions")
    draft.question_ids = list(ids)
    await draft.save(state)
    await state.set_state(ExamCreate.time_limit)
    await message.answer(_("exams.new.ask_time_limit", n=len(ids)))


async def time_limit_typed(message: Message, state: FSMContext, **deps: Any) -> None:
    _ = deps["_"]
    minutes = exams.parse_minutes(message.text or "")
    draft = await Draft.load(state)
    draft.time_limit = minutes * 60
    await draft.save(state)
    await state.set_state(ExamCreate.window)
    await message.answer(_("exams.new.ask_window"))


async def window_typed(message: Message, state: FSMContext, **deps: Any) -> None:
    clock, _ = deps["clock"], deps["_"]
    opens, closes = exams.parse_window(message.text or "", clock)
    draft = await Draft.load(state)
    if closes <= opens or closes <= clock.now():
        raise DomainError("exams.bad_window")
    window = int((closes - opens).total_seconds())
    if draft.time_limit > window:
        raise DomainError("exams.limit_longer_than_window", limit=draft.time_limit // 60, window=window // 60)
    draft.opens_at, draft.closes_at = opens.isoformat(), closes.isoformat()
    await draft.save(state)
    await state.set_state(ExamCreate.pass_mark)
    await message.answer(_("exams.new.ask_pass_mark", n=len(draft.question_ids)))


async def pass_mark_typed(message: Message, state: FSMContext, **deps: Any) -> None:
    _ = deps["_"]
    draft = await Draft.load(state)
    n = len(draft.question_ids)
    draft.pass_mark = exams.parse_count(message.text or "", "exams.bad_pass_mark", 1, n)
    await draft.save(state)
    await state.set_state(ExamCreate.attempts)
    await message.answer(_("exams.new.ask_attempts"),
                         reply_markup=one_button_kb(_("exams.new.btn_unlimited"), NewAct.UNLIMITED))


async def attempts_given(event: Message | CallbackQuery, state: FSMContext, **deps: Any) -> None:
    _ = deps["_"]
    draft = await Draft.load(state)
    if isinstance(event, Message):
        draft.max_attempts = exams.parse_count(event.text or "", "exams.bad_attempts", 1, 100)
    else:
        draft.max_attempts = None
    await draft.save(state)
    await state.set_state(ExamCreate.points)
    target = event if isinstance(event, Message) else event.message
    if target is not None:
        await target.answer(_("exams.new.ask_points", most=exams.MAX_POINTS),
                            reply_markup=one_button_kb(_("exams.new.btn_no_points"), NewAct.NO_POINTS))


async def points_given(event: Message | CallbackQuery, state: FSMContext, **deps: Any) -> None:
    _ = deps["_"]
    draft = await Draft.load(state)
    if isinstance(event, Message):
        draft.points = exams.parse_count(event.text or "", "exams.bad_points", 0, exams.MAX_POINTS)
    else:
        draft.points = 0
    await draft.save(state)
    await state.set_state(ExamCreate.policy)
    target = event if isinstance(event, Message) else event.message
    if target is not None:
        await target.answer(_("exams.new.ask_policy"), reply_markup=policy_kb(_))


async def policy_chosen(query: CallbackQuery, callback_data: ExamNewCD, state: FSMContext, **deps: Any) -> None:
    _ = deps["_"]
    draft = await Draft.load(state)
    if not 0 <= callback_data.v < len(POLICY_CODES):
        raise DomainError("exams.bad_policy")
    draft.policy = POLICY_CODES[callback_data.v]
    await draft.save(state)
    if draft.policy == "grace":
        await state.set_state(ExamCreate.grace)
        if query.message is not None:
            await query.message.answer(_("exams.new.ask_grace", default=DEFAULT_GRACE_MINUTES))
        return
    if query.message is not None:
        await _save(query.message, state, draft, deps)  # type: ignore[arg-type]


async def grace_typed(message: Message, state: FSMContext, **deps: Any) -> None:
    minutes = exams.parse_count(message.text or "", "exams.bad_grace", 1, 60)
    draft = await Draft.load(state)
    draft.grace = minutes * 60
    await draft.save(state)
    await _save(message, state, draft, deps)


async def _save(message: Message, state: FSMContext, draft: Draft, deps: dict[str, Any]) -> None:
    store, clock, actor, _ = deps["store"], deps["clock"], deps["actor"], deps["_"]
    exam_id = await exams.create(store, clock, actor, draft.org_id, draft.settings(), draft.question_ids,
                                 draft.exam_id)
    await state.set_state(ExamCreate.publish)
    await state.set_data({"exam_id": exam_id})
    exam = await exams.admin_exam(store, actor, exam_id)
    if exam.status == "published":
        await state.clear()
        await message.answer(card_text(_, exam, clock.tz), reply_markup=admin_card_kb(_, exam))
        return
    await message.answer(_("exams.new.saved") + "\n\n" + card_text(_, exam, clock.tz), reply_markup=publish_kb(_))


async def _exam_id(state: FSMContext) -> int:
    exam_id = (await state.get_data()).get("exam_id")
    if not isinstance(exam_id, int):
        await state.clear()
        raise DomainError("exams.new.stale")
    return exam_id


async def publish_chosen(query: CallbackQuery, callback_data: ExamNewCD, state: FSMContext, **deps: Any) -> None:
    store, clock, actor, _ = deps["store"], deps["clock"], deps["actor"], deps["_"]
    exam_id = await _exam_id(state)
    if query.message is None:
        return
    if callback_data.act == NewAct.LATER:
        await state.set_state(ExamCreate.publish_at)
        await query.message.answer(_("exams.new.ask_publish_at"))
        return
    await state.clear()
    if callback_data.act == NewAct.DRAFT:
        exam = await exams.admin_exam(store, actor, exam_id)
        await query.message.answer(_("exams.new.kept_draft"), reply_markup=admin_card_kb(_, exam))
        return
    exam = await exams.publish(store, clock, actor, exam_id, None, publish_notices(_.i18n, clock.tz))
    await query.message.answer(_("exams.published", title=exam.title), reply_markup=admin_card_kb(_, exam))


async def publish_at_typed(message: Message, state: FSMContext, **deps: Any) -> None:
    store, clock, actor, _ = deps["store"], deps["clock"], deps["actor"], deps["_"]
    exam_id = await _exam_id(state)
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
    cq.register(attempts_given, ExamCreate.attempts, ExamNewCD.filter(F.act == NewAct.UNLIMITED))
    cq.register(points_given, ExamCreate.points, ExamNewCD.filter(F.act == NewAct.NO_POINTS))
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
    msg.register(attempts_given, ExamCreate.attempts, text)
    msg.register(points_given, ExamCreate.points, text)
    msg.register(grace_typed, ExamCreate.grace, text)
    msg.register(publish_at_typed, ExamCreate.publish_at, text)
    msg.register(bad_input, StateFilter(*ExamCreate.__states__), ~F.text.startswith("/"))
    return router

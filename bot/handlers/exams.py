"""/exams (LEARN-6): the member's list (open exams with the time left, attempts used, best score;
closed ones with their explanations), the rules before starting, start and continue (断点续答);
for admins the exams of their organisations: card, publish (now or at a time), results and the
workbook. Every press re-checks role and scope in the service (SEC-4)."""
from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.clock import Clock
from bot.flows.exam_take import rate_of, send_attempt, show_result
from bot.flows.exam_view import card_text, exam_workbook, list_text, publish_notices, report_text, rules_text
from bot.i18n import Translator
from bot.services import exam_attempts, exams
from bot.services.roles import Actor
from bot.store import Store
from bot.ui.exams import ExamAct, ExamCD, ExamCreate, admin_card_kb, admin_list_kb, member_list_kb, rules_kb
from bot.ui.menu import MenuCD


async def _list(message: Message, store: Store, clock: Clock, actor: Actor, _: Translator) -> None:
    now = clock.now()
    items = [(mine, exams.window_state(mine.exam, now)) for mine in await exams.my_exams(store, actor)]
    await message.answer(list_text(_, items, now, clock.tz),
                         reply_markup=member_list_kb(_, items, bool(actor.admin_org_ids)))


async def exams_cmd(message: Message, store: Store, clock: Clock, actor: Actor, _: Translator) -> None:
    await _list(message, store, clock, actor, _)


async def list_pressed(query: CallbackQuery, store: Store, clock: Clock, actor: Actor, _: Translator) -> None:
    if query.message is not None:
        await _list(query.message, store, clock, actor, _)  # type: ignore[arg-type]


async def open_pressed(query: CallbackQuery, callback_data: ExamCD, store: Store, clock: Clock, actor: Actor,
                       _: Translator) -> None:
    rules = await exams.rules(store, clock, actor, callback_data.e)
    if query.message is not None:
        await query.message.answer(rules_text(_, rules, clock.tz), reply_markup=rules_kb(_, callback_data.e))


async def start_pressed(query: CallbackQuery, callback_data: ExamCD, bot: Bot, **deps: Any) -> None:
    store, clock, actor, _ = deps["store"], deps["clock"], deps["actor"], deps["_"]
    attempt, _created = await exam_attempts.start(store, clock, actor, callback_data.e, rate_of(deps.get("outbox")))
    await send_attempt(bot, actor.id, store, clock, actor, attempt.id, _, deps["state"])


async def review_pressed(query: CallbackQuery, callback_data: ExamCD, bot: Bot, store: Store, clock: Clock,
                         **deps: Any) -> None:
    actor, _ = deps["actor"], deps["_"]
    res = await exam_attempts.review(store, clock, actor, callback_data.e)
    await show_result(bot, actor.id, res, _)


# -- admins -------------------------------------------------------------------------------------------------
async def admin_pressed(query: CallbackQuery, store: Store, actor: Actor, _: Translator) -> None:
    items = await exams.admin_exams(store, actor)
    if query.message is not None:
        await query.message.answer(_("exams.admin_title") if items else _("exams.admin_empty"),
                                   reply_markup=admin_list_kb(_, items))


async def card_pressed(query: CallbackQuery, callback_data: ExamCD, store: Store, clock: Clock, actor: Actor,
                       _: Translator) -> None:
    exam = await exams.admin_exam(store, actor, callback_data.e)
    if query.message is not None:
        await query.message.answer(card_text(_, exam, clock.tz), reply_markup=admin_card_kb(_, exam))


async def publish_pressed(query: CallbackQuery, callback_data: ExamCD, store: Store, clock: Clock, actor: Actor,
                          _: Translator) -> None:
    exam = await exams.publish(store, clock, actor, callback_data.e, None, publish_notices(_.i18n, clock.tz))
    if query.message is not None:
        await query.message.answer(_("exams.published", title=exam.title), reply_markup=admin_card_kb(_, exam))


async def publish_at_pressed(query: CallbackQuery, callback_data: ExamCD, store: Store, actor: Actor,
                             state: FSMContext, _: Translator) -> None:
    await exams.admin_exam(store, actor, callback_data.e)
    await state.set_state(ExamCreate.publish_at)
    await state.set_data({"exam_id": callback_data.e})
    if query.message is not None:
        await query.message.answer(_("exams.new.ask_publish_at"))


async def results_pressed(query: CallbackQuery, callback_data: ExamCD, store: Store, actor: Actor,
                          _: Translator) -> None:
    rep = await exams.report(store, actor, callback_data.e)
    if query.message is not None:
        await query.message.answer(report_text(_, _.locale, rep))


async def xlsx_pressed(query: CallbackQuery, callback_data: ExamCD, store: Store, actor: Actor, bot: Bot,
                       _: Translator) -> None:
    rep = await exams.report(store, actor, callback_data.e)
    data = exam_workbook(_, rep)
    await bot.send_document(actor.id, BufferedInputFile(data, filename=f"exam-{rep.exam.id}.xlsx"),
                            caption=_("exams.xlsx_caption", title=rep.exam.title), protect_content=True)


async def menu_pressed(query: CallbackQuery, store: Store, clock: Clock, actor: Actor, _: Translator) -> None:
    await list_pressed(query, store, clock, actor, _)


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(exams_cmd, Command("exams"))
    cq = router.callback_query
    cq.register(menu_pressed, MenuCD.filter(F.item == "exams"))
    cq.register(list_pressed, ExamCD.filter(F.act == ExamAct.LIST))
    cq.register(open_pressed, ExamCD.filter(F.act == ExamAct.OPEN))
    cq.register(start_pressed, ExamCD.filter(F.act == ExamAct.START))
    cq.register(review_pressed, ExamCD.filter(F.act == ExamAct.REVIEW))
    cq.register(admin_pressed, ExamCD.filter(F.act == ExamAct.ADMIN))
    cq.register(card_pressed, ExamCD.filter(F.act == ExamAct.CARD))
    cq.register(publish_pressed, ExamCD.filter(F.act == ExamAct.PUBLISH))
    cq.register(publish_at_pressed, ExamCD.filter(F.act == ExamAct.PUBLISH_AT))
    cq.register(results_pressed, ExamCD.filter(F.act == ExamAct.RESULTS))
    cq.register(xlsx_pressed, ExamCD.filter(F.act == ExamAct.XLSX))
    return router

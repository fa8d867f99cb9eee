"""/exams (LEARN-6): the member's list (open exams with the time left, attempts used, best score;
closed ones with their explanations), the rules before starting, start and continue (断点续答);
for admins the exams of their organisations: card, publish (now or at a time), results and the
workbook. Every press re-checks role and scope in the service (SEC-4)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile

from bot.flows.exam_take import rate_of, send_attempt, show_result
from bot.services import exam_attempts, exams
from bot.ui.exam_view import card_text, exam_workbook, list_text, publish_notices, report_text, rules_text
from bot.ui.exams import ExamAct, ExamCD, ExamCreate, admin_card_kb, admin_list_kb, member_list_kb, rules_kb
from bot.ui.menu import MenuCD, MenuItem

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext
    from aiogram.types import CallbackQuery, Message

    from bot.i18n import Translator
    from bot.middlewares import Ctx


async def send_list(message: Message, ctx: Ctx, _: Translator) -> None:
    now = ctx.clock.now()
    items = [(mine, exams.window_state(mine.exam, now)) for mine in await exams.my_exams(ctx.store, ctx.actor)]
    await message.answer(list_text(_, items, now, ctx.clock.tz),
                         reply_markup=member_list_kb(_, items, bool(ctx.actor.admin_org_ids)))


async def exams_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    await send_list(message, ctx, _)


async def list_pressed(query: CallbackQuery, message: Message, ctx: Ctx, _: Translator) -> None:
    await send_list(message, ctx, _)


async def open_pressed(query: CallbackQuery, message: Message, callback_data: ExamCD, ctx: Ctx,
                       _: Translator) -> None:
    rules = await exams.rules(ctx.store, ctx.clock, ctx.actor, callback_data.e)
    await message.answer(rules_text(_, rules, ctx.clock.tz), reply_markup=rules_kb(_, callback_data.e))


async def start_pressed(query: CallbackQuery, callback_data: ExamCD, ctx: Ctx, state: FSMContext,
                        _: Translator) -> None:
    attempt, _created = await exam_attempts.start(ctx.store, ctx.clock, ctx.actor, callback_data.e,
                                                  rate_of(ctx.outbox))
    await send_attempt(ctx.bot, ctx.actor.id, ctx.store, ctx.clock, ctx.actor, attempt.id, _, state)


async def review_pressed(query: CallbackQuery, callback_data: ExamCD, ctx: Ctx, _: Translator) -> None:
    res = await exam_attempts.review(ctx.store, ctx.clock, ctx.actor, callback_data.e)
    await show_result(ctx.bot, ctx.actor.id, res, _)


# -- admins -------------------------------------------------------------------------------------------------
async def admin_pressed(query: CallbackQuery, message: Message, ctx: Ctx, _: Translator) -> None:
    items = await exams.admin_exams(ctx.store, ctx.actor)
    await message.answer(_("exams.admin_title") if items else _("exams.admin_empty"),
                         reply_markup=admin_list_kb(_, items))


async def card_pressed(query: CallbackQuery, message: Message, callback_data: ExamCD, ctx: Ctx,
                       _: Translator) -> None:
    exam = await exams.admin_exam(ctx.store, ctx.actor, callback_data.e)
    await message.answer(card_text(_, exam, ctx.clock.tz), reply_markup=admin_card_kb(_, exam))


async def publish_pressed(query: CallbackQuery, message: Message, callback_data: ExamCD, ctx: Ctx,
                          _: Translator) -> None:
    exam = await exams.publish(ctx.store, ctx.clock, ctx.actor, callback_data.e, None,
                               publish_notices(ctx.i18n, ctx.clock.tz))
    await message.answer(_("exams.published", title=exam.title), reply_markup=admin_card_kb(_, exam))


async def publish_at_pressed(query: CallbackQuery, message: Message, callback_data: ExamCD, ctx: Ctx,
                             state: FSMContext, _: Translator) -> None:
    await exams.admin_exam(ctx.store, ctx.actor, callback_data.e)
    await state.set_state(ExamCreate.publish_at)
    await state.set_data({"exam_id": callback_data.e})
    await message.answer(_("exams.new.ask_publish_at"))


async def results_pressed(query: CallbackQuery, message: Message, callback_data: ExamCD, ctx: Ctx,
                          _: Translator) -> None:
    rep = await exams.report(ctx.store, ctx.actor, callback_data.e)
    await message.answer(report_text(_, _.locale, rep))


async def xlsx_pressed(query: CallbackQuery, callback_data: ExamCD, ctx: Ctx, _: Translator) -> None:
    rep = await exams.report(ctx.store, ctx.actor, callback_data.e)
    data = exam_workbook(_, rep)
    await ctx.bot.send_document(ctx.actor.id, BufferedInputFile(data, filename=f"exam-{rep.exam.id}.xlsx"),
                                caption=_("exams.xlsx_caption", title=rep.exam.title), protect_content=True)


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(exams_cmd, Command("exams"))
    cq = router.callback_query
    cq.register(list_pressed, MenuCD.filter(F.item == MenuItem.exams))
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

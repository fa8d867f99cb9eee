"""/cancel, registered before every other router so that it works in any state. During a quiz it
leaves the round shown last: it is closed as left unfinished and stays so in /records."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message, ReplyKeyboardRemove

from bot.services import quiz
from bot.ui.quiz import QuizStates, round_title

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext

    from bot.i18n import Translator
    from bot.middlewares import Ctx


async def cancel(message: Message, state: FSMContext, ctx: Ctx, _: Translator) -> None:
    raw = await state.get_state()
    if raw is not None and raw != QuizStates.blank.state:  # a form or wizard: it stops, a quiz stays as it is
        await state.clear()
        await message.answer(_("cancel.done"), reply_markup=ReplyKeyboardRemove())
        return
    left = await quiz.leave(ctx.store, ctx.clock, ctx.actor)
    if raw is not None:
        await state.clear()
    if left is None:
        await message.answer(_("cancel.done" if raw else "cancel.nothing"), reply_markup=ReplyKeyboardRemove())
        return
    text = _("quiz.left", title=round_title(_, left))
    if left.kind == "weekly" and left.scored:
        text += "\n" + _("quiz.left_weekly")
    await message.answer(text, reply_markup=ReplyKeyboardRemove())


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cancel, F.text.casefold().in_({"cancel", "取消"}))
    router.message.register(cancel, Command("cancel"))

    return router

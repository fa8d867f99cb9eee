"""/cancel, registered before every other router so that it works in any state."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message, ReplyKeyboardRemove

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext

    from bot.i18n import Translator


async def cancel(message: Message, state: FSMContext, _: Translator) -> None:
    if await state.get_state() is None:
        await message.answer(_("cancel.nothing"), reply_markup=ReplyKeyboardRemove())
        return
    await state.clear()
    await message.answer(_("cancel.done"), reply_markup=ReplyKeyboardRemove())


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cancel, F.text.casefold().in_({"cancel", "取消"}))
    router.message.register(cancel, Command("cancel"))

    return router

"""The registered user's main menu (profile view) and their organisations."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart

from bot.flows import verification
from bot.services import learner
from bot.ui.menu import MenuCD, MenuItem, memberships_text, send_main_menu
from bot.ui.workflows import open_payload

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext
    from aiogram.types import CallbackQuery, Message

    from bot.i18n import Translator
    from bot.middlewares import Ctx
    from bot.services.roles import Actor


async def start(message: Message, command: CommandObject, ctx: Ctx, _: Translator, **data: Any) -> None:
    if command.args:
        await open_payload(command.args, message, _=_, **data)
        return
    await send_main_menu(message, ctx.actor, _)


async def my_orgs(query: CallbackQuery, message: Message, ctx: Ctx, _: Translator) -> None:
    await message.answer(memberships_text(_, await learner.memberships(ctx.store, ctx.actor)))


async def verify(query: CallbackQuery, message: Message, state: FSMContext, actor: Actor, _: Translator) -> None:
    await verification.begin(message, state, actor, _)


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(start, CommandStart())
    router.callback_query.register(my_orgs, MenuCD.filter(F.item == MenuItem.orgs))

    router.callback_query.register(verify, MenuCD.filter(F.item == MenuItem.verify))

    return router

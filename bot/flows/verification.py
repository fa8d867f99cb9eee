"""RNV-1…3: /verify — real name, then the 18-digit ID number. Needed by admins only.

A flow that needs verification (creating an organisation, becoming an admin) calls `begin` with
`after=` naming what to resume (bot/ui/workflows.py); the ID number is never put into FSM data,
logs or replies, and the message carrying it is deleted from the chat once read. The inbox keeps the
message with the number redacted (bot/redaction.py): one read back after a restart gets the person
asked again (services/idcard.py raises rnv.not_kept), the flow still at this step.

`PendingAdminGate` is the one place that sends an admin who has not verified yet to /verify: the
composition root sets it on the admin routers, and a handler opts in with the flag
`rnv=<command to resume>` (RNV-1).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware, F, Router
from aiogram.dispatcher.flags import get_flag
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.errors import DomainError
from bot.services import orgs, verification
from bot.ui.registration import Verify, VerifyData
from bot.ui.workflows import resume_after_verify

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiogram.fsm.context import FSMContext

    from bot.i18n import Translator
    from bot.middlewares import Ctx
    from bot.services.roles import Actor

log = logging.getLogger(__name__)

# handler flags read by PendingAdminGate
RNV = "rnv"  # the command to run once verified ("org" shows the organisation card)
RNV_OPERATOR_OK = "rnv_operator_ok"  # an operator needs no organisation for this command


async def begin(message: Message, state: FSMContext, actor: Actor, _: Translator,
                after: dict[str, Any] | None = None) -> None:
    if actor.user.verified:
        await message.answer(_("rnv.already", name=actor.user.real_name, masked=actor.user.id_masked))
        return
    await state.set_state(Verify.real_name)
    await state.set_data({"after": after} if after else {})
    await message.answer(_("rnv.intro") if after is None else _("rnv.needed"))
    await message.answer(_("rnv.ask_name"))


class PendingAdminGate(BaseMiddleware):
    """RNV-1 for admin commands: an admin who has not verified yet is sent to verify first, and the
    command (/org, /members, /template, /export, /import, /invite, /audit) resumes afterwards."""

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        command = get_flag(data, RNV)
        actor: Actor | None = data.get("actor")
        if command is None or actor is None or actor.admin_org_ids:
            return await handler(event, data)
        if actor.is_operator and get_flag(data, RNV_OPERATOR_OK):
            return await handler(event, data)
        message = event.message if isinstance(event, CallbackQuery) else event
        if not isinstance(message, Message) or not await orgs.pending_admin_org_ids(data["store"], actor):
            return await handler(event, data)
        await begin(message, data["state"], actor, data["_"], after={"action": "become_admin", "command": command})
        return None


async def verify_cmd(message: Message, state: FSMContext, actor: Actor, _: Translator) -> None:
    await begin(message, state, actor, _)


async def got_name(message: Message, state: FSMContext, _: Translator) -> None:
    name = verification.check_real_name(message.text or "")
    await state.update_data(real_name=name)
    await state.set_state(Verify.id_number)
    await message.answer(_("rnv.ask_id"))


async def got_id(message: Message, state: FSMContext, ctx: Ctx, _: Translator, **data: Any) -> None:
    flow = await VerifyData.load(state)
    try:
        await ctx.bot.delete_message(message.chat.id, message.message_id)
    except Exception:  # noqa: BLE001 - not fatal: the number is still never stored
        log.info("could not delete the ID-number message of user %s", ctx.actor.id)
    try:
        masked = await verification.verify(ctx.store, ctx.clock, ctx.settings.secret_key, ctx.actor.id,
                                           flow.real_name, message.text or "")
    except DomainError as exc:
        await message.answer(_(f"errors.{exc.key}", **exc.params) + "\n" + _("rnv.try_again"))
        return
    await state.clear()
    await message.answer(_("rnv.done", name=flow.real_name, masked=masked))
    after = flow.after
    if after:
        await resume_after_verify(after, message, state=state, _=_, **data)


async def wrong_kind(message: Message, _: Translator) -> None:
    await message.answer(_("rnv.text_only"))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(verify_cmd, Command("verify"))
    router.message.register(got_name, Verify.real_name, F.text)

    router.message.register(got_id, Verify.id_number, F.text)
    router.message.register(wrong_kind, Verify.id_number)
    router.message.register(wrong_kind, Verify.real_name)

    return router

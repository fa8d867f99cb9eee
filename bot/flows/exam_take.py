"""Taking a special exam (LEARN-6): a header message with the absolute deadline and the time left,
one message per question (a press re-renders the pressed message), typed answers for blanks,
submit (asking first when questions are unanswered), and the due work the sweep runs: the
deadline's policy, the countdown edits and the 5- and 1-minute reminders.

The countdown edits share the outbox's rate limiter, and their interval grows with the number of
attempts running (services.exams.tick_interval), so edits plus sends stay under the configured
rate. A countdown edit never holds up the sweep: it runs beside it, and one that finds the
limiter's queue long is skipped (the next tick shows the time anyway).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.clock import Clock
from bot.i18n import I18n, Translator
from bot.outbox import Outbox
from bot.pacing import RateLimiter
from bot.repositories.due import DueItem
from bot.repositories.exams import DEADLINE, PUBLISH, REMIND, TICK
from bot.services import exam_attempts, exams
from bot.services.roles import Actor
from bot.store import Store
from bot.ui.exam_view import (
    deadline_pushes,
    header_text,
    publish_notices,
    question_text,
    reminder_push,
    result_text,
    review_texts,
)
from bot.ui.exams import AnsAct, BlankAnswer, ExamAnsCD, ExamTake, confirm_submit_kb, list_kb, question_kb

if TYPE_CHECKING:
    from bot.middlewares import Ctx

log = logging.getLogger(__name__)

DEFAULT_RATE = 28.0


def rate_of(outbox: Outbox | None) -> float:
    return float(outbox.limiter.per_second) if outbox is not None else DEFAULT_RATE


async def _sync_state(state: FSMContext, v: exam_attempts.View) -> None:
    """The blank state follows the question shown: set for a blank, cleared otherwise."""
    if v.item.question.kind == "blank" and v.attempt.status == "open":
        await BlankAnswer(t=v.attempt.id, p=v.position).begin(state, ExamTake.blank)
    elif await state.get_state() == ExamTake.blank.state:
        await state.clear()


def _question(_: Translator, v: exam_attempts.View, clock: Clock) -> tuple[str, Any]:
    item = v.item
    text = question_text(_, _.locale, v, clock.tz)
    kb = question_kb(_, _.locale, v.attempt.id, v.position, len(v.answers), item.question, item.answer,
                     v.attempt.status == "grace")
    return text, kb


async def send_attempt(bot: Bot, chat_id: int, store: Store, clock: Clock, actor: Actor, attempt_id: int,
                       _: Translator, state: FSMContext) -> None:
    """Start or continue (断点续答): a fresh header (the countdown edits it) and the question to answer."""
    v = await exam_attempts.view(store, clock, actor, attempt_id)
    header = await bot.send_message(chat_id, header_text(_, v.exam, v.attempt, v.now, clock.tz))
    await exam_attempts.set_header(store, actor, v.attempt.id, header.message_id)
    text, kb = _question(_, v, clock)
    await bot.send_message(chat_id, text, reply_markup=kb)
    await _sync_state(state, v)


async def _edit(bot: Bot, message: Message, text: str, kb: Any) -> None:
    try:
        await bot.edit_message_text(text=text, chat_id=message.chat.id, message_id=message.message_id,
                                    reply_markup=kb)
    except TelegramBadRequest as exc:  # "message is not modified": what counts is stored
        log.debug("exam edit skipped: %s", exc)


async def show_result(bot: Bot, chat_id: int, res: exam_attempts.Result, _: Translator,
                      message: Message | None = None) -> None:
    """The result (editing the pressed message when there is one), then the review."""
    text = result_text(_, res)
    if message is not None:
        await _edit(bot, message, text, list_kb(_))
    else:
        await bot.send_message(chat_id, text, reply_markup=list_kb(_))
    for chunk in review_texts(_, _.locale, res.answers):
        await bot.send_message(chat_id, chunk)


# -- handlers ----------------------------------------------------------------------------------------
async def option_pressed(query: CallbackQuery, message: Message, callback_data: ExamAnsCD, ctx: Ctx,
                         state: FSMContext) -> None:
    v = await exam_attempts.answer(ctx.store, ctx.clock, ctx.actor, callback_data.t, callback_data.p,
                                   option=callback_data.o)
    text, kb = _question(ctx.t, v, ctx.clock)
    await _edit(ctx.bot, message, text, kb)
    await _sync_state(state, v)


async def nav_pressed(query: CallbackQuery, message: Message, callback_data: ExamAnsCD, ctx: Ctx,
                      state: FSMContext) -> None:
    if callback_data.p < 0:  # "keep going" under the submit question: the first unanswered one
        v = await exam_attempts.view(ctx.store, ctx.clock, ctx.actor, callback_data.t)
    else:
        step = 1 if callback_data.act == AnsAct.NEXT else -1
        v = await exam_attempts.move(ctx.store, ctx.clock, ctx.actor, callback_data.t, callback_data.p + step)
    text, kb = _question(ctx.t, v, ctx.clock)
    await _edit(ctx.bot, message, text, kb)
    await _sync_state(state, v)


async def submit_pressed(query: CallbackQuery, message: Message, callback_data: ExamAnsCD, ctx: Ctx,
                         state: FSMContext) -> None:
    _ = ctx.t
    sure = callback_data.act == AnsAct.SURE
    try:
        res = await exam_attempts.submit(ctx.store, ctx.clock, ctx.actor, callback_data.t, confirmed=sure)
    except exams.NeedsConfirm as exc:
        await message.answer(_("exams.confirm_unanswered", **exc.params),
                             reply_markup=confirm_submit_kb(_, callback_data.t))
        return
    if await state.get_state() == ExamTake.blank.state:
        await state.clear()
    await show_result(ctx.bot, ctx.actor.id, res, _, message)


async def blank_typed(message: Message, state: FSMContext, ctx: Ctx) -> None:
    data = await BlankAnswer.load(state)
    v = await exam_attempts.answer(ctx.store, ctx.clock, ctx.actor, data.t, data.p, text=message.text or "")
    text, kb = _question(ctx.t, v, ctx.clock)
    await message.answer(text, reply_markup=kb)
    await _sync_state(state, v)


def build_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(option_pressed, ExamAnsCD.filter(F.act == AnsAct.OPTION))
    router.callback_query.register(nav_pressed, ExamAnsCD.filter(F.act.in_({AnsAct.NEXT, AnsAct.PREV})))
    router.callback_query.register(submit_pressed, ExamAnsCD.filter(F.act.in_({AnsAct.SUBMIT, AnsAct.SURE})))
    router.message.register(blank_typed, ExamTake.blank, F.text, ~F.text.startswith("/"))
    return router


# -- the sweep's due work --------------------------------------------------------------------------------
class ExamDueWork:
    """The handlers of the exam kinds of due work (bot/scheduler.py's Sweeper), each idempotent."""

    def __init__(self, store: Store, clock: Clock, i18n: I18n, bot: Bot, outbox: Outbox | None) -> None:
        self.store, self.clock, self.i18n, self.bot, self.outbox = store, clock, i18n, bot, outbox
        self._edits: set[asyncio.Task[None]] = set()
        self.edits_sent = 0
        # countdown edits take at most their share of the rate, then a place in the outbox's own budget
        self._edit_budget = RateLimiter(max(1.0, rate_of(outbox) * exams.EDIT_SHARE), 0.0)

    def handlers(self) -> dict[str, Any]:
        return {DEADLINE: self.deadline, TICK: self.tick, REMIND: self.remind, PUBLISH: self.publish}

    def _wake(self) -> None:
        if self.outbox is not None:
            self.outbox.wake()

    async def deadline(self, item: DueItem, now: datetime) -> None:
        parts = item.ref.split(":")  # attempt:<id> or attempt:<id>:grace
        outcome = await exam_attempts.apply_deadline(self.store, self.clock, int(parts[1]), len(parts) > 2,
                                             deadline_pushes(self.i18n, self.clock.tz))
        if outcome is not None and outcome.what != "none":
            self._wake()

    async def remind(self, item: DueItem, now: datetime) -> None:
        _kind, attempt_id, minutes = item.ref.split(":")
        tz = self.clock.tz

        def build(attempt: Any, exam: Any, left: int, at: datetime) -> dict[str, Any]:
            return reminder_push(self.i18n, tz, attempt, exam, left, at)

        if await exam_attempts.remind(self.store, self.clock, int(attempt_id), int(minutes), build):
            self._wake()

    async def publish(self, item: DueItem, now: datetime) -> None:
        if await exams.publish_due(self.store, int(item.ref.split(":")[1]), self.clock.now(),
                                   publish_notices(self.i18n, self.clock.tz)):
            self._wake()

    async def tick(self, item: DueItem, now: datetime) -> None:
        shown = await exam_attempts.countdown(self.store, self.clock, int(item.ref.split(":")[1]), rate_of(self.outbox))
        if shown is None or len(self._edits) > rate_of(self.outbox) * 5:
            return  # nothing to edit, or the edits are far behind: the next step shows the time anyway
        task = asyncio.ensure_future(self._edit_header(shown[0].id, shown[0].user_id))
        self._edits.add(task)
        task.add_done_callback(self._edits.discard)

    async def _edit_header(self, attempt_id: int, chat_id: int) -> None:
        await self._edit_budget.acquire(0)
        shown = await exam_attempts.header_now(self.store, attempt_id)  # still open after the wait for its share?
        if shown is None:
            return
        attempt, exam = shown
        _ = self.i18n.translator(self.i18n.pick(attempt.language))
        try:
            await self._send_edit(_, exam, attempt, chat_id)
        except TelegramRetryAfter as exc:  # 429: the whole budget waits, this edit is dropped
            if self.outbox is not None:
                self.outbox.limiter.pause(exc.retry_after)
        except TelegramBadRequest:  # "message is not modified", a deleted header: nothing to do
            pass
        except TelegramAPIError as exc:
            log.info("countdown edit for attempt %s failed: %s", attempt_id, exc)

    async def _send_edit(self, _: Translator, exam: Any, attempt: Any, chat_id: int) -> None:
        """The edit inside the outbox's limiter slot: it counts against the one rate the pushes keep, from
        its start until a second after it ended, like a push (so edits + sends stay within the rate)."""
        text = header_text(_, exam, attempt, self.clock.now(), self.clock.tz)
        if self.outbox is None:
            await self.bot.edit_message_text(text=text, chat_id=attempt.user_id, message_id=attempt.header_id)
        else:
            async with self.outbox.limiter.slot(chat_id):
                await self.bot.edit_message_text(text=text, chat_id=attempt.user_id, message_id=attempt.header_id)
        self.edits_sent += 1

    async def drain(self) -> None:
        """Waits for the countdown edits in flight (tests and the bench)."""
        while self._edits:
            await asyncio.gather(*list(self._edits), return_exceptions=True)

"""Daily, weekly and challenge quizzes and wrong-book practice (LEARN-2, 3, 5).

A question is one message; its buttons carry (attempt, position, option) only. A press re-renders
the pressed message alone; a typed blank answer gets the next question as a new message. The
service re-checks owner, open attempt and shown position on every press (fair play, SEC-4).
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.clock import Clock
from bot.errors import DomainError
from bot.filters import Registered
from bot.notify import translator_for
from bot.outbox import Outbox, text_push
from bot.services import orgs, quiz, users, wrongbook
from bot.services.quiz import Result, Shown, Unanswered
from bot.services.roles import Actor
from bot.store import Store
from bot.ui.menu import MenuCD, MenuItem
from bot.ui.quiz import (
    BlankData,
    QuizCD,
    QuizStates,
    WeeklyAction,
    WeeklyCD,
    WrongbookAction,
    WrongbookCD,
    after_kb,
    question_kb,
    question_text,
    review_texts,
    summary_text,
    timed_out_question_text,
    timeout_push_text,
    unanswered_kb,
    unanswered_text,
    wrongbook_kb,
    wrongbook_text,
)

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext
    from aiogram.types import CallbackQuery, Message
    from aiogram.utils.callback_answer import CallbackAnswer

    from bot.i18n import I18n, Translator
    from bot.middlewares import Ctx

log = logging.getLogger(__name__)

Starter = Callable[[Store, Clock, Actor], Awaitable[Shown]]


# the main-menu items that start a round at once
STARTERS: dict[str, Starter] = {MenuItem.quiz: quiz.start_daily, MenuItem.challenge: quiz.start_challenge}

Outcome = Shown | Result | Unanswered


async def _sync_state(state: FSMContext, raw_state: str | None, out: Outcome | None) -> None:
    """The blank state follows the question shown: set for a blank, cleared otherwise (the submit
    question leaves it as it is: going back shows the question again)."""
    if isinstance(out, Unanswered):
        return
    if isinstance(out, Shown) and out.item.question.kind == "blank":
        await state.set_state(QuizStates.blank)
        await state.set_data(BlankData(t=out.head.id, p=out.item.position).model_dump())
    elif raw_state == QuizStates.blank.state:
        await state.clear()


async def _send_outcome(message: Message, store: Store, out: Shown | Result, locale: str, _: Translator) -> None:
    if isinstance(out, Shown):
        sent = await message.answer(question_text(_, locale, out), reply_markup=question_kb(_, locale, out))
        await quiz.remember_message(store, out.head, sent.message_id)  # a challenge's time-out edits it
        return
    await message.answer(summary_text(_, out, locale), reply_markup=after_kb(_, out))
    for text in review_texts(_, locale, out):
        await message.answer(text)


async def _edit_outcome(bot: Bot, query: CallbackQuery, out: Outcome, locale: str, _: Translator) -> None:
    """Re-renders the pressed message only (a result also sends the review below it)."""
    if query.message is None:
        return
    chat_id, message_id = query.message.chat.id, query.message.message_id
    try:
        if isinstance(out, Shown):
            await bot.edit_message_text(text=question_text(_, locale, out), chat_id=chat_id, message_id=message_id,
                                        reply_markup=question_kb(_, locale, out))
            return
        if isinstance(out, Unanswered):
            await bot.edit_message_text(text=unanswered_text(_, out), chat_id=chat_id, message_id=message_id,
                                        reply_markup=unanswered_kb(_, out))
            return
        await bot.edit_message_text(text=summary_text(_, out, locale), chat_id=chat_id, message_id=message_id,
                                    reply_markup=after_kb(_, out))
    except TelegramBadRequest as exc:  # "message is not modified" and the like: the state is what counts
        log.debug("quiz edit skipped: %s", exc)
    if isinstance(out, Result):
        for text in review_texts(_, locale, out):
            await bot.send_message(chat_id, text)


async def _begin(message: Message, starter: Starter, store: Store, clock: Clock, actor: Actor, locale: str,
                 _: Translator, state: FSMContext, raw_state: str | None) -> None:
    try:
        shown = await starter(store, clock, actor)
    except DomainError as exc:
        await message.answer(_(f"errors.{exc.key}", **exc.params))
        return
    await _send_outcome(message, store, shown, locale, _)
    await _sync_state(state, raw_state, shown)


async def _weekly_entry(message: Message, store: Store, clock: Clock, actor: Actor, locale: str, _: Translator,
                        state: FSMContext, raw_state: str | None) -> None:
    """Admins and the operator first see the publish entries; everybody else starts at once."""
    if not actor.admin_org_ids and not actor.is_operator:
        await _begin(message, quiz.start_weekly, store, clock, actor, locale, _, state, raw_state)
        return
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("quiz.btn_weekly_start"), callback_data=WeeklyCD(act=WeeklyAction.start))
    if actor.is_operator:
        kb.button(text=_.label("quiz.btn_weekly_publish_global"), callback_data=WeeklyCD(act=WeeklyAction.pub, org=0))
    for org in await orgs.orgs_by_ids(store, actor.admin_org_ids):
        kb.button(text=_.label("quiz.btn_weekly_publish", org=org.name),
                  callback_data=WeeklyCD(act=WeeklyAction.pub, org=org.id))
    kb.adjust(1)
    await message.answer(_("quiz.weekly_panel", period=quiz.week_period(clock.today()), size=quiz.WEEKLY_SIZE),
                         reply_markup=kb.as_markup())


async def _wrongbook_page(message: Message, store: Store, actor: Actor, locale: str, _: Translator,
                          offset: int, edit: bool) -> None:
    page = await wrongbook.page(store, actor, offset)
    text, kb = wrongbook_text(_, locale, page), wrongbook_kb(_, page)
    if edit:
        try:
            await message.edit_text(text, reply_markup=kb)
        except TelegramBadRequest:
            pass
        return
    await message.answer(text, reply_markup=kb)


async def quiz_cmd(message: Message, **deps: Any) -> None:
    await _begin(message, quiz.start_daily, **_deps(deps))


async def start_btn(query: CallbackQuery, message: Message, callback_data: MenuCD, **deps: Any) -> None:
    await _begin(message, STARTERS[callback_data.item], **_deps(deps))


async def weekly_cmd(message: Message, **deps: Any) -> None:
    await _weekly_entry(message, **_deps(deps))


async def weekly_btn(query: CallbackQuery, message: Message, **deps: Any) -> None:
    await _weekly_entry(message, **_deps(deps))


async def weekly_start(query: CallbackQuery, message: Message, **deps: Any) -> None:
    await _begin(message, quiz.start_weekly, **_deps(deps))


async def weekly_publish(query: CallbackQuery, message: Message, callback_data: WeeklyCD, ctx: Ctx,
                         _: Translator) -> None:
    count = await quiz.publish_weekly(ctx.store, ctx.clock, ctx.actor, callback_data.org)
    await message.answer(_("quiz.weekly_published", count=count,
                           period=quiz.week_period(ctx.clock.today())))


async def wrongbook_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    await _wrongbook_page(message, ctx.store, ctx.actor, ctx.locale, _, 0, edit=False)


async def wrongbook_btn(query: CallbackQuery, message: Message, ctx: Ctx, _: Translator) -> None:
    await _wrongbook_page(message, ctx.store, ctx.actor, ctx.locale, _, 0, edit=False)


async def wrongbook_more(query: CallbackQuery, message: Message, callback_data: WrongbookCD, ctx: Ctx,
                         _: Translator) -> None:
    await _wrongbook_page(message, ctx.store, ctx.actor, ctx.locale, _, callback_data.off, edit=True)


async def wrongbook_practice(query: CallbackQuery, message: Message, **deps: Any) -> None:
    await _begin(message, wrongbook.start_practice, **_deps(deps))


async def typed(message: Message, ctx: Ctx, _: Translator, state: FSMContext, raw_state: str | None) -> None:
    shown = await BlankData.load(state)
    try:
        out = await quiz.type_answer(ctx.store, ctx.clock, ctx.actor, shown.t, shown.p, message.text or "")
    except quiz.Stale as exc:
        await state.clear()
        await message.answer(_(f"errors.{exc.key}"))
        return
    except DomainError as exc:  # e.g. the wrong number of blanks: the question stays
        await message.answer(_(f"errors.{exc.key}", **exc.params))
        return
    await _send_outcome(message, ctx.store, out, ctx.locale, _)
    await _sync_state(state, raw_state, out)


async def not_text(message: Message, _: Translator) -> None:
    await message.answer(_("quiz.type_text"))


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(quiz_cmd, Command("quiz"))
    router.callback_query.register(start_btn, MenuCD.filter(F.item.in_(tuple(STARTERS))))

    router.message.register(weekly_cmd, Command("weekly"))
    router.callback_query.register(weekly_btn, MenuCD.filter(F.item == MenuItem.weekly))

    router.callback_query.register(weekly_start, WeeklyCD.filter(F.act == WeeklyAction.start))
    router.callback_query.register(weekly_publish, WeeklyCD.filter(F.act == WeeklyAction.pub))

    router.message.register(wrongbook_cmd, Command("wrongbook"))
    router.callback_query.register(wrongbook_btn, MenuCD.filter(F.item == MenuItem.wrongbook))

    router.callback_query.register(wrongbook_more, WrongbookCD.filter(F.act == WrongbookAction.page))
    router.callback_query.register(wrongbook_practice, WrongbookCD.filter(F.act == WrongbookAction.practice))

    router.message.register(typed, QuizStates.blank, F.text, ~F.text.startswith("/"))
    router.message.register(not_text, QuizStates.blank, ~F.text)

    return router


async def press(query: CallbackQuery, callback_data: QuizCD, ctx: Ctx, state: FSMContext, raw_state: str | None,
                callback_answer: CallbackAnswer, replaying: bool = False) -> None:
    cd, _ = callback_data, ctx.t
    try:
        if cd.a == "o":
            out: Outcome = await quiz.choose(ctx.store, ctx.clock, ctx.actor, cd.t, cd.p, cd.o)
        elif cd.a == "c":
            out = await quiz.confirm(ctx.store, ctx.clock, ctx.actor, cd.t, cd.p)
        elif cd.a in ("n", "b"):
            out = await quiz.move(ctx.store, ctx.clock, ctx.actor, cd.t, cd.p, forward=cd.a == "n")
        elif cd.a in ("s", "f"):  # submit; f: submit anyway, unanswered questions and all
            out = await quiz.submit(ctx.store, ctx.clock, ctx.actor, cd.t, force=cd.a == "f")
        elif cd.a == "u":
            out = await quiz.to_unanswered(ctx.store, ctx.clock, ctx.actor, cd.t, cd.p)
        else:
            raise quiz.Stale("quiz.bad_option")
    except quiz.Stale as exc:  # a replayed, forged or outdated press: a short note, nothing changes
        again = None
        if replaying:  # killed after the press's commit, before its reply: where the round is now
            again = await quiz.shown_again(ctx.store, ctx.clock, ctx.actor, cd.t)
        if again is None:
            callback_answer.text = _.label(f"errors.{exc.key}")
            return
        out = again
    await _edit_outcome(ctx.bot, query, out, ctx.locale, _)
    await _sync_state(state, raw_state, out)


def build_answer_router() -> Router:
    """The answer path alone (every quiz button press). It is registered early among the routers:
    no other router handles `qz:` data, and aiogram runs each plain magic filter of the routers
    tried before it in a worker thread, which would cost the hot path a dozen thread hops."""
    router = Router(name=__name__ + ".answers")
    router.callback_query.filter(Registered())
    router.callback_query.register(press, QuizCD.filter())

    return router


def timeout_notifier(bot: Bot, outbox: Outbox, i18n: I18n, store: Store) -> quiz.TimeoutNotice:
    """What the sweep calls for a challenge it ended at the time limit (bot/app.py wires it): a push
    through the outbox tells the result (the right answer, the streak, the points), enqueued in the
    transaction that ends the challenge; once that committed, the question's message loses its
    buttons and says time is up (an edit: best effort, it may be gone)."""

    async def notify(result: Result) -> quiz.AfterCommit | None:
        head = result.head
        user = await users.get_user(store, head.user_id)
        if user is None or not result.items:
            return None
        _ = translator_for(i18n, user)
        await outbox.enqueue(text_push(head.user_id, timeout_push_text(_, _.locale, result),
                                       reply_markup=after_kb(_, result), dedupe_key=f"challenge-timeout:{head.id}"))
        message_id = head.message_id
        if message_id is None:
            return None

        async def edit() -> None:
            try:
                await bot.edit_message_text(text=timed_out_question_text(_, _.locale, result), chat_id=head.user_id,
                                            message_id=message_id, reply_markup=None)
            except TelegramAPIError as exc:  # deleted, too old, not modified: the push has told them
                log.info("challenge %s: the timed-out question was not edited: %s", head.id, exc)

        return edit

    return notify


def _deps(deps: dict[str, Any]) -> dict[str, Any]:
    return {k: deps.get(k) for k in ("store", "clock", "actor", "locale", "_", "state", "raw_state")}

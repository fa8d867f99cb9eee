"""A question bank's pages, one question, retire / restore (LEARN-1). Reached from an organisation's
card (📚 题库) and from an import's summary; every press re-checks that the presser keeps that bank."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.services import question_bank
from bot.services.quiz import LETTERS
from bot.ui.imports import GLOBAL
from bot.ui.question_bank import BankAction, BankCD
from bot.ui.quiz import answer_label
from bot.ui.screens import show_screen

if TYPE_CHECKING:
    from aiogram.utils.callback_answer import CallbackAnswer

    from bot.i18n import Translator
    from bot.middlewares import Ctx
    from bot.models import Question
    from bot.services.question_bank import BankPage, BankQuestion

SHORT = 36  # characters of a stem in the list


def _bank_name(_: Translator, page: BankPage | BankQuestion) -> str:
    return page.org.name if page.org is not None else _("questions.global_bank")


def _bank_id(page: BankPage | BankQuestion) -> int:
    return page.org.id if page.org is not None else GLOBAL


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHORT else text[:SHORT - 1] + "…"


def page_text(_: Translator, locale: str, page: BankPage) -> str:
    head = _("bank.title", bank=_bank_name(_, page), active=page.active, retired=page.retired)
    if not page.entries:
        return head + "\n\n" + _("bank.empty")
    lines = [head, _("bank.range", first=page.offset + 1, last=page.offset + len(page.entries), total=page.total), ""]
    for n, (q, retired) in enumerate(page.entries, start=1):
        lines.append(_("bank.line_retired" if retired else "bank.line", n=n, id=q.id,
                       kind=_(f"questions.kind.{q.kind}"), stem=_short(q.text(locale).stem)))
    return "\n".join(lines)


def page_kb(_: Translator, page: BankPage) -> InlineKeyboardMarkup:
    org = _bank_id(page)
    kb = InlineKeyboardBuilder()
    for n, (q, _retired) in enumerate(page.entries, start=1):
        kb.button(text=str(n), callback_data=BankCD(act=BankAction.open, org=org, off=page.offset, q=q.id))
    kb.adjust(4)
    nav = []
    if page.offset > 0:
        nav.append(InlineKeyboardButton(text=_("bank.btn_prev"), callback_data=BankCD(
            act=BankAction.page, org=org, off=page.offset - question_bank.PAGE).pack()))
    if page.offset + question_bank.PAGE < page.total:
        nav.append(InlineKeyboardButton(text=_("bank.btn_next"), callback_data=BankCD(
            act=BankAction.page, org=org, off=page.offset + question_bank.PAGE).pack()))
    if nav:
        kb.row(*nav)
    return kb.as_markup()


def _answer(_: Translator, q: Question, locale: str) -> str:
    if q.kind == "blank":  # every accepted answer of every blank (a quiz shows the first of each)
        return "；".join(" / ".join(accepted) for accepted in q.answer)
    return answer_label(_, q, locale, q.answer)


def question_text(_: Translator, locale: str, item: BankQuestion) -> str:
    q = item.question
    t = q.text(locale)
    lines = [_("bank.question_head", id=q.id, kind=_(f"questions.kind.{q.kind}"), bank=_bank_name(_, item))]
    if item.retired:
        lines.append(_("bank.is_retired"))
    lines += ["", _("bank.stem", stem=t.stem)]
    if q.kind in ("single", "multiple"):
        lines += [_("bank.option", letter=LETTERS[i], text=o) for i, o in enumerate(t.options)]
    lines += ["", _("bank.answer", answer=_answer(_, q, locale))]
    lines.append(_("bank.explanation", text=t.explanation) if t.explanation else _("bank.no_explanation"))
    if q.tags:
        lines.append(_("bank.tags", tags=q.tags))
    lines.append(_("bank.english_yes") if "en" in q.texts else _("bank.english_no"))
    return "\n".join(lines)


def question_kb(_: Translator, item: BankQuestion, off: int) -> InlineKeyboardMarkup:
    org = _bank_id(item)
    kb = InlineKeyboardBuilder()
    if item.retired:
        kb.button(text=_("bank.btn_restore"),
                  callback_data=BankCD(act=BankAction.restore, org=org, off=off, q=item.question.id))
    else:
        kb.button(text=_("bank.btn_retire"),
                  callback_data=BankCD(act=BankAction.retire, org=org, off=off, q=item.question.id))
    kb.button(text=_("bank.btn_back"), callback_data=BankCD(act=BankAction.page, org=org, off=off))
    kb.adjust(1)
    return kb.as_markup()


async def show_page(query: CallbackQuery, message: Message, callback_data: BankCD, ctx: Ctx, _: Translator) -> None:
    page = await question_bank.page(ctx.store, ctx.actor, callback_data.org or None, callback_data.off)
    await show_screen(message, page_text(_, ctx.locale, page), page_kb(_, page), new=bool(callback_data.new))


async def open_question(query: CallbackQuery, message: Message, callback_data: BankCD, ctx: Ctx,
                        _: Translator) -> None:
    item = await question_bank.question(ctx.store, ctx.actor, callback_data.q)
    await show_screen(message, question_text(_, ctx.locale, item), question_kb(_, item, callback_data.off))


async def retire(query: CallbackQuery, message: Message, callback_data: BankCD, ctx: Ctx, _: Translator,
                 callback_answer: CallbackAnswer) -> None:
    retiring = callback_data.act == BankAction.retire
    item = await question_bank.set_retired(ctx.store, ctx.clock, ctx.actor, callback_data.q, retiring)
    await show_screen(message, question_text(_, ctx.locale, item), question_kb(_, item, callback_data.off))
    callback_answer.text = _("bank.retired" if item.retired else "bank.restored")


def build_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(show_page, BankCD.filter(F.act == BankAction.page))
    router.callback_query.register(open_question, BankCD.filter(F.act == BankAction.open))

    router.callback_query.register(retire, BankCD.filter(F.act.in_({BankAction.retire, BankAction.restore})))

    return router

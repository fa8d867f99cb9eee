"""Texts, keyboards, callback data and state of the quizzes: one question per message, results with
explanations."""
from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from html import escape as _escape
from typing import Protocol

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from bot.models import Question
from bot.services import quiz, wrongbook
from bot.services.quiz import LETTERS, Result, Shown, Unanswered
from bot.store import AttemptHead
from bot.ui.flow_data import FlowData
from bot.ui.menu import MenuCD, MenuItem


def quote(text: str) -> str:
    return _escape(text, quote=False)


MESSAGE_LIMIT = 3800  # Telegram allows 4096; leave room for the markup of a split


_BUTTON = InlineKeyboardButton(text="-", callback_data="-")


class QuizStates(StatesGroup):
    blank = State()  # a fill-in-the-blank question is shown: the next text is its answer


class BlankData(FlowData):
    """QuizStates.blank: the attempt and position of the blank question shown."""

    COMMAND = "/quiz"
    t: int
    p: int


class QuizCD(CallbackData, prefix="qz"):
    # `a` stays a plain string, not an enum: this is the answer path's hot callback (bench/quiz_answers.py),
    # packed by pack_quiz below and parsed on every press
    a: str   # o: option, c: confirm (multiple choice), n / b: next / back, s: submit (asks when some are
    #          unanswered), f: submit anyway, u: to the first unanswered question
    t: int   # attempt id
    p: int   # the position the pressed message shows
    o: int = 0  # option index


def pack_quiz(a: str, t: int, p: int, o: int = 0) -> str:
    """QuizCD(a=a, t=t, p=p, o=o).pack(), cheaply (a test keeps the two equal)."""
    return f"qz:{a}:{t}:{p}:{o}"


class WeeklyAction(StrEnum):
    start = "start"
    pub = "pub"


class WeeklyCD(CallbackData, prefix="wk"):
    act: WeeklyAction
    org: int = 0  # pub: the organisation (0: the global set, the operator's)


class WrongbookAction(StrEnum):
    practice = "practice"
    page = "page"


class WrongbookCD(CallbackData, prefix="wb"):
    act: WrongbookAction
    off: int = 0


def _judge_labels(_: Translator, question: Question, locale: str) -> tuple[str, str]:
    options = question.text(locale).options
    return (options[0], options[1]) if len(options) == 2 else (_("quiz.true"), _("quiz.false"))


def answer_label(_: Translator, question: Question, locale: str, answer: tuple | None) -> str:
    """How an answer (given or correct) reads: letters, 正确/错误, or the typed blanks (plain text:
    the i18n layer escapes it as a parameter)."""
    if not answer:
        return _("quiz.no_answer")
    if question.kind == "judge":
        labels = _judge_labels(_, question, locale)
        return labels[0] if answer[0] == "T" else labels[1]
    if question.kind == "blank":
        return "；".join(a if isinstance(a, str) else a[0] for a in answer)
    return "、".join(answer)


def right_answer(_: Translator, question: Question, locale: str) -> str:
    """The correct answer as a person reads it: choices with their text (B. …), 正确/错误, or the
    first accepted text of each blank (plain text: the i18n layer escapes it as a parameter)."""
    if question.kind in ("single", "multiple"):
        options = question.text(locale).options
        return "；".join(f"{letter}. {options[LETTERS.index(letter)]}" if LETTERS.index(letter) < len(options)
                        else letter for letter in question.answer)
    return answer_label(_, question, locale, question.answer)


def _title(_: Translator, shown_head: AttemptHead) -> str:
    if shown_head.kind == "weekly" and not shown_head.scored:
        return _("quiz.title.weekly_practice")
    return _(f"quiz.title.{shown_head.kind}")


def question_text(_: Translator, locale: str, shown: Shown) -> str:
    head, item = shown.head, shown.item
    q = item.question
    t = q.text(locale)
    lines = []
    if shown.note:
        lines.append(_(f"quiz.note.{shown.note}", streak=shown.streak))
    kind = _(f"quiz.kind.{q.kind}")
    if head.kind == "challenge":
        lines.append(_("quiz.header_challenge", n=head.position + 1, kind=kind, seconds=quiz.CHALLENGE_SECONDS))
    else:
        lines.append(_("quiz.header", title=_title(_, head), n=item.position + 1, total=head.total, kind=kind))
    lines.append("")
    lines.append(quote(t.stem))
    if q.kind in ("single", "multiple"):
        lines.append("")
        lines.extend(f"{LETTERS[i]}. {quote(opt)}" for i, opt in enumerate(t.options))
    if q.kind == "blank":
        lines.append("")
        lines.append(_("quiz.blank_hint") if q.blanks <= 1 else _("quiz.blanks_hint", blanks=q.blanks))
    if item.answer:
        lines.append("")
        lines.append(_("quiz.your_answer", answer=answer_label(_, q, locale, item.answer)))
    return "\n".join(lines)


def question_kb(_: Translator, locale: str, shown: Shown) -> InlineKeyboardMarkup:
    head, item = shown.head, shown.item
    q = item.question
    chosen = set(item.answer or ())
    rows: list[list[InlineKeyboardButton]] = []

    def button(text: str, a: str, o: int = 0) -> InlineKeyboardButton:
        # the answer path builds this on every press: a copy of one validated button is ~15x cheaper
        # than building a new one (pydantic resolves the 14 other fields' defaults each time)
        return _BUTTON.model_copy(update={"text": text, "callback_data": pack_quiz(a, head.id, item.position, o)})

    if q.kind == "judge":
        labels = _judge_labels(_, q, locale)
        rows.append([button(("✅ " if code in chosen else "") + labels[i], "o", i)
                     for i, code in enumerate(quiz.JUDGE)])
    elif q.kind in ("single", "multiple"):
        letters = [LETTERS[i] for i in range(len(q.texts["zh"].options))]
        buttons = [button(("✅ " if letter in chosen else "") + letter, "o", i) for i, letter in enumerate(letters)]
        rows.extend(buttons[i:i + 5] for i in range(0, len(buttons), 5))
        if q.kind == "multiple":
            rows.append([button(_.label("quiz.btn_confirm"), "c")])
    if head.kind != "challenge":
        nav = []
        if item.position > 0:
            nav.append(button(_.label("quiz.btn_prev"), "b"))
        if item.position < head.total - 1:
            nav.append(button(_.label("quiz.btn_next"), "n"))
        if nav:
            rows.append(nav)
        rows.append([button(_.label("quiz.btn_submit"), "s")])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def duration_text(_: Translator, seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    return _("quiz.duration_min", minutes=minutes, seconds=secs) if minutes else _("quiz.duration_sec", seconds=secs)


def _points_line(_: Translator, result: Result) -> str:
    head = result.head
    if head.kind == "practice":
        return _("quiz.points_wrongbook")
    if head.kind == "weekly" and not head.scored:
        return _("quiz.points_weekly_practice")
    if result.paid:
        line = _("quiz.points_paid", points=result.paid)
        return line + ("\n" + _(f"quiz.points_capped_{head.kind}") if result.paid < result.asked else "")
    if result.asked:
        return _(f"quiz.points_capped_{head.kind}")
    return _("quiz.points_none")


def round_title(_: Translator, head: AttemptHead) -> str:
    """The round's name as plain text, for a parameter of another message (escaped once, there)."""
    if head.kind == "weekly" and not head.scored:
        return _.label("quiz.title.weekly_practice")
    return _.label(f"quiz.title.{head.kind}")


def summary_text(_: Translator, result: Result, locale: str | None = None) -> str:
    """The round's result; a timed-out challenge question first says so and gives its right answer."""
    head = result.head
    total, correct = head.total, head.correct or 0
    lines = [_("quiz.timed_out")] if result.timed_out else []
    if result.timed_out and result.items and locale is not None:
        lines.append(_("quiz.timed_out_answer", answer=right_answer(_, result.items[-1].question, locale)))
    if head.kind == "challenge":
        lines.append(_("quiz.result_challenge", streak=correct, duration=duration_text(_, result.seconds)))
    else:
        accuracy = round(100 * correct / total) if total else 0
        lines.append(_("quiz.result", title=_title(_, head), duration=duration_text(_, result.seconds), correct=correct,
                       total=total, accuracy=accuracy))
    lines.append(_points_line(_, result))
    return "\n".join(lines)


class Answered(Protocol):
    """A question as answered in a quiz attempt or an exam attempt (QuizItem, ExamAnswer)."""

    @property
    def position(self) -> int: ...
    @property
    def question(self) -> Question: ...
    @property
    def answer(self) -> tuple[str, ...] | None: ...
    @property
    def correct(self) -> bool | None: ...


def _review_entry(_: Translator, locale: str, item: Answered) -> str:
    q = item.question
    t = q.text(locale)
    mark = "✅" if item.correct else ("❌" if item.answer else "⭕")
    stem = quote(t.stem)
    if q.kind in ("single", "multiple"):
        stem += "\n" + "\n".join(f"{LETTERS[i]}. {quote(o)}" for i, o in enumerate(t.options))
    lines = [f"{mark} <b>{item.position + 1}.</b> {stem}",
             _("quiz.review_answers", given=answer_label(_, q, locale, item.answer),
               right=answer_label(_, q, locale, q.answer))]
    if t.explanation:
        lines.append(_("quiz.explanation", text=t.explanation))
    return "\n".join(lines)


def review_texts(_: Translator, locale: str, result: Result) -> list[str]:
    return review_pages(_, locale, result.items)


def review_pages(_: Translator, locale: str, items: Iterable[Answered]) -> list[str]:
    """Each question with both answers and its explanation, split to fit Telegram's message limit
    (the quizzes' review and the exams')."""
    chunks: list[str] = []
    current = _("quiz.review_title")
    for item in items:
        entry = _review_entry(_, locale, item)[:MESSAGE_LIMIT]
        if len(current) + len(entry) + 2 > MESSAGE_LIMIT:
            chunks.append(current)
            current = entry
        else:
            current += "\n\n" + entry
    chunks.append(current)
    return chunks


def unanswered_text(_: Translator, pending: Unanswered) -> str:
    head = pending.head
    return _("quiz.unanswered", title=round_title(_, head), missing=pending.missing, total=head.total)


def unanswered_kb(_: Translator, pending: Unanswered) -> InlineKeyboardMarkup:
    head = pending.head
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=_.label("quiz.btn_submit_anyway"),
                              callback_data=pack_quiz("f", head.id, head.position))],
        [InlineKeyboardButton(text=_.label("quiz.btn_to_unanswered", n=pending.first + 1),
                              callback_data=pack_quiz("u", head.id, head.position))]])


def timed_out_question_text(_: Translator, locale: str, result: Result) -> str:
    """The challenge question the time ran out on, as its message reads afterwards (no buttons)."""
    last = result.items[-1]
    return question_text(_, locale, Shown(result.head, last)) + "\n\n" + _("quiz.timed_out_mark")


def timeout_push_text(_: Translator, locale: str, result: Result) -> str:
    """The push that tells the person their challenge timed out: the result with the right answer and
    its explanation."""
    text = summary_text(_, result, locale)
    explanation = result.items[-1].question.text(locale).explanation if result.items else ""
    return text + ("\n" + _("quiz.explanation", text=explanation) if explanation else "")


AGAIN = {"daily": MenuItem.quiz, "weekly": MenuItem.weekly, "challenge": MenuItem.challenge,
         "practice": MenuItem.wrongbook}  # the menu item that starts another round of the same kind


def after_kb(_: Translator, result: Result) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label(f"quiz.btn_again_{result.head.kind}"), callback_data=MenuCD(item=AGAIN[result.head.kind]))
    kb.button(text=_.label("quiz.btn_wrongbook"), callback_data=MenuCD(item=MenuItem.wrongbook))
    kb.adjust(1)
    return kb.as_markup()


def wrongbook_text(_: Translator, locale: str, page: wrongbook.Page) -> str:
    if not page.total:
        return _("quiz.wrongbook_empty_list")
    lines = [_("quiz.wrongbook_title", total=page.total, leave=quiz.LEAVE_WRONGBOOK_AFTER)]
    for n, entry in enumerate(page.entries, start=page.offset + 1):
        stem = entry.question.text(locale).stem
        stem = stem if len(stem) <= 60 else stem[:59] + "…"
        lines.append(_("quiz.wrongbook_line", n=n, stem=stem, wrong=entry.wrong_times, streak=entry.streak,
                       right=answer_label(_, entry.question, locale, entry.question.answer)))
        if entry.question.kind in ("single", "multiple"):  # the options, the right ones marked
            right = set(entry.question.answer)
            for i, option in enumerate(entry.question.text(locale).options):
                option = option if len(option) <= 40 else option[:39] + "…"
                mark = "✅" if LETTERS[i] in right else "▫️"
                lines.append(f"　{mark} {LETTERS[i]}. {quote(option)}")
    return "\n".join(lines)


def wrongbook_kb(_: Translator, page: wrongbook.Page) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if page.total:
        kb.button(text=_.label("quiz.btn_practice"), callback_data=WrongbookCD(act=WrongbookAction.practice))
    nav = 0
    if page.offset > 0:
        kb.button(text=_.label("quiz.btn_prev_page"),
                  callback_data=WrongbookCD(act=WrongbookAction.page, off=page.offset - wrongbook.PAGE))
        nav += 1
    if page.offset + wrongbook.PAGE < page.total:
        kb.button(text=_.label("quiz.btn_next_page"),
                  callback_data=WrongbookCD(act=WrongbookAction.page, off=page.offset + wrongbook.PAGE))
        nav += 1
    kb.adjust(*([1, nav] if nav else [1]))
    return kb.as_markup()

"""Special exams (LEARN-6): callback data (ids only), states and keyboards shared by the exam
handler and flows. Imports nothing from handlers or flows."""
from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from bot.models import Question
from bot.repositories.exams import Exam, MyExam
from bot.services.quiz import JUDGE, LETTERS
from bot.ui.flow_data import FlowData

PAGE = 8  # questions per page when picking from the bank


class ExamAct(StrEnum):
    LIST = "l"        # the member's list
    OPEN = "o"        # the rules of one exam, asking to confirm
    START = "s"       # confirmed: start (or continue) the attempt
    REVIEW = "r"      # a closed exam's explanations
    ADMIN = "a"       # the admin's list
    CARD = "c"        # one exam for its admin
    NEW = "n"         # create an exam
    EDIT = "e"        # edit (until somebody started)
    PUBLISH = "p"     # publish now
    PUBLISH_AT = "t"  # publish at a time
    RESULTS = "R"     # results message
    XLSX = "x"        # results workbook


class ExamCD(CallbackData, prefix="ex"):
    act: ExamAct
    e: int = 0


class AnsAct(StrEnum):
    OPTION = "o"
    NEXT = "n"
    PREV = "b"
    SUBMIT = "s"
    SURE = "S"        # submit although questions are unanswered / in the grace period


class ExamAnsCD(CallbackData, prefix="ea"):
    act: AnsAct
    t: int            # attempt id
    p: int = 0        # the position the pressed message shows
    o: int = 0        # option index


class NewAct(StrEnum):
    ORG = "org"
    DRAW = "drw"
    PICK = "pk"
    SHEET = "sht"
    TOGGLE = "tg"
    PAGE = "pg"
    PICKED = "dn"
    NO_TAG = "nt"
    UNLIMITED = "un"
    NO_POINTS = "np"
    POLICY = "pol"
    NOW = "now"
    LATER = "lat"
    DRAFT = "dft"


class ExamNewCD(CallbackData, prefix="en"):
    act: NewAct
    v: int = 0


POLICY_CODES = ("reset", "submit", "grace")


class ExamTake(StatesGroup):
    blank = State()   # a fill-in-the-blank question is shown: the next text is its answer


class BlankAnswer(FlowData):
    """ExamTake.blank: the attempt and the position of the blank question shown."""

    COMMAND = "/exams"
    t: int
    p: int


class ExamDraft(FlowData):
    """ExamCreate's data up to saving: the settings gathered so far (bot/flows/exam_create.py)."""

    COMMAND = "/exams"
    org_id: int
    exam_id: int | None = None  # editing a draft
    title: str = ""
    question_ids: list[int] = []
    picked: list[int] = []
    pick_offset: int = 0
    time_limit: int = 0  # seconds
    opens_at: str = ""
    closes_at: str = ""
    pass_mark: int = 0
    max_attempts: int | None = None
    points: int = 0
    policy: str = "reset"
    grace: int = 0  # seconds


class SavedExam(FlowData):
    """ExamCreate.publish / publish_at: the exam saved, waiting for when to publish it."""

    COMMAND = "/exams"
    exam_id: int


class ExamCreate(StatesGroup):
    org = State()
    title = State()
    source = State()
    count = State()
    tag = State()
    pick = State()
    sheet = State()
    time_limit = State()
    window = State()
    pass_mark = State()
    attempts = State()
    points = State()
    policy = State()
    grace = State()
    publish = State()
    publish_at = State()


def member_list_kb(_: Translator, items: list[tuple[MyExam, str]], is_admin: bool) -> InlineKeyboardMarkup:
    """items: (exam, window state: open | upcoming | closed)."""
    kb = InlineKeyboardBuilder()
    for mine, state in items:
        if mine.live is not None:
            kb.button(text=_.label("exams.btn_continue", title=mine.exam.title), callback_data=ExamCD(act=ExamAct.START,
                                                                                               e=mine.exam.id))
        elif state == "open":
            kb.button(text=_.label("exams.btn_open", title=mine.exam.title), callback_data=ExamCD(act=ExamAct.OPEN,
                                                                                           e=mine.exam.id))
        elif state == "closed" and mine.used:
            kb.button(text=_.label("exams.btn_review", title=mine.exam.title), callback_data=ExamCD(act=ExamAct.REVIEW,
                                                                                             e=mine.exam.id))
    if is_admin:
        kb.button(text=_.label("exams.btn_admin"), callback_data=ExamCD(act=ExamAct.ADMIN))
    kb.adjust(1)
    return kb.as_markup()


def rules_kb(_: Translator, exam_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("exams.btn_start"), callback_data=ExamCD(act=ExamAct.START, e=exam_id))
    kb.button(text=_.label("exams.btn_back"), callback_data=ExamCD(act=ExamAct.LIST))
    kb.adjust(1)
    return kb.as_markup()


def _option_labels(_: Translator, question: Question, locale: str) -> list[str]:
    if question.kind == "judge":
        options = question.text(locale).options
        return list(options) if len(options) == 2 else [_.label("quiz.true"), _.label("quiz.false")]
    if question.kind in ("single", "multiple"):
        return [LETTERS[i] for i in range(len(question.texts["zh"].options))]
    return []


def question_kb(_: Translator, locale: str, attempt_id: int, position: int, total: int, question: Question,
                given: tuple[str, ...] | None, grace: bool) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    chosen = set(given or ())
    sizes: list[int] = []
    if not grace:
        labels = _option_labels(_, question, locale)
        codes = list(JUDGE) if question.kind == "judge" else [LETTERS[i] for i in range(len(labels))]
        for i, (label, code) in enumerate(zip(labels, codes)):
            kb.button(text=("✅ " if code in chosen else "") + label,
                      callback_data=ExamAnsCD(act=AnsAct.OPTION, t=attempt_id, p=position, o=i))
        if labels:
            sizes.extend([min(5, len(labels) - i) for i in range(0, len(labels), 5)])
        nav = 0
        if position > 0:
            kb.button(text=_.label("quiz.btn_prev"), callback_data=ExamAnsCD(act=AnsAct.PREV, t=attempt_id, p=position))
            nav += 1
        if position < total - 1:
            kb.button(text=_.label("quiz.btn_next"), callback_data=ExamAnsCD(act=AnsAct.NEXT, t=attempt_id, p=position))
            nav += 1
        if nav:
            sizes.append(nav)
    kb.button(text=_.label("quiz.btn_submit"), callback_data=ExamAnsCD(act=AnsAct.SUBMIT if not grace else AnsAct.SURE,
                                                                  t=attempt_id, p=position))
    sizes.append(1)
    kb.adjust(*sizes)
    return kb.as_markup()


def confirm_submit_kb(_: Translator, attempt_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("exams.btn_submit_anyway"), callback_data=ExamAnsCD(act=AnsAct.SURE, t=attempt_id))
    kb.button(text=_.label("exams.btn_keep_going"), callback_data=ExamAnsCD(act=AnsAct.NEXT, t=attempt_id, p=-1))
    kb.adjust(1)
    return kb.as_markup()


def grace_kb(_: Translator, attempt_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("quiz.btn_submit"), callback_data=ExamAnsCD(act=AnsAct.SURE, t=attempt_id))
    return kb.as_markup()


def list_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("exams.btn_list"), callback_data=ExamCD(act=ExamAct.LIST))
    return kb.as_markup()


def admin_list_kb(_: Translator, exams: list[Exam]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("exams.btn_new"), callback_data=ExamCD(act=ExamAct.NEW))
    for exam in exams:
        kb.button(text=_.label("exams.btn_card", title=exam.title, status=_.label(f"exams.status.{exam.status}")),
                  callback_data=ExamCD(act=ExamAct.CARD, e=exam.id))
    kb.adjust(1)
    return kb.as_markup()


def admin_card_kb(_: Translator, exam: Exam) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if exam.status != "published":
        kb.button(text=_.label("exams.btn_publish_now"), callback_data=ExamCD(act=ExamAct.PUBLISH, e=exam.id))
        kb.button(text=_.label("exams.btn_publish_at"), callback_data=ExamCD(act=ExamAct.PUBLISH_AT, e=exam.id))
    kb.button(text=_.label("exams.btn_edit"), callback_data=ExamCD(act=ExamAct.EDIT, e=exam.id))
    kb.button(text=_.label("exams.btn_results"), callback_data=ExamCD(act=ExamAct.RESULTS, e=exam.id))
    kb.button(text=_.label("exams.btn_xlsx"), callback_data=ExamCD(act=ExamAct.XLSX, e=exam.id))
    kb.button(text=_.label("exams.btn_admin_back"), callback_data=ExamCD(act=ExamAct.ADMIN))
    kb.adjust(1)
    return kb.as_markup()


def orgs_kb(orgs: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for org_id, name in orgs:
        kb.button(text=name, callback_data=ExamNewCD(act=NewAct.ORG, v=org_id))
    kb.adjust(1)
    return kb.as_markup()


def source_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("exams.new.btn_draw"), callback_data=ExamNewCD(act=NewAct.DRAW))
    kb.button(text=_.label("exams.new.btn_pick"), callback_data=ExamNewCD(act=NewAct.PICK))
    kb.button(text=_.label("exams.new.btn_sheet"), callback_data=ExamNewCD(act=NewAct.SHEET))
    kb.adjust(1)
    return kb.as_markup()


def one_button_kb(text: str, act: NewAct) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=text, callback_data=ExamNewCD(act=act))
    return kb.as_markup()


def pick_kb(_: Translator, page: list[Question], chosen: set[int], offset: int, total: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for n, q in enumerate(page, start=offset + 1):
        mark = "✅" if q.id in chosen else "⬜"
        kb.button(text=f"{mark} {n}", callback_data=ExamNewCD(act=NewAct.TOGGLE, v=q.id))
    sizes = [min(4, len(page) - i) for i in range(0, len(page), 4)]
    nav = 0
    if offset > 0:
        kb.button(text=_.label("quiz.btn_prev_page"), callback_data=ExamNewCD(act=NewAct.PAGE, v=max(0, offset - PAGE)))
        nav += 1
    if offset + PAGE < total:
        kb.button(text=_.label("quiz.btn_next_page"), callback_data=ExamNewCD(act=NewAct.PAGE, v=offset + PAGE))
        nav += 1
    if nav:
        sizes.append(nav)
    kb.button(text=_.label("exams.new.btn_picked", n=len(chosen)), callback_data=ExamNewCD(act=NewAct.PICKED))
    sizes.append(1)
    kb.adjust(*sizes)
    return kb.as_markup()


def policy_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for i, code in enumerate(POLICY_CODES):
        kb.button(text=_.label(f"exams.policy_btn.{code}"), callback_data=ExamNewCD(act=NewAct.POLICY, v=i))
    kb.adjust(1)
    return kb.as_markup()


def publish_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("exams.btn_publish_now"), callback_data=ExamNewCD(act=NewAct.NOW))
    kb.button(text=_.label("exams.btn_publish_at"), callback_data=ExamNewCD(act=NewAct.LATER))
    kb.button(text=_.label("exams.new.btn_draft"), callback_data=ExamNewCD(act=NewAct.DRAFT))
    kb.adjust(1)
    return kb.as_markup()


def restart_kb(_: Translator, exam_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_.label("exams.btn_restart"), callback_data=ExamCD(act=ExamAct.OPEN, e=exam_id))
    return kb.as_markup()

"""A learner's records, report and rank (LEARN-4, LEARN-8): /records, /report, /rank and the
matching main-menu buttons. Buttons carry ids only; the service checks on every press that the
attempt or organisation is the presser's own (SEC-4)."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Raw, Translator
from bot.render.charts import Series, bar_chart_png
from bot.render.phone import mask_phone, phone_tail
from bot.render.watermark import watermark_png
from bot.services import learner as svc
from bot.services.members import display_phone
from bot.ui.learner import AttemptCD, RankCD, RecordsCD
from bot.ui.menu import MenuCD, MenuItem
from bot.ui.screens import show_screen

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.middlewares import Ctx
    from bot.models import Question
    from bot.services.roles import Actor
    from bot.store import Store

TEXT_LIMIT = 3900  # Telegram allows 4096; room for the HTML the templates add


# -- records (LEARN-4) ---------------------------------------------------------------------------
def score(a: svc.Attempt) -> str:
    return f"{a.correct}/{a.total}"


def _local(moment: str | None, clock: Clock, fmt: str) -> str:
    if not moment:
        return ""
    return datetime.fromisoformat(moment).astimezone(clock.tz).strftime(fmt)


def records_text(_: Translator, clock: Clock, p: svc.RecordsPage) -> str:
    best = score(p.today.best) if p.today.best else _("learner.records.no_best")
    lines = [_("learner.records.title"),
             _("learner.records.today", attempts=p.today.attempts, points=p.today.points, best=best), ""]
    if not p.attempts:
        lines.append(_("learner.records.empty"))
        return "\n".join(lines)
    day = None
    for n, a in enumerate(p.attempts, p.page * svc.PAGE_SIZE + 1):
        if a.day != day:
            day = a.day
            lines.append(_("learner.records.day", day=a.day))
        if a.left:
            lines.append(_("learner.records.line_left", n=n, time=_local(a.submitted_at, clock, "%H:%M"),
                           kind=_.label(f"learner.kind.{a.kind}")))
            continue
        flag = _("learner.records.flag") if a.flagged else ""
        lines.append(_("learner.records.line", n=n, time=_local(a.submitted_at, clock, "%H:%M"),
                       kind=_(f"learner.kind.{a.kind}"), score=score(a), points=a.points, flag=Raw(flag)))
    if any(a.flagged for a in p.attempts):
        lines += ["", _("learner.records.flag_note")]
    lines += ["", _("learner.records.page", page=p.page + 1, pages=p.pages, count=p.count)]
    return "\n".join(lines)


def records_kb(_: Translator, p: svc.RecordsPage) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    opened = [(n, a) for n, a in enumerate(p.attempts, p.page * svc.PAGE_SIZE + 1) if not a.left]
    for n, a in opened:  # a round left unfinished has nothing to review
        kb.button(text=_("learner.records.btn_open", n=n, kind=_(f"learner.kind.{a.kind}"), score=score(a)),
                  callback_data=AttemptCD(attempt_id=a.id))
    sizes = [2] * ((len(opened) + 1) // 2)
    nav = [(p.page - 1, "learner.records.btn_prev")] if p.page > 0 else []
    nav += [(p.page + 1, "learner.records.btn_next")] if p.page + 1 < p.pages else []
    for page, key in nav:
        kb.button(text=_(key), callback_data=RecordsCD(page=page))
    kb.adjust(*(sizes + ([len(nav)] if nav else [])))
    return kb.as_markup()


def answer_text(_: Translator, q: Question, values: list | tuple, *, correct_side: bool) -> str:
    """The user's answer or the correct one, as a person reads it."""
    if not values:
        return _("learner.review.no_answer")
    if q.kind == "judge":
        return _(f"learner.review.judge_{values[0]}") if values[0] in ("T", "F") else str(values[0])
    if q.kind == "blank":
        if correct_side:
            return _("learner.review.blank_sep").join(
                _("learner.review.alternatives_sep").join(alts) if isinstance(alts, (list, tuple)) else str(alts)
                for alts in values)
        return _("learner.review.blank_sep").join(str(v) if str(v).strip() else "＿" for v in values)
    return "、".join(str(v) for v in values)


def review_blocks(_: Translator, clock: Clock, language: str, r: svc.Review) -> list[str]:
    a = r.attempt
    accuracy = round(a.ratio * 100)
    head = _("learner.review.title", kind=_(f"learner.kind.{a.kind}"), when=_local(a.submitted_at, clock,
             "%Y-%m-%d %H:%M") or a.day, score=score(a), accuracy=accuracy, points=a.points,
             flag=Raw(_("learner.records.flag") if a.flagged else ""))
    blocks = [head]
    if not r.items:
        blocks.append(_("learner.review.empty"))
    for n, item in enumerate(r.items, 1):
        q, text = item.question, item.question.text(language)
        lines = [_("learner.review.item", n=n, qkind=_(f"learner.qkind.{q.kind}"), stem=text.stem)]
        if q.kind in ("single", "multiple") and text.options:
            lines.append(_("learner.review.options", options="\n".join(
                f"{chr(65 + i)}. {o}" for i, o in enumerate(text.options))))
        given = answer_text(_, q, item.given, correct_side=False)
        lines.append(_("learner.review.given_right" if item.correct else "learner.review.given_wrong", given=given))
        lines.append(_("learner.review.answer", answer=answer_text(_, q, q.answer, correct_side=True)))
        if item.fast:
            lines.append(_("learner.review.fast"))
        zh = q.texts.get("zh")
        explanation = text.explanation or (zh.explanation if zh else "") or _("learner.review.no_explanation")
        lines.append(_("learner.review.explanation", explanation=explanation))
        blocks.append("\n".join(lines))
    return blocks


def pack(blocks: list[str], limit: int = TEXT_LIMIT) -> list[str]:
    """Blocks joined by blank lines into messages of at most `limit` characters."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        if len(block) > limit:  # only an absurdly long question: cut, never inside an HTML entity
            block = block[: limit - 1]
            amp = block.rfind("&")
            if amp > block.rfind(";"):
                block = block[:amp]
            block += "…"
        if current and len(current) + 2 + len(block) > limit:
            messages.append(current)
            current = ""
        current = f"{current}\n\n{block}" if current else block
    if current:
        messages.append(current)
    return messages


def back_kb(_: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("learner.records.btn_back"), callback_data=MenuCD(item=MenuItem.records))  # a new list below
    return kb.as_markup()


async def send_records(message: Message, store: Store, clock: Clock, actor: Actor, _: Translator,
                       page: int = 0, edit: bool = False) -> None:
    p = await svc.records_page(store, clock, actor, page)
    text, markup = records_text(_, clock, p), records_kb(_, p)
    if edit:
        await show_screen(message, text, markup)
    else:
        await message.answer(text, reply_markup=markup)


# -- report (LEARN-8) ----------------------------------------------------------------------------
def report_text(_: Translator, name: str, r: svc.Report) -> str:
    start, end = r.days[0].day.isoformat(), r.days[-1].day.isoformat()
    lines = [_("learner.report.title", name=name, start=start, end=end), "", _("learner.report.by_day")]
    for d in r.days:
        parts = _("learner.report.part_sep").join(
            _("learner.report.part", source=_(f"points.source.{s}"), points=n) for s, n in d.by_source.items())
        detail = _("learner.report.day_detail", parts=Raw(parts)) if parts else ""
        lines.append(_("learner.report.day_line", day=d.day.strftime("%m-%d"), points=d.total, detail=Raw(detail)))
    lines += ["", _("learner.report.by_source")]
    if r.by_source:
        lines += [_("learner.report.source_line", source=_(f"points.source.{s}"), points=n)
                  for s, n in r.by_source.items()]
    else:
        lines.append(_("learner.report.no_week"))
    lines += ["", _("learner.report.week_total", points=r.week_total), _("learner.report.total", points=r.total),
              "", _("learner.report.rank_hint")]
    return "\n".join(lines)


def report_png(_: Translator, name: str, phone: str, r: svc.Report) -> bytes:
    """The 7 days as bars stacked by source, watermarked with the viewer (SEC-2)."""
    labels = [d.day.strftime("%m-%d") for d in r.days]
    series = [Series(_(f"points.source.{s}"), [d.by_source.get(s, 0) for d in r.days]) for s in r.sources]
    # Drawn into the image, not sent as HTML: the parameters must not be escaped.
    png = bar_chart_png(labels, series, _("learner.report.chart_title", name=Raw(name)))
    return watermark_png(png, f"{name} {phone_tail(phone)}")


async def send_report(message: Message, store: Store, clock: Clock, actor: Actor, _: Translator) -> None:
    r = await svc.report(store, clock, actor)
    if r.total == 0 and r.week_total == 0:
        await message.answer(_("learner.report.empty"))
        return
    name = actor.user.display_name
    await message.answer(report_text(_, name, r), protect_content=True)
    if r.by_source:
        png = await asyncio.to_thread(report_png, _, name, actor.user.phone or "", r)
        caption = _("learner.report.chart_caption", start=r.days[0].day.isoformat(), end=r.days[-1].day.isoformat())
        await message.answer_photo(BufferedInputFile(png, filename="report.png"), caption=caption,
                                   protect_content=True)


# -- rank (LEARN-8) ------------------------------------------------------------------------------
def rank_text(_: Translator, r: svc.OrgRank, by: str) -> str:
    mark = _("org.mark_certified") if r.org.certified else _("org.mark_uncertified")
    lines = [_("learner.rank.title", org=r.org.org_name, mark=Raw(mark), ranked=r.ranked),
             _("learner.rank.me", week_rank=r.me.week_rank, week=r.me.week, total_rank=r.me.total_rank,
               total=r.me.total), ""]
    weekly = by == "w"
    lines.append(_("learner.rank.top_week" if weekly else "learner.rank.top_total"))
    for p in r.top_week if weekly else r.top_total:
        phone = display_phone(p.phone) if r.admin else mask_phone(p.phone)
        lines.append(_("learner.rank.line", rank=p.week_rank if weekly else p.total_rank, name=p.name, phone=phone,
                       points=p.week if weekly else p.total,
                       me=Raw(_("learner.rank.me_mark") if p.user_id == r.me.user_id else "")))
    lines += ["", _("learner.rank.ties")]
    return "\n".join(lines)


def rank_kb(_: Translator, r: svc.OrgRank, by: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    other = "t" if by == "w" else "w"
    kb.button(text=_("learner.rank.btn_total" if other == "t" else "learner.rank.btn_week"),
              callback_data=RankCD(org_id=r.org.org_id, by=other))
    return kb.as_markup()


async def send_ranks(message: Message, store: Store, clock: Clock, actor: Actor, _: Translator) -> None:
    ranks = await svc.ranks(store, clock, actor)
    if not ranks:
        await message.answer(_("learner.rank.none"))
    for r in ranks:
        await message.answer(rank_text(_, r, "w"), reply_markup=rank_kb(_, r, "w"), protect_content=True)


async def records_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    await send_records(message, ctx.store, ctx.clock, ctx.actor, _)


async def records_page(query: CallbackQuery, message: Message, callback_data: RecordsCD, ctx: Ctx,
                       _: Translator) -> None:
    await send_records(message, ctx.store, ctx.clock, ctx.actor, _, callback_data.page, edit=True)


async def open_attempt(query: CallbackQuery, message: Message, callback_data: AttemptCD, ctx: Ctx,
                       _: Translator) -> None:
    r = await svc.review(ctx.store, ctx.actor, callback_data.attempt_id)
    texts = pack(review_blocks(_, ctx.clock, ctx.locale, r))
    for i, text in enumerate(texts, 1):
        await message.answer(text, reply_markup=back_kb(_) if i == len(texts) else None)


async def report_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    await send_report(message, ctx.store, ctx.clock, ctx.actor, _)


async def rank_cmd(message: Message, ctx: Ctx, _: Translator) -> None:
    await send_ranks(message, ctx.store, ctx.clock, ctx.actor, _)


async def rank_switch(query: CallbackQuery, message: Message, callback_data: RankCD, ctx: Ctx,
                      _: Translator) -> None:
    by = "t" if callback_data.by == "t" else "w"
    r = await svc.org_rank(ctx.store, ctx.clock, ctx.actor, callback_data.org_id)
    await show_screen(message, rank_text(_, r, by), rank_kb(_, r, by))


async def menu(query: CallbackQuery, message: Message, callback_data: MenuCD, ctx: Ctx, _: Translator) -> None:
    send = {"records": send_records, "report": send_report, "rank": send_ranks}[callback_data.item]
    await send(message, ctx.store, ctx.clock, ctx.actor, _)


def build_router() -> Router:
    router = Router(name=__name__)
    router.message.register(records_cmd, Command("records"))
    router.callback_query.register(records_page, RecordsCD.filter())

    router.callback_query.register(open_attempt, AttemptCD.filter())
    router.message.register(report_cmd, Command("report"))

    router.message.register(rank_cmd, Command("rank"))
    router.callback_query.register(rank_switch, RankCD.filter())

    router.callback_query.register(menu, MenuCD.filter(F.item.in_({MenuItem.records, MenuItem.report, MenuItem.rank})))

    return router

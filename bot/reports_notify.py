"""What an organisation report looks like to a person (REP-2..5, REP-8, SEC-1, SEC-2): the overview
text with change rates, the table, the trend chart with the viewer's watermark, the workbook, the
nudge; and the daily push of a recipient's report through the outbox, run by the "report_slot" due
rows. Used by /orgreport (bot/handlers/orgreport.py) and by the scheduler, so texts are rendered
with an explicit translator, never from an update.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from bot.clock import Clock
from bot.i18n import I18n, Raw, Translator
from bot.models import Org, User
from bot.outbox import Outbox, file_push, text_push
from bot.render.charts import Panel, Series, format_number, trend_chart_png
from bot.render.phone import mask_phone, phone_tail
from bot.render.report_xlsx import DATE, DEC2, INT, PCT1, TEXT, Sheet, report_workbook
from bot.repositories.due import DueItem
from bot.repositories.reports import DayFigures, Person, SettingsRow, TableRow
from bot.services import reports as svc
from bot.services.members import export_phone
from bot.services.roles import Actor
from bot.services.transactions import atomic
from bot.store import Store

log = logging.getLogger("bot.reports")

TREND_IN_PUSH = 30  # days of the chart in the daily push

__all__ = ["rate_text", "overview_text", "table_text", "people_text", "trend_png", "report_xlsx", "viewer_mark",
           "protect_note", "nudge_pushes", "push_report", "report_pushes", "slot_handlers", "translator_of",
           "settings_text",
           "nudge_inactive"]


def translator_of(i18n: I18n, user: User | None) -> Translator:
    return i18n.translator(i18n.pick(user.language, user.tg_language) if user else None)


def viewer_mark(user: User) -> str:
    """SEC-2: the viewer's name and phone tail, drawn over their images."""
    return f"{user.display_name} {phone_tail(user.phone or '')}".strip()


def rate_text(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:+.1f}%"


def protect_note(_: Translator, protect: bool) -> str:
    """SEC-1: said wherever content is protected, so nobody wonders why it cannot be saved."""
    return "\n\n" + _("reports.protected") if protect else ""


def overview_text(_: Translator, o: svc.Overview) -> str:
    head = _("reports.overview.title", org=o.org.name, day=o.day.isoformat())
    f = o.today
    if f is None:
        return head + "\n\n" + _("reports.overview.none")
    lines = [head, ""]
    for key, value in (("total", str(f.total)), ("new", str(f.new)), ("active", str(f.active)),
                       ("points", str(f.points)), ("per_capita", format_number(round(f.per_capita, 2))),
                       ("participation", format_number(round(f.participation, 1), "%"))):
        lines.append(_(f"reports.overview.{key}", value=value, rate=rate_text(o.rate(key))))
    if f.peer_rank is not None:
        lines.append(_("reports.overview.rank", rank=f.peer_rank, peers=f.peers or 0))
    if o.target is not None and f.reached is not None:
        share = f.reached * 100.0 / f.total if f.total else 0.0
        lines.append(_("reports.overview.target", target=o.target, reached=f.reached,
                       share=format_number(round(share, 1), "%")))
    lines.append(_("reports.overview.activation", yes=f.activated, no=f.total - f.activated))
    return "\n".join(lines)


def table_text(_: Translator, count: int, rows: Sequence[TableRow], page: int, order: str) -> str:
    if not rows:
        return _("reports.table.empty")
    pages = (count + svc.PAGE - 1) // svc.PAGE
    lines = [_("reports.table.title", order=_(f"reports.order.{order}"), page=page + 1, pages=pages)]
    for n, r in enumerate(rows, page * svc.PAGE + 1):
        kind = _("reports.table.org") if r.kind == "org" else _("reports.table.branch")
        name = r.name or _("reports.no_branch")
        lines.append(_("reports.table.line", n=n, kind=kind, name=name, total=r.total, active=r.active,
                       per_capita=format_number(round(r.per_capita, 2)),
                       participation=format_number(round(r.participation, 1), "%")))
    return "\n".join(lines)


def people_text(_: Translator, title: str, people: Sequence[Person], offset: int) -> str:
    lines = [title]
    for n, p in enumerate(people, offset + 1):
        place = p.org_name + (f" · {p.branch_name}" if p.branch_name else "")
        lines.append(_("reports.person", n=n, name=p.name, place=place))
    return "\n".join(lines)


def trend_png(_: Translator, t: svc.Trend, viewer: str) -> bytes:
    """REP-3 (and REP-7's target share): members, per-capita points, participation."""
    f = t.figures
    raw = Raw  # drawn into the image, not sent as HTML: nothing is escaped
    panels = [
        Panel(_("reports.chart.members"), [Series(_("reports.chart.total"), [x.total for x in f]),
                                           Series(_("reports.chart.active"), [x.active for x in f])]),
        Panel(_("reports.chart.per_capita"), [Series(_("reports.chart.per_capita"), [x.per_capita for x in f])]),
    ]
    rates = [Series(_("reports.chart.participation"), [x.participation for x in f])]
    if t.target is not None:
        rates.append(Series(_("reports.chart.target", target=t.target),
                            [(x.reached or 0) * 100.0 / x.total if x.total else 0.0 for x in f]))
    panels.append(Panel(_("reports.chart.rates"), rates, unit="%"))
    title = _("reports.chart.title", org=raw(t.org.name), days=len(f))
    return trend_chart_png(t.days, panels, title, watermark=viewer)


def report_xlsx(_: Translator, orgs: Sequence[tuple[str, DayFigures]], people: Sequence[Person],
                points: Sequence[tuple[str, str, int]], first: date, last: date, *, full_phones: bool) -> bytes:
    """REP-4: organisations by day, members by day (one column per day), for first..last. SEC-5: the
    phones are masked unless the viewer is an admin of the organisation (`full_phones`, decided by the caller)."""
    phone_of = export_phone if full_phones else mask_phone
    h = "reports.xlsx."
    org_sheet = Sheet(
        _(h + "sheet_orgs"),
        [_(h + k) for k in ("day", "org", "total", "new", "active", "points", "per_capita", "participation",
                            "rank", "reached")],
        [DATE, TEXT, INT, INT, INT, INT, DEC2, PCT1, INT, INT],
        [12, 28, 10, 10, 10, 10, 12, 12, 10, 10],
        [[date.fromisoformat(f.day), name, f.total, f.new, f.active, f.points, round(f.per_capita, 2),
          round(f.participation, 1), f.peer_rank, f.reached] for name, f in orgs])
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    by_phone: dict[str, dict[str, int]] = {}
    for phone, day, amount in points:
        by_phone.setdefault(phone, {})[day] = amount
    yes, no = _(h + "yes"), _(h + "no")
    member_rows = []
    for p in people:
        mine = by_phone.get(p.phone, {})
        per_day = [mine.get(d.isoformat(), 0) for d in days]
        member_rows.append([p.name, phone_of(p.phone), p.org_name, p.branch_name or "", yes if p.user_id else no,
                            sum(per_day), sum(1 for v in per_day if v > 0), *per_day])
    member_sheet = Sheet(
        _(h + "sheet_members"),
        [_(h + k) for k in ("name", "phone", "org", "branch", "activated", "sum", "active_days")]
        + [d.strftime("%m-%d") for d in days],
        [TEXT, TEXT, TEXT, TEXT, TEXT, INT, INT] + [INT] * len(days),
        [14, 16, 24, 16, 8, 10, 10] + [7] * len(days),
        member_rows)
    return report_workbook([org_sheet, member_sheet])


def nudge_pushes(i18n: I18n, languages: dict[int, str | None], people: Sequence[Person], org: Org, sender: str,
                 day: date) -> list[dict[str, Any]]:
    """REP-8: one text to each inactive person naming who sent it; the dedupe key (person, day) makes it
    at most once a day per person, whichever organisation sends it."""
    out = []
    for p in people:
        if p.user_id is None:
            continue
        _ = i18n.translator(languages.get(p.user_id))
        out.append(text_push(p.user_id, _("reports.nudge.text", name=p.name, org=org.name, sender=sender),
                             dedupe_key=f"nudge:{p.user_id}:{day.isoformat()}"))
    return out


# -- the daily push (REP-5) -------------------------------------------------------------------------
async def push_report(store: Store, clock: Clock, i18n: I18n, outbox: Outbox, org_id: int, user_id: int,
                      slot_day: date) -> int:
    """The report of the day before `slot_day` for one recipient, through the outbox: text, then the
    chart and the workbook as the settings ask. Every part has the dedupe key (organisation, recipient,
    day), so a slot run twice (a crash before the sweep marked it done) sends nothing twice."""
    pushes = await report_pushes(store, clock, i18n, org_id, user_id, slot_day)
    if not pushes:
        return 0
    async with atomic(store):
        return await outbox.enqueue(*pushes)


async def report_pushes(store: Store, clock: Clock, i18n: I18n, org_id: int, user_id: int,
                        slot_day: date, missed: Sequence[date] = ()) -> list[dict[str, Any]]:
    """The pushes of push_report, built (chart and workbook drawn) but not enqueued: none when the
    recipient no longer gets the report. They supersede the recipient's earlier reports still waiting
    in the outbox (Telegram was down): only the newest goes, its text naming the `missed` days whose
    reports were not sent."""
    s = await store.report_settings(org_id)
    org = await store.get_org(org_id)
    user = await store.get_user(user_id)
    if org is None or user is None or not s.enabled or user_id not in s.recipients:
        return []  # turned off or taken off since the slot was armed
    if not await store.is_recipient_candidate(org_id, user_id):
        return []  # no longer an admin or member: nothing of the organisation goes to them (SEC-4)
    day = slot_day - timedelta(days=1)
    if day.isoformat() not in await store.snapshot_days_done(day.isoformat()):
        await store.snapshot_day(day.isoformat(), clock.now().isoformat())
    _ = translator_of(i18n, user)
    rows = {f.day: f for f in await store.org_days(org_id, (day - timedelta(days=1)).isoformat(), day.isoformat())}
    o = svc.Overview(org, day, rows.get(day.isoformat()), rows.get((day - timedelta(days=1)).isoformat()),
                     s.daily_target, org.protect_content)
    mine = report_key_prefix(org_id, user_id)
    key = f"{mine}{slot_day.isoformat()}"
    missed = sorted(set(missed) | {d for d in await waiting_report_days(store, mine) if d < slot_day})
    protect = org.protect_content
    head = _("reports.push.head") + missed_note(_, missed)
    pushes = [text_push(user_id, head + "\n\n" + overview_text(_, o) + protect_note(_, protect),
                        protect_content=protect, dedupe_key=f"{key}:text", supersedes=mine)]
    if s.content in ("chart", "xlsx"):
        span = [day - timedelta(days=TREND_IN_PUSH - 1 - i) for i in range(TREND_IN_PUSH)]
        found = {f.day: f for f in await store.org_days(org_id, span[0].isoformat(), day.isoformat())}
        figures = [found.get(d.isoformat()) or DayFigures(org_id, d.isoformat(), 0, 0, 0, 0, None, 0, 0.0, 0.0,
                                                          None, None) for d in span]
        try:
            png = await asyncio.to_thread(trend_png, _, svc.Trend(org, span, figures, s.daily_target),
                                          viewer_mark(user))
        except Exception:  # a chart that cannot be drawn must not take the text (or the next slot) with it
            log.exception("report %s: the chart could not be drawn; the report goes without it", key)
        else:
            caption = _("reports.chart.caption", days=TREND_IN_PUSH) + protect_note(_, protect)
            pushes.append(file_push(user_id, "photo", png, "trend.png", caption=caption, protect_content=protect,
                                    dedupe_key=f"{key}:chart", supersedes=mine))
    if s.content == "xlsx":
        lower = [x.id for x in await store.lower_orgs(org_id)]
        orgs = await store.orgs_days([org_id, *lower], day.isoformat(), day.isoformat())
        people, points = await store.member_points(org_id, day.isoformat(), day.isoformat())
        full = await svc.sees_full_phones(store, user, org_id)  # SEC-5: members may be recipients
        data = await asyncio.to_thread(partial(report_xlsx, full_phones=full), _, orgs, people, points, day, day)
        pushes.append(file_push(user_id, "document", data, f"report-{day.isoformat()}.xlsx",
                                caption=_("reports.xlsx.caption") + protect_note(_, protect),
                                protect_content=protect, dedupe_key=f"{key}:xlsx", supersedes=mine))
    return pushes


def report_key_prefix(org_id: int, user_id: int) -> str:
    """The dedupe keys of one recipient's daily reports of one organisation begin with this."""
    return f"report:{org_id}:{user_id}:"


async def waiting_report_days(store: Store, prefix: str) -> set[date]:
    """The slot days of this recipient's reports still waiting in the outbox (Telegram was down)."""
    days = set()
    for key in await store.waiting_push_keys(prefix):
        try:
            days.add(date.fromisoformat(key[len(prefix):].split(":")[0]))
        except ValueError:
            continue
    return days


def missed_note(_: Translator, slot_days: Sequence[date]) -> str:
    """The report days (the day before each slot) whose reports were not sent, said in the newest one."""
    if not slot_days:
        return ""
    days = ", ".join((d - timedelta(days=1)).strftime("%m-%d") for d in slot_days)
    return "\n" + _("reports.push.missed", days=days)


def latest_slot(clock: Clock, send_time: str, day: date, due_at: datetime, now: datetime) -> date:
    """The newest slot day due by `now`, from the slot (day, due_at) on: after days of downtime the
    slots in between are not sent one by one, the newest replaces them."""
    at = due_at
    while True:
        next_day, next_at = svc.next_slot(clock, send_time, at)
        if next_at > now or next_day <= day:
            return day
        day, at = next_day, next_at


def slot_handlers(store: Store, clock: Clock, i18n: I18n, outbox: Outbox
                  ) -> dict[str, Callable[[DueItem, datetime], Awaitable[None]]]:
    """A report slot's pushes and the row of the next slot are written in one transaction (the
    chart and workbook are drawn before it). The sweep marks the slot done afterwards; a crash in
    between runs it again, which adds nothing: the pushes are idempotent by their dedupe keys and
    the next slot's row is the same row."""

    async def slot(item: DueItem, now: datetime) -> None:
        org_id, user_id, armed = svc.parse_slot_ref(item.ref)
        day = latest_slot(clock, (await store.report_settings(org_id)).send_time, armed, item.due_at, now)
        missed = [armed + timedelta(days=i) for i in range((day - armed).days)]
        pushes = await report_pushes(store, clock, i18n, org_id, user_id, day, missed)
        async with atomic(store):
            added = await outbox.enqueue(*pushes) if pushes else 0
            s = await store.report_settings(org_id)
            if s.enabled and user_id in s.recipients:  # the next one: never a stale day after a long stop
                next_day, at = svc.next_slot(clock, s.send_time, max(now, item.due_at))
                if next_day <= day:
                    next_day, at = svc.next_slot(clock, s.send_time, at)
                await store.put_due_now(svc.SLOT_KIND, svc.slot_ref(org_id, user_id, next_day), at)
        log.info("report slot %s: %d pushes enqueued", item.ref, added)

    return {svc.SLOT_KIND: slot}


def settings_text(_: Translator, org: Org, s: SettingsRow, names: dict[int, str], unreachable: set[int]) -> str:
    k = "reports.settings."
    lines = [_(k + "title", org=org.name), "", _(k + ("state_on" if s.enabled else "state_off")),
             _(k + "time", time=s.send_time), _(k + "content", content=_(k + f"content_{s.content}")),
             _(k + "target", target=s.daily_target) if s.daily_target else _(k + "no_target"),
             _(k + "inactive_days", days=s.inactive_days), ""]
    if not s.recipients:
        lines.append(_(k + "no_recipients"))
    else:
        lines.append(_(k + "recipients", count=len(s.recipients)))
        for user_id in s.recipients:
            name = names.get(user_id, str(user_id))
            lines.append(_(k + ("unreachable" if user_id in unreachable else "recipient"), name=name))
    return "\n".join(lines)


async def nudge_inactive(outbox: Outbox, i18n: I18n, actor: Actor, org_id: int) -> tuple[int, int]:
    """REP-8: every inactive person of the organisation gets a nudge naming the admin; (sent, skipped
    because nudged today already). The nudges are the whole action: one transaction, built from what
    it reads."""
    store, clock = outbox.store, outbox.clock
    async with atomic(store):
        org, people = await svc.inactive_everyone(store, clock, actor, org_id)
        languages: dict[int, str | None] = {r.id: i18n.pick(r.language, r.tg_language)
                     for r in await store.user_languages(p.user_id for p in people if p.user_id is not None)}
        pushes = nudge_pushes(i18n, languages, people, org, actor.user.display_name, clock.today())
        added = await outbox.enqueue(*pushes) if pushes else 0
    return added, len(pushes) - added

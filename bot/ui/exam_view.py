"""Texts of the special exams (LEARN-6): list, rules, header with the countdown, questions,
results and explanations, admin card and report, and the pushes the sweep sends."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.i18n import I18n, Translator
from bot.outbox import text_push
from bot.render.exam_results import results_workbook
from bot.repositories.exams import Exam, ExamAnswer, ExamAttempt, MyExam, Recipient
from bot.services import exam_attempts, exams
from bot.services.members import export_phone
from bot.services.quiz import LETTERS
from bot.ui.exams import grace_kb, list_kb, restart_kb
from bot.ui.quiz import MESSAGE_LIMIT, answer_label, duration_text, quote, review_pages


def when(moment: datetime, tz: tzinfo, now: datetime | None = None) -> str:
    local = moment.astimezone(tz)
    if now is not None and local.date() == now.astimezone(tz).date():
        return local.strftime("%H:%M")
    return local.strftime("%m-%d %H:%M")


def left(seconds: int) -> str:
    minutes, secs = divmod(max(0, seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def _minutes(seconds: int) -> int:
    return max(1, round(seconds / 60))


def _limit_text(_: Translator, exam: Exam) -> str:
    return _("exams.attempts_unlimited") if exam.max_attempts is None else _("exams.attempts_n", n=exam.max_attempts)


def list_text(_: Translator, items: list[tuple[MyExam, str]], now: datetime, tz: tzinfo) -> str:
    if not items:
        return _("exams.list_empty")
    lines = [_("exams.list_title")]
    for mine, state in items:
        exam = mine.exam
        best = _("exams.best", best=mine.best, total=exam.questions) if mine.best is not None else _("exams.no_best")
        if state == "open":
            span = _("exams.open_left", left=_span(_, int((exam.closes_at - now).total_seconds())))
        elif state == "upcoming":
            span = _("exams.opens_at", at=when(exam.opens_at, tz))
        else:
            span = _("exams.closed_mark")
        used = _("exams.used", used=mine.used, limit=_limit_text(_, exam))
        live = ("\n" + _("exams.live_line", deadline=when(mine.live.deadline, tz, now),
                         left=left(int((mine.live.deadline - now).total_seconds())))) if mine.live else ""
        lines.append(_("exams.list_line", title=exam.title, span=span, used=used, best=best) + live)
    return "\n\n".join(lines)


def _span(_: Translator, seconds: int) -> str:
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return _("exams.span_days", days=days, hours=hours)
    if hours:
        return _("exams.span_hours", hours=hours, minutes=rest // 60)
    return _("exams.span_minutes", minutes=max(1, rest // 60))


def rules_text(_: Translator, rules: exams.Rules, tz: tzinfo) -> str:
    exam = rules.exam
    policy = _(f"exams.policy.{exam.policy}", grace=_minutes(exam.grace_seconds))
    return _("exams.rules", title=exam.title, questions=exam.questions, minutes=_minutes(exam.time_limit),
             closes=when(exam.closes_at, tz), pass_mark=exam.pass_mark, attempts=_limit_text(_, exam),
             used=rules.used, points=exam.points, policy=policy)


def header_text(_: Translator, exam: Exam, attempt: ExamAttempt, now: datetime, tz: tzinfo) -> str:
    if attempt.status == "grace" and attempt.grace_until is not None:
        return _("exams.header_grace", title=exam.title, until=when(attempt.grace_until, tz, now),
                 left=left(int((attempt.grace_until - now).total_seconds())))
    if attempt.status != "open":
        return _("exams.header_over", title=exam.title)
    return _("exams.header", title=exam.title, deadline=when(attempt.deadline, tz, now),
             left=left(int((attempt.deadline - now).total_seconds())), total=attempt.total)


def question_text(_: Translator, locale: str, v: exam_attempts.View, tz: tzinfo) -> str:
    item = v.item
    q = item.question
    t = q.text(locale)
    lines = [_("exams.q_header", title=v.exam.title, n=item.position + 1, total=len(v.answers),
               kind=_(f"quiz.kind.{q.kind}"), deadline=when(v.attempt.deadline, tz, v.now),
               answered=v.answered), "", quote(t.stem)]
    if q.kind in ("single", "multiple"):
        lines.append("")
        lines.extend(f"{LETTERS[i]}. {quote(opt)}" for i, opt in enumerate(t.options))
    if q.kind == "blank":
        lines.append("")
        lines.append(_("quiz.blank_hint") if q.blanks <= 1 else _("quiz.blanks_hint", blanks=q.blanks))
    if item.answer:
        lines.append("")
        lines.append(_("quiz.your_answer", answer=answer_label(_, q, locale, item.answer)))
    if v.attempt.status == "grace":
        lines.append("")
        lines.append(_("exams.grace_note"))
    return "\n".join(lines)


def result_text(_: Translator, res: exam_attempts.Result, timed_out: bool = False) -> str:
    lines = [_("exams.timed_out_submitted")] if timed_out else []
    lines.append(_("exams.result", title=res.exam.title, correct=res.correct, total=res.attempt.total,
                   accuracy=res.accuracy, duration=duration_text(_, res.seconds), best=res.best,
                   verdict=_("exams.passed") if res.passed else _("exams.failed", pass_mark=res.exam.pass_mark)))
    if res.paid:
        lines.append(_("exams.points_paid", points=res.paid))
    elif res.passed and res.exam.points:
        lines.append(_("exams.points_before"))
    return "\n".join(lines)


def review_texts(_: Translator, locale: str, answers: list[ExamAnswer]) -> list[str]:
    return review_pages(_, locale, answers)


def card_text(_: Translator, exam: Exam, tz: tzinfo) -> str:
    status = _(f"exams.status.{exam.status}")
    if exam.status == "scheduled" and exam.publish_at:
        status += " " + when(exam.publish_at, tz)
    text = _("exams.card", title=exam.title, org=exam.org_name, status=status, questions=exam.questions,
             minutes=_minutes(exam.time_limit), opens=when(exam.opens_at, tz), closes=when(exam.closes_at, tz),
             pass_mark=exam.pass_mark, attempts=_limit_text(_, exam), points=exam.points,
             policy=_(f"exams.policy.{exam.policy}", grace=_minutes(exam.grace_seconds)))
    if exam.started:
        text += "\n\n" + _("exams.locked_note")
    return text


def report_text(_: Translator, locale: str, rep: exams.Report) -> str:
    exam = rep.exam
    avg = f"{rep.average:.1f}" if rep.average is not None else "—"
    lines = [_("exams.report_title", title=exam.title),
             _("exams.report_counts", passed=len(rep.passed), failed=len(rep.failed),
               not_started=len(rep.not_started), average=avg, total=exam.questions)]
    lines.append(_("exams.report_bands") + " " + "，".join(f"{lo}: {n}" if lo == hi else f"{lo}–{hi}: {n}"
                                                          for lo, hi, n in rep.bands))
    for key, rows in (("passed", rep.passed), ("failed", rep.failed), ("not_started", rep.not_started)):
        if rows:
            names = "、".join(r.name for r in rows[:30]) + ("…" if len(rows) > 30 else "")
            lines.append(_(f"exams.report_{key}", names=names))
    s = rep.stats
    if s.people:
        sd = f"{s.sd:.2f}" if s.sd is not None else "—"
        alpha = f"{s.alpha:.2f}" if s.alpha is not None else "—"
        lines.append("")
        lines.append(_("exams.stats_title", people=s.people, mean=f"{s.mean:.2f}", median=f"{s.median:.1f}", sd=sd,
                       alpha=alpha))
        for item in s.items[:10]:
            stem = rep.questions[item.position].text(locale).stem if item.position < len(rep.questions) else ""
            stem = stem if len(stem) <= 30 else stem[:29] + "…"
            disc = f"{item.discrimination:.2f}" if item.discrimination is not None else "—"
            flag = _(f"exams.flag.{item.flag}") if item.flag else ""
            lines.append(_("exams.stats_line", n=item.position + 1, stem=stem, facility=round(item.facility * 100),
                           disc=disc, flag=flag))
    return "\n".join(lines)[:MESSAGE_LIMIT]


# -- pushes (outbox) -------------------------------------------------------------------------------
def publish_notices(i18n: I18n, tz: tzinfo) -> exams.Notices:
    def build(exam: Exam, people: list[Recipient]) -> list[dict[str, Any]]:
        out = []
        for person in people:
            _ = i18n.translator(i18n.pick(person.language))
            text = _("exams.notice", title=exam.title, org=exam.org_name, closes=when(exam.closes_at, tz),
                     minutes=_minutes(exam.time_limit))
            out.append(text_push(person.user_id, text, reply_markup=list_kb(_),  # not sent once the exam closed
                                 dedupe_key=f"exam:{exam.id}:notice:{person.user_id}", expires_at=exam.closes_at))
        return out

    return build


def deadline_pushes(i18n: I18n, tz: tzinfo) -> exam_attempts.PushesFor:
    def build(what: str, attempt: ExamAttempt, exam: Exam, res: exam_attempts.Result | None) -> list[dict[str, Any]]:
        locale = i18n.pick(attempt.language)
        _ = i18n.translator(locale)
        key = f"exam:{attempt.id}:{what}"
        if what == "grace":
            text = _("exams.time_up_grace", title=exam.title, minutes=_minutes(exam.grace_seconds))
            return [text_push(attempt.user_id, text, reply_markup=grace_kb(_, attempt.id), dedupe_key=key)]
        if what == "submitted" and res is not None:
            pushes = [text_push(attempt.user_id, result_text(_, res, timed_out=True), reply_markup=list_kb(_),
                                dedupe_key=key)]
            pushes += [text_push(attempt.user_id, t, dedupe_key=f"{key}:review:{i}")
                       for i, t in enumerate(review_texts(_, locale, res.answers))]
            return pushes
        text = _(f"exams.time_up_{what}", title=exam.title)
        kb = restart_kb(_, exam.id) if what == "reset" else None
        return [text_push(attempt.user_id, text, reply_markup=kb, dedupe_key=key)]

    return build


def reminder_push(i18n: I18n, tz: tzinfo, attempt: ExamAttempt, exam: Exam, minutes: int,
                  now: datetime) -> dict[str, Any]:
    _ = i18n.translator(i18n.pick(attempt.language))
    return text_push(attempt.user_id, _("exams.reminder", title=exam.title, minutes=minutes,
                                        deadline=when(attempt.deadline, tz, now)),
                     dedupe_key=f"exam:{attempt.id}:remind:{minutes}", expires_at=attempt.deadline)


def exam_workbook(_: Translator, rep: exams.Report) -> bytes:
    keys = ("results", "items", "name", "phone", "best", "attempts", "time", "verdict", "passed", "failed",
            "not_started", "position", "stem", "facility", "discrimination", "flag", "summary")
    labels = {key: _(f"exams.xlsx.{key}") for key in keys}
    people = [(r.name, export_phone(r.phone), r.best, r.attempts, r.best_seconds) for r in rep.rows]
    items = [(s.position + 1, rep.questions[s.position].text(_.locale).stem if s.position < len(rep.questions) else "",
              s.facility, s.discrimination, _(f"exams.flag.{s.flag}") if s.flag else "") for s in rep.stats.items]
    st = rep.stats
    summary: list[tuple[str, float | int | str]] = [
        (_("exams.xlsx.people"), st.people), (_("exams.xlsx.mean"), round(st.mean, 4)),
        (_("exams.xlsx.median"), st.median), (_("exams.xlsx.sd"), "" if st.sd is None else round(st.sd, 4)),
        (_("exams.xlsx.alpha"), "" if st.alpha is None else round(st.alpha, 4))]
    return results_workbook(labels, rep.exam.title, rep.exam.pass_mark, people, items, summary)

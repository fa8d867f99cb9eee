"""The store's invariants (issue 16, crash tests), checked on a database file opened read-only, or on a
PostgreSQL database (its postgresql:// URL, issue 17: the same SQL, through bot/dialect.py).

`check(path)` returns a `Report`: `violations`, one readable line each (empty: all hold), and what
is legitimately half-way at the moment of the check (outbox rows claimed 'sending' by a process
that died: sent once more by the next one, so the chat may show them twice). `Report.assert_ok()`
raises with every violation listed.

What is checked:
- points ledger: points_totals and points_daily (the running sums award_points keeps in the
  award's transaction) equal the sums over `points`; no idempotency key twice (points.idem_key,
  outbox.dedupe_key, inbox.update_id);
- the organisation tree: org_tree (the closure table) equals the closure of orgs.parent_id, depth
  included;
- member imports: every `member.import` audit row has exactly the members it says it added (same
  organisation, created at the audit row's time), and each file in `files` (its phones) is in an
  organisation all or not at all;
- the outbox: every row is pending, sending (counted as in flight), sent (with a time and the
  message id) or final (failed / unreachable / skipped_unreachable); an action's notices are there
  once the action is: every task recipient has the task's notice (dedupe key task:<task>:<user>),
  every decided certification application its notice to the lower side (cert-decided:<id>:...), unless
  the decider is the lower side's only admin;
- exams: with `now`, no attempt is still open after its deadline nor in grace after its grace
  period (`slack` seconds of scheduler lag allowed); never an answer stored after the deadline, a
  submission by the person after the grace period, or answers kept by a reset attempt.

`duplicate_pushes(path, chats)` counts the pushes a chat shows more often than the outbox sent them.
"""
from __future__ import annotations

import html
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.pg import is_url

FINAL = {"sent", "failed", "unreachable", "skipped_unreachable"}
OUTBOX_STATES = FINAL | {"pending", "sending"}
SHOW = 5  # examples listed per kind of violation


class InvariantError(AssertionError):
    pass


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    in_flight_pushes: int = 0  # outbox rows 'sending' (claimed by a process, not marked sent)
    pending_pushes: int = 0

    def assert_ok(self) -> None:
        if self.violations:
            raise InvariantError(f"{len(self.violations)} invariant violation(s):\n  " + "\n  ".join(self.violations))


def connect(path: str | Path) -> Any:
    """Read-only: the checker never changes what it looks at (nor creates a missing file). A
    postgresql:// URL: a connection of its own to that database (it only reads)."""
    if is_url(path):
        from tests.support.pg import PgCommitted

        return PgCommitted(path)
    db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    return db


def _listed(kind: str, items: Sequence[Any]) -> list[str]:
    out = [f"{kind}: {item}" for item in items[:SHOW]]
    if len(items) > SHOW:
        out.append(f"{kind}: ... and {len(items) - SHOW} more")
    return out


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def check(path: str | Path, *, now: str | datetime | None = None, slack: float = 5.0,
          files: Iterable[Iterable[str]] = ()) -> Report:
    db = connect(path)
    try:
        report = Report()
        report.violations += _ledger(db)
        report.violations += _unique_keys(db)
        report.violations += _closure(db)
        report.violations += _imports(db, [set(f) for f in files])
        report.violations += _outbox(db, report)
        report.violations += _notices(db)
        report.violations += _exams(db, None if now is None else _time(now), slack)
        return report
    finally:
        db.close()


# -- the points ledger -------------------------------------------------------------------------
def _ledger(db: sqlite3.Connection) -> list[str]:
    totals = db.execute(
        """SELECT u.user_id, COALESCE(l.sum, 0) AS ledger, COALESCE(t.total, 0) AS kept
           FROM (SELECT user_id FROM points UNION SELECT user_id FROM points_totals) u
           LEFT JOIN (SELECT user_id, SUM(amount) AS sum FROM points GROUP BY user_id) l ON l.user_id = u.user_id
           LEFT JOIN points_totals t ON t.user_id = u.user_id
           WHERE COALESCE(l.sum, 0) <> COALESCE(t.total, 0)""").fetchall()
    daily = db.execute(
        """SELECT k.user_id, k.day, COALESCE(l.sum, 0) AS ledger, COALESCE(d.amount, 0) AS kept
           FROM (SELECT user_id, day FROM points UNION SELECT user_id, day FROM points_daily) k
           LEFT JOIN (SELECT user_id, day, SUM(amount) AS sum FROM points GROUP BY user_id, day) l
                  ON l.user_id = k.user_id AND l.day = k.day
           LEFT JOIN points_daily d ON d.user_id = k.user_id AND d.day = k.day
           WHERE COALESCE(l.sum, 0) <> COALESCE(d.amount, 0)""").fetchall()
    return (_listed("points_totals differs from the ledger",
                    [f"user {r['user_id']}: running sum {r['kept']}, ledger {r['ledger']}" for r in totals])
            + _listed("points_daily differs from the ledger",
                      [f"user {r['user_id']} on {r['day']}: running sum {r['kept']}, ledger {r['ledger']}"
                       for r in daily]))


def _unique_keys(db: sqlite3.Connection) -> list[str]:
    out: list[str] = []
    for table, column in (("points", "idem_key"), ("outbox", "dedupe_key"), ("inbox", "update_id")):
        twice = db.execute(f"SELECT {column} AS k, COUNT(*) AS n FROM {table} WHERE {column} IS NOT NULL "
                           f"GROUP BY {column} HAVING COUNT(*) > 1").fetchall()
        out += _listed(f"{table}.{column} used more than once", [f"{r['k']!r} x{r['n']}" for r in twice])
    return out


# -- the organisation tree ---------------------------------------------------------------------
def _closure(db: sqlite3.Connection) -> list[str]:
    parent = {r["id"]: r["parent_id"] for r in db.execute("SELECT id, parent_id FROM orgs")}
    expected: set[tuple[int, int, int]] = set()
    cycles: list[str] = []
    for org in parent:
        node: int | None = org
        depth, seen = 0, set()
        while node is not None:
            if node in seen:
                cycles.append(f"org {org}: its parents loop through {node}")
                break
            seen.add(node)
            expected.add((node, org, depth))
            node, depth = parent.get(node), depth + 1
    actual = {(r[0], r[1], r[2]) for r in db.execute("SELECT ancestor_id, descendant_id, depth FROM org_tree")}
    missing = sorted(expected - actual)
    extra = sorted(actual - expected)
    return (_listed("org tree cycle", cycles)
            + _listed("org_tree lacks (ancestor, descendant, depth) of the parent tree", missing)
            + _listed("org_tree has (ancestor, descendant, depth) not in the parent tree", extra))


# -- member imports ------------------------------------------------------------------------------
def _imports(db: sqlite3.Connection, files: list[set[str]]) -> list[str]:
    wrong: list[str] = []
    for r in db.execute("SELECT id, org_id, after, at FROM audit_log WHERE action = 'member.import' ORDER BY id"):
        added = int(json.loads(r["after"] or "{}").get("added", 0))
        have = db.execute("SELECT COUNT(*) FROM members WHERE org_id = ? AND created_at = ?",
                          (r["org_id"], r["at"])).fetchone()[0]
        removed = db.execute("SELECT COUNT(*) FROM audit_log WHERE org_id = ? AND action = 'member.remove' "
                             "AND id > ?", (r["org_id"], r["id"])).fetchone()[0]
        if have > added or have < added - removed:
            wrong.append(f"audit row {r['id']} (org {r['org_id']} at {r['at']}) says {added} added, "
                         f"{have} members carry that time")
    half: list[str] = []
    for n, phones in enumerate(files):
        if not phones:
            continue
        marks = ",".join("?" * len(phones))
        for row in db.execute(f"SELECT org_id, COUNT(*) AS n FROM members WHERE phone IN ({marks}) GROUP BY org_id",
                              sorted(phones)):
            if row["n"] != len(phones):
                half.append(f"file #{n}: {row['n']} of its {len(phones)} phones are members of org {row['org_id']}")
    return _listed("member import differs from its audit row", wrong) + _listed("half-imported file", half)


# -- the outbox ----------------------------------------------------------------------------------
def _outbox(db: sqlite3.Connection, report: Report) -> list[str]:
    counts = dict(db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    report.in_flight_pushes = counts.get("sending", 0)
    report.pending_pushes = counts.get("pending", 0)
    bad_status = [f"{status!r} x{n}" for status, n in counts.items() if status not in OUTBOX_STATES]
    unsent = [f"row {r[0]}" for r in db.execute(
        "SELECT id FROM outbox WHERE status = 'sent' AND (sent_at IS NULL OR message_id IS NULL)")]
    unclaimed = [f"row {r[0]}" for r in db.execute(
        "SELECT id FROM outbox WHERE status = 'sending' AND claimed_at IS NULL")]
    return (_listed("outbox row in an unknown state", bad_status)
            + _listed("outbox row 'sent' without a send time or message id", unsent)
            + _listed("outbox row 'sending' never claimed", unclaimed))


def _notices(db: sqlite3.Connection) -> list[str]:
    tasks = [f"task {r[0]} to user {r[1]}" for r in db.execute(
        """SELECT r.task_id, r.user_id FROM task_recipients r
           WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = 'task:' || r.task_id || ':' || r.user_id)""")]
    certs = [f"application {r[0]} ({r[1]})" for r in db.execute(
        """SELECT a.id, a.status FROM cert_applications a
           WHERE a.status IN ('approved', 'rejected')
             AND (a.applicant_id <> a.decided_by OR EXISTS (SELECT 1 FROM org_admins m WHERE m.org_id = a.lower_id
                                                             AND m.user_id <> a.decided_by))
             AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key LIKE 'cert-decided:' || a.id || ':%')""")]
    return (_listed("task recipient without the task's notice", tasks)
            + _listed("certification decided without its notice to the lower side", certs))


def push_text(kind: str, payload: str) -> str:
    """What the person sees of a push: the text (its HTML tags gone) or the file's kind and caption."""
    body = json.loads(payload)
    shown = body.get("text") if kind == "text" else f"[{kind}] {body.get('caption') or ''}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", shown or "")).split())


def message_text(message: Mapping[str, Any]) -> str:
    """The same for a message of the sandbox's chat view (GET /sandbox/users/{uid}/messages)."""
    if "photo" in message or "document" in message:
        kind = "photo" if "photo" in message else "document"
        return " ".join(f"[{kind}] {message.get('caption') or ''}".split())
    return " ".join((message.get("text") or "").split())


def duplicate_pushes(path: str | Path, chats: Mapping[int, Sequence[Mapping[str, Any]]]) -> int:
    """How many more times the chats show a push than the outbox marked it sent (rows still
    'sending' count as sent once more). `chats`: user id -> the bot's messages there."""
    db = connect(path)
    try:
        extra = 0
        for chat_id, messages in chats.items():
            pushed = Counter(push_text(r[0], r[1]) for r in db.execute(
                "SELECT kind, payload FROM outbox WHERE chat_id = ? AND status IN ('sent', 'sending')", (chat_id,)))
            shown = Counter(message_text(m) for m in messages if m.get("from", "bot") == "bot")
            extra += sum(max(0, shown[text] - n) for text, n in pushed.items())
        return extra
    finally:
        db.close()


# -- exams ---------------------------------------------------------------------------------------
def _exams(db: sqlite3.Connection, now: datetime | None, slack: float) -> list[str]:
    late_open: list[str] = []
    late_grace: list[str] = []
    late_submit: list[str] = []
    late_answer: list[str] = []
    kept: list[str] = []
    lag = timedelta(seconds=slack)
    for a in db.execute("SELECT id, status, deadline, grace_until, ended_at, timed_out FROM exam_attempts"):
        deadline = _time(a["deadline"])
        until = _time(a["grace_until"]) if a["grace_until"] else deadline
        if now is not None and a["status"] == "open" and now > deadline + lag:
            late_open.append(f"attempt {a['id']}: deadline {a['deadline']}, now {now.isoformat()}")
        if now is not None and a["status"] == "grace" and now > until + lag:
            late_grace.append(f"attempt {a['id']}: grace until {a['grace_until']}, now {now.isoformat()}")
        if a["status"] == "submitted" and not a["timed_out"] and a["ended_at"] and _time(a["ended_at"]) > until + lag:
            late_submit.append(f"attempt {a['id']}: submitted {a['ended_at']}, deadline {a['deadline']}, "
                               f"grace until {a['grace_until']}")
        for ans in db.execute("SELECT position, answered_at FROM exam_answers WHERE attempt_id = ?", (a["id"],)):
            if _time(ans["answered_at"]) > deadline + lag:
                late_answer.append(f"attempt {a['id']} question {ans['position']}: answered {ans['answered_at']}, "
                                   f"deadline {a['deadline']}")
        if a["status"] == "reset":
            n = db.execute("SELECT COUNT(*) FROM exam_answers WHERE attempt_id = ?", (a["id"],)).fetchone()[0]
            if n:
                kept.append(f"attempt {a['id']}: {n} answers")
    return (_listed("exam attempt still open after its deadline", late_open)
            + _listed("exam attempt still in grace after its grace period", late_grace)
            + _listed("exam submitted by the person after the deadline", late_submit)
            + _listed("exam answer stored after the deadline", late_answer)
            + _listed("reset exam attempt kept its answers", kept))

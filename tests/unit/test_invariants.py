"""The crash tests' invariant checker (tests/support/invariants.py) catches each kind of violation: a
database built by the store holds them all; each test then breaks one thing the way a crash (or a bug)
would and the checker names it."""
from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.store import Store
from tests.support import invariants
from tests.support.factories import make_member, make_org, make_user

NOW = "2026-11-23T09:00:00+08:00"


async def _build(path: Path) -> None:
    store = await Store.open(path)
    try:
        await make_user(store, 1, "管理员", verified=True)
        await make_user(store, 2, "王芳", phone="+8613900000002")
        root = await make_org(store, "上级", 1, certified=True)
        mid = await make_org(store, "中间", 1, certified=True, parent_id=root)
        await make_org(store, "下级", 1, certified=True, parent_id=mid)
        await make_member(store, root, "王芳", "+8613900000002", activated=True)
        for key, amount, day in (("a", 5, "2026-11-22"), ("b", 3, "2026-11-23"), ("c", 1, "2026-11-23")):
            await store.award_points(2, "daily", day, amount, cap=None, best_of_day=False, ref=None, reason=None,
                                     idem_key=key, now=NOW)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def clean_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inv") / "clean.sqlite3"
    asyncio.run(_build(path))
    db = sqlite3.connect(path)
    with db:  # an import of two rows with its audit row, an outbox, an exam attempt: as the repositories write them
        db.execute("INSERT INTO members (org_id, name, phone, created_at, updated_at) VALUES "
                   "(1, '甲', '+8613900000011', '2026-11-23T10:00:00+08:00', '2026-11-23T10:00:00+08:00'), "
                   "(1, '乙', '+8613900000012', '2026-11-23T10:00:00+08:00', '2026-11-23T10:00:00+08:00')")
        db.execute("INSERT INTO audit_log (actor_id, org_id, action, after, at) VALUES "
                   "(1, 1, 'member.import', ?, '2026-11-23T10:00:00+08:00')",
                   (json.dumps({"added": 2, "present": 0, "branches": []}),))
        for n, status in enumerate(("sent", "pending", "failed")):
            db.execute("INSERT INTO outbox (chat_id, kind, payload, status, next_attempt_at, created_at, sent_at, "
                       "message_id, dedupe_key) VALUES (2, 'text', ?, ?, ?, ?, ?, ?, ?)",
                       (json.dumps({"text": f"<b>通知</b> {n} &amp; 更多"}), status, NOW, NOW,
                        NOW if status == "sent" else None, 10 + n if status == "sent" else None, f"k{n}"))
        db.execute("INSERT INTO tasks (org_id, created_by, body, target, created_at) VALUES (1, 1, '学习', 'org', ?)",
                   (NOW,))
        db.execute("INSERT INTO task_recipients (task_id, user_id, name) VALUES (1, 2, '王芳')")
        db.execute("INSERT INTO cert_applications (upper_id, lower_id, applicant_id, status, created_at, decided_by, "
                   "decided_at) VALUES (1, 2, 2, 'approved', ?, 1, ?)", (NOW, NOW))
        for key in ("task:1:2", "cert-decided:1:2"):
            db.execute("INSERT INTO outbox (chat_id, kind, payload, status, next_attempt_at, created_at, dedupe_key) "
                       "VALUES (2, 'text', ?, 'pending', ?, ?, ?)", (json.dumps({"text": key}), NOW, NOW, key))
        db.execute("INSERT INTO exams (org_id, title, time_limit, opens_at, closes_at, pass_mark, policy, status, "
                   "created_by, created_at) VALUES (1, '考试', 600, ?, '2026-12-30T00:00:00+08:00', 3, 'grace', "
                   "'published', 1, ?)", (NOW, NOW))
        db.execute("INSERT INTO exam_attempts (exam_id, user_id, status, started_at, deadline, grace_until, ended_at, "
                   "total, correct) VALUES (1, 2, 'submitted', '2026-11-23T09:00:00+08:00', "
                   "'2026-11-23T09:10:00+08:00', '2026-11-23T09:12:00+08:00', '2026-11-23T09:11:00+08:00', 4, 2)")
        db.execute("INSERT INTO exam_answers (attempt_id, position, answer, correct, answered_at) VALUES "
                   "(1, 0, 'A', 1, '2026-11-23T09:05:00+08:00')")
        db.execute("INSERT INTO exam_attempts (exam_id, user_id, status, started_at, deadline, total) VALUES "
                   "(1, 1, 'open', '2026-11-23T09:30:00+08:00', '2026-11-23T09:40:00+08:00', 4)")
    db.close()
    return path


LATER = "2026-11-23T09:35:00+08:00"  # the open attempt's deadline is 09:40


def _broken(clean_db: Path, tmp_path: Path, *sql: str, script: bool = False) -> Path:
    path = tmp_path / "broken.sqlite3"
    shutil.copy(clean_db, path)
    db = sqlite3.connect(path)
    with db:
        for statement in sql:
            (db.executescript if script else db.execute)(statement)
    db.close()
    return path


def test_a_database_written_by_the_store_holds_every_invariant(clean_db):
    report = invariants.check(clean_db, now=LATER, files=[{"+8613900000011", "+8613900000012"}])
    assert report.violations == []
    report.assert_ok()
    assert (report.in_flight_pushes, report.pending_pushes) == (0, 3)


def test_the_checker_opens_the_database_read_only(clean_db):
    with pytest.raises(sqlite3.OperationalError):
        invariants.connect(clean_db).execute("DELETE FROM points")


CASES: list[tuple[str, Callable[[], tuple[str, ...]], str]] = [
    ("running total", lambda: ("UPDATE points_totals SET total = total + 1 WHERE user_id = 2",),
     "points_totals differs from the ledger: user 2: running sum 10, ledger 9"),
    ("ledger row lost", lambda: ("DELETE FROM points WHERE idem_key = 'c'",),
     "points_totals differs from the ledger: user 2: running sum 9, ledger 8"),
    ("daily sum", lambda: ("UPDATE points_daily SET amount = 2 WHERE day = '2026-11-23'",),
     "points_daily differs from the ledger: user 2 on 2026-11-23: running sum 2, ledger 4"),
    ("idempotency key twice", lambda: (
        ("CREATE TABLE p2 AS SELECT * FROM points; DROP TABLE points; ALTER TABLE p2 RENAME TO points; "
        "INSERT INTO points (id, user_id, amount, source, day, idem_key, created_at) "
        "VALUES (99, 2, 0, 'daily', '2026-11-23', 'a', 'x')"),),
     "points.idem_key used more than once: 'a' x2"),
    ("closure row missing", lambda: ("DELETE FROM org_tree WHERE ancestor_id = 1 AND descendant_id = 3",),
     "org_tree lacks (ancestor, descendant, depth) of the parent tree: (1, 3, 2)"),
    ("closure depth wrong", lambda: ("UPDATE org_tree SET depth = 5 WHERE ancestor_id = 1 AND descendant_id = 3",),
     "org_tree has (ancestor, descendant, depth) not in the parent tree: (1, 3, 5)"),
    ("parent changed, closure not", lambda: ("UPDATE orgs SET parent_id = NULL WHERE id = 3",),
     "org_tree has (ancestor, descendant, depth) not in the parent tree: (1, 3, 2)"),
    ("half an import", lambda: ("DELETE FROM members WHERE phone = '+8613900000012'",),
     ("member import differs from its audit row: audit row 1 (org 1 at 2026-11-23T10:00:00+08:00) says 2 added, "
     "1 members carry that time")),
    ("an import with no audit row", lambda: (
        ("INSERT INTO members (org_id, name, phone, created_at, updated_at) VALUES "
        "(1, '丙', '+8613900000013', '2026-11-23T10:00:00+08:00', 'x')"),),
     "says 2 added, 3 members carry that time"),
    ("outbox state", lambda: ("UPDATE outbox SET status = 'sent', sent_at = NULL WHERE status = 'pending'",),
     "outbox row 'sent' without a send time or message id: row 2"),
    ("task notice never written", lambda: ("DELETE FROM outbox WHERE dedupe_key = 'task:1:2'",),
     "task recipient without the task's notice: task 1 to user 2"),
    ("certification notice never written", lambda: ("DELETE FROM outbox WHERE dedupe_key LIKE 'cert-decided:%'",),
     "certification decided without its notice to the lower side: application 1 (approved)"),
    ("exam open past its deadline", lambda: (("UPDATE exam_attempts SET deadline = '2026-11-23T09:34:00+08:00' "
                                             "WHERE status = 'open'"),),
     "exam attempt still open after its deadline: attempt 2"),
    ("exam in grace past it", lambda: (("UPDATE exam_attempts SET status = 'grace', grace_until = "
                                       "'2026-11-23T09:20:00+08:00' WHERE status = 'open'"),),
     "exam attempt still in grace after its grace period: attempt 2"),
    ("exam submitted late", lambda: ("UPDATE exam_attempts SET ended_at = '2026-11-23T09:13:00+08:00' WHERE id = 1",),
     "exam submitted by the person after the deadline: attempt 1"),
    ("exam answer late", lambda: ("UPDATE exam_answers SET answered_at = '2026-11-23T09:11:00+08:00'",),
     "exam answer stored after the deadline: attempt 1 question 0"),
    ("reset keeps answers", lambda: ("UPDATE exam_attempts SET status = 'reset' WHERE id = 1",),
     "reset exam attempt kept its answers: attempt 1: 1 answers"),
]


@pytest.mark.parametrize(("what", "sql", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_kind_of_violation_is_caught(clean_db, tmp_path, what, sql, expected):
    path = _broken(clean_db, tmp_path, *sql(), script=what == "idempotency key twice")
    report = invariants.check(path, now=LATER)
    assert any(expected in line for line in report.violations), report.violations
    with pytest.raises(invariants.InvariantError, match="invariant violation"):
        report.assert_ok()


def test_a_file_imported_in_part_is_caught(clean_db):
    report = invariants.check(clean_db, files=[{"+8613900000011", "+8613900000099"}])
    assert report.violations == ["half-imported file: file #0: 1 of its 2 phones are members of org 1"]


def test_in_flight_pushes_are_counted_not_violations(clean_db, tmp_path):
    path = _broken(clean_db, tmp_path, "UPDATE outbox SET status = 'sending', claimed_at = 'x' WHERE status = 'pending'")
    report = invariants.check(path)
    assert report.violations == [] and report.in_flight_pushes == 3


def test_duplicate_pushes_counts_what_a_chat_shows_more_often_than_sent(clean_db):
    once = {"from": "bot", "text": "通知 0 & 更多"}
    other = {"from": "bot", "text": "您好"}
    assert invariants.duplicate_pushes(clean_db, {2: [once, other, other]}) == 0
    assert invariants.duplicate_pushes(clean_db, {2: [once, once, once, other]}) == 2
    assert invariants.duplicate_pushes(clean_db, {2: []}) == 0

"""Learning: the points ledger and its running sums, the question bank, quiz attempts, special exams and
last night's ranking base."""
from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, PrimaryKeyConstraint, Table, func

from bot.db.base import AUTOINCREMENT, INT, TEXT, default, id_key, metadata, one_of, where

points = Table(
    "points", metadata,
    id_key(),
    Column("user_id", INT, ForeignKey("users.id"), nullable=False),
    Column("amount", INT, nullable=False),
    Column("source", TEXT, nullable=False),
    Column("day", TEXT, nullable=False),
    Column("ref", TEXT), Column("reason", TEXT),
    Column("idem_key", TEXT, nullable=False, unique=True),
    Column("created_at", TEXT, nullable=False),
    Index("points_user_day", "user_id", "day"),
    Index("points_source_day", "user_id", "source", "day"),
    **AUTOINCREMENT,
)

points_daily = Table(
    "points_daily", metadata,
    Column("user_id", INT, ForeignKey("users.id"), nullable=False),
    Column("day", TEXT, nullable=False),
    Column("amount", INT, nullable=False),
    PrimaryKeyConstraint("user_id", "day"),
    Index("points_daily_day", "day", "user_id", "amount"),
)

points_totals = Table(
    "points_totals", metadata,
    Column("user_id", INT, ForeignKey("users.id"), primary_key=True, autoincrement=False),
    Column("total", INT, nullable=False),
)

# org_id NULL: the operator's global bank; no foreign key (a dissolved organisation's questions are retired)
questions = Table(
    "questions", metadata,
    id_key(),
    Column("org_id", INT),
    Column("kind", TEXT, nullable=False),
    Column("body", TEXT, nullable=False), Column("answer", TEXT, nullable=False),
    Column("tags", TEXT, nullable=False, server_default=default("''")),
    Column("fingerprint", TEXT, nullable=False),
    Column("created_by", INT),
    Column("created_at", TEXT, nullable=False),
    Column("retired_at", TEXT),
    one_of("kind", "single", "multiple", "judge", "blank"),
    Index("questions_org", "org_id"),
    **AUTOINCREMENT,
)
Index("questions_fingerprint", func.coalesce(questions.c.org_id, 0), questions.c.fingerprint, unique=True)

quiz_attempts = Table(
    "quiz_attempts", metadata,
    id_key(),
    Column("user_id", INT, ForeignKey("users.id"), nullable=False),
    Column("kind", TEXT, nullable=False),
    Column("day", TEXT, nullable=False),
    Column("period", TEXT), Column("scope", INT),
    Column("scored", INT, nullable=False, server_default=default("1")),
    Column("status", TEXT, nullable=False, server_default=default("'open'")),
    Column("position", INT, nullable=False, server_default=default("0")),
    Column("shown_at", TEXT),
    Column("started_at", TEXT, nullable=False),
    Column("submitted_at", TEXT),
    Column("total", INT, nullable=False),
    Column("correct", INT), Column("points", INT),
    Column("flagged", INT, nullable=False, server_default=default("0")),
    Column("message_id", INT),
    one_of("kind", "daily", "weekly", "challenge", "practice"),
    one_of("status", "open", "submitted", "expired"),
    Index("quiz_attempts_user", "user_id", "day"),
    Index("quiz_attempts_open", "status", "kind", "user_id"),
    Index("quiz_attempts_weekly_scored", "user_id", "period", unique=True, **where("kind = 'weekly' AND scored = 1")),
    **AUTOINCREMENT,
)

quiz_items = Table(
    "quiz_items", metadata,
    Column("attempt_id", INT, ForeignKey("quiz_attempts.id", ondelete="CASCADE"), nullable=False),
    Column("position", INT, nullable=False),
    Column("question_id", INT, ForeignKey("questions.id"), nullable=False),
    Column("answer", TEXT), Column("correct", INT), Column("answered_at", TEXT), Column("answer_ms", INT),
    Column("fast", INT, nullable=False, server_default=default("0")),
    PrimaryKeyConstraint("attempt_id", "position"),
)

seen_questions = Table(
    "seen_questions", metadata,
    Column("user_id", INT, ForeignKey("users.id"), nullable=False),
    Column("question_id", INT, ForeignKey("questions.id"), nullable=False),
    Column("last_seen", TEXT, nullable=False),
    Column("times", INT, nullable=False, server_default=default("1")),
    PrimaryKeyConstraint("user_id", "question_id"),
)

weekly_sets = Table(
    "weekly_sets", metadata,
    Column("period", TEXT, nullable=False),
    Column("scope", INT, nullable=False, server_default=default("0")),
    Column("question_ids", TEXT, nullable=False),
    Column("published_by", INT),
    Column("created_at", TEXT, nullable=False),
    PrimaryKeyConstraint("period", "scope"),
)

wrongbook = Table(
    "wrongbook", metadata,
    Column("user_id", INT, ForeignKey("users.id"), nullable=False),
    Column("question_id", INT, ForeignKey("questions.id"), nullable=False),
    Column("added_at", TEXT, nullable=False),
    Column("wrong_times", INT, nullable=False, server_default=default("1")),
    Column("streak", INT, nullable=False, server_default=default("0")),
    PrimaryKeyConstraint("user_id", "question_id"),
)

exams = Table(
    "exams", metadata,
    id_key(),
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("title", TEXT, nullable=False),
    Column("time_limit", INT, nullable=False),
    Column("opens_at", TEXT, nullable=False), Column("closes_at", TEXT, nullable=False),
    Column("pass_mark", INT, nullable=False),
    Column("max_attempts", INT),
    Column("points", INT, nullable=False, server_default=default("0")),
    Column("policy", TEXT, nullable=False),
    Column("grace_seconds", INT, nullable=False, server_default=default("0")),
    Column("status", TEXT, nullable=False, server_default=default("'draft'")),
    Column("publish_at", TEXT),
    Column("created_by", INT, ForeignKey("users.id"), nullable=False),
    Column("created_at", TEXT, nullable=False),
    one_of("policy", "reset", "submit", "grace"),
    one_of("status", "draft", "scheduled", "published"),
    Index("exams_org", "org_id", "status"),
    **AUTOINCREMENT,
)

exam_questions = Table(
    "exam_questions", metadata,
    Column("exam_id", INT, ForeignKey("exams.id", ondelete="CASCADE"), nullable=False),
    Column("position", INT, nullable=False),
    Column("question_id", INT, ForeignKey("questions.id"), nullable=False),
    PrimaryKeyConstraint("exam_id", "position"),
)

exam_attempts = Table(
    "exam_attempts", metadata,
    id_key(),
    Column("exam_id", INT, ForeignKey("exams.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", INT, ForeignKey("users.id"), nullable=False),
    Column("status", TEXT, nullable=False),
    Column("started_at", TEXT, nullable=False), Column("deadline", TEXT, nullable=False),
    Column("grace_until", TEXT), Column("ended_at", TEXT),
    Column("total", INT, nullable=False),
    Column("correct", INT),
    Column("timed_out", INT, nullable=False, server_default=default("0")),
    Column("header_id", INT),
    Column("position", INT, nullable=False, server_default=default("0")),
    one_of("status", "open", "grace", "submitted", "reset", "abandoned"),
    Index("exam_attempts_live", "exam_id", "user_id", unique=True, **where("status IN ('open', 'grace')")),
    Index("exam_attempts_user", "user_id", "exam_id", "status"),
    Index("exam_attempts_status", "status"),
    **AUTOINCREMENT,
)

exam_answers = Table(
    "exam_answers", metadata,
    Column("attempt_id", INT, ForeignKey("exam_attempts.id", ondelete="CASCADE"), nullable=False),
    Column("position", INT, nullable=False),
    Column("answer", TEXT, nullable=False),
    Column("correct", INT, nullable=False),
    Column("answered_at", TEXT, nullable=False),
    PrimaryKeyConstraint("attempt_id", "position"),
)

# last night's base of every organisation's ranking (/rank)
rank_base = Table(
    "rank_base", metadata,
    Column("org_id", INT, nullable=False), Column("user_id", INT, nullable=False),
    Column("name", TEXT, nullable=False), Column("phone", TEXT, nullable=False),
    Column("week", INT, nullable=False), Column("total", INT, nullable=False),
    PrimaryKeyConstraint("org_id", "user_id"),
    Index("rank_base_week", "org_id", "week"),
    Index("rank_base_total", "org_id", "total"),
    Index("rank_base_scores", "org_id", "user_id", "week", "total"),
)

rank_hist = Table(
    "rank_hist", metadata,
    Column("org_id", INT, nullable=False), Column("by_total", INT, nullable=False),
    Column("score", INT, nullable=False), Column("n", INT, nullable=False),
    PrimaryKeyConstraint("org_id", "by_total", "score"),
)

rank_day = Table("rank_day", metadata, Column("day", TEXT, primary_key=True))

"""Work and its delivery: the outbox of pushes, due work, the update inbox and leases, tasks, activities,
and manuscripts."""
from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, PrimaryKeyConstraint, Table, UniqueConstraint

from bot.db.base import AUTOINCREMENT, BLOB, INT, TEXT, default, id_key, metadata, one_of, where

# a file sent to many is stored once by content hash and re-sent by Telegram's file_id
outbox_files = Table(
    "outbox_files", metadata,
    Column("sha256", TEXT, primary_key=True),
    Column("kind", TEXT, nullable=False),
    Column("data", BLOB), Column("file_id", TEXT),
    Column("created_at", TEXT, nullable=False),
)

outbox = Table(
    "outbox", metadata,
    id_key(),
    Column("chat_id", INT, nullable=False),
    Column("kind", TEXT, nullable=False),
    Column("payload", TEXT, nullable=False),
    Column("file_name", TEXT), Column("file_data", BLOB),
    Column("file_hash", TEXT, ForeignKey("outbox_files.sha256")),
    Column("dedupe_key", TEXT, unique=True),
    Column("status", TEXT, nullable=False, server_default=default("'pending'")),
    Column("attempts", INT, nullable=False, server_default=default("0")),
    Column("next_attempt_at", TEXT, nullable=False),
    Column("last_error", TEXT),
    Column("created_at", TEXT, nullable=False),
    Column("claimed_at", TEXT), Column("sent_at", TEXT), Column("message_id", INT),
    Column("expires_at", TEXT),  # from then on the sender drops the push ('obsolete')
    one_of("kind", "text", "photo", "document"),
    one_of("status", "pending", "sending", "sent", "failed", "unreachable", "skipped_unreachable", "obsolete"),
    Index("outbox_status", "status"),
    Index("outbox_chat", "status", "chat_id", "id"),
    **AUTOINCREMENT,
)

unreachable_users = Table(
    "unreachable_users", metadata,
    Column("user_id", INT, primary_key=True, autoincrement=False),
    Column("since", TEXT, nullable=False),
    Column("last_error", TEXT),
)

# every scheduled time as a row, swept by bot/scheduler.py
due_work = Table(
    "due_work", metadata,
    id_key(),
    Column("kind", TEXT, nullable=False), Column("ref", TEXT, nullable=False),
    Column("due_at", TEXT, nullable=False), Column("created_at", TEXT, nullable=False),
    Column("done_at", TEXT),
    Column("tries", INT, nullable=False, server_default=default("0")),
    Column("last_error", TEXT),
    UniqueConstraint("kind", "ref"),
    Index("due_work_pending", "done_at", "due_at"),
)

# every update stored before Telegram hears it was received; held by one process at a time
inbox = Table(
    "inbox", metadata,
    Column("update_id", INT, primary_key=True, autoincrement=False),
    Column("body", TEXT, nullable=False),
    Column("received_at", TEXT, nullable=False),
    Column("done_at", TEXT),
    Column("tries", INT, nullable=False, server_default=default("0")),
    Column("person", INT), Column("held_by", TEXT), Column("held_until", TEXT),
    Index("inbox_person", "person", "update_id", **where("done_at IS NULL")),
)

leases = Table(
    "leases", metadata,
    Column("name", TEXT, primary_key=True),
    Column("holder", TEXT, nullable=False),
    Column("expires_at", TEXT, nullable=False),
)

tasks = Table(
    "tasks", metadata,
    id_key(),
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("created_by", INT, ForeignKey("users.id"), nullable=False),
    Column("body", TEXT, nullable=False),
    Column("file_kind", TEXT), Column("file_name", TEXT),
    Column("target", TEXT, nullable=False),
    Column("branch_ids", TEXT, nullable=False, server_default=default("''")),
    Column("deadline", TEXT),
    Column("needs_confirm", INT, nullable=False, server_default=default("0")),
    Column("status", TEXT, nullable=False, server_default=default("'open'")),
    Column("reminders", INT, nullable=False, server_default=default("0")),
    Column("last_remind_at", TEXT),
    Column("created_at", TEXT, nullable=False),
    Column("withdrawn_at", TEXT),
    Column("request_key", TEXT),  # the press that sent it (its preview's chat and message)
    one_of("file_kind", "photo", "document"),
    one_of("target", "subtree", "org", "branches"),
    one_of("status", "open", "withdrawn"),
    Index("tasks_org", "org_id", "id"),
    Index("tasks_request", "request_key", unique=True, **where("request_key IS NOT NULL")),
    **AUTOINCREMENT,
)

task_recipients = Table(
    "task_recipients", metadata,
    Column("task_id", INT, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", INT, ForeignKey("users.id"), nullable=False),
    Column("name", TEXT, nullable=False),
    Column("confirmed_at", TEXT),
    PrimaryKeyConstraint("task_id", "user_id"),
    Index("task_recipients_user", "user_id", "task_id"),
)

activities = Table(
    "activities", metadata,
    id_key(),
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", TEXT, nullable=False),
    Column("title", TEXT, nullable=False),
    Column("starts_at", TEXT, nullable=False), Column("ends_at", TEXT, nullable=False),
    Column("points", INT, nullable=False),
    Column("target", TEXT, nullable=False),
    Column("branch_ids", TEXT, nullable=False, server_default=default("''")),
    Column("token", TEXT, nullable=False, unique=True),
    Column("code_word", TEXT, nullable=False, unique=True),
    Column("created_by", INT, ForeignKey("users.id"), nullable=False),
    Column("created_at", TEXT, nullable=False),
    one_of("kind", "class", "day", "lecture", "other"),
    one_of("target", "subtree", "org", "branches"),
    Index("activities_org", "org_id", "id"),
    **AUTOINCREMENT,
)

activity_checkins = Table(
    "activity_checkins", metadata,
    Column("activity_id", INT, ForeignKey("activities.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", INT, ForeignKey("users.id"), nullable=False),
    Column("name", TEXT, nullable=False),
    Column("how", TEXT, nullable=False),
    Column("marked_by", INT, ForeignKey("users.id")),
    Column("at", TEXT, nullable=False),
    PrimaryKeyConstraint("activity_id", "user_id"),
    one_of("how", "qr", "code", "admin"),
)

manuscripts = Table(
    "manuscripts", metadata,
    id_key(),
    Column("author_id", INT, ForeignKey("users.id"), nullable=False),
    Column("origin_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("title", TEXT, nullable=False), Column("body", TEXT, nullable=False),
    Column("column_name", TEXT, nullable=False),
    Column("status", TEXT, nullable=False, server_default=default("'pending'")),
    Column("created_at", TEXT, nullable=False), Column("updated_at", TEXT, nullable=False),
    one_of("status", "pending", "rejected", "accepted"),
    Index("manuscripts_org", "org_id", "status", "id"),
    Index("manuscripts_author", "author_id", "id"),
    **AUTOINCREMENT,
)

manuscript_files = Table(
    "manuscript_files", metadata,
    Column("manuscript_id", INT, ForeignKey("manuscripts.id", ondelete="CASCADE"), nullable=False),
    Column("position", INT, nullable=False),
    Column("kind", TEXT, nullable=False),
    Column("file_id", TEXT, nullable=False),
    Column("file_name", TEXT), Column("file_size", INT),
    PrimaryKeyConstraint("manuscript_id", "position"),
    one_of("kind", "photo", "document"),
)

manuscript_steps = Table(
    "manuscript_steps", metadata,
    id_key(),
    Column("manuscript_id", INT, ForeignKey("manuscripts.id", ondelete="CASCADE"), nullable=False),
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("action", TEXT, nullable=False),
    Column("to_org_id", INT, ForeignKey("orgs.id", ondelete="SET NULL")),
    Column("actor_id", INT, ForeignKey("users.id"), nullable=False),
    Column("reason", TEXT),
    Column("at", TEXT, nullable=False),
    one_of("action", "submitted", "forwarded", "rejected", "accepted"),
    Index("manuscript_steps_ms", "manuscript_id", "id"),
    Index("manuscript_steps_org", "org_id", "action"),
    **AUTOINCREMENT,
)

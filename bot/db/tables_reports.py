"""The nightly report snapshot (per organisation and branch), the days computed, report settings and
recipients."""
from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, PrimaryKeyConstraint, Table

from bot.db.base import INT, REAL, TEXT, default, metadata, one_of

org_daily = Table(
    "org_daily", metadata,
    Column("org_id", INT, nullable=False), Column("day", TEXT, nullable=False),
    Column("total", INT, nullable=False), Column("new", INT, nullable=False),
    Column("active", INT, nullable=False), Column("points", INT, nullable=False),
    Column("reached", INT),
    Column("activated", INT, nullable=False),
    Column("per_capita", REAL, nullable=False), Column("participation", REAL, nullable=False),
    Column("peer_rank", INT), Column("peers", INT),
    PrimaryKeyConstraint("org_id", "day"),
    Index("org_daily_day", "day"),
)

branch_daily = Table(
    "branch_daily", metadata,
    Column("org_id", INT, nullable=False), Column("branch_id", INT, nullable=False),
    Column("day", TEXT, nullable=False),
    Column("total", INT, nullable=False), Column("active", INT, nullable=False),
    Column("points", INT, nullable=False),
    PrimaryKeyConstraint("org_id", "day", "branch_id"),
)

report_days = Table(
    "report_days", metadata,
    Column("day", TEXT, primary_key=True),
    Column("computed_at", TEXT, nullable=False),
)

report_settings = Table(
    "report_settings", metadata,
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("enabled", INT, nullable=False, server_default=default("0")),
    Column("send_time", TEXT, nullable=False, server_default=default("'08:00'")),
    Column("content", TEXT, nullable=False, server_default=default("'chart'")),
    Column("daily_target", INT),
    Column("inactive_days", INT, nullable=False, server_default=default("3")),
    Column("updated_at", TEXT, nullable=False),
    one_of("content", "text", "chart", "xlsx"),
)

report_recipients = Table(
    "report_recipients", metadata,
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", INT, ForeignKey("users.id"), nullable=False),
    Column("added_at", TEXT, nullable=False),
    PrimaryKeyConstraint("org_id", "user_id"),
    Index("report_recipients_user", "user_id"),
)

"""People, organisations and their tree: users, FSM state, the audit log, organisations, admins, branches,
members and their history, invitations, join and certification requests, renames, the deployment's facts."""
from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, PrimaryKeyConstraint, Table, UniqueConstraint

from bot.db.base import AUTOINCREMENT, INT, TEXT, default, id_key, metadata, one_of, where

users = Table(
    "users", metadata,
    id_key(),
    Column("first_name", TEXT, nullable=False, server_default=default("''")),
    Column("last_name", TEXT), Column("username", TEXT), Column("tg_language", TEXT), Column("language", TEXT),
    Column("phone", TEXT, unique=True),
    Column("name", TEXT), Column("org_name", TEXT), Column("agreed_at", TEXT), Column("registered_at", TEXT),
    Column("real_name", TEXT),
    Column("id_hash", TEXT, unique=True),
    Column("id_masked", TEXT), Column("verified_at", TEXT), Column("menu", TEXT),
    Column("created_at", TEXT, nullable=False), Column("updated_at", TEXT, nullable=False),
    Column("sort_key", TEXT, nullable=False, server_default=default("''")),
)

fsm = Table(
    "fsm", metadata,
    Column("key", TEXT, primary_key=True),
    Column("state", TEXT),
    Column("data", TEXT, nullable=False, server_default=default("'{}'")),
)

audit_log = Table(
    "audit_log", metadata,
    id_key(),
    Column("actor_id", INT, nullable=False), Column("org_id", INT),
    Column("action", TEXT, nullable=False), Column("target", TEXT), Column("before", TEXT), Column("after", TEXT),
    Column("at", TEXT, nullable=False),
    Index("audit_log_org", "org_id", "id"),
    **AUTOINCREMENT,
)

orgs = Table(
    "orgs", metadata,
    id_key(),
    Column("name", TEXT, nullable=False),
    Column("region", TEXT, nullable=False, server_default=default("''")),
    Column("kind", TEXT, nullable=False, server_default=default("'party'")),
    Column("parent_id", INT, ForeignKey("orgs.id")),
    Column("certified_at", TEXT),
    Column("join_approval", INT, nullable=False, server_default=default("0")),
    Column("protect_content", INT, nullable=False, server_default=default("1")),
    Column("created_by", INT, ForeignKey("users.id"), nullable=False),
    Column("created_at", TEXT, nullable=False),
    Column("sort_key", TEXT, nullable=False, server_default=default("''")),
    one_of("kind", "party", "nonparty"),
    Index("orgs_parent", "parent_id"),
    **AUTOINCREMENT,
)

org_admins = Table(
    "org_admins", metadata,
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", INT, ForeignKey("users.id"), nullable=False),
    Column("role", TEXT, nullable=False),
    Column("added_at", TEXT, nullable=False),
    PrimaryKeyConstraint("org_id", "user_id"),
    one_of("role", "main", "admin"),
    Index("org_admins_user", "user_id"),
)

branches = Table(
    "branches", metadata,
    id_key(),
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", INT, ForeignKey("branches.id", ondelete="CASCADE")),
    Column("name", TEXT, nullable=False),
    Column("created_at", TEXT, nullable=False),
    Column("kind", TEXT, nullable=False, server_default=default("'branch'")),
    Column("sort_key", TEXT, nullable=False, server_default=default("''")),
    UniqueConstraint("org_id", "name"),
    one_of("kind", "general", "branch"),
    **AUTOINCREMENT,
)

members = Table(
    "members", metadata,
    id_key(),
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("branch_id", INT, ForeignKey("branches.id", ondelete="SET NULL")),
    Column("name", TEXT, nullable=False),
    Column("phone", TEXT, nullable=False),
    Column("note", TEXT), Column("activated_at", TEXT),
    Column("created_at", TEXT, nullable=False), Column("updated_at", TEXT, nullable=False),
    Column("correspondent", INT, nullable=False, server_default=default("0")),
    Column("sort_key", TEXT, nullable=False, server_default=default("''")),
    UniqueConstraint("org_id", "phone"),
    Index("members_phone", "phone"),
    Index("members_branch", "org_id", "branch_id"),
    Index("members_sorted", "org_id", "sort_key", "id"),
    **AUTOINCREMENT,
)

invites = Table(
    "invites", metadata,
    id_key(),
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("branch_id", INT, ForeignKey("branches.id", ondelete="CASCADE")),
    Column("token_hash", TEXT, nullable=False, unique=True),
    Column("created_by", INT, ForeignKey("users.id"), nullable=False),
    Column("created_at", TEXT, nullable=False), Column("expires_at", TEXT, nullable=False),
    Column("max_uses", INT),
    Column("uses", INT, nullable=False, server_default=default("0")),
    Column("revoked_at", TEXT),
    Index("invites_org", "org_id", "id"),
    **AUTOINCREMENT,
)

join_requests = Table(
    "join_requests", metadata,
    id_key(),
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("branch_id", INT, ForeignKey("branches.id", ondelete="SET NULL")),
    Column("user_id", INT, ForeignKey("users.id"), nullable=False),
    Column("invite_id", INT, ForeignKey("invites.id", ondelete="SET NULL")),
    Column("status", TEXT, nullable=False, server_default=default("'pending'")),
    Column("created_at", TEXT, nullable=False),
    Column("decided_by", INT, ForeignKey("users.id")),
    Column("decided_at", TEXT),
    one_of("status", "pending", "approved", "rejected"),
    Index("join_requests_pending", "org_id", "user_id", unique=True, **where("status = 'pending'")),
    **AUTOINCREMENT,
)

# the certified tree as a closure table: one row per (ancestor, descendant), depth 0 for the organisation itself
org_tree = Table(
    "org_tree", metadata,
    Column("ancestor_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("descendant_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("depth", INT, nullable=False),
    PrimaryKeyConstraint("ancestor_id", "descendant_id"),
    Index("org_tree_descendant", "descendant_id", "depth"),
)

cert_invites = Table(
    "cert_invites", metadata,
    id_key(),
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", TEXT, nullable=False, unique=True),
    Column("addressee_id", INT, ForeignKey("users.id")),
    Column("note", TEXT),
    Column("created_by", INT, ForeignKey("users.id"), nullable=False),
    Column("created_at", TEXT, nullable=False), Column("expires_at", TEXT, nullable=False),
    Column("revoked_at", TEXT),
    Index("cert_invites_org", "org_id", "id"),
    **AUTOINCREMENT,
)

DECISION = ("pending", "approved", "rejected", "withdrawn")

cert_applications = Table(
    "cert_applications", metadata,
    id_key(),
    Column("upper_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("lower_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("invite_id", INT, ForeignKey("cert_invites.id", ondelete="SET NULL")),
    Column("applicant_id", INT, ForeignKey("users.id"), nullable=False),
    Column("status", TEXT, nullable=False, server_default=default("'pending'")),
    Column("reason", TEXT),
    Column("created_at", TEXT, nullable=False),
    Column("decided_by", INT, ForeignKey("users.id")),
    Column("decided_at", TEXT),
    one_of("status", *DECISION),
    Index("cert_applications_pending", "lower_id", unique=True, **where("status = 'pending'")),
    Index("cert_applications_upper", "upper_id", "status", "id"),
    **AUTOINCREMENT,
)

rename_requests = Table(
    "rename_requests", metadata,
    id_key(),
    Column("org_id", INT, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("upper_id", INT, ForeignKey("orgs.id", ondelete="CASCADE")),
    Column("old_name", TEXT, nullable=False), Column("new_name", TEXT, nullable=False),
    Column("requested_by", INT, ForeignKey("users.id"), nullable=False),
    Column("status", TEXT, nullable=False, server_default=default("'pending'")),
    Column("reason", TEXT),
    Column("created_at", TEXT, nullable=False),
    Column("decided_by", INT, ForeignKey("users.id")),
    Column("decided_at", TEXT),
    one_of("status", *DECISION),
    Index("rename_requests_pending", "org_id", unique=True, **where("status = 'pending'")),
    Index("rename_requests_upper", "upper_id", "status"),
    **AUTOINCREMENT,
)

# when a phone was listed where (start_day inclusive, end_day exclusive, NULL while listed)
member_history = Table(
    "member_history", metadata,
    id_key(),
    Column("org_id", INT, nullable=False), Column("branch_id", INT),
    Column("phone", TEXT, nullable=False),
    Column("start_day", TEXT, nullable=False), Column("end_day", TEXT),
    Index("member_history_org", "org_id", "phone", "start_day"),
    Index("member_history_open", "org_id", "phone", **where("end_day IS NULL")),
    Index("member_history_phone", "phone", "start_day"),
    **AUTOINCREMENT,
)

# facts about the deployment itself (the SECRET_KEY's fingerprint)
deployment = Table(
    "deployment", metadata,
    Column("name", TEXT, primary_key=True),
    Column("value", TEXT, nullable=False),
)

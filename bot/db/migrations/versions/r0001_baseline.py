# ruff: noqa: E501  (generated from the schema of legacy version 27 and frozen: one constraint per line)
"""baseline: the schema as the legacy scripts left it at their last version (27)

A frozen copy of that schema, written out table by table: it never changes, whatever bot/db/ says later
(a later change is a revision of its own). A new database is made by it; a database the legacy scripts
made (bot/migrations.py) is brought to legacy version 27 and then stamped with this revision instead.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# the column types as the legacy scripts made them: INTEGER / BIGINT (64-bit ids), TEXT compared by code
# point on PostgreSQL (COLLATE "C", as SQLite compares), REAL / DOUBLE PRECISION
INT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TEXT = sa.Text().with_variant(sa.TEXT(collation="C"), "postgresql")
REAL: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")


def _nf(column: str) -> sa.ColumnElement[object] | str:
    """An index column in NULLS FIRST order on PostgreSQL (SQLite's order, which the legacy scripts' indexes
    gave there); plain on SQLite, which puts NULL first anyway and cannot say it in an index."""
    return sa.literal_column(f"{column} NULLS FIRST") if op.get_bind().dialect.name == "postgresql" else column


def _where(condition: str) -> dict[str, Any]:
    """A partial index's condition, on both backends."""
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    op.create_table('audit_log',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('actor_id', INT, nullable=False),
        sa.Column('org_id', INT, nullable=True),
        sa.Column('action', TEXT, nullable=False),
        sa.Column('target', TEXT, nullable=True),
        sa.Column('before', TEXT, nullable=True),
        sa.Column('after', TEXT, nullable=True),
        sa.Column('at', TEXT, nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_audit_log'),
        sqlite_autoincrement=True
    )
    op.create_index('audit_log_org', 'audit_log', [_nf('org_id'), 'id'])
    op.create_table('branch_daily',
        sa.Column('org_id', INT, nullable=False),
        sa.Column('branch_id', INT, nullable=False),
        sa.Column('day', TEXT, nullable=False),
        sa.Column('total', INT, nullable=False),
        sa.Column('active', INT, nullable=False),
        sa.Column('points', INT, nullable=False),
        sa.PrimaryKeyConstraint('org_id', 'day', 'branch_id', name='pk_branch_daily')
    )
    op.create_table('deployment',
        sa.Column('name', TEXT, nullable=False),
        sa.Column('value', TEXT, nullable=False),
        sa.PrimaryKeyConstraint('name', name='pk_deployment')
    )
    op.create_table('due_work',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('kind', TEXT, nullable=False),
        sa.Column('ref', TEXT, nullable=False),
        sa.Column('due_at', TEXT, nullable=False),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('done_at', TEXT, nullable=True),
        sa.Column('tries', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('last_error', TEXT, nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_due_work'),
        sa.UniqueConstraint('kind', 'ref', name='uq_due_work_kind_ref')
    )
    op.create_index('due_work_pending', 'due_work', [_nf('done_at'), _nf('due_at')])
    op.create_table('fsm',
        sa.Column('key', TEXT, nullable=False),
        sa.Column('state', TEXT, nullable=True),
        sa.Column('data', TEXT, server_default=sa.text("'{}'"), nullable=False),
        sa.PrimaryKeyConstraint('key', name='pk_fsm')
    )
    op.create_table('inbox',
        sa.Column('update_id', INT, autoincrement=False, nullable=False),
        sa.Column('body', TEXT, nullable=False),
        sa.Column('received_at', TEXT, nullable=False),
        sa.Column('done_at', TEXT, nullable=True),
        sa.Column('tries', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('person', INT, nullable=True),
        sa.Column('held_by', TEXT, nullable=True),
        sa.Column('held_until', TEXT, nullable=True),
        sa.PrimaryKeyConstraint('update_id', name='pk_inbox')
    )
    op.create_index('inbox_person', 'inbox', [_nf('person'), _nf('update_id')], **_where('done_at IS NULL'))
    op.create_table('leases',
        sa.Column('name', TEXT, nullable=False),
        sa.Column('holder', TEXT, nullable=False),
        sa.Column('expires_at', TEXT, nullable=False),
        sa.PrimaryKeyConstraint('name', name='pk_leases')
    )
    op.create_table('member_history',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('branch_id', INT, nullable=True),
        sa.Column('phone', TEXT, nullable=False),
        sa.Column('start_day', TEXT, nullable=False),
        sa.Column('end_day', TEXT, nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_member_history'),
        sqlite_autoincrement=True
    )
    op.create_index('member_history_open', 'member_history', [_nf('org_id'), _nf('phone')], **_where('end_day IS NULL'))
    op.create_index('member_history_org', 'member_history', [_nf('org_id'), _nf('phone'), _nf('start_day')])
    op.create_index('member_history_phone', 'member_history', [_nf('phone'), _nf('start_day')])
    op.create_table('org_daily',
        sa.Column('org_id', INT, nullable=False),
        sa.Column('day', TEXT, nullable=False),
        sa.Column('total', INT, nullable=False),
        sa.Column('new', INT, nullable=False),
        sa.Column('active', INT, nullable=False),
        sa.Column('points', INT, nullable=False),
        sa.Column('reached', INT, nullable=True),
        sa.Column('activated', INT, nullable=False),
        sa.Column('per_capita', REAL, nullable=False),
        sa.Column('participation', REAL, nullable=False),
        sa.Column('peer_rank', INT, nullable=True),
        sa.Column('peers', INT, nullable=True),
        sa.PrimaryKeyConstraint('org_id', 'day', name='pk_org_daily')
    )
    op.create_index('org_daily_day', 'org_daily', [_nf('day')])
    op.create_table('outbox_files',
        sa.Column('sha256', TEXT, nullable=False),
        sa.Column('kind', TEXT, nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=True),
        sa.Column('file_id', TEXT, nullable=True),
        sa.Column('created_at', TEXT, nullable=False),
        sa.PrimaryKeyConstraint('sha256', name='pk_outbox_files')
    )
    op.create_table('questions',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('org_id', INT, nullable=True),
        sa.Column('kind', TEXT, nullable=False),
        sa.Column('body', TEXT, nullable=False),
        sa.Column('answer', TEXT, nullable=False),
        sa.Column('tags', TEXT, server_default=sa.text("''"), nullable=False),
        sa.Column('fingerprint', TEXT, nullable=False),
        sa.Column('created_by', INT, nullable=True),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('retired_at', TEXT, nullable=True),
        sa.CheckConstraint("kind IN ('single', 'multiple', 'judge', 'blank')", name='ck_questions_kind'),
        sa.PrimaryKeyConstraint('id', name='pk_questions'),
        sqlite_autoincrement=True
    )
    op.create_index('questions_fingerprint', 'questions', [sa.text('COALESCE(org_id, 0)'), 'fingerprint'], unique=True)
    op.create_index('questions_org', 'questions', [_nf('org_id')])
    op.create_table('rank_base',
        sa.Column('org_id', INT, nullable=False),
        sa.Column('user_id', INT, nullable=False),
        sa.Column('name', TEXT, nullable=False),
        sa.Column('phone', TEXT, nullable=False),
        sa.Column('week', INT, nullable=False),
        sa.Column('total', INT, nullable=False),
        sa.PrimaryKeyConstraint('org_id', 'user_id', name='pk_rank_base')
    )
    op.create_index('rank_base_scores', 'rank_base', [_nf('org_id'), _nf('user_id'), _nf('week'), _nf('total')])
    op.create_index('rank_base_total', 'rank_base', [_nf('org_id'), _nf('total')])
    op.create_index('rank_base_week', 'rank_base', [_nf('org_id'), _nf('week')])
    op.create_table('rank_day',
        sa.Column('day', TEXT, nullable=False),
        sa.PrimaryKeyConstraint('day', name='pk_rank_day')
    )
    op.create_table('rank_hist',
        sa.Column('org_id', INT, nullable=False),
        sa.Column('by_total', INT, nullable=False),
        sa.Column('score', INT, nullable=False),
        sa.Column('n', INT, nullable=False),
        sa.PrimaryKeyConstraint('org_id', 'by_total', 'score', name='pk_rank_hist')
    )
    op.create_table('report_days',
        sa.Column('day', TEXT, nullable=False),
        sa.Column('computed_at', TEXT, nullable=False),
        sa.PrimaryKeyConstraint('day', name='pk_report_days')
    )
    op.create_table('unreachable_users',
        sa.Column('user_id', INT, autoincrement=False, nullable=False),
        sa.Column('since', TEXT, nullable=False),
        sa.Column('last_error', TEXT, nullable=True),
        sa.PrimaryKeyConstraint('user_id', name='pk_unreachable_users')
    )
    op.create_table('users',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('first_name', TEXT, server_default=sa.text("''"), nullable=False),
        sa.Column('last_name', TEXT, nullable=True),
        sa.Column('username', TEXT, nullable=True),
        sa.Column('tg_language', TEXT, nullable=True),
        sa.Column('language', TEXT, nullable=True),
        sa.Column('phone', TEXT, nullable=True),
        sa.Column('name', TEXT, nullable=True),
        sa.Column('org_name', TEXT, nullable=True),
        sa.Column('agreed_at', TEXT, nullable=True),
        sa.Column('registered_at', TEXT, nullable=True),
        sa.Column('real_name', TEXT, nullable=True),
        sa.Column('id_hash', TEXT, nullable=True),
        sa.Column('id_masked', TEXT, nullable=True),
        sa.Column('verified_at', TEXT, nullable=True),
        sa.Column('menu', TEXT, nullable=True),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('updated_at', TEXT, nullable=False),
        sa.Column('sort_key', TEXT, server_default=sa.text("''"), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_users'),
        sa.UniqueConstraint('id_hash', name='uq_users_id_hash'),
        sa.UniqueConstraint('phone', name='uq_users_phone')
    )
    op.create_table('weekly_sets',
        sa.Column('period', TEXT, nullable=False),
        sa.Column('scope', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('question_ids', TEXT, nullable=False),
        sa.Column('published_by', INT, nullable=True),
        sa.Column('created_at', TEXT, nullable=False),
        sa.PrimaryKeyConstraint('period', 'scope', name='pk_weekly_sets')
    )
    op.create_table('orgs',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('name', TEXT, nullable=False),
        sa.Column('region', TEXT, server_default=sa.text("''"), nullable=False),
        sa.Column('kind', TEXT, server_default=sa.text("'party'"), nullable=False),
        sa.Column('parent_id', INT, nullable=True),
        sa.Column('certified_at', TEXT, nullable=True),
        sa.Column('join_approval', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('protect_content', INT, server_default=sa.text('1'), nullable=False),
        sa.Column('created_by', INT, nullable=False),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('sort_key', TEXT, server_default=sa.text("''"), nullable=False),
        sa.CheckConstraint("kind IN ('party', 'nonparty')", name='ck_orgs_kind'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name='fk_orgs_created_by_users'),
        sa.ForeignKeyConstraint(['parent_id'], ['orgs.id'], name='fk_orgs_parent_id_orgs'),
        sa.PrimaryKeyConstraint('id', name='pk_orgs'),
        sqlite_autoincrement=True
    )
    op.create_index('orgs_parent', 'orgs', [_nf('parent_id')])
    op.create_table('outbox',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('chat_id', INT, nullable=False),
        sa.Column('kind', TEXT, nullable=False),
        sa.Column('payload', TEXT, nullable=False),
        sa.Column('file_name', TEXT, nullable=True),
        sa.Column('file_data', sa.LargeBinary(), nullable=True),
        sa.Column('file_hash', TEXT, nullable=True),
        sa.Column('dedupe_key', TEXT, nullable=True),
        sa.Column('status', TEXT, server_default=sa.text("'pending'"), nullable=False),
        sa.Column('attempts', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('next_attempt_at', TEXT, nullable=False),
        sa.Column('last_error', TEXT, nullable=True),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('claimed_at', TEXT, nullable=True),
        sa.Column('sent_at', TEXT, nullable=True),
        sa.Column('message_id', INT, nullable=True),
        sa.Column('expires_at', TEXT, nullable=True),
        sa.CheckConstraint("kind IN ('text', 'photo', 'document')", name='ck_outbox_kind'),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'unreachable', 'skipped_unreachable', 'obsolete')", name='ck_outbox_status'),
        sa.ForeignKeyConstraint(['file_hash'], ['outbox_files.sha256'], name='fk_outbox_file_hash_outbox_files'),
        sa.PrimaryKeyConstraint('id', name='pk_outbox'),
        sa.UniqueConstraint('dedupe_key', name='uq_outbox_dedupe_key'),
        sqlite_autoincrement=True
    )
    op.create_index('outbox_chat', 'outbox', [_nf('status'), _nf('chat_id'), 'id'])
    op.create_index('outbox_status', 'outbox', [_nf('status')])
    op.create_table('points',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('user_id', INT, nullable=False),
        sa.Column('amount', INT, nullable=False),
        sa.Column('source', TEXT, nullable=False),
        sa.Column('day', TEXT, nullable=False),
        sa.Column('ref', TEXT, nullable=True),
        sa.Column('reason', TEXT, nullable=True),
        sa.Column('idem_key', TEXT, nullable=False),
        sa.Column('created_at', TEXT, nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_points_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_points'),
        sa.UniqueConstraint('idem_key', name='uq_points_idem_key'),
        sqlite_autoincrement=True
    )
    op.create_index('points_source_day', 'points', [_nf('user_id'), _nf('source'), _nf('day')])
    op.create_index('points_user_day', 'points', [_nf('user_id'), _nf('day')])
    op.create_table('points_daily',
        sa.Column('user_id', INT, nullable=False),
        sa.Column('day', TEXT, nullable=False),
        sa.Column('amount', INT, nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_points_daily_user_id_users'),
        sa.PrimaryKeyConstraint('user_id', 'day', name='pk_points_daily')
    )
    op.create_index('points_daily_day', 'points_daily', [_nf('day'), _nf('user_id'), _nf('amount')])
    op.create_table('points_totals',
        sa.Column('user_id', INT, autoincrement=False, nullable=False),
        sa.Column('total', INT, nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_points_totals_user_id_users'),
        sa.PrimaryKeyConstraint('user_id', name='pk_points_totals')
    )
    op.create_table('quiz_attempts',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('user_id', INT, nullable=False),
        sa.Column('kind', TEXT, nullable=False),
        sa.Column('day', TEXT, nullable=False),
        sa.Column('period', TEXT, nullable=True),
        sa.Column('scope', INT, nullable=True),
        sa.Column('scored', INT, server_default=sa.text('1'), nullable=False),
        sa.Column('status', TEXT, server_default=sa.text("'open'"), nullable=False),
        sa.Column('position', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('shown_at', TEXT, nullable=True),
        sa.Column('started_at', TEXT, nullable=False),
        sa.Column('submitted_at', TEXT, nullable=True),
        sa.Column('total', INT, nullable=False),
        sa.Column('correct', INT, nullable=True),
        sa.Column('points', INT, nullable=True),
        sa.Column('flagged', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('message_id', INT, nullable=True),
        sa.CheckConstraint("kind IN ('daily', 'weekly', 'challenge', 'practice')", name='ck_quiz_attempts_kind'),
        sa.CheckConstraint("status IN ('open', 'submitted', 'expired')", name='ck_quiz_attempts_status'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_quiz_attempts_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_quiz_attempts'),
        sqlite_autoincrement=True
    )
    op.create_index('quiz_attempts_open', 'quiz_attempts', [_nf('status'), _nf('kind'), _nf('user_id')])
    op.create_index('quiz_attempts_user', 'quiz_attempts', [_nf('user_id'), _nf('day')])
    op.create_index('quiz_attempts_weekly_scored', 'quiz_attempts', ['user_id', 'period'], unique=True, **_where("kind = 'weekly' AND scored = 1"))
    op.create_table('seen_questions',
        sa.Column('user_id', INT, nullable=False),
        sa.Column('question_id', INT, nullable=False),
        sa.Column('last_seen', TEXT, nullable=False),
        sa.Column('times', INT, server_default=sa.text('1'), nullable=False),
        sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name='fk_seen_questions_question_id_questions'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_seen_questions_user_id_users'),
        sa.PrimaryKeyConstraint('user_id', 'question_id', name='pk_seen_questions')
    )
    op.create_table('wrongbook',
        sa.Column('user_id', INT, nullable=False),
        sa.Column('question_id', INT, nullable=False),
        sa.Column('added_at', TEXT, nullable=False),
        sa.Column('wrong_times', INT, server_default=sa.text('1'), nullable=False),
        sa.Column('streak', INT, server_default=sa.text('0'), nullable=False),
        sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name='fk_wrongbook_question_id_questions'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_wrongbook_user_id_users'),
        sa.PrimaryKeyConstraint('user_id', 'question_id', name='pk_wrongbook')
    )
    op.create_table('activities',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('kind', TEXT, nullable=False),
        sa.Column('title', TEXT, nullable=False),
        sa.Column('starts_at', TEXT, nullable=False),
        sa.Column('ends_at', TEXT, nullable=False),
        sa.Column('points', INT, nullable=False),
        sa.Column('target', TEXT, nullable=False),
        sa.Column('branch_ids', TEXT, server_default=sa.text("''"), nullable=False),
        sa.Column('token', TEXT, nullable=False),
        sa.Column('code_word', TEXT, nullable=False),
        sa.Column('created_by', INT, nullable=False),
        sa.Column('created_at', TEXT, nullable=False),
        sa.CheckConstraint("kind IN ('class', 'day', 'lecture', 'other')", name='ck_activities_kind'),
        sa.CheckConstraint("target IN ('subtree', 'org', 'branches')", name='ck_activities_target'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name='fk_activities_created_by_users'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_activities_org_id_orgs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_activities'),
        sa.UniqueConstraint('code_word', name='uq_activities_code_word'),
        sa.UniqueConstraint('token', name='uq_activities_token'),
        sqlite_autoincrement=True
    )
    op.create_index('activities_org', 'activities', [_nf('org_id'), 'id'])
    op.create_table('branches',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('parent_id', INT, nullable=True),
        sa.Column('name', TEXT, nullable=False),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('kind', TEXT, server_default=sa.text("'branch'"), nullable=False),
        sa.Column('sort_key', TEXT, server_default=sa.text("''"), nullable=False),
        sa.CheckConstraint("kind IN ('general', 'branch')", name='ck_branches_kind'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_branches_org_id_orgs', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['parent_id'], ['branches.id'], name='fk_branches_parent_id_branches', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_branches'),
        sa.UniqueConstraint('org_id', 'name', name='uq_branches_org_id_name'),
        sqlite_autoincrement=True
    )
    op.create_table('cert_invites',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('token_hash', TEXT, nullable=False),
        sa.Column('addressee_id', INT, nullable=True),
        sa.Column('note', TEXT, nullable=True),
        sa.Column('created_by', INT, nullable=False),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('expires_at', TEXT, nullable=False),
        sa.Column('revoked_at', TEXT, nullable=True),
        sa.ForeignKeyConstraint(['addressee_id'], ['users.id'], name='fk_cert_invites_addressee_id_users'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name='fk_cert_invites_created_by_users'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_cert_invites_org_id_orgs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_cert_invites'),
        sa.UniqueConstraint('token_hash', name='uq_cert_invites_token_hash'),
        sqlite_autoincrement=True
    )
    op.create_index('cert_invites_org', 'cert_invites', [_nf('org_id'), 'id'])
    op.create_table('exams',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('title', TEXT, nullable=False),
        sa.Column('time_limit', INT, nullable=False),
        sa.Column('opens_at', TEXT, nullable=False),
        sa.Column('closes_at', TEXT, nullable=False),
        sa.Column('pass_mark', INT, nullable=False),
        sa.Column('max_attempts', INT, nullable=True),
        sa.Column('points', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('policy', TEXT, nullable=False),
        sa.Column('grace_seconds', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('status', TEXT, server_default=sa.text("'draft'"), nullable=False),
        sa.Column('publish_at', TEXT, nullable=True),
        sa.Column('created_by', INT, nullable=False),
        sa.Column('created_at', TEXT, nullable=False),
        sa.CheckConstraint("policy IN ('reset', 'submit', 'grace')", name='ck_exams_policy'),
        sa.CheckConstraint("status IN ('draft', 'scheduled', 'published')", name='ck_exams_status'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name='fk_exams_created_by_users'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_exams_org_id_orgs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_exams'),
        sqlite_autoincrement=True
    )
    op.create_index('exams_org', 'exams', [_nf('org_id'), _nf('status')])
    op.create_table('manuscripts',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('author_id', INT, nullable=False),
        sa.Column('origin_id', INT, nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('title', TEXT, nullable=False),
        sa.Column('body', TEXT, nullable=False),
        sa.Column('column_name', TEXT, nullable=False),
        sa.Column('status', TEXT, server_default=sa.text("'pending'"), nullable=False),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('updated_at', TEXT, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'rejected', 'accepted')", name='ck_manuscripts_status'),
        sa.ForeignKeyConstraint(['author_id'], ['users.id'], name='fk_manuscripts_author_id_users'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_manuscripts_org_id_orgs', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['origin_id'], ['orgs.id'], name='fk_manuscripts_origin_id_orgs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_manuscripts'),
        sqlite_autoincrement=True
    )
    op.create_index('manuscripts_author', 'manuscripts', [_nf('author_id'), 'id'])
    op.create_index('manuscripts_org', 'manuscripts', [_nf('org_id'), _nf('status'), 'id'])
    op.create_table('org_admins',
        sa.Column('org_id', INT, nullable=False),
        sa.Column('user_id', INT, nullable=False),
        sa.Column('role', TEXT, nullable=False),
        sa.Column('added_at', TEXT, nullable=False),
        sa.CheckConstraint("role IN ('main', 'admin')", name='ck_org_admins_role'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_org_admins_org_id_orgs', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_org_admins_user_id_users'),
        sa.PrimaryKeyConstraint('org_id', 'user_id', name='pk_org_admins')
    )
    op.create_index('org_admins_user', 'org_admins', [_nf('user_id')])
    op.create_table('org_tree',
        sa.Column('ancestor_id', INT, nullable=False),
        sa.Column('descendant_id', INT, nullable=False),
        sa.Column('depth', INT, nullable=False),
        sa.ForeignKeyConstraint(['ancestor_id'], ['orgs.id'], name='fk_org_tree_ancestor_id_orgs', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['descendant_id'], ['orgs.id'], name='fk_org_tree_descendant_id_orgs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('ancestor_id', 'descendant_id', name='pk_org_tree')
    )
    op.create_index('org_tree_descendant', 'org_tree', [_nf('descendant_id'), _nf('depth')])
    op.create_table('quiz_items',
        sa.Column('attempt_id', INT, nullable=False),
        sa.Column('position', INT, nullable=False),
        sa.Column('question_id', INT, nullable=False),
        sa.Column('answer', TEXT, nullable=True),
        sa.Column('correct', INT, nullable=True),
        sa.Column('answered_at', TEXT, nullable=True),
        sa.Column('answer_ms', INT, nullable=True),
        sa.Column('fast', INT, server_default=sa.text('0'), nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['quiz_attempts.id'], name='fk_quiz_items_attempt_id_quiz_attempts', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name='fk_quiz_items_question_id_questions'),
        sa.PrimaryKeyConstraint('attempt_id', 'position', name='pk_quiz_items')
    )
    op.create_table('rename_requests',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('upper_id', INT, nullable=True),
        sa.Column('old_name', TEXT, nullable=False),
        sa.Column('new_name', TEXT, nullable=False),
        sa.Column('requested_by', INT, nullable=False),
        sa.Column('status', TEXT, server_default=sa.text("'pending'"), nullable=False),
        sa.Column('reason', TEXT, nullable=True),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('decided_by', INT, nullable=True),
        sa.Column('decided_at', TEXT, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'withdrawn')", name='ck_rename_requests_status'),
        sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name='fk_rename_requests_decided_by_users'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_rename_requests_org_id_orgs', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name='fk_rename_requests_requested_by_users'),
        sa.ForeignKeyConstraint(['upper_id'], ['orgs.id'], name='fk_rename_requests_upper_id_orgs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_rename_requests'),
        sqlite_autoincrement=True
    )
    op.create_index('rename_requests_pending', 'rename_requests', ['org_id'], unique=True, **_where("status = 'pending'"))
    op.create_index('rename_requests_upper', 'rename_requests', [_nf('upper_id'), _nf('status')])
    op.create_table('report_recipients',
        sa.Column('org_id', INT, nullable=False),
        sa.Column('user_id', INT, nullable=False),
        sa.Column('added_at', TEXT, nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_report_recipients_org_id_orgs', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_report_recipients_user_id_users'),
        sa.PrimaryKeyConstraint('org_id', 'user_id', name='pk_report_recipients')
    )
    op.create_index('report_recipients_user', 'report_recipients', [_nf('user_id')])
    op.create_table('report_settings',
        sa.Column('org_id', INT, autoincrement=False, nullable=False),
        sa.Column('enabled', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('send_time', TEXT, server_default=sa.text("'08:00'"), nullable=False),
        sa.Column('content', TEXT, server_default=sa.text("'chart'"), nullable=False),
        sa.Column('daily_target', INT, nullable=True),
        sa.Column('inactive_days', INT, server_default=sa.text('3'), nullable=False),
        sa.Column('updated_at', TEXT, nullable=False),
        sa.CheckConstraint("content IN ('text', 'chart', 'xlsx')", name='ck_report_settings_content'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_report_settings_org_id_orgs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('org_id', name='pk_report_settings')
    )
    op.create_table('tasks',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('created_by', INT, nullable=False),
        sa.Column('body', TEXT, nullable=False),
        sa.Column('file_kind', TEXT, nullable=True),
        sa.Column('file_name', TEXT, nullable=True),
        sa.Column('target', TEXT, nullable=False),
        sa.Column('branch_ids', TEXT, server_default=sa.text("''"), nullable=False),
        sa.Column('deadline', TEXT, nullable=True),
        sa.Column('needs_confirm', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('status', TEXT, server_default=sa.text("'open'"), nullable=False),
        sa.Column('reminders', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('last_remind_at', TEXT, nullable=True),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('withdrawn_at', TEXT, nullable=True),
        sa.Column('request_key', TEXT, nullable=True),
        sa.CheckConstraint("file_kind IN ('photo', 'document')", name='ck_tasks_file_kind'),
        sa.CheckConstraint("status IN ('open', 'withdrawn')", name='ck_tasks_status'),
        sa.CheckConstraint("target IN ('subtree', 'org', 'branches')", name='ck_tasks_target'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name='fk_tasks_created_by_users'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_tasks_org_id_orgs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_tasks'),
        sqlite_autoincrement=True
    )
    op.create_index('tasks_org', 'tasks', [_nf('org_id'), 'id'])
    op.create_index('tasks_request', 'tasks', ['request_key'], unique=True, **_where('request_key IS NOT NULL'))
    op.create_table('activity_checkins',
        sa.Column('activity_id', INT, nullable=False),
        sa.Column('user_id', INT, nullable=False),
        sa.Column('name', TEXT, nullable=False),
        sa.Column('how', TEXT, nullable=False),
        sa.Column('marked_by', INT, nullable=True),
        sa.Column('at', TEXT, nullable=False),
        sa.CheckConstraint("how IN ('qr', 'code', 'admin')", name='ck_activity_checkins_how'),
        sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name='fk_activity_checkins_activity_id_activities', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['marked_by'], ['users.id'], name='fk_activity_checkins_marked_by_users'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_activity_checkins_user_id_users'),
        sa.PrimaryKeyConstraint('activity_id', 'user_id', name='pk_activity_checkins')
    )
    op.create_table('cert_applications',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('upper_id', INT, nullable=False),
        sa.Column('lower_id', INT, nullable=False),
        sa.Column('invite_id', INT, nullable=True),
        sa.Column('applicant_id', INT, nullable=False),
        sa.Column('status', TEXT, server_default=sa.text("'pending'"), nullable=False),
        sa.Column('reason', TEXT, nullable=True),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('decided_by', INT, nullable=True),
        sa.Column('decided_at', TEXT, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'withdrawn')", name='ck_cert_applications_status'),
        sa.ForeignKeyConstraint(['applicant_id'], ['users.id'], name='fk_cert_applications_applicant_id_users'),
        sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name='fk_cert_applications_decided_by_users'),
        sa.ForeignKeyConstraint(['invite_id'], ['cert_invites.id'], name='fk_cert_applications_invite_id_cert_invites', ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['lower_id'], ['orgs.id'], name='fk_cert_applications_lower_id_orgs', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['upper_id'], ['orgs.id'], name='fk_cert_applications_upper_id_orgs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_cert_applications'),
        sqlite_autoincrement=True
    )
    op.create_index('cert_applications_pending', 'cert_applications', ['lower_id'], unique=True, **_where("status = 'pending'"))
    op.create_index('cert_applications_upper', 'cert_applications', [_nf('upper_id'), _nf('status'), 'id'])
    op.create_table('exam_attempts',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('exam_id', INT, nullable=False),
        sa.Column('user_id', INT, nullable=False),
        sa.Column('status', TEXT, nullable=False),
        sa.Column('started_at', TEXT, nullable=False),
        sa.Column('deadline', TEXT, nullable=False),
        sa.Column('grace_until', TEXT, nullable=True),
        sa.Column('ended_at', TEXT, nullable=True),
        sa.Column('total', INT, nullable=False),
        sa.Column('correct', INT, nullable=True),
        sa.Column('timed_out', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('header_id', INT, nullable=True),
        sa.Column('position', INT, server_default=sa.text('0'), nullable=False),
        sa.CheckConstraint("status IN ('open', 'grace', 'submitted', 'reset', 'abandoned')", name='ck_exam_attempts_status'),
        sa.ForeignKeyConstraint(['exam_id'], ['exams.id'], name='fk_exam_attempts_exam_id_exams', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_exam_attempts_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_exam_attempts'),
        sqlite_autoincrement=True
    )
    op.create_index('exam_attempts_live', 'exam_attempts', ['exam_id', 'user_id'], unique=True, **_where("status IN ('open', 'grace')"))
    op.create_index('exam_attempts_status', 'exam_attempts', [_nf('status')])
    op.create_index('exam_attempts_user', 'exam_attempts', [_nf('user_id'), _nf('exam_id'), _nf('status')])
    op.create_table('exam_questions',
        sa.Column('exam_id', INT, nullable=False),
        sa.Column('position', INT, nullable=False),
        sa.Column('question_id', INT, nullable=False),
        sa.ForeignKeyConstraint(['exam_id'], ['exams.id'], name='fk_exam_questions_exam_id_exams', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name='fk_exam_questions_question_id_questions'),
        sa.PrimaryKeyConstraint('exam_id', 'position', name='pk_exam_questions')
    )
    op.create_table('invites',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('branch_id', INT, nullable=True),
        sa.Column('token_hash', TEXT, nullable=False),
        sa.Column('created_by', INT, nullable=False),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('expires_at', TEXT, nullable=False),
        sa.Column('max_uses', INT, nullable=True),
        sa.Column('uses', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('revoked_at', TEXT, nullable=True),
        sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name='fk_invites_branch_id_branches', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name='fk_invites_created_by_users'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_invites_org_id_orgs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_invites'),
        sa.UniqueConstraint('token_hash', name='uq_invites_token_hash'),
        sqlite_autoincrement=True
    )
    op.create_index('invites_org', 'invites', [_nf('org_id'), 'id'])
    op.create_table('manuscript_files',
        sa.Column('manuscript_id', INT, nullable=False),
        sa.Column('position', INT, nullable=False),
        sa.Column('kind', TEXT, nullable=False),
        sa.Column('file_id', TEXT, nullable=False),
        sa.Column('file_name', TEXT, nullable=True),
        sa.Column('file_size', INT, nullable=True),
        sa.CheckConstraint("kind IN ('photo', 'document')", name='ck_manuscript_files_kind'),
        sa.ForeignKeyConstraint(['manuscript_id'], ['manuscripts.id'], name='fk_manuscript_files_manuscript_id_manuscripts', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('manuscript_id', 'position', name='pk_manuscript_files')
    )
    op.create_table('manuscript_steps',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('manuscript_id', INT, nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('action', TEXT, nullable=False),
        sa.Column('to_org_id', INT, nullable=True),
        sa.Column('actor_id', INT, nullable=False),
        sa.Column('reason', TEXT, nullable=True),
        sa.Column('at', TEXT, nullable=False),
        sa.CheckConstraint("action IN ('submitted', 'forwarded', 'rejected', 'accepted')", name='ck_manuscript_steps_action'),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name='fk_manuscript_steps_actor_id_users'),
        sa.ForeignKeyConstraint(['manuscript_id'], ['manuscripts.id'], name='fk_manuscript_steps_manuscript_id_manuscripts', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_manuscript_steps_org_id_orgs', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['to_org_id'], ['orgs.id'], name='fk_manuscript_steps_to_org_id_orgs', ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name='pk_manuscript_steps'),
        sqlite_autoincrement=True
    )
    op.create_index('manuscript_steps_ms', 'manuscript_steps', [_nf('manuscript_id'), 'id'])
    op.create_index('manuscript_steps_org', 'manuscript_steps', [_nf('org_id'), _nf('action')])
    op.create_table('members',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('branch_id', INT, nullable=True),
        sa.Column('name', TEXT, nullable=False),
        sa.Column('phone', TEXT, nullable=False),
        sa.Column('note', TEXT, nullable=True),
        sa.Column('activated_at', TEXT, nullable=True),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('updated_at', TEXT, nullable=False),
        sa.Column('correspondent', INT, server_default=sa.text('0'), nullable=False),
        sa.Column('sort_key', TEXT, server_default=sa.text("''"), nullable=False),
        sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name='fk_members_branch_id_branches', ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_members_org_id_orgs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_members'),
        sa.UniqueConstraint('org_id', 'phone', name='uq_members_org_id_phone'),
        sqlite_autoincrement=True
    )
    op.create_index('members_branch', 'members', [_nf('org_id'), _nf('branch_id')])
    op.create_index('members_phone', 'members', [_nf('phone')])
    op.create_index('members_sorted', 'members', [_nf('org_id'), _nf('sort_key'), 'id'])
    op.create_table('task_recipients',
        sa.Column('task_id', INT, nullable=False),
        sa.Column('user_id', INT, nullable=False),
        sa.Column('name', TEXT, nullable=False),
        sa.Column('confirmed_at', TEXT, nullable=True),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name='fk_task_recipients_task_id_tasks', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_task_recipients_user_id_users'),
        sa.PrimaryKeyConstraint('task_id', 'user_id', name='pk_task_recipients')
    )
    op.create_index('task_recipients_user', 'task_recipients', [_nf('user_id'), _nf('task_id')])
    op.create_table('exam_answers',
        sa.Column('attempt_id', INT, nullable=False),
        sa.Column('position', INT, nullable=False),
        sa.Column('answer', TEXT, nullable=False),
        sa.Column('correct', INT, nullable=False),
        sa.Column('answered_at', TEXT, nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['exam_attempts.id'], name='fk_exam_answers_attempt_id_exam_attempts', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('attempt_id', 'position', name='pk_exam_answers')
    )
    op.create_table('join_requests',
        sa.Column('id', INT, sa.Identity(always=False), nullable=False),
        sa.Column('org_id', INT, nullable=False),
        sa.Column('branch_id', INT, nullable=True),
        sa.Column('user_id', INT, nullable=False),
        sa.Column('invite_id', INT, nullable=True),
        sa.Column('status', TEXT, server_default=sa.text("'pending'"), nullable=False),
        sa.Column('created_at', TEXT, nullable=False),
        sa.Column('decided_by', INT, nullable=True),
        sa.Column('decided_at', TEXT, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name='ck_join_requests_status'),
        sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name='fk_join_requests_branch_id_branches', ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name='fk_join_requests_decided_by_users'),
        sa.ForeignKeyConstraint(['invite_id'], ['invites.id'], name='fk_join_requests_invite_id_invites', ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name='fk_join_requests_org_id_orgs', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_join_requests_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_join_requests'),
        sqlite_autoincrement=True
    )
    op.create_index('join_requests_pending', 'join_requests', ['org_id', 'user_id'], unique=True, **_where("status = 'pending'"))


def downgrade() -> None:
    op.drop_table('join_requests')
    op.drop_table('exam_answers')
    op.drop_table('task_recipients')
    op.drop_table('members')
    op.drop_table('manuscript_steps')
    op.drop_table('manuscript_files')
    op.drop_table('invites')
    op.drop_table('exam_questions')
    op.drop_table('exam_attempts')
    op.drop_table('cert_applications')
    op.drop_table('activity_checkins')
    op.drop_table('tasks')
    op.drop_table('report_settings')
    op.drop_table('report_recipients')
    op.drop_table('rename_requests')
    op.drop_table('quiz_items')
    op.drop_table('org_tree')
    op.drop_table('org_admins')
    op.drop_table('manuscripts')
    op.drop_table('exams')
    op.drop_table('cert_invites')
    op.drop_table('branches')
    op.drop_table('activities')
    op.drop_table('wrongbook')
    op.drop_table('seen_questions')
    op.drop_table('quiz_attempts')
    op.drop_table('points_totals')
    op.drop_table('points_daily')
    op.drop_table('points')
    op.drop_table('outbox')
    op.drop_table('orgs')
    op.drop_table('weekly_sets')
    op.drop_table('users')
    op.drop_table('unreachable_users')
    op.drop_table('report_days')
    op.drop_table('rank_hist')
    op.drop_table('rank_day')
    op.drop_table('rank_base')
    op.drop_table('questions')
    op.drop_table('outbox_files')
    op.drop_table('org_daily')
    op.drop_table('member_history')
    op.drop_table('leases')
    op.drop_table('inbox')
    op.drop_table('fsm')
    op.drop_table('due_work')
    op.drop_table('deployment')
    op.drop_table('branch_daily')
    op.drop_table('audit_log')

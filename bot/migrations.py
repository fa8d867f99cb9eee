"""The legacy schema scripts, frozen: one SQL script per version, as the bot ran them before its migrations
moved to Alembic (bot/db/migrations/). A database made by them carries its version in PRAGMA user_version
(SQLite) or the table schema_version (PostgreSQL). Store.migrate runs the scripts such a database has not run
yet, up to the last one (LEGACY_HEAD), and then stamps it with Alembic's baseline revision, which is this
schema; a new database never runs them.

Frozen: nothing here imports the bot's live code, so replaying a script on an old database does not depend on
today's code. The scripts are SQLite's; PostgreSQL ran each statement as bot/dialect.py rewrote it, kept
verbatim in bot/db/migrations/legacy_postgresql.py. The backfills (values computed in Python) are copied
below with what they need. 10, 11 and 25 are placeholders that shipped as such."""
from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

import sqlalchemy as sa
from pypinyin import Style, lazy_pinyin


class SchemaTooNew(Exception):
    """The database was brought to a schema by a newer version of the bot than this one: one line for the
    operator (an older bot must not write it). `version` and `known` are legacy version numbers, or Alembic
    revisions (the database's one this bot does not know, and this bot's head)."""

    def __init__(self, version: int | str, known: int | str) -> None:
        kind = "version" if isinstance(version, int) else "revision"
        super().__init__(f"the database has schema {kind} {version}, newer than this bot's {known}: a newer "
                         "version of xuexi-bot wrote it; run that version (README \"Upgrading\")")
        self.version = version
        self.known = known


MIGRATIONS: list[str] = [
    # 1: users, FSM state, audit log
    """
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        first_name    TEXT NOT NULL DEFAULT '',
        last_name     TEXT,
        username      TEXT,
        tg_language   TEXT,
        language      TEXT,
        phone         TEXT UNIQUE,
        name          TEXT,
        org_name      TEXT,
        agreed_at     TEXT,
        registered_at TEXT,
        real_name     TEXT,
        id_hash       TEXT UNIQUE,
        id_masked     TEXT,
        verified_at   TEXT,
        menu          TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE TABLE fsm (
        key   TEXT PRIMARY KEY,
        state TEXT,
        data  TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE audit_log (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        actor_id  INTEGER NOT NULL,
        org_id    INTEGER,
        action    TEXT NOT NULL,
        target    TEXT,
        before    TEXT,
        after     TEXT,
        at        TEXT NOT NULL
    );
    CREATE INDEX audit_log_org ON audit_log (org_id, id);
    """,
    # 2: learning organisations, their admins, branches and members
    """
    CREATE TABLE orgs (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        name            TEXT NOT NULL,
        region          TEXT NOT NULL DEFAULT '',
        kind            TEXT NOT NULL DEFAULT 'party' CHECK (kind IN ('party', 'nonparty')),
        parent_id       INTEGER REFERENCES orgs (id),
        certified_at    TEXT,
        join_approval   INTEGER NOT NULL DEFAULT 0,
        protect_content INTEGER NOT NULL DEFAULT 1,
        created_by      INTEGER NOT NULL REFERENCES users (id),
        created_at      TEXT NOT NULL
    );
    CREATE INDEX orgs_parent ON orgs (parent_id);
    CREATE TABLE org_admins (
        org_id   INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        user_id  INTEGER NOT NULL REFERENCES users (id),
        role     TEXT NOT NULL CHECK (role IN ('main', 'admin')),
        added_at TEXT NOT NULL,
        PRIMARY KEY (org_id, user_id)
    );
    CREATE INDEX org_admins_user ON org_admins (user_id);
    CREATE TABLE branches (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id     INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        parent_id  INTEGER REFERENCES branches (id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (org_id, name)
    );
    CREATE TABLE members (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id       INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        branch_id    INTEGER REFERENCES branches (id) ON DELETE SET NULL,
        name         TEXT NOT NULL,
        phone        TEXT NOT NULL,
        note         TEXT,
        activated_at TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        UNIQUE (org_id, phone)
    );
    CREATE INDEX members_phone ON members (phone);
    CREATE INDEX members_branch ON members (org_id, branch_id);
    """,
    # 3: join invitations, join requests, the points ledger
    """
    CREATE TABLE invites (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id      INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        branch_id   INTEGER REFERENCES branches (id) ON DELETE CASCADE,
        token_hash  TEXT NOT NULL UNIQUE,
        created_by  INTEGER NOT NULL REFERENCES users (id),
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        max_uses    INTEGER,
        uses        INTEGER NOT NULL DEFAULT 0,
        revoked_at  TEXT
    );
    CREATE INDEX invites_org ON invites (org_id, id);
    CREATE TABLE join_requests (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id      INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        branch_id   INTEGER REFERENCES branches (id) ON DELETE SET NULL,
        user_id     INTEGER NOT NULL REFERENCES users (id),
        invite_id   INTEGER REFERENCES invites (id) ON DELETE SET NULL,
        status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
        created_at  TEXT NOT NULL,
        decided_by  INTEGER REFERENCES users (id),
        decided_at  TEXT
    );
    CREATE UNIQUE INDEX join_requests_pending ON join_requests (org_id, user_id) WHERE status = 'pending';
    CREATE TABLE points (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id     INTEGER NOT NULL REFERENCES users (id),
        amount      INTEGER NOT NULL,
        source      TEXT NOT NULL,
        day         TEXT NOT NULL,
        ref         TEXT,
        reason      TEXT,
        idem_key    TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL
    );
    CREATE INDEX points_user_day ON points (user_id, day);
    """,
    # 4: the outbox of pushes (DESIGN "Pushes")
    """
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id         INTEGER NOT NULL,
        kind            TEXT NOT NULL CHECK (kind IN ('text', 'photo', 'document')),
        payload         TEXT NOT NULL,
        file_name       TEXT,
        file_data       BLOB,
        dedupe_key      TEXT UNIQUE,
        status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sent', 'failed', 'unreachable')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        created_at      TEXT NOT NULL,
        sent_at         TEXT,
        message_id      INTEGER
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    """,
    # 5: a branch is a 党总支 ('general', top level, may hold 党支部) or a 党支部 ('branch') (ORG-3)
    """
    ALTER TABLE branches ADD COLUMN kind TEXT NOT NULL DEFAULT 'branch' CHECK (kind IN ('general', 'branch'))
    """,
    # 6: the organisation tree as a closure table (DESIGN "Store"): one row per (ancestor, descendant)
    # pair of the certified tree, depth 0 for the organisation itself; "this organisation and everything
    # under it" is `WHERE ancestor_id = ?`. Kept right by certify/un-certify/dissolve.
    """
    CREATE TABLE org_tree (
        ancestor_id   INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        descendant_id INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        depth         INTEGER NOT NULL,
        PRIMARY KEY (ancestor_id, descendant_id)
    );
    CREATE INDEX org_tree_descendant ON org_tree (descendant_id, depth);
    INSERT INTO org_tree (ancestor_id, descendant_id, depth) SELECT id, id, 0 FROM orgs
    """,
    # 7: the question bank (LEARN-1). org_id NULL is the operator's global bank; an organisation's
    # questions are seen by its subtree. No foreign key on org_id: a dissolved organisation's
    # questions are retired, never deleted, so that past attempts can still be reviewed.
    """
    CREATE TABLE questions (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id      INTEGER,
        kind        TEXT NOT NULL CHECK (kind IN ('single', 'multiple', 'judge', 'blank')),
        body        TEXT NOT NULL,
        answer      TEXT NOT NULL,
        tags        TEXT NOT NULL DEFAULT '',
        fingerprint TEXT NOT NULL,
        created_by  INTEGER,
        created_at  TEXT NOT NULL,
        retired_at  TEXT
    );
    CREATE UNIQUE INDEX questions_fingerprint ON questions (COALESCE(org_id, 0), fingerprint);
    CREATE INDEX questions_org ON questions (org_id)
    """,
    # 8: quiz attempts (LEARN-2..5): daily, weekly, challenge and wrong-book practice rounds.
    # quiz_attempts.position is the question shown now (answers are accepted for it only) and shown_at
    # when it was shown; scored = 0 marks a weekly practice round (no points). One scored weekly
    # attempt per user and ISO week (period '2026-W48') is a unique index. quiz_items.answer is JSON:
    # a list of strings, choice letters (["A", "C"]), judge ["T"] or ["F"], or one typed text per blank;
    # answer_ms is from shown to first answer, fast = 1 when under a human's reading time.
    """
    CREATE TABLE quiz_attempts (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id      INTEGER NOT NULL REFERENCES users (id),
        kind         TEXT NOT NULL CHECK (kind IN ('daily', 'weekly', 'challenge', 'practice')),
        day          TEXT NOT NULL,
        period       TEXT,
        scope        INTEGER,
        scored       INTEGER NOT NULL DEFAULT 1,
        status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'submitted', 'expired')),
        position     INTEGER NOT NULL DEFAULT 0,
        shown_at     TEXT,
        started_at   TEXT NOT NULL,
        submitted_at TEXT,
        total        INTEGER NOT NULL,
        correct      INTEGER,
        points       INTEGER,
        flagged      INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX quiz_attempts_user ON quiz_attempts (user_id, day);
    CREATE INDEX quiz_attempts_open ON quiz_attempts (status, kind, user_id);
    CREATE UNIQUE INDEX quiz_attempts_weekly_scored ON quiz_attempts (user_id, period)
        WHERE kind = 'weekly' AND scored = 1;
    CREATE TABLE quiz_items (
        attempt_id  INTEGER NOT NULL REFERENCES quiz_attempts (id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        question_id INTEGER NOT NULL REFERENCES questions (id),
        answer      TEXT,
        correct     INTEGER,
        answered_at TEXT,
        answer_ms   INTEGER,
        fast        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (attempt_id, position)
    );
    CREATE TABLE seen_questions (
        user_id     INTEGER NOT NULL REFERENCES users (id),
        question_id INTEGER NOT NULL REFERENCES questions (id),
        last_seen   TEXT NOT NULL,
        times       INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (user_id, question_id)
    );
    CREATE TABLE weekly_sets (
        period       TEXT NOT NULL,
        scope        INTEGER NOT NULL DEFAULT 0,
        question_ids TEXT NOT NULL,
        published_by INTEGER,
        created_at   TEXT NOT NULL,
        PRIMARY KEY (period, scope)
    );
    CREATE TABLE wrongbook (
        user_id     INTEGER NOT NULL REFERENCES users (id),
        question_id INTEGER NOT NULL REFERENCES questions (id),
        added_at    TEXT NOT NULL,
        wrong_times INTEGER NOT NULL DEFAULT 1,
        streak      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, question_id)
    );
    CREATE INDEX points_source_day ON points (user_id, source, day)
    """,
    # 9: certification invitations, applications, rename requests (CERT, ORG-6). An application or a
    # rename request is decided once: `UPDATE ... WHERE status = 'pending'` lets exactly one decision win.
    # One pending application per lower organisation, one pending rename per organisation.
    """
    CREATE TABLE cert_invites (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id       INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        token_hash   TEXT NOT NULL UNIQUE,
        addressee_id INTEGER REFERENCES users (id),
        note         TEXT,
        created_by   INTEGER NOT NULL REFERENCES users (id),
        created_at   TEXT NOT NULL,
        expires_at   TEXT NOT NULL,
        revoked_at   TEXT
    );
    CREATE INDEX cert_invites_org ON cert_invites (org_id, id);
    CREATE TABLE cert_applications (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        upper_id     INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        lower_id     INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        invite_id    INTEGER REFERENCES cert_invites (id) ON DELETE SET NULL,
        applicant_id INTEGER NOT NULL REFERENCES users (id),
        status       TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
        reason       TEXT,
        created_at   TEXT NOT NULL,
        decided_by   INTEGER REFERENCES users (id),
        decided_at   TEXT
    );
    CREATE UNIQUE INDEX cert_applications_pending ON cert_applications (lower_id) WHERE status = 'pending';
    CREATE INDEX cert_applications_upper ON cert_applications (upper_id, status, id);
    CREATE TABLE rename_requests (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id       INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        upper_id     INTEGER REFERENCES orgs (id) ON DELETE CASCADE,
        old_name     TEXT NOT NULL,
        new_name     TEXT NOT NULL,
        requested_by INTEGER NOT NULL REFERENCES users (id),
        status       TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
        reason       TEXT,
        created_at   TEXT NOT NULL,
        decided_by   INTEGER REFERENCES users (id),
        decided_at   TEXT
    );
    CREATE UNIQUE INDEX rename_requests_pending ON rename_requests (org_id) WHERE status = 'pending';
    CREATE INDEX rename_requests_upper ON rename_requests (upper_id, status)
    """,
    # 10: reserved for the question-bank work
    "SELECT 1",
    # 11: reserved for the quiz work
    "SELECT 1",
    # 12: running sums of the ledger per user and per (user, day), kept by award_points in the same
    # transaction, so a ranking of 100,000 members reads one row per member instead of a year of rows
    """
    CREATE TABLE points_daily (
        user_id INTEGER NOT NULL REFERENCES users (id),
        day     TEXT NOT NULL,
        amount  INTEGER NOT NULL,
        PRIMARY KEY (user_id, day)
    );
    CREATE TABLE points_totals (
        user_id INTEGER PRIMARY KEY REFERENCES users (id),
        total   INTEGER NOT NULL
    );
    INSERT INTO points_daily (user_id, day, amount) SELECT user_id, day, SUM(amount) FROM points GROUP BY user_id, day;
    INSERT INTO points_totals (user_id, total) SELECT user_id, SUM(amount) FROM points GROUP BY user_id
    """,
    # 13: due work, every scheduled time as a row (bot/repositories/due.py, swept by bot/scheduler.py)
    """
    CREATE TABLE due_work (
        id         INTEGER PRIMARY KEY,
        kind       TEXT NOT NULL,
        ref        TEXT NOT NULL,
        due_at     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        done_at    TEXT,
        tries      INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        UNIQUE (kind, ref)
    );
    CREATE INDEX due_work_pending ON due_work (done_at, due_at)
    """,
    # 14: task notices (WORK-1): the task, and one row per person it was sent to (registered users among the
    # target's members at sending time, with the name they are listed under). Delivery and reachability
    # are read from the outbox by the push's dedupe key 'task:<task>:<user>'.
    """
    CREATE TABLE tasks (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id         INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        created_by     INTEGER NOT NULL REFERENCES users (id),
        body           TEXT NOT NULL,
        file_kind      TEXT CHECK (file_kind IN ('photo', 'document')),
        file_name      TEXT,
        target         TEXT NOT NULL CHECK (target IN ('subtree', 'org', 'branches')),
        branch_ids     TEXT NOT NULL DEFAULT '',
        deadline       TEXT,
        needs_confirm  INTEGER NOT NULL DEFAULT 0,
        status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'withdrawn')),
        reminders      INTEGER NOT NULL DEFAULT 0,
        last_remind_at TEXT,
        created_at     TEXT NOT NULL,
        withdrawn_at   TEXT
    );
    CREATE INDEX tasks_org ON tasks (org_id, id);
    CREATE TABLE task_recipients (
        task_id      INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        user_id      INTEGER NOT NULL REFERENCES users (id),
        name         TEXT NOT NULL,
        confirmed_at TEXT,
        PRIMARY KEY (task_id, user_id)
    );
    CREATE INDEX task_recipients_user ON task_recipients (user_id, task_id)
    """,
    # 15: collective activities (WORK-2): check-in by QR deep link (token) or code word, once per person
    """
    CREATE TABLE activities (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id     INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        kind       TEXT NOT NULL CHECK (kind IN ('class', 'day', 'lecture', 'other')),
        title      TEXT NOT NULL,
        starts_at  TEXT NOT NULL,
        ends_at    TEXT NOT NULL,
        points     INTEGER NOT NULL,
        target     TEXT NOT NULL CHECK (target IN ('subtree', 'org', 'branches')),
        branch_ids TEXT NOT NULL DEFAULT '',
        token      TEXT NOT NULL UNIQUE,
        code_word  TEXT NOT NULL UNIQUE,
        created_by INTEGER NOT NULL REFERENCES users (id),
        created_at TEXT NOT NULL
    );
    CREATE INDEX activities_org ON activities (org_id, id);
    CREATE TABLE activity_checkins (
        activity_id INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
        user_id     INTEGER NOT NULL REFERENCES users (id),
        name        TEXT NOT NULL,
        how         TEXT NOT NULL CHECK (how IN ('qr', 'code', 'admin')),
        marked_by   INTEGER REFERENCES users (id),
        at          TEXT NOT NULL,
        PRIMARY KEY (activity_id, user_id)
    )
    """,
    # 16: manuscripts (WORK-3): correspondents are flagged members; a manuscript sits at one organisation at a
    # time and every step (submitted, forwarded, rejected, accepted) is a row of its timeline
    """
    ALTER TABLE members ADD COLUMN correspondent INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE manuscripts (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        author_id   INTEGER NOT NULL REFERENCES users (id),
        origin_id   INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        org_id      INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        title       TEXT NOT NULL,
        body        TEXT NOT NULL,
        column_name TEXT NOT NULL,
        status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'rejected', 'accepted')),
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX manuscripts_org ON manuscripts (org_id, status, id);
    CREATE INDEX manuscripts_author ON manuscripts (author_id, id);
    CREATE TABLE manuscript_files (
        manuscript_id INTEGER NOT NULL REFERENCES manuscripts (id) ON DELETE CASCADE,
        position      INTEGER NOT NULL,
        kind          TEXT NOT NULL CHECK (kind IN ('photo', 'document')),
        file_id       TEXT NOT NULL,
        file_name     TEXT,
        file_size     INTEGER,
        PRIMARY KEY (manuscript_id, position)
    );
    CREATE TABLE manuscript_steps (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        manuscript_id INTEGER NOT NULL REFERENCES manuscripts (id) ON DELETE CASCADE,
        org_id        INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        action        TEXT NOT NULL CHECK (action IN ('submitted', 'forwarded', 'rejected', 'accepted')),
        to_org_id     INTEGER REFERENCES orgs (id) ON DELETE SET NULL,
        actor_id      INTEGER NOT NULL REFERENCES users (id),
        reason        TEXT,
        at            TEXT NOT NULL
    );
    CREATE INDEX manuscript_steps_ms ON manuscript_steps (manuscript_id, id);
    CREATE INDEX manuscript_steps_org ON manuscript_steps (org_id, action)
    """,
    # 17: the message showing a challenge's question, so the sweep can take its buttons away at the
    # time-out (bot/services/quiz.py); a round left with /cancel is 'expired' with submitted_at set
    "ALTER TABLE quiz_attempts ADD COLUMN message_id INTEGER",
    # 18 (reports): membership history with its backfill from members.created_at, the daily snapshot,
    # report settings and recipients (REP; bot/repositories/membership_history.py, reports.py)
    # member_history: when a phone was listed where (start_day inclusive, end_day exclusive, NULL while
    # listed), backfilled with each member's created_at. org_daily / branch_daily: the nightly snapshot
    # (REP-1), report_days: the days computed, report_settings / report_recipients: REP-5, 7, 8;
    # rank_base / rank_hist / rank_day: last night's base of every organisation's ranking (LEARN-8 /rank).
    """
    CREATE TABLE member_history (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id    INTEGER NOT NULL,
        branch_id INTEGER,
        phone     TEXT NOT NULL,
        start_day TEXT NOT NULL,
        end_day   TEXT
    );
    CREATE INDEX member_history_org ON member_history (org_id, phone, start_day);
    CREATE INDEX member_history_open ON member_history (org_id, phone) WHERE end_day IS NULL;
    CREATE INDEX member_history_phone ON member_history (phone, start_day);
    INSERT INTO member_history (org_id, branch_id, phone, start_day)
        SELECT org_id, branch_id, phone, substr(created_at, 1, 10) FROM members;
    CREATE TABLE org_daily (
        org_id        INTEGER NOT NULL,
        day           TEXT NOT NULL,
        total         INTEGER NOT NULL,
        new           INTEGER NOT NULL,
        active        INTEGER NOT NULL,
        points        INTEGER NOT NULL,
        reached       INTEGER,
        activated     INTEGER NOT NULL,
        per_capita    REAL NOT NULL,
        participation REAL NOT NULL,
        peer_rank     INTEGER,
        peers         INTEGER,
        PRIMARY KEY (org_id, day)
    );
    CREATE INDEX org_daily_day ON org_daily (day);
    CREATE TABLE branch_daily (
        org_id    INTEGER NOT NULL,
        branch_id INTEGER NOT NULL,
        day       TEXT NOT NULL,
        total     INTEGER NOT NULL,
        active    INTEGER NOT NULL,
        points    INTEGER NOT NULL,
        PRIMARY KEY (org_id, day, branch_id)
    );
    CREATE TABLE report_days (
        day         TEXT PRIMARY KEY,
        computed_at TEXT NOT NULL
    );
    CREATE TABLE report_settings (
        org_id        INTEGER PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
        enabled       INTEGER NOT NULL DEFAULT 0,
        send_time     TEXT NOT NULL DEFAULT '08:00',
        content       TEXT NOT NULL DEFAULT 'chart' CHECK (content IN ('text', 'chart', 'xlsx')),
        daily_target  INTEGER,
        inactive_days INTEGER NOT NULL DEFAULT 3,
        updated_at    TEXT NOT NULL
    );
    CREATE TABLE report_recipients (
        org_id   INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        user_id  INTEGER NOT NULL REFERENCES users (id),
        added_at TEXT NOT NULL,
        PRIMARY KEY (org_id, user_id)
    );
    CREATE INDEX report_recipients_user ON report_recipients (user_id);
    CREATE INDEX outbox_chat ON outbox (chat_id, status, id);
    CREATE TABLE rank_base (
        org_id  INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        name    TEXT NOT NULL,
        phone   TEXT NOT NULL,
        week    INTEGER NOT NULL,
        total   INTEGER NOT NULL,
        PRIMARY KEY (org_id, user_id)
    );
    CREATE INDEX rank_base_week ON rank_base (org_id, week);
    CREATE INDEX rank_base_total ON rank_base (org_id, total);
    CREATE TABLE rank_hist (
        org_id   INTEGER NOT NULL,
        by_total INTEGER NOT NULL,
        score    INTEGER NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (org_id, by_total, score)
    );
    CREATE TABLE rank_day (
        day TEXT PRIMARY KEY
    );
    CREATE INDEX rank_base_scores ON rank_base (org_id, user_id, week, total);
    CREATE INDEX points_daily_day ON points_daily (day, user_id, amount)
    """,
    # 19: the outbox finished (bot/outbox.py): a row is claimed ('sending') before the Bot API call and
    # marked 'sent' after Telegram accepted it; rows to a person who blocked the bot are
    # 'skipped_unreachable' while they are in unreachable_users (cleared when they write again); a file
    # sent to many is stored once by content hash in outbox_files and re-sent by Telegram's file_id.
    # SQLite cannot change a CHECK constraint, so the table is rebuilt.
    """
    CREATE TABLE outbox_files (
        sha256     TEXT PRIMARY KEY,
        kind       TEXT NOT NULL,
        data       BLOB,
        file_id    TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE unreachable_users (
        user_id    INTEGER PRIMARY KEY,
        since      TEXT NOT NULL,
        last_error TEXT
    );
    CREATE TABLE outbox_v17 (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id         INTEGER NOT NULL,
        kind            TEXT NOT NULL CHECK (kind IN ('text', 'photo', 'document')),
        payload         TEXT NOT NULL,
        file_name       TEXT,
        file_data       BLOB,
        file_hash       TEXT REFERENCES outbox_files (sha256),
        dedupe_key      TEXT UNIQUE,
        status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unreachable',
                                          'skipped_unreachable')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        created_at      TEXT NOT NULL,
        claimed_at      TEXT,
        sent_at         TEXT,
        message_id      INTEGER
    );
    INSERT INTO outbox_v17 (id, chat_id, kind, payload, file_name, file_data, dedupe_key, status, attempts,
                            next_attempt_at, last_error, created_at, sent_at, message_id)
        SELECT id, chat_id, kind, payload, file_name, file_data, dedupe_key, status, attempts,
               next_attempt_at, last_error, created_at, sent_at, message_id FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v17 RENAME TO outbox;
    CREATE INDEX outbox_status ON outbox (status);
    CREATE INDEX outbox_chat ON outbox (status, chat_id, id)
    """,
    # 20: names listed in pinyin order: a sort key beside each name, computed on write
    # (bot/repositories/names.py) and filled for the rows already there by BACKFILLS[20]
    """
    ALTER TABLE members ADD COLUMN sort_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE users ADD COLUMN sort_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE orgs ADD COLUMN sort_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE branches ADD COLUMN sort_key TEXT NOT NULL DEFAULT '';
    CREATE INDEX members_sorted ON members (org_id, sort_key, id)
    """,
    # 21: the update inbox (bot/repositories/inbox.py): every update stored before Telegram hears it was
    # received, marked done when handled; what is not done at start is handled then
    """
    CREATE TABLE inbox (
        update_id   INTEGER PRIMARY KEY,
        body        TEXT NOT NULL,
        received_at TEXT NOT NULL,
        done_at     TEXT,
        tries       INTEGER NOT NULL DEFAULT 0
    )
    """,
    # 22: special exams (LEARN-6): exams, their questions, attempts and answers (bot/repositories/exams.py,
    # bot/repositories/exam_attempts.py); deadlines, countdown edits and reminders are due_work rows
    """
    CREATE TABLE exams (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id        INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        title         TEXT NOT NULL,
        time_limit    INTEGER NOT NULL,
        opens_at      TEXT NOT NULL,
        closes_at     TEXT NOT NULL,
        pass_mark     INTEGER NOT NULL,
        max_attempts  INTEGER,
        points        INTEGER NOT NULL DEFAULT 0,
        policy        TEXT NOT NULL CHECK (policy IN ('reset', 'submit', 'grace')),
        grace_seconds INTEGER NOT NULL DEFAULT 0,
        status        TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'scheduled', 'published')),
        publish_at    TEXT,
        created_by    INTEGER NOT NULL REFERENCES users (id),
        created_at    TEXT NOT NULL
    );
    CREATE INDEX exams_org ON exams (org_id, status);
    CREATE TABLE exam_questions (
        exam_id     INTEGER NOT NULL REFERENCES exams (id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        question_id INTEGER NOT NULL REFERENCES questions (id),
        PRIMARY KEY (exam_id, position)
    );
    CREATE TABLE exam_attempts (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        exam_id       INTEGER NOT NULL REFERENCES exams (id) ON DELETE CASCADE,
        user_id       INTEGER NOT NULL REFERENCES users (id),
        status        TEXT NOT NULL CHECK (status IN ('open', 'grace', 'submitted', 'reset', 'abandoned')),
        started_at    TEXT NOT NULL,
        deadline      TEXT NOT NULL,
        grace_until   TEXT,
        ended_at      TEXT,
        total         INTEGER NOT NULL,
        correct       INTEGER,
        timed_out     INTEGER NOT NULL DEFAULT 0,
        header_id     INTEGER,
        position      INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX exam_attempts_live ON exam_attempts (exam_id, user_id) WHERE status IN ('open', 'grace');
    CREATE INDEX exam_attempts_user ON exam_attempts (user_id, exam_id, status);
    CREATE INDEX exam_attempts_status ON exam_attempts (status);
    CREATE TABLE exam_answers (
        attempt_id  INTEGER NOT NULL REFERENCES exam_attempts (id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        answer      TEXT NOT NULL,
        correct     INTEGER NOT NULL,
        answered_at TEXT NOT NULL,
        PRIMARY KEY (attempt_id, position)
    )
    """,
    # 23: a task remembers the press that sent it (the preview's chat and message), so that press handled
    # again after a crash between the commit and the reply finds the task instead of sending it twice
    """
    ALTER TABLE tasks ADD COLUMN request_key TEXT;
    CREATE UNIQUE INDEX tasks_request ON tasks (request_key) WHERE request_key IS NOT NULL
    """,
    # 24: several bot processes on one database (issue 17, bot/leases.py): named leases (the scheduler's
    # sweep and the outbox sender run in the holder alone); each inbox row carries its person (one
    # person's updates are handled one at a time, in order, whichever process received them) and the
    # process holding it until when (a killed process's rows are adopted by another)
    """
    CREATE TABLE leases (
        name       TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    ALTER TABLE inbox ADD COLUMN person INTEGER;
    ALTER TABLE inbox ADD COLUMN held_by TEXT;
    ALTER TABLE inbox ADD COLUMN held_until TEXT;
    CREATE INDEX inbox_person ON inbox (person, update_id) WHERE done_at IS NULL
    """,
    # 25: a task's text and a manuscript's body are kept as HTML made from the message's entities (what was
    # typed escaped, its bold and links kept); the rows from before hold the plain text as typed, so the
    # backfill escapes it, once, to show as typed (in Python: an entity's ';' would split this script)
    "SELECT 1",
    # 26: facts about the deployment itself: `key_fingerprint`, an HMAC of a fixed text under the SECRET_KEY
    # the data was made with (ID-number hashes, invite and certification tokens), so that a bot, a restore
    # or a copy started with another key refuses instead of silently breaking them (bot/keys.py)
    """
    CREATE TABLE deployment (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    # 27: a push may become obsolete before it reaches Telegram (a task's reminder past the deadline, an
    # exam's notice after it closed, a daily report superseded by the next day's): `expires_at` (the
    # sender drops it from then on) and the final status 'obsolete' (also for a superseded report).
    # SQLite cannot change a CHECK constraint, so the table is rebuilt.
    """
    CREATE TABLE outbox_v27 (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id         INTEGER NOT NULL,
        kind            TEXT NOT NULL CHECK (kind IN ('text', 'photo', 'document')),
        payload         TEXT NOT NULL,
        file_name       TEXT,
        file_data       BLOB,
        file_hash       TEXT REFERENCES outbox_files (sha256),
        dedupe_key      TEXT UNIQUE,
        status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unreachable',
                                          'skipped_unreachable', 'obsolete')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        created_at      TEXT NOT NULL,
        claimed_at      TEXT,
        sent_at         TEXT,
        message_id      INTEGER,
        expires_at      TEXT
    );
    INSERT INTO outbox_v27 (id, chat_id, kind, payload, file_name, file_data, file_hash, dedupe_key, status,
                            attempts, next_attempt_at, last_error, created_at, claimed_at, sent_at, message_id)
        SELECT id, chat_id, kind, payload, file_name, file_data, file_hash, dedupe_key, status,
               attempts, next_attempt_at, last_error, created_at, claimed_at, sent_at, message_id FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v27 RENAME TO outbox;
    CREATE INDEX outbox_status ON outbox (status);
    CREATE INDEX outbox_chat ON outbox (status, chat_id, id)
    """,
]


# -- the backfills: steps a version needs beyond its SQL, run in its transaction right after it -----------
# The pinyin sort key as it was when migration 20 shipped (bot/repositories/names.py), copied
_SORTED_NAMES = {"members": "name", "users": "name", "orgs": "name", "branches": "name"}
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9}
_NUMERAL = "零〇一二两三四五六七八九十百"
_ORDINAL = re.compile(rf"(?<=第)[{_NUMERAL}]+|[{_NUMERAL}]+(?=(?:党支部|支部|党总支|总支|党小组|小组|组|班|队|车间))")
_NUMBER = re.compile(r"\d+")


def _numeral_value(text: str) -> int:
    if not any(ch in "十百" for ch in text):
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, digit = 0, 0
    for ch in text:
        if ch in "十百":
            total += (digit or 1) * (10 if ch == "十" else 100)
            digit = 0
        else:
            digit = _DIGITS[ch]
    return total + digit


def _sort_key(name: str | None, postgresql: bool) -> str:
    text = " ".join(unicodedata.normalize("NFKC", name or "").casefold().split())
    counted = _ORDINAL.sub(lambda m: str(_numeral_value(m.group())), text)
    padded = _NUMBER.sub(lambda m: m.group().zfill(10), counted)
    syllables = lazy_pinyin(padded, style=Style.TONE3, neutral_tone_with_five=True)
    # PostgreSQL's text holds no NUL: the next lowest character, which sorts alike (as bot/dialect.py sent it)
    return " ".join(syllables) + ("\x01" if postgresql else "\x00") + text


def backfill_sort_keys(db: sa.Connection) -> None:
    """Migration 20: the sort keys of the rows written before it."""
    postgresql = db.dialect.name == "postgresql"
    for table, column in _SORTED_NAMES.items():
        rows = db.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE sort_key = ''")).all()
        if rows:
            db.execute(sa.text(f"UPDATE {table} SET sort_key = :key WHERE id = :id"),
                       [{"key": _sort_key(name, postgresql), "id": row_id} for row_id, name in rows])


def escape_typed_bodies(db: sa.Connection) -> None:
    """Migration 25: the plain texts of tasks and manuscripts written before as HTML showing them as typed."""
    for table in ("tasks", "manuscripts"):
        rows = db.execute(sa.text(f"SELECT id, body FROM {table}")).all()
        if rows:
            db.execute(sa.text(f"UPDATE {table} SET body = :body WHERE id = :id"),
                       [{"body": html.escape(body, quote=False), "id": row_id} for row_id, body in rows])


def resync_outbox_ids(db: sa.Connection) -> None:
    """After the outbox's rebuild (27) kept its ids: PostgreSQL's identity goes on after the largest
    (SQLite numbers from the largest id by itself)."""
    if db.dialect.name == "postgresql":
        db.execute(sa.text("SELECT setval(pg_get_serial_sequence('outbox', 'id'), "
                           "(SELECT COALESCE(MAX(id), 0) + 1 FROM outbox), false)"))


BACKFILLS: dict[int, Callable[[sa.Connection], None]] = {20: backfill_sort_keys, 25: escape_typed_bodies,
                                                         27: resync_outbox_ids}
LEGACY_HEAD = len(MIGRATIONS)


def split_sql(script: str) -> list[str]:
    """A migration's statements, one by one (aiosqlite runs one statement per call)."""
    return [s.strip() for s in script.split(";") if s.strip()]

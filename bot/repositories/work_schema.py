"""Schema of the admin work (WORK-1..3, LEARN-7): appended to bot.store.MIGRATIONS, one entry each."""
from __future__ import annotations

WORK_MIGRATIONS: list[str] = [
    # task notices (WORK-1): the task, and one row per person it was sent to (registered users among the
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
    # collective activities (WORK-2): check-in by QR deep link (token) or code word, once per person
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
    # manuscripts (WORK-3): correspondents are flagged members; a manuscript sits at one organisation at a
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
]

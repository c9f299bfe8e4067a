//! Versioned schema migrations, applied in order inside one transaction each.
//! The version lives in SQLite's `user_version`. Never edit a released migration: add one.

pub const MIGRATIONS: &[&str] = &[
    // v1: hires, passes, and the append-only event log.
    r#"
CREATE TABLE hires (
    application_id      TEXT PRIMARY KEY NOT NULL,
    email               TEXT NOT NULL,
    first_name          TEXT NOT NULL DEFAULT '',
    last_name           TEXT NOT NULL DEFAULT '',
    job_title           TEXT,
    status              TEXT NOT NULL
        CHECK (status IN ('pending', 'done', 'failed', 'needs_attention')),
    employee_state      TEXT NOT NULL DEFAULT 'pending'
        CHECK (employee_state IN ('pending', 'in_flight', 'done')),
    employee_origin     TEXT CHECK (employee_origin IN ('created', 'adopted')),
    hibob_employee_id   TEXT,
    employee_intent_at  INTEGER,
    employee_done_at    INTEGER,
    cv_state            TEXT NOT NULL DEFAULT 'pending'
        CHECK (cv_state IN ('pending', 'in_flight', 'uploaded', 'none')),
    cv_document_id      TEXT,
    cv_document_name    TEXT,
    cv_intent_at        INTEGER,
    cv_done_at          INTEGER,
    comment_state       TEXT NOT NULL DEFAULT 'pending'
        CHECK (comment_state IN ('pending', 'in_flight', 'done')),
    comment_id          TEXT,
    comment_intent_at   INTEGER,
    comment_done_at     INTEGER,
    attempts            INTEGER NOT NULL DEFAULT 0,
    failures            INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,
    park_kind           TEXT,
    next_attempt_at     INTEGER,
    first_seen_at       INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    done_at             INTEGER
) STRICT;
CREATE INDEX hires_by_status ON hires (status, next_attempt_at);
CREATE INDEX hires_by_email ON hires (email COLLATE NOCASE);

CREATE TABLE passes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger     TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT,
    summary     TEXT
) STRICT;

CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  TEXT NOT NULL,
    at              INTEGER NOT NULL,
    pass_id         INTEGER REFERENCES passes (id),
    step            TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX events_by_application ON events (application_id, id);

-- The audit trail is only ever appended to.
CREATE TRIGGER events_are_never_updated BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
"#,
];

pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

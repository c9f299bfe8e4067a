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
    // v2: the values the field mapping gave each hire, what hirebridge wrote, and drift.
    r#"
CREATE TABLE mapped_values (
    application_id      TEXT PRIMARY KEY NOT NULL REFERENCES hires (application_id),
    -- fingerprint of the [mapping] rules the values came from: a changed mapping re-baselines
    mapping             TEXT NOT NULL,
    -- JSON {field: value}: what the mapping gave from Pinpoint's data (the drift baseline)
    rendered            TEXT NOT NULL,
    -- JSON {field: value}: what hirebridge wrote to HiBob; NULL when it wrote none (adopted)
    written             TEXT,
    recorded_at         INTEGER NOT NULL,
    drift               TEXT CHECK (drift IN
        ('reported', 'pending', 'in_flight', 'updated', 'edited_in_hibob', 'failed')),
    drift_fields        TEXT,
    -- JSON {field: value}: Pinpoint's values when the drift was detected
    drift_values        TEXT,
    drift_detail        TEXT,
    drift_detected_at   INTEGER,
    drift_intent_at     INTEGER,
    drift_updated_at    INTEGER
) STRICT;
CREATE INDEX mapped_values_by_drift ON mapped_values (drift);
"#,
    // v3: stages known to be Hired-group stages, learned from the hired-stage listing: a
    // webhook nudge's single read is proof of a hire only when its stage is one of them.
    r#"
CREATE TABLE hired_stages (
    stage_id        TEXT PRIMARY KEY NOT NULL,
    -- the listed hire that showed it, and when
    application_id  TEXT NOT NULL,
    learned_at      INTEGER NOT NULL
) STRICT;
"#,
    // v4: HR's lifecycle and the go-live cutoff. Statuses `skipped` (hired before the cutoff:
    // never written for unless included) and `withdrawn` (left the Hired stage before done);
    // Pinpoint's `hired_at`, and `unhired_at` (a done hire that left the Hired stage). SQLite
    // cannot change a CHECK constraint, so the table is rebuilt (foreign keys are off while
    // migrating; see `Ledger::migrate`). The cutoff's default is the ledger's go-live: for an
    // existing ledger, its first pass.
    r#"
CREATE TABLE hires_v4 (
    application_id      TEXT PRIMARY KEY NOT NULL,
    email               TEXT NOT NULL,
    first_name          TEXT NOT NULL DEFAULT '',
    last_name           TEXT NOT NULL DEFAULT '',
    job_title           TEXT,
    status              TEXT NOT NULL
        CHECK (status IN ('pending', 'done', 'failed', 'needs_attention', 'skipped', 'withdrawn')),
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
    done_at             INTEGER,
    hired_at            INTEGER,
    unhired_at          INTEGER
) STRICT;
INSERT INTO hires_v4 (application_id, email, first_name, last_name, job_title, status,
    employee_state, employee_origin, hibob_employee_id, employee_intent_at, employee_done_at,
    cv_state, cv_document_id, cv_document_name, cv_intent_at, cv_done_at,
    comment_state, comment_id, comment_intent_at, comment_done_at,
    attempts, failures, last_error, park_kind, next_attempt_at,
    first_seen_at, last_seen_at, updated_at, done_at)
SELECT application_id, email, first_name, last_name, job_title, status,
    employee_state, employee_origin, hibob_employee_id, employee_intent_at, employee_done_at,
    cv_state, cv_document_id, cv_document_name, cv_intent_at, cv_done_at,
    comment_state, comment_id, comment_intent_at, comment_done_at,
    attempts, failures, last_error, park_kind, next_attempt_at,
    first_seen_at, last_seen_at, updated_at, done_at
FROM hires;
DROP TABLE hires;
ALTER TABLE hires_v4 RENAME TO hires;
CREATE INDEX hires_by_status ON hires (status, next_attempt_at);
CREATE INDEX hires_by_email ON hires (email COLLATE NOCASE);
-- After a complete listing: the hires it did not show (withdrawn, unhired candidates).
CREATE INDEX hires_by_last_seen ON hires (status, last_seen_at);

CREATE TABLE ledger_meta (
    key     TEXT PRIMARY KEY NOT NULL,
    value   TEXT NOT NULL
) STRICT;
-- Go-live: the default cutoff for hires (sync.hired_since), fixed when the ledger is made.
INSERT INTO ledger_meta (key, value) VALUES ('go_live_at', CAST(COALESCE(
    (SELECT MIN(started_at) FROM passes),
    (SELECT MIN(first_seen_at) FROM hires),
    CAST(strftime('%s', 'now') AS INTEGER) * 1000) AS TEXT));
"#,
    // v5: where a created employee's start date came from: Pinpoint (the application's
    // `start_on`, else the accepted offer's), or `hibob.start_date_offset` because Pinpoint had
    // none (HR must confirm it). NULL: no create (adopted), or a create from before v5.
    r#"
ALTER TABLE hires ADD COLUMN start_date_source TEXT
    CHECK (start_date_source IN ('pinpoint', 'offset'));
"#,
    // v6: what produced each pass: hirebridge's version, a digest of the effective config
    // (secrets excluded), and the OS user who ran it by hand. NULL: a pass from before v6.
    r#"
ALTER TABLE passes ADD COLUMN version TEXT;
ALTER TABLE passes ADD COLUMN config_hash TEXT;
ALTER TABLE passes ADD COLUMN operator TEXT;
"#,
    // v7: the audit chain. Each event carries the salted digest of its detail, the hash of the
    // event before it and its own hash (see `chain.rs`); the detail itself moves to
    // `event_details`, whose rows erasure may drop while the chain still verifies. Signed
    // checkpoints of the chain's head; when a hire's personal data was erased. The existing
    // events are chained, their details moved and the append-only triggers restored by
    // [`finish`] in the same transaction (SQLite has no SHA-256).
    r#"
DROP TRIGGER events_are_never_updated;
DROP TRIGGER events_are_never_deleted;
CREATE TABLE event_details (
    event_id    INTEGER PRIMARY KEY NOT NULL REFERENCES events (id),
    salt        BLOB NOT NULL,
    detail      TEXT NOT NULL
) STRICT;
-- SHA-256 values, 32 bytes each
ALTER TABLE events ADD COLUMN detail_digest BLOB;
ALTER TABLE events ADD COLUMN prev_hash BLOB;
ALTER TABLE events ADD COLUMN hash BLOB;
-- an erasure event's Ed25519 signature (audit key) over its hash: only a signed erasure
-- accounts for the details missing before it
ALTER TABLE events ADD COLUMN signature BLOB;
CREATE TABLE checkpoints (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- how many events the chain held, and the hash of the last of them
    events      INTEGER NOT NULL,
    head        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    -- hex Ed25519 public key and signature over `chain::Checkpoint::signed_message`
    public_key  TEXT NOT NULL,
    signature   TEXT NOT NULL
) STRICT;
ALTER TABLE hires ADD COLUMN erased_at INTEGER;
"#,
    // v8: plugin submits: each "Send to HiBob" submit from Pinpoint's plugin framework, keyed
    // by Pinpoint's generatedUuid (NULL when Pinpoint sent none), with the values HR approved
    // and the answer given, so a replayed submit is answered again without any write.
    r#"
CREATE TABLE plugin_submits (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    generated_uuid  TEXT UNIQUE,
    application_id  TEXT NOT NULL,
    submitted_at    INTEGER NOT NULL,
    values_json     TEXT NOT NULL,
    answer_json     TEXT,
    answered_at     INTEGER,
    success         INTEGER CHECK (success IN (0, 1))
) STRICT;
CREATE INDEX plugin_submits_by_application ON plugin_submits (application_id, id);
"#,
    // v9: HR's own hire flow (`[hibob] hire_flow = "pending"`): status `waiting_for_hr`, the
    // employee step `with_hr` (sent to HiBob's ATS Pending hires), the origin `hr_flow` (made
    // by HR's New hire flow), whether Bob took the post (`hr_delivery`), and how many posts a
    // hire has had (one, unless a person ran `retry --resend`). SQLite cannot change a CHECK
    // constraint, so the table is rebuilt as in v4, every column and index kept.
    r#"
CREATE TABLE hires_v9 (
    application_id      TEXT PRIMARY KEY NOT NULL,
    email               TEXT NOT NULL,
    first_name          TEXT NOT NULL DEFAULT '',
    last_name           TEXT NOT NULL DEFAULT '',
    job_title           TEXT,
    status              TEXT NOT NULL
        CHECK (status IN ('pending', 'done', 'failed', 'needs_attention', 'skipped', 'withdrawn',
                          'waiting_for_hr')),
    employee_state      TEXT NOT NULL DEFAULT 'pending'
        CHECK (employee_state IN ('pending', 'in_flight', 'done', 'with_hr')),
    employee_origin     TEXT CHECK (employee_origin IN ('created', 'adopted', 'hr_flow')),
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
    done_at             INTEGER,
    hired_at            INTEGER,
    unhired_at          INTEGER,
    start_date_source   TEXT CHECK (start_date_source IN ('pinpoint', 'offset')),
    erased_at           INTEGER,
    hr_delivery         TEXT CHECK (hr_delivery IN ('unconfirmed', 'delivered')),
    hr_posts            INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO hires_v9 (application_id, email, first_name, last_name, job_title, status,
    employee_state, employee_origin, hibob_employee_id, employee_intent_at, employee_done_at,
    cv_state, cv_document_id, cv_document_name, cv_intent_at, cv_done_at,
    comment_state, comment_id, comment_intent_at, comment_done_at,
    attempts, failures, last_error, park_kind, next_attempt_at,
    first_seen_at, last_seen_at, updated_at, done_at, hired_at, unhired_at,
    start_date_source, erased_at)
SELECT application_id, email, first_name, last_name, job_title, status,
    employee_state, employee_origin, hibob_employee_id, employee_intent_at, employee_done_at,
    cv_state, cv_document_id, cv_document_name, cv_intent_at, cv_done_at,
    comment_state, comment_id, comment_intent_at, comment_done_at,
    attempts, failures, last_error, park_kind, next_attempt_at,
    first_seen_at, last_seen_at, updated_at, done_at, hired_at, unhired_at,
    start_date_source, erased_at
FROM hires;
DROP TABLE hires;
ALTER TABLE hires_v9 RENAME TO hires;
CREATE INDEX hires_by_status ON hires (status, next_attempt_at);
CREATE INDEX hires_by_email ON hires (email COLLATE NOCASE);
CREATE INDEX hires_by_last_seen ON hires (status, last_seen_at);
"#,
    // v10: notifications (`[notify]`). The outbox: each message per channel, recorded before it
    // is sent and marked after (its body dropped then: the hires' events say what was sent);
    // `hires` is the JSON array of the application ids it announces. `announced`: which hires
    // were announced in which state, so a hire is announced when it enters it, once.
    r#"
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    notice_json     TEXT NOT NULL,
    hires           TEXT NOT NULL DEFAULT '[]',
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    sent_at         INTEGER,
    answer          TEXT
) STRICT;
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
CREATE TABLE announced (
    application_id  TEXT NOT NULL,
    kind            TEXT NOT NULL,
    at              INTEGER NOT NULL,
    PRIMARY KEY (application_id, kind)
) STRICT;
CREATE INDEX announced_by_kind ON announced (kind, application_id);
"#,
];

/// Work a migration needs beyond SQL, run in its transaction right after its SQL.
pub fn finish(tx: &rusqlite::Transaction<'_>, version: usize) -> rusqlite::Result<()> {
    if version as i64 == CHAIN_VERSION {
        super::audit::chain_existing_events(tx)?;
        tx.execute_batch(
            r#"
ALTER TABLE events DROP COLUMN detail;
CREATE TRIGGER events_are_never_updated BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_are_chained BEFORE INSERT ON events
    WHEN NEW.hash IS NULL OR NEW.prev_hash IS NULL OR NEW.detail_digest IS NULL
BEGIN SELECT RAISE(ABORT, 'an event must be chained (hash, prev_hash, detail_digest)'); END;
CREATE TRIGGER event_details_are_never_updated BEFORE UPDATE ON event_details
BEGIN SELECT RAISE(ABORT, 'an event detail is never edited; erasure deletes it'); END;
CREATE TRIGGER checkpoints_are_never_updated BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_are_never_deleted BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
"#,
        )?;
    }
    Ok(())
}

pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// The version that chained the events (see `finish`).
pub const CHAIN_VERSION: i64 = 7;

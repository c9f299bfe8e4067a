//! The ledger: hirebridge's memory and audit trail, in one SQLite file.
//!
//! The only module with SQL. It owns one row per hired application (the state of each step,
//! the ids obtained on both sides, the retry schedule) and an append-only event log. Every
//! change to a row is written in the same transaction as the event that explains it, so the
//! row and its history can never disagree. It knows nothing of HTTP.
//!
//! Durability: WAL with `synchronous=FULL`, so a committed intent survives power loss.

mod audit;
mod backup;
mod chain;
pub mod costs;
mod hr_flow;
mod listing;
mod lock;
mod mapped;
mod outbox;
mod plugin;
mod report_reads;
mod schema;

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

pub use audit::{AuditSummary, ChainedEvent, Erasure, ErasureRefused, SignHash, SignedErasure};
pub use backup::{
    LEDGER_EVENT_ID, LedgerFacts, copy_consistent, facts, lock_for_restore, move_aside,
    put_in_place,
};
pub use chain::{Checkpoint, GENESIS, SALT_BYTES, detail_digest, erasure_message, event_hash};
pub use hr_flow::{HrCommandRefused, LinkError, SentValues};
pub use listing::ListingMarks;
pub use lock::{LedgerLock, lock_path};
pub use mapped::{DriftState, MappedRecord, describe as describe_values};
pub use outbox::{Announcement, DayCounts, OutboxSummary, Outgoing};
pub use plugin::PluginSubmit;
pub use schema::CURRENT_VERSION;
// The hire's types live in the domain module; they are named here too, where the rows are.
use crate::hire::observe;
pub use crate::hire::{
    ApplicationId, CommentId, CommentStep, CvState, CvStep, EmployeeId, EmployeeOrigin,
    EmployeeStep, EventOutcome, EventSubject, HireStatus, HrDelivery, LedgerEntry, ObservedHire,
    ParkKind, PassId, Provenance, StageId, StepKind, StepState,
};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "the ledger {path} is in use by another hirebridge{}; stop it first (e.g. `systemctl stop hirebridge`) or point ledger.path at another file",
        .pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Busy { path: PathBuf, pid: Option<u32> },
    #[error("cannot use {path}: {source}; check the directory exists and is writable by this user")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no ledger at {path} yet: run `hirebridge sync` (or the daemon) once to create it")]
    Missing { path: PathBuf },
    #[error(
        "the ledger {path} has schema version {found}, newer than this hirebridge understands ({known}); upgrade hirebridge"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "the ledger {path} has schema version {found}; run `hirebridge sync` once to migrate it to {known}"
    )]
    TooOld {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "ledger database error: {0}; if it persists, check the disk and run `PRAGMA integrity_check`"
    )]
    Sql(#[from] rusqlite::Error),
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LedgerEvent {
    pub id: i64,
    pub application_id: String,
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub pass_id: Option<i64>,
    /// What started the pass: `sync`, `schedule`, `demo`, …
    pub trigger: Option<String>,
    pub step: String,
    pub outcome: String,
    pub detail: String,
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[derive(Debug)]
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    _lock: Option<LedgerLock>,
    /// Recorded with every pass and operator action this handle writes.
    provenance: Option<Provenance>,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.and_then(|m| Utc.timestamp_millis_opt(m).single())
}

const ENTRY_COLUMNS: &str = "application_id, email, first_name, last_name, job_title, status, \
    employee_state, employee_origin, hibob_employee_id, employee_intent_at, employee_done_at, \
    cv_state, cv_document_id, cv_document_name, cv_intent_at, cv_done_at, \
    comment_state, comment_id, comment_intent_at, comment_done_at, \
    attempts, failures, last_error, next_attempt_at, first_seen_at, last_seen_at, updated_at, done_at, \
    hired_at, unhired_at, start_date_source, erased_at, hr_delivery";

/// Stores what observing a hire decided: a new row inserted, a changed one updated (each
/// handed back as stored), an unchanged one as it was read. `None`: the insert found the row
/// there already.
fn store_observed(
    tx: &rusqlite::Transaction<'_>,
    is_new: bool,
    observed: &observe::Observed,
    now: DateTime<Utc>,
) -> Result<Option<LedgerEntry>> {
    let e = &observed.entry;
    if is_new {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO hires (application_id, email, first_name, last_name, job_title, status,
                                last_error, hired_at, first_seen_at, last_seen_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9)
             ON CONFLICT (application_id) DO NOTHING
             RETURNING {ENTRY_COLUMNS}"
        ))?;
        let row = params![
            e.application_id,
            e.email,
            e.first_name,
            e.last_name,
            e.job_title,
            e.status.as_str(),
            e.last_error,
            e.hired_at.map(ms),
            ms(now)
        ];
        return Ok(insert.query_row(row, entry_from_row).optional()?);
    }
    if !observed.write {
        return Ok(Some(e.clone()));
    }
    let mut update = tx.prepare_cached(&format!(
        "UPDATE hires SET status = ?2, park_kind = ?3, last_error = ?4,
            next_attempt_at = ?5, updated_at = ?6, email = ?7, first_name = ?8,
            last_name = ?9, job_title = ?10, hired_at = ?11, unhired_at = ?12,
            last_seen_at = ?13, erased_at = ?14
         WHERE application_id = ?1
         RETURNING {ENTRY_COLUMNS}"
    ))?;
    let row = params![
        e.application_id,
        e.status.as_str(),
        observed.park_kind.map(ParkKind::as_str),
        e.last_error,
        e.next_attempt_at.map(ms),
        ms(e.updated_at),
        e.email,
        e.first_name,
        e.last_name,
        e.job_title,
        e.hired_at.map(ms),
        e.unhired_at.map(ms),
        ms(e.last_seen_at),
        e.erased_at.map(ms)
    ];
    Ok(update.query_row(row, entry_from_row).optional()?)
}

/// A row read with `ENTRY_COLUMNS, park_kind`.
fn known_from_row(row: &Row<'_>) -> rusqlite::Result<observe::Known> {
    let park_kind: Option<String> = row.get(ENTRY_COLUMNS.split(',').count())?;
    Ok(observe::Known {
        entry: entry_from_row(row)?,
        park_kind: park_kind.as_deref().and_then(ParkKind::parse),
    })
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<LedgerEntry> {
    let status: String = row.get(5)?;
    let origin: Option<String> = row.get(7)?;
    // A state column with what its state needs; a row that says more than it proves (done
    // without an id, from a damaged file) reads as the earlier state, which looks remotely
    // before writing anything.
    let intent = |at: Option<i64>| time(at).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let done_at = |at: Option<i64>| time(at).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let employee = match (
        row.get::<_, String>(6)?.as_str(),
        row.get::<_, Option<String>>(8)?,
    ) {
        ("done", Some(id)) => EmployeeStep::Done {
            id: id.into(),
            // Only a recorded create makes the employee ours: anything else is adopted, whose
            // fields hirebridge never updates.
            origin: match origin.as_deref() {
                Some("created") => EmployeeOrigin::Created,
                Some("hr_flow") => EmployeeOrigin::HrFlow,
                _ => EmployeeOrigin::Adopted,
            },
            at: done_at(row.get(10)?),
        },
        // Never read as pending: that could send it to HR a second time.
        ("with_hr", _) => EmployeeStep::WithHr {
            since: intent(row.get(9)?),
            delivery: match row.get::<_, Option<String>>(32)?.as_deref() {
                Some("delivered") => HrDelivery::Delivered,
                _ => HrDelivery::Unconfirmed,
            },
        },
        ("in_flight" | "done", _) => EmployeeStep::InFlight {
            since: intent(row.get(9)?),
        },
        _ => EmployeeStep::Pending,
    };
    let cv = match row.get::<_, String>(11)?.as_str() {
        "uploaded" => CvStep::Uploaded {
            document_id: row.get(12)?,
            name: row.get::<_, Option<String>>(13)?.unwrap_or_default(),
            at: done_at(row.get(15)?),
        },
        "none" => CvStep::None {
            at: done_at(row.get(15)?),
        },
        "in_flight" => CvStep::InFlight {
            since: intent(row.get(14)?),
        },
        _ => CvStep::Pending,
    };
    let comment = match (
        row.get::<_, String>(16)?.as_str(),
        row.get::<_, Option<String>>(17)?,
    ) {
        ("done", Some(id)) => CommentStep::Done {
            id: id.into(),
            at: done_at(row.get(19)?),
        },
        ("in_flight" | "done", _) => CommentStep::InFlight {
            since: intent(row.get(18)?),
        },
        _ => CommentStep::Pending,
    };
    Ok(LedgerEntry {
        application_id: row.get(0)?,
        email: row.get(1)?,
        first_name: row.get(2)?,
        last_name: row.get(3)?,
        job_title: row.get(4)?,
        status: HireStatus::parse(&status).unwrap_or(HireStatus::Pending),
        employee,
        cv,
        comment,
        attempts: row.get(20)?,
        failures: row.get(21)?,
        last_error: row.get(22)?,
        next_attempt_at: time(row.get(23)?),
        first_seen_at: time(row.get(24)?).unwrap_or_default(),
        last_seen_at: time(row.get(25)?).unwrap_or_default(),
        updated_at: time(row.get(26)?).unwrap_or_default(),
        done_at: time(row.get(27)?),
        hired_at: time(row.get(28)?),
        unhired_at: time(row.get(29)?),
        start_date_source: row.get(30)?,
        erased_at: time(row.get(31)?),
    })
}

/// Filters for listing hires.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub status: Option<HireStatus>,
    pub updated_since: Option<DateTime<Utc>>,
    pub updated_until: Option<DateTime<Utc>>,
}

/// How a pass ended, as kept in the `passes` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassRecord {
    pub id: i64,
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub summary: Option<String>,
    /// What produced it (see [`Provenance`]); none for a pass from before schema v6.
    pub version: Option<String>,
    pub config_hash: Option<String>,
    pub operator: Option<String>,
}

/// What [`Ledger::check_migrates`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationCheck {
    pub found_version: i64,
    pub migrated_version: i64,
    /// `ok`, or SQLite's list of problems.
    pub integrity: String,
}

impl Ledger {
    /// Opens (creating if needed) the ledger for writing: takes the single-writer lock, sets
    /// durability pragmas, and migrates the schema.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let lock = lock::acquire(path)?;
        Self::open_locked(path, lock)
    }

    /// Opens the ledger for writing under a lock the caller already holds (a restore, which
    /// holds it from before the file is in place).
    fn open_locked(path: &Path, lock: LedgerLock) -> Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        debug_assert_eq!(mode.to_lowercase(), "wal");
        writer_settings(&mut conn)?;
        let mut ledger = Self {
            conn,
            path: path.to_owned(),
            _lock: Some(lock),
            provenance: None,
        };
        ledger.migrate()?;
        Ok(ledger)
    }

    /// Opens an existing ledger for reading only: no lock, so it works beside a running daemon.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let ledger = Self {
            conn: read_only_connection(path)?,
            path: path.to_owned(),
            _lock: None,
            provenance: None,
        };
        let found = ledger.schema_version()?;
        refuse_newer(path, found)?;
        if found < CURRENT_VERSION {
            return Err(LedgerError::TooOld {
                path: path.to_owned(),
                found,
                known: CURRENT_VERSION,
            });
        }
        Ok(ledger)
    }

    /// For the dry run: the ledger read-only when it exists, else an empty in-memory one with
    /// the current schema, so `plan` previews a first sync without creating the file.
    pub fn open_read_only_or_empty(path: &Path) -> Result<Self> {
        if path.exists() {
            return Self::open_read_only(path);
        }
        let conn = Connection::open_in_memory()?;
        let mut ledger = Self {
            conn,
            path: path.to_owned(),
            _lock: None,
            provenance: None,
        };
        ledger.migrate()?;
        Ok(ledger)
    }

    /// Proves an existing ledger can be opened and migrated by this build without touching
    /// it: a consistent snapshot (`VACUUM INTO`, a read) is taken into `scratch_dir` and the
    /// snapshot is opened and migrated instead. Works beside a running daemon.
    pub fn check_migrates(path: &Path, scratch_dir: &Path) -> Result<MigrationCheck> {
        let conn = read_only_connection(path)?;
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        refuse_newer(path, found)?;
        let copy = scratch_dir.join("ledger-check.sqlite3");
        conn.execute("VACUUM INTO ?1", [copy.to_string_lossy()])?;
        drop(conn);
        let migrated = Self::open(&copy)?;
        Ok(MigrationCheck {
            found_version: found,
            migrated_version: migrated.schema_version()?,
            integrity: migrated.integrity_check()?,
        })
    }

    /// Opens an existing ledger for a short operator write (`retry`) beside a running daemon:
    /// no lock (SQLite serialises the writes), no migration (the daemon owns that).
    pub fn open_for_operator(path: &Path) -> Result<Self> {
        let reader = Self::open_read_only(path)?;
        drop(reader);
        let mut conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        writer_settings(&mut conn)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            _lock: None,
            provenance: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<()> {
        let found = self.schema_version()?;
        refuse_newer(&self.path, found)?;
        if found as usize >= schema::MIGRATIONS.len() {
            return Ok(());
        }
        if found > 0 {
            // A copy of the ledger as it was, before anything changes (once per target).
            self.backup_before_migration(CURRENT_VERSION)?;
        }
        // A migration that rebuilds a table drops it while others still refer to it: foreign
        // keys are off meanwhile (the pragma is ignored inside a transaction), and checked
        // before they are turned back on.
        let enforced: bool = self
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        self.conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            schema::finish(&tx, index + 1)?;
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()?;
            if let Some(table) = broken {
                return Err(LedgerError::Sql(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some(format!(
                        "migration to version {} left a broken reference in {table}",
                        index + 1
                    )),
                )));
            }
            tx.pragma_update(None, "user_version", (index + 1) as i64)?;
            tx.commit()?;
        }
        if enforced {
            self.conn.execute_batch("PRAGMA foreign_keys = ON")?;
        }
        if found > 0 && found < schema::CHAIN_VERSION {
            // Moving the details out of the events left their old copies in free pages;
            // rewriting the file once drops them, so a later erasure leaves nothing behind.
            self.conn.execute_batch("VACUUM")?;
        }
        Ok(())
    }

    /// When this ledger went live: the default cutoff for hires (`sync.hired_since`). Fixed
    /// when the ledger was made (for a ledger older than the setting, its first pass).
    pub fn go_live_at(&self) -> Result<DateTime<Utc>> {
        let value: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM ledger_meta WHERE key = 'go_live_at'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(value
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|m| time(Some(m)))
            .unwrap_or_default())
    }

    // ---- the API contract -------------------------------------------------------------------

    /// The last contract check's report, as the contract module serialised it.
    pub fn contract_report(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM ledger_meta WHERE key = 'contract_report'",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn record_contract_report(&mut self, report: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO ledger_meta (key, value) VALUES ('contract_report', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![report],
        )?;
        Ok(())
    }

    /// Forgets the last contract report, so the next pass checks again (an answer suggested
    /// the API moved).
    pub fn forget_contract_report(&mut self) -> Result<()> {
        self.conn
            .execute("DELETE FROM ledger_meta WHERE key = 'contract_report'", [])?;
        Ok(())
    }

    /// HiBob ids of up to `limit` employees hirebridge created or adopted, newest first:
    /// people HiBob's search must show.
    pub fn employee_witnesses(&self, limit: usize) -> Result<Vec<String>> {
        let mut statement = self.conn.prepare(
            "SELECT hibob_employee_id FROM hires
             WHERE hibob_employee_id IS NOT NULL AND employee_state = 'done'
             ORDER BY employee_done_at DESC LIMIT ?1",
        )?;
        let ids = statement
            .query_map(params![limit as i64], |r| r.get(0))?
            .collect::<std::result::Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    // ---- passes ----------------------------------------------------------------------------

    pub fn begin_pass(&mut self, trigger: &str, now: DateTime<Utc>) -> Result<PassId> {
        insert_pass(&self.conn, self.provenance.as_ref(), trigger, now)
    }

    /// What produced the passes and operator actions recorded from now on.
    pub fn set_provenance(&mut self, provenance: Provenance) {
        self.provenance = Some(provenance);
    }

    pub fn finish_pass(
        &mut self,
        pass: PassId,
        now: DateTime<Utc>,
        outcome: &str,
        summary: &str,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE passes SET finished_at = ?2, outcome = ?3, summary = ?4 WHERE id = ?1",
            params![pass.0, ms(now), outcome, summary],
        )?;
        Ok(())
    }

    /// The last listing pass. The one-application passes webhook nudges and plugin submits
    /// start (triggers `webhook`, `plugin`) are not polls: they say nothing about whether the
    /// schedule runs.
    pub fn last_pass(&self) -> Result<Option<PassRecord>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, trigger, started_at, finished_at, outcome, summary, version,
                        config_hash, operator FROM passes
                 WHERE trigger NOT IN ('webhook', 'plugin') ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(PassRecord {
                        id: r.get(0)?,
                        trigger: r.get(1)?,
                        started_at: time(r.get(2)?).unwrap_or_default(),
                        finished_at: time(r.get(3)?),
                        outcome: r.get(4)?,
                        summary: r.get(5)?,
                        version: r.get(6)?,
                        config_hash: r.get(7)?,
                        operator: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }

    // ---- stages known to be hired -----------------------------------------------------------

    /// The stage ids the hired-stage listing has shown to be hired stages.
    pub fn hired_stages(&self) -> Result<std::collections::HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT stage_id FROM hired_stages")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    /// Keeps `stage_id` as a hired stage, shown by `application_id`; whether it was new.
    pub fn learn_hired_stage(
        &mut self,
        stage_id: &StageId,
        application_id: &ApplicationId,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(self.conn.execute(
            "INSERT INTO hired_stages (stage_id, application_id, learned_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (stage_id) DO NOTHING",
            params![stage_id, application_id, ms(now)],
        )? == 1)
    }

    // ---- observing the listing --------------------------------------------------------------

    /// How stale `last_seen_at` may get before a pass that sees the hire rewrites it (see
    /// [`crate::hire::observe::LAST_SEEN_RESOLUTION`]).
    pub const LAST_SEEN_RESOLUTION: chrono::TimeDelta = observe::LAST_SEEN_RESOLUTION;

    /// Merges one listing page into the ledger in a single transaction and returns the rows
    /// with how many were new. What each hire's row becomes is [`observe::observe`]'s answer;
    /// this stores it (a known hire that nothing changed costs one read), with its events.
    pub fn observe(
        &mut self,
        pass: PassId,
        now: DateTime<Utc>,
        hires: &[ObservedHire<'_>],
    ) -> Result<(Vec<LedgerEntry>, usize)> {
        let tx = self.conn.transaction()?;
        let mut new = 0;
        let mut out = Vec::with_capacity(hires.len());
        {
            let mut known = tx.prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS}, park_kind FROM hires WHERE application_id = ?1"
            ))?;
            for h in hires {
                let recorded = known
                    .query_row(params![h.application_id], known_from_row)
                    .optional()?;
                let is_new = recorded.is_none();
                let observed = observe::observe(recorded, h, now);
                // An insert that found the row there (another writer, this very moment) adds
                // nothing and records nothing: the row is as that writer left it.
                let Some(stored) = store_observed(&tx, is_new, &observed, now)? else {
                    let row = known.query_row(params![h.application_id], known_from_row);
                    out.extend(row.optional()?.map(|k| k.entry));
                    continue;
                };
                new += usize::from(is_new);
                for (outcome, detail) in &observed.events {
                    insert_event(
                        &tx,
                        &stored.application_id,
                        now,
                        pass,
                        EventSubject::Hire,
                        *outcome,
                        detail,
                    )?;
                }
                out.push(stored);
            }
        }
        tx.commit()?;
        Ok((out, new))
    }

    /// What [`Self::observe`] would make of `hires`, without writing: each row as observing
    /// would leave it, and its status before (`None`: not in the ledger yet). For the dry
    /// run, which may only read the ledger: the same rules ([`observe::observe`]).
    pub fn preview_observe(
        &self,
        now: DateTime<Utc>,
        hires: &[ObservedHire<'_>],
    ) -> Result<Vec<(LedgerEntry, Option<HireStatus>)>> {
        let mut known = self.conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS}, park_kind FROM hires WHERE application_id = ?1"
        ))?;
        let mut out = Vec::with_capacity(hires.len());
        for h in hires {
            let recorded = known
                .query_row([h.application_id], known_from_row)
                .optional()?;
            let before = recorded.as_ref().map(|k| k.entry.status);
            out.push((observe::observe(recorded, h, now).entry, before));
        }
        Ok(out)
    }

    /// Records a listed application that cannot be used (no email, …) as needing attention,
    /// writing an event only when the problem is new or changed, so a parked hire seen every
    /// pass does not flood the log.
    pub fn observe_unusable(
        &mut self,
        pass: PassId,
        now: DateTime<Utc>,
        application_id: &ApplicationId,
        email: Option<&str>,
        problem: &str,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let current: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT status, last_error FROM hires WHERE application_id = ?1",
                [application_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let changed = match &current {
            None => {
                tx.execute(
                    "INSERT INTO hires (application_id, email, status, last_error, park_kind,
                                        first_seen_at, last_seen_at, updated_at)
                     VALUES (?1, ?2, 'needs_attention', ?3, 'unusable', ?4, ?4, ?4)",
                    params![application_id, email.unwrap_or(""), problem, ms(now)],
                )?;
                true
            }
            Some((status, _)) if status == "done" => false,
            Some((_, last_error)) => {
                tx.execute(
                    "UPDATE hires SET status = 'needs_attention', park_kind = 'unusable',
                        last_error = ?2, last_seen_at = ?3,
                        updated_at = CASE WHEN last_error IS ?2 THEN updated_at ELSE ?3 END
                     WHERE application_id = ?1",
                    params![application_id, problem, ms(now)],
                )?;
                last_error.as_deref() != Some(problem)
            }
        };
        if changed {
            insert_event(
                &tx,
                application_id,
                now,
                pass,
                EventSubject::Hire,
                EventOutcome::Parked,
                problem,
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    // ---- step transitions (each one row update + one event, atomically) ---------------------

    fn transition(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        event: (EventSubject, EventOutcome, &str),
        update_sql: &str,
        update_params: &[&dyn rusqlite::ToSql],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        // Each kind of step has its one statement: parsed once per connection.
        let changed = tx.prepare_cached(update_sql)?.execute(update_params)?;
        if changed != 1 {
            return Err(LedgerError::Sql(rusqlite::Error::QueryReturnedNoRows));
        }
        insert_event(&tx, application_id, now, pass, event.0, event.1, event.2)?;
        tx.commit()?;
        Ok(())
    }

    /// Records the intent to perform `step` — committed before the remote call, so a crash
    /// during the call leaves `in_flight` behind and recovery checks remotely first.
    pub fn record_intent(
        &mut self,
        application_id: &ApplicationId,
        step: StepKind,
        pass: PassId,
        now: DateTime<Utc>,
        detail: &str,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE hires SET {state} = 'in_flight', {intent} = ?2, attempts = attempts + 1,
                updated_at = ?2 WHERE application_id = ?1",
            state = state_column(step),
            intent = intent_column(step)
        );
        self.transition(
            application_id,
            pass,
            now,
            (step.into(), EventOutcome::Intent, detail),
            &sql,
            &[&application_id, &ms(now)],
        )
    }

    pub fn record_employee(
        &mut self,
        application_id: &ApplicationId,
        employee_id: &EmployeeId,
        origin: EmployeeOrigin,
        pass: PassId,
        now: DateTime<Utc>,
        detail: &str,
    ) -> Result<()> {
        let origin = match origin {
            EmployeeOrigin::Created => (EventOutcome::Created, "created"),
            EmployeeOrigin::Adopted => (EventOutcome::Adopted, "adopted"),
            EmployeeOrigin::HrFlow => (EventOutcome::Found, "hr_flow"),
        };
        self.transition(
            application_id,
            pass,
            now,
            (EventSubject::Employee, origin.0, detail),
            // A hire waiting for HR has work again once HR's employee is found.
            "UPDATE hires SET employee_state = 'done', employee_origin = ?2, hibob_employee_id = ?3,
                employee_done_at = ?4, updated_at = ?4,
                status = CASE WHEN status = 'waiting_for_hr' THEN 'pending' ELSE status END
             WHERE application_id = ?1",
            &[&application_id, &origin.1, &employee_id, &ms(now)],
        )
    }

    pub fn record_cv_uploaded(
        &mut self,
        application_id: &ApplicationId,
        document_id: Option<&str>,
        document_name: &str,
        outcome: EventOutcome,
        pass: PassId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let detail = match document_id {
            Some(id) => format!("{document_name} (document {id})"),
            None => document_name.to_owned(),
        };
        self.transition(
            application_id,
            pass,
            now,
            (EventSubject::Cv, outcome, &detail),
            "UPDATE hires SET cv_state = 'uploaded', cv_document_id = ?2, cv_document_name = ?3,
                cv_done_at = ?4, updated_at = ?4 WHERE application_id = ?1",
            &[&application_id, &document_id, &document_name, &ms(now)],
        )
    }

    pub fn record_no_cv(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.transition(
            application_id,
            pass,
            now,
            (
                EventSubject::Cv,
                EventOutcome::None,
                "the application has no CV attachment",
            ),
            "UPDATE hires SET cv_state = 'none', cv_done_at = ?2, updated_at = ?2
             WHERE application_id = ?1",
            &[&application_id, &ms(now)],
        )
    }

    pub fn record_comment(
        &mut self,
        application_id: &ApplicationId,
        comment_id: &CommentId,
        outcome: EventOutcome,
        pass: PassId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.transition(
            application_id,
            pass,
            now,
            (
                EventSubject::Comment,
                outcome,
                &format!("comment {comment_id}"),
            ),
            "UPDATE hires SET comment_state = 'done', comment_id = ?2, comment_done_at = ?3,
                updated_at = ?3 WHERE application_id = ?1",
            &[&application_id, &comment_id, &ms(now)],
        )
    }

    pub fn record_done(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        detail: &str,
    ) -> Result<()> {
        self.transition(
            application_id,
            pass,
            now,
            (EventSubject::Hire, EventOutcome::Done, detail),
            "UPDATE hires SET status = 'done', failures = 0, last_error = NULL, park_kind = NULL,
                next_attempt_at = NULL, done_at = ?2, updated_at = ?2 WHERE application_id = ?1",
            &[&application_id, &ms(now)],
        )
    }

    /// A transient failure: retried at `next_attempt_at`.
    pub fn record_failure(
        &mut self,
        application_id: &ApplicationId,
        step: StepKind,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        pass: PassId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let next = ms(next_attempt_at);
        let detail = format!(
            "{error} (next attempt {})",
            next_attempt_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        self.transition(
            application_id,
            pass,
            now,
            (step.into(), EventOutcome::Failed, &detail),
            // A hire with HR still waits for HR: its lookup failed, not the hire.
            "UPDATE hires SET failures = failures + 1, last_error = ?2,
                status = CASE WHEN employee_state = 'with_hr' THEN 'waiting_for_hr'
                              ELSE 'failed' END,
                next_attempt_at = ?3, updated_at = ?4 WHERE application_id = ?1",
            &[&application_id, &error, &next, &ms(now)],
        )
    }

    /// Not a failure: the hire waits (e.g. for HiBob's read lag) and stays `pending`.
    pub fn record_deferral(
        &mut self,
        application_id: &ApplicationId,
        step: StepKind,
        reason: &str,
        until: DateTime<Utc>,
        pass: PassId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let detail = format!(
            "{reason} (until {})",
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        self.transition(
            application_id,
            pass,
            now,
            (step.into(), EventOutcome::Deferred, &detail),
            "UPDATE hires SET status = CASE WHEN status IN ('failed', 'waiting_for_hr') THEN status
                                            ELSE 'pending' END,
                next_attempt_at = ?2, updated_at = ?3 WHERE application_id = ?1",
            &[&application_id, &ms(until), &ms(now)],
        )
    }

    /// Parks the hire until a person acts.
    pub fn record_parked(
        &mut self,
        application_id: &ApplicationId,
        step: StepKind,
        kind: ParkKind,
        message: &str,
        pass: PassId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.transition(
            application_id,
            pass,
            now,
            (step.into(), EventOutcome::Parked, message),
            "UPDATE hires SET status = 'needs_attention', park_kind = ?2, last_error = ?3,
                next_attempt_at = NULL, updated_at = ?4 WHERE application_id = ?1",
            &[&application_id, &kind.as_str(), &message, &ms(now)],
        )
    }

    /// A hire that left the Hired stage before it was done: nothing more is written for it.
    pub fn record_withdrawn(
        &mut self,
        application_id: &ApplicationId,
        detail: &str,
        pass: PassId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.transition(
            application_id,
            pass,
            now,
            (EventSubject::Hire, EventOutcome::Withdrawn, detail),
            "UPDATE hires SET status = 'withdrawn', last_error = ?2, park_kind = NULL,
                next_attempt_at = NULL, updated_at = ?3 WHERE application_id = ?1",
            &[&application_id, &detail, &ms(now)],
        )
    }

    /// A done hire found out of the Hired stage: flagged for HR, nothing else changes.
    pub fn record_unhired(
        &mut self,
        application_id: &ApplicationId,
        detail: &str,
        pass: PassId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.transition(
            application_id,
            pass,
            now,
            (EventSubject::Hire, EventOutcome::Unhired, detail),
            "UPDATE hires SET unhired_at = ?2, updated_at = ?2 WHERE application_id = ?1",
            &[&application_id, &ms(now)],
        )
    }

    /// Hires a complete listing did not show, oldest first, at most `limit`: open ones
    /// stamped before `open_before` (open hires are stamped by every listing that shows them)
    /// and done ones, not yet flagged, stamped before `done_before` (done ones to within a
    /// day, [`Self::LAST_SEEN_RESOLUTION`]).
    pub fn unlisted_hires(
        &self,
        open_before: DateTime<Utc>,
        done_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<LedgerEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM hires
             WHERE (status IN ('pending', 'failed', 'needs_attention', 'waiting_for_hr')
                    AND last_seen_at < ?1)
                OR (status = 'done' AND unhired_at IS NULL AND last_seen_at < ?2)
             ORDER BY last_seen_at LIMIT ?3"
        ))?;
        let rows = stmt
            .query_map(
                params![ms(open_before), ms(done_before), limit as i64],
                entry_from_row,
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// An event with no change to the row (a read that found something, a decision).
    pub fn record_note(
        &mut self,
        application_id: &ApplicationId,
        step: StepKind,
        outcome: EventOutcome,
        detail: &str,
        pass: PassId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        insert_event(&tx, application_id, now, pass, step.into(), outcome, detail)?;
        tx.commit()?;
        Ok(())
    }

    /// Clears backoff and parking so the next pass tries again. Returns how many hires moved.
    pub fn retry(&mut self, application_id: Option<&str>, now: DateTime<Utc>) -> Result<usize> {
        let retry_detail = match self.provenance.as_ref().and_then(|p| p.operator.as_deref()) {
            Some(who) => format!("an operator asked to retry ({who})"),
            None => "an operator asked to retry".to_owned(),
        };
        let tx = self.conn.transaction()?;
        let ids: Vec<ApplicationId> = {
            let mut stmt = tx.prepare(
                // One named hire in any state but done (a skipped or withdrawn one is included
                // on purpose); all of them means every failed or parked one.
                "SELECT application_id FROM hires
                 WHERE (?1 IS NOT NULL AND application_id = ?1
                        AND status IN ('failed', 'needs_attention', 'pending', 'skipped', 'withdrawn',
                                       'waiting_for_hr'))
                    OR (?1 IS NULL AND status IN ('failed', 'needs_attention'))",
            )?;
            stmt.query_map([application_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        for id in &ids {
            tx.execute(
                // An erased hire worked again takes Pinpoint's details again at the next
                // listing (see `observe`). One sent to HR's Pending hires is looked for again,
                // never sent again (that takes `retry --resend`).
                "UPDATE hires SET failures = 0, park_kind = NULL,
                    status = CASE WHEN employee_state = 'with_hr' THEN 'waiting_for_hr'
                                  ELSE 'pending' END,
                    next_attempt_at = NULL, updated_at = ?2, erased_at = NULL
                 WHERE application_id = ?1",
                params![id, ms(now)],
            )?;
            // Parked again after this, it is announced again.
            tx.execute("DELETE FROM announced WHERE application_id = ?1", [id])?;
            audit::append_event(
                &tx,
                id,
                ms(now),
                None,
                EventSubject::Hire.as_str(),
                EventOutcome::Retry.as_str(),
                &retry_detail,
            )?;
        }
        tx.commit()?;
        Ok(ids.len())
    }

    // ---- queries ----------------------------------------------------------------------------

    pub fn entry(&self, application_id: &ApplicationId) -> Result<Option<LedgerEntry>> {
        // Read back after every step's write: parsed once per connection, not per read.
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM hires WHERE application_id = ?1"
            ))?
            .query_row([application_id], entry_from_row)
            .optional()?)
    }

    pub fn entries_by_id(&self, ids: &[&str]) -> Result<Vec<LedgerEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM hires WHERE application_id = ?1"
        ))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(e) = stmt.query_row([id], entry_from_row).optional()? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Hires ordered by when they were first seen, then id (stable for reports).
    pub fn entries(&self, filter: &EntryFilter) -> Result<Vec<LedgerEntry>> {
        let mut out = Vec::new();
        self.for_each_entry(filter, |e| {
            out.push(e);
            Ok::<(), std::convert::Infallible>(())
        })?
        .unwrap_or_else(|never| match never {});
        Ok(out)
    }

    /// Hands each hire `filter` selects to `each`, in report order, one row at a time (memory
    /// stays flat however many hires). The first error `each` returns ends the walk and is
    /// handed back.
    pub fn for_each_entry<E>(
        &self,
        filter: &EntryFilter,
        mut each: impl FnMut(LedgerEntry) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {ENTRY_COLUMNS} FROM hires
             WHERE (?1 IS NULL OR status = ?1)
               AND (?2 IS NULL OR updated_at >= ?2)
               AND (?3 IS NULL OR updated_at < ?3)
             ORDER BY first_seen_at, length(application_id), application_id"
        ))?;
        let rows = stmt.query_map(
            params![
                filter.status.map(HireStatus::as_str),
                filter.updated_since.map(ms),
                filter.updated_until.map(ms)
            ],
            entry_from_row,
        )?;
        for row in rows {
            if let Err(e) = each(row?) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// Hires whose email matches, case-insensitively.
    pub fn entries_by_email(&self, email: &str) -> Result<Vec<LedgerEntry>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {ENTRY_COLUMNS} FROM hires WHERE email = ?1 COLLATE NOCASE ORDER BY application_id"
        ))?;
        let rows = stmt.query_map([email], entry_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn count_by_status(&self) -> Result<Vec<(HireStatus, u64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT status, count(*) FROM hires GROUP BY status")?;
        let found: Vec<(String, u64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(HireStatus::ALL
            .into_iter()
            .map(|s| {
                let n = found
                    .iter()
                    .find(|(name, _)| name == s.as_str())
                    .map_or(0, |(_, n)| *n);
                (s, n)
            })
            .collect())
    }

    pub fn events(&self, application_id: &ApplicationId) -> Result<Vec<LedgerEvent>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.application_id, e.at, e.pass_id, p.trigger, e.step, e.outcome,
                    COALESCE(d.detail, '(erased)')
             FROM events e LEFT JOIN passes p ON p.id = e.pass_id
                LEFT JOIN event_details d ON d.event_id = e.id
             WHERE e.application_id = ?1 ORDER BY e.id",
        )?;
        let rows = stmt.query_map([application_id], |r| {
            Ok(LedgerEvent {
                id: r.get(0)?,
                application_id: r.get(1)?,
                at: time(r.get(2)?).unwrap_or_default(),
                pass_id: r.get(3)?,
                trigger: r.get(4)?,
                step: r.get(5)?,
                outcome: r.get(6)?,
                detail: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn event_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// For `hirebridge bench` seeding a scratch ledger only: the commits that follow stop
    /// waiting for the disk (`synchronous = OFF`), so the very calls a pass makes can record
    /// 100,000 hires in seconds. A power cut may lose what was committed: never for a real ledger.
    pub fn stop_syncing_for_bench(&mut self) -> Result<()> {
        self.conn.execute_batch("PRAGMA synchronous = OFF;")?;
        Ok(())
    }

    /// Frees SQLite's page cache (it refills on the next read): the daemon calls this after
    /// each pass, so minutes of idling do not hold a pass's worth of ledger pages.
    pub fn release_memory(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA shrink_memory;")?;
        Ok(())
    }

    /// Moves the write-ahead log into the database file and empties it, without waiting for
    /// readers; `false` when one held it (SQLite's next checkpoint then overwrites it).
    pub fn truncate_wal(&self) -> Result<bool> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(busy == 0)
    }

    /// Moves the write-ahead log into the database file and empties it, so the file's size
    /// is the ledger's size (used by `hirebridge bench`).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Direct access for tests that must prove what the schema itself refuses.
    #[doc(hidden)]
    pub fn connection_for_tests(&self) -> &Connection {
        &self.conn
    }
}

/// How every connection that writes behaves. `synchronous = FULL`: a committed intent
/// survives power loss. `secure_delete`: erased personal data is overwritten, not left in free
/// pages. Immediate transactions: appending to the chain reads its head and writes after it,
/// so a second writer (an operator's `retry` beside the daemon) waits instead of forking it.
fn writer_settings(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
    )?;
    conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
    // A pass runs a few dozen distinct statements; the default cache (16) would evict and
    // parse them again for every hire.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Prepared statements kept per connection: more than a pass's distinct statements.
const STATEMENT_CACHE: usize = 128;

/// A read-only connection to an existing ledger, patient with a writer holding it.
fn read_only_connection(path: &Path) -> Result<Connection> {
    if !path.exists() {
        return Err(LedgerError::Missing {
            path: path.to_owned(),
        });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// A ledger written by a newer hirebridge must not be read (or migrated) by this one.
fn refuse_newer(path: &Path, found: i64) -> Result<()> {
    if found > CURRENT_VERSION {
        return Err(LedgerError::TooNew {
            path: path.to_owned(),
            found,
            known: CURRENT_VERSION,
        });
    }
    Ok(())
}

/// Starts a pass recorded under `trigger`, with what produced it when known.
fn insert_pass(
    conn: &Connection,
    provenance: Option<&Provenance>,
    trigger: &str,
    now: DateTime<Utc>,
) -> Result<PassId> {
    conn.execute(
        "INSERT INTO passes (trigger, started_at, version, config_hash, operator)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            trigger,
            ms(now),
            provenance.map(|p| p.version.as_str()),
            provenance.and_then(|p| p.config_hash.as_deref()),
            provenance.and_then(|p| p.operator.as_deref())
        ],
    )?;
    Ok(PassId(conn.last_insert_rowid()))
}

fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    application_id: &ApplicationId,
    now: DateTime<Utc>,
    pass: PassId,
    step: EventSubject,
    outcome: EventOutcome,
    detail: &str,
) -> Result<()> {
    audit::append_event(
        tx,
        application_id,
        ms(now),
        Some(pass.0),
        step.as_str(),
        outcome.as_str(),
        detail,
    )
}

#[cfg(test)]
mod tests;

/// The columns of a step's state and intent time.
fn state_column(step: StepKind) -> &'static str {
    match step {
        StepKind::Employee => "employee_state",
        StepKind::Cv => "cv_state",
        StepKind::Comment => "comment_state",
    }
}
fn intent_column(step: StepKind) -> &'static str {
    match step {
        StepKind::Employee => "employee_intent_at",
        StepKind::Cv => "cv_intent_at",
        StepKind::Comment => "comment_intent_at",
    }
}

/// The ids the rows hold, stored as text.
macro_rules! id_column {
    ($($name:ident),*) => {$(
        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                self.as_str().to_sql()
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                String::column_result(value).map($name::from)
            }
        }
    )*};
}

id_column!(ApplicationId, EmployeeId, StageId, CommentId);

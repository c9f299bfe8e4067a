//! Copies of the ledger: a consistent copy taken beside a running daemon (SQLite's online
//! backup API, not a file copy: a file copy of a database being written can tear), putting a
//! copy back in place of a lost or damaged ledger, and the copy a migration takes before it
//! changes the schema. What goes beside the copy (the signing key, the config, a manifest)
//! and when a restore is allowed are `crate::backup`'s decisions; this module only moves
//! SQLite pages and reads the facts a manifest records.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OptionalExtension};

use super::{
    ApplicationId, Ledger, LedgerError, LedgerLock, Result, audit, lock, ms, read_only_connection,
    time,
};

/// What a ledger (or a copy of one) holds, as a backup's manifest records it and a restore
/// compares it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LedgerFacts {
    pub schema_version: i64,
    pub hires: u64,
    /// Events in the audit chain, and the hash of the last one (hex).
    pub events: u64,
    pub head: String,
    pub checkpoints: u64,
    /// When the last pass started; `None` before the first.
    pub last_pass_started_at: Option<DateTime<Utc>>,
}

/// How long a copy waits for a writer that holds the database (a daemon mid-commit).
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// Copies the ledger at `source` into a new file at `dest` while other processes may be
/// writing it, and returns what the copy holds. The whole database is copied in one step,
/// inside one read transaction: the copy is the ledger as of one commit, never a mix. The
/// copy is a single self-contained file (rollback journal, not WAL).
pub fn copy_consistent(source: &Path, dest: &Path) -> Result<LedgerFacts> {
    let from = read_only_connection(source)?;
    let found: i64 = from.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    super::refuse_newer(source, found)?;
    let mut to = Connection::open(dest)?;
    copy_pages(&from, &mut to)?;
    drop(from);
    to.execute_batch("PRAGMA journal_mode = DELETE;")?;
    let facts = facts_of(&to)?;
    drop(to);
    sync_file(dest)?;
    Ok(facts)
}

/// All pages in one step, retried while a writer holds the database.
fn copy_pages(from: &Connection, to: &mut Connection) -> Result<()> {
    let backup = Backup::new(from, to)?;
    let started = std::time::Instant::now();
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked
                if started.elapsed() < BUSY_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => {
                return Err(LedgerError::Sql(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    Some(format!(
                        "the ledger stayed busy for {}s while being copied",
                        BUSY_WAIT.as_secs()
                    )),
                )));
            }
        }
    }
}

fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|source| LedgerError::Io {
            path: path.to_owned(),
            source,
        })
}

/// What the database behind `conn` holds.
fn facts_of(conn: &Connection) -> Result<LedgerFacts> {
    let schema_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let count =
        |sql: &str| -> Result<u64> { Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64) };
    let (events, head) = audit::head(conn)?;
    let last_pass: Option<i64> = conn
        .query_row("SELECT MAX(started_at) FROM passes", [], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(LedgerFacts {
        schema_version,
        hires: count("SELECT COUNT(*) FROM hires")?,
        events: events as u64,
        head,
        checkpoints: count("SELECT COUNT(*) FROM checkpoints")?,
        last_pass_started_at: time(last_pass),
    })
}

/// What the ledger at `path` holds, read without a lock (beside a daemon).
pub fn facts(path: &Path) -> Result<LedgerFacts> {
    let conn = read_only_connection(path)?;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    super::refuse_newer(path, found)?;
    facts_of(&conn)
}

/// The ledger's single-writer lock, for a restore: held, no daemon and no `sync` can open the
/// ledger until the restore is over. Refused (naming the holder) while one runs.
pub fn lock_for_restore(ledger: &Path) -> Result<LedgerLock> {
    if let Some(dir) = ledger.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    lock::acquire(ledger)
}

/// The ledger's files: the database and SQLite's side files.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Moves the ledger at `ledger` (with its `-wal` and `-shm`, which belong to it) aside to
/// `<ledger><suffix>`: nothing is deleted. Returns the new path, or `None` when there was no
/// ledger.
pub fn move_aside(_lock: &LedgerLock, ledger: &Path, suffix: &str) -> Result<Option<PathBuf>> {
    if !ledger.exists() {
        return Ok(None);
    }
    let target = with_suffix(ledger, suffix);
    for side in ["-wal", "-shm", ""] {
        let from = with_suffix(ledger, side);
        if from.exists() {
            let to = with_suffix(&target, side);
            std::fs::rename(&from, &to).map_err(|source| LedgerError::Io { path: to, source })?;
        }
    }
    Ok(Some(target))
}

/// Puts the copy at `copy` in place as the ledger at `ledger` (which must have been moved
/// aside), then opens it under the lock the caller holds and records the restore in the
/// audit chain. The copy is written to a temporary name and renamed, so a crash leaves
/// either no ledger or the whole copy.
pub fn put_in_place(lock: LedgerLock, copy: &Path, ledger: &Path, note: &str) -> Result<Ledger> {
    let staging = with_suffix(ledger, ".restoring");
    std::fs::copy(copy, &staging).map_err(|source| LedgerError::Io {
        path: staging.clone(),
        source,
    })?;
    sync_file(&staging)?;
    std::fs::rename(&staging, ledger).map_err(|source| LedgerError::Io {
        path: ledger.to_owned(),
        source,
    })?;
    let mut restored = Ledger::open_locked(ledger, lock)?;
    restored.record_ledger_event("restored", note, Utc::now())?;
    Ok(restored)
}

impl Ledger {
    /// Takes the migration's backup: `<ledger>.pre-v<target>`, the ledger as it was before
    /// the migration to `target`, made once (a retried migration keeps the first copy, which
    /// is the one taken before anything changed).
    pub(super) fn backup_before_migration(&self, target: i64) -> Result<()> {
        let dest = with_suffix(&self.path, &format!(".pre-v{target}"));
        if dest.exists() {
            return Ok(());
        }
        let staging = with_suffix(&dest, ".partial");
        let _ = std::fs::remove_file(&staging);
        let mut to = Connection::open(&staging)?;
        copy_pages(&self.conn, &mut to)?;
        to.execute_batch("PRAGMA journal_mode = DELETE;")?;
        drop(to);
        sync_file(&staging)?;
        std::fs::rename(&staging, &dest).map_err(|source| LedgerError::Io { path: dest, source })
    }

    /// An event about the ledger itself (a restore), in the audit chain like any other; its
    /// application id is `ledger`, which no Pinpoint application has (theirs are numbers).
    pub fn record_ledger_event(
        &mut self,
        outcome: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        audit::append_event(
            &tx,
            &ApplicationId::from(LEDGER_EVENT_ID),
            ms(now),
            None,
            "ledger",
            outcome,
            detail,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// What this ledger holds.
    pub fn facts(&self) -> Result<LedgerFacts> {
        facts_of(&self.conn)
    }
}

/// The application id of events about the ledger itself.
pub const LEDGER_EVENT_ID: &str = "ledger";

//! The audit trail an auditor can check: signing the ledger's chain head into checkpoints
//! (Ed25519), publishing them to an append-only log outside the ledger, verifying a ledger or
//! an export against them, exporting a period, and retention of personal data.
//!
//! Owns the signing key and the checkpoint log file. The chain itself (what is hashed, the
//! append-only rules, erasure) is the ledger's (`ledger/chain.rs`, `ledger/audit.rs`); this
//! module never writes SQL and never calls an API.

mod export;
mod key;
mod verify;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use crate::config::AuditConfig;
use crate::hire::PassId;
use crate::ledger::{Checkpoint, Ledger, LedgerError};

pub use export::{ExportSummary, export};
pub use key::{AuditKey, TrustedKey};
pub use verify::{
    Finding, VerifyInput, VerifyReport, read_checkpoint_log, verify_export, verify_ledger,
};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(
        "cannot read the audit signing key {path}: {cause}; check audit.signing_key_file and that this user may read it"
    )]
    KeyUnreadable {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "the audit signing key {path} is not a hex Ed25519 key (64 hex digits): {why}; restore it from backup or point audit.signing_key_file at the right file"
    )]
    KeyInvalid { path: PathBuf, why: String },
    #[error(
        "the audit signing key {path} may be read by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    KeyExposed { path: PathBuf, mode: u32 },
    #[error(
        "cannot create the audit signing key {path}: {cause}; check the ledger's directory is writable by this user"
    )]
    KeyCreate {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "no audit signing key at {0}: make one (`openssl rand -hex 32 > FILE; chmod 600 FILE`) and point audit.signing_key_file at it, or remove that setting to use a key hirebridge makes beside the ledger at the first pass that writes"
    )]
    NoKey(PathBuf),
    #[error(
        "the audit signing key {path} is missing, but the ledger's checkpoints are signed by key {public}: restore that key file from backup (a new key would make every later checkpoint fail verification)"
    )]
    KeyLost { path: PathBuf, public: String },
    #[error(
        "{0:?} is not a public key: give 64 hex digits (as `hirebridge audit key` prints) or a file holding them"
    )]
    PublicKey(String),
    #[error(
        "cannot append to the checkpoint log {path}: {cause}; check audit.checkpoint_log exists, is writable by this user, and (under systemd) is listed in ReadWritePaths="
    )]
    Log {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot read {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "{path}, line {line}: {why}; a checkpoint line is a JSON object as hirebridge appends them"
    )]
    LogLine {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("cannot write {path}: {cause}; check the directory is writable")]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Signs checkpoints after passes and applies retention: what a pass does for the audit
/// trail once its hires are worked.
#[derive(Debug)]
pub struct Trail {
    key_path: PathBuf,
    may_create_key: bool,
    log: Option<PathBuf>,
    retain_personal_data: Option<std::time::Duration>,
    key: OnceLock<AuditKey>,
}

/// Retention erases at most this many hires per pass, so a first pass with years of history
/// behind it does not hold the ledger for long; the next passes go on.
const RETENTION_BATCH: usize = 2_000;

impl Trail {
    pub fn new(config: &AuditConfig, ledger_path: &Path) -> Self {
        Self {
            key_path: config.key_path(ledger_path),
            may_create_key: config.key_is_default(),
            log: config.checkpoint_log.clone(),
            retain_personal_data: config.retain_personal_data,
            key: OnceLock::new(),
        }
    }

    /// The signing key. The default key is made on first use — but never for a ledger whose
    /// checkpoints another key signed: a lost key file is restored, not silently replaced
    /// (a new key would make every later checkpoint fail `audit verify --key`).
    pub fn key(&self, ledger: &Ledger) -> Result<&AuditKey, AuditError> {
        if let Some(key) = self.key.get() {
            return Ok(key);
        }
        let key = match AuditKey::load(&self.key_path)? {
            Some(key) => key,
            None => match ledger.last_checkpoint()? {
                Some(signed) => {
                    return Err(AuditError::KeyLost {
                        path: self.key_path.clone(),
                        public: signed.public_key,
                    });
                }
                None if self.may_create_key => AuditKey::load_or_create(&self.key_path)?,
                None => return Err(AuditError::NoKey(self.key_path.clone())),
            },
        };
        Ok(self.key.get_or_init(|| key))
    }

    /// End of a pass: erases personal data past retention (in a full pass, `retention_in`,
    /// which the erasures are recorded in), then signs a checkpoint if the chain grew since
    /// the last one. Returns the checkpoint made, if any.
    pub fn after_pass(
        &self,
        ledger: &mut Ledger,
        retention_in: Option<PassId>,
        now: DateTime<Utc>,
    ) -> Result<Option<Checkpoint>, AuditError> {
        if let (Some(retain), Some(pass)) = (self.retain_personal_data, retention_in) {
            let before =
                now - chrono::TimeDelta::from_std(retain).unwrap_or(chrono::TimeDelta::MAX);
            let reason = format!(
                "personal data erased: done more than {} ago (audit.retain_personal_data)",
                humantime::format_duration(retain)
            );
            let key = self.key(ledger)?;
            let erased = ledger.erase_settled_before(
                pass,
                before,
                RETENTION_BATCH,
                &reason,
                now,
                &|hash| key.sign_erasure(hash),
            )?;
            if erased > 0 {
                tracing::info!(hires = erased, "personal data past retention erased");
                // Old page images must not outlive the erasure in the write-ahead log; a
                // reader holding it now only delays that to SQLite's next checkpoint.
                if !ledger.truncate_wal()? {
                    tracing::warn!(
                        "the write-ahead log could not be emptied after the retention erasure (a reader held it); SQLite's next checkpoint overwrites it"
                    );
                }
            }
        }
        self.seal(ledger, now)
    }

    /// Signs the chain's head when it moved since the last checkpoint, records it in the
    /// ledger and appends it to the checkpoint log.
    pub fn seal(
        &self,
        ledger: &mut Ledger,
        now: DateTime<Utc>,
    ) -> Result<Option<Checkpoint>, AuditError> {
        let (events, _) = ledger.chain_head()?;
        if events == 0
            || ledger
                .last_checkpoint()?
                .is_some_and(|c| c.events >= events)
        {
            return Ok(None);
        }
        let key = self.key(ledger)?;
        let sealed = ledger.seal_head(
            now,
            |events, head, at_ms| key.sign(events, head, at_ms),
            |checkpoint| match &self.log {
                Some(log) => append_to_log(log, checkpoint),
                None => Ok(()),
            },
        )?;
        match sealed {
            None => Ok(None),
            Some((checkpoint, published)) => published.map(|()| Some(checkpoint)),
        }
    }

    /// The public key checkpoints are signed with, when the key can be read.
    pub fn public_key(&self) -> Result<String, AuditError> {
        match AuditKey::load(&self.key_path)? {
            Some(key) => Ok(key.public_hex()),
            None => Err(AuditError::NoKey(self.key_path.clone())),
        }
    }

    pub fn key_path(&self) -> &Path {
        &self.key_path
    }
}

/// One checkpoint as a line of the log (JSON, with a readable time beside the signed one).
pub fn log_line(checkpoint: &Checkpoint) -> String {
    let mut value = serde_json::to_value(checkpoint).unwrap_or_default();
    if let (Some(map), Some(at)) = (
        value.as_object_mut(),
        DateTime::<Utc>::from_timestamp_millis(checkpoint.at_ms),
    ) {
        map.insert(
            "at".into(),
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
    }
    value.to_string()
}

fn ends_with_newline(path: &Path) -> bool {
    use std::io::{Read as _, Seek as _};
    let Ok(mut file) = std::fs::File::open(path) else {
        return true;
    };
    let mut last = [0u8; 1];
    file.seek(std::io::SeekFrom::End(-1)).is_err()
        || file.read_exact(&mut last).is_err()
        || last[0] == b'\n'
}

fn append_to_log(path: &Path, checkpoint: &Checkpoint) -> Result<(), AuditError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let fail = |cause| AuditError::Log {
        path: path.to_owned(),
        cause,
    };
    // Non-blocking: a pipe nobody reads fails at once instead of holding the ledger's write
    // lock (this runs inside the checkpoint's transaction).
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(fail)?;
    // A line cut short (a crash, a full disk) is ended first, so this one stands alone.
    let mut line = String::new();
    if file.metadata().is_ok_and(|m| m.is_file() && m.len() > 0) && !ends_with_newline(path) {
        line.push('\n');
    }
    line.push_str(&log_line(checkpoint));
    line.push('\n');
    // One write per line: appends from two processes never interleave within a line.
    file.write_all(line.as_bytes()).map_err(fail)?;
    // A regular file is made durable; a pipe or a character device has nothing to sync.
    if file.metadata().is_ok_and(|m| m.is_file()) {
        file.sync_data().map_err(fail)?;
    }
    Ok(())
}

//! What hirebridge keeps on disk: `[ledger]`, `[audit]` (the chain's signing key, where
//! checkpoints go, how long personal data stays) and `[backup]`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::{RawAudit, RawBackup, RawLedger};
use super::secrets::SecretSources;
use super::{ConfigError, invalid, keys};

#[derive(Debug, Clone)]
pub struct LedgerConfig {
    pub path: PathBuf,
}

/// `[audit]`. Every key is optional: by default the checkpoints are signed with a key made
/// beside the ledger on first use, kept only in the ledger, and personal data is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditConfig {
    /// The Ed25519 signing key (hex seed). `None`: [`AuditConfig::key_path`]'s default.
    pub signing_key_file: Option<PathBuf>,
    /// A file each checkpoint is also appended to (another disk, a WORM mount, a pipe).
    pub checkpoint_log: Option<PathBuf>,
    /// Settled hires' personal data is erased this long after they were done.
    pub retain_personal_data: Option<Duration>,
}

impl AuditConfig {
    /// The signing key's file: the configured one, else `<ledger>.audit-key` beside the
    /// ledger (made with mode 0600 at the first checkpoint).
    pub fn key_path(&self, ledger: &Path) -> PathBuf {
        self.signing_key_file.clone().unwrap_or_else(|| {
            let mut name = ledger.file_name().unwrap_or_default().to_owned();
            name.push(".audit-key");
            ledger.with_file_name(name)
        })
    }

    /// Whether the key is the default one, which hirebridge may create.
    pub fn key_is_default(&self) -> bool {
        self.signing_key_file.is_none()
    }
}

/// `[backup]`: where `hirebridge backup` (and the shipped daily timer) writes its copies and
/// how many it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// `None`: `hirebridge backup` needs its directory on the command line.
    pub dir: Option<PathBuf>,
    /// Copies kept in `dir`; older ones are removed after each good backup.
    pub keep: usize,
}

impl BackupConfig {
    pub const DEFAULT_KEEP: usize = keys::BACKUP_KEEP.default;
    /// More than this many copies is a typo, not a policy (a copy a day for about 27 years).
    pub const MAX_KEEP: i64 = keys::BACKUP_KEEP.max;
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            dir: None,
            keep: Self::DEFAULT_KEEP,
        }
    }
}

pub(super) fn ledger_config(raw: RawLedger) -> Result<LedgerConfig, ConfigError> {
    if raw.path.as_os_str().is_empty() {
        return Err(invalid(
            "ledger.path",
            "is empty; write e.g. \"/var/lib/hirebridge/ledger.sqlite3\"",
        ));
    }
    Ok(LedgerConfig { path: raw.path })
}

pub(super) fn audit_config(
    raw: RawAudit,
    secrets: &SecretSources,
) -> Result<AuditConfig, ConfigError> {
    // A key file is a secret: relative to the credentials directory, as the others.
    let signing_key_file = raw
        .signing_key_file
        .map(|path| {
            if path.as_os_str().is_empty() {
                return Err(invalid(
                    "audit.signing_key_file",
                    "is empty; remove it to use the key kept beside the ledger",
                ));
            }
            Ok(secrets.resolve(&path))
        })
        .transpose()?;
    if let Some(log) = &raw.checkpoint_log
        && (log.as_os_str().is_empty() || log.is_relative())
    {
        return Err(invalid(
            "audit.checkpoint_log",
            "must be an absolute path, e.g. \"/mnt/worm/hirebridge-checkpoints.jsonl\"",
        ));
    }
    let retain_personal_data =
        keys::RETAIN_PERSONAL_DATA.read(raw.retain_personal_data.as_deref())?;
    Ok(AuditConfig {
        signing_key_file,
        checkpoint_log: raw.checkpoint_log,
        retain_personal_data,
    })
}

pub(super) fn backup_config(raw: RawBackup) -> Result<BackupConfig, ConfigError> {
    if let Some(dir) = &raw.dir
        && (dir.as_os_str().is_empty() || dir.is_relative())
    {
        return Err(invalid(
            "backup.dir",
            "must be an absolute path, e.g. \"/var/lib/hirebridge-backups\" (the shipped timer's sandbox may write there)",
        ));
    }
    let keep = keys::BACKUP_KEEP.read(raw.keep)?;
    Ok(BackupConfig { dir: raw.dir, keep })
}

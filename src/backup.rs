//! Backups that restore: `hirebridge backup` and `hirebridge restore`.
//!
//! Owns what a backup is — one directory per copy holding the ledger (copied by SQLite's
//! online backup API beside a running daemon), the audit signing key, the config (never the
//! credentials: they are not in it, and their files are not copied) and a manifest with
//! versions, the chain's head and every file's SHA-256 — and the rules around it: a copy is
//! verified (integrity check and `audit verify`) before it is kept, old copies are pruned
//! to `[backup] keep`, and a restore happens only under the ledger's lock (no daemon running)
//! and never over a ledger newer than the copy unless told. The SQL lives in `ledger`; the
//! chain's verification in `audit`.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sha2::Digest as _;

use crate::audit::{self, AuditKey, TrustedKey, VerifyInput, VerifyReport};
use crate::ledger::{self, CURRENT_VERSION, Ledger, LedgerError, LedgerFacts};

/// The files of a backup directory.
pub const LEDGER_FILE: &str = "ledger.sqlite3";
pub const KEY_FILE: &str = "audit-key";
pub const CONFIG_FILE: &str = "config.toml";
pub const MANIFEST_FILE: &str = "manifest.json";
/// Every backup directory's name starts with this, followed by its UTC time.
pub const NAME_PREFIX: &str = "hirebridge-";
const PARTIAL_SUFFIX: &str = ".partial";
/// The manifest's own format, for a future reader.
const MANIFEST_FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot {what} {path}: {cause}; check the path exists and this user may use it")]
    Io {
        what: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "{path} is not a hirebridge backup: {why}; give a directory `hirebridge backup` wrote (it holds manifest.json)"
    )]
    NotABackup { path: PathBuf, why: String },
    #[error(
        "the backup {path} is damaged: {file} does not match its checksum in manifest.json; use another backup"
    )]
    Checksum { path: PathBuf, file: String },
    #[error(
        "the copy in {path} does not verify ({why}); it was not kept. Run `hirebridge audit verify` on the ledger itself"
    )]
    Unverified { path: PathBuf, why: String },
    #[error(
        "the ledger {ledger} is newer than the backup ({current}; the backup, taken {taken}, holds {backup}); restoring would lose that work. Take a backup of it first, then pass --force to replace it (it is kept aside, never deleted)"
    )]
    Newer {
        ledger: PathBuf,
        current: String,
        backup: String,
        taken: String,
    },
    #[error(
        "the backup {path} was written by hirebridge {version} with ledger schema {found}, newer than this hirebridge understands ({known}); upgrade hirebridge first"
    )]
    TooNew {
        path: PathBuf,
        version: String,
        found: i64,
        known: i64,
    },
    #[error(
        "the current ledger {ledger} cannot be read ({cause}); pass --force to replace it with the backup (it is kept aside, never deleted)"
    )]
    Unreadable { ledger: PathBuf, cause: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
}

type Result<T, E = BackupError> = std::result::Result<T, E>;

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |cause| BackupError::Io {
        what,
        path: path.to_owned(),
        cause,
    }
}

/// One file of a backup, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// `manifest.json`: what the backup holds and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub hirebridge_version: String,
    pub created_at: DateTime<Utc>,
    /// Where the ledger, the signing key and the config were copied from.
    pub ledger_path: PathBuf,
    pub signing_key_path: Option<PathBuf>,
    pub config_path: Option<PathBuf>,
    /// What the copied ledger holds (its schema version, hires, the chain's length and head).
    pub ledger: LedgerFacts,
    pub files: Vec<FileEntry>,
}

/// What a backup copies from.
#[derive(Debug, Clone)]
pub struct Sources {
    pub ledger: PathBuf,
    /// The audit signing key's file (copied when it exists: none before the first checkpoint).
    pub signing_key: PathBuf,
    pub config: PathBuf,
}

/// A backup taken and verified.
#[derive(Debug)]
pub struct Taken {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub verified: VerifyReport,
    /// Older copies removed to keep `[backup] keep`.
    pub pruned: Vec<PathBuf>,
}

/// Takes a backup of `sources` into a new directory under `into`, verifies it, then prunes
/// `into` to the newest `keep` backups. A copy that does not verify is removed and an error
/// returned: only a verified backup is ever named as one.
pub fn take(sources: &Sources, into: &Path, keep: usize, now: DateTime<Utc>) -> Result<Taken> {
    make_private_dir(into)?;
    let name = format!("{NAME_PREFIX}{}", now.format("%Y%m%dT%H%M%S%.3fZ"));
    let dir = into.join(&name);
    let partial = into.join(format!("{name}{PARTIAL_SUFFIX}"));
    make_private_dir(&partial)?;
    let written = write_copy(sources, &partial, now);
    let verified = written.and_then(|manifest| {
        let report = verify_copy(&partial, &manifest)?;
        Ok((manifest, report))
    });
    let (manifest, verified) = match verified {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &dir).map_err(io("rename", &dir))?;
    sync_dir(into)?;
    let pruned = prune(into, keep)?;
    Ok(Taken {
        dir,
        manifest,
        verified,
        pruned,
    })
}

/// Writes the copies and the manifest into `dir`.
fn write_copy(sources: &Sources, dir: &Path, now: DateTime<Utc>) -> Result<Manifest> {
    let facts = ledger::copy_consistent(&sources.ledger, &dir.join(LEDGER_FILE))?;
    let signing_key_path = match std::fs::read(&sources.signing_key) {
        Ok(bytes) => {
            write_file(&dir.join(KEY_FILE), &bytes, 0o600)?;
            Some(sources.signing_key.clone())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(cause) => {
            return Err(io("read the audit signing key", &sources.signing_key)(
                cause,
            ));
        }
    };
    let config_path = match std::fs::read(&sources.config) {
        Ok(bytes) => {
            write_file(&dir.join(CONFIG_FILE), &bytes, 0o600)?;
            Some(sources.config.clone())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(cause) => return Err(io("read the config", &sources.config)(cause)),
    };
    let mut files = Vec::new();
    for name in [LEDGER_FILE, KEY_FILE, CONFIG_FILE] {
        let path = dir.join(name);
        if path.exists() {
            files.push(file_entry(&path, name)?);
        }
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        hirebridge_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: now,
        ledger_path: sources.ledger.clone(),
        signing_key_path,
        config_path,
        ledger: facts,
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    write_file(&dir.join(MANIFEST_FILE), &json, 0o600)?;
    Ok(manifest)
}

/// The copy is checked as `audit verify` checks a ledger (every event's hash and link, every
/// checkpoint's signature, against the copied key when there is one), after SQLite's own
/// integrity check.
fn verify_copy(dir: &Path, manifest: &Manifest) -> Result<VerifyReport> {
    let unverified = |why: String| BackupError::Unverified {
        path: dir.to_owned(),
        why,
    };
    let copy = Ledger::open_read_only(&dir.join(LEDGER_FILE))?;
    let integrity = copy.integrity_check()?;
    if integrity != "ok" {
        return Err(unverified(format!("SQLite's integrity check: {integrity}")));
    }
    let trusted = match AuditKey::load(&dir.join(KEY_FILE))? {
        Some(key) => TrustedKey::from_hex(&key.public_hex())
            .map(|k| (k, "the backup's signing key".to_owned())),
        None => None,
    };
    let input = VerifyInput { trusted, log: None };
    let report = audit::verify_ledger(&copy, &input)?.map_err(|f| unverified(f.to_string()))?;
    if report.events != manifest.ledger.events || report.head != manifest.ledger.head {
        return Err(unverified(format!(
            "the chain verified to {} events, head {}, but the copy recorded {} events, head {}",
            report.events, report.head, manifest.ledger.events, manifest.ledger.head
        )));
    }
    Ok(report)
}

/// Removes all but the newest `keep` backups in `dir` (only directories this module wrote:
/// named `hirebridge-<time>` with a manifest), and copies left half-written by a crash more
/// than an hour ago. Returns what was removed.
pub fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let mut backups = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io("read", dir))? {
        let entry = entry.map_err(io("read", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(NAME_PREFIX) {
            continue;
        }
        let path = entry.path();
        if name.ends_with(PARTIAL_SUFFIX) {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default().as_secs() > 3600);
            if stale {
                std::fs::remove_dir_all(&path).map_err(io("remove", &path))?;
            }
            continue;
        }
        if path.join(MANIFEST_FILE).is_file() {
            backups.push((name, path));
        }
    }
    // The names carry the time in a fixed-width UTC format: newest sorts last.
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for (_, path) in backups.into_iter().take(excess) {
        std::fs::remove_dir_all(&path).map_err(io("remove", &path))?;
        removed.push(path);
    }
    Ok(removed)
}

/// Reads a backup's manifest and checks every file it lists against its checksum.
pub fn read(dir: &Path) -> Result<Manifest> {
    let not_a_backup = |why: String| BackupError::NotABackup {
        path: dir.to_owned(),
        why,
    };
    let text = std::fs::read(dir.join(MANIFEST_FILE))
        .map_err(|e| not_a_backup(format!("cannot read {MANIFEST_FILE}: {e}")))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| not_a_backup(format!("{MANIFEST_FILE} does not parse: {e}")))?;
    if !manifest.files.iter().any(|f| f.name == LEDGER_FILE) {
        return Err(not_a_backup(format!("{MANIFEST_FILE} lists no ledger")));
    }
    for file in &manifest.files {
        if file.name.contains('/') || file.name.starts_with('.') {
            return Err(not_a_backup(format!("a file name {:?}", file.name)));
        }
        let path = dir.join(&file.name);
        let found = file_entry(&path, &file.name).map_err(|_| BackupError::Checksum {
            path: dir.to_owned(),
            file: file.name.clone(),
        })?;
        if found != *file {
            return Err(BackupError::Checksum {
                path: dir.to_owned(),
                file: file.name.clone(),
            });
        }
    }
    Ok(manifest)
}

fn file_entry(path: &Path, name: &str) -> Result<FileEntry> {
    let bytes = std::fs::read(path).map_err(io("read", path))?;
    Ok(FileEntry {
        name: name.to_owned(),
        bytes: bytes.len() as u64,
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
    })
}

/// Writes `bytes` to a new file with `mode`, synced.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io("create", path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io("write", path))
}

fn make_private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("create the directory", dir))
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync", dir))
}

/// Where a restore puts things.
#[derive(Debug, Clone)]
pub struct Target {
    pub ledger: PathBuf,
    pub signing_key: PathBuf,
    /// The config to install from the backup, when there is none at this path.
    pub install_config: Option<PathBuf>,
}

/// A restore done.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    /// Where the ledger that was in place went (kept, never deleted).
    pub previous_ledger: Option<PathBuf>,
    /// Where the signing key that was in place went, when the backup's differed.
    pub previous_key: Option<PathBuf>,
    pub config_installed: Option<PathBuf>,
    pub verified: VerifyReport,
}

/// Puts the backup in `dir` in place: checks it, takes the ledger's lock (refused while a
/// daemon or a `sync` holds it), refuses to replace a ledger newer than the backup unless
/// `force`, moves what is in place aside, and records the restore in the restored chain.
pub fn restore(dir: &Path, target: &Target, force: bool, now: DateTime<Utc>) -> Result<Restored> {
    let manifest = read(dir)?;
    if manifest.ledger.schema_version > CURRENT_VERSION {
        return Err(BackupError::TooNew {
            path: dir.to_owned(),
            version: manifest.hirebridge_version.clone(),
            found: manifest.ledger.schema_version,
            known: CURRENT_VERSION,
        });
    }
    let lock = ledger::lock_for_restore(&target.ledger)?;
    if target.ledger.exists() {
        refuse_newer(&target.ledger, &manifest, force)?;
    }
    let suffix = format!(".before-restore-{}", now.format("%Y%m%dT%H%M%SZ"));
    let previous_ledger = ledger::move_aside(&lock, &target.ledger, &suffix)?;
    let previous_key = restore_key(dir, &target.signing_key, &suffix)?;
    let config_installed = match &target.install_config {
        Some(path) => install_config(dir, path)?,
        None => None,
    };
    let note = restore_note(&manifest, previous_ledger.as_deref(), now);
    let restored = ledger::put_in_place(lock, &dir.join(LEDGER_FILE), &target.ledger, &note)?;
    let trusted = AuditKey::load(&target.signing_key)?
        .and_then(|k| TrustedKey::from_hex(&k.public_hex()))
        .map(|k| (k, "the restored signing key".to_owned()));
    let verified =
        audit::verify_ledger(&restored, &VerifyInput { trusted, log: None })?.map_err(|f| {
            BackupError::Unverified {
                path: target.ledger.clone(),
                why: f.to_string(),
            }
        })?;
    drop(restored);
    match_owner_of_directory(&[
        &target.ledger,
        &target.signing_key,
        &ledger::lock_path(&target.ledger),
    ]);
    Ok(Restored {
        manifest,
        previous_ledger,
        previous_key,
        config_installed,
        verified,
    })
}

/// A ledger in place is newer than the backup when it holds more events or has a pass that
/// started after the backup was taken: replacing it would lose that work.
fn refuse_newer(path: &Path, manifest: &Manifest, force: bool) -> Result<()> {
    let current = match ledger::facts(path) {
        Ok(facts) => facts,
        Err(_) if force => return Ok(()),
        Err(e) => {
            return Err(BackupError::Unreadable {
                ledger: path.to_owned(),
                cause: e.to_string(),
            });
        }
    };
    let backup = &manifest.ledger;
    let same = current.head == backup.head && current.events == backup.events;
    let newer = !same
        && (current.events > backup.events
            || current
                .last_pass_started_at
                .is_some_and(|t| t > manifest.created_at));
    if newer && !force {
        let describe = |f: &LedgerFacts| {
            format!(
                "{} hires, {} events, last pass {}",
                f.hires,
                f.events,
                f.last_pass_started_at.map_or("never".to_owned(), |t| t
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            )
        };
        return Err(BackupError::Newer {
            ledger: path.to_owned(),
            current: describe(&current),
            backup: describe(backup),
            taken: manifest
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
    }
    Ok(())
}

/// The backup's signing key goes where the config expects it, unless the same key is there;
/// a different key in place is moved aside first.
fn restore_key(dir: &Path, target: &Path, suffix: &str) -> Result<Option<PathBuf>> {
    let source = dir.join(KEY_FILE);
    let Ok(bytes) = std::fs::read(&source) else {
        return Ok(None);
    };
    let mut previous = None;
    match std::fs::read(target) {
        Ok(current) if current == bytes => return Ok(None),
        Ok(_) => {
            let mut aside = target.as_os_str().to_owned();
            aside.push(suffix);
            let aside = PathBuf::from(aside);
            std::fs::rename(target, &aside).map_err(io("move aside", target))?;
            previous = Some(aside);
        }
        Err(_) => {}
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io("create the directory", parent))?;
    }
    write_file(target, &bytes, 0o600)?;
    Ok(previous)
}

/// Installs the backup's config at `path` (0644: it holds no secrets, and the service's user
/// reads it), which the caller found missing.
fn install_config(dir: &Path, path: &Path) -> Result<Option<PathBuf>> {
    let Ok(bytes) = std::fs::read(dir.join(CONFIG_FILE)) else {
        return Ok(None);
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io("create the directory", parent))?;
    }
    write_file(path, &bytes, 0o644)?;
    Ok(Some(path.to_owned()))
}

/// The restore's event in the audit chain: which backup, and the gap it leaves.
fn restore_note(manifest: &Manifest, previous: Option<&Path>, now: DateTime<Utc>) -> String {
    format!(
        "ledger restored at {} from the backup taken {} by hirebridge {} (events 1..{}, head {}); \
         events the ledger held after that backup are not in this chain{}. Hires done meanwhile \
         are found in HiBob and Pinpoint by the next pass and recorded as adopted or found, \
         never created or commented again",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        manifest
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        manifest.hirebridge_version,
        manifest.ledger.events,
        manifest.ledger.head,
        match previous {
            Some(p) => format!(" (the ledger replaced was kept at {})", p.display()),
            None => " (no ledger was in place)".to_owned(),
        }
    )
}

/// Run as root for a service whose state directory belongs to its own user: the restored
/// files get the directory's owner, as the daemon's own files have. Best effort (systemd
/// also fixes a `DynamicUser=` state directory's ownership at start).
fn match_owner_of_directory(paths: &[&Path]) {
    for path in paths {
        let Some(dir) = path.parent() else { continue };
        let (Ok(dir_meta), Ok(meta)) = (std::fs::metadata(dir), std::fs::metadata(path)) else {
            continue;
        };
        if meta.uid() != dir_meta.uid() || meta.gid() != dir_meta.gid() {
            let _ = std::os::unix::fs::chown(path, Some(dir_meta.uid()), Some(dir_meta.gid()));
        }
    }
}

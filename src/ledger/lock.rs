//! One writer per ledger: an advisory lock on `<ledger>.lock`, holding the owner's pid so
//! that a refused second process can say who is in the way.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::LedgerError;

/// Held for as long as the process writes the ledger; the OS releases it on exit or crash,
/// so a `kill -9` never leaves a stale lock behind.
#[derive(Debug)]
pub struct LedgerLock {
    _file: File,
    pub path: PathBuf,
}

pub fn lock_path(ledger: &Path) -> PathBuf {
    let mut name = ledger.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

pub fn acquire(ledger: &Path) -> Result<LedgerLock, LedgerError> {
    let path = lock_path(ledger);
    // Not truncated on open: the current holder's pid must survive our failed attempt.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| LedgerError::Io {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            // The holder writes its pid just after taking the lock: a process refused in
            // that instant reads an empty file, so it looks again — up to 2 s, since on a busy
            // machine the holder may be descheduled between the two.
            let mut pid = None;
            for _ in 0..200 {
                let mut holder = String::new();
                let _ = file.seek(SeekFrom::Start(0));
                let _ = file.read_to_string(&mut holder);
                pid = holder.trim().parse().ok();
                if pid.is_some() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            return Err(LedgerError::Busy {
                path: ledger.to_owned(),
                pid,
            });
        }
        Err(TryLockError::Error(source)) => {
            return Err(LedgerError::Io { path, source });
        }
    }
    let write_pid = |file: &mut File| -> std::io::Result<()> {
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{}", std::process::id())?;
        file.sync_all()
    };
    write_pid(&mut file).map_err(|source| LedgerError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(LedgerLock { _file: file, path })
}

//! The checkpoint signing key: a hex Ed25519 seed in a file only its owner may read, made on
//! first use (never overwritten), and the public key an auditor trusts.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};

use super::AuditError;
use crate::ledger::Checkpoint;

/// The private signing key. Its `Debug` shows only the public half.
pub struct AuditKey {
    signing: SigningKey,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("public", &self.public_hex())
            .finish_non_exhaustive()
    }
}

impl AuditKey {
    /// Reads the key at `path`; `None` when there is no file.
    pub fn load(path: &Path) -> Result<Option<Self>, AuditError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(cause) => {
                return Err(AuditError::KeyUnreadable {
                    path: path.to_owned(),
                    cause,
                });
            }
        };
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        if mode & 0o077 != 0 {
            return Err(AuditError::KeyExposed {
                path: path.to_owned(),
                mode: mode & 0o777,
            });
        }
        let invalid = |why: &str| AuditError::KeyInvalid {
            path: path.to_owned(),
            why: why.to_owned(),
        };
        let bytes = hex::decode(text.trim()).map_err(|_| invalid("not hex"))?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| invalid("not 32 bytes long"))?;
        Ok(Some(Self {
            signing: SigningKey::from_bytes(&seed),
        }))
    }

    /// Reads the key at `path`, making a new one there (mode 0600) when there is none. The
    /// new key is written whole to a temporary file, synced, then linked into place — so a
    /// crash never leaves a half-written key, and an existing file is never replaced (a
    /// process that made one meanwhile wins, and its key is used).
    pub fn load_or_create(path: &Path) -> Result<Self, AuditError> {
        if let Some(key) = Self::load(path)? {
            return Ok(key);
        }
        let fail = |cause| AuditError::KeyCreate {
            path: path.to_owned(),
            cause,
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let seed: [u8; 32] = rand::random();
        let temp = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temp)
            .map_err(fail)?;
        let written = file
            .write_all(format!("{}\n", hex::encode(seed)).as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::hard_link(&temp, path));
        let _ = std::fs::remove_file(&temp);
        match written {
            Ok(()) => {
                if let Ok(dir) = std::fs::File::open(dir) {
                    let _ = dir.sync_all();
                }
                tracing::info!(path = %path.display(), "audit signing key created");
                Ok(Self {
                    signing: SigningKey::from_bytes(&seed),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load(path)?.ok_or_else(|| AuditError::NoKey(path.to_owned()))
            }
            Err(cause) => Err(fail(cause)),
        }
    }

    /// The signature that makes an erasure event the key holder's.
    pub fn sign_erasure(&self, hash: &str) -> Vec<u8> {
        self.signing
            .sign(&crate::ledger::erasure_message(hash))
            .to_bytes()
            .to_vec()
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().as_bytes())
    }

    /// A signed checkpoint of a chain holding `events` events whose last hashed to `head`.
    pub fn sign(&self, events: u64, head: &str, at_ms: i64) -> Checkpoint {
        let signature = self
            .signing
            .sign(&Checkpoint::signed_message(events, head, at_ms));
        Checkpoint {
            events,
            head: head.to_owned(),
            at_ms,
            public_key: self.public_hex(),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

/// A public key an auditor trusts: checkpoints count only when it signed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey(VerifyingKey);

impl TrustedKey {
    /// 64 hex digits, or a file holding them (as `hirebridge audit key` prints).
    pub fn parse(text_or_path: &str) -> Result<Self, AuditError> {
        let text = match std::fs::read_to_string(text_or_path) {
            Ok(contents) => contents,
            Err(_) => text_or_path.to_owned(),
        };
        Self::from_hex(text.trim()).ok_or_else(|| AuditError::PublicKey(text_or_path.to_owned()))
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes: [u8; 32] = hex::decode(text.trim()).ok()?.try_into().ok()?;
        VerifyingKey::from_bytes(&bytes).ok().map(Self)
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// Whether this key signed this erasure event.
    pub fn signed_erasure(&self, erasure: &crate::ledger::SignedErasure) -> bool {
        let Some(bytes) = erasure
            .signature
            .as_deref()
            .and_then(|s| hex::decode(s).ok())
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        self.0
            .verify(
                &crate::ledger::erasure_message(&erasure.hash),
                &ed25519_dalek::Signature::from_bytes(&bytes),
            )
            .is_ok()
    }

    /// Whether this key signed `checkpoint` (its recorded public key must be this one too).
    pub fn signed(&self, checkpoint: &Checkpoint) -> bool {
        if !checkpoint.public_key.eq_ignore_ascii_case(&self.hex()) {
            return false;
        }
        let Some(bytes) = hex::decode(&checkpoint.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        self.0
            .verify(
                &Checkpoint::signed_message(checkpoint.events, &checkpoint.head, checkpoint.at_ms),
                &signature,
            )
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_private_and_signs_what_its_public_half_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite3.audit-key");
        let key = AuditKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = AuditKey::load_or_create(&path).unwrap();
        assert_eq!(key.public_hex(), again.public_hex(), "never replaced");
        let checkpoint = key.sign(3, &"a".repeat(64), 1_700_000_000_000);
        let trusted = TrustedKey::from_hex(&key.public_hex()).unwrap();
        assert!(trusted.signed(&checkpoint));
        for forged in [
            Checkpoint {
                events: 2,
                ..checkpoint.clone()
            },
            Checkpoint {
                head: "b".repeat(64),
                ..checkpoint.clone()
            },
            Checkpoint {
                at_ms: 1,
                ..checkpoint.clone()
            },
        ] {
            assert!(!trusted.signed(&forged), "{forged:?}");
        }
        let other = AuditKey::load_or_create(&dir.path().join("other")).unwrap();
        let resigned = other.sign(3, &"a".repeat(64), 1_700_000_000_000);
        assert!(
            !trusted.signed(&resigned),
            "another key's signature does not count"
        );
        assert!(
            !format!("{key:?}")
                .contains(&std::fs::read_to_string(&path).unwrap().trim().to_owned())
        );
    }

    #[test]
    fn a_key_others_can_read_or_that_is_not_a_key_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        AuditKey::load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = AuditKey::load(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::write(&path, "not a key").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = AuditKey::load(&path).unwrap_err().to_string();
        assert!(err.contains("not hex"), "{err}");
        assert!(TrustedKey::parse("xyz").is_err());
    }
}

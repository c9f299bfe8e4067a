//! The event chain's arithmetic: what of an event is hashed, and how. Pure; no SQL.
//!
//! Every event's hash covers its content and the hash of the event before it, so editing,
//! deleting or reordering a past event changes every hash after it. Personal data is kept out
//! of the hashed content: an event's free-text detail is hashed as a salted digest (the salt is
//! stored beside the detail, in a row that erasure drops), so the chain still verifies after a
//! person's details are erased, and the digest alone cannot be tested against guessed emails.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Bytes of random salt per event detail.
pub const SALT_BYTES: usize = 16;

/// What of one event the chain covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainedContent<'a> {
    pub id: i64,
    pub application_id: &'a str,
    /// Milliseconds since the epoch, as stored.
    pub at_ms: i64,
    pub pass_id: Option<i64>,
    pub step: &'a str,
    pub outcome: &'a str,
    /// [`detail_digest`] of the event's detail.
    pub detail_digest: &'a str,
}

/// The hash of an event whose predecessor's hash is `prev`: SHA-256 over a versioned prefix
/// and a JSON array of the fields (JSON's escaping keeps field boundaries unambiguous).
pub fn event_hash(prev: &str, e: &ChainedContent<'_>) -> String {
    let canonical = serde_json::json!([
        prev,
        e.id,
        e.application_id,
        e.at_ms,
        e.pass_id,
        e.step,
        e.outcome,
        e.detail_digest
    ]);
    let mut hasher = Sha256::new();
    hasher.update(b"hirebridge-event-v1\n");
    hasher.update(canonical.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// The salted digest of an event's detail: what the chain keeps of it.
pub fn detail_digest(salt: &[u8], detail: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(detail.as_bytes());
    hex::encode(hasher.finalize())
}

/// What the audit key signs for an erasure event: its hash. The event is then provably the
/// key holder's, so a well-chained erasure appended by someone else accounts for nothing.
pub fn erasure_message(hash: &str) -> Vec<u8> {
    format!("hirebridge-erasure-v1\n{hash}\n").into_bytes()
}

/// A fresh salt for one detail.
pub fn new_salt() -> [u8; SALT_BYTES] {
    rand::random()
}

/// A signed statement of the chain's head: "the ledger held `events` events, the last of
/// which hashed to `head`, at `at_ms`". Published outside the ledger (a checkpoint log), it
/// makes a rewritten ledger detectable even by someone who could rewrite every hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub events: u64,
    pub head: String,
    pub at_ms: i64,
    /// Hex Ed25519 public key of the signer.
    pub public_key: String,
    /// Hex Ed25519 signature over [`Checkpoint::signed_message`].
    pub signature: String,
}

impl Checkpoint {
    /// The bytes a checkpoint's signature covers.
    pub fn signed_message(events: u64, head: &str, at_ms: i64) -> Vec<u8> {
        format!("hirebridge-checkpoint-v1\nevents {events}\nhead {head}\nat {at_ms}\n").into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(detail_digest: &str) -> ChainedContent<'_> {
        ChainedContent {
            id: 1,
            application_id: "8863880",
            at_ms: 1_700_000_000_000,
            pass_id: Some(3),
            step: "employee",
            outcome: "created",
            detail_digest,
        }
    }

    #[test]
    fn every_covered_field_and_the_predecessor_change_the_hash() {
        let d = detail_digest(b"salt", "created 42");
        let base = event_hash(GENESIS, &content(&d));
        let variants = [
            ChainedContent {
                id: 2,
                ..content(&d)
            },
            ChainedContent {
                application_id: "8863881",
                ..content(&d)
            },
            ChainedContent {
                at_ms: 1_700_000_000_001,
                ..content(&d)
            },
            ChainedContent {
                pass_id: None,
                ..content(&d)
            },
            ChainedContent {
                step: "cv",
                ..content(&d)
            },
            ChainedContent {
                outcome: "adopted",
                ..content(&d)
            },
        ];
        for v in variants {
            assert_ne!(event_hash(GENESIS, &v), base, "{v:?}");
        }
        assert_ne!(event_hash(&base, &content(&d)), base);
        let other = detail_digest(b"salt", "created 43");
        assert_ne!(event_hash(GENESIS, &content(&other)), base);
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let d = detail_digest(b"", "");
        let a = ChainedContent {
            step: "cv\",\"x",
            outcome: "y",
            ..content(&d)
        };
        let b = ChainedContent {
            step: "cv",
            outcome: "x\",\"y",
            ..content(&d)
        };
        assert_ne!(event_hash(GENESIS, &a), event_hash(GENESIS, &b));
    }

    #[test]
    fn the_salt_hides_the_detail() {
        let detail = "hired in Pinpoint: Jane Doe <jane@example.com>";
        assert_ne!(
            detail_digest(&new_salt(), detail),
            detail_digest(&new_salt(), detail)
        );
        assert_eq!(detail_digest(b"s", detail), detail_digest(b"s", detail));
        assert_eq!(GENESIS.len(), 64);
    }
}

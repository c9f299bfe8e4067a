//! What a notification says, before any channel renders it: its kind, a fixed sentence, the
//! hires it is about (the first [`LISTED`], with a count of the rest), each with the reason in
//! a sentence, what to do, and where to look. Stored as JSON in the ledger's outbox and sent as
//! is by the `json` webhook format, so its field names are a documented interface.
//!
//! Holds untrusted text (names, emails, reasons quoting an API) exactly as it came: each
//! channel makes it safe for its own output. Never holds a secret: nothing here is read from
//! the configuration's credentials.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// At most this many hires are listed in one message; the rest are counted.
pub const LISTED: usize = 20;

/// Why a message is sent (the names of `[notify] on`, and `test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Hires that entered `needs_attention` since the last message.
    NeedsAttention,
    /// Writes stopped (a refused credential, a broken API assumption).
    WritesStopped,
    /// Writes resumed after they had stopped (sent when `writes_stopped` is on).
    WritesResumed,
    /// Hires waiting for HR longer than `[hibob] hr_reminder_after`.
    WaitingForHrOverdue,
    /// Yesterday's counts and what still waits for a person.
    DailyDigest,
    /// `hirebridge notify test`.
    Test,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::NeedsAttention => "needs_attention",
            NoticeKind::WritesStopped => "writes_stopped",
            NoticeKind::WritesResumed => "writes_resumed",
            NoticeKind::WaitingForHrOverdue => "waiting_for_hr_overdue",
            NoticeKind::DailyDigest => "daily_digest",
            NoticeKind::Test => "test",
        }
    }

    /// A kind `[notify] on` names (`writes_resumed` goes with `writes_stopped`, `test` with
    /// the command).
    pub fn parse_subscription(s: &str) -> Option<Self> {
        [
            NoticeKind::NeedsAttention,
            NoticeKind::WritesStopped,
            NoticeKind::WaitingForHrOverdue,
            NoticeKind::DailyDigest,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One hire in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeHire {
    pub application_id: String,
    /// The candidate's name as Pinpoint has it (untrusted).
    pub name: String,
    /// The candidate's email (untrusted).
    pub email: String,
    /// Why it needs a person, in a sentence.
    pub reason: String,
    /// What to do about it, in a sentence.
    pub what_to_do: String,
    /// The application in Pinpoint (`[report] pinpoint_application_url`).
    pub pinpoint_url: String,
    /// The employee in HiBob (`[report] hibob_employee_url`), once there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hibob_url: Option<String>,
}

/// Yesterday's counts, for the daily digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestCounts {
    /// The day counted (the host's local date), `YYYY-MM-DD`.
    pub day: String,
    pub done: u64,
    pub waiting_for_hr: u64,
    pub parked: u64,
    pub skipped: u64,
}

/// One message, as every channel renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: NoticeKind,
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// A fixed sentence per kind, with counts: the subject line and the chat message's first
    /// line. Holds no untrusted text.
    pub title: String,
    /// The hires it is about, at most [`LISTED`].
    pub hires: Vec<NoticeHire>,
    /// Hires it is about beyond those listed.
    pub more: usize,
    /// For writes stopped: why, and what to do.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// For the daily digest.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub digest: Option<DigestCounts>,
}

impl Notice {
    /// A message about `hires` (all of them: the first [`LISTED`] are kept, the rest counted).
    pub fn about(
        kind: NoticeKind,
        at: DateTime<Utc>,
        title: String,
        hires: Vec<NoticeHire>,
    ) -> Self {
        let more = hires.len().saturating_sub(LISTED);
        let mut hires = hires;
        hires.truncate(LISTED);
        Notice {
            kind,
            at,
            title,
            hires,
            more,
            detail: None,
            digest: None,
        }
    }
}

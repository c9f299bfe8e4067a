//! A hire as hirebridge tracks it: where it stands ([`HireStatus`]), the state of each of its
//! steps, and its row ([`LedgerEntry`]); the go-live cutoff that leaves old hires out
//! ([`cutoff`]); what a pass did ([`pass`]) and what the next one would do ([`preview`]).
//!
//! The vocabulary every other module shares — the ledger stores it, the planner decides from
//! it, `report`, `status` and the monitor show it — so it sits below all of them and depends
//! on none of them: no SQL, no HTTP, no I/O (a pass's request counts are plain numbers).

pub mod application;
pub mod cutoff;
pub mod observe;
pub mod pass;
pub mod preview;

use chrono::{DateTime, Utc};

pub use cutoff::Cutoff;
pub use observe::ObservedHire;
pub use pass::{
    HireOutcome, ListingRead, NudgeOutcome, PassOutcome, PassReport, PassSummary, Provenance, Stop,
};

/// An id from one of the remote systems, typed so that one kind is never passed where
/// another is expected. Built from whatever the system sent (a JSON string, a number written
/// out, a SQL row); [`ApplicationId::parse`] checks one a person typed.
macro_rules! remote_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

remote_id! {
    /// A Pinpoint application's id: the key of a hire everywhere (the ledger's rows, the
    /// claims a task holds, the facts of a pass), so it is never mistaken for an employee's,
    /// a document's or a comment's id.
    ApplicationId
}

remote_id! {
    /// A HiBob employee's id.
    EmployeeId
}

remote_id! {
    /// A Pinpoint stage's id.
    StageId
}

remote_id! {
    /// A Pinpoint comment's id.
    CommentId
}

/// Why text a person typed is not an application id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Pinpoint application id; give the id as `hirebridge report` shows it")]
pub struct NotAnApplicationId(pub String);

/// Why text a person typed is not an employee id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a HiBob employee id; copy it from the employee's page in HiBob (the number in its address)"
)]
pub struct NotAnEmployeeId(pub String);

/// An id a person typed: trimmed, without spaces or control characters, at most 64
/// characters.
fn typed_id(text: &str) -> Option<String> {
    let id = text.trim();
    let plain = !id.is_empty()
        && id.chars().count() <= 64
        && !id.chars().any(|c| c.is_whitespace() || c.is_control());
    plain.then(|| id.to_owned())
}

impl ApplicationId {
    /// An application id a person typed (a command's argument).
    pub fn parse(text: &str) -> Result<Self, NotAnApplicationId> {
        typed_id(text)
            .map(ApplicationId)
            .ok_or_else(|| NotAnApplicationId(text.to_owned()))
    }
}

impl EmployeeId {
    /// An employee id a person typed (`hirebridge link`).
    pub fn parse(text: &str) -> Result<Self, NotAnEmployeeId> {
        typed_id(text)
            .map(EmployeeId)
            .ok_or_else(|| NotAnEmployeeId(text.to_owned()))
    }
}

/// Where a hire stands, as `report` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HireStatus {
    /// Work remains and nothing has failed (or it is waiting out HiBob's read lag).
    Pending,
    Done,
    /// The last attempt failed transiently; retried at `next_attempt_at`.
    Failed,
    /// Parked: a person must act (invalid data, refused credentials).
    NeedsAttention,
    /// Hired before the go-live cutoff (`sync.hired_since`): nothing is written for it unless
    /// the cutoff moves earlier or an operator runs `retry`. Settled.
    Skipped,
    /// Left the Hired stage before it was done: nothing more is written for it (an employee
    /// already made is reported, never deleted). Settled.
    Withdrawn,
    /// Sent to HiBob's ATS Pending hires (`[hibob] hire_flow = "pending"`): HR completes
    /// HiBob's New hire flow, which creates the employee; each pass looks for it. Settled
    /// for exit codes (HR has it), listed by `status` once older than `hr_reminder_after`.
    WaitingForHr,
}

impl HireStatus {
    pub const ALL: [HireStatus; 7] = [
        HireStatus::Pending,
        HireStatus::Done,
        HireStatus::Failed,
        HireStatus::NeedsAttention,
        HireStatus::Skipped,
        HireStatus::Withdrawn,
        HireStatus::WaitingForHr,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HireStatus::Pending => "pending",
            HireStatus::Done => "done",
            HireStatus::Failed => "failed",
            HireStatus::NeedsAttention => "needs_attention",
            HireStatus::Skipped => "skipped",
            HireStatus::Withdrawn => "withdrawn",
            HireStatus::WaitingForHr => "waiting_for_hr",
        }
    }

    /// Nobody needs to act on it by the exit codes: `done`, `skipped`, `withdrawn`, and
    /// `waiting_for_hr` (HR has it in HiBob's Pending hires). Settled hires never make `sync`
    /// or `status` exit non-zero.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            HireStatus::Done
                | HireStatus::Skipped
                | HireStatus::Withdrawn
                | HireStatus::WaitingForHr
        )
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A step with a remote side effect. `InFlight` means an intent was recorded and the
/// outcome is not known: the remote side must be checked before trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Pending,
    InFlight,
    Done,
    /// Sent to HiBob's Pending hires: HR makes the employee; never sent again by itself.
    WithHr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvState {
    Pending,
    InFlight,
    Uploaded,
    /// The application has no CV attachment; nothing to upload.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmployeeOrigin {
    Created,
    Adopted,
    /// Made by HR's New hire flow in HiBob from a hire sent to its Pending hires (or linked
    /// by a person with `hirebridge link`): HR's, never updated by hirebridge.
    HrFlow,
}

impl EmployeeOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            EmployeeOrigin::Created => "created",
            EmployeeOrigin::Adopted => "adopted",
            EmployeeOrigin::HrFlow => "hr_flow",
        }
    }
}

/// How a proven hire becomes a HiBob employee (`[hibob] hire_flow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HireFlow {
    /// hirebridge creates the employee (`POST /people`).
    #[default]
    Direct,
    /// hirebridge sends the hire to HiBob's ATS Pending hires (the Hire API) once; HR's New
    /// hire flow creates the employee, which hirebridge then finds and finishes.
    Pending,
}

impl HireFlow {
    pub fn as_str(self) -> &'static str {
        match self {
            HireFlow::Direct => "direct",
            HireFlow::Pending => "pending",
        }
    }
}

/// Whether HiBob's Hire API took a hire sent to its Pending hires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HrDelivery {
    /// Recorded before the post, and kept when its outcome is unknown (a timeout, a crash in
    /// flight, a 5xx after sending): Bob offers no read of its pending hires, so it is never
    /// sent again unless a person runs `retry --resend`.
    Unconfirmed,
    /// Bob answered the post with success.
    Delivered,
}

impl HrDelivery {
    pub fn as_str(self) -> &'static str {
        match self {
            HrDelivery::Unconfirmed => "unconfirmed",
            HrDelivery::Delivered => "delivered",
        }
    }
}

/// The three steps of a hire, as named in the ledger and its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Employee,
    Cv,
    Comment,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Employee => "employee",
            StepKind::Cv => "cv",
            StepKind::Comment => "comment",
        }
    }
}

/// Why a hire was parked: decides what releases it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParkKind {
    /// The data was refused; fix it at the source, then `retry`.
    Invalid,
    /// Pinpoint's record cannot be used (no email, …); released by itself once it can.
    Unusable,
    /// A credential or permission was refused; fix it, then `retry`.
    Unauthorized,
    /// The remote record vanished.
    NotFound,
}

impl ParkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ParkKind::Invalid => "invalid",
            ParkKind::Unusable => "unusable",
            ParkKind::Unauthorized => "unauthorized",
            ParkKind::NotFound => "not_found",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ParkKind::Invalid,
            ParkKind::Unusable,
            ParkKind::Unauthorized,
            ParkKind::NotFound,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// The employee step, with what each state knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmployeeStep {
    Pending,
    /// A create was sent at `since` and its outcome is unknown: HiBob is searched before
    /// anything is created again.
    InFlight {
        since: DateTime<Utc>,
    },
    Done {
        id: EmployeeId,
        origin: EmployeeOrigin,
        at: DateTime<Utc>,
    },
    /// Sent to HiBob's Pending hires at `since` (the intent's time): HR's New hire flow makes
    /// the employee, which each pass looks for.
    WithHr {
        since: DateTime<Utc>,
        delivery: HrDelivery,
    },
}

impl EmployeeStep {
    pub fn state(&self) -> StepState {
        match self {
            EmployeeStep::Pending => StepState::Pending,
            EmployeeStep::InFlight { .. } => StepState::InFlight,
            EmployeeStep::Done { .. } => StepState::Done,
            EmployeeStep::WithHr { .. } => StepState::WithHr,
        }
    }
}

/// The CV step, with what each state knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CvStep {
    Pending,
    /// An upload was sent at `since` and its outcome is unknown: the employee's documents
    /// are read before uploading again.
    InFlight {
        since: DateTime<Utc>,
    },
    /// In HiBob under `name` (uploaded, or found there); the document's id when HiBob gave one.
    Uploaded {
        document_id: Option<String>,
        name: String,
        at: DateTime<Utc>,
    },
    /// The application has no CV attachment; nothing to upload.
    None {
        at: DateTime<Utc>,
    },
}

impl CvStep {
    pub fn state(&self) -> CvState {
        match self {
            CvStep::Pending => CvState::Pending,
            CvStep::InFlight { .. } => CvState::InFlight,
            CvStep::Uploaded { .. } => CvState::Uploaded,
            CvStep::None { .. } => CvState::None,
        }
    }
}

/// The comment step, with what each state knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentStep {
    Pending,
    /// A comment was sent at `since` and its outcome is unknown: the application's comments
    /// are read before posting again.
    InFlight {
        since: DateTime<Utc>,
    },
    Done {
        id: CommentId,
        at: DateTime<Utc>,
    },
}

impl CommentStep {
    pub fn state(&self) -> StepState {
        match self {
            CommentStep::Pending => StepState::Pending,
            CommentStep::InFlight { .. } => StepState::InFlight,
            CommentStep::Done { .. } => StepState::Done,
        }
    }
}

/// One hire's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub application_id: ApplicationId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub job_title: Option<String>,
    pub status: HireStatus,
    /// The HiBob employee: each state carries what it needs, so "done without an id" cannot
    /// be built.
    pub employee: EmployeeStep,
    pub cv: CvStep,
    pub comment: CommentStep,
    pub attempts: u32,
    /// Consecutive failed attempts; drives the backoff and resets on success.
    pub failures: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    /// When Pinpoint says it was hired (`hired_at`), as last listed.
    pub hired_at: Option<DateTime<Utc>>,
    /// A done hire found out of the Hired stage: HR may act in HiBob; hirebridge never deletes.
    pub unhired_at: Option<DateTime<Utc>>,
    /// Where a created employee's start date came from: `pinpoint`, or `offset` (Pinpoint had
    /// none; HR must confirm it). `None` without a create.
    pub start_date_source: Option<String>,
    /// When this hire's personal data (name, email, free text) was erased from the ledger.
    pub erased_at: Option<DateTime<Utc>>,
}

impl LedgerEntry {
    /// The row the ledger inserts for a hire seen for the first time.
    pub fn new_pending(
        application_id: &str,
        email: &str,
        first_name: &str,
        last_name: &str,
        job_title: Option<&str>,
        now: DateTime<Utc>,
    ) -> Self {
        LedgerEntry {
            application_id: application_id.into(),
            email: email.to_owned(),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            job_title: job_title.map(str::to_owned),
            status: HireStatus::Pending,
            employee: EmployeeStep::Pending,
            cv: CvStep::Pending,
            comment: CommentStep::Pending,
            attempts: 0,
            failures: 0,
            last_error: None,
            next_attempt_at: None,
            first_seen_at: now,
            last_seen_at: now,
            updated_at: now,
            done_at: None,
            hired_at: None,
            unhired_at: None,
            start_date_source: None,
            erased_at: None,
        }
    }

    /// The HiBob employee's id, once the employee step is done.
    pub fn hibob_employee_id(&self) -> Option<&str> {
        self.employee_id().map(EmployeeId::as_str)
    }

    /// The HiBob employee, once the employee step is done.
    pub fn employee_id(&self) -> Option<&EmployeeId> {
        match &self.employee {
            EmployeeStep::Done { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Whether hirebridge created the employee or adopted one HiBob had, once done.
    pub fn employee_origin(&self) -> Option<EmployeeOrigin> {
        match &self.employee {
            EmployeeStep::Done { origin, .. } => Some(*origin),
            _ => None,
        }
    }

    /// The CV's document id in HiBob, when uploaded and HiBob gave one.
    pub fn cv_document_id(&self) -> Option<&str> {
        match &self.cv {
            CvStep::Uploaded { document_id, .. } => document_id.as_deref(),
            _ => None,
        }
    }

    /// The CV's name in HiBob, when uploaded.
    pub fn cv_document_name(&self) -> Option<&str> {
        match &self.cv {
            CvStep::Uploaded { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The comment's id in Pinpoint, once posted (or found).
    pub fn comment_id(&self) -> Option<&str> {
        match &self.comment {
            CommentStep::Done { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Whether the pass should work on this hire now.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        match self.status {
            HireStatus::Done
            | HireStatus::NeedsAttention
            | HireStatus::Skipped
            | HireStatus::Withdrawn => false,
            // Looked for each pass: HR may have made the employee since.
            HireStatus::Pending | HireStatus::Failed | HireStatus::WaitingForHr => {
                self.next_attempt_at.is_none_or(|at| at <= now)
            }
        }
    }

    /// When it was sent to HiBob's Pending hires, and whether Bob took it.
    pub fn with_hr(&self) -> Option<(DateTime<Utc>, HrDelivery)> {
        match self.employee {
            EmployeeStep::WithHr { since, delivery } => Some((since, delivery)),
            _ => None,
        }
    }
}

/// What an event in a hire's history is about: the hire, one of its steps, its mapped
/// fields, or their drift. Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSubject {
    Hire,
    Employee,
    Cv,
    Comment,
    Fields,
    Drift,
    /// A person's personal data (erasure, retention).
    PersonalData,
    /// A notification about the hire (`[notify]`).
    Notification,
}

impl EventSubject {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSubject::Hire => "hire",
            EventSubject::Employee => "employee",
            EventSubject::Cv => "cv",
            EventSubject::Comment => "comment",
            EventSubject::Fields => "fields",
            EventSubject::Drift => "drift",
            EventSubject::PersonalData => "personal_data",
            EventSubject::Notification => "notification",
        }
    }
}

impl From<StepKind> for EventSubject {
    fn from(step: StepKind) -> Self {
        match step {
            StepKind::Employee => EventSubject::Employee,
            StepKind::Cv => EventSubject::Cv,
            StepKind::Comment => EventSubject::Comment,
        }
    }
}

/// What happened, in an event of a hire's history. Stored as its snake_case name, which
/// `history` and the report show and auditors read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// First seen in the hired-stage listing.
    Detected,
    /// Hired before the go-live cutoff: nothing written.
    Skipped,
    /// A skipped hire the cutoff now includes (a backfill).
    Included,
    /// A withdrawn hire listed in a Hired stage again.
    Relisted,
    /// A record parked as unusable that is usable now.
    Released,
    /// A done hire that had left the Hired stage, listed again.
    Rehired,
    /// An operator asked to retry.
    Retry,
    /// A remote write is about to be sent (recorded before the call).
    Intent,
    Created,
    Adopted,
    Uploaded,
    Posted,
    /// What an earlier write (or a person) made was found remotely and recorded.
    Found,
    /// The application has no CV attachment.
    None,
    /// HiBob says the email exists (a create answered "duplicate").
    Exists,
    Done,
    Failed,
    /// Waiting out HiBob's read lag.
    Deferred,
    Parked,
    Withdrawn,
    Unhired,
    /// Mapped values recorded (a baseline for drift).
    Recorded,
    Resolved,
    Updated,
    /// Changed in HiBob by a person since hirebridge wrote it.
    Edited,
    /// Personal data removed from the ledger (ids and outcomes stay).
    Erased,
    /// Sent to HiBob's Pending hires (the Hire API answered with success).
    SentToHr,
    /// A post to HiBob's Hire API whose outcome is unknown: not sent again by itself.
    Unconfirmed,
    /// A person linked the hire to an employee (`hirebridge link`).
    Linked,
    /// A notification about the hire was put in the outbox.
    Queued,
    /// A notification about the hire was sent.
    Sent,
    /// A notification about the hire was given up after a day of failures.
    Dropped,
    /// Values HR approved and submitted in Pinpoint's plugin form (they replace the mapping's
    /// in the hire's create).
    Submitted,
}

impl EventOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Detected => "detected",
            EventOutcome::Skipped => "skipped",
            EventOutcome::Included => "included",
            EventOutcome::Relisted => "relisted",
            EventOutcome::Released => "released",
            EventOutcome::Rehired => "rehired",
            EventOutcome::Retry => "retry",
            EventOutcome::Intent => "intent",
            EventOutcome::Created => "created",
            EventOutcome::Adopted => "adopted",
            EventOutcome::Uploaded => "uploaded",
            EventOutcome::Posted => "posted",
            EventOutcome::Found => "found",
            EventOutcome::None => "none",
            EventOutcome::Exists => "exists",
            EventOutcome::Done => "done",
            EventOutcome::Failed => "failed",
            EventOutcome::Deferred => "deferred",
            EventOutcome::Parked => "parked",
            EventOutcome::Withdrawn => "withdrawn",
            EventOutcome::Unhired => "unhired",
            EventOutcome::Recorded => "recorded",
            EventOutcome::Resolved => "resolved",
            EventOutcome::SentToHr => "sent_to_hr",
            EventOutcome::Unconfirmed => "unconfirmed",
            EventOutcome::Linked => "linked",
            EventOutcome::Queued => "queued",
            EventOutcome::Sent => "sent",
            EventOutcome::Dropped => "dropped",
            EventOutcome::Updated => "updated",
            EventOutcome::Edited => "edited",
            EventOutcome::Erased => "erased",
            EventOutcome::Submitted => "submitted",
        }
    }
}

/// Identifies a pass in the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassId(pub i64);

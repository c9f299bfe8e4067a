//! What `hirebridge plan` says the next pass would do: for each hire, its actions in order
//! and why. Built by the dry run ([`crate::reconcile::dry_run`]), rendered by
//! [`crate::report::plan`]; the JSON form is what scripts read.

use serde::Serialize;

/// What the next pass would do for one hire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedHire {
    pub application_id: String,
    pub email: String,
    pub name: String,
    /// Ledger status now (`new` for a hire the ledger has not seen).
    pub status: String,
    /// Hired before the go-live cutoff (`sync.hired_since`): nothing would be written.
    pub before_cutoff: bool,
    pub actions: Vec<PlannedAction>,
}

/// What a planned action is; serialized in snake_case (`upload_cv`, …), as `plan` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Create,
    Adopt,
    UploadCv,
    RecordNoCv,
    Comment,
    MarkDone,
    Wait,
    Park,
    Skip,
    /// Send the hire to HiBob's ATS Pending hires (the Hire API).
    SendToHr,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Adopt => "adopt",
            ActionKind::UploadCv => "upload_cv",
            ActionKind::RecordNoCv => "record_no_cv",
            ActionKind::Comment => "comment",
            ActionKind::MarkDone => "mark_done",
            ActionKind::Wait => "wait",
            ActionKind::Park => "park",
            ActionKind::Skip => "skip",
            ActionKind::SendToHr => "send_to_hr",
        }
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One action, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedAction {
    pub kind: ActionKind,
    pub detail: String,
}

impl PlannedAction {
    pub fn new(kind: ActionKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// Whether the action would change something remotely.
    pub fn is_remote_write(&self) -> bool {
        matches!(
            self.kind,
            ActionKind::Create | ActionKind::UploadCv | ActionKind::Comment
        )
    }
}

/// The whole preview.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DryRun {
    /// Hired applications in the listing (usable or not).
    pub listed: usize,
    pub hires: Vec<PlannedHire>,
    /// Why the preview is incomplete: the API contract failed (a pass would write nothing),
    /// or the listing or the search failed.
    pub incomplete: Option<String>,
}

impl DryRun {
    pub fn count(&self, kind: ActionKind) -> usize {
        self.hires
            .iter()
            .flat_map(|h| &h.actions)
            .filter(|a| a.kind == kind)
            .count()
    }
}

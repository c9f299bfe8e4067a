//! A hired application as hirebridge works it: who was hired, for which job, with which CV.
//! The Pinpoint client translates its JSON:API documents into these; nothing here knows HTTP.

use serde_json::Value;

use super::ApplicationId;

/// A CV attachment on an application. The URL may be pre-signed and expire: use it in the
/// pass that read it, never store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub context: String,
    pub filename: String,
    pub url: String,
}

/// An application in a hired stage, with what hirebridge needs to create the employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiredApplication {
    pub id: ApplicationId,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub job_title: Option<String>,
    /// The `pdf_cv` attachment, else the `cv` one, else none.
    pub cv: Option<Attachment>,
    pub updated_at: Option<String>,
    /// The stage it is in (`stage_id`); the application never says which group that stage
    /// belongs to.
    pub stage_id: Option<super::StageId>,
    /// When it was hired (`hired_at`): kept when it is moved out of Hired again, so it says
    /// when, never whether it is hired now.
    pub hired_at: Option<String>,
    /// Set when it was rejected: an application carrying it is not a hire, whatever listed it.
    pub rejected_at: Option<String>,
    /// When the application was made (`created_at`).
    pub created_at: Option<String>,
    /// What the field mapping's templates see: `application` (its attributes and id, without
    /// the attachments' expiring URLs), `job` (attributes plus `department` and `location`
    /// names), `offer` (the accepted one) and `custom` (custom attributes by key).
    pub source: Value,
}

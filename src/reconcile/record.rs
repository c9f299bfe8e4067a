//! The ledger writes of a hire's steps, with the words of their events: one place, used by
//! the executor ([`super::apply`]) and by anything that records a hire as worked (the
//! benchmark's seeded tenant), so the audit trail reads the same whoever wrote it.
//!
//! Owns no I/O beyond the ledger calls and decides nothing: the order of intent, effect and
//! outcome is the executor's, what a failure means is the policy's ([`super::policy`]).

use crate::hire::{CommentId, EmployeeId};
use chrono::{DateTime, Utc};

use super::Settings;
use super::plan::{self, Employee};
use crate::hibob::NewEmployee;
use crate::hire::{
    ApplicationId, EmployeeOrigin, EventOutcome, LedgerEntry, ParkKind, PassId, StepKind,
};
use crate::ledger::{Ledger, LedgerError};
use crate::mapping::Values;
use crate::pinpoint::{Attachment, HiredApplication};

/// Before a create: who, with which values, and whether HR must confirm the start date.
/// `start_date_approved`: HR entered or confirmed the start date in Pinpoint's plugin form.
#[allow(clippy::too_many_arguments)]
pub fn create_intent(
    ledger: &mut Ledger,
    id: &ApplicationId,
    pass: PassId,
    now: DateTime<Utc>,
    mapping_fingerprint: &str,
    new: &NewEmployee,
    rendered: &Values,
    start_date_approved: bool,
) -> Result<(), LedgerError> {
    let from_pinpoint = start_date_approved || rendered.contains_key(crate::mapping::START_DATE);
    ledger.record_create_intent(
        id,
        pass,
        now,
        &create_intent_detail(new, from_pinpoint),
        mapping_fingerprint,
        rendered,
        &new.written(),
        from_pinpoint,
    )
}

/// The create intent's event detail: who, with which values, and whether HR must confirm the
/// start date (Pinpoint had none, so `hibob.start_date_offset` chose it).
pub fn create_intent_detail(new: &NewEmployee, start_date_from_pinpoint: bool) -> String {
    format!(
        "create {} {} <{}> with {}{}",
        new.first_name,
        new.surname,
        new.email,
        crate::ledger::describe_values(&new.written()),
        if start_date_from_pinpoint {
            ""
        } else {
            "; the start date is hibob.start_date_offset from detection, because Pinpoint has none: HR must confirm it"
        }
    )
}

/// HiBob answered the create with the new employee's id.
pub fn employee_created(
    ledger: &mut Ledger,
    id: &ApplicationId,
    employee_id: &EmployeeId,
    pass: PassId,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    ledger.record_employee(
        id,
        employee_id,
        EmployeeOrigin::Created,
        pass,
        now,
        &format!("created HiBob employee {employee_id}"),
    )
}

/// An employee HiBob already had is the hire's; `how` says how it was found. `origin`:
/// adopted, or made by HR's New hire flow for a hire sent to its Pending hires.
pub fn employee_adopted(
    ledger: &mut Ledger,
    id: &ApplicationId,
    employee_id: &EmployeeId,
    origin: EmployeeOrigin,
    pass: PassId,
    now: DateTime<Utc>,
    how: &str,
) -> Result<(), LedgerError> {
    ledger.record_employee(id, employee_id, origin, pass, now, how)
}

/// Before the post to HiBob's Hire API: the hire is waiting for HR, its delivery unconfirmed
/// until Bob answers.
pub fn hr_intent(
    ledger: &mut Ledger,
    id: &ApplicationId,
    pass: PassId,
    now: DateTime<Utc>,
    mapping_fingerprint: &str,
    draft: &super::plan::Draft,
) -> Result<(), LedgerError> {
    let new = &draft.new;
    let detail = format!(
        "send {} {} <{}> to HiBob's Pending hires (Hire API) with {}",
        new.first_name,
        new.surname,
        new.email,
        crate::ledger::describe_values(&new.written()),
    );
    let written = new.written();
    let sent = crate::ledger::SentValues {
        mapping: mapping_fingerprint,
        rendered: &draft.rendered,
        written: &written,
    };
    ledger.record_hr_intent(id, pass, now, &detail, &sent)
}

/// Bob took the post: HR has the hire in its Pending hires.
pub fn hr_delivered(
    ledger: &mut Ledger,
    id: &ApplicationId,
    pass: PassId,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    ledger.record_hr_delivered(
        id,
        pass,
        now,
        "sent to HiBob's Pending hires: waiting for HR to complete the New hire flow",
    )
}

/// The post's outcome is unknown: never sent again by itself.
pub fn hr_unconfirmed(
    ledger: &mut Ledger,
    id: &ApplicationId,
    pass: PassId,
    now: DateTime<Utc>,
    error: &str,
) -> Result<(), LedgerError> {
    ledger.record_hr_unconfirmed(
        id,
        pass,
        now,
        &format!(
            "delivery unconfirmed ({error}): not sent again; check HiBob's ATS Pending hires page, then `hirebridge retry --resend {id}` if it is not there, or `hirebridge link {id} <employee-id>` if HR already made the employee"
        ),
    )
}

/// Nothing reached HR's Pending hires (refused, or never sent): the hire needs its employee
/// again; the error policy's retry or park follows.
pub fn hr_not_sent(
    ledger: &mut Ledger,
    id: &ApplicationId,
    pass: PassId,
    now: DateTime<Utc>,
    error: &str,
) -> Result<(), LedgerError> {
    ledger.record_hr_not_sent(
        id,
        pass,
        now,
        &format!("not sent to HiBob's Pending hires: {error}"),
    )
}

/// Before an upload: which file goes where, under which name.
#[allow(clippy::too_many_arguments)]
pub fn cv_intent(
    ledger: &mut Ledger,
    id: &ApplicationId,
    pass: PassId,
    now: DateTime<Utc>,
    file: &Attachment,
    folder: crate::config::CvFolder,
    employee_id: &EmployeeId,
    name: &str,
) -> Result<(), LedgerError> {
    ledger.record_intent(
        id,
        StepKind::Cv,
        pass,
        now,
        &format!(
            "upload {} ({}) to the {} folder of employee {employee_id} as {name}",
            file.filename,
            file.context,
            folder.as_str()
        ),
    )
}

/// Before a comment: its text.
pub fn comment_intent(
    ledger: &mut Ledger,
    id: &ApplicationId,
    pass: PassId,
    now: DateTime<Utc>,
    text: &str,
) -> Result<(), LedgerError> {
    ledger.record_intent(id, StepKind::Comment, pass, now, text)
}

/// The hire is done, with its employee.
pub fn done(
    ledger: &mut Ledger,
    id: &ApplicationId,
    pass: PassId,
    now: DateTime<Utc>,
    employee: &Employee,
) -> Result<(), LedgerError> {
    let how = employee.origin.as_str();
    ledger.record_done(id, pass, now, &format!("employee {} ({how})", employee.id))
}

/// HiBob answered a create with "email exists": nothing of ours was written, and the person
/// is looked up to adopt.
pub fn email_taken(
    ledger: &mut Ledger,
    id: &ApplicationId,
    email: &str,
    pass: PassId,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    ledger.forget_written(id)?;
    ledger.record_note(
        id,
        StepKind::Employee,
        EventOutcome::Exists,
        &format!("HiBob says {email} already exists; looking it up to adopt"),
        pass,
        now,
    )
}

/// A write's outcome is unknown and HiBob may not show it yet: nothing before `until`.
pub fn read_lag_wait(
    ledger: &mut Ledger,
    id: &ApplicationId,
    step: StepKind,
    until: DateTime<Utc>,
    pass: PassId,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    ledger.record_deferral(
        id,
        step,
        "an earlier write's outcome is unknown and HiBob may not show it yet; waiting out its read lag",
        until,
        pass,
        now,
    )
}

/// The application has no CV attachment.
pub fn no_cv(
    ledger: &mut Ledger,
    id: &ApplicationId,
    pass: PassId,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    ledger.record_no_cv(id, pass, now)
}

/// The employee holds our CV: uploaded now (`Uploaded`) or found among its documents.
pub fn cv(
    ledger: &mut Ledger,
    id: &ApplicationId,
    document_id: Option<&str>,
    name: &str,
    outcome: EventOutcome,
    pass: PassId,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    ledger.record_cv_uploaded(id, document_id, name, outcome, pass, now)
}

/// The application has our comment: posted now (`Posted`) or found among its comments.
pub fn comment(
    ledger: &mut Ledger,
    id: &ApplicationId,
    comment_id: &CommentId,
    outcome: EventOutcome,
    pass: PassId,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    ledger.record_comment(id, comment_id, outcome, pass, now)
}

/// A person must look: `why` says what to do.
pub fn parked(
    ledger: &mut Ledger,
    id: &ApplicationId,
    step: StepKind,
    kind: ParkKind,
    why: &str,
    pass: PassId,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    ledger.record_parked(id, step, kind, why, pass, now)
}

/// An adopted employee's fields are not ours, but Pinpoint's values are still recorded so
/// that drift can be reported. A hire whose values cannot be rendered simply has none, and a
/// hire whose own create recorded its values (an intent whose outcome was unknown) keeps them.
pub fn adopted_baseline(
    ledger: &mut Ledger,
    settings: &Settings,
    id: &ApplicationId,
    application: &HiredApplication,
    pass: PassId,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let mapping = &settings.mapping;
    let Ok(rendered) = mapping.render(&application.source) else {
        return Ok(());
    };
    if ledger
        .mapped_values(&[id.as_str()])?
        .contains_key(id.as_str())
    {
        return Ok(());
    }
    ledger.record_mapped_baseline(
        id,
        pass,
        now,
        &mapping.fingerprint(),
        &rendered,
        None,
        &format!(
            "Pinpoint's mapped values, for drift (the adopted employee's fields were not written): {}",
            crate::ledger::describe_values(&rendered)
        ),
    )
}

/// Records a transient failure with its next attempt: capped exponential backoff with full
/// jitter, never before the server's own hint (`after`), and — after a write with an unknown
/// outcome — never before HiBob's read lag has passed.
#[allow(clippy::too_many_arguments)]
pub fn retry(
    ledger: &mut Ledger,
    settings: &Settings,
    entry: &LedgerEntry,
    kind: StepKind,
    message: &str,
    after: Option<std::time::Duration>,
    outcome_unknown: bool,
    pass: PassId,
) -> Result<(), LedgerError> {
    let floor = if outcome_unknown {
        settings.read_lag.to_std().ok()
    } else {
        after
    };
    let delay = plan::backoff(
        entry.failures,
        settings.retry.initial,
        settings.retry.max,
        floor,
        rand::random::<f64>(),
    );
    let now = Utc::now();
    // The delay is capped by `retry.max` or the server's own hint; one beyond what a date can
    // hold is simply the latest date.
    let next = chrono::Duration::from_std(delay)
        .ok()
        .and_then(|delay| now.checked_add_signed(delay))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    ledger.record_failure(&entry.application_id, kind, message, next, pass, now)
}

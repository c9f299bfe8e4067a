//! The ledger writes of a hire's steps, with the words of their events: one place, used by
//! the executor ([`super::apply`]) and by anything that records a hire as worked (the
//! benchmark's seeded tenant), so the audit trail reads the same whoever wrote it.
//!
//! Owns no I/O beyond the ledger calls and decides nothing: the order of intent, effect and
//! outcome is the executor's.

use chrono::{DateTime, Utc};

use super::plan::Employee;
use crate::hibob::NewEmployee;
use crate::hire::{ApplicationId, EmployeeOrigin, PassId, StepKind};
use crate::ledger::{Ledger, LedgerError};
use crate::mapping::Values;
use crate::pinpoint::Attachment;

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
    employee_id: &str,
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

/// An employee HiBob already had is the hire's; `how` says how it was found.
pub fn employee_adopted(
    ledger: &mut Ledger,
    id: &ApplicationId,
    employee_id: &str,
    pass: PassId,
    now: DateTime<Utc>,
    how: &str,
) -> Result<(), LedgerError> {
    ledger.record_employee(id, employee_id, EmployeeOrigin::Adopted, pass, now, how)
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
    employee_id: &str,
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
    let how = match employee.origin {
        EmployeeOrigin::Created => "created",
        EmployeeOrigin::Adopted => "adopted",
    };
    ledger.record_done(id, pass, now, &format!("employee {} ({how})", employee.id))
}

//! Applying a hire's planned steps. Every remote write follows one shape:
//!
//! 1. the ledger records the intent (committed before the call),
//! 2. the remote call,
//! 3. the ledger records the outcome with an event.
//!
//! A crash between 1 and 3 leaves the step `in_flight`; the planner then checks the remote
//! side (search, document list, comments) before anything is written again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::Settings;
use super::plan::{self, Lookup, Step};
use crate::crashpoint;
use crate::hibob::{CreateOutcome, HibobClient, NewEmployee};
use crate::http::ApiError;
use crate::ledger::{
    EmployeeOrigin, Ledger, LedgerEntry, LedgerError, ParkKind, PassId, StepKind, StepState,
};
use crate::pinpoint::{HiredApplication, PinpointClient};

/// How a hire's turn in the pass ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HireOutcome {
    Done,
    /// Retried later: a transient failure, or waiting out HiBob's read lag.
    Waiting,
    Parked,
    /// Parked because a credential was refused; the pass must stop.
    StopPass(String),
    /// Shutdown was requested between two steps.
    Interrupted,
}

/// How many times a problem that is usually transient but may be permanent is retried
/// before a person is asked to look.
const STUBBORN_LIMIT: u32 = 3;

enum StepError {
    Api(StepKind, ApiError),
    /// Retried like a transient failure, but parked with `message` once it has failed
    /// [`STUBBORN_LIMIT`] times in a row: e.g. HiBob calls an email taken while search does
    /// not show it, or cannot fetch a CV link that a fresh listing should have renewed.
    Stubborn {
        kind: StepKind,
        error: ApiError,
        message: String,
    },
    Ledger(LedgerError),
}

impl From<LedgerError> for StepError {
    fn from(e: LedgerError) -> Self {
        StepError::Ledger(e)
    }
}

/// One hire's run through its steps within a pass. Several run at once; they share the
/// ledger through a mutex that is never held across an await.
pub struct HireRun<'a> {
    pub ledger: &'a Mutex<Ledger>,
    pub pinpoint: &'a PinpointClient,
    pub hibob: &'a HibobClient,
    pub settings: &'a Settings,
    pub pass: PassId,
    pub shutdown: &'a CancellationToken,
    /// Set when any hire met a refused credential: the others stop at their next step.
    pub halted: &'a AtomicBool,
}

/// The ledger, even if a panicking task poisoned the mutex: SQLite rolled back whatever that
/// task had not committed, so the data is sound.
pub fn lock(ledger: &Mutex<Ledger>) -> MutexGuard<'_, Ledger> {
    ledger
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn lag(settings: &Settings) -> chrono::Duration {
    chrono::Duration::from_std(settings.read_lag).unwrap_or_else(|_| chrono::Duration::seconds(20))
}

impl HireRun<'_> {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(self.ledger)
    }

    pub async fn run(
        mut self,
        entry: LedgerEntry,
        application: &HiredApplication,
        lookup: Lookup,
    ) -> Result<HireOutcome, LedgerError> {
        let steps = plan::plan_hire(&entry, application, &lookup, Utc::now(), lag(self.settings));
        let mut employee = entry.hibob_employee_id.clone().zip(entry.employee_origin);
        for step in steps {
            if self.shutdown.is_cancelled() || self.halted.load(Ordering::SeqCst) {
                return Ok(HireOutcome::Interrupted);
            }
            match self.step(&entry, application, &step, &mut employee).await {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) => {}
                Err(StepError::Ledger(e)) => return Err(e),
                Err(StepError::Api(kind, error)) => {
                    return self.fail(&entry, kind, &error);
                }
                Err(StepError::Stubborn {
                    kind,
                    error,
                    message,
                }) => {
                    if entry.failures + 1 >= STUBBORN_LIMIT {
                        self.ledger().record_parked(
                            &entry.application_id,
                            kind,
                            ParkKind::Invalid,
                            &format!(
                                "{message}; then run `hirebridge retry {}`",
                                entry.application_id
                            ),
                            self.pass,
                            Utc::now(),
                        )?;
                        return Ok(HireOutcome::Parked);
                    }
                    return self.fail(&entry, kind, &error);
                }
            }
        }
        Ok(HireOutcome::Done)
    }

    /// Performs one step. `Ok(Some(_))` ends the hire's turn early without an error.
    async fn step(
        &mut self,
        entry: &LedgerEntry,
        application: &HiredApplication,
        step: &Step,
        employee: &mut Option<(String, EmployeeOrigin)>,
    ) -> Result<Option<HireOutcome>, StepError> {
        let id = entry.application_id.as_str();
        let pass = self.pass;
        match step {
            Step::AdoptEmployee { employee_id } => {
                crashpoint::hit("ledger.employee.before");
                self.ledger().record_employee(
                    id,
                    employee_id,
                    EmployeeOrigin::Adopted,
                    pass,
                    Utc::now(),
                    &format!(
                        "found HiBob employee {employee_id} by email {}",
                        entry.email
                    ),
                )?;
                crashpoint::hit("ledger.employee.after");
                *employee = Some((employee_id.clone(), EmployeeOrigin::Adopted));
                self.record_adopted_baseline(id, application)?;
            }
            Step::CreateEmployee => {
                let (new, rendered) =
                    match new_employee(self.settings, entry.first_seen_at, application, Utc::now())
                    {
                        Ok(found) => found,
                        Err(e) => {
                            // Bad data for one hire parks that hire only; nothing was sent.
                            tracing::warn!(application = id, error = %e, "needs attention");
                            self.ledger().record_parked(
                                id,
                                StepKind::Employee,
                                ParkKind::Invalid,
                                &format!("{e}; then run `hirebridge retry {id}`"),
                                pass,
                                Utc::now(),
                            )?;
                            return Ok(Some(HireOutcome::Parked));
                        }
                    };
                let mapping = &self.settings.mapping;
                let from_pinpoint = rendered.contains_key(crate::mapping::START_DATE);
                crashpoint::hit("ledger.employee_intent.before");
                self.ledger().record_create_intent(
                    id,
                    pass,
                    Utc::now(),
                    &create_intent_detail(&new, from_pinpoint),
                    &mapping.fingerprint(),
                    &rendered,
                    &new.written(),
                    from_pinpoint,
                )?;
                crashpoint::hit("ledger.employee_intent.after");
                let outcome = self
                    .hibob
                    .create_employee(&new)
                    .await
                    .map_err(|e| StepError::Api(StepKind::Employee, e))?;
                match outcome {
                    CreateOutcome::Created { employee_id } => {
                        crashpoint::hit("ledger.employee.before");
                        self.ledger().record_employee(
                            id,
                            &employee_id,
                            EmployeeOrigin::Created,
                            pass,
                            Utc::now(),
                            &format!("created HiBob employee {employee_id}"),
                        )?;
                        crashpoint::hit("ledger.employee.after");
                        tracing::info!(application = id, employee = %employee_id, "created HiBob employee");
                        *employee = Some((employee_id, EmployeeOrigin::Created));
                    }
                    CreateOutcome::EmailExists => {
                        // Email is unique in HiBob: the person is there. Find and adopt them.
                        // Not created by this request, so its fields are not ours to update.
                        self.ledger().forget_written(id)?;
                        self.ledger().record_note(
                            id,
                            StepKind::Employee,
                            "exists",
                            &format!(
                                "HiBob says {} already exists; looking it up to adopt",
                                new.email
                            ),
                            pass,
                            Utc::now(),
                        )?;
                        let found = self
                            .hibob
                            .search_by_emails(std::slice::from_ref(&new.email))
                            .await
                            .map_err(|e| StepError::Api(StepKind::Employee, e))?;
                        let Some(hit) = found
                            .into_iter()
                            .find(|f| crate::identity::same_address(&f.email, &new.email))
                        else {
                            let message = format!(
                                "HiBob says an employee with the email {} exists, but search does not show it; \
                                 check that the service user may view all employees (including inactive ones)",
                                new.email
                            );
                            return Err(StepError::Stubborn {
                                kind: StepKind::Employee,
                                error: ApiError::Ambiguous {
                                    api: crate::http::Api::Hibob,
                                    endpoint: "POST /people",
                                    reason: message.clone(),
                                },
                                message,
                            });
                        };
                        crashpoint::hit("ledger.employee.before");
                        self.ledger().record_employee(
                            id,
                            &hit.id,
                            EmployeeOrigin::Adopted,
                            pass,
                            Utc::now(),
                            &format!(
                                "adopted HiBob employee {} after the duplicate-email answer",
                                hit.id
                            ),
                        )?;
                        crashpoint::hit("ledger.employee.after");
                        *employee = Some((hit.id, EmployeeOrigin::Adopted));
                    }
                }
            }
            Step::WaitForReadLag { until } => {
                let kind = if entry.employee == StepState::Done {
                    StepKind::Cv
                } else {
                    StepKind::Employee
                };
                self.ledger().record_deferral(
                    id,
                    kind,
                    "an earlier write's outcome is unknown and HiBob may not show it yet; waiting out its read lag",
                    *until,
                    pass,
                    Utc::now(),
                )?;
                return Ok(Some(HireOutcome::Waiting));
            }
            Step::UploadCv { check_existing } => {
                let Some((employee_id, origin)) = employee.clone() else {
                    return Ok(Some(HireOutcome::Waiting));
                };
                let marker = plan::cv_marker(id);
                // A create answered "email exists" adopted an employee the plan expected to
                // be new: it may hold our CV already (our own earlier create, read lag).
                if *check_existing || origin == EmployeeOrigin::Adopted {
                    let documents = self
                        .hibob
                        .documents(&employee_id)
                        .await
                        .map_err(|e| StepError::Api(StepKind::Cv, e))?;
                    if let Some(doc) = documents.iter().find(|d| d.name.contains(&marker)) {
                        crashpoint::hit("ledger.cv.before");
                        self.ledger().record_cv_uploaded(
                            id,
                            doc.id.as_deref(),
                            &doc.name,
                            "found",
                            pass,
                            Utc::now(),
                        )?;
                        crashpoint::hit("ledger.cv.after");
                        return Ok(None);
                    }
                }
                let Some(attachment) = &application.cv else {
                    crashpoint::hit("ledger.cv.before");
                    self.ledger().record_no_cv(id, pass, Utc::now())?;
                    crashpoint::hit("ledger.cv.after");
                    return Ok(None);
                };
                let name = plan::cv_document_name(id, &attachment.filename);
                crashpoint::hit("ledger.cv_intent.before");
                self.ledger().record_intent(
                    id,
                    StepKind::Cv,
                    pass,
                    Utc::now(),
                    &format!(
                        "upload {} ({}) to the {} folder of employee {employee_id} as {name}",
                        attachment.filename,
                        attachment.context,
                        self.settings.cv_folder.as_str()
                    ),
                )?;
                crashpoint::hit("ledger.cv_intent.after");
                let document_id = self
                    .hibob
                    .upload_document_from_url(
                        &employee_id,
                        self.settings.cv_folder,
                        &name,
                        &attachment.url,
                    )
                    .await
                    .map_err(|e| cv_upload_error(e.redact(&attachment.url)))?;
                crashpoint::hit("ledger.cv.before");
                self.ledger().record_cv_uploaded(
                    id,
                    Some(&document_id),
                    &name,
                    "uploaded",
                    pass,
                    Utc::now(),
                )?;
                crashpoint::hit("ledger.cv.after");
            }
            Step::RecordNoCv => {
                crashpoint::hit("ledger.cv.before");
                self.ledger().record_no_cv(id, pass, Utc::now())?;
                crashpoint::hit("ledger.cv.after");
            }
            Step::PostComment { check_existing } => {
                let Some((employee_id, origin)) = employee.clone() else {
                    return Ok(Some(HireOutcome::Waiting));
                };
                if *check_existing || origin == EmployeeOrigin::Adopted {
                    let comments = self
                        .pinpoint
                        .comments(id)
                        .await
                        .map_err(|e| StepError::Api(StepKind::Comment, e))?;
                    if let Some(c) = comments
                        .iter()
                        .find(|c| plan::is_our_comment(&c.body_text, &employee_id))
                    {
                        crashpoint::hit("ledger.comment.before");
                        self.ledger()
                            .record_comment(id, &c.id, "found", pass, Utc::now())?;
                        crashpoint::hit("ledger.comment.after");
                        return Ok(None);
                    }
                }
                let text = plan::comment_text(&employee_id, origin);
                crashpoint::hit("ledger.comment_intent.before");
                self.ledger()
                    .record_intent(id, StepKind::Comment, pass, Utc::now(), &text)?;
                crashpoint::hit("ledger.comment_intent.after");
                let comment_id = self
                    .pinpoint
                    .post_comment(id, &text)
                    .await
                    .map_err(|e| StepError::Api(StepKind::Comment, e))?;
                crashpoint::hit("ledger.comment.before");
                self.ledger()
                    .record_comment(id, &comment_id, "posted", pass, Utc::now())?;
                crashpoint::hit("ledger.comment.after");
            }
            Step::MarkDone => {
                let detail = match employee {
                    Some((e, EmployeeOrigin::Created)) => format!("employee {e} (created)"),
                    Some((e, EmployeeOrigin::Adopted)) => format!("employee {e} (adopted)"),
                    None => String::new(),
                };
                crashpoint::hit("ledger.done.before");
                self.ledger().record_done(id, pass, Utc::now(), &detail)?;
                crashpoint::hit("ledger.done.after");
                tracing::info!(application = id, "hire done");
            }
        }
        Ok(None)
    }

    /// An adopted employee's fields are not ours, but Pinpoint's values are still recorded so
    /// that drift can be reported. A hire whose values cannot be rendered simply has none.
    fn record_adopted_baseline(
        &mut self,
        id: &str,
        application: &HiredApplication,
    ) -> Result<(), LedgerError> {
        let mapping = &self.settings.mapping;
        let Ok(rendered) = mapping.render(&application.source) else {
            return Ok(());
        };
        let mut ledger = self.ledger();
        if ledger.mapped_values(&[id])?.contains_key(id) {
            // Our own create's values (an intent whose outcome was unknown): keep them.
            return Ok(());
        }
        ledger.record_mapped_baseline(
            id,
            self.pass,
            Utc::now(),
            &mapping.fingerprint(),
            &rendered,
            None,
            &format!(
                "Pinpoint's mapped values, for drift (the adopted employee's fields were not written): {}",
                crate::ledger::describe_values(&rendered)
            ),
        )
    }

    fn fail(
        &mut self,
        entry: &LedgerEntry,
        kind: StepKind,
        error: &ApiError,
    ) -> Result<HireOutcome, LedgerError> {
        let id = &entry.application_id;
        let now = Utc::now();
        let message = error.to_string();
        match error {
            ApiError::Retryable { .. } | ApiError::Ambiguous { .. } => {
                tracing::warn!(application = %id, step = kind.as_str(), error = %message, "will retry");
                record_retry(
                    &mut self.ledger(),
                    self.settings,
                    entry,
                    kind,
                    error,
                    self.pass,
                )?;
                Ok(HireOutcome::Waiting)
            }
            ApiError::Invalid { .. } | ApiError::NotFound { .. } => {
                let park = if matches!(error, ApiError::NotFound { .. }) {
                    ParkKind::NotFound
                } else {
                    ParkKind::Invalid
                };
                tracing::warn!(application = %id, step = kind.as_str(), error = %message, "needs attention");
                let message = format!("{message}; fix the cause, then run `hirebridge retry {id}`");
                self.ledger()
                    .record_parked(id, kind, park, &message, self.pass, now)?;
                Ok(HireOutcome::Parked)
            }
            // Not sent: another hire met the refused credential. Nothing to record; a step
            // left in flight is resolved remotely on the next pass.
            ApiError::Halted { .. } => Ok(HireOutcome::Interrupted),
            ApiError::Unauthorized { .. } => {
                self.halted.store(true, Ordering::SeqCst);
                tracing::error!(application = %id, step = kind.as_str(), error = %message, "credentials refused; stopping the pass");
                self.ledger().record_parked(
                    id,
                    kind,
                    ParkKind::Unauthorized,
                    &format!("{message}; once fixed, run `hirebridge retry --all-failed`"),
                    self.pass,
                    now,
                )?;
                Ok(HireOutcome::StopPass(message))
            }
        }
    }
}

/// A CV upload HiBob refused because it could not fetch the link is usually an expired
/// pre-signed URL: the next listing brings a fresh one, so retry — a few times.
fn cv_upload_error(error: ApiError) -> StepError {
    match error {
        ApiError::Invalid {
            api,
            endpoint,
            key: Some(key),
            message,
            ..
        } if key.to_ascii_lowercase().contains("url") => StepError::Stubborn {
            kind: StepKind::Cv,
            error: ApiError::Retryable {
                api,
                endpoint,
                after: None,
                reason: format!(
                    "HiBob could not fetch the CV from Pinpoint's link ({message}); a fresh link is used next time"
                ),
            },
            message: format!(
                "HiBob could not fetch the CV from Pinpoint's link several times ({message}); check the attachment in Pinpoint"
            ),
        },
        other => StepError::Api(StepKind::Cv, other),
    }
}

/// Records a transient failure with its next attempt: capped exponential backoff with full
/// jitter, never before the server's own hint, and — after a write with an unknown outcome —
/// never before HiBob's read lag has passed.
pub fn record_retry(
    ledger: &mut Ledger,
    settings: &Settings,
    entry: &LedgerEntry,
    kind: StepKind,
    error: &ApiError,
    pass: PassId,
) -> Result<(), LedgerError> {
    let floor = match error {
        ApiError::Retryable { after, .. } => *after,
        ApiError::Ambiguous { .. } => Some(settings.read_lag),
        _ => None,
    };
    let delay = plan::backoff(
        entry.failures,
        settings.retry.initial,
        settings.retry.max,
        floor,
        rand::random::<f64>(),
    );
    let now = Utc::now();
    let next =
        now + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::minutes(10));
    ledger.record_failure(
        &entry.application_id,
        kind,
        &error.to_string(),
        next,
        pass,
        now,
    )
}

/// The employee a create sends, from the mapping: `work.site` defaults to `hibob.site`, the
/// start date to the configured offset, and a start date in the past becomes today unless
/// `mapping.allow_past_start_date`. Also returns what the mapping rendered (drift's baseline).
pub fn new_employee(
    settings: &Settings,
    first_seen: DateTime<Utc>,
    application: &HiredApplication,
    now: DateTime<Utc>,
) -> Result<(NewEmployee, crate::mapping::Values), crate::mapping::RenderError> {
    use crate::mapping::{SITE, START_DATE};
    let rendered = settings.mapping.render(&application.source)?;
    let mut fields = rendered.clone();
    let site = fields.remove(SITE).unwrap_or_else(|| settings.site.clone());
    // A mapped work address replaces the application's; it must be an address.
    let mut email = application.email.clone();
    for field in crate::mapping::WORK_EMAIL {
        if let Some(work) = fields.remove(field) {
            if !work.contains('@') || work.chars().any(char::is_whitespace) {
                return Err(crate::mapping::RenderError {
                    field: field.into(),
                    message: format!(
                        "{work:?} is not an email address; fix the template in [mapping.fields]"
                    ),
                });
            }
            email = crate::identity::nfc(&work);
        }
    }
    let start = match fields.remove(START_DATE) {
        Some(text) => {
            let date =
                crate::mapping::parse_date(&text).ok_or_else(|| crate::mapping::RenderError {
                    field: START_DATE.into(),
                    message: format!("{text:?} is not a date"),
                })?;
            clamp_start(&settings.mapping, date, now)
        }
        None => start_date(first_seen, settings.start_date_offset, now),
    };
    Ok((
        NewEmployee {
            first_name: crate::identity::nfc(&application.first_name),
            surname: crate::identity::nfc(&application.last_name),
            email,
            site,
            start_date: start,
            fields,
        },
        rendered,
    ))
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

/// A mapped start date in the past becomes today, unless the config allows the past.
pub fn clamp_start(
    mapping: &crate::mapping::Mapping,
    date: chrono::NaiveDate,
    now: DateTime<Utc>,
) -> chrono::NaiveDate {
    if mapping.allow_past_start_date {
        date
    } else {
        date.max(now.date_naive())
    }
}

/// The start date sent to HiBob when Pinpoint has none: the configured offset from the day
/// the hire was first seen, and never in the past.
pub fn start_date(
    first_seen: DateTime<Utc>,
    offset: std::time::Duration,
    now: DateTime<Utc>,
) -> chrono::NaiveDate {
    let offset = chrono::Duration::from_std(offset).unwrap_or_else(|_| chrono::Duration::days(14));
    (first_seen + offset).date_naive().max(now.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn start_date_is_offset_from_detection_but_never_past() {
        let seen = Utc.with_ymd_and_hms(2026, 11, 25, 23, 0, 0).unwrap();
        let two_weeks = std::time::Duration::from_secs(14 * 86400);
        assert_eq!(
            start_date(seen, two_weeks, seen),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 9).unwrap()
        );
        let much_later = seen + chrono::Duration::days(30);
        assert_eq!(
            start_date(seen, two_weeks, much_later),
            much_later.date_naive()
        );
    }
}

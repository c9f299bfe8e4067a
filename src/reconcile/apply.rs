//! The executor: applies the one step [`plan::next_step`] chose, gets the hire back from the
//! ledger, and asks again, until the hire is done or must wait. It decides nothing itself.
//! Every remote write follows one shape:
//!
//! 1. the ledger records the intent (committed before the call),
//! 2. the remote call,
//! 3. the ledger records the outcome with an event ([`super::record`]).
//!
//! A crash between 1 and 3 leaves the step `in_flight`; the decision then looks on the remote
//! side (search, document list, comments) before anything is written again. A failed call is
//! judged by the one error policy ([`super::policy`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::Settings;
use super::facts::Lookup;
use super::plan::{self, Employee, Learned, Step};
use super::policy::{About, Verdict};
use super::record;
use crate::crashpoint;
use crate::hibob::{CreateOutcome, HibobClient, NewEmployee};
use crate::hire::{
    ApplicationId, EventOutcome, HireStatus, LedgerEntry, ParkKind, PassId, StepKind,
};
use crate::http::ApiError;
use crate::ledger::{Ledger, LedgerError};
use crate::pinpoint::{Attachment, HiredApplication, PinpointClient};

pub use crate::hire::HireOutcome;
pub use record::create_intent_detail;

/// A hire's turn: how it ended, and its ledger row as it now is.
#[derive(Debug, Clone)]
pub struct Finished {
    pub outcome: HireOutcome,
    pub entry: LedgerEntry,
}

/// How many times a problem that is usually transient but may be permanent is retried
/// before a person is asked to look.
const STUBBORN_LIMIT: u32 = 3;

/// A step that did not complete.
enum StepError {
    Failed(Failure),
    Ledger(LedgerError),
}

impl From<LedgerError> for StepError {
    fn from(e: LedgerError) -> Self {
        StepError::Ledger(e)
    }
}

/// A failed step: what the operator reads, and what the policy says to do.
struct Failure {
    step: StepKind,
    message: String,
    verdict: Verdict,
    /// Retried like a transient failure, but parked with this message once it has failed
    /// [`STUBBORN_LIMIT`] times in a row: e.g. HiBob calls an email taken while search does
    /// not show it, or cannot fetch a CV link that a fresh listing should have renewed.
    stubborn: Option<String>,
}

impl Failure {
    fn api(step: StepKind, error: &ApiError) -> StepError {
        StepError::Failed(Failure {
            step,
            message: error.to_string(),
            verdict: Verdict::of(error, About::Hire),
            stubborn: None,
        })
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

impl HireRun<'_> {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(self.ledger)
    }

    /// Writes to the ledger and hands back the hire's row as the write left it.
    fn write(
        &self,
        id: &ApplicationId,
        write: impl FnOnce(&mut Ledger) -> Result<(), LedgerError>,
    ) -> Result<LedgerEntry, LedgerError> {
        let mut ledger = self.ledger();
        write(&mut ledger)?;
        ledger
            .entry(id)?
            .ok_or(LedgerError::Sql(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Brings the hire as far as it can go now: decide, apply, decide again.
    pub async fn run(
        self,
        mut entry: LedgerEntry,
        application: &HiredApplication,
        lookup: Lookup,
    ) -> Result<Finished, LedgerError> {
        let mut learned = Learned::default();
        loop {
            if self.shutdown.is_cancelled() || self.halted.load(Ordering::SeqCst) {
                return Ok(Finished {
                    outcome: HireOutcome::Interrupted,
                    entry,
                });
            }
            let decided = plan::next_step(
                &entry,
                application,
                &lookup,
                learned,
                Utc::now(),
                self.settings.read_lag,
            );
            let Some(step) = decided else {
                let outcome = match entry.status {
                    HireStatus::Done => HireOutcome::Done,
                    HireStatus::NeedsAttention => HireOutcome::Parked,
                    _ => HireOutcome::Waiting,
                };
                return Ok(Finished { outcome, entry });
            };
            // A wait ends the turn: deciding again, even a moment later, would act on a lookup
            // made before the read lag was over.
            let waits = matches!(step, Step::WaitForReadLag { .. });
            match self.apply(&entry, application, step, &mut learned).await {
                Ok(next) if waits => {
                    return Ok(Finished {
                        outcome: HireOutcome::Waiting,
                        entry: next,
                    });
                }
                Ok(next) => entry = next,
                Err(StepError::Ledger(e)) => return Err(e),
                Err(StepError::Failed(failure)) => return self.fail(entry, failure),
            }
        }
    }

    /// Applies one step; returns the hire's row after it.
    async fn apply(
        &self,
        entry: &LedgerEntry,
        application: &HiredApplication,
        step: Step,
        learned: &mut Learned,
    ) -> Result<LedgerEntry, StepError> {
        let id = &entry.application_id;
        match step {
            Step::AdoptEmployee { employee_id } => Ok(self.adopt(entry, application, &employee_id)?),
            Step::CreateEmployee => self.create(entry, application, learned).await,
            Step::WaitForReadLag { step, until } => Ok(self.write(id, |l| {
                l.record_deferral(
                    id,
                    step,
                    "an earlier write's outcome is unknown and HiBob may not show it yet; waiting out its read lag",
                    until,
                    self.pass,
                    Utc::now(),
                )
            })?),
            Step::FindCv { employee } => self.find_cv(id, &employee, learned).await,
            Step::UploadCv { employee, file } => self.upload_cv(id, &employee, &file).await,
            Step::RecordNoCv => {
                crashpoint::hit("ledger.cv.before");
                let entry = self.write(id, |l| l.record_no_cv(id, self.pass, Utc::now()))?;
                crashpoint::hit("ledger.cv.after");
                Ok(entry)
            }
            Step::FindComment { employee } => self.find_comment(id, &employee, learned).await,
            Step::PostComment { employee } => self.post_comment(id, &employee).await,
            Step::MarkDone { employee } => {
                crashpoint::hit("ledger.done.before");
                let entry =
                    self.write(id, |l| record::done(l, id, self.pass, Utc::now(), &employee))?;
                crashpoint::hit("ledger.done.after");
                tracing::info!(application = %id, "hire done");
                Ok(entry)
            }
        }
    }

    fn adopt(
        &self,
        entry: &LedgerEntry,
        application: &HiredApplication,
        employee_id: &str,
    ) -> Result<LedgerEntry, LedgerError> {
        let id = &entry.application_id;
        crashpoint::hit("ledger.employee.before");
        self.write(id, |l| {
            record::employee_adopted(
                l,
                id,
                employee_id,
                self.pass,
                Utc::now(),
                &format!(
                    "found HiBob employee {employee_id} by email {}",
                    entry.email
                ),
            )
        })?;
        crashpoint::hit("ledger.employee.after");
        self.record_adopted_baseline(id, application)
    }

    async fn create(
        &self,
        entry: &LedgerEntry,
        application: &HiredApplication,
        learned: &mut Learned,
    ) -> Result<LedgerEntry, StepError> {
        let id = &entry.application_id;
        let pass = self.pass;
        let (new, rendered) =
            match new_employee(self.settings, entry.first_seen_at, application, Utc::now()) {
                Ok(found) => found,
                Err(e) => {
                    // Bad data for one hire parks that hire only; nothing was sent.
                    tracing::warn!(application = %id, error = %e, "needs attention");
                    return Ok(self.write(id, |l| {
                        l.record_parked(
                            id,
                            StepKind::Employee,
                            ParkKind::Invalid,
                            &format!("{e}; then run `hirebridge retry {id}`"),
                            pass,
                            Utc::now(),
                        )
                    })?);
                }
            };
        // What HR approved in Pinpoint's plugin form replaces the mapping's values.
        let approved: Option<BTreeMap<String, String>> = self
            .ledger()
            .plugin_values_for(id)?
            .and_then(|json| serde_json::from_str(&json).ok());
        // A start date HR entered (or confirmed) in the form came from Pinpoint, not from
        // the offset: nobody has to confirm it again.
        let start_date_approved = approved
            .as_ref()
            .is_some_and(|v| v.contains_key(crate::mapping::START_DATE));
        let new = match &approved {
            Some(values) => crate::employee::with_approved(new, values),
            None => new,
        };
        let fingerprint = self.settings.mapping.fingerprint();
        crashpoint::hit("ledger.employee_intent.before");
        self.write(id, |l| {
            record::create_intent(
                l,
                id,
                pass,
                Utc::now(),
                &fingerprint,
                &new,
                &rendered,
                start_date_approved,
            )
        })?;
        crashpoint::hit("ledger.employee_intent.after");
        let outcome = self
            .hibob
            .create_employee(&new)
            .await
            .map_err(|e| Failure::api(StepKind::Employee, &e))?;
        match outcome {
            CreateOutcome::Created { employee_id } => {
                crashpoint::hit("ledger.employee.before");
                let entry = self.write(id, |l| {
                    record::employee_created(l, id, &employee_id, pass, Utc::now())
                })?;
                crashpoint::hit("ledger.employee.after");
                tracing::info!(application = %id, employee = %employee_id, "created HiBob employee");
                learned.created_employee = true;
                Ok(entry)
            }
            CreateOutcome::EmailExists => self.adopt_existing(id, &new).await,
        }
    }

    /// HiBob answered a create with "email exists": emails are unique, so the person is
    /// there. Found and adopted; not created by this request, so its fields are not ours to
    /// update.
    async fn adopt_existing(
        &self,
        id: &ApplicationId,
        new: &NewEmployee,
    ) -> Result<LedgerEntry, StepError> {
        let pass = self.pass;
        self.write(id, |l| {
            l.forget_written(id)?;
            l.record_note(
                id,
                StepKind::Employee,
                EventOutcome::Exists,
                &format!(
                    "HiBob says {} already exists; looking it up to adopt",
                    new.email
                ),
                pass,
                Utc::now(),
            )
        })?;
        let found = self
            .hibob
            .search_by_emails(std::slice::from_ref(&new.email))
            .await
            .map_err(|e| Failure::api(StepKind::Employee, &e))?;
        let Some(hit) = found
            .into_iter()
            .find(|f| crate::identity::same_address(&f.email, &new.email))
        else {
            let problem = format!(
                "HiBob says an employee with the email {} exists, but search does not show it; \
                 check that the service user may view all employees (including inactive ones)",
                new.email
            );
            return Err(StepError::Failed(Failure {
                step: StepKind::Employee,
                message: format!(
                    "HiBob POST /people: outcome unknown ({problem}); will look it up before trying again"
                ),
                verdict: Verdict::Retry {
                    after: None,
                    outcome_unknown: true,
                },
                stubborn: Some(problem),
            }));
        };
        crashpoint::hit("ledger.employee.before");
        let entry = self.write(id, |l| {
            record::employee_adopted(
                l,
                id,
                &hit.id,
                pass,
                Utc::now(),
                &format!(
                    "adopted HiBob employee {} after the duplicate-email answer",
                    hit.id
                ),
            )
        })?;
        crashpoint::hit("ledger.employee.after");
        Ok(entry)
    }

    async fn find_cv(
        &self,
        id: &ApplicationId,
        employee: &Employee,
        learned: &mut Learned,
    ) -> Result<LedgerEntry, StepError> {
        let marker = plan::cv_marker(id);
        let documents = self
            .hibob
            .documents(&employee.id)
            .await
            .map_err(|e| Failure::api(StepKind::Cv, &e))?;
        let Some(doc) = documents.iter().find(|d| d.name.contains(&marker)) else {
            learned.no_cv_of_ours = true;
            return Ok(self.write(id, |_| Ok(()))?);
        };
        crashpoint::hit("ledger.cv.before");
        let entry = self.write(id, |l| {
            l.record_cv_uploaded(
                id,
                doc.id.as_deref(),
                &doc.name,
                EventOutcome::Found,
                self.pass,
                Utc::now(),
            )
        })?;
        crashpoint::hit("ledger.cv.after");
        Ok(entry)
    }

    async fn upload_cv(
        &self,
        id: &ApplicationId,
        employee: &Employee,
        file: &Attachment,
    ) -> Result<LedgerEntry, StepError> {
        let name = plan::cv_document_name(id, &file.filename);
        let folder = self.settings.cv_folder;
        crashpoint::hit("ledger.cv_intent.before");
        self.write(id, |l| {
            record::cv_intent(
                l,
                id,
                self.pass,
                Utc::now(),
                file,
                folder,
                &employee.id,
                &name,
            )
        })?;
        crashpoint::hit("ledger.cv_intent.after");
        let document_id = self
            .hibob
            .upload_document_from_url(&employee.id, folder, &name, &file.url)
            .await
            .map_err(|e| cv_upload_error(e.redact(&file.url)))?;
        crashpoint::hit("ledger.cv.before");
        let entry = self.write(id, |l| {
            l.record_cv_uploaded(
                id,
                Some(&document_id),
                &name,
                EventOutcome::Uploaded,
                self.pass,
                Utc::now(),
            )
        })?;
        crashpoint::hit("ledger.cv.after");
        Ok(entry)
    }

    async fn find_comment(
        &self,
        id: &ApplicationId,
        employee: &Employee,
        learned: &mut Learned,
    ) -> Result<LedgerEntry, StepError> {
        let comments = self
            .pinpoint
            .comments(id)
            .await
            .map_err(|e| Failure::api(StepKind::Comment, &e))?;
        let Some(ours) = comments
            .iter()
            .find(|c| plan::is_our_comment(&c.body_text, &employee.id))
        else {
            learned.no_comment_of_ours = true;
            return Ok(self.write(id, |_| Ok(()))?);
        };
        crashpoint::hit("ledger.comment.before");
        let entry = self.write(id, |l| {
            l.record_comment(id, &ours.id, EventOutcome::Found, self.pass, Utc::now())
        })?;
        crashpoint::hit("ledger.comment.after");
        Ok(entry)
    }

    async fn post_comment(
        &self,
        id: &ApplicationId,
        employee: &Employee,
    ) -> Result<LedgerEntry, StepError> {
        let text = plan::comment_text(&employee.id, employee.origin);
        crashpoint::hit("ledger.comment_intent.before");
        self.write(id, |l| {
            record::comment_intent(l, id, self.pass, Utc::now(), &text)
        })?;
        crashpoint::hit("ledger.comment_intent.after");
        let comment_id = self
            .pinpoint
            .post_comment(id, &text)
            .await
            .map_err(|e| Failure::api(StepKind::Comment, &e))?;
        crashpoint::hit("ledger.comment.before");
        let entry = self.write(id, |l| {
            l.record_comment(id, &comment_id, EventOutcome::Posted, self.pass, Utc::now())
        })?;
        crashpoint::hit("ledger.comment.after");
        Ok(entry)
    }

    /// An adopted employee's fields are not ours, but Pinpoint's values are still recorded so
    /// that drift can be reported. A hire whose values cannot be rendered simply has none.
    fn record_adopted_baseline(
        &self,
        id: &ApplicationId,
        application: &HiredApplication,
    ) -> Result<LedgerEntry, LedgerError> {
        let mapping = &self.settings.mapping;
        self.write(id, |ledger| {
            let Ok(rendered) = mapping.render(&application.source) else {
                return Ok(());
            };
            if ledger.mapped_values(&[id.as_str()])?.contains_key(id.as_str()) {
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
        })
    }

    /// Records a failed step as the policy says, and ends the hire's turn.
    fn fail(&self, entry: LedgerEntry, failure: Failure) -> Result<Finished, LedgerError> {
        let id = entry.application_id.clone();
        let Failure {
            step,
            message,
            verdict,
            stubborn,
        } = failure;
        let park = |kind: ParkKind, why: String| {
            self.write(&id, |l| {
                l.record_parked(&id, step, kind, &why, self.pass, Utc::now())
            })
        };
        let (outcome, entry) = match verdict {
            // Not sent: another hire met the refused credential. Nothing to record; a step
            // left in flight is resolved remotely on the next pass.
            // The row as it now is: the step may have recorded its intent before the call.
            Verdict::Stop {
                refused_here: false,
            } => (HireOutcome::Interrupted, self.write(&id, |_| Ok(()))?),
            Verdict::Stop { refused_here: true } => {
                self.halted.store(true, Ordering::SeqCst);
                tracing::error!(application = %id, step = step.as_str(), error = %message, "credentials refused; stopping the pass");
                let entry = park(
                    ParkKind::Unauthorized,
                    format!("{message}; once fixed, run `hirebridge retry --all-failed`"),
                )?;
                (HireOutcome::Refused(message), entry)
            }
            Verdict::Retry { .. } if stubborn.is_some() && entry.failures + 1 >= STUBBORN_LIMIT => {
                let why = stubborn.unwrap_or_default();
                let entry = park(
                    ParkKind::Invalid,
                    format!("{why}; then run `hirebridge retry {id}`"),
                )?;
                (HireOutcome::Parked, entry)
            }
            Verdict::Retry {
                after,
                outcome_unknown,
            } => {
                tracing::warn!(application = %id, step = step.as_str(), error = %message, "will retry");
                let entry = self.write(&id, |l| {
                    record_retry(
                        l,
                        self.settings,
                        &entry,
                        step,
                        &message,
                        after,
                        outcome_unknown,
                        self.pass,
                    )
                })?;
                (HireOutcome::Waiting, entry)
            }
            Verdict::Park(kind) => {
                tracing::warn!(application = %id, step = step.as_str(), error = %message, "needs attention");
                let entry = park(
                    kind,
                    format!("{message}; fix the cause, then run `hirebridge retry {id}`"),
                )?;
                (HireOutcome::Parked, entry)
            }
        };
        Ok(Finished { outcome, entry })
    }
}

/// A CV upload HiBob refused because it could not fetch the link is usually an expired
/// pre-signed URL: the next listing brings a fresh one, so retry — a few times.
fn cv_upload_error(error: ApiError) -> StepError {
    match &error {
        ApiError::Invalid {
            api,
            endpoint,
            key: Some(key),
            message,
            ..
        } if key.to_ascii_lowercase().contains("url") => StepError::Failed(Failure {
            step: StepKind::Cv,
            message: format!(
                "{api} {endpoint}: HiBob could not fetch the CV from Pinpoint's link ({message}); a fresh link is used next time; will retry"
            ),
            verdict: Verdict::Retry {
                after: None,
                outcome_unknown: false,
            },
            stubborn: Some(format!(
                "HiBob could not fetch the CV from Pinpoint's link several times ({message}); check the attachment in Pinpoint"
            )),
        }),
        _ => Failure::api(StepKind::Cv, &error),
    }
}

/// Records a transient failure with its next attempt: capped exponential backoff with full
/// jitter, never before the server's own hint (`after`), and — after a write with an unknown
/// outcome — never before HiBob's read lag has passed.
#[allow(clippy::too_many_arguments)]
pub fn record_retry(
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

/// The employee a create sends (see [`crate::employee::new_employee`]), with the pass's
/// settings: `hibob.site` and `hibob.start_date_offset` as the defaults.
pub fn new_employee(
    settings: &Settings,
    first_seen: DateTime<Utc>,
    application: &HiredApplication,
    now: DateTime<Utc>,
) -> Result<(NewEmployee, crate::mapping::Values), crate::mapping::RenderError> {
    crate::employee::new_employee(
        &settings.mapping,
        &settings.site,
        settings.start_date_offset,
        first_seen,
        application,
        now,
    )
}

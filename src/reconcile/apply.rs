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

use crate::hire::EmployeeId;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::Settings;
use super::facts::Lookup;
use super::plan::{self, Draft, Drafted, Employee, FoundBy, Learned, Person, Step};
use super::policy::{self, Doing, ForHire, StepFailure};
use super::record;
use crate::crashpoint;
use crate::hibob::{CreateOutcome, HibobClient, NewEmployee};
use crate::hire::{ApplicationId, EventOutcome, HireStatus, LedgerEntry, PassId, StepKind};
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

/// A step that did not complete: what failed, for the policy to judge, or the ledger.
enum StepError {
    Failed(StepKind, StepFailure),
    Ledger(LedgerError),
}

impl From<LedgerError> for StepError {
    fn from(e: LedgerError) -> Self {
        StepError::Ledger(e)
    }
}

/// A failed API call of `step`.
fn api_failure(step: StepKind) -> impl FnOnce(crate::http::ApiError) -> StepError {
    move |error| StepError::Failed(step, StepFailure::Api(error))
}

/// One hire's run through its steps within a pass. Several run at once; they share the
/// ledger through a mutex that is never held across an await.
pub struct HireRun<'a> {
    pub ledger: &'a Mutex<Ledger>,
    pub pinpoint: &'a PinpointClient,
    pub hibob: &'a HibobClient,
    /// HiBob's Hire API, when `hibob.hire_flow` is `pending`.
    pub hire_api: Option<&'a crate::hibob::hire_api::HireApiClient>,
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

    /// The hire's row as it now is (a step may have recorded its intent before failing).
    fn reread(&self, id: &ApplicationId) -> Result<LedgerEntry, LedgerError> {
        self.write(id, |_| Ok(()))
    }

    /// Brings the hire as far as it can go now: decide, apply, decide again. `person`: what
    /// the same person's earlier hires settled this pass.
    pub async fn run(
        self,
        mut entry: LedgerEntry,
        application: &HiredApplication,
        lookup: Lookup,
        person: Person,
    ) -> Result<Finished, LedgerError> {
        let mut learned = Learned {
            person,
            ..Learned::default()
        };
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
                &learned,
                Utc::now(),
                &self.settings.rules(),
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
                Err(StepError::Failed(step, failure)) => return self.fail(entry, step, &failure),
            }
        }
    }

    /// Applies one step; returns the hire's row after it. What the step found out that the
    /// row does not say goes into `learned`, for the next decision.
    async fn apply(
        &self,
        entry: &LedgerEntry,
        application: &HiredApplication,
        step: Step,
        learned: &mut Learned,
    ) -> Result<LedgerEntry, StepError> {
        let id = &entry.application_id;
        let (pass, now) = (self.pass, Utc::now());
        match step {
            Step::AdoptEmployee {
                employee_id,
                found_by,
            } => Ok(self.adopt(entry, application, &employee_id, found_by)?),
            Step::DraftEmployee => {
                let approved = self.ledger().plugin_values_for(id)?;
                learned.draft = Some(draft(self.settings, entry, application, approved, now));
                Ok(entry.clone())
            }
            Step::CreateEmployee { draft } => self.create(id, &draft, learned).await,
            Step::SendToHr { draft } => self.send_to_hr(entry, application, &draft).await,
            Step::SearchToAdopt { email } => self.search_to_adopt(entry, &email, learned).await,
            Step::Park {
                step,
                kind,
                problem,
            } => {
                // Bad data for one hire parks that hire only; nothing was sent.
                tracing::warn!(application = %id, error = %problem, "needs attention");
                let why = policy::unsendable(id, &problem);
                Ok(self.write(id, |l| record::parked(l, id, step, kind, &why, pass, now))?)
            }
            Step::WaitForReadLag { step, until } => {
                Ok(self.write(id, |l| record::read_lag_wait(l, id, step, until, pass, now))?)
            }
            Step::FindCv { employee } => self.find_cv(id, &employee, learned).await,
            Step::UploadCv { employee, file } => self.upload_cv(id, &employee, &file).await,
            Step::RecordNoCv => {
                crashpoint::hit("ledger.cv.before");
                let entry = self.write(id, |l| record::no_cv(l, id, pass, now))?;
                crashpoint::hit("ledger.cv.after");
                Ok(entry)
            }
            Step::FindComment { employee } => self.find_comment(id, &employee, learned).await,
            Step::PostComment { employee } => self.post_comment(id, &employee).await,
            Step::MarkDone { employee } => {
                crashpoint::hit("ledger.done.before");
                let entry = self.write(id, |l| record::done(l, id, pass, now, &employee))?;
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
        employee_id: &EmployeeId,
        found_by: FoundBy,
    ) -> Result<LedgerEntry, LedgerError> {
        let id = &entry.application_id;
        let how = match found_by {
            FoundBy::Lookup => format!(
                "found HiBob employee {employee_id} by email {}",
                entry.email
            ),
            FoundBy::DuplicateEmailAnswer => {
                format!("adopted HiBob employee {employee_id} after the duplicate-email answer")
            }
            FoundBy::HrFlow => format!(
                "found HiBob employee {employee_id}, made by HR's New hire flow from the hire sent to its Pending hires (origin hr_flow)"
            ),
        };
        let origin = found_by.origin();
        crashpoint::hit("ledger.employee.before");
        let after = self.write(id, |l| {
            record::employee_adopted(l, id, employee_id, origin, self.pass, Utc::now(), &how)
        })?;
        crashpoint::hit("ledger.employee.after");
        // After the duplicate-email answer, the values our create sent were forgotten: the
        // person's fields are not ours, and nothing is measured against them. HR's employee
        // is HR's: what HR changed in the New hire flow is never drift.
        if matches!(found_by, FoundBy::DuplicateEmailAnswer | FoundBy::HrFlow) {
            return Ok(after);
        }
        self.write(id, |l| {
            record::adopted_baseline(l, self.settings, id, application, self.pass, Utc::now())
        })
    }

    async fn create(
        &self,
        id: &ApplicationId,
        draft: &Draft,
        learned: &mut Learned,
    ) -> Result<LedgerEntry, StepError> {
        let pass = self.pass;
        let fingerprint = self.settings.mapping.fingerprint();
        crashpoint::hit("ledger.employee_intent.before");
        self.write(id, |l| {
            record::create_intent(
                l,
                id,
                pass,
                Utc::now(),
                &fingerprint,
                &draft.new,
                &draft.rendered,
                draft.start_date_approved,
            )
        })?;
        crashpoint::hit("ledger.employee_intent.after");
        let outcome = self
            .hibob
            .create_employee(&draft.new)
            .await
            .map_err(api_failure(StepKind::Employee))?;
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
            CreateOutcome::EmailExists => {
                let email = &draft.new.email;
                let entry =
                    self.write(id, |l| record::email_taken(l, id, email, pass, Utc::now()))?;
                learned.email_taken = Some(email.clone());
                Ok(entry)
            }
        }
    }

    /// Sends the hire to HiBob's ATS Pending hires, once. The intent (the hire waiting for HR,
    /// its delivery unconfirmed) is committed first; Bob offers no read of its pending hires,
    /// so an answer that leaves the outcome unknown keeps it unconfirmed and is never sent
    /// again by itself. Only an answer proving nothing reached HR (refused, never sent) makes
    /// the hire sendable again, under the error policy's retry or park.
    async fn send_to_hr(
        &self,
        entry: &LedgerEntry,
        application: &HiredApplication,
        draft: &Draft,
    ) -> Result<LedgerEntry, StepError> {
        let id = &entry.application_id;
        let pass = self.pass;
        let Some(hire_api) = self.hire_api else {
            // The config refuses `pending` without the Hire API; never create instead.
            return Err(StepError::Failed(
                StepKind::Employee,
                StepFailure::Api(crate::http::ApiError::Unauthorized {
                    api: crate::http::Api::Hibob,
                    endpoint: crate::hibob::hire_api::HIRE_POST_NAME,
                    status: 0,
                    hint: "hibob.hire_flow is \"pending\" but the Hire API is not configured: set hibob.hire_api_url and HIBOB_HIRE_API_AUTHORIZATION".into(),
                }),
            ));
        };
        let fingerprint = self.settings.mapping.fingerprint();
        crashpoint::hit("ledger.hr_intent.before");
        self.write(id, |l| {
            record::hr_intent(l, id, pass, Utc::now(), &fingerprint, draft)
        })?;
        crashpoint::hit("ledger.hr_intent.after");
        let document = crate::hibob::hire_document::HireDocument::new(
            application,
            &draft.new,
            &self.settings.pinpoint_application_link(id),
        );
        match hire_api.post(&document).await {
            Ok(_) => {
                crashpoint::hit("ledger.hr_sent.before");
                let after = self.write(id, |l| record::hr_delivered(l, id, pass, Utc::now()))?;
                crashpoint::hit("ledger.hr_sent.after");
                tracing::info!(application = %id, "sent to HiBob's Pending hires; waiting for HR");
                Ok(after)
            }
            Err(e) if e.may_have_been_delivered() => {
                tracing::warn!(application = %id, error = %e, "Hire API post unconfirmed; not sent again");
                let reason = e.to_string();
                Ok(self.write(id, |l| {
                    record::hr_unconfirmed(l, id, pass, Utc::now(), &reason)
                })?)
            }
            Err(e) => {
                let reason = e.to_string();
                self.write(id, |l| {
                    record::hr_not_sent(l, id, pass, Utc::now(), &reason)
                })?;
                Err(StepError::Failed(
                    StepKind::Employee,
                    StepFailure::Api(e.into()),
                ))
            }
        }
    }

    /// HiBob answered a create with "email exists": emails are unique, so the person is
    /// there. Found: learned, to be adopted; not created by this request, so its fields are
    /// not ours to update.
    async fn search_to_adopt(
        &self,
        entry: &LedgerEntry,
        email: &str,
        learned: &mut Learned,
    ) -> Result<LedgerEntry, StepError> {
        let found = self
            .hibob
            .search_by_emails(&[email.to_owned()])
            .await
            .map_err(api_failure(StepKind::Employee))?;
        match found
            .into_iter()
            .find(|f| crate::identity::same_address(&f.email, email))
        {
            Some(hit) => {
                learned.taken_by = Some(hit.id);
                Ok(entry.clone())
            }
            None => Err(StepError::Failed(
                StepKind::Employee,
                StepFailure::EmailTakenButUnseen {
                    email: email.to_owned(),
                },
            )),
        }
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
            .map_err(api_failure(StepKind::Cv))?;
        let Some(doc) = documents.iter().find(|d| d.name.contains(&marker)) else {
            learned.no_cv_of_ours = true;
            return Ok(self.reread(id)?);
        };
        crashpoint::hit("ledger.cv.before");
        let entry = self.write(id, |l| {
            record::cv(
                l,
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
            // The pre-signed link is a credential of sorts: never in the ledger or the log.
            .await
            .map_err(|e| api_failure(StepKind::Cv)(e.redact(&file.url)))?;
        crashpoint::hit("ledger.cv.before");
        let entry = self.write(id, |l| {
            record::cv(
                l,
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
            .map_err(api_failure(StepKind::Comment))?;
        let Some(ours) = comments
            .iter()
            .find(|c| plan::is_our_comment(&c.body_text, &employee.id))
        else {
            learned.no_comment_of_ours = true;
            return Ok(self.reread(id)?);
        };
        crashpoint::hit("ledger.comment.before");
        let entry = self.write(id, |l| {
            record::comment(l, id, &ours.id, EventOutcome::Found, self.pass, Utc::now())
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
            .map_err(api_failure(StepKind::Comment))?;
        crashpoint::hit("ledger.comment.before");
        let entry = self.write(id, |l| {
            record::comment(
                l,
                id,
                &comment_id,
                EventOutcome::Posted,
                self.pass,
                Utc::now(),
            )
        })?;
        crashpoint::hit("ledger.comment.after");
        Ok(entry)
    }

    /// Records a failed step as the policy says, and ends the hire's turn.
    fn fail(
        &self,
        entry: LedgerEntry,
        step: StepKind,
        failure: &StepFailure,
    ) -> Result<Finished, LedgerError> {
        let id = entry.application_id.clone();
        let (pass, now) = (self.pass, Utc::now());
        let park = |kind, why: &str| {
            self.write(&id, |l| record::parked(l, &id, step, kind, why, pass, now))
        };
        let (outcome, entry) = match policy::for_hire(
            &id,
            Doing::Step(step),
            failure,
            entry.failures,
        ) {
            ForHire::Interrupted => (HireOutcome::Interrupted, self.reread(&id)?),
            ForHire::StopPass { message, why } => {
                self.halted.store(true, Ordering::SeqCst);
                tracing::error!(application = %id, step = step.as_str(), error = %message, "credentials refused; stopping the pass");
                let entry = park(crate::hire::ParkKind::Unauthorized, &why)?;
                (HireOutcome::Refused(message), entry)
            }
            ForHire::Retry {
                message,
                after,
                outcome_unknown,
            } => {
                tracing::warn!(application = %id, step = step.as_str(), error = %message, "will retry");
                let entry = self.write(&id, |l| {
                    record::retry(
                        l,
                        self.settings,
                        &entry,
                        step,
                        &message,
                        after,
                        outcome_unknown,
                        pass,
                    )
                })?;
                (HireOutcome::Waiting, entry)
            }
            ForHire::Park { kind, why } => {
                tracing::warn!(application = %id, step = step.as_str(), error = %why, "needs attention");
                (HireOutcome::Parked, park(kind, &why)?)
            }
        };
        Ok(Finished { outcome, entry })
    }
}

/// What a create would send: the mapping's values, with what HR approved in Pinpoint's
/// plugin form (`approved`, as the ledger keeps it) in their place.
pub fn draft(
    settings: &Settings,
    entry: &LedgerEntry,
    application: &HiredApplication,
    approved: Option<BTreeMap<String, String>>,
    now: DateTime<Utc>,
) -> Drafted {
    let (new, rendered) = match new_employee(settings, entry.first_seen_at, application, now) {
        Ok(found) => found,
        Err(e) => return Drafted::Unsendable(e.to_string()),
    };
    // A start date HR entered (or confirmed) in the form came from Pinpoint, not from the
    // offset: nobody has to confirm it again.
    let start_date_approved = approved
        .as_ref()
        .is_some_and(|v| v.contains_key(crate::mapping::START_DATE));
    let new: NewEmployee = match &approved {
        Some(values) => crate::employee::with_approved(new, values),
        None => new,
    };
    Drafted::Ready(Box::new(Draft {
        new,
        rendered,
        start_date_approved,
    }))
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

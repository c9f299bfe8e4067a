//! After a complete listing: the hires it no longer shows. An open hire that left the Hired
//! stage is `withdrawn` (no further write; an employee already made is reported, never
//! deleted); a done one is flagged `unhired_at` for HR. Each is confirmed by reading the
//! application first — a listing that merely missed a hire proves nothing.
//!
//! Costs nothing on a settled tenant: one indexed query finds no candidate. Bounded per pass,
//! so a mass move out of Hired is followed over several passes, not in one burst of reads.

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::policy::{self, Doing, ForHire, StepFailure};
use super::proof::{self, Proof};
use super::{PassSummary, Reconciler, Stop};
use crate::hire::{
    EmployeeId, EmployeeOrigin, EmployeeStep, HireStatus, LedgerEntry, ParkKind, PassId, StepState,
};
use crate::ledger::{Ledger, LedgerError};

/// At most this many unlisted hires are read per pass.
const PER_PASS: usize = 50;

/// What one unlisted hire's read showed.
enum Still {
    Hired,
    Gone(String),
    /// Could not tell now (a transient error, or an in-flight create still within HiBob's lag).
    Unknown,
}

impl Reconciler {
    /// Follows the hires a complete listing that started at `listed_from` did not show.
    pub(super) async fn follow_unlisted(
        &self,
        pass: PassId,
        listed_from: DateTime<Utc>,
        summary: &mut PassSummary,
        shutdown: &CancellationToken,
    ) -> Result<Option<Stop>, LedgerError> {
        let parts = &self.parts;
        let candidates = parts.ledger().unlisted_hires(
            listed_from,
            listed_from - Ledger::LAST_SEEN_RESOLUTION,
            PER_PASS,
        )?;
        if candidates.is_empty() {
            return Ok(None);
        }
        let stages = parts.hired_stages()?;
        for entry in candidates {
            if shutdown.is_cancelled() {
                return Ok(Some(Stop::Shutdown));
            }
            // A nudge working it knows better: leave it.
            let Some(_claim) = parts.claims.try_claim(&entry.application_id) else {
                continue;
            };
            let gone = match self.still_hired(&entry, &stages).await {
                Ok(still) => still,
                Err(stop) => return Ok(Some(stop)),
            };
            let Still::Gone(why) = gone else { continue };
            if entry.status == HireStatus::Done {
                let detail = format!(
                    "{why}; the HiBob employee {} stays as it is: check it in HiBob (hirebridge never deletes)",
                    entry.hibob_employee_id().unwrap_or("?")
                );
                tracing::warn!(application = %entry.application_id, "a done hire left the Hired stage: {detail}");
                parts
                    .ledger()
                    .record_unhired(&entry.application_id, &detail, pass, Utc::now())?;
                summary.unhired += 1;
            } else if let Some(employee) = self.settle_employee(pass, &entry).await? {
                // Nothing to delete in Bob; HR may want to dismiss what it was sent.
                let with_hr = if entry.with_hr().is_some() {
                    "; it was sent to HiBob's ATS Pending hires: HR may want to dismiss it there"
                } else {
                    ""
                };
                let detail = match employee {
                    Some(id) => format!(
                        "{why}; left the Hired stage before it was done: nothing more is written; the HiBob employee {id} exists and was not deleted"
                    ),
                    None => format!(
                        "{why}; left the Hired stage before it was done: nothing more is written"
                    ),
                } + with_hr;
                tracing::info!(application = %entry.application_id, "withdrawn: {detail}");
                parts.ledger().record_withdrawn(
                    &entry.application_id,
                    &detail,
                    pass,
                    Utc::now(),
                )?;
                summary.withdrawn += 1;
            }
        }
        Ok(None)
    }

    /// Whether an unlisted hire is still hired, from one read of its application.
    async fn still_hired(
        &self,
        entry: &LedgerEntry,
        stages: &proof::HiredStages,
    ) -> Result<Still, Stop> {
        let read = self
            .parts
            .pinpoint
            .application_with_stage(&entry.application_id)
            .await;
        let one = match read {
            Ok(one) => one,
            Err(e) => {
                let failure = StepFailure::Api(e.clone());
                return match policy::for_hire(
                    &entry.application_id,
                    Doing::ReadApplication,
                    &failure,
                    entry.failures,
                ) {
                    ForHire::Park {
                        kind: ParkKind::NotFound,
                        ..
                    } => Ok(Still::Gone(
                        "Pinpoint no longer shows the application".into(),
                    )),
                    decided if decided.stops() => Err(Stop::Refused(e.to_string())),
                    _ => {
                        tracing::debug!(application = %entry.application_id, error = %e, "could not read an unlisted hire; next pass");
                        Ok(Still::Unknown)
                    }
                };
            }
        };
        Ok(match &one.record {
            Ok(application) => {
                match proof::single_read(application, one.stage_group.as_deref(), stages) {
                    Proof::Hired(_) => Still::Hired,
                    Proof::NotHired(why) => Still::Gone(why),
                    Proof::Unproven => Still::Gone(
                        "no longer in the hired-stage listing, and its stage is not a known hired stage".into(),
                    ),
                }
            }
            Err(_) => Still::Gone(
                "no longer in the hired-stage listing (and its record is unusable)".into(),
            ),
        })
    }

    /// The employee a withdrawn hire has, once known: an in-flight create is first resolved by
    /// a search (adopting what it made). `None` when that cannot be told yet (a search failed,
    /// or HiBob's read lag may still hide the employee): the hire is looked at again next pass.
    async fn settle_employee(
        &self,
        pass: PassId,
        entry: &LedgerEntry,
    ) -> Result<Option<Option<EmployeeId>>, LedgerError> {
        let parts = &self.parts;
        if entry.employee.state() != StepState::InFlight {
            return Ok(Some(entry.employee_id().cloned()));
        }
        // The create went out under the mapped work address when there is one: it is in the
        // values recorded with the create's intent.
        let work = parts
            .ledger()
            .mapped_values(&[entry.application_id.as_str()])?
            .remove(entry.application_id.as_str())
            .and_then(|record| {
                crate::mapping::WORK_EMAIL
                    .iter()
                    .find_map(|f| record.rendered.get(*f).cloned())
            });
        let addresses = super::facts::HireAddresses {
            candidate: &entry.email,
            work: work.as_deref(),
        };
        let emails: Vec<String> = std::iter::once(entry.email.clone())
            .chain(work.clone())
            .collect();
        let found = match parts.hibob.search_by_emails(&emails).await {
            Ok(found) => found,
            Err(_) => return Ok(None),
        };
        if let Some(employee) = found.iter().find(|f| addresses.matches(f)) {
            parts.ledger().record_employee(
                &entry.application_id,
                &employee.id,
                EmployeeOrigin::Adopted,
                pass,
                Utc::now(),
                "found by email while following a withdrawn hire (its create's outcome was unknown)",
            )?;
            return Ok(Some(Some(employee.id.clone())));
        }
        let lag = parts.settings.read_lag;
        let within_lag =
            matches!(entry.employee, EmployeeStep::InFlight { since } if Utc::now() - since < lag);
        Ok((!within_lag).then_some(None))
    }
}

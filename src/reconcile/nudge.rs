//! Reconciling one application on demand, when a webhook says it was hired: one GET instead
//! of a listing pass, then the same planner and steps as a pass.
//!
//! Owns the decision whether a nudge leads to work (the ledger says done, the application is
//! unknown or not hired, another task holds it). It adds no step logic of its own: the work
//! is the pass pipeline's observe → facts → execute ([`super::pipeline`]), recorded as a
//! pass with the trigger `webhook`. A nudge only ever makes things faster; anything it drops, the scheduled poll
//! still finds.

use crate::hire::ApplicationId;
use std::collections::HashMap;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::gate::WritesAllowed;
use super::policy::{self, Doing, ForHire, StepFailure};
use super::proof;
use super::{Parts, PassSummary};
use crate::hire::{HireOutcome, NudgeOutcome};
use crate::hire::{HireStatus, ParkKind, PassId};
use crate::http::{EndpointCounts, EndpointKey};
use crate::ledger::LedgerError;
use crate::pinpoint::{HiredApplication, UnusableRecord};

/// The trigger recorded for the passes nudges start, so `history` tells them apart.
pub const TRIGGER: &str = "webhook";

/// Reconciles single applications beside the scheduled passes, with the same ledger,
/// clients (so the same gates and rate limits), settings and claims. Cheap to clone.
#[derive(Clone)]
pub struct Nudger {
    pub(super) parts: Parts,
    /// Recorded as the trigger of the passes this handle starts ([`TRIGGER`] by default).
    trigger: &'static str,
}

impl Nudger {
    pub(crate) fn new(parts: Parts) -> Self {
        Self {
            parts,
            trigger: TRIGGER,
        }
    }

    /// The same handle, recording its passes under `trigger` (e.g. `plugin`), so `history`
    /// says what brought each hire in.
    pub fn triggered_by(mut self, trigger: &'static str) -> Self {
        self.trigger = trigger;
        self
    }

    /// Hires in the ledger by status, for health checks and metrics.
    pub fn hire_counts(&self) -> Result<Vec<(HireStatus, u64)>, LedgerError> {
        self.parts.ledger().count_by_status()
    }

    /// The last API contract check the ledger holds, for `/metrics`.
    pub fn contract_report(&self) -> Result<Option<crate::contract::ContractReport>, LedgerError> {
        self.parts.stored_contract()
    }

    /// Requests the clients have sent, per endpoint and answer, since the process started.
    pub fn api_requests(&self) -> Vec<(EndpointKey, EndpointCounts)> {
        self.parts.http.endpoint_stats()
    }

    /// Brings one application as far as it can go now. Ledger errors are returned (nothing
    /// can be recorded safely); every other problem is an outcome.
    pub async fn reconcile_one(
        &self,
        application_id: &ApplicationId,
        shutdown: &CancellationToken,
    ) -> Result<NudgeOutcome, LedgerError> {
        let parts = &self.parts;
        // Held until the last step is recorded, so no pass plans from this row meanwhile.
        let Some(_claim) = parts.claims.try_claim(application_id) else {
            tracing::debug!(
                application = %application_id,
                "being worked by the scheduled pass; the nudge leaves it to the pass"
            );
            return Ok(NudgeOutcome::Deferred);
        };
        // The ledger first: a replayed webhook for a settled hire costs no API call.
        if let Some(entry) = parts.ledger().entry(application_id)?
            && !entry.is_due(Utc::now())
        {
            return Ok(NudgeOutcome::Settled);
        }
        if let Some(outcome) = self.writes_stopped(application_id)? {
            return Ok(outcome);
        }
        let record = match self.read_proven(application_id).await? {
            Ok(record) => record,
            Err(outcome) => return Ok(outcome),
        };
        let pass = parts.ledger().begin_pass(self.trigger, Utc::now())?;
        let mut summary = PassSummary::default();
        let outcome = self.work(pass, record, &mut summary, shutdown).await?;
        parts.ledger().finish_pass(
            pass,
            Utc::now(),
            outcome.as_str(),
            &serde_json::to_string(&summary).unwrap_or_default(),
        )?;
        parts.seal_audit_trail(None);
        Ok(outcome)
    }

    /// No write before the API contract is known to hold; the pass checks it.
    fn writes_stopped(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Option<NudgeOutcome>, LedgerError> {
        Ok(match self.parts.writes_allowed(Utc::now())? {
            WritesAllowed::Yes => None,
            WritesAllowed::CheckDue => {
                tracing::info!(
                    application = %application_id,
                    "a webhook nudge waits for the API contract check; a pass is asked for"
                );
                Some(NudgeOutcome::Unproven)
            }
            WritesAllowed::Stopped(why) => {
                tracing::warn!(
                    application = %application_id,
                    "a webhook nudge writes nothing: {why}"
                );
                Some(NudgeOutcome::WritesStopped)
            }
        })
    }

    /// Reads the application and keeps it only when Pinpoint's answer proves it is hired
    /// now, whatever the event said: a stage-changed event fires for every move, and a hired
    /// event may be stale. `Err`: why the nudge ends here.
    pub(super) async fn read_proven(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Result<Result<HiredApplication, UnusableRecord>, NudgeOutcome>, LedgerError> {
        let parts = &self.parts;
        let one = match parts.pinpoint.application_with_stage(application_id).await {
            Ok(one) => one,
            Err(e) => {
                let failure = StepFailure::Api(e.clone());
                let (outcome, what) = match policy::for_hire(
                    application_id,
                    Doing::ReadApplication,
                    &failure,
                    0,
                ) {
                    ForHire::Park {
                        kind: ParkKind::NotFound,
                        ..
                    } => (
                        NudgeOutcome::NotFound,
                        "a webhook named an application Pinpoint does not show; dropped",
                    ),
                    decided if decided.stops() => (
                        NudgeOutcome::Refused,
                        "cannot read the application a webhook named",
                    ),
                    _ => (
                        NudgeOutcome::Failed,
                        "cannot read the application a webhook named; the scheduled poll will pick it up",
                    ),
                };
                tracing::warn!(application = %application_id, error = %e, "{what}");
                return Ok(Err(outcome));
            }
        };
        let verdict = match &one.record {
            Ok(application) => proof::single_read(
                application,
                one.stage_group.as_deref(),
                &parts.hired_stages()?,
            ),
            // An unusable record shows no stage: the listing decides whether it is a hire.
            Err(_) => proof::Proof::Unproven,
        };
        match verdict {
            proof::Proof::Hired(why) => {
                tracing::debug!(application = %application_id, "proven hired: {why}");
            }
            proof::Proof::NotHired(why) => {
                tracing::info!(
                    application = %application_id,
                    "a webhook named an application that is not hired now ({why}); dropped"
                );
                return Ok(Err(NudgeOutcome::NotHired));
            }
            proof::Proof::Unproven => {
                tracing::info!(
                    application = %application_id,
                    "a webhook named an application whose stage is not known to be hired; nothing written, the next listing decides"
                );
                return Ok(Err(NudgeOutcome::Unproven));
            }
        }
        if let Ok(application) = &one.record
            && application.id != *application_id
        {
            tracing::warn!(
                application = %application_id,
                answered = %application.id,
                "Pinpoint answered with another application's id; dropped"
            );
            return Ok(Err(NudgeOutcome::Failed));
        }
        // An unusable record is parked under the id the webhook named, whatever it lacks.
        Ok(Ok(one.record.map_err(|mut bad| {
            bad.id.get_or_insert_with(|| application_id.clone());
            bad
        })))
    }

    /// The pass's own stages for one application: observe, gather facts, execute.
    pub(super) async fn work(
        &self,
        pass: PassId,
        record: Result<HiredApplication, UnusableRecord>,
        summary: &mut PassSummary,
        shutdown: &CancellationToken,
    ) -> Result<NudgeOutcome, LedgerError> {
        let parts = &self.parts;
        let now = Utc::now();
        summary.listed = 1;
        let application = match record {
            Ok(application) => application,
            Err(bad) => {
                parts.record_unusable(pass, now, std::slice::from_ref(&bad), summary)?;
                return Ok(NudgeOutcome::Unusable);
            }
        };
        let applications = std::slice::from_ref(&application);
        let entries = parts.observe(pass, now, applications, summary)?;
        let due: Vec<_> = entries.into_iter().filter(|e| e.is_due(now)).collect();
        if due.is_empty() {
            return Ok(NudgeOutcome::Settled);
        }
        let by_id: HashMap<&str, &HiredApplication> =
            [(application.id.as_str(), &application)].into();
        let facts = parts
            .gather_lookups(&due, &by_id, &mut Default::default())
            .await?;
        let lookups = match parts.record_facts(pass, &due, facts, summary)? {
            Ok(lookups) => lookups,
            Err(_) => return Ok(NudgeOutcome::Refused),
        };
        // No lookup means the search failed or a person must choose; that is recorded.
        if !lookups.contains_key(&application.id) {
            return Ok(if summary.parked > 0 {
                NudgeOutcome::Parked
            } else {
                NudgeOutcome::Waiting
            });
        }
        let (finished, _) = parts
            .execute(pass, due, &by_id, &lookups, summary, shutdown, &|_| {})
            .await?;
        Ok(match finished.first().map(|f| &f.outcome) {
            Some(HireOutcome::Done) => NudgeOutcome::Done,
            Some(HireOutcome::Parked) => NudgeOutcome::Parked,
            Some(HireOutcome::Refused(_)) => NudgeOutcome::Refused,
            Some(HireOutcome::Interrupted) => NudgeOutcome::Interrupted,
            Some(HireOutcome::Waiting) | None => NudgeOutcome::Waiting,
        })
    }
}

//! The API contract as a gate on writes: the stored verdict of the contract check
//! ([`crate::contract`]), when to check again, and the per-page guard that stops a pass at a
//! listing page contradicting its own filter.
//!
//! Reads and writes only the contract report in the ledger; writes nothing remote.

use chrono::Utc;

use super::{Parts, PassSummary, Stop, proof};
use crate::contract::{self, ContractReport};
use crate::ledger::LedgerError;
use crate::pinpoint::HiredApplication;

/// What the last contract check says about writing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WritesAllowed {
    Yes,
    /// Never checked, out of date, or made under other settings: a pass checks first.
    CheckDue,
    /// An assumption writes depend on failed: what, and the fix.
    Stopped(String),
}

impl Parts {
    /// The last contract report the ledger holds, if it reads.
    pub(super) fn stored_contract(&self) -> Result<Option<ContractReport>, LedgerError> {
        Ok(self
            .ledger()
            .contract_report()?
            .and_then(|json| serde_json::from_str(&json).ok()))
    }

    pub(super) fn store_contract(&self, report: &ContractReport) -> Result<(), LedgerError> {
        let json = serde_json::to_string(report).unwrap_or_default();
        self.ledger().record_contract_report(&json)
    }

    /// Whether writes may happen now on the last contract check's word, without checking
    /// again (for nudges).
    pub(super) fn writes_allowed(
        &self,
        now: chrono::DateTime<Utc>,
    ) -> Result<WritesAllowed, LedgerError> {
        let asked = contract::asked(&self.pinpoint, self.settings.search_batch_size);
        Ok(match self.stored_contract()? {
            None => WritesAllowed::CheckDue,
            Some(report) => match report.stop_message() {
                Some(message) => WritesAllowed::Stopped(message),
                None if report.needs_recheck(now, &asked) => WritesAllowed::CheckDue,
                None => WritesAllowed::Yes,
            },
        })
    }

    /// The contract a pass works under: the stored report while it is fresh and holds, else
    /// a new check (read-only probes, about 7 requests: at startup, then daily, and while
    /// writes are stopped). `Err(stop)`: the pass must write nothing.
    pub(super) async fn contract_for_pass(
        &self,
        now: chrono::DateTime<Utc>,
    ) -> Result<Result<ContractReport, Stop>, LedgerError> {
        let asked = contract::asked(&self.pinpoint, self.settings.search_batch_size);
        let report = match self.stored_contract()? {
            Some(report) if !report.needs_recheck(now, &asked) => report,
            _ => {
                let report = match self.probe_contract(now).await? {
                    Ok(report) => report,
                    Err(refused) => return Ok(Err(Stop::Refused(refused.0))),
                };
                self.store_contract(&report)?;
                log_contract(&report);
                report
            }
        };
        *self.fallbacks.lock().unwrap_or_else(|e| e.into_inner()) = report.fallbacks();
        let broken = report
            .stopping()
            .iter()
            .any(|f| f.outcome == contract::Outcome::Broken);
        Ok(match report.stop_message() {
            Some(message) if broken => Err(Stop::ContractBroken(message)),
            Some(message) => Err(Stop::ContractUnchecked(message)),
            None => Ok(report),
        })
    }

    /// Runs the contract probes, with the employees the ledger knows as witnesses.
    pub(super) async fn probe_contract(
        &self,
        now: chrono::DateTime<Utc>,
    ) -> Result<Result<ContractReport, contract::Refused>, LedgerError> {
        let witnesses = self.ledger().employee_witnesses(20)?;
        let probes = contract::Probes {
            pinpoint: &self.pinpoint,
            hibob: &self.hibob,
            search_batch: self.settings.search_batch_size,
            witnesses: &witnesses,
        };
        Ok(contract::verify(&probes, now).await)
    }

    /// Why a pass would write nothing now, for a dry run: the stored contract report while
    /// it is fresh, else a new check that is not stored (a dry run writes nothing).
    pub(super) async fn contract_preview(
        &self,
        now: chrono::DateTime<Utc>,
    ) -> Result<Option<String>, LedgerError> {
        let asked = contract::asked(&self.pinpoint, self.settings.search_batch_size);
        let report = match self.stored_contract()? {
            Some(report) if !report.needs_recheck(now, &asked) => report,
            _ => match self.probe_contract(now).await? {
                Ok(report) => report,
                Err(refused) => return Ok(Some(refused.0)),
            },
        };
        *self.fallbacks.lock().unwrap_or_else(|e| e.into_inner()) = report.fallbacks();
        Ok(report.stop_message())
    }

    /// A listing page contradicted its filter: record it, so `status` names it and the next
    /// pass checks the contract again.
    pub(super) fn record_broken_listing(
        &self,
        finding: contract::Finding,
    ) -> Result<Stop, LedgerError> {
        let now = Utc::now();
        let report = self.stored_contract()?.unwrap_or_else(|| ContractReport {
            checked_at: now,
            asked: contract::asked(&self.pinpoint, self.settings.search_batch_size),
            findings: Vec::new(),
        });
        let report = report.with_finding(finding);
        self.store_contract(&report)?;
        let message = report.stop_message().unwrap_or_default();
        tracing::error!("nothing is written: {message}");
        Ok(Stop::ContractBroken(message))
    }

    /// Checks a listing page against the hired-stage filter before anything of it is used.
    /// A record contradicts the filter when it was rejected, is in a stage other than the
    /// configured hired stages, or (nothing configured) has no `hired_at` and a stage that no
    /// hire has shown to be hired. One such record stops the pass: nothing is written, and
    /// the contract is checked again next pass.
    pub(super) fn guard_page(
        &self,
        page_number: u32,
        applications: &[HiredApplication],
        summary: &mut PassSummary,
    ) -> Result<Option<Stop>, LedgerError> {
        let Some(contradiction) = self.page_contradiction(applications)? else {
            return Ok(None);
        };
        summary.contradicted += contradiction.0.len();
        let finding = contract::contradicting_page(
            page_number,
            &contradiction.describe(),
            &contract::stage_filter_fix(&self.pinpoint),
        );
        self.record_broken_listing(finding).map(Some)
    }

    /// The records of a page that contradict the hired-stage filter, judged against what
    /// earlier pages and passes taught, never against what this page would teach: a page
    /// must not vouch for itself.
    pub(super) fn page_contradiction(
        &self,
        applications: &[HiredApplication],
    ) -> Result<Option<Contradiction>, LedgerError> {
        let known = self.hired_stages()?;
        let all = proof::page_contradictions(applications, &self.settings.hired_stage_ids, &known);
        Ok((!all.is_empty()).then_some(Contradiction(all)))
    }
}

/// A listing page's records that contradict the filter (never empty): each id, with why.
pub(super) struct Contradiction(pub Vec<(String, String)>);

impl Contradiction {
    fn describe(&self) -> String {
        let (id, why) = &self.0[0];
        format!(
            "application {id}: {why}{}",
            match self.0.len() {
                1 => String::new(),
                n => format!(" (and {} more on the page)", n - 1),
            }
        )
    }
}

/// Logs a fresh contract report: a summary, and each failed assumption with its fix.
fn log_contract(report: &ContractReport) {
    use contract::Outcome;
    let count = |o: Outcome| report.findings.iter().filter(|f| f.outcome == o).count();
    tracing::info!(
        holds = count(Outcome::Holds),
        broken = count(Outcome::Broken),
        unproven = count(Outcome::Unproven),
        unchecked = count(Outcome::Unchecked),
        "checked the API contract"
    );
    for f in &report.findings {
        let fix = f.fix.as_deref().unwrap_or("");
        match f.outcome {
            Outcome::Holds => tracing::debug!(assumption = %f.assumption, "{}", f.seen),
            Outcome::Unproven => tracing::info!(assumption = %f.assumption, "unproven: {}", f.seen),
            _ if f.stops_writes => {
                tracing::error!(assumption = %f.assumption, fix, "{}; nothing is written", f.seen)
            }
            _ => tracing::warn!(assumption = %f.assumption, fix, "{}", f.seen),
        }
    }
}

//! Each pass, the hires waiting for HR (sent to HiBob's ATS Pending hires) that its listing
//! did not show: a listing of what changed rarely shows them, since HR's work in HiBob does
//! not touch the application. Their employees are looked up in batches, as a page's are;
//! a hire whose employee HR's New hire flow made is then read from Pinpoint and finished like
//! a nudged one (proof of hire, the CV unless HiBob holds it, the comment back).
//!
//! Costs nothing while nobody waits (one indexed query), and searches only, never a listing,
//! while hires wait: a pass stays O(changed) however long HR takes. Nothing here is ever sent
//! to the Hire API: a hire waiting for HR is never sent again by itself.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::facts::Lookup;
use super::{PassSummary, Reconciler, Stop};
use crate::hire::{HireFlow, LedgerEntry, PassId};
use crate::ledger::LedgerError;

/// At most this many waiting hires are looked up per pass (the oldest-seen first, so every
/// one has its turn).
const PER_PASS: usize = 1000;

impl Reconciler {
    /// Looks for the employees of the hires waiting for HR that the listing which started at
    /// `listed_from` did not show, and finishes those HR has made.
    pub(super) async fn follow_waiting(
        &mut self,
        pass: PassId,
        listed_from: DateTime<Utc>,
        summary: &mut PassSummary,
        shutdown: &CancellationToken,
    ) -> Result<Option<Stop>, LedgerError> {
        let now = Utc::now();
        let waiting = self
            .parts
            .ledger()
            .waiting_for_hr_unlisted(listed_from, now, PER_PASS)?;
        if waiting.is_empty() {
            return Ok(None);
        }
        // A nudge working one knows better: leave it to the nudge.
        let mut claims = HashMap::new();
        let due: Vec<LedgerEntry> = waiting
            .into_iter()
            .filter(|e| match self.parts.claims.try_claim(&e.application_id) {
                Some(claim) => {
                    claims.insert(e.application_id.clone(), claim);
                    true
                }
                None => false,
            })
            .collect();
        let facts = self
            .parts
            .gather_lookups(&due, &HashMap::new(), &mut self.directory)
            .await?;
        let lookups = match self.parts.record_facts(pass, &due, facts, summary)? {
            Ok(lookups) => lookups,
            Err(stop) => return Ok(Some(stop)),
        };
        let direct = self.parts.settings.hire_flow == HireFlow::Direct;
        let nudger = self.nudger();
        for entry in &due {
            if shutdown.is_cancelled() {
                return Ok(Some(Stop::Shutdown));
            }
            // Found: HR made the employee. Not found: still with HR, unless the flow is now
            // `direct`, where the plan asks a person (creating could make a second employee).
            let work = match lookups.get(&entry.application_id) {
                Some(Lookup::Found { .. }) => true,
                Some(Lookup::NotFound) => direct,
                _ => false,
            };
            if !work {
                continue;
            }
            // The nudge's own path, in this pass: read and prove the application, then the
            // pass's steps. That path claims nothing itself: this hire's claim, taken above,
            // stays held until the function returns, so no nudge works it meanwhile.
            match nudger.read_proven(&entry.application_id).await? {
                Ok(record) => {
                    nudger.work(pass, record, summary, shutdown).await?;
                }
                Err(outcome) => {
                    // Not provably hired now: the next full listing settles it.
                    tracing::debug!(application = %entry.application_id, outcome = outcome.as_str(), "a hire waiting for HR was not worked");
                }
            }
        }
        Ok(None)
    }
}

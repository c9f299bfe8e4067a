//! One reconcile pass: list hired applications page by page, merge them into the ledger,
//! look up employees in batches, then plan ([`plan`]) and apply ([`apply`]) each due hire's
//! steps.
//!
//! Owns the order of effects and the crash-recovery rules; it does no SQL of its own (the
//! ledger does) and no HTTP of its own (the clients do). Pages are processed as they arrive,
//! so memory stays flat however many hires a tenant has, and a CV's pre-signed URL is used
//! in the same pass that read it.

pub mod apply;
pub mod dry_run;
pub mod plan;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, CvFolder, RetryConfig};
use crate::hibob::HibobClient;
use crate::http::HttpClient;
use crate::ledger::{HireStatus, Ledger, LedgerEntry, LedgerError, ObservedHire, PassId, StepKind};
use crate::pinpoint::{HiredApplication, PinpointClient};
pub use plan::{Lookup, Step};

/// What a pass needs from the configuration beyond the clients.
#[derive(Debug, Clone)]
pub struct Settings {
    pub site: String,
    pub start_date_offset: Duration,
    pub cv_folder: CvFolder,
    pub read_lag: Duration,
    pub search_batch_size: usize,
    pub retry: RetryConfig,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            site: config.hibob.site.clone(),
            start_date_offset: config.hibob.start_date_offset,
            cv_folder: config.hibob.cv_folder,
            read_lag: config.hibob.read_lag,
            search_batch_size: config.hibob.search_batch_size,
            retry: config.retry,
        }
    }
}

/// Counts for the one-line summary and the `passes` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PassSummary {
    /// Hired applications in the listing (usable or not).
    pub listed: usize,
    /// Hires seen for the first time.
    pub new: usize,
    /// Hires this pass brought to done.
    pub completed: usize,
    /// Hires this pass left waiting (transient failure or HiBob's read lag).
    pub retrying: usize,
    /// Hires this pass parked.
    pub parked: usize,
    /// Listed records that cannot be used (no email, …).
    pub unusable: usize,
}

/// Why a pass ended early. The steps already applied stay applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A credential or permission was refused: continuing would only hammer the API.
    Unauthorized(String),
    /// The listing could not be read; the hires it would have shown wait for the next pass.
    ListingFailed(String),
    /// Shutdown was requested; the step in flight finished first.
    Shutdown,
}

#[derive(Debug, Clone)]
pub struct PassReport {
    pub pass: PassId,
    pub summary: PassSummary,
    pub stopped: Option<Stop>,
    /// Ledger-wide counts after the pass.
    pub totals: Vec<(HireStatus, u64)>,
}

impl PassReport {
    pub fn total(&self, status: HireStatus) -> u64 {
        self.totals
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }

    /// One line for people and logs.
    pub fn one_line(&self) -> String {
        let s = &self.summary;
        let mut line = format!(
            "{} hired listed, {} new, {} completed this pass; ledger: {} done, {} pending, {} failed, {} need attention",
            s.listed,
            s.new,
            s.completed,
            self.total(HireStatus::Done),
            self.total(HireStatus::Pending),
            self.total(HireStatus::Failed),
            self.total(HireStatus::NeedsAttention),
        );
        match &self.stopped {
            None => {}
            Some(Stop::Shutdown) => line.push_str("; stopped early for shutdown"),
            Some(Stop::Unauthorized(m)) => line.push_str(&format!("; STOPPED: {m}")),
            Some(Stop::ListingFailed(m)) => line.push_str(&format!("; listing failed: {m}")),
        }
        line
    }
}

/// Called with the running totals after every listed page and every hire a pass works on,
/// from the pass itself: a progress display, or proof of life for a watchdog.
pub type ProgressHook = Arc<dyn Fn(&PassSummary) + Send + Sync>;

/// Owns the ledger and both clients for the life of the process.
pub struct Reconciler {
    ledger: Ledger,
    pinpoint: PinpointClient,
    hibob: HibobClient,
    settings: Settings,
    progress: Option<ProgressHook>,
}

impl Reconciler {
    pub fn new(config: &Config, ledger: Ledger) -> Result<Self, reqwest::Error> {
        let http = HttpClient::new(&config.http)?;
        Ok(Self {
            ledger,
            pinpoint: PinpointClient::new(http.clone(), &config.pinpoint),
            hibob: HibobClient::new(http, &config.hibob),
            settings: Settings::from_config(config),
            progress: None,
        })
    }

    pub fn set_progress(&mut self, hook: ProgressHook) {
        self.progress = Some(hook);
    }

    fn report_progress(&self, summary: &PassSummary) {
        if let Some(hook) = &self.progress {
            hook(summary);
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Runs one full pass. Ledger errors end it at once (nothing can be recorded safely);
    /// everything else is recorded per hire and the pass goes on.
    pub async fn run_pass(
        &mut self,
        trigger: &str,
        shutdown: &CancellationToken,
    ) -> Result<PassReport, LedgerError> {
        let pass = self.ledger.begin_pass(trigger, Utc::now())?;
        let mut summary = PassSummary::default();
        let mut stopped = None;
        'listings: for first in self.pinpoint.first_pages() {
            let mut next = Some(first);
            while let Some(url) = next.take() {
                if shutdown.is_cancelled() {
                    stopped = Some(Stop::Shutdown);
                    break 'listings;
                }
                let listed = match self.pinpoint.fetch_page(&url).await {
                    Ok(listed) => listed,
                    Err(e) => {
                        tracing::error!(error = %e, "could not read the hired applications");
                        stopped = Some(if e.is_unauthorized() {
                            Stop::Unauthorized(e.to_string())
                        } else {
                            Stop::ListingFailed(e.to_string())
                        });
                        break 'listings;
                    }
                };
                next = listed.next;
                if let Some(stop) = self
                    .process_page(pass, listed.page, &mut summary, shutdown)
                    .await?
                {
                    stopped = Some(stop);
                    break 'listings;
                }
            }
        }
        let totals = self.ledger.count_by_status()?;
        let report = PassReport {
            pass,
            summary,
            stopped,
            totals,
        };
        let outcome = match &report.stopped {
            None => "completed",
            Some(Stop::Shutdown) => "shutdown",
            Some(Stop::Unauthorized(_)) => "unauthorized",
            Some(Stop::ListingFailed(_)) => "listing_failed",
        };
        self.ledger.finish_pass(
            pass,
            Utc::now(),
            outcome,
            &serde_json::to_string(&report.summary).unwrap_or_default(),
        )?;
        Ok(report)
    }

    async fn process_page(
        &mut self,
        pass: PassId,
        page: crate::pinpoint::ApplicationsPage,
        summary: &mut PassSummary,
        shutdown: &CancellationToken,
    ) -> Result<Option<Stop>, LedgerError> {
        summary.listed += page.records;
        self.report_progress(summary);
        let now = Utc::now();
        for bad in &page.unusable {
            summary.unusable += 1;
            match &bad.id {
                Some(id) => {
                    tracing::warn!(application = %id, problem = %bad.problem, "unusable application");
                    self.ledger.observe_unusable(
                        pass,
                        now,
                        id,
                        bad.email.as_deref(),
                        &bad.problem,
                    )?;
                }
                None => {
                    tracing::warn!(problem = %bad.problem, "a listed record has no id; skipped")
                }
            }
        }
        let observed: Vec<ObservedHire<'_>> = page
            .applications
            .iter()
            .map(|a| ObservedHire {
                application_id: &a.id,
                email: &a.email,
                first_name: &a.first_name,
                last_name: &a.last_name,
                job_title: a.job_title.as_deref(),
            })
            .collect();
        let (entries, new) = self.ledger.observe(pass, now, &observed)?;
        summary.new += new;
        let by_id: HashMap<&str, &HiredApplication> = page
            .applications
            .iter()
            .map(|a| (a.id.as_str(), a))
            .collect();
        let due: Vec<LedgerEntry> = entries.into_iter().filter(|e| e.is_due(now)).collect();
        if due.is_empty() {
            return Ok(None);
        }

        let lookups = match self.lookup_employees(pass, &due).await? {
            Ok(l) => l,
            Err(stop) => return Ok(Some(stop)),
        };
        for entry in due {
            if shutdown.is_cancelled() {
                return Ok(Some(Stop::Shutdown));
            }
            let Some(application) = by_id.get(entry.application_id.as_str()) else {
                continue;
            };
            let Some(lookup) = lookups.get(&entry.application_id) else {
                // The batch search failed for this hire; already recorded.
                summary.retrying += 1;
                continue;
            };
            let outcome = apply::HireRun {
                ledger: &mut self.ledger,
                pinpoint: &self.pinpoint,
                hibob: &self.hibob,
                settings: &self.settings,
                pass,
                shutdown,
            }
            .run(entry, application, lookup.clone())
            .await?;
            match outcome {
                apply::HireOutcome::Done => summary.completed += 1,
                apply::HireOutcome::Waiting => summary.retrying += 1,
                apply::HireOutcome::Parked => summary.parked += 1,
                apply::HireOutcome::StopPass(message) => {
                    summary.parked += 1;
                    return Ok(Some(Stop::Unauthorized(message)));
                }
                apply::HireOutcome::Interrupted => return Ok(Some(Stop::Shutdown)),
            }
            self.report_progress(summary);
        }
        Ok(None)
    }

    /// Searches HiBob for every due hire that still needs its employee, in batches of
    /// emails. Hires whose batch failed get a recorded failure and no entry in the map.
    async fn lookup_employees(
        &mut self,
        pass: PassId,
        due: &[LedgerEntry],
    ) -> Result<Result<HashMap<String, Lookup>, Stop>, LedgerError> {
        let mut lookups = HashMap::new();
        let needing: Vec<&LedgerEntry> = due
            .iter()
            .filter(|e| {
                if plan::needs_lookup(e) {
                    true
                } else {
                    lookups.insert(e.application_id.clone(), Lookup::NotNeeded);
                    false
                }
            })
            .collect();
        for batch in needing.chunks(self.settings.search_batch_size.max(1)) {
            let mut emails: Vec<String> = batch.iter().map(|e| e.email.clone()).collect();
            emails.sort_by_key(|e| e.to_lowercase());
            emails.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
            match self.hibob.search_by_emails(&emails).await {
                Ok(found) => {
                    for entry in batch {
                        match plan::lookup_for(&entry.email, &found) {
                            Ok(lookup) => {
                                lookups.insert(entry.application_id.clone(), lookup);
                            }
                            Err(ids) => {
                                let message = format!(
                                    "HiBob has {} employees with the email {}: {}; link the right one by hand",
                                    ids.len(),
                                    entry.email,
                                    ids.join(", ")
                                );
                                self.ledger.record_parked(
                                    &entry.application_id,
                                    StepKind::Employee,
                                    crate::ledger::ParkKind::Invalid,
                                    &message,
                                    pass,
                                    Utc::now(),
                                )?;
                            }
                        }
                    }
                }
                Err(e) if e.is_unauthorized() => {
                    tracing::error!(error = %e, "HiBob refused the search");
                    return Ok(Err(Stop::Unauthorized(e.to_string())));
                }
                Err(e) => {
                    tracing::warn!(error = %e, hires = batch.len(), "HiBob search failed");
                    for entry in batch {
                        apply::record_retry(
                            &mut self.ledger,
                            &self.settings,
                            entry,
                            StepKind::Employee,
                            &e,
                            pass,
                        )?;
                    }
                }
            }
        }
        Ok(Ok(lookups))
    }
}

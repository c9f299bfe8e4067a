//! One reconcile pass: list hired applications page by page, merge them into the ledger,
//! look up employees in batches, then plan ([`plan`]) and apply ([`apply`]) each due hire's
//! steps.
//!
//! Owns the order of effects and the crash-recovery rules; it does no SQL of its own (the
//! ledger does) and no HTTP of its own (the clients do). Pages are processed as they arrive,
//! so memory stays flat however many hires a tenant has, and a CV's pre-signed URL is used
//! in the same pass that read it.

pub mod apply;
pub mod claims;
pub mod cutoff;
pub mod drift;
pub mod dry_run;
mod lifecycle;
pub mod nudge;
pub mod plan;
pub mod proof;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, CvFolder, RetryConfig};
use crate::contract::{self, ContractReport};
use crate::hibob::HibobClient;
use crate::http::{ApiError, Clock, HttpClient, StatsSnapshot};
use crate::ledger::{
    HireStatus, Ledger, LedgerEntry, LedgerError, ObservedHire, PassId, StepKind, StepState,
};
use crate::pinpoint::{HiredApplication, PinpointClient};
pub use claims::{HireClaim, HireClaims};
pub use cutoff::Cutoff;
pub use nudge::{NudgeOutcome, Nudger};
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
    /// Hires worked on at once.
    pub concurrency: usize,
    /// `[mapping]`: the fields a new employee gets, and what drift does.
    pub mapping: crate::mapping::Mapping,
    /// `pinpoint.hired_stage_ids`: stages the operator names as hired.
    pub hired_stage_ids: Vec<String>,
    /// `hibob.on_former_employee`.
    pub on_former_employee: crate::config::OnFormerEmployee,
    /// `sync.hired_since`; `None`: the ledger's go-live.
    pub hired_since: Option<crate::config::HiredSince>,
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
            concurrency: config.sync.concurrency,
            mapping: config.mapping.clone(),
            hired_stage_ids: config.pinpoint.hired_stage_ids.clone(),
            on_former_employee: config.hibob.on_former_employee,
            hired_since: config.sync.hired_since,
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
    /// Done hires whose mapped values changed in Pinpoint (drift detected this pass).
    pub drifted: usize,
    /// Listed applications whose own document contradicts the hired-stage filter (rejected,
    /// or in a stage not configured as hired): nothing written for them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub contradicted: usize,
    /// Hires seen for the first time and left out: hired before the cutoff (`skipped`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: usize,
    /// The cutoff that left them out, when any was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<String>,
    /// Open hires found out of the Hired stage this pass (`withdrawn`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub withdrawn: usize,
    /// Done hires found out of the Hired stage this pass (`unhired_at` set).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unhired: usize,
    /// Requests sent to both APIs, 429s received and in-place retries, during the pass.
    pub http: StatsSnapshot,
    /// Of `http.requests`, those the API contract check made (at startup, then daily): a
    /// fixed cost, not a cost per hire.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub contract_requests: u64,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl PassSummary {
    /// Hires this pass worked on (whatever the outcome).
    pub fn worked(&self) -> usize {
        self.completed + self.retrying + self.parked
    }

    /// API requests per hire worked on: the cost of the pass, listing included.
    pub fn calls_per_hire(&self) -> Option<f64> {
        (self.worked() > 0).then(|| {
            self.http.requests.saturating_sub(self.contract_requests) as f64 / self.worked() as f64
        })
    }
}

/// Why a pass ended early. The steps already applied stay applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A credential or permission was refused: continuing would only hammer the API.
    Unauthorized(String),
    /// The listing could not be read; the hires it would have shown wait for the next pass.
    ListingFailed(String),
    /// Shutdown was requested; the steps in flight finished first.
    Shutdown,
    /// An assumption about the APIs that writes depend on failed (the contract check, or a
    /// listing page that contradicts its filter): nothing was written. Names what failed and
    /// the fix.
    ContractBroken(String),
    /// The contract could not be checked (a probe timed out or failed): nothing was
    /// written; the next pass checks again.
    ContractUnchecked(String),
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
            "{} hired listed, {} new, {} completed this pass; ledger: {} done, {} pending, {} failed, {} need attention; {} API calls",
            s.listed,
            s.new,
            s.completed,
            self.total(HireStatus::Done),
            self.total(HireStatus::Pending),
            self.total(HireStatus::Failed),
            self.total(HireStatus::NeedsAttention),
            s.http.requests,
        );
        if s.contract_requests > 0 {
            line.push_str(&format!(
                " ({} of them the API contract check)",
                s.contract_requests
            ));
        }
        if let Some(per_hire) = s.calls_per_hire() {
            line.push_str(&format!(" ({per_hire:.2} per hire worked)"));
        }
        // Settled without a write: named only when there are any.
        for status in [HireStatus::Skipped, HireStatus::Withdrawn] {
            if self.total(status) > 0 {
                line.push_str(&format!(
                    "; {} {} in the ledger",
                    self.total(status),
                    status.as_str()
                ));
            }
        }
        if s.http.rate_limited > 0 {
            line.push_str(&format!(", {} rate-limited (429)", s.http.rate_limited));
        }
        if s.contradicted > 0 {
            line.push_str(&format!(
                "; {} listed application(s) contradict the hired-stage filter (rejected, or in a stage not hired): the pass stopped at their page",
                s.contradicted
            ));
        }
        if s.withdrawn > 0 {
            line.push_str(&format!(
                "; {} hire(s) left the Hired stage before done (withdrawn, nothing more written)",
                s.withdrawn
            ));
        }
        if s.unhired > 0 {
            line.push_str(&format!(
                "; {} done hire(s) left the Hired stage: check them in HiBob (`hirebridge status`)",
                s.unhired
            ));
        }
        if s.skipped > 0 {
            line.push_str(&format!(
                "; {} hire(s) from before the cutoff {} left out (status skipped, nothing written): to include them set sync.hired_since earlier (e.g. \"2026-01-01\" or \"90d\"), or `hirebridge retry <application-id>` for one",
                s.skipped,
                s.cutoff.as_deref().unwrap_or("")
            ));
        }
        match &self.stopped {
            None => {}
            Some(Stop::Shutdown) => line.push_str("; stopped early for shutdown"),
            Some(Stop::Unauthorized(m)) => line.push_str(&format!("; STOPPED: {m}")),
            Some(Stop::ListingFailed(m)) => line.push_str(&format!("; listing failed: {m}")),
            Some(Stop::ContractBroken(m)) => {
                line.push_str(&format!("; NOTHING WRITTEN, the API contract failed: {m}"))
            }
            Some(Stop::ContractUnchecked(m)) => line.push_str(&format!(
                "; nothing written, the API contract could not be checked (next pass checks again): {m}"
            )),
        }
        line
    }
}

/// Called with the running totals after every listed page and every hire a pass works on,
/// from the pass itself: a progress display, or proof of life for a watchdog.
pub type ProgressHook = Arc<dyn Fn(&PassSummary) + Send + Sync>;

/// Everything a task needs to work hires: the one ledger, both clients (every clone shares
/// their gates and counters, so all tasks are paced together), the settings and the claims.
/// Cheap to clone: a scheduled pass and each webhook nudge hold the same parts.
#[derive(Clone)]
pub(crate) struct Parts {
    ledger: Arc<Mutex<Ledger>>,
    http: HttpClient,
    pinpoint: PinpointClient,
    hibob: HibobClient,
    settings: Settings,
    claims: HireClaims,
    /// The safe fallbacks the last contract check calls for (shared with nudges).
    fallbacks: Arc<Mutex<contract::Fallbacks>>,
}

impl Parts {
    /// The cutoff in force now: `sync.hired_since`, else the ledger's go-live.
    fn cutoff(&self, now: chrono::DateTime<Utc>) -> Result<Cutoff, LedgerError> {
        Ok(match self.settings.hired_since {
            Some(since) => Cutoff {
                at: since.cutoff(now),
                configured: true,
            },
            None => Cutoff {
                at: self.ledger().go_live_at()?,
                configured: false,
            },
        })
    }

    /// The stages known to be hired now: configured, and learned by earlier listings.
    fn hired_stages(&self) -> Result<proof::HiredStages, LedgerError> {
        Ok(proof::HiredStages {
            configured: self.settings.hired_stage_ids.clone(),
            learned: self.ledger().hired_stages()?,
        })
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        apply::lock(&self.ledger)
    }

    fn fallbacks(&self) -> contract::Fallbacks {
        *self.fallbacks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last contract report the ledger holds, if it reads.
    fn stored_contract(&self) -> Result<Option<ContractReport>, LedgerError> {
        Ok(self
            .ledger()
            .contract_report()?
            .and_then(|json| serde_json::from_str(&json).ok()))
    }

    fn store_contract(&self, report: &ContractReport) -> Result<(), LedgerError> {
        let json = serde_json::to_string(report).unwrap_or_default();
        self.ledger().record_contract_report(&json)
    }

    /// Whether writes may happen now on the last contract check's word, without checking
    /// again (for nudges).
    fn writes_allowed(&self, now: chrono::DateTime<Utc>) -> Result<WritesAllowed, LedgerError> {
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
    async fn contract_for_pass(
        &self,
        now: chrono::DateTime<Utc>,
    ) -> Result<Result<ContractReport, Stop>, LedgerError> {
        let asked = contract::asked(&self.pinpoint, self.settings.search_batch_size);
        let report = match self.stored_contract()? {
            Some(report) if !report.needs_recheck(now, &asked) => report,
            _ => {
                let report = match self.probe_contract(now).await? {
                    Ok(report) => report,
                    Err(refused) => return Ok(Err(Stop::Unauthorized(refused.0))),
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
    async fn probe_contract(
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
    async fn contract_preview(
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
    fn record_broken_listing(&self, finding: contract::Finding) -> Result<Stop, LedgerError> {
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

    /// One hire's run in `pass`, on these parts.
    fn hire_run<'a>(
        &'a self,
        pass: PassId,
        shutdown: &'a CancellationToken,
        halted: &'a AtomicBool,
    ) -> apply::HireRun<'a> {
        apply::HireRun {
            ledger: &self.ledger,
            pinpoint: &self.pinpoint,
            hibob: &self.hibob,
            settings: &self.settings,
            pass,
            shutdown,
            halted,
        }
    }
}

/// What the last contract check says about writing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WritesAllowed {
    Yes,
    /// Never checked, out of date, or made under other settings: a pass checks first.
    CheckDue,
    /// An assumption writes depend on failed: what, and the fix.
    Stopped(String),
}

/// Owns the ledger and both clients for the life of the process.
pub struct Reconciler {
    parts: Parts,
    progress: Option<ProgressHook>,
    /// Everyone in HiBob, read at most once per pass (when a hire needs it): see
    /// [`Parts::lookup_employees`]. Cleared when a pass starts.
    directory: Option<Vec<crate::hibob::FoundEmployee>>,
}

impl Reconciler {
    pub fn new(config: &Config, ledger: Ledger) -> Result<Self, reqwest::Error> {
        Self::with_http(config, ledger, HttpClient::new(&config.http)?)
    }

    /// The same reconciler on another clock (tests observe waits without waiting).
    pub fn with_clock(
        config: &Config,
        ledger: Ledger,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, reqwest::Error> {
        Self::with_http(config, ledger, HttpClient::with_clock(&config.http, clock)?)
    }

    fn with_http(
        config: &Config,
        ledger: Ledger,
        http: HttpClient,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            parts: Parts {
                ledger: Arc::new(Mutex::new(ledger)),
                pinpoint: PinpointClient::new(http.clone(), &config.pinpoint)
                    .including(&config.mapping.pinpoint_includes()),
                hibob: HibobClient::new(http.clone(), &config.hibob),
                http,
                settings: Settings::from_config(config),
                claims: HireClaims::default(),
                fallbacks: Arc::default(),
            },
            progress: None,
            directory: None,
        })
    }

    /// Swaps in clients and settings built from `config`, keeping the ledger (and its lock),
    /// the claims, the request counters and every rate-limit gate whose pace is unchanged: for a config reload between passes. Nothing
    /// changes if the new client cannot be built. The ledger's path is not the reconciler's
    /// to change; the caller refuses that. Nudgers handed out before keep the old parts
    /// until they are replaced (see [`Reconciler::nudger`]).
    pub fn reconfigure(&mut self, config: &Config) -> Result<(), reqwest::Error> {
        // Another tenant, key or service user may answer differently: check the contract
        // again before the next write.
        if let Err(e) = self.ledger().forget_contract_report() {
            tracing::warn!(error = %e, "cannot forget the contract report; the next pass checks it when it is due");
        }
        let http = HttpClient::with_clock(&config.http, self.parts.http.clock())?
            .keeping_stats_of(&self.parts.http);
        self.parts = Parts {
            ledger: self.parts.ledger.clone(),
            pinpoint: PinpointClient::new(http.clone(), &config.pinpoint)
                .including(&config.mapping.pinpoint_includes())
                .keeping_gate_of(&self.parts.pinpoint),
            hibob: HibobClient::new(http.clone(), &config.hibob)
                .keeping_gates_of(&self.parts.hibob),
            http,
            settings: Settings::from_config(config),
            claims: self.parts.claims.clone(),
            fallbacks: self.parts.fallbacks.clone(),
        };
        Ok(())
    }

    /// A handle that reconciles single applications beside this reconciler's passes: the same
    /// ledger, clients (gates, counters), settings and claims.
    pub fn nudger(&self) -> Nudger {
        Nudger::new(self.parts.clone())
    }

    pub fn set_progress(&mut self, hook: ProgressHook) {
        self.progress = Some(hook);
    }

    fn report_progress(&self, summary: &PassSummary) {
        if let Some(hook) = &self.progress {
            hook(summary);
        }
    }

    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.parts.ledger()
    }

    /// Requests sent so far by this reconciler's clients.
    pub fn http_stats(&self) -> StatsSnapshot {
        self.parts.http.stats()
    }

    /// Runs one full pass. Ledger errors end it at once (nothing can be recorded safely);
    /// everything else is recorded per hire and the pass goes on.
    pub async fn run_pass(
        &mut self,
        trigger: &str,
        shutdown: &CancellationToken,
    ) -> Result<PassReport, LedgerError> {
        let listed_from = Utc::now();
        let pass = self.ledger().begin_pass(trigger, listed_from)?;
        self.directory = None;
        // Webhook nudges running meanwhile count here too: the clients' counters are shared.
        let stats_before = self.parts.http.stats();
        self.parts.pinpoint.begin_pass();
        self.parts.hibob.begin_pass();
        let mut summary = PassSummary::default();
        let mut stopped = None;
        // No write before the API contract is known to hold (probed at startup, then daily).
        let contract = self.parts.contract_for_pass(listed_from).await?;
        summary.contract_requests = (self.parts.http.stats() - stats_before).requests;
        if let Err(stop) = contract {
            stopped = Some(stop);
        }
        let first_pages = if stopped.is_none() {
            self.parts.pinpoint.first_pages()
        } else {
            Vec::new()
        };
        'listings: for first in first_pages {
            // The next page is read while this one is worked, so a large tenant's pass costs
            // about the longer of Pinpoint's time and ours, not their sum. Its `fetched_at` is
            // when the read began: drift then skips hires changed since, never the reverse.
            let mut prefetched = Some(self.prefetch(first));
            // A server that ignores paging answers every page with the same applications, and
            // one whose links loop sends us back to a page already read; either would never end
            // the pass. Both are caught with what one page and the page addresses cost, so
            // memory stays flat however large the tenant (no set of every id listed).
            let mut previous_ids = std::collections::HashSet::new();
            let mut requested = std::collections::HashSet::new();
            let mut page_number = 0u32;
            while let Some((fetched_at, fetch)) = prefetched.take() {
                page_number += 1;
                if shutdown.is_cancelled() {
                    fetch.abort();
                    stopped = Some(Stop::Shutdown);
                    break 'listings;
                }
                let fetched = match fetch.await {
                    Ok(fetched) => fetched,
                    Err(e) => {
                        tracing::error!(error = %e, "the listing read ended abnormally");
                        stopped = Some(Stop::ListingFailed(format!(
                            "the listing read ended abnormally: {e}"
                        )));
                        break 'listings;
                    }
                };
                let listed = match fetched {
                    Ok(listed) => listed,
                    Err(e) => {
                        tracing::error!(error = %e, "could not read the hired applications");
                        // An answer that suggests the API moved: check the contract again.
                        if matches!(e, ApiError::Invalid { .. } | ApiError::NotFound { .. }) {
                            self.ledger().forget_contract_report()?;
                        }
                        stopped = Some(match e {
                            ApiError::Unauthorized { .. } | ApiError::Halted { .. } => {
                                Stop::Unauthorized(e.to_string())
                            }
                            _ => Stop::ListingFailed(e.to_string()),
                        });
                        break 'listings;
                    }
                };
                let ids: std::collections::HashSet<String> = listed
                    .page
                    .applications
                    .iter()
                    .map(|a| Some(&a.id))
                    .chain(listed.page.unusable.iter().map(|u| u.id.as_ref()))
                    .flatten()
                    .cloned()
                    .collect();
                let repeats_previous = page_number > 1
                    && listed.page.records > 0
                    && !ids.is_empty()
                    // Equal, not merely contained: a listing that shifted between two reads
                    // legitimately repeats a few of the previous page's applications.
                    && ids == previous_ids;
                let loops = listed
                    .next
                    .as_ref()
                    .is_some_and(|next| !requested.insert(next.url.to_string()));
                if repeats_previous || loops {
                    let message = format!(
                        "Pinpoint answered page {page_number} of the listing with {}, so it seems \
                         to ignore paging; stopped there so the pass ends (the hires listed so far \
                         were reconciled)",
                        if loops {
                            "a link back to a page it had already sent"
                        } else {
                            "exactly the applications of the page before"
                        }
                    );
                    tracing::error!("{message}");
                    stopped = Some(Stop::ListingFailed(message));
                    break 'listings;
                }
                previous_ids = ids;
                prefetched = listed.next.map(|next| self.prefetch(next));
                if let Some(stop) = self
                    .process_page(
                        pass,
                        page_number,
                        listed.page,
                        fetched_at,
                        &mut summary,
                        shutdown,
                    )
                    .await?
                {
                    if let Some((_, fetch)) = prefetched.take() {
                        fetch.abort();
                    }
                    stopped = Some(stop);
                    break 'listings;
                }
            }
        }
        // Only a complete listing can say which hires it no longer shows (and only from a
        // server whose paging behaves).
        if stopped.is_none() && !self.parts.fallbacks().listing_may_be_incomplete {
            stopped = self
                .follow_unlisted(pass, listed_from, &mut summary, shutdown)
                .await?;
        }
        summary.http = self.parts.http.stats() - stats_before;
        let totals = self.ledger().count_by_status()?;
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
            Some(Stop::ContractBroken(_)) => "contract_broken",
            Some(Stop::ContractUnchecked(_)) => "contract_unchecked",
        };
        self.ledger().finish_pass(
            pass,
            Utc::now(),
            outcome,
            &serde_json::to_string(&report.summary).unwrap_or_default(),
        )?;
        Ok(report)
    }

    /// Starts reading one listing page on its own task; returns when the read began.
    #[allow(clippy::type_complexity)]
    fn prefetch(
        &self,
        request: crate::pinpoint::PageRequest,
    ) -> (
        chrono::DateTime<Utc>,
        tokio::task::JoinHandle<Result<crate::pinpoint::ListedPage, ApiError>>,
    ) {
        let pinpoint = self.parts.pinpoint.clone();
        let started = Utc::now();
        let fetch = tokio::spawn(async move { pinpoint.fetch_page(&request).await });
        (started, fetch)
    }

    #[allow(clippy::too_many_arguments)]
    async fn process_page(
        &mut self,
        pass: PassId,
        page_number: u32,
        page: crate::pinpoint::ApplicationsPage,
        fetched_at: chrono::DateTime<Utc>,
        summary: &mut PassSummary,
        shutdown: &CancellationToken,
    ) -> Result<Option<Stop>, LedgerError> {
        summary.listed += page.records;
        self.report_progress(summary);
        // The whole page is checked before any of it is used: records that contradict the
        // filter mean the listing cannot be trusted, not that a few records are odd.
        if let Some(stop) = self.guard_page(page_number, &page.applications, summary)? {
            return Ok(Some(stop));
        }
        let now = Utc::now();
        for bad in &page.unusable {
            summary.unusable += 1;
            match &bad.id {
                Some(id) => {
                    tracing::warn!(application = %id, problem = %bad.problem, "unusable application");
                    self.ledger().observe_unusable(
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
        self.learn_hired_stages(&page.applications, now)?;
        // Claimed before the rows are read, so a row is never planned from while a nudge
        // changes it. A hire another task holds is left to that task.
        let mut claims: HashMap<String, HireClaim> = page
            .applications
            .iter()
            .filter_map(|a| {
                let claim = self.parts.claims.try_claim(&a.id);
                if claim.is_none() {
                    tracing::debug!(application = %a.id, "being worked by a webhook nudge; left to it");
                }
                claim.map(|c| (a.id.clone(), c))
            })
            .collect();
        let cutoff = self.parts.cutoff(now)?;
        let observed: Vec<ObservedHire<'_>> = page
            .applications
            .iter()
            .map(|a| observed(a, &cutoff))
            .collect();
        crate::crashpoint::hit("ledger.observe.before");
        let (entries, new) = self.ledger().observe(pass, now, &observed)?;
        crate::crashpoint::hit("ledger.observe.after");
        summary.new += new;
        let skipped_now = entries
            .iter()
            .filter(|e| {
                e.status == HireStatus::Skipped
                    && e.first_seen_at.timestamp_millis() == now.timestamp_millis()
            })
            .count();
        if skipped_now > 0 {
            summary.skipped += skipped_now;
            summary.cutoff = Some(cutoff.describe());
        }
        let by_id: HashMap<&str, &HiredApplication> = page
            .applications
            .iter()
            .map(|a| (a.id.as_str(), a))
            .collect();
        // Drift only for hires this pass holds and that nothing changed since the page was
        // read: a hire a nudge finished meanwhile was written from newer data than this page,
        // and comparing the two would "correct" HiBob back to the older values.
        let settled: Vec<LedgerEntry> = entries
            .iter()
            .filter(|e| claims.contains_key(&e.application_id) && e.updated_at < fetched_at)
            .cloned()
            .collect();
        // Without HiBob's human-readable values (contract `hibob.human_readable`), what HiBob
        // holds cannot be compared with what was written: in update mode drift waits, neither
        // reported nor updated (report mode reads only the listing, and goes on).
        let drift_waits = self.parts.fallbacks().skip_drift
            && self.parts.settings.mapping.on_change == crate::mapping::OnChange::Update;
        if !drift_waits
            && let Some(stop) = self
                .check_drift(pass, &settled, &by_id, summary, shutdown)
                .await?
        {
            return Ok(Some(stop));
        }
        let due: Vec<LedgerEntry> = entries
            .into_iter()
            .filter(|e| e.is_due(now) && claims.contains_key(&e.application_id))
            .collect();
        // Hires with nothing to do now are free for nudges at once.
        claims.retain(|id, _| due.iter().any(|e| &e.application_id == id));
        if due.is_empty() {
            return Ok(None);
        }

        let lookups = match self
            .parts
            .lookup_employees(pass, &due, &by_id, &mut self.directory, summary)
            .await?
        {
            Ok(l) => l,
            Err(stop) => return Ok(Some(stop)),
        };
        let due_ids: Vec<String> = due.iter().map(|e| e.application_id.clone()).collect();
        let halted = AtomicBool::new(false);
        let this = &*self;
        let parts = &this.parts;
        let (by_id, lookups, halted) = (&by_id, &lookups, &halted);
        let mapping = &parts.settings.mapping;
        let groups = same_person_groups(due, |e| {
            by_id
                .get(e.application_id.as_str())
                .and_then(|a| mapping.work_email(&a.source))
        });
        let runs = groups.into_iter().map(|group| async move {
            // One after another within a group: the first hire makes (or adopts) the
            // employee and the others adopt it, instead of racing creates for one email
            // that only HiBob's duplicate-email answer would catch.
            let mut outcomes = Vec::new();
            // The person's employee once a hire of the group has one; whether a create of
            // theirs has an unknown outcome (it may have happened).
            let mut employee: Option<String> = None;
            let mut unresolved = false;
            for entry in group {
                let (Some(application), Some(lookup)) = (
                    by_id.get(entry.application_id.as_str()).copied(),
                    lookups.get(&entry.application_id).cloned(),
                ) else {
                    continue;
                };
                let lookup = match (&employee, lookup) {
                    (Some(id), plan::Lookup::NotFound) => plan::Lookup::Found {
                        employee_id: id.clone(),
                    },
                    // Creating another now could make a second employee: next pass.
                    (None, plan::Lookup::NotFound) if unresolved => {
                        outcomes.push(apply::HireOutcome::Waiting);
                        continue;
                    }
                    (_, lookup) => lookup,
                };
                let id = entry.application_id.clone();
                let outcome = parts
                    .hire_run(pass, shutdown, halted)
                    .run(entry, application, lookup)
                    .await?;
                // A park means HiBob refused (or was never sent) the data: nothing unknown.
                let may_be_pending = matches!(
                    outcome,
                    apply::HireOutcome::Waiting | apply::HireOutcome::Interrupted
                );
                outcomes.push(outcome);
                if employee.is_none() {
                    let after = parts.ledger().entry(&id)?;
                    employee = after.as_ref().and_then(|e| e.hibob_employee_id.clone());
                    unresolved =
                        may_be_pending && after.is_some_and(|e| e.employee == StepState::InFlight);
                }
            }
            Ok::<_, LedgerError>(outcomes)
        });
        let mut outcomes =
            futures_util::stream::iter(runs).buffer_unordered(parts.settings.concurrency.max(1));
        let mut stop = None;
        while let Some(group) = outcomes.next().await {
            for outcome in group? {
                match outcome {
                    apply::HireOutcome::Done => summary.completed += 1,
                    apply::HireOutcome::Waiting => summary.retrying += 1,
                    apply::HireOutcome::Parked => summary.parked += 1,
                    apply::HireOutcome::StopPass(message) => {
                        summary.parked += 1;
                        stop.get_or_insert(Stop::Unauthorized(message));
                    }
                    apply::HireOutcome::Interrupted => {
                        if shutdown.is_cancelled() {
                            stop.get_or_insert(Stop::Shutdown);
                        }
                    }
                }
                this.report_progress(summary);
            }
        }
        drop(outcomes);
        self.remember_employees(&due_ids, by_id)?;
        Ok(stop)
    }

    /// Adds the employees this page's hires now have to the pass's read of everyone (when it
    /// was read): a later page's hire of the same person then finds them, without reading
    /// everyone again.
    fn remember_employees(
        &mut self,
        ids: &[String],
        by_id: &HashMap<&str, &HiredApplication>,
    ) -> Result<(), LedgerError> {
        if self.directory.is_none() {
            return Ok(());
        }
        let mut known = Vec::new();
        for id in ids {
            let Some(entry) = self.ledger().entry(id)? else {
                continue;
            };
            let Some(employee_id) = entry.hibob_employee_id else {
                continue;
            };
            let source = by_id.get(id.as_str()).map(|a| &a.source);
            let rendered = source.and_then(|s| self.parts.settings.mapping.render(s).ok());
            let login = rendered
                .as_ref()
                .and_then(|r| {
                    crate::mapping::WORK_EMAIL
                        .iter()
                        .find_map(|f| r.get(*f).cloned())
                })
                .unwrap_or_else(|| entry.email.clone());
            known.push(crate::hibob::FoundEmployee {
                id: employee_id,
                email: login,
                lifecycle_status: None,
                termination_date: None,
                private_email: rendered.and_then(|r| r.get("home.privateEmail").cloned()),
            });
        }
        if let Some(directory) = self.directory.as_mut() {
            directory.extend(known);
        }
        Ok(())
    }
}

impl Reconciler {
    /// Checks a listing page against the hired-stage filter before anything of it is used.
    /// A record contradicts the filter when it was rejected, is in a stage other than the
    /// configured hired stages, or (nothing configured) has no `hired_at` and a stage that no
    /// hire has shown to be hired. One such record stops the pass: nothing is written, and
    /// the contract is checked again next pass.
    fn guard_page(
        &self,
        page_number: u32,
        applications: &[HiredApplication],
        summary: &mut PassSummary,
    ) -> Result<Option<Stop>, LedgerError> {
        let configured = &self.parts.settings.hired_stage_ids;
        // Judged against what earlier pages and passes taught, never against what this page
        // would teach: a page must not vouch for itself.
        let known = self.parts.hired_stages()?;
        let contradictions = proof::page_contradictions(applications, configured, &known);
        let Some((id, why)) = contradictions.first() else {
            return Ok(None);
        };
        summary.contradicted += contradictions.len();
        let finding = contract::contradicting_page(
            page_number,
            &format!(
                "application {id}: {why}{}",
                match contradictions.len() {
                    1 => String::new(),
                    n => format!(" (and {} more on the page)", n - 1),
                }
            ),
            &contract::stage_filter_fix(&self.parts.pinpoint),
        );
        self.parts.record_broken_listing(finding).map(Some)
    }

    /// Keeps the stages these listed hires show to be hired, for proving nudges later.
    fn learn_hired_stages(
        &self,
        applications: &[HiredApplication],
        now: chrono::DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let mut new_stages: Vec<(&str, &str)> = Vec::new();
        for a in applications {
            if let Some(stage) = proof::teaches_stage(a)
                && !new_stages.iter().any(|(s, _)| *s == stage)
            {
                new_stages.push((stage, &a.id));
            }
        }
        if new_stages.is_empty() {
            return Ok(());
        }
        let known = self.ledger().hired_stages()?;
        for (stage, application) in new_stages {
            if !known.contains(stage) && self.ledger().learn_hired_stage(stage, application, now)? {
                tracing::info!(stage, application, "learned a hired stage from the listing");
            }
        }
        Ok(())
    }
}

/// The addresses `entry` may be known by in HiBob: its own, and the mapped work address.
fn hire_addresses<'a>(
    entry: &'a LedgerEntry,
    work: &'a HashMap<&str, String>,
) -> plan::HireAddresses<'a> {
    plan::HireAddresses {
        candidate: entry.email.as_str(),
        work: work.get(entry.application_id.as_str()).map(String::as_str),
    }
}

/// Due hires grouped by person: the same candidate address, or the same mapped work address
/// (`work_of`), compared as HiBob compares them. Each group in listing order.
fn same_person_groups(
    due: Vec<LedgerEntry>,
    work_of: impl Fn(&LedgerEntry) -> Option<String>,
) -> Vec<Vec<LedgerEntry>> {
    let mut groups: Vec<Vec<LedgerEntry>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for entry in due {
        let keys: Vec<String> = std::iter::once(crate::identity::email_key(&entry.email))
            .chain(work_of(&entry).map(|w| crate::identity::email_key(&w)))
            .collect();
        let index = match keys.iter().find_map(|k| group_of.get(k).copied()) {
            Some(i) => i,
            None => {
                groups.push(Vec::new());
                groups.len() - 1
            }
        };
        for key in keys {
            group_of.entry(key).or_insert(index);
        }
        groups[index].push(entry);
    }
    groups
}

impl Parts {
    /// Finds the HiBob person of every due hire that still needs its employee. First by login
    /// address, in batches of emails (the candidate's address and the mapped work address);
    /// then, for hires no login matched, in `directory` — everyone with both addresses, read
    /// at most once per pass and only when a hire needs it — where a person HR entered under a
    /// work address is found by the candidate's private address. Hires whose search failed get
    /// a recorded failure (or are parked) and no entry in the map.
    async fn lookup_employees(
        &self,
        pass: PassId,
        due: &[LedgerEntry],
        applications: &HashMap<&str, &HiredApplication>,
        directory: &mut Option<Vec<crate::hibob::FoundEmployee>>,
        summary: &mut PassSummary,
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
        if needing.is_empty() {
            return Ok(Ok(lookups));
        }
        // A create whose outcome is unknown went out under the work address recorded with its
        // intent: that one is looked for, whatever the mapping renders now.
        let in_flight: Vec<&str> = needing
            .iter()
            .filter(|e| e.employee == StepState::InFlight)
            .map(|e| e.application_id.as_str())
            .collect();
        let recorded = self.ledger().mapped_values(&in_flight)?;
        let work: HashMap<&str, String> = needing
            .iter()
            .filter_map(|e| {
                let id = e.application_id.as_str();
                let sent = recorded.get(id).and_then(|r| {
                    crate::mapping::WORK_EMAIL
                        .iter()
                        .find_map(|f| r.rendered.get(*f).cloned())
                });
                let address = sent.or_else(|| {
                    let application = applications.get(id)?;
                    self.settings.mapping.work_email(&application.source)
                })?;
                Some((id, address))
            })
            .collect();
        let emails_of = |batch: &[&LedgerEntry]| {
            let mut emails: Vec<String> = batch
                .iter()
                .flat_map(|e| {
                    let a = hire_addresses(e, &work);
                    std::iter::once(a.candidate.to_owned()).chain(a.work.map(str::to_owned))
                })
                .collect();
            emails.sort_by_key(|e| crate::identity::email_key(e));
            emails.dedup_by(|a, b| crate::identity::same_address(a, b));
            emails
        };
        let batch_size = if self.fallbacks().search_one_by_one {
            1
        } else {
            self.settings.search_batch_size.max(1)
        };
        let mut by_login: Vec<crate::hibob::FoundEmployee> = Vec::new();
        let mut failed: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for batch in needing.chunks(batch_size) {
            match self.hibob.search_by_emails(&emails_of(batch)).await {
                Ok(found) => by_login.extend(found),
                // One email HiBob refuses must not hold up the rest of the batch: ask for
                // each alone, and park only the one that is refused. A refused batch may also
                // mean the API moved: the next pass checks the contract again.
                Err(ApiError::Invalid { .. }) if batch.len() > 1 => {
                    self.ledger().forget_contract_report()?;
                    for entry in batch {
                        match self.hibob.search_by_emails(&emails_of(&[entry])).await {
                            Ok(found) => by_login.extend(found),
                            Err(e) => {
                                failed.insert(entry.application_id.as_str());
                                if let Some(stop) = self.lookup_failed(pass, entry, &e, summary)? {
                                    return Ok(Err(stop));
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    for entry in batch {
                        failed.insert(entry.application_id.as_str());
                        if let Some(stop) = self.lookup_failed(pass, entry, &e, summary)? {
                            return Ok(Err(stop));
                        }
                    }
                }
            }
        }
        let searched: Vec<&LedgerEntry> = needing
            .into_iter()
            .filter(|e| !failed.contains(e.application_id.as_str()))
            .collect();
        let unmatched = searched
            .iter()
            .any(|e| !by_login.iter().any(|p| hire_addresses(e, &work).matches(p)));
        if unmatched && directory.is_none() {
            match self.hibob.directory().await {
                Ok(everyone) => *directory = Some(everyone),
                Err(e) => {
                    // Without it a person HR entered under a work address could be created a
                    // second time: no create this pass for a hire no login matched.
                    for entry in &searched {
                        if !by_login
                            .iter()
                            .any(|p| hire_addresses(entry, &work).matches(p))
                            && let Some(stop) = self.lookup_failed(pass, entry, &e, summary)?
                        {
                            return Ok(Err(stop));
                        }
                    }
                    let matched: Vec<&LedgerEntry> = searched
                        .into_iter()
                        .filter(|e| by_login.iter().any(|p| hire_addresses(e, &work).matches(p)))
                        .collect();
                    for entry in matched {
                        self.settle_lookup(
                            pass,
                            entry,
                            &hire_addresses(entry, &work),
                            &by_login,
                            &mut lookups,
                            summary,
                        )?;
                    }
                    return Ok(Ok(lookups));
                }
            }
        }
        let mut people = by_login;
        if let Some(everyone) = directory.as_ref() {
            people.extend(everyone.iter().cloned());
        }
        for entry in searched {
            self.settle_lookup(
                pass,
                entry,
                &hire_addresses(entry, &work),
                &people,
                &mut lookups,
                summary,
            )?;
        }
        Ok(Ok(lookups))
    }

    /// Turns a search answer into this hire's lookup; more than one employee with the email
    /// parks the hire for a person to choose.
    fn settle_lookup(
        &self,
        pass: PassId,
        entry: &LedgerEntry,
        addresses: &plan::HireAddresses<'_>,
        found: &[crate::hibob::FoundEmployee],
        lookups: &mut HashMap<String, Lookup>,
        summary: &mut PassSummary,
    ) -> Result<(), LedgerError> {
        let today = Utc::now().date_naive();
        match plan::lookup_for(addresses, found, today, self.settings.on_former_employee) {
            Ok(lookup) => {
                lookups.insert(entry.application_id.clone(), lookup);
            }
            Err(problem) => {
                let message = problem.message(&addresses.describe(), &entry.application_id);
                self.park_at_lookup(pass, entry, &message, summary)?;
            }
        }
        Ok(())
    }

    fn park_at_lookup(
        &self,
        pass: PassId,
        entry: &LedgerEntry,
        message: &str,
        summary: &mut PassSummary,
    ) -> Result<(), LedgerError> {
        self.ledger().record_parked(
            &entry.application_id,
            StepKind::Employee,
            crate::ledger::ParkKind::Invalid,
            message,
            pass,
            Utc::now(),
        )?;
        summary.parked += 1;
        Ok(())
    }

    /// Records a failed search for one hire; a refused credential stops the pass.
    fn lookup_failed(
        &self,
        pass: PassId,
        entry: &LedgerEntry,
        error: &ApiError,
        summary: &mut PassSummary,
    ) -> Result<Option<Stop>, LedgerError> {
        match error {
            ApiError::Unauthorized { .. } | ApiError::Halted { .. } => {
                tracing::error!(error = %error, "HiBob refused the search");
                Ok(Some(Stop::Unauthorized(error.to_string())))
            }
            ApiError::Invalid { .. } => {
                tracing::warn!(application = %entry.application_id, error = %error, "HiBob refused the search for this hire");
                let message = format!(
                    "{error}; correct the email in Pinpoint, then run `hirebridge retry {}`",
                    entry.application_id
                );
                self.park_at_lookup(pass, entry, &message, summary)?;
                Ok(None)
            }
            _ => {
                tracing::warn!(application = %entry.application_id, error = %error, "HiBob search failed");
                apply::record_retry(
                    &mut self.ledger(),
                    &self.settings,
                    entry,
                    StepKind::Employee,
                    error,
                    pass,
                )?;
                summary.retrying += 1;
                Ok(None)
            }
        }
    }
}

/// What the ledger records of a listed hire, judged against the cutoff in force.
pub(crate) fn observed<'a>(application: &'a HiredApplication, cutoff: &Cutoff) -> ObservedHire<'a> {
    ObservedHire {
        application_id: &application.id,
        email: &application.email,
        first_name: &application.first_name,
        last_name: &application.last_name,
        job_title: application.job_title.as_deref(),
        hired_at: application.hired_at.as_deref().and_then(cutoff::parse),
        before_cutoff: cutoff.excludes(
            application.hired_at.as_deref(),
            application.created_at.as_deref(),
        ),
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

//! Reconciling: every way a hire arrives — the scheduled pass, a webhook nudge, the dry run —
//! goes through one pipeline ([`pipeline`]):
//!
//! 1. **list** the hired applications page by page ([`crate::pinpoint::Listing`], read one
//!    page ahead, guarded against servers that ignore paging), after the API contract gate
//!    ([`gate`]) allows writes and the page passes its own guard;
//! 2. **observe** each page in the ledger (new hires, reopened ones, drift of done ones);
//! 3. **gather facts** for the due hires: who they are in HiBob, in batched searches
//!    ([`facts`]);
//! 4. **decide** each hire's one next step ([`plan::next_step`], pure) and **apply** it
//!    ([`apply`]), then decide again from the row the ledger hands back, until the hire is
//!    done or must wait. `plan` renders the decisions instead ([`dry_run`]).
//!
//! Failures are judged by one policy ([`policy`]) and counted in one place
//! ([`PassSummary::count`], with the rest of the pass vocabulary in [`crate::hire`]). This module owns the order of effects and the crash-recovery
//! rules; it does no SQL of its own (the ledger does) and no HTTP of its own (the clients do).

pub mod apply;
pub mod claims;
pub mod drift;
pub mod dry_run;
pub mod facts;
mod form;
mod gate;
pub mod incremental;
mod lifecycle;
pub mod nudge;
mod pipeline;
pub mod plan;
pub mod policy;
pub mod proof;
pub mod record;
mod waiting;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, CvFolder, RetryConfig};
use crate::contract;
use crate::hibob::HibobClient;
pub use crate::hire::cutoff::{self, Cutoff};
pub use crate::hire::{HireOutcome, NudgeOutcome, PassOutcome, PassReport, PassSummary, Stop};
use crate::hire::{PassId, Provenance};
use crate::http::{Clock, HttpClient, StatsSnapshot};
use crate::ledger::{Ledger, LedgerError};
use crate::pinpoint::PinpointClient;
pub use claims::{HireClaim, HireClaims};
pub use facts::Lookup;
pub use form::{FormError, NextCreate};
pub use nudge::Nudger;
pub use pipeline::observed;
pub use plan::Step;

/// What a pass needs from the configuration beyond the clients.
#[derive(Debug, Clone)]
pub struct Settings {
    pub site: String,
    /// `hibob.start_date_offset`: a create's start date when Pinpoint has none.
    pub start_date_offset: chrono::Duration,
    pub cv_folder: CvFolder,
    /// `hibob.read_lag`: how long HiBob may take to show what was written.
    pub read_lag: chrono::Duration,
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
    /// `[schedule] full_every`: the longest between two full listings.
    pub full_every: chrono::Duration,
    /// `hibob.hire_flow`: whether a proven hire is created (`Direct`) or posted to Bob's
    /// Hire API for HR's New hire flow (`Pending`).
    pub hire_flow: crate::hire::HireFlow,
    /// `[report] pinpoint_application_url`: the pattern (with `{id}`) of a hire's page in
    /// Pinpoint, rendered with [`crate::config::ReportLinks::to`] for the Hire API document.
    pub pinpoint_application_url: String,
    /// `[notify]`: what a pass announces (recorded in the outbox; sent in the background).
    pub notify: Option<crate::notify::announce::Announcing>,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            site: config.hibob.site.clone(),
            start_date_offset: span(config.hibob.start_date_offset),
            cv_folder: config.hibob.cv_folder,
            read_lag: span(config.hibob.read_lag),
            search_batch_size: config.hibob.search_batch_size,
            retry: config.retry,
            concurrency: config.sync.concurrency,
            mapping: config.mapping.clone(),
            hired_stage_ids: config.pinpoint.hired_stage_ids.clone(),
            on_former_employee: config.hibob.on_former_employee,
            hired_since: config.sync.hired_since,
            full_every: span(config.full_every),
            hire_flow: config.hibob.hire_flow,
            pinpoint_application_url: config.report_links.pinpoint_application.clone(),
            notify: crate::notify::announce::Announcing::from_config(config),
        }
    }

    /// The Pinpoint page of an application, as the report links it.
    pub fn pinpoint_application_link(&self, id: &crate::hire::ApplicationId) -> String {
        crate::config::ReportLinks::to(&self.pinpoint_application_url, id)
    }

    /// What the next-step decision reads.
    pub fn rules(&self) -> plan::Rules {
        plan::Rules {
            read_lag: self.read_lag,
            hire_flow: self.hire_flow,
        }
    }
}

/// HiBob's Hire API client, when hires go to HR's Pending hires.
fn hire_api_client(
    http: &HttpClient,
    config: &Config,
) -> Option<Arc<crate::hibob::hire_api::HireApiClient>> {
    crate::hibob::hire_api::HireApiClient::from_config(http.clone(), &config.hibob).map(Arc::new)
}

/// A configured duration as the core computes with it. The config bounds every duration it
/// accepts, far below what this conversion could not hold.
fn span(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
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
    /// HiBob's Hire API, under `hibob.hire_flow = "pending"` (shared by every clone).
    hire_api: Option<Arc<crate::hibob::hire_api::HireApiClient>>,
    settings: Settings,
    claims: HireClaims,
    /// The safe fallbacks the last contract check calls for (shared with nudges).
    fallbacks: Arc<Mutex<contract::Fallbacks>>,
    /// Signs the chain after each pass and applies retention.
    trail: Arc<crate::audit::Trail>,
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

    /// The audit trail's end of a pass (retention in `retention_in`, then a signed
    /// checkpoint). A failure here loses nothing — the chain is intact and the next pass
    /// signs it — so it is logged, not fatal.
    fn seal_audit_trail(&self, retention_in: Option<PassId>) {
        let mut ledger = self.ledger();
        match self.trail.after_pass(&mut ledger, retention_in, Utc::now()) {
            Ok(Some(checkpoint)) => {
                tracing::debug!(events = checkpoint.events, "audit checkpoint signed");
            }
            Ok(None) => {}
            Err(e) => tracing::error!(
                error = %e,
                "the audit trail's checkpoint was not signed this pass; the next pass tries again"
            ),
        }
    }

    /// Records in the outbox what the pass that just ended has to announce (`[notify]`). A
    /// failure is logged, never the pass's: the next pass announces what this one missed.
    fn announce(&self, report: &PassReport) {
        let Some(announcing) = &self.settings.notify else {
            return;
        };
        let mut ledger = self.ledger();
        match crate::notify::announce::after_pass(&mut ledger, announcing, report, Utc::now()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(messages = n, "notifications queued"),
            Err(e) => {
                tracing::error!(error = %e, "notifications could not be recorded; the next pass tries again")
            }
        }
    }

    fn fallbacks(&self) -> contract::Fallbacks {
        *self.fallbacks.lock().unwrap_or_else(|e| e.into_inner())
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
            hire_api: self.hire_api.as_deref(),
            settings: &self.settings,
            pass,
            shutdown,
            halted,
        }
    }
}

/// Owns the ledger and both clients for the life of the process.
pub struct Reconciler {
    parts: Parts,
    progress: Option<ProgressHook>,
    /// Everyone's addresses and the employees this pass made, for its later pages: see
    /// [`Parts::gather_lookups`]. Cleared when a pass starts.
    directory: facts::PassPeople,
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
        mut ledger: Ledger,
        http: HttpClient,
    ) -> Result<Self, reqwest::Error> {
        ledger.set_provenance(Provenance::of_this_process(Some(config.digest.clone())));
        let trail = Arc::new(crate::audit::Trail::new(&config.audit, ledger.path()));
        Ok(Self {
            parts: Parts {
                ledger: Arc::new(Mutex::new(ledger)),
                pinpoint: PinpointClient::new(http.clone(), &config.pinpoint)
                    .including(&config.mapping.pinpoint_includes()),
                hibob: HibobClient::new(http.clone(), &config.hibob),
                hire_api: hire_api_client(&http, config),
                http,
                settings: Settings::from_config(config),
                claims: HireClaims::default(),
                fallbacks: Arc::default(),
                trail,
            },
            progress: None,
            directory: Default::default(),
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
        self.ledger()
            .set_provenance(Provenance::of_this_process(Some(config.digest.clone())));
        let http = HttpClient::with_clock(&config.http, self.parts.http.clock())?
            .keeping_stats_of(&self.parts.http);
        let trail = Arc::new(crate::audit::Trail::new(
            &config.audit,
            self.parts.ledger().path(),
        ));
        self.parts = Parts {
            ledger: self.parts.ledger.clone(),
            pinpoint: PinpointClient::new(http.clone(), &config.pinpoint)
                .including(&config.mapping.pinpoint_includes())
                .keeping_gate_of(&self.parts.pinpoint),
            hibob: HibobClient::new(http.clone(), &config.hibob)
                .keeping_gates_of(&self.parts.hibob),
            // A Hire API that refused its header stays stopped, and its pace kept, unless the
            // new config changed it.
            hire_api: crate::hibob::hire_api::HireApiClient::from_config(
                http.clone(),
                &config.hibob,
            )
            .map(|new| {
                Arc::new(match &self.parts.hire_api {
                    Some(old) => new.keeping_gate_of(old),
                    None => new,
                })
            }),
            http,
            settings: Settings::from_config(config),
            claims: self.parts.claims.clone(),
            fallbacks: self.parts.fallbacks.clone(),
            trail,
        };
        Ok(())
    }

    /// The ledger, shared: for the tasks beside the passes (the notifications' sender), which
    /// hold it for one statement at a time.
    pub fn ledger_handle(&self) -> Arc<Mutex<Ledger>> {
        self.parts.ledger.clone()
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
}

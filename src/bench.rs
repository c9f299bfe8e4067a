//! On-demand benchmarks against the built-in simulator on loopback (`hirebridge bench`).
//!
//! Owns the scenarios and their figures; it never runs inside `cargo test` (the machines that
//! run tests are shared and noisy) and asserts nothing: it measures and prints, each figure
//! beside its floor, for the README's performance section.

use std::fmt;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::{Config, RateLimit};
use crate::ledger::Ledger;
use crate::reconcile::Reconciler;
use crate::sim::{self, CvFiles, Endpoint, Scenario, Sim};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot start the simulator: {0}")]
    Simulator(std::io::Error),
    #[error("cannot create a scratch directory: {0}")]
    Scratch(std::io::Error),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// What the rate-limit backfill measured.
#[derive(Debug, Clone)]
pub struct RateLimitFigures {
    pub hires: usize,
    pub limit: u32,
    pub window: Duration,
    pub wall: Duration,
    /// From the first create to the last, as HiBob saw them.
    pub create_phase: Duration,
    /// The shortest the create phase could be under those limits: from the first create to
    /// the start of the window that holds the last one, had every window been filled to its
    /// limit at its very start.
    pub theoretical_minimum: Duration,
    pub rate_limited: usize,
    pub calls_per_hire: f64,
    pub completed: usize,
}

impl RateLimitFigures {
    /// How close the create phase came to the limits' minimum (1.0 = at the ceiling).
    pub fn utilization(&self) -> f64 {
        self.theoretical_minimum.as_secs_f64() / self.create_phase.as_secs_f64().max(f64::EPSILON)
    }
}

impl fmt::Display for RateLimitFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rate-limit backfill: {} new hires with a CV; simulated HiBob allows {} requests per {:?} on search and on create",
            self.hires, self.limit, self.window
        )?;
        writeln!(f, "  {:<22}{:>10}  floor", "figure", "measured")?;
        writeln!(f, "  {:<22}{:>9.2}s", "wall time", self.wall.as_secs_f64())?;
        writeln!(
            f,
            "  {:<22}{:>9.2}s  (first create to last, as HiBob saw them)",
            "create phase",
            self.create_phase.as_secs_f64()
        )?;
        writeln!(
            f,
            "  {:<22}{:>9.2}s  (the last create opens window {} at the earliest)",
            "theoretical minimum",
            self.theoretical_minimum.as_secs_f64(),
            self.hires.div_ceil(self.limit as usize)
        )?;
        writeln!(
            f,
            "  {:<22}{:>10.2}  >= 0.90",
            "utilization",
            self.utilization()
        )?;
        writeln!(f, "  {:<22}{:>10}  0", "429s received", self.rate_limited)?;
        writeln!(
            f,
            "  {:<22}{:>10.2}  <= 3.10",
            "API calls per hire", self.calls_per_hire
        )?;
        write!(
            f,
            "  {:<22}{:>10}  {}",
            "hires done", self.completed, self.hires
        )
    }
}

/// Backfills `hires` new hires (each with a PDF CV) into a simulated HiBob that allows `limit`
/// requests per `window` on search and on create, with hirebridge configured to the same.
pub async fn rate_limits(
    hires: usize,
    limit: u32,
    window: Duration,
) -> Result<RateLimitFigures, BenchError> {
    let mut scenario = Scenario::generated(hires, 42).with_rate_limit(limit, window);
    for a in &mut scenario.applications {
        a.cv = CvFiles::PdfOnly;
    }
    let simulator = Sim::start(scenario).map_err(BenchError::Simulator)?;
    let scratch = tempfile::tempdir().map_err(BenchError::Scratch)?;
    let mut config = Config::simulated(
        &simulator.pinpoint_base_url(),
        &simulator.hibob_base_url(),
        sim::PINPOINT_API_KEY,
        (sim::HIBOB_SERVICE_USER_ID, sim::HIBOB_SERVICE_USER_TOKEN),
        &scratch.path().join("ledger.sqlite3"),
    )?;
    config.hibob.rate_limit = RateLimit {
        count: limit,
        period: window,
    };
    let mut reconciler = Reconciler::new(&config, Ledger::open(&config.ledger.path)?)?;

    let started = Instant::now();
    let report = reconciler
        .run_pass("bench", &CancellationToken::new())
        .await?;
    let wall = started.elapsed();

    // The simulator's windows are aligned to multiples of their length since the epoch: a
    // perfect client fills the window of its first create, then each next one at its start,
    // so the last create can go no earlier than the start of window ⌈N/limit⌉.
    let creates: Vec<u64> = simulator
        .calls()
        .iter()
        .filter(|c| c.endpoint == Endpoint::CreatePerson && c.status != 429)
        .map(|c| c.arrived_at_ms)
        .collect();
    let first = creates.iter().min().copied().unwrap_or_default();
    let last = creates.iter().max().copied().unwrap_or_default();
    let window_ms = window.as_millis().max(1) as u64;
    let windows_needed = hires.div_ceil(limit as usize).max(1) as u64;
    let last_window_start = first / window_ms * window_ms + window_ms * (windows_needed - 1);
    let theoretical_minimum = Duration::from_millis(last_window_start.saturating_sub(first));
    let create_phase = Duration::from_millis(last.saturating_sub(first));

    let rate_limited = simulator.calls().iter().filter(|c| c.status == 429).count();
    let ours = simulator
        .calls()
        .iter()
        .filter(|c| c.endpoint != Endpoint::DownloadFile)
        .count();
    Ok(RateLimitFigures {
        hires,
        limit,
        window,
        wall,
        create_phase,
        theoretical_minimum,
        rate_limited,
        calls_per_hire: ours as f64 / hires.max(1) as f64,
        completed: report.summary.completed,
    })
}

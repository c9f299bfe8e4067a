//! On-demand benchmarks against the built-in simulator on loopback (`hirebridge bench`).
//!
//! Owns the scenarios and their figures; it never runs inside `cargo test` (the machines that
//! run tests are shared and noisy) and asserts nothing: it measures and prints, each figure
//! beside its floor, for docs/performance.md.

pub mod audit;
pub mod child;
pub mod flat;
pub mod plans;
pub mod steady;
pub mod table;
pub mod tenant;

use std::fmt;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use hirebridge::config::{Config, RateLimit};
use hirebridge::ledger::Ledger;
use hirebridge::reconcile::Reconciler;
use hirebridge::sim::{self, CvFiles, Endpoint, Scenario, Sim};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot start the simulator: {0}")]
    Simulator(std::io::Error),
    #[error("cannot create a scratch directory: {0}")]
    Scratch(std::io::Error),
    #[error(transparent)]
    Config(#[from] hirebridge::config::ConfigError),
    #[error(transparent)]
    Ledger(#[from] hirebridge::ledger::LedgerError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the daemon under test failed: {0}")]
    Daemon(String),
}

/// A configuration that points at `simulator`, with its credentials and a ledger at `ledger`.
pub fn simulated_config(
    simulator: &Sim,
    ledger: &std::path::Path,
) -> Result<Config, hirebridge::config::ConfigError> {
    Config::simulated(
        &simulator.pinpoint_base_url(),
        &simulator.hibob_base_url(),
        sim::PINPOINT_API_KEY,
        (sim::HIBOB_SERVICE_USER_ID, sim::HIBOB_SERVICE_USER_TOKEN),
        ledger,
    )
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
    let mut config = simulated_config(&simulator, &scratch.path().join("ledger.sqlite3"))?;
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

/// What the nudge-latency scenario measured.
#[derive(Debug, Clone)]
pub struct NudgeLatencyFigures {
    pub hires: usize,
    /// From sending each webhook to its employee being in the simulated HiBob, sorted.
    pub latencies: Vec<Duration>,
    /// Hires whose employee appeared within the wait.
    pub created: usize,
}

impl NudgeLatencyFigures {
    pub fn p50(&self) -> Duration {
        self.latencies
            .get(self.latencies.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or_default()
    }

    pub fn p99(&self) -> Duration {
        let n = self.latencies.len();
        self.latencies
            .get((n * 99).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
}

impl fmt::Display for NudgeLatencyFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(
            f,
            "nudge latency: {} new hires, one signed application_hired webhook each, one at a time; \
             the daemon polls hourly, so each employee is the nudge's work; simulated Pinpoint and HiBob on loopback",
            self.hires
        )?;
        writeln!(f, "  {:<22}{:>10}  floor", "figure", "measured")?;
        writeln!(
            f,
            "  {:<22}{:>8.1}ms  < 100ms",
            "p50 (POST → employee)",
            ms(self.p50())
        )?;
        writeln!(f, "  {:<22}{:>8.1}ms", "p99", ms(self.p99()))?;
        writeln!(f, "  {:<22}{:>8.1}ms", "max", ms(self.max()))?;
        write!(
            f,
            "  {:<22}{:>10}  {}",
            "employees created", self.created, self.hires
        )
    }
}

/// Runs the daemon in-process with its webhook listener on loopback, then for each of
/// `hires` new hires: adds it to the simulated Pinpoint, sends its webhook, and times until
/// its employee exists in the simulated HiBob.
pub async fn nudge_latency(hires: usize) -> Result<NudgeLatencyFigures, BenchError> {
    const SECRET: &str = "bench-webhook-secret";
    let scenario = Scenario::empty().with_job("1", "Engineer", sim::Visibility::External);
    let simulator = Sim::start(scenario).map_err(BenchError::Simulator)?;
    let scratch = tempfile::tempdir().map_err(BenchError::Scratch)?;
    let mut config = simulated_config(&simulator, &scratch.path().join("ledger.sqlite3"))?;
    config.schedule = hirebridge::config::Schedule::Every(Duration::from_secs(3600));
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|probe| probe.local_addr())
        .map_err(BenchError::Simulator)?;
    config.webhook = Some(hirebridge::config::WebhookConfig {
        listen,
        secret: Some(secrecy::SecretString::from(SECRET.to_owned())),
        allow_unsigned: false,
        limits: hirebridge::config::ListenerLimits::default(),
        metrics_listen: None,
    });
    let reconciler = Reconciler::new(&config, Ledger::open(&config.ledger.path)?)?;
    let shutdown = CancellationToken::new();
    let daemon = {
        let shutdown = shutdown.clone();
        let config_path = scratch.path().join("config.toml");
        tokio::spawn(async move {
            let notifier = std::sync::Arc::new(hirebridge::service::Notifier::disabled());
            hirebridge::daemon::run(reconciler, config, &config_path, notifier, shutdown).await
        })
    };

    let client = reqwest::Client::new();
    let base = format!("http://{listen}");
    let ready = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        if ready.elapsed() > Duration::from_secs(60) || daemon.is_finished() {
            shutdown.cancel();
            return Err(BenchError::Daemon(match daemon.await {
                Ok(Err(e)) => e.to_string(),
                _ => "the listener never answered".into(),
            }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut latencies = Vec::with_capacity(hires);
    for n in 0..hires {
        let id = 500_001 + n as u64;
        let email = format!("nudged{id}@example.com");
        simulator.add_application(sim::SimApplication::hired(
            &id.to_string(),
            "Nudged",
            &format!("Hire{n}"),
            &email,
            "1",
        ));
        let body = format!(
            r#"{{"event":"application_hired","triggeredAt":1614687278,"data":{{"application":{{"id":{id}}},"job":{{"id":1}}}}}}"#
        );
        let signature = hirebridge::webhook::sign(SECRET, body.as_bytes());
        let sent = Instant::now();
        let answer = client
            .post(format!("{base}{}", hirebridge::webhook::WEBHOOK_PATH))
            .header("Content-Type", "application/json")
            .header("PINPOINT-HMAC-SHA256", signature)
            .body(body)
            .send()
            .await?;
        if !answer.status().is_success() {
            return Err(BenchError::Daemon(format!(
                "the webhook was answered {}",
                answer.status()
            )));
        }
        while simulator.employee_by_email(&email).is_none()
            && sent.elapsed() < Duration::from_secs(10)
        {
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        if simulator.employee_by_email(&email).is_some() {
            latencies.push(sent.elapsed());
        }
    }
    shutdown.cancel();
    if let Ok(Err(e)) = daemon.await {
        return Err(BenchError::Daemon(e.to_string()));
    }
    latencies.sort();
    Ok(NudgeLatencyFigures {
        hires,
        created: latencies.len(),
        latencies,
    })
}

/// What the unlimited backfill and the steady-state pass after it measured.
#[derive(Debug, Clone)]
pub struct BackfillFigures {
    pub hires: usize,
    pub completed: usize,
    pub backfill: Duration,
    pub calls_per_hire: f64,
    pub steady_pass: Duration,
    pub steady_calls: u64,
    pub steady_writes: usize,
    pub pages: usize,
}

impl BackfillFigures {
    pub fn hires_per_second(&self) -> f64 {
        self.completed as f64 / self.backfill.as_secs_f64().max(f64::EPSILON)
    }
}

impl fmt::Display for BackfillFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "backfill: {} new hires (about 80% with a CV) into an unlimited simulator, then the same ledger synced again",
            self.hires
        )?;
        writeln!(f, "  {:<26}{:>10}  floor", "figure", "measured")?;
        writeln!(
            f,
            "  {:<26}{:>10.0}  >= 300",
            "hires per second",
            self.hires_per_second()
        )?;
        writeln!(
            f,
            "  {:<26}{:>10.2}  <= 3.10 (with a CV)",
            "API calls per hire", self.calls_per_hire
        )?;
        writeln!(
            f,
            "  {:<26}{:>10}  = listing pages only ({})",
            "steady-state API calls", self.steady_calls, self.pages
        )?;
        writeln!(
            f,
            "  {:<26}{:>10}  0",
            "steady-state writes", self.steady_writes
        )?;
        writeln!(
            f,
            "  {:<26}{:>9.3}s  < 1s (at 10,000)",
            "steady-state pass",
            self.steady_pass.as_secs_f64()
        )?;
        write!(
            f,
            "  {:<26}{:>10}  {}",
            "hires done", self.completed, self.hires
        )
    }
}

/// Backfills `hires` generated hires into an unlimited simulator (hirebridge unlimited too),
/// then runs the pass again on the settled ledger.
pub async fn backfill(hires: usize) -> Result<BackfillFigures, BenchError> {
    let simulator = Sim::start(Scenario::generated(hires, 7)).map_err(BenchError::Simulator)?;
    let scratch = tempfile::tempdir().map_err(BenchError::Scratch)?;
    let mut config = simulated_config(&simulator, &scratch.path().join("ledger.sqlite3"))?;
    config.pinpoint.page_size = 1000;
    let mut reconciler = Reconciler::new(&config, Ledger::open(&config.ledger.path)?)?;
    let shutdown = CancellationToken::new();

    let started = Instant::now();
    let first = reconciler.run_pass("bench", &shutdown).await?;
    let backfill = started.elapsed();

    simulator.reset_counters();
    let started = Instant::now();
    let second = reconciler.run_pass("bench", &shutdown).await?;
    let steady_pass = started.elapsed();

    Ok(BackfillFigures {
        hires,
        completed: first.summary.completed,
        backfill,
        calls_per_hire: first.summary.calls_per_hire().unwrap_or_default(),
        steady_pass,
        steady_calls: second.summary.http.requests,
        steady_writes: simulator.write_calls(),
        // Without `links.next` a full page is followed by one more request (it may not be the
        // last), so an exact multiple of the page size costs one empty page.
        pages: simulator.count(Endpoint::ListApplications),
    })
}

//! Figures of a settled tenant, measured on the real binary as a child process: the
//! steady-state `sync` pass, how it scales with the tenant, the idle daemon, and `report`.

use std::fmt;
use std::time::{Duration, Instant};

use super::BenchError;
use super::child::{self, Finished, NotifySocket};
use super::tenant::{self, SettledTenant};
use hirebridge::sim::Endpoint;

/// Pinpoint's largest page: the benchmark's listings use it.
pub const PAGE_SIZE: u32 = 1000;

/// One steady-state `sync` of a settled tenant.
#[derive(Debug, Clone)]
pub struct SteadyRun {
    pub process: Finished,
    pub listing_calls: usize,
    pub other_calls: usize,
    pub write_calls: usize,
}

/// Runs of the steady-state pass over one settled tenant.
#[derive(Debug, Clone)]
pub struct SteadyFigures {
    pub hires: usize,
    pub seeding: Duration,
    pub runs: Vec<SteadyRun>,
}

impl SteadyFigures {
    /// ⌈N / page size⌉: what the listing floor allows (the generator's few non-hired
    /// applications are filtered out by Pinpoint, not listed).
    pub fn pages(&self) -> usize {
        self.hires.div_ceil(PAGE_SIZE as usize).max(1)
    }

    pub fn walls(&self) -> Range {
        Range::of(self.runs.iter().map(|r| r.process.wall.as_secs_f64()))
    }

    pub fn rss_mib(&self) -> Range {
        Range::of(
            self.runs
                .iter()
                .map(|r| r.process.peak_rss_kib as f64 / 1024.0),
        )
    }

    pub fn cpu(&self) -> Range {
        Range::of(self.runs.iter().map(|r| r.process.cpu.as_secs_f64()))
    }

    pub fn listing_calls(&self) -> Range {
        Range::of(self.runs.iter().map(|r| r.listing_calls as f64))
    }

    pub fn other_calls(&self) -> usize {
        self.runs
            .iter()
            .map(|r| r.other_calls + r.write_calls)
            .max()
            .unwrap_or(0)
    }
}

/// The smallest and largest of several runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    pub fn of(values: impl Iterator<Item = f64>) -> Self {
        values.fold(
            Range {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
            },
            |r, v| Range {
                min: r.min.min(v),
                max: r.max.max(v),
            },
        )
    }

    pub fn scaled(self, by: f64) -> Self {
        Range {
            min: self.min * by,
            max: self.max * by,
        }
    }

    /// `a` or `a–b` with `decimals` places.
    pub fn show(self, decimals: usize) -> String {
        if !self.min.is_finite() {
            return "-".into();
        }
        let a = format!("{:.*}", decimals, self.min);
        let b = format!("{:.*}", decimals, self.max);
        if a == b { a } else { format!("{a}–{b}") }
    }
}

/// Syncs an already settled tenant once with the real binary, measuring the child process.
pub fn sync_once(tenant: &SettledTenant) -> Result<SteadyRun, BenchError> {
    tenant.simulator.reset_counters();
    let process = child::run_measured(child::command(&tenant.config_path, &["sync"])?)?;
    if process.exit_code != Some(0) {
        return Err(BenchError::Daemon(format!(
            "hirebridge sync exited {:?}: {}",
            process.exit_code, process.stdout
        )));
    }
    let listing_calls = tenant.simulator.count(Endpoint::ListApplications);
    let write_calls = tenant.simulator.write_calls();
    let other_calls = tenant.simulator.calls().len() - listing_calls - write_calls;
    Ok(SteadyRun {
        process,
        listing_calls,
        other_calls,
        write_calls,
    })
}

/// Builds a settled tenant of `hires` and syncs it `runs` times.
pub async fn steady_state(hires: usize, runs: usize) -> Result<SteadyFigures, BenchError> {
    let started = Instant::now();
    let tenant = tenant::settled(hires, PAGE_SIZE).await?;
    let seeding = started.elapsed();
    // The first pass of a day also runs the API contract check (a fixed cost, not the
    // steady pass's): it is run once, unmeasured.
    sync_once(&tenant)?;
    let mut measured = vec![];
    for _ in 0..runs.max(1) {
        measured.push(sync_once(&tenant)?);
    }
    Ok(SteadyFigures {
        hires,
        seeding,
        runs: measured,
    })
}

impl fmt::Display for SteadyFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "steady state: {} hires already done (seeded in {:.1}s), `hirebridge sync` as a child process, page size {PAGE_SIZE}, full listing, {} runs after one that checked the API contract",
            self.hires,
            self.seeding.as_secs_f64(),
            self.runs.len()
        )?;
        writeln!(f, "  {:<26}{:>16}  floor", "figure", "measured")?;
        writeln!(
            f,
            "  {:<26}{:>16}  = {} (⌈N/page size⌉)",
            "listing calls",
            self.listing_calls().show(0),
            self.pages()
        )?;
        writeln!(
            f,
            "  {:<26}{:>16}  0",
            "other API calls",
            self.other_calls()
        )?;
        writeln!(
            f,
            "  {:<26}{:>15}s  < 1s at 10,000",
            "wall",
            self.walls().show(3)
        )?;
        writeln!(f, "  {:<26}{:>15}s", "CPU (user+sys)", self.cpu().show(3))?;
        write!(
            f,
            "  {:<26}{:>13} MiB  < 40 MiB",
            "peak RSS",
            self.rss_mib().show(1)
        )
    }
}

/// The steady-state pass at several tenant sizes.
#[derive(Debug, Clone)]
pub struct ScalingFigures {
    pub sizes: Vec<SteadyFigures>,
}

impl ScalingFigures {
    /// Wall time per hire at the largest size over that at the smallest (1.0 = flat).
    pub fn time_ratio(&self) -> Range {
        self.ratio(|s| s.walls().scaled(1.0 / s.hires as f64))
    }

    /// CPU time per hire, largest over smallest.
    pub fn cpu_ratio(&self) -> Range {
        self.ratio(|s| s.cpu().scaled(1.0 / s.hires as f64))
    }

    /// Peak RSS at the largest size over that at the smallest (memory must not grow with N).
    pub fn memory_ratio(&self) -> Range {
        self.ratio(SteadyFigures::rss_mib)
    }

    /// Peak RSS at the largest size over that at the one before it: both list several
    /// pages, so two pages are in memory at once in each (the smallest may fit one page).
    pub fn memory_ratio_upper(&self) -> Range {
        let n = self.sizes.len();
        if n < 2 {
            return Range::default();
        }
        Self::between(
            &self.sizes[n - 2],
            &self.sizes[n - 1],
            SteadyFigures::rss_mib,
        )
    }

    fn ratio(&self, figure: impl Fn(&SteadyFigures) -> Range) -> Range {
        let (Some(small), Some(large)) = (self.sizes.first(), self.sizes.last()) else {
            return Range::default();
        };
        Self::between(small, large, figure)
    }

    fn between(
        small: &SteadyFigures,
        large: &SteadyFigures,
        figure: impl Fn(&SteadyFigures) -> Range,
    ) -> Range {
        let (a, b) = (figure(small), figure(large));
        Range {
            min: b.min / a.max,
            max: b.max / a.min,
        }
    }
}

pub async fn scaling(sizes: &[usize], runs: usize) -> Result<ScalingFigures, BenchError> {
    let mut out = vec![];
    for &n in sizes {
        out.push(steady_state(n, runs).await?);
    }
    Ok(ScalingFigures { sizes: out })
}

impl fmt::Display for ScalingFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scaling: the steady-state pass at {} hires (child process, page size {PAGE_SIZE})",
            self.sizes
                .iter()
                .map(|s| s.hires.to_string())
                .collect::<Vec<_>>()
                .join(" / ")
        )?;
        writeln!(
            f,
            "  {:>9}{:>8}{:>16}{:>16}{:>16}{:>14}",
            "hires", "pages", "wall s", "µs/hire", "CPU µs/hire", "peak RSS MiB"
        )?;
        for s in &self.sizes {
            writeln!(
                f,
                "  {:>9}{:>8}{:>16}{:>16}{:>16}{:>14}",
                s.hires,
                s.listing_calls().show(0),
                s.walls().show(3),
                s.walls().scaled(1e6 / s.hires as f64).show(1),
                s.cpu().scaled(1e6 / s.hires as f64).show(1),
                s.rss_mib().show(1)
            )?;
        }
        write!(
            f,
            "  largest/smallest: wall per hire ×{}, CPU per hire ×{}, peak RSS ×{} (flat = 1); largest/middle peak RSS ×{}",
            self.time_ratio().show(2),
            self.cpu_ratio().show(2),
            self.memory_ratio().show(2),
            self.memory_ratio_upper().show(2)
        )
    }
}

/// One start of the daemon and its idle window.
#[derive(Debug, Clone)]
pub struct RestRun {
    /// From spawning `hirebridge run` to its `READY=1`: no ledger file yet, an empty tenant.
    pub startup_fresh: Duration,
    /// The same with the settled ledger of the whole tenant (a restart).
    pub startup_restart: Duration,
    pub idle_cpu: Duration,
    pub idle_rss_kib: u64,
    /// Listing calls made during the idle window (none: the next poll is an hour away).
    pub polls_while_idle: usize,
}

#[derive(Debug, Clone)]
pub struct RestFigures {
    pub hires: usize,
    pub idle: Duration,
    pub runs: Vec<RestRun>,
}

impl RestFigures {
    pub fn startup_fresh_ms(&self) -> Range {
        Range::of(
            self.runs
                .iter()
                .map(|r| r.startup_fresh.as_secs_f64() * 1e3),
        )
    }
    pub fn startup_restart_ms(&self) -> Range {
        Range::of(
            self.runs
                .iter()
                .map(|r| r.startup_restart.as_secs_f64() * 1e3),
        )
    }
    pub fn idle_cpu_ms(&self) -> Range {
        Range::of(self.runs.iter().map(|r| r.idle_cpu.as_secs_f64() * 1e3))
    }
    pub fn idle_rss_mib(&self) -> Range {
        Range::of(self.runs.iter().map(|r| r.idle_rss_kib as f64 / 1024.0))
    }
}

/// Starts `hirebridge run` (hourly schedule) on `tenant` with `NOTIFY_SOCKET` set; returns
/// the child, its time to `READY=1`, and the socket (to wait for the first pass's end).
fn start_daemon(
    tenant: &SettledTenant,
) -> Result<(std::process::Child, Duration, NotifySocket), BenchError> {
    let notify = NotifySocket::bind()?;
    let mut cmd = child::command(&tenant.config_path, &["run"])?;
    cmd.env("NOTIFY_SOCKET", &notify.path)
        .stdout(std::process::Stdio::null());
    let spawned = Instant::now();
    let daemon = cmd
        .spawn()
        .map_err(|e| BenchError::Daemon(format!("cannot start the binary: {e}")))?;
    match notify.wait_ready(Duration::from_secs(60)) {
        Ok(at) => Ok((daemon, at - spawned, notify)),
        Err(e) => {
            child::stop(daemon);
            Err(e)
        }
    }
}

/// The daemon at rest: started on a tenant of `hires` done hires, its first pass finished,
/// then left alone for `idle` with the next poll an hour away.
pub async fn at_rest(hires: usize, idle: Duration, runs: usize) -> Result<RestFigures, BenchError> {
    let tenant = tenant::settled(hires, PAGE_SIZE).await?;
    // A first start: no ledger file and an empty tenant, its own simulator.
    let fresh = tenant::settled(0, PAGE_SIZE).await?;
    let mut measured = vec![];
    for _ in 0..runs.max(1) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", fresh.ledger_path().display()));
        }
        let (first_start, startup_fresh, _) = start_daemon(&fresh)?;
        child::stop(first_start);

        let (daemon, startup_restart, notify) = start_daemon(&tenant)?;
        // The first pass's one-line summary comes as the next STATUS: the pass is over.
        let first_pass = notify.wait_for(Duration::from_secs(60), "the first pass's end", |l| {
            l.starts_with("STATUS=") && l.contains("hired listed")
        });
        if let Err(e) = first_pass {
            child::stop(daemon);
            return Err(e);
        }
        std::thread::sleep(Duration::from_millis(200));
        tenant.simulator.reset_counters();
        let before = child::sample(daemon.id())?;
        std::thread::sleep(idle);
        let after = child::sample(daemon.id())?;
        let polls_while_idle = tenant.simulator.count(Endpoint::ListApplications);
        child::stop(daemon);
        measured.push(RestRun {
            startup_fresh,
            startup_restart,
            idle_cpu: after.cpu.saturating_sub(before.cpu),
            idle_rss_kib: after.rss_kib,
            polls_while_idle,
        });
    }
    Ok(RestFigures {
        hires,
        idle,
        runs: measured,
    })
}

impl fmt::Display for RestFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "at rest: `hirebridge run` (hourly schedule) on {} done hires, idle {:?} after its first pass, {} runs",
            self.hires,
            self.idle,
            self.runs.len()
        )?;
        writeln!(f, "  {:<30}{:>14}  floor", "figure", "measured")?;
        writeln!(
            f,
            "  {:<30}{:>11} MiB  < 15 MiB",
            "RSS when idle",
            self.idle_rss_mib().show(1)
        )?;
        writeln!(
            f,
            "  {:<30}{:>12} ms  < 50 ms over 30 s",
            format!("CPU over {:?} idle", self.idle),
            self.idle_cpu_ms().show(0)
        )?;
        writeln!(
            f,
            "  {:<30}{:>14}  0",
            "polls while idle",
            self.runs
                .iter()
                .map(|r| r.polls_while_idle)
                .max()
                .unwrap_or(0)
        )?;
        writeln!(
            f,
            "  {:<30}{:>12} ms  < 100 ms",
            "startup to READY=1, restart",
            self.startup_restart_ms().show(1)
        )?;
        write!(
            f,
            "  {:<30}{:>12} ms  < 100 ms",
            "startup to READY=1, no ledger",
            self.startup_fresh_ms().show(1)
        )
    }
}

/// `hirebridge report` in every format over a settled ledger, and the ledger's size.
#[derive(Debug, Clone)]
pub struct LedgerFigures {
    pub hires: usize,
    /// The JSON report's runs (the table's floor is about it); every format's are in
    /// [`LedgerFigures::formats`].
    pub runs: Vec<Finished>,
    /// Database plus write-ahead log after a checkpoint, in bytes.
    pub ledger_bytes: u64,
    /// Rows in the JSON report.
    pub rows_reported: usize,
    /// Each format's runs, in [`REPORT_FORMATS`]' order.
    pub formats: Vec<ReportFormatFigures>,
}

/// The formats the ledger benchmark reports in, JSON first.
pub const REPORT_FORMATS: [&str; 4] = ["json", "csv", "table", "html"];

/// One format's `report` runs.
#[derive(Debug, Clone)]
pub struct ReportFormatFigures {
    pub format: &'static str,
    /// Each run's figures; its output is counted, then dropped (the bench keeps no report).
    pub runs: Vec<Finished>,
    /// The hires the last run's output lists.
    pub rows_reported: usize,
}

impl ReportFormatFigures {
    pub fn walls(&self) -> Range {
        Range::of(self.runs.iter().map(|r| r.wall.as_secs_f64()))
    }
    pub fn rss_mib(&self) -> Range {
        Range::of(self.runs.iter().map(|r| r.peak_rss_kib as f64 / 1024.0))
    }
}

/// The hires a report in `format` lists: array elements, CSV records, table lines between
/// the header and the closing count, HTML table rows.
fn rows_in(format: &str, output: &str) -> usize {
    match format {
        "json" => serde_json::from_str::<serde_json::Value>(output)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0),
        "csv" => csv::Reader::from_reader(output.as_bytes())
            .records()
            .filter(Result::is_ok)
            .count(),
        "table" => output.lines().count().saturating_sub(2),
        "html" => output.matches("<tr data-application-id=").count(),
        _ => 0,
    }
}

impl LedgerFigures {
    pub fn walls(&self) -> Range {
        Range::of(self.runs.iter().map(|r| r.wall.as_secs_f64()))
    }
    pub fn rss_mib(&self) -> Range {
        Range::of(self.runs.iter().map(|r| r.peak_rss_kib as f64 / 1024.0))
    }
    pub fn bytes_per_hire(&self) -> f64 {
        self.ledger_bytes as f64 / self.hires.max(1) as f64
    }
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

pub async fn ledger_report(hires: usize, runs: usize) -> Result<LedgerFigures, BenchError> {
    let tenant = tenant::settled(hires, PAGE_SIZE).await?;
    // One real pass first, so the ledger holds what a daemon's ledger would after it.
    sync_once(&tenant)?;
    hirebridge::ledger::Ledger::open(tenant.ledger_path())?.checkpoint()?;
    let path = tenant.ledger_path();
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    let ledger_bytes = file_size(path) + file_size(&wal);
    let mut formats = vec![];
    for format in REPORT_FORMATS {
        let mut measured = vec![];
        let mut rows_reported = 0;
        for _ in 0..runs.max(1) {
            let mut finished = child::run_measured(child::command(
                &tenant.config_path,
                &["report", "--format", format],
            )?)?;
            if finished.exit_code != Some(0) {
                return Err(BenchError::Daemon(format!(
                    "hirebridge report --format {format} exited {:?}",
                    finished.exit_code
                )));
            }
            rows_reported = rows_in(format, &finished.stdout);
            // Counted: a 100,000-hire report is ~100 MB the bench need not hold.
            finished.stdout = String::new();
            measured.push(finished);
        }
        formats.push(ReportFormatFigures {
            format,
            runs: measured,
            rows_reported,
        });
    }
    let json = &formats[0];
    Ok(LedgerFigures {
        hires,
        runs: json.runs.clone(),
        ledger_bytes,
        rows_reported: json.rows_reported,
        formats,
    })
}

impl fmt::Display for LedgerFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ledger: `hirebridge report --format {}` over {} done hires (child process), {} runs each",
            REPORT_FORMATS.join("|"),
            self.hires,
            self.runs.len()
        )?;
        writeln!(f, "  {:<26}{:>14}  floor", "figure", "measured")?;
        for figures in &self.formats {
            let format = figures.format;
            let floor = if format == "json" {
                "  < 1s at 100,000"
            } else {
                ""
            };
            writeln!(
                f,
                "  {:<26}{:>13}s{floor}",
                format!("report {format} wall"),
                figures.walls().show(3)
            )?;
            writeln!(
                f,
                "  {:<26}{:>10} MiB  flat in hires",
                format!("report {format} peak RSS"),
                figures.rss_mib().show(1)
            )?;
            writeln!(
                f,
                "  {:<26}{:>14}  {}",
                format!("rows reported {format}"),
                figures.rows_reported,
                self.hires
            )?;
        }
        write!(
            f,
            "  {:<26}{:>12} B  (db + wal after checkpoint: {:.1} MiB)",
            "ledger size per hire",
            format!("{:.0}", self.bytes_per_hire()),
            self.ledger_bytes as f64 / 1024.0 / 1024.0
        )
    }
}

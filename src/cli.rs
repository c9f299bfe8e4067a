//! The command line: clap definitions only. What each command does lives in the binary's
//! `commands` module; what the flags mean is documented here, where `--help` shows it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::DEFAULT_CONFIG_PATH;
use crate::ledger::HireStatus;
use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "hirebridge",
    version,
    about = "Makes every candidate hired in Pinpoint exactly one employee in HiBob.",
    after_help = "Exit codes: 0 all done; 1 error (config, ledger, …); \
                  2 some hires wait for a retry; 3 some hires need attention or credentials were refused."
)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "HIREBRIDGE_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,

    /// Log filter, e.g. `info`, `warn`, `hirebridge=debug` (default: `info`; `warn` for `demo`).
    #[arg(long, global = true, env = "HIREBRIDGE_LOG")]
    pub log: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one reconcile pass, print a one-line summary, and exit.
    Sync,
    /// Run as a daemon: reconcile on the schedule until SIGTERM/SIGINT.
    Run,
    /// One row per hire from the ledger.
    Report(ReportArgs),
    /// Clear backoff and parking so the next pass tries again.
    Retry(RetryArgs),
    /// Run the real reconciler against the built-in simulator of both APIs; needs no
    /// credentials and no network.
    Demo(DemoArgs),
    /// Measure against the built-in simulator on loopback and print the figures with their
    /// floors (takes seconds; not part of the test suite).
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Only hires with this status.
    #[arg(long, value_parser = parse_status)]
    pub status: Option<HireStatus>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RetryArgs {
    /// The Pinpoint application id of one hire.
    pub application_id: Option<String>,
    /// Every hire that failed or needs attention.
    #[arg(long)]
    pub all_failed: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's ledger at this path instead of a temporary file.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
}

fn parse_status(s: &str) -> Result<HireStatus, String> {
    HireStatus::parse(s).ok_or_else(|| {
        format!("unknown status {s:?}; use one of: pending, done, failed, needs_attention")
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchScenario {
    /// Backfill new hires into a HiBob that enforces a fixed-window rate limit.
    RateLimits,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, value_enum, default_value = "rate-limits")]
    pub scenario: BenchScenario,
    /// New hires to backfill.
    #[arg(long, default_value_t = 60)]
    pub hires: usize,
    /// Requests HiBob allows per window, on search and on create.
    #[arg(long, default_value_t = 10)]
    pub limit: u32,
    /// The length of HiBob's fixed window.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub window: std::time::Duration,
}

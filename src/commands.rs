//! What each command does, composed from the library's modules. Errors become `anyhow` here,
//! at the edge, with context that tells the operator what to do next.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use hirebridge::cli::{BenchArgs, BenchScenario, Cli, Command, DemoArgs, ReportArgs, RetryArgs};
use hirebridge::config::Config;
use hirebridge::ledger::{EntryFilter, HireStatus, Ledger};
use hirebridge::reconcile::{PassReport, Reconciler, Stop};
use hirebridge::service::Notifier;
use hirebridge::{daemon, report, sim};
use tokio_util::sync::CancellationToken;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Error = 1,
    /// Some hires wait for a retry (transient failures, HiBob's read lag, a failed listing).
    Retrying = 2,
    /// Some hires need a person, or a credential was refused.
    NeedsAttention = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

pub fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // No colour codes in the journal or in files.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

pub fn execute(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Sync => runtime()?.block_on(sync(&cli.config)),
        Command::Run => runtime()?.block_on(run(&cli.config)),
        Command::Report(args) => report(&cli.config, &args),
        Command::Retry(args) => retry(&cli.config, &args),
        Command::Demo(args) => demo(&args),
        Command::Bench(args) => bench(&args),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn open_reconciler(config: &Config) -> anyhow::Result<Reconciler> {
    let ledger = Ledger::open(&config.ledger.path)?;
    Reconciler::new(config, ledger).context("cannot build the HTTP client")
}

/// The exit code a pass deserves, judged on the whole ledger after it.
pub fn exit_for(report: &PassReport) -> Exit {
    if matches!(report.stopped, Some(Stop::Unauthorized(_)))
        || report.total(HireStatus::NeedsAttention) > 0
    {
        Exit::NeedsAttention
    } else if report.stopped.is_some()
        || report.total(HireStatus::Failed) > 0
        || report.total(HireStatus::Pending) > 0
    {
        Exit::Retrying
    } else {
        Exit::Ok
    }
}

async fn sync(config_path: &Path) -> anyhow::Result<Exit> {
    let config = Config::load(config_path)?;
    let mut reconciler = open_reconciler(&config)?;
    let shutdown = CancellationToken::new();
    daemon::install_signal_handlers(shutdown.clone())?;
    let report = reconciler.run_pass("sync", &shutdown).await?;
    println!("sync: {}", report.one_line());
    Ok(exit_for(&report))
}

async fn run(config_path: &Path) -> anyhow::Result<Exit> {
    let notifier = Arc::new(Notifier::from_env());
    notifier.status("starting: reading the configuration and opening the ledger");
    let result = async {
        let config = Config::load(config_path)?;
        let reconciler = open_reconciler(&config)?;
        let shutdown = CancellationToken::new();
        daemon::install_signal_handlers(shutdown.clone())?;
        daemon::run(reconciler, config, config_path, notifier.clone(), shutdown).await?;
        anyhow::Ok(Exit::Ok)
    }
    .await;
    if let Err(e) = &result {
        // `systemctl status` shows why the service never became ready (no secret is in it).
        notifier.status(&format!("failed: {e:#}"));
    }
    result
}

fn report(config_path: &Path, args: &ReportArgs) -> anyhow::Result<Exit> {
    let ledger = Ledger::open_read_only(&Config::ledger_path(config_path)?)?;
    let entries = ledger.entries(&EntryFilter {
        status: args.status,
        ..Default::default()
    })?;
    let mut out = std::io::stdout().lock();
    report::render(&report::rows(&entries), args.format, &mut out)?;
    out.flush()?;
    Ok(Exit::Ok)
}

fn retry(config_path: &Path, args: &RetryArgs) -> anyhow::Result<Exit> {
    let mut ledger = Ledger::open_for_operator(&Config::ledger_path(config_path)?)?;
    let now = chrono::Utc::now();
    let moved = match &args.application_id {
        Some(id) => {
            if ledger.entry(id)?.is_none() {
                anyhow::bail!(
                    "no hire with application id {id} in the ledger; `hirebridge report` lists them"
                );
            }
            ledger.retry(Some(id), now)?
        }
        None => ledger.retry(None, now)?,
    };
    println!("retry: {moved} hire(s) will be tried on the next pass");
    Ok(Exit::Ok)
}

fn demo(args: &DemoArgs) -> anyhow::Result<Exit> {
    let simulator =
        sim::Sim::start(sim::Scenario::demo()).context("cannot start the built-in simulator")?;
    let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let ledger_path = args
        .ledger
        .clone()
        .unwrap_or_else(|| temp.path().join("demo-ledger.sqlite3"));
    let config = Config::simulated(
        &simulator.pinpoint_base_url(),
        &simulator.hibob_base_url(),
        sim::PINPOINT_API_KEY,
        (sim::HIBOB_SERVICE_USER_ID, sim::HIBOB_SERVICE_USER_TOKEN),
        &ledger_path,
    )?;
    println!(
        "hirebridge demo: simulated Pinpoint and HiBob on http://{} (no credentials, no network)",
        simulator.addr()
    );
    println!("ledger: {}", ledger_path.display());
    let entries = runtime()?.block_on(async {
        let mut reconciler = open_reconciler(&config)?;
        let shutdown = CancellationToken::new();
        let first = reconciler.run_pass("demo", &shutdown).await?;
        println!("pass 1: {}", first.one_line());
        let writes_before = simulator.write_calls();
        let second = reconciler.run_pass("demo", &shutdown).await?;
        println!(
            "pass 2: {} — {} write calls (a settled ledger needs none)",
            second.one_line(),
            simulator.write_calls() - writes_before
        );
        anyhow::Ok(reconciler.ledger().entries(&EntryFilter::default())?)
    })?;
    println!();
    report::render(
        &report::rows(&entries),
        report::Format::Table,
        &mut std::io::stdout().lock(),
    )?;
    let employees = simulator.employees();
    let documents: usize = employees
        .iter()
        .map(|e| simulator.documents(&e.id).len())
        .sum();
    println!(
        "\nsimulated HiBob now holds {} employees and {} documents; try `--ledger demo.sqlite3` to keep the ledger",
        employees.len(),
        documents
    );
    Ok(exit_for_entries(&entries))
}

fn exit_for_entries(entries: &[hirebridge::ledger::LedgerEntry]) -> Exit {
    if entries
        .iter()
        .any(|e| e.status == HireStatus::NeedsAttention)
    {
        Exit::NeedsAttention
    } else if entries.iter().any(|e| e.status != HireStatus::Done) {
        Exit::Retrying
    } else {
        Exit::Ok
    }
}

fn bench(args: &BenchArgs) -> anyhow::Result<Exit> {
    match args.scenario {
        BenchScenario::RateLimits => {
            anyhow::ensure!(
                args.limit > 0 && !args.window.is_zero() && args.hires > 0,
                "--hires, --limit and --window must be above zero"
            );
            let figures = runtime()?.block_on(hirebridge::bench::rate_limits(
                args.hires,
                args.limit,
                args.window,
            ))?;
            println!("{figures}");
        }
    }
    Ok(Exit::Ok)
}

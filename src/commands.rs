//! What each command does, composed from the library's modules. Errors become `anyhow` here,
//! at the edge, with context that tells the operator what to do next. Also the process-wide
//! concerns of the binary: log format and the progress display.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod audit;
mod backup;
mod demo_pending;
mod notify;

use anyhow::Context as _;
use hirebridge::cli::{
    BenchArgs, BenchScenario, Cli, Command, DemoArgs, HistoryArgs, LinkArgs, LogFormat,
    OutputFormat, PlanArgs, ReportArgs, RetryArgs, StatusArgs,
};
use hirebridge::config::Config;
use hirebridge::hire::{ApplicationId, HireStatus};
use hirebridge::ledger::{EntryFilter, Ledger};
use hirebridge::reconcile::{PassReport, PassSummary, ProgressHook, Reconciler, Stop};
use hirebridge::report::status::Health;
use hirebridge::service::Notifier;
use hirebridge::untrusted::{self, TerminalWriter};
use hirebridge::{check, daemon, report, sim};
use tokio_util::sync::CancellationToken;

pub use crate::exit::Exit;

/// The progress bar on screen, if any: log lines are written around it, not through it.
static PROGRESS_BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// Stderr for log lines, suspending the progress bar while a line is written.
/// Human-format logs go through [`TerminalWriter`]: a log line quoting an applicant's name or an
/// API's answer must not carry an escape sequence to the operator's terminal. (JSON logs are
/// escaped by serialisation.)
struct HumanLogWriter(TerminalWriter<LogWriter>);

impl std::io::Write for HumanLogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = PROGRESS_BAR.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Whether stderr is the journal stream systemd set up: `JOURNAL_STREAM` holds the device and
/// inode of that stream, and an inherited variable must not switch an operator's shell to JSON.
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::MetadataExt as _;
    let Ok(expected) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = expected.split_once(':') else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    match std::fs::File::from(fd).metadata() {
        Ok(meta) => dev == meta.dev().to_string() && ino == meta.ino().to_string(),
        Err(_) => false,
    }
}

pub fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => stderr_is_journal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        // One object per line with the event's fields (e.g. `application`) at the top level.
        builder
            .with_writer(|| LogWriter)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init();
    } else {
        // No colours: the writer escapes every escape sequence, the formatter's included.
        builder
            .with_writer(|| HumanLogWriter(TerminalWriter::new(LogWriter)))
            .with_ansi(false)
            .init();
    }
}

/// How often a pass without a terminal logs its progress.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(10);
const PROGRESS_LOG_EVERY_HIRES: usize = 100;

/// A progress bar when stderr is a terminal, else a log line every 100 hires or 10 seconds.
fn progress_display() -> (ProgressHook, Option<indicatif::ProgressBar>) {
    if std::io::stderr().is_terminal() {
        // Length 1 until the first page says how many hires there are: an empty bar, not a full one.
        let bar = indicatif::ProgressBar::new(1);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} hires [{bar:20}] {elapsed} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        if let Ok(mut slot) = PROGRESS_BAR.lock() {
            *slot = Some(bar.clone());
        }
        let shown = bar.clone();
        let hook: ProgressHook = Arc::new(move |s: &PassSummary| {
            shown.set_length(s.listed as u64);
            shown.set_position(handled(s) as u64);
            shown.set_message(format!(
                "{} done, {} waiting, {} parked",
                s.completed, s.retrying, s.parked
            ));
        });
        (hook, Some(bar))
    } else {
        let last = Mutex::new((Instant::now(), 0usize));
        let hook: ProgressHook = Arc::new(move |s: &PassSummary| {
            let Ok(mut last) = last.lock() else { return };
            let done = handled(s);
            if last.0.elapsed() >= PROGRESS_LOG_INTERVAL
                || done >= last.1 + PROGRESS_LOG_EVERY_HIRES
            {
                *last = (Instant::now(), done);
                tracing::info!(
                    listed = s.listed,
                    new = s.new,
                    handled = done,
                    completed = s.completed,
                    retrying = s.retrying,
                    parked = s.parked,
                    "pass progress"
                );
            }
        });
        (hook, None)
    }
}

/// Hires the pass has finished with, one way or another.
fn handled(s: &PassSummary) -> usize {
    s.completed + s.retrying + s.parked + s.unusable
}

fn clear_progress(bar: Option<indicatif::ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
        if let Ok(mut slot) = PROGRESS_BAR.lock() {
            *slot = None;
        }
    }
}

pub fn execute(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Sync => runtime()?.block_on(sync(&cli.config)),
        Command::Run => runtime()?.block_on(run(&cli.config)),
        Command::Plan(args) => runtime()?.block_on(plan(&cli.config, &args)),
        Command::Report(args) => report(&cli.config, &args),
        Command::History(args) => history(&cli.config, &args),
        Command::Status(args) => status(&cli.config, &args),
        Command::Init(args) => runtime()?.block_on(crate::init::run(&cli.config, &args)),
        Command::Check => runtime()?.block_on(check(&cli.config)),
        Command::Retry(args) => retry(&cli.config, &args),
        Command::Link(args) => link(&cli.config, &args),
        Command::Demo(args) => demo(&args),
        Command::Audit(command) => audit::audit(&cli.config, &command),
        Command::Erase(args) => audit::erase(&cli.config, &args),
        Command::Bench(args) => bench(&args),
        Command::Backup(args) => backup::backup(&cli.config, &args),
        Command::Restore(args) => backup::restore(&cli.config, &args),
        Command::Notify(command) => runtime()?.block_on(notify::notify(&cli.config, &command)),
        Command::Completions(args) => {
            // Generated from the clap definitions, so it never lags behind a new flag.
            let mut command = <hirebridge::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(
                args.shell,
                &mut command,
                "hirebridge",
                &mut std::io::stdout().lock(),
            );
            Ok(Exit::Ok)
        }
        Command::Man => {
            let command = <hirebridge::cli::Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout().lock())?;
            Ok(Exit::Ok)
        }
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

/// An error as one line for a person: its message, then each cause whose text the message
/// does not already carry (the library's messages quote their cause and say what to do, so
/// repeating the chain would say the cause twice).
pub fn describe(error: &anyhow::Error) -> String {
    let mut line = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// The exit code a pass deserves, judged on the whole ledger after it.
pub fn exit_for(report: &PassReport) -> Exit {
    if matches!(
        report.stopped,
        Some(Stop::Refused(_) | Stop::ContractBroken(_))
    ) || report.total(HireStatus::NeedsAttention) > 0
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
    let (hook, bar) = progress_display();
    reconciler.set_progress(hook);
    let result = reconciler.run_pass("sync", &shutdown).await;
    clear_progress(bar);
    let report = result?;
    println!("sync: {}", untrusted::terminal(&report.one_line()));
    send_notifications(&config, &reconciler, &shutdown).await;
    Ok(exit_for(&report))
}

/// After a `sync`'s pass (there is no background sender): what the outbox holds is sent once
/// now, within a deadline; what fails waits in the outbox for the next `sync` or the daemon.
/// Its failures never change the exit code.
async fn send_notifications(
    config: &Config,
    reconciler: &Reconciler,
    shutdown: &CancellationToken,
) {
    let Some(notify) = &config.notify else {
        return;
    };
    let channels = hirebridge::notify::channels(notify, config.http.request_timeout);
    let sender = hirebridge::notify::sender::Sender::new(
        reconciler.ledger_handle(),
        channels,
        Arc::new(|_, _| {}),
    );
    let deadline = config.http.request_timeout * 2 + Duration::from_secs(5);
    if tokio::time::timeout(deadline, sender.send_once(shutdown))
        .await
        .is_err()
    {
        tracing::warn!(
            "notifications not all sent in time; they wait in the outbox for the next pass"
        );
    }
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
        notifier.status(&format!("failed: {}", describe(e)));
    }
    result
}

async fn plan(config_path: &Path, args: &PlanArgs) -> anyhow::Result<Exit> {
    let config = Config::load(config_path)?;
    // Read-only and lock-free, so it runs beside the daemon; no file yet means an empty ledger.
    let ledger = Ledger::open_read_only_or_empty(&config.ledger.path)?;
    let reconciler = Reconciler::new(&config, ledger).context("cannot build the HTTP client")?;
    let dry_run = reconciler.plan_next_pass().await?;
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Json => report::plan::render_json(&dry_run, &mut out)?,
        OutputFormat::Text => {
            let mut screen = TerminalWriter::new(&mut out);
            report::plan::render_text(&dry_run, args.all, &mut screen)?;
            screen.flush()?;
        }
    }
    out.flush()?;
    Ok(if dry_run.incomplete.is_some() {
        Exit::Error
    } else {
        Exit::Ok
    })
}

fn report(config_path: &Path, args: &ReportArgs) -> anyhow::Result<Exit> {
    let (ledger_path, links) = Config::ledger_and_report_links(config_path)?;
    let ledger = Ledger::open_read_only(&ledger_path)?;
    let now = chrono::Utc::now();
    let filter = EntryFilter {
        status: args.status,
        updated_since: args.since.map(|b| b.start(now)),
        updated_until: args.until.map(|b| b.end(now)),
    };
    let context = report::Context {
        generated_at: now,
        filters: report::describe_filter(&filter),
        links: Some(links),
    };
    // Buffered: stdout flushes at every newline, and pretty JSON has ~25 lines per hire.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if args.format == report::Format::Table {
        let mut screen = TerminalWriter::new(&mut out);
        report::write(&ledger, &filter, args.format, &context, &mut screen)?;
        screen.flush()?;
    } else {
        report::write(&ledger, &filter, args.format, &context, &mut out)?;
    }
    out.flush()?;
    Ok(Exit::Ok)
}

fn history(config_path: &Path, args: &HistoryArgs) -> anyhow::Result<Exit> {
    let ledger = Ledger::open_read_only(&Config::ledger_path(config_path)?)?;
    // An application id or an email, as typed: looked up as an id first.
    let mut entries = match ledger.entry(&args.hire.as_str().into())? {
        Some(entry) => vec![entry],
        None => ledger.entries_by_email(&args.hire)?,
    };
    entries.sort_by(|a, b| {
        (a.first_seen_at, a.application_id.len(), &a.application_id).cmp(&(
            b.first_seen_at,
            b.application_id.len(),
            &b.application_id,
        ))
    });
    if entries.is_empty() {
        anyhow::bail!(
            "no hire with application id or email {:?} in the ledger; `hirebridge report` lists them",
            args.hire
        );
    }
    let histories = entries
        .iter()
        .map(|e| {
            Ok(report::history::HireHistory::new(
                e,
                ledger.events(&e.application_id)?,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Json => report::history::render_json(&histories, &mut out)?,
        OutputFormat::Text => {
            let mut screen = TerminalWriter::new(&mut out);
            report::history::render_text(&histories, &mut screen)?;
            screen.flush()?;
        }
    }
    out.flush()?;
    Ok(Exit::Ok)
}

fn status(config_path: &Path, args: &StatusArgs) -> anyhow::Result<Exit> {
    let (ledger_path, schedule) = Config::ledger_and_schedule(config_path)?;
    let ledger = Ledger::open_read_only(&ledger_path)?;
    // The WAL holds recent commits until a checkpoint: the ledger's size is both files.
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = ledger_path.clone().into_os_string();
    wal.push("-wal");
    let entries = ledger.entries(&EntryFilter::default())?;
    let contract: Option<hirebridge::contract::ContractReport> = ledger
        .contract_report()?
        .and_then(|json| serde_json::from_str(&json).ok());
    let listing = report::listing_view::build(
        &ledger.listing_marks()?,
        contract.as_ref(),
        Config::full_every_of(config_path)?,
    );
    let mut view = report::status::build(report::status::StatusInput {
        now: chrono::Utc::now(),
        entries: &entries,
        last_pass: ledger.last_pass()?,
        schedule: &schedule,
        ledger_bytes: size(&ledger_path) + size(Path::new(&wal)),
        ledger_path,
        schema_version: ledger.schema_version()?,
        contract,
        plugin_submits: {
            let (total, succeeded) = ledger.plugin_submit_counts()?;
            report::status::PluginSubmitsView { total, succeeded }
        },
        hr_reminder_after: chrono::Duration::from_std(Config::hr_reminder_after_of(config_path)?)
            .unwrap_or(chrono::Duration::MAX),
    });
    view.notifications = ledger.outbox_summary()?.into_used();
    view.drift = report::status::drift_views(&ledger.drifted_values()?);
    view.audit = Some(ledger.audit_summary()?.into());
    view.listing = Some(listing);
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &view)?;
            writeln!(out)?;
        }
        OutputFormat::Text => {
            let mut screen = TerminalWriter::new(&mut out);
            report::status::render_text(&view, &mut screen)?;
            screen.flush()?;
        }
    }
    out.flush()?;
    Ok(match view.health {
        Health::Ok => Exit::Ok,
        Health::Retrying => Exit::Retrying,
        Health::Stale => Exit::Stale,
        Health::NeedsAttention => Exit::NeedsAttention,
    })
}

async fn check(config_path: &Path) -> anyhow::Result<Exit> {
    let results = check::run(config_path).await;
    let mut out = TerminalWriter::new(std::io::stdout().lock());
    check::render(&results, &mut out)?;
    out.flush()?;
    Ok(if results.iter().all(|r| r.ok) {
        Exit::Ok
    } else {
        Exit::Error
    })
}

fn retry(config_path: &Path, args: &RetryArgs) -> anyhow::Result<Exit> {
    let mut ledger = Ledger::open_for_operator(&Config::ledger_path(config_path)?)?;
    // Who asked, for the hire's history (`sudo`'s caller when run through it).
    ledger.set_provenance(hirebridge::hire::Provenance::of_this_process(None));
    let now = chrono::Utc::now();
    if args.resend {
        let id = ApplicationId::parse(args.application_id.as_deref().unwrap_or_default())?;
        ledger.resend(&id, now)?;
        println!(
            "retry --resend: hire {id} will be sent again on the next pass; if HiBob's ATS Pending hires page still shows the earlier one, dismiss it there"
        );
        return Ok(Exit::Ok);
    }
    let moved = match &args.application_id {
        Some(id) => {
            if ledger.entry(&ApplicationId::parse(id)?)?.is_none() {
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

fn link(config_path: &Path, args: &LinkArgs) -> anyhow::Result<Exit> {
    let mut ledger = Ledger::open_for_operator(&Config::ledger_path(config_path)?)?;
    ledger.set_provenance(hirebridge::hire::Provenance::of_this_process(None));
    let id = ApplicationId::parse(&args.application_id)?;
    let employee = hirebridge::hire::EmployeeId::parse(&args.employee_id)?;
    ledger.link_employee(&id, &employee, chrono::Utc::now())?;
    println!(
        "link: hire {id} is linked to the HiBob employee {employee}; the next pass finishes it (`hirebridge history {id}` shows the link)"
    );
    Ok(Exit::Ok)
}

/// The demo's simulated APIs, its ledger (a temporary file unless `--ledger`) and a config
/// pointing at both.
struct DemoWorld {
    simulator: sim::Sim,
    /// Kept so the temporary ledger lives as long as the demo.
    _temp: tempfile::TempDir,
    ledger_path: std::path::PathBuf,
    config: Config,
}

impl DemoWorld {
    fn start(args: &DemoArgs) -> anyhow::Result<Self> {
        let simulator = sim::Sim::start(sim::Scenario::demo())
            .context("cannot start the built-in simulator")?;
        let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
        let ledger_path = args
            .ledger
            .clone()
            .unwrap_or_else(|| temp.path().join("demo-ledger.sqlite3"));
        let config = crate::bench::simulated_config(&simulator, &ledger_path)?;
        Ok(Self {
            simulator,
            _temp: temp,
            ledger_path,
            config,
        })
    }
}

fn demo(args: &DemoArgs) -> anyhow::Result<Exit> {
    if args.plugin {
        return demo_plugin(args);
    }
    if args.pending {
        return demo_pending::demo_pending(args);
    }
    let DemoWorld {
        simulator,
        _temp,
        ledger_path,
        config,
    } = DemoWorld::start(args)?;
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
    if args.serve {
        serve_simulator(&simulator)?;
    }
    Ok(exit_for_entries(&entries))
}

/// The key the demo's plugin is configured with and its Pinpoint sends.
const DEMO_PLUGIN_KEY: &str = "demo-plugin-key-0123456789";

/// `demo --plugin`: the plugin's three answers, with the demo playing Pinpoint over loopback
/// against the simulated APIs.
fn demo_plugin(args: &DemoArgs) -> anyhow::Result<Exit> {
    let DemoWorld {
        simulator,
        _temp,
        config,
        ..
    } = DemoWorld::start(args)?;
    println!(
        "hirebridge demo --plugin: simulated Pinpoint and HiBob on http://{}; the demo plays Pinpoint",
        simulator.addr()
    );
    runtime()?.block_on(async {
        let mut reconciler = open_reconciler(&config)?;
        let shutdown = CancellationToken::new();
        let first = reconciler.run_pass("demo", &shutdown).await?;
        println!("pass 1: {}", first.one_line());
        simulator.add_application(sim::SimApplication::hired(
            "9001",
            "Grace",
            "Hopper",
            "grace.hopper@example.com",
            "101",
        ));
        println!("a new hire arrives in Pinpoint: application 9001, Grace Hopper\n");
        let (addr, server) = serve_demo_plugin(&reconciler, &config, &shutdown).await?;
        play_pinpoint(addr).await?;
        shutdown.cancel();
        let _ = server.await;
        anyhow::Ok(())
    })?;
    println!(
        "simulated HiBob now holds {} employees; register the plugin in Pinpoint as the README's \"Pinpoint plugin\" section says",
        simulator.employees().len()
    );
    Ok(Exit::Ok)
}

/// The plugin on a loopback port, through the reconciler's nudger, as the daemon serves it.
async fn serve_demo_plugin(
    reconciler: &Reconciler,
    config: &Config,
    shutdown: &CancellationToken,
) -> anyhow::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    // The sender is dropped: the demo never reloads, the receiver keeps the last value.
    let (_nudger_tx, nudger_rx) = tokio::sync::watch::channel(reconciler.nudger());
    let monitor = Arc::new(hirebridge::monitor::Monitor::new(
        config.schedule.clone(),
        chrono::Utc::now(),
    ));
    let state = hirebridge::plugin::PluginState::new(
        hirebridge::plugin::PluginSettings {
            key: Some(DEMO_PLUGIN_KEY.to_owned().into()),
            name: "HiBob (hirebridge)".into(),
            employee_url: "https://app.hibob.com/employee-profile/{id}".into(),
        },
        nudger_rx,
        monitor,
        shutdown.clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(hirebridge::plugin::serve(
        listener,
        state,
        hirebridge::config::ListenerLimits::default(),
        shutdown.clone(),
    ));
    Ok((addr, server))
}

/// Pinpoint's three requests to the plugin at `addr`, each answer printed: the description
/// at registration, the form for application 9001, and a recruiter's submit of it.
async fn play_pinpoint(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let post = |path: &'static str, body: serde_json::Value| {
        let request = client
            .post(format!("http://{addr}{path}"))
            .header(hirebridge::plugin::KEY_HEADER, DEMO_PLUGIN_KEY)
            .json(&body);
        async move { anyhow::Ok(request.send().await?.json::<serde_json::Value>().await?) }
    };
    show_plugin_answer(
        "1. the description Pinpoint reads at registration",
        "/",
        post("/", serde_json::json!({})).await?,
    );
    let application =
        serde_json::json!({"formFields": [{"key": "applicationId", "value": "9001"}]});
    show_plugin_answer(
        "2. the form a recruiter sees on \"Send to HiBob\"",
        hirebridge::plugin::META_PATH,
        post(hirebridge::plugin::META_PATH, application).await?,
    );
    let submit = serde_json::json!({
        "generatedUuid": "demo-9001",
        "formFields": [
            {"key": "applicationId", "value": "9001"},
            {"key": "firstName", "value": "Grace"},
            {"key": "lastName", "value": "Hopper"},
            {"key": "email", "value": "grace.hopper@example.com"},
            {"key": "startDate", "value": "2031-01-06"},
            {"key": "site", "value": "London"},
            {"key": "department", "value": "Engineering"},
        ],
    });
    show_plugin_answer(
        "3. the answer to the submit (HiBob's employee, CV and comment done)",
        hirebridge::plugin::SUBMIT_PATH,
        post(hirebridge::plugin::SUBMIT_PATH, submit).await?,
    );
    Ok(())
}

/// One of the plugin's answers, pretty-printed under its request.
fn show_plugin_answer(title: &str, path: &str, mut answer: serde_json::Value) {
    // The logo is long and says nothing here.
    for logo in ["/logoBase64", "/actions/0/iconSvgBase64"] {
        if let Some(v) = answer.pointer_mut(logo) {
            *v = serde_json::json!("(base64 SVG)");
        }
    }
    println!(
        "── {title}: POST {path}\n{}\n",
        serde_json::to_string_pretty(&answer).unwrap_or_default()
    );
}

/// Keeps the simulator up until SIGINT/SIGTERM, after saying how to use it.
fn serve_simulator(simulator: &sim::Sim) -> anyhow::Result<()> {
    println!(
        "\nThe simulated APIs stay up until Ctrl-C. Set up an install against them:\n  \
         PINPOINT_API_KEY={} HIBOB_SERVICE_USER_ID={} HIBOB_SERVICE_USER_TOKEN={} \\\n  \
         sudo -E hirebridge init --pinpoint-base-url {} --hibob-base-url {}",
        sim::PINPOINT_API_KEY,
        sim::HIBOB_SERVICE_USER_ID,
        sim::HIBOB_SERVICE_USER_TOKEN,
        simulator.pinpoint_base_url(),
        simulator.hibob_base_url(),
    );
    std::io::stdout().flush()?;
    runtime()?.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })
}

fn exit_for_entries(entries: &[hirebridge::hire::LedgerEntry]) -> Exit {
    if entries
        .iter()
        .any(|e| e.status == HireStatus::NeedsAttention)
    {
        Exit::NeedsAttention
    } else if entries.iter().any(|e| !e.status.is_settled()) {
        Exit::Retrying
    } else {
        Exit::Ok
    }
}

fn bench(args: &BenchArgs) -> anyhow::Result<Exit> {
    use crate::bench::{audit, flat, plans, steady, table, tenant};
    let hires = |default: usize| -> anyhow::Result<usize> {
        let n = args.hires.unwrap_or(default);
        anyhow::ensure!(n > 0, "--hires must be above zero");
        Ok(n)
    };
    anyhow::ensure!(args.runs > 0, "--runs must be above zero");
    let runs = args.runs;
    match args.scenario {
        BenchScenario::RateLimits => {
            let n = hires(60)?;
            anyhow::ensure!(
                args.limit > 0 && !args.window.is_zero(),
                "--limit and --window must be above zero"
            );
            print_measured(crate::bench::rate_limits(n, args.limit, args.window))?;
        }
        BenchScenario::NudgeLatency => print_measured(crate::bench::nudge_latency(hires(60)?))?,
        BenchScenario::Backfill => print_measured(crate::bench::backfill(hires(60)?))?,
        BenchScenario::Table => {
            let sizes = table::TableSizes::from_steady(hires(10_000)?, args.idle, runs);
            print_measured(table::measure(sizes))?;
        }
        BenchScenario::SteadyState => print_measured(steady::steady_state(hires(10_000)?, runs))?,
        BenchScenario::Scaling => {
            let n = hires(1_000)?;
            print_measured(steady::scaling(&[n, n * 10, n * 100], runs))?;
        }
        BenchScenario::AtRest => {
            print_measured(steady::at_rest(hires(10_000)?, args.idle, runs))?;
        }
        BenchScenario::LedgerReport => {
            print_measured(steady::ledger_report(hires(100_000)?, runs))?;
        }
        BenchScenario::AuditVerify => print_measured(audit::audit_verify(hires(100_000)?, runs))?,
        BenchScenario::BackfillScaling => {
            let n = hires(1_000)?;
            print_measured(flat::backfill_scaling(&[n, n * 10, n * 100], runs))?;
        }
        BenchScenario::SteadyChanged => {
            print_measured(flat::changed_passes(hires(10_000)?, runs))?;
        }
        BenchScenario::PeopleRead => print_measured(flat::people_read(hires(1_000_000)?, runs))?,
        BenchScenario::LedgerPlans => print_measured(plans::ledger_plans(hires(200)?))?,
        BenchScenario::SeedCheck => {
            let n = hires(100)?;
            match runtime()?.block_on(tenant::compare_with_backfill(n))? {
                None => println!(
                    "seed check: a real backfill of {n} hires and the seeded tenant record the same rows, values and events"
                ),
                Some(difference) => {
                    println!(
                        "seed check: the seeded ledger differs from a real backfill: {difference}"
                    );
                    return Ok(Exit::Error);
                }
            }
        }
    }
    Ok(Exit::Ok)
}

/// Runs one benchmark to its end on a fresh runtime and prints its figures: every scenario
/// but the seed check reports this way.
fn print_measured<T: std::fmt::Display>(
    measure: impl std::future::Future<Output = Result<T, crate::bench::BenchError>>,
) -> anyhow::Result<()> {
    let figures = runtime()?.block_on(measure)?;
    println!("{figures}");
    Ok(())
}

#[cfg(test)]
mod describe_tests {
    use super::describe;

    #[test]
    fn a_cause_the_message_already_quotes_is_said_once_and_others_are_kept() {
        let denied =
            || std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let quoted = anyhow::Error::new(hirebridge::ledger::LedgerError::Io {
            path: "/var/lib/hirebridge/ledger.sqlite3".into(),
            source: denied(),
        });
        let line = describe(&quoted);
        assert_eq!(line.matches("permission denied").count(), 1, "{line}");
        assert!(line.contains("check the directory exists"), "{line}");
        let wrapped = anyhow::Error::new(denied()).context("cannot build the HTTP client");
        assert_eq!(
            describe(&wrapped),
            "cannot build the HTTP client: permission denied"
        );
    }
}

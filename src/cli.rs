//! The command line: clap definitions only. What each command does lives in the binary's
//! `commands` module; what the flags mean is documented here, where `--help` shows it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::DEFAULT_CONFIG_PATH;
use crate::hire::HireStatus;
use crate::report::{Format, TimeBound};

#[derive(Debug, Parser)]
#[command(
    name = "hirebridge",
    version,
    about = "Makes every candidate hired in Pinpoint exactly one employee in HiBob.",
    after_help = "Exit codes: 0 all done (or all checks passed); 1 error (config, ledger, a failed check, …); \
                  2 some hires wait for a retry; 3 some hires need attention or credentials were refused; \
                  4 (status) no pass when one was due."
)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "HIREBRIDGE_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,

    /// Log filter, e.g. `info`, `warn`, `hirebridge=debug` (default: `info` for `sync` and
    /// `run`, `warn` for the commands that only show something).
    #[arg(long, global = true, env = "HIREBRIDGE_LOG")]
    pub log: Option<String>,

    /// Log format: `human`, `json` (one object per line), or `auto` (JSON under systemd's
    /// journal, human otherwise).
    #[arg(
        long,
        global = true,
        env = "HIREBRIDGE_LOG_FORMAT",
        value_enum,
        default_value = "auto"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Auto,
    Human,
    Json,
}

/// Output of the commands that show one thing: text for people, JSON for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// `hirebridge init`. Secrets are never flags (a flag shows in `ps`): they come from the
/// environment, a file named by a flag, or a prompt that does not echo.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Your Pinpoint subdomain: the NAME in NAME.pinpointhq.com.
    #[arg(long, env = "HIREBRIDGE_PINPOINT_SUBDOMAIN")]
    pub pinpoint_subdomain: Option<String>,
    /// Pinpoint's API address, instead of the one the subdomain gives (a proxy, a test).
    #[arg(long)]
    pub pinpoint_base_url: Option<String>,
    /// A file holding the Pinpoint API key (else PINPOINT_API_KEY, else a prompt).
    #[arg(long)]
    pub pinpoint_api_key_file: Option<PathBuf>,
    /// HiBob's API address.
    #[arg(long, default_value = "https://api.hibob.com/v1")]
    pub hibob_base_url: String,
    /// The HiBob service user's id (else HIBOB_SERVICE_USER_ID, else a prompt).
    #[arg(long, env = "HIBOB_SERVICE_USER_ID")]
    pub hibob_service_user_id: Option<String>,
    /// A file holding the HiBob service user's token (else HIBOB_SERVICE_USER_TOKEN, else a
    /// prompt).
    #[arg(long)]
    pub hibob_service_user_token_file: Option<PathBuf>,
    /// The HiBob site new employees get (one of HiBob's sites; asked from the list otherwise).
    #[arg(long)]
    pub site: Option<String>,
    /// The go-live cutoff (`sync.hired_since`): hires from before it are never written. A day
    /// (2026-12-01), an RFC 3339 time or an age (90d) [default: today].
    #[arg(long)]
    pub hired_since: Option<String>,
    /// Where the ledger lives.
    #[arg(long, default_value = "/var/lib/hirebridge/ledger.sqlite3")]
    pub ledger: PathBuf,
    /// Where the credential files go (made 0700; each file 0600) [default: `credentials/`
    /// beside the config].
    #[arg(long)]
    pub credentials_dir: Option<PathBuf>,
    /// Replace a config or credential file that already exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one reconcile pass, print a one-line summary, and exit.
    Sync,
    /// Run as a daemon: reconcile on the schedule until SIGTERM/SIGINT.
    Run,
    /// Dry run: what the next `sync` would do to each hire, and why. Read-only calls only;
    /// writes nothing to Pinpoint, HiBob or the ledger. Safe beside a running daemon.
    Plan(PlanArgs),
    /// One row per hire from the ledger.
    Report(ReportArgs),
    /// Every event of one hire: steps, attempts, errors, ids obtained, and which pass did it.
    History(HistoryArgs),
    /// One screen of health: last and next poll, counts, what is stuck and why. Exits non-zero
    /// when something needs a look.
    Status(StatusArgs),
    /// Set up: ask for (or take from flags and the environment) the Pinpoint and HiBob
    /// credentials, check them live, pick HiBob's site and the go-live date, write the config
    /// (at --config) and the credential files, then run `check`. Without a terminal nothing is
    /// asked: a missing value is an error naming its flag.
    Init(InitArgs),
    /// Validate config, credentials, the HiBob site and fields, and the ledger. Writes nothing.
    Check,
    /// Clear backoff and parking so the next pass tries again.
    Retry(RetryArgs),
    /// Link a hire to the HiBob employee HR made for it (in HiBob's New hire flow, under
    /// addresses hirebridge cannot match): recorded in its history; the next pass finishes the
    /// hire (the CV unless HiBob holds it, the comment back to Pinpoint). Writes only the ledger.
    Link(LinkArgs),
    /// Run the real reconciler against the built-in simulator of both APIs; needs no
    /// credentials and no network.
    Demo(DemoArgs),
    /// Measure against the built-in simulator on loopback and print the figures with their
    /// floors (takes seconds; not part of the test suite).
    Bench(BenchArgs),
    /// The audit trail: the checkpoint signing key, verifying the chain, exporting a period.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Erase one person's personal data (name, email, free text) from the ledger: the hire
    /// with this application id, or every hire with this email. Ids, outcomes and the audit
    /// chain stay (it still verifies). Nothing in HiBob or Pinpoint is touched.
    Erase(EraseArgs),
    /// Copy the ledger (consistently, beside a running daemon), the audit signing key and the
    /// config (never the credentials) into a new directory under DIR with a manifest; verify
    /// the copy as `audit verify` does before saying ok; keep the newest `backup.keep`.
    Backup(BackupArgs),
    /// Put a backup in place of the ledger (and its signing key; the config too when there is
    /// none). Needs the service stopped; refuses to replace a ledger newer than the backup
    /// unless --force. The ledger replaced is moved aside, never deleted.
    Restore(RestoreArgs),
    /// Notifications (`[notify]`): email and chat messages when a hire needs a person.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Print a shell completion script (`make install` installs them for bash, zsh and fish).
    Completions(CompletionsArgs),
    /// Print the manual page, in roff (`make install` installs it as hirebridge(1)).
    Man,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Only hires with this status.
    #[arg(long, value_parser = parse_status)]
    pub status: Option<HireStatus>,
    /// Only hires updated (for a done hire: finished) at or after this: a day (2026-11-01,
    /// UTC), an RFC 3339 time, or an age such as `30d` (30 days ago).
    #[arg(long, value_parser = TimeBound::parse)]
    pub since: Option<TimeBound>,
    /// Only hires updated before this; a day is included whole. Same forms as `--since`.
    #[arg(long, value_parser = TimeBound::parse)]
    pub until: Option<TimeBound>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the public key checkpoints are signed with (give it to your auditors by another
    /// channel than the ledger; `audit verify --key` checks against it).
    Key,
    /// Recompute the event chain and check every checkpoint's signature and head. Read-only;
    /// safe beside a running daemon. Exits 0, or 1 naming the first bad event or checkpoint.
    Verify(AuditVerifyArgs),
    /// Write what an auditor takes away into a directory: the period's report (CSV, HTML),
    /// its events as a signed chain segment, the checkpoints, the public key, VERIFY.txt.
    Export(AuditExportArgs),
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// A checkpoint log (`audit.checkpoint_log`, or a copy an auditor kept): the ledger must
    /// pass through every head it holds.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// The public key to trust: 64 hex digits or a file holding them [default: the signing
    /// key file's, else the ledger's first checkpoint's].
    #[arg(long)]
    pub key: Option<String>,
    /// Verify an `audit export` directory on its own instead of the ledger.
    #[arg(long)]
    pub export: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// The period's start: a day (2026-11-01, UTC), an RFC 3339 time, or an age (`90d`)
    /// [default: the ledger's start].
    #[arg(long, value_parser = TimeBound::parse)]
    pub since: Option<TimeBound>,
    /// The period's end (a day is included whole) [default: now].
    #[arg(long, value_parser = TimeBound::parse)]
    pub until: Option<TimeBound>,
    /// The directory to write (made if missing).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send one test message to every channel `[notify]` configures (email, webhook), at once
    /// and not through the ledger's outbox, and print per channel what its server answered or
    /// why it failed. Each send is bounded by `[http] request_timeout`. Exits 0 when every
    /// channel took its message, 1 otherwise. Needs no API credentials.
    Test,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// A Pinpoint application id, or an email (every hire with that email).
    pub hire: String,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Also list hires that are already done.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A Pinpoint application id, or an email (every application with that email).
    pub hire: String,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("which")
        .required(true)
        .multiple(false)
        .args(["application_id", "all_failed"])
))]
pub struct RetryArgs {
    /// The Pinpoint application id of one hire.
    pub application_id: Option<String>,
    /// Every hire that failed or needs attention.
    #[arg(long)]
    pub all_failed: bool,
    /// Send the hire again: to HiBob's Pending hires under `hibob.hire_flow = "pending"` (a
    /// second pending hire there: dismiss the first), or as a direct create under "direct".
    /// The only way a hire sent to HR is sent twice. Needs the application id.
    #[arg(long, requires = "application_id")]
    pub resend: bool,
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The Pinpoint application id of the hire.
    pub application_id: String,
    /// The HiBob employee id HR's New hire flow made for it.
    pub employee_id: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's ledger at this path instead of a temporary file.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// After the demo, keep the simulated Pinpoint and HiBob running (until Ctrl-C), and
    /// print how to point `hirebridge init` and a daemon at them: a whole install, tried
    /// without a tenant.
    #[arg(long)]
    pub serve: bool,
    /// Show Pinpoint's "Send to HiBob" plugin instead: after a pass, a new hire arrives and
    /// the demo plays Pinpoint against the plugin's endpoints, printing its three answers
    /// (the description, the pre-filled form, the submit).
    #[arg(long)]
    pub plugin: bool,
    /// Show HR's own hire flow instead (`hibob.hire_flow = "pending"`): a pass sends the hires
    /// to HiBob's ATS Pending hires, the demo plays HR completing some of them in HiBob's New
    /// hire flow, and the next pass finishes those.
    #[arg(long, conflicts_with = "plugin")]
    pub pending: bool,
}

fn parse_status(s: &str) -> Result<HireStatus, String> {
    HireStatus::parse(s).ok_or_else(|| {
        let known: Vec<&str> = HireStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown status {s:?}; use one of: {}", known.join(", "))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchScenario {
    /// Backfill new hires into a HiBob that enforces a fixed-window rate limit.
    RateLimits,
    /// Time from a webhook POST to the employee in HiBob, one new hire at a time, with the
    /// daemon's listener on loopback (uses --hires; 20 is the documented run).
    NudgeLatency,
    /// Backfill new hires (80% with a CV) into an unlimited simulator, then sync the settled
    /// ledger again: hires per second, calls per hire, and the steady-state pass's calls and
    /// time (uses --hires; 2000 is the documented run).
    Backfill,
    /// The performance section's one table: every figure below with its floor and a mark
    /// (--hires is the steady-state size, 10000 by default; the other sizes follow from it:
    /// scaling N/10, N, 10N; backfill N/5; N/100 nudges; report over 10N). Takes minutes.
    Table,
    /// A settled tenant of --hires done hires (10000 by default), synced by the real binary
    /// as a child process: API calls, wall time, CPU, peak RSS.
    SteadyState,
    /// The steady-state pass at --hires, 10× and 100× that (1000 by default): time and
    /// memory per hire, and their ratios.
    Scaling,
    /// `hirebridge run` on a settled tenant (--hires, 10000 by default), idle for --idle:
    /// RSS, CPU time, polls, and startup to READY=1.
    AtRest,
    /// `hirebridge report --format json` over a settled ledger of --hires (100000 by
    /// default), and the ledger's size per hire.
    LedgerReport,
    /// `hirebridge audit verify` over a settled ledger of --hires (100000 by default): wall
    /// time, peak memory, and the ledger's size per hire and per event.
    AuditVerify,
    /// Backfills --hires (100 by default) for real and seeds the same tenant the way the
    /// other scenarios do; prints whether the two ledgers agree.
    SeedCheck,
    /// Backfills of --hires, 10× and 100× that (1000 by default) into an unlimited
    /// simulator: hires per second at each size, and the largest over the smallest.
    BackfillScaling,
    /// Passes that read only what changed over a settled tenant of --hires done hires (10000
    /// by default): after a full pass, nothing changed, then five hires changed.
    SteadyChanged,
    /// A first `hirebridge sync` (contract check, ten new hires) on a HiBob of --hires people
    /// (1000000 by default): peak RSS and wall time.
    PeopleRead,
    /// Backfills --hires hires (200 by default), then as many more onto that ledger, and
    /// prints every ledger statement the second pass ran: how often, SQLite's steps and
    /// full-scan steps, and its query plan.
    LedgerPlans,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, value_enum, default_value = "rate-limits")]
    pub scenario: BenchScenario,
    /// Hires to work with (new hires to backfill, or done hires in the tenant); each
    /// scenario's default is in its description (60 for rate-limits, nudge-latency, backfill).
    #[arg(long)]
    pub hires: Option<usize>,
    /// Times each figure is measured (the table shows min–max).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// How long the daemon is left idle in at-rest and table.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub idle: std::time::Duration,
    /// Requests HiBob allows per window, on search and on create.
    #[arg(long, default_value_t = 10)]
    pub limit: u32,
    /// The length of HiBob's fixed window.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub window: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where the backups go (each in its own `hirebridge-<time>` directory) [default:
    /// `backup.dir` from the config].
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup directory (`hirebridge-<time>`, holding manifest.json).
    pub backup: PathBuf,
    /// Replace the ledger even when it is newer than the backup (or cannot be read). It is
    /// moved aside to `<ledger>.before-restore-<time>`, never deleted.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

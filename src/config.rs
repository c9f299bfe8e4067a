//! Typed configuration: the TOML file plus secrets from the environment or files.
//!
//! Owns parsing and validation, so that every other module receives values that are already
//! known to be good. Every error names the offending key and says what to write instead.
//! Secrets never live in the file; they are wrapped in [`SecretString`] from the moment they
//! are read, so they cannot leak through `Debug` or an error message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// Where the configuration is read from when neither `--config` nor `HIREBRIDGE_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/hirebridge/config.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The cause is in the message, not chained as a `source`: shown once, not twice.
    #[error("cannot read config file {path}: {cause}; pass --config PATH or set HIREBRIDGE_CONFIG")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("config file {path}, line {line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("missing secret: {message}")]
    MissingSecret { message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// A rate limit written as `"N/period"`, e.g. `"50/1m"`: at most `count` calls per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub period: Duration,
}

impl RateLimit {
    pub fn parse(key: &str, text: &str) -> Result<Self, ConfigError> {
        let hint = "write it as \"N/period\", e.g. \"50/1m\" or \"2/1s\"";
        let (count, period) = text
            .split_once('/')
            .ok_or_else(|| invalid(key, format!("{text:?} is not a rate; {hint}")))?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid(key, format!("{count:?} is not a positive count; {hint}")))?;
        let period = parse_duration(key, period.trim())?;
        if period.is_zero() {
            return Err(invalid(
                key,
                format!("the period must be longer than zero; {hint}"),
            ));
        }
        Ok(Self { count, period })
    }

    /// An effectively unlimited rate, for the built-in simulator.
    pub fn unlimited() -> Self {
        Self {
            count: 1_000_000,
            period: Duration::from_secs(1),
        }
    }
}

fn parse_duration(key: &str, text: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(text).map_err(|e| {
        invalid(
            key,
            format!("{text:?} is not a duration ({e}); write e.g. \"30s\", \"5m\", \"14d\""),
        )
    })
}

/// A duration with a sane ceiling: an absurd value must fail here, naming the key, not
/// overflow a date calculation in the middle of a pass.
fn parse_bounded(
    key: &str,
    text: &str,
    max: Duration,
    max_text: &str,
) -> Result<Duration, ConfigError> {
    let d = parse_duration(key, text)?;
    if d > max {
        return Err(invalid(
            key,
            format!("{text:?} is longer than the maximum of {max_text}"),
        ));
    }
    Ok(d)
}

const DAY: Duration = Duration::from_secs(86_400);

/// What a key of `[pinpoint]` or `[hibob]` is when the file leaves it out: [`Config::parse`]
/// falls back to these and [`Config::simulated`] starts from them. Sections whose every key
/// has a default keep theirs in a `Default` impl instead ([`Schedule`], [`HttpConfig`],
/// [`RetryConfig`], [`SyncConfig`], [`ListenerLimits`]); the mapping's are
/// [`crate::mapping::OnChange`]'s default and `allow_past_start_date = false`.
mod defaults {
    use super::{CvFolder, OnFormerEmployee, RateLimit};
    use std::time::Duration;

    pub const PINPOINT_RATE_LIMIT: RateLimit = RateLimit {
        count: 2,
        period: Duration::from_secs(1),
    };
    pub const PAGE_SIZE: u32 = 100;
    pub const HIBOB_BASE_URL: &str = "https://api.hibob.com/v1";
    /// HiBob's employee profile page (a guess: no public docs name the app's URLs).
    pub const HIBOB_EMPLOYEE_URL: &str = "https://app.hibob.com/employee-profile/{id}";
    pub const HIBOB_RATE_LIMIT: RateLimit = RateLimit {
        count: 50,
        period: Duration::from_secs(60),
    };
    pub const DOCUMENTS_RATE_LIMIT: RateLimit = RateLimit {
        count: 10,
        period: Duration::from_secs(1),
    };
    pub const START_DATE_OFFSET: Duration = Duration::from_secs(14 * 86_400);
    pub const CV_FOLDER: CvFolder = CvFolder::Shared;
    pub const ON_FORMER_EMPLOYEE: OnFormerEmployee = OnFormerEmployee::Attention;
    pub const READ_LAG: Duration = Duration::from_secs(20);
    pub const SEARCH_BATCH_SIZE: usize = 50;
}

/// Where the HTML report links a hire: URL patterns with `{id}` for the application's or the
/// employee's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLinks {
    pub pinpoint_application: String,
    pub hibob_employee: String,
}

impl ReportLinks {
    /// The link for `id`, percent-encoded into the pattern.
    pub fn to(pattern: &str, id: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        pattern.replace("{id}", &encoded)
    }
}

/// `[report]`: the link patterns, by default the Pinpoint admin page on the tenant's own host
/// (from `pinpoint.base_url`) and HiBob's employee profile page.
fn report_links(pinpoint_base_url: &str, raw: RawReport) -> Result<ReportLinks, ConfigError> {
    let pattern = |key: &str, value: Option<String>, default: String| {
        let value = value.unwrap_or(default);
        let probe = value.replace("{id}", "1");
        match Url::parse(&probe) {
            Ok(url) if value.contains("{id}") && matches!(url.scheme(), "https" | "http") => {
                Ok(value)
            }
            _ => Err(invalid(
                key,
                format!(
                    "{value:?} is not an http(s) URL pattern with {{id}} where the id goes, e.g. \"https://acme.pinpointhq.com/admin/applications/{{id}}\""
                ),
            )),
        }
    };
    let host = Url::parse(pinpoint_base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "app.pinpointhq.com".to_owned());
    Ok(ReportLinks {
        pinpoint_application: pattern(
            "report.pinpoint_application_url",
            raw.pinpoint_application_url,
            format!("https://{host}/admin/applications/{{id}}"),
        )?,
        hibob_employee: pattern(
            "report.hibob_employee_url",
            raw.hibob_employee_url,
            defaults::HIBOB_EMPLOYEE_URL.to_owned(),
        )?,
    })
}

fn parse_base_url(key: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| {
        invalid(
            key,
            format!(
                "{text:?} is not a URL ({e}); write e.g. \"https://acme.pinpointhq.com/api/v1\""
            ),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            key,
            format!("{text:?} must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(url)
}

/// Which HiBob document folder receives the CV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvFolder {
    Shared,
    Confidential,
}

impl CvFolder {
    pub fn as_str(self) -> &'static str {
        match self {
            CvFolder::Shared => "shared",
            CvFolder::Confidential => "confidential",
        }
    }
}

/// What to do when HiBob already holds a *former* employee (terminated) under a hire's email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFormerEmployee {
    /// Park the hire for a person: a rehire is HR's decision, made in HiBob.
    Attention,
    /// Adopt the former employee's record, as for anyone found by email.
    Adopt,
}

#[derive(Debug, Clone)]
pub struct PinpointConfig {
    pub base_url: Url,
    pub rate_limit: RateLimit,
    pub page_size: u32,
    /// When non-empty, list each of these stage ids instead of `filter[stage_basic_type]=hired`.
    pub hired_stage_ids: Vec<String>,
    pub api_key: SecretString,
}

/// How hirebridge authenticates to HiBob: always HTTP Basic with a service user.
#[derive(Debug, Clone)]
pub enum HibobCredentials {
    ServiceUser {
        id: String,
        token: SecretString,
    },
    /// `base64("ID:TOKEN")`, the form older deployments keep in `HIBOB_BASE64_TOKEN`.
    Base64(SecretString),
}

#[derive(Debug, Clone)]
pub struct HibobConfig {
    pub base_url: Url,
    /// Applied to each of the people endpoints (search, create), as HiBob counts them.
    pub rate_limit: RateLimit,
    /// The document endpoints' own pace: HiBob documents no limit for them.
    pub documents_rate_limit: RateLimit,
    pub site: String,
    pub start_date_offset: Duration,
    pub cv_folder: CvFolder,
    /// `hibob.on_former_employee`: a terminated employee with the hire's email.
    pub on_former_employee: OnFormerEmployee,
    /// How long a new employee may stay invisible to search after HiBob accepted it.
    pub read_lag: Duration,
    /// How many emails one `POST /people/search` asks for.
    pub search_batch_size: usize,
    pub credentials: HibobCredentials,
}

#[derive(Debug, Clone)]
pub struct LedgerConfig {
    pub path: PathBuf,
}

/// `[audit]`. Every key is optional: by default the checkpoints are signed with a key made
/// beside the ledger on first use, kept only in the ledger, and personal data is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditConfig {
    /// The Ed25519 signing key (hex seed). `None`: [`AuditConfig::key_path`]'s default.
    pub signing_key_file: Option<PathBuf>,
    /// A file each checkpoint is also appended to (another disk, a WORM mount, a pipe).
    pub checkpoint_log: Option<PathBuf>,
    /// Settled hires' personal data is erased this long after they were done.
    pub retain_personal_data: Option<Duration>,
}

impl AuditConfig {
    /// The signing key's file: the configured one, else `<ledger>.audit-key` beside the
    /// ledger (made with mode 0600 at the first checkpoint).
    pub fn key_path(&self, ledger: &Path) -> PathBuf {
        self.signing_key_file.clone().unwrap_or_else(|| {
            let mut name = ledger.file_name().unwrap_or_default().to_owned();
            name.push(".audit-key");
            ledger.with_file_name(name)
        })
    }

    /// Whether the key is the default one, which hirebridge may create.
    pub fn key_is_default(&self) -> bool {
        self.signing_key_file.is_none()
    }
}

/// `[backup]`: where `hirebridge backup` (and the shipped daily timer) writes its copies and
/// how many it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// `None`: `hirebridge backup` needs its directory on the command line.
    pub dir: Option<PathBuf>,
    /// Copies kept in `dir`; older ones are removed after each good backup.
    pub keep: usize,
}

impl BackupConfig {
    pub const DEFAULT_KEEP: usize = 14;
    /// More than this many copies is a typo, not a policy (a copy a day for about 27 years).
    pub const MAX_KEEP: i64 = 10_000;
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            dir: None,
            keep: Self::DEFAULT_KEEP,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Every(Duration),
    Cron(String),
}

impl Default for Schedule {
    /// Every 5 minutes.
    fn default() -> Self {
        Schedule::Every(Duration::from_secs(300))
    }
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// How often a failed read (timeout, connection error, 5xx) is retried in place.
    pub read_retries: u32,
    /// The longest one request waits for a rate-limit window; past it the hire is retried
    /// on a later pass instead.
    pub max_rate_limit_wait: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            read_retries: 2,
            max_rate_limit_wait: Duration::from_secs(120),
        }
    }
}

/// How a pass works through hires.
#[derive(Debug, Clone, Copy)]
pub struct SyncConfig {
    /// Hires worked on at once: overlaps network latency; the gates still pace every call.
    pub concurrency: usize,
    /// `sync.hired_since`: hires before it are not written for. `None`: the ledger's go-live.
    pub hired_since: Option<HiredSince>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            hired_since: None,
        }
    }
}

/// `sync.hired_since`: a fixed moment, or an age that moves with the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiredSince {
    /// A day (midnight UTC) or an RFC 3339 time.
    At(chrono::DateTime<chrono::Utc>),
    /// An age such as `90d`: the cutoff is that long before each pass.
    Age(Duration),
}

impl HiredSince {
    /// The cutoff as of `now`.
    pub fn cutoff(self, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        match self {
            HiredSince::At(at) => at,
            HiredSince::Age(age) => {
                now - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX)
            }
        }
    }

    fn parse(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(HiredSince::At(
                day.and_time(chrono::NaiveTime::MIN).and_utc(),
            ));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
            return Ok(HiredSince::At(at.with_timezone(&chrono::Utc)));
        }
        match humantime::parse_duration(text) {
            Ok(age) => Ok(HiredSince::Age(age)),
            Err(_) => Err(invalid(
                "sync.hired_since",
                format!(
                    "{text:?} is not a day, a time or an age; write e.g. \"2026-01-01\", \"2026-01-01T09:00:00Z\" or \"90d\""
                ),
            )),
        }
    }
}

/// Backoff for a hire whose last attempt failed transiently: capped exponential with full jitter.
#[derive(Debug, Clone, Copy)]
pub struct RetryConfig {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(600),
        }
    }
}

/// The optional listener for Pinpoint's webhooks, `/healthz` and `/metrics`.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub listen: std::net::SocketAddr,
    /// Pinpoint's webhook signing secret; requests must carry its HMAC when set.
    pub secret: Option<SecretString>,
    /// Accept unsigned webhooks on a non-loopback address (a proxy in front verifies them).
    pub allow_unsigned: bool,
    /// What a peer of the listener may cost: timeouts and a connection budget.
    pub limits: ListenerLimits,
    /// `webhook.metrics_listen`: `/healthz` and `/metrics` on their own address; the webhook
    /// port then serves only the webhook.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// What one peer of a listener may cost, so a stranger who can reach the port cannot hold it:
/// every connection is dropped when it is too slow, and only so many are open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// `webhook.header_timeout`: from a request's first byte to the end of its head.
    pub header_timeout: Duration,
    /// `webhook.body_timeout`: from the end of the head to the end of the body.
    pub body_timeout: Duration,
    /// `webhook.idle_timeout`: a connection with no request under way (a new one, or a
    /// keep-alive after an answer).
    pub idle_timeout: Duration,
    /// `webhook.max_connections`: open connections per listener; beyond it new ones are
    /// closed at once.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 256,
        }
    }
}

impl WebhookConfig {
    /// Whether two configurations listen the same way (the secret may change on a reload;
    /// the socket cannot).
    pub fn same_listener(a: Option<&WebhookConfig>, b: Option<&WebhookConfig>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.listen == b.listen
                    && a.allow_unsigned == b.allow_unsigned
                    && a.limits == b.limits
                    && a.metrics_listen == b.metrics_listen
            }
            _ => false,
        }
    }
}

/// `[plugin]`: Pinpoint's "Send to HiBob" action (the Integration Plugins Framework), served
/// on its own listener.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    pub listen: std::net::SocketAddr,
    /// The shared key Pinpoint's admin enters in the plugin's configuration. Without one the
    /// plugin answers only its description and refuses every form and submit.
    pub key: Option<SecretString>,
    /// The plugin's name as Pinpoint shows it.
    pub name: String,
    /// Where a HiBob employee's profile is (`report.hibob_employee_url`): the link a submit
    /// answers with.
    pub employee_url: String,
    /// The same peer limits as the webhook listener's (`[webhook]`'s, when configured).
    pub limits: ListenerLimits,
}

impl PluginConfig {
    /// Whether two configurations serve the plugin on the same socket (the key and name may
    /// change on a reload).
    pub fn same_listener(a: Option<&PluginConfig>, b: Option<&PluginConfig>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => a.listen == b.listen && a.limits == b.limits,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub pinpoint: PinpointConfig,
    pub hibob: HibobConfig,
    pub ledger: LedgerConfig,
    pub schedule: Schedule,
    /// `[schedule] full_every`: how old the last complete full listing may be before a pass
    /// reads the whole listing again instead of only what changed; zero: every pass does.
    pub full_every: Duration,
    pub http: HttpConfig,
    pub retry: RetryConfig,
    pub sync: SyncConfig,
    /// `[mapping]`: the HiBob fields a new employee gets, validated (templates compiled).
    pub mapping: crate::mapping::Mapping,
    /// `None`: no listener, no port opened.
    pub webhook: Option<WebhookConfig>,
    /// `[audit]`: the chain's signing key, where checkpoints are published, retention.
    pub audit: AuditConfig,
    /// `None`: no plugin endpoints, no port opened.
    pub plugin: Option<PluginConfig>,
    /// `[backup]`: where copies of the ledger go, and how many are kept.
    pub backup: BackupConfig,
    /// SHA-256 of the file's settings in a canonical form (keys sorted; comments, layout and
    /// secrets, which never live in the file, do not count), for the audit trail: with the
    /// version, which fixes every default, it names the effective configuration of a pass.
    pub digest: String,
}

// ---- the file as written -------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    pinpoint: RawPinpoint,
    hibob: RawHibob,
    ledger: RawLedger,
    #[serde(default)]
    schedule: RawSchedule,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    retry: RawRetry,
    #[serde(default)]
    sync: RawSync,
    #[serde(default)]
    mapping: RawMapping,
    webhook: Option<RawWebhook>,
    plugin: Option<RawPlugin>,
    #[serde(default)]
    report: RawReport,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    backup: RawBackup,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackup {
    dir: Option<PathBuf>,
    keep: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    signing_key_file: Option<PathBuf>,
    checkpoint_log: Option<PathBuf>,
    retain_personal_data: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    listen: String,
    key_file: Option<PathBuf>,
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    pinpoint_application_url: Option<String>,
    hibob_employee_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    on_change: Option<String>,
    allow_past_start_date: Option<bool>,
    #[serde(default)]
    fields: std::collections::BTreeMap<String, RawField>,
}

/// A field is a template, or a table with a template and a lookup table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawField {
    Template(String),
    Table(RawFieldTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFieldTable {
    template: String,
    #[serde(default)]
    lookup: std::collections::BTreeMap<String, String>,
    /// This field's own drift mode, over `mapping.on_change`.
    on_change: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    listen: String,
    secret_file: Option<PathBuf>,
    #[serde(default)]
    allow_unsigned: bool,
    header_timeout: Option<String>,
    body_timeout: Option<String>,
    idle_timeout: Option<String>,
    max_connections: Option<i64>,
    metrics_listen: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPinpoint {
    base_url: String,
    rate_limit: Option<String>,
    page_size: Option<i64>,
    #[serde(default)]
    hired_stage_ids: Vec<String>,
    api_key_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHibob {
    base_url: Option<String>,
    rate_limit: Option<String>,
    documents_rate_limit: Option<String>,
    site: String,
    start_date_offset: Option<String>,
    cv_folder: Option<String>,
    on_former_employee: Option<String>,
    read_lag: Option<String>,
    search_batch_size: Option<i64>,
    service_user_id_file: Option<PathBuf>,
    service_user_token_file: Option<PathBuf>,
    base64_token_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLedger {
    path: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    every: Option<String>,
    cron: Option<String>,
    full_every: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    connect_timeout: Option<String>,
    request_timeout: Option<String>,
    read_retries: Option<i64>,
    max_rate_limit_wait: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    concurrency: Option<i64>,
    hired_since: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    initial: Option<String>,
    max: Option<String>,
}

/// Where secrets come from: the process environment and, for relative `*_file` paths, the
/// systemd credentials directory. A trait-free struct so tests can pass their own.
#[derive(Debug, Clone, Default)]
pub struct SecretSources {
    pub vars: std::collections::HashMap<String, String>,
    pub credentials_directory: Option<PathBuf>,
}

impl SecretSources {
    pub fn from_env() -> Self {
        Self {
            vars: std::env::vars().collect(),
            credentials_directory: std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from),
        }
    }

    /// [`Self::from_env`] for the config at `config_path`: outside systemd (no
    /// `$CREDENTIALS_DIRECTORY`), relative `*_file` paths are read from `credentials/` beside
    /// the config when it exists — where `make install` and `hirebridge init` put the secrets
    /// the unit loads — so an operator's `sudo hirebridge check` reads what the service reads.
    pub fn for_config(config_path: &Path) -> Self {
        let mut sources = Self::from_env();
        if sources.credentials_directory.is_none() {
            let beside = config_path
                .parent()
                .unwrap_or(Path::new("."))
                .join("credentials");
            sources.credentials_directory = beside.is_dir().then_some(beside);
        }
        sources
    }

    fn var(&self, name: &str) -> Option<SecretString> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(|v| SecretString::from(v.to_owned()))
    }

    /// Where a `*_file` path points: relative ones inside the credentials directory.
    fn resolve(&self, path: &Path) -> PathBuf {
        match (&self.credentials_directory, path.is_relative()) {
            (Some(dir), true) => dir.join(path),
            _ => path.to_owned(),
        }
    }

    fn file(&self, key: &str, path: &Path) -> Result<SecretString, ConfigError> {
        let path = self.resolve(path);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            invalid(
                key,
                format!("cannot read secret file {}: {e}", path.display()),
            )
        })?;
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid(
                key,
                format!("secret file {} is empty", path.display()),
            ));
        }
        Ok(SecretString::from(text.to_owned()))
    }

    /// The environment variable wins; else the `*_file` key; else `None`.
    fn secret(
        &self,
        var: &str,
        key: &str,
        file: Option<&PathBuf>,
    ) -> Result<Option<SecretString>, ConfigError> {
        if let Some(v) = self.var(var) {
            return Ok(Some(v));
        }
        file.map(|f| self.file(key, f)).transpose()
    }
}

impl Config {
    /// Reads and validates the file at `path`, taking secrets from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        Self::parse(path, &text, &SecretSources::for_config(path))
    }

    /// Only the ledger's path, for commands that read the ledger and need no credentials
    /// (`report`, `retry`). The whole file is still checked for syntax and unknown keys.
    pub fn ledger_path(path: &Path) -> Result<PathBuf, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        Ok(parse_raw(path, &text)?.ledger.path)
    }

    /// `[schedule] full_every`, for `status`, which needs no credentials.
    pub fn full_every_of(path: &Path) -> Result<Duration, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        parse_full_every(parse_raw(path, &text)?.schedule.full_every.as_deref())
    }

    /// The ledger's path and the schedule, for `status`, which needs no credentials: the next
    /// poll is the last pass's start plus the schedule.
    pub fn ledger_and_schedule(path: &Path) -> Result<(PathBuf, Schedule), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        let raw = parse_raw(path, &text)?;
        Ok((raw.ledger.path, parse_schedule(raw.schedule)?))
    }

    /// The ledger's path and where the HTML report links each hire, for `report`, which needs
    /// no credentials.
    pub fn ledger_and_report_links(path: &Path) -> Result<(PathBuf, ReportLinks), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        let raw = parse_raw(path, &text)?;
        let links = report_links(&raw.pinpoint.base_url, raw.report)?;
        Ok((raw.ledger.path, links))
    }

    /// The ledger's path, the audit settings and the report's links, for `audit` and
    /// `erase`, which need no API credentials.
    pub fn ledger_and_audit(
        path: &Path,
    ) -> Result<(PathBuf, AuditConfig, ReportLinks), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        let raw = parse_raw(path, &text)?;
        let links = report_links(&raw.pinpoint.base_url, raw.report)?;
        let audit = audit_config(raw.audit, &SecretSources::for_config(path))?;
        Ok((raw.ledger.path, audit, links))
    }

    /// What `backup` and `restore` need, which read no API credentials: the ledger's path,
    /// the audit settings (the signing key's file) and `[backup]`. The whole file is still
    /// checked for syntax and unknown keys.
    pub fn ledger_and_backup(
        path: &Path,
    ) -> Result<(PathBuf, AuditConfig, BackupConfig), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        Self::ledger_and_backup_from(path, &text)
    }

    /// [`Config::ledger_and_backup`] from a file's text already read (a backup's copy).
    pub fn ledger_and_backup_from(
        path: &Path,
        text: &str,
    ) -> Result<(PathBuf, AuditConfig, BackupConfig), ConfigError> {
        let raw = parse_raw(path, text)?;
        ledger_config(RawLedger {
            path: raw.ledger.path.clone(),
        })?;
        let audit = audit_config(raw.audit, &SecretSources::for_config(path))?;
        Ok((raw.ledger.path, audit, backup_config(raw.backup)?))
    }

    pub fn parse(path: &Path, text: &str, secrets: &SecretSources) -> Result<Self, ConfigError> {
        let mut config = Self::from_raw(parse_raw(path, text)?, secrets)?;
        config.digest = digest_of(text);
        Ok(config)
    }

    /// Section by section; the order decides which of several mistakes is named.
    fn from_raw(raw: RawConfig, secrets: &SecretSources) -> Result<Self, ConfigError> {
        let pinpoint_base_url = raw.pinpoint.base_url.clone();
        let pinpoint = pinpoint_config(raw.pinpoint, secrets)?;
        let hibob = hibob_config(raw.hibob, secrets)?;
        let ledger = ledger_config(raw.ledger)?;
        let full_every = parse_full_every(raw.schedule.full_every.as_deref())?;
        let schedule = parse_schedule(raw.schedule)?;
        let http = http_config(raw.http)?;
        let sync = sync_config(raw.sync)?;
        let retry = retry_config(raw.retry)?;
        let mapping = parse_mapping(raw.mapping, &hibob.site)?;
        let webhook = raw
            .webhook
            .map(|w| webhook_config(w, secrets))
            .transpose()?;
        let audit = audit_config(raw.audit, secrets)?;
        let backup = backup_config(raw.backup)?;
        let plugin = match raw.plugin {
            Some(p) => {
                let links = report_links(&pinpoint_base_url, raw.report)?;
                let limits = webhook.as_ref().map(|w| w.limits).unwrap_or_default();
                Some(plugin_config(p, secrets, links.hibob_employee, limits)?)
            }
            None => None,
        };
        Ok(Config {
            pinpoint,
            hibob,
            ledger,
            schedule,
            full_every,
            http,
            retry,
            sync,
            mapping,
            webhook,
            audit,
            plugin,
            backup,
            digest: String::new(),
        })
    }
}

/// The digest of a config file that parsed: its TOML re-serialized with sorted keys.
fn digest_of(text: &str) -> String {
    use sha2::Digest as _;
    let canonical = toml::from_str::<toml::Value>(text)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| text.to_owned());
    sha2::Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn pinpoint_config(
    raw: RawPinpoint,
    secrets: &SecretSources,
) -> Result<PinpointConfig, ConfigError> {
    let page_size = match raw.page_size {
        None => defaults::PAGE_SIZE,
        Some(n @ 1..=1000) => n as u32,
        Some(n) => {
            return Err(invalid(
                "pinpoint.page_size",
                format!("{n} is out of range; Pinpoint accepts 1 to 1000"),
            ));
        }
    };
    if raw.hired_stage_ids.iter().any(|s| s.trim().is_empty()) {
        return Err(invalid(
            "pinpoint.hired_stage_ids",
            "a stage id is empty; list Pinpoint stage ids such as [\"4\"]",
        ));
    }
    let api_key = secrets
        .secret(
            "PINPOINT_API_KEY",
            "pinpoint.api_key_file",
            raw.api_key_file.as_ref(),
        )?
        .ok_or_else(|| ConfigError::MissingSecret {
            message: "the Pinpoint API key: set PINPOINT_API_KEY or pinpoint.api_key_file".into(),
        })?;
    Ok(PinpointConfig {
        base_url: parse_base_url("pinpoint.base_url", &raw.base_url)?,
        rate_limit: optional_rate(
            "pinpoint.rate_limit",
            raw.rate_limit,
            defaults::PINPOINT_RATE_LIMIT,
        )?,
        page_size,
        hired_stage_ids: raw.hired_stage_ids,
        api_key,
    })
}

fn hibob_config(raw: RawHibob, secrets: &SecretSources) -> Result<HibobConfig, ConfigError> {
    if raw.site.trim().is_empty() {
        return Err(invalid(
            "hibob.site",
            "is empty; name a value of HiBob's site list, e.g. \"New York (Demo)\"",
        ));
    }
    let cv_folder = match raw.cv_folder.as_deref() {
        None => defaults::CV_FOLDER,
        Some("shared") => CvFolder::Shared,
        Some("confidential") => CvFolder::Confidential,
        Some(other) => {
            return Err(invalid(
                "hibob.cv_folder",
                format!("{other:?} is not a folder; write \"shared\" or \"confidential\""),
            ));
        }
    };
    let on_former_employee = match raw.on_former_employee.as_deref() {
        None => defaults::ON_FORMER_EMPLOYEE,
        Some("attention") => OnFormerEmployee::Attention,
        Some("adopt") => OnFormerEmployee::Adopt,
        Some(other) => {
            return Err(invalid(
                "hibob.on_former_employee",
                format!("{other:?} is not a choice; write \"attention\" or \"adopt\""),
            ));
        }
    };
    let search_batch_size = match raw.search_batch_size {
        None => defaults::SEARCH_BATCH_SIZE,
        Some(n @ 1..=1000) => n as usize,
        Some(n) => {
            return Err(invalid(
                "hibob.search_batch_size",
                format!("{n} is out of range; use 1 to 1000"),
            ));
        }
    };
    let credentials = hibob_credentials(&raw, secrets)?;
    Ok(HibobConfig {
        base_url: parse_base_url(
            "hibob.base_url",
            raw.base_url.as_deref().unwrap_or(defaults::HIBOB_BASE_URL),
        )?,
        rate_limit: optional_rate(
            "hibob.rate_limit",
            raw.rate_limit,
            defaults::HIBOB_RATE_LIMIT,
        )?,
        documents_rate_limit: optional_rate(
            "hibob.documents_rate_limit",
            raw.documents_rate_limit,
            defaults::DOCUMENTS_RATE_LIMIT,
        )?,
        site: raw.site,
        start_date_offset: optional_bounded(
            "hibob.start_date_offset",
            raw.start_date_offset,
            defaults::START_DATE_OFFSET,
            (DAY * 730, "730d"),
        )?,
        cv_folder,
        on_former_employee,
        read_lag: optional_bounded(
            "hibob.read_lag",
            raw.read_lag,
            defaults::READ_LAG,
            (Duration::from_secs(600), "10m"),
        )?,
        search_batch_size,
        credentials,
    })
}

fn ledger_config(raw: RawLedger) -> Result<LedgerConfig, ConfigError> {
    if raw.path.as_os_str().is_empty() {
        return Err(invalid(
            "ledger.path",
            "is empty; write e.g. \"/var/lib/hirebridge/ledger.sqlite3\"",
        ));
    }
    Ok(LedgerConfig { path: raw.path })
}

fn audit_config(raw: RawAudit, secrets: &SecretSources) -> Result<AuditConfig, ConfigError> {
    // A key file is a secret: relative to the credentials directory, as the others.
    let signing_key_file = raw
        .signing_key_file
        .map(|path| {
            if path.as_os_str().is_empty() {
                return Err(invalid(
                    "audit.signing_key_file",
                    "is empty; remove it to use the key kept beside the ledger",
                ));
            }
            Ok(secrets.resolve(&path))
        })
        .transpose()?;
    if let Some(log) = &raw.checkpoint_log
        && (log.as_os_str().is_empty() || log.is_relative())
    {
        return Err(invalid(
            "audit.checkpoint_log",
            "must be an absolute path, e.g. \"/mnt/worm/hirebridge-checkpoints.jsonl\"",
        ));
    }
    let retain_personal_data = raw
        .retain_personal_data
        .map(|text| {
            let d = parse_bounded("audit.retain_personal_data", &text, 100 * 365 * DAY, "100y")?;
            if d < DAY {
                return Err(invalid(
                    "audit.retain_personal_data",
                    format!("{text:?} is shorter than a day; write e.g. \"3y\" or \"180d\""),
                ));
            }
            Ok(d)
        })
        .transpose()?;
    Ok(AuditConfig {
        signing_key_file,
        checkpoint_log: raw.checkpoint_log,
        retain_personal_data,
    })
}

fn backup_config(raw: RawBackup) -> Result<BackupConfig, ConfigError> {
    if let Some(dir) = &raw.dir
        && (dir.as_os_str().is_empty() || dir.is_relative())
    {
        return Err(invalid(
            "backup.dir",
            "must be an absolute path, e.g. \"/var/lib/hirebridge-backups\" (the shipped timer's sandbox may write there)",
        ));
    }
    let keep = match raw.keep {
        None => BackupConfig::DEFAULT_KEEP,
        Some(n) if (1..=BackupConfig::MAX_KEEP).contains(&n) => n as usize,
        Some(n) => {
            return Err(invalid(
                "backup.keep",
                format!(
                    "{n} is not a number of copies to keep; write 1 to {} (default {})",
                    BackupConfig::MAX_KEEP,
                    BackupConfig::DEFAULT_KEEP
                ),
            ));
        }
    };
    Ok(BackupConfig { dir: raw.dir, keep })
}

fn http_config(raw: RawHttp) -> Result<HttpConfig, ConfigError> {
    let default = HttpConfig::default();
    let http = HttpConfig {
        connect_timeout: optional_duration(
            "http.connect_timeout",
            raw.connect_timeout,
            default.connect_timeout,
        )?,
        request_timeout: optional_duration(
            "http.request_timeout",
            raw.request_timeout,
            default.request_timeout,
        )?,
        read_retries: match raw.read_retries {
            None => default.read_retries,
            Some(n @ 0..=10) => n as u32,
            Some(n) => {
                return Err(invalid(
                    "http.read_retries",
                    format!("{n} is out of range; use 0 to 10"),
                ));
            }
        },
        max_rate_limit_wait: optional_duration(
            "http.max_rate_limit_wait",
            raw.max_rate_limit_wait,
            default.max_rate_limit_wait,
        )?,
    };
    for (key, timeout) in [
        ("http.connect_timeout", http.connect_timeout),
        ("http.request_timeout", http.request_timeout),
    ] {
        if timeout.is_zero() {
            return Err(invalid(key, "must be longer than zero, e.g. \"10s\""));
        }
    }
    Ok(http)
}

fn sync_config(raw: RawSync) -> Result<SyncConfig, ConfigError> {
    let concurrency = match raw.concurrency {
        None => SyncConfig::default().concurrency,
        Some(n @ 1..=64) => n as usize,
        Some(n) => {
            return Err(invalid(
                "sync.concurrency",
                format!(
                    "{n} is out of range; use 1 to 64 (a small number is plenty: the APIs' rate limits are the ceiling)"
                ),
            ));
        }
    };
    let hired_since = raw
        .hired_since
        .as_deref()
        .map(HiredSince::parse)
        .transpose()?;
    Ok(SyncConfig {
        concurrency,
        hired_since,
    })
}

fn retry_config(raw: RawRetry) -> Result<RetryConfig, ConfigError> {
    let default = RetryConfig::default();
    let retry = RetryConfig {
        initial: optional_duration("retry.initial", raw.initial, default.initial)?,
        max: optional_duration("retry.max", raw.max, default.max)?,
    };
    if retry.max < retry.initial {
        return Err(invalid(
            "retry.max",
            "is shorter than retry.initial; the cap must be at least the first delay",
        ));
    }
    Ok(retry)
}

fn parse_mapping(raw: RawMapping, site: &str) -> Result<crate::mapping::Mapping, ConfigError> {
    use crate::mapping::{FieldRule, Mapping, OnChange};
    let parse_mode = |key: &str, value: &str| match value {
        "report" => Ok(OnChange::Report),
        "update" => Ok(OnChange::Update),
        other => Err(invalid(
            key,
            format!("{other:?} is not a choice; write \"report\" or \"update\""),
        )),
    };
    let on_change = match raw.on_change.as_deref() {
        None => OnChange::default(),
        Some(value) => parse_mode("mapping.on_change", value)?,
    };
    let rules = raw
        .fields
        .into_iter()
        .map(|(field, spec)| {
            Ok(match spec {
                RawField::Template(template) => FieldRule {
                    field,
                    template,
                    lookup: Default::default(),
                    on_change: None,
                },
                RawField::Table(t) => FieldRule {
                    on_change: t
                        .on_change
                        .as_deref()
                        .map(|v| parse_mode(&format!("mapping.fields.\"{field}\".on_change"), v))
                        .transpose()?,
                    field,
                    template: t.template,
                    lookup: t.lookup,
                },
            })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    Mapping::new(
        rules,
        on_change,
        raw.allow_past_start_date.unwrap_or_default(),
        site,
    )
    .map_err(|e| ConfigError::Invalid {
        key: e.key,
        message: e.message,
    })
}

/// The listener's address and secret. Without a secret anyone who can reach the port could
/// make hirebridge look at an application: harmless on loopback (a local proxy verifies), a
/// decision for the operator anywhere else.
fn webhook_config(raw: RawWebhook, secrets: &SecretSources) -> Result<WebhookConfig, ConfigError> {
    let listen: std::net::SocketAddr = raw.listen.trim().parse().map_err(|_| {
        invalid(
            "webhook.listen",
            format!(
                "{:?} is not an address and port; write e.g. \"127.0.0.1:8787\"",
                raw.listen
            ),
        )
    })?;
    let secret = secrets.secret(
        "PINPOINT_WEBHOOK_SECRET",
        "webhook.secret_file",
        raw.secret_file.as_ref(),
    )?;
    if secret.is_none() && !raw.allow_unsigned && !listen.ip().is_loopback() {
        return Err(invalid(
            "webhook.listen",
            format!(
                "{listen} is reachable from other hosts but no signing secret is set: set \
                 PINPOINT_WEBHOOK_SECRET or webhook.secret_file to the webhook's signing secret from \
                 Pinpoint, listen on 127.0.0.1 behind a proxy, or set webhook.allow_unsigned = true"
            ),
        ));
    }
    let limits = listener_limits(&raw)?;
    let metrics_listen = raw
        .metrics_listen
        .as_deref()
        .map(|text| {
            text.trim().parse::<std::net::SocketAddr>().map_err(|_| {
                invalid(
                    "webhook.metrics_listen",
                    format!("{text:?} is not an address and port; write e.g. \"127.0.0.1:9464\""),
                )
            })
        })
        .transpose()?;
    if metrics_listen == Some(listen) {
        return Err(invalid(
            "webhook.metrics_listen",
            "is the same address as webhook.listen; choose another port, or leave it out to serve /healthz and /metrics on the webhook port",
        ));
    }
    Ok(WebhookConfig {
        listen,
        secret,
        allow_unsigned: raw.allow_unsigned,
        limits,
        metrics_listen,
    })
}

/// The plugin's address, key and name. Without a key anyone who can reach the port could
/// create employees: allowed on loopback only (a local proxy may add the key), as for the
/// webhook's signing secret; and then every form and submit is refused until a key is set.
fn plugin_config(
    raw: RawPlugin,
    secrets: &SecretSources,
    employee_url: String,
    limits: ListenerLimits,
) -> Result<PluginConfig, ConfigError> {
    let listen: std::net::SocketAddr = raw.listen.trim().parse().map_err(|_| {
        invalid(
            "plugin.listen",
            format!(
                "{:?} is not an address and port; write e.g. \"127.0.0.1:8091\"",
                raw.listen
            ),
        )
    })?;
    let key = secrets.secret(
        "HIREBRIDGE_PLUGIN_KEY",
        "plugin.key_file",
        raw.key_file.as_ref(),
    )?;
    if let Some(k) = &key
        && k.expose_secret().trim().len() < 16
    {
        return Err(invalid(
            "plugin.key_file",
            "the plugin key is shorter than 16 characters; generate a long random one (e.g. `openssl rand -hex 32`) and enter the same in Pinpoint's plugin configuration",
        ));
    }
    if key.is_none() && !listen.ip().is_loopback() {
        return Err(invalid(
            "plugin.listen",
            format!(
                "{listen} is reachable from other hosts but no plugin key is set: set \
                 HIREBRIDGE_PLUGIN_KEY or plugin.key_file to the key entered in Pinpoint's plugin \
                 configuration, or listen on 127.0.0.1 behind a proxy"
            ),
        ));
    }
    let name = raw
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "HiBob (hirebridge)".to_owned());
    Ok(PluginConfig {
        listen,
        key,
        name,
        employee_url,
        limits,
    })
}

/// `webhook.max_connections` and the timeouts, each defaulting to [`ListenerLimits::default`].
fn listener_limits(raw: &RawWebhook) -> Result<ListenerLimits, ConfigError> {
    let defaults = ListenerLimits::default();
    let timeout = |key: &str, text: &Option<String>, default: Duration| match text {
        None => Ok(default),
        Some(text) => {
            let d = parse_bounded(key, text, Duration::from_secs(3600), "1h")?;
            if d.is_zero() {
                return Err(invalid(key, "must be longer than zero, e.g. \"10s\""));
            }
            Ok(d)
        }
    };
    let max_connections = match raw.max_connections {
        None => defaults.max_connections,
        Some(n @ 1..=65_536) => n as usize,
        Some(n) => {
            return Err(invalid(
                "webhook.max_connections",
                format!(
                    "{n} is out of range; use 1 to 65536 (the default 256 is plenty for Pinpoint)"
                ),
            ));
        }
    };
    Ok(ListenerLimits {
        header_timeout: timeout(
            "webhook.header_timeout",
            &raw.header_timeout,
            defaults.header_timeout,
        )?,
        body_timeout: timeout(
            "webhook.body_timeout",
            &raw.body_timeout,
            defaults.body_timeout,
        )?,
        idle_timeout: timeout(
            "webhook.idle_timeout",
            &raw.idle_timeout,
            defaults.idle_timeout,
        )?,
        max_connections,
    })
}

impl Config {
    /// A configuration for the built-in simulator: no file, no real credentials, generous
    /// limits (the simulator has none unless a test sets them); every other value is the
    /// file's default.
    pub fn simulated(
        pinpoint_base_url: &str,
        hibob_base_url: &str,
        pinpoint_api_key: &str,
        hibob_service_user: (&str, &str),
        ledger_path: &Path,
    ) -> Result<Self, ConfigError> {
        const SITE: &str = "New York (Demo)";
        Ok(Config {
            pinpoint: PinpointConfig {
                base_url: parse_base_url("pinpoint.base_url", pinpoint_base_url)?,
                rate_limit: RateLimit::unlimited(),
                page_size: defaults::PAGE_SIZE,
                hired_stage_ids: Vec::new(),
                api_key: SecretString::from(pinpoint_api_key.to_owned()),
            },
            hibob: HibobConfig {
                base_url: parse_base_url("hibob.base_url", hibob_base_url)?,
                rate_limit: RateLimit::unlimited(),
                documents_rate_limit: RateLimit::unlimited(),
                site: SITE.into(),
                start_date_offset: defaults::START_DATE_OFFSET,
                cv_folder: defaults::CV_FOLDER,
                on_former_employee: defaults::ON_FORMER_EMPLOYEE,
                read_lag: defaults::READ_LAG,
                search_batch_size: defaults::SEARCH_BATCH_SIZE,
                credentials: HibobCredentials::ServiceUser {
                    id: hibob_service_user.0.to_owned(),
                    token: SecretString::from(hibob_service_user.1.to_owned()),
                },
            },
            ledger: LedgerConfig {
                path: ledger_path.to_owned(),
            },
            schedule: Schedule::default(),
            full_every: DEFAULT_FULL_EVERY,
            http: HttpConfig::default(),
            retry: RetryConfig::default(),
            // The simulated hires are recent: a demo shows them being done.
            sync: SyncConfig {
                hired_since: Some(HiredSince::Age(Duration::from_secs(30 * 86400))),
                ..SyncConfig::default()
            },
            mapping: crate::mapping::Mapping::default_for(SITE),
            webhook: None,
            audit: AuditConfig::default(),
            plugin: None,
            backup: BackupConfig::default(),
            digest: "simulated".to_owned(),
        })
    }
}

fn parse_raw(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| {
                text.as_bytes()[..span.start.min(text.len())]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1
            })
            .unwrap_or(1);
        // toml's own message can span several lines; the operator gets one.
        let message = e.message().lines().next().unwrap_or("").trim().to_owned();
        ConfigError::Syntax {
            path: path.to_owned(),
            line,
            message,
        }
    })?;
    Ok(raw)
}

/// An optional duration; none of these may exceed an hour.
fn optional_duration(
    key: &str,
    text: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    optional_bounded(key, text, default, (Duration::from_secs(3600), "1h"))
}

/// An optional duration no longer than `max` (written as its text).
fn optional_bounded(
    key: &str,
    text: Option<String>,
    default: Duration,
    (max, max_text): (Duration, &str),
) -> Result<Duration, ConfigError> {
    text.map_or(Ok(default), |t| parse_bounded(key, &t, max, max_text))
}

/// An optional `"N/period"` rate.
fn optional_rate(
    key: &str,
    text: Option<String>,
    default: RateLimit,
) -> Result<RateLimit, ConfigError> {
    text.map_or(Ok(default), |t| RateLimit::parse(key, &t))
}

fn parse_schedule(raw: RawSchedule) -> Result<Schedule, ConfigError> {
    match (raw.every, raw.cron) {
        (Some(_), Some(_)) => Err(invalid(
            "schedule",
            "set either `every` or `cron`, not both",
        )),
        (None, Some(cron)) => {
            validate_cron(&cron)?;
            Ok(Schedule::Cron(cron))
        }
        (None, None) => Ok(Schedule::default()),
        (Some(every), None) => {
            let every = parse_bounded("schedule.every", &every, DAY, "1d")?;
            if every < Duration::from_secs(1) {
                return Err(invalid("schedule.every", "must be at least 1s"));
            }
            Ok(Schedule::Every(every))
        }
    }
}

/// `[schedule] full_every` when the file leaves it out: a day.
pub const DEFAULT_FULL_EVERY: Duration = DAY;

/// `[schedule] full_every`: a duration up to a week; `"0s"` makes every pass a full listing.
/// Longer would leave an unhired or withdrawn hire, or a renamed job, unseen for too long.
fn parse_full_every(text: Option<&str>) -> Result<Duration, ConfigError> {
    match text {
        None => Ok(DEFAULT_FULL_EVERY),
        Some(text) => parse_bounded("schedule.full_every", text, 7 * DAY, "7d"),
    }
}

/// When the schedule fires next after `after` (`every` counts from the last pass's start, as
/// the daemon's repeated job does, approximately). `None` for a cron expression with no future match.
pub fn next_tick(schedule: &Schedule, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match schedule {
        Schedule::Every(every) => Some(after + chrono::Duration::from_std(*every).ok()?),
        Schedule::Cron(expr) => croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expr)
            .ok()?
            .find_next_occurrence(&after, false)
            .ok(),
    }
}

fn validate_cron(expr: &str) -> Result<(), ConfigError> {
    tokio_cron_scheduler::Job::new_async(expr, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| {
            invalid(
                "schedule.cron",
                format!(
                    "{expr:?} is not a cron expression ({e}); it has six fields with seconds first, e.g. \"0 */5 * * * *\""
                ),
            )
        })
}

fn hibob_credentials(
    h: &RawHibob,
    secrets: &SecretSources,
) -> Result<HibobCredentials, ConfigError> {
    let id = secrets.secret(
        "HIBOB_SERVICE_USER_ID",
        "hibob.service_user_id_file",
        h.service_user_id_file.as_ref(),
    )?;
    let token = secrets.secret(
        "HIBOB_SERVICE_USER_TOKEN",
        "hibob.service_user_token_file",
        h.service_user_token_file.as_ref(),
    )?;
    match (id, token) {
        (Some(id), Some(token)) => {
            return Ok(HibobCredentials::ServiceUser {
                id: id.expose_secret().to_owned(),
                token,
            });
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(ConfigError::MissingSecret {
                message: "HiBob needs both the service user id and its token: set \
                          HIBOB_SERVICE_USER_ID and HIBOB_SERVICE_USER_TOKEN (or their *_file keys)"
                    .into(),
            });
        }
        (None, None) => {}
    }
    let combined = secrets
        .secret(
            "HIBOB_BASE64_TOKEN",
            "hibob.base64_token_file",
            h.base64_token_file.as_ref(),
        )?
        .ok_or_else(|| ConfigError::MissingSecret {
            message: "HiBob service user credentials: set HIBOB_SERVICE_USER_ID and \
                      HIBOB_SERVICE_USER_TOKEN (or hibob.service_user_id_file and \
                      hibob.service_user_token_file), or HIBOB_BASE64_TOKEN"
                .into(),
        })?;
    // Check the shape now so a typo fails at startup, not as a 401 on the first call.
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(combined.expose_secret().as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    match decoded {
        Some(pair)
            if pair
                .split_once(':')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()) =>
        {
            Ok(HibobCredentials::Base64(combined))
        }
        _ => Err(invalid(
            "HIBOB_BASE64_TOKEN",
            "is not base64 of \"SERVICE-USER-ID:TOKEN\"; re-create it with `printf '%s' ID:TOKEN | base64 -w0`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[pinpoint]
base_url = "https://acme.pinpointhq.com/api/v1"
[hibob]
site = "New York (Demo)"
[ledger]
path = "/tmp/ledger.sqlite3"
"#;

    fn secrets() -> SecretSources {
        let mut s = SecretSources::default();
        for (k, v) in [
            ("PINPOINT_API_KEY", "pk"),
            ("HIBOB_SERVICE_USER_ID", "SERVICE-1"),
            ("HIBOB_SERVICE_USER_TOKEN", "tok"),
        ] {
            s.vars.insert(k.into(), v.into());
        }
        s
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("config.toml"), text, &secrets())
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    fn report_links(text: &str) -> Result<ReportLinks, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        Config::ledger_and_report_links(&path).map(|(_, links)| links)
    }

    #[test]
    fn the_reports_links_default_to_the_tenants_host_and_refuse_a_pattern_without_the_id() {
        let links = report_links(MINIMAL).unwrap();
        assert_eq!(
            ReportLinks::to(&links.pinpoint_application, "8863880"),
            "https://acme.pinpointhq.com/admin/applications/8863880"
        );
        assert_eq!(
            ReportLinks::to(&links.hibob_employee, "3397352260643086378"),
            "https://app.hibob.com/employee-profile/3397352260643086378"
        );
        // An id is never markup or a path of its own.
        assert_eq!(
            ReportLinks::to(&links.pinpoint_application, "1/../x?y"),
            "https://acme.pinpointhq.com/admin/applications/1%2F..%2Fx%3Fy"
        );
        let custom = format!(
            "{MINIMAL}[report]\nhibob_employee_url = \"https://acme.bob.example/people/{{id}}\"\n"
        );
        assert_eq!(
            report_links(&custom).unwrap().hibob_employee,
            "https://acme.bob.example/people/{id}"
        );
        for bad in [
            "https://acme.bob.example/people",
            "javascript:alert({id})",
            "not a url {id}",
        ] {
            let text = format!("{MINIMAL}[report]\nhibob_employee_url = \"{bad}\"\n");
            let e = report_links(&text).unwrap_err().to_string();
            assert!(e.contains("report.hibob_employee_url"), "{e}");
            assert!(e.contains("{id}"), "{e}");
        }
        let unknown = format!("{MINIMAL}[report]\ncolour = \"blue\"\n");
        assert!(
            report_links(&unknown)
                .unwrap_err()
                .to_string()
                .contains("colour")
        );
    }

    #[test]
    fn minimal_config_takes_documented_defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.pinpoint.page_size, 100);
        assert_eq!(
            c.pinpoint.rate_limit,
            RateLimit {
                count: 2,
                period: Duration::from_secs(1)
            }
        );
        assert_eq!(c.hibob.rate_limit.count, 50);
        assert_eq!(c.hibob.rate_limit.period, Duration::from_secs(60));
        assert_eq!(c.hibob.start_date_offset, Duration::from_secs(14 * 86400));
        assert_eq!(c.hibob.cv_folder, CvFolder::Shared);
        assert_eq!(c.hibob.read_lag, Duration::from_secs(20));
        assert_eq!(c.schedule, Schedule::Every(Duration::from_secs(300)));
        assert_eq!(c.http.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.http.request_timeout, Duration::from_secs(10));
        assert_eq!(c.http.read_retries, 2);
        assert_eq!(c.http.max_rate_limit_wait, Duration::from_secs(120));
        assert_eq!(c.sync.concurrency, 4);
    }

    #[test]
    fn the_simulator_takes_the_files_defaults_beside_its_own_limits_and_cutoff() {
        let file = parse(MINIMAL).unwrap();
        let sim = Config::simulated(
            "http://127.0.0.1:1/pinpoint",
            "http://127.0.0.1:1/hibob",
            "pk",
            ("SERVICE-1", "tok"),
            Path::new("/tmp/ledger.sqlite3"),
        )
        .unwrap();
        assert_eq!(sim.pinpoint.page_size, file.pinpoint.page_size);
        assert_eq!(sim.pinpoint.rate_limit, RateLimit::unlimited());
        assert_eq!(sim.hibob.site, file.hibob.site);
        assert_eq!(sim.hibob.start_date_offset, file.hibob.start_date_offset);
        assert_eq!(sim.hibob.cv_folder, file.hibob.cv_folder);
        assert_eq!(sim.hibob.on_former_employee, file.hibob.on_former_employee);
        assert_eq!(sim.hibob.read_lag, file.hibob.read_lag);
        assert_eq!(sim.hibob.search_batch_size, file.hibob.search_batch_size);
        assert_eq!(sim.schedule, file.schedule);
        assert_eq!(
            format!("{:?}", sim.http),
            format!("{:?}", file.http),
            "the HTTP defaults"
        );
        assert_eq!(
            (sim.retry.initial, sim.retry.max),
            (file.retry.initial, file.retry.max)
        );
        assert_eq!(sim.sync.concurrency, file.sync.concurrency);
        assert_eq!(file.sync.hired_since, None);
        assert_eq!(
            sim.sync.hired_since,
            Some(HiredSince::Age(Duration::from_secs(30 * 86400)))
        );
        assert_eq!(sim.mapping.fingerprint(), file.mapping.fingerprint());
        assert_eq!(sim.mapping.on_change, file.mapping.on_change);
    }

    #[test]
    fn the_repository_example_config_is_valid() {
        let text = include_str!("../config.toml");
        parse(text).unwrap();
    }

    #[test]
    fn the_example_backup_section_parses_and_keep_defaults_to_14() {
        let text = include_str!("../config.toml");
        let section = &text[text
            .find("# [backup]")
            .expect("the example documents [backup]")..];
        let uncommented: String = section
            .lines()
            .take_while(|l| l.starts_with('#'))
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let config = parse(&format!("{MINIMAL}{uncommented}")).unwrap();
        assert_eq!(
            config.backup.dir.as_deref(),
            Some(Path::new("/var/lib/hirebridge-backups"))
        );
        assert_eq!(config.backup.keep, 14);
        assert_eq!(parse(MINIMAL).unwrap().backup, BackupConfig::default());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e = error(&MINIMAL.replace("[ledger]", "[ledger]\nfrobnicate = 1"));
        assert!(e.contains("frobnicate"), "{e}");
        assert!(e.contains("line 7"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    #[test]
    fn bad_duration_names_the_key() {
        let e = error(&MINIMAL.replace(
            "site = \"New York (Demo)\"",
            "site = \"x\"\nstart_date_offset = \"fortnight\"",
        ));
        assert!(e.contains("hibob.start_date_offset"), "{e}");
        assert!(e.contains("fortnight"), "{e}");
    }

    #[test]
    fn bad_url_names_the_key() {
        let e = error(&MINIMAL.replace("https://acme.pinpointhq.com/api/v1", "acme dot com"));
        assert!(e.contains("pinpoint.base_url"), "{e}");
        let e = error(&MINIMAL.replace("https://acme.pinpointhq.com/api/v1", "ftp://acme/x"));
        assert!(e.contains("pinpoint.base_url"), "{e}");
    }

    #[test]
    fn bad_rate_limits_name_the_key() {
        for bad in ["50", "0/1m", "x/1m", "5/0s", "5/soon"] {
            let e = error(&MINIMAL.replace("[hibob]", &format!("[hibob]\nrate_limit = \"{bad}\"")));
            assert!(e.contains("hibob.rate_limit"), "{bad}: {e}");
        }
    }

    #[test]
    fn wrong_types_and_missing_sections_are_syntax_errors_with_a_line() {
        let e = error(&MINIMAL.replace("[pinpoint]", "[pinpoint]\npage_size = \"many\""));
        assert!(e.contains("line"), "{e}");
        let e = error("[pinpoint]\nbase_url = \"https://x/api\"\n");
        assert!(e.contains("hibob"), "{e}");
        let e = error("this is not toml");
        assert!(e.contains("config.toml"), "{e}");
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let e = error(&MINIMAL.replace("[pinpoint]", "[pinpoint]\npage_size = 5000"));
        assert!(e.contains("pinpoint.page_size"), "{e}");
        let e = error(&MINIMAL.replace("[hibob]", "[hibob]\ncv_folder = \"private\""));
        assert!(e.contains("hibob.cv_folder"), "{e}");
        let e = error(&MINIMAL.replace("[hibob]", "[hibob]\non_former_employee = \"rehire\""));
        assert!(
            e.contains("hibob.on_former_employee") && e.contains("\"attention\""),
            "{e}"
        );
        let e = error(&MINIMAL.replace("New York (Demo)", " "));
        assert!(e.contains("hibob.site"), "{e}");
        let e = error(&format!(
            "{MINIMAL}\n[schedule]\nevery = \"5m\"\ncron = \"0 * * * * *\""
        ));
        assert!(e.contains("schedule"), "{e}");
        let e = error(&format!(
            "{MINIMAL}\n[schedule]\ncron = \"every five minutes\""
        ));
        assert!(e.contains("schedule.cron"), "{e}");
        let e = error(&format!(
            "{MINIMAL}\n[retry]\ninitial = \"10m\"\nmax = \"1m\""
        ));
        assert!(e.contains("retry.max"), "{e}");
        let e = error(&format!("{MINIMAL}\n[retry]\nmax = \"1day\""));
        assert!(e.contains("retry.max"), "{e}");
        let e = error(&MINIMAL.replace("[hibob]", "[hibob]\nstart_date_offset = \"300000y\""));
        assert!(e.contains("hibob.start_date_offset"), "{e}");
        let e = error(&MINIMAL.replace("[hibob]", "[hibob]\nread_lag = \"2h\""));
        assert!(e.contains("hibob.read_lag"), "{e}");
        let e = error(&format!("{MINIMAL}\n[sync]\nconcurrency = 0"));
        assert!(e.contains("sync.concurrency"), "{e}");
        let e = error(&format!("{MINIMAL}\n[sync]\nhired_since = \"last spring\""));
        assert!(e.contains("sync.hired_since") && e.contains("90d"), "{e}");
        let e = error(&format!("{MINIMAL}\n[http]\nread_retries = 99"));
        assert!(e.contains("http.read_retries"), "{e}");
    }

    #[test]
    fn the_mapping_section_is_validated_naming_the_key() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.mapping.on_change, crate::mapping::OnChange::Report);
        assert!(!c.mapping.allow_past_start_date);
        assert!(c.mapping.fields().contains(&"work.title".to_owned()));
        let c = parse(&format!(
            "{MINIMAL}\n[mapping]\non_change = \"update\"\n[mapping.fields]\n\"work.title\" = \"\"\n\"work.department\" = \"\"\n\"work.site\" = {{ template = \"{{{{ job.location }}}}\", lookup = {{ \"London office\" = \"London\" }}, on_change = \"report\" }}"
        ))
        .unwrap();
        assert_eq!(c.mapping.on_change, crate::mapping::OnChange::Update);
        assert_eq!(
            c.mapping.on_change_of("work.site"),
            crate::mapping::OnChange::Report
        );
        assert_eq!(
            c.mapping.on_change_of("home.mobilePhone"),
            crate::mapping::OnChange::Update
        );
        // Update mode with a Work-table field HiBob's update does not change: refused, naming
        // the fields and the way out.
        let e = error(&format!("{MINIMAL}\n[mapping]\non_change = \"update\""));
        assert!(
            e.contains("mapping.on_change")
                && e.contains("work.department, work.site, work.title")
                && e.contains("on_change = \"report\""),
            "{e}"
        );
        let e = error(&format!(
            "{MINIMAL}\n[mapping.fields]\n\"work.site\" = {{ template = \"x\", on_change = \"sometimes\" }}"
        ));
        assert!(e.contains("mapping.fields.\"work.site\".on_change"), "{e}");
        assert!(!c.mapping.fields().contains(&"work.title".to_owned()));
        let site = c
            .mapping
            .rules()
            .iter()
            .find(|r| r.field == "work.site")
            .unwrap();
        assert_eq!(site.lookup["London office"], "London");
        let e = error(&format!("{MINIMAL}\n[mapping]\non_change = \"overwrite\""));
        assert!(e.contains("mapping.on_change"), "{e}");
        let e = error(&format!(
            "{MINIMAL}\n[mapping.fields]\n\"work.title\" = \"{{{{ jobs.title }}}}\""
        ));
        assert!(e.contains("mapping.fields.\"work.title\""), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    #[test]
    fn the_listeners_limits_have_defaults_and_are_validated() {
        let c = parse(&format!(
            "{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:8787\""
        ))
        .unwrap();
        let w = c.webhook.unwrap();
        assert_eq!(w.limits, ListenerLimits::default());
        assert_eq!(w.metrics_listen, None);
        let c = parse(&format!(
            "{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:8787\"\nheader_timeout = \"2s\"\nidle_timeout = \"5m\"\nmax_connections = 32\nmetrics_listen = \"127.0.0.1:9464\""
        ))
        .unwrap();
        let w = c.webhook.unwrap();
        assert_eq!(w.limits.header_timeout, Duration::from_secs(2));
        assert_eq!(w.limits.idle_timeout, Duration::from_secs(300));
        assert_eq!(w.limits.max_connections, 32);
        assert_eq!(w.metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
        for (line, key) in [
            ("header_timeout = \"0s\"", "webhook.header_timeout"),
            ("body_timeout = \"soon\"", "webhook.body_timeout"),
            ("idle_timeout = \"2h\"", "webhook.idle_timeout"),
            ("max_connections = 0", "webhook.max_connections"),
            ("metrics_listen = \"port 9\"", "webhook.metrics_listen"),
            (
                "metrics_listen = \"127.0.0.1:8787\"",
                "webhook.metrics_listen",
            ),
        ] {
            let e = error(&format!(
                "{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:8787\"\n{line}"
            ));
            assert!(e.contains(key), "{line}: {e}");
        }
    }

    #[test]
    fn cron_schedule_is_accepted() {
        let c = parse(&format!("{MINIMAL}\n[schedule]\ncron = \"0 */5 * * * *\"")).unwrap();
        assert_eq!(c.schedule, Schedule::Cron("0 */5 * * * *".into()));
    }

    #[test]
    fn missing_secrets_say_which_variable_to_set() {
        let mut s = secrets();
        s.vars.remove("PINPOINT_API_KEY");
        let e = Config::parse(Path::new("c"), MINIMAL, &s)
            .unwrap_err()
            .to_string();
        assert!(e.contains("PINPOINT_API_KEY"), "{e}");

        let mut s = secrets();
        s.vars.remove("HIBOB_SERVICE_USER_TOKEN");
        let e = Config::parse(Path::new("c"), MINIMAL, &s)
            .unwrap_err()
            .to_string();
        assert!(e.contains("HIBOB_SERVICE_USER_TOKEN"), "{e}");
    }

    #[test]
    fn base64_token_is_accepted_and_checked() {
        let mut s = secrets();
        s.vars.remove("HIBOB_SERVICE_USER_ID");
        s.vars.remove("HIBOB_SERVICE_USER_TOKEN");
        s.vars
            .insert("HIBOB_BASE64_TOKEN".into(), "U0VSVklDRS0xOnRvaw==".into());
        let c = Config::parse(Path::new("c"), MINIMAL, &s).unwrap();
        assert!(matches!(c.hibob.credentials, HibobCredentials::Base64(_)));

        s.vars
            .insert("HIBOB_BASE64_TOKEN".into(), "not base64 at all!".into());
        let e = Config::parse(Path::new("c"), MINIMAL, &s)
            .unwrap_err()
            .to_string();
        assert!(e.contains("HIBOB_BASE64_TOKEN"), "{e}");
        assert!(!e.contains("not base64 at all"), "secret echoed: {e}");
    }

    #[test]
    fn outside_systemd_relative_secret_files_are_read_beside_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        // No credentials/ beside it: nothing is assumed.
        assert_eq!(
            SecretSources::for_config(&config).credentials_directory,
            std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from)
        );
        std::fs::create_dir(dir.path().join("credentials")).unwrap();
        if std::env::var_os("CREDENTIALS_DIRECTORY").is_none() {
            assert_eq!(
                SecretSources::for_config(&config).credentials_directory,
                Some(dir.path().join("credentials"))
            );
        }
    }

    #[test]
    fn secrets_come_from_files_relative_to_the_credentials_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pinpoint"), "file-key\n").unwrap();
        let mut s = secrets();
        s.vars.remove("PINPOINT_API_KEY");
        s.credentials_directory = Some(dir.path().to_owned());
        let text = MINIMAL.replace("[hibob]", "api_key_file = \"pinpoint\"\n[hibob]");
        let c = Config::parse(Path::new("c"), &text, &s).unwrap();
        assert_eq!(c.pinpoint.api_key.expose_secret(), "file-key");

        let text = MINIMAL.replace("[hibob]", "api_key_file = \"absent\"\n[hibob]");
        let e = Config::parse(Path::new("c"), &text, &s)
            .unwrap_err()
            .to_string();
        assert!(e.contains("pinpoint.api_key_file"), "{e}");
    }

    #[test]
    fn the_webhook_listener_is_optional_and_validated() {
        assert!(parse(MINIMAL).unwrap().webhook.is_none());
        let c = parse(&format!(
            "{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:8787\""
        ))
        .unwrap();
        let w = c.webhook.unwrap();
        assert_eq!(w.listen.to_string(), "127.0.0.1:8787");
        assert!(w.secret.is_none());

        let e = error(&format!("{MINIMAL}\n[webhook]\nlisten = \"port 80\""));
        assert!(e.contains("webhook.listen"), "{e}");
        let e = error(&format!("{MINIMAL}\n[webhook]\nlisten = \"0.0.0.0:8787\""));
        assert!(e.contains("webhook.listen"), "{e}");
        assert!(e.contains("PINPOINT_WEBHOOK_SECRET"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        parse(&format!(
            "{MINIMAL}\n[webhook]\nlisten = \"0.0.0.0:8787\"\nallow_unsigned = true"
        ))
        .unwrap();

        let mut s = secrets();
        s.vars
            .insert("PINPOINT_WEBHOOK_SECRET".into(), "whsec-1".into());
        let text = format!("{MINIMAL}\n[webhook]\nlisten = \"0.0.0.0:8787\"");
        let c = Config::parse(Path::new("c"), &text, &s).unwrap();
        let secret = c.webhook.unwrap().secret.unwrap();
        assert_eq!(secret.expose_secret(), "whsec-1");
    }

    #[test]
    fn the_audit_section_is_optional_and_validated_naming_the_key() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.audit, AuditConfig::default());
        assert_eq!(
            c.audit
                .key_path(Path::new("/var/lib/hirebridge/ledger.sqlite3")),
            Path::new("/var/lib/hirebridge/ledger.sqlite3.audit-key")
        );
        let c = parse(&format!(
            "{MINIMAL}\n[audit]\nsigning_key_file = \"/etc/k\"\ncheckpoint_log = \"/mnt/log\"\nretain_personal_data = \"3y\""
        ))
        .unwrap();
        assert_eq!(c.audit.key_path(Path::new("x")), Path::new("/etc/k"));
        assert!(!c.audit.key_is_default());
        assert_eq!(
            c.audit.retain_personal_data,
            Some(humantime::parse_duration("3y").unwrap())
        );
        for (bad, key, says) in [
            (
                "retain_personal_data = \"3\"",
                "audit.retain_personal_data",
                "not a duration",
            ),
            (
                "retain_personal_data = \"2h\"",
                "audit.retain_personal_data",
                "shorter than a day",
            ),
            (
                "retain_personal_data = \"500y\"",
                "audit.retain_personal_data",
                "maximum",
            ),
            (
                "checkpoint_log = \"log.jsonl\"",
                "audit.checkpoint_log",
                "absolute",
            ),
            ("signing_key_file = \"\"", "audit.signing_key_file", "empty"),
            ("signing_key = \"abc\"", "signing_key", "unknown"),
        ] {
            let e = error(&format!("{MINIMAL}\n[audit]\n{bad}"));
            assert!(e.contains(key) && e.contains(says), "{bad}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn the_webhook_secret_comes_from_a_file_in_the_credentials_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pinpoint_webhook_secret"), "whsec-file\n").unwrap();
        let mut s = secrets();
        s.credentials_directory = Some(dir.path().to_owned());
        let text = format!(
            "{MINIMAL}\n[webhook]\nlisten = \"[::]:8787\"\nsecret_file = \"pinpoint_webhook_secret\""
        );
        let c = Config::parse(Path::new("c"), &text, &s).unwrap();
        assert_eq!(
            c.webhook.unwrap().secret.unwrap().expose_secret(),
            "whsec-file"
        );
        let e = Config::parse(
            Path::new("c"),
            &text.replace("pinpoint_webhook_secret", "absent"),
            &s,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("webhook.secret_file"), "{e}");
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let c = parse(MINIMAL).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("tok\""), "{shown}");
        assert!(!shown.contains("\"pk\""), "{shown}");
    }
}

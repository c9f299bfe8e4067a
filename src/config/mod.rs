//! Typed configuration: the TOML file plus secrets from the environment or files.
//!
//! Owns parsing and validation, so that every other module receives values that are already
//! known to be good. Every error names the offending key and says what to write instead.
//! Secrets never live in the file; they are wrapped in [`secrecy::SecretString`] from the moment they
//! are read, so they cannot leak through `Debug` or an error message.
//!
//! One file per concern: `file` is the file as written (serde structs, unknown keys refused
//! with their line), `values` how one value is written (durations, rates, URLs), `keys` every
//! key's name, default and rule written once, `secrets` where secrets come from, and the
//! sections' typed forms by what they are about: `services` (`[pinpoint]`, `[hibob]`,
//! `[http]`, `[report]`), `pass` (`[schedule]`, `[sync]`, `[retry]`, `[mapping]`),
//! `listeners` (`[webhook]`, `[plugin]`), `storage` (`[ledger]`, `[audit]`, `[backup]`) and
//! `notify` (`[notify]`: who is told when a hire needs a person).
//! This module assembles them and offers the entry points.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod file;
pub mod keys;
mod listeners;
pub mod notify;
mod pass;
mod secrets;
mod services;
mod storage;
mod values;

use file::{RawConfig, RawHibob, RawLedger, RawPinpoint, parse_raw};

pub use listeners::{ListenerLimits, PluginConfig, WebhookConfig};
/// `[notify]`'s webhook is `notify::WebhookConfig` (here `WebhookConfig` is the listener's).
pub use notify::{EmailConfig, NotifyConfig, SmtpSecurity, SmtpServer, WebhookFormat};
pub use pass::{DEFAULT_FULL_EVERY, HiredSince, RetryConfig, Schedule, SyncConfig, next_tick};
pub use secrets::SecretSources;
pub use services::{
    CvFolder, HibobConfig, HibobCredentials, HireApiConfig, HireFlow, HttpConfig, OnFormerEmployee,
    PinpointConfig, ReportLinks,
};
pub use storage::{AuditConfig, BackupConfig, LedgerConfig};
pub use values::RateLimit;

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
    /// `[report]`: the link patterns into Pinpoint and HiBob (the Hire API's document links
    /// each hire back to its Pinpoint application with the first).
    pub report_links: ReportLinks,
    /// `[notify]`: who is told when a hire needs a person; `None`: nothing is sent.
    pub notify: Option<NotifyConfig>,
    /// SHA-256 of the file's settings in a canonical form (keys sorted; comments, layout and
    /// secrets, which never live in the file, do not count), for the audit trail: with the
    /// version, which fixes every default, it names the effective configuration of a pass.
    pub digest: String,
}

/// The file's text, or an error saying how to point at another.
fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        path: path.to_owned(),
        cause,
    })
}

/// The file as written, checked for syntax and unknown keys only.
fn read_raw(path: &Path) -> Result<RawConfig, ConfigError> {
    parse_raw(path, &read_text(path)?)
}

impl Config {
    /// Reads and validates the file at `path`, taking secrets from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(path, &read_text(path)?, &SecretSources::for_config(path))
    }

    /// Only the ledger's path, for commands that read the ledger and need no credentials
    /// (`report`, `retry`). The whole file is still checked for syntax and unknown keys.
    pub fn ledger_path(path: &Path) -> Result<PathBuf, ConfigError> {
        Ok(read_raw(path)?.ledger.path)
    }

    /// `[schedule] full_every`, for `status`, which needs no credentials.
    pub fn full_every_of(path: &Path) -> Result<Duration, ConfigError> {
        keys::FULL_EVERY.read(read_raw(path)?.schedule.full_every.as_deref())
    }

    /// `[hibob] hr_reminder_after`, for `status`, which needs no credentials.
    pub fn hr_reminder_after_of(path: &Path) -> Result<Duration, ConfigError> {
        keys::HR_REMINDER_AFTER.read(read_raw(path)?.hibob.hr_reminder_after.as_deref())
    }

    /// `[notify]` and `[http] request_timeout` (a message's deadline), for `notify test`,
    /// which needs no API credentials. The whole file is still checked for syntax and
    /// unknown keys.
    pub fn notify_of(path: &Path) -> Result<(Option<NotifyConfig>, Duration), ConfigError> {
        let raw = read_raw(path)?;
        let timeout = keys::REQUEST_TIMEOUT.read(raw.http.request_timeout.as_deref())?;
        let notify = raw
            .notify
            .map(|n| notify::notify_config(n, &SecretSources::for_config(path)))
            .transpose()?;
        Ok((notify, timeout))
    }

    /// The ledger's path and the schedule, for `status`, which needs no credentials: the next
    /// poll is the last pass's start plus the schedule.
    pub fn ledger_and_schedule(path: &Path) -> Result<(PathBuf, Schedule), ConfigError> {
        let raw = read_raw(path)?;
        Ok((raw.ledger.path, pass::parse_schedule(raw.schedule)?))
    }

    /// The ledger's path and where the HTML report links each hire, for `report`, which needs
    /// no credentials.
    pub fn ledger_and_report_links(path: &Path) -> Result<(PathBuf, ReportLinks), ConfigError> {
        let raw = read_raw(path)?;
        let links = services::report_links(&raw.pinpoint.base_url, raw.report)?;
        Ok((raw.ledger.path, links))
    }

    /// The ledger's path, the audit settings and the report's links, for `audit` and
    /// `erase`, which need no API credentials.
    pub fn ledger_and_audit(
        path: &Path,
    ) -> Result<(PathBuf, AuditConfig, ReportLinks), ConfigError> {
        let raw = read_raw(path)?;
        let links = services::report_links(&raw.pinpoint.base_url, raw.report)?;
        let audit = storage::audit_config(raw.audit, &SecretSources::for_config(path))?;
        Ok((raw.ledger.path, audit, links))
    }

    /// What `backup` and `restore` need, which read no API credentials: the ledger's path,
    /// the audit settings (the signing key's file) and `[backup]`. The whole file is still
    /// checked for syntax and unknown keys.
    pub fn ledger_and_backup(
        path: &Path,
    ) -> Result<(PathBuf, AuditConfig, BackupConfig), ConfigError> {
        Self::ledger_and_backup_from(path, &read_text(path)?)
    }

    /// [`Config::ledger_and_backup`] from a file's text already read (a backup's copy).
    pub fn ledger_and_backup_from(
        path: &Path,
        text: &str,
    ) -> Result<(PathBuf, AuditConfig, BackupConfig), ConfigError> {
        let raw = parse_raw(path, text)?;
        storage::ledger_config(RawLedger {
            path: raw.ledger.path.clone(),
        })?;
        let audit = storage::audit_config(raw.audit, &SecretSources::for_config(path))?;
        Ok((raw.ledger.path, audit, storage::backup_config(raw.backup)?))
    }

    pub fn parse(path: &Path, text: &str, secrets: &SecretSources) -> Result<Self, ConfigError> {
        let mut config = Self::from_raw(parse_raw(path, text)?, secrets)?;
        config.digest = digest_of(text);
        Ok(config)
    }

    /// Section by section; the order decides which of several mistakes is named.
    fn from_raw(raw: RawConfig, secrets: &SecretSources) -> Result<Self, ConfigError> {
        let pinpoint_base_url = raw.pinpoint.base_url.clone();
        let pinpoint = services::pinpoint_config(raw.pinpoint, secrets)?;
        let hibob = services::hibob_config(raw.hibob, secrets)?;
        let ledger = storage::ledger_config(raw.ledger)?;
        let full_every = keys::FULL_EVERY.read(raw.schedule.full_every.as_deref())?;
        let schedule = pass::parse_schedule(raw.schedule)?;
        let http = services::http_config(raw.http)?;
        let sync = pass::sync_config(raw.sync)?;
        let retry = pass::retry_config(raw.retry)?;
        let mapping = pass::parse_mapping(raw.mapping, &hibob.site)?;
        let webhook = raw
            .webhook
            .map(|w| listeners::webhook_config(w, secrets))
            .transpose()?;
        let audit = storage::audit_config(raw.audit, secrets)?;
        let backup = storage::backup_config(raw.backup)?;
        let report_links = services::report_links(&pinpoint_base_url, raw.report)?;
        let notify = raw
            .notify
            .map(|n| notify::notify_config(n, secrets))
            .transpose()?;
        let plugin = match raw.plugin {
            Some(p) => {
                let limits = webhook.as_ref().map(|w| w.limits).unwrap_or_default();
                Some(listeners::plugin_config(
                    p,
                    secrets,
                    report_links.hibob_employee.clone(),
                    limits,
                )?)
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
            report_links,
            notify,
            digest: String::new(),
        })
    }

    /// A configuration for the built-in simulator: no file, no real credentials, generous
    /// limits (the simulator has none unless a test sets them); every other value is the
    /// file's default, read by the same parsers as a file that leaves every key out.
    pub fn simulated(
        pinpoint_base_url: &str,
        hibob_base_url: &str,
        pinpoint_api_key: &str,
        hibob_service_user: (&str, &str),
        ledger_path: &Path,
    ) -> Result<Self, ConfigError> {
        let file = RawConfig {
            pinpoint: RawPinpoint {
                base_url: pinpoint_base_url.to_owned(),
                ..RawPinpoint::default()
            },
            hibob: RawHibob {
                base_url: Some(hibob_base_url.to_owned()),
                site: "New York (Demo)".to_owned(),
                ..RawHibob::default()
            },
            ledger: RawLedger {
                path: ledger_path.to_owned(),
            },
            ..RawConfig::default()
        };
        let secrets = SecretSources {
            vars: [
                ("PINPOINT_API_KEY", pinpoint_api_key),
                ("HIBOB_SERVICE_USER_ID", hibob_service_user.0),
                ("HIBOB_SERVICE_USER_TOKEN", hibob_service_user.1),
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .into(),
            credentials_directory: None,
        };
        let mut config = Self::from_raw(file, &secrets)?;
        config.pinpoint.rate_limit = RateLimit::unlimited();
        config.hibob.rate_limit = RateLimit::unlimited();
        config.hibob.documents_rate_limit = RateLimit::unlimited();
        // The simulated hires are recent: a demo shows them being done.
        config.sync.hired_since = Some(HiredSince::Age(Duration::from_secs(30 * 86400)));
        config.digest = "simulated".to_owned();
        Ok(config)
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

#[cfg(test)]
mod tests;

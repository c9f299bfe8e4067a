//! The file as written: one struct per section, exactly the keys the file may hold (an
//! unknown key is a syntax error naming its line), every value still unchecked text or number.
//! The sections' parsers turn these into typed configuration; nothing here validates.
//! (`Default` is for building a file in code, as the simulator's configuration does: which
//! keys the file must give is serde's `Option` or not, never `Default`.)

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) pinpoint: RawPinpoint,
    pub(super) hibob: RawHibob,
    pub(super) ledger: RawLedger,
    #[serde(default)]
    pub(super) schedule: RawSchedule,
    #[serde(default)]
    pub(super) http: RawHttp,
    #[serde(default)]
    pub(super) retry: RawRetry,
    #[serde(default)]
    pub(super) sync: RawSync,
    #[serde(default)]
    pub(super) mapping: RawMapping,
    pub(super) webhook: Option<RawWebhook>,
    pub(super) plugin: Option<RawPlugin>,
    #[serde(default)]
    pub(super) report: RawReport,
    #[serde(default)]
    pub(super) audit: RawAudit,
    #[serde(default)]
    pub(super) backup: RawBackup,
    pub(super) notify: Option<RawNotify>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    pub(super) email_to: Option<Vec<String>>,
    pub(super) email_from: Option<String>,
    pub(super) smtp: Option<String>,
    pub(super) smtp_user: Option<String>,
    pub(super) smtp_password_file: Option<PathBuf>,
    pub(super) webhook_url: Option<String>,
    pub(super) webhook_format: Option<String>,
    pub(super) webhook_secret_file: Option<PathBuf>,
    pub(super) on: Option<Vec<String>>,
    pub(super) digest_at: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackup {
    pub(super) dir: Option<PathBuf>,
    pub(super) keep: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    pub(super) signing_key_file: Option<PathBuf>,
    pub(super) checkpoint_log: Option<PathBuf>,
    pub(super) retain_personal_data: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlugin {
    pub(super) listen: String,
    pub(super) key_file: Option<PathBuf>,
    pub(super) name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    pub(super) pinpoint_application_url: Option<String>,
    pub(super) hibob_employee_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMapping {
    pub(super) on_change: Option<String>,
    pub(super) allow_past_start_date: Option<bool>,
    #[serde(default)]
    pub(super) fields: std::collections::BTreeMap<String, RawField>,
}

/// A field is a template, or a table with a template and a lookup table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawField {
    Template(String),
    Table(RawFieldTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFieldTable {
    pub(super) template: String,
    #[serde(default)]
    pub(super) lookup: std::collections::BTreeMap<String, String>,
    /// This field's own drift mode, over `mapping.on_change`.
    pub(super) on_change: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    pub(super) listen: String,
    pub(super) secret_file: Option<PathBuf>,
    pub(super) allow_unsigned: Option<bool>,
    pub(super) header_timeout: Option<String>,
    pub(super) body_timeout: Option<String>,
    pub(super) idle_timeout: Option<String>,
    pub(super) max_connections: Option<i64>,
    pub(super) metrics_listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPinpoint {
    pub(super) base_url: String,
    pub(super) rate_limit: Option<String>,
    pub(super) page_size: Option<i64>,
    #[serde(default)]
    pub(super) hired_stage_ids: Vec<String>,
    pub(super) api_key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHibob {
    pub(super) base_url: Option<String>,
    pub(super) rate_limit: Option<String>,
    pub(super) documents_rate_limit: Option<String>,
    pub(super) site: String,
    pub(super) start_date_offset: Option<String>,
    pub(super) cv_folder: Option<String>,
    pub(super) on_former_employee: Option<String>,
    pub(super) read_lag: Option<String>,
    pub(super) search_batch_size: Option<i64>,
    pub(super) hire_flow: Option<String>,
    pub(super) hire_api_url: Option<String>,
    pub(super) hr_reminder_after: Option<String>,
    pub(super) service_user_id_file: Option<PathBuf>,
    pub(super) service_user_token_file: Option<PathBuf>,
    pub(super) base64_token_file: Option<PathBuf>,
    pub(super) hire_api_authorization_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLedger {
    pub(super) path: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub(super) every: Option<String>,
    pub(super) cron: Option<String>,
    pub(super) full_every: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) connect_timeout: Option<String>,
    pub(super) request_timeout: Option<String>,
    pub(super) read_retries: Option<i64>,
    pub(super) max_rate_limit_wait: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSync {
    pub(super) concurrency: Option<i64>,
    pub(super) hired_since: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetry {
    pub(super) initial: Option<String>,
    pub(super) max: Option<String>,
}

pub(super) fn parse_raw(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
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

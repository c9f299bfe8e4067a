//! How a pass runs: when (`[schedule]`), over which hires and how many at once (`[sync]`),
//! how a failed hire is retried (`[retry]`) and what a new employee gets (`[mapping]`).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::file::{RawField, RawMapping, RawRetry, RawSchedule, RawSync};
use super::{ConfigError, invalid, keys};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Every(Duration),
    Cron(String),
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Every(keys::EVERY.default)
    }
}

/// `[schedule] full_every` when the file leaves it out.
pub const DEFAULT_FULL_EVERY: Duration = keys::FULL_EVERY.default;

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
            concurrency: keys::CONCURRENCY.default,
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
            initial: keys::RETRY_INITIAL.default,
            max: keys::RETRY_MAX.default,
        }
    }
}

pub(super) fn parse_schedule(raw: RawSchedule) -> Result<Schedule, ConfigError> {
    match (raw.every, raw.cron) {
        (Some(_), Some(_)) => Err(invalid(
            "schedule",
            "set either `every` or `cron`, not both",
        )),
        (None, Some(cron)) => {
            validate_cron(&cron)?;
            Ok(Schedule::Cron(cron))
        }
        (every, None) => Ok(Schedule::Every(keys::EVERY.read(every.as_deref())?)),
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

pub(super) fn sync_config(raw: RawSync) -> Result<SyncConfig, ConfigError> {
    let concurrency = keys::CONCURRENCY.read(raw.concurrency)?;
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

pub(super) fn retry_config(raw: RawRetry) -> Result<RetryConfig, ConfigError> {
    let retry = RetryConfig {
        initial: keys::RETRY_INITIAL.read(raw.initial.as_deref())?,
        max: keys::RETRY_MAX.read(raw.max.as_deref())?,
    };
    if retry.max < retry.initial {
        return Err(invalid(
            "retry.max",
            "is shorter than retry.initial; the cap must be at least the first delay",
        ));
    }
    Ok(retry)
}

pub(super) fn parse_mapping(
    raw: RawMapping,
    site: &str,
) -> Result<crate::mapping::Mapping, ConfigError> {
    use crate::mapping::Mapping;
    let on_change = keys::ON_CHANGE.read(raw.on_change.as_deref())?;
    let rules = raw
        .fields
        .into_iter()
        .map(|(field, spec)| field_rule(field, spec))
        .collect::<Result<Vec<_>, ConfigError>>()?;
    Mapping::new(
        rules,
        on_change,
        keys::ALLOW_PAST_START_DATE.read(raw.allow_past_start_date),
        site,
    )
    .map_err(|e| ConfigError::Invalid {
        key: e.key,
        message: e.message,
    })
}

/// One `[mapping.fields]` entry: a template, or a table with a lookup and its own drift mode.
fn field_rule(field: String, spec: RawField) -> Result<crate::mapping::FieldRule, ConfigError> {
    use crate::mapping::FieldRule;
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
                .map(|v| {
                    keys::ON_CHANGE.parse_as(&format!("mapping.fields.\"{field}\".on_change"), v)
                })
                .transpose()?,
            field,
            template: t.template,
            lookup: t.lookup,
        },
    })
}

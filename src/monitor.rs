//! What the daemon tells monitoring: whether polling keeps up (`/healthz`) and metrics in
//! Prometheus's text format (`/metrics`).
//!
//! Owns the metric names, their help texts and the staleness rule. It serves nothing (the
//! listener in `webhook.rs` does) and reads no ledger: the ledger's counts and the clients'
//! request counters are handed in at each scrape, so they are always current and never
//! counted twice.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::config::{Schedule, next_tick};
use crate::hire::HireStatus;
use crate::http::{EndpointCounts, EndpointKey};

/// The content type of [`Monitor::render_metrics`]'s text.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How many schedule intervals may pass without a successful poll before `/healthz` fails.
pub const STALE_AFTER_INTERVALS: u32 = 3;

/// `/healthz`'s answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HealthView {
    /// `ok`, or `stale` when no poll has succeeded for three schedule intervals.
    pub status: &'static str,
    pub last_successful_poll: Option<String>,
    /// Seconds between two scheduled polls (for a cron schedule, between its next two ticks).
    pub poll_interval_seconds: u64,
    /// When the check fails if no poll succeeds before then.
    pub stale_after: Option<String>,
    /// Hires in the ledger by status, or why they could not be counted.
    pub ledger: LedgerView,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum LedgerView {
    Counts(std::collections::BTreeMap<&'static str, u64>),
    Error { error: String },
}

impl HealthView {
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

#[derive(Debug)]
struct PollState {
    schedule: Schedule,
    /// Counts as the last success until the first poll has finished, so a daemon that never
    /// manages one turns stale too.
    started: DateTime<Utc>,
    last_success: Option<DateTime<Utc>>,
}

/// Values read at scrape time; see [`ScrapeCollector`].
#[derive(Debug, Default)]
struct Scrape {
    hires: Vec<(HireStatus, u64)>,
    api: Vec<(EndpointKey, EndpointCounts)>,
    contract: Option<crate::contract::ContractReport>,
}

/// Encodes the values handed to [`Monitor::render_metrics`] for the scrape in progress.
#[derive(Debug, Default)]
struct ScrapeCollector {
    current: Mutex<Scrape>,
}

fn rate_limited(counts: &EndpointCounts) -> u64 {
    counts.by_status.get(&429).copied().unwrap_or(0)
}

impl Collector for ScrapeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let scrape = self.current.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut hires = encoder.encode_descriptor(
                "hirebridge_hires",
                "Hires in the ledger, by status.",
                None,
                MetricType::Gauge,
            )?;
            for status in HireStatus::ALL {
                let n = scrape
                    .hires
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map_or(0, |(_, n)| *n);
                let labels = [("status", status.as_str())];
                ConstGauge::new(n as i64).encode(hires.encode_family(&labels)?)?;
            }
        }
        {
            let mut requests = encoder.encode_descriptor(
                "hirebridge_api_requests",
                "Requests sent to Pinpoint and HiBob, by endpoint and the status they were answered with (0: no answer).",
                None,
                MetricType::Counter,
            )?;
            for (key, counts) in &scrape.api {
                for (status, n) in &counts.by_status {
                    let labels = [
                        ("api", key.api.label().to_owned()),
                        ("endpoint", key.endpoint.to_owned()),
                        ("status", status.to_string()),
                    ];
                    ConstCounter::new(*n).encode(requests.encode_family(&labels)?)?;
                }
            }
        }
        for (name, help, value) in [
            (
                "hirebridge_api_rate_limited",
                "Requests answered 429 (rate limited), by endpoint.",
                rate_limited as fn(&EndpointCounts) -> u64,
            ),
            (
                "hirebridge_api_retries",
                "Requests retried in place (after a 429, or a failed read), by endpoint.",
                |c: &EndpointCounts| c.retries,
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (key, counts) in &scrape.api {
                let labels = [
                    ("api", key.api.label().to_owned()),
                    ("endpoint", key.endpoint.to_owned()),
                ];
                ConstCounter::new(value(counts)).encode(family.encode_family(&labels)?)?;
            }
        }
        encode_contract(scrape.contract.as_ref(), &mut encoder)
    }
}

/// The last API contract check: when, each assumption's verdict, and whether writes stop.
fn encode_contract(
    report: Option<&crate::contract::ContractReport>,
    encoder: &mut DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    let checked_at = report.map_or(0.0, |r| r.checked_at.timestamp_millis() as f64 / 1000.0);
    ConstGauge::new(checked_at).encode(encoder.encode_descriptor(
        "hirebridge_contract_checked_timestamp_seconds",
        "When the API contract was last checked (Unix seconds; 0: never).",
        None,
        MetricType::Gauge,
    )?)?;
    let stopped = report.is_some_and(|r| !r.stopping().is_empty());
    ConstGauge::new(i64::from(stopped)).encode(encoder.encode_descriptor(
        "hirebridge_writes_stopped",
        "1 while an assumption writes depend on fails: nothing is written (`hirebridge status` says why).",
        None,
        MetricType::Gauge,
    )?)?;
    let mut family = encoder.encode_descriptor(
        "hirebridge_contract_assumption",
        "The last contract check's verdict per assumption (1 for its outcome: holds, broken, unproven, unchecked).",
        None,
        MetricType::Gauge,
    )?;
    for finding in report.iter().flat_map(|r| &r.findings) {
        let outcome = match finding.outcome {
            crate::contract::Outcome::Holds => "holds",
            crate::contract::Outcome::Broken => "broken",
            crate::contract::Outcome::Unproven => "unproven",
            crate::contract::Outcome::Unchecked => "unchecked",
        };
        let labels = [
            ("assumption", finding.assumption.clone()),
            ("outcome", outcome.to_owned()),
        ];
        ConstGauge::new(1).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, prometheus_client::encoding::EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, prometheus_client::encoding::EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, prometheus_client::encoding::EncodeLabelSet)]
struct ConnectionLabel {
    listener: &'static str,
    event: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, prometheus_client::encoding::EncodeLabelSet)]
struct NotificationLabel {
    channel: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, prometheus_client::encoding::EncodeLabelSet)]
struct ListenerLabel {
    listener: &'static str,
}

/// The daemon's poll health and metrics, shared by the scheduling loop, the nudge workers
/// and the listener.
#[derive(Debug)]
pub struct Monitor {
    poll: Mutex<PollState>,
    registry: Registry,
    scrape: Arc<ScrapeCollector>,
    /// One render at a time: a scrape's values must not mix with another's.
    rendering: Mutex<()>,
    poll_duration: Histogram,
    last_success_seconds: Gauge<f64, AtomicU64>,
    nudges: Family<OutcomeLabel, Counter>,
    webhook_requests: Family<ResultLabel, Counter>,
    plugin_submits: Family<ResultLabel, Counter>,
    connections: Family<ConnectionLabel, Counter>,
    open_connections: Family<ListenerLabel, Gauge>,
    notifications: Family<NotificationLabel, Counter>,
}

impl Monitor {
    pub fn new(schedule: Schedule, started: DateTime<Utc>) -> Self {
        let mut registry = Registry::default();
        let poll_duration = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.25, 2.0, 16),
        );
        registry.register_with_unit(
            "hirebridge_poll_duration",
            "How long each scheduled poll (a listing pass) took",
            prometheus_client::registry::Unit::Seconds,
            poll_duration.clone(),
        );
        let last_success_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "hirebridge_last_successful_poll_timestamp_seconds",
            "When the last poll that read the whole listing finished, in Unix seconds (0: none yet)",
            last_success_seconds.clone(),
        );
        let nudges = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "hirebridge_webhook_nudges",
            "Queued webhook nudges, by what reconciling the application came to",
            nudges.clone(),
        );
        let webhook_requests = Family::<ResultLabel, Counter>::default();
        registry.register(
            "hirebridge_webhook_requests",
            "Webhook deliveries, by how the listener answered them",
            webhook_requests.clone(),
        );
        let plugin_submits = Family::<ResultLabel, Counter>::default();
        registry.register(
            "hirebridge_plugin_submits",
            "Submits of Pinpoint's \"Send to HiBob\" plugin action, by how they were answered: created, replayed, already_done, pending, refused (not hired, HiBob said no), invalid (a field error), unauthorized, malformed",
            plugin_submits.clone(),
        );
        let connections = Family::<ConnectionLabel, Counter>::default();
        registry.register(
            "hirebridge_listener_connections",
            "Connections to a listener (webhook, metrics), by what became of them: accepted, refused (over webhook.max_connections) or timed_out (too slow: header, body or idle timeout)",
            connections.clone(),
        );
        let open_connections = Family::<ListenerLabel, Gauge>::default();
        registry.register(
            "hirebridge_listener_open_connections",
            "Connections open on a listener now",
            open_connections.clone(),
        );
        let notifications = Family::<NotificationLabel, Counter>::default();
        registry.register(
            "hirebridge_notifications",
            "Notifications (`[notify]`) by channel (email, webhook) and result: sent, failed (tried again later) or dropped (after a day of failures)",
            notifications.clone(),
        );
        let scrape = Arc::new(ScrapeCollector::default());
        registry.register_collector(Box::new(scrape.clone()));
        Self {
            poll: Mutex::new(PollState {
                schedule,
                started,
                last_success: None,
            }),
            registry,
            scrape,
            rendering: Mutex::new(()),
            poll_duration,
            last_success_seconds,
            nudges,
            webhook_requests,
            plugin_submits,
            connections,
            open_connections,
            notifications,
        }
    }

    /// A notification to `channel` ended `result` (`sent`, `failed`, `dropped`).
    pub fn notification(&self, channel: &'static str, result: &'static str) {
        self.notifications
            .get_or_create(&NotificationLabel { channel, result })
            .inc();
    }

    /// A connection to `listener` was `accepted`, `refused` or `timed_out`.
    pub fn connection(&self, listener: &'static str, event: &'static str) {
        self.connections
            .get_or_create(&ConnectionLabel { listener, event })
            .inc();
    }

    /// Connections open on `listener` changed by `delta`.
    pub fn connections_open(&self, listener: &'static str, delta: i64) {
        self.open_connections
            .get_or_create(&ListenerLabel { listener })
            .inc_by(delta);
    }

    fn poll_state(&self) -> std::sync::MutexGuard<'_, PollState> {
        self.poll.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After a config reload: staleness is judged on the new schedule.
    pub fn set_schedule(&self, schedule: Schedule) {
        self.poll_state().schedule = schedule;
    }

    /// A scheduled poll ended; `complete` when it read the whole listing.
    pub fn poll_finished(&self, took: Duration, complete: bool, now: DateTime<Utc>) {
        self.poll_duration.observe(took.as_secs_f64());
        if complete {
            self.poll_state().last_success = Some(now);
            self.last_success_seconds
                .set(now.timestamp_millis() as f64 / 1000.0);
        }
    }

    /// What a queued nudge came to (`done`, `settled`, `not_found`, …).
    pub fn nudge(&self, outcome: &'static str) {
        self.nudges.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// How the listener answered one delivery (`queued`, `unauthorized`, `malformed`, …).
    pub fn webhook_request(&self, result: &'static str) {
        self.webhook_requests
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// How the plugin answered one submit (`created`, `replayed`, `invalid`, …).
    pub fn plugin_submit(&self, result: &'static str) {
        self.plugin_submits
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// How many requests the listener answered with `result` so far.
    pub fn webhook_requests(&self, result: &'static str) -> u64 {
        self.webhook_requests
            .get(&ResultLabel { result })
            .map_or(0, |c| c.get())
    }

    /// The interval staleness is measured in: `every`, or the gap between the cron
    /// expression's next two ticks after `from`.
    fn interval(schedule: &Schedule, from: DateTime<Utc>) -> Duration {
        match schedule {
            Schedule::Every(every) => *every,
            Schedule::Cron(_) => next_tick(schedule, from)
                .and_then(|a| Some((a, next_tick(schedule, a)?)))
                .and_then(|(a, b)| (b - a).to_std().ok())
                .unwrap_or(Duration::from_secs(3600)),
        }
    }

    /// `/healthz`: ok while a poll has succeeded within three intervals.
    pub fn health(
        &self,
        now: DateTime<Utc>,
        hires: Result<Vec<(HireStatus, u64)>, String>,
    ) -> HealthView {
        let poll = self.poll_state();
        let since = poll.last_success.unwrap_or(poll.started);
        let interval = Self::interval(&poll.schedule, since);
        let stale_at = chrono::Duration::from_std(interval * STALE_AFTER_INTERVALS)
            .ok()
            .map(|d| since + d);
        let stale = stale_at.is_some_and(|at| now > at);
        let when = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        HealthView {
            status: if stale { "stale" } else { "ok" },
            last_successful_poll: poll.last_success.map(when),
            poll_interval_seconds: interval.as_secs(),
            stale_after: stale_at.map(when),
            ledger: match hires {
                Ok(counts) => LedgerView::Counts(
                    HireStatus::ALL
                        .iter()
                        .map(|s| {
                            let n = counts.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n);
                            (s.as_str(), n)
                        })
                        .collect(),
                ),
                Err(error) => LedgerView::Error { error },
            },
        }
    }

    /// `/metrics`: everything in Prometheus's text format, with the ledger's counts and the
    /// clients' request counters as they are now.
    pub fn render_metrics(
        &self,
        hires: Vec<(HireStatus, u64)>,
        api: Vec<(EndpointKey, EndpointCounts)>,
        contract: Option<crate::contract::ContractReport>,
    ) -> String {
        let _one_at_a_time = self.rendering.lock().unwrap_or_else(|e| e.into_inner());
        *self
            .scrape
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Scrape {
            hires,
            api,
            contract,
        };
        let mut text = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        {
            tracing::warn!(error = %e, "cannot render the metrics");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Api;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn health_turns_stale_three_intervals_after_the_last_successful_poll() {
        let start = at("2026-11-02T10:00:00Z");
        let monitor = Monitor::new(Schedule::Every(Duration::from_secs(60)), start);
        let ok = monitor.health(start + chrono::Duration::seconds(179), Ok(vec![]));
        assert!(ok.is_ok(), "{ok:?}");
        let stale = monitor.health(start + chrono::Duration::seconds(181), Ok(vec![]));
        assert!(!stale.is_ok(), "no poll ever succeeded: {stale:?}");

        monitor.poll_finished(
            Duration::from_secs(2),
            true,
            start + chrono::Duration::seconds(200),
        );
        assert!(
            monitor
                .health(start + chrono::Duration::seconds(379), Ok(vec![]))
                .is_ok()
        );
        // A poll that could not read the listing does not count.
        monitor.poll_finished(
            Duration::from_secs(1),
            false,
            start + chrono::Duration::seconds(300),
        );
        assert!(
            !monitor
                .health(start + chrono::Duration::seconds(381), Ok(vec![]))
                .is_ok()
        );
    }

    #[test]
    fn a_cron_schedule_is_judged_by_the_gap_between_its_ticks() {
        let start = at("2026-11-02T10:00:30Z");
        let monitor = Monitor::new(Schedule::Cron("0 */10 * * * *".into()), start);
        let view = monitor.health(start, Ok(vec![]));
        assert_eq!(view.poll_interval_seconds, 600);
        assert!(
            monitor
                .health(start + chrono::Duration::minutes(29), Ok(vec![]))
                .is_ok()
        );
        assert!(
            !monitor
                .health(start + chrono::Duration::minutes(31), Ok(vec![]))
                .is_ok()
        );
    }

    #[test]
    fn metrics_carry_the_values_handed_in_at_scrape_time() {
        let monitor = Monitor::new(Schedule::Every(Duration::from_secs(60)), Utc::now());
        monitor.nudge("done");
        monitor.webhook_request("queued");
        monitor.notification("email", "sent");
        monitor.notification("webhook", "failed");
        let mut counts = EndpointCounts::default();
        counts.by_status.insert(201, 3);
        counts.by_status.insert(429, 1);
        counts.retries = 1;
        let text = monitor.render_metrics(
            vec![(HireStatus::Done, 7)],
            vec![(
                EndpointKey {
                    api: Api::Hibob,
                    endpoint: "POST /people",
                },
                counts,
            )],
            Some(crate::contract::ContractReport {
                checked_at: at("2026-11-02T10:00:00Z"),
                asked: String::new(),
                findings: vec![crate::contract::Finding {
                    assumption: "pinpoint.stage_filter".into(),
                    outcome: crate::contract::Outcome::Broken,
                    seen: "ignored".into(),
                    fix: None,
                    stops_writes: true,
                }],
            }),
        );
        for line in [
            "hirebridge_contract_checked_timestamp_seconds 1793613600.0",
            "hirebridge_writes_stopped 1",
            "hirebridge_contract_assumption{assumption=\"pinpoint.stage_filter\",outcome=\"broken\"} 1",
            "hirebridge_hires{status=\"done\"} 7",
            "hirebridge_hires{status=\"pending\"} 0",
            "hirebridge_api_requests_total{api=\"hibob\",endpoint=\"POST /people\",status=\"201\"} 3",
            "hirebridge_api_rate_limited_total{api=\"hibob\",endpoint=\"POST /people\"} 1",
            "hirebridge_api_retries_total{api=\"hibob\",endpoint=\"POST /people\"} 1",
            "hirebridge_webhook_nudges_total{outcome=\"done\"} 1",
            "hirebridge_webhook_requests_total{result=\"queued\"} 1",
            "hirebridge_notifications_total{channel=\"email\",result=\"sent\"} 1",
            "hirebridge_notifications_total{channel=\"webhook\",result=\"failed\"} 1",
            "hirebridge_hires{status=\"waiting_for_hr\"} 0",
            "hirebridge_last_successful_poll_timestamp_seconds 0.0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            text.contains("hirebridge_poll_duration_seconds_count 0"),
            "{text}"
        );
    }
}

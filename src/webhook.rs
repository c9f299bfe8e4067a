//! The optional HTTP listener: Pinpoint's webhooks (`POST /webhooks/pinpoint`), `/healthz`
//! and `/metrics`.
//!
//! Owns HTTP only: verify the signature, parse the event, enqueue the application id on the
//! [`NudgeQueue`], answer. It never does the work in the request — Pinpoint gives up after
//! 5 seconds and disables endpoints that keep failing, so every answer takes milliseconds
//! however slow HiBob is — and it has no SQL (health and metrics get the ledger's counts
//! through the [`Nudger`]). The signing secret never reaches a log or an answer.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::monitor::{METRICS_CONTENT_TYPE, Monitor};
use crate::nudge_queue::{NudgeQueue, Pushed};
use crate::reconcile::Nudger;

/// Where Pinpoint delivers its webhooks.
pub const WEBHOOK_PATH: &str = "/webhooks/pinpoint";
/// The header carrying Base64(HMAC-SHA256(raw body, signing secret)).
pub const SIGNATURE_HEADER: &str = "pinpoint-hmac-sha256";
/// The largest body accepted; Pinpoint's events are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The events that lead to a look at one application. `application_hired` is the one meant
/// for this; Pinpoint's webhook settings also offer "Application stage changed", and a tenant
/// that subscribed to that one instead must not lose its nudges. Either way the nudge reads
/// the application and acts only if it is in a hired stage.
pub const NUDGE_EVENTS: [&str; 2] = ["application_hired", "application_stage_changed"];

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(
        "cannot listen on {addr} ({key}): {source}; choose a free port or stop whatever holds it"
    )]
    Bind {
        key: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("the webhook listener stopped: {0}")]
    Serve(std::io::Error),
}

/// The signing secret, replaceable on a config reload while the listener runs.
#[derive(Debug, Clone, Default)]
pub struct SigningSecret(Arc<RwLock<Option<SecretString>>>);

impl SigningSecret {
    pub fn new(secret: Option<SecretString>) -> Self {
        Self(Arc::new(RwLock::new(secret)))
    }

    pub fn replace(&self, secret: Option<SecretString>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = secret;
    }

    /// [`authenticate`] with the secret in force now.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Delivery, DeliveryError> {
        let guard = self.0.read().unwrap_or_else(|e| e.into_inner());
        authenticate(headers, body, guard.as_ref())
    }
}

/// Whether `signature` (the header's value) is the HMAC of `body`. Compared in constant time.
fn signature_matches(secret: &SecretString, body: &[u8], signature: Option<&str>) -> bool {
    let Some(given) = signature.and_then(|s| {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .ok()
    }) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes())
    else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// Base64(HMAC-SHA256(body, secret)): what Pinpoint sends in `PINPOINT-HMAC-SHA256`. For
/// tests and benchmarks that play Pinpoint.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// What the listener's handlers share.
#[derive(Clone)]
pub struct ListenerState {
    pub secret: SigningSecret,
    pub queue: Arc<NudgeQueue>,
    pub monitor: Arc<Monitor>,
    pub nudger: watch::Receiver<Nudger>,
}

/// The webhook port: the webhook, plus `/healthz` and `/metrics` unless those have an address
/// of their own (`webhook.metrics_listen`).
pub fn router(state: ListenerState, with_monitoring: bool) -> Router {
    let webhook = Router::new().route(
        WEBHOOK_PATH,
        post(receive).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    );
    let router = if with_monitoring {
        webhook.merge(monitoring_routes())
    } else {
        webhook
    };
    router.with_state(state)
}

/// `webhook.metrics_listen`'s port: `/healthz` and `/metrics` only.
pub fn monitoring_router(state: ListenerState) -> Router {
    monitoring_routes().with_state(state)
}

fn monitoring_routes() -> Router<ListenerState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// Binds a listener's socket (before the daemon reports ready, so a taken port fails the
/// start with a clear error naming `key`).
pub async fn bind(
    key: &'static str,
    addr: std::net::SocketAddr,
) -> Result<tokio::net::TcpListener, WebhookError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| WebhookError::Bind { key, addr, source })
}

/// Serves the webhook port (and the monitoring port, when configured) until `shutdown`, under
/// the configured timeouts and connection budget ([`crate::listener`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    monitoring: Option<tokio::net::TcpListener>,
    state: ListenerState,
    limits: crate::config::ListenerLimits,
    shutdown: CancellationToken,
) {
    let monitor = state.monitor.clone();
    let webhook = crate::listener::serve(
        "webhook",
        listener,
        router(state.clone(), monitoring.is_none()),
        limits,
        monitor.clone(),
        shutdown.clone(),
    );
    match monitoring {
        None => webhook.await,
        Some(monitoring) => {
            let metrics = crate::listener::serve(
                "metrics",
                monitoring,
                monitoring_router(state),
                limits,
                monitor,
                shutdown,
            );
            tokio::join!(webhook, metrics);
        }
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn refuse(
    state: &ListenerState,
    status: StatusCode,
    result: &'static str,
    error: &str,
) -> Response {
    state.monitor.webhook_request(result);
    // A peer hammering the port with bad deliveries must not also flood the journal: one
    // warning per interval, the rest at debug (every refusal is counted in /metrics).
    if REFUSAL_LOG.due() {
        tracing::warn!(
            status = status.as_u16(),
            result,
            "webhook refused: {error} (further refusals within {}s are logged at debug; all are counted in hirebridge_webhook_requests_total)",
            REFUSAL_LOG_INTERVAL.as_secs()
        );
    } else {
        tracing::debug!(status = status.as_u16(), result, "webhook refused: {error}");
    }
    answer(status, json!({ "error": error }))
}

const REFUSAL_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// When a refusal was last logged as a warning.
static REFUSAL_LOG: LogThrottle = LogThrottle::new();

/// At most one "yes" per [`REFUSAL_LOG_INTERVAL`].
struct LogThrottle {
    last_ms: std::sync::atomic::AtomicU64,
}

impl LogThrottle {
    const fn new() -> Self {
        Self {
            last_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn due(&self) -> bool {
        use std::sync::atomic::Ordering;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let last = self.last_ms.load(Ordering::Relaxed);
        now.saturating_sub(last) >= REFUSAL_LOG_INTERVAL.as_millis() as u64
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// An application id as Pinpoint sends it (an integer, or a string of one), kept to what an
/// id can look like, so a forged one cannot fill logs or the queue with junk.
fn application_id(doc: &Value) -> Option<String> {
    let id = crate::pinpoint::model::id_of(doc.pointer("/data/application/id")?)?;
    let plausible = id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    plausible.then_some(id)
}

/// What a verified, parsed delivery asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Look at this application (one of [`NUDGE_EVENTS`]).
    Nudge { application: String, event: String },
    /// Another event: acknowledged and dropped.
    Ignored { event: String },
}

/// Why a delivery was refused; its text is the answer's `error` and names no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("an unsigned event must be sent as Content-Type: application/json")]
    UnsupportedMediaType,
    #[error(
        "the PINPOINT-HMAC-SHA256 signature is missing or does not match the body; check the signing secret"
    )]
    Unauthorized,
    #[error("the body is not JSON ({0})")]
    NotJson(String),
    #[error("the body is JSON but not an object")]
    NotAnObject,
    #[error("the body has no `event`")]
    NoEvent,
    #[error("`data.application.id` is missing or is not an application id")]
    NoApplicationId,
}

impl DeliveryError {
    pub fn status(&self) -> StatusCode {
        match self {
            DeliveryError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            DeliveryError::Unauthorized => StatusCode::UNAUTHORIZED,
            DeliveryError::NotJson(_)
            | DeliveryError::NotAnObject
            | DeliveryError::NoEvent
            | DeliveryError::NoApplicationId => StatusCode::BAD_REQUEST,
        }
    }

    /// The `result` label of `hirebridge_webhook_requests_total`.
    pub fn result(&self) -> &'static str {
        match self {
            DeliveryError::UnsupportedMediaType => "unsupported_media_type",
            DeliveryError::Unauthorized => "unauthorized",
            _ => "malformed",
        }
    }
}

/// Verifies and parses one delivery: the signature over the raw body, and only then the JSON.
/// A signed delivery is accepted whatever its Content-Type (Pinpoint does not document the
/// one it sends, and a refusal makes it retry and eventually disable the endpoint); an
/// unsigned one (no secret configured) must say it is JSON. Pure, so every hostile input can
/// be tried without a socket; nothing is parsed before the signature holds.
pub fn authenticate(
    headers: &HeaderMap,
    body: &[u8],
    secret: Option<&SecretString>,
) -> Result<Delivery, DeliveryError> {
    match secret {
        Some(secret) => {
            let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
            if !signature_matches(secret, body, signature) {
                return Err(DeliveryError::Unauthorized);
            }
        }
        None if !is_json(headers) => return Err(DeliveryError::UnsupportedMediaType),
        None => {}
    }
    let doc: Value = match serde_json::from_slice(body) {
        Ok(doc @ Value::Object(_)) => doc,
        Ok(_) => return Err(DeliveryError::NotAnObject),
        Err(e) => return Err(DeliveryError::NotJson(e.to_string())),
    };
    let event = doc
        .get("event")
        .and_then(Value::as_str)
        .ok_or(DeliveryError::NoEvent)?
        .to_owned();
    if !NUDGE_EVENTS.contains(&event.as_str()) {
        return Ok(Delivery::Ignored { event });
    }
    let application = application_id(&doc).ok_or(DeliveryError::NoApplicationId)?;
    Ok(Delivery::Nudge { application, event })
}

async fn receive(
    State(state): State<ListenerState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let result = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "unreadable"
            };
            return refuse(
                &state,
                status,
                result,
                &format!("the body could not be read: {}", rejection.body_text()),
            );
        }
    };
    let delivery = state.secret.authenticate(&headers, &body);
    let (application, event) = match delivery {
        Err(e) => return refuse(&state, e.status(), e.result(), &e.to_string()),
        Ok(Delivery::Ignored { event }) => {
            state.monitor.webhook_request("ignored");
            tracing::debug!(
                event,
                "webhook event ignored: only application_hired and application_stage_changed lead to work"
            );
            return answer(
                StatusCode::ACCEPTED,
                json!({ "status": "ignored", "event": event }),
            );
        }
        Ok(Delivery::Nudge { application, event }) => (application, event),
    };
    let id = application;
    let pushed = state.queue.push(&id);
    state.monitor.webhook_request(pushed.as_str());
    if pushed == Pushed::Full {
        tracing::warn!(
            application = %id,
            "the nudge queue is full; this hire waits for the scheduled poll"
        );
    } else {
        tracing::info!(application = %id, event, result = pushed.as_str(), "webhook nudge received");
    }
    answer(
        StatusCode::ACCEPTED,
        json!({ "status": pushed.as_str(), "application": id }),
    )
}

async fn healthz(State(state): State<ListenerState>) -> Response {
    let nudger = state.nudger.borrow().clone();
    let hires = nudger.hire_counts().map_err(|e| e.to_string());
    let view = state.monitor.health(chrono::Utc::now(), hires);
    let status = if view.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(view)).into_response()
}

async fn metrics(State(state): State<ListenerState>) -> Response {
    let nudger = state.nudger.borrow().clone();
    let hires = nudger.hire_counts().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot count the hires for /metrics");
        Vec::new()
    });
    let contract = nudger.contract_report().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the contract report for /metrics");
        None
    });
    let text = state
        .monitor
        .render_metrics(hires, nudger.api_requests(), contract);
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response()
}

#[cfg(test)]
mod tests {

    #[test]
    fn refusals_are_logged_as_warnings_at_most_once_an_interval() {
        let throttle = LogThrottle::new();
        assert!(throttle.due(), "the first refusal is a warning");
        assert!(!throttle.due(), "the next ones, soon after, are not");
        assert!(!throttle.due());
    }

    use super::*;

    #[test]
    fn a_signed_delivery_is_accepted_whatever_its_content_type_an_unsigned_one_must_be_json() {
        let secret = SecretString::from("s3cret".to_owned());
        let body = br#"{"event":"application_hired","data":{"application":{"id":8863880}}}"#;
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let signature = sign("s3cret", body);
        for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
            let mut pairs = vec![(SIGNATURE_HEADER, signature.as_str())];
            if !content_type.is_empty() {
                pairs.push(("content-type", content_type));
            }
            assert_eq!(
                authenticate(&headers(&pairs), body, Some(&secret)),
                Ok(Delivery::Nudge {
                    application: "8863880".into(),
                    event: "application_hired".into()
                }),
                "{content_type}"
            );
        }
        let plain = headers(&[("content-type", "text/plain")]);
        assert_eq!(
            authenticate(&plain, body, None),
            Err(DeliveryError::UnsupportedMediaType)
        );
        let json = headers(&[("content-type", "application/json")]);
        assert!(authenticate(&json, body, None).is_ok());
    }

    #[test]
    fn a_signature_verifies_only_for_its_body_and_secret() {
        let secret = SecretString::from("whsec".to_owned());
        let body = br#"{"event":"application_hired"}"#;
        let good = sign("whsec", body);
        assert!(signature_matches(&secret, body, Some(&good)));
        assert!(
            !signature_matches(&secret, b"{}", Some(&good)),
            "another body"
        );
        assert!(
            !signature_matches(&secret, body, Some(&sign("other", body))),
            "another secret"
        );
        assert!(!signature_matches(&secret, body, None), "missing");
        assert!(
            !signature_matches(&secret, body, Some("not base64!")),
            "garbage"
        );
        let mut json = HeaderMap::new();
        json.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(
            SigningSecret::new(None).authenticate(&json, body),
            Err(DeliveryError::NoApplicationId),
            "no secret configured: parsed without a signature"
        );
    }

    #[test]
    fn application_ids_are_integers_or_strings_of_one() {
        let id = |v: Value| application_id(&json!({"data": {"application": {"id": v}}}));
        assert_eq!(id(json!(8863880)).as_deref(), Some("8863880"));
        assert_eq!(id(json!("8863880")).as_deref(), Some("8863880"));
        assert_eq!(id(json!("../../etc")), None);
        assert_eq!(id(json!(null)), None);
        assert_eq!(id(json!("x".repeat(65))), None);
        assert_eq!(application_id(&json!({"data": {}})), None);
    }
}

//! The one HTTP client both API clients share: timeouts, user agent, the gates that pace
//! each endpoint class ([`gate`]), retries in place for what is safe to retry, counters, and
//! the classification of every failure by what the caller should do next.
//!
//! It knows which API it is talking to only to phrase errors (which credential, which
//! permission); it knows nothing of hires, the ledger or JSON:API documents.

pub mod clock;
pub mod gate;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};

pub use clock::{Clock, SystemClock, VirtualClock, WaitReason};
use gate::Ticket;
pub use gate::{AuthBreaker, Gate};

use crate::config::{HttpConfig, RateLimit};

/// How many times one request is retried in place after a 429 before the hire is left for a
/// later pass (each time after the wait the server asked for).
const RATE_LIMIT_RETRIES: u32 = 5;

pub const USER_AGENT: &str = concat!("hirebridge/", env!("CARGO_PKG_VERSION"));

/// The largest answer read into memory. A listing page of 1000 applications with its
/// included records is a few MB; anything far past that is an edge page, a runaway server or
/// a hostile one, and is refused before it can exhaust memory.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// The largest batched people search read whole (a batch of emails finds a few people). The
/// searches that may answer with everyone (the private-address read, the contract probe) are
/// streamed instead ([`HttpClient::send_streamed`]) and have no limit: memory stays flat
/// however many people a tenant has.
pub const MAX_DIRECTORY_BYTES: usize = 256 * 1024 * 1024;

/// Which remote system a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Api {
    Pinpoint,
    Hibob,
}

impl Api {
    /// The API's name as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Api::Pinpoint => "pinpoint",
            Api::Hibob => "hibob",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Api::Pinpoint => "Pinpoint",
            Api::Hibob => "HiBob",
        })
    }
}

/// Whether a request changes remote state: decides if an unknown outcome is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Read,
    Write,
}

/// Names one endpoint for errors and limits: `"POST /people"` plus what permission it needs.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub api: Api,
    pub name: &'static str,
    pub effect: Effect,
    /// What to grant when the API answers 403, in the operator's words.
    pub permission: &'static str,
    /// The largest answer read from it; more is refused unread (a flood, not an answer).
    pub max_answer_bytes: usize,
}

/// A failure, classed by what the caller does next.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// Nothing happened remotely (or it was a read): try again later.
    #[error("{api} {endpoint}: {reason}; will retry")]
    Retryable {
        api: Api,
        endpoint: &'static str,
        after: Option<Duration>,
        reason: String,
    },
    /// A write was sent but its outcome is unknown: check remotely before trying again.
    #[error("{api} {endpoint}: outcome unknown ({reason}); will look it up before trying again")]
    Ambiguous {
        api: Api,
        endpoint: &'static str,
        reason: String,
    },
    /// The API refused the data (400/422). Retrying the same data cannot help.
    #[error("{api} {endpoint} refused the data ({status}): {message}")]
    Invalid {
        api: Api,
        endpoint: &'static str,
        status: u16,
        key: Option<String>,
        message: String,
    },
    /// 401/403: stop calling this API until a person fixes the credential or permission.
    #[error("{api} {endpoint} answered {status}: {hint}")]
    Unauthorized {
        api: Api,
        endpoint: &'static str,
        status: u16,
        hint: String,
    },
    #[error("{api} {endpoint}: not found ({message})")]
    NotFound {
        api: Api,
        endpoint: &'static str,
        message: String,
    },
    /// Not sent: the pass stopped calling this API after it refused a credential.
    #[error("not sent to {api}: {reason}")]
    Halted { api: Api, reason: String },
}

impl ApiError {
    /// A 2xx answer whose body is not what the API documents (HTML from an edge proxy,
    /// truncated JSON, wrong types). After a write the effect may have happened.
    pub fn malformed(endpoint: &Endpoint, detail: impl fmt::Display) -> Self {
        let reason = format!("answered with a body that is not the expected JSON ({detail})");
        match endpoint.effect {
            Effect::Read => ApiError::Retryable {
                api: endpoint.api,
                endpoint: endpoint.name,
                after: None,
                reason,
            },
            Effect::Write => ApiError::Ambiguous {
                api: endpoint.api,
                endpoint: endpoint.name,
                reason,
            },
        }
    }

    /// The same error with `secret` (e.g. a pre-signed URL an API echoed back) cut out of
    /// its text, so it never reaches the ledger, a log or a report.
    pub fn redact(self, secret: &str) -> Self {
        let mut needles = vec![secret.to_owned()];
        if let Some((_, query)) = secret.split_once('?')
            && query.len() >= 8
        {
            needles.push(query.to_owned());
        }
        let scrub = |text: String| {
            needles
                .iter()
                .fold(text, |t, n| t.replace(n.as_str(), "[link removed]"))
        };
        match self {
            ApiError::Retryable {
                api,
                endpoint,
                after,
                reason,
            } => ApiError::Retryable {
                api,
                endpoint,
                after,
                reason: scrub(reason),
            },
            ApiError::Ambiguous {
                api,
                endpoint,
                reason,
            } => ApiError::Ambiguous {
                api,
                endpoint,
                reason: scrub(reason),
            },
            ApiError::Invalid {
                api,
                endpoint,
                status,
                key,
                message,
            } => ApiError::Invalid {
                api,
                endpoint,
                status,
                key,
                message: scrub(message),
            },
            ApiError::NotFound {
                api,
                endpoint,
                message,
            } => ApiError::NotFound {
                api,
                endpoint,
                message: scrub(message),
            },
            other @ (ApiError::Unauthorized { .. } | ApiError::Halted { .. }) => other,
        }
    }

    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ApiError::Unauthorized { .. })
    }
}

/// What one request is: its endpoint, the gate that paces it, and how its API phrases
/// errors.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub endpoint: &'a Endpoint,
    pub gate: &'a Gate,
    pub describe: fn(&[u8]) -> ErrorBody,
    pub unauthorized_hint: &'a str,
}

/// Why a streamed answer could not be read to its end.
#[derive(Debug)]
pub enum BodyError {
    /// The connection broke off (or timed out) mid-answer: a read to repeat later.
    Broken(String),
    /// The answer is not what the API documents.
    Malformed(String),
}

impl BodyError {
    /// A JSON reader's error: an I/O failure is the connection's, anything else the answer's.
    pub fn of_json(e: serde_json::Error) -> Self {
        if e.is_io() {
            BodyError::Broken(e.to_string())
        } else {
            BodyError::Malformed(e.to_string())
        }
    }

    fn into_api_error(self, endpoint: &Endpoint) -> ApiError {
        match self {
            BodyError::Broken(reason) => {
                tracing::debug!(endpoint = endpoint.name, %reason, "answer broke off");
                ApiError::Retryable {
                    api: endpoint.api,
                    endpoint: endpoint.name,
                    after: None,
                    reason: "connection broke while reading the answer".into(),
                }
            }
            BodyError::Malformed(e) => ApiError::malformed(endpoint, e),
        }
    }
}

/// A successful answer: read whole, or (streamed sends) with its body still unread.
enum Reply {
    Whole(Answer),
    Open(reqwest::Response),
}

/// A raw successful answer, for the typed client to parse.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: bytes::Bytes,
}

/// Requests sent, 429s received and retries made, for pass summaries and benchmarks; and the
/// same per endpoint and answer, for the daemon's metrics.
#[derive(Debug, Default)]
pub struct HttpStats {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
    by_endpoint: std::sync::Mutex<std::collections::HashMap<EndpointKey, EndpointCounts>>,
}

/// One endpoint of one API, as the metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointKey {
    pub api: Api,
    pub endpoint: &'static str,
}

/// What one endpoint has answered since the process started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointCounts {
    /// Requests by the status they were answered with; 0 when no answer came (timeout,
    /// connection failure).
    pub by_status: std::collections::BTreeMap<u16, u64>,
    pub retries: u64,
}

impl HttpStats {
    fn with_endpoint(&self, endpoint: &Endpoint, update: impl FnOnce(&mut EndpointCounts)) {
        let key = EndpointKey {
            api: endpoint.api,
            endpoint: endpoint.name,
        };
        let mut map = self.by_endpoint.lock().unwrap_or_else(|e| e.into_inner());
        update(map.entry(key).or_default());
    }

    fn answered(&self, endpoint: &Endpoint, status: u16) {
        self.with_endpoint(endpoint, |c| *c.by_status.entry(status).or_default() += 1);
    }

    fn retried(&self, endpoint: &Endpoint) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        self.with_endpoint(endpoint, |c| c.retries += 1);
    }
}

// What a pass counts of its requests is the vocabulary's; this client fills it in.
pub use crate::hire::pass::StatsSnapshot;

/// The shared reqwest client with hirebridge's timeouts, user agent, clock and counters.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
    clock: Arc<dyn Clock>,
    stats: Arc<HttpStats>,
    read_retries: u32,
    max_rate_limit_wait: Duration,
}

/// What a client needs to say about the error body of its API (the two APIs differ).
pub struct ErrorBody {
    pub key: Option<String>,
    pub message: String,
}

impl HttpClient {
    pub fn new(config: &HttpConfig) -> Result<Self, reqwest::Error> {
        Self::with_clock(config, Arc::new(SystemClock::default()))
    }

    /// The same client on another clock, so tests can observe waits without waiting.
    pub fn with_clock(config: &HttpConfig, clock: Arc<dyn Clock>) -> Result<Self, reqwest::Error> {
        let inner = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // A redirect could carry our credentials to another host; the APIs do not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            inner,
            clock,
            stats: Arc::default(),
            read_retries: config.read_retries,
            max_rate_limit_wait: config.max_rate_limit_wait,
        })
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// A gate for one endpoint class, on this client's clock.
    pub fn gate(
        &self,
        api: Api,
        name: &'static str,
        rate: RateLimit,
        auth: Arc<AuthBreaker>,
    ) -> Arc<Gate> {
        Arc::new(Gate::new(
            api,
            name,
            rate,
            self.clock.clone(),
            auth,
            self.max_rate_limit_wait,
        ))
    }

    pub fn stats(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.stats.requests.load(Ordering::Relaxed),
            rate_limited: self.stats.rate_limited.load(Ordering::Relaxed),
            retries: self.stats.retries.load(Ordering::Relaxed),
        }
    }

    /// Every endpoint's counts so far, in a stable order (for metrics).
    pub fn endpoint_stats(&self) -> Vec<(EndpointKey, EndpointCounts)> {
        let map = self
            .stats
            .by_endpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = map.iter().map(|(k, c)| (*k, c.clone())).collect();
        all.sort_by_key(|(k, _)| *k);
        all
    }

    /// This client, counting into `previous`'s counters: a client rebuilt on a config reload
    /// keeps the process's totals, which monitoring expects never to go down.
    pub fn keeping_stats_of(mut self, previous: &HttpClient) -> Self {
        self.stats = previous.stats.clone();
        self
    }

    /// Sends through `gate` and classifies the outcome. A 2xx comes back as an [`Answer`];
    /// everything else as an [`ApiError`]. Retried in place, because nothing happened
    /// remotely: a 429 (after the wait the server asked for, pausing the whole gate) and, for
    /// reads, timeouts, connection failures and 5xx. A write whose outcome is unknown is
    /// never retried here: the caller resolves it remotely first.
    pub async fn send(
        &self,
        endpoint: &Endpoint,
        gate: &Gate,
        request: RequestBuilder,
        describe: fn(&[u8]) -> ErrorBody,
        unauthorized_hint: &str,
    ) -> Result<Answer, ApiError> {
        let call = Call {
            endpoint,
            gate,
            describe,
            unauthorized_hint,
        };
        match self.send_for(&call, request, false).await? {
            Reply::Whole(answer) => Ok(answer),
            Reply::Open(_) => unreachable!("only a streamed send leaves the body unread"),
        }
    }

    /// Like [`Self::send`], but a 2xx answer's body is handed to `consume` as it arrives
    /// (on a blocking thread, through a synchronous reader), never held whole: an answer of
    /// any size is read in flat memory. A body that breaks off, or that `consume` refuses,
    /// is an error like any other (a read: retryable); it is not retried in place, because
    /// `consume` has already seen part of it.
    pub async fn send_streamed<T: Send + 'static>(
        &self,
        call: &Call<'_>,
        request: RequestBuilder,
        consume: impl FnOnce(&mut dyn std::io::Read) -> Result<T, BodyError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let response = match self.send_for(call, request, true).await? {
            Reply::Open(response) => response,
            Reply::Whole(answer) => {
                let mut body: &[u8] = &answer.body;
                return consume(&mut body).map_err(|e| e.into_api_error(call.endpoint));
            }
        };
        let endpoint = *call.endpoint;
        let chunks = futures_util::stream::unfold(response, |mut response| async move {
            match response.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), response)),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e)), response)),
            }
        });
        let reader = tokio_util::io::StreamReader::new(Box::pin(chunks));
        let read = tokio::task::spawn_blocking(move || {
            let mut bridge = std::io::BufReader::with_capacity(
                64 * 1024,
                tokio_util::io::SyncIoBridge::new(reader),
            );
            consume(&mut bridge)
        })
        .await;
        match read {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.into_api_error(&endpoint)),
            Err(e) => Err(ApiError::malformed(
                &endpoint,
                format!("the answer's reader ended abnormally: {e}"),
            )),
        }
    }

    /// One request, sent at most once: nothing is retried in place — not a connect failure,
    /// not a 429 — for a write that is not idempotent and whose outcome cannot be read back
    /// (a second send would be a second effect). A 2xx is `Ok` with its status, its body left
    /// unread (what it says does not matter, and a body that breaks off cannot undo the
    /// status). Anything else is classified as [`Self::send`] does: a connect failure, a 429
    /// (the gate pauses for everyone) or a gate that would not let it leave are
    /// [`ApiError::Retryable`] or [`ApiError::Halted`] with nothing sent; for a write, a
    /// timeout, a connection broken after sending, an unreadable answer, a 408 or a 5xx are
    /// [`ApiError::Ambiguous`]; 401/403 trip the gate's breaker.
    pub async fn send_once(
        &self,
        call: &Call<'_>,
        request: RequestBuilder,
    ) -> Result<StatusCode, ApiError> {
        let endpoint = call.endpoint;
        let ticket = call.gate.acquire().await?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                ticket.answered(0, &HeaderMap::new(), None);
                self.stats.answered(endpoint, 0);
                return Err(transport_error(endpoint, &e));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        self.stats.answered(endpoint, status.as_u16());
        if status.is_success() {
            ticket.answered(status.as_u16(), &headers, None);
            return Ok(status);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let wait = wait_hint(&headers, self.clock.epoch_secs() as i64)
                .unwrap_or_else(|| full_jitter(1, self.max_rate_limit_wait));
            ticket.answered(429, &headers, Some(wait));
            return Err(ApiError::Retryable {
                api: endpoint.api,
                endpoint: endpoint.name,
                after: Some(wait),
                reason: "rate limited (429), nothing accepted".into(),
            });
        }
        // The refusal's body says why; one that cannot be read still leaves the status.
        let body = read_capped(response, endpoint.max_answer_bytes).await;
        Err(self.refusal(call, ticket, status, &headers, &body))
    }

    /// [`Self::send`]'s loop; with `stream`, a 2xx answer's body is left unread.
    async fn send_for(
        &self,
        call: &Call<'_>,
        request: RequestBuilder,
        stream: bool,
    ) -> Result<Reply, ApiError> {
        let endpoint = call.endpoint;
        let mut attempt: u32 = 0;
        loop {
            let this_try = request
                .try_clone()
                .expect("hirebridge only sends buffered bodies, which can be cloned");
            let ticket = call.gate.acquire().await?;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let (status, headers, body) = match self
                .exchange(this_try, endpoint.max_answer_bytes, stream)
                .await
            {
                Ok(Exchanged::Whole(status, headers, body)) => (status, headers, body),
                Ok(Exchanged::Open(response)) => {
                    let status = response.status();
                    self.stats.answered(endpoint, status.as_u16());
                    ticket.answered(status.as_u16(), response.headers(), None);
                    return Ok(Reply::Open(response));
                }
                Ok(Exchanged::TooLarge(status, headers)) => {
                    ticket.answered(status.as_u16(), &headers, None);
                    self.stats.answered(endpoint, status.as_u16());
                    // Not retried in place: the same request would only bring the same flood.
                    return Err(too_large(endpoint, status));
                }
                Err(e) => {
                    ticket.answered(0, &HeaderMap::new(), None);
                    self.stats.answered(endpoint, 0);
                    let error = transport_error(endpoint, &e);
                    self.pause_to_retry(endpoint, error, &mut attempt).await?;
                    continue;
                }
            };
            self.stats.answered(endpoint, status.as_u16());
            if status.as_u16() == 429 {
                self.wait_out_rate_limit(endpoint, ticket, &headers, &mut attempt)?;
                continue;
            }
            // 304: HiBob's answer to an update that changes nothing ("already holds").
            if status.is_success() || status == reqwest::StatusCode::NOT_MODIFIED {
                ticket.answered(status.as_u16(), &headers, None);
                return Ok(Reply::Whole(Answer { status, body }));
            }
            let error = self.refusal(call, ticket, status, &headers, &body);
            self.pause_to_retry(endpoint, error, &mut attempt).await?;
        }
    }

    /// A 429: the wait it asks for pauses everyone on the gate, and the request is tried
    /// again after it (the gate does the waiting) unless the retries or the wait run out.
    fn wait_out_rate_limit(
        &self,
        endpoint: &Endpoint,
        ticket: Ticket<'_>,
        headers: &HeaderMap,
        attempt: &mut u32,
    ) -> Result<(), ApiError> {
        self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        let wait = wait_hint(headers, self.clock.epoch_secs() as i64)
            .unwrap_or_else(|| full_jitter(*attempt, self.max_rate_limit_wait));
        // Pause everyone on this gate, not just us: the window is shared.
        ticket.answered(429, headers, Some(wait));
        if *attempt < RATE_LIMIT_RETRIES && wait <= self.max_rate_limit_wait {
            *attempt += 1;
            self.stats.retried(endpoint);
            tracing::debug!(
                endpoint = endpoint.name,
                wait_ms = wait.as_millis() as u64,
                "rate limited; waiting"
            );
            return Ok(());
        }
        Err(ApiError::Retryable {
            api: endpoint.api,
            endpoint: endpoint.name,
            after: Some(wait),
            reason: "rate limited (429)".into(),
        })
    }

    /// A status that is neither success nor 429, as the error it means; a refused credential
    /// trips the gate's breaker.
    fn refusal(
        &self,
        call: &Call<'_>,
        ticket: Ticket<'_>,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> ApiError {
        let error = classify_status(
            call.endpoint,
            status,
            headers,
            body,
            call.describe,
            call.unauthorized_hint,
            self.clock.epoch_secs() as i64,
        );
        // Tripped before the ticket frees the probe, so no task waiting for it can send
        // with the refused credential in between.
        if error.is_unauthorized() {
            call.gate.trip_breaker(&error);
        }
        ticket.answered(status.as_u16(), headers, None);
        error
    }

    /// Pauses before trying again when `error` is retryable and read retries remain;
    /// otherwise hands `error` back, to be returned.
    async fn pause_to_retry(
        &self,
        endpoint: &Endpoint,
        error: ApiError,
        attempt: &mut u32,
    ) -> Result<(), ApiError> {
        if matches!(error, ApiError::Retryable { .. }) && *attempt < self.read_retries {
            *attempt += 1;
            self.pause_before_retry(endpoint, *attempt).await;
            return Ok(());
        }
        Err(error)
    }

    /// Sends and reads the answer, stopping at `limit` bytes (announced or not).
    async fn exchange(
        &self,
        request: RequestBuilder,
        limit: usize,
        stream: bool,
    ) -> Result<Exchanged, reqwest::Error> {
        let mut response = request.send().await?;
        let status = response.status();
        // Only a success is streamed: an error's body is read (within the limit) to say why.
        if stream && status.is_success() {
            return Ok(Exchanged::Open(response));
        }
        let headers = response.headers().clone();
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Ok(Exchanged::TooLarge(status, headers));
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > limit {
                return Ok(Exchanged::TooLarge(status, headers));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Exchanged::Whole(status, headers, body.freeze()))
    }

    /// A short jittered pause before retrying a read in place (the pass-level backoff
    /// handles anything longer).
    async fn pause_before_retry(&self, endpoint: &Endpoint, attempt: u32) {
        self.stats.retried(endpoint);
        let wait = full_jitter(attempt, Duration::from_secs(2)).max(Duration::from_millis(50));
        self.clock.sleep(wait, WaitReason::RetryBackoff).await;
    }
}

/// Up to `limit` bytes of an answer's body; what could not be read is left out (the caller
/// classifies by the status).
async fn read_capped(mut response: reqwest::Response, limit: usize) -> bytes::Bytes {
    let mut body = bytes::BytesMut::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    body.freeze()
}

/// An answer as read off the wire.
enum Exchanged {
    Whole(StatusCode, HeaderMap, bytes::Bytes),
    /// A success whose body the caller streams.
    Open(reqwest::Response),
    /// Past the endpoint's limit: the rest was not read (the connection is dropped).
    TooLarge(StatusCode, HeaderMap),
}

/// An answer past the endpoint's limit, as the error that says so.
fn too_large(endpoint: &Endpoint, status: StatusCode) -> ApiError {
    ApiError::malformed(
        endpoint,
        format!(
            "status {}, a body larger than {} MiB, which hirebridge does not read",
            status.as_u16(),
            endpoint.max_answer_bytes / (1024 * 1024)
        ),
    )
}

/// Capped exponential backoff (from 250 ms) with full jitter.
fn full_jitter(attempt: u32, cap: Duration) -> Duration {
    let ceiling = Duration::from_millis(250)
        .saturating_mul(1u32 << attempt.min(16))
        .min(cap);
    ceiling.mul_f64(rand::random::<f64>())
}

/// Never includes the URL: it may carry a pre-signed token.
fn transport_error(endpoint: &Endpoint, e: &reqwest::Error) -> ApiError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection broke while reading the answer"
    } else {
        "request failed"
    };
    // A connect failure means the request never left: even a write is safe to repeat.
    if endpoint.effect == Effect::Read || e.is_connect() {
        ApiError::Retryable {
            api: endpoint.api,
            endpoint: endpoint.name,
            after: None,
            reason: what.to_owned(),
        }
    } else {
        ApiError::Ambiguous {
            api: endpoint.api,
            endpoint: endpoint.name,
            reason: what.to_owned(),
        }
    }
}

fn classify_status(
    endpoint: &Endpoint,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    describe: fn(&[u8]) -> ErrorBody,
    unauthorized_hint: &str,
    now_epoch_secs: i64,
) -> ApiError {
    let api = endpoint.api;
    let name = endpoint.name;
    match status.as_u16() {
        401 => ApiError::Unauthorized {
            api,
            endpoint: name,
            status: 401,
            hint: unauthorized_hint.to_owned(),
        },
        403 => ApiError::Unauthorized {
            api,
            endpoint: name,
            status: 403,
            hint: endpoint.permission.to_owned(),
        },
        404 => ApiError::NotFound {
            api,
            endpoint: name,
            message: describe(body).message,
        },
        400 | 409 | 422 => {
            let ErrorBody { key, message } = describe(body);
            ApiError::Invalid {
                api,
                endpoint: name,
                status: status.as_u16(),
                key,
                message,
            }
        }
        code if code >= 500 || code == 408 => {
            let reason = format!("server error {code}");
            match endpoint.effect {
                Effect::Read => ApiError::Retryable {
                    api,
                    endpoint: name,
                    after: wait_hint(headers, now_epoch_secs),
                    reason,
                },
                Effect::Write => ApiError::Ambiguous {
                    api,
                    endpoint: name,
                    reason,
                },
            }
        }
        code => {
            let ErrorBody { key, message } = describe(body);
            ApiError::Invalid {
                api,
                endpoint: name,
                status: code,
                key,
                message,
            }
        }
    }
}

/// How long the server asked us to wait: `Retry-After` (seconds or HTTP date) first, else
/// `X-RateLimit-Reset` (epoch seconds of the window's end, as HiBob sends it).
pub fn wait_hint(headers: &HeaderMap, now_epoch_secs: i64) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(v) = header(RETRY_AFTER.as_str()) {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(v) {
            return Some(Duration::from_secs(
                (at.timestamp() - now_epoch_secs).max(0) as u64,
            ));
        }
    }
    let reset = header("x-ratelimit-reset")?.parse::<i64>().ok()?;
    // Some APIs send a delta instead of an epoch; a small number cannot be an epoch.
    let wait = if reset > 1_000_000_000 {
        reset - now_epoch_secs
    } else {
        reset
    };
    Some(Duration::from_secs(wait.max(0) as u64))
}

/// Keeps error text short and on one line, so a huge HTML page does not flood the ledger.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return "(empty body)".into();
    }
    let mut cut: String = one_line.chars().take(200).collect();
    if cut.len() < one_line.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_wins_over_reset() {
        let h = headers(&[("retry-after", "7"), ("x-ratelimit-reset", "1000000100")]);
        assert_eq!(wait_hint(&h, 1_000_000_000), Some(Duration::from_secs(7)));
    }

    #[test]
    fn reset_epoch_becomes_a_wait() {
        let h = headers(&[("x-ratelimit-reset", "1000000042")]);
        assert_eq!(wait_hint(&h, 1_000_000_000), Some(Duration::from_secs(42)));
        let past = headers(&[("x-ratelimit-reset", "1699999990")]);
        assert_eq!(wait_hint(&past, 1_700_000_000), Some(Duration::ZERO));
        // A small number is a delta, not an epoch.
        let delta = headers(&[("x-ratelimit-reset", "12")]);
        assert_eq!(
            wait_hint(&delta, 1_700_000_000),
            Some(Duration::from_secs(12))
        );
    }

    #[test]
    fn retry_after_http_date_is_understood() {
        let h = headers(&[("retry-after", "Sun, 09 Sep 2001 01:46:50 GMT")]);
        assert_eq!(wait_hint(&h, 1_000_000_000), Some(Duration::from_secs(10)));
    }

    #[test]
    fn no_hint_without_headers() {
        assert_eq!(wait_hint(&HeaderMap::new(), 0), None);
        let junk = headers(&[("retry-after", "soon")]);
        assert_eq!(wait_hint(&junk, 0), None);
    }

    #[test]
    fn redact_removes_a_signed_link_and_its_signature() {
        let url = "https://files.example/cv.pdf?X-Amz-Signature=abcdef123456";
        let e = ApiError::Invalid {
            api: Api::Hibob,
            endpoint: "POST /docs",
            status: 400,
            key: Some("documents.url.unreachable".into()),
            message: format!("Could not download {url}; also X-Amz-Signature=abcdef123456"),
        }
        .redact(url);
        let text = e.to_string();
        assert!(!text.contains("abcdef123456"), "{text}");
        assert!(text.contains("[link removed]"), "{text}");
    }

    #[test]
    fn excerpt_is_one_short_line() {
        let page = format!("<html>\n<body>{}</body></html>", "x".repeat(1000));
        let e = excerpt(page.as_bytes());
        assert!(!e.contains('\n'));
        assert!(e.chars().count() <= 201);
        assert_eq!(excerpt(b""), "(empty body)");
    }
}

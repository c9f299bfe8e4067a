//! The client for Bob's Hire API (`hibob.hire_flow = "pending"`): one POST of one
//! [`HireDocument`] to the endpoint URL Bob showed the admin, with the `Authorization` header
//! Bob showed, sent verbatim. Bob keeps the hire on its "ATS Pending hires" page for HR.
//!
//! It owns the request, its pace (its own gate, at `hibob.rate_limit`, with its own
//! credential breaker: a refused Hire API header says nothing of the service user) and the
//! classification of what a post came to ([`HirePostError`]). It must never send a post twice
//! for one call: Bob has no read of pending hires, so a post whose outcome is unknown cannot
//! be looked up, and a second one would be a second pending hire in HR's queue. Whether and
//! when to post again is the caller's decision (a person's, for an ambiguous post). Neither
//! the header nor the URL (which names the integration) appears in an error or a log line.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::hire_document::HireDocument;
use crate::config::{HibobConfig, HireApiConfig, RateLimit};
use crate::crashpoint;
use crate::http::{
    Api, ApiError, AuthBreaker, Call, Effect, Endpoint, ErrorBody, Gate, HttpClient,
};

/// The endpoint as errors and metrics name it: never the URL, which names the integration.
pub const HIRE_POST_NAME: &str = "POST Hire API";

const HIRE_POST: Endpoint = Endpoint {
    api: Api::Hibob,
    name: HIRE_POST_NAME,
    effect: Effect::Write,
    permission: "Bob refused the Hire API post (403): check in Bob that the Hire API \
        integration is installed and active, and that its service user may create applicants; \
        nothing more is posted in this pass",
    // Only a refusal's body is read (a success's never is): a message, not a document.
    max_answer_bytes: 64 * 1024,
};

const UNAUTHORIZED: &str = "Bob refused the Hire API's Authorization header (401): copy the \
    header value Bob shows for the Hire API integration into HIBOB_HIRE_API_AUTHORIZATION (or \
    the hibob.hire_api_authorization_file); nothing more is posted in this pass";

/// What a post that Bob accepted came to: any 2xx (what Bob answers is not documented, so the
/// body is not read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub status: u16,
}

/// Why a post did not end in a 2xx, by what the caller may do next. Only [`Self::Ambiguous`]
/// may have left a pending hire in Bob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HirePostError {
    /// Nothing was accepted: the connection could not be made, or Bob answered 429, or the
    /// rate limit's wait was longer than `http.max_rate_limit_wait`. Safe to post later
    /// (`after`, when Bob said how long to wait).
    #[error("not sent to HiBob's Hire API: {reason}; it can be posted later")]
    NotSent {
        reason: String,
        after: Option<Duration>,
    },
    /// Not sent: the Hire API refused its credential earlier in this pass.
    #[error("not sent to HiBob's Hire API: {reason}")]
    Halted { reason: String },
    /// 401/403: the `Authorization` header (or the integration) is refused; nothing stored.
    /// Stop posting until a person fixes it (the gate stops the rest of this pass by itself).
    /// `status` 0: the header value is no HTTP header value, so nothing was sent (the config
    /// refuses such a value; only a client built in code can meet this).
    #[error("HiBob's Hire API answered {status}: {hint}")]
    Credential { status: u16, hint: String },
    /// Any other refusal (4xx, or an unexpected status): Bob did not take the hire, and says
    /// why in `message`. Posting the same document again cannot help.
    #[error("HiBob's Hire API refused the hire ({status}): {message}")]
    Refused { status: u16, message: String },
    /// Sent, outcome unknown: a timeout, a connection broken after sending, an unreadable
    /// answer, a 408 or a 5xx. Bob may hold the hire: it must not be posted again unless a
    /// person says so (Bob offers no way to look it up).
    #[error(
        "HiBob's Hire API: delivery unconfirmed ({reason}); Bob may hold the hire, so it is not \
         posted again unless a person says so"
    )]
    Ambiguous { reason: String },
}

impl HirePostError {
    /// Whether Bob may now hold the hire (only an ambiguous post).
    pub fn may_have_been_delivered(&self) -> bool {
        matches!(self, HirePostError::Ambiguous { .. })
    }

    /// The classification of the HTTP layer's error for a one-time post, with `secret` and
    /// the endpoint's `path` cut out of every message (a server that echoes the request must
    /// not put either in the ledger).
    fn from_api(error: ApiError, secret: &str, path: &str) -> Self {
        let scrub = |text: String| scrub(text, secret, path);
        match error {
            ApiError::Retryable { reason, after, .. } => HirePostError::NotSent {
                reason: scrub(reason),
                after,
            },
            ApiError::Halted { reason, .. } => HirePostError::Halted {
                reason: scrub(reason),
            },
            ApiError::Unauthorized { status, hint, .. } => HirePostError::Credential {
                status,
                hint: scrub(hint),
            },
            ApiError::Invalid {
                status, message, ..
            } => HirePostError::Refused {
                status,
                message: scrub(message),
            },
            ApiError::NotFound { message, .. } => HirePostError::Refused {
                status: 404,
                message: format!(
                    "Bob has no Hire API endpoint at hibob.hire_api_url ({}): copy the URL Bob \
                     shows for the integration again",
                    scrub(message)
                ),
            },
            ApiError::Ambiguous { reason, .. } => HirePostError::Ambiguous {
                reason: scrub(reason),
            },
        }
    }
}

/// Back into the HTTP layer's classes, for code that records or paces by [`ApiError`].
impl From<HirePostError> for ApiError {
    fn from(error: HirePostError) -> Self {
        let (api, endpoint) = (Api::Hibob, HIRE_POST_NAME);
        match error {
            HirePostError::NotSent { reason, after } => ApiError::Retryable {
                api,
                endpoint,
                after,
                reason,
            },
            HirePostError::Halted { reason } => ApiError::Halted { api, reason },
            HirePostError::Credential { status, hint } => ApiError::Unauthorized {
                api,
                endpoint,
                status,
                hint,
            },
            HirePostError::Refused { status, message } => ApiError::Invalid {
                api,
                endpoint,
                status,
                key: None,
                message,
            },
            HirePostError::Ambiguous { reason } => ApiError::Ambiguous {
                api,
                endpoint,
                reason,
            },
        }
    }
}

/// `text` without `secret`, nor its credential part (what follows the scheme, as in
/// `Basic <token>`), nor the endpoint's `path`, when each is long enough to be one.
fn scrub(text: String, secret: &str, path: &str) -> String {
    let token = secret.split_once(' ').map_or(secret, |(_, t)| t.trim());
    let long = |needle: &&str| needle.len() >= 6;
    let text = [secret, token]
        .into_iter()
        .filter(long)
        .fold(text, |t, needle| t.replace(needle, "[credential removed]"));
    [path]
        .into_iter()
        .filter(long)
        .fold(text, |t, needle| t.replace(needle, "[Hire API path]"))
}

fn describe(body: &[u8]) -> ErrorBody {
    let (key, message) = super::model::error_body(body);
    ErrorBody { key, message }
}

/// Posts hires to Bob's Hire API. Cheap to clone: clones share the gate.
#[derive(Clone)]
pub struct HireApiClient {
    http: HttpClient,
    url: Url,
    authorization: SecretString,
    gate: Arc<Gate>,
}

impl HireApiClient {
    /// A client for `api`, paced at `rate` (one gate, with a credential breaker of its own).
    pub fn new(http: HttpClient, api: &HireApiConfig, rate: RateLimit) -> Self {
        let gate = http.gate(
            Api::Hibob,
            "HiBob Hire API",
            rate,
            Arc::new(AuthBreaker::default()),
        );
        Self {
            http,
            url: api.url.clone(),
            authorization: api.authorization.clone(),
            gate,
        }
    }

    /// The client `[hibob]` configures: `None` when it gives no Hire API (always there with
    /// `hire_flow = "pending"`), paced at `hibob.rate_limit`.
    pub fn from_config(http: HttpClient, config: &HibobConfig) -> Option<Self> {
        let api = config.hire_api.as_ref()?;
        Some(Self::new(http, api, config.rate_limit))
    }

    /// A new pass: forget a refused header (it may have been fixed); the first post of the
    /// pass goes alone.
    pub fn begin_pass(&self) {
        self.gate.begin_pass();
    }

    /// After a configuration reload: keeps `previous`'s gate when it paces the same, so a
    /// window Bob described (or a 429's pause) is not forgotten.
    pub fn keeping_gate_of(mut self, previous: &HireApiClient) -> Self {
        if self.gate.same_settings(&previous.gate) {
            self.gate = previous.gate.clone();
        }
        self
    }

    /// Posts `document` once. Never retried here, whatever happens: see [`HirePostError`]
    /// for what each failure means. Callers record their intent first (a crash between the
    /// crash points `hibob.hire_post.before` and `.after` is an ambiguous post).
    pub async fn post(&self, document: &HireDocument) -> Result<Delivered, HirePostError> {
        let secret = self.authorization.expose_secret();
        let Ok(mut header) = reqwest::header::HeaderValue::from_str(secret) else {
            // The config refuses such a value; never send a post without it.
            return Err(HirePostError::Credential {
                status: 0,
                hint: "the Hire API's Authorization value is not a valid HTTP header value: \
                       copy it again from Bob into HIBOB_HIRE_API_AUTHORIZATION"
                    .into(),
            });
        };
        header.set_sensitive(true);
        let request = self
            .http
            .reqwest()
            .post(self.url.clone())
            .header(reqwest::header::AUTHORIZATION, header)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(document.json());
        let call = Call {
            endpoint: &HIRE_POST,
            gate: &self.gate,
            describe,
            unauthorized_hint: UNAUTHORIZED,
        };
        crashpoint::hit("hibob.hire_post.before");
        let sent = self.http.send_once(&call, request).await;
        crashpoint::hit("hibob.hire_post.after");
        match sent {
            Ok(status) => Ok(Delivered {
                status: status.as_u16(),
            }),
            Err(e) => Err(HirePostError::from_api(e, secret, self.url.path())),
        }
    }
}

#[cfg(test)]
mod tests;

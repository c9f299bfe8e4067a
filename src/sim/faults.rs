//! Injected faults: what a test can make the next matching request(s) suffer.

use std::time::Duration;

use serde_json::{Value, json};

use super::Endpoint;
use super::scenario::Stage;
use super::wire::{Api, Reply};

/// One queued fault. Rules are checked in insertion order; the first live match wins.
#[derive(Clone, Debug)]
pub struct FaultRule {
    pub endpoint: Endpoint,
    /// Applies only when the request's path+query (raw or percent-decoded) or raw body
    /// contains each of these substrings.
    pub matching: Vec<String>,
    /// Never applies to requests that contain any of these.
    pub except: Vec<String>,
    /// How many matching requests it affects before it is used up.
    pub times: usize,
    pub fault: Fault,
}

impl FaultRule {
    /// A rule affecting the next single request to `endpoint`.
    pub fn new(endpoint: Endpoint, fault: Fault) -> Self {
        FaultRule {
            endpoint,
            matching: Vec::new(),
            except: Vec::new(),
            times: 1,
            fault,
        }
    }

    /// Only requests that contain `needle` too (see [`FaultRule::matching`]).
    pub fn matching(mut self, needle: impl Into<String>) -> Self {
        self.matching.push(needle.into());
        self
    }

    /// Not requests that contain `needle`.
    pub fn except(mut self, needle: impl Into<String>) -> Self {
        self.except.push(needle.into());
        self
    }

    /// Only the requests a pass makes for hires, not the API contract check's probes: for the
    /// listing, its hired-stage pages; for search, the lookups by email. (Probes list with a
    /// stage value no stage has, or any stage; search for `.invalid` addresses, or everyone.)
    pub fn not_on_probes(self) -> Self {
        match self.endpoint {
            Endpoint::ListApplications => self.matching("filter[stage_basic_type]=hired&"),
            Endpoint::SearchPeople => self.matching("\"filters\"").except("hirebridge-probe"),
            _ => self,
        }
    }

    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    pub(crate) fn matches(&self, endpoint: Endpoint, haystacks: &[&str], body: &[u8]) -> bool {
        if self.endpoint != endpoint || self.times == 0 {
            return false;
        }
        let body = String::from_utf8_lossy(body);
        let contains = |n: &String| {
            haystacks.iter().any(|h| h.contains(n.as_str())) || body.contains(n.as_str())
        };
        self.matching.iter().all(contains) && !self.except.iter().any(contains)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status without performing the effect.
    Status(u16),
    /// Perform the effect, then answer this status: the ambiguous outcome.
    CommitThenStatus(u16),
    /// Answer 200 with an HTML page instead of JSON (no effect).
    MalformedBody,
    /// Answer with the correct JSON cut in half (effect performed for writes).
    TruncatedJson,
    /// Answer 200 with JSON whose ids are numbers and some fields of the wrong type (no effect).
    WrongTypes,
    /// Perform the effect, then answer 200 with an HTML page: a proxy that mangled the
    /// answer to a write that happened.
    CommitThenMalformed,
    /// Answer 200 with a JSON document of about this many bytes (no effect): a runaway or
    /// hostile server.
    HugeBody { bytes: usize },
    /// The listing ignores `page[number]` and `page[size]`: every page is the first 1000
    /// matching applications, with no `links.next` (only for `ListApplications`).
    IgnoresPaging,
    /// The listing ignores `filter[stage_basic_type]` and `filter[stage_id]`: it answers with
    /// applications of every stage, as a tenant without that filter (or a changed API) would
    /// (only for `ListApplications`).
    IgnoresStageFilter,
    /// The listing answers its page as usual, but its `links.next` points back at the first
    /// page: links that loop (only for `ListApplications`).
    LinksBackToFirstPage,
    /// The listing ignores `page[size]`: every page holds Pinpoint's default of 100 (only for
    /// `ListApplications`).
    IgnoresPageSize,
    /// The listing ignores `sort`: every listing comes in id order, as from a tenant (or an
    /// API version) that does not sort (only for `ListApplications`).
    IgnoresSort,
    /// Application reads ignore `include`: every relationship comes back with
    /// `meta.included = false` and nothing in `included[]`.
    DropsIncludes,
    /// Application reads ignore `extra_fields[applications]`: no `attachments` attribute.
    DropsAttachments,
    /// Any request carrying this query parameter is refused with a JSON:API 400 naming it.
    RefusesParameter(String),
    /// Search ignores `showInactive`: inactive people (future starters, former employees)
    /// never come back (only for `SearchPeople`).
    IgnoresShowInactive,
    /// Search ignores `humanReadable`: no `humanReadable` section (only for `SearchPeople`).
    IgnoresHumanReadable,
    /// Search drops the `internal.*` fields, as for a service user whose permission group
    /// may not see them (only for `SearchPeople`).
    HidesInternalFields,
    /// Search refuses a filter with more than this many values (only for `SearchPeople`).
    LimitsSearchBatch(usize),
    /// The documents list comes back as `{"files": [...]}`, a shape hirebridge does not read
    /// (only for `ListDocuments`).
    ReshapesDocumentsList,
    /// Sleep, then behave normally (later rules may still apply).
    Delay(Duration),
    /// Perform the effect, then sleep before answering: a client that dies meanwhile never
    /// learns that its write happened (the crash-after-commit case).
    CommitThenDelay(Duration),
    /// Answer normally, then move this application to `stage` (bumping its `updated_at`): a
    /// listing that shifts between two pages, e.g. an older application hired meanwhile.
    ThenSetStage {
        application_id: String,
        stage: Stage,
    },
    /// 429 with only `X-RateLimit-Reset`, this many seconds from now (no `Retry-After`).
    RateLimitedUntil { reset_in_secs: u64 },
    /// 429 with `X-RateLimit-*` headers, plus `Retry-After` if given.
    RateLimited { retry_after_secs: Option<u64> },
}

/// An error status in the style of the API that owns the endpoint.
pub(crate) fn status_reply(api: Api, status: u16) -> Reply {
    // Gateway failures come from the edge in front of the API, as HTML rather than the API's JSON.
    if matches!(status, 502..=504 | 520..=526) {
        return match api {
            Api::HiBob => Reply::html(status, &cloudflare_page(status)),
            _ => Reply::html(
                status,
                &format!(
                    "<html>\r\n<head><title>{status} {r}</title></head>\r\n<body>\r\n\
                     <center><h1>{status} {r}</h1></center>\r\n<hr><center>nginx</center>\r\n\
                     </body>\r\n</html>\r\n",
                    r = reason(status)
                ),
            ),
        };
    }
    let text = reason(status);
    match api {
        Api::HiBob => Reply::hibob_error(
            status,
            if status >= 500 {
                "server.error"
            } else {
                "request.failed"
            },
            text,
            vec![],
        ),
        Api::Pinpoint | Api::Files | Api::None => Reply::jsonapi_error(status, text, text),
    }
}

pub(crate) fn malformed_reply() -> Reply {
    Reply::html(
        200,
        "<!DOCTYPE html><html><head><title>Maintenance</title></head>\
         <body><h1>We'll be back soon</h1><p>Scheduled maintenance in progress.</p></body></html>",
    )
}

/// `{"data": [], "meta": {"padding": "xxx…"}}`, about `bytes` long: valid JSON, just huge.
pub(crate) fn huge_reply(bytes: usize) -> Reply {
    let mut body = br#"{"data":[],"meta":{"padding":""#.to_vec();
    body.resize(bytes.max(body.len()), b'x');
    body.extend_from_slice(br#""}}"#);
    Reply::bytes(200, "application/json", body)
}

pub(crate) fn truncate_reply(mut reply: Reply) -> Reply {
    let half = reply.body.len() / 2;
    reply.body.truncate(half);
    reply
}

pub(crate) fn cloudflare_page(status: u16) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><title>{status}: {r}</title></head><body>\
         <h1>Error {status}</h1><p>{r}</p><p>Cloudflare Ray ID: 8f1c2b3a4d5e6f70</p></body></html>",
        r = reason(status)
    )
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        520..=526 => "Web server is returning an unknown error",
        _ => "Error",
    }
}

/// Rewrites a JSON document so every id becomes a number (or a bool when not numeric) and
/// counts become strings: what a careless upstream or proxy might send.
pub(crate) fn wrong_types(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                let is_id = k == "id" || k.ends_with("Id") || k.ends_with("_id");
                match val {
                    Value::String(s) if is_id => {
                        *val = match s.parse::<u64>() {
                            Ok(n) => json!(n),
                            Err(_) => Value::Bool(true),
                        }
                    }
                    Value::Number(n) if k == "count" => *val = Value::String(n.to_string()),
                    Value::String(s) if k == "startDate" || k == "created_at" => {
                        *val = json!(s.len())
                    }
                    _ => wrong_types(val),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(wrong_types),
        _ => {}
    }
}

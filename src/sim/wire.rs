//! The request and answer plumbing both simulated APIs share: the path prefixes, what a
//! handler is given ([`Incoming`]), the buffered answer it returns ([`Reply`]), which API owns
//! an endpoint ([`Api`]) and the percent codecs of paths and queries.
//!
//! The bottom of the simulator's server side: the server, the API modules
//! ([`super::pinpoint`], [`super::hibob`], [`super::hire_api`]), the faults and the state
//! import it, and it imports none of them, so dependencies point one way (server → API modules
//! → state, faults → wire).

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::Endpoint;

pub(crate) const PINPOINT_PREFIX: &str = "/pinpoint/api/v1";
pub(crate) const HIBOB_PREFIX: &str = "/hibob/v1";
pub(crate) const FILES_PREFIX: &str = "/files";
const JSONAPI: &str = "application/vnd.api+json";

/// Which API an endpoint belongs to, for the style of error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    Pinpoint,
    HiBob,
    Files,
    None,
}

/// A fully buffered answer, so faults can cut or rewrite it before it is sent.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, v: &Value) -> Reply {
        Reply {
            status,
            content_type: Some("application/json"),
            headers: vec![],
            body: serde_json::to_vec(v).unwrap_or_default(),
        }
    }

    pub fn jsonapi(status: u16, v: &Value) -> Reply {
        Reply {
            content_type: Some(JSONAPI),
            ..Reply::json(status, v)
        }
    }

    pub fn jsonapi_error(status: u16, title: &str, detail: &str) -> Reply {
        Reply::jsonapi(
            status,
            &json!({"errors": [{"status": status.to_string(), "title": title, "detail": detail}]}),
        )
    }

    pub fn hibob_error(status: u16, key: &str, error: &str, args: Vec<String>) -> Reply {
        Reply::json(status, &json!({"key": key, "error": error, "args": args}))
    }

    pub fn html(status: u16, text: &str) -> Reply {
        Reply {
            status,
            content_type: Some("text/html; charset=UTF-8"),
            headers: vec![],
            body: text.as_bytes().to_vec(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            content_type: None,
            headers: vec![],
            body: vec![],
        }
    }

    pub fn bytes(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type: Some(content_type),
            headers: vec![],
            body,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn into_response(self) -> Response {
        let mut resp = Response::new(Body::from(self.body));
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let h = resp.headers_mut();
        if let Some(ct) = self.content_type {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.append(name, v);
            }
        }
        resp
    }
}

/// The API that answers `endpoint`.
pub(crate) fn api_of(endpoint: Endpoint) -> Api {
    match endpoint {
        Endpoint::ListApplications | Endpoint::GetApplication | Endpoint::PostComment => {
            Api::Pinpoint
        }
        Endpoint::DownloadFile => Api::Files,
        Endpoint::SearchPeople
        | Endpoint::CreatePerson
        | Endpoint::UpdatePerson
        | Endpoint::SetStartDate
        | Endpoint::ListDocuments
        | Endpoint::UploadDocument
        | Endpoint::PeopleFields
        | Endpoint::NamedList
        | Endpoint::HireApiPost => Api::HiBob,
        Endpoint::Unknown => Api::None,
    }
}

/// What handlers need from a request.
pub(crate) struct Incoming {
    pub headers: HeaderMap,
    pub query: Option<String>,
    pub path_and_query: String,
    pub body: Bytes,
}

/// Percent-decodes a path or query (lossy on invalid UTF-8; `+` is left alone).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes a query key or value, keeping `[`, `]` and `,` readable as Pinpoint's links do.
pub(crate) fn query_encode(s: &str) -> String {
    let mut out = String::new();
    for &c in s.as_bytes() {
        match c {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'['
            | b']'
            | b',' => out.push(c as char),
            _ => out.push_str(&format!("%{c:02X}")),
        }
    }
    out
}

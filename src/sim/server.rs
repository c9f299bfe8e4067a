//! Routing, call recording and fault application shared by both simulated APIs.
//!
//! Every request goes through one fallback handler so the raw body is available for fault
//! matching and the final status can be recorded whatever produced it.
//!
//! The top of the server side: it routes to the API modules ([`super::pinpoint`],
//! [`super::hibob`], [`super::hire_api`]), which build on [`super::wire`], the state and the
//! faults; none of them imports this module.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use serde_json::{Value, json};

use super::faults::{self, Fault};
use super::state::{Shared, epoch_ms};
use super::wire::{
    Api, FILES_PREFIX, HIBOB_PREFIX, Incoming, PINPOINT_PREFIX, Reply, api_of, percent_decode,
};
use super::{Endpoint, HIBOB_HIRE_API_PATH};
use super::{hibob, hire_api, pinpoint};

const MAX_BODY: usize = 16 * 1024 * 1024;

/// A classified request path with its captured parameters.
#[derive(Clone, Debug)]
pub(crate) enum Route {
    ListApplications,
    GetApplication(String),
    PostComment,
    DownloadFile {
        application_id: String,
        filename: String,
    },
    SearchPeople,
    CreatePerson,
    UpdatePerson(String),
    SetStartDate(String),
    ListDocuments(String),
    UploadDocument {
        employee_id: String,
        folder: String,
    },
    PeopleFields,
    NamedList(String),
    HireApiPost,
    Unknown,
}

impl Route {
    pub fn classify(method: &Method, path: &str) -> Route {
        let segs = |rest: &str| -> Vec<String> {
            rest.trim_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .map(percent_decode)
                .collect()
        };
        let get = method == Method::GET;
        let post = method == Method::POST;
        // Bob's Hire API lives outside its `/v1` API, at one URL per installed integration.
        if path == HIBOB_HIRE_API_PATH && post {
            return Route::HireApiPost;
        }
        if let Some(rest) = strip(path, PINPOINT_PREFIX) {
            let s = segs(rest);
            let s: Vec<&str> = s.iter().map(String::as_str).collect();
            return match s.as_slice() {
                ["applications"] if get => Route::ListApplications,
                ["applications", id] if get => Route::GetApplication(id.to_string()),
                ["comments"] if post => Route::PostComment,
                _ => Route::Unknown,
            };
        }
        if let Some(rest) = strip(path, HIBOB_PREFIX) {
            let s = segs(rest);
            let s: Vec<&str> = s.iter().map(String::as_str).collect();
            return match s.as_slice() {
                ["people", "search"] if post => Route::SearchPeople,
                ["people"] if post => Route::CreatePerson,
                ["people", id] if method == Method::PUT => Route::UpdatePerson(id.to_string()),
                ["employees", id, "start-date"] if post => Route::SetStartDate(id.to_string()),
                ["docs", "people", id] if get => Route::ListDocuments(id.to_string()),
                ["docs", "people", id, folder @ ("shared" | "confidential")] if post => {
                    Route::UploadDocument {
                        employee_id: id.to_string(),
                        folder: folder.to_string(),
                    }
                }
                ["company", "people", "fields"] if get => Route::PeopleFields,
                ["company", "named-lists", name] if get => Route::NamedList(name.to_string()),
                _ => Route::Unknown,
            };
        }
        if let Some(rest) = strip(path, FILES_PREFIX) {
            let s = segs(rest);
            if let [app, file] = s.as_slice()
                && get
            {
                return Route::DownloadFile {
                    application_id: app.clone(),
                    filename: file.clone(),
                };
            }
        }
        Route::Unknown
    }

    pub fn endpoint(&self) -> Endpoint {
        match self {
            Route::ListApplications => Endpoint::ListApplications,
            Route::GetApplication(_) => Endpoint::GetApplication,
            Route::PostComment => Endpoint::PostComment,
            Route::DownloadFile { .. } => Endpoint::DownloadFile,
            Route::SearchPeople => Endpoint::SearchPeople,
            Route::CreatePerson => Endpoint::CreatePerson,
            Route::UpdatePerson(_) => Endpoint::UpdatePerson,
            Route::SetStartDate(_) => Endpoint::SetStartDate,
            Route::ListDocuments(_) => Endpoint::ListDocuments,
            Route::UploadDocument { .. } => Endpoint::UploadDocument,
            Route::PeopleFields => Endpoint::PeopleFields,
            Route::NamedList(_) => Endpoint::NamedList,
            Route::HireApiPost => Endpoint::HireApiPost,
            Route::Unknown => Endpoint::Unknown,
        }
    }
}

fn strip<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(move |req: Request| {
        let shared = shared.clone();
        async move { dispatch(shared, req).await }
    })
}

async fn dispatch(shared: Arc<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let route = Route::classify(&parts.method, parts.uri.path());
    let endpoint = route.endpoint();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
    let seq = shared
        .lock()
        .begin_call(endpoint, parts.method.as_str(), &path_and_query);
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let incoming = Incoming {
        headers: parts.headers,
        query: parts.uri.query().map(str::to_string),
        path_and_query,
        body,
    };
    let reply = handle(&shared, &route, &incoming).await;
    shared.lock().finish_call(seq, reply.status);
    reply.into_response()
}

async fn handle(shared: &Shared, route: &Route, req: &Incoming) -> Reply {
    let endpoint = route.endpoint();
    let api = api_of(endpoint);
    let Some(fault) = shared
        .pick_fault(endpoint, &req.path_and_query, &req.body)
        .await
    else {
        return normal(shared, route, req).await;
    };
    match fault {
        Fault::Status(status) => faults::status_reply(api, status),
        Fault::CommitThenStatus(status) => {
            let _ = normal(shared, route, req).await;
            faults::status_reply(api, status)
        }
        Fault::CommitThenDelay(d) => {
            let reply = normal(shared, route, req).await;
            tokio::time::sleep(d).await;
            reply
        }
        Fault::RateLimitedUntil { reset_in_secs } => {
            rate_limited_reply(api, 50, epoch_ms() / 1000 + reset_in_secs, None)
        }
        Fault::ThenSetStage {
            application_id,
            stage,
        } => {
            let reply = normal(shared, route, req).await;
            shared.lock().set_stage(&application_id, stage);
            reply
        }
        Fault::MalformedBody => faults::malformed_reply(),
        Fault::CommitThenMalformed => {
            let _ = normal(shared, route, req).await;
            faults::malformed_reply()
        }
        Fault::HugeBody { bytes } => faults::huge_reply(bytes),
        Fault::IgnoresPaging => unpaged_listing(shared, route, req).await,
        Fault::IgnoresStageFilter => unfiltered_listing(shared, route, req).await,
        Fault::LinksBackToFirstPage => looping_listing(shared, route, req).await,
        Fault::IgnoresSort => match route {
            Route::ListApplications => listing_as_if(shared, req, &["sort"], &[]),
            _ => normal(shared, route, req).await,
        },
        Fault::IgnoresPageSize => match route {
            Route::ListApplications => listing_as_if(shared, req, &["page[size]"], &[]),
            _ => normal(shared, route, req).await,
        },
        Fault::DropsIncludes => read_as_if(shared, route, req, &["include"]).await,
        Fault::DropsAttachments => {
            read_as_if(shared, route, req, &["extra_fields[applications]"]).await
        }
        Fault::RefusesParameter(name) => refuses_parameter(shared, route, req, &name).await,
        Fault::IgnoresShowInactive => {
            search_as_if(shared, route, req, |body| {
                body.as_object_mut().map(|b| b.remove("showInactive"));
            })
            .await
        }
        Fault::IgnoresHumanReadable => {
            search_as_if(shared, route, req, |body| {
                body.as_object_mut().map(|b| b.remove("humanReadable"));
            })
            .await
        }
        Fault::HidesInternalFields => hides_internal_fields(shared, route, req).await,
        Fault::LimitsSearchBatch(limit) => limits_search_batch(shared, route, req, limit).await,
        Fault::ReshapesDocumentsList => reshaped_documents_list(shared, route, req).await,
        Fault::TruncatedJson => faults::truncate_reply(normal(shared, route, req).await),
        Fault::WrongTypes => wrong_types_reply(shared, route, req).await,
        Fault::RateLimited { retry_after_secs } => {
            rate_limited_in_window(shared, api, retry_after_secs)
        }
        Fault::Delay(_) => unreachable!("delays are consumed by pick_fault"),
    }
}

/// The request refused with a 400 when it carries the parameter `name`, as a server that does
/// not know that parameter answers; answered as usual without it.
async fn refuses_parameter(shared: &Shared, route: &Route, req: &Incoming, name: &str) -> Reply {
    let present = url::form_urlencoded::parse(req.query.as_deref().unwrap_or("").as_bytes())
        .any(|(k, _)| k == name);
    if present {
        Reply::jsonapi_error(
            400,
            "Bad Request",
            &format!("{name} is not a valid parameter"),
        )
    } else {
        normal(shared, route, req).await
    }
}

/// The reply with its JSON body edited: how a server that drops or reshapes part of an
/// answer sends it.
fn edited_json(reply: Reply, edit: impl FnOnce(&mut Value)) -> Reply {
    let mut doc: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    edit(&mut doc);
    Reply {
        body: serde_json::to_vec(&doc).unwrap_or_default(),
        ..reply
    }
}

/// A search answered without the `internal` section of each person (raw and human-readable),
/// as a token without that category's permission sees it.
async fn hides_internal_fields(shared: &Shared, route: &Route, req: &Incoming) -> Reply {
    let reply = normal(shared, route, req).await;
    if !matches!(route, Route::SearchPeople) || reply.status != 200 {
        return reply;
    }
    edited_json(reply, |doc| {
        for person in doc["employees"].as_array_mut().into_iter().flatten() {
            if let Some(p) = person.as_object_mut() {
                p.remove("internal");
            }
            if let Some(h) = person
                .get_mut("humanReadable")
                .and_then(Value::as_object_mut)
            {
                h.remove("internal");
            }
        }
    })
}

/// A search refused with HiBob's validation error when its filter carries more than `limit`
/// values.
async fn limits_search_batch(
    shared: &Shared,
    route: &Route,
    req: &Incoming,
    limit: usize,
) -> Reply {
    let values = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|b| {
            b.pointer("/filters/0/values")
                .and_then(Value::as_array)
                .map(Vec::len)
        })
        .unwrap_or(0);
    if matches!(route, Route::SearchPeople) && values > limit {
        Reply::hibob_error(
            400,
            "validations.search.values.tooMany",
            &format!("At most {limit} values are allowed in a filter"),
            vec![],
        )
    } else {
        normal(shared, route, req).await
    }
}

/// The documents list under `files` instead of `documents`.
async fn reshaped_documents_list(shared: &Shared, route: &Route, req: &Incoming) -> Reply {
    let reply = normal(shared, route, req).await;
    if !matches!(route, Route::ListDocuments(_)) || reply.status != 200 {
        return reply;
    }
    let doc: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    Reply::json(200, &json!({ "files": doc["documents"].clone() }))
}

/// A 429 whose reset is the end of the configured rate-limit window.
fn rate_limited_in_window(shared: &Shared, api: Api, retry_after_secs: Option<u64>) -> Reply {
    let configured = shared.lock().rate_limit;
    let (limit, reset) = match configured {
        Some(l) => {
            let w = (l.window.as_millis() as u64).max(1);
            (l.limit, (epoch_ms() / w * w + w).div_ceil(1000))
        }
        // Without a configured window, reset at the next whole second so tests stay fast.
        None => (50, epoch_ms() / 1000 + 1),
    };
    rate_limited_reply(api, limit, reset, retry_after_secs)
}

/// A 429 in the owning API's style, always with the `X-RateLimit-*` headers.
fn rate_limited_reply(
    api: Api,
    limit: u32,
    reset_epoch_secs: u64,
    retry_after: Option<u64>,
) -> Reply {
    let mut reply = match api {
        Api::HiBob => Reply::hibob_error(
            429,
            "rate.limit.exceeded",
            "Too many requests, please try again later",
            vec![],
        ),
        _ => Reply::jsonapi_error(429, "Too Many Requests", "Rate limit exceeded"),
    }
    .with_header("X-RateLimit-Limit", limit.to_string())
    .with_header("X-RateLimit-Remaining", "0")
    .with_header("X-RateLimit-Reset", reset_epoch_secs.to_string());
    if let Some(secs) = retry_after {
        reply = reply.with_header("Retry-After", secs.to_string());
    }
    reply
}

async fn normal(shared: &Shared, route: &Route, req: &Incoming) -> Reply {
    match route {
        Route::ListApplications => pinpoint::list_applications(shared, req),
        Route::GetApplication(id) => pinpoint::get_application(shared, req, id),
        Route::PostComment => pinpoint::post_comment(shared, req),
        Route::DownloadFile {
            application_id,
            filename,
        } => pinpoint::download_file(shared, application_id, filename),
        Route::SearchPeople => hibob::search(shared, req),
        Route::CreatePerson => hibob::create(shared, req),
        Route::UpdatePerson(id) => hibob::update(shared, req, id),
        Route::SetStartDate(id) => hibob::set_start_date(shared, req, id),
        Route::ListDocuments(id) => hibob::list_documents(shared, req, id),
        Route::UploadDocument {
            employee_id,
            folder,
        } => hibob::upload_document(shared, req, employee_id, folder).await,
        Route::PeopleFields => hibob::people_fields(shared, req),
        Route::NamedList(name) => hibob::named_list(shared, req, name),
        Route::HireApiPost => hire_api::post(shared, req).await,
        Route::Unknown => Reply::json(
            404,
            &json!({"error": "Not Found", "path": req.path_and_query}),
        ),
    }
}

/// The listing answered as if it had been asked without the parameters in `ignored` and with
/// `extra`: how a server that disregards part of a request answers it.
fn listing_as_if(
    shared: &Shared,
    req: &Incoming,
    ignored: &[&str],
    extra: &[(&str, &str)],
) -> Reply {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .filter(|(k, _)| !ignored.contains(&k.as_str()))
            .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let rewritten = Incoming {
        headers: req.headers.clone(),
        path_and_query: format!("{PINPOINT_PREFIX}/applications?{query}"),
        query: Some(query),
        body: req.body.clone(),
    };
    pinpoint::list_applications(shared, &rewritten)
}

/// An application read (listing or single) answered as if asked without `ignored`.
async fn read_as_if(shared: &Shared, route: &Route, req: &Incoming, ignored: &[&str]) -> Reply {
    match route {
        Route::ListApplications => listing_as_if(shared, req, ignored, &[]),
        Route::GetApplication(id) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(
                    url::form_urlencoded::parse(req.query.as_deref().unwrap_or("").as_bytes())
                        .into_owned()
                        .filter(|(k, _)| !ignored.contains(&k.as_str())),
                )
                .finish();
            let rewritten = Incoming {
                headers: req.headers.clone(),
                path_and_query: format!("{PINPOINT_PREFIX}/applications/{id}?{query}"),
                query: Some(query),
                body: req.body.clone(),
            };
            pinpoint::get_application(shared, &rewritten, id)
        }
        _ => normal(shared, route, req).await,
    }
}

/// A search answered as if its body had been edited by `edit`.
async fn search_as_if(
    shared: &Shared,
    route: &Route,
    req: &Incoming,
    edit: impl FnOnce(&mut Value),
) -> Reply {
    if !matches!(route, Route::SearchPeople) {
        return normal(shared, route, req).await;
    }
    let Ok(mut body) = serde_json::from_slice::<Value>(&req.body) else {
        return normal(shared, route, req).await;
    };
    edit(&mut body);
    let rewritten = Incoming {
        headers: req.headers.clone(),
        path_and_query: req.path_and_query.clone(),
        query: req.query.clone(),
        body: serde_json::to_vec(&body).unwrap_or_default().into(),
    };
    hibob::search(shared, &rewritten)
}

/// The listing as a server that ignores its stage filters sends it: every stage.
async fn unfiltered_listing(shared: &Shared, route: &Route, req: &Incoming) -> Reply {
    if !matches!(route, Route::ListApplications) {
        return normal(shared, route, req).await;
    }
    listing_as_if(
        shared,
        req,
        &["filter[stage_basic_type]", "filter[stage_id]"],
        &[],
    )
}

/// The listing as a server that ignores paging sends it: the first 1000 matching
/// applications whatever page was asked for, and no `links.next`.
async fn unpaged_listing(shared: &Shared, route: &Route, req: &Incoming) -> Reply {
    if !matches!(route, Route::ListApplications) {
        return normal(shared, route, req).await;
    }
    let reply = listing_as_if(
        shared,
        req,
        &["page[number]", "page[size]"],
        &[("page[size]", "1000")],
    );
    edited_json(reply, |doc| {
        if let Some(links) = doc.get_mut("links").and_then(Value::as_object_mut) {
            links.remove("next");
        }
    })
}

/// The page as usual, with `links.next` sent back to page 1 (the other parameters kept).
async fn looping_listing(shared: &Shared, route: &Route, req: &Incoming) -> Reply {
    let reply = normal(shared, route, req).await;
    if !matches!(route, Route::ListApplications) {
        return reply;
    }
    let mut doc: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let first_page = doc
        .pointer("/links/next")
        .and_then(Value::as_str)
        .and_then(|next| url::Url::parse(next).ok())
        .map(|mut url| {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .into_owned()
                .map(|(k, v)| {
                    if k == "page[number]" {
                        (k, "1".to_owned())
                    } else {
                        (k, v)
                    }
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
            url.to_string()
        });
    if let (Some(first), Some(links)) = (
        first_page,
        doc.get_mut("links").and_then(Value::as_object_mut),
    ) {
        links.insert("next".into(), Value::String(first));
    }
    Reply {
        body: serde_json::to_vec(&doc).unwrap_or_default(),
        ..reply
    }
}

/// 200 with plausible JSON whose types are wrong; writes are not performed.
async fn wrong_types_reply(shared: &Shared, route: &Route, req: &Incoming) -> Reply {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    match route {
        Route::CreatePerson => {
            let next = shared.lock().next_employee_id;
            Reply::json(
                200,
                &json!({
                    "id": next,
                    "firstName": body.get("firstName").cloned().unwrap_or(Value::Null),
                    "surname": 0,
                    "email": body.get("email").cloned().unwrap_or(Value::Null),
                    "work": {"site": 1, "startDate": 20_260_101},
                }),
            )
        }
        Route::UploadDocument { employee_id, .. } => Reply::json(
            200,
            &json!({
                "id": shared.lock().next_document_id,
                "employeeId": employee_id.parse::<u64>().ok(),
                "name": 7,
                "documentName": 7,
                "status": "Created",
                "tags": {},
            }),
        ),
        Route::PostComment => Reply::jsonapi(
            200,
            &json!({"data": {"id": shared.lock().next_comment_id, "type": "comments",
                "attributes": {"body_text": 12345, "created_at": 0}}}),
        ),
        Route::DownloadFile { .. } => Reply::json(200, &json!({"url": 1, "expires": "never"})),
        // Nothing stored: a 2xx the client cannot tell from an accepted post.
        Route::HireApiPost => Reply::json(200, &json!({"id": 0, "status": false})),
        _ => {
            let reply = normal(shared, route, req).await;
            let mut v: Value =
                serde_json::from_slice(&reply.body).unwrap_or_else(|_| json!({"id": 0}));
            faults::wrong_types(&mut v);
            Reply {
                status: 200,
                body: serde_json::to_vec(&v).unwrap_or_default(),
                ..reply
            }
        }
    }
}

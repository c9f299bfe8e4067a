//! A thin typed client for the parts of Pinpoint's API hirebridge uses: list hired
//! applications, read one, read its comments, post a comment.
//!
//! It owns URLs, headers and JSON:API shapes. It must not know about HiBob or the ledger.

pub mod listing;
pub mod model;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

use crate::config::PinpointConfig;
use crate::crashpoint;
use std::sync::Arc;

use crate::http::{Api, ApiError, AuthBreaker, Effect, Endpoint, ErrorBody, Gate, HttpClient};
pub use listing::{Listing, ListingError, Page};
pub use model::{
    ApplicationsPage, Attachment, Comment, HiredApplication, SortedRecord, UnusableRecord,
};

const JSON_API: &str = "application/vnd.api+json";

/// The page size of a listing of what changed: on a settled tenant its first page is its
/// only one, and holds mostly applications that did not change; a hundred keeps that page
/// cheap to read while a burst of changes still takes few requests.
pub const CHANGED_PAGE_SIZE: u32 = 100;

/// A stage filter value no stage can have: what the contract probe lists by.
const NO_SUCH_STAGE: &str = "hirebridge-probe-no-such-stage";

/// Without this filter Pinpoint silently hides applications on confidential and private jobs:
/// missing a hire that way is the worst bug this product could have.
const ALL_VISIBILITIES: &str = "external,internal,private_job,confidential";

const READ_PERMISSION: &str = "Pinpoint refused access (403): the API integration is not \
    enabled for this tenant, or the API key lacks read permission on applications; ask a \
    Pinpoint administrator to enable API access and give the key read access to applications";
const WRITE_PERMISSION: &str = "Pinpoint refused the comment (403): the API key lacks write \
    permission on comments (or the API integration is not enabled); ask a Pinpoint \
    administrator to give the key write access to comments";
const UNAUTHORIZED: &str = "the Pinpoint API key was refused (401): check that PINPOINT_API_KEY \
    (or pinpoint.api_key_file) holds a current key from Pinpoint's API settings";

const LIST: Endpoint = Endpoint {
    api: Api::Pinpoint,
    name: "GET /applications",
    effect: Effect::Read,
    permission: READ_PERMISSION,
    max_answer_bytes: crate::http::MAX_RESPONSE_BYTES,
};
const GET_ONE: Endpoint = Endpoint {
    api: Api::Pinpoint,
    name: "GET /applications/{id}",
    effect: Effect::Read,
    permission: READ_PERMISSION,
    max_answer_bytes: crate::http::MAX_RESPONSE_BYTES,
};
const POST_COMMENT: Endpoint = Endpoint {
    api: Api::Pinpoint,
    name: "POST /comments",
    effect: Effect::Write,
    permission: WRITE_PERMISSION,
    max_answer_bytes: crate::http::MAX_RESPONSE_BYTES,
};

fn describe(body: &[u8]) -> ErrorBody {
    ErrorBody {
        key: None,
        message: model::error_message(body),
    }
}

#[derive(Clone)]
pub struct PinpointClient {
    http: HttpClient,
    /// Pinpoint publishes no per-endpoint limits: one gate for all of it.
    gate: Arc<Gate>,
    base: Url,
    api_key: SecretString,
    page_size: u32,
    hired_stage_ids: Vec<String>,
    /// `include=` for application reads: `job`, plus what the field mapping refers to.
    include: String,
}

/// One application read on its own, with the stage group it is in when Pinpoint says so.
#[derive(Debug)]
pub struct OneApplication {
    pub record: Result<HiredApplication, UnusableRecord>,
    /// The group of its stage (e.g. `hired`) when the answer names one (see
    /// [`model::stage_group`]); `None` proves nothing either way.
    pub stage_group: Option<String>,
}

/// One page of the listing plus where the next one is.
#[derive(Debug)]
pub struct ListedPage {
    pub page: ApplicationsPage,
    pub next: Option<PageRequest>,
}

/// A listing page to fetch, and whether the server led there with `links.next`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub url: Url,
    /// The previous page carried `links.next`: the server paginates with links, so a page
    /// without one is the last, however full it is (JSON:API omits an unavailable link).
    followed_link: bool,
}

impl PageRequest {
    fn first(url: Url) -> Self {
        Self {
            url,
            followed_link: false,
        }
    }
}

impl PinpointClient {
    pub fn new(http: HttpClient, config: &PinpointConfig) -> Self {
        Self {
            gate: http.gate(
                Api::Pinpoint,
                "Pinpoint",
                config.rate_limit,
                Arc::new(AuthBreaker::default()),
            ),
            http,
            base: config.base_url.clone(),
            api_key: config.api_key.clone(),
            page_size: config.page_size,
            hired_stage_ids: config.hired_stage_ids.clone(),
            include: "job".into(),
        }
    }

    /// Reads applications with these related records (`job`, `offers`, `custom_attributes`,
    /// `job.department`, …): what the field mapping needs and nothing more.
    pub fn including(mut self, includes: &[&str]) -> Self {
        if !includes.is_empty() {
            self.include = includes.join(",");
        }
        self
    }

    /// After a configuration reload: keeps `previous`'s gate when it paces the same, so a
    /// server window already half spent is not forgotten (and nudges still running on the old
    /// client share it).
    pub fn keeping_gate_of(mut self, previous: &PinpointClient) -> Self {
        if self.gate.same_settings(&previous.gate) {
            self.gate = previous.gate.clone();
        }
        self
    }

    /// A new pass: forget a refused key (it may have been fixed) and probe carefully again.
    pub fn begin_pass(&self) {
        self.gate.begin_pass();
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}/{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }

    /// The first page of each listing that together cover every hired application: one
    /// listing by the *hired* stage group, or one per configured hired stage id.
    /// The hired-stage listing, page by page (see [`Listing`]).
    pub fn listing(&self) -> Listing {
        Listing::new(self)
    }

    /// The listing of what changed since `since` (see [`Listing::changed_since`]).
    pub fn listing_changed_since(&self, since: chrono::DateTime<chrono::Utc>) -> Listing {
        Listing::changed_since(self, since)
    }

    pub fn first_pages(&self) -> Vec<PageRequest> {
        self.first_pages_sorted("id", self.page_size)
    }

    /// The first pages of the listing of what changed: newest change first, in pages of at
    /// most [`CHANGED_PAGE_SIZE`].
    pub fn first_changed_pages(&self) -> Vec<PageRequest> {
        self.first_pages_sorted("-updated_at", self.page_size.min(CHANGED_PAGE_SIZE))
    }

    /// The first pages, sorted by `sort` (`id`: a stable order for a full listing;
    /// `-updated_at`: the most recently changed first), `size` applications a page.
    pub fn first_pages_sorted(&self, sort: &str, size: u32) -> Vec<PageRequest> {
        let filters: Vec<(&str, &str)> = if self.hired_stage_ids.is_empty() {
            vec![("filter[stage_basic_type]", "hired")]
        } else {
            self.hired_stage_ids
                .iter()
                .map(|id| ("filter[stage_id]", id.as_str()))
                .collect()
        };
        filters
            .into_iter()
            .map(|(k, v)| {
                let mut url = self.url("applications");
                url.query_pairs_mut()
                    .append_pair(k, v)
                    .append_pair("filter[job_visibility]", ALL_VISIBILITIES)
                    .append_pair("extra_fields[applications]", "attachments")
                    .append_pair("include", &self.include)
                    .append_pair("sort", sort)
                    .append_pair("page[number]", "1")
                    .append_pair("page[size]", &size.to_string());
                PageRequest::first(url)
            })
            .collect()
    }

    fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.http
            .reqwest()
            .request(method, url)
            .header("X-API-KEY", sensitive(self.api_key.expose_secret()))
            .header(reqwest::header::ACCEPT, JSON_API)
    }

    /// Fetches one page of a listing started by [`Self::first_pages`].
    pub async fn fetch_page(&self, request: &PageRequest) -> Result<ListedPage, ApiError> {
        let url = &request.url;
        crashpoint::hit("pinpoint.list.before");
        let answer = self
            .http
            .send(
                &LIST,
                &self.gate,
                self.request(reqwest::Method::GET, url.clone()),
                describe,
                UNAUTHORIZED,
            )
            .await;
        crashpoint::hit("pinpoint.list.after");
        let page =
            model::applications_page(&answer?.body).map_err(|e| ApiError::malformed(&LIST, e))?;
        let next = self.next_page(request, &page)?;
        Ok(ListedPage { page, next })
    }

    /// Follows `links.next` when present. Without one: the end, if the server led here with
    /// `links.next` (it paginates with links and this is its last page); otherwise asks for
    /// the following page number until a short page. Never assumes the total fits one page.
    fn next_page(
        &self,
        request: &PageRequest,
        page: &ApplicationsPage,
    ) -> Result<Option<PageRequest>, ApiError> {
        let current = &request.url;
        if let Some(link) = &page.next_link {
            let next = current
                .join(link)
                .map_err(|e| ApiError::malformed(&LIST, format!("links.next {link:?}: {e}")))?;
            // The API key goes with every request: never send it to another origin.
            if next.origin() != self.base.origin() {
                return Err(ApiError::malformed(
                    &LIST,
                    "links.next points at another host; refusing to send the API key there",
                ));
            }
            if next == *current {
                return Ok(None);
            }
            return Ok(Some(PageRequest {
                url: next,
                followed_link: true,
            }));
        }
        // The size this listing asked for (a listing of what changed asks for less).
        let size = current
            .query_pairs()
            .find(|(k, _)| k == "page[size]")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(self.page_size);
        if request.followed_link || page.records < size as usize {
            return Ok(None);
        }
        let number: u32 = current
            .query_pairs()
            .find(|(k, _)| k == "page[number]")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1);
        let mut next = current.clone();
        let pairs: Vec<(String, String)> = current
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "page[number]" {
                    (number + 1).to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        next.query_pairs_mut().clear().extend_pairs(pairs);
        Ok(Some(PageRequest {
            url: next,
            followed_link: false,
        }))
    }

    fn application_url(&self, id: &str, include: &str) -> Url {
        let mut url = self.url(&format!("applications/{}", urlencode(id)));
        url.query_pairs_mut()
            .append_pair("filter[job_visibility]", ALL_VISIBILITIES)
            .append_pair("extra_fields[applications]", "attachments")
            .append_pair("include", include);
        url
    }

    /// Reads one application (with its attachments and what the mapping includes).
    pub async fn application(
        &self,
        id: &str,
    ) -> Result<Result<HiredApplication, UnusableRecord>, ApiError> {
        Ok(self.application_with_stage(id).await?.record)
    }

    /// Reads one application (with its attachments, what the mapping includes, and its stage
    /// record) and the stage group it is in, when the answer names it.
    pub async fn application_with_stage(&self, id: &str) -> Result<OneApplication, ApiError> {
        crashpoint::hit("pinpoint.application.before");
        let include = format!("{},stage", self.include);
        let answer = self
            .http
            .send(
                &GET_ONE,
                &self.gate,
                self.request(reqwest::Method::GET, self.application_url(id, &include)),
                describe,
                UNAUTHORIZED,
            )
            .await;
        crashpoint::hit("pinpoint.application.after");
        let answer = answer?;
        let record = model::single_application(&answer.body)
            .map_err(|e| ApiError::malformed(&GET_ONE, e))?;
        Ok(OneApplication {
            record,
            stage_group: model::stage_group(&answer.body),
        })
    }

    /// The comments on one application, to recognise one hirebridge already posted.
    pub async fn comments(&self, application_id: &str) -> Result<Vec<Comment>, ApiError> {
        crashpoint::hit("pinpoint.comments.before");
        let answer = self
            .http
            .send(
                &GET_ONE,
                &self.gate,
                self.request(
                    reqwest::Method::GET,
                    self.application_url(application_id, "comments"),
                ),
                describe,
                UNAUTHORIZED,
            )
            .await;
        crashpoint::hit("pinpoint.comments.after");
        model::included_comments(&answer?.body).map_err(|e| ApiError::malformed(&GET_ONE, e))
    }

    /// Whether Pinpoint honours the hired-stage filter the listing relies on: the same filter
    /// with a value no stage can have must list nothing. `Ok(n)` is how many applications it
    /// listed anyway (at most one is asked for): anything but 0 means the filter is ignored and
    /// the hired-stage listing would list every application.
    pub async fn probe_stage_filter(&self) -> Result<usize, ApiError> {
        self.count_first_page(Some((self.stage_filter_key(), NO_SUCH_STAGE)))
            .await
    }

    /// The filter key the hired-stage listing uses (for messages).
    pub fn stage_filter_key(&self) -> &'static str {
        if self.hired_stage_ids.is_empty() {
            "filter[stage_basic_type]"
        } else {
            "filter[stage_id]"
        }
    }

    /// The stage filter the hired-stage listing sends, for telling whether a stored contract
    /// report was made under the same one.
    pub fn listing_filters(&self) -> String {
        if self.hired_stage_ids.is_empty() {
            "filter[stage_basic_type]=hired".into()
        } else {
            format!("filter[stage_id]={}", self.hired_stage_ids.join(","))
        }
    }

    /// One cheap authenticated read, for `check`: the first application of any stage, with
    /// the visibility filter. Returns how many records the page held (0 or 1).
    pub async fn probe(&self) -> Result<usize, ApiError> {
        self.count_first_page(None).await
    }

    /// How many records a one-application page of the listing holds (every job visibility,
    /// plus `filter` when given).
    async fn count_first_page(&self, filter: Option<(&str, &str)>) -> Result<usize, ApiError> {
        let mut url = self.url("applications");
        {
            let mut query = url.query_pairs_mut();
            if let Some((key, value)) = filter {
                query.append_pair(key, value);
            }
            query
                .append_pair("filter[job_visibility]", ALL_VISIBILITIES)
                .append_pair("page[number]", "1")
                .append_pair("page[size]", "1");
        }
        Ok(self.probe_read(url, &[]).await?.records)
    }

    /// The top-level relationships the listing includes (`job` for `job.department`).
    pub fn included_relationships(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .include
            .split(',')
            .filter_map(|path| path.split('.').next())
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .collect();
        names.dedup();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// A one-application page of the listing of any stage, asked exactly as the pass asks
    /// (every visibility, attachments, the includes): what the contract probes look at. Page
    /// 2 is reached through `link` (the first page's `links.next`) when given.
    pub async fn probe_records(
        &self,
        page_number: u32,
        link: Option<&str>,
    ) -> Result<model::ProbePage, ApiError> {
        let url = match link {
            Some(link) => {
                let url = self
                    .base
                    .join(link)
                    .map_err(|e| ApiError::malformed(&LIST, format!("links.next {link:?}: {e}")))?;
                if url.origin() != self.base.origin() {
                    return Err(ApiError::malformed(
                        &LIST,
                        "links.next points at another host; refusing to send the API key there",
                    ));
                }
                url
            }
            None => {
                let mut url = self.url("applications");
                url.query_pairs_mut()
                    .append_pair("filter[job_visibility]", ALL_VISIBILITIES)
                    .append_pair("extra_fields[applications]", "attachments")
                    .append_pair("include", &self.include)
                    .append_pair("sort", "id")
                    .append_pair("page[number]", &page_number.to_string())
                    .append_pair("page[size]", "1");
                url
            }
        };
        self.probe_read(url, &self.included_relationships()).await
    }

    /// Page `page` of one-application pages of the listing of every stage (every job
    /// visibility) sorted by `sort`: its application's id and `updated_at`, if it has one.
    pub async fn probe_sorted(
        &self,
        sort: &str,
        page: u32,
    ) -> Result<Option<SortedRecord>, ApiError> {
        let mut url = self.url("applications");
        url.query_pairs_mut()
            .append_pair("filter[job_visibility]", ALL_VISIBILITIES)
            .append_pair("sort", sort)
            .append_pair("page[number]", &page.to_string())
            .append_pair("page[size]", "1");
        let answer = self.list_get(url).await?;
        model::first_sorted_record(&answer.body).map_err(|e| ApiError::malformed(&LIST, e))
    }

    /// A one-application page listed with `filter[job_visibility]` set to `visibility` alone.
    pub async fn probe_visibility(&self, visibility: &str) -> Result<model::ProbePage, ApiError> {
        let mut url = self.url("applications");
        url.query_pairs_mut()
            .append_pair("filter[job_visibility]", visibility)
            .append_pair("page[number]", "1")
            .append_pair("page[size]", "1");
        self.probe_read(url, &[]).await
    }

    async fn probe_read(
        &self,
        url: Url,
        relationships: &[&str],
    ) -> Result<model::ProbePage, ApiError> {
        let answer = self.list_get(url).await?;
        model::probe_page(&answer.body, relationships).map_err(|e| ApiError::malformed(&LIST, e))
    }

    /// One read of the applications endpoint at `url`.
    async fn list_get(&self, url: Url) -> Result<crate::http::Answer, ApiError> {
        self.http
            .send(
                &LIST,
                &self.gate,
                self.request(reqwest::Method::GET, url),
                describe,
                UNAUTHORIZED,
            )
            .await
    }

    /// Posts a comment; returns its id. Not idempotent: callers record intent first.
    pub async fn post_comment(
        &self,
        application_id: &str,
        body_text: &str,
    ) -> Result<crate::hire::CommentId, ApiError> {
        let body = json!({ "data": { "type": "comments",
            "attributes": { "body_text": body_text },
            "relationships": { "commentable": { "data": { "type": "applications", "id": application_id } } } } });
        let request = self
            .request(reqwest::Method::POST, self.url("comments"))
            .header(reqwest::header::CONTENT_TYPE, JSON_API)
            .body(body.to_string());
        crashpoint::hit("pinpoint.comment.before");
        let answer = self
            .http
            .send(&POST_COMMENT, &self.gate, request, describe, UNAUTHORIZED)
            .await;
        crashpoint::hit("pinpoint.comment.after");
        model::created_comment_id(&answer?.body)
            .map(crate::hire::CommentId::from)
            .map_err(|e| ApiError::malformed(&POST_COMMENT, e))
    }
}

/// Ids are opaque strings: keep a hostile one from changing the path.
fn urlencode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// Marks the key so that no `Debug` of the request can show it.
fn sensitive(value: &str) -> reqwest::header::HeaderValue {
    let mut v = reqwest::header::HeaderValue::from_str(value)
        .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

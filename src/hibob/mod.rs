//! A thin typed client for the parts of HiBob's API hirebridge uses: search people by email,
//! create an employee, list and upload documents; and, in `hire_api` with the document of
//! `hire_document`, the post of a hire to Bob's Hire API for HR's New hire flow.
//!
//! It owns URLs, authentication and JSON shapes, and one rate limiter per endpoint class
//! because HiBob counts its limits per endpoint. It must not know about the ledger; of
//! Pinpoint it knows only the hired application the Hire API's document describes.

pub mod hire_api;
pub mod hire_document;
pub mod model;
pub mod people;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

use crate::config::{CvFolder, HibobConfig, HibobCredentials};
use crate::crashpoint;
use std::sync::Arc;

use crate::http::{Api, ApiError, AuthBreaker, Effect, Endpoint, ErrorBody, Gate, HttpClient};
pub use hire_api::{Delivered, HireApiClient, HirePostError};
pub use hire_document::HireDocument;
pub use model::{
    CurrentValues, Document, FieldInfo, FoundEmployee, ListValue, NewEmployee, create_body,
};

/// The error key HiBob answers a create with when the email is taken.
pub const EMAIL_EXISTS_KEY: &str = "validations.email.alreadyexists";

const UNAUTHORIZED: &str = "HiBob refused the service user (401): check HIBOB_SERVICE_USER_ID and \
    HIBOB_SERVICE_USER_TOKEN (or HIBOB_BASE64_TOKEN, or their *_file keys); hirebridge will not \
    retry, because repeated auth failures can get this host's IP blocked";

const SEARCH: Endpoint = Endpoint {
    api: Api::Hibob,
    name: "POST /people/search",
    effect: Effect::Read,
    permission: "the HiBob service user may not search people (403): add it to a permission \
        group that can view all employees' root fields, including inactive ones",
    max_answer_bytes: crate::http::MAX_RESPONSE_BYTES,
};
/// How long a search that answers with everyone may take, body included (`request_timeout`
/// is sized for answers read whole; everyone in a large tenant takes longer to send).
const STREAMED_SEARCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);
/// The same search when it may answer with everyone: streamed, so no answer is too large.
const STREAMED_SEARCH: Endpoint = Endpoint {
    max_answer_bytes: crate::http::MAX_DIRECTORY_BYTES,
    ..SEARCH
};
const CREATE: Endpoint = Endpoint {
    api: Api::Hibob,
    name: "POST /people",
    effect: Effect::Write,
    permission: "the HiBob service user may not create employees (403): grant its permission \
        group the \"Add employees\" people permission",
    max_answer_bytes: crate::http::MAX_RESPONSE_BYTES,
};
const UPDATE: Endpoint = Endpoint {
    api: Api::Hibob,
    name: "PUT /people/{id}",
    effect: Effect::Write,
    permission: "the HiBob service user may not update employees (403): grant its permission \
        group edit access to the mapped fields (Settings > Permission groups)",
    max_answer_bytes: crate::http::MAX_RESPONSE_BYTES,
};
const START_DATE: Endpoint = Endpoint {
    api: Api::Hibob,
    name: "POST /employees/{id}/start-date",
    effect: Effect::Write,
    permission: "the HiBob service user may not change start dates (403): grant its permission \
        group edit access to the Work section's start date",
    max_answer_bytes: crate::http::MAX_RESPONSE_BYTES,
};
const LIST_DOCS: Endpoint = Endpoint {
    api: Api::Hibob,
    name: "GET /docs/people/{id}",
    effect: Effect::Read,
    permission: "the HiBob service user may not view documents (403): grant its permission \
        group view access to the employee documents folder hirebridge uploads to",
    max_answer_bytes: crate::http::MAX_RESPONSE_BYTES,
};
const UPLOAD_DOC: Endpoint = Endpoint {
    api: Api::Hibob,
    name: "POST /docs/people/{id}/{folder}",
    effect: Effect::Write,
    permission: "the HiBob service user may not upload documents (403): grant its permission \
        group upload access to the configured hibob.cv_folder",
    max_answer_bytes: crate::http::MAX_RESPONSE_BYTES,
};

const FIELDS: Endpoint = Endpoint {
    api: Api::Hibob,
    name: "GET /company/people/fields",
    effect: Effect::Read,
    permission: "the HiBob service user may not read field metadata (403): add it to a \
        permission group (a new service user has no permissions at all)",
    max_answer_bytes: crate::http::MAX_RESPONSE_BYTES,
};
const NAMED_LIST: Endpoint = Endpoint {
    api: Api::Hibob,
    name: "GET /company/named-lists/{name}",
    effect: Effect::Read,
    permission: "the HiBob service user may not read company lists (403): grant its permission \
        group access to company lists (Settings > Lists)",
    max_answer_bytes: crate::http::MAX_RESPONSE_BYTES,
};

fn describe(body: &[u8]) -> ErrorBody {
    let (key, message) = model::error_body(body);
    ErrorBody { key, message }
}

/// What a create came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    Created {
        employee_id: crate::hire::EmployeeId,
    },
    /// HiBob already has an employee with this email (it is unique there): adopt it.
    EmailExists,
}

#[derive(Clone)]
pub struct HibobClient {
    http: HttpClient,
    base: Url,
    authorization: SecretString,
    search_gate: Arc<Gate>,
    create_gate: Arc<Gate>,
    update_gate: Arc<Gate>,
    documents_gate: Arc<Gate>,
    /// Field metadata and named lists, for `check`.
    metadata_gate: Arc<Gate>,
}

impl HibobClient {
    pub fn new(http: HttpClient, config: &HibobConfig) -> Self {
        let basic = match &config.credentials {
            HibobCredentials::ServiceUser { id, token } => {
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{id}:{}", token.expose_secret()))
            }
            HibobCredentials::Base64(b) => b.expose_secret().to_owned(),
        };
        // HiBob counts its limits per endpoint; one refused credential stops all of them.
        let auth = Arc::new(AuthBreaker::default());
        let gate = |name, rate| http.gate(Api::Hibob, name, rate, auth.clone());
        Self {
            search_gate: gate("HiBob search", config.rate_limit),
            create_gate: gate("HiBob create", config.rate_limit),
            update_gate: gate("HiBob update", config.rate_limit),
            documents_gate: gate("HiBob documents", config.documents_rate_limit),
            metadata_gate: gate("HiBob metadata", config.rate_limit),
            http,
            base: config.base_url.clone(),
            authorization: SecretString::from(format!("Basic {basic}")),
        }
    }

    /// After a configuration reload: keeps `previous`'s gates when they all pace the same
    /// (they share one credential breaker, so all or none), so server windows already half
    /// spent are not forgotten and nudges still running on the old client share them.
    pub fn keeping_gates_of(mut self, previous: &HibobClient) -> Self {
        let same = [
            (&self.search_gate, &previous.search_gate),
            (&self.create_gate, &previous.create_gate),
            (&self.documents_gate, &previous.documents_gate),
            (&self.metadata_gate, &previous.metadata_gate),
        ]
        .iter()
        .all(|(new, old)| new.same_settings(old));
        if same {
            self.search_gate = previous.search_gate.clone();
            self.create_gate = previous.create_gate.clone();
            self.documents_gate = previous.documents_gate.clone();
            self.metadata_gate = previous.metadata_gate.clone();
        }
        self
    }

    /// A new pass: forget a refused credential (it may have been fixed) and probe carefully.
    pub fn begin_pass(&self) {
        for gate in [
            &self.search_gate,
            &self.create_gate,
            &self.update_gate,
            &self.documents_gate,
            &self.metadata_gate,
        ] {
            gate.begin_pass();
        }
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}/{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut auth = reqwest::header::HeaderValue::from_str(self.authorization.expose_secret())
            .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("Basic"));
        auth.set_sensitive(true);
        self.http
            .reqwest()
            .request(method, self.url(path))
            .header(reqwest::header::AUTHORIZATION, auth)
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// `POST /people/search` with `body`, marked for crash tests as a lookup.
    async fn search(&self, body: &serde_json::Value) -> Result<crate::http::Answer, ApiError> {
        crashpoint::hit("hibob.search.before");
        let answer = self.search_unmarked(body).await;
        crashpoint::hit("hibob.search.after");
        answer
    }

    async fn search_unmarked(
        &self,
        body: &serde_json::Value,
    ) -> Result<crate::http::Answer, ApiError> {
        self.http
            .send(
                &SEARCH,
                &self.search_gate,
                self.request(reqwest::Method::POST, "people/search")
                    .json(body),
                describe,
                UNAUTHORIZED,
            )
            .await
    }

    /// Finds employees by email, active or not, in one request for the whole batch.
    pub async fn search_by_emails(
        &self,
        emails: &[String],
    ) -> Result<Vec<FoundEmployee>, ApiError> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        // `showInactive` matters: a new hire with a future start date is not active yet.
        let body = json!({
            // The lifecycle tells a future starter (adopt) from a former employee (a rehire).
            "fields": ["root.id", "root.email", "home.privateEmail", "internal.lifecycleStatus", "internal.terminationDate"],
            "filters": [{ "fieldPath": "root.email", "operator": "equals", "values": emails }],
            "showInactive": true,
        });
        let answer = self.search(&body).await?;
        model::found_employees(&answer.body).map_err(|e| ApiError::malformed(&SEARCH, e))
    }

    /// The people, active or not, whose login or private address is one of `wanted` (email
    /// keys, [`crate::identity::email_key`]), with both addresses and the lifecycle: how a
    /// hire is found under a work address HR gave them (search filters only on `root.email`,
    /// so a match on `home.privateEmail` needs everyone). HiBob has no page size for search:
    /// the answer holds everyone, and is streamed, keeping only the matches.
    pub async fn people_at_addresses(
        &self,
        wanted: std::collections::HashSet<String>,
    ) -> Result<Vec<FoundEmployee>, ApiError> {
        let fields = [
            "root.id",
            "root.email",
            "home.privateEmail",
            "internal.lifecycleStatus",
            "internal.terminationDate",
        ];
        self.everyone_streamed(&fields, move |reader| people::matching(reader, &wanted))
            .await
    }

    /// Everyone's login and private address, active or not, streamed into a filter of fixed
    /// size (see [`people::AddressFilter`]): whether a hire's address may be someone's,
    /// without holding anyone.
    pub async fn everyone_addresses(&self) -> Result<people::AddressFilter, ApiError> {
        let fields = ["root.id", "root.email", "home.privateEmail"];
        self.everyone_streamed(&fields, people::AddressFilter::read)
            .await
    }

    /// Everyone in HiBob, active or not, with `fields`, streamed into `consume` (the answer
    /// holds everyone; it is never held whole).
    async fn everyone_streamed<T: Send + 'static>(
        &self,
        fields: &[&str],
        consume: impl FnOnce(&mut dyn std::io::Read) -> Result<T, crate::http::BodyError>
        + Send
        + 'static,
    ) -> Result<T, ApiError> {
        let body = json!({ "fields": fields, "showInactive": true });
        crashpoint::hit("hibob.search.before");
        let read = self
            .http
            .send_streamed(
                &self.search_call(),
                self.request(reqwest::Method::POST, "people/search")
                    .timeout(STREAMED_SEARCH_TIMEOUT)
                    .json(&body),
                consume,
            )
            .await;
        crashpoint::hit("hibob.search.after");
        read
    }

    fn search_call(&self) -> crate::http::Call<'_> {
        crate::http::Call {
            endpoint: &STREAMED_SEARCH,
            gate: &self.search_gate,
            describe,
            unauthorized_hint: UNAUTHORIZED,
        }
    }

    /// Whether search takes a batch of `size` emails: a search for that many addresses no one
    /// has (`.invalid` is reserved) must answer, with nobody. Returns how many it found.
    pub async fn probe_search_batch(&self, size: usize) -> Result<usize, ApiError> {
        let emails: Vec<String> = (1..=size.max(1))
            .map(|i| format!("hirebridge-probe-{i}@hirebridge.invalid"))
            .collect();
        Ok(self.search_by_emails(&emails).await?.len())
    }

    /// Everyone (or, with `only`, those employees), active or not, with the fields hirebridge
    /// reads and their human-readable values appended: what the contract probes look at,
    /// counted as the answer streams in ([`people::PeopleSummary`]), which of `witnesses` it
    /// showed included. HiBob has no page size for search; this runs at startup and daily,
    /// never in a steady pass.
    pub async fn probe_people(
        &self,
        only: &[String],
        witnesses: &[String],
    ) -> Result<people::PeopleSummary, ApiError> {
        let mut body = json!({
            "fields": ["root.id", "root.email", "internal.lifecycleStatus", "internal.terminationDate", "work.site"],
            "showInactive": true,
            "humanReadable": "APPEND",
        });
        if !only.is_empty() {
            body["filters"] =
                json!([{ "fieldPath": "root.id", "operator": "equals", "values": only }]);
        }
        let witnesses: std::collections::HashSet<String> = witnesses.iter().cloned().collect();
        let today = chrono::Utc::now().date_naive();
        self.http
            .send_streamed(
                &self.search_call(),
                self.request(reqwest::Method::POST, "people/search")
                    .timeout(STREAMED_SEARCH_TIMEOUT)
                    .json(&body),
                move |reader| people::PeopleSummary::read(reader, &witnesses, today),
            )
            .await
    }

    /// Creates an employee. Not idempotent and HiBob offers no idempotency key: callers record
    /// their intent first and resolve an ambiguous outcome by searching.
    pub async fn create_employee(&self, employee: &NewEmployee) -> Result<CreateOutcome, ApiError> {
        crashpoint::hit("hibob.create.before");
        let result = self
            .http
            .send(
                &CREATE,
                &self.create_gate,
                self.request(reqwest::Method::POST, "people")
                    .json(&model::create_body(employee)),
                describe,
                UNAUTHORIZED,
            )
            .await;
        crashpoint::hit("hibob.create.after");
        match result {
            Ok(answer) => model::created_employee_id(&answer.body)
                .map(|id| CreateOutcome::Created {
                    employee_id: id.into(),
                })
                .map_err(|e| ApiError::malformed(&CREATE, e)),
            Err(ApiError::Invalid { key: Some(key), .. }) if key == EMAIL_EXISTS_KEY => {
                Ok(CreateOutcome::EmailExists)
            }
            Err(e) => Err(e),
        }
    }

    /// One employee's current values of `fields` (field paths), read with the search
    /// filtered by `root.id`: to see whether a field was edited in HiBob before updating it,
    /// and to resolve an update whose outcome is unknown. `None` when search does not show it.
    pub async fn employee_values(
        &self,
        employee_id: &str,
        fields: &[String],
    ) -> Result<Option<model::CurrentValues>, ApiError> {
        let mut asked: Vec<&str> = vec!["root.id"];
        asked.extend(fields.iter().map(String::as_str));
        // `humanReadable` is a body key (docs): APPEND keeps the machine values (dates as
        // YYYY-MM-DD, list fields as item ids) and adds the display values beside them.
        let body = json!({
            "fields": asked,
            "filters": [{ "fieldPath": "root.id", "operator": "equals", "values": [employee_id] }],
            "showInactive": true,
            "humanReadable": "APPEND",
        });
        let answer = self.search_unmarked(&body).await?;
        model::employee_values(&answer.body, employee_id, fields)
            .map_err(|e| ApiError::malformed(&SEARCH, e))
    }

    /// Updates some of an employee's fields. The start date, a column of HiBob's Work table,
    /// goes through `POST /employees/{id}/start-date` (`PUT /people/{id}` does not update
    /// table fields); the rest through `PUT /people/{id}` (nested JSON), where 304 means
    /// HiBob already holds them. Setting the same values again is harmless, but callers still
    /// record intent first.
    pub async fn update_employee(
        &self,
        employee_id: &str,
        values: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        let start_date = values.get(crate::mapping::START_DATE);
        let plain: Vec<(&str, &str)> = values
            .iter()
            .filter(|(k, _)| k.as_str() != crate::mapping::START_DATE)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if !plain.is_empty() {
            let body = crate::mapping::nested_body(plain);
            self.http
                .send(
                    &UPDATE,
                    &self.update_gate,
                    self.request(
                        reqwest::Method::PUT,
                        &format!("people/{}", segment(employee_id)),
                    )
                    .json(&body),
                    describe,
                    UNAUTHORIZED,
                )
                .await?;
        }
        if let Some(date) = start_date {
            self.http
                .send(
                    &START_DATE,
                    &self.update_gate,
                    self.request(
                        reqwest::Method::POST,
                        &format!("employees/{}/start-date", segment(employee_id)),
                    )
                    .json(&json!({
                        "startDate": date,
                        "reason": "start date changed in Pinpoint (hirebridge)",
                    })),
                    describe,
                    UNAUTHORIZED,
                )
                .await?;
        }
        Ok(())
    }

    /// Every employee field with its type and, for list fields, the named list behind it.
    /// Needs no special permission, so it is `check`'s cheap authenticated read.
    pub async fn people_fields(&self) -> Result<Vec<FieldInfo>, ApiError> {
        let answer = self
            .http
            .send(
                &FIELDS,
                &self.metadata_gate,
                self.request(reqwest::Method::GET, "company/people/fields"),
                describe,
                UNAUTHORIZED,
            )
            .await?;
        model::people_fields(&answer.body).map_err(|e| ApiError::malformed(&FIELDS, e))
    }

    /// The values of a company list such as `site`.
    pub async fn named_list(&self, name: &str) -> Result<Vec<ListValue>, ApiError> {
        let answer = self
            .http
            .send(
                &NAMED_LIST,
                &self.metadata_gate,
                self.request(
                    reqwest::Method::GET,
                    &format!("company/named-lists/{}", segment(name)),
                ),
                describe,
                UNAUTHORIZED,
            )
            .await?;
        model::named_list(&answer.body).map_err(|e| ApiError::malformed(&NAMED_LIST, e))
    }

    pub async fn documents(&self, employee_id: &str) -> Result<Vec<Document>, ApiError> {
        crashpoint::hit("hibob.documents.before");
        let answer = self.documents_answer(employee_id).await;
        crashpoint::hit("hibob.documents.after");
        model::documents(&answer?.body).map_err(|e| ApiError::malformed(&LIST_DOCS, e))
    }

    /// The documents list of one employee for a contract probe: how many documents it
    /// holds, or why its shape is not the one [`Self::documents`] reads.
    pub async fn probe_documents(
        &self,
        employee_id: &str,
    ) -> Result<Result<usize, String>, ApiError> {
        let answer = self.documents_answer(employee_id).await?;
        Ok(model::documents_strictly(&answer.body))
    }

    async fn documents_answer(&self, employee_id: &str) -> Result<crate::http::Answer, ApiError> {
        self.http
            .send(
                &LIST_DOCS,
                &self.documents_gate,
                self.request(
                    reqwest::Method::GET,
                    &format!("docs/people/{}", segment(employee_id)),
                ),
                describe,
                UNAUTHORIZED,
            )
            .await
    }

    /// Asks HiBob to fetch `url` into the employee's folder under `document_name`; returns the
    /// document id. HiBob fetches synchronously, so the URL must be fresh.
    pub async fn upload_document_from_url(
        &self,
        employee_id: &str,
        folder: CvFolder,
        document_name: &str,
        url: &str,
    ) -> Result<String, ApiError> {
        let body = json!({ "documentName": document_name, "documentUrl": url, "tags": [] });
        crashpoint::hit("hibob.upload.before");
        let answer = self
            .http
            .send(
                &UPLOAD_DOC,
                &self.documents_gate,
                self.request(
                    reqwest::Method::POST,
                    &format!("docs/people/{}/{}", segment(employee_id), folder.as_str()),
                )
                .json(&body),
                describe,
                UNAUTHORIZED,
            )
            .await;
        crashpoint::hit("hibob.upload.after");
        model::uploaded_document_id(&answer?.body).map_err(|e| ApiError::malformed(&UPLOAD_DOC, e))
    }
}

fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HttpConfig, RateLimit};
    use std::time::Duration;

    fn client(rate: RateLimit) -> HibobClient {
        let mut config = crate::config::Config::simulated(
            "http://127.0.0.1:1/pinpoint",
            "http://127.0.0.1:1/hibob",
            "k",
            ("id", "token"),
            std::path::Path::new("l"),
        )
        .unwrap();
        config.hibob.rate_limit = rate;
        let http = HttpClient::new(&HttpConfig {
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            read_retries: 0,
            max_rate_limit_wait: Duration::from_secs(1),
        })
        .unwrap();
        HibobClient::new(http, &config.hibob)
    }

    #[test]
    fn a_reload_keeps_the_gates_only_when_their_pace_is_unchanged() {
        let fifty = RateLimit::parse("k", "50/1m").unwrap();
        let old = client(fifty);
        let same = client(fifty).keeping_gates_of(&old);
        assert!(Arc::ptr_eq(&same.create_gate, &old.create_gate));
        assert!(Arc::ptr_eq(&same.documents_gate, &old.documents_gate));
        let faster = client(RateLimit::parse("k", "100/1m").unwrap()).keeping_gates_of(&old);
        assert!(!Arc::ptr_eq(&faster.create_gate, &old.create_gate));
        assert!(
            !Arc::ptr_eq(&faster.documents_gate, &old.documents_gate),
            "all or none"
        );
    }
}

//! The action's form: its fields, pre-filled with what the next `sync` would send; HiBob's
//! lists behind its dropdowns (also served for Stage Actions); and checking a submit's values
//! against them, field by field.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{ACTION_KEY, ACTION_LABEL, PluginState, SUBMIT_PATH, answer, authorized, parse_body};
use crate::employee::{APPROVED_EMAIL, APPROVED_FIRST_NAME, APPROVED_SURNAME};
use crate::hibob::NewEmployee;
use crate::hire::{ApplicationId, HireStatus};
use crate::mapping::{SITE as SITE_PATH, START_DATE as START_DATE_PATH};

pub const FIRST_NAME: &str = "firstName";
pub const LAST_NAME: &str = "lastName";
pub const EMAIL: &str = "email";
pub const START_DATE: &str = "startDate";
pub const SITE: &str = "site";
pub const DEPARTMENT: &str = "department";
pub const JOB_TITLE: &str = "jobTitle";
pub const APPLICATION_ID: &str = "applicationId";
/// `singleSelectOptionsListKey`s, each backed by one of HiBob's named lists.
pub const LIST_SITES: &str = "sites";
pub const LIST_DEPARTMENTS: &str = "departments";

const DEPARTMENT_PATH: &str = "work.department";
const TITLE_PATH: &str = "work.title";

/// HiBob's named list behind a list key.
fn hibob_list(key: &str) -> Option<&'static str> {
    match key {
        LIST_SITES => Some("site"),
        LIST_DEPARTMENTS => Some("department"),
        _ => None,
    }
}

/// A string or number as text; anything else is no value.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `key`'s value in an object (`{"key": value}`) or a list of `{key, value}`.
pub(super) fn value_in(container: &Value, key: &str) -> Option<String> {
    match container {
        Value::Object(map) => map.get(key).and_then(scalar),
        Value::Array(items) => items
            .iter()
            .find(|i| i.get("key").and_then(Value::as_str) == Some(key))
            .and_then(|i| i.get("value"))
            .and_then(scalar),
        _ => None,
    }
}

/// A field's value in a request: its `formFields`, else its `mappings`, else the body's own
/// key (Pinpoint's request shapes here are assumed; every form is read).
pub(super) fn field(body: &Value, key: &str) -> Option<String> {
    ["formFields", "mappings", "mappedValues"]
        .iter()
        .filter_map(|name| body.get(*name))
        .find_map(|c| value_in(c, key))
        .or_else(|| value_in(body, key))
}

/// The application the request is about: the `applicationId` field (the action's mapping),
/// else `application.id`. `Err`: present but not an application id.
pub(super) fn application_id(body: &Value) -> Option<Result<ApplicationId, String>> {
    let id = field(body, APPLICATION_ID)
        .or_else(|| body.pointer("/application/id").and_then(scalar))
        .or_else(|| body.get("application_id").and_then(scalar))?;
    let id = id.trim().to_owned();
    let plausible = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    Some(if plausible {
        Ok(ApplicationId::from(id))
    } else {
        Err("`applicationId` is not a Pinpoint application id".to_owned())
    })
}

/// The action meta answer around `fields`.
pub(super) fn form(fields: Vec<Value>) -> Value {
    json!({
        "actionVersion": super::VERSION,
        "key": ACTION_KEY,
        "label": ACTION_LABEL,
        "description": "Creates the candidate's HiBob employee (once), attaches their CV and comments on the application",
        "formFields": fields,
        "submitEndpoint": SUBMIT_PATH,
    })
}

pub(super) fn callout(key: &str, intent: &str, label: &str, description: &str) -> Value {
    json!({"key": key, "type": "callout", "intent": intent, "label": label, "description": description})
}

fn text(key: &str, label: &str, required: bool, value: Option<&str>) -> Value {
    json!({"key": key, "label": label, "type": "string", "required": required, "readonly": false, "value": value.unwrap_or("")})
}

fn options(values: &[String]) -> Vec<Value> {
    values
        .iter()
        .map(|v| json!({"label": v, "value": v}))
        .collect()
}

fn dropdown(
    key: &str,
    label: &str,
    required: bool,
    value: Option<&str>,
    list_key: &str,
    values: &[String],
) -> Value {
    json!({
        "key": key, "label": label, "type": "string", "required": required,
        "value": value.unwrap_or(""),
        "singleSelectOptions": options(values),
        "singleSelectOptionsListKey": list_key,
    })
}

const WRONG_KEY: &str = "The key in this plugin's configuration does not match hirebridge's (HIREBRIDGE_PLUGIN_KEY or plugin.key_file on the hirebridge host); enter the same key in Pinpoint's plugin configuration. Nothing was sent to HiBob.";

impl PluginState {
    /// The active values of the list behind `key`: from the cache, read again from HiBob
    /// when `wanted` is not among them (or nothing is cached). A failed read falls back on
    /// the cache.
    pub(super) async fn list_values(
        &self,
        key: &str,
        wanted: Option<&str>,
    ) -> Result<Vec<String>, String> {
        let Some(list) = hibob_list(key) else {
            return Err(format!(
                "unknown list {key:?}; the lists are {LIST_SITES:?} and {LIST_DEPARTMENTS:?}"
            ));
        };
        let mut cache = self.lists.lock().await;
        if let Some(values) = cache.get(key)
            && wanted.is_none_or(|w| values.iter().any(|v| v == w))
        {
            return Ok(values.clone());
        }
        match self.nudger().named_list(list).await {
            Ok(values) => {
                let active: Vec<String> = values
                    .into_iter()
                    .filter(|v| !v.archived)
                    .map(|v| v.value)
                    .collect();
                cache.insert(key.to_owned(), active.clone());
                Ok(active)
            }
            Err(e) => match cache.get(key) {
                Some(values) => Ok(values.clone()),
                None => {
                    // The details are the operator's (the log); Pinpoint's users get a sentence.
                    tracing::warn!(list, error = %e, "plugin: cannot read HiBob's list");
                    Err(format!("HiBob's {list:?} list could not be read just now"))
                }
            },
        }
    }
}

/// A form of one callout, in place of the fields, when there is nothing to fill in.
fn callout_form(key: &str, intent: &str, label: &str, text: &str) -> Value {
    form(vec![callout(key, intent, label, text)])
}

/// `POST /exportCandidate/meta`: the form, pre-filled with what the next `sync` would send;
/// a callout instead when the key is wrong or the hire is already in HiBob.
pub(super) async fn action_meta(
    State(state): State<PluginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let settings = state.settings();
    let (doc, id) = match requested_application(&settings, &headers, &body) {
        Ok(request) => request,
        Err((status, refusal)) => return answer(status, refusal),
    };
    let nudger = state.nudger();
    let entry = match nudger.ledger().entry(&id) {
        Ok(entry) => entry,
        Err(e) => {
            tracing::error!(application = %id, error = %e, "plugin form: the ledger failed");
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                callout_form(
                    "ledgerCallout",
                    "danger",
                    "hirebridge cannot read its ledger",
                    "hirebridge cannot read its ledger; its operator finds the cause in the journal (journalctl -u hirebridge). Nothing was sent to HiBob.",
                ),
            );
        }
    };
    if let Some(entry) = &entry
        && entry.status == HireStatus::Done
        && let Some(employee) = entry.hibob_employee_id()
    {
        let url = crate::config::ReportLinks::to(&settings.employee_url, employee);
        return answer(
            StatusCode::OK,
            callout_form(
                "doneCallout",
                "success",
                "Already in HiBob",
                &format!(
                    "This hire is HiBob employee {employee} ({url}); hirebridge will not create a second one."
                ),
            ),
        );
    }
    let mut notes = Vec::new();
    let prefill = prefill(&nudger, &id, &doc, &mut notes).await;
    let fields = form_fields(&state, &id, prefill, &mut notes).await;
    notes.extend(fields);
    answer(StatusCode::OK, form(notes))
}

/// The request's body and the application it names, once the key is right; else the status
/// and the callout that say what is wrong with the request.
fn requested_application(
    settings: &super::PluginSettings,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Value, ApplicationId), (StatusCode, Value)> {
    let doc = parse_body(body);
    if !authorized(settings, headers, doc.as_ref().ok()) {
        return Err((
            StatusCode::OK,
            callout_form("keyCallout", "danger", "Wrong plugin key", WRONG_KEY),
        ));
    }
    let doc = doc.map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            callout_form("requestCallout", "danger", "Bad request", &e),
        )
    })?;
    match application_id(&doc) {
        Some(Ok(id)) => Ok((doc, id)),
        problem => {
            let why = match problem {
                Some(Err(e)) => e,
                _ => "the request names no application (the action's `applicationId` mapping, {{application_id}})".to_owned(),
            };
            Err((
                StatusCode::BAD_REQUEST,
                callout_form(
                    "requestCallout",
                    "danger",
                    "No application",
                    &format!("{why}; register the plugin again so Pinpoint reads its mappings"),
                ),
            ))
        }
    }
}

/// What the next `sync` would send for the application; when Pinpoint or the mapping cannot
/// say, the names Pinpoint did send, with a note on why the rest is blank.
async fn prefill(
    nudger: &crate::reconcile::Nudger,
    id: &ApplicationId,
    doc: &Value,
    notes: &mut Vec<Value>,
) -> Prefill {
    let next = match nudger.next_create(id).await {
        Ok(next) => next,
        Err(e) => {
            tracing::warn!(error = %e, "plugin form: cannot read the application from Pinpoint");
            notes.push(callout(
                "pinpointCallout",
                "warning",
                "Pinpoint's record could not be read",
                "Pinpoint did not answer hirebridge just now; the form shows what Pinpoint sent.",
            ));
            return Prefill {
                first_name: field(doc, FIRST_NAME),
                last_name: field(doc, LAST_NAME),
                email: field(doc, EMAIL),
                ..Prefill::default()
            };
        }
    };
    if !next.hired {
        notes.push(callout(
            "stageCallout",
            "warning",
            "Not in a Hired stage",
            "Pinpoint does not show this application in a Hired stage: a submit sends nothing to HiBob until it is moved to Hired.",
        ));
    }
    match next.employee {
        Ok(new) => Prefill::from(&new),
        Err(e) => {
            notes.push(callout(
                "mappingCallout",
                "warning",
                "The field mapping cannot fill this form",
                &format!("{e}; fill the fields by hand"),
            ));
            Prefill {
                first_name: Some(next.application.first_name.clone()),
                last_name: Some(next.application.last_name.clone()),
                email: Some(next.application.email.clone()),
                ..Prefill::default()
            }
        }
    }
}

/// The form's fields in the order HR reads them, each pre-filled; a dropdown whose HiBob list
/// cannot be read is left empty, with a note (the value is still checked on submit).
async fn form_fields(
    state: &PluginState,
    id: &ApplicationId,
    prefill: Prefill,
    notes: &mut Vec<Value>,
) -> Vec<Value> {
    let mut fields = vec![
        json!({
            "key": APPLICATION_ID, "label": "Pinpoint application", "type": "string",
            "required": true, "readonly": true, "value": id,
        }),
        text(
            FIRST_NAME,
            "First name",
            true,
            prefill.first_name.as_deref(),
        ),
        text(LAST_NAME, "Surname", true, prefill.last_name.as_deref()),
        text(EMAIL, "Email", true, prefill.email.as_deref()),
        json!({
            "key": START_DATE, "label": "Start date", "type": "date", "required": true,
            "value": prefill.start_date.unwrap_or_default(),
        }),
    ];
    for (key, label, list, value, required) in [
        (SITE, "Site", LIST_SITES, &prefill.site, true),
        (
            DEPARTMENT,
            "Department",
            LIST_DEPARTMENTS,
            &prefill.department,
            false,
        ),
    ] {
        let values = match state.list_values(list, value.as_deref()).await {
            Ok(values) => values,
            Err(e) => {
                notes.push(callout(
                    &format!("{key}Callout"),
                    "warning",
                    "HiBob's list could not be read",
                    &format!("{e}; the value is checked when you submit"),
                ));
                Vec::new()
            }
        };
        fields.push(dropdown(
            key,
            label,
            required,
            value.as_deref(),
            list,
            &values,
        ));
    }
    fields.push(text(
        JOB_TITLE,
        "Job title",
        false,
        prefill.job_title.as_deref(),
    ));
    for (path, value) in &prefill.other {
        fields.push(text(path, path, false, Some(value)));
    }
    fields
}

/// What the form is pre-filled with.
#[derive(Debug, Default)]
struct Prefill {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    start_date: Option<String>,
    site: Option<String>,
    department: Option<String>,
    job_title: Option<String>,
    /// The mapping's other fields, by HiBob path.
    other: BTreeMap<String, String>,
}

impl From<&NewEmployee> for Prefill {
    fn from(new: &NewEmployee) -> Self {
        let mut other = new.fields.clone();
        Prefill {
            first_name: Some(new.first_name.clone()),
            last_name: Some(new.surname.clone()),
            email: Some(new.email.clone()),
            start_date: Some(new.start_date.format("%Y-%m-%d").to_string()),
            site: Some(new.site.clone()),
            department: other.remove(DEPARTMENT_PATH),
            job_title: other.remove(TITLE_PATH),
            other,
        }
    }
}

/// `POST /lists/{key}`: the options of one dropdown, for Stage Actions.
pub(super) async fn list(
    state: &PluginState,
    key: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let settings = state.settings();
    let doc = parse_body(body).ok();
    if !authorized(&settings, headers, doc.as_ref()) {
        return answer(StatusCode::UNAUTHORIZED, json!({"error": WRONG_KEY}));
    }
    if hibob_list(key).is_none() {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": format!("unknown list {key:?}; the lists are {LIST_SITES:?} and {LIST_DEPARTMENTS:?}")}),
        );
    }
    match state.list_values(key, None).await {
        Ok(values) => answer(
            StatusCode::OK,
            json!({"key": key, "options": options(&values), "singleSelectOptions": options(&values)}),
        ),
        Err(e) => answer(
            StatusCode::BAD_GATEWAY,
            json!({"error": format!("{e}; try again, or ask hirebridge's operator to run `hirebridge check`")}),
        ),
    }
}

/// `POST /lists` with the list's key in the body (`key` or `listKey`).
pub(super) async fn list_from_body(
    State(state): State<PluginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = parse_body(&body).ok().and_then(|doc| {
        ["key", "listKey", "singleSelectOptionsListKey"]
            .iter()
            .find_map(|k| doc.get(*k).and_then(scalar))
    });
    match key {
        Some(key) => list(&state, &key, &headers, &body).await,
        None => answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "name the list in the body's `key` (sites or departments), or POST to /lists/{key}"}),
        ),
    }
}

/// One field's error, as the framework shows it beside the field.
pub(super) fn field_error(key: &str, error: impl Into<String>) -> Value {
    json!({"key": key, "error": error.into()})
}

/// The nearest of `values` to `given`, for "did you mean".
fn nearest<'a>(values: &'a [String], given: &str) -> Option<&'a str> {
    values
        .iter()
        .min_by_key(|v| crate::check::edit_distance(&v.to_lowercase(), &given.to_lowercase()))
        .map(String::as_str)
}

fn looks_like_email(text: &str) -> bool {
    let mut parts = text.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A submit's values as they are checked, field by field: what passes is what HR approved (by
/// HiBob path), what does not is an error beside its field.
struct SubmitCheck<'a> {
    doc: &'a Value,
    approved: BTreeMap<String, String>,
    errors: Vec<Value>,
}

impl<'a> SubmitCheck<'a> {
    fn new(doc: &'a Value) -> Self {
        Self {
            doc,
            approved: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    /// The field's value, trimmed; `None` when the submit does not carry the field.
    fn get(&self, key: &str) -> Option<String> {
        field(self.doc, key).map(|v| v.trim().to_owned())
    }

    fn approve(&mut self, path: &str, value: String) {
        self.approved.insert(path.to_owned(), value);
    }

    fn refuse(&mut self, key: &str, error: impl Into<String>) {
        self.errors.push(field_error(key, error));
    }

    /// First name and surname: present and plausible as a name.
    fn names(&mut self) {
        for (key, label, path) in [
            (FIRST_NAME, "first name", APPROVED_FIRST_NAME),
            (LAST_NAME, "surname", APPROVED_SURNAME),
        ] {
            match self.get(key) {
                Some(v) if v.is_empty() => {
                    self.refuse(key, format!("HiBob needs a {label}; fill it in"))
                }
                Some(v) if v.chars().count() > 200 || v.chars().any(char::is_control) => {
                    self.refuse(key, format!("this is not a {label}; correct it"))
                }
                Some(v) => self.approve(path, v),
                None => {}
            }
        }
    }

    fn email(&mut self, next: Option<&NewEmployee>, candidate_email: Option<&str>) {
        match self.get(EMAIL) {
            Some(v) if v.is_empty() => {
                self.refuse(EMAIL, "HiBob needs an email address; fill it in")
            }
            Some(v) if !looks_like_email(&v) => self.refuse(
                EMAIL,
                format!("{v:?} is not an email address; write it as name@example.com"),
            ),
            Some(v) => {
                // The candidate's own address, sent by a mapping with no human edit, is not a
                // choice of address: the field mapping's work address stands.
                let mapped_other =
                    next.is_some_and(|n| !crate::identity::same_address(&n.email, &v));
                let is_candidates =
                    candidate_email.is_some_and(|c| crate::identity::same_address(c, &v));
                if !(mapped_other && is_candidates) {
                    self.approve(APPROVED_EMAIL, v);
                }
            }
            None => {}
        }
    }

    /// A start date in any form the mapping reads, approved as HiBob's `YYYY-MM-DD`; blank
    /// leaves the mapping's.
    fn start_date(&mut self) {
        let Some(v) = self.get(START_DATE).filter(|v| !v.is_empty()) else {
            return;
        };
        match crate::mapping::parse_date(&v) {
            Some(date) => self.approve(START_DATE_PATH, date.format("%Y-%m-%d").to_string()),
            None => self.refuse(
                START_DATE,
                format!("{v:?} is not a date; write it as YYYY-MM-DD, e.g. 2026-12-07"),
            ),
        }
    }

    /// Site and department: one of the active values of HiBob's list, else the nearest as a
    /// suggestion.
    async fn listed(&mut self, state: &PluginState) {
        for (key, list, path, what) in [
            (SITE, LIST_SITES, SITE_PATH, "sites"),
            (DEPARTMENT, LIST_DEPARTMENTS, DEPARTMENT_PATH, "departments"),
        ] {
            let Some(v) = self.get(key).filter(|v| !v.is_empty()) else {
                continue;
            };
            match state.list_values(list, Some(&v)).await {
                Ok(values) if values.contains(&v) => self.approve(path, v),
                Ok(values) => self.refuse(
                    key,
                    match nearest(&values, &v) {
                        Some(near) => {
                            format!("{v:?} is not one of HiBob's {what}; did you mean {near:?}?")
                        }
                        None => format!("{v:?} is not one of HiBob's {what}, which has none"),
                    },
                ),
                Err(e) => self.refuse(key, format!("{e}; submit again in a minute")),
            }
        }
    }

    /// The job title and the mapping's other fields, by their HiBob paths, as the form showed
    /// them: free text, taken as given.
    fn free_text(&mut self, next: Option<&NewEmployee>) {
        if let Some(v) = self.get(JOB_TITLE).filter(|v| !v.is_empty()) {
            self.approve(TITLE_PATH, v);
        }
        let Some(next) = next else {
            return;
        };
        for path in next.fields.keys() {
            if path == DEPARTMENT_PATH || path == TITLE_PATH {
                continue;
            }
            if let Some(v) = self.get(path).filter(|v| !v.is_empty()) {
                self.approve(path, v);
            }
        }
    }

    fn outcome(self) -> Result<BTreeMap<String, String>, Vec<Value>> {
        if self.errors.is_empty() {
            Ok(self.approved)
        } else {
            Err(self.errors)
        }
    }
}

/// Checks a submit's values. `Ok`: what HR approved, by HiBob field (the keys
/// [`crate::employee::with_approved`] reads); an absent value leaves the mapping's. `Err`: one
/// error per bad field, naming the nearest valid value where there is one.
pub(super) async fn check(
    state: &PluginState,
    doc: &Value,
    next: Option<&NewEmployee>,
    candidate_email: Option<&str>,
) -> Result<BTreeMap<String, String>, Vec<Value>> {
    let mut check = SubmitCheck::new(doc);
    check.names();
    check.email(next, candidate_email);
    check.start_date();
    check.listed(state).await;
    check.free_text(next);
    check.outcome()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_form_fields_mappings_or_the_body() {
        let body = json!({"formFields": [{"key": "firstName", "value": "Ada"}], "mappings": {"email": "a@b.co"}, "applicationId": 1001});
        assert_eq!(field(&body, FIRST_NAME).as_deref(), Some("Ada"));
        assert_eq!(field(&body, EMAIL).as_deref(), Some("a@b.co"));
        assert_eq!(application_id(&body), Some(Ok("1001".into())));
        assert!(matches!(
            application_id(&json!({"applicationId": "1 OR 1"})),
            Some(Err(_))
        ));
        assert_eq!(application_id(&json!({})), None);
    }

    #[test]
    fn emails_are_checked_for_shape() {
        assert!(looks_like_email("ada@example.com"));
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "a@b@c.com",
            "ada@example",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }

    #[test]
    fn the_nearest_value_is_suggested() {
        let sites = vec!["New York (Demo)".to_owned(), "London".to_owned()];
        assert_eq!(nearest(&sites, "Londn"), Some("London"));
    }
}

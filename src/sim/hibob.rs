//! Simulated HiBob HRIS: people search/create, documents, field metadata and named lists.

use std::time::Instant;

use base64::Engine;
use chrono::{NaiveDate, Utc};
use serde_json::{Map, Value, json};

use super::faults::Fault;
use super::state::{Shared, SimEmployee, State, StoredEmployee};
use super::wire::{FILES_PREFIX, Incoming, Reply, percent_decode};
use super::{Endpoint, HIBOB_MAX_DOCUMENT_BYTES, pinpoint};

fn authorized(shared: &Shared, req: &Incoming) -> Result<(), Reply> {
    let expected = {
        let st = shared.lock();
        (
            st.credentials.hibob_service_user_id.clone(),
            st.credentials.hibob_service_user_token.clone(),
        )
    };
    let ok = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .is_some_and(|pair| {
            pair.split_once(':') == Some((expected.0.as_str(), expected.1.as_str()))
        });
    // HiBob answers auth failures with an empty body.
    if ok { Ok(()) } else { Err(Reply::empty(401)) }
}

fn error(status: u16, key: &str, text: impl Into<String>, args: &[&str]) -> Reply {
    Reply::hibob_error(
        status,
        key,
        &text.into(),
        args.iter().map(|s| s.to_string()).collect(),
    )
}

pub(crate) fn malformed_json() -> Reply {
    error(
        400,
        "request.body.malformed",
        "Malformed JSON request body",
        &[],
    )
}

/// Counts the request in the endpoint's window, runs `f` if allowed, and stamps the headers on
/// whatever comes back.
fn rate_limited(shared: &Shared, endpoint: Endpoint, f: impl FnOnce() -> Reply) -> Reply {
    let check = shared.lock().rate_check(endpoint);
    let Some((allowed, limit, remaining, reset)) = check else {
        return f();
    };
    let reply = if allowed {
        f()
    } else {
        error(
            429,
            "rate.limit.exceeded",
            "Too many requests, please try again later",
            &[],
        )
    };
    reply
        .with_header("X-RateLimit-Limit", limit.to_string())
        .with_header("X-RateLimit-Remaining", remaining.to_string())
        .with_header("X-RateLimit-Reset", reset.to_string())
}

fn visible_to_search(
    st: &State,
    e: &StoredEmployee,
    show_inactive: bool,
    today: NaiveDate,
) -> bool {
    let lag_passed = e.created.is_none_or(|t| t.elapsed() >= st.read_lag);
    // A pre-hire whose start date is in the future is inactive until then.
    lag_passed && (show_inactive || e.emp.start_date <= today)
}

/// An employee as search shows it: root fields flat, the rest nested by category, with
/// whatever the employee was created or updated with.
fn employee_summary(e: &SimEmployee) -> Value {
    let mut out = json!({
        "id": e.id,
        "email": e.email,
        "firstName": e.first_name,
        "surname": e.surname,
        "displayName": format!("{} {}", e.first_name, e.surname),
        "work": {"site": e.site, "startDate": e.start_date.format("%Y-%m-%d").to_string()},
        "internal": {
            "lifecycleStatus": lifecycle_status(e),
            "terminationDate": e.termination_date.map(|d| d.format("%Y-%m-%d").to_string()),
        },
    });
    merge(&mut out, &e.body);
    out
}

/// An employee as search shows it without `humanReadable`: list fields (site, department) as
/// their list item ids, as HiBob sends them, not as the names that were written.
fn employee_machine_values(st: &State, e: &SimEmployee) -> Value {
    let mut out = employee_summary(e);
    let pronouns: Vec<String> = PRONOUNS.iter().map(|p| (*p).to_owned()).collect();
    for (category, path, list, base) in [
        ("work", "site", &st.sites, SITE_LIST_BASE),
        ("work", "department", &st.departments, DEPARTMENT_LIST_BASE),
        ("personal", "pronouns", &pronouns, PRONOUNS_LIST_BASE),
    ] {
        let Some(name) = out
            .get(category)
            .and_then(|c| c.get(path))
            .and_then(Value::as_str)
        else {
            continue;
        };
        if let Some(i) = list.iter().position(|v| v == name) {
            out[category][path] = json!((base + i as u64).to_string());
        }
    }
    out
}

/// The simulated `pronouns` list (`personal.pronouns`), and its first item id.
const PRONOUNS: [&str; 3] = ["she/her", "he/him", "they/them"];
const PRONOUNS_LIST_BASE: u64 = 3_190_001;

/// The first item id of the simulated `site` and `department` lists.
const SITE_LIST_BASE: u64 = 2_474_159;
const DEPARTMENT_LIST_BASE: u64 = 1_822_301;

/// HiBob's lifecycle status: `terminated` after a termination, `hired` before the start date
/// (a future starter, inactive), else `employed`.
fn lifecycle_status(e: &SimEmployee) -> &'static str {
    let today = Utc::now().date_naive();
    match e.termination_date {
        Some(day) if day <= today => "terminated",
        _ if e.start_date > today => "hired",
        _ => "employed",
    }
}

/// Deep-merges `from` into `into` (objects by key; anything else replaces).
fn merge(into: &mut Value, from: &Value) {
    let Some(from) = from.as_object() else { return };
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(existing @ Value::Object(_)), Value::Object(_)) => merge(existing, v),
            _ => into[k] = v.clone(),
        }
    }
}

pub(crate) fn update(shared: &Shared, req: &Incoming, id: &str) -> Reply {
    if let Err(r) = authorized(shared, req) {
        return r;
    }
    rate_limited(shared, Endpoint::UpdatePerson, || {
        update_inner(shared, req, id)
    })
}

/// Columns of HiBob's Work table: `PUT /people/{id}` does not update them (docs).
const WORK_TABLE: [&str; 5] = [
    "work.site",
    "work.startDate",
    "work.title",
    "work.department",
    "work.reportsTo",
];

/// `PUT /people/{id}`: nested JSON of the fields to change; list fields validated as on
/// create. As documented, Work-table columns are not updated by it (silently), and an update
/// that changes nothing answers 304. Otherwise 200 with an empty body.
fn update_inner(shared: &Shared, req: &Incoming, id: &str) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return malformed_json();
    };
    if !body.is_object() {
        return malformed_json();
    }
    let mut leaves = Vec::new();
    flatten("", &body, &mut leaves);
    let mut st = shared.lock();
    if st.find_employee(id).is_none() {
        return employee_not_found(id);
    }
    for (field, value) in &leaves {
        let invalid_list = (field == "work.site" && !st.sites.contains(value))
            || (field == "work.department" && !st.departments.contains(value))
            || (field == "personal.pronouns" && !PRONOUNS.contains(&value.as_str()));
        if invalid_list {
            return error(
                400,
                "validations.list.value",
                format!("Value '{value}' is not a valid value for field {field}"),
                &[field, value],
            );
        }
        if field == "work.startDate" && NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() {
            return error(
                400,
                "validations.date.invalid",
                format!("Value '{value}' is not a valid date for field {field} (YYYY-MM-DD)"),
                &[field, value],
            );
        }
    }
    let current = st
        .find_employee(id)
        .map(employee_summary)
        .unwrap_or_default();
    let mut changed = false;
    for (field, value) in &leaves {
        if WORK_TABLE.contains(&field.as_str()) {
            continue;
        }
        let held = field
            .split('.')
            .try_fold(&current, |node, part| node.get(part))
            .and_then(Value::as_str);
        if held != Some(value.as_str()) {
            st.set_employee_field(id, field, value);
            changed = true;
        }
    }
    if changed {
        Reply::json(200, &json!({}))
    } else {
        Reply::bytes(304, "application/json", Vec::new())
    }
}

pub(crate) fn set_start_date(shared: &Shared, req: &Incoming, id: &str) -> Reply {
    if let Err(r) = authorized(shared, req) {
        return r;
    }
    rate_limited(shared, Endpoint::SetStartDate, || {
        set_start_date_inner(shared, req, id)
    })
}

/// `POST /employees/{id}/start-date` `{startDate, reason}`: the start date, a Work-table
/// column, changed through its own route (docs, generated SDK).
fn set_start_date_inner(shared: &Shared, req: &Incoming, id: &str) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return malformed_json();
    };
    let Some(date) = body.get("startDate").and_then(Value::as_str) else {
        return error(
            400,
            "validations.required",
            "startDate is required",
            &["startDate"],
        );
    };
    if NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
        return error(
            400,
            "validations.date.invalid",
            format!("Value '{date}' is not a valid date for field startDate (YYYY-MM-DD)"),
            &["startDate", date],
        );
    }
    let mut st = shared.lock();
    if !st.set_employee_field(id, "work.startDate", date) {
        return employee_not_found(id);
    }
    Reply::json(200, &json!({}))
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

pub(crate) fn search(shared: &Shared, req: &Incoming) -> Reply {
    if let Err(r) = authorized(shared, req) {
        return r;
    }
    rate_limited(shared, Endpoint::SearchPeople, || search_inner(shared, req))
}

enum Filter {
    All,
    Email(Vec<String>),
    Id(Vec<String>),
}

fn parse_filter(body: &Value) -> Result<Filter, Reply> {
    let filters = match body.get("filters") {
        None | Some(Value::Null) => return Ok(Filter::All),
        Some(Value::Array(f)) => f,
        Some(_) => {
            return Err(error(
                400,
                "validations.search.filters",
                "filters must be an array",
                &[],
            ));
        }
    };
    let one = match filters.as_slice() {
        [] => {
            return Err(error(
                400,
                "validations.search.filters.empty",
                "filters must not be empty; omit the key to search all employees",
                &[],
            ));
        }
        [one] => one,
        _ => {
            return Err(error(
                400,
                "validations.search.filters.tooMany",
                "Only one filter is supported",
                &[],
            ));
        }
    };
    let path = one["fieldPath"].as_str().unwrap_or("");
    if one["operator"].as_str() != Some("equals") {
        let op = one["operator"].as_str().unwrap_or("");
        return Err(error(
            400,
            "validations.search.operator",
            format!("Operator '{op}' is not supported"),
            &[op],
        ));
    }
    let Some(values) = one["values"].as_array() else {
        return Err(error(
            400,
            "validations.required",
            "values is required",
            &["values"],
        ));
    };
    let values: Vec<String> = values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    match path {
        "root.email" => Ok(Filter::Email(
            values.iter().map(|v| v.to_lowercase()).collect(),
        )),
        "root.id" => Ok(Filter::Id(values)),
        other => Err(error(
            400,
            "validations.search.fieldPath",
            format!("Filtering by '{other}' is not supported"),
            &[other],
        )),
    }
}

fn search_inner(shared: &Shared, req: &Incoming) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return malformed_json();
    };
    if !body.is_object() {
        return malformed_json();
    }
    let filter = match parse_filter(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let show_inactive = body["showInactive"].as_bool().unwrap_or(false);
    let today = Utc::now().date_naive();
    let st = shared.lock();
    // Looked up by index, then put back in creation order, as a scan would have found them.
    let mut indexes: Vec<usize> = match &filter {
        Filter::All => (0..st.employees.len()).collect(),
        Filter::Email(v) => v.iter().filter_map(|e| st.index_of_email(e)).collect(),
        Filter::Id(v) => v.iter().filter_map(|id| st.index_of_id(id)).collect(),
    };
    indexes.sort_unstable();
    indexes.dedup();
    let matching = indexes.into_iter().map(|i| &st.employees[i]);
    // Machine values (list fields as item ids); `humanReadable` (a body key) `APPEND` adds the
    // display values under `humanReadable`, `REPLACE` sends them instead.
    let human = body["humanReadable"].as_str();
    // Written one person at a time: a tenant of a million people is one long answer, never a
    // million JSON trees at once.
    let mut out = b"{\"employees\":[".to_vec();
    let visible = matching.filter(|e| visible_to_search(&st, e, show_inactive, today));
    for (i, e) in visible.enumerate() {
        let person = match human {
            Some("REPLACE") => employee_summary(&e.emp),
            Some("APPEND") => {
                let mut summary = employee_machine_values(&st, &e.emp);
                summary["humanReadable"] = employee_summary(&e.emp);
                summary
            }
            _ => employee_machine_values(&st, &e.emp),
        };
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &person).expect("a JSON value serializes");
    }
    out.extend_from_slice(b"]}");
    Reply {
        body: out,
        ..Reply::json(200, &json!({}))
    }
}

pub(crate) fn create(shared: &Shared, req: &Incoming) -> Reply {
    if let Err(r) = authorized(shared, req) {
        return r;
    }
    rate_limited(shared, Endpoint::CreatePerson, || create_inner(shared, req))
}

fn create_inner(shared: &Shared, req: &Incoming) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return malformed_json();
    };
    if !body.is_object() {
        return malformed_json();
    }
    let stored = store_new_employee(&mut shared.lock(), &body);
    let (id, display_name) = match stored {
        Ok(created) => created,
        Err(reply) => return reply,
    };
    let mut out: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
    out.insert("id".into(), json!(id));
    out.insert("displayName".into(), json!(display_name));
    out.insert("fullName".into(), json!(display_name));
    Reply::json(200, &Value::Object(out))
}

/// Creates the employee a create body describes, as `POST /people` does: the required fields
/// and the tenant's lists checked, the email unique, a new id, the body kept as the record
/// (fields nested by category) and read lag starting now. Returns the id and display name, or
/// HiBob's 400. Shared with the Hire API's completion, which creates employees the same way.
pub(crate) fn store_new_employee(st: &mut State, body: &Value) -> Result<(String, String), Reply> {
    let person = NewPerson::from_body(body)?;
    person.fits(st, body)?;
    let id = st.take_employee_id();
    let display_name = format!("{} {}", person.first, person.surname);
    st.push_employee(StoredEmployee {
        emp: SimEmployee {
            id: id.clone(),
            first_name: person.first,
            surname: person.surname,
            email: person.email,
            site: person.site,
            start_date: person.start_date,
            termination_date: None,
            body: body.clone(),
        },
        created: Some(Instant::now()),
    });
    Ok((id, display_name))
}

/// A create body's text at a path nested by category (a dotted key such as "work.site" does
/// not count), trimmed; `None` when absent or blank.
fn text_at(body: &Value, path: &str) -> Option<String> {
    let mut v = body;
    for part in path.split('.') {
        v = v.get(part)?;
    }
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The fields every create must carry, checked in the order HiBob checks them, before it
/// looks at the tenant.
struct NewPerson {
    first: String,
    surname: String,
    email: String,
    site: String,
    start_date: NaiveDate,
}

impl NewPerson {
    /// The required fields present and well formed, or HiBob's 400 for the first that is not.
    fn from_body(body: &Value) -> Result<NewPerson, Reply> {
        let mut got = vec![];
        for f in [
            "firstName",
            "surname",
            "email",
            "work.site",
            "work.startDate",
        ] {
            match text_at(body, f) {
                Some(v) => got.push(v),
                None => {
                    return Err(error(
                        400,
                        "validations.required",
                        format!("{f} is required"),
                        &[f],
                    ));
                }
            }
        }
        let [first, surname, email, site, start] =
            <[String; 5]>::try_from(got).expect("five fields");
        if !email.contains('@') {
            return Err(error(
                400,
                "validations.email.invalid",
                format!("Email {email} is invalid"),
                &[&email],
            ));
        }
        let Ok(start_date) = NaiveDate::parse_from_str(&start, "%Y-%m-%d") else {
            return Err(error(
                400,
                "validations.date.invalid",
                format!(
                    "Value '{start}' is not a valid date for field work.startDate (YYYY-MM-DD)"
                ),
                &["work.startDate", &start],
            ));
        };
        Ok(NewPerson {
            first,
            surname,
            email,
            site,
            start_date,
        })
    }

    /// Whether the tenant takes this person: list fields hold one of the list's values and
    /// the email is nobody's yet; HiBob's 400 otherwise.
    fn fits(&self, st: &State, body: &Value) -> Result<(), Reply> {
        let list_err = |f: &str, v: &str| {
            error(
                400,
                "validations.list.value",
                format!("Value '{v}' is not a valid value for field {f}"),
                &[f, v],
            )
        };
        if !st.sites.contains(&self.site) {
            return Err(list_err("work.site", &self.site));
        }
        if let Some(dep) = text_at(body, "work.department")
            && !st.departments.contains(&dep)
        {
            return Err(list_err("work.department", &dep));
        }
        if let Some(pronouns) = text_at(body, "personal.pronouns")
            && !PRONOUNS.contains(&pronouns.as_str())
        {
            return Err(list_err("personal.pronouns", &pronouns));
        }
        if st.email_taken(&self.email) {
            return Err(error(
                400,
                "validations.email.alreadyexists",
                format!("Email {} already exists", self.email),
                &[&self.email],
            ));
        }
        Ok(())
    }
}

fn employee_not_found(id: &str) -> Reply {
    error(
        404,
        "employee.notFound",
        format!("Employee {id} not found"),
        &[id],
    )
}

pub(crate) fn list_documents(shared: &Shared, req: &Incoming, employee_id: &str) -> Reply {
    if let Err(r) = authorized(shared, req) {
        return r;
    }
    let st = shared.lock();
    if st.find_employee(employee_id).is_none() {
        return employee_not_found(employee_id);
    }
    let docs: Vec<Value> = st
        .documents
        .iter()
        .filter(|d| d.employee_id == employee_id)
        .map(|d| {
            json!({
                "id": d.id,
                "documentName": d.document_name,
                "folder": d.folder,
                "downloadLink": format!("{}/hibob/v1/docs/download/{}", shared.origin(), d.id),
            })
        })
        .collect();
    Reply::json(200, &json!({"documents": docs}))
}

pub(crate) async fn upload_document(
    shared: &Shared,
    req: &Incoming,
    employee_id: &str,
    folder: &str,
) -> Reply {
    if let Err(r) = authorized(shared, req) {
        return r;
    }
    if shared.lock().find_employee(employee_id).is_none() {
        return employee_not_found(employee_id);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return malformed_json();
    };
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let Some(name) = text("documentName") else {
        return error(
            400,
            "validations.required",
            "documentName is required",
            &["documentName"],
        );
    };
    let Some(url) = text("documentUrl") else {
        return error(
            400,
            "validations.required",
            "documentUrl is required",
            &["documentUrl"],
        );
    };
    match fetch(shared, &url).await {
        Fetched::File => {}
        Fetched::Unreachable => {
            return error(
                400,
                "documents.url.unreachable",
                format!("Could not download the document from {url}"),
                &[&url],
            );
        }
        Fetched::TooLarge(size) => {
            return error(
                400,
                "documents.file.tooLarge",
                format!(
                    "The document is {size} bytes; the limit is {HIBOB_MAX_DOCUMENT_BYTES} bytes (5 MB)"
                ),
                &[],
            );
        }
    }
    let tags = body.get("tags").cloned().unwrap_or_else(|| json!([]));
    let id = shared.lock().add_document(employee_id, folder, &name, &url);
    Reply::json(
        200,
        &json!({"id": id, "employeeId": employee_id, "name": name, "documentName": name,
            "folder": folder, "status": "Created", "tags": tags}),
    )
}

/// What HiBob's download of a document URL came to.
pub(crate) enum Fetched {
    File,
    Unreachable,
    /// Downloaded, but over the documented size limit.
    TooLarge(usize),
}

/// HiBob downloads the URL synchronously (a document upload's, or a Hire API attachment's
/// pull). Only this simulator's own `/files/...` can answer, and it is resolved from state (no
/// HTTP to ourselves), but still counted and fault-injectable as a `DownloadFile` call so tests
/// can simulate an expired pre-signed URL.
pub(crate) async fn fetch(shared: &Shared, raw: &str) -> Fetched {
    let Ok(url) = url::Url::parse(raw) else {
        return Fetched::Unreachable;
    };
    let local_host = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !local_host || url.port_or_known_default() != Some(shared.addr.port()) {
        return Fetched::Unreachable;
    }
    let Some(rest) = url.path().strip_prefix(FILES_PREFIX) else {
        return Fetched::Unreachable;
    };
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let seq = shared
        .lock()
        .begin_call(Endpoint::DownloadFile, "GET", &path_and_query);
    let mut size = 0;
    let status = match shared
        .pick_fault(Endpoint::DownloadFile, &path_and_query, b"")
        .await
    {
        Some(Fault::Status(s) | Fault::CommitThenStatus(s)) => s,
        Some(Fault::RateLimited { .. }) => 429,
        // A garbled body is still a successful download as far as HiBob can tell.
        Some(_) | None => {
            let segs: Vec<String> = rest
                .trim_matches('/')
                .split('/')
                .map(percent_decode)
                .collect();
            let file = match segs.as_slice() {
                [app, file] => pinpoint::resolve_file(&shared.lock(), app, file),
                _ => None,
            };
            match file {
                Some((_, bytes)) => {
                    size = bytes.len();
                    200
                }
                None => 404,
            }
        }
    };
    shared.lock().finish_call(seq, status);
    match status {
        200 if size > HIBOB_MAX_DOCUMENT_BYTES => Fetched::TooLarge(size),
        200 => Fetched::File,
        _ => Fetched::Unreachable,
    }
}

/// One field the simulated tenant describes: id, JSON path, name, category, type, and the
/// named list a list field takes its values from.
type FieldRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// The fields the simulated tenant describes, in the order it lists them. One row a line, as
/// a table reads.
#[rustfmt::skip]
const PEOPLE_FIELDS: [FieldRow; 13] = [
    ("root.id", "id", "Employee ID", "root", "text", None),
    // A list-backed field outside the Work table: `PUT /people/{id}` updates it.
    ("personal.pronouns", "personal.pronouns", "Pronouns", "personal", "list", Some("pronouns")),
    ("root.firstName", "firstName", "First name", "root", "text", None),
    ("root.surname", "surname", "Last name", "root", "text", None),
    ("root.email", "email", "Email", "root", "text", None),
    ("root.displayName", "displayName", "Display name", "root", "text", None),
    ("work.site", "work.site", "Site", "work", "list", Some("site")),
    ("work.startDate", "work.startDate", "Start date", "work", "date", None),
    ("work.title", "work.title", "Job title", "work", "text", None),
    ("work.department", "work.department", "Department", "work", "list", Some("department")),
    ("home.mobilePhone", "home.mobilePhone", "Personal mobile", "home", "text", None),
    ("home.privateEmail", "home.privateEmail", "Personal email", "home", "text", None),
    ("about.socialData.linkedin", "about.socialData.linkedin", "LinkedIn", "about", "text", None),
];

pub(crate) fn people_fields(shared: &Shared, req: &Incoming) -> Reply {
    if let Err(r) = authorized(shared, req) {
        return r;
    }
    let fields = PEOPLE_FIELDS
        .iter()
        .map(|&(id, json_path, name, category, ty, list)| {
            json!({
                "id": id,
                "jsonPath": json_path,
                "name": name,
                "category": category,
                "type": ty,
                "description": "",
                "historical": category == "work",
                "typeData": list.map_or_else(|| json!({}), |l| json!({"listId": l})),
            })
        })
        .collect();
    Reply::json(200, &Value::Array(fields))
}

pub(crate) fn named_list(shared: &Shared, req: &Incoming, name: &str) -> Reply {
    if let Err(r) = authorized(shared, req) {
        return r;
    }
    let st = shared.lock();
    let (values, base) = match name {
        "site" => (st.sites.clone(), SITE_LIST_BASE),
        "department" => (st.departments.clone(), DEPARTMENT_LIST_BASE),
        "pronouns" => (
            PRONOUNS.iter().map(|p| (*p).to_owned()).collect(),
            PRONOUNS_LIST_BASE,
        ),
        _ => {
            return error(
                404,
                "namedList.notFound",
                format!("Named list {name} not found"),
                &[name],
            );
        }
    };
    let items: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"id": base + i as u64, "value": v, "name": v, "archived": false, "children": []}))
        .collect();
    Reply::json(200, &json!({"name": name, "values": items}))
}

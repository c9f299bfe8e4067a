//! Pinpoint's JSON:API documents turned into hirebridge's domain types.
//!
//! Parsing is lenient where Pinpoint's shapes are uncertain (ids as numbers, missing optional
//! attributes, unknown extra fields) and strict where a wrong guess would create a wrong
//! employee (a missing email or name makes the record unusable, with the reason kept).

use serde_json::Value;
use serde_json::value::RawValue;

pub use crate::hire::ApplicationId;
// The domain's types this client translates Pinpoint's documents into.
pub use crate::hire::application::{Attachment, HiredApplication};

/// A record in a listing that cannot be used, with the reason in the operator's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableRecord {
    /// The application id when even that could not be read is `None`.
    pub id: Option<ApplicationId>,
    pub email: Option<String>,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: crate::hire::CommentId,
    pub body_text: String,
}

/// An id Pinpoint may send as a string (API) or a number (webhooks, or a changed API).
pub fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn text(attributes: &Value, name: &str) -> Option<String> {
    match attributes.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// The record of type `kind` with this id in the document's `included` array.
fn find_included<'a>(included: &'a [Value], kind: &str, id: &str) -> Option<&'a Value> {
    included.iter().find(|r| {
        r.get("type").and_then(Value::as_str) == Some(kind)
            && r.get("id").and_then(id_of).as_deref() == Some(id)
    })
}

/// The records a relationship points at (one or many), resolved in `included`.
fn related<'a>(resource: &Value, name: &str, kind: &str, included: &'a [Value]) -> Vec<&'a Value> {
    let ids: Vec<String> = match resource.pointer(&format!("/relationships/{name}/data")) {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|d| d.get("id").and_then(id_of))
            .collect(),
        Some(one @ Value::Object(_)) => one.get("id").and_then(id_of).into_iter().collect(),
        _ => Vec::new(),
    };
    ids.iter()
        .filter_map(|id| find_included(included, kind, id))
        .collect()
}

/// The job an application points at, from the document's `included` array.
fn job_of<'a>(resource: &Value, included: &'a [Value]) -> Option<&'a Value> {
    related(resource, "job", "jobs", included)
        .into_iter()
        .next()
}

/// A name for a department or location: a plain string, or a record's `name`/`title`.
fn name_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Object(_) => ["name", "title"]
            .iter()
            .find_map(|k| text(value, k).or_else(|| text(value.get("attributes")?, k))),
        _ => None,
    }
}

/// The job's attributes for templates, with `department` and `location` as names: taken
/// from the attribute when Pinpoint inlines it, else from the included related record.
fn job_source(job: Option<&Value>, included: &[Value]) -> Value {
    let Some(job) = job else {
        return Value::Object(Default::default());
    };
    let mut out = job
        .get("attributes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(id) = job.get("id").and_then(id_of) {
        out.insert("id".into(), Value::String(id));
    }
    // The API calls it `title`; Pinpoint's own HiBob integration `job_title`: either fills
    // `job.title` (and both stay readable).
    if text(&Value::Object(out.clone()), "title").is_none()
        && let Some(title) = out.get("job_title").cloned()
    {
        out.insert("title".into(), title);
    }
    for (name, kinds) in [
        ("department", ["departments", "department"]),
        ("location", ["locations", "location"]),
    ] {
        let inline = out.get(name).and_then(name_of);
        let linked = || {
            kinds
                .iter()
                .find_map(|k| related(job, name, k, included).into_iter().next())
                .and_then(name_of)
        };
        match inline.or_else(linked) {
            Some(n) => out.insert(name.into(), Value::String(n)),
            None => out.remove(name),
        };
    }
    Value::Object(out)
}

/// The accepted offer: one whose `status` (or `result`) is `accepted`; a lone offer that
/// states neither is taken as the one. Anything else is no offer.
fn offer_source(resource: &Value, included: &[Value]) -> Option<Value> {
    let offers = related(resource, "offers", "offers", included);
    let state = |o: &Value| {
        ["status", "result", "state"].iter().find_map(|k| {
            o.get("attributes")
                .and_then(|a| a.get(*k))
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
        })
    };
    let chosen = offers
        .iter()
        .find(|o| state(o).as_deref() == Some("accepted"))
        .or_else(|| match offers.as_slice() {
            [one] if state(one).is_none() => Some(one),
            _ => None,
        })?;
    let mut out = chosen
        .get("attributes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(id) = chosen.get("id").and_then(id_of) {
        out.insert("id".into(), Value::String(id));
    }
    Some(Value::Object(out))
}

/// Custom attributes by key. Pinpoint keeps the key (and label) on the related custom field
/// (`include=custom_attributes.custom_field`) and types the value by the field's
/// `field_type` (docs): the key is the field's `key`, else its label or name made a key
/// (`Cost centre` → `cost_centre`); the value is typed by [`typed_custom_value`]. A key on the
/// attribute record itself is accepted too (older shapes).
fn custom_source(resource: &Value, included: &[Value]) -> Value {
    let mut out = serde_json::Map::new();
    for kind in ["custom_attributes", "custom_attribute"] {
        for record in related(resource, "custom_attributes", kind, included) {
            let Some(a) = record.get("attributes") else {
                continue;
            };
            let field = ["custom_fields", "custom_field"]
                .iter()
                .find_map(|k| {
                    related(record, "custom_field", k, included)
                        .into_iter()
                        .next()
                })
                .and_then(|f| f.get("attributes"));
            let key = field
                .and_then(|f| text(f, "key"))
                .or_else(|| {
                    field
                        .and_then(|f| text(f, "label").or_else(|| text(f, "name")))
                        .map(|label| key_of_label(&label))
                })
                .or_else(|| ["key", "name", "label"].iter().find_map(|k| text(a, k)));
            let field_type = field.and_then(|f| text(f, "field_type"));
            if let (Some(key), Some(value)) = (key, a.get("value")) {
                out.insert(key, typed_custom_value(value, field_type.as_deref()));
            }
        }
    }
    // Tolerated: custom attributes inlined on the application as an object.
    if let Some(Value::Object(inline)) = resource.pointer("/attributes/custom_attributes") {
        for (k, v) in inline {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Value::Object(out)
}

/// A label as a template key: lower case, runs of anything but letters and digits as `_`.
fn key_of_label(label: &str) -> String {
    let mut key = String::new();
    for c in label.trim().chars() {
        if c.is_alphanumeric() {
            key.extend(c.to_lowercase());
        } else if !key.ends_with('_') {
            key.push('_');
        }
    }
    key.trim_matches('_').to_owned()
}

/// A custom attribute's value as its field type says: numbers and booleans sent as text
/// become numbers and booleans, a date keeps its `YYYY-MM-DD` text, a multi-choice list
/// becomes its items joined with `, ` (what a HiBob text field can hold). Anything else, or
/// a value that does not fit its type, is kept as Pinpoint sent it.
fn typed_custom_value(value: &Value, field_type: Option<&str>) -> Value {
    let kind = field_type.unwrap_or("").to_ascii_lowercase();
    let as_text = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match (kind.as_str(), value) {
        ("number" | "integer" | "decimal" | "currency", Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| s.trim().parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| value.clone()),
        ("boolean" | "checkbox" | "yes_no", Value::String(s)) => {
            match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Value::Bool(true),
                "false" | "no" | "0" => Value::Bool(false),
                _ => value.clone(),
            }
        }
        ("date", Value::String(s)) => Value::String(s.trim().get(..10).unwrap_or(s).to_owned()),
        (_, Value::Array(items)) => Value::String(
            items
                .iter()
                .filter_map(|i| {
                    as_text(i)
                        .or_else(|| ["label", "name", "value"].iter().find_map(|k| text(i, k)))
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => value.clone(),
    }
}

fn source_of(resource: &Value, id: &str, included: &[Value]) -> Value {
    let mut application = resource
        .get("attributes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // Pre-signed URLs expire: never let them reach a stored value.
    application.remove("attachments");
    application.insert("id".into(), Value::String(id.to_owned()));
    let mut source = serde_json::Map::new();
    source.insert("application".into(), Value::Object(application));
    source.insert(
        "job".into(),
        job_source(job_of(resource, included), included),
    );
    if let Some(offer) = offer_source(resource, included) {
        source.insert("offer".into(), offer);
    }
    source.insert("custom".into(), custom_source(resource, included));
    Value::Object(source)
}

fn cv_attachment(attributes: &Value) -> Option<Attachment> {
    let list = attributes.get("attachments")?.as_array()?;
    let parsed: Vec<Attachment> = list
        .iter()
        .filter_map(|a| {
            let url = text(a, "url")?;
            // Only absolute web URLs can be handed to HiBob.
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return None;
            }
            Some(Attachment {
                context: text(a, "context")?,
                filename: text(a, "filename").unwrap_or_else(|| "cv.pdf".into()),
                url,
            })
        })
        .collect();
    ["pdf_cv", "cv"]
        .iter()
        .find_map(|ctx| parsed.iter().find(|a| a.context == *ctx).cloned())
}

/// `local@domain` with both parts present and no blanks. HiBob validates the rest; this only
/// keeps what cannot be anyone's address from being searched for or sent.
fn looks_like_an_address(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// One `applications` resource → a hire, or the reason it cannot be one.
pub fn application(
    resource: &Value,
    included: &[Value],
) -> Result<HiredApplication, UnusableRecord> {
    let id = resource.get("id").and_then(id_of);
    let attributes = resource.get("attributes").filter(|a| a.is_object());
    let email = attributes.and_then(|a| text(a, "email"));
    let unusable = |problem: &str| UnusableRecord {
        id: id.clone().map(ApplicationId::from),
        email: email.clone(),
        problem: problem.to_owned(),
    };
    let Some(id_text) = id.clone() else {
        return Err(unusable("the record has no usable `id`"));
    };
    let Some(attributes) = attributes else {
        return Err(unusable("the record has no `attributes` object"));
    };
    let Some(email) = email.clone() else {
        return Err(unusable(
            "the application has no email address; add one in Pinpoint (HiBob needs it)",
        ));
    };
    if !looks_like_an_address(&email) {
        return Err(unusable(&format!(
            "the email {email:?} is not an address; correct it in Pinpoint"
        )));
    }
    let Some(first_name) = text(attributes, "first_name") else {
        return Err(unusable(
            "the application has no first name; add it in Pinpoint",
        ));
    };
    let Some(last_name) = text(attributes, "last_name") else {
        return Err(unusable(
            "the application has no last name; add it in Pinpoint",
        ));
    };
    // Never sent on to HiBob or back to Pinpoint: a control character in a name is an escape
    // sequence waiting for someone's terminal or a corrupted record, not part of a name.
    for (field, value) in [("first name", &first_name), ("last name", &last_name)] {
        if value.chars().any(char::is_control) {
            return Err(unusable(&format!(
                "the {field} contains control characters ({}); correct it in Pinpoint",
                crate::untrusted::terminal(value)
            )));
        }
    }
    let source = source_of(resource, &id_text, included);
    Ok(HiredApplication {
        id: id_text.into(),
        first_name,
        last_name,
        email,
        phone: text(attributes, "phone"),
        job_title: job_of(resource, included).and_then(|j| {
            let attributes = j.get("attributes")?;
            text(attributes, "title").or_else(|| text(attributes, "job_title"))
        }),
        cv: cv_attachment(attributes),
        updated_at: text(attributes, "updated_at"),
        stage_id: attributes
            .get("stage_id")
            .and_then(id_of)
            .map(crate::hire::StageId::from),
        hired_at: text(attributes, "hired_at"),
        rejected_at: text(attributes, "rejected_at"),
        created_at: text(attributes, "created_at"),
        source,
    })
}

/// A parsed page of the applications listing.
#[derive(Debug, Default)]
pub struct ApplicationsPage {
    pub applications: Vec<HiredApplication>,
    pub unusable: Vec<UnusableRecord>,
    /// `links.next` when Pinpoint sent one.
    pub next_link: Option<String>,
    /// How many records the page held, usable or not (a short page ends the listing).
    pub records: usize,
    /// Each record's `updated_at`, in the page's order, usable or not; `None` where a record
    /// has none that parses (it then proves nothing about the order).
    pub updated: Vec<Option<chrono::DateTime<chrono::Utc>>>,
}

impl ApplicationsPage {
    /// Drops the applications last changed before `since` (a record without a readable
    /// `updated_at` is kept: it proves nothing); `records` counts what is left.
    pub fn keep_changed_since(&mut self, since: chrono::DateTime<chrono::Utc>) {
        self.applications.retain(|a| {
            a.updated_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_none_or(|t| t >= since)
        });
        self.records = self.applications.len() + self.unusable.len();
    }
}

/// Parses a listing document. Fails only when the document as a whole is not JSON:API.
pub fn applications_page(body: &[u8]) -> Result<ApplicationsPage, String> {
    // A page's records are parsed into a JSON tree one at a time, not the whole document at
    // once: the tree of a 1,000-record page is several times the size of its text, and the
    // pass holds two pages (one worked, one being read), so this bounds its peak memory.
    let doc: PageDocument<'_> = match serde_json::from_slice(body) {
        Ok(doc) => doc,
        Err(e) if e.is_data() => {
            // Valid JSON of another shape: say what is missing, as for any document.
            let doc: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
            return Err(match doc.get("data") {
                Some(Value::Array(_)) => format!("the listing is not a JSON:API document: {e}"),
                _ => "`data` is not an array".into(),
            });
        }
        Err(e) => return Err(e.to_string()),
    };
    let data: Vec<&RawValue> = match doc.data {
        Some(data) => {
            serde_json::from_str(data.get()).map_err(|_| "`data` is not an array".to_owned())?
        }
        None => return Err("`data` is not an array".into()),
    };
    let included = match &doc.included {
        Some(Value::Array(records)) => records.as_slice(),
        _ => &[],
    };
    let mut page = ApplicationsPage {
        records: data.len(),
        next_link: doc
            .links
            .as_ref()
            .and_then(|links| links.get("next"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Default::default()
    };
    for raw in data {
        let resource: Value = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
        page.updated.push(
            resource
                .pointer("/attributes/updated_at")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
        );
        match application(&resource, included) {
            Ok(a) => page.applications.push(a),
            Err(u) => page.unusable.push(u),
        }
    }
    Ok(page)
}

/// The first record of a listing page, as the sort probe compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortedRecord {
    pub id: String,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The first record of a listing page; `None` for an empty page.
pub fn first_sorted_record(body: &[u8]) -> Result<Option<SortedRecord>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let data = doc
        .get("data")
        .and_then(Value::as_array)
        .ok_or("`data` is not an array")?;
    let Some(first) = data.first() else {
        return Ok(None);
    };
    let id = first
        .get("id")
        .and_then(|id| match id {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .ok_or("a listed application has no `id`")?;
    let updated_at = first
        .pointer("/attributes/updated_at")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    Ok(Some(SortedRecord { id, updated_at }))
}

/// A listing's top level, its records left unparsed until their turn.
#[derive(serde::Deserialize)]
struct PageDocument<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    included: Option<Value>,
    #[serde(default)]
    links: Option<Value>,
}

fn included(doc: &Value) -> &[Value] {
    doc.get("included")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Parses a single-application document (`data` is an object).
pub fn single_application(body: &[u8]) -> Result<Result<HiredApplication, UnusableRecord>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let data = doc
        .get("data")
        .filter(|d| d.is_object())
        .ok_or("`data` is not an object")?;
    Ok(application(data, included(&doc)))
}

/// The comments included with `GET /applications/{id}?include=comments`.
pub fn included_comments(body: &[u8]) -> Result<Vec<Comment>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if !doc.get("data").is_some_and(Value::is_object) {
        return Err("`data` is not an object".into());
    }
    Ok(included(&doc)
        .iter()
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("comments"))
        .filter_map(|r| {
            Some(Comment {
                id: id_of(r.get("id")?)?.into(),
                body_text: r
                    .pointer("/attributes/body_text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            })
        })
        .collect())
}

/// The stage group a single-application document says the application is in, when it says
/// so: `stage_basic_type` on the application (older or other tenants), or the included `stage`
/// record's `basic_type`/`stage_basic_type`/`stage_type` (guess: no live stage record has been
/// seen). `None` when neither is there, which proves nothing either way.
pub fn stage_group(body: &[u8]) -> Option<String> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    let data = doc.get("data")?;
    if let Some(group) = data
        .get("attributes")
        .and_then(|a| text(a, "stage_basic_type"))
    {
        return Some(group);
    }
    let stage = related(data, "stage", "stages", included(&doc))
        .into_iter()
        .next()?;
    let attributes = stage.get("attributes")?;
    ["basic_type", "stage_basic_type", "stage_type"]
        .iter()
        .find_map(|k| text(attributes, k))
}

/// What a contract probe needs from one listing page: how many records it held, their ids,
/// `links.next`, and what the first record shows of the attributes and includes asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbePage {
    pub records: usize,
    pub ids: Vec<String>,
    pub next_link: Option<String>,
    /// The first record, when the page held one.
    pub first: Option<ProbeRecord>,
}

/// What one listed record shows of the attributes and includes a probe asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeRecord {
    /// The record carries an `attachments` attribute (an array, however empty).
    pub has_attachments: bool,
    /// Relationships the record names with `meta.included = false` or without `data`: asked
    /// for, not included.
    pub not_included: Vec<String>,
}

/// Parses a listing page for a contract probe. `relationships` are the top-level
/// relationships the request included (`job` for `job.department`).
pub fn probe_page(body: &[u8], relationships: &[&str]) -> Result<ProbePage, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let data = doc
        .get("data")
        .and_then(Value::as_array)
        .ok_or("`data` is not an array")?;
    let included = included(&doc);
    // Asked for and included: the relationship has `data`, and each resource it links is in
    // `included[]` (an empty to-many relationship includes nothing, and is fine).
    let is_included =
        |record: &Value, name: &str| match record.pointer(&format!("/relationships/{name}/data")) {
            None => false,
            Some(Value::Null) => true,
            Some(Value::Array(links)) => links.iter().all(|l| linked_is_included(l, included)),
            Some(link) => linked_is_included(link, included),
        };
    let first = data.first().map(|record| ProbeRecord {
        has_attachments: record
            .pointer("/attributes/attachments")
            .is_some_and(Value::is_array),
        not_included: relationships
            .iter()
            .filter(|name| !is_included(record, name))
            .map(|name| (*name).to_owned())
            .collect(),
    });
    Ok(ProbePage {
        records: data.len(),
        ids: data
            .iter()
            .filter_map(|r| r.get("id").and_then(id_of))
            .collect(),
        next_link: doc
            .pointer("/links/next")
            .and_then(Value::as_str)
            .map(str::to_owned),
        first,
    })
}

fn linked_is_included(link: &Value, included: &[Value]) -> bool {
    match (
        link.get("type").and_then(Value::as_str),
        link.get("id").and_then(id_of),
    ) {
        (Some(kind), Some(id)) => find_included(included, kind, &id).is_some(),
        _ => false,
    }
}

/// The id of the comment `POST /comments` created.
pub fn created_comment_id(body: &[u8]) -> Result<String, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    doc.pointer("/data/id")
        .and_then(id_of)
        .ok_or_else(|| "`data.id` is missing".into())
}

/// A JSON:API error document in one line: `title: detail (pointer)`, else the raw text.
pub fn error_message(body: &[u8]) -> String {
    let parsed: Option<Vec<String>> = serde_json::from_slice::<Value>(body).ok().and_then(|doc| {
        let errors = doc.get("errors")?.as_array()?;
        Some(
            errors
                .iter()
                .map(|e| {
                    let field = |n: &str| e.get(n).and_then(Value::as_str).unwrap_or("");
                    let mut s = [field("title"), field("detail")]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(": ");
                    if let Some(p) = e.pointer("/source/pointer").and_then(Value::as_str) {
                        s.push_str(&format!(" ({p})"));
                    }
                    s
                })
                .filter(|s| !s.is_empty())
                .collect(),
        )
    });
    match parsed {
        Some(list) if !list.is_empty() => list.join("; "),
        _ => crate::http::excerpt(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listing(data: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "data": data,
            "included": [{"id": "1", "type": "jobs", "attributes": {"title": "Analytical Engineer"}}],
            "links": {"next": "https://x/applications?page[number]=2"}
        }))
        .unwrap()
    }

    fn ada() -> Value {
        json!({"id": "8863880", "type": "applications",
            "attributes": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                "attachments": [
                    {"context": "cv", "filename": "ada.docx", "url": "https://files/ada.docx"},
                    {"context": "pdf_cv", "filename": "ada.pdf", "url": "https://files/ada.pdf"}]},
            "relationships": {"job": {"data": {"type": "jobs", "id": "1"}}}})
    }

    #[test]
    fn the_documented_example_parses_and_prefers_the_pdf_cv() {
        let page = applications_page(&listing(json!([ada()]))).unwrap();
        assert_eq!(page.records, 1);
        let a = &page.applications[0];
        assert_eq!(a.id, "8863880");
        assert_eq!(a.job_title.as_deref(), Some("Analytical Engineer"));
        assert_eq!(a.cv.as_ref().unwrap().context, "pdf_cv");
        assert_eq!(a.cv.as_ref().unwrap().url, "https://files/ada.pdf");
        assert_eq!(
            page.next_link.as_deref(),
            Some("https://x/applications?page[number]=2")
        );
    }

    #[test]
    fn numeric_ids_are_read_as_strings() {
        let mut a = ada();
        a["id"] = json!(8863880);
        let page = applications_page(&listing(json!([a]))).unwrap();
        assert_eq!(page.applications[0].id, "8863880");
    }

    #[test]
    fn falls_back_to_the_original_cv_and_to_none() {
        let mut a = ada();
        a["attributes"]["attachments"] =
            json!([{"context": "cv", "filename": "a.doc", "url": "https://f/a.doc"}]);
        let page = applications_page(&listing(json!([a.clone()]))).unwrap();
        assert_eq!(page.applications[0].cv.as_ref().unwrap().context, "cv");
        a["attributes"]["attachments"] = json!([{"context": "cover_letter", "url": "https://f/c"}]);
        let page = applications_page(&listing(json!([a.clone()]))).unwrap();
        assert_eq!(page.applications[0].cv, None);
        a["attributes"]
            .as_object_mut()
            .unwrap()
            .remove("attachments");
        let page = applications_page(&listing(json!([a]))).unwrap();
        assert_eq!(page.applications[0].cv, None);
    }

    #[test]
    fn unusable_records_keep_their_id_and_reason_and_do_not_spoil_the_page() {
        let mut no_email = ada();
        no_email["id"] = json!("2");
        no_email["attributes"]["email"] = json!("");
        let mut bad_email = ada();
        bad_email["id"] = json!("3");
        bad_email["attributes"]["email"] = json!("ada at example");
        let mut half_email = ada();
        half_email["id"] = json!("6");
        half_email["attributes"]["email"] = json!("ada@");
        let no_id = json!({"type": "applications", "attributes": {}});
        let wrong_type = json!({"id": "5", "attributes": "oops"});
        let page = applications_page(&listing(json!([
            ada(),
            no_email,
            bad_email,
            half_email,
            no_id,
            wrong_type
        ])))
        .unwrap();
        assert_eq!(page.records, 6);
        assert_eq!(page.applications.len(), 1);
        let ids: Vec<_> = page.unusable.iter().map(|u| u.id.clone()).collect();
        assert_eq!(
            ids,
            vec![
                Some("2".into()),
                Some("3".into()),
                Some("6".into()),
                None,
                Some("5".into())
            ]
        );
        assert!(page.unusable[0].problem.contains("no email"));
    }

    #[test]
    fn mapping_data_comes_from_job_offer_and_custom_attributes() {
        let mut a = ada();
        a["relationships"]["offers"] =
            json!({"data": [{"type": "offers", "id": "7"}, {"type": "offers", "id": "8"}]});
        a["relationships"]["custom_attributes"] =
            json!({"data": [{"type": "custom_attributes", "id": "c1"}]});
        let body = serde_json::to_vec(&json!({
            "data": [a],
            "included": [
                {"id": "1", "type": "jobs", "attributes": {"title": "Analytical Engineer"},
                 "relationships": {"department": {"data": {"type": "departments", "id": "d"}},
                                   "location": {"data": {"type": "locations", "id": "l"}}}},
                {"id": "d", "type": "departments", "attributes": {"name": "Engineering"}},
                {"id": "l", "type": "locations", "attributes": {"name": "London office"}},
                {"id": "7", "type": "offers", "attributes": {"status": "declined", "start_on": "2026-11-30"}},
                {"id": "8", "type": "offers", "attributes": {"status": "Accepted", "start_on": "2026-12-07"}},
                {"id": "c1", "type": "custom_attributes", "attributes": {"key": "employment_type", "value": "Full-time"}}
            ]
        }))
        .unwrap();
        let page = applications_page(&body).unwrap();
        let source = &page.applications[0].source;
        assert_eq!(source["job"]["department"], "Engineering");
        assert_eq!(source["job"]["location"], "London office");
        assert_eq!(source["offer"]["start_on"], "2026-12-07");
        assert_eq!(source["custom"]["employment_type"], "Full-time");
        assert_eq!(source["application"]["id"], "8863880");
        assert!(
            source["application"].get("attachments").is_none(),
            "no expiring URLs"
        );
        // Without includes: a job with no department and no offer, not an error.
        let plain = applications_page(&listing(json!([ada()]))).unwrap();
        let source = &plain.applications[0].source;
        assert!(source["job"].get("department").is_none());
        assert!(source.get("offer").is_none());
    }

    #[test]
    fn custom_attributes_take_their_key_and_type_from_the_related_custom_field() {
        let mut a = ada();
        a["relationships"]["custom_attributes"] = json!({"data": [
            {"type": "custom_attributes", "id": "c1"}, {"type": "custom_attributes", "id": "c2"},
            {"type": "custom_attributes", "id": "c3"}, {"type": "custom_attributes", "id": "c4"},
            {"type": "custom_attributes", "id": "c5"}]});
        let attribute = |id: &str, field: &str, value: Value| {
            json!({"id": id, "type": "custom_attributes", "attributes": {"value": value},
                   "relationships": {"custom_field": {"data": {"type": "custom_fields", "id": field}}}})
        };
        let field = |id: &str, attributes: Value| json!({"id": id, "type": "custom_fields", "attributes": attributes});
        let body = serde_json::to_vec(&json!({
            "data": [a],
            "included": [
                attribute("c1", "f1", json!("CC-104")),
                field("f1", json!({"key": "cost_center", "label": "Cost center", "field_type": "text"})),
                attribute("c2", "f2", json!("37.5")),
                field("f2", json!({"key": "weekly_hours", "field_type": "number"})),
                attribute("c3", "f3", json!("yes")),
                field("f3", json!({"label": "Needs a laptop?", "field_type": "boolean"})),
                attribute("c4", "f4", json!("2026-12-07T00:00:00+00:00")),
                field("f4", json!({"key": "contract_signed_on", "field_type": "date"})),
                attribute("c5", "f5", json!(["Rust", "SQL"])),
                field("f5", json!({"key": "skills", "field_type": "multiple_choice"})),
            ]
        }))
        .unwrap();
        let page = applications_page(&body).unwrap();
        let custom = &page.applications[0].source["custom"];
        assert_eq!(custom["cost_center"], "CC-104");
        assert_eq!(custom["weekly_hours"], 37.5);
        assert_eq!(
            custom["needs_a_laptop"], true,
            "a label made a key: {custom}"
        );
        assert_eq!(custom["contract_signed_on"], "2026-12-07");
        assert_eq!(custom["skills"], "Rust, SQL");
    }

    #[test]
    fn a_job_title_may_come_as_job_title() {
        let body = serde_json::to_vec(&json!({
            "data": [ada()],
            "included": [{"id": "1", "type": "jobs", "attributes": {"job_title": "Analytical Engineer"}}]
        }))
        .unwrap();
        let a = &applications_page(&body).unwrap().applications[0];
        assert_eq!(a.job_title.as_deref(), Some("Analytical Engineer"));
        assert_eq!(a.source["job"]["title"], "Analytical Engineer");
        assert_eq!(a.source["job"]["job_title"], "Analytical Engineer");
    }

    #[test]
    fn html_and_truncated_bodies_are_errors_not_panics() {
        assert!(applications_page(b"<html>502 Bad Gateway</html>").is_err());
        let full = listing(json!([ada()]));
        assert!(applications_page(&full[..full.len() / 2]).is_err());
        assert!(applications_page(br#"{"data": {"id": "1"}}"#).is_err());
        assert!(single_application(br#"{"data": []}"#).is_err());
        assert!(created_comment_id(br#"{"data": {}}"#).is_err());
        assert!(included_comments(b"null").is_err());
    }

    #[test]
    fn comments_come_from_included() {
        let body = serde_json::to_vec(&json!({"data": {"id": "1", "type": "applications"},
            "included": [{"type": "comments", "id": 9, "attributes": {"body_text": "hi"}},
                          {"type": "jobs", "id": "1"}]}))
        .unwrap();
        assert_eq!(
            included_comments(&body).unwrap(),
            vec![Comment {
                id: "9".into(),
                body_text: "hi".into()
            }]
        );
    }

    #[test]
    fn error_documents_become_one_line() {
        let body = br#"{"errors":[{"status":"422","title":"Invalid","detail":"body_text blank","source":{"pointer":"/data/attributes/body_text"}}]}"#;
        assert_eq!(
            error_message(body),
            "Invalid: body_text blank (/data/attributes/body_text)"
        );
        assert_eq!(error_message(b"<h1>oops</h1>"), "<h1>oops</h1>");
    }
}

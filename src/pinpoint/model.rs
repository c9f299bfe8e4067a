//! Pinpoint's JSON:API documents turned into hirebridge's domain types.
//!
//! Parsing is lenient where Pinpoint's shapes are uncertain (ids as numbers, missing optional
//! attributes, unknown extra fields) and strict where a wrong guess would create a wrong
//! employee (a missing email or name makes the record unusable, with the reason kept).

use serde_json::Value;

/// A CV attachment on an application. The URL may be pre-signed and expire: use it in the
/// pass that read it, never store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub context: String,
    pub filename: String,
    pub url: String,
}

/// An application in a hired stage, with what hirebridge needs to create the employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiredApplication {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub job_title: Option<String>,
    /// The `pdf_cv` attachment, else the `cv` one, else none.
    pub cv: Option<Attachment>,
    pub updated_at: Option<String>,
}

/// A record in a listing that cannot be used, with the reason in the operator's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableRecord {
    /// The application id when even that could not be read is `None`.
    pub id: Option<String>,
    pub email: Option<String>,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: String,
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

/// The title of the job an application points at, from the document's `included` array.
fn job_title(resource: &Value, included: &[Value]) -> Option<String> {
    let job = resource.pointer("/relationships/job/data")?;
    let job_id = id_of(job.get("id")?)?;
    included
        .iter()
        .find(|r| {
            r.get("type").and_then(Value::as_str) == Some("jobs")
                && r.get("id").and_then(id_of).as_deref() == Some(job_id.as_str())
        })
        .and_then(|r| text(r.get("attributes")?, "title"))
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

/// One `applications` resource → a hire, or the reason it cannot be one.
pub fn application(
    resource: &Value,
    included: &[Value],
) -> Result<HiredApplication, UnusableRecord> {
    let id = resource.get("id").and_then(id_of);
    let attributes = resource.get("attributes").filter(|a| a.is_object());
    let email = attributes.and_then(|a| text(a, "email"));
    let unusable = |problem: &str| UnusableRecord {
        id: id.clone(),
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
    if !email.contains('@') {
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
    Ok(HiredApplication {
        id: id_text,
        first_name,
        last_name,
        email,
        phone: text(attributes, "phone"),
        job_title: job_title(resource, included),
        cv: cv_attachment(attributes),
        updated_at: text(attributes, "updated_at"),
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
}

/// Parses a listing document. Fails only when the document as a whole is not JSON:API.
pub fn applications_page(body: &[u8]) -> Result<ApplicationsPage, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let data = doc
        .get("data")
        .and_then(Value::as_array)
        .ok_or("`data` is not an array")?;
    let included = included(&doc);
    let mut page = ApplicationsPage {
        records: data.len(),
        next_link: doc
            .pointer("/links/next")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Default::default()
    };
    for resource in data {
        match application(resource, included) {
            Ok(a) => page.applications.push(a),
            Err(u) => page.unusable.push(u),
        }
    }
    Ok(page)
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
                id: id_of(r.get("id")?)?,
                body_text: r
                    .pointer("/attributes/body_text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            })
        })
        .collect())
}

/// The stage group a single-application document says it is in (`stage_basic_type`, e.g.
/// `hired`), when it says so.
pub fn stage_basic_type(body: &[u8]) -> Option<String> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    text(doc.pointer("/data/attributes")?, "stage_basic_type")
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
        let no_id = json!({"type": "applications", "attributes": {}});
        let wrong_type = json!({"id": "5", "attributes": "oops"});
        let page = applications_page(&listing(json!([
            ada(),
            no_email,
            bad_email,
            no_id,
            wrong_type
        ])))
        .unwrap();
        assert_eq!(page.records, 5);
        assert_eq!(page.applications.len(), 1);
        let ids: Vec<_> = page.unusable.iter().map(|u| u.id.clone()).collect();
        assert_eq!(
            ids,
            vec![Some("2".into()), Some("3".into()), None, Some("5".into())]
        );
        assert!(page.unusable[0].problem.contains("no email"));
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

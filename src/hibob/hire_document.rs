//! The document hirebridge posts to Bob's Hire API for one hire (`hibob.hire_flow =
//! "pending"`): JSON with stable camelCase keys, schema `hirebridge.hire.v1`, which a Bob admin
//! maps once to employee fields in Bob's Hire API integration screen (docs/hibob-hire-api.md
//! lists every key). A key is renamed only with a new schema name: an admin's mapping depends
//! on the names.
//!
//! Owns the document's shape only. It must not send anything, read or write the ledger, or
//! decide whether a hire is posted. The document carries the CV's URL, which may be pre-signed
//! and expire: build it in the pass that read the application and never store it.

use serde_json::{Map, Value, json};

use crate::employee::NewEmployee;
use crate::hire::ApplicationId;
use crate::hire::application::HiredApplication;

/// The document's schema name, its first key: a mapping made for one schema is never fed
/// another's keys.
pub const SCHEMA: &str = "hirebridge.hire.v1";

/// The attachment `type` of a CV.
pub const CV_ATTACHMENT: &str = "cv";

/// One hire as Bob's Hire API receives it. Built whole by [`HireDocument::new`]; the JSON is
/// read with [`HireDocument::json`].
#[derive(Clone, PartialEq)]
pub struct HireDocument {
    application_id: ApplicationId,
    body: Value,
}

/// Only the application's id: the body holds personal data and a CV link that may be a
/// credential of its own (pre-signed), neither of which belongs in a log line.
impl std::fmt::Debug for HireDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HireDocument")
            .field("application_id", &self.application_id)
            .finish_non_exhaustive()
    }
}

impl HireDocument {
    /// The document for `application`, whose employee hirebridge drafted as `employee` (the
    /// `employee` key is exactly what a direct create would send), linking back to the
    /// application's page in Pinpoint at `pinpoint_application_link` (the
    /// `[report] pinpoint_application_url` pattern rendered for this application). Keys whose
    /// value is unknown are left out, never null; `startDate` is always there (the drafted
    /// start date), and `attachments` is `[]` without a CV.
    pub fn new(
        application: &HiredApplication,
        employee: &NewEmployee,
        pinpoint_application_link: &str,
    ) -> Self {
        let body = json!({
            "schema": SCHEMA,
            "source": "pinpoint",
            "applicationId": application.id.as_str(),
            "candidate": candidate(application),
            "job": job(application),
            "startDate": employee.start_date.format("%Y-%m-%d").to_string(),
            "employee": super::create_body(employee),
            "links": { "pinpointApplication": pinpoint_application_link },
            "attachments": attachments(application),
        });
        Self {
            application_id: application.id.clone(),
            body,
        }
    }

    pub fn application_id(&self) -> &ApplicationId {
        &self.application_id
    }

    /// The JSON posted.
    pub fn json(&self) -> &Value {
        &self.body
    }

    /// The names the attachments go under in Bob: a CV Bob pulled and kept shows under this
    /// name on the employee, which is how hirebridge recognises it and never uploads it again.
    pub fn attachment_names(&self) -> Vec<&str> {
        self.body["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["name"].as_str())
            .collect()
    }
}

/// A text value worth sending: trimmed, and left out when empty.
fn known(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `pairs` as an object, leaving out the unknown values.
fn object_of(pairs: impl IntoIterator<Item = (&'static str, Option<String>)>) -> Value {
    let map: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| (key.to_owned(), Value::String(v))))
        .collect();
    Value::Object(map)
}

/// The candidate as Pinpoint has them (the `employee` key holds what the mapping made of it).
fn candidate(application: &HiredApplication) -> Value {
    object_of([
        ("firstName", known(Some(&application.first_name))),
        ("surname", known(Some(&application.last_name))),
        ("email", known(Some(&application.email))),
        ("phone", known(application.phone.as_deref())),
    ])
}

/// The job's title, department and location names, as Pinpoint names them.
fn job(application: &HiredApplication) -> Value {
    let source = &application.source["job"];
    let text = |key: &str| known(source.get(key).and_then(Value::as_str));
    object_of([
        (
            "title",
            known(application.job_title.as_deref()).or_else(|| text("title")),
        ),
        ("department", text("department")),
        ("location", text("location")),
    ])
}

/// The CV as a URL Bob pulls, named as hirebridge names a CV in HiBob.
fn attachments(application: &HiredApplication) -> Value {
    let Some(cv) = &application.cv else {
        return json!([]);
    };
    json!([{
        "type": CV_ATTACHMENT,
        "name": crate::reconcile::plan::cv_document_name(&application.id, &cv.filename),
        "url": cv.url,
        "fileName": cv.filename,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hire::application::Attachment;
    use chrono::NaiveDate;

    fn application() -> HiredApplication {
        HiredApplication {
            id: "4242".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            phone: Some("+44 20 7946 0000".into()),
            job_title: Some("Engineer".into()),
            cv: Some(Attachment {
                context: "pdf_cv".into(),
                filename: "Ada Lovelace CV.PDF".into(),
                url: "https://files.pinpoint.example/cv/4242.pdf?sig=abc".into(),
            }),
            updated_at: None,
            stage_id: None,
            hired_at: Some("2026-12-01T10:00:00Z".into()),
            rejected_at: None,
            created_at: None,
            source: json!({
                "application": { "id": "4242" },
                "job": { "title": "Engineer", "department": "R&D", "location": "London" },
            }),
        }
    }

    fn employee() -> NewEmployee {
        NewEmployee {
            first_name: "Ada".into(),
            surname: "Lovelace".into(),
            email: "ada.lovelace@corp.example".into(),
            site: "London".into(),
            start_date: NaiveDate::from_ymd_opt(2027, 1, 4).unwrap(),
            fields: [
                ("work.title".to_owned(), "Engineer".to_owned()),
                ("home.privateEmail".to_owned(), "ada@example.com".to_owned()),
            ]
            .into(),
        }
    }

    const LINK: &str = "https://acme.pinpointhq.com/admin/applications/4242";

    /// Every key and value, pinned: an admin's mapping in Bob depends on each name.
    #[test]
    fn the_document_is_exactly_the_documented_one() {
        let document = HireDocument::new(&application(), &employee(), LINK);
        assert_eq!(
            document.json(),
            &json!({
                "schema": "hirebridge.hire.v1",
                "source": "pinpoint",
                "applicationId": "4242",
                "candidate": {
                    "firstName": "Ada",
                    "surname": "Lovelace",
                    "email": "ada@example.com",
                    "phone": "+44 20 7946 0000",
                },
                "job": { "title": "Engineer", "department": "R&D", "location": "London" },
                "startDate": "2027-01-04",
                "employee": {
                    "firstName": "Ada",
                    "surname": "Lovelace",
                    "email": "ada.lovelace@corp.example",
                    "work": { "title": "Engineer", "site": "London", "startDate": "2027-01-04" },
                    "home": { "privateEmail": "ada@example.com" },
                },
                "links": { "pinpointApplication": LINK },
                "attachments": [{
                    "type": "cv",
                    "name": "CV (Pinpoint application 4242).pdf",
                    "url": "https://files.pinpoint.example/cv/4242.pdf?sig=abc",
                    "fileName": "Ada Lovelace CV.PDF",
                }],
            })
        );
        assert_eq!(document.application_id(), "4242");
        assert_eq!(
            document.attachment_names(),
            vec!["CV (Pinpoint application 4242).pdf"]
        );
    }

    #[test]
    fn the_employee_key_is_what_a_direct_create_sends() {
        let document = HireDocument::new(&application(), &employee(), LINK);
        assert_eq!(
            document.json()["employee"],
            crate::hibob::create_body(&employee())
        );
    }

    #[test]
    fn the_attachment_is_named_as_the_cv_step_names_it() {
        let app = application();
        let document = HireDocument::new(&app, &employee(), LINK);
        let cv = app.cv.as_ref().unwrap();
        assert_eq!(
            document.json()["attachments"][0]["name"],
            crate::reconcile::plan::cv_document_name(&app.id, &cv.filename)
        );
    }

    /// Unknown values are left out, never null; `startDate` and the four objects stay.
    #[test]
    fn unknown_values_are_left_out_and_nothing_is_ever_null() {
        let mut app = application();
        app.phone = Some("  ".into());
        app.job_title = None;
        app.cv = None;
        app.source = json!({ "job": { "department": null } });
        let document = HireDocument::new(&app, &employee(), LINK);
        let body = document.json();
        assert_eq!(
            body["candidate"],
            json!({ "firstName": "Ada", "surname": "Lovelace", "email": "ada@example.com" })
        );
        assert_eq!(body["job"], json!({}));
        assert_eq!(body["attachments"], json!([]));
        assert_eq!(body["startDate"], "2027-01-04");
        assert!(document.attachment_names().is_empty());
        for document in [
            document,
            HireDocument::new(&application(), &employee(), LINK),
        ] {
            assert_no_null(document.json(), "$");
        }
    }

    /// The title falls back to the job's own attribute when the application has none.
    #[test]
    fn the_jobs_title_comes_from_the_job_when_the_application_lacks_it() {
        let mut app = application();
        app.job_title = None;
        let document = HireDocument::new(&app, &employee(), LINK);
        assert_eq!(document.json()["job"]["title"], "Engineer");
    }

    #[test]
    fn debug_shows_neither_personal_data_nor_the_cv_link() {
        let shown = format!("{:?}", HireDocument::new(&application(), &employee(), LINK));
        assert!(shown.contains("4242"), "{shown}");
        assert!(
            !shown.contains("sig=abc") && !shown.contains("Lovelace"),
            "{shown}"
        );
    }

    fn assert_no_null(value: &Value, at: &str) {
        match value {
            Value::Null => panic!("{at} is null"),
            Value::Object(map) => map
                .iter()
                .for_each(|(k, v)| assert_no_null(v, &format!("{at}.{k}"))),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| assert_no_null(v, &format!("{at}[{i}]"))),
            _ => {}
        }
    }
}

//! Simulated HiBob Hire API, the "ATS Pending hires" flow: the one POST an ATS sends when a
//! candidate is hired, what Bob keeps of it (the body as received and the attachments it
//! pulled), and HR finishing it in Bob's UI by completing a New hire flow or dismissing it.
//!
//! Completing creates the employee through the same path as `POST /people`
//! ([`hibob::store_new_employee`]), and attachments are pulled with the same download HiBob's
//! document upload uses ([`hibob::fetch`]): counted as `DownloadFile` calls and subject to its
//! faults. Bob has no documented read of pending hires, so neither does the simulator's HTTP
//! side; tests look at them through [`super::Sim`].

use chrono::Utc;
use serde_json::{Value, json};

use super::hibob::{self, Fetched};
use super::state::{PendingHire, PendingStatus, PulledAttachment, Shared, State};
use super::wire::{Incoming, Reply};

/// The folder Bob files a kept CV in: the shared one, as hirebridge's own upload does by
/// default.
const KEPT_CV_FOLDER: &str = "shared";

/// How HR completes a pending hire in Bob's New hire flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HrCompletion {
    pub login: HrLogin,
    /// Bob keeps the attachments it pulled as the employee's documents, each under its
    /// `name`; when false the employee gets no documents.
    pub keep_pulled_cv: bool,
    pub changes: HrChanges,
}

/// The login (work) email HR gives the new employee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HrLogin {
    /// The candidate's own address (`candidate.email`, else `employee.email`).
    CandidateEmail,
    /// A company address; the candidate's address is kept as `home.privateEmail`.
    Company(String),
}

/// What HR changes in the flow before completing it; `None` keeps the posted value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HrChanges {
    pub first_name: Option<String>,
    /// `YYYY-MM-DD`.
    pub start_date: Option<String>,
    pub title: Option<String>,
}

/// Why HR could not complete or dismiss a pending hire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PendingHireError {
    /// No Hire API post for this application id was ever stored.
    NoPendingHire(String),
    /// Every pending hire for this application id was already completed or dismissed.
    AlreadyClosed(String),
    /// Bob would not create the employee (HiBob's create error, as its JSON text); the
    /// pending hire stays waiting.
    Refused(String),
}

impl std::fmt::Display for PendingHireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PendingHireError::NoPendingHire(id) => {
                write!(f, "no pending hire for application {id}")
            }
            PendingHireError::AlreadyClosed(id) => write!(
                f,
                "the pending hire for application {id} was already completed or dismissed"
            ),
            PendingHireError::Refused(why) => write!(f, "HiBob refused the new employee: {why}"),
        }
    }
}

impl std::error::Error for PendingHireError {}

/// `POST {HIBOB_HIRE_API_PATH}`: the exact `Authorization` value (401, empty body, as HiBob's
/// auth failures, otherwise), a JSON object (400 otherwise), then the attachments pulled and
/// the hire stored. Bob's answer is undocumented; `{}` stands in for it.
pub(crate) async fn post(shared: &Shared, req: &Incoming) -> Reply {
    let expected = shared.lock().credentials.hire_api_authorization.clone();
    let given = req.headers.get("authorization").map(|v| v.as_bytes());
    if given != Some(expected.as_bytes()) {
        return Reply::empty(401);
    }
    let body = match serde_json::from_slice::<Value>(&req.body) {
        Ok(body) if body.is_object() => body,
        _ => return hibob::malformed_json(),
    };
    let attachments = pull_attachments(shared, &body).await;
    let application_id = match body.get("applicationId") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    shared.lock().pending_hires.push(PendingHire {
        application_id,
        body,
        received_at: Utc::now(),
        attachments,
        status: PendingStatus::Waiting,
    });
    Reply::json(200, &json!({}))
}

/// Downloads each `attachments[].url`, as Bob does on receipt. Entries that are not objects
/// are skipped: there is nothing Bob could pull.
async fn pull_attachments(shared: &Shared, body: &Value) -> Vec<PulledAttachment> {
    let mut pulled = Vec::new();
    for a in body["attachments"].as_array().into_iter().flatten() {
        if !a.is_object() {
            continue;
        }
        let text = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let url = text("url");
        let ok = matches!(hibob::fetch(shared, &url).await, Fetched::File);
        pulled.push(PulledAttachment {
            name: text("name"),
            url,
            pulled: ok,
        });
    }
    pulled
}

/// HR completes the newest waiting pending hire of this application: the employee is created
/// from the posted `employee` object with HR's login and changes, and gets the pulled
/// attachments as documents when HR keeps them. Returns the new employee's id.
pub(crate) fn complete(
    shared: &Shared,
    application_id: &str,
    completion: &HrCompletion,
) -> Result<String, PendingHireError> {
    let mut st = shared.lock();
    let index = newest_waiting(&st, application_id)?;
    let body = employee_body(&st.pending_hires[index].body, completion)?;
    let (employee_id, _) = hibob::store_new_employee(&mut st, &body)
        .map_err(|reply| PendingHireError::Refused(String::from_utf8_lossy(&reply.body).into()))?;
    if completion.keep_pulled_cv {
        let kept: Vec<PulledAttachment> = st.pending_hires[index]
            .attachments
            .iter()
            .filter(|a| a.pulled)
            .cloned()
            .collect();
        for a in kept {
            st.add_document(&employee_id, KEPT_CV_FOLDER, &a.name, &a.url);
        }
    }
    st.pending_hires[index].status = PendingStatus::Completed {
        employee_id: employee_id.clone(),
    };
    Ok(employee_id)
}

/// HR dismisses the newest waiting pending hire of this application: no employee.
pub(crate) fn dismiss(shared: &Shared, application_id: &str) -> Result<(), PendingHireError> {
    let mut st = shared.lock();
    let index = newest_waiting(&st, application_id)?;
    st.pending_hires[index].status = PendingStatus::Dismissed;
    Ok(())
}

/// Where the newest waiting pending hire of the application is. A re-post makes a second
/// pending hire; HR is taken to act on the latest, which carries the newest data.
fn newest_waiting(st: &State, application_id: &str) -> Result<usize, PendingHireError> {
    let mut seen = false;
    for (i, hire) in st.pending_hires.iter().enumerate().rev() {
        if hire.application_id == application_id {
            seen = true;
            if hire.is_waiting() {
                return Ok(i);
            }
        }
    }
    Err(if seen {
        PendingHireError::AlreadyClosed(application_id.to_owned())
    } else {
        PendingHireError::NoPendingHire(application_id.to_owned())
    })
}

/// The create body HR's flow ends with: the posted `employee` object (Bob's mapping of the
/// payload, taken as the identity mapping), with the login email HR chose and HR's changes.
fn employee_body(posted: &Value, completion: &HrCompletion) -> Result<Value, PendingHireError> {
    let mut body = posted
        .get("employee")
        .filter(|e| e.is_object())
        .cloned()
        .ok_or_else(|| {
            PendingHireError::Refused("the posted body has no employee object".into())
        })?;
    let candidate_email = posted
        .pointer("/candidate/email")
        .or_else(|| posted.get("employee").and_then(|e| e.get("email")))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match &completion.login {
        HrLogin::CandidateEmail => {
            if let Some(email) = candidate_email {
                body["email"] = json!(email);
            }
        }
        HrLogin::Company(address) => {
            body["email"] = json!(address);
            if let Some(email) = candidate_email {
                set_nested(&mut body, "home", "privateEmail", &email);
            }
        }
    }
    let changes = &completion.changes;
    if let Some(first) = &changes.first_name {
        body["firstName"] = json!(first);
    }
    if let Some(start) = &changes.start_date {
        set_nested(&mut body, "work", "startDate", start);
    }
    if let Some(title) = &changes.title {
        set_nested(&mut body, "work", "title", title);
    }
    Ok(body)
}

/// Sets `category.field` in a body nested by category, making the category an object first
/// when it is missing or not one.
fn set_nested(body: &mut Value, category: &str, field: &str, value: &str) {
    if !body.get(category).is_some_and(Value::is_object) {
        body[category] = json!({});
    }
    body[category][field] = json!(value);
}

//! `POST /exportCandidate/submit`: check the key and the values, record what HR approved in
//! the ledger, run the hire through the pipeline (as a nudge with the trigger `plugin`), and
//! answer with what HiBob said. A replay (the same `generatedUuid`, or an application already
//! answered with success) is answered from the ledger, with no write anywhere.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};

use super::form::{self, APPLICATION_ID, application_id, field_error};
use super::{ACTION_KEY, PluginSettings, PluginState, answer, authorized, parse_body};
use crate::hire::{ApplicationId, HireStatus, LedgerEntry, NudgeOutcome, StepState};
use crate::ledger::LedgerError;
use crate::reconcile::Nudger;

const WRONG_KEY: &str = "The plugin key in Pinpoint's configuration does not match hirebridge's; enter the key set as HIREBRIDGE_PLUGIN_KEY on the hirebridge host. Nothing was sent to HiBob.";

fn failure(toast: &str, errors: Vec<Value>) -> Value {
    json!({
        "resultVersion": "1.0.0",
        "key": ACTION_KEY,
        "success": false,
        "toast": {"error": toast},
        "errors": errors,
    })
}

fn success(settings: &PluginSettings, employee: &str, message: String) -> Value {
    json!({
        "resultVersion": "1.0.0",
        "key": ACTION_KEY,
        "success": true,
        "status": "completed",
        "externalIdentifier": employee,
        "externalRecordUrl": crate::config::ReportLinks::to(&settings.employee_url, employee),
        "externalLinks": [],
        "message": message,
    })
}

pub(super) async fn submit(
    State(state): State<PluginState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let settings = state.settings();
    let (doc, id, uuid) = match checked_request(&state, &settings, &headers, &body) {
        Ok(request) => request,
        Err((status, refusal)) => return answer(status, refusal),
    };
    // The pipeline runs in its own task: a peer that hangs up (or the listener's deadline)
    // drops this handler, and must not cancel a hire between HiBob's answer and the ledger
    // recording it. The task finishes and records its answer; a replay is answered from it.
    let worker = {
        let (state, id) = (state.clone(), id.clone());
        tokio::spawn(async move {
            let _one_at_a_time = state.submitting.lock().await;
            run(&state, &settings, &doc, &id, uuid.as_deref()).await
        })
    };
    let ran = match worker.await {
        Ok(ran) => ran,
        Err(e) => {
            tracing::error!(application = %id, error = %e, "plugin submit task failed");
            state.monitor.plugin_submit("ledger_error");
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                failure(
                    "hirebridge could not finish this submit; send it again: no second employee will be made.",
                    Vec::new(),
                ),
            );
        }
    };
    match ran {
        Ok((result, body)) => {
            tracing::info!(application = %id, result, "plugin submit answered");
            state.monitor.plugin_submit(result);
            answer(StatusCode::OK, body)
        }
        Err(e) => {
            tracing::error!(application = %id, error = %e, "plugin submit stopped: the ledger failed");
            state.monitor.plugin_submit("ledger_error");
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                failure(
                    "hirebridge cannot use its ledger; its operator finds the cause in the journal (journalctl -u hirebridge). Send again once it is fixed: no second employee will be made.",
                    Vec::new(),
                ),
            )
        }
    }
}

/// The submit's body, application id and `generatedUuid`, once its key and shape pass; else
/// the status and body that refuse it (counted, and nothing looked up).
fn checked_request(
    state: &PluginState,
    settings: &PluginSettings,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Value, ApplicationId, Option<String>), (StatusCode, Value)> {
    let doc = parse_body(body);
    if !authorized(settings, headers, doc.as_ref().ok()) {
        state.monitor.plugin_submit("unauthorized");
        return Err((StatusCode::OK, failure(WRONG_KEY, Vec::new())));
    }
    let malformed = |message: String, errors: Vec<Value>| {
        state.monitor.plugin_submit("malformed");
        (
            StatusCode::BAD_REQUEST,
            failure(&format!("{message}; nothing was sent to HiBob"), errors),
        )
    };
    let doc = doc.map_err(|e| malformed(e, Vec::new()))?;
    let id = match application_id(&doc) {
        Some(Ok(id)) => id,
        Some(Err(e)) => {
            return Err(malformed(e.clone(), vec![field_error(APPLICATION_ID, e)]));
        }
        None => {
            let e = "the submit names no application (the action's `applicationId` mapping, {{application_id}}); register the plugin again so Pinpoint reads its mappings";
            return Err(malformed(e.into(), vec![field_error(APPLICATION_ID, e)]));
        }
    };
    let uuid = generated_uuid(&doc).map_err(|e| malformed(e.into(), Vec::new()))?;
    if let Some(key) = oversized_field(&doc) {
        return Err(malformed(
            format!(
                "the field {key:?} is longer than {MAX_FIELD_CHARS} characters or holds control characters"
            ),
            vec![field_error(&key, "too long, or holds control characters")],
        ));
    }
    Ok((doc, id, uuid))
}

/// The submit's `generatedUuid`, if it carries one. Pinpoint's uuids are short and plain;
/// anything else would turn replay detection off or carry control characters into the
/// ledger's history.
fn generated_uuid(doc: &Value) -> Result<Option<String>, &'static str> {
    match doc.get("generatedUuid") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(u)) if u.trim().is_empty() => Ok(None),
        Some(Value::String(u))
            if u.len() <= 64 && u.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            Ok(Some(u.clone()))
        }
        Some(_) => Err("generatedUuid must be up to 64 letters, digits and dashes"),
    }
}

/// The longest value a form field may carry: names, an email, a date, a list value.
const MAX_FIELD_CHARS: usize = 500;

/// The first form field whose value is too long or holds control characters: refused before
/// any lookup, so a request's cost stays bounded whatever a peer sends.
fn oversized_field(doc: &Value) -> Option<String> {
    let fields = doc.get("formFields")?.as_array()?;
    fields.iter().find_map(|f| {
        let value = f.get("value")?.as_str()?;
        let bad = value.chars().count() > MAX_FIELD_CHARS || value.chars().any(char::is_control);
        bad.then(|| {
            f.get("key")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .chars()
                .take(64)
                .collect()
        })
    })
}

/// A stored answer, if it is one.
fn stored(answer: Option<String>) -> Option<Value> {
    answer.and_then(|a| serde_json::from_str(&a).ok())
}

/// A submit's result, for the metric, and the answer's body.
type Answered = (&'static str, Value);

/// The submit after its key and shape were checked: the metric's result and the answer.
async fn run(
    state: &PluginState,
    settings: &PluginSettings,
    doc: &Value,
    id: &ApplicationId,
    uuid: Option<&str>,
) -> Result<Answered, LedgerError> {
    let nudger = state.nudger();
    let recorded = match replay(&nudger, id, uuid)? {
        ControlFlow::Break(answered) => return Ok(answered),
        ControlFlow::Continue(recorded) => recorded,
    };
    let entry = nudger.ledger().entry(id)?;
    if let Some(answered) = already_done(&nudger, settings, entry.as_ref(), recorded)? {
        return Ok(answered);
    }
    let approved = match approved_values(state, &nudger, doc, id).await {
        Ok(approved) => approved,
        Err(refused) => return Ok(refused),
    };
    // A person's submit for a hire hirebridge parked is their retry (and one waiting out a
    // backoff is worked now).
    // A replayed uuid is not a new request from a person: it retries nothing.
    if let Some(entry) = &entry
        && recorded.is_none()
        && matches!(
            entry.status,
            HireStatus::NeedsAttention | HireStatus::Failed
        )
    {
        nudger.ledger().retry(Some(id), Utc::now())?;
    }
    // A create whose outcome is unknown went out with the values then in force, and it is
    // found (or sent again) under those addresses: new values now could make a second
    // employee under another email. The submit changes nothing; the pipeline resolves the
    // create as in the poll and the answer says what HiBob has.
    if let Some(entry) = &entry
        && entry.employee.state() == StepState::InFlight
        && recorded.is_none()
    {
        let (result, body, _) = work(state, &nudger, settings, id).await?;
        return Ok((result, body));
    }
    let submit_id = match recorded {
        Some(submit_id) => submit_id,
        None => match record_submit(&nudger, id, uuid, &approved)? {
            Some(submit_id) => submit_id,
            None => return Ok(("pending", pending())),
        },
    };
    let (result, body, last) = work(state, &nudger, settings, id).await?;
    if last {
        let success = body["success"] == Value::Bool(true);
        nudger
            .ledger()
            .record_plugin_answer(submit_id, &body.to_string(), success, Utc::now())?;
    }
    Ok((result, body))
}

/// Replays, from the ledger alone: a `generatedUuid` seen before is answered as it was then
/// (or continues as the submit recorded then, while its answer is pending), and an
/// application already answered with success is answered the same again.
fn replay(
    nudger: &Nudger,
    id: &ApplicationId,
    uuid: Option<&str>,
) -> Result<ControlFlow<Answered, Option<i64>>, LedgerError> {
    let mut recorded = None;
    if let Some(uuid) = uuid
        && let Some(earlier) = nudger.ledger().plugin_submit_by_uuid(uuid)?
    {
        if earlier.application_id != id.as_str() {
            return Ok(ControlFlow::Break((
                "malformed",
                failure(
                    "this generatedUuid was sent before for another application; nothing was sent to HiBob",
                    Vec::new(),
                ),
            )));
        }
        if let Some(answer) = stored(earlier.answer_json) {
            return Ok(ControlFlow::Break(("replayed", answer)));
        }
        recorded = Some(earlier.id);
    }
    let answered = nudger.ledger().plugin_success_for(id)?;
    Ok(match answered.and_then(|s| stored(s.answer_json)) {
        Some(answer) => ControlFlow::Break(("replayed", answer)),
        None => ControlFlow::Continue(recorded),
    })
}

/// A hire hirebridge already finished is answered with its employee, and nothing is written
/// to HiBob.
fn already_done(
    nudger: &Nudger,
    settings: &PluginSettings,
    entry: Option<&LedgerEntry>,
    recorded: Option<i64>,
) -> Result<Option<Answered>, LedgerError> {
    let Some(employee) = entry
        .filter(|e| e.status == HireStatus::Done)
        .and_then(LedgerEntry::hibob_employee_id)
    else {
        return Ok(None);
    };
    let body = success(
        settings,
        employee,
        format!(
            "Already in HiBob as employee {employee} (hirebridge brought this hire in before); nothing new was created."
        ),
    );
    // A submit answered "pending" earlier that a pass has since finished: its answer is
    // final now, kept for its replays and counted as a success.
    if let Some(submit_id) = recorded {
        nudger
            .ledger()
            .record_plugin_answer(submit_id, &body.to_string(), true, Utc::now())?;
    }
    Ok(Some(("already_done", body)))
}

/// What HR approved, checked against the mapping's rendering and HiBob's lists; else the
/// answer that refuses the submit (a bad field, an application Pinpoint cannot show, or one
/// not in a Hired stage).
async fn approved_values(
    state: &PluginState,
    nudger: &Nudger,
    doc: &Value,
    id: &ApplicationId,
) -> Result<BTreeMap<String, String>, Answered> {
    let next = nudger.next_create(id).await;
    let (rendered, candidate_email) = match &next {
        Ok(next) => (
            next.employee.as_ref().ok(),
            Some(next.application.email.as_str()),
        ),
        Err(_) => (None, None),
    };
    let approved = form::check(state, doc, rendered, candidate_email)
        .await
        .map_err(|errors| {
            (
                "invalid",
                failure(
                    "Some fields need correcting (see each field); nothing was sent to HiBob",
                    errors,
                ),
            )
        })?;
    match &next {
        Err(e) => {
            tracing::warn!(application = %id, error = %e, "plugin submit: cannot read the application");
            Err((
                "refused",
                failure(
                    "hirebridge could not read this application from Pinpoint just now; nothing was sent to HiBob. Send it again in a minute.",
                    Vec::new(),
                ),
            ))
        }
        Ok(next) if !next.hired => Err((
            "refused",
            failure(
                "Pinpoint does not show this application in a Hired stage; move it to Hired, then send it again. Nothing was sent to HiBob.",
                Vec::new(),
            ),
        )),
        Ok(_) => Ok(approved),
    }
}

/// What HR approved, in the ledger (and the hire's history) before anything is written for
/// it. `None`: the hire's create has started meanwhile, so the values are not recorded.
fn record_submit(
    nudger: &Nudger,
    id: &ApplicationId,
    uuid: Option<&str>,
    approved: &BTreeMap<String, String>,
) -> Result<Option<i64>, LedgerError> {
    let values = serde_json::to_string(approved).unwrap_or_else(|_| "{}".into());
    let detail = format!(
        "HR submitted in Pinpoint's plugin form{}: {}",
        uuid.map(|u| format!(" (generatedUuid {u})"))
            .unwrap_or_default(),
        crate::ledger::describe_values(approved)
    );
    nudger
        .ledger()
        .record_plugin_submit(uuid, id, &values, super::TRIGGER, &detail, Utc::now())
}

/// Runs the hire through the pipeline now and judges the ledger's entry afterwards.
async fn work(
    state: &PluginState,
    nudger: &Nudger,
    settings: &PluginSettings,
    id: &ApplicationId,
) -> Result<(&'static str, Value, bool), LedgerError> {
    let outcome = nudger.reconcile_one(id, &state.shutdown).await?;
    let entry = nudger.ledger().entry(id)?;
    Ok(judge(settings, outcome, entry.as_ref()))
}

/// The answer once the pipeline has run: the metric's result, the body, and whether it is
/// final (kept for replays). Only HiBob's employee id makes a success.
fn judge(
    settings: &PluginSettings,
    outcome: NudgeOutcome,
    entry: Option<&LedgerEntry>,
) -> (&'static str, Value, bool) {
    if let Some(entry) = entry
        && let Some(employee) = entry.hibob_employee_id()
    {
        let name = format!("{} {}", entry.first_name, entry.last_name);
        let rest = if entry.status == HireStatus::Done {
            "CV and Pinpoint comment done"
        } else {
            "the CV and the Pinpoint comment follow in hirebridge's next pass"
        };
        return (
            "created",
            success(
                settings,
                employee,
                format!("{} is HiBob employee {employee}; {rest}.", name.trim()),
            ),
            true,
        );
    }
    // Under `hibob.hire_flow = "pending"`: HR has it now, and HR's flow makes the employee.
    if entry.is_some_and(|e| e.status == HireStatus::WaitingForHr) {
        return ("sent_to_hr", sent_to_hr(), false);
    }
    // What HiBob or the ledger said stays with the operator (`history`, the log): the
    // people in Pinpoint get a sentence that says what to do.
    if let Some(last_error) = entry.and_then(|e| e.last_error.as_deref()) {
        tracing::info!(application = %entry.map(|e| e.application_id.as_str()).unwrap_or_default(), error = %last_error, "plugin submit not finished");
    }
    match outcome {
        NudgeOutcome::Parked | NudgeOutcome::Unusable => (
            "refused",
            failure(
                "HiBob did not take this hire; hirebridge's operator sees why with `hirebridge history` and can send it again. Nothing was created.",
                Vec::new(),
            ),
            false,
        ),
        NudgeOutcome::Unproven => (
            "pending",
            failure(
                "hirebridge could not yet prove this hire to itself (its API check or the next listing must run first); send again in a minute. Nothing was created.",
                Vec::new(),
            ),
            false,
        ),
        NudgeOutcome::NotHired | NudgeOutcome::NotFound => (
            "refused",
            failure(
                "Pinpoint does not show this application in a Hired stage; move it to Hired, then send it again. Nothing was sent to HiBob.",
                Vec::new(),
            ),
            false,
        ),
        NudgeOutcome::Refused | NudgeOutcome::WritesStopped => (
            "refused",
            failure(
                "hirebridge may not write to HiBob right now (a credential was refused, or its API check failed); its operator sees why in `hirebridge status`. Nothing was created: send again later.",
                Vec::new(),
            ),
            false,
        ),
        NudgeOutcome::Settled if entry.is_some_and(|e| e.status == HireStatus::Skipped) => (
            "refused",
            failure(
                "hirebridge leaves this hire out (hired before its go-live cutoff); its operator can include it with `hirebridge retry`.",
                Vec::new(),
            ),
            false,
        ),
        _ => ("pending", pending(), false),
    }
}

/// Sent to HiBob's ATS Pending hires: HR's New hire flow makes the employee; hirebridge then
/// attaches the CV and comments here.
fn sent_to_hr() -> Value {
    let mut body = failure(
        "Sent to HiBob's ATS Pending hires: HR completes HiBob's New hire flow, which creates the employee; hirebridge then adds the CV and a comment here. Nothing more to do in Pinpoint.",
        Vec::new(),
    );
    body["status"] = json!("pending");
    body
}

/// HiBob has not confirmed an employee yet: the next pass finishes the hire, and a second
/// employee is never made.
fn pending() -> Value {
    let mut body = failure(
        "HiBob has not confirmed the employee yet; hirebridge finishes this hire in its next pass and never creates a second one. Send again to see the result.",
        Vec::new(),
    );
    body["status"] = json!("pending");
    body
}

//! The simulator's HiBob Hire API over real HTTP: what it takes and stores, its faults, and HR
//! completing or dismissing the pending hires through `Sim`'s controls.

use std::time::Duration;

use hirebridge::sim::*;
use reqwest::{Client, Response};
use serde_json::{Value, json};

const CV_NAME: &str = "CV - Ada Lovelace (Pinpoint 10)";

fn client() -> Client {
    Client::builder().no_proxy().build().expect("client")
}

fn one_hire() -> Sim {
    let scenario = Scenario::empty()
        .with_job("1", "Engineer", Visibility::External)
        .with_application(SimApplication::hired(
            "10",
            "Ada",
            "Lovelace",
            "ada@example.com",
            "1",
        ));
    Sim::start(scenario).expect("simulator starts")
}

/// The URL Pinpoint gives application 10's CV: one the simulator serves, as Bob would pull.
async fn cv_url(sim: &Sim) -> String {
    let app: Value = client()
        .get(format!(
            "{}/applications/10?extra_fields[applications]=attachments",
            sim.pinpoint_base_url()
        ))
        .header("X-API-KEY", PINPOINT_API_KEY)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    app["data"]["attributes"]["attachments"][0]["url"]
        .as_str()
        .expect("a CV url")
        .to_owned()
}

/// A Hire API document in the shape hirebridge sends (`hirebridge.hire.v1`).
fn hire_doc(attachments: Value) -> Value {
    json!({
        "schema": "hirebridge.hire.v1",
        "source": "pinpoint",
        "applicationId": "10",
        "candidate": {"firstName": "Ada", "surname": "Lovelace", "email": "ada@example.com"},
        "job": {"title": "Engineer"},
        "startDate": "2027-01-04",
        "employee": {"firstName": "Ada", "surname": "Lovelace", "email": "ada@example.com",
            "work": {"title": "Engineer", "startDate": "2027-01-04", "site": "London"}},
        "attachments": attachments,
    })
}

async fn good_doc(sim: &Sim) -> Value {
    hire_doc(
        json!([{"type": "cv", "name": CV_NAME, "url": cv_url(sim).await,
        "fileName": "10_lovelace_cv.pdf"}]),
    )
}

async fn post_raw(sim: &Sim, authorization: Option<&str>, body: &str) -> Response {
    let mut req = client()
        .post(sim.hire_api_url())
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(value) = authorization {
        req = req.header("Authorization", value);
    }
    req.send().await.expect("send")
}

async fn post(sim: &Sim, body: &Value) -> Response {
    post_raw(sim, Some(HIBOB_HIRE_API_AUTHORIZATION), &body.to_string()).await
}

fn hr(login: HrLogin, keep_pulled_cv: bool) -> HrCompletion {
    HrCompletion {
        login,
        keep_pulled_cv,
        changes: HrChanges::default(),
    }
}

/// Employee ids `POST /people/search` finds by `root.email` (inactive people included).
async fn search_ids(sim: &Sim, email: &str) -> Vec<String> {
    let v: Value = client()
        .post(format!("{}/people/search", sim.hibob_base_url()))
        .basic_auth(HIBOB_SERVICE_USER_ID, Some(HIBOB_SERVICE_USER_TOKEN))
        .json(&json!({"fields": ["root.id", "root.email"],
            "filters": [{"fieldPath": "root.email", "operator": "equals", "values": [email]}],
            "showInactive": true}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    v["employees"]
        .as_array()
        .expect("employees")
        .iter()
        .map(|e| e["id"].as_str().expect("string id").to_owned())
        .collect()
}

/// The `documentName`s `GET /docs/people/{id}` lists.
async fn document_names(sim: &Sim, employee_id: &str) -> Vec<String> {
    let v: Value = client()
        .get(format!(
            "{}/docs/people/{employee_id}",
            sim.hibob_base_url()
        ))
        .basic_auth(HIBOB_SERVICE_USER_ID, Some(HIBOB_SERVICE_USER_TOKEN))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    v["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| d["documentName"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_wrong_authorization_is_refused_and_nothing_is_stored() {
    let sim = one_hire();
    let body = good_doc(&sim).await.to_string();
    assert_eq!(post_raw(&sim, None, &body).await.status(), 401);
    let service_user = "Basic U0VSVklDRS1TSU06c2ltLWhpYm9iLXRva2Vu";
    assert_eq!(
        post_raw(&sim, Some(service_user), &body).await.status(),
        401
    );
    let lowercased = HIBOB_HIRE_API_AUTHORIZATION.replace("Basic", "basic");
    assert_eq!(post_raw(&sim, Some(&lowercased), &body).await.status(), 401);
    assert!(sim.pending_hires().is_empty());
    assert_eq!(sim.count_status(Endpoint::HireApiPost, 401), 3);
    // Refused before the body is read: Bob pulled nothing.
    assert_eq!(sim.count(Endpoint::DownloadFile), 0);

    sim.set_hire_api_authorization("Bearer distinctive-hire-secret");
    assert_eq!(
        post_raw(&sim, Some(HIBOB_HIRE_API_AUTHORIZATION), &body)
            .await
            .status(),
        401
    );
    let r = post_raw(&sim, Some("Bearer distinctive-hire-secret"), &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(sim.pending_hires().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_is_not_a_json_object_is_refused_and_nothing_is_stored() {
    let sim = one_hire();
    let auth = Some(HIBOB_HIRE_API_AUTHORIZATION);
    for body in ["not json", "[1, 2]", "\"applicationId\"", ""] {
        let r = post_raw(&sim, auth, body).await;
        assert_eq!(r.status(), 400, "{body:?}");
        let v: Value = r.json().await.expect("HiBob's JSON error");
        assert_eq!(v["key"], "request.body.malformed");
    }
    assert!(sim.pending_hires().is_empty());
    assert_eq!(sim.count(Endpoint::HireApiPost), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_post_is_stored_and_its_cv_pulled() {
    let sim = one_hire();
    let doc = good_doc(&sim).await;
    let r = post(&sim, &doc).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json"), json!({}));
    let hires = sim.pending_hires();
    assert_eq!(hires.len(), 1);
    let hire = &hires[0];
    assert_eq!(hire.application_id, "10");
    assert_eq!(hire.body, doc);
    assert_eq!(hire.status, PendingStatus::Waiting);
    assert!(hire.received_at <= chrono::Utc::now());
    assert_eq!(hire.attachments.len(), 1);
    assert_eq!(hire.attachments[0].name, CV_NAME);
    assert!(hire.attachments[0].pulled);
    // Bob's pull is a download from Pinpoint's file host like any other.
    assert_eq!(sim.count_status(Endpoint::DownloadFile, 200), 1);
    assert_eq!(sim.count_status(Endpoint::HireApiPost, 200), 1);
    assert_eq!(sim.write_calls(), 1);
    // Nothing is created until HR completes the flow.
    assert!(sim.employees().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn attachments_the_simulator_does_not_serve_are_failed_pulls() {
    let sim = one_hire();
    let missing = format!("http://{}/files/10/nope.pdf", sim.addr());
    let doc = hire_doc(json!([
        {"type": "cv", "name": "elsewhere", "url": "https://files.example.com/cv.pdf"},
        {"type": "cv", "name": "missing", "url": missing},
        {"type": "cv", "name": "no url"},
    ]));
    assert_eq!(post(&sim, &doc).await.status(), 200);
    let hire = &sim.pending_hires()[0];
    let pulls: Vec<(&str, bool)> = hire
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), a.pulled))
        .collect();
    assert_eq!(
        pulls,
        [("elsewhere", false), ("missing", false), ("no url", false)]
    );

    // An expired pre-signed URL: the file host refuses Bob's pull.
    let cv = good_doc(&sim).await;
    sim.inject(FaultRule::new(Endpoint::DownloadFile, Fault::Status(403)));
    assert_eq!(post(&sim, &cv).await.status(), 200);
    assert!(!sim.pending_hires()[1].attachments[0].pulled);
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_apply_to_the_hire_api_like_to_any_endpoint() {
    let sim = one_hire();
    let doc = good_doc(&sim).await;

    sim.inject(FaultRule::new(Endpoint::HireApiPost, Fault::Status(503)));
    assert_eq!(post(&sim, &doc).await.status(), 503);
    assert!(sim.pending_hires().is_empty());

    // The ambiguous outcome: stored, yet the client is told 500.
    sim.inject(FaultRule::new(
        Endpoint::HireApiPost,
        Fault::CommitThenStatus(500),
    ));
    let r = post(&sim, &doc).await;
    assert_eq!(r.status(), 500);
    let v: Value = r.json().await.expect("HiBob's JSON error");
    assert_eq!(v["key"], "server.error");
    assert_eq!(sim.pending_hires().len(), 1);
    assert!(sim.pending_hires()[0].attachments[0].pulled);

    // A gateway failure comes from the edge as HTML, nothing stored.
    sim.inject(FaultRule::new(Endpoint::HireApiPost, Fault::Status(502)));
    let r = post(&sim, &doc).await;
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("Cloudflare"));
    assert_eq!(sim.pending_hires().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_that_hangs_after_storing_is_still_stored() {
    let sim = one_hire();
    let doc = good_doc(&sim).await;
    sim.inject(FaultRule::new(
        Endpoint::HireApiPost,
        Fault::CommitThenDelay(Duration::from_secs(5)),
    ));
    let timed_out = client()
        .post(sim.hire_api_url())
        .header("Authorization", HIBOB_HIRE_API_AUTHORIZATION)
        .json(&doc)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(timed_out.is_err_and(|e| e.is_timeout()));
    assert_eq!(sim.pending_hires().len(), 1);

    sim.inject(FaultRule::new(
        Endpoint::HireApiPost,
        Fault::Delay(Duration::from_millis(300)),
    ));
    let started = std::time::Instant::now();
    assert_eq!(post(&sim, &doc).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(sim.pending_hires().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn completing_with_the_candidate_email_creates_an_employee_found_by_it() {
    let sim = one_hire();
    assert_eq!(post(&sim, &good_doc(&sim).await).await.status(), 200);
    let id = sim
        .complete_pending_hire("10", hr(HrLogin::CandidateEmail, true))
        .expect("completed");
    assert_eq!(search_ids(&sim, "ada@example.com").await, vec![id.clone()]);
    let emp = sim.employee_by_email("ada@example.com").expect("employee");
    assert_eq!(emp.id, id);
    assert_eq!(
        (emp.first_name.as_str(), emp.surname.as_str()),
        ("Ada", "Lovelace")
    );
    assert_eq!(emp.start_date.to_string(), "2027-01-04");
    assert_eq!(
        sim.employee_field(&id, "work.title").as_deref(),
        Some("Engineer")
    );
    assert_eq!(sim.employee_field(&id, "home.privateEmail"), None);
    assert_eq!(
        sim.pending_hires()[0].status,
        PendingStatus::Completed {
            employee_id: id.clone()
        }
    );
    // Kept CV: the documents list shows it under the name hirebridge gave it.
    assert_eq!(document_names(&sim, &id).await, [CV_NAME]);
}

#[tokio::test(flavor = "multi_thread")]
async fn completing_with_a_company_address_keeps_the_candidate_email_as_private() {
    let sim = one_hire();
    assert_eq!(post(&sim, &good_doc(&sim).await).await.status(), 200);
    let changes = HrChanges {
        first_name: Some("Augusta".into()),
        start_date: Some("2027-02-01".into()),
        title: Some("Analyst".into()),
    };
    let completion = HrCompletion {
        login: HrLogin::Company("a.lovelace@acme.example".into()),
        keep_pulled_cv: false,
        changes,
    };
    let id = sim
        .complete_pending_hire("10", completion)
        .expect("completed");
    assert_eq!(
        search_ids(&sim, "a.lovelace@acme.example").await,
        vec![id.clone()]
    );
    // An email-only lookup by the candidate's address does not find the person.
    assert!(search_ids(&sim, "ada@example.com").await.is_empty());
    assert_eq!(
        sim.employee_field(&id, "home.privateEmail").as_deref(),
        Some("ada@example.com")
    );
    let emp = sim.employee_by_email("a.lovelace@acme.example").unwrap();
    assert_eq!(emp.first_name, "Augusta");
    assert_eq!(emp.start_date.to_string(), "2027-02-01");
    assert_eq!(
        sim.employee_field(&id, "work.title").as_deref(),
        Some("Analyst")
    );
    // HR did not keep the CV: no documents.
    assert!(document_names(&sim, &id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_hire_is_completed_or_dismissed_once() {
    let sim = one_hire();
    assert!(matches!(
        sim.complete_pending_hire("10", hr(HrLogin::CandidateEmail, true)),
        Err(PendingHireError::NoPendingHire(id)) if id == "10"
    ));
    assert_eq!(post(&sim, &good_doc(&sim).await).await.status(), 200);
    sim.complete_pending_hire("10", hr(HrLogin::CandidateEmail, true))
        .expect("completed");
    assert!(matches!(
        sim.complete_pending_hire("10", hr(HrLogin::CandidateEmail, true)),
        Err(PendingHireError::AlreadyClosed(_))
    ));
    assert!(matches!(
        sim.dismiss_pending_hire("10"),
        Err(PendingHireError::AlreadyClosed(_))
    ));
    assert_eq!(sim.employees().len(), 1);

    // A re-post is a second pending hire; dismissing it makes no employee and closes it.
    assert_eq!(post(&sim, &good_doc(&sim).await).await.status(), 200);
    sim.dismiss_pending_hire("10").expect("dismissed");
    assert_eq!(sim.pending_hires()[1].status, PendingStatus::Dismissed);
    assert!(matches!(
        sim.complete_pending_hire("10", hr(HrLogin::Company("x@acme.example".into()), false)),
        Err(PendingHireError::AlreadyClosed(_))
    ));
    assert_eq!(sim.employees().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completion_hibob_refuses_leaves_the_hire_waiting() {
    let sim = one_hire();
    assert_eq!(post(&sim, &good_doc(&sim).await).await.status(), 200);
    assert_eq!(post(&sim, &good_doc(&sim).await).await.status(), 200);
    sim.complete_pending_hire("10", hr(HrLogin::CandidateEmail, false))
        .expect("the newer one completed");
    // The address is taken now: HiBob's create refuses a second employee with it.
    let refused = sim.complete_pending_hire("10", hr(HrLogin::CandidateEmail, false));
    assert!(
        matches!(&refused, Err(PendingHireError::Refused(why)) if why.contains("alreadyexists")),
        "{refused:?}"
    );
    assert!(sim.pending_hires()[0].is_waiting());
    assert!(!sim.pending_hires()[1].is_waiting());
    let id = sim
        .complete_pending_hire("10", hr(HrLogin::Company("ada@acme.example".into()), false))
        .expect("completed under another address");
    assert_eq!(search_ids(&sim, "ada@acme.example").await, [id]);
}

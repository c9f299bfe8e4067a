//! Exercises the simulator over real HTTP.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hirebridge::sim::*;
use reqwest::{Client, Response};
use serde_json::{Value, json};

fn client() -> Client {
    Client::builder().no_proxy().build().expect("client")
}

fn two_job_scenario() -> Scenario {
    let mut conf = SimApplication::hired("20", "Mei", "Chen", "mei@example.com", "7");
    conf.cv = CvFiles::Both;
    let mut applied = SimApplication::hired("30", "Alan", "Turing", "alan@example.com", "1");
    applied.stage = Stage::Interview;
    Scenario::empty()
        .with_job("1", "Backend Engineer", Visibility::External)
        .with_job("7", "VP Finance", Visibility::Confidential)
        .with_application(SimApplication::hired(
            "10",
            "Ada",
            "Lovelace",
            "ada@example.com",
            "1",
        ))
        .with_application(conf)
        .with_application(applied)
}

async fn pp_get(sim: &Sim, path_and_query: &str) -> Response {
    client()
        .get(format!("{}{path_and_query}", sim.pinpoint_base_url()))
        .header("X-API-KEY", PINPOINT_API_KEY)
        .header("Accept", "application/vnd.api+json")
        .send()
        .await
        .expect("send")
}

async fn pp_json(sim: &Sim, path_and_query: &str) -> Value {
    let r = pp_get(sim, path_and_query).await;
    assert_eq!(r.status(), 200, "GET {path_and_query}");
    r.json().await.expect("json")
}

async fn hb_post(sim: &Sim, path: &str, body: &Value) -> Response {
    client()
        .post(format!("{}{path}", sim.hibob_base_url()))
        .basic_auth(HIBOB_SERVICE_USER_ID, Some(HIBOB_SERVICE_USER_TOKEN))
        .json(body)
        .send()
        .await
        .expect("send")
}

async fn hb_get(sim: &Sim, path: &str) -> Response {
    client()
        .get(format!("{}{path}", sim.hibob_base_url()))
        .basic_auth(HIBOB_SERVICE_USER_ID, Some(HIBOB_SERVICE_USER_TOKEN))
        .send()
        .await
        .expect("send")
}

fn person(first: &str, email: &str, start: &str) -> Value {
    json!({"firstName": first, "surname": "Test", "email": email,
        "work": {"site": "London", "startDate": start, "title": "Engineer"}})
}

fn search_body(email: &str, show_inactive: bool) -> Value {
    json!({"fields": ["root.id", "root.email"],
        "filters": [{"fieldPath": "root.email", "operator": "equals", "values": [email]}],
        "showInactive": show_inactive})
}

async fn search_ids(sim: &Sim, email: &str, show_inactive: bool) -> Vec<String> {
    let r = hb_post(sim, "/people/search", &search_body(email, show_inactive)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["employees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

fn ids(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn confidential_hidden_without_visibility_filter() {
    let sim = Sim::start(two_job_scenario()).unwrap();
    let v = pp_json(&sim, "/applications?filter[stage_basic_type]=hired").await;
    assert_eq!(ids(&v), ["10"]);
    assert!(v["data"][0]["attributes"].get("attachments").is_none());

    let q = "/applications?filter%5Bstage_basic_type%5D=hired&filter%5Bjob_visibility%5D=external,internal,private_job,confidential&extra_fields%5Bapplications%5D=attachments&include=job";
    let v = pp_json(&sim, q).await;
    assert_eq!(ids(&v), ["10", "20"]);
    assert_eq!(v["meta"]["count"], 2);
    let att = v["data"][1]["attributes"]["attachments"]
        .as_array()
        .unwrap();
    assert_eq!(att.len(), 2);
    assert_eq!(att[0]["context"], "pdf_cv");
    assert!(
        att[0]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let included = v["included"].as_array().unwrap();
    assert_eq!(included.len(), 2);
    assert_eq!(included[1]["attributes"]["visibility"], "confidential");
    assert_eq!(
        v["data"][0]["relationships"]["job"]["data"],
        json!({"type": "jobs", "id": "1"})
    );

    // Without any stage filter every stage is listed; stage_id filters too.
    assert_eq!(ids(&pp_json(&sim, "/applications").await), ["10", "30"]);
    assert_eq!(
        ids(&pp_json(
            &sim,
            &format!("/applications?filter[stage_id]={}", Stage::Hired.id())
        )
        .await),
        ["10"]
    );

    assert_eq!(pp_get(&sim, "/applications/20").await.status(), 404);
    let one = pp_json(
        &sim,
        "/applications/20?filter[job_visibility]=confidential&include=job",
    )
    .await;
    assert_eq!(one["data"]["id"], "20");
    assert_eq!(one["included"][0]["attributes"]["title"], "VP Finance");
    assert_eq!(pp_get(&sim, "/applications/999").await.status(), 404);
    assert_eq!(sim.count(Endpoint::GetApplication), 3);
    assert_eq!(sim.count_status(Endpoint::GetApplication, 404), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_follows_links_next() {
    let mut s = Scenario::empty().with_job("1", "Engineer", Visibility::External);
    for i in 1..=250u32 {
        s = s.with_application(SimApplication::hired(
            &i.to_string(),
            "P",
            &format!("N{i}"),
            &format!("p{i}@example.com"),
            "1",
        ));
    }
    let sim = Sim::start(s).unwrap();
    let mut url = format!(
        "{}/applications?filter[stage_basic_type]=hired&sort=id&page[size]=100",
        sim.pinpoint_base_url()
    );
    let mut seen = vec![];
    let mut pages = 0;
    loop {
        let r = client()
            .get(&url)
            .header("X-API-KEY", PINPOINT_API_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/vnd.api+json"
        );
        let v: Value = r.json().await.unwrap();
        pages += 1;
        assert_eq!(v["meta"]["count"], 250);
        seen.extend(ids(&v));
        match v["links"]["next"].as_str() {
            Some(next) => {
                assert!(next.contains("filter[stage_basic_type]=hired"), "{next}");
                assert!(next.contains("page[size]=100"), "{next}");
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expect: Vec<String> = (1..=250).map(|i: u32| i.to_string()).collect();
    assert_eq!(seen, expect, "numeric id order, no gaps or repeats");

    let big = pp_json(&sim, "/applications?page[size]=5000").await;
    assert_eq!(big["data"].as_array().unwrap().len(), 250);
    assert!(big["links"].get("next").is_none());
    let beyond = pp_json(&sim, "/applications?page[number]=9").await;
    assert!(beyond["data"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn create_returns_200_with_string_id_and_validates() {
    let sim = Sim::start(Scenario::empty()).unwrap();
    let r = hb_post(
        &sim,
        "/people",
        &person("Ada", "ada@example.com", "2026-12-07"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_str().expect("string id");
    assert_eq!(id.len(), 19);
    assert!(id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(v["work"]["site"], "London");
    assert_eq!(sim.employees()[0].body["work"]["title"], "Engineer");

    let dup = hb_post(
        &sim,
        "/people",
        &person("Ada", "ADA@example.com", "2026-12-07"),
    )
    .await;
    assert_eq!(dup.status(), 400);
    let e: Value = dup.json().await.unwrap();
    assert_eq!(e["key"], "validations.email.alreadyexists");
    assert_eq!(e["args"], json!(["ADA@example.com"]));

    let mut missing = person("Bo", "bo@example.com", "2026-12-07");
    missing["work"].as_object_mut().unwrap().remove("site");
    missing["work.site"] = json!("London");
    let e: Value = hb_post(&sim, "/people", &missing)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(e["key"], "validations.required");
    assert_eq!(e["args"], json!(["work.site"]));

    let mut bad_site = person("Bo", "bo@example.com", "2026-12-07");
    bad_site["work"]["site"] = json!("Atlantis");
    let r = hb_post(&sim, "/people", &bad_site).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["key"],
        "validations.list.value"
    );

    let r = hb_post(
        &sim,
        "/people",
        &person("Bo", "bo-at-example", "2026-12-07"),
    )
    .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["key"],
        "validations.email.invalid"
    );
    assert_eq!(sim.employees().len(), 1);
    assert_eq!(sim.count(Endpoint::CreatePerson), 5);
    assert_eq!(sim.count_status(Endpoint::CreatePerson, 400), 4);
    assert_eq!(sim.write_calls(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn read_lag_hides_new_employee_then_shows_it() {
    // Long enough that the next request surely comes within it, however loaded the machine.
    let sim = Sim::start(Scenario::empty().with_read_lag(Duration::from_secs(60))).unwrap();
    let r = hb_post(
        &sim,
        "/people",
        &person("Lag", "lag@example.com", "2020-01-01"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(search_ids(&sim, "lag@example.com", true).await.is_empty());
    assert_eq!(sim.employees().len(), 1, "state ignores lag");
    // The duplicate check does not wait for the lag.
    let dup = hb_post(
        &sim,
        "/people",
        &person("Lag", "lag@example.com", "2020-01-01"),
    )
    .await;
    assert_eq!(dup.status(), 400);
    // The lag over: the employee shows (case-insensitively).
    sim.set_hibob_read_lag(Duration::ZERO);
    assert_eq!(search_ids(&sim, "LAG@example.com", true).await.len(), 1);

    sim.set_hibob_read_lag(Duration::from_secs(60));
    assert!(search_ids(&sim, "lag@example.com", true).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn show_inactive_and_search_validation() {
    let future = (chrono::Utc::now().date_naive() + chrono::Days::new(30))
        .format("%Y-%m-%d")
        .to_string();
    let sim = Sim::start(Scenario::empty().with_employee(SimEmployeeSeed {
        first_name: "Old".into(),
        surname: "Hand".into(),
        email: "old@example.com".into(),
        site: "London".into(),
        start_date: chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        termination_date: None,
    }))
    .unwrap();
    hb_post(&sim, "/people", &person("New", "new@example.com", &future)).await;
    assert!(search_ids(&sim, "new@example.com", false).await.is_empty());
    assert_eq!(search_ids(&sim, "new@example.com", true).await.len(), 1);
    assert_eq!(search_ids(&sim, "old@example.com", false).await.len(), 1);

    // One filter with many values checks a batch; omitting filters lists everyone visible.
    let batch = json!({"filters": [{"fieldPath": "root.email", "operator": "equals",
        "values": ["old@example.com", "new@example.com", "nobody@example.com"]}], "showInactive": true});
    let v: Value = hb_post(&sim, "/people/search", &batch)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["employees"].as_array().unwrap().len(), 2);
    let all: Value = hb_post(&sim, "/people/search", &json!({"showInactive": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["employees"].as_array().unwrap().len(), 1);
    let id = sim.employees()[1].id.clone();
    let by_id = json!({"filters": [{"fieldPath": "root.id", "operator": "equals", "values": [id]}],
        "showInactive": true});
    let v: Value = hb_post(&sim, "/people/search", &by_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["employees"][0]["email"], "new@example.com");

    for bad in [
        json!({"filters": []}),
        json!({"filters": [
            {"fieldPath": "root.email", "operator": "equals", "values": ["a@b"]},
            {"fieldPath": "root.id", "operator": "equals", "values": ["1"]}]}),
        json!({"filters": [{"fieldPath": "work.site", "operator": "equals", "values": ["London"]}]}),
        json!({"filters": [{"fieldPath": "root.email", "operator": "contains", "values": ["a"]}]}),
    ] {
        let r = hb_post(&sim, "/people/search", &bad).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.json::<Value>().await.unwrap()["key"].is_string());
    }
    let r = client()
        .post(format!("{}/people/search", sim.hibob_base_url()))
        .basic_auth(HIBOB_SERVICE_USER_ID, Some(HIBOB_SERVICE_USER_TOKEN))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_then_502_creates_the_employee() {
    let sim = Sim::start(Scenario::empty()).unwrap();
    sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::CommitThenStatus(502)).matching("amb@"),
    );
    // Does not match: unaffected.
    let r = hb_post(
        &sim,
        "/people",
        &person("Other", "other@example.com", "2026-01-01"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = hb_post(
        &sim,
        "/people",
        &person("Amb", "amb@example.com", "2026-01-01"),
    )
    .await;
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("<html"));
    assert!(sim.employees().iter().any(|e| e.email == "amb@example.com"));
    assert_eq!(search_ids(&sim, "amb@example.com", true).await.len(), 1);
    let again = hb_post(
        &sim,
        "/people",
        &person("Amb", "amb@example.com", "2026-01-01"),
    )
    .await;
    assert_eq!(again.status(), 400, "rule used up, duplicate detected");
    assert_eq!(sim.count_status(Endpoint::CreatePerson, 502), 1);

    // Plain Status faults have no effect.
    sim.inject(FaultRule::new(Endpoint::CreatePerson, Fault::Status(503)).times(2));
    for _ in 0..2 {
        let r = hb_post(
            &sim,
            "/people",
            &person("No", "no@example.com", "2026-01-01"),
        )
        .await;
        assert_eq!(r.status(), 503);
    }
    assert!(sim.employees().iter().all(|e| e.email != "no@example.com"));
    let r = hb_post(
        &sim,
        "/people",
        &person("No", "no@example.com", "2026-01-01"),
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_window_429_with_headers() {
    // A long window so the test cannot straddle a boundary.
    let sim = Sim::start(Scenario::empty().with_rate_limit(3, Duration::from_secs(3600))).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for expect_remaining in ["2", "1", "0"] {
        let r = hb_post(&sim, "/people/search", &search_body("x@example.com", true)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ratelimit-limit"], "3");
        assert_eq!(r.headers()["x-ratelimit-remaining"], expect_remaining);
    }
    let r = hb_post(&sim, "/people/search", &search_body("x@example.com", true)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let reset: u64 = r.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > now && reset <= now + 3600 && reset.is_multiple_of(3600));

    // Create has its own window; a rejected create has no effect.
    for i in 0..3 {
        let r = hb_post(
            &sim,
            "/people",
            &person("R", &format!("r{i}@example.com"), "2026-01-01"),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    let r = hb_post(
        &sim,
        "/people",
        &person("R", "r9@example.com", "2026-01-01"),
    )
    .await;
    assert_eq!(r.status(), 429);
    assert_eq!(sim.employees().len(), 3);
    assert_eq!(sim.count_status(Endpoint::SearchPeople, 429), 1);

    // Injected 429s carry the headers and an optional Retry-After, on any endpoint.
    sim.inject(FaultRule::new(
        Endpoint::ListApplications,
        Fault::RateLimited {
            retry_after_secs: Some(2),
        },
    ));
    let r = pp_get(&sim, "/applications").await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    assert!(r.headers().contains_key("x-ratelimit-reset"));
    assert_eq!(pp_get(&sim, "/applications").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn document_upload_fetches_the_cv_url() {
    let sim = Sim::start(two_job_scenario()).unwrap();
    let app = pp_json(
        &sim,
        "/applications/10?extra_fields[applications]=attachments",
    )
    .await;
    let url = app["data"]["attributes"]["attachments"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let pdf = client().get(&url).send().await.unwrap();
    assert_eq!(pdf.status(), 200);
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-1.4"));
    assert_eq!(
        client()
            .get(format!("http://{}/files/10/nope.pdf", sim.addr()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let v: Value = hb_post(
        &sim,
        "/people",
        &person("Ada", "ada@example.com", "2026-01-01"),
    )
    .await
    .json()
    .await
    .unwrap();
    let emp = v["id"].as_str().unwrap().to_string();
    let doc = json!({"documentName": "CV - Ada Lovelace (pinpoint 10).pdf", "documentUrl": url, "tags": []});
    sim.reset_counters();
    let r = hb_post(&sim, &format!("/docs/people/{emp}/shared"), &doc).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "Created");
    assert!(v["id"].is_string());
    assert_eq!(sim.count(Endpoint::DownloadFile), 1, "the fetch is counted");
    let docs = sim.documents(&emp);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].folder, "shared");
    assert_eq!(docs[0].source_url, url);

    let listed: Value = hb_get(&sim, &format!("/docs/people/{emp}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["documents"][0]["documentName"],
        "CV - Ada Lovelace (pinpoint 10).pdf"
    );

    let bad = json!({"documentName": "x.pdf", "documentUrl": "http://127.0.0.1:1/files/10/x.pdf"});
    let r = hb_post(&sim, &format!("/docs/people/{emp}/confidential"), &bad).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["key"],
        "documents.url.unreachable"
    );
    // An expired pre-signed URL, simulated by a fault on the file endpoint.
    sim.inject(FaultRule::new(Endpoint::DownloadFile, Fault::Status(403)));
    let r = hb_post(&sim, &format!("/docs/people/{emp}/shared"), &doc).await;
    assert_eq!(r.status(), 400);
    assert_eq!(sim.count_status(Endpoint::DownloadFile, 403), 1);

    let r = hb_post(
        &sim,
        &format!("/docs/people/{emp}/shared"),
        &json!({"documentUrl": url}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = hb_post(&sim, "/docs/people/123/shared", &doc).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["key"], "employee.notFound");
    assert_eq!(hb_get(&sim, "/docs/people/123").await.status(), 404);
    assert_eq!(sim.documents(&emp).len(), 1);
}

async fn post_comment(sim: &Sim, app_id: &str, text: Option<&str>) -> Response {
    let mut attrs = json!({});
    if let Some(t) = text {
        attrs["body_text"] = json!(t);
    }
    client()
        .post(format!("{}/comments", sim.pinpoint_base_url()))
        .header("X-API-KEY", PINPOINT_API_KEY)
        .header("Content-Type", "application/vnd.api+json")
        .body(
            json!({"data": {"type": "comments", "attributes": attrs,
                "relationships": {"commentable": {"data": {"type": "applications", "id": app_id}}}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_create_and_include() {
    let sim = Sim::start(two_job_scenario()).unwrap();
    let r = post_comment(
        &sim,
        "10",
        Some("HiBob employee created: 3397352260643062621"),
    )
    .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let id = v["data"]["id"].as_str().unwrap();
    assert!(id.parse::<u64>().is_ok());
    assert_eq!(sim.comments("10").len(), 1);

    let app = pp_json(&sim, "/applications/10?include=job,comments").await;
    let included = app["included"].as_array().unwrap();
    let comment = included.iter().find(|i| i["type"] == "comments").unwrap();
    assert_eq!(
        comment["attributes"]["body_text"],
        "HiBob employee created: 3397352260643062621"
    );
    assert!(included.iter().any(|i| i["type"] == "jobs"));

    assert_eq!(post_comment(&sim, "10", None).await.status(), 422);
    assert_eq!(post_comment(&sim, "999", Some("x")).await.status(), 404);
    assert_eq!(sim.comments("10").len(), 1);

    // A truncated answer still performed the write.
    sim.inject(FaultRule::new(Endpoint::PostComment, Fault::TruncatedJson));
    let r = post_comment(&sim, "10", Some("second")).await;
    assert!(serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err());
    assert_eq!(sim.comments("10").len(), 2);
    assert_eq!(sim.write_calls(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_requests_get_401() {
    let sim = Sim::start(two_job_scenario()).unwrap();
    let r = client()
        .get(format!("{}/applications", sim.pinpoint_base_url()))
        .header("X-API-KEY", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["status"], "401");

    let r = client()
        .post(format!("{}/people/search", sim.hibob_base_url()))
        .basic_auth(HIBOB_SERVICE_USER_ID, Some("wrong"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = client()
        .get(format!("{}/company/named-lists/site", sim.hibob_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    assert_eq!(sim.count_status(Endpoint::ListApplications, 401), 1);
    assert_eq!(sim.count_status(Endpoint::SearchPeople, 401), 1);
    assert_eq!(sim.calls().len(), 3);
    assert!(sim.calls().iter().all(|c| c.status == 401));
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_faults_and_unknown_routes() {
    let sim = Sim::start(Scenario::empty()).unwrap();
    let fields: Value = hb_get(&sim, "/company/people/fields")
        .await
        .json()
        .await
        .unwrap();
    let site = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "work.site")
        .unwrap();
    assert_eq!(site["typeData"]["listId"], "site");
    let list: Value = hb_get(&sim, "/company/named-lists/site")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["values"][0]["value"], "New York (Demo)");
    assert!(list["values"][0]["id"].is_u64());
    assert_eq!(
        hb_get(&sim, "/company/named-lists/nope").await.status(),
        404
    );

    let r = client()
        .get(format!("http://{}/nowhere", sim.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(sim.count(Endpoint::Unknown), 1);

    // Delay, then the next rule decides; MalformedBody and WrongTypes have no effect.
    sim.inject(FaultRule::new(
        Endpoint::SearchPeople,
        Fault::Delay(Duration::from_millis(150)),
    ));
    sim.inject(FaultRule::new(Endpoint::SearchPeople, Fault::MalformedBody));
    let t = std::time::Instant::now();
    let r = hb_post(&sim, "/people/search", &json!({})).await;
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().starts_with("<!DOCTYPE html>"));

    sim.inject(FaultRule::new(Endpoint::CreatePerson, Fault::WrongTypes));
    let v: Value = hb_post(&sim, "/people", &person("W", "w@example.com", "2026-01-01"))
        .await
        .json()
        .await
        .unwrap();
    assert!(v["id"].is_u64());
    assert!(sim.employees().is_empty());
    hb_post(&sim, "/people", &person("W", "w@example.com", "2026-01-01")).await;
    sim.inject(FaultRule::new(Endpoint::SearchPeople, Fault::WrongTypes));
    let v: Value = hb_post(&sim, "/people/search", &json!({"showInactive": true}))
        .await
        .json()
        .await
        .unwrap();
    assert!(v["employees"][0]["id"].is_u64());
}

#[test]
fn works_from_a_plain_blocking_test() {
    use std::io::{Read, Write};
    let sim = Sim::start(Scenario::demo()).unwrap();
    let mut s = std::net::TcpStream::connect(sim.addr()).unwrap();
    write!(
        s,
        "GET /pinpoint/api/v1/applications?filter[stage_basic_type]=hired HTTP/1.1\r\nHost: x\r\nX-API-KEY: {PINPOINT_API_KEY}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.contains("\"count\":30"),
        "36 hires less 4 confidential and 2 private_job: {out}"
    );
    let port = sim.addr().port();
    drop(sim);
    // The port is released on drop.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
}

#[test]
fn scenarios_are_deterministic_and_shaped() {
    let demo = Scenario::demo();
    let hired: Vec<_> = demo
        .applications
        .iter()
        .filter(|a| a.stage == Stage::Hired)
        .collect();
    assert_eq!(hired.len(), 36);
    assert_eq!(demo.applications.len(), 44);
    assert_eq!(hired.iter().filter(|a| a.cv == CvFiles::None).count(), 6);
    assert_eq!(demo.existing_employees.len(), 3);

    let a = Scenario::generated(500, 42);
    let b = Scenario::generated(500, 42);
    let hired: Vec<_> = a
        .applications
        .iter()
        .filter(|x| x.stage == Stage::Hired)
        .collect();
    assert_eq!(hired.len(), 500);
    assert!(a.applications.len() > 500);
    let emails = |s: &Scenario| {
        s.applications
            .iter()
            .map(|x| x.email.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(emails(&a), emails(&b));
    let conf = hired
        .iter()
        .filter(|x| x.job_id == "7" || x.job_id == "8")
        .count();
    assert!((25..=80).contains(&conf), "{conf}");
    let no_cv = hired.iter().filter(|x| x.cv == CvFiles::None).count();
    assert!((25..=80).contains(&no_cv), "{no_cv}");
    let mut unique = emails(&a);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), a.applications.len());
}

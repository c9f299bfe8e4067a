//! Pinpoint's "Send to HiBob" plugin on `hirebridge run`, played by the test as Pinpoint:
//! the description, the form, the submit and its replays, a Stage Action's submit, and that
//! the poll and the plugin together still make one employee, one CV and one comment.

mod common;

use common::{PLUGIN_KEY, Plugged, Settings, new_hire, one_hire};
use hirebridge::ledger::{EmployeeOrigin, HireStatus};
use hirebridge::sim::{Endpoint, Fault, FaultRule, SimEmployeeSeed};
use serde_json::{Value, json};

/// Polls once at startup (Ada, 1001, is done by it), then not for an hour: what happens
/// later is the plugin's.
fn plugged() -> Plugged {
    Plugged::start(
        one_hire(),
        Settings {
            every: "1h",
            ..Settings::default()
        },
        "1001",
    )
}

fn field<'a>(form: &'a Value, key: &str) -> &'a Value {
    form["formFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no field {key} in {form:#}"))
}

#[test]
fn without_the_key_only_the_description_answers_and_nothing_is_written() {
    let mut p = plugged();
    p.world.sim.add_application(new_hire(1002));
    p.world.sim.reset_counters();

    // Pinpoint reads the description at registration, before any key is entered.
    let described = p.post_as("/", &[], b"");
    assert_eq!(described.status, 200, "{described:?}");
    let described = described.json();
    assert_eq!(described["version"], "1.0.0");
    assert_eq!(described["name"], "HiBob (hirebridge)");
    assert!(
        described["logoBase64"]
            .as_str()
            .is_some_and(|l| !l.is_empty())
    );
    let action = &described["actions"][0];
    assert_eq!(action["key"], "exportCandidate");
    assert_eq!(action["metaEndpoint"], "/exportCandidate/meta");
    let key_field = &described["configurationFormFields"][0];
    assert_eq!(key_field["sensitive"], true);
    assert_eq!(key_field["useAsHttpHeader"], "X_HIREBRIDGE_PLUGIN_KEY");

    let form = json!({"formFields": [{"key": "applicationId", "value": "1002"}]});
    let wrong = [("X_HIREBRIDGE_PLUGIN_KEY", "not-the-key-not-the-key")];
    let meta = p.post_as("/exportCandidate/meta", &wrong, form.to_string().as_bytes());
    assert_eq!(meta.status, 200);
    let meta = meta.json();
    assert_eq!(meta["formFields"][0]["type"], "callout", "{meta:#}");
    assert!(
        meta["formFields"][0]["description"]
            .as_str()
            .unwrap()
            .contains("key")
    );
    let no_key = p.post_as("/exportCandidate/meta", &[], form.to_string().as_bytes());
    assert_eq!(no_key.json()["formFields"][0]["type"], "callout");

    let submit = json!({"generatedUuid": "u-1", "formFields": [
        {"key": "applicationId", "value": "1002"}, {"key": "site", "value": "London"}],
        "configurationValues": [{"key": "pluginKey", "value": "wrong-key-wrong-key"}]});
    let refused = p.post_as(
        "/exportCandidate/submit",
        &[],
        submit.to_string().as_bytes(),
    );
    assert_eq!(refused.status, 200);
    let refused = refused.json();
    assert_eq!(refused["success"], false);
    assert!(refused["toast"]["error"].as_str().unwrap().contains("key"));
    assert!(
        !refused.to_string().contains(PLUGIN_KEY),
        "the key is never echoed"
    );

    // Malformed bodies, with the right key: clear errors, no writes.
    let key = [("X_HIREBRIDGE_PLUGIN_KEY", PLUGIN_KEY)];
    let not_json = p.post_as("/exportCandidate/submit", &key, b"{\"formFields\": [");
    assert_eq!(not_json.status, 400, "{not_json:?}");
    assert!(
        not_json.json()["toast"]["error"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );
    let no_application = p.post_as(
        "/exportCandidate/submit",
        &key,
        br#"{"formFields":[{"key":"firstName","value":"Ada"}]}"#,
    );
    assert_eq!(no_application.status, 400);
    assert_eq!(no_application.json()["errors"][0]["key"], "applicationId");
    let forged_id = p.post_as(
        "/exportCandidate/submit",
        &key,
        br#"{"formFields":[{"key":"applicationId","value":"1 OR 1=1"}]}"#,
    );
    assert_eq!(forged_id.status, 400);
    // A uuid that is not one, and a field far longer than any name or address.
    let odd_uuid = p.post_as(
        "/exportCandidate/submit",
        &key,
        br#"{"generatedUuid":"u-1
forged line","formFields":[{"key":"applicationId","value":"1002"}]}"#,
    );
    assert_eq!(odd_uuid.status, 400, "{odd_uuid:?}");
    let huge = format!(
        r#"{{"formFields":[{{"key":"applicationId","value":"1002"}},{{"key":"site","value":"{}"}}]}}"#,
        "x".repeat(100_000)
    );
    let huge = p.post_as("/exportCandidate/submit", &key, huge.as_bytes());
    assert_eq!(huge.status, 400);
    assert_eq!(huge.json()["errors"][0]["key"], "site");

    assert_eq!(p.world.sim.write_calls(), 0, "{:#?}", p.world.sim.calls());
    assert_eq!(p.submits(), (0, 0), "no ledger write");
    assert!(p.world.ledger().entry(&"1002".into()).unwrap().is_none());
    assert_eq!(p.stop(), 0);
}

#[test]
fn a_submit_creates_the_employee_with_the_values_hr_approved_once_whatever_is_replayed() {
    let mut p = plugged();
    let world = &p.world;
    world.sim.add_application(new_hire(1002));

    // The form: pre-filled with what the next sync would send, HiBob's sites to pick from.
    let form = p.post(
        "/exportCandidate/meta",
        &json!({"formFields": [{"key": "applicationId", "value": 1002}]}),
    );
    assert_eq!(form.status, 200, "{form:?}");
    let form = form.json();
    assert_eq!(form["submitEndpoint"], "/exportCandidate/submit");
    assert_eq!(field(&form, "firstName")["value"], "New");
    assert_eq!(field(&form, "lastName")["value"], "Hire1002");
    assert_eq!(field(&form, "email")["value"], "hire1002@example.com");
    assert_eq!(field(&form, "startDate")["type"], "date");
    let site = field(&form, "site");
    assert_eq!(site["value"], "New York (Demo)");
    assert_eq!(site["singleSelectOptionsListKey"], "sites");
    let sites: Vec<&str> = site["singleSelectOptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert!(sites.contains(&"London"), "{sites:?}");
    let departments = p.post("/lists/departments", &json!({}));
    assert_eq!(departments.status, 200);
    assert!(departments.body.contains("Engineering"));

    // A value HiBob would refuse, a bad email and a bad date: field errors, nothing written.
    world.sim.reset_counters();
    let bad = p.submit(
        "u-bad",
        &[
            ("applicationId", "1002"),
            ("site", "Londn"),
            ("email", "hire1002 at example.com"),
            ("startDate", "next monday"),
        ],
    );
    let bad = bad.json();
    assert_eq!(bad["success"], false, "{bad:#}");
    let errors = bad["errors"].as_array().unwrap();
    let error_of = |key: &str| {
        errors
            .iter()
            .find(|e| e["key"] == key)
            .unwrap_or_else(|| panic!("no error for {key}: {bad:#}"))["error"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        error_of("site").contains("\"London\""),
        "{}",
        error_of("site")
    );
    assert!(error_of("email").contains("not an email"));
    assert!(error_of("startDate").contains("YYYY-MM-DD"));
    assert_eq!(world.sim.write_calls(), 0);
    assert_eq!(p.submits(), (0, 0));

    // The submit HR approves: edited first name, another site, a department, a start date.
    let fields = [
        ("applicationId", "1002"),
        ("firstName", "Newt"),
        ("lastName", "Hire1002"),
        ("email", "hire1002@example.com"),
        ("startDate", "2031-02-03"),
        ("site", "London"),
        ("department", "Engineering"),
    ];
    let done = p.submit("u-1", &fields).json();
    assert_eq!(done["success"], true, "{done:#}");
    assert_eq!(done["resultVersion"], "1.0.0");
    assert_eq!(done["key"], "exportCandidate");
    let employee = world
        .sim
        .employee_by_email("hire1002@example.com")
        .expect("an employee");
    assert_eq!(done["externalIdentifier"], employee.id.as_str());
    assert!(
        done["externalRecordUrl"]
            .as_str()
            .unwrap()
            .contains(&employee.id)
    );
    assert_eq!(employee.first_name, "Newt");
    assert_eq!(employee.site, "London");
    assert_eq!(employee.start_date.to_string(), "2031-02-03");
    assert_eq!(employee.body["work"]["department"], "Engineering");
    assert_eq!(world.sim.documents(&employee.id).len(), 1, "the CV");
    assert_eq!(world.sim.comments("1002").len(), 1);
    assert!(
        world
            .events("1002")
            .iter()
            .all(|e| e.trigger.as_deref() == Some("plugin")),
        "{:#?}",
        world.events("1002")
    );
    assert_eq!(p.submits(), (1, 1));
    // HR typed the start date: it is Pinpoint's, not the offset's, and needs no confirming.
    assert_eq!(
        world.entry("1002").start_date_source.as_deref(),
        Some("pinpoint")
    );
    // History: the submit itself, with the values HR approved, under the trigger `plugin`.
    let history = world.hirebridge(&["history", "1002"]).expect(0).stdout();
    let submitted = history
        .lines()
        .find(|l| l.contains("submitted"))
        .unwrap_or_else(|| panic!("no submit in the history: {history}"));
    for shown in ["plugin", "fields", "u-1", "Newt", "London", "2031-02-03"] {
        assert!(submitted.contains(shown), "{shown} in {submitted}");
    }
    // Status counts the submit; the plugin's passes are not taken for the last poll.
    let status: Value =
        serde_json::from_str(&world.hirebridge(&["status", "--format", "json"]).stdout()).unwrap();
    assert_eq!(
        status["plugin_submits"],
        json!({"total": 1, "succeeded": 1})
    );
    assert_ne!(status["last_pass"]["trigger"], "plugin", "{status:#}");
    let text = world.hirebridge(&["status"]).stdout();
    assert!(
        text.contains("1 submit(s) from Pinpoint's \"Send to HiBob\", 1 answered with success"),
        "{text}"
    );
    // So do the reports people read: the table's closing lines and the page's summary.
    let table = world.hirebridge(&["report"]).stdout();
    assert!(
        table.contains("1 sent from Pinpoint's \"Send to HiBob\", 1 answered with success"),
        "{table}"
    );
    let page = world.hirebridge(&["report", "--format", "html"]).stdout();
    assert!(
        page.contains("sent from Pinpoint</th><td>1</td>")
            && page.contains("of which succeeded</th><td>1</td>"),
        "{page}"
    );

    // Replays: the same uuid, then a new uuid for the same application. Same answer, no write.
    let writes = world.sim.write_calls();
    let again = p.submit("u-1", &fields).json();
    assert_eq!(again, done);
    let other = p.submit("u-2", &fields).json();
    assert_eq!(other, done);
    assert_eq!(world.sim.write_calls(), writes, "{:#?}", world.sim.calls());
    assert_eq!(p.submits(), (1, 1), "a replay records nothing");

    // The poll lists it afterwards (the daemon stopped: one writer per ledger): still one
    // employee, one CV, one comment.
    assert_eq!(p.stop(), 0);
    let world = &p.world;
    let synced = world.sync();
    assert_eq!(synced.code(), 0, "{}", synced.all());
    assert_eq!(world.employees_with_email("hire1002@example.com"), 1);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    assert_eq!(world.sim.comments("1002").len(), 1);
    world.assert_exactly_once();
}

#[test]
fn after_the_poll_the_form_links_the_employee_and_a_submit_creates_nothing() {
    let mut p = plugged();
    let world = &p.world;
    world.sim.reset_counters();
    let ada = world.entry("1001");
    let employee = ada.hibob_employee_id().unwrap().to_owned();

    let form = p.post(
        "/exportCandidate/meta",
        &json!({"formFields": [{"key": "applicationId", "value": "1001"}]}),
    );
    let form = form.json();
    let fields = form["formFields"].as_array().unwrap();
    assert_eq!(
        fields.len(),
        1,
        "only the callout, no second create offered: {form:#}"
    );
    assert_eq!(fields[0]["type"], "callout");
    assert!(
        fields[0]["description"]
            .as_str()
            .unwrap()
            .contains(&employee)
    );

    let answer = p
        .submit(
            "u-ada",
            &[
                ("applicationId", "1001"),
                ("firstName", "Ada"),
                ("site", "London"),
            ],
        )
        .json();
    assert_eq!(answer["success"], true, "{answer:#}");
    assert_eq!(answer["externalIdentifier"], employee.as_str());
    assert_eq!(world.sim.write_calls(), 0, "{:#?}", world.sim.calls());
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0);
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    assert_eq!(p.stop(), 0);
}

#[test]
fn a_stage_action_submit_without_edits_sends_the_mappings_values() {
    let mut p = plugged();
    let world = &p.world;
    world.sim.add_application(new_hire(1003));
    // The options a Stage Action is configured with, from the list endpoint.
    let sites = p.post("/lists/sites", &json!({}));
    assert_eq!(sites.status, 200, "{sites:?}");
    assert!(sites.json()["options"].as_array().unwrap().len() >= 3);
    // On entering Hired, Pinpoint submits the action's mappings and the configured site.
    let answer = p
        .post(
            "/exportCandidate/submit",
            &json!({
                "generatedUuid": "stage-1003",
                "formFields": [
                    {"key": "firstName", "value": "New"},
                    {"key": "lastName", "value": "Hire1003"},
                    {"key": "email", "value": "hire1003@example.com"},
                    {"key": "applicationId", "value": "1003"},
                    {"key": "site", "value": "Tel Aviv"},
                ],
            }),
        )
        .json();
    assert_eq!(answer["success"], true, "{answer:#}");
    let employee = world.sim.employee_by_email("hire1003@example.com").unwrap();
    assert_eq!(employee.first_name, "New");
    assert_eq!(employee.surname, "Hire1003");
    assert_eq!(employee.site, "Tel Aviv");
    // No start date in the submit: the offset chose it, and HR must confirm it.
    assert_eq!(
        world.entry("1003").start_date_source.as_deref(),
        Some("offset")
    );
    assert_eq!(world.sim.comments("1003").len(), 1);
    world.assert_exactly_once();
    assert_eq!(p.stop(), 0);
}

/// What HR approves for application 1002, with `email`.
fn approved(email: &str) -> Vec<(&str, &str)> {
    vec![
        ("applicationId", "1002"),
        ("firstName", "Newt"),
        ("lastName", "Hire1002"),
        ("email", email),
        ("startDate", "2031-02-03"),
        ("site", "London"),
    ]
}

/// HR submits 1002 with `email`; HiBob commits the create and answers 502: the outcome is
/// unknown to hirebridge.
fn ambiguous_create(p: &Plugged, email: &str) -> Value {
    let world = &p.world;
    world.sim.add_application(new_hire(1002));
    world.sim.reset_counters();
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::CommitThenStatus(502)).matching(email),
    );
    let first = p.submit("u-ambiguous", &approved(email));
    assert_eq!(first.status, 200, "{first:?}");
    let first = first.json();
    assert_eq!(first["success"], false, "{first:#}");
    assert_eq!(first["status"], "pending", "{first:#}");
    assert!(
        first["toast"]["error"]
            .as_str()
            .unwrap()
            .contains("never creates a second one"),
        "{first:#}"
    );
    assert_eq!(world.employees_with_email(email), 1, "HiBob committed");
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    assert_eq!(world.entry("1002").status, HireStatus::Failed);
    first
}

#[test]
fn an_ambiguous_create_during_a_submit_is_answered_pending_and_the_next_pass_finishes_it_once() {
    let mut p = plugged();
    ambiguous_create(&p, "hire1002@example.com");
    assert_eq!(p.submits(), (1, 0), "recorded, not yet a success");

    // The next pass (a sync, the daemon stopped: one writer per ledger) finds the employee
    // HiBob committed and finishes the hire: no second create.
    assert_eq!(p.stop(), 0);
    let world = &p.world;
    world.sync().expect(0);
    let entry = world.entry("1002");
    assert_eq!(entry.status, HireStatus::Done);
    assert_eq!(entry.employee_origin(), Some(EmployeeOrigin::Adopted));
    let employee = world.sim.employee_by_email("hire1002@example.com").unwrap();
    assert_eq!(entry.hibob_employee_id(), Some(employee.id.as_str()));
    assert_eq!(
        employee.first_name, "Newt",
        "the create went out with HR's values"
    );
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    assert_eq!(world.sim.documents(&employee.id).len(), 1);
    assert_eq!(world.sim.comments("1002").len(), 1);
    world.assert_exactly_once();

    // Pinpoint sends the submit again: success with that employee, and nothing written.
    p.restart();
    let world = &p.world;
    assert!(
        common::wait_for(common::EVENTUALLY, || world
            .ledger()
            .last_pass()
            .unwrap()
            .is_some_and(|l| l.finished_at.is_some() && l.trigger == "startup")),
        "the restarted daemon's first pass is over"
    );
    world.sim.reset_counters();
    let replay = p
        .submit("u-ambiguous", &approved("hire1002@example.com"))
        .json();
    assert_eq!(replay["success"], true, "{replay:#}");
    assert_eq!(replay["externalIdentifier"], employee.id.as_str());
    assert_eq!(world.sim.write_calls(), 0, "{:#?}", world.sim.calls());
    assert_eq!(
        p.submits(),
        (1, 1),
        "the pending submit's answer is final now"
    );
    let again = p
        .submit("u-ambiguous", &approved("hire1002@example.com"))
        .json();
    assert_eq!(again, replay);
    world.assert_exactly_once();
    assert_eq!(p.stop(), 0);
}

#[test]
fn a_submit_with_another_email_while_a_create_is_unresolved_adopts_what_hibob_committed() {
    let mut p = plugged();
    // A work address HR typed, not the candidate's: only that address finds the employee.
    ambiguous_create(&p, "newt@corp.example");
    let world = &p.world;
    let committed = world.sim.employee_by_email("newt@corp.example").unwrap();

    // HR sends again with yet another address before any pass ran: the create that went out
    // is looked up under the address it used and adopted; the new address is not created.
    let answer = p
        .submit("u-other", &approved("newt.hire@corp.example"))
        .json();
    assert_eq!(answer["success"], true, "{answer:#}");
    assert_eq!(answer["externalIdentifier"], committed.id.as_str());
    assert_eq!(world.employees_with_email("newt.hire@corp.example"), 0);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    let entry = world.entry("1002");
    assert_eq!(entry.status, HireStatus::Done);
    assert_eq!(entry.hibob_employee_id(), Some(committed.id.as_str()));
    assert_eq!(world.sim.comments("1002").len(), 1);
    world.assert_exactly_once();
    assert_eq!(p.stop(), 0);
}

#[test]
fn a_person_already_in_hibob_under_the_submitted_email_is_adopted_without_a_create() {
    let mut p = Plugged::start(
        one_hire().with_employee(SimEmployeeSeed {
            first_name: "Newt".into(),
            surname: "Hire1002".into(),
            email: "newt.hire@corp.example".into(),
            site: "London".into(),
            start_date: chrono::Utc::now().date_naive() + chrono::Days::new(30),
            termination_date: None,
        }),
        Settings {
            every: "1h",
            ..Settings::default()
        },
        "1001",
    );
    let world = &p.world;
    world.sim.add_application(new_hire(1002));
    let existing = world
        .sim
        .employee_by_email("newt.hire@corp.example")
        .unwrap();
    world.sim.reset_counters();

    let answer = p.submit("u-1", &approved("newt.hire@corp.example")).json();
    assert_eq!(answer["success"], true, "{answer:#}");
    assert_eq!(answer["externalIdentifier"], existing.id.as_str());
    assert_eq!(
        world.sim.count(Endpoint::CreatePerson),
        0,
        "{:#?}",
        world.sim.calls()
    );
    let entry = world.entry("1002");
    assert_eq!(entry.employee_origin(), Some(EmployeeOrigin::Adopted));
    assert_eq!(world.employees_with_email("hire1002@example.com"), 0);
    assert_eq!(world.sim.comments("1002").len(), 1);
    assert_eq!(p.stop(), 0);
}

#[test]
fn erasing_a_person_after_a_submit_scrubs_what_hr_submitted_and_a_replay_still_succeeds() {
    let mut p = plugged();
    let world = &p.world;
    world.sim.add_application(new_hire(1002));
    let done = p.submit("u-1", &approved("hire1002@example.com")).json();
    assert_eq!(done["success"], true, "{done:#}");
    let employee = done["externalIdentifier"].as_str().unwrap().to_owned();
    assert_eq!(p.stop(), 0);

    let world = &p.world;
    world
        .hirebridge(&["erase", "hire1002@example.com"])
        .expect(0);
    // Every column of every submit row: no name, no address, no value HR typed.
    let stored: Vec<String> = {
        let ledger = world.ledger();
        let conn = ledger.connection_for_tests();
        let mut stmt = conn
            .prepare("SELECT * FROM plugin_submits WHERE application_id = '1002'")
            .unwrap();
        let columns = stmt.column_count();
        stmt.query_map([], |r| {
            (0..columns)
                .map(|c| {
                    r.get::<_, rusqlite::types::Value>(c)
                        .map(|v| format!("{v:?}"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|v| v.join("|"))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    assert_eq!(stored.len(), 1, "{stored:?}");
    for trace in ["hire1002", "Hire1002", "Newt", "London", "2031-02-03"] {
        assert!(
            !stored[0].contains(trace),
            "{trace} is still stored: {}",
            stored[0]
        );
    }
    assert!(
        stored[0].contains(&employee),
        "the employee id stays: {}",
        stored[0]
    );
    let history = world.hirebridge(&["history", "1002"]).expect(0).stdout();
    assert!(
        !history.contains("Newt") && !history.contains("hire1002"),
        "{history}"
    );
    assert!(
        history.contains("submitted"),
        "the submit's event stays: {history}"
    );
    // The submit's event and pass are chained like any other: the trail still verifies.
    let verified = world.hirebridge(&["audit", "verify"]);
    assert_eq!(verified.code(), 0, "{}", verified.all());

    // Pinpoint replays the submit: the same success from the ledger, nothing written.
    p.restart();
    let world = &p.world;
    world.sim.reset_counters();
    let replay = p.submit("u-1", &approved("hire1002@example.com")).json();
    assert_eq!(replay["success"], true, "{replay:#}");
    assert_eq!(replay["externalIdentifier"], employee.as_str());
    assert!(!replay.to_string().contains("Newt"), "{replay:#}");
    assert_eq!(world.sim.write_calls(), 0, "{:#?}", world.sim.calls());
    assert_eq!(p.submits(), (1, 1), "the replay records nothing");
    assert_eq!(p.stop(), 0);
}

//! End-to-end specification of a reconcile pass: the real `hirebridge` binary against the
//! simulated Pinpoint and HiBob on 127.0.0.1, with a real SQLite ledger.

mod common;

use std::time::Duration;

use common::{Settings, World};
use hirebridge::ledger::{EmployeeOrigin, HireStatus};
use hirebridge::sim::{
    CvFiles, Endpoint, Fault, FaultRule, Scenario, SimApplication, SimEmployeeSeed, Stage,
    Visibility,
};

fn ada() -> SimApplication {
    SimApplication::hired("1001", "Ada", "Lovelace", "ada@example.com", "1")
}

fn small_world() -> World {
    World::new(
        Scenario::empty()
            .with_job("1", "Analytical Engineer", Visibility::External)
            .with_job("2", "Chief of Staff", Visibility::Confidential)
            .with_application(ada())
            .with_application(SimApplication::hired(
                "1002",
                "Grace",
                "Hopper",
                "grace@example.com",
                "2",
            ))
            .with_application({
                let mut a =
                    SimApplication::hired("1003", "Zoë", "Ångström", "zoe@example.com", "1");
                a.cv = CvFiles::None;
                a
            }),
    )
}

#[test]
fn two_hundred_fifty_hires_across_several_pages_all_reach_done() {
    let world = World::new(Scenario::generated(250, 7));
    let hired = world.hired_ids();
    assert_eq!(hired.len(), 250);

    let run = world.sync().expect(0);
    assert!(run.stdout().contains("250 hired listed"), "{}", run.all());
    assert!(world.sim.listing_calls() >= 3, "paged");

    let rows = world.report_json();
    assert_eq!(
        rows.len(),
        250,
        "one row per hired application, none for other stages"
    );
    for row in &rows {
        assert_eq!(row["status"], "done", "{row}");
        assert!(row["hibob_employee_id"].is_string(), "{row}");
        assert!(row["comment_id"].is_string(), "{row}");
        assert!(hired.contains(&row["application_id"].as_str().unwrap().to_owned()));
    }
    // Hires on confidential jobs are included (the visibility filter is sent).
    let confidential = world
        .sim
        .applications()
        .into_iter()
        .filter(|a| a.job_id == "7" || a.job_id == "8")
        .count();
    assert!(confidential > 0);
    world.assert_exactly_once();
    for app in world.sim.applications() {
        if hired.contains(&app.id) {
            assert_eq!(world.employees_with_email(&app.email), 1, "{}", app.email);
            assert_eq!(world.sim.comments(&app.id).len(), 1);
        }
    }
}

#[test]
fn a_second_sync_makes_no_write_calls_and_no_per_hire_calls() {
    let world = World::new(Scenario::generated(250, 11));
    world.sync().expect(0);
    world.sim.reset_counters();

    let run = world.sync().expect(0);
    assert!(run.stdout().contains("0 new"), "{}", run.all());
    assert_eq!(world.sim.write_calls(), 0);
    assert_eq!(world.sim.count(Endpoint::SearchPeople), 0);
    assert_eq!(world.sim.count(Endpoint::GetApplication), 0);
    assert_eq!(world.sim.count(Endpoint::ListDocuments), 0);
    assert_eq!(
        world.sim.count(Endpoint::ListApplications),
        3,
        "listing pages only: ceil(250 / 100), no contract probe within a day"
    );
}

#[test]
fn a_listing_that_fills_its_last_page_ends_where_links_next_ends() {
    // 200 hires in pages of 100: page 2 arrives by `links.next` and carries none, so no
    // third, empty page is asked for.
    let world = World::new(Scenario::generated(200, 5));
    world.sync().expect(0);
    world.sim.reset_counters();
    world.sync().expect(0);
    assert_eq!(
        world.sim.count(Endpoint::ListApplications),
        2,
        "listing pages only: ceil(200 / 100)"
    );
}

#[test]
fn cv_comment_and_employee_carry_what_the_recruiter_would_expect() {
    let world = small_world();
    world.sync().expect(0);

    let ada = world.sim.employee_by_email("ada@example.com").unwrap();
    assert_eq!(ada.first_name, "Ada");
    assert_eq!(ada.surname, "Lovelace");
    assert_eq!(ada.site, "New York (Demo)");
    assert!(
        ada.start_date > chrono::Utc::now().date_naive(),
        "start date from the offset"
    );

    let docs = world.sim.documents(&ada.id);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].document_name, "CV (Pinpoint application 1001).pdf");
    assert_eq!(docs[0].folder, "shared");
    let row = world.row("1001");
    assert_eq!(row["cv"], "uploaded");
    assert_eq!(row["cv_document_id"], docs[0].id.as_str());

    let comments = world.sim.comments("1001");
    assert_eq!(comments.len(), 1);
    assert_eq!(
        comments[0].body_text,
        format!("HiBob employee created: {}", ada.id)
    );
    assert_eq!(row["comment_id"], comments[0].id.as_str());
    assert_eq!(row["hibob_employee_id"], ada.id.as_str());
}

#[test]
fn a_hire_without_a_cv_is_done_with_cv_none() {
    let world = small_world();
    world.sync().expect(0);
    let row = world.row("1003");
    assert_eq!(row["status"], "done");
    assert_eq!(row["cv"], "none");
    let zoe = world.sim.employee_by_email("zoe@example.com").unwrap();
    assert!(world.sim.documents(&zoe.id).is_empty());
    assert_eq!(world.sim.comments("1003").len(), 1);
}

#[test]
fn an_employee_already_in_hibob_is_adopted_not_duplicated() {
    // The seeded employee differs in case and is inactive (start date in the future), so it
    // is only found with a case-insensitive compare and `showInactive: true`.
    let scenario = Scenario::empty()
        .with_job("1", "Engineer", Visibility::External)
        .with_application(ada())
        .with_employee(SimEmployeeSeed {
            first_name: "Ada".into(),
            surname: "Lovelace".into(),
            email: "Ada@Example.com".into(),
            site: "London".into(),
            start_date: chrono::Utc::now().date_naive() + chrono::Days::new(30),
            termination_date: None,
        });
    let world = World::new(scenario);
    let seeded = world.sim.employee_by_email("ada@example.com").unwrap();

    world.sync().expect(0);
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0);
    let entry = world.entry("1001");
    assert_eq!(entry.hibob_employee_id(), Some(seeded.id.as_str()));
    assert_eq!(entry.employee_origin(), Some(EmployeeOrigin::Adopted));
    // An adopted employee's documents are checked before uploading (and read once by the
    // contract check, which looks at the documents list of someone HiBob shows).
    assert_eq!(world.sim.count(Endpoint::ListDocuments), 2);
    assert_eq!(world.sim.documents(&seeded.id).len(), 1);
    assert_eq!(
        world.sim.comments("1001")[0].body_text,
        format!("HiBob employee linked: {}", seeded.id)
    );
}

#[test]
fn a_lost_ledger_adopts_what_was_done_and_repeats_nothing() {
    let world = small_world();
    world.sync().expect(0);
    let ada = world.sim.employee_by_email("ada@example.com").unwrap();
    // The ledger is lost (a reinstall); HiBob and Pinpoint keep what was done.
    std::fs::remove_file(&world.ledger_path).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", world.ledger_path.display()));
    }
    world.sim.reset_counters();
    world.sync().expect(0);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0);
    assert_eq!(world.sim.count(Endpoint::UploadDocument), 0);
    assert_eq!(world.sim.documents(&ada.id).len(), 1);
    assert_eq!(world.sim.count(Endpoint::PostComment), 0);
    assert_eq!(world.sim.comments("1001").len(), 1);
    world.assert_exactly_once();
}

#[test]
fn two_applications_of_one_person_make_one_employee() {
    let mut second = ada();
    second.id = "1009".into();
    second.job_id = "2".into();
    let world = World::new(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_job("2", "Architect", Visibility::Internal)
            .with_application(ada())
            .with_application(second),
    );
    world.sync().expect(0);
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    let (a, b) = (world.entry("1001"), world.entry("1009"));
    assert_eq!(a.hibob_employee_id(), b.hibob_employee_id());
    assert_eq!(b.employee_origin(), Some(EmployeeOrigin::Adopted));
    assert_eq!(world.sim.comments("1009").len(), 1);
}

#[test]
fn an_ambiguous_create_ends_with_one_employee() {
    let world = small_world();
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::CommitThenStatus(502))
            .matching("ada@example.com"),
    );
    let run = world.sync().expect(2);
    assert!(run.stdout().contains("1 failed"), "{}", run.all());
    assert_eq!(
        world.employees_with_email("ada@example.com"),
        1,
        "HiBob committed"
    );
    let entry = world.entry("1001");
    assert_eq!(entry.status, HireStatus::Failed);
    assert!(
        entry
            .last_error
            .as_deref()
            .unwrap()
            .contains("outcome unknown"),
        "{entry:?}"
    );

    world.sync().expect(0);
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    let entry = world.entry("1001");
    assert_eq!(entry.status, HireStatus::Done);
    assert_eq!(entry.employee_origin(), Some(EmployeeOrigin::Adopted));
    let creates_for_ada = world
        .sim
        .calls()
        .iter()
        .filter(|c| c.endpoint == Endpoint::CreatePerson)
        .count();
    assert_eq!(
        creates_for_ada, 3,
        "one create per hire, none repeated for Ada"
    );
    world.assert_exactly_once();
    let outcomes: Vec<String> = world
        .events("1001")
        .iter()
        .map(|e| format!("{}.{}", e.step, e.outcome))
        .collect();
    assert_eq!(
        outcomes[..4],
        [
            "hire.detected",
            "employee.intent",
            "employee.failed",
            "employee.adopted"
        ]
    );
}

#[test]
fn after_an_ambiguous_create_hirebridge_waits_out_hibobs_read_lag() {
    // Long enough that the second run surely comes within it, however loaded the machine.
    let lag = Duration::from_secs(10);
    let world = World::with(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(ada())
            .with_read_lag(lag),
        Settings {
            read_lag: "10s",
            ..Settings::default()
        },
    );
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::CommitThenStatus(504))
            .matching("ada@example.com"),
    );
    world.sync().expect(2);
    // Straight away: the new employee is invisible, and creating again would risk a twin.
    world.sync().expect(2);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    assert_eq!(world.employees_with_email("ada@example.com"), 1);

    // HiBob shows the employee now; hirebridge waits until its own lag window is over.
    world.sim.set_hibob_read_lag(Duration::ZERO);
    let mut runs = 0;
    while world.sync().code() == 2 {
        assert_eq!(
            world.sim.count(Endpoint::CreatePerson),
            1,
            "not within the lag"
        );
        runs += 1;
        assert!(runs < 120, "still waiting long after the read lag");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(world.entry("1001").status, HireStatus::Done);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    assert_eq!(
        world.entry("1001").employee_origin(),
        Some(EmployeeOrigin::Adopted)
    );
}

#[test]
fn a_read_lag_longer_than_configured_is_caught_by_the_duplicate_email_answer() {
    // hirebridge is told HiBob has no lag; HiBob has one. The duplicate-email 400 is the
    // backstop: no second employee, and the hire is adopted once HiBob shows it.
    // Long enough that the second run surely comes within it, however loaded the machine.
    let lag = Duration::from_secs(60);
    let world = World::new(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(ada())
            .with_read_lag(lag),
    );
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::CommitThenStatus(502))
            .matching("ada@example.com"),
    );
    world.sync().expect(2);
    world.sync().expect(2);
    assert_eq!(world.sim.count_status(Endpoint::CreatePerson, 400), 1);
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    // HiBob's lag ends: the employee shows, and is adopted.
    world.sim.set_hibob_read_lag(Duration::ZERO);
    world.sync().expect(0);
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    assert_eq!(world.entry("1001").status, HireStatus::Done);
}

#[test]
fn ambiguous_cv_upload_and_comment_are_found_not_repeated() {
    let world = small_world();
    world.sim.inject(
        FaultRule::new(Endpoint::UploadDocument, Fault::CommitThenStatus(502)).matching("1001"),
    );
    world.sim.inject(
        FaultRule::new(Endpoint::PostComment, Fault::CommitThenStatus(503)).matching("1002"),
    );
    world.sync().expect(2);
    world.sync().expect(0);
    world.assert_exactly_once();
    let ada = world.sim.employee_by_email("ada@example.com").unwrap();
    assert_eq!(world.sim.documents(&ada.id).len(), 1);
    assert_eq!(
        world.sim.count(Endpoint::UploadDocument),
        2,
        "Ada once, Grace once"
    );
    assert_eq!(world.sim.comments("1002").len(), 1);
    // Grace's comment had an unknown outcome; Ada resumed in a later pass than the one that
    // created her employee, so her comments are read before posting too.
    assert_eq!(
        world.sim.count(Endpoint::GetApplication),
        2,
        "comments read once per hire"
    );
    let cv_outcomes: Vec<String> = world
        .events("1001")
        .iter()
        .filter(|e| e.step == "cv")
        .map(|e| e.outcome.clone())
        .collect();
    assert_eq!(cv_outcomes, ["intent", "failed", "found"]);
}

#[test]
fn a_validation_error_parks_only_that_hire() {
    let world = small_world();
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::Status(400))
            .matching("grace@example.com")
            .times(10),
    );
    let run = world.sync().expect(3);
    assert!(run.stdout().contains("1 need attention"), "{}", run.all());
    let grace = world.row("1002");
    assert_eq!(grace["status"], "needs_attention");
    assert!(
        grace["last_error"]
            .as_str()
            .unwrap()
            .contains("refused the data"),
        "{grace}"
    );
    assert_eq!(world.row("1001")["status"], "done");
    assert_eq!(world.row("1003")["status"], "done");

    // Parked means parked: the next pass leaves it alone, until an operator retries it.
    world.sim.reset_counters();
    world.sync().expect(3);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0);
    world.hirebridge(&["retry", "1002"]).expect(0);
    world.sim.reset_counters();
    world.sync().expect(3);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
}

#[test]
fn an_unusable_pinpoint_record_is_parked_with_its_reason_and_the_rest_continue() {
    let mut nameless = SimApplication::hired("1004", "Nobody", "X", "no-at-sign", "1");
    nameless.cv = CvFiles::None;
    let world = small_world();
    world.sim.add_application(nameless);
    world.sync().expect(3);
    let row = world.row("1004");
    assert_eq!(row["status"], "needs_attention");
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("not an address")
    );
    assert_eq!(world.row("1001")["status"], "done");
}

#[test]
fn a_hibob_401_stops_the_pass_after_one_request_and_says_what_to_check() {
    let mut world = small_world();
    world.set_env("HIBOB_SERVICE_USER_TOKEN", "wrong-token-d41d8cd9");
    let run = world.sync().expect(3);
    assert!(
        run.all().contains("HIBOB_SERVICE_USER_TOKEN"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains("wrong-token-d41d8cd9"), "secret leaked");
    assert_eq!(world.sim.count(Endpoint::SearchPeople), 1);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0);
    assert_eq!(world.sim.write_calls(), 0);
}

#[test]
fn a_pinpoint_403_on_the_comment_names_the_missing_write_permission() {
    let world = small_world();
    world
        .sim
        .inject(FaultRule::new(Endpoint::PostComment, Fault::Status(403)).times(100));
    let run = world.sync();
    assert_ne!(run.code(), 0, "{}", run.all());
    assert!(
        run.all().contains("lacks write permission on comments"),
        "{}",
        run.all()
    );
}

#[test]
fn a_hibob_403_on_create_parks_the_hire_and_stops_the_pass() {
    let world = small_world();
    world
        .sim
        .inject(FaultRule::new(Endpoint::CreatePerson, Fault::Status(403)).times(5));
    let run = world.sync().expect(3);
    assert!(run.all().contains("Add employees"), "{}", run.all());
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1, "no hammering");
    let parked: Vec<_> = world
        .entries()
        .into_iter()
        .filter(|e| e.status == HireStatus::NeedsAttention)
        .collect();
    assert_eq!(parked.len(), 1);
}

#[test]
fn a_pinpoint_401_stops_the_pass_and_leaks_no_key() {
    let mut world = small_world();
    world.set_env("PINPOINT_API_KEY", "pk-live-5f4dcc3b5aa7");
    let run = world.sync().expect(3);
    assert!(run.all().contains("PINPOINT_API_KEY"), "{}", run.all());
    assert!(!run.all().contains("pk-live-5f4dcc3b5aa7"));
    assert_eq!(world.sim.count(Endpoint::ListApplications), 1);
    assert!(world.sim.employees().is_empty());
}

#[test]
fn malformed_answers_are_errors_for_that_step_not_panics() {
    let world = small_world();
    // HiBob's search answers an HTML page once; Pinpoint's comment answer is cut in half.
    world
        .sim
        .inject(FaultRule::new(Endpoint::SearchPeople, Fault::MalformedBody).not_on_probes());
    world
        .sim
        .inject(FaultRule::new(Endpoint::PostComment, Fault::TruncatedJson).matching("1003"));
    let run = world.sync().expect(2);
    assert!(
        run.stderr().contains("not the expected JSON"),
        "{}",
        run.all()
    );
    assert!(
        world.sim.employees().is_empty(),
        "nothing created on a failed lookup"
    );

    world.sync().expect(2); // the truncated comment answer: outcome unknown
    world.sync().expect(0);
    world.assert_exactly_once();
    assert_eq!(world.sim.comments("1003").len(), 1);
}

#[test]
fn a_malformed_listing_fails_the_pass_without_losing_anything() {
    let world = small_world();
    world
        .sim
        .inject(FaultRule::new(Endpoint::ListApplications, Fault::MalformedBody).not_on_probes());
    let run = world.sync().expect(2);
    assert!(run.stdout().contains("listing failed"), "{}", run.all());
    assert_eq!(world.sim.write_calls(), 0);
    world.sync().expect(0);
    assert_eq!(world.report_json().len(), 3);
}

#[test]
fn a_429_is_waited_out_in_place_and_the_hire_completes_in_the_same_pass() {
    let world = small_world();
    world.sim.inject(
        FaultRule::new(
            Endpoint::CreatePerson,
            Fault::RateLimited {
                retry_after_secs: Some(1),
            },
        )
        .matching("ada@example.com")
        .times(2),
    );
    let run = world.sync().expect(0);
    assert!(
        run.stdout().contains("2 rate-limited (429)"),
        "{}",
        run.all()
    );
    assert_eq!(world.sim.count_status(Endpoint::CreatePerson, 429), 2);
    assert_eq!(
        world.entry("1001").failures,
        0,
        "no per-hire failure was recorded"
    );
    world.assert_exactly_once();
}

#[test]
fn a_429_longer_than_the_longest_wait_is_left_for_a_later_pass() {
    let world = World::with(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(ada()),
        Settings {
            http: "max_rate_limit_wait = \"1s\"".into(),
            ..Settings::default()
        },
    );
    world.sim.inject(FaultRule::new(
        Endpoint::CreatePerson,
        Fault::RateLimited {
            retry_after_secs: Some(30),
        },
    ));
    world.sync().expect(2);
    let entry = world.entry("1001");
    assert_eq!(entry.status, HireStatus::Failed);
    let wait = entry.next_attempt_at.unwrap() - entry.updated_at;
    assert!(
        wait >= chrono::Duration::seconds(30),
        "next attempt in {wait}"
    );
    world.sim.reset_counters();
    world.sync().expect(2);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0, "not due yet");
}

#[test]
fn transient_server_errors_converge_without_duplicates() {
    let world = World::new(Scenario::generated(40, 3));
    for endpoint in [
        Endpoint::SearchPeople,
        Endpoint::CreatePerson,
        Endpoint::UploadDocument,
        Endpoint::PostComment,
    ] {
        world
            .sim
            .inject(FaultRule::new(endpoint, Fault::CommitThenStatus(500)).times(3));
        world
            .sim
            .inject(FaultRule::new(endpoint, Fault::Status(503)).times(3));
    }
    let mut runs = 0;
    while world.sync().code() != 0 {
        runs += 1;
        assert!(runs < 10, "did not converge");
    }
    world.assert_exactly_once();
    assert!(world.report_json().iter().all(|r| r["status"] == "done"));
}

#[test]
fn an_unfetchable_cv_link_is_retried_never_leaks_and_is_parked_only_when_it_persists() {
    let world = small_world();
    // Pinpoint's file host answers 404: HiBob cannot fetch the CV.
    world.sim.inject(
        FaultRule::new(Endpoint::DownloadFile, Fault::Status(404))
            .matching("1001")
            .times(3),
    );
    world.sync().expect(2);
    let entry = world.entry("1001");
    assert_eq!(entry.status, HireStatus::Failed, "retried, not parked");
    let error = entry.last_error.unwrap();
    assert!(error.contains("could not fetch the CV"), "{error}");
    assert!(
        !error.contains("/files/"),
        "the link must not be stored: {error}"
    );

    world.sync().expect(2);
    world.sync().expect(3);
    let row = world.row("1001");
    assert_eq!(row["status"], "needs_attention");
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("hirebridge retry 1001")
    );
    for event in world.events("1001") {
        assert!(!event.detail.contains("/files/"), "{}", event.detail);
    }
    // The link works again: an operator retries and the CV arrives, once.
    world.hirebridge(&["retry", "1001"]).expect(0);
    world.sync().expect(0);
    world.assert_exactly_once();
}

#[test]
fn a_search_batch_refused_for_one_email_parks_only_that_hire() {
    let world = small_world();
    // HiBob refuses any search that includes Grace's email.
    world.sim.inject(
        FaultRule::new(Endpoint::SearchPeople, Fault::Status(400))
            .matching("grace@example.com")
            .times(10),
    );
    world.sync().expect(3);
    assert_eq!(world.row("1001")["status"], "done");
    assert_eq!(world.row("1003")["status"], "done");
    let grace = world.row("1002");
    assert_eq!(grace["status"], "needs_attention");
    assert!(
        grace["last_error"]
            .as_str()
            .unwrap()
            .contains("hirebridge retry 1002")
    );
    assert_eq!(world.employees_with_email("grace@example.com"), 0);
}

#[test]
fn an_unusable_record_fixed_in_pinpoint_resumes_by_itself() {
    let world = small_world();
    let mut bad = SimApplication::hired("1004", "Lin", "Wu", "lin at example", "1");
    world.sim.add_application(bad.clone());
    world.sync().expect(3);
    assert_eq!(world.row("1004")["status"], "needs_attention");

    bad.email = "lin@example.com".into();
    world.sim.add_application(bad);
    world.sync().expect(0);
    assert_eq!(world.row("1004")["status"], "done");
    assert_eq!(world.employees_with_email("lin@example.com"), 1);
    let outcomes: Vec<String> = world
        .events("1004")
        .iter()
        .map(|e| e.outcome.clone())
        .collect();
    assert!(outcomes.contains(&"released".to_string()), "{outcomes:?}");
}

#[test]
fn a_listing_page_that_contradicts_its_filter_stops_every_write_although_the_probe_passed() {
    let hired_stage = Stage::Hired.id();
    let world = World::with(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(ada())
            .with_application(SimApplication {
                stage: Stage::Rejected,
                ..SimApplication::hired("1002", "Rita", "Rejected", "rita@example.com", "1")
            })
            .with_application(SimApplication {
                stage: Stage::Offer,
                ..SimApplication::hired("1003", "Otto", "Offer", "otto@example.com", "1")
            }),
        Settings::default(),
    );
    // The operator names the hired stage. Pinpoint honours the filter for the contract probe
    // (a value no stage has lists nothing) but ignores it on the real listing, which answers
    // with every stage.
    let config = std::fs::read_to_string(&world.config_path)
        .unwrap()
        .replace(
            "page_size = 100",
            &format!("page_size = 100\nhired_stage_ids = [\"{hired_stage}\"]"),
        );
    std::fs::write(&world.config_path, config).unwrap();
    world.sim.inject(
        FaultRule::new(Endpoint::ListApplications, Fault::IgnoresStageFilter)
            .matching(format!("filter[stage_id]={hired_stage}&"))
            .times(100),
    );
    let run = world.sync().expect(3);
    assert!(
        run.stdout().contains("NOTHING WRITTEN")
            && run.stdout().contains("pinpoint.stage_filter")
            && run
                .stdout()
                .contains("page 1 of the hired-stage listing contradicts its filter"),
        "{}",
        run.all()
    );
    assert_eq!(
        world.sim.write_calls(),
        0,
        "not even for the real hire on the page"
    );
    assert!(
        world.entries().is_empty(),
        "nothing from that page entered the ledger"
    );
    let status = world.hirebridge(&["status"]).expect(3).stdout();
    assert!(
        status.contains("NOTHING IS WRITTEN: pinpoint.stage_filter")
            && status.contains("pinpoint.hired_stage_ids"),
        "{status}"
    );

    // Fixed (the fault is gone): the next pass checks again and works the real hire only.
    world.sim.clear_faults();
    world.sync().expect(0);
    assert!(world.is_done("1001"));
    for (id, email) in [("1002", "rita@example.com"), ("1003", "otto@example.com")] {
        assert!(world.ledger().entry(&id.into()).unwrap().is_none(), "{id}");
        assert_eq!(world.employees_with_email(email), 0, "{id}");
        assert!(world.sim.comments(id).is_empty(), "{id}");
    }
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    world.hirebridge(&["status"]).expect(0);
}

/// HiBob holds Ada as a former employee: terminated years ago.
fn former_ada() -> Scenario {
    Scenario::empty()
        .with_job("1", "Engineer", Visibility::External)
        .with_application(ada())
        .with_employee(SimEmployeeSeed {
            first_name: "Ada".into(),
            surname: "Lovelace".into(),
            email: "ada@example.com".into(),
            site: "London".into(),
            start_date: chrono::NaiveDate::from_ymd_opt(2019, 4, 1).unwrap(),
            termination_date: chrono::NaiveDate::from_ymd_opt(2022, 6, 30),
        })
}

#[test]
fn a_former_employee_is_neither_adopted_nor_duplicated_until_hr_rehires_them() {
    let world = World::new(former_ada());
    let former = world.sim.employee_by_email("ada@example.com").unwrap();
    world.sync().expect(3);
    let entry = world.entry("1001");
    assert_eq!(entry.status, HireStatus::NeedsAttention);
    assert_eq!(
        entry.hibob_employee_id(),
        None,
        "not marked done on a terminated record"
    );
    let message = entry.last_error.unwrap_or_default();
    assert!(message.contains("former employee"), "{message}");
    assert!(message.contains(&former.id), "{message}");
    assert!(message.contains("hirebridge retry 1001"), "{message}");
    assert_eq!(world.sim.write_calls(), 0, "no create, no CV, no comment");
    // Parked: the next pass leaves it alone.
    world.sync().expect(3);
    assert_eq!(world.sim.write_calls(), 0);

    // HR rehires Ada in HiBob, then asks hirebridge to go on.
    let start = chrono::Utc::now().date_naive() + chrono::Days::new(14);
    world.sim.rehire("ada@example.com", start);
    world.hirebridge(&["retry", "1001"]).expect(0);
    world.sync().expect(0);
    let entry = world.entry("1001");
    assert_eq!(entry.status, HireStatus::Done);
    assert_eq!(entry.hibob_employee_id(), Some(former.id.as_str()));
    assert_eq!(entry.employee_origin(), Some(EmployeeOrigin::Adopted));
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0);
    assert_eq!(world.sim.comments("1001").len(), 1);
}

#[test]
fn on_former_employee_adopt_links_the_former_record() {
    let world = World::new(former_ada());
    let config = std::fs::read_to_string(&world.config_path)
        .unwrap()
        .replace("[hibob]\n", "[hibob]\non_former_employee = \"adopt\"\n");
    std::fs::write(&world.config_path, config).unwrap();
    world.sync().expect(0);
    let former = world.sim.employee_by_email("ada@example.com").unwrap();
    assert_eq!(
        world.entry("1001").hibob_employee_id(),
        Some(former.id.as_str())
    );
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0);
}

/// The mapping many HR teams use: a company work address as HiBob's login, the candidate's own
/// address kept as the private one.
const WORK_ADDRESSES: &str = "[mapping.fields]\n\
    \"email\" = \"{{ application.first_name | lower }}.{{ application.last_name | lower }}@corp.example\"\n\
    \"home.privateEmail\" = \"{{ application.email }}\"\n";

#[test]
fn people_hr_entered_under_a_work_address_are_adopted_and_the_rest_created_with_both_addresses() {
    // Fourteen hires; HR already entered six of them in HiBob by hand, under their work
    // address, with the candidate's address as the private one (in different letter case).
    let names = [
        "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret",
        "Niklaus", "Radia", "Tony", "Shafi", "Leslie",
    ];
    let scenario = names.iter().enumerate().fold(
        Scenario::empty().with_job("1", "Engineer", Visibility::External),
        |s, (i, name)| {
            s.with_application(SimApplication::hired(
                &(4000 + i).to_string(),
                name,
                "Pioneer",
                &format!("{}@home.example", name.to_lowercase()),
                "1",
            ))
        },
    );
    let scenario = names[..6].iter().fold(scenario, |s, name| {
        s.with_employee(SimEmployeeSeed {
            first_name: (*name).into(),
            surname: "Pioneer".into(),
            email: format!("{}.pioneer@corp.example", name.to_lowercase()),
            site: "London".into(),
            start_date: chrono::Utc::now().date_naive() + chrono::Days::new(20),
            termination_date: None,
        })
    });
    let world = World::with(
        scenario,
        Settings {
            extra: WORK_ADDRESSES.into(),
            ..Settings::default()
        },
    );
    for name in &names[..6] {
        let seeded = world
            .sim
            .employee_by_email(&format!("{}.pioneer@corp.example", name.to_lowercase()))
            .unwrap();
        world.sim.edit_employee_field(
            &seeded.id,
            "home.privateEmail",
            &format!("{}@HOME.example", name.to_lowercase()),
        );
    }

    let check = world.hirebridge(&["check"]).stdout();
    assert!(
        check.contains("✓ mapping: every mapped field exists in HiBob"),
        "{check}"
    );
    world.sim.reset_counters();
    world.sync().expect(0);
    assert_eq!(world.sim.employees().len(), 14, "no duplicate");
    assert_eq!(
        world.sim.count(Endpoint::SearchPeople),
        4,
        "the contract check's two, one batch of login addresses, one read of everyone"
    );
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 8);
    for (i, name) in names.iter().enumerate() {
        let id = (4000 + i).to_string();
        let entry = world.entry(&id);
        assert_eq!(entry.status, HireStatus::Done, "{id}");
        let expected = if i < 6 {
            EmployeeOrigin::Adopted
        } else {
            EmployeeOrigin::Created
        };
        assert_eq!(entry.employee_origin(), Some(expected), "{id}");
        let login = format!("{}.pioneer@corp.example", name.to_lowercase());
        let employee = world.sim.employee_by_email(&login).unwrap();
        assert_eq!(entry.hibob_employee_id(), Some(employee.id.as_str()));
        if i >= 6 {
            assert_eq!(
                world
                    .sim
                    .employee_field(&employee.id, "home.privateEmail")
                    .as_deref(),
                Some(format!("{}@home.example", name.to_lowercase()).as_str()),
                "created with both addresses"
            );
        }
        assert_eq!(world.sim.comments(&id).len(), 1, "{id}");
    }
    // A second sync has nothing to look up: no search for everyone.
    world.sim.reset_counters();
    world.sync().expect(0);
    assert_eq!(world.sim.count(Endpoint::SearchPeople), 0);
}

#[test]
fn two_people_who_may_be_the_hire_need_a_person_and_both_are_named() {
    // HR entered Ada twice: under her work address, and under her own address.
    let scenario = Scenario::empty()
        .with_job("1", "Engineer", Visibility::External)
        .with_application(SimApplication::hired(
            "4100",
            "Ada",
            "Lovelace",
            "ada@home.example",
            "1",
        ))
        .with_employee(SimEmployeeSeed {
            first_name: "Ada".into(),
            surname: "Lovelace".into(),
            email: "ada.lovelace@corp.example".into(),
            site: "London".into(),
            start_date: chrono::Utc::now().date_naive() + chrono::Days::new(20),
            termination_date: None,
        })
        .with_employee(SimEmployeeSeed {
            first_name: "Ada".into(),
            surname: "Lovelace".into(),
            email: "ada@home.example".into(),
            site: "London".into(),
            start_date: chrono::Utc::now().date_naive() + chrono::Days::new(20),
            termination_date: None,
        });
    let world = World::with(
        scenario,
        Settings {
            extra: WORK_ADDRESSES.into(),
            ..Settings::default()
        },
    );
    world.sync().expect(3);
    let entry = world.entry("4100");
    assert_eq!(entry.status, HireStatus::NeedsAttention);
    let reason = entry.last_error.unwrap();
    assert!(
        reason.contains("ada.lovelace@corp.example") && reason.contains("ada@home.example"),
        "{reason}"
    );
    assert_eq!(world.sim.write_calls(), 0);
}

#[test]
fn a_person_known_only_by_their_private_address_is_adopted_and_a_namesake_is_not() {
    // Ada: HR entered her under an address the mapping would not make, keeping her own as
    // the private one. Alan: another Alan Turing already works there under the address the
    // mapping makes, with his own private address.
    let scenario = Scenario::empty()
        .with_job("1", "Engineer", Visibility::External)
        .with_application(SimApplication::hired(
            "4200",
            "Ada",
            "Lovelace",
            "ada@home.example",
            "1",
        ))
        .with_application(SimApplication::hired(
            "4201",
            "Alan",
            "Turing",
            "alan@home.example",
            "1",
        ))
        .with_employee(SimEmployeeSeed {
            first_name: "Ada".into(),
            surname: "Lovelace".into(),
            email: "countess@corp.example".into(),
            site: "London".into(),
            start_date: chrono::Utc::now().date_naive() + chrono::Days::new(20),
            termination_date: None,
        })
        .with_employee(SimEmployeeSeed {
            first_name: "Alan".into(),
            surname: "Turing".into(),
            email: "alan.turing@corp.example".into(),
            site: "London".into(),
            start_date: chrono::Utc::now().date_naive() - chrono::Days::new(400),
            termination_date: None,
        });
    let world = World::with(
        scenario,
        Settings {
            extra: WORK_ADDRESSES.into(),
            ..Settings::default()
        },
    );
    let countess = world
        .sim
        .employee_by_email("countess@corp.example")
        .unwrap();
    world
        .sim
        .edit_employee_field(&countess.id, "home.privateEmail", "ADA@home.example");
    let other_alan = world
        .sim
        .employee_by_email("alan.turing@corp.example")
        .unwrap();
    world.sim.edit_employee_field(
        &other_alan.id,
        "home.privateEmail",
        "turing@elsewhere.example",
    );

    world.sync().expect(3);
    let ada = world.entry("4200");
    assert_eq!(ada.status, HireStatus::Done);
    assert_eq!(ada.hibob_employee_id(), Some(countess.id.as_str()));
    assert_eq!(ada.employee_origin(), Some(EmployeeOrigin::Adopted));
    let alan = world.entry("4201");
    assert_eq!(alan.status, HireStatus::NeedsAttention);
    let reason = alan.last_error.unwrap();
    assert!(
        reason.contains("alan.turing@corp.example") && reason.contains("namesake"),
        "{reason}"
    );
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0);
    assert!(world.sim.comments("4201").is_empty());
}

//! Hostile and broken input, end to end: the real binary against a simulator that answers
//! HTML instead of JSON on every endpoint, mangles the answer to a write that happened, sends
//! ids as numbers, floods with a huge body, ignores paging, and holds applications with empty,
//! blank or malformed emails, emails differing only in case, names in every script, and CVs
//! too large for HiBob. Each time: a clear error or state, nothing duplicated, and convergence
//! once the input heals.

mod common;

use common::{Settings, World};
use hirebridge::ledger::HireStatus;
use hirebridge::sim::{
    CvFiles, Endpoint, Fault, FaultRule, HIBOB_MAX_DOCUMENT_BYTES, Scenario, SimApplication,
    Visibility,
};

fn ada() -> SimApplication {
    SimApplication::hired("1001", "Ada", "Lovelace", "ada@example.com", "1")
}

fn grace() -> SimApplication {
    SimApplication::hired("1002", "Grace", "Hopper", "grace@example.com", "1")
}

fn two_hires() -> World {
    World::new(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(ada())
            .with_application(grace()),
    )
}

/// Everything any hire of the world saw as its last error, and the sync's output.
fn all_errors(world: &World, run: &common::Run) -> String {
    let mut text = run.all();
    for entry in world.entries() {
        text.push_str(&entry.last_error.unwrap_or_default());
        text.push('\n');
    }
    text
}

#[test]
fn html_instead_of_json_on_each_endpoint_names_it_duplicates_nothing_and_heals() {
    // (endpoint, fault, what the error must name). The reads of documents and comments happen
    // only when resolving an unknown outcome, so those rows first make the write ambiguous.
    let cases: [(&str, Vec<FaultRule>, &str); 8] = [
        (
            "listing",
            vec![FaultRule::new(Endpoint::ListApplications, Fault::MalformedBody).not_on_probes()],
            "Pinpoint GET /applications",
        ),
        (
            "search",
            vec![FaultRule::new(Endpoint::SearchPeople, Fault::MalformedBody).not_on_probes()],
            "HiBob POST /people/search",
        ),
        (
            "create",
            vec![FaultRule::new(Endpoint::CreatePerson, Fault::MalformedBody).matching("ada@")],
            "HiBob POST /people",
        ),
        (
            "create committed, answer mangled",
            vec![
                FaultRule::new(Endpoint::CreatePerson, Fault::CommitThenMalformed).matching("ada@"),
            ],
            "HiBob POST /people",
        ),
        (
            "CV upload",
            vec![
                FaultRule::new(Endpoint::UploadDocument, Fault::CommitThenMalformed).times(2),
                FaultRule::new(Endpoint::ListDocuments, Fault::MalformedBody),
            ],
            "HiBob POST /docs/people/{id}/{folder}",
        ),
        (
            "documents list",
            vec![
                FaultRule::new(Endpoint::UploadDocument, Fault::Status(502)).matching("1001"),
                FaultRule::new(Endpoint::ListDocuments, Fault::MalformedBody),
            ],
            "HiBob GET /docs/people/{id}",
        ),
        (
            "comment",
            vec![
                FaultRule::new(Endpoint::PostComment, Fault::CommitThenMalformed).matching("1001"),
            ],
            "Pinpoint POST /comments",
        ),
        (
            "comments read",
            vec![
                FaultRule::new(Endpoint::PostComment, Fault::CommitThenMalformed).matching("1001"),
                FaultRule::new(Endpoint::GetApplication, Fault::MalformedBody).matching("comments"),
            ],
            "Pinpoint GET /applications/{id}",
        ),
    ];
    for (name, rules, endpoint) in cases {
        let world = two_hires();
        for rule in rules {
            world.sim.inject(rule);
        }
        let mut errors = String::new();
        let mut healed = false;
        for _ in 0..4 {
            let run = world.sync();
            assert!(!run.stderr().contains("panicked"), "{name}: {}", run.all());
            errors.push_str(&all_errors(&world, &run));
            world.assert_exactly_once();
            if run.code() == 0 {
                healed = true;
                break;
            }
            assert_eq!(run.code(), 2, "{name}: a retry, not a park: {}", run.all());
        }
        assert!(healed, "{name}: did not converge: {errors}");
        assert!(
            errors.contains(endpoint) && errors.contains("not the expected JSON"),
            "{name}: the error names {endpoint}: {errors}"
        );
        assert!(world.entries().iter().all(|e| e.status == HireStatus::Done));
        assert_eq!(world.sim.employees().len(), 2, "{name}");
        for id in ["1001", "1002"] {
            assert_eq!(world.sim.comments(id).len(), 1, "{name}: {id}");
        }
    }
}

#[test]
fn ids_as_numbers_are_tolerated_where_hirebridge_reads_them() {
    // Pinpoint's listing with every id (application, job, relationship) as a number, and
    // HiBob's search answer likewise: read as the same ids, nothing parked.
    let world = two_hires();
    world
        .sim
        .inject(FaultRule::new(Endpoint::ListApplications, Fault::WrongTypes).not_on_probes());
    world
        .sim
        .inject(FaultRule::new(Endpoint::SearchPeople, Fault::WrongTypes).not_on_probes());
    world.sync().expect(0);
    let rows = world.report_json();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row["status"], "done", "{row}");
    }
    for employee in world.sim.employees() {
        assert_eq!(
            employee.body["work"]["title"], "Engineer",
            "the job was found by its numeric id"
        );
    }
    world.assert_exactly_once();
}

#[test]
fn a_body_past_the_size_cap_is_refused_unread_and_a_write_behind_it_is_looked_up() {
    let world = two_hires();
    let flood = HIBOB_MAX_DOCUMENT_BYTES * 8; // 40 MiB, past the 32 MiB cap
    world.sim.inject(
        FaultRule::new(Endpoint::ListApplications, Fault::HugeBody { bytes: flood })
            .not_on_probes(),
    );
    let run = world.sync().expect(2);
    assert!(
        run.stdout().contains("listing failed") && run.all().contains("larger than 32 MiB"),
        "{}",
        run.all()
    );
    assert_eq!(world.sim.write_calls(), 0);

    // A create whose answer floods: the employee may exist, so it is looked up, not repeated.
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::HugeBody { bytes: flood }).matching("ada@"),
    );
    let run = world.sync().expect(2);
    let ada = world.entry("1001");
    assert_eq!(ada.status, HireStatus::Failed, "{}", run.all());
    assert!(
        ada.last_error.unwrap().contains("larger than 32 MiB"),
        "{}",
        run.all()
    );
    world.sync().expect(0);
    world.assert_exactly_once();
    assert_eq!(world.sim.employees().len(), 2);
}

#[test]
fn a_listing_that_ignores_paging_is_worked_once_and_the_pass_ends() {
    // 250 hires, page size 100: the server answers every page with all 250 and no next link.
    let world = World::with(
        Scenario::generated(250, 11),
        Settings {
            page_size: 100,
            ..Settings::default()
        },
    );
    world
        .sim
        .inject(FaultRule::new(Endpoint::ListApplications, Fault::IgnoresPaging).times(20));
    let run = world.sync().expect(2);
    assert!(
        run.stdout().contains("seems to ignore paging"),
        "{}",
        run.all()
    );
    assert_eq!(
        world.sim.listing_calls(),
        2,
        "the repeated page ends the listing"
    );
    assert_eq!(world.report_json().len(), 250);
    assert!(world.entries().iter().all(|e| e.status == HireStatus::Done));
    world.assert_exactly_once();
    // The next pass (still unpaged) creates nothing more.
    world.sim.reset_counters();
    world.sync().expect(2);
    assert_eq!(world.sim.write_calls(), 0);
}

#[test]
fn a_listing_whose_links_loop_back_is_worked_once_and_the_pass_ends() {
    // 250 hires, page size 100: page 2's `links.next` points back at page 1, whose own
    // link leads to page 2 again — a loop that would never end the pass.
    let world = World::with(
        Scenario::generated(250, 11),
        Settings {
            page_size: 100,
            ..Settings::default()
        },
    );
    world.sim.inject(
        FaultRule::new(Endpoint::ListApplications, Fault::LinksBackToFirstPage)
            .matching("page[number]=2")
            .times(20),
    );
    let run = world.sync().expect(2);
    assert!(
        run.stdout()
            .contains("a link back to a page it had already sent"),
        "{}",
        run.all()
    );
    // Page 1, page 2, page 1 again (whose link to page 2 is recognised): then it stops.
    assert_eq!(world.sim.listing_calls(), 3);
    assert_eq!(world.report_json().len(), 200, "the hires of pages 1 and 2");
    assert!(world.entries().iter().all(|e| e.status == HireStatus::Done));
    world.assert_exactly_once();
}

#[test]
fn empty_blank_and_malformed_emails_are_parked_and_never_sent_to_hibob() {
    let mut scenario = Scenario::empty().with_job("1", "Engineer", Visibility::External);
    for (id, email) in [
        ("2001", ""),
        ("2002", "   "),
        ("2003", "ada at example.com"),
        ("2004", "ada@"),
        ("2005", "@example.com"),
        ("2006", "ada lovelace@example.com"),
        ("2007", "ada@example."),
    ] {
        scenario = scenario.with_application(SimApplication::hired(id, "Ada", "X", email, "1"));
    }
    let world = World::new(scenario);
    let run = world.sync().expect(3);
    assert!(run.stdout().contains("7 need attention"), "{}", run.all());
    for row in world.report_json() {
        assert_eq!(row["status"], "needs_attention", "{row}");
        let reason = row["last_error"].as_str().unwrap();
        assert!(
            reason.contains("email") && reason.contains("Pinpoint"),
            "the reason says what to fix where: {reason}"
        );
    }
    // HiBob saw only the contract check's two searches (a batch of `.invalid` addresses, and
    // everyone), no lookup and no write.
    let hibob_calls: Vec<_> = world
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.path_and_query.starts_with("/hibob/"))
        .collect();
    assert_eq!(hibob_calls.len(), 2, "{hibob_calls:#?}");
    assert_eq!(world.sim.count(Endpoint::SearchPeople), 2);

    // An email with blanks around it is an address: trimmed, it makes its employee.
    world.sim.add_application(SimApplication::hired(
        "2008",
        "Ada",
        "Lovelace",
        "  ada@example.com\t",
        "1",
    ));
    world.sync().expect(3);
    assert_eq!(world.row("2008")["status"], "done");
    assert_eq!(world.sim.employees()[0].email, "ada@example.com");
}

#[test]
fn emails_differing_only_in_case_make_one_employee() {
    // Two applications of one person, typed differently, plus an existing employee whose
    // address is cased a third way: one employee, adopted by both.
    let mut upper = SimApplication::hired("1003", "Ada", "Lovelace", "ADA@EXAMPLE.COM", "1");
    upper.cv = CvFiles::None;
    let world = World::new(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(SimApplication::hired(
                "1001",
                "Ada",
                "Lovelace",
                "Ada@Example.com",
                "1",
            ))
            .with_application(upper)
            .with_application(SimApplication::hired(
                "1002",
                "Grace",
                "Hopper",
                "Grace@Example.COM",
                "1",
            ))
            .with_application(SimApplication::hired(
                "1004",
                "Grace",
                "Hopper",
                "grace@example.com",
                "1",
            )),
    );
    world.sync().expect(0);
    assert_eq!(
        world.sim.employees().len(),
        2,
        "{:#?}",
        world.sim.employees()
    );
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    assert_eq!(
        world.entry("1001").hibob_employee_id(),
        world.entry("1003").hibob_employee_id()
    );
    assert_eq!(
        world.entry("1002").hibob_employee_id(),
        world.entry("1004").hibob_employee_id()
    );
    let writes: Vec<_> = world
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.method != "GET" && !c.path_and_query.ends_with("/search"))
        .collect();
    assert_eq!(
        writes.len(),
        2 + 3 + 4,
        "2 creates, 3 CVs, 4 comments: {writes:#?}"
    );
}

#[test]
fn a_second_application_of_one_person_waits_for_an_unknown_create_and_goes_on_past_a_park() {
    let augusta = || SimApplication::hired("1005", "Augusta", "King", "ADA@example.com", "1");
    let world = World::new(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(ada())
            .with_application(augusta()),
    );
    // Ada's create may have happened (502): Augusta, the same person, must not create now.
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::CommitThenStatus(502)).matching("\"Ada\""),
    );
    world.sync().expect(2);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    assert_eq!(world.entry("1005").status, HireStatus::Pending);
    world.sync().expect(0);
    assert_eq!(world.sim.employees().len(), 1);
    assert_eq!(
        world.sim.count(Endpoint::CreatePerson),
        1,
        "adopted, not created"
    );
    world.assert_exactly_once();

    // Ada's data is refused (parked): Augusta's own create goes ahead.
    let world = World::new(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(ada())
            .with_application(augusta()),
    );
    world
        .sim
        .inject(FaultRule::new(Endpoint::CreatePerson, Fault::Status(400)).matching("\"Ada\""));
    world.sync().expect(3);
    assert_eq!(world.row("1001")["status"], "needs_attention");
    assert_eq!(world.row("1005")["status"], "done");
    assert_eq!(world.sim.employees().len(), 1);
}

#[test]
fn names_in_any_script_reach_hibob_composed_nfc_and_the_reports_show_them() {
    let names: [(&str, &str); 6] = [
        ("Zoe\u{0308}", "A\u{030A}ngstro\u{0308}m"), // combining marks, not precomposed
        ("محمد", "عبد الله"),                        // right to left
        ("שרה", "לוי"),
        ("李", "小龍"),
        ("😀 Joy", "Smith 🚀"),
        ("Ǹ̷a̸", "Z̴a̵l̶g̷o̸"),
    ];
    assert_eq!(hirebridge::identity::nfc(names[0].0), "Zo\u{eb}");
    assert_eq!(hirebridge::identity::nfc(names[2].0), names[2].0);
    let mut scenario = Scenario::empty().with_job("1", "Ingénieur 工程师", Visibility::External);
    for (i, (first, last)) in names.iter().enumerate() {
        scenario = scenario.with_application(SimApplication::hired(
            &(3001 + i).to_string(),
            first,
            last,
            &format!("person{i}@example.com"),
            "1",
        ));
    }
    let world = World::new(scenario);
    world.sync().expect(0);
    for (i, (first, last)) in names.iter().enumerate() {
        let employee = world
            .sim
            .employee_by_email(&format!("person{i}@example.com"))
            .unwrap();
        // Written in NFC: "Zoe" + combining diaeresis arrives as "Zoë" (one code point), so
        // the same name is the same bytes in HiBob whatever keyboard typed it; any other
        // script arrives byte for byte.
        assert_eq!(employee.first_name, hirebridge::identity::nfc(first));
        assert_eq!(employee.surname, hirebridge::identity::nfc(last));
        assert_eq!(employee.body["work"]["title"], "Ingénieur 工程师");
    }
    world.assert_exactly_once();
    let json = world.hirebridge(&["report", "--format", "json"]).expect(0);
    let csv = world.hirebridge(&["report", "--format", "csv"]).expect(0);
    let html = world.hirebridge(&["report", "--format", "html"]).expect(0);
    for (first, last) in names {
        for (format, run) in [("json", &json), ("csv", &csv), ("html", &html)] {
            let out = run.stdout();
            assert!(
                out.contains(first) && out.contains(last),
                "{format} shows {first} {last}:\n{out}"
            );
        }
    }
}

#[test]
fn a_cv_over_hibobs_limit_parks_the_hire_with_the_reason_and_heals_on_retry() {
    let mut big = ada();
    big.cv_bytes = Some(20 * 1024 * 1024);
    let world = World::new(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(big.clone())
            .with_application(grace()),
    );
    let run = world.sync().expect(3);
    let row = world.row("1001");
    assert_eq!(row["status"], "needs_attention", "{}", run.all());
    let reason = row["last_error"].as_str().unwrap();
    assert!(
        reason.contains("limit") && reason.contains("hirebridge retry 1001"),
        "{reason}"
    );
    assert!(
        !reason.contains("/files/"),
        "no pre-signed link in the reason: {reason}"
    );
    let employee = world.sim.employee_by_email("ada@example.com").unwrap();
    assert!(world.sim.documents(&employee.id).is_empty());
    // hirebridge hands HiBob the link and never downloads the file itself: the only
    // fetch of it is HiBob's, once per upload attempt.
    assert_eq!(
        world.sim.count(Endpoint::DownloadFile),
        world.sim.count(Endpoint::UploadDocument)
    );
    assert_eq!(
        world.sim.count(Endpoint::UploadDocument),
        2,
        "Ada's and Grace's"
    );
    assert_eq!(world.row("1002")["status"], "done");

    // Parked means left alone until a person acts: the next pass uploads nothing.
    world.sim.reset_counters();
    world.sync().expect(3);
    assert_eq!(world.sim.count(Endpoint::UploadDocument), 0);

    // The recruiter replaces the CV with a smaller one; an operator retries: one CV, one comment.
    big.cv_bytes = Some(HIBOB_MAX_DOCUMENT_BYTES);
    world.sim.add_application(big);
    world.hirebridge(&["retry", "1001"]).expect(0);
    world.sync().expect(0);
    assert_eq!(world.sim.documents(&employee.id).len(), 1);
    assert_eq!(world.sim.comments("1001").len(), 1);
    world.assert_exactly_once();
}

//! HR's own hire flow (`[hibob] hire_flow = "pending"`), end to end with the real binary
//! against the simulator: each hire is sent once to HiBob's ATS Pending hires (the Hire API),
//! never created by hirebridge; when HR completes HiBob's New hire flow the next pass finds
//! the employee and finishes the hire (the CV unless Bob kept it, one comment naming it). A
//! post whose outcome is unknown is never sent again unless a person runs `retry --resend`.

mod common;

use std::os::unix::process::ExitStatusExt;

use common::{Settings, World, two_hires};
use hirebridge::crashpoint;
use hirebridge::ledger::HireStatus;
use hirebridge::sim::{
    self, Endpoint, Fault, FaultRule, HrChanges, HrCompletion, HrLogin, Scenario,
};

/// A world whose hires go to HR's Pending hires; `more`: other `[hibob]` lines.
fn pending_world(scenario: Scenario, more: &str) -> World {
    World::with(
        scenario,
        Settings {
            pending_flow: true,
            hibob: more.to_owned(),
            ..Settings::default()
        },
    )
}

fn three_hires() -> Scenario {
    two_hires().with_application(sim::SimApplication::hired(
        "1003",
        "Katherine",
        "Johnson",
        "katherine@example.com",
        "1",
    ))
}

fn hr_completes(world: &World, id: &str, login: HrLogin, keep_pulled_cv: bool) -> String {
    world
        .sim
        .complete_pending_hire(
            id,
            HrCompletion {
                login,
                keep_pulled_cv,
                changes: HrChanges::default(),
            },
        )
        .expect("HR completes the New hire flow")
}

fn posts(world: &World) -> usize {
    world.sim.count(Endpoint::HireApiPost)
}

/// The hire's CV documents (by the name hirebridge gives a CV) and comments.
fn cvs_and_comments(world: &World, id: &str, employee: &str) -> (usize, Vec<String>) {
    let marker = format!("(Pinpoint application {id})");
    let cvs = world
        .sim
        .documents(employee)
        .iter()
        .filter(|d| d.document_name.contains(&marker))
        .count();
    let comments = world
        .sim
        .comments(id)
        .into_iter()
        .map(|c| c.body_text)
        .collect();
    (cvs, comments)
}

#[test]
fn a_pending_pass_sends_each_hire_once_creates_nobody_and_a_second_pass_sends_nothing() {
    let world = pending_world(three_hires(), "");
    world.sync().expect(0);
    assert_eq!(posts(&world), 3, "one post per hire");
    assert_eq!(
        world.sim.count(Endpoint::CreatePerson),
        0,
        "no POST /people"
    );
    let pending = world.sim.pending_hires();
    let mut ids: Vec<&str> = pending.iter().map(|p| p.application_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["1001", "1002", "1003"]);
    // The document Bob receives: stable keys, the CV under the name hirebridge gives it.
    let ada = pending.iter().find(|p| p.application_id == "1001").unwrap();
    assert_eq!(ada.body["candidate"]["email"], "ada@example.com");
    assert_eq!(ada.body["employee"]["email"], "ada@example.com");
    assert!(
        ada.attachments.iter().all(|a| a.pulled),
        "Bob pulled the CV"
    );
    for id in ["1001", "1002", "1003"] {
        assert_eq!(world.entry(id).status, HireStatus::WaitingForHr);
    }
    assert_eq!(world.row("1001")["status"], "waiting_for_hr");

    world.sync().expect(0);
    assert_eq!(posts(&world), 3, "a second pass posts nothing");
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0);
    let listed = world.hirebridge(&["report", "--status", "waiting_for_hr", "--format", "json"]);
    assert_eq!(listed.code(), 0, "{}", listed.all());
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&listed.stdout())
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn when_hr_completes_the_next_pass_links_each_employee_with_one_cv_and_one_comment() {
    let world = pending_world(three_hires(), "");
    world.sync().expect(0);
    // Ada under her own address, Bob keeping the CV it pulled; Grace under a company
    // address (her own kept as the private one), without it; Katherine not yet.
    let ada = hr_completes(&world, "1001", HrLogin::CandidateEmail, true);
    let grace = hr_completes(
        &world,
        "1002",
        HrLogin::Company("grace.hopper@corp.example".into()),
        false,
    );
    world.sync().expect(0);

    for (id, employee) in [("1001", &ada), ("1002", &grace)] {
        let entry = world.entry(id);
        assert_eq!(entry.status, HireStatus::Done, "{id}");
        assert_eq!(entry.hibob_employee_id(), Some(employee.as_str()), "{id}");
        assert_eq!(world.row(id)["employee_origin"], "hr_flow", "{id}");
        let (cvs, comments) = cvs_and_comments(&world, id, employee);
        assert_eq!(cvs, 1, "{id}: exactly one CV (Bob's, or the one uploaded)");
        assert_eq!(comments.len(), 1, "{id}: {comments:?}");
        assert!(comments[0].contains(employee.as_str()), "{comments:?}");
    }
    assert_eq!(
        world.sim.count(Endpoint::UploadDocument),
        1,
        "only Grace's CV was uploaded: Bob kept Ada's"
    );
    assert_eq!(world.entry("1003").status, HireStatus::WaitingForHr);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0);
    assert_eq!(posts(&world), 3, "nothing sent again");
    let history = world.hirebridge(&["history", "1002"]);
    assert!(history.stdout().contains("sent_to_hr"), "{}", history.all());

    // Katherine later; then everything is settled and stays so.
    let katherine = hr_completes(&world, "1003", HrLogin::CandidateEmail, false);
    world.sync().expect(0);
    world.sync().expect(0);
    assert_eq!(
        world.entry("1003").hibob_employee_id(),
        Some(katherine.as_str())
    );
    world.assert_exactly_once();
    assert_eq!(posts(&world), 3);
}

#[test]
fn an_ambiguous_post_is_not_sent_again_until_a_person_says_so() {
    let world = pending_world(common::one_hire(), "");
    world.sim.inject(FaultRule::new(
        Endpoint::HireApiPost,
        Fault::CommitThenStatus(500),
    ));
    world.sync().expect(0);
    assert_eq!(posts(&world), 1);
    let entry = world.entry("1001");
    assert_eq!(entry.status, HireStatus::WaitingForHr);
    assert!(
        entry
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("unconfirmed"),
        "{entry:?}"
    );
    for _ in 0..2 {
        world.sync().expect(0);
    }
    assert_eq!(posts(&world), 1, "never re-sent by itself");
    let status = world.hirebridge(&["status"]);
    assert_eq!(status.code(), 3, "a person must look: {}", status.all());
    assert!(
        status.stdout().contains("Pending hires"),
        "{}",
        status.all()
    );
    assert!(
        status.stdout().contains("retry --resend"),
        "{}",
        status.all()
    );

    // Bob did store it: HR may dismiss the first one; a person asks to send again.
    world.sim.dismiss_pending_hire("1001").unwrap();
    world.hirebridge(&["retry", "--resend", "1001"]).expect(0);
    world.sync().expect(0);
    assert_eq!(
        posts(&world),
        2,
        "sent again once, because a person said so"
    );
    world.sync().expect(0);
    assert_eq!(posts(&world), 2);
    let history = world.hirebridge(&["history", "1001"]);
    assert!(history.stdout().contains("--resend"), "{}", history.all());
}

#[test]
fn a_crash_at_any_point_of_the_post_never_sends_twice_nor_makes_a_second_employee() {
    let points = [
        "ledger.hr_intent.before",
        "ledger.hr_intent.after",
        "hibob.hire_post.before",
        "hibob.hire_post.after",
        "ledger.hr_sent.before",
        "ledger.hr_sent.after",
    ];
    for point in points {
        assert!(crashpoint::ALL.contains(&point), "{point} is a crash point");
        let world = pending_world(common::one_hire(), "");
        let crashed = world
            .command(&["sync"])
            .env(crashpoint::ENV, point)
            .output()
            .unwrap();
        assert_eq!(
            crashed.status.signal(),
            Some(6),
            "{point}: {}",
            String::from_utf8_lossy(&crashed.stderr)
        );
        for _ in 0..2 {
            world.sync().expect(0);
        }
        // Before the intent nothing was recorded, so the restart sends it. Once the intent is
        // recorded the post may or may not have left (the ledger cannot tell a crash just
        // before it from one just after): it is never sent again by itself.
        let unsent_after_intent =
            matches!(point, "ledger.hr_intent.after" | "hibob.hire_post.before");
        let sent = posts(&world);
        assert_eq!(sent, usize::from(!unsent_after_intent), "{point}");
        assert_eq!(
            world.entry("1001").status,
            HireStatus::WaitingForHr,
            "{point}"
        );
        assert_eq!(world.sim.count(Endpoint::CreatePerson), 0, "{point}");
        if unsent_after_intent {
            let status = world.hirebridge(&["status"]);
            assert!(
                status.stdout().contains("delivery unconfirmed"),
                "{point}: {}",
                status.all()
            );
            // A person looked in Bob and found nothing: sent once more, on their word.
            world.hirebridge(&["retry", "--resend", "1001"]).expect(0);
            world.sync().expect(0);
            world.sync().expect(0);
            assert_eq!(posts(&world), 1, "{point}");
        }
        {
            let employee = hr_completes(&world, "1001", HrLogin::CandidateEmail, true);
            world.sync().expect(0);
            assert_eq!(
                world.entry("1001").hibob_employee_id(),
                Some(employee.as_str()),
                "{point}"
            );
            world.assert_exactly_once();
        }
    }
}

#[test]
fn link_finishes_a_hire_hr_made_under_an_address_hirebridge_cannot_match() {
    let world = pending_world(common::one_hire(), "");
    world.sync().expect(0);
    // HR made Ada under an address nobody could match, without her own as the private one.
    let pending = &world.sim.pending_hires()[0];
    assert_eq!(pending.application_id, "1001");
    let mut body = pending.body["employee"].clone();
    body["email"] = "a.lovelace@elsewhere.example".into();
    let employee = hr_completes(
        &world,
        "1001",
        HrLogin::Company("a.lovelace@elsewhere.example".into()),
        false,
    );
    // (The simulator keeps the candidate's address as the private one: a person links
    // anyway when the lookup cannot tell, e.g. a different private address.)
    let refused = world.hirebridge(&["link", "1001", "not an id"]);
    assert_ne!(refused.code(), 0);
    assert!(
        refused.all().contains("not a HiBob employee id"),
        "{}",
        refused.all()
    );
    world.hirebridge(&["link", "1001", &employee]).expect(0);
    world.sync().expect(0);
    let entry = world.entry("1001");
    assert_eq!(entry.status, HireStatus::Done);
    assert_eq!(entry.hibob_employee_id(), Some(employee.as_str()));
    let (cvs, comments) = cvs_and_comments(&world, "1001", &employee);
    assert_eq!((cvs, comments.len()), (1, 1));
    let history = world.hirebridge(&["history", "1001"]);
    assert!(history.stdout().contains("linked"), "{}", history.all());
    let again = world.hirebridge(&["link", "1001", "999"]);
    assert_ne!(again.code(), 0, "{}", again.all());
}

#[test]
fn hires_with_hr_longer_than_the_reminder_are_listed_with_their_age() {
    let world = pending_world(two_hires(), "hr_reminder_after = \"1s\"\n");
    world.sync().expect(0);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let status = world.hirebridge(&["status"]);
    assert_eq!(status.code(), 3, "{}", status.all());
    let text = status.stdout();
    assert!(text.contains("waiting for HR longer than"), "{text}");
    assert!(text.contains("1001") && text.contains("1002"), "{text}");
    assert!(text.contains("with HR for"), "{text}");
    let json = world.hirebridge(&["status", "--format", "json"]);
    let view: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(view["hr_flow"]["overdue"].as_array().unwrap().len(), 2);
}

#[test]
fn a_refused_authorization_sends_nothing_more_that_pass_and_status_names_it() {
    let mut world = pending_world(three_hires(), "");
    world.set_env(
        "HIBOB_HIRE_API_AUTHORIZATION",
        "Basic d3Jvbmc6c2VjcmV0LXZhbHVl",
    );
    let run = world.sync();
    assert_ne!(run.code(), 0, "{}", run.all());
    assert_eq!(posts(&world), 1, "the first refusal stops the posts");
    assert!(world.sim.pending_hires().is_empty());
    assert!(
        world
            .entries()
            .iter()
            .all(|e| e.status != HireStatus::WaitingForHr),
        "nothing counts as sent"
    );
    let status = world.hirebridge(&["status"]);
    assert!(status.stdout().contains("Hire API"), "{}", status.all());
    for output in [run.all(), status.all()] {
        assert!(!output.contains("d3Jvbmc6c2VjcmV0LXZhbHVl"), "{output}");
    }
    // Fixed: each is sent once.
    world.set_env(
        "HIBOB_HIRE_API_AUTHORIZATION",
        sim::HIBOB_HIRE_API_AUTHORIZATION,
    );
    world.hirebridge(&["retry", "--all-failed"]).expect(0);
    world.sync().expect(0);
    assert_eq!(world.sim.pending_hires().len(), 3);
}

#[test]
fn the_hire_api_secret_never_appears_in_any_output_nor_in_the_ledger() {
    let world = pending_world(common::one_hire(), "");
    let secret = sim::HIBOB_HIRE_API_AUTHORIZATION;
    let mut outputs = vec![world.sync().all()];
    world
        .sim
        .inject(FaultRule::new(Endpoint::HireApiPost, Fault::Status(400)));
    for args in [
        vec!["check"],
        vec!["status"],
        vec!["report", "--format", "json"],
        vec!["history", "1001"],
        vec!["plan"],
    ] {
        outputs.push(world.hirebridge(&args).all());
    }
    for output in &outputs {
        assert!(!output.contains(secret), "{output}");
        assert!(!output.contains("sim-hire-secret"), "{output}");
    }
    let ledger = std::fs::read(&world.ledger_path).unwrap();
    let needle = secret.as_bytes();
    assert!(
        !ledger.windows(needle.len()).any(|w| w == needle),
        "the ledger holds no secret"
    );
}

#[test]
fn back_to_direct_a_waiting_hire_is_a_persons_call_and_never_a_second_employee() {
    let world = pending_world(common::one_hire(), "");
    world.sync().expect(0);
    // The mode goes back to direct while HR has the hire.
    world.write_config(&Settings::default());
    let run = world.sync();
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0, "{}", run.all());
    let entry = world.entry("1001");
    assert_eq!(entry.status, HireStatus::NeedsAttention);
    assert!(
        entry
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("retry --resend"),
        "{entry:?}"
    );
    // HR completes it after all: `retry` looks again and links what HR made.
    let employee = hr_completes(&world, "1001", HrLogin::CandidateEmail, false);
    world.hirebridge(&["retry", "1001"]).expect(0);
    world.sync().expect(0);
    assert_eq!(
        world.entry("1001").hibob_employee_id(),
        Some(employee.as_str())
    );
    assert_eq!(world.entry("1001").status, HireStatus::Done);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 0);
    world.assert_exactly_once();
}

#[test]
fn back_to_direct_resend_creates_it_directly_once() {
    let world = pending_world(common::one_hire(), "");
    world.sync().expect(0);
    world.sim.dismiss_pending_hire("1001").unwrap();
    world.write_config(&Settings::default());
    world.sync();
    world.hirebridge(&["retry", "--resend", "1001"]).expect(0);
    world.sync().expect(0);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    assert_eq!(world.entry("1001").status, HireStatus::Done);
    assert_eq!(posts(&world), 1);
    world.assert_exactly_once();
}

#[test]
fn a_hire_that_leaves_hired_while_with_hr_is_withdrawn_and_status_says_hr_may_dismiss_it() {
    let world = pending_world(common::one_hire(), "");
    world.sync().expect(0);
    world.sim.set_stage("1001", sim::Stage::Rejected);
    world.sync().expect(0);
    let entry = world.entry("1001");
    assert_eq!(entry.status, HireStatus::Withdrawn);
    let status = world.hirebridge(&["status"]);
    assert!(status.stdout().contains("dismiss"), "{}", status.all());
    assert_eq!(posts(&world), 1);
}

#[test]
fn every_report_format_shows_hires_waiting_for_hr() {
    let world = pending_world(common::one_hire(), "");
    world.sync().expect(0);
    for format in ["csv", "table", "html", "json"] {
        let report = world.hirebridge(&["report", "--format", format]);
        assert_eq!(report.code(), 0, "{}", report.all());
        assert!(
            report.stdout().contains("waiting_for_hr"),
            "{format}: {}",
            report.stdout()
        );
    }
    let status = world.hirebridge(&["status", "--format", "json"]);
    let view: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    let counts = view["counts"].as_array().unwrap();
    assert!(
        counts.iter().any(|c| c[0] == "waiting_for_hr" && c[1] == 1),
        "{counts:?}"
    );
    let bad = world.hirebridge(&["report", "--status", "waiting"]);
    assert!(
        bad.all().contains("waiting_for_hr"),
        "the error lists it: {}",
        bad.all()
    );
}

#[test]
fn pinpoints_plugin_sends_the_hire_to_hrs_pending_hires_and_says_so() {
    // Grace is already in HiBob, so the first pass settles her (adopted) with nothing for HR.
    let scenario = two_hires().with_employee(sim::SimEmployeeSeed {
        first_name: "Grace".into(),
        surname: "Hopper".into(),
        email: "grace@example.com".into(),
        site: "New York (Demo)".into(),
        start_date: chrono::NaiveDate::from_ymd_opt(2025, 1, 6).unwrap(),
        termination_date: None,
    });
    let mut p = common::Plugged::start(
        scenario,
        Settings {
            every: "1h",
            pending_flow: true,
            ..Settings::default()
        },
        "1002",
    );
    assert_eq!(posts(&p.world), 1, "the first pass sent Ada to HR");
    p.world.sim.add_application(common::new_hire(1003));
    let answer = p
        .submit(
            "u-pending",
            &[
                ("applicationId", "1003"),
                ("firstName", "New"),
                ("lastName", "Hire1003"),
                ("email", "hire1003@example.com"),
                ("site", "London"),
            ],
        )
        .json();
    assert_eq!(answer["status"], "pending", "{answer:#}");
    assert!(
        answer["toast"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("ATS Pending hires"),
        "{answer:#}"
    );
    assert_eq!(posts(&p.world), 2, "sent once");
    assert_eq!(p.world.sim.count(Endpoint::CreatePerson), 0);
    let sent = p
        .world
        .sim
        .pending_hires()
        .into_iter()
        .find(|h| h.application_id == "1003")
        .expect("posted");
    assert_eq!(
        sent.body["employee"]["work"]["site"], "London",
        "HR's approved values"
    );
    assert_eq!(p.world.entry("1003").status, HireStatus::WaitingForHr);
    // A replay sends nothing more.
    p.submit("u-pending", &[("applicationId", "1003")]);
    assert_eq!(posts(&p.world), 2);
    assert_eq!(p.stop(), 0);
}

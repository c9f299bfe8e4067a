//! The API contract: hirebridge checks each assumption it makes about Pinpoint and HiBob on
//! the tenant itself (`check`, the first pass, then daily), writes nothing when an assumption
//! that writes depend on fails, and falls back safely when one that they do not depend on
//! fails. Each simulated contract fault is caught by its own line.

mod common;

use common::{EVENTUALLY, Listening, Settings, World, new_hire, two_hires, wait_for};
use hirebridge::sim::{Endpoint, Fault, FaultRule, Scenario, SimApplication, Visibility};

/// The `check` line for `assumption`, e.g. `✓ pinpoint.paging: …`.
fn line<'a>(out: &'a str, assumption: &str) -> &'a str {
    out.lines()
        .find(|l| {
            let mut chars = l.chars();
            chars.next();
            chars.as_str().starts_with(&format!(" {assumption}:"))
        })
        .unwrap_or_else(|| panic!("no {assumption} line in\n{out}"))
}

const ASSUMPTIONS: [&str; 12] = [
    "pinpoint.stage_filter",
    "pinpoint.job_visibility",
    "pinpoint.attachments",
    "pinpoint.includes",
    "pinpoint.page_size",
    "pinpoint.paging",
    "pinpoint.sort_updated_at",
    "hibob.search_batch",
    "hibob.show_inactive",
    "hibob.read_fields",
    "hibob.human_readable",
    "hibob.documents",
];

#[test]
fn against_the_simulator_every_assumption_holds_and_a_steady_pass_costs_only_its_listing() {
    let world = World::new(two_hires());
    // Nobody in HiBob yet: what needs people to look at cannot be proven, which fails nothing.
    let out = world.hirebridge(&["check"]).expect(0).stdout();
    assert!(line(&out, "hibob.show_inactive").starts_with('?'), "{out}");
    assert!(out.contains("cannot be proven yet"), "{out}");

    let first = world.sync().expect(0);
    assert!(
        first.stdout().contains("of them the API contract check"),
        "{}",
        first.all()
    );
    // Now HiBob holds two future starters (inactive): every assumption is proven.
    let out = world.hirebridge(&["check"]).expect(0).stdout();
    for assumption in ASSUMPTIONS {
        assert!(
            line(&out, assumption).starts_with('✓'),
            "{assumption}\n{out}"
        );
    }
    assert!(!out.contains('✗') && !out.contains("? "), "{out}");
    assert_eq!(world.sim.write_calls(), 6, "check writes nothing");

    // A steady pass within the day: only the listing, no probe.
    world.sim.reset_counters();
    world.sync().expect(0);
    let calls = world.sim.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(world.sim.listing_calls(), 1);

    // A day later the pass checks again (about 7 read-only requests), and writes nothing.
    world.age_contract_check(chrono::Duration::hours(25));
    world.sim.reset_counters();
    let run = world.sync().expect(0);
    assert!(
        run.stdout().contains("of them the API contract check"),
        "{}",
        run.all()
    );
    assert_eq!(world.sim.write_calls(), 0);
    let status = world.hirebridge(&["status"]).expect(0).stdout();
    assert!(status.contains("API contract checked"), "{status}");
    assert!(status.contains("12 hold"), "{status}");
}

#[test]
fn a_pinpoint_that_ignores_the_stage_filter_gets_no_write_and_every_command_says_what_to_do() {
    // Twelve applications in other stages beside two hires: a listing that ignores its
    // filter would make employees, CVs and comments for all of them.
    let scenario = (0..12).fold(two_hires(), |s, n| {
        let stage = [
            hirebridge::sim::Stage::Applied,
            hirebridge::sim::Stage::Interview,
            hirebridge::sim::Stage::Offer,
            hirebridge::sim::Stage::Rejected,
        ][n % 4];
        s.with_application(SimApplication {
            stage,
            ..SimApplication::hired(
                &(3000 + n).to_string(),
                "Not",
                &format!("Hired{n}"),
                &format!("not{n}@example.com"),
                "1",
            )
        })
    });
    let world = World::new(scenario);
    world
        .sim
        .inject(FaultRule::new(Endpoint::ListApplications, Fault::IgnoresStageFilter).times(1000));

    let out = world.hirebridge(&["check"]).expect(1).stdout();
    let stage = line(&out, "pinpoint.stage_filter");
    assert!(
        stage.starts_with('✗') && stage.contains("ignores filter[stage_basic_type]"),
        "{out}"
    );
    assert!(out.contains("set pinpoint.hired_stage_ids"), "{out}");
    // The dry run previews no create either: it says a pass would write nothing.
    let plan = world.hirebridge(&["plan"]).expect(1).stdout();
    assert!(
        plan.contains("a pass would write nothing: pinpoint.stage_filter"),
        "{plan}"
    );
    assert!(!world.ledger_path.exists(), "the dry run created no ledger");

    for _ in 0..2 {
        let run = world.sync().expect(3);
        assert!(
            run.stdout().contains("NOTHING WRITTEN")
                && run.stdout().contains("pinpoint.stage_filter"),
            "{}",
            run.all()
        );
    }
    assert_eq!(world.sim.write_calls(), 0, "{:#?}", world.sim.calls());
    assert!(
        world.entries().is_empty(),
        "no application entered the ledger"
    );
    assert_eq!(world.sim.listing_calls(), 0, "the listing was never read");

    let status = world.hirebridge(&["status"]).expect(3).stdout();
    assert!(
        status.contains("NOTHING IS WRITTEN: pinpoint.stage_filter")
            && status.contains("set pinpoint.hired_stage_ids")
            && status.contains("WRITES STOPPED"),
        "{status}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &world
            .hirebridge(&["status", "--format", "json"])
            .expect(3)
            .stdout(),
    )
    .unwrap();
    assert_eq!(json["contract"]["writes_stopped"], true, "{json:#}");
    assert_eq!(
        json["contract"]["findings"][0]["assumption"],
        "pinpoint.stage_filter"
    );

    // The operator follows the fix: with the Hired stage named, the listing filters by stage
    // id, which this Pinpoint honours; the next pass checks again and works the two hires.
    let hired = hirebridge::sim::Stage::Hired.id();
    let config = std::fs::read_to_string(&world.config_path)
        .unwrap()
        .replace(
            "page_size = 100",
            &format!("page_size = 100\nhired_stage_ids = [\"{hired}\"]"),
        );
    std::fs::write(&world.config_path, config).unwrap();
    world.sim.clear_faults();
    world.sync().expect(0);
    assert!(world.is_done("1001") && world.is_done("1002"));
    assert_eq!(world.entries().len(), 2);
    world.assert_exactly_once();
    world.hirebridge(&["status"]).expect(0);
}

/// One contract fault on a tenant hirebridge already works: two hires done (so HiBob holds
/// two future starters), two more hired since, the fault from now on, and the daily check due.
/// Returns the world, `check`'s output and `sync`'s run.
fn after_a_day_with(fault: FaultRule) -> (World, String, common::Run) {
    let world = World::new(two_hires());
    world.sync().expect(0);
    world.sim.add_application(new_hire(1003));
    world.sim.add_application(new_hire(1004));
    world.sim.inject(fault.times(10_000));
    world.age_contract_check(chrono::Duration::hours(25));
    let check = world.hirebridge(&["check"]);
    assert_eq!(check.code(), 1, "{}", check.all());
    world.sim.reset_counters();
    let run = world.sync();
    (world, check.stdout(), run)
}

/// The fault is caught by `assumption`'s line; writes stop: nothing is written, `sync` and
/// `status` exit 3 naming it.
fn stops_writes(fault: FaultRule, assumption: &str, seen: &str) {
    let (world, check, run) = after_a_day_with(fault);
    let failed = line(&check, assumption);
    assert!(failed.starts_with('✗') && failed.contains(seen), "{check}");
    assert!(failed.contains("writes stop until it holds"), "{check}");
    assert_eq!(run.code(), 3, "{}", run.all());
    assert!(run.stdout().contains("NOTHING WRITTEN") && run.stdout().contains(assumption));
    assert_eq!(world.sim.write_calls(), 0, "{:#?}", world.sim.calls());
    assert!(world.ledger().entry(&"1003".into()).unwrap().is_none());
    assert!(world.ledger().entry(&"1004".into()).unwrap().is_none());
    let status = world.hirebridge(&["status"]).expect(3).stdout();
    assert!(
        status.contains(&format!("NOTHING IS WRITTEN: {assumption}")),
        "{status}"
    );
}

/// The fault is caught by `assumption`'s line, and a safe fallback lets the new hire be done.
fn falls_back(fault: FaultRule, assumption: &str, seen: &str) -> World {
    let (world, check, run) = after_a_day_with(fault);
    let failed = line(&check, assumption);
    assert!(failed.starts_with('✗') && failed.contains(seen), "{check}");
    assert!(!failed.contains("writes stop"), "{check}");
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(
        world.is_done("1003") && world.is_done("1004"),
        "{}",
        run.all()
    );
    world.assert_exactly_once();
    let status = world.hirebridge(&["status"]).expect(0).stdout();
    assert!(status.contains(&format!("{assumption} ✗")), "{status}");
    world
}

#[test]
fn a_listing_that_drops_attachments_stops_writes() {
    stops_writes(
        FaultRule::new(Endpoint::ListApplications, Fault::DropsAttachments),
        "pinpoint.attachments",
        "without `attachments`",
    );
}

#[test]
fn a_listing_that_drops_its_includes_stops_writes() {
    stops_writes(
        FaultRule::new(Endpoint::ListApplications, Fault::DropsIncludes),
        "pinpoint.includes",
        "did not include job",
    );
}

#[test]
fn a_search_that_ignores_show_inactive_stops_writes() {
    stops_writes(
        FaultRule::new(Endpoint::SearchPeople, Fault::IgnoresShowInactive),
        "hibob.show_inactive",
        "seems to ignore showInactive",
    );
}

#[test]
fn a_search_that_hides_the_lifecycle_fields_stops_writes() {
    stops_writes(
        FaultRule::new(Endpoint::SearchPeople, Fault::HidesInternalFields),
        "hibob.read_fields",
        "no internal.lifecycleStatus",
    );
}

#[test]
fn a_documents_list_of_another_shape_stops_writes() {
    stops_writes(
        FaultRule::new(Endpoint::ListDocuments, Fault::ReshapesDocumentsList),
        "hibob.documents",
        "not what hirebridge reads",
    );
}

#[test]
fn a_refused_visibility_filter_is_named_and_the_listing_fails_writing_nothing() {
    let (world, check, run) = after_a_day_with(FaultRule::new(
        Endpoint::ListApplications,
        Fault::RefusesParameter("filter[job_visibility]".into()),
    ));
    let failed = line(&check, "pinpoint.job_visibility");
    assert!(
        failed.starts_with('✗') && failed.contains("confidential"),
        "{check}"
    );
    assert_eq!(run.code(), 2, "{}", run.all());
    assert!(run.stdout().contains("listing failed"), "{}", run.all());
    assert_eq!(world.sim.write_calls(), 0);
}

#[test]
fn an_ignored_page_size_is_named_and_hires_are_still_done() {
    falls_back(
        FaultRule::new(Endpoint::ListApplications, Fault::IgnoresPageSize),
        "pinpoint.page_size",
        "page[size]=1 listed 4 applications",
    );
}

#[test]
fn ignored_paging_is_named_and_no_hire_is_taken_as_withdrawn_for_its_absence() {
    let world = falls_back(
        FaultRule::new(Endpoint::ListApplications, Fault::IgnoresPaging),
        "pinpoint.paging",
        "repeats page 1",
    );
    // 1005 is hired but HiBob refuses its create for now (it waits for a retry), then it
    // leaves the Hired stage. A listing that cannot be trusted to be complete does not make
    // it withdrawn for its absence.
    world.sim.add_application(new_hire(1005));
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::Status(503))
            .matching("hire1005@")
            .times(1000),
    );
    world.sync().expect(2);
    world.sim.set_stage("1005", hirebridge::sim::Stage::Offer);
    world.sync().expect(2);
    assert_eq!(
        world.entry("1005").status,
        hirebridge::ledger::HireStatus::Failed
    );
    // Once paging behaves again (and the day's check sees it), the complete listing settles it.
    world.sim.clear_faults();
    world.age_contract_check(chrono::Duration::hours(25));
    world.sync().expect(0);
    assert_eq!(
        world.entry("1005").status,
        hirebridge::ledger::HireStatus::Withdrawn
    );
}

#[test]
fn a_search_batch_hibob_refuses_is_named_and_emails_are_searched_one_at_a_time() {
    let world = falls_back(
        FaultRule::new(Endpoint::SearchPeople, Fault::LimitsSearchBatch(1)),
        "hibob.search_batch",
        "refuses a search for",
    );
    assert_eq!(
        world.sim.count_status(Endpoint::SearchPeople, 400),
        1,
        "only the probe's batch was refused: the two new hires were looked up one at a time"
    );
}

#[test]
fn an_ignored_human_readable_is_named_and_drift_is_not_checked() {
    falls_back(
        FaultRule::new(Endpoint::SearchPeople, Fault::IgnoresHumanReadable),
        "hibob.human_readable",
        "ignored humanReadable",
    );
}

#[test]
fn the_daemon_checks_the_contract_at_startup_and_metrics_show_writes_stopped() {
    let settings = Settings {
        webhook_allow_unsigned: true,
        every: "1h",
        ..Settings::default()
    };
    let mut daemon = Listening::start(two_hires(), settings, None);
    assert!(wait_for(EVENTUALLY, || daemon
        .metric("hirebridge_contract_checked_timestamp_seconds")
        > 0.0));
    assert!(wait_for(EVENTUALLY, || daemon.world.is_done("1002")));
    assert_eq!(daemon.metric("hirebridge_writes_stopped"), 0.0);
    assert_eq!(
        daemon.metric(
            "hirebridge_contract_assumption{assumption=\"pinpoint.stage_filter\",outcome=\"holds\"}"
        ),
        1.0
    );
    assert_eq!(daemon.stop(), 0);

    // Restarted against a Pinpoint that now ignores the stage filter: the startup check
    // catches it before anything is listed, and a webhook nudge writes nothing either.
    let world = &daemon.world;
    world.sim.add_application(new_hire(1003));
    world
        .sim
        .inject(FaultRule::new(Endpoint::ListApplications, Fault::IgnoresStageFilter).times(1000));
    world.age_contract_check(chrono::Duration::hours(25));
    world.sim.reset_counters();
    daemon.restart();
    assert!(wait_for(EVENTUALLY, || daemon
        .metric("hirebridge_writes_stopped")
        == 1.0));
    assert_eq!(
        daemon.metric(
            "hirebridge_contract_assumption{assumption=\"pinpoint.stage_filter\",outcome=\"broken\"}"
        ),
        1.0
    );
    assert_eq!(daemon.deliver(&common::hired_event(1003)).status, 202);
    assert!(wait_for(EVENTUALLY, || daemon.metric(
        "hirebridge_webhook_nudges_total{outcome=\"writes_stopped\"}"
    ) >= 1.0));
    assert_eq!(daemon.world.sim.write_calls(), 0);
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn while_human_readable_is_ignored_drift_updates_wait_and_then_apply() {
    let ada = |pronouns: &str| {
        let mut a = SimApplication::hired("1001", "Ada", "Lovelace", "ada@example.com", "1");
        a.custom_attributes = vec![("pronouns".into(), pronouns.into())];
        a
    };
    let update_mode = "[mapping]\non_change = \"update\"\n[mapping.fields]\n\
        \"work.title\" = { template = '{{ job.title | default(\"\") }}', on_change = \"report\" }\n\
        \"work.department\" = { template = '{{ job.department | default(\"\") }}', on_change = \"report\" }\n\
        \"work.site\" = { template = \"{{ hibob.site }}\", on_change = \"report\" }\n\
        \"personal.pronouns\" = '{{ custom.pronouns | default(\"\") }}'\n";
    let world = World::with(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(ada("she/her")),
        Settings {
            extra: update_mode.into(),
            ..Settings::default()
        },
    );
    world.sync().expect(0);
    world.sim.add_application(ada("they/them"));
    world
        .sim
        .inject(FaultRule::new(Endpoint::SearchPeople, Fault::IgnoresHumanReadable).times(10_000));
    world.age_contract_check(chrono::Duration::hours(25));
    world.sync().expect(0);
    assert_eq!(
        world.sim.count(Endpoint::UpdatePerson),
        0,
        "the update waits"
    );
    assert!(
        world.row("1001")["drift"].is_null(),
        "{}",
        world.row("1001")
    );

    world.sim.clear_faults();
    world.age_contract_check(chrono::Duration::hours(25));
    world.sync().expect(0);
    assert_eq!(world.row("1001")["drift"], "updated");
    assert_eq!(world.sim.count(Endpoint::UpdatePerson), 1);
}

#[test]
fn apis_that_do_not_answer_stop_writes_for_the_pass_and_are_named_once() {
    let world = World::new(two_hires());
    for endpoint in [Endpoint::ListApplications, Endpoint::SearchPeople] {
        world
            .sim
            .inject(FaultRule::new(endpoint, Fault::Status(503)).times(10_000));
    }
    let run = world.sync().expect(2);
    let out = run.stdout();
    assert!(
        out.contains(
            "pinpoint.stage_filter, pinpoint.attachments, pinpoint.includes ✗ could not check"
        ) && out.matches("Pinpoint GET /applications").count() == 1,
        "{out}"
    );
    // The first probe of each API shows it does not answer; the others are not asked.
    let read_retries = 2;
    assert!(
        world.sim.count(Endpoint::ListApplications) <= 1 + read_retries,
        "{:#?}",
        world.sim.calls()
    );
    assert_eq!(world.sim.write_calls(), 0);
    world.hirebridge(&["status"]).expect(2);

    world.sim.clear_faults();
    world.sync().expect(0);
    assert!(world.is_done("1001") && world.is_done("1002"));
}

/// A tenant too large for the contract check's read of everyone (the answer refused or timed
/// out) is judged on the employees hirebridge wrote, found by id: writes go on, instead of
/// stopping for good because the check can never read the whole directory.
#[test]
fn a_directory_too_large_to_read_whole_is_checked_on_the_employees_hirebridge_wrote() {
    let world = World::new(two_hires());
    world.sync().expect(0);
    // From now on the probe's read of everyone fails; the search by id does not.
    world.sim.inject(
        FaultRule::new(Endpoint::SearchPeople, Fault::Status(503))
            .matching("work.site")
            .except("\"filters\"")
            .times(1000),
    );
    world.age_contract_check(chrono::Duration::hours(25));
    world.sim.add_application(new_hire(1003));
    let run = world.sync().expect(0);
    assert!(!run.all().contains("nothing written"), "{}", run.all());
    assert_eq!(world.sim.employees().len(), 3, "the new hire is written");
    let status = world.hirebridge(&["status"]).expect(0).stdout();
    assert!(!status.contains("NOTHING IS WRITTEN"), "{status}");
    assert!(status.contains("API contract checked"), "{status}");
}

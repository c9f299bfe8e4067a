//! End-to-end specification of the steady pass that reads only what changed: the real binary
//! against the simulator, whose listing sorts by `updated_at` as Pinpoint's does (and, with a
//! fault, ignores `sort`). Between two full listings (`[schedule] full_every`), a pass lists the
//! hired stage newest change first and stops at the first page that reaches back before the
//! last complete pass's start (less a safety margin).

mod common;

use common::{Settings, World, new_hire};
use hirebridge::ledger::Ledger;
use hirebridge::sim::{self, Endpoint, Fault, FaultRule, Scenario, SimApplication, Stage};
use serde_json::Value;

/// Five hires settled long ago (two hours, well past the safety margin), one changed since
/// (so the contract check can see the listing's order), and one candidate still in
/// interview; pages of two, full listings a day apart.
fn settled_world() -> World {
    let mut scenario = Scenario::empty().with_job("1", "Engineer", sim::Visibility::External);
    for id in 1001..=1005 {
        scenario = scenario.with_application(new_hire(id));
    }
    let mut candidate = new_hire(3001);
    candidate.stage = Stage::Interview;
    scenario = scenario.with_application(candidate);
    let world = World::with(
        scenario,
        Settings {
            page_size: 2,
            full_every: "24h",
            ..Settings::default()
        },
    );
    world.sim.age_applications(chrono::Duration::hours(2));
    world.sim.add_application(new_hire(1006));
    world.sync().expect(0);
    let listing = last_listing(&world);
    assert_eq!(listing["scope"], "full", "the first pass reads everything");
    assert_eq!(listing["because"], "none_yet");
    for id in 1001..=1006 {
        assert_eq!(world.entry(&id.to_string()).status.as_str(), "done");
    }
    world
}

/// What the last pass listed (its summary's `listing`).
fn last_listing(world: &World) -> Value {
    let pass = world.ledger().last_pass().unwrap().expect("a pass");
    let summary: Value = serde_json::from_str(pass.summary.as_deref().unwrap()).unwrap();
    summary["listing"].clone()
}

/// The contract check saw Pinpoint sort by `updated_at`.
fn sort_finding(world: &World) -> Value {
    let json = world.ledger().contract_report().unwrap().unwrap();
    let report: Value = serde_json::from_str(&json).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["assumption"] == "pinpoint.sort_updated_at")
        .cloned()
        .expect("the sort is checked")
}

#[test]
fn an_unchanged_tenant_costs_at_most_two_requests() {
    let world = settled_world();
    assert_eq!(sort_finding(&world)["outcome"], "holds");
    world.sim.reset_counters();

    world.sync().expect(0);
    let listing = last_listing(&world);
    assert_eq!(listing["scope"], "changed", "{listing}");
    assert!(listing["changed_since"].is_string(), "{listing}");
    let calls = world.sim.calls().len();
    assert!(calls <= 2, "{calls} requests: {:?}", world.sim.calls());
    assert_eq!(world.sim.count(Endpoint::ListApplications), 1);
    assert_eq!(world.sim.write_calls(), 0);
}

#[test]
fn a_hire_moved_into_hired_and_a_changed_application_are_picked_up() {
    let world = settled_world();
    world.sim.set_stage("3001", Stage::Hired);
    let mut changed = new_hire(1002);
    changed.start_on = Some("2031-03-17".into());
    world.sim.add_application(changed);
    world.sim.add_application(new_hire(1007));
    world.sim.reset_counters();

    world.sync().expect(0);
    assert_eq!(last_listing(&world)["scope"], "changed");
    assert_eq!(world.entry("3001").status.as_str(), "done");
    assert_eq!(world.entry("1007").status.as_str(), "done");
    let row = world.row("1002");
    assert_eq!(row["drift"], "reported", "{row}");
    assert_eq!(row["drift_fields"], "work.startDate");
    // Four changed (three now, one at the first pass, inside the safety margin) on pages of
    // two, then the page that reaches back past the last pass: three pages of seven hires.
    let pages = world.sim.count(Endpoint::ListApplications);
    assert!(pages <= 3, "{pages} listing pages");
    world.assert_exactly_once();
}

#[test]
fn an_application_changed_while_the_listing_is_paged_is_picked_up_by_the_next_pass() {
    let world = settled_world();
    // Two changes fill the first page; once it is answered, the candidate is hired, which
    // moves it to the top, above the page already read.
    world.sim.add_application(new_hire(1008));
    world.sim.add_application(new_hire(1009));
    world.sim.inject(
        FaultRule::new(
            Endpoint::ListApplications,
            Fault::ThenSetStage {
                application_id: "3001".into(),
                stage: Stage::Hired,
            },
        )
        .matching("sort=-updated_at"),
    );
    world.sync().expect(0);
    assert_eq!(last_listing(&world)["scope"], "changed");
    assert_eq!(world.entry("1008").status.as_str(), "done");
    assert!(
        world.ledger().entry(&"3001".into()).unwrap().is_none(),
        "hired behind the listing's back: this pass did not see it"
    );

    world.sync().expect(0);
    assert_eq!(last_listing(&world)["scope"], "changed");
    assert_eq!(world.entry("3001").status.as_str(), "done");
    world.assert_exactly_once();
}

#[test]
fn the_daily_full_listing_still_finds_an_unhired_hire() {
    let world = settled_world();
    world.sim.set_stage("1003", Stage::Rejected);

    world.sync().expect(0);
    assert_eq!(last_listing(&world)["scope"], "changed");
    assert_eq!(
        world.entry("1003").unhired_at,
        None,
        "leaving the stage waits for the full listing"
    );

    a_day_passes(&world);
    world.sync().expect(0);
    let listing = last_listing(&world);
    assert_eq!(listing["scope"], "full", "{listing}");
    assert_eq!(listing["because"], "due");
    assert!(world.entry("1003").unhired_at.is_some());
}

/// As if a day had passed since the last full listing: it is due again, and the hires it
/// showed were last seen that long ago.
fn a_day_passes(world: &World) {
    let mut ledger = Ledger::open(&world.ledger_path).unwrap();
    ledger
        .complete_listing(chrono::Utc::now() - chrono::Duration::hours(25), true)
        .unwrap();
    drop(ledger);
    let conn = rusqlite::Connection::open(&world.ledger_path).unwrap();
    conn.execute(
        "UPDATE hires SET last_seen_at = last_seen_at - 2 * 86400000",
        [],
    )
    .unwrap();
}

#[test]
fn a_pass_that_fails_is_followed_by_a_full_listing() {
    let world = settled_world();
    world.sim.inject(
        FaultRule::new(Endpoint::ListApplications, Fault::Status(503))
            .matching("sort=-updated_at")
            .times(10),
    );
    world.sync();
    world.sim.clear_faults();
    world.sync().expect(0);
    let listing = last_listing(&world);
    assert_eq!(listing["scope"], "full", "{listing}");
    assert_eq!(listing["because"], "previous_pass_incomplete");
}

#[test]
fn a_pinpoint_that_ignores_sort_gets_full_listings_and_misses_no_hire() {
    let mut scenario = Scenario::empty().with_job("1", "Engineer", sim::Visibility::External);
    for id in 1001..=1005 {
        scenario = scenario.with_application(new_hire(id));
    }
    let world = World::with(
        scenario,
        Settings {
            page_size: 2,
            full_every: "24h",
            ..Settings::default()
        },
    );
    world
        .sim
        .inject(FaultRule::new(Endpoint::ListApplications, Fault::IgnoresSort).times(usize::MAX));
    world.sim.age_applications(chrono::Duration::hours(2));
    world.sim.add_application(new_hire(1006));
    world.sync().expect(0);
    assert_ne!(sort_finding(&world)["outcome"], "holds");

    let status = world.hirebridge(&["status", "--format", "json"]);
    let view: Value = serde_json::from_str(&status.stdout()).unwrap();
    assert_eq!(view["listing"]["full_every_pass"], true, "{view}");
    let text = world.hirebridge(&["status"]).stdout();
    assert!(
        text.contains("EVERY PASS READS THE WHOLE HIRED LISTING"),
        "{text}"
    );
    assert!(text.contains("pinpoint.sort_updated_at"), "{text}");

    // An older application hired now sorts by id among the others: only a full listing
    // finds it.
    let mut late: SimApplication = new_hire(1000);
    late.stage = Stage::Interview;
    world.sim.add_application(late);
    world.sim.set_stage("1000", Stage::Hired);
    world.sim.reset_counters();
    world.sync().expect(0);
    let listing = last_listing(&world);
    assert_eq!(listing["scope"], "full", "{listing}");
    assert_eq!(listing["because"], "sort_not_proven");
    assert_eq!(world.entry("1000").status.as_str(), "done");
    assert_eq!(
        world.sim.count(Endpoint::ListApplications),
        4,
        "7 hires, pages of 2"
    );
}

//! HR's lifecycle on a real tenant: years of history are never imported by accident (the
//! go-live cutoff), a backfill is explicit and happens once, and hires that leave the Hired
//! stage are followed, never deleted.

mod common;

use chrono::{Duration as Days, Utc};
use common::{Settings, World};
use hirebridge::ledger::HireStatus;
use hirebridge::sim::{Endpoint, Scenario, SimApplication, Visibility};
use serde_json::Value;

/// Settings with no `sync.hired_since`: the ledger's go-live is the cutoff, as on a new install.
fn go_live_default() -> Settings {
    Settings {
        sync: String::new(),
        ..Settings::default()
    }
}

fn hire(id: u64, hired_days_ago: i64) -> SimApplication {
    SimApplication {
        hired_at: Some(Utc::now() - Days::days(hired_days_ago)),
        ..SimApplication::hired(
            &id.to_string(),
            "Old",
            &format!("Hire{id}"),
            &format!("hire{id}@example.com"),
            "1",
        )
    }
}

/// A tenant with 24 hires from 400 days ago.
fn history() -> Scenario {
    let mut s = Scenario::empty().with_job("1", "Engineer", Visibility::External);
    for id in 5001..=5024 {
        s = s.with_application(hire(id, 400));
    }
    s
}

fn json(run: &common::Run) -> Value {
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.all()))
}

#[test]
fn go_live_leaves_history_alone_and_writes_only_new_hires() {
    let world = World::with(history(), go_live_default());
    let first = world.sync().expect(0);
    // The first pass says plainly what it left out, and how to include it.
    let out = first.all();
    assert!(out.contains("24 hire(s) from before the cutoff"), "{out}");
    assert!(out.contains("sync.hired_since"), "{out}");
    assert!(out.contains("hirebridge retry"), "{out}");
    assert_eq!(world.sim.write_calls(), 0, "nothing written for history");
    assert!(world.sim.comments("5001").is_empty());
    for entry in world.entries() {
        assert_eq!(
            entry.status,
            HireStatus::Skipped,
            "{}",
            entry.application_id
        );
        let reason = entry.last_error.unwrap_or_default();
        assert!(reason.contains("before the cutoff"), "{reason}");
    }

    // A hire after go-live is written as always.
    world.sim.add_application(SimApplication::hired(
        "6001",
        "New",
        "Starter",
        "new.starter@example.com",
        "1",
    ));
    world.sync().expect(0);
    assert!(world.is_done("6001"));
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    assert_eq!(world.sim.comments("6001").len(), 1);
    world.hirebridge(&["status"]).expect(0);

    // Report, status and history show the skipped ones with the reason and the cutoff.
    let row = world.row("5001");
    assert_eq!(row["status"], "skipped");
    assert!(
        row["last_error"].as_str().unwrap().contains("go-live"),
        "{row}"
    );
    assert!(row["hired_at"].is_string(), "{row}");
    let status = json(&world.hirebridge(&["status", "--format", "json"]).expect(0));
    let skipped = status["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[0] == "skipped")
        .map(|c| c[1].clone());
    assert_eq!(skipped, Some(Value::from(24)), "{status:#}");
    let note = status["skipped"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("24 hire(s) left out") && note.contains("go-live"),
        "{note}"
    );
    let text = world.hirebridge(&["status"]).expect(0).stdout();
    assert!(text.contains("skipped      24 hire(s) left out"), "{text}");
    let history = world.hirebridge(&["history", "5001"]).expect(0).stdout();
    assert!(history.contains("skipped"), "{history}");
    assert!(history.contains("before the cutoff"), "{history}");
    let filtered = json(
        &world
            .hirebridge(&["report", "--format", "json", "--status", "skipped"])
            .expect(0),
    );
    assert_eq!(filtered.as_array().unwrap().len(), 24);

    // `plan` hides them unless asked, and then says why.
    let plan = world.hirebridge(&["plan"]).expect(0).stdout();
    assert!(!plan.contains("5001"), "{plan}");
    let all = world.hirebridge(&["plan", "--all"]).expect(0).stdout();
    assert!(
        all.contains("5001 <hire5001@example.com> [skipped]: skip"),
        "{all}"
    );
}

#[test]
fn moving_hired_since_earlier_backfills_once_and_plan_shows_it_first() {
    let world = World::with(history(), go_live_default());
    world.sync().expect(0);
    assert_eq!(world.sim.write_calls(), 0);

    // The operator decides to include the last two years.
    world.write_config(&Settings {
        sync: "hired_since = \"730d\"".into(),
        ..Settings::default()
    });
    let plan = json(&world.hirebridge(&["plan", "--format", "json"]).expect(0));
    let creates = plan["hires"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["actions"][0]["kind"] == "create")
        .count();
    assert_eq!(creates, 24, "{plan:#}");
    assert_eq!(world.sim.write_calls(), 0, "plan wrote nothing");

    world.sync().expect(0);
    for id in 5001..=5024 {
        assert!(world.is_done(&id.to_string()), "{id}");
    }
    let events = world.events("5001");
    assert!(
        events.iter().any(|e| e.outcome == "included"),
        "{events:#?}"
    );
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 24);
    // Once: the next pass writes nothing.
    world.sim.reset_counters();
    world.sync().expect(0);
    assert_eq!(world.sim.write_calls(), 0);
    world.assert_exactly_once();
}

#[test]
fn retry_includes_one_skipped_hire_and_only_that_one() {
    let world = World::with(history(), go_live_default());
    world.sync().expect(0);
    world.hirebridge(&["retry", "5007"]).expect(0);
    world.sync().expect(0);
    assert!(world.is_done("5007"));
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    assert_eq!(world.entry("5008").status, HireStatus::Skipped);
    // Bulk retry is for failures, never a backfill.
    world.hirebridge(&["retry", "--all-failed"]).expect(0);
    world.sync().expect(0);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
}

// ---- leaving the Hired stage ---------------------------------------------------------------

fn two_hires() -> Scenario {
    Scenario::empty()
        .with_job("1", "Engineer", Visibility::External)
        .with_application(SimApplication::hired(
            "7001",
            "Wanda",
            "Withdrawn",
            "wanda@example.com",
            "1",
        ))
        .with_application(SimApplication::hired(
            "7002",
            "Ursula",
            "Unhired",
            "ursula@example.com",
            "1",
        ))
}

/// A day and more passes: what `last_seen_at` says of a done hire is "listed that day".
fn a_day_passes(world: &World) {
    let conn = rusqlite::Connection::open(&world.ledger_path).unwrap();
    conn.execute(
        "UPDATE hires SET last_seen_at = last_seen_at - 2 * 86400000",
        [],
    )
    .unwrap();
}

#[test]
fn a_hire_withdrawn_before_it_is_done_gets_no_further_write_and_settles() {
    let world = World::new(two_hires());
    // HiBob fails Wanda's create (nothing happened): she waits for a retry …
    world.sim.inject(
        hirebridge::sim::FaultRule::new(
            Endpoint::CreatePerson,
            hirebridge::sim::Fault::Status(503),
        )
        .matching("wanda@example.com"),
    );
    world.sync().expect(2);
    assert_eq!(world.entry("7001").status, HireStatus::Failed);
    // … and meanwhile the offer is withdrawn: she is moved out of Hired in Pinpoint.
    world.sim.set_stage("7001", hirebridge::sim::Stage::Offer);
    world.sim.reset_counters();
    world.sync().expect(0);
    let entry = world.entry("7001");
    assert_eq!(entry.status, HireStatus::Withdrawn);
    assert!(
        entry
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("before it was done"),
        "{entry:?}"
    );
    assert_eq!(world.sim.write_calls(), 0, "no further write");
    assert_eq!(world.employees_with_email("wanda@example.com"), 0);
    assert!(world.sim.comments("7001").is_empty());
    // Settled: status and later passes are calm, and cost only the listing.
    world.hirebridge(&["status"]).expect(0);
    world.sim.reset_counters();
    world.sync().expect(0);
    assert_eq!(world.sim.count(Endpoint::GetApplication), 0);
    assert_eq!(world.sim.write_calls(), 0);
    assert_eq!(world.row("7001")["status"], "withdrawn");
    // Moved back into Hired: she is open again and done.
    world.sim.set_stage("7001", hirebridge::sim::Stage::Hired);
    world.sync().expect(0);
    assert!(world.is_done("7001"));
    world.assert_exactly_once();
}

#[test]
fn a_withdrawn_hire_with_a_create_of_unknown_outcome_is_looked_up_and_reported_never_deleted() {
    let world = World::new(two_hires());
    world.sim.inject(
        hirebridge::sim::FaultRule::new(
            Endpoint::CreatePerson,
            hirebridge::sim::Fault::CommitThenStatus(502),
        )
        .matching("wanda@example.com"),
    );
    world.sync().expect(2);
    assert_eq!(
        world.entry("7001").employee.state(),
        hirebridge::ledger::StepState::InFlight
    );
    world
        .sim
        .set_stage("7001", hirebridge::sim::Stage::Rejected);
    world.sync().expect(0);
    let entry = world.entry("7001");
    let employee = world.sim.employee_by_email("wanda@example.com").unwrap();
    assert_eq!(entry.status, HireStatus::Withdrawn);
    assert_eq!(entry.hibob_employee_id(), Some(employee.id.as_str()));
    let reason = entry.last_error.unwrap_or_default();
    assert!(
        reason.contains(&employee.id) && reason.contains("not deleted"),
        "{reason}"
    );
    assert_eq!(
        world.employees_with_email("wanda@example.com"),
        1,
        "never deleted"
    );
    assert_eq!(
        world.sim.count(Endpoint::CreatePerson),
        2,
        "Wanda's once, Ursula's once"
    );
    assert!(
        world.sim.comments("7001").is_empty(),
        "no comment for a withdrawn hire"
    );
}

#[test]
fn a_done_hire_that_leaves_the_hired_stage_is_flagged_for_hr_and_never_deleted() {
    let world = World::new(two_hires());
    world.sync().expect(0);
    assert!(world.is_done("7002"));
    world.sim.set_stage("7002", hirebridge::sim::Stage::Offer);
    a_day_passes(&world);
    world.sim.reset_counters();
    let run = world.sync().expect(0);
    assert!(
        run.stdout().contains("left the Hired stage"),
        "{}",
        run.all()
    );
    let entry = world.entry("7002");
    assert_eq!(entry.status, HireStatus::Done, "still done");
    assert!(entry.unhired_at.is_some());
    assert_eq!(
        world.sim.write_calls(),
        0,
        "nothing deleted, nothing written"
    );
    assert_eq!(world.employees_with_email("ursula@example.com"), 1);
    let row = world.row("7002");
    assert!(row["unhired_at"].is_string(), "{row}");
    let status = world.hirebridge(&["status"]).expect(0).stdout();
    assert!(status.contains("unhired"), "{status}");
    assert!(status.contains("7002 <ursula@example.com>"), "{status}");
    let view = json(&world.hirebridge(&["status", "--format", "json"]).expect(0));
    assert_eq!(view["unhired"][0]["application_id"], "7002", "{view:#}");
    // The hire still listed (7001) is never read on its own.
    assert_eq!(world.sim.count(Endpoint::GetApplication), 1);

    // Moved back into Hired: no longer flagged.
    world.sim.set_stage("7002", hirebridge::sim::Stage::Hired);
    world.sync().expect(0);
    assert_eq!(world.entry("7002").unhired_at, None);
    assert!(world.events("7002").iter().any(|e| e.outcome == "rehired"));
}

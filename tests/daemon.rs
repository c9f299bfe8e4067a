//! The daemon and the process around it: scheduling, shutdown, the single-writer lock, and
//! recovery after the process dies mid-step.

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::{Settings, World, wait_for};
use hirebridge::ledger::{EmployeeOrigin, HireStatus, StepState};
use hirebridge::sim::{Endpoint, Fault, FaultRule, Scenario, SimApplication, Visibility};

fn world() -> World {
    World::new(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(SimApplication::hired(
                "1001",
                "Ada",
                "Lovelace",
                "ada@example.com",
                "1",
            )),
    )
}

fn spawn_daemon(world: &World) -> Child {
    world
        .command(&["run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon starts")
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the child to exit, killing it (and failing) after `timeout`.
fn exit_code_within(child: &mut Child, timeout: Duration) -> i32 {
    if wait_for(timeout, || child.try_wait().unwrap().is_some()) {
        return child.wait().unwrap().code().unwrap_or(-1);
    }
    child.kill().unwrap();
    panic!("the daemon did not exit within {timeout:?}");
}

fn is_done(world: &World, id: &str) -> bool {
    world.ledger_path.exists()
        && world
            .ledger()
            .entry(id)
            .ok()
            .flatten()
            .is_some_and(|e| e.status == HireStatus::Done)
}

#[test]
fn the_daemon_reconciles_on_its_schedule_and_exits_0_on_sigterm() {
    let world = world();
    let mut daemon = spawn_daemon(&world);
    assert!(
        wait_for(Duration::from_secs(10), || is_done(&world, "1001")),
        "first pass at startup"
    );
    // A hire that appears later is picked up by a scheduled pass (every = 1s).
    world.sim.add_application(SimApplication::hired(
        "1002",
        "Grace",
        "Hopper",
        "grace@example.com",
        "1",
    ));
    assert!(
        wait_for(Duration::from_secs(10), || is_done(&world, "1002")),
        "scheduled pass"
    );
    signal(&daemon, "TERM");
    assert_eq!(exit_code_within(&mut daemon, Duration::from_secs(10)), 0);
    world.assert_exactly_once();
}

#[test]
fn sigterm_during_a_slow_call_finishes_and_records_the_step_then_exits_0() {
    let world = world();
    world.sim.inject(FaultRule::new(
        Endpoint::CreatePerson,
        Fault::Delay(Duration::from_millis(1500)),
    ));
    let mut daemon = spawn_daemon(&world);
    assert!(wait_for(Duration::from_secs(10), || world
        .sim
        .count(Endpoint::CreatePerson)
        == 1));
    signal(&daemon, "TERM");
    assert_eq!(exit_code_within(&mut daemon, Duration::from_secs(10)), 0);
    let entry = world.entry("1001");
    assert_eq!(
        entry.employee,
        StepState::Done,
        "the create's result was recorded"
    );
    assert_eq!(world.sim.employees().len(), 1);
    assert_eq!(
        world.sim.count(Endpoint::UploadDocument),
        0,
        "no new step after the stop request"
    );
    // The next run finishes the hire without creating anything again.
    world.sync().expect(0);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    world.assert_exactly_once();
}

#[test]
fn a_second_process_on_the_same_ledger_is_refused_with_the_holders_pid() {
    let world = world();
    let mut daemon = spawn_daemon(&world);
    assert!(wait_for(Duration::from_secs(10), || is_done(
        &world, "1001"
    )));
    let run = world.sync().expect(1);
    let expected = format!("in use by another hirebridge (pid {})", daemon.id());
    assert!(run.stderr().contains(&expected), "{}", run.all());
    // Reading is not writing: reports work beside the daemon.
    world.hirebridge(&["report"]).expect(0);
    signal(&daemon, "TERM");
    assert_eq!(exit_code_within(&mut daemon, Duration::from_secs(10)), 0);
}

/// Starts `sync` with `fault` on the create, kills it (SIGKILL, as `kill -9`) once the create
/// has reached HiBob, and returns the world for the restart.
fn killed_during_create(fault: Fault) -> World {
    let world = World::with(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(SimApplication::hired(
                "1001",
                "Ada",
                "Lovelace",
                "ada@example.com",
                "1",
            ))
            .with_read_lag(Duration::from_millis(1500)),
        Settings {
            read_lag: "1500ms",
            ..Settings::default()
        },
    );
    world
        .sim
        .inject(FaultRule::new(Endpoint::CreatePerson, fault));
    let mut child = world
        .command(&["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(10), || world
        .sim
        .count(Endpoint::CreatePerson)
        == 1));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        world.entry("1001").employee,
        StepState::InFlight,
        "intent recorded before the call"
    );
    world
}

/// Restarted at once: the employee may exist but be invisible (read lag), so nothing is
/// created; the wait is recorded.
fn restart_defers_within_the_read_lag(world: &World) {
    world.sync().expect(2);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    let last = world.events("1001").pop().unwrap();
    assert_eq!(
        (last.step.as_str(), last.outcome.as_str()),
        ("employee", "deferred")
    );
    std::thread::sleep(Duration::from_millis(1800));
}

#[test]
fn killed_after_hibob_committed_the_create_the_employee_is_adopted_not_created_again() {
    let world = killed_during_create(Fault::CommitThenDelay(Duration::from_secs(5)));
    assert_eq!(
        world.employees_with_email("ada@example.com"),
        1,
        "HiBob committed"
    );
    restart_defers_within_the_read_lag(&world);
    world.sync().expect(0);
    assert_eq!(
        world.sim.count(Endpoint::CreatePerson),
        1,
        "never created again"
    );
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    let entry = world.entry("1001");
    assert_eq!(entry.employee_origin, Some(EmployeeOrigin::Adopted));
    world.assert_exactly_once();
}

#[test]
fn killed_before_hibob_committed_the_create_it_is_created_once_after_the_read_lag() {
    let world = killed_during_create(Fault::Delay(Duration::from_secs(5)));
    restart_defers_within_the_read_lag(&world);
    world.sync().expect(0);
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    assert_eq!(
        world.entry("1001").employee_origin,
        Some(EmployeeOrigin::Created)
    );
    world.assert_exactly_once();
}

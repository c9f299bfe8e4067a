//! The daemon and the process around it: scheduling, shutdown, config reload on SIGHUP, the
//! single-writer lock, and recovery after the process dies mid-step.

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::{
    EVENTUALLY, NotifySocket, Settings, World, exit_code_within, has_line, one_hire_world, signal,
    status_of, wait_for,
};
use hirebridge::ledger::{EmployeeOrigin, StepState};
use hirebridge::sim::{Endpoint, Fault, FaultRule, SimApplication};

#[test]
fn the_daemon_reconciles_on_its_schedule_and_exits_0_on_sigterm() {
    let world = one_hire_world();
    let mut daemon = world.spawn_daemon();
    assert!(
        wait_for(EVENTUALLY, || world.is_done("1001")),
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
        wait_for(EVENTUALLY, || world.is_done("1002")),
        "scheduled pass"
    );
    signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);
    world.assert_exactly_once();
}

#[test]
fn sigterm_during_a_slow_call_finishes_and_records_the_step_then_exits_0() {
    let mut world = one_hire_world();
    let notify = NotifySocket::bind();
    notify.attach(&mut world, None);
    world.sim.inject(FaultRule::new(
        Endpoint::CreatePerson,
        // Long enough that the SIGTERM surely arrives while the call is out.
        Fault::Delay(Duration::from_secs(6)),
    ));
    let mut daemon = world.spawn_daemon();
    assert!(wait_for(EVENTUALLY, || world
        .sim
        .count(Endpoint::CreatePerson)
        == 1));
    signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);
    // The service manager hears the interrupted pass's summary, then that the service stops.
    let messages = notify.messages();
    let [.., last_pass, stopping] = messages.as_slice() else {
        panic!("too few notifications: {messages:#?}");
    };
    assert!(
        status_of(last_pass).is_some_and(|s| s.contains("stopped early for shutdown")),
        "{messages:#?}"
    );
    assert!(has_line(stopping, "STOPPING=1"), "{messages:#?}");
    let entry = world.entry("1001");
    assert_eq!(
        entry.employee.state(),
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
    let world = one_hire_world();
    let mut daemon = world.spawn_daemon();
    assert!(wait_for(EVENTUALLY, || world.is_done("1001")));
    let run = world.sync().expect(1);
    let expected = format!("in use by another hirebridge (pid {})", daemon.id());
    assert!(run.stderr().contains(&expected), "{}", run.all());
    // Reading is not writing: reports work beside the daemon.
    world.hirebridge(&["report"]).expect(0);
    signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);
}

/// Starts `sync` with `fault` on the create, kills it (SIGKILL, as `kill -9`) once the create
/// has reached HiBob, and returns the world for the restart.
fn killed_during_create(fault: Fault) -> World {
    // A read lag long enough that the restart surely comes within it, however loaded the
    // machine: the restart's deferral is what the tests assert.
    let world = World::with(
        common::one_hire().with_read_lag(Duration::from_secs(10)),
        Settings {
            read_lag: "10s",
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
    assert!(wait_for(EVENTUALLY, || world
        .sim
        .count(Endpoint::CreatePerson)
        == 1));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        world.entry("1001").employee.state(),
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
}

/// HiBob's lag ends (the employee, if committed, is visible from now on); then runs `sync`
/// until hirebridge's own read-lag window is over and the hire is done: every run before that
/// defers (exit 2) and creates nothing.
fn sync_after_the_read_lag(world: &World) {
    world.sim.set_hibob_read_lag(Duration::ZERO);
    let mut runs = 0;
    loop {
        let run = world.sync();
        match run.code() {
            0 => return,
            2 => assert_eq!(
                world.sim.count(Endpoint::CreatePerson),
                1,
                "nothing created within the lag"
            ),
            _ => panic!("{}", run.all()),
        }
        runs += 1;
        assert!(runs < 120, "still not done after the read lag");
        std::thread::sleep(Duration::from_millis(500));
    }
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
    sync_after_the_read_lag(&world);
    assert_eq!(
        world.sim.count(Endpoint::CreatePerson),
        1,
        "never created again"
    );
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    let entry = world.entry("1001");
    assert_eq!(entry.employee_origin(), Some(EmployeeOrigin::Adopted));
    world.assert_exactly_once();
}

#[test]
fn killed_before_hibob_committed_the_create_it_is_created_once_after_the_read_lag() {
    let world = killed_during_create(Fault::Delay(Duration::from_secs(5)));
    restart_defers_within_the_read_lag(&world);
    sync_after_the_read_lag(&world);
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    assert_eq!(
        world.entry("1001").employee_origin(),
        Some(EmployeeOrigin::Created)
    );
    world.assert_exactly_once();
}

/// A world whose daemon reports to a notify socket, running until its first pass is done.
fn running_daemon() -> (World, NotifySocket, Child) {
    let mut world = one_hire_world();
    let notify = NotifySocket::bind();
    notify.attach(&mut world, None);
    let daemon = world.spawn_daemon();
    assert!(wait_for(EVENTUALLY, || world.is_done("1001")));
    (world, notify, daemon)
}

/// Sends SIGHUP and waits until the daemon is ready again; returns the STATUS it then reports.
fn reload(notify: &NotifySocket, daemon: &Child) -> String {
    let readies = || {
        notify
            .messages()
            .iter()
            .filter(|m| has_line(m, "READY=1"))
            .count()
    };
    let before = readies();
    signal("HUP", daemon);
    assert!(
        wait_for(EVENTUALLY, || readies() > before),
        "ready again after the reload: {:#?}",
        notify.messages()
    );
    let messages = notify.messages();
    let reloading = messages.iter().rposition(|m| has_line(m, "RELOADING=1"));
    let ready = messages.iter().rposition(|m| has_line(m, "READY=1"));
    assert!(reloading < ready, "RELOADING=1 then READY=1: {messages:#?}");
    status_of(&messages[ready.unwrap()]).unwrap().to_owned()
}

fn add_grace(world: &World) {
    world.sim.add_application(SimApplication::hired(
        "1002",
        "Grace",
        "Hopper",
        "grace@example.com",
        "1",
    ));
}

fn edit_config(world: &World, from: &str, to: &str) {
    let text = std::fs::read_to_string(&world.config_path).unwrap();
    assert!(text.contains(from), "the config has {from}");
    std::fs::write(&world.config_path, text.replace(from, to)).unwrap();
}

#[test]
fn sighup_rereads_the_config_and_the_next_pass_uses_it() {
    let (world, notify, mut daemon) = running_daemon();
    edit_config(&world, r#"site = "New York (Demo)""#, r#"site = "London""#);
    let status = reload(&notify, &daemon);
    assert!(status.starts_with("configuration reloaded"), "{status}");
    add_grace(&world);
    assert!(wait_for(EVENTUALLY, || world.is_done("1002")));
    let site = |email: &str| world.sim.employee_by_email(email).unwrap().site;
    assert_eq!(site("ada@example.com"), "New York (Demo)");
    assert_eq!(
        site("grace@example.com"),
        "London",
        "the new config applies"
    );
    signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);
    world.assert_exactly_once();
}

#[test]
fn sighup_with_an_invalid_config_keeps_the_daemon_running_on_the_previous_one() {
    let (world, notify, mut daemon) = running_daemon();
    edit_config(&world, "page_size = 100", "page_size = 0");
    edit_config(&world, r#"site = "New York (Demo)""#, r#"site = "London""#);
    let status = reload(&notify, &daemon);
    assert!(
        status.starts_with("configuration reload refused"),
        "{status}"
    );
    add_grace(&world);
    assert!(wait_for(EVENTUALLY, || world.is_done("1002")));
    assert!(daemon.try_wait().unwrap().is_none(), "still running");
    assert_eq!(
        world
            .sim
            .employee_by_email("grace@example.com")
            .unwrap()
            .site,
        "New York (Demo)",
        "nothing of the refused file applies"
    );
    signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);
}

#[test]
fn sighup_refuses_to_move_the_ledger_of_a_running_daemon() {
    let (world, notify, mut daemon) = running_daemon();
    let elsewhere = world.dir.path().join("elsewhere.sqlite3");
    edit_config(
        &world,
        &format!("path = \"{}\"", world.ledger_path.display()),
        &format!("path = \"{}\"", elsewhere.display()),
    );
    let status = reload(&notify, &daemon);
    assert!(
        status.starts_with("configuration reload refused"),
        "{status}"
    );
    add_grace(&world);
    assert!(
        wait_for(EVENTUALLY, || world.is_done("1002")),
        "the next pass still writes the ledger it opened"
    );
    assert!(!elsewhere.exists(), "no second ledger");
    signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);
}

#[test]
fn a_refused_credential_is_not_retried_on_every_tick() {
    let mut world = one_hire_world();
    world.set_env("HIBOB_SERVICE_USER_TOKEN", "revoked");
    let mut daemon = world.spawn_daemon();
    assert!(wait_for(EVENTUALLY, || world
        .sim
        .count(Endpoint::SearchPeople)
        == 1));
    let listed = world.sim.count(Endpoint::ListApplications);
    // Several scheduled ticks (every = 1s) pass: none of them calls HiBob, or Pinpoint, again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(world.sim.count(Endpoint::SearchPeople), 1);
    assert_eq!(world.sim.count(Endpoint::ListApplications), listed);
    signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);
}

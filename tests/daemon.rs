//! The daemon and the process around it: scheduling, shutdown, config reload on SIGHUP, the
//! single-writer lock, and recovery after the process dies mid-step.

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::{NotifySocket, Settings, World, has_line, status_of, wait_for};
use hirebridge::ledger::{HireStatus, StepState};
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
    let mut world = world();
    let notify = NotifySocket::bind();
    notify.attach(&mut world, None);
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

#[test]
fn a_crash_during_a_create_waits_out_the_read_lag_and_ends_with_one_employee() {
    let lag = Duration::from_millis(1500);
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
            .with_read_lag(lag),
        Settings {
            read_lag: "1500ms",
            ..Settings::default()
        },
    );
    // HiBob commits the employee, then the process dies before hearing back (kill -9).
    world.sim.inject(FaultRule::new(
        Endpoint::CreatePerson,
        Fault::Delay(Duration::from_millis(600)),
    ));
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

    let entry = world.entry("1001");
    assert_eq!(
        entry.employee,
        StepState::InFlight,
        "intent recorded before the call"
    );
    // Restarted at once: the employee may exist but be invisible, so nothing is created.
    world.sync().expect(2);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    let last = world.events("1001").pop().unwrap();
    assert_eq!(
        (last.step.as_str(), last.outcome.as_str()),
        ("employee", "deferred")
    );

    std::thread::sleep(lag + Duration::from_millis(300));
    world.sync().expect(0);
    assert_eq!(world.employees_with_email("ada@example.com"), 1);
    world.assert_exactly_once();
}

/// A world whose daemon reports to a notify socket, running until its first pass is done.
fn running_daemon() -> (World, NotifySocket, Child) {
    let mut world = world();
    let notify = NotifySocket::bind();
    notify.attach(&mut world, None);
    let daemon = spawn_daemon(&world);
    assert!(wait_for(Duration::from_secs(10), || is_done(
        &world, "1001"
    )));
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
    signal(daemon, "HUP");
    assert!(
        wait_for(Duration::from_secs(10), || readies() > before),
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
    assert!(wait_for(Duration::from_secs(10), || is_done(
        &world, "1002"
    )));
    let site = |email: &str| world.sim.employee_by_email(email).unwrap().site;
    assert_eq!(site("ada@example.com"), "New York (Demo)");
    assert_eq!(
        site("grace@example.com"),
        "London",
        "the new config applies"
    );
    signal(&daemon, "TERM");
    assert_eq!(exit_code_within(&mut daemon, Duration::from_secs(10)), 0);
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
    assert!(wait_for(Duration::from_secs(10), || is_done(
        &world, "1002"
    )));
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
    signal(&daemon, "TERM");
    assert_eq!(exit_code_within(&mut daemon, Duration::from_secs(10)), 0);
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
        wait_for(Duration::from_secs(10), || is_done(&world, "1002")),
        "the next pass still writes the ledger it opened"
    );
    assert!(!elsewhere.exists(), "no second ledger");
    signal(&daemon, "TERM");
    assert_eq!(exit_code_within(&mut daemon, Duration::from_secs(10)), 0);
}

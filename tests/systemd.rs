//! hirebridge as a systemd `Type=notify` service: what the service manager hears on
//! `NOTIFY_SOCKET` (a socket this test owns) and when — readiness, each pass's summary,
//! watchdog pings from the scheduling loop itself, and the stop.

mod common;

use std::time::{Duration, Instant};

use common::{
    EVENTUALLY, NotifySocket, exit_code_within, has_line, one_hire_world, signal, status_of,
    wait_for,
};
use hirebridge::sim::{Endpoint, Fault, FaultRule, SimApplication};

fn watchdog_pings(notify: &NotifySocket) -> Vec<Instant> {
    notify
        .timed()
        .into_iter()
        .filter(|(_, m)| has_line(m, "WATCHDOG=1"))
        .map(|(at, _)| at)
        .collect()
}

#[test]
fn the_daemon_reports_ready_then_each_pass_summary_then_pings_the_watchdog_and_says_when_it_stops()
{
    let mut world = one_hire_world();
    let notify = NotifySocket::bind();
    notify.attach(&mut world, Some(Duration::from_millis(400)));
    let mut daemon = world.spawn_daemon();

    let first_summary = notify
        .wait_for(EVENTUALLY, |m| {
            status_of(m).is_some_and(|s| s.contains("1 completed this pass"))
        })
        .expect("a STATUS with the first pass's summary");
    assert!(world.is_done("1001"), "the summary follows the work");
    // Pings continue while the loop waits for the next tick (every 200 ms here).
    assert!(wait_for(EVENTUALLY, || notify
        .messages()
        .iter()
        .skip(first_summary)
        .filter(|m| has_line(m, "WATCHDOG=1"))
        .count()
        >= 3));
    signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);

    let messages = notify.messages();
    let starting = messages
        .iter()
        .position(|m| status_of(m).is_some_and(|s| s.starts_with("starting")))
        .expect("a STATUS while starting");
    let ready = notify.position("READY=1").expect("READY=1");
    let first_ping = notify.position("WATCHDOG=1").expect("WATCHDOG=1");
    assert!(
        starting < ready && ready < first_summary && ready < first_ping,
        "starting, then ready, then the pass and pings: {messages:#?}"
    );
    assert_eq!(
        messages.iter().filter(|m| has_line(m, "READY=1")).count(),
        1,
        "ready once: {messages:#?}"
    );
    assert!(
        messages.last().is_some_and(|m| has_line(m, "STOPPING=1")),
        "the last word is STOPPING=1: {messages:#?}"
    );
}

#[test]
fn a_pass_stuck_in_a_slow_hibob_call_starves_the_watchdog_until_the_call_returns() {
    let mut world = one_hire_world();
    let notify = NotifySocket::bind();
    // The daemon pings every 100 ms while its loop is alive.
    notify.attach(&mut world, Some(Duration::from_millis(200)));
    let mut daemon = world.spawn_daemon();
    assert!(wait_for(EVENTUALLY, || world.is_done("1001")));
    let before = watchdog_pings(&notify).len();
    assert!(
        wait_for(EVENTUALLY, || watchdog_pings(&notify).len() >= before + 3),
        "pings while idle"
    );

    // The next scheduled pass finds a new hire and hangs in HiBob's create for 6 s.
    let stall = Duration::from_secs(6);
    world
        .sim
        .inject(FaultRule::new(Endpoint::CreatePerson, Fault::Delay(stall)));
    world.sim.add_application(SimApplication::hired(
        "1002",
        "Grace",
        "Hopper",
        "grace@example.com",
        "1",
    ));
    // Watch the call from the simulator's side: in flight (no status yet), then answered.
    let in_flight = || world.sim.count_status(Endpoint::CreatePerson, 0) == 1;
    assert!(
        wait_for(EVENTUALLY, || {
            std::thread::sleep(Duration::from_millis(1));
            in_flight()
        }),
        "the create call starts"
    );
    let call_started = Instant::now();
    while in_flight() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let call_answered = Instant::now();
    assert!(wait_for(EVENTUALLY, || world.is_done("1002")));
    let after = watchdog_pings(&notify);
    assert!(
        wait_for(EVENTUALLY, || watchdog_pings(&notify).len()
            >= after.len() + 3),
        "pings resume once the call returns"
    );

    // Margins absorb delivery delays at either edge (a second each, for a loaded machine);
    // the middle of the stall must be silent.
    let quiet_from = call_started + Duration::from_secs(1);
    let quiet_until = call_answered - Duration::from_secs(1);
    assert!(
        quiet_until > quiet_from + Duration::from_secs(2),
        "the stall was long enough to judge"
    );
    let during: Vec<_> = watchdog_pings(&notify)
        .into_iter()
        .filter(|at| *at > quiet_from && *at < quiet_until)
        .collect();
    assert!(
        during.is_empty(),
        "{} WATCHDOG=1 while the loop was blocked in a call",
        during.len()
    );
    assert!(
        watchdog_pings(&notify).iter().any(|at| *at > call_answered),
        "pings after the call"
    );

    signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);
    world.assert_exactly_once();
}

#[test]
fn without_a_watchdog_the_daemon_still_reports_ready_and_status_but_never_pings() {
    let mut world = one_hire_world();
    let notify = NotifySocket::bind();
    notify.attach(&mut world, None);
    let mut daemon = world.spawn_daemon();
    assert!(
        notify
            .wait_for(EVENTUALLY, |m| {
                status_of(m).is_some_and(|s| s.contains("1 completed this pass"))
            })
            .is_some()
    );
    // Long enough for a few scheduled passes (every 1 s).
    std::thread::sleep(Duration::from_millis(1500));
    signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);
    assert!(notify.position("READY=1").is_some());
    assert_eq!(notify.position("WATCHDOG=1"), None);
}

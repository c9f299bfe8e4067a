//! The listener survives hostile peers: slow and idle connections are dropped on their
//! deadlines, only so many are open at once, and however the port is flooded the poll goes on
//! and the monitoring address keeps answering.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::time::{Duration, Instant};

use common::{
    EVENTUALLY, Settings, World, answers_as_hirebridge, free_local_addr, hired_event, http,
    wait_for,
};
use hirebridge::sim::{Scenario, Visibility};

const SECRET: &str = "flood-test-secret";
/// The daemon's file-descriptor limit in this test: fewer than the connections thrown at it.
const FD_LIMIT: u64 = 256;
const FLOOD: usize = 400;

use common::new_hire;

/// A daemon a failed test must not leave running.
struct StopOnDrop(std::process::Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// One flooding connection, and how it misbehaves.
struct Peer {
    stream: TcpStream,
    kind: &'static str,
}

fn flood(addr: SocketAddr) -> Vec<Peer> {
    let mut peers = Vec::new();
    for i in 0..FLOOD {
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
            continue;
        };
        let kind = match i % 4 {
            0 => {
                // Half a request line and one header, then nothing.
                let _ = stream.write_all(b"POST /webhooks/pinpoint HTTP/1.1\r\nHost: x\r\n");
                "half-sent head"
            }
            3 => {
                // One whole request, then the connection is kept alive and idle.
                let _ = stream.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
                "idle keep-alive"
            }
            1 => {
                // A whole head promising a body that never comes.
                let _ = stream.write_all(
                    b"POST /webhooks/pinpoint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"event\":",
                );
                "slow body"
            }
            _ => "silent",
        };
        peers.push(Peer { stream, kind });
    }
    peers
}

/// Whether the daemon has closed this connection (EOF, or a reset).
fn closed(peer: &mut Peer) -> bool {
    let _ = peer
        .stream
        .set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = [0u8; 512];
    loop {
        match peer.stream.read(&mut buf) {
            Ok(0) => return true,
            // An answer (e.g. 408) may come first; the close follows.
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn a_flood_of_slow_and_idle_connections_never_stops_the_poll_or_the_health_probe() {
    let listen = free_local_addr();
    let metrics = free_local_addr();
    let mut world = World::with(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(new_hire(1001)),
        Settings {
            every: "2s",
            webhook_listen: Some(listen),
            webhook_extra: format!(
                "header_timeout = \"10s\"\nbody_timeout = \"10s\"\nidle_timeout = \"15s\"\nmax_connections = 64\nmetrics_listen = \"{metrics}\""
            ),
            ..Settings::default()
        },
    );
    world.set_env("PINPOINT_WEBHOOK_SECRET", SECRET);
    let mut command = world.command(&["run"]);
    // SAFETY: setrlimit only; async-signal-safe, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: FD_LIMIT,
                rlim_max: FD_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut daemon = StopOnDrop(
        command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for(EVENTUALLY, || common::has_polled(metrics)),
        "the daemon runs"
    );
    assert!(world.is_done("1001"));
    // The webhook port does not publish the daemon's internals when they have their own port.
    let on_webhook_port = http(listen, "GET", "/metrics", &[], b"").unwrap();
    assert_eq!(on_webhook_port.status, 404, "{on_webhook_port:?}");

    let started = Instant::now();
    let mut peers = flood(listen);
    assert!(
        peers.len() > FD_LIMIT as usize,
        "the flood outnumbers the daemon's descriptors"
    );

    // Meanwhile (the flood holds the whole budget for 10–15 s): new hires are done by the poll,
    // and the health probe answers on its address.
    for id in [1002, 1003] {
        world.sim.add_application(new_hire(id));
    }
    assert!(
        wait_for(EVENTUALLY, || world.is_done("1002")
            && world.is_done("1003")),
        "the poll goes on"
    );
    assert!(
        answers_as_hirebridge(metrics),
        "/healthz answers on the metrics address"
    );

    let mut open: Vec<&mut Peer> = peers.iter_mut().collect();
    open.retain_mut(|p| !closed(p));
    assert!(
        !open.is_empty() || started.elapsed() >= Duration::from_secs(10),
        "the hires were done while the flood held the port"
    );

    // Every flooding connection is closed: the over-budget ones at once, the others on their
    // deadlines, never left open.
    assert!(
        wait_for(EVENTUALLY, || {
            open.retain_mut(|p| !closed(p));
            open.is_empty()
        }),
        "{} connections still open after {:?}: {:?}",
        open.len(),
        started.elapsed(),
        open.iter().map(|p| p.kind).collect::<Vec<_>>()
    );
    drop(peers);

    // Once the flood has drained, a genuine signed nudge still lands.
    world.sim.add_application(new_hire(1004));
    let body = hired_event(1004);
    let signature = hirebridge::webhook::sign(SECRET, &body);
    let answer = http(
        listen,
        "POST",
        "/webhooks/pinpoint",
        &[
            ("Content-Type", "application/json"),
            ("PINPOINT-HMAC-SHA256", &signature),
        ],
        &body,
    )
    .unwrap();
    assert_eq!(answer.status, 202, "{answer:?}");
    assert!(wait_for(EVENTUALLY, || world.is_done("1004")));

    let scrape = http(metrics, "GET", "/metrics", &[], b"").unwrap().body;
    let samples = common::parse_prometheus_text(&scrape).unwrap();
    let sample = |name: &str| samples.get(name).copied().unwrap_or(0.0);
    assert!(
        sample("hirebridge_listener_connections_total{listener=\"webhook\",event=\"refused\"}")
            > 0.0,
        "{scrape}"
    );
    assert!(
        sample("hirebridge_listener_connections_total{listener=\"webhook\",event=\"timed_out\"}")
            > 0.0,
        "{scrape}"
    );
    common::signal("TERM", &daemon.0);
    assert_eq!(common::exit_code_within(&mut daemon.0, EVENTUALLY), 0);
    world.assert_exactly_once();
}

#[test]
fn a_real_delivery_is_never_slowed_by_the_deadlines() {
    // Pinpoint's deliveries are small and fast: with the tightest sane timeouts they still land,
    // and a kept-alive connection serves several.
    let daemon = common::Listening::start(
        Scenario::empty().with_job("1", "Engineer", Visibility::External),
        Settings {
            every: "1h",
            webhook_extra: "header_timeout = \"1s\"\nbody_timeout = \"1s\"\nidle_timeout = \"1s\""
                .into(),
            ..Settings::default()
        },
        Some(SECRET),
    );
    for id in [2001u64, 2002, 2003] {
        daemon.world.sim.add_application(new_hire(id));
        assert_eq!(daemon.deliver(&hired_event(id)).status, 202);
    }
    for id in ["2001", "2002", "2003"] {
        assert!(wait_for(EVENTUALLY, || daemon.world.is_done(id)), "{id}");
    }
}

#[test]
fn a_peer_sending_bad_signatures_is_answered_cheaply_and_every_refusal_is_counted() {
    let daemon = common::Listening::start(
        Scenario::empty().with_job("1", "Engineer", Visibility::External),
        Settings {
            every: "1h",
            ..Settings::default()
        },
        Some(SECRET),
    );
    // The first pass's calls are not the refused deliveries': counted only after it.
    assert!(wait_for(EVENTUALLY, || common::has_polled(daemon.addr)));
    daemon.world.sim.reset_counters();
    let body = hired_event(4242);
    for _ in 0..200 {
        let answer = daemon.post(
            &[
                ("Content-Type", "application/json"),
                ("PINPOINT-HMAC-SHA256", "bm90IGEgc2lnbmF0dXJl"),
            ],
            &body,
        );
        assert_eq!(answer.status, 401);
    }
    assert_eq!(
        daemon.metric("hirebridge_webhook_requests_total{result=\"unauthorized\"}"),
        200.0
    );
    assert!(
        daemon.world.sim.calls().is_empty(),
        "no API call for a refused delivery"
    );
}

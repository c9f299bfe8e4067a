//! The systemd service protocol (`sd_notify`): readiness, status lines, watchdog pings and
//! the stopping/reloading states, sent as datagrams to `$NOTIFY_SOCKET`.
//!
//! Owns the socket and the watchdog's pace (half of `$WATCHDOG_USEC`, and only when
//! `$WATCHDOG_PID` is unset or names this process). It decides nothing about *when* the daemon
//! is alive: the scheduling loop calls [`Notifier::watchdog`] itself, so a stalled loop starves
//! the watchdog, which is the point. Without `$NOTIFY_SOCKET` every call does nothing.
//! Sending is best effort: a lost notification must never stop the daemon's work.
//!
//! The assignments (`READY=1`, `STATUS=…`) are the `sd-notify` crate's [`NotifyState`]s. The
//! datagram is sent here, not by `sd_notify::notify`: that function reads `$NOTIFY_SOCKET`
//! from the process environment at every call (so [`Notifier::from_vars`] could not point it
//! anywhere else), cannot reach a socket in the abstract namespace (`@name`, which systemd
//! may hand out), and ends every assignment with a newline (these datagrams have none after
//! the last line). `sd_notify::watchdog_enabled` also reads the environment itself, so the
//! watchdog variables are read here too.

use std::collections::HashMap;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// A connection to the service manager, or nothing when not run under one.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    /// How often to ping: half of the manager's `WATCHDOG_USEC`, or `None` when not asked.
    ping_every: Option<Duration>,
    last_ping: Mutex<Option<Instant>>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the process environment.
    pub fn from_env() -> Self {
        let vars: HashMap<String, String> = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]
            .into_iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_owned(), v)))
            .collect();
        Self::from_vars(&vars, std::process::id())
    }

    /// As [`Notifier::from_env`], from given variables, for process `pid`.
    pub fn from_vars(vars: &HashMap<String, String>, pid: u32) -> Self {
        let target = vars
            .get("NOTIFY_SOCKET")
            .filter(|s| !s.is_empty())
            .and_then(|s| match connect(s) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(socket = %s, error = %e, "cannot use NOTIFY_SOCKET; the service manager will not hear from hirebridge");
                    None
                }
            });
        let for_us = vars
            .get("WATCHDOG_PID")
            .is_none_or(|p| p.trim().parse::<u32>() == Ok(pid));
        let ping_every = vars
            .get("WATCHDOG_USEC")
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|&usec| usec > 0 && for_us && target.is_some())
            .map(|usec| Duration::from_micros(usec) / 2);
        Self {
            target,
            ping_every,
            last_ping: Mutex::new(None),
        }
    }

    /// A notifier that sends nothing (no service manager).
    pub fn disabled() -> Self {
        Self {
            target: None,
            ping_every: None,
            last_ping: Mutex::new(None),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// How often the scheduling loop should ping, if the manager runs a watchdog.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.ping_every
    }

    /// Sends `state` (newline-separated `KEY=VALUE` assignments) as one datagram.
    pub fn notify(&self, state: &str) {
        let Some((socket, addr)) = &self.target else {
            return;
        };
        if let Err(e) = socket.send_to_addr(state.as_bytes(), addr) {
            tracing::debug!(error = %e, "a service notification was not delivered");
        }
    }

    /// Sends `states` as one datagram, one assignment a line.
    fn send(&self, states: &[NotifyState<'_>]) {
        if self.target.is_none() {
            return;
        }
        let lines: Vec<String> = states.iter().map(NotifyState::to_string).collect();
        self.notify(&lines.join("\n"));
    }

    /// The service is up: config valid, ledger open and migrated.
    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(&one_line(status))]);
    }

    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(&one_line(status))]);
    }

    pub fn reloading(&self) {
        self.send(&[
            NotifyState::Reloading,
            NotifyState::Status("reloading the configuration"),
        ]);
    }

    pub fn stopping(&self, status: &str) {
        self.send(&[
            NotifyState::Stopping,
            NotifyState::Status(&one_line(status)),
        ]);
    }

    /// Proof of life, sent now.
    pub fn watchdog(&self) {
        if self.ping_every.is_none() {
            return;
        }
        *self.last_ping.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.send(&[NotifyState::Watchdog]);
    }

    /// Proof of life, sent only if the last one is at least an interval old: for progress
    /// hooks that may fire many times a second.
    pub fn watchdog_if_due(&self) {
        let Some(every) = self.ping_every else {
            return;
        };
        let due = self
            .last_ping
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none_or(|last| last.elapsed() >= every);
        if due {
            self.watchdog();
        }
    }
}

/// The protocol is line-based: a status must not smuggle in other assignments.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// `/path/to/socket`, or `@name` for a socket in the abstract namespace.
fn connect(socket: &str) -> io::Result<(UnixDatagram, SocketAddr)> {
    let addr = match socket.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt as _;
            SocketAddr::from_abstract_name(name.as_bytes())?
        }
        None if socket.starts_with('/') => SocketAddr::from_pathname(socket)?,
        None => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not an absolute path or an @abstract name",
            ));
        }
    };
    Ok((UnixDatagram::unbound()?, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn receive(socket: &UnixDatagram) -> String {
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = socket.recv(&mut buf).expect("a notification arrives");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn nothing_pending(socket: &UnixDatagram) -> bool {
        socket.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4096];
        let empty = socket.recv(&mut buf).is_err();
        socket.set_nonblocking(false).unwrap();
        empty
    }

    #[test]
    fn without_notify_socket_nothing_is_sent_and_no_watchdog_runs() {
        let n = Notifier::from_vars(&vars(&[("WATCHDOG_USEC", "1000000")]), 1);
        assert!(!n.is_enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.ready("x");
        n.watchdog();
    }

    #[test]
    fn messages_reach_a_socket_path_and_a_status_stays_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::from_vars(&vars(&[("NOTIFY_SOCKET", path.to_str().unwrap())]), 1);
        n.ready("first pass\nWATCHDOG=1");
        assert_eq!(receive(&listener), "READY=1\nSTATUS=first pass WATCHDOG=1");
        n.stopping("bye");
        assert_eq!(receive(&listener), "STOPPING=1\nSTATUS=bye");
    }

    #[test]
    fn each_state_is_one_datagram_of_lines_without_a_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::from_vars(&vars(&[("NOTIFY_SOCKET", path.to_str().unwrap())]), 1);
        n.status("pass 3\r\ndone");
        assert_eq!(receive(&listener), "STATUS=pass 3  done");
        n.reloading();
        assert_eq!(
            receive(&listener),
            "RELOADING=1\nSTATUS=reloading the configuration"
        );
    }

    #[test]
    fn an_abstract_socket_is_named_with_a_leading_at() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("hirebridge-test-{}", std::process::id());
        let listener =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        let n = Notifier::from_vars(&vars(&[("NOTIFY_SOCKET", &format!("@{name}"))]), 1);
        n.status("hello");
        assert_eq!(receive(&listener), "STATUS=hello");
    }

    #[test]
    fn the_watchdog_pings_at_half_the_managers_interval_and_only_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::from_vars(
            &vars(&[
                ("NOTIFY_SOCKET", path.to_str().unwrap()),
                ("WATCHDOG_USEC", "120000000"),
                ("WATCHDOG_PID", "42"),
            ]),
            42,
        );
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(60)));
        n.watchdog_if_due();
        assert_eq!(receive(&listener), "WATCHDOG=1");
        n.watchdog_if_due();
        assert!(
            nothing_pending(&listener),
            "a second ping within the interval"
        );
        n.watchdog();
        assert_eq!(receive(&listener), "WATCHDOG=1");
    }

    #[test]
    fn a_watchdog_meant_for_another_process_is_not_ours_to_feed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::from_vars(
            &vars(&[
                ("NOTIFY_SOCKET", path.to_str().unwrap()),
                ("WATCHDOG_USEC", "1000000"),
                ("WATCHDOG_PID", "41"),
            ]),
            42,
        );
        assert_eq!(n.watchdog_interval(), None);
        n.watchdog();
        assert!(nothing_pending(&listener));
    }
}

//! Shared setup for end-to-end tests: a simulator of both APIs on 127.0.0.1, a temporary
//! directory with a config file pointing at it, and the real `hirebridge` binary.
#![allow(dead_code)] // each test file uses a different part of this module

pub mod receiver;
pub mod smtp;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hirebridge::ledger::{EntryFilter, Ledger, LedgerEntry, LedgerEvent};
use hirebridge::sim::{self, Scenario, Sim, Stage};
use serde_json::Value;

pub const BINARY: &str = env!("CARGO_BIN_EXE_hirebridge");

/// Knobs a test may turn in the generated config file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub page_size: u32,
    /// hirebridge's idea of HiBob's read lag (`hibob.read_lag`).
    pub read_lag: &'static str,
    pub retry_initial: &'static str,
    pub retry_max: &'static str,
    /// `hibob.rate_limit`: the configured hint for each people endpoint.
    pub hibob_rate_limit: &'static str,
    /// Lines added to the `[http]` section.
    pub http: String,
    /// `hibob.site`.
    pub site: &'static str,
    /// More lines for the `[hibob]` section.
    pub hibob: String,
    /// `hibob.hire_flow = "pending"`, posting to the simulator's Hire API (whose header is in
    /// every world's environment).
    pub pending_flow: bool,
    /// `schedule.every`.
    pub every: &'static str,
    /// `schedule.full_every`: `0s` (every pass reads the whole listing) unless a test is
    /// about listings of what changed, so each pass sees every hire as before them.
    pub full_every: &'static str,
    /// `[webhook]`: the listener's address, when there is one.
    pub webhook_listen: Option<std::net::SocketAddr>,
    /// `webhook.allow_unsigned`.
    pub webhook_allow_unsigned: bool,
    /// More lines for the `[webhook]` section (timeouts, budget, metrics address).
    pub webhook_extra: String,
    /// `http.request_timeout`: generous by default, so a loaded machine's slow answer is
    /// never mistaken for a lost one.
    pub request_timeout: &'static str,
    /// Lines added to the `[sync]` section (which always sets `hired_since` far back, so the
    /// scenario's hires are never left out by the go-live cutoff unless a test says so).
    pub sync: String,
    /// Whole sections appended at the end.
    pub extra: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            page_size: 100,
            read_lag: "0s",
            // No backoff by default, so a test's next `sync` retries at once.
            retry_initial: "0s",
            retry_max: "0s",
            hibob_rate_limit: "1000/1s",
            http: String::new(),
            site: "New York (Demo)",
            hibob: String::new(),
            pending_flow: false,
            every: "1s",
            full_every: "0s",
            webhook_listen: None,
            webhook_allow_unsigned: false,
            webhook_extra: String::new(),
            request_timeout: "30s",
            sync: "hired_since = \"2000-01-01\"".into(),
            extra: String::new(),
        }
    }
}

/// A simulator, a config file, a ledger path — one isolated world per test.
pub struct World {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub ledger_path: PathBuf,
    pub env: Vec<(String, String)>,
}

impl World {
    pub fn new(scenario: Scenario) -> Self {
        Self::with(scenario, Settings::default())
    }

    pub fn with(scenario: Scenario, settings: Settings) -> Self {
        let sim = Sim::start(scenario).expect("simulator starts");
        let dir = tempfile::tempdir().unwrap();
        let ledger_path = dir.path().join("ledger.sqlite3");
        let config_path = dir.path().join("config.toml");
        let world = World {
            sim,
            dir,
            config_path,
            ledger_path,
            env: vec![
                ("PINPOINT_API_KEY".into(), sim::PINPOINT_API_KEY.into()),
                (
                    "HIBOB_SERVICE_USER_ID".into(),
                    sim::HIBOB_SERVICE_USER_ID.into(),
                ),
                (
                    "HIBOB_SERVICE_USER_TOKEN".into(),
                    sim::HIBOB_SERVICE_USER_TOKEN.into(),
                ),
                (
                    "HIBOB_HIRE_API_AUTHORIZATION".into(),
                    sim::HIBOB_HIRE_API_AUTHORIZATION.into(),
                ),
            ],
        };
        world.write_config(&settings);
        world
    }

    pub fn write_config(&self, s: &Settings) {
        let text = format!(
            r#"
[pinpoint]
base_url = "{pinpoint}"
rate_limit = "1000/1s"
page_size = {page_size}

[hibob]
base_url = "{hibob}"
rate_limit = "{hibob_rate_limit}"
documents_rate_limit = "1000/1s"
site = "{site}"
read_lag = "{read_lag}"
{hibob_extra}

[ledger]
path = "{ledger}"

[schedule]
every = "{every}"
full_every = "{full_every}"

[http]
request_timeout = "{request_timeout}"
{http}

[retry]
initial = "{retry_initial}"
max = "{retry_max}"

[sync]
{sync}
{webhook}
{extra}
"#,
            pinpoint = self.sim.pinpoint_base_url(),
            hibob = self.sim.hibob_base_url(),
            page_size = s.page_size,
            read_lag = s.read_lag,
            hibob_rate_limit = s.hibob_rate_limit,
            ledger = self.ledger_path.display(),
            retry_initial = s.retry_initial,
            retry_max = s.retry_max,
            http = s.http,
            request_timeout = s.request_timeout,
            sync = s.sync,
            site = s.site,
            hibob_extra = if s.pending_flow {
                format!(
                    "hire_flow = \"pending\"\nhire_api_url = \"{}\"\n{}",
                    self.sim.hire_api_url(),
                    s.hibob
                )
            } else {
                s.hibob.clone()
            },
            every = s.every,
            full_every = s.full_every,
            webhook = match s.webhook_listen {
                Some(addr) => format!(
                    "[webhook]\nlisten = \"{addr}\"\nallow_unsigned = {}\n{}\n",
                    s.webhook_allow_unsigned, s.webhook_extra
                ),
                None => String::new(),
            },
            extra = s.extra,
        );
        std::fs::write(&self.config_path, text).unwrap();
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
    }

    /// The real binary, with a clean environment holding only this world's secrets.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BINARY);
        cmd.env_clear()
            .env("HIREBRIDGE_CONFIG", &self.config_path)
            .env("HIREBRIDGE_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args);
        cmd
    }

    pub fn hirebridge(&self, args: &[&str]) -> Run {
        Run(self.command(args).output().expect("the binary runs"))
    }

    pub fn sync(&self) -> Run {
        self.hirebridge(&["sync"])
    }

    pub fn report_json(&self) -> Vec<Value> {
        let run = self.hirebridge(&["report", "--format", "json"]);
        assert_eq!(run.code(), 0, "report failed: {}", run.all());
        serde_json::from_str::<Vec<Value>>(&run.stdout()).expect("report JSON parses")
    }

    pub fn row(&self, application_id: &str) -> Value {
        self.report_json()
            .into_iter()
            .find(|r| r["application_id"] == application_id)
            .unwrap_or_else(|| panic!("no report row for {application_id}"))
    }

    /// This world's configuration, as the binary would load it (for in-process passes).
    pub fn config(&self) -> hirebridge::config::Config {
        let text = std::fs::read_to_string(&self.config_path).unwrap();
        let secrets = hirebridge::config::SecretSources {
            vars: self.env.iter().cloned().collect(),
            credentials_directory: None,
        };
        hirebridge::config::Config::parse(&self.config_path, &text, &secrets).unwrap()
    }

    /// A reconciler on `clock`, for in-process passes whose waits a test observes.
    pub fn reconciler(
        &self,
        clock: std::sync::Arc<dyn hirebridge::http::Clock>,
    ) -> hirebridge::reconcile::Reconciler {
        let ledger = Ledger::open(&self.ledger_path).unwrap();
        hirebridge::reconcile::Reconciler::with_clock(&self.config(), ledger, clock).unwrap()
    }

    pub fn ledger(&self) -> Ledger {
        Ledger::open_read_only(&self.ledger_path).expect("ledger opens")
    }

    /// Makes the last API contract check look `by` older, as if that much time had passed:
    /// the next pass checks again once it is a day old.
    pub fn age_contract_check(&self, by: chrono::Duration) {
        let mut ledger = Ledger::open(&self.ledger_path).unwrap();
        let json = ledger
            .contract_report()
            .unwrap()
            .expect("a contract report in the ledger");
        let mut report: hirebridge::contract::ContractReport = serde_json::from_str(&json).unwrap();
        report.checked_at -= by;
        ledger
            .record_contract_report(&serde_json::to_string(&report).unwrap())
            .unwrap();
    }

    pub fn entry(&self, application_id: &str) -> LedgerEntry {
        self.ledger()
            .entry(&application_id.into())
            .unwrap()
            .unwrap_or_else(|| panic!("no ledger entry for {application_id}"))
    }

    pub fn entries(&self) -> Vec<LedgerEntry> {
        self.ledger().entries(&EntryFilter::default()).unwrap()
    }

    pub fn events(&self, application_id: &str) -> Vec<LedgerEvent> {
        self.ledger().events(&application_id.into()).unwrap()
    }

    /// A fingerprint of everything on disk that holds ledger data: SHA-256 over the database
    /// and its WAL (a missing file counts as empty, because a read-only open may leave an
    /// empty WAL behind), plus the row and event counts.
    pub fn ledger_fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for suffix in ["", "-wal"] {
            let mut path = self.ledger_path.clone().into_os_string();
            path.push(suffix);
            hash.update(std::fs::read(&path).unwrap_or_default());
        }
        let ledger = self.ledger();
        let counts = format!(
            "{} hires, {} events",
            self.entries().len(),
            ledger.event_count().unwrap()
        );
        let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("{digest} {counts}")
    }

    /// Ids of the applications the simulator holds in the hired stage.
    pub fn hired_ids(&self) -> Vec<String> {
        self.sim
            .applications()
            .into_iter()
            .filter(|a| a.stage == Stage::Hired)
            .map(|a| a.id)
            .collect()
    }

    /// Employees in the simulated HiBob with this email (case-insensitive).
    pub fn employees_with_email(&self, email: &str) -> usize {
        self.sim
            .employees()
            .iter()
            .filter(|e| e.email.eq_ignore_ascii_case(email))
            .count()
    }

    /// Asserts the product's promise over the whole simulated world: every hired
    /// application has exactly one employee, at most one CV document, at most one comment.
    pub fn assert_exactly_once(&self) {
        for app in self.sim.applications() {
            if app.stage != Stage::Hired {
                continue;
            }
            assert!(
                self.employees_with_email(&app.email) <= 1,
                "{} has {} employees",
                app.email,
                self.employees_with_email(&app.email)
            );
            assert!(
                self.sim.comments(&app.id).len() <= 1,
                "application {} has {} comments",
                app.id,
                self.sim.comments(&app.id).len()
            );
            if let Some(e) = self.sim.employee_by_email(&app.email) {
                let marker = format!("(Pinpoint application {})", app.id);
                let cvs = self
                    .sim
                    .documents(&e.id)
                    .iter()
                    .filter(|d| d.document_name.contains(&marker))
                    .count();
                assert!(cvs <= 1, "application {} has {cvs} CV documents", app.id);
            }
        }
    }
}

/// The output of one run of the binary.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn all(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr())
    }
    /// Asserts the exit code and that nothing panicked.
    pub fn expect(self, code: i32) -> Self {
        assert!(!self.stderr().contains("panicked"), "panic: {}", self.all());
        assert_eq!(self.code(), code, "unexpected exit code: {}", self.all());
        self
    }
}

/// One hire, Ada Lovelace (application 1001, ada@example.com), on an external job.
pub fn one_hire() -> Scenario {
    Scenario::empty()
        .with_job("1", "Engineer", sim::Visibility::External)
        .with_application(sim::SimApplication::hired(
            "1001",
            "Ada",
            "Lovelace",
            "ada@example.com",
            "1",
        ))
}

/// Ada (1001) and Grace (1002), both hired into job 1 with a CV.
pub fn two_hires() -> Scenario {
    one_hire().with_application(sim::SimApplication::hired(
        "1002",
        "Grace",
        "Hopper",
        "grace@example.com",
        "1",
    ))
}

/// A hired application `id` of job 1, with its own email (`hire<id>@example.com`).
pub fn new_hire(id: u64) -> sim::SimApplication {
    sim::SimApplication::hired(
        &id.to_string(),
        "New",
        &format!("Hire{id}"),
        &format!("hire{id}@example.com"),
        "1",
    )
}

pub fn one_hire_world() -> World {
    World::new(one_hire())
}

impl World {
    /// `hirebridge run` in the background. Its output goes nowhere: an unread pipe would
    /// fill up and stall the daemon.
    pub fn spawn_daemon(&self) -> Child {
        self.command(&["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("daemon starts")
    }

    /// Whether the hire is done; false while the daemon is still creating the ledger.
    pub fn is_done(&self, id: &str) -> bool {
        Ledger::open_read_only(&self.ledger_path)
            .ok()
            .and_then(|l| l.entry(&id.into()).ok().flatten())
            .is_some_and(|e| e.status == hirebridge::ledger::HireStatus::Done)
    }
}

/// Sends a signal (`TERM`, `HUP`, …) to a child process.
pub fn signal(name: &str, child: &Child) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the child to exit, killing it (and failing) after `timeout`.
pub fn exit_code_within(child: &mut Child, timeout: Duration) -> i32 {
    if wait_for(timeout, || child.try_wait().unwrap().is_some()) {
        return child.wait().unwrap().code().unwrap_or(-1);
    }
    child.kill().unwrap();
    panic!("the process did not exit within {timeout:?}");
}

/// How long a test waits for something that must eventually happen. Generous, since waiting
/// ends as soon as the condition holds: on an idle machine it costs nothing, and on a loaded
/// one it is the difference between a slow pass and a false failure.
pub const EVENTUALLY: Duration = Duration::from_secs(60);

/// Polls `condition` until it holds or `timeout` passes (for the daemon tests).
pub fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

/// A notify socket owned by the test, standing in for systemd: the daemon's `NOTIFY_SOCKET`.
/// A thread records every datagram with the moment it arrived.
pub struct NotifySocket {
    pub path: PathBuf,
    messages: std::sync::Arc<std::sync::Mutex<Vec<(Instant, String)>>>,
    _dir: tempfile::TempDir,
}

impl NotifySocket {
    pub fn bind() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).expect("notify socket binds");
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = messages.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            // Ends with the test process; a closed socket ends it sooner.
            while let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock().unwrap().push((Instant::now(), text));
            }
        });
        NotifySocket {
            path,
            messages,
            _dir: dir,
        }
    }

    /// Points the world's daemon at this socket, with a watchdog of `watchdog` if given.
    pub fn attach(&self, world: &mut World, watchdog: Option<Duration>) {
        world.set_env("NOTIFY_SOCKET", self.path.to_str().unwrap());
        if let Some(w) = watchdog {
            world.set_env("WATCHDOG_USEC", &w.as_micros().to_string());
        }
    }

    /// Every datagram so far, with its arrival time, in order.
    pub fn timed(&self) -> Vec<(Instant, String)> {
        self.messages.lock().unwrap().clone()
    }

    /// Every datagram so far, in order.
    pub fn messages(&self) -> Vec<String> {
        self.timed().into_iter().map(|(_, m)| m).collect()
    }

    /// Waits until some datagram satisfies `matches`; returns its index.
    pub fn wait_for(&self, timeout: Duration, matches: impl Fn(&str) -> bool) -> Option<usize> {
        let mut found = None;
        wait_for(timeout, || {
            found = self.messages().iter().position(|m| matches(m));
            found.is_some()
        });
        found
    }

    /// The index of the first datagram holding the assignment `line` (e.g. `READY=1`).
    pub fn position(&self, line: &str) -> Option<usize> {
        self.messages().iter().position(|m| has_line(m, line))
    }
}

/// Whether a notify datagram holds `line` as one of its assignments.
pub fn has_line(message: &str, line: &str) -> bool {
    message.lines().any(|l| l == line)
}

/// The `STATUS=` text of a notify datagram, if it has one.
pub fn status_of(message: &str) -> Option<&str> {
    message.lines().find_map(|l| l.strip_prefix("STATUS="))
}

/// Compares `actual` with `tests/golden/<name>`; with `UPDATE_GOLDEN=1` in the environment,
/// rewrites the file instead (review the diff).
pub fn golden(name: &str, actual: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run `UPDATE_GOLDEN=1 cargo test` to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from its golden file; if intended, run `UPDATE_GOLDEN=1 cargo test`\n--- expected\n{}\n--- actual\n{}",
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual)
    );
}

/// Whether a hirebridge listener answers on `addr` (and not some other process that took the
/// port): its /healthz is JSON naming the ledger.
pub fn answers_as_hirebridge(addr: std::net::SocketAddr) -> bool {
    http(addr, "GET", "/healthz", &[], b"").is_ok_and(|a| {
        serde_json::from_str::<Value>(&a.body).is_ok_and(|j| j.get("ledger").is_some())
    })
}

/// Whether the hirebridge listening on `addr` has finished a poll (its /healthz names the last
/// successful one): from then on, a hire added to the simulator is the webhook's to find.
pub fn has_polled(addr: std::net::SocketAddr) -> bool {
    http(addr, "GET", "/healthz", &[], b"").is_ok_and(|a| {
        serde_json::from_str::<Value>(&a.body).is_ok_and(|j| j["last_successful_poll"].is_string())
    })
}

/// An address on 127.0.0.1 with a port nothing listens on right now.
pub fn free_local_addr() -> std::net::SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap()
}

/// One HTTP answer, as a test reads it.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl HttpAnswer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request over a fresh connection (closed after the answer): enough to play
/// Pinpoint or a monitoring system without another HTTP client in the tests. `Err` when the
/// connection is refused or breaks.
pub fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpAnswer> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    // A server may answer (413) before reading a large body and close: that is an answer.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    // A server that answered before reading the whole body may reset the connection after
    // its answer: what arrived still counts.
    if let Err(e) = stream.read_to_end(&mut raw)
        && raw.is_empty()
    {
        return Err(e);
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {head:?}")))?;
    // Axum answers small bodies with Content-Length; chunked ones are de-chunked here.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&after[..n.min(after.len())]);
            rest = after.get(n + 2..).unwrap_or("");
        }
        out
    } else {
        rest.to_owned()
    };
    Ok(HttpAnswer {
        status,
        head: head.to_owned(),
        body,
    })
}

/// The `application_hired` event Pinpoint sends, for `id` (an integer in real deliveries).
pub fn hired_event(id: u64) -> Vec<u8> {
    format!(
        r#"{{"event":"application_hired","triggeredAt":1614687278,"data":{{"application":{{"id":{id}}},"job":{{"id":1}}}}}}"#
    )
    .into_bytes()
}

/// A daemon with its webhook listener, for the listener's tests.
pub struct Listening {
    pub world: World,
    pub addr: std::net::SocketAddr,
    pub daemon: Child,
    pub secret: Option<&'static str>,
}

impl Listening {
    /// Starts `hirebridge run` listening on a free port (signed with `secret` when given),
    /// and waits until the listener answers.
    pub fn start(scenario: Scenario, settings: Settings, secret: Option<&'static str>) -> Self {
        let mut world = World::with(scenario, settings.clone());
        if let Some(secret) = secret {
            world.set_env("PINPOINT_WEBHOOK_SECRET", secret);
        }
        // The port is free when picked, but another process may take it before the daemon
        // binds it: then the daemon exits naming webhook.listen, and a new port is tried.
        for _ in 0..5 {
            let addr = free_local_addr();
            world.write_config(&Settings {
                webhook_listen: Some(addr),
                ..settings.clone()
            });
            let mut daemon = world.spawn_daemon();
            let mut exited = false;
            wait_for(EVENTUALLY, || {
                exited = matches!(daemon.try_wait(), Ok(Some(_)));
                exited || answers_as_hirebridge(addr)
            });
            if !exited {
                assert!(answers_as_hirebridge(addr), "the listener answers");
                return Listening {
                    world,
                    addr,
                    daemon,
                    secret,
                };
            }
        }
        panic!("the daemon could not bind a free port in five tries");
    }

    pub fn get(&self, path: &str) -> std::io::Result<HttpAnswer> {
        http(self.addr, "GET", path, &[], b"")
    }

    /// POSTs `body` to the webhook path as Pinpoint would: JSON, signed with this daemon's
    /// secret when it has one.
    pub fn deliver(&self, body: &[u8]) -> HttpAnswer {
        let signature = self
            .secret
            .map(|s| hirebridge::webhook::sign(s, body))
            .unwrap_or_default();
        let mut headers = vec![("Content-Type", "application/json")];
        if self.secret.is_some() {
            headers.push(("PINPOINT-HMAC-SHA256", signature.as_str()));
        }
        self.post(&headers, body)
    }

    pub fn post(&self, headers: &[(&str, &str)], body: &[u8]) -> HttpAnswer {
        http(self.addr, "POST", "/webhooks/pinpoint", headers, body).expect("the listener answers")
    }

    /// The metrics, parsed: sample (name with labels, as exposed) → value.
    pub fn metrics(&self) -> std::collections::BTreeMap<String, f64> {
        let answer = self.get("/metrics").expect("metrics answer");
        assert_eq!(answer.status, 200, "{answer:?}");
        parse_prometheus_text(&answer.body)
            .unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{}", answer.body))
    }

    /// One sample's value, 0 when absent (a counter that never moved).
    pub fn metric(&self, sample: &str) -> f64 {
        self.metrics().get(sample).copied().unwrap_or(0.0)
    }

    /// Waits until `sample` reaches at least `value`.
    pub fn wait_for_metric(&self, sample: &str, value: f64) -> bool {
        wait_for(EVENTUALLY, || self.metric(sample) >= value)
    }

    /// SIGTERM, and the exit code.
    pub fn stop(&mut self) -> i32 {
        signal("TERM", &self.daemon);
        exit_code_within(&mut self.daemon, EVENTUALLY)
    }

    /// Starts the daemon again (after [`Listening::stop`]) on the same world, config and
    /// port, and waits until the listener answers.
    pub fn restart(&mut self) {
        self.daemon = self.world.spawn_daemon();
        assert!(
            wait_for(EVENTUALLY, || answers_as_hirebridge(self.addr)),
            "the restarted daemon answers"
        );
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        // A failed test must not leave its daemon running.
        if let Ok(None) = self.daemon.try_wait() {
            let _ = self.daemon.kill();
            let _ = self.daemon.wait();
        }
    }
}

/// Parses Prometheus's text exposition format (version 0.0.4) strictly enough to catch a
/// malformed line: `# HELP`/`# TYPE` comments with a known type, and samples
/// `name{label="value",...} number` whose family was declared by a `# TYPE` line.
pub fn parse_prometheus_text(
    text: &str,
) -> Result<std::collections::BTreeMap<String, f64>, String> {
    let mut types: std::collections::HashMap<String, String> = Default::default();
    let mut samples = std::collections::BTreeMap::new();
    let is_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    for (number, line) in text.lines().enumerate() {
        let bad = |why: &str| Err(format!("line {}: {why}: {line:?}", number + 1));
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), Some(_)) if is_name(name) => {}
                (Some("TYPE"), Some(name), Some(kind))
                    if is_name(name)
                        && ["counter", "gauge", "histogram", "summary", "untyped"]
                            .contains(&kind) =>
                {
                    types.insert(name.to_owned(), kind.to_owned());
                }
                _ => return bad("a comment that is neither HELP nor TYPE"),
            }
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            return bad("no value");
        };
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => match v.parse() {
                Ok(v) => v,
                Err(_) => return bad("the value is not a number"),
            },
        };
        let name = series.split('{').next().unwrap_or("");
        if !is_name(name) {
            return bad("not a metric name");
        }
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let Some(inner) = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}')) else {
                return bad("labels are not in braces");
            };
            for pair in inner.split("\",").filter(|p| !p.is_empty()) {
                let Some((key, value)) = pair.split_once("=\"") else {
                    return bad("a label is not key=\"value\"");
                };
                if !is_name(key) || value.trim_end_matches('"').contains('"') {
                    return bad("a malformed label");
                }
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| types.get(*base).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        if !types.contains_key(family) {
            return bad("a sample without a # TYPE line");
        }
        samples.insert(series.to_owned(), value);
    }
    if samples.is_empty() {
        return Err("no samples".into());
    }
    Ok(samples)
}

/// The plugin key the plugin tests configure.
pub const PLUGIN_KEY: &str = "plugin-key-for-tests-0123456789";

/// A daemon serving Pinpoint's plugin (`[plugin]`), for the plugin's tests.
pub struct Plugged {
    pub world: World,
    pub addr: std::net::SocketAddr,
    pub daemon: Child,
}

impl Plugged {
    /// Starts `hirebridge run` with the plugin on a free port and key [`PLUGIN_KEY`], and waits
    /// until the plugin answers and the first pass is over (so the API contract is checked).
    pub fn start(scenario: Scenario, settings: Settings, first_done: &str) -> Self {
        let mut world = World::with(scenario, settings.clone());
        world.set_env("HIREBRIDGE_PLUGIN_KEY", PLUGIN_KEY);
        for _ in 0..5 {
            let addr = free_local_addr();
            world.write_config(&Settings {
                extra: format!("{}\n[plugin]\nlisten = \"{addr}\"\n", settings.extra),
                ..settings.clone()
            });
            let mut daemon = world.spawn_daemon();
            let mut exited = false;
            wait_for(EVENTUALLY, || {
                exited = matches!(daemon.try_wait(), Ok(Some(_)));
                exited || http(addr, "POST", "/", &[], b"{}").is_ok_and(|a| a.status == 200)
            });
            if !exited {
                assert!(
                    wait_for(EVENTUALLY, || world.is_done(first_done)),
                    "the first pass settles {first_done}"
                );
                return Plugged {
                    world,
                    addr,
                    daemon,
                };
            }
        }
        panic!("the daemon could not bind a free port in five tries");
    }

    /// POSTs a JSON body to `path` as Pinpoint would, with the key in its header.
    pub fn post(&self, path: &str, body: &Value) -> HttpAnswer {
        self.post_as(
            path,
            &[("X_HIREBRIDGE_PLUGIN_KEY", PLUGIN_KEY)],
            body.to_string().as_bytes(),
        )
    }

    /// POSTs raw bytes with the given headers (and a JSON content type).
    pub fn post_as(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpAnswer {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        http(self.addr, "POST", path, &all, body).expect("the plugin answers")
    }

    /// Submits `fields` for the action as Pinpoint would.
    pub fn submit(&self, uuid: &str, fields: &[(&str, &str)]) -> HttpAnswer {
        let form: Vec<Value> = fields
            .iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect();
        self.post(
            "/exportCandidate/submit",
            &serde_json::json!({"formFields": form, "generatedUuid": uuid, "configurationValues": []}),
        )
    }

    /// Submits recorded in the ledger, and how many succeeded.
    pub fn submits(&self) -> (u64, u64) {
        self.world.ledger().plugin_submit_counts().unwrap()
    }

    pub fn stop(&mut self) -> i32 {
        signal("TERM", &self.daemon);
        exit_code_within(&mut self.daemon, EVENTUALLY)
    }

    /// Starts the daemon again (after [`Plugged::stop`]) on the same world, config and port,
    /// and waits until the plugin answers.
    pub fn restart(&mut self) {
        self.daemon = self.world.spawn_daemon();
        let addr = self.addr;
        assert!(
            wait_for(EVENTUALLY, || http(addr, "POST", "/", &[], b"{}")
                .is_ok_and(|a| a.status == 200)),
            "the restarted daemon's plugin answers"
        );
    }
}

impl Drop for Plugged {
    fn drop(&mut self) {
        if let Ok(None) = self.daemon.try_wait() {
            let _ = self.daemon.kill();
            let _ = self.daemon.wait();
        }
    }
}

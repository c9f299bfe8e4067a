//! Crashes, kills, power loss and duplicate sources, end to end with the real binary against
//! the simulator: whatever happens to the process, every hired application ends with exactly
//! one HiBob employee, at most one CV document (exactly one when it has a CV), exactly one
//! Pinpoint comment, a ledger that says so, and a sound database.
//!
//! - Every named crash point (`hirebridge::crashpoint::ALL`) × four kinds of hire: the binary
//!   aborts there (`HIREBRIDGE_CRASH_AT`), is restarted until done, and the world is checked.
//! - A kill loop: `hirebridge run` SIGKILLed at random moments under random latency (seeded;
//!   `HIREBRIDGE_KILL_SEED` and `HIREBRIDGE_KILL_CYCLES` reproduce or extend it; the
//!   `#[ignore]`d soak runs hundreds of cycles).
//! - Power loss: crash images of the ledger taken mid-pass (also with their last WAL frames
//!   lost), each opened and resumed against remote systems that have moved on.
//! - Duplicate sources: a listing that shifts between pages, two daemons started at once.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{EVENTUALLY, Settings, World, free_local_addr, hired_event, http, signal, wait_for};
use hirebridge::crashpoint;
use hirebridge::ledger::{HireStatus, Ledger};
use hirebridge::sim::{
    CvFiles, Endpoint, Fault, FaultRule, Scenario, SimApplication, SimEmployeeSeed, SplitMix,
    Stage, Visibility,
};

const SIGABRT: i32 = 6;

// The binary these tests run is built with the crash-points feature (the package's
// dev-dependency on itself); without it every crash test would pass vacuously.
const _: () = assert!(
    crashpoint::ENABLED,
    "test builds have the crash-points feature"
);

// ---- the promise, checked against the simulator and the ledger -----------------------------

/// Asserts, for every application hired in the simulator: exactly one employee with its
/// email; one CV document carrying its marker if it has a CV, none otherwise; exactly one
/// comment; a done ledger row naming those very ids; events that match (one outcome per
/// step, an intent before every write that reached the simulator); and no employee,
/// document or comment the hires do not account for (every employee the simulator starts
/// with belongs to a hire). Then `PRAGMA integrity_check`.
fn assert_one_of_everything(world: &World, ledger: &Path) {
    let ledger = Ledger::open_read_only(ledger).expect("ledger opens");
    assert_eq!(ledger.integrity_check().unwrap(), "ok");
    let hired: Vec<SimApplication> = world
        .sim
        .applications()
        .into_iter()
        .filter(|a| a.stage == Stage::Hired)
        .collect();
    let mut documents = 0;
    for app in &hired {
        let id = app.id.as_str();
        let employees: Vec<_> = world
            .sim
            .employees()
            .into_iter()
            .filter(|e| e.email.eq_ignore_ascii_case(&app.email))
            .collect();
        assert_eq!(
            employees.len(),
            1,
            "application {id}: employees {employees:?}"
        );
        let employee = &employees[0];
        let marker = format!("(Pinpoint application {id})");
        let cvs: Vec<_> = world
            .sim
            .documents(&employee.id)
            .into_iter()
            .filter(|d| d.document_name.contains(&marker))
            .collect();
        let has_cv = app.cv != CvFiles::None;
        assert_eq!(
            cvs.len(),
            usize::from(has_cv),
            "application {id}: CVs {cvs:?}"
        );
        documents += cvs.len();
        let comments = world.sim.comments(id);
        assert_eq!(comments.len(), 1, "application {id}: comments {comments:?}");

        let entry = ledger
            .entry(&id.into())
            .unwrap()
            .unwrap_or_else(|| panic!("application {id} is not in the ledger"));
        assert_eq!(
            entry.status,
            HireStatus::Done,
            "application {id}: {entry:?}"
        );
        assert_eq!(entry.hibob_employee_id(), Some(employee.id.as_str()));
        assert_eq!(
            entry.cv_document_id(),
            cvs.first().map(|d| d.id.as_str()),
            "application {id}"
        );
        assert_eq!(entry.comment_id(), Some(comments[0].id.as_str()));

        let events = ledger.events(&id.into()).unwrap();
        let count = |step: &str, outcomes: &[&str]| {
            events
                .iter()
                .filter(|e| e.step == step && outcomes.contains(&e.outcome.as_str()))
                .count()
        };
        let story = || {
            events
                .iter()
                .map(|e| format!("{} {}: {}", e.step, e.outcome, e.detail))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(count("employee", &["created", "adopted"]), 1, "{}", story());
        assert_eq!(
            count("cv", &["uploaded", "found", "none"]),
            1,
            "{}",
            story()
        );
        assert_eq!(count("comment", &["posted", "found"]), 1, "{}", story());
        assert_eq!(count("hire", &["done"]), 1, "{}", story());
        // Done comes after every step; only the mapped values for drift may be recorded later
        // (an adopted hire whose baseline a crash cut off gets it on a later pass).
        let last = events
            .iter()
            .rfind(|e| !["fields", "drift"].contains(&e.step.as_str()))
            .unwrap();
        assert_eq!(
            (last.step.as_str(), last.outcome.as_str()),
            ("hire", "done"),
            "{}",
            story()
        );
        let employee_event = events
            .iter()
            .find(|e| e.step == "employee" && ["created", "adopted"].contains(&e.outcome.as_str()))
            .unwrap();
        assert!(employee_event.detail.contains(&employee.id), "{}", story());
        assert_eq!(
            count("cv", &["none"]),
            usize::from(!has_cv),
            "application {id}: {}",
            story()
        );
    }
    // Nothing extra anywhere.
    assert_eq!(
        world.sim.employees().len(),
        hired.len(),
        "employees nobody accounts for"
    );
    let all_documents: usize = world
        .sim
        .employees()
        .iter()
        .map(|e| world.sim.documents(&e.id).len())
        .sum();
    assert_eq!(all_documents, documents, "documents nobody accounts for");
}

/// Intent first: no write reached the simulator without an intent recorded before it in
/// this ledger (`by_hand`: creates a test sent to HiBob as a person would, refused or not).
fn assert_intent_before_every_write(world: &World, by_hand: usize) {
    let ledger = world.ledger();
    let hired: Vec<String> = world.hired_ids();
    let intents = |step: &str| -> usize {
        hired
            .iter()
            .map(|id| {
                ledger
                    .events(&id.as_str().into())
                    .unwrap()
                    .iter()
                    .filter(|e| e.step == step && e.outcome == "intent")
                    .count()
            })
            .sum()
    };
    for (step, endpoint, by_hand) in [
        ("employee", Endpoint::CreatePerson, by_hand),
        ("cv", Endpoint::UploadDocument, 0),
        ("comment", Endpoint::PostComment, 0),
    ] {
        let requests = world.sim.count(endpoint) - by_hand;
        assert!(
            intents(step) >= requests,
            "{} {step} intents for {requests} {endpoint:?} requests",
            intents(step),
        );
    }
}

/// `report --format json` says exactly what the simulator holds: one row per hired
/// application, each naming the employee, CV document and comment the simulator has for it.
fn assert_report_matches_simulator(world: &World) {
    let rows = world.report_json();
    let hired = world.hired_ids();
    assert_eq!(rows.len(), hired.len(), "one report row per hire");
    let by_id: HashMap<String, &serde_json::Value> = rows
        .iter()
        .map(|r| (r["application_id"].as_str().unwrap().to_owned(), r))
        .collect();
    for app in world.sim.applications() {
        if app.stage != Stage::Hired {
            continue;
        }
        let row = by_id
            .get(&app.id)
            .unwrap_or_else(|| panic!("no report row for {}", app.id));
        let employee = world.sim.employee_by_email(&app.email).unwrap();
        assert_eq!(row["status"], "done", "{row}");
        assert_eq!(row["hibob_employee_id"], employee.id.as_str(), "{row}");
        let marker = format!("(Pinpoint application {})", app.id);
        let cv = world
            .sim
            .documents(&employee.id)
            .into_iter()
            .find(|d| d.document_name.contains(&marker));
        match cv {
            Some(doc) => {
                assert_eq!(row["cv"], "uploaded", "{row}");
                assert_eq!(row["cv_document_id"], doc.id.as_str(), "{row}");
            }
            None => {
                assert_eq!(row["cv"], "none", "{row}");
                assert!(row["cv_document_id"].is_null(), "{row}");
            }
        }
        let comments = world.sim.comments(&app.id);
        assert_eq!(row["comment_id"], comments[0].id.as_str(), "{row}");
    }
}

/// Runs `sync` until it exits 0, waiting out a deferral (exit 2) until the hire's next
/// attempt. Bounded: a hire that never settles fails the test.
fn sync_until_done(world: &World) {
    sync_until_done_with(world, &world.config_path)
}

fn sync_until_done_with(world: &World, config: &Path) {
    for _ in 0..20 {
        let run = common::Run(
            world
                .command(&["sync"])
                .env("HIREBRIDGE_CONFIG", config)
                .output()
                .unwrap(),
        );
        assert!(!run.stderr().contains("panicked"), "{}", run.all());
        match run.code() {
            0 => return,
            2 => std::thread::sleep(Duration::from_millis(300)),
            _ => panic!("sync failed: {}", run.all()),
        }
    }
    panic!("the hires did not settle within 20 runs of sync");
}

// ---- every crash point × four kinds of hire -------------------------------------------------

/// The kinds of hire each crash point is tried on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Case {
    /// A new hire with a CV: created, CV uploaded, commented.
    Fresh,
    /// HiBob already has an employee with the email: adopted, documents and comments checked.
    Adopted,
    /// A new hire without a CV attachment.
    NoCv,
    /// A new hire with HiBob's read lag on: a restart must wait it out before creating again.
    ReadLag,
}

const CASES: [Case; 4] = [Case::Fresh, Case::Adopted, Case::NoCv, Case::ReadLag];

/// Points only the webhook's one-application nudge reaches (covered by their own test).
const NUDGE_ONLY: [&str; 2] = ["pinpoint.application.before", "pinpoint.application.after"];

/// Points only HR's own hire flow (`hibob.hire_flow = "pending"`) or `[notify]` reach: covered
/// by `tests/hr_flow.rs` and `tests/notify.rs`, which crash at each of them.
const PENDING_ONLY: [&str; 8] = [
    "ledger.hr_intent.before",
    "ledger.hr_intent.after",
    "hibob.hire_post.before",
    "hibob.hire_post.after",
    "ledger.hr_sent.before",
    "ledger.hr_sent.after",
    // `[notify]`'s sender (covered by `tests/notify.rs`).
    "notify.send.before",
    "notify.send.after",
];

impl Case {
    fn world(self) -> World {
        let mut app = SimApplication::hired("1001", "Ada", "Lovelace", "ada@example.com", "1");
        if self == Case::NoCv {
            app.cv = CvFiles::None;
        }
        let mut scenario = Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(app);
        let mut settings = Settings::default();
        match self {
            Case::Adopted => {
                scenario = scenario.with_employee(SimEmployeeSeed {
                    first_name: "Ada".into(),
                    surname: "Lovelace".into(),
                    email: "Ada@Example.com".into(),
                    site: "New York (Demo)".into(),
                    start_date: chrono::NaiveDate::from_ymd_opt(2025, 1, 6).unwrap(),
                    termination_date: None,
                })
            }
            Case::ReadLag => {
                // hirebridge's idea of the lag must not be shorter than HiBob's.
                scenario = scenario.with_read_lag(Duration::from_millis(700));
                settings.read_lag = "1s";
            }
            Case::Fresh | Case::NoCv => {}
        }
        World::with(scenario, settings)
    }

    /// The points a first `sync` of this hire passes, in no particular order.
    fn reaches(self) -> BTreeSet<&'static str> {
        let skipped: &[&str] = match self {
            // A new employee has no documents or comments of ours yet: nothing to look for.
            Case::Fresh | Case::ReadLag => &["hibob.documents", "pinpoint.comments"],
            Case::Adopted => &["ledger.employee_intent", "hibob.create"],
            Case::NoCv => &[
                "hibob.documents",
                "pinpoint.comments",
                "ledger.cv_intent",
                "hibob.upload",
            ],
        };
        crashpoint::ALL
            .iter()
            .copied()
            .filter(|p| !NUDGE_ONLY.contains(p) && !PENDING_ONLY.contains(p))
            .filter(|p| !skipped.iter().any(|s| p.starts_with(&format!("{s}."))))
            .collect()
    }
}

/// One crash: `sync` aborted at `point`, restarted until done, then the promise checked.
/// Returns whether the first run reached the point.
fn crash_and_recover(case: Case, point: &str) -> bool {
    let world = case.world();
    let first = common::Run(
        world
            .command(&["sync"])
            .env(crashpoint::ENV, point)
            .output()
            .unwrap(),
    );
    let reached = match first.0.status.signal() {
        Some(SIGABRT) => {
            assert!(
                first
                    .stderr()
                    .contains(&format!("crash point {point} reached")),
                "{case:?} at {point}: {}",
                first.all()
            );
            true
        }
        Some(other) => panic!(
            "{case:?} at {point}: killed by signal {other}: {}",
            first.all()
        ),
        None => {
            assert_eq!(first.code(), 0, "{case:?} at {point}: {}", first.all());
            false
        }
    };
    sync_until_done(&world);
    assert_one_of_everything(&world, &world.ledger_path);
    assert_intent_before_every_write(&world, 0);
    reached
}

#[test]
fn every_crash_point_is_named_systematically_and_some_test_reaches_it() {
    let mut covered: BTreeSet<&str> = NUDGE_ONLY.into_iter().chain(PENDING_ONLY).collect();
    for case in CASES {
        covered.extend(case.reaches());
    }
    let all: BTreeSet<&str> = crashpoint::ALL.iter().copied().collect();
    assert_eq!(covered, all, "every crash point is reached by some case");
}

#[test]
fn a_crash_at_any_point_of_a_sync_ends_with_one_of_everything_after_a_restart() {
    let work: Vec<(Case, &str)> = CASES
        .iter()
        .flat_map(|case| {
            crashpoint::ALL
                .iter()
                .filter(|p| !PENDING_ONLY.contains(p))
                .map(move |p| (*case, *p))
        })
        .collect();
    let queue = Mutex::new(work.into_iter());
    let reached: Mutex<HashMap<Case, BTreeSet<&str>>> = Mutex::new(HashMap::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let Some((case, point)) = queue.lock().unwrap().next() else {
                        return;
                    };
                    if crash_and_recover(case, point) {
                        reached
                            .lock()
                            .unwrap()
                            .entry(case)
                            .or_default()
                            .insert(point);
                    }
                }
            });
        }
    });
    let reached = reached.into_inner().unwrap();
    let mut crashes = 0;
    for case in CASES {
        let got = reached.get(&case).cloned().unwrap_or_default();
        crashes += got.len();
        assert_eq!(
            got,
            case.reaches(),
            "the points a first sync of {case:?} reaches"
        );
    }
    println!(
        "{crashes} crashes at {} points × {} cases recovered with one of everything in {:.1?}",
        crashpoint::ALL.len(),
        CASES.len(),
        started.elapsed()
    );
}

#[test]
fn a_crash_at_the_nth_hit_of_a_point_aborts_there_and_not_before() {
    let world = World::new(common::two_hires());
    let run = world
        .command(&["sync"])
        .env(crashpoint::ENV, "hibob.create.after@2")
        .output()
        .unwrap();
    assert_eq!(run.status.signal(), Some(SIGABRT));
    assert_eq!(
        world.sim.count(Endpoint::CreatePerson),
        2,
        "both creates were sent"
    );
    let recorded = world
        .entries()
        .iter()
        .filter(|e| e.hibob_employee_id().is_some())
        .count();
    assert!(
        recorded <= 1,
        "the second create's answer was never recorded"
    );
    sync_until_done(&world);
    assert_one_of_everything(&world, &world.ledger_path);
    assert_intent_before_every_write(&world, 0);
}

#[test]
fn a_crash_while_a_webhook_nudge_reads_the_application_ends_with_one_of_everything() {
    for point in NUDGE_ONLY {
        let addr = free_local_addr();
        // One earlier hire, done by the startup pass, gives the API contract check something
        // to look at: with it proven, the nudge itself works the new hire.
        let mut world = World::with(
            Scenario::empty()
                .with_job("1", "Engineer", Visibility::External)
                .with_application(SimApplication::hired(
                    "1000",
                    "Grace",
                    "Hopper",
                    "grace@example.com",
                    "1",
                )),
            Settings {
                webhook_listen: Some(addr),
                webhook_allow_unsigned: true,
                every: "1h",
                ..Settings::default()
            },
        );
        world.set_env(crashpoint::ENV, point);
        let mut daemon = world.spawn_daemon();
        // After the startup pass, or that pass could find the hire before the nudge does.
        assert!(wait_for(EVENTUALLY, || common::has_polled(addr)));
        world.sim.add_application(SimApplication::hired(
            "1001",
            "Ada",
            "Lovelace",
            "ada@example.com",
            "1",
        ));
        let answer = http(
            addr,
            "POST",
            "/webhooks/pinpoint",
            &[("Content-Type", "application/json")],
            &hired_event(1001),
        )
        .unwrap();
        assert_eq!(answer.status, 202, "{answer:?}");
        assert!(
            wait_for(EVENTUALLY, || daemon.try_wait().unwrap().is_some()),
            "the daemon aborts at {point}"
        );
        assert_eq!(daemon.wait().unwrap().signal(), Some(SIGABRT), "{point}");
        world.set_env(crashpoint::ENV, "");
        sync_until_done(&world);
        assert_one_of_everything(&world, &world.ledger_path);
        assert_intent_before_every_write(&world, 0);
    }
}

// ---- the kill loop --------------------------------------------------------------------------

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn kill_loop_hire(rng: &mut SplitMix, n: u64) -> SimApplication {
    let mut app = SimApplication::hired(
        &(3000 + n).to_string(),
        "Kill",
        &format!("Loop{n}"),
        &format!("hire{n}@example.com"),
        "1",
    );
    if rng.below(8) == 0 {
        app.cv = CvFiles::None;
    }
    app
}

/// Latency for the next daemon: delays on random endpoints, and writes that HiBob or
/// Pinpoint commit but answer late (a kill meanwhile leaves their outcome unknown).
fn inject_latency(world: &World, rng: &mut SplitMix) {
    const ENDPOINTS: [Endpoint; 6] = [
        Endpoint::ListApplications,
        Endpoint::SearchPeople,
        Endpoint::CreatePerson,
        Endpoint::ListDocuments,
        Endpoint::UploadDocument,
        Endpoint::PostComment,
    ];
    for _ in 0..4 {
        let endpoint = ENDPOINTS[rng.below(ENDPOINTS.len() as u64) as usize];
        let delay = Duration::from_millis(20 + rng.below(300));
        let fault = if rng.below(3) == 0
            && matches!(
                endpoint,
                Endpoint::CreatePerson | Endpoint::UploadDocument | Endpoint::PostComment
            ) {
            Fault::CommitThenDelay(delay)
        } else {
            Fault::Delay(delay)
        };
        world
            .sim
            .inject(FaultRule::new(endpoint, fault).times(1 + rng.below(4) as usize));
    }
}

/// `hirebridge run` SIGKILLed at random moments, `default_cycles` times (or
/// `HIREBRIDGE_KILL_CYCLES`), under random latency, with new hires arriving and now and then
/// a person creating a new hire's employee in HiBob while the daemon runs; then `sync` until
/// done, and the promise, the intents and the report checked.
fn kill_loop(default_cycles: u64) {
    let seed = env_number("HIREBRIDGE_KILL_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    let cycles = env_number("HIREBRIDGE_KILL_CYCLES").unwrap_or(default_cycles);
    println!("kill loop: HIREBRIDGE_KILL_SEED={seed} HIREBRIDGE_KILL_CYCLES={cycles}");
    let mut rng = SplitMix(seed);
    let mut scenario = Scenario::empty()
        .with_job("1", "Engineer", Visibility::External)
        .with_read_lag(Duration::from_millis(300));
    let mut next_hire = 0;
    for _ in 0..12 {
        let app = kill_loop_hire(&mut rng, next_hire);
        // One in six was already in HiBob before hirebridge ever ran.
        if rng.below(6) == 0 {
            scenario = scenario.with_employee(SimEmployeeSeed {
                first_name: app.first_name.clone(),
                surname: app.last_name.clone(),
                email: app.email.clone(),
                site: "New York (Demo)".into(),
                termination_date: None,
                start_date: chrono::NaiveDate::from_ymd_opt(2025, 1, 6).unwrap(),
            });
        }
        scenario = scenario.with_application(app);
        next_hire += 1;
    }
    let world = World::with(
        scenario,
        Settings {
            page_size: 5,
            read_lag: "400ms",
            every: "1s",
            ..Settings::default()
        },
    );
    let started = Instant::now();
    let mut killed_running = 0;
    let mut by_hand = 0;
    // Every create a person sent, refused ones too: the simulator counts them all.
    let mut hand_requests = 0;
    for cycle in 0..cycles {
        let mut arriving = None;
        if cycle % 3 == 0 {
            let app = kill_loop_hire(&mut rng, next_hire);
            next_hire += 1;
            world.sim.add_application(app.clone());
            arriving = Some(app);
        }
        inject_latency(&world, &mut rng);
        let mut daemon = world.spawn_daemon();
        let alive_for = Duration::from_millis(50 + rng.below(1200));
        if let Some(app) = arriving.filter(|_| rng.below(4) == 0) {
            // A person creates the new hire in HiBob while hirebridge may be doing the same.
            std::thread::sleep(alive_for / 2);
            hand_requests += 1;
            if create_by_hand(&world, &app) {
                by_hand += 1;
            }
            std::thread::sleep(alive_for / 2);
        } else {
            std::thread::sleep(alive_for);
        }
        if daemon.try_wait().unwrap().is_none() {
            killed_running += 1;
        }
        daemon.kill().unwrap(); // SIGKILL
        daemon.wait().unwrap();
    }
    sync_until_done(&world);
    assert_one_of_everything(&world, &world.ledger_path);
    assert_intent_before_every_write(&world, hand_requests);
    assert_report_matches_simulator(&world);
    println!(
        "kill loop: {cycles} cycles ({killed_running} SIGKILLs of a running daemon), {} hires, \
         {} employees created by hirebridge, {by_hand} by hand meanwhile, 0 duplicates, \
         in {:.1?} (seed {seed})",
        world.hired_ids().len(),
        world.sim.count_status(Endpoint::CreatePerson, 200) - by_hand,
        started.elapsed()
    );
}

/// Creates `app`'s employee in HiBob as a person would (through the API, so HiBob's read
/// lag applies to it). False when HiBob already had one (hirebridge was first).
fn create_by_hand(world: &World, app: &SimApplication) -> bool {
    let credentials = format!(
        "{}:{}",
        hirebridge::sim::HIBOB_SERVICE_USER_ID,
        hirebridge::sim::HIBOB_SERVICE_USER_TOKEN
    );
    let authorization = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, credentials)
    );
    let body = serde_json::json!({
        "firstName": app.first_name, "surname": app.last_name, "email": app.email,
        "work": {"site": "New York (Demo)", "startDate": "2025-01-06"}
    });
    let answer = http(
        world.sim.addr(),
        "POST",
        "/hibob/v1/people",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &authorization),
        ],
        body.to_string().as_bytes(),
    )
    .unwrap();
    match answer.status {
        200 => true,
        400 => false,
        _ => panic!("creating by hand: {answer:?}"),
    }
}

#[test]
fn a_daemon_killed_at_random_moments_ends_with_one_of_everything() {
    kill_loop(20);
}

/// The long version: `cargo test --release --test crash -- --ignored --nocapture`.
#[test]
#[ignore = "soak: hundreds of kill cycles, minutes"]
fn soak_a_daemon_killed_at_random_moments_hundreds_of_times() {
    kill_loop(300);
}

// ---- power loss -----------------------------------------------------------------------------

/// Copies the ledger's database and WAL, what a disk holds, into `dir`. The `-shm` file is
/// left behind on purpose: it is only an index of the WAL in shared memory, which the first
/// connection after a crash rebuilds from the WAL itself.
fn crash_image(ledger: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let image = dir.join("ledger.sqlite3");
    for suffix in ["", "-wal"] {
        if let Ok(bytes) = std::fs::read(with_suffix(ledger, suffix)) {
            std::fs::write(with_suffix(&image, suffix), bytes).unwrap();
        }
    }
    image
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// A copy of `image` whose WAL lost its last frames: a disk that acknowledged writes it then
/// lost (an fsync that lied). Cut at a frame boundary, keeping `keep` of the frames, so
/// SQLite's recovery goes back to the last commit among them: an older, consistent ledger.
fn lose_acknowledged_writes(image: &Path, dir: &Path, keep: f64) -> Option<PathBuf> {
    let wal = std::fs::read(with_suffix(image, "-wal")).ok()?;
    if wal.len() < 32 {
        return None;
    }
    let page_size = u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize;
    let frames = (wal.len() - 32) / (24 + page_size);
    let kept = (frames as f64 * keep) as usize;
    if frames < 2 || kept == frames {
        return None;
    }
    let older = crash_image(image, dir);
    std::fs::write(
        with_suffix(&older, "-wal"),
        &wal[..32 + kept * (24 + page_size)],
    )
    .unwrap();
    Some(older)
}

/// Opens a crash image as the next process would (recovering the WAL, finishing a
/// migration the crash interrupted) and checks it is sound; returns how many of its hires
/// were done, of how many.
fn open_image(image: &Path) -> (u64, u64) {
    let ledger = Ledger::open(image)
        .unwrap_or_else(|e| panic!("the crash image {} opens: {e}", image.display()));
    assert_eq!(
        ledger.integrity_check().unwrap(),
        "ok",
        "{}",
        image.display()
    );
    assert_eq!(
        ledger.schema_version().unwrap(),
        hirebridge::ledger::CURRENT_VERSION
    );
    let counts = ledger.count_by_status().unwrap();
    let done = counts
        .iter()
        .find(|(s, _)| *s == HireStatus::Done)
        .map_or(0, |(_, n)| *n);
    (done, counts.iter().map(|(_, n)| n).sum())
}

#[test]
fn crash_images_of_the_ledger_taken_mid_pass_open_sound_and_resume_to_one_of_everything() {
    let mut scenario = Scenario::empty().with_job("1", "Engineer", Visibility::External);
    for n in 0..40 {
        let mut app = SimApplication::hired(
            &(4000 + n).to_string(),
            "Power",
            &format!("Loss{n}"),
            &format!("power{n}@example.com"),
            "1",
        );
        if n % 7 == 0 {
            app.cv = CvFiles::None;
        }
        scenario = scenario.with_application(app);
    }
    let world = World::with(
        scenario,
        Settings {
            sync: "hired_since = \"2000-01-01\"\nconcurrency = 2".into(),
            ..Settings::default()
        },
    );
    // Every write is slow, so the pass lasts long enough to be photographed mid-way.
    for endpoint in [
        Endpoint::CreatePerson,
        Endpoint::UploadDocument,
        Endpoint::PostComment,
    ] {
        world
            .sim
            .inject(FaultRule::new(endpoint, Fault::Delay(Duration::from_millis(150))).times(40));
    }
    let mut sync = world
        .command(&["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut images = Vec::new();
    for n in 0..6 {
        // Photographed after more and more employees were created.
        let target = 1 + n * 6;
        assert!(wait_for(EVENTUALLY, || world
            .sim
            .count(Endpoint::CreatePerson)
            >= target
            || sync.try_wait().unwrap().is_some()));
        if sync.try_wait().unwrap().is_some() {
            break;
        }
        // Stopped, the process is frozen between two instructions: maybe mid-transaction,
        // WAL frames half written. What the files hold now is what a power cut leaves.
        signal("STOP", &sync);
        images.push(crash_image(
            &world.ledger_path,
            &world.dir.path().join(format!("image{n}")),
        ));
        signal("CONT", &sync);
    }
    assert_eq!(sync.wait().unwrap().code(), Some(0));
    assert!(images.len() >= 4, "only {} images taken", images.len());
    // And the same images on a disk that lost its last acknowledged writes.
    let older: Vec<PathBuf> = images
        .iter()
        .enumerate()
        .filter_map(|(n, image)| {
            lose_acknowledged_writes(
                image,
                &world.dir.path().join(format!("older{n}")),
                [0.3, 0.6, 0.9][n % 3],
            )
        })
        .collect();
    assert!(!older.is_empty(), "some image had WAL frames to lose");
    let writes = world.sim.write_calls();
    let mut mid_pass = 0;
    for image in images.iter().chain(&older) {
        let (done, hires) = open_image(image);
        if done < 40 {
            mid_pass += 1;
        }
        println!("{}: {done} of {hires} hires done", image.display());
        // Resumed against HiBob and Pinpoint as they are now (ahead of the image).
        let config = image.with_file_name("config.toml");
        let text = std::fs::read_to_string(&world.config_path)
            .unwrap()
            .replace(
                &world.ledger_path.display().to_string(),
                &image.display().to_string(),
            );
        std::fs::write(&config, text).unwrap();
        sync_until_done_with(&world, &config);
        assert_one_of_everything(&world, image);
    }
    assert!(mid_pass >= 3, "only {mid_pass} images were taken mid-pass");
    assert_eq!(
        world.sim.write_calls(),
        writes,
        "resuming an image finds everything the pass did; it writes nothing"
    );
    assert_one_of_everything(&world, &world.ledger_path);
    assert_intent_before_every_write(&world, 0);
}

// ---- duplicate sources ----------------------------------------------------------------------
// Also proven elsewhere: the same webhook replayed 100 times, 200 concurrent nudges and a
// nudge racing a pass for the same hire (tests/webhook.rs); a second process refused with the
// holder's pid (tests/daemon.rs).

/// Ten hires, 2001–2010, listed five to a page (Pinpoint sorts by id), and application 2000
/// in the offer stage: sorted first once it is hired.
fn paged_world() -> World {
    let mut scenario = Scenario::empty().with_job("1", "Engineer", Visibility::External);
    for n in 2000..=2010 {
        let mut app = SimApplication::hired(
            &n.to_string(),
            "Paged",
            &format!("Hire{n}"),
            &format!("paged{n}@example.com"),
            "1",
        );
        if n == 2000 {
            app.stage = Stage::Offer;
        }
        scenario = scenario.with_application(app);
    }
    World::with(
        scenario,
        Settings {
            page_size: 5,
            ..Settings::default()
        },
    )
}

/// How many times the ledger recorded the hire as newly seen.
fn detected(world: &World, id: &str) -> usize {
    world
        .events(id)
        .iter()
        .filter(|e| e.step == "hire" && e.outcome == "detected")
        .count()
}

#[test]
fn an_application_listed_on_two_pages_of_a_shifting_listing_gets_one_of_everything() {
    let world = paged_world();
    // Right after page 1 (2001–2005) is served, the older application 2000 is hired: it sorts
    // first, so page 2 starts again at 2005.
    world.sim.inject(
        FaultRule::new(
            Endpoint::ListApplications,
            Fault::ThenSetStage {
                application_id: "2000".into(),
                stage: Stage::Hired,
            },
        )
        .matching("page[number]=1")
        .not_on_probes(),
    );
    world.sync().expect(0);
    assert_eq!(world.sim.listing_calls(), 3, "three pages");
    assert!(
        world.ledger().entry(&"2000".into()).unwrap().is_none(),
        "2000 slipped in before page 1's end: this pass did not list it"
    );
    for id in 2001..=2010 {
        assert!(world.is_done(&id.to_string()), "{id}");
    }
    assert_eq!(detected(&world, "2005"), 1);
    assert_eq!(
        world.sim.count(Endpoint::CreatePerson),
        10,
        "2005 created once"
    );
    // The next pass lists 2000 at its place.
    world.sync().expect(0);
    assert_one_of_everything(&world, &world.ledger_path);
    assert_intent_before_every_write(&world, 0);
}

#[test]
fn an_application_pushed_off_a_page_by_a_shifting_listing_is_done_by_the_next_pass() {
    let world = paged_world();
    world.sim.set_stage("2000", Stage::Hired);
    // After page 1 (2000–2004) is served, 2001 leaves the hired stage: 2005 moves up to
    // page 1 and this pass does not see it.
    world.sim.inject(
        FaultRule::new(
            Endpoint::ListApplications,
            Fault::ThenSetStage {
                application_id: "2001".into(),
                stage: Stage::Offer,
            },
        )
        .matching("page[number]=1")
        .not_on_probes(),
    );
    world.sync().expect(0);
    assert!(
        world.ledger().entry(&"2005".into()).unwrap().is_none(),
        "skipped"
    );
    // Hired again: at least once means the next pass catches up.
    world.sim.set_stage("2001", Stage::Hired);
    world.sync().expect(0);
    assert!(world.is_done("2005"));
    assert_one_of_everything(&world, &world.ledger_path);
    assert_intent_before_every_write(&world, 0);
}

#[test]
fn two_daemons_started_at_once_on_one_ledger_one_is_refused_and_the_other_does_everything() {
    let scenario = (0..15).fold(
        Scenario::empty().with_job("1", "Engineer", Visibility::External),
        |s, n| {
            s.with_application(SimApplication::hired(
                &(5000 + n).to_string(),
                "Twin",
                &format!("Daemon{n}"),
                &format!("twin{n}@example.com"),
                "1",
            ))
        },
    );
    let world = World::new(scenario);
    // Their output goes to files: an unread pipe could fill up and stall the one that runs.
    let spawn = |name: &str| {
        let log = world.dir.path().join(name);
        let child = world
            .command(&["run"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        (child, log)
    };
    let (mut first, first_log) = spawn("first.log");
    let (mut second, second_log) = spawn("second.log");
    // One of them exits at once, refused; which one is the scheduler's choice.
    assert!(wait_for(EVENTUALLY, || first.try_wait().unwrap().is_some()
        || second.try_wait().unwrap().is_some()));
    let (mut refused, refused_log, mut running) = if first.try_wait().unwrap().is_some() {
        (first, first_log, second)
    } else {
        (second, second_log, first)
    };
    assert_eq!(refused.wait().unwrap().code(), Some(1));
    let said = std::fs::read_to_string(refused_log).unwrap();
    let expected = format!("in use by another hirebridge (pid {})", running.id());
    assert!(said.contains(&expected), "{said}");
    assert!(
        running.try_wait().unwrap().is_none(),
        "the other one runs on"
    );
    assert!(wait_for(EVENTUALLY, || world
        .hired_ids()
        .iter()
        .all(|id| world.is_done(id))));
    signal("TERM", &running);
    assert_eq!(common::exit_code_within(&mut running, EVENTUALLY), 0);
    assert_one_of_everything(&world, &world.ledger_path);
    assert_intent_before_every_write(&world, 0);
}

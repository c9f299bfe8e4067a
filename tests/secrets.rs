//! No credential ever shows: with distinctive values for Pinpoint's API key, HiBob's service
//! user token (and the Base64 of `id:token` its Basic auth carries) and the webhook signing
//! secret, every command the operator runs — at trace level, in both log formats, on success,
//! on 401 and 403 from each API, on HTML and truncated answers, on a bad config — prints none
//! of them, and neither do the reports, the ledger's files on disk, the listener's answers or
//! the `Debug` form of anything that holds them.

mod common;

use std::process::Stdio;

use base64::Engine as _;
use common::{
    EVENTUALLY, Settings, World, exit_code_within, free_local_addr, http, signal, wait_for,
};
use hirebridge::sim::{Endpoint, Fault, FaultRule};

const PINPOINT_KEY: &str = "pk_live_Q7v3XkZ9wR2mN8sT4yB6";
const HIBOB_ID: &str = "SERVICE-7F3A9C1E";
const HIBOB_TOKEN: &str = "hbtok_Jd82KslQp0ZxVb7Rm3Wc";
const WEBHOOK_SECRET: &str = "whsec_Lm4Nq8Rt2Vx6Zb0Cd";
/// What a refused attempt sends instead: it must not show either.
const WRONG_TOKEN: &str = "hbtok_WRONG_a9f8e7d6c5b4";

fn basic(id: &str, token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{token}"))
}

/// Every form in which a credential could leak.
fn needles() -> Vec<String> {
    vec![
        PINPOINT_KEY.into(),
        HIBOB_TOKEN.into(),
        WEBHOOK_SECRET.into(),
        WRONG_TOKEN.into(),
        basic(HIBOB_ID, HIBOB_TOKEN),
        basic(HIBOB_ID, WRONG_TOKEN),
        base64::engine::general_purpose::STANDARD.encode(HIBOB_TOKEN),
        base64::engine::general_purpose::STANDARD.encode(PINPOINT_KEY),
        // The secrets' distinctive middles, in case one is cut or re-encoded around them.
        "Q7v3XkZ9wR2mN8sT".into(),
        "Jd82KslQp0ZxVb7R".into(),
        "Lm4Nq8Rt2Vx6Zb0C".into(),
    ]
}

fn assert_no_secret(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    for needle in needles() {
        assert!(
            !text.contains(&needle),
            "{what} shows the secret {needle:?}:\n{text}"
        );
    }
}

/// A world whose simulator accepts only the distinctive credentials, with them in the
/// environment, logging everything at trace level.
fn secret_world(settings: Settings) -> World {
    let mut world = World::with(common::one_hire(), settings);
    world
        .sim
        .set_credentials(PINPOINT_KEY, HIBOB_ID, HIBOB_TOKEN);
    world.set_env("PINPOINT_API_KEY", PINPOINT_KEY);
    world.set_env("HIBOB_SERVICE_USER_ID", HIBOB_ID);
    world.set_env("HIBOB_SERVICE_USER_TOKEN", HIBOB_TOKEN);
    world.set_env("PINPOINT_WEBHOOK_SECRET", WEBHOOK_SECRET);
    world.set_env("HIREBRIDGE_LOG", "trace");
    world
}

/// Runs the binary with `args` and checks both streams; returns the exit code.
fn run_clean(world: &World, label: &str, args: &[&str]) -> i32 {
    let run = world.hirebridge(args);
    assert!(!run.stderr().contains("panicked"), "{label}: {}", run.all());
    assert_no_secret(&format!("{label} (stdout)"), &run.0.stdout);
    assert_no_secret(&format!("{label} (stderr)"), &run.0.stderr);
    run.code()
}

/// The ledger's files as they lie on disk: database, WAL and shared memory.
fn assert_ledger_clean(world: &World) {
    let mut seen = 0;
    for entry in std::fs::read_dir(world.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("ledger.sqlite3") {
            assert_no_secret(&name, &std::fs::read(&path).unwrap());
            seen += 1;
        }
    }
    assert!(seen >= 1, "the ledger exists");
}

#[test]
fn a_sync_at_trace_level_and_every_read_command_show_no_credential() {
    let world = secret_world(Settings::default());
    for format in ["human", "json"] {
        let mut world_format = world.command(&["sync"]);
        world_format.env("HIREBRIDGE_LOG_FORMAT", format);
        let out = world_format.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}: {out:?}");
        assert_no_secret(&format!("sync, {format} logs"), &out.stderr);
        assert_no_secret(&format!("sync, {format} logs"), &out.stdout);
        let trace = String::from_utf8_lossy(&out.stderr);
        assert!(
            format == "json" || trace.contains("TRACE") || trace.contains("DEBUG"),
            "the logs really are at trace level: {trace}"
        );
    }
    world.assert_exactly_once();
    assert_eq!(world.row("1001")["status"], "done");

    for (label, args) in [
        ("check", &["check"][..]),
        ("plan", &["plan"]),
        ("status", &["status"]),
        ("status json", &["status", "--format", "json"]),
        ("report", &["report"]),
        ("report csv", &["report", "--format", "csv"]),
        ("report json", &["report", "--format", "json"]),
        ("report html", &["report", "--format", "html"]),
        ("history", &["history", "1001"]),
        ("history json", &["history", "1001", "--format", "json"]),
        ("history by email", &["history", "ada@example.com"]),
        ("retry", &["retry", "1001"]),
    ] {
        let code = run_clean(&world, label, args);
        assert!(code == 0 || label == "retry", "{label} exits {code}");
    }
    assert_ledger_clean(&world);
}

#[test]
fn refusals_and_broken_answers_from_either_api_show_no_credential() {
    // (what, fault) — each in a fresh world, then one more sync once the fault is gone.
    let cases: Vec<(&str, FaultRule)> = vec![
        (
            "Pinpoint 401",
            FaultRule::new(Endpoint::ListApplications, Fault::Status(401)),
        ),
        (
            "Pinpoint 403",
            FaultRule::new(Endpoint::ListApplications, Fault::Status(403)),
        ),
        (
            "Pinpoint 403 on comment",
            FaultRule::new(Endpoint::PostComment, Fault::Status(403)),
        ),
        (
            "HiBob 401",
            FaultRule::new(Endpoint::SearchPeople, Fault::Status(401)),
        ),
        (
            "HiBob 403 on create",
            FaultRule::new(Endpoint::CreatePerson, Fault::Status(403)),
        ),
        (
            "HiBob 401 on upload",
            FaultRule::new(Endpoint::UploadDocument, Fault::Status(401)),
        ),
        (
            "HTML listing",
            FaultRule::new(Endpoint::ListApplications, Fault::MalformedBody).not_on_probes(),
        ),
        (
            "HTML search",
            FaultRule::new(Endpoint::SearchPeople, Fault::MalformedBody).not_on_probes(),
        ),
        (
            "truncated create",
            FaultRule::new(Endpoint::CreatePerson, Fault::TruncatedJson),
        ),
        (
            "truncated comment",
            FaultRule::new(Endpoint::PostComment, Fault::TruncatedJson),
        ),
        (
            "HiBob 502 from the edge",
            FaultRule::new(Endpoint::CreatePerson, Fault::Status(502)).times(5),
        ),
    ];
    for (label, rule) in cases {
        let world = secret_world(Settings::default());
        world.sim.inject(rule);
        let code = run_clean(&world, label, &["sync"]);
        assert_ne!(code, 0, "{label}: the fault was met");
        for args in [&["status"][..], &["report", "--format", "json"]] {
            run_clean(&world, &format!("{label}, then {args:?}"), args);
        }
        run_clean(&world, &format!("{label}, then check"), &["check"]);
        world.hirebridge(&["retry", "--all-failed"]);
        run_clean(&world, &format!("{label}, healed"), &["sync"]);
        assert_ledger_clean(&world);
    }

    // A wrong token really sent, refused by the simulator itself (an empty 401, as HiBob does).
    let mut world = secret_world(Settings::default());
    world.set_env("HIBOB_SERVICE_USER_TOKEN", WRONG_TOKEN);
    assert_eq!(run_clean(&world, "wrong token", &["sync"]), 3);
    assert_eq!(run_clean(&world, "wrong token, check", &["check"]), 1);
    assert_eq!(world.sim.count_status(Endpoint::SearchPeople, 401), 1);
    assert_ledger_clean(&world);
}

#[test]
fn config_errors_about_a_credential_do_not_echo_it() {
    let mut world = secret_world(Settings::default());
    // Base64 that does not decode to "id:token": the value itself must not be repeated.
    world
        .env
        .retain(|(k, _)| !k.starts_with("HIBOB_SERVICE_USER"));
    world.set_env("HIBOB_BASE64_TOKEN", &format!("{HIBOB_TOKEN}!"));
    for command in ["sync", "check", "plan"] {
        assert_eq!(run_clean(&world, command, &[command]), 1);
    }
    // The id without the token, and a key that cannot be a header value (a newline in it).
    world.env.retain(|(k, _)| k != "HIBOB_BASE64_TOKEN");
    world.set_env("HIBOB_SERVICE_USER_ID", HIBOB_ID);
    assert_eq!(run_clean(&world, "id without token", &["check"]), 1);
    world.set_env("HIBOB_SERVICE_USER_TOKEN", HIBOB_TOKEN);
    world.set_env(
        "PINPOINT_API_KEY",
        &format!("{PINPOINT_KEY}\nX-Injected: 1"),
    );
    run_clean(&world, "key with a newline", &["sync"]);
    assert_eq!(
        world.sim.count(Endpoint::CreatePerson),
        0,
        "nothing written with a broken key"
    );
    // The key from a secret file, next to a config error, and a secret file that is missing:
    // errors name the key and the path, never the content.
    let key_file = world.dir.path().join("pinpoint_api_key");
    std::fs::write(&key_file, PINPOINT_KEY).unwrap();
    world.env.retain(|(k, _)| k != "PINPOINT_API_KEY");
    let config = std::fs::read_to_string(&world.config_path).unwrap();
    let with_file = config.replace(
        "[hibob]",
        &format!("api_key_file = \"{}\"\n[hibob]", key_file.display()),
    );
    std::fs::write(
        &world.config_path,
        with_file.replace("page_size = 100", "page_size = 0"),
    )
    .unwrap();
    assert_eq!(run_clean(&world, "bad page size", &["check"]), 1);
    std::fs::write(
        &world.config_path,
        with_file.replace("pinpoint_api_key\"", "absent_key_file\""),
    )
    .unwrap();
    let run = world.hirebridge(&["check"]);
    assert!(run.all().contains("pinpoint.api_key_file"), "{}", run.all());
    assert_eq!(run_clean(&world, "missing key file", &["sync"]), 1);
    std::fs::write(&world.config_path, &with_file).unwrap();
    assert_eq!(run_clean(&world, "key from a file", &["sync"]), 0);
}

#[test]
fn the_listener_and_the_daemons_logs_show_no_credential() {
    let addr = free_local_addr();
    let world = secret_world(Settings {
        every: "1h",
        webhook_listen: Some(addr),
        ..Settings::default()
    });
    let log = world.dir.path().join("daemon.log");
    let mut daemon = world
        .command(&["run"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    assert!(wait_for(EVENTUALLY, || world.is_done("1001")));

    let event = common::hired_event(1001);
    let json = ("Content-Type", "application/json");
    let forged = hirebridge::webhook::sign("guess", &event);
    let genuine = hirebridge::webhook::sign(WEBHOOK_SECRET, &event);
    let answers = [
        http(addr, "POST", "/webhooks/pinpoint", &[json], &event).unwrap(),
        http(
            addr,
            "POST",
            "/webhooks/pinpoint",
            &[json, ("PINPOINT-HMAC-SHA256", &forged)],
            &event,
        )
        .unwrap(),
        http(
            addr,
            "POST",
            "/webhooks/pinpoint",
            &[json, ("PINPOINT-HMAC-SHA256", &genuine)],
            b"{",
        )
        .unwrap(),
        http(
            addr,
            "POST",
            "/webhooks/pinpoint",
            &[json, ("PINPOINT-HMAC-SHA256", &genuine)],
            &event,
        )
        .unwrap(),
        http(addr, "GET", "/healthz", &[], b"").unwrap(),
        http(addr, "GET", "/metrics", &[], b"").unwrap(),
    ];
    assert_eq!(answers[0].status, 401);
    assert_eq!(answers[1].status, 401);
    assert_eq!(
        answers[2].status, 401,
        "another body under a genuine signature"
    );
    assert_eq!(answers[3].status, 202);
    for answer in &answers {
        assert_no_secret("a listener answer", format!("{answer:?}").as_bytes());
    }
    // A credential refused while the daemon runs: the next nudge meets a 401.
    world
        .sim
        .inject(FaultRule::new(Endpoint::GetApplication, Fault::Status(401)));
    world
        .sim
        .add_application(hirebridge::sim::SimApplication::hired(
            "1002",
            "Grace",
            "Hopper",
            "grace@example.com",
            "1",
        ));
    let event = common::hired_event(1002);
    let signature = hirebridge::webhook::sign(WEBHOOK_SECRET, &event);
    http(
        addr,
        "POST",
        "/webhooks/pinpoint",
        &[json, ("PINPOINT-HMAC-SHA256", &signature)],
        &event,
    )
    .unwrap();
    assert!(wait_for(EVENTUALLY, || {
        world.sim.count_status(Endpoint::GetApplication, 401) == 1
    }));
    signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);
    let logged = std::fs::read(&log).unwrap();
    assert!(
        String::from_utf8_lossy(&logged).contains("webhook refused"),
        "the log holds the refusals"
    );
    assert_no_secret("the daemon's trace log", &logged);
    assert_ledger_clean(&world);
}

#[test]
fn debug_forms_of_config_clients_and_errors_redact_credentials() {
    // hirebridge has no panic hook or debug switch that prints state; what a panic (or a
    // `{:?}` anywhere) could print is the `Debug` form of what holds a credential.
    let world = secret_world(Settings {
        webhook_listen: Some(free_local_addr()),
        ..Settings::default()
    });
    let config = world.config();
    let mut shown = format!("{config:?}");
    shown.push_str(&format!("{:?}", config.pinpoint));
    shown.push_str(&format!("{:?}", config.hibob));
    shown.push_str(&format!("{:?}", config.webhook));
    shown.push_str(&format!(
        "{:?}",
        hirebridge::webhook::SigningSecret::new(config.webhook.as_ref().unwrap().secret.clone())
    ));
    assert_no_secret("Debug of the config", shown.as_bytes());
    assert!(
        shown.contains("REDACTED"),
        "secrets are shown as redacted: {shown}"
    );

    let mut sources = hirebridge::config::SecretSources::default();
    sources
        .vars
        .insert("PINPOINT_API_KEY".into(), PINPOINT_KEY.into());
    sources
        .vars
        .insert("HIBOB_BASE64_TOKEN".into(), format!("{HIBOB_TOKEN}!"));
    let text = std::fs::read_to_string(&world.config_path).unwrap();
    let error = hirebridge::config::Config::parse(&world.config_path, &text, &sources).unwrap_err();
    assert_no_secret("a config error", format!("{error} {error:?}").as_bytes());
}

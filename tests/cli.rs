//! The command line as operators use it: the demo, reports, and clear one-line errors for
//! every kind of bad configuration.

mod common;

use std::process::Command;

use common::{BINARY, World};

fn bare(args: &[&str]) -> common::Run {
    common::Run(
        Command::new(BINARY)
            .env_clear()
            .args(args)
            .output()
            .unwrap(),
    )
}

#[test]
fn the_demo_needs_no_credentials_and_shows_hires_flowing_through() {
    let run = bare(&["demo"]).expect(0);
    let out = run.stdout();
    assert!(
        out.contains("pass 1: 36 hired listed, 36 new, 36 completed"),
        "{out}"
    );
    assert!(out.contains("0 write calls"), "{out}");
    assert!(
        out.contains("36 hires: 36 done, 0 pending, 0 failed, 0 need attention"),
        "{out}"
    );
    assert!(
        out.contains("adopted"),
        "seeded employees are adopted: {out}"
    );
    assert!(out.contains("none"), "some hires have no CV: {out}");
}

#[test]
fn the_demo_can_keep_its_ledger_for_report() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("demo.sqlite3");
    bare(&["demo", "--ledger", ledger.to_str().unwrap()]).expect(0);
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[pinpoint]\nbase_url = \"http://127.0.0.1:1/api/v1\"\n[hibob]\nsite = \"x\"\n[ledger]\npath = \"{}\"\n",
            ledger.display()
        ),
    )
    .unwrap();
    // `report` needs no credentials: it only reads the ledger.
    let run = bare(&[
        "--config",
        config.to_str().unwrap(),
        "report",
        "--format",
        "csv",
    ])
    .expect(0);
    let out = run.stdout();
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    assert_eq!(reader.records().count(), 36);
}

fn world() -> World {
    common::one_hire_world()
}

#[test]
fn report_formats_and_status_filter() {
    let world = world();
    world.sync().expect(0);
    let table = world.hirebridge(&["report"]).expect(0).stdout();
    assert!(table.starts_with("APPLICATION"), "{table}");
    assert!(table.contains("1 hires: 1 done"), "{table}");
    let csv = world
        .hirebridge(&["report", "--format", "csv"])
        .expect(0)
        .stdout();
    assert!(csv.starts_with("application_id,email,"), "{csv}");
    let none = world
        .hirebridge(&["report", "--format", "json", "--status", "failed"])
        .expect(0)
        .stdout();
    assert_eq!(none.trim(), "[]");
    let bad = world.hirebridge(&["report", "--status", "weird"]).expect(2);
    assert!(bad.stderr().contains("needs_attention"), "{}", bad.all());
}

#[test]
fn report_before_any_sync_says_what_to_do() {
    let world = world();
    let run = world.hirebridge(&["report"]).expect(1);
    assert!(
        run.stderr().contains("run `hirebridge sync`"),
        "{}",
        run.all()
    );
}

#[test]
fn retry_of_an_unknown_hire_is_an_error() {
    let world = world();
    world.sync().expect(0);
    let run = world.hirebridge(&["retry", "999"]).expect(1);
    assert!(
        run.stderr().contains("no hire with application id 999"),
        "{}",
        run.all()
    );
}

/// Each broken config must fail before any work, in one line naming what to fix.
#[test]
fn every_kind_of_bad_config_fails_with_one_line_naming_the_key() {
    let world = world();
    let good = std::fs::read_to_string(&world.config_path).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            good.replace("[ledger]", "[ledger]\ncolour = \"blue\""),
            "colour",
        ),
        (
            good.replace("read_lag = \"0s\"", "read_lag = \"a while\""),
            "hibob.read_lag",
        ),
        (
            good.replace(
                "rate_limit = \"1000/1s\"\npage_size",
                "rate_limit = \"fast\"\npage_size",
            ),
            "pinpoint.rate_limit",
        ),
        (
            good.replace(&world.sim.hibob_base_url(), "not a url"),
            "hibob.base_url",
        ),
        (
            good.replace("every = \"1s\"", "cron = \"every day\""),
            "schedule.cron",
        ),
        (
            good.replace("page_size = 100", "page_size = 0"),
            "pinpoint.page_size",
        ),
        ("[pinpoint\n".into(), "line 1"),
    ];
    for (text, key) in cases {
        std::fs::write(&world.config_path, &text).unwrap();
        let run = world.sync().expect(1);
        let err = run.stderr();
        assert!(err.contains(key), "expected {key:?} in: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    assert_eq!(
        world.sim.calls().len(),
        0,
        "no API call with a broken config"
    );
    assert!(
        !world.ledger_path.exists(),
        "no ledger with a broken config"
    );
}

#[test]
fn missing_secrets_and_missing_config_say_what_to_set() {
    let mut world = world();
    world.env.clear();
    let run = world.sync().expect(1);
    assert!(run.stderr().contains("PINPOINT_API_KEY"), "{}", run.all());

    let run = bare(&["--config", "/nonexistent/hirebridge.toml", "sync"]).expect(1);
    assert!(run.stderr().contains("HIREBRIDGE_CONFIG"), "{}", run.all());
    assert_eq!(
        run.stderr().matches("No such file or directory").count(),
        1,
        "the cause is said once: {}",
        run.all()
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line_definitions() {
    for (shell, marker) in [
        ("bash", "_hirebridge()"),
        ("zsh", "#compdef hirebridge"),
        ("fish", "complete -c hirebridge"),
    ] {
        let run = bare(&["completions", shell]).expect(0);
        let script = run.stdout();
        assert!(script.contains(marker), "{shell}: {script}");
        for command in ["sync", "status", "report", "check", "plan"] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
    }
    let man = bare(&["man"]).expect(0).stdout();
    assert!(man.contains(".TH hirebridge 1"), "{man}");
    assert!(man.contains("\\-\\-config"), "documents --config: {man}");
    let bad = bare(&["completions", "cmd.exe"]);
    assert_ne!(bad.code(), 0);
    // A reader that stops early ends the command quietly, as for any filter.
    let mut child = Command::new(BINARY)
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Broken pipe"));
}

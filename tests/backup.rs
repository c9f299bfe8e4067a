//! Backups that restore: `hirebridge backup` beside a running pass, `hirebridge restore`, and
//! the drill an operator would run — a backup, more hires done, the ledger lost, a restore and
//! a `sync` — ending with every hire done exactly once and the audit trail verifying.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{EVENTUALLY, World, exit_code_within, new_hire, wait_for};
use hirebridge::ledger::{HireStatus, LEDGER_EVENT_ID, Ledger, StepState};
use hirebridge::sim::{Endpoint, Fault, FaultRule, Scenario, Visibility};

/// `hires` new hires (applications 3000, 3001, …) on job 1.
fn hires(count: u64) -> Scenario {
    let mut scenario = Scenario::empty().with_job("1", "Engineer", Visibility::External);
    for n in 0..count {
        scenario = scenario.with_application(new_hire(3000 + n));
    }
    scenario
}

/// Runs `hirebridge backup <dir>`, expecting success; returns the backup's directory.
fn backup_into(world: &World, dir: &Path) -> PathBuf {
    let run = world
        .hirebridge(&["backup", dir.to_str().unwrap()])
        .expect(0);
    let out = run.stdout();
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("backup ok: "))
        .unwrap_or_else(|| panic!("no `backup ok` line: {}", run.all()));
    PathBuf::from(line)
}

fn remove_ledger(world: &World) {
    for suffix in ["", "-wal", "-shm"] {
        let mut path = world.ledger_path.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(path));
    }
}

fn key_path(world: &World) -> PathBuf {
    world.dir.path().join("ledger.sqlite3.audit-key")
}

#[test]
fn a_backup_taken_during_a_running_pass_restores_to_a_ledger_that_verifies() {
    let world = World::new(hires(12));
    // The seventh create is held for a while after HiBob made it: the pass is surely running
    // (with hires done before it and others still to come) while the backup is taken.
    world.sim.inject(
        FaultRule::new(
            Endpoint::CreatePerson,
            Fault::CommitThenDelay(Duration::from_secs(6)),
        )
        .matching("hire3006@"),
    );
    let mut sync = world.command(&["sync"]).spawn().expect("sync starts");
    assert!(wait_for(EVENTUALLY, || world
        .sim
        .count(Endpoint::CreatePerson)
        >= 7));
    let backups = world.dir.path().join("backups");
    let taken = backup_into(&world, &backups);
    assert!(
        sync.try_wait().unwrap().is_none(),
        "the pass was still running when the backup was done"
    );
    assert_eq!(exit_code_within(&mut sync, EVENTUALLY), 0);

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(taken.join("manifest.json")).unwrap()).unwrap();
    let copied_events = manifest["ledger"]["events"].as_u64().unwrap();
    let final_events = world.ledger().event_count().unwrap();
    assert!(
        copied_events > 0 && copied_events < final_events,
        "a mid-pass copy: {copied_events} of {final_events} events"
    );
    for file in ["ledger.sqlite3", "config.toml", "manifest.json"] {
        assert!(taken.join(file).is_file(), "{file} in the backup");
    }
    let mode = |p: &Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions())
            & 0o777
    };
    assert_eq!(
        mode(&taken),
        0o700,
        "the backup holds the signing key when there is one"
    );

    // Restored where another config points, it verifies as the ledger itself would.
    let elsewhere = world.dir.path().join("restored");
    let config = world.dir.path().join("restored.toml");
    let text = std::fs::read_to_string(&world.config_path)
        .unwrap()
        .replace(
            &world.ledger_path.display().to_string(),
            &elsewhere.join("ledger.sqlite3").display().to_string(),
        );
    std::fs::write(&config, text).unwrap();
    let config = config.to_str().unwrap();
    world
        .hirebridge(&["--config", config, "restore", taken.to_str().unwrap()])
        .expect(0);
    let verify = world
        .hirebridge(&["--config", config, "audit", "verify"])
        .expect(0);
    assert!(
        verify.stdout().contains("audit trail verified"),
        "{}",
        verify.all()
    );
    let restored = Ledger::open_read_only(&elsewhere.join("ledger.sqlite3")).unwrap();
    assert_eq!(
        restored.event_count().unwrap(),
        copied_events + 1,
        "the copy's events and the restore's own"
    );
}

#[test]
fn restore_drill_backup_ten_more_hires_ledger_lost_restore_sync_every_hire_done_exactly_once() {
    let world = World::new(hires(10));
    world.sync().expect(0);
    let taken = backup_into(&world, &world.dir.path().join("backups"));

    // Ten more hires are done after the backup: employees made, CVs uploaded, comments posted.
    for n in 10..20 {
        world.sim.add_application(new_hire(3000 + n));
    }
    world.sync().expect(0);
    assert_eq!(world.sim.employees().len(), 20);
    let writes = |w: &World| {
        (
            w.sim.count(Endpoint::CreatePerson),
            w.sim.count(Endpoint::UploadDocument),
            w.sim.count(Endpoint::PostComment),
        )
    };
    let before_loss = writes(&world);

    // The disk is lost: the ledger and the signing key beside it.
    remove_ledger(&world);
    std::fs::remove_file(key_path(&world)).unwrap();
    let restore = world
        .hirebridge(&["restore", taken.to_str().unwrap()])
        .expect(0);
    assert!(
        restore.stdout().contains("adopts them"),
        "{}",
        restore.all()
    );
    assert!(key_path(&world).is_file(), "the signing key is restored");
    let sync = world.sync().expect(0);

    assert_eq!(
        writes(&world),
        before_loss,
        "no create, upload or comment after the restore: {}",
        sync.all()
    );
    assert_eq!(world.sim.employees().len(), 20, "0 duplicate employees");
    world.assert_exactly_once();
    for app in world.hired_ids() {
        assert_eq!(world.entry(&app).status, HireStatus::Done, "{app} done");
        assert_eq!(world.sim.comments(&app).len(), 1, "{app}: one comment");
    }
    // A hire done after the backup is adopted, its CV and comment found, not made again.
    let later = world.entry("3015");
    assert_eq!(later.employee.state(), StepState::Done);
    let outcomes: Vec<String> = world
        .events("3015")
        .iter()
        .map(|e| format!("{} {}", e.step, e.outcome))
        .collect();
    assert!(
        outcomes.contains(&"employee adopted".to_owned()),
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&"cv found".to_owned()), "{outcomes:?}");
    assert!(
        outcomes.contains(&"comment found".to_owned()),
        "{outcomes:?}"
    );
    // The gap is in the audit trail: the restore's own event, naming the backup's head.
    let restored = world.ledger().events(&LEDGER_EVENT_ID.into()).unwrap();
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].outcome, "restored");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(taken.join("manifest.json")).unwrap()).unwrap();
    assert!(
        restored[0]
            .detail
            .contains(manifest["ledger"]["head"].as_str().unwrap())
    );
    let verify = world.hirebridge(&["audit", "verify"]).expect(0);
    assert!(
        verify.stdout().contains("audit trail verified"),
        "{}",
        verify.all()
    );
}

#[test]
fn restore_refuses_a_ledger_newer_than_the_backup_unless_forced_and_keeps_it_aside() {
    let world = World::new(hires(2));
    world.sync().expect(0);
    let taken = backup_into(&world, &world.dir.path().join("backups"));
    world.sim.add_application(new_hire(3002));
    world.sync().expect(0);
    let before = world.ledger_fingerprint();

    let refused = world
        .hirebridge(&["restore", taken.to_str().unwrap()])
        .expect(1);
    assert!(
        refused.stderr().contains("newer than the backup") && refused.stderr().contains("--force"),
        "{}",
        refused.all()
    );
    assert_eq!(
        world.ledger_fingerprint(),
        before,
        "the newer ledger is untouched"
    );

    world
        .hirebridge(&["restore", "--force", taken.to_str().unwrap()])
        .expect(0);
    assert!(
        world.ledger().entry(&"3002".into()).unwrap().is_none(),
        "the backup is in place"
    );
    let aside: Vec<String> = std::fs::read_dir(world.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with("ledger.sqlite3.before-restore-")
                && !n.ends_with("-wal")
                && !n.ends_with("-shm")
                && !n.contains("audit-key")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let kept = Ledger::open_read_only(&world.dir.path().join(&aside[0])).unwrap();
    assert!(
        kept.entry(&"3002".into()).unwrap().is_some(),
        "the replaced ledger is kept whole"
    );
}

#[test]
fn restore_refuses_while_the_daemon_holds_the_ledger() {
    let world = World::new(hires(1));
    world.sync().expect(0);
    let taken = backup_into(&world, &world.dir.path().join("backups"));
    let mut daemon = world.spawn_daemon();
    assert!(wait_for(EVENTUALLY, || {
        std::fs::read_to_string(hirebridge::ledger::lock_path(&world.ledger_path))
            .is_ok_and(|pid| pid.trim() == daemon.id().to_string())
    }));
    let refused = world
        .hirebridge(&["restore", taken.to_str().unwrap()])
        .expect(1);
    assert!(
        refused.stderr().contains("stop it first"),
        "{}",
        refused.all()
    );
    common::signal("TERM", &daemon);
    assert_eq!(exit_code_within(&mut daemon, EVENTUALLY), 0);
}

#[test]
fn backups_beyond_keep_are_pruned_oldest_first_and_a_damaged_backup_is_refused() {
    let world = World::new(hires(1));
    let backups = world.dir.path().join("backups");
    world.write_config(&common::Settings {
        extra: format!("[backup]\ndir = \"{}\"\nkeep = 2\n", backups.display()),
        ..Default::default()
    });
    world.sync().expect(0);
    let mut taken = Vec::new();
    for _ in 0..3 {
        let run = world.hirebridge(&["backup"]).expect(0);
        taken.push(PathBuf::from(
            run.stdout()
                .lines()
                .next()
                .unwrap()
                .strip_prefix("backup ok: ")
                .unwrap(),
        ));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!taken[0].exists(), "the oldest is pruned");
    assert!(taken[1].exists() && taken[2].exists());

    // One changed byte in the copied ledger: its checksum no longer matches.
    let ledger = taken[2].join("ledger.sqlite3");
    let mut bytes = std::fs::read(&ledger).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&ledger, bytes).unwrap();
    remove_ledger(&world);
    let refused = world
        .hirebridge(&["restore", taken[2].to_str().unwrap()])
        .expect(1);
    assert!(refused.stderr().contains("damaged"), "{}", refused.all());
    assert!(!world.ledger_path.exists(), "nothing put in place");
}

#[test]
fn malformed_backup_settings_are_refused_naming_the_key() {
    let world = World::new(hires(1));
    let cases = [
        ("keep = 0", "backup.keep"),
        ("keep = -3", "backup.keep"),
        ("keep = 100000", "backup.keep"),
        ("dir = \"relative/backups\"", "backup.dir"),
        ("dir = \"\"", "backup.dir"),
        ("keep = \"14\"", "line"),
        ("directory = \"/tmp\"", "unknown field `directory`"),
    ];
    for (line, named) in cases {
        world.write_config(&common::Settings {
            extra: format!("[backup]\n{line}\n"),
            ..Default::default()
        });
        for command in [&["backup", "/tmp/unused"][..], &["check"][..]] {
            let run = world.hirebridge(command).expect(1);
            // `check` shows its findings on stdout, the other commands their error on stderr.
            assert!(
                run.all().contains(named),
                "{line} with {command:?}: {}",
                run.all()
            );
        }
    }
    // No directory given and none configured: says both ways to give one.
    world.write_config(&common::Settings::default());
    let run = world.hirebridge(&["backup"]).expect(1);
    assert!(run.stderr().contains("backup.dir"), "{}", run.all());
}

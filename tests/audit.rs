//! The audit trail, end to end with the real binary: a chain over a real sync verifies;
//! editing, deleting or reordering a past event, truncating the tail and re-signing with
//! another key, or a checkpoint log that disagrees are each caught and named; `erase` and
//! retention remove a person's personal data from every table, the file, the WAL and every
//! report while the chain still verifies; an export verifies on its own.

mod common;

use common::{Settings, World};
use hirebridge::audit::AuditKey;
use hirebridge::ledger::{ChainedEvent, GENESIS, event_hash};
use hirebridge::sim::{Scenario, SimApplication, Visibility};
use rusqlite::{Connection, params};

fn hire(id: &str, first: &str, last: &str, email: &str) -> SimApplication {
    SimApplication::hired(id, first, last, email, "1")
}

fn three_hires() -> Scenario {
    Scenario::empty()
        .with_job("1", "Engineer", Visibility::External)
        .with_application(hire("1001", "Ada", "Lovelace", "ada@example.com"))
        .with_application(hire("1002", "Bob", "Byte", "bob@example.com"))
        .with_application(hire("1003", "Grace", "Hopper", "grace@example.com"))
}

/// A world whose checkpoints also go to a log outside the ledger.
fn synced_world() -> World {
    let world = World::new(three_hires());
    let log = world.dir.path().join("published-checkpoints.jsonl");
    world.write_config(&Settings {
        extra: format!("[audit]\ncheckpoint_log = \"{}\"\n", log.display()),
        ..Settings::default()
    });
    world.sync().expect(0);
    world
}

fn log_path(world: &World) -> std::path::PathBuf {
    world.dir.path().join("published-checkpoints.jsonl")
}

fn public_key(world: &World) -> String {
    world
        .hirebridge(&["audit", "key"])
        .expect(0)
        .stdout()
        .trim()
        .to_owned()
}

fn verify(world: &World, extra: &[&str]) -> common::Run {
    let mut args = vec!["audit", "verify"];
    args.extend_from_slice(extra);
    world.hirebridge(&args)
}

/// Changes the ledger as someone with write access to the file could: the append-only
/// triggers are dropped first (they stop hirebridge's own mistakes, not an attacker).
fn tamper(world: &World, sql: &str) {
    let conn = Connection::open(&world.ledger_path).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         DROP TRIGGER IF EXISTS events_are_never_updated;
         DROP TRIGGER IF EXISTS events_are_never_deleted;
         DROP TRIGGER IF EXISTS event_details_are_never_updated;
         DROP TRIGGER IF EXISTS checkpoints_are_never_updated;
         DROP TRIGGER IF EXISTS checkpoints_are_never_deleted;",
    )
    .unwrap();
    conn.execute_batch(sql).unwrap();
}

/// A copy of the world's ledger directory to tamper with, leaving the original intact.
fn copy_of(world: &World) -> World {
    let copy = World::new(three_hires());
    for name in [
        "ledger.sqlite3",
        "ledger.sqlite3-wal",
        "ledger.sqlite3.audit-key",
    ] {
        let from = world.dir.path().join(name);
        if from.exists() {
            std::fs::copy(from, copy.dir.path().join(name)).unwrap();
        }
    }
    copy
}

#[test]
fn a_chain_over_a_real_sync_verifies_with_its_key_and_published_log() {
    let world = synced_world();
    let key = public_key(&world);
    assert_eq!(key.len(), 64, "{key}");
    let log = log_path(&world);
    let run = verify(
        &world,
        &["--key", &key, "--checkpoints", log.to_str().unwrap()],
    )
    .expect(0);
    assert!(
        run.stdout().contains("audit trail verified"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout().contains("and 1 in the checkpoint log"),
        "{}",
        run.all()
    );
    // A second pass that writes nothing signs nothing new.
    world.sync().expect(0);
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    let json = verify(&world, &["--format", "json"]).expect(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(value["ok"], true);
    assert!(
        value["verified"]["events"].as_u64().unwrap() >= 3 * 8,
        "{value}"
    );
    let status = world.hirebridge(&["status", "--format", "json"]).expect(0);
    let status: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    assert_eq!(
        status["audit"]["events"], value["verified"]["events"],
        "{status}"
    );
    assert_eq!(status["audit"]["checkpoints"], 1, "{status}");
    assert_eq!(status["audit"]["unsealed_events"], 0, "{status}");
    let text = world.hirebridge(&["status"]).expect(0).stdout();
    assert!(text.contains("audit        "), "{text}");
    // The key file is the owner's alone.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(world.dir.path().join("ledger.sqlite3.audit-key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn editing_any_field_of_a_past_event_is_caught_and_the_event_named() {
    let world = synced_world();
    let edits = [
        (
            "UPDATE events SET outcome = 'adopted' WHERE id = 3",
            "recorded content",
        ),
        (
            "UPDATE events SET step = 'cv' WHERE id = 3",
            "recorded content",
        ),
        (
            "UPDATE events SET at = at + 1 WHERE id = 3",
            "recorded content",
        ),
        (
            "UPDATE events SET application_id = '1002' WHERE id = 3",
            "recorded content",
        ),
        (
            "UPDATE events SET pass_id = NULL WHERE id = 3",
            "recorded content",
        ),
        (
            "UPDATE event_details SET detail = detail || ' ' WHERE event_id = 3",
            "detail text was changed",
        ),
        (
            "UPDATE event_details SET salt = zeroblob(16) WHERE event_id = 3",
            "detail text was changed",
        ),
        (
            "UPDATE events SET hash = prev_hash WHERE id = 3",
            "recorded content",
        ),
    ];
    for (sql, what) in edits {
        let copy = copy_of(&world);
        tamper(&copy, sql);
        let run = verify(&copy, &[]).expect(1);
        assert!(run.stdout().contains("BROKEN"), "{sql}: {}", run.all());
        assert!(
            run.stdout().contains(what) && run.stdout().contains("event #"),
            "{sql}: {}",
            run.all()
        );
        assert!(run.stdout().contains("event #3 ("), "{sql}: {}", run.all());
    }
}

#[test]
fn deleting_reordering_or_dropping_a_detail_is_caught() {
    let world = synced_world();
    let copy = copy_of(&world);
    tamper(
        &copy,
        "DELETE FROM event_details WHERE event_id = 5; DELETE FROM events WHERE id = 5",
    );
    let run = verify(&copy, &[]).expect(1);
    assert!(
        run.stdout().contains("event #5 is missing"),
        "{}",
        run.all()
    );

    // Two events swap places (every column but the id).
    let copy = copy_of(&world);
    tamper(
        &copy,
        "CREATE TEMP TABLE swap AS SELECT * FROM events WHERE id IN (4, 5);
         UPDATE events SET application_id = (SELECT application_id FROM swap WHERE id = 9 - events.id),
            at = (SELECT at FROM swap WHERE id = 9 - events.id),
            pass_id = (SELECT pass_id FROM swap WHERE id = 9 - events.id),
            step = (SELECT step FROM swap WHERE id = 9 - events.id),
            outcome = (SELECT outcome FROM swap WHERE id = 9 - events.id),
            detail_digest = (SELECT detail_digest FROM swap WHERE id = 9 - events.id),
            prev_hash = (SELECT prev_hash FROM swap WHERE id = 9 - events.id),
            hash = (SELECT hash FROM swap WHERE id = 9 - events.id)
         WHERE id IN (4, 5);
         CREATE TEMP TABLE dswap AS SELECT * FROM event_details WHERE event_id IN (4, 5);
         DELETE FROM event_details WHERE event_id IN (4, 5);
         INSERT INTO event_details SELECT 9 - event_id, salt, detail FROM dswap;",
    );
    let run = verify(&copy, &[]).expect(1);
    assert!(run.stdout().contains("event #4 ("), "{}", run.all());
    assert!(run.stdout().contains("does not follow"), "{}", run.all());

    // A detail deleted outside hirebridge is not an erasure.
    let copy = copy_of(&world);
    tamper(&copy, "DELETE FROM event_details WHERE event_id = 2");
    let run = verify(&copy, &[]).expect(1);
    assert!(run.stdout().contains("event #2 ("), "{}", run.all());
    assert!(run.stdout().contains("no erasure"), "{}", run.all());
}

/// Renumbers the events and recomputes every hash, as someone who knows the algorithm would after
/// deleting or changing an event (details are kept).
fn rechain(world: &World) {
    let conn = Connection::open(&world.ledger_path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    let rows: Vec<ChainedEvent> = conn
        .prepare(
            "SELECT id, application_id, at, pass_id, step, outcome, detail_digest
             FROM events ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok(ChainedEvent {
                id: r.get(0)?,
                application_id: r.get(1)?,
                at_ms: r.get(2)?,
                pass_id: r.get(3)?,
                trigger: None,
                step: r.get(4)?,
                outcome: r.get(5)?,
                detail_digest: hex::encode(r.get::<_, Vec<u8>>(6)?),
                prev_hash: String::new(),
                hash: String::new(),
                detail: None,
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = GENESIS.to_owned();
    for (index, mut event) in rows.into_iter().enumerate() {
        let old_id = event.id;
        let id = index as i64 + 1;
        event.id = id;
        let hash = event_hash(&prev, &event.content());
        conn.execute(
            "UPDATE events SET id = ?2, prev_hash = ?3, hash = ?4 WHERE id = ?1",
            params![
                old_id,
                id,
                hex::decode(&prev).unwrap(),
                hex::decode(&hash).unwrap()
            ],
        )
        .unwrap();
        conn.execute(
            "UPDATE event_details SET event_id = ?2 WHERE event_id = ?1",
            params![old_id, id],
        )
        .unwrap();
        prev = hash;
    }
}

#[test]
fn a_consistently_rewritten_chain_is_caught_by_its_checkpoint() {
    let world = synced_world();
    let copy = copy_of(&world);
    tamper(
        &copy,
        "DELETE FROM event_details WHERE event_id = 7; DELETE FROM events WHERE id = 7",
    );
    rechain(&copy);
    let run = verify(&copy, &[]).expect(1);
    assert!(run.stdout().contains("checkpoint #1"), "{}", run.all());
    assert!(
        run.stdout().contains("rewritten") || run.stdout().contains("removed from the end"),
        "{}",
        run.all()
    );
}

#[test]
fn truncating_the_tail_and_re_signing_with_another_key_is_caught_by_the_key_or_the_log() {
    let world = synced_world();
    let original_key = public_key(&world);
    let copy = copy_of(&world);
    // The attacker drops the last events and the checkpoints, makes a key of their own
    // (replacing the key file) and signs the shorter chain's head.
    tamper(
        &copy,
        "DELETE FROM event_details WHERE event_id > 10; DELETE FROM events WHERE id > 10;
         DELETE FROM checkpoints;",
    );
    let key_file = copy.dir.path().join("ledger.sqlite3.audit-key");
    std::fs::remove_file(&key_file).unwrap();
    let forged = AuditKey::load_or_create(&key_file).unwrap();
    let head: String = Connection::open(&copy.ledger_path)
        .unwrap()
        .query_row("SELECT hash FROM events WHERE id = 10", [], |r| {
            r.get::<_, Vec<u8>>(0).map(hex::encode)
        })
        .unwrap();
    let checkpoint = forged.sign(10, &head, chrono::Utc::now().timestamp_millis());
    Connection::open(&copy.ledger_path)
        .unwrap()
        .execute(
            "INSERT INTO checkpoints (events, head, at, public_key, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![10, checkpoint.head, checkpoint.at_ms, checkpoint.public_key, checkpoint.signature],
        )
        .unwrap();
    // On its own the forgery is consistent: only an outside anchor can tell.
    verify(&copy, &[]).expect(0);
    let run = verify(&copy, &["--key", &original_key]).expect(1);
    assert!(
        run.stdout().contains("re-signed by someone else"),
        "{}",
        run.all()
    );
    let log = log_path(&world);
    let run = verify(&copy, &["--checkpoints", log.to_str().unwrap()]).expect(1);
    assert!(
        run.stdout().contains("published-checkpoints.jsonl"),
        "{}",
        run.all()
    );
}

#[test]
fn a_checkpoint_log_that_disagrees_with_the_ledger_is_caught() {
    let world = synced_world();
    let log = log_path(&world);
    let original = std::fs::read_to_string(&log).unwrap();
    // A head from another history, properly signed with the real key.
    let key = AuditKey::load(&world.dir.path().join("ledger.sqlite3.audit-key"))
        .unwrap()
        .unwrap();
    let other = key.sign(
        5,
        &"ab".repeat(32),
        chrono::Utc::now().timestamp_millis() - 1000,
    );
    let elsewhere = world.dir.path().join("other-log.jsonl");
    std::fs::write(
        &elsewhere,
        format!("{}\n", hirebridge::audit::log_line(&other)),
    )
    .unwrap();
    let run = verify(&world, &["--checkpoints", elsewhere.to_str().unwrap()]).expect(1);
    assert!(run.stdout().contains("rewritten"), "{}", run.all());
    // An altered line's signature fails.
    let altered = original.replacen("\"events\":", "\"events\":1", 1);
    std::fs::write(&elsewhere, altered).unwrap();
    let run = verify(&world, &["--checkpoints", elsewhere.to_str().unwrap()]).expect(1);
    assert!(
        run.stdout().contains("altered after it was signed"),
        "{}",
        run.all()
    );
    // Not a log at all: a clear error, not a verdict.
    std::fs::write(&elsewhere, "hello\n").unwrap();
    let run = verify(&world, &["--checkpoints", elsewhere.to_str().unwrap()]).expect(1);
    assert!(run.stderr().contains("line 1"), "{}", run.all());
}

/// Every byte of every table, the file and its WAL, as text.
fn everything_stored(world: &World) -> String {
    // The raw files first: opening a connection (and closing it) would checkpoint the WAL.
    let mut all = String::new();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", world.ledger_path.display());
        if let Ok(bytes) = std::fs::read(path) {
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    let conn = Connection::open(&world.ledger_path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for c in 0..columns {
                let value: rusqlite::types::Value = row.get(c).unwrap();
                all.push_str(&format!("{value:?}|"));
            }
            all.push('\n');
        }
    }
    all
}

fn reports(world: &World) -> String {
    let mut all = String::new();
    for format in ["json", "csv", "table", "html"] {
        all.push_str(
            &world
                .hirebridge(&["report", "--format", format])
                .expect(0)
                .stdout(),
        );
    }
    all.push_str(&world.hirebridge(&["history", "1001"]).expect(0).stdout());
    all
}

#[test]
fn erase_removes_a_persons_data_everywhere_and_the_chain_still_verifies() {
    let world = synced_world();
    assert!(everything_stored(&world).contains("ada@example.com"));
    assert!(reports(&world).contains("Lovelace"));
    let run = world.hirebridge(&["erase", "ADA@example.com"]).expect(0);
    assert!(run.stdout().contains("1001"), "{}", run.all());
    let stored = everything_stored(&world);
    for needle in ["ada@example.com", "Lovelace"] {
        assert!(!stored.contains(needle), "{needle} is still stored");
        assert!(
            !reports(&world).contains(needle),
            "{needle} is still reported"
        );
    }
    // Ids and outcomes stay; the others' data too.
    let row = world.row("1001");
    assert_eq!(row["status"], "done");
    assert!(row["hibob_employee_id"].is_string());
    assert!(stored.contains("grace@example.com"));
    let history = world.hirebridge(&["history", "1001"]).expect(0).stdout();
    assert!(history.contains("erased"), "{history}");
    let key = public_key(&world);
    let log = log_path(&world);
    let run = verify(
        &world,
        &["--key", &key, "--checkpoints", log.to_str().unwrap()],
    )
    .expect(0);
    assert!(run.stdout().contains("erased"), "{}", run.all());
    // The next pass lists Ada again: her data is not written back, and nothing drifts.
    world.sync().expect(0);
    assert!(!everything_stored(&world).contains("ada@example.com"));
    verify(&world, &["--key", &key]).expect(0);
    // The export holds no trace of her either, and verifies on its own.
    let out = world.dir.path().join("export");
    world
        .hirebridge(&["audit", "export", "--out", out.to_str().unwrap()])
        .expect(0);
    for entry in std::fs::read_dir(&out).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("ada@example.com") && !text.contains("Lovelace"));
    }
    verify(&world, &["--export", out.to_str().unwrap(), "--key", &key]).expect(0);
}

#[test]
fn erase_refuses_an_unknown_or_unsettled_hire_and_writes_nothing() {
    let world = World::new(three_hires());
    world.sync().expect(0);
    let run = world.hirebridge(&["erase", "nobody@example.com"]).expect(1);
    assert!(
        run.stderr().contains("`hirebridge report` lists them"),
        "{}",
        run.all()
    );
    let conn = Connection::open(&world.ledger_path).unwrap();
    conn.execute(
        "UPDATE hires SET status = 'failed' WHERE application_id = '1002'",
        [],
    )
    .unwrap();
    let before = world.ledger_fingerprint();
    let run = world.hirebridge(&["erase", "1002"]).expect(1);
    assert!(run.stderr().contains("still being worked"), "{}", run.all());
    assert_eq!(world.ledger_fingerprint(), before);
}

#[test]
fn retention_erases_hires_done_longer_ago_at_the_end_of_a_pass() {
    let world = World::new(three_hires());
    world.write_config(&Settings {
        extra: "[audit]\nretain_personal_data = \"30d\"\n".into(),
        ..Settings::default()
    });
    world.sync().expect(0);
    assert!(everything_stored(&world).contains("bob@example.com"));
    // Bob was done 31 days ago; the others are recent.
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(31)).timestamp_millis();
    Connection::open(&world.ledger_path)
        .unwrap()
        .execute(
            "UPDATE hires SET done_at = ?1 WHERE application_id = '1002'",
            [long_ago],
        )
        .unwrap();
    world.sync().expect(0);
    world.ledger().checkpoint().unwrap();
    let stored = everything_stored(&world);
    assert!(
        !stored.contains("bob@example.com"),
        "Bob's email is past retention"
    );
    assert!(stored.contains("ada@example.com"), "Ada's is not");
    let history = world.hirebridge(&["history", "1002"]).expect(0).stdout();
    assert!(history.contains("audit.retain_personal_data"), "{history}");
    verify(&world, &[]).expect(0);
}

#[test]
fn an_export_is_a_signed_segment_that_catches_its_own_tampering() {
    let world = synced_world();
    let key = public_key(&world);
    let out = world.dir.path().join("export");
    let run = world
        .hirebridge(&[
            "audit",
            "export",
            "--since",
            "1d",
            "--out",
            out.to_str().unwrap(),
        ])
        .expect(0);
    assert!(run.stdout().contains("exported"), "{}", run.all());
    for name in [
        "report.csv",
        "report.html",
        "events.jsonl",
        "checkpoints.jsonl",
        "public-key.txt",
        "VERIFY.txt",
    ] {
        assert!(out.join(name).exists(), "{name}");
    }
    let guide = std::fs::read_to_string(out.join("VERIFY.txt")).unwrap();
    assert!(
        guide.contains("hirebridge audit verify --export"),
        "{guide}"
    );
    // It verifies with no ledger and no config at all.
    let bare = std::process::Command::new(common::BINARY)
        .env_clear()
        .args([
            "audit",
            "verify",
            "--export",
            out.to_str().unwrap(),
            "--key",
            &key,
        ])
        .output()
        .unwrap();
    assert!(
        bare.status.success(),
        "{}",
        String::from_utf8_lossy(&bare.stdout)
    );
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    let edited = events.replacen("\"outcome\":\"detected\"", "\"outcome\":\"skipped\"", 1);
    assert_ne!(edited, events);
    std::fs::write(out.join("events.jsonl"), edited).unwrap();
    let run = verify(&world, &["--export", out.to_str().unwrap(), "--key", &key]).expect(1);
    assert!(run.stdout().contains("recorded content"), "{}", run.all());
    // Another key does not vouch for it.
    std::fs::write(out.join("events.jsonl"), events).unwrap();
    let stranger = AuditKey::load_or_create(&world.dir.path().join("stranger")).unwrap();
    verify(
        &world,
        &[
            "--export",
            out.to_str().unwrap(),
            "--key",
            &stranger.public_hex(),
        ],
    )
    .expect(1);
}

#[test]
fn verify_and_erase_work_beside_a_running_daemon() {
    let world = synced_world();
    let mut daemon = world.spawn_daemon();
    let verified = verify(&world, &[]);
    let erased = world.hirebridge(&["erase", "1002"]);
    // A few of the daemon's passes (every second) after the erasure's checkpoint.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let log = log_path(&world);
    let again = verify(&world, &["--checkpoints", log.to_str().unwrap()]);
    common::signal("TERM", &daemon);
    let _ = common::exit_code_within(&mut daemon, std::time::Duration::from_secs(20));
    assert_eq!(verified.code(), 0, "{}", verified.all());
    assert_eq!(erased.code(), 0, "{}", erased.all());
    assert_eq!(again.code(), 0, "{}", again.all());
    assert!(!everything_stored(&world).contains("bob@example.com"));
}

#[test]
fn a_detail_rewritten_by_moving_its_start_into_the_salt_is_caught() {
    let world = synced_world();
    let copy = copy_of(&world);
    let conn = Connection::open(&copy.ledger_path).unwrap();
    let (salt, detail): (Vec<u8>, String) = conn
        .query_row(
            "SELECT salt, detail FROM event_details WHERE event_id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // Same digest: SHA-256(salt ‖ detail) over the same bytes, split elsewhere. No trigger
    // stands in the way: a detail row may be deleted (erasure) and one inserted.
    let cut = 5;
    let mut longer = salt.clone();
    longer.extend_from_slice(&detail.as_bytes()[..cut]);
    conn.execute("DELETE FROM event_details WHERE event_id = 1", [])
        .unwrap();
    conn.execute(
        "INSERT INTO event_details (event_id, salt, detail) VALUES (1, ?1, ?2)",
        params![longer, &detail[cut..]],
    )
    .unwrap();
    drop(conn);
    let run = verify(&copy, &[]).expect(1);
    assert!(run.stdout().contains("event #1 ("), "{}", run.all());
    assert!(
        run.stdout().contains("detail text was changed"),
        "{}",
        run.all()
    );
}

#[test]
fn an_erasure_forged_at_the_tail_accounts_for_nothing_even_once_a_pass_signs_it() {
    let world = synced_world();
    let conn = Connection::open(&world.ledger_path).unwrap();
    let (id, prev): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // A well-chained "erased" event for Ada, appended as hirebridge would, but unsigned.
    let salt = [7u8; 16];
    let digest = hirebridge::ledger::detail_digest(&salt, "personal data erased on request");
    let event = ChainedEvent {
        id: id + 1,
        application_id: "1001".into(),
        at_ms: chrono::Utc::now().timestamp_millis(),
        pass_id: None,
        trigger: None,
        step: "personal_data".into(),
        outcome: "erased".into(),
        detail_digest: digest.clone(),
        prev_hash: hex::encode(&prev),
        hash: String::new(),
        detail: None,
    };
    let hash = event_hash(&event.prev_hash, &event.content());
    conn.execute(
        "INSERT INTO events (id, application_id, at, pass_id, step, outcome, detail_digest, prev_hash, hash)
         VALUES (?1, '1001', ?2, NULL, 'personal_data', 'erased', ?3, ?4, ?5)",
        params![
            event.id,
            event.at_ms,
            hex::decode(&digest).unwrap(),
            prev,
            hex::decode(&hash).unwrap()
        ],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO event_details (event_id, salt, detail) VALUES (?1, ?2, 'personal data erased on request')",
        params![event.id, &salt[..]],
    )
    .unwrap();
    // ... and deletes Ada's earlier details (no trigger refuses: erasure deletes them too).
    conn.execute(
        "DELETE FROM event_details WHERE event_id IN
            (SELECT id FROM events WHERE application_id = '1001' AND id <= ?1)",
        [id],
    )
    .unwrap();
    drop(conn);
    world.sync().expect(0);
    let run = verify(&world, &[]).expect(1);
    assert!(
        run.stdout().contains("no erasure of this hire"),
        "{}",
        run.all()
    );
}

#[test]
fn a_lost_key_file_is_not_silently_replaced() {
    let world = synced_world();
    let key_file = world.dir.path().join("ledger.sqlite3.audit-key");
    std::fs::remove_file(&key_file).unwrap();
    world
        .sim
        .add_application(hire("1004", "Dan", "Dee", "dan@example.com"));
    let run = world.sync().expect(0);
    assert!(
        run.stderr().contains("restore that key file"),
        "{}",
        run.all()
    );
    assert!(!key_file.exists(), "no new key was made");
    let check = world.hirebridge(&["check"]).expect(1);
    assert!(check.stdout().contains("✗ audit: "), "{}", check.all());
    assert!(
        check.stdout().contains("restore that key file"),
        "{}",
        check.all()
    );
    let status = world.hirebridge(&["status", "--format", "json"]).expect(0);
    let status: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    assert!(
        status["audit"]["unsealed_events"].as_u64().unwrap() > 0,
        "{status}"
    );
}

#[test]
fn a_ledger_without_checkpoints_or_with_an_event_outside_the_ids_fails_against_a_key() {
    let world = synced_world();
    let key = public_key(&world);
    let copy = copy_of(&world);
    tamper(&copy, "DELETE FROM checkpoints");
    let run = verify(&copy, &["--key", &key]).expect(1);
    assert!(run.stdout().contains("no checkpoint"), "{}", run.all());
    let copy = copy_of(&world);
    tamper(
        &copy,
        "INSERT INTO events (id, application_id, at, step, outcome, detail_digest, prev_hash, hash)
         SELECT -1, application_id, at, step, outcome, detail_digest, prev_hash, hash
         FROM events WHERE id = 1",
    );
    let run = verify(&copy, &["--key", &key]).expect(1);
    assert!(run.stdout().contains("event #-1 ("), "{}", run.all());
}

#[test]
fn an_export_with_an_event_added_after_its_last_signed_one_is_caught() {
    let world = synced_world();
    let key = public_key(&world);
    let out = world.dir.path().join("export");
    world
        .hirebridge(&["audit", "export", "--out", out.to_str().unwrap()])
        .expect(0);
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    let last = events.lines().last().unwrap().to_owned();
    let mut extra: serde_json::Value = serde_json::from_str(&last).unwrap();
    let id = extra["id"].as_i64().unwrap();
    extra["id"] = (id + 1).into();
    extra["prev_hash"] = extra["hash"].clone();
    std::fs::write(out.join("events.jsonl"), format!("{events}{extra}\n")).unwrap();
    let run = verify(&world, &["--export", out.to_str().unwrap(), "--key", &key]).expect(1);
    assert!(run.stdout().contains("BROKEN"), "{}", run.all());
}

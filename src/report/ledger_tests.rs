//! [`write`] over a real ledger against the same rows rendered from memory: the streamed
//! table and page list every hire once and say what the in-memory rendering says, and the
//! ledger's totals are the rows' totals.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::hire::{ApplicationId, EmployeeOrigin, StepKind};
use crate::ledger::ObservedHire;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, day, hour, 0, 0).unwrap()
}

/// `hires` hires seen over October: every third done (across several weeks, each with a
/// hired time a few hours to days before), every fifth failed, the rest pending. Names and
/// emails vary in width, some with characters a terminal shows two columns wide.
fn ledger(hires: usize) -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let mut ledger = Ledger::open(&path).unwrap();
    for i in 0..hires {
        let seen = at(1 + (i % 20) as u32, (i % 24) as u32);
        let pass = ledger.begin_pass("sync", seen).unwrap();
        let id = format!("{}", 5000 + i);
        let email = format!("{}@example.com", "n".repeat(1 + i * 7 % 30));
        let first = if i % 7 == 0 { "李小龍" } else { "Ada" };
        let hired_at = (i % 4 != 0).then(|| seen - Duration::hours(1 + (i as i64 * 13) % 90));
        ledger
            .observe(
                pass,
                seen,
                &[ObservedHire {
                    application_id: &id,
                    email: &email,
                    first_name: first,
                    last_name: "Lovelace",
                    job_title: None,
                    hired_at,
                    before_cutoff: None,
                }],
            )
            .unwrap();
        let app = ApplicationId::from(id.as_str());
        if i % 3 == 0 {
            let done = seen + Duration::minutes(5 + i as i64);
            ledger
                .record_employee(
                    &app,
                    &format!("33973522606430{i:05}").into(),
                    EmployeeOrigin::Created,
                    pass,
                    done,
                    "created",
                )
                .unwrap();
            ledger.record_done(&app, pass, done, "done").unwrap();
        } else if i % 5 == 0 {
            ledger
                .record_failure(
                    &app,
                    StepKind::Employee,
                    &format!("HiBob answered 502 {}", "x".repeat(i % 90)),
                    seen + Duration::hours(1),
                    pass,
                    seen,
                )
                .unwrap();
        }
    }
    drop(ledger);
    let reader = Ledger::open_read_only(&path).unwrap();
    (dir, reader)
}

fn context() -> Context {
    Context {
        generated_at: at(25, 12),
        filters: String::new(),
        links: None,
    }
}

fn streamed(ledger: &Ledger, filter: &EntryFilter, format: Format) -> String {
    let mut out = Vec::new();
    write(ledger, filter, format, &context(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn from_memory(ledger: &Ledger, filter: &EntryFilter, format: Format) -> String {
    let rows = rows_with_drift(
        &ledger.entries(filter).unwrap(),
        &ledger.drifted_values().unwrap(),
    );
    let mut out = Vec::new();
    render_with(&rows, format, &context(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn filters() -> Vec<EntryFilter> {
    vec![
        EntryFilter::default(),
        EntryFilter {
            status: Some(HireStatus::Done),
            ..EntryFilter::default()
        },
        EntryFilter {
            updated_since: Some(at(8, 0)),
            updated_until: Some(at(15, 0)),
            ..EntryFilter::default()
        },
        EntryFilter {
            status: Some(HireStatus::Withdrawn),
            ..EntryFilter::default()
        },
    ]
}

#[test]
fn every_format_streamed_from_the_ledger_is_what_the_rows_in_memory_render() {
    let (_dir, ledger) = ledger(90);
    for filter in filters() {
        for format in [Format::Table, Format::Html, Format::Json, Format::Csv] {
            assert_eq!(
                streamed(&ledger, &filter, format),
                from_memory(&ledger, &filter, format),
                "{format:?} {filter:?}"
            );
        }
    }
}

#[test]
fn the_ledger_totals_the_page_summary_as_the_rows_do() {
    let (_dir, ledger) = ledger(90);
    for filter in filters() {
        let rows = rows_with_drift(&ledger.entries(&filter).unwrap(), &HashMap::new());
        let summary = html::Summary::of_ledger(&ledger, &filter).unwrap();
        assert_eq!(summary, html::Summary::of_rows(&rows), "{filter:?}");
    }
    let all = html::Summary::of_ledger(&ledger, &EntryFilter::default()).unwrap();
    assert!(all.done_per_week.len() >= 3, "{all:?}");
    assert!(all.latency_per_week.len() >= 3, "{all:?}");
}

#[test]
fn the_streamed_table_and_page_list_every_hire_once() {
    // More than one batch of table rows.
    let hires = TABLE_BATCH * 2 + 17;
    let (_dir, ledger) = ledger(hires);
    let filter = EntryFilter::default();
    let ids: Vec<String> = ledger
        .entries(&filter)
        .unwrap()
        .iter()
        .map(|e| e.application_id.to_string())
        .collect();
    assert_eq!(ids.len(), hires);

    let table = streamed(&ledger, &filter, Format::Table);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines.len(),
        hires + 2,
        "header, one line per hire, the count"
    );
    assert!(lines[0].starts_with("APPLICATION"));
    assert!(lines[hires + 1].starts_with(&format!("{hires} hires: ")));
    for (line, id) in lines[1..=hires].iter().zip(&ids) {
        assert!(line.starts_with(&format!("{id} ")), "{line} for {id}");
    }

    let page = streamed(&ledger, &filter, Format::Html);
    let listed: Vec<&str> = page
        .split("<tr data-application-id=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(listed, ids);
}

/// The table as it was laid out before it streamed: one comfy-table over every row.
fn one_table(rows: &[ReportRow]) -> String {
    let (mut cells, notes): (Vec<Vec<String>>, Vec<String>) = rows
        .iter()
        .map(|r| {
            let (cells, note) = table_cells(r);
            (Vec::from(cells), note)
        })
        .unzip();
    let widths = text_table(&TABLE_HEADER[..6], cells.clone()).column_max_content_widths();
    let used: usize = widths.iter().map(|w| usize::from(*w) + 2).sum();
    let note_width = TABLE_WIDTH.saturating_sub(used).max(12);
    for (row, note) in cells.iter_mut().zip(notes) {
        row.push(clip(&note, note_width));
    }
    let mut out = Vec::new();
    write_table(&text_table(&TABLE_HEADER, cells), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn the_batched_table_lines_up_as_one_table_over_every_row() {
    let (_dir, ledger) = ledger(TABLE_BATCH * 2 + 17);
    for filter in filters() {
        let rows = rows_with_drift(&ledger.entries(&filter).unwrap(), &HashMap::new());
        let streamed = streamed(&ledger, &filter, Format::Table);
        // The closing count is the same line either way; the layout is what batches change.
        let count = streamed.lines().last().unwrap();
        let layout = streamed.strip_suffix(&format!("{count}\n")).unwrap();
        assert_eq!(layout, one_table(&rows), "{filter:?}");
    }
}

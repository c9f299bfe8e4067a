//! Golden files for what people and scripts read: the report in every format and a hire's
//! history, rendered from constructed ledger rows so times and ids are fixed.
//!
//! A change to the output fails here with the difference. When the change is intended,
//! regenerate with `UPDATE_GOLDEN=1 cargo test --test golden` and review the diff of
//! `tests/golden/`.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::golden;
use hirebridge::hire::{
    CommentStep, CvStep, EmployeeOrigin, EmployeeStep, HireStatus, LedgerEntry,
};
use hirebridge::ledger::{DriftState, LedgerEvent, MappedRecord};
use hirebridge::report::{self, Context, Format, history};

fn at(day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, second)
        .unwrap()
}

fn entry(id: &str, email: &str, first: &str, last: &str) -> LedgerEntry {
    LedgerEntry::new_pending(id, email, first, last, None, at(16, 9, 0, 0))
}

fn done(mut e: LedgerEntry, employee: &str, origin: EmployeeOrigin, day: u32) -> LedgerEntry {
    e.status = HireStatus::Done;
    e.employee = EmployeeStep::Done {
        id: employee.into(),
        origin,
        at: at(day, 9, 0, 1),
    };
    e.comment = CommentStep::Done {
        id: format!("5120{}", e.application_id).into(),
        at: at(day, 9, 0, 4),
    };
    e.attempts = 3;
    e.done_at = Some(at(day, 9, 0, 5));
    e.updated_at = at(day, 9, 0, 5);
    e
}

/// Ada (created, CV), Grace (adopted, no CV), José (parked with a long error full of
/// commas and quotes), Zoë (waiting for a retry).
fn entries() -> Vec<LedgerEntry> {
    let mut ada = done(
        entry("1001", "ada@example.com", "Ada", "Lovelace"),
        "3397352260643062621",
        EmployeeOrigin::Created,
        16,
    );
    ada.cv = CvStep::Uploaded {
        document_id: Some("15587714".into()),
        name: "CV (Pinpoint application 1001).pdf".into(),
        at: at(16, 9, 0, 3),
    };
    let mut grace = done(
        entry("1002", "grace@example.com", "Grace", "Hopper"),
        "3397352260643062622",
        EmployeeOrigin::Adopted,
        24,
    );
    grace.cv = CvStep::None {
        at: at(24, 9, 0, 3),
    };
    let mut jose = entry("1003", "jose.garcia@example.com", "José", "García");
    jose.status = HireStatus::NeedsAttention;
    jose.attempts = 1;
    jose.failures = 1;
    jose.last_error = Some(
        "HiBob refused POST /people (400): Site \"New Yrok\" is not a valid value, use one of the site list's values [validations.list.value]"
            .into(),
    );
    let mut zoe = entry("1004", "zoe@example.com", "Zoë", "Ødegård");
    zoe.status = HireStatus::Failed;
    zoe.attempts = 2;
    zoe.failures = 2;
    zoe.last_error = Some("HiBob answered 502 Bad Gateway to POST /people: outcome unknown".into());
    zoe.next_attempt_at = Some(at(24, 9, 10, 0));
    vec![ada, grace, jose, zoe]
}

/// Ada's start date moved in Pinpoint after she was done (reported, not applied).
fn drift() -> std::collections::HashMap<String, MappedRecord> {
    let values = |date: &str| {
        std::collections::BTreeMap::from([
            ("work.site".to_owned(), "New York (Demo)".to_owned()),
            ("work.startDate".to_owned(), date.to_owned()),
        ])
    };
    let record = MappedRecord {
        application_id: "1001".into(),
        mapping: "0123456789abcdef".into(),
        rendered: values("2026-11-30"),
        written: Some(values("2026-11-30")),
        recorded_at: at(16, 9, 0, 0),
        drift: Some(DriftState::Reported),
        drift_fields: vec!["work.startDate".into()],
        drift_values: Some(values("2026-12-07")),
        drift_detail: Some(
            "changed in Pinpoint: work.startDate: \"2026-11-30\" → \"2026-12-07\"; reported (mapping.on_change = \"report\"); update HiBob if it should follow".into(),
        ),
        drift_detected_at: Some(at(20, 9, 0, 0)),
        drift_intent_at: None,
        drift_updated_at: None,
    };
    std::collections::HashMap::from([("1001".to_owned(), record)])
}

fn event(
    id: i64,
    second: u32,
    pass: Option<(i64, &str)>,
    step: &str,
    outcome: &str,
    detail: &str,
) -> LedgerEvent {
    LedgerEvent {
        id,
        application_id: "1001".into(),
        at: at(16, 9, 0, second),
        pass_id: pass.map(|p| p.0),
        trigger: pass.map(|p| p.1.to_owned()),
        step: step.into(),
        outcome: outcome.into(),
        detail: detail.into(),
    }
}

fn ada_events() -> Vec<LedgerEvent> {
    let first = Some((1, "schedule"));
    let second = Some((2, "schedule"));
    vec![
        event(
            1,
            0,
            first,
            "hire",
            "detected",
            "hired in Pinpoint: Ada Lovelace <ada@example.com>",
        ),
        event(
            2,
            0,
            first,
            "employee",
            "intent",
            "create Ada Lovelace <ada@example.com> at site New York (Demo), start 2026-11-30",
        ),
        event(
            3,
            1,
            first,
            "employee",
            "failed",
            "HiBob answered 502 to POST /people: outcome unknown (next attempt 2026-11-16T09:00:21Z)",
        ),
        event(4, 2, None, "hire", "retry", "an operator asked to retry"),
        event(
            5,
            3,
            second,
            "employee",
            "adopted",
            "found HiBob employee 3397352260643062621 by email ada@example.com",
        ),
        event(
            6,
            4,
            second,
            "cv",
            "intent",
            "upload ada_cv.pdf (pdf_cv) to the shared folder of employee 3397352260643062621 as CV (Pinpoint application 1001).pdf",
        ),
        event(
            7,
            4,
            second,
            "cv",
            "uploaded",
            "CV (Pinpoint application 1001).pdf (document 15587714)",
        ),
        event(
            8,
            5,
            second,
            "comment",
            "intent",
            "HiBob employee linked: 3397352260643062621",
        ),
        event(9, 5, second, "comment", "posted", "comment 512010"),
        event(
            10,
            5,
            second,
            "hire",
            "done",
            "employee 3397352260643062621 (adopted)",
        ),
    ]
}

fn rendered(format: Format) -> Vec<u8> {
    let context = Context {
        generated_at: at(25, 12, 0, 0),
        filters: "status any, updated from 2026-11-01T00:00:00Z".into(),
        links: Some(hirebridge::config::ReportLinks {
            pinpoint_application: "https://acme.pinpointhq.com/admin/applications/{id}".into(),
            hibob_employee: "https://app.hibob.com/employee-profile/{id}".into(),
        }),
    };
    let mut out = Vec::new();
    report::render_with(
        &report::rows_with_drift(&entries(), &drift()),
        format,
        &context,
        &mut out,
    )
    .unwrap();
    out
}

#[test]
fn report_table() {
    golden("report.txt", &rendered(Format::Table));
}

#[test]
fn report_csv() {
    golden("report.csv", &rendered(Format::Csv));
}

#[test]
fn report_json() {
    golden("report.json", &rendered(Format::Json));
}

#[test]
fn report_html() {
    golden("report.html", &rendered(Format::Html));
}

#[test]
fn history_text_and_json() {
    let ada = entries().remove(0);
    let histories = vec![history::HireHistory::new(&ada, ada_events())];
    let mut text = Vec::new();
    history::render_text(&histories, &mut text).unwrap();
    golden("history.txt", &text);
    let mut json = Vec::new();
    history::render_json(&histories, &mut json).unwrap();
    golden("history.json", &json);
}

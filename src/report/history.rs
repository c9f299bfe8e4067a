//! One hire's timeline from the ledger's event log: every step, attempt, error and id
//! obtained, with the pass (and what triggered it) that did it. For `hirebridge history`.

use std::io::Write;

use crate::untrusted::terminal;

use chrono::SecondsFormat;
use serde::Serialize;

use super::ReportRow;
use crate::hire::LedgerEntry;
use crate::ledger::LedgerEvent;

/// A hire with its events, oldest first. In JSON the hire's report fields sit beside `events`.
#[derive(Debug, Clone, Serialize)]
pub struct HireHistory {
    #[serde(flatten)]
    pub hire: ReportRow,
    /// When `erase` or retention removed this hire's personal data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal_data_erased_at: Option<String>,
    pub events: Vec<LedgerEvent>,
}

impl HireHistory {
    pub fn new(entry: &LedgerEntry, events: Vec<LedgerEvent>) -> Self {
        Self {
            hire: ReportRow::from(entry),
            personal_data_erased_at: entry
                .erased_at
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            events,
        }
    }
}

/// Who caused an event: a pass (`#12 schedule`) or an operator command.
pub fn origin(event: &LedgerEvent) -> String {
    match (event.pass_id, &event.trigger) {
        (Some(id), Some(trigger)) => format!("#{id} {trigger}"),
        (Some(id), None) => format!("#{id}"),
        (None, _) => "operator".to_owned(),
    }
}

pub fn render_json(histories: &[HireHistory], out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, histories)?;
    writeln!(out)
}

pub fn render_text(histories: &[HireHistory], out: &mut dyn Write) -> std::io::Result<()> {
    for (i, h) in histories.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let r = &h.hire;
        let name = if r.name.is_empty() {
            String::new()
        } else {
            format!("{} ", r.name)
        };
        match &h.personal_data_erased_at {
            Some(at) => writeln!(
                out,
                "application {}: personal data erased {at}",
                r.application_id
            )?,
            None => writeln!(out, "application {}: {name}<{}>", r.application_id, r.email)?,
        }
        let employee = match (&r.hibob_employee_id, r.employee_origin) {
            (Some(id), Some(origin)) => format!("HiBob employee {id} ({origin})"),
            (Some(id), None) => format!("HiBob employee {id}"),
            _ => "no HiBob employee yet".to_owned(),
        };
        let cv = match (r.cv, &r.cv_document_id) {
            ("uploaded", Some(doc)) => format!("CV uploaded (document {doc})"),
            ("uploaded", None) => "CV uploaded".to_owned(),
            ("none", _) => "no CV to attach".to_owned(),
            _ => "CV pending".to_owned(),
        };
        let comment = match &r.comment_id {
            Some(id) => format!("comment {id}"),
            None => "no comment yet".to_owned(),
        };
        writeln!(
            out,
            "status {}; {employee}; {cv}; {comment}; {} attempt(s)",
            r.status.as_str(),
            r.attempts
        )?;
        if let Some(done) = &r.done_at {
            writeln!(out, "done at {done}")?;
        }
        if let Some(error) = &r.last_error {
            writeln!(out, "last error: {error}")?;
        }
        let rows: Vec<Vec<String>> = h
            .events
            .iter()
            .map(|e| {
                // Cleaned before measuring, so a hostile detail cannot break the columns.
                vec![
                    e.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    origin(e),
                    terminal(&e.step).into_owned(),
                    terminal(&e.outcome).into_owned(),
                    terminal(&e.detail).into_owned(),
                ]
            })
            .collect();
        let header = ["AT", "PASS", "STEP", "OUTCOME", "DETAIL"];
        super::write_table(&super::text_table(&header, rows), out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(trigger: &str, step: &str, outcome: &str, detail: &str) -> LedgerEvent {
        LedgerEvent {
            id: 1,
            application_id: "1001".into(),
            at: chrono::Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap(),
            pass_id: Some(1),
            trigger: Some(trigger.into()),
            step: step.into(),
            outcome: outcome.into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn a_wide_character_takes_two_columns_and_the_next_column_still_lines_up() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap();
        let entry =
            LedgerEntry::new_pending("1001", "ada@example.com", "Ada", "Lovelace", None, at);
        let history = HireHistory::new(
            &entry,
            vec![
                event("sync", "履歴", "ok", "wide step"),
                event("sync", "cv", "e\u{301}te\u{301}", "combining accents"),
            ],
        );
        let mut out = Vec::new();
        render_text(&[history], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let table: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("AT")).collect();
        assert_eq!(
            table,
            [
                "AT                    PASS     STEP  OUTCOME  DETAIL",
                "2026-11-16T09:00:00Z  #1 sync  履歴  ok       wide step",
                "2026-11-16T09:00:00Z  #1 sync  cv    e\u{301}te\u{301}      combining accents",
            ],
            "{text}"
        );
    }
}

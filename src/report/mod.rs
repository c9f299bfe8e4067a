//! Renders the ledger for people and scripts: one row per hire as a table, CSV, JSON or a
//! self-contained HTML page ([`html`]); one hire's timeline ([`history`]); the health screen
//! ([`status`]); the dry run ([`plan`]).
//!
//! [`write`] is the report of a ledger in any format, for `report` and any command that files
//! reports: it reads the ledger as it writes, so memory stays flat however many hires there
//! are (JSON and CSV row by row; the table measured in a first read, then written in batches;
//! the HTML page's summary totalled by the ledger, then its rows one at a time). The
//! `render*` functions lay out rows already in memory, through the same writers.
//!
//! Renders what it is given: it never calls an API, never reads the clock for content it
//! could be handed, and never writes to the ledger. The JSON field names are a public interface operators
//! script against: add fields, never rename or drop one.

pub mod history;
pub mod hr_view;
pub mod html;
pub mod listing_view;
pub mod plan;
pub mod status;

use std::io::Write;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use std::collections::HashMap;

use unicode_width::UnicodeWidthStr as _;

use crate::hire::{CvState, EmployeeOrigin, HireStatus, LedgerEntry};
use crate::ledger::{EntryFilter, Ledger, LedgerError, MappedRecord};
use crate::untrusted::{csv_cell, terminal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    /// One self-contained page: summary, a weekly chart and the table; no external assets.
    Html,
}

/// A `--since`/`--until` bound: a day (`2026-11-01`, UTC), an instant (RFC 3339), or an age
/// (`30d`, humantime: that long before now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    Day(NaiveDate),
    At(DateTime<Utc>),
    Ago(std::time::Duration),
}

impl TimeBound {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(TimeBound::Day(day));
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(TimeBound::At(at.with_timezone(&Utc)));
        }
        humantime::parse_duration(text)
            .map(TimeBound::Ago)
            .map_err(|_| {
                format!(
                    "{text:?} is not a date; write a day (2026-11-01), a time (2026-11-01T09:00:00Z) or an age (30d, 12h)"
                )
            })
    }

    /// The instant a `--since` bound starts at (inclusive): a day starts at midnight UTC.
    pub fn start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeBound::Day(d) => d.and_time(chrono::NaiveTime::MIN).and_utc(),
            TimeBound::At(t) => t,
            TimeBound::Ago(age) => now - chrono::Duration::from_std(age).unwrap_or_default(),
        }
    }

    /// The instant an `--until` bound ends at (exclusive): a day is included whole.
    pub fn end(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeBound::Day(d) => (d + chrono::Days::new(1))
                .and_time(chrono::NaiveTime::MIN)
                .and_utc(),
            other => other.start(now),
        }
    }
}

/// What a rendering may show besides the rows (the HTML page's heading).
#[derive(Debug, Clone)]
pub struct Context {
    pub generated_at: DateTime<Utc>,
    /// The filters in words, e.g. `status done, updated 2026-07-01 to 2026-09-30`; empty for all.
    pub filters: String,
    /// Where the HTML report links each application and employee (`[report]`); none: no links.
    pub links: Option<crate::config::ReportLinks>,
}

/// One hire as reported. Field order is the CSV column order.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReportRow {
    pub application_id: String,
    pub email: String,
    pub name: String,
    pub hibob_employee_id: Option<String>,
    /// `created` or `adopted`.
    pub employee_origin: Option<&'static str>,
    pub status: HireStatus,
    /// `uploaded`, `none` or `pending`.
    pub cv: &'static str,
    pub cv_document_id: Option<String>,
    pub comment_id: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<String>,
    pub first_seen_at: String,
    pub done_at: Option<String>,
    pub updated_at: String,
    /// Mapped values changed in Pinpoint after the hire was done: `reported`, `pending`,
    /// `in_flight`, `updated`, `edited_in_hibob` or `failed`; none when there is no drift.
    pub drift: Option<&'static str>,
    /// The drifted fields, comma-separated (`work.startDate,work.title`).
    pub drift_fields: Option<String>,
    pub drift_detected_at: Option<String>,
    /// What changed and what happened about it.
    pub drift_detail: Option<String>,
    /// When Pinpoint says it was hired (`hired_at`).
    pub hired_at: Option<String>,
    /// A done hire later found out of the Hired stage in Pinpoint: HR may act in HiBob.
    pub unhired_at: Option<String>,
    /// Where a created employee's start date came from: `pinpoint` (the application's
    /// `start_on`, else the accepted offer's) or `offset` (Pinpoint had none: HR must confirm
    /// it); none for an adopted employee.
    pub start_date_source: Option<&'static str>,
}

fn when(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl ReportRow {
    /// The row with every text cell safe to open in a spreadsheet (see [`csv_cell`]): a
    /// name like `=HYPERLINK(…)` is shown as text, never evaluated.
    fn as_csv(&self) -> ReportRow {
        let cell = |s: &String| csv_cell(s).into_owned();
        let opt = |s: &Option<String>| s.as_ref().map(cell);
        ReportRow {
            application_id: cell(&self.application_id),
            email: cell(&self.email),
            name: cell(&self.name),
            hibob_employee_id: opt(&self.hibob_employee_id),
            cv_document_id: opt(&self.cv_document_id),
            comment_id: opt(&self.comment_id),
            last_error: opt(&self.last_error),
            next_attempt_at: opt(&self.next_attempt_at),
            first_seen_at: cell(&self.first_seen_at),
            done_at: opt(&self.done_at),
            updated_at: cell(&self.updated_at),
            drift_fields: opt(&self.drift_fields),
            drift_detected_at: opt(&self.drift_detected_at),
            drift_detail: opt(&self.drift_detail),
            hired_at: opt(&self.hired_at),
            unhired_at: opt(&self.unhired_at),
            ..self.clone()
        }
    }
}

impl From<&LedgerEntry> for ReportRow {
    fn from(e: &LedgerEntry) -> Self {
        ReportRow {
            application_id: e.application_id.to_string(),
            email: e.email.clone(),
            name: format!("{} {}", e.first_name, e.last_name)
                .trim()
                .to_owned(),
            hibob_employee_id: e.hibob_employee_id().map(str::to_owned),
            employee_origin: e.employee_origin().map(EmployeeOrigin::as_str),
            status: e.status,
            cv: match e.cv.state() {
                CvState::Uploaded => "uploaded",
                CvState::None => "none",
                CvState::Pending | CvState::InFlight => "pending",
            },
            cv_document_id: e.cv_document_id().map(str::to_owned),
            comment_id: e.comment_id().map(str::to_owned),
            attempts: e.attempts,
            last_error: e.last_error.clone(),
            next_attempt_at: e.next_attempt_at.map(when),
            first_seen_at: when(e.first_seen_at),
            done_at: e.done_at.map(when),
            updated_at: when(e.updated_at),
            drift: None,
            drift_fields: None,
            drift_detected_at: None,
            drift_detail: None,
            hired_at: e.hired_at.map(when),
            unhired_at: e.unhired_at.map(when),
            start_date_source: match e.start_date_source.as_deref() {
                Some("pinpoint") => Some("pinpoint"),
                Some("offset") => Some("offset"),
                _ => None,
            },
        }
    }
}

pub fn rows(entries: &[LedgerEntry]) -> Vec<ReportRow> {
    entries.iter().map(ReportRow::from).collect()
}

/// Rows with each hire's drift, from the ledger's mapped values.
pub fn rows_with_drift(
    entries: &[LedgerEntry],
    mapped: &HashMap<String, MappedRecord>,
) -> Vec<ReportRow> {
    entries.iter().map(|e| row_with_drift(e, mapped)).collect()
}

/// One hire's row with its drift, from the ledger's mapped values.
pub fn row_with_drift(e: &LedgerEntry, mapped: &HashMap<String, MappedRecord>) -> ReportRow {
    let mut row = ReportRow::from(e);
    if let Some(r) = mapped.get(e.application_id.as_str())
        && let Some(drift) = r.drift
    {
        row.drift = Some(drift.as_str());
        row.drift_fields = Some(r.drift_fields.join(","));
        row.drift_detected_at = r.drift_detected_at.map(when);
        row.drift_detail = r.drift_detail.clone();
    }
    row
}

/// The JSON and CSV reports written row by row as the ledger hands them over, so a report
/// of 100,000 hires holds one row in memory, not all of them. Byte for byte what
/// [`render_with`] writes for the same rows.
pub enum RowWriter<'a> {
    Json {
        out: &'a mut dyn Write,
        rows: usize,
    },
    Csv {
        // Boxed: the writer carries its buffer, the JSON arm only a reference.
        writer: Box<csv::Writer<&'a mut dyn Write>>,
        rows: usize,
    },
}

impl<'a> RowWriter<'a> {
    /// `None` for the formats that need something of every row before the first (the
    /// table's widths: [`TableWriter`]; the HTML page's summary: [`html::PageWriter`]).
    pub fn new(format: Format, out: &'a mut dyn Write) -> Option<Self> {
        match format {
            Format::Json => Some(RowWriter::json(out)),
            Format::Csv => Some(RowWriter::csv(out)),
            Format::Table | Format::Html => None,
        }
    }

    pub fn json(out: &'a mut dyn Write) -> Self {
        RowWriter::Json { out, rows: 0 }
    }

    pub fn csv(out: &'a mut dyn Write) -> Self {
        RowWriter::Csv {
            writer: Box::new(csv::Writer::from_writer(out)),
            rows: 0,
        }
    }

    pub fn row(&mut self, row: &ReportRow) -> std::io::Result<()> {
        match self {
            RowWriter::Json { out, rows } => {
                // An element of a pretty array is the element pretty-printed, indented once.
                let text = serde_json::to_string_pretty(row)?;
                out.write_all(if *rows == 0 { b"[\n" } else { b",\n" })?;
                for (i, line) in text.lines().enumerate() {
                    if i > 0 {
                        out.write_all(b"\n")?;
                    }
                    out.write_all(b"  ")?;
                    out.write_all(line.as_bytes())?;
                }
                *rows += 1;
                Ok(())
            }
            RowWriter::Csv { writer, rows } => {
                *rows += 1;
                writer
                    .serialize(row.as_csv())
                    .map_err(std::io::Error::other)
            }
        }
    }

    pub fn finish(self) -> std::io::Result<()> {
        match self {
            RowWriter::Json { out, rows } => {
                out.write_all(if rows == 0 { b"[]" } else { b"\n]" })?;
                writeln!(out)
            }
            RowWriter::Csv { mut writer, rows } => {
                if rows == 0 {
                    // A header even for an empty report, so spreadsheets and scripts see the
                    // columns.
                    writer
                        .write_record(CSV_HEADER)
                        .map_err(std::io::Error::other)?;
                }
                writer.flush()
            }
        }
    }
}

pub fn render(rows: &[ReportRow], format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    let context = Context {
        generated_at: Utc::now(),
        filters: String::new(),
        links: None,
    };
    render_with(rows, format, &context, out)
}

pub fn render_with(
    rows: &[ReportRow],
    format: Format,
    context: &Context,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Html => html::render(rows, context, out),
        Format::Table => render_table(rows, out),
        Format::Json | Format::Csv => match RowWriter::new(format, out) {
            Some(mut writer) => {
                for row in rows {
                    writer.row(row)?;
                }
                writer.finish()
            }
            None => Ok(()),
        },
    }
}

pub const CSV_HEADER: [&str; 22] = [
    "application_id",
    "email",
    "name",
    "hibob_employee_id",
    "employee_origin",
    "status",
    "cv",
    "cv_document_id",
    "comment_id",
    "attempts",
    "last_error",
    "next_attempt_at",
    "first_seen_at",
    "done_at",
    "updated_at",
    "drift",
    "drift_fields",
    "drift_detected_at",
    "drift_detail",
    "hired_at",
    "unhired_at",
    "start_date_source",
];

pub(crate) fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// The width the table keeps to: a common terminal. The full text is in CSV/JSON/HTML.
pub const TABLE_WIDTH: usize = 120;

/// A table laid out for a terminal: no borders, two spaces between columns, each column as
/// wide as its widest cell as a terminal shows it (a CJK character takes two columns). Cells
/// must be cleaned with [`terminal`] first, so what is measured is what is shown.
pub(crate) fn text_table(header: &[&str], rows: Vec<Vec<String>>) -> comfy_table::Table {
    table_of(Some(header), header.len(), rows)
}

/// A [`text_table`] of `columns` columns, with its labels or (for the rows of a table whose
/// labels are already out) without.
fn table_of(header: Option<&[&str]>, columns: usize, rows: Vec<Vec<String>>) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    if let Some(header) = header {
        table.set_header(header.to_vec());
    }
    table.add_rows(rows);
    let last = columns.saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i < last { 2 } else { 0 }));
    }
    table
}

/// Writes `table` line by line; the last column is padded too, so each line's end is trimmed.
pub(crate) fn write_table(table: &comfy_table::Table, out: &mut dyn Write) -> std::io::Result<()> {
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

const TABLE_HEADER: [&str; 7] = [
    "APPLICATION",
    "EMAIL",
    "STATUS",
    "HIBOB EMPLOYEE",
    "CV",
    "UPDATED",
    "NOTE",
];

/// The measured columns: all but the note, which gets whatever room they leave.
const MEASURED: usize = TABLE_HEADER.len() - 1;

/// A row's cells as the table shows them, and its note unclipped. Outside text is cleaned
/// before measuring, so the columns line up as shown.
fn table_cells(r: &ReportRow) -> ([String; MEASURED], String) {
    let note = match (&r.last_error, r.drift, r.employee_origin) {
        (Some(error), _, _) => error.clone(),
        (None, Some(drift), _) => format!(
            "drift {drift}: {}",
            r.drift_fields.as_deref().unwrap_or_default()
        ),
        (None, None, Some(origin)) => origin.to_owned(),
        (None, None, None) => String::new(),
    };
    let cells = [
        clip(&terminal(&r.application_id), 11),
        clip(&terminal(&r.email), 26),
        r.status.as_str().to_owned(),
        terminal(r.hibob_employee_id.as_deref().unwrap_or("-")).into_owned(),
        r.cv.to_owned(),
        r.updated_at
            .get(..16)
            .unwrap_or(&r.updated_at)
            .replace('T', " "),
    ];
    (cells, terminal(&note).into_owned())
}

/// What the table needs before its first line, taken in a first read of the rows: each
/// measured column's width (as a terminal shows it, the label included, at least 1 — what
/// comfy-table would measure over all the rows) and the counts for the closing line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLayout {
    widths: [usize; MEASURED],
    by_status: [usize; HireStatus::ALL.len()],
    total: usize,
}

impl Default for TableLayout {
    fn default() -> Self {
        let mut widths = [1; MEASURED];
        for (width, label) in widths.iter_mut().zip(TABLE_HEADER) {
            *width = (*width).max(label.width());
        }
        TableLayout {
            widths,
            by_status: [0; HireStatus::ALL.len()],
            total: 0,
        }
    }
}

impl TableLayout {
    pub fn measure(&mut self, row: &ReportRow) {
        let (cells, _) = table_cells(row);
        for (width, cell) in self.widths.iter_mut().zip(&cells) {
            *width = (*width).max(cell.width());
        }
        if let Some(i) = HireStatus::ALL.iter().position(|s| *s == row.status) {
            self.by_status[i] += 1;
        }
        self.total += 1;
    }

    /// The note's room: what the measured columns and their gaps leave of [`TABLE_WIDTH`].
    fn note_width(&self) -> usize {
        let used: usize = self.widths.iter().map(|w| w + 2).sum();
        TABLE_WIDTH.saturating_sub(used).max(12)
    }

    fn count(&self, status: HireStatus) -> usize {
        HireStatus::ALL
            .iter()
            .position(|s| *s == status)
            .map_or(0, |i| self.by_status[i])
    }
}

/// Rows laid out by comfy-table per batch; the batch bounds memory, and the widths fixed
/// from [`TableLayout`] make the batches line up as one table.
const TABLE_BATCH: usize = 256;

/// The table written in batches of rows once [`TableLayout`] has measured them all: a
/// 120-column terminal's table (see [`text_table`]) whose note, the last error or how the
/// employee was found, gets whatever room the other columns leave.
pub struct TableWriter<'a> {
    out: &'a mut dyn Write,
    layout: TableLayout,
    batch: Vec<Vec<String>>,
    header_written: bool,
}

impl<'a> TableWriter<'a> {
    pub fn new(out: &'a mut dyn Write, layout: TableLayout) -> Self {
        TableWriter {
            out,
            layout,
            batch: Vec::with_capacity(TABLE_BATCH),
            header_written: false,
        }
    }

    pub fn row(&mut self, row: &ReportRow) -> std::io::Result<()> {
        let (cells, note) = table_cells(row);
        let mut line = Vec::from(cells);
        line.push(clip(&note, self.layout.note_width()));
        self.batch.push(line);
        if self.batch.len() >= TABLE_BATCH {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> std::io::Result<()> {
        let rows = std::mem::take(&mut self.batch);
        let header = (!self.header_written).then_some(&TABLE_HEADER[..]);
        let mut table = table_of(header, TABLE_HEADER.len(), rows);
        for (column, width) in table.column_iter_mut().zip(self.layout.widths) {
            // A fixed width counts the padding: two spaces after each measured column.
            let fixed = u16::try_from(width + 2).unwrap_or(u16::MAX);
            column.set_constraint(comfy_table::ColumnConstraint::Absolute(
                comfy_table::Width::Fixed(fixed),
            ));
        }
        self.header_written = true;
        write_table(&table, self.out)
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        if !self.batch.is_empty() || !self.header_written {
            self.write_batch()?;
        }
        let layout = &self.layout;
        writeln!(
            self.out,
            "{} hires: {} done, {} pending, {} failed, {} need attention",
            layout.total,
            layout.count(HireStatus::Done),
            layout.count(HireStatus::Pending),
            layout.count(HireStatus::Failed),
            layout.count(HireStatus::NeedsAttention)
        )
    }
}

fn render_table(rows: &[ReportRow], out: &mut dyn Write) -> std::io::Result<()> {
    let mut layout = TableLayout::default();
    for row in rows {
        layout.measure(row);
    }
    let mut table = TableWriter::new(out, layout);
    for row in rows {
        table.row(row)?;
    }
    table.finish()
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("cannot write the report: {0}")]
    Write(#[from] std::io::Error),
}

/// The filters in words, for [`Context::filters`]: `status done, updated from …`; empty for
/// every hire.
pub fn describe_filter(filter: &EntryFilter) -> String {
    let mut words = Vec::new();
    if let Some(status) = filter.status {
        words.push(format!("status {}", status.as_str()));
    }
    if let Some(since) = filter.updated_since {
        words.push(format!("updated from {}", when(since)));
    }
    if let Some(until) = filter.updated_until {
        words.push(format!("updated before {}", when(until)));
    }
    words.join(", ")
}

/// Writes the report of the hires `filter` selects in `format`, reading the ledger as it
/// writes: memory stays flat however many hires there are. JSON and CSV take one read; the
/// table two (its widths, then its rows) and the HTML page a read of totals before its rows,
/// both inside one snapshot, so what is measured or totalled is what is listed.
///
/// The table is written as is: a caller writing to a terminal wraps `out` in a
/// [`crate::untrusted::TerminalWriter`].
pub fn write(
    ledger: &Ledger,
    filter: &EntryFilter,
    format: Format,
    context: &Context,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    ledger.read_snapshot(|ledger| {
        let mapped = ledger.drifted_values()?;
        let row = |e: &LedgerEntry| row_with_drift(e, &mapped);
        match format {
            Format::Json | Format::Csv => {
                let mut writer = if format == Format::Json {
                    RowWriter::json(out)
                } else {
                    RowWriter::csv(out)
                };
                ledger.for_each_entry(filter, |e| writer.row(&row(&e)))??;
                writer.finish()?;
            }
            Format::Table => {
                let mut layout = TableLayout::default();
                ledger
                    .for_each_entry(filter, |e| {
                        layout.measure(&row(&e));
                        Ok::<(), std::convert::Infallible>(())
                    })?
                    .unwrap_or_else(|never| match never {});
                let mut table = TableWriter::new(out, layout);
                ledger.for_each_entry(filter, |e| table.row(&row(&e)))??;
                table.finish()?;
                let (submits, succeeded) = ledger.plugin_submits_matching(filter)?;
                if submits > 0 {
                    writeln!(
                        out,
                        "{submits} sent from Pinpoint's \"Send to HiBob\", {succeeded} answered with success"
                    )?;
                }
            }
            Format::Html => {
                let summary = html::Summary::of_ledger(ledger, filter)?;
                let mut page = html::PageWriter::start(out, context, &summary)?;
                ledger.for_each_entry(filter, |e| page.row(&row(&e)))??;
                page.finish()?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod ledger_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, status: HireStatus) -> ReportRow {
        ReportRow {
            application_id: id.into(),
            email: format!("{id}@example.com"),
            name: "Ada Lovelace".into(),
            hibob_employee_id: Some("3397352260643062621".into()),
            employee_origin: Some("created"),
            status,
            cv: "uploaded",
            cv_document_id: Some("15587714".into()),
            comment_id: Some("9".into()),
            attempts: 3,
            last_error: None,
            next_attempt_at: None,
            first_seen_at: "2026-11-25T12:00:00Z".into(),
            done_at: Some("2026-11-25T12:00:01Z".into()),
            updated_at: "2026-11-25T12:00:01Z".into(),
            drift: None,
            drift_fields: None,
            drift_detected_at: None,
            drift_detail: None,
            hired_at: None,
            unhired_at: None,
            start_date_source: None,
        }
    }

    fn rendered(rows: &[ReportRow], f: Format) -> String {
        let mut out = Vec::new();
        render(rows, f, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_json_written_row_by_row_is_the_pretty_array_byte_for_byte() {
        for n in [0, 1, 3] {
            let mut rows: Vec<ReportRow> = (0..n)
                .map(|i| row(&format!("10{i}"), HireStatus::Done))
                .collect();
            if let Some(r) = rows.first_mut() {
                r.last_error = Some("a \"quoted\"\nline".into());
            }
            let expected = format!("{}\n", serde_json::to_string_pretty(&rows).unwrap());
            assert_eq!(rendered(&rows, Format::Json), expected, "{n} rows");
        }
    }

    #[test]
    fn json_keeps_the_public_field_names() {
        let text = rendered(&[row("1", HireStatus::NeedsAttention)], Format::Json);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let o = &v[0];
        for key in [
            "application_id",
            "email",
            "hibob_employee_id",
            "status",
            "cv",
            "comment_id",
            "updated_at",
        ] {
            assert!(o.get(key).is_some(), "missing {key}: {text}");
        }
        assert_eq!(o["status"], "needs_attention");
        assert_eq!(o["cv"], "uploaded");
        // Ids stay strings: a 19-digit id does not survive a float.
        assert_eq!(o["hibob_employee_id"], "3397352260643062621");
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_hire_even_when_empty() {
        let text = rendered(
            &[row("1", HireStatus::Done), row("2", HireStatus::Failed)],
            Format::Csv,
        );
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            CSV_HEADER
        );
        assert_eq!(reader.records().count(), 2);
        let empty = rendered(&[], Format::Csv);
        assert_eq!(empty.trim(), CSV_HEADER.join(","));
    }

    #[test]
    fn table_columns_line_up_with_their_labels_and_show_the_error() {
        let mut failed = row("1", HireStatus::Failed);
        failed.last_error = Some("HiBob POST /people: server error 502".into());
        let text = rendered(&[failed], Format::Table);
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let line = lines.next().unwrap();
        let column = |label: &str| header.find(label).unwrap();
        assert_eq!(&line[column("STATUS")..][..6], "failed");
        assert_eq!(&line[column("CV")..][..8], "uploaded");
        assert!(
            line[column("NOTE")..].starts_with("HiBob POST /people: server error"),
            "{text}"
        );
    }

    #[test]
    fn table_fits_a_terminal_and_counts_statuses() {
        let mut long = row("1", HireStatus::Failed);
        long.last_error = Some("x".repeat(500));
        long.email = format!("{}@example.com", "a".repeat(100));
        let text = rendered(&[long, row("2", HireStatus::Done)], Format::Table);
        for l in text.lines() {
            assert!(l.chars().count() <= TABLE_WIDTH, "too wide: {l}");
        }
        assert!(
            text.contains("xxxx…"),
            "the note is clipped, not dropped: {text}"
        );
        assert!(
            text.ends_with("2 hires: 1 done, 0 pending, 1 failed, 0 need attention\n"),
            "{text}"
        );
    }
}

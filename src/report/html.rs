//! The report as one self-contained HTML page people open and auditors attach: a summary
//! (counts by status, hires done per week, and the time from "hired in Pinpoint" to "done in
//! HiBob" per week, as inline SVG) above the hires, with readable column titles, links to
//! each application in Pinpoint and employee in HiBob, a status filter and a search box
//! (inline script), and a layout that fits a laptop and prints to A4 landscape.
//!
//! Written as the rows come ([`PageWriter`]): the [`Summary`] is totalled first (by the
//! ledger, or from rows in memory), so a page of any size holds one row at a time.
//!
//! No external assets (no scripts, fonts, stylesheets or images by URL), and every value from
//! the ledger is escaped: names and API error messages are not trusted markup.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};

use super::{CSV_HEADER, Context, ReportRow};
use crate::hire::HireStatus;
use crate::ledger::{EntryFilter, Ledger, LedgerError};

/// Escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// Whether [`escape`] changes `c`.
fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'')
        || crate::untrusted::is_unsafe_for_terminal(c) && c != '\n'
}

/// Appends `text` to `out` as [`escape`] writes it (most values need nothing: copied whole).
fn escape_into(out: &mut String, text: &str) {
    if !text.chars().any(needs_escape) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Shown, not obeyed: bidi overrides would reorder what a reader sees (an entity
            // would still be obeyed), and control characters have no business in a page.
            c if crate::untrusted::is_unsafe_for_terminal(c) && c != '\n' => {
                out.push_str(&c.escape_unicode().to_string())
            }
            c => out.push(c),
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.8rem}\
table{border-collapse:collapse;font-size:.8rem}\
th,td{border:1px solid #ccc;padding:.2rem .4rem;text-align:left;vertical-align:top}\
th{background:#f3f3f3}\
#hires{width:100%}#hires td{overflow-wrap:anywhere}#hires td.error{max-width:28rem}\
#hires .more{display:none}#hires.all-columns .more{display:table-cell}\
.summary td:last-child{text-align:right}\
.controls{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;margin:.5rem 0;font-size:.85rem}\
.done{color:#1a7f37}.pending{color:#9a6700}.failed{color:#cf222e}.needs_attention{color:#cf222e;font-weight:bold}.skipped,.withdrawn{color:#57606a}.waiting_for_hr{color:#0969da}\
.note{color:#666;font-size:.85rem}\
@page{size:A4 landscape;margin:12mm}\
@media print{body{margin:0;font-size:9pt}.controls{display:none}a{color:inherit;text-decoration:none}tr{break-inside:avoid}h2{break-after:avoid}}";

/// Filters the hires table by status and by a search over each row's text, with the count
/// shown; both can be set from the address (`report.html#status=failed&q=ada`). Inline, so
/// the page works from a file, offline, attached to an email.
const SCRIPT: &str = "(function(){\
var table=document.getElementById('hires');if(!table)return;\
var rows=Array.prototype.slice.call(table.tBodies[0].rows);\
var status=document.getElementById('status-filter'),search=document.getElementById('search'),\
shown=document.getElementById('shown'),all=document.getElementById('all-columns');\
function apply(){var s=status.value,q=search.value.trim().toLowerCase(),n=0;\
rows.forEach(function(r){var ok=(!s||r.getAttribute('data-status')===s)&&(!q||r.textContent.toLowerCase().indexOf(q)>=0);\
r.hidden=!ok;if(ok)n++;});shown.textContent=n+' of '+rows.length+' shown';}\
var asked=new URLSearchParams(location.hash.slice(1));\
if(asked.get('status'))status.value=asked.get('status');if(asked.get('q'))search.value=asked.get('q');\
if(asked.get('columns')==='all'){all.checked=true;}\
function columns(){table.classList.toggle('all-columns',all.checked);}\
status.addEventListener('change',apply);search.addEventListener('input',apply);all.addEventListener('change',columns);\
columns();apply();})();";

/// Each column's title as a person reads it; `more` columns show with "all columns". The
/// keys stay in `data-key`, and are CSV's and JSON's names.
const COLUMNS: [(&str, &str, bool); CSV_HEADER.len()] = [
    ("application_id", "Application", false),
    ("email", "Email", false),
    ("name", "Name", false),
    ("hibob_employee_id", "HiBob employee", false),
    ("employee_origin", "Linked as", false),
    ("status", "Status", false),
    ("cv", "CV", false),
    ("cv_document_id", "CV document", true),
    ("comment_id", "Pinpoint comment", true),
    ("attempts", "Attempts", true),
    ("last_error", "Last error", false),
    ("next_attempt_at", "Next attempt", true),
    ("first_seen_at", "First seen", true),
    ("done_at", "Done", false),
    ("updated_at", "Updated", true),
    ("drift", "Drift", true),
    ("drift_fields", "Drifted fields", true),
    ("drift_detected_at", "Drift seen", true),
    ("drift_detail", "Drift detail", true),
    ("hired_at", "Hired in Pinpoint", false),
    ("unhired_at", "Left Hired", true),
    ("start_date_source", "Start date from", true),
];

/// The Monday that starts `day`'s ISO week.
fn week_start(day: NaiveDate) -> NaiveDate {
    day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// Hires done per ISO week (by `done_at`), oldest first, with empty weeks in between.
pub fn done_per_week(rows: &[ReportRow]) -> Vec<(NaiveDate, usize)> {
    let mut weeks: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for row in rows {
        let Some(done) = row
            .done_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        else {
            continue;
        };
        *weeks
            .entry(week_start(done.with_timezone(&Utc).date_naive()))
            .or_default() += 1;
    }
    with_empty_weeks(weeks)
}

/// `weeks` oldest first, with a zero for each week in between that has none.
fn with_empty_weeks(weeks: BTreeMap<NaiveDate, usize>) -> Vec<(NaiveDate, usize)> {
    let (Some(first), Some(last)) = (
        weeks.keys().next().copied(),
        weeks.keys().next_back().copied(),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut week = first;
    while week <= last {
        out.push((week, weeks.get(&week).copied().unwrap_or(0)));
        week = week + chrono::Days::new(7);
    }
    out
}

/// What the page shows above the hires: a few numbers per status and per week, however many
/// hires there are. Computed before the first row is written, so the rows can follow it one
/// at a time without being kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Every status in [`HireStatus::ALL`]'s order, zeros included.
    pub by_status: Vec<(HireStatus, usize)>,
    pub total: usize,
    /// See [`done_per_week`].
    pub done_per_week: Vec<(NaiveDate, usize)>,
    /// See [`latency_per_week`].
    pub latency_per_week: Vec<(NaiveDate, i64, i64)>,
    /// "Send to HiBob" submits from Pinpoint's plugin for these hires, and how many succeeded.
    pub plugin_submits: (u64, u64),
}

impl Summary {
    pub fn of_rows(rows: &[ReportRow]) -> Self {
        Summary {
            by_status: HireStatus::ALL
                .into_iter()
                .map(|s| (s, rows.iter().filter(|r| r.status == s).count()))
                .collect(),
            total: rows.len(),
            done_per_week: done_per_week(rows),
            latency_per_week: latency_per_week(rows),
            plugin_submits: (0, 0),
        }
    }

    /// The same figures for the hires `filter` selects, totalled by the ledger (no row is
    /// read into memory).
    pub fn of_ledger(ledger: &Ledger, filter: &EntryFilter) -> Result<Self, LedgerError> {
        let by_status: Vec<(HireStatus, usize)> = ledger
            .count_by_status_matching(filter)?
            .into_iter()
            .map(|(s, n)| (s, n as usize))
            .collect();
        let done = ledger
            .done_per_week(filter)?
            .into_iter()
            .map(|(week, n)| (week, n as usize))
            .collect();
        Ok(Summary {
            total: by_status.iter().map(|(_, n)| n).sum(),
            by_status,
            done_per_week: with_empty_weeks(done),
            latency_per_week: ledger.latency_per_week(filter)?,
            plugin_submits: ledger.plugin_submits_matching(filter)?,
        })
    }
}

fn chart(weeks: &[(NaiveDate, usize)]) -> String {
    if weeks.is_empty() {
        return "<p class=\"note\">No hire is done yet.</p>".to_owned();
    }
    let max = weeks.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let (row_height, label_width, bar_width) = (20, 150, 400);
    let height = row_height * weeks.len() + 4;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{}\" height=\"{height}\" \
         aria-label=\"Hires done per week\">",
        label_width + bar_width + 60
    );
    for (i, (week, n)) in weeks.iter().enumerate() {
        let y = i * row_height + 2;
        let width = n * bar_width / max;
        svg.push_str(&format!(
            "<g><title>week of {week}: {n} done</title>\
             <text x=\"0\" y=\"{ty}\" font-size=\"12\">week of {week}</text>\
             <rect x=\"{label_width}\" y=\"{y}\" width=\"{width}\" height=\"{bh}\" fill=\"#1a7f37\"></rect>\
             <text x=\"{tx}\" y=\"{ty}\" font-size=\"12\">{n}</text></g>",
            ty = y + 13,
            bh = row_height - 6,
            tx = label_width + width + 6,
        ));
    }
    svg.push_str("</svg>");
    svg
}

pub fn render(rows: &[ReportRow], context: &Context, out: &mut dyn Write) -> std::io::Result<()> {
    let mut page = PageWriter::start(out, context, &Summary::of_rows(rows))?;
    for row in rows {
        page.row(row)?;
    }
    page.finish()
}

/// The page written as the rows come: [`PageWriter::start`] writes everything above the
/// first row (heading, summary, charts, controls, the table's head), [`PageWriter::row`] one
/// row, [`PageWriter::finish`] the rest. Only the row being written is held.
pub struct PageWriter<'a> {
    out: &'a mut dyn Write,
    context: &'a Context,
    /// The row being written.
    line: String,
}

impl<'a> PageWriter<'a> {
    pub fn start(
        out: &'a mut dyn Write,
        context: &'a Context,
        summary: &Summary,
    ) -> std::io::Result<Self> {
        let generated = context
            .generated_at
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut page = String::new();
        page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        page.push_str("<title>hirebridge report</title>\n");
        page.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
        page.push_str("<h1>hirebridge: hires from Pinpoint to HiBob</h1>\n");
        page.push_str(&format!(
            "<p class=\"note\">Generated {} from the ledger; {}.</p>\n",
            escape(&generated),
            if context.filters.is_empty() {
                "every hire".to_owned()
            } else {
                escape(&context.filters)
            }
        ));

        page.push_str("<h2>Summary</h2>\n<table class=\"summary\" id=\"summary\">\n<tbody>\n");
        for (status, n) in &summary.by_status {
            page.push_str(&format!(
                "<tr><th class=\"{s}\">{s}</th><td>{n}</td></tr>\n",
                s = status.as_str()
            ));
        }
        page.push_str(&format!(
            "<tr><th>total</th><td>{}</td></tr>\n",
            summary.total
        ));
        // Shown once the plugin has been used, so a report without it reads as before.
        let (submits, succeeded) = summary.plugin_submits;
        if submits > 0 {
            page.push_str(&format!(
                "<tr><th title=\"submits from Pinpoint's Send to HiBob action\">sent from Pinpoint</th><td>{submits}</td></tr>\n\
                 <tr><th>of which succeeded</th><td>{succeeded}</td></tr>\n"
            ));
        }
        page.push_str("</tbody>\n</table>\n");
        page.push_str("<h2>Hires done per week</h2>\n");
        page.push_str(&chart(&summary.done_per_week));
        page.push('\n');
        page.push_str("<h2>Time from hired in Pinpoint to done in HiBob</h2>\n");
        page.push_str(&latency_chart(&summary.latency_per_week));
        page.push('\n');

        page.push_str("<h2>Hires</h2>\n");
        page.push_str(&controls());
        page.push_str("<table id=\"hires\">\n<thead><tr>");
        for (key, title, more) in COLUMNS {
            let class = if more { " class=\"more\"" } else { "" };
            page.push_str(&format!("<th data-key=\"{key}\"{class}>{title}</th>"));
        }
        page.push_str("</tr></thead>\n<tbody>\n");
        out.write_all(page.as_bytes())?;
        Ok(PageWriter {
            out,
            context,
            line: String::new(),
        })
    }

    pub fn row(&mut self, row: &ReportRow) -> std::io::Result<()> {
        // One buffer for every row: a page of 100,000 rows allocates it once.
        let line = &mut self.line;
        line.clear();
        line.push_str("<tr data-application-id=\"");
        escape_into(line, &row.application_id);
        line.push_str("\" data-status=\"");
        line.push_str(row.status.as_str());
        line.push_str("\">");
        for (i, cell) in cells(row).iter().enumerate() {
            let (key, _, more) = COLUMNS[i];
            let marked = match key {
                "status" => Some(row.status.as_str()),
                "last_error" => Some("error"),
                _ => None,
            };
            match (more, marked) {
                (false, None) => line.push_str("<td>"),
                (true, None) => line.push_str("<td class=\"more\">"),
                (false, Some(class)) => {
                    line.push_str("<td class=\"");
                    line.push_str(class);
                    line.push_str("\">");
                }
                (true, Some(class)) => {
                    line.push_str("<td class=\"more ");
                    line.push_str(class);
                    line.push_str("\">");
                }
            }
            let pattern = match (key, &self.context.links) {
                ("application_id", Some(links)) => Some(&links.pinpoint_application),
                ("hibob_employee_id", Some(links)) if !cell.is_empty() => {
                    Some(&links.hibob_employee)
                }
                _ => None,
            };
            match pattern {
                Some(pattern) => line.push_str(&link(pattern, cell, &escape(cell))),
                None => escape_into(line, cell),
            }
            line.push_str("</td>");
        }
        line.push_str("</tr>\n");
        self.out.write_all(line.as_bytes())
    }

    pub fn finish(self) -> std::io::Result<()> {
        write!(
            self.out,
            "</tbody>\n</table>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
        )
    }
}

/// The status filter, the search box and the column switch (hidden when printed).
fn controls() -> String {
    let mut html = String::from(
        "<div class=\"controls\" id=\"controls\"><label>Status <select id=\"status-filter\">\
         <option value=\"\">all</option>",
    );
    for status in HireStatus::ALL {
        html.push_str(&format!(
            "<option value=\"{s}\">{s}</option>",
            s = status.as_str()
        ));
    }
    html.push_str(
        "</select></label> <label>Search <input id=\"search\" type=\"search\" \
         placeholder=\"name, email, id, error\"></label> <label><input id=\"all-columns\" \
         type=\"checkbox\"> all columns</label> <span id=\"shown\"></span></div>\n",
    );
    html
}

/// A link to `id` by `pattern`; the text is already escaped.
fn link(pattern: &str, id: &str, text: &str) -> String {
    format!(
        "<a href=\"{}\" rel=\"noopener noreferrer\">{text}</a>",
        escape(&crate::config::ReportLinks::to(pattern, id))
    )
}

/// A row's cells in CSV's column order.
fn cells(row: &ReportRow) -> [Cow<'_, str>; CSV_HEADER.len()] {
    fn text(s: &Option<String>) -> Cow<'_, str> {
        Cow::Borrowed(s.as_deref().unwrap_or_default())
    }
    [
        Cow::Borrowed(row.application_id.as_str()),
        Cow::Borrowed(row.email.as_str()),
        Cow::Borrowed(row.name.as_str()),
        text(&row.hibob_employee_id),
        Cow::Borrowed(row.employee_origin.unwrap_or("")),
        Cow::Borrowed(row.status.as_str()),
        Cow::Borrowed(row.cv),
        text(&row.cv_document_id),
        text(&row.comment_id),
        Cow::Owned(row.attempts.to_string()),
        text(&row.last_error),
        text(&row.next_attempt_at),
        Cow::Borrowed(row.first_seen_at.as_str()),
        text(&row.done_at),
        Cow::Borrowed(row.updated_at.as_str()),
        Cow::Borrowed(row.drift.unwrap_or("")),
        text(&row.drift_fields),
        text(&row.drift_detected_at),
        text(&row.drift_detail),
        text(&row.hired_at),
        text(&row.unhired_at),
        Cow::Borrowed(row.start_date_source.unwrap_or("")),
    ]
}

/// For each ISO week (by when the hire was done), the median and the longest time from
/// Pinpoint's `hired_at` to done, in seconds. Hires without either time are left out.
pub fn latency_per_week(rows: &[ReportRow]) -> Vec<(NaiveDate, i64, i64)> {
    let time = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let mut weeks: BTreeMap<NaiveDate, Vec<i64>> = BTreeMap::new();
    for row in rows {
        let (Some(hired), Some(done)) = (time(&row.hired_at), time(&row.done_at)) else {
            continue;
        };
        weeks
            .entry(week_start(done.date_naive()))
            .or_default()
            .push((done - hired).num_seconds().max(0));
    }
    weeks
        .into_iter()
        .map(|(week, mut spans)| {
            spans.sort_unstable();
            let n = spans.len();
            let median = if n % 2 == 1 {
                spans[n / 2]
            } else {
                (spans[n / 2 - 1] + spans[n / 2]) / 2
            };
            (week, median, spans[n - 1])
        })
        .collect()
}

/// A span in the unit a person would say it in.
fn span(seconds: i64) -> String {
    match seconds {
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 48 * 3600 => format!("{:.1} h", s as f64 / 3600.0),
        s => format!("{:.1} d", s as f64 / 86400.0),
    }
}

/// Per week: a line to the longest time and a dot at the median, both labelled.
fn latency_chart(weeks: &[(NaiveDate, i64, i64)]) -> String {
    if weeks.is_empty() {
        return "<p class=\"note\">No done hire has a hired time from Pinpoint yet.</p>".to_owned();
    }
    let worst = weeks.iter().map(|(_, _, w)| *w).max().unwrap_or(1).max(1);
    let (row_height, label_width, line_width) = (22, 150, 400);
    let height = row_height * weeks.len() + 4;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{}\" height=\"{height}\" \
         aria-label=\"Time from hired to done, median and longest per week\" id=\"latency\">",
        label_width + line_width + 220
    );
    for (i, (week, median, longest)) in weeks.iter().enumerate() {
        let y = i * row_height + 11;
        let x = |s: i64| label_width as i64 + s * line_width as i64 / worst;
        svg.push_str(&format!(
            "<g><title>week of {week}: median {m}, longest {l}</title>\
             <text x=\"0\" y=\"{ty}\" font-size=\"12\">week of {week}</text>\
             <line x1=\"{label_width}\" y1=\"{y}\" x2=\"{xl}\" y2=\"{y}\" stroke=\"#9a6700\" stroke-width=\"4\"></line>\
             <circle cx=\"{xm}\" cy=\"{y}\" r=\"5\" fill=\"#1a7f37\"></circle>\
             <text x=\"{tx}\" y=\"{ty}\" font-size=\"12\">median {m}, longest {l}</text></g>",
            ty = y + 4,
            xl = x(*longest).max(label_width as i64 + 1),
            xm = x(*median),
            tx = x(*longest) + 10,
            m = span(*median),
            l = span(*longest),
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_ledger_values_is_escaped() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn weeks_start_on_monday_and_gaps_are_shown() {
        let row = |done: &str| ReportRow {
            application_id: "1".into(),
            email: "a@b".into(),
            name: String::new(),
            hibob_employee_id: None,
            employee_origin: None,
            status: HireStatus::Done,
            cv: "none",
            cv_document_id: None,
            comment_id: None,
            attempts: 1,
            last_error: None,
            next_attempt_at: None,
            first_seen_at: done.into(),
            done_at: Some(done.into()),
            updated_at: done.into(),
            drift: None,
            drift_fields: None,
            drift_detected_at: None,
            drift_detail: None,
            hired_at: None,
            unhired_at: None,
            start_date_source: None,
        };
        // 2026-11-25 is a Wednesday; 2026-12-09 two weeks later.
        let weeks = done_per_week(&[
            row("2026-11-25T12:00:00Z"),
            row("2026-11-23T00:00:00Z"),
            row("2026-12-09T12:00:00Z"),
        ]);
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        assert_eq!(
            weeks,
            vec![
                (day(23), 2),
                (day(30), 0),
                (NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(), 1)
            ]
        );
    }
}

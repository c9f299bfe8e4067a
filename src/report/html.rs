//! The report as one self-contained HTML page an auditor can open or attach: a summary
//! (counts by status, hires done per week as an inline SVG bar chart) above the full table.
//!
//! No external assets (no scripts, fonts, stylesheets or images by URL), and every value from
//! the ledger is escaped: names and API error messages are not trusted markup.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};

use super::{CSV_HEADER, Context, ReportRow};
use crate::hire::HireStatus;

/// Escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
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
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}\
table{border-collapse:collapse;font-size:.85rem}\
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}\
th{background:#f3f3f3}\
.summary td:last-child{text-align:right}\
.done{color:#1a7f37}.pending{color:#9a6700}.failed{color:#cf222e}.needs_attention{color:#cf222e;font-weight:bold}.skipped,.withdrawn{color:#57606a}\
.note{color:#666;font-size:.85rem}";

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

fn chart(weeks: &[(NaiveDate, usize)]) -> String {
    if weeks.is_empty() {
        return "<p class=\"note\">No hire is done yet.</p>".to_owned();
    }
    let max = weeks.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let (row_height, label_width, bar_width) = (20, 110, 400);
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
    let generated = context
        .generated_at
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut page = String::new();
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
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
    for status in HireStatus::ALL {
        let n = rows.iter().filter(|r| r.status == status).count();
        page.push_str(&format!(
            "<tr><th class=\"{s}\">{s}</th><td>{n}</td></tr>\n",
            s = status.as_str()
        ));
    }
    page.push_str(&format!(
        "<tr><th>total</th><td>{}</td></tr>\n</tbody>\n</table>\n",
        rows.len()
    ));
    page.push_str("<h2>Hires done per week</h2>\n");
    page.push_str(&chart(&done_per_week(rows)));
    page.push('\n');

    page.push_str("<h2>Hires</h2>\n<table id=\"hires\">\n<thead><tr>");
    for column in CSV_HEADER {
        page.push_str(&format!("<th>{column}</th>"));
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        let cells: [String; CSV_HEADER.len()] = [
            row.application_id.clone(),
            row.email.clone(),
            row.name.clone(),
            row.hibob_employee_id.clone().unwrap_or_default(),
            row.employee_origin.unwrap_or("").to_owned(),
            row.status.as_str().to_owned(),
            row.cv.to_owned(),
            row.cv_document_id.clone().unwrap_or_default(),
            row.comment_id.clone().unwrap_or_default(),
            row.attempts.to_string(),
            row.last_error.clone().unwrap_or_default(),
            row.next_attempt_at.clone().unwrap_or_default(),
            row.first_seen_at.clone(),
            row.done_at.clone().unwrap_or_default(),
            row.updated_at.clone(),
            row.drift.unwrap_or("").to_owned(),
            row.drift_fields.clone().unwrap_or_default(),
            row.drift_detected_at.clone().unwrap_or_default(),
            row.drift_detail.clone().unwrap_or_default(),
            row.hired_at.clone().unwrap_or_default(),
            row.unhired_at.clone().unwrap_or_default(),
            row.start_date_source.unwrap_or("").to_owned(),
        ];
        page.push_str(&format!(
            "<tr data-application-id=\"{}\">",
            escape(&row.application_id)
        ));
        for (i, cell) in cells.iter().enumerate() {
            if i == 5 {
                page.push_str(&format!("<td class=\"{c}\">{c}</td>", c = escape(cell)));
            } else {
                page.push_str(&format!("<td>{}</td>", escape(cell)));
            }
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    out.write_all(page.as_bytes())
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

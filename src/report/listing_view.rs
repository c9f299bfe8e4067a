//! What `status` says of the listing: when the last full listing ran, whether passes between
//! read only what changed, and why not when every pass reads everything.

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::contract::ContractReport;
use crate::ledger::ListingMarks;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListingView {
    /// `[schedule] full_every`, e.g. `1day`.
    pub full_every: String,
    /// When the last complete full listing started (RFC 3339); `None` before the first.
    pub last_full_listing_at: Option<String>,
    /// When the last complete pass started: the next pass lists what changed since then
    /// (less a safety margin). `None` after a pass that did not complete.
    pub last_complete_pass_at: Option<String>,
    /// Every pass reads the whole hired listing, never only what changed.
    pub full_every_pass: bool,
    /// Why every pass does, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_every_pass_because: Option<String>,
}

fn when(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The view from the ledger's marks, the last contract report and `full_every`.
pub fn build(
    marks: &ListingMarks,
    contract: Option<&ContractReport>,
    full_every: Duration,
) -> ListingView {
    let fallbacks = contract.map(ContractReport::fallbacks);
    let because = if full_every.is_zero() {
        Some("[schedule] full_every is 0s".to_owned())
    } else {
        match fallbacks {
            None => Some("the API contract has not been checked yet".to_owned()),
            Some(f) if f.listing_may_be_incomplete => Some(format!(
                "the listing's paging is suspect ({} / {})",
                crate::contract::assumption::PAGE_SIZE,
                crate::contract::assumption::PAGING
            )),
            Some(f) if f.full_listing_every_pass => Some(format!(
                "Pinpoint is not known to sort applications by updated_at ({})",
                crate::contract::assumption::SORT
            )),
            Some(_) => None,
        }
    };
    ListingView {
        full_every: humantime::format_duration(full_every).to_string(),
        last_full_listing_at: marks.last_full_listing_at.map(when),
        last_complete_pass_at: marks.last_complete_pass_at.map(when),
        full_every_pass: because.is_some(),
        full_every_pass_because: because,
    }
}

pub fn render_text(view: &ListingView, out: &mut dyn Write) -> std::io::Result<()> {
    let last = view
        .last_full_listing_at
        .as_deref()
        .unwrap_or("never (the next pass reads everything)");
    match &view.full_every_pass_because {
        Some(_) if view.full_every == "0s" => writeln!(
            out,
            "listing: every pass reads the whole hired listing ([schedule] full_every = \"0s\"); last {last}"
        ),
        Some(because) => writeln!(
            out,
            "listing: EVERY PASS READS THE WHOLE HIRED LISTING: {because}; last full listing {last}"
        ),
        None => writeln!(
            out,
            "listing: last full listing {last} (every {}); passes between read only what changed",
            view.full_every
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Finding, Outcome};

    fn report(sort: Outcome) -> ContractReport {
        let finding: Finding = serde_json::from_value(serde_json::json!({
            "assumption": crate::contract::assumption::SORT,
            "outcome": sort,
            "seen": "…",
            "stops_writes": false,
        }))
        .unwrap();
        ContractReport {
            checked_at: Utc::now(),
            asked: String::new(),
            findings: vec![finding],
        }
    }

    #[test]
    fn a_tenant_that_ignores_sort_is_named_as_reading_everything_every_pass() {
        let day = Duration::from_secs(86_400);
        let marks = ListingMarks::default();
        let view = build(&marks, Some(&report(Outcome::Broken)), day);
        assert!(view.full_every_pass);
        let mut text = Vec::new();
        render_text(&view, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("EVERY PASS READS THE WHOLE HIRED LISTING"),
            "{text}"
        );
        assert!(text.contains("pinpoint.sort_updated_at"), "{text}");
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["full_every_pass"], true);

        let sorted = build(&marks, Some(&report(Outcome::Holds)), day);
        assert!(!sorted.full_every_pass);
        assert!(build(&marks, Some(&report(Outcome::Holds)), Duration::ZERO).full_every_pass);
    }
}

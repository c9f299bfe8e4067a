//! The API contract hirebridge relies on, checked on the customer's own tenant: one cheap,
//! read-only probe per assumption (docs/api.md), a verdict for each, and which
//! verdicts stop writes.
//!
//! It owns the probes, the verdicts and what follows from them (stop writes, or a safe
//! fallback). It writes nothing remotely, holds no SQL (the ledger keeps the last report) and
//! never plans a hire's steps: a pass asks it whether it may write at all.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::hibob::HibobClient;
use crate::http::ApiError;
use crate::pinpoint::PinpointClient;
use crate::pinpoint::model::{ProbePage, ProbeRecord};

/// How long a report is trusted before the next pass checks again.
pub const RECHECK_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The assumptions, by the names `check`, `status` and `/metrics` show.
pub mod assumption {
    pub const STAGE_FILTER: &str = "pinpoint.stage_filter";
    pub const JOB_VISIBILITY: &str = "pinpoint.job_visibility";
    pub const ATTACHMENTS: &str = "pinpoint.attachments";
    pub const INCLUDES: &str = "pinpoint.includes";
    pub const PAGE_SIZE: &str = "pinpoint.page_size";
    pub const PAGING: &str = "pinpoint.paging";
    pub const SORT: &str = "pinpoint.sort_updated_at";
    pub const SEARCH_BATCH: &str = "hibob.search_batch";
    pub const SHOW_INACTIVE: &str = "hibob.show_inactive";
    pub const READ_FIELDS: &str = "hibob.read_fields";
    pub const HUMAN_READABLE: &str = "hibob.human_readable";
    pub const DOCUMENTS: &str = "hibob.documents";
}

/// A verdict on one assumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The tenant behaves as assumed.
    Holds,
    /// The tenant contradicts the assumption.
    Broken,
    /// Nothing to look at (e.g. no employee yet): neither proven nor disproven.
    Unproven,
    /// The probe itself failed (timeout, 5xx): unknown until the next check.
    Unchecked,
}

/// One assumption's verdict, with what was seen and what to do about a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub assumption: String,
    pub outcome: Outcome,
    pub seen: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Writes are correct only if this holds: broken (or unchecked), it stops every write.
    pub stops_writes: bool,
}

impl Finding {
    fn new(
        assumption: &str,
        stops_writes: bool,
        outcome: Outcome,
        seen: impl Into<String>,
    ) -> Self {
        // An API's own error text ends up here: keep it to a line.
        let seen: String = seen.into();
        let seen = if seen.chars().count() > 400 {
            seen.chars().take(399).chain(['…']).collect()
        } else {
            seen
        };
        Self {
            assumption: assumption.to_owned(),
            outcome,
            seen,
            fix: None,
            stops_writes,
        }
    }
    fn fix(mut self, fix: impl Into<String>) -> Self {
        if matches!(self.outcome, Outcome::Broken | Outcome::Unchecked) {
            self.fix = Some(fix.into());
        }
        self
    }

    /// This finding stops writes now.
    pub fn is_stopping(&self) -> bool {
        self.stops_writes && matches!(self.outcome, Outcome::Broken | Outcome::Unchecked)
    }

    /// `✓`, `✗` or `?` (unproven).
    pub fn mark(&self) -> &'static str {
        match self.outcome {
            Outcome::Holds => "✓",
            Outcome::Unproven => "?",
            Outcome::Broken | Outcome::Unchecked => "✗",
        }
    }
}

/// The last contract check: when, under which settings, and each verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractReport {
    pub checked_at: DateTime<Utc>,
    /// What the probes asked, from the configuration (filter, includes, batch size): a
    /// change checks again at once.
    pub asked: String,
    pub findings: Vec<Finding>,
}

/// Safe fallbacks for the assumptions whose failure does not stop writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fallbacks {
    /// `hibob.search_batch` failed: search one email at a time.
    pub search_one_by_one: bool,
    /// `pinpoint.page_size`/`pinpoint.paging` failed: a listing is not known to be complete,
    /// so no hire is taken as withdrawn for its absence.
    pub listing_may_be_incomplete: bool,
    /// `hibob.human_readable` failed: HiBob's list values cannot be compared with what was
    /// written, so in update mode drift waits (neither reported nor updated); report mode,
    /// which reads only the listing, goes on.
    pub skip_drift: bool,
    /// `pinpoint.sort_updated_at` is not proven (broken, unchecked, unproven, or a report
    /// from before it was checked): every pass reads the whole listing, never only what
    /// changed.
    pub full_listing_every_pass: bool,
}

impl ContractReport {
    /// The findings that stop writes now.
    pub fn stopping(&self) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.is_stopping()).collect()
    }

    fn failed(&self, assumption: &str) -> bool {
        self.findings.iter().any(|f| {
            f.assumption == assumption && matches!(f.outcome, Outcome::Broken | Outcome::Unchecked)
        })
    }

    pub fn fallbacks(&self) -> Fallbacks {
        Fallbacks {
            search_one_by_one: self.failed(assumption::SEARCH_BATCH),
            listing_may_be_incomplete: self.failed(assumption::PAGE_SIZE)
                || self.failed(assumption::PAGING),
            skip_drift: self.failed(assumption::HUMAN_READABLE),
            full_listing_every_pass: !self
                .findings
                .iter()
                .any(|f| f.assumption == assumption::SORT && f.outcome == Outcome::Holds),
        }
    }

    /// Whether a pass must check again before it writes: the report is a day old, the
    /// settings changed, writes are stopped (the operator may have fixed it since), or a
    /// probe could not run (a transient failure must not leave a fallback on for a day).
    pub fn needs_recheck(&self, now: DateTime<Utc>, asked: &str) -> bool {
        // A check "from the future" (the clock was corrected since) is as good as none.
        let age = (now - self.checked_at).to_std().unwrap_or(RECHECK_AFTER);
        age >= RECHECK_AFTER
            || self.asked != asked
            || self.findings.iter().any(|f| {
                f.is_stopping()
                    || f.outcome == Outcome::Unchecked
                    // Pinpoint's listing showed nothing to look at (no application yet, or a
                    // refused filter): the next pass looks again before it writes.
                    || (f.outcome == Outcome::Unproven
                        && f.stops_writes
                        && f.assumption.starts_with("pinpoint."))
            })
    }

    /// One line for logs and the pass summary: the stopping findings and their fixes.
    pub fn stop_message(&self) -> Option<String> {
        let stopping = self.stopping();
        if stopping.is_empty() {
            return None;
        }
        // Assumptions that failed the same way (one unreachable API) are said once.
        let mut said: Vec<(Vec<&str>, &str, Option<&str>)> = Vec::new();
        for f in stopping {
            match said
                .iter_mut()
                .find(|(_, seen, fix)| *seen == f.seen && *fix == f.fix.as_deref())
            {
                Some((names, _, _)) => names.push(&f.assumption),
                None => said.push((vec![&f.assumption], &f.seen, f.fix.as_deref())),
            }
        }
        Some(
            said.iter()
                .map(|(names, seen, fix)| match fix {
                    Some(fix) => format!("{} ✗ {seen} — fix: {fix}", names.join(", ")),
                    None => format!("{} ✗ {seen}", names.join(", ")),
                })
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// Records what a listing page showed against the stage filter, keeping the rest.
    pub fn with_finding(mut self, finding: Finding) -> Self {
        self.findings.retain(|f| f.assumption != finding.assumption);
        self.findings.push(finding);
        self
    }
}

/// A listing page whose own records contradict the hired-stage filter: the filter cannot be
/// trusted for the pass, whatever its probe said.
pub fn contradicting_page(page: u32, why: &str, fix: &str) -> Finding {
    Finding::new(
        assumption::STAGE_FILTER,
        true,
        Outcome::Broken,
        format!("page {page} of the hired-stage listing contradicts its filter: {why}"),
    )
    .fix(fix)
}

/// The fix for a stage filter that does not narrow the listing to hires.
pub fn stage_filter_fix(pinpoint: &PinpointClient) -> String {
    if pinpoint.stage_filter_key() == "filter[stage_id]" {
        "check pinpoint.hired_stage_ids against Pinpoint's stages (Settings > Hiring stages); \
         nothing is written until the listing holds only hires"
            .into()
    } else {
        "set pinpoint.hired_stage_ids to the ids of the Hired stages (the listing then filters by \
         filter[stage_id]); nothing is written until the listing holds only hires"
            .into()
    }
}

/// What the probes ask, for telling whether a stored report still applies.
pub fn asked(pinpoint: &PinpointClient, search_batch: usize) -> String {
    format!(
        "{}|{}|search_batch={search_batch}|sort=-updated_at",
        pinpoint.listing_filters(),
        pinpoint.included_relationships().join(",")
    )
}

/// The clients and what the probes look for.
pub struct Probes<'a> {
    pub pinpoint: &'a PinpointClient,
    pub hibob: &'a HibobClient,
    /// `hibob.search_batch_size`.
    pub search_batch: usize,
    /// HiBob ids of employees hirebridge wrote or adopted (newest first): HiBob's search must
    /// show them.
    pub witnesses: &'a [String],
}

/// The probes stopped on a refused credential: no verdict is possible (and the pass's own
/// handling of a refused key applies).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refused(e: &ApiError) -> Option<Refused> {
    matches!(e, ApiError::Unauthorized { .. } | ApiError::Halted { .. })
        .then(|| Refused(e.to_string()))
}

/// Runs every probe (read-only: about 7 requests) and returns the verdicts.
pub async fn verify(probes: &Probes<'_>, now: DateTime<Utc>) -> Result<ContractReport, Refused> {
    let mut findings = Vec::new();
    let stage = stage_filter(probes.pinpoint).await?;
    let pinpoint_unreachable = stage.outcome == Outcome::Unchecked;
    findings.push(stage);
    if pinpoint_unreachable {
        // Pinpoint did not answer its first probe: the others would only fail the same way.
        let first = findings[0].clone();
        findings.extend(
            [
                (assumption::JOB_VISIBILITY, false),
                (assumption::ATTACHMENTS, true),
                (assumption::INCLUDES, true),
                (assumption::PAGE_SIZE, false),
                (assumption::PAGING, false),
            ]
            .map(|(name, stops)| Finding {
                assumption: name.to_owned(),
                stops_writes: stops,
                ..first.clone()
            }),
        );
    }
    let visibility = if pinpoint_unreachable {
        None
    } else {
        Some(job_visibility(probes.pinpoint).await?)
    };
    let Some(visibility) = visibility else {
        findings.extend(hibob_findings(probes).await?);
        return Ok(ContractReport {
            checked_at: now,
            asked: asked(probes.pinpoint, probes.search_batch),
            findings,
        });
    };
    let listing_refused = visibility.outcome == Outcome::Broken;
    findings.push(visibility);
    if listing_refused {
        // Every listing carries that filter: nothing more can be seen of it.
        let seen = format!(
            "cannot look: Pinpoint refuses the listing's filter[job_visibility] (see {})",
            assumption::JOB_VISIBILITY
        );
        findings.extend(
            [
                (assumption::ATTACHMENTS, true),
                (assumption::INCLUDES, true),
                (assumption::PAGE_SIZE, false),
                (assumption::PAGING, false),
            ]
            .map(|(name, stops)| Finding::new(name, stops, Outcome::Unproven, seen.clone())),
        );
    } else {
        findings.extend(listing_shape(probes.pinpoint).await?);
        findings.push(sort_order(probes.pinpoint).await?);
    }
    findings.extend(hibob_findings(probes).await?);
    Ok(ContractReport {
        checked_at: now,
        asked: asked(probes.pinpoint, probes.search_batch),
        findings,
    })
}

/// Whether Pinpoint sorts applications by `updated_at`, which the listing of what changed
/// relies on: two one-application pages sorted `-updated_at` must come newest first, and the
/// first sorted `updated_at` (ascending) must be no newer than either and older than the
/// first. A server that ignores `sort` answers the same order to both and can never pass.
/// Broken or not proven, it costs requests, never a hire: every pass lists everything.
async fn sort_order(pinpoint: &PinpointClient) -> Result<Finding, Refused> {
    use crate::pinpoint::SortedRecord;
    let fix = "every pass reads the whole hired listing instead of only what changed (more \
               listing requests; nothing is missed); the next daily check looks again";
    let mut read = Vec::new();
    for (sort, page) in [("-updated_at", 1), ("-updated_at", 2), ("updated_at", 1)] {
        match pinpoint.probe_sorted(sort, page).await {
            Ok(record) => read.push(record),
            Err(e) => return Ok(unchecked(assumption::SORT, false, &e)?.fix(fix)),
        }
    }
    let times = |r: &Option<SortedRecord>| r.as_ref().and_then(|r| r.updated_at);
    let (newest, next, oldest) = match (times(&read[0]), times(&read[1]), times(&read[2])) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => {
            let seen = "fewer than two applications with an updated_at to compare";
            return Ok(Finding::new(
                assumption::SORT,
                false,
                Outcome::Unproven,
                seen,
            ));
        }
    };
    let finding = |outcome, seen: String| Finding::new(assumption::SORT, false, outcome, seen);
    Ok(if newest < next || oldest > next {
        finding(
            Outcome::Broken,
            format!(
                "sort=-updated_at listed {next} after {newest}, and sort=updated_at began at \
                 {oldest}: Pinpoint seems to ignore sort"
            ),
        )
        .fix(fix)
    } else if oldest >= newest {
        finding(
            Outcome::Unproven,
            format!("every application compared was last changed at {newest}: no order to see"),
        )
    } else {
        finding(
            Outcome::Holds,
            "sort=-updated_at lists the newest first (two pages), sort=updated_at the oldest"
                .into(),
        )
    })
}

/// The HiBob assumptions: the search batch first; when HiBob does not answer it, the others
/// are unchecked the same way without asking.
async fn hibob_findings(probes: &Probes<'_>) -> Result<Vec<Finding>, Refused> {
    let batch = search_batch(probes.hibob, probes.search_batch).await?;
    if batch.outcome == Outcome::Unchecked {
        let mut findings = vec![batch.clone()];
        findings.extend(
            [
                (assumption::SHOW_INACTIVE, true),
                (assumption::READ_FIELDS, true),
                (assumption::HUMAN_READABLE, false),
                (assumption::DOCUMENTS, true),
            ]
            .map(|(name, stops)| Finding {
                assumption: name.to_owned(),
                stops_writes: stops,
                ..batch.clone()
            }),
        );
        return Ok(findings);
    }
    let mut findings = vec![batch];
    findings.extend(people(probes).await?);
    Ok(findings)
}

fn unchecked(assumption: &str, stops_writes: bool, e: &ApiError) -> Result<Finding, Refused> {
    if let Some(r) = refused(e) {
        return Err(r);
    }
    Ok(Finding::new(
        assumption,
        stops_writes,
        Outcome::Unchecked,
        format!("could not check: {e}"),
    )
    .fix("the next pass checks again; if this persists, see the error above"))
}

async fn stage_filter(pinpoint: &PinpointClient) -> Result<Finding, Refused> {
    use assumption::STAGE_FILTER as NAME;
    let key = pinpoint.stage_filter_key();
    Ok(match pinpoint.probe_stage_filter().await {
        Ok(0) => Finding::new(
            NAME,
            true,
            Outcome::Holds,
            format!("{key} is honoured: a value no stage has lists nothing"),
        ),
        Ok(_) => Finding::new(
            NAME,
            true,
            Outcome::Broken,
            format!(
                "Pinpoint ignores {key}: a value no stage has still lists applications, so the \
                 hired-stage listing would list every application"
            ),
        )
        .fix(stage_filter_fix(pinpoint)),
        // Refusing a value no stage has means the filter is checked, not ignored: no listing
        // by it can list everything (should it refuse `hired` too, the listing fails and
        // nothing is written).
        Err(ApiError::Invalid { .. }) => Finding::new(
            NAME,
            true,
            Outcome::Holds,
            format!("{key} is checked: a value no stage has is refused"),
        ),
        Err(e) => unchecked(NAME, true, &e)?,
    })
}

async fn job_visibility(pinpoint: &PinpointClient) -> Result<Finding, Refused> {
    use assumption::JOB_VISIBILITY as NAME;
    Ok(match pinpoint.probe_visibility("confidential").await {
        Ok(_) => Finding::new(
            NAME,
            false,
            Outcome::Holds,
            "filter[job_visibility]=confidential is accepted",
        ),
        Err(e @ (ApiError::Invalid { .. } | ApiError::NotFound { .. })) => Finding::new(
            NAME,
            false,
            Outcome::Broken,
            format!(
                "Pinpoint refuses filter[job_visibility]=confidential ({e}): without it, hires \
                 on confidential and private jobs are hidden from the listing"
            ),
        )
        .fix("the listing fails until Pinpoint accepts the filter; ask Pinpoint support whether the API key may read confidential jobs"),
        Err(e) => unchecked(NAME, false, &e)?,
    })
}

/// The four assumptions the listing probe answers, each with whether it stops writes.
const LISTING_ASSUMPTIONS: [(&str, bool); 4] = [
    (assumption::ATTACHMENTS, true),
    (assumption::INCLUDES, true),
    (assumption::PAGE_SIZE, false),
    (assumption::PAGING, false),
];

/// Attachments, includes, `page[size]` and paging, from the first two one-record pages of
/// the listing asked as the pass asks it.
async fn listing_shape(pinpoint: &PinpointClient) -> Result<Vec<Finding>, Refused> {
    let first = match pinpoint.probe_records(1, None).await {
        Ok(page) => page,
        Err(e) => return listing_refused(pinpoint, &e),
    };
    let Some(record) = &first.first else {
        let seen = "Pinpoint lists no application at all: nothing to look at yet";
        return Ok(LISTING_ASSUMPTIONS
            .map(|(name, stops)| Finding::new(name, stops, Outcome::Unproven, seen))
            .into());
    };
    let mut findings = vec![
        attachments_finding(record),
        includes_finding(pinpoint, record),
        page_size_finding(&first),
    ];
    let second = pinpoint.probe_records(2, first.next_link.as_deref()).await;
    findings.push(paging_finding(&first, second)?);
    Ok(findings)
}

/// The first listing page failed: every listing assumption is broken by a refused parameter,
/// or unchecked when the failure says nothing about the listing's shape.
fn listing_refused(pinpoint: &PinpointClient, e: &ApiError) -> Result<Vec<Finding>, Refused> {
    // A refused parameter (an unknown include, or extra_fields) is the API saying no.
    if let ApiError::Invalid { .. } = e {
        let seen = format!(
            "Pinpoint refuses the listing as hirebridge asks it (attachments and include={}): {e}",
            pinpoint.included_relationships().join(",")
        );
        return Ok(LISTING_ASSUMPTIONS
            .map(|(name, stops)| {
                Finding::new(name, stops, Outcome::Broken, seen.clone())
                    .fix("check the [mapping] templates' related records (offer, custom, job.*); every pass fails until Pinpoint accepts the listing")
            })
            .into());
    }
    LISTING_ASSUMPTIONS
        .into_iter()
        .map(|(name, stops)| unchecked(name, stops, e))
        .collect()
}

/// Without `attachments` on a listed record, every hire would look as if it had no CV.
fn attachments_finding(record: &ProbeRecord) -> Finding {
    if record.has_attachments {
        Finding::new(
            assumption::ATTACHMENTS,
            true,
            Outcome::Holds,
            "extra_fields[applications]=attachments returns attachments",
        )
    } else {
        Finding::new(
            assumption::ATTACHMENTS,
            true,
            Outcome::Broken,
            "extra_fields[applications]=attachments returned an application without \
             `attachments`: every hire would be taken as having no CV",
        )
        .fix("nothing is written until Pinpoint returns attachments; ask Pinpoint support whether the API changed")
    }
}

/// Relationships asked for but not included would make the mapping write empty values.
fn includes_finding(pinpoint: &PinpointClient, record: &ProbeRecord) -> Finding {
    if record.not_included.is_empty() {
        Finding::new(
            assumption::INCLUDES,
            true,
            Outcome::Holds,
            format!(
                "include={} is honoured",
                pinpoint.included_relationships().join(",")
            ),
        )
    } else {
        Finding::new(
            assumption::INCLUDES,
            true,
            Outcome::Broken,
            format!(
                "Pinpoint did not include {} although asked: the mapping would write empty values",
                record.not_included.join(", ")
            ),
        )
        .fix("nothing is written until the includes come back; check the [mapping] templates' related records")
    }
}

/// A first page of `page[size]=1` holding more than one record means the size is ignored.
fn page_size_finding(first: &ProbePage) -> Finding {
    if first.records <= 1 {
        Finding::new(
            assumption::PAGE_SIZE,
            false,
            Outcome::Holds,
            "page[size]=1 lists one application",
        )
    } else {
        Finding::new(
            assumption::PAGE_SIZE,
            false,
            Outcome::Broken,
            format!("page[size]=1 listed {} applications", first.records),
        )
        .fix("hires are still listed, but none is taken as withdrawn for missing from a listing until paging behaves")
    }
}

/// A second page repeating the first means paging is ignored: hires past page 1 go unseen.
fn paging_finding(
    first: &ProbePage,
    second: Result<ProbePage, ApiError>,
) -> Result<Finding, Refused> {
    use assumption::PAGING;
    Ok(match second {
        Ok(second) if second.records == 0 && first.next_link.is_none() => Finding::new(
            PAGING,
            false,
            Outcome::Unproven,
            "Pinpoint lists a single application: no second page to look at",
        ),
        Ok(second) => {
            let repeated: Vec<&String> = second
                .ids
                .iter()
                .filter(|id| first.ids.contains(id))
                .collect();
            if repeated.is_empty() {
                Finding::new(
                    PAGING,
                    false,
                    Outcome::Holds,
                    if first.next_link.is_some() {
                        "links.next leads to the following applications"
                    } else {
                        "page[number]=2 lists the following applications"
                    },
                )
            } else {
                Finding::new(
                    PAGING,
                    false,
                    Outcome::Broken,
                    format!(
                        "page 2 of the listing repeats page 1 (application {}): Pinpoint seems to ignore paging",
                        repeated[0]
                    ),
                )
                .fix("hires beyond the first page may be missed and none is taken as withdrawn until paging behaves; ask Pinpoint support")
            }
        }
        Err(e) => unchecked(PAGING, false, &e)?,
    })
}

async fn search_batch(hibob: &HibobClient, size: usize) -> Result<Finding, Refused> {
    use assumption::SEARCH_BATCH as NAME;
    Ok(match hibob.probe_search_batch(size).await {
        Ok(_) => Finding::new(
            NAME,
            false,
            Outcome::Holds,
            format!("a search for {size} emails at once is answered"),
        ),
        Err(e @ ApiError::Invalid { .. }) => Finding::new(
            NAME,
            false,
            Outcome::Broken,
            format!("HiBob refuses a search for {size} emails at once: {e}"),
        )
        .fix("hirebridge searches one email at a time meanwhile; lower hibob.search_batch_size"),
        Err(e) => unchecked(NAME, false, &e)?,
    })
}

/// `showInactive`, the fields hirebridge reads, `humanReadable` and the documents list, from
/// one unfiltered search (everyone, streamed: counted as it arrives, never held) and one
/// documents read. A tenant whose read of everyone fails (it times out) is judged on the
/// employees hirebridge wrote instead, found by id: weaker evidence for `showInactive`
/// (unproven unless one of them is inactive), but evidence, where the full read would leave
/// writes stopped for good.
async fn people(probes: &Probes<'_>) -> Result<Vec<Finding>, Refused> {
    use assumption::{HUMAN_READABLE, READ_FIELDS, SHOW_INACTIVE};
    let witnesses = probes.witnesses;
    let read = match probes.hibob.probe_people(&[], witnesses).await {
        Err(e) if !witnesses.is_empty() && !matches!(e, ApiError::Unauthorized { .. }) => {
            tracing::info!(error = %e, "reading everyone in HiBob failed; judging the contract on the employees hirebridge wrote");
            probes.hibob.probe_people(witnesses, witnesses).await
        }
        read => read,
    };
    let people = match read {
        Ok(people) => people,
        Err(e) => {
            let mut findings = [
                (SHOW_INACTIVE, true),
                (READ_FIELDS, true),
                (HUMAN_READABLE, false),
            ]
            .into_iter()
            .map(|(name, stops)| unchecked(name, stops, &e))
            .collect::<Result<Vec<_>, _>>()?;
            findings.push(documents(probes, None).await?);
            return Ok(findings);
        }
    };
    let mut findings = Vec::new();
    if people.people == 0 {
        let seen = "HiBob's search shows nobody: nothing to look at";
        findings.push(if witnesses.is_empty() {
            Finding::new(SHOW_INACTIVE, true, Outcome::Unproven, seen)
        } else {
            show_inactive_ignored(witnesses.len(), &witnesses[0])
        });
        findings.extend(
            [(READ_FIELDS, true), (HUMAN_READABLE, false)]
                .map(|(name, stops)| Finding::new(name, stops, Outcome::Unproven, seen)),
        );
    } else {
        findings.extend(people_findings(&people, witnesses));
    }
    let employee = witnesses
        .iter()
        .find(|w| people.witnesses_seen.contains(*w))
        .or(people.first_id.as_ref());
    findings.push(documents(probes, employee.map(String::as_str)).await?);
    Ok(findings)
}

/// The verdicts on `showInactive`, the fields read and `humanReadable`, from a search that
/// showed somebody.
fn people_findings(
    people: &crate::hibob::people::PeopleSummary,
    witnesses: &[String],
) -> [Finding; 3] {
    use assumption::{HUMAN_READABLE, READ_FIELDS, SHOW_INACTIVE};
    let missing: Vec<&String> = witnesses
        .iter()
        .filter(|w| !people.witnesses_seen.contains(*w))
        .collect();
    let show_inactive = if people.inactive > 0 {
        Finding::new(
            SHOW_INACTIVE,
            true,
            Outcome::Holds,
            format!(
                "showInactive returns inactive people ({} of {})",
                people.inactive, people.people
            ),
        )
    } else if let Some(first) = missing.first() {
        show_inactive_ignored(missing.len(), first)
    } else {
        Finding::new(
            SHOW_INACTIVE,
            true,
            Outcome::Unproven,
            format!(
                "no inactive person among {} people (a tenant without future starters or \
                 former employees looks the same)",
                people.people
            ),
        )
    };
    let read_fields = if people.with_lifecycle {
        Finding::new(
            READ_FIELDS,
            true,
            Outcome::Holds,
            "search returns root.id, root.email and internal.lifecycleStatus",
        )
    } else {
        Finding::new(
            READ_FIELDS,
            true,
            Outcome::Broken,
            format!(
                "search returned no internal.lifecycleStatus for any of {} people: the service \
                 user may not read it, so a former employee would be taken for a future starter",
                people.people
            ),
        )
        .fix("nothing is written until the field comes back: give the service user's permission group view access to the Lifecycle (internal) fields")
    };
    let human_readable = if people.human_readable {
        Finding::new(
            HUMAN_READABLE,
            false,
            Outcome::Holds,
            "humanReadable=APPEND in the search body is honoured",
        )
    } else {
        Finding::new(
            HUMAN_READABLE,
            false,
            Outcome::Broken,
            "search ignored humanReadable=APPEND: list values come back as item ids",
        )
        .fix("with mapping.on_change = \"update\", drift waits meanwhile, neither reported nor updated (HiBob's list values cannot be compared with what was written); report mode is unaffected")
    };
    [show_inactive, read_fields, human_readable]
}

/// Search with `showInactive` shows no inactive person and not `missing` of the employees
/// hirebridge wrote (`example` among them).
fn show_inactive_ignored(missing: usize, example: &str) -> Finding {
    Finding::new(
        assumption::SHOW_INACTIVE,
        true,
        Outcome::Broken,
        format!(
            "search with showInactive shows no inactive person and not {missing} of the \
             employees hirebridge wrote (e.g. {example}): HiBob seems to ignore showInactive, so \
             a future starter or a former employee would be created a second time"
        ),
    )
    .fix("nothing is written until HiBob's search shows inactive people; check that the service user's permission group may view inactive employees")
}

async fn documents(probes: &Probes<'_>, employee: Option<&str>) -> Result<Finding, Refused> {
    use assumption::DOCUMENTS as NAME;
    let Some(employee) = employee else {
        return Ok(Finding::new(
            NAME,
            true,
            Outcome::Unproven,
            "no employee to read documents of yet",
        ));
    };
    Ok(match probes.hibob.probe_documents(employee).await {
        Ok(Ok(0)) => Finding::new(
            NAME,
            true,
            Outcome::Unproven,
            format!("employee {employee} has no document yet: nothing to look at"),
        ),
        Ok(Ok(count)) => Finding::new(
            NAME,
            true,
            Outcome::Holds,
            format!(
                "the documents list of employee {employee} has the shape hirebridge reads ({count} document(s))"
            ),
        ),
        Ok(Err(shape)) => Finding::new(
            NAME,
            true,
            Outcome::Broken,
            format!("the documents list of employee {employee} is not what hirebridge reads: {shape}"),
        )
        .fix("nothing is written until the list can be read (a CV already there could not be recognised, so it would be uploaded twice)"),
        Err(e) => unchecked(NAME, true, &e)?,
    })
}

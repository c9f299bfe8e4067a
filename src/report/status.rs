//! The one-screen health view behind `hirebridge status`: last and next poll, counts by
//! status, the oldest unfinished hire, what needs a person and why, and the ledger itself.
//!
//! Pure: built from ledger rows, the last pass, the schedule and a `now` the caller passes,
//! so it can be tested without a clock or a daemon.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::config::{Schedule, next_tick};
use crate::hire::{HireStatus, LedgerEntry, PassOutcome, PassSummary};
use crate::ledger::PassRecord;

/// How healthy the ledger looks, worst first. Each maps to a documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    /// Some hires wait for a retry, or the last listing failed.
    Retrying,
    /// No pass has started when one was due (the daemon is stopped or stuck).
    Stale,
    /// Some hires need a person, or the last pass was refused credentials.
    NeedsAttention,
}

/// How long after a missed poll `status` calls the daemon stale: a long first import must
/// not page anyone, a dead daemon must.
const MIN_STALE_GRACE: chrono::Duration = chrono::Duration::minutes(30);

#[derive(Debug, Clone, Serialize)]
pub struct PassView {
    pub id: i64,
    pub trigger: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `completed`, `shutdown`, `unauthorized`, `listing_failed`; none while running.
    pub outcome: Option<String>,
    /// The pass's counts as JSON (`listed`, `new`, `completed`, `retrying`, `parked`, `unusable`).
    pub summary: Option<serde_json::Value>,
    /// What produced the pass: hirebridge's version, a digest of the effective config (secrets
    /// excluded), the OS user who ran it by hand. Absent for a pass from before they were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HireView {
    pub application_id: String,
    pub email: String,
    pub status: HireStatus,
    pub first_seen_at: String,
    pub next_attempt_at: Option<String>,
    /// Why it waits or needs attention.
    pub reason: Option<String>,
    /// A done hire found out of the Hired stage since (see [`StatusView::unhired`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhired_at: Option<String>,
    /// How long it has been with HR (sent to HiBob's Pending hires), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub health: Health,
    /// Each problem in words, worst first; empty when healthy.
    pub problems: Vec<String>,
    pub last_pass: Option<PassView>,
    pub next_poll: Option<String>,
    pub schedule: String,
    pub counts: Vec<(HireStatus, u64)>,
    pub total: u64,
    pub oldest_unfinished: Option<HireView>,
    pub needs_attention: Vec<HireView>,
    pub retrying: Vec<HireView>,
    /// Done hires that later left the Hired stage: HR may want to act in HiBob (hirebridge
    /// never deletes). Does not change the health or exit code.
    pub unhired: Vec<HireView>,
    /// Hires left out by the go-live cutoff, in words with one example's reason (which names
    /// the cutoff); `None` when there are none. Does not change the health or exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub ledger_path: PathBuf,
    pub ledger_bytes: u64,
    pub schema_version: i64,
    /// Done hires whose mapped values changed in Pinpoint and wait for a person (reported,
    /// edited in HiBob, or refused by HiBob). Drift does not change the health or exit code.
    pub drift: Vec<DriftView>,
    /// The last API contract check; `None` before the first.
    pub contract: Option<ContractView>,
    /// "Send to HiBob" submits from Pinpoint's plugin recorded in the ledger (replays are
    /// answered from it and not counted again).
    pub plugin_submits: PluginSubmitsView,
    /// The audit trail: the chain's length, its signed checkpoints, erasures.
    pub audit: Option<AuditView>,
    /// Full listings and listings of what changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing: Option<super::listing_view::ListingView>,
    /// HR's own hire flow: hires with HR a person should look at.
    pub hr_flow: super::hr_view::HrFlowView,
    /// The notifications' outbox (`[notify]`), once anything was put in it. Its failures are
    /// shown, never the health's: a pass is never held up by them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notifications: Option<crate::ledger::OutboxSummary>,
}

/// The audit trail, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditView {
    pub events: u64,
    pub checkpoints: u64,
    pub last_checkpoint_at: Option<String>,
    /// Events after the last checkpoint (the next pass signs them).
    pub unsealed_events: u64,
    pub personal_data_erased: u64,
}

impl From<crate::ledger::AuditSummary> for AuditView {
    fn from(s: crate::ledger::AuditSummary) -> Self {
        Self {
            events: s.events,
            checkpoints: s.checkpoints,
            last_checkpoint_at: s
                .last_checkpoint_at_ms
                .and_then(DateTime::<Utc>::from_timestamp_millis)
                .map(when),
            unsealed_events: s.unsealed,
            personal_data_erased: s.erased_hires,
        }
    }
}

/// Pinpoint plugin submits, for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PluginSubmitsView {
    pub total: u64,
    /// Answered with success: HiBob's employee id.
    pub succeeded: u64,
}

/// The last API contract check, for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct ContractView {
    pub checked_at: String,
    /// Some assumption writes depend on failed: nothing is written until it holds.
    pub writes_stopped: bool,
    pub holds: usize,
    pub unproven: usize,
    pub failed: usize,
    /// Every assumption that does not hold, with what was seen and the fix.
    pub findings: Vec<crate::contract::Finding>,
}

/// One hire's drift, for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct DriftView {
    pub application_id: String,
    pub drift: &'static str,
    pub fields: Vec<String>,
    pub detected_at: Option<String>,
    pub detail: Option<String>,
}

/// The drift a person should look at, oldest first.
pub fn drift_views(
    mapped: &std::collections::HashMap<String, crate::ledger::MappedRecord>,
) -> Vec<DriftView> {
    let mut views: Vec<&crate::ledger::MappedRecord> = mapped
        .values()
        .filter(|r| r.drift.is_some_and(|d| d.needs_a_person()))
        .collect();
    views.sort_by_key(|r| (r.drift_detected_at, r.application_id.clone()));
    views
        .into_iter()
        .map(|r| DriftView {
            application_id: r.application_id.clone(),
            drift: r.drift.map_or("", |d| d.as_str()),
            fields: r.drift_fields.clone(),
            detected_at: r.drift_detected_at.map(when),
            detail: r.drift_detail.clone(),
        })
        .collect()
}

/// The ledger facts `status` is built from.
pub struct StatusInput<'a> {
    pub now: DateTime<Utc>,
    pub entries: &'a [LedgerEntry],
    pub last_pass: Option<PassRecord>,
    pub schedule: &'a Schedule,
    pub ledger_path: PathBuf,
    pub ledger_bytes: u64,
    pub schema_version: i64,
    /// The last API contract check, if any.
    pub contract: Option<crate::contract::ContractReport>,
    /// Plugin submits recorded, and how many succeeded.
    pub plugin_submits: PluginSubmitsView,
    /// `[hibob] hr_reminder_after`: a hire with HR longer than this is listed for a person.
    pub hr_reminder_after: chrono::Duration,
}

fn when(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn describe_schedule(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
        Schedule::Cron(expr) => format!("cron {expr:?}"),
    }
}

fn hire_view(e: &LedgerEntry) -> HireView {
    HireView {
        application_id: e.application_id.to_string(),
        email: e.email.clone(),
        status: e.status,
        first_seen_at: when(e.first_seen_at),
        next_attempt_at: e.next_attempt_at.map(when),
        reason: e.last_error.clone(),
        unhired_at: e.unhired_at.map(when),
        waiting_for: None,
    }
}

/// Health and the problems behind it, in the order they were found: each problem raises the
/// health to at least its own level, so the exit code follows the worst one.
pub(super) struct Problems {
    health: Health,
    list: Vec<String>,
}

impl Problems {
    fn new() -> Self {
        Self {
            health: Health::Ok,
            list: Vec::new(),
        }
    }

    pub(super) fn flag(&mut self, health: Health, problem: String) {
        self.health = self.health.max(health);
        self.list.push(problem);
    }
}

/// How many hires have status `s`; every status is in `counts`, zero or not.
fn count_of(counts: &[(HireStatus, u64)], s: HireStatus) -> u64 {
    counts.iter().find(|(x, _)| *x == s).map_or(0, |(_, n)| *n)
}

fn counts_by_status(entries: &[LedgerEntry]) -> Vec<(HireStatus, u64)> {
    HireStatus::ALL
        .into_iter()
        .map(|s| (s, entries.iter().filter(|e| e.status == s).count() as u64))
        .collect()
}

fn hires_where(entries: &[LedgerEntry], keep: impl Fn(&LedgerEntry) -> bool) -> Vec<HireView> {
    entries.iter().filter(|e| keep(e)).map(hire_view).collect()
}

/// The hires the go-live cutoff left out, in one sentence with one example: a long list of
/// them says nothing a person must act on.
fn skipped_note(entries: &[LedgerEntry]) -> Option<String> {
    let mut left_out = entries.iter().filter(|e| e.status == HireStatus::Skipped);
    left_out.next().map(|example| {
        format!(
            "{} hire(s) left out, nothing written for them; e.g. {}: {}; `hirebridge report --status skipped` lists them, `hirebridge retry <application-id>` includes one, an earlier sync.hired_since includes all from then",
            1 + left_out.count(),
            example.application_id,
            example.last_error.as_deref().unwrap_or("hired before the go-live cutoff")
        )
    })
}

fn oldest_unfinished(entries: &[LedgerEntry]) -> Option<HireView> {
    entries
        .iter()
        .filter(|e| !e.status.is_settled())
        .min_by_key(|e| (e.first_seen_at, e.application_id.clone()))
        .map(hire_view)
}

/// What the last pass says about the daemon: never run, refused, unable to list, or overdue.
fn flag_last_pass(
    problems: &mut Problems,
    input: &StatusInput<'_>,
    next_poll: Option<DateTime<Utc>>,
) {
    let Some(pass) = &input.last_pass else {
        problems.flag(
            Health::Stale,
            "no pass has run yet: start the daemon (`systemctl start hirebridge`) or run `hirebridge sync`".into(),
        );
        return;
    };
    match pass.outcome.as_deref().and_then(PassOutcome::parse) {
        Some(PassOutcome::Refused) => problems.flag(
            Health::NeedsAttention,
            "the last pass was stopped because a credential or permission was refused; `hirebridge check` says which".into(),
        ),
        Some(PassOutcome::ListingFailed) => problems.flag(
            Health::Retrying,
            "the last pass could not read Pinpoint's listing; it is retried on the next poll".into(),
        ),
        _ => {}
    }
    if let Some(next) = next_poll {
        let period = next_tick(input.schedule, next)
            .map(|after| after - next)
            .unwrap_or_default();
        let grace = (period * 2).max(MIN_STALE_GRACE);
        if input.now > next + grace {
            problems.flag(
                Health::Stale,
                format!(
                    "no pass since {}: the next was due at {}; is the daemon running? (`systemctl status hirebridge`)",
                    when(pass.started_at),
                    when(next)
                ),
            );
        }
    }
}

fn contract_view(report: crate::contract::ContractReport) -> ContractView {
    use crate::contract::Outcome;
    let count = |o: &[Outcome]| {
        report
            .findings
            .iter()
            .filter(|f| o.contains(&f.outcome))
            .count()
    };
    ContractView {
        checked_at: when(report.checked_at),
        writes_stopped: !report.stopping().is_empty(),
        holds: count(&[Outcome::Holds]),
        unproven: count(&[Outcome::Unproven]),
        failed: count(&[Outcome::Broken, Outcome::Unchecked]),
        findings: report
            .findings
            .iter()
            .filter(|f| f.outcome != Outcome::Holds)
            .cloned()
            .collect(),
    }
}

/// Each assumption that does not hold, weighed by what it stops: writes stopped by a broken
/// one page a person, by an unreachable check only wait, and one with a safe fallback is only
/// shown.
fn flag_contract(problems: &mut Problems, contract: &ContractView) {
    use crate::contract::Outcome;
    for finding in &contract.findings {
        let fix = finding
            .fix
            .as_deref()
            .map(|fix| format!("; fix: {fix}"))
            .unwrap_or_default();
        if finding.is_stopping() && finding.outcome == Outcome::Unchecked {
            problems.flag(
                Health::Retrying,
                format!(
                    "nothing is written until the API contract can be checked: {} {}",
                    finding.assumption, finding.seen
                ),
            );
        } else if finding.is_stopping() {
            problems.flag(
                Health::NeedsAttention,
                format!(
                    "NOTHING IS WRITTEN: {} ✗ {}{fix}",
                    finding.assumption, finding.seen
                ),
            );
        } else if finding.outcome != Outcome::Unproven {
            // A safe fallback applies: worth reading, not worth paging anyone.
            problems.flag(
                Health::Ok,
                format!("{} ✗ {}{fix}", finding.assumption, finding.seen),
            );
        }
    }
}

fn pass_view(p: PassRecord) -> PassView {
    PassView {
        id: p.id,
        trigger: p.trigger,
        started_at: when(p.started_at),
        finished_at: p.finished_at.map(when),
        outcome: p.outcome,
        summary: p.summary.and_then(|s| serde_json::from_str(&s).ok()),
        version: p.version,
        config_hash: p.config_hash,
        operator: p.operator,
    }
}

pub fn build(input: StatusInput<'_>) -> StatusView {
    let mut problems = Problems::new();
    let counts = counts_by_status(input.entries);
    let needs_attention = hires_where(input.entries, |e| e.status == HireStatus::NeedsAttention);
    let retrying = hires_where(input.entries, |e| e.status == HireStatus::Failed);
    let unhired = hires_where(input.entries, |e| {
        e.status == HireStatus::Done && e.unhired_at.is_some()
    });
    let hr_flow =
        super::hr_view::build(input.entries, input.now, input.hr_reminder_after, hire_view);

    // The problems' order is the order a person reads them in: hires first, then the daemon,
    // then the API contract, then what retries on its own.
    if !needs_attention.is_empty() {
        problems.flag(
            Health::NeedsAttention,
            format!(
                "{} hire(s) need attention: fix the cause, then `hirebridge retry <application-id>`",
                needs_attention.len()
            ),
        );
    }
    super::hr_view::flag(&mut problems, &hr_flow);
    let next_poll = input
        .last_pass
        .as_ref()
        .and_then(|p| next_tick(input.schedule, p.started_at));
    flag_last_pass(&mut problems, &input, next_poll);
    let contract = input.contract.map(contract_view);
    if let Some(contract) = &contract {
        flag_contract(&mut problems, contract);
    }
    let failed = count_of(&counts, HireStatus::Failed);
    if failed > 0 {
        problems.flag(
            Health::Retrying,
            format!("{failed} hire(s) wait for a retry after a transient failure"),
        );
    }

    StatusView {
        health: problems.health,
        problems: problems.list,
        last_pass: input.last_pass.map(pass_view),
        next_poll: next_poll.map(when),
        schedule: describe_schedule(input.schedule),
        total: input.entries.len() as u64,
        oldest_unfinished: oldest_unfinished(input.entries),
        skipped: skipped_note(input.entries),
        counts,
        needs_attention,
        retrying,
        unhired,
        ledger_path: input.ledger_path,
        ledger_bytes: input.ledger_bytes,
        schema_version: input.schema_version,
        drift: Vec::new(),
        contract,
        plugin_submits: input.plugin_submits,
        audit: None,
        listing: None,
        hr_flow,
        notifications: None,
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / (1 << 10) as f64),
        n => format!("{n} bytes"),
    }
}

fn hire_line(h: &HireView) -> String {
    let mut line = format!("  {} <{}>", h.application_id, h.email);
    if let Some(age) = &h.waiting_for {
        line.push_str(&format!(", with HR for {age}"));
    }
    if let Some(at) = &h.unhired_at {
        line.push_str(&format!(", out of Hired since {at}"));
    }
    if let Some(next) = &h.next_attempt_at {
        line.push_str(&format!(", next attempt {next}"));
    }
    if let Some(reason) = &h.reason {
        line.push_str(&format!(": {}", super::clip(reason, 160)));
    }
    line
}

/// At most this many hires per list on the screen; `--format json` has them all.
const LIST_LIMIT: usize = 10;

/// The first line, a verdict in words, and each problem under it.
fn write_verdict(view: &StatusView, out: &mut dyn Write) -> std::io::Result<()> {
    let verdict = match view.health {
        Health::Ok => "healthy",
        Health::Retrying => "working: some hires wait for a retry",
        Health::Stale => "STALE: no recent pass",
        Health::NeedsAttention => "NEEDS ATTENTION",
    };
    writeln!(out, "hirebridge: {verdict}")?;
    for p in &view.problems {
        writeln!(out, "  ! {p}")?;
    }
    Ok(())
}

/// When the daemon last polled, how that ended, and when it polls next.
fn write_polls(view: &StatusView, out: &mut dyn Write) -> std::io::Result<()> {
    match &view.last_pass {
        None => writeln!(out, "last poll    never")?,
        Some(p) => {
            let end = match (&p.finished_at, &p.outcome) {
                (Some(f), Some(o)) => format!("finished {f} ({o})"),
                _ => "still running, or interrupted".to_owned(),
            };
            let counts = p
                .summary
                .clone()
                .and_then(|s| serde_json::from_value::<PassSummary>(s).ok())
                .map(|s| {
                    format!(
                        "; {} listed, {} new, {} completed",
                        s.listed, s.new, s.completed
                    )
                })
                .unwrap_or_default();
            writeln!(
                out,
                "last poll    #{} {}, started {}, {end}{counts}",
                p.id, p.trigger, p.started_at
            )?;
        }
    }
    writeln!(
        out,
        "next poll    {} ({})",
        view.next_poll.as_deref().unwrap_or("at the daemon's start"),
        view.schedule
    )
}

/// The hires by status, then the plugin's submits and the cutoff's skipped hires when there
/// are any.
fn write_hires(view: &StatusView, out: &mut dyn Write) -> std::io::Result<()> {
    let count = |s: HireStatus| count_of(&view.counts, s);
    write!(
        out,
        "hires        {}: {} done, {} pending, {} failed, {} need attention",
        view.total,
        count(HireStatus::Done),
        count(HireStatus::Pending),
        count(HireStatus::Failed),
        count(HireStatus::NeedsAttention)
    )?;
    // Settled without a write: shown only when there are any, so a plain ledger reads as before.
    for status in [
        HireStatus::WaitingForHr,
        HireStatus::Skipped,
        HireStatus::Withdrawn,
    ] {
        if count(status) > 0 {
            write!(out, ", {} {}", count(status), status.as_str())?;
        }
    }
    writeln!(out)?;
    // Shown only once the plugin has been used, so a ledger without it reads as before.
    if view.plugin_submits.total > 0 {
        writeln!(
            out,
            "plugin       {} submit(s) from Pinpoint's \"Send to HiBob\", {} answered with success",
            view.plugin_submits.total, view.plugin_submits.succeeded
        )?;
    }
    if let Some(note) = &view.skipped {
        writeln!(out, "skipped      {}", super::clip(note, 400))?;
    }
    Ok(())
}

fn write_audit(audit: &AuditView, out: &mut dyn Write) -> std::io::Result<()> {
    let sealed = match &audit.last_checkpoint_at {
        Some(at) => format!("last signed {at}, {} event(s) since", audit.unsealed_events),
        None => "not signed yet (the first pass that writes signs it)".to_owned(),
    };
    let erased = if audit.personal_data_erased > 0 {
        format!(
            "; {} hire(s)' personal data erased",
            audit.personal_data_erased
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "audit        {} events chained, {} checkpoint(s), {sealed}{erased}",
        audit.events, audit.checkpoints
    )
}

fn write_oldest_open(view: &StatusView, out: &mut dyn Write) -> std::io::Result<()> {
    match &view.oldest_unfinished {
        None => writeln!(out, "oldest open  none"),
        Some(h) => writeln!(
            out,
            "oldest open  {} <{}>, {} since {}",
            h.application_id,
            h.email,
            h.status.as_str(),
            h.first_seen_at
        ),
    }
}

/// The last contract check's tally, then each assumption that does not hold.
fn write_contract(contract: Option<&ContractView>, out: &mut dyn Write) -> std::io::Result<()> {
    let Some(c) = contract else {
        return writeln!(
            out,
            "API contract not checked yet (the first pass checks it; `hirebridge check` shows it now)"
        );
    };
    write!(
        out,
        "API contract checked {}: {} hold",
        c.checked_at, c.holds
    )?;
    if c.unproven > 0 {
        write!(out, ", {} unproven", c.unproven)?;
    }
    if c.failed > 0 {
        write!(out, ", {} FAILED", c.failed)?;
    }
    if c.writes_stopped {
        write!(out, "; WRITES STOPPED")?;
    }
    writeln!(out)?;
    for f in &c.findings {
        writeln!(
            out,
            "  {} {}: {}",
            f.mark(),
            f.assumption,
            super::clip(&f.seen, 200)
        )?;
    }
    Ok(())
}

fn write_drift(drift: &[DriftView], out: &mut dyn Write) -> std::io::Result<()> {
    if drift.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "drift ({}): mapped values changed in Pinpoint after the hire was done",
        drift.len()
    )?;
    for d in drift.iter().take(LIST_LIMIT) {
        writeln!(
            out,
            "  {} {} [{}]: {}",
            d.application_id,
            d.drift,
            d.fields.join(","),
            super::clip(d.detail.as_deref().unwrap_or(""), 160)
        )?;
    }
    Ok(())
}

/// The hires a person may have to look at, each list cut at [`LIST_LIMIT`] with the command
/// that shows the rest.
fn write_hire_lists(view: &StatusView, out: &mut dyn Write) -> std::io::Result<()> {
    for (title, list) in [
        ("needs attention", &view.needs_attention),
        ("waiting for a retry", &view.retrying),
        (
            "unhired: done, then moved out of Hired in Pinpoint; check them in HiBob (hirebridge never deletes)",
            &view.unhired,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "{title} ({}):", list.len())?;
        for h in list.iter().take(LIST_LIMIT) {
            writeln!(out, "{}", hire_line(h))?;
        }
        if list.len() > LIST_LIMIT {
            writeln!(
                out,
                "  … and {} more (`hirebridge report --status {}`)",
                list.len() - LIST_LIMIT,
                list[0].status.as_str()
            )?;
        }
    }
    Ok(())
}

fn write_notifications(
    outbox: &crate::ledger::OutboxSummary,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    write!(
        out,
        "notify       {} sent, {} waiting to be sent, {} dropped after a day of failures",
        outbox.sent, outbox.pending, outbox.dropped
    )?;
    if let Some(at) = outbox.last_sent_at {
        write!(out, "; last sent {}", when(at))?;
    }
    writeln!(out)?;
    if let Some(error) = &outbox.last_error {
        writeln!(
            out,
            "             last failure: {} (retried with backoff)",
            super::clip(&crate::untrusted::terminal(error), 300)
        )?;
    }
    Ok(())
}

pub fn render_text(view: &StatusView, out: &mut dyn Write) -> std::io::Result<()> {
    write_verdict(view, out)?;
    write_polls(view, out)?;
    write_hires(view, out)?;
    if let Some(audit) = &view.audit {
        write_audit(audit, out)?;
    }
    write_oldest_open(view, out)?;
    if let Some(listing) = &view.listing {
        super::listing_view::render_text(listing, out)?;
    }
    write_contract(view.contract.as_ref(), out)?;
    write_drift(&view.drift, out)?;
    write_hire_lists(view, out)?;
    super::hr_view::render_text(&view.hr_flow, out, hire_line, LIST_LIMIT)?;
    if let Some(outbox) = &view.notifications {
        write_notifications(outbox, out)?;
    }
    writeln!(
        out,
        "ledger       {} ({}), schema version {}",
        view.ledger_path.display(),
        human_bytes(view.ledger_bytes),
        view.schema_version
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn pass(started: DateTime<Utc>, outcome: &str) -> PassRecord {
        PassRecord {
            id: 7,
            trigger: "schedule".into(),
            started_at: started,
            finished_at: Some(started + chrono::Duration::seconds(3)),
            outcome: Some(outcome.into()),
            summary: Some(r#"{"listed":3,"new":0,"completed":0}"#.into()),
            version: None,
            config_hash: None,
            operator: None,
        }
    }

    fn view(last: Option<PassRecord>, schedule: &Schedule) -> StatusView {
        build(StatusInput {
            now: now(),
            entries: &[],
            last_pass: last,
            schedule,
            ledger_path: "/var/lib/hirebridge/ledger.sqlite3".into(),
            ledger_bytes: 4096,
            schema_version: 1,
            contract: None,
            plugin_submits: PluginSubmitsView::default(),
            hr_reminder_after: chrono::Duration::days(3),
        })
    }

    #[test]
    fn a_failed_assumption_writes_depend_on_needs_attention_and_names_the_fix() {
        use crate::contract::{ContractReport, Finding, Outcome};
        let finding = |name: &str, outcome, stops_writes| Finding {
            assumption: name.into(),
            outcome,
            seen: format!("{name} seen"),
            fix: Some(format!("{name} fix")),
            stops_writes,
        };
        let every = Schedule::Every(std::time::Duration::from_secs(300));
        let build_with = |findings: Vec<Finding>| {
            build(StatusInput {
                now: now(),
                entries: &[],
                last_pass: Some(pass(now(), "completed")),
                schedule: &every,
                ledger_path: "/tmp/l".into(),
                ledger_bytes: 1,
                schema_version: 1,
                contract: Some(ContractReport {
                    checked_at: now(),
                    asked: String::new(),
                    findings,
                }),
                plugin_submits: PluginSubmitsView::default(),
                hr_reminder_after: chrono::Duration::days(3),
            })
        };
        let v = build_with(vec![
            finding("pinpoint.stage_filter", Outcome::Broken, true),
            finding("hibob.human_readable", Outcome::Holds, false),
        ]);
        assert_eq!(v.health, Health::NeedsAttention);
        assert!(v.problems[0].contains("NOTHING IS WRITTEN: pinpoint.stage_filter"));
        assert!(v.problems[0].contains("pinpoint.stage_filter fix"));
        let c = v.contract.as_ref().unwrap();
        assert!(c.writes_stopped);
        assert_eq!((c.holds, c.failed, c.findings.len()), (1, 1, 1));
        // A failure with a safe fallback is shown, but is no reason to page anyone.
        let v = build_with(vec![finding(
            "hibob.human_readable",
            Outcome::Broken,
            false,
        )]);
        assert_eq!(v.health, Health::Ok);
        assert_eq!(v.problems.len(), 1);
        assert!(!v.contract.unwrap().writes_stopped);
        // Unproven is neither.
        let v = build_with(vec![finding(
            "hibob.show_inactive",
            Outcome::Unproven,
            true,
        )]);
        assert_eq!(v.health, Health::Ok);
        assert!(v.problems.is_empty());
    }

    #[test]
    fn next_poll_is_the_last_start_plus_the_interval_or_the_cron_match() {
        let every = Schedule::Every(std::time::Duration::from_secs(300));
        let v = view(Some(pass(now(), "completed")), &every);
        assert_eq!(v.next_poll.as_deref(), Some("2026-11-25T12:05:00Z"));
        assert_eq!(v.health, Health::Ok);
        let cron = Schedule::Cron("0 0 * * * *".into());
        let v = view(Some(pass(now(), "completed")), &cron);
        assert_eq!(v.next_poll.as_deref(), Some("2026-11-25T13:00:00Z"));
    }

    #[test]
    fn a_missed_poll_is_stale_only_after_the_grace() {
        let every = Schedule::Every(std::time::Duration::from_secs(300));
        let recent = view(
            Some(pass(now() - chrono::Duration::minutes(20), "completed")),
            &every,
        );
        assert_eq!(recent.health, Health::Ok);
        let old = view(
            Some(pass(now() - chrono::Duration::hours(2), "completed")),
            &every,
        );
        assert_eq!(old.health, Health::Stale);
        assert_eq!(view(None, &every).health, Health::Stale);
    }

    #[test]
    fn refused_credentials_outrank_everything() {
        let every = Schedule::Every(std::time::Duration::from_secs(300));
        let v = view(
            Some(pass(now() - chrono::Duration::hours(2), "unauthorized")),
            &every,
        );
        assert_eq!(v.health, Health::NeedsAttention);
        assert_eq!(v.problems.len(), 2, "{:?}", v.problems);
    }
}

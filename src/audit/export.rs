//! `hirebridge audit export`: what an auditor takes away — the period's report (CSV and
//! HTML), its events as a chain segment anchored at signed checkpoints on both ends, the
//! checkpoints, the public key, and a `VERIFY.txt` saying how to check them. Streams: the
//! events and report rows are written as the ledger reads them.

use std::io::{BufRead as _, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{AuditError, log_line};
use crate::config::ReportLinks;
use crate::ledger::{ChainedEvent, EntryFilter, Ledger};
use crate::report;

pub const EVENTS: &str = "events.jsonl";
pub const CHECKPOINTS: &str = "checkpoints.jsonl";
pub const PUBLIC_KEY: &str = "public-key.txt";
pub const MANIFEST: &str = "manifest.json";
pub const REPORT_CSV: &str = "report.csv";
pub const REPORT_HTML: &str = "report.html";
pub const VERIFY: &str = "VERIFY.txt";

/// What the export holds, for the verifier.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub hirebridge: String,
    pub generated_at: String,
    pub since: Option<String>,
    pub until: Option<String>,
    /// The segment: events after `after_event` up to and including `up_to_event`, each end
    /// the event count of a signed checkpoint (or 0, the chain's start).
    pub after_event: u64,
    pub up_to_event: u64,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Self, AuditError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|cause| AuditError::Read {
            path: path.clone(),
            cause,
        })?;
        serde_json::from_str(&text).map_err(|e| AuditError::LogLine {
            path,
            line: 1,
            why: e.to_string(),
        })
    }
}

/// What was exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub dir: PathBuf,
    pub events: u64,
    pub hires: u64,
    pub after_event: u64,
    pub up_to_event: u64,
    /// Events of the period after the last checkpoint: chained but not signed yet, so left
    /// out (the next pass signs them).
    pub unsealed_left_out: u64,
}

/// One event as an export line.
#[derive(serde::Serialize, serde::Deserialize)]
struct EventLine {
    id: i64,
    application_id: String,
    at: String,
    at_ms: i64,
    pass_id: Option<i64>,
    trigger: Option<String>,
    step: String,
    outcome: String,
    /// `None` once erased.
    detail: Option<String>,
    salt: Option<String>,
    detail_digest: String,
    prev_hash: String,
    hash: String,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> AuditError + '_ {
    move |cause| AuditError::Write {
        path: path.to_owned(),
        cause,
    }
}

/// Writes the export of the period into `dir` (made if missing; existing export files in it
/// are replaced).
pub fn export(
    ledger: &Ledger,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    dir: &Path,
    links: ReportLinks,
    public_key: &str,
) -> Result<ExportSummary, AuditError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    // One consistent read: the events, checkpoints and report agree with each other.
    ledger.read_snapshot(|ledger| export_snapshot(ledger, since, until, dir, links, public_key))
}

fn export_snapshot(
    ledger: &Ledger,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    dir: &Path,
    links: ReportLinks,
    public_key: &str,
) -> Result<ExportSummary, AuditError> {
    let now = Utc::now();
    let checkpoints = ledger.checkpoints()?;
    let (head_count, _) = ledger.chain_head()?;
    // The period's events, widened to the signed heads around it so the segment verifies.
    let first = match since {
        Some(t) => ledger.last_event_at_or_before(t - chrono::TimeDelta::milliseconds(1))? as u64,
        None => 0,
    };
    let last = match until {
        Some(t) => ledger.last_event_at_or_before(t)? as u64,
        None => head_count,
    };
    let after_event = checkpoints
        .iter()
        .map(|c| c.events)
        .filter(|&e| e <= first)
        .max()
        .unwrap_or(0);
    let sealed = checkpoints.last().map_or(0, |c| c.events);
    let up_to_event = checkpoints
        .iter()
        .map(|c| c.events)
        .filter(|&e| e >= last)
        .min()
        .unwrap_or(sealed)
        .max(after_event);
    let when = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let manifest = Manifest {
        hirebridge: env!("CARGO_PKG_VERSION").to_owned(),
        generated_at: when(now),
        since: since.map(when),
        until: until.map(when),
        after_event,
        up_to_event,
    };
    write_file(dir, MANIFEST, |out| {
        serde_json::to_writer_pretty(&mut *out, &manifest)?;
        writeln!(out)
    })?;
    let mut events = 0_u64;
    write_file(dir, EVENTS, |out| {
        ledger
            .for_each_chained_event(after_event as i64, Some(up_to_event as i64), |e| {
                events += 1;
                writeln!(out, "{}", event_line(&e))
            })
            .map_err(std::io::Error::other)?
    })?;
    write_file(dir, CHECKPOINTS, |out| {
        for c in &checkpoints {
            writeln!(out, "{}", log_line(c))?;
        }
        Ok(())
    })?;
    write_file(dir, PUBLIC_KEY, |out| writeln!(out, "{public_key}"))?;
    let filter = EntryFilter {
        status: None,
        updated_since: since,
        updated_until: until,
    };
    let context = report::Context {
        generated_at: now,
        filters: report::describe_filter(&filter),
        links: Some(links),
    };
    let hires: u64 = ledger
        .count_by_status_matching(&filter)?
        .iter()
        .map(|(_, n)| n)
        .sum();
    for (name, format) in [
        (REPORT_CSV, report::Format::Csv),
        (REPORT_HTML, report::Format::Html),
    ] {
        write_file(dir, name, |out| {
            report::write(ledger, &filter, format, &context, out).map_err(std::io::Error::other)
        })?;
    }
    write_file(dir, VERIFY, |out| {
        out.write_all(verify_text(&manifest, public_key).as_bytes())
    })?;
    Ok(ExportSummary {
        dir: dir.to_owned(),
        events,
        hires,
        after_event,
        up_to_event,
        unsealed_left_out: last.saturating_sub(up_to_event),
    })
}

fn write_file(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), AuditError> {
    let path = dir.join(name);
    let fail = io_error(&path);
    let file = std::fs::File::create(&path).map_err(&fail)?;
    let mut out = BufWriter::new(file);
    fill(&mut out).map_err(&fail)?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .map_err(&fail)
}

fn event_line(e: &ChainedEvent) -> String {
    let line = EventLine {
        id: e.id,
        application_id: e.application_id.clone(),
        at: DateTime::<Utc>::from_timestamp_millis(e.at_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default(),
        at_ms: e.at_ms,
        pass_id: e.pass_id,
        trigger: e.trigger.clone(),
        step: e.step.clone(),
        outcome: e.outcome.clone(),
        detail: e.detail.as_ref().map(|(_, d)| d.clone()),
        salt: e.detail.as_ref().map(|(s, _)| hex::encode(s)),
        detail_digest: e.detail_digest.clone(),
        prev_hash: e.prev_hash.clone(),
        hash: e.hash.clone(),
    };
    serde_json::to_string(&line).unwrap_or_default()
}

/// Reads an export's events back (for `audit verify --export`).
pub fn read_events(dir: &Path) -> Result<Vec<ChainedEvent>, AuditError> {
    let path = dir.join(EVENTS);
    let file = std::fs::File::open(&path).map_err(|cause| AuditError::Read {
        path: path.clone(),
        cause,
    })?;
    let mut out = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|cause| AuditError::Read {
            path: path.clone(),
            cause,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| AuditError::LogLine {
            path: path.clone(),
            line: index + 1,
            why,
        };
        let e: EventLine = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let detail = match (e.salt, e.detail) {
            (Some(salt), Some(detail)) => Some((
                hex::decode(salt).map_err(|_| bad("its salt is not hex".into()))?,
                detail,
            )),
            _ => None,
        };
        out.push(ChainedEvent {
            id: e.id,
            application_id: e.application_id,
            at_ms: e.at_ms,
            pass_id: e.pass_id,
            trigger: e.trigger,
            step: e.step,
            outcome: e.outcome,
            detail_digest: e.detail_digest,
            prev_hash: e.prev_hash,
            hash: e.hash,
            detail,
        });
    }
    Ok(out)
}

fn verify_text(manifest: &Manifest, public_key: &str) -> String {
    let period = match (&manifest.since, &manifest.until) {
        (None, None) => "the whole history".to_owned(),
        (s, u) => format!(
            "{} to {}",
            s.as_deref().unwrap_or("the start"),
            u.as_deref().unwrap_or(&manifest.generated_at)
        ),
    };
    format!(
        "hirebridge audit export
=======================
Made {generated} by hirebridge {version}. Period: {period}.

report.csv, report.html  The hires whose record changed in the period: application, person,
                         HiBob employee, status, when each step was done. A readable copy of
                         the ledger's rows, which are not chained: the events below are what
                         the signatures cover.
events.jsonl             Every event from #{first} to #{last}: the period, widened to the
                         signed checkpoints around it. Each line carries the hash of the event
                         before it and its own; a detail erased at a person's request (or by
                         retention) is absent, its salted digest still chained. The pass
                         `trigger` shown beside each event is for reading, not signed.
checkpoints.jsonl        The ledger's signed checkpoints (event count, head hash, time).
public-key.txt           The Ed25519 key that signed them: {public_key}
manifest.json            What this export holds (the segment's first and last event).

How to check it
---------------
1. Get the signing key from the operator by another channel (on the host: `hirebridge audit
   key`) and compare it with public-key.txt. A key only read from this directory proves that
   the files agree with each other, not who made them.
2. Run, with the hirebridge binary:

       hirebridge audit verify --export <this directory> --key <the key from step 1>

   It recomputes every event's hash from the checkpoint the segment starts at to the one it
   ends at, checks each detail against its digest, and each checkpoint's signature. It exits 0
   when everything holds, and otherwise names the first event or checkpoint that does not.
3. To check the whole ledger on the host (read-only, beside the running service):

       hirebridge audit verify --key <key> [--checkpoints <published checkpoint log>]
",
        generated = manifest.generated_at,
        version = manifest.hirebridge,
        first = manifest.after_event + 1,
        last = manifest.up_to_event,
    )
}

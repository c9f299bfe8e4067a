//! `hirebridge audit verify`: recomputes the chain from the first event, checks each event's
//! detail against its digest (or that an erasure was recorded for it), checks every
//! checkpoint's signature against the trusted key and that the chain passes through every
//! checkpoint's head — those in the ledger and those published in a checkpoint log. The first
//! thing wrong is named; nothing is written.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{AuditError, TrustedKey};
use crate::ledger::{
    ChainedEvent, Checkpoint, GENESIS, Ledger, SALT_BYTES, detail_digest, event_hash,
};

/// What to check the chain against.
#[derive(Debug, Clone, Default)]
pub struct VerifyInput {
    /// The key checkpoints must be signed with, and where it came from (for the report).
    pub trusted: Option<(TrustedKey, String)>,
    /// Checkpoints published outside the ledger (`--checkpoints`), with their file.
    pub log: Option<(PathBuf, CheckpointLog)>,
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    pub events: u64,
    pub head: String,
    pub checkpoints: usize,
    pub log_checkpoints: usize,
    /// The key the checkpoints were checked against, and where it came from.
    pub key: Option<String>,
    pub key_source: Option<String>,
    /// Event details gone by a recorded erasure.
    pub erased_details: u64,
    /// Events after the last checkpoint: chained, not yet signed.
    pub unsealed: u64,
    pub last_checkpoint_at: Option<String>,
    /// Lines of the checkpoint log that were not a checkpoint (a line cut short).
    pub log_lines_unreadable: Vec<usize>,
}

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Finding {
    #[error("event #{id} ({at}, application {application}): {what}")]
    Event {
        id: i64,
        at: String,
        application: String,
        what: String,
    },
    #[error("{source_name}: {what}")]
    Checkpoint { source_name: String, what: String },
}

fn when(at_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(at_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("{at_ms} ms"))
}

/// A checkpoint log as read: its checkpoints, and the lines that were not one (a line cut
/// short by a crash or a full disk; reported, never silently dropped).
#[derive(Debug, Clone, Default)]
pub struct CheckpointLog {
    pub checkpoints: Vec<Checkpoint>,
    pub unreadable_lines: Vec<usize>,
}

/// Reads a checkpoint log (JSON lines as hirebridge appends them; blank lines skipped). A log
/// with no checkpoint at all but lines that are not one is refused: it is not a log.
pub fn read_checkpoint_log(path: &Path) -> Result<CheckpointLog, AuditError> {
    let file = std::fs::File::open(path).map_err(|cause| AuditError::Read {
        path: path.to_owned(),
        cause,
    })?;
    let mut log = CheckpointLog::default();
    let mut first_error = None;
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|cause| AuditError::Read {
            path: path.to_owned(),
            cause,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Checkpoint>(&line) {
            Ok(checkpoint) => log.checkpoints.push(checkpoint),
            Err(e) => {
                log.unreadable_lines.push(index + 1);
                first_error.get_or_insert((index + 1, e.to_string()));
            }
        }
    }
    match first_error {
        Some((line, why)) if log.checkpoints.is_empty() => Err(AuditError::LogLine {
            path: path.to_owned(),
            line,
            why,
        }),
        _ => Ok(log),
    }
}

/// Checks a set of checkpoints (one source) on their own: signatures and order.
fn check_signed(
    checkpoints: &[(String, &Checkpoint)],
    trusted: Option<&TrustedKey>,
) -> Result<(), Finding> {
    let mut before: Option<&Checkpoint> = None;
    for (name, c) in checkpoints {
        let bad = |what: String| Finding::Checkpoint {
            source_name: name.clone(),
            what,
        };
        if let Some(key) = trusted
            && !key.signed(c)
        {
            return Err(bad(if c.public_key.eq_ignore_ascii_case(&key.hex()) {
                "its signature does not match its content: it was altered after it was signed"
                    .to_owned()
            } else {
                format!(
                    "it is signed by key {}, not the trusted key {}: it was re-signed by someone else",
                    c.public_key,
                    key.hex()
                )
            }));
        }
        // Only the count must never go back: a clock stepped back may date a later checkpoint
        // earlier, and that is no tampering.
        if let Some(b) = before
            && c.events < b.events
        {
            return Err(bad(format!(
                "it covers {} events at {}, fewer than the checkpoint before it ({} at {}): checkpoints never go back",
                c.events,
                when(c.at_ms),
                b.events,
                when(b.at_ms)
            )));
        }
        before = Some(c);
    }
    Ok(())
}

/// Walks a chain segment event by event.
struct Walk<'a> {
    prev: String,
    next_id: i64,
    /// Erasure events by application (the whole ledger); `None` for an export, whose erased
    /// details are counted, not proven (the full ledger's verify proves them).
    marks: Option<&'a HashMap<String, i64>>,
    /// Heads the chain must pass through: event count → (source, head, time).
    expected: BTreeMap<u64, Vec<(String, String, i64)>>,
    erased: u64,
}

impl Walk<'_> {
    fn step(&mut self, e: &ChainedEvent) -> Result<(), Finding> {
        let bad = |what: String| Finding::Event {
            id: e.id,
            at: when(e.at_ms),
            application: e.application_id.clone(),
            what,
        };
        if e.id != self.next_id {
            return Err(bad(if e.id > self.next_id {
                format!(
                    "event #{} is missing (ids jump from {} to {}): events were deleted",
                    self.next_id,
                    self.next_id - 1,
                    e.id
                )
            } else {
                format!(
                    "it comes after event #{}: events were reordered or duplicated",
                    self.next_id - 1
                )
            }));
        }
        match &e.detail {
            Some((salt, detail)) => {
                // A salt of another length could take the start of the detail into itself.
                if salt.len() != SALT_BYTES || detail_digest(salt, detail) != e.detail_digest {
                    return Err(bad(
                        "its detail text was changed after it was written (it no longer matches its digest)"
                            .to_owned(),
                    ));
                }
            }
            None => match self.marks {
                Some(marks) if marks.get(&e.application_id).is_none_or(|m| *m <= e.id) => {
                    return Err(bad(
                        "its detail is gone but no erasure of this hire was recorded after it: it was deleted outside hirebridge"
                            .to_owned(),
                    ));
                }
                _ => self.erased += 1,
            },
        }
        if e.prev_hash != self.prev {
            return Err(bad(
                "it does not follow the event before it as chained: an earlier event was changed, replaced or removed"
                    .to_owned(),
            ));
        }
        if event_hash(&self.prev, &e.content()) != e.hash {
            return Err(bad(
                "its recorded content (application, time, pass, step or outcome) was changed after it was chained"
                    .to_owned(),
            ));
        }
        self.prev = e.hash.clone();
        self.next_id += 1;
        let count = e.id as u64;
        if let Some(heads) = self.expected.remove(&count) {
            for (source, head, at_ms) in heads {
                if head != e.hash {
                    return Err(Finding::Checkpoint {
                        source_name: source,
                        what: format!(
                            "it signed head {head} for the first {count} events at {}, but the ledger's event #{count} hashes to {}: the ledger was rewritten after that checkpoint",
                            when(at_ms),
                            e.hash
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The id of the last event walked (the one before the segment for an empty walk).
    fn last_id(&self) -> i64 {
        self.next_id - 1
    }

    /// After the last event: every checkpoint must have been passed.
    fn finish(self) -> Result<Walked, Finding> {
        let last_id = self.last_id();
        if let Some((count, heads)) = self.expected.into_iter().next() {
            let (source, _, at_ms) = heads.into_iter().next().unwrap_or_default();
            return Err(Finding::Checkpoint {
                source_name: source,
                what: format!(
                    "it covers {count} events (signed {}) but the chain holds only {last_id}: events were removed from the end",
                    when(at_ms)
                ),
            });
        }
        Ok(Walked {
            last_id,
            head: self.prev,
            erased: self.erased,
        })
    }
}

/// Where a walk ended: the last event's id and hash, and how many erased details it passed.
struct Walked {
    last_id: i64,
    head: String,
    erased: u64,
}

fn expected_heads<'a>(
    sources: impl IntoIterator<Item = (String, &'a Checkpoint)>,
) -> BTreeMap<u64, Vec<(String, String, i64)>> {
    let mut expected: BTreeMap<u64, Vec<(String, String, i64)>> = BTreeMap::new();
    for (name, c) in sources {
        expected
            .entry(c.events)
            .or_default()
            .push((name, c.head.clone(), c.at_ms));
    }
    expected
}

/// Verifies the whole ledger in one consistent read (a daemon may keep writing meanwhile).
pub fn verify_ledger(
    ledger: &Ledger,
    input: &VerifyInput,
) -> Result<Result<VerifyReport, Finding>, AuditError> {
    ledger.read_snapshot(|ledger| verify_snapshot(ledger, input))
}

fn verify_snapshot(
    ledger: &Ledger,
    input: &VerifyInput,
) -> Result<Result<VerifyReport, Finding>, AuditError> {
    let checkpoints = ledger.checkpoints()?;
    // Without a key from outside, the first checkpoint's key is trusted for all the rest.
    let trusted = input.trusted.clone().or_else(|| {
        checkpoints.first().and_then(|c| {
            TrustedKey::from_hex(&c.public_key)
                .map(|k| (k, "the ledger's first checkpoint".to_owned()))
        })
    });
    let named = numbered(&checkpoints, "the ledger's checkpoint");
    let logged = match &input.log {
        Some((path, log)) => numbered(&log.checkpoints, &format!("{} checkpoint", path.display())),
        None => Vec::new(),
    };
    let key = trusted.as_ref().map(|(k, _)| k);
    if let Err(finding) = check_signed(&named, key).and_then(|()| check_signed(&logged, key)) {
        return Ok(Err(finding));
    }
    let (events, _) = ledger.chain_head()?;
    if let Some((key, source)) = &input.trusted
        && events > 0
        && named.is_empty()
        && logged.is_empty()
    {
        return Ok(Err(Finding::Checkpoint {
            source_name: "the ledger".into(),
            what: format!(
                "it holds {events} events but no checkpoint, so nothing signed by the key from {source} ({}) vouches for them: checkpoints were deleted, or no pass has signed yet",
                key.hex()
            ),
        }));
    }
    let marks = signed_erasures(ledger, key)?;
    let mut walk = Walk {
        prev: GENESIS.to_owned(),
        next_id: 1,
        marks: Some(&marks),
        expected: expected_heads(named.iter().chain(&logged).map(|(n, c)| (n.clone(), *c))),
        erased: 0,
    };
    // From the lowest id there is: an event numbered 0 or below is out of the chain too.
    if let Err(finding) = ledger.for_each_chained_event(i64::MIN, None, |e| walk.step(&e))? {
        return Ok(Err(finding));
    }
    let walked = match walk.finish() {
        Ok(walked) => walked,
        Err(finding) => return Ok(Err(finding)),
    };
    let sealed = checkpoints.last().map_or(0, |c| c.events);
    Ok(Ok(VerifyReport {
        events: walked.last_id as u64,
        head: walked.head,
        checkpoints: checkpoints.len(),
        log_checkpoints: logged.len(),
        key: trusted.as_ref().map(|(k, _)| k.hex()),
        key_source: trusted.map(|(_, s)| s),
        erased_details: walked.erased,
        unsealed: (walked.last_id as u64).saturating_sub(sealed),
        last_checkpoint_at: checkpoints.last().map(|c| when(c.at_ms)),
        log_lines_unreadable: input
            .log
            .as_ref()
            .map(|(_, log)| log.unreadable_lines.clone())
            .unwrap_or_default(),
    }))
}

/// Each checkpoint with its name in findings: `source` and its place, counted from 1.
fn numbered<'a>(checkpoints: &'a [Checkpoint], source: &str) -> Vec<(String, &'a Checkpoint)> {
    checkpoints
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("{source} #{}", i + 1), c))
        .collect()
}

/// The last erasure of each application, counting only those the trusted key signed: a
/// missing detail is accounted for by nothing else.
fn signed_erasures(
    ledger: &Ledger,
    key: Option<&TrustedKey>,
) -> Result<HashMap<String, i64>, AuditError> {
    let mut marks: HashMap<String, i64> = HashMap::new();
    for erasure in ledger.erasure_events()? {
        if key.is_none_or(|k| k.signed_erasure(&erasure)) {
            let mark = marks.entry(erasure.application_id).or_default();
            *mark = (*mark).max(erasure.id);
        }
    }
    Ok(marks)
}

/// Verifies an `audit export` directory on its own: its events recompute from the head of
/// the checkpoint it starts at (or the chain's start) to the head of the checkpoint it ends
/// at, and those checkpoints are signed by the trusted key.
pub fn verify_export(
    dir: &Path,
    trusted: Option<(TrustedKey, String)>,
) -> Result<Result<VerifyReport, Finding>, AuditError> {
    let manifest = super::export::Manifest::read(dir)?;
    let exported = read_checkpoint_log(&dir.join(super::export::CHECKPOINTS))?;
    if let Some(line) = exported.unreadable_lines.first() {
        return Ok(Err(Finding::Checkpoint {
            source_name: "checkpoints.jsonl".into(),
            what: format!("line {line} is not a checkpoint: the export was altered"),
        }));
    }
    let checkpoints = exported.checkpoints;
    let trusted = match trusted {
        Some(t) => Some(t),
        None => export_key(dir)?,
    };
    let named = numbered(&checkpoints, "checkpoints.jsonl");
    let key = trusted.as_ref().map(|(k, _)| k);
    if let Err(finding) = check_signed(&named, key) {
        return Ok(Err(finding));
    }
    let (start, end) = (manifest.after_event, manifest.up_to_event);
    let prev = match anchored_start(&checkpoints, start, end) {
        Ok(prev) => prev,
        Err(finding) => return Ok(Err(finding)),
    };
    let events = super::export::read_events(dir)?;
    let walked = match walk_export(prev, start, end, &named, &events) {
        Ok(walked) => walked,
        Err(finding) => return Ok(Err(finding)),
    };
    Ok(Ok(VerifyReport {
        events: events.len() as u64,
        head: walked.head,
        checkpoints: checkpoints.len(),
        log_checkpoints: 0,
        key: trusted.as_ref().map(|(k, _)| k.hex()),
        key_source: trusted.map(|(_, s)| s),
        erased_details: walked.erased,
        unsealed: 0,
        last_checkpoint_at: checkpoints.last().map(|c| when(c.at_ms)),
        log_lines_unreadable: Vec::new(),
    }))
}

/// The export's own public key, trusted when none is given from outside.
fn export_key(dir: &Path) -> Result<Option<(TrustedKey, String)>, AuditError> {
    let path = dir.join(super::export::PUBLIC_KEY);
    let text = std::fs::read_to_string(&path).map_err(|cause| AuditError::Read { path, cause })?;
    Ok(TrustedKey::from_hex(&text).map(|k| (k, "the export's public-key.txt".to_owned())))
}

/// The head the export's segment starts from. The segment must start at a signed head (or
/// the chain's start) and end at one: a segment anchored nowhere proves nothing.
fn anchored_start(checkpoints: &[Checkpoint], start: u64, end: u64) -> Result<String, Finding> {
    let anchor = |count: u64| checkpoints.iter().find(|c| c.events == count);
    let prev = if start == 0 {
        GENESIS.to_owned()
    } else {
        match anchor(start) {
            Some(c) => c.head.clone(),
            None => {
                return Err(Finding::Checkpoint {
                    source_name: "checkpoints.jsonl".into(),
                    what: format!(
                        "no checkpoint covers the {start} events before the export's first: the segment cannot be anchored"
                    ),
                });
            }
        }
    };
    if end > start && anchor(end).is_none() {
        return Err(Finding::Checkpoint {
            source_name: "checkpoints.jsonl".into(),
            what: format!("no checkpoint covers the export's last event #{end}"),
        });
    }
    Ok(prev)
}

/// The export's events walked from `prev` through every checkpoint inside the segment, to
/// exactly the last event the manifest names.
fn walk_export(
    prev: String,
    start: u64,
    end: u64,
    named: &[(String, &Checkpoint)],
    events: &[ChainedEvent],
) -> Result<Walked, Finding> {
    let mut walk = Walk {
        prev,
        next_id: start as i64 + 1,
        marks: None,
        expected: expected_heads(
            named
                .iter()
                .filter(|(_, c)| c.events > start && c.events <= end)
                .map(|(n, c)| (n.clone(), *c)),
        ),
        erased: 0,
    };
    for e in events {
        walk.step(e)?;
    }
    let last_id = walk.last_id();
    if (last_id as u64) != end {
        return Err(Finding::Checkpoint {
            source_name: "events.jsonl".into(),
            what: format!(
                "it ends at event #{last_id} but the export holds events up to #{end}, signed: events were removed or added"
            ),
        });
    }
    walk.finish()
}

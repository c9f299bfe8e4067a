//! What a pass did, in numbers and in one line: the counts every way of working hires adds
//! to ([`PassSummary::count`]), how a hire's turn ended ([`HireOutcome`]), why a pass ended
//! early ([`Stop`]), and the outcome the `passes` table records ([`PassOutcome`], or a webhook
//! nudge's [`NudgeOutcome`]). Operators
//! read these (the summary line, `status`, the `passes` table, metrics), so they are part of
//! the shared vocabulary, not of the pass that produces them.

use super::{HireStatus, PassId};

/// What produced a pass, recorded with it for an auditor: which hirebridge, under which
/// effective configuration (a digest, secrets excluded), run by whom.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    pub version: String,
    /// SHA-256 of the effective configuration with every secret redacted.
    pub config_hash: Option<String>,
    /// The OS user who ran the command (`sudo`'s caller when run through it); none for the
    /// service's own user.
    pub operator: Option<String>,
}

impl Provenance {
    /// This process: its version, `config_hash`, and its user from the environment.
    pub fn of_this_process(config_hash: Option<String>) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let operator = match (var("SUDO_USER"), var("USER")) {
            (Some(caller), _) => Some(format!("{caller} (via sudo)")),
            (None, user) => user,
        };
        Provenance {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            config_hash,
            operator,
        }
    }
}

/// How a hire's turn in a pass ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HireOutcome {
    Done,
    /// Retried later: a transient failure, or waiting out HiBob's read lag.
    Waiting,
    Parked,
    /// Parked because a credential was refused; the pass must stop.
    Refused(String),
    /// Shutdown was requested between two steps, or another hire met a refused credential.
    Interrupted,
}

/// Counts for the one-line summary and the `passes` table.
/// Stored as JSON in the `passes` table and read back typed (a field an older version did not
/// write reads as zero).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PassSummary {
    /// Hired applications in the listing (usable or not).
    pub listed: usize,
    /// Hires seen for the first time.
    pub new: usize,
    /// Hires this pass brought to done.
    pub completed: usize,
    /// Hires this pass left waiting (transient failure or HiBob's read lag).
    pub retrying: usize,
    /// Hires this pass parked.
    pub parked: usize,
    /// Listed records that cannot be used (no email, …).
    pub unusable: usize,
    /// Done hires whose mapped values changed in Pinpoint (drift detected this pass).
    pub drifted: usize,
    /// Listed applications whose own document contradicts the hired-stage filter (rejected,
    /// or in a stage not configured as hired): nothing written for them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub contradicted: usize,
    /// Hires seen for the first time and left out: hired before the cutoff (`skipped`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: usize,
    /// The cutoff that left them out, when any was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<String>,
    /// Open hires found out of the Hired stage this pass (`withdrawn`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub withdrawn: usize,
    /// Done hires found out of the Hired stage this pass (`unhired_at` set).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unhired: usize,
    /// Requests sent to both APIs, 429s received and in-place retries, during the pass.
    pub http: StatsSnapshot,
    /// Of `http.requests`, those the API contract check made (at startup, then daily): a
    /// fixed cost, not a cost per hire.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub contract_requests: u64,
    /// What the pass listed: the whole hired listing, or only what changed. Absent for a pass
    /// that listed nothing (or from before listings of what changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<ListingRead>,
}

/// What a pass listed, as its summary records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListingRead {
    /// `full` (every hired application) or `changed` (those changed since `changed_since`).
    pub scope: String,
    /// Why a full listing: `due` (`[schedule] full_every`), `none_yet`,
    /// `previous_pass_incomplete`, `sort_not_proven`, `paging_suspect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    /// RFC 3339: the last complete pass's start, less the safety margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_since: Option<String>,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl PassSummary {
    /// Counts one hire's turn. A turn that must end the pass says why: a refused credential
    /// (the hire is parked and counted so), or shutdown between two steps.
    pub fn count(&mut self, outcome: &HireOutcome, shutting_down: bool) -> Option<Stop> {
        match outcome {
            HireOutcome::Done => self.completed += 1,
            HireOutcome::Waiting => self.retrying += 1,
            HireOutcome::Parked => self.parked += 1,
            HireOutcome::Refused(message) => {
                self.parked += 1;
                return Some(Stop::Refused(message.clone()));
            }
            HireOutcome::Interrupted => return shutting_down.then_some(Stop::Shutdown),
        }
        None
    }

    /// Hires this pass worked on (whatever the outcome).
    pub fn worked(&self) -> usize {
        self.completed + self.retrying + self.parked
    }

    /// API requests per hire worked on: the cost of the pass, listing included.
    pub fn calls_per_hire(&self) -> Option<f64> {
        (self.worked() > 0).then(|| {
            self.http.requests.saturating_sub(self.contract_requests) as f64 / self.worked() as f64
        })
    }
}

/// Why a pass ended early. The steps already applied stay applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A credential or permission was refused: continuing would only hammer the API.
    Refused(String),
    /// The listing could not be read; the hires it would have shown wait for the next pass.
    ListingFailed(String),
    /// Shutdown was requested; the steps in flight finished first.
    Shutdown,
    /// An assumption about the APIs that writes depend on failed (the contract check, or a
    /// listing page that contradicts its filter): nothing was written. Names what failed and
    /// the fix.
    ContractBroken(String),
    /// The contract could not be checked (a probe timed out or failed): nothing was
    /// written; the next pass checks again.
    ContractUnchecked(String),
}

/// How a pass ended, as the `passes` table records it (snake_case; `status` reads it back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassOutcome {
    Completed,
    Shutdown,
    /// A credential or permission was refused (recorded as `unauthorized`).
    #[serde(rename = "unauthorized")]
    Refused,
    ListingFailed,
    ContractBroken,
    ContractUnchecked,
}

impl PassOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            PassOutcome::Completed => "completed",
            PassOutcome::Shutdown => "shutdown",
            PassOutcome::Refused => "unauthorized",
            PassOutcome::ListingFailed => "listing_failed",
            PassOutcome::ContractBroken => "contract_broken",
            PassOutcome::ContractUnchecked => "contract_unchecked",
        }
    }

    /// The outcome a recorded pass names; `None` for a webhook nudge's outcome or a pass
    /// still running.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
    }
}

impl Stop {
    pub fn outcome(&self) -> PassOutcome {
        match self {
            Stop::Shutdown => PassOutcome::Shutdown,
            Stop::Refused(_) => PassOutcome::Refused,
            Stop::ListingFailed(_) => PassOutcome::ListingFailed,
            Stop::ContractBroken(_) => PassOutcome::ContractBroken,
            Stop::ContractUnchecked(_) => PassOutcome::ContractUnchecked,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PassReport {
    pub pass: PassId,
    pub summary: PassSummary,
    pub stopped: Option<Stop>,
    /// Ledger-wide counts after the pass.
    pub totals: Vec<(HireStatus, u64)>,
}

impl PassReport {
    pub fn outcome(&self) -> PassOutcome {
        self.stopped
            .as_ref()
            .map_or(PassOutcome::Completed, Stop::outcome)
    }

    pub fn total(&self, status: HireStatus) -> u64 {
        self.totals
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }

    /// One line for people and logs.
    pub fn one_line(&self) -> String {
        let s = &self.summary;
        let mut line = format!(
            "{} hired listed, {} new, {} completed this pass; ledger: {} done, {} pending, {} failed, {} need attention; {} API calls",
            s.listed,
            s.new,
            s.completed,
            self.total(HireStatus::Done),
            self.total(HireStatus::Pending),
            self.total(HireStatus::Failed),
            self.total(HireStatus::NeedsAttention),
            s.http.requests,
        );
        if s.contract_requests > 0 {
            line.push_str(&format!(
                " ({} of them the API contract check)",
                s.contract_requests
            ));
        }
        if let Some(per_hire) = s.calls_per_hire() {
            line.push_str(&format!(" ({per_hire:.2} per hire worked)"));
        }
        // Settled without a write: named only when there are any.
        for status in [
            HireStatus::WaitingForHr,
            HireStatus::Skipped,
            HireStatus::Withdrawn,
        ] {
            if self.total(status) > 0 {
                line.push_str(&format!(
                    "; {} {} in the ledger",
                    self.total(status),
                    status.as_str()
                ));
            }
        }
        if s.http.rate_limited > 0 {
            line.push_str(&format!(", {} rate-limited (429)", s.http.rate_limited));
        }
        if s.contradicted > 0 {
            line.push_str(&format!(
                "; {} listed application(s) contradict the hired-stage filter (rejected, or in a stage not hired): the pass stopped at their page",
                s.contradicted
            ));
        }
        if s.withdrawn > 0 {
            line.push_str(&format!(
                "; {} hire(s) left the Hired stage before done (withdrawn, nothing more written)",
                s.withdrawn
            ));
        }
        if s.unhired > 0 {
            line.push_str(&format!(
                "; {} done hire(s) left the Hired stage: check them in HiBob (`hirebridge status`)",
                s.unhired
            ));
        }
        if s.skipped > 0 {
            line.push_str(&format!(
                "; {} hire(s) from before the cutoff {} left out (status skipped, nothing written): to include them set sync.hired_since earlier (e.g. \"2026-01-01\" or \"90d\"), or `hirebridge retry <application-id>` for one",
                s.skipped,
                s.cutoff.as_deref().unwrap_or("")
            ));
        }
        match &self.stopped {
            None => {}
            Some(Stop::Shutdown) => line.push_str("; stopped early for shutdown"),
            Some(Stop::Refused(m)) => line.push_str(&format!("; STOPPED: {m}")),
            Some(Stop::ListingFailed(m)) => line.push_str(&format!("; listing failed: {m}")),
            Some(Stop::ContractBroken(m)) => {
                line.push_str(&format!("; NOTHING WRITTEN, the API contract failed: {m}"))
            }
            Some(Stop::ContractUnchecked(m)) => line.push_str(&format!(
                "; nothing written, the API contract could not be checked (next pass checks again): {m}"
            )),
        }
        line
    }
}

/// What one nudge came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NudgeOutcome {
    /// The ledger has nothing to do for it now (done, parked, or waiting for its retry time):
    /// no API call was made.
    Settled,
    /// Another task (the scheduled pass) is working this hire; it is left to that task.
    Deferred,
    /// Pinpoint does not know the application (or hides it from this key): dropped.
    NotFound,
    /// The application is not in a hired stage: dropped, nothing written.
    NotHired,
    /// Pinpoint's answer does not prove the application is hired now (its stage is not one
    /// known to be hired): nothing written; a pass is asked for, whose listing can prove it.
    Unproven,
    /// The record cannot become an employee (no email, …); parked with its reason.
    Unusable,
    /// An assumption about the APIs that writes depend on failed (`hirebridge status` says
    /// which): nothing read or written; the scheduled passes check again.
    WritesStopped,
    Done,
    /// Retried later (a transient failure or HiBob's read lag), by the scheduled pass.
    Waiting,
    Parked,
    /// A credential was refused: nothing more is sent until the next pass.
    Refused,
    /// The application could not be read (timeout, 5xx, …): the scheduled poll will find it.
    Failed,
    /// Shutdown was requested between two steps.
    Interrupted,
}

impl NudgeOutcome {
    /// The outcome as a metric label and a pass outcome in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            NudgeOutcome::Settled => "settled",
            NudgeOutcome::Deferred => "deferred",
            NudgeOutcome::NotFound => "not_found",
            NudgeOutcome::NotHired => "not_hired",
            NudgeOutcome::Unproven => "unproven",
            NudgeOutcome::Unusable => "unusable",
            NudgeOutcome::WritesStopped => "writes_stopped",
            NudgeOutcome::Done => "done",
            NudgeOutcome::Waiting => "waiting",
            NudgeOutcome::Parked => "parked",
            NudgeOutcome::Refused => "refused",
            NudgeOutcome::Failed => "failed",
            NudgeOutcome::Interrupted => "interrupted",
        }
    }
}

/// A moment's reading of the HTTP client's request counters; subtract two to get what happened in between.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub rate_limited: u64,
    pub retries: u64,
}

impl std::ops::Sub for StatsSnapshot {
    type Output = StatsSnapshot;
    fn sub(self, before: StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.saturating_sub(before.requests),
            rate_limited: self.rate_limited.saturating_sub(before.rate_limited),
            retries: self.retries.saturating_sub(before.retries),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_outcome_reads_back_as_it_was_written() {
        for outcome in [
            PassOutcome::Completed,
            PassOutcome::Shutdown,
            PassOutcome::Refused,
            PassOutcome::ListingFailed,
            PassOutcome::ContractBroken,
            PassOutcome::ContractUnchecked,
        ] {
            assert_eq!(PassOutcome::parse(outcome.as_str()), Some(outcome));
            assert_eq!(
                serde_json::to_value(outcome).unwrap(),
                serde_json::Value::String(outcome.as_str().into())
            );
        }
        assert_eq!(PassOutcome::parse("done"), None, "a nudge's outcome");
    }

    #[test]
    fn every_turn_is_counted_once_and_only_a_refusal_or_shutdown_stops_the_pass() {
        let mut summary = PassSummary::default();
        assert_eq!(summary.count(&HireOutcome::Done, false), None);
        assert_eq!(summary.count(&HireOutcome::Waiting, false), None);
        assert_eq!(summary.count(&HireOutcome::Parked, false), None);
        assert_eq!(summary.count(&HireOutcome::Interrupted, false), None);
        assert_eq!(
            summary.count(&HireOutcome::Interrupted, true),
            Some(Stop::Shutdown)
        );
        assert_eq!(
            summary.count(&HireOutcome::Refused("401".into()), false),
            Some(Stop::Refused("401".into()))
        );
        assert_eq!(
            (summary.completed, summary.retrying, summary.parked),
            (1, 1, 2)
        );
        assert_eq!(summary.worked(), 4);
    }
}

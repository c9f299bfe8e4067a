//! `hirebridge bench --scenario audit-verify`: `hirebridge audit verify` over a settled ledger
//! of N done hires (a child process: wall time, peak memory), and what the chain costs in
//! ledger size per hire and per event.

use std::fmt;

use super::BenchError;
use super::child::{self, Finished};
use super::steady::{self, PAGE_SIZE, Range};
use super::tenant;

pub struct VerifyFigures {
    pub hires: usize,
    pub events: u64,
    pub ledger_bytes: u64,
    pub runs: Vec<Finished>,
}

pub async fn audit_verify(hires: usize, runs: usize) -> Result<VerifyFigures, BenchError> {
    let tenant = tenant::settled(hires, PAGE_SIZE).await?;
    // One real pass, so the ledger holds a checkpoint as a daemon's would.
    steady::sync_once(&tenant)?;
    let ledger = hirebridge::ledger::Ledger::open(tenant.ledger_path())?;
    ledger.checkpoint()?;
    let (events, _) = ledger.chain_head()?;
    drop(ledger);
    let path = tenant.ledger_path();
    let size = |p: std::path::PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let ledger_bytes =
        size(path.to_owned()) + size(std::path::PathBuf::from(format!("{}-wal", path.display())));
    let mut measured = Vec::new();
    for _ in 0..runs.max(1) {
        let finished =
            child::run_measured(child::command(&tenant.config_path, &["audit", "verify"])?)?;
        if finished.exit_code != Some(0) {
            return Err(BenchError::Daemon(format!(
                "hirebridge audit verify exited {:?}: {}",
                finished.exit_code, finished.stdout
            )));
        }
        measured.push(finished);
    }
    Ok(VerifyFigures {
        hires,
        events,
        ledger_bytes,
        runs: measured,
    })
}

impl fmt::Display for VerifyFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let walls = Range::of(self.runs.iter().map(|r| r.wall.as_secs_f64()));
        let rss = Range::of(self.runs.iter().map(|r| r.peak_rss_kib as f64 / 1024.0));
        let per_second = Range::of(
            self.runs
                .iter()
                .map(|r| self.events as f64 / r.wall.as_secs_f64().max(1e-9)),
        );
        writeln!(
            f,
            "audit: `hirebridge audit verify` over {} done hires, {} chained events (child process), {} runs",
            self.hires,
            self.events,
            self.runs.len()
        )?;
        writeln!(f, "  {:<26}{:>14}", "figure", "measured")?;
        writeln!(f, "  {:<26}{:>13}s", "verify wall", walls.show(2))?;
        writeln!(
            f,
            "  {:<26}{:>14}",
            "events verified per s",
            per_second.show(0)
        )?;
        writeln!(f, "  {:<26}{:>10} MiB", "verify peak RSS", rss.show(1))?;
        writeln!(
            f,
            "  {:<26}{:>12} B",
            "ledger size per hire",
            format!("{:.0}", self.ledger_bytes as f64 / self.hires.max(1) as f64)
        )?;
        write!(
            f,
            "  {:<26}{:>12} B  (db + wal after checkpoint: {:.1} MiB)",
            "ledger size per event",
            format!(
                "{:.0}",
                self.ledger_bytes as f64 / self.events.max(1) as f64
            ),
            self.ledger_bytes as f64 / 1024.0 / 1024.0
        )
    }
}

//! What the ledger's statements cost, counted by SQLite itself (no clock, so no noise): for
//! each statement text, how often it ran, the virtual-machine steps it took and the rows it
//! stepped through in full scans; and the query plan SQLite chooses for it. For the
//! benchmark's ledger profile (`bench --scenario ledger-plans`) and the test that keeps every
//! per-hire statement an indexed lookup or an append. Off unless asked for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rusqlite::StatementStatus;
use rusqlite::trace::{TraceEvent, TraceEventCodes};

use super::{Ledger, Result};

/// One statement's totals while recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementCost {
    pub runs: u64,
    /// SQLite virtual-machine steps: the work done, rows read included.
    pub vm_steps: u64,
    /// Rows stepped through by full table or index scans.
    pub full_scan_steps: u64,
}

/// Totals by statement text (parameters unexpanded, whitespace collapsed).
pub type StatementCosts = BTreeMap<String, StatementCost>;

/// The recorder a ledger's connection feeds while it is on.
#[derive(Debug, Clone, Default)]
pub struct CostRecorder(Arc<Mutex<Recorded>>);

/// SQLite's counters are kept per prepared statement and add up over its runs (a cached
/// statement runs many times): each run's share is the difference from the last reading of
/// the same statement text.
#[derive(Debug, Default)]
struct Recorded {
    totals: StatementCosts,
    /// By statement text: the last reading of (runs, VM steps, full-scan steps).
    last: BTreeMap<String, (i32, i32, i32)>,
}

impl Recorded {
    fn add(&mut self, sql: String, runs: i32, vm: i32, scans: i32) {
        let (vm_run, scans_run) = match self.last.get(&sql) {
            Some(&(r, v, s)) if runs == r + 1 && vm >= v && scans >= s => (vm - v, scans - s),
            // A statement prepared anew (or the first reading of one).
            _ if runs <= 1 => (vm, scans),
            // Another statement object with the same text: its average run.
            _ => (vm / runs, scans / runs),
        };
        self.last.insert(sql.clone(), (runs, vm, scans));
        let cost = self.totals.entry(sql).or_default();
        cost.runs += 1;
        cost.vm_steps += vm_run.max(0) as u64;
        cost.full_scan_steps += scans_run.max(0) as u64;
    }
}

impl CostRecorder {
    /// The totals so far.
    pub fn costs(&self) -> StatementCosts {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .totals
            .clone()
    }

    /// Starts again from zero.
    pub fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .totals
            .clear();
    }
}

/// A statement's text with its whitespace collapsed (so one statement is one key).
pub fn normalized(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Ledger {
    /// Counts every statement this connection runs from now on, into the returned recorder.
    pub fn record_statement_costs(&mut self) -> Result<CostRecorder> {
        let recorder = CostRecorder::default();
        let totals = recorder.0.clone();
        self.conn.trace_v2(
            TraceEventCodes::SQLITE_TRACE_PROFILE,
            Some(move |event: TraceEvent<'_>| {
                if let TraceEvent::Profile(stmt, _) = event {
                    totals.lock().unwrap_or_else(|e| e.into_inner()).add(
                        normalized(&stmt.sql()),
                        stmt.get_status(StatementStatus::Run),
                        stmt.get_status(StatementStatus::VmStep),
                        stmt.get_status(StatementStatus::FullscanStep),
                    );
                }
            }),
        )?;
        Ok(recorder)
    }

    /// SQLite's plan for `sql` (its parameters unbound), one line per step, indented by depth:
    /// `SEARCH hires USING INDEX …` is a lookup, `SCAN hires` reads the whole table.
    pub fn query_plan(&self, sql: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let mut depth: BTreeMap<i64, usize> = BTreeMap::new();
        // Each parameter NULL: the plan does not depend on the values.
        let nulls = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
        let rows = stmt.query_map(rusqlite::params_from_iter(nulls), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut lines = Vec::new();
        for row in rows {
            let (id, parent, detail) = row?;
            let level = depth.get(&parent).map_or(0, |d| d + 1);
            depth.insert(id, level);
            lines.push(format!("{}{detail}", "  ".repeat(level)));
        }
        Ok(lines)
    }
}

/// Whether a plan line reads all of one of the tables that grow with the ledger (hires,
/// events and their details, checkpoints, mapped values, passes). A scan of a small table
/// (stages, settings) or of a statement's own temporary b-tree is not one. (SQLite plans
/// `ORDER BY id DESC LIMIT 1` as `SCAN`, though it reads one row: the ledger writes such a
/// lookup as `WHERE id = (SELECT MAX(id) …)`, planned as the `SEARCH` it is.)
pub fn scans_a_growing_table(plan_line: &str) -> bool {
    const GROWING: [&str; 7] = [
        "hires",
        "events",
        "event_details",
        "checkpoints",
        "mapped_values",
        "passes",
        "plugin_submits",
    ];
    let line = plan_line.trim();
    let Some(rest) = line.strip_prefix("SCAN ") else {
        return false;
    };
    let table = rest.split_whitespace().next().unwrap_or_default();
    GROWING.contains(&table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_of_a_growing_table_is_told_from_a_lookup() {
        assert!(scans_a_growing_table("SCAN hires"));
        assert!(scans_a_growing_table(
            "  SCAN hires USING COVERING INDEX hires_by_status"
        ));
        assert!(scans_a_growing_table("SCAN checkpoints"));
        assert!(!scans_a_growing_table(
            "SEARCH hires USING INDEX sqlite_autoindex_hires_1 (application_id=?)"
        ));
        assert!(!scans_a_growing_table("SCAN hired_stages"));
        assert!(!scans_a_growing_table("USE TEMP B-TREE FOR ORDER BY"));
    }

    #[test]
    fn costs_and_plans_are_read_from_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let recorder = ledger.record_statement_costs().unwrap();
        ledger.event_count().unwrap();
        let costs = recorder.costs();
        let count = costs.get("SELECT count(*) FROM events").expect("recorded");
        assert_eq!(count.runs, 1);
        assert!(count.vm_steps > 0);
        let plan = ledger
            .query_plan("SELECT status FROM hires WHERE application_id = ?1")
            .unwrap();
        assert!(plan.iter().all(|l| !scans_a_growing_table(l)), "{plan:?}");
        let plan = ledger.query_plan("SELECT count(*) FROM events").unwrap();
        assert!(plan.iter().any(|l| scans_a_growing_table(l)), "{plan:?}");
    }
}

//! The ledger's statements, as SQLite plans them: every statement a hire's steps run (once per
//! hire, or once per event) is an indexed lookup or an append, so a hire costs the same on a
//! ledger of ten hires or of a million. Counted by SQLite (statements run, rows stepped
//! through in full scans), never timed.

mod common;

use std::collections::BTreeMap;

use common::{World, new_hire};
use hirebridge::ledger::Ledger;
use hirebridge::ledger::costs::{StatementCost, scans_a_growing_table};
use hirebridge::reconcile::Reconciler;
use hirebridge::sim::Scenario;
use tokio_util::sync::CancellationToken;

const HIRES: usize = 40;

/// Backfills `HIRES` hires, then `HIRES` more onto that ledger, and returns what the second
/// pass ran, with each statement's plan.
async fn second_backfill() -> Vec<(String, StatementCost, Vec<String>)> {
    let world = World::new(Scenario::generated(HIRES, 7));
    let mut ledger = Ledger::open(&world.ledger_path).unwrap();
    let recorder = ledger.record_statement_costs().unwrap();
    let mut reconciler = Reconciler::new(&world.config(), ledger).unwrap();
    let shutdown = CancellationToken::new();
    let first = reconciler.run_pass("test", &shutdown).await.unwrap();
    assert_eq!(first.summary.completed, HIRES);
    for i in 0..HIRES as u64 {
        world.sim.add_application(new_hire(50_000 + i));
    }
    recorder.clear();
    let second = reconciler.run_pass("test", &shutdown).await.unwrap();
    assert_eq!(second.summary.completed, HIRES, "{:?}", second.stopped);
    let costs: BTreeMap<String, StatementCost> = recorder.costs();
    let ledger = reconciler.ledger();
    costs
        .into_iter()
        .map(|(sql, cost)| {
            let plan = ledger.query_plan(&sql).unwrap();
            (sql, cost, plan)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_statement_run_per_hire_or_per_event_is_an_indexed_lookup_or_an_append() {
    let statements = second_backfill().await;
    assert!(
        statements
            .iter()
            .any(|(sql, _, _)| sql.starts_with("INSERT INTO events")),
        "the recorder saw the chain's appends"
    );
    let per_hire: Vec<_> = statements
        .iter()
        .filter(|(_, cost, _)| cost.runs >= HIRES as u64)
        .collect();
    assert!(per_hire.len() >= 5, "{per_hire:#?}");
    let scanning: Vec<_> = per_hire
        .iter()
        .filter(|(_, _, plan)| plan.iter().any(|line| scans_a_growing_table(line)))
        .collect();
    assert!(
        scanning.is_empty(),
        "statements run per hire that read a whole table: {scanning:#?}"
    );
    // SQLite's own count agrees: no row was read by a full scan in a per-hire statement.
    let scanned: Vec<_> = per_hire
        .iter()
        .filter(|(_, cost, _)| cost.full_scan_steps > 0)
        .collect();
    assert!(scanned.is_empty(), "{scanned:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_reads_no_whole_table_of_events_or_checkpoints() {
    let statements = second_backfill().await;
    let offending: Vec<_> = statements
        .iter()
        .filter(|(_, _, plan)| {
            plan.iter().any(|line| {
                let line = line.trim();
                line.starts_with("SCAN events")
                    || line.starts_with("SCAN event_details")
                    || line.starts_with("SCAN checkpoints")
            })
        })
        .collect();
    assert!(offending.is_empty(), "{offending:#?}");
}

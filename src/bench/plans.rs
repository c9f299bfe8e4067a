//! The ledger's side of a backfill, counted by SQLite rather than timed: every statement the
//! second of two backfills runs (on a ledger that already holds hires), how often, the
//! virtual-machine steps and full-scan steps it took, and the plan SQLite chose for it. Run
//! at two sizes, the steps per hire show whether a hire's cost grows with the ledger.

use std::fmt;

use tokio_util::sync::CancellationToken;

use super::{BenchError, simulated_config};
use hirebridge::ledger::Ledger;
use hirebridge::ledger::costs::{StatementCost, scans_a_growing_table};
use hirebridge::reconcile::Reconciler;
use hirebridge::sim::{Scenario, Sim, SimApplication};

pub struct LedgerPlans {
    /// Hires in the ledger before the measured pass, and hires it completed.
    pub hires: usize,
    pub completed: usize,
    pub statements: Vec<(String, StatementCost, Vec<String>)>,
}

pub async fn ledger_plans(hires: usize) -> Result<LedgerPlans, BenchError> {
    let simulator = Sim::start(Scenario::generated(hires, 7)).map_err(BenchError::Simulator)?;
    let scratch = tempfile::tempdir().map_err(BenchError::Scratch)?;
    let mut config = simulated_config(&simulator, &scratch.path().join("ledger.sqlite3"))?;
    config.pinpoint.page_size = 1000;
    let mut ledger = Ledger::open(&config.ledger.path)?;
    let recorder = ledger.record_statement_costs()?;
    let mut reconciler = Reconciler::new(&config, ledger)?;
    let shutdown = CancellationToken::new();
    reconciler.run_pass("bench", &shutdown).await?;
    for i in 0..hires {
        let id = 900_000 + i;
        simulator.add_application(SimApplication::hired(
            &id.to_string(),
            "New",
            &format!("Hire{id}"),
            &format!("hire{id}@example.com"),
            "1",
        ));
    }
    recorder.clear();
    let second = reconciler.run_pass("bench", &shutdown).await?;
    let ledger = reconciler.ledger();
    let mut statements: Vec<_> = recorder
        .costs()
        .into_iter()
        .map(|(sql, cost)| {
            let plan = ledger
                .query_plan(&sql)
                .unwrap_or_else(|e| vec![format!("(no plan: {e})")]);
            (sql, cost, plan)
        })
        .collect();
    statements.sort_by_key(|(_, cost, _)| std::cmp::Reverse(cost.vm_steps));
    Ok(LedgerPlans {
        hires,
        completed: second.summary.completed,
        statements,
    })
}

impl fmt::Display for LedgerPlans {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per_hire = |n: u64| n as f64 / self.completed.max(1) as f64;
        let steps: u64 = self.statements.iter().map(|(_, c, _)| c.vm_steps).sum();
        let scans: u64 = self
            .statements
            .iter()
            .map(|(_, c, _)| c.full_scan_steps)
            .sum();
        writeln!(
            f,
            "ledger plans: a backfill of {} new hires onto a ledger of {} ({} done); SQLite's \
             steps per hire {:.0}, full-scan steps per hire {:.1}",
            self.completed,
            self.hires,
            self.completed,
            per_hire(steps),
            per_hire(scans)
        )?;
        for (sql, cost, plan) in &self.statements {
            let scanning = plan.iter().any(|l| scans_a_growing_table(l));
            writeln!(
                f,
                "\n{:>7} runs {:>9.1} steps/run {:>8} full-scan steps{}\n  {}",
                cost.runs,
                cost.vm_steps as f64 / cost.runs.max(1) as f64,
                cost.full_scan_steps,
                if scanning {
                    "  SCANS A GROWING TABLE"
                } else {
                    ""
                },
                sql
            )?;
            for line in plan {
                writeln!(f, "    {line}")?;
            }
        }
        Ok(())
    }
}

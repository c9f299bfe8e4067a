//! Figures of a cost that stays flat as a tenant grows: backfill throughput at growing sizes
//! (the cost of a hire must not grow with the ledger), the steady pass that reads only what
//! changed, and reading a HiBob of a million people (streamed, in flat memory).

use std::fmt;

use super::BenchError;
use super::child::{self, Finished};
use super::steady::{PAGE_SIZE, Range, SteadyRun, sync_once};
use super::{BackfillFigures, tenant};
use hirebridge::sim::{Endpoint, Scenario, Sim, SimEmployeeSeed, Stage};

/// Backfills at several sizes, `runs` times each.
#[derive(Debug, Clone)]
pub struct BackfillScaling {
    pub sizes: Vec<(usize, Vec<BackfillFigures>)>,
}

impl BackfillScaling {
    pub fn hires_per_second(&self, hires: usize) -> Range {
        Range::of(
            self.sizes
                .iter()
                .filter(|(n, _)| *n == hires)
                .flat_map(|(_, runs)| runs.iter().map(BackfillFigures::hires_per_second)),
        )
    }

    /// Hires per second at the largest size over that at the smallest (1.0 = flat).
    pub fn ratio(&self) -> Range {
        let (Some((small, _)), Some((large, _))) = (self.sizes.first(), self.sizes.last()) else {
            return Range::default();
        };
        let (a, b) = (self.hires_per_second(*small), self.hires_per_second(*large));
        Range {
            min: b.min / a.max,
            max: b.max / a.min,
        }
    }
}

pub async fn backfill_scaling(sizes: &[usize], runs: usize) -> Result<BackfillScaling, BenchError> {
    let mut out = Vec::new();
    for &n in sizes {
        let mut figures = Vec::new();
        for _ in 0..runs.max(1) {
            figures.push(super::backfill(n).await?);
        }
        out.push((n, figures));
    }
    Ok(BackfillScaling { sizes: out })
}

impl fmt::Display for BackfillScaling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "backfill scaling: new hires into an unlimited simulator (in-process, page size 1000)"
        )?;
        writeln!(
            f,
            "  {:>9}{:>16}{:>16}{:>12}",
            "hires", "hires/s", "calls/hire", "done"
        )?;
        for (n, runs) in &self.sizes {
            writeln!(
                f,
                "  {:>9}{:>16}{:>16}{:>12}",
                n,
                self.hires_per_second(*n).show(0),
                Range::of(runs.iter().map(|r| r.calls_per_hire)).show(2),
                Range::of(runs.iter().map(|r| r.completed as f64)).show(0),
            )?;
        }
        write!(
            f,
            "  largest/smallest hires per second: ×{} (flat = 1)",
            self.ratio().show(2)
        )
    }
}

/// Passes that read only what changed, over a settled tenant.
#[derive(Debug, Clone)]
pub struct ChangedPasses {
    pub hires: usize,
    /// Nothing changed since the last pass.
    pub unchanged: Vec<SteadyRun>,
    /// Five done hires changed since the last pass.
    pub five_changed: Vec<SteadyRun>,
}

/// What one set of runs measured: listing requests, other requests, wall.
pub fn listing_calls(runs: &[SteadyRun]) -> Range {
    Range::of(runs.iter().map(|r| r.listing_calls as f64))
}

pub fn other_calls(runs: &[SteadyRun]) -> usize {
    runs.iter()
        .map(|r| r.other_calls + r.write_calls)
        .max()
        .unwrap_or(0)
}

pub fn walls_ms(runs: &[SteadyRun]) -> Range {
    Range::of(runs.iter().map(|r| r.process.wall.as_secs_f64() * 1e3))
}

/// A settled tenant of `hires` whose hires were done two hours ago; one full pass (with the
/// contract check), then `runs` passes with nothing changed and `runs` with five changed
/// hires each, all by the real binary as a child process.
pub async fn changed_passes(hires: usize, runs: usize) -> Result<ChangedPasses, BenchError> {
    let tenant = tenant::settled_with(hires, PAGE_SIZE, "every = \"1h\"").await?;
    let simulator = &tenant.simulator;
    // The generated tenant spreads its applications seven hours apart, into the future for a
    // large one: move them all back so the latest changed two hours ago, as on a live tenant.
    let latest = simulator.latest_update().unwrap_or_else(chrono::Utc::now);
    simulator.age_applications(latest - chrono::Utc::now() + chrono::Duration::hours(2));
    let hired: Vec<String> = simulator
        .applications()
        .into_iter()
        .filter(|a| a.stage == Stage::Hired)
        .map(|a| a.id)
        .collect();
    // One change since, as on any live tenant.
    simulator.set_stage(&hired[0], Stage::Hired);
    let full = sync_once(&tenant)?;
    if full.listing_calls < hires.div_ceil(PAGE_SIZE as usize) {
        return Err(BenchError::Daemon(format!(
            "the first pass listed {} pages: not a full listing",
            full.listing_calls
        )));
    }
    let mut unchanged = Vec::new();
    for _ in 0..runs.max(1) {
        unchanged.push(sync_once(&tenant)?);
    }
    let mut five_changed = Vec::new();
    for run in 0..runs.max(1) {
        for id in hired.iter().skip(1 + run * 5).take(5) {
            simulator.set_stage(id, Stage::Hired);
        }
        five_changed.push(sync_once(&tenant)?);
    }
    Ok(ChangedPasses {
        hires,
        unchanged,
        five_changed,
    })
}

impl fmt::Display for ChangedPasses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "steady pass, only what changed: {} done hires, `hirebridge sync` as a child process",
            self.hires
        )?;
        for (name, runs) in [
            ("nothing changed", &self.unchanged),
            ("5 changed", &self.five_changed),
        ] {
            writeln!(
                f,
                "  {name:<18} listing calls {:>5}, other calls {}, wall {} ms, peak RSS {} MiB",
                listing_calls(runs).show(0),
                other_calls(runs),
                walls_ms(runs).show(1),
                Range::of(runs.iter().map(|r| r.process.peak_rss_kib as f64 / 1024.0)).show(1)
            )?;
        }
        Ok(())
    }
}

/// A first pass (contract check included) on a HiBob of `people` people, with ten new hires
/// whose lookup needs the read of everyone (the private-address read).
#[derive(Debug, Clone)]
pub struct PeopleRead {
    pub people: usize,
    /// Each run and the people searches it made.
    pub runs: Vec<(Finished, usize)>,
}

impl PeopleRead {
    pub fn rss_mib(&self) -> Range {
        Range::of(
            self.runs
                .iter()
                .map(|(r, _)| r.peak_rss_kib as f64 / 1024.0),
        )
    }
    /// Every run's ten hires were done.
    pub fn all_done(&self) -> bool {
        self.runs
            .iter()
            .all(|(r, reads)| r.exit_code == Some(0) && *reads >= 2)
    }
}

/// Everyone in HiBob: `people` employees, one in fifty a former employee.
fn crowded_hibob(people: usize) -> Scenario {
    let mut scenario = Scenario::generated(10, 11);
    let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 6).expect("a date");
    scenario.existing_employees = (0..people)
        .map(|i| SimEmployeeSeed {
            first_name: format!("Person{i}"),
            surname: "Crowd".into(),
            email: format!("person{i}@corp.example"),
            site: "New York (Demo)".into(),
            start_date: start,
            termination_date: (i % 50 == 0).then_some(start + chrono::Days::new(365)),
        })
        .collect();
    scenario
}

pub async fn people_read(people: usize, runs: usize) -> Result<PeopleRead, BenchError> {
    let simulator = Sim::start(crowded_hibob(people)).map_err(BenchError::Simulator)?;
    let mut out = Vec::new();
    for _ in 0..runs.max(1) {
        let scratch = tempfile::tempdir().map_err(BenchError::Scratch)?;
        let ledger = scratch.path().join("ledger.sqlite3");
        let config = scratch.path().join("config.toml");
        tenant::write_config_file(&config, &simulator, &ledger, PAGE_SIZE, "every = \"1h\"")?;
        simulator.reset_counters();
        let process = child::run_measured(child::command(&config, &["sync"])?)?;
        let searches = simulator.count(Endpoint::SearchPeople);
        out.push((process, searches));
        drop(scratch);
    }
    Ok(PeopleRead { people, runs: out })
}

impl fmt::Display for PeopleRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "people read: a first `hirebridge sync` (contract check, 10 new hires) on a HiBob of {} people",
            self.people
        )?;
        for (r, reads) in &self.runs {
            writeln!(
                f,
                "  exit {:?}, people searches {reads}, wall {:.2} s, CPU {:.2} s, peak RSS {:.1} MiB",
                r.exit_code,
                r.wall.as_secs_f64(),
                r.cpu.as_secs_f64(),
                r.peak_rss_kib as f64 / 1024.0
            )?;
        }
        Ok(())
    }
}

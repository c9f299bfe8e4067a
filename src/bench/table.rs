//! The one table of the performance section: every figure beside its floor, with a mark.

use std::fmt;
use std::time::Duration;

use super::flat;
use super::steady::{self, LedgerFigures, RestFigures, ScalingFigures, SteadyFigures};
use super::{BackfillFigures, BenchError, NudgeLatencyFigures};

/// The sizes one table is measured at, all derived from the steady-state size `n`
/// (10,000 for the documented table).
#[derive(Debug, Clone, Copy)]
pub struct TableSizes {
    pub steady: usize,
    pub scaling: [usize; 3],
    pub backfill: usize,
    pub nudges: usize,
    pub ledger: usize,
    pub idle: Duration,
    pub runs: usize,
    /// Backfills whose hires per second must stay flat: N/10, N, 10N.
    pub backfill_scaling: [usize; 3],
    /// Settled tenants passed over with only what changed: N and 10N.
    pub changed: [usize; 2],
    /// People in HiBob for the read of everyone: 100N.
    pub people: usize,
}

impl TableSizes {
    /// 10,000 gives the sizes: scaling 1,000 / 10,000 / 100,000, a backfill of 2,000,
    /// 100 nudges, `report` over 100,000.
    pub fn from_steady(n: usize, idle: Duration, runs: usize) -> Self {
        Self {
            steady: n,
            scaling: [(n / 10).max(1), n, n * 10],
            backfill: (n / 5).max(1),
            nudges: (n / 100).max(5),
            ledger: n * 10,
            idle,
            runs,
            backfill_scaling: [(n / 10).max(1), n, n * 10],
            changed: [n, n * 10],
            people: n * 100,
        }
    }
}

pub struct Table {
    pub sizes: TableSizes,
    pub steady: SteadyFigures,
    pub scaling: ScalingFigures,
    pub backfill: Vec<BackfillFigures>,
    pub nudge: NudgeLatencyFigures,
    pub rest: RestFigures,
    pub ledger: LedgerFigures,
    pub backfill_scaling: flat::BackfillScaling,
    pub changed: Vec<flat::ChangedPasses>,
    pub people: flat::PeopleRead,
}

pub async fn measure(sizes: TableSizes) -> Result<Table, BenchError> {
    let scaling = steady::scaling(&sizes.scaling, sizes.runs).await?;
    let steady = scaling
        .sizes
        .iter()
        .find(|s| s.hires == sizes.steady)
        .cloned()
        .expect("the steady size is one of the scaling sizes");
    let mut backfill = vec![];
    for _ in 0..sizes.runs.max(1) {
        backfill.push(super::backfill(sizes.backfill).await?);
    }
    let nudge = super::nudge_latency(sizes.nudges).await?;
    let rest = steady::at_rest(sizes.steady, sizes.idle, sizes.runs).await?;
    let ledger = steady::ledger_report(sizes.ledger, sizes.runs).await?;
    let backfill_scaling = flat::backfill_scaling(&sizes.backfill_scaling, sizes.runs).await?;
    let mut changed = Vec::new();
    for n in sizes.changed {
        changed.push(flat::changed_passes(n, sizes.runs).await?);
    }
    let people = flat::people_read(sizes.people, sizes.runs).await?;
    Ok(Table {
        sizes,
        steady,
        scaling,
        backfill,
        nudge,
        rest,
        ledger,
        backfill_scaling,
        changed,
        people,
    })
}

fn mark(ok: bool) -> &'static str {
    if ok { "pass" } else { "FAIL" }
}

fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "hirebridge bench --scenario table: {} run(s) of each figure, ranges are min–max",
            self.sizes.runs
        )?;
        writeln!(
            f,
            "{:<34} {:>26}  {:<26} mark",
            "figure", "measured", "floor"
        )?;
        for (figure, measured, floor, ok) in &self.rows() {
            writeln!(f, "{figure:<34} {measured:>26}  {floor:<26} {}", mark(*ok))?;
        }
        writeln!(f)?;
        writeln!(f, "{}", self.scaling)?;
        writeln!(f)?;
        writeln!(f, "{}", self.rest)?;
        writeln!(f)?;
        writeln!(f, "{}", self.ledger)?;
        writeln!(f)?;
        writeln!(f, "{}", self.backfill_scaling)?;
        for changed in &self.changed {
            writeln!(f)?;
            write!(f, "{changed}")?;
        }
        writeln!(f)?;
        write!(f, "{}", self.people)
    }
}

/// One line of the table: figure, measured, floor, whether it passes.
type Row = (String, String, String, bool);

impl Table {
    /// Every row of the table, in the numbered order the performance section documents.
    fn rows(&self) -> Vec<Row> {
        let mut rows = self.steady_rows();
        rows.extend(self.scaling_rows());
        rows.extend(self.backfill_rows());
        rows.extend(self.nudge_rows());
        rows.extend(self.rest_rows());
        rows.extend(self.ledger_rows());
        rows.extend(self.flat_rows());
        rows
    }

    /// Section 1: one pass over a settled tenant costs only its listing pages.
    fn steady_rows(&self) -> Vec<Row> {
        let n = grouped(self.sizes.steady);
        let steady = &self.steady;
        vec![
            (
                format!("1 steady {n}: API calls"),
                format!(
                    "{} listing + {} other",
                    steady.listing_calls().show(0),
                    steady.other_calls()
                ),
                format!("{} listing pages, 0 other", steady.pages()),
                steady.listing_calls().max as usize == steady.pages() && steady.other_calls() == 0,
            ),
            (
                format!("1 steady {n}: wall"),
                format!("{} s", steady.walls().show(3)),
                "< 1 s".into(),
                steady.walls().max < 1.0,
            ),
            (
                format!("1 steady {n}: peak RSS"),
                format!("{} MiB", steady.rss_mib().show(1)),
                "< 40 MiB".into(),
                steady.rss_mib().max < 40.0,
            ),
        ]
    }

    /// Section 2: the per-hire costs stay flat from the smallest tenant to the largest.
    fn scaling_rows(&self) -> Vec<Row> {
        let [small, middle, large] = self.sizes.scaling;
        let scaling = &self.scaling;
        vec![
            scaling_row(small, large, "wall/hire", scaling.time_ratio()),
            scaling_row(small, large, "peak RSS", scaling.memory_ratio()),
            scaling_row(middle, large, "peak RSS", scaling.memory_ratio_upper()),
            scaling_row(small, large, "CPU/hire", scaling.cpu_ratio()),
        ]
    }

    /// Section 3: a first run over many hires, its rate and its calls per hire.
    fn backfill_rows(&self) -> Vec<Row> {
        let n = grouped(self.sizes.backfill);
        let per_second = steady::Range::of(self.backfill.iter().map(|b| b.hires_per_second()));
        let calls_per_hire = steady::Range::of(self.backfill.iter().map(|b| b.calls_per_hire));
        vec![
            (
                format!("3 backfill {n}: hires/s"),
                per_second.show(0),
                "≥ 300".into(),
                per_second.min >= 300.0,
            ),
            (
                format!("3 backfill {n}: calls/hire"),
                calls_per_hire.show(2),
                "≤ 3.1".into(),
                calls_per_hire.max <= 3.1,
            ),
        ]
    }

    /// Section 4: how soon a webhook nudge becomes an employee.
    fn nudge_rows(&self) -> Vec<Row> {
        let nudge = &self.nudge;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        vec![
            (
                format!("4 nudge × {}: p50", nudge.hires),
                format!("{:.1} ms", ms(nudge.p50())),
                "< 50 ms".into(),
                ms(nudge.p50()) < 50.0 && nudge.created == nudge.hires,
            ),
            (
                format!("4 nudge × {}: p99", nudge.hires),
                format!("{:.1} ms", ms(nudge.p99())),
                "-".into(),
                true,
            ),
        ]
    }

    /// Section 5: what the daemon costs while idle and how fast it is ready.
    fn rest_rows(&self) -> Vec<Row> {
        let rest = &self.rest;
        let idle = self.sizes.idle;
        // The floor is 50 ms of CPU per 30 s idle, scaled to the idle time measured.
        let idle_floor_ms = 50.0 * idle.as_secs_f64() / 30.0;
        vec![
            (
                "5 at rest: RSS".into(),
                format!("{} MiB", rest.idle_rss_mib().show(1)),
                "< 15 MiB".into(),
                rest.idle_rss_mib().max < 15.0,
            ),
            (
                format!("5 at rest: CPU over {idle:?}"),
                format!("{} ms", rest.idle_cpu_ms().show(0)),
                format!("< {idle_floor_ms:.1} ms"),
                rest.idle_cpu_ms().max < idle_floor_ms,
            ),
            (
                "5 startup→ready (restart)".into(),
                format!("{} ms", rest.startup_restart_ms().show(1)),
                "< 100 ms".into(),
                rest.startup_restart_ms().max < 100.0,
            ),
            (
                "5 startup→ready (first start)".into(),
                format!("{} ms", rest.startup_fresh_ms().show(1)),
                "< 100 ms".into(),
                rest.startup_fresh_ms().max < 100.0,
            ),
        ]
    }

    /// Section 6: the report over a large ledger, and what the ledger costs on disk.
    fn ledger_rows(&self) -> Vec<Row> {
        let rows = self.sizes.ledger;
        let ledger = &self.ledger;
        vec![
            (
                format!("6 report json {}", grouped(rows)),
                format!("{} s", ledger.walls().show(3)),
                "< 1 s".into(),
                ledger.walls().max < 1.0 && ledger.rows_reported == rows,
            ),
            (
                format!("6 report json {}: peak RSS", grouped(rows)),
                format!("{} MiB", ledger.rss_mib().show(1)),
                "-".into(),
                true,
            ),
            (
                "6 ledger size per hire".into(),
                format!("{:.0} B", ledger.bytes_per_hire()),
                "-".into(),
                true,
            ),
        ]
    }

    /// The rows of a cost that stays flat as the tenant grows.
    fn flat_rows(&self) -> Vec<Row> {
        let s = &self.sizes;
        let [small, middle, large] = s.backfill_scaling;
        let ratio = self.backfill_scaling.ratio();
        let middle_rate = self.backfill_scaling.hires_per_second(middle);
        let mut rows = vec![
            (
                format!("7 backfill {}→{}: hires/s", grouped(small), grouped(large)),
                format!("×{}", ratio.show(2)),
                "≥ ×0.8".into(),
                ratio.min >= 0.8,
            ),
            (
                format!("7 backfill {}: hires/s", grouped(middle)),
                middle_rate.show(0),
                "≥ 400".into(),
                middle_rate.min >= 400.0,
            ),
        ];
        for changed in &self.changed {
            rows.extend(changed_rows(changed));
        }
        let rss = self.people.rss_mib();
        rows.push((
            format!("9 people read {}: peak RSS", grouped(self.people.people)),
            format!("{} MiB", rss.show(1)),
            "< 64 MiB".into(),
            rss.max < 64.0 && self.people.all_done(),
        ));
        rows
    }
}

/// One scaling row: how a per-hire cost grows from the tenant of `from` hires to `to`.
fn scaling_row(from: usize, to: usize, what: &str, ratio: steady::Range) -> Row {
    (
        format!("2 scaling {}→{}: {what}", grouped(from), grouped(to)),
        format!("×{}", ratio.show(2)),
        "flat (≤ ×1.5)".into(),
        ratio.max <= 1.5,
    )
}

/// The rows of the passes that read only what changed, over one tenant.
fn changed_rows(changed: &flat::ChangedPasses) -> Vec<Row> {
    let n = grouped(changed.hires);
    let calls = |runs: &[steady::SteadyRun]| {
        format!(
            "{} listing + {} other",
            flat::listing_calls(runs).show(0),
            flat::other_calls(runs)
        )
    };
    let within = |runs: &[steady::SteadyRun]| {
        flat::listing_calls(runs).max <= 2.0 && flat::other_calls(runs) == 0
    };
    let wall = flat::walls_ms(&changed.unchanged);
    vec![
        (
            format!("8 changed-only {n}, 0 changed: calls"),
            calls(&changed.unchanged),
            "≤ 2 listing, 0 other".into(),
            within(&changed.unchanged),
        ),
        (
            format!("8 changed-only {n}, 0 changed: wall"),
            format!("{} ms", wall.show(1)),
            "< 50 ms".into(),
            wall.max < 50.0,
        ),
        (
            format!("8 changed-only {n}, 5 changed: calls"),
            calls(&changed.five_changed),
            "≤ 2 listing, 0 other".into(),
            within(&changed.five_changed),
        ),
    ]
}

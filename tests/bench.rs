//! `hirebridge bench` stays runnable: tiny sizes, no figures asserted (timings belong to the
//! on-demand run documented in docs/performance.md, never to `cargo test`).

mod common;

use std::process::Command;

use common::BINARY;

fn bench(args: &[&str]) -> common::Run {
    common::Run(
        Command::new(BINARY)
            .env_clear()
            .arg("bench")
            .args(args)
            .output()
            .unwrap(),
    )
}

#[test]
fn the_table_prints_every_figure_of_the_performance_section_with_its_floor() {
    let run = bench(&[
        "--scenario",
        "table",
        "--hires",
        "50",
        "--runs",
        "1",
        "--idle",
        "300ms",
    ])
    .expect(0);
    let out = run.stdout();
    for figure in [
        "1 steady 50: API calls",
        "1 steady 50: wall",
        "1 steady 50: peak RSS",
        "2 scaling 5→500: wall/hire",
        "2 scaling 5→500: peak RSS",
        "2 scaling 50→500: peak RSS",
        "2 scaling 5→500: CPU/hire",
        "3 backfill 10: hires/s",
        "3 backfill 10: calls/hire",
        "4 nudge × 5: p50",
        "4 nudge × 5: p99",
        "5 at rest: RSS",
        "5 at rest: CPU over",
        "5 startup→ready (restart)",
        "5 startup→ready (first start)",
        "6 report json 500",
        "6 ledger size per hire",
        "7 backfill 5→500: hires/s",
        "7 backfill 50: hires/s",
        "8 changed-only 50, 0 changed: calls",
        "8 changed-only 50, 0 changed: wall",
        "8 changed-only 50, 5 changed: calls",
        "8 changed-only 500, 0 changed: calls",
        "9 people read 5,000: peak RSS",
    ] {
        let row = out
            .lines()
            .find(|l| l.starts_with(figure))
            .unwrap_or_else(|| panic!("no row {figure:?} in:\n{out}"));
        assert!(
            row.ends_with("pass") || row.ends_with("FAIL"),
            "every row carries a mark: {row}"
        );
    }
    // The report really covered the seeded ledger, one row per hire.
    let reported = out
        .lines()
        .find(|l| l.trim_start().starts_with("rows reported"))
        .unwrap_or_else(|| panic!("no rows reported in:\n{out}"));
    assert!(
        reported
            .split_whitespace()
            .rev()
            .take(2)
            .all(|n| n == "500"),
        "{reported}"
    );
}

#[test]
fn the_seeded_tenant_records_what_a_real_backfill_records() {
    let run = bench(&["--scenario", "seed-check", "--hires", "30"]).expect(0);
    assert!(
        run.stdout().contains("record the same rows"),
        "{}",
        run.all()
    );
}

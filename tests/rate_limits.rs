//! Rate limits and transient faults: run at the APIs' ceiling, never over it, and recover.
//!
//! Waits are observed on a virtual clock (sleeps return at once and are recorded), so these
//! tests assert how long hirebridge *would* wait without waiting or timing anything.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Settings, World};
use hirebridge::http::{VirtualClock, WaitReason};
use hirebridge::ledger::HireStatus;
use hirebridge::reconcile::PassReport;
use hirebridge::sim::{CvFiles, Endpoint, Fault, FaultRule, Scenario};
use tokio_util::sync::CancellationToken;

/// One in-process pass whose waits go to a virtual clock (recorded, not waited).
async fn pass_on_a_virtual_clock(world: &World) -> (PassReport, Arc<VirtualClock>) {
    let clock = Arc::new(VirtualClock::default());
    let report = world
        .reconciler(clock.clone())
        .run_pass("test", &CancellationToken::new())
        .await
        .unwrap();
    (report, clock)
}

fn with_cvs(hires: usize, seed: u64) -> Scenario {
    let mut s = Scenario::generated(hires, seed);
    for a in &mut s.applications {
        a.cv = CvFiles::PdfOnly;
    }
    s
}

fn rate_limited(world: &World) -> usize {
    world.sim.count_status(Endpoint::SearchPeople, 429)
        + world.sim.count_status(Endpoint::CreatePerson, 429)
}

#[test]
fn a_fixed_window_is_never_exceeded_across_several_windows() {
    let world = World::with(
        with_cvs(16, 5).with_rate_limit(5, Duration::from_secs(1)),
        Settings {
            // The configured hint matches the server: 5 per second.
            hibob_rate_limit: "5/1s",
            sync: "hired_since = \"2000-01-01\"\nconcurrency = 4".into(),
            ..Settings::default()
        },
    );
    world.sync().expect(0);
    assert_eq!(
        world.sim.count(Endpoint::CreatePerson),
        16,
        "four windows' worth"
    );
    assert_eq!(rate_limited(&world), 0);
    world.assert_exactly_once();
}

#[test]
fn the_servers_headers_keep_a_too_generous_config_under_the_limit() {
    // hirebridge is configured for 1000/s; HiBob allows 5 per second. The X-RateLimit
    // headers are the truth, so not one request is refused.
    let world = World::with(
        with_cvs(16, 6).with_rate_limit(5, Duration::from_secs(1)),
        Settings {
            sync: "hired_since = \"2000-01-01\"\nconcurrency = 8".into(),
            ..Settings::default()
        },
    );
    world.sync().expect(0);
    let refused: Vec<_> = world
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.status == 429)
        .collect();
    assert_eq!(rate_limited(&world), 0, "{refused:?}");
    world.assert_exactly_once();
}

#[tokio::test]
async fn a_429_storm_with_retry_after_is_waited_out_in_place() {
    let world = common::one_hire_world();
    world.sim.inject(
        FaultRule::new(
            Endpoint::CreatePerson,
            Fault::RateLimited {
                retry_after_secs: Some(7),
            },
        )
        .times(3),
    );
    let (report, clock) = pass_on_a_virtual_clock(&world).await;
    assert_eq!(report.summary.completed, 1);
    assert_eq!(report.summary.http.rate_limited, 3);
    // Only the waits the 429s asked for: pacing between requests is another matter. A wait
    // may end a little short of 7 s when another task's wait moved the shared clock meanwhile.
    let pauses = clock.sleeps_for(WaitReason::RateLimited);
    assert_eq!(pauses.len(), 3, "{:?}", clock.sleeps_labelled());
    assert!(
        pauses
            .iter()
            .all(|d| *d > Duration::from_secs(6) && *d <= Duration::from_secs(7)),
        "waited Retry-After each time: {:?}",
        clock.sleeps_labelled()
    );
    world.assert_exactly_once();
}

#[tokio::test]
async fn a_429_with_only_a_reset_time_waits_until_the_reset() {
    let world = common::one_hire_world();
    world.sim.inject(FaultRule::new(
        Endpoint::CreatePerson,
        Fault::RateLimitedUntil { reset_in_secs: 40 },
    ));
    let real = std::time::Instant::now();
    let (report, clock) = pass_on_a_virtual_clock(&world).await;
    // The virtual clock's wall time stands still while nobody sleeps, and the simulator's
    // reset is real time: the real time the pass took adds to the wait.
    let real = real.elapsed();
    assert_eq!(report.summary.completed, 1);
    let pauses = clock.sleeps_for(WaitReason::RateLimited);
    // The reset is whole epoch seconds: between 39 and 41 s from the 429, plus a margin.
    assert!(
        matches!(pauses.as_slice(), [wait] if *wait >= Duration::from_secs(39) && *wait <= Duration::from_secs(42) + real),
        "{:?}",
        clock.sleeps_labelled()
    );
}

#[tokio::test]
async fn a_429_without_any_hint_backs_off_exponentially_with_capped_jitter() {
    let world = common::one_hire_world();
    // A bare 429: no Retry-After, no X-RateLimit headers.
    world
        .sim
        .inject(FaultRule::new(Endpoint::CreatePerson, Fault::Status(429)).times(4));
    let (report, clock) = pass_on_a_virtual_clock(&world).await;
    assert_eq!(report.summary.completed, 1);
    assert_eq!(report.summary.http.rate_limited, 4);
    // Only the backoffs after the 429s: a pacing wait the gate happens to need between two
    // requests (scheduling decides whether one occurs) is not one of them.
    let backoffs = clock.sleeps_for(WaitReason::RateLimited);
    assert_eq!(backoffs.len(), 4, "{:?}", clock.sleeps_labelled());
    for (attempt, wait) in backoffs.iter().enumerate() {
        let ceiling = Duration::from_millis(250) * (1 << attempt);
        assert!(
            *wait <= ceiling,
            "attempt {attempt}: {wait:?} > {ceiling:?}"
        );
    }
}

#[tokio::test]
async fn a_fresh_backfill_costs_at_most_3_1_calls_per_hire_with_a_cv() {
    let world = World::new(with_cvs(60, 9));
    let (report, _) = pass_on_a_virtual_clock(&world).await;
    assert_eq!(report.summary.completed, 60);
    let per_hire = report.summary.calls_per_hire().unwrap();
    assert!(per_hire <= 3.1, "{per_hire} calls per hire");
    // The simulator agrees (HiBob's own fetch of the CV is not our call).
    let ours = world
        .sim
        .calls()
        .iter()
        .filter(|c| c.endpoint != Endpoint::DownloadFile)
        .count();
    assert_eq!(ours as u64, report.summary.http.requests);
    assert_eq!(
        world.sim.count(Endpoint::ListDocuments),
        0,
        "no listing for our own employees"
    );
    assert_eq!(
        world.sim.count(Endpoint::GetApplication),
        0,
        "the listing carried the attachments"
    );
}

#[test]
fn thirty_percent_failing_requests_still_converge_with_no_duplicate() {
    let world = World::new(with_cvs(40, 13));
    let hired = world.sim.applications();
    for (i, app) in hired.iter().enumerate() {
        if i % 10 >= 3 {
            continue;
        }
        // For 30% of hires every write fails once: some after committing (ambiguous),
        // some before; reads fail too.
        world.sim.inject(
            FaultRule::new(Endpoint::CreatePerson, Fault::CommitThenStatus(502))
                .matching(app.email.clone()),
        );
        world.sim.inject(
            FaultRule::new(Endpoint::UploadDocument, Fault::Status(503)).matching(app.id.clone()),
        );
        world.sim.inject(
            FaultRule::new(Endpoint::PostComment, Fault::CommitThenStatus(500))
                .matching(app.id.clone()),
        );
    }
    world
        .sim
        .inject(FaultRule::new(Endpoint::SearchPeople, Fault::Status(500)).times(2));
    let mut syncs = 1;
    while world.sync().code() != 0 {
        syncs += 1;
        assert!(syncs <= 6, "did not converge");
    }
    world.assert_exactly_once();
    assert!(world.entries().iter().all(|e| e.status == HireStatus::Done));
}

#[test]
fn a_refused_token_costs_one_request_even_with_concurrency() {
    let world = World::with(
        with_cvs(20, 2),
        Settings {
            sync: "hired_since = \"2000-01-01\"\nconcurrency = 8".into(),
            ..Settings::default()
        },
    );
    world
        .sim
        .inject(FaultRule::new(Endpoint::CreatePerson, Fault::Status(401)).times(100));
    world.sync().expect(3);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
    let parked = world
        .entries()
        .iter()
        .filter(|e| e.status == HireStatus::NeedsAttention)
        .count();
    assert_eq!(parked, 1, "only the hire that met the 401 is parked");
}

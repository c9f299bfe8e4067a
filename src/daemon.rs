//! The long-running loop behind `hirebridge run`: a pass at start, then one per scheduled
//! tick, until shutdown.
//!
//! Owns scheduling and shutdown, not the work: passes are the reconciler's. Ticks that arrive
//! while a pass runs coalesce into one follow-up pass, so a slow pass never queues a backlog.
//! Shutdown is checked between steps, so the step in flight always finishes and is recorded.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;

use crate::config::Schedule;
use crate::ledger::LedgerError;
use crate::reconcile::Reconciler;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("the scheduler failed: {0}; check schedule.every / schedule.cron")]
    Scheduler(#[from] JobSchedulerError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Runs passes on `schedule` until `shutdown` is cancelled. Returns after the pass in flight
/// (if any) has stopped at a step boundary.
pub async fn run(
    mut reconciler: Reconciler,
    schedule: &Schedule,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    let (tick_tx, mut tick_rx) = mpsc::channel::<()>(1);
    let mut scheduler = JobScheduler::new().await?;
    let job = {
        let tick = move || {
            let tx = tick_tx.clone();
            Box::pin(async move {
                // A full channel means a pass is already owed: this tick coalesces into it.
                let _ = tx.try_send(());
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        };
        match schedule {
            Schedule::Every(every) => Job::new_repeated_async(*every, move |_, _| tick())?,
            Schedule::Cron(expr) => Job::new_async(expr.as_str(), move |_, _| tick())?,
        }
    };
    scheduler.add(job).await?;
    scheduler.start().await?;
    tracing::info!(schedule = ?schedule, "hirebridge is running");

    let mut trigger = "startup";
    loop {
        let started = std::time::Instant::now();
        let report = reconciler.run_pass(trigger, &shutdown).await?;
        tracing::info!(
            pass = report.pass.0,
            seconds = started.elapsed().as_secs_f64(),
            "{}",
            report.one_line()
        );
        trigger = "schedule";
        tokio::select! {
            _ = shutdown.cancelled() => break,
            tick = tick_rx.recv() => if tick.is_none() { break },
        }
    }
    tracing::info!("shutting down");
    // Bounded: the scheduler's own shutdown must not hold the exit hostage.
    let _ = tokio::time::timeout(Duration::from_secs(5), scheduler.shutdown()).await;
    Ok(())
}

/// Cancels `token` on the first SIGTERM or SIGINT; exits the process at once on the second.
pub fn install_signal_handlers(token: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let mut received = 0;
        loop {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            received += 1;
            if received == 1 {
                tracing::info!(
                    "stop requested: finishing the step in flight (signal again to exit at once)"
                );
                token.cancel();
            } else {
                tracing::warn!("second stop signal: exiting now");
                std::process::exit(130);
            }
        }
    });
    Ok(())
}

//! The long-running loop behind `hirebridge run`: a pass at start, then one per scheduled
//! tick, until shutdown; SIGHUP re-reads the configuration between passes.
//!
//! Owns scheduling, reload and shutdown, not the work: passes are the reconciler's. Ticks that
//! arrive while a pass runs coalesce into one follow-up pass, so a slow pass never queues a
//! backlog. Shutdown is checked between steps, so the step in flight always finishes and is
//! recorded. The service manager hears from this loop itself ([`Notifier`]): readiness, each
//! pass's summary, and watchdog pings while idle and after every page and hire of a pass, so a
//! loop stuck anywhere stops the pings.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError, Schedule};
use crate::ledger::LedgerError;
use crate::reconcile::{Reconciler, Stop};
use crate::service::Notifier;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("the scheduler failed: {0}; check schedule.every / schedule.cron")]
    Scheduler(#[from] JobSchedulerError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("cannot listen for SIGHUP: {0}; run hirebridge where it may handle signals")]
    Signal(std::io::Error),
}

/// Why a SIGHUP did not take effect. The daemon keeps running on the previous configuration.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(
        "config reload refused: {0}; still running on the previous configuration: fix the file and send SIGHUP again (systemctl reload)"
    )]
    Config(#[from] ConfigError),
    #[error(
        "config reload refused: ledger.path changed from {from} to {to}; a running daemon keeps its ledger: restart hirebridge to use the new path (still running on the previous configuration)"
    )]
    LedgerMoved { from: PathBuf, to: PathBuf },
    #[error(
        "config reload refused: the new schedule cannot be started: {0}; still running on the previous configuration"
    )]
    Scheduler(#[from] JobSchedulerError),
    #[error(
        "config reload refused: cannot build the HTTP client: {0}; still running on the previous configuration"
    )]
    Http(#[from] reqwest::Error),
}

/// Runs passes on `config.schedule` until `shutdown` is cancelled, re-reading `config_path`
/// on SIGHUP. Returns after the pass in flight (if any) has stopped at a step boundary.
pub async fn run(
    mut reconciler: Reconciler,
    config: Config,
    config_path: &Path,
    notifier: Arc<Notifier>,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered before READY=1, so a reload request can never kill the process.
    let mut hangup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
    let (tick_tx, mut tick_rx) = mpsc::channel::<()>(1);
    let scheduler = start_scheduler(&config.schedule, &tick_tx).await?;
    {
        // Proof of life from inside a pass: after every page and every hire, rate-limited.
        let notifier = notifier.clone();
        reconciler.set_progress(Arc::new(move |_| notifier.watchdog_if_due()));
    }
    let mut daemon = Daemon {
        reconciler,
        config,
        config_path: config_path.to_owned(),
        scheduler,
        tick_tx,
        notifier: notifier.clone(),
        last_pass: String::new(),
    };
    tracing::info!(schedule = ?daemon.config.schedule, "hirebridge is running");
    notifier.ready("first pass running");

    let mut watchdog = notifier.watchdog_interval().map(|every| {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    let mut trigger = "startup";
    let mut refused = CredentialHold::default();
    'passes: loop {
        let started = std::time::Instant::now();
        let report = daemon.reconciler.run_pass(trigger, &shutdown).await?;
        refused.after_pass(matches!(report.stopped, Some(Stop::Unauthorized(_))));
        daemon.last_pass = report.one_line();
        tracing::info!(
            pass = report.pass.0,
            seconds = started.elapsed().as_secs_f64(),
            "{}",
            daemon.last_pass
        );
        notifier.status(&daemon.last_pass);
        notifier.watchdog();
        trigger = "schedule";
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break 'passes,
                tick = tick_rx.recv() => match tick {
                    Some(()) if refused.holds() => tracing::info!(
                        retry_in_secs = refused.remaining().as_secs(),
                        "skipping this pass: an API refused hirebridge's credentials; fix them and send SIGHUP (systemctl reload) to try at once"
                    ),
                    Some(()) => break,
                    None => break 'passes,
                },
                _ = hangup.recv() => {
                    daemon.reload().await;
                    // The credentials may have been fixed: try them at the next tick.
                    refused = CredentialHold::default();
                }
                _ = next_ping(&mut watchdog) => notifier.watchdog(),
            }
        }
    }
    tracing::info!("shutting down");
    notifier.stopping("stopping");
    // Bounded: the scheduler's own shutdown must not hold the exit hostage.
    let _ = tokio::time::timeout(Duration::from_secs(5), daemon.scheduler.shutdown()).await;
    Ok(())
}

/// After a pass stopped on a refused credential, the daemon waits 5 minutes before trying
/// again, doubling up to an hour: HiBob may block an IP that keeps failing authentication,
/// and nothing changes until a person fixes the credential (a SIGHUP tries again at once).
#[derive(Debug, Default)]
struct CredentialHold {
    refusals: u32,
    until: Option<std::time::Instant>,
}

impl CredentialHold {
    const FIRST: Duration = Duration::from_secs(300);
    const LONGEST: Duration = Duration::from_secs(3600);

    fn after_pass(&mut self, refused: bool) {
        if !refused {
            *self = Self::default();
            return;
        }
        self.refusals += 1;
        let hold = Self::FIRST
            .saturating_mul(1 << (self.refusals - 1).min(8))
            .min(Self::LONGEST);
        tracing::error!(
            retry_in_secs = hold.as_secs(),
            "credentials refused; passes are held back until then (or a SIGHUP)"
        );
        self.until = Some(std::time::Instant::now() + hold);
    }

    fn holds(&self) -> bool {
        self.until.is_some_and(|u| u > std::time::Instant::now())
    }

    fn remaining(&self) -> Duration {
        self.until
            .map(|u| u.saturating_duration_since(std::time::Instant::now()))
            .unwrap_or_default()
    }
}

/// What the loop owns between passes.
struct Daemon {
    reconciler: Reconciler,
    config: Config,
    config_path: PathBuf,
    scheduler: JobScheduler,
    tick_tx: mpsc::Sender<()>,
    notifier: Arc<Notifier>,
    last_pass: String,
}

impl Daemon {
    /// Re-reads the configuration (and the secrets it names). Applied whole or not at all.
    async fn reload(&mut self) {
        tracing::info!(config = %self.config_path.display(), "SIGHUP: reloading the configuration");
        self.notifier.reloading();
        let status = match self.try_reload().await {
            Ok(()) => {
                tracing::info!(schedule = ?self.config.schedule, "configuration reloaded");
                format!("configuration reloaded; last pass: {}", self.last_pass)
            }
            Err(e) => {
                tracing::error!("{e}");
                format!(
                    "configuration reload refused, running on the previous one (see the journal); last pass: {}",
                    self.last_pass
                )
            }
        };
        self.notifier.ready(&status);
    }

    async fn try_reload(&mut self) -> Result<(), ReloadError> {
        let new = Config::load(&self.config_path)?;
        if new.ledger.path != self.config.ledger.path {
            return Err(ReloadError::LedgerMoved {
                from: self.config.ledger.path.clone(),
                to: new.ledger.path,
            });
        }
        let new_scheduler = if new.schedule != self.config.schedule {
            Some(start_scheduler(&new.schedule, &self.tick_tx).await?)
        } else {
            None
        };
        if let Err(e) = self.reconciler.reconfigure(&new) {
            if let Some(mut s) = new_scheduler {
                let _ = tokio::time::timeout(Duration::from_secs(5), s.shutdown()).await;
            }
            return Err(e.into());
        }
        if let Some(s) = new_scheduler {
            let mut old = std::mem::replace(&mut self.scheduler, s);
            let _ = tokio::time::timeout(Duration::from_secs(5), old.shutdown()).await;
        }
        self.config = new;
        Ok(())
    }
}

/// A scheduler whose every tick lands in `tick_tx`.
async fn start_scheduler(
    schedule: &Schedule,
    tick_tx: &mpsc::Sender<()>,
) -> Result<JobScheduler, JobSchedulerError> {
    let scheduler = JobScheduler::new().await?;
    let tick_tx = tick_tx.clone();
    let tick = move || {
        let tx = tick_tx.clone();
        Box::pin(async move {
            // A full channel means a pass is already owed: this tick coalesces into it.
            let _ = tx.try_send(());
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
    };
    let job = match schedule {
        Schedule::Every(every) => Job::new_repeated_async(*every, move |_, _| tick())?,
        Schedule::Cron(expr) => Job::new_async(expr.as_str(), move |_, _| tick())?,
    };
    scheduler.add(job).await?;
    scheduler.start().await?;
    Ok(scheduler)
}

/// The next watchdog ping while idle; never, when the manager runs no watchdog.
async fn next_ping(watchdog: &mut Option<tokio::time::Interval>) {
    match watchdog {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
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

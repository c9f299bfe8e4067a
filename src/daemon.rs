//! The long-running loop behind `hirebridge run`: a pass at start, then one per scheduled
//! tick, until shutdown; SIGHUP re-reads the configuration between passes.
//!
//! Owns scheduling, reload and shutdown, not the work: passes are the reconciler's. Ticks that
//! arrive while a pass runs coalesce into one follow-up pass, so a slow pass never queues a
//! backlog. Shutdown is checked between steps, so the step in flight always finishes and is
//! recorded. The service manager hears from this loop itself ([`Notifier`]): readiness, each
//! pass's summary, and watchdog pings while idle and after every page and hire of a pass, so a
//! loop stuck anywhere stops the pings.
//!
//! With `[webhook]` configured it also runs the listener ([`crate::webhook`]) and a few nudge
//! workers that take application ids off the [`NudgeQueue`] and reconcile each one through a
//! [`Nudger`] — the same ledger, clients, gates and claims as the passes, so a nudge runs
//! while a long pass is in progress yet never works a hire the pass holds. A reload hands the
//! workers the new nudger. One shutdown stops all of it: the listener stops accepting, every
//! task finishes its step in flight.
//!
//! With `[plugin]` configured it also serves Pinpoint's "Send to HiBob" action
//! ([`crate::plugin`]) on its own listener, through the same nudger.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError, Schedule, WebhookConfig};
use crate::hire::ApplicationId;
use crate::ledger::LedgerError;
use crate::monitor::Monitor;
use crate::nudge_queue::NudgeQueue;
use crate::reconcile::{NudgeOutcome, Nudger, Reconciler, Stop};
use crate::service::Notifier;
use crate::webhook::{self, ListenerState, SigningSecret, WebhookError};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("the scheduler failed: {0}; check schedule.every / schedule.cron")]
    Scheduler(#[from] JobSchedulerError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("cannot listen for SIGHUP: {0}; run hirebridge where it may handle signals")]
    Signal(std::io::Error),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error(transparent)]
    Plugin(#[from] crate::plugin::PluginError),
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
        "config reload refused: webhook.listen or webhook.allow_unsigned changed; a running daemon keeps its listener: restart hirebridge to apply it (still running on the previous configuration)"
    )]
    ListenerChanged,
    #[error(
        "config reload refused: plugin.listen was added, removed or changed; a running daemon keeps its listener: restart hirebridge to apply it (still running on the previous configuration)"
    )]
    PluginListenerChanged,
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
    let hangup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
    let (tick_tx, tick_rx) = mpsc::channel::<()>(1);
    let scheduler = start_scheduler(&config.schedule, &tick_tx).await?;
    {
        // Proof of life from inside a pass: after every page and every hire, rate-limited.
        let notifier = notifier.clone();
        reconciler.set_progress(Arc::new(move |_| notifier.watchdog_if_due()));
    }
    let monitor = Arc::new(Monitor::new(config.schedule.clone(), chrono::Utc::now()));
    let (nudger_tx, nudger_rx) = watch::channel(reconciler.nudger());
    let secret = SigningSecret::new(config.webhook.as_ref().and_then(|w| w.secret.clone()));
    // Bound before READY=1: a taken port fails the start, naming webhook.listen.
    let mut background = Background {
        tasks: Vec::new(),
        nudger: nudger_rx,
        monitor: monitor.clone(),
        shutdown: shutdown.clone(),
    };
    if let Some(webhook_config) = &config.webhook {
        let workers = config.sync.concurrency.max(1);
        background
            .start_webhook(webhook_config, &secret, &tick_tx, workers)
            .await?;
    }
    let plugin_settings = match &config.plugin {
        Some(plugin_config) => Some(background.start_plugin(plugin_config).await?),
        None => None,
    };
    let notifications = background.start_notifications(&config, &reconciler);
    let mut daemon = Daemon {
        reconciler,
        config,
        config_path: config_path.to_owned(),
        scheduler,
        tick_tx,
        notifier: notifier.clone(),
        last_pass: String::new(),
        nudger_tx,
        monitor,
        secret,
        plugin_settings,
        notifications,
    };
    tracing::info!(schedule = ?daemon.config.schedule, "hirebridge is running");
    notifier.ready("first pass running");
    daemon.run_passes(hangup, tick_rx, &shutdown).await?;
    tracing::info!("shutting down");
    notifier.stopping("stopping");
    // The listener stops accepting and the nudge workers finish their step in flight; both
    // watch the same shutdown token as the pass.
    background.join().await;
    // Bounded: the scheduler's own shutdown must not hold the exit hostage.
    let _ = tokio::time::timeout(Duration::from_secs(5), daemon.scheduler.shutdown()).await;
    Ok(())
}

/// The tasks that run beside the passes (the listeners and the nudge workers), and what they
/// share: the current nudger, the metrics and the one shutdown.
struct Background {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    nudger: watch::Receiver<Nudger>,
    monitor: Arc<Monitor>,
    shutdown: CancellationToken,
}

impl Background {
    /// The webhook listener (and its metrics listener) and `workers` nudge workers fed by it.
    async fn start_webhook(
        &mut self,
        webhook_config: &WebhookConfig,
        secret: &SigningSecret,
        early_pass: &mpsc::Sender<()>,
        workers: usize,
    ) -> Result<(), DaemonError> {
        let listener = webhook::bind("webhook.listen", webhook_config.listen).await?;
        let monitoring = match webhook_config.metrics_listen {
            Some(addr) => Some(webhook::bind("webhook.metrics_listen", addr).await?),
            None => None,
        };
        let limits = crate::listener::fit_to_fd_limit(
            webhook_config.limits,
            1 + usize::from(monitoring.is_some()),
        );
        let queue = Arc::new(NudgeQueue::default());
        let state = ListenerState {
            secret: secret.clone(),
            queue: queue.clone(),
            monitor: self.monitor.clone(),
            nudger: self.nudger.clone(),
        };
        tracing::info!(
            listen = %webhook_config.listen,
            metrics_listen = ?webhook_config.metrics_listen,
            signed = webhook_config.secret.is_some(),
            max_connections = limits.max_connections,
            "listening for Pinpoint webhooks"
        );
        let stop = self.shutdown.clone();
        self.tasks.push(tokio::spawn(async move {
            webhook::serve(listener, monitoring, state, limits, stop).await;
        }));
        for _ in 0..workers {
            self.tasks.push(tokio::spawn(nudge_worker(
                queue.clone(),
                self.nudger.clone(),
                self.monitor.clone(),
                early_pass.clone(),
                self.shutdown.clone(),
            )));
        }
        Ok(())
    }

    /// The plugin: its own listener, the same nudger (ledger, clients, claims) as the
    /// webhooks. Returns the handle a reload replaces its settings through.
    async fn start_plugin(
        &mut self,
        plugin_config: &crate::config::PluginConfig,
    ) -> Result<Arc<std::sync::RwLock<crate::plugin::PluginSettings>>, DaemonError> {
        let listener = crate::plugin::bind(plugin_config.listen).await?;
        let state = crate::plugin::PluginState::new(
            crate::plugin::PluginSettings::of(plugin_config),
            self.nudger.clone(),
            self.monitor.clone(),
            self.shutdown.clone(),
        );
        let settings = state.settings_handle();
        let limits = crate::listener::fit_to_fd_limit(plugin_config.limits, 1);
        tracing::info!(
            listen = %plugin_config.listen,
            keyed = plugin_config.key.is_some(),
            "serving Pinpoint's \"Send to HiBob\" plugin"
        );
        let stop = self.shutdown.clone();
        self.tasks.push(tokio::spawn(async move {
            crate::plugin::serve(listener, state, limits, stop).await;
        }));
        Ok(settings)
    }

    /// Waits for every task to finish its step in flight (they watch the shutdown token).
    /// The notifications' sender (`[notify]`), beside the passes: it sends what they put in
    /// the outbox. Returns what wakes it; `None` without `[notify]`. Its channels are the
    /// ones configured at startup (a reload changes what is announced, a restart the channels).
    fn start_notifications(
        &mut self,
        config: &Config,
        reconciler: &Reconciler,
    ) -> Option<Arc<tokio::sync::Notify>> {
        let notify = config.notify.as_ref()?;
        let channels = crate::notify::channels(notify, config.http.request_timeout);
        let monitor = self.monitor.clone();
        let on_result: crate::notify::sender::OnResult =
            Arc::new(move |channel, result| monitor.notification(channel, result.as_str()));
        let sender =
            crate::notify::sender::Sender::new(reconciler.ledger_handle(), channels, on_result);
        let wake = Arc::new(tokio::sync::Notify::new());
        self.tasks.push(tokio::spawn(
            sender.run(wake.clone(), self.shutdown.clone()),
        ));
        Some(wake)
    }

    async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Takes application ids off the queue and reconciles each through the current nudger,
/// until shutdown. A nudge never runs twice at once for one id (the queue) nor beside a pass
/// working the same hire (the claims). A nudge whose application could not be proven hired
/// asks for a pass now (`early_pass`): its listing is what can prove it. Requests made while
/// one is pending merge into it.
async fn nudge_worker(
    queue: Arc<NudgeQueue>,
    nudger: watch::Receiver<Nudger>,
    monitor: Arc<Monitor>,
    early_pass: mpsc::Sender<()>,
    shutdown: CancellationToken,
) {
    loop {
        let id = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            id = queue.next() => id,
        };
        // The handle current now: a reload between two nudges is picked up at the next one.
        let current = nudger.borrow().clone();
        let outcome = current
            .reconcile_one(&ApplicationId::from(id.as_str()), &shutdown)
            .await;
        queue.finish(&id);
        match outcome {
            Ok(outcome) => {
                tracing::info!(application = %id, outcome = outcome.as_str(), "webhook nudge handled");
                monitor.nudge(outcome.as_str());
                if outcome == NudgeOutcome::Unproven {
                    let _ = early_pass.try_send(());
                }
            }
            Err(e) => {
                tracing::error!(application = %id, error = %e, "webhook nudge stopped: the ledger failed");
                monitor.nudge("ledger_error");
            }
        }
    }
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
    /// Hands the nudge workers the reconciler's current parts after a reload.
    nudger_tx: watch::Sender<Nudger>,
    monitor: Arc<Monitor>,
    secret: SigningSecret,
    /// The plugin's key, name and link, replaced on a reload.
    plugin_settings: Option<Arc<std::sync::RwLock<crate::plugin::PluginSettings>>>,
    /// Wakes the notifications' sender after a pass (`[notify]`); `None` without it.
    notifications: Option<Arc<tokio::sync::Notify>>,
}

impl Daemon {
    /// A pass at start, then one per tick (ticks held back while credentials are refused),
    /// until shutdown; between passes a SIGHUP reloads and the watchdog is pinged.
    async fn run_passes(
        &mut self,
        mut hangup: tokio::signal::unix::Signal,
        mut tick_rx: mpsc::Receiver<()>,
        shutdown: &CancellationToken,
    ) -> Result<(), DaemonError> {
        let mut watchdog = self.notifier.watchdog_interval().map(|every| {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        });
        let mut trigger = "startup";
        let mut refused = CredentialHold::default();
        loop {
            self.pass(trigger, shutdown, &mut refused).await?;
            trigger = "schedule";
            loop {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => return Ok(()),
                    tick = tick_rx.recv() => match tick {
                        Some(()) if refused.holds() => tracing::info!(
                            retry_in_secs = refused.remaining().as_secs(),
                            "skipping this pass: an API refused hirebridge's credentials; fix them and send SIGHUP (systemctl reload) to try at once"
                        ),
                        Some(()) => break,
                        None => return Ok(()),
                    },
                    _ = hangup.recv() => {
                        self.reload().await;
                        // The credentials may have been fixed: try them at the next tick.
                        refused = CredentialHold::default();
                    }
                    _ = next_ping(&mut watchdog) => self.notifier.watchdog(),
                }
            }
        }
    }

    /// One pass, then what follows it: the hold on refused credentials, the metrics, the
    /// summary in the journal and for the service manager, and the memory the pass freed.
    async fn pass(
        &mut self,
        trigger: &str,
        shutdown: &CancellationToken,
        refused: &mut CredentialHold,
    ) -> Result<(), DaemonError> {
        let started = std::time::Instant::now();
        let report = self.reconciler.run_pass(trigger, shutdown).await?;
        refused.after_pass(matches!(report.stopped, Some(Stop::Refused(_))));
        self.monitor.poll_finished(
            started.elapsed(),
            report.stopped.is_none(),
            chrono::Utc::now(),
        );
        self.last_pass = report.one_line();
        tracing::info!(
            pass = report.pass.0,
            seconds = started.elapsed().as_secs_f64(),
            "{}",
            self.last_pass
        );
        self.notifier.status(&self.last_pass);
        self.notifier.watchdog();
        if let Some(wake) = &self.notifications {
            wake.notify_one();
        }
        if let Err(e) = self.reconciler.ledger().release_memory() {
            tracing::debug!(error = %e, "the ledger's page cache was not freed");
        }
        give_back_freed_memory();
        Ok(())
    }
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
        if !WebhookConfig::same_listener(self.config.webhook.as_ref(), new.webhook.as_ref()) {
            return Err(ReloadError::ListenerChanged);
        }
        if !crate::config::PluginConfig::same_listener(
            self.config.plugin.as_ref(),
            new.plugin.as_ref(),
        ) {
            return Err(ReloadError::PluginListenerChanged);
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
        self.nudger_tx.send_replace(self.reconciler.nudger());
        self.monitor.set_schedule(new.schedule.clone());
        self.secret
            .replace(new.webhook.as_ref().and_then(|w| w.secret.clone()));
        if let (Some(handle), Some(plugin)) = (&self.plugin_settings, &new.plugin) {
            *handle.write().unwrap_or_else(|e| e.into_inner()) =
                crate::plugin::PluginSettings::of(plugin);
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

/// Hands the heap a pass freed back to the system: between passes the daemon idles for
/// minutes, and glibc would otherwise keep a pass's peak (its pages of JSON) resident.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

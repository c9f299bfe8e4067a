//! Time as the HTTP layer sees it: monotonic time for pacing, wall time for the servers'
//! `X-RateLimit-Reset`, and sleeping. Injectable so that waits can be tested without waiting.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Why a request waits: tests assert on the waits of one kind, never on every wait that
/// scheduling happened to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitReason {
    /// Spacing requests by the configured quota (governor): no answer asked for it.
    Pacing,
    /// The server's own window is spent (`X-RateLimit-Remaining` 0): waiting for its reset.
    WindowReset,
    /// A 429 paused the gate (`Retry-After`, `X-RateLimit-Reset`, or jittered backoff).
    RateLimited,
    /// A short jittered pause before a read is retried in place (timeout, 5xx).
    RetryBackoff,
}

pub trait Clock: Send + Sync + Debug {
    /// Monotonic time since the clock's origin.
    fn elapsed(&self) -> Duration;
    /// Wall-clock seconds since the Unix epoch.
    fn epoch_secs(&self) -> f64;
    fn sleep(&self, duration: Duration, reason: WaitReason) -> Sleep;
}

/// The real clock: tokio's timers and the system's wall time.
#[derive(Debug)]
pub struct SystemClock {
    origin: std::time::Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self {
            origin: std::time::Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }
    fn epoch_secs(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
    }
    fn sleep(&self, duration: Duration, _reason: WaitReason) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock whose sleeps return at once and move its time forward, recording each wait, so a
/// test can assert how long hirebridge *would* have waited — deterministically and instantly.
#[derive(Debug)]
pub struct VirtualClock {
    origin_epoch: f64,
    elapsed: Mutex<Duration>,
    sleeps: Mutex<Vec<(WaitReason, Duration)>>,
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self {
            origin_epoch: SystemClock::default().epoch_secs(),
            elapsed: Mutex::new(Duration::ZERO),
            sleeps: Mutex::new(Vec::new()),
        }
    }
}

impl VirtualClock {
    /// Every wait requested so far, in order, whatever its reason.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps_labelled().into_iter().map(|(_, d)| d).collect()
    }

    /// The waits requested for this reason, in order.
    pub fn sleeps_for(&self, reason: WaitReason) -> Vec<Duration> {
        self.sleeps_labelled()
            .into_iter()
            .filter(|(r, _)| *r == reason)
            .map(|(_, d)| d)
            .collect()
    }

    /// Every wait with its reason, in order.
    pub fn sleeps_labelled(&self) -> Vec<(WaitReason, Duration)> {
        self.sleeps.lock().expect("clock lock").clone()
    }

    /// Moves time forward without a sleep (time passing while nobody waits).
    pub fn advance(&self, by: Duration) {
        *self.elapsed.lock().expect("clock lock") += by;
    }
}

impl Clock for VirtualClock {
    fn elapsed(&self) -> Duration {
        *self.elapsed.lock().expect("clock lock")
    }
    fn epoch_secs(&self) -> f64 {
        self.origin_epoch + self.elapsed().as_secs_f64()
    }
    fn sleep(&self, duration: Duration, reason: WaitReason) -> Sleep {
        self.advance(duration);
        self.sleeps
            .lock()
            .expect("clock lock")
            .push((reason, duration));
        Box::pin(std::future::ready(()))
    }
}

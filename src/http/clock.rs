//! Time as the HTTP layer sees it: monotonic time for pacing, wall time for the servers'
//! `X-RateLimit-Reset`, and sleeping. Injectable so that waits can be tested without waiting.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Clock: Send + Sync + Debug {
    /// Monotonic time since the clock's origin.
    fn elapsed(&self) -> Duration;
    /// Wall-clock seconds since the Unix epoch.
    fn epoch_secs(&self) -> f64;
    fn sleep(&self, duration: Duration) -> Sleep;
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
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock whose sleeps return at once and move its time forward, recording each wait, so a
/// test can assert how long hirebridge *would* have waited — deterministically and instantly.
#[derive(Debug)]
pub struct VirtualClock {
    origin_epoch: f64,
    elapsed: Mutex<Duration>,
    sleeps: Mutex<Vec<Duration>>,
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
    /// Every wait requested so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
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
    fn sleep(&self, duration: Duration) -> Sleep {
        self.advance(duration);
        self.sleeps.lock().expect("clock lock").push(duration);
        Box::pin(std::future::ready(()))
    }
}

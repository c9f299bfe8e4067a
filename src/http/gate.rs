//! One gate per endpoint class (HiBob search, create, documents; Pinpoint), shared by every
//! task, that decides when the next request may leave.
//!
//! Three things hold a request back, in this order:
//! 1. a refused credential: after a 401/403 nothing more is sent to that API in this pass,
//!    and until a request has been accepted in this pass only one is in flight at a time, so
//!    a bad key costs exactly one request, never a burst;
//! 2. any pause a 429 imposed on everyone, and the server's own window
//!    (`X-RateLimit-Remaining` / `X-RateLimit-Reset`): when the server has told us what is
//!    left in its current window, that is the truth — use what remains, then wait for the
//!    reset, never more;
//! 3. when the server has said nothing (no headers, or its window is over), the configured
//!    quota — a hint — paced by governor with burst 1: the default burst of N would let
//!    almost 2N requests into one of the server's fixed windows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use reqwest::header::HeaderMap;

use super::clock::{Clock, WaitReason};
use super::{Api, ApiError};
use crate::config::RateLimit;

/// Margin added to the server's reset time: it is given in whole seconds, and our clock and
/// the server's are never exactly the same.
const RESET_MARGIN: Duration = Duration::from_millis(100);

/// The longest a request waits for a scout's answer before looking again.
const SCOUT_PATIENCE: Duration = Duration::from_secs(2);

/// governor reading our injectable clock, so its waits are testable too.
#[derive(Debug, Clone)]
struct GovernorTime(Arc<dyn Clock>);

impl GovernorClock for GovernorTime {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// Shared by every gate of one API: after a 401/403 nothing more is sent in this pass.
#[derive(Debug, Default)]
pub struct AuthBreaker {
    refused: Mutex<Option<ApiError>>,
}

impl AuthBreaker {
    fn refusal(&self) -> Option<ApiError> {
        self.refused.lock().expect("breaker lock").clone()
    }
    pub fn trip(&self, error: &ApiError) {
        let mut refused = self.refused.lock().expect("breaker lock");
        if refused.is_none() {
            *refused = Some(error.clone());
        }
    }
    pub fn reset(&self) {
        *self.refused.lock().expect("breaker lock") = None;
    }
}

enum WindowSays {
    Wait(Duration, WaitReason),
    /// The server said its current window has room for one more.
    Room,
    /// The server has never spoken of its windows: pace by the configured quota.
    Unknown,
    /// The server speaks of its windows, but the one it described is over: send one request
    /// (paced by the quota) to learn the new window before anyone else goes — otherwise a
    /// generous configured quota would let a burst into the new window.
    NeedScout,
    /// By our count the window is spent, but answers still in flight may show we counted
    /// too cautiously: wait for the next answer rather than for the reset.
    AwaitAnswer,
}

/// What we know of the server's current window.
///
/// The server counts requests in arrival order and each answer says what remained after it,
/// so the lowest number heard in a window is the latest count; answers arriving later with a
/// higher number are stale. Requests still in flight may or may not be in that count, so room
/// is `server_min - in_flight - unreported`: never more than the truth, and exact once every
/// answer is in.
#[derive(Debug, Default)]
struct Window {
    /// The lowest `X-RateLimit-Remaining` heard in the current window.
    server_min: Option<u32>,
    /// When the server's current window ends (epoch seconds).
    reset_at: Option<f64>,
    /// Nobody sends before this (clock time), after a 429.
    paused_until: Option<Duration>,
    /// Sent and not yet answered.
    in_flight: u32,
    /// Answered since `server_min` was heard, but without rate-limit headers: assume counted.
    unreported: u32,
    /// The server has sent rate-limit headers at least once.
    speaks: bool,
    /// A request is out to learn the server's new window.
    scout_out: bool,
}

pub struct Gate {
    pub api: Api,
    pub name: &'static str,
    clock: Arc<dyn Clock>,
    limiter: RateLimiter<NotKeyed, InMemoryState, GovernorTime, NoOpMiddleware<Duration>>,
    window: Mutex<Window>,
    /// One request at a time until one has been accepted in this pass.
    probe: tokio::sync::Semaphore,
    proven: AtomicBool,
    /// Woken on every answer: tasks waiting for a scout to learn the new window.
    answered: tokio::sync::Notify,
    auth: Arc<AuthBreaker>,
    /// The longest a request waits here; beyond it the caller gets a retryable error.
    max_wait: Duration,
    /// The configured quota, to tell whether a reloaded configuration changed this gate.
    rate: RateLimit,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").field("name", &self.name).finish()
    }
}

/// Held while a request is in flight. [`Ticket::answered`] hands the answer back to the gate;
/// dropping it unanswered (a cancelled request) just frees the slot.
pub struct Ticket<'a> {
    gate: &'a Gate,
    _probe: Option<tokio::sync::SemaphorePermit<'a>>,
    counted: bool,
    /// This request was sent to learn the server's new window.
    scout: bool,
}

impl Ticket<'_> {
    /// Learns from the answer (status 0: none came) — the server's window, a 429's pause,
    /// whether the credentials were accepted — and frees the slot, all under one lock so no
    /// other task sees the request both in flight and counted by the server.
    pub fn answered(mut self, status: u16, headers: &HeaderMap, pause: Option<Duration>) {
        self.gate.learn(status, headers, pause, self.scout);
        self.counted = false;
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.counted {
            let mut w = self.gate.window.lock().expect("gate lock");
            w.in_flight = w.in_flight.saturating_sub(1);
            if self.scout {
                w.scout_out = false;
            }
            drop(w);
            self.gate.answered.notify_waiters();
        }
    }
}

impl Gate {
    pub fn new(
        api: Api,
        name: &'static str,
        rate: RateLimit,
        clock: Arc<dyn Clock>,
        auth: Arc<AuthBreaker>,
        max_wait: Duration,
    ) -> Self {
        let spacing = (rate.period / rate.count).max(Duration::from_nanos(1));
        let quota = Quota::with_period(spacing)
            .expect("a positive period")
            .allow_burst(std::num::NonZeroU32::MIN);
        Self {
            rate,
            api,
            name,
            limiter: RateLimiter::direct_with_clock(quota, GovernorTime(clock.clone())),
            clock,
            window: Mutex::new(Window::default()),
            probe: tokio::sync::Semaphore::new(1),
            proven: AtomicBool::new(false),
            answered: tokio::sync::Notify::new(),
            auth,
            max_wait,
        }
    }

    /// Whether this gate paces exactly as `other` would: then a configuration reload keeps
    /// this one, and with it what the server said of its current window.
    pub fn same_settings(&self, other: &Gate) -> bool {
        self.api == other.api
            && self.name == other.name
            && self.rate == other.rate
            && self.max_wait == other.max_wait
    }

    /// A new pass: credentials may have been fixed, so try again — carefully.
    pub fn begin_pass(&self) {
        self.proven.store(false, Ordering::SeqCst);
        self.auth.reset();
    }

    pub fn trip_breaker(&self, error: &ApiError) {
        self.auth.trip(error);
    }

    /// What the 429 pause and the server's window say about sending now.
    fn window(&self) -> WindowSays {
        let now = self.clock.elapsed();
        let epoch = self.clock.epoch_secs();
        let mut w = self.window.lock().expect("gate lock");
        if let Some(until) = w.paused_until {
            if until > now {
                return WindowSays::Wait(until - now, WaitReason::RateLimited);
            }
            w.paused_until = None;
        }
        match (w.server_min, w.reset_at) {
            (Some(server_min), Some(reset)) if reset > epoch => {
                if server_min > w.in_flight + w.unreported {
                    // Counted now, under the lock, so concurrent tasks cannot share one slot.
                    w.in_flight += 1;
                    WindowSays::Room
                } else if w.in_flight > 0 {
                    WindowSays::AwaitAnswer
                } else {
                    WindowSays::Wait(
                        Duration::from_secs_f64(reset - epoch) + RESET_MARGIN,
                        WaitReason::WindowReset,
                    )
                }
            }
            (_, Some(_)) => {
                // The window the numbers described is over.
                w.server_min = None;
                w.reset_at = None;
                w.unreported = 0;
                WindowSays::NeedScout
            }
            _ if w.speaks => WindowSays::NeedScout,
            _ => WindowSays::Unknown,
        }
    }

    /// Claims the one scout slot for a window nobody has described yet.
    fn claim_scout(&self) -> bool {
        let mut w = self.window.lock().expect("gate lock");
        if w.scout_out {
            return false;
        }
        w.scout_out = true;
        true
    }

    /// Waits until a request may leave. Fails fast after a refused credential, and with a
    /// retryable error when the server asks for a wait longer than `max_wait`.
    pub async fn acquire(&self) -> Result<Ticket<'_>, ApiError> {
        let probe = if self.proven.load(Ordering::SeqCst) {
            None
        } else {
            Some(
                self.probe
                    .acquire()
                    .await
                    .expect("the probe semaphore is never closed"),
            )
        };
        let mut scout = false;
        let mut counted = false;
        loop {
            if let Some(refusal) = self.auth.refusal() {
                return Err(ApiError::Halted {
                    api: self.api,
                    reason: refusal.to_string(),
                });
            }
            // Registered before looking, so an answer arriving in between is not missed.
            let answered = self.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            let (wait, reason) = match self.window() {
                // The server vouches for the room: its word beats our configured hint.
                WindowSays::Room => {
                    counted = true;
                    break;
                }
                WindowSays::Wait(wait, reason) => (wait, reason),
                WindowSays::Unknown => match self.limiter.check() {
                    Ok(()) => break,
                    Err(not_until) => (
                        not_until.wait_time_from(self.clock.elapsed()),
                        WaitReason::Pacing,
                    ),
                },
                WindowSays::AwaitAnswer => {
                    let _ = tokio::time::timeout(SCOUT_PATIENCE, answered).await;
                    continue;
                }
                WindowSays::NeedScout => match self.limiter.check() {
                    Ok(()) if self.claim_scout() => {
                        scout = true;
                        break;
                    }
                    Ok(()) => {
                        // Another request is learning the new window: wait for its answer
                        // (bounded, in case it never comes).
                        let _ = tokio::time::timeout(SCOUT_PATIENCE, answered).await;
                        continue;
                    }
                    Err(not_until) => (
                        not_until.wait_time_from(self.clock.elapsed()),
                        WaitReason::Pacing,
                    ),
                },
            };
            {
                if wait > self.max_wait {
                    return Err(ApiError::Retryable {
                        api: self.api,
                        endpoint: self.name,
                        after: Some(wait),
                        reason: format!(
                            "the server's rate-limit window resets in {}s, longer than http.max_rate_limit_wait",
                            wait.as_secs()
                        ),
                    });
                }
                self.clock.sleep(wait, reason).await;
            }
        }
        if !counted {
            self.window.lock().expect("gate lock").in_flight += 1;
        }
        // Keep the probe permit only while unproven; once proven, others may go in parallel.
        let probe = if self.proven.load(Ordering::SeqCst) {
            None
        } else {
            probe
        };
        Ok(Ticket {
            gate: self,
            _probe: probe,
            counted: true,
            scout,
        })
    }

    fn learn(&self, status: u16, headers: &HeaderMap, pause: Option<Duration>, scout: bool) {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        let epoch = self.clock.epoch_secs();
        let mut w = self.window.lock().expect("gate lock");
        w.in_flight = w.in_flight.saturating_sub(1);
        if scout {
            w.scout_out = false;
        }
        if let (Some(remaining), Some(reset)) =
            (header("x-ratelimit-remaining"), header("x-ratelimit-reset"))
        {
            // A small reset is a delta in seconds, not an epoch.
            let reset_at = if reset > 1_000_000_000.0 {
                reset
            } else {
                epoch + reset
            };
            let remaining = remaining.max(0.0) as u32;
            match w.reset_at {
                // Within one window the lowest number is the latest count; a higher one
                // arriving later is stale and must not give back spent slots.
                Some(current) if (reset_at - current).abs() < 0.5 => {
                    if w.server_min.is_none_or(|m| remaining < m) {
                        w.server_min = Some(remaining);
                        w.unreported = 0;
                    }
                }
                // An answer about a window already replaced tells us nothing.
                Some(current) if reset_at < current => {}
                _ => {
                    w.server_min = Some(remaining);
                    w.reset_at = Some(reset_at);
                    w.unreported = 0;
                }
            }
            w.speaks = true;
        } else if w.server_min.is_some() {
            w.unreported += 1;
        }
        if let Some(pause) = pause {
            let until = self.clock.elapsed() + pause;
            w.paused_until = Some(w.paused_until.map_or(until, |u| u.max(until)));
        }
        drop(w);
        if !matches!(status, 401 | 403) && status < 500 && status != 0 {
            self.proven.store(true, Ordering::SeqCst);
        }
        self.answered.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::super::clock::VirtualClock;
    use super::*;
    use reqwest::header::HeaderValue;

    fn gate(clock: Arc<VirtualClock>, count: u32, period: Duration) -> Gate {
        Gate::new(
            Api::Hibob,
            "test",
            RateLimit { count, period },
            clock,
            Arc::new(AuthBreaker::default()),
            Duration::from_secs(120),
        )
    }

    fn window_headers(remaining: u32, reset: f64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&format!("{reset:.0}")).unwrap(),
        );
        h
    }

    #[tokio::test]
    async fn the_configured_quota_spaces_requests_evenly_with_no_burst() {
        let clock = Arc::new(VirtualClock::default());
        let g = gate(clock.clone(), 10, Duration::from_secs(2));
        for _ in 0..5 {
            let t = g.acquire().await.unwrap();
            t.answered(200, &HeaderMap::new(), None);
        }
        // First at once, then one every 200 ms: never more than 10 in any 2 s.
        assert_eq!(clock.sleeps(), vec![Duration::from_millis(200); 4]);
        assert_eq!(clock.sleeps_for(WaitReason::Pacing).len(), 4);
    }

    #[tokio::test]
    async fn an_exhausted_server_window_waits_for_its_reset() {
        let clock = Arc::new(VirtualClock::default());
        let g = gate(clock.clone(), 1000, Duration::from_secs(1));
        let reset = (clock.epoch_secs() + 5.0).ceil();
        let t = g.acquire().await.unwrap();
        t.answered(200, &window_headers(0, reset), None);
        g.acquire().await.unwrap();
        let waited: Duration = clock.sleeps().iter().sum();
        let expected = reset - (clock.epoch_secs() - waited.as_secs_f64());
        assert!(
            (waited.as_secs_f64() - expected - RESET_MARGIN.as_secs_f64()).abs() < 0.01,
            "waited {waited:?}, expected about {expected}s"
        );
    }

    #[tokio::test]
    async fn a_window_with_room_is_used_at_once_and_never_overfilled() {
        let clock = Arc::new(VirtualClock::default());
        // The configured hint is slow (1 per 10 s); the server says 3 remain.
        let g = gate(clock.clone(), 1, Duration::from_secs(10));
        let reset = (clock.epoch_secs() + 30.0).ceil();
        let first = g.acquire().await.unwrap();
        first.answered(200, &window_headers(3, reset), None);
        for _ in 0..3 {
            let t = g.acquire().await.unwrap();
            t.answered(200, &HeaderMap::new(), None);
        }
        assert!(clock.sleeps().is_empty(), "{:?}", clock.sleeps());
        // The window is spent (3 more went out): the next waits for the reset.
        g.acquire().await.unwrap();
        assert!(clock.sleeps()[0] > Duration::from_secs(25));
    }

    #[tokio::test]
    async fn when_a_described_window_ends_one_request_learns_the_next_before_others_go() {
        let clock = Arc::new(VirtualClock::default());
        // A generous hint: without the scout, many would rush into the new window.
        let g = Arc::new(gate(clock.clone(), 1000, Duration::from_secs(1)));
        let reset = clock.epoch_secs().ceil() + 1.0;
        let first = g.acquire().await.unwrap();
        first.answered(200, &window_headers(0, reset), None);
        // The next waits out the window, then goes as the scout for the new one.
        let scout = g.acquire().await.unwrap();
        let g2 = g.clone();
        let follower = tokio::spawn(async move { g2.acquire().await.map(|_| ()) });
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        assert!(
            !follower.is_finished(),
            "nobody follows before the scout's answer"
        );
        scout.answered(200, &window_headers(4, reset + 1.0), None);
        follower.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_late_answer_never_gives_back_spent_slots() {
        let clock = Arc::new(VirtualClock::default());
        let g = gate(clock.clone(), 1000, Duration::from_secs(1));
        let reset = (clock.epoch_secs() + 30.0).ceil();
        let first = g.acquire().await.unwrap();
        first.answered(200, &window_headers(3, reset), None);
        let (b, c, d) = (
            g.acquire().await.unwrap(),
            g.acquire().await.unwrap(),
            g.acquire().await.unwrap(),
        );
        // The server counted b, c, d in that order; their answers come back reversed.
        d.answered(200, &window_headers(0, reset), None);
        c.answered(200, &window_headers(1, reset), None);
        b.answered(200, &window_headers(2, reset), None);
        g.acquire().await.unwrap();
        assert!(
            clock.sleeps().iter().any(|s| *s > Duration::from_secs(20)),
            "the window is spent: {:?}",
            clock.sleeps()
        );
    }

    #[tokio::test]
    async fn requests_in_flight_count_against_the_servers_remaining() {
        let clock = Arc::new(VirtualClock::default());
        let g = Arc::new(gate(clock.clone(), 1000, Duration::from_secs(1)));
        let reset = (clock.epoch_secs() + 30.0).ceil();
        let first = g.acquire().await.unwrap();
        first.answered(200, &window_headers(2, reset), None);
        let second = g.acquire().await.unwrap();
        let third = g.acquire().await.unwrap(); // two left, two now in flight
        assert!(clock.sleeps().is_empty());
        // The server's "2 remaining" did not count the two in flight: the fourth waits —
        // first for their answers (one may show a slot we counted too cautiously) …
        let g4 = g.clone();
        let fourth = tokio::spawn(async move { g4.acquire().await.map(|_| ()) });
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        assert!(!fourth.is_finished());
        second.answered(200, &window_headers(1, reset), None);
        third.answered(200, &window_headers(0, reset), None);
        // … then, the window truly spent, for its reset.
        fourth.await.unwrap().unwrap();
        assert!(clock.sleeps().iter().any(|s| *s > Duration::from_secs(20)));
    }

    #[tokio::test]
    async fn an_answer_in_flight_can_reveal_a_slot_counted_too_cautiously() {
        let clock = Arc::new(VirtualClock::default());
        let g = Arc::new(gate(clock.clone(), 1000, Duration::from_secs(1)));
        let reset = (clock.epoch_secs() + 30.0).ceil();
        let first = g.acquire().await.unwrap();
        first.answered(200, &window_headers(1, reset), None);
        let second = g.acquire().await.unwrap(); // our count: none left
        let g3 = g.clone();
        let third = tokio::spawn(async move { g3.acquire().await.map(|_| ()) });
        tokio::task::yield_now().await;
        // The server had room for one more after all.
        second.answered(200, &window_headers(1, reset), None);
        third.await.unwrap().unwrap();
        assert!(clock.sleeps().is_empty(), "{:?}", clock.sleeps());
    }

    #[tokio::test]
    async fn a_429_pauses_every_task_on_the_gate() {
        let clock = Arc::new(VirtualClock::default());
        let g = gate(clock.clone(), 1000, Duration::from_secs(1));
        let t = g.acquire().await.unwrap();
        t.answered(429, &HeaderMap::new(), Some(Duration::from_secs(7)));
        g.acquire().await.unwrap();
        assert!(
            clock.sleeps().contains(&Duration::from_secs(7)),
            "{:?}",
            clock.sleeps()
        );
    }

    #[tokio::test]
    async fn a_wait_longer_than_the_cap_is_returned_to_the_caller() {
        let clock = Arc::new(VirtualClock::default());
        let g = gate(clock.clone(), 1000, Duration::from_secs(1));
        let t = g.acquire().await.unwrap();
        t.answered(429, &HeaderMap::new(), Some(Duration::from_secs(3600)));
        let err = g.acquire().await.err().unwrap();
        assert!(
            matches!(err, ApiError::Retryable { after: Some(a), .. } if a > Duration::from_secs(3000))
        );
    }

    #[tokio::test]
    async fn a_tripped_breaker_sends_nothing_until_the_next_pass() {
        let clock = Arc::new(VirtualClock::default());
        let auth = Arc::new(AuthBreaker::default());
        let g = Gate::new(
            Api::Hibob,
            "test",
            RateLimit::unlimited(),
            clock,
            auth.clone(),
            Duration::from_secs(1),
        );
        auth.trip(&ApiError::Unauthorized {
            api: Api::Hibob,
            endpoint: "x",
            status: 401,
            hint: "check the token".into(),
        });
        assert!(matches!(
            g.acquire().await.err().unwrap(),
            ApiError::Halted { .. }
        ));
        auth.reset();
        assert!(g.acquire().await.is_ok());
    }

    #[tokio::test]
    async fn until_a_request_is_accepted_only_one_is_in_flight() {
        let clock = Arc::new(VirtualClock::default());
        let g = Arc::new(gate(clock, 1000, Duration::from_secs(1)));
        let first = g.acquire().await.unwrap();
        let g2 = g.clone();
        let second = tokio::spawn(async move { g2.acquire().await.map(|_| ()) });
        tokio::task::yield_now().await;
        assert!(!second.is_finished(), "the second must wait for the probe");
        first.answered(200, &HeaderMap::new(), None);
        second.await.unwrap().unwrap();
        // Proven: now two at once are fine.
        let _a = g.acquire().await.unwrap();
        let _b = g.acquire().await.unwrap();
    }
}

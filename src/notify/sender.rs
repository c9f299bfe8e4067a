//! Sends what the outbox holds, in the background: each message once (marked sent right after
//! the server took it), retried with backoff while it fails, paced per channel, and dropped
//! with a log line after a day of failures. Never in a pass's way: it shares only the ledger's
//! mutex, held for one short statement at a time, never across a send.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Notice;
use super::channels::Channel;
use crate::ledger::{Ledger, Outgoing};

/// Messages per minute a channel is sent at most: a burst of passes never floods a chat.
pub const PER_MINUTE: u32 = 6;

/// A message failing this long is given up.
pub fn give_up_after() -> chrono::Duration {
    chrono::Duration::days(1)
}

/// How long after a failure a message is tried again: 30 s, doubling, at most an hour.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let seconds = 30u64.saturating_mul(1 << attempts.min(7)).min(3600);
    chrono::Duration::seconds(seconds as i64)
}

/// What became of one message (for `/metrics`: `hirebridge_notifications_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Sent,
    Failed,
    Dropped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Failed => "failed",
            Outcome::Dropped => "dropped",
        }
    }
}

/// Told each message's result with its channel's name (`/metrics` counts them).
pub type OnResult = Arc<dyn Fn(&'static str, Outcome) + Send + Sync>;

/// The background sender: the channels, their pace, and what it has counted.
pub struct Sender {
    ledger: Arc<Mutex<Ledger>>,
    channels: Vec<(Channel, DefaultDirectRateLimiter)>,
    on_result: OnResult,
}

impl Sender {
    pub fn new(ledger: Arc<Mutex<Ledger>>, channels: Vec<Channel>, on_result: OnResult) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(PER_MINUTE).expect("non-zero"));
        Self {
            ledger,
            channels: channels
                .into_iter()
                .map(|c| (c, RateLimiter::direct(quota)))
                .collect(),
            on_result,
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One attempt at each message due now (`sync`, which has no background task): what
    /// fails keeps its place in the outbox with its backoff.
    pub async fn send_once(&self, shutdown: &CancellationToken) -> usize {
        let due = match self.ledger().due_notifications(Utc::now(), 100) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the notifications' outbox");
                return 0;
            }
        };
        self.send_by_channel(&due, shutdown).await
    }

    /// Sends whatever is due until nothing is; returns how many it sent.
    pub async fn send_due(&self, shutdown: &CancellationToken) -> usize {
        let mut sent = 0;
        loop {
            let due = match self.ledger().due_notifications(Utc::now(), 20) {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the notifications' outbox");
                    return sent;
                }
            };
            if due.is_empty() || shutdown.is_cancelled() {
                return sent;
            }
            sent += self.send_by_channel(&due, shutdown).await;
        }
    }

    /// Each channel's messages in order, the channels at once: a server that hangs holds up
    /// only its own channel.
    async fn send_by_channel(&self, due: &[Outgoing], shutdown: &CancellationToken) -> usize {
        let mut names: Vec<&str> = due.iter().map(|m| m.channel.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let per_channel = names.into_iter().map(|name| async move {
            let mut sent = 0;
            for message in due.iter().filter(|m| m.channel == name) {
                if shutdown.is_cancelled() {
                    break;
                }
                if self.send_one(message, shutdown).await == Some(Outcome::Sent) {
                    sent += 1;
                }
            }
            sent
        });
        futures_util::future::join_all(per_channel)
            .await
            .into_iter()
            .sum()
    }

    /// One message to its channel, paced; its result recorded. `None` when shut down while
    /// waiting for the pace, or when no configured channel has its name (config changed: it
    /// waits for the channel to come back, or is given up after a day).
    async fn send_one(&self, message: &Outgoing, shutdown: &CancellationToken) -> Option<Outcome> {
        let now = Utc::now();
        let Some((channel, pace)) = self
            .channels
            .iter()
            .find(|(c, _)| c.name() == message.channel)
        else {
            return Some(self.failed(message, "the channel is no longer configured"));
        };
        tokio::select! {
            () = pace.until_ready() => {}
            () = shutdown.cancelled() => return None,
        }
        let notice: Notice = match serde_json::from_str(&message.notice_json) {
            Ok(notice) => notice,
            Err(e) => {
                return Some(self.drop_message(
                    message,
                    channel.name(),
                    &format!("unreadable: {e}"),
                ));
            }
        };
        // Shutdown does not wait for a slow server: the message stays pending and goes after
        // the restart (at most a second time, had the server taken it meanwhile).
        crate::crashpoint::hit("notify.send.before");
        let answer = tokio::select! {
            answer = channel.send(&notice) => answer,
            () = shutdown.cancelled() => return None,
        };
        crate::crashpoint::hit("notify.send.after");
        let result = match answer {
            Ok(answer) => {
                let mark = self.ledger().mark_notification_sent(
                    message.id,
                    &answer.to_string(),
                    Utc::now(),
                );
                if let Err(e) = mark {
                    // Sent, but not marked: a restart sends it once more.
                    tracing::error!(error = %e, "a notification was sent but the ledger could not mark it");
                }
                Outcome::Sent
            }
            Err(e) if now - message.created_at >= give_up_after() => {
                self.drop_message(message, channel.name(), &e.to_string())
            }
            Err(e) => self.failed(message, &e.to_string()),
        };
        (self.on_result)(channel.name(), result);
        Some(result)
    }

    fn failed(&self, message: &Outgoing, error: &str) -> Outcome {
        let next = Utc::now() + backoff(message.attempts);
        tracing::warn!(channel = %message.channel, error = %error, "a notification could not be sent; it is tried again later");
        if let Err(e) = self.ledger().notification_failed(message.id, error, next) {
            tracing::error!(error = %e, "cannot record a notification's failure");
        }
        Outcome::Failed
    }

    fn drop_message(&self, message: &Outgoing, channel: &'static str, error: &str) -> Outcome {
        tracing::error!(channel, error = %error, kind_id = message.id, "a notification failed for a day and is dropped");
        if let Err(e) = self
            .ledger()
            .mark_notification_dropped(message.id, error, Utc::now())
        {
            tracing::error!(error = %e, "cannot record a dropped notification");
        }
        Outcome::Dropped
    }

    /// The daemon's task: sends what is due, then sleeps until woken (a pass recorded
    /// something) or the next retry is due, until shutdown.
    pub async fn run(self, wake: Arc<Notify>, shutdown: CancellationToken) {
        loop {
            self.send_due(&shutdown).await;
            let next = self.ledger().next_notification_due().ok().flatten();
            let sleep = next
                .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600))
                .clamp(Duration::from_millis(200), Duration::from_secs(3600));
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}

//! The queue between the webhook listener and the nudge workers: application ids waiting to
//! be reconciled, each at most once.
//!
//! Owns coalescing and its bound, nothing else: it does no HTTP and no reconciling. A nudge
//! for an id already waiting is merged into it; one for an id being reconciled asks for a
//! single follow-up once that reconcile ends (the webhook may carry news the running
//! reconcile read too early). So a burst of any size costs at most two reconciles per
//! application, and the queue never holds more ids than its capacity.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;

/// What became of one pushed id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Waiting for a worker.
    Queued,
    /// Merged with a nudge for the same id that is waiting or running.
    Coalesced,
    /// The queue is full: dropped (the scheduled poll still finds the hire).
    Full,
}

impl Pushed {
    pub fn as_str(self) -> &'static str {
        match self {
            Pushed::Queued => "queued",
            Pushed::Coalesced => "coalesced",
            Pushed::Full => "queue_full",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Waiting,
    Running { follow_up: bool },
}

#[derive(Debug, Default)]
struct Inner {
    order: VecDeque<String>,
    slots: HashMap<String, Slot>,
}

/// A bounded, coalescing FIFO of application ids, shared by the listener and the workers.
#[derive(Debug)]
pub struct NudgeQueue {
    inner: Mutex<Inner>,
    ready: Notify,
    capacity: usize,
}

impl NudgeQueue {
    /// How many distinct ids may wait at once by default: far more than a tenant hires in a
    /// burst, small enough that a flood of forged ids cannot grow memory without bound.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::default(),
            ready: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, application_id: &str) -> Pushed {
        let mut inner = self.lock();
        match inner.slots.get_mut(application_id) {
            Some(Slot::Waiting) => return Pushed::Coalesced,
            Some(Slot::Running { follow_up }) => {
                *follow_up = true;
                return Pushed::Coalesced;
            }
            None => {}
        }
        if inner.order.len() >= self.capacity {
            return Pushed::Full;
        }
        inner.slots.insert(application_id.to_owned(), Slot::Waiting);
        inner.order.push_back(application_id.to_owned());
        drop(inner);
        self.ready.notify_one();
        Pushed::Queued
    }

    /// Takes the next waiting id, marking it running; `None` when nothing waits.
    pub fn try_next(&self) -> Option<String> {
        let mut inner = self.lock();
        let id = inner.order.pop_front()?;
        inner
            .slots
            .insert(id.clone(), Slot::Running { follow_up: false });
        Some(id)
    }

    /// Waits for the next id and marks it running. The caller must call [`Self::finish`]
    /// with it when done.
    pub async fn next(&self) -> String {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            // Registered before looking, so a push between the look and the wait is not lost.
            notified.as_mut().enable();
            if let Some(id) = self.try_next() {
                // Others may be waiting behind this one: pass the wake-up on.
                if !self.lock().order.is_empty() {
                    self.ready.notify_one();
                }
                return id;
            }
            notified.await;
        }
    }

    /// Ends the run of `application_id`: queued again once if a nudge for it came meanwhile.
    pub fn finish(&self, application_id: &str) {
        let mut inner = self.lock();
        match inner.slots.remove(application_id) {
            Some(Slot::Running { follow_up: true }) => {
                inner.slots.insert(application_id.to_owned(), Slot::Waiting);
                inner.order.push_back(application_id.to_owned());
                drop(inner);
                self.ready.notify_one();
            }
            Some(other @ Slot::Waiting) => {
                // Not ours to finish: put it back as it was.
                inner.slots.insert(application_id.to_owned(), other);
            }
            _ => {}
        }
    }

    /// Ids waiting for a worker (not counting those running).
    pub fn waiting(&self) -> usize {
        self.lock().order.len()
    }
}

impl Default for NudgeQueue {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nudges_for_a_waiting_id_merge_into_one() {
        let queue = NudgeQueue::new(10);
        assert_eq!(queue.push("1"), Pushed::Queued);
        assert_eq!(queue.push("2"), Pushed::Queued);
        for _ in 0..1000 {
            assert_eq!(queue.push("1"), Pushed::Coalesced);
        }
        assert_eq!(queue.waiting(), 2);
        assert_eq!(queue.try_next().as_deref(), Some("1"));
        assert_eq!(queue.try_next().as_deref(), Some("2"));
        assert_eq!(queue.try_next(), None);
    }

    #[test]
    fn nudges_during_a_run_ask_for_exactly_one_follow_up() {
        let queue = NudgeQueue::new(10);
        queue.push("1");
        let id = queue.try_next().unwrap();
        for _ in 0..50 {
            assert_eq!(queue.push("1"), Pushed::Coalesced);
        }
        assert_eq!(queue.waiting(), 0, "not run twice at once");
        queue.finish(&id);
        assert_eq!(queue.try_next().as_deref(), Some("1"), "one follow-up");
        queue.finish("1");
        assert_eq!(queue.try_next(), None, "and no more");
    }

    #[test]
    fn a_full_queue_drops_new_ids_but_still_merges_known_ones() {
        let queue = NudgeQueue::new(2);
        queue.push("1");
        queue.push("2");
        assert_eq!(queue.push("3"), Pushed::Full);
        assert_eq!(queue.push("1"), Pushed::Coalesced);
        assert_eq!(queue.waiting(), 2);
    }

    #[tokio::test]
    async fn a_waiting_worker_wakes_for_a_push() {
        let queue = std::sync::Arc::new(NudgeQueue::new(10));
        let worker = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.next().await })
        };
        tokio::task::yield_now().await;
        queue.push("42");
        let id = tokio::time::timeout(std::time::Duration::from_secs(5), worker)
            .await
            .expect("woken")
            .unwrap();
        assert_eq!(id, "42");
    }
}

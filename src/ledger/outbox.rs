//! The notifications' outbox: each message recorded before it is sent, marked after, so a
//! restart neither loses a message nor sends it again (except, at most once, one in flight at a
//! crash). Beside it, which hires were announced in which state, so a hire is announced when it
//! *enters* a state that needs a person and never again while it stays there.
//!
//! A message's body (names, emails) is kept only until it is sent or dropped; what was
//! announced, to which channel and when stays in each hire's history as events.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{
    ApplicationId, ENTRY_COLUMNS, EventOutcome, EventSubject, Ledger, LedgerEntry, Result,
    entry_from_row, ms, time,
};

/// One message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: i64,
    /// `email` or `webhook`.
    pub channel: String,
    /// The notice, as JSON (`crate::notify::Notice`).
    pub notice_json: String,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
}

/// The outbox in numbers, for `status` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxSummary {
    /// Waiting to be sent (first try or a retry).
    pub pending: u64,
    pub sent: u64,
    /// Given up after a day of failures.
    pub dropped: u64,
    /// The last failure of a message still pending, in words.
    pub last_error: Option<String>,
    pub last_sent_at: Option<DateTime<Utc>>,
}

/// What a pass decided to announce: one notice for each channel, about these hires.
pub struct Announcement<'a> {
    /// `needs_attention`, `waiting_for_hr_overdue`, `writes_stopped`, …
    pub kind: &'a str,
    pub notice_json: &'a str,
    pub channels: &'a [&'a str],
    /// The hires it announces: recorded as announced in `kind`, each with an event.
    pub hires: &'a [ApplicationId],
    /// The event detail each hire gets.
    pub detail: &'a str,
}

impl OutboxSummary {
    /// `None` when nothing was ever put in the outbox (no `[notify]`, or nothing to say yet).
    pub fn into_used(self) -> Option<Self> {
        (self.pending + self.sent + self.dropped > 0).then_some(self)
    }
}

impl Ledger {
    /// Hires in `status` not yet announced in `kind` (oldest first), after forgetting the
    /// announcements of hires that left that status (so entering it again is announced again).
    /// `since`: only hires that entered it before this (e.g. waiting for HR longer than the
    /// reminder), by their employee step's intent time; `None`: all.
    pub fn unannounced(
        &mut self,
        status: &str,
        kind: &str,
        entered_before: Option<DateTime<Utc>>,
    ) -> Result<Vec<LedgerEntry>> {
        self.conn.execute(
            "DELETE FROM announced WHERE kind = ?1 AND NOT EXISTS (
                SELECT 1 FROM hires h WHERE h.application_id = announced.application_id
                                        AND h.status = ?2)",
            params![kind, status],
        )?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM hires
             WHERE status = ?1
               AND (?3 IS NULL OR employee_intent_at < ?3)
               AND NOT EXISTS (SELECT 1 FROM announced a
                               WHERE a.application_id = hires.application_id AND a.kind = ?2)
             ORDER BY updated_at"
        ))?;
        let rows = stmt
            .query_map(
                params![status, kind, entered_before.map(ms)],
                entry_from_row,
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Records an announcement: the message for each channel in the outbox, each hire as
    /// announced, and an event in each hire's history; all or nothing.
    pub fn record_announcement(
        &mut self,
        announcement: &Announcement<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let hires_json =
            serde_json::to_string(&announcement.hires).unwrap_or_else(|_| "[]".to_owned());
        for channel in announcement.channels {
            tx.execute(
                "INSERT INTO notifications (channel, kind, created_at, notice_json, hires, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
                params![
                    channel,
                    announcement.kind,
                    ms(now),
                    announcement.notice_json,
                    hires_json
                ],
            )?;
        }
        for id in announcement.hires {
            tx.execute(
                "INSERT OR REPLACE INTO announced (application_id, kind, at) VALUES (?1, ?2, ?3)",
                params![id, announcement.kind, ms(now)],
            )?;
            super::audit::append_event(
                &tx,
                id,
                ms(now),
                None,
                EventSubject::Notification.as_str(),
                EventOutcome::Queued.as_str(),
                announcement.detail,
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Messages due now, oldest first.
    pub fn due_notifications(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Outgoing>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, channel, notice_json, attempts, created_at FROM notifications
             WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
             ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![ms(now), limit as i64], |r| {
                Ok(Outgoing {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    notice_json: r.get(2)?,
                    attempts: r.get(3)?,
                    created_at: time(r.get(4)?).unwrap_or(DateTime::<Utc>::MIN_UTC),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// When the next pending message is due, if any.
    pub fn next_notification_due(&self) -> Result<Option<DateTime<Utc>>> {
        let next: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT COALESCE(MIN(next_attempt_at), 0) FROM notifications WHERE state = 'pending'
                 HAVING COUNT(*) > 0",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(next
            .flatten()
            .map(|at| time(Some(at)).unwrap_or(DateTime::<Utc>::MIN_UTC)))
    }

    /// The message was sent: its body is dropped (its hires' history says what was sent);
    /// each hire gets an event naming the channel.
    pub fn mark_notification_sent(
        &mut self,
        id: i64,
        answer: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.close_notification(id, "sent", answer, EventOutcome::Sent, now)
    }

    /// Given up (a day of failures): the body is dropped; each hire's history says so.
    pub fn mark_notification_dropped(
        &mut self,
        id: i64,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.close_notification(id, "dropped", error, EventOutcome::Dropped, now)
    }

    fn close_notification(
        &mut self,
        id: i64,
        state: &str,
        words: &str,
        outcome: EventOutcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let row: Option<(String, String, String)> = tx
            .query_row(
                "SELECT channel, kind, hires FROM notifications WHERE id = ?1 AND state = 'pending'",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((channel, kind, hires)) = row else {
            return Ok(());
        };
        tx.execute(
            "UPDATE notifications SET state = ?2, notice_json = '', sent_at = ?3,
                last_error = CASE WHEN ?2 = 'dropped' THEN ?4 ELSE last_error END,
                answer = CASE WHEN ?2 = 'sent' THEN ?4 ELSE answer END
             WHERE id = ?1",
            params![id, state, ms(now), words],
        )?;
        let hires: Vec<String> = serde_json::from_str(&hires).unwrap_or_default();
        let hires: Vec<ApplicationId> = hires.into_iter().map(ApplicationId::from).collect();
        let detail = match outcome {
            EventOutcome::Sent => format!("{kind} notification sent by {channel} ({words})"),
            _ => {
                format!("{kind} notification by {channel} dropped after a day of failures: {words}")
            }
        };
        for application_id in &hires {
            super::audit::append_event(
                &tx,
                application_id,
                ms(now),
                None,
                EventSubject::Notification.as_str(),
                outcome.as_str(),
                &detail,
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A failed attempt: tried again at `next_attempt_at`.
    pub fn notification_failed(
        &mut self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE notifications SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
             WHERE id = ?1 AND state = 'pending'",
            params![id, error, ms(next_attempt_at)],
        )?;
        Ok(())
    }

    pub fn outbox_summary(&self) -> Result<OutboxSummary> {
        let mut summary = OutboxSummary::default();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state, COUNT(*) FROM notifications GROUP BY state")?;
        let counts = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in counts {
            let (state, n) = row?;
            let n = n.max(0) as u64;
            match state.as_str() {
                "pending" => summary.pending = n,
                "sent" => summary.sent = n,
                "dropped" => summary.dropped = n,
                _ => {}
            }
        }
        summary.last_error = self
            .conn
            .query_row(
                "SELECT last_error FROM notifications WHERE state = 'pending'
                   AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        summary.last_sent_at = self
            .conn
            .query_row(
                "SELECT MAX(sent_at) FROM notifications WHERE state = 'sent'",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()?
            .flatten()
            .and_then(|at| time(Some(at)));
        Ok(summary)
    }

    /// A flag the notifications keep between passes (`writes_stopped` announced, the digest's
    /// last day), in the ledger so `sync` and `run` agree.
    pub fn notify_mark(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM ledger_meta WHERE key = ?1",
                [format!("notify.{key}")],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_notify_mark(&self, key: &str, value: Option<&str>) -> Result<()> {
        let key = format!("notify.{key}");
        match value {
            Some(v) => self.conn.execute(
                "INSERT INTO ledger_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, v],
            )?,
            None => self
                .conn
                .execute("DELETE FROM ledger_meta WHERE key = ?1", [key])?,
        };
        Ok(())
    }
}

/// The daily digest's counts: hires done in a day, skipped among those first seen that day,
/// and those waiting for HR or a person now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub done: u64,
    pub skipped: u64,
    pub waiting_for_hr: u64,
    pub parked: u64,
}

impl Ledger {
    pub fn day_counts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<DayCounts> {
        let count = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<u64> {
            let n: i64 = self.conn.query_row(sql, p, |r| r.get(0))?;
            Ok(n.max(0) as u64)
        };
        Ok(DayCounts {
            done: count(
                "SELECT COUNT(*) FROM hires WHERE status = 'done' AND done_at >= ?1 AND done_at < ?2",
                &[&ms(from), &ms(to)],
            )?,
            skipped: count(
                "SELECT COUNT(*) FROM hires WHERE status = 'skipped'
                   AND first_seen_at >= ?1 AND first_seen_at < ?2",
                &[&ms(from), &ms(to)],
            )?,
            waiting_for_hr: count(
                "SELECT COUNT(*) FROM hires WHERE status = 'waiting_for_hr'",
                &[],
            )?,
            parked: count(
                "SELECT COUNT(*) FROM hires WHERE status = 'needs_attention'",
                &[],
            )?,
        })
    }
}

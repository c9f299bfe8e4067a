//! The ledger's side of the audit trail: appending chained events, reading the chain back in
//! order for `audit verify`/`audit export`, storing signed checkpoints, and erasing a person's
//! personal data without breaking the chain (their events' detail rows are dropped; the
//! hashed content keeps only salted digests). Signing and judging are `crate::audit`'s job.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::chain::{self, ChainedContent, Checkpoint, GENESIS};
use super::{EventOutcome, EventSubject, Ledger, LedgerError, PassId, Result, ms};

/// Appends one event to the chain, in the caller's transaction (immediate, so the head read
/// here is still the head when the row is written).
pub(super) fn append_event(
    tx: &rusqlite::Transaction<'_>,
    application_id: &str,
    at_ms: i64,
    pass_id: Option<i64>,
    step: &str,
    outcome: &str,
    detail: &str,
) -> Result<()> {
    let (last_id, prev) = head(tx)?;
    let id = last_id + 1;
    let salt = chain::new_salt();
    let digest = chain::detail_digest(&salt, detail);
    let hash = chain::event_hash(
        &prev,
        &ChainedContent {
            id,
            application_id,
            at_ms,
            pass_id,
            step,
            outcome,
            detail_digest: &digest,
        },
    );
    tx.prepare_cached(
        "INSERT INTO events (id, application_id, at, pass_id, step, outcome,
                             detail_digest, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        application_id,
        at_ms,
        pass_id,
        step,
        outcome,
        bytes(&digest),
        bytes(&prev),
        bytes(&hash)
    ])?;
    tx.prepare_cached("INSERT INTO event_details (event_id, salt, detail) VALUES (?1, ?2, ?3)")?
        .execute(params![id, &salt[..], detail])?;
    Ok(())
}

/// The last event's id and hash (0 and [`GENESIS`] for an empty chain).
fn head(conn: &rusqlite::Connection) -> rusqlite::Result<(i64, String)> {
    Ok(conn
        .prepare_cached("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, hex_of(r.get(1)?))))
        .optional()?
        .unwrap_or((0, GENESIS.to_owned())))
}

/// Hashes are stored as 32-byte blobs (half the size of their hex) and handled as hex.
fn bytes(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text).unwrap_or_default()
}

fn hex_of(blob: Option<Vec<u8>>) -> String {
    blob.map(hex::encode).unwrap_or_default()
}

/// Migration to schema v7: chains the events written before it, in id order, moving each
/// detail to `event_details` with a fresh salt. Runs inside the migration's transaction.
pub(super) fn chain_existing_events(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    const BATCH: i64 = 10_000;
    let mut prev = GENESIS.to_owned();
    let mut after = 0_i64;
    // Reads a batch, then writes it: never updating a table mid-scan.
    loop {
        let batch: Vec<(ChainedEvent, String)> = tx
            .prepare(
                "SELECT id, application_id, at, pass_id, step, outcome, detail FROM events
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?
            .query_map(params![after, BATCH], |r| {
                let event = ChainedEvent {
                    id: r.get(0)?,
                    application_id: r.get(1)?,
                    at_ms: r.get(2)?,
                    pass_id: r.get(3)?,
                    trigger: None,
                    step: r.get(4)?,
                    outcome: r.get(5)?,
                    detail_digest: String::new(),
                    prev_hash: String::new(),
                    hash: String::new(),
                    detail: None,
                };
                Ok((event, r.get(6)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some((last, _)) = batch.last() else {
            return Ok(());
        };
        after = last.id;
        for (mut event, detail) in batch {
            let salt = chain::new_salt();
            event.detail_digest = chain::detail_digest(&salt, &detail);
            let hash = chain::event_hash(&prev, &event.content());
            tx.prepare_cached(
                "UPDATE events SET detail = '', detail_digest = ?2, prev_hash = ?3, hash = ?4
                 WHERE id = ?1",
            )?
            .execute(params![
                event.id,
                bytes(&event.detail_digest),
                bytes(&prev),
                bytes(&hash)
            ])?;
            tx.prepare_cached(
                "INSERT INTO event_details (event_id, salt, detail) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![event.id, &salt[..], detail])?;
            prev = hash;
        }
    }
}

/// One event as the chain holds it, for checking and exporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEvent {
    pub id: i64,
    pub application_id: String,
    pub at_ms: i64,
    pub pass_id: Option<i64>,
    /// What started its pass (`schedule`, `sync`, `webhook`, …), when it had one.
    pub trigger: Option<String>,
    pub step: String,
    pub outcome: String,
    pub detail_digest: String,
    pub prev_hash: String,
    pub hash: String,
    /// The salt and the detail; `None` once erased.
    pub detail: Option<(Vec<u8>, String)>,
}

impl ChainedEvent {
    pub fn content(&self) -> ChainedContent<'_> {
        ChainedContent {
            id: self.id,
            application_id: &self.application_id,
            at_ms: self.at_ms,
            pass_id: self.pass_id,
            step: &self.step,
            outcome: &self.outcome,
            detail_digest: &self.detail_digest,
        }
    }
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Erasure {
    /// The person's hires: their names, emails and free text are gone.
    pub hires: Vec<String>,
    /// Other hires whose history mentioned the person: those details are gone.
    pub mentioned_in: Vec<String>,
    /// Event details removed.
    pub details_removed: usize,
}

/// Why an erasure did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ErasureRefused {
    #[error(
        "no hire with application id or email {0:?} in the ledger; `hirebridge report` lists them"
    )]
    NotFound(String),
    #[error(
        "application {id} is still being worked (status {status}): hirebridge needs its details to finish it. Erase it once it is done or withdrawn (or once `hirebridge retry` has settled it)"
    )]
    Unsettled { id: String, status: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<rusqlite::Error> for ErasureRefused {
    fn from(e: rusqlite::Error) -> Self {
        ErasureRefused::Ledger(e.into())
    }
}

/// Statuses whose hire needs nothing more from hirebridge: their personal data may go.
const SETTLED: &str = "('done', 'withdrawn', 'skipped')";

/// The audit trail at a glance, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditSummary {
    /// Events in the chain.
    pub events: u64,
    pub checkpoints: u64,
    /// Milliseconds since the epoch of the last checkpoint.
    #[serde(skip)]
    pub last_checkpoint_at_ms: Option<i64>,
    /// Events after the last checkpoint: chained, not signed yet.
    pub unsealed: u64,
    /// Hires whose personal data was erased.
    pub erased_hires: u64,
}

impl Ledger {
    /// Counts for `status`: the chain's length, its checkpoints, what is not signed yet.
    pub fn audit_summary(&self) -> Result<AuditSummary> {
        let (events, _) = self.chain_head()?;
        let (checkpoints, sealed, last_at): (i64, Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT COUNT(*), MAX(events), MAX(at) FROM checkpoints",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let erased_hires: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM hires WHERE erased_at IS NOT NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(AuditSummary {
            events,
            checkpoints: checkpoints as u64,
            last_checkpoint_at_ms: last_at,
            unsealed: events.saturating_sub(sealed.unwrap_or(0) as u64),
            erased_hires: erased_hires as u64,
        })
    }

    /// How many events the chain holds and the hash of the last one.
    pub fn chain_head(&self) -> Result<(u64, String)> {
        let (id, hash) = head(&self.conn)?;
        Ok((id as u64, hash))
    }

    /// Calls `f` with every event whose id is above `after`, in id order, up to and including
    /// `up_to` when given. Streams: memory does not grow with the chain.
    pub fn for_each_chained_event<E>(
        &self,
        after: i64,
        up_to: Option<i64>,
        mut f: impl FnMut(ChainedEvent) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.application_id, e.at, e.pass_id, p.trigger, e.step, e.outcome,
                    e.detail_digest, e.prev_hash, e.hash, d.salt, d.detail
             FROM events e LEFT JOIN passes p ON p.id = e.pass_id
                LEFT JOIN event_details d ON d.event_id = e.id
             WHERE e.id > ?1 AND (?2 IS NULL OR e.id <= ?2) ORDER BY e.id",
        )?;
        let mut rows = stmt.query(params![after, up_to])?;
        while let Some(r) = rows.next()? {
            let salt: Option<Vec<u8>> = r.get(10)?;
            let detail: Option<String> = r.get(11)?;
            let event = ChainedEvent {
                id: r.get(0)?,
                application_id: r.get(1)?,
                at_ms: r.get(2)?,
                pass_id: r.get(3)?,
                trigger: r.get(4)?,
                step: r.get(5)?,
                outcome: r.get(6)?,
                detail_digest: hex_of(r.get(7)?),
                prev_hash: hex_of(r.get(8)?),
                hash: hex_of(r.get(9)?),
                detail: salt.zip(detail),
            };
            if let Err(e) = f(event) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// The id of the last event at or before `at` (0 when none): where a period starts.
    pub fn last_event_at_or_before(&self, at: DateTime<Utc>) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(MAX(id), 0) FROM events WHERE at <= ?1",
            [ms(at)],
            |r| r.get(0),
        )?)
    }

    /// For each hire whose personal data was erased: the id of its last erasure event. An
    /// event without its detail row is accounted for only by an erasure recorded after it.
    pub fn erasure_marks(&self) -> Result<HashMap<String, i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT application_id, MAX(id) FROM events
             WHERE step = ?1 AND outcome = ?2 GROUP BY application_id",
        )?;
        let rows = stmt.query_map(
            params![
                EventSubject::PersonalData.as_str(),
                EventOutcome::Erased.as_str()
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The checkpoints recorded in the ledger, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let mut stmt = self.conn.prepare(
            "SELECT events, head, at, public_key, signature FROM checkpoints ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Checkpoint {
                events: r.get::<_, i64>(0)? as u64,
                head: r.get(1)?,
                at_ms: r.get(2)?,
                public_key: r.get(3)?,
                signature: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn last_checkpoint(&self) -> Result<Option<Checkpoint>> {
        Ok(self
            .conn
            .query_row(
                "SELECT events, head, at, public_key, signature FROM checkpoints
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(Checkpoint {
                        events: r.get::<_, i64>(0)? as u64,
                        head: r.get(1)?,
                        at_ms: r.get(2)?,
                        public_key: r.get(3)?,
                        signature: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Signs the chain's head with `sign` and records the checkpoint, when the chain grew
    /// since the last one — all in one immediate transaction, so two writers (the daemon and an
    /// operator's `erase`) can never record checkpoints out of order.
    /// `publish` (appending to the checkpoint log) runs before the commit, while the
    /// transaction still holds the write lock, so the log's order is the ledger's too; what it
    /// returns is handed back after the checkpoint is committed either way.
    pub fn seal_head<E>(
        &mut self,
        sign: impl FnOnce(u64, &str) -> Checkpoint,
        publish: impl FnOnce(&Checkpoint) -> std::result::Result<(), E>,
    ) -> Result<Option<(Checkpoint, std::result::Result<(), E>)>> {
        let tx = self.conn.transaction()?;
        let (events, head) = head(&tx)?;
        let sealed: Option<i64> = tx
            .query_row("SELECT MAX(events) FROM checkpoints", [], |r| r.get(0))
            .optional()?
            .flatten();
        if events == 0 || sealed.is_some_and(|s| s >= events) {
            return Ok(None);
        }
        let checkpoint = sign(events as u64, &head);
        insert_checkpoint(&tx, &checkpoint)?;
        let published = publish(&checkpoint);
        tx.commit()?;
        Ok(Some((checkpoint, published)))
    }

    /// Records a checkpoint as given (tests forging one; imports).
    pub fn record_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        insert_checkpoint(&self.conn, checkpoint)
    }

    /// Erases the personal data of the hire with this application id, or of every hire with
    /// this email: names, email, free text, mapped values and their events' details, plus any
    /// other hire's event detail that mentions the person's email or full name. Ids, statuses,
    /// times and outcomes stay, and so does the chain (only salted digests are hashed). Each
    /// hire touched gets an `erased` event saying why (`reason` must hold no personal data).
    /// Nothing in HiBob or Pinpoint is touched.
    pub fn erase(
        &mut self,
        who: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> std::result::Result<Erasure, ErasureRefused> {
        let tx = self.conn.transaction()?;
        let people: Vec<(String, String, String, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT application_id, email, first_name, last_name, status FROM hires
                 WHERE application_id = ?1
                    OR (?1 LIKE '%@%' AND email = ?1 COLLATE NOCASE)
                 ORDER BY first_seen_at, application_id",
            )?;
            stmt.query_map([who], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        if people.is_empty() {
            return Err(ErasureRefused::NotFound(who.to_owned()));
        }
        if let Some((id, .., status)) = people
            .iter()
            .find(|(.., status)| !matches!(status.as_str(), "done" | "withdrawn" | "skipped"))
        {
            return Err(ErasureRefused::Unsettled {
                id: id.clone(),
                status: status.clone(),
            });
        }
        let mut needles: Vec<String> = Vec::new();
        for (_, email, first, last, _) in &people {
            if !email.trim().is_empty() {
                needles.push(email.trim().to_lowercase());
            }
            let full = format!("{} {}", first.trim(), last.trim());
            if first.trim().len() + last.trim().len() >= 4 {
                needles.push(full.to_lowercase());
            }
        }
        needles.sort();
        needles.dedup();
        let ids: Vec<String> = people.into_iter().map(|p| p.0).collect();
        let mut erasure = Erasure {
            hires: ids.clone(),
            ..Erasure::default()
        };
        for id in &ids {
            erasure.details_removed += erase_hire(&tx, id, now)?;
        }
        // Mentions elsewhere: a namesake parked beside them, a duplicate's error text.
        let mut mentioned: Vec<String> = Vec::new();
        for needle in &needles {
            let rows: Vec<(i64, String)> = tx
                .prepare(
                    "SELECT d.event_id, e.application_id FROM event_details d
                     JOIN events e ON e.id = d.event_id
                     WHERE instr(lower(d.detail), ?1) > 0",
                )?
                .query_map([needle], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (event_id, application_id) in rows {
                tx.execute("DELETE FROM event_details WHERE event_id = ?1", [event_id])?;
                erasure.details_removed += 1;
                mentioned.push(application_id);
            }
            let errored: Vec<String> = tx
                .prepare("SELECT application_id FROM hires WHERE instr(lower(last_error), ?1) > 0")?
                .query_map([needle], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for application_id in errored {
                tx.execute(
                    "UPDATE hires SET last_error = '(erased: it named another person)'
                     WHERE application_id = ?1",
                    [&application_id],
                )?;
                mentioned.push(application_id);
            }
        }
        mentioned.sort();
        mentioned.dedup();
        mentioned.retain(|m| !ids.contains(m));
        for id in &ids {
            append_event(
                &tx,
                id,
                ms(now),
                None,
                EventSubject::PersonalData.as_str(),
                EventOutcome::Erased.as_str(),
                reason,
            )?;
        }
        for id in &mentioned {
            append_event(
                &tx,
                id,
                ms(now),
                None,
                EventSubject::PersonalData.as_str(),
                EventOutcome::Erased.as_str(),
                "details naming another person were erased with that person's data",
            )?;
        }
        erasure.mentioned_in = mentioned;
        tx.commit()?;
        Ok(erasure)
    }

    /// Retention: erases the personal data of settled hires done (or last changed) before
    /// `before` (at most `limit` per call, oldest first), each with an `erased` event of
    /// `pass` saying `reason`.
    /// Mentions in other hires' details go when those hires reach retention themselves.
    pub fn erase_settled_before(
        &mut self,
        pass: PassId,
        before: DateTime<Utc>,
        limit: usize,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let ids: Vec<String> = tx
            .prepare(&format!(
                "SELECT application_id FROM hires
                 WHERE erased_at IS NULL AND status IN {SETTLED}
                   AND COALESCE(done_at, updated_at) < ?1
                 ORDER BY COALESCE(done_at, updated_at) LIMIT ?2"
            ))?
            .query_map(params![ms(before), limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in &ids {
            erase_hire(&tx, id, now)?;
            append_event(
                &tx,
                id,
                ms(now),
                Some(pass.0),
                EventSubject::PersonalData.as_str(),
                EventOutcome::Erased.as_str(),
                reason,
            )?;
        }
        tx.commit()?;
        Ok(ids.len())
    }
}

fn insert_checkpoint(conn: &rusqlite::Connection, checkpoint: &Checkpoint) -> Result<()> {
    conn.execute(
        "INSERT INTO checkpoints (events, head, at, public_key, signature)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            checkpoint.events as i64,
            checkpoint.head,
            checkpoint.at_ms,
            checkpoint.public_key,
            checkpoint.signature
        ],
    )?;
    Ok(())
}

/// Drops one hire's personal data: row fields, mapped values, its events' details. Returns
/// how many details went.
fn erase_hire(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE hires SET email = '', first_name = '', last_name = '', last_error = NULL,
            erased_at = ?2 WHERE application_id = ?1",
        params![id, ms(now)],
    )?;
    // The drift baseline and what was written are the person's field values.
    tx.execute("DELETE FROM mapped_values WHERE application_id = ?1", [id])?;
    // What HR submitted through the plugin, and the answers that named the person: a replay
    // is still answered (ids and success stay), without them.
    tx.execute(
        "UPDATE plugin_submits SET values_json = '{}',
            answer_json = CASE WHEN answer_json IS NULL THEN NULL ELSE json_set(
                json_remove(answer_json, '$.toast', '$.errors'), '$.message',
                'Sent to HiBob earlier; this person''s details have since been erased from hirebridge.')
            END
         WHERE application_id = ?1",
        [id],
    )?;
    tx.execute(
        "DELETE FROM event_details
         WHERE event_id IN (SELECT id FROM events WHERE application_id = ?1)",
        [id],
    )
}

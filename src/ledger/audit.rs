//! The ledger's side of the audit trail: appending chained events, reading the chain back in
//! order for `audit verify`/`audit export`, storing signed checkpoints, and erasing a person's
//! personal data without breaking the chain (their events' detail rows are dropped; the
//! hashed content keeps only salted digests). Signing and judging are `crate::audit`'s job.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::chain::{self, ChainedContent, Checkpoint, GENESIS};
use super::{EventOutcome, EventSubject, Ledger, LedgerError, PassId, Result, ms};
use crate::hire::ApplicationId;

/// Appends one event to the chain, in the caller's transaction (immediate, so the head read
/// here is still the head when the row is written).
pub(super) fn append_event(
    tx: &rusqlite::Transaction<'_>,
    application_id: &ApplicationId,
    at_ms: i64,
    pass_id: Option<i64>,
    step: &str,
    outcome: &str,
    detail: &str,
) -> Result<()> {
    append(
        tx,
        Unsigned {
            application_id,
            at_ms,
            pass_id,
            step,
            outcome,
            detail,
        },
        None,
    )
}

/// Signs an event's hash with the audit key (the ledger holds no key: its caller does).
pub type SignHash<'a> = &'a dyn Fn(&str) -> Vec<u8>;

/// An event's content before it is chained.
struct Unsigned<'a> {
    application_id: &'a str,
    at_ms: i64,
    pass_id: Option<i64>,
    step: &'a str,
    outcome: &'a str,
    detail: &'a str,
}

/// Chains `event`; with `sign`, also stores its signature over the event's hash.
fn append(
    tx: &rusqlite::Transaction<'_>,
    event: Unsigned<'_>,
    sign: Option<SignHash<'_>>,
) -> Result<()> {
    let Unsigned {
        application_id,
        at_ms,
        pass_id,
        step,
        outcome,
        detail,
    } = event;
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
    let signature = sign.map(|sign| sign(&hash));
    tx.prepare_cached(
        "INSERT INTO events (id, application_id, at, pass_id, step, outcome,
                             detail_digest, prev_hash, hash, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
        bytes(&hash),
        signature
    ])?;
    tx.prepare_cached("INSERT INTO event_details (event_id, salt, detail) VALUES (?1, ?2, ?3)")?
        .execute(params![id, &salt[..], detail])?;
    Ok(())
}

/// The last event's id and hash (0 and [`GENESIS`] for an empty chain).
pub(super) fn head(conn: &rusqlite::Connection) -> rusqlite::Result<(i64, String)> {
    Ok(conn
        .prepare_cached("SELECT id, hash FROM events WHERE id = (SELECT MAX(id) FROM events)")?
        .query_row([], |r| Ok((r.get(0)?, hex_of(r.get(1)?))))
        .optional()?
        .unwrap_or((0, GENESIS.to_owned())))
}

/// Hashes are stored as 32-byte blobs (half the size of their hex) and handled as hex; the
/// hex is always ours (a SHA-256 just computed or read back).
fn bytes(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text).expect("a hash hirebridge computed is hex")
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
                 WHERE id = (SELECT MAX(id) FROM checkpoints)",
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
    /// operator's `erase`) can never record checkpoints out of order. Its time is never before
    /// the last checkpoint's (a clock stepped back, a writer that waited for the lock).
    /// `publish` (appending to the checkpoint log) runs before the commit, while the
    /// transaction still holds the write lock, so the log's order is the ledger's too; what it
    /// returns is handed back after the checkpoint is committed either way.
    pub fn seal_head<E>(
        &mut self,
        now: DateTime<Utc>,
        sign: impl FnOnce(u64, &str, i64) -> Checkpoint,
        publish: impl FnOnce(&Checkpoint) -> std::result::Result<(), E>,
    ) -> Result<Option<(Checkpoint, std::result::Result<(), E>)>> {
        let tx = self.conn.transaction()?;
        let (events, head) = head(&tx)?;
        // The last checkpoint holds the most events and the latest time (each is written
        // only past the one before, in this transaction): read by its id, not by scanning
        // every checkpoint (one a pass, so they grow with the ledger's age).
        let (sealed, last_at): (Option<i64>, Option<i64>) = tx
            .query_row(
                "SELECT events, at FROM checkpoints
                 WHERE id = (SELECT MAX(id) FROM checkpoints)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((None, None));
        if events == 0 || sealed.is_some_and(|s| s >= events) {
            return Ok(None);
        }
        let at_ms = ms(now).max(last_at.unwrap_or(i64::MIN));
        let checkpoint = sign(events as u64, &head, at_ms);
        tx.execute(
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
        let published = publish(&checkpoint);
        tx.commit()?;
        Ok(Some((checkpoint, published)))
    }

    /// Every erasure event: application, id, hash and signature. Only an erasure signed by
    /// the audit key accounts for the details missing before it (anyone can append a
    /// well-chained event; only the key holder can sign one).
    pub fn erasure_events(&self) -> Result<Vec<SignedErasure>> {
        let mut stmt = self.conn.prepare(
            "SELECT application_id, id, hash, signature FROM events
             WHERE step = ?1 AND outcome = ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map(
            params![
                EventSubject::PersonalData.as_str(),
                EventOutcome::Erased.as_str()
            ],
            |r| {
                Ok(SignedErasure {
                    application_id: r.get(0)?,
                    id: r.get(1)?,
                    hash: hex_of(r.get(2)?),
                    signature: r.get::<_, Option<Vec<u8>>>(3)?.map(hex::encode),
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Erases the personal data of the person behind `who` — an application id or an email —
    /// from every hire of theirs (all applications with their email): names, email, free text,
    /// mapped values, plugin submits and their events' details; and from other hires' event
    /// details and errors that name their email or full name (Unicode case-insensitive; a
    /// namesake's own history is left alone). Ids, statuses, times and outcomes stay, and so
    /// does the chain (only salted digests are hashed). Each hire touched gets an `erased`
    /// event saying why (`reason` must hold no personal data), signed with `sign` (the audit
    /// key). Nothing in HiBob or Pinpoint is touched.
    pub fn erase(
        &mut self,
        who: &str,
        reason: &str,
        now: DateTime<Utc>,
        sign: SignHash<'_>,
    ) -> std::result::Result<Erasure, ErasureRefused> {
        let tx = self.conn.transaction()?;
        let people = person_hires(&tx, who)?;
        let submits_only: Vec<String> = if people.is_empty() {
            // A plugin submit for a hire no pass has recorded yet.
            tx.prepare(
                "SELECT DISTINCT application_id FROM plugin_submits
                 WHERE application_id = ?1
                    OR (?1 LIKE '%@%' AND instr(lower(values_json), lower(?1)) > 0)",
            )?
            .query_map([who], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
        } else {
            Vec::new()
        };
        if people.is_empty() && submits_only.is_empty() {
            return Err(ErasureRefused::NotFound(who.to_owned()));
        }
        for hire in &people {
            if !is_settled(&hire.status) {
                return Err(ErasureRefused::Unsettled {
                    id: hire.application_id.clone(),
                    status: hire.status.clone(),
                });
            }
            let updating: bool = tx
                .query_row(
                    "SELECT drift IS 'in_flight' FROM mapped_values WHERE application_id = ?1",
                    [&hire.application_id],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(false);
            if updating {
                return Err(ErasureRefused::Unsettled {
                    id: hire.application_id.clone(),
                    status: "done, with an update to HiBob in flight".to_owned(),
                });
            }
        }
        let emails: Vec<String> = people
            .iter()
            .map(|p| p.email.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        let names: Vec<String> = people
            .iter()
            .map(|p| format!("{} {}", p.first_name.trim(), p.last_name.trim()).to_lowercase())
            .filter(|n| n.chars().count() >= 5)
            .collect();
        let ids: Vec<ApplicationId> = people
            .into_iter()
            .map(|p| p.application_id)
            .chain(submits_only)
            .map(ApplicationId::from)
            .collect();
        let mut erasure = Erasure {
            hires: ids.iter().map(ToString::to_string).collect(),
            ..Erasure::default()
        };
        for id in &ids {
            erasure.details_removed += erase_hire(&tx, id, now)?;
        }
        let mentioned = erase_mentions(&tx, &ids, &emails, &names, &mut erasure.details_removed)?;
        for id in &ids {
            append_signed_erasure(&tx, id, now, None, reason, sign)?;
        }
        let because = format!("details naming another person were erased: {reason}");
        for id in &mentioned {
            append_signed_erasure(&tx, id, now, None, &because, sign)?;
        }
        erasure.mentioned_in = mentioned.into_iter().map(String::from).collect();
        tx.commit()?;
        Ok(erasure)
    }

    /// Retention: erases the personal data of settled hires done (or last changed) before
    /// `before` (at most `limit` per call, oldest first), each with a signed `erased` event of
    /// `pass` saying `reason`. Mentions in other hires' details go when those hires reach
    /// retention themselves.
    pub fn erase_settled_before(
        &mut self,
        pass: PassId,
        before: DateTime<Utc>,
        limit: usize,
        reason: &str,
        now: DateTime<Utc>,
        sign: SignHash<'_>,
    ) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let ids: Vec<ApplicationId> = tx
            .prepare(&format!(
                "SELECT h.application_id FROM hires h
                 WHERE h.erased_at IS NULL AND h.status IN {SETTLED}
                   AND COALESCE(h.done_at, h.updated_at) < ?1
                   AND NOT EXISTS (SELECT 1 FROM mapped_values m
                        WHERE m.application_id = h.application_id AND m.drift = 'in_flight')
                 ORDER BY COALESCE(h.done_at, h.updated_at) LIMIT ?2"
            ))?
            .query_map(params![ms(before), limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in &ids {
            erase_hire(&tx, id, now)?;
            append_signed_erasure(&tx, id, now, Some(pass.0), reason, sign)?;
        }
        tx.commit()?;
        Ok(ids.len())
    }
}

/// An erasure event as verify needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedErasure {
    pub application_id: String,
    pub id: i64,
    pub hash: String,
    /// Hex Ed25519 signature over [`chain::erasure_message`] of the hash; `None` if unsigned.
    pub signature: Option<String>,
}

/// Statuses whose hire needs nothing more from hirebridge: their personal data may go.
const SETTLED: &str = "('done', 'withdrawn', 'skipped')";

fn is_settled(status: &str) -> bool {
    SETTLED.contains(&format!("'{status}'"))
}

/// One of the person's hires.
struct PersonHire {
    application_id: String,
    email: String,
    first_name: String,
    last_name: String,
    status: String,
}

/// The hires of the person behind `who`: the application with that id, or the hires with
/// that email — and in both cases every other hire with the same email (the same person's
/// other applications).
fn person_hires(tx: &rusqlite::Transaction<'_>, who: &str) -> rusqlite::Result<Vec<PersonHire>> {
    tx.prepare(
        "SELECT application_id, email, first_name, last_name, status FROM hires
         WHERE application_id = ?1
            OR (?1 LIKE '%@%' AND email = ?1 COLLATE NOCASE)
            OR (email <> '' AND email COLLATE NOCASE IN
                (SELECT email FROM hires WHERE application_id = ?1))
         ORDER BY first_seen_at, application_id",
    )?
    .query_map([who], |r| {
        Ok(PersonHire {
            application_id: r.get(0)?,
            email: r.get(1)?,
            first_name: r.get(2)?,
            last_name: r.get(3)?,
            status: r.get(4)?,
        })
    })?
    .collect()
}

/// Deletes other hires' event details that name one of `emails` or `names`, and clears their
/// errors that do; returns those hires. Matched in Rust, where lower-casing is Unicode's
/// (SQLite's `lower` folds ASCII only). A hire whose own name is one of `names` is a
/// namesake: its history is its own and stays.
fn erase_mentions(
    tx: &rusqlite::Transaction<'_>,
    ids: &[ApplicationId],
    emails: &[String],
    names: &[String],
    removed: &mut usize,
) -> rusqlite::Result<Vec<ApplicationId>> {
    if emails.is_empty() && names.is_empty() {
        return Ok(Vec::new());
    }
    let namesakes: std::collections::HashSet<String> = tx
        .prepare("SELECT application_id, first_name, last_name FROM hires")?
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                format!(
                    "{} {}",
                    r.get::<_, String>(1)?.trim(),
                    r.get::<_, String>(2)?.trim()
                )
                .to_lowercase(),
            ))
        })?
        .filter_map(|row| row.ok())
        .filter(|(_, name)| names.contains(name))
        .map(|(id, _)| id)
        .collect();
    let names_person = |text: &str, hire: &ApplicationId| {
        let text = text.to_lowercase();
        emails.iter().any(|e| text.contains(e.as_str()))
            || (!namesakes.contains(hire.as_str())
                && names.iter().any(|n| text.contains(n.as_str())))
    };
    let mut details: Vec<(i64, ApplicationId)> = Vec::new();
    {
        let mut stmt = tx.prepare(
            "SELECT d.event_id, e.application_id, d.detail FROM event_details d
             JOIN events e ON e.id = d.event_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let application_id: ApplicationId = r.get(1)?;
            if ids.contains(&application_id) {
                continue;
            }
            let detail: String = r.get(2)?;
            if names_person(&detail, &application_id) {
                details.push((r.get(0)?, application_id));
            }
        }
    }
    let mut mentioned: Vec<ApplicationId> = Vec::new();
    for (event_id, application_id) in details {
        tx.execute("DELETE FROM event_details WHERE event_id = ?1", [event_id])?;
        *removed += 1;
        mentioned.push(application_id);
    }
    let errored: Vec<(ApplicationId, String)> = tx
        .prepare("SELECT application_id, last_error FROM hires WHERE last_error IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (application_id, error) in errored {
        if !ids.contains(&application_id) && names_person(&error, &application_id) {
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
    Ok(mentioned)
}

/// Appends an `erased` event and signs its hash with the audit key.
fn append_signed_erasure(
    tx: &rusqlite::Transaction<'_>,
    application_id: &ApplicationId,
    now: DateTime<Utc>,
    pass: Option<i64>,
    reason: &str,
    sign: SignHash<'_>,
) -> Result<()> {
    append(
        tx,
        Unsigned {
            application_id,
            at_ms: ms(now),
            pass_id: pass,
            step: EventSubject::PersonalData.as_str(),
            outcome: EventOutcome::Erased.as_str(),
            detail: reason,
        },
        Some(sign),
    )
}

/// Whether this hire's personal data was erased (see `Ledger::unless_erased`).
pub(super) fn erased(tx: &rusqlite::Transaction<'_>, id: &str) -> rusqlite::Result<bool> {
    Ok(tx
        .query_row(
            "SELECT erased_at IS NOT NULL FROM hires WHERE application_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false))
}

/// Drops one hire's personal data: row fields, mapped values, plugin submits, its events'
/// details. Returns how many details went.
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

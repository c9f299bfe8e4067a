//! The ledger's memory of how far the hired listing has been read: when the last complete
//! pass started (what a listing of what changed reads back to) and when the last complete
//! full listing started (what `[schedule] full_every` counts from). Kept in the ledger, so
//! `sync` and `run` decide alike. Deciding which listing a pass reads is not this module's
//! job (see `crate::reconcile::incremental`).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Ledger, Result, ms, time};

const CHANGED_FROM: &str = "listing_complete_pass_at";
const FULL_AT: &str = "listing_full_at";

/// What the ledger remembers of earlier listings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ListingMarks {
    /// The start of the last pass that listed and completed, when the pass after it has not
    /// started yet (a pass under way, failed, stopped early or cut short by a crash leaves
    /// none: the next pass reads everything).
    pub last_complete_pass_at: Option<DateTime<Utc>>,
    /// The start of the last complete full listing.
    pub last_full_listing_at: Option<DateTime<Utc>>,
}

impl Ledger {
    /// The marks as they are, without changing them (for `status`).
    pub fn listing_marks(&self) -> Result<ListingMarks> {
        Ok(ListingMarks {
            last_complete_pass_at: self.meta_time(CHANGED_FROM)?,
            last_full_listing_at: self.meta_time(FULL_AT)?,
        })
    }

    /// A pass's listing begins: returns the marks, and forgets the last complete pass in the
    /// same transaction, so until this pass completes (and whatever ends it), the next one
    /// reads the whole listing.
    pub fn begin_listing(&mut self) -> Result<ListingMarks> {
        let tx = self.conn.transaction()?;
        let marks = ListingMarks {
            last_complete_pass_at: meta_time(&tx, CHANGED_FROM)?,
            last_full_listing_at: meta_time(&tx, FULL_AT)?,
        };
        tx.execute("DELETE FROM ledger_meta WHERE key = ?1", [CHANGED_FROM])?;
        tx.commit()?;
        Ok(marks)
    }

    /// The pass that started at `started` listed and completed; `full`: it read the whole
    /// listing.
    pub fn complete_listing(&mut self, started: DateTime<Utc>, full: bool) -> Result<()> {
        let tx = self.conn.transaction()?;
        let keys: &[&str] = if full {
            &[CHANGED_FROM, FULL_AT]
        } else {
            &[CHANGED_FROM]
        };
        for key in keys {
            tx.execute(
                "INSERT INTO ledger_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, ms(started).to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether some open hire (pending or failed) is due for its next attempt at `now`.
    pub fn has_due_hires(&self, now: DateTime<Utc>) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM hires WHERE status IN ('pending', 'failed')
                   AND (next_attempt_at IS NULL OR next_attempt_at <= ?1))",
            )?
            .query_row([ms(now)], |r| r.get(0))?)
    }

    fn meta_time(&self, key: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(meta_time(&self.conn, key)?)
    }
}

fn meta_time(conn: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT value FROM ledger_meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?;
    Ok(time(text.and_then(|t| t.parse().ok())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_pass_that_does_not_complete_leaves_no_mark_to_list_changes_from() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        assert_eq!(ledger.begin_listing().unwrap(), ListingMarks::default());
        let first = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        ledger.complete_listing(first, true).unwrap();
        let second = first + chrono::Duration::minutes(5);
        ledger.complete_listing(second, false).unwrap();
        let marks = ListingMarks {
            last_complete_pass_at: Some(second),
            last_full_listing_at: Some(first),
        };
        assert_eq!(ledger.listing_marks().unwrap(), marks);
        // A pass begins (and, say, fails): the next one finds no complete pass to follow.
        assert_eq!(ledger.begin_listing().unwrap(), marks);
        let after = ledger.begin_listing().unwrap();
        assert_eq!(after.last_complete_pass_at, None);
        assert_eq!(after.last_full_listing_at, Some(first));
    }
}

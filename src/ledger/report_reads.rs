//! The reads a report makes besides its rows: one consistent snapshot for a report that reads
//! the ledger more than once, and the HTML page's totals (counts by status, hires done per
//! week, time from hired to done per week) computed by SQLite, so a report of any size holds
//! a few numbers per week in memory, never a list of hires.
//!
//! Each total selects exactly the hires [`Ledger::for_each_entry`] hands over for the same
//! [`EntryFilter`]; the report's tests compare them with the totals of the rows.

use super::{EntryFilter, Ledger, LedgerError, Result, ms};
use crate::hire::HireStatus;
use chrono::NaiveDate;

/// The rows [`Ledger::for_each_entry`] selects, for the same three parameters.
const FILTERED: &str = "(?1 IS NULL OR status = ?1)
    AND (?2 IS NULL OR updated_at >= ?2)
    AND (?3 IS NULL OR updated_at < ?3)";

/// The Monday (UTC) that starts the ISO week of `done_at`, as `YYYY-MM-DD`: six days back,
/// then forward to the next Monday (the day itself when it is one).
const DONE_WEEK: &str = "date(done_at / 1000, 'unixepoch', '-6 days', 'weekday 1')";

fn week(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        LedgerError::Sql(rusqlite::Error::InvalidColumnType(
            0,
            format!("week {text:?}"),
            rusqlite::types::Type::Text,
        ))
    })
}

impl Ledger {
    /// Runs `read` inside one read transaction: every query it makes sees the ledger as it
    /// was at its first, whatever a running daemon commits meanwhile. A report that reads
    /// twice (widths, then rows) thus lays out exactly the rows it prints. A savepoint, so a
    /// snapshot may be taken inside another (it then shares the outer one's).
    pub fn read_snapshot<T, E: From<LedgerError>>(
        &self,
        read: impl FnOnce(&Ledger) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.conn
            .execute_batch("SAVEPOINT read_snapshot")
            .map_err(LedgerError::from)?;
        let out = read(self);
        // Nothing was written: releasing only ends the snapshot, whatever `read` returned.
        let released = self.conn.execute_batch("RELEASE read_snapshot");
        let out = out?;
        released.map_err(LedgerError::from)?;
        Ok(out)
    }

    /// How many hires `filter` selects, per status (every status, in [`HireStatus::ALL`]'s
    /// order, zeros included).
    pub fn count_by_status_matching(&self, filter: &EntryFilter) -> Result<Vec<(HireStatus, u64)>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT status, count(*) FROM hires WHERE {FILTERED} GROUP BY status"
        ))?;
        let found: Vec<(String, i64)> = stmt
            .query_map(params_for(filter), |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(HireStatus::ALL
            .into_iter()
            .map(|s| {
                let n = found
                    .iter()
                    .find(|(name, _)| name == s.as_str())
                    .map_or(0, |(_, n)| *n as u64);
                (s, n)
            })
            .collect())
    }

    /// Hires `filter` selects that are done, per ISO week of `done_at` (UTC, Monday first),
    /// oldest first; weeks without one are absent.
    pub fn done_per_week(&self, filter: &EntryFilter) -> Result<Vec<(NaiveDate, u64)>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {DONE_WEEK} AS week, count(*) FROM hires
             WHERE {FILTERED} AND done_at IS NOT NULL
             GROUP BY week ORDER BY week"
        ))?;
        let rows: Vec<(String, i64)> = stmt
            .query_map(params_for(filter), |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(w, n)| Ok((week(&w)?, n as u64)))
            .collect()
    }

    /// For each ISO week of `done_at`, the median and the longest time from `hired_at` to
    /// `done_at` in whole seconds (each time truncated to the second first, as reports show
    /// them; a negative span counts as 0), oldest week first. Hires without either time are
    /// left out. Each week's count first, then the spans in order (SQLite's sorter spills to
    /// a file when large), read once: only the middle ones and the last are kept.
    pub fn latency_per_week(&self, filter: &EntryFilter) -> Result<Vec<(NaiveDate, i64, i64)>> {
        let spans = format!(
            "WITH spans AS (
                 SELECT {DONE_WEEK} AS week, max(done_at / 1000 - hired_at / 1000, 0) AS span
                 FROM hires
                 WHERE {FILTERED} AND done_at IS NOT NULL AND hired_at IS NOT NULL
             )"
        );
        // Both reads in one snapshot: the counts are those of the spans that follow.
        self.read_snapshot(|ledger| {
            let mut counts = ledger.conn.prepare(&format!(
                "{spans} SELECT week, count(*) FROM spans GROUP BY week ORDER BY week"
            ))?;
            let counts: Vec<(String, i64)> = counts
                .query_map(params_for(filter), |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut ordered = ledger.conn.prepare(&format!(
                "{spans} SELECT span FROM spans ORDER BY week, span"
            ))?;
            let mut ordered = ordered.query(params_for(filter))?;
            let mut out = Vec::with_capacity(counts.len());
            for (w, n) in counts {
                // The lower and upper middle (the same rank when n is odd), and the last.
                let (mut lower, mut upper, mut longest) = (0, 0, 0);
                for rank in 1..=n {
                    let row = ordered
                        .next()?
                        .ok_or(LedgerError::Sql(rusqlite::Error::QueryReturnedNoRows))?;
                    let span: i64 = row.get(0)?;
                    if rank == (n + 1) / 2 {
                        lower = span;
                    }
                    if rank == n / 2 + 1 {
                        upper = span;
                    }
                    longest = span;
                }
                out.push((week(&w)?, (lower + upper) / 2, longest));
            }
            Ok(out)
        })
    }
}

/// The filter as [`FILTERED`]'s three parameters.
impl Ledger {
    /// Pinpoint plugin submits for the hires `filter` selects, and how many were answered
    /// with success.
    pub fn plugin_submits_matching(&self, filter: &EntryFilter) -> Result<(u64, u64)> {
        let (total, succeeded): (i64, i64) = self.conn.query_row(
            &format!(
                "SELECT COUNT(*), COALESCE(SUM(success = 1), 0) FROM plugin_submits
                 WHERE application_id IN (SELECT application_id FROM hires WHERE {FILTERED})"
            ),
            params_for(filter),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((total as u64, succeeded as u64))
    }
}

fn params_for(filter: &EntryFilter) -> (Option<&'static str>, Option<i64>, Option<i64>) {
    (
        filter.status.map(HireStatus::as_str),
        filter.updated_since.map(ms),
        filter.updated_until.map(ms),
    )
}

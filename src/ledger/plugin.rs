//! The ledger's side of Pinpoint's plugin form: each submit (Pinpoint's `generatedUuid`, the
//! application, the values HR approved) and the answer it was given, so a replay is answered
//! from here without a write, and the next create of that hire sends what HR approved.
//!
//! SQL only; what a submit means is `crate::plugin`'s business.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{EventOutcome, EventSubject, Ledger, Result, insert_event, insert_pass, ms, time};
use crate::hire::ApplicationId;

/// One recorded submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSubmit {
    pub id: i64,
    pub generated_uuid: Option<String>,
    pub application_id: String,
    pub submitted_at: DateTime<Utc>,
    /// The submitted values, a JSON object of field key → value.
    pub values_json: String,
    /// The answer given, once final; `None` while the hire is still under way.
    pub answer_json: Option<String>,
    pub success: Option<bool>,
}

const COLUMNS: &str =
    "id, generated_uuid, application_id, submitted_at, values_json, answer_json, success";

fn submit_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PluginSubmit> {
    Ok(PluginSubmit {
        id: row.get(0)?,
        generated_uuid: row.get(1)?,
        application_id: row.get(2)?,
        submitted_at: time(row.get(3)?).unwrap_or_default(),
        values_json: row.get(4)?,
        answer_json: row.get(5)?,
        success: row.get::<_, Option<i64>>(6)?.map(|s| s != 0),
    })
}

impl Ledger {
    /// The submit Pinpoint numbered `generated_uuid`, if one was recorded.
    pub fn plugin_submit_by_uuid(&self, generated_uuid: &str) -> Result<Option<PluginSubmit>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM plugin_submits WHERE generated_uuid = ?1"),
                [generated_uuid],
                submit_from_row,
            )
            .optional()?)
    }

    /// The latest submit for the application that was answered with success.
    pub fn plugin_success_for(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Option<PluginSubmit>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM plugin_submits
                     WHERE application_id = ?1 AND success = 1 ORDER BY id DESC LIMIT 1"
                ),
                [application_id],
                submit_from_row,
            )
            .optional()?)
    }

    /// The values of the latest submit for the application (by HiBob field path): what its
    /// next create sends in place of the mapping's values. A stored document that is not a
    /// map of strings (written by hand, say) reads as no values.
    pub fn plugin_values_for(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>> {
        // Asked for every hire a pass drafts: parsed once per connection.
        let json: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT values_json FROM plugin_submits
                 WHERE application_id = ?1 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([application_id], |r| r.get(0))
            .optional()?;
        Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Records a submit before anything is written for it, in one transaction with a pass of
    /// `trigger` and its `fields submitted` event carrying `detail` (what HR submitted), so
    /// `history` shows the submit where it happened and the values are recorded exactly when
    /// the next create can use them. Details are erasable; the pass and event are chained like
    /// any other. `None`: a submit with this `generated_uuid` is already recorded (a replay
    /// racing the first), and nothing was written.
    #[allow(clippy::too_many_arguments)]
    pub fn record_plugin_submit(
        &mut self,
        generated_uuid: Option<&str>,
        application_id: &ApplicationId,
        values_json: &str,
        trigger: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let tx = self.conn.transaction()?;
        // Checked again here, where it cannot change: once a create is under way (or done),
        // new values could send it again under another address — a second employee. The
        // submit records nothing and is answered as pending; the pipeline resolves the create.
        let employee_state: Option<String> = tx
            .query_row(
                "SELECT employee_state FROM hires WHERE application_id = ?1",
                [application_id],
                |r| r.get(0),
            )
            .optional()?;
        if matches!(employee_state.as_deref(), Some("in_flight" | "done")) {
            return Ok(None);
        }
        let inserted = tx.execute(
            "INSERT INTO plugin_submits (generated_uuid, application_id, submitted_at, values_json)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (generated_uuid) DO NOTHING",
            params![generated_uuid, application_id, ms(now), values_json],
        )?;
        if inserted != 1 {
            return Ok(None);
        }
        let submit = tx.last_insert_rowid();
        let pass = insert_pass(&tx, self.provenance.as_ref(), trigger, now)?;
        insert_event(
            &tx,
            application_id,
            now,
            pass,
            EventSubject::Fields,
            EventOutcome::Submitted,
            detail,
        )?;
        // The submit's own pass ends where it began: the hire is worked by the next one.
        tx.execute(
            "UPDATE passes SET finished_at = ?2, outcome = 'recorded' WHERE id = ?1",
            params![pass.0, ms(now)],
        )?;
        tx.commit()?;
        Ok(Some(submit))
    }

    /// Keeps the final answer of submit `id`.
    pub fn record_plugin_answer(
        &mut self,
        id: i64,
        answer_json: &str,
        success: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE plugin_submits SET answer_json = ?2, success = ?3, answered_at = ?4
             WHERE id = ?1",
            params![id, answer_json, i64::from(success), ms(now)],
        )?;
        Ok(())
    }

    /// Submits recorded, and how many were answered with success: for status and metrics.
    pub fn plugin_submit_counts(&self) -> Result<(u64, u64)> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(success = 1), 0) FROM plugin_submits",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }
}

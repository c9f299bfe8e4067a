//! The ledger's record of mapped field values: what the mapping gave each hire from Pinpoint,
//! what hirebridge wrote to HiBob, and drift (Pinpoint's values changing after the hire was
//! done) with the update that may follow. Every change is one row update plus one event
//! (step `fields` or `drift`), in one transaction, like every other transition.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{
    ApplicationId, EventOutcome, EventSubject, Ledger, PassId, Result, insert_event, ms, time,
};

/// Where a done hire's drift stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftState {
    /// Recorded for a person (`on_change = "report"`, or hirebridge wrote none of the fields).
    Reported,
    /// To be applied to HiBob (`on_change = "update"`).
    Pending,
    /// An update's intent is recorded and its outcome unknown: read back before anything else.
    InFlight,
    /// Applied to HiBob.
    Updated,
    /// HiBob's value was changed since hirebridge wrote it: not overwritten; a person decides.
    EditedInHibob,
    /// HiBob refused the update; a person decides.
    Failed,
}

impl DriftState {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftState::Reported => "reported",
            DriftState::Pending => "pending",
            DriftState::InFlight => "in_flight",
            DriftState::Updated => "updated",
            DriftState::EditedInHibob => "edited_in_hibob",
            DriftState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            DriftState::Reported,
            DriftState::Pending,
            DriftState::InFlight,
            DriftState::Updated,
            DriftState::EditedInHibob,
            DriftState::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }

    /// Whether a person has to look (the others resolve themselves).
    pub fn needs_a_person(self) -> bool {
        matches!(
            self,
            DriftState::Reported | DriftState::EditedInHibob | DriftState::Failed
        )
    }
}

/// One hire's mapped values and drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedRecord {
    pub application_id: String,
    /// Fingerprint of the mapping rules the values came from.
    pub mapping: String,
    pub rendered: BTreeMap<String, String>,
    /// `None` when hirebridge wrote none of the fields (the employee was adopted).
    pub written: Option<BTreeMap<String, String>>,
    pub recorded_at: DateTime<Utc>,
    pub drift: Option<DriftState>,
    pub drift_fields: Vec<String>,
    pub drift_values: Option<BTreeMap<String, String>>,
    pub drift_detail: Option<String>,
    pub drift_detected_at: Option<DateTime<Utc>>,
    pub drift_intent_at: Option<DateTime<Utc>>,
    pub drift_updated_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "application_id, mapping, rendered, written, recorded_at, drift, \
    drift_fields, drift_values, drift_detail, drift_detected_at, drift_intent_at, drift_updated_at";

fn values(text: Option<String>) -> Option<BTreeMap<String, String>> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn json(values: &BTreeMap<String, String>) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "{}".into())
}

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<MappedRecord> {
    let drift: Option<String> = row.get(5)?;
    let fields: Option<String> = row.get(6)?;
    Ok(MappedRecord {
        application_id: row.get(0)?,
        mapping: row.get(1)?,
        rendered: values(row.get(2)?).unwrap_or_default(),
        written: values(row.get(3)?),
        recorded_at: time(row.get(4)?).unwrap_or_default(),
        drift: drift.as_deref().and_then(DriftState::parse),
        drift_fields: fields
            .map(|f| {
                f.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        drift_values: values(row.get(7)?),
        drift_detail: row.get(8)?,
        drift_detected_at: time(row.get(9)?),
        drift_intent_at: time(row.get(10)?),
        drift_updated_at: time(row.get(11)?),
    })
}

/// Values as one line for an event: `work.title="Engineer", work.site="London"`.
pub fn describe(values: &BTreeMap<String, String>) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Ledger {
    /// The mapped values of these hires (those that have any).
    pub fn mapped_values(&self, ids: &[&str]) -> Result<HashMap<String, MappedRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM mapped_values WHERE application_id = ?1"
        ))?;
        let mut out = HashMap::new();
        for id in ids {
            if let Some(r) = stmt.query_row([id], record_from_row).optional()? {
                out.insert(r.application_id.clone(), r);
            }
        }
        Ok(out)
    }

    /// Every hire's mapped values.
    pub fn all_mapped_values(&self) -> Result<HashMap<String, MappedRecord>> {
        // A ledger from before v2 (read-only, not migrated) has no such table: no values.
        if self.schema_version()? < 2 {
            return Ok(HashMap::new());
        }
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM mapped_values"))?;
        let rows = stmt.query_map([], record_from_row)?;
        let mut out = HashMap::new();
        for r in rows {
            let r = r?;
            out.insert(r.application_id.clone(), r);
        }
        Ok(out)
    }

    /// The mapped values of hires with drift (reported, pending, updated, …) only: what
    /// `report` shows. Read through the drift index, so a large settled ledger costs nothing.
    pub fn drifted_values(&self) -> Result<HashMap<String, MappedRecord>> {
        if self.schema_version()? < 2 {
            return Ok(HashMap::new());
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM mapped_values WHERE drift IS NOT NULL"
        ))?;
        let rows = stmt.query_map([], record_from_row)?;
        let mut out = HashMap::new();
        for r in rows {
            let r = r?;
            out.insert(r.application_id.clone(), r);
        }
        Ok(out)
    }

    /// The intent to create an employee, with the values it will be given: one transaction,
    /// so the values hirebridge wrote are known whenever the create may have happened.
    #[allow(clippy::too_many_arguments)]
    pub fn record_create_intent(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        detail: &str,
        mapping: &str,
        rendered: &BTreeMap<String, String>,
        written: &BTreeMap<String, String>,
        start_date_from_pinpoint: bool,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let changed = tx
            .prepare_cached(
                "UPDATE hires SET employee_state = 'in_flight', employee_intent_at = ?2,
                attempts = attempts + 1, updated_at = ?2, start_date_source = ?3
             WHERE application_id = ?1",
            )?
            .execute(params![
                application_id,
                ms(now),
                if start_date_from_pinpoint {
                    "pinpoint"
                } else {
                    "offset"
                }
            ])?;
        if changed != 1 {
            return Err(super::LedgerError::Sql(
                rusqlite::Error::QueryReturnedNoRows,
            ));
        }
        upsert_baseline(&tx, application_id, now, mapping, rendered, Some(written))?;
        insert_event(
            &tx,
            application_id,
            now,
            pass,
            EventSubject::Employee,
            EventOutcome::Intent,
            detail,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records the mapped values as the drift baseline (an adopted employee, a hire done
    /// before this version, a changed mapping). `written` is what hirebridge wrote, if known.
    #[allow(clippy::too_many_arguments)]
    pub fn record_mapped_baseline(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        mapping: &str,
        rendered: &BTreeMap<String, String>,
        written: Option<&BTreeMap<String, String>>,
        detail: &str,
    ) -> Result<()> {
        self.unless_erased(application_id, |tx| {
            upsert_baseline(tx, application_id, now, mapping, rendered, written)?;
            insert_event(
                tx,
                application_id,
                now,
                pass,
                EventSubject::Fields,
                EventOutcome::Recorded,
                detail,
            )?;
            Ok(())
        })
    }

    /// The create turned into an adoption of someone else's employee: hirebridge wrote none
    /// of its fields, so none may be updated later.
    pub fn forget_written(&mut self, application_id: &ApplicationId) -> Result<()> {
        self.conn.execute(
            "UPDATE mapped_values SET written = NULL WHERE application_id = ?1",
            [application_id],
        )?;
        // Nor did it set the start date.
        self.conn.execute(
            "UPDATE hires SET start_date_source = NULL WHERE application_id = ?1",
            [application_id],
        )?;
        Ok(())
    }

    /// Pinpoint's values for a done hire changed: recorded as `state` (reported or pending).
    #[allow(clippy::too_many_arguments)]
    pub fn record_drift_detected(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        state: DriftState,
        fields: &[String],
        new_values: &BTreeMap<String, String>,
        detail: &str,
    ) -> Result<()> {
        self.unless_erased(application_id, |tx| {
            tx.execute(
                "UPDATE mapped_values SET drift = ?2, drift_fields = ?3, drift_values = ?4,
                drift_detail = ?5, drift_detected_at = ?6, drift_intent_at = NULL
             WHERE application_id = ?1",
                params![
                    application_id,
                    state.as_str(),
                    fields.join(","),
                    json(new_values),
                    detail,
                    ms(now)
                ],
            )?;
            insert_event(
                tx,
                application_id,
                now,
                pass,
                EventSubject::Drift,
                EventOutcome::Detected,
                detail,
            )?;
            Ok(())
        })
    }

    /// Pinpoint's values are back to the baseline: the drift is over.
    pub fn record_drift_resolved(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.unless_erased(application_id, |tx| {
            tx.execute(
                "UPDATE mapped_values SET drift = NULL, drift_fields = NULL, drift_values = NULL,
                drift_detail = NULL, drift_intent_at = NULL WHERE application_id = ?1",
                [application_id],
            )?;
            insert_event(
                tx,
                application_id,
                now,
                pass,
                EventSubject::Drift,
                EventOutcome::Resolved,
                "Pinpoint's values are back to the recorded ones",
            )?;
            Ok(())
        })
    }

    /// The intent to update HiBob: committed before the `PUT`.
    pub fn record_drift_intent(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        detail: &str,
    ) -> Result<()> {
        self.unless_erased(application_id, |tx| {
            tx.execute(
                "UPDATE mapped_values SET drift = 'in_flight', drift_intent_at = ?2
             WHERE application_id = ?1",
                params![application_id, ms(now)],
            )?;
            insert_event(
                tx,
                application_id,
                now,
                pass,
                EventSubject::Drift,
                EventOutcome::Intent,
                detail,
            )?;
            Ok(())
        })
    }

    /// HiBob holds the new values (updated now, or found so after an unknown outcome): they
    /// become the baseline and what hirebridge wrote.
    #[allow(clippy::too_many_arguments)]
    pub fn record_drift_updated(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        outcome: EventOutcome,
        rendered: &BTreeMap<String, String>,
        written: &BTreeMap<String, String>,
        detail: &str,
    ) -> Result<()> {
        self.unless_erased(application_id, |tx| {
            tx.execute(
                "UPDATE mapped_values SET rendered = ?2, written = ?3, drift = 'updated',
                drift_detail = ?4, drift_updated_at = ?5, recorded_at = ?5
             WHERE application_id = ?1",
                params![
                    application_id,
                    json(rendered),
                    json(written),
                    detail,
                    ms(now)
                ],
            )?;
            insert_event(
                tx,
                application_id,
                now,
                pass,
                EventSubject::Drift,
                outcome,
                detail,
            )?;
            Ok(())
        })
    }

    /// Any other outcome of an update attempt: not updated because edited in HiBob, refused,
    /// or to be retried (`state` pending, or in flight when the outcome is unknown).
    pub fn record_drift_outcome(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        state: DriftState,
        outcome: EventOutcome,
        detail: &str,
    ) -> Result<()> {
        self.unless_erased(application_id, |tx| {
            tx.execute(
                "UPDATE mapped_values SET drift = ?2, drift_detail = ?3 WHERE application_id = ?1",
                params![application_id, state.as_str(), detail],
            )?;
            insert_event(
                tx,
                application_id,
                now,
                pass,
                EventSubject::Drift,
                outcome,
                detail,
            )?;
            Ok(())
        })
    }
}

impl Ledger {
    /// Runs `write` in one transaction, unless the hire's personal data was erased: a drift
    /// check that read its page before an operator's `erase` must not write the person's
    /// values back.
    fn unless_erased(
        &mut self,
        application_id: &ApplicationId,
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        if super::audit::erased(&tx, application_id)? {
            return Ok(());
        }
        write(&tx)?;
        tx.commit()?;
        Ok(())
    }
}

pub(super) fn upsert_baseline(
    tx: &rusqlite::Transaction<'_>,
    application_id: &ApplicationId,
    now: DateTime<Utc>,
    mapping: &str,
    rendered: &BTreeMap<String, String>,
    written: Option<&BTreeMap<String, String>>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO mapped_values (application_id, mapping, rendered, written, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (application_id) DO UPDATE SET mapping = ?2, rendered = ?3, written = ?4,
            recorded_at = ?5, drift = NULL, drift_fields = NULL, drift_values = NULL,
            drift_detail = NULL, drift_detected_at = NULL, drift_intent_at = NULL",
    )?
    .execute(params![
        application_id,
        mapping,
        json(rendered),
        written.map(json),
        ms(now)
    ])?;
    Ok(())
}

//! Drift: a done hire whose mapped values change in Pinpoint later (a moved start date, a new
//! title). Detected from the listing itself by comparing what the mapping renders now with the
//! values recorded when the hire was done, so a steady-state pass makes no extra calls; HiBob
//! is called only for hires that drifted, and only with `on_change = "update"`.
//!
//! An update follows the intent-first rule: read HiBob's current values (a field changed there
//! since hirebridge wrote it is never overwritten), record the intent, `PUT`, record the
//! outcome. An update whose outcome is unknown is resolved by reading the values back.
//! [`decide`] is pure; [`Reconciler::check_drift`] applies its verdicts.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::policy::{self, Doing, ForHire, StepFailure};
use super::{PassSummary, Reconciler, Stop};
use crate::hire::{ApplicationId, EmployeeOrigin, EventOutcome, HireStatus, LedgerEntry, PassId};
use crate::ledger::{DriftState, LedgerError, MappedRecord, describe_values};
use crate::mapping::{Mapping, OnChange, Values, changed_fields};
use crate::pinpoint::HiredApplication;

/// What to do about one done hire's mapped values this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftAction {
    /// Nothing changed (the steady state).
    None,
    /// No values recorded for these rules yet: record them as the baseline.
    Baseline { keep_written: bool },
    /// New drift: record it as `state`.
    Detect {
        state: DriftState,
        fields: Vec<String>,
    },
    /// Pinpoint's values are back to the baseline.
    Resolve,
    /// Apply (or resolve an unknown outcome of) the update to these values.
    Update,
}

/// Pure: the recorded values and drift, what the mapping renders now → the action.
pub fn decide(
    record: Option<&MappedRecord>,
    rendered: &Values,
    mapping: &Mapping,
    origin: Option<EmployeeOrigin>,
) -> DriftAction {
    // HR made this employee in HiBob's New hire flow: what HR chose there (name, start date,
    // title, department) is HR's, never drift to report or correct.
    if origin == Some(EmployeeOrigin::HrFlow) {
        return DriftAction::None;
    }
    let Some(record) = record else {
        return DriftAction::Baseline {
            keep_written: false,
        };
    };
    // An update in flight is resolved whatever Pinpoint says now.
    if record.drift == Some(DriftState::InFlight) {
        return DriftAction::Update;
    }
    if record.mapping != mapping.fingerprint() {
        return DriftAction::Baseline { keep_written: true };
    }
    if &record.rendered == rendered {
        return match record.drift {
            Some(d) if d != DriftState::Updated => DriftAction::Resolve,
            _ => DriftAction::None,
        };
    }
    let already_known = record.drift_values.as_ref() == Some(rendered);
    let fields = changed_fields(&record.rendered, rendered);
    // Updated only when every changed field may be (a field kept to `report`, such as a
    // Work-table column HiBob's update does not change, makes the whole drift a person's).
    let updatable = fields
        .iter()
        .all(|f| mapping.on_change_of(f) == OnChange::Update)
        && record.written.is_some()
        && origin == Some(EmployeeOrigin::Created);
    match (already_known, record.drift) {
        (true, Some(DriftState::Pending)) => DriftAction::Update,
        (true, Some(_)) => DriftAction::None,
        _ => DriftAction::Detect {
            state: if updatable {
                DriftState::Pending
            } else {
                DriftState::Reported
            },
            fields,
        },
    }
}

/// The values an update sends: the drifted fields that still have a value (a field that no
/// longer renders is reported, never cleared in HiBob), with a start date kept off the past.
fn update_values(
    record: &MappedRecord,
    target: &Values,
    mapping: &Mapping,
    now: DateTime<Utc>,
) -> Values {
    changed_fields(&record.rendered, target)
        .into_iter()
        .filter_map(|f| {
            let v = target.get(&f)?.clone();
            let v = if f == crate::mapping::START_DATE {
                crate::mapping::parse_date(&v)
                    .map(|d| crate::employee::clamp_start(mapping, d, now).to_string())
                    .unwrap_or(v)
            } else {
                v
            };
            Some((f, v))
        })
        .collect()
}

impl Reconciler {
    /// Compares the done hires of one listed page with their recorded values and acts on the
    /// differences. Reads the ledger once for the page; calls HiBob only for drifted hires.
    pub(super) async fn check_drift(
        &self,
        pass: PassId,
        entries: &[LedgerEntry],
        by_id: &HashMap<&str, &HiredApplication>,
        summary: &mut PassSummary,
        shutdown: &tokio_util::sync::CancellationToken,
    ) -> Result<Option<Stop>, LedgerError> {
        let done: Vec<&LedgerEntry> = entries
            .iter()
            // An erased hire's values are gone with its personal data: its drift is no longer watched.
            .filter(|e| {
                e.status == HireStatus::Done
                    && e.hibob_employee_id().is_some()
                    && e.erased_at.is_none()
            })
            .collect();
        if done.is_empty() {
            return Ok(None);
        }
        let ids: Vec<&str> = done.iter().map(|e| e.application_id.as_str()).collect();
        let records = self.ledger().mapped_values(&ids)?;
        let mapping = &self.parts.settings.mapping;
        for entry in done {
            if shutdown.is_cancelled() {
                return Ok(Some(Stop::Shutdown));
            }
            let id = &entry.application_id;
            let Some(application) = by_id.get(id.as_str()) else {
                continue;
            };
            let rendered = match mapping.render(&application.source) {
                Ok(r) => r,
                Err(e) => {
                    // Nothing to compare; the hire is done and stays so.
                    tracing::debug!(application = %id, error = %e, "drift not checked");
                    continue;
                }
            };
            let record = records.get(id.as_str());
            let action = decide(record, &rendered, mapping, entry.employee_origin());
            if let Some(stop) = self
                .act(pass, entry, record, &rendered, action, summary)
                .await?
            {
                return Ok(Some(stop));
            }
        }
        Ok(None)
    }

    /// Applies one hire's drift action.
    async fn act(
        &self,
        pass: PassId,
        entry: &LedgerEntry,
        record: Option<&MappedRecord>,
        rendered: &Values,
        action: DriftAction,
        summary: &mut PassSummary,
    ) -> Result<Option<Stop>, LedgerError> {
        let id = &entry.application_id;
        let mapping = &self.parts.settings.mapping;
        let now = Utc::now();
        match (action, record) {
            (DriftAction::None, _) => {}
            (DriftAction::Baseline { keep_written }, _) => {
                let written = record
                    .and_then(|r| r.written.clone())
                    .filter(|_| keep_written);
                let why = if record.is_some() {
                    "the mapping changed in the config; Pinpoint's values recorded anew"
                } else {
                    "Pinpoint's mapped values recorded for drift"
                };
                self.ledger().record_mapped_baseline(
                    id,
                    pass,
                    now,
                    &mapping.fingerprint(),
                    rendered,
                    written.as_ref(),
                    &format!("{why}: {}", describe_values(rendered)),
                )?;
            }
            (DriftAction::Resolve, _) => self.ledger().record_drift_resolved(id, pass, now)?,
            (DriftAction::Detect { state, fields }, Some(record)) => {
                let detail = drift_detail(record, rendered, &fields, state, mapping);
                tracing::info!(application = %id, fields = %fields.join(","), drift = state.as_str(), "mapped values changed in Pinpoint");
                self.ledger()
                    .record_drift_detected(id, pass, now, state, &fields, rendered, &detail)?;
                summary.drifted += 1;
                if state == DriftState::Pending {
                    let mut record = record.clone();
                    record.drift = Some(DriftState::Pending);
                    record.drift_values = Some(rendered.clone());
                    return self.update(pass, entry, &record).await;
                }
            }
            (DriftAction::Update, Some(record)) => return self.update(pass, entry, record).await,
            // `decide` detects and updates only what has a record.
            (DriftAction::Detect { .. } | DriftAction::Update, None) => {}
        }
        Ok(None)
    }

    /// Brings HiBob to the drifted values, unless a person changed them there since.
    async fn update(
        &self,
        pass: PassId,
        entry: &LedgerEntry,
        record: &MappedRecord,
    ) -> Result<Option<Stop>, LedgerError> {
        let id = &entry.application_id;
        let (Some(employee_id), Some(target)) = (&entry.hibob_employee_id(), &record.drift_values)
        else {
            return Ok(None);
        };
        let now = Utc::now();
        let values = update_values(record, target, &self.parts.settings.mapping, now);
        if values.is_empty() {
            // Only fields that no longer render: reported, nothing to send.
            self.ledger().record_drift_outcome(
                id,
                pass,
                now,
                DriftState::Reported,
                EventOutcome::Detected,
                "the changed fields no longer have a value in Pinpoint; HiBob left as is",
            )?;
            return Ok(None);
        }
        let fields: Vec<String> = values.keys().cloned().collect();
        let current = match self.parts.hibob.employee_values(employee_id, &fields).await {
            Ok(Some(current)) => current,
            Ok(None) => {
                let failure = StepFailure::EmployeeNotShown {
                    employee_id: employee_id.to_string(),
                };
                return self.update_failed(pass, record, id, &failure);
            }
            Err(e) => return self.update_failed(pass, record, id, &StepFailure::Api(e)),
        };
        let change = Change {
            employee_id,
            values: &values,
            target,
            new_written: &record
                .written
                .iter()
                .flatten()
                .chain(&values)
                .map(|(f, v)| (f.clone(), v.clone()))
                .collect(),
        };
        self.follow_hibob(pass, id, record, &current, change).await
    }

    /// Acts on what HiBob holds now: done if it holds the new values, a person's call if
    /// someone edited a field there, else the update is sent.
    async fn follow_hibob(
        &self,
        pass: PassId,
        id: &ApplicationId,
        record: &MappedRecord,
        current: &BTreeMap<String, Option<String>>,
        change: Change<'_>,
    ) -> Result<Option<Stop>, LedgerError> {
        let now = Utc::now();
        let written = record.written.clone().unwrap_or_default();
        let fields: Vec<String> = change.values.keys().cloned().collect();
        match compare(&fields, current, &written, change.values) {
            InHibob::Target => {
                // Our earlier update landed (or someone made the same change).
                let outcome = if record.drift == Some(DriftState::InFlight) {
                    EventOutcome::Found
                } else {
                    EventOutcome::Updated
                };
                let detail = format!("HiBob holds {}", describe_values(change.values));
                self.ledger().record_drift_updated(
                    id,
                    pass,
                    now,
                    outcome,
                    change.target,
                    change.new_written,
                    &detail,
                )?;
                Ok(None)
            }
            InHibob::Edited(edited) => {
                let detail = format!(
                    "edited in HiBob, not updated: {}; decide in HiBob which value is right",
                    edited.join("; ")
                );
                tracing::warn!(application = %id, "{detail}");
                self.ledger().record_drift_outcome(
                    id,
                    pass,
                    now,
                    DriftState::EditedInHibob,
                    EventOutcome::Edited,
                    &detail,
                )?;
                Ok(None)
            }
            // HiBob still holds what we wrote. After an unknown outcome, HiBob may not show
            // a landed update yet: wait out its read lag before sending again.
            InHibob::Written
                if record.drift == Some(DriftState::InFlight)
                    && record
                        .drift_intent_at
                        .is_some_and(|at| now < at + self.parts.settings.read_lag) =>
            {
                Ok(None)
            }
            InHibob::Written => self.send_update(pass, id, record, current, change).await,
        }
    }

    /// Records the intent, sends what HiBob does not hold yet, records the outcome.
    async fn send_update(
        &self,
        pass: PassId,
        id: &ApplicationId,
        record: &MappedRecord,
        current: &BTreeMap<String, Option<String>>,
        change: Change<'_>,
    ) -> Result<Option<Stop>, LedgerError> {
        let Change {
            employee_id,
            values,
            target,
            new_written,
        } = change;
        self.ledger().record_drift_intent(
            id,
            pass,
            Utc::now(),
            &format!("update employee {employee_id}: {}", describe_values(values)),
        )?;
        let remaining: Values = values
            .iter()
            .filter(|(f, v)| current.get(*f).cloned().flatten().as_ref() != Some(*v))
            .map(|(f, v)| (f.clone(), v.clone()))
            .collect();
        match self
            .parts
            .hibob
            .update_employee(employee_id, &remaining)
            .await
        {
            Ok(()) => {
                tracing::info!(application = %id, employee = %employee_id, "updated HiBob employee");
                self.ledger().record_drift_updated(
                    id,
                    pass,
                    Utc::now(),
                    EventOutcome::Updated,
                    target,
                    new_written,
                    &format!("updated {}", describe_values(values)),
                )?;
                Ok(None)
            }
            Err(e) => {
                let mut record = record.clone();
                record.drift = Some(DriftState::InFlight);
                self.update_failed(pass, &record, id, &StepFailure::Api(e))
            }
        }
    }

    /// Records a failed read or update, as the policy says. Transient: retried next pass (an
    /// update whose outcome is unknown stays in flight, to be read back); refused: a person
    /// decides.
    fn update_failed(
        &self,
        pass: PassId,
        record: &MappedRecord,
        id: &ApplicationId,
        failure: &StepFailure,
    ) -> Result<Option<Stop>, LedgerError> {
        let now = Utc::now();
        // A drift update is retried every pass, never escalated: its failures are not the
        // hire's step failures.
        let (state, detail) = match policy::for_hire(id, Doing::UpdateFields, failure, 0) {
            ForHire::StopPass { .. } | ForHire::Interrupted => {
                tracing::error!(application = %id, error = %failure, "credentials refused; stopping the pass");
                return Ok(Some(Stop::Refused(failure.to_string())));
            }
            ForHire::Park { .. } => (
                DriftState::Failed,
                format!(
                    "HiBob refused the update: {failure}; correct the value in Pinpoint or update HiBob by hand"
                ),
            ),
            ForHire::Retry {
                message,
                outcome_unknown,
                ..
            } => {
                tracing::warn!(application = %id, error = %message, "update will be retried");
                let state = if outcome_unknown || record.drift == Some(DriftState::InFlight) {
                    DriftState::InFlight
                } else {
                    DriftState::Pending
                };
                (state, format!("{message} (tried again next pass)"))
            }
        };
        self.ledger()
            .record_drift_outcome(id, pass, now, state, EventOutcome::Failed, &detail)?;
        Ok(None)
    }
}

/// An update to send: to whom, which values, and what the ledger then records.
struct Change<'a> {
    employee_id: &'a str,
    values: &'a Values,
    target: &'a Values,
    new_written: &'a Values,
}

/// What HiBob holds of the fields an update would change.
#[derive(Debug, PartialEq, Eq)]
enum InHibob {
    /// The new values already.
    Target,
    /// Someone changed these fields there since hirebridge wrote them (each in words).
    Edited(Vec<String>),
    /// What hirebridge wrote (or, field by field, either that or the new value: an earlier
    /// update may have applied part of its calls before the rest failed).
    Written,
}

/// Pure: HiBob's `current` values against what was `written` and the new `values`.
fn compare(
    fields: &[String],
    current: &BTreeMap<String, Option<String>>,
    written: &Values,
    values: &Values,
) -> InHibob {
    let now_in_hibob = |f: &String| current.get(f).cloned().flatten();
    if fields
        .iter()
        .all(|f| now_in_hibob(f) == values.get(f).cloned())
    {
        return InHibob::Target;
    }
    // A field already at its new value is no edit: only what holds neither value is.
    let edited: Vec<String> = fields
        .iter()
        .filter(|f| {
            let held = now_in_hibob(f);
            held != written.get(*f).cloned() && held != values.get(*f).cloned()
        })
        .map(|f| {
            format!(
                "{f}: hirebridge wrote {:?}, HiBob now has {:?}, Pinpoint now says {:?}",
                written.get(f).map_or("", String::as_str),
                now_in_hibob(f).unwrap_or_default(),
                values.get(f).map_or("", String::as_str)
            )
        })
        .collect();
    if edited.is_empty() {
        InHibob::Written
    } else {
        InHibob::Edited(edited)
    }
}

/// The drift in words: each field's recorded and new value, and what happens next.
fn drift_detail(
    record: &MappedRecord,
    rendered: &Values,
    fields: &[String],
    state: DriftState,
    mapping: &Mapping,
) -> String {
    let changes = fields
        .iter()
        .map(|f| {
            format!(
                "{f}: {:?} → {:?}",
                record.rendered.get(f).map_or("", String::as_str),
                rendered.get(f).map_or("", String::as_str)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let next = match state {
        DriftState::Pending => "HiBob will be updated unless its value was edited there",
        _ if fields
            .iter()
            .any(|f| mapping.on_change_of(f) == OnChange::Report) =>
        {
            "reported (on_change = \"report\" for a changed field); update HiBob if it should follow"
        }
        _ if mapping.on_change == OnChange::Update => {
            "not updated: hirebridge did not write this employee's fields (adopted); decide in HiBob"
        }
        _ => "reported (mapping.on_change = \"report\"); update HiBob if it should follow",
    };
    format!("changed in Pinpoint: {changes}; {next}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn record(mapping: &Mapping, rendered: Values) -> MappedRecord {
        MappedRecord {
            application_id: "1".into(),
            mapping: mapping.fingerprint(),
            written: Some(rendered.clone()),
            rendered,
            recorded_at: Utc::now(),
            drift: None,
            drift_fields: vec![],
            drift_values: None,
            drift_detail: None,
            drift_detected_at: None,
            drift_intent_at: None,
            drift_updated_at: None,
        }
    }

    #[test]
    fn unchanged_values_need_nothing_and_changed_ones_are_detected_once() {
        let report = Mapping::default_for("London");
        let before = values(&[("work.startDate", "2026-12-07"), ("work.title", "Engineer")]);
        let after = values(&[("work.startDate", "2026-12-14"), ("work.title", "Engineer")]);
        let mut r = record(&report, before.clone());
        let created = Some(EmployeeOrigin::Created);
        assert_eq!(
            decide(Some(&r), &before, &report, created),
            DriftAction::None
        );
        assert_eq!(
            decide(Some(&r), &after, &report, created),
            DriftAction::Detect {
                state: DriftState::Reported,
                fields: vec!["work.startDate".into()]
            }
        );
        r.drift = Some(DriftState::Reported);
        r.drift_values = Some(after.clone());
        assert_eq!(
            decide(Some(&r), &after, &report, created),
            DriftAction::None
        );
        assert_eq!(
            decide(Some(&r), &before, &report, created),
            DriftAction::Resolve
        );
        assert_eq!(
            decide(None, &before, &report, created),
            DriftAction::Baseline {
                keep_written: false
            }
        );
    }

    #[test]
    fn update_mode_updates_only_what_hirebridge_created_and_resolves_in_flight_first() {
        let report = |field: &str| crate::mapping::FieldRule {
            field: field.into(),
            template: "{{ job.title }}".into(),
            lookup: Default::default(),
            on_change: Some(OnChange::Report),
        };
        let update = Mapping::new(
            vec![
                report("work.title"),
                report("work.department"),
                report("work.site"),
            ],
            OnChange::Update,
            false,
            "London",
        )
        .unwrap();
        let before = values(&[("home.mobilePhone", "+44 1")]);
        let after = values(&[("home.mobilePhone", "+44 2")]);
        let mut r = record(&update, before.clone());
        assert!(matches!(
            decide(Some(&r), &after, &update, Some(EmployeeOrigin::Created)),
            DriftAction::Detect {
                state: DriftState::Pending,
                ..
            }
        ));
        assert!(matches!(
            decide(Some(&r), &after, &update, Some(EmployeeOrigin::Adopted)),
            DriftAction::Detect {
                state: DriftState::Reported,
                ..
            }
        ));
        // A changed field kept to "report" makes the whole drift a person's.
        let with_title = values(&[("home.mobilePhone", "+44 2"), ("work.title", "Lead")]);
        assert!(matches!(
            decide(
                Some(&r),
                &with_title,
                &update,
                Some(EmployeeOrigin::Created)
            ),
            DriftAction::Detect {
                state: DriftState::Reported,
                ..
            }
        ));
        r.drift = Some(DriftState::InFlight);
        assert_eq!(
            decide(Some(&r), &before, &update, Some(EmployeeOrigin::Created)),
            DriftAction::Update
        );
        r.drift = None;
        r.mapping = "another mapping".into();
        assert_eq!(
            decide(Some(&r), &after, &update, Some(EmployeeOrigin::Created)),
            DriftAction::Baseline { keep_written: true }
        );
    }
}

//! The ledger's side of HR's own hire flow (`[hibob] hire_flow = "pending"`): a hire sent to
//! HiBob's ATS Pending hires, whether Bob took it, the hires waiting for HR, and what a person
//! does about them (`link`, `retry --resend`).
//!
//! The intent is committed before the post and is itself the record that the hire went to HR:
//! nothing here ever makes a sent hire sendable again except [`Ledger::resend`], which only a
//! person's command calls.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{
    ApplicationId, ENTRY_COLUMNS, EmployeeId, EventOutcome, EventSubject, Ledger, LedgerEntry,
    LedgerError, PassId, Result, entry_from_row, ms,
};

/// The values a hire went to HR with, kept as a create's are.
pub struct SentValues<'a> {
    /// The mapping's fingerprint.
    pub mapping: &'a str,
    /// What the mapping rendered from Pinpoint.
    pub rendered: &'a std::collections::BTreeMap<String, String>,
    /// What the document carries for HiBob's fields.
    pub written: &'a std::collections::BTreeMap<String, String>,
}

/// Why a person's command cannot act on a hire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HrCommandRefused {
    #[error("no hire {0} in the ledger; `hirebridge report` lists the hires it knows")]
    Unknown(ApplicationId),
    #[error(
        "hire {0} already has its HiBob employee ({1}); nothing to link (`hirebridge history {0}` shows how)"
    )]
    AlreadyLinked(ApplicationId, EmployeeId),
    #[error(
        "hire {0} is {1}: nothing is written for it; run `hirebridge retry {0}` first if it should be worked"
    )]
    NotOpen(ApplicationId, &'static str),
    #[error(
        "hire {0} was never sent to HiBob's Pending hires; `hirebridge retry {0}` works it again"
    )]
    NeverSent(ApplicationId),
}

impl Ledger {
    /// Records the intent to send a hire to HiBob's Pending hires, before the post: the hire
    /// is `waiting_for_hr` with its delivery unconfirmed, so a crash during the post leaves a
    /// hire that is looked for, never sent again. The values sent are kept as a create's
    /// are: the lookups find HR's employee under the work address the hire went out with.
    pub fn record_hr_intent(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        detail: &str,
        sent: &SentValues<'_>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let changed = tx.execute(
            "UPDATE hires SET employee_state = 'with_hr', hr_delivery = 'unconfirmed',
                employee_intent_at = ?2, attempts = attempts + 1, hr_posts = hr_posts + 1,
                status = 'waiting_for_hr', failures = 0, park_kind = NULL, last_error = NULL,
                next_attempt_at = NULL, updated_at = ?2
             WHERE application_id = ?1",
            params![application_id, ms(now)],
        )?;
        if changed != 1 {
            return Err(LedgerError::Sql(rusqlite::Error::QueryReturnedNoRows));
        }
        super::mapped::upsert_baseline(
            &tx,
            application_id,
            now,
            sent.mapping,
            sent.rendered,
            Some(sent.written),
        )?;
        super::insert_event(
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

    /// Bob answered the post with success.
    pub fn record_hr_delivered(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        detail: &str,
    ) -> Result<()> {
        self.transition(
            application_id,
            pass,
            now,
            (EventSubject::Employee, EventOutcome::SentToHr, detail),
            "UPDATE hires SET hr_delivery = 'delivered', last_error = NULL, updated_at = ?2
             WHERE application_id = ?1",
            &[&application_id, &ms(now)],
        )
    }

    /// The post's outcome is unknown: it stays unconfirmed (and is never sent again by
    /// itself); `problem` is shown by `status` and `report`.
    pub fn record_hr_unconfirmed(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        problem: &str,
    ) -> Result<()> {
        self.transition(
            application_id,
            pass,
            now,
            (EventSubject::Employee, EventOutcome::Unconfirmed, problem),
            "UPDATE hires SET last_error = ?2, updated_at = ?3 WHERE application_id = ?1",
            &[&application_id, &problem, &ms(now)],
        )
    }

    /// Bob refused the post, or it was never sent (the connection failed first): nothing
    /// reached HR's Pending hires, so the hire is back to needing its employee. The caller
    /// then records the retry or the park the error policy decides.
    pub fn record_hr_not_sent(
        &mut self,
        application_id: &ApplicationId,
        pass: PassId,
        now: DateTime<Utc>,
        detail: &str,
    ) -> Result<()> {
        self.transition(
            application_id,
            pass,
            now,
            (EventSubject::Employee, EventOutcome::Failed, detail),
            "UPDATE hires SET employee_state = 'pending', hr_delivery = NULL,
                employee_intent_at = NULL, hr_posts = MAX(hr_posts - 1, 0), status = 'pending',
                updated_at = ?2
             WHERE application_id = ?1",
            &[&application_id, &ms(now)],
        )
    }

    /// Hires waiting for HR that the listing which started at `listed_from` did not show (a
    /// listing of what changed shows few of them) and that are due: each pass looks for their
    /// employees. Oldest first, at most `limit`.
    pub fn waiting_for_hr_unlisted(
        &self,
        listed_from: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<LedgerEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM hires
             WHERE status = 'waiting_for_hr' AND last_seen_at < ?1
               AND (next_attempt_at IS NULL OR next_attempt_at <= ?2)
             ORDER BY last_seen_at LIMIT ?3"
        ))?;
        let rows = stmt
            .query_map(
                params![ms(listed_from), ms(now), limit as i64],
                entry_from_row,
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// How many posts to HiBob's Hire API a hire has had (one, unless a person resent it).
    pub fn hr_posts(&self, application_id: &ApplicationId) -> Result<u32> {
        Ok(self
            .conn
            .query_row(
                "SELECT hr_posts FROM hires WHERE application_id = ?1",
                [application_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// A person links a hire to the employee HR made (under addresses hirebridge cannot
    /// match): recorded with who did it; the next pass finishes the hire as usual (the CV if
    /// Bob did not pull it, the comment back to Pinpoint).
    pub fn link_employee(
        &mut self,
        application_id: &ApplicationId,
        employee_id: &EmployeeId,
        now: DateTime<Utc>,
    ) -> std::result::Result<(), LinkError> {
        let entry = self
            .entry(application_id)?
            .ok_or_else(|| HrCommandRefused::Unknown(application_id.clone()))?;
        if let Some(id) = entry.employee_id() {
            return Err(HrCommandRefused::AlreadyLinked(application_id.clone(), id.clone()).into());
        }
        if matches!(
            entry.status,
            super::HireStatus::Skipped | super::HireStatus::Withdrawn
        ) {
            return Err(
                HrCommandRefused::NotOpen(application_id.clone(), entry.status.as_str()).into(),
            );
        }
        let detail = format!(
            "linked by {} to the HiBob employee {employee_id} (made by HR's New hire flow)",
            self.operator_or("an operator")
        );
        let tx = self.conn.transaction().map_err(LedgerError::from)?;
        tx.execute(
            "UPDATE hires SET employee_state = 'done', employee_origin = 'hr_flow',
                hibob_employee_id = ?2, employee_done_at = ?3, status = 'pending', failures = 0,
                park_kind = NULL, last_error = NULL, next_attempt_at = NULL, updated_at = ?3
             WHERE application_id = ?1",
            params![application_id, employee_id, ms(now)],
        )
        .map_err(LedgerError::from)?;
        insert_operator_event(&tx, application_id, now, EventOutcome::Linked, &detail)?;
        tx.commit().map_err(LedgerError::from)?;
        Ok(())
    }

    /// A person asks for a hire to be sent again (`retry --resend`): the only way a hire
    /// reaches HiBob's Hire API twice. Under `hire_flow = "direct"` the next pass creates it
    /// (after the usual lookup) instead.
    pub fn resend(
        &mut self,
        application_id: &ApplicationId,
        now: DateTime<Utc>,
    ) -> std::result::Result<(), LinkError> {
        let entry = self
            .entry(application_id)?
            .ok_or_else(|| HrCommandRefused::Unknown(application_id.clone()))?;
        if entry.with_hr().is_none() {
            return Err(HrCommandRefused::NeverSent(application_id.clone()).into());
        }
        let detail = format!(
            "{} asked to send it again (retry --resend): the pending hire sent before should be dismissed in HiBob",
            self.operator_or("an operator")
        );
        let tx = self.conn.transaction().map_err(LedgerError::from)?;
        tx.execute(
            "UPDATE hires SET employee_state = 'pending', hr_delivery = NULL,
                employee_intent_at = NULL, status = 'pending', failures = 0, park_kind = NULL,
                last_error = NULL, next_attempt_at = NULL, updated_at = ?2
             WHERE application_id = ?1",
            params![application_id, ms(now)],
        )
        .map_err(LedgerError::from)?;
        insert_operator_event(&tx, application_id, now, EventOutcome::Retry, &detail)?;
        tx.commit().map_err(LedgerError::from)?;
        Ok(())
    }

    fn operator_or(&self, fallback: &str) -> String {
        match self.provenance.as_ref().and_then(|p| p.operator.as_deref()) {
            Some(who) => format!("an operator ({who})"),
            None => fallback.to_owned(),
        }
    }
}

/// An operator's event: no pass.
fn insert_operator_event(
    tx: &rusqlite::Transaction<'_>,
    application_id: &ApplicationId,
    now: DateTime<Utc>,
    outcome: EventOutcome,
    detail: &str,
) -> Result<()> {
    super::audit::append_event(
        tx,
        application_id,
        ms(now),
        None,
        match outcome {
            EventOutcome::Linked => EventSubject::Employee.as_str(),
            _ => EventSubject::Hire.as_str(),
        },
        outcome.as_str(),
        detail,
    )?;
    Ok(())
}

/// Why `link` or `retry --resend` did nothing.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Refused(#[from] HrCommandRefused),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hire::{EmployeeOrigin, EmployeeStep, HireStatus, HrDelivery, ObservedHire};
    use chrono::TimeZone;
    use std::collections::BTreeMap;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap()
    }

    fn ada() -> ObservedHire<'static> {
        ObservedHire {
            application_id: "4242",
            email: "ada@example.com",
            first_name: "Ada",
            last_name: "Lovelace",
            job_title: Some("Engineer"),
            hired_at: None,
            before_cutoff: None,
        }
    }

    fn id() -> ApplicationId {
        "4242".into()
    }

    /// A ledger file with Ada seen, and the pass that saw her.
    fn seen() -> (tempfile::TempDir, std::path::PathBuf, Ledger, PassId) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite3");
        let mut ledger = Ledger::open(&path).unwrap();
        let pass = ledger.begin_pass("sync", now()).unwrap();
        ledger.observe(pass, now(), &[ada()]).unwrap();
        (dir, path, ledger, pass)
    }

    fn send(ledger: &mut Ledger, pass: PassId) {
        let rendered = BTreeMap::from([("work.title".to_owned(), "Engineer".to_owned())]);
        let sent = SentValues {
            mapping: "m1",
            rendered: &rendered,
            written: &rendered,
        };
        ledger
            .record_hr_intent(&id(), pass, now(), "send Ada to HR", &sent)
            .unwrap();
    }

    #[test]
    fn the_intent_alone_makes_the_hire_wait_for_hr_unconfirmed_and_a_crash_image_says_so() {
        let (_dir, path, mut ledger, pass) = seen();
        send(&mut ledger, pass);
        drop(ledger);
        // What a restart after a crash during the post reads.
        let ledger = Ledger::open(&path).unwrap();
        let e = ledger.entry(&id()).unwrap().unwrap();
        assert_eq!(e.status, HireStatus::WaitingForHr);
        assert_eq!(e.with_hr(), Some((now(), HrDelivery::Unconfirmed)));
        assert!(e.status.is_settled(), "waiting for HR never fails a sync");
        assert!(e.is_due(now()), "looked for every pass");
        assert_eq!(ledger.hr_posts(&id()).unwrap(), 1);
        assert_eq!(
            ledger.mapped_values(&["4242"]).unwrap()["4242"].rendered["work.title"],
            "Engineer",
            "the values it went out with are kept for the lookups"
        );
    }

    #[test]
    fn delivery_is_recorded_and_only_a_refusal_makes_the_hire_sendable_again() {
        let (_dir, _path, mut ledger, pass) = seen();
        send(&mut ledger, pass);
        ledger
            .record_hr_delivered(&id(), pass, now(), "sent")
            .unwrap();
        let e = ledger.entry(&id()).unwrap().unwrap();
        assert_eq!(e.with_hr(), Some((now(), HrDelivery::Delivered)));

        let (_dir, _path, mut ledger, pass) = seen();
        send(&mut ledger, pass);
        ledger
            .record_hr_unconfirmed(&id(), pass, now(), "delivery unconfirmed (timeout)")
            .unwrap();
        let e = ledger.entry(&id()).unwrap().unwrap();
        assert_eq!(e.with_hr().map(|w| w.1), Some(HrDelivery::Unconfirmed));
        assert_eq!(e.status, HireStatus::WaitingForHr);
        // A failed lookup of a waiting hire leaves it waiting (with a backoff), not failed.
        ledger
            .record_failure(
                &id(),
                crate::hire::StepKind::Employee,
                "search failed",
                now() + chrono::Duration::minutes(5),
                pass,
                now(),
            )
            .unwrap();
        let e = ledger.entry(&id()).unwrap().unwrap();
        assert_eq!(e.status, HireStatus::WaitingForHr);
        assert!(!e.is_due(now()));

        let (_dir, _path, mut ledger, pass) = seen();
        send(&mut ledger, pass);
        ledger
            .record_hr_not_sent(&id(), pass, now(), "refused (400)")
            .unwrap();
        let e = ledger.entry(&id()).unwrap().unwrap();
        assert_eq!(e.employee, EmployeeStep::Pending);
        assert_eq!(e.status, HireStatus::Pending);
        assert_eq!(ledger.hr_posts(&id()).unwrap(), 0, "nothing reached HR");
    }

    #[test]
    fn retry_looks_again_and_only_resend_sends_again() {
        let (_dir, _path, mut ledger, pass) = seen();
        send(&mut ledger, pass);
        ledger
            .record_parked(
                &id(),
                crate::hire::StepKind::Employee,
                crate::hire::ParkKind::Invalid,
                "several people",
                pass,
                now(),
            )
            .unwrap();
        assert_eq!(ledger.retry(Some("4242"), now()).unwrap(), 1);
        let e = ledger.entry(&id()).unwrap().unwrap();
        assert_eq!(e.status, HireStatus::WaitingForHr, "retry never re-sends");
        assert!(e.with_hr().is_some());

        ledger.resend(&id(), now()).unwrap();
        let e = ledger.entry(&id()).unwrap().unwrap();
        assert_eq!(e.employee, EmployeeStep::Pending);
        assert_eq!(e.status, HireStatus::Pending);
        let events = ledger.events(&id()).unwrap();
        assert!(
            events
                .iter()
                .any(|ev| ev.outcome == "retry" && ev.detail.contains("--resend")),
            "the resend is in the hire's history"
        );
        // Pending again: nothing to resend until it is sent.
        let refused = ledger.resend(&id(), now()).unwrap_err();
        assert!(refused.to_string().contains("never sent"), "{refused}");
        let unknown = ledger.resend(&"nope".into(), now()).unwrap_err();
        assert!(unknown.to_string().contains("no hire nope"), "{unknown}");
    }

    #[test]
    fn a_person_links_a_hire_to_hrs_employee_once_and_the_link_is_in_its_history() {
        let (_dir, _path, mut ledger, pass) = seen();
        send(&mut ledger, pass);
        ledger.link_employee(&id(), &"901".into(), now()).unwrap();
        let e = ledger.entry(&id()).unwrap().unwrap();
        assert_eq!(e.employee_id(), Some(&"901".into()));
        assert_eq!(e.employee_origin(), Some(EmployeeOrigin::HrFlow));
        assert_eq!(e.status, HireStatus::Pending, "the next pass finishes it");
        let events = ledger.events(&id()).unwrap();
        assert!(
            events
                .iter()
                .any(|ev| ev.outcome == "linked" && ev.detail.contains("901"))
        );
        let again = ledger
            .link_employee(&id(), &"902".into(), now())
            .unwrap_err();
        assert!(again.to_string().contains("already has"), "{again}");
    }
}

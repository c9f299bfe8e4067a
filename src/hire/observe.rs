//! What listing a hire does to its row: the one statement of the observe rules (a new hire,
//! one the cutoff leaves out, a backfill, a withdrawn or unhired hire listed again, a record
//! fixed in Pinpoint, contact details that follow Pinpoint until the employee exists, an
//! erased hire worked again, and when a known row is rewritten at all).
//!
//! Pure: the ledger stores what [`observe`] answers (`Ledger::observe`), and the dry run shows
//! it (`Ledger::preview_observe`), so the two cannot disagree.

use chrono::{DateTime, Utc};

use super::{EventOutcome, HireStatus, LedgerEntry, ParkKind, StepState};

/// What a listing said about a hire, to be merged into its row.
#[derive(Debug, Clone)]
pub struct ObservedHire<'a> {
    /// As listed (a SQL key once stored).
    pub application_id: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub job_title: Option<&'a str>,
    /// Pinpoint's `hired_at`.
    pub hired_at: Option<DateTime<Utc>>,
    /// Why it is left out (hired before the cutoff), or `None` when it is included.
    pub before_cutoff: Option<String>,
}

/// How stale `last_seen_at` may get before a pass that sees the hire rewrites it: it says
/// "still listed on that day", not "at that pass", so a settled tenant's passes write nothing.
pub const LAST_SEEN_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// A hire's row as the ledger has it: the row, and why it is parked (if it is).
#[derive(Debug, Clone)]
pub struct Known {
    pub entry: LedgerEntry,
    pub park_kind: Option<ParkKind>,
}

/// What observing a hire does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The row as observing leaves it.
    pub entry: LedgerEntry,
    /// Why it is parked afterwards.
    pub park_kind: Option<ParkKind>,
    /// Whether the row must be written: `false` for a known hire that nothing changed (a
    /// settled tenant's pass only reads).
    pub write: bool,
    /// The events to record, in order.
    pub events: Vec<(EventOutcome, String)>,
}

/// The observe rules: `known` is the hire's row (`None`: not in the ledger yet), `hire` what
/// the listing says now.
pub fn observe(known: Option<Known>, hire: &ObservedHire<'_>, now: DateTime<Utc>) -> Observed {
    match known {
        None => first_sight(hire, now),
        Some(known) => seen_again(known, hire, now),
    }
}

/// A hire seen for the first time: pending, or skipped when hired before the cutoff.
fn first_sight(hire: &ObservedHire<'_>, now: DateTime<Utc>) -> Observed {
    let mut entry = LedgerEntry::new_pending(
        hire.application_id,
        hire.email,
        hire.first_name,
        hire.last_name,
        hire.job_title,
        now,
    );
    entry.hired_at = hire.hired_at;
    let who = format!("{} {} <{}>", hire.first_name, hire.last_name, hire.email);
    let event = match &hire.before_cutoff {
        None => (EventOutcome::Detected, format!("hired in Pinpoint: {who}")),
        Some(reason) => {
            entry.status = HireStatus::Skipped;
            entry.last_error = Some(reason.clone());
            (
                EventOutcome::Skipped,
                format!("hired in Pinpoint: {who}; not written: {reason}"),
            )
        }
    };
    Observed {
        entry,
        park_kind: None,
        write: true,
        events: vec![event],
    }
}

/// A known hire listed again.
fn seen_again(known: Known, hire: &ObservedHire<'_>, now: DateTime<Utc>) -> Observed {
    let Known {
        mut entry,
        mut park_kind,
    } = known;
    let mut events = Vec::new();
    let refresh = needs_refresh(&entry, hire, now);
    if refresh {
        refreshed(&mut entry, hire, now);
    }
    if entry.unhired_at.take().is_some() {
        events.push((
            EventOutcome::Rehired,
            "listed in a Hired stage again".to_owned(),
        ));
    }
    let reopened = reopens(&entry, park_kind, hire);
    if let Some((outcome, why)) = reopened {
        reopen(&mut entry, hire, now);
        park_kind = None;
        events.push((outcome, why.to_owned()));
    }
    Observed {
        entry,
        park_kind,
        write: refresh || reopened.is_some(),
        events,
    }
}

/// Whether observing `hire` again must rewrite its row.
fn needs_refresh(entry: &LedgerEntry, hire: &ObservedHire<'_>, now: DateTime<Utc>) -> bool {
    let contact_changed = entry.email != hire.email
        || entry.first_name != hire.first_name
        || entry.last_name != hire.last_name
        || entry.job_title.as_deref() != hire.job_title;
    // An open hire is stamped every pass that lists it (there are few): after a complete
    // listing, an open hire stamped before the pass was not listed — it may be withdrawn.
    let open = !entry.status.is_settled();
    open || entry.unhired_at.is_some()
        || entry.hired_at != hire.hired_at
        || now - entry.last_seen_at >= LAST_SEEN_RESOLUTION
        || (entry.employee.state() == StepState::Pending
            && entry.erased_at.is_none()
            && contact_changed)
}

/// Stamped as listed now. Contact details follow Pinpoint until the employee exists; after
/// that they are history. An erased hire's details stay erased unless it is worked again.
fn refreshed(entry: &mut LedgerEntry, hire: &ObservedHire<'_>, now: DateTime<Utc>) {
    entry.last_seen_at = now;
    entry.hired_at = hire.hired_at;
    if entry.employee.state() == StepState::Pending {
        if entry.erased_at.is_none() {
            set_contact(entry, hire);
        }
        entry.job_title = hire.job_title.map(str::to_owned);
    }
}

/// Whether listing the hire opens it again, with the event that says why: a skipped hire
/// the cutoff now includes (a backfill), a withdrawn one listed again, or a record parked as
/// unusable that now lists cleanly (fixed in Pinpoint).
fn reopens(
    entry: &LedgerEntry,
    park_kind: Option<ParkKind>,
    hire: &ObservedHire<'_>,
) -> Option<(EventOutcome, &'static str)> {
    match entry.status {
        HireStatus::Skipped if hire.before_cutoff.is_none() => Some((
            EventOutcome::Included,
            "sync.hired_since now includes it: written from this pass on (a backfill)",
        )),
        HireStatus::Withdrawn => Some((EventOutcome::Relisted, "listed in a Hired stage again")),
        HireStatus::NeedsAttention if park_kind == Some(ParkKind::Unusable) => {
            Some((EventOutcome::Released, "the Pinpoint record is usable now"))
        }
        _ => None,
    }
}

/// Open again, due now. An erased hire worked again (rehired, backfilled) needs its details
/// again: Pinpoint's, as listed now. One sent to HR's Pending hires waits for HR again.
fn reopen(entry: &mut LedgerEntry, hire: &ObservedHire<'_>, now: DateTime<Utc>) {
    entry.status = if entry.with_hr().is_some() {
        HireStatus::WaitingForHr
    } else {
        HireStatus::Pending
    };
    entry.last_error = None;
    entry.next_attempt_at = None;
    entry.updated_at = now;
    if entry.erased_at.take().is_some() {
        set_contact(entry, hire);
    }
}

fn set_contact(entry: &mut LedgerEntry, hire: &ObservedHire<'_>) {
    entry.email = hire.email.to_owned();
    entry.first_name = hire.first_name.to_owned();
    entry.last_name = hire.last_name.to_owned();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hire::{EmployeeOrigin, EmployeeStep};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    fn listed(email: &'static str) -> ObservedHire<'static> {
        ObservedHire {
            application_id: "7",
            email,
            first_name: "Ada",
            last_name: "Lovelace",
            job_title: Some("Engineer"),
            hired_at: None,
            before_cutoff: None,
        }
    }

    fn known(status: HireStatus, park_kind: Option<ParkKind>) -> Known {
        let mut entry = LedgerEntry::new_pending(
            "7",
            "ada@example.com",
            "Ada",
            "Lovelace",
            Some("Engineer"),
            now() - chrono::TimeDelta::hours(1),
        );
        entry.status = status;
        entry.last_error = Some("why".into());
        Known { entry, park_kind }
    }

    fn done(mut k: Known) -> Known {
        k.entry.employee = EmployeeStep::Done {
            id: "42".into(),
            origin: EmployeeOrigin::Created,
            at: now(),
        };
        k
    }

    #[test]
    fn a_new_hire_is_pending_with_a_detected_event_or_skipped_before_the_cutoff() {
        let seen = observe(None, &listed("ada@example.com"), now());
        assert_eq!(seen.entry.status, HireStatus::Pending);
        assert!(seen.write);
        assert_eq!(seen.events[0].0, EventOutcome::Detected);
        let old = ObservedHire {
            before_cutoff: Some("hired before 2026-01-01".into()),
            ..listed("ada@example.com")
        };
        let seen = observe(None, &old, now());
        assert_eq!(seen.entry.status, HireStatus::Skipped);
        assert_eq!(
            seen.entry.last_error.as_deref(),
            Some("hired before 2026-01-01")
        );
        assert_eq!(seen.events[0].0, EventOutcome::Skipped);
    }

    #[test]
    fn a_settled_hire_seen_within_the_resolution_is_not_written() {
        let seen = observe(
            Some(done(known(HireStatus::Done, None))),
            &listed("ada@example.com"),
            now(),
        );
        assert!(!seen.write && seen.events.is_empty());
        let a_day_later = now() + LAST_SEEN_RESOLUTION;
        let seen = observe(
            Some(done(known(HireStatus::Done, None))),
            &listed("ada@example.com"),
            a_day_later,
        );
        assert!(seen.write, "stamped once a day");
        assert_eq!(seen.entry.last_seen_at, a_day_later);
    }

    #[test]
    fn contact_details_follow_pinpoint_only_until_the_employee_exists() {
        let seen = observe(
            Some(known(HireStatus::Pending, None)),
            &listed("ada.new@example.com"),
            now(),
        );
        assert_eq!(seen.entry.email, "ada.new@example.com");
        let seen = observe(
            Some(done(known(HireStatus::Done, None))),
            &listed("ada.new@example.com"),
            now(),
        );
        assert_eq!(seen.entry.email, "ada@example.com");
    }

    #[test]
    fn a_backfill_a_relisting_and_a_fixed_record_reopen_but_other_parks_stay() {
        let included = observe(
            Some(known(HireStatus::Skipped, None)),
            &listed("ada@example.com"),
            now(),
        );
        assert_eq!(included.entry.status, HireStatus::Pending);
        assert_eq!(included.entry.last_error, None);
        assert_eq!(included.events[0].0, EventOutcome::Included);
        let relisted = observe(
            Some(known(HireStatus::Withdrawn, None)),
            &listed("ada@example.com"),
            now(),
        );
        assert_eq!(relisted.events[0].0, EventOutcome::Relisted);
        let fixed = observe(
            Some(known(HireStatus::NeedsAttention, Some(ParkKind::Unusable))),
            &listed("ada@example.com"),
            now(),
        );
        assert_eq!(fixed.entry.status, HireStatus::Pending);
        assert_eq!(fixed.park_kind, None);
        assert_eq!(fixed.events[0].0, EventOutcome::Released);
        let refused = observe(
            Some(known(HireStatus::NeedsAttention, Some(ParkKind::Invalid))),
            &listed("ada@example.com"),
            now(),
        );
        assert_eq!(refused.entry.status, HireStatus::NeedsAttention);
        assert_eq!(refused.park_kind, Some(ParkKind::Invalid));
        assert!(refused.events.is_empty());
    }

    #[test]
    fn an_unhired_hire_listed_again_is_rehired_and_an_erased_one_worked_again_gets_its_details() {
        let mut unhired = done(known(HireStatus::Done, None));
        unhired.entry.unhired_at = Some(now());
        let seen = observe(Some(unhired), &listed("ada@example.com"), now());
        assert_eq!(seen.entry.unhired_at, None);
        assert_eq!(seen.events[0].0, EventOutcome::Rehired);

        let mut erased = known(HireStatus::Withdrawn, None);
        erased.entry.erased_at = Some(now());
        erased.entry.email = String::new();
        let seen = observe(Some(erased), &listed("ada@example.com"), now());
        assert_eq!(seen.entry.email, "ada@example.com");
        assert_eq!(seen.entry.erased_at, None);
        // Erased and not worked again: the details stay erased.
        let mut erased = done(known(HireStatus::Done, None));
        erased.entry.erased_at = Some(now());
        erased.entry.email = String::new();
        let seen = observe(Some(erased), &listed("ada@example.com"), now());
        assert_eq!(seen.entry.email, "");
    }
}

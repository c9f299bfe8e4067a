//! Which listing a pass reads: the whole hired listing, or only what changed since the last
//! complete pass (Pinpoint cannot filter applications by update time, but sorts them by
//! `updated_at`, and a hire entering the stage, or any change to it, moves it to the top).
//!
//! Pure: decides from the ledger's marks, the clock, `[schedule] full_every` and the contract's
//! fallbacks. The full listing is what sees a hire leave the stage (unhired, withdrawn) and a
//! change to a related record (a job renamed) that does not touch the application; those wait
//! for it (docs/performance.md, "The steady pass").

use chrono::{DateTime, Duration, Utc};

use crate::contract::Fallbacks;
use crate::hire::ListingRead;
use crate::ledger::ListingMarks;

/// How far back before the last complete pass's start a listing of what changed reads.
/// Two things can hide a change made before that start from that pass: Pinpoint's clock
/// (which stamps `updated_at`) running behind ours, and an update stamped before the pass
/// listed but not yet visible to it (a transaction or background job still running, a read
/// replica behind). Both are seconds when things are well, minutes when they are not; 15
/// minutes covers an unsynchronised clock several minutes off and long-running updates, and
/// costs only re-reading what changed in that quarter hour.
pub fn safety_margin() -> Duration {
    Duration::minutes(15)
}

/// What a pass lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingScope {
    Full(FullBecause),
    /// Applications changed since this moment (the last complete pass's start, less the
    /// safety margin), newest first.
    ChangedSince(DateTime<Utc>),
}

/// Why a pass reads the whole listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullBecause {
    /// `[schedule] full_every` has passed since the last one (or it is zero).
    Due,
    /// The ledger has no complete full listing yet.
    NoneYet,
    /// The pass before did not complete (it failed, stopped early, or is unknown).
    PreviousIncomplete,
    /// Pinpoint is not known to sort by `updated_at` (contract `pinpoint.sort_updated_at`).
    SortNotProven,
    /// The listing's paging is suspect (contract `pinpoint.page_size`/`pinpoint.paging`).
    PagingSuspect,
    /// Hires in the ledger wait for a retry that is due now: their applications may not
    /// have changed, so only the whole listing shows them (with their pre-signed CV links).
    HiresDue,
}

impl FullBecause {
    pub fn as_str(self) -> &'static str {
        match self {
            FullBecause::Due => "due",
            FullBecause::NoneYet => "none_yet",
            FullBecause::PreviousIncomplete => "previous_pass_incomplete",
            FullBecause::SortNotProven => "sort_not_proven",
            FullBecause::PagingSuspect => "paging_suspect",
            FullBecause::HiresDue => "hires_due",
        }
    }
}

/// What the decision reads besides the clock and the settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Circumstances {
    pub marks: ListingMarks,
    pub fallbacks: Fallbacks,
    /// Some open hire's retry is due now.
    pub hires_due: bool,
}

/// Decides what the pass starting `now` lists.
pub fn scope(now: DateTime<Utc>, full_every: Duration, seen: &Circumstances) -> ListingScope {
    let (marks, fallbacks) = (&seen.marks, &seen.fallbacks);
    let Some(last_full) = marks.last_full_listing_at else {
        return ListingScope::Full(FullBecause::NoneYet);
    };
    // A clock stepped back since counts as due: the age cannot be trusted.
    if full_every <= Duration::zero() || now - last_full >= full_every || last_full > now {
        return ListingScope::Full(FullBecause::Due);
    }
    let Some(last_complete) = marks.last_complete_pass_at else {
        return ListingScope::Full(FullBecause::PreviousIncomplete);
    };
    if fallbacks.listing_may_be_incomplete {
        return ListingScope::Full(FullBecause::PagingSuspect);
    }
    if fallbacks.full_listing_every_pass {
        return ListingScope::Full(FullBecause::SortNotProven);
    }
    if seen.hires_due {
        return ListingScope::Full(FullBecause::HiresDue);
    }
    ListingScope::ChangedSince(last_complete - safety_margin())
}

impl ListingScope {
    pub fn is_full(self) -> bool {
        matches!(self, ListingScope::Full(_))
    }

    /// As the pass summary records it.
    pub fn read(self) -> ListingRead {
        match self {
            ListingScope::Full(because) => ListingRead {
                scope: "full".into(),
                because: Some(because.as_str().into()),
                changed_since: None,
            },
            ListingScope::ChangedSince(since) => ListingRead {
                scope: "changed".into(),
                because: None,
                changed_since: Some(since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            },
        }
    }
}

impl super::Parts {
    /// What the pass starting `now` lists, given the marks its listing began with.
    pub(super) fn listing_scope(
        &self,
        now: DateTime<Utc>,
        marks: &ListingMarks,
    ) -> Result<ListingScope, crate::ledger::LedgerError> {
        let seen = Circumstances {
            marks: *marks,
            fallbacks: self.fallbacks(),
            hires_due: self.ledger().has_due_hires(now)?,
        };
        Ok(scope(now, self.settings.full_every, &seen))
    }

    /// The listing `scope` reads.
    pub(super) fn listing(&self, scope: ListingScope) -> crate::pinpoint::Listing {
        match scope {
            ListingScope::Full(_) => self.pinpoint.listing(),
            ListingScope::ChangedSince(since) => self.pinpoint.listing_changed_since(since),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap()
    }

    fn sorted() -> Fallbacks {
        Fallbacks::default()
    }

    fn scope(
        now: DateTime<Utc>,
        full_every: Duration,
        marks: &ListingMarks,
        fallbacks: &Fallbacks,
    ) -> ListingScope {
        super::scope(
            now,
            full_every,
            &Circumstances {
                marks: *marks,
                fallbacks: *fallbacks,
                hires_due: false,
            },
        )
    }

    #[test]
    fn a_settled_ledger_lists_what_changed_since_the_last_pass_less_the_margin() {
        let marks = ListingMarks {
            last_complete_pass_at: Some(at(9)),
            last_full_listing_at: Some(at(1)),
        };
        assert_eq!(
            scope(at(10), Duration::hours(24), &marks, &sorted()),
            ListingScope::ChangedSince(at(9) - safety_margin())
        );
    }

    #[test]
    fn the_whole_listing_is_read_when_due_first_after_an_incomplete_pass_or_unproven_sort() {
        let day = Duration::hours(24);
        let settled = ListingMarks {
            last_complete_pass_at: Some(at(9)),
            last_full_listing_at: Some(at(1)),
        };
        let full = |because| ListingScope::Full(because);
        assert_eq!(
            scope(at(10), day, &ListingMarks::default(), &sorted()),
            full(FullBecause::NoneYet)
        );
        assert_eq!(
            scope(at(10), Duration::hours(9), &settled, &sorted()),
            full(FullBecause::Due)
        );
        assert_eq!(
            scope(at(10), Duration::zero(), &settled, &sorted()),
            full(FullBecause::Due)
        );
        assert_eq!(
            scope(at(0), day, &settled, &sorted()),
            full(FullBecause::Due),
            "a last full listing in the future: the clock moved back"
        );
        let failed = ListingMarks {
            last_complete_pass_at: None,
            ..settled
        };
        assert_eq!(
            scope(at(10), day, &failed, &sorted()),
            full(FullBecause::PreviousIncomplete)
        );
        let unsorted = Fallbacks {
            full_listing_every_pass: true,
            ..sorted()
        };
        assert_eq!(
            scope(at(10), day, &settled, &unsorted),
            full(FullBecause::SortNotProven)
        );
        let paging = Fallbacks {
            listing_may_be_incomplete: true,
            ..sorted()
        };
        assert_eq!(
            scope(at(10), day, &settled, &paging),
            full(FullBecause::PagingSuspect)
        );
        let retrying = Circumstances {
            marks: settled,
            fallbacks: sorted(),
            hires_due: true,
        };
        assert_eq!(
            super::scope(at(10), day, &retrying),
            full(FullBecause::HiresDue)
        );
    }
}

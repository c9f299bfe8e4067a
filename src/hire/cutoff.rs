//! The go-live cutoff: a hire from before it is history, never imported by accident.
//!
//! Pure: the pass hands it the cutoff in force and a listed application; it says whether the
//! application is included, and if not, why, in the operator's words. The ledger stores the
//! verdict (`skipped`); nothing here writes.
//!
//! The hire's time is Pinpoint's `hired_at`. When that is missing the application's
//! `created_at` stands in only when it is after the cutoff (a hire cannot come before its
//! application); otherwise the hire is left out, since nothing proves it recent: the safe side,
//! and `retry` includes it.

use chrono::{DateTime, Utc};

/// The cutoff in force for a pass, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoff {
    pub at: DateTime<Utc>,
    /// `sync.hired_since` set it; else it is the ledger's go-live.
    pub configured: bool,
}

impl Cutoff {
    /// `2026-12-01T10:00:00Z (sync.hired_since)` or `… (go-live, the default for sync.hired_since)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({})",
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            if self.configured {
                "sync.hired_since"
            } else {
                "the ledger's go-live, the default for sync.hired_since"
            }
        )
    }

    /// `None`: included. `Some(reason)`: hired before the cutoff (or not provably after it).
    pub fn excludes(&self, hired_at: Option<&str>, created_at: Option<&str>) -> Option<String> {
        match hired_at.and_then(parse) {
            Some(hired) if hired >= self.at => None,
            Some(hired) => Some(format!(
                "hired {}, before the cutoff {}",
                hired.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                self.describe()
            )),
            None => match created_at.and_then(parse) {
                Some(created) if created >= self.at => None,
                _ => Some(format!(
                    "Pinpoint gives no hire date, and nothing shows it was hired after the cutoff {}",
                    self.describe()
                )),
            },
        }
    }
}

/// A Pinpoint timestamp (ISO 8601 with an offset).
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cutoff() -> Cutoff {
        Cutoff {
            at: parse("2026-12-01T00:00:00Z").unwrap(),
            configured: false,
        }
    }

    #[test]
    fn a_hire_is_judged_by_its_hired_at() {
        let c = cutoff();
        assert_eq!(c.excludes(Some("2026-12-01T09:00:00+00:00"), None), None);
        assert_eq!(
            c.excludes(Some("2026-12-01T00:00:00Z"), None),
            None,
            "the cutoff itself is in"
        );
        let old = c.excludes(Some("2025-10-27T09:00:00+01:00"), None).unwrap();
        assert!(old.contains("hired 2025-10-27T08:00:00Z"), "{old}");
        assert!(old.contains("go-live"), "{old}");
        // An old application hired recently is in: the hire counts, not the application.
        assert_eq!(
            c.excludes(Some("2026-12-02T09:00:00Z"), Some("2024-01-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn without_hired_at_only_an_application_created_after_the_cutoff_is_in() {
        let c = cutoff();
        assert_eq!(c.excludes(None, Some("2026-12-05T00:00:00Z")), None);
        assert!(c.excludes(None, Some("2026-11-05T00:00:00Z")).is_some());
        assert!(c.excludes(None, None).is_some());
        assert!(
            c.excludes(Some("yesterday"), None).is_some(),
            "unreadable is not proof"
        );
    }
}

//! The one error policy: what an [`ApiError`] means for the hire or the pass that met it.
//!
//! Every place that calls an API (the listing, the batched search, a hire's steps, drift,
//! following unlisted hires, a webhook's single read) asks [`Verdict::of`] and acts on the
//! answer; none of them matches on `ApiError` variants itself. Owns no I/O and no ledger.

use std::time::Duration;

use crate::hire::ParkKind;
use crate::http::ApiError;

/// Whose resource the failed request was about: a 404 for the hire's own record (its
/// application, its employee) means that record is gone, while a 404 for a shared endpoint
/// (the listing, the people search) means the API moved, which waiting and the contract
/// check sort out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    Hire,
    Service,
}

/// What to do after a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again later, at the backoff's time but never before `after` (the server's hint).
    /// `outcome_unknown`: a write may have happened; it is looked for before it is repeated,
    /// and not before HiBob's read lag has passed.
    Retry {
        after: Option<Duration>,
        outcome_unknown: bool,
    },
    /// A person must look: the data was refused, or the hire's record is gone.
    Park(ParkKind),
    /// A credential or permission was refused: stop the pass, continuing would only hammer
    /// the API. `refused_here`: this request was refused (the hire records why); otherwise it
    /// was never sent because another task met the refusal first, and nothing is recorded.
    Stop { refused_here: bool },
}

impl Verdict {
    pub fn of(error: &ApiError, about: About) -> Self {
        match error {
            ApiError::Retryable { after, .. } => Verdict::Retry {
                after: *after,
                outcome_unknown: false,
            },
            ApiError::Ambiguous { .. } => Verdict::Retry {
                after: None,
                outcome_unknown: true,
            },
            ApiError::Invalid { .. } => Verdict::Park(ParkKind::Invalid),
            ApiError::NotFound { .. } => match about {
                About::Hire => Verdict::Park(ParkKind::NotFound),
                About::Service => Verdict::Retry {
                    after: None,
                    outcome_unknown: false,
                },
            },
            ApiError::Unauthorized { .. } => Verdict::Stop { refused_here: true },
            ApiError::Halted { .. } => Verdict::Stop {
                refused_here: false,
            },
        }
    }

    /// Whether the pass must stop.
    pub fn stops(self) -> bool {
        matches!(self, Verdict::Stop { .. })
    }

    /// Whether the answer suggests the API itself moved (a refused request, a missing
    /// endpoint): the contract is checked again before the next write.
    pub fn suspects_contract(error: &ApiError) -> bool {
        matches!(error, ApiError::Invalid { .. } | ApiError::NotFound { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Api;

    fn invalid() -> ApiError {
        ApiError::Invalid {
            api: Api::Hibob,
            endpoint: "POST /people",
            status: 400,
            key: None,
            message: "bad".into(),
        }
    }

    fn not_found() -> ApiError {
        ApiError::NotFound {
            api: Api::Pinpoint,
            endpoint: "GET /applications/{id}",
            message: "gone".into(),
        }
    }

    #[test]
    fn each_error_has_one_meaning_and_a_404_depends_on_whose_record_it_was() {
        let retryable = ApiError::Retryable {
            api: Api::Hibob,
            endpoint: "POST /people/search",
            after: Some(Duration::from_secs(7)),
            reason: "429".into(),
        };
        assert_eq!(
            Verdict::of(&retryable, About::Hire),
            Verdict::Retry {
                after: Some(Duration::from_secs(7)),
                outcome_unknown: false
            }
        );
        let ambiguous = ApiError::Ambiguous {
            api: Api::Hibob,
            endpoint: "POST /people",
            reason: "timeout".into(),
        };
        assert_eq!(
            Verdict::of(&ambiguous, About::Hire),
            Verdict::Retry {
                after: None,
                outcome_unknown: true
            }
        );
        assert_eq!(
            Verdict::of(&invalid(), About::Service),
            Verdict::Park(ParkKind::Invalid)
        );
        assert_eq!(
            Verdict::of(&not_found(), About::Hire),
            Verdict::Park(ParkKind::NotFound)
        );
        assert!(matches!(
            Verdict::of(&not_found(), About::Service),
            Verdict::Retry { .. }
        ));
        let refused = ApiError::Unauthorized {
            api: Api::Hibob,
            endpoint: "POST /people/search",
            status: 401,
            hint: "no".into(),
        };
        assert_eq!(
            Verdict::of(&refused, About::Service),
            Verdict::Stop { refused_here: true }
        );
        let halted = ApiError::Halted {
            api: Api::Hibob,
            reason: "refused before".into(),
        };
        assert_eq!(
            Verdict::of(&halted, About::Hire),
            Verdict::Stop {
                refused_here: false
            }
        );
        assert!(Verdict::of(&halted, About::Hire).stops());
        assert!(Verdict::suspects_contract(&invalid()));
        assert!(!Verdict::suspects_contract(&refused));
    }
}

//! The one error policy: what an [`ApiError`] means for the hire or the pass that met it.
//!
//! Every place that meets an API failure during a pass hands it to one of two functions here
//! and applies the answer: [`for_hire`] when the failure was met for one hire (a step, its
//! lookup, a read of its application, a drift update: retry, park, or stop, with the words
//! the ledger records, escalation after repeated failures included), [`for_pass`] for the
//! shared endpoints (the listing, a batch of searches). None of those places matches on
//! `ApiError` variants or on a [`Verdict`] itself. Owns no I/O and no ledger.

use std::time::Duration;

use crate::hire::{ApplicationId, ParkKind, StepKind};
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

/// An error's class: what a failed request means before anyone asks whose it was.
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

/// How many times a problem that is usually transient but may be permanent is retried
/// before a person is asked to look.
pub const STUBBORN_LIMIT: u32 = 3;

/// Why a hire's step did not complete, as the executor met it.
#[derive(Debug, Clone)]
pub enum StepFailure {
    /// An API answered with an error, or never answered.
    Api(ApiError),
    /// HiBob answered a create with "email exists", yet its search does not show the person.
    EmailTakenButUnseen { email: String },
    /// HiBob's answer about an employee did not show it (search lags behind a create).
    EmployeeNotShown { employee_id: String },
}

/// What the hire's run was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    /// One of the hire's steps (its employee, CV or comment).
    Step(StepKind),
    /// Looking the hire's email up in HiBob: a 404 there means the endpoint moved.
    Lookup,
    /// Reading the hire's own application (a webhook's nudge, or a hire the listing no
    /// longer shows): a 404 means it is gone.
    ReadApplication,
    /// Reading or updating the employee's fields that drifted from Pinpoint.
    UpdateFields,
}

impl std::fmt::Display for StepFailure {
    /// The failure in words, as the ledger records it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepFailure::Api(error) => error.fmt(f),
            StepFailure::EmailTakenButUnseen { email } => write!(
                f,
                "HiBob says an employee with the email {email} exists, but search does not show it"
            ),
            StepFailure::EmployeeNotShown { employee_id } => write!(
                f,
                "HiBob POST /people/search: search does not show employee {employee_id} yet; will retry"
            ),
        }
    }
}

/// What a failure means for the hire: its caller records exactly this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForHire {
    /// Recorded as a failure with its next attempt (see [`super::plan::backoff`]).
    Retry {
        message: String,
        after: Option<Duration>,
        outcome_unknown: bool,
    },
    /// Parked: a person must look; `why` says what to do.
    Park { kind: ParkKind, why: String },
    /// A credential was refused by this very request: the hire is parked with `why` and the
    /// pass stops; `message` is the refusal itself.
    StopPass { message: String, why: String },
    /// Never sent: another task met a refused credential first. Nothing is recorded; a step
    /// left in flight is resolved remotely on the next pass.
    Interrupted,
}

impl ForHire {
    /// Whether the pass must stop.
    pub fn stops(&self) -> bool {
        matches!(self, ForHire::StopPass { .. } | ForHire::Interrupted)
    }
}

/// The error policy for a hire (the controller's error policy): the one place that turns a
/// failure met while `doing` something for the hire, and how many times in a row the hire
/// has failed before (`failures`), into what happens to it. Every place that meets an API
/// failure for a hire during a pass asks this, and records what it answers.
pub fn for_hire(id: &ApplicationId, doing: Doing, failure: &StepFailure, failures: u32) -> ForHire {
    let error = match failure {
        StepFailure::Api(error) => error,
        StepFailure::EmailTakenButUnseen { email } => {
            let problem = format!(
                "HiBob says an employee with the email {email} exists, but search does not show it; \
                 check that the service user may view all employees (including inactive ones)"
            );
            return stubborn(
                id,
                failures,
                format!(
                    "HiBob POST /people: outcome unknown ({problem}); will look it up before trying again"
                ),
                true,
                problem,
            );
        }
        StepFailure::EmployeeNotShown { employee_id } => {
            return ForHire::Retry {
                message: format!(
                    "HiBob POST /people/search: search does not show employee {employee_id} yet; will retry"
                ),
                after: None,
                outcome_unknown: false,
            };
        }
    };
    // A CV upload HiBob refused because it could not fetch the link is usually an expired
    // pre-signed URL: the next listing brings a fresh one, so retry — a few times.
    if let (Doing::Step(StepKind::Cv), Some(refusal)) = (doing, refused_link(error)) {
        return stubborn(
            id,
            failures,
            format!(
                "{refusal}: HiBob could not fetch the CV from Pinpoint's link ({}); a fresh link is used next time; will retry",
                refusal.message
            ),
            false,
            format!(
                "HiBob could not fetch the CV from Pinpoint's link several times ({}); check the attachment in Pinpoint",
                refusal.message
            ),
        );
    }
    let about = match doing {
        Doing::Lookup => About::Service,
        _ => About::Hire,
    };
    let message = error.to_string();
    match Verdict::of(error, about) {
        Verdict::Stop {
            refused_here: false,
        } => ForHire::Interrupted,
        Verdict::Stop { refused_here: true } => ForHire::StopPass {
            why: format!("{message}; once fixed, run `hirebridge retry --all-failed`"),
            message,
        },
        Verdict::Retry {
            after,
            outcome_unknown,
        } => ForHire::Retry {
            message,
            after,
            outcome_unknown,
        },
        Verdict::Park(kind) => ForHire::Park {
            kind,
            why: match doing {
                Doing::Lookup => format!(
                    "{message}; correct the email in Pinpoint, then run `hirebridge retry {id}`"
                ),
                _ => format!("{message}; fix the cause, then run `hirebridge retry {id}`"),
            },
        },
    }
}

/// A problem that is usually transient but may be permanent: retried, then parked once the
/// hire has failed [`STUBBORN_LIMIT`] times in a row.
fn stubborn(
    id: &ApplicationId,
    failures: u32,
    message: String,
    outcome_unknown: bool,
    problem: String,
) -> ForHire {
    if failures + 1 >= STUBBORN_LIMIT {
        ForHire::Park {
            kind: ParkKind::Invalid,
            why: unsendable(id, &problem),
        }
    } else {
        ForHire::Retry {
            message,
            after: None,
            outcome_unknown,
        }
    }
}

/// What a step that cannot go on (its values do not render, a stubborn problem) asks of a
/// person.
pub fn unsendable(id: &ApplicationId, problem: &str) -> String {
    format!("{problem}; then run `hirebridge retry {id}`")
}

/// A refusal that names the URL a write asked HiBob to fetch.
struct RefusedLink<'a> {
    api: crate::http::Api,
    endpoint: &'a str,
    message: &'a str,
}

impl std::fmt::Display for RefusedLink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.api, self.endpoint)
    }
}

fn refused_link(error: &ApiError) -> Option<RefusedLink<'_>> {
    match error {
        ApiError::Invalid {
            api,
            endpoint,
            key: Some(key),
            message,
            ..
        } if key.to_ascii_lowercase().contains("url") => Some(RefusedLink {
            api: *api,
            endpoint,
            message,
        }),
        _ => None,
    }
}

/// What a failed request to a shared endpoint (the listing, a batch of searches) means for
/// the pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForPass {
    /// A credential was refused: the pass stops.
    pub stops: bool,
    /// The data was refused: one bad value may refuse a whole batch, so ask one by one.
    pub refused_data: bool,
    /// The API may have moved: the contract is checked again before the next write.
    pub suspects_contract: bool,
}

/// The error policy for a shared endpoint.
pub fn for_pass(error: &ApiError) -> ForPass {
    let verdict = Verdict::of(error, About::Service);
    ForPass {
        stops: verdict.stops(),
        refused_data: verdict == Verdict::Park(ParkKind::Invalid),
        suspects_contract: Verdict::suspects_contract(error),
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

    fn id() -> ApplicationId {
        ApplicationId::from("12")
    }

    #[test]
    fn a_stubborn_problem_is_retried_then_parked_at_the_limit() {
        let unseen = StepFailure::EmailTakenButUnseen {
            email: "ada@example.com".into(),
        };
        let step = Doing::Step(StepKind::Employee);
        for failures in 0..STUBBORN_LIMIT - 1 {
            assert!(matches!(
                for_hire(&id(), step, &unseen, failures),
                ForHire::Retry {
                    outcome_unknown: true,
                    ..
                }
            ));
        }
        let ForHire::Park { kind, why } = for_hire(&id(), step, &unseen, STUBBORN_LIMIT - 1) else {
            panic!("not parked at the limit");
        };
        assert_eq!(kind, ParkKind::Invalid);
        assert!(why.contains("ada@example.com") && why.ends_with("`hirebridge retry 12`"));
    }

    #[test]
    fn a_cv_link_hibob_could_not_fetch_is_retried_but_other_refusals_park_at_once() {
        let link = StepFailure::Api(ApiError::Invalid {
            api: Api::Hibob,
            endpoint: "POST /docs/people/{id}/shared/upload/url",
            status: 400,
            key: Some("documentUrl".into()),
            message: "cannot fetch".into(),
        });
        let cv = Doing::Step(StepKind::Cv);
        let ForHire::Retry { message, .. } = for_hire(&id(), cv, &link, 0) else {
            panic!("a refused link is retried first");
        };
        assert!(message.contains("a fresh link is used next time"));
        assert!(matches!(
            for_hire(&id(), cv, &link, STUBBORN_LIMIT - 1),
            ForHire::Park { .. }
        ));
        // The same refusal of a comment is the data's fault: parked at once.
        assert!(matches!(
            for_hire(&id(), Doing::Step(StepKind::Comment), &link, 0),
            ForHire::Park { .. }
        ));
    }

    #[test]
    fn a_404_means_the_hires_record_is_gone_but_a_moved_endpoint_for_a_lookup() {
        let gone = StepFailure::Api(not_found());
        assert!(matches!(
            for_hire(&id(), Doing::ReadApplication, &gone, 0),
            ForHire::Park {
                kind: ParkKind::NotFound,
                ..
            }
        ));
        assert!(matches!(
            for_hire(&id(), Doing::Lookup, &gone, 0),
            ForHire::Retry { .. }
        ));
        let ForHire::Park { why, .. } =
            for_hire(&id(), Doing::Lookup, &StepFailure::Api(invalid()), 0)
        else {
            panic!("a refused address parks the hire");
        };
        assert!(why.contains("correct the email in Pinpoint"));
    }

    #[test]
    fn a_refused_credential_stops_the_pass_and_one_never_sent_records_nothing() {
        let refused = StepFailure::Api(ApiError::Unauthorized {
            api: Api::Hibob,
            endpoint: "POST /people",
            status: 403,
            hint: "no".into(),
        });
        let decided = for_hire(&id(), Doing::Step(StepKind::Employee), &refused, 0);
        assert!(decided.stops());
        assert!(matches!(decided, ForHire::StopPass { why, .. } if why.contains("--all-failed")));
        let halted = StepFailure::Api(ApiError::Halted {
            api: Api::Hibob,
            reason: "refused before".into(),
        });
        assert_eq!(
            for_hire(&id(), Doing::Step(StepKind::Cv), &halted, 0),
            ForHire::Interrupted
        );
    }
}

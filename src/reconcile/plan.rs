//! Planning: a hire's ledger row + what the remote systems said → the steps to take next.
//!
//! Pure: no I/O, no clock (the caller passes `now`). The same function drives `sync` and the
//! dry-run `plan`, so what an operator previews is what a pass does.

use chrono::{DateTime, Utc};

use crate::config::OnFormerEmployee;
use crate::ledger::{CvState, EmployeeOrigin, HireStatus, LedgerEntry, StepState};
use crate::pinpoint::HiredApplication;

/// What the batched HiBob search said about this hire's email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The employee step is already done; no search was needed.
    NotNeeded,
    Found {
        employee_id: String,
    },
    NotFound,
}

/// One thing to do for a hire, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// HiBob already has an employee with this email: link it, create nothing.
    AdoptEmployee {
        employee_id: String,
    },
    CreateEmployee,
    /// An earlier write's outcome is unknown and HiBob may not show it yet (read lag):
    /// doing anything before `until` risks a duplicate.
    WaitForReadLag {
        until: DateTime<Utc>,
    },
    /// Upload the CV; first look for one already uploaded when we cannot rule that out.
    UploadCv {
        check_existing: bool,
    },
    /// The application has no CV attachment: recorded as "no CV", not a failure.
    RecordNoCv,
    /// Comment on the Pinpoint application; first look for our comment when a previous
    /// attempt's outcome is unknown.
    PostComment {
        check_existing: bool,
    },
    MarkDone,
}

impl Step {
    /// Whether the step changes anything remotely (the dry run counts these).
    pub fn is_remote_write(&self) -> bool {
        matches!(
            self,
            Step::CreateEmployee | Step::UploadCv { .. } | Step::PostComment { .. }
        )
    }
}

/// The addresses a hire may be known by in HiBob: the candidate's own (the application's)
/// and the work address the mapping gives them, when it maps one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HireAddresses<'a> {
    pub candidate: &'a str,
    pub work: Option<&'a str>,
}

impl HireAddresses<'_> {
    /// Whether this HiBob person is the hire: their login address is the work address or the
    /// candidate's, or their private address is the candidate's. Compared as HiBob compares
    /// (case-insensitively), after NFC normalisation.
    pub fn matches(&self, person: &crate::hibob::FoundEmployee) -> bool {
        use crate::identity::same_address;
        let login =
            |address: &str| !person.email.is_empty() && same_address(&person.email, address);
        login(self.candidate)
            || self.work.is_some_and(login)
            || person
                .private_email
                .as_deref()
                .is_some_and(|private| same_address(private, self.candidate))
    }

    /// Whether `person` matched by the work address alone while HiBob keeps a private address
    /// for them that is not the candidate's: someone else under the same work address.
    pub fn namesake(&self, person: &crate::hibob::FoundEmployee) -> bool {
        use crate::identity::same_address;
        let by_candidate = same_address(&person.email, self.candidate)
            || person
                .private_email
                .as_deref()
                .is_some_and(|p| same_address(p, self.candidate));
        !by_candidate
            && person
                .private_email
                .as_deref()
                .is_some_and(|p| !p.trim().is_empty())
    }

    /// The addresses in words, for a message.
    pub fn describe(&self) -> String {
        match self.work {
            Some(work) if !crate::identity::same_address(work, self.candidate) => {
                format!("{work} (work) or {} (the candidate's)", self.candidate)
            }
            _ => self.candidate.to_owned(),
        }
    }
}

/// What HiBob's people say about one hire (see [`HireAddresses::matches`]). More than one
/// match is returned as is, for a person to resolve: never a guess.
pub fn lookup_for(
    addresses: &HireAddresses<'_>,
    found: &[crate::hibob::FoundEmployee],
    today: chrono::NaiveDate,
    on_former: OnFormerEmployee,
) -> Result<Lookup, LookupProblem> {
    let mut same: Vec<&crate::hibob::FoundEmployee> =
        found.iter().filter(|f| addresses.matches(f)).collect();
    same.sort_by(|a, b| a.id.cmp(&b.id));
    same.dedup_by(|a, b| a.id == b.id);
    match same.as_slice() {
        [] => Ok(Lookup::NotFound),
        // Found only by a work address made from a name, while HiBob keeps another private
        // address for that person: a namesake, maybe. Never adopted on a guess.
        [one] if addresses.namesake(one) => Err(LookupProblem::WorkAddressOfAnother {
            employee_id: one.id.clone(),
            login: one.email.clone(),
            private: one.private_email.clone().unwrap_or_default(),
        }),
        [one] if on_former == OnFormerEmployee::Attention && one.is_former(today) => {
            Err(LookupProblem::FormerEmployee {
                employee_id: one.id.clone(),
                terminated: one.termination_date.clone(),
            })
        }
        [one] => Ok(Lookup::Found {
            employee_id: one.id.clone(),
        }),
        _ => Err(LookupProblem::Duplicates(
            same.iter()
                .map(|f| {
                    if f.email.is_empty() {
                        f.id.clone()
                    } else {
                        format!("{} <{}>", f.id, f.email)
                    }
                })
                .collect(),
        )),
    }
}

/// Why a search answer cannot be acted on without a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupProblem {
    /// Several employees hold the email: which one is the hire is a person's call.
    Duplicates(Vec<String>),
    /// The one employee holding the email is a former employee: adopting would mark the hire
    /// done on a terminated record, creating would fail (emails are unique). A rehire is HR's
    /// decision, made in HiBob.
    FormerEmployee {
        employee_id: String,
        terminated: Option<String>,
    },
    /// The one person under the mapped work address keeps another private address: maybe a
    /// namesake, whose address the mapping reproduced.
    WorkAddressOfAnother {
        employee_id: String,
        login: String,
        private: String,
    },
}

impl LookupProblem {
    /// What the operator reads, ending with what to do.
    pub fn message(&self, email: &str, application_id: &str) -> String {
        match self {
            LookupProblem::Duplicates(ids) => format!(
                "HiBob has {} people who may be this hire (by the address {email}, as login or private email): {}; hirebridge does not guess: merge or correct them in HiBob, then run `hirebridge retry {application_id}`",
                ids.len(),
                ids.join(", "),
            ),
            LookupProblem::WorkAddressOfAnother {
                employee_id,
                login,
                private,
            } => format!(
                "HiBob's {login} (employee {employee_id}) has the private address {private}, not this candidate's ({email}): maybe a namesake under the same work address; if it is this hire, set their private address in HiBob, else give the hire another work address; then run `hirebridge retry {application_id}`"
            ),
            LookupProblem::FormerEmployee {
                employee_id,
                terminated,
            } => format!(
                "HiBob holds a former employee with the email {email} (employee {employee_id}{}): a rehire; rehire them in HiBob (or give the new hire another address), then run `hirebridge retry {application_id}` (or set hibob.on_former_employee = \"adopt\")",
                terminated
                    .as_deref()
                    .map(|d| format!(", terminated {d}"))
                    .unwrap_or_default(),
            ),
        }
    }
}

/// Whether the batched search must include this hire's email.
pub fn needs_lookup(entry: &LedgerEntry) -> bool {
    entry.employee != StepState::Done
}

/// The steps that bring `entry` closer to done, given the current listing record and the
/// search result. Returns nothing for a hire that is done, parked or not due.
pub fn plan_hire(
    entry: &LedgerEntry,
    application: &HiredApplication,
    lookup: &Lookup,
    now: DateTime<Utc>,
    read_lag: chrono::Duration,
) -> Vec<Step> {
    if !entry.is_due(now) || entry.status == HireStatus::Done {
        return Vec::new();
    }
    let mut steps = Vec::new();
    // Whether this very run creates the employee: only then is it certain that HiBob and
    // Pinpoint hold nothing of ours for the hire yet. An employee done in an earlier run may
    // have a CV and a comment the ledger does not know of (a ledger restored from a backup
    // or a crash image, a disk that lost writes it had acknowledged): look before writing.
    let created_now = match entry.employee {
        StepState::Done => false,
        StepState::Pending | StepState::InFlight => match lookup {
            Lookup::Found { employee_id } => {
                steps.push(Step::AdoptEmployee {
                    employee_id: employee_id.clone(),
                });
                false
            }
            Lookup::NotFound => {
                if entry.employee == StepState::InFlight
                    && let Some(until) = entry.employee_intent_at.map(|t| t + read_lag)
                    && until > now
                {
                    return vec![Step::WaitForReadLag { until }];
                }
                steps.push(Step::CreateEmployee);
                true
            }
            // The caller did not search: never guess that the employee is missing.
            Lookup::NotNeeded => return Vec::new(),
        },
    };

    match entry.cv {
        CvState::Uploaded | CvState::None => {}
        CvState::InFlight => {
            if let Some(until) = entry.cv_intent_at.map(|t| t + read_lag)
                && until > now
            {
                steps.push(Step::WaitForReadLag { until });
                return steps;
            }
            steps.push(Step::UploadCv {
                check_existing: true,
            });
        }
        CvState::Pending => match application.cv {
            None => steps.push(Step::RecordNoCv),
            Some(_) => steps.push(Step::UploadCv {
                // An employee created a moment ago has no documents; any other might.
                check_existing: !created_now,
            }),
        },
    }

    match entry.comment {
        StepState::Done => {}
        // An adopted employee may be our own work from before a lost ledger: look first,
        // because a duplicate comment notifies the whole hiring team.
        StepState::Pending => steps.push(Step::PostComment {
            check_existing: !created_now,
        }),
        StepState::InFlight => steps.push(Step::PostComment {
            check_existing: true,
        }),
    }
    steps.push(Step::MarkDone);
    steps
}

/// The CV's name in HiBob: deterministic per application, so a repeat after a crash can be
/// recognised by name. Keeps the original file's extension.
pub fn cv_document_name(application_id: &str, filename: &str) -> String {
    let extension = std::path::Path::new(filename)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or("pdf");
    format!(
        "CV {}.{}",
        cv_marker(application_id),
        extension.to_ascii_lowercase()
    )
}

/// The part of the CV's name that identifies the application (closing parenthesis included,
/// so application 12 never matches application 123).
pub fn cv_marker(application_id: &str) -> String {
    format!("(Pinpoint application {application_id})")
}

/// The comment posted on the Pinpoint application.
pub fn comment_text(employee_id: &str, origin: EmployeeOrigin) -> String {
    match origin {
        EmployeeOrigin::Created => format!("HiBob employee created: {employee_id}"),
        EmployeeOrigin::Adopted => format!("HiBob employee linked: {employee_id}"),
    }
}

/// Whether a comment is the one hirebridge posts for this employee.
pub fn is_our_comment(body_text: &str, employee_id: &str) -> bool {
    body_text.contains("HiBob employee") && body_text.contains(employee_id)
}

/// Capped exponential backoff with full jitter; never earlier than what the server asked.
pub fn backoff(
    failures: u32,
    initial: std::time::Duration,
    max: std::time::Duration,
    server_hint: Option<std::time::Duration>,
    jitter: f64,
) -> std::time::Duration {
    let exponent = failures.min(20);
    let ceiling = initial.saturating_mul(1u32 << exponent).min(max);
    let jittered = ceiling.mul_f64(jitter.clamp(0.0, 1.0));
    jittered.max(server_hint.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pinpoint::Attachment;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn lag() -> chrono::Duration {
        chrono::Duration::seconds(20)
    }

    fn person(id: &str, login: &str, private: Option<&str>) -> crate::hibob::FoundEmployee {
        crate::hibob::FoundEmployee {
            id: id.into(),
            email: login.into(),
            lifecycle_status: Some("employed".into()),
            termination_date: None,
            private_email: private.map(str::to_owned),
        }
    }

    #[test]
    fn a_hire_is_found_by_either_address_and_several_matches_are_never_a_guess() {
        let today = now().date_naive();
        let mode = OnFormerEmployee::Attention;
        let ada = HireAddresses {
            candidate: "Ada@Example.com",
            work: Some("ada.lovelace@corp.example"),
        };
        // Entered by HR under her work address, with her own address kept as private.
        let hr = [person("1", "ADA.LOVELACE@corp.example", None)];
        assert_eq!(
            lookup_for(&ada, &hr, today, mode),
            Ok(Lookup::Found {
                employee_id: "1".into()
            })
        );
        let private = [person(
            "2",
            "a.l@elsewhere.example",
            Some("ada@example.com"),
        )];
        assert_eq!(
            lookup_for(&ada, &private, today, mode),
            Ok(Lookup::Found {
                employee_id: "2".into()
            })
        );
        // NFC: a decomposed "ë" is the same address as a composed one.
        let zoe = HireAddresses {
            candidate: "zo\u{eb}@example.com",
            work: None,
        };
        assert!(zoe.matches(&person("3", "zoe\u{308}@example.com", None)));
        // The same person twice in one answer (login search and everyone) is one match.
        let twice = [hr[0].clone(), hr[0].clone()];
        assert!(matches!(
            lookup_for(&ada, &twice, today, mode),
            Ok(Lookup::Found { .. })
        ));
        // Two different people: a person decides, both named.
        let two = [hr[0].clone(), private[0].clone()];
        match lookup_for(&ada, &two, today, mode) {
            Err(LookupProblem::Duplicates(ids)) => {
                assert_eq!(ids.len(), 2);
                assert!(ids[0].contains("ADA.LOVELACE@corp.example"), "{ids:?}");
            }
            other => panic!("{other:?}"),
        }
        // Somebody else's private address is no match for the work address.
        let other = [person(
            "4",
            "someone@corp.example",
            Some("ada.lovelace@corp.example"),
        )];
        assert_eq!(lookup_for(&ada, &other, today, mode), Ok(Lookup::NotFound));
    }

    fn entry() -> LedgerEntry {
        LedgerEntry::new_pending("1", "ada@example.com", "Ada", "Lovelace", None, now())
    }

    fn application(with_cv: bool) -> HiredApplication {
        HiredApplication {
            id: "1".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            phone: None,
            job_title: None,
            cv: with_cv.then(|| Attachment {
                context: "pdf_cv".into(),
                filename: "ada.pdf".into(),
                url: "https://files/ada.pdf".into(),
            }),
            updated_at: None,
            stage_id: Some("1539024".into()),
            hired_at: None,
            rejected_at: None,
            created_at: None,
            source: serde_json::Value::Null,
        }
    }

    fn plan(e: &LedgerEntry, with_cv: bool, lookup: Lookup) -> Vec<Step> {
        plan_hire(e, &application(with_cv), &lookup, now(), lag())
    }

    #[test]
    fn a_new_hire_without_an_employee_is_created_then_gets_cv_and_comment() {
        assert_eq!(
            plan(&entry(), true, Lookup::NotFound),
            [
                Step::CreateEmployee,
                Step::UploadCv {
                    check_existing: false
                },
                Step::PostComment {
                    check_existing: false
                },
                Step::MarkDone
            ]
        );
    }

    #[test]
    fn an_existing_employee_is_adopted_and_its_documents_and_comments_checked() {
        assert_eq!(
            plan(
                &entry(),
                true,
                Lookup::Found {
                    employee_id: "42".into()
                }
            ),
            [
                Step::AdoptEmployee {
                    employee_id: "42".into()
                },
                Step::UploadCv {
                    check_existing: true
                },
                Step::PostComment {
                    check_existing: true
                },
                Step::MarkDone
            ]
        );
    }

    #[test]
    fn no_attachment_means_no_cv_not_failure() {
        let steps = plan(&entry(), false, Lookup::NotFound);
        assert_eq!(steps[1], Step::RecordNoCv);
    }

    #[test]
    fn an_unknown_create_outcome_waits_out_the_read_lag_before_creating_again() {
        let mut e = entry();
        e.employee = StepState::InFlight;
        e.employee_intent_at = Some(now() - chrono::Duration::seconds(5));
        assert_eq!(
            plan(&e, true, Lookup::NotFound),
            [Step::WaitForReadLag {
                until: now() + chrono::Duration::seconds(15)
            }]
        );
        // Found meanwhile: adopt, never create.
        assert_eq!(
            plan(
                &e,
                true,
                Lookup::Found {
                    employee_id: "7".into()
                }
            )[0],
            Step::AdoptEmployee {
                employee_id: "7".into()
            }
        );
        // Lag over and still absent: creating is safe (the duplicate-email 400 is the backstop).
        e.employee_intent_at = Some(now() - chrono::Duration::seconds(21));
        assert_eq!(plan(&e, true, Lookup::NotFound)[0], Step::CreateEmployee);
    }

    #[test]
    fn without_a_search_result_nothing_is_planned_for_a_missing_employee() {
        assert!(plan(&entry(), true, Lookup::NotNeeded).is_empty());
    }

    #[test]
    fn in_flight_cv_and_comment_are_checked_before_repeating() {
        let mut e = entry();
        e.employee = StepState::Done;
        e.employee_origin = Some(EmployeeOrigin::Created);
        e.hibob_employee_id = Some("42".into());
        e.cv = CvState::InFlight;
        e.cv_intent_at = Some(now() - chrono::Duration::minutes(5));
        e.comment = StepState::InFlight;
        assert_eq!(
            plan(&e, true, Lookup::NotNeeded),
            [
                Step::UploadCv {
                    check_existing: true
                },
                Step::PostComment {
                    check_existing: true
                },
                Step::MarkDone
            ]
        );
        e.cv_intent_at = Some(now());
        assert!(matches!(
            plan(&e, true, Lookup::NotNeeded)[0],
            Step::WaitForReadLag { .. }
        ));
    }

    #[test]
    fn after_an_employee_done_in_an_earlier_run_cv_and_comment_are_looked_for_first() {
        // The ledger may be older than HiBob and Pinpoint (a restored backup, a crash image):
        // only an employee this run creates is known to have nothing of ours yet.
        let mut e = entry();
        e.employee = StepState::Done;
        e.employee_origin = Some(EmployeeOrigin::Created);
        e.hibob_employee_id = Some("42".into());
        assert_eq!(
            plan(&e, true, Lookup::NotNeeded),
            [
                Step::UploadCv {
                    check_existing: true
                },
                Step::PostComment {
                    check_existing: true
                },
                Step::MarkDone
            ]
        );
    }

    #[test]
    fn done_parked_and_not_yet_due_hires_get_no_steps() {
        let mut e = entry();
        e.status = HireStatus::Done;
        assert!(plan(&e, true, Lookup::NotFound).is_empty());
        e.status = HireStatus::NeedsAttention;
        assert!(plan(&e, true, Lookup::NotFound).is_empty());
        e.status = HireStatus::Failed;
        e.next_attempt_at = Some(now() + chrono::Duration::seconds(1));
        assert!(plan(&e, true, Lookup::NotFound).is_empty());
        e.next_attempt_at = Some(now());
        assert!(!plan(&e, true, Lookup::NotFound).is_empty());
    }

    #[test]
    fn cv_names_are_deterministic_and_unambiguous() {
        assert_eq!(
            cv_document_name("12", "Ada CV.PDF"),
            "CV (Pinpoint application 12).pdf"
        );
        assert_eq!(
            cv_document_name("12", "no-extension"),
            "CV (Pinpoint application 12).pdf"
        );
        assert!(!cv_document_name("123", "a.pdf").contains(&cv_marker("12")));
    }

    #[test]
    fn our_comment_is_recognised_by_the_employee_id() {
        let text = comment_text("3628748460116673185", EmployeeOrigin::Created);
        assert_eq!(text, "HiBob employee created: 3628748460116673185");
        assert!(is_our_comment(&text, "3628748460116673185"));
        assert!(!is_our_comment("Great interview!", "3628748460116673185"));
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_the_server() {
        use std::time::Duration as D;
        let (i, m) = (D::from_secs(30), D::from_secs(600));
        assert_eq!(backoff(0, i, m, None, 1.0), D::from_secs(30));
        assert_eq!(backoff(3, i, m, None, 1.0), D::from_secs(240));
        assert_eq!(backoff(30, i, m, None, 1.0), D::from_secs(600));
        assert_eq!(backoff(3, i, m, None, 0.5), D::from_secs(120));
        assert_eq!(
            backoff(0, i, m, Some(D::from_secs(90)), 0.0),
            D::from_secs(90)
        );
    }
}

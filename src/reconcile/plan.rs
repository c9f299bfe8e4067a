//! The next-step decision: a hire's ledger row + what this pass learned about it → the one
//! thing to do next.
//!
//! Pure: no I/O, no clock (the caller passes `now`). The executor ([`super::apply`]) applies
//! the step, gets the hire back from the ledger and asks again, so every choice is made here
//! and only here. The dry run asks the same question while assuming each step succeeds
//! ([`assumed_steps`]), so what an operator previews is what a pass does.

use chrono::{DateTime, Utc};

use super::facts::Lookup;
use crate::employee::NewEmployee;
use crate::hire::application::{Attachment, HiredApplication};
use crate::hire::{
    ApplicationId, CommentStep, CvStep, EmployeeId, EmployeeOrigin, EmployeeStep, HireFlow,
    HireStatus, LedgerEntry, ParkKind, StepKind,
};
use crate::mapping::Values;

/// The hire's HiBob employee, once it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employee {
    pub id: EmployeeId,
    pub origin: EmployeeOrigin,
}

/// The one thing to do next for a hire. Each step carries what applying it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// HiBob already has an employee with this email: link it, create nothing.
    AdoptEmployee {
        employee_id: EmployeeId,
        found_by: FoundBy,
    },
    /// Work out what a create would send (the mapping's values, with what HR approved in
    /// Pinpoint's plugin form): learned as [`Learned::draft`].
    DraftEmployee,
    CreateEmployee {
        draft: Box<Draft>,
    },
    /// Send the hire to HiBob's ATS Pending hires (the Hire API), once: HR's New hire flow
    /// makes the employee (`[hibob] hire_flow = "pending"`).
    SendToHr {
        draft: Box<Draft>,
    },
    /// HiBob answered a create with "email exists": find that person to adopt it. Found:
    /// [`Learned::taken_by`].
    SearchToAdopt {
        email: String,
    },
    /// A person must look before this step can go on; nothing is sent. `problem`: what is
    /// wrong, in words ([`super::policy::unsendable`] adds what to do).
    Park {
        step: StepKind,
        kind: ParkKind,
        problem: String,
    },
    /// An earlier write of `step` has an unknown outcome and HiBob may not show it yet (read
    /// lag): doing anything before `until` risks a duplicate.
    WaitForReadLag {
        step: StepKind,
        until: DateTime<Utc>,
    },
    /// Look among the employee's documents for our CV (its name carries the application id):
    /// the employee may hold it already (adopted, restored ledger, an upload whose outcome is
    /// unknown). Found: recorded. Not found: [`Learned::no_cv_of_ours`].
    FindCv {
        employee: Employee,
    },
    UploadCv {
        employee: Employee,
        file: Attachment,
    },
    /// The application has no CV attachment: recorded as "no CV", not a failure.
    RecordNoCv,
    /// Look among the application's comments for ours (it names the employee). Found:
    /// recorded. Not found: [`Learned::no_comment_of_ours`].
    FindComment {
        employee: Employee,
    },
    PostComment {
        employee: Employee,
    },
    MarkDone {
        employee: Employee,
    },
}

/// How an employee HiBob already had was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundBy {
    /// The pass's lookup by email (or another hire of the same person, earlier this pass).
    Lookup,
    /// The search after HiBob answered a create with "email exists".
    DuplicateEmailAnswer,
    /// The pass's lookup, for a hire sent to HiBob's Pending hires: HR's New hire flow made it.
    HrFlow,
}

impl FoundBy {
    /// The origin recorded for an employee found this way.
    pub fn origin(self) -> EmployeeOrigin {
        match self {
            FoundBy::HrFlow => EmployeeOrigin::HrFlow,
            FoundBy::Lookup | FoundBy::DuplicateEmailAnswer => EmployeeOrigin::Adopted,
        }
    }
}

/// The settings the decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// How long HiBob's search may lag behind a write.
    pub read_lag: chrono::Duration,
    pub hire_flow: HireFlow,
}

/// What a create sends, and what the ledger records beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub new: NewEmployee,
    /// The mapping's values as rendered from Pinpoint (before HR's approved values).
    pub rendered: Values,
    /// HR entered or confirmed the start date in Pinpoint's plugin form.
    pub start_date_approved: bool,
}

/// What working out a create's values gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drafted {
    Ready(Box<Draft>),
    /// The values cannot be rendered: why, in words.
    Unsendable(String),
}

/// What the same person's earlier hires settled this pass (their hires run one after
/// another: the first makes or adopts the employee, the others adopt it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// The person's employee, once one of their hires has it.
    pub employee: Option<EmployeeId>,
    /// A create of theirs has an unknown outcome: another create could make a second
    /// employee, so the rest wait for the next pass.
    pub create_unresolved: bool,
}

/// What this hire's run has learned so far that its ledger row does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Learned {
    /// The employee was created in this very run: HiBob and Pinpoint hold nothing of ours for
    /// the hire yet, so nothing needs looking for. Any other employee (adopted, or done in an
    /// earlier run: a ledger restored from a backup or a crash image may be older than the
    /// remote side) may have a CV and a comment the ledger does not know of.
    pub created_employee: bool,
    /// The employee's documents were read and hold no CV of ours.
    pub no_cv_of_ours: bool,
    /// The application's comments were read and hold none of ours.
    pub no_comment_of_ours: bool,
    /// What a create would send, once worked out.
    pub draft: Option<Drafted>,
    /// HiBob answered the create with "email exists" for this address.
    pub email_taken: Option<String>,
    /// The employee that holds the taken address, once found.
    pub taken_by: Option<EmployeeId>,
    /// The same person's earlier hires this pass.
    pub person: Person,
}

/// The next step for `entry`, or `None` when there is nothing to do now (done, parked, not
/// due, or no search answer for a hire that still needs its employee).
pub fn next_step(
    entry: &LedgerEntry,
    application: &HiredApplication,
    lookup: &Lookup,
    learned: &Learned,
    now: DateTime<Utc>,
    rules: &Rules,
) -> Option<Step> {
    if !entry.is_due(now) || entry.status == HireStatus::Done {
        return None;
    }
    let read_lag = rules.read_lag;
    let employee = match &entry.employee {
        EmployeeStep::Done { id, origin, .. } => Employee {
            id: id.clone(),
            origin: *origin,
        },
        EmployeeStep::WithHr { .. } => return with_hr_step(lookup, rules.hire_flow),
        pending_or_in_flight => {
            return employee_step(pending_or_in_flight, lookup, learned, now, rules);
        }
    };
    if let Some(cv) = cv_step(entry, application, &employee, learned, now, read_lag) {
        return Some(cv);
    }
    // A duplicate comment notifies the whole hiring team: look first unless the employee is
    // brand new.
    let looked_for_comment = learned.created_employee || learned.no_comment_of_ours;
    Some(match entry.comment {
        CommentStep::Done { .. } => Step::MarkDone { employee },
        _ if !looked_for_comment => Step::FindComment { employee },
        _ => Step::PostComment { employee },
    })
}

/// The step for a hire sent to HiBob's Pending hires: link the employee HR's flow made once
/// the lookup finds it; otherwise keep waiting. It is never sent again by itself (Bob has no
/// read of its pending hires: a second post is a second pending hire). Under `direct` (the
/// mode changed since it was sent) a person decides: creating it now would make a second
/// employee the moment HR completes the pending one.
fn with_hr_step(lookup: &Lookup, flow: HireFlow) -> Option<Step> {
    match (lookup, flow) {
        (Lookup::Found { employee_id }, _) => Some(Step::AdoptEmployee {
            employee_id: employee_id.clone(),
            found_by: FoundBy::HrFlow,
        }),
        (Lookup::NotNeeded, _) | (Lookup::NotFound, HireFlow::Pending) => None,
        (Lookup::NotFound, HireFlow::Direct) => Some(Step::Park {
            step: StepKind::Employee,
            kind: ParkKind::Invalid,
            problem: "it was sent to HiBob's Pending hires before [hibob] hire_flow became \"direct\", and HR has not made the employee: let HR complete (or dismiss) it in Bob, then `hirebridge retry <id>` links what HR made; `hirebridge retry --resend <id>` creates it directly instead (dismiss the pending hire first)".into(),
        }),
    }
}

/// The step towards the hire's employee: adopt one HiBob has, or make one (create it, or send
/// it to HR's Pending hires), never a second.
fn employee_step(
    state: &EmployeeStep,
    lookup: &Lookup,
    learned: &Learned,
    now: DateTime<Utc>,
    rules: &Rules,
) -> Option<Step> {
    let read_lag = rules.read_lag;
    if let Some(employee_id) = &learned.taken_by {
        return Some(Step::AdoptEmployee {
            employee_id: employee_id.clone(),
            found_by: FoundBy::DuplicateEmailAnswer,
        });
    }
    if let Some(email) = &learned.email_taken {
        return Some(Step::SearchToAdopt {
            email: email.clone(),
        });
    }
    let adopt = |employee_id: &EmployeeId| {
        Some(Step::AdoptEmployee {
            employee_id: employee_id.clone(),
            found_by: FoundBy::Lookup,
        })
    };
    match lookup {
        Lookup::Found { employee_id } => adopt(employee_id),
        // The caller did not search: never guess that the employee is missing.
        Lookup::NotNeeded => None,
        Lookup::NotFound => match (&learned.person.employee, state) {
            (Some(employee_id), _) => adopt(employee_id),
            // Creating another now could make a second employee: next pass.
            (None, _) if learned.person.create_unresolved => None,
            (None, EmployeeStep::InFlight { since }) if *since + read_lag > now => {
                Some(Step::WaitForReadLag {
                    step: StepKind::Employee,
                    until: *since + read_lag,
                })
            }
            (None, _) => Some(match &learned.draft {
                None => Step::DraftEmployee,
                Some(Drafted::Unsendable(problem)) => Step::Park {
                    step: StepKind::Employee,
                    kind: ParkKind::Invalid,
                    problem: problem.clone(),
                },
                Some(Drafted::Ready(draft)) => match rules.hire_flow {
                    HireFlow::Direct => Step::CreateEmployee {
                        draft: draft.clone(),
                    },
                    HireFlow::Pending => Step::SendToHr {
                        draft: draft.clone(),
                    },
                },
            }),
        },
    }
}

/// The CV's step, once the hire has its employee; `None` when the CV is settled.
fn cv_step(
    entry: &LedgerEntry,
    application: &HiredApplication,
    employee: &Employee,
    learned: &Learned,
    now: DateTime<Utc>,
    read_lag: chrono::Duration,
) -> Option<Step> {
    let looked_for_cv = learned.created_employee || learned.no_cv_of_ours;
    match (&entry.cv, &application.cv) {
        (CvStep::Uploaded { .. } | CvStep::None { .. }, _) => None,
        (CvStep::InFlight { since }, _) if *since + read_lag > now => Some(Step::WaitForReadLag {
            step: StepKind::Cv,
            until: *since + read_lag,
        }),
        // Without a file now, only a CV pending from the start is simply none; one whose
        // upload has an unknown outcome is looked for first.
        (CvStep::Pending, None) => Some(Step::RecordNoCv),
        _ if !looked_for_cv => Some(Step::FindCv {
            employee: employee.clone(),
        }),
        (_, Some(file)) => Some(Step::UploadCv {
            employee: employee.clone(),
            file: file.clone(),
        }),
        // Gone from Pinpoint since the upload that did not land.
        (_, None) => Some(Step::RecordNoCv),
    }
}

/// The id a dry run gives an employee a create would make.
pub const NEW_EMPLOYEE: &str = "<new id>";

/// The steps a run would take if every step succeeded and every look found nothing: the
/// dry run's preview, from the same decision. `draft` is what a create would send. Ends at a
/// wait, a park, done, or when nothing is due.
pub fn assumed_steps(
    entry: &LedgerEntry,
    application: &HiredApplication,
    lookup: &Lookup,
    draft: impl FnOnce() -> Drafted,
    now: DateTime<Utc>,
    rules: &Rules,
) -> Vec<Step> {
    let mut entry = entry.clone();
    let mut learned = Learned::default();
    let mut draft = Some(draft);
    let mut steps = Vec::new();
    // Every step moves the row forward, so this ends; the bound only guards a mistake.
    while steps.len() < 12 {
        let Some(step) = next_step(&entry, application, lookup, &learned, now, rules) else {
            break;
        };
        match &step {
            Step::AdoptEmployee {
                employee_id,
                found_by,
            } => entry.employee = assumed(employee_id, found_by.origin(), now),
            Step::DraftEmployee => learned.draft = draft.take().map(|draft| draft()),
            Step::CreateEmployee { .. } => {
                entry.employee = assumed(NEW_EMPLOYEE, EmployeeOrigin::Created, now);
                learned.created_employee = true;
            }
            // A create is assumed to succeed, so HiBob never calls the email taken.
            Step::SearchToAdopt { .. } => break,
            Step::FindCv { .. } => learned.no_cv_of_ours = true,
            Step::UploadCv { file, .. } => {
                entry.cv = CvStep::Uploaded {
                    document_id: None,
                    name: cv_document_name(&entry.application_id, &file.filename),
                    at: now,
                }
            }
            Step::RecordNoCv => entry.cv = CvStep::None { at: now },
            Step::FindComment { .. } => learned.no_comment_of_ours = true,
            Step::PostComment { .. } => {
                entry.comment = CommentStep::Done {
                    id: String::new().into(),
                    at: now,
                }
            }
            Step::WaitForReadLag { .. }
            | Step::MarkDone { .. }
            | Step::Park { .. }
            | Step::SendToHr { .. } => {
                steps.push(step);
                break;
            }
        }
        steps.push(step);
    }
    steps
}

fn assumed(id: &str, origin: EmployeeOrigin, at: DateTime<Utc>) -> EmployeeStep {
    EmployeeStep::Done {
        id: id.into(),
        origin,
        at,
    }
}

/// The CV's name in HiBob: deterministic per application, so a repeat after a crash can be
/// recognised by name. Keeps the original file's extension.
pub fn cv_document_name(application_id: &ApplicationId, filename: &str) -> String {
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
pub fn cv_marker(application_id: &ApplicationId) -> String {
    format!("(Pinpoint application {application_id})")
}

/// The comment posted on the Pinpoint application.
pub fn comment_text(employee_id: &EmployeeId, origin: EmployeeOrigin) -> String {
    match origin {
        EmployeeOrigin::Created => format!("HiBob employee created: {employee_id}"),
        EmployeeOrigin::Adopted => format!("HiBob employee linked: {employee_id}"),
        EmployeeOrigin::HrFlow => {
            format!("HiBob employee made by HR's New hire flow: {employee_id}")
        }
    }
}

/// Whether a comment is the one hirebridge posts for this employee.
pub fn is_our_comment(body_text: &str, employee_id: &EmployeeId) -> bool {
    body_text.contains("HiBob employee") && body_text.contains(employee_id.as_str())
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
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn lag() -> Rules {
        Rules {
            read_lag: chrono::Duration::seconds(20),
            hire_flow: HireFlow::Direct,
        }
    }

    fn entry() -> LedgerEntry {
        LedgerEntry::new_pending("1", "ada@example.com", "Ada", "Lovelace", None, now())
    }

    fn cv() -> Attachment {
        Attachment {
            context: "pdf_cv".into(),
            filename: "ada.pdf".into(),
            url: "https://files/ada.pdf".into(),
        }
    }

    fn application(with_cv: bool) -> HiredApplication {
        HiredApplication {
            id: "1".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            phone: None,
            job_title: None,
            cv: with_cv.then(cv),
            updated_at: None,
            stage_id: Some("1539024".into()),
            hired_at: None,
            rejected_at: None,
            created_at: None,
            source: serde_json::Value::Null,
        }
    }

    fn draft() -> Box<Draft> {
        Box::new(Draft {
            new: NewEmployee {
                first_name: "Ada".into(),
                surname: "Lovelace".into(),
                email: "ada@example.com".into(),
                site: "London".into(),
                start_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                fields: Default::default(),
            },
            rendered: Values::new(),
            start_date_approved: false,
        })
    }

    fn plan(e: &LedgerEntry, with_cv: bool, lookup: Lookup) -> Vec<Step> {
        let ready = || Drafted::Ready(draft());
        assumed_steps(e, &application(with_cv), &lookup, ready, now(), &lag())
    }

    fn employee(id: &str, origin: EmployeeOrigin) -> Employee {
        Employee {
            id: id.into(),
            origin,
        }
    }

    fn done_employee(e: &mut LedgerEntry) -> Employee {
        e.employee = EmployeeStep::Done {
            id: "42".into(),
            origin: EmployeeOrigin::Created,
            at: now(),
        };
        employee("42", EmployeeOrigin::Created)
    }

    #[test]
    fn a_new_hire_without_an_employee_is_created_then_gets_cv_and_comment_without_looking() {
        let new = employee(NEW_EMPLOYEE, EmployeeOrigin::Created);
        assert_eq!(
            plan(&entry(), true, Lookup::NotFound),
            [
                Step::DraftEmployee,
                Step::CreateEmployee { draft: draft() },
                Step::UploadCv {
                    employee: new.clone(),
                    file: cv()
                },
                Step::PostComment {
                    employee: new.clone()
                },
                Step::MarkDone { employee: new }
            ]
        );
    }

    #[test]
    fn an_existing_employee_is_adopted_and_its_documents_and_comments_checked() {
        let found = employee("42", EmployeeOrigin::Adopted);
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
                    employee_id: "42".into(),
                    found_by: FoundBy::Lookup,
                },
                Step::FindCv {
                    employee: found.clone()
                },
                Step::UploadCv {
                    employee: found.clone(),
                    file: cv()
                },
                Step::FindComment {
                    employee: found.clone()
                },
                Step::PostComment {
                    employee: found.clone()
                },
                Step::MarkDone { employee: found }
            ]
        );
    }

    #[test]
    fn what_a_look_found_is_not_looked_for_again_and_what_it_missed_is_written() {
        let mut row = entry();
        let found = done_employee(&mut row);
        let app = application(true);
        let step = |row: &LedgerEntry, learned| {
            next_step(row, &app, &Lookup::NotNeeded, &learned, now(), &lag())
        };
        assert_eq!(
            step(&row, Learned::default()),
            Some(Step::FindCv {
                employee: found.clone()
            })
        );
        let looked = Learned {
            no_cv_of_ours: true,
            ..Learned::default()
        };
        assert_eq!(
            step(&row, looked.clone()),
            Some(Step::UploadCv {
                employee: found.clone(),
                file: cv()
            })
        );
        // Found by the look: the ledger says uploaded, and the comment is next.
        row.cv = CvStep::Uploaded {
            document_id: None,
            name: "CV (Pinpoint application 1).pdf".into(),
            at: now(),
        };
        assert_eq!(
            step(&row, looked.clone()),
            Some(Step::FindComment {
                employee: found.clone()
            })
        );
        row.comment = CommentStep::Done {
            id: "9".into(),
            at: now(),
        };
        assert_eq!(
            step(&row, looked.clone()),
            Some(Step::MarkDone { employee: found })
        );
        row.status = HireStatus::Done;
        assert_eq!(step(&row, looked), None);
    }

    #[test]
    fn no_attachment_means_no_cv_not_failure() {
        let steps = plan(&entry(), false, Lookup::NotFound);
        assert_eq!(steps[2], Step::RecordNoCv);
    }

    #[test]
    fn an_unknown_create_outcome_waits_out_the_read_lag_before_creating_again() {
        let mut e = entry();
        e.employee = EmployeeStep::InFlight {
            since: now() - chrono::Duration::seconds(5),
        };
        assert_eq!(
            plan(&e, true, Lookup::NotFound),
            [Step::WaitForReadLag {
                step: StepKind::Employee,
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
                employee_id: "7".into(),
                found_by: FoundBy::Lookup,
            }
        );
        // Lag over and still absent: creating is safe (the duplicate-email 400 is the backstop).
        e.employee = EmployeeStep::InFlight {
            since: now() - chrono::Duration::seconds(21),
        };
        assert_eq!(plan(&e, true, Lookup::NotFound)[0], Step::DraftEmployee);
        assert_eq!(
            plan(&e, true, Lookup::NotFound)[1],
            Step::CreateEmployee { draft: draft() }
        );
    }

    #[test]
    fn without_a_search_result_nothing_is_planned_for_a_missing_employee() {
        assert!(plan(&entry(), true, Lookup::NotNeeded).is_empty());
    }

    #[test]
    fn in_flight_cv_and_comment_are_checked_before_repeating() {
        let mut e = entry();
        let employee = done_employee(&mut e);
        e.cv = CvStep::InFlight {
            since: now() - chrono::Duration::minutes(5),
        };
        e.comment = CommentStep::InFlight {
            since: now() - chrono::Duration::minutes(5),
        };
        let steps = plan(&e, true, Lookup::NotNeeded);
        assert_eq!(
            steps,
            [
                Step::FindCv {
                    employee: employee.clone()
                },
                Step::UploadCv {
                    employee: employee.clone(),
                    file: cv()
                },
                Step::FindComment {
                    employee: employee.clone()
                },
                Step::PostComment {
                    employee: employee.clone()
                },
                Step::MarkDone { employee }
            ]
        );
        e.cv = CvStep::InFlight { since: now() };
        assert_eq!(
            plan(&e, true, Lookup::NotNeeded)[0],
            Step::WaitForReadLag {
                step: StepKind::Cv,
                until: now() + lag().read_lag
            }
        );
        // The attachment went from Pinpoint since the upload that did not land: looked for,
        // then recorded as none.
        e.cv = CvStep::InFlight {
            since: now() - chrono::Duration::minutes(5),
        };
        assert_eq!(plan(&e, false, Lookup::NotNeeded)[1], Step::RecordNoCv);
    }

    #[test]
    fn after_an_employee_done_in_an_earlier_run_cv_and_comment_are_looked_for_first() {
        // The ledger may be older than HiBob and Pinpoint (a restored backup, a crash image):
        // only an employee this run creates is known to have nothing of ours yet.
        let mut e = entry();
        let employee = done_employee(&mut e);
        let steps = plan(&e, true, Lookup::NotNeeded);
        assert_eq!(
            steps[0],
            Step::FindCv {
                employee: employee.clone()
            }
        );
        assert_eq!(steps[2], Step::FindComment { employee });
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
            cv_document_name(&"12".into(), "Ada CV.PDF"),
            "CV (Pinpoint application 12).pdf"
        );
        assert_eq!(
            cv_document_name(&"12".into(), "no-extension"),
            "CV (Pinpoint application 12).pdf"
        );
        assert!(!cv_document_name(&"123".into(), "a.pdf").contains(&cv_marker(&"12".into())));
    }

    #[test]
    fn our_comment_is_recognised_by_the_employee_id() {
        let text = comment_text(&"3628748460116673185".into(), EmployeeOrigin::Created);
        assert_eq!(text, "HiBob employee created: 3628748460116673185");
        assert!(is_our_comment(&text, &"3628748460116673185".into()));
        assert!(!is_our_comment(
            "Great interview!",
            &"3628748460116673185".into()
        ));
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

    fn decide(e: &LedgerEntry, lookup: Lookup, learned: &Learned) -> Option<Step> {
        next_step(e, &application(true), &lookup, learned, now(), &lag())
    }

    #[test]
    fn values_that_do_not_render_park_the_hire_before_anything_is_sent() {
        let learned = Learned {
            draft: Some(Drafted::Unsendable("no start date".into())),
            ..Learned::default()
        };
        assert_eq!(
            decide(&entry(), Lookup::NotFound, &learned),
            Some(Step::Park {
                step: StepKind::Employee,
                kind: ParkKind::Invalid,
                problem: "no start date".into()
            })
        );
    }

    #[test]
    fn an_email_hibob_calls_taken_is_searched_for_then_adopted_never_created_again() {
        let mut e = entry();
        e.employee = EmployeeStep::InFlight { since: now() };
        let taken = Learned {
            draft: Some(Drafted::Ready(draft())),
            email_taken: Some("ada@example.com".into()),
            ..Learned::default()
        };
        assert_eq!(
            decide(&e, Lookup::NotFound, &taken),
            Some(Step::SearchToAdopt {
                email: "ada@example.com".into()
            })
        );
        let found = Learned {
            taken_by: Some("77".into()),
            ..taken
        };
        assert_eq!(
            decide(&e, Lookup::NotFound, &found),
            Some(Step::AdoptEmployee {
                employee_id: "77".into(),
                found_by: FoundBy::DuplicateEmailAnswer
            })
        );
    }

    #[test]
    fn a_persons_later_hires_adopt_the_employee_of_the_first_or_wait_while_its_create_is_unknown() {
        let first_made = Learned {
            person: Person {
                employee: Some("5".into()),
                create_unresolved: false,
            },
            ..Learned::default()
        };
        assert_eq!(
            decide(&entry(), Lookup::NotFound, &first_made),
            Some(Step::AdoptEmployee {
                employee_id: "5".into(),
                found_by: FoundBy::Lookup
            })
        );
        let first_unknown = Learned {
            person: Person {
                employee: None,
                create_unresolved: true,
            },
            ..Learned::default()
        };
        assert_eq!(decide(&entry(), Lookup::NotFound, &first_unknown), None);
        // HiBob's own answer for this hire's address still wins.
        assert_eq!(
            decide(
                &entry(),
                Lookup::Found {
                    employee_id: "8".into()
                },
                &first_unknown
            ),
            Some(Step::AdoptEmployee {
                employee_id: "8".into(),
                found_by: FoundBy::Lookup
            })
        );
    }

    fn pending_flow() -> Rules {
        Rules {
            hire_flow: HireFlow::Pending,
            ..lag()
        }
    }

    fn with_hr(e: &mut LedgerEntry, delivery: crate::hire::HrDelivery) {
        e.employee = EmployeeStep::WithHr {
            since: now() - chrono::Duration::days(1),
            delivery,
        };
        e.status = HireStatus::WaitingForHr;
    }

    #[test]
    fn under_the_pending_flow_a_hire_nobody_holds_is_sent_to_hr_once_and_nothing_is_created() {
        let ready = || Drafted::Ready(draft());
        let steps = assumed_steps(
            &entry(),
            &application(true),
            &Lookup::NotFound,
            ready,
            now(),
            &pending_flow(),
        );
        assert_eq!(
            steps,
            [Step::DraftEmployee, Step::SendToHr { draft: draft() }],
            "sending ends the run: HR makes the employee"
        );
        assert!(
            !steps
                .iter()
                .any(|s| matches!(s, Step::CreateEmployee { .. })),
            "never a create under the pending flow"
        );
        // A person HiBob already holds is adopted, as under the direct flow.
        let found = Lookup::Found {
            employee_id: "77".into(),
        };
        let steps = assumed_steps(
            &entry(),
            &application(false),
            &found,
            ready,
            now(),
            &pending_flow(),
        );
        assert_eq!(
            steps[0],
            Step::AdoptEmployee {
                employee_id: "77".into(),
                found_by: FoundBy::Lookup
            }
        );
    }

    #[test]
    fn a_hire_with_hr_is_never_sent_again_whatever_its_delivery_and_waits_until_hr_makes_the_employee()
     {
        for delivery in [
            crate::hire::HrDelivery::Unconfirmed,
            crate::hire::HrDelivery::Delivered,
        ] {
            let mut e = entry();
            with_hr(&mut e, delivery);
            let learned = Learned {
                draft: Some(Drafted::Ready(draft())),
                ..Learned::default()
            };
            let decide = |lookup: &Lookup| {
                next_step(
                    &e,
                    &application(true),
                    lookup,
                    &learned,
                    now(),
                    &pending_flow(),
                )
            };
            assert_eq!(
                decide(&Lookup::NotFound),
                None,
                "{delivery:?}: keeps waiting"
            );
            assert_eq!(decide(&Lookup::NotNeeded), None);
            assert_eq!(
                decide(&Lookup::Found {
                    employee_id: "88".into()
                }),
                Some(Step::AdoptEmployee {
                    employee_id: "88".into(),
                    found_by: FoundBy::HrFlow
                }),
                "HR's employee is linked as hr_flow"
            );
        }
    }

    #[test]
    fn hr_s_employee_gets_the_cv_only_if_bob_did_not_keep_it_and_the_comment_after_a_look() {
        let mut e = entry();
        e.employee = EmployeeStep::Done {
            id: "88".into(),
            origin: EmployeeOrigin::HrFlow,
            at: now(),
        };
        e.status = HireStatus::Pending;
        let hr = employee("88", EmployeeOrigin::HrFlow);
        assert_eq!(
            plan(&e, true, Lookup::NotNeeded),
            [
                Step::FindCv {
                    employee: hr.clone()
                },
                Step::UploadCv {
                    employee: hr.clone(),
                    file: cv()
                },
                Step::FindComment {
                    employee: hr.clone()
                },
                Step::PostComment {
                    employee: hr.clone()
                },
                Step::MarkDone { employee: hr }
            ],
            "not created by hirebridge: its documents and the comments are looked at first"
        );
        assert!(comment_text(&"88".into(), EmployeeOrigin::HrFlow).contains("New hire flow"));
        assert!(is_our_comment(
            &comment_text(&"88".into(), EmployeeOrigin::HrFlow),
            &"88".into()
        ));
    }

    #[test]
    fn after_a_switch_back_to_direct_a_hire_hr_has_not_made_is_a_persons_call_never_a_create() {
        let mut e = entry();
        with_hr(&mut e, crate::hire::HrDelivery::Delivered);
        let learned = Learned {
            draft: Some(Drafted::Ready(draft())),
            ..Learned::default()
        };
        let step = next_step(
            &e,
            &application(true),
            &Lookup::NotFound,
            &learned,
            now(),
            &lag(),
        );
        match step {
            Some(Step::Park {
                step: StepKind::Employee,
                kind: ParkKind::Invalid,
                problem,
            }) => {
                assert!(problem.contains("retry --resend"), "{problem}");
                assert!(problem.contains("Pending hires"), "{problem}");
            }
            other => panic!("expected a park, got {other:?}"),
        }
        // What HR made is still linked under the direct flow.
        assert_eq!(
            next_step(
                &e,
                &application(true),
                &Lookup::Found {
                    employee_id: "88".into()
                },
                &learned,
                now(),
                &lag()
            ),
            Some(Step::AdoptEmployee {
                employee_id: "88".into(),
                found_by: FoundBy::HrFlow
            })
        );
    }
}

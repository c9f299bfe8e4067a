//! The dry run behind `hirebridge plan`: what the next pass would do to each listed hire, and
//! why. It walks the pass's own pipeline — the same listing ([`crate::pinpoint::Listing`]),
//! page guard, observe rules ([`crate::ledger::Ledger::preview_observe`]), batched lookups
//! ([`super::facts`]) and next-step decision ([`super::plan::assumed_steps`]) — and renders
//! each decision instead of applying it.
//!
//! It must never write: not to Pinpoint, not to HiBob, not to the ledger (it is handed a
//! read-only or in-memory ledger, and it only reads it). Reads that `sync` does just before a
//! write (a document list, the comments) are not made; the plan says the check will happen.

use crate::hire::ApplicationId;
use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::Reconciler;
use super::apply;
use super::facts::{Lookup, Unsettled};
use super::plan::{self, Employee, NEW_EMPLOYEE, Step};
use super::policy::{self, Doing, ForHire, StepFailure};
use crate::hibob::NewEmployee;
pub use crate::hire::preview::{ActionKind, DryRun, PlannedAction, PlannedHire};
use crate::hire::{CvState, HireStatus, LedgerEntry, StepState};
use crate::ledger::LedgerError;
use crate::pinpoint::{HiredApplication, UnusableRecord};

impl Reconciler {
    /// Previews the next pass. Makes read-only calls only; writes nothing anywhere.
    pub async fn plan_next_pass(&self) -> Result<DryRun, LedgerError> {
        let mut dry_run = DryRun::default();
        if let Some(why) = self.parts.contract_preview(Utc::now()).await? {
            dry_run.incomplete = Some(format!("a pass would write nothing: {why}"));
            return Ok(dry_run);
        }
        let mut listing = self.parts.pinpoint.listing();
        // Everyone in HiBob, read at most once for the whole preview, as in a pass.
        let mut directory = super::facts::PassPeople::default();
        while let Some(read) = listing.next_page().await {
            let page = match read {
                Ok(page) => page,
                Err(e) => {
                    dry_run.incomplete =
                        Some(format!("could not read the hired applications: {e}"));
                    break;
                }
            };
            dry_run.listed += page.page.records;
            self.preview_unusable(&page.page.unusable, &mut dry_run)?;
            // As the pass does: a page whose own records contradict the hired-stage filter
            // stops it, writing nothing.
            if let Some(contradiction) = self.parts.page_contradiction(&page.page.applications)? {
                for (id, why) in contradiction.0 {
                    let Some(a) = page.page.applications.iter().find(|a| a.id.as_str() == id)
                    else {
                        continue;
                    };
                    dry_run.hires.push(PlannedHire {
                        status: self.status_of(&a.id)?,
                        application_id: a.id.to_string(),
                        email: a.email.clone(),
                        name: format!("{} {}", a.first_name, a.last_name),
                        before_cutoff: false,
                        actions: vec![PlannedAction::new(ActionKind::Skip, why)],
                    });
                }
                dry_run.incomplete = Some(format!(
                    "page {} of the hired-stage listing contradicts its filter, so a pass would stop there and write nothing: {}",
                    page.number,
                    crate::contract::stage_filter_fix(&self.parts.pinpoint)
                ));
                break;
            }
            let applications = page.page.applications;
            if let Err(message) = self
                .plan_page(&applications, &mut directory, &mut dry_run)
                .await?
            {
                dry_run.incomplete = Some(message);
                break;
            }
        }
        Ok(dry_run)
    }

    fn status_of(&self, application_id: &ApplicationId) -> Result<String, LedgerError> {
        Ok(self
            .ledger()
            .entry(application_id)?
            .map_or("new", |e| e.status.as_str())
            .to_owned())
    }

    fn preview_unusable(
        &self,
        unusable: &[UnusableRecord],
        dry_run: &mut DryRun,
    ) -> Result<(), LedgerError> {
        for bad in unusable {
            let Some(id) = &bad.id else { continue };
            dry_run.hires.push(PlannedHire {
                application_id: id.to_string(),
                email: bad.email.clone().unwrap_or_default(),
                name: String::new(),
                status: self.status_of(id)?,
                before_cutoff: false,
                actions: vec![PlannedAction::new(
                    ActionKind::Park,
                    format!("unusable in Pinpoint: {}", bad.problem),
                )],
            });
        }
        Ok(())
    }

    /// Plans one page as a pass would work it. `Err(message)` when HiBob refused the search:
    /// nothing after it could be planned truthfully.
    async fn plan_page(
        &self,
        applications: &[HiredApplication],
        directory: &mut super::facts::PassPeople,
        dry_run: &mut DryRun,
    ) -> Result<Result<(), String>, LedgerError> {
        let now = Utc::now();
        let cutoff = self.parts.cutoff(now)?;
        let observed: Vec<_> = applications
            .iter()
            .map(|a| super::observed(a, &cutoff))
            .collect();
        // Each hire as the pass would see it, with its status in the ledger now (`None`: new).
        let rows = self.ledger().preview_observe(now, &observed)?;
        let by_id: HashMap<&str, &HiredApplication> =
            applications.iter().map(|a| (a.id.as_str(), a)).collect();
        let due: Vec<LedgerEntry> = rows
            .iter()
            .filter(|(e, _)| e.is_due(now))
            .map(|(e, _)| e.clone())
            .collect();
        let facts = self.parts.gather_lookups(&due, &by_id, directory).await?;
        if let Some(e) = &facts.stop {
            return Ok(Err(format!("HiBob refused the people search: {e}")));
        }
        for ((entry, recorded), application) in rows.into_iter().zip(applications) {
            let lookup = facts.lookups.get(&entry.application_id);
            let actions = self.actions_for(&entry, application, lookup, now);
            dry_run.hires.push(PlannedHire {
                application_id: entry.application_id.to_string(),
                email: entry.email.clone(),
                name: format!("{} {}", entry.first_name, entry.last_name)
                    .trim()
                    .to_owned(),
                status: recorded.map_or("new", HireStatus::as_str).to_owned(),
                before_cutoff: entry.status == HireStatus::Skipped,
                actions,
            });
        }
        Ok(Ok(()))
    }

    fn actions_for(
        &self,
        entry: &LedgerEntry,
        application: &HiredApplication,
        lookup: Option<&Result<Lookup, Unsettled>>,
        now: DateTime<Utc>,
    ) -> Vec<PlannedAction> {
        if let Some(why) = not_worked(entry, now) {
            return vec![PlannedAction::new(ActionKind::Skip, why)];
        }
        let lookup = match lookup {
            Some(Ok(lookup)) => lookup,
            Some(Err(Unsettled::Problem(message))) => {
                return vec![PlannedAction::new(ActionKind::Park, message.clone())];
            }
            Some(Err(Unsettled::Failed(e))) => {
                // Worded as the pass would act on it (the same policy).
                let failure = StepFailure::Api(e.clone());
                let what = match policy::for_hire(&entry.application_id, Doing::Lookup, &failure, 0)
                {
                    ForHire::Park { .. } => format!(
                        "HiBob refused the search for this hire ({e}); sync would park it: correct the email in Pinpoint"
                    ),
                    _ => format!("the HiBob search failed ({e}); sync would retry"),
                };
                return vec![PlannedAction::new(ActionKind::Park, what)];
            }
            None => {
                return vec![PlannedAction::new(
                    ActionKind::Skip,
                    "HiBob was not searched for this email",
                )];
            }
        };
        let settings = &self.parts.settings;
        let approved = self.ledger().plugin_values_for(&entry.application_id);
        let draft = || apply::draft(settings, entry, application, approved.ok().flatten(), now);
        let steps = plan::assumed_steps(
            entry,
            application,
            lookup,
            draft,
            now,
            &self.parts.settings.rules(),
        );
        let mut actions = Vec::new();
        // A look (for our CV, our comment) is the check the next write mentions.
        let mut looked = false;
        // Working out a create's values is neither an action nor a look.
        for step in steps.iter().filter(|s| !matches!(s, Step::DraftEmployee)) {
            let Some(action) = self.describe(entry, step, looked) else {
                looked = true;
                continue;
            };
            looked = false;
            let parked = action.kind == ActionKind::Park;
            actions.push(action);
            // A hire parked before its create goes no further.
            if parked {
                break;
            }
        }
        actions
    }

    /// The action a step is, in words; `None` for a look, which the next action mentions.
    fn describe(&self, entry: &LedgerEntry, step: &Step, looked: bool) -> Option<PlannedAction> {
        Some(match step {
            Step::FindCv { .. }
            | Step::FindComment { .. }
            | Step::DraftEmployee
            | Step::SearchToAdopt { .. } => return None,
            Step::AdoptEmployee { employee_id, .. } => PlannedAction::new(
                ActionKind::Adopt,
                format!(
                    "HiBob already has employee {employee_id} with the email {}: link it, create nothing",
                    entry.email
                ),
            ),
            Step::CreateEmployee { draft } => describe_create(entry, &draft.new),
            Step::SendToHr { draft } => PlannedAction::new(
                ActionKind::SendToHr,
                format!(
                    "send {} {} <{}> to HiBob's ATS Pending hires (Hire API), once: HR's New hire flow makes the employee",
                    draft.new.first_name, draft.new.surname, draft.new.email
                ),
            ),
            Step::Park { problem, .. } => PlannedAction::new(
                ActionKind::Park,
                format!("{problem}; nothing would be sent to HiBob"),
            ),
            Step::WaitForReadLag { until, .. } => PlannedAction::new(
                ActionKind::Wait,
                format!(
                    "an earlier write's outcome is unknown; waiting out HiBob's read lag until {}",
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            ),
            Step::UploadCv { employee, file } => {
                let check = if looked {
                    " unless its documents already hold it (checked first)"
                } else {
                    ""
                };
                PlannedAction::new(
                    ActionKind::UploadCv,
                    format!(
                        "{}upload {} as {:?} to the {} folder of {}{check}",
                        again(entry),
                        file.filename,
                        plan::cv_document_name(&entry.application_id, &file.filename),
                        self.parts.settings.cv_folder.as_str(),
                        employee_name(employee)
                    ),
                )
            }
            Step::RecordNoCv if looked => PlannedAction::new(
                ActionKind::RecordNoCv,
                format!(
                    "{}the application has no CV attachment any more: recorded as none unless the employee's documents already hold it (checked first)",
                    again(entry)
                ),
            ),
            Step::RecordNoCv => PlannedAction::new(
                ActionKind::RecordNoCv,
                "the application has no CV attachment",
            ),
            Step::PostComment { employee } => {
                let text = plan::comment_text(&employee.id, employee.origin);
                let check = if looked {
                    " unless the application already has it (checked first)"
                } else {
                    ""
                };
                PlannedAction::new(
                    ActionKind::Comment,
                    format!("comment {text:?} on the Pinpoint application{check}"),
                )
            }
            Step::MarkDone { .. } => {
                PlannedAction::new(ActionKind::MarkDone, "the hire would be done")
            }
        })
    }
}

/// A create, in words.
fn describe_create(entry: &LedgerEntry, new: &NewEmployee) -> PlannedAction {
    let again = if entry.employee.state() == StepState::InFlight {
        "the earlier create's outcome is unknown and search does not show the employee; "
    } else {
        "no HiBob employee has this email; "
    };
    PlannedAction::new(
        ActionKind::Create,
        format!(
            "{again}create {} {} <{}> with {}",
            new.first_name,
            new.surname,
            new.email,
            crate::ledger::describe_values(&new.written())
        ),
    )
}

/// Why a pass would not work this hire now, in words; `None` when it would.
fn not_worked(entry: &LedgerEntry, now: DateTime<Utc>) -> Option<String> {
    let id = &entry.application_id;
    let reason =
        |fallback: &'static str| entry.last_error.as_deref().unwrap_or(fallback).to_owned();
    match entry.status {
        HireStatus::Done => Some("already done".into()),
        HireStatus::NeedsAttention => Some(format!(
            "needs attention: {}; fix it, then `hirebridge retry {id}`",
            reason("no reason recorded")
        )),
        HireStatus::Skipped => Some(format!(
            "{}; to include it: `hirebridge retry {id}`, or an earlier sync.hired_since",
            reason("hired before the go-live cutoff")
        )),
        HireStatus::Withdrawn => Some(format!("withdrawn: {}", reason("left the Hired stage"))),
        HireStatus::WaitingForHr if !entry.is_due(now) => Some(format!(
            "waiting for HR to complete HiBob's New hire flow{}",
            entry
                .last_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )),
        HireStatus::Pending | HireStatus::Failed if !entry.is_due(now) => {
            let at = entry
                .next_attempt_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            let why = entry
                .last_error
                .as_deref()
                .map(|e| format!(" after: {e}"))
                .unwrap_or_default();
            Some(format!("not due until {at}{why}"))
        }
        HireStatus::Pending | HireStatus::Failed | HireStatus::WaitingForHr => None,
    }
}

/// Said of an upload whose earlier attempt has an unknown outcome.
fn again(entry: &LedgerEntry) -> &'static str {
    if entry.cv.state() == CvState::InFlight {
        "an earlier upload's outcome is unknown; "
    } else {
        ""
    }
}

fn employee_name(employee: &Employee) -> String {
    if employee.id == NEW_EMPLOYEE {
        "the new employee".to_owned()
    } else {
        employee.id.to_string()
    }
}

//! The dry run behind `hirebridge plan`: what the next pass would do to each listed hire, and
//! why, from read-only calls (the listing and the batched people search) and the planner
//! ([`super::plan::plan_hire`]) that `sync` itself uses.
//!
//! It must never write: not to Pinpoint, not to HiBob, not to the ledger (it is handed a
//! read-only or in-memory ledger, and it only reads it). Reads that `sync` does just before a
//! write (a document list, the comments) are not made; the plan says the check will happen.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Reconciler;
use super::apply::new_employee;
use super::plan::{self, Lookup, Step};
use crate::ledger::{CvState, EmployeeOrigin, HireStatus, LedgerEntry, LedgerError, StepState};
use crate::pinpoint::HiredApplication;

/// What the next pass would do for one hire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedHire {
    pub application_id: String,
    pub email: String,
    pub name: String,
    /// Ledger status now (`new` for a hire the ledger has not seen).
    pub status: String,
    /// Hired before the go-live cutoff (`sync.hired_since`): nothing would be written.
    pub before_cutoff: bool,
    pub actions: Vec<PlannedAction>,
}

/// One action, in order. `kind` is one of `create`, `adopt`, `upload_cv`, `record_no_cv`,
/// `comment`, `mark_done`, `wait`, `park`, `skip`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedAction {
    pub kind: &'static str,
    pub detail: String,
}

impl PlannedAction {
    fn new(kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// Whether the action would change something remotely.
    pub fn is_remote_write(&self) -> bool {
        matches!(self.kind, "create" | "upload_cv" | "comment")
    }
}

/// The whole preview.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DryRun {
    /// Hired applications in the listing (usable or not).
    pub listed: usize,
    pub hires: Vec<PlannedHire>,
    /// Why the preview is incomplete: the API contract failed (a pass would write nothing),
    /// or the listing or the search failed.
    pub incomplete: Option<String>,
}

impl DryRun {
    pub fn count(&self, kind: &str) -> usize {
        self.hires
            .iter()
            .flat_map(|h| &h.actions)
            .filter(|a| a.kind == kind)
            .count()
    }
}

impl Reconciler {
    /// Previews the next pass. Makes read-only calls only; writes nothing anywhere.
    pub async fn plan_next_pass(&self) -> Result<DryRun, LedgerError> {
        let mut dry_run = DryRun::default();
        if let Some(why) = self.parts.contract_preview(chrono::Utc::now()).await? {
            dry_run.incomplete = Some(format!("a pass would write nothing: {why}"));
            return Ok(dry_run);
        }
        'listings: for first in self.parts.pinpoint.first_pages() {
            let mut next = Some(first);
            let mut page_number = 0u32;
            while let Some(url) = next.take() {
                page_number += 1;
                let listed = match self.parts.pinpoint.fetch_page(&url).await {
                    Ok(listed) => listed,
                    Err(e) => {
                        dry_run.incomplete =
                            Some(format!("could not read the hired applications: {e}"));
                        break 'listings;
                    }
                };
                next = listed.next;
                dry_run.listed += listed.page.records;
                for bad in &listed.page.unusable {
                    let Some(id) = &bad.id else { continue };
                    dry_run.hires.push(PlannedHire {
                        application_id: id.clone(),
                        email: bad.email.clone().unwrap_or_default(),
                        name: String::new(),
                        status: self.status_of(id)?,
                        before_cutoff: false,
                        actions: vec![PlannedAction::new(
                            "park",
                            format!("unusable in Pinpoint: {}", bad.problem),
                        )],
                    });
                }
                // As the pass does: a page whose own records contradict the hired-stage
                // filter stops it, writing nothing.
                let configured = &self.parts.settings.hired_stage_ids;
                let known = self.parts.hired_stages()?;
                let contradictions = super::proof::page_contradictions(
                    &listed.page.applications,
                    configured,
                    &known,
                );
                if !contradictions.is_empty() {
                    for (id, why) in contradictions {
                        let Some(a) = listed.page.applications.iter().find(|a| a.id == id) else {
                            continue;
                        };
                        dry_run.hires.push(PlannedHire {
                            status: self.status_of(&a.id)?,
                            application_id: a.id.clone(),
                            email: a.email.clone(),
                            name: format!("{} {}", a.first_name, a.last_name),
                            before_cutoff: false,
                            actions: vec![PlannedAction::new("skip", why)],
                        });
                    }
                    dry_run.incomplete = Some(format!(
                        "page {page_number} of the hired-stage listing contradicts its filter, so a pass would stop there and write nothing: {}",
                        crate::contract::stage_filter_fix(&self.parts.pinpoint)
                    ));
                    break 'listings;
                }
                let applications = listed.page.applications;
                if let Err(message) = self.plan_page(&applications, &mut dry_run).await? {
                    dry_run.incomplete = Some(message);
                    break 'listings;
                }
            }
        }
        Ok(dry_run)
    }

    fn status_of(&self, application_id: &str) -> Result<String, LedgerError> {
        Ok(self
            .ledger()
            .entry(application_id)?
            .map_or("new", |e| e.status.as_str())
            .to_owned())
    }

    /// Plans one page. `Err(message)` when HiBob refused the search: nothing after it could
    /// be planned truthfully.
    async fn plan_page(
        &self,
        applications: &[HiredApplication],
        dry_run: &mut DryRun,
    ) -> Result<Result<(), String>, LedgerError> {
        let now = Utc::now();
        let cutoff = self.parts.cutoff(now)?;
        // Each hire as the pass would see it, with its status in the ledger now (`None`: new).
        let mut rows: Vec<(LedgerEntry, &HiredApplication, Option<HireStatus>)> = Vec::new();
        for application in applications {
            // As `observe` would see it: left out by the cutoff in force, or included again
            // (a backfill, previewed), or back in a Hired stage.
            let observed = super::observed(application, &cutoff);
            let (entry, recorded) = match self.ledger().entry(&application.id)? {
                Some(mut entry) => {
                    let recorded = entry.status;
                    // As `observe` does: contact details follow Pinpoint until the employee exists.
                    if entry.employee == StepState::Pending {
                        entry.email = application.email.clone();
                        entry.first_name = application.first_name.clone();
                        entry.last_name = application.last_name.clone();
                    }
                    let reopens = match entry.status {
                        HireStatus::Skipped => observed.before_cutoff.is_none(),
                        HireStatus::Withdrawn => true,
                        _ => false,
                    };
                    if reopens {
                        entry.status = HireStatus::Pending;
                        entry.last_error = None;
                        entry.next_attempt_at = None;
                    }
                    (entry, Some(recorded))
                }
                None => {
                    let mut entry = new_entry(application, now);
                    if let Some(reason) = observed.before_cutoff {
                        entry.status = HireStatus::Skipped;
                        entry.last_error = Some(reason);
                    }
                    (entry, None)
                }
            };
            rows.push((entry, application, recorded));
        }

        let needing: Vec<(&LedgerEntry, &HiredApplication)> = rows
            .iter()
            .filter(|(e, _, _)| e.is_due(now) && plan::needs_lookup(e))
            .map(|(e, a, _)| (e, *a))
            .collect();
        let mut lookups: HashMap<String, Result<Lookup, String>> = HashMap::new();
        // As a pass finds people, by login address or by the candidate's private address, in
        // one read of everyone (a preview's cost, not a pass's).
        if !needing.is_empty() {
            match self.parts.hibob.directory().await {
                Ok(everyone) => {
                    for (entry, application) in needing {
                        let work = self.parts.settings.mapping.work_email(&application.source);
                        let addresses = plan::HireAddresses {
                            candidate: &entry.email,
                            work: work.as_deref(),
                        };
                        let lookup = plan::lookup_for(
                            &addresses,
                            &everyone,
                            Utc::now().date_naive(),
                            self.parts.settings.on_former_employee,
                        )
                        .map_err(|problem| {
                            problem.message(&addresses.describe(), &entry.application_id)
                        });
                        lookups.insert(entry.application_id.clone(), lookup);
                    }
                }
                Err(e) if e.is_unauthorized() => {
                    return Ok(Err(format!("HiBob refused the people search: {e}")));
                }
                Err(e) => {
                    for (entry, _) in needing {
                        lookups.insert(
                            entry.application_id.clone(),
                            Err(format!("the HiBob search failed ({e}); sync would retry")),
                        );
                    }
                }
            }
        }

        for (entry, application, recorded) in rows {
            let lookup = if plan::needs_lookup(&entry) {
                lookups.remove(&entry.application_id)
            } else {
                Some(Ok(Lookup::NotNeeded))
            };
            let actions = self.actions_for(&entry, application, lookup, now);
            dry_run.hires.push(PlannedHire {
                application_id: entry.application_id.clone(),
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
        lookup: Option<Result<Lookup, String>>,
        now: DateTime<Utc>,
    ) -> Vec<PlannedAction> {
        let id = &entry.application_id;
        match entry.status {
            HireStatus::Done => {
                return vec![PlannedAction::new("skip", "already done")];
            }
            HireStatus::NeedsAttention => {
                return vec![PlannedAction::new(
                    "skip",
                    format!(
                        "needs attention: {}; fix it, then `hirebridge retry {id}`",
                        entry.last_error.as_deref().unwrap_or("no reason recorded")
                    ),
                )];
            }
            HireStatus::Skipped => {
                return vec![PlannedAction::new(
                    "skip",
                    format!(
                        "{}; to include it: `hirebridge retry {id}`, or an earlier sync.hired_since",
                        entry
                            .last_error
                            .as_deref()
                            .unwrap_or("hired before the go-live cutoff")
                    ),
                )];
            }
            HireStatus::Withdrawn => {
                return vec![PlannedAction::new(
                    "skip",
                    format!(
                        "withdrawn: {}",
                        entry
                            .last_error
                            .as_deref()
                            .unwrap_or("left the Hired stage")
                    ),
                )];
            }
            HireStatus::Pending | HireStatus::Failed => {}
        }
        if !entry.is_due(now) {
            let at = entry
                .next_attempt_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            let why = entry
                .last_error
                .as_deref()
                .map(|e| format!(" after: {e}"))
                .unwrap_or_default();
            return vec![PlannedAction::new(
                "skip",
                format!("not due until {at}{why}"),
            )];
        }
        let lookup = match lookup {
            Some(Ok(lookup)) => lookup,
            Some(Err(message)) => return vec![PlannedAction::new("park", message)],
            None => {
                return vec![PlannedAction::new(
                    "skip",
                    "HiBob was not searched for this email",
                )];
            }
        };
        let lag = chrono::Duration::from_std(self.parts.settings.read_lag)
            .unwrap_or_else(|_| chrono::Duration::seconds(20));
        let steps = plan::plan_hire(entry, application, &lookup, now, lag);
        let mut employee = entry.hibob_employee_id.clone().zip(entry.employee_origin);
        let mut actions: Vec<PlannedAction> = steps
            .iter()
            .map(|step| self.describe(entry, application, step, &mut employee, now))
            .collect();
        // A hire parked before its create goes no further.
        if let Some(at) = actions.iter().position(|a| a.kind == "park") {
            actions.truncate(at + 1);
        }
        actions
    }

    fn describe(
        &self,
        entry: &LedgerEntry,
        application: &HiredApplication,
        step: &Step,
        employee: &mut Option<(String, EmployeeOrigin)>,
        now: DateTime<Utc>,
    ) -> PlannedAction {
        let employee_name = |e: &Option<(String, EmployeeOrigin)>| {
            e.as_ref()
                .map_or_else(|| "the new employee".to_owned(), |(id, _)| id.clone())
        };
        match step {
            Step::AdoptEmployee { employee_id } => {
                *employee = Some((employee_id.clone(), EmployeeOrigin::Adopted));
                PlannedAction::new(
                    "adopt",
                    format!(
                        "HiBob already has employee {employee_id} with the email {}: link it, create nothing",
                        entry.email
                    ),
                )
            }
            Step::CreateEmployee => {
                let again = if entry.employee == StepState::InFlight {
                    "the earlier create's outcome is unknown and search does not show the employee; "
                } else {
                    "no HiBob employee has this email; "
                };
                match new_employee(&self.parts.settings, entry.first_seen_at, application, now) {
                    Ok((new, _)) => PlannedAction::new(
                        "create",
                        format!(
                            "{again}create {} {} <{}> with {}",
                            new.first_name,
                            new.surname,
                            new.email,
                            crate::ledger::describe_values(&new.written())
                        ),
                    ),
                    Err(e) => {
                        PlannedAction::new("park", format!("{e}; nothing would be sent to HiBob"))
                    }
                }
            }
            Step::WaitForReadLag { until } => PlannedAction::new(
                "wait",
                format!(
                    "an earlier write's outcome is unknown; waiting out HiBob's read lag until {}",
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            ),
            Step::UploadCv { check_existing } => {
                let file = application
                    .cv
                    .as_ref()
                    .map(|a| {
                        format!(
                            "{} as {:?}",
                            a.filename,
                            plan::cv_document_name(&entry.application_id, &a.filename)
                        )
                    })
                    .unwrap_or_else(|| "the CV".to_owned());
                let check = if *check_existing {
                    " unless its documents already hold it (checked first)"
                } else {
                    ""
                };
                let again = if entry.cv == CvState::InFlight {
                    "an earlier upload's outcome is unknown; "
                } else {
                    ""
                };
                PlannedAction::new(
                    "upload_cv",
                    format!(
                        "{again}upload {file} to the {} folder of {}{check}",
                        self.parts.settings.cv_folder.as_str(),
                        employee_name(employee)
                    ),
                )
            }
            Step::RecordNoCv => {
                PlannedAction::new("record_no_cv", "the application has no CV attachment")
            }
            Step::PostComment { check_existing } => {
                let text = match employee {
                    Some((id, origin)) => plan::comment_text(id, *origin),
                    None => plan::comment_text("<new id>", EmployeeOrigin::Created),
                };
                let check = if *check_existing {
                    " unless the application already has it (checked first)"
                } else {
                    ""
                };
                PlannedAction::new(
                    "comment",
                    format!("comment {text:?} on the Pinpoint application{check}"),
                )
            }
            Step::MarkDone => PlannedAction::new("mark_done", "the hire would be done"),
        }
    }
}

/// The row `observe` would insert for a hire seen for the first time.
fn new_entry(application: &HiredApplication, now: DateTime<Utc>) -> LedgerEntry {
    LedgerEntry::new_pending(
        &application.id,
        &application.email,
        &application.first_name,
        &application.last_name,
        application.job_title.as_deref(),
        now,
    )
}

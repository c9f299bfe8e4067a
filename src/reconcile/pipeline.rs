//! One pass, and the stages every way of working hires shares: list → observe → gather
//! facts → execute. `run_pass` drives them over the whole listing; a webhook nudge
//! ([`super::nudge`]) enters at observe with its one application, and the dry run
//! ([`super::dry_run`]) walks the same listing and facts but renders each decision.
//!
//! Writes only through the ledger's calls and the executor; owns which hires of a page are
//! due, the order hires of one person run in, and stopping the pass.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::apply::{Finished, HireOutcome};
use super::facts::{Facts, Lookup, Unsettled};
use super::plan::Person;
use super::policy::{self, Doing, ForHire, StepFailure};
use super::{
    Cutoff, HireClaim, Parts, PassReport, PassSummary, Reconciler, Stop, cutoff, proof, record,
};
use crate::hire::{
    ApplicationId, HireStatus, LedgerEntry, ParkKind, PassId, StageId, StepKind, StepState,
};
use crate::ledger::{LedgerError, ObservedHire};
use crate::pinpoint::{HiredApplication, ListingError, Page, UnusableRecord};

impl Reconciler {
    /// Runs one full pass. Ledger errors end it at once (nothing can be recorded safely);
    /// everything else is recorded per hire and the pass goes on.
    pub async fn run_pass(
        &mut self,
        trigger: &str,
        shutdown: &CancellationToken,
    ) -> Result<PassReport, LedgerError> {
        let listed_from = Utc::now();
        let pass = self.ledger().begin_pass(trigger, listed_from)?;
        let marks = self.ledger().begin_listing()?;
        self.directory = Default::default();
        // Webhook nudges running meanwhile count here too: the clients' counters are shared.
        let stats_before = self.parts.http.stats();
        self.parts.pinpoint.begin_pass();
        self.parts.hibob.begin_pass();
        if let Some(hire_api) = &self.parts.hire_api {
            hire_api.begin_pass();
        }
        let mut summary = PassSummary::default();
        // No write before the API contract is known to hold (probed at startup, then daily).
        let contract = self.parts.contract_for_pass(listed_from).await?;
        summary.contract_requests = (self.parts.http.stats() - stats_before).requests;
        let scope = self.parts.listing_scope(listed_from, &marks)?;
        let mut listing = self.parts.listing(scope);
        let contract_held = contract.is_ok();
        let mut stopped = match contract {
            Ok(_) => {
                summary.listing = Some(scope.read());
                self.list_and_work(pass, &mut listing, &mut summary, shutdown)
                    .await?
            }
            Err(stop) => Some(stop),
        };
        if listing.sort_contradicted {
            // The check said Pinpoint sorts; this listing says otherwise: check again.
            self.ledger().forget_contract_report()?;
        }
        drop(listing);
        // Only a complete full listing can say which hires it no longer shows (and only from
        // a server whose paging behaves).
        if stopped.is_none() && scope.is_full() && !self.parts.fallbacks().listing_may_be_incomplete
        {
            stopped = self
                .follow_unlisted(pass, listed_from, &mut summary, shutdown)
                .await?;
        }
        // The hires waiting for HR this listing did not show: their employees are looked
        // for every pass, not only when the application changes.
        if stopped.is_none() && contract_held {
            stopped = self
                .follow_waiting(pass, listed_from, &mut summary, shutdown)
                .await?;
        }
        if stopped.is_none() {
            self.ledger()
                .complete_listing(listed_from, scope.is_full())?;
        }
        summary.http = self.parts.http.stats() - stats_before;
        let totals = self.ledger().count_by_status()?;
        let report = PassReport {
            pass,
            summary,
            stopped,
            totals,
        };
        self.ledger().finish_pass(
            pass,
            Utc::now(),
            report.outcome().as_str(),
            &serde_json::to_string(&report.summary).unwrap_or_default(),
        )?;
        self.parts.seal_audit_trail(Some(pass));
        self.parts.announce(&report);
        Ok(report)
    }

    /// Works the listing page by page, as the pages arrive (memory stays flat however many
    /// hires a tenant has, and a CV's pre-signed URL is used in the pass that read it).
    async fn list_and_work(
        &mut self,
        pass: PassId,
        listing: &mut crate::pinpoint::Listing,
        summary: &mut PassSummary,
        shutdown: &CancellationToken,
    ) -> Result<Option<Stop>, LedgerError> {
        loop {
            if shutdown.is_cancelled() {
                return Ok(Some(Stop::Shutdown));
            }
            let page = match listing.next_page().await {
                None => return Ok(None),
                Some(Ok(page)) => page,
                Some(Err(e)) => return self.parts.listing_failed(e).map(Some),
            };
            if let Some(stop) = self.work_page(pass, page, summary, shutdown).await? {
                return Ok(Some(stop));
            }
        }
    }

    async fn work_page(
        &mut self,
        pass: PassId,
        page: Page,
        summary: &mut PassSummary,
        shutdown: &CancellationToken,
    ) -> Result<Option<Stop>, LedgerError> {
        let Page {
            number,
            page,
            fetched_at,
        } = page;
        summary.listed += page.records;
        self.report_progress(summary);
        // The whole page is checked before any of it is used: records that contradict the
        // filter mean the listing cannot be trusted, not that a few records are odd.
        if let Some(stop) = self.parts.guard_page(number, &page.applications, summary)? {
            return Ok(Some(stop));
        }
        let now = Utc::now();
        self.parts
            .record_unusable(pass, now, &page.unusable, summary)?;
        self.parts.learn_hired_stages(&page.applications, now)?;
        // Claimed before the rows are read, so a row is never planned from while a nudge
        // changes it. A hire another task holds is left to that task.
        let mut claims = self.parts.claim(&page.applications);
        let entries = self.parts.observe(pass, now, &page.applications, summary)?;
        let by_id: HashMap<&str, &HiredApplication> = page
            .applications
            .iter()
            .map(|a| (a.id.as_str(), a))
            .collect();
        // Drift only for hires this pass holds and that nothing changed since the page was
        // read: a hire a nudge finished meanwhile was written from newer data than this page,
        // and comparing the two would "correct" HiBob back to the older values.
        let settled: Vec<LedgerEntry> = entries
            .iter()
            .filter(|e| claims.contains_key(&e.application_id) && e.updated_at < fetched_at)
            .cloned()
            .collect();
        // Without HiBob's human-readable values (contract `hibob.human_readable`), what HiBob
        // holds cannot be compared with what was written: in update mode drift waits, neither
        // reported nor updated (report mode reads only the listing, and goes on).
        let drift_waits = self.parts.fallbacks().skip_drift
            && self.parts.settings.mapping.on_change == crate::mapping::OnChange::Update;
        if !drift_waits
            && let Some(stop) = self
                .check_drift(pass, &settled, &by_id, summary, shutdown)
                .await?
        {
            return Ok(Some(stop));
        }
        let due: Vec<LedgerEntry> = entries
            .into_iter()
            .filter(|e| e.is_due(now) && claims.contains_key(&e.application_id))
            .collect();
        // Hires with nothing to do now are free for nudges at once.
        claims.retain(|id, _| due.iter().any(|e| &e.application_id == id));
        if due.is_empty() {
            return Ok(None);
        }
        let facts = self
            .parts
            .gather_lookups(&due, &by_id, &mut self.directory)
            .await?;
        let lookups = match self.parts.record_facts(pass, &due, facts, summary)? {
            Ok(lookups) => lookups,
            Err(stop) => return Ok(Some(stop)),
        };
        let progress = |s: &PassSummary| self.report_progress(s);
        let (finished, stop) = self
            .parts
            .execute(pass, due, &by_id, &lookups, summary, shutdown, &progress)
            .await?;
        self.remember_employees(&finished, &by_id);
        Ok(stop)
    }

    /// Remembers the employees this page's hires now have, for the rest of the pass: a later
    /// page's hire of the same person then finds them even before HiBob's search shows them.
    fn remember_employees(
        &mut self,
        finished: &[Finished],
        by_id: &HashMap<&str, &HiredApplication>,
    ) {
        let mapping = &self.parts.settings.mapping;
        for entry in finished.iter().map(|f| &f.entry) {
            let Some(employee_id) = entry.employee_id().cloned() else {
                continue;
            };
            let source = by_id.get(entry.application_id.as_str()).map(|a| &a.source);
            let rendered = source.and_then(|s| mapping.render(s).ok());
            let login = rendered
                .as_ref()
                .and_then(|r| {
                    crate::mapping::WORK_EMAIL
                        .iter()
                        .find_map(|f| r.get(*f).cloned())
                })
                .unwrap_or_else(|| entry.email.clone());
            self.directory.created.add(crate::hibob::FoundEmployee {
                id: employee_id,
                email: login,
                lifecycle_status: None,
                termination_date: None,
                private_email: rendered.and_then(|r| r.get("home.privateEmail").cloned()),
            });
        }
    }
}

impl Parts {
    /// Why the listing ended early, recorded: an answer that suggests the API moved makes the
    /// next pass check the contract again.
    pub(super) fn listing_failed(&self, error: ListingError) -> Result<Stop, LedgerError> {
        let message = error.to_string();
        tracing::error!(error = %message, "could not read the hired applications");
        let ListingError::Api(error) = error else {
            return Ok(Stop::ListingFailed(message));
        };
        let judged = policy::for_pass(&error);
        if judged.suspects_contract {
            self.ledger().forget_contract_report()?;
        }
        Ok(if judged.stops {
            Stop::Refused(message)
        } else {
            Stop::ListingFailed(message)
        })
    }

    /// Parks the listed records that cannot be used (no email, …).
    pub(super) fn record_unusable(
        &self,
        pass: PassId,
        now: DateTime<Utc>,
        unusable: &[UnusableRecord],
        summary: &mut PassSummary,
    ) -> Result<(), LedgerError> {
        for bad in unusable {
            summary.unusable += 1;
            match &bad.id {
                Some(id) => {
                    tracing::warn!(application = %id, problem = %bad.problem, "unusable application");
                    self.ledger().observe_unusable(
                        pass,
                        now,
                        id,
                        bad.email.as_deref(),
                        &bad.problem,
                    )?;
                }
                None => {
                    tracing::warn!(problem = %bad.problem, "a listed record has no id; skipped")
                }
            }
        }
        Ok(())
    }

    /// Keeps the stages these listed hires show to be hired, for proving nudges later.
    fn learn_hired_stages(
        &self,
        applications: &[HiredApplication],
        now: chrono::DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let mut new_stages: Vec<(&StageId, &ApplicationId)> = Vec::new();
        for a in applications {
            if let Some(stage) = proof::teaches_stage(a)
                && !new_stages.iter().any(|(s, _)| *s == stage)
            {
                new_stages.push((stage, &a.id));
            }
        }
        if new_stages.is_empty() {
            return Ok(());
        }
        let known = self.ledger().hired_stages()?;
        for (stage, application) in new_stages {
            if !known.contains(stage.as_str())
                && self.ledger().learn_hired_stage(stage, application, now)?
            {
                tracing::info!(%stage, %application, "learned a hired stage from the listing");
            }
        }
        Ok(())
    }

    /// Claims the page's hires for this pass; a hire a nudge holds is left to it.
    fn claim(&self, applications: &[HiredApplication]) -> HashMap<ApplicationId, HireClaim> {
        applications
            .iter()
            .filter_map(|a| {
                let claim = self.claims.try_claim(&a.id);
                if claim.is_none() {
                    tracing::debug!(application = %a.id, "being worked by a webhook nudge; left to it");
                }
                claim.map(|c| (a.id.clone(), c))
            })
            .collect()
    }

    /// Merges listed hires into the ledger, judged against the cutoff in force; returns their
    /// rows.
    pub(super) fn observe(
        &self,
        pass: PassId,
        now: DateTime<Utc>,
        applications: &[HiredApplication],
        summary: &mut PassSummary,
    ) -> Result<Vec<LedgerEntry>, LedgerError> {
        let cutoff = self.cutoff(now)?;
        let observed: Vec<ObservedHire<'_>> =
            applications.iter().map(|a| observed(a, &cutoff)).collect();
        crate::crashpoint::hit("ledger.observe.before");
        let (entries, new) = self.ledger().observe(pass, now, &observed)?;
        crate::crashpoint::hit("ledger.observe.after");
        summary.new += new;
        let skipped_now = entries
            .iter()
            .filter(|e| {
                e.status == HireStatus::Skipped
                    && e.first_seen_at.timestamp_millis() == now.timestamp_millis()
            })
            .count();
        if skipped_now > 0 {
            summary.skipped += skipped_now;
            summary.cutoff = Some(cutoff.describe());
        }
        Ok(entries)
    }

    /// Records what the facts could not settle (a failed search, an answer a person must
    /// resolve) as the policy says, and hands back the lookups of the rest. `Err`: a refused
    /// credential stops the pass.
    pub(super) fn record_facts(
        &self,
        pass: PassId,
        due: &[LedgerEntry],
        mut facts: Facts,
        summary: &mut PassSummary,
    ) -> Result<Result<HashMap<ApplicationId, Lookup>, Stop>, LedgerError> {
        if facts.suspect_contract {
            self.ledger().forget_contract_report()?;
        }
        // What the searches before a refusal settled is recorded either way; the refusal
        // then stops the pass.
        let mut refused = facts.stop.take();
        let mut lookups = HashMap::new();
        for entry in due {
            let id = &entry.application_id;
            match facts.lookups.remove(id) {
                None => {}
                Some(Ok(lookup)) => {
                    lookups.insert(id.to_owned(), lookup);
                }
                Some(Err(Unsettled::Problem(message))) => {
                    self.park_at_lookup(pass, entry, &message, summary)?
                }
                Some(Err(Unsettled::Failed(error))) => {
                    let failure = StepFailure::Api(error.clone());
                    match policy::for_hire(id, Doing::Lookup, &failure, entry.failures) {
                        ForHire::StopPass { .. } | ForHire::Interrupted => {
                            refused.get_or_insert(error);
                        }
                        ForHire::Park { why, .. } => {
                            tracing::warn!(application = %id, reason = %why, "HiBob refused the search for this hire");
                            self.park_at_lookup(pass, entry, &why, summary)?;
                        }
                        ForHire::Retry {
                            message,
                            after,
                            outcome_unknown,
                        } => {
                            tracing::warn!(application = %id, error = %message, "HiBob search failed");
                            record::retry(
                                &mut self.ledger(),
                                &self.settings,
                                entry,
                                StepKind::Employee,
                                &message,
                                after,
                                outcome_unknown,
                                pass,
                            )?;
                            summary.retrying += 1;
                        }
                    }
                }
            }
        }
        if let Some(error) = refused {
            tracing::error!(error = %error, "HiBob refused the search");
            return Ok(Err(Stop::Refused(error.to_string())));
        }
        Ok(Ok(lookups))
    }

    fn park_at_lookup(
        &self,
        pass: PassId,
        entry: &LedgerEntry,
        message: &str,
        summary: &mut PassSummary,
    ) -> Result<(), LedgerError> {
        record::parked(
            &mut self.ledger(),
            &entry.application_id,
            StepKind::Employee,
            ParkKind::Invalid,
            message,
            pass,
            Utc::now(),
        )?;
        summary.parked += 1;
        Ok(())
    }

    /// Runs the due hires, `concurrency` persons at a time, and counts each turn. Returns
    /// every hire's finished turn, and why the pass must stop, if it must.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn execute(
        &self,
        pass: PassId,
        due: Vec<LedgerEntry>,
        by_id: &HashMap<&str, &HiredApplication>,
        lookups: &HashMap<ApplicationId, Lookup>,
        summary: &mut PassSummary,
        shutdown: &CancellationToken,
        progress: &(dyn Fn(&PassSummary) + Sync),
    ) -> Result<(Vec<Finished>, Option<Stop>), LedgerError> {
        let halted = AtomicBool::new(false);
        let mapping = &self.settings.mapping;
        let groups = same_person_groups(due, |e| {
            by_id
                .get(e.application_id.as_str())
                .and_then(|a| mapping.work_email(&a.source))
        });
        let halted = &halted;
        let runs = groups
            .into_iter()
            .map(|group| self.run_person(pass, group, by_id, lookups, shutdown, halted));
        let mut turns =
            futures_util::stream::iter(runs).buffer_unordered(self.settings.concurrency.max(1));
        let mut stop = None;
        let mut finished = Vec::new();
        while let Some(group) = turns.next().await {
            for turn in group? {
                if let Some(why) = summary.count(&turn.outcome, shutdown.is_cancelled()) {
                    stop.get_or_insert(why);
                }
                progress(summary);
                finished.push(turn);
            }
        }
        Ok((finished, stop))
    }

    /// One person's hires, one after another: the first hire makes (or adopts) the employee
    /// and the others adopt it, instead of racing creates for one email that only HiBob's
    /// duplicate-email answer would catch.
    async fn run_person(
        &self,
        pass: PassId,
        group: Vec<LedgerEntry>,
        by_id: &HashMap<&str, &HiredApplication>,
        lookups: &HashMap<ApplicationId, Lookup>,
        shutdown: &CancellationToken,
        halted: &AtomicBool,
    ) -> Result<Vec<Finished>, LedgerError> {
        let mut turns = Vec::new();
        let mut person = Person::default();
        for entry in group {
            let (Some(application), Some(lookup)) = (
                by_id.get(entry.application_id.as_str()).copied(),
                lookups.get(&entry.application_id).cloned(),
            ) else {
                continue;
            };
            let turn = self
                .hire_run(pass, shutdown, halted)
                .run(entry, application, lookup, person.clone())
                .await?;
            if person.employee.is_none() {
                // A park means HiBob refused (or was never sent) the data: nothing unknown.
                let may_be_pending = matches!(
                    turn.outcome,
                    HireOutcome::Waiting | HireOutcome::Interrupted
                );
                person.employee = turn.entry.employee_id().cloned();
                person.create_unresolved =
                    may_be_pending && turn.entry.employee.state() == StepState::InFlight;
            }
            turns.push(turn);
        }
        Ok(turns)
    }
}

/// Due hires grouped by person: the same candidate address, or the same mapped work address
/// (`work_of`), compared as HiBob compares them. Each group in listing order.
fn same_person_groups(
    due: Vec<LedgerEntry>,
    work_of: impl Fn(&LedgerEntry) -> Option<String>,
) -> Vec<Vec<LedgerEntry>> {
    let mut groups: Vec<Vec<LedgerEntry>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for entry in due {
        let keys: Vec<String> = std::iter::once(crate::identity::email_key(&entry.email))
            .chain(work_of(&entry).map(|w| crate::identity::email_key(&w)))
            .collect();
        let index = match keys.iter().find_map(|k| group_of.get(k).copied()) {
            Some(i) => i,
            None => {
                groups.push(Vec::new());
                groups.len() - 1
            }
        };
        for key in keys {
            group_of.entry(key).or_insert(index);
        }
        groups[index].push(entry);
    }
    groups
}

/// What the ledger records of a listed hire, judged against the cutoff in force.
pub fn observed<'a>(application: &'a HiredApplication, cutoff: &Cutoff) -> ObservedHire<'a> {
    ObservedHire {
        application_id: &application.id,
        email: &application.email,
        first_name: &application.first_name,
        last_name: &application.last_name,
        job_title: application.job_title.as_deref(),
        hired_at: application.hired_at.as_deref().and_then(cutoff::parse),
        before_cutoff: cutoff.excludes(
            application.hired_at.as_deref(),
            application.created_at.as_deref(),
        ),
    }
}

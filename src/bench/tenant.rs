//! A tenant whose hires are all done, set up in seconds for `hirebridge bench`: the simulator
//! holds the hired applications, employees, CV documents and comments, and the ledger holds
//! what passes that did the work would have recorded.
//!
//! Backfilling 100,000 hires through HTTP would take minutes, so the ledger is written by the
//! very `Ledger` calls a pass makes, in the order apply makes them, with the values the same
//! functions compute (mapping, document name, comment text), its commits unsynced. What a
//! real backfill records is compared with it by [`compare_with_backfill`]. No SQL here.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::BenchError;
use hirebridge::config::{Config, RateLimit};
use hirebridge::hire::EmployeeOrigin;
use hirebridge::http::HttpClient;
use hirebridge::ledger::{
    ApplicationId, EmployeeId, EntryFilter, EventOutcome, Ledger, ObservedHire, PassId,
};
use hirebridge::pinpoint::{Attachment, HiredApplication, PinpointClient};
use hirebridge::reconcile::plan::Employee;
use hirebridge::reconcile::{PassSummary, Reconciler, Settings, apply, plan, record};
use hirebridge::sim::{Scenario, Sim, WorkedHire};

/// The generator seed of every tenant the benchmark builds.
const SEED: u64 = 7;

/// A simulator and a ledger on disk, every hire done, plus a config file for the real binary.
pub struct SettledTenant {
    pub simulator: Sim,
    pub config: Config,
    pub config_path: PathBuf,
    _scratch: tempfile::TempDir,
}

impl SettledTenant {
    pub fn ledger_path(&self) -> &Path {
        &self.config.ledger.path
    }
}

/// The configuration the benchmark runs hirebridge with: the simulator's URLs, page size
/// 1000 (Pinpoint's maximum), no client-side pacing (the simulator is unlimited), `schedule`.
pub fn bench_config(
    simulator: &Sim,
    ledger: &Path,
    page_size: u32,
) -> Result<Config, hirebridge::config::ConfigError> {
    let mut config = super::simulated_config(simulator, ledger)?;
    config.pinpoint.page_size = page_size;
    config.pinpoint.rate_limit = RateLimit::unlimited();
    Ok(config)
}

/// The same configuration as a TOML file, for the binary run as a child process; the
/// credentials go in its environment (see [`super::child::credentials`]).
pub fn write_config_file(
    path: &Path,
    simulator: &Sim,
    ledger: &Path,
    page_size: u32,
    schedule: &str,
) -> Result<(), BenchError> {
    let text = format!(
        r#"[pinpoint]
base_url = "{pinpoint}"
rate_limit = "1000000/1s"
page_size = {page_size}

[hibob]
base_url = "{hibob}"
rate_limit = "1000000/1s"
documents_rate_limit = "1000000/1s"
site = "New York (Demo)"

[ledger]
path = "{ledger}"

[sync]
hired_since = "3650d"

[schedule]
{schedule}
"#,
        pinpoint = simulator.pinpoint_base_url(),
        hibob = simulator.hibob_base_url(),
        ledger = ledger.display(),
    );
    std::fs::write(path, text).map_err(BenchError::Scratch)
}

/// Builds a tenant of `hires` generated hires, all done, read with pages of `page_size`,
/// whose every pass reads the whole listing (`full_every = "0s"`): the steady-state figures
/// are the full listing's, the most a pass of a settled tenant costs.
pub async fn settled(hires: usize, page_size: u32) -> Result<SettledTenant, BenchError> {
    settled_with(hires, page_size, "every = \"1h\"\nfull_every = \"0s\"").await
}

/// [`settled`] with the given `[schedule]` lines.
pub async fn settled_with(
    hires: usize,
    page_size: u32,
    schedule: &str,
) -> Result<SettledTenant, BenchError> {
    let simulator = Sim::start(Scenario::generated(hires, SEED)).map_err(BenchError::Simulator)?;
    let scratch = tempfile::tempdir().map_err(BenchError::Scratch)?;
    let ledger_path = scratch.path().join("ledger.sqlite3");
    let config = bench_config(&simulator, &ledger_path, page_size)?;
    let config_path = scratch.path().join("config.toml");
    write_config_file(&config_path, &simulator, &ledger_path, page_size, schedule)?;
    record_as_worked(&simulator, &config).await?;
    Ok(SettledTenant {
        simulator,
        config,
        config_path,
        _scratch: scratch,
    })
}

/// Lists the simulator's hired applications with the real client and records each as one
/// pass would: detected, employee created, CV uploaded (or none), comment posted, done.
async fn record_as_worked(simulator: &Sim, config: &Config) -> Result<(), BenchError> {
    let settings = Settings::from_config(config);
    let pinpoint = PinpointClient::new(HttpClient::new(&config.http)?, &config.pinpoint)
        .including(&settings.mapping.pinpoint_includes());
    let mut ledger = Ledger::open(&config.ledger.path)?;
    ledger.stop_syncing_for_bench()?;
    let seeding = Seeding {
        simulator,
        settings: &settings,
        fingerprint: settings.mapping.fingerprint(),
        pass: ledger.begin_pass("bench-seed", Utc::now())?,
    };
    let mut summary = PassSummary::default();
    // A seeded tenant's hires are all the bench's to work: no cutoff.
    let everything = hirebridge::reconcile::Cutoff {
        at: DateTime::<Utc>::MIN_UTC,
        configured: true,
    };
    for first in pinpoint.first_pages() {
        let mut next = Some(first);
        while let Some(request) = next.take() {
            let listed = pinpoint
                .fetch_page(&request)
                .await
                .map_err(|e| BenchError::Daemon(format!("seeding: {e}")))?;
            next = listed.next;
            let page = listed.page;
            summary.listed += page.records;
            let observed: Vec<ObservedHire<'_>> = page
                .applications
                .iter()
                .map(|a| hirebridge::reconcile::observed(a, &everything))
                .collect();
            let (entries, new) = ledger.observe(seeding.pass, Utc::now(), &observed)?;
            summary.new += new;
            let by_id: std::collections::HashMap<&str, _> = page
                .applications
                .iter()
                .map(|a| (a.id.as_str(), a))
                .collect();
            for entry in &entries {
                let Some(application) = by_id.get(entry.application_id.as_str()) else {
                    continue;
                };
                seeding.work(&mut ledger, entry.first_seen_at, application)?;
                summary.completed += 1;
            }
        }
    }
    ledger.finish_pass(
        seeding.pass,
        Utc::now(),
        "completed",
        &serde_json::to_string(&summary).unwrap_or_default(),
    )?;
    ledger.checkpoint()?;
    Ok(())
}

/// What every hire seeded in the one bench pass shares: where its remote records go, how it
/// is mapped, and the pass its ledger rows belong to.
struct Seeding<'a> {
    simulator: &'a Sim,
    settings: &'a Settings,
    fingerprint: String,
    pass: PassId,
}

impl Seeding<'_> {
    /// Works one listed hire: its employee, CV and comment put straight into the simulator,
    /// then the ledger writes a pass that worked it would have made.
    fn work(
        &self,
        ledger: &mut Ledger,
        first_seen: DateTime<Utc>,
        application: &HiredApplication,
    ) -> Result<(), BenchError> {
        let id = &application.id;
        let now = Utc::now();
        let (new, rendered) = apply::new_employee(self.settings, first_seen, application, now)
            .map_err(|e| BenchError::Daemon(format!("seeding {id}: {e}")))?;
        let cv = application
            .cv
            .as_ref()
            .map(|a| (a, plan::cv_document_name(id, &a.filename)));
        let comment =
            |employee: &str| plan::comment_text(&employee.into(), EmployeeOrigin::Created);
        let ids = self.simulator.seed_worked_hire(WorkedHire {
            application_id: id,
            first_name: &new.first_name,
            surname: &new.surname,
            email: &new.email,
            site: &new.site,
            start_date: new.start_date,
            body: hirebridge::hibob::create_body(&new),
            document: cv.as_ref().map(|(a, name)| {
                (
                    self.settings.cv_folder.as_str(),
                    name.as_str(),
                    a.url.as_str(),
                )
            }),
            comment: &comment,
        });
        let employee = Employee {
            id: ids.employee_id.clone().into(),
            origin: EmployeeOrigin::Created,
        };
        // The same ledger writes, in the same order, as a pass that worked the hire.
        let pass = self.pass;
        record::create_intent(
            ledger,
            id,
            pass,
            now,
            &self.fingerprint,
            &new,
            &rendered,
            false,
        )?;
        record::employee_created(ledger, id, &employee.id, pass, now)?;
        let cv = cv
            .as_ref()
            .map(|(attachment, name)| (*attachment, name.as_str()));
        self.record_cv(
            ledger,
            id,
            now,
            &employee.id,
            cv,
            ids.document_id.as_deref(),
        )?;
        let text = comment(&employee.id);
        record::comment_intent(ledger, id, pass, now, &text)?;
        ledger.record_comment(
            id,
            &ids.comment_id.as_str().into(),
            EventOutcome::Posted,
            pass,
            now,
        )?;
        record::done(ledger, id, pass, now, &employee)?;
        Ok(())
    }

    /// The CV step's rows: its intent and upload when the hire has a CV, "no CV" otherwise.
    fn record_cv(
        &self,
        ledger: &mut Ledger,
        id: &ApplicationId,
        now: DateTime<Utc>,
        employee_id: &EmployeeId,
        cv: Option<(&Attachment, &str)>,
        document_id: Option<&str>,
    ) -> Result<(), BenchError> {
        let Some((attachment, name)) = cv else {
            ledger.record_no_cv(id, self.pass, now)?;
            return Ok(());
        };
        record::cv_intent(
            ledger,
            id,
            self.pass,
            now,
            attachment,
            self.settings.cv_folder,
            employee_id,
            name,
        )?;
        ledger.record_cv_uploaded(
            id,
            document_id,
            name,
            EventOutcome::Uploaded,
            self.pass,
            now,
        )?;
        Ok(())
    }
}

/// Every hire's rows and events with what differs between two runs taken out (times, ids
/// HiBob and Pinpoint hand out, pass numbers), in application order.
fn normalized(ledger: &Ledger) -> Result<Vec<String>, BenchError> {
    let mut out = vec![];
    let entries = ledger.entries(&EntryFilter::default())?;
    let ids: Vec<&str> = entries.iter().map(|e| e.application_id.as_str()).collect();
    let mapped = ledger.mapped_values(&ids)?;
    for e in &entries {
        let mut remote: Vec<String> = [e.hibob_employee_id(), e.cv_document_id(), e.comment_id()]
            .into_iter()
            .flatten()
            .map(str::to_owned)
            .collect();
        remote.retain(|r| !r.is_empty());
        let blank = |text: &str| {
            remote
                .iter()
                .fold(text.to_owned(), |t, r| t.replace(r.as_str(), "<id>"))
        };
        out.push(format!(
            "{} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} attempts={} failures={} error={:?} next={} first_seen={} done={} employee={} document={} comment={}",
            e.application_id,
            e.email,
            e.first_name,
            e.last_name,
            e.job_title,
            e.status,
            e.employee.state(),
            e.employee_origin(),
            (e.cv.state(), e.cv_document_name(), e.comment.state()),
            e.attempts,
            e.failures,
            e.last_error,
            e.next_attempt_at.is_some(),
            e.first_seen_at.date_naive(),
            e.done_at.is_some(),
            e.hibob_employee_id().is_some(),
            e.cv_document_id().is_some(),
            e.comment_id().is_some(),
        ));
        if let Some(m) = mapped.get(e.application_id.as_str()) {
            out.push(format!(
                "  mapped {} {:?} {:?} drift={:?}",
                m.mapping, m.rendered, m.written, m.drift
            ));
        }
        for event in ledger.events(&e.application_id)? {
            out.push(format!(
                "  {} {} {}",
                event.step,
                event.outcome,
                blank(&event.detail)
            ));
        }
    }
    Ok(out)
}

/// What differs between a real backfill of `hires` generated hires and the seeded tenant of
/// the same hires: the first differing line of each, or `None` when they agree.
pub async fn compare_with_backfill(hires: usize) -> Result<Option<String>, BenchError> {
    let simulator = Sim::start(Scenario::generated(hires, SEED)).map_err(BenchError::Simulator)?;
    let scratch = tempfile::tempdir().map_err(BenchError::Scratch)?;
    let config = bench_config(&simulator, &scratch.path().join("ledger.sqlite3"), 1000)?;
    let mut reconciler = Reconciler::new(&config, Ledger::open(&config.ledger.path)?)?;
    reconciler
        .run_pass("bench", &CancellationToken::new())
        .await?;
    let real = normalized(&reconciler.ledger())?;
    drop(reconciler);

    let seeded = settled(hires, 1000).await?;
    let seeded_lines = normalized(&Ledger::open_read_only(seeded.ledger_path())?)?;
    if real == seeded_lines {
        return Ok(None);
    }
    let at = real
        .iter()
        .zip(&seeded_lines)
        .position(|(a, b)| a != b)
        .unwrap_or(real.len().min(seeded_lines.len()));
    Ok(Some(format!(
        "line {at}: real backfill {:?}, seeded {:?} ({} and {} lines)",
        real.get(at),
        seeded_lines.get(at),
        real.len(),
        seeded_lines.len()
    )))
}

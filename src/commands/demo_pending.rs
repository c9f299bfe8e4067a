//! `hirebridge demo --pending`: HR's own hire flow against the simulator. A pass sends the
//! hires to HiBob's ATS Pending hires; the demo plays HR completing HiBob's New hire flow for
//! some of them (under the candidate's address or a company one, with or without the CV Bob
//! pulled); the next pass finishes those, and the rest keep waiting for HR.

use hirebridge::config::{HireApiConfig, HireFlow};
use hirebridge::hire::HireStatus;
use hirebridge::ledger::EntryFilter;
use hirebridge::report;
use hirebridge::sim::{self, HrChanges, HrCompletion, HrLogin};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::{DemoWorld, exit_for_entries, open_reconciler, runtime};
use crate::exit::Exit;
use hirebridge::cli::DemoArgs;

pub fn demo_pending(args: &DemoArgs) -> anyhow::Result<Exit> {
    let DemoWorld {
        simulator,
        _temp,
        ledger_path,
        mut config,
    } = DemoWorld::start(args)?;
    config.hibob.hire_flow = HireFlow::Pending;
    config.hibob.hire_api = Some(HireApiConfig {
        url: simulator.hire_api_url().parse()?,
        authorization: SecretString::from(sim::HIBOB_HIRE_API_AUTHORIZATION),
    });
    println!(
        "hirebridge demo --pending: hires go to HiBob's ATS Pending hires (simulated on http://{}); HR's New hire flow makes the employees",
        simulator.addr()
    );
    println!("ledger: {}", ledger_path.display());
    let entries = runtime()?.block_on(async {
        let mut reconciler = open_reconciler(&config)?;
        let shutdown = CancellationToken::new();
        let first = reconciler.run_pass("demo", &shutdown).await?;
        println!("pass 1: {}", first.one_line());
        println!(
            "        {} hire(s) sent to HiBob's Pending hires, {} employees created by hirebridge",
            simulator.count(sim::Endpoint::HireApiPost),
            simulator.count(sim::Endpoint::CreatePerson)
        );
        let completed = play_hr(&simulator);
        println!(
            "HR completes the New hire flow for {completed} of them (some under a company address, some without the CV Bob pulled)"
        );
        let second = reconciler.run_pass("demo", &shutdown).await?;
        println!("pass 2: {}", second.one_line());
        anyhow::Ok(reconciler.ledger().entries(&EntryFilter::default())?)
    })?;
    let waiting = entries
        .iter()
        .filter(|e| e.status == HireStatus::WaitingForHr)
        .count();
    println!(
        "posts to the Hire API in all: {} (one per hire, never again); still waiting for HR: {waiting}\n",
        simulator.count(sim::Endpoint::HireApiPost)
    );
    report::render(
        &report::rows(&entries),
        report::Format::Table,
        &mut std::io::stdout().lock(),
    )?;
    Ok(exit_for_entries(&entries))
}

/// HR completes every other pending hire: alternately under the candidate's address and a
/// company one (the candidate's kept as the private address), keeping Bob's pulled CV for
/// every second one of those.
fn play_hr(simulator: &sim::Sim) -> usize {
    let waiting: Vec<String> = simulator
        .pending_hires()
        .into_iter()
        .filter(|p| p.is_waiting())
        .map(|p| p.application_id)
        .collect();
    let mut completed = 0;
    for (n, id) in waiting.iter().enumerate().filter(|(n, _)| n % 2 == 0) {
        let login = if n % 4 == 0 {
            HrLogin::CandidateEmail
        } else {
            HrLogin::Company(format!("new.hire{id}@corp.example"))
        };
        let completion = HrCompletion {
            login,
            keep_pulled_cv: n % 8 < 4,
            changes: HrChanges::default(),
        };
        if simulator.complete_pending_hire(id, completion).is_ok() {
            completed += 1;
        }
    }
    completed
}

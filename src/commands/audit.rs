//! `hirebridge audit key|verify|export` and `hirebridge erase`: the operator's and the
//! auditor's side of the audit trail. What is checked and how lives in the library's `audit`.

use std::path::Path;

use anyhow::Context as _;
use hirebridge::audit::{self, Finding, TrustedKey, VerifyInput, VerifyReport};
use hirebridge::cli::{AuditCommand, AuditExportArgs, AuditVerifyArgs, EraseArgs, OutputFormat};
use hirebridge::config::Config;
use hirebridge::ledger::{ErasureRefused, Ledger};

use crate::exit::Exit;

pub fn audit(config_path: &Path, command: &AuditCommand) -> anyhow::Result<Exit> {
    match command {
        AuditCommand::Key => key(config_path),
        AuditCommand::Verify(args) => verify(config_path, args),
        AuditCommand::Export(args) => export(config_path, args),
    }
}

fn key(config_path: &Path) -> anyhow::Result<Exit> {
    let (ledger_path, settings, _) = Config::ledger_and_audit(config_path)?;
    let trail = audit::Trail::new(&settings, &ledger_path);
    // The key file may be the service's alone: the ledger's checkpoints name the key too.
    let public = match trail.public_key() {
        Ok(public) => public,
        Err(e) => match Ledger::open_read_only(&ledger_path)
            .ok()
            .and_then(|l| l.last_checkpoint().ok().flatten())
        {
            Some(checkpoint) => {
                eprintln!(
                    "hirebridge: note: {e}; this is the key the ledger's last checkpoint names"
                );
                checkpoint.public_key
            }
            None => return Err(e.into()),
        },
    };
    println!("{public}");
    Ok(Exit::Ok)
}

/// The key to trust: `--key`, else the signing key file's, else none (the ledger's first
/// checkpoint's is used).
fn trusted_key(
    config_path: &Path,
    given: Option<&str>,
) -> anyhow::Result<Option<(TrustedKey, String)>> {
    if let Some(given) = given {
        return Ok(Some((TrustedKey::parse(given)?, "--key".to_owned())));
    }
    let Ok((ledger_path, settings, _)) = Config::ledger_and_audit(config_path) else {
        return Ok(None);
    };
    let trail = audit::Trail::new(&settings, &ledger_path);
    Ok(trail
        .public_key()
        .ok()
        .and_then(|k| TrustedKey::from_hex(&k))
        .map(|k| {
            (
                k,
                format!("the signing key file {}", trail.key_path().display()),
            )
        }))
}

fn verify(config_path: &Path, args: &AuditVerifyArgs) -> anyhow::Result<Exit> {
    let outcome = match &args.export {
        Some(dir) => {
            let trusted = match &args.key {
                Some(k) => Some((TrustedKey::parse(k)?, "--key".to_owned())),
                None => None,
            };
            audit::verify_export(dir, trusted)?
        }
        None => {
            let ledger_path = Config::ledger_path(config_path)?;
            let ledger = Ledger::open_read_only(&ledger_path)?;
            let log = match &args.checkpoints {
                Some(path) => Some((path.clone(), audit::read_checkpoint_log(path)?)),
                None => None,
            };
            let input = VerifyInput {
                trusted: trusted_key(config_path, args.key.as_deref())?,
                log,
            };
            audit::verify_ledger(&ledger, &input)?
        }
    };
    show(&outcome, args.format)?;
    Ok(if outcome.is_ok() {
        Exit::Ok
    } else {
        Exit::Error
    })
}

fn show(outcome: &Result<VerifyReport, Finding>, format: OutputFormat) -> anyhow::Result<()> {
    match (outcome, format) {
        (Ok(report), OutputFormat::Json) => {
            println!("{}", serde_json::json!({"ok": true, "verified": report}));
        }
        (Err(finding), OutputFormat::Json) => {
            println!(
                "{}",
                serde_json::json!({"ok": false, "problem": finding.to_string()})
            );
        }
        (Ok(r), OutputFormat::Text) => {
            println!(
                "audit trail verified: {} events chained, head {}",
                r.events, r.head
            );
            match (&r.key, &r.key_source) {
                (Some(key), Some(source)) => println!(
                    "{} checkpoint(s) in the ledger{} signed by {key} (from {source})",
                    r.checkpoints,
                    if r.log_checkpoints > 0 {
                        format!(" and {} in the checkpoint log", r.log_checkpoints)
                    } else {
                        String::new()
                    }
                ),
                _ => println!(
                    "no checkpoint yet: the chain holds together, but nothing signed it (the first pass that writes signs one)"
                ),
            }
            if !r.log_lines_unreadable.is_empty() {
                println!(
                    "warning: checkpoint log line(s) {:?} are not checkpoints (a line cut short by a crash or a full disk?) and were not checked",
                    r.log_lines_unreadable
                );
            }
            if let Some(at) = &r.last_checkpoint_at {
                println!(
                    "last checkpoint: {at}; {} event(s) since, chained and not signed yet",
                    r.unsealed
                );
            }
            if r.erased_details > 0 {
                println!(
                    "{} event detail(s) erased (personal data), each by a recorded erasure",
                    r.erased_details
                );
            }
            if r.key_source.as_deref() != Some("--key") {
                println!(
                    "note: to rule out a rewritten ledger re-signed with another key, pass --key with the key you hold, and --checkpoints with a published checkpoint log"
                );
            }
        }
        (Err(finding), OutputFormat::Text) => {
            println!("audit trail BROKEN: {finding}");
        }
    }
    Ok(())
}

fn export(config_path: &Path, args: &AuditExportArgs) -> anyhow::Result<Exit> {
    let (ledger_path, settings, links) = Config::ledger_and_audit(config_path)?;
    let ledger = Ledger::open_read_only(&ledger_path)?;
    let public_key = match audit::Trail::new(&settings, &ledger_path).public_key() {
        Ok(key) => key,
        Err(e) => match ledger.last_checkpoint()? {
            Some(c) => c.public_key,
            None => return Err(e).context("nothing to export until the first checkpoint"),
        },
    };
    let now = chrono::Utc::now();
    let summary = audit::export(
        &ledger,
        args.since.map(|b| b.start(now)),
        args.until.map(|b| b.end(now)),
        &args.out,
        links,
        &public_key,
    )?;
    println!(
        "exported to {}: {} hire(s) in the report, events #{}..#{} ({} events), the checkpoints, the public key and VERIFY.txt",
        summary.dir.display(),
        summary.hires,
        summary.after_event + 1,
        summary.up_to_event,
        summary.events,
    );
    if summary.unsealed_left_out > 0 {
        println!(
            "{} event(s) of the period came after the last checkpoint and are left out; export again after the next pass",
            summary.unsealed_left_out
        );
    }
    Ok(Exit::Ok)
}

pub fn erase(config_path: &Path, args: &EraseArgs) -> anyhow::Result<Exit> {
    let (ledger_path, settings, _) = Config::ledger_and_audit(config_path)?;
    let mut ledger = Ledger::open_for_operator(&ledger_path)?;
    let who = hirebridge::hire::Provenance::of_this_process(None).operator;
    let reason = match &who {
        Some(user) => format!("personal data erased on request (by the operator {user})"),
        None => "personal data erased on request".to_owned(),
    };
    // Erasure events are signed with the audit key: without it, nothing is erased.
    let trail = audit::Trail::new(&settings, &ledger_path);
    let key = trail.key(&ledger)?;
    let now = chrono::Utc::now();
    let erasure = match ledger.erase(&args.hire, &reason, now, &|hash| key.sign_erasure(hash)) {
        Ok(erasure) => erasure,
        Err(ErasureRefused::Ledger(e)) => return Err(e.into()),
        Err(refused) => anyhow::bail!("{refused}"),
    };
    // Sealed now, so the erasure is signed as any pass's events are.
    if let Err(e) = trail.seal(&mut ledger, now) {
        eprintln!("hirebridge: warning: {e}; the next pass signs the erasure");
    }
    println!(
        "erased the personal data of {} hire(s): {}",
        erasure.hires.len(),
        erasure.hires.join(", ")
    );
    if !erasure.mentioned_in.is_empty() {
        println!(
            "and mentions of them in the history of: {}",
            erasure.mentioned_in.join(", ")
        );
    }
    println!(
        "{} event detail(s) removed; ids, outcomes and the audit chain remain (`hirebridge audit verify`). Nothing in HiBob or Pinpoint was changed.",
        erasure.details_removed
    );
    // Old page images must not outlive the erasure in the write-ahead log. A reader in the
    // middle of a read (a report, the daemon's pass) holds it: wait for it a little.
    for attempt in 0..20 {
        if ledger.truncate_wal()? {
            return Ok(Exit::Ok);
        }
        if attempt < 19 {
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }
    eprintln!(
        "hirebridge: warning: the write-ahead log ({}-wal) still holds the erased data: a reader kept it busy for 5 s. Run `hirebridge erase <application-id>` again when reports and passes are done, or stop the service for a moment",
        ledger_path.display()
    );
    Ok(Exit::Error)
}

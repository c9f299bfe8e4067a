//! `hirebridge backup` and `hirebridge restore`: the operator's side of the library's
//! `backup` module, which decides what a backup holds and when a restore is allowed.

use std::path::Path;

use anyhow::Context as _;
use hirebridge::backup::{self, Sources, Target};
use hirebridge::cli::{BackupArgs, RestoreArgs};
use hirebridge::config::Config;

use crate::exit::Exit;

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn backup(config_path: &Path, args: &BackupArgs) -> anyhow::Result<Exit> {
    let (ledger_path, audit, settings) = Config::ledger_and_backup(config_path)?;
    let Some(into) = args.dir.clone().or(settings.dir) else {
        anyhow::bail!(
            "no backup directory: give one (`hirebridge backup /var/lib/hirebridge-backups`) or set backup.dir in {}",
            config_path.display()
        );
    };
    let sources = Sources {
        signing_key: audit.key_path(&ledger_path),
        ledger: ledger_path,
        config: std::path::absolute(config_path).unwrap_or_else(|_| config_path.to_owned()),
    };
    let taken = backup::take(&sources, &into, settings.keep, chrono::Utc::now())
        .with_context(|| format!("no backup taken into {}", into.display()))?;
    let facts = &taken.manifest.ledger;
    println!("backup ok: {}", taken.dir.display());
    println!(
        "ledger: {} hires, {} events (head {}), schema v{}; the copy verified: {} checkpoint(s), integrity ok",
        facts.hires, facts.events, facts.head, facts.schema_version, taken.verified.checkpoints
    );
    match &taken.manifest.signing_key_path {
        Some(path) => println!("audit signing key: copied from {}", path.display()),
        None => println!(
            "audit signing key: none yet at {} (the first pass that writes makes it)",
            sources.signing_key.display()
        ),
    }
    if let Some(path) = &taken.manifest.config_path {
        println!(
            "config: copied from {} (credentials are never copied)",
            path.display()
        );
    }
    if !taken.pruned.is_empty() {
        println!(
            "removed {} older backup(s), keeping the newest {}",
            taken.pruned.len(),
            settings.keep
        );
    }
    Ok(Exit::Ok)
}

pub fn restore(config_path: &Path, args: &RestoreArgs) -> anyhow::Result<Exit> {
    // With the config lost too, the backup's copy says where the ledger goes, and is put in
    // place at --config.
    let (settings, install_config) = if config_path.exists() {
        (Config::ledger_and_backup(config_path)?, None)
    } else {
        let copy = args.backup.join(backup::CONFIG_FILE);
        let text = std::fs::read_to_string(&copy).with_context(|| {
            format!(
                "no config at {} and none in the backup ({}); restore the config first or pass --config",
                config_path.display(),
                copy.display()
            )
        })?;
        (
            Config::ledger_and_backup_from(config_path, &text)?,
            Some(config_path.to_owned()),
        )
    };
    let (ledger_path, audit, _) = settings;
    let target = Target {
        signing_key: audit.key_path(&ledger_path),
        ledger: ledger_path,
        install_config,
    };
    let now = chrono::Utc::now();
    let restored = backup::restore(&args.backup, &target, args.force, now)
        .with_context(|| format!("nothing restored from {}", args.backup.display()))?;
    let m = &restored.manifest;
    println!(
        "restored {} (taken {} by hirebridge {}) to {}: {} hires, {} events; the chain verified with the restore recorded ({} events)",
        args.backup.display(),
        when(m.created_at),
        m.hirebridge_version,
        target.ledger.display(),
        m.ledger.hires,
        m.ledger.events,
        restored.verified.events
    );
    if let Some(previous) = &restored.previous_ledger {
        println!("the ledger it replaced is kept at {}", previous.display());
    }
    if let Some(previous) = &restored.previous_key {
        println!(
            "the signing key it replaced is kept at {}",
            previous.display()
        );
    }
    if let Some(config) = &restored.config_installed {
        println!(
            "config installed at {} from the backup; put the credentials back (docs/install.md, step 3)",
            config.display()
        );
    }
    println!(
        "next: start the service (`systemctl start hirebridge`); its next pass finds the hires done after the backup in HiBob and Pinpoint and adopts them (docs/backup.md)"
    );
    Ok(Exit::Ok)
}

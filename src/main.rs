//! The binary edge: parse the command line, set up logging, run the command, and turn its
//! outcome into a documented exit code.

mod commands;

use std::process::ExitCode;

use clap::Parser;
use hirebridge::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands that only show something keep the screen for their answer.
    let default_log = match cli.command {
        Command::Sync | Command::Run => "info",
        _ => "warn",
    };
    commands::init_logging(cli.log.as_deref().unwrap_or(default_log), cli.log_format);
    match commands::execute(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("hirebridge: {e:#}");
            commands::Exit::Error.into()
        }
    }
}

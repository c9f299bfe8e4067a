//! The binary edge: parse the command line, set up logging, run the command, and turn its
//! outcome into a documented exit code.

mod commands;

use std::process::ExitCode;

use clap::Parser;
use hirebridge::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_log = match cli.command {
        hirebridge::cli::Command::Demo(_) | hirebridge::cli::Command::Bench(_) => "warn",
        _ => "info",
    };
    commands::init_logging(cli.log.as_deref().unwrap_or(default_log));
    match commands::execute(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("hirebridge: {e:#}");
            commands::Exit::Error.into()
        }
    }
}

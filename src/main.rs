//! The binary edge: parse the command line, set up logging, run the command, and turn its
//! outcome into a documented exit code. The benchmarks (`hirebridge bench`, and the demo's
//! simulated config) live here too, above the library: they use only its public interface.

mod bench;
mod commands;
mod exit;
mod init;

use std::process::ExitCode;

use clap::Parser;
use hirebridge::cli::{Cli, Command};

fn main() -> ExitCode {
    one_heap_arena();
    let cli = Cli::parse();
    if shows_output(&cli.command) {
        quiet_on_a_closed_pipe();
    }
    // Commands that only show something keep the screen for their answer.
    let default_log = match cli.command {
        Command::Sync | Command::Run => "info",
        _ => "warn",
    };
    commands::init_logging(cli.log.as_deref().unwrap_or(default_log), cli.log_format);
    match commands::execute(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("hirebridge: {}", commands::describe(&e));
            exit::Exit::Error.into()
        }
    }
}

/// Commands whose job is their output, which people pipe into `head` or `less`.
fn shows_output(command: &Command) -> bool {
    matches!(
        command,
        Command::Report(_)
            | Command::History(_)
            | Command::Status(_)
            | Command::Plan(_)
            | Command::Check
            | Command::Audit(_)
            | Command::Erase(_)
            | Command::Backup(_)
            | Command::Restore(_)
            | Command::Init(_)
            | Command::Notify(_)
            | Command::Completions(_)
            | Command::Man
    )
}

/// A reader that stops early (`report | head -1`) ends the command the conventional way:
/// SIGPIPE, quietly, as any Unix filter does — not a "Broken pipe" error line. Rust ignores
/// SIGPIPE by default, which suits the daemon (its sockets report EPIPE instead); these
/// commands only read the ledger and the APIs (whose sockets are written with MSG_NOSIGNAL).
fn quiet_on_a_closed_pipe() {
    // SAFETY: restores the default disposition of one signal before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// glibc gives each thread that allocates its own heap arena, and a pass allocates on both
/// runtime threads (one reads the next page while the other works this one): each arena then
/// keeps its own high-water mark, which measured a third more peak memory. hirebridge is not
/// bound by allocator contention, so one arena it is. `MALLOC_ARENA_MAX` still overrides.
fn one_heap_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

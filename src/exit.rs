//! The documented exit codes, shared by every command of the binary.

use std::process::ExitCode;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Error = 1,
    /// Some hires wait for a retry (transient failures, HiBob's read lag, a failed listing).
    Retrying = 2,
    /// Some hires need a person, or a credential was refused.
    NeedsAttention = 3,
    /// `status` only: no pass has started when one was due (daemon stopped or stuck).
    Stale = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

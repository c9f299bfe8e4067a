//! Telling a person when a hire needs one (`[notify]`): by email (SMTP) and by a chat or
//! any other webhook. One message per pass, not per hire; a hire is announced when it *enters*
//! a state that needs a person, never again while it stays there; writes stopping and
//! resuming are announced once each; a daily digest if asked for.
//!
//! - [`notice`]: what a message says (the data every channel renders).
//! - [`render`]: a notice as each channel shows it, untrusted text made safe for each.
//! - [`channels`]: the ways a message leaves (email, webhook): one send, its answer or error.
//! - [`announce`]: after each pass, what to announce, recorded in the ledger's outbox.
//! - [`sender`]: sends the outbox in the background: paced, retried, given up after a day.
//!
//! A notification never fails or delays a pass: what is to be sent is recorded in the
//! ledger's outbox first, and sent by a background task with its own backoff and pace.

pub mod announce;
pub mod channels;
pub mod notice;
pub mod render;
pub mod sender;

pub use channels::{Channel, SendError, Sent, channels};
pub use notice::{Notice, NoticeHire, NoticeKind};

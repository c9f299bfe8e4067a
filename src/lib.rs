//! hirebridge makes every candidate hired in the Pinpoint ATS become exactly one employee in the
//! HiBob HRIS, with their CV attached and a note back on the Pinpoint application.
//!
//! Who owns what, in layers; each layer uses only those below it:
//!
//! 1. The operator's entry points
//!    - [`cli`], [`daemon`] — parse, schedule, shut down.
//!    - [`check`] — validates config, credentials, HiBob values and the ledger; writes nothing.
//!    - [`report`] — renders the ledger for people and scripts (report, history, status, plan).
//! 2. The ways in from outside
//!    - [`webhook`] — the optional listener: Pinpoint's webhooks, `/healthz`, `/metrics`; it
//!      only verifies and enqueues ([`nudge_queue`]), the daemon's workers reconcile.
//!    - [`nudge_queue`] — application ids waiting to be reconciled, each at most once.
//!    - [`plugin`] — the optional "Send to HiBob" action inside Pinpoint (its Integration
//!      Plugins Framework): the form and the submit, which runs the hire through
//!      [`reconcile`]'s pipeline.
//!    - [`listener`] — serving HTTP to strangers: the deadlines and connection limits every
//!      port hirebridge opens shares.
//!    - [`monitor`] — poll health and the metrics in Prometheus's text format.
//!    - [`notify`] — telling a person by email or chat when a hire needs one, once; sent
//!      from the ledger's outbox in the background, never in a pass's way.
//!    - [`service`] — the systemd notify protocol: readiness, status, watchdog.
//! 3. The work
//!    - [`reconcile`] — the pass pipeline: list → observe → gather facts → decide each hire's
//!      next step (pure) → apply it (each remote effect behind a ledger intent).
//!    - [`contract`] — the API assumptions checked on the tenant, and which of them stop writes.
//!    - [`audit`] — the audit trail's checking side: signed checkpoints of the ledger's chain,
//!      `audit verify`/`export`, retention. Signs and judges; never writes SQL.
//!    - [`backup`] — `backup` and `restore`: a verified copy of the ledger, key and config with
//!      a manifest; putting one back in place under the ledger's lock.
//! 4. Storage and the clients
//!    - [`ledger`] — the only place with SQL: per-hire rows and the hash-chained event log.
//!    - [`pinpoint`], [`hibob`] — thin typed clients; they know nothing of the ledger or each
//!      other.
//!    - [`http`] — the one HTTP client: timeouts, user agent, rate limiters, error classes.
//! 5. The vocabulary (no I/O)
//!    - [`hire`] — a hire's status, its steps' states, its row, how a pass ended.
//!    - [`employee`] — a hire's HiBob employee: which person HiBob has is the hire, what a new
//!      one is sent.
//!    - [`mapping`] — `[mapping]`: templates over Pinpoint data → HiBob fields; drift
//!      fingerprints.
//!    - [`identity`] — who a hire is: addresses compared as HiBob compares them.
//!    - [`untrusted`] — text from outside made safe for each kind of output.
//!    - [`config`] — typed configuration and secrets, validated with messages naming the key.
//! 6. Beside the layers
//!    - [`crashpoint`] — named points where the crash tests abort the process (test builds
//!      only).
//!    - [`sim`] — a stateful simulator of both APIs on loopback, for `demo`, tests and
//!      benchmarks.

pub mod audit;
pub mod backup;
pub mod check;
pub mod cli;
pub mod config;
pub mod contract;
pub mod crashpoint;
pub mod daemon;
pub mod employee;
pub mod hibob;
pub mod hire;
pub mod http;
pub mod identity;
pub mod ledger;
pub mod listener;
pub mod mapping;
pub mod monitor;
pub mod notify;
pub mod nudge_queue;
pub mod pinpoint;
pub mod plugin;
pub mod reconcile;
pub mod report;
pub mod service;
pub mod sim;
pub mod untrusted;
pub mod webhook;

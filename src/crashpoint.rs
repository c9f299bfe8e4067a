//! Named crash points, for the crash tests: the process aborts at a chosen point, as if it
//! had been killed with `kill -9` (or lost power) there.
//!
//! Owns the list of points ([`ALL`]) and the decision to abort. Points sit before and after
//! every remote call that matters (in the clients) and every ledger write that changes what
//! a restart does (in the reconciler). A point is named `<system>.<operation>.<before|after>`.
//!
//! Compiled in only with the `crash-points` cargo feature, which the package's own
//! dev-dependency on itself turns on for `cargo test` (and so for the binary the end-to-end
//! tests run); `cargo build --release` and `make` leave it off, and [`hit`] is then an empty
//! inline function. With the feature, `HIREBRIDGE_CRASH_AT=<name>[@<n>]` aborts at the `n`th
//! time (default: the first) the process reaches the point `name`. It must not do anything
//! else: no logging, no I/O beyond one line on stderr before aborting.

/// Every crash point, in the order a fresh hire with a CV meets them (then the ones only
/// some paths reach). A point used in the code but missing here panics in test builds.
pub const ALL: &[&str] = &[
    "pinpoint.list.before",
    "pinpoint.list.after",
    "pinpoint.application.before",
    "pinpoint.application.after",
    "ledger.observe.before",
    "ledger.observe.after",
    "hibob.search.before",
    "hibob.search.after",
    "ledger.employee_intent.before",
    "ledger.employee_intent.after",
    "hibob.create.before",
    "hibob.create.after",
    "ledger.employee.before",
    "ledger.employee.after",
    // `hibob.hire_flow = "pending"`: the post to Bob's Hire API instead of the create.
    "ledger.hr_intent.before",
    "ledger.hr_intent.after",
    "hibob.hire_post.before",
    "hibob.hire_post.after",
    "ledger.hr_sent.before",
    "ledger.hr_sent.after",
    "hibob.documents.before",
    "hibob.documents.after",
    "ledger.cv_intent.before",
    "ledger.cv_intent.after",
    "hibob.upload.before",
    "hibob.upload.after",
    "ledger.cv.before",
    "ledger.cv.after",
    "pinpoint.comments.before",
    "pinpoint.comments.after",
    "ledger.comment_intent.before",
    "ledger.comment_intent.after",
    "pinpoint.comment.before",
    "pinpoint.comment.after",
    "ledger.comment.before",
    "ledger.comment.after",
    "ledger.done.before",
    "ledger.done.after",
    // `[notify]`: a message from the outbox, after the pass.
    "notify.send.before",
    "notify.send.after",
];

/// The environment variable naming the point to abort at.
pub const ENV: &str = "HIREBRIDGE_CRASH_AT";

/// Whether this build honours [`ENV`].
pub const ENABLED: bool = cfg!(feature = "crash-points");

/// Reaching the point `name`: aborts the process if [`ENV`] names it (and this is its `n`th
/// hit). Nothing at all without the `crash-points` feature.
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn hit(_name: &'static str) {}

#[cfg(feature = "crash-points")]
pub fn hit(name: &'static str) {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);
    assert!(
        ALL.contains(&name),
        "crash point {name:?} is not listed in crashpoint::ALL"
    );
    let target = TARGET.get_or_init(|| std::env::var(ENV).ok().and_then(|v| parse(&v)));
    let Some((wanted, nth)) = target else {
        return;
    };
    if wanted != name {
        return;
    }
    // Only hits of the named point are counted, so `@n` means its nth hit.
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 == *nth {
        eprintln!("hirebridge: crash point {name} reached; aborting");
        std::process::abort();
    }
}

/// `name` or `name@n` (n ≥ 1) → (name, n).
pub fn parse(spec: &str) -> Option<(String, u64)> {
    let spec = spec.trim();
    let (name, nth) = match spec.split_once('@') {
        Some((name, n)) => (name, n.parse().ok().filter(|n| *n >= 1)?),
        None => (spec, 1),
    };
    (!name.is_empty()).then(|| (name.to_owned(), nth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_names_a_point_and_optionally_its_nth_hit() {
        assert_eq!(
            parse("hibob.create.after"),
            Some(("hibob.create.after".into(), 1))
        );
        assert_eq!(
            parse("hibob.create.after@3"),
            Some(("hibob.create.after".into(), 3))
        );
        assert_eq!(parse("hibob.create.after@0"), None);
        assert_eq!(parse("hibob.create.after@x"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn names_are_unique_and_systematic() {
        let mut seen = std::collections::HashSet::new();
        for name in ALL {
            assert!(seen.insert(name), "{name} is listed twice");
            let parts: Vec<&str> = name.split('.').collect();
            assert!(
                parts.len() == 3
                    && ["pinpoint", "hibob", "ledger", "notify"].contains(&parts[0])
                    && ["before", "after"].contains(&parts[2]),
                "{name} is not <system>.<operation>.<before|after>"
            );
            let other = if parts[2] == "before" {
                "after"
            } else {
                "before"
            };
            let pair = format!("{}.{}.{other}", parts[0], parts[1]);
            assert!(ALL.contains(&pair.as_str()), "{name} has no {pair}");
        }
    }
}

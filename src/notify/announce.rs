//! After each pass: what to announce, recorded in the ledger's outbox (the sender sends it).
//! A hire is announced when it enters `needs_attention`, or once it has waited for HR longer
//! than `hr_reminder_after`; never again while it stays there. Writes stopping and resuming
//! are announced once each; the daily digest once a day after `digest_at`.
//!
//! Only ledger reads and one transaction per message: it never calls out, so it can never
//! delay a pass by more than a ledger write, and its failures are logged, never the pass's.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Local, NaiveTime, Utc};

use super::notice::{DigestCounts, Notice, NoticeHire, NoticeKind};
use crate::config::ReportLinks;
use crate::hire::{HireStatus, LedgerEntry, PassOutcome, PassReport};
use crate::ledger::{Announcement, Ledger, LedgerError};

/// What the announcing reads from the configuration.
#[derive(Debug, Clone)]
pub struct Announcing {
    /// `[notify] on`.
    pub on: BTreeSet<NoticeKind>,
    /// The channels configured (`email`, `webhook`): one outbox message each.
    pub channels: Vec<&'static str>,
    pub links: ReportLinks,
    /// `[hibob] hr_reminder_after`.
    pub hr_reminder_after: Duration,
    /// `[notify] digest_at`, the host's local time.
    pub digest_at: NaiveTime,
}

impl Announcing {
    /// What `config`'s `[notify]` asks to announce; `None` without it.
    pub fn from_config(config: &crate::config::Config) -> Option<Self> {
        let notify = config.notify.as_ref()?;
        let mut on = notify.on.clone();
        if on.contains(&NoticeKind::WritesStopped) {
            on.insert(NoticeKind::WritesResumed);
        }
        let mut channels = Vec::new();
        if notify.email.is_some() {
            channels.push("email");
        }
        if notify.webhook.is_some() {
            channels.push("webhook");
        }
        Some(Announcing {
            on,
            channels,
            links: config.report_links.clone(),
            hr_reminder_after: Duration::from_std(config.hibob.hr_reminder_after)
                .unwrap_or(Duration::MAX),
            digest_at: notify.digest_at,
        })
    }
}

/// Records what this pass has to announce; returns how many messages (per channel).
pub fn after_pass(
    ledger: &mut Ledger,
    announcing: &Announcing,
    report: &PassReport,
    now: DateTime<Utc>,
) -> Result<usize, LedgerError> {
    let mut notices = Vec::new();
    if announcing.on.contains(&NoticeKind::WritesStopped)
        && let Some(notice) = writes(ledger, report, now)?
    {
        notices.push((notice, Vec::new()));
    }
    if announcing.on.contains(&NoticeKind::NeedsAttention) {
        let entered =
            ledger.unannounced(HireStatus::NeedsAttention.as_str(), "needs_attention", None)?;
        if !entered.is_empty() {
            notices.push(hires_notice(
                announcing,
                NoticeKind::NeedsAttention,
                &entered,
                now,
            ));
        }
    }
    if announcing.on.contains(&NoticeKind::WaitingForHrOverdue) {
        let overdue = ledger.unannounced(
            HireStatus::WaitingForHr.as_str(),
            "waiting_for_hr_overdue",
            Some(now - announcing.hr_reminder_after),
        )?;
        if !overdue.is_empty() {
            notices.push(hires_notice(
                announcing,
                NoticeKind::WaitingForHrOverdue,
                &overdue,
                now,
            ));
        }
    }
    if announcing.on.contains(&NoticeKind::DailyDigest)
        && let Some(notice) = digest(ledger, announcing, now)?
    {
        notices.push((notice, Vec::new()));
    }
    for (notice, hires) in &notices {
        let json = serde_json::to_string(notice).unwrap_or_default();
        let detail = format!(
            "{}: to be sent by {}",
            notice.kind.as_str(),
            announcing.channels.join(" and ")
        );
        ledger.record_announcement(
            &Announcement {
                kind: notice.kind.as_str(),
                notice_json: &json,
                channels: &announcing.channels,
                hires,
                detail: &detail,
            },
            now,
        )?;
    }
    Ok(notices.len())
}

/// A message about `entries` (all of them recorded as announced; the first
/// [`super::notice::LISTED`] listed).
fn hires_notice(
    announcing: &Announcing,
    kind: NoticeKind,
    entries: &[LedgerEntry],
    now: DateTime<Utc>,
) -> (Notice, Vec<crate::hire::ApplicationId>) {
    let title = match kind {
        NoticeKind::NeedsAttention => {
            format!("hirebridge: {} hire(s) need a person", entries.len())
        }
        _ => format!(
            "hirebridge: {} hire(s) wait for HR in HiBob's Pending hires longer than {}",
            entries.len(),
            humantime::format_duration(announcing.hr_reminder_after.to_std().unwrap_or_default())
        ),
    };
    let hires = entries
        .iter()
        .map(|e| notice_hire(announcing, kind, e, now))
        .collect();
    let ids = entries.iter().map(|e| e.application_id.clone()).collect();
    (Notice::about(kind, now, title, hires), ids)
}

fn notice_hire(
    announcing: &Announcing,
    kind: NoticeKind,
    e: &LedgerEntry,
    now: DateTime<Utc>,
) -> NoticeHire {
    let id = &e.application_id;
    let (reason, what_to_do) = match kind {
        NoticeKind::WaitingForHrOverdue => (
            format!(
                "sent to HiBob's ATS Pending hires {} ago; HR has not completed the New hire flow",
                crate::report::hr_view::age(e.with_hr().map_or(e.updated_at, |w| w.0), now)
            ),
            "remind HR to complete (or dismiss) it in HiBob's ATS Pending hires".to_owned(),
        ),
        _ => (
            e.last_error
                .clone()
                .unwrap_or_else(|| "parked: a person must look".to_owned()),
            format!(
                "fix the cause, then run `hirebridge retry {id}` (`hirebridge history {id}` shows every step)"
            ),
        ),
    };
    NoticeHire {
        application_id: id.to_string(),
        name: format!("{} {}", e.first_name, e.last_name)
            .trim()
            .to_owned(),
        email: e.email.clone(),
        reason,
        what_to_do,
        pinpoint_url: ReportLinks::to(&announcing.links.pinpoint_application, id),
        hibob_url: e
            .employee_id()
            .map(|employee| ReportLinks::to(&announcing.links.hibob_employee, employee)),
    }
}

/// Writes stopping (a refused credential, a broken assumption) or resuming, once each.
fn writes(
    ledger: &mut Ledger,
    report: &PassReport,
    now: DateTime<Utc>,
) -> Result<Option<Notice>, LedgerError> {
    let announced = ledger.notify_mark("writes_stopped")?.is_some();
    let outcome = report.outcome();
    let stopped = matches!(outcome, PassOutcome::Refused | PassOutcome::ContractBroken);
    if stopped && !announced {
        ledger.set_notify_mark("writes_stopped", Some(outcome.as_str()))?;
        let mut notice = Notice::about(
            NoticeKind::WritesStopped,
            now,
            "hirebridge stopped writing to HiBob and Pinpoint".to_owned(),
            Vec::new(),
        );
        // A fixed sentence: the API's own words (and whatever they quote) stay on the host.
        let why = match outcome {
            PassOutcome::Refused => {
                "Pinpoint or HiBob refused a credential or permission (401/403)"
            }
            _ => {
                "Pinpoint or HiBob no longer behaves as hirebridge's writes depend on (the API contract check failed)"
            }
        };
        notice.detail = Some(format!(
            "{why}; nothing is written until it is fixed. Run `hirebridge status` on the host: it says what failed and what to do."
        ));
        return Ok(Some(notice));
    }
    if outcome == PassOutcome::Completed && announced {
        ledger.set_notify_mark("writes_stopped", None)?;
        return Ok(Some(Notice::about(
            NoticeKind::WritesResumed,
            now,
            "hirebridge writes to HiBob and Pinpoint again".to_owned(),
            Vec::new(),
        )));
    }
    Ok(None)
}

/// Once a day, after `digest_at` (local time): yesterday's counts and what still waits.
fn digest(
    ledger: &mut Ledger,
    announcing: &Announcing,
    now: DateTime<Utc>,
) -> Result<Option<Notice>, LedgerError> {
    let local = now.with_timezone(&Local);
    let today = local.date_naive();
    if local.time() < announcing.digest_at
        || ledger.notify_mark("digest_day")?.as_deref() == Some(&today.to_string())
    {
        return Ok(None);
    }
    ledger.set_notify_mark("digest_day", Some(&today.to_string()))?;
    let yesterday = today - Duration::days(1);
    let start = |day: chrono::NaiveDate| {
        day.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(Local).earliest())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now)
    };
    let (from, to) = (start(yesterday), start(today));
    let counts = ledger.day_counts(from, to)?;
    let of = |status| crate::ledger::EntryFilter {
        status: Some(status),
        ..Default::default()
    };
    let parked = ledger.entries(&of(HireStatus::NeedsAttention))?;
    let overdue: Vec<LedgerEntry> = ledger
        .entries(&of(HireStatus::WaitingForHr))?
        .into_iter()
        .filter(|e| {
            e.with_hr()
                .is_some_and(|(since, _)| now - since > announcing.hr_reminder_after)
        })
        .collect();
    let mut notice = Notice::about(
        NoticeKind::DailyDigest,
        now,
        format!(
            "hirebridge daily digest for {yesterday}: {} done, {} waiting for HR, {} need a person",
            counts.done, counts.waiting_for_hr, counts.parked
        ),
        parked
            .iter()
            .map(|e| notice_hire(announcing, NoticeKind::NeedsAttention, e, now))
            .chain(
                overdue
                    .iter()
                    .map(|e| notice_hire(announcing, NoticeKind::WaitingForHrOverdue, e, now)),
            )
            .collect(),
    );
    notice.digest = Some(DigestCounts {
        day: yesterday.to_string(),
        done: counts.done,
        waiting_for_hr: counts.waiting_for_hr,
        parked: counts.parked,
        skipped: counts.skipped,
    });
    Ok(Some(notice))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hire::{ObservedHire, PassId, PassSummary, StepKind, Stop};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap()
    }

    fn announcing(on: &[NoticeKind]) -> Announcing {
        Announcing {
            on: on.iter().copied().collect(),
            channels: vec!["email", "webhook"],
            links: ReportLinks {
                pinpoint_application: "https://acme.pinpointhq.com/admin/applications/{id}".into(),
                hibob_employee: "https://app.hibob.com/employee-profile/{id}".into(),
            },
            hr_reminder_after: Duration::days(3),
            // Midnight: the digest is due at any time of day.
            digest_at: NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
        }
    }

    fn report(stopped: Option<Stop>) -> PassReport {
        PassReport {
            pass: PassId(1),
            summary: PassSummary::default(),
            stopped,
            totals: Vec::new(),
        }
    }

    fn ledger_with(ids: &[&'static str]) -> (tempfile::TempDir, Ledger, PassId) {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
        let pass = ledger.begin_pass("sync", now()).unwrap();
        let hires: Vec<ObservedHire> = ids
            .iter()
            .map(|id| ObservedHire {
                application_id: id,
                email: "eve@example.com",
                first_name: "Eve",
                last_name: "Example",
                job_title: None,
                hired_at: None,
                before_cutoff: None,
            })
            .collect();
        ledger.observe(pass, now(), &hires).unwrap();
        (dir, ledger, pass)
    }

    fn park(ledger: &mut Ledger, id: &str, pass: PassId) {
        ledger
            .record_parked(
                &id.into(),
                StepKind::Employee,
                crate::hire::ParkKind::Invalid,
                "HiBob refused the address",
                pass,
                now(),
            )
            .unwrap();
    }

    fn pending(ledger: &Ledger) -> Vec<Notice> {
        ledger
            .due_notifications(now() + Duration::days(1), 100)
            .unwrap()
            .into_iter()
            .map(|m| serde_json::from_str(&m.notice_json).unwrap())
            .collect()
    }

    #[test]
    fn parked_hires_are_announced_once_in_one_message_per_channel_and_a_new_one_again() {
        let (_dir, mut ledger, pass) = ledger_with(&["1", "2", "3"]);
        let on = announcing(&[NoticeKind::NeedsAttention]);
        park(&mut ledger, "1", pass);
        park(&mut ledger, "2", pass);
        assert_eq!(
            after_pass(&mut ledger, &on, &report(None), now()).unwrap(),
            1
        );
        let queued = pending(&ledger);
        assert_eq!(queued.len(), 2, "one message for each channel");
        assert_eq!(queued[0].hires.len(), 2, "both hires in the one message");
        assert!(queued[0].title.contains("2 hire(s)"), "{}", queued[0].title);
        assert!(queued[0].hires[0].what_to_do.contains("hirebridge retry"));
        assert!(queued[0].hires[0].pinpoint_url.ends_with("/applications/1"));

        // Still parked: nothing new.
        assert_eq!(
            after_pass(&mut ledger, &on, &report(None), now()).unwrap(),
            0
        );
        // A third enters the state: one more message, about it alone.
        park(&mut ledger, "3", pass);
        assert_eq!(
            after_pass(&mut ledger, &on, &report(None), now()).unwrap(),
            1
        );
        let queued = pending(&ledger);
        assert_eq!(queued.len(), 4);
        assert_eq!(queued[3].hires.len(), 1);
        assert_eq!(queued[3].hires[0].application_id, "3");
        // Retried and parked again: announced again.
        ledger.retry(Some("1"), now()).unwrap();
        park(&mut ledger, "1", pass);
        assert_eq!(
            after_pass(&mut ledger, &on, &report(None), now()).unwrap(),
            1
        );
        let history = ledger.events(&"1".into()).unwrap();
        assert_eq!(
            history.iter().filter(|e| e.outcome == "queued").count(),
            2,
            "each announcement is in the hire's history"
        );
    }

    #[test]
    fn more_than_twenty_are_listed_as_twenty_and_a_count() {
        let ids: Vec<&'static str> = (0..25)
            .map(|n| &*Box::leak(format!("{}", 100 + n).into_boxed_str()))
            .collect();
        let (_dir, mut ledger, pass) = ledger_with(&ids);
        for id in &ids {
            park(&mut ledger, id, pass);
        }
        let on = announcing(&[NoticeKind::NeedsAttention]);
        after_pass(&mut ledger, &on, &report(None), now()).unwrap();
        let notice = &pending(&ledger)[0];
        assert_eq!((notice.hires.len(), notice.more), (20, 5));
    }

    #[test]
    fn writes_stopping_and_resuming_are_announced_once_each_without_the_apis_words() {
        let (_dir, mut ledger, _pass) = ledger_with(&[]);
        let on = announcing(&[NoticeKind::WritesStopped, NoticeKind::WritesResumed]);
        let refused = report(Some(Stop::Refused(
            "HiBob answered 401 for token sk-secret-looking".into(),
        )));
        assert_eq!(after_pass(&mut ledger, &on, &refused, now()).unwrap(), 1);
        assert_eq!(after_pass(&mut ledger, &on, &refused, now()).unwrap(), 0);
        assert_eq!(
            after_pass(&mut ledger, &on, &report(None), now()).unwrap(),
            1
        );
        assert_eq!(
            after_pass(&mut ledger, &on, &report(None), now()).unwrap(),
            0
        );
        let kinds: Vec<NoticeKind> = pending(&ledger).iter().map(|n| n.kind).collect();
        assert_eq!(
            kinds,
            [
                NoticeKind::WritesStopped,
                NoticeKind::WritesStopped,
                NoticeKind::WritesResumed,
                NoticeKind::WritesResumed
            ]
        );
        let json = serde_json::to_string(&pending(&ledger)).unwrap();
        assert!(!json.contains("sk-secret-looking"), "{json}");
    }

    #[test]
    fn the_daily_digest_goes_once_a_day() {
        let (_dir, mut ledger, pass) = ledger_with(&["1"]);
        park(&mut ledger, "1", pass);
        let on = announcing(&[NoticeKind::DailyDigest]);
        assert_eq!(
            after_pass(&mut ledger, &on, &report(None), now()).unwrap(),
            1
        );
        assert_eq!(
            after_pass(&mut ledger, &on, &report(None), now()).unwrap(),
            0
        );
        let digest = &pending(&ledger)[0];
        assert_eq!(digest.kind, NoticeKind::DailyDigest);
        assert_eq!(digest.digest.as_ref().unwrap().parked, 1);
        assert_eq!(digest.hires.len(), 1, "what still waits for a person");
    }

    #[test]
    fn without_a_subscription_nothing_is_recorded() {
        let (_dir, mut ledger, pass) = ledger_with(&["1"]);
        park(&mut ledger, "1", pass);
        let on = announcing(&[NoticeKind::WaitingForHrOverdue]);
        assert_eq!(
            after_pass(&mut ledger, &on, &report(None), now()).unwrap(),
            0
        );
        assert!(pending(&ledger).is_empty());
    }
}

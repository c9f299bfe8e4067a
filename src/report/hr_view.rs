//! What `status` says about HR's own hire flow: hires sent to HiBob's Pending hires that wait
//! longer than `[hibob] hr_reminder_after`, posts Bob may not have received, and hires that
//! left the Hired stage while HR had them.
//!
//! Pure, like the rest of `status`: built from ledger rows and a `now` the caller passes.

use std::io::Write;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::status::{HireView, Problems};
use crate::hire::{HireStatus, HrDelivery, LedgerEntry};

/// The hires with HR that a person should look at.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HrFlowView {
    /// Waiting for HR longer than `hr_reminder_after`, oldest first, each with its age.
    pub overdue: Vec<HireView>,
    /// Posts to the Hire API whose outcome is unknown: never sent again by themselves.
    pub delivery_unconfirmed: Vec<HireView>,
    /// Withdrawn while HR had them: HR may want to dismiss the pending hire in Bob.
    pub withdrawn_while_with_hr: Vec<HireView>,
    /// `hr_reminder_after`, in words.
    pub reminder_after: String,
}

impl HrFlowView {
    pub fn is_empty(&self) -> bool {
        self.overdue.is_empty()
            && self.delivery_unconfirmed.is_empty()
            && self.withdrawn_while_with_hr.is_empty()
    }
}

/// How long ago, in words a person reads at a glance ("3d 4h", "5h 12m").
pub fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = (now - since).max(Duration::zero());
    match (d.num_days(), d.num_hours() % 24, d.num_minutes() % 60) {
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (days, h, _) => format!("{days}d {h}h"),
    }
}

pub fn build(
    entries: &[LedgerEntry],
    now: DateTime<Utc>,
    reminder_after: Duration,
    view_of: impl Fn(&LedgerEntry) -> HireView,
) -> HrFlowView {
    let with_age = |e: &LedgerEntry, since: DateTime<Utc>| {
        let mut view = view_of(e);
        view.waiting_for = Some(age(since, now));
        view
    };
    let mut overdue: Vec<(DateTime<Utc>, HireView)> = Vec::new();
    let mut delivery_unconfirmed = Vec::new();
    let mut withdrawn_while_with_hr = Vec::new();
    for e in entries {
        let Some((since, delivery)) = e.with_hr() else {
            continue;
        };
        match e.status {
            HireStatus::Withdrawn => withdrawn_while_with_hr.push(view_of(e)),
            HireStatus::WaitingForHr if delivery == HrDelivery::Unconfirmed => {
                delivery_unconfirmed.push(with_age(e, since))
            }
            HireStatus::WaitingForHr if now - since > reminder_after => {
                overdue.push((since, with_age(e, since)))
            }
            _ => {}
        }
    }
    overdue.sort_by_key(|(since, _)| *since);
    HrFlowView {
        overdue: overdue.into_iter().map(|(_, v)| v).collect(),
        delivery_unconfirmed,
        withdrawn_while_with_hr,
        reminder_after: humantime::format_duration(reminder_after.to_std().unwrap_or_default())
            .to_string(),
    }
}

/// Both a late hire and an unconfirmed post need a person: they raise the health.
pub(super) fn flag(problems: &mut Problems, view: &HrFlowView) {
    use super::status::Health;
    if !view.delivery_unconfirmed.is_empty() {
        problems.flag(
            Health::NeedsAttention,
            format!(
                "{} hire(s) were sent to HiBob's Pending hires without a confirmation: look for each on Bob's ATS Pending hires page; if it is not there, `hirebridge retry --resend <application-id>`; if HR already made the employee under another address, `hirebridge link <application-id> <employee-id>`",
                view.delivery_unconfirmed.len()
            ),
        );
    }
    if !view.overdue.is_empty() {
        problems.flag(
            Health::NeedsAttention,
            format!(
                "{} hire(s) wait for HR longer than hibob.hr_reminder_after ({}): remind HR to complete them in HiBob's ATS Pending hires",
                view.overdue.len(),
                view.reminder_after
            ),
        );
    }
}

pub(super) fn render_text(
    view: &HrFlowView,
    out: &mut dyn Write,
    line: impl Fn(&HireView) -> String,
    limit: usize,
) -> std::io::Result<()> {
    for (title, list) in [
        (
            "waiting for HR longer than hibob.hr_reminder_after (HiBob's ATS Pending hires)",
            &view.overdue,
        ),
        (
            "sent to HiBob's Pending hires, delivery unconfirmed (check Bob's ATS Pending hires page; then `retry --resend` or `link`)",
            &view.delivery_unconfirmed,
        ),
        (
            "withdrawn while HR had them: HR may want to dismiss the pending hire in HiBob",
            &view.withdrawn_while_with_hr,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "{title} ({}):", list.len())?;
        for h in list.iter().take(limit) {
            writeln!(out, "{}", line(h))?;
        }
        if list.len() > limit {
            writeln!(
                out,
                "  … and {} more (`hirebridge report --status {}`)",
                list.len() - limit,
                list[0].status.as_str()
            )?;
        }
    }
    Ok(())
}

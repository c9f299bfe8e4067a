//! Renders the dry run (`hirebridge plan`): one line per hire with what the next pass would
//! do and why, then totals. JSON keeps every action and its detail.

use std::io::Write;

use crate::hire::preview::{ActionKind, DryRun, PlannedHire};

pub fn render_json(plan: &DryRun, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, plan)?;
    writeln!(out)
}

/// Settled hires whose only action is `skip` (done, or left out by the go-live cutoff, or
/// withdrawn) are counted, not listed, unless `all`.
pub fn render_text(plan: &DryRun, all: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let only_skip = |h: &PlannedHire| h.actions.len() == 1 && h.actions[0].kind == ActionKind::Skip;
    let mut hidden = 0;
    let mut left_out = 0;
    for hire in &plan.hires {
        if !all && only_skip(hire) && hire.status == "done" {
            hidden += 1;
            continue;
        }
        if !all && only_skip(hire) && hire.before_cutoff {
            left_out += 1;
            continue;
        }
        let kinds: Vec<&str> = hire.actions.iter().map(|a| a.kind.as_str()).collect();
        writeln!(
            out,
            "{} <{}> [{}]: {}",
            hire.application_id,
            hire.email,
            hire.status,
            kinds.join(", ")
        )?;
        for action in &hire.actions {
            writeln!(out, "    {:<12} {}", action.kind, action.detail)?;
        }
    }
    if hidden > 0 {
        writeln!(out, "({hidden} done hires not shown; `--all` lists them)")?;
    }
    if left_out > 0 {
        writeln!(
            out,
            "({left_out} hires from before the go-live cutoff not shown, nothing would be written for them; `--all` lists them)"
        )?;
    }
    writeln!(
        out,
        "plan: {} hired listed; would create {}, adopt {}, upload {} CV(s), record {} without CV, post {} comment(s), finish {}; {} waiting, {} skipped, {} to park",
        plan.listed,
        plan.count(ActionKind::Create),
        plan.count(ActionKind::Adopt),
        plan.count(ActionKind::UploadCv),
        plan.count(ActionKind::RecordNoCv),
        plan.count(ActionKind::Comment),
        plan.count(ActionKind::MarkDone),
        plan.count(ActionKind::Wait),
        plan.count(ActionKind::Skip),
        plan.count(ActionKind::Park),
    )?;
    if let Some(why) = &plan.incomplete {
        writeln!(out, "plan INCOMPLETE: {why}")?;
    }
    writeln!(out, "(dry run: nothing was written)")
}

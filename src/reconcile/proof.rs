//! Proof that an application is hired *now*, asked before any write for it (create, CV,
//! comment, drift update). Pure: the pass and the nudge hand it what Pinpoint answered and the
//! stages known to be hired; it decides, they act.
//!
//! What counts as proof, and why (docs/api.md):
//! - the application came back from this pass's hired-stage listing, and its own document does
//!   not contradict that (no `rejected_at`; with `pinpoint.hired_stage_ids`, a listed stage);
//! - or its `stage_id` is a stage known to be hired: configured in `pinpoint.hired_stage_ids`,
//!   or learned from hires the hired-stage listing returned (kept in the ledger);
//! - or the document itself names the stage's group as hired.
//!
//! Never proof: the webhook's event name, a missing attribute, or `hired_at` (it stays set when
//! a candidate is moved out of Hired again).

use crate::hire::StageId;
use std::collections::HashSet;

use crate::hire::application::HiredApplication;

/// The stages known to be Hired-group stages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HiredStages {
    /// `pinpoint.hired_stage_ids`: the operator's word.
    pub configured: Vec<String>,
    /// Learned from hires the hired-stage listing returned.
    pub learned: HashSet<String>,
}

impl HiredStages {
    pub fn contains(&self, stage_id: &StageId) -> bool {
        self.configured.iter().any(|s| stage_id == s) || self.learned.contains(stage_id.as_str())
    }
}

/// What a single read of an application (a webhook nudge) proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// Hired now; the reason, for the log.
    Hired(&'static str),
    /// Not hired now; the reason, for the log.
    NotHired(String),
    /// Nothing in the answer proves it either way: no write. A listing pass can prove it.
    Unproven,
}

/// Why a listed application contradicts the hired-stage listing that returned it: rejected,
/// in a stage other than the configured hired stages, or (none configured) without
/// `hired_at` in a stage no hire has shown to be hired. `None`: the listing is its proof.
pub fn contradicts_listing(
    application: &HiredApplication,
    configured: &[String],
    known: &HiredStages,
) -> Option<String> {
    if let Some(at) = &application.rejected_at {
        return Some(format!(
            "the hired-stage listing returned it, but it was rejected in Pinpoint ({at})"
        ));
    }
    let stage = application.stage_id.as_ref()?;
    if !configured.is_empty() {
        return (!configured.iter().any(|c| stage == c)).then(|| {
            format!(
                "the hired-stage listing returned it in stage {stage}, which is not one of pinpoint.hired_stage_ids"
            )
        });
    }
    // Pinpoint dates every hire (`hired_at`); an undated application in a stage no dated
    // hire is in was listed for some other reason.
    (application.hired_at.is_none() && !known.contains(stage)).then(|| {
        format!(
            "the hired-stage listing returned it in stage {stage}, but it was never hired (no hired_at) and no hire is in that stage"
        )
    })
}

/// The applications of one listing page that contradict the filter, with why, in page order.
pub fn page_contradictions(
    applications: &[HiredApplication],
    configured: &[String],
    known: &HiredStages,
) -> Vec<(String, String)> {
    applications
        .iter()
        .filter_map(|a| {
            contradicts_listing(a, configured, known).map(|why| (a.id.to_string(), why))
        })
        .collect()
}

/// The stage a listed, uncontradicted hire shows to be a hired stage, when it can teach one:
/// only a hire that Pinpoint also dates as hired (`hired_at`) is trusted to.
pub fn teaches_stage(application: &HiredApplication) -> Option<&StageId> {
    application.hired_at.as_ref()?;
    application.stage_id.as_ref()
}

/// What one application read on its own proves. `stage_group` is the group its document names
/// for its stage, when it names one.
pub fn single_read(
    application: &HiredApplication,
    stage_group: Option<&str>,
    known: &HiredStages,
) -> Proof {
    if let Some(at) = &application.rejected_at {
        return Proof::NotHired(format!("rejected in Pinpoint ({at})"));
    }
    if let Some(group) = stage_group {
        return if group.eq_ignore_ascii_case("hired") {
            Proof::Hired("its stage is in the Hired group")
        } else {
            Proof::NotHired(format!("its stage is in the {group:?} group"))
        };
    }
    match &application.stage_id {
        Some(stage) if known.contains(stage) => Proof::Hired("its stage is a known hired stage"),
        _ => Proof::Unproven,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn application(
        stage: Option<&str>,
        hired_at: Option<&str>,
        rejected_at: Option<&str>,
    ) -> HiredApplication {
        HiredApplication {
            id: "1".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            phone: None,
            job_title: None,
            cv: None,
            updated_at: None,
            stage_id: stage.map(crate::hire::StageId::from),
            hired_at: hired_at.map(str::to_owned),
            rejected_at: rejected_at.map(str::to_owned),
            created_at: None,
            source: serde_json::Value::Null,
        }
    }

    fn learned(ids: &[&str]) -> HiredStages {
        HiredStages {
            configured: vec![],
            learned: ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_listed_hire_is_proven_unless_its_document_contradicts_the_filter() {
        let none = HiredStages::default();
        let hire = application(Some("9"), Some("2026-11-01T10:00:00+00:00"), None);
        assert_eq!(contradicts_listing(&hire, &[], &none), None);
        assert_eq!(contradicts_listing(&hire, &["9".into()], &none), None);
        assert!(
            contradicts_listing(&hire, &["8".into()], &none).is_some_and(|m| m.contains("stage 9"))
        );
        let rejected = application(Some("9"), None, Some("2026-11-02T10:00:00+00:00"));
        assert!(contradicts_listing(&rejected, &[], &none).is_some_and(|m| m.contains("rejected")));
    }

    #[test]
    fn an_undated_application_contradicts_the_listing_unless_its_stage_is_known_hired() {
        let undated = application(Some("7"), None, None);
        assert!(
            contradicts_listing(&undated, &[], &HiredStages::default())
                .is_some_and(|m| m.contains("never hired"))
        );
        assert_eq!(contradicts_listing(&undated, &[], &learned(&["7"])), None);
        assert_eq!(
            contradicts_listing(&undated, &["7".into()], &HiredStages::default()),
            None
        );
        // Without a stage id there is nothing to contradict.
        assert_eq!(
            contradicts_listing(&application(None, None, None), &[], &HiredStages::default()),
            None
        );
    }

    #[test]
    fn only_a_hire_pinpoint_dates_as_hired_teaches_its_stage() {
        assert_eq!(
            teaches_stage(&application(Some("9"), Some("2026-11-01"), None)),
            Some(&StageId::from("9"))
        );
        assert_eq!(teaches_stage(&application(Some("9"), None, None)), None);
        assert_eq!(
            teaches_stage(&application(None, Some("2026-11-01"), None)),
            None
        );
    }

    #[test]
    fn a_single_read_needs_positive_evidence() {
        let known = learned(&["9"]);
        // A known hired stage proves it; hired_at alone does not.
        assert_eq!(
            single_read(&application(Some("9"), None, None), None, &known),
            Proof::Hired("its stage is a known hired stage")
        );
        assert_eq!(
            single_read(
                &application(Some("3"), Some("2026-11-01"), None),
                None,
                &known
            ),
            Proof::Unproven
        );
        assert_eq!(
            single_read(&application(None, None, None), None, &known),
            Proof::Unproven
        );
        // The configured ids count as known.
        let configured = HiredStages {
            configured: vec!["3".into()],
            learned: HashSet::new(),
        };
        assert!(matches!(
            single_read(&application(Some("3"), None, None), None, &configured),
            Proof::Hired(_)
        ));
        // A rejection beats everything, a named group decides.
        assert!(matches!(
            single_read(
                &application(Some("9"), Some("x"), Some("2026-11-02")),
                Some("hired"),
                &known
            ),
            Proof::NotHired(_)
        ));
        assert!(matches!(
            single_read(
                &application(Some("3"), None, None),
                Some("Hired"),
                &learned(&[])
            ),
            Proof::Hired(_)
        ));
        assert!(matches!(
            single_read(&application(Some("9"), None, None), Some("offer"), &known),
            Proof::NotHired(_)
        ));
    }
}

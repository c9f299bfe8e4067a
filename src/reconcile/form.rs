//! What Pinpoint's plugin form reads through the reconciler: the create the next pass would
//! send for one application, and HiBob's named lists, with the same clients (gates, counters)
//! and ledger as the passes. Reads only: a submit is worked by [`Nudger::reconcile_one`],
//! like any other way a hire arrives.

use crate::hire::ApplicationId;
use std::sync::MutexGuard;

use chrono::Utc;

use super::{Nudger, apply, proof};
use crate::hibob::{ListValue, NewEmployee};
use crate::http::ApiError;
use crate::ledger::{Ledger, LedgerError};
use crate::mapping::RenderError;
use crate::pinpoint::HiredApplication;

/// The create the next pass would send for one application, as Pinpoint shows it now.
#[derive(Debug, Clone)]
pub struct NextCreate {
    pub application: HiredApplication,
    /// What the mapping gives a new employee, or why it cannot.
    pub employee: Result<NewEmployee, RenderError>,
    /// Whether Pinpoint's answer proves the application is in a hired stage now.
    pub hired: bool,
}

/// Why the form cannot be pre-filled from Pinpoint.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("cannot read the application from Pinpoint: {0}")]
    Pinpoint(ApiError),
    #[error(
        "Pinpoint's record of application {id} cannot become an employee: {problem}; correct it in Pinpoint and open the form again"
    )]
    Unusable { id: String, problem: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl Nudger {
    /// The ledger, for the plugin's own records (never held across an await).
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.parts.ledger()
    }

    /// One of HiBob's named lists (`site`, `department`), through the shared HiBob client.
    pub async fn named_list(&self, name: &str) -> Result<Vec<ListValue>, ApiError> {
        self.parts.hibob.named_list(name).await
    }

    /// Reads the application and renders what the next create would send for it.
    pub async fn next_create(
        &self,
        application_id: &ApplicationId,
    ) -> Result<NextCreate, FormError> {
        let parts = &self.parts;
        let one = parts
            .pinpoint
            .application_with_stage(application_id)
            .await
            .map_err(FormError::Pinpoint)?;
        let application = one.record.map_err(|bad| FormError::Unusable {
            id: application_id.to_string(),
            problem: bad.problem,
        })?;
        let hired = matches!(
            proof::single_read(
                &application,
                one.stage_group.as_deref(),
                &parts.hired_stages()?
            ),
            proof::Proof::Hired(_)
        );
        let first_seen = parts
            .ledger()
            .entry(application_id)?
            .map(|e| e.first_seen_at)
            .unwrap_or_else(Utc::now);
        let employee = apply::new_employee(&parts.settings, first_seen, &application, Utc::now())
            .map(|(new, _)| new);
        Ok(NextCreate {
            application,
            employee,
            hired,
        })
    }
}

//! Which hires are being worked on right now, by any task: a scheduled pass or a webhook
//! nudge.
//!
//! Exactly-once rests on a hire never being worked by two tasks at once: two tasks planning
//! from the same ledger row would both create, upload and comment. Every task that works a
//! hire holds its claim from before it reads the hire's row until its last step is recorded;
//! a task that cannot claim a hire leaves it to the claimant. Owns only the set of ids; it
//! knows nothing of the ledger or HTTP.

use crate::hire::ApplicationId;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The set of claimed application ids, shared by every task of one process.
#[derive(Debug, Clone, Default)]
pub struct HireClaims {
    claimed: Arc<Mutex<HashSet<ApplicationId>>>,
}

impl HireClaims {
    /// Claims `application_id` unless another task holds it. The claim lasts as long as the
    /// returned guard.
    pub fn try_claim(&self, application_id: &ApplicationId) -> Option<HireClaim> {
        let mut claimed = self.claimed.lock().unwrap_or_else(|e| e.into_inner());
        if !claimed.insert(application_id.to_owned()) {
            return None;
        }
        Some(HireClaim {
            claims: self.clone(),
            application_id: application_id.to_owned(),
        })
    }

    /// Whether some task holds `application_id` now.
    pub fn is_claimed(&self, application_id: &ApplicationId) -> bool {
        self.claimed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(application_id)
    }
}

/// One task's hold on one hire; released when dropped, however the task ends.
#[derive(Debug)]
pub struct HireClaim {
    claims: HireClaims,
    application_id: ApplicationId,
}

impl HireClaim {
    pub fn application_id(&self) -> &str {
        &self.application_id
    }
}

impl Drop for HireClaim {
    fn drop(&mut self) {
        self.claims
            .claimed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.application_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_hire_cannot_be_claimed_again_until_released() {
        let claims = HireClaims::default();
        let first = claims.try_claim(&"1001".into()).expect("free");
        assert!(claims.try_claim(&"1001".into()).is_none());
        assert!(
            claims.clone().try_claim(&"1001".into()).is_none(),
            "clones share"
        );
        let other = claims
            .try_claim(&"1002".into())
            .expect("another hire is free");
        assert!(claims.is_claimed(&"1001".into()));
        drop(first);
        assert!(!claims.is_claimed(&"1001".into()));
        assert!(claims.try_claim(&"1001".into()).is_some());
        assert_eq!(other.application_id(), "1002");
    }
}

//! Placeholder until the Hire API client lands (same session).
use crate::employee::NewEmployee;
use crate::hire::application::HiredApplication;
use crate::http::ApiError;

pub const ENDPOINT: &str = "POST hire-api";

pub struct HireApiClient;

pub struct HireDocument;

impl HireDocument {
    pub fn new(_a: &HiredApplication, _n: &NewEmployee, _l: &str) -> Self {
        HireDocument
    }
}

impl HireApiClient {
    pub async fn post(&self, _d: &HireDocument) -> Result<(), ApiError> {
        Ok(())
    }
}

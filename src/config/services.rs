//! The two services and how they are called: `[pinpoint]`, `[hibob]`, `[http]`, and
//! `[report]`'s links into each. Values come through the descriptors in `keys`; secrets
//! through `secrets`.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::file::{RawHibob, RawHttp, RawPinpoint, RawReport};
use super::secrets::{SecretSources, hibob_credentials, hire_api_authorization, pinpoint_api_key};
use super::{ConfigError, RateLimit, invalid, keys};

/// Which HiBob document folder receives the CV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvFolder {
    Shared,
    Confidential,
}

impl CvFolder {
    pub fn as_str(self) -> &'static str {
        match self {
            CvFolder::Shared => "shared",
            CvFolder::Confidential => "confidential",
        }
    }
}

/// What to do when HiBob already holds a *former* employee (terminated) under a hire's email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFormerEmployee {
    /// Park the hire for a person: a rehire is HR's decision, made in HiBob.
    Attention,
    /// Adopt the former employee's record, as for anyone found by email.
    Adopt,
}

/// How a proven hire reaches HiBob (`hibob.hire_flow`): the domain's word, read here.
pub use crate::hire::HireFlow;

/// Where and how hires are posted to Bob's Hire API: the endpoint URL and the
/// `Authorization` header value Bob shows when the integration is installed (sent verbatim).
#[derive(Debug, Clone)]
pub struct HireApiConfig {
    /// http(s), with no user name or password in it (the config refuses one).
    pub url: Url,
    /// `HIBOB_HIRE_API_AUTHORIZATION`, else `hibob.hire_api_authorization_file`.
    pub authorization: SecretString,
}

#[derive(Debug, Clone)]
pub struct PinpointConfig {
    pub base_url: Url,
    pub rate_limit: RateLimit,
    pub page_size: u32,
    /// When non-empty, list each of these stage ids instead of `filter[stage_basic_type]=hired`.
    pub hired_stage_ids: Vec<String>,
    pub api_key: SecretString,
}

/// How hirebridge authenticates to HiBob: always HTTP Basic with a service user.
#[derive(Debug, Clone)]
pub enum HibobCredentials {
    ServiceUser {
        id: String,
        token: SecretString,
    },
    /// `base64("ID:TOKEN")`, the form older deployments keep in `HIBOB_BASE64_TOKEN`.
    Base64(SecretString),
}

#[derive(Debug, Clone)]
pub struct HibobConfig {
    pub base_url: Url,
    /// Applied to each of the people endpoints (search, create), as HiBob counts them.
    pub rate_limit: RateLimit,
    /// The document endpoints' own pace: HiBob documents no limit for them.
    pub documents_rate_limit: RateLimit,
    pub site: String,
    pub start_date_offset: Duration,
    pub cv_folder: CvFolder,
    /// `hibob.on_former_employee`: a terminated employee with the hire's email.
    pub on_former_employee: OnFormerEmployee,
    /// How long a new employee may stay invisible to search after HiBob accepted it.
    pub read_lag: Duration,
    /// How many emails one `POST /people/search` asks for.
    pub search_batch_size: usize,
    pub credentials: HibobCredentials,
    /// `hibob.hire_flow`.
    pub hire_flow: HireFlow,
    /// The Hire API's endpoint and header: always there with `hire_flow = "pending"` (the
    /// config is refused without them); in direct mode only when both are given.
    pub hire_api: Option<HireApiConfig>,
    /// `hibob.hr_reminder_after`: how long a hire may wait for HR before `status` asks a
    /// person to look.
    pub hr_reminder_after: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// How often a failed read (timeout, connection error, 5xx) is retried in place.
    pub read_retries: u32,
    /// The longest one request waits for a rate-limit window; past it the hire is retried
    /// on a later pass instead.
    pub max_rate_limit_wait: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: keys::CONNECT_TIMEOUT.default,
            request_timeout: keys::REQUEST_TIMEOUT.default,
            read_retries: keys::READ_RETRIES.default,
            max_rate_limit_wait: keys::MAX_RATE_LIMIT_WAIT.default,
        }
    }
}

/// Where the HTML report links a hire: URL patterns with `{id}` for the application's or the
/// employee's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLinks {
    pub pinpoint_application: String,
    pub hibob_employee: String,
}

impl ReportLinks {
    /// The link for `id`, percent-encoded into the pattern.
    pub fn to(pattern: &str, id: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        pattern.replace("{id}", &encoded)
    }
}

/// `[report]`: the link patterns, by default the Pinpoint admin page on the tenant's own host
/// (from `pinpoint.base_url`) and HiBob's employee profile page.
pub(super) fn report_links(
    pinpoint_base_url: &str,
    raw: RawReport,
) -> Result<ReportLinks, ConfigError> {
    let host = Url::parse(pinpoint_base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "app.pinpointhq.com".to_owned());
    let application = raw
        .pinpoint_application_url
        .unwrap_or_else(|| format!("https://{host}/admin/applications/{{id}}"));
    let employee = raw
        .hibob_employee_url
        .unwrap_or_else(|| keys::HIBOB_EMPLOYEE_URL.default.to_owned());
    Ok(ReportLinks {
        pinpoint_application: link_pattern("report.pinpoint_application_url", application)?,
        hibob_employee: link_pattern(keys::HIBOB_EMPLOYEE_URL.name, employee)?,
    })
}

/// An http(s) URL with `{id}` where the id goes.
fn link_pattern(key: &str, value: String) -> Result<String, ConfigError> {
    let probe = value.replace("{id}", "1");
    match Url::parse(&probe) {
        Ok(url) if value.contains("{id}") && matches!(url.scheme(), "https" | "http") => Ok(value),
        _ => Err(invalid(
            key,
            format!(
                "{value:?} is not an http(s) URL pattern with {{id}} where the id goes, e.g. \"https://acme.pinpointhq.com/admin/applications/{{id}}\""
            ),
        )),
    }
}

pub(super) fn pinpoint_config(
    raw: RawPinpoint,
    secrets: &SecretSources,
) -> Result<PinpointConfig, ConfigError> {
    let page_size = keys::PAGE_SIZE.read(raw.page_size)?;
    if raw.hired_stage_ids.iter().any(|s| s.trim().is_empty()) {
        return Err(invalid(
            "pinpoint.hired_stage_ids",
            "a stage id is empty; list Pinpoint stage ids such as [\"4\"]",
        ));
    }
    let api_key = pinpoint_api_key(secrets, raw.api_key_file.as_ref())?;
    Ok(PinpointConfig {
        base_url: keys::PINPOINT_BASE_URL.parse(&raw.base_url)?,
        rate_limit: keys::PINPOINT_RATE_LIMIT.read(raw.rate_limit.as_deref())?,
        page_size,
        hired_stage_ids: raw.hired_stage_ids,
        api_key,
    })
}

pub(super) fn hibob_config(
    raw: RawHibob,
    secrets: &SecretSources,
) -> Result<HibobConfig, ConfigError> {
    if raw.site.trim().is_empty() {
        return Err(invalid(
            "hibob.site",
            "is empty; name a value of HiBob's site list, e.g. \"New York (Demo)\"",
        ));
    }
    let cv_folder = keys::CV_FOLDER.read(raw.cv_folder.as_deref())?;
    let on_former_employee = keys::ON_FORMER_EMPLOYEE.read(raw.on_former_employee.as_deref())?;
    let search_batch_size = keys::SEARCH_BATCH_SIZE.read(raw.search_batch_size)?;
    let credentials = hibob_credentials(&raw, secrets)?;
    let hire_flow = keys::HIRE_FLOW.read(raw.hire_flow.as_deref())?;
    let hire_api = hire_api_config(&raw, hire_flow, secrets)?;
    let hr_reminder_after = keys::HR_REMINDER_AFTER.read(raw.hr_reminder_after.as_deref())?;
    Ok(HibobConfig {
        base_url: keys::HIBOB_BASE_URL.read(raw.base_url.as_deref())?,
        rate_limit: keys::HIBOB_RATE_LIMIT.read(raw.rate_limit.as_deref())?,
        documents_rate_limit: keys::DOCUMENTS_RATE_LIMIT
            .read(raw.documents_rate_limit.as_deref())?,
        site: raw.site,
        start_date_offset: keys::START_DATE_OFFSET.read(raw.start_date_offset.as_deref())?,
        cv_folder,
        on_former_employee,
        read_lag: keys::READ_LAG.read(raw.read_lag.as_deref())?,
        search_batch_size,
        credentials,
        hire_flow,
        hire_api,
        hr_reminder_after,
    })
}

/// The Hire API's URL and header. With `hire_flow = "pending"` both are required; otherwise
/// a URL given is still checked (a mistake shows before the mode is switched), and the pair
/// is kept only when both are there.
fn hire_api_config(
    raw: &RawHibob,
    flow: HireFlow,
    secrets: &SecretSources,
) -> Result<Option<HireApiConfig>, ConfigError> {
    let url = keys::HIRE_API_URL.read(raw.hire_api_url.as_deref())?;
    let authorization = hire_api_authorization(raw, secrets)?;
    match (flow, url, authorization) {
        (_, Some(url), Some(authorization)) => Ok(Some(HireApiConfig { url, authorization })),
        (HireFlow::Pending, None, _) => Err(invalid(
            keys::HIRE_API_URL.name,
            "is required with hibob.hire_flow = \"pending\": set it to the endpoint URL Bob \
             shows when the Hire API integration is installed (see docs/hibob-hire-api.md), or \
             set hibob.hire_flow = \"direct\"",
        )),
        (HireFlow::Pending, Some(_), None) => Err(ConfigError::MissingSecret {
            message: "the Hire API's Authorization header (hibob.hire_flow = \"pending\"): set \
                      HIBOB_HIRE_API_AUTHORIZATION or hibob.hire_api_authorization_file to the \
                      Authorization value Bob shows with the endpoint URL"
                .into(),
        }),
        (HireFlow::Direct, _, _) => Ok(None),
    }
}

pub(super) fn http_config(raw: RawHttp) -> Result<HttpConfig, ConfigError> {
    Ok(HttpConfig {
        connect_timeout: keys::CONNECT_TIMEOUT.read(raw.connect_timeout.as_deref())?,
        request_timeout: keys::REQUEST_TIMEOUT.read(raw.request_timeout.as_deref())?,
        read_retries: keys::READ_RETRIES.read(raw.read_retries)?,
        max_rate_limit_wait: keys::MAX_RATE_LIMIT_WAIT.read(raw.max_rate_limit_wait.as_deref())?,
    })
}

//! A stateful simulator of the Pinpoint ATS and HiBob HRIS HTTP APIs on a loopback port.
//!
//! It owns: an axum server on its own thread and tokio runtime; the state both systems hold
//! (applications, jobs, comments, employees, documents, named lists, HiBob's pending hires from
//! its Hire API); seeded scenarios; injected faults; fixed-window rate limits; read-after-write
//! lag; and a record of every request.
//! Tests and the `demo` command drive it through [`Sim`] and assert on its state and counters.
//!
//! It must not know anything about the rest of the product: no imports from other crate
//! modules, no sync logic. It only behaves like the two remote APIs as described in the API
//! notes, including their traps (confidential jobs hidden by default, 200 on create with a
//! string id, inactive pre-hires hidden from search, HTML from the edge on 5xx).
//!
//! Inside, dependencies point one way: `server` (routing, fault application) calls the API
//! modules `hire_api`, `hibob` and `pinpoint` (the Hire API creates employees and pulls files
//! through `hibob`; HiBob fetches CVs from Pinpoint's file host, never the reverse), which
//! build on `state`, `faults`, `scenario` and, lowest, `wire` (the request and answer
//! plumbing). No module imports one above it; all may use the types declared here
//! (`Endpoint`, the credential constants).

mod faults;
mod hibob;
mod hire_api;
mod pinpoint;
mod scenario;
mod server;
mod state;
mod wire;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

pub use faults::{Fault, FaultRule};
pub use hire_api::{HrChanges, HrCompletion, HrLogin, PendingHireError};
pub use scenario::{
    CvFiles, Scenario, SimApplication, SimEmployeeSeed, SimJob, SimOffer, SplitMix, Stage,
    Visibility, WindowLimit,
};
pub use state::{
    PendingHire, PendingStatus, PulledAttachment, SimComment, SimDocument, SimEmployee,
};

use state::Shared;
use wire::percent_decode;

/// What working one hire leaves behind, for [`Sim::seed_worked_hire`].
pub struct WorkedHire<'a> {
    pub application_id: &'a str,
    pub first_name: &'a str,
    pub surname: &'a str,
    pub email: &'a str,
    pub site: &'a str,
    pub start_date: chrono::NaiveDate,
    /// The body the employee was created with.
    pub body: serde_json::Value,
    /// (folder, document name, source URL) of the CV, when the hire has one.
    pub document: Option<(&'a str, &'a str, &'a str)>,
    /// The comment's text, given the employee's id.
    pub comment: &'a dyn Fn(&str) -> String,
}

/// The ids [`Sim::seed_worked_hire`] gave.
#[derive(Debug, Clone)]
pub struct SeededIds {
    pub employee_id: String,
    pub document_id: Option<String>,
    pub comment_id: String,
}

pub const PINPOINT_API_KEY: &str = "sim-pinpoint-key";
pub const HIBOB_SERVICE_USER_ID: &str = "SERVICE-SIM";
pub const HIBOB_SERVICE_USER_TOKEN: &str = "sim-hibob-token";
/// Where the simulated Hire API takes posts: what Bob shows as the endpoint URL after the
/// path of its origin, ending in the integration's id.
pub const HIBOB_HIRE_API_PATH: &str = "/hibob/hire-api/SIM-HIRE";
/// The `Authorization` header value the simulated Hire API takes, compared verbatim:
/// `Basic ` + base64("SIM-HIRE:sim-hire-secret"), the form Bob shows for a service user.
pub const HIBOB_HIRE_API_AUTHORIZATION: &str = "Basic U0lNLUhJUkU6c2ltLWhpcmUtc2VjcmV0";
/// HiBob's documented file size limit for a document upload (5 MB).
pub const HIBOB_MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

/// The remote operation a request was routed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    ListApplications,
    GetApplication,
    PostComment,
    DownloadFile,
    SearchPeople,
    CreatePerson,
    UpdatePerson,
    /// `POST /employees/{id}/start-date`.
    SetStartDate,
    ListDocuments,
    UploadDocument,
    PeopleFields,
    NamedList,
    /// `POST {HIBOB_HIRE_API_PATH}`: a hire sent to HiBob's Hire API.
    HireApiPost,
    Unknown,
}

/// One request that reached the simulator. `status` is 0 while the request is still in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    pub endpoint: Endpoint,
    pub method: String,
    pub path_and_query: String,
    pub status: u16,
    /// When the request arrived, in milliseconds since the Unix epoch.
    pub arrived_at_ms: u64,
}

/// Handle to a running simulator. Dropping it stops the server and frees the port.
#[derive(Debug)]
pub struct Sim {
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("addr", &self.addr).finish()
    }
}

impl Sim {
    /// Serves on 127.0.0.1 with an OS-chosen port.
    pub fn start(scenario: Scenario) -> std::io::Result<Sim> {
        Sim::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), scenario)
    }

    /// Serves on `addr` from a dedicated thread with its own runtime, so it works both from
    /// plain blocking tests and from inside another runtime.
    pub fn start_on(addr: SocketAddr, scenario: Scenario) -> std::io::Result<Sim> {
        // Bind before returning so the port is known and connections queue even before the
        // accept loop runs.
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(addr, scenario));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .thread_name("hirebridge-sim")
            .enable_all()
            .build()?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = server::router(shared.clone());
        let thread = std::thread::Builder::new()
            .name("hirebridge-sim".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "simulator could not adopt its listener");
                            return;
                        }
                    };
                    // Not graceful on purpose: a test's Drop must not wait for a delayed request.
                    tokio::select! {
                        res = axum::serve(listener, app) => {
                            if let Err(e) = res {
                                tracing::error!(error = %e, "simulator server stopped");
                            }
                        }
                        _ = rx => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(200));
            })?;
        Ok(Sim {
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://127.0.0.1:PORT/pinpoint/api/v1`
    pub fn pinpoint_base_url(&self) -> String {
        format!("{}{}", self.shared.origin(), wire::PINPOINT_PREFIX)
    }

    /// `http://127.0.0.1:PORT/hibob/v1`
    pub fn hibob_base_url(&self) -> String {
        format!("{}{}", self.shared.origin(), wire::HIBOB_PREFIX)
    }

    /// `http://127.0.0.1:PORT/hibob/hire-api/SIM-HIRE`: the Hire API's endpoint URL, whole, as
    /// Bob shows it to the admin.
    pub fn hire_api_url(&self) -> String {
        format!("{}{HIBOB_HIRE_API_PATH}", self.shared.origin())
    }

    /// Queues a fault; rules are checked in insertion order.
    pub fn inject(&self, rule: FaultRule) {
        if rule.times > 0 {
            self.shared.lock().push_rule(rule);
        }
    }

    /// Drops every fault not yet used up: the APIs behave again.
    pub fn clear_faults(&self) {
        self.shared.lock().clear_rules();
    }

    /// Accepts these credentials instead of the `sim::*` constants (e.g. distinctive values
    /// a test then looks for in every output).
    pub fn set_credentials(
        &self,
        pinpoint_api_key: &str,
        hibob_service_user_id: &str,
        hibob_service_user_token: &str,
    ) {
        let credentials = &mut self.shared.lock().credentials;
        credentials.pinpoint_api_key = pinpoint_api_key.into();
        credentials.hibob_service_user_id = hibob_service_user_id.into();
        credentials.hibob_service_user_token = hibob_service_user_token.into();
    }

    /// Accepts this `Authorization` value on the Hire API instead of
    /// [`HIBOB_HIRE_API_AUTHORIZATION`] (e.g. a distinctive secret a test then looks for in
    /// every output).
    pub fn set_hire_api_authorization(&self, authorization: &str) {
        self.shared.lock().credentials.hire_api_authorization = authorization.into();
    }

    pub fn set_hibob_read_lag(&self, lag: Duration) {
        self.shared.lock().read_lag = lag;
    }

    pub fn set_hibob_rate_limit(&self, limit: Option<WindowLimit>) {
        let mut st = self.shared.lock();
        st.rate_limit = limit;
        st.windows.clear();
    }

    /// Adds an application, or replaces the one with the same id.
    pub fn add_application(&self, app: SimApplication) {
        self.shared.lock().upsert_application(app);
    }

    pub fn add_job(&self, job: SimJob) {
        let mut st = self.shared.lock();
        st.listing_cache = Default::default();
        st.jobs.insert(job.id.clone(), job);
    }

    /// HR rehires a former employee in HiBob: the termination is gone and the person starts
    /// (again) on `start_date`.
    ///
    /// # Panics
    /// If no employee has that email.
    pub fn rehire(&self, email: &str, start_date: chrono::NaiveDate) {
        let mut st = self.shared.lock();
        let index = st
            .index_of_email(&email.to_lowercase())
            .unwrap_or_else(|| panic!("sim: no employee with email {email}"));
        let emp = &mut st.employees[index].emp;
        emp.termination_date = None;
        emp.start_date = start_date;
    }

    /// Moves an application to another stage and bumps its `updated_at`.
    ///
    /// # Panics
    /// If no application has that id: a test referring to a missing hire is a bug in the test.
    pub fn set_stage(&self, application_id: &str, stage: Stage) {
        let found = self.shared.lock().set_stage(application_id, stage);
        assert!(found, "sim: no application with id {application_id}");
    }

    /// Makes every application look `by` older (created, last changed, hired, rejected), as
    /// if that much time had passed since: a later change then stands out in `updated_at`
    /// order, as on a tenant whose hires settled long ago.
    pub fn age_applications(&self, by: chrono::Duration) {
        self.shared.lock().age_applications(by);
    }

    /// The latest `updated_at` of any application (a generated tenant spreads its
    /// applications seven hours apart, so a large one reaches into the future).
    pub fn latest_update(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.shared.lock().latest_update()
    }

    /// All applications, in numeric id order.
    pub fn applications(&self) -> Vec<SimApplication> {
        let st = self.shared.lock();
        let mut apps: Vec<SimApplication> =
            st.applications.values().map(|s| s.app.clone()).collect();
        apps.sort_by_key(|a| (a.id.parse::<u64>().unwrap_or(u64::MAX), a.id.clone()));
        apps
    }

    /// All employees in creation order, ignoring read lag and activity.
    pub fn employees(&self) -> Vec<SimEmployee> {
        let st = self.shared.lock();
        st.employees.iter().map(|e| e.emp.clone()).collect()
    }

    /// The employee with this email (case-insensitive), ignoring read lag and activity.
    pub fn employee_by_email(&self, email: &str) -> Option<SimEmployee> {
        let st = self.shared.lock();
        st.employee_with_email(email).map(|s| s.emp.clone())
    }

    pub fn documents(&self, employee_id: &str) -> Vec<SimDocument> {
        let st = self.shared.lock();
        st.documents
            .iter()
            .filter(|d| d.employee_id == employee_id)
            .cloned()
            .collect()
    }

    pub fn comments(&self, application_id: &str) -> Vec<SimComment> {
        let st = self.shared.lock();
        st.comments
            .iter()
            .filter(|c| c.comment.application_id == application_id)
            .map(|c| c.comment.clone())
            .collect()
    }

    /// Every request that reached the simulator since start or the last reset, in arrival order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.lock().calls()
    }

    /// Requests to `endpoint`, any status.
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.shared.lock().count_calls(|c| c.endpoint == endpoint)
    }

    /// Requests for pages of the hired-stage listing (`filter[stage_basic_type]=hired` or a
    /// hired `filter[stage_id]`), leaving out the contract check's probes of the listing.
    pub fn listing_calls(&self) -> usize {
        self.shared.lock().count_calls(|c| {
            let query = percent_decode(&c.path_and_query);
            c.endpoint == Endpoint::ListApplications
                && !query.contains("hirebridge-probe")
                && (query.contains("filter[stage_basic_type]=hired&")
                    || query.contains("filter[stage_id]="))
        })
    }

    pub fn count_status(&self, endpoint: Endpoint, status: u16) -> usize {
        self.shared
            .lock()
            .count_calls(|c| c.endpoint == endpoint && c.status == status)
    }

    /// Requests to the writing endpoints (create or update person, set a start date, upload
    /// document, post comment, post to the Hire API), any status.
    pub fn write_calls(&self) -> usize {
        self.shared.lock().count_calls(|c| {
            matches!(
                c.endpoint,
                Endpoint::CreatePerson
                    | Endpoint::UpdatePerson
                    | Endpoint::SetStartDate
                    | Endpoint::UploadDocument
                    | Endpoint::PostComment
                    | Endpoint::HireApiPost
            )
        })
    }

    /// Changes one field of an employee as a person would in HiBob's UI (`work.title`, …).
    ///
    /// # Panics
    /// If no employee has that id: a test referring to a missing employee is a bug in the test.
    pub fn edit_employee_field(&self, employee_id: &str, field: &str, value: &str) {
        let found = self
            .shared
            .lock()
            .set_employee_field(employee_id, field, value);
        assert!(found, "sim: no employee with id {employee_id}");
    }

    /// One field of an employee as HiBob holds it now (`None` when unset).
    pub fn employee_field(&self, employee_id: &str, field: &str) -> Option<String> {
        let st = self.shared.lock();
        let e = st.find_employee(employee_id)?;
        state::field_at(&e.body, field)
    }

    /// For `hirebridge bench`: puts into the simulated HiBob and Pinpoint what working one
    /// hire creates (the employee, its CV document when it has one, the comment), without the
    /// HTTP calls, so a tenant of 100,000 done hires is set up in seconds. Returns the ids the
    /// simulator gave the employee, the document and the comment.
    pub fn seed_worked_hire(&self, worked: WorkedHire<'_>) -> SeededIds {
        let mut st = self.shared.lock();
        let employee_id = st.take_employee_id();
        st.push_employee(state::StoredEmployee {
            emp: SimEmployee {
                id: employee_id.clone(),
                first_name: worked.first_name.to_owned(),
                surname: worked.surname.to_owned(),
                email: worked.email.to_owned(),
                site: worked.site.to_owned(),
                start_date: worked.start_date,
                termination_date: None,
                body: worked.body,
            },
            created: None,
        });
        let document_id = worked
            .document
            .map(|(folder, name, url)| st.add_document(&employee_id, folder, name, url));
        let comment_id = st.next_comment_id.to_string();
        st.next_comment_id += 1;
        st.comments.push(state::StoredComment {
            comment: SimComment {
                id: comment_id.clone(),
                application_id: worked.application_id.to_owned(),
                body_text: (worked.comment)(&employee_id),
            },
            created_at: chrono::Utc::now(),
        });
        SeededIds {
            employee_id,
            document_id,
            comment_id,
        }
    }

    /// Every hire the Hire API stored, in arrival order, waiting or not (see
    /// [`PendingHire::status`]).
    pub fn pending_hires(&self) -> Vec<PendingHire> {
        self.shared.lock().pending_hires.clone()
    }

    /// Plays HR completing Bob's New hire flow for the application's newest waiting pending
    /// hire: creates the employee as `POST /people` would (new id, unique email, read lag) and
    /// returns its id. An application with no pending hire, or only completed or dismissed
    /// ones, is an error, as is a body HiBob's create refuses (the hire then stays waiting).
    pub fn complete_pending_hire(
        &self,
        application_id: &str,
        completion: HrCompletion,
    ) -> Result<String, PendingHireError> {
        hire_api::complete(&self.shared, application_id, &completion)
    }

    /// Plays HR dismissing the application's newest waiting pending hire: no employee is made.
    pub fn dismiss_pending_hire(&self, application_id: &str) -> Result<(), PendingHireError> {
        hire_api::dismiss(&self.shared, application_id)
    }

    /// Forgets recorded calls (state and queued faults are kept).
    pub fn reset_counters(&self) {
        self.shared.lock().reset_calls();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

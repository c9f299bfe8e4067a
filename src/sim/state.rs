//! The simulator's mutable state. Always accessed under one `std::sync::Mutex`, never across an await.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::faults::{Fault, FaultRule};
use super::pinpoint::ListingCache;
use super::scenario::{Scenario, SimApplication, SimJob, Stage, Visibility, WindowLimit};
use super::wire::percent_decode;
use super::{CallRecord, Endpoint};

/// An employee as HiBob holds it.
#[derive(Clone, Debug)]
pub struct SimEmployee {
    pub id: String,
    pub first_name: String,
    pub surname: String,
    pub email: String,
    pub site: String,
    pub start_date: NaiveDate,
    /// A former employee's termination day.
    pub termination_date: Option<NaiveDate>,
    /// The JSON body it was created with (`Null` for seeded employees).
    pub body: Value,
}

#[derive(Clone, Debug)]
pub struct SimDocument {
    pub id: String,
    pub employee_id: String,
    /// `shared` or `confidential`.
    pub folder: String,
    pub document_name: String,
    pub source_url: String,
}

#[derive(Clone, Debug)]
pub struct SimComment {
    pub id: String,
    pub application_id: String,
    pub body_text: String,
}

/// A hire an ATS posted to the Hire API, as Bob keeps it on its ATS Pending hires page until
/// HR completes or dismisses it.
#[derive(Clone, Debug)]
pub struct PendingHire {
    /// The body's `applicationId` (a number's digits when it came as a number; empty when
    /// absent): the key the controls on [`super::Sim`] find it by.
    pub application_id: String,
    /// The body as received, so a test can inspect what the client sent.
    pub body: Value,
    pub received_at: DateTime<Utc>,
    /// Each of the body's `attachments[]`, in order, with whether Bob could pull its URL.
    pub attachments: Vec<PulledAttachment>,
    pub status: PendingStatus,
}

impl PendingHire {
    /// Still on the pending page: neither completed nor dismissed.
    pub fn is_waiting(&self) -> bool {
        self.status == PendingStatus::Waiting
    }
}

/// One attachment of a pending hire and the outcome of Bob's pull of its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PulledAttachment {
    /// The attachment's `name` (the document name it gets in HiBob); empty when absent.
    pub name: String,
    pub url: String,
    /// Bob downloaded it: the URL is one the simulator serves, the file exists and is within
    /// HiBob's document size limit. A failed pull is kept too, as Bob shows it.
    pub pulled: bool,
}

/// Where a pending hire stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PendingStatus {
    Waiting,
    /// HR completed the New hire flow, which created this employee.
    Completed {
        employee_id: String,
    },
    Dismissed,
}

pub(crate) struct StoredEmployee {
    pub emp: SimEmployee,
    /// `None` for seeds: they predate the simulation and are never hidden by read lag.
    pub created: Option<Instant>,
}

pub(crate) struct StoredApplication {
    pub app: SimApplication,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when it entered a Hired stage, and kept when it leaves again (the hostile reading:
    /// `hired_at` is never proof of being hired now).
    pub hired_at: Option<DateTime<Utc>>,
    /// Set while it is in the Rejected stage.
    pub rejected_at: Option<DateTime<Utc>>,
}

impl StoredApplication {
    /// `hired_at` for a hire that does not set its own is `hired`: for a scenario's hires, an
    /// hour before the simulator started (recent, so a demo's hires are after any sensible
    /// cutoff); for one added while it runs, that moment.
    fn new(
        app: SimApplication,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
        hired: DateTime<Utc>,
    ) -> Self {
        let mut stored = StoredApplication {
            app,
            created_at,
            updated_at,
            hired_at: None,
            rejected_at: None,
        };
        stored.entered(stored.app.stage, hired);
        stored
    }

    /// The stage timestamps after moving to `stage` at `at`.
    fn entered(&mut self, stage: Stage, at: DateTime<Utc>) {
        if stage == Stage::Hired && self.hired_at.is_none() {
            self.hired_at = Some(self.app.hired_at.unwrap_or(at));
        }
        self.rejected_at = (stage == Stage::Rejected).then_some(at);
    }
}

pub(crate) struct StoredComment {
    pub comment: SimComment,
    pub created_at: DateTime<Utc>,
}

struct LiveRule {
    seq: u64,
    rule: FaultRule,
}

struct OpenCall {
    seq: u64,
    record: CallRecord,
}

pub(crate) struct State {
    pub jobs: BTreeMap<String, SimJob>,
    /// Keyed by id; listing sorts numerically, so map order does not matter.
    pub applications: HashMap<String, StoredApplication>,
    /// In creation order; only ever appended to, through [`State::push_employee`], which keeps
    /// the two indexes below in step.
    pub employees: Vec<StoredEmployee>,
    /// Lowercased email → index in `employees`: a tenant of 100,000 employees is searched and
    /// checked for duplicates without a scan.
    employee_by_email: HashMap<String, usize>,
    employee_by_id: HashMap<String, usize>,
    pub documents: Vec<SimDocument>,
    pub comments: Vec<StoredComment>,
    /// Every Hire API post that was stored, in arrival order; completed and dismissed ones
    /// stay, marked, so a test can see what happened to each.
    pub pending_hires: Vec<PendingHire>,
    /// The listing's sorted orders and its last filtered listing; dropped whenever an
    /// application, its stage or a job changes.
    pub listing_cache: ListingCache,
    pub sites: Vec<String>,
    pub departments: Vec<String>,
    pub read_lag: Duration,
    pub rate_limit: Option<WindowLimit>,
    /// Per endpoint: (window start in ms since epoch, requests counted in it).
    pub windows: HashMap<Endpoint, (u64, u32)>,
    pub next_employee_id: u64,
    pub next_document_id: u64,
    pub next_comment_id: u64,
    rules: Vec<LiveRule>,
    next_rule_seq: u64,
    calls: Vec<OpenCall>,
    next_call_seq: u64,
    /// What the simulated APIs accept: Pinpoint's key, HiBob's service user id and token.
    pub credentials: SimCredentials,
}

/// The credentials the simulator accepts (the `sim::*` constants unless a test sets others).
#[derive(Clone, Debug)]
pub struct SimCredentials {
    pub pinpoint_api_key: String,
    pub hibob_service_user_id: String,
    pub hibob_service_user_token: String,
    /// The exact `Authorization` header value the Hire API takes.
    pub hire_api_authorization: String,
}

/// Everything the request handlers share.
pub(crate) struct Shared {
    pub addr: SocketAddr,
    state: Mutex<State>,
}

impl Shared {
    pub fn new(addr: SocketAddr, scenario: Scenario) -> Shared {
        Shared {
            addr,
            state: Mutex::new(State::new(scenario)),
        }
    }

    /// A poisoned lock only means a handler panicked; the data is still usable for a simulator.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies queued faults for this request (delays first), returning the one that decides
    /// the answer, if any.
    pub async fn pick_fault(
        &self,
        endpoint: Endpoint,
        path_and_query: &str,
        body: &[u8],
    ) -> Option<Fault> {
        let decoded = percent_decode(path_and_query);
        let haystacks = [path_and_query, decoded.as_str()];
        let mut from = 0;
        loop {
            // The lock ends with this statement: a delay is never slept holding it.
            let next = self.lock().take_fault(endpoint, &haystacks, body, from);
            match next {
                Some((seq, Fault::Delay(d))) => {
                    tokio::time::sleep(d).await;
                    from = seq + 1;
                }
                Some((_, fault)) => return Some(fault),
                None => return None,
            }
        }
    }
}

impl State {
    fn new(s: Scenario) -> State {
        // Fixed base so timestamps are deterministic for a given scenario.
        let base = DateTime::parse_from_rfc3339("2026-01-05T09:00:00+00:00")
            .expect("valid timestamp")
            .with_timezone(&Utc);
        let mut st = State {
            jobs: s.jobs.into_iter().map(|j| (j.id.clone(), j)).collect(),
            applications: HashMap::new(),
            employees: vec![],
            employee_by_email: HashMap::new(),
            employee_by_id: HashMap::new(),
            documents: vec![],
            comments: vec![],
            pending_hires: vec![],
            listing_cache: ListingCache::default(),
            sites: s.sites,
            departments: s.departments,
            read_lag: s.hibob_read_lag,
            rate_limit: s.hibob_rate_limit,
            windows: HashMap::new(),
            next_employee_id: 3_397_352_260_643_062_621,
            next_document_id: 15_587_714,
            next_comment_id: 51_200_001,
            rules: vec![],
            next_rule_seq: 0,
            calls: vec![],
            next_call_seq: 0,
            credentials: SimCredentials {
                pinpoint_api_key: super::PINPOINT_API_KEY.into(),
                hibob_service_user_id: super::HIBOB_SERVICE_USER_ID.into(),
                hibob_service_user_token: super::HIBOB_SERVICE_USER_TOKEN.into(),
                hire_api_authorization: super::HIBOB_HIRE_API_AUTHORIZATION.into(),
            },
        };
        for (i, app) in s.applications.into_iter().enumerate() {
            let created = base + chrono::Duration::hours(7 * i as i64);
            st.applications.insert(
                app.id.clone(),
                StoredApplication::new(
                    app,
                    created,
                    created + chrono::Duration::days(12),
                    Utc::now() - chrono::Duration::hours(1),
                ),
            );
        }
        for seed in s.existing_employees {
            let id = st.take_employee_id();
            st.push_employee(StoredEmployee {
                emp: SimEmployee {
                    id,
                    first_name: seed.first_name,
                    surname: seed.surname,
                    email: seed.email,
                    site: seed.site,
                    start_date: seed.start_date,
                    termination_date: seed.termination_date,
                    body: Value::Null,
                },
                created: None,
            });
        }
        st
    }

    pub fn take_employee_id(&mut self) -> String {
        let id = self.next_employee_id;
        // A non-unit stride keeps ids from looking like row numbers.
        self.next_employee_id += 7_919;
        id.to_string()
    }

    pub fn job_visibility(&self, job_id: &str) -> Visibility {
        self.jobs
            .get(job_id)
            .map_or(Visibility::External, |j| j.visibility)
    }

    /// Appends an employee and indexes it by email and id.
    pub fn push_employee(&mut self, stored: StoredEmployee) {
        let index = self.employees.len();
        // HiBob keeps emails unique; should a seed repeat one, the first wins, as a scan's would.
        self.employee_by_email
            .entry(stored.emp.email.to_lowercase())
            .or_insert(index);
        self.employee_by_id
            .entry(stored.emp.id.clone())
            .or_insert(index);
        self.employees.push(stored);
    }

    /// The employee with this email (case-insensitive).
    pub fn employee_with_email(&self, email: &str) -> Option<&StoredEmployee> {
        self.index_of_email(&email.to_lowercase())
            .map(|i| &self.employees[i])
    }

    /// Where in `employees` the employee with this (already lowercased) email is.
    pub fn index_of_email(&self, lowercased: &str) -> Option<usize> {
        self.employee_by_email.get(lowercased).copied()
    }

    pub fn index_of_id(&self, id: &str) -> Option<usize> {
        self.employee_by_id.get(id).copied()
    }

    pub fn upsert_application(&mut self, app: SimApplication) {
        self.listing_cache = ListingCache::default();
        let now = Utc::now();
        match self.applications.get_mut(&app.id) {
            Some(stored) => {
                let stage = app.stage;
                stored.app = app;
                stored.updated_at = now;
                stored.entered(stage, now);
            }
            None => {
                self.applications
                    .insert(app.id.clone(), StoredApplication::new(app, now, now, now));
            }
        }
    }

    pub fn latest_update(&self) -> Option<DateTime<Utc>> {
        self.applications.values().map(|s| s.updated_at).max()
    }

    pub fn age_applications(&mut self, by: chrono::Duration) {
        self.listing_cache = ListingCache::default();
        for stored in self.applications.values_mut() {
            stored.created_at -= by;
            stored.updated_at -= by;
            stored.hired_at = stored.hired_at.map(|t| t - by);
            stored.rejected_at = stored.rejected_at.map(|t| t - by);
        }
    }

    pub fn set_stage(&mut self, id: &str, stage: Stage) -> bool {
        self.listing_cache = ListingCache::default();
        match self.applications.get_mut(id) {
            Some(stored) => {
                let now = Utc::now();
                stored.app.stage = stage;
                stored.updated_at = now;
                stored.entered(stage, now);
                true
            }
            None => false,
        }
    }

    pub fn find_employee(&self, id: &str) -> Option<&SimEmployee> {
        self.employee_by_id.get(id).map(|&i| &self.employees[i].emp)
    }

    /// Sets a field in the employee's record (nested by category), as an update or an edit
    /// in HiBob's UI would; site and start date are kept in step.
    pub fn set_employee_field(&mut self, id: &str, field: &str, value: &str) -> bool {
        let Some(&index) = self.employee_by_id.get(id) else {
            return false;
        };
        let stored = &mut self.employees[index];
        let emp = &mut stored.emp;
        if !emp.body.is_object() {
            emp.body = serde_json::json!({
                "firstName": emp.first_name, "surname": emp.surname, "email": emp.email,
                "work": {"site": emp.site, "startDate": emp.start_date.format("%Y-%m-%d").to_string()},
            });
        }
        let path = field.strip_prefix("root.").unwrap_or(field);
        let parts: Vec<&str> = path.split('.').collect();
        let mut node = &mut emp.body;
        for part in &parts[..parts.len() - 1] {
            if !node.get(*part).is_some_and(Value::is_object) {
                node[*part] = serde_json::json!({});
            }
            node = &mut node[*part];
        }
        node[parts[parts.len() - 1]] = Value::String(value.to_owned());
        match path {
            "work.site" => emp.site = value.to_owned(),
            "work.startDate" => {
                if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
                    emp.start_date = d;
                }
            }
            _ => {}
        }
        true
    }

    /// Files a document under an employee, as HiBob's upload keeps it; returns its new id.
    pub fn add_document(
        &mut self,
        employee_id: &str,
        folder: &str,
        name: &str,
        url: &str,
    ) -> String {
        let id = self.next_document_id.to_string();
        self.next_document_id += 1;
        self.documents.push(SimDocument {
            id: id.clone(),
            employee_id: employee_id.to_owned(),
            folder: folder.to_owned(),
            document_name: name.to_owned(),
            source_url: url.to_owned(),
        });
        id
    }

    pub fn email_taken(&self, email: &str) -> bool {
        self.employee_with_email(email).is_some()
    }

    pub fn clear_rules(&mut self) {
        self.rules.clear();
    }

    pub fn push_rule(&mut self, rule: FaultRule) {
        let seq = self.next_rule_seq;
        self.next_rule_seq += 1;
        self.rules.push(LiveRule { seq, rule });
    }

    /// The first live rule for this request whose sequence is at least `from`; consumes one use.
    pub fn take_fault(
        &mut self,
        endpoint: Endpoint,
        haystacks: &[&str],
        body: &[u8],
        from: u64,
    ) -> Option<(u64, Fault)> {
        let idx = self
            .rules
            .iter()
            .position(|r| r.seq >= from && r.rule.matches(endpoint, haystacks, body))?;
        let live = &mut self.rules[idx];
        live.rule.times -= 1;
        let found = (live.seq, live.rule.fault.clone());
        if live.rule.times == 0 {
            self.rules.remove(idx);
        }
        Some(found)
    }

    pub fn begin_call(&mut self, endpoint: Endpoint, method: &str, path_and_query: &str) -> u64 {
        let seq = self.next_call_seq;
        self.next_call_seq += 1;
        self.calls.push(OpenCall {
            seq,
            record: CallRecord {
                endpoint,
                method: method.to_string(),
                path_and_query: path_and_query.to_string(),
                // 0 until the answer is known; requests are listed in arrival order.
                status: 0,
                arrived_at_ms: epoch_ms(),
            },
        });
        seq
    }

    pub fn finish_call(&mut self, seq: u64, status: u16) {
        if let Some(c) = self.calls.iter_mut().rev().find(|c| c.seq == seq) {
            c.record.status = status;
        }
    }

    pub fn calls(&self) -> Vec<CallRecord> {
        self.calls.iter().map(|c| c.record.clone()).collect()
    }

    /// Counts recorded calls without cloning the log (it can be long in benchmarks).
    pub fn count_calls(&self, pred: impl Fn(&CallRecord) -> bool) -> usize {
        self.calls.iter().filter(|c| pred(&c.record)).count()
    }

    pub fn reset_calls(&mut self) {
        self.calls.clear();
    }

    /// Counts one request against the endpoint's fixed window.
    /// Returns (allowed, limit, remaining, reset epoch secs), or `None` when no limit is configured.
    pub fn rate_check(&mut self, endpoint: Endpoint) -> Option<(bool, u32, u32, u64)> {
        let limit = self.rate_limit?;
        let window_ms = (limit.window.as_millis() as u64).max(1);
        let now_ms = epoch_ms();
        let start = now_ms / window_ms * window_ms;
        let reset = (start + window_ms).div_ceil(1000);
        let slot = self.windows.entry(endpoint).or_insert((start, 0));
        if slot.0 != start {
            *slot = (start, 0);
        }
        if slot.1 >= limit.limit {
            return Some((false, limit.limit, 0, reset));
        }
        slot.1 += 1;
        Some((true, limit.limit, limit.limit - slot.1, reset))
    }
}

/// The value at a field's path in an employee record (`work.title` → `body.work.title`).
pub(crate) fn field_at(body: &Value, field: &str) -> Option<String> {
    let path = field.strip_prefix("root.").unwrap_or(field);
    path.split('.')
        .try_fold(body, |node, part| node.get(part))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub(crate) fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

//! Pinpoint's Integration Plugins Framework: "Send to HiBob" as a native action inside
//! Pinpoint (the `exportCandidate` action), on its own listener (`[plugin]`).
//!
//! Owns the routes, the key check and the shapes Pinpoint exchanges with a plugin: the
//! plugin's description (`POST /`), the action's form (`POST /exportCandidate/meta`), the
//! submit (`POST /exportCandidate/submit`) and the option lists Stage Actions pick from
//! (`POST /lists/{key}`). It adds no step of its own: a submit records what HR approved in
//! the ledger, then runs the hire through the same pipeline as a webhook nudge
//! ([`Nudger::reconcile_one`], recorded with the trigger `plugin`), so a hire sent by button
//! and listed by the poll is still one employee, one CV, one comment. It has no SQL (the
//! ledger's `plugin_*` calls) and no HTTP client (the reconciler's). The key never reaches a
//! log or an answer.

mod form;
mod submit;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::PluginConfig;
use crate::monitor::Monitor;
use crate::reconcile::Nudger;

pub use form::{LIST_DEPARTMENTS, LIST_SITES};

/// The framework's action key for sending a candidate elsewhere.
pub const ACTION_KEY: &str = "exportCandidate";
pub const ACTION_LABEL: &str = "Send to HiBob";
pub const META_PATH: &str = "/exportCandidate/meta";
pub const SUBMIT_PATH: &str = "/exportCandidate/submit";
/// Where Stage Actions read a dropdown's options: `/lists/sites`, `/lists/departments`.
pub const LISTS_PATH: &str = "/lists";
/// The header Pinpoint sends the key in (`useAsHttpHeader`), named like the public examples'.
pub const KEY_HEADER: &str = "X_HIREBRIDGE_PLUGIN_KEY";
/// The key's field in the plugin's configuration form, and in `configurationValues`.
pub const KEY_FIELD: &str = "pluginKey";
/// The trigger recorded for the passes a submit starts.
pub const TRIGGER: &str = "plugin";
/// The plugin's version as Pinpoint reads it.
pub const VERSION: &str = "1.0.0";
/// The largest body accepted; a form is a few kilobytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error(
        "cannot listen on {addr} (plugin.listen): {source}; choose a free port or stop whatever holds it"
    )]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// What may change on a config reload: the key, the name, the employee link.
#[derive(Debug, Clone)]
pub struct PluginSettings {
    pub key: Option<SecretString>,
    pub name: String,
    pub employee_url: String,
}

impl PluginSettings {
    pub fn of(config: &PluginConfig) -> Self {
        Self {
            key: config.key.clone(),
            name: config.name.clone(),
            employee_url: config.employee_url.clone(),
        }
    }
}

/// What the plugin's handlers share.
#[derive(Clone)]
pub struct PluginState {
    settings: Arc<RwLock<PluginSettings>>,
    nudger: watch::Receiver<Nudger>,
    monitor: Arc<Monitor>,
    /// HiBob's named lists, cached; refreshed when a value is not found in them.
    lists: Arc<tokio::sync::Mutex<HashMap<String, Vec<String>>>>,
    /// One submit at a time: a replay racing its original waits and is answered from the
    /// ledger. Submits come at a person's pace.
    submitting: Arc<tokio::sync::Mutex<()>>,
    shutdown: CancellationToken,
}

impl PluginState {
    pub fn new(
        settings: PluginSettings,
        nudger: watch::Receiver<Nudger>,
        monitor: Arc<Monitor>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            settings: Arc::new(RwLock::new(settings)),
            nudger,
            monitor,
            lists: Arc::default(),
            submitting: Arc::default(),
            shutdown,
        }
    }

    /// A handle for a config reload: replaces key, name and link while serving.
    pub fn settings_handle(&self) -> Arc<RwLock<PluginSettings>> {
        self.settings.clone()
    }

    fn settings(&self) -> PluginSettings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn nudger(&self) -> Nudger {
        self.nudger.borrow().clone().triggered_by(TRIGGER)
    }
}

/// The plugin's routes.
pub fn router(state: PluginState) -> Router {
    Router::new()
        .route("/", post(describe))
        .route(META_PATH, post(form::action_meta))
        .route(SUBMIT_PATH, post(submit::submit))
        .route(LISTS_PATH, post(form::list_from_body))
        .route(&format!("{LISTS_PATH}/{{key}}"), post(list_by_path))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn list_by_path(
    State(state): State<PluginState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    form::list(&state, &key, &headers, &body).await
}

/// Binds the plugin's socket (before the daemon reports ready, so a taken port fails the
/// start naming `plugin.listen`).
pub async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, PluginError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| PluginError::Bind { addr, source })
}

/// Serves the plugin until `shutdown`, under the listener's deadlines and budget.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: PluginState,
    limits: crate::config::ListenerLimits,
    shutdown: CancellationToken,
) {
    let monitor = state.monitor.clone();
    crate::listener::serve("plugin", listener, router(state), limits, monitor, shutdown).await;
}

/// `POST /`: what Pinpoint shows when the plugin is registered. Answered without the key:
/// Pinpoint reads it before the admin has entered one.
async fn describe(State(state): State<PluginState>) -> Response {
    axum::Json(description(&state.settings().name)).into_response()
}

/// The plugin's description: name, logo, the one action and the configuration form.
pub fn description(name: &str) -> Value {
    let mapping =
        |key: &str, label: &str, value: &str| json!({"key": key, "label": label, "value": value});
    json!({
        "version": VERSION,
        "name": name,
        "logoBase64": base64::engine::general_purpose::STANDARD.encode(LOGO_SVG),
        "actions": [{
            "key": ACTION_KEY,
            "label": ACTION_LABEL,
            "iconSvgBase64": base64::engine::general_purpose::STANDARD.encode(LOGO_SVG),
            "metaEndpoint": META_PATH,
            "mappings": [
                mapping(form::FIRST_NAME, "First name", "{{candidate_first_name}}"),
                mapping(form::LAST_NAME, "Surname", "{{candidate_last_name}}"),
                mapping(form::EMAIL, "Email", "{{candidate_email}}"),
                mapping(form::APPLICATION_ID, "Pinpoint application", "{{application_id}}"),
            ],
        }],
        // Assumed: where Stage Actions read the options of a dropdown named by its
        // `singleSelectOptionsListKey` (see docs/api.md, "Pinpoint plugin").
        "lists": [
            {"key": LIST_SITES, "endpoint": format!("{LISTS_PATH}/{LIST_SITES}")},
            {"key": LIST_DEPARTMENTS, "endpoint": format!("{LISTS_PATH}/{LIST_DEPARTMENTS}")},
        ],
        "configurationFormFields": [{
            "key": KEY_FIELD,
            "label": "hirebridge plugin key",
            "description": "The key set as HIREBRIDGE_PLUGIN_KEY (or plugin.key_file) on the hirebridge host",
            "type": "string",
            "required": true,
            "sensitive": true,
            "useAsHttpHeader": KEY_HEADER,
        }],
    })
}

const LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#2b2d42"/><path d="M8 16h16M18 10l6 6-6 6" stroke="#fff" stroke-width="3" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>"##;

/// Whether the request carries the configured key, in the header Pinpoint was told to use
/// (either spelling of its name) or in the body's `configurationValues`. Compared in
/// constant time. No key configured: nothing matches.
fn authorized(settings: &PluginSettings, headers: &HeaderMap, body: Option<&Value>) -> bool {
    let Some(expected) = &settings.key else {
        return false;
    };
    let dashed = KEY_HEADER.replace('_', "-");
    let from_header = [KEY_HEADER, dashed.as_str()]
        .into_iter()
        .find_map(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_body = body.and_then(configuration_key);
    [from_header, from_body]
        .into_iter()
        .flatten()
        .any(|given| same_key(expected, given.trim()))
}

/// The key in `configurationValues`: an object (`{"pluginKey": …}`) or a list of
/// `{key, value}`.
fn configuration_key(body: &Value) -> Option<String> {
    let values = body.get("configurationValues")?;
    form::value_in(values, KEY_FIELD)
}

/// Compares through HMACs of both keys, so the time taken says nothing of how much matched.
fn same_key(expected: &SecretString, given: &str) -> bool {
    let tag = |key: &[u8]| {
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(b"hirebridge plugin key");
        mac
    };
    let wanted = tag(expected.expose_secret().as_bytes())
        .finalize()
        .into_bytes();
    tag(given.as_bytes()).verify_slice(&wanted).is_ok()
}

/// A JSON answer with a status.
fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The body as JSON, or why not.
fn parse_body(body: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("the request body is JSON but not an object".into()),
        Err(e) => {
            tracing::debug!(error = %e, "plugin: a body that is not JSON");
            Err("the request body is not JSON".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(key: &str) -> PluginSettings {
        PluginSettings {
            key: Some(SecretString::from(key.to_owned())),
            name: "n".into(),
            employee_url: "https://app.hibob.com/employee-profile/{id}".into(),
        }
    }

    #[test]
    fn the_key_is_read_from_either_header_spelling_or_the_body() {
        let s = settings("0123456789abcdef0123");
        let mut headers = HeaderMap::new();
        assert!(!authorized(&s, &headers, None));
        headers.insert(
            "x_hirebridge_plugin_key",
            "0123456789abcdef0123".parse().unwrap(),
        );
        assert!(authorized(&s, &headers, None));
        let mut dashed = HeaderMap::new();
        dashed.insert(
            "x-hirebridge-plugin-key",
            "0123456789abcdef0123".parse().unwrap(),
        );
        assert!(authorized(&s, &dashed, None));
        let body =
            json!({"configurationValues": [{"key": "pluginKey", "value": "0123456789abcdef0123"}]});
        assert!(authorized(&s, &HeaderMap::new(), Some(&body)));
        let object = json!({"configurationValues": {"pluginKey": "0123456789abcdef0123"}});
        assert!(authorized(&s, &HeaderMap::new(), Some(&object)));
        let wrong = json!({"configurationValues": {"pluginKey": "0123456789abcdef0124"}});
        assert!(!authorized(&s, &HeaderMap::new(), Some(&wrong)));
        let none = PluginSettings { key: None, ..s };
        assert!(!authorized(&none, &dashed, Some(&body)));
    }

    #[test]
    fn the_description_offers_the_action_and_a_sensitive_key_field() {
        let d = description("HiBob (hirebridge)");
        assert_eq!(d["actions"][0]["key"], ACTION_KEY);
        assert_eq!(d["actions"][0]["metaEndpoint"], META_PATH);
        let field = &d["configurationFormFields"][0];
        assert_eq!(field["sensitive"], true);
        assert_eq!(field["useAsHttpHeader"], KEY_HEADER);
        let keys: Vec<_> = d["actions"][0]["mappings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["key"].as_str().unwrap())
            .collect();
        for k in ["firstName", "lastName", "email", "applicationId"] {
            assert!(keys.contains(&k), "{keys:?}");
        }
    }
}

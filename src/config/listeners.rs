//! The optional listeners: `[webhook]` (Pinpoint's webhooks, `/healthz`, `/metrics`) and
//! `[plugin]` (Pinpoint's "Send to HiBob" action), with the limits a peer of either may cost.
//! A listener reachable from other hosts needs its secret or key, or the operator's say-so.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::file::{RawPlugin, RawWebhook};
use super::secrets::SecretSources;
use super::values::parse_listen;
use super::{ConfigError, invalid, keys};

/// The optional listener for Pinpoint's webhooks, `/healthz` and `/metrics`.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub listen: std::net::SocketAddr,
    /// Pinpoint's webhook signing secret; requests must carry its HMAC when set.
    pub secret: Option<SecretString>,
    /// Accept unsigned webhooks on a non-loopback address (a proxy in front verifies them).
    pub allow_unsigned: bool,
    /// What a peer of the listener may cost: timeouts and a connection budget.
    pub limits: ListenerLimits,
    /// `webhook.metrics_listen`: `/healthz` and `/metrics` on their own address; the webhook
    /// port then serves only the webhook.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// What one peer of a listener may cost, so a stranger who can reach the port cannot hold it:
/// every connection is dropped when it is too slow, and only so many are open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// `webhook.header_timeout`: from a request's first byte to the end of its head.
    pub header_timeout: Duration,
    /// `webhook.body_timeout`: from the end of the head to the end of the body.
    pub body_timeout: Duration,
    /// `webhook.idle_timeout`: a connection with no request under way (a new one, or a
    /// keep-alive after an answer).
    pub idle_timeout: Duration,
    /// `webhook.max_connections`: open connections per listener; beyond it new ones are
    /// closed at once.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            header_timeout: keys::HEADER_TIMEOUT.default,
            body_timeout: keys::BODY_TIMEOUT.default,
            idle_timeout: keys::IDLE_TIMEOUT.default,
            max_connections: keys::MAX_CONNECTIONS.default,
        }
    }
}

impl WebhookConfig {
    /// Whether two configurations listen the same way (the secret may change on a reload;
    /// the socket cannot).
    pub fn same_listener(a: Option<&WebhookConfig>, b: Option<&WebhookConfig>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.listen == b.listen
                    && a.allow_unsigned == b.allow_unsigned
                    && a.limits == b.limits
                    && a.metrics_listen == b.metrics_listen
            }
            _ => false,
        }
    }
}

/// `[plugin]`: Pinpoint's "Send to HiBob" action (the Integration Plugins Framework), served
/// on its own listener.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    pub listen: std::net::SocketAddr,
    /// The shared key Pinpoint's admin enters in the plugin's configuration. Without one the
    /// plugin answers only its description and refuses every form and submit.
    pub key: Option<SecretString>,
    /// The plugin's name as Pinpoint shows it.
    pub name: String,
    /// Where a HiBob employee's profile is (`report.hibob_employee_url`): the link a submit
    /// answers with.
    pub employee_url: String,
    /// The same peer limits as the webhook listener's (`[webhook]`'s, when configured).
    pub limits: ListenerLimits,
}

impl PluginConfig {
    /// Whether two configurations serve the plugin on the same socket (the key and name may
    /// change on a reload).
    pub fn same_listener(a: Option<&PluginConfig>, b: Option<&PluginConfig>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => a.listen == b.listen && a.limits == b.limits,
            _ => false,
        }
    }
}

/// The listener's address and secret. Without a secret anyone who can reach the port could
/// make hirebridge look at an application: harmless on loopback (a local proxy verifies), a
/// decision for the operator anywhere else.
pub(super) fn webhook_config(
    raw: RawWebhook,
    secrets: &SecretSources,
) -> Result<WebhookConfig, ConfigError> {
    let listen = parse_listen("webhook.listen", &raw.listen, "127.0.0.1:8787")?;
    let secret = secrets.secret(
        "PINPOINT_WEBHOOK_SECRET",
        "webhook.secret_file",
        raw.secret_file.as_ref(),
    )?;
    let allow_unsigned = keys::ALLOW_UNSIGNED.read(raw.allow_unsigned);
    if secret.is_none() && !allow_unsigned && !listen.ip().is_loopback() {
        return Err(invalid(
            "webhook.listen",
            format!(
                "{listen} is reachable from other hosts but no signing secret is set: set \
                 PINPOINT_WEBHOOK_SECRET or webhook.secret_file to the webhook's signing secret from \
                 Pinpoint, listen on 127.0.0.1 behind a proxy, or set webhook.allow_unsigned = true"
            ),
        ));
    }
    let limits = listener_limits(&raw)?;
    let metrics_listen = metrics_listen(raw.metrics_listen.as_deref(), listen)?;
    Ok(WebhookConfig {
        listen,
        secret,
        allow_unsigned,
        limits,
        metrics_listen,
    })
}

/// `webhook.metrics_listen`: another address than the webhook's own.
fn metrics_listen(
    text: Option<&str>,
    listen: SocketAddr,
) -> Result<Option<SocketAddr>, ConfigError> {
    let metrics_listen = text
        .map(|text| parse_listen("webhook.metrics_listen", text, "127.0.0.1:9464"))
        .transpose()?;
    if metrics_listen == Some(listen) {
        return Err(invalid(
            "webhook.metrics_listen",
            "is the same address as webhook.listen; choose another port, or leave it out to serve /healthz and /metrics on the webhook port",
        ));
    }
    Ok(metrics_listen)
}

/// The plugin's address, key and name. Without a key anyone who can reach the port could
/// create employees: allowed on loopback only (a local proxy may add the key), as for the
/// webhook's signing secret; and then every form and submit is refused until a key is set.
pub(super) fn plugin_config(
    raw: RawPlugin,
    secrets: &SecretSources,
    employee_url: String,
    limits: ListenerLimits,
) -> Result<PluginConfig, ConfigError> {
    let listen = parse_listen("plugin.listen", &raw.listen, "127.0.0.1:8091")?;
    let key = plugin_key(secrets, &raw)?;
    if key.is_none() && !listen.ip().is_loopback() {
        return Err(invalid(
            "plugin.listen",
            format!(
                "{listen} is reachable from other hosts but no plugin key is set: set \
                 HIREBRIDGE_PLUGIN_KEY or plugin.key_file to the key entered in Pinpoint's plugin \
                 configuration, or listen on 127.0.0.1 behind a proxy"
            ),
        ));
    }
    let name = raw
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| keys::PLUGIN_NAME.default.to_owned());
    Ok(PluginConfig {
        listen,
        key,
        name,
        employee_url,
        limits,
    })
}

/// `HIREBRIDGE_PLUGIN_KEY`, else `plugin.key_file`: long enough not to be guessed.
fn plugin_key(
    secrets: &SecretSources,
    raw: &RawPlugin,
) -> Result<Option<SecretString>, ConfigError> {
    let key = secrets.secret(
        "HIREBRIDGE_PLUGIN_KEY",
        "plugin.key_file",
        raw.key_file.as_ref(),
    )?;
    if let Some(k) = &key
        && k.expose_secret().trim().len() < 16
    {
        return Err(invalid(
            "plugin.key_file",
            "the plugin key is shorter than 16 characters; generate a long random one (e.g. `openssl rand -hex 32`) and enter the same in Pinpoint's plugin configuration",
        ));
    }
    Ok(key)
}

/// `webhook.max_connections` and the timeouts, each defaulting to its key's default.
fn listener_limits(raw: &RawWebhook) -> Result<ListenerLimits, ConfigError> {
    let max_connections = keys::MAX_CONNECTIONS.read(raw.max_connections)?;
    Ok(ListenerLimits {
        header_timeout: keys::HEADER_TIMEOUT.read(raw.header_timeout.as_deref())?,
        body_timeout: keys::BODY_TIMEOUT.read(raw.body_timeout.as_deref())?,
        idle_timeout: keys::IDLE_TIMEOUT.read(raw.idle_timeout.as_deref())?,
        max_connections,
    })
}

//! `[notify]`: who is told when a hire needs a person, and how — email over SMTP, a webhook
//! POST (Slack's `text` or hirebridge's own JSON), or both — which kinds of message, and when
//! the daily digest goes. Owns the section's rules (email needs its three keys together, a
//! section that sends nowhere is refused) and reading its two secrets, the SMTP password and
//! the webhook signing secret. Sends nothing: `crate::notify::channels` does.

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveTime;
use lettre::Address;
use secrecy::SecretString;
use url::Url;

use super::file::RawNotify;
use super::secrets::SecretSources;
use super::{ConfigError, invalid, keys};
use crate::notify::NoticeKind;

/// `[notify]`, validated: at least one of `email` and `webhook`.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub email: Option<EmailConfig>,
    pub webhook: Option<WebhookConfig>,
    /// `notify.on`: the kinds of message sent (`writes_stopped` brings `writes_resumed`).
    pub on: BTreeSet<NoticeKind>,
    /// `notify.digest_at`: when the daily digest goes, in the host's local time.
    pub digest_at: NaiveTime,
}

impl NotifyConfig {
    /// Whether messages of `kind` are sent: those `on` names, `writes_resumed` with
    /// `writes_stopped`, and always `test`.
    pub fn wants(&self, kind: NoticeKind) -> bool {
        match kind {
            NoticeKind::Test => true,
            NoticeKind::WritesResumed => self.on.contains(&NoticeKind::WritesStopped),
            other => self.on.contains(&other),
        }
    }
}

/// One email per message, to every `to`, through one SMTP server.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// `notify.email_to`: at least one.
    pub to: Vec<Address>,
    /// `notify.email_from`.
    pub from: Address,
    /// `notify.smtp`.
    pub smtp: SmtpServer,
    /// `notify.smtp_user`; with it, `password` is set.
    pub user: Option<String>,
    /// `HIREBRIDGE_SMTP_PASSWORD`, else `notify.smtp_password_file`.
    pub password: Option<SecretString>,
}

/// Where the SMTP server is and how the connection is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub security: SmtpSecurity,
    /// A name or an IP address (without brackets).
    pub host: String,
    pub port: u16,
}

impl SmtpServer {
    /// Whether the server is on this host, where a connection without TLS is not on a wire.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// `smtp://`, `smtp+starttls://`, `smtps://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS (a relay on this host or a trusted network).
    Plain,
    /// Plain at first, then STARTTLS, which the server must offer.
    StartTls,
    /// TLS from the first byte ("implicit TLS", port 465).
    Tls,
}

/// A JSON POST to one URL.
#[derive(Clone)]
pub struct WebhookConfig {
    /// `notify.webhook_url`: http(s), without user name or password. A Slack URL's path is
    /// its credential, so `Debug` shows only the scheme and host.
    pub url: Url,
    /// `notify.webhook_format`.
    pub format: WebhookFormat,
    /// `HIREBRIDGE_NOTIFY_SECRET`, else `notify.webhook_secret_file`: with the `json` format,
    /// each body's HMAC-SHA256 is sent in `X-Hirebridge-Signature`.
    pub secret: Option<SecretString>,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &redacted(&self.url))
            .field("format", &self.format)
            .field("secret", &self.secret)
            .finish()
    }
}

/// `https://hooks.slack.com/[redacted]`: where, but not the token a path or query may hold.
pub fn redacted(url: &Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    match url.host_str() {
        Some(host) => format!("{}://{host}{port}/[redacted]", url.scheme()),
        None => "[redacted]".to_owned(),
    }
}

/// What the webhook's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// `{"text": "…"}`, which Slack's, Mattermost's and Teams' incoming webhooks take.
    Slack,
    /// The message as hirebridge's documented JSON object, signed when a secret is set.
    Json,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Slack => "slack",
            WebhookFormat::Json => "json",
        }
    }
}

pub(super) fn notify_config(
    raw: RawNotify,
    secrets: &SecretSources,
) -> Result<NotifyConfig, ConfigError> {
    let email = email_config(&raw, secrets)?;
    let webhook = webhook_config(&raw, secrets)?;
    if email.is_none() && webhook.is_none() {
        return Err(invalid(
            "notify",
            "nothing to send to: set email_to, email_from and smtp (email), or webhook_url, \
             or leave [notify] out to send nothing",
        ));
    }
    Ok(NotifyConfig {
        email,
        webhook,
        on: keys::NOTIFY_ON.read(raw.on.as_deref())?,
        digest_at: keys::NOTIFY_DIGEST_AT.read(raw.digest_at.as_deref())?,
    })
}

/// Email, when any of its three keys is given: then all three must be.
fn email_config(
    raw: &RawNotify,
    secrets: &SecretSources,
) -> Result<Option<EmailConfig>, ConfigError> {
    let (to, from, smtp) = (&raw.email_to, &raw.email_from, &raw.smtp);
    if to.is_none() && from.is_none() && smtp.is_none() {
        if raw.smtp_user.is_some() {
            return Err(invalid(
                "notify.smtp_user",
                "is set but email is not: set email_to, email_from and smtp too, or remove it",
            ));
        }
        return Ok(None);
    }
    let missing = |key: &str| {
        invalid(
            key,
            "is missing: email needs email_to, email_from and smtp together (e.g. \
             smtp = \"smtp+starttls://smtp.example.com:587\")",
        )
    };
    let to = to.as_ref().ok_or_else(|| missing("notify.email_to"))?;
    let from = from.as_ref().ok_or_else(|| missing("notify.email_from"))?;
    let smtp = smtp.as_ref().ok_or_else(|| missing("notify.smtp"))?;
    if to.is_empty() {
        return Err(invalid(
            "notify.email_to",
            "lists no address; write e.g. [\"hr-ops@example.com\"]",
        ));
    }
    let to = to
        .iter()
        .map(|t| keys::NOTIFY_EMAIL_TO.parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let from = keys::NOTIFY_EMAIL_FROM.parse(from)?;
    let smtp = keys::NOTIFY_SMTP.parse(smtp)?;
    let (user, password) = smtp_login(raw, secrets, &smtp)?;
    Ok(Some(EmailConfig {
        to,
        from,
        smtp,
        user,
        password,
    }))
}

/// `smtp_user` and its password, both or neither; never sent unencrypted over a network.
fn smtp_login(
    raw: &RawNotify,
    secrets: &SecretSources,
    smtp: &SmtpServer,
) -> Result<(Option<String>, Option<SecretString>), ConfigError> {
    let user = raw
        .smtp_user
        .as_deref()
        .map(|u| keys::NOTIFY_SMTP_USER.parse(u))
        .transpose()?;
    let password = secrets.secret(
        "HIREBRIDGE_SMTP_PASSWORD",
        "notify.smtp_password_file",
        raw.smtp_password_file.as_ref(),
    )?;
    match (&user, &password) {
        (Some(_), None) => {
            return Err(ConfigError::MissingSecret {
                message: "the SMTP password for notify.smtp_user: set HIREBRIDGE_SMTP_PASSWORD \
                          or notify.smtp_password_file"
                    .into(),
            });
        }
        (None, Some(_)) => {
            return Err(invalid(
                "notify.smtp_user",
                "is missing: an SMTP password is set (HIREBRIDGE_SMTP_PASSWORD or \
                 notify.smtp_password_file) but no user to log in as",
            ));
        }
        _ => {}
    }
    // A password over plain SMTP would cross the network readable by anyone on the path.
    if user.is_some() && smtp.security == SmtpSecurity::Plain && !smtp.is_loopback() {
        return Err(invalid(
            "notify.smtp",
            "smtp:// sends the password unencrypted to another host; use \
             \"smtp+starttls://HOST:587\" or \"smtps://HOST:465\"",
        ));
    }
    Ok((user, password))
}

/// The webhook, when `webhook_url` is given.
fn webhook_config(
    raw: &RawNotify,
    secrets: &SecretSources,
) -> Result<Option<WebhookConfig>, ConfigError> {
    let Some(url) = keys::NOTIFY_WEBHOOK_URL.read(raw.webhook_url.as_deref())? else {
        if raw.webhook_format.is_some() {
            return Err(invalid(
                "notify.webhook_format",
                "is set but webhook_url is not: set webhook_url too, or remove it",
            ));
        }
        return Ok(None);
    };
    let format = keys::NOTIFY_WEBHOOK_FORMAT.read(raw.webhook_format.as_deref())?;
    let secret = secrets.secret(
        "HIREBRIDGE_NOTIFY_SECRET",
        "notify.webhook_secret_file",
        raw.webhook_secret_file.as_ref(),
    )?;
    Ok(Some(WebhookConfig {
        url,
        format,
        secret,
    }))
}

#[cfg(test)]
mod tests;

//! The ways a message leaves hirebridge: an email through an SMTP server (lettre, rustls) and a
//! JSON POST to a webhook. [`Channel::send`] sends one [`Notice`] once and says what the server
//! answered, or what failed, within the deadline it was given.
//!
//! Owns the wire: the SMTP connection (`smtp://` plain, `smtp+starttls://` with STARTTLS
//! required, `smtps://` TLS from the start), the email's headers and parts, the webhook's
//! body and signature. Untrusted text goes only into bodies, made safe by [`super::render`];
//! the headers hold the configuration's addresses and fixed text. Must not retry, pace or
//! remember anything: the outbox's sender does that, and a message is sent by it or by
//! `hirebridge notify test` only. Never shows a secret: not the SMTP password, not the
//! signing secret, not the webhook URL (a Slack URL's path is its credential).

use std::fmt;
use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;

use super::notice::Notice;
use super::render;
use crate::config::SmtpSecurity;
use crate::config::notify::{EmailConfig, NotifyConfig, WebhookConfig, WebhookFormat};
use crate::untrusted;

/// Where messages go: one per configured channel.
#[derive(Debug, Clone)]
pub enum Channel {
    Email(EmailChannel),
    Webhook(WebhookChannel),
}

/// Email to `[notify] email_to` through `[notify] smtp`.
#[derive(Debug, Clone)]
pub struct EmailChannel {
    config: EmailConfig,
    timeout: Duration,
}

/// A POST to `[notify] webhook_url`.
#[derive(Debug, Clone)]
pub struct WebhookChannel {
    config: WebhookConfig,
    timeout: Duration,
}

/// What the server answered to a message it took, in words: the SMTP reply (`250 2.0.0 Ok:
/// queued as …`) or the HTTP status (`HTTP 200 OK`). Its text is the server's, shown with
/// control characters escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub answer: String,
}

impl fmt::Display for Sent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.answer)
    }
}

/// Why a message was not sent. Its text names what failed and quotes the server's answer,
/// never a secret or the webhook's URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server answered, and not with yes (an SMTP 4xx/5xx reply, an HTTP status other
    /// than 2xx). `permanent`: sending the same again will not help (SMTP 5xx, HTTP 4xx other
    /// than 408 and 429).
    #[error("refused: {answer}")]
    Refused { answer: String, permanent: bool },
    /// No conversation: the name did not resolve, the connection or TLS failed or broke.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// No complete answer within the deadline (`[http] request_timeout`).
    #[error("timed out: no complete answer within {}", humantime::format_duration(*.0))]
    TimedOut(Duration),
    /// The message could not be made (never expected: the configuration was checked).
    #[error("not sent: {0}")]
    Unsendable(String),
}

impl SendError {
    /// Whether sending the same message again cannot succeed without a person's change.
    pub fn is_permanent(&self) -> bool {
        match self {
            SendError::Refused { permanent, .. } => *permanent,
            SendError::Unsendable(_) => true,
            SendError::Unreachable(_) | SendError::TimedOut(_) => false,
        }
    }
}

/// Every channel `[notify]` configures (email first), each sending within `timeout`
/// (`[http] request_timeout`), from connecting to the server's last answer.
pub fn channels(config: &NotifyConfig, timeout: Duration) -> Vec<Channel> {
    let email = config
        .email
        .clone()
        .map(|config| Channel::Email(EmailChannel { config, timeout }));
    let webhook = config
        .webhook
        .clone()
        .map(|config| Channel::Webhook(WebhookChannel { config, timeout }));
    email.into_iter().chain(webhook).collect()
}

impl Channel {
    /// `"email"` or `"webhook"`: the channel's name in the ledger, logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Channel::Email(_) => "email",
            Channel::Webhook(_) => "webhook",
        }
    }

    /// Sends `notice` once. Finishes within the channel's deadline whatever the server does.
    pub async fn send(&self, notice: &Notice) -> Result<Sent, SendError> {
        let timeout = match self {
            Channel::Email(email) => email.timeout,
            Channel::Webhook(hook) => hook.timeout,
        };
        let sending = async {
            match self {
                Channel::Email(email) => email.send(notice).await,
                Channel::Webhook(hook) => hook.send(notice).await,
            }
        };
        // lettre's own timeout bounds connecting only; a server that accepts and then says
        // nothing is bounded here.
        tokio::time::timeout(timeout, sending)
            .await
            .unwrap_or(Err(SendError::TimedOut(timeout)))
    }
}

/// A server's text for a person: one line, control characters escaped, cut short.
fn words(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = untrusted::terminal(&line);
    if line.chars().count() <= 300 {
        return line.into_owned();
    }
    let mut shown: String = line.chars().take(300).collect();
    shown.push('…');
    shown
}

// ---- email ---------------------------------------------------------------------------------

/// `Auto-Submitted: auto-generated` (RFC 3834): no vacation reply or bounce loop answers it.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

impl EmailChannel {
    async fn send(&self, notice: &Notice) -> Result<Sent, SendError> {
        let message = email_message(&self.config, notice)?;
        let transport = smtp_transport(&self.config, self.timeout)?;
        match transport.send(message).await {
            Ok(response) => {
                let text: Vec<&str> = response.message().collect();
                Ok(Sent {
                    answer: words(&format!("{} {}", response.code(), text.join(" "))),
                })
            }
            Err(e) => Err(smtp_error(&e, self.timeout)),
        }
    }
}

/// One email to every recipient: the headers hold only the configuration's addresses and the
/// fixed subject; the notice's text is in the two parts of a multipart/alternative body.
pub fn email_message(config: &EmailConfig, notice: &Notice) -> Result<Message, SendError> {
    let mut builder = Message::builder()
        .from(Mailbox::new(
            Some("hirebridge".to_owned()),
            config.from.clone(),
        ))
        .subject(render::subject(notice))
        .message_id(None)
        .header(AutoSubmitted);
    for to in &config.to {
        builder = builder.to(Mailbox::new(None, to.clone()));
    }
    let plain = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(render::plain_text(notice));
    let html = SinglePart::builder()
        .header(ContentType::TEXT_HTML)
        .body(render::html(notice));
    builder
        .multipart(MultiPart::alternative().singlepart(plain).singlepart(html))
        .map_err(|e| SendError::Unsendable(format!("the email could not be made: {e}")))
}

/// A connection per message (no pool: a few messages a day), protected as `smtp` says.
fn smtp_transport(
    config: &EmailConfig,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let host = config.smtp.host.as_str();
    let builder = match config.smtp.security {
        SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|e| SendError::Unsendable(format!("TLS could not be set up: {e}")))?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
            .map_err(|e| SendError::Unsendable(format!("TLS could not be set up: {e}")))?,
    };
    let builder = builder.port(config.smtp.port).timeout(Some(timeout));
    let builder = match (&config.user, &config.password) {
        (Some(user), Some(password)) => builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_owned(),
        )),
        _ => builder,
    };
    Ok(builder.build())
}

/// lettre's error as a [`SendError`]: a reply is a refusal (quoted), anything else unreachable.
/// lettre's text holds the server's reply or the I/O error, never the credentials.
fn smtp_error(e: &lettre::transport::smtp::Error, timeout: Duration) -> SendError {
    if e.is_timeout() {
        SendError::TimedOut(timeout)
    } else if let Some(code) = e.status() {
        let reply = std::error::Error::source(e).map(|s| s.to_string());
        SendError::Refused {
            answer: words(&format!("{code} {}", reply.unwrap_or_default())),
            permanent: e.is_permanent(),
        }
    } else if e.is_client() {
        // The server's offer does not fit (no AUTH mechanism, no STARTTLS): a refusal.
        SendError::Refused {
            answer: words(&e.to_string()),
            permanent: true,
        }
    } else {
        SendError::Unreachable(words(&e.to_string()))
    }
}

// ---- webhook -------------------------------------------------------------------------------

/// At most this much of a webhook's answer is read: enough for Slack's `invalid_token`.
const ANSWER_BYTES: usize = 4096;

impl WebhookChannel {
    async fn send(&self, notice: &Notice) -> Result<Sent, SendError> {
        let body = match self.config.format {
            WebhookFormat::Slack => render::slack_body(notice),
            WebhookFormat::Json => render::json_body(notice),
        };
        let client = reqwest::Client::builder()
            .user_agent(crate::http::USER_AGENT)
            .connect_timeout(self.timeout)
            .timeout(self.timeout)
            // A redirect would carry the names to where the operator never pointed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SendError::Unsendable(words(&e.without_url().to_string())))?;
        let mut request = client
            .post(self.config.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let (WebhookFormat::Json, Some(secret)) = (self.config.format, &self.config.secret) {
            let signature = render::signature(secret.expose_secret().as_bytes(), &body);
            request = request.header("X-Hirebridge-Signature", signature);
        }
        let mut response = request
            .body(body)
            .send()
            .await
            .map_err(|e| http_error(e, self.timeout))?;
        let status = response.status();
        let mut answer = Vec::new();
        while answer.len() < ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(http_error(e, self.timeout)),
            }
        }
        http_answer(status, &answer)
    }
}

/// A 2xx is taken; anything else is refused, with the start of what the server said.
fn http_answer(status: reqwest::StatusCode, body: &[u8]) -> Result<Sent, SendError> {
    let line = format!(
        "HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let line = line.trim_end().to_owned();
    if status.is_success() {
        return Ok(Sent { answer: line });
    }
    let said = crate::http::excerpt(&body[..body.len().min(ANSWER_BYTES)]);
    let hint = if status.is_redirection() {
        " (redirects are not followed: set webhook_url to where it points)"
    } else {
        ""
    };
    let code = status.as_u16();
    Err(SendError::Refused {
        answer: words(&format!("{line}{hint}: {said}")),
        permanent: status.is_client_error() && code != 408 && code != 429,
    })
}

/// reqwest's error without the URL (a Slack URL's path is its credential), with its causes.
fn http_error(e: reqwest::Error, timeout: Duration) -> SendError {
    if e.is_timeout() {
        return SendError::TimedOut(timeout);
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    SendError::Unreachable(words(&text))
}

#[cfg(test)]
mod tests;

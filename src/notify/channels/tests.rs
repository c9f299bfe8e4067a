//! What stays inside the library: the email's headers and envelope, the transports' setup,
//! how answers and errors read. Sending to real servers is in tests/notify_channels.rs.

use std::collections::BTreeSet;

use chrono::NaiveTime;

use super::*;
use crate::config::SmtpServer;
use crate::notify::{NoticeHire, NoticeKind};

fn email(security: SmtpSecurity) -> EmailConfig {
    EmailConfig {
        to: vec![
            "hr-ops@example.com".parse().unwrap(),
            "it@example.com".parse().unwrap(),
        ],
        from: "hirebridge@example.com".parse().unwrap(),
        smtp: SmtpServer {
            security,
            host: "smtp.example.com".into(),
            port: 587,
        },
        user: Some("me".into()),
        password: Some("pw".to_owned().into()),
    }
}

fn notify() -> NotifyConfig {
    NotifyConfig {
        email: Some(email(SmtpSecurity::StartTls)),
        webhook: Some(WebhookConfig {
            url: "https://hooks.slack.com/services/T/B/x".parse().unwrap(),
            format: WebhookFormat::Slack,
            secret: None,
        }),
        on: BTreeSet::new(),
        digest_at: NaiveTime::MIN,
    }
}

fn hostile_notice() -> Notice {
    Notice::about(
        NoticeKind::NeedsAttention,
        chrono::Utc::now(),
        "1 hire needs a person".into(),
        vec![NoticeHire {
            application_id: "1".into(),
            name: "Eve\r\nBcc: everyone@example.com\r\n".into(),
            email: "eve@example.com\r\nTo: all@example.com".into(),
            reason: "r".into(),
            what_to_do: "w".into(),
            pinpoint_url: "https://acme.pinpointhq.com/admin/applications/1".into(),
            hibob_url: None,
        }],
    )
}

#[test]
fn every_configured_channel_is_made_email_first() {
    let made = channels(&notify(), Duration::from_secs(1));
    let names: Vec<&str> = made.iter().map(Channel::name).collect();
    assert_eq!(names, ["email", "webhook"]);
    let mut only_webhook = notify();
    only_webhook.email = None;
    assert_eq!(channels(&only_webhook, Duration::from_secs(1)).len(), 1);
    let shown = format!("{made:?}");
    assert!(
        !shown.contains("\"pw\"") && !shown.contains("/T/B/x"),
        "{shown}"
    );
}

#[test]
fn the_email_headers_and_envelope_hold_only_the_configured_addresses() {
    let message = email_message(&email(SmtpSecurity::Plain), &hostile_notice()).unwrap();
    let recipients: Vec<String> = message
        .envelope()
        .to()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(recipients, ["hr-ops@example.com", "it@example.com"]);
    let raw = String::from_utf8(message.formatted()).unwrap();
    let (head, _) = raw.split_once("\r\n\r\n").unwrap();
    let names: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.starts_with([' ', '\t']))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "From",
            "Subject",
            "Message-ID",
            "Auto-Submitted",
            "To",
            "MIME-Version",
            "Date",
            "Content-Type"
        ],
        "{head}"
    );
    assert!(
        head.contains("To: hr-ops@example.com, it@example.com"),
        "{head}"
    );
    assert!(
        !head.contains("everyone") && !head.contains("all@"),
        "{head}"
    );
    assert!(head.contains("Subject: 1 hire needs a person"), "{head}");
    assert!(raw.contains("multipart/alternative"));
}

#[test]
fn each_security_makes_its_transport_without_a_network() {
    for security in [
        SmtpSecurity::Plain,
        SmtpSecurity::StartTls,
        SmtpSecurity::Tls,
    ] {
        assert!(smtp_transport(&email(security), Duration::from_secs(1)).is_ok());
    }
}

#[test]
fn a_send_can_run_on_any_runtime_thread() {
    fn is_send<T: Send>(_: &T) {}
    let made = channels(&notify(), Duration::from_secs(1));
    let notice = hostile_notice();
    is_send(&made[0].send(&notice));
}

#[test]
fn http_answers_read_as_taken_or_refused_with_the_servers_words() {
    use reqwest::StatusCode;
    let sent = http_answer(StatusCode::OK, b"ok").unwrap();
    assert_eq!(sent.to_string(), "HTTP 200 OK");
    let refused = |code: u16, body: &[u8]| {
        http_answer(StatusCode::from_u16(code).unwrap(), body).unwrap_err()
    };
    let e = refused(500, b"boom\n\x1b[2J");
    assert_eq!(
        e.to_string(),
        "refused: HTTP 500 Internal Server Error: boom \\u{1b}[2J"
    );
    assert!(!e.is_permanent());
    assert!(refused(404, b"no_service").is_permanent());
    assert!(!refused(429, b"").is_permanent());
    assert!(
        refused(301, b"")
            .to_string()
            .contains("redirects are not followed")
    );
    assert!(SendError::Unsendable("x".into()).is_permanent());
    assert_eq!(
        SendError::TimedOut(Duration::from_secs(2)).to_string(),
        "timed out: no complete answer within 2s"
    );
}

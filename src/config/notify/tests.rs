//! `[notify]`'s specification: what a section may say, its defaults, every refusal naming its
//! key, and its two secrets.

use std::path::Path;

use secrecy::ExposeSecret as _;

use super::*;
use crate::config::{Config, SecretSources};

const MINIMAL: &str = r#"
[pinpoint]
base_url = "https://acme.pinpointhq.com/api/v1"
[hibob]
site = "New York (Demo)"
[ledger]
path = "/tmp/ledger.sqlite3"
"#;

const EMAIL: &str = r#"email_to = ["hr-ops@example.com", "it@example.com"]
email_from = "hirebridge@example.com"
smtp = "smtp+starttls://smtp.example.com:587"
"#;

const SLACK: &str = "webhook_url = \"https://hooks.slack.com/services/T1/B2/sEcReTpAtH\"\n";

fn sources(extra: &[(&str, &str)]) -> SecretSources {
    let mut s = SecretSources::default();
    for (k, v) in [
        ("PINPOINT_API_KEY", "pk"),
        ("HIBOB_SERVICE_USER_ID", "SERVICE-1"),
        ("HIBOB_SERVICE_USER_TOKEN", "tok"),
    ]
    .iter()
    .chain(extra)
    {
        s.vars.insert((*k).into(), (*v).into());
    }
    s
}

fn with_notify(lines: &str, extra: &[(&str, &str)]) -> Result<Option<NotifyConfig>, ConfigError> {
    let text = format!("{MINIMAL}[notify]\n{lines}");
    Config::parse(Path::new("config.toml"), &text, &sources(extra)).map(|c| c.notify)
}

fn parsed(lines: &str) -> NotifyConfig {
    with_notify(lines, &[]).unwrap().unwrap()
}

fn refusal(lines: &str, extra: &[(&str, &str)]) -> String {
    with_notify(lines, extra).unwrap_err().to_string()
}

#[test]
fn without_the_section_nothing_is_sent() {
    let c = Config::parse(Path::new("config.toml"), MINIMAL, &sources(&[])).unwrap();
    assert!(c.notify.is_none());
}

#[test]
fn email_takes_its_three_keys_and_the_defaults_fill_the_rest() {
    let n = parsed(EMAIL);
    let email = n.email.unwrap();
    let to: Vec<String> = email.to.iter().map(ToString::to_string).collect();
    assert_eq!(to, ["hr-ops@example.com", "it@example.com"]);
    assert_eq!(email.from.to_string(), "hirebridge@example.com");
    assert_eq!(
        email.smtp,
        SmtpServer {
            security: SmtpSecurity::StartTls,
            host: "smtp.example.com".into(),
            port: 587
        }
    );
    assert!(email.user.is_none() && email.password.is_none());
    assert!(n.webhook.is_none());
    let on: Vec<NoticeKind> = n.on.iter().copied().collect();
    assert_eq!(
        on,
        [
            NoticeKind::NeedsAttention,
            NoticeKind::WritesStopped,
            NoticeKind::WaitingForHrOverdue
        ]
    );
    assert_eq!(n.digest_at, NaiveTime::from_hms_opt(8, 0, 0).unwrap());
}

#[test]
fn each_smtp_scheme_has_its_security_and_default_port() {
    for (url, security, port) in [
        ("smtp://localhost", SmtpSecurity::Plain, 25),
        ("smtp://127.0.0.1:2525", SmtpSecurity::Plain, 2525),
        (
            "smtp+starttls://mail.example.com",
            SmtpSecurity::StartTls,
            587,
        ),
        ("smtps://mail.example.com", SmtpSecurity::Tls, 465),
        ("smtps://[::1]:4650", SmtpSecurity::Tls, 4650),
    ] {
        let lines = EMAIL.replace("smtp+starttls://smtp.example.com:587", url);
        let smtp = parsed(&lines).email.unwrap().smtp;
        assert_eq!((smtp.security, smtp.port), (security, port), "{url}");
    }
    let v6 = parsed(&EMAIL.replace("smtp+starttls://smtp.example.com:587", "smtp://[::1]:25"));
    assert_eq!(v6.email.unwrap().smtp.host, "::1");
}

#[test]
fn the_smtp_password_comes_from_the_environment_or_its_file() {
    let lines = format!("{EMAIL}smtp_user = \"hirebridge@example.com\"\n");
    let n = with_notify(&lines, &[("HIREBRIDGE_SMTP_PASSWORD", "pw-env")])
        .unwrap()
        .unwrap();
    let email = n.email.unwrap();
    assert_eq!(email.user.as_deref(), Some("hirebridge@example.com"));
    assert_eq!(email.password.unwrap().expose_secret(), "pw-env");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smtp_pw"), "pw-file\n").unwrap();
    let mut secrets = sources(&[]);
    secrets.credentials_directory = Some(dir.path().to_owned());
    let text = format!("{MINIMAL}[notify]\n{lines}smtp_password_file = \"smtp_pw\"\n");
    let c = Config::parse(Path::new("config.toml"), &text, &secrets).unwrap();
    let password = c.notify.unwrap().email.unwrap().password.unwrap();
    assert_eq!(password.expose_secret(), "pw-file");
}

#[test]
fn the_webhook_is_slack_by_default_and_json_takes_a_signing_secret() {
    let n = parsed(SLACK);
    let hook = n.webhook.unwrap();
    assert_eq!(hook.format, WebhookFormat::Slack);
    assert!(hook.secret.is_none());
    assert!(n.email.is_none());

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notify_secret"), "s3cret\n").unwrap();
    let mut secrets = sources(&[]);
    secrets.credentials_directory = Some(dir.path().to_owned());
    let text = format!(
        "{MINIMAL}[notify]\n{SLACK}webhook_format = \"json\"\nwebhook_secret_file = \"notify_secret\"\n"
    );
    let c = Config::parse(Path::new("config.toml"), &text, &secrets).unwrap();
    let hook = c.notify.unwrap().webhook.unwrap();
    assert_eq!(hook.format, WebhookFormat::Json);
    assert_eq!(hook.secret.unwrap().expose_secret(), "s3cret");
    let env = with_notify(SLACK, &[("HIREBRIDGE_NOTIFY_SECRET", "from-env")]).unwrap();
    let secret = env.unwrap().webhook.unwrap().secret.unwrap();
    assert_eq!(secret.expose_secret(), "from-env");
}

#[test]
fn on_and_digest_at_are_read_and_wants_follows_them() {
    let n = parsed(&format!(
        "{SLACK}on = [\"daily_digest\", \"writes_stopped\", \"daily_digest\"]\ndigest_at = \"17:45\"\n"
    ));
    assert_eq!(n.on.len(), 2);
    assert!(n.wants(NoticeKind::DailyDigest));
    assert!(n.wants(NoticeKind::WritesStopped));
    assert!(
        n.wants(NoticeKind::WritesResumed),
        "resumed goes with stopped"
    );
    assert!(n.wants(NoticeKind::Test));
    assert!(!n.wants(NoticeKind::NeedsAttention));
    assert_eq!(n.digest_at, NaiveTime::from_hms_opt(17, 45, 0).unwrap());
    let quiet = parsed(&format!("{SLACK}on = []\n"));
    assert!(quiet.on.is_empty() && !quiet.wants(NoticeKind::WritesResumed));
}

#[test]
fn every_malformed_value_is_refused_naming_its_key() {
    let email_with = |from: &str, to: &str| EMAIL.replace(from, to);
    let cases: Vec<(String, &str, &str)> = vec![
        (String::new(), "`notify`", "nothing to send to"),
        (
            "on = [\"needs_attention\"]\n".into(),
            "`notify`",
            "nothing to send to",
        ),
        (
            "email_to = [\"a@example.com\"]\n".into(),
            "notify.email_from",
            "together",
        ),
        (
            email_with("email_from = \"hirebridge@example.com\"\n", ""),
            "notify.email_from",
            "together",
        ),
        (
            email_with("smtp = \"smtp+starttls://smtp.example.com:587\"\n", ""),
            "notify.smtp",
            "together",
        ),
        (
            email_with(
                "email_to = [\"hr-ops@example.com\", \"it@example.com\"]\n",
                "",
            ),
            "notify.email_to",
            "together",
        ),
        (
            email_with("[\"hr-ops@example.com\", \"it@example.com\"]", "[]"),
            "notify.email_to",
            "no address",
        ),
        (
            email_with("it@example.com", "not an address"),
            "notify.email_to",
            "not an email address",
        ),
        (
            email_with("it@example.com", "Eve <eve@example.com>"),
            "notify.email_to",
            "not an email address",
        ),
        (
            email_with(
                "\"it@example.com\"",
                "\"it@example.com\\r\\nBcc: all@example.com\"",
            ),
            "notify.email_to",
            "line break",
        ),
        (
            email_with("hirebridge@example.com", "hirebridge"),
            "notify.email_from",
            "not an email address",
        ),
        (
            email_with(
                "smtp+starttls://smtp.example.com:587",
                "https://smtp.example.com",
            ),
            "notify.smtp",
            "unknown scheme",
        ),
        (
            email_with(
                "smtp+starttls://smtp.example.com:587",
                "smtp.example.com:587",
            ),
            "notify.smtp",
            "smtp",
        ),
        (
            email_with("smtp+starttls://smtp.example.com:587", "not a url"),
            "notify.smtp",
            "not a URL",
        ),
        (
            email_with("smtp+starttls://smtp.example.com:587", "smtps://"),
            "notify.smtp",
            "host",
        ),
        (
            email_with(
                "smtp+starttls://smtp.example.com:587",
                "smtps://u:pw@smtp.example.com",
            ),
            "notify.smtp",
            "user name or password",
        ),
        (
            email_with(
                "smtp+starttls://smtp.example.com:587",
                "smtps://smtp.example.com/x?y",
            ),
            "notify.smtp",
            "a host and a port only",
        ),
        (
            email_with(
                "smtp+starttls://smtp.example.com:587",
                "smtps://smtp.example.com:99999",
            ),
            "notify.smtp",
            "not a URL",
        ),
        (
            format!("{EMAIL}smtp_user = \"\"\n"),
            "notify.smtp_user",
            "non-empty",
        ),
        (
            format!("{SLACK}smtp_user = \"me\"\n"),
            "notify.smtp_user",
            "email is not",
        ),
        (
            "webhook_url = \"ftp://x.example/y\"\n".into(),
            "notify.webhook_url",
            "http:// or https://",
        ),
        (
            "webhook_url = \"hooks dot slack\"\n".into(),
            "notify.webhook_url",
            "not a URL",
        ),
        (
            "webhook_url = \"https://u:p@x.example/y\"\n".into(),
            "notify.webhook_url",
            "user name or password",
        ),
        (
            format!("{SLACK}webhook_format = \"xml\""),
            "notify.webhook_format",
            "\"slack\" or \"json\"",
        ),
        (
            format!("{EMAIL}webhook_format = \"json\""),
            "notify.webhook_format",
            "webhook_url is not",
        ),
        (
            format!("{SLACK}on = [\"everything\"]"),
            "notify.on",
            "\"needs_attention\"",
        ),
        (
            format!("{SLACK}on = [\"test\"]"),
            "notify.on",
            "not a kind of message",
        ),
        (
            format!("{SLACK}on = [\"writes_resumed\"]"),
            "notify.on",
            "not a kind of message",
        ),
        (
            format!("{SLACK}on = \"needs_attention\""),
            "line 10",
            "expected a sequence",
        ),
        (
            format!("{SLACK}digest_at = \"25:00\""),
            "notify.digest_at",
            "HH:MM",
        ),
        (
            format!("{SLACK}digest_at = \"8am\""),
            "notify.digest_at",
            "HH:MM",
        ),
        (
            format!("{SLACK}digest_at = \"08:00:30\""),
            "notify.digest_at",
            "HH:MM",
        ),
        (
            format!("{SLACK}digest_at = \"8:0\""),
            "notify.digest_at",
            "HH:MM",
        ),
        (
            format!("{SLACK}colour = \"blue\""),
            "colour",
            "unknown field",
        ),
    ];
    for (lines, key, says) in cases {
        let e = refusal(&lines, &[]);
        assert!(e.contains(key) && e.contains(says), "{lines:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

#[test]
fn the_smtp_login_is_both_or_neither_and_never_in_clear_over_a_network() {
    let user = format!("{EMAIL}smtp_user = \"me@example.com\"\n");
    let e = refusal(&user, &[]);
    assert!(e.contains("HIREBRIDGE_SMTP_PASSWORD"), "{e}");
    let e = refusal(EMAIL, &[("HIREBRIDGE_SMTP_PASSWORD", "pw")]);
    assert!(e.contains("notify.smtp_user"), "{e}");
    let plain = user.replace(
        "smtp+starttls://smtp.example.com:587",
        "smtp://smtp.example.com",
    );
    let e = refusal(&plain, &[("HIREBRIDGE_SMTP_PASSWORD", "pw")]);
    assert!(
        e.contains("notify.smtp") && e.contains("unencrypted"),
        "{e}"
    );
    // A relay on this host may take a login without TLS: nothing crosses a wire.
    let local = user.replace(
        "smtp+starttls://smtp.example.com:587",
        "smtp://127.0.0.1:2525",
    );
    assert!(with_notify(&local, &[("HIREBRIDGE_SMTP_PASSWORD", "pw")]).is_ok());
    let e = refusal(
        &format!("{EMAIL}smtp_password_file = \"/nonexistent/pw\"\nsmtp_user = \"me\"\n"),
        &[],
    );
    assert!(e.contains("notify.smtp_password_file"), "{e}");
}

#[test]
fn errors_and_debug_never_show_the_secrets_or_the_webhook_path() {
    let lines = format!("{EMAIL}smtp_user = \"me\"\n{SLACK}webhook_format = \"json\"\n");
    let n = with_notify(
        &lines,
        &[
            ("HIREBRIDGE_SMTP_PASSWORD", "pw-Zq81"),
            ("HIREBRIDGE_NOTIFY_SECRET", "sig-Wm27"),
        ],
    )
    .unwrap()
    .unwrap();
    let shown = format!("{n:?}");
    for secret in ["pw-Zq81", "sig-Wm27", "sEcReTpAtH"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("hooks.slack.com"), "{shown}");
    for bad in [
        "https://u:sEcReTpAtH@x.example/",
        "smtps://u:sEcReTpAtH@x.example",
    ] {
        let key = if bad.starts_with("smtps") {
            "smtp"
        } else {
            "webhook_url"
        };
        let lines = format!("{EMAIL}{SLACK}").replace(
            if key == "smtp" {
                "smtp+starttls://smtp.example.com:587"
            } else {
                "https://hooks.slack.com/services/T1/B2/sEcReTpAtH"
            },
            bad,
        );
        let e = refusal(&lines, &[]);
        assert!(!e.contains("sEcReTpAtH") && e.contains(key), "{e}");
    }
}

#[test]
fn notify_test_reads_the_section_without_api_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let text = format!("{MINIMAL}[http]\nrequest_timeout = \"3s\"\n[notify]\n{SLACK}");
    std::fs::write(&path, text).unwrap();
    let (notify, timeout) = Config::notify_of(&path).unwrap();
    assert!(notify.unwrap().webhook.is_some());
    assert_eq!(timeout, std::time::Duration::from_secs(3));
    std::fs::write(&path, MINIMAL).unwrap();
    assert!(Config::notify_of(&path).unwrap().0.is_none());
}

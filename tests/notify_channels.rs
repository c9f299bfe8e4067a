//! The notification channels against real servers on loopback: the tests' own SMTP server
//! (tests/common/smtp.rs) and HTTP receiver (tests/common/receiver.rs). Through the library's
//! channels where a message's content is the point, through the real binary's
//! `hirebridge notify test` where the operator's view is: what arrives, to whom, with which
//! headers; that hostile text adds no header, no recipient and pings nobody; that the json
//! format is signed verifiably; that no secret reaches a server or the screen; that a
//! refusing or hanging server is reported, within the deadline.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::TimeZone as _;
use common::receiver::Receiver;
use common::smtp::{Behaviour, SmtpServer, Stage};
use common::{Settings, World};
use hirebridge::config::{Config, NotifyConfig, SecretSources};
use hirebridge::notify::{Notice, NoticeHire, NoticeKind, SendError, channels};
use hmac::{KeyInit as _, Mac as _};

const SMTP_PASSWORD: &str = "smtp_pw_Hq7Lx2Vb9Kd4";
const NOTIFY_SECRET: &str = "notify_sig_Rt5Wm8Zc3Np6";

fn hire(i: usize, name: &str, email: &str) -> NoticeHire {
    NoticeHire {
        application_id: format!("88638{i:02}"),
        name: name.into(),
        email: email.into(),
        reason: format!("HiBob refused the address of hire {i}."),
        what_to_do: "Correct the email in Pinpoint; the next pass tries again.".into(),
        pinpoint_url: format!("https://acme.pinpointhq.com/admin/applications/88638{i:02}"),
        hibob_url: Some(format!("https://app.hibob.com/employee-profile/{i}")),
    }
}

fn parked(hires: Vec<NoticeHire>) -> Notice {
    Notice::about(
        NoticeKind::NeedsAttention,
        chrono::Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap(),
        format!("{} hires need a person", hires.len()),
        hires,
    )
}

/// The `[notify]` lines, parsed as the daemon parses them, with both secrets set.
fn notify(lines: &str) -> NotifyConfig {
    let text = format!(
        "[pinpoint]\nbase_url = \"https://acme.pinpointhq.com/api/v1\"\n[hibob]\nsite = \"x\"\n\
         [ledger]\npath = \"/tmp/l.sqlite3\"\n[notify]\n{lines}"
    );
    let mut secrets = SecretSources::default();
    for (k, v) in [
        ("PINPOINT_API_KEY", "pk"),
        ("HIBOB_SERVICE_USER_ID", "id"),
        ("HIBOB_SERVICE_USER_TOKEN", "tok"),
        ("HIREBRIDGE_SMTP_PASSWORD", SMTP_PASSWORD),
        ("HIREBRIDGE_NOTIFY_SECRET", NOTIFY_SECRET),
    ] {
        secrets.vars.insert(k.into(), v.into());
    }
    Config::parse(Path::new("config.toml"), &text, &secrets)
        .unwrap()
        .notify
        .unwrap()
}

fn email_lines(smtp: &SmtpServer) -> String {
    format!(
        "email_to = [\"hr-ops@example.com\", \"it-ops@example.com\"]\n\
         email_from = \"hirebridge@example.com\"\nsmtp = \"{}\"\nsmtp_user = \"hirebridge\"\n",
        smtp.url()
    )
}

fn webhook_lines(receiver: &Receiver, format: &str) -> String {
    format!(
        "webhook_url = \"{}\"\nwebhook_format = \"{format}\"\n",
        receiver.url("/hooks/T000/B000/path-token")
    )
}

async fn send_all(config: &NotifyConfig, notice: &Notice) -> Vec<Result<String, SendError>> {
    let mut answers = Vec::new();
    for channel in channels(config, Duration::from_secs(10)) {
        answers.push(channel.send(notice).await.map(|s| s.to_string()));
    }
    answers
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        SMTP_PASSWORD,
        NOTIFY_SECRET,
        "path-token",
        hirebridge::sim::PINPOINT_API_KEY,
        hirebridge::sim::HIBOB_SERVICE_USER_TOKEN,
    ] {
        assert!(!text.contains(secret), "{what} shows {secret:?}:\n{text}");
    }
}

#[tokio::test]
async fn one_email_reaches_every_recipient_with_the_subject_and_both_parts() {
    let smtp = SmtpServer::start(Behaviour::Accept);
    let hires: Vec<NoticeHire> = (0..25)
        .map(|i| {
            hire(
                i,
                &format!("Zoë Ødegård {i}"),
                &format!("zoe{i}@example.com"),
            )
        })
        .collect();
    let answers = send_all(&notify(&email_lines(&smtp)), &parked(hires)).await;
    let answer = answers[0].as_ref().unwrap();
    assert!(
        answer.starts_with("250 2.0.0 Ok: queued as TEST1"),
        "{answer}"
    );

    let received = smtp.received();
    assert_eq!(received.len(), 1, "one email for the whole pass");
    let email = &received[0];
    assert_eq!(email.from, "hirebridge@example.com");
    assert_eq!(email.to, ["hr-ops@example.com", "it-ops@example.com"]);
    assert_eq!(
        smtp.logins(),
        [("hirebridge".to_owned(), SMTP_PASSWORD.to_owned())],
        "the password is used to log in, and only there"
    );
    assert_eq!(email.header("Subject").unwrap(), "25 hires need a person");
    assert_eq!(
        email.header("To").unwrap(),
        "hr-ops@example.com, it-ops@example.com"
    );
    assert!(
        email
            .header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    assert_eq!(email.header("Auto-Submitted").unwrap(), "auto-generated");

    let plain = email.part("text/plain");
    let html = email.part("text/html");
    for i in 0..20 {
        assert!(
            plain.contains(&format!("Zoë Ødegård {i} <zoe{i}@example.com>")),
            "{plain}"
        );
        assert!(plain.contains(&format!("Why: HiBob refused the address of hire {i}.")));
        assert!(plain.contains(&format!(
            "Pinpoint: https://acme.pinpointhq.com/admin/applications/88638{i:02}"
        )));
        assert!(plain.contains(&format!(
            "HiBob: https://app.hibob.com/employee-profile/{i}\n"
        )));
        assert!(
            html.contains(&format!(
                "<strong>Zoë Ødegård {i}</strong> &lt;zoe{i}@example.com&gt;"
            )),
            "{html}"
        );
        assert!(html.contains(&format!(
            "<a href=\"https://app.hibob.com/employee-profile/{i}\">HiBob</a>"
        )));
    }
    assert!(
        plain.contains("What to do: Correct the email in Pinpoint; the next pass tries again.")
    );
    assert!(!plain.contains("Zoë Ødegård 20"), "the first 20 only");
    assert!(plain.contains("… and 5 more") && html.contains("… and 5 more"));
    assert_no_secret("the email", &email.raw());
}

#[tokio::test]
async fn a_hostile_name_adds_no_header_and_no_recipient() {
    let smtp = SmtpServer::start(Behaviour::Accept);
    let hostile = [
        hire(1, "Eve\r\nBcc: everyone@example.com", "eve@example.com"),
        hire(
            2,
            "Eve\nCc: all@example.com\n\nforged body",
            "eve@example.com\r\nTo: x@example.com",
        ),
        hire(
            3,
            "Mallory\r\n.\r\nMAIL FROM:<x@example.com>",
            "m@example.com",
        ),
        hire(4, "=?utf-8?q?Bcc=3A_x=40example=2Ecom?=", "q@example.com"),
    ];
    let notice = parked(hostile.to_vec());
    send_all(&notify(&email_lines(&smtp)), &notice).await[0]
        .as_ref()
        .unwrap();
    let received = smtp.received();
    assert_eq!(received.len(), 1, "one message, not a second smuggled one");
    let email = &received[0];
    assert_eq!(email.to, ["hr-ops@example.com", "it-ops@example.com"]);
    let names: Vec<String> = email.headers().into_iter().map(|(n, _)| n).collect();
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
        "{}",
        email.head()
    );
    let head = email.head();
    for planted in ["everyone@", "all@", "x@example.com", "Eve", "Mallory"] {
        assert!(!head.contains(planted), "{planted} in the headers:\n{head}");
    }
    // No line of the raw message is a planted header, nor a lone dot.
    for line in email.raw().split("\r\n") {
        for header in ["Bcc:", "Cc:", "To: x@", "MAIL FROM"] {
            assert!(!line.starts_with(header), "{line:?}");
        }
    }
    let plain = email.part("text/plain");
    assert!(
        plain.contains("1. Eve\\u{d}\\u{a}Bcc: everyone@example.com <eve@example.com>"),
        "{plain}"
    );
    assert!(
        plain.contains(
            "3. Mallory\\u{d}\\u{a}.\\u{d}\\u{a}MAIL FROM:<x@example.com> <m@example.com>"
        ),
        "{plain}"
    );
}

#[tokio::test]
async fn the_slack_format_pings_nobody_and_keeps_its_own_links() {
    let receiver = Receiver::start(200);
    let names = [
        "<!channel> Eve",
        "<!here|here> <!everyone> <@U024BE7LH> <#C024BE7LR>",
        "@channel @here @everyone",
        "<https://evil.example|Open in HiBob>",
        "[Open in HiBob](https://evil.example)",
    ];
    let hires = names
        .iter()
        .enumerate()
        .map(|(i, n)| hire(i, n, "eve@example.com"))
        .collect();
    let answers = send_all(&notify(&webhook_lines(&receiver, "slack")), &parked(hires)).await;
    assert_eq!(answers[0].as_ref().unwrap(), "HTTP 200 OK");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/T000/B000/path-token");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("x-hirebridge-signature"),
        None,
        "slack is not signed"
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let text = body["text"].as_str().unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "just `text`");
    assert!(
        !text.contains("<!") && !text.contains("<@") && !text.contains("<#"),
        "{text}"
    );
    for mention in ["@channel", "@here", "@everyone"] {
        assert!(!text.contains(mention), "{text}");
    }
    assert!(
        !text.contains("<https://evil") && !text.contains("](https://evil"),
        "{text}"
    );
    assert!(
        text.contains("&lt;!channel&gt; Eve"),
        "shown, inert: {text}"
    );
    assert!(text.contains("<https://acme.pinpointhq.com/admin/applications/8863800|Pinpoint>"));
    assert_eq!(text.matches("|HiBob>").count(), names.len());
}

#[tokio::test]
async fn the_json_format_is_signed_verifiably_and_never_holds_the_secret() {
    let receiver = Receiver::start(204);
    let notice = parked(vec![hire(1, "Ada <!channel>", "ada@example.com")]);
    let answers = send_all(&notify(&webhook_lines(&receiver, "json")), &notice).await;
    assert_eq!(answers[0].as_ref().unwrap(), "HTTP 204 No Content");
    let request = &receiver.requests()[0];
    let signature = request.header("x-hirebridge-signature").unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(NOTIFY_SECRET.as_bytes()).unwrap();
    mac.update(&request.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(signature, expected, "the HMAC of the exact body");
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["version"], 1);
    assert_eq!(body["kind"], "needs_attention");
    assert_eq!(body["title"], "1 hires need a person");
    assert_eq!(
        body["hires"][0]["name"], "Ada <!channel>",
        "the data, exact"
    );
    assert_eq!(body["more"], 0);
    assert_no_secret("the webhook request", &request.headers_and_body());
}

#[tokio::test]
async fn unreachable_refusing_and_hanging_servers_each_say_what_failed_within_the_deadline() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refusing = SmtpServer::start(Behaviour::Refuse(Stage::Rcpt));
    let hanging = Receiver::hanging();
    let lines = format!(
        "email_to = [\"a@example.com\"]\nemail_from = \"b@example.com\"\nsmtp = \"{}\"\nsmtp_user = \"u\"\n{}",
        refusing.url(),
        webhook_lines(&hanging, "slack")
    );
    let config = notify(&lines);
    let notice = parked(vec![hire(1, "Ada", "ada@example.com")]);
    let made = channels(&config, Duration::from_secs(1));
    let e = made[0].send(&notice).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "refused: 554 5.7.1 recipient refused by test"
    );
    assert!(e.is_permanent());
    let started = Instant::now();
    let e = made[1].send(&notice).await.unwrap_err();
    assert!(matches!(e, SendError::TimedOut(_)), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let gone = notify(&format!(
        "email_to = [\"a@example.com\"]\nemail_from = \"b@example.com\"\nsmtp = \"smtp://{closed}\"\nsmtp_user = \"u\"\n"
    ));
    let e = channels(&gone, Duration::from_secs(5))[0]
        .send(&notice)
        .await
        .unwrap_err();
    assert!(matches!(e, SendError::Unreachable(_)), "{e}");
    assert!(!e.is_permanent());
}

// ---- `hirebridge notify test` ----------------------------------------------------------------

fn world_with(notify: &str, request_timeout: &'static str) -> World {
    let mut world = World::with(
        common::one_hire(),
        Settings {
            request_timeout,
            extra: format!("[notify]\n{notify}"),
            ..Settings::default()
        },
    );
    world.set_env("HIREBRIDGE_SMTP_PASSWORD", SMTP_PASSWORD);
    world.set_env("HIREBRIDGE_NOTIFY_SECRET", NOTIFY_SECRET);
    world
}

#[test]
fn notify_test_sends_to_each_channel_and_says_what_each_server_answered() {
    let smtp = SmtpServer::start(Behaviour::Accept);
    let receiver = Receiver::start(200);
    let world = world_with(
        &format!("{}{}", email_lines(&smtp), webhook_lines(&receiver, "json")),
        "10s",
    );
    let run = world.hirebridge(&["notify", "test"]);
    assert_eq!(run.code(), 0, "{}", run.all());
    let out = run.stdout();
    assert!(
        out.contains(&format!(
            "email (to hr-ops@example.com, it-ops@example.com via 127.0.0.1:{}): sent; the server answered: 250 2.0.0 Ok: queued as TEST1",
            smtp.addr.port()
        )),
        "{out}"
    );
    assert!(
        out.contains(
            &format!(
                "webhook (json format, to http://127.0.0.1:{}/[redacted]): sent; the server answered: HTTP 200 OK",
                receiver.addr.port()
            )
        ),
        "{out}"
    );
    assert_no_secret("notify test's output", &run.all());

    let email = &smtp.received()[0];
    assert_eq!(
        email.header("Subject").unwrap(),
        "hirebridge test message: notifications reach this channel"
    );
    assert!(
        email
            .part("text/plain")
            .contains("Sent by `hirebridge notify test`")
    );
    assert_no_secret("the test email", &email.raw());
    let request = &receiver.requests()[0];
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["kind"], "test");
    assert_no_secret("the test webhook", &request.headers_and_body());
}

#[test]
fn notify_test_reports_a_refusing_smtp_server_and_a_500_and_exits_1() {
    let smtp = SmtpServer::start(Behaviour::Refuse(Stage::Mail));
    let receiver = Receiver::start(500);
    let world = world_with(
        &format!(
            "{}{}",
            email_lines(&smtp),
            webhook_lines(&receiver, "slack")
        ),
        "10s",
    );
    let run = world.hirebridge(&["notify", "test"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    let out = run.stdout();
    assert!(
        out.contains("): not sent: refused: 554 5.7.1 sender refused by test"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "webhook (slack format, to http://127.0.0.1:{}/[redacted]): not sent: refused: HTTP 500 Internal Server Error: boom",
            receiver.addr.port()
        )),
        "{out}"
    );
    assert!(smtp.received().is_empty());
    assert_eq!(receiver.requests().len(), 1, "sent once, not retried");
    assert_no_secret("notify test's output", &run.all());
}

#[test]
fn a_hanging_smtp_server_times_out_instead_of_hanging_the_command() {
    let smtp = SmtpServer::start(Behaviour::Hang);
    let receiver = Receiver::start(200);
    let world = world_with(
        &format!(
            "{}{}",
            email_lines(&smtp),
            webhook_lines(&receiver, "slack")
        ),
        "2s",
    );
    let started = Instant::now();
    let run = world.hirebridge(&["notify", "test"]);
    let took = started.elapsed();
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let out = run.stdout();
    assert!(
        out.contains("): not sent: timed out: no complete answer within 2s"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "webhook (slack format, to http://127.0.0.1:{}/[redacted]): sent",
            receiver.addr.port()
        )),
        "{out}"
    );
}

#[test]
fn notify_test_without_a_notify_section_says_what_to_add() {
    let world = World::new(common::one_hire());
    let run = world.hirebridge(&["notify", "test"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("no [notify] section in"),
        "{}",
        run.all()
    );
    assert!(run.stderr().contains("webhook_url"), "{}", run.all());
}

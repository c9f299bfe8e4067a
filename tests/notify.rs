//! Notifications end to end, with the real binary, the simulator, and real servers on
//! loopback (the tests' own SMTP server and HTTP receiver): one message per pass listing the
//! hires that entered a state needing a person, never repeated while they stay there; writes
//! stopping and resuming announced once each; a message recorded in the ledger's outbox
//! before it is sent, so a server that refuses or hangs loses nothing and holds up no pass.

mod common;

use std::time::{Duration, Instant};

use common::receiver::Receiver;
use common::smtp::{Behaviour, SmtpServer, Stage};
use common::{Settings, World, new_hire, one_hire};
use hirebridge::ledger::HireStatus;
use hirebridge::sim::{Endpoint, Fault, FaultRule, Scenario, SimApplication};

/// `[notify]` lines for an SMTP server and a Slack-format webhook receiver.
fn notify_lines(smtp: &str, hook: &str) -> String {
    format!(
        "[notify]\nemail_to = [\"hr-ops@example.com\"]\nemail_from = \"hirebridge@example.com\"\nsmtp = \"{smtp}\"\nwebhook_url = \"{hook}\"\n"
    )
}

fn world(scenario: Scenario, smtp: &SmtpServer, hook: &Receiver) -> World {
    World::with(
        scenario,
        Settings {
            extra: notify_lines(&smtp.url(), &hook.url("/hook")),
            request_timeout: "3s",
            ..Settings::default()
        },
    )
}

/// HiBob refuses the creates of these addresses: their hires are parked.
fn refuse_creates(world: &World, emails: &[&str]) {
    for email in emails {
        world
            .sim
            .inject(FaultRule::new(Endpoint::CreatePerson, Fault::Status(400)).matching(*email));
    }
}

fn three_new_hires() -> Scenario {
    one_hire()
        .with_application(new_hire(1002))
        .with_application(new_hire(1003))
}

fn email_text(smtp: &SmtpServer, n: usize) -> String {
    String::from_utf8_lossy(&smtp.received()[n].data).into_owned()
}

#[test]
fn parked_hires_are_announced_once_in_one_email_and_one_webhook_and_a_new_one_again() {
    let smtp = SmtpServer::start(Behaviour::Accept);
    let hook = Receiver::start(200);
    let world = world(three_new_hires(), &smtp, &hook);
    refuse_creates(&world, &["hire1002@example.com", "hire1003@example.com"]);
    world.sync();
    assert_eq!(world.entry("1002").status, HireStatus::NeedsAttention);
    assert_eq!(smtp.received().len(), 1, "one email for the pass");
    assert_eq!(hook.requests().len(), 1, "one webhook for the pass");
    let mail = email_text(&smtp, 0);
    assert!(mail.contains("1002") && mail.contains("1003"), "{mail}");
    assert!(mail.contains("hirebridge retry"), "what to do: {mail}");
    let slack = String::from_utf8_lossy(&hook.requests()[0].body).into_owned();
    assert!(slack.contains("1002") && slack.contains("1003"), "{slack}");

    // Still parked: the next pass says nothing.
    world.sync();
    assert_eq!((smtp.received().len(), hook.requests().len()), (1, 1));

    // A new hire is parked: one more message, about it alone.
    world.sim.add_application(new_hire(1004));
    refuse_creates(&world, &["hire1004@example.com"]);
    world.sync();
    assert_eq!((smtp.received().len(), hook.requests().len()), (2, 2));
    let second = email_text(&smtp, 1);
    assert!(
        second.contains("1004") && !second.contains("1002"),
        "{second}"
    );
    let history = world.hirebridge(&["history", "1004"]);
    assert!(
        history.stdout().contains("notification"),
        "{}",
        history.all()
    );
    assert!(
        history.stdout().contains("sent by email"),
        "{}",
        history.all()
    );
    let status = world.hirebridge(&["status"]);
    assert!(status.stdout().contains("notify"), "{}", status.all());
}

#[test]
fn writes_stopping_and_resuming_are_announced_once_each() {
    let smtp = SmtpServer::start(Behaviour::Accept);
    let hook = Receiver::start(200);
    let mut world = world(one_hire(), &smtp, &hook);
    world.set_env("HIBOB_SERVICE_USER_TOKEN", "not-the-token-0000");
    for _ in 0..2 {
        world.sync();
    }
    assert_eq!(
        smtp.received().len(),
        1,
        "stopped: one message, not one per pass"
    );
    assert!(
        email_text(&smtp, 0).contains("stopped writing"),
        "{}",
        email_text(&smtp, 0)
    );
    assert!(!email_text(&smtp, 0).contains("not-the-token-0000"));
    world.set_env(
        "HIBOB_SERVICE_USER_TOKEN",
        hirebridge::sim::HIBOB_SERVICE_USER_TOKEN,
    );
    world.hirebridge(&["retry", "--all-failed"]);
    for _ in 0..2 {
        world.sync().expect(0);
    }
    assert_eq!(smtp.received().len(), 2, "resumed: one message");
    assert!(
        email_text(&smtp, 1).contains("again"),
        "{}",
        email_text(&smtp, 1)
    );
    assert_eq!(hook.requests().len(), 2);
}

#[test]
fn a_refusing_server_loses_nothing_and_the_message_goes_once_it_is_back() {
    let refusing = SmtpServer::start(Behaviour::Refuse(Stage::Data));
    let hook = Receiver::start(500);
    let world = world(three_new_hires(), &refusing, &hook);
    refuse_creates(&world, &["hire1002@example.com"]);
    world.sync().expect(3);
    assert!(refusing.received().is_empty());
    let status = world.hirebridge(&["status"]);
    assert!(
        status.stdout().contains("waiting to be sent"),
        "{}",
        status.all()
    );
    // Both servers back (the config points at a working SMTP server now).
    let smtp = SmtpServer::start(Behaviour::Accept);
    hook.set_status(200);
    world.write_config(&Settings {
        extra: notify_lines(&smtp.url(), &hook.url("/hook")),
        request_timeout: "3s",
        retry_initial: "0s",
        ..Settings::default()
    });
    // The failed message waits out its backoff (30 s): the outbox is read by the ledger's
    // clock, so the test moves its due time instead of waiting.
    make_outbox_due(&world);
    world.sync();
    assert_eq!(smtp.received().len(), 1, "sent, once");
    assert!(email_text(&smtp, 0).contains("1002"));
    make_outbox_due(&world);
    world.sync();
    assert_eq!(smtp.received().len(), 1, "and never again");
}

/// Every pending message due now (as if its backoff had passed).
fn make_outbox_due(world: &World) {
    let conn = rusqlite::Connection::open(&world.ledger_path).unwrap();
    conn.execute(
        "UPDATE notifications SET next_attempt_at = 0 WHERE state = 'pending'",
        [],
    )
    .unwrap();
}

#[test]
fn a_hanging_smtp_server_holds_up_no_pass_of_the_daemon() {
    let hanging = SmtpServer::start(Behaviour::Hang);
    let hook = Receiver::start(200);
    let world = World::with(
        three_new_hires(),
        Settings {
            extra: notify_lines(&hanging.url(), &hook.url("/hook")),
            request_timeout: "20s",
            every: "1s",
            ..Settings::default()
        },
    );
    refuse_creates(&world, &["hire1002@example.com"]);
    let started = Instant::now();
    let mut daemon = world.spawn_daemon();
    assert!(
        common::wait_for(Duration::from_secs(30), || world.is_done("1001")
            && world.is_done("1003")),
        "the passes go on"
    );
    // Later passes keep running while the email hangs (its deadline is 20 s).
    world.sim.add_application(new_hire(1005));
    assert!(
        common::wait_for(Duration::from_secs(10), || world.is_done("1005")),
        "a hire added later is done by a later pass"
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "passes never waited for the hanging server: {took:?}"
    );
    assert!(
        common::wait_for(Duration::from_secs(10), || !hook.requests().is_empty()),
        "the webhook went meanwhile"
    );
    common::signal("TERM", &daemon);
    assert_eq!(
        common::exit_code_within(&mut daemon, Duration::from_secs(30)),
        0
    );
    let status = world.hirebridge(&["status", "--format", "json"]);
    let view: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    assert!(
        view["notifications"]["pending"].as_u64().unwrap_or(0) >= 1,
        "the email waits in the outbox: {view:#}"
    );
}

#[test]
fn a_hostile_name_adds_no_header_no_recipient_and_pings_nobody() {
    let smtp = SmtpServer::start(Behaviour::Accept);
    let hook = Receiver::start(200);
    let eve = SimApplication::hired(
        "1001",
        "Eve\r\nBcc: everyone@example.net\r\n",
        "<!channel> @here",
        "eve@example.com",
        "1",
    );
    let scenario = Scenario::empty()
        .with_job("1", "Engineer", hirebridge::sim::Visibility::External)
        .with_application(eve);
    let world = world(scenario, &smtp, &hook);
    refuse_creates(&world, &["eve@example.com"]);
    world.sync();
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, ["hr-ops@example.com"], "no recipient added");
    let headers: Vec<String> = received[0]
        .headers()
        .into_iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    assert!(!headers.contains(&"bcc".to_owned()), "{headers:?}");
    let slack = String::from_utf8_lossy(&hook.requests()[0].body).into_owned();
    assert!(!slack.contains("<!channel>"), "{slack}");
    assert!(!slack.contains("@here"), "{slack}");
}

#[test]
fn a_crash_around_a_send_sends_that_message_at_most_twice_and_never_loses_it() {
    use std::os::unix::process::ExitStatusExt as _;
    for (point, received_at_crash) in [("notify.send.before", 0), ("notify.send.after", 1)] {
        let smtp = SmtpServer::start(Behaviour::Accept);
        let hook = Receiver::start(200);
        let world = world(three_new_hires(), &smtp, &hook);
        refuse_creates(&world, &["hire1002@example.com"]);
        let crashed = world
            .command(&["sync"])
            .env(hirebridge::crashpoint::ENV, point)
            .output()
            .unwrap();
        assert_eq!(crashed.status.signal(), Some(6), "{point}");
        let at_crash = smtp.received().len() + hook.requests().len();
        assert_eq!(at_crash, received_at_crash, "{point}");
        for _ in 0..2 {
            world.sync();
        }
        // Each channel had the message once; the one in flight at the crash at most twice.
        let (mails, hooks) = (smtp.received().len(), hook.requests().len());
        assert!(
            (1..=2).contains(&mails) && (1..=2).contains(&hooks),
            "{point}: {mails} {hooks}"
        );
        assert!(
            mails + hooks <= 3,
            "{point}: only the message in flight goes twice"
        );
        assert!(email_text(&smtp, 0).contains("1002"), "{point}");
    }
}

#[test]
fn a_message_failing_for_a_day_is_dropped_and_counted() {
    let refusing = SmtpServer::start(Behaviour::Refuse(Stage::Mail));
    let hook = Receiver::start(503);
    let world = world(three_new_hires(), &refusing, &hook);
    refuse_creates(&world, &["hire1002@example.com"]);
    world.sync();
    // A day later, still refused.
    let conn = rusqlite::Connection::open(&world.ledger_path).unwrap();
    conn.execute(
        "UPDATE notifications SET next_attempt_at = 0, created_at = created_at - 90000000",
        [],
    )
    .unwrap();
    world.sync();
    let status = world.hirebridge(&["status", "--format", "json"]);
    let view: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    assert_eq!(view["notifications"]["dropped"], 2, "{view:#}");
    assert_eq!(view["notifications"]["pending"], 0, "{view:#}");
    let history = world.hirebridge(&["history", "1002"]);
    assert!(history.stdout().contains("dropped"), "{}", history.all());
}

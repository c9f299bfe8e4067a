//! The webhook listener of `hirebridge run`, played by the test as Pinpoint and as a
//! monitoring system: what each delivery is answered, what reaches the simulated APIs, that
//! nudges are exactly-once however many arrive and whatever the pass does meanwhile, and
//! `/healthz` and `/metrics`.

mod common;

use std::time::Duration;

use common::{
    EVENTUALLY, Listening, NotifySocket, Settings, World, has_line, hired_event, http, one_hire,
    wait_for,
};
use hirebridge::sim::{Endpoint, Fault, FaultRule, Scenario, SimApplication, Stage, Visibility};

const SECRET: &str = "whsec-test-signing-secret";

/// A signed daemon, polling hourly, whose first pass has brought Ada (1001) to done.
fn settled_daemon() -> Listening {
    let daemon = Listening::start(one_hire(), polls_once(), Some(SECRET));
    assert!(
        wait_for(EVENTUALLY, || daemon.world.is_done("1001")),
        "the first pass settles"
    );
    daemon
}

/// Polls once at startup, then not for an hour: anything that happens later is a nudge's.
fn polls_once() -> Settings {
    Settings {
        every: "1h",
        ..Settings::default()
    }
}

use common::new_hire;

#[test]
fn each_kind_of_bad_delivery_gets_its_status_and_reaches_no_api() {
    let mut daemon = settled_daemon();
    daemon.world.sim.reset_counters();
    let event = hired_event(1001);
    let json = ("Content-Type", "application/json");

    let unsigned = daemon.post(&[json], &event);
    assert_eq!(unsigned.status, 401, "{unsigned:?}");
    let forged_signature = hirebridge::webhook::sign("not-the-secret", &event);
    let forged = daemon.post(&[json, ("PINPOINT-HMAC-SHA256", &forged_signature)], &event);
    assert_eq!(forged.status, 401, "{forged:?}");
    assert!(
        !forged.body.contains(SECRET),
        "the secret never appears in an answer"
    );
    // A valid signature of another body does not sign this one.
    let other_body = hirebridge::webhook::sign(SECRET, &hired_event(1002));
    let replayed_signature = daemon.post(&[json, ("PINPOINT-HMAC-SHA256", &other_body)], &event);
    assert_eq!(replayed_signature.status, 401);

    let oversized = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(daemon.deliver(&oversized).status, 413);

    let malformed = daemon.deliver(b"{\"event\": \"application_hired\", ");
    assert_eq!(malformed.status, 400, "{malformed:?}");
    assert!(
        malformed.json()["error"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );
    let without_id = daemon.deliver(br#"{"event":"application_hired","data":{"job":{"id":1}}}"#);
    assert_eq!(without_id.status, 400);
    assert!(
        without_id.json()["error"]
            .as_str()
            .unwrap()
            .contains("data.application.id")
    );

    let other_event = daemon.deliver(
        br#"{"event":"application_created","triggeredAt":1614687278,"data":{"application":{"id":1001}}}"#,
    );
    assert_eq!(other_event.status, 202);
    assert_eq!(other_event.json()["status"], "ignored");

    let wrong_method = http(daemon.addr, "GET", "/webhooks/pinpoint", &[], b"").unwrap();
    assert_eq!(wrong_method.status, 405);
    let put = http(daemon.addr, "PUT", "/webhooks/pinpoint", &[json], &event).unwrap();
    assert_eq!(put.status, 405);

    // Only now a valid delivery, signed but sent as text/plain (Pinpoint does not document its
    // Content-Type; once the signature holds, the type is no reason to refuse). The hire is
    // done, so it is settled from the ledger alone.
    let signature = hirebridge::webhook::sign(SECRET, &event);
    let valid = daemon.post(
        &[
            ("Content-Type", "text/plain"),
            ("PINPOINT-HMAC-SHA256", &signature),
        ],
        &event,
    );
    assert_eq!(valid.status, 202, "{valid:?}");
    assert_eq!(valid.json()["status"], "queued");
    assert!(daemon.wait_for_metric("hirebridge_webhook_nudges_total{outcome=\"settled\"}", 1.0));
    assert_eq!(
        daemon.metric("hirebridge_webhook_nudges_total{outcome=\"done\"}"),
        0.0
    );
    assert!(
        daemon.world.sim.calls().is_empty(),
        "no delivery reached an API: {:#?}",
        daemon.world.sim.calls()
    );
    assert_eq!(
        daemon.metric("hirebridge_webhook_requests_total{result=\"unauthorized\"}"),
        3.0
    );
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn a_nudge_creates_a_new_hire_without_waiting_for_the_next_poll() {
    let mut daemon = settled_daemon();
    let world = &daemon.world;
    world.sim.add_application(new_hire(1002));

    let answer = daemon.deliver(&hired_event(1002));
    assert_eq!(answer.status, 202, "{answer:?}");
    assert!(
        wait_for(EVENTUALLY, || world.is_done("1002")),
        "done long before the next poll (in an hour)"
    );
    assert_eq!(world.employees_with_email("hire1002@example.com"), 1);
    assert_eq!(world.sim.comments("1002").len(), 1);
    assert_eq!(
        world.sim.listing_calls(),
        1,
        "only the startup poll listed; the nudge read one application"
    );
    assert_eq!(world.sim.count(Endpoint::GetApplication), 1);
    // The history says a webhook did it.
    let events = world.events("1002");
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|e| e.trigger.as_deref() == Some("webhook")),
        "{events:#?}"
    );
    // `status` still reports the last poll, not the nudge's one-application pass.
    let status = world.hirebridge(&["status", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    assert_eq!(status["last_pass"]["trigger"], "startup", "{status:#}");
    world.assert_exactly_once();
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn two_hundred_concurrent_nudges_for_fifty_hires_make_fifty_employees_and_one_comment_each() {
    let mut daemon = settled_daemon();
    daemon.world.sim.reset_counters();
    let ids: Vec<u64> = (2001..2051).collect();
    for id in &ids {
        daemon.world.sim.add_application(new_hire(*id));
    }
    std::thread::scope(|scope| {
        for round in 0..4 {
            for chunk in ids.chunks(10) {
                let daemon = &daemon;
                scope.spawn(move || {
                    for id in chunk {
                        let answer = daemon.deliver(&hired_event(*id));
                        assert_eq!(answer.status, 202, "round {round}: {answer:?}");
                    }
                });
            }
        }
    });
    let world = &daemon.world;
    assert!(
        wait_for(EVENTUALLY, || ids
            .iter()
            .all(|id| world.is_done(&id.to_string()))),
        "all fifty done"
    );
    assert_eq!(world.sim.employees().len(), 51);
    for id in &ids {
        assert_eq!(world.sim.comments(&id.to_string()).len(), 1, "{id}");
    }
    world.assert_exactly_once();
    // Coalesced: at most one reconcile and one follow-up per application, and a follow-up
    // after done reads only the ledger.
    assert!(
        world.sim.count(Endpoint::GetApplication) <= 2 * ids.len(),
        "{} reads",
        world.sim.count(Endpoint::GetApplication)
    );
    assert_eq!(world.sim.count(Endpoint::CreatePerson), ids.len());
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn a_webhook_replayed_a_hundred_times_changes_nothing_more() {
    let mut daemon = settled_daemon();
    let world = &daemon.world;
    world.sim.add_application(new_hire(1002));
    assert_eq!(daemon.deliver(&hired_event(1002)).status, 202);
    assert!(wait_for(EVENTUALLY, || world.is_done("1002")));
    let handled = |d: &Listening| -> f64 {
        d.metrics()
            .iter()
            .filter(|(k, _)| k.starts_with("hirebridge_webhook_nudges_total"))
            .map(|(_, v)| v)
            .sum()
    };
    assert!(wait_for(EVENTUALLY, || handled(&daemon) >= 1.0));
    let reads_before = world.sim.count(Endpoint::GetApplication);
    let writes_before = world.sim.write_calls();

    for _ in 0..100 {
        assert_eq!(daemon.deliver(&hired_event(1002)).status, 202);
    }
    let queued = daemon.metric("hirebridge_webhook_requests_total{result=\"queued\"}");
    assert!(
        wait_for(EVENTUALLY, || handled(&daemon) >= queued),
        "every queued replay handled"
    );
    assert!(queued >= 2.0, "replays were queued, not refused");
    assert_eq!(world.sim.write_calls(), writes_before);
    assert_eq!(
        world.sim.count(Endpoint::GetApplication),
        reads_before,
        "a settled hire is answered from the ledger"
    );
    assert_eq!(world.employees_with_email("hire1002@example.com"), 1);
    assert_eq!(world.sim.comments("1002").len(), 1);
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn unknown_and_not_hired_applications_are_dropped_without_a_write() {
    let scenario = one_hire().with_application(SimApplication {
        stage: Stage::Offer,
        ..new_hire(3003)
    });
    let mut daemon = Listening::start(scenario, polls_once(), Some(SECRET));
    assert!(wait_for(EVENTUALLY, || daemon.world.is_done("1001")));
    let world = &daemon.world;
    world.sim.reset_counters();

    assert_eq!(daemon.deliver(&hired_event(999_999)).status, 202);
    assert_eq!(daemon.deliver(&hired_event(3003)).status, 202);
    assert!(daemon.wait_for_metric(
        "hirebridge_webhook_nudges_total{outcome=\"not_found\"}",
        1.0
    ));
    // An application in an Offer stage: nothing in Pinpoint's answer proves it hired.
    assert!(daemon.wait_for_metric("hirebridge_webhook_nudges_total{outcome=\"unproven\"}", 1.0));
    assert_eq!(world.sim.write_calls(), 0);
    assert_eq!(world.sim.count(Endpoint::SearchPeople), 0);
    assert_eq!(
        world.sim.count(Endpoint::GetApplication),
        2,
        "one read each, no retry"
    );
    assert!(world.ledger().entry(&"999999".into()).unwrap().is_none());
    assert!(world.ledger().entry(&"3003".into()).unwrap().is_none());
    assert_eq!(world.employees_with_email("hire3003@example.com"), 0);
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn a_nudge_and_a_pass_on_the_same_hire_make_one_employee_and_one_comment() {
    // Every create takes 5 s, and the schedule polls every second: the startup pass is
    // mid-create when the nudge for the same hire arrives, and later a scheduled pass lists
    // a hire while its nudge is mid-create.
    let mut daemon = Listening::start(
        one_hire(),
        Settings {
            every: "1s",
            ..Settings::default()
        },
        Some(SECRET),
    );
    let world = &daemon.world;
    world.sim.inject(
        FaultRule::new(
            Endpoint::CreatePerson,
            // Long enough that the nudges surely arrive while the pass holds the hire.
            Fault::Delay(Duration::from_secs(5)),
        )
        .times(10),
    );
    // The startup pass may have begun before the fault: add the first raced hire now.
    world.sim.add_application(new_hire(1002));
    assert!(wait_for(EVENTUALLY, || world
        .sim
        .calls()
        .iter()
        .any(|c| c.endpoint == Endpoint::CreatePerson && c.status == 0)));
    for id in [1001, 1002] {
        assert_eq!(daemon.deliver(&hired_event(id)).status, 202);
    }
    world.sim.add_application(new_hire(1003));
    assert_eq!(daemon.deliver(&hired_event(1003)).status, 202);

    assert!(
        wait_for(EVENTUALLY, || ["1001", "1002", "1003"]
            .iter()
            .all(|id| world.is_done(id))),
        "all done"
    );
    for (id, email) in [
        ("1001", "ada@example.com"),
        ("1002", "hire1002@example.com"),
        ("1003", "hire1003@example.com"),
    ] {
        assert_eq!(world.employees_with_email(email), 1, "{id}");
        assert_eq!(world.sim.comments(id).len(), 1, "{id}");
    }
    assert_eq!(
        world.sim.count(Endpoint::CreatePerson),
        3,
        "one create each"
    );
    assert!(
        daemon.metric("hirebridge_webhook_nudges_total{outcome=\"deferred\"}") >= 1.0,
        "a nudge met a hire the pass held: {:#?}",
        daemon.metrics()
    );
    world.assert_exactly_once();
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn the_daemon_refuses_an_unsigned_listener_on_all_interfaces_and_a_taken_port() {
    let mut world = World::with(
        one_hire(),
        Settings {
            webhook_listen: Some("0.0.0.0:0".parse().unwrap()),
            ..Settings::default()
        },
    );
    let notify = NotifySocket::bind();
    notify.attach(&mut world, None);
    let run = world.hirebridge(&["run"]).expect(1);
    assert!(run.stderr().contains("webhook.listen"), "{}", run.all());
    assert!(
        run.stderr().contains("PINPOINT_WEBHOOK_SECRET"),
        "{}",
        run.all()
    );
    assert!(world.sim.calls().is_empty(), "refused before any API call");
    assert!(!world.ledger_path.exists(), "and before the ledger");

    // A port another process holds fails the start, naming the key, before READY=1.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    world.write_config(&Settings {
        webhook_listen: Some(taken.local_addr().unwrap()),
        every: "1h",
        ..Settings::default()
    });
    let run = world.hirebridge(&["run"]).expect(1);
    assert!(run.stderr().contains("webhook.listen"), "{}", run.all());
    assert!(
        !notify.messages().iter().any(|m| has_line(m, "READY=1")),
        "never ready: {:#?}",
        notify.messages()
    );
}

#[test]
fn healthz_is_200_after_a_poll_and_503_once_polls_fail_for_three_intervals() {
    let mut daemon = Listening::start(one_hire(), Settings::default(), Some(SECRET));
    let world = &daemon.world;
    assert!(wait_for(EVENTUALLY, || world.is_done("1001")));
    // The pass records its success just after its last hire: wait for that, not a moment.
    assert!(wait_for(EVENTUALLY, || common::has_polled(daemon.addr)));
    let healthy = daemon.get("/healthz").unwrap();
    assert_eq!(healthy.status, 200, "{healthy:?}");
    let body = healthy.json();
    assert_eq!(body["status"], "ok");
    assert!(body["last_successful_poll"].is_string(), "{body:#}");
    assert_eq!(body["poll_interval_seconds"], 1);
    assert_eq!(body["ledger"]["done"], 1, "{body:#}");

    // Pinpoint's listing fails from now on (every = 1s: stale after 3 s without success).
    world
        .sim
        .inject(FaultRule::new(Endpoint::ListApplications, Fault::Status(500)).times(100_000));
    assert!(
        wait_for(EVENTUALLY, || daemon
            .get("/healthz")
            .is_ok_and(|a| a.status == 503)),
        "stale after three intervals"
    );
    let stale = daemon.get("/healthz").unwrap().json();
    assert_eq!(stale["status"], "stale", "{stale:#}");
    assert_eq!(stale["ledger"]["done"], 1);
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn metrics_parse_as_prometheus_text_and_move_with_the_work() {
    let mut daemon = settled_daemon();
    let world = &daemon.world;
    let listing = "hirebridge_api_requests_total{api=\"pinpoint\",endpoint=\"GET /applications\",status=\"200\"}";
    let creates =
        "hirebridge_api_requests_total{api=\"hibob\",endpoint=\"POST /people\",status=\"200\"}";
    assert!(daemon.wait_for_metric("hirebridge_last_successful_poll_timestamp_seconds", 1.0));
    let before = daemon.metrics();
    // The startup poll's listing page, and the contract check's probes of the listing.
    assert_eq!(
        before[listing],
        world.sim.count_status(Endpoint::ListApplications, 200) as f64,
        "{before:#?}"
    );
    assert_eq!(world.sim.listing_calls(), 1);
    assert_eq!(before[creates], 1.0);
    assert_eq!(before["hirebridge_hires{status=\"done\"}"], 1.0);
    assert_eq!(before["hirebridge_poll_duration_seconds_count"], 1.0);

    world.sim.add_application(new_hire(1002));
    assert_eq!(daemon.deliver(&hired_event(1002)).status, 202);
    assert!(daemon.wait_for_metric("hirebridge_webhook_nudges_total{outcome=\"done\"}", 1.0));
    let after = daemon.metrics();
    assert_eq!(after[creates], 2.0, "{after:#?}");
    assert_eq!(after["hirebridge_hires{status=\"done\"}"], 2.0);
    assert_eq!(
        after["hirebridge_webhook_requests_total{result=\"queued\"}"],
        1.0
    );
    assert_eq!(after[listing], before[listing], "the nudge listed nothing");

    world.sim.inject(FaultRule::new(
        Endpoint::GetApplication,
        Fault::RateLimited {
            retry_after_secs: Some(0),
        },
    ));
    world.sim.add_application(new_hire(1003));
    assert_eq!(daemon.deliver(&hired_event(1003)).status, 202);
    assert!(daemon.wait_for_metric("hirebridge_webhook_nudges_total{outcome=\"done\"}", 2.0));
    let limited =
        "hirebridge_api_rate_limited_total{api=\"pinpoint\",endpoint=\"GET /applications/{id}\"}";
    let retried =
        "hirebridge_api_retries_total{api=\"pinpoint\",endpoint=\"GET /applications/{id}\"}";
    assert_eq!(daemon.metric(limited), 1.0);
    assert_eq!(daemon.metric(retried), 1.0);
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn sigterm_with_the_listener_up_exits_0_and_closes_the_port() {
    let mut daemon = Listening::start(one_hire(), polls_once(), None);
    assert!(wait_for(EVENTUALLY, || daemon.world.is_done("1001")));
    // Loopback without a secret: unsigned deliveries are accepted.
    assert_eq!(daemon.deliver(&hired_event(1001)).status, 202);
    let addr = daemon.addr;
    assert_eq!(daemon.stop(), 0);
    assert!(
        http(addr, "GET", "/healthz", &[], b"").is_err(),
        "the port is closed"
    );
}

#[test]
fn a_stage_changed_webhook_nudges_too_and_acts_only_on_a_hire() {
    let mut daemon = settled_daemon();
    let world = &daemon.world;
    world.sim.add_application(new_hire(1002));
    let mut interviewing = new_hire(1003);
    interviewing.stage = hirebridge::sim::Stage::Interview;
    world.sim.add_application(interviewing);

    for id in [1002, 1003] {
        let body = String::from_utf8(hired_event(id))
            .unwrap()
            .replace("application_hired", "application_stage_changed");
        assert_eq!(daemon.deliver(body.as_bytes()).status, 202);
    }
    assert!(wait_for(EVENTUALLY, || world.is_done("1002")));
    assert!(wait_for(EVENTUALLY, || world
        .sim
        .count(Endpoint::GetApplication)
        == 2));
    assert_eq!(world.employees_with_email("hire1002@example.com"), 1);
    assert_eq!(
        world.employees_with_email("hire1003@example.com"),
        0,
        "not hired: looked at, left alone"
    );
    assert!(world.ledger().entry(&"1003".into()).unwrap().is_none());
    assert_eq!(daemon.stop(), 0);
}

// ---- proof of hire --------------------------------------------------------------------------

#[test]
fn signed_deliveries_for_applications_not_hired_now_write_nothing() {
    // The startup pass learns the Hired stage from hire 1001.
    let mut daemon = settled_daemon();
    let world = &daemon.world;
    for (id, stage) in [
        (2001, Stage::Applied),
        (2002, Stage::Interview),
        (2003, Stage::Offer),
        (2004, Stage::Rejected),
    ] {
        world.sim.add_application(SimApplication {
            stage,
            ..new_hire(id)
        });
    }
    // Hired, then moved back out: its `hired_at` stays set, and the hired event is stale.
    world.sim.add_application(new_hire(2005));
    world.sim.set_stage("2005", Stage::Offer);
    world.sim.reset_counters();

    for id in 2001..=2004 {
        let body = String::from_utf8(hired_event(id))
            .unwrap()
            .replace("application_hired", "application_stage_changed");
        assert_eq!(daemon.deliver(body.as_bytes()).status, 202);
    }
    assert_eq!(daemon.deliver(&hired_event(2005)).status, 202);
    let dropped = || {
        daemon.metric("hirebridge_webhook_nudges_total{outcome=\"unproven\"}")
            + daemon.metric("hirebridge_webhook_nudges_total{outcome=\"not_hired\"}")
    };
    assert!(
        wait_for(EVENTUALLY, || dropped() >= 5.0),
        "{:#?}",
        daemon.metrics()
    );
    // Unproven nudges ask for a pass; its listing (the hired stage only) settles the question.
    assert!(wait_for(EVENTUALLY, || world
        .sim
        .count(Endpoint::ListApplications)
        >= 1));
    assert!(wait_for(EVENTUALLY, || common::has_polled(daemon.addr)));
    assert_eq!(world.sim.write_calls(), 0, "{:#?}", world.sim.calls());
    for id in 2001..=2005 {
        assert!(
            world
                .ledger()
                .entry(&id.to_string().into())
                .unwrap()
                .is_none(),
            "{id}"
        );
        assert_eq!(
            world.employees_with_email(&format!("hire{id}@example.com")),
            0
        );
    }
    // A rejected application is known not hired, whatever the event.
    assert!(daemon.metric("hirebridge_webhook_nudges_total{outcome=\"not_hired\"}") >= 1.0);

    // A genuine hire is still done by its nudge.
    world.sim.add_application(new_hire(2006));
    assert_eq!(daemon.deliver(&hired_event(2006)).status, 202);
    assert!(wait_for(EVENTUALLY, || world.is_done("2006")));
    assert_eq!(world.employees_with_email("hire2006@example.com"), 1);
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn a_nudge_that_cannot_be_proven_is_done_by_the_pass_it_triggers() {
    // No hire at startup: no hired stage is known yet, so a nudge's single read proves nothing.
    let mut daemon = Listening::start(
        Scenario::empty().with_job("1", "Engineer", Visibility::External),
        polls_once(),
        Some(SECRET),
    );
    let world = &daemon.world;
    assert!(wait_for(EVENTUALLY, || common::has_polled(daemon.addr)));
    world.sim.add_application(new_hire(3001));
    assert_eq!(daemon.deliver(&hired_event(3001)).status, 202);
    assert!(wait_for(EVENTUALLY, || world.is_done("3001")));
    assert_eq!(
        daemon.metric("hirebridge_webhook_nudges_total{outcome=\"unproven\"}"),
        1.0
    );
    // Done by a listing pass (the next poll was an hour away).
    assert!(
        world
            .events("3001")
            .iter()
            .all(|e| e.trigger.as_deref() != Some("webhook")),
        "{:#?}",
        world.events("3001")
    );
    assert_eq!(world.employees_with_email("hire3001@example.com"), 1);
    world.assert_exactly_once();
    assert_eq!(daemon.stop(), 0);
}

//! The operator's and auditor's commands against a simulated world and the real binary:
//! `plan` (a dry run that writes nothing), `history`, `status` and its exit codes, `retry`,
//! `check`, the report's date filters and HTML page, and the log formats.

mod common;

use common::{Settings, World};
use hirebridge::ledger::Ledger;
use hirebridge::sim::{
    CvFiles, Endpoint, Fault, FaultRule, Scenario, SimApplication, SimEmployeeSeed, Visibility,
};
use serde_json::Value;

fn ada() -> SimApplication {
    SimApplication::hired("1001", "Ada", "Lovelace", "ada@example.com", "1")
}

fn bob_without_cv() -> SimApplication {
    let mut bob = SimApplication::hired("1002", "Bob", "Byte", "bob@example.com", "1");
    bob.cv = CvFiles::None;
    bob
}

fn grace_already_in_hibob() -> (SimApplication, SimEmployeeSeed) {
    (
        SimApplication::hired("1003", "Grace", "Hopper", "grace@example.com", "2"),
        SimEmployeeSeed {
            first_name: "Grace".into(),
            surname: "Hopper".into(),
            email: "grace@example.com".into(),
            site: "London".into(),
            start_date: chrono::Utc::now().date_naive(),
            termination_date: None,
        },
    )
}

fn three_hires() -> Scenario {
    let (grace, seed) = grace_already_in_hibob();
    Scenario::empty()
        .with_job("1", "Engineer", Visibility::External)
        .with_job("2", "Admiral", Visibility::Confidential)
        .with_application(ada())
        .with_application(bob_without_cv())
        .with_application(grace)
        .with_employee(seed)
}

fn json(run: &common::Run) -> Value {
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.all()))
}

fn kinds(plan: &Value, application_id: &str) -> Vec<String> {
    plan["hires"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["application_id"] == application_id)
        .unwrap_or_else(|| panic!("no plan for {application_id}: {plan}"))["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect()
}

// ---- plan ---------------------------------------------------------------------------------

#[test]
fn plan_before_the_first_sync_previews_it_and_creates_no_ledger() {
    let world = World::new(three_hires());
    let run = world.hirebridge(&["plan", "--format", "json"]).expect(0);
    let plan = json(&run);
    assert_eq!(plan["listed"], 3);
    assert_eq!(
        kinds(&plan, "1001"),
        ["create", "upload_cv", "comment", "mark_done"]
    );
    assert_eq!(
        kinds(&plan, "1002"),
        ["create", "record_no_cv", "comment", "mark_done"]
    );
    assert_eq!(
        kinds(&plan, "1003"),
        ["adopt", "upload_cv", "comment", "mark_done"]
    );
    assert_eq!(world.sim.write_calls(), 0, "plan wrote to an API");
    assert!(!world.ledger_path.exists(), "plan created the ledger");
    assert!(
        std::fs::read_dir(world.dir.path()).unwrap().all(|f| !f
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("ledger")),
        "plan left a ledger file behind"
    );

    let text = world.hirebridge(&["plan"]).expect(0).stdout();
    assert!(
        text.contains("1003 <grace@example.com> [new]: adopt"),
        "{text}"
    );
    assert!(text.contains("nothing was written"), "{text}");

    // What the preview promised is what the pass does.
    world.sync().expect(0);
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 2);
    assert_eq!(world.sim.count(Endpoint::UploadDocument), 2);
    assert_eq!(world.sim.count(Endpoint::PostComment), 3);
}

#[test]
fn plan_beside_a_settled_ledger_writes_nothing_anywhere() {
    let world = World::new(three_hires());
    world.sync().expect(0);
    world.sim.add_application(SimApplication::hired(
        "1004",
        "Alan",
        "Turing",
        "alan@example.com",
        "1",
    ));
    // A hire parked for invalid data is skipped with its reason.
    world.sim.add_application(SimApplication::hired(
        "1005",
        "Edsger",
        "Dijkstra",
        "edsger@example.com",
        "1",
    ));
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::Status(400)).matching("edsger@example.com"),
    );
    world.sync().expect(3);
    world.sim.add_application(SimApplication::hired(
        "1006",
        "Barbara",
        "Liskov",
        "barbara@example.com",
        "1",
    ));
    let before = world.ledger_fingerprint();
    let writes = world.sim.write_calls();

    // Held as a running daemon holds it: plan needs no lock.
    let daemon = Ledger::open(&world.ledger_path).unwrap();
    let plan = json(&world.hirebridge(&["plan", "--format", "json"]).expect(0));
    drop(daemon);

    assert_eq!(world.sim.write_calls(), writes, "plan wrote to an API");
    assert_eq!(
        world.ledger_fingerprint(),
        before,
        "plan changed the ledger"
    );
    assert_eq!(kinds(&plan, "1001"), ["skip"]);
    assert_eq!(kinds(&plan, "1005"), ["skip"]);
    let parked = &plan["hires"].as_array().unwrap()[4];
    assert_eq!(parked["application_id"], "1005");
    assert!(
        parked["actions"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("hirebridge retry 1005"),
        "{parked}"
    );
    assert_eq!(kinds(&plan, "1006")[0], "create");

    let text = world.hirebridge(&["plan"]).expect(0).stdout();
    assert!(text.contains("done hires not shown"), "{text}");
    assert!(!text.contains("1001 <"), "{text}");
    assert!(
        world
            .hirebridge(&["plan", "--all"])
            .expect(0)
            .stdout()
            .contains("1001 <"),
        "--all lists done hires"
    );
}

// ---- history ------------------------------------------------------------------------------

#[test]
fn history_shows_an_ambiguous_create_recovered_by_adoption() {
    let world = World::new(
        Scenario::empty()
            .with_job("1", "Engineer", Visibility::External)
            .with_application(ada()),
    );
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::CommitThenStatus(502))
            .matching("ada@example.com"),
    );
    world.sync().expect(2);
    world.sync().expect(0);

    let run = world
        .hirebridge(&["history", "1001", "--format", "json"])
        .expect(0);
    let history = json(&run);
    let hire = &history[0];
    assert_eq!(hire["application_id"], "1001");
    assert_eq!(hire["status"], "done");
    assert_eq!(hire["employee_origin"], "adopted");
    let events: Vec<(String, String, String, i64, String)> = hire["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap().to_owned(),
                e["pass_id"].as_i64().unwrap(),
                e["trigger"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let steps: Vec<(&str, &str, i64)> = events
        .iter()
        .map(|(s, o, _, p, _)| (s.as_str(), o.as_str(), *p))
        .collect();
    assert_eq!(
        steps,
        [
            ("hire", "detected", 1),
            ("employee", "intent", 1),
            ("employee", "failed", 1),
            ("employee", "adopted", 2),
            ("cv", "intent", 2),
            ("cv", "uploaded", 2),
            ("comment", "intent", 2),
            ("comment", "posted", 2),
            ("hire", "done", 2),
        ],
        "{history:#}"
    );
    assert!(events[2].2.contains("outcome unknown"), "{:?}", events[2]);
    assert!(events.iter().all(|e| e.4 == "sync"));
    let employee_id = world.sim.employee_by_email("ada@example.com").unwrap().id;
    assert!(events[3].2.contains(&employee_id), "{:?}", events[3]);

    let text = world.hirebridge(&["history", "1001"]).expect(0).stdout();
    assert!(text.contains("#1 sync  employee  failed"), "{text}");
    assert!(text.contains("#2 sync  employee  adopted"), "{text}");
    assert!(
        text.contains(&format!("HiBob employee {employee_id} (adopted)")),
        "{text}"
    );

    // By email, case-insensitively, too.
    let by_email = world
        .hirebridge(&["history", "ADA@example.com"])
        .expect(0)
        .stdout();
    assert_eq!(by_email, text);
    let unknown = world
        .hirebridge(&["history", "nobody@example.com"])
        .expect(1);
    assert!(
        unknown.stderr().contains("hirebridge report"),
        "{}",
        unknown.all()
    );
}

// ---- status and retry ----------------------------------------------------------------------

#[test]
fn status_exit_codes_follow_the_ledger_and_retry_is_recorded() {
    let world = World::new(three_hires());
    let missing = world.hirebridge(&["status"]).expect(1);
    assert!(
        missing.stderr().contains("run `hirebridge sync`"),
        "{}",
        missing.all()
    );

    // Bob fails transiently, Ada is refused by HiBob.
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::Status(500)).matching("bob@example.com"),
    );
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::Status(400)).matching("ada@example.com"),
    );
    world.sync().expect(3);
    let run = world.hirebridge(&["status"]).expect(3);
    let out = run.stdout();
    assert!(out.contains("NEEDS ATTENTION"), "{out}");
    assert!(
        out.contains("needs attention (1):\n  1001 <ada@example.com>: "),
        "{out}"
    );
    assert!(
        out.contains("waiting for a retry (1):\n  1002 <bob@example.com>"),
        "{out}"
    );
    assert!(out.contains("oldest open  1001"), "{out}");
    assert!(out.contains("last poll    #1 sync"), "{out}");
    assert!(out.contains("next poll    "), "{out}");
    assert!(
        out.contains(&format!("ledger       {}", world.ledger_path.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "schema version {}",
            hirebridge::ledger::CURRENT_VERSION
        )),
        "{out}"
    );
    let view = json(&world.hirebridge(&["status", "--format", "json"]).expect(3));
    assert_eq!(view["health"], "needs_attention");
    assert_eq!(view["needs_attention"][0]["application_id"], "1001");

    // The operator fixes the cause and asks for a retry: recorded, and the pass picks it up.
    world.hirebridge(&["retry", "1001"]).expect(0);
    let history = world.hirebridge(&["history", "1001"]).expect(0).stdout();
    assert!(
        history.contains("operator  hire      retry     an operator asked to retry"),
        "{history}"
    );
    // Only Bob (transient) left after this pass if his retry fails again.
    world.sim.inject(
        FaultRule::new(Endpoint::CreatePerson, Fault::Status(500)).matching("bob@example.com"),
    );
    world.sync().expect(2);
    world.hirebridge(&["status"]).expect(2);

    world.hirebridge(&["retry", "--all-failed"]).expect(0);
    let bob = world.events("1002");
    assert_eq!(bob.last().unwrap().outcome, "retry");
    assert_eq!(bob.last().unwrap().pass_id, None);
    world.sync().expect(0);
    let healthy = world.hirebridge(&["status"]).expect(0).stdout();
    assert!(healthy.starts_with("hirebridge: healthy"), "{healthy}");
    assert!(healthy.contains("3: 3 done"), "{healthy}");

    // Beside a daemon holding the ledger.
    let _daemon = Ledger::open(&world.ledger_path).unwrap();
    world.hirebridge(&["status"]).expect(0);
}

// ---- check -----------------------------------------------------------------------------------

#[test]
fn check_passes_a_good_setup_without_writing() {
    let world = World::new(three_hires());
    let run = world.hirebridge(&["check"]).expect(0);
    let out = run.stdout();
    for name in [
        "config",
        "pinpoint",
        "hibob",
        "hibob.fields",
        "hibob.site",
        "mapping",
        "ledger",
    ] {
        assert!(out.contains(&format!("✓ {name}: ")), "{name}: {out}");
    }
    assert!(!out.contains('✗'), "{out}");
    assert!(!world.ledger_path.exists(), "check created the ledger");

    // With a ledger in use by a daemon: checked on a snapshot, untouched.
    world.sync().expect(0);
    let before = world.ledger_fingerprint();
    let _daemon = Ledger::open(&world.ledger_path).unwrap();
    let out = world.hirebridge(&["check"]).expect(0).stdout();
    assert!(
        out.contains(&format!(
            "opens; schema version {}",
            hirebridge::ledger::CURRENT_VERSION
        )),
        "{out}"
    );
    assert_eq!(world.ledger_fingerprint(), before);
    assert_eq!(world.sim.count(Endpoint::NamedList), 2);
    world.sim.reset_counters();
    world.hirebridge(&["check"]).expect(0);
    assert_eq!(world.sim.write_calls(), 0);
}

#[test]
fn check_catches_a_wrong_site_and_names_the_valid_ones() {
    let world = World::with(
        three_hires(),
        Settings {
            site: "New Yrok (Demo)",
            ..Default::default()
        },
    );
    let run = world.hirebridge(&["check"]).expect(1);
    let out = run.stdout();
    assert!(
        out.contains("✗ hibob.site: \"New Yrok (Demo)\" is not a value of HiBob's \"site\" list"),
        "{out}"
    );
    assert!(
        out.contains(
            "fix: set hibob.site to one of: \"New York (Demo)\", \"London\", \"Tel Aviv\"; did you mean \"New York (Demo)\"?"
        ),
        "{out}"
    );
    assert!(out.contains("✓ pinpoint: "), "{out}");
    assert!(out.contains("1 of 20 checks failed"), "{out}");
    assert!(
        out.contains("✓ audit: the signing key is made at the first checkpoint"),
        "{out}"
    );
    assert_eq!(world.sim.write_calls(), 0);
}

#[test]
fn check_names_a_refused_credential_and_leaks_no_secret() {
    let mut world = World::new(three_hires());
    world.set_env("PINPOINT_API_KEY", "not-the-key-s3cret");
    let run = world.hirebridge(&["check"]).expect(1);
    let out = run.stdout();
    assert!(out.contains("✗ pinpoint: "), "{out}");
    assert!(out.contains("PINPOINT_API_KEY"), "{out}");
    assert!(out.contains("✓ hibob: "), "{out}");
    assert!(!run.all().contains("not-the-key-s3cret"), "{}", run.all());
}

// ---- report ------------------------------------------------------------------------------------

#[test]
fn report_filters_by_date_and_age() {
    let world = World::new(three_hires());
    // Today as of the sync: a test that runs across midnight must not see the day change.
    let synced_on = chrono::Utc::now().date_naive();
    world.sync().expect(0);
    if chrono::Utc::now().date_naive() != synced_on {
        eprintln!("the sync ran across midnight (UTC); the dates below would be ambiguous");
        return;
    }
    let count = |args: &[&str]| {
        let mut all = vec!["report", "--format", "json"];
        all.extend_from_slice(args);
        json(&world.hirebridge(&all).expect(0))
            .as_array()
            .unwrap()
            .len()
    };
    let today = chrono::Utc::now().date_naive().to_string();
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    assert_eq!(count(&["--since", "1d"]), 3);
    assert_eq!(count(&["--since", &today, "--until", &today]), 3);
    assert_eq!(count(&["--since", &tomorrow]), 0);
    assert_eq!(count(&["--until", "2000-01-01"]), 0);
    assert_eq!(count(&["--since", "30d", "--status", "done"]), 3);
    let bad = world
        .hirebridge(&["report", "--since", "last tuesday"])
        .expect(2);
    assert!(bad.stderr().contains("30d"), "{}", bad.all());
}

fn world_with_awkward_names(hires: usize) -> World {
    let mut scenario = Scenario::generated(hires, 5);
    let mut odd = SimApplication::hired(
        "999001",
        "Ada <script>alert(1)</script>",
        "O'Brien & \"Sons\"",
        "ada.obrien@example.com",
        &scenario.jobs[0].id,
    );
    odd.cv = CvFiles::None;
    scenario = scenario.with_application(odd);
    World::new(scenario)
}

#[test]
fn the_html_report_is_one_well_formed_self_contained_page_with_every_hire() {
    let world = world_with_awkward_names(40);
    world.sync().expect(0);
    let ids = world.hired_ids();
    let page = world
        .hirebridge(&["report", "--format", "html"])
        .expect(0)
        .stdout();

    let document = scraper::Html::parse_document(&page);
    assert!(
        document.errors.is_empty(),
        "parse errors: {:?}",
        document.errors
    );
    let select = |css: &str| scraper::Selector::parse(css).unwrap();
    let rows: Vec<_> = document.select(&select("table#hires tbody tr")).collect();
    assert_eq!(rows.len(), ids.len());
    for id in &ids {
        assert!(
            rows.iter()
                .any(|r| r.value().attr("data-application-id") == Some(id.as_str())),
            "no row for {id}"
        );
    }
    // Escaped: the name is text, not markup. The one script is the page's own filter, inline.
    let scripts: Vec<_> = document.select(&select("script")).collect();
    assert_eq!(scripts.len(), 1, "only the page's own script");
    assert!(!scripts[0].inner_html().contains("alert"));
    assert!(
        page.contains(
            "Ada &lt;script&gt;alert(1)&lt;/script&gt; O&#39;Brien &amp; &quot;Sons&quot;"
        )
    );
    // Self-contained: nothing fetched from anywhere (links are for a person to follow).
    let external: Vec<_> = document
        .select(&select("[src], :not(a)[href], link, img, iframe, object"))
        .map(|e| format!("{:?}", e.value()))
        .collect();
    assert!(external.is_empty(), "external references: {external:?}");
    // Readable titles, the keys kept for scripts; each application links to Pinpoint and each
    // employee to HiBob (defaults from pinpoint.base_url's host and HiBob's app).
    let titles: Vec<(String, String)> = document
        .select(&select("table#hires thead th"))
        .map(|th| {
            (
                th.value().attr("data-key").unwrap_or("").to_owned(),
                th.text().collect(),
            )
        })
        .collect();
    assert!(titles.contains(&("hibob_employee_id".into(), "HiBob employee".into())));
    assert!(
        titles
            .iter()
            .all(|(key, title)| !title.contains('_') && !key.is_empty())
    );
    let first = &rows[0];
    let links: Vec<&str> = first
        .select(&select("a"))
        .filter_map(|a| a.value().attr("href"))
        .collect();
    let id = first.value().attr("data-application-id").unwrap();
    assert!(
        links
            .iter()
            .any(|l| l.ends_with(&format!("/admin/applications/{id}"))),
        "{links:?}"
    );
    assert!(
        links
            .iter()
            .any(|l| l.starts_with("https://app.hibob.com/employee-profile/")),
        "{links:?}"
    );
    // The controls, and the second picture: time from hired to done.
    for control in ["select#status-filter", "input#search", "input#all-columns"] {
        assert_eq!(document.select(&select(control)).count(), 1, "{control}");
    }
    assert_eq!(document.select(&select("svg#latency circle")).count(), 1);
    // The summary counts and the weekly chart.
    let done = document
        .select(&select("table#summary th.done + td"))
        .next()
        .unwrap()
        .text()
        .collect::<String>();
    assert_eq!(done, ids.len().to_string());
    assert_eq!(
        document.select(&select("svg rect")).count(),
        1,
        "one week of hires"
    );
}

/// Headless Chromium, if installed. `.ci/run` installs it and sets
/// `HIREBRIDGE_REQUIRE_BROWSER=1`, so under CI a missing browser fails instead of skipping.
fn chromium() -> Option<std::path::PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("chromium"))
                    .find(|p| p.exists())
            })
        });
    if found.is_none() && std::env::var_os("HIREBRIDGE_REQUIRE_BROWSER").is_some() {
        panic!(
            "HIREBRIDGE_REQUIRE_BROWSER is set but Chromium is not installed (apt-get install chromium)"
        );
    }
    found
}

/// Runs headless Chromium on `url` with `extra` arguments; its stdout and stderr.
fn headless(chromium: &std::path::Path, url: &str, extra: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "chromium failed ({}): {stderr}",
        output.status
    );
    (stdout, stderr)
}

/// The page's rows as the browser left them: (application id, shown).
fn rows_shown(dom: &str) -> Vec<(String, bool)> {
    let document = scraper::Html::parse_document(dom);
    let select = scraper::Selector::parse("table#hires tbody tr").unwrap();
    document
        .select(&select)
        .map(|r| {
            (
                r.value()
                    .attr("data-application-id")
                    .unwrap_or("")
                    .to_owned(),
                r.value().attr("hidden").is_none(),
            )
        })
        .collect()
}

/// Opens the HTML report in a real browser: every hire is on the page, the status filter and
/// the search box (set from the address, as a person's click would set them) hide exactly the
/// rows they should, the page fits a laptop screen, and the script logs no error.
#[test]
fn the_html_report_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        println!("note: Chromium is not installed; skipping the browser check of the HTML report");
        return;
    };
    let world = world_with_awkward_names(5);
    world.sync().expect(0);
    let page = world
        .hirebridge(&["report", "--format", "html"])
        .expect(0)
        .stdout();
    let file = world.dir.path().join("report.html");
    std::fs::write(&file, page).unwrap();
    let url = format!("file://{}", file.display());
    let ids = world.hired_ids();

    let (dom, stderr) = headless(&chromium, &url, &["--dump-dom"]);
    let rows = rows_shown(&dom);
    assert_eq!(rows.len(), ids.len(), "{stderr}");
    assert!(rows.iter().all(|(_, shown)| *shown), "all shown at first");
    assert!(
        dom.contains(&format!("{n} of {n} shown", n = ids.len())),
        "{dom}"
    );
    assert!(dom.contains("O'Brien &amp; \"Sons\""), "{dom}");
    for line in stderr.lines() {
        assert!(
            !line.contains(":CONSOLE") && !line.contains("Uncaught"),
            "the page logged: {line}"
        );
    }

    // The search finds the one awkward name; the status filter, none failed.
    let (dom, _) = headless(&chromium, &format!("{url}#q=o%27brien"), &["--dump-dom"]);
    let shown: Vec<String> = rows_shown(&dom)
        .into_iter()
        .filter(|(_, shown)| *shown)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(shown, ["999001"]);
    let (dom, _) = headless(&chromium, &format!("{url}#status=failed"), &["--dump-dom"]);
    assert!(rows_shown(&dom).iter().all(|(_, shown)| !shown));
    assert!(dom.contains(&format!("0 of {} shown", ids.len())), "{dom}");

    // What a person sees on a laptop: a screenshot of the window's size, with content.
    let shot = world.dir.path().join("report.png");
    headless(
        &chromium,
        &url,
        &[
            "--window-size=1366,768",
            "--hide-scrollbars",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert_eq!(&png[1..4], b"PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1366, 768));
    assert!(
        png.len() > 20_000,
        "a near-empty screenshot: {} bytes",
        png.len()
    );
}

// ---- logs and progress -------------------------------------------------------------------------

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn json_logs_are_one_object_per_line_and_name_the_application() {
    let world = World::new(Scenario::generated(250, 9));
    world
        .sim
        .inject(FaultRule::new(Endpoint::UploadDocument, Fault::Status(500)).times(1));
    let run = world
        .hirebridge(&["--log-format", "json", "sync"])
        .expect(2);
    let lines = json_lines(&run.stderr());
    let about_hires: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            ["created HiBob employee", "hire done", "will retry"]
                .contains(&l["message"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(about_hires.len() > 250, "{}", run.stderr());
    for line in about_hires {
        assert!(line["application"].is_string(), "no application id: {line}");
    }
    // Without a terminal, a long pass reports its progress in the log.
    let progress: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "pass progress")
        .collect();
    assert!(!progress.is_empty(), "{}", run.stderr());
    assert!(
        progress
            .iter()
            .all(|p| p["listed"].as_u64().unwrap() >= 100)
    );
}

#[test]
fn logs_are_json_under_the_journal_and_human_elsewhere() {
    use std::os::unix::fs::MetadataExt as _;
    let world = World::new(three_hires());
    let log_path = world.dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&log_path).unwrap();
    let meta = stderr.metadata().unwrap();
    let status = world
        .command(&["sync"])
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stderr(stderr)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let lines = json_lines(&std::fs::read_to_string(&log_path).unwrap());
    assert!(lines.iter().any(|l| l["application"] == "1001"));

    // An inherited JOURNAL_STREAM that is not our stderr keeps the human format.
    let mut world = world;
    world.set_env("JOURNAL_STREAM", "1:2");
    world.sim.add_application(SimApplication::hired(
        "1004",
        "Alan",
        "Turing",
        "alan@example.com",
        "1",
    ));
    let run = world.sync().expect(0);
    let first = run.stderr().lines().next().unwrap_or_default().to_owned();
    assert!(serde_json::from_str::<Value>(&first).is_err(), "{first}");
    assert!(first.contains("INFO"), "{first}");
}

// ---- what produced a pass ----------------------------------------------------------------------

/// Every pass records which hirebridge ran it, under which effective configuration (a digest:
/// the same settings give the same digest, a changed one another) and, when run by hand, which
/// OS user (`sudo`'s caller); an operator's `retry` names them in the hire's history.
#[test]
fn each_pass_records_the_version_the_config_digest_and_who_ran_it() {
    let world = World::new(Scenario::generated(3, 21));
    let last_pass = |world: &World| {
        let run = world
            .command(&["status", "--format", "json"])
            .env("SUDO_USER", "alice")
            .output()
            .unwrap();
        let view: Value = serde_json::from_slice(&run.stdout).unwrap();
        view["last_pass"].clone()
    };
    let sync = |world: &World| {
        let run = world
            .command(&["sync"])
            .env("SUDO_USER", "alice")
            .output()
            .unwrap();
        assert_eq!(
            run.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    };
    sync(&world);
    let first = last_pass(&world);
    assert_eq!(first["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(first["operator"], "alice (via sudo)");
    let digest = first["config_hash"].as_str().unwrap().to_owned();
    assert_eq!(digest.len(), 64, "{digest}");
    assert!(digest.chars().all(|c| c.is_ascii_hexdigit()), "{digest}");

    sync(&world);
    assert_eq!(
        last_pass(&world)["config_hash"],
        digest.as_str(),
        "same settings"
    );
    world.write_config(&Settings {
        every: "7m",
        ..Settings::default()
    });
    sync(&world);
    assert_ne!(
        last_pass(&world)["config_hash"],
        digest.as_str(),
        "changed settings"
    );

    // A new secret is not a new configuration: secrets never reach the digest.
    let text = std::fs::read_to_string(&world.config_path).unwrap();
    let with_key = |key: &str| {
        let secrets = hirebridge::config::SecretSources {
            vars: world
                .env
                .iter()
                .map(|(k, v)| {
                    let v = if k == "PINPOINT_API_KEY" {
                        key
                    } else {
                        v.as_str()
                    };
                    (k.clone(), v.to_owned())
                })
                .collect(),
            credentials_directory: None,
        };
        hirebridge::config::Config::parse(&world.config_path, &text, &secrets)
            .unwrap()
            .digest
    };
    assert_eq!(with_key("one-key"), with_key("another-key"));
    // Comments and layout are not settings.
    std::fs::write(&world.config_path, format!("# a comment\n\n{text}")).unwrap();
    assert_eq!(world.config().digest, with_key("one-key"));

    // An operator's retry says who asked.
    world
        .sim
        .inject(FaultRule::new(Endpoint::CreatePerson, Fault::Status(422)).times(1));
    let extra = "8899001";
    world.sim.add_application(common::new_hire(8899001));
    world.sync().expect(3);
    let retry = world
        .command(&["retry", extra])
        .env("SUDO_USER", "alice")
        .output()
        .unwrap();
    assert_eq!(
        retry.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&retry.stderr)
    );
    let history = world.hirebridge(&["history", extra]).stdout();
    assert!(
        history.contains("an operator asked to retry (alice (via sudo))"),
        "{history}"
    );
}

//! End-to-end specification of the field mapping and drift: the real binary against the
//! simulated Pinpoint (jobs with departments and locations, offers, custom attributes) and
//! HiBob (field metadata, named lists, updates), with a real ledger.

mod common;

use common::{Settings, World, golden};
use hirebridge::sim::{
    Endpoint, Fault, FaultRule, Scenario, SimApplication, SimJob, SimOffer, Visibility,
};

/// An engineer hired in London: department, location, accepted offer, phone and LinkedIn.
fn ada() -> SimApplication {
    let mut a = SimApplication::hired("1001", "Ada", "Lovelace", "ada@example.com", "1");
    a.phone = Some("+44 20 7946 0000".into());
    a.linkedin = Some("https://www.linkedin.com/in/ada-lovelace".into());
    a.offers = vec![
        SimOffer {
            id: "71".into(),
            status: "declined".into(),
            start_on: "2031-02-01".into(),
        },
        SimOffer {
            id: "72".into(),
            status: "accepted".into(),
            start_on: "2031-03-03".into(),
        },
    ];
    a.custom_attributes = vec![("employment_type".into(), "Full-time".into())];
    a
}

fn engineering() -> SimJob {
    SimJob {
        id: "1".into(),
        title: "Analytical Engineer".into(),
        visibility: Visibility::External,
        department: Some("Engineering".into()),
        location: Some("London office".into()),
    }
}

fn world_with(extra: &str) -> World {
    let mut scenario = Scenario::empty().with_application(ada());
    scenario.jobs.push(engineering());
    World::with(
        scenario,
        Settings {
            extra: extra.into(),
            ..Default::default()
        },
    )
}

fn moved_start(date: &str) -> SimApplication {
    let mut a = ada();
    a.offers[1].start_on = date.into();
    a
}

#[test]
fn the_default_mapping_creates_the_record_a_recruiter_would_type() {
    let world = world_with("");
    world.sync().expect(0);

    let employee = world.sim.employee_by_email("ada@example.com").unwrap();
    let mut body = serde_json::to_string_pretty(&employee.body).unwrap();
    body.push('\n');
    golden("create_body.json", body.as_bytes());
    assert_eq!(
        employee.start_date.to_string(),
        "2031-03-03",
        "the accepted offer's"
    );

    // Only what the templates use is included: no custom attributes, no location.
    let listing = world
        .sim
        .calls()
        .into_iter()
        .find(|c| {
            c.endpoint == Endpoint::ListApplications
                && percent_decode(&c.path_and_query).contains("filter[stage_basic_type]=hired&")
        })
        .unwrap();
    let query = percent_decode(&listing.path_and_query);
    assert!(
        query.contains("include=job,job.department,offers&"),
        "{query}"
    );
}

#[test]
fn templates_with_missing_data_park_only_that_hire_and_name_the_field() {
    let mut scenario = Scenario::empty()
        .with_job("2", "Chief of Staff", Visibility::External)
        .with_application(ada())
        .with_application(SimApplication::hired(
            "1002",
            "Grace",
            "Hopper",
            "grace@example.com",
            "2",
        ));
    scenario.jobs.push(engineering());
    let world = World::with(
        scenario,
        Settings {
            extra: "[mapping.fields]\n\"work.department\" = \"{{ job.department }}\"\n".into(),
            ..Default::default()
        },
    );
    world.sync().expect(3);

    assert_eq!(world.row("1001")["status"], "done");
    let grace = world.row("1002");
    assert_eq!(grace["status"], "needs_attention");
    let error = grace["last_error"].as_str().unwrap();
    assert!(error.contains("work.department"), "{error}");
    assert!(error.contains("{{ job.department }}"), "{error}");
    assert!(
        world.sim.employee_by_email("grace@example.com").is_none(),
        "nothing sent for a hire whose values cannot be filled"
    );
    assert_eq!(world.sim.count(Endpoint::CreatePerson), 1);
}

#[test]
fn check_catches_a_lookup_value_missing_from_hibobs_site_list_and_suggests_one() {
    let world = world_with(
        "[mapping.fields]\n\"work.site\" = { template = \"{{ job.location }}\", lookup = { \"London office\" = \"Londn\" } }\n",
    );
    let run = world.hirebridge(&["check"]).expect(1);
    let out = run.stdout();
    assert!(
        out.contains(
            "✗ mapping: work.site: \"Londn\" (lookup \"London office\") is not a value of HiBob's \"site\" list"
        ),
        "{out}"
    );
    assert!(out.contains("did you mean \"London\"?"), "{out}");
    assert_eq!(world.sim.write_calls(), 0);

    let unknown = world_with("[mapping.fields]\n\"work.tittle\" = \"{{ job.title }}\"\n");
    let out = unknown.hirebridge(&["check"]).expect(1).stdout();
    assert!(out.contains("HiBob has no field \"work.tittle\""), "{out}");
    assert!(out.contains("did you mean \"work.title\"?"), "{out}");
}

#[test]
fn drift_is_reported_from_the_listing_alone_and_only_once() {
    let world = world_with("");
    world.sync().expect(0);
    world.sim.add_application(moved_start("2031-03-17"));
    world.sim.reset_counters();

    world.sync().expect(0);
    assert_eq!(world.sim.write_calls(), 0);
    assert_eq!(
        world.sim.count(Endpoint::SearchPeople),
        0,
        "report mode calls no one"
    );
    let row = world.row("1001");
    assert_eq!(row["status"], "done");
    assert_eq!(row["drift"], "reported");
    assert_eq!(row["drift_fields"], "work.startDate");
    assert!(
        row["drift_detail"]
            .as_str()
            .unwrap()
            .contains("\"2031-03-03\" → \"2031-03-17\""),
        "{row}"
    );
    let detected = |w: &World| {
        w.events("1001")
            .iter()
            .filter(|e| e.step == "drift" && e.outcome == "detected")
            .count()
    };
    assert_eq!(detected(&world), 1);

    world.sync().expect(0);
    assert_eq!(detected(&world), 1, "the same drift is not recorded twice");
    let status = world.hirebridge(&["status", "--format", "json"]).expect(0);
    let status: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    assert_eq!(status["drift"][0]["application_id"], "1001");
    assert_eq!(status["drift"][0]["drift"], "reported");
}

/// `on_change = "update"`, with the Work-table fields HiBob's update does not change kept to
/// `report` (the start date has its own route).
const UPDATE_MODE: &str = "[mapping]\non_change = \"update\"\n[mapping.fields]\n\
    \"work.title\" = { template = '{{ job.title | default(\"\") }}', on_change = \"report\" }\n\
    \"work.department\" = { template = '{{ job.department | default(\"\") }}', on_change = \"report\" }\n\
    \"work.site\" = { template = \"{{ hibob.site }}\", on_change = \"report\" }\n\
    \"personal.pronouns\" = '{{ custom.pronouns | default(\"\") }}'\n";

#[test]
fn in_update_mode_a_changed_start_date_goes_through_its_own_route_once() {
    let world = world_with(UPDATE_MODE);
    world.sync().expect(0);
    let id = world.entry("1001").hibob_employee_id().unwrap().to_owned();
    world.sim.add_application(moved_start("2031-03-17"));
    world.sim.reset_counters();

    world.sync().expect(0);
    assert_eq!(
        world.sim.employee_field(&id, "work.startDate").as_deref(),
        Some("2031-03-17")
    );
    assert_eq!(world.sim.count(Endpoint::SetStartDate), 1);
    assert_eq!(
        world.sim.count(Endpoint::UpdatePerson),
        0,
        "PUT /people does not update a Work-table field"
    );
    assert_eq!(
        world.sim.count(Endpoint::SearchPeople),
        1,
        "one read-before-write"
    );
    assert_eq!(world.row("1001")["drift"], "updated");
    let outcomes: Vec<String> = world
        .events("1001")
        .into_iter()
        .filter(|e| e.step == "drift")
        .map(|e| e.outcome)
        .collect();
    assert_eq!(outcomes, ["detected", "intent", "updated"]);

    world.sim.reset_counters();
    world.sync().expect(0);
    assert_eq!(world.sim.write_calls(), 0, "applied once");
    assert_eq!(world.sim.count(Endpoint::SearchPeople), 0);
}

#[test]
fn update_mode_refuses_work_table_fields_hibob_would_not_update_naming_them() {
    let world = world_with("[mapping]\non_change = \"update\"\n");
    let run = world.sync().expect(1);
    assert!(
        run.stderr().contains("mapping.on_change")
            && run
                .stderr()
                .contains("work.department, work.site, work.title")
            && run.stderr().contains("on_change = \"report\""),
        "{}",
        run.all()
    );
    assert!(world.sim.calls().is_empty(), "refused before any call");
}

#[test]
fn a_work_table_field_kept_to_report_is_reported_not_sent() {
    let world = world_with(UPDATE_MODE);
    world.sync().expect(0);
    let mut job = engineering();
    job.title = "Senior Analytical Engineer".into();
    world.sim.add_job(job);
    world.sim.add_application(ada());
    world.sim.reset_counters();
    world.sync().expect(0);
    assert_eq!(world.sim.write_calls(), 0);
    let row = world.row("1001");
    assert_eq!(row["drift"], "reported", "{row}");
    assert_eq!(row["drift_fields"], "work.title");
}

/// Ada with a pronouns custom attribute, the value of a list-backed HiBob field.
fn ada_with_pronouns(pronouns: &str) -> SimApplication {
    let mut a = ada();
    a.custom_attributes
        .push(("pronouns".into(), pronouns.into()));
    a
}

#[test]
fn drift_on_a_list_field_compares_display_values_and_is_not_taken_for_an_edit() {
    // HiBob answers a list field with its item id; what hirebridge wrote is the display name.
    // Compared by the human-readable value, an untouched field is not "edited in HiBob".
    let mut scenario = Scenario::empty().with_application(ada_with_pronouns("she/her"));
    scenario.jobs.push(engineering());
    let world = World::with(
        scenario,
        Settings {
            extra: UPDATE_MODE.into(),
            ..Default::default()
        },
    );
    world.sync().expect(0);
    let id = world.entry("1001").hibob_employee_id().unwrap().to_owned();
    assert_eq!(
        world
            .sim
            .employee_field(&id, "personal.pronouns")
            .as_deref(),
        Some("she/her")
    );
    world.sim.add_application(ada_with_pronouns("they/them"));
    world.sync().expect(0);
    let row = world.row("1001");
    assert_eq!(row["drift"], "updated", "{row}");
    assert_eq!(
        world
            .sim
            .employee_field(&id, "personal.pronouns")
            .as_deref(),
        Some("they/them")
    );
    assert_eq!(world.sim.count(Endpoint::UpdatePerson), 1);
}

#[test]
fn in_update_mode_a_value_edited_in_hibob_is_not_overwritten() {
    let mut scenario = Scenario::empty().with_application(ada_with_pronouns("she/her"));
    scenario.jobs.push(engineering());
    let world = World::with(
        scenario,
        Settings {
            extra: UPDATE_MODE.into(),
            ..Default::default()
        },
    );
    world.sync().expect(0);
    let id = world.entry("1001").hibob_employee_id().unwrap().to_owned();
    world
        .sim
        .edit_employee_field(&id, "personal.pronouns", "he/him");
    world.sim.add_application(ada_with_pronouns("they/them"));

    world.sync().expect(0);
    assert_eq!(world.sim.count(Endpoint::UpdatePerson), 0);
    assert_eq!(
        world
            .sim
            .employee_field(&id, "personal.pronouns")
            .as_deref(),
        Some("he/him")
    );
    let row = world.row("1001");
    assert_eq!(row["drift"], "edited_in_hibob");
    let detail = row["drift_detail"].as_str().unwrap();
    assert!(detail.contains("edited in HiBob, not updated"), "{detail}");
    assert!(detail.contains("\"he/him\""), "{detail}");
    assert!(detail.contains("\"they/them\""), "{detail}");
}

#[test]
fn an_update_whose_outcome_is_unknown_is_read_back_not_repeated() {
    let world = world_with(UPDATE_MODE);
    world.sync().expect(0);
    let id = world.entry("1001").hibob_employee_id().unwrap().to_owned();
    world.sim.add_application(moved_start("2031-03-17"));
    world.sim.inject(FaultRule::new(
        Endpoint::SetStartDate,
        Fault::CommitThenStatus(502),
    ));

    world.sync().expect(0);
    assert_eq!(world.row("1001")["drift"], "in_flight");
    world.sync().expect(0);
    assert_eq!(
        world.sim.count(Endpoint::SetStartDate),
        1,
        "never sent twice"
    );
    assert_eq!(world.row("1001")["drift"], "updated");
    assert_eq!(
        world.sim.employee_field(&id, "work.startDate").as_deref(),
        Some("2031-03-17")
    );
    assert!(
        world
            .events("1001")
            .iter()
            .any(|e| e.step == "drift" && e.outcome == "found"),
        "resolved by reading the values back"
    );
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(text.split_once('?').map_or("", |(_, q)| q).as_bytes())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
        + "&"
}

#[test]
fn bodies_put_every_field_where_hibobs_metadata_says_it_lives() {
    let world = world_with("");
    let config = world.config();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fields = runtime
        .block_on(async {
            let http = hirebridge::http::HttpClient::new(&config.http).unwrap();
            hirebridge::hibob::HibobClient::new(http, &config.hibob)
                .people_fields()
                .await
        })
        .unwrap();
    assert!(fields.len() > 5, "{fields:?}");
    for field in &fields {
        // Mapped by id (`root.firstName`) or by JSON path (`firstName`): the same place.
        for key in [field.id.as_str(), field.json_path.as_str()] {
            let body = hirebridge::mapping::nested_body([(key, "x")]);
            let pointer = format!("/{}", field.json_path.replace('.', "/"));
            assert_eq!(
                body.pointer(&pointer),
                Some(&serde_json::json!("x")),
                "{key}: {body}"
            );
        }
    }
}

/// The live application document recorded from a real tenant, verbatim (see
/// tests/fixtures/README.md for where it was recorded).
fn recorded_application_document() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pinpoint-live-application.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (a fixture in the repository)", path.display()));
    text.trim().as_bytes().to_vec()
}

#[test]
fn the_default_mapping_renders_the_recorded_live_document_attachments_nulls_and_all() {
    let world = World::new(Scenario::empty());
    let config = world.config();
    let settings = hirebridge::reconcile::Settings::from_config(&config);
    let application =
        hirebridge::pinpoint::model::single_application(&recorded_application_document())
            .expect("the recorded document parses")
            .expect("the recorded application is usable");
    assert_eq!(application.stage_id.as_deref(), Some("1539024"));
    assert!(
        application
            .cv
            .as_ref()
            .is_some_and(|cv| cv.context == "pdf_cv")
    );
    // Detected on 2026-12-01; its `start_on` is null and it has no offer: the offset decides.
    let detected = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let (employee, rendered) =
        hirebridge::reconcile::apply::new_employee(&settings, detected, &application, detected)
            .expect("every default template renders from a live document");
    assert!(
        !rendered.contains_key("work.startDate"),
        "no start date in Pinpoint: {rendered:?}"
    );
    // Nothing null reaches HiBob as text.
    let body =
        serde_json::to_string_pretty(&hirebridge::hibob::create_body(&employee)).unwrap() + "\n";
    assert!(
        !body.to_lowercase().contains("none") && !body.contains("null"),
        "{body}"
    );
    golden("create_body_from_recorded_document.json", body.as_bytes());

    // Every application variable docs/configuration.md lists exists on the live document.
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .unwrap();
    let source = &application.source["application"];
    let documented: Vec<&str> = readme
        .split('`')
        .filter_map(|code| code.strip_prefix("application."))
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    assert!(documented.len() >= 8, "{documented:?}");
    for name in documented {
        assert!(
            source.get(name).is_some(),
            "docs/configuration.md documents application.{name}, which a live document does not have"
        );
    }
}

#[test]
fn the_applications_own_start_date_is_written_and_a_fallback_is_flagged_for_hr() {
    // Twelve hires with `start_on` on the application (as live documents carry it), one
    // with an accepted offer's date only, one with neither.
    let mut scenario = Scenario::empty().with_job("1", "Engineer", Visibility::External);
    for n in 0..12u32 {
        let mut a = common::new_hire(3000 + u64::from(n));
        a.start_on = Some(format!("2031-04-{:02}", n + 1));
        scenario = scenario.with_application(a);
    }
    let mut offered = common::new_hire(3100);
    offered.offers = vec![SimOffer {
        id: "9".into(),
        status: "accepted".into(),
        start_on: "2031-05-04".into(),
    }];
    scenario = scenario
        .with_application(offered)
        .with_application(common::new_hire(3101));
    let world = World::new(scenario);
    world.sync().expect(0);
    for n in 0..12u32 {
        let email = format!("hire{}@example.com", 3000 + n);
        let employee = world.sim.employee_by_email(&email).unwrap();
        assert_eq!(
            employee.start_date.to_string(),
            format!("2031-04-{:02}", n + 1),
            "{email}"
        );
        assert_eq!(
            world.row(&(3000 + n).to_string())["start_date_source"],
            "pinpoint"
        );
    }
    let offered = world.sim.employee_by_email("hire3100@example.com").unwrap();
    assert_eq!(offered.start_date.to_string(), "2031-05-04");
    assert_eq!(world.row("3100")["start_date_source"], "pinpoint");
    // Neither: the offset chose the date, and both the report and the history say so.
    assert_eq!(world.row("3101")["start_date_source"], "offset");
    let history = world.hirebridge(&["history", "3101"]).expect(0).stdout();
    assert!(history.contains("HR must confirm it"), "{history}");
}

#[test]
fn an_update_half_applied_before_a_failure_is_finished_not_taken_for_an_edit() {
    // The phone (PUT /people) and the start date (its own route) change together; the start
    // date call fails once after the phone landed.
    let world = world_with(UPDATE_MODE);
    world.sync().expect(0);
    let id = world.entry("1001").hibob_employee_id().unwrap().to_owned();
    let mut moved = moved_start("2031-03-17");
    moved.phone = Some("+44 20 7946 0999".into());
    world.sim.add_application(moved);
    world
        .sim
        .inject(FaultRule::new(Endpoint::SetStartDate, Fault::Status(503)));
    world.sync().expect(0);
    assert_eq!(
        world.sim.employee_field(&id, "home.mobilePhone").as_deref(),
        Some("+44 20 7946 0999")
    );
    assert_ne!(world.row("1001")["drift"], "updated");
    world.sync().expect(0);
    let row = world.row("1001");
    assert_eq!(row["drift"], "updated", "{row}");
    assert_eq!(
        world.sim.employee_field(&id, "work.startDate").as_deref(),
        Some("2031-03-17")
    );
    assert_eq!(
        world.sim.count(Endpoint::UpdatePerson),
        1,
        "the phone was sent once"
    );
}

//! The configuration's specification: defaults, every refusal naming its key, secrets.

use super::*;
use crate::config::HireFlow;
use keys::Documented as _;
use secrecy::ExposeSecret;

const MINIMAL: &str = r#"
[pinpoint]
base_url = "https://acme.pinpointhq.com/api/v1"
[hibob]
site = "New York (Demo)"
[ledger]
path = "/tmp/ledger.sqlite3"
"#;

fn secrets() -> SecretSources {
    let mut s = SecretSources::default();
    for (k, v) in [
        ("PINPOINT_API_KEY", "pk"),
        ("HIBOB_SERVICE_USER_ID", "SERVICE-1"),
        ("HIBOB_SERVICE_USER_TOKEN", "tok"),
    ] {
        s.vars.insert(k.into(), v.into());
    }
    s
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("config.toml"), text, &secrets())
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

fn report_links(text: &str) -> Result<ReportLinks, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    Config::ledger_and_report_links(&path).map(|(_, links)| links)
}

#[test]
fn the_reports_links_default_to_the_tenants_host_and_refuse_a_pattern_without_the_id() {
    let links = report_links(MINIMAL).unwrap();
    assert_eq!(
        ReportLinks::to(&links.pinpoint_application, "8863880"),
        "https://acme.pinpointhq.com/admin/applications/8863880"
    );
    assert_eq!(
        ReportLinks::to(&links.hibob_employee, "3397352260643086378"),
        "https://app.hibob.com/employee-profile/3397352260643086378"
    );
    // An id is never markup or a path of its own.
    assert_eq!(
        ReportLinks::to(&links.pinpoint_application, "1/../x?y"),
        "https://acme.pinpointhq.com/admin/applications/1%2F..%2Fx%3Fy"
    );
    let custom = format!(
        "{MINIMAL}[report]\nhibob_employee_url = \"https://acme.bob.example/people/{{id}}\"\n"
    );
    assert_eq!(
        report_links(&custom).unwrap().hibob_employee,
        "https://acme.bob.example/people/{id}"
    );
    for bad in [
        "https://acme.bob.example/people",
        "javascript:alert({id})",
        "not a url {id}",
    ] {
        let text = format!("{MINIMAL}[report]\nhibob_employee_url = \"{bad}\"\n");
        let e = report_links(&text).unwrap_err().to_string();
        assert!(e.contains("report.hibob_employee_url"), "{e}");
        assert!(e.contains("{id}"), "{e}");
    }
    let unknown = format!("{MINIMAL}[report]\ncolour = \"blue\"\n");
    assert!(
        report_links(&unknown)
            .unwrap_err()
            .to_string()
            .contains("colour")
    );
}

#[test]
fn minimal_config_takes_documented_defaults() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.pinpoint.page_size, 100);
    assert_eq!(
        c.pinpoint.rate_limit,
        RateLimit {
            count: 2,
            period: Duration::from_secs(1)
        }
    );
    assert_eq!(c.hibob.rate_limit.count, 50);
    assert_eq!(c.hibob.rate_limit.period, Duration::from_secs(60));
    assert_eq!(c.hibob.start_date_offset, Duration::from_secs(14 * 86400));
    assert_eq!(c.hibob.cv_folder, CvFolder::Shared);
    assert_eq!(c.hibob.read_lag, Duration::from_secs(20));
    assert_eq!(c.schedule, Schedule::Every(Duration::from_secs(300)));
    assert_eq!(c.http.connect_timeout, Duration::from_secs(5));
    assert_eq!(c.http.request_timeout, Duration::from_secs(10));
    assert_eq!(c.http.read_retries, 2);
    assert_eq!(c.http.max_rate_limit_wait, Duration::from_secs(120));
    assert_eq!(c.sync.concurrency, 4);
}

#[test]
fn the_simulator_takes_the_files_defaults_beside_its_own_limits_and_cutoff() {
    let file = parse(MINIMAL).unwrap();
    let sim = Config::simulated(
        "http://127.0.0.1:1/pinpoint",
        "http://127.0.0.1:1/hibob",
        "pk",
        ("SERVICE-1", "tok"),
        Path::new("/tmp/ledger.sqlite3"),
    )
    .unwrap();
    assert_eq!(sim.pinpoint.page_size, file.pinpoint.page_size);
    assert_eq!(sim.pinpoint.rate_limit, RateLimit::unlimited());
    assert_eq!(sim.hibob.site, file.hibob.site);
    assert_eq!(sim.hibob.start_date_offset, file.hibob.start_date_offset);
    assert_eq!(sim.hibob.cv_folder, file.hibob.cv_folder);
    assert_eq!(sim.hibob.on_former_employee, file.hibob.on_former_employee);
    assert_eq!(sim.hibob.read_lag, file.hibob.read_lag);
    assert_eq!(sim.hibob.search_batch_size, file.hibob.search_batch_size);
    assert_eq!(sim.hibob.hire_flow, file.hibob.hire_flow);
    assert_eq!(sim.hibob.hr_reminder_after, file.hibob.hr_reminder_after);
    assert_eq!(sim.schedule, file.schedule);
    assert_eq!(
        format!("{:?}", sim.http),
        format!("{:?}", file.http),
        "the HTTP defaults"
    );
    assert_eq!(
        (sim.retry.initial, sim.retry.max),
        (file.retry.initial, file.retry.max)
    );
    assert_eq!(sim.sync.concurrency, file.sync.concurrency);
    assert_eq!(file.sync.hired_since, None);
    assert_eq!(
        sim.sync.hired_since,
        Some(HiredSince::Age(Duration::from_secs(30 * 86400)))
    );
    assert_eq!(sim.mapping.fingerprint(), file.mapping.fingerprint());
    assert_eq!(sim.mapping.on_change, file.mapping.on_change);
}

#[test]
fn the_repository_example_config_is_valid() {
    let text = include_str!("../../config.toml");
    parse(text).unwrap();
}

#[test]
fn the_example_backup_section_parses_and_keep_defaults_to_14() {
    let text = include_str!("../../config.toml");
    let section = &text[text
        .find("# [backup]")
        .expect("the example documents [backup]")..];
    let uncommented: String = section
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let config = parse(&format!("{MINIMAL}{uncommented}")).unwrap();
    assert_eq!(
        config.backup.dir.as_deref(),
        Some(Path::new("/var/lib/hirebridge-backups"))
    );
    assert_eq!(config.backup.keep, 14);
    assert_eq!(parse(MINIMAL).unwrap().backup, BackupConfig::default());
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let e = error(&MINIMAL.replace("[ledger]", "[ledger]\nfrobnicate = 1"));
    assert!(e.contains("frobnicate"), "{e}");
    assert!(e.contains("line 7"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn bad_duration_names_the_key() {
    let e = error(&MINIMAL.replace(
        "site = \"New York (Demo)\"",
        "site = \"x\"\nstart_date_offset = \"fortnight\"",
    ));
    assert!(e.contains("hibob.start_date_offset"), "{e}");
    assert!(e.contains("fortnight"), "{e}");
}

#[test]
fn bad_url_names_the_key() {
    let e = error(&MINIMAL.replace("https://acme.pinpointhq.com/api/v1", "acme dot com"));
    assert!(e.contains("pinpoint.base_url"), "{e}");
    let e = error(&MINIMAL.replace("https://acme.pinpointhq.com/api/v1", "ftp://acme/x"));
    assert!(e.contains("pinpoint.base_url"), "{e}");
}

#[test]
fn bad_rate_limits_name_the_key() {
    for bad in ["50", "0/1m", "x/1m", "5/0s", "5/soon"] {
        let e = error(&MINIMAL.replace("[hibob]", &format!("[hibob]\nrate_limit = \"{bad}\"")));
        assert!(e.contains("hibob.rate_limit"), "{bad}: {e}");
    }
}

#[test]
fn wrong_types_and_missing_sections_are_syntax_errors_with_a_line() {
    let e = error(&MINIMAL.replace("[pinpoint]", "[pinpoint]\npage_size = \"many\""));
    assert!(e.contains("line"), "{e}");
    let e = error("[pinpoint]\nbase_url = \"https://x/api\"\n");
    assert!(e.contains("hibob"), "{e}");
    let e = error("this is not toml");
    assert!(e.contains("config.toml"), "{e}");
}

#[test]
fn out_of_range_values_are_refused() {
    let e = error(&MINIMAL.replace("[pinpoint]", "[pinpoint]\npage_size = 5000"));
    assert!(e.contains("pinpoint.page_size"), "{e}");
    let e = error(&MINIMAL.replace("[hibob]", "[hibob]\ncv_folder = \"private\""));
    assert!(e.contains("hibob.cv_folder"), "{e}");
    let e = error(&MINIMAL.replace("[hibob]", "[hibob]\non_former_employee = \"rehire\""));
    assert!(
        e.contains("hibob.on_former_employee") && e.contains("\"attention\""),
        "{e}"
    );
    let e = error(&MINIMAL.replace("New York (Demo)", " "));
    assert!(e.contains("hibob.site"), "{e}");
    let e = error(&format!(
        "{MINIMAL}\n[schedule]\nevery = \"5m\"\ncron = \"0 * * * * *\""
    ));
    assert!(e.contains("schedule"), "{e}");
    let e = error(&format!(
        "{MINIMAL}\n[schedule]\ncron = \"every five minutes\""
    ));
    assert!(e.contains("schedule.cron"), "{e}");
    let e = error(&format!(
        "{MINIMAL}\n[retry]\ninitial = \"10m\"\nmax = \"1m\""
    ));
    assert!(e.contains("retry.max"), "{e}");
    let e = error(&format!("{MINIMAL}\n[retry]\nmax = \"1day\""));
    assert!(e.contains("retry.max"), "{e}");
    let e = error(&MINIMAL.replace("[hibob]", "[hibob]\nstart_date_offset = \"300000y\""));
    assert!(e.contains("hibob.start_date_offset"), "{e}");
    let e = error(&MINIMAL.replace("[hibob]", "[hibob]\nread_lag = \"2h\""));
    assert!(e.contains("hibob.read_lag"), "{e}");
    let e = error(&format!("{MINIMAL}\n[sync]\nconcurrency = 0"));
    assert!(e.contains("sync.concurrency"), "{e}");
    let e = error(&format!("{MINIMAL}\n[sync]\nhired_since = \"last spring\""));
    assert!(e.contains("sync.hired_since") && e.contains("90d"), "{e}");
    let e = error(&format!("{MINIMAL}\n[http]\nread_retries = 99"));
    assert!(e.contains("http.read_retries"), "{e}");
}

#[test]
fn the_mapping_section_is_validated_naming_the_key() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.mapping.on_change, crate::mapping::OnChange::Report);
    assert!(!c.mapping.allow_past_start_date);
    assert!(c.mapping.fields().contains(&"work.title".to_owned()));
    let c = parse(&format!(
        "{MINIMAL}\n[mapping]\non_change = \"update\"\n[mapping.fields]\n\"work.title\" = \"\"\n\"work.department\" = \"\"\n\"work.site\" = {{ template = \"{{{{ job.location }}}}\", lookup = {{ \"London office\" = \"London\" }}, on_change = \"report\" }}"
    ))
    .unwrap();
    assert_eq!(c.mapping.on_change, crate::mapping::OnChange::Update);
    assert_eq!(
        c.mapping.on_change_of("work.site"),
        crate::mapping::OnChange::Report
    );
    assert_eq!(
        c.mapping.on_change_of("home.mobilePhone"),
        crate::mapping::OnChange::Update
    );
    // Update mode with a Work-table field HiBob's update does not change: refused, naming
    // the fields and the way out.
    let e = error(&format!("{MINIMAL}\n[mapping]\non_change = \"update\""));
    assert!(
        e.contains("mapping.on_change")
            && e.contains("work.department, work.site, work.title")
            && e.contains("on_change = \"report\""),
        "{e}"
    );
    let e = error(&format!(
        "{MINIMAL}\n[mapping.fields]\n\"work.site\" = {{ template = \"x\", on_change = \"sometimes\" }}"
    ));
    assert!(e.contains("mapping.fields.\"work.site\".on_change"), "{e}");
    assert!(!c.mapping.fields().contains(&"work.title".to_owned()));
    let site = c
        .mapping
        .rules()
        .iter()
        .find(|r| r.field == "work.site")
        .unwrap();
    assert_eq!(site.lookup["London office"], "London");
    let e = error(&format!("{MINIMAL}\n[mapping]\non_change = \"overwrite\""));
    assert!(e.contains("mapping.on_change"), "{e}");
    let e = error(&format!(
        "{MINIMAL}\n[mapping.fields]\n\"work.title\" = \"{{{{ jobs.title }}}}\""
    ));
    assert!(e.contains("mapping.fields.\"work.title\""), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn the_listeners_limits_have_defaults_and_are_validated() {
    let c = parse(&format!(
        "{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:8787\""
    ))
    .unwrap();
    let w = c.webhook.unwrap();
    assert_eq!(w.limits, ListenerLimits::default());
    assert_eq!(w.metrics_listen, None);
    let c = parse(&format!(
        "{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:8787\"\nheader_timeout = \"2s\"\nidle_timeout = \"5m\"\nmax_connections = 32\nmetrics_listen = \"127.0.0.1:9464\""
    ))
    .unwrap();
    let w = c.webhook.unwrap();
    assert_eq!(w.limits.header_timeout, Duration::from_secs(2));
    assert_eq!(w.limits.idle_timeout, Duration::from_secs(300));
    assert_eq!(w.limits.max_connections, 32);
    assert_eq!(w.metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
    for (line, key) in [
        ("header_timeout = \"0s\"", "webhook.header_timeout"),
        ("body_timeout = \"soon\"", "webhook.body_timeout"),
        ("idle_timeout = \"2h\"", "webhook.idle_timeout"),
        ("max_connections = 0", "webhook.max_connections"),
        ("metrics_listen = \"port 9\"", "webhook.metrics_listen"),
        (
            "metrics_listen = \"127.0.0.1:8787\"",
            "webhook.metrics_listen",
        ),
    ] {
        let e = error(&format!(
            "{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:8787\"\n{line}"
        ));
        assert!(e.contains(key), "{line}: {e}");
    }
}

#[test]
fn cron_schedule_is_accepted() {
    let c = parse(&format!("{MINIMAL}\n[schedule]\ncron = \"0 */5 * * * *\"")).unwrap();
    assert_eq!(c.schedule, Schedule::Cron("0 */5 * * * *".into()));
}

#[test]
fn missing_secrets_say_which_variable_to_set() {
    let mut s = secrets();
    s.vars.remove("PINPOINT_API_KEY");
    let e = Config::parse(Path::new("c"), MINIMAL, &s)
        .unwrap_err()
        .to_string();
    assert!(e.contains("PINPOINT_API_KEY"), "{e}");

    let mut s = secrets();
    s.vars.remove("HIBOB_SERVICE_USER_TOKEN");
    let e = Config::parse(Path::new("c"), MINIMAL, &s)
        .unwrap_err()
        .to_string();
    assert!(e.contains("HIBOB_SERVICE_USER_TOKEN"), "{e}");
}

#[test]
fn base64_token_is_accepted_and_checked() {
    let mut s = secrets();
    s.vars.remove("HIBOB_SERVICE_USER_ID");
    s.vars.remove("HIBOB_SERVICE_USER_TOKEN");
    s.vars
        .insert("HIBOB_BASE64_TOKEN".into(), "U0VSVklDRS0xOnRvaw==".into());
    let c = Config::parse(Path::new("c"), MINIMAL, &s).unwrap();
    assert!(matches!(c.hibob.credentials, HibobCredentials::Base64(_)));

    s.vars
        .insert("HIBOB_BASE64_TOKEN".into(), "not base64 at all!".into());
    let e = Config::parse(Path::new("c"), MINIMAL, &s)
        .unwrap_err()
        .to_string();
    assert!(e.contains("HIBOB_BASE64_TOKEN"), "{e}");
    assert!(!e.contains("not base64 at all"), "secret echoed: {e}");
}

#[test]
fn outside_systemd_relative_secret_files_are_read_beside_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    // No credentials/ beside it: nothing is assumed.
    assert_eq!(
        SecretSources::for_config(&config).credentials_directory,
        std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from)
    );
    std::fs::create_dir(dir.path().join("credentials")).unwrap();
    if std::env::var_os("CREDENTIALS_DIRECTORY").is_none() {
        assert_eq!(
            SecretSources::for_config(&config).credentials_directory,
            Some(dir.path().join("credentials"))
        );
    }
}

#[test]
fn secrets_come_from_files_relative_to_the_credentials_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pinpoint"), "file-key\n").unwrap();
    let mut s = secrets();
    s.vars.remove("PINPOINT_API_KEY");
    s.credentials_directory = Some(dir.path().to_owned());
    let text = MINIMAL.replace("[hibob]", "api_key_file = \"pinpoint\"\n[hibob]");
    let c = Config::parse(Path::new("c"), &text, &s).unwrap();
    assert_eq!(c.pinpoint.api_key.expose_secret(), "file-key");

    let text = MINIMAL.replace("[hibob]", "api_key_file = \"absent\"\n[hibob]");
    let e = Config::parse(Path::new("c"), &text, &s)
        .unwrap_err()
        .to_string();
    assert!(e.contains("pinpoint.api_key_file"), "{e}");
}

#[test]
fn a_secret_without_its_variable_or_file_key_is_read_from_the_credentials_file_of_its_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pinpoint_api_key"), "named-file-key\n").unwrap();
    let mut s = secrets();
    s.vars.remove("PINPOINT_API_KEY");
    s.credentials_directory = Some(dir.path().to_owned());
    let c = Config::parse(Path::new("c"), MINIMAL, &s).unwrap();
    assert_eq!(c.pinpoint.api_key.expose_secret(), "named-file-key");
    // The variable still wins.
    s.vars.insert("PINPOINT_API_KEY".into(), "from-env".into());
    let c = Config::parse(Path::new("c"), MINIMAL, &s).unwrap();
    assert_eq!(c.pinpoint.api_key.expose_secret(), "from-env");
    // HR's Hire API header, the same way: `pending` finds it beside the others.
    std::fs::write(
        dir.path().join("hibob_hire_api_authorization"),
        "Basic aGlyZTpzZWNyZXQ=\n",
    )
    .unwrap();
    let pending = MINIMAL.replace(
        "[hibob]",
        "[hibob]\nhire_flow = \"pending\"\nhire_api_url = \"https://bob.example/hire/1\"",
    );
    let c = Config::parse(Path::new("c"), &pending, &s).unwrap();
    assert_eq!(
        c.hibob.hire_api.unwrap().authorization.expose_secret(),
        "Basic aGlyZTpzZWNyZXQ="
    );
}

#[test]
fn the_webhook_listener_is_optional_and_validated() {
    assert!(parse(MINIMAL).unwrap().webhook.is_none());
    let c = parse(&format!(
        "{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:8787\""
    ))
    .unwrap();
    let w = c.webhook.unwrap();
    assert_eq!(w.listen.to_string(), "127.0.0.1:8787");
    assert!(w.secret.is_none());

    let e = error(&format!("{MINIMAL}\n[webhook]\nlisten = \"port 80\""));
    assert!(e.contains("webhook.listen"), "{e}");
    let e = error(&format!("{MINIMAL}\n[webhook]\nlisten = \"0.0.0.0:8787\""));
    assert!(e.contains("webhook.listen"), "{e}");
    assert!(e.contains("PINPOINT_WEBHOOK_SECRET"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    parse(&format!(
        "{MINIMAL}\n[webhook]\nlisten = \"0.0.0.0:8787\"\nallow_unsigned = true"
    ))
    .unwrap();

    let mut s = secrets();
    s.vars
        .insert("PINPOINT_WEBHOOK_SECRET".into(), "whsec-1".into());
    let text = format!("{MINIMAL}\n[webhook]\nlisten = \"0.0.0.0:8787\"");
    let c = Config::parse(Path::new("c"), &text, &s).unwrap();
    let secret = c.webhook.unwrap().secret.unwrap();
    assert_eq!(secret.expose_secret(), "whsec-1");
}

#[test]
fn the_audit_section_is_optional_and_validated_naming_the_key() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.audit, AuditConfig::default());
    assert_eq!(
        c.audit
            .key_path(Path::new("/var/lib/hirebridge/ledger.sqlite3")),
        Path::new("/var/lib/hirebridge/ledger.sqlite3.audit-key")
    );
    let c = parse(&format!(
        "{MINIMAL}\n[audit]\nsigning_key_file = \"/etc/k\"\ncheckpoint_log = \"/mnt/log\"\nretain_personal_data = \"3y\""
    ))
    .unwrap();
    assert_eq!(c.audit.key_path(Path::new("x")), Path::new("/etc/k"));
    assert!(!c.audit.key_is_default());
    assert_eq!(
        c.audit.retain_personal_data,
        Some(humantime::parse_duration("3y").unwrap())
    );
    for (bad, key, says) in [
        (
            "retain_personal_data = \"3\"",
            "audit.retain_personal_data",
            "not a duration",
        ),
        (
            "retain_personal_data = \"2h\"",
            "audit.retain_personal_data",
            "shorter than a day",
        ),
        (
            "retain_personal_data = \"500y\"",
            "audit.retain_personal_data",
            "maximum",
        ),
        (
            "checkpoint_log = \"log.jsonl\"",
            "audit.checkpoint_log",
            "absolute",
        ),
        ("signing_key_file = \"\"", "audit.signing_key_file", "empty"),
        ("signing_key = \"abc\"", "signing_key", "unknown"),
    ] {
        let e = error(&format!("{MINIMAL}\n[audit]\n{bad}"));
        assert!(e.contains(key) && e.contains(says), "{bad}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

#[test]
fn the_webhook_secret_comes_from_a_file_in_the_credentials_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pinpoint_webhook_secret"), "whsec-file\n").unwrap();
    let mut s = secrets();
    s.credentials_directory = Some(dir.path().to_owned());
    let text = format!(
        "{MINIMAL}\n[webhook]\nlisten = \"[::]:8787\"\nsecret_file = \"pinpoint_webhook_secret\""
    );
    let c = Config::parse(Path::new("c"), &text, &s).unwrap();
    assert_eq!(
        c.webhook.unwrap().secret.unwrap().expose_secret(),
        "whsec-file"
    );
    let e = Config::parse(
        Path::new("c"),
        &text.replace("pinpoint_webhook_secret", "absent"),
        &s,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("webhook.secret_file"), "{e}");
}

#[test]
fn debug_output_never_shows_secrets() {
    let c = parse(MINIMAL).unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("tok\""), "{shown}");
    assert!(!shown.contains("\"pk\""), "{shown}");
}

/// The lines of the annotated file's `[section]` (or commented-out `# [section]`), up to the
/// next section's header.
fn documented_section<'a>(text: &'a str, section: &str) -> Vec<&'a str> {
    let header = |line: &str| {
        let line = line.trim().trim_start_matches('#').trim();
        (line.starts_with('[') && line.ends_with(']') && !line.contains('='))
            .then(|| line[1..line.len() - 1].to_owned())
    };
    text.lines()
        .skip_while(|l| header(l).as_deref() != Some(section))
        .skip(1)
        .take_while(|l| header(l).is_none())
        .collect()
}

/// The value a line such as `# read_lag = "20s"   # …` or `rate_limit = "2/1s"` gives `key`.
fn documented_value(line: &str, key: &str) -> Option<toml::Value> {
    let rest = line.trim_start().trim_start_matches('#').trim_start();
    let rest = rest.strip_prefix(key)?.trim_start().strip_prefix('=')?;
    let mut table: toml::Table = toml::from_str(&format!("v = {rest}")).ok()?;
    table.remove("v")
}

#[test]
fn every_key_is_documented_in_the_example_under_its_section_with_its_default() {
    let text = include_str!("../../config.toml");
    for key in keys::ALL {
        let (section, name) = key.name().split_once('.').unwrap();
        let written = documented_section(text, section)
            .iter()
            .find_map(|line| documented_value(line, name))
            .unwrap_or_else(|| {
                panic!(
                    "config.toml does not document {} under [{section}]",
                    key.name()
                )
            });
        assert!(
            key.shows_default(&written),
            "config.toml shows {} = {written}, not its default",
            key.name()
        );
    }
    // The check can fail: another value is not the default, and a key is looked for only
    // under its own section.
    assert!(!keys::READ_LAG.shows_default(&toml::Value::from("30s")));
    assert!(!keys::PAGE_SIZE.shows_default(&toml::Value::from(99)));
    assert!(!keys::CV_FOLDER.shows_default(&toml::Value::from("confidential")));
    assert!(
        documented_section(text, "http")
            .iter()
            .all(|line| documented_value(line, "read_lag").is_none())
    );
}

#[test]
fn the_key_list_walks_every_descriptor() {
    let declared = include_str!("keys.rs")
        .lines()
        .filter(|l| l.starts_with("pub const ") && !l.starts_with("pub const ALL:"))
        .count();
    assert_eq!(
        keys::ALL.len(),
        declared,
        "a descriptor is missing from keys::ALL"
    );
    let mut names: Vec<&str> = keys::ALL.iter().map(|k| k.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), keys::ALL.len(), "a key is listed twice");
}

/// `MINIMAL` with `lines` under `[hibob]`.
fn with_hibob(lines: &str) -> String {
    MINIMAL.replace("[hibob]", &format!("[hibob]\n{lines}"))
}

const PENDING: &str =
    "hire_flow = \"pending\"\nhire_api_url = \"https://bob.example/hire-api/SU-1\"";

fn with_hire_header(value: &str) -> SecretSources {
    let mut s = secrets();
    s.vars
        .insert("HIBOB_HIRE_API_AUTHORIZATION".into(), value.into());
    s
}

#[test]
fn the_hire_flow_is_direct_by_default_and_pending_takes_the_hire_apis_url_and_header() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.hibob.hire_flow, HireFlow::Direct);
    assert!(c.hibob.hire_api.is_none());
    assert_eq!(c.hibob.hr_reminder_after, Duration::from_secs(3 * 86_400));

    let text = with_hibob(&format!("{PENDING}\nhr_reminder_after = \"12h\""));
    let c = Config::parse(
        Path::new("c"),
        &text,
        &with_hire_header("Basic U0ktSElSRTpzZWNyZXQ="),
    )
    .unwrap();
    assert_eq!(c.hibob.hire_flow, HireFlow::Pending);
    let api = c.hibob.hire_api.as_ref().expect("pending has the Hire API");
    assert_eq!(api.url.as_str(), "https://bob.example/hire-api/SU-1");
    assert_eq!(
        api.authorization.expose_secret(),
        "Basic U0ktSElSRTpzZWNyZXQ="
    );
    assert_eq!(c.hibob.hr_reminder_after, Duration::from_secs(12 * 3600));
    assert!(
        !format!("{c:?}").contains("U0ktSElSRTpzZWNyZXQ="),
        "the header is never Debug-printed"
    );
    // The reconciler gets the mode as it gets the read lag; `status` and the notifications
    // read the reminder from the config.
    let settings = crate::reconcile::Settings::from_config(&c);
    assert_eq!(settings.hire_flow, HireFlow::Pending);
    assert_eq!(
        c.hibob.hr_reminder_after,
        std::time::Duration::from_secs(12 * 3600)
    );
    assert_eq!(
        ReportLinks::to(&settings.pinpoint_application_url, "4242"),
        "https://acme.pinpointhq.com/admin/applications/4242"
    );
}

#[test]
fn in_direct_mode_the_hire_api_is_optional_but_a_url_given_is_still_checked() {
    // A URL prepared before switching modes, without its header yet: fine.
    let c = parse(&with_hibob(
        "hire_api_url = \"https://bob.example/hire-api/SU-1\"",
    ))
    .unwrap();
    assert!(c.hibob.hire_api.is_none());
    let c = Config::parse(
        Path::new("c"),
        &with_hibob("hire_api_url = \"https://bob.example/hire-api/SU-1\""),
        &with_hire_header("Basic abc"),
    )
    .unwrap();
    assert_eq!(c.hibob.hire_flow, HireFlow::Direct);
    assert!(c.hibob.hire_api.is_some());
    let e = error(&with_hibob("hire_api_url = \"bob\""));
    assert!(e.contains("hibob.hire_api_url"), "{e}");
}

#[test]
fn the_hire_api_header_comes_from_its_credentials_file_beside_the_others() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hibob_hire_api_authorization"),
        "Basic from-file\n",
    )
    .unwrap();
    let mut s = secrets();
    s.credentials_directory = Some(dir.path().to_owned());
    let text = with_hibob(&format!(
        "{PENDING}\nhire_api_authorization_file = \"hibob_hire_api_authorization\""
    ));
    let c = Config::parse(Path::new("c"), &text, &s).unwrap();
    let api = c.hibob.hire_api.unwrap();
    assert_eq!(api.authorization.expose_secret(), "Basic from-file");
    // The environment wins over the file, as for every secret.
    s.vars.insert(
        "HIBOB_HIRE_API_AUTHORIZATION".into(),
        "Basic from-env".into(),
    );
    let c = Config::parse(Path::new("c"), &text, &s).unwrap();
    assert_eq!(
        c.hibob.hire_api.unwrap().authorization.expose_secret(),
        "Basic from-env"
    );
    let missing = text.replace("\"hibob_hire_api_authorization\"", "\"absent\"");
    let e = Config::parse(Path::new("c"), &missing, &secrets())
        .unwrap_err()
        .to_string();
    assert!(e.contains("hibob.hire_api_authorization_file"), "{e}");
}

#[test]
fn malformed_hire_flow_settings_are_refused_naming_the_key_and_the_fix() {
    for (lines, key, says) in [
        (
            "hire_flow = \"sometimes\"",
            "hibob.hire_flow",
            "write \"direct\" or \"pending\"",
        ),
        (
            "hire_flow = \"Pending\"",
            "hibob.hire_flow",
            "is not a hire flow",
        ),
        (
            "hire_api_url = \"not a url\"",
            "hibob.hire_api_url",
            "is not a URL",
        ),
        (
            "hire_api_url = \"ftp://bob.example/hire\"",
            "hibob.hire_api_url",
            "http:// or https://",
        ),
        (
            "hire_api_url = \"https://su-1:hunter2@bob.example/hire\"",
            "hibob.hire_api_url",
            "must not carry a user name or password",
        ),
        (
            "hire_api_url = \"https://su-1@bob.example/hire\"",
            "hibob.hire_api_url",
            "HIBOB_HIRE_API_AUTHORIZATION",
        ),
        (
            "hr_reminder_after = \"0s\"",
            "hibob.hr_reminder_after",
            "longer than zero",
        ),
        (
            "hr_reminder_after = \"soon\"",
            "hibob.hr_reminder_after",
            "is not a duration",
        ),
        (
            "hr_reminder_after = \"3\"",
            "hibob.hr_reminder_after",
            "is not a duration",
        ),
        (
            "hr_reminder_after = \"2y\"",
            "hibob.hr_reminder_after",
            "maximum of 365d",
        ),
        (
            "hire_flow = \"pending\"",
            "hibob.hire_api_url",
            "is required with hibob.hire_flow = \"pending\"",
        ),
    ] {
        let e = error(&with_hibob(lines));
        assert!(e.contains(key) && e.contains(says), "{lines}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            !e.contains("hunter2"),
            "a URL's password is never shown: {e}"
        );
    }
}

#[test]
fn pending_without_the_hire_apis_header_says_what_to_set() {
    let e = error(&with_hibob(PENDING));
    assert!(e.starts_with("missing secret"), "{e}");
    assert!(
        e.contains("HIBOB_HIRE_API_AUTHORIZATION")
            && e.contains("hibob.hire_api_authorization_file"),
        "{e}"
    );
    // A value that is no header is refused without being shown.
    let e = Config::parse(
        Path::new("c"),
        &with_hibob(PENDING),
        &with_hire_header("Basic abc\u{7}secret-xyz"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("HIBOB_HIRE_API_AUTHORIZATION"), "{e}");
    assert!(!e.contains("secret-xyz"), "the header is never shown: {e}");
}

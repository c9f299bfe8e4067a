//! `hirebridge check`: validates what a pass depends on before one runs — the config, both
//! credentials (one cheap authenticated read each), the configured site against HiBob's
//! named list, the fields hirebridge writes, the `[mapping]` (target fields exist, list values
//! are in HiBob's named lists, dates are dates), and that the ledger opens and migrates.
//!
//! It must write nothing anywhere: only read endpoints are called, and the ledger is checked
//! on a snapshot in a temporary directory, so it is safe beside a running daemon. With
//! `hibob.hire_flow = "pending"` it checks the Hire API's URL and header as configured but
//! never posts to it: Bob has no test mode, so a probe would be a fake hire in HR's queue.

use std::io::Write;
use std::path::Path;

use crate::config::Config;
use crate::contract;
use crate::hibob::{FieldInfo, HibobClient};
use crate::http::HttpClient;
use crate::ledger::Ledger;
use crate::pinpoint::PinpointClient;

/// One check's verdict, printed as `✓ name: detail` or `✗ name: detail` plus a fix hint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckResult {
    pub name: String,
    pub ok: bool,
    /// Neither proven nor disproven (nothing to look at yet): shown as `?`, not a failure.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unproven: bool,
    pub detail: String,
    /// What to do about a failure.
    pub hint: Option<String>,
}

impl CheckResult {
    fn pass(name: &str, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            ok: true,
            unproven: false,
            detail: detail.into(),
            hint: None,
        }
    }
    fn fail(name: &str, detail: impl Into<String>, hint: Option<String>) -> Self {
        Self {
            name: name.to_owned(),
            ok: false,
            unproven: false,
            detail: detail.into(),
            hint,
        }
    }
}

/// The fields hirebridge writes when it creates an employee: (create-body path, field id).
pub const WRITTEN_FIELDS: [(&str, &str); 5] = [
    ("firstName", "root.firstName"),
    ("surname", "root.surname"),
    ("email", "root.email"),
    ("work.site", "work.site"),
    ("work.startDate", "work.startDate"),
];

/// A contract finding as a check line.
fn from_finding(finding: &contract::Finding) -> CheckResult {
    CheckResult {
        name: finding.assumption.clone(),
        ok: !matches!(
            finding.outcome,
            contract::Outcome::Broken | contract::Outcome::Unchecked
        ),
        unproven: finding.outcome == contract::Outcome::Unproven,
        detail: if finding.stops_writes && finding.is_stopping() {
            format!("{} (writes stop until it holds)", finding.seen)
        } else {
            finding.seen.clone()
        },
        hint: finding.fix.clone(),
    }
}

/// HiBob ids of employees the ledger knows, for the contract probes; none when the ledger
/// does not exist or cannot be read (its own check says why).
fn witnesses(path: &Path) -> Vec<String> {
    if !path.exists() {
        return Vec::new();
    }
    Ledger::open_read_only(path)
        .and_then(|l| l.employee_witnesses(20))
        .unwrap_or_default()
}

/// Runs every check that can run; a config that does not load stops the rest.
pub async fn run(config_path: &Path) -> Vec<CheckResult> {
    run_with(
        config_path,
        &crate::config::SecretSources::for_config(config_path),
    )
    .await
}

/// [`run`], with the secrets from `secrets` (`init` checks the files it just wrote).
pub async fn run_with(
    config_path: &Path,
    secrets: &crate::config::SecretSources,
) -> Vec<CheckResult> {
    let config = match load_config(config_path, secrets) {
        Ok(config) => config,
        Err(failed) => return vec![failed],
    };
    let mut results = vec![CheckResult::pass(
        "config",
        format!("{} is valid", config_path.display()),
    )];
    let http = match HttpClient::new(&config.http) {
        Ok(http) => http,
        Err(e) => {
            results.push(CheckResult::fail(
                "http",
                format!("cannot build the HTTP client: {e}"),
                None,
            ));
            return results;
        }
    };
    let pinpoint = PinpointClient::new(http.clone(), &config.pinpoint);
    results.push(check_pinpoint(&config, &pinpoint).await);
    let hibob = HibobClient::new(http, &config.hibob);
    results.extend(check_hibob(&config, &hibob).await);
    results.extend(check_hire_api(&config));
    results.extend(check_contract(&config, &pinpoint, &hibob).await);
    results.push(check_ledger(&config.ledger.path));
    results.push(check_audit(&config));
    results
}

/// The config file, read and parsed; else the failed `config` check that stops the rest.
fn load_config(
    config_path: &Path,
    secrets: &crate::config::SecretSources,
) -> Result<Config, CheckResult> {
    std::fs::read_to_string(config_path)
        .map_err(|cause| crate::config::ConfigError::Read {
            path: config_path.to_owned(),
            cause,
        })
        .and_then(|text| Config::parse(config_path, &text, secrets))
        .map_err(|e| CheckResult::fail("config", format!("{}: {e}", config_path.display()), None))
}

async fn check_pinpoint(config: &Config, pinpoint: &PinpointClient) -> CheckResult {
    match pinpoint.probe().await {
        Ok(_) => CheckResult::pass(
            "pinpoint",
            format!(
                "the API key is accepted by {} (GET /applications, all job visibilities)",
                config.pinpoint.base_url
            ),
        ),
        Err(e) => CheckResult::fail("pinpoint", e.to_string(), None),
    }
}

/// HiBob's side, from one read of its field list: the service user, the fields hirebridge
/// writes, the configured site and the `[mapping]`. The site's list is read once and kept
/// for the mapping's check.
async fn check_hibob(config: &Config, hibob: &HibobClient) -> Vec<CheckResult> {
    let fields = match hibob.people_fields().await {
        Ok(fields) => fields,
        Err(e) => return vec![CheckResult::fail("hibob", e.to_string(), None)],
    };
    let mut results = vec![
        CheckResult::pass(
            "hibob",
            format!(
                "the service user is accepted by {} (GET /company/people/fields)",
                config.hibob.base_url
            ),
        ),
        check_fields(&fields),
    ];
    let list = fields
        .iter()
        .find(|f| f.id == "work.site" || f.json_path == "work.site")
        .and_then(|f| f.list_id.clone())
        .unwrap_or_else(|| "site".to_owned());
    let mut lists = std::collections::HashMap::new();
    let site_list = hibob.named_list(&list).await;
    results.push(match &site_list {
        Ok(values) => check_site(&config.hibob.site, &list, values),
        Err(e) => CheckResult::fail(
            "hibob.site",
            format!("cannot read HiBob's {list:?} list: {e}"),
            None,
        ),
    });
    if let Ok(values) = site_list {
        lists.insert(list, values);
    }
    results.push(check_mapping(config, &fields, hibob, &mut lists).await);
    results
}

/// With `hibob.hire_flow = "pending"`: the Hire API's URL and header as configured, never
/// posted to (nothing in direct mode). Plain http is only a warning, for a host other than
/// this machine: the header would cross the network readable.
pub fn check_hire_api(config: &Config) -> Option<CheckResult> {
    const NAME: &str = "hibob.hire_api";
    if config.hibob.hire_flow != crate::config::HireFlow::Pending {
        return None;
    }
    let never = "check never posts to the Hire API (a test post would put a fake hire in HR's \
                 Pending hires queue in Bob); the first real hire proves the header";
    let Some(api) = &config.hibob.hire_api else {
        return Some(CheckResult::fail(
            NAME,
            "hibob.hire_flow = \"pending\" without the Hire API's URL and header",
            Some(
                "set hibob.hire_api_url and HIBOB_HIRE_API_AUTHORIZATION (or \
                 hibob.hire_api_authorization_file) to what Bob shows for the Hire API integration"
                    .into(),
            ),
        ));
    };
    // Scheme and host only: the path names the integration.
    let host = api.url.host_str().unwrap_or_default();
    let mut result = CheckResult::pass(
        NAME,
        format!(
            "hires go to HR's Pending hires through {}://{host}/… with the Authorization header \
             set (not shown); {never}",
            api.url.scheme()
        ),
    );
    if api.url.scheme() == "http" && !is_loopback(&api.url) {
        result.detail = format!(
            "warning: hibob.hire_api_url is plain http:// to {host}, so the Authorization header \
             crosses the network unencrypted; {never}"
        );
        result.hint = Some("use the https:// URL Bob shows for the Hire API integration".into());
    }
    Some(result)
}

/// Whether `url` stays on this machine (where plain http exposes nothing).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The API contract: read-only probes of every assumption a pass relies on.
async fn check_contract(
    config: &Config,
    pinpoint: &PinpointClient,
    hibob: &HibobClient,
) -> Vec<CheckResult> {
    let witnesses = witnesses(&config.ledger.path);
    let probes = contract::Probes {
        pinpoint,
        hibob,
        search_batch: config.hibob.search_batch_size,
        witnesses: &witnesses,
    };
    match contract::verify(&probes, chrono::Utc::now()).await {
        Ok(report) => report.findings.iter().map(from_finding).collect(),
        Err(refused) => vec![CheckResult::fail(
            "contract",
            format!("the API contract could not be checked: {refused}"),
            None,
        )],
    }
}

fn check_fields(fields: &[FieldInfo]) -> CheckResult {
    let missing: Vec<&str> = WRITTEN_FIELDS
        .iter()
        .filter(|(path, id)| !fields.iter().any(|f| f.id == *id || f.json_path == *path))
        .map(|(_, id)| *id)
        .collect();
    if missing.is_empty() {
        CheckResult::pass(
            "hibob.fields",
            format!(
                "HiBob has every field hirebridge writes: {}",
                WRITTEN_FIELDS.map(|(_, id)| id).join(", ")
            ),
        )
    } else {
        CheckResult::fail(
            "hibob.fields",
            format!("HiBob's field list has no field {}", missing.join(", ")),
            Some(
                "HiBob lists every field whatever the service user may read, so these are \
                 missing from this tenant (or renamed): check Settings > Employee fields, and \
                 that hibob.base_url points at the right tenant"
                    .into(),
            ),
        )
    }
}

/// `; did you mean "…"?` with the candidate nearest to `given`, or nothing when there is none.
fn did_you_mean<'a>(candidates: impl IntoIterator<Item = &'a str>, given: &str) -> String {
    candidates
        .into_iter()
        .min_by_key(|c| edit_distance(&c.to_lowercase(), &given.to_lowercase()))
        .map(|c| format!("; did you mean {c:?}?"))
        .unwrap_or_default()
}

/// What the `[mapping]` check found, rule by rule: problems with their fixes, and notes for a
/// passing check.
#[derive(Default)]
struct MappingFindings {
    problems: Vec<String>,
    fixes: Vec<String>,
    notes: Vec<String>,
}

impl MappingFindings {
    fn problem(&mut self, problem: String, fix: String) {
        self.problems.push(problem);
        self.fixes.push(fix);
    }

    fn into_result(self, mapping: &crate::mapping::Mapping) -> CheckResult {
        if self.problems.is_empty() {
            let mut detail = format!(
                "every mapped field exists in HiBob: {}",
                mapping.fields().join(", ")
            );
            if !self.notes.is_empty() {
                detail.push_str(&format!("; {}", self.notes.join("; ")));
            }
            CheckResult::pass("mapping", detail)
        } else {
            CheckResult::fail(
                "mapping",
                self.problems.join("; "),
                Some(self.fixes.join("; ")),
            )
        }
    }
}

/// The `[mapping]` against HiBob: every target field exists, list-backed values that are
/// known without Pinpoint (lookup tables, static values) are values of the field's named list
/// (with the nearest valid one on a miss), and date values are dates. Lists are read once.
async fn check_mapping(
    config: &Config,
    fields: &[FieldInfo],
    hibob: &HibobClient,
    lists: &mut std::collections::HashMap<String, Vec<crate::hibob::ListValue>>,
) -> CheckResult {
    let mut found = MappingFindings::default();
    for rule in config.mapping.rules() {
        let path = crate::mapping::json_path(&rule.field);
        let Some(info) = fields
            .iter()
            .find(|f| f.id == rule.field || f.json_path == path)
        else {
            let nearest = did_you_mean(fields.iter().map(|f| f.id.as_str()), &rule.field);
            // HiBob's field metadata lists every field whatever the service user may read
            // (docs): a field missing from it is a wrong name, not a permission.
            found.problem(
                format!("HiBob has no field {:?}", rule.field),
                format!(
                    "the name is wrong (HiBob's field list shows every field, whatever the service user may read): name an existing field id in mapping.fields{nearest}"
                ),
            );
            continue;
        };
        let known = known_values(config, rule);
        let key = format!("mapping.fields.{:?}", rule.field);
        if info.field_type == "date" {
            for (value, from) in &known {
                if crate::mapping::parse_date(value).is_none() {
                    found.problem(
                        format!("{}: {value:?} ({from}) is not a date", rule.field),
                        format!("write YYYY-MM-DD dates in {key}"),
                    );
                }
            }
        }
        let Some(list) = info.list_id.clone() else {
            continue;
        };
        if known.is_empty() {
            found.notes.push(format!(
                "{} takes values from Pinpoint that must be in HiBob's {list:?} list (a miss parks the hire)",
                rule.field
            ));
            continue;
        }
        if !lists.contains_key(&list) {
            match hibob.named_list(&list).await {
                Ok(values) => {
                    lists.insert(list.clone(), values);
                }
                Err(e) => {
                    found
                        .problems
                        .push(format!("cannot read HiBob's {list:?} list: {e}"));
                    continue;
                }
            }
        }
        check_listed(&mut found, rule, &key, &list, &lists[&list], &known);
    }
    found.into_result(&config.mapping)
}

/// A rule's values known without Pinpoint, with where each comes from: the lookup table's
/// and a static template's. The configured hibob.site has its own check.
fn known_values(config: &Config, rule: &crate::mapping::FieldRule) -> Vec<(String, String)> {
    let mut known: Vec<(String, String)> = rule
        .lookup
        .iter()
        .map(|(k, v)| (v.clone(), format!("lookup {k:?}")))
        .collect();
    if let Some(v) = config.mapping.static_value(rule)
        && v != config.hibob.site
    {
        known.push((v, "the template".into()));
    }
    known
}

/// Each known value must be an active value of the field's HiBob list: a miss would park
/// every hire it renders for.
fn check_listed(
    found: &mut MappingFindings,
    rule: &crate::mapping::FieldRule,
    key: &str,
    list: &str,
    values: &[crate::hibob::ListValue],
    known: &[(String, String)],
) {
    let active: Vec<&str> = values
        .iter()
        .filter(|v| !v.archived)
        .map(|v| v.value.as_str())
        .collect();
    for (value, from) in known {
        if active.contains(&value.as_str()) {
            continue;
        }
        let nearest = did_you_mean(active.iter().copied(), value);
        found.problem(
            format!(
                "{}: {value:?} ({from}) is not a value of HiBob's {list:?} list",
                rule.field
            ),
            format!(
                "in {key} use one of: {}{nearest}",
                active
                    .iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

fn check_site(site: &str, list: &str, values: &[crate::hibob::ListValue]) -> CheckResult {
    let active: Vec<&str> = values
        .iter()
        .filter(|v| !v.archived)
        .map(|v| v.value.as_str())
        .collect();
    if active.contains(&site) {
        return CheckResult::pass(
            "hibob.site",
            format!("{site:?} is a value of HiBob's {list:?} list"),
        );
    }
    let valid = active
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let archived = values.iter().any(|v| v.archived && v.value == site);
    let nearest = did_you_mean(active.iter().copied(), site);
    let detail = if archived {
        format!("{site:?} is archived in HiBob's {list:?} list; creates would be refused")
    } else {
        format!("{site:?} is not a value of HiBob's {list:?} list; creates would be refused")
    };
    CheckResult::fail(
        "hibob.site",
        detail,
        Some(if active.is_empty() {
            format!("HiBob's {list:?} list has no active value: add the site in HiBob first")
        } else {
            format!("set hibob.site to one of: {valid}{nearest}")
        }),
    )
}

fn check_ledger(path: &Path) -> CheckResult {
    if !path.exists() {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        return match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() && !meta.permissions().readonly() => CheckResult::pass(
                "ledger",
                format!(
                    "no ledger at {} yet; the first sync creates it",
                    path.display()
                ),
            ),
            Ok(_) => CheckResult::fail(
                "ledger",
                format!("{} is not a writable directory", dir.display()),
                Some(format!(
                    "make {} writable by the user hirebridge runs as, or point ledger.path elsewhere",
                    dir.display()
                )),
            ),
            Err(_) => CheckResult::pass(
                "ledger",
                format!(
                    "no ledger at {} yet; the first sync creates it and its directory",
                    path.display()
                ),
            ),
        };
    }
    let scratch = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            return CheckResult::fail(
                "ledger",
                format!("cannot create a temporary directory to test the ledger in: {e}"),
                Some("check TMPDIR".into()),
            );
        }
    };
    match Ledger::check_migrates(path, scratch.path()) {
        Ok(found) if found.integrity == "ok" => {
            let migration = if found.found_version == found.migrated_version {
                format!("schema version {}", found.found_version)
            } else {
                format!(
                    "schema version {}, migrates to {} at the next start",
                    found.found_version, found.migrated_version
                )
            };
            CheckResult::pass("ledger", format!("{} opens; {migration}", path.display()))
        }
        Ok(found) => CheckResult::fail(
            "ledger",
            format!(
                "{} fails SQLite's integrity check: {}",
                path.display(),
                found.integrity
            ),
            Some(
                "restore the ledger from a backup; `sqlite3 <ledger> .recover` may save it".into(),
            ),
        ),
        Err(e) => CheckResult::fail("ledger", e.to_string(), None),
    }
}

/// The audit trail's key and checkpoint log, without making either.
fn check_audit(config: &Config) -> CheckResult {
    let settings = &config.audit;
    let key_path = settings.key_path(&config.ledger.path);
    let key = match crate::audit::AuditKey::load(&key_path) {
        Ok(Some(key)) => format!("checkpoints are signed with {}", key.public_hex()),
        Ok(None) => {
            let signed = Ledger::open_read_only(&config.ledger.path)
                .ok()
                .and_then(|l| l.last_checkpoint().ok().flatten());
            if let Some(signed) = signed {
                return CheckResult::fail(
                    "audit",
                    crate::audit::AuditError::KeyLost {
                        path: key_path,
                        public: signed.public_key,
                    }
                    .to_string(),
                    None,
                );
            }
            if !settings.key_is_default() {
                return CheckResult::fail(
                    "audit",
                    format!("audit.signing_key_file {} does not exist", key_path.display()),
                    Some(
                        "create it (64 hex digits: `openssl rand -hex 32`, mode 0600) or remove the key to use one made beside the ledger"
                            .into(),
                    ),
                );
            }
            format!(
                "the signing key is made at the first checkpoint, at {}",
                key_path.display()
            )
        }
        Err(e) => return CheckResult::fail("audit", e.to_string(), None),
    };
    if let Some(log) = &settings.checkpoint_log {
        let writable = if log.exists() {
            std::fs::OpenOptions::new().append(true).open(log).is_ok()
        } else {
            log.parent().is_some_and(|dir| {
                std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && !m.permissions().readonly())
            })
        };
        if !writable {
            return CheckResult::fail(
                "audit",
                format!(
                    "the checkpoint log {} cannot be appended to by this user",
                    log.display()
                ),
                Some(
                    "make it (or its directory) writable by the user hirebridge runs as; under systemd, add it to ReadWritePaths="
                        .into(),
                ),
            );
        }
        return CheckResult::pass(
            "audit",
            format!(
                "{key}; each checkpoint is also appended to {}",
                log.display()
            ),
        );
    }
    CheckResult::pass("audit", key)
}

/// Levenshtein distance over characters, for "did you mean".
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

pub fn render(results: &[CheckResult], out: &mut dyn Write) -> std::io::Result<()> {
    for r in results {
        let mark = match (r.ok, r.unproven) {
            (false, _) => '✗',
            (true, true) => '?',
            (true, false) => '✓',
        };
        writeln!(out, "{mark} {}: {}", r.name, r.detail)?;
        if let Some(hint) = &r.hint {
            writeln!(out, "    fix: {hint}")?;
        }
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    let unproven = results.iter().filter(|r| r.unproven).count();
    if failed == 0 && unproven > 0 {
        writeln!(
            out,
            "{} of {} checks passed; {unproven} cannot be proven yet (?), nothing contradicts them",
            results.len() - unproven,
            results.len()
        )
    } else if failed == 0 {
        writeln!(out, "all {} checks passed", results.len())
    } else {
        writeln!(out, "{failed} of {} checks failed", results.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hibob::ListValue;

    fn values(names: &[&str]) -> Vec<ListValue> {
        names
            .iter()
            .map(|v| ListValue {
                value: (*v).to_owned(),
                archived: false,
            })
            .collect()
    }

    #[test]
    fn a_wrong_site_lists_the_valid_ones_and_suggests_the_nearest() {
        let r = check_site(
            "New Yrok (Demo)",
            "site",
            &values(&["London", "New York (Demo)", "Tel Aviv"]),
        );
        assert!(!r.ok);
        let hint = r.hint.unwrap();
        assert!(
            hint.contains("\"London\", \"New York (Demo)\", \"Tel Aviv\""),
            "{hint}"
        );
        assert!(hint.contains("did you mean \"New York (Demo)\"?"), "{hint}");
        assert!(check_site("London", "site", &values(&["London"])).ok);
    }

    /// A config with `hibob` lines added, its Hire API header set.
    fn config_with(hibob: &str) -> Config {
        let text = format!(
            "[pinpoint]\nbase_url = \"https://acme.pinpointhq.com/api/v1\"\n\
             [hibob]\nsite = \"London\"\n{hibob}\n[ledger]\npath = \"/tmp/l.sqlite3\"\n"
        );
        let mut secrets = crate::config::SecretSources::default();
        for (k, v) in [
            ("PINPOINT_API_KEY", "pk"),
            ("HIBOB_SERVICE_USER_ID", "SERVICE-1"),
            ("HIBOB_SERVICE_USER_TOKEN", "tok"),
            ("HIBOB_HIRE_API_AUTHORIZATION", "Basic c2VjcmV0LWhlYWRlcg=="),
        ] {
            secrets.vars.insert(k.into(), v.into());
        }
        Config::parse(Path::new("c"), &text, &secrets).unwrap()
    }

    #[test]
    fn in_direct_mode_check_says_nothing_of_the_hire_api() {
        assert_eq!(check_hire_api(&config_with("")), None);
        // Even with a Hire API configured for later.
        let prepared = config_with("hire_api_url = \"https://bob.example/hire-api/SU-1\"");
        assert!(prepared.hibob.hire_api.is_some());
        assert_eq!(check_hire_api(&prepared), None);
    }

    #[test]
    fn in_pending_mode_check_validates_the_hire_api_and_says_it_never_posts() {
        let pending = "hire_flow = \"pending\"\nhire_api_url = ";
        let r = check_hire_api(&config_with(&format!(
            "{pending}\"https://bob.example/hire-api/SU-1\""
        )))
        .unwrap();
        assert!(r.ok && r.hint.is_none(), "{r:?}");
        assert!(r.detail.contains("https://bob.example/"), "{r:?}");
        assert!(r.detail.contains("never posts to the Hire API"), "{r:?}");
        assert!(r.detail.contains("fake hire"), "{r:?}");
        for shown in [&r.detail, &format!("{r:?}")] {
            assert!(!shown.contains("c2VjcmV0LWhlYWRlcg"), "the header: {shown}");
            assert!(!shown.contains("SU-1"), "the integration's path: {shown}");
        }

        // Plain http to another host: a warning with the fix, still not a failure.
        let r = check_hire_api(&config_with(&format!(
            "{pending}\"http://bob.example/hire-api/SU-1\""
        )))
        .unwrap();
        assert!(r.ok, "{r:?}");
        assert!(r.detail.starts_with("warning: "), "{r:?}");
        assert!(r.detail.contains("never posts"), "{r:?}");
        assert!(r.hint.unwrap().contains("https://"));

        // Plain http on this machine (a local proxy, the simulator): fine.
        for local in [
            "http://127.0.0.1:8080/h/SU-1",
            "http://localhost/h",
            "http://[::1]/h",
        ] {
            let r = check_hire_api(&config_with(&format!("{pending}\"{local}\""))).unwrap();
            assert!(r.ok && r.hint.is_none(), "{local}: {r:?}");
        }

        // A config built in code without the Hire API fails, saying what to set.
        let mut config = config_with(&format!("{pending}\"https://bob.example/h\""));
        config.hibob.hire_api = None;
        let r = check_hire_api(&config).unwrap();
        assert!(!r.ok);
        assert!(r.hint.unwrap().contains("HIBOB_HIRE_API_AUTHORIZATION"));
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}

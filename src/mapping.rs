//! Field mapping: which HiBob fields a new employee gets, from templates over Pinpoint's data
//! (the application, its job, its accepted offer, its custom attributes).
//!
//! Owns the `[mapping]` rules once validated: compiling the templates (minijinja, strict
//! undefined, so missing data is an error and never an empty string sent to HiBob), which
//! Pinpoint `include`s they need, rendering one hire's values, lookup tables, turning dotted
//! field paths into HiBob's nested JSON, and the fingerprint that detects drift. Pure: no I/O,
//! no clock, no SQL; it knows neither the clients nor the ledger.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::{Map, Value};

/// HiBob's field for the site; `hibob.site` is its default.
pub const SITE: &str = "work.site";
/// HiBob's field for the start date; `hibob.start_date_offset` is its fallback.
pub const START_DATE: &str = "work.startDate";

/// The variables a template may use; anything else is a config error at startup.
pub const VARIABLES: [&str; 5] = ["application", "job", "offer", "custom", "hibob"];

/// Fields hirebridge always fills from the application itself (the person's name), so no
/// mapping may change them. The email may be mapped (a work address; see [`WORK_EMAIL`]).
const IDENTITY: [&str; 4] = ["firstName", "surname", "root.firstName", "root.surname"];

/// HiBob's `email` (its work/login address): the application's email unless mapped, e.g. to
/// `first.last@company`. Found by, never updated by drift.
pub const WORK_EMAIL: [&str; 2] = ["email", "root.email"];

/// The mapping shipped by default: what Pinpoint's manual "Send to Bob" pre-fills, where
/// Pinpoint has it. Optional data is written `| default("")`: a value that renders empty is
/// left out of the create (and a start date then falls back to the configured offset).
pub const DEFAULT_FIELDS: [(&str, &str); 6] = [
    ("work.title", "{{ job.title | default(\"\") }}"),
    ("work.department", "{{ job.department | default(\"\") }}"),
    (SITE, "{{ hibob.site }}"),
    // The application's own `start_on` (recorded on live documents), then the accepted
    // offer's; neither set → the offset fallback.
    (
        START_DATE,
        "{{ application.start_on | default(\"\") or offer.start_on | default(\"\") }}",
    ),
    (
        "home.mobilePhone",
        "{{ application.phone | default(\"\") }}",
    ),
    (
        "about.socialData.linkedin",
        "{{ application.linkedin_url | default(\"\") }}",
    ),
];

/// Columns of HiBob's Work table that `PUT /people/{id}` does not update and that have no
/// route of their own hirebridge uses (the start date has one): their drift can only be
/// reported.
pub const WORK_TABLE_FIELDS: [&str; 4] = [
    "work.site",
    "work.title",
    "work.department",
    "work.reportsTo",
];

/// What to do when a done hire's mapped values change in Pinpoint. What `mapping.on_change`
/// is when left out is `config::keys::ON_CHANGE`'s default, written there once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnChange {
    /// Record the drift for a person to act on.
    Report,
    /// Apply it to HiBob (`PUT /people/{id}`) unless HiBob's value was edited since.
    Update,
}

impl OnChange {
    pub fn as_str(self) -> &'static str {
        match self {
            OnChange::Report => "report",
            OnChange::Update => "update",
        }
    }
}

/// One field's rule as configured: a template and an optional lookup table applied to what
/// it renders (`"*"` is the table's fallback entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRule {
    pub field: String,
    pub template: String,
    pub lookup: BTreeMap<String, String>,
    /// This field's own `on_change` (e.g. `"report"` for a field HiBob cannot update);
    /// `None`: `mapping.on_change`.
    pub on_change: Option<OnChange>,
}

/// Why the mapping in the config cannot be used; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config key `{key}`: {message}")]
pub struct MappingConfigError {
    pub key: String,
    pub message: String,
}

/// Why one hire's values could not be rendered: names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapped field {field}: {message}")]
pub struct RenderError {
    pub field: String,
    pub message: String,
}

/// A field path → the value rendered for it; only non-empty values are kept.
pub type Values = BTreeMap<String, String>;

/// The validated mapping, ready to render.
#[derive(Debug, Clone)]
pub struct Mapping {
    rules: Arc<Vec<FieldRule>>,
    env: Arc<minijinja::Environment<'static>>,
    pub on_change: OnChange,
    pub allow_past_start_date: bool,
    site: String,
    /// Roots and nested names the templates use (`job.department`, `offer.start_on`, …).
    used: BTreeSet<String>,
}

fn key_of(field: &str) -> String {
    format!("mapping.fields.\"{field}\"")
}

/// The error for one field's rule, named by its config key.
fn field_error(field: &str, message: impl Into<String>) -> MappingConfigError {
    MappingConfigError {
        key: key_of(field),
        message: message.into(),
    }
}

/// [`DEFAULT_FIELDS`] with `overrides` merged over them, by field path; an empty template
/// removes a field. Refuses a path HiBob cannot have and a field hirebridge fills itself.
fn merged_rules(
    overrides: Vec<FieldRule>,
) -> Result<BTreeMap<String, FieldRule>, MappingConfigError> {
    let mut by_field: BTreeMap<String, FieldRule> = DEFAULT_FIELDS
        .iter()
        .map(|(f, t)| {
            (
                (*f).to_owned(),
                FieldRule {
                    field: (*f).to_owned(),
                    template: (*t).to_owned(),
                    lookup: BTreeMap::new(),
                    on_change: None,
                },
            )
        })
        .collect();
    for rule in overrides {
        let field = rule.field.trim();
        let valid_path = !field.is_empty()
            && field.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !valid_path {
            return Err(field_error(
                &rule.field,
                "is not a HiBob field path; write its id or JSON path, e.g. \"work.title\" or \"about.socialData.linkedin\"",
            ));
        }
        if IDENTITY.contains(&field) {
            return Err(field_error(
                field,
                "is always filled from the application's name; remove it from [mapping.fields]",
            ));
        }
        if rule.template.trim().is_empty() {
            by_field.remove(field);
        } else {
            by_field.insert(field.to_owned(), rule);
        }
    }
    Ok(by_field)
}

/// Compiles every rule's template into one environment, and collects the variables they use
/// (which decide the Pinpoint `include`s). Refuses a template that does not parse or uses
/// anything but [`VARIABLES`].
fn compile(
    rules: &BTreeMap<String, FieldRule>,
) -> Result<(minijinja::Environment<'static>, BTreeSet<String>), MappingConfigError> {
    let mut env = minijinja::Environment::new();
    // Missing data is an error, never an empty string sent to HiBob.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Values are sent as JSON, not HTML: no escaping.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    let mut used = BTreeSet::new();
    for rule in rules.values() {
        env.add_template_owned(rule.field.clone(), rule.template.clone())
            .map_err(|e| {
                field_error(
                    &rule.field,
                    format!(
                        "the template {:?} does not parse ({}); see the minijinja syntax, e.g. \"{{{{ job.title }}}}\"",
                        rule.template,
                        e.detail().unwrap_or(&e.to_string())
                    ),
                )
            })?;
        let template = env
            .get_template(&rule.field)
            .map_err(|e| field_error(&rule.field, e.to_string()))?;
        for name in template.undeclared_variables(true) {
            check_variable(&rule.field, &name)?;
            used.insert(name);
        }
    }
    Ok((env, used))
}

/// A template may use [`VARIABLES`] only, and of `hibob` only its site.
fn check_variable(field: &str, name: &str) -> Result<(), MappingConfigError> {
    let root = name.split('.').next().unwrap_or("");
    if !VARIABLES.contains(&root) {
        return Err(field_error(
            field,
            format!(
                "the template uses {name:?}, which is not a variable; use application, job, offer, custom or hibob (e.g. \"{{{{ job.title }}}}\")"
            ),
        ));
    }
    if root == "hibob" && name != "hibob" && name != "hibob.site" {
        return Err(field_error(
            field,
            format!("the template uses {name:?}; the only hibob variable is hibob.site"),
        ));
    }
    Ok(())
}

/// Refuses `update` for a Work-table field: HiBob would answer an update with success and keep
/// the old value, so the drift would be reported as applied when it was not.
fn check_work_table_updates(
    rules: &BTreeMap<String, FieldRule>,
    on_change: OnChange,
) -> Result<(), MappingConfigError> {
    let table: Vec<&FieldRule> = rules
        .values()
        .filter(|r| {
            WORK_TABLE_FIELDS.contains(&r.field.as_str())
                && r.on_change.unwrap_or(on_change) == OnChange::Update
        })
        .collect();
    let Some(first) = table.first() else {
        return Ok(());
    };
    Err(MappingConfigError {
        key: "mapping.on_change".into(),
        message: format!(
            "\"update\" cannot apply drift to {}: HiBob's PUT /people/{{id}} does not update Work-table fields (docs), so an update would be reported as done while HiBob kept the old value. Keep their drift reported, field by field, e.g. \"{}\" = {{ template = {:?}, on_change = \"report\" }} in [mapping.fields] (the start date is updated through its own route), or set mapping.on_change = \"report\"",
            table
                .iter()
                .map(|r| r.field.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            first.field,
            first.template
        ),
    })
}

impl Mapping {
    /// Validates and compiles: template syntax, known variables, no identity field. Needs no
    /// network; whether HiBob has the fields and list values is `hirebridge check`'s job.
    /// `overrides` are merged over [`DEFAULT_FIELDS`]; an empty template removes a field.
    pub fn new(
        overrides: Vec<FieldRule>,
        on_change: OnChange,
        allow_past_start_date: bool,
        site: &str,
    ) -> Result<Self, MappingConfigError> {
        let by_field = merged_rules(overrides)?;
        let (env, used) = compile(&by_field)?;
        check_work_table_updates(&by_field, on_change)?;
        Ok(Mapping {
            rules: Arc::new(by_field.into_values().collect()),
            env: Arc::new(env),
            on_change,
            allow_past_start_date,
            site: site.to_owned(),
            used,
        })
    }

    /// A mapping with no rules of its own, for unit tests (a running hirebridge takes its
    /// mapping from the config, whose defaults are `config::keys`').
    #[cfg(test)]
    pub fn default_for(site: &str) -> Self {
        Self::new(Vec::new(), OnChange::Report, false, site).expect("the default mapping is valid")
    }

    pub fn rules(&self) -> &[FieldRule] {
        &self.rules
    }

    /// What drift of `field` does: its own `on_change`, else the mapping's. A work address
    /// is a login: its drift is only ever reported.
    pub fn on_change_of(&self, field: &str) -> OnChange {
        if WORK_EMAIL.contains(&field) {
            return OnChange::Report;
        }
        self.rules
            .iter()
            .find(|r| r.field == field)
            .and_then(|r| r.on_change)
            .unwrap_or(self.on_change)
    }

    /// The mapped field paths, in order.
    pub fn fields(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.field.clone()).collect()
    }

    /// What the Pinpoint reads must `include` for these templates: `job` always (its title is
    /// kept in the ledger), the rest only when a template refers to it.
    pub fn pinpoint_includes(&self) -> Vec<&'static str> {
        let uses = |prefix: &str| {
            self.used
                .iter()
                .any(|n| n == prefix || n.starts_with(&format!("{prefix}.")))
        };
        let mut includes = vec!["job"];
        if uses("job.department") {
            includes.push("job.department");
        }
        if uses("job.location") {
            includes.push("job.location");
        }
        if uses("offer") {
            includes.push("offers");
        }
        if uses("custom") {
            // The key lives on the related custom field (docs).
            includes.push("custom_attributes.custom_field");
        }
        includes
    }

    /// A fingerprint of the rules themselves: when HR changes the mapping, stored values are
    /// re-baselined instead of being reported as drift on every hire.
    pub fn fingerprint(&self) -> String {
        let mut text = format!("{}\u{5}", self.site);
        for r in self.rules.iter() {
            text.push_str(&r.field);
            text.push('\u{1}');
            text.push_str(&r.template);
            for (k, v) in &r.lookup {
                text.push('\u{2}');
                text.push_str(k);
                text.push('\u{3}');
                text.push_str(v);
            }
            if let Some(mode) = r.on_change {
                text.push('\u{6}');
                text.push_str(mode.as_str());
            }
            text.push('\u{4}');
        }
        format!("{:016x}", fnv1a(text.as_bytes()))
    }

    /// Renders every field for one hire from its Pinpoint data (see
    /// [`crate::pinpoint::HiredApplication::source`]). Values that render empty are left out;
    /// undefined data, a lookup miss or a malformed date is an error naming field and value.
    pub fn render(&self, source: &Value) -> Result<Values, RenderError> {
        // A live document is full of nulls (`linkedin_url`, `start_on`, `phone`, …). Null is
        // absent data: left out, so `| default("")` applies and a template without a default
        // names the missing field, instead of HiBob receiving the text "none".
        let mut context = match without_nulls(source) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        // Every root is an object, so `offer.start_on | default("")` works without an offer.
        for root in ["application", "job", "offer", "custom"] {
            context
                .entry(root)
                .or_insert_with(|| Value::Object(Map::new()));
        }
        context.insert(
            "hibob".into(),
            serde_json::json!({ "site": self.site.clone() }),
        );
        let context = minijinja::Value::from(minijinja::value::Serde(Value::Object(context)));
        let mut values = Values::new();
        for rule in self.rules.iter() {
            let template = self
                .env
                .get_template(&rule.field)
                .map_err(|e| RenderError {
                    field: rule.field.clone(),
                    message: e.to_string(),
                })?;
            let rendered = template
                .render(&context)
                .map_err(|e| RenderError {
                    field: rule.field.clone(),
                    message: format!(
                        "{} cannot be filled from this application ({}); add the data in Pinpoint, or mark it optional with | default(\"\") in [mapping.fields]",
                        rule.template,
                        e.detail().map_or_else(|| e.kind().to_string(), str::to_owned)
                    ),
                })?
                .trim()
                .to_owned();
            if rendered.is_empty() {
                continue;
            }
            let value = if rule.lookup.is_empty() {
                rendered
            } else {
                match rule.lookup.get(&rendered).or_else(|| rule.lookup.get("*")) {
                    Some(v) => v.clone(),
                    None => {
                        return Err(RenderError {
                            field: rule.field.clone(),
                            message: format!(
                                "Pinpoint's value {rendered:?} is not in its lookup table; add it to {}.lookup (or a \"*\" fallback entry)",
                                key_of(&rule.field)
                            ),
                        });
                    }
                }
            };
            if value.trim().is_empty() {
                continue;
            }
            let value = if rule.field == START_DATE {
                parse_date(&value)
                    .ok_or_else(|| RenderError {
                        field: rule.field.clone(),
                        message: format!(
                            "{value:?} is not a date; HiBob needs YYYY-MM-DD (fix the offer in Pinpoint or the template)"
                        ),
                    })?
                    .format("%Y-%m-%d")
                    .to_string()
            } else {
                value
            };
            values.insert(rule.field.clone(), value);
        }
        Ok(values)
    }

    /// The work address the mapping gives this hire (`email`), when it maps one and it
    /// renders; `None` otherwise (the application's email is then the work address).
    pub fn work_email(&self, source: &Value) -> Option<String> {
        if !self
            .rules
            .iter()
            .any(|r| WORK_EMAIL.contains(&r.field.as_str()))
        {
            return None;
        }
        let values = self.render(source).ok()?;
        WORK_EMAIL.iter().find_map(|f| values.get(*f).cloned())
    }

    /// Renders the templates that need no Pinpoint data (static values, `hibob.site`), for
    /// `check`; `None` for a field whose value comes from Pinpoint.
    pub fn static_value(&self, rule: &FieldRule) -> Option<String> {
        let template = self.env.get_template(&rule.field).ok()?;
        let needs_pinpoint = template
            .undeclared_variables(false)
            .iter()
            .any(|v| v != "hibob");
        if needs_pinpoint {
            return None;
        }
        let context = minijinja::Value::from(minijinja::value::Serde(
            serde_json::json!({ "hibob": { "site": self.site.clone() } }),
        ));
        template
            .render(context)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

/// The value with every null object member left out, at any depth (array items are kept).
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// `YYYY-MM-DD`, or the date part of an RFC 3339 time.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.date_naive())
        })
}

/// Where a field goes in a HiBob body: its JSON path. A field id such as `root.firstName`
/// lives at the top level (`firstName`); every other id is its own path (`work.title`).
pub fn json_path(field: &str) -> &str {
    field.strip_prefix("root.").unwrap_or(field)
}

/// HiBob's nested JSON from dotted field paths: `work.title` → `{"work": {"title": …}}`, a
/// root field such as `firstName` stays top-level.
pub fn nested_body<'a>(values: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    let mut body = Map::new();
    for (field, value) in values {
        let parts: Vec<&str> = json_path(field).split('.').collect();
        let mut node = &mut body;
        for part in &parts[..parts.len() - 1] {
            let entry = node
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            node = entry.as_object_mut().expect("just made an object");
        }
        node.insert(
            parts[parts.len() - 1].to_owned(),
            Value::String(value.to_owned()),
        );
    }
    Value::Object(body)
}

/// The fields whose values differ between two renderings (added, removed or changed).
pub fn changed_fields(before: &Values, after: &Values) -> Vec<String> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

/// 64-bit FNV-1a: stable across builds and platforms, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(field: &str, template: &str) -> FieldRule {
        FieldRule {
            field: field.into(),
            template: template.into(),
            lookup: BTreeMap::new(),
            on_change: None,
        }
    }

    fn mapping(rules: Vec<FieldRule>) -> Result<Mapping, MappingConfigError> {
        Mapping::new(rules, OnChange::Report, false, "New York (Demo)")
    }

    fn source() -> Value {
        json!({
            "application": {"id": "1001", "first_name": "Ada", "phone": "+44 20 7946 0000"},
            "job": {"title": "Analytical Engineer", "department": "Engineering", "location": "London office"},
            "offer": {"start_on": "2026-12-07", "status": "accepted"},
            "custom": {"employment_type": "Full-time"},
        })
    }

    #[test]
    fn the_default_mapping_fills_what_pinpoint_has_and_leaves_out_the_rest() {
        let values = Mapping::default_for("London").render(&source()).unwrap();
        assert_eq!(
            values,
            BTreeMap::from([
                ("home.mobilePhone".to_owned(), "+44 20 7946 0000".to_owned()),
                ("work.department".into(), "Engineering".into()),
                ("work.site".into(), "London".into()),
                ("work.startDate".into(), "2026-12-07".into()),
                ("work.title".into(), "Analytical Engineer".into()),
            ])
        );
        let bare = Mapping::default_for("London")
            .render(&json!({"application": {"id": "1"}}))
            .unwrap();
        assert_eq!(bare.keys().collect::<Vec<_>>(), ["work.site"]);
    }

    #[test]
    fn missing_data_is_an_error_naming_the_field_not_an_empty_value() {
        let m = mapping(vec![rule("work.department", "{{ job.division }}")]).unwrap();
        let e = m.render(&source()).unwrap_err();
        assert_eq!(e.field, "work.department");
        assert!(e.to_string().contains("job.division"), "{e}");
        assert!(e.to_string().contains("default(\"\")"), "{e}");
    }

    #[test]
    fn lookup_tables_translate_and_a_miss_names_the_value() {
        let mut site = rule("work.site", "{{ job.location }}");
        site.lookup.insert("London office".into(), "London".into());
        let m = mapping(vec![site.clone()]).unwrap();
        assert_eq!(m.render(&source()).unwrap()["work.site"], "London");
        let mut other = source();
        other["job"]["location"] = json!("Paris");
        let e = m.render(&other).unwrap_err();
        assert_eq!(e.field, "work.site");
        assert!(e.message.contains("\"Paris\""), "{e}");
        site.lookup.insert("*".into(), "Tel Aviv".into());
        let m = mapping(vec![site]).unwrap();
        assert_eq!(m.render(&other).unwrap()["work.site"], "Tel Aviv");
    }

    #[test]
    fn bad_templates_and_unknown_variables_are_config_errors_naming_the_key() {
        let e = mapping(vec![rule("work.title", "{{ job.title ")]).unwrap_err();
        assert_eq!(e.key, "mapping.fields.\"work.title\"");
        let e = mapping(vec![rule("work.title", "{{ candidate.title }}")]).unwrap_err();
        assert!(e.message.contains("candidate.title"), "{e}");
        let e = mapping(vec![rule("firstName", "{{ application.first_name }}")]).unwrap_err();
        assert!(e.message.contains("application's name"), "{e}");
        // The work address may be mapped.
        assert!(mapping(vec![rule("email", "{{ application.email }}")]).is_ok());
        let e = mapping(vec![rule("work title", "x")]).unwrap_err();
        assert!(e.message.contains("field path"), "{e}");
    }

    #[test]
    fn dates_are_normalised_and_checked() {
        let m = mapping(vec![rule("work.startDate", "{{ offer.start_on }}")]).unwrap();
        let mut s = source();
        s["offer"]["start_on"] = json!("2026-12-07T00:00:00+01:00");
        assert_eq!(m.render(&s).unwrap()["work.startDate"], "2026-12-07");
        s["offer"]["start_on"] = json!("next monday");
        let e = m.render(&s).unwrap_err();
        assert!(e.to_string().contains("next monday"), "{e}");
    }

    #[test]
    fn the_start_date_is_the_applications_then_the_offers_and_nulls_are_absent_data() {
        let m = Mapping::default_for("London");
        let source = |start_on: Value, offer: Value| {
            json!({"application": {"start_on": start_on, "phone": null, "linkedin_url": null},
                   "job": {"title": "Engineer", "department": null}, "offer": offer})
        };
        let both = m
            .render(&source(
                json!("2026-12-07"),
                json!({"start_on": "2027-01-04"}),
            ))
            .unwrap();
        assert_eq!(both[START_DATE], "2026-12-07", "the application's own wins");
        let offer_only = m
            .render(&source(Value::Null, json!({"start_on": "2027-01-04"})))
            .unwrap();
        assert_eq!(offer_only[START_DATE], "2027-01-04");
        let neither = m.render(&source(Value::Null, Value::Null)).unwrap();
        assert!(
            !neither.contains_key(START_DATE),
            "the offset decides: {neither:?}"
        );
        // Null phone, LinkedIn and department are left out, never sent as "none".
        assert_eq!(
            neither.keys().collect::<Vec<_>>(),
            ["work.site", "work.title"],
            "{neither:?}"
        );
        // A template without a default names the null field it needs.
        let strict = mapping(vec![rule("work.department", "{{ job.department }}")]).unwrap();
        let e = strict
            .render(&source(Value::Null, Value::Null))
            .unwrap_err();
        assert_eq!(e.field, "work.department");
    }

    #[test]
    fn includes_follow_what_the_templates_use() {
        assert_eq!(
            Mapping::default_for("x").pinpoint_includes(),
            ["job", "job.department", "offers"]
        );
        let m = mapping(vec![
            rule("work.department", ""),
            rule("work.startDate", ""),
            rule("work.custom", "{{ custom.employment_type }}"),
        ])
        .unwrap();
        assert_eq!(
            m.pinpoint_includes(),
            ["job", "custom_attributes.custom_field"]
        );
    }

    #[test]
    fn bodies_nest_by_category_and_keep_root_fields_on_top() {
        let body = nested_body([
            ("root.firstName", "Ada"),
            ("email", "ada@example.com"),
            ("work.title", "Engineer"),
            ("work.site", "London"),
            ("about.socialData.linkedin", "https://linkedin.com/in/ada"),
        ]);
        assert_eq!(
            body,
            json!({"firstName": "Ada", "email": "ada@example.com",
                   "work": {"title": "Engineer", "site": "London"},
                   "about": {"socialData": {"linkedin": "https://linkedin.com/in/ada"}}})
        );
    }

    #[test]
    fn the_fingerprint_changes_with_the_rules_only() {
        let a = Mapping::default_for("x");
        assert_eq!(a.fingerprint(), Mapping::default_for("x").fingerprint());
        let b = mapping(vec![rule("work.title", "{{ job.title }}")]).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(
            changed_fields(
                &BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]),
                &BTreeMap::from([("a".into(), "1".into()), ("c".into(), "3".into())])
            ),
            ["b", "c"]
        );
    }
}

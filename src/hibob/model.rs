//! HiBob's JSON shapes, parsed leniently where the public record is thin (the documents list,
//! ids that might arrive as numbers) and strictly where a wrong guess would adopt the wrong
//! person (an employee id must be present).

use serde_json::Value;

// The domain's types this client translates HiBob's answers into (and a create from).
pub use crate::employee::{FoundEmployee, NewEmployee};

/// The nested JSON HiBob's `POST /people` wants for `new` (categories as objects, not dotted
/// keys).
pub fn create_body(new: &NewEmployee) -> Value {
    let written = new.written();
    let identity = [
        ("firstName", new.first_name.as_str()),
        ("surname", new.surname.as_str()),
        ("email", new.email.as_str()),
    ];
    crate::mapping::nested_body(
        identity
            .into_iter()
            .chain(written.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    )
}

/// One employee's current values of some fields, from `POST /people/search`: by field path,
/// `None` where HiBob holds no value.
pub type CurrentValues = std::collections::BTreeMap<String, Option<String>>;

/// The values of `fields` for the employee `id` in a search answer; `None` when the answer
/// does not hold that employee. HiBob nests fields by category (`{"work": {"title"}}`);
/// a flat dotted key is accepted too, and a list value's display `value`/`name`.
pub fn employee_values(
    body: &[u8],
    id: &str,
    fields: &[String],
) -> Result<Option<CurrentValues>, String> {
    let doc = parse(body)?;
    let list = doc
        .get("employees")
        .and_then(Value::as_array)
        .ok_or("`employees` is not an array")?;
    let Some(employee) = list.iter().find(|e| {
        e.get("id")
            .or_else(|| e.get("root")?.get("id"))
            .and_then(id_of)
            .as_deref()
            == Some(id)
    }) else {
        return Ok(None);
    };
    let scalar = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Object(o) => ["value", "name"]
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_str))
                .map(str::to_owned),
            _ => None,
        }
    };
    let lookup = |node: &Value, field: &str| -> Option<String> {
        let path = crate::mapping::json_path(field);
        path.split('.')
            .try_fold(node, |node, part| node.get(part))
            .or_else(|| node.get(path))
            .or_else(|| node.get(field))
            .and_then(scalar)
    };
    let human = employee.get("humanReadable");
    Ok(Some(
        fields
            .iter()
            .map(|field| {
                let machine = lookup(employee, field);
                // Dates by their machine value (`YYYY-MM-DD`; the display form follows the
                // service user's locale); everything else by its display value, which is
                // what was written (a list field's machine value is an item id).
                let is_date = machine
                    .as_deref()
                    .is_some_and(|v| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok());
                let value = if is_date {
                    machine
                } else {
                    human.and_then(|h| lookup(h, field)).or(machine)
                };
                (field.clone(), value)
            })
            .collect(),
    ))
}

/// A document in an employee's folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: Option<String>,
    pub name: String,
}

/// HiBob ids are ~19-digit numbers sent as strings; a number is accepted but never passed
/// through a float.
fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

fn parse(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

/// A field asked as `category.name`: nested under the category, or flat under the dotted
/// path; blank is absent.
fn nested_text(employee: &Value, category: &str, name: &str) -> Option<String> {
    employee
        .get(category)
        .and_then(|c| c.get(name))
        .or_else(|| employee.get(format!("{category}.{name}").as_str()))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub fn found_employees(body: &[u8]) -> Result<Vec<FoundEmployee>, String> {
    employees(body)?.iter().map(found_employee).collect()
}

/// The `employees` array of a search answer.
fn employees(body: &[u8]) -> Result<Vec<Value>, String> {
    match parse(body)?.get_mut("employees").map(Value::take) {
        Some(Value::Array(list)) => Ok(list),
        _ => Err("`employees` is not an array".into()),
    }
}

/// One employee of a search answer; an id is required (an employee without one could be
/// adopted as nobody).
pub(crate) fn found_employee(e: &Value) -> Result<FoundEmployee, String> {
    // Depending on the fields asked for, HiBob nests root fields under "root" or not.
    let field = |name: &str| e.get(name).or_else(|| e.get("root")?.get(name));
    let id = field("id")
        .and_then(id_of)
        .ok_or("an employee in the answer has no `id`")?;
    // An employee without a readable email is kept (found by a private address, or simply
    // matching nothing), never dropped silently.
    let email = field("email").and_then(Value::as_str).unwrap_or_default();
    let nested = |category: &str, name: &str| nested_text(e, category, name);
    Ok(FoundEmployee {
        id: id.into(),
        email: email.trim().to_owned(),
        lifecycle_status: nested("internal", "lifecycleStatus"),
        termination_date: nested("internal", "terminationDate"),
        private_email: nested("home", "privateEmail"),
    })
}

/// One person in an unfiltered search, as a contract probe sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedPerson {
    pub id: String,
    /// `internal.lifecycleStatus`, when HiBob sent it.
    pub lifecycle_status: Option<String>,
    /// `internal.terminationDate`, when HiBob sent one.
    pub termination_date: Option<String>,
    /// The answer carried a `humanReadable` section for them (asked with `APPEND`).
    pub human_readable: bool,
}

/// Parses an unfiltered search asked for the fields hirebridge reads, with `humanReadable`.
pub fn probed_people(body: &[u8]) -> Result<Vec<ProbedPerson>, String> {
    // Read as a lookup reads them; someone without an id is left out of a probe's count.
    Ok(employees(body)?
        .iter()
        .filter_map(|e| {
            let found = found_employee(e).ok()?;
            Some(ProbedPerson {
                id: found.id.into(),
                lifecycle_status: found.lifecycle_status,
                termination_date: found.termination_date,
                human_readable: e.get("humanReadable").is_some_and(Value::is_object),
            })
        })
        .collect())
}

pub fn created_employee_id(body: &[u8]) -> Result<String, String> {
    let doc = parse(body)?;
    doc.get("id")
        .and_then(id_of)
        .ok_or_else(|| "the created employee has no `id`".into())
}

pub fn documents(body: &[u8]) -> Result<Vec<Document>, String> {
    let doc = parse(body)?;
    // The documented shape is {"documents": [...]}; a bare array is accepted too.
    let list = doc
        .get("documents")
        .and_then(Value::as_array)
        .or_else(|| doc.as_array())
        .ok_or("`documents` is not an array")?;
    Ok(list
        .iter()
        .filter_map(|d| {
            let name = ["documentName", "name"]
                .iter()
                .find_map(|k| d.get(*k).and_then(Value::as_str))?;
            Some(Document {
                id: d.get("id").and_then(id_of),
                name: name.to_owned(),
            })
        })
        .collect())
}

/// How many documents a list holds, or why it is not the shape [`documents`] reads: unlike
/// it, a document without a name is an error (the contract probe must not take a reshaped
/// list for an empty one).
pub fn documents_strictly(body: &[u8]) -> Result<usize, String> {
    let doc = parse(body)?;
    let list = doc
        .get("documents")
        .and_then(Value::as_array)
        .or_else(|| doc.as_array())
        .ok_or("`documents` is not an array")?;
    match list.iter().position(|d| {
        !["documentName", "name"]
            .iter()
            .any(|k| d.get(*k).and_then(Value::as_str).is_some())
    }) {
        Some(i) => Err(format!(
            "document {i} has neither `documentName` nor `name`"
        )),
        None => Ok(list.len()),
    }
}

pub fn uploaded_document_id(body: &[u8]) -> Result<String, String> {
    let doc = parse(body)?;
    doc.get("id")
        .and_then(id_of)
        .ok_or_else(|| "the uploaded document has no `id`".into())
}

/// One employee field from `GET /company/people/fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// e.g. `root.email`, `work.site`.
    pub id: String,
    /// e.g. `email`, `work.site`: the path in a create body.
    pub json_path: String,
    pub field_type: String,
    /// For list fields: the named list the values come from.
    pub list_id: Option<String>,
}

pub fn people_fields(body: &[u8]) -> Result<Vec<FieldInfo>, String> {
    let doc = parse(body)?;
    // An array, or (tolerated) wrapped as {"fields": [...]}.
    let list = doc
        .as_array()
        .or_else(|| doc.get("fields").and_then(Value::as_array))
        .ok_or("the field list is neither an array nor `fields`")?;
    Ok(list
        .iter()
        .filter_map(|f| {
            let id = f.get("id").and_then(Value::as_str)?.to_owned();
            let json_path = f
                .get("jsonPath")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_owned();
            Some(FieldInfo {
                field_type: f
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                list_id: f
                    .get("typeData")
                    .and_then(|t| t.get("listId"))
                    .and_then(|l| l.as_str().map(str::to_owned).or_else(|| id_of(l))),
                id,
                json_path,
            })
        })
        .collect())
}

/// One value of a named list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListValue {
    pub value: String,
    pub archived: bool,
}

/// `{"name", "values": [...]}`; clients disagree on `values` vs `items`, so both are read.
pub fn named_list(body: &[u8]) -> Result<Vec<ListValue>, String> {
    let doc = parse(body)?;
    let list = ["values", "items"]
        .iter()
        .find_map(|k| doc.get(*k).and_then(Value::as_array))
        .ok_or("the named list has neither `values` nor `items`")?;
    let mut out = Vec::new();
    collect_list_values(list, false, &mut out);
    Ok(out)
}

/// Items of a named list and, depth first, their `children` (a department hierarchy nests
/// them): every item at any depth is a value. A child of an archived item is archived too.
fn collect_list_values(items: &[Value], archived_parent: bool, out: &mut Vec<ListValue>) {
    for item in items {
        let archived = archived_parent
            || item
                .get("archived")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        if let Some(value) = ["value", "name"]
            .iter()
            .find_map(|k| item.get(*k).and_then(Value::as_str))
        {
            out.push(ListValue {
                value: value.to_owned(),
                archived,
            });
        }
        if let Some(children) = item.get("children").and_then(Value::as_array) {
            collect_list_values(children, archived, out);
        }
    }
}

/// HiBob's error body `{"key","error","args"}` as (key, one-line message).
pub fn error_body(body: &[u8]) -> (Option<String>, String) {
    let doc: Option<Value> = serde_json::from_slice(body).ok();
    let key = doc
        .as_ref()
        .and_then(|d| d.get("key"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let message = doc
        .as_ref()
        .and_then(|d| d.get("error"))
        .and_then(Value::as_str)
        .map(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| crate::http::excerpt(body));
    let message = match &key {
        Some(k) => format!("{message} [{k}]"),
        None => message,
    };
    (key, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn search_answers_parse_flat_or_nested() {
        let flat = br#"{"employees":[{"id":"3397352260643062621","email":"ada@example.com"}]}"#;
        let nested =
            br#"{"employees":[{"root":{"id":"3397352260643062621","email":"ada@example.com"}}]}"#;
        for body in [&flat[..], &nested[..]] {
            assert_eq!(
                found_employees(body).unwrap(),
                vec![FoundEmployee {
                    id: "3397352260643062621".into(),
                    email: "ada@example.com".into(),
                    lifecycle_status: None,
                    termination_date: None,
                    private_email: None,
                }]
            );
        }
        assert_eq!(found_employees(br#"{"employees":[]}"#).unwrap(), vec![]);
    }

    #[test]
    fn nineteen_digit_numeric_ids_keep_every_digit() {
        let body = br#"{"id": 3628748460116673185}"#;
        assert_eq!(created_employee_id(body).unwrap(), "3628748460116673185");
        assert!(created_employee_id(br#"{"id": 1.5}"#).is_err());
    }

    #[test]
    fn broken_answers_are_errors() {
        assert!(found_employees(b"<html>cloudflare</html>").is_err());
        assert!(found_employees(br#"{"employees":[{"email":"x@y"}]}"#).is_err());
        assert!(created_employee_id(br#"{"firstName":"Ada""#).is_err());
        assert!(documents(br#"{"documents": 3}"#).is_err());
        assert!(uploaded_document_id(b"{}").is_err());
    }

    #[test]
    fn documents_accept_both_name_fields() {
        let body = br#"{"documents":[{"documentName":"CV.pdf","id":15587714},{"name":"Other"},{"downloadLink":"x"}]}"#;
        assert_eq!(
            documents(body).unwrap(),
            vec![
                Document {
                    id: Some("15587714".into()),
                    name: "CV.pdf".into()
                },
                Document {
                    id: None,
                    name: "Other".into()
                }
            ]
        );
    }

    #[test]
    fn list_fields_are_compared_by_display_value_and_dates_by_machine_value() {
        // humanReadable: APPEND, as HiBob answers it: machine values (a list item id, an ISO
        // date) with the display values beside them.
        let body = br#"{"employees":[{"id":"1",
            "work":{"department":"209192163","startDate":"2026-12-07","title":"Engineer"},
            "humanReadable":{"work":{"department":"Engineering","startDate":"07/12/2026","title":"Engineer"}}}]}"#;
        let fields: Vec<String> = ["work.department", "work.startDate", "work.title"]
            .map(String::from)
            .to_vec();
        let values = employee_values(body, "1", &fields).unwrap().unwrap();
        assert_eq!(values["work.department"].as_deref(), Some("Engineering"));
        assert_eq!(values["work.startDate"].as_deref(), Some("2026-12-07"));
        assert_eq!(values["work.title"].as_deref(), Some("Engineer"));
    }

    #[test]
    fn current_values_are_read_nested_or_flat() {
        let body = br#"{"employees":[{"id":"1","work":{"title":"Engineer","department":{"value":"Product"}},"home.mobilePhone":"+1"},
                                      {"id":"2","work":{"title":"Other"}}]}"#;
        let fields: Vec<String> = [
            "work.title",
            "work.department",
            "home.mobilePhone",
            "work.site",
        ]
        .map(String::from)
        .to_vec();
        let values = employee_values(body, "1", &fields).unwrap().unwrap();
        assert_eq!(values["work.title"].as_deref(), Some("Engineer"));
        assert_eq!(values["work.department"].as_deref(), Some("Product"));
        assert_eq!(values["home.mobilePhone"].as_deref(), Some("+1"));
        assert_eq!(values["work.site"], None);
        assert_eq!(employee_values(body, "3", &fields).unwrap(), None);
        assert!(employee_values(b"<html>", "1", &fields).is_err());
    }

    #[test]
    fn error_bodies_keep_the_key() {
        let (key, msg) = error_body(
            br#"{"key":"validations.email.alreadyexists","error":"Email a@b already exists","args":["a@b"]}"#,
        );
        assert_eq!(key.as_deref(), Some("validations.email.alreadyexists"));
        assert!(msg.starts_with("Email a@b already exists"));
        assert_eq!(error_body(b""), (None, "(empty body)".into()));
        // A blank `error` says nothing: the body itself is shown.
        assert_eq!(
            error_body(br#"{"error":" "}"#),
            (None, r#"{"error":" "}"#.into())
        );
    }

    #[test]
    fn named_lists_accept_values_or_items() {
        let values =
            br#"{"name":"site","values":[{"id":1,"value":"New York (Demo)","archived":false}]}"#;
        let items = br#"{"name":"site","items":[{"id":1,"name":"New York (Demo)"},{"id":2,"value":"Old","archived":true}]}"#;
        assert_eq!(named_list(values).unwrap()[0].value, "New York (Demo)");
        let parsed = named_list(items).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(parsed[1].archived);
        assert!(named_list(br#"{"name":"site"}"#).is_err());
    }

    #[test]
    fn nested_list_values_are_values_and_inherit_archiving() {
        let body = br#"{"name":"department","values":[
            {"id":1,"value":"Engineering","archived":false,"children":[
                {"id":2,"value":"Platform","children":[{"id":3,"value":"Storage"}]}]},
            {"id":4,"value":"Legacy","archived":true,"children":[{"id":5,"value":"Mainframe"}]}]}"#;
        let parsed = named_list(body).unwrap();
        let names: Vec<(&str, bool)> = parsed
            .iter()
            .map(|v| (v.value.as_str(), v.archived))
            .collect();
        assert_eq!(
            names,
            [
                ("Engineering", false),
                ("Platform", false),
                ("Storage", false),
                ("Legacy", true),
                ("Mainframe", true)
            ]
        );
    }

    #[test]
    fn fields_name_their_list() {
        let body = br#"[{"id":"work.site","jsonPath":"work.site","type":"list","typeData":{"listId":"site"}},
                        {"id":"root.email","jsonPath":"email","type":"text","typeData":{}}]"#;
        let fields = people_fields(body).unwrap();
        assert_eq!(fields[0].list_id.as_deref(), Some("site"));
        assert_eq!(fields[1].json_path, "email");
        assert_eq!(fields[1].list_id, None);
    }

    #[test]
    fn new_employee_body_is_nested_by_category() {
        let e = NewEmployee {
            first_name: "Ada".into(),
            surname: "Lovelace".into(),
            email: "ada@example.com".into(),
            site: "New York (Demo)".into(),
            start_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
            fields: Default::default(),
        };
        assert_eq!(
            create_body(&e),
            json!({"firstName":"Ada","surname":"Lovelace","email":"ada@example.com",
                   "work":{"site":"New York (Demo)","startDate":"2026-12-07"}})
        );
    }
}

//! Property tests of everything that parses input hirebridge does not control: the webhook
//! delivery (headers, signature, body), Pinpoint's JSON:API documents, HiBob's answers and the
//! configuration file. For any input: no panic, and either a result that honours the parser's
//! promises or an error that says what is wrong; for well-formed input, the right result.
//!
//! Each property runs a fixed number of cases (so `cargo test` stays quick); set
//! `PROPTEST_CASES` for a long run, e.g.
//! `PROPTEST_CASES=100000 cargo test --release --test fuzz`.

mod common;

use std::path::Path;

use axum::http::{HeaderMap, HeaderValue};
use hirebridge::config::{Config, SecretSources};
use hirebridge::hibob::model as hibob;
use hirebridge::pinpoint::model as pinpoint;
use hirebridge::webhook::{self, Delivery, DeliveryError, NUDGE_EVENTS};
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use secrecy::SecretString;
use serde_json::{Value, json};

const SECRET: &str = "whsec-fuzz-signing-secret";

/// `default` cases per property unless `PROPTEST_CASES` says otherwise.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        // Failures print their minimal input; no regression files in the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- strategies ------------------------------------------------------------------------

/// Keys the parsers look for, so that arbitrary documents often reach deep code paths.
const KEYS: &[&str] = &[
    "data",
    "included",
    "links",
    "next",
    "id",
    "type",
    "attributes",
    "relationships",
    "email",
    "first_name",
    "last_name",
    "phone",
    "attachments",
    "context",
    "url",
    "filename",
    "job",
    "jobs",
    "title",
    "offers",
    "status",
    "custom_attributes",
    "key",
    "value",
    "comments",
    "body_text",
    "stage_basic_type",
    "employees",
    "root",
    "documents",
    "documentName",
    "name",
    "values",
    "items",
    "errors",
    "error",
    "event",
    "application",
    "applications",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "\\PC{0,24}".prop_map(Value::String),
        prop::sample::select(KEYS).prop_map(|k| Value::String(k.to_owned())),
        Just(json!("ada@example.com")),
        Just(json!("https://files.example/cv.pdf")),
        Just(json!("pdf_cv")),
        Just(json!("hired")),
        Just(json!("application_hired")),
        Just(json!("  ")),
    ]
}

/// Any JSON value, up to a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// Any bytes: mostly JSON-ish text, sometimes raw noise or HTML.
fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        prop::collection::vec(any::<u8>(), 0..256),
        "\\PC{0,200}".prop_map(String::into_bytes),
        Just(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>".to_vec()),
    ]
}

/// A name as candidates have them: any non-blank Unicode, including combining marks,
/// right-to-left scripts, CJK and emoji.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{1,24}",
        prop::sample::select(vec![
            "Zoë",
            "Zoe\u{0308}",
            "José",
            "محمد",
            "שרה",
            "李小龍",
            "山田",
            "😀 Smile",
            "Ǹ̷a̸m̴e̵",
            "O'Brien",
            "Ó Briain",
            "\u{202E}evil",
            "Nguyễn Thị",
        ])
        .prop_map(str::to_owned),
    ]
    .prop_filter("not blank", |s| !s.trim().is_empty())
}

fn email() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._%+-]{1,16}@[A-Za-z0-9-]{1,12}\\.[A-Za-z]{2,6}"
}

/// An application id as Pinpoint may send it: a string of digits, or a number.
fn id_value() -> impl Strategy<Value = (Value, String)> {
    prop_oneof![
        (1u64..u64::MAX).prop_map(|n| (json!(n.to_string()), n.to_string())),
        (1u64..u64::MAX).prop_map(|n| (json!(n), n.to_string())),
    ]
}

#[derive(Debug, Clone)]
struct GeneratedHire {
    id: (Value, String),
    first_name: String,
    last_name: String,
    email: String,
    phone: Option<String>,
    job_title: Option<String>,
    /// (context, filename, url)
    attachments: Vec<(String, String, String)>,
}

fn generated_hire() -> impl Strategy<Value = GeneratedHire> {
    let attachment = (
        prop::sample::select(vec!["cv", "pdf_cv", "cover_letter", "other"]),
        "[a-z]{1,8}\\.(pdf|docx)",
        "[a-z0-9]{1,12}",
    )
        .prop_map(|(context, filename, path)| {
            (
                context.to_owned(),
                filename,
                format!("https://files.example/{path}?X-Amz-Signature=abc"),
            )
        });
    (
        id_value(),
        name(),
        name(),
        email(),
        prop::option::of("\\+?[0-9 ]{3,15}"),
        prop::option::of(name()),
        prop::collection::vec(attachment, 0..4),
    )
        .prop_map(
            |(id, first_name, last_name, email, phone, job_title, attachments)| GeneratedHire {
                id,
                first_name,
                last_name,
                email,
                phone: phone.filter(|p| !p.trim().is_empty()),
                job_title,
                attachments,
            },
        )
}

impl GeneratedHire {
    fn resource(&self) -> Value {
        let attachments: Vec<Value> = self
            .attachments
            .iter()
            .map(|(context, filename, url)| {
                json!({"context": context, "filename": filename, "url": url})
            })
            .collect();
        json!({
            "id": self.id.0, "type": "applications",
            "attributes": {
                "first_name": self.first_name, "last_name": self.last_name, "email": self.email,
                "phone": self.phone, "attachments": attachments,
                "updated_at": "2026-11-20T16:45:12+00:00",
            },
            "relationships": {"job": {"data": {"type": "jobs", "id": "1"}}},
        })
    }

    fn included(&self) -> Vec<Value> {
        match &self.job_title {
            Some(title) => vec![json!({"id": 1, "type": "jobs", "attributes": {"title": title}})],
            None => vec![],
        }
    }

    /// The CV hirebridge must pick: `pdf_cv` first, then `cv`.
    fn expected_cv(&self) -> Option<(String, String, String)> {
        ["pdf_cv", "cv"].iter().find_map(|wanted| {
            self.attachments
                .iter()
                .find(|(context, _, _)| context == wanted)
                .cloned()
        })
    }

    fn assert_parsed(&self, got: &pinpoint::HiredApplication) -> Result<(), TestCaseError> {
        prop_assert_eq!(&got.id, &self.id.1);
        prop_assert_eq!(&got.first_name, self.first_name.trim());
        prop_assert_eq!(&got.last_name, self.last_name.trim());
        prop_assert_eq!(&got.email, self.email.trim());
        prop_assert_eq!(got.phone.as_deref(), self.phone.as_deref().map(str::trim));
        prop_assert_eq!(
            got.job_title.as_deref(),
            self.job_title.as_deref().map(str::trim)
        );
        let cv = got
            .cv
            .as_ref()
            .map(|a| (a.context.clone(), a.filename.clone(), a.url.clone()));
        prop_assert_eq!(cv, self.expected_cv());
        prop_assert!(
            got.source["application"].get("attachments").is_none(),
            "no expiring link reaches the mapping's data"
        );
        Ok(())
    }
}

/// Every JSON pointer in `v` (including the root, "").
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// `doc` with the value at one of its pointers replaced by `with`.
fn replace_somewhere(mut doc: Value, at: prop::sample::Index, with: Value) -> Value {
    let mut all = Vec::new();
    pointers(&doc, String::new(), &mut all);
    let pointer = at.get(&all).clone();
    match doc.pointer_mut(&pointer) {
        Some(slot) => *slot = with,
        None => unreachable!("the pointer was read from the document"),
    }
    doc
}

/// A parser's error: one non-empty line that names a field (in backticks) or, for text that
/// is not JSON, the line and column where it broke.
fn assert_clear_error(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(!message.trim().is_empty(), "empty error");
    prop_assert!(
        !message.contains('\n'),
        "error on several lines: {message:?}"
    );
    prop_assert!(
        message.contains('`') || message.contains("line "),
        "error names no field and no position: {message:?}"
    );
    Ok(())
}

// ---- the webhook delivery ---------------------------------------------------------------

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn signed(body: &[u8]) -> HeaderMap {
    headers(&[
        ("content-type", "application/json"),
        (webhook::SIGNATURE_HEADER, &webhook::sign(SECRET, body)),
    ])
}

fn secret() -> SecretString {
    SecretString::from(SECRET.to_owned())
}

/// What a delivery of this (signed, JSON) document must come to, by Pinpoint's documented shape.
fn expected_delivery(doc: &Value) -> Result<Delivery, DeliveryError> {
    let Value::Object(map) = doc else {
        return Err(DeliveryError::NotAnObject);
    };
    let Some(event) = map.get("event").and_then(Value::as_str) else {
        return Err(DeliveryError::NoEvent);
    };
    if !NUDGE_EVENTS.contains(&event) {
        return Ok(Delivery::Ignored {
            event: event.to_owned(),
        });
    }
    let id = match doc.pointer("/data/application/id") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
    .filter(|id| {
        id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    match id {
        Some(application) => Ok(Delivery::Nudge {
            application,
            event: event.to_owned(),
        }),
        None => Err(DeliveryError::NoApplicationId),
    }
}

fn hired_event(id: &Value, event: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": event, "triggeredAt": 1614687278,
        "data": {"application": {"id": id}, "job": {"id": 1}}
    }))
    .unwrap()
}

/// A change to a signed body: it must then fail the signature.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit { at: prop::sample::Index, bit: u8 },
    Truncate { keep: prop::sample::Index },
    Append(Vec<u8>),
    Replace { at: prop::sample::Index, with: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        any::<prop::sample::Index>().prop_map(|keep| Mutation::Truncate { keep }),
        prop::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
        (any::<prop::sample::Index>(), any::<u8>())
            .prop_map(|(at, with)| Mutation::Replace { at, with }),
    ]
}

fn mutate(body: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = body.to_vec();
    match m {
        Mutation::FlipBit { at, bit } => out[at.index(body.len())] ^= 1 << bit,
        Mutation::Truncate { keep } => out.truncate(keep.index(body.len())),
        Mutation::Append(extra) => out.extend_from_slice(extra),
        Mutation::Replace { at, with } => out[at.index(body.len())] = *with,
    }
    out
}

proptest! {
    #![proptest_config(cases(512))]

    /// Arbitrary bytes under arbitrary headers: never a panic, and with a secret configured,
    /// nothing unsigned gets past the signature.
    #[test]
    fn any_delivery_without_the_signature_is_refused(
        body in body_bytes(),
        content_type in prop_oneof![
            Just("application/json".to_owned()),
            Just("application/vnd.api+json; charset=utf-8".to_owned()),
            Just("text/plain".to_owned()),
            "[ -~]{0,40}",
        ],
        signature in prop::option::of("[ -~]{0,60}"),
    ) {
        let mut pairs = vec![("content-type", content_type.as_str())];
        if let Some(s) = &signature {
            pairs.push((webhook::SIGNATURE_HEADER, s.as_str()));
        }
        let result = webhook::authenticate(&headers(&pairs), &body, Some(&secret()));
        let genuine = webhook::sign(SECRET, &body);
        if signature.as_deref().map(str::trim) != Some(genuine.as_str()) {
            prop_assert!(
                matches!(result, Err(DeliveryError::Unauthorized)),
                "{result:?}"
            );
        }
        if let Err(e) = &result {
            prop_assert!(!e.to_string().contains(SECRET));
            prop_assert!(e.status().is_client_error());
        }
    }

    /// Any signed JSON document comes to exactly what Pinpoint's documented shape says: a
    /// nudge for a plausible id of a nudging event, an ignored other event, or a refusal
    /// naming what is missing.
    #[test]
    fn any_signed_document_is_a_nudge_an_ignored_event_or_a_clear_refusal(
        doc in prop_oneof![
            json_value(),
            (json_value(), prop::sample::select(vec!["application_hired", "application_stage_changed", "application_created"]))
                .prop_map(|(id, event)| json!({"event": event, "data": {"application": {"id": id}}})),
        ],
    ) {
        let body = serde_json::to_vec(&doc).unwrap();
        let got = webhook::authenticate(&signed(&body), &body, Some(&secret()));
        prop_assert_eq!(got, expected_delivery(&doc));
    }

    /// A genuine delivery is accepted, with the id Pinpoint sent (an integer or a string).
    #[test]
    fn a_signed_hired_event_is_a_nudge_for_its_application(
        (id, text) in id_value(),
        event in prop::sample::select(NUDGE_EVENTS.to_vec()),
    ) {
        let body = hired_event(&id, event);
        let got = webhook::authenticate(&signed(&body), &body, Some(&secret()));
        prop_assert_eq!(got, Ok(Delivery::Nudge { application: text, event: event.to_owned() }));
    }

    /// Any change to a signed body — a flipped bit, a cut, extra bytes — fails the signature.
    #[test]
    fn every_mutation_of_a_signed_body_is_refused(
        (id, _) in id_value(),
        m in mutation(),
    ) {
        let body = hired_event(&id, "application_hired");
        let headers = signed(&body);
        let changed = mutate(&body, &m);
        prop_assume!(changed != body);
        let got = webhook::authenticate(&headers, &changed, Some(&secret()));
        prop_assert_eq!(got, Err(DeliveryError::Unauthorized));
    }

    /// Only the genuine signature (Base64 with padding, surrounding blanks ignored) passes:
    /// another secret's, a changed character, a cut, hex, unpadded or repeated forms do not.
    #[test]
    fn only_the_genuine_signature_passes(
        (id, _) in id_value(),
        variant in 0usize..7,
        at in any::<prop::sample::Index>(),
        other_secret in "[a-z]{1,20}",
    ) {
        let body = hired_event(&id, "application_hired");
        let genuine = webhook::sign(SECRET, &body);
        let mut chars: Vec<char> = genuine.chars().collect();
        let i = at.index(chars.len());
        let given = match variant {
            0 => webhook::sign(&other_secret, &body),
            1 => {
                chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
                chars.into_iter().collect()
            }
            2 => genuine[..i].to_owned(),
            3 => {
                use sha2::Digest as _;
                let digest = sha2::Sha256::digest(&body);
                digest.iter().map(|b| format!("{b:02x}")).collect()
            }
            4 => genuine.trim_end_matches('=').to_owned(),
            5 => format!("{genuine}{genuine}"),
            _ => format!("sha256={genuine}"),
        };
        prop_assume!(given.trim() != genuine);
        let headers = headers(&[("content-type", "application/json"), (webhook::SIGNATURE_HEADER, &given)]);
        let got = webhook::authenticate(&headers, &body, Some(&secret()));
        prop_assert_eq!(got, Err(DeliveryError::Unauthorized));
        let padded = format!("  {genuine}\t");
        let headers = signed(&body);
        let mut with_blanks = headers.clone();
        with_blanks.insert(webhook::SIGNATURE_HEADER, HeaderValue::from_str(&padded).unwrap());
        prop_assert!(webhook::authenticate(&with_blanks, &body, Some(&secret())).is_ok());
    }
}

// ---- Pinpoint's JSON:API documents -------------------------------------------------------

proptest! {
    #![proptest_config(cases(512))]

    /// Any bytes: every Pinpoint parser answers without panicking; a failure is one clear
    /// line; whatever is accepted as a hire has an id, an email with `@` and both names.
    #[test]
    fn pinpoint_parsers_survive_any_body(body in body_bytes()) {
        match pinpoint::applications_page(&body) {
            Ok(page) => {
                prop_assert_eq!(page.records, page.applications.len() + page.unusable.len());
                for a in &page.applications {
                    prop_assert!(!a.id.is_empty());
                    prop_assert!(a.email.contains('@'));
                    prop_assert!(!a.first_name.trim().is_empty() && !a.last_name.trim().is_empty());
                }
                for u in &page.unusable {
                    prop_assert!(!u.problem.is_empty());
                }
            }
            Err(e) => assert_clear_error(&e)?,
        }
        match pinpoint::single_application(&body) {
            Ok(Ok(a)) => prop_assert!(a.email.contains('@')),
            Ok(Err(u)) => prop_assert!(!u.problem.is_empty()),
            Err(e) => assert_clear_error(&e)?,
        }
        if let Err(e) = pinpoint::included_comments(&body) {
            assert_clear_error(&e)?;
        }
        if let Err(e) = pinpoint::created_comment_id(&body) {
            assert_clear_error(&e)?;
        }
        let _ = pinpoint::stage_group(&body);
        let message = pinpoint::error_message(&body);
        prop_assert!(!message.is_empty() && !message.contains('\n'));
        prop_assert!(message.chars().count() <= 201 || serde_json::from_slice::<Value>(&body).is_ok());
    }

    /// A valid listing with one value anywhere in it replaced by anything (an id as a number,
    /// attributes as a string, an email as an array, …): the page still parses or fails in
    /// one clear line, and a record it cannot use is kept with its reason.
    #[test]
    fn a_listing_with_any_value_replaced_parses_or_says_what_is_wrong(
        hires in prop::collection::vec(generated_hire(), 1..4),
        at in any::<prop::sample::Index>(),
        with in json_value(),
    ) {
        let data: Vec<Value> = hires.iter().map(GeneratedHire::resource).collect();
        let included: Vec<Value> = hires.iter().flat_map(GeneratedHire::included).collect();
        let doc = json!({"data": data, "included": included, "links": {"next": "https://x/applications?page[number]=2"}});
        let doc = replace_somewhere(doc, at, with);
        let body = serde_json::to_vec(&doc).unwrap();
        match pinpoint::applications_page(&body) {
            Ok(page) => {
                prop_assert_eq!(page.records, page.applications.len() + page.unusable.len());
                for u in &page.unusable {
                    let p = &u.problem;
                    prop_assert!(
                        ["`id`", "`attributes`", "email", "first name", "last name"]
                            .iter()
                            .any(|what| p.contains(what)),
                        "a reason that names nothing: {p}"
                    );
                }
            }
            Err(e) => assert_clear_error(&e)?,
        }
    }

    /// A well-formed listing parses to exactly the hires it holds: ids as strings or numbers,
    /// any Unicode names, the PDF CV preferred, no expiring link in the mapping's data.
    #[test]
    fn a_generated_listing_parses_to_its_hires(
        hires in prop::collection::vec(generated_hire(), 0..6),
    ) {
        let data: Vec<Value> = hires.iter().map(GeneratedHire::resource).collect();
        let included = hires.first().map(GeneratedHire::included).unwrap_or_default();
        let body = serde_json::to_vec(&json!({"data": data, "included": included})).unwrap();
        let page = pinpoint::applications_page(&body).unwrap();
        prop_assert_eq!(page.records, hires.len());
        prop_assert!(page.unusable.is_empty(), "{:?}", page.unusable);
        prop_assert_eq!(page.applications.len(), hires.len());
        // Every hire points at job 1: its title comes from the one included job record.
        let title = hires.first().and_then(|h| h.job_title.clone());
        for (hire, got) in hires.iter().zip(&page.applications) {
            let expected = GeneratedHire { job_title: title.clone(), ..hire.clone() };
            expected.assert_parsed(got)?;
        }
        // The same record read on its own gives the same hire.
        if let Some(hire) = hires.first() {
            let one = json!({"data": hire.resource(), "included": hire.included()});
            let got = pinpoint::single_application(&serde_json::to_vec(&one).unwrap()).unwrap().unwrap();
            hire.assert_parsed(&got)?;
        }
    }
}

// ---- HiBob's answers ----------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(512))]

    /// Any bytes: every HiBob parser answers without panicking, and a failure is one clear line.
    #[test]
    fn hibob_parsers_survive_any_body(body in body_bytes(), id in "[0-9]{1,19}") {
        for result in [
            hibob::found_employees(&body).map(|_| ()),
            hibob::created_employee_id(&body).map(|id| assert!(!id.is_empty())),
            hibob::documents(&body).map(|_| ()),
            hibob::uploaded_document_id(&body).map(|_| ()),
            hibob::people_fields(&body).map(|_| ()),
            hibob::named_list(&body).map(|_| ()),
            hibob::employee_values(&body, &id, &["work.title".to_owned(), "work.site".to_owned()]).map(|_| ()),
        ] {
            if let Err(e) = result {
                assert_clear_error(&e)?;
            }
        }
        let (_, message) = hibob::error_body(&body);
        prop_assert!(!message.is_empty());
    }

    /// A search answer parses to exactly its employees, flat or nested under `root`, with
    /// ids as strings or integers (every digit kept) and any email case.
    #[test]
    fn a_generated_search_answer_parses_to_its_employees(
        employees in prop::collection::vec((any::<u64>(), any::<bool>(), any::<bool>(), email()), 0..8),
    ) {
        let list: Vec<Value> = employees
            .iter()
            .map(|(id, numeric, nested, email)| {
                let id = if *numeric { json!(id) } else { json!(id.to_string()) };
                let fields = json!({"id": id, "email": email, "firstName": "Ada"});
                if *nested { json!({"root": fields}) } else { fields }
            })
            .collect();
        let body = serde_json::to_vec(&json!({"employees": list})).unwrap();
        let found = hibob::found_employees(&body).unwrap();
        let expected: Vec<hibob::FoundEmployee> = employees
            .iter()
            .map(|(id, _, _, email)| hibob::FoundEmployee {
                id: id.to_string().into(),
                email: email.clone(),
                lifecycle_status: None,
                termination_date: None,
                private_email: None,
            })
            .collect();
        prop_assert_eq!(found, expected);
    }

    /// Well-formed HiBob answers (search, documents, a named list, field metadata) with one
    /// value anywhere replaced by anything: parsed or refused in one clear line, and whatever
    /// employee is read has an id.
    #[test]
    fn a_hibob_answer_with_any_value_replaced_parses_or_says_what_is_wrong(
        which in 0usize..4,
        at in any::<prop::sample::Index>(),
        with in json_value(),
    ) {
        let doc = match which {
            0 => json!({"employees": [
                {"id": "3397352260643062621", "email": "ada@example.com", "work": {"title": "Engineer"}},
                {"root": {"id": 3397352260643070540u64, "email": "Grace@Example.com"}}]}),
            1 => json!({"documents": [
                {"id": 15587714, "documentName": "CV (Pinpoint application 1).pdf", "downloadLink": "https://x"},
                {"name": "Contract.pdf"}]}),
            2 => json!({"name": "site", "values": [
                {"id": 2474159, "value": "New York (Demo)", "archived": false},
                {"id": 2474160, "name": "London", "archived": true}]}),
            _ => json!([
                {"id": "work.site", "jsonPath": "work.site", "type": "list", "typeData": {"listId": "site"}},
                {"id": "root.email", "jsonPath": "email", "type": "text", "typeData": {}}]),
        };
        let body = serde_json::to_vec(&replace_somewhere(doc, at, with)).unwrap();
        let result = match which {
            0 => hibob::found_employees(&body).map(|found| {
                assert!(found.iter().all(|e| !e.id.is_empty()));
            }),
            1 => hibob::documents(&body).map(|_| ()),
            2 => hibob::named_list(&body).map(|_| ()),
            _ => hibob::people_fields(&body).map(|_| ()),
        };
        if let Err(e) = result {
            assert_clear_error(&e)?;
        }
    }

    /// The id of a created employee or an uploaded document: a string or an integer is
    /// taken digit for digit; anything else (a float, a bool, nothing) is an error.
    #[test]
    fn created_ids_keep_every_digit_or_fail(id in json_leaf()) {
        let body = serde_json::to_vec(&json!({"id": id, "firstName": "Ada"})).unwrap();
        let expected = match &id {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
            _ => None,
        };
        for got in [hibob::created_employee_id(&body), hibob::uploaded_document_id(&body)] {
            match (&got, &expected) {
                (Ok(got), Some(want)) => prop_assert_eq!(got, want),
                (Err(e), None) => assert_clear_error(e)?,
                _ => prop_assert!(false, "{got:?} for id {id}"),
            }
        }
    }
}

// ---- the configuration file --------------------------------------------------------------

const SHIPPED: &str = include_str!("../config.toml");

fn fuzz_secrets() -> SecretSources {
    let mut s = SecretSources::default();
    for (k, v) in [
        ("PINPOINT_API_KEY", "pk-fuzz"),
        ("HIBOB_SERVICE_USER_ID", "SERVICE-FUZZ"),
        ("HIBOB_SERVICE_USER_TOKEN", "tok-fuzz"),
        ("PINPOINT_WEBHOOK_SECRET", "whsec-fuzz"),
        ("HIREBRIDGE_PLUGIN_KEY", "plugin-key-fuzz-0123456789"),
        ("HIBOB_HIRE_API_AUTHORIZATION", "Basic ZnV6ejpmdXp6"),
        ("HIREBRIDGE_SMTP_PASSWORD", "smtp-password-fuzz"),
        ("HIREBRIDGE_NOTIFY_SECRET", "notify-secret-fuzz"),
    ] {
        s.vars.insert(k.into(), v.into());
    }
    s
}

/// The shipped config with every commented-out key (and the `[webhook]` section) switched
/// on, each key once: the file with every key the product documents.
fn every_key_config() -> String {
    let mut seen = std::collections::HashSet::new();
    let mut section = String::new();
    let mut out = Vec::new();
    for line in SHIPPED.lines() {
        let uncommented = line.strip_prefix("# ").filter(|rest| {
            let key = rest.split(" = ").next().unwrap_or("");
            (rest.starts_with('[') && rest.ends_with(']'))
                || (rest.contains(" = ")
                    && !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.\"".contains(c)))
        });
        let line = uncommented.unwrap_or(line);
        if line.starts_with('[') {
            section = line.to_owned();
        } else if let Some((key, _)) = line.split_once(" = ")
            && !line.starts_with('#')
            && !seen.insert(format!("{section}{key}"))
        {
            continue;
        }
        out.push(line.to_owned());
    }
    out.join("\n")
}

/// The key lines of a config text: (line index, section, key).
fn key_lines(text: &str) -> Vec<(usize, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some((key, _)) = line.split_once('=')
            && !line.starts_with('#')
        {
            let key = key.trim().trim_matches('"');
            out.push((i, section.clone(), key.to_owned()));
        }
    }
    out
}

/// A parse of `text` must not panic; a failure is one line naming a key, a line, or the
/// secret to set.
fn parse_config(text: &str) -> Result<Result<Config, String>, TestCaseError> {
    match Config::parse(Path::new("config.toml"), text, &fuzz_secrets()) {
        Ok(c) => Ok(Ok(c)),
        Err(e) => {
            let message = e.to_string();
            prop_assert!(!message.contains('\n'), "error on several lines: {message}");
            prop_assert!(
                message.contains("config key `")
                    || message.contains(", line ")
                    || message.contains("missing secret"),
                "error names no key and no line: {message}"
            );
            Ok(Err(message))
        }
    }
}

/// Values of every type and many wrong shapes, for any key.
fn config_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "\"\"",
            "\" \"",
            "0",
            "-1",
            "1",
            "1000",
            "1001",
            "5000",
            "99999999999999999999",
            "-9223372036854775808",
            "1.5",
            "nan",
            "inf",
            "true",
            "false",
            "[]",
            "[\"4\"]",
            "[1, 2]",
            "{}",
            "{ template = \"x\" }",
            "\"0s\"",
            "\"1s\"",
            "\"-5m\"",
            "\"5 parsecs\"",
            "\"18446744073709551616s\"",
            "\"999999999y\"",
            "\"1ns\"",
            "\"2/1s\"",
            "\"0/1m\"",
            "\"1/0s\"",
            "\"50\"",
            "\"x/1m\"",
            "\"ftp://x/y\"",
            "\"http://\"",
            "\"https://[::1]:99999/\"",
            "\"127.0.0.1:8787\"",
            "\"0.0.0.0:0\"",
            "\"[::]:1\"",
            "\"0 */5 * * * *\"",
            "\"* * * * *\"",
            "\"60 60 25 32 13 8\"",
            "\"@hourly\"",
            "\"{{ job.title }}\"",
            "\"{{ nope.x }}\"",
            "\"{% if %}\"",
            "\"{{\"",
            "\"update\"",
            "\"report\"",
            "\"shared\"",
            "\"confidential\"",
            "2026-01-01",
            "'''multi\nline'''",
            "\"\\u0000\"",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,20}".prop_map(|s| format!("{s:?}")),
        any::<i64>().prop_map(|n| n.to_string()),
        "[ -~]{0,16}",
    ]
}

#[derive(Debug, Clone)]
enum ConfigEdit {
    Drop(prop::sample::Index),
    SetValue(prop::sample::Index, String),
    Insert(prop::sample::Index, String),
    Comment(prop::sample::Index, String),
}

fn config_edit() -> impl Strategy<Value = ConfigEdit> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(ConfigEdit::Drop),
        (any::<prop::sample::Index>(), config_value())
            .prop_map(|(i, v)| ConfigEdit::SetValue(i, v)),
        (
            any::<prop::sample::Index>(),
            prop_oneof![
                "\\PC{0,30}",
                (
                    prop::sample::select(vec![
                        "page_size",
                        "rate_limit",
                        "every",
                        "cron",
                        "listen",
                        "frobnicate",
                        "[x]",
                        "[pinpoint]"
                    ]),
                    config_value()
                )
                    .prop_map(|(k, v)| format!("{k} = {v}")),
            ]
        )
            .prop_map(|(i, l)| ConfigEdit::Insert(i, l)),
        (any::<prop::sample::Index>(), "\\PC{0,30}").prop_map(|(i, c)| ConfigEdit::Comment(i, c)),
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    /// Any text at all: no panic, and a failure says where.
    #[test]
    fn any_text_as_config_fails_in_one_line_naming_where(
        text in prop_oneof![
            "\\PC{0,200}",
            "(\\[[a-z.]{0,12}\\]\n|[a-z_]{1,12} = [ -~]{0,20}\n){0,12}",
        ],
    ) {
        let _parsed = parse_config(&text)?;
    }

    /// The shipped config (every key switched on) with one edit — a line dropped, a value of
    /// another type or out of range, a line inserted: no panic; a failure names a key or a
    /// line, and when the edit set a key's value (leaving valid TOML), that key or that line.
    #[test]
    fn any_edit_of_the_shipped_config_fails_naming_the_key_or_line(
        edits in prop::collection::vec(config_edit(), 1..3),
    ) {
        let mut lines: Vec<String> = every_key_config().lines().map(str::to_owned).collect();
        let mut set_keys = Vec::new();
        let mut comment_only = true;
        for edit in &edits {
            match edit {
                ConfigEdit::Drop(i) => {
                    comment_only = false;
                    lines.remove(i.index(lines.len()));
                }
                ConfigEdit::SetValue(i, value) => {
                    comment_only = false;
                    let text = lines.join("\n");
                    let keys = key_lines(&text);
                    let (line, section, key) = i.get(&keys).clone();
                    let name = lines[line].split('=').next().unwrap_or("").trim_end().to_owned();
                    lines[line] = format!("{name} = {value}");
                    set_keys.push((line, section, key));
                }
                ConfigEdit::Insert(i, line) => {
                    comment_only = false;
                    let at = i.index(lines.len() + 1);
                    lines.insert(at, line.clone());
                }
                ConfigEdit::Comment(i, comment) => {
                    let at = i.index(lines.len() + 1);
                    lines.insert(at, format!("# {}", comment.replace(['\n', '\r'], " ")));
                }
            }
            // An edit may hold a line break (a multi-line string): one entry per line again.
            lines = lines.join("\n").lines().map(str::to_owned).collect();
        }
        let text = lines.join("\n");
        let result = parse_config(&text)?;
        if comment_only {
            prop_assert!(result.is_ok(), "a comment broke the config: {result:?}");
        }
        // When the edit broke the TOML itself (an unclosed `{`), the parser reports where
        // it noticed, which may be a later line; otherwise the key or its line is named.
        let still_toml = text.parse::<toml::Table>().is_ok();
        if let (Err(message), [(line, section, key)]) = (&result, set_keys.as_slice())
            && edits.len() == 1
            && still_toml
        {
            let named = message.contains(&format!("line {}", line + 1))
                || (message.contains(section.as_str()) && message.contains(key.as_str()));
            prop_assert!(named, "setting {section}.{key} (line {}) failed without naming it: {message}", line + 1);
        }
    }
}

#[test]
fn the_shipped_config_and_every_documented_key_parse() {
    let shipped = Config::parse(Path::new("config.toml"), SHIPPED, &fuzz_secrets());
    assert!(shipped.is_ok(), "{shipped:?}");
    let full = every_key_config();
    assert!(
        full.contains("[webhook]") && full.contains("read_retries = 2"),
        "every commented key is switched on:\n{full}"
    );
    let parsed = Config::parse(Path::new("config.toml"), &full, &fuzz_secrets());
    assert!(parsed.is_ok(), "{parsed:?}\n{full}");
}

// ---- hostile deliveries at the real listener -------------------------------------------

/// Fifty proptest-generated hostile deliveries (mutations of a signed event, forged and
/// missing signatures, arbitrary bodies) at a running daemon: each refused, and none reaches
/// an API or writes to the ledger.
#[test]
fn fifty_generated_hostile_deliveries_reach_no_api_and_write_nothing() {
    use common::{EVENTUALLY, Listening, Settings, wait_for};

    let daemon = Listening::start(
        hirebridge::sim::Scenario::empty(),
        Settings {
            every: "1h",
            ..Settings::default()
        },
        Some(SECRET),
    );
    // The first poll (an empty listing) has finished once it is recorded.
    assert!(wait_for(EVENTUALLY, || {
        daemon
            .get("/healthz")
            .is_ok_and(|a| a.status == 200 && a.json()["last_successful_poll"].is_string())
    }));
    daemon.world.sim.reset_counters();
    let before = daemon.world.ledger_fingerprint();

    let hostile = prop_oneof![
        (id_value(), mutation()).prop_map(|((id, _), m)| {
            let body = hired_event(&id, "application_hired");
            let signature = webhook::sign(SECRET, &body);
            (mutate(&body, &m), Some(signature))
        }),
        (body_bytes(), prop::option::of("[A-Za-z0-9+/=]{0,44}")),
        (id_value(), "[a-z]{1,12}").prop_map(|((id, _), wrong)| {
            let body = hired_event(&id, "application_hired");
            let signature = webhook::sign(&wrong, &body);
            (body, Some(signature))
        }),
    ];
    let mut runner = TestRunner::deterministic();
    let mut refused = 0;
    for _ in 0..50 {
        let (body, signature) = hostile.new_tree(&mut runner).unwrap().current();
        if signature.as_deref() == Some(webhook::sign(SECRET, &body).as_str()) {
            continue; // an unchanged body: genuine, not hostile
        }
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(s) = &signature {
            headers.push(("PINPOINT-HMAC-SHA256", s.as_str()));
        }
        let answer = daemon.post(&headers, &body);
        assert_eq!(answer.status, 401, "{answer:?}");
        assert!(!answer.body.contains(SECRET));
        refused += 1;
    }
    assert!(
        refused >= 45,
        "only {refused} hostile deliveries were generated"
    );
    assert!(
        daemon.world.sim.calls().is_empty(),
        "a hostile delivery reached an API: {:#?}",
        daemon.world.sim.calls()
    );
    assert_eq!(
        daemon.world.ledger_fingerprint(),
        before,
        "the ledger changed"
    );
    assert_eq!(
        daemon.metric("hirebridge_webhook_requests_total{result=\"unauthorized\"}"),
        refused as f64
    );
}

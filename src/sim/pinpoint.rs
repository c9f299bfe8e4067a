//! Simulated Pinpoint ATS (JSON:API) and the pre-signed CV file host.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::scenario::{Stage, Visibility};
use super::state::{Shared, SimComment, State, StoredApplication, StoredComment, iso};
use super::wire::{FILES_PREFIX, Incoming, PINPOINT_PREFIX, Reply, query_encode};

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

fn authorized(shared: &Shared, req: &Incoming) -> Result<(), Reply> {
    let ok = req
        .headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|k| k == shared.lock().credentials.pinpoint_api_key);
    if ok {
        Ok(())
    } else {
        Err(Reply::jsonapi_error(
            401,
            "Unauthorized",
            "Missing or invalid X-API-KEY header",
        ))
    }
}

/// Parsed query parameters that shape an application read.
struct ReadOpts {
    pairs: Vec<(String, String)>,
    visible: Vec<Visibility>,
    attachments: bool,
    include_job: bool,
    include_comments: bool,
    include_stage: bool,
    include_offers: bool,
    include_custom: bool,
    /// `include=custom_attributes.custom_field`: each attribute's field (key, label, type).
    include_custom_field: bool,
    include_department: bool,
    include_location: bool,
}

impl ReadOpts {
    fn parse(query: Option<&str>) -> ReadOpts {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let mut opts = ReadOpts {
            pairs,
            visible: vec![],
            attachments: false,
            include_job: false,
            include_comments: false,
            include_stage: false,
            include_offers: false,
            include_custom: false,
            include_custom_field: false,
            include_department: false,
            include_location: false,
        };
        // Real Pinpoint hides private and confidential jobs unless asked: the trap a sync must avoid.
        opts.visible = match opts.list("filter[job_visibility]") {
            Some(names) => names.into_iter().filter_map(Visibility::parse).collect(),
            None => vec![Visibility::External, Visibility::Internal],
        };
        let has = |k: &str, v: &str| opts.list(k).is_some_and(|l| l.contains(&v));
        let flags = (
            has("extra_fields[applications]", "attachments"),
            has("include", "job"),
            has("include", "comments"),
        );
        let related = (
            has("include", "offers"),
            has("include", "custom_attributes"),
            has("include", "job.department"),
            has("include", "job.location"),
        );
        let include_stage = has("include", "stage");
        let include_custom_field = has("include", "custom_attributes.custom_field");
        (opts.attachments, opts.include_job, opts.include_comments) = flags;
        opts.include_stage = include_stage;
        (
            opts.include_offers,
            opts.include_custom,
            opts.include_department,
            opts.include_location,
        ) = related;
        // Including a relation's relation includes the relation too, as JSON:API specifies.
        opts.include_job |= opts.include_department || opts.include_location;
        opts.include_custom_field = include_custom_field;
        opts.include_custom |= include_custom_field;
        opts
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    fn list(&self, k: &str) -> Option<Vec<&str>> {
        self.get(k).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
    }
}

fn numeric_key(id: &str) -> (u64, String) {
    // Non-numeric ids sort after numeric ones, then lexically, so order is always total.
    (id.parse::<u64>().unwrap_or(u64::MAX), id.to_string())
}

/// The fields the listing sorts by (`sort`, with `-` for descending).
enum SortField {
    Id,
    CreatedAt,
    UpdatedAt,
}

/// `sort` as Pinpoint reads it: `id` when absent; `None` for a field it cannot sort by.
fn sort_order(sort: Option<&str>) -> Option<(SortField, bool)> {
    let sort = sort.unwrap_or("id").trim();
    let (name, descending) = match sort.strip_prefix('-') {
        Some(name) => (name, true),
        None => (sort, false),
    };
    let field = match name {
        "id" => SortField::Id,
        "created_at" => SortField::CreatedAt,
        "updated_at" => SortField::UpdatedAt,
        _ => return None,
    };
    Some((field, descending))
}

pub(crate) fn list_applications(shared: &Shared, req: &Incoming) -> Reply {
    if let Err(r) = authorized(shared, req) {
        return r;
    }
    let opts = ReadOpts::parse(req.query.as_deref());
    let origin = shared.origin();
    let mut st = shared.lock();
    let ids = match listed_ids(&mut st, &opts) {
        Ok(ids) => ids,
        Err(reply) => return reply,
    };
    let st = &*st;

    let total = ids.picked.len();
    let number = opts
        .get("page[number]")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let size = opts
        .get("page[size]")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let start = (number - 1).saturating_mul(size).min(total);
    let end = start.saturating_add(size).min(total);
    let page: Vec<&StoredApplication> = ids
        .page(start..end)
        .filter_map(|id| st.applications.get(id))
        .collect();
    let page = &page[..];

    let data: Vec<Value> = page
        .iter()
        .map(|s| application_json(st, s, &opts, &origin))
        .collect();
    let included = included_for(st, page, &opts);

    let base = format!("{origin}{PINPOINT_PREFIX}/applications");
    let mut links = Map::new();
    links.insert(
        "self".into(),
        json!(format!("{origin}{}", req.path_and_query)),
    );
    if end < total {
        links.insert(
            "next".into(),
            json!(page_link(&base, &opts.pairs, number + 1)),
        );
    }
    Reply::jsonapi(
        200,
        &json!({"data": data, "included": included, "links": links, "meta": {"count": total}}),
    )
}

/// What the listing keeps between requests. [`State`] drops it whenever an application, its
/// stage or a job changes, so nothing in it is ever stale.
#[derive(Default)]
pub(crate) struct ListingCache {
    /// Every application's id in each order the listing sorts by, built on the first listing
    /// after a change: a pass that lists by `id` and the next by `-updated_at` sort the
    /// tenant once between changes, not on each new listing.
    orders: Option<Arc<SortedOrders>>,
    /// Each listing's filtered, sorted applications, keyed by its filters and sort, as a
    /// server's index would keep them: the pages of one listing then cost their own size, and
    /// a full listing by `id` does not make the next listing by `-updated_at` filter the
    /// tenant again.
    listings: HashMap<String, Arc<Listing>>,
}

/// The listings kept at most; more (a test's many filters) start the cache afresh.
const KEPT_LISTINGS: usize = 8;

/// One listing's applications: positions in its [`SortedOrders`], in the listing's order
/// (four bytes each, not a copied id).
struct Listing {
    orders: Arc<SortedOrders>,
    picked: Vec<u32>,
}

impl Listing {
    /// The ids at `range` of the listing.
    fn page(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = &str> {
        self.picked[range]
            .iter()
            .map(|&i| self.orders.entries[i as usize].id.as_str())
    }
}

/// Every application as the listing's filters see it, ascending by each field the listing
/// sorts by; ties (same time) in id order, so every order is total and repeatable.
struct SortedOrders {
    /// In id order. Visibility and stage are copied here: any change to them drops the cache.
    entries: Vec<Listed>,
    /// Indices into `entries`, one list for each field the listing sorts by.
    by_id: Vec<usize>,
    by_created_at: Vec<usize>,
    by_updated_at: Vec<usize>,
}

/// What the listing's filters look at of one application, beside its id.
struct Listed {
    id: String,
    visibility: Visibility,
    stage: Stage,
}

impl SortedOrders {
    fn of(st: &State) -> SortedOrders {
        let mut apps: Vec<&StoredApplication> = st.applications.values().collect();
        apps.sort_by_cached_key(|s| numeric_key(&s.app.id));
        let by_id: Vec<usize> = (0..apps.len()).collect();
        // Stable sorts of the id order keep ties in id order, and pass over a tenant whose
        // times already follow its ids in one sweep.
        let mut by_created_at = by_id.clone();
        by_created_at.sort_by_key(|&i| apps[i].created_at);
        let mut by_updated_at = by_id.clone();
        by_updated_at.sort_by_key(|&i| apps[i].updated_at);
        let entries = apps
            .iter()
            .map(|s| Listed {
                id: s.app.id.clone(),
                visibility: st.job_visibility(&s.app.job_id),
                stage: s.app.stage,
            })
            .collect();
        SortedOrders {
            entries,
            by_id,
            by_created_at,
            by_updated_at,
        }
    }

    /// Every application's position in `entries`, ascending by `field`.
    fn by(&self, field: SortField) -> impl DoubleEndedIterator<Item = (u32, &Listed)> {
        let order = match field {
            SortField::Id => &self.by_id,
            SortField::CreatedAt => &self.by_created_at,
            SortField::UpdatedAt => &self.by_updated_at,
        };
        order.iter().map(|&i| (i as u32, &self.entries[i]))
    }
}

/// The applications a listing's filters and sort select, in order: from the cache while
/// nothing changed, else filtered from the cached orders afresh; a 400 for a sort Pinpoint
/// refuses.
fn listed_ids(st: &mut State, opts: &ReadOpts) -> Result<Arc<Listing>, Reply> {
    let basic = opts.list("filter[stage_basic_type]");
    let stage_ids = opts.list("filter[stage_id]");
    let key = format!(
        "{:?}|{basic:?}|{stage_ids:?}|{:?}",
        opts.visible,
        opts.get("sort")
    );
    if let Some(listing) = st.listing_cache.listings.get(&key) {
        return Ok(Arc::clone(listing));
    }
    let Some((field, descending)) = sort_order(opts.get("sort")) else {
        return Err(Reply::jsonapi_error(
            400,
            "Bad Request",
            &format!(
                "{} is not a valid sort criteria for applications",
                opts.get("sort").unwrap_or_default()
            ),
        ));
    };
    let orders = match &st.listing_cache.orders {
        Some(orders) => Arc::clone(orders),
        None => {
            let orders = Arc::new(SortedOrders::of(st));
            st.listing_cache.orders = Some(Arc::clone(&orders));
            orders
        }
    };
    let listed = orders
        .by(field)
        .filter(|(_, e)| opts.visible.contains(&e.visibility))
        .filter(|(_, e)| {
            basic
                .as_ref()
                .is_none_or(|b| b.contains(&e.stage.basic_type()))
        })
        .filter(|(_, e)| stage_ids.as_ref().is_none_or(|b| b.contains(&e.stage.id())))
        .map(|(i, _)| i);
    let picked = if descending {
        listed.rev().collect()
    } else {
        listed.collect()
    };
    let listing = Arc::new(Listing {
        orders: Arc::clone(&orders),
        picked,
    });
    let kept = &mut st.listing_cache.listings;
    if kept.len() >= KEPT_LISTINGS {
        kept.clear();
    }
    kept.insert(key, Arc::clone(&listing));
    Ok(listing)
}

/// The same query with `page[number]` replaced, every other parameter kept in order.
fn page_link(base: &str, pairs: &[(String, String)], number: usize) -> String {
    let mut out: Vec<String> = vec![];
    let mut replaced = false;
    for (k, v) in pairs {
        if k == "page[number]" {
            if !replaced {
                out.push(format!("page[number]={number}"));
                replaced = true;
            }
        } else {
            out.push(format!("{}={}", query_encode(k), query_encode(v)));
        }
    }
    if !replaced {
        out.push(format!("page[number]={number}"));
    }
    format!("{base}?{}", out.join("&"))
}

pub(crate) fn get_application(shared: &Shared, req: &Incoming, id: &str) -> Reply {
    if let Err(r) = authorized(shared, req) {
        return r;
    }
    let opts = ReadOpts::parse(req.query.as_deref());
    let origin = shared.origin();
    let st = shared.lock();
    let found = st
        .applications
        .get(id)
        .filter(|s| opts.visible.contains(&st.job_visibility(&s.app.job_id)));
    let Some(stored) = found else {
        return Reply::jsonapi_error(
            404,
            "Not Found",
            &format!("Couldn't find Application with 'id'={id}"),
        );
    };
    let data = application_json(&st, stored, &opts, &origin);
    let included = included_for(&st, &[stored], &opts);
    Reply::jsonapi(
        200,
        &json!({
            "data": data,
            "included": included,
            "links": {"self": format!("{origin}{}", req.path_and_query)},
        }),
    )
}

fn comments_of<'a>(st: &'a State, app_id: &'a str) -> impl Iterator<Item = &'a StoredComment> {
    st.comments
        .iter()
        .filter(move |c| c.comment.application_id == app_id)
}

fn application_json(st: &State, s: &StoredApplication, opts: &ReadOpts, origin: &str) -> Value {
    let a = &s.app;
    // The attribute set of a live application document (recorded): the stage only as
    // `stage_id`, never its group; `hired_at` and `rejected_at` as Pinpoint keeps them.
    let mut attrs = json!({
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
        "hired_at": s.hired_at.map(iso),
        "internal_candidate": false,
        "job_id": a.job_id,
        "locale": "en",
        "stage_id": a.stage.id(),
        "rejected_at": s.rejected_at.map(iso),
        "phone_iso2": a.phone.as_ref().map(|_| "GB"),
        "start_on": a.start_on,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "email": a.email,
        "phone": a.phone,
        "date_of_birth": null,
        "linkedin_url": a.linkedin,
        "full_name": format!("{} {}", a.first_name, a.last_name),
        "concealed": false,
        "country": null,
    });
    if opts.attachments {
        let list: Vec<Value> = a
            .attachment_files()
            .into_iter()
            .map(|(context, filename)| {
                json!({
                    "context": context,
                    "filename": filename,
                    "url": format!("{origin}{FILES_PREFIX}/{}/{}", query_encode(&a.id), query_encode(&filename)),
                })
            })
            .collect();
        attrs["attachments"] = json!(list);
    }
    // A relationship that was not included carries only `meta.included = false` (recorded).
    let not_included = json!({"meta": {"included": false}});
    let mut rel = json!({
        "job": if opts.include_job { json!({"data": {"type": "jobs", "id": a.job_id}}) } else { not_included.clone() },
        "stage": if opts.include_stage { json!({"data": {"type": "stages", "id": a.stage.id()}}) } else { not_included.clone() },
        "onboarding_application": not_included.clone(),
        "offers": not_included.clone(),
        "custom_attributes": not_included.clone(),
        "comments": not_included,
    });
    if opts.include_offers {
        let ids: Vec<Value> = a
            .offers
            .iter()
            .map(|o| json!({"type": "offers", "id": o.id}))
            .collect();
        rel["offers"] = json!({"data": ids});
    }
    if opts.include_custom {
        let ids: Vec<Value> = (0..a.custom_attributes.len())
            .map(|i| json!({"type": "custom_attributes", "id": format!("{}-{i}", a.id)}))
            .collect();
        rel["custom_attributes"] = json!({"data": ids});
    }
    if opts.include_comments {
        let ids: Vec<Value> = comments_of(st, &a.id)
            .map(|c| json!({"type": "comments", "id": c.comment.id}))
            .collect();
        rel["comments"] = json!({"data": ids});
    }
    json!({"id": a.id, "type": "applications", "attributes": attrs, "relationships": rel})
}

fn included_for(st: &State, page: &[&StoredApplication], opts: &ReadOpts) -> Vec<Value> {
    let mut out = vec![];
    if opts.include_job {
        let mut seen = BTreeSet::new();
        for s in page {
            if seen.insert(s.app.job_id.clone())
                && let Some(job) = st.jobs.get(&s.app.job_id)
            {
                let mut rel = json!({});
                if opts.include_department
                    && let Some(d) = &job.department
                {
                    rel["department"] =
                        json!({"data": {"type": "departments", "id": format!("d-{}", job.id)}});
                    out.push(json!({"type": "departments", "id": format!("d-{}", job.id), "attributes": {"name": d}}));
                }
                if opts.include_location
                    && let Some(l) = &job.location
                {
                    rel["location"] =
                        json!({"data": {"type": "locations", "id": format!("l-{}", job.id)}});
                    out.push(json!({"type": "locations", "id": format!("l-{}", job.id), "attributes": {"name": l}}));
                }
                out.push(json!({
                    "type": "jobs",
                    "id": job.id,
                    "attributes": {"title": job.title, "visibility": job.visibility.as_str()},
                    "relationships": rel,
                }));
            }
        }
    }
    if opts.include_stage {
        // Only what a stage record is known to carry: its id and name. Which group a stage
        // belongs to is not shown (no live stage record has been seen).
        let mut seen = BTreeSet::new();
        for s in page {
            let stage = s.app.stage;
            if seen.insert(stage.id()) {
                out.push(json!({"type": "stages", "id": stage.id(), "attributes": {"name": stage.name()}}));
            }
        }
    }
    if opts.include_offers {
        for s in page {
            for o in &s.app.offers {
                out.push(json!({"type": "offers", "id": o.id,
                    "attributes": {"status": o.status, "start_on": o.start_on}}));
            }
        }
    }
    if opts.include_custom {
        // As the docs describe it: the attribute holds the value; its custom field holds the
        // key, the label and the type.
        let mut fields = BTreeSet::new();
        for s in page {
            for (i, (key, value)) in s.app.custom_attributes.iter().enumerate() {
                let field_id = format!("cf-{key}");
                let mut record = json!({"type": "custom_attributes", "id": format!("{}-{i}", s.app.id),
                    "attributes": {"value": value},
                    "relationships": {"custom_field": {"meta": {"included": false}}}});
                if opts.include_custom_field {
                    record["relationships"]["custom_field"] =
                        json!({"data": {"type": "custom_fields", "id": field_id}});
                    if fields.insert(key.clone()) {
                        out.push(json!({"type": "custom_fields", "id": field_id,
                            "attributes": {"key": key, "label": key.replace('_', " "), "field_type": "text"}}));
                    }
                }
                out.push(record);
            }
        }
    }
    if opts.include_comments {
        for s in page {
            for c in comments_of(st, &s.app.id) {
                out.push(json!({
                    "type": "comments",
                    "id": c.comment.id,
                    "attributes": {"body_text": c.comment.body_text, "created_at": iso(c.created_at)},
                }));
            }
        }
    }
    out
}

pub(crate) fn post_comment(shared: &Shared, req: &Incoming) -> Reply {
    if let Err(r) = authorized(shared, req) {
        return r;
    }
    if let Some(ct) = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
    {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json" && mime != "application/vnd.api+json" {
            return Reply::jsonapi_error(
                415,
                "Unsupported Media Type",
                "Content-Type must be application/vnd.api+json",
            );
        }
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return Reply::jsonapi_error(400, "Bad Request", "Request body is not valid JSON");
    };
    let data = &body["data"];
    if data["type"] != "comments" {
        return pointer_error("/data/type", "type must be 'comments'");
    }
    let text = match data["attributes"]["body_text"].as_str() {
        Some(t) if !t.trim().is_empty() => t.to_string(),
        _ => return pointer_error("/data/attributes/body_text", "body_text can't be blank"),
    };
    let target = &data["relationships"]["commentable"]["data"];
    if target["type"] != "applications" {
        return pointer_error(
            "/data/relationships/commentable/data/type",
            "commentable type must be 'applications'",
        );
    }
    let app_id = match &target["id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return pointer_error(
                "/data/relationships/commentable/data/id",
                "commentable id can't be blank",
            );
        }
    };
    let mut st = shared.lock();
    if !st.applications.contains_key(&app_id) {
        return Reply::jsonapi_error(
            404,
            "Not Found",
            &format!("Couldn't find Application with 'id'={app_id}"),
        );
    }
    let id = st.next_comment_id.to_string();
    st.next_comment_id += 1;
    let created_at = Utc::now();
    st.comments.push(StoredComment {
        comment: SimComment {
            id: id.clone(),
            application_id: app_id,
            body_text: text.clone(),
        },
        created_at,
    });
    Reply::jsonapi(
        201,
        &json!({"data": {"id": id, "type": "comments",
            "attributes": {"body_text": text, "created_at": iso(created_at)}}}),
    )
}

fn pointer_error(pointer: &str, detail: &str) -> Reply {
    Reply::jsonapi(
        422,
        &json!({"errors": [{"status": "422", "title": "Unprocessable Entity", "detail": detail,
            "source": {"pointer": pointer}}]}),
    )
}

/// The bytes of an application's attachment, if it has one by that name.
pub(crate) fn resolve_file(
    st: &State,
    application_id: &str,
    filename: &str,
) -> Option<(&'static str, Vec<u8>)> {
    let stored = st.applications.get(application_id)?;
    stored
        .app
        .attachment_files()
        .into_iter()
        .find(|(_, f)| f == filename)
        .map(|(_, f)| {
            let (content_type, mut bytes) = fake_file(application_id, &f);
            if let Some(size) = stored.app.cv_bytes {
                bytes.resize(size, b' ');
            }
            (content_type, bytes)
        })
}

pub(crate) fn download_file(shared: &Shared, application_id: &str, filename: &str) -> Reply {
    match resolve_file(&shared.lock(), application_id, filename) {
        Some((ct, bytes)) => Reply::bytes(200, ct, bytes),
        // Object stores answer XML, not the API's JSON.
        None => Reply::bytes(
            404,
            "application/xml",
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
              <Message>The specified key does not exist.</Message></Error>"
                .to_vec(),
        ),
    }
}

fn fake_file(application_id: &str, filename: &str) -> (&'static str, Vec<u8>) {
    if filename.ends_with(".docx") {
        let mut b = b"PK\x03\x04\x14\x00\x06\x00".to_vec();
        b.extend_from_slice(
            format!("word/document.xml CV of application {application_id}").as_bytes(),
        );
        b.resize(400, b'.');
        return (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            b,
        );
    }
    let text = format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
         2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n\
         3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >> endobj\n\
         4 0 obj << /Length 60 >> stream\nBT /F1 12 Tf 72 720 Td (Curriculum vitae: application {application_id}) Tj ET\nendstream endobj\n\
         trailer << /Root 1 0 R >>\n%%EOF\n"
    );
    ("application/pdf", text.into_bytes())
}

//! A hire's HiBob employee: which person HiBob already has is the hire ([`lookup_for`]: by
//! login address — the mapped work address or the candidate's own — or by HR's private
//! address, never by a guess), and what a new employee is sent ([`new_employee`]).
//!
//! The bridge between a Pinpoint application and a HiBob person. Pure: it reads what the
//! clients parsed and what the mapping renders; it knows neither the clients' requests nor the
//! ledger.

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::OnFormerEmployee;
use crate::hire::EmployeeId;
use crate::hire::application::HiredApplication;
use crate::identity::same_address;
use crate::mapping::{Mapping, RenderError, SITE, START_DATE, Values, WORK_EMAIL, parse_date};

/// An employee returned by `POST /people/search`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEmployee {
    pub id: EmployeeId,
    pub email: String,
    /// `internal.lifecycleStatus` (`hired`, `employed`, `terminated`, …) when HiBob sent it.
    pub lifecycle_status: Option<String>,
    /// `internal.terminationDate` (`YYYY-MM-DD`) when HiBob sent one.
    pub termination_date: Option<String>,
    /// `home.privateEmail` (the candidate's own address, kept by HR beside a work address),
    /// when HiBob sent it.
    pub private_email: Option<String>,
}

impl FoundEmployee {
    /// Whether this is a former employee (a rehire is a person's decision), as of `today`:
    /// the lifecycle status says `terminated`; or, without a status, a termination date that
    /// has passed. A status other than `terminated` wins over a termination date: a person
    /// rehired in HiBob keeps the old date in their history. Neither sent: not former (the
    /// service user may not see them; see docs/api.md).
    pub fn is_former(&self, today: NaiveDate) -> bool {
        match &self.lifecycle_status {
            Some(status) => status.eq_ignore_ascii_case("terminated"),
            None => self
                .termination_date
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok())
                .is_some_and(|day| day <= today),
        }
    }
}

/// The fields hirebridge sends when it creates an employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmployee {
    pub first_name: String,
    pub surname: String,
    pub email: String,
    pub site: String,
    pub start_date: NaiveDate,
    /// Every other mapped field by its path (`work.title`, `home.mobilePhone`, …).
    pub fields: std::collections::BTreeMap<String, String>,
}

impl NewEmployee {
    /// The fields written besides the identity ones, by path: what drift is measured against.
    pub fn written(&self) -> std::collections::BTreeMap<String, String> {
        let mut written = self.fields.clone();
        written.insert(crate::mapping::SITE.into(), self.site.clone());
        written.insert(
            crate::mapping::START_DATE.into(),
            self.start_date.format("%Y-%m-%d").to_string(),
        );
        written
    }
}

/// What HiBob's people say about one hire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The employee step is already done; no search was needed.
    NotNeeded,
    Found {
        employee_id: EmployeeId,
    },
    NotFound,
}

/// The addresses a hire may be known by in HiBob: the candidate's own (the application's)
/// and the work address the mapping gives them, when it maps one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HireAddresses<'a> {
    pub candidate: &'a str,
    pub work: Option<&'a str>,
}

impl HireAddresses<'_> {
    /// Whether this HiBob person is the hire: their login address is the work address or the
    /// candidate's, or their private address is the candidate's. Compared as HiBob compares
    /// (case-insensitively), after NFC normalisation.
    pub fn matches(&self, person: &FoundEmployee) -> bool {
        let login =
            |address: &str| !person.email.is_empty() && same_address(&person.email, address);
        login(self.candidate)
            || self.work.is_some_and(login)
            || person
                .private_email
                .as_deref()
                .is_some_and(|private| same_address(private, self.candidate))
    }

    /// Whether `person` matched by the work address alone while HiBob keeps a private address
    /// for them that is not the candidate's: someone else under the same work address.
    pub fn namesake(&self, person: &FoundEmployee) -> bool {
        let by_candidate = same_address(&person.email, self.candidate)
            || person
                .private_email
                .as_deref()
                .is_some_and(|p| same_address(p, self.candidate));
        !by_candidate
            && person
                .private_email
                .as_deref()
                .is_some_and(|p| !p.trim().is_empty())
    }

    /// The addresses in words, for a message.
    pub fn describe(&self) -> String {
        match self.work {
            Some(work) if !same_address(work, self.candidate) => {
                format!("{work} (work) or {} (the candidate's)", self.candidate)
            }
            _ => self.candidate.to_owned(),
        }
    }
}

/// What HiBob's people say about one hire (see [`HireAddresses::matches`]). More than one
/// match is returned as is, for a person to resolve: never a guess.
pub fn lookup_for(
    addresses: &HireAddresses<'_>,
    found: &[FoundEmployee],
    today: chrono::NaiveDate,
    on_former: OnFormerEmployee,
) -> Result<Lookup, LookupProblem> {
    let mut same: Vec<&FoundEmployee> = found.iter().filter(|f| addresses.matches(f)).collect();
    same.sort_by(|a, b| a.id.cmp(&b.id));
    same.dedup_by(|a, b| a.id == b.id);
    match same.as_slice() {
        [] => Ok(Lookup::NotFound),
        // Found only by a work address made from a name, while HiBob keeps another private
        // address for that person: a namesake, maybe. Never adopted on a guess.
        [one] if addresses.namesake(one) => Err(LookupProblem::WorkAddressOfAnother {
            employee_id: one.id.to_string(),
            login: one.email.clone(),
            private: one.private_email.clone().unwrap_or_default(),
        }),
        [one] if on_former == OnFormerEmployee::Attention && one.is_former(today) => {
            Err(LookupProblem::FormerEmployee {
                employee_id: one.id.to_string(),
                terminated: one.termination_date.clone(),
            })
        }
        [one] => Ok(Lookup::Found {
            employee_id: one.id.clone(),
        }),
        _ => Err(LookupProblem::Duplicates(
            same.iter()
                .map(|f| {
                    if f.email.is_empty() {
                        f.id.to_string()
                    } else {
                        format!("{} <{}>", f.id, f.email)
                    }
                })
                .collect(),
        )),
    }
}

/// Why a search answer cannot be acted on without a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupProblem {
    /// Several employees hold the email: which one is the hire is a person's call.
    Duplicates(Vec<String>),
    /// The one employee holding the email is a former employee: adopting would mark the hire
    /// done on a terminated record, creating would fail (emails are unique). A rehire is HR's
    /// decision, made in HiBob.
    FormerEmployee {
        employee_id: String,
        terminated: Option<String>,
    },
    /// The one person under the mapped work address keeps another private address: maybe a
    /// namesake, whose address the mapping reproduced.
    WorkAddressOfAnother {
        employee_id: String,
        login: String,
        private: String,
    },
}

impl LookupProblem {
    /// What the operator reads, ending with what to do.
    pub fn message(&self, email: &str, application_id: &str) -> String {
        match self {
            LookupProblem::Duplicates(ids) => format!(
                "HiBob has {} people who may be this hire (by the address {email}, as login or private email): {}; hirebridge does not guess: merge or correct them in HiBob, then run `hirebridge retry {application_id}`",
                ids.len(),
                ids.join(", "),
            ),
            LookupProblem::WorkAddressOfAnother {
                employee_id,
                login,
                private,
            } => format!(
                "HiBob's {login} (employee {employee_id}) has the private address {private}, not this candidate's ({email}): maybe a namesake under the same work address; if it is this hire, set their private address in HiBob, else give the hire another work address; then run `hirebridge retry {application_id}`"
            ),
            LookupProblem::FormerEmployee {
                employee_id,
                terminated,
            } => format!(
                "HiBob holds a former employee with the email {email} (employee {employee_id}{}): a rehire; rehire them in HiBob (or give the new hire another address), then run `hirebridge retry {application_id}` (or set hibob.on_former_employee = \"adopt\")",
                terminated
                    .as_deref()
                    .map(|d| format!(", terminated {d}"))
                    .unwrap_or_default(),
            ),
        }
    }
}

/// The employee a create sends, from the mapping: `work.site` defaults to `default_site`
/// (`hibob.site`), the start date to `start_date_offset` from detection, and a start date in the past becomes today unless
/// `mapping.allow_past_start_date`. Also returns what the mapping rendered (drift's baseline).
pub fn new_employee(
    mapping: &Mapping,
    default_site: &str,
    start_date_offset: chrono::Duration,
    first_seen: DateTime<Utc>,
    application: &HiredApplication,
    now: DateTime<Utc>,
) -> Result<(NewEmployee, Values), RenderError> {
    let rendered = mapping.render(&application.source)?;
    let mut fields = rendered.clone();
    let site = fields
        .remove(SITE)
        .unwrap_or_else(|| default_site.to_owned());
    // A mapped work address replaces the application's; it must be an address.
    let mut email = application.email.clone();
    for field in WORK_EMAIL {
        if let Some(work) = fields.remove(field) {
            if !work.contains('@') || work.chars().any(char::is_whitespace) {
                return Err(RenderError {
                    field: field.into(),
                    message: format!(
                        "{work:?} is not an email address; fix the template in [mapping.fields]"
                    ),
                });
            }
            email = crate::identity::nfc(&work);
        }
    }
    let start = match fields.remove(START_DATE) {
        Some(text) => {
            let date = parse_date(&text).ok_or_else(|| RenderError {
                field: START_DATE.into(),
                message: format!("{text:?} is not a date"),
            })?;
            clamp_start(mapping, date, now)
        }
        None => start_date(first_seen, start_date_offset, now),
    };
    Ok((
        NewEmployee {
            first_name: crate::identity::nfc(&application.first_name),
            surname: crate::identity::nfc(&application.last_name),
            email,
            site,
            start_date: start,
            fields,
        },
        rendered,
    ))
}

/// The keys of the values HR approved in Pinpoint's plugin form for the identity fields; the
/// other keys are HiBob field paths (`work.site`, `work.department`, …), as in `[mapping]`.
pub const APPROVED_FIRST_NAME: &str = "firstName";
pub const APPROVED_SURNAME: &str = "surname";
pub const APPROVED_EMAIL: &str = "email";

/// The email a create sends for these approved values (as [`with_approved`] takes it), when
/// HR approved one.
pub fn approved_email(approved: &std::collections::BTreeMap<String, String>) -> Option<String> {
    approved
        .get(APPROVED_EMAIL)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(crate::identity::nfc)
}

/// The create with the values HR approved in Pinpoint's plugin form in place of the mapping's:
/// an empty or absent value keeps the mapping's. The start date was validated by the form.
pub fn with_approved(
    mut new: NewEmployee,
    approved: &std::collections::BTreeMap<String, String>,
) -> NewEmployee {
    for (key, value) in approved {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match key.as_str() {
            APPROVED_FIRST_NAME => new.first_name = crate::identity::nfc(value),
            APPROVED_SURNAME => new.surname = crate::identity::nfc(value),
            APPROVED_EMAIL => new.email = crate::identity::nfc(value),
            SITE => new.site = value.to_owned(),
            START_DATE => {
                if let Some(date) = parse_date(value) {
                    new.start_date = date;
                }
            }
            path => {
                new.fields.insert(path.to_owned(), value.to_owned());
            }
        }
    }
    new
}

/// A mapped start date in the past becomes today, unless the config allows the past.
pub fn clamp_start(
    mapping: &Mapping,
    date: chrono::NaiveDate,
    now: DateTime<Utc>,
) -> chrono::NaiveDate {
    if mapping.allow_past_start_date {
        date
    } else {
        date.max(now.date_naive())
    }
}

/// The start date sent to HiBob when Pinpoint has none: the configured offset from the day
/// the hire was first seen, and never in the past.
pub fn start_date(
    first_seen: DateTime<Utc>,
    offset: chrono::Duration,
    now: DateTime<Utc>,
) -> chrono::NaiveDate {
    (first_seen + offset).date_naive().max(now.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn person(id: &str, login: &str, private: Option<&str>) -> FoundEmployee {
        FoundEmployee {
            id: id.into(),
            email: login.into(),
            lifecycle_status: Some("employed".into()),
            termination_date: None,
            private_email: private.map(str::to_owned),
        }
    }

    #[test]
    fn a_hire_is_found_by_either_address_and_several_matches_are_never_a_guess() {
        let today = now().date_naive();
        let mode = OnFormerEmployee::Attention;
        let ada = HireAddresses {
            candidate: "Ada@Example.com",
            work: Some("ada.lovelace@corp.example"),
        };
        // Entered by HR under her work address, with her own address kept as private.
        let hr = [person("1", "ADA.LOVELACE@corp.example", None)];
        assert_eq!(
            lookup_for(&ada, &hr, today, mode),
            Ok(Lookup::Found {
                employee_id: "1".into()
            })
        );
        let private = [person(
            "2",
            "a.l@elsewhere.example",
            Some("ada@example.com"),
        )];
        assert_eq!(
            lookup_for(&ada, &private, today, mode),
            Ok(Lookup::Found {
                employee_id: "2".into()
            })
        );
        // NFC: a decomposed "ë" is the same address as a composed one.
        let zoe = HireAddresses {
            candidate: "zo\u{eb}@example.com",
            work: None,
        };
        assert!(zoe.matches(&person("3", "zoe\u{308}@example.com", None)));
        // The same person twice in one answer (login search and everyone) is one match.
        let twice = [hr[0].clone(), hr[0].clone()];
        assert!(matches!(
            lookup_for(&ada, &twice, today, mode),
            Ok(Lookup::Found { .. })
        ));
        // Two different people: a person decides, both named.
        let two = [hr[0].clone(), private[0].clone()];
        match lookup_for(&ada, &two, today, mode) {
            Err(LookupProblem::Duplicates(ids)) => {
                assert_eq!(ids.len(), 2);
                assert!(ids[0].contains("ADA.LOVELACE@corp.example"), "{ids:?}");
            }
            other => panic!("{other:?}"),
        }
        // Somebody else's private address is no match for the work address.
        let other = [person(
            "4",
            "someone@corp.example",
            Some("ada.lovelace@corp.example"),
        )];
        assert_eq!(lookup_for(&ada, &other, today, mode), Ok(Lookup::NotFound));
    }

    #[test]
    fn start_date_is_offset_from_detection_but_never_past() {
        let seen = Utc.with_ymd_and_hms(2026, 11, 25, 23, 0, 0).unwrap();
        let two_weeks = chrono::Duration::days(14);
        assert_eq!(
            start_date(seen, two_weeks, seen),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 9).unwrap()
        );
        let much_later = seen + chrono::Duration::days(30);
        assert_eq!(
            start_date(seen, two_weeks, much_later),
            much_later.date_naive()
        );
    }
}

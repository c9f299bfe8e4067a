//! Gathering the facts a pass decides from: for every due hire that still needs its
//! employee, what HiBob's people say ([`Lookup`]).
//!
//! Reads only — the batched login search, and at most one read of everyone per pass — and
//! records nothing: the caller records failures and parks ([`super::pipeline`]), and the dry
//! run renders them. Which person is the hire is decided here, once ([`lookup_for`]).

use std::collections::HashMap;

use chrono::Utc;

use super::Parts;
use crate::config::OnFormerEmployee;
use crate::hibob::FoundEmployee;
use crate::hire::{LedgerEntry, StepState};
use crate::http::ApiError;
use crate::ledger::LedgerError;
use crate::pinpoint::HiredApplication;

/// What HiBob's people say about one hire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The employee step is already done; no search was needed.
    NotNeeded,
    Found {
        employee_id: String,
    },
    NotFound,
}

/// Why a due hire has no [`Lookup`] this pass.
#[derive(Debug, Clone)]
pub enum Unsettled {
    /// The answer cannot be acted on without a person (several matches, a former employee,
    /// a namesake): the message says what to do.
    Problem(String),
    /// The search for this hire failed.
    Failed(ApiError),
}

/// The lookups of one page's due hires.
#[derive(Debug, Default)]
pub struct Facts {
    pub lookups: HashMap<String, Result<Lookup, Unsettled>>,
    /// A refused credential ended the gathering: the pass stops.
    pub stop: Option<ApiError>,
    /// HiBob refused a batch of searches: the API may have moved, so the contract is
    /// checked again before the next pass writes.
    pub suspect_contract: bool,
}

/// Whether the batched search must include this hire's email.
pub fn needs_lookup(entry: &LedgerEntry) -> bool {
    entry.employee.state() != StepState::Done
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
        use crate::identity::same_address;
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
        use crate::identity::same_address;
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
            Some(work) if !crate::identity::same_address(work, self.candidate) => {
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
            employee_id: one.id.clone(),
            login: one.email.clone(),
            private: one.private_email.clone().unwrap_or_default(),
        }),
        [one] if on_former == OnFormerEmployee::Attention && one.is_former(today) => {
            Err(LookupProblem::FormerEmployee {
                employee_id: one.id.clone(),
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
                        f.id.clone()
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

impl Parts {
    /// Finds the HiBob person of every due hire that still needs its employee. First by login
    /// address, in batches of emails (the candidate's address and the mapped work address);
    /// then, for hires no login matched, in `directory` — everyone with both addresses, read
    /// at most once per pass and only when a hire needs it — where a person HR entered under a
    /// work address is found by the candidate's private address.
    pub(super) async fn gather_lookups(
        &self,
        due: &[LedgerEntry],
        applications: &HashMap<&str, &HiredApplication>,
        directory: &mut Option<Vec<FoundEmployee>>,
    ) -> Result<Facts, LedgerError> {
        let mut facts = Facts::default();
        let needing: Vec<&LedgerEntry> = due
            .iter()
            .filter(|e| {
                if needs_lookup(e) {
                    true
                } else {
                    facts
                        .lookups
                        .insert(e.application_id.clone(), Ok(Lookup::NotNeeded));
                    false
                }
            })
            .collect();
        if needing.is_empty() {
            return Ok(facts);
        }
        let work = self.work_addresses(&needing, applications)?;
        let by_login = self.search_logins(&needing, &work, &mut facts).await;
        if facts.stop.is_some() {
            return Ok(facts);
        }
        let searched: Vec<&LedgerEntry> = needing
            .into_iter()
            .filter(|e| !facts.lookups.contains_key(&e.application_id))
            .collect();
        let matched =
            |e: &LedgerEntry| by_login.iter().any(|p| hire_addresses(e, &work).matches(p));
        if directory.is_none() && searched.iter().any(|e| !matched(e)) {
            match self.hibob.directory().await {
                Ok(everyone) => *directory = Some(everyone),
                Err(e) if stops_pass(&e) => {
                    facts.stop = Some(e);
                    return Ok(facts);
                }
                Err(e) => {
                    // Without it a person HR entered under a work address could be created a
                    // second time: no create this pass for a hire no login matched.
                    for entry in searched.iter().filter(|e| !matched(e)) {
                        facts.lookups.insert(
                            entry.application_id.clone(),
                            Err(Unsettled::Failed(e.clone())),
                        );
                    }
                }
            }
        }
        let mut people = by_login;
        if let Some(everyone) = directory.as_ref() {
            people.extend(everyone.iter().cloned());
        }
        let today = Utc::now().date_naive();
        for entry in searched {
            if facts.lookups.contains_key(&entry.application_id) {
                continue;
            }
            let addresses = hire_addresses(entry, &work);
            let lookup = lookup_for(&addresses, &people, today, self.settings.on_former_employee)
                .map_err(|problem| {
                    Unsettled::Problem(
                        problem.message(&addresses.describe(), &entry.application_id),
                    )
                });
            facts.lookups.insert(entry.application_id.clone(), lookup);
        }
        Ok(facts)
    }

    /// The work address each hire may be known by: for a create whose outcome is unknown, the
    /// one recorded with its intent (it went out under that one, whatever the mapping renders
    /// now); else what the mapping renders.
    fn work_addresses<'a>(
        &self,
        needing: &[&'a LedgerEntry],
        applications: &HashMap<&str, &HiredApplication>,
    ) -> Result<HashMap<&'a str, String>, LedgerError> {
        let in_flight: Vec<&str> = needing
            .iter()
            .filter(|e| e.employee.state() == StepState::InFlight)
            .map(|e| e.application_id.as_str())
            .collect();
        let recorded = self.ledger().mapped_values(&in_flight)?;
        Ok(needing
            .iter()
            .filter_map(|e| {
                let id = e.application_id.as_str();
                let sent = recorded.get(id).and_then(|r| {
                    crate::mapping::WORK_EMAIL
                        .iter()
                        .find_map(|f| r.rendered.get(*f).cloned())
                });
                let address = sent.or_else(|| {
                    let application = applications.get(id)?;
                    self.settings.mapping.work_email(&application.source)
                })?;
                Some((id, address))
            })
            .collect())
    }

    /// Searches HiBob by login address in batches. A hire whose search failed gets its
    /// failure in `facts`; a refused credential sets `facts.stop` and ends the search.
    async fn search_logins(
        &self,
        needing: &[&LedgerEntry],
        work: &HashMap<&str, String>,
        facts: &mut Facts,
    ) -> Vec<FoundEmployee> {
        let emails_of = |batch: &[&LedgerEntry]| {
            let mut emails: Vec<String> = batch
                .iter()
                .flat_map(|e| {
                    let a = hire_addresses(e, work);
                    std::iter::once(a.candidate.to_owned()).chain(a.work.map(str::to_owned))
                })
                .collect();
            emails.sort_by_key(|e| crate::identity::email_key(e));
            emails.dedup_by(|a, b| crate::identity::same_address(a, b));
            emails
        };
        let batch_size = if self.fallbacks().search_one_by_one {
            1
        } else {
            self.settings.search_batch_size.max(1)
        };
        let mut found = Vec::new();
        let failed = |entries: &[&LedgerEntry], error: ApiError, facts: &mut Facts| {
            if stops_pass(&error) {
                facts.stop = Some(error);
                return;
            }
            for entry in entries {
                facts.lookups.insert(
                    entry.application_id.clone(),
                    Err(Unsettled::Failed(error.clone())),
                );
            }
        };
        for batch in needing.chunks(batch_size) {
            match self.hibob.search_by_emails(&emails_of(batch)).await {
                Ok(people) => found.extend(people),
                // One email HiBob refuses must not hold up the rest of the batch: ask for
                // each alone, and park only the one that is refused. A refused batch may also
                // mean the API moved: the next pass checks the contract again.
                Err(ApiError::Invalid { .. }) if batch.len() > 1 => {
                    facts.suspect_contract = true;
                    for entry in batch {
                        match self.hibob.search_by_emails(&emails_of(&[entry])).await {
                            Ok(people) => found.extend(people),
                            Err(e) => failed(&[entry], e, facts),
                        }
                        if facts.stop.is_some() {
                            return found;
                        }
                    }
                }
                Err(e) => failed(batch, e, facts),
            }
            if facts.stop.is_some() {
                return found;
            }
        }
        found
    }
}

/// Whether a search failure stops the pass (a refused credential).
fn stops_pass(error: &ApiError) -> bool {
    super::policy::Verdict::of(error, super::policy::About::Service).stops()
}

/// The addresses `entry` may be known by in HiBob: its own, and the mapped work address.
fn hire_addresses<'a>(
    entry: &'a LedgerEntry,
    work: &'a HashMap<&str, String>,
) -> HireAddresses<'a> {
    HireAddresses {
        candidate: entry.email.as_str(),
        work: work.get(entry.application_id.as_str()).map(String::as_str),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone};

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
}

//! Gathering the facts a pass decides from: for every due hire that still needs its
//! employee, what HiBob's people say ([`Lookup`]).
//!
//! Reads only — the batched login search, and at most one streamed read of everyone per page —
//! and
//! records nothing: the caller records failures and parks ([`super::pipeline`]), and the dry
//! run renders them. Which person is the hire is decided once, by
//! [`crate::employee::lookup_for`].

use std::collections::HashMap;

use chrono::Utc;

use super::Parts;
pub use crate::employee::{HireAddresses, Lookup, LookupProblem, lookup_for};
use crate::hibob::FoundEmployee;
use crate::hire::{ApplicationId, LedgerEntry, StepState};
use crate::http::ApiError;
use crate::ledger::LedgerError;
use crate::pinpoint::HiredApplication;

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
    pub lookups: HashMap<ApplicationId, Result<Lookup, Unsettled>>,
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

/// People found this pass, indexed by the keys of their login and private addresses
/// ([`crate::identity::email_key`]): a hire's candidates are found by its own addresses, never
/// by scanning everyone found (that scan made a hire's cost grow with the pass).
#[derive(Debug, Default)]
pub struct KnownPeople {
    people: Vec<FoundEmployee>,
    by_key: HashMap<String, Vec<usize>>,
}

impl KnownPeople {
    pub fn add(&mut self, person: FoundEmployee) {
        let index = self.people.len();
        let login = crate::identity::email_key(&person.email);
        let private = person
            .private_email
            .as_deref()
            .map(crate::identity::email_key);
        for key in std::iter::once(login.clone()).chain(private.filter(|p| *p != login)) {
            if !key.is_empty() {
                self.by_key.entry(key).or_default().push(index);
            }
        }
        self.people.push(person);
    }

    /// The people `addresses` match ([`HireAddresses::matches`]), each once.
    pub fn matching(&self, addresses: &HireAddresses<'_>) -> Vec<FoundEmployee> {
        let mut indexes: Vec<usize> = std::iter::once(addresses.candidate)
            .chain(addresses.work)
            .filter_map(|a| self.by_key.get(&crate::identity::email_key(a)))
            .flatten()
            .copied()
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes
            .into_iter()
            .map(|i| &self.people[i])
            .filter(|p| addresses.matches(p))
            .cloned()
            .collect()
    }
}

/// What a pass knows of HiBob's people beyond its searches: everyone's addresses (read once,
/// when a hire first matches no login, into a filter of fixed size) and the employees the
/// pass itself made (HiBob may not show them yet).
#[derive(Debug, Default)]
pub struct PassPeople {
    pub addresses: Option<crate::hibob::people::AddressFilter>,
    pub created: KnownPeople,
}

impl Parts {
    /// Finds the HiBob person of every due hire that still needs its employee. First by login
    /// address, in batches of emails (the candidate's address and the mapped work address);
    /// then, for a hire no login matched, by the candidate's private address — a person HR
    /// entered under a work address. Search cannot filter on it, so that needs everyone: read
    /// once a pass into [`PassPeople::addresses`], and read again (streamed, keeping only the
    /// page's addresses) only for a page where a hire's address may be someone's.
    pub(super) async fn gather_lookups(
        &self,
        due: &[LedgerEntry],
        applications: &HashMap<&str, &HiredApplication>,
        known: &mut PassPeople,
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
        let mut people = KnownPeople::default();
        for person in by_login {
            people.add(person);
        }
        let unknown: Vec<&LedgerEntry> = searched
            .iter()
            .filter(|e| {
                let addresses = hire_addresses(e, &work);
                people.matching(&addresses).is_empty()
                    && known.created.matching(&addresses).is_empty()
            })
            .copied()
            .collect();
        if !unknown.is_empty() {
            match self
                .people_by_address(&searched, &unknown, &work, known)
                .await
            {
                Ok(found) => found.into_iter().for_each(|p| people.add(p)),
                Err(e) if stops_pass(&e) => {
                    facts.stop = Some(e);
                    return Ok(facts);
                }
                Err(e) => {
                    // Without it a person HR entered under a work address could be created a
                    // second time: no create this pass for a hire no login matched.
                    for entry in &unknown {
                        facts.lookups.insert(
                            entry.application_id.clone(),
                            Err(Unsettled::Failed(e.clone())),
                        );
                    }
                }
            }
        }
        self.decide_lookups(&searched, &work, &people, &known.created, &mut facts);
        Ok(facts)
    }

    /// The people under the addresses of `searched`, when one of `unknown`'s may be someone's
    /// (by the pass's filter of everyone's addresses, read now if not yet); none otherwise.
    async fn people_by_address(
        &self,
        searched: &[&LedgerEntry],
        unknown: &[&LedgerEntry],
        work: &HashMap<&str, String>,
        known: &mut PassPeople,
    ) -> Result<Vec<FoundEmployee>, ApiError> {
        if known.addresses.is_none() {
            known.addresses = Some(self.hibob.everyone_addresses().await?);
        }
        let filter = known.addresses.as_ref().expect("just read");
        let maybe = unknown.iter().any(|e| {
            let a = hire_addresses(e, work);
            filter.may_hold(a.candidate) || a.work.is_some_and(|w| filter.may_hold(w))
        });
        if !maybe {
            return Ok(Vec::new());
        }
        let wanted = searched
            .iter()
            .flat_map(|e| {
                let a = hire_addresses(e, work);
                std::iter::once(a.candidate).chain(a.work)
            })
            .map(crate::identity::email_key)
            .collect();
        self.hibob.people_at_addresses(wanted).await
    }

    /// Each searched hire's lookup, from the people found for its addresses.
    fn decide_lookups(
        &self,
        searched: &[&LedgerEntry],
        work: &HashMap<&str, String>,
        people: &KnownPeople,
        created: &KnownPeople,
        facts: &mut Facts,
    ) {
        let today = Utc::now().date_naive();
        for entry in searched {
            if facts.lookups.contains_key(&entry.application_id) {
                continue;
            }
            let addresses = hire_addresses(entry, work);
            let mut found = people.matching(&addresses);
            found.extend(created.matching(&addresses));
            let lookup = lookup_for(&addresses, &found, today, self.settings.on_former_employee)
                .map_err(|problem| {
                    Unsettled::Problem(
                        problem.message(&addresses.describe(), &entry.application_id),
                    )
                });
            facts.lookups.insert(entry.application_id.clone(), lookup);
        }
    }

    /// The work address each hire may be known by: the address HR approved in Pinpoint's
    /// plugin form, which its create sends (or sent: a submit while a create's outcome is
    /// unknown records nothing, so this is still the address that create went out under);
    /// else, for a create whose outcome is unknown, the one recorded with its intent (it went
    /// out under that one, whatever the mapping renders now); else what the mapping renders.
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
        let mut approved = HashMap::new();
        for e in needing {
            let id = e.application_id.as_str();
            if let Some(email) = self.approved_email(&e.application_id)? {
                approved.insert(id, email);
            }
        }
        Ok(needing
            .iter()
            .filter_map(|e| {
                let id = e.application_id.as_str();
                if let Some(email) = approved.remove(id) {
                    return Some((id, email));
                }
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

    /// The email of the hire's latest plugin submit, as its create sends it
    /// ([`crate::employee::with_approved`]); `None` when HR approved none.
    fn approved_email(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Option<String>, LedgerError> {
        let approved = self.ledger().plugin_values_for(application_id)?;
        Ok(approved.and_then(|values| crate::employee::approved_email(&values)))
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
                Err(e) if batch.len() > 1 && refused_data(&e) => {
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

/// Whether HiBob refused what a search sent (one bad address refuses the whole batch).
fn refused_data(error: &ApiError) -> bool {
    super::policy::for_pass(error).refused_data
}

/// Whether a search failure stops the pass (a refused credential).
fn stops_pass(error: &ApiError) -> bool {
    super::policy::for_pass(error).stops
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

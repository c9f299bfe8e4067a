//! Who a hire is, as HiBob tells people apart: email addresses compared case-insensitively
//! after Unicode NFC normalisation (an `é` typed as one code point or as `e` plus an accent is
//! the same address), and names normalised to NFC before they are written.
//!
//! Then which HiBob person is a hire ([`lookup_for`]): by login address (the mapped work
//! address or the candidate's own) or by HR's private address, never by a guess.
//!
//! Pure: it reads what the clients parsed, and knows neither the clients nor the ledger.

use unicode_normalization::UnicodeNormalization;

use crate::config::OnFormerEmployee;
use crate::hibob::FoundEmployee;

/// The form two addresses are compared in: trimmed, NFC, lower case.
pub fn email_key(address: &str) -> String {
    address.trim().nfc().collect::<String>().to_lowercase()
}

/// Whether two addresses are the same person's.
pub fn same_address(a: &str, b: &str) -> bool {
    email_key(a) == email_key(b)
}

/// A name as it is written to HiBob: NFC, so the same name is the same bytes whatever the
/// keyboard that typed it.
pub fn nfc(text: &str) -> String {
    text.nfc().collect()
}

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
        use same_address;
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
        use same_address;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_match_across_case_and_unicode_composition() {
        let composed = "zo\u{eb}@example.com"; // ë as one code point
        let decomposed = "zoe\u{308}@Example.COM"; // e + combining diaeresis
        assert!(same_address(composed, decomposed));
        assert!(same_address(" Ada@Example.com ", "ada@example.com"));
        assert!(!same_address("ada@example.com", "ada@example.org"));
    }

    #[test]
    fn names_are_written_composed() {
        assert_eq!(
            nfc("Zoe\u{308} \u{d8}dega\u{30a}rd"),
            "Zo\u{eb} \u{d8}deg\u{e5}rd"
        );
    }

    use chrono::{DateTime, TimeZone, Utc};

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

//! A people search answer read one person at a time: the `employees` array is walked by a
//! serde visitor and each element handed on as it is parsed, so an answer with everyone in a
//! tenant of a million people is read in the memory of one person.
//!
//! Owns the walking and what the two whole-tenant reads keep of it (the people matching some
//! addresses; the contract probe's counts). It knows nothing of HTTP beyond a reader, and
//! nothing of hires.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use chrono::NaiveDate;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::model::{self, FoundEmployee};
use crate::http::BodyError;

/// Called with each person of an answer; an error refuses the whole answer.
pub type EachPerson<'a> = &'a mut dyn FnMut(Value) -> Result<(), String>;

/// Calls `each` with every element of the answer's `employees` array, in order, each parsed on
/// its own. An answer without an `employees` array is malformed.
pub fn for_each_person(reader: &mut dyn Read, each: EachPerson<'_>) -> Result<(), BodyError> {
    let mut json = serde_json::Deserializer::from_reader(reader);
    let found = Answer(each)
        .deserialize(&mut json)
        .map_err(BodyError::of_json)?;
    json.end().map_err(BodyError::of_json)?;
    if found {
        Ok(())
    } else {
        Err(BodyError::Malformed("`employees` is not an array".into()))
    }
}

/// The answer object; its value is whether it had `employees`.
struct Answer<'a>(EachPerson<'a>);

impl<'de> DeserializeSeed<'de> for Answer<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Answer<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a search answer object with an `employees` array")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "employees" && !found {
                map.next_value_seed(Employees(&mut *self.0))?;
                found = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// The `employees` array, element by element.
struct Employees<'a>(EachPerson<'a>);

impl<'de> DeserializeSeed<'de> for Employees<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Employees<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`employees` as an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(person) = seq.next_element::<Value>()? {
            (self.0)(person).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// The people of an answer whose login or private address has one of `wanted`'s keys
/// ([`crate::identity::email_key`]). A person without an id refuses the answer, as a batched
/// search's does (they could be adopted as nobody).
pub fn matching(
    reader: &mut dyn Read,
    wanted: &HashSet<String>,
) -> Result<Vec<FoundEmployee>, BodyError> {
    let mut kept = Vec::new();
    let wants = |address: &str| {
        !address.trim().is_empty() && wanted.contains(&crate::identity::email_key(address))
    };
    for_each_person(reader, &mut |person| {
        let found = model::found_employee(&person)?;
        if wants(&found.email) || found.private_email.as_deref().is_some_and(wants) {
            kept.push(found);
        }
        Ok(())
    })?;
    Ok(kept)
}

/// Every address in HiBob (logins and private addresses, as [`crate::identity::email_key`]s)
/// in a Bloom filter of fixed size: whether a hire's address *may* be someone's is answered
/// from 8 MiB whatever the number of people, never wrongly "no" (a rare "maybe" only costs a
/// second read, which then finds the people themselves).
#[derive(Clone)]
pub struct AddressFilter {
    bits: Vec<u64>,
    /// Addresses added.
    pub addresses: usize,
}

impl fmt::Debug for AddressFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AddressFilter({} addresses)", self.addresses)
    }
}

impl AddressFilter {
    /// 2^26 bits: 8 MiB.
    const WORDS: usize = 1 << 20;
    /// Bits set per address: with two million addresses (a million people), a false "maybe"
    /// about one in 50,000 lookups.
    const PROBES: u64 = 6;

    pub fn new() -> Self {
        AddressFilter {
            bits: vec![0; Self::WORDS],
            addresses: 0,
        }
    }

    fn positions(address: &str) -> impl Iterator<Item = usize> {
        use std::hash::{Hash, Hasher};
        let key = crate::identity::email_key(address);
        let hash = |seed: u64| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            seed.hash(&mut h);
            key.hash(&mut h);
            h.finish()
        };
        let (a, b) = (hash(1), hash(2) | 1);
        let bits = (Self::WORDS * 64) as u64;
        (0..Self::PROBES).map(move |i| (a.wrapping_add(i.wrapping_mul(b)) % bits) as usize)
    }

    pub fn add(&mut self, address: &str) {
        if address.trim().is_empty() {
            return;
        }
        for p in Self::positions(address) {
            self.bits[p / 64] |= 1 << (p % 64);
        }
        self.addresses += 1;
    }

    /// Whether someone in HiBob may hold `address` (as login or private address).
    pub fn may_hold(&self, address: &str) -> bool {
        !address.trim().is_empty()
            && Self::positions(address).all(|p| self.bits[p / 64] & (1 << (p % 64)) != 0)
    }

    /// Reads everyone's addresses from a search answer (a person without an id refuses the
    /// answer, as elsewhere).
    pub fn read(reader: &mut dyn Read) -> Result<Self, BodyError> {
        let mut filter = AddressFilter::new();
        for_each_person(reader, &mut |person| {
            let found = model::found_employee(&person)?;
            filter.add(&found.email);
            if let Some(private) = &found.private_email {
                filter.add(private);
            }
            Ok(())
        })?;
        Ok(filter)
    }
}

impl Default for AddressFilter {
    fn default() -> Self {
        Self::new()
    }
}

/// What the contract probe keeps of everyone: counts, and which of the employees hirebridge
/// wrote (the witnesses) the answer showed. Never the people themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleSummary {
    /// People with an id (one without is left out of a probe's count).
    pub people: usize,
    /// Inactive for HiBob's search: a future starter (`hired`) or a former employee
    /// (`terminated`, or a termination date that has passed). Someone on leave is active.
    pub inactive: usize,
    /// Someone came back with `internal.lifecycleStatus`.
    pub with_lifecycle: bool,
    /// Someone came back with a `humanReadable` section (asked with `APPEND`).
    pub human_readable: bool,
    /// The witnesses the answer showed.
    pub witnesses_seen: HashSet<String>,
    /// The first person's id.
    pub first_id: Option<String>,
}

impl PeopleSummary {
    /// Reads an unfiltered (or by-id) search asked for the fields hirebridge reads.
    pub fn read(
        reader: &mut dyn Read,
        witnesses: &HashSet<String>,
        today: NaiveDate,
    ) -> Result<Self, BodyError> {
        let mut summary = PeopleSummary::default();
        for_each_person(reader, &mut |person| {
            summary.add(&person, witnesses, today);
            Ok(())
        })?;
        Ok(summary)
    }

    fn add(&mut self, person: &Value, witnesses: &HashSet<String>, today: NaiveDate) {
        let Ok(found) = model::found_employee(person) else {
            return;
        };
        self.people += 1;
        let lifecycle = found.lifecycle_status.as_deref();
        let inactive = lifecycle.is_some_and(|s| {
            s.eq_ignore_ascii_case("hired") || s.eq_ignore_ascii_case("terminated")
        }) || found
            .termination_date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok())
            .is_some_and(|d| d <= today);
        self.inactive += usize::from(inactive);
        self.with_lifecycle |= lifecycle.is_some();
        self.human_readable |= person.get("humanReadable").is_some_and(Value::is_object);
        if witnesses.contains(found.id.as_str()) {
            self.witnesses_seen.insert(found.id.to_string());
        }
        if self.first_id.is_none() {
            self.first_id = Some(found.id.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people(body: &str) -> Result<Vec<String>, BodyError> {
        let mut ids = Vec::new();
        for_each_person(&mut body.as_bytes(), &mut |p| {
            ids.push(p["id"].as_str().unwrap_or("?").to_owned());
            Ok(())
        })?;
        Ok(ids)
    }

    #[test]
    fn every_person_is_handed_on_in_order_whatever_surrounds_the_array() {
        let body = r#"{"meta": {"n": [1, {"x": 2}]}, "employees": [{"id": "1"}, {"id": "2", "work": {"a": [1]}}], "more": null}"#;
        assert_eq!(people(body).unwrap(), ["1", "2"]);
        assert_eq!(
            people(r#"{"employees": []}"#).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_answer_without_an_employees_array_is_malformed() {
        for body in [
            r#"{"people": []}"#,
            r#"{"employees": {"id": "1"}}"#,
            r#"[{"id": "1"}]"#,
            r#"{"employees": [{"id": "1"}"#,
            r#"{"employees": []} trailing"#,
        ] {
            assert!(
                matches!(people(body), Err(BodyError::Malformed(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn only_people_under_a_wanted_address_are_kept() {
        let body = r#"{"employees": [
            {"id": "1", "email": "A@Example.com"},
            {"id": "2", "email": "b@example.com", "home": {"privateEmail": "Pat@Home.example"}},
            {"id": "3", "email": "c@example.com"}]}"#;
        let wanted: HashSet<String> = ["a@example.com", "pat@home.example"]
            .map(crate::identity::email_key)
            .into();
        let kept = matching(&mut body.as_bytes(), &wanted).unwrap();
        let ids: Vec<&str> = kept.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["1", "2"]);
        let no_id = r#"{"employees": [{"email": "a@example.com"}]}"#;
        assert!(matches!(
            matching(&mut no_id.as_bytes(), &wanted),
            Err(BodyError::Malformed(_))
        ));
    }

    #[test]
    fn the_address_filter_never_forgets_an_address_and_rarely_imagines_one() {
        let body = r#"{"employees": [
            {"id": "1", "email": "Ada@Corp.example", "home": {"privateEmail": "ada@home.example"}},
            {"id": "2", "email": "grace@corp.example"}]}"#;
        let filter = AddressFilter::read(&mut body.as_bytes()).unwrap();
        assert_eq!(filter.addresses, 3);
        for known in [
            "ada@corp.example",
            " ADA@home.example",
            "grace@corp.example",
        ] {
            assert!(filter.may_hold(known), "{known}");
        }
        let imagined = (0..10_000)
            .filter(|i| filter.may_hold(&format!("nobody{i}@example.com")))
            .count();
        assert_eq!(imagined, 0);
        assert!(!filter.may_hold(""));
    }

    #[test]
    fn the_probe_counts_without_keeping_anyone() {
        let body = r#"{"employees": [
            {"id": "1", "internal": {"lifecycleStatus": "employed"}, "humanReadable": {}},
            {"id": "2", "internal": {"lifecycleStatus": "Hired"}},
            {"id": "3", "internal": {"terminationDate": "2020-01-31"}},
            {"email": "no-id@example.com"}]}"#;
        let witnesses: HashSet<String> = ["3".to_owned(), "9".to_owned()].into();
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let s = PeopleSummary::read(&mut body.as_bytes(), &witnesses, today).unwrap();
        assert_eq!((s.people, s.inactive), (3, 2));
        assert!(s.with_lifecycle && s.human_readable);
        assert_eq!(s.witnesses_seen, HashSet::from(["3".to_owned()]));
        assert_eq!(s.first_id.as_deref(), Some("1"));
    }
}

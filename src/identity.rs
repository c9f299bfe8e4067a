//! Who a hire is, as HiBob tells people apart: email addresses compared case-insensitively
//! after Unicode NFC normalisation (an `é` typed as one code point or as `e` plus an accent is
//! the same address), and names normalised to NFC before they are written.
//!
//! Pure text functions; it knows neither the clients nor the ledger.

use unicode_normalization::UnicodeNormalization;

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
}

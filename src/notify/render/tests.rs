//! Each format shows every hire with what to do, and no untrusted text escapes its place.

use chrono::TimeZone as _;

use super::*;
use crate::notify::NoticeKind;

fn hire(name: &str, email: &str) -> NoticeHire {
    NoticeHire {
        application_id: "8863880".into(),
        name: name.into(),
        email: email.into(),
        reason: "HiBob already holds a former employee with this email.".into(),
        what_to_do: "Rehire them in HiBob, then `hirebridge link`.".into(),
        pinpoint_url: "https://acme.pinpointhq.com/admin/applications/8863880".into(),
        hibob_url: Some("https://app.hibob.com/employee-profile/33973".into()),
    }
}

fn notice(hires: Vec<NoticeHire>) -> Notice {
    Notice::about(
        NoticeKind::NeedsAttention,
        chrono::Utc.with_ymd_and_hms(2026, 12, 7, 9, 30, 0).unwrap(),
        "2 hires need a person".into(),
        hires,
    )
}

/// Names and emails a hostile applicant could type.
const HOSTILE: &[&str] = &[
    "Eve\r\nBcc: everyone@example.com",
    "<!channel> <!here> <!everyone> <@U123ABC> <#C99|general>",
    "<https://evil.example/login|Pinpoint>",
    "@channel @here @everyone @all",
    "[Open in HiBob](https://evil.example)",
    "Mallory\u{202e}gpj.exe",
    "Trudy\u{1b}]0;pwned\u{7}",
    "<script>alert(1)</script>&amp;\"'",
];

#[test]
fn the_plain_text_lists_each_hire_with_what_to_do_links_and_the_rest_counted() {
    let hires: Vec<NoticeHire> = (0..23)
        .map(|i| hire(&format!("Ada {i}"), &format!("ada{i}@example.com")))
        .collect();
    let text = plain_text(&notice(hires));
    assert!(text.starts_with("2 hires need a person\n\n1. Ada 0 <ada0@example.com>\n"));
    assert!(text.contains("   Why: HiBob already holds a former employee with this email.\n"));
    assert!(text.contains("   What to do: Rehire them in HiBob, then `hirebridge link`.\n"));
    assert!(text.contains("   Pinpoint: https://acme.pinpointhq.com/admin/applications/8863880\n"));
    assert!(text.contains("   HiBob: https://app.hibob.com/employee-profile/33973\n"));
    assert!(text.contains("20. Ada 19 <"), "{text}");
    assert!(!text.contains("Ada 20"), "only the first 20 are listed");
    assert!(text.contains("… and 3 more"), "{text}");
    assert!(text.contains("Sent by hirebridge (needs_attention) at 2026-12-07 09:30:00 UTC."));
}

#[test]
fn untrusted_text_stays_on_its_line_with_controls_and_bidi_shown_escaped() {
    for name in HOSTILE {
        let n = notice(vec![hire(name, name)]);
        for text in [plain_text(&n), html(&n), slack_text(&n)] {
            assert!(
                !text.lines().any(|l| l.starts_with("Bcc:")),
                "{name:?} made a line of its own: {text}"
            );
            assert!(!text.contains('\r') && !text.contains('\u{1b}') && !text.contains('\u{202e}'));
        }
    }
    let n = notice(vec![hire(
        "Eve\r\nBcc: everyone@example.com",
        "e@example.com",
    )]);
    assert!(plain_text(&n).contains("1. Eve\\u{d}\\u{a}Bcc: everyone@example.com <e@example.com>"));
    let n = notice(vec![hire("Mallory\u{202e}gpj.exe", "m@example.com")]);
    assert!(plain_text(&n).contains("Mallory\\u{202e}gpj.exe"));
}

#[test]
fn the_html_part_escapes_every_untrusted_value_and_links_only_to_its_own_urls() {
    let mut odd = hire("<script>alert(1)</script>", "\"onmouseover=x@example.com");
    odd.hibob_url = Some("javascript:alert(1)".into());
    let page = html(&notice(vec![odd]));
    assert!(!page.contains("<script>"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("\"onmouseover"), "{page}");
    assert!(page.contains(
        "<a href=\"https://acme.pinpointhq.com/admin/applications/8863880\">Pinpoint</a>"
    ));
    assert!(!page.contains("href=\"javascript"), "{page}");
    assert!(
        page.contains("HiBob: javascript:alert(1)"),
        "shown as text: {page}"
    );
}

#[test]
fn the_slack_text_pings_nobody_and_links_nowhere_but_its_own_links() {
    for name in HOSTILE {
        let text = slack_text(&notice(vec![hire(name, "mallory@example.com")]));
        assert!(
            !text.contains("<!") && !text.contains("<@") && !text.contains("<#"),
            "{text}"
        );
        for mention in ["@channel", "@here", "@everyone", "@all", "@example"] {
            assert!(!text.contains(mention), "{name:?} pings: {text}");
        }
        assert!(!text.contains("](https://evil"), "{text}");
        // Only the links hirebridge made, with their fixed labels.
        let links: Vec<&str> = text.match_indices('<').map(|(i, _)| &text[i..]).collect();
        assert_eq!(links.len(), 2, "{text}");
        assert!(
            links[0]
                .starts_with("<https://acme.pinpointhq.com/admin/applications/8863880|Pinpoint>")
        );
        assert!(links[1].starts_with("<https://app.hibob.com/employee-profile/33973|HiBob>"));
    }
    assert_eq!(
        slack_escape("<!channel> & @here [x](https://e)"),
        "&lt;!channel&gt; &amp; ＠here [x］(https://e)"
    );
    let text = slack_text(&notice(vec![hire("Ada", "ada@example.com")]));
    assert!(
        text.starts_with("*2 hires need a person*\n• *Ada* (ada＠example.com): HiBob already"),
        "{text}"
    );
}

#[test]
fn a_huge_field_is_cut() {
    let long = "x".repeat(100_000);
    let text = plain_text(&notice(vec![hire(&long, "a@example.com")]));
    assert!(text.len() < 3_000, "{}", text.len());
    assert!(text.contains(&format!("{}…", "x".repeat(MAX_FIELD))));
}

#[test]
fn the_subject_is_the_title_without_control_characters() {
    let mut n = notice(Vec::new());
    n.title = "Writes stopped\r\nBcc: x@example.com".into();
    assert_eq!(subject(&n), "Writes stoppedBcc: x@example.com");
    n.title = "\r\n".into();
    assert_eq!(subject(&n), "hirebridge: needs_attention");
}

#[test]
fn detail_and_digest_are_shown_in_every_format() {
    let mut n = notice(vec![hire("Ada", "ada@example.com")]);
    n.kind = NoticeKind::DailyDigest;
    n.detail = Some("HiBob refused the credentials <!here>".into());
    n.digest = Some(DigestCounts {
        day: "2026-12-06".into(),
        done: 5,
        waiting_for_hr: 2,
        parked: 1,
        skipped: 0,
    });
    let counts = "2026-12-06: 5 done, 2 waiting for HR, 1 parked, 0 skipped.";
    assert!(plain_text(&n).contains(counts));
    assert!(html(&n).contains(counts));
    assert!(slack_text(&n).contains(counts));
    assert!(slack_text(&n).contains("HiBob refused the credentials &lt;!here&gt;"));
    assert!(html(&n).contains("HiBob refused the credentials &lt;!here&gt;"));
}

#[test]
fn the_json_body_is_the_notice_with_a_version_and_its_signature_is_hmac_sha256() {
    let n = notice(vec![hire("Eve\r\n<!channel>", "eve@example.com")]);
    let body = json_body(&n);
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["kind"], "needs_attention");
    assert_eq!(value["hires"][0]["name"], "Eve\r\n<!channel>", "exact data");
    let back: Notice = serde_json::from_value(value).unwrap();
    assert_eq!(back, n);
    // The widely published HMAC-SHA256 "quick brown fox" vector.
    assert_eq!(
        signature(b"key", b"The quick brown fox jumps over the lazy dog"),
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
    let slack: serde_json::Value = serde_json::from_slice(&slack_body(&n)).unwrap();
    assert_eq!(slack["text"], slack_text(&n));
}

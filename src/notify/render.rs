//! A [`Notice`] as each channel shows it: an email's subject, plain text and HTML parts, the
//! `slack` format's `text`, and the `json` format's body. Pure functions, no I/O.
//!
//! Owns making untrusted text (names, emails, reasons, anything quoting an API) safe for each
//! output; must never put it anywhere but a body. In every format, control and bidirectional
//! characters are shown escaped as [`crate::untrusted::terminal`] shows them (so no line break
//! can start a new line, let alone a header, and no override can reorder what is read), and a
//! field is cut at [`MAX_FIELD`] characters. Then, per format:
//!
//! - plain text: nothing more (it is text).
//! - HTML: [`crate::report::html::escape`]; links only to `http(s)` URLs hirebridge made.
//! - `slack`: `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;` (Slack's own escaping), so
//!   `<!channel>`, `<!here>`, `<@U123>` and `<url|text>` are inert text; every `@` becomes
//!   `＠` (U+FF20, the fullwidth commercial at), so no `@channel`, `@here`, `@everyone`,
//!   `@all` or `@someone` pings anyone in Slack, Mattermost or Teams — visibly, with nothing
//!   hidden in the text; and `](` becomes `］(`, so Mattermost's and Teams' Markdown cannot
//!   make a link whose text hides where it goes. Other Markdown (`*`, `_`, `~`) is left: it
//!   only changes emphasis. Links hirebridge makes use `<url|Pinpoint>` with a fixed label.
//! - `json`: the notice exactly as it is, with `"version": 1`: JSON escaping is the receiver's
//!   safety, and its data is the point.

use std::fmt::Write as _;

use serde::Serialize;

use super::notice::{DigestCounts, Notice, NoticeHire};
use crate::report::html::escape;
use crate::untrusted;

/// The longest an untrusted field is shown, in characters: a name or a reason of a megabyte
/// must not make a message no server accepts.
pub const MAX_FIELD: usize = 300;

/// The `json` format's version: its fields are [`Notice`]'s, documented in `notice.rs`.
pub const JSON_VERSION: u32 = 1;

/// `text` on one line, unsafe characters escaped, cut at [`MAX_FIELD`].
fn one_line(text: &str) -> String {
    let shown = untrusted::terminal(text);
    if shown.chars().count() <= MAX_FIELD {
        return shown.into_owned();
    }
    let mut cut: String = shown.chars().take(MAX_FIELD).collect();
    cut.push('…');
    cut
}

/// The subject line: the notice's title (fixed text), with any control character dropped all
/// the same, since a header is where a line break would do harm.
pub fn subject(notice: &Notice) -> String {
    let clean: String = notice
        .title
        .chars()
        .filter(|c| !untrusted::is_unsafe_for_terminal(*c))
        .take(200)
        .collect();
    if clean.trim().is_empty() {
        format!("hirebridge: {}", notice.kind.as_str())
    } else {
        clean
    }
}

/// A URL hirebridge made (from `[report]`'s patterns), if it is one a link may point to.
fn link_target(url: &str) -> Option<&str> {
    let plain = url
        .chars()
        .all(|c| c.is_ascii_graphic() && !"<>|\"'`".contains(c));
    (plain && (url.starts_with("https://") || url.starts_with("http://"))).then_some(url)
}

fn more_line(notice: &Notice) -> Option<String> {
    (notice.more > 0).then(|| {
        format!(
            "… and {} more (`hirebridge status` and `hirebridge report` list them all).",
            notice.more
        )
    })
}

fn digest_line(d: &DigestCounts) -> String {
    format!(
        "{}: {} done, {} waiting for HR, {} parked, {} skipped.",
        one_line(&d.day),
        d.done,
        d.waiting_for_hr,
        d.parked,
        d.skipped
    )
}

fn footer(notice: &Notice) -> String {
    format!(
        "Sent by hirebridge ({}) at {}.",
        notice.kind.as_str(),
        notice.at.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

// ---- plain text ----------------------------------------------------------------------------

/// The email's plain text part.
pub fn plain_text(notice: &Notice) -> String {
    let mut out = format!("{}\n\n", subject(notice));
    for (i, hire) in notice.hires.iter().enumerate() {
        plain_hire(&mut out, i + 1, hire);
    }
    if let Some(more) = more_line(notice) {
        let _ = writeln!(out, "{more}\n");
    }
    if let Some(detail) = &notice.detail {
        let _ = writeln!(out, "{}\n", one_line(detail));
    }
    if let Some(d) = &notice.digest {
        let _ = writeln!(out, "{}\n", digest_line(d));
    }
    let _ = writeln!(out, "-- \n{}", footer(notice));
    out
}

fn plain_hire(out: &mut String, n: usize, hire: &NoticeHire) {
    let _ = writeln!(
        out,
        "{n}. {} <{}>",
        one_line(&hire.name),
        one_line(&hire.email)
    );
    let _ = writeln!(out, "   Why: {}", one_line(&hire.reason));
    let _ = writeln!(out, "   What to do: {}", one_line(&hire.what_to_do));
    let _ = writeln!(out, "   Pinpoint: {}", one_line(&hire.pinpoint_url));
    if let Some(url) = &hire.hibob_url {
        let _ = writeln!(out, "   HiBob: {}", one_line(url));
    }
    out.push('\n');
}

// ---- HTML ----------------------------------------------------------------------------------

/// Untrusted text for HTML: on one line, cut, escaped.
fn html_text(text: &str) -> String {
    escape(&one_line(text))
}

fn html_link(url: &str, label: &str) -> String {
    match link_target(url) {
        Some(url) => format!("<a href=\"{}\">{label}</a>", escape(url)),
        None => format!("{label}: {}", html_text(url)),
    }
}

/// The email's HTML part: a small document with inline style only (mail clients drop the
/// rest), every untrusted value escaped.
pub fn html(notice: &Notice) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family: sans-serif; font-size: 14px\">\n",
    );
    let _ = writeln!(out, "<p><strong>{}</strong></p>", escape(&subject(notice)));
    if !notice.hires.is_empty() {
        out.push_str("<ol>\n");
        for hire in &notice.hires {
            html_hire(&mut out, hire);
        }
        out.push_str("</ol>\n");
    }
    if let Some(more) = more_line(notice) {
        let _ = writeln!(out, "<p>{}</p>", escape(&more));
    }
    if let Some(detail) = &notice.detail {
        let _ = writeln!(out, "<p>{}</p>", html_text(detail));
    }
    if let Some(d) = &notice.digest {
        let _ = writeln!(out, "<p>{}</p>", escape(&digest_line(d)));
    }
    let _ = writeln!(
        out,
        "<p style=\"color: #666\">{}</p>\n</body></html>",
        escape(&footer(notice))
    );
    out
}

fn html_hire(out: &mut String, hire: &NoticeHire) {
    let mut links = html_link(&hire.pinpoint_url, "Pinpoint");
    if let Some(url) = &hire.hibob_url {
        links.push_str(" · ");
        links.push_str(&html_link(url, "HiBob"));
    }
    let _ = writeln!(
        out,
        "<li><strong>{}</strong> &lt;{}&gt;<br>Why: {}<br>What to do: {}<br>{links}</li>",
        html_text(&hire.name),
        html_text(&hire.email),
        html_text(&hire.reason),
        html_text(&hire.what_to_do),
    );
}

// ---- slack ---------------------------------------------------------------------------------

/// Untrusted text for Slack's `text` (see the module's documentation).
pub fn slack_escape(text: &str) -> String {
    let line = one_line(text);
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => out.push('＠'),
            _ => out.push(c),
        }
    }
    match out.contains("](") {
        true => out.replace("](", "］("),
        false => out,
    }
}

/// A link hirebridge made, as Slack's `<url|label>`; an odd URL is shown as inert text.
fn slack_link(url: &str, label: &str) -> String {
    match link_target(url) {
        Some(url) => format!("<{}|{label}>", url.replace('&', "&amp;")),
        None => format!("{label}: {}", slack_escape(url)),
    }
}

/// The `slack` format's `text`: Slack's mrkdwn, which Mattermost and Teams read as Markdown.
pub fn slack_text(notice: &Notice) -> String {
    let mut lines = vec![format!("*{}*", slack_escape(&subject(notice)))];
    for hire in &notice.hires {
        let mut links = slack_link(&hire.pinpoint_url, "Pinpoint");
        if let Some(url) = &hire.hibob_url {
            links.push_str(" · ");
            links.push_str(&slack_link(url, "HiBob"));
        }
        lines.push(format!(
            "• *{}* ({}): {} What to do: {} {links}",
            slack_escape(&hire.name),
            slack_escape(&hire.email),
            slack_escape(&hire.reason),
            slack_escape(&hire.what_to_do),
        ));
    }
    if let Some(more) = more_line(notice) {
        lines.push(slack_escape(&more));
    }
    if let Some(detail) = &notice.detail {
        lines.push(slack_escape(detail));
    }
    if let Some(d) = &notice.digest {
        lines.push(slack_escape(&digest_line(d)));
    }
    lines.join("\n")
}

/// The `slack` format's body: `{"text": …}`.
pub fn slack_body(notice: &Notice) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "text": slack_text(notice) }))
        .unwrap_or_else(|_| b"{}".to_vec())
}

// ---- json ----------------------------------------------------------------------------------

#[derive(Serialize)]
struct Versioned<'a> {
    version: u32,
    #[serde(flatten)]
    notice: &'a Notice,
}

/// The `json` format's body: the notice's fields with `"version": 1`.
pub fn json_body(notice: &Notice) -> Vec<u8> {
    serde_json::to_vec(&Versioned {
        version: JSON_VERSION,
        notice,
    })
    .unwrap_or_else(|_| b"{}".to_vec())
}

/// `sha256=<hex>`: the `X-Hirebridge-Signature` of `body` with `secret`, which a receiver
/// recomputes over the exact bytes it got.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, KeyInit as _, Mac as _};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests;

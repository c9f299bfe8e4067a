//! Text from outside (what a candidate typed on a careers site, what an API answered) made
//! safe for each kind of output. The one place that decides how: every renderer and the human
//! log format use it.
//!
//! - Terminal: C0 and C1 control characters, DEL and the bidirectional overrides and isolates
//!   (U+202A–U+202E, U+2066–U+2069, the "Trojan Source" characters) are shown escaped
//!   (`\u{1b}`), never emitted: no escape sequence can clear the screen, retitle the terminal,
//!   plant an OSC 8 link or reorder what the operator reads.
//! - CSV: a cell a spreadsheet would evaluate (starting with `=`, `+`, `-`, `@`, a tab or a
//!   carriage return) gets a leading `'`, as OWASP recommends against "CSV injection".
//! - HTML: escaped by [`crate::report::html::escape`], which also shows the bidi characters
//!   escaped.
//! - JSON: left exact; it is data, not a sheet or a screen.
//!
//! It must not change text that needs no change (no allocation then), nor lose information:
//! an escaped character can still be read.

use std::borrow::Cow;
use std::io::Write;

/// The bidirectional embedding, override and isolate characters.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A character a terminal must never receive from outside text.
pub fn is_unsafe_for_terminal(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// `text` for a terminal: unsafe characters shown as `\u{…}`. Newlines too: one value is one
/// line on the screen.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_for_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_for_terminal(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a spreadsheet would evaluate a cell starting like this (OWASP's list).
fn starts_like_a_formula(text: &str) -> bool {
    matches!(
        text.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

/// `text` as a CSV cell a spreadsheet shows as text, never evaluates.
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    if starts_like_a_formula(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A writer for text meant for a terminal: whatever passes through has its unsafe characters
/// escaped, line breaks excepted (the renderer's own). For whole screens of output (history,
/// status, plan, check, human logs) whose pieces are not all cleaned one by one; renderers
/// that align columns clean each cell first with [`terminal`], so widths are measured on what
/// is shown.
pub struct TerminalWriter<W: Write> {
    inner: W,
    /// Bytes of a UTF-8 character split across two writes.
    pending: Vec<u8>,
}

impl<W: Write> TerminalWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, text: &str) -> std::io::Result<()> {
        if !text.chars().any(|c| c != '\n' && is_unsafe_for_terminal(c)) {
            return self.inner.write_all(text.as_bytes());
        }
        let mut out = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            if c != '\n' && is_unsafe_for_terminal(c) {
                out.push_str(&c.escape_unicode().to_string());
            } else {
                out.push(c);
            }
        }
        self.inner.write_all(out.as_bytes())
    }
}

impl<W: Write> Write for TerminalWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let bytes = std::mem::take(&mut self.pending);
        match std::str::from_utf8(&bytes) {
            Ok(text) => self.emit(text)?,
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                self.emit(std::str::from_utf8(valid).unwrap_or_default())?;
                match e.error_len() {
                    // An incomplete character at the end: wait for the rest.
                    None => self.pending = rest.to_vec(),
                    // Not UTF-8 at all: shown as the replacement character, never raw.
                    Some(bad) => {
                        self.inner.write_all("\u{FFFD}".as_bytes())?;
                        self.pending = rest[bad..].to_vec();
                        let again = std::mem::take(&mut self.pending);
                        self.write(&again)?;
                    }
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.inner
                .write_all(String::from_utf8_lossy(&rest).as_bytes())?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for TerminalWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_shows_escapes_instead_of_sending_them() {
        assert!(matches!(terminal("Zoë Ødegård 李"), Cow::Borrowed(_)));
        assert_eq!(terminal("Evil\u{1b}[2J"), "Evil\\u{1b}[2J");
        assert_eq!(terminal("a\u{7}b\u{9b}c\u{7f}"), "a\\u{7}b\\u{9b}c\\u{7f}");
        assert_eq!(terminal("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(terminal("x\ny"), "x\\u{a}y");
    }

    #[test]
    fn csv_cells_that_would_be_formulas_are_quoted_as_text() {
        for formula in [
            "=HYPERLINK(\"x\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(csv_cell(formula), format!("'{formula}"));
        }
        assert!(matches!(csv_cell("ada@example.com"), Cow::Borrowed(_)));
        assert!(matches!(csv_cell("Ada = Lovelace"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_writer_escapes_across_split_writes_and_keeps_line_breaks() {
        let mut out = Vec::new();
        {
            let mut w = TerminalWriter::new(&mut out);
            let text = "ok\nEvil\u{1b}]0;pwned\u{7}é\n".as_bytes();
            // Split inside "é" (two bytes) and right after the ESC.
            let cut = text.len() - 2;
            w.write_all(&text[..6]).unwrap();
            w.write_all(&text[6..cut]).unwrap();
            w.write_all(&text[cut..]).unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ok\nEvil\\u{1b}]0;pwned\\u{7}é\n"
        );
    }
}

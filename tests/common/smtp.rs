//! A real SMTP server on 127.0.0.1 for the tests, written here rather than taken from a crate:
//! the embeddable ones (`mailin-embedded` and kin) are thinly maintained, and these tests need
//! a server that refuses and one that hangs, on purpose. It speaks the part of RFC 5321 (and
//! RFC 4954's AUTH PLAIN) a client such as lettre uses: the 220 greeting, EHLO (250 lines) and
//! HELO, AUTH PLAIN, MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET, NOOP and QUIT, one
//! thread per connection. It keeps each message it accepted (envelope sender, recipients, raw
//! data as received, dots unstuffed) and each login, so a test can read what really arrived.
//!
//! [`Received`] also splits a message into its headers and MIME parts (7bit, quoted-printable
//! or base64), enough to read what hirebridge's emails say.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;

/// Where a refusing server says no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Mail,
    Rcpt,
    Data,
}

/// How the server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Takes every message.
    Accept,
    /// Answers `554 5.7.1 …` at this stage.
    Refuse(Stage),
    /// Accepts the TCP connection and never says a word.
    Hang,
}

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA as sent, dot-unstuffed, without the final `.` line.
    pub data: Vec<u8>,
}

/// One MIME part: its content type and its decoded text.
#[derive(Debug, Clone)]
pub struct Part {
    pub content_type: String,
    pub text: String,
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    logins: Arc<Mutex<Vec<(String, String)>>>,
}

#[derive(Default)]
struct Session {
    from: Option<String>,
    to: Vec<String>,
}

impl SmtpServer {
    pub fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = SmtpServer {
            addr: listener.local_addr().unwrap(),
            received: Arc::default(),
            logins: Arc::default(),
        };
        let (received, logins) = (server.received.clone(), server.logins.clone());
        std::thread::spawn(move || {
            // A hanging server keeps its connections open, unanswered, until the test ends.
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                if behaviour == Behaviour::Hang {
                    held.push(stream);
                    continue;
                }
                let (received, logins) = (received.clone(), logins.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, behaviour, &received, &logins);
                });
            }
        });
        server
    }

    /// `smtp://127.0.0.1:PORT`, for `notify.smtp`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// (user, password) of each AUTH PLAIN.
    pub fn logins(&self) -> Vec<(String, String)> {
        self.logins.lock().unwrap().clone()
    }
}

fn reply(out: &mut TcpStream, text: &str) -> std::io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.write_all(b"\r\n")?;
    out.flush()
}

fn serve(
    stream: TcpStream,
    behaviour: Behaviour,
    received: &Mutex<Vec<Received>>,
    logins: &Mutex<Vec<(String, String)>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let refuse = |stage| behaviour == Behaviour::Refuse(stage);
    let mut session = Session::default();
    reply(&mut out, "220 test.localhost ESMTP hirebridge-tests")?;
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => reply(
                &mut out,
                "250-test.localhost\r\n250-AUTH PLAIN\r\n250-8BITMIME\r\n250 SMTPUTF8",
            )?,
            "HELO" => reply(&mut out, "250 test.localhost")?,
            "AUTH" => auth(line, &mut input, &mut out, logins)?,
            "MAIL" if refuse(Stage::Mail) => reply(&mut out, "554 5.7.1 sender refused by test")?,
            "MAIL" => {
                session = Session {
                    from: Some(address(line)),
                    to: Vec::new(),
                };
                reply(&mut out, "250 2.1.0 Ok")?;
            }
            "RCPT" if refuse(Stage::Rcpt) => {
                reply(&mut out, "554 5.7.1 recipient refused by test")?
            }
            "RCPT" if session.from.is_none() => reply(&mut out, "503 5.5.1 MAIL first")?,
            "RCPT" => {
                session.to.push(address(line));
                reply(&mut out, "250 2.1.5 Ok")?;
            }
            "DATA" if refuse(Stage::Data) => reply(&mut out, "554 5.7.1 message refused by test")?,
            "DATA" if session.to.is_empty() => reply(&mut out, "503 5.5.1 RCPT first")?,
            "DATA" => {
                reply(&mut out, "354 End data with <CR><LF>.<CR><LF>")?;
                let data = read_data(&mut input)?;
                let n = {
                    let mut all = received.lock().unwrap();
                    all.push(Received {
                        from: session.from.take().unwrap_or_default(),
                        to: std::mem::take(&mut session.to),
                        data,
                    });
                    all.len()
                };
                reply(&mut out, &format!("250 2.0.0 Ok: queued as TEST{n}"))?;
            }
            "RSET" => {
                session = Session::default();
                reply(&mut out, "250 2.0.0 Ok")?;
            }
            "NOOP" => reply(&mut out, "250 2.0.0 Ok")?,
            "QUIT" => return reply(&mut out, "221 2.0.0 Bye"),
            _ => reply(&mut out, "502 5.5.2 command not recognized")?,
        }
    }
}

/// `AUTH PLAIN <base64>` or `AUTH PLAIN` then the base64 line: `\0user\0password`.
fn auth(
    line: &str,
    input: &mut BufReader<TcpStream>,
    out: &mut TcpStream,
    logins: &Mutex<Vec<(String, String)>>,
) -> std::io::Result<()> {
    let mut words = line.split(' ').skip(1);
    if !words
        .next()
        .is_some_and(|m| m.eq_ignore_ascii_case("PLAIN"))
    {
        return reply(out, "504 5.5.4 only PLAIN");
    }
    let encoded = match words.next() {
        Some(initial) => initial.to_owned(),
        None => {
            reply(out, "334 ")?;
            let mut next = String::new();
            input.read_line(&mut next)?;
            next.trim().to_owned()
        }
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap_or_default();
    let fields: Vec<String> = decoded
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    match fields.as_slice() {
        [_, user, password] => {
            logins
                .lock()
                .unwrap()
                .push((user.clone(), password.clone()));
            reply(out, "235 2.7.0 Authentication successful")
        }
        _ => reply(out, "501 5.5.2 cannot decode"),
    }
}

/// `MAIL FROM:<a@b> SIZE=…` → `a@b`.
fn address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_owned()
}

/// Lines up to the lone `.`, each with a leading `.` removed (RFC 5321 4.5.2).
fn read_data(input: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(data);
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
}

impl Received {
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The header section as sent (folded lines kept).
    pub fn head(&self) -> String {
        let raw = self.raw();
        raw.split_once("\r\n\r\n")
            .map_or(raw.clone(), |(h, _)| h.to_owned())
    }

    /// Each header as (name, unfolded value), in order.
    pub fn headers(&self) -> Vec<(String, String)> {
        headers_of(&self.head())
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The MIME parts of a multipart message, decoded.
    pub fn parts(&self) -> Vec<Part> {
        let content_type = self.header("Content-Type").unwrap_or_default();
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .map(|b| b.trim_matches('"').to_owned())
            .expect("a multipart message");
        let raw = self.raw();
        let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        body.split(&format!("--{boundary}"))
            .skip(1)
            .filter(|chunk| !chunk.starts_with("--"))
            .map(|chunk| {
                let chunk = chunk.trim_start_matches("\r\n");
                let (head, body) = chunk.split_once("\r\n\r\n").unwrap_or((chunk, ""));
                let headers = headers_of(head);
                let get = |name: &str| {
                    headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                Part {
                    content_type: get("Content-Type"),
                    text: decode(&get("Content-Transfer-Encoding"), body),
                }
            })
            .collect()
    }

    /// The decoded text of the first part of this content type (`text/plain`, `text/html`),
    /// its line breaks (CRLF on the wire) as `\n`.
    pub fn part(&self, content_type: &str) -> String {
        self.parts()
            .into_iter()
            .find(|p| p.content_type.starts_with(content_type))
            .unwrap_or_else(|| panic!("no {content_type} part in:\n{}", self.raw()))
            .text
            .replace("\r\n", "\n")
    }
}

fn headers_of(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = out.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    out
}

fn decode(encoding: &str, body: &str) -> String {
    match encoding.to_ascii_lowercase().as_str() {
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("base64 body");
            String::from_utf8(bytes).expect("UTF-8 text")
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_owned(),
    }
}

/// RFC 2045 6.7: `=XX` bytes and `=` soft line breaks.
fn quoted_printable(body: &str) -> String {
    let bytes = body.replace("=\r\n", "").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 text")
}

//! A real HTTP receiver on 127.0.0.1 for the tests: a plain HTTP/1.1 server (one thread per
//! connection, `Connection: close`) that records each request — method, path, headers, body
//! — and answers a status the test chooses (`200` with `ok`, anything else with `boom`), or
//! never answers at all.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// (name as sent, value), in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The headers and body as text (not the request line, whose path is the configured
    /// URL's): what a secret must not be found in.
    pub fn headers_and_body(&self) -> String {
        let mut text = String::new();
        for (n, v) in &self.headers {
            text.push_str(&format!("{n}: {v}\n"));
        }
        text.push_str(&String::from_utf8_lossy(&self.body));
        text
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    /// 0: never answer.
    status: Arc<AtomicU16>,
}

impl Receiver {
    /// Answers every request with `status`.
    pub fn start(status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let receiver = Receiver {
            addr: listener.local_addr().unwrap(),
            requests: Arc::default(),
            status: Arc::new(AtomicU16::new(status)),
        };
        let (requests, status) = (receiver.requests.clone(), receiver.status.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (requests, status) = (requests.clone(), status.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &requests, &status);
                });
            }
        });
        receiver
    }

    /// Reads each request and never answers.
    pub fn hanging() -> Self {
        Self::start(0)
    }

    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    requests: &Mutex<Vec<Request>>,
    status: &AtomicU16,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let mut first = String::new();
    input.read_line(&mut first)?;
    let mut words = first.split_whitespace();
    let (method, path) = (
        words.next().unwrap_or("").to_owned(),
        words.next().unwrap_or("").to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((n, v)) = line.trim_end().split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    requests.lock().unwrap().push(Request {
        method,
        path,
        headers,
        body,
    });
    let status = status.load(Ordering::SeqCst);
    if status == 0 {
        // Hold the connection, unanswered, until the client gives up.
        let _ = input.read_to_end(&mut Vec::new());
        return Ok(());
    }
    let text: &[u8] = if (200..300).contains(&status) {
        b"ok"
    } else {
        b"boom"
    };
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    )?;
    out.write_all(text)?;
    out.flush()
}

//! Serving HTTP to strangers. Every port hirebridge opens (the webhook port, the metrics port)
//! is served here, so a peer who can reach one cannot hold it: each connection has a deadline
//! for the request head, one for the body and one while idle, and only so many connections
//! are open at once — beyond that a new one is closed the moment it is accepted. The poll never
//! waits on any of this: it shares no task, lock or connection with the listeners.
//!
//! Owns sockets, deadlines and the connection budget; what is answered is the router's
//! business (`webhook.rs`). Must not read the ledger or call an API.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ListenerLimits;
use crate::monitor::Monitor;

/// How long the requests in progress may take to finish once shutdown is asked for.
const DRAIN: Duration = Duration::from_secs(5);

/// File descriptors kept for everything but the listeners: the API connections (a few per
/// gate and the CV fetches HiBob makes are not ours, but our pools are), the ledger's three
/// files and its lock, the journal, standard streams, and slack.
pub const POLL_RESERVE: u64 = 128;

/// Makes the listeners' budgets fit the process's file-descriptor limit with [`POLL_RESERVE`]
/// to spare, so a flooded listener can never starve the poll of descriptors: raises the soft
/// limit towards the hard one when it must, and when even that is short, lowers the budget
/// (and says so). Returns the limits to serve with.
pub fn fit_to_fd_limit(limits: ListenerLimits, listeners: usize) -> ListenerLimits {
    let wanted = limits.max_connections as u64 * listeners as u64 + POLL_RESERVE;
    let mut rlimit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rlimit) } != 0 {
        return limits;
    }
    if rlimit.rlim_cur < wanted && rlimit.rlim_cur < rlimit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: wanted.min(rlimit.rlim_max),
            rlim_max: rlimit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            rlimit.rlim_cur = raised.rlim_cur;
        }
    }
    if rlimit.rlim_cur >= wanted {
        return limits;
    }
    let fits = (rlimit.rlim_cur.saturating_sub(POLL_RESERVE) / listeners.max(1) as u64).max(1);
    tracing::warn!(
        max_connections = limits.max_connections,
        serving = fits,
        fd_limit = rlimit.rlim_cur,
        "webhook.max_connections does not fit the file-descriptor limit with room for the poll; serving fewer connections per listener (raise LimitNOFILE, or lower webhook.max_connections)"
    );
    ListenerLimits {
        max_connections: fits as usize,
        ..limits
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown`; then stops accepting and lets
/// the requests in progress finish (bounded). `name` labels the metrics (`webhook`, `metrics`).
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    app: axum::Router,
    limits: ListenerLimits,
    monitor: Arc<Monitor>,
    shutdown: CancellationToken,
) {
    let budget = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: the connection waits in the kernel's
                // backlog; look again shortly instead of spinning.
                tracing::warn!(listener = name, error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = budget.clone().try_acquire_owned() else {
            // Over the budget: closed at once, before a byte is read.
            monitor.connection(name, "refused");
            drop(stream);
            continue;
        };
        monitor.connection(name, "accepted");
        monitor.connections_open(name, 1);
        let (app, monitor, shutdown) = (app.clone(), monitor.clone(), shutdown.clone());
        connections.spawn(async move {
            let _permit = permit;
            let timed_out = serve_connection(stream, app, limits, &shutdown).await;
            if timed_out {
                monitor.connection(name, "timed_out");
            }
            monitor.connections_open(name, -1);
        });
    }
    connections.close();
    let _ = tokio::time::timeout(DRAIN, connections.wait()).await;
}

/// One connection, HTTP/1.1 with keep-alive; whether it ended on one of its deadlines.
async fn serve_connection(
    stream: TcpStream,
    app: axum::Router,
    limits: ListenerLimits,
    shutdown: &CancellationToken,
) -> bool {
    let _ = stream.set_nodelay(true);
    let io = Deadlines::new(TokioIo::new(stream), limits);
    let expired = io.expired.clone();
    let service = hyper_util::service::TowerToHyperService::new(app);
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, connection).await;
        }
    }
    expired.load(std::sync::atomic::Ordering::Relaxed)
}

/// Where a connection is in its request cycle, as seen from the bytes passing through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request under way: a new connection, or a keep-alive after an answer.
    Idle,
    /// A request's first byte has come, its head has not ended (`\r\n\r\n`).
    Head,
    /// The head has ended; the answer has not begun.
    Body,
}

/// The socket with a deadline for each phase: reading fails with `TimedOut` once the phase's
/// deadline passes (hyper then closes the connection). Works on the bytes alone, so it needs
/// no cooperation from the HTTP parser; the phase's timer is reset only when the phase
/// changes, so a peer dribbling a byte at a time gains nothing.
struct Deadlines<IO> {
    inner: IO,
    limits: ListenerLimits,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    /// The last three bytes read, to find a head's end across reads.
    tail: [u8; 3],
    expired: Arc<std::sync::atomic::AtomicBool>,
}

impl<IO> Deadlines<IO> {
    fn new(inner: IO, limits: ListenerLimits) -> Self {
        Self {
            inner,
            limits,
            phase: Phase::Idle,
            deadline: Box::pin(tokio::time::sleep(limits.idle_timeout)),
            tail: [0; 3],
            expired: Arc::default(),
        }
    }

    fn enter(&mut self, phase: Phase) {
        if self.phase == phase {
            return;
        }
        self.phase = phase;
        let after = match phase {
            Phase::Idle => self.limits.idle_timeout,
            Phase::Head => self.limits.header_timeout,
            Phase::Body => self.limits.body_timeout,
        };
        self.deadline.as_mut().reset(Instant::now() + after);
    }

    /// Moves through the phases for the bytes just read.
    fn saw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.phase == Phase::Idle {
            self.enter(Phase::Head);
            self.tail = [0; 3];
        }
        if self.phase == Phase::Head {
            let mut window = self.tail.to_vec();
            window.extend_from_slice(bytes);
            if window.windows(4).any(|w| w == b"\r\n\r\n") {
                self.enter(Phase::Body);
            }
            let n = window.len();
            self.tail.copy_from_slice(&window[n - 3..]);
        }
    }
}

impl<IO: Read + Unpin> Read for Deadlines<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer was too slow",
            )));
        }
        // Read into a small buffer of our own, so the bytes can be looked at.
        let mut scratch = [0u8; 8192];
        let want = scratch.len().min(buf.remaining());
        let mut tokio_buf = tokio::io::ReadBuf::new(&mut scratch[..want]);
        let read = {
            let mut cursor_buf = hyper::rt::ReadBuf::new(tokio_buf.initialize_unfilled());
            let result = Pin::new(&mut self.inner).poll_read(cx, cursor_buf.unfilled());
            ready!(result)?;
            cursor_buf.filled().len()
        };
        tokio_buf.advance(read);
        let filled = tokio_buf.filled();
        buf.put_slice(filled);
        let seen = filled.to_vec();
        self.saw(&seen);
        Poll::Ready(Ok(()))
    }
}

impl<IO: Write + Unpin> Write for Deadlines<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // The answer has begun: the next bytes read start a new request.
        self.enter(Phase::Idle);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

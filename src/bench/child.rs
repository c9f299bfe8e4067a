//! The real binary as a child process of `hirebridge bench`, so that its time and memory are
//! measured apart from the simulator the bench process serves: peak RSS and CPU time from
//! `wait4`'s resource usage, the idle daemon's from `/proc/<pid>/`, readiness from sd_notify.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::BenchError;
use hirebridge::sim;

/// The simulator's credentials, as the environment the binary reads them from.
pub fn credentials() -> [(&'static str, &'static str); 3] {
    [
        ("PINPOINT_API_KEY", sim::PINPOINT_API_KEY),
        ("HIBOB_SERVICE_USER_ID", sim::HIBOB_SERVICE_USER_ID),
        ("HIBOB_SERVICE_USER_TOKEN", sim::HIBOB_SERVICE_USER_TOKEN),
    ]
}

/// Set to a command line (e.g. `perf record -g -o sync.data --`) to run every measured child
/// under it, for profiling; the figures are then the wrapper's, not hirebridge's.
pub const WRAP_ENV: &str = "HIREBRIDGE_BENCH_WRAP";

/// This binary, with a clean environment holding only the simulator's credentials and `config`.
pub fn command(config: &Path, args: &[&str]) -> Result<Command, BenchError> {
    let exe = std::env::current_exe().map_err(BenchError::Scratch)?;
    let wrapper: Vec<String> = std::env::var(WRAP_ENV)
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let mut cmd = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut cmd = Command::new(program);
            cmd.args(rest).arg(exe);
            cmd
        }
        None => Command::new(exe),
    };
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HIREBRIDGE_CONFIG", config)
        .env("HIREBRIDGE_LOG", "warn")
        .envs(credentials())
        .envs(std::env::vars().filter(|(k, _)| k.starts_with("MALLOC_")))
        .args(args)
        .stdin(Stdio::null());
    Ok(cmd)
}

/// What one finished child process used.
#[derive(Debug, Clone)]
pub struct Finished {
    pub wall: Duration,
    /// `VmHWM`: the most resident memory it ever had.
    pub peak_rss_kib: u64,
    /// User plus system CPU time.
    pub cpu: Duration,
    pub exit_code: Option<i32>,
    pub stdout: String,
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// Runs `cmd` to the end and reaps it with `wait4`, which reports its own resource usage (not
/// this process's, not the simulator's).
pub fn run_measured(mut cmd: Command) -> Result<Finished, BenchError> {
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| BenchError::Daemon(format!("cannot start the binary: {e}")))?;
    let pid = child.id() as libc::pid_t;
    // Read stdout on a thread so a chatty child never blocks on a full pipe.
    let mut out = child.stdout.expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut text);
        text
    });
    // `ru_maxrss` cannot be used for memory: Linux counts in it the bench process's own
    // resident set at the moment of spawning (the image the child had before exec), and the
    // bench holds the whole simulated tenant. `VmHWM` belongs to the exec'd image alone and
    // only grows, so its last reading before the exit is the peak.
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let poller = {
        let peak = peak.clone();
        std::thread::spawn(move || {
            while let Some(hwm) = status_field(pid as u32, "VmHWM:") {
                peak.fetch_max(hwm, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    // Wait for the exit without reaping, so the pid cannot be reused under the poller.
    // SAFETY: an all-zero siginfo_t is valid for waitid to overwrite.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child; the pointer is to a live local.
    unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    let wall = started.elapsed();
    let _ = poller.join();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unreaped child; both pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if reaped != pid {
        return Err(BenchError::Daemon(format!(
            "wait4 failed: {}",
            std::io::Error::last_os_error()
        )));
    }
    let exit_code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok(Finished {
        wall,
        peak_rss_kib: peak.load(std::sync::atomic::Ordering::Relaxed),
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        exit_code,
        stdout: reader.join().unwrap_or_default(),
    })
}

/// A unix datagram socket standing in for systemd's `NOTIFY_SOCKET`.
pub struct NotifySocket {
    pub path: PathBuf,
    socket: UnixDatagram,
    _dir: tempfile::TempDir,
}

impl NotifySocket {
    pub fn bind() -> Result<Self, BenchError> {
        let dir = tempfile::tempdir().map_err(BenchError::Scratch)?;
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).map_err(BenchError::Scratch)?;
        Ok(Self {
            path,
            socket,
            _dir: dir,
        })
    }

    /// Waits up to `timeout` for a datagram holding `READY=1`; returns when it arrived.
    pub fn wait_ready(&self, timeout: Duration) -> Result<Instant, BenchError> {
        self.wait_for(timeout, "READY=1", |l| l == "READY=1")
    }

    /// Waits up to `timeout` for a datagram with a line that `matches`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        matches: impl Fn(&str) -> bool,
    ) -> Result<Instant, BenchError> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BenchError::Daemon(format!("no {what} within {timeout:?}")));
            }
            self.socket
                .set_read_timeout(Some(left))
                .map_err(BenchError::Scratch)?;
            if let Ok(n) = self.socket.recv(&mut buf)
                && String::from_utf8_lossy(&buf[..n]).lines().any(&matches)
            {
                return Ok(Instant::now());
            }
        }
    }
}

/// CPU time and resident memory of a running process, from `/proc`.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub cpu: Duration,
    pub rss_kib: u64,
}

pub fn sample(pid: u32) -> Result<Sample, BenchError> {
    let read = |file: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{file}")).map_err(BenchError::Scratch)
    };
    let stat = read("stat")?;
    // Fields after the command name (which may hold spaces) are space-separated; utime and
    // stime are the 14th and 15th fields of the line, in clock ticks.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let total_ticks = ticks(11) + ticks(12);
    let cpu = Duration::from_micros(total_ticks * 1_000_000 / hz);
    let rss_kib = status_field(pid, "VmRSS:").unwrap_or(0);
    Ok(Sample { cpu, rss_kib })
}

/// A `kB` field of `/proc/<pid>/status`; `None` once the process has exited.
fn status_field(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Ends a child we started: SIGTERM, then reap it.
pub fn stop(mut child: Child) {
    // SAFETY: signalling our own child by its pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let _ = child.wait();
}

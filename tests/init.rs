//! `hirebridge init` against the simulator, both ways an operator runs it: scripted with flags
//! and the environment (no terminal: nothing is asked), and interactively over a
//! pseudo-terminal (prompts, defaults, secrets without echo). Either way the files it writes
//! make a setup that `check` passes and `sync` runs with.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BINARY, World};
use hirebridge::sim::{self, Scenario};

/// Where one init writes: `<dir>/etc/config.toml`, `<dir>/etc/credentials/`.
struct Target {
    config: PathBuf,
    credentials: PathBuf,
    ledger: PathBuf,
}

impl Target {
    fn in_dir(dir: &Path) -> Self {
        Target {
            config: dir.join("etc/config.toml"),
            credentials: dir.join("etc/credentials"),
            ledger: dir.join("ledger.sqlite3"),
        }
    }
}

/// The binary with a clean environment, pointed at `target`'s config.
fn init_command(world: &World, target: &Target, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BINARY);
    let pinpoint = world.sim.pinpoint_base_url();
    let hibob = world.sim.hibob_base_url();
    let ledger = target.ledger.to_string_lossy().into_owned();
    cmd.env_clear()
        .env("HIREBRIDGE_LOG", "warn")
        .arg("--config")
        .arg(&target.config)
        .args([
            "init",
            "--pinpoint-base-url",
            &pinpoint,
            "--hibob-base-url",
            &hibob,
            "--ledger",
            &ledger,
        ])
        .args(extra);
    cmd
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// What a scripted run writes, and that the setup works: `check` passes and a sync with the
/// credentials loaded the way systemd loads them does every hire.
fn assert_working_setup(world: &World, target: &Target, site: &str) {
    let config = std::fs::read_to_string(&target.config).unwrap();
    assert!(config.contains(&format!("site = \"{site}\"")), "{config}");
    assert!(
        !config.contains(sim::PINPOINT_API_KEY),
        "no secret in the config"
    );
    assert!(
        !config.contains(sim::HIBOB_SERVICE_USER_TOKEN),
        "no secret in the config"
    );
    assert_eq!(mode(&target.config), 0o644);
    assert_eq!(mode(&target.credentials), 0o700);
    for (name, secret) in [
        ("pinpoint_api_key", sim::PINPOINT_API_KEY),
        ("hibob_service_user_id", sim::HIBOB_SERVICE_USER_ID),
        ("hibob_service_user_token", sim::HIBOB_SERVICE_USER_TOKEN),
    ] {
        let file = target.credentials.join(name);
        assert_eq!(mode(&file), 0o600, "{name}");
        assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), secret);
    }
    // An operator's `check`, outside systemd and from anywhere: the secrets are found in
    // `credentials/` beside the config, as the service finds them in its credentials directory.
    let check = Command::new(BINARY)
        .env_clear()
        .current_dir("/")
        .arg("--config")
        .arg(&target.config)
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let sync = Command::new(BINARY)
        .env_clear()
        .env("CREDENTIALS_DIRECTORY", &target.credentials)
        .arg("--config")
        .arg(&target.config)
        .arg("sync")
        .output()
        .unwrap();
    assert_eq!(
        sync.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sync.stderr)
    );
    assert_eq!(world.sim.employees().len(), world.hired_ids().len());
}

#[test]
fn init_with_flags_and_the_environment_asks_nothing_and_writes_a_working_setup() {
    let world = World::new(Scenario::generated(6, 11));
    let dir = tempfile::tempdir().unwrap();
    let target = Target::in_dir(dir.path());
    // Everything given: no terminal, no question. The go-live date lets the hires in.
    let run = init_command(
        &world,
        &target,
        &[
            "--hibob-service-user-id",
            sim::HIBOB_SERVICE_USER_ID,
            "--site",
            "London",
            "--hired-since",
            "2000-01-01",
        ],
    )
    .env("PINPOINT_API_KEY", sim::PINPOINT_API_KEY)
    .env("HIBOB_SERVICE_USER_TOKEN", sim::HIBOB_SERVICE_USER_TOKEN)
    .stdin(Stdio::null())
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("✓ hibob.site"), "{stdout}");
    assert!(
        stdout.contains("sudo systemctl enable --now hirebridge"),
        "{stdout}"
    );
    assert!(!stdout.contains(sim::HIBOB_SERVICE_USER_TOKEN));
    assert_working_setup(&world, &target, "London");

    // Run again: nothing is replaced without --force, and the refusal says how.
    let before = std::fs::read(&target.config).unwrap();
    let again = init_command(&world, &target, &["--site", "London"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&target.config).unwrap(), before);
}

#[test]
fn without_a_terminal_a_missing_value_is_an_error_naming_its_flag_and_nothing_is_written() {
    let world = World::new(Scenario::generated(2, 12));
    let dir = tempfile::tempdir().unwrap();
    let target = Target::in_dir(dir.path());
    // (flags, environment, what the error must name)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        // No service user id.
        (
            &["--site", "London"],
            &[
                ("PINPOINT_API_KEY", sim::PINPOINT_API_KEY),
                ("HIBOB_SERVICE_USER_TOKEN", sim::HIBOB_SERVICE_USER_TOKEN),
            ],
            "--hibob-service-user-id",
        ),
        // No token: the variable and the file flag are both named.
        (
            &["--hibob-service-user-id", sim::HIBOB_SERVICE_USER_ID],
            &[("PINPOINT_API_KEY", sim::PINPOINT_API_KEY)],
            "--hibob-service-user-token-file",
        ),
        // No site: the valid ones are listed.
        (
            &["--hibob-service-user-id", sim::HIBOB_SERVICE_USER_ID],
            &[
                ("PINPOINT_API_KEY", sim::PINPOINT_API_KEY),
                ("HIBOB_SERVICE_USER_TOKEN", sim::HIBOB_SERVICE_USER_TOKEN),
            ],
            "New York (Demo), London, Tel Aviv",
        ),
        // A refused key is caught before anything is written.
        (
            &[
                "--hibob-service-user-id",
                sim::HIBOB_SERVICE_USER_ID,
                "--site",
                "London",
            ],
            &[
                ("PINPOINT_API_KEY", "not-the-key"),
                ("HIBOB_SERVICE_USER_TOKEN", sim::HIBOB_SERVICE_USER_TOKEN),
            ],
            "check the subdomain and the API key",
        ),
    ];
    for (flags, env, named) in cases {
        let run = init_command(&world, &target, flags)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{flags:?}: {stderr}");
        assert!(stderr.contains(named), "{flags:?}: {stderr}");
        assert!(
            !stderr.contains("not-the-key"),
            "a secret in an error: {stderr}"
        );
        assert!(
            !target.config.exists() && !target.credentials.exists(),
            "{flags:?}"
        );
    }
}

/// A pseudo-terminal the child runs on, and everything it has written to it so far.
struct Terminal {
    writer: std::fs::File,
    screen: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    /// Starts `cmd` on a new pseudo-terminal as its controlling terminal.
    fn spawn(mut cmd: Command) -> (Terminal, std::process::Child) {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty fills two descriptors; the name and settings are left null.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty");
        // SAFETY: each descriptor is owned by exactly one File from here on.
        let (stdin, stdout, stderr) = unsafe {
            (
                std::fs::File::from_raw_fd(libc::dup(slave)),
                std::fs::File::from_raw_fd(libc::dup(slave)),
                std::fs::File::from_raw_fd(slave),
            )
        };
        cmd.stdin(stdin).stdout(stdout).stderr(stderr);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("the binary starts");
        // SAFETY: the master is ours; the reader gets a duplicate.
        let (writer, mut reader) = unsafe {
            (
                std::fs::File::from_raw_fd(master),
                std::fs::File::from_raw_fd(libc::dup(master)),
            )
        };
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with an error (EIO) once the child closes the terminal.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        (Terminal { writer, screen }, child)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits until the screen shows `prompt` (for the `nth` time), then types `answer`.
    fn answer(&mut self, prompt: &str, nth: usize, answer: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.text().matches(prompt).count() < nth {
            assert!(
                Instant::now() < deadline,
                "no prompt {prompt:?}; the screen: {}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.writer
            .write_all(format!("{answer}\n").as_bytes())
            .unwrap();
    }
}

#[test]
fn init_on_a_terminal_asks_with_defaults_and_never_echoes_a_secret() {
    let world = World::new(Scenario::generated(4, 13));
    let dir = tempfile::tempdir().unwrap();
    let target = Target::in_dir(dir.path());
    let (mut terminal, mut child) = Terminal::spawn(init_command(&world, &target, &[]));
    terminal.answer("Pinpoint API key", 1, sim::PINPOINT_API_KEY);
    terminal.answer("HiBob service user id", 1, sim::HIBOB_SERVICE_USER_ID);
    terminal.answer("HiBob service user token", 1, sim::HIBOB_SERVICE_USER_TOKEN);
    // A wrong pick is asked again; then the second site by its number.
    terminal.answer("number or name", 1, "7");
    terminal.answer("number or name", 2, "2");
    // The go-live date: a day before the simulator's hires, so the sync below does them.
    terminal.answer("Go-live date", 1, "2000-01-01");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "init did not end: {}",
            terminal.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(200));
    let screen = terminal.text();
    assert_eq!(status.code(), Some(0), "{screen}");
    // What was typed in the open shows; the secrets never reach the screen.
    assert!(screen.contains(sim::HIBOB_SERVICE_USER_ID), "{screen}");
    assert!(!screen.contains(sim::PINPOINT_API_KEY), "{screen}");
    assert!(!screen.contains(sim::HIBOB_SERVICE_USER_TOKEN), "{screen}");
    assert!(
        screen.contains("1) New York (Demo)") && screen.contains("3) Tel Aviv"),
        "{screen}"
    );
    assert!(screen.contains("is not one of the 3 sites"), "{screen}");
    assert!(
        screen.contains("sudo systemctl enable --now hirebridge"),
        "{screen}"
    );
    assert_working_setup(&world, &target, "London");
}

/// The README's try-it path: `demo --serve` keeps the simulated APIs up and says how to point
/// `init` at them; following it literally gives a setup whose `check` passes.
#[test]
fn demo_serve_prints_an_init_command_that_sets_up_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::in_dir(dir.path());
    let mut demo = Command::new(BINARY)
        .env_clear()
        .args(["demo", "--serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = demo.stdout.take().unwrap();
    let screen = Arc::new(Mutex::new(String::new()));
    let sink = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let line = loop {
        let text = screen.lock().unwrap().clone();
        if let Some(line) = text.lines().find(|l| l.contains("hirebridge init")) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no init line: {text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |flag: &str| {
        let at = words.iter().position(|w| *w == flag).unwrap();
        words[at + 1].to_owned()
    };
    let run = Command::new(BINARY)
        .env_clear()
        .env("PINPOINT_API_KEY", sim::PINPOINT_API_KEY)
        .env("HIBOB_SERVICE_USER_ID", sim::HIBOB_SERVICE_USER_ID)
        .env("HIBOB_SERVICE_USER_TOKEN", sim::HIBOB_SERVICE_USER_TOKEN)
        .arg("--config")
        .arg(&target.config)
        .args([
            "init",
            "--pinpoint-base-url",
            &after("--pinpoint-base-url"),
            "--hibob-base-url",
            &after("--hibob-base-url"),
            "--site",
            "New York (Demo)",
            "--ledger",
            &target.ledger.to_string_lossy(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // SAFETY: the demo is our child; SIGTERM asks it to stop.
    unsafe { libc::kill(demo.id() as i32, libc::SIGTERM) };
    let stopped = demo.wait().unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(target.config.exists());
    assert_eq!(stopped.code(), Some(0), "the demo ends cleanly on SIGTERM");
}

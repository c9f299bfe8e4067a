//! `hirebridge init`: a working install in minutes. Asks for what it cannot know (on a
//! terminal, with defaults, secrets without echo) or takes it from flags and the environment
//! (configuration management: without a terminal nothing is asked, and a missing value is an
//! error naming its flag); checks both credentials live; offers HiBob's sites; writes the
//! config and the credential files, never over an existing one without `--force`; then runs
//! the same checks as `check` and says what remains to do.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context as _, bail};
use hirebridge::cli::InitArgs;
use hirebridge::config::{Config, SecretSources};
use hirebridge::hibob::HibobClient;
use hirebridge::http::HttpClient;
use hirebridge::pinpoint::PinpointClient;
use secrecy::{ExposeSecret, SecretString};

use crate::exit::Exit;

/// The credential files, by the names the systemd units load them under.
const PINPOINT_KEY_FILE: &str = "pinpoint_api_key";
const HIBOB_ID_FILE: &str = "hibob_service_user_id";
const HIBOB_TOKEN_FILE: &str = "hibob_service_user_token";

pub async fn run(config_path: &Path, args: &InitArgs) -> anyhow::Result<Exit> {
    let credentials_dir = args.credentials_dir.clone().unwrap_or_else(|| {
        config_path
            .parent()
            .unwrap_or(Path::new("."))
            .join("credentials")
    });
    let targets = [
        config_path.to_owned(),
        credentials_dir.join(PINPOINT_KEY_FILE),
        credentials_dir.join(HIBOB_ID_FILE),
        credentials_dir.join(HIBOB_TOKEN_FILE),
    ];
    // Before anything is asked: nobody should type a secret only to be refused at the end.
    if !args.force
        && let Some(existing) = targets.iter().find(|t| t.exists())
    {
        bail!(
            "{} already exists; hirebridge init never replaces a file: pass --force to replace it, \
             or --config/--credentials-dir to write elsewhere",
            existing.display()
        );
    }
    let mut ask = Prompter::new();
    let answers = Answers::gather(args, &mut ask)?;
    let secrets = answers.secrets();
    let sites = hibob_sites(&answers, &secrets).await?;
    let site = choose_site(args, &mut ask, &sites)?;
    let today = chrono::Utc::now().date_naive().to_string();
    let hired_since = match &args.hired_since {
        Some(since) => since.clone(),
        None => ask.line(
            "--hired-since",
            "Go-live date: hires from before it are never written (a day, or an age such as 90d)",
            Some(&today),
        )?,
    };
    let text = answers.config_text(&site, &hired_since, &args.ledger);
    Config::parse(config_path, &text, &secrets)
        .context("the answers do not make a valid config")?;

    write_files(config_path, &credentials_dir, &text, &answers, args.force)?;
    println!("\nWritten:");
    println!("  {} (0644)", config_path.display());
    println!(
        "  {}/{{{PINPOINT_KEY_FILE},{HIBOB_ID_FILE},{HIBOB_TOKEN_FILE}}} (0600, in a 0700 directory)",
        credentials_dir.display()
    );

    // The same checks as `check`, reading the secrets from the files just written.
    println!("\nChecking the new setup:");
    let from_files = SecretSources {
        vars: HashMap::new(),
        credentials_directory: Some(credentials_dir.clone()),
    };
    let results = hirebridge::check::run_with(config_path, &from_files).await;
    let mut out = std::io::stdout().lock();
    hirebridge::check::render(&results, &mut out)?;
    if !results.iter().all(|r| r.ok) {
        writeln!(
            out,
            "\nThe files are written; fix what is marked ✗ (then `hirebridge check`) before starting the service."
        )?;
        return Ok(Exit::Error);
    }
    writeln!(out, "\nWhat remains:")?;
    // The units load the secrets from /etc/hirebridge/credentials (one tenant) or its
    // subdirectory named after the instance (hirebridge@NAME).
    let unit = match credentials_dir.strip_prefix("/etc/hirebridge/credentials") {
        Ok(rest) if rest.as_os_str().is_empty() => "hirebridge".to_owned(),
        Ok(rest) => format!("hirebridge@{}", rest.display()),
        Err(_) => {
            writeln!(
                out,
                "  # the units load the secrets from /etc/hirebridge/credentials: point LoadCredential= at {} (systemctl edit hirebridge)",
                credentials_dir.display()
            )?;
            "hirebridge".to_owned()
        }
    };
    writeln!(out, "  sudo systemctl daemon-reload")?;
    writeln!(out, "  sudo systemctl enable --now {unit}")?;
    writeln!(out, "  sudo hirebridge status")?;
    Ok(Exit::Ok)
}

/// What init asked for or was given.
struct Answers {
    pinpoint_base_url: String,
    pinpoint_key: SecretString,
    hibob_base_url: String,
    hibob_id: String,
    hibob_token: SecretString,
}

impl Answers {
    fn gather(args: &InitArgs, ask: &mut Prompter) -> anyhow::Result<Self> {
        let pinpoint_base_url = match (&args.pinpoint_base_url, &args.pinpoint_subdomain) {
            (Some(url), _) => url.clone(),
            (None, Some(subdomain)) => pinpoint_url(subdomain)?,
            (None, None) => pinpoint_url(&ask.line(
                "--pinpoint-subdomain",
                "Pinpoint subdomain (the NAME in NAME.pinpointhq.com)",
                None,
            )?)?,
        };
        let pinpoint_key = ask.secret(
            "PINPOINT_API_KEY",
            "--pinpoint-api-key-file",
            args.pinpoint_api_key_file.as_deref(),
            "Pinpoint API key (Settings → API in Pinpoint)",
        )?;
        let hibob_id = match &args.hibob_service_user_id {
            Some(id) => id.clone(),
            None => ask.line(
                "--hibob-service-user-id",
                "HiBob service user id (Settings → Integrations → Service users)",
                None,
            )?,
        };
        let hibob_token = ask.secret(
            "HIBOB_SERVICE_USER_TOKEN",
            "--hibob-service-user-token-file",
            args.hibob_service_user_token_file.as_deref(),
            "HiBob service user token",
        )?;
        Ok(Answers {
            pinpoint_base_url,
            pinpoint_key,
            hibob_base_url: args.hibob_base_url.clone(),
            hibob_id,
            hibob_token,
        })
    }

    /// The secrets as the config reads them, for the checks before anything is written.
    fn secrets(&self) -> SecretSources {
        let vars = [
            ("PINPOINT_API_KEY", self.pinpoint_key.expose_secret()),
            ("HIBOB_SERVICE_USER_ID", self.hibob_id.as_str()),
            ("HIBOB_SERVICE_USER_TOKEN", self.hibob_token.expose_secret()),
        ];
        SecretSources {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            credentials_directory: None,
        }
    }

    fn config_text(&self, site: &str, hired_since: &str, ledger: &Path) -> String {
        let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
        format!(
            "# Written by `hirebridge init`. Every key: docs/configuration.md; an annotated example\n\
             # of all of them is config.toml in the source. Secrets are not here: the *_file names\n\
             # below are read from $CREDENTIALS_DIRECTORY, where the systemd unit loads them.\n\
             \n\
             [pinpoint]\n\
             base_url = {}\n\
             api_key_file = {}\n\
             \n\
             [hibob]\n\
             base_url = {}\n\
             site = {}\n\
             service_user_id_file = {}\n\
             service_user_token_file = {}\n\
             \n\
             [ledger]\n\
             path = {}\n\
             \n\
             [sync]\n\
             hired_since = {}        # the go-live cutoff: hires from before it are never written\n",
            quoted(&self.pinpoint_base_url),
            quoted(PINPOINT_KEY_FILE),
            quoted(&self.hibob_base_url),
            quoted(site),
            quoted(HIBOB_ID_FILE),
            quoted(HIBOB_TOKEN_FILE),
            quoted(&ledger.to_string_lossy()),
            quoted(hired_since),
        )
    }
}

fn pinpoint_url(subdomain: &str) -> anyhow::Result<String> {
    let subdomain = subdomain
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .trim_end_matches(".pinpointhq.com");
    if subdomain.is_empty()
        || !subdomain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        bail!(
            "{subdomain:?} is not a Pinpoint subdomain: give the NAME of NAME.pinpointhq.com \
             (--pinpoint-subdomain), or the whole API address with --pinpoint-base-url"
        );
    }
    Ok(format!("https://{subdomain}.pinpointhq.com/api/v1"))
}

/// Checks both credentials live and reads HiBob's sites (the active ones).
async fn hibob_sites(answers: &Answers, secrets: &SecretSources) -> anyhow::Result<Vec<String>> {
    // A draft with a placeholder site: the clients need a whole config, the site comes next.
    let draft = answers.config_text("-", "0d", Path::new("ledger.sqlite3"));
    let config = Config::parse(Path::new("config.toml"), &draft, secrets)
        .context("the answers do not make a valid config")?;
    let http = HttpClient::new(&config.http)?;
    println!("Checking the Pinpoint API key…");
    PinpointClient::new(http.clone(), &config.pinpoint)
        .probe()
        .await
        .with_context(|| {
            format!(
                "Pinpoint at {} refused or failed: check the subdomain and the API key, then run init again",
                config.pinpoint.base_url
            )
        })?;
    println!("Checking the HiBob service user…");
    let hibob = HibobClient::new(http, &config.hibob);
    let fields = hibob.people_fields().await.with_context(|| {
        format!(
            "HiBob at {} refused or failed: check the service user's id, token and permissions, then run init again",
            config.hibob.base_url
        )
    })?;
    let list = fields
        .iter()
        .find(|f| f.id == "work.site" || f.json_path == "work.site")
        .and_then(|f| f.list_id.clone())
        .unwrap_or_else(|| "site".to_owned());
    let sites: Vec<String> = hibob
        .named_list(&list)
        .await
        .with_context(|| {
            format!("cannot read HiBob's {list:?} list; give the service user access to it")
        })?
        .into_iter()
        .filter(|v| !v.archived)
        .map(|v| v.value)
        .collect();
    if sites.is_empty() {
        bail!("HiBob's {list:?} list has no active site: add one in HiBob, then run init again");
    }
    Ok(sites)
}

fn choose_site(args: &InitArgs, ask: &mut Prompter, sites: &[String]) -> anyhow::Result<String> {
    if let Some(site) = &args.site {
        if sites.contains(site) {
            return Ok(site.clone());
        }
        bail!(
            "--site {site:?} is not one of HiBob's sites: {}",
            sites.join(", ")
        );
    }
    if !ask.interactive {
        bail!(
            "--site is needed without a terminal: one of HiBob's sites: {}",
            sites.join(", ")
        );
    }
    println!("HiBob's sites:");
    for (i, site) in sites.iter().enumerate() {
        println!("  {}) {site}", i + 1);
    }
    loop {
        let answer = ask.line(
            "--site",
            "The site new employees get (number or name)",
            Some("1"),
        )?;
        let chosen = answer
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| sites.get(i))
            .or_else(|| sites.iter().find(|s| **s == answer));
        match chosen {
            Some(site) => return Ok(site.clone()),
            None => println!("{answer:?} is not one of the {} sites above.", sites.len()),
        }
    }
}

fn write_files(
    config_path: &Path,
    credentials_dir: &Path,
    text: &str,
    answers: &Answers,
    force: bool,
) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    // Parents as any directory is made (the config's must stay readable by the service's
    // user); only the credentials directory itself is 0700, and only when init makes it.
    if let Some(parent) = credentials_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot make {}", parent.display()))?;
    }
    if !credentials_dir.exists() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(credentials_dir)
            .with_context(|| format!("cannot make {}", credentials_dir.display()))?;
    }
    let secrets: [(&str, &str); 3] = [
        (PINPOINT_KEY_FILE, answers.pinpoint_key.expose_secret()),
        (HIBOB_ID_FILE, &answers.hibob_id),
        (HIBOB_TOKEN_FILE, answers.hibob_token.expose_secret()),
    ];
    for (name, value) in secrets {
        write_new(&credentials_dir.join(name), value, 0o600, force)?;
    }
    if let Some(dir) = config_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    }
    write_new(config_path, text, 0o644, force)
}

/// Writes `text` to a file with `mode`, refusing one that exists unless `force`.
fn write_new(path: &Path, text: &str, mode: u32, force: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut options = std::fs::OpenOptions::new();
    // Never through a link: a secret goes into this file, not wherever a link points.
    options
        .write(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).with_context(|| {
        if path.exists() {
            format!(
                "{} already exists: pass --force to replace it",
                path.display()
            )
        } else {
            format!("cannot write {}", path.display())
        }
    })?;
    // A replaced file keeps its old mode: set it.
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    file.sync_all()?;
    Ok(())
}

/// Asks on a terminal; without one, every question is an error naming its flag.
struct Prompter {
    interactive: bool,
}

impl Prompter {
    fn new() -> Self {
        Prompter {
            interactive: std::io::stdin().is_terminal(),
        }
    }

    fn line(
        &mut self,
        flag: &str,
        question: &str,
        default: Option<&str>,
    ) -> anyhow::Result<String> {
        if !self.interactive {
            // A question with a default is answered by it; one without is a missing flag.
            return match default {
                Some(d) => Ok(d.to_owned()),
                None => bail!("{flag} is needed: there is no terminal to ask on ({question})"),
            };
        }
        loop {
            match default {
                Some(d) => print!("{question} [{d}]: "),
                None => print!("{question}: "),
            }
            std::io::stdout().flush()?;
            let answer = read_line()?;
            match (answer.trim(), default) {
                ("", Some(d)) => return Ok(d.to_owned()),
                ("", None) => println!("An answer is needed (or press Ctrl-C to stop)."),
                (text, _) => return Ok(text.to_owned()),
            }
        }
    }

    /// A secret: the environment variable, else the file the flag names, else asked without
    /// echo.
    fn secret(
        &mut self,
        var: &str,
        file_flag: &str,
        file: Option<&Path>,
        question: &str,
    ) -> anyhow::Result<SecretString> {
        // A file named on the command line wins over a variable left in the environment.
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{file_flag}: cannot read {}", path.display()))?;
            let text = text.trim();
            if text.is_empty() {
                bail!("{file_flag}: {} is empty", path.display());
            }
            return Ok(SecretString::from(text.to_owned()));
        }
        if let Some(value) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            return Ok(SecretString::from(value.trim().to_owned()));
        }
        if !self.interactive {
            bail!(
                "{question} is needed: set {var}, or pass {file_flag} PATH (there is no terminal to ask on)"
            );
        }
        loop {
            print!("{question} (not shown): ");
            std::io::stdout().flush()?;
            // The typed newline is echoed (ECHONL), the secret is not.
            let answer = without_echo(read_line)?;
            if !answer.trim().is_empty() {
                return Ok(SecretString::from(answer.trim().to_owned()));
            }
            println!("An answer is needed (or press Ctrl-C to stop).");
        }
    }
}

fn read_line() -> anyhow::Result<String> {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        bail!("the terminal closed before every question was answered");
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Runs `read` with the terminal's echo off, and turns it back on whatever happens.
fn without_echo<T>(read: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    // SAFETY: termios is plain data; fd 0 is this process's stdin, a terminal here.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(0, &mut saved) } != 0 {
        return read();
    }
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ECHONL;
    // SAFETY: as above; the settings come from tcgetattr.
    unsafe { libc::tcsetattr(0, libc::TCSANOW, &quiet) };
    let result = read();
    unsafe { libc::tcsetattr(0, libc::TCSANOW, &saved) };
    result
}

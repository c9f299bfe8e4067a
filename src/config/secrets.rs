//! Where secrets come from and how they are read: the environment first, else a `*_file` key
//! (relative to the systemd credentials directory). A secret is wrapped in [`SecretString`] the
//! moment it is read, so no `Debug`, error or log line can show it; errors name the variable or
//! key, never the value.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use super::file::RawHibob;
use super::{ConfigError, HibobCredentials, invalid};

/// Where secrets come from: the process environment and, for relative `*_file` paths, the
/// systemd credentials directory. A trait-free struct so tests can pass their own.
#[derive(Debug, Clone, Default)]
pub struct SecretSources {
    pub vars: std::collections::HashMap<String, String>,
    pub credentials_directory: Option<PathBuf>,
}

impl SecretSources {
    pub fn from_env() -> Self {
        Self {
            vars: std::env::vars().collect(),
            credentials_directory: std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from),
        }
    }

    /// [`Self::from_env`] for the config at `config_path`: outside systemd (no
    /// `$CREDENTIALS_DIRECTORY`), relative `*_file` paths are read from `credentials/` beside
    /// the config when it exists — where `make install` and `hirebridge init` put the secrets
    /// the unit loads — so an operator's `sudo hirebridge check` reads what the service reads.
    pub fn for_config(config_path: &Path) -> Self {
        let mut sources = Self::from_env();
        if sources.credentials_directory.is_none() {
            let beside = config_path
                .parent()
                .unwrap_or(Path::new("."))
                .join("credentials");
            sources.credentials_directory = beside.is_dir().then_some(beside);
        }
        sources
    }

    fn var(&self, name: &str) -> Option<SecretString> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(|v| SecretString::from(v.to_owned()))
    }

    /// Where a `*_file` path points: relative ones inside the credentials directory.
    pub(super) fn resolve(&self, path: &Path) -> PathBuf {
        match (&self.credentials_directory, path.is_relative()) {
            (Some(dir), true) => dir.join(path),
            _ => path.to_owned(),
        }
    }

    fn file(&self, key: &str, path: &Path) -> Result<SecretString, ConfigError> {
        let path = self.resolve(path);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            invalid(
                key,
                format!("cannot read secret file {}: {e}", path.display()),
            )
        })?;
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid(
                key,
                format!("secret file {} is empty", path.display()),
            ));
        }
        Ok(SecretString::from(text.to_owned()))
    }

    /// The environment variable wins; else the `*_file` key; else the credentials file named
    /// after the variable (`HIREBRIDGE_SMTP_PASSWORD` → `hirebridge_smtp_password`) in the
    /// credentials directory, where `init`, the package and systemd's `LoadCredential=` put
    /// them; else `None`.
    pub(super) fn secret(
        &self,
        var: &str,
        key: &str,
        file: Option<&PathBuf>,
    ) -> Result<Option<SecretString>, ConfigError> {
        if let Some(v) = self.var(var) {
            return Ok(Some(v));
        }
        if let Some(f) = file {
            return self.file(key, f).map(Some);
        }
        let named = PathBuf::from(var.to_ascii_lowercase());
        match &self.credentials_directory {
            Some(dir) if dir.join(&named).is_file() => self.file(var, &named).map(Some),
            _ => Ok(None),
        }
    }
}

/// The Pinpoint API key: `PINPOINT_API_KEY`, else `pinpoint.api_key_file`.
pub(super) fn pinpoint_api_key(
    secrets: &SecretSources,
    file: Option<&PathBuf>,
) -> Result<SecretString, ConfigError> {
    secrets
        .secret("PINPOINT_API_KEY", "pinpoint.api_key_file", file)?
        .ok_or_else(|| ConfigError::MissingSecret {
            message: "the Pinpoint API key: set PINPOINT_API_KEY or pinpoint.api_key_file".into(),
        })
}

/// The `Authorization` header value Bob shows with the Hire API's endpoint URL:
/// `HIBOB_HIRE_API_AUTHORIZATION`, else `hibob.hire_api_authorization_file`; `None` when
/// neither is set (whether it is required is the section's rule). Sent verbatim, so it must
/// be a valid header value; the error never shows it.
pub(super) fn hire_api_authorization(
    h: &RawHibob,
    secrets: &SecretSources,
) -> Result<Option<SecretString>, ConfigError> {
    let value = secrets.secret(
        "HIBOB_HIRE_API_AUTHORIZATION",
        "hibob.hire_api_authorization_file",
        h.hire_api_authorization_file.as_ref(),
    )?;
    match value {
        // Visible ASCII and spaces only: what an HTTP header may carry, checked now so a
        // stray byte fails at startup instead of as an unsent post.
        Some(v)
            if !v
                .expose_secret()
                .bytes()
                .all(|b| b == b' ' || b.is_ascii_graphic()) =>
        {
            Err(invalid(
                "HIBOB_HIRE_API_AUTHORIZATION",
                "is not a valid Authorization header value (only printable ASCII); copy the \
                 value Bob shows for the Hire API integration again",
            ))
        }
        other => Ok(other),
    }
}

/// HiBob's service user: its id and token, else the older combined base64 token.
pub(super) fn hibob_credentials(
    h: &RawHibob,
    secrets: &SecretSources,
) -> Result<HibobCredentials, ConfigError> {
    match service_user(h, secrets)? {
        Some(credentials) => Ok(credentials),
        None => base64_token(h, secrets),
    }
}

/// The id and token, when either is set: then both must be.
fn service_user(
    h: &RawHibob,
    secrets: &SecretSources,
) -> Result<Option<HibobCredentials>, ConfigError> {
    let id = secrets.secret(
        "HIBOB_SERVICE_USER_ID",
        "hibob.service_user_id_file",
        h.service_user_id_file.as_ref(),
    )?;
    let token = secrets.secret(
        "HIBOB_SERVICE_USER_TOKEN",
        "hibob.service_user_token_file",
        h.service_user_token_file.as_ref(),
    )?;
    match (id, token) {
        (Some(id), Some(token)) => Ok(Some(HibobCredentials::ServiceUser {
            id: id.expose_secret().to_owned(),
            token,
        })),
        (Some(_), None) | (None, Some(_)) => Err(ConfigError::MissingSecret {
            message: "HiBob needs both the service user id and its token: set \
                      HIBOB_SERVICE_USER_ID and HIBOB_SERVICE_USER_TOKEN (or their *_file keys)"
                .into(),
        }),
        (None, None) => Ok(None),
    }
}

/// `HIBOB_BASE64_TOKEN` (or its file), checked to be base64 of `ID:TOKEN`.
fn base64_token(h: &RawHibob, secrets: &SecretSources) -> Result<HibobCredentials, ConfigError> {
    let combined = secrets
        .secret(
            "HIBOB_BASE64_TOKEN",
            "hibob.base64_token_file",
            h.base64_token_file.as_ref(),
        )?
        .ok_or_else(|| ConfigError::MissingSecret {
            message: "HiBob service user credentials: set HIBOB_SERVICE_USER_ID and \
                      HIBOB_SERVICE_USER_TOKEN (or hibob.service_user_id_file and \
                      hibob.service_user_token_file), or HIBOB_BASE64_TOKEN"
                .into(),
        })?;
    // Check the shape now so a typo fails at startup, not as a 401 on the first call.
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(combined.expose_secret().as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    match decoded {
        Some(pair)
            if pair
                .split_once(':')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()) =>
        {
            Ok(HibobCredentials::Base64(combined))
        }
        _ => Err(invalid(
            "HIBOB_BASE64_TOKEN",
            "is not base64 of \"SERVICE-USER-ID:TOKEN\"; re-create it with `printf '%s' ID:TOKEN | base64 -w0`",
        )),
    }
}

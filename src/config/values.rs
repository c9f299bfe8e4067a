//! How a single value is written in the file: durations, rates and URLs, each read with an
//! error that names its key. Knows nothing of sections or defaults (those are in `keys`).

use std::time::Duration;

use url::Url;

use super::{ConfigError, invalid};

/// A rate limit written as `"N/period"`, e.g. `"50/1m"`: at most `count` calls per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub period: Duration,
}

impl RateLimit {
    pub fn parse(key: &str, text: &str) -> Result<Self, ConfigError> {
        let hint = "write it as \"N/period\", e.g. \"50/1m\" or \"2/1s\"";
        let (count, period) = text
            .split_once('/')
            .ok_or_else(|| invalid(key, format!("{text:?} is not a rate; {hint}")))?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid(key, format!("{count:?} is not a positive count; {hint}")))?;
        let period = parse_duration(key, period.trim())?;
        if period.is_zero() {
            return Err(invalid(
                key,
                format!("the period must be longer than zero; {hint}"),
            ));
        }
        Ok(Self { count, period })
    }

    /// An effectively unlimited rate, for the built-in simulator.
    pub fn unlimited() -> Self {
        Self {
            count: 1_000_000,
            period: Duration::from_secs(1),
        }
    }
}

pub(super) fn parse_duration(key: &str, text: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(text).map_err(|e| {
        invalid(
            key,
            format!("{text:?} is not a duration ({e}); write e.g. \"30s\", \"5m\", \"14d\""),
        )
    })
}

/// A duration with a sane ceiling: an absurd value must fail here, naming the key, not
/// overflow a date calculation in the middle of a pass.
pub(super) fn parse_bounded(
    key: &str,
    text: &str,
    max: Duration,
    max_text: &str,
) -> Result<Duration, ConfigError> {
    let d = parse_duration(key, text)?;
    if d > max {
        return Err(invalid(
            key,
            format!("{text:?} is longer than the maximum of {max_text}"),
        ));
    }
    Ok(d)
}

pub(super) fn parse_base_url(key: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| {
        invalid(
            key,
            format!(
                "{text:?} is not a URL ({e}); write e.g. \"https://acme.pinpointhq.com/api/v1\""
            ),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            key,
            format!("{text:?} must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(url)
}

/// An endpoint URL that may identify an account (the Hire API's carries the integration's
/// id): http(s) with a host, and no user name or password in it, because a credential
/// belongs in the secrets, where it is never shown (`secret` says where; `whence` where the
/// right URL is found). Errors never repeat the text.
pub(super) fn parse_endpoint_url(
    key: &str,
    text: &str,
    whence: &str,
    secret: &str,
) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim())
        .map_err(|e| invalid(key, format!("is not a URL ({e}); copy {whence}, whole")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            key,
            format!("must be an http:// or https:// URL with a host: copy {whence}"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            key,
            format!(
                "must not carry a user name or password (user:password@host): write the URL \
                 without them and put the credential in {secret}"
            ),
        ));
    }
    Ok(url)
}

/// An address and port, e.g. `"127.0.0.1:8787"`; `example` is the one the error suggests.
pub(super) fn parse_listen(
    key: &str,
    text: &str,
    example: &str,
) -> Result<std::net::SocketAddr, ConfigError> {
    text.trim().parse().map_err(|_| {
        invalid(
            key,
            format!("{text:?} is not an address and port; write e.g. \"{example}\""),
        )
    })
}

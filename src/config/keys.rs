//! Every key that has a default or a rule of its own, written once: its name, its default and
//! what a value may be. The section parsers read through these descriptors (and so does
//! [`super::Config::simulated`], which parses a file that leaves every key out), the sections'
//! `Default` impls take their defaults from them, and a test checks each against the annotated
//! `config.toml` (its documentation), so name, default and doc cannot drift apart. Owns no
//! section layout and no secrets.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::time::Duration;

use chrono::NaiveTime;
use lettre::Address;
use url::Url;

use super::notify::{SmtpSecurity, SmtpServer, WebhookFormat};
use super::values::{parse_base_url, parse_bounded, parse_endpoint_url};
use super::{ConfigError, CvFolder, HireFlow, OnFormerEmployee, RateLimit, invalid};
use crate::mapping::OnChange;
use crate::notify::NoticeKind;

const DAY: Duration = Duration::from_secs(86_400);

/// What a duration may be besides its ceiling.
#[derive(Debug, Clone, Copy)]
pub enum Floor {
    /// Zero is allowed.
    Zero,
    /// Zero is refused: "must be longer than zero".
    NonZero,
    /// Shorter than this is refused, with the message made from the value as written.
    AtLeast(Duration, fn(&str) -> String),
}

/// A duration's bounds: at most `max` (shown as `max_text` in the error), and its floor.
#[derive(Debug, Clone, Copy)]
pub struct Within {
    pub max: Duration,
    pub max_text: &'static str,
    pub floor: Floor,
}

impl Within {
    fn check(&self, key: &str, text: &str) -> Result<Duration, ConfigError> {
        let d = parse_bounded(key, text, self.max, self.max_text)?;
        match self.floor {
            Floor::Zero => Ok(d),
            Floor::NonZero if d.is_zero() => {
                Err(invalid(key, "must be longer than zero, e.g. \"10s\""))
            }
            Floor::NonZero => Ok(d),
            Floor::AtLeast(min, says) if d < min => Err(invalid(key, says(text))),
            Floor::AtLeast(..) => Ok(d),
        }
    }
}

/// Up to an hour, zero allowed: the timeouts and waits of HTTP and retries.
const AN_HOUR: Within = Within {
    max: Duration::from_secs(3600),
    max_text: "1h",
    floor: Floor::Zero,
};

/// Up to an hour, never zero: a timeout of zero would fail every request.
const A_TIMEOUT: Within = Within {
    floor: Floor::NonZero,
    ..AN_HOUR
};

/// A duration with a default.
#[derive(Debug, Clone, Copy)]
pub struct DurationKey {
    pub name: &'static str,
    pub default: Duration,
    pub within: Within,
}

impl DurationKey {
    /// The value as written, else the default.
    pub fn read(&self, text: Option<&str>) -> Result<Duration, ConfigError> {
        text.map_or(Ok(self.default), |t| self.within.check(self.name, t))
    }
}

/// A duration whose absence means "off" (no default).
#[derive(Debug, Clone, Copy)]
pub struct OptionalDurationKey {
    pub name: &'static str,
    pub within: Within,
}

impl OptionalDurationKey {
    pub fn read(&self, text: Option<&str>) -> Result<Option<Duration>, ConfigError> {
        text.map(|t| self.within.check(self.name, t)).transpose()
    }
}

/// A whole number in `min..=max`. `refusal` follows the number in the error and may name
/// `{min}`, `{max}` and `{default}`, so that none of them is written twice.
#[derive(Debug, Clone, Copy)]
pub struct CountKey<T> {
    pub name: &'static str,
    pub default: T,
    pub min: i64,
    pub max: i64,
    pub refusal: &'static str,
}

impl<T: Copy + Display + TryFrom<i64>> CountKey<T> {
    pub fn read(&self, value: Option<i64>) -> Result<T, ConfigError> {
        let Some(n) = value else {
            return Ok(self.default);
        };
        (self.min..=self.max)
            .contains(&n)
            .then(|| T::try_from(n).ok())
            .flatten()
            .ok_or_else(|| invalid(self.name, format!("{n} {}", self.refusal_text())))
    }

    fn refusal_text(&self) -> String {
        self.refusal
            .replace("{min}", &self.min.to_string())
            .replace("{max}", &self.max.to_string())
            .replace("{default}", &self.default.to_string())
    }
}

/// A `"N/period"` rate with a default.
#[derive(Debug, Clone, Copy)]
pub struct RateKey {
    pub name: &'static str,
    pub default: RateLimit,
}

impl RateKey {
    pub fn read(&self, text: Option<&str>) -> Result<RateLimit, ConfigError> {
        text.map_or(Ok(self.default), |t| RateLimit::parse(self.name, t))
    }
}

/// One of a few words, each standing for a value. `what` names the kind in the error ("is not
/// a folder", "is not a choice").
#[derive(Debug, Clone, Copy)]
pub struct ChoiceKey<T: 'static> {
    pub name: &'static str,
    pub default: T,
    pub choices: &'static [(&'static str, T)],
    pub what: &'static str,
}

impl<T: Copy> ChoiceKey<T> {
    pub fn read(&self, text: Option<&str>) -> Result<T, ConfigError> {
        text.map_or(Ok(self.default), |t| self.parse_as(self.name, t))
    }

    /// The same choice under another key (a table's own override of this key).
    pub fn parse_as(&self, key: &str, text: &str) -> Result<T, ConfigError> {
        self.choices
            .iter()
            .find(|(word, _)| *word == text)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                invalid(
                    key,
                    format!("{text:?} is not a {}; write {}", self.what, self.words()),
                )
            })
    }

    /// `"a" or "b"`; `"a", "b" or "c"`.
    fn words(&self) -> String {
        let quoted: Vec<String> = self.choices.iter().map(|(w, _)| format!("{w:?}")).collect();
        match quoted.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// An http(s) base URL; `default: None` for a key the file must give.
#[derive(Debug, Clone, Copy)]
pub struct UrlKey {
    pub name: &'static str,
    pub default: Option<&'static str>,
}

impl UrlKey {
    pub fn parse(&self, text: &str) -> Result<Url, ConfigError> {
        parse_base_url(self.name, text)
    }

    pub fn read(&self, text: Option<&str>) -> Result<Url, ConfigError> {
        self.parse(text.or(self.default).unwrap_or_default())
    }
}

/// An http(s) endpoint URL that may be left out and must carry no credentials (user name or
/// password): `whence` says in errors where the right URL is found, `secret` where the
/// credential goes instead. Errors never repeat the value, which may identify an account.
#[derive(Debug, Clone, Copy)]
pub struct EndpointUrlKey {
    pub name: &'static str,
    pub whence: &'static str,
    pub secret: &'static str,
}

impl EndpointUrlKey {
    pub fn read(&self, text: Option<&str>) -> Result<Option<Url>, ConfigError> {
        text.map(|t| parse_endpoint_url(self.name, t, self.whence, self.secret))
            .transpose()
    }
}

/// A piece of text with a default; its section checks what the text may be.
#[derive(Debug, Clone, Copy)]
pub struct TextKey {
    pub name: &'static str,
    pub default: &'static str,
}

/// `true` or `false`, with a default.
#[derive(Debug, Clone, Copy)]
pub struct FlagKey {
    pub name: &'static str,
    pub default: bool,
}

impl FlagKey {
    pub fn read(&self, value: Option<bool>) -> bool {
        value.unwrap_or(self.default)
    }
}

/// An email address as an SMTP server takes it (lettre's parse: `local@domain`, no display
/// name), on one line: an address is written into a header, where a line break would start
/// another header.
#[derive(Debug, Clone, Copy)]
pub struct AddressKey {
    pub name: &'static str,
    pub example: &'static str,
}

impl AddressKey {
    pub fn parse(&self, text: &str) -> Result<Address, ConfigError> {
        if text.chars().any(char::is_control) {
            return Err(invalid(
                self.name,
                format!(
                    "holds a line break or another control character; write one address, e.g. {:?}",
                    self.example
                ),
            ));
        }
        text.trim().parse::<Address>().map_err(|e| {
            invalid(
                self.name,
                format!(
                    "{text:?} is not an email address ({e}); write e.g. {:?}",
                    self.example
                ),
            )
        })
    }
}

/// One line of text that must be given non-empty (a user name): no control characters.
#[derive(Debug, Clone, Copy)]
pub struct LineKey {
    pub name: &'static str,
    pub example: &'static str,
}

impl LineKey {
    pub fn parse(&self, text: &str) -> Result<String, ConfigError> {
        let text = text.trim();
        if text.is_empty() || text.chars().any(char::is_control) {
            return Err(invalid(
                self.name,
                format!(
                    "must be one non-empty line without control characters, e.g. {:?}",
                    self.example
                ),
            ));
        }
        Ok(text.to_owned())
    }
}

/// Where an SMTP server is: `smtp://host[:25]` (no TLS), `smtp+starttls://host[:587]`
/// (STARTTLS required) or `smtps://host[:465]` (TLS from the first byte). The user name and
/// password have their own keys, so an error never repeats the value.
#[derive(Debug, Clone, Copy)]
pub struct SmtpKey {
    pub name: &'static str,
}

impl SmtpKey {
    const HINT: &'static str =
        "write \"smtp+starttls://HOST:587\", \"smtps://HOST:465\" or \"smtp://HOST:25\"";

    pub fn parse(&self, text: &str) -> Result<SmtpServer, ConfigError> {
        let hint = Self::HINT;
        let url = Url::parse(text.trim())
            .map_err(|e| invalid(self.name, format!("is not a URL ({e}); {hint}")))?;
        let (security, default_port) = match url.scheme() {
            "smtp" => (SmtpSecurity::Plain, 25),
            "smtp+starttls" => (SmtpSecurity::StartTls, 587),
            "smtps" => (SmtpSecurity::Tls, 465),
            _ => return Err(invalid(self.name, format!("has an unknown scheme; {hint}"))),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                self.name,
                "must not carry a user name or password (user:password@host): set notify.smtp_user, \
                 and the password in HIREBRIDGE_SMTP_PASSWORD (or notify.smtp_password_file)",
            ));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                self.name,
                format!("must be a scheme, a host and a port only; {hint}"),
            ));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(invalid(self.name, format!("has no host; {hint}"))),
        };
        Ok(SmtpServer {
            security,
            host,
            port: url.port().unwrap_or(default_port),
        })
    }
}

/// The kinds of message `[notify] on` subscribes to, with a default set.
#[derive(Debug, Clone, Copy)]
pub struct KindsKey {
    pub name: &'static str,
    pub default: &'static [NoticeKind],
}

impl KindsKey {
    pub fn read(&self, list: Option<&[String]>) -> Result<BTreeSet<NoticeKind>, ConfigError> {
        let Some(list) = list else {
            return Ok(self.default.iter().copied().collect());
        };
        list.iter()
            .map(|word| {
                NoticeKind::parse_subscription(word.trim()).ok_or_else(|| {
                    invalid(
                        self.name,
                        format!(
                            "{word:?} is not a kind of message; write some of {}",
                            subscription_words()
                        ),
                    )
                })
            })
            .collect()
    }
}

/// `"needs_attention", "writes_stopped", … or "daily_digest"`: what `on` may name.
fn subscription_words() -> String {
    let words: Vec<String> = [
        NoticeKind::NeedsAttention,
        NoticeKind::WritesStopped,
        NoticeKind::WritesResumed,
        NoticeKind::WaitingForHrOverdue,
        NoticeKind::DailyDigest,
        NoticeKind::Test,
    ]
    .into_iter()
    .filter(|k| NoticeKind::parse_subscription(k.as_str()).is_some())
    .map(|k| format!("{:?}", k.as_str()))
    .collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => words.join(""),
    }
}

/// A time of day, `"HH:MM"` (24-hour), with a default.
#[derive(Debug, Clone, Copy)]
pub struct TimeOfDayKey {
    pub name: &'static str,
    pub default: NaiveTime,
}

impl TimeOfDayKey {
    pub fn read(&self, text: Option<&str>) -> Result<NaiveTime, ConfigError> {
        let Some(text) = text else {
            return Ok(self.default);
        };
        let t = text.trim();
        // Exactly HH:MM: chrono alone would take "8:0" and ignore nothing else.
        let shaped = t.len() == 5 && t.as_bytes()[2] == b':';
        NaiveTime::parse_from_str(t, "%H:%M")
            .ok()
            .filter(|_| shaped)
            .ok_or_else(|| {
                invalid(
                    self.name,
                    format!(
                        "{text:?} is not a time of day; write \"HH:MM\" (24-hour, the host's local time), e.g. \"08:00\""
                    ),
                )
            })
    }
}

// ---- [pinpoint] ----------------------------------------------------------------------------

pub const PINPOINT_BASE_URL: UrlKey = UrlKey {
    name: "pinpoint.base_url",
    default: None,
};
pub const PINPOINT_RATE_LIMIT: RateKey = RateKey {
    name: "pinpoint.rate_limit",
    default: RateLimit {
        count: 2,
        period: Duration::from_secs(1),
    },
};
pub const PAGE_SIZE: CountKey<u32> = CountKey {
    name: "pinpoint.page_size",
    default: 100,
    min: 1,
    max: 1000,
    refusal: "is out of range; Pinpoint accepts {min} to {max}",
};

// ---- [hibob] -------------------------------------------------------------------------------

pub const HIBOB_BASE_URL: UrlKey = UrlKey {
    name: "hibob.base_url",
    default: Some("https://api.hibob.com/v1"),
};
pub const HIBOB_RATE_LIMIT: RateKey = RateKey {
    name: "hibob.rate_limit",
    default: RateLimit {
        count: 50,
        period: Duration::from_secs(60),
    },
};
pub const DOCUMENTS_RATE_LIMIT: RateKey = RateKey {
    name: "hibob.documents_rate_limit",
    default: RateLimit {
        count: 10,
        period: Duration::from_secs(1),
    },
};
pub const START_DATE_OFFSET: DurationKey = DurationKey {
    name: "hibob.start_date_offset",
    default: Duration::from_secs(14 * 86_400),
    within: Within {
        max: Duration::from_secs(730 * 86_400),
        max_text: "730d",
        floor: Floor::Zero,
    },
};
pub const CV_FOLDER: ChoiceKey<CvFolder> = ChoiceKey {
    name: "hibob.cv_folder",
    default: CvFolder::Shared,
    choices: &[
        ("shared", CvFolder::Shared),
        ("confidential", CvFolder::Confidential),
    ],
    what: "folder",
};
pub const ON_FORMER_EMPLOYEE: ChoiceKey<OnFormerEmployee> = ChoiceKey {
    name: "hibob.on_former_employee",
    default: OnFormerEmployee::Attention,
    choices: &[
        ("attention", OnFormerEmployee::Attention),
        ("adopt", OnFormerEmployee::Adopt),
    ],
    what: "choice",
};
pub const READ_LAG: DurationKey = DurationKey {
    name: "hibob.read_lag",
    default: Duration::from_secs(20),
    within: Within {
        max: Duration::from_secs(600),
        max_text: "10m",
        floor: Floor::Zero,
    },
};
pub const SEARCH_BATCH_SIZE: CountKey<usize> = CountKey {
    name: "hibob.search_batch_size",
    default: 50,
    min: 1,
    max: 1000,
    refusal: "is out of range; use {min} to {max}",
};

/// `"direct"`: hirebridge creates the employee (`POST /people`); `"pending"`: it posts the
/// hire to HiBob's Hire API and HR completes Bob's New hire flow.
pub const HIRE_FLOW: ChoiceKey<HireFlow> = ChoiceKey {
    name: "hibob.hire_flow",
    default: HireFlow::Direct,
    choices: &[("direct", HireFlow::Direct), ("pending", HireFlow::Pending)],
    what: "hire flow",
};
/// The endpoint Bob shows when the admin installs the Hire API integration; required with
/// `hire_flow = "pending"`.
pub const HIRE_API_URL: EndpointUrlKey = EndpointUrlKey {
    name: "hibob.hire_api_url",
    whence: "the endpoint URL Bob shows when the Hire API integration is installed",
    secret: "HIBOB_HIRE_API_AUTHORIZATION (or hibob.hire_api_authorization_file)",
};
/// How long a hire may wait for HR before `status` lists it for a person. A year is far past
/// any onboarding; longer is a typo.
pub const HR_REMINDER_AFTER: DurationKey = DurationKey {
    name: "hibob.hr_reminder_after",
    default: Duration::from_secs(3 * 86_400),
    within: Within {
        max: Duration::from_secs(365 * 86_400),
        max_text: "365d",
        floor: Floor::AtLeast(Duration::from_secs(1), |text| {
            format!(
                "{text:?} is too short: it must be longer than zero (at least 1s); write e.g. \"3d\" or \"12h\""
            )
        }),
    },
};

// ---- [schedule] ----------------------------------------------------------------------------

pub const EVERY: DurationKey = DurationKey {
    name: "schedule.every",
    default: Duration::from_secs(300),
    within: Within {
        max: DAY,
        max_text: "1d",
        floor: Floor::AtLeast(Duration::from_secs(1), |_| "must be at least 1s".into()),
    },
};
/// Longer would leave an unhired or withdrawn hire, or a renamed job, unseen for too long;
/// `"0s"` makes every pass a full listing.
pub const FULL_EVERY: DurationKey = DurationKey {
    name: "schedule.full_every",
    default: DAY,
    within: Within {
        max: Duration::from_secs(7 * 86_400),
        max_text: "7d",
        floor: Floor::Zero,
    },
};

// ---- [http] --------------------------------------------------------------------------------

pub const CONNECT_TIMEOUT: DurationKey = DurationKey {
    name: "http.connect_timeout",
    default: Duration::from_secs(5),
    within: A_TIMEOUT,
};
pub const REQUEST_TIMEOUT: DurationKey = DurationKey {
    name: "http.request_timeout",
    default: Duration::from_secs(10),
    within: A_TIMEOUT,
};
pub const READ_RETRIES: CountKey<u32> = CountKey {
    name: "http.read_retries",
    default: 2,
    min: 0,
    max: 10,
    refusal: "is out of range; use {min} to {max}",
};
pub const MAX_RATE_LIMIT_WAIT: DurationKey = DurationKey {
    name: "http.max_rate_limit_wait",
    default: Duration::from_secs(120),
    within: AN_HOUR,
};

// ---- [sync] --------------------------------------------------------------------------------

pub const CONCURRENCY: CountKey<usize> = CountKey {
    name: "sync.concurrency",
    default: 4,
    min: 1,
    max: 64,
    refusal: "is out of range; use {min} to {max} (a small number is plenty: the APIs' rate limits are the ceiling)",
};

// ---- [retry] -------------------------------------------------------------------------------

pub const RETRY_INITIAL: DurationKey = DurationKey {
    name: "retry.initial",
    default: Duration::from_secs(30),
    within: AN_HOUR,
};
pub const RETRY_MAX: DurationKey = DurationKey {
    name: "retry.max",
    default: Duration::from_secs(600),
    within: AN_HOUR,
};

// ---- [mapping] -----------------------------------------------------------------------------

pub const ON_CHANGE: ChoiceKey<OnChange> = ChoiceKey {
    name: "mapping.on_change",
    default: OnChange::Report,
    choices: &[("report", OnChange::Report), ("update", OnChange::Update)],
    what: "choice",
};
pub const ALLOW_PAST_START_DATE: FlagKey = FlagKey {
    name: "mapping.allow_past_start_date",
    default: false,
};

// ---- [report] ------------------------------------------------------------------------------

/// HiBob's employee profile page (a guess: no public docs name the app's URLs).
pub const HIBOB_EMPLOYEE_URL: TextKey = TextKey {
    name: "report.hibob_employee_url",
    default: "https://app.hibob.com/employee-profile/{id}",
};

// ---- [webhook] -----------------------------------------------------------------------------

pub const ALLOW_UNSIGNED: FlagKey = FlagKey {
    name: "webhook.allow_unsigned",
    default: false,
};
pub const HEADER_TIMEOUT: DurationKey = DurationKey {
    name: "webhook.header_timeout",
    default: Duration::from_secs(10),
    within: A_TIMEOUT,
};
pub const BODY_TIMEOUT: DurationKey = DurationKey {
    name: "webhook.body_timeout",
    default: Duration::from_secs(10),
    within: A_TIMEOUT,
};
pub const IDLE_TIMEOUT: DurationKey = DurationKey {
    name: "webhook.idle_timeout",
    default: Duration::from_secs(60),
    within: A_TIMEOUT,
};
pub const MAX_CONNECTIONS: CountKey<usize> = CountKey {
    name: "webhook.max_connections",
    default: 256,
    min: 1,
    max: 65_536,
    refusal: "is out of range; use {min} to {max} (the default {default} is plenty for Pinpoint)",
};

// ---- [plugin] ------------------------------------------------------------------------------

pub const PLUGIN_NAME: TextKey = TextKey {
    name: "plugin.name",
    default: "HiBob (hirebridge)",
};

// ---- [audit] -------------------------------------------------------------------------------

pub const RETAIN_PERSONAL_DATA: OptionalDurationKey = OptionalDurationKey {
    name: "audit.retain_personal_data",
    within: Within {
        max: Duration::from_secs(100 * 365 * 86_400),
        max_text: "100y",
        floor: Floor::AtLeast(DAY, |text| {
            format!("{text:?} is shorter than a day; write e.g. \"3y\" or \"180d\"")
        }),
    },
};

// ---- [backup] ------------------------------------------------------------------------------

/// More than 10000 copies is a typo, not a policy (a copy a day for about 27 years).
pub const BACKUP_KEEP: CountKey<usize> = CountKey {
    name: "backup.keep",
    default: 14,
    min: 1,
    max: 10_000,
    refusal: "is not a number of copies to keep; write {min} to {max} (default {default})",
};

// ---- [notify] ------------------------------------------------------------------------------

pub const NOTIFY_EMAIL_TO: AddressKey = AddressKey {
    name: "notify.email_to",
    example: "hr-ops@example.com",
};
pub const NOTIFY_EMAIL_FROM: AddressKey = AddressKey {
    name: "notify.email_from",
    example: "hirebridge@example.com",
};
pub const NOTIFY_SMTP: SmtpKey = SmtpKey {
    name: "notify.smtp",
};
pub const NOTIFY_SMTP_USER: LineKey = LineKey {
    name: "notify.smtp_user",
    example: "hirebridge@example.com",
};
/// Any http(s) URL: a Slack, Mattermost or Teams incoming webhook, or a receiver of the
/// operator's. A Slack URL's path is its credential: errors never repeat it.
pub const NOTIFY_WEBHOOK_URL: EndpointUrlKey = EndpointUrlKey {
    name: "notify.webhook_url",
    whence: "the incoming webhook's URL your chat shows (or your receiver's)",
    secret: "HIREBRIDGE_NOTIFY_SECRET with webhook_format = \"json\" (the body is then signed)",
};
pub const NOTIFY_WEBHOOK_FORMAT: ChoiceKey<WebhookFormat> = ChoiceKey {
    name: "notify.webhook_format",
    default: WebhookFormat::Slack,
    choices: &[
        ("slack", WebhookFormat::Slack),
        ("json", WebhookFormat::Json),
    ],
    what: "format",
};
pub const NOTIFY_ON: KindsKey = KindsKey {
    name: "notify.on",
    default: &[
        NoticeKind::NeedsAttention,
        NoticeKind::WritesStopped,
        NoticeKind::WaitingForHrOverdue,
    ],
};
pub const NOTIFY_DIGEST_AT: TimeOfDayKey = TimeOfDayKey {
    name: "notify.digest_at",
    default: match NaiveTime::from_hms_opt(8, 0, 0) {
        Some(t) => t,
        None => panic!("08:00 is a time of day"),
    },
};

// ---- the documentation's check -------------------------------------------------------------

/// A key as the annotated `config.toml` documents it: under its section, with its default.
pub trait Documented: Sync {
    /// `section.key`.
    fn name(&self) -> &'static str;
    /// Whether `written`, a value as the file shows it, is this key's default (always true
    /// for a key without one: it only has to be documented).
    fn shows_default(&self, written: &toml::Value) -> bool;
}

/// Whether the written value reads as `default`.
fn reads_as<W, V: PartialEq>(
    written: Option<W>,
    read: impl FnOnce(W) -> Result<V, ConfigError>,
    default: V,
) -> bool {
    written.is_some_and(|w| read(w).is_ok_and(|v| v == default))
}

/// `impl Documented` for a descriptor with a `name`: by what `$written` must be, or (`reads`)
/// by reading the written value, taken `$as` a TOML type, into the key's default.
macro_rules! documented {
    ($ty:ty, reads $as:ident) => {
        documented!($ty, |k, w| reads_as(
            w.$as(),
            |v| k.read(Some(v)),
            k.default
        ));
    };
    ($ty:ty, |$key:ident, $written:ident| $shows:expr) => {
        impl Documented for $ty {
            fn name(&self) -> &'static str {
                self.name
            }
            fn shows_default(&self, $written: &toml::Value) -> bool {
                let $key = self;
                $shows
            }
        }
    };
}

documented!(DurationKey, reads as_str);
documented!(RateKey, reads as_str);
documented!(CountKey<u32>, reads as_integer);
documented!(CountKey<usize>, reads as_integer);
documented!(ChoiceKey<CvFolder>, reads as_str);
documented!(ChoiceKey<OnFormerEmployee>, reads as_str);
documented!(ChoiceKey<OnChange>, reads as_str);
documented!(ChoiceKey<HireFlow>, reads as_str);
documented!(ChoiceKey<WebhookFormat>, reads as_str);
documented!(TimeOfDayKey, reads as_str);
// An example that reads: one address, or (`email_to`) a list of them.
documented!(AddressKey, |k, w| match w {
    toml::Value::String(t) => k.parse(t).is_ok(),
    toml::Value::Array(items) =>
        !items.is_empty()
            && items
                .iter()
                .all(|i| i.as_str().is_some_and(|t| k.parse(t).is_ok())),
    _ => false,
});
documented!(LineKey, |k, w| w
    .as_str()
    .is_some_and(|t| k.parse(t).is_ok()));
documented!(SmtpKey, |k, w| w
    .as_str()
    .is_some_and(|t| k.parse(t).is_ok()));
documented!(KindsKey, |k, w| {
    let words: Option<Vec<String>> = w.as_array().map(|items| {
        items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect()
    });
    words.is_some_and(|words| k.read(Some(&words)).ok() == k.read(None).ok())
});
// No default: documented with an example that reads.
documented!(EndpointUrlKey, |k, w| w
    .as_str()
    .is_some_and(|t| k.read(Some(t)).is_ok()));
documented!(OptionalDurationKey, |k, w| w
    .as_str()
    .is_some_and(|t| k.read(Some(t)).is_ok()));
documented!(TextKey, |k, w| w.as_str() == Some(k.default));
documented!(FlagKey, |k, w| w.as_bool() == Some(k.default));
// A key the file must give (no default) only has to be documented with a good example.
documented!(UrlKey, |k, w| match k.default {
    Some(default) => reads_as(w.as_str(), |t| k.parse(t).map(Some), k.parse(default).ok()),
    None => w.as_str().is_some_and(|t| k.parse(t).is_ok()),
});

/// Every descriptor above, for the check against the annotated `config.toml`.
pub const ALL: &[&dyn Documented] = &[
    &PINPOINT_BASE_URL,
    &PINPOINT_RATE_LIMIT,
    &PAGE_SIZE,
    &HIBOB_BASE_URL,
    &HIBOB_RATE_LIMIT,
    &DOCUMENTS_RATE_LIMIT,
    &START_DATE_OFFSET,
    &CV_FOLDER,
    &ON_FORMER_EMPLOYEE,
    &READ_LAG,
    &SEARCH_BATCH_SIZE,
    &HIRE_FLOW,
    &HIRE_API_URL,
    &HR_REMINDER_AFTER,
    &EVERY,
    &FULL_EVERY,
    &CONNECT_TIMEOUT,
    &REQUEST_TIMEOUT,
    &READ_RETRIES,
    &MAX_RATE_LIMIT_WAIT,
    &CONCURRENCY,
    &RETRY_INITIAL,
    &RETRY_MAX,
    &ON_CHANGE,
    &ALLOW_PAST_START_DATE,
    &HIBOB_EMPLOYEE_URL,
    &ALLOW_UNSIGNED,
    &HEADER_TIMEOUT,
    &BODY_TIMEOUT,
    &IDLE_TIMEOUT,
    &MAX_CONNECTIONS,
    &PLUGIN_NAME,
    &RETAIN_PERSONAL_DATA,
    &BACKUP_KEEP,
    &NOTIFY_EMAIL_TO,
    &NOTIFY_EMAIL_FROM,
    &NOTIFY_SMTP,
    &NOTIFY_SMTP_USER,
    &NOTIFY_WEBHOOK_URL,
    &NOTIFY_WEBHOOK_FORMAT,
    &NOTIFY_ON,
    &NOTIFY_DIGEST_AT,
];

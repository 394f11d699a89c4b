//! One typed configuration: defaults → TOML file → `JIESU_*` environment → command-line flags,
//! validated at start-up with messages that name the key.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded database, backups and uploads live.
    pub data_dir: PathBuf,
    /// `host:port` to listen on.
    pub listen: String,
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/jiesu.db`.
    pub database_url: String,
    /// Tenant used when a login names none.
    pub default_tenant: String,
    /// Session lifetime in hours.
    pub session_hours: u32,
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub cookie_secure: bool,
    /// Database connections (readers on SQLite, all on PostgreSQL).
    pub max_connections: u32,
    /// Working periods of a working day, `HH:MM-HH:MM`.
    pub working_hours: Vec<String>,
    /// A holiday table in the shipped JSON format, replacing the built-in one.
    pub holidays_file: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: String,
    /// Largest request body accepted, in KiB.
    pub body_limit_kib: usize,
    /// Time-limit rules a new tenant starts with: `ordos` or `jinchang`.
    pub time_rules_preset: String,
    /// How often the scheduler looks for due reminders and overdue marks, in milliseconds;
    /// 0 turns it off on this node.
    pub scheduler_interval_ms: u64,
    /// Largest file that may be attached to an order, in MiB.
    pub attachment_limit_mib: usize,
    /// How long a webhook receiver may take to answer, in milliseconds.
    pub webhook_timeout_ms: u64,
    /// Webhook deliveries in flight at once.
    pub webhook_concurrency: usize,
    /// Attempts before a delivery is given up (dead, retryable by an admin).
    pub webhook_max_attempts: u32,
    /// The first retry's delay in milliseconds; each further one doubles it (at most an hour).
    pub webhook_retry_base_ms: u64,
    /// 漏话回拨: callback attempts that do not reach the caller before the item is closed as
    /// unreachable.
    pub missed_call_max_attempts: u32,
    /// The service level's threshold: calls answered within this many seconds.
    pub telephony_service_level_s: u32,
    /// The bearer token Prometheus sends to scrape `/metrics`; empty turns `/metrics` off.
    pub metrics_token: String,
    /// On SIGTERM, how long the node keeps serving while `/api/health/ready` answers 503, so
    /// that the load balancer stops sending before in-flight requests are finished, in ms.
    pub shutdown_grace_ms: u64,
    /// Failed logins of one name within `login_lock_minutes` that lock it.
    pub login_max_failures: u32,
    /// How long a name stays locked after too many failed logins, in minutes (also the
    /// window the failures are counted in).
    pub login_lock_minutes: u32,
    /// Failed logins from one client address within `login_lock_minutes` (any names) after
    /// which that address may not try again until the oldest falls out of the window: stops
    /// password spraying, which never locks a single name. Counted per node.
    pub login_ip_max_failures: u32,
    /// The key file citizens' phone and ID numbers are sealed with (created with one key on
    /// first start); default `<data_dir>/keys/pii.json`. Every node of one database needs
    /// the same file; keep it out of the data directory to keep backups free of it.
    pub pii_key_file: Option<PathBuf>,
    /// Addresses of reverse proxies or load balancers in front of the nodes: for requests
    /// from them the client is the last address in `X-Forwarded-For` that is not one of
    /// them. Empty: the peer address is the client, the header is ignored.
    pub trusted_proxies: Vec<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("default_tenant", &self.default_tenant)
            .field(
                "metrics_token",
                &(!self.metrics_token.is_empty()).then_some("***"),
            )
            .finish_non_exhaustive()
    }
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            listen: "127.0.0.1:8080".into(),
            database_url: String::new(),
            default_tenant: "demo".into(),
            session_hours: 12,
            cookie_secure: false,
            max_connections: 4,
            working_hours: vec!["08:30-12:00".into(), "14:00-17:30".into()],
            holidays_file: None,
            log_format: "text".into(),
            body_limit_kib: 256,
            time_rules_preset: "ordos".into(),
            scheduler_interval_ms: 2000,
            attachment_limit_mib: 10,
            webhook_timeout_ms: 5000,
            webhook_concurrency: 32,
            webhook_max_attempts: 12,
            webhook_retry_base_ms: 1000,
            missed_call_max_attempts: 3,
            telephony_service_level_s: 20,
            metrics_token: String::new(),
            shutdown_grace_ms: 0,
            login_max_failures: 5,
            login_lock_minutes: 15,
            login_ip_max_failures: 30,
            trusted_proxies: Vec::new(),
            pii_key_file: None,
        }
    }
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    /// Where the personal-data key file is.
    pub fn pii_key_path(&self) -> PathBuf {
        self.pii_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys").join("pii.json"))
    }

    /// `trusted_proxies` as addresses (checked by `validate`).
    pub fn trusted_proxy_addrs(&self) -> Vec<std::net::IpAddr> {
        self.trusted_proxies
            .iter()
            .filter_map(|a| a.trim().parse().ok())
            .collect()
    }

    /// Every key, for the environment provider (other `JIESU_*` variables are not config).
    const KEYS: [&'static str; 27] = [
        "data_dir",
        "listen",
        "database_url",
        "default_tenant",
        "session_hours",
        "cookie_secure",
        "max_connections",
        "working_hours",
        "holidays_file",
        "log_format",
        "body_limit_kib",
        "time_rules_preset",
        "scheduler_interval_ms",
        "attachment_limit_mib",
        "webhook_timeout_ms",
        "webhook_concurrency",
        "webhook_max_attempts",
        "webhook_retry_base_ms",
        "missed_call_max_attempts",
        "telephony_service_level_s",
        "metrics_token",
        "shutdown_grace_ms",
        "login_max_failures",
        "login_lock_minutes",
        "login_ip_max_failures",
        "trusted_proxies",
        "pii_key_file",
    ];

    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError::Load(format!(
                    "file {} does not exist",
                    f.display()
                )));
            }
            fig = fig.merge(Toml::file(f));
        }
        fig = fig
            .merge(Env::prefixed("JIESU_").only(&Self::KEYS))
            .merge(Serialized::defaults(overrides));
        let cfg: Config = fig
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if self.session_hours == 0 || self.session_hours > 24 * 30 {
            return Err(ConfigError::Invalid {
                key: "session_hours",
                message: "must be between 1 and 720".into(),
            });
        }
        if self.max_connections == 0 || self.max_connections > 512 {
            return Err(ConfigError::Invalid {
                key: "max_connections",
                message: "must be between 1 and 512".into(),
            });
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid {
                key: "log_format",
                message: format!("“{}” is neither text nor json", self.log_format),
            });
        }
        if jiesu_core::deadline::TimeRules::preset(&self.time_rules_preset).is_none() {
            return Err(ConfigError::Invalid {
                key: "time_rules_preset",
                message: format!("“{}” is neither ordos nor jinchang", self.time_rules_preset),
            });
        }
        if !(1..=100).contains(&self.attachment_limit_mib) {
            return Err(ConfigError::Invalid {
                key: "attachment_limit_mib",
                message: "must be between 1 and 100".into(),
            });
        }
        for (key, ok, message) in [
            (
                "webhook_timeout_ms",
                (100..=120_000).contains(&self.webhook_timeout_ms),
                "must be between 100 and 120000",
            ),
            (
                "webhook_concurrency",
                (1..=1024).contains(&self.webhook_concurrency),
                "must be between 1 and 1024",
            ),
            (
                "webhook_max_attempts",
                (1..=100).contains(&self.webhook_max_attempts),
                "must be between 1 and 100",
            ),
            (
                "webhook_retry_base_ms",
                (10..=3_600_000).contains(&self.webhook_retry_base_ms),
                "must be between 10 and 3600000",
            ),
            (
                "missed_call_max_attempts",
                (1..=20).contains(&self.missed_call_max_attempts),
                "must be between 1 and 20",
            ),
            (
                "telephony_service_level_s",
                (1..=600).contains(&self.telephony_service_level_s),
                "must be between 1 and 600",
            ),
            (
                "login_max_failures",
                (1..=100).contains(&self.login_max_failures),
                "must be between 1 and 100",
            ),
            (
                "login_lock_minutes",
                (1..=1440).contains(&self.login_lock_minutes),
                "must be between 1 and 1440",
            ),
            (
                "login_ip_max_failures",
                (1..=100_000).contains(&self.login_ip_max_failures),
                "must be between 1 and 100000",
            ),
            (
                "trusted_proxies",
                self.trusted_proxies
                    .iter()
                    .all(|a| a.trim().parse::<std::net::IpAddr>().is_ok()),
                "must be IP addresses, e.g. [\"10.0.0.2\"]",
            ),
            (
                "shutdown_grace_ms",
                self.shutdown_grace_ms <= 300_000,
                "must be at most 300000",
            ),
            (
                "metrics_token",
                self.metrics_token.is_empty() || self.metrics_token.chars().count() >= 16,
                "must be empty (no /metrics) or at least 16 characters",
            ),
        ] {
            if !ok {
                return Err(ConfigError::Invalid {
                    key,
                    message: message.into(),
                });
            }
        }
        if self.body_limit_kib < 16 {
            return Err(ConfigError::Invalid {
                key: "body_limit_kib",
                message: "must be at least 16".into(),
            });
        }
        let url = self.database_url();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return Err(ConfigError::Invalid {
                key: "database_url",
                message: "must start with sqlite:// or postgres://".into(),
            });
        }
        jiesu_core::calendar::WorkingHours::parse(&self.working_hours).map_err(|e| {
            ConfigError::Invalid {
                key: "working_hours",
                message: e.to_string(),
            }
        })?;
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| ConfigError::Invalid {
            key: "listen",
            message: format!("“{}” is not an address like 127.0.0.1:8080", self.listen),
        })
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("jiesu.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_value_names_its_key() {
        let o = Overrides {
            listen: Some("not-an-address".into()),
            ..Overrides::default()
        };
        let e = Config::load(None, &o).unwrap_err().to_string();
        assert!(e.contains("`listen`"), "{e}");
    }

    #[test]
    fn the_database_defaults_to_a_file_in_the_data_dir() {
        let o = Overrides {
            data_dir: Some("/tmp/x".into()),
            ..Overrides::default()
        };
        let c = Config::load(None, &o).unwrap();
        assert_eq!(c.database_url(), "sqlite:///tmp/x/jiesu.db?mode=rwc");
    }

    #[test]
    fn passwords_in_database_urls_are_not_printed() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://***@h/db");
    }
}

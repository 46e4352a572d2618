//! `gateway.toml`: the service's configuration, checked completely at start.
//!
//! Paths are relative to the directory of the configuration file. Unknown
//! keys are errors; [`Config::load`] reports every problem at once.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the gateway's own files are and how it behaves.
    #[serde(default)]
    pub gateway: GatewaySection,
    /// The gateway's signing key.
    pub signing: SigningSection,
    /// The trust store of authority certificates.
    pub trust: TrustSection,
    /// RabbitMQ; without it the service cannot run (the demo uses the
    /// in-process transport instead).
    pub amqp: Option<AmqpSection>,
    /// Consents, access log and case store.
    #[serde(default)]
    pub audit: AuditSection,
    /// The HTTP API; without it no HTTP listener is started.
    pub http: Option<HttpSection>,
    #[serde(skip)]
    base: PathBuf,
}

/// `[gateway]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySection {
    /// The schema catalogue directory.
    pub schemas: PathBuf,
    /// The routing directory (authorities, rules, access).
    pub routing: PathBuf,
    /// The directory holding `adapters/` and `config/` (minimisation, fee tables).
    pub adapters_root: PathBuf,
    /// Largest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Messages processed at the same time: the number of pipeline threads.
    pub workers: usize,
}

impl Default for GatewaySection {
    fn default() -> Self {
        Self {
            schemas: "schemas".into(),
            routing: "routing".into(),
            adapters_root: ".".into(),
            max_message_bytes: xoev_core::Limits::default().max_bytes,
            workers: 4,
        }
    }
}

/// `[signing]`: PEM key and certificate, or PKCS#12 with a password from
/// the environment or a file (never from the configuration itself).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningSection {
    /// PEM private key.
    pub key: Option<PathBuf>,
    /// PEM certificate.
    pub cert: Option<PathBuf>,
    /// PKCS#12 bundle (instead of key + cert).
    pub pkcs12: Option<PathBuf>,
    /// Environment variable holding the PKCS#12 password.
    pub password_env: Option<String>,
    /// File holding the PKCS#12 password.
    pub password_file: Option<PathBuf>,
    /// Signature algorithm: `rsa-pss-sha256` or `rsa-sha256` for an RSA
    /// key, `ecdsa-sha256` for an EC key (default: the key's, PKCS#1 v1.5
    /// for RSA).
    pub algorithm: Option<String>,
}

/// `[trust]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSection {
    /// Directory of PEM CA/authority certificates and their CRLs.
    pub dir: PathBuf,
    /// How certificate revocation is checked: `if-published` (default: a
    /// CA with a CRL in `dir` is checked against it) or `required` (every
    /// CA needs one).
    #[serde(default)]
    pub revocation: xoev_dsig::Revocation,
    /// Seconds between looks at `dir` for changed certificates or CRLs,
    /// which then replace the trust store without a restart (also on
    /// SIGHUP); 0 = only at start and on SIGHUP.
    #[serde(default = "default_reload_secs")]
    pub reload_secs: u64,
}

fn default_reload_secs() -> u64 {
    60
}

/// `[amqp]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmqpSection {
    /// Broker URL.
    pub url: String,
    /// Prefix of every exchange and queue the gateway declares.
    pub prefix: String,
    /// `classic` (durable) or `quorum` queues.
    pub queue_kind: String,
    /// Unacknowledged deliveries per consumer (default 32: up to this many
    /// messages of up to `max_message_bytes` are held at once; 256 carried
    /// ≈ 44 % more messages per second on the 2-core bench machine, see
    /// docs/configuration.md).
    pub prefetch: u16,
    /// Processing attempts of a transiently failing message before it is dead-lettered.
    pub max_attempts: u32,
    /// Delay before a transiently failed message is tried again.
    pub retry_delay_ms: u64,
    /// RabbitMQ management API, for `queues`, `dlq` and the ops endpoints
    /// (default `http://127.0.0.1:15672`).
    pub management_url: Option<String>,
}

impl Default for AmqpSection {
    fn default() -> Self {
        Self {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            prefix: "xoev".into(),
            queue_kind: "classic".into(),
            prefetch: 32,
            max_attempts: 5,
            retry_delay_ms: 5000,
            management_url: None,
        }
    }
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSection {
    /// A directory (embedded store) or a `postgres://` URL (shared by instances).
    pub store: String,
    /// PostgreSQL schema of the audit and case tables.
    pub pg_schema: Option<String>,
    /// Environment variable holding the secret of citizen references.
    pub citizen_secret_env: Option<String>,
    /// File holding the secret of citizen references.
    pub citizen_secret_file: Option<PathBuf>,
}

impl Default for AuditSection {
    fn default() -> Self {
        Self {
            store: "var/audit".into(),
            pg_schema: None,
            citizen_secret_env: Some("XOEV_CITIZEN_SECRET".into()),
            citizen_secret_file: None,
        }
    }
}

impl AuditSection {
    /// Whether the store is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.store.starts_with("postgres://") || self.store.starts_with("postgresql://")
    }

    /// The store location: a URL as given, a directory resolved against the
    /// configuration file.
    pub fn store_path(&self, config: &Config) -> String {
        if self.is_postgres() {
            self.store.clone()
        } else {
            config
                .path(Path::new(&self.store))
                .to_string_lossy()
                .into_owned()
        }
    }
}

/// `[http]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: String,
    /// How long a pulled inbox message stays leased before it is handed out again.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
    /// How long a client may take to send a request's line and headers
    /// (also how long an idle connection stays open); over it the
    /// connection is closed.
    #[serde(default = "default_header_timeout_seconds")]
    pub header_timeout_seconds: u64,
    /// How long a client may take to send a request's body; over it the
    /// answer is 408 `body-timeout`.
    #[serde(default = "default_body_timeout_seconds")]
    pub body_timeout_seconds: u64,
    /// SHA-256 (hex) of the operations staff's token for `/ops` (the token
    /// itself may instead come from `XOEV_OPS_TOKEN`); neither: `/ops` is off.
    #[serde(default)]
    pub ops_token_sha256: Option<String>,
}

fn default_lease_seconds() -> u64 {
    60
}

fn default_header_timeout_seconds() -> u64 {
    30
}

fn default_body_timeout_seconds() -> u64 {
    60
}

/// Every problem found in a configuration.
#[derive(Debug, thiserror::Error)]
#[error("configuration {path}:\n  {}", .problems.join("\n  "))]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// The problems, one per line.
    pub problems: Vec<String>,
}

impl Config {
    /// Reads and checks `path`; every problem is reported at once.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let fail = |problems: Vec<String>| ConfigError {
            path: path.to_path_buf(),
            problems,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(vec![e.to_string()]))?;
        let mut config: Config = toml::from_str(&text).map_err(|e| fail(vec![e.to_string()]))?;
        config.base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(fail(problems))
        }
    }

    /// A path from the configuration, resolved against its directory.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut must_exist = |what: &str, p: &Path, dir: bool| {
            let full = self.path(p);
            let ok = if dir { full.is_dir() } else { full.is_file() };
            if !ok {
                out.push(format!("{what}: {} does not exist", full.display()));
            }
        };
        must_exist("gateway.schemas", &self.gateway.schemas, true);
        must_exist("gateway.routing", &self.gateway.routing, true);
        must_exist("gateway.adapters_root", &self.gateway.adapters_root, true);
        must_exist("trust.dir", &self.trust.dir, true);
        let s = &self.signing;
        match (&s.key, &s.cert, &s.pkcs12) {
            (Some(k), Some(c), None) => {
                must_exist("signing.key", k, false);
                must_exist("signing.cert", c, false);
            }
            (None, None, Some(p)) => {
                must_exist("signing.pkcs12", p, false);
                if s.password_env.is_none() && s.password_file.is_none() {
                    out.push("signing: pkcs12 needs password_env or password_file".into());
                }
            }
            _ => out.push("signing: give key and cert, or pkcs12 (not both)".into()),
        }
        if let Some(Err(e)) = s
            .algorithm
            .as_deref()
            .map(str::parse::<xoev_dsig::SignatureAlgorithm>)
        {
            out.push(format!("signing.algorithm: {e}"));
        }
        if self.gateway.workers == 0 || self.gateway.workers > 256 {
            out.push("gateway.workers must be between 1 and 256".into());
        }
        if self.gateway.max_message_bytes < 1024 {
            out.push("gateway.max_message_bytes must be at least 1024".into());
        }
        if let Some(a) = &self.amqp {
            if !matches!(a.queue_kind.as_str(), "classic" | "quorum") {
                out.push(format!(
                    "amqp.queue_kind {:?}: classic or quorum",
                    a.queue_kind
                ));
            }
            if a.prefetch == 0 {
                out.push("amqp.prefetch must be at least 1".into());
            }
            if a.max_attempts == 0 {
                out.push("amqp.max_attempts must be at least 1".into());
            }
        }
        if self.audit.citizen_secret_env.is_none() && self.audit.citizen_secret_file.is_none() {
            out.push("audit: citizen_secret_env or citizen_secret_file is required".into());
        }
        if let Some(h) = &self.http {
            if h.listen.parse::<std::net::SocketAddr>().is_err() {
                out.push(format!("http.listen {:?} is not an address:port", h.listen));
            }
            for (name, value) in [
                ("header_timeout_seconds", h.header_timeout_seconds),
                ("body_timeout_seconds", h.body_timeout_seconds),
            ] {
                if !(1..=3600).contains(&value) {
                    out.push(format!("http.{name} must be between 1 and 3600"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("gateway.toml");
        std::fs::write(
            &path,
            r#"
[gateway]
schemas = "nope"
workers = 0
[signing]
key = "k.pem"
algorithm = "rsa-pkcs1"
[trust]
dir = "trust"
[amqp]
queue_kind = "fancy"
[http]
listen = "localhost"
body_timeout_seconds = 0
"#,
        )
        .expect("write");
        let e = Config::load(&path).expect_err("invalid");
        let text = e.to_string();
        for needle in [
            "gateway.schemas",
            "workers",
            "signing:",
            "signing.algorithm: unknown signature algorithm \"rsa-pkcs1\": rsa-sha256, rsa-pss-sha256 or ecdsa-sha256",
            "trust.dir",
            "queue_kind",
            "http.listen",
            "http.body_timeout_seconds must be between 1 and 3600",
        ] {
            assert!(text.contains(needle), "{needle} missing in {text}");
        }
    }

    #[test]
    fn the_docker_example_parses_and_trust_defaults_hold() {
        let example: Config = toml::from_str(include_str!("../../../docker/gateway.toml"))
            .expect("docker/gateway.toml");
        assert_eq!(example.trust.revocation, xoev_dsig::Revocation::IfPublished);
        assert_eq!(example.trust.reload_secs, 60);
        let minimal: Config = toml::from_str(
            "[signing]\nkey = \"k\"\ncert = \"c\"\n[trust]\ndir = \"t\"\nrevocation = \"required\"\n",
        )
        .expect("minimal");
        assert_eq!(minimal.trust.revocation, xoev_dsig::Revocation::Required);
        assert_eq!(minimal.trust.reload_secs, 60, "the default");
        let wrong = toml::from_str::<Config>(
            "[signing]\nkey = \"k\"\ncert = \"c\"\n[trust]\ndir = \"t\"\nrevocation = \"sometimes\"\n",
        );
        assert!(wrong.is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, "[gateway]\nschemaz = \"x\"\n").expect("write");
        assert!(
            Config::load(&path)
                .expect_err("unknown")
                .to_string()
                .contains("schemaz")
        );
    }
}

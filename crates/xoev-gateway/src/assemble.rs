//! Builds the pipeline and the transport from a [`Config`]: every file is
//! read and every schema compiled here, at start, so that a broken
//! installation fails before the first message.

use crate::cases::{CaseStore, FileCases, MemoryCases, PgCases};
use crate::config::Config;
use crate::pipeline::{Parts, Pipeline};
use anyhow::Context as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use xoev_audit::CitizenSecret;
use xoev_core::Limits;
use xoev_dsig::{CertMatcher, Signer, TrustStore, Verifier};
use xoev_routing::Router;
use xoev_schema::{Catalogue, Validator};
use xoev_transport::{AmqpTransport, QueueKind, TopologyConfig};

/// Reads the citizen-reference secret from the configured variable or file.
pub fn citizen_secret(config: &Config) -> anyhow::Result<CitizenSecret> {
    let a = &config.audit;
    let bytes = if let Some(file) = &a.citizen_secret_file {
        std::fs::read(config.path(file))
            .with_context(|| format!("audit.citizen_secret_file {}", file.display()))?
    } else if let Some(var) = &a.citizen_secret_env {
        std::env::var(var)
            .with_context(|| {
                format!("the environment variable {var} (audit.citizen_secret_env) is not set")
            })?
            .into_bytes()
    } else {
        anyhow::bail!("no citizen secret configured");
    };
    Ok(CitizenSecret::new(bytes)?)
}

/// The gateway's signer from `[signing]`, signing with its `algorithm`.
pub fn signer(config: &Config) -> anyhow::Result<Signer> {
    let signer = signing_key(config)?;
    match config.signing.algorithm.as_deref() {
        None => Ok(signer),
        Some(name) => {
            let algorithm: xoev_dsig::SignatureAlgorithm = name
                .parse()
                .map_err(|e| anyhow::anyhow!("signing.algorithm: {e}"))?;
            signer
                .with_algorithm(algorithm)
                .with_context(|| format!("signing.algorithm {name:?}"))
        }
    }
}

fn signing_key(config: &Config) -> anyhow::Result<Signer> {
    let s = &config.signing;
    if let (Some(key), Some(cert)) = (&s.key, &s.cert) {
        return Ok(Signer::from_files(&config.path(key), &config.path(cert))?);
    }
    let Some(p12) = &s.pkcs12 else {
        anyhow::bail!("signing: no key configured");
    };
    let password = match (&s.password_env, &s.password_file) {
        (Some(var), _) => std::env::var(var).with_context(|| format!("{var} is not set"))?,
        (None, Some(file)) => std::fs::read_to_string(config.path(file))?
            .trim_end()
            .to_owned(),
        (None, None) => anyhow::bail!("signing: pkcs12 needs password_env or password_file"),
    };
    Ok(Signer::from_pkcs12(
        &std::fs::read(config.path(p12))?,
        &password,
    )?)
}

/// For each authority of the directory, how to recognise its signature:
/// its certificate file if present, else its certificate subject.
pub fn matchers_from_directory(router: &Router) -> anyhow::Result<HashMap<String, CertMatcher>> {
    let mut out = HashMap::new();
    for a in router.directory().authorities() {
        // A certificate file wins; a subject alone is the fallback (the
        // sample directory names certificate files that a site provides).
        let cert = a
            .certificate
            .as_ref()
            .filter(|p| p.is_file() || a.subject.is_none());
        let matcher = match (cert, &a.subject) {
            (Some(path), _) => {
                let pem = std::fs::read(path)
                    .with_context(|| format!("certificate of {}: {}", a.id, path.display()))?;
                Some(CertMatcher::from_pem(&pem)?)
            }
            (None, Some(s)) => Some(CertMatcher::Subject(s.clone())),
            (None, None) => None,
        };
        if let Some(m) = matcher {
            out.insert(a.id.clone(), m);
        }
    }
    Ok(out)
}

/// What the pipeline is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The service: stores opened for writing.
    Run,
    /// `run --check`: everything loaded and checked; an embedded case
    /// store is read, not opened (a live instance may hold it).
    Check,
}

/// Builds the pipeline from the configuration.
pub async fn pipeline(config: &Config, purpose: Purpose) -> anyhow::Result<Pipeline> {
    xoev_dsig::init()?;
    let limits = Limits {
        max_bytes: config.gateway.max_message_bytes,
        ..Limits::default()
    };
    let catalogue = Arc::new(Catalogue::load(config.path(&config.gateway.schemas))?);
    if let Err(errors) = catalogue.compile_all() {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::bail!("schemas do not compile:\n  {}", list.join("\n  "));
    }
    let validator = Validator::new(catalogue, limits);
    let registry = xoev_adapters::Registry::load(&xoev_adapters::Config::from_root(
        &config.path(&config.gateway.adapters_root),
    )?)?;
    let known = |name: &str| registry.get(name).is_ok();
    let router = Router::load(&config.path(&config.gateway.routing), &known)
        .map_err(|e| anyhow::anyhow!("routing: {e}"))?;
    let errors = crate::routing_check::check_rules(&router, validator.catalogue(), &registry);
    if !errors.is_empty() {
        anyhow::bail!("routing: {}", xoev_routing::ConfigErrors(errors));
    }
    let matchers = matchers_from_directory(&router)?;
    let verifier = Verifier::new(
        TrustStore::from_dir(&config.path(&config.trust.dir))?
            .with_revocation(config.trust.revocation),
    );
    let audit = xoev_audit::open(
        &config.audit.store_path(config),
        config.audit.pg_schema.as_deref(),
    )
    .await?;
    let cases: Arc<dyn CaseStore> = if config.audit.is_postgres() {
        let schema = config.audit.pg_schema.as_deref().unwrap_or("xoev_audit");
        Arc::new(PgCases::connect(&config.audit.store, &format!("{schema}_cases")).await?)
    } else {
        // the embedded store's directory: the journal survives restarts
        let dir = std::path::PathBuf::from(config.audit.store_path(config));
        match purpose {
            Purpose::Run => {
                Arc::new(tokio::task::spawn_blocking(move || FileCases::open(&dir)).await??)
            }
            Purpose::Check => {
                tokio::task::spawn_blocking(move || FileCases::check(&dir)).await??;
                Arc::new(MemoryCases::default())
            }
        }
    };
    Pipeline::new(Parts {
        limits,
        validator,
        verifier,
        signer: signer(config)?,
        router,
        registry,
        secret: citizen_secret(config)?,
        audit,
        cases,
        matchers,
    })
}

/// Connects to RabbitMQ from `[amqp]` and declares the topology, with one
/// inbox per authority of the directory.
pub async fn transport(config: &Config, pipeline: &Pipeline) -> anyhow::Result<AmqpTransport> {
    let a = config
        .amqp
        .as_ref()
        .context("no [amqp] section: the service needs RabbitMQ (the demo runs without)")?;
    let mut topology = TopologyConfig::with_prefix(&a.prefix)
        .with_inboxes(pipeline.router.directory().inboxes().map(str::to_owned));
    topology.queue_kind = if a.queue_kind == "quorum" {
        QueueKind::Quorum
    } else {
        QueueKind::Classic
    };
    topology.max_attempts = a.max_attempts;
    topology.retry_delay = Duration::from_millis(a.retry_delay_ms);
    Ok(AmqpTransport::connect(&a.url, topology).await?)
}

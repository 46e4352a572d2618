//! The whole once-only case on one machine: a test PKI for every authority
//! of the directory, the citizen's consent, the gateway pipeline, a Kita fee
//! office and a tax office — over the in-process transport by default, or
//! over RabbitMQ.
//!
//! [`setup`] is also what the integration tests and benchmarks build on.

use crate::cases::{CaseStore, MemoryCases};
use crate::peers::{FeeOffice, TaxOffice};
use crate::pipeline::{Parts, Pipeline};
use anyhow::Context as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use xoev_audit::{AuditStore, CitizenRef, CitizenSecret, NewConsent};
use xoev_core::Limits;
use xoev_dsig::pki::{KeyKind, TestCa};
use xoev_dsig::{CertMatcher, Signer, TrustStore, Verifier};
use xoev_routing::Router;
use xoev_schema::{Catalogue, Validator};

/// The demo's evidence request (Kita fee office Kassel → tax office Kassel).
pub const REQUEST: &str =
    "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml";
/// The tax office's sample answers.
pub const ANSWERS: &str = "tests/samples/xestb";
/// The requesting fee office.
pub const FEE_OFFICE: &str = "ags:06611000";
/// The answering tax office.
pub const TAX_OFFICE: &str = "fa:2613";
/// The citizen's tax id in the demo request (synthetic).
pub const TAX_ID: &str = "12345678901";
/// The secret of citizen references in the demo (never use it in production).
pub const DEMO_SECRET: &[u8] = b"xoev-gateway demo secret - not for production use";

/// Where the demo's files are and what it shares.
pub struct DemoOptions {
    /// The repository root: `schemas/`, `routing/`, `adapters/`, `config/`, `tests/samples/`.
    pub root: PathBuf,
    /// A working directory for the demo CA's certificate and the embedded
    /// audit store (the keys stay in memory).
    pub work: PathBuf,
    /// Audit store location (default: `<work>/audit`).
    pub audit_store: Option<String>,
    /// PostgreSQL schema of the audit store.
    pub pg_schema: Option<String>,
    /// Case store (default: in memory).
    pub cases: Option<Arc<dyn CaseStore>>,
    /// Replace the inbox queue prefix `xoev.inbox.` (tests sharing a broker).
    pub inbox_prefix: Option<String>,
    /// Register the citizen's consent.
    pub consent: bool,
    /// Text appended to files of the routing copy, e.g. `("access.toml", "[[allow]] …")`.
    pub routing_append: Vec<(String, String)>,
    /// Authorities given an RSA-2048 key instead of ECDSA P-256 (tests of
    /// RSA signatures through the pipeline).
    pub rsa_authorities: Vec<String>,
}

impl DemoOptions {
    /// Defaults for `root` and `work`.
    pub fn new(root: impl Into<PathBuf>, work: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            work: work.into(),
            audit_store: None,
            pg_schema: None,
            cases: None,
            inbox_prefix: None,
            consent: true,
            routing_append: Vec::new(),
            rsa_authorities: Vec::new(),
        }
    }
}

/// A ready demo installation.
pub struct Demo {
    /// The gateway pipeline.
    pub pipeline: Arc<Pipeline>,
    /// Every authority's signer, by authority id.
    pub signers: HashMap<String, Arc<Signer>>,
    /// Verifies signatures chained to the demo CA.
    pub verifier: Verifier,
    /// Matches the gateway's signature.
    pub gateway: CertMatcher,
    /// The demo CA (PEM), e.g. for `xmlsec1 --trusted-pem`.
    pub ca_pem: Vec<u8>,
    /// The demo CA itself (its key signs CRLs in tests).
    pub ca: Arc<TestCa>,
    /// The citizen of the demo case.
    pub citizen: CitizenRef,
    /// Consents and access log.
    pub audit: Arc<dyn AuditStore>,
    /// The repository root.
    pub root: PathBuf,
    /// The routing directory in use.
    pub routing: PathBuf,
    /// Every authority's key and certificate (PEM), by authority id.
    pub pems: HashMap<String, (Vec<u8>, Vec<u8>)>,
}

impl Demo {
    /// The fee office of the demo case.
    pub fn fee_office(&self) -> anyhow::Result<FeeOffice> {
        Ok(FeeOffice {
            signer: self.signer(FEE_OFFICE)?,
            verifier: self.verifier.clone(),
            gateway: self.gateway.clone(),
            template: std::fs::read(self.root.join(REQUEST))?,
        })
    }

    /// The tax office of the demo case.
    pub fn tax_office(&self) -> anyhow::Result<TaxOffice> {
        let (answers, not_found) = TaxOffice::load_answers(&self.root.join(ANSWERS))?;
        Ok(TaxOffice {
            id: TAX_OFFICE.into(),
            signer: self.signer(TAX_OFFICE)?,
            verifier: self.verifier.clone(),
            gateway: self.gateway.clone(),
            answers,
            not_found,
        })
    }

    /// An authority's signer.
    pub fn signer(&self, id: &str) -> anyhow::Result<Arc<Signer>> {
        self.signers
            .get(id)
            .cloned()
            .with_context(|| format!("no demo key for {id}"))
    }

    /// An authority's inbox queue.
    pub fn inbox(&self, id: &str) -> anyhow::Result<String> {
        self.pipeline
            .router
            .directory()
            .get(id)
            .and_then(|a| a.inbox.clone())
            .with_context(|| format!("{id} has no inbox"))
    }
}

/// Copies `routing/` into `work`, renaming inbox queues with `prefix`.
fn routing_copy(
    root: &Path,
    work: &Path,
    prefix: &str,
    append: &[(String, String)],
) -> anyhow::Result<PathBuf> {
    let dir = work.join("routing");
    std::fs::create_dir_all(&dir)?;
    for entry in std::fs::read_dir(root.join("routing"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let name = path.file_name().unwrap_or_default();
            let mut text = std::fs::read_to_string(&path)?
                .replace("\"xoev.inbox.", &format!("\"{prefix}.inbox."));
            for (file, extra) in append {
                if name.to_string_lossy() == file.as_str() {
                    text.push('\n');
                    text.push_str(extra);
                }
            }
            std::fs::write(dir.join(name), text)?;
        }
    }
    Ok(dir)
}

/// Builds the demo: PKI, stores, consent, pipeline.
pub async fn setup(o: DemoOptions) -> anyhow::Result<Demo> {
    xoev_dsig::init()?;
    std::fs::create_dir_all(&o.work)?;
    let limits = Limits::default();
    let catalogue = Arc::new(Catalogue::load(o.root.join("schemas"))?);
    let validator = Validator::new(catalogue, limits);
    let registry = xoev_adapters::Registry::load(&xoev_adapters::Config::from_root(&o.root)?)?;
    let routing = match (&o.inbox_prefix, o.routing_append.is_empty()) {
        (Some(p), _) => routing_copy(&o.root, &o.work, p, &o.routing_append)?,
        (None, false) => routing_copy(&o.root, &o.work, "xoev", &o.routing_append)?,
        (None, true) => o.root.join("routing"),
    };
    let known = |name: &str| registry.get(name).is_ok();
    let router = Router::load(&routing, &known).map_err(|e| anyhow::anyhow!("routing: {e}"))?;
    let errors = crate::routing_check::check_rules(&router, validator.catalogue(), &registry);
    if !errors.is_empty() {
        anyhow::bail!("routing: {}", xoev_routing::ConfigErrors(errors));
    }

    // A test PKI: one CA, one ECDSA P-256 key per authority (RSA-2048 for
    // those the options name).
    let ca = TestCa::generate("XOEV Demo CA")?;
    let ca_pem = ca.issued.cert_pem()?;
    let mut signers = HashMap::new();
    let mut matchers = HashMap::new();
    let mut pems = HashMap::new();
    for a in router.directory().authorities() {
        let kind = if o.rsa_authorities.contains(&a.id) {
            KeyKind::Rsa(2048)
        } else {
            KeyKind::EcP256
        };
        let issued = ca.issue(&a.name, kind, -1, 365)?;
        let signer = Signer::from_pem(&issued.key_pem()?, &issued.cert_pem()?)?;
        pems.insert(a.id.clone(), (issued.key_pem()?, issued.cert_pem()?));
        matchers.insert(a.id.clone(), CertMatcher::from_pem(&issued.cert_pem()?)?);
        signers.insert(a.id.clone(), Arc::new(signer));
    }
    let gateway_id = router
        .directory()
        .gateway()
        .map(|g| g.id.clone())
        .context("the directory has no gateway entry")?;
    let gateway_signer = signers.get(&gateway_id).cloned().context("gateway key")?;
    let gateway = matchers
        .get(&gateway_id)
        .cloned()
        .context("gateway certificate")?;
    let verifier = Verifier::new(TrustStore::from_pem(&ca_pem)?);
    std::fs::write(o.work.join("demo-ca.pem"), &ca_pem)?;

    let secret = CitizenSecret::new(DEMO_SECRET.to_vec())?;
    let citizen = CitizenRef::from_tax_id(TAX_ID, &secret)?;
    let store = o
        .audit_store
        .clone()
        .unwrap_or_else(|| o.work.join("audit").to_string_lossy().into_owned());
    let audit = xoev_audit::open(&store, o.pg_schema.as_deref()).await?;
    if o.consent {
        let request = std::fs::read(o.root.join(REQUEST))?;
        let facts = xoev_adapters::RequestFacts::from_xnachweis(&request)?;
        let now = OffsetDateTime::now_utc();
        let consent = NewConsent {
            id: facts.consent.clone(),
            citizen: citizen.clone(),
            requester: FEE_OFFICE.into(),
            evidence_type: facts.evidence_type,
            purpose: facts.purpose,
            valid_from: now - Duration::days(1),
            valid_until: now + Duration::days(365),
        };
        match audit.register(consent).await {
            Ok(_) => {}
            // a demo run again on the same store: the consent is there
            Err(xoev_audit::ConsentError::Duplicate { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let cases = o.cases.unwrap_or_else(|| Arc::new(MemoryCases::default()));
    let pipeline = Pipeline::new(Parts {
        limits,
        validator,
        verifier: verifier.clone(),
        signer: (*gateway_signer).clone(),
        router,
        registry,
        secret,
        audit: audit.clone(),
        cases,
        matchers,
    })?;
    Ok(Demo {
        pipeline: Arc::new(pipeline),
        signers,
        verifier,
        gateway,
        ca_pem,
        ca: Arc::new(ca),
        citizen,
        audit,
        root: o.root,
        routing,
        pems,
    })
}

/// Where `xoev-gateway run` finds a demo installation's services.
pub struct Services<'a> {
    /// RabbitMQ URL.
    pub amqp_url: &'a str,
    /// Queue prefix.
    pub prefix: &'a str,
    /// Audit store (directory or `postgres://` URL).
    pub audit_store: &'a str,
    /// PostgreSQL schema of the audit store.
    pub pg_schema: Option<&'a str>,
    /// `[amqp] retry_delay_ms` (every client of one broker must agree:
    /// RabbitMQ refuses to redeclare the retry queue with another TTL).
    pub retry_delay_ms: u64,
}

impl Demo {
    /// Writes what `xoev-gateway run` needs to serve this installation into
    /// `dir`: keys (and the demo CA's, `keys/demo-ca.{key,cert}.pem`, to
    /// revoke with), the trust store, a routing copy that names every
    /// authority's certificate file, and `gateway.toml` (returned). The
    /// citizen secret is read from `XOEV_CITIZEN_SECRET` (see [`DEMO_SECRET`]).
    pub fn write_installation(&self, dir: &Path, s: &Services<'_>) -> anyhow::Result<PathBuf> {
        let safe = |id: &str| id.replace(':', "-");
        for sub in ["keys", "certs", "trust", "routing"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        std::fs::write(dir.join("trust/ca.pem"), &self.ca_pem)?;
        // The demo CA's key, for `keys revoke` (docs/operations.md).
        self.ca.issued.write(&dir.join("keys"), "demo-ca")?;
        for (id, (key, cert)) in &self.pems {
            std::fs::write(dir.join("certs").join(format!("{}.pem", safe(id))), cert)?;
            std::fs::write(dir.join("keys").join(format!("{}.key.pem", safe(id))), key)?;
        }
        for entry in std::fs::read_dir(&self.routing)? {
            let path = entry?.path();
            let Some(name) = path.file_name() else {
                continue;
            };
            let text = std::fs::read_to_string(&path)?;
            let text = if name == "authorities.toml" {
                let mut out = String::new();
                for line in text.lines() {
                    if line.trim_start().starts_with("certificate") {
                        continue;
                    }
                    out.push_str(line);
                    out.push('\n');
                    if let Some(id) = line
                        .strip_prefix("id = \"")
                        .and_then(|r| r.strip_suffix('"'))
                    {
                        out.push_str(&format!("certificate = \"../certs/{}.pem\"\n", safe(id)));
                    }
                }
                out
            } else {
                text
            };
            std::fs::write(dir.join("routing").join(name), text)?;
        }
        let gateway = self
            .pipeline
            .router
            .directory()
            .gateway()
            .map(|g| safe(&g.id))
            .context("no gateway entry")?;
        let schema = s
            .pg_schema
            .map(|p| format!("pg_schema = \"{p}\"\n"))
            .unwrap_or_default();
        let config = format!(
            "[gateway]\nschemas = \"{root}/schemas\"\nrouting = \"routing\"\nadapters_root = \"{root}\"\nworkers = 4\n\n\
             [signing]\nkey = \"keys/{gateway}.key.pem\"\ncert = \"certs/{gateway}.pem\"\n\n\
             [trust]\ndir = \"trust\"\n\n\
             [amqp]\nurl = \"{url}\"\nprefix = \"{prefix}\"\nprefetch = 32\nmax_attempts = 10\nretry_delay_ms = {retry}\n\n\
             [audit]\nstore = \"{store}\"\n{schema}citizen_secret_env = \"XOEV_CITIZEN_SECRET\"\n",
            root = self.root.canonicalize()?.display(),
            url = s.amqp_url,
            prefix = s.prefix,
            store = s.audit_store,
            retry = s.retry_delay_ms,
        );
        let path = dir.join("gateway.toml");
        std::fs::write(&path, config)?;
        Ok(path)
    }
}

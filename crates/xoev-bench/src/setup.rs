//! What every per-stage measurement shares: a test PKI with an intermediate
//! CA (root in the trust store, leaf + intermediate in `KeyInfo`), signers
//! for ECDSA P-256 and RSA-2048, the schema catalogue, the adapters and the
//! realistic request/answer pair of the once-only case.

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;
use xoev_adapters::{Context, RequestFacts, Translator};
use xoev_core::Limits;
use xoev_dsig::pki::{Issued, KeyKind, TestCa};
use xoev_dsig::{Signer, TrustStore, Verifier};
use xoev_schema::{Catalogue, Validator};

/// The fee office's evidence request (XNachweis, 5.3 KB unsigned).
pub const REQUEST: &str =
    "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-frankfurt.xml";
/// The tax office's answer to it (XEStB).
pub const ANSWER: &str =
    "tests/samples/xestb/xestb.bescheiddatenAntwort.0102.frankfurt-einzelveranlagung.xml";

/// A signing key with its certificate chain.
pub struct Key {
    /// The issued key and leaf certificate.
    pub issued: Issued,
    /// Leaf + intermediate certificate (PEM).
    pub chain_pem: Vec<u8>,
    /// The XML signer.
    pub signer: Signer,
}

/// The shared fixture.
pub struct Fixture {
    /// Repository root.
    pub root: PathBuf,
    /// Limits.
    pub limits: Limits,
    /// Catalogue and validation.
    pub validator: Validator,
    /// Adapter registry.
    pub registry: xoev_adapters::Registry,
    /// Adapter chains with validation (as the gateway runs them).
    pub translator: Translator,
    /// Root CA in the trust store.
    pub ca_pem: Vec<u8>,
    /// Verifier trusting the root CA.
    pub verifier: Verifier,
    /// ECDSA P-256 key under the intermediate CA.
    pub ec: Key,
    /// RSA-2048 key under the intermediate CA.
    pub rsa: Key,
    /// The request, unsigned.
    pub request: Vec<u8>,
    /// The answer, unsigned.
    pub answer: Vec<u8>,
    /// The facts of the request (context of the answer adapter).
    pub request_facts: RequestFacts,
}

fn key(ca: &TestCa, cn: &str, kind: KeyKind) -> anyhow::Result<Key> {
    let issued = ca.issue(cn, kind, -1, 365)?;
    let mut chain_pem = issued.cert_pem()?;
    chain_pem.extend_from_slice(&ca.issued.cert_pem()?);
    let signer = Signer::from_pem(&issued.key_pem()?, &chain_pem)?;
    Ok(Key {
        issued,
        chain_pem,
        signer,
    })
}

impl Fixture {
    /// Builds the fixture from the repository at `root`.
    pub fn new(root: &Path) -> anyhow::Result<Self> {
        xoev_dsig::init()?;
        let limits = Limits::default();
        let catalogue = Arc::new(Catalogue::load(root.join("schemas"))?);
        let validator = Validator::new(catalogue, limits);
        let registry = xoev_adapters::Registry::load(&xoev_adapters::Config::from_root(root)?)?;
        let translator = Translator::new(validator.clone());
        let ca = TestCa::generate("Bench Root CA")?;
        let sub = ca.issue_ca("Bench Issuing CA")?;
        let ca_pem = ca.issued.cert_pem()?;
        let verifier = Verifier::new(TrustStore::from_pem(&ca_pem)?);
        let ec = key(&sub, "Stadt Frankfurt Kita (ECDSA)", KeyKind::EcP256)?;
        let rsa = key(&sub, "Stadt Frankfurt Kita (RSA)", KeyKind::Rsa(2048))?;
        let request = std::fs::read(root.join(REQUEST)).context(REQUEST)?;
        let answer = std::fs::read(root.join(ANSWER)).context(ANSWER)?;
        let request_facts = RequestFacts::from_xnachweis(&request)?;
        Ok(Self {
            root: root.to_owned(),
            limits,
            validator,
            registry,
            translator,
            ca_pem,
            verifier,
            ec,
            rsa,
            request,
            answer,
            request_facts,
        })
    }

    /// The adapter context of the request (fresh time and seed, as the gateway does).
    pub fn request_context(&self) -> Context {
        let mut ctx = Context::new(OffsetDateTime::now_utc(), uuid::Uuid::new_v4());
        ctx.municipality = self.request_facts.municipality().map(str::to_owned);
        ctx
    }

    /// The adapter context of the answer: the original request's facts.
    pub fn answer_context(&self) -> Context {
        let mut ctx = self.request_context();
        ctx.request = Some(self.request_facts.clone());
        ctx
    }

    /// Writes keys, chain and the EC-signed request for the Python baseline.
    pub fn write_files(&self, dir: &Path) -> anyhow::Result<PythonFiles> {
        std::fs::create_dir_all(dir)?;
        let w = |name: &str, bytes: &[u8]| -> anyhow::Result<PathBuf> {
            let p = dir.join(name);
            std::fs::write(&p, bytes)?;
            Ok(p)
        };
        Ok(PythonFiles {
            trusted: w("root-ca.pem", &self.ca_pem)?,
            ec_key: w("ec-key.pem", &self.ec.issued.key_pem()?)?,
            ec_cert: w("ec-chain.pem", &self.ec.chain_pem)?,
            rsa_key: w("rsa-key.pem", &self.rsa.issued.key_pem()?)?,
            rsa_cert: w("rsa-chain.pem", &self.rsa.chain_pem)?,
            signed: w(
                "request-signed-ec.xml",
                &self.ec.signer.sign_bytes(&self.request)?,
            )?,
        })
    }
}

/// Files handed to the Python baseline.
pub struct PythonFiles {
    /// Root CA.
    pub trusted: PathBuf,
    /// ECDSA key.
    pub ec_key: PathBuf,
    /// ECDSA chain.
    pub ec_cert: PathBuf,
    /// RSA key.
    pub rsa_key: PathBuf,
    /// RSA chain.
    pub rsa_cert: PathBuf,
    /// The request signed with the ECDSA key.
    pub signed: PathBuf,
}

//! Verification: profile → signing certificate → chain (cached) → digest
//! and signature value over the exclusive canonical form.

use crate::c14n::{self, Scope};
use crate::crypto::VerifyKey;
use crate::dom;
use crate::error::{DsigError, DsigErrorKind};
use crate::init::{clear_messages, init};
use crate::profile::{self, Parsed, SignatureAlgorithm};
use crate::trust::{self, CertMatcher, TrustStore};
use crate::xmlsec_ctx::{DsigCtx, Key, Restriction, Status};
use libxml::tree::Document;
use openssl::x509::{X509, X509VerifyResult};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use xoev_core::Limits;

/// Cached verified chains kept at most (the cache is cleared when full).
const MAX_CACHED: usize = 10_000;

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Subject of the signing certificate (`C=DE, O=..., CN=...`).
    pub signer_subject: String,
    /// Issuer of the signing certificate.
    pub signer_issuer: String,
    /// Serial number of the signing certificate (hex).
    pub signer_serial: String,
    /// SHA-256 fingerprint of the signing certificate (lowercase hex).
    pub signer_cert_sha256: String,
    /// The signature algorithm.
    pub algorithm: SignatureAlgorithm,
    /// End of validity of the certificate chain (unix seconds).
    pub chain_valid_until: i64,
}

/// A verified signing certificate: its chain was valid for `window`.
#[derive(Clone)]
struct CachedCert {
    window: (i64, i64),
    /// The certificate's public key, loaded for verification.
    key: Arc<VerifyKey>,
    /// For ECDSA keys, the length of a signature value (`r || s`).
    ec_value_len: Option<usize>,
    key_algorithm: SignatureAlgorithm,
    subject: String,
    issuer: String,
    serial: String,
    fingerprint: String,
}

thread_local! {
    /// xmlsec1 public keys per signing-certificate fingerprint, per thread
    /// (xmlsec1 keys are not `Send`).
    static KEYS: RefCell<HashMap<[u8; 32], Key>> = RefCell::new(HashMap::new());
}

/// Verifies enveloped signatures of the profile against a trust store.
///
/// Build it once and share it (`Clone` is cheap, it is `Send + Sync`); the
/// xmlsec1 keys it needs are created lazily per thread and kept.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// The trust store; replaced whole by [`Verifier::replace_trust`].
    trust: RwLock<Arc<TrustStore>>,
    cache: RwLock<Cache>,
    /// Which certificate of an `X509Data` list is the signing one, by a hash
    /// of the whole list: finding it parses every certificate (`d2i_X509`),
    /// which cost more than the signature check itself. The answer is a pure
    /// function of the list, so remembering it changes no outcome.
    leaves: RwLock<HashMap<[u8; 32], usize>>,
}

/// Verified signing certificates, valid for one trust store: `generation`
/// counts the replacements, so a verification that began with the old
/// store does not cache its verdict under the new one.
#[derive(Default)]
struct Cache {
    generation: u64,
    certs: HashMap<[u8; 32], CachedCert>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("trust", &self.trust_store())
            .finish()
    }
}

impl Verifier {
    /// A verifier trusting the PEM certificates in `dir` (see [`TrustStore::from_dir`]).
    pub fn from_trust_dir(dir: &Path) -> Result<Self, DsigError> {
        Ok(Self::new(TrustStore::from_dir(dir)?))
    }

    /// A verifier over a loaded trust store.
    pub fn new(trust: TrustStore) -> Self {
        Self {
            inner: Arc::new(Inner {
                trust: RwLock::new(Arc::new(trust)),
                cache: RwLock::new(Cache::default()),
                leaves: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The trust store in use.
    pub fn trust_store(&self) -> Arc<TrustStore> {
        match self.inner.trust.read() {
            Ok(t) => Arc::clone(&t),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the trust store (new anchors, new CRLs) for this verifier
    /// and all its clones, and forgets every verified certificate: the
    /// next message of each signer is checked against the new store. A
    /// verification already running finishes with the old one.
    pub fn replace_trust(&self, trust: TrustStore) {
        let mut cache = match self.inner.cache.write() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        match self.inner.trust.write() {
            Ok(mut t) => *t = Arc::new(trust),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(trust),
        }
        cache.generation += 1;
        cache.certs.clear();
    }

    /// How many verified signing certificates are cached.
    pub fn cached_certificates(&self) -> usize {
        self.inner.cache.read().map(|c| c.certs.len()).unwrap_or(0)
    }

    /// Parses `bytes` (hardened, `limits`) and verifies; a parse failure is
    /// [`DsigErrorKind::MalformedXml`]. Returns the parsed document too.
    pub fn verify_bytes(
        &self,
        bytes: &[u8],
        limits: &Limits,
        expected: Option<&CertMatcher>,
    ) -> Result<(Verified, Document), DsigError> {
        let doc = xoev_schema::parse_document(bytes, limits)
            .map_err(|e| DsigError::new(DsigErrorKind::MalformedXml, e.to_string()))?;
        let v = self.verify(&doc, expected)?;
        Ok((v, doc))
    }

    /// Verifies the one top-level signature of `doc` against the profile and
    /// the trust store; with `expected`, the signer must also match it.
    ///
    /// The digest and the signature value are computed over libxml2's
    /// exclusive canonical form of the parsed document (see the crate
    /// documentation), with the signing certificate's key loaded once per
    /// certificate.
    pub fn verify(
        &self,
        doc: &Document,
        expected: Option<&CertMatcher>,
    ) -> Result<Verified, DsigError> {
        let (parsed, leaf, cert) = self.prepare(doc)?;
        let content = c14n::exclusive(
            doc,
            Scope::DocumentWithout(parsed.signature),
            &parsed.reference_prefixes,
        )?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &content);
        let stated = base64(&parsed.digest_value, "ds:DigestValue")?;
        let status = if digest.as_ref() != stated.as_slice() {
            Status::DigestMismatch
        } else {
            let signed_info = c14n::exclusive(
                doc,
                Scope::Subtree(parsed.signed_info),
                &parsed.signed_info_prefixes,
            )?;
            let value = base64(&parsed.signature_value, "ds:SignatureValue")?;
            if let Some(size) = cert.ec_value_len
                && value.len() != size
            {
                return Err(DsigError::new(
                    DsigErrorKind::MalformedSignature,
                    format!(
                        "ds:SignatureValue holds {} bytes; ECDSA on the certificate's curve gives {size}",
                        value.len()
                    ),
                ));
            }
            let pss = parsed.algorithm == SignatureAlgorithm::RsaPssSha256;
            if cert.key.verify(&signed_info, &value, pss) {
                Status::Valid
            } else {
                Status::BadSignatureValue
            }
        };
        conclude(status, cert, &parsed, leaf, expected)
    }

    /// The same verification as [`Verifier::verify`] — same profile, same
    /// certificate checks, same outcomes — with the digest and signature
    /// computed by xmlsec1's own transform engine. Slower; kept as the
    /// reference implementation the fast path is tested against, and for
    /// the benchmark's comparison.
    pub fn verify_with_xmlsec(
        &self,
        doc: &Document,
        expected: Option<&CertMatcher>,
    ) -> Result<Verified, DsigError> {
        let (parsed, leaf, cert) = self.prepare(doc)?;
        let leaf_der = parsed.certs[leaf].as_slice();
        let fp: [u8; 32] = openssl::sha::sha256(leaf_der);
        let status = KEYS.with(|keys| -> Result<Status, DsigError> {
            let mut keys = keys.borrow_mut();
            if !keys.contains_key(&fp) {
                if keys.len() >= MAX_CACHED {
                    keys.clear();
                }
                keys.insert(fp, Key::from_cert_der(leaf_der)?);
            }
            let key = keys.get(&fp).ok_or_else(|| {
                DsigError::new(DsigErrorKind::Internal, "key cache lost an entry")
            })?;
            let ctx = DsigCtx::new(Restriction::Profile(parsed.algorithm))?;
            // SAFETY: the signature node belongs to `doc`, which is borrowed
            // (alive, unmodified) for the whole call.
            unsafe { ctx.verify(key, parsed.signature) }
        })?;
        conclude(status, cert, &parsed, leaf, expected)
    }

    /// Profile check, signing certificate (its index in `parsed.certs`),
    /// verified chain (cached), and the key fitting the signature method.
    fn prepare(&self, doc: &Document) -> Result<(Parsed, usize, CachedCert), DsigError> {
        init()?;
        dom::silence_thread();
        clear_messages();
        let parsed = profile::check(doc)?;
        let leaf_der = self.leaf(&parsed.certs)?;
        let index = parsed
            .certs
            .iter()
            .position(|c| std::ptr::eq(c.as_slice(), leaf_der))
            .ok_or_else(|| DsigError::new(DsigErrorKind::Internal, "signing certificate lost"))?;
        let fp: [u8; 32] = openssl::sha::sha256(leaf_der);
        let cert = self.certificate(fp, leaf_der, &parsed.certs)?;
        if cert.key_algorithm.key_type() != parsed.algorithm.key_type() {
            return Err(DsigError::new(
                DsigErrorKind::BadSignatureValue,
                format!(
                    "SignatureMethod {} does not fit the certificate's {} key",
                    parsed.algorithm,
                    cert.key_algorithm.key_type()
                ),
            ));
        }
        Ok((parsed, index, cert))
    }

    /// The signing certificate among `certs` (see [`leaf`]), remembered per list.
    fn leaf<'c>(&self, certs: &'c [Vec<u8>]) -> Result<&'c [u8], DsigError> {
        if certs.len() < 2 {
            return leaf(certs);
        }
        let mut h = openssl::sha::Sha256::new();
        for der in certs {
            h.update(&(der.len() as u64).to_be_bytes());
            h.update(der);
        }
        let key = h.finish();
        if let Ok(memo) = self.inner.leaves.read()
            && let Some(&i) = memo.get(&key)
            && let Some(der) = certs.get(i)
        {
            return Ok(der);
        }
        let found = leaf(certs)?;
        if let Some(i) = certs.iter().position(|c| c.as_slice() == found)
            && let Ok(mut memo) = self.inner.leaves.write()
        {
            if memo.len() >= MAX_CACHED {
                memo.clear();
            }
            memo.insert(key, i);
        }
        Ok(found)
    }

    /// The verified signing certificate: from the cache while its chain's
    /// validity window includes now, else verified (and cached) afresh.
    fn certificate(
        &self,
        fp: [u8; 32],
        leaf_der: &[u8],
        all: &[Vec<u8>],
    ) -> Result<CachedCert, DsigError> {
        let now = trust::now();
        let (generation, store) = {
            let cache = match self.inner.cache.read() {
                Ok(c) => c,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Some(c) = cache.certs.get(&fp)
                && c.window.0 <= now
                && now <= c.window.1
            {
                return Ok(c.clone());
            }
            // Read under the cache's lock: a replacement holds it while it
            // swaps the store, so store and generation belong together.
            (cache.generation, self.trust_store())
        };
        let bad = |e: openssl::error::ErrorStack| {
            DsigError::new(
                DsigErrorKind::MalformedSignature,
                format!("ds:X509Certificate is not a certificate: {e}"),
            )
        };
        let leaf = X509::from_der(leaf_der).map_err(bad)?;
        let mut intermediates = Vec::new();
        for der in all {
            if der.as_slice() != leaf_der {
                intermediates.push(X509::from_der(der).map_err(bad)?);
            }
        }
        let public = trust::public_key(&leaf)?;
        let key_algorithm = trust::check_key(&public, None)?;
        trust::check_signing_certificate(&leaf)?;
        let key = Arc::new(VerifyKey::new(&public)?);
        let ec_value_len = match &*key {
            VerifyKey::P256(_) => Some(64),
            VerifyKey::OtherEc(_, size) => Some(2 * size),
            VerifyKey::Rsa(_) => None,
        };
        let window = store.verify_chain(&leaf, &intermediates)?;
        let cert = CachedCert {
            window,
            key,
            ec_value_len,
            key_algorithm,
            subject: trust::subject(&leaf),
            issuer: trust::name_string(leaf.issuer_name()),
            serial: trust::serial_hex(&leaf),
            fingerprint: trust::hex(&fp),
        };
        if let Ok(mut cache) = self.inner.cache.write()
            && cache.generation == generation
        {
            if cache.certs.len() >= MAX_CACHED {
                cache.certs.clear();
            }
            cache.certs.insert(fp, cert.clone());
        }
        Ok(cert)
    }
}

/// Turns the outcome of the digest and signature checks into the result,
/// checking the expected signer last.
fn conclude(
    status: Status,
    cert: CachedCert,
    parsed: &Parsed,
    leaf: usize,
    expected: Option<&CertMatcher>,
) -> Result<Verified, DsigError> {
    match status {
        Status::Valid => {}
        Status::DigestMismatch => {
            return Err(DsigError::new(
                DsigErrorKind::DigestMismatch,
                "the digest of the document does not match: it was changed after signing",
            ));
        }
        Status::BadSignatureValue => {
            return Err(DsigError::new(
                DsigErrorKind::BadSignatureValue,
                format!(
                    "the signature value does not verify with the key of {}",
                    cert.subject
                ),
            ));
        }
    }
    if let Some(m) = expected
        && !m.matches(&cert.subject, &cert.fingerprint, &parsed.certs[leaf])
    {
        return Err(DsigError::new(
            DsigErrorKind::WrongSigner,
            format!(
                "signed by {} ({}), expected {m}",
                cert.subject, cert.fingerprint
            ),
        ));
    }
    Ok(Verified {
        signer_subject: cert.subject,
        signer_issuer: cert.issuer,
        signer_serial: cert.serial,
        signer_cert_sha256: cert.fingerprint,
        algorithm: parsed.algorithm,
        chain_valid_until: cert.window.1,
    })
}

/// Decodes the base64 text of `element` (whitespace allowed anywhere).
fn base64(text: &str, element: &str) -> Result<Vec<u8>, DsigError> {
    dom::decode_base64(text).ok_or_else(|| {
        DsigError::new(
            DsigErrorKind::MalformedSignature,
            format!("{element} is not valid base64"),
        )
    })
}

/// The signing certificate among the `X509Certificate`s: the only one, or
/// the one that issued none of the others.
fn leaf(certs: &[Vec<u8>]) -> Result<&[u8], DsigError> {
    if let [one] = certs {
        return Ok(one);
    }
    let bad = |d: String| DsigError::new(DsigErrorKind::MalformedSignature, d);
    let parsed: Vec<X509> = certs
        .iter()
        .map(|d| {
            X509::from_der(d)
                .map_err(|e| bad(format!("ds:X509Certificate is not a certificate: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let leaves: Vec<usize> = (0..parsed.len())
        .filter(|&i| {
            !(0..parsed.len())
                .any(|j| j != i && parsed[i].issued(&parsed[j]) == X509VerifyResult::OK)
        })
        .collect();
    if let [i] = leaves.as_slice() {
        return Ok(&certs[*i]);
    }
    // A certificate issued by one whose key usage forbids signing
    // certificates (an authority's own signing certificate used as a CA)
    // looks like a second signing certificate: name the false issuer.
    for (i, issuer) in parsed.iter().enumerate() {
        for (j, issued) in parsed.iter().enumerate() {
            if certs[i] != certs[j]
                && issuer.issued(issued).as_raw() == openssl_sys::X509_V_ERR_KEYUSAGE_NO_CERTSIGN
            {
                return Err(DsigError::new(
                    DsigErrorKind::UntrustedCertificate,
                    format!(
                        "ds:X509Data: {} is issued by {}, which is not a CA (its key usage \
                         does not include keyCertSign)",
                        trust::subject(issued),
                        trust::subject(issuer)
                    ),
                ));
            }
        }
    }
    Err(bad(format!(
        "ds:X509Data holds {} certificates without one clear signing certificate",
        certs.len()
    )))
}

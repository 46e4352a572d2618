//! The trust store (a directory of PEM CA/authority certificates and their
//! CRLs), chain verification with OpenSSL, key-strength policy and
//! certificate helpers.

use crate::crl::{self, Crl, CrlInfo, Revocation};
use crate::error::{DsigError, DsigErrorKind};
use crate::profile::SignatureAlgorithm;
use foreign_types::ForeignTypeRef;
use memchr::memmem;
use openssl::asn1::Asn1TimeRef;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKeyRef, Public};
use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509, X509NameRef, X509Ref, X509StoreContext};
use std::path::Path;

/// Trust anchors: CA and authority certificates loaded from PEM files, and
/// the certificate revocation lists of their CAs.
pub struct TrustStore {
    store: X509Store,
    anchors: Vec<X509>,
    crls: Vec<Crl>,
    revocation: Revocation,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("anchors", &self.anchors.len())
            .field("crls", &self.crls.len())
            .field("revocation", &self.revocation)
            .finish()
    }
}

impl TrustStore {
    /// Loads every `*.pem`/`*.crt` file of `dir` (each may hold several
    /// certificates, and CRLs as `X509 CRL` blocks) and every `*.crl` file
    /// (one CRL, PEM or DER); other files are ignored. A file holding a
    /// private key, a file that is not PEM certificates, a CRL that cannot
    /// be used (see [`TrustStore::add_crl`]) and a store without
    /// certificates are errors.
    pub fn from_dir(dir: &Path) -> Result<Self, DsigError> {
        let ts = |d: String| DsigError::new(DsigErrorKind::TrustStore, d);
        let entries = std::fs::read_dir(dir)
            .map_err(|e| ts(format!("cannot read {}: {e}", dir.display())))?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .is_some_and(|x| x == "pem" || x == "crt" || x == "crl")
            })
            .collect();
        paths.sort();
        let mut anchors = Vec::new();
        let mut crls = Vec::new();
        for p in &paths {
            let bytes =
                std::fs::read(p).map_err(|e| ts(format!("cannot read {}: {e}", p.display())))?;
            let source = p.display().to_string();
            if p.extension().is_some_and(|x| x == "crl") {
                crls.push(Crl::parse(&bytes, &source)?);
                continue;
            }
            if memmem::find(&bytes, b"PRIVATE KEY-----").is_some() {
                // A key in the trust store is a deployment mistake: refuse.
                return Err(ts(format!(
                    "{} contains a private key; the trust store holds certificates only",
                    p.display()
                )));
            }
            let certs = X509::stack_from_pem(&bytes)
                .map_err(|e| ts(format!("{}: not PEM certificates: {e}", p.display())))?;
            anchors.extend(certs);
            for block in pem_blocks(&bytes, "X509 CRL") {
                crls.push(Crl::parse(block, &source)?);
            }
        }
        let mut store = Self::from_certs(anchors)
            .map_err(|e| ts(format!("{}: {}", dir.display(), e.detail())))?;
        for c in crls {
            store.push_crl(c)?;
        }
        Ok(store)
    }

    /// A trust store of the given anchors (PEM bytes, one or more certificates).
    pub fn from_pem(pem: &[u8]) -> Result<Self, DsigError> {
        let certs = X509::stack_from_pem(pem).map_err(|e| {
            DsigError::new(
                DsigErrorKind::TrustStore,
                format!("not PEM certificates: {e}"),
            )
        })?;
        Self::from_certs(certs)
    }

    fn from_certs(anchors: Vec<X509>) -> Result<Self, DsigError> {
        if anchors.is_empty() {
            return Err(DsigError::new(
                DsigErrorKind::TrustStore,
                "no certificates found",
            ));
        }
        let mut b = X509StoreBuilder::new()?;
        for c in &anchors {
            b.add_cert(c.clone())?;
        }
        // Authority certificates themselves may be anchors (not only CAs).
        b.set_flags(X509VerifyFlags::PARTIAL_CHAIN)?;
        Ok(Self {
            store: b.build(),
            anchors,
            crls: Vec::new(),
            revocation: Revocation::default(),
        })
    }

    /// Adds a CRL (PEM or DER). Refused: delta, partitioned and indirect
    /// CRLs, and a CRL naming a CA of the store as its issuer that no such
    /// CA signed. A CRL of a CA outside the store (an intermediate that
    /// messages carry) is checked against that CA when a chain uses it.
    pub fn add_crl(&mut self, crl: &[u8]) -> Result<(), DsigError> {
        self.push_crl(Crl::parse(crl, "CRL")?)
    }

    fn push_crl(&mut self, crl: Crl) -> Result<(), DsigError> {
        let info = crl.info()?;
        let named: Vec<&X509> = self.anchors.iter().filter(|a| crl.names(a)).collect();
        if !named.is_empty() && !named.iter().any(|a| crl.signed_by(a)) {
            return Err(DsigError::new(
                DsigErrorKind::TrustStore,
                format!(
                    "{}: the CRL names {} as its issuer, but that certificate's key did not sign it",
                    info.source, info.issuer
                ),
            ));
        }
        self.crls.push(crl);
        Ok(())
    }

    /// The same store with revocation checked by `policy`.
    pub fn with_revocation(mut self, policy: Revocation) -> Self {
        self.revocation = policy;
        self
    }

    /// How revocation is checked.
    pub fn revocation(&self) -> Revocation {
        self.revocation
    }

    /// The CRLs of the store: issuer, dates, how many they revoke.
    pub fn crls(&self) -> Result<Vec<CrlInfo>, DsigError> {
        self.crls.iter().map(Crl::info).collect()
    }

    /// Number of anchors.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// True if the store has no anchors (never, for a constructed store).
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Verifies `leaf` (with untrusted `intermediates`) against the anchors at
    /// the current time, then the revocation of its certificates (see
    /// [`Revocation`]); returns how long that verdict holds as unix seconds
    /// `(latest notBefore, earliest notAfter or CRL nextUpdate)`.
    pub(crate) fn verify_chain(
        &self,
        leaf: &X509Ref,
        intermediates: &[X509],
    ) -> Result<(i64, i64), DsigError> {
        let mut chain = Stack::new()?;
        for c in intermediates {
            chain.push(c.clone())?;
        }
        let mut ctx = X509StoreContext::new()?;
        let outcome = ctx.init(&self.store, leaf, &chain, |c| {
            let ok = c.verify_cert()?;
            let mut window = (i64::MIN, i64::MAX);
            let mut verified = Vec::new();
            if ok && let Some(chain) = c.chain() {
                for cert in chain {
                    window.0 = window.0.max(unix(cert.not_before())?);
                    window.1 = window.1.min(unix(cert.not_after())?);
                    verified.push(cert.to_owned());
                }
            }
            // The certificate OpenSSL was at when it failed (at `error_depth`).
            let failed = c.current_cert().map(subject);
            Ok((ok, c.error(), c.error_depth(), failed, window, verified))
        })?;
        let (ok, error, depth, failed, mut window, verified) = outcome;
        if ok {
            if let Some(until) =
                crl::check_chain(&verified, &self.anchors, &self.crls, self.revocation, now())?
            {
                window.1 = window.1.min(until);
            }
            return Ok(window);
        }
        let what = if depth == 0 {
            "the signing certificate".to_owned()
        } else {
            format!("chain certificate at depth {depth}")
        };
        // X509_V_ERR_CERT_NOT_YET_VALID = 9, X509_V_ERR_CERT_HAS_EXPIRED = 10.
        let kind = match error.as_raw() {
            9 => DsigErrorKind::CertificateNotYetValid,
            10 => DsigErrorKind::ExpiredCertificate,
            _ => DsigErrorKind::UntrustedCertificate,
        };
        let who = failed.unwrap_or_else(|| subject(leaf));
        Err(DsigError::new(
            kind,
            format!("{what} ({who}): {}", error.error_string()),
        ))
    }
}

/// The PEM blocks labelled `label` in `pem`, each from its `BEGIN` line to
/// the end of its `END` line.
fn pem_blocks<'a>(pem: &'a [u8], label: &str) -> Vec<&'a [u8]> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = memmem::find(rest, begin.as_bytes()) {
        let Some(len) = memmem::find(&rest[start..], end.as_bytes()) else {
            break;
        };
        let stop = start + len + end.len();
        out.push(&rest[start..stop]);
        rest = &rest[stop..];
    }
    out
}

/// A certificate's serial number, lowercase hex.
pub(crate) fn serial_hex(cert: &X509Ref) -> String {
    cert.serial_number()
        .to_bn()
        .and_then(|b| b.to_hex_str().map(|s| s.to_ascii_lowercase()))
        .unwrap_or_default()
}

/// Seconds since the epoch of an ASN.1 time.
pub(crate) fn unix(t: &Asn1TimeRef) -> Result<i64, openssl::error::ErrorStack> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0)?;
    let d = epoch.diff(t)?;
    Ok(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

/// Seconds since the epoch, now.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A distinguished name as `C=DE, O=..., CN=...` (entries in certificate order).
pub fn name_string(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let val = e.data().to_string().unwrap_or_else(|_| "?".to_owned());
            format!("{key}={val}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The subject of a certificate as [`name_string`].
pub fn subject(cert: &X509Ref) -> String {
    name_string(cert.subject_name())
}

/// The SHA-256 fingerprint of a certificate's DER, lowercase hex.
pub fn fingerprint(cert: &X509Ref) -> Result<String, DsigError> {
    Ok(hex(&cert.digest(MessageDigest::sha256())?))
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks the key-strength policy and that the key fits `algorithm`:
/// RSA ≥ 2048 bits for RSA-SHA256 and RSA-PSS; P-256, P-384 or P-521 for
/// ECDSA-SHA256. Returns the key's default algorithm (RSA: PKCS#1 v1.5).
pub(crate) fn check_key<T: openssl::pkey::HasPublic>(
    key: &PKeyRef<T>,
    algorithm: Option<SignatureAlgorithm>,
) -> Result<SignatureAlgorithm, DsigError> {
    let weak = |d: String| DsigError::new(DsigErrorKind::WeakKey, d);
    let fits = match key.id() {
        Id::RSA => {
            let bits = key.bits();
            if bits < 2048 {
                return Err(weak(format!(
                    "RSA key of {bits} bits; at least 2048 are required"
                )));
            }
            SignatureAlgorithm::RsaSha256
        }
        Id::EC => {
            let ec = key.ec_key()?;
            let curve = ec.group().curve_name();
            if !matches!(
                curve,
                Some(Nid::X9_62_PRIME256V1 | Nid::SECP384R1 | Nid::SECP521R1)
            ) {
                let name = curve
                    .and_then(|n| n.short_name().ok())
                    .unwrap_or("unnamed curve");
                return Err(weak(format!(
                    "EC key on {name}; P-256, P-384 or P-521 are required"
                )));
            }
            SignatureAlgorithm::EcdsaSha256
        }
        Id::DSA => {
            return Err(DsigError::new(
                DsigErrorKind::WeakAlgorithm,
                "DSA keys are refused",
            ));
        }
        other => {
            return Err(DsigError::new(
                DsigErrorKind::DisallowedAlgorithm,
                format!("key type {other:?} is not in the profile (RSA or EC only)"),
            ));
        }
    };
    match algorithm {
        Some(a) if a.key_type() != fits.key_type() => Err(DsigError::new(
            DsigErrorKind::BadSignatureValue,
            format!(
                "SignatureMethod {a} does not fit the certificate's {} key",
                fits.key_type()
            ),
        )),
        _ => Ok(fits),
    }
}

/// Key usages by name, in the order of RFC 5280 §4.2.1.3.
const KEY_USAGES: [(u32, &str); 9] = [
    (openssl_sys::X509v3_KU_DIGITAL_SIGNATURE, "digitalSignature"),
    (openssl_sys::X509v3_KU_NON_REPUDIATION, "nonRepudiation"),
    (openssl_sys::X509v3_KU_KEY_ENCIPHERMENT, "keyEncipherment"),
    (openssl_sys::X509v3_KU_DATA_ENCIPHERMENT, "dataEncipherment"),
    (openssl_sys::X509v3_KU_KEY_AGREEMENT, "keyAgreement"),
    (openssl_sys::X509v3_KU_KEY_CERT_SIGN, "keyCertSign"),
    (openssl_sys::X509v3_KU_CRL_SIGN, "cRLSign"),
    (openssl_sys::X509v3_KU_ENCIPHER_ONLY, "encipherOnly"),
    (openssl_sys::X509v3_KU_DECIPHER_ONLY, "decipherOnly"),
];

/// Checks that the signing certificate `cert` is meant for signatures: it
/// is no CA (basicConstraints `CA:TRUE`), and a key usage extension, where
/// present, includes `digitalSignature` or `nonRepudiation`
/// (`contentCommitment`). Without a key usage extension any use is allowed.
pub(crate) fn check_signing_certificate(cert: &X509Ref) -> Result<(), DsigError> {
    // SAFETY: `cert` is a valid X509 for the duration of the calls; they
    // decode (and cache, under the certificate's own lock) its extensions.
    let (flags, usage) = unsafe {
        (
            openssl_sys::X509_get_extension_flags(cert.as_ptr()),
            openssl_sys::X509_get_key_usage(cert.as_ptr()),
        )
    };
    let refuse = |what: String| {
        Err(DsigError::new(
            DsigErrorKind::CertificateNotForSigning,
            format!("the signing certificate ({}) {what}", subject(cert)),
        ))
    };
    if flags & openssl_sys::EXFLAG_INVALID != 0 {
        return refuse(
            "has an extension that cannot be decoded, so what its key may be used for is unknown"
                .into(),
        );
    }
    if flags & openssl_sys::EXFLAG_CA != 0 {
        return refuse(
            "is a CA certificate (basicConstraints CA:TRUE); a CA's key signs certificates, \
             not messages"
                .into(),
        );
    }
    let signing = openssl_sys::X509v3_KU_DIGITAL_SIGNATURE | openssl_sys::X509v3_KU_NON_REPUDIATION;
    if flags & openssl_sys::EXFLAG_KUSAGE != 0 && usage & signing == 0 {
        let names: Vec<&str> = KEY_USAGES
            .iter()
            .filter(|(bit, _)| usage & bit != 0)
            .map(|(_, name)| *name)
            .collect();
        let names = if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        };
        return refuse(format!(
            "has key usage {names}; signing a message needs digitalSignature or nonRepudiation"
        ));
    }
    Ok(())
}

/// The public key of a certificate.
pub(crate) fn public_key(cert: &X509Ref) -> Result<openssl::pkey::PKey<Public>, DsigError> {
    cert.public_key().map_err(|e| {
        DsigError::new(
            DsigErrorKind::MalformedSignature,
            format!("certificate has no usable public key: {e}"),
        )
    })
}

/// Who is expected to have signed: the caller's view of the author
/// authority (from the authority directory).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertMatcher {
    /// The signing certificate's subject DN, as RFC 4514 writes it
    /// (`CN=...,O=...,C=DE`, `\,` in values) or as
    /// [`crate::Verified::signer_subject`] shows it (`C=DE, O=..., CN=...`):
    /// the same attributes and values in either order.
    Subject(String),
    /// The SHA-256 fingerprint of the signing certificate (hex, any case,
    /// `:` separators allowed).
    Sha256(String),
    /// The signing certificate itself (DER).
    Certificate(Vec<u8>),
}

impl CertMatcher {
    /// A matcher for a PEM certificate (e.g. from the authority directory).
    pub fn from_pem(pem: &[u8]) -> Result<Self, DsigError> {
        let cert = X509::from_pem(pem).map_err(|e| {
            DsigError::new(DsigErrorKind::Key, format!("not a PEM certificate: {e}"))
        })?;
        Ok(Self::Certificate(cert.to_der()?))
    }

    /// True if the signer (`subject`, `fingerprint` hex, `der`) matches.
    pub(crate) fn matches(&self, subject: &str, fingerprint: &str, der: &[u8]) -> bool {
        match self {
            // as shown (no parse), else compared attribute by attribute
            Self::Subject(s) => {
                s == subject
                    || X509::from_der(der)
                        .is_ok_and(|c| crate::dn::names_subject(s, c.subject_name()))
            }
            Self::Sha256(f) => {
                let norm: String = f
                    .chars()
                    .filter(|c| *c != ':')
                    .collect::<String>()
                    .to_ascii_lowercase();
                norm == fingerprint
            }
            Self::Certificate(d) => d == der,
        }
    }
}

impl std::fmt::Display for CertMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Subject(s) => write!(f, "subject {s:?}"),
            Self::Sha256(h) => write!(f, "SHA-256 fingerprint {h}"),
            Self::Certificate(_) => f.write_str("the directory's certificate"),
        }
    }
}

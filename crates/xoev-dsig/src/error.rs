//! The errors of signing and verification: one kind per rejection class.

use serde::Serialize;
use std::fmt;

/// Machine-readable class of a [`DsigError`]; [`DsigErrorKind::as_str`] is
/// the stable id used in dead letters and JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DsigErrorKind {
    /// The document has no `ds:Signature` as a child of its root element.
    NoSignature,
    /// The root element has more than one `ds:Signature` child.
    MultipleSignatures,
    /// The digest of the signed content does not match: the document was
    /// changed after signing.
    DigestMismatch,
    /// The `SignatureValue` does not verify with the certificate's key
    /// (the `SignedInfo` was changed, or the certificate was swapped).
    BadSignatureValue,
    /// The signing certificate does not chain to a trust anchor.
    UntrustedCertificate,
    /// The signing certificate (or a certificate of its chain) has expired.
    ExpiredCertificate,
    /// The signing certificate (or a certificate of its chain) is not valid yet.
    CertificateNotYetValid,
    /// The signing certificate (or a certificate of its chain) is listed in
    /// its issuer's current certificate revocation list.
    RevokedCertificate,
    /// Whether a certificate of the chain is revoked cannot be told: its
    /// issuer's CRL in the trust store expired (or is dated in the future),
    /// or revocation is required and the trust store holds none. The
    /// gateway's configuration, not the sender, is at fault: not a rejection.
    RevocationUnknown,
    /// A weak algorithm (SHA-1, MD5, DSA, HMAC) is named.
    WeakAlgorithm,
    /// An algorithm outside the profile (not weak, but not allowed) is named.
    DisallowedAlgorithm,
    /// The signing key is too weak (RSA < 2048 bits, EC curve not allowed).
    WeakKey,
    /// The signing certificate is not meant for signatures: a CA certificate
    /// (basicConstraints `CA:TRUE`), or a key usage without
    /// `digitalSignature` and `nonRepudiation`.
    CertificateNotForSigning,
    /// A reference transform outside the profile (XPath, XSLT, inclusive
    /// C14N, ...) is named, or the required transforms are missing.
    DisallowedTransform,
    /// The reference does not cover the whole document (`URI` is not `""`):
    /// signature wrapping.
    ReferenceNotWholeDocument,
    /// `KeyInfo` does not carry an X.509 certificate (bare `KeyValue`,
    /// `KeyName`, `RetrievalMethod`, or no `KeyInfo`).
    KeyInfoNotX509,
    /// The signature is valid and trusted, but the signer is not the
    /// expected authority.
    WrongSigner,
    /// The `ds:Signature` element does not have the structure of the profile.
    MalformedSignature,
    /// The input is not well-formed XML (only from the `*_bytes` helpers).
    MalformedXml,
    /// A key, certificate or PKCS#12 file could not be loaded or is unsuitable
    /// (configuration, not a rejection of a message).
    Key,
    /// The trust store could not be loaded (configuration).
    TrustStore,
    /// xmlsec1/OpenSSL failed internally (not a property of the message).
    Internal,
}

impl DsigErrorKind {
    /// Stable kebab-case identifier for dead letters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSignature => "no-signature",
            Self::MultipleSignatures => "multiple-signatures",
            Self::DigestMismatch => "digest-mismatch",
            Self::BadSignatureValue => "bad-signature-value",
            Self::UntrustedCertificate => "untrusted-certificate",
            Self::ExpiredCertificate => "expired-certificate",
            Self::CertificateNotYetValid => "certificate-not-yet-valid",
            Self::RevokedCertificate => "revoked-certificate",
            Self::RevocationUnknown => "revocation-unknown",
            Self::WeakAlgorithm => "weak-algorithm",
            Self::DisallowedAlgorithm => "disallowed-algorithm",
            Self::WeakKey => "weak-key",
            Self::CertificateNotForSigning => "certificate-not-for-signing",
            Self::DisallowedTransform => "disallowed-transform",
            Self::ReferenceNotWholeDocument => "reference-not-whole-document",
            Self::KeyInfoNotX509 => "key-info-not-x509",
            Self::WrongSigner => "wrong-signer",
            Self::MalformedSignature => "malformed-signature",
            Self::MalformedXml => "malformed-xml",
            Self::Key => "key",
            Self::TrustStore => "trust-store",
            Self::Internal => "internal",
        }
    }

    /// True when the kind rejects the message (as opposed to a configuration
    /// or internal failure, which should not be blamed on the sender).
    pub fn is_rejection(self) -> bool {
        !matches!(
            self,
            Self::Key | Self::TrustStore | Self::RevocationUnknown | Self::Internal
        )
    }
}

impl fmt::Display for DsigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a document could not be signed or its signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct DsigError {
    kind: DsigErrorKind,
    detail: String,
}

impl DsigError {
    /// An error of `kind` with a human-readable `detail`.
    pub fn new(kind: DsigErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// The machine-readable class.
    pub fn kind(&self) -> DsigErrorKind {
        self.kind
    }

    /// The human-readable explanation (never contains key material).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl From<openssl::error::ErrorStack> for DsigError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        Self::new(DsigErrorKind::Internal, format!("OpenSSL: {e}"))
    }
}

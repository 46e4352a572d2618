//! The signature profile: what the gateway signs and the only thing it accepts.
//!
//! Checked on the DOM *before* xmlsec1 sees the signature, so xmlsec1 only
//! ever processes signatures of this exact shape (and its own allow-lists
//! are narrowed to the same algorithms as a second line).

use crate::dom::{self, NodePtr};
use crate::error::{DsigError, DsigErrorKind};
use libxml::tree::Document;
use serde::Serialize;

/// Exclusive XML Canonicalization 1.0 (without comments).
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// The enveloped-signature transform.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// SHA-256 digest.
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// RSA PKCS#1 v1.5 with SHA-256.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// ECDSA with SHA-256.
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/// RSASSA-PSS with SHA-256 (RFC 6931 §2.3.10: MGF1 with SHA-256, a salt of
/// 32 bytes, trailer field 1); OSCI-Transport 1.2 allows it since its
/// fourth corrigendum, and BSI TR-02102-1 recommends PSS over PKCS#1 v1.5.
pub const RSA_PSS_SHA256: &str = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1";

/// The signature algorithms of the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256 (RSA keys ≥ 2048 bits).
    RsaSha256,
    /// ECDSA with SHA-256 (P-256, P-384 or P-521 keys).
    EcdsaSha256,
    /// RSASSA-PSS with SHA-256 (RSA keys ≥ 2048 bits; [`RSA_PSS_SHA256`]).
    RsaPssSha256,
}

impl SignatureAlgorithm {
    /// The algorithm URI used in `SignatureMethod`.
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha256 => RSA_SHA256,
            Self::EcdsaSha256 => ECDSA_SHA256,
            Self::RsaPssSha256 => RSA_PSS_SHA256,
        }
    }

    /// Short name (`rsa-sha256`, `ecdsa-sha256`, `rsa-pss-sha256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RsaSha256 => "rsa-sha256",
            Self::EcdsaSha256 => "ecdsa-sha256",
            Self::RsaPssSha256 => "rsa-pss-sha256",
        }
    }

    /// The key type it signs with: `RSA` or `EC`.
    pub fn key_type(self) -> &'static str {
        match self {
            Self::RsaSha256 | Self::RsaPssSha256 => "RSA",
            Self::EcdsaSha256 => "EC",
        }
    }

    fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            RSA_SHA256 => Some(Self::RsaSha256),
            ECDSA_SHA256 => Some(Self::EcdsaSha256),
            RSA_PSS_SHA256 => Some(Self::RsaPssSha256),
            _ => None,
        }
    }
}

/// Parses a short name ([`SignatureAlgorithm::as_str`]); the error names
/// the known ones.
impl std::str::FromStr for SignatureAlgorithm {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        [Self::RsaSha256, Self::RsaPssSha256, Self::EcdsaSha256]
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "unknown signature algorithm {name:?}: rsa-sha256, rsa-pss-sha256 or ecdsa-sha256"
                )
            })
    }
}

impl std::fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parts of a profile-conforming signature.
pub(crate) struct Parsed {
    /// The one top-level `ds:Signature` element.
    pub signature: NodePtr,
    /// Its signature algorithm.
    pub algorithm: SignatureAlgorithm,
    /// The DER certificates of `KeyInfo/X509Data`, in document order.
    pub certs: Vec<Vec<u8>>,
    /// The `ds:SignedInfo` element.
    pub signed_info: NodePtr,
    /// `InclusiveNamespaces PrefixList` of the `CanonicalizationMethod`.
    pub signed_info_prefixes: Vec<String>,
    /// `InclusiveNamespaces PrefixList` of the reference's exc-C14N transform.
    pub reference_prefixes: Vec<String>,
    /// The text of `ds:DigestValue` (base64).
    pub digest_value: String,
    /// The text of `ds:SignatureValue` (base64).
    pub signature_value: String,
}

/// `ds:X509Certificate` elements allowed in `ds:X509Data`: the signing
/// certificate and its intermediates, a short chain. Counted before any is
/// decoded or parsed.
pub(crate) const MAX_CERTIFICATES: usize = 10;

/// Prefixes the `InclusiveNamespaces PrefixList`s of one exc-C14N algorithm
/// element may name together (each costs work per canonicalised element).
pub(crate) const MAX_INCLUSIVE_PREFIXES: usize = 64;

/// Bytes the `InclusiveNamespaces PrefixList`s of one exc-C14N algorithm
/// element may hold together.
pub(crate) const MAX_PREFIX_LIST_BYTES: usize = 2048;

/// The whitespace-separated prefixes of the `ec:InclusiveNamespaces`
/// children of an exc-C14N algorithm element (checked to be the only
/// children by [`only_inclusive_namespaces`]); more than
/// [`MAX_INCLUSIVE_PREFIXES`] prefixes or [`MAX_PREFIX_LIST_BYTES`] bytes
/// are refused before they are split.
fn inclusive_prefixes(node: NodePtr) -> Result<Vec<String>, DsigError> {
    let too_many = |what: String| {
        err(
            DsigErrorKind::MalformedSignature,
            format!(
                "the InclusiveNamespaces PrefixList of ds:{} ({}) {what}; the profile allows \
                 at most {MAX_INCLUSIVE_PREFIXES} prefixes in {MAX_PREFIX_LIST_BYTES} bytes",
                dom::local_name(node),
                dom::path(node)
            ),
        )
    };
    let mut prefixes = Vec::new();
    let mut bytes = 0;
    for list in dom::element_children(node)
        .into_iter()
        .filter_map(|c| dom::attr(c, c"PrefixList"))
    {
        bytes += list.len();
        if bytes > MAX_PREFIX_LIST_BYTES {
            return Err(too_many(format!(
                "holds more than {MAX_PREFIX_LIST_BYTES} bytes"
            )));
        }
        for prefix in list.split_ascii_whitespace() {
            if prefixes.len() == MAX_INCLUSIVE_PREFIXES {
                return Err(too_many(format!(
                    "names more than {MAX_INCLUSIVE_PREFIXES} prefixes"
                )));
            }
            prefixes.push(prefix.to_owned());
        }
    }
    Ok(prefixes)
}

fn err(kind: DsigErrorKind, detail: impl Into<String>) -> DsigError {
    DsigError::new(kind, detail)
}

/// Algorithm URIs that name something known to be weak.
fn is_weak(uri: &str) -> bool {
    let u = uri.to_ascii_lowercase();
    u.contains("sha1") || u.contains("md5") || u.contains("hmac") || u.ends_with("#dsa-sha256")
}

/// Rejects an algorithm outside the allowed one(s): weak or merely disallowed.
fn algorithm_error(what: &str, uri: &str) -> DsigError {
    if is_weak(uri) {
        err(
            DsigErrorKind::WeakAlgorithm,
            format!("{what} {uri} is weak and refused"),
        )
    } else {
        err(
            DsigErrorKind::DisallowedAlgorithm,
            format!("{what} {uri} is not in the signature profile"),
        )
    }
}

/// The `Algorithm` attribute of `node`, or a malformed-signature error.
fn algorithm_attr(node: NodePtr) -> Result<String, DsigError> {
    dom::attr(node, c"Algorithm").ok_or_else(|| {
        err(
            DsigErrorKind::MalformedSignature,
            format!("{} has no Algorithm attribute", dom::path(node)),
        )
    })
}

/// Expects the next element child to be `ds:{local}`.
fn expect<'a>(
    it: &mut impl Iterator<Item = &'a NodePtr>,
    parent: NodePtr,
    local: &str,
) -> Result<NodePtr, DsigError> {
    match it.next() {
        Some(&n) if dom::is_dsig(n, local) => Ok(n),
        Some(&n) => Err(err(
            DsigErrorKind::MalformedSignature,
            format!(
                "expected ds:{local} but found {} in {}",
                dom::local_name(n),
                dom::path(parent)
            ),
        )),
        None => Err(err(
            DsigErrorKind::MalformedSignature,
            format!("ds:{local} is missing in {}", dom::path(parent)),
        )),
    }
}

/// Only `ec:InclusiveNamespaces` may appear inside an exc-c14n algorithm element.
fn only_inclusive_namespaces(node: NodePtr, kind: DsigErrorKind) -> Result<(), DsigError> {
    for c in dom::element_children(node) {
        let ok = dom::namespace(c).as_deref() == Some(EXC_C14N)
            && dom::local_name(c) == "InclusiveNamespaces";
        if !ok {
            return Err(err(
                kind,
                format!("unexpected {} in {}", dom::local_name(c), dom::path(node)),
            ));
        }
    }
    Ok(())
}

/// Finds the one top-level signature and checks it against the profile.
pub(crate) fn check(doc: &Document) -> Result<Parsed, DsigError> {
    let root = dom::root(doc).ok_or_else(|| {
        err(
            DsigErrorKind::MalformedXml,
            "the document has no root element",
        )
    })?;
    let top: Vec<NodePtr> = dom::element_children(root)
        .into_iter()
        .filter(|&n| dom::is_dsig(n, "Signature"))
        .collect();
    let signature = match top.as_slice() {
        [one] => *one,
        [] if dom::is_dsig(root, "Signature") => {
            return Err(err(
                DsigErrorKind::NoSignature,
                "the document is an enveloping signature (ds:Signature is the root element); \
                 the profile signs a message with an enveloped signature, a ds:Signature as \
                 the last child of the message's root element",
            ));
        }
        [] => {
            let nested = dom::find_signatures(root);
            return Err(match nested.first() {
                Some(&n) => err(
                    DsigErrorKind::NoSignature,
                    format!(
                        "no ds:Signature is a child of the root element; the one at {} covers only part of the document",
                        dom::path(n)
                    ),
                ),
                None => err(DsigErrorKind::NoSignature, "the document is not signed"),
            });
        }
        many => {
            return Err(err(
                DsigErrorKind::MultipleSignatures,
                format!(
                    "the root element has {} ds:Signature children; exactly one is allowed",
                    many.len()
                ),
            ));
        }
    };

    let kids = dom::element_children(signature);
    let mut it = kids.iter();
    let signed_info = expect(&mut it, signature, "SignedInfo")?;
    let signature_value = expect(&mut it, signature, "SignatureValue")?;
    let key_info = match it.next() {
        Some(&n) if dom::is_dsig(n, "KeyInfo") => n,
        Some(&n) if dom::is_dsig(n, "Object") => {
            return Err(err(
                DsigErrorKind::MalformedSignature,
                "ds:Object is not allowed in the profile",
            ));
        }
        Some(&n) => {
            return Err(err(
                DsigErrorKind::MalformedSignature,
                format!("unexpected {} in ds:Signature", dom::local_name(n)),
            ));
        }
        None => {
            return Err(err(
                DsigErrorKind::KeyInfoNotX509,
                "ds:KeyInfo is missing; the profile requires an X.509 certificate",
            ));
        }
    };
    if let Some(&n) = it.next() {
        return Err(err(
            DsigErrorKind::MalformedSignature,
            format!(
                "unexpected {} after ds:KeyInfo (ds:Object is not allowed)",
                dom::local_name(n)
            ),
        ));
    }
    let signature_text = dom::text(signature_value);
    if signature_text.trim().is_empty() {
        return Err(err(
            DsigErrorKind::MalformedSignature,
            "ds:SignatureValue is empty",
        ));
    }

    // SignedInfo: CanonicalizationMethod, SignatureMethod, Reference.
    let si = dom::element_children(signed_info);
    let mut it = si.iter();
    let c14n = expect(&mut it, signed_info, "CanonicalizationMethod")?;
    let c14n_alg = algorithm_attr(c14n)?;
    if c14n_alg != EXC_C14N {
        return Err(err(
            DsigErrorKind::DisallowedTransform,
            format!(
                "CanonicalizationMethod {c14n_alg} is not allowed; the profile uses exclusive C14N ({EXC_C14N})"
            ),
        ));
    }
    only_inclusive_namespaces(c14n, DsigErrorKind::MalformedSignature)?;
    let signed_info_prefixes = inclusive_prefixes(c14n)?;
    let method = expect(&mut it, signed_info, "SignatureMethod")?;
    let method_alg = algorithm_attr(method)?;
    let algorithm = SignatureAlgorithm::from_uri(&method_alg)
        .ok_or_else(|| algorithm_error("SignatureMethod", &method_alg))?;
    if !dom::element_children(method).is_empty() {
        return Err(err(
            DsigErrorKind::MalformedSignature,
            "SignatureMethod has unexpected children",
        ));
    }
    let references: Vec<NodePtr> = it.copied().collect();
    for &r in &references {
        if !dom::is_dsig(r, "Reference") {
            return Err(err(
                DsigErrorKind::MalformedSignature,
                format!("unexpected {} in ds:SignedInfo", dom::local_name(r)),
            ));
        }
        match dom::attr(r, c"URI") {
            Some(uri) if uri.is_empty() => {}
            Some(uri) => {
                return Err(err(
                    DsigErrorKind::ReferenceNotWholeDocument,
                    format!(
                        "Reference URI=\"{uri}\" does not cover the whole document; the profile requires URI=\"\""
                    ),
                ));
            }
            None => {
                return Err(err(
                    DsigErrorKind::ReferenceNotWholeDocument,
                    "Reference without URI; the profile requires URI=\"\" (the whole document)",
                ));
            }
        }
    }
    let reference = match references.as_slice() {
        [one] => *one,
        [] => {
            return Err(err(
                DsigErrorKind::MalformedSignature,
                "ds:SignedInfo has no ds:Reference",
            ));
        }
        many => {
            return Err(err(
                DsigErrorKind::MalformedSignature,
                format!(
                    "ds:SignedInfo has {} references; the profile has exactly one",
                    many.len()
                ),
            ));
        }
    };
    let (reference_prefixes, digest_value) = check_reference(reference)?;
    // Text in `SignedInfo` is signed, but no element of the profile has
    // any, bar `DigestValue`: refuse it rather than sign over it unseen.
    if let Some((at, text)) = dom::stray_text(signed_info, &|n| dom::is_dsig(n, "DigestValue")) {
        let shown: String = text.trim().chars().take(40).collect();
        return Err(err(
            DsigErrorKind::MalformedSignature,
            format!(
                "text {shown:?} in ds:{} ({}); ds:SignedInfo holds only elements (and the \
                 text of ds:DigestValue)",
                dom::local_name(at),
                dom::path(at)
            ),
        ));
    }
    let certs = check_key_info(key_info)?;
    Ok(Parsed {
        signature,
        algorithm,
        certs,
        signed_info,
        signed_info_prefixes,
        reference_prefixes,
        digest_value,
        signature_value: signature_text,
    })
}

/// Reference: Transforms = [enveloped, exc-c14n], DigestMethod SHA-256,
/// DigestValue. Returns the exc-C14N transform's inclusive prefixes and the
/// digest value's text.
fn check_reference(reference: NodePtr) -> Result<(Vec<String>, String), DsigError> {
    let kids = dom::element_children(reference);
    let mut it = kids.iter();
    let transforms = match it.next() {
        Some(&n) if dom::is_dsig(n, "Transforms") => n,
        _ => {
            return Err(err(
                DsigErrorKind::DisallowedTransform,
                "the Reference has no Transforms; the profile requires enveloped-signature then exclusive C14N",
            ));
        }
    };
    let mut algs = Vec::new();
    let mut prefixes = Vec::new();
    for t in dom::element_children(transforms) {
        if !dom::is_dsig(t, "Transform") {
            return Err(err(
                DsigErrorKind::MalformedSignature,
                format!("unexpected {} in ds:Transforms", dom::local_name(t)),
            ));
        }
        let alg = algorithm_attr(t)?;
        match alg.as_str() {
            ENVELOPED => {
                if !dom::element_children(t).is_empty() {
                    return Err(err(
                        DsigErrorKind::DisallowedTransform,
                        "the enveloped-signature transform takes no parameters",
                    ));
                }
            }
            EXC_C14N => {
                only_inclusive_namespaces(t, DsigErrorKind::DisallowedTransform)?;
                prefixes = inclusive_prefixes(t)?;
            }
            other => {
                return Err(err(
                    DsigErrorKind::DisallowedTransform,
                    format!(
                        "Transform {other} is not allowed; the profile allows only enveloped-signature then exclusive C14N"
                    ),
                ));
            }
        }
        algs.push(alg);
    }
    if algs != [ENVELOPED, EXC_C14N] {
        return Err(err(
            DsigErrorKind::DisallowedTransform,
            format!(
                "Transforms are [{}]; the profile requires exactly [enveloped-signature, exclusive C14N]",
                algs.join(", ")
            ),
        ));
    }
    let digest = expect(&mut it, reference, "DigestMethod")?;
    let digest_alg = algorithm_attr(digest)?;
    if digest_alg != SHA256 {
        return Err(algorithm_error("DigestMethod", &digest_alg));
    }
    let digest_value = dom::text(expect(&mut it, reference, "DigestValue")?);
    if let Some(&n) = it.next() {
        return Err(err(
            DsigErrorKind::MalformedSignature,
            format!("unexpected {} in ds:Reference", dom::local_name(n)),
        ));
    }
    Ok((prefixes, digest_value))
}

/// KeyInfo: exactly one X509Data with one to [`MAX_CERTIFICATES`]
/// X509Certificates (its other children are ignored).
fn check_key_info(key_info: NodePtr) -> Result<Vec<Vec<u8>>, DsigError> {
    let kids = dom::element_children(key_info);
    let x509 = match kids.as_slice() {
        [one] if dom::is_dsig(*one, "X509Data") => *one,
        [] => {
            return Err(err(
                DsigErrorKind::KeyInfoNotX509,
                "ds:KeyInfo is empty; the profile requires ds:X509Data",
            ));
        }
        _ => {
            let names: Vec<String> = kids.iter().map(|&n| dom::local_name(n)).collect();
            return Err(err(
                DsigErrorKind::KeyInfoNotX509,
                format!(
                    "ds:KeyInfo holds [{}]; the profile allows exactly one ds:X509Data (no KeyValue, KeyName or RetrievalMethod)",
                    names.join(", ")
                ),
            ));
        }
    };
    let elements: Vec<NodePtr> = dom::element_children(x509)
        .into_iter()
        .filter(|&c| dom::is_dsig(c, "X509Certificate"))
        .collect();
    if elements.len() > MAX_CERTIFICATES {
        return Err(err(
            DsigErrorKind::MalformedSignature,
            format!(
                "ds:X509Data holds {} ds:X509Certificate elements; the profile allows at most \
                 {MAX_CERTIFICATES} (the signing certificate and its intermediates)",
                elements.len()
            ),
        ));
    }
    let certs: Vec<Vec<u8>> = elements
        .into_iter()
        .map(|c| {
            dom::decode_base64(&dom::text(c)).ok_or_else(|| {
                err(
                    DsigErrorKind::MalformedSignature,
                    "ds:X509Certificate is not valid base64",
                )
            })
        })
        .collect::<Result<_, _>>()?;
    if certs.is_empty() {
        return Err(err(
            DsigErrorKind::KeyInfoNotX509,
            "ds:X509Data holds no ds:X509Certificate",
        ));
    }
    Ok(certs)
}

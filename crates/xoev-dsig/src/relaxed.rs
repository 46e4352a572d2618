//! A relaxed verification with a raw public key and xmlsec1's defaults —
//! **only** to test the crypto core against public test vectors (which use
//! `KeyName`, XPath transforms, inclusive C14N). Never use it for gateway
//! traffic: it checks no profile, no certificate and no trust. References
//! are limited to the same document (no file or network access).

use crate::crypto::VerifyKey;
use crate::dom;
use crate::error::{DsigError, DsigErrorKind};
use crate::init::{clear_messages, init};
use crate::profile::SignatureAlgorithm;
use crate::trust;
use crate::xmlsec_ctx::{DsigCtx, Key, Restriction, Status};
use libxml::tree::Document;
use openssl::pkey::PKey;

/// Whether `value` is a valid `algorithm` signature value of the already
/// canonical `signed_info`, checked with the PEM public key exactly as the
/// gateway's own engine checks it (key policy included) — for vectors whose
/// canonicalisation the profile does not allow (xmlsec1 1.3's RSA-PSS one,
/// which Debian's xmlsec1 1.2 cannot verify).
pub fn signature_value_verifies_unchecked(
    algorithm: SignatureAlgorithm,
    public_key_pem: &[u8],
    signed_info: &[u8],
    value: &[u8],
) -> Result<bool, DsigError> {
    let key = PKey::public_key_from_pem(public_key_pem)
        .map_err(|e| DsigError::new(DsigErrorKind::Key, format!("not a PEM public key: {e}")))?;
    trust::check_key(&key, Some(algorithm))?;
    let pss = algorithm == SignatureAlgorithm::RsaPssSha256;
    Ok(VerifyKey::new(&key)?.verify(signed_info, value, pss))
}

/// Verifies the first `ds:Signature` of `doc` (document order) with the PEM
/// public key, under xmlsec1's default settings.
pub fn verify_with_public_key_unchecked(
    doc: &Document,
    public_key_pem: &[u8],
) -> Result<(), DsigError> {
    init()?;
    dom::silence_thread();
    clear_messages();
    let root = dom::root(doc)
        .ok_or_else(|| DsigError::new(DsigErrorKind::MalformedXml, "no root element"))?;
    let sig = *dom::find_signatures(root)
        .first()
        .ok_or_else(|| DsigError::new(DsigErrorKind::NoSignature, "the document is not signed"))?;
    let key = Key::from_public_pem(public_key_pem)?;
    let ctx = DsigCtx::new(Restriction::Defaults)?;
    // SAFETY: `sig` belongs to `doc`, alive and unmodified for the call.
    match unsafe { ctx.verify(&key, sig) }? {
        Status::Valid => Ok(()),
        Status::DigestMismatch => Err(DsigError::new(
            DsigErrorKind::DigestMismatch,
            "digest mismatch",
        )),
        Status::BadSignatureValue => Err(DsigError::new(
            DsigErrorKind::BadSignatureValue,
            "signature value does not verify",
        )),
    }
}

//! The signature arithmetic over canonical bytes, with keys loaded once.
//!
//! ECDSA P-256 and RSA verification run on `ring` (BoringSSL's assembly,
//! no per-call algorithm fetch as in OpenSSL 3's EVP layer); P-256 signing
//! too. P-384/P-521 and RSA signing, which `ring` does not cover for the
//! profile's `ecdsa-sha256` URI or at all, run on OpenSSL with the key
//! parsed once. XML Signature encodes an ECDSA value as `r || s`, each
//! padded to the curve's byte size (RFC 4051 / XML-DSig 1.1 §6.4.3).

use crate::error::{DsigError, DsigErrorKind};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcKeyRef, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private, Public};
use ring::rand::SystemRandom;
use ring::signature::{self as rs, KeyPair as _};

/// A public key ready to verify signature values of the profile.
pub(crate) enum VerifyKey {
    /// ECDSA P-256 (uncompressed point), on `ring`.
    P256(rs::UnparsedPublicKey<Vec<u8>>),
    /// RSA (≥ 2048 bits), PKCS#1 v1.5 with SHA-256, on `ring`.
    Rsa(rs::RsaPublicKeyComponents<Vec<u8>>),
    /// ECDSA P-384/P-521 on OpenSSL, with the curve's byte size.
    OtherEc(PKey<Public>, usize),
}

fn internal(e: impl std::fmt::Display) -> DsigError {
    DsigError::new(DsigErrorKind::Internal, e.to_string())
}

/// The public point of an EC key, uncompressed (`04 || x || y`), the form
/// `ring` takes and gives.
fn uncompressed_point<T: HasPublic>(ec: &EcKeyRef<T>) -> Result<Vec<u8>, DsigError> {
    let mut ctx = BigNumContext::new()?;
    Ok(ec
        .public_key()
        .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)?)
}

/// The byte size of a scalar on the key's curve.
fn field_bytes(curve: Option<Nid>) -> usize {
    match curve {
        Some(Nid::SECP521R1) => 66,
        Some(Nid::SECP384R1) => 48,
        _ => 32,
    }
}

impl VerifyKey {
    /// The verification key of a certificate's public key (already checked
    /// against the key policy).
    pub(crate) fn new(key: &PKeyRef<Public>) -> Result<Self, DsigError> {
        match key.id() {
            Id::EC => {
                let ec = key.ec_key()?;
                let curve = ec.group().curve_name();
                if curve == Some(Nid::X9_62_PRIME256V1) {
                    Ok(Self::P256(rs::UnparsedPublicKey::new(
                        &rs::ECDSA_P256_SHA256_FIXED,
                        uncompressed_point(&ec)?,
                    )))
                } else {
                    Ok(Self::OtherEc(
                        PKey::public_key_from_der(&key.public_key_to_der()?)?,
                        field_bytes(curve),
                    ))
                }
            }
            Id::RSA => {
                let rsa = key.rsa()?;
                Ok(Self::Rsa(rs::RsaPublicKeyComponents {
                    n: rsa.n().to_vec(),
                    e: rsa.e().to_vec(),
                }))
            }
            other => Err(internal(format!("no verification for key type {other:?}"))),
        }
    }

    /// Whether `signature` is a valid signature of `data` (SHA-256); `pss`
    /// selects RSASSA-PSS (MGF1-SHA-256, 32-byte salt) for an RSA key.
    pub(crate) fn verify(&self, data: &[u8], signature: &[u8], pss: bool) -> bool {
        match self {
            Self::P256(k) => k.verify(data, signature).is_ok(),
            Self::Rsa(k) => {
                let params = if pss {
                    &rs::RSA_PSS_2048_8192_SHA256
                } else {
                    &rs::RSA_PKCS1_2048_8192_SHA256
                };
                k.verify(params, data, signature).is_ok()
            }
            Self::OtherEc(k, size) => verify_openssl_ec(k, *size, data, signature),
        }
    }
}

fn verify_openssl_ec(key: &PKey<Public>, size: usize, data: &[u8], signature: &[u8]) -> bool {
    if signature.len() != 2 * size {
        return false;
    }
    let (r, s) = signature.split_at(size);
    let check = || -> Result<bool, openssl::error::ErrorStack> {
        let sig =
            EcdsaSig::from_private_components(BigNum::from_slice(r)?, BigNum::from_slice(s)?)?;
        let digest = openssl::hash::hash(MessageDigest::sha256(), data)?;
        sig.verify(&digest, &*key.ec_key()?)
    };
    check().unwrap_or(false)
}

/// A private key ready to sign.
pub(crate) enum SignKey {
    /// ECDSA P-256 on `ring`.
    P256(Box<rs::EcdsaKeyPair>, SystemRandom),
    /// ECDSA on other curves on OpenSSL, with the curve's byte size.
    OtherEc(PKey<Private>, usize),
    /// RSA with SHA-256 on OpenSSL: PKCS#1 v1.5, or RSASSA-PSS (MGF1-SHA-256,
    /// a salt as long as the digest) where the flag is set.
    Rsa(PKey<Private>, bool),
}

impl SignKey {
    /// The signing key for `key` (already checked against the key policy);
    /// `pss` selects RSASSA-PSS for an RSA key.
    pub(crate) fn new(key: &PKeyRef<Private>, pss: bool) -> Result<Self, DsigError> {
        let owned = || PKey::private_key_from_der(&key.private_key_to_der()?);
        match key.id() {
            Id::EC => {
                let curve = key.ec_key()?.group().curve_name();
                if curve == Some(Nid::X9_62_PRIME256V1) {
                    let rng = SystemRandom::new();
                    let pair = rs::EcdsaKeyPair::from_pkcs8(
                        &rs::ECDSA_P256_SHA256_FIXED_SIGNING,
                        &key.private_key_to_pkcs8()?,
                        &rng,
                    )
                    .map_err(|e| {
                        DsigError::new(
                            DsigErrorKind::Key,
                            format!("the P-256 key cannot be loaded: {e}"),
                        )
                    })?;
                    // The same key as OpenSSL's, not just any parse.
                    if pair.public_key().as_ref() != uncompressed_point(&*key.ec_key()?)?.as_slice()
                    {
                        return Err(internal("ring and OpenSSL disagree on the public key"));
                    }
                    Ok(Self::P256(Box::new(pair), rng))
                } else {
                    Ok(Self::OtherEc(owned()?, field_bytes(curve)))
                }
            }
            Id::RSA => Ok(Self::Rsa(owned()?, pss)),
            other => Err(DsigError::new(
                DsigErrorKind::Key,
                format!("no signing for key type {other:?}"),
            )),
        }
    }

    /// The signature value of `data` (SHA-256), as XML Signature encodes it.
    pub(crate) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, DsigError> {
        match self {
            Self::P256(pair, rng) => Ok(pair
                .sign(rng, data)
                .map_err(|_| internal("ECDSA signing failed"))?
                .as_ref()
                .to_vec()),
            Self::OtherEc(key, size) => {
                let digest = openssl::hash::hash(MessageDigest::sha256(), data)?;
                let sig = EcdsaSig::sign(&digest, &*key.ec_key()?)?;
                let mut out = sig.r().to_vec_padded(*size as i32)?;
                out.extend(sig.s().to_vec_padded(*size as i32)?);
                Ok(out)
            }
            Self::Rsa(key, pss) => {
                let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), key)?;
                if *pss {
                    s.set_rsa_padding(openssl::rsa::Padding::PKCS1_PSS)?;
                    s.set_rsa_mgf1_md(MessageDigest::sha256())?;
                    s.set_rsa_pss_saltlen(openssl::sign::RsaPssSaltlen::DIGEST_LENGTH)?;
                }
                s.update(data)?;
                Ok(s.sign_to_vec()?)
            }
        }
    }
}

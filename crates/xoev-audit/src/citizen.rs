//! Pseudonymous citizen references: the log and the consents never hold a
//! plain tax id, only a keyed hash of it.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use std::str::FromStr;

/// Number of HMAC bytes kept in a reference (128 bits, 32 hex digits).
const REF_BYTES: usize = 16;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// The gateway's secret key for deriving citizen references.
///
/// Whoever holds it can test a guessed tax id against a reference, so it is
/// configuration kept like a private key. Its `Debug` output hides the bytes.
#[derive(Clone)]
pub struct CitizenSecret(Vec<u8>);

impl CitizenSecret {
    /// Wraps a secret of at least [`MIN_SECRET_BYTES`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, CitizenRefError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(CitizenRefError::ShortSecret { len: bytes.len() });
        }
        Ok(Self(bytes))
    }
}

impl fmt::Debug for CitizenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CitizenSecret(..)")
    }
}

/// Why a citizen reference, tax id or secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CitizenRefError {
    /// The tax id is not 11 digits (spaces are ignored) or starts with 0.
    #[error("a tax id (Steuer-IdNr) has 11 digits and does not start with 0")]
    InvalidTaxId,
    /// The text is not a citizen reference (32 lowercase hex digits).
    #[error("a citizen reference is 32 lowercase hex digits")]
    InvalidRef,
    /// The secret is shorter than [`MIN_SECRET_BYTES`].
    #[error(
        "the citizen-reference secret has {len} bytes, at least {MIN_SECRET_BYTES} are required"
    )]
    ShortSecret {
        /// Length of the secret that was given.
        len: usize,
    },
}

impl CitizenRefError {
    /// Stable identifier for JSON output and dead letters.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidTaxId => "invalid-tax-id",
            Self::InvalidRef => "invalid-citizen-ref",
            Self::ShortSecret { .. } => "short-secret",
        }
    }
}

/// A pseudonymous reference to a citizen: the first 128 bits of
/// HMAC-SHA256(secret, tax id), as 32 lowercase hex digits.
///
/// The same tax id and secret always give the same reference, so the gateway
/// derives it from a request's tax id without storing the tax id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CitizenRef(String);

impl CitizenRef {
    /// Derives the reference of a tax id (11 digits; spaces are ignored).
    pub fn from_tax_id(tax_id: &str, secret: &CitizenSecret) -> Result<Self, CitizenRefError> {
        let digits: String = tax_id.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != 11
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(CitizenRefError::InvalidTaxId);
        }
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret.0).map_err(|_| {
            CitizenRefError::ShortSecret {
                len: secret.0.len(),
            }
        })?;
        mac.update(b"xoev-citizen-ref-v1\n");
        mac.update(digits.as_bytes());
        let tag = mac.finalize().into_bytes();
        Ok(Self(hex::encode(&tag[..REF_BYTES])))
    }

    /// The reference as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CitizenRef {
    type Err = CitizenRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = s.len() == REF_BYTES * 2
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(CitizenRefError::InvalidRef)
        }
    }
}

impl TryFrom<String> for CitizenRef {
    type Error = CitizenRefError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<CitizenRef> for String {
    fn from(r: CitizenRef) -> Self {
        r.0
    }
}

impl fmt::Display for CitizenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> CitizenSecret {
        CitizenSecret::new(s.as_bytes()).expect("test value")
    }

    #[test]
    fn same_tax_id_same_ref_other_secret_other_ref() {
        let a = CitizenRef::from_tax_id("86095742719", &secret("0123456789abcdef"))
            .expect("test value");
        let b = CitizenRef::from_tax_id("86 095 742 719", &secret("0123456789abcdef"))
            .expect("test value");
        let c = CitizenRef::from_tax_id("86095742719", &secret("fedcba9876543210"))
            .expect("test value");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_str().len(), 32);
        assert!(!a.as_str().contains("86095742719"));
        assert_eq!(a.as_str().parse::<CitizenRef>().expect("test value"), a);
    }

    #[test]
    fn bad_inputs_are_refused() {
        let s = secret("0123456789abcdef");
        for bad in [
            "",
            "1234567890",
            "123456789012",
            "0609574271x",
            "06095742719",
        ] {
            assert_eq!(
                CitizenRef::from_tax_id(bad, &s),
                Err(CitizenRefError::InvalidTaxId),
                "{bad}"
            );
        }
        assert_eq!(
            CitizenSecret::new(b"short".to_vec()).expect_err("must fail"),
            CitizenRefError::ShortSecret { len: 5 }
        );
        for bad in [
            "",
            "ABCDEF0123456789ABCDEF0123456789",
            "abc",
            "g0000000000000000000000000000000",
        ] {
            assert_eq!(
                bad.parse::<CitizenRef>(),
                Err(CitizenRefError::InvalidRef),
                "{bad}"
            );
        }
        assert!(!format!("{s:?}").contains("0123"));
    }
}

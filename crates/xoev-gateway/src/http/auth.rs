//! Who is calling: authorities with bearer tokens, citizens with tokens
//! issued by the citizen portal.
//!
//! - **Authorities**: `Authorization: Bearer <token>`; the directory
//!   (`routing/authorities.toml`) holds `api_token_sha256`, the SHA-256 (hex)
//!   of each authority's token, never the token itself. The presented token
//!   is hashed and compared in constant time with every configured hash.
//! - **Citizens**: `Authorization: Bearer <ref>.<mac>` where `<ref>` is the
//!   citizen reference and `<mac>` = hex HMAC-SHA256(key, `"xoev-gateway
//!   citizen token v1\n" + ref`). The citizen portal, which already knows
//!   the citizen (it logged them in), issues the token with the same key
//!   ([`CitizenTokens::issue`]); the gateway checks the MAC in constant time
//!   and that `<ref>` is the reference in the path.

use super::{ApiError, AppState};
use axum::http::{HeaderMap, StatusCode, header};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use xoev_audit::CitizenRef;
use xoev_routing::Directory;

/// Shortest accepted citizen-token key.
pub const MIN_CITIZEN_KEY_BYTES: usize = 32;

const CITIZEN_TOKEN_CONTEXT: &[u8] = b"xoev-gateway citizen token v1\n";

/// The SHA-256 hashes of the authorities' API tokens.
#[derive(Debug, Clone, Default)]
pub struct AuthorityTokens {
    entries: Vec<(String, [u8; 32])>,
}

/// Why a token configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenConfigError {
    /// An `api_token_sha256` is not 64 hex digits.
    #[error("authority {authority}: api_token_sha256 is not 64 hex digits")]
    BadHash {
        /// The authority.
        authority: String,
    },
    /// The citizen-token key is too short.
    #[error("the citizen-token key has {len} bytes, at least {MIN_CITIZEN_KEY_BYTES} are required")]
    ShortKey {
        /// Its length.
        len: usize,
    },
}

impl TokenConfigError {
    /// Stable id.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::BadHash { .. } => "bad-token-hash",
            Self::ShortKey { .. } => "short-citizen-key",
        }
    }
}

fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl AuthorityTokens {
    /// The hashes configured in the directory (authorities without one
    /// cannot use the HTTP API).
    pub fn from_directory(directory: &Directory) -> Result<Self, TokenConfigError> {
        let mut out = Self::default();
        for a in directory.authorities() {
            if let Some(hash) = &a.api_token_sha256 {
                out.insert_hash(&a.id, hash)?;
            }
        }
        Ok(out)
    }

    /// Adds a hash (64 hex digits) for `authority`.
    pub fn insert_hash(&mut self, authority: &str, hash_hex: &str) -> Result<(), TokenConfigError> {
        let bad = || TokenConfigError::BadHash {
            authority: authority.to_owned(),
        };
        let bytes = hex::decode(hash_hex.trim()).map_err(|_| bad())?;
        let hash: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        self.entries.push((authority.to_owned(), hash));
        Ok(())
    }

    /// Adds a token in clear (tests, demos).
    pub fn insert_token(&mut self, authority: &str, token: &str) {
        self.entries.push((authority.to_owned(), sha256(token)));
    }

    /// The authority whose token this is. Compares with every entry in
    /// constant time, so the time taken does not depend on which one matched.
    pub fn authenticate(&self, token: &str) -> Option<&str> {
        let presented = sha256(token);
        let mut found = None;
        for (id, hash) in &self.entries {
            if bool::from(hash.ct_eq(&presented)) {
                found = Some(id.as_str());
            }
        }
        found
    }

    /// How many authorities have a token.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no authority has a token.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Issues and checks citizen tokens (see the module documentation).
#[derive(Clone)]
pub struct CitizenTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for CitizenTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CitizenTokens(..)")
    }
}

impl CitizenTokens {
    /// Wraps a key of at least [`MIN_CITIZEN_KEY_BYTES`] bytes.
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, TokenConfigError> {
        let key = key.into();
        if key.len() < MIN_CITIZEN_KEY_BYTES {
            return Err(TokenConfigError::ShortKey { len: key.len() });
        }
        Ok(Self { key })
    }

    fn mac(&self, citizen: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(CITIZEN_TOKEN_CONTEXT);
        mac.update(citizen.as_bytes());
        mac
    }

    /// The token of `citizen` (what the citizen portal hands out).
    pub fn issue(&self, citizen: &CitizenRef) -> String {
        let tag = self.mac(citizen.as_str()).finalize().into_bytes();
        format!("{}.{}", citizen.as_str(), hex::encode(tag))
    }

    /// The citizen a token belongs to, if its MAC is right.
    pub fn verify(&self, token: &str) -> Option<CitizenRef> {
        let (citizen, tag) = token.split_once('.')?;
        let citizen: CitizenRef = citizen.parse().ok()?;
        let tag = hex::decode(tag).ok()?;
        self.mac(citizen.as_str())
            .verify_slice(&tag)
            .ok()
            .map(|()| citizen)
    }
}

/// The bearer token of a request.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send Authorization: Bearer <token>",
        )
    };
    let value = headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim())
}

/// The authenticated authority (401 without a valid token).
pub fn authority(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = bearer(headers)?;
    state
        .inner
        .tokens
        .authenticate(token)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid-token",
                "the token is not valid for any authority",
            )
        })
}

/// Checks that the caller is citizen `path_ref` (401 without a valid
/// citizen token, 403 for another citizen's token).
pub fn citizen(
    state: &AppState,
    headers: &HeaderMap,
    path_ref: &str,
) -> Result<CitizenRef, ApiError> {
    let Some(tokens) = &state.inner.citizens else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "citizen-api-disabled",
            "no citizen-token key is configured on this gateway",
        ));
    };
    let token = bearer(headers)?;
    let who = tokens.verify(token).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid-token",
            "the token is not a valid citizen token",
        )
    })?;
    if who.as_str() != path_ref {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a citizen may only see and change their own consents and access log",
        ));
    }
    Ok(who)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_tokens_match_only_their_own_hash() {
        let mut t = AuthorityTokens::default();
        t.insert_token("ags:1", "secret-one");
        let hash = hex::encode(sha256("secret-two"));
        t.insert_hash("fa:2", &hash).expect("hash");
        assert_eq!(t.authenticate("secret-one"), Some("ags:1"));
        assert_eq!(t.authenticate("secret-two"), Some("fa:2"));
        assert_eq!(t.authenticate("secret-three"), None);
        assert_eq!(t.authenticate(""), None);
        assert!(matches!(
            t.insert_hash("x", "abc"),
            Err(TokenConfigError::BadHash { .. })
        ));
        assert!(t.insert_hash("x", &"zz".repeat(32)).is_err());
    }

    #[test]
    fn citizen_tokens_are_bound_to_the_reference() {
        let tokens = CitizenTokens::new(vec![7u8; 32]).expect("key");
        let a: CitizenRef = "0123456789abcdef0123456789abcdef".parse().expect("ref");
        let b: CitizenRef = "fedcba9876543210fedcba9876543210".parse().expect("ref");
        let ta = tokens.issue(&a);
        assert_eq!(tokens.verify(&ta), Some(a.clone()));
        // a's MAC does not work for b
        let forged = ta.replace(a.as_str(), b.as_str());
        assert_eq!(tokens.verify(&forged), None);
        // another key's token is refused
        let other = CitizenTokens::new(vec![8u8; 32]).expect("key");
        assert_eq!(tokens.verify(&other.issue(&a)), None);
        assert_eq!(tokens.verify("garbage"), None);
        assert_eq!(tokens.verify(&format!("{}.zz", a.as_str())), None);
        assert!(CitizenTokens::new(vec![1u8; 31]).is_err());
    }
}

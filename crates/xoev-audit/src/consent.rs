//! Consents: a citizen allows one authority to fetch one evidence type for
//! one purpose within a validity period, until revoked.

use crate::citizen::CitizenRef;
use crate::error::StoreError;
use crate::timefmt;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Longest accepted identifier, authority id, evidence type or purpose.
pub const MAX_FIELD_LEN: usize = 256;

/// A consent as registered (for example by a citizen portal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConsent {
    /// Consent reference, e.g. `C-123`; unique per store.
    pub id: String,
    /// The citizen who consents.
    pub citizen: CitizenRef,
    /// The authority allowed to ask, e.g. `ags:09162000`.
    pub requester: String,
    /// The evidence type it may ask for (a classification URI or short code).
    pub evidence_type: String,
    /// The purpose the evidence may be used for, e.g. `kita-fee-assessment`.
    pub purpose: String,
    /// First instant the consent is valid (inclusive).
    #[serde(with = "timefmt::serde_utc")]
    pub valid_from: OffsetDateTime,
    /// End of validity (exclusive).
    #[serde(with = "timefmt::serde_utc")]
    pub valid_until: OffsetDateTime,
}

/// A stored consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Consent reference, e.g. `C-123`.
    pub id: String,
    /// The citizen who consents.
    pub citizen: CitizenRef,
    /// The authority allowed to ask.
    pub requester: String,
    /// The evidence type it may ask for.
    pub evidence_type: String,
    /// The purpose the evidence may be used for.
    pub purpose: String,
    /// First instant the consent is valid (inclusive).
    #[serde(with = "timefmt::serde_utc")]
    pub valid_from: OffsetDateTime,
    /// End of validity (exclusive).
    #[serde(with = "timefmt::serde_utc")]
    pub valid_until: OffsetDateTime,
    /// When it was registered.
    #[serde(with = "timefmt::serde_utc")]
    pub registered_at: OffsetDateTime,
    /// When it was revoked, if it was.
    #[serde(with = "timefmt::serde_utc::option", default)]
    pub revoked_at: Option<OffsetDateTime>,
}

impl Consent {
    /// The consent's state at instant `at`.
    pub fn state_at(&self, at: OffsetDateTime) -> ConsentState {
        match self.revoked_at {
            Some(r) if r <= at => ConsentState::Revoked,
            _ if at < self.valid_from => ConsentState::NotYetValid,
            _ if at >= self.valid_until => ConsentState::Expired,
            _ => ConsentState::Valid,
        }
    }

    pub(crate) fn from_new(c: NewConsent, registered_at: OffsetDateTime) -> Self {
        Self {
            id: c.id,
            citizen: c.citizen,
            requester: c.requester,
            evidence_type: c.evidence_type,
            purpose: c.purpose,
            valid_from: timefmt::normalize(c.valid_from),
            valid_until: timefmt::normalize(c.valid_until),
            registered_at: timefmt::normalize(registered_at),
            revoked_at: None,
        }
    }
}

/// The state of a consent at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentState {
    /// Valid and not revoked.
    Valid,
    /// Revoked at or before the instant.
    Revoked,
    /// The validity period ended.
    Expired,
    /// The validity period has not begun.
    NotYetValid,
}

impl ConsentState {
    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::NotYetValid => "not-yet-valid",
        }
    }
}

/// Why no consent applies, or why registering or revoking one failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// The citizen gave this authority no consent for this evidence type.
    #[error("no consent of the citizen for this authority and evidence type")]
    NoConsent,
    /// The matching consent was revoked.
    #[error("consent {id} was revoked at {}", timefmt::format(*at))]
    Revoked {
        /// Consent reference.
        id: String,
        /// When it was revoked.
        at: OffsetDateTime,
    },
    /// The matching consent's validity ended.
    #[error("consent {id} expired at {}", timefmt::format(*until))]
    Expired {
        /// Consent reference.
        id: String,
        /// End of validity.
        until: OffsetDateTime,
    },
    /// The matching consent's validity has not begun.
    #[error("consent {id} is valid only from {}", timefmt::format(*from))]
    NotYetValid {
        /// Consent reference.
        id: String,
        /// Start of validity.
        from: OffsetDateTime,
    },
    /// Consents exist for this authority and evidence type, but for other purposes.
    #[error("no consent for the purpose {purpose:?} (consents exist for other purposes)")]
    OtherPurpose {
        /// The purpose that was asked for.
        purpose: String,
    },
    /// A consent to register has an empty, overlong or malformed field.
    #[error("invalid consent: {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A consent with this reference is already registered.
    #[error("consent {id} is already registered")]
    Duplicate {
        /// Consent reference.
        id: String,
    },
    /// No consent of this citizen has this reference.
    #[error("consent {id} is not known for this citizen")]
    NotFound {
        /// Consent reference.
        id: String,
    },
    /// The consent was already revoked.
    #[error("consent {id} was already revoked at {}", timefmt::format(*at))]
    AlreadyRevoked {
        /// Consent reference.
        id: String,
        /// When it was revoked.
        at: OffsetDateTime,
    },
    /// The store failed; nothing was decided.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ConsentError {
    /// Stable identifier for dead letters, access-log outcomes and JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NoConsent => "no-consent",
            Self::Revoked { .. } => "consent-revoked",
            Self::Expired { .. } => "consent-expired",
            Self::NotYetValid { .. } => "consent-not-yet-valid",
            Self::OtherPurpose { .. } => "consent-other-purpose",
            Self::Invalid { .. } => "invalid-consent",
            Self::Duplicate { .. } => "duplicate-consent",
            Self::NotFound { .. } => "unknown-consent",
            Self::AlreadyRevoked { .. } => "consent-already-revoked",
            Self::Store(e) => e.as_str(),
        }
    }

    /// True when this is a decision against the request (reject it), false
    /// when the store failed or the call itself was wrong.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Self::NoConsent
                | Self::Revoked { .. }
                | Self::Expired { .. }
                | Self::NotYetValid { .. }
                | Self::OtherPurpose { .. }
        )
    }
}

/// Where consents are kept. Implemented by every backend; the decision
/// [`find_valid`](Self::find_valid) is the same for all of them.
#[async_trait::async_trait]
pub trait ConsentStore: Send + Sync {
    /// Registers a consent; fails on invalid fields or a duplicate reference.
    async fn register(&self, consent: NewConsent) -> Result<Consent, ConsentError>;

    /// Revokes the citizen's consent `id` as of `at`. Only the citizen's own
    /// consents are found: another citizen's reference gives `NotFound`.
    async fn revoke(
        &self,
        citizen: &CitizenRef,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<Consent, ConsentError>;

    /// All consents of a citizen, oldest registration first.
    async fn list(&self, citizen: &CitizenRef) -> Result<Vec<Consent>, StoreError>;

    /// The consent that allows `requester` to fetch `evidence_type` of
    /// `citizen` for `purpose` at instant `at`, or the specific reason there
    /// is none.
    async fn find_valid(
        &self,
        citizen: &CitizenRef,
        requester: &str,
        evidence_type: &str,
        purpose: &str,
        at: OffsetDateTime,
    ) -> Result<Consent, ConsentError> {
        let all = self.list(citizen).await?;
        select_valid(&all, requester, evidence_type, purpose, at)
    }
}

/// The decision behind [`ConsentStore::find_valid`], over a citizen's consents.
///
/// A valid consent with the exact requester, evidence type and purpose wins.
/// Otherwise the reason comes from the matching consent registered last
/// (revoked, expired or not yet valid); if none matches the purpose but some
/// match requester and evidence type, the reason is "other purpose"; else
/// "no consent".
pub fn select_valid(
    consents: &[Consent],
    requester: &str,
    evidence_type: &str,
    purpose: &str,
    at: OffsetDateTime,
) -> Result<Consent, ConsentError> {
    let candidates: Vec<&Consent> = consents
        .iter()
        .filter(|c| c.requester == requester && c.evidence_type == evidence_type)
        .collect();
    if candidates.is_empty() {
        return Err(ConsentError::NoConsent);
    }
    let same_purpose: Vec<&Consent> = candidates
        .into_iter()
        .filter(|c| c.purpose == purpose)
        .collect();
    if let Some(valid) = same_purpose
        .iter()
        .filter(|c| c.state_at(at) == ConsentState::Valid)
        .max_by_key(|c| c.valid_until)
    {
        return Ok((*valid).clone());
    }
    let Some(last) = same_purpose.iter().max_by_key(|c| c.registered_at) else {
        return Err(ConsentError::OtherPurpose {
            purpose: purpose.to_owned(),
        });
    };
    let id = last.id.clone();
    Err(match (last.state_at(at), last.revoked_at) {
        (ConsentState::Revoked, Some(at)) => ConsentError::Revoked { id, at },
        (ConsentState::NotYetValid, _) => ConsentError::NotYetValid {
            id,
            from: last.valid_from,
        },
        _ => ConsentError::Expired {
            id,
            until: last.valid_until,
        },
    })
}

/// Checks the fields of a consent to register.
pub(crate) fn check_new(c: &NewConsent) -> Result<(), ConsentError> {
    check_field("id", &c.id)?;
    check_field("requester", &c.requester)?;
    check_field("evidence_type", &c.evidence_type)?;
    check_field("purpose", &c.purpose)?;
    if c.valid_from >= c.valid_until {
        return Err(ConsentError::Invalid {
            field: "valid_until",
            reason: "must be later than valid_from".into(),
        });
    }
    Ok(())
}

/// A field is non-empty, at most [`MAX_FIELD_LEN`] bytes, without whitespace
/// or control characters.
pub(crate) fn check_field(field: &'static str, value: &str) -> Result<(), ConsentError> {
    let reason = if value.is_empty() {
        "is empty"
    } else if value.len() > MAX_FIELD_LEN {
        "is too long"
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "contains whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(ConsentError::Invalid {
        field,
        reason: reason.into(),
    })
}

//! Certificate revocation: the certificate revocation lists (CRLs) of the
//! trust store, and the check of a verified chain against them.
//!
//! OpenSSL decides everything cryptographic here (parsing, the CRL's
//! signature, looking a certificate up in it); what is ours is the policy.
//! OpenSSL's own CRL check (`X509_V_FLAG_CRL_CHECK_ALL`) demands a CRL for
//! every CA of every chain, and only a verify callback — which the
//! `openssl` crate does not offer for a certificate store — could limit it
//! to the CAs that publish one ([`Revocation::IfPublished`], the default);
//! its verdicts also say "CRL has expired" without naming which, where an
//! operator needs the file to replace.

use crate::error::{DsigError, DsigErrorKind};
use crate::trust::{self, name_string};
use foreign_types::ForeignTypeRef;
use openssl::x509::{CrlStatus, X509, X509Crl, X509Ref, X509VerifyResult};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// How the revocation of the certificates of a chain is checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Revocation {
    /// A certificate whose issuer has a CRL in the trust store is checked
    /// against it (and that CRL must be current); the certificates of
    /// issuers without one are not checked.
    #[default]
    IfPublished,
    /// Every certificate of a chain below its trust anchor must be checked
    /// against a current CRL of its issuer: a CA without one in the trust
    /// store is an error.
    Required,
}

impl Revocation {
    /// The configuration spelling (`if-published`, `required`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IfPublished => "if-published",
            Self::Required => "required",
        }
    }
}

impl std::str::FromStr for Revocation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "if-published" => Ok(Self::IfPublished),
            "required" => Ok(Self::Required),
            other => Err(format!(
                "unknown revocation policy {other:?} (expected \"if-published\" or \"required\")"
            )),
        }
    }
}

/// A CRL loaded from the trust store.
pub(crate) struct Crl {
    crl: X509Crl,
    /// The file it came from (for messages).
    source: String,
}

/// What an operator needs to know about one CRL of the trust store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrlInfo {
    /// The file it was loaded from.
    pub source: String,
    /// Its issuer (`C=DE, O=..., CN=...`).
    pub issuer: String,
    /// When it was issued (unix seconds).
    pub this_update: i64,
    /// When the next one is due and this one stops counting as current
    /// (unix seconds); `None` if it names no date.
    pub next_update: Option<i64>,
    /// How many certificates it revokes.
    pub revoked: usize,
}

impl Crl {
    /// Parses one CRL (PEM or DER) from `source`, refusing what the check
    /// would not read correctly: delta and partitioned CRLs (any critical
    /// CRL extension: a delta indicator or an issuing distribution point)
    /// and indirect CRLs (an entry naming another certificate issuer).
    pub(crate) fn parse(bytes: &[u8], source: &str) -> Result<Self, DsigError> {
        let bad = |d: String| DsigError::new(DsigErrorKind::TrustStore, format!("{source}: {d}"));
        let crl = if bytes.starts_with(b"-----BEGIN") {
            X509Crl::from_pem(bytes)
        } else {
            X509Crl::from_der(bytes)
        }
        .map_err(|e| bad(format!("not a CRL: {e}")))?;
        // SAFETY: `crl` is a valid X509_CRL for the duration of the call;
        // the function only reads its extension list.
        let critical = unsafe { openssl_sys::X509_CRL_get_ext_by_critical(crl.as_ptr(), 1, -1) };
        if critical >= 0 {
            return Err(bad(
                "the CRL has a critical extension (a delta CRL or an issuing distribution point); \
                 only complete CRLs are supported"
                    .into(),
            ));
        }
        if let Some(entries) = crl.get_revoked() {
            for entry in entries {
                let indirect = entry
                    .extension::<openssl::x509::CertificateIssuer>()
                    .map_err(|e| bad(format!("unreadable entry: {e}")))?;
                if indirect.is_some() {
                    return Err(bad(
                        "the CRL is indirect (an entry names another certificate issuer); \
                         only CRLs issued by the certificates' own CA are supported"
                            .into(),
                    ));
                }
            }
        }
        Ok(Self {
            crl,
            source: source.to_owned(),
        })
    }

    /// Its issuer's name as [`name_string`].
    pub(crate) fn issuer(&self) -> String {
        name_string(self.crl.issuer_name())
    }

    /// Whether it names `cert`'s subject as its issuer.
    pub(crate) fn names(&self, cert: &X509Ref) -> bool {
        same_name(self.crl.issuer_name(), cert.subject_name())
    }

    /// Whether `issuer`'s key signed it.
    pub(crate) fn signed_by(&self, issuer: &X509Ref) -> bool {
        self.names(issuer)
            && issuer
                .public_key()
                .is_ok_and(|key| self.crl.verify(&key).unwrap_or(false))
    }

    pub(crate) fn info(&self) -> Result<CrlInfo, DsigError> {
        Ok(CrlInfo {
            source: self.source.clone(),
            issuer: self.issuer(),
            this_update: trust::unix(self.crl.last_update())?,
            next_update: self.crl.next_update().map(trust::unix).transpose()?,
            revoked: self.crl.get_revoked().map_or(0, |r| r.len()),
        })
    }
}

fn same_name(a: &openssl::x509::X509NameRef, b: &openssl::x509::X509NameRef) -> bool {
    matches!(a.try_cmp(b), Ok(Ordering::Equal))
}

/// Checks every certificate of a verified `chain` (leaf first, trust anchor
/// last) that is not self-issued against the current CRL of its issuer;
/// `anchors` supply issuers that are not in the chain. Returns the earliest
/// `nextUpdate` of the CRLs used: the verdict holds until then.
pub(crate) fn check_chain(
    chain: &[X509],
    anchors: &[X509],
    crls: &[Crl],
    policy: Revocation,
    now: i64,
) -> Result<Option<i64>, DsigError> {
    let mut until: Option<i64> = None;
    for (depth, cert) in chain.iter().enumerate() {
        if cert.issued(cert) == X509VerifyResult::OK {
            // A self-issued root: trusted by being in the store, removed
            // from it to withdraw that trust.
            continue;
        }
        let issuers: Vec<&X509> = chain[depth + 1..]
            .iter()
            .chain(anchors)
            .filter(|i| {
                i.issued(cert) == X509VerifyResult::OK
                    && i.public_key()
                        .is_ok_and(|k| cert.verify(&k).unwrap_or(false))
            })
            .collect();
        let what = || {
            if depth == 0 {
                format!("the signing certificate ({})", trust::subject(cert))
            } else {
                format!(
                    "chain certificate at depth {depth} ({})",
                    trust::subject(cert)
                )
            }
        };
        let issuer_name = name_string(cert.issuer_name());
        let current = current_crl(cert, &issuers, crls, now, &issuer_name)?;
        let Some(crl) = current else {
            if policy == Revocation::Required && !issuers.is_empty() {
                return Err(DsigError::new(
                    DsigErrorKind::RevocationUnknown,
                    format!(
                        "{}: the trust store holds no CRL of its issuer {issuer_name} \
                         (revocation = \"required\")",
                        what()
                    ),
                ));
            }
            continue;
        };
        if let CrlStatus::Revoked(entry) = crl.crl.get_by_cert(cert) {
            let when = trust::unix(entry.revocation_date())
                .ok()
                .map(date)
                .unwrap_or_else(|| "an unreadable date".into());
            return Err(DsigError::new(
                DsigErrorKind::RevokedCertificate,
                format!(
                    "{} was revoked by {issuer_name} on {when} (serial {}, CRL {})",
                    what(),
                    trust::serial_hex(cert),
                    crl.source
                ),
            ));
        }
        if let Some(next) = crl.crl.next_update().map(trust::unix).transpose()? {
            until = Some(until.map_or(next, |u| u.min(next)));
        }
    }
    Ok(until)
}

/// The CRL that speaks for `cert` now: signed by one of its `issuers`,
/// the latest issued one. `None` if there is none; an error if the latest
/// is no longer (or not yet) current.
fn current_crl<'c>(
    cert: &X509Ref,
    issuers: &[&X509],
    crls: &'c [Crl],
    now: i64,
    issuer_name: &str,
) -> Result<Option<&'c Crl>, DsigError> {
    let mut best: Option<(&Crl, i64)> = None;
    for crl in crls {
        if !same_name(crl.crl.issuer_name(), cert.issuer_name())
            || !issuers.iter().any(|i| crl.signed_by(i))
        {
            continue;
        }
        let issued = trust::unix(crl.crl.last_update())?;
        if best.is_none_or(|(_, b)| issued > b) {
            best = Some((crl, issued));
        }
    }
    let Some((crl, issued)) = best else {
        return Ok(None);
    };
    let unknown = |d: String| DsigError::new(DsigErrorKind::RevocationUnknown, d);
    if issued > now {
        return Err(unknown(format!(
            "the CRL of {issuer_name} ({}) is issued for {}, later than now: check the clock",
            crl.source,
            date(issued)
        )));
    }
    if let Some(next) = crl.crl.next_update().map(trust::unix).transpose()?
        && next < now
    {
        return Err(unknown(format!(
            "the CRL of {issuer_name} ({}) expired on {}: put its current CRL into the trust store",
            crl.source,
            date(next)
        )));
    }
    Ok(Some(crl))
}

/// Unix seconds as OpenSSL prints a time (`Nov 27 11:00:00 2026 GMT`).
fn date(secs: i64) -> String {
    openssl::asn1::Asn1Time::from_unix(secs)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| secs.to_string())
}

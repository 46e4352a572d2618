//! `xoev-gateway verify --trust DIR [--expect-subject S | --expect-sha256 H] FILE...`

use super::{Format, Global, Outcome, expand_dirs, read_input};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use xoev_dsig::{CertMatcher, DsigError, Revocation, TrustStore, Verified, Verifier};

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Trust store: a directory of PEM CA/authority certificates, and the
    /// CRLs of their CAs (`*.crl`, or `X509 CRL` blocks in `*.pem`).
    #[arg(long, value_name = "DIR")]
    pub trust: PathBuf,
    /// `if-published`: a certificate whose CA has a CRL in the trust store
    /// is checked against it; `required`: every CA must have a current one.
    #[arg(long, value_name = "POLICY", default_value = "if-published")]
    pub revocation: Revocation,
    /// The signer's certificate subject must be exactly this
    /// (as printed: `C=DE, O=..., CN=...`).
    #[arg(long, value_name = "SUBJECT", conflicts_with = "expect_sha256")]
    pub expect_subject: Option<String>,
    /// The signer's certificate SHA-256 fingerprint must be this (64 hex
    /// digits, `:` between the bytes allowed).
    #[arg(long, value_name = "HEX", value_parser = sha256_fingerprint)]
    pub expect_sha256: Option<String>,
    /// Signed messages (`-` reads stdin; a directory: every `.xml` file
    /// under it).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// A SHA-256 fingerprint as given, once it is one: a mistyped one is a
/// usage error, not a signer that does not match.
fn sha256_fingerprint(s: &str) -> Result<String, String> {
    let digits: String = s.chars().filter(|c| *c != ':').collect();
    if digits.len() == 64 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "not a SHA-256 fingerprint: {} hex digits expected, {s:?} has {}",
            64,
            digits.chars().filter(char::is_ascii_hexdigit).count()
        ))
    }
}

impl VerifyArgs {
    /// Who must have signed `message`. Today from the flags; an authority
    /// directory (`--directory`) would look up the message's author here and
    /// return its certificate as `CertMatcher::from_pem`.
    fn expected(&self, _message: &[u8]) -> Option<CertMatcher> {
        if let Some(s) = &self.expect_subject {
            return Some(CertMatcher::Subject(s.clone()));
        }
        self.expect_sha256
            .as_ref()
            .map(|h| CertMatcher::Sha256(h.clone()))
    }
}

#[derive(Serialize)]
struct Report {
    file: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    verified: Option<Verified>,
}

/// Verifies each file.
pub fn run(g: &Global, args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let verifier =
        Verifier::new(TrustStore::from_dir(&args.trust)?.with_revocation(args.revocation));
    let mut outcome = Outcome::Ok;
    let mut reports = Vec::new();
    let files = match expand_dirs(&args.files) {
        Ok(f) => f,
        Err(e) => {
            return Ok(super::cannot(g, format!("{e}")));
        }
    };
    for file in &files {
        let name = file.display().to_string();
        let report = match read_input(file) {
            Err(e) => {
                outcome = outcome.worst(Outcome::IoError);
                Report {
                    file: name,
                    ok: false,
                    kind: Some("io"),
                    reason: Some(format!("cannot read: {e}")),
                    verified: None,
                }
            }
            Ok(bytes) => {
                let expected = args.expected(&bytes);
                match verifier.verify_bytes(&bytes, &g.limits(), expected.as_ref()) {
                    Ok((v, _doc)) => Report {
                        file: name,
                        ok: true,
                        kind: None,
                        reason: None,
                        verified: Some(v),
                    },
                    Err(e) => {
                        outcome = outcome.worst(outcome_of(&e));
                        Report {
                            file: name,
                            ok: false,
                            kind: Some(e.kind().as_str()),
                            reason: Some(e.detail().to_owned()),
                            verified: None,
                        }
                    }
                }
            }
        };
        if g.format == Format::Text {
            match &report.verified {
                Some(v) => println!(
                    "{}: ok (signed by {}, {}, sha256 {})",
                    report.file, v.signer_subject, v.algorithm, v.signer_cert_sha256
                ),
                None => println!(
                    "{}: [{}] {}",
                    report.file,
                    report.kind.unwrap_or("error"),
                    report.reason.as_deref().unwrap_or("")
                ),
            }
        }
        reports.push(report);
    }
    if g.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(outcome)
}

fn outcome_of(e: &DsigError) -> Outcome {
    if e.kind().is_rejection() {
        Outcome::Rejected
    } else {
        Outcome::IoError
    }
}

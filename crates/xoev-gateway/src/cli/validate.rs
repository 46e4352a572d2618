//! `xoev-gateway validate FILE...`

use super::{Format, Global, Outcome, expand_dirs, issue_location, read_input};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use xoev_core::{HeaderForm, OOTS_EDM_SPECIFICATION};
use xoev_schema::{Issue, Validated, Validator, same_version};

/// Arguments of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Messages to validate (`-` reads stdin; a directory: every `.xml`
    /// file under it).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Serialize)]
struct Report {
    file: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    standard: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    /// The root's `version` attribute where it differs from the version
    /// of the schema that validated it (see `Catalogue::lookup`).
    #[serde(skip_serializing_if = "Option::is_none")]
    root_version: Option<String>,
    /// An EU OOTS message's `SpecificationIdentifier` where it names
    /// another release than the schema that validated it (EDM 2.0 content
    /// the 1.0 schema accepts).
    #[serde(skip_serializing_if = "Option::is_none")]
    specification: Option<String>,
    /// Signed: validated without its enveloped signature, as the service
    /// does after verifying (the signature is `verify`'s business).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    signed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<Issue>,
}

/// Validates each file; prints `FILE: ok` or `FILE:LINE:COL: path: message`.
pub fn run(g: &Global, args: &ValidateArgs) -> anyhow::Result<Outcome> {
    let validator = Validator::new(g.catalogue()?, g.limits());
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
                    standard: None,
                    version: None,
                    root_version: None,
                    specification: None,
                    signed: false,
                    kind: Some("io"),
                    errors: vec![Issue {
                        line: None,
                        column: None,
                        path: None,
                        message: format!("cannot read: {e}"),
                    }],
                }
            }
            Ok(bytes) => match validator.validate(bytes::Bytes::from(bytes.clone())) {
                Ok(v) => Report {
                    file: name,
                    ok: true,
                    standard: Some(v.entry.name.clone()),
                    version: Some(v.entry.version.clone()),
                    root_version: v.message.version.clone().filter(|r| *r != v.entry.version),
                    specification: other_specification(&v),
                    signed: v.signatures_set_aside > 0,
                    kind: None,
                    errors: vec![],
                },
                Err(e) => {
                    outcome = outcome.worst(Outcome::Rejected);
                    let (standard, version) = match &e {
                        xoev_schema::SchemaError::Invalid {
                            standard, version, ..
                        } => (Some(standard.clone()), Some(version.clone())),
                        _ => (None, None),
                    };
                    // What an invalid EU OOTS message says it is: the errors
                    // may be those of another EDM release than the schema's.
                    let specification = version
                        .as_deref()
                        .and_then(|v| named_release(bytes, v, g.limits()));
                    Report {
                        file: name,
                        ok: false,
                        standard,
                        version,
                        root_version: None,
                        specification,
                        signed: false,
                        kind: Some(e.kind().as_str()),
                        errors: e.issues(),
                    }
                }
            },
        };
        if g.format == Format::Text {
            print_text(&report);
        }
        reports.push(report);
    }
    if g.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(outcome)
}

fn print_text(r: &Report) {
    if r.ok {
        println!(
            "{}: ok ({} {}{}{}{})",
            r.file,
            r.standard.as_deref().unwrap_or("?"),
            r.version.as_deref().unwrap_or("?"),
            if r.signed {
                "; signed: the content without its signature, which `verify` checks"
            } else {
                ""
            },
            r.root_version
                .as_ref()
                .map(|v| format!("; the root's version attribute says {v:?}"))
                .unwrap_or_default(),
            r.specification
                .as_ref()
                .map(|s| format!("; the message names {s}{}", profile_note(s)))
                .unwrap_or_default()
        );
        return;
    }
    let kind = r.kind.unwrap_or("error");
    for i in &r.errors {
        println!("{}: [{kind}] {}", issue_location(&r.file, i), i.message);
    }
    if let (Some(spec), Some(standard), Some(version)) = (&r.specification, &r.standard, &r.version)
    {
        if spec.starts_with(OOTS_EDM_SPECIFICATION) {
            println!(
                "{}: note: the message names {spec}; the catalogue validates it as {standard} {version}, the only release it has",
                r.file
            );
        } else {
            println!(
                "{}: note: the message names {spec}{}",
                r.file,
                profile_note(spec)
            );
        }
    }
}

/// An EU OOTS message's `SpecificationIdentifier` (`oots-edm:v2.0`) where
/// its release is not the validating schema's, or that of another RegRep
/// profile (TOOP's `toop-edm:v2.1`) the OOTS-EDM entry validated.
fn other_specification(v: &Validated<'_>) -> Option<String> {
    named_specification(&v.message, &v.entry.version)
}

/// [`other_specification`] for a document the schema refused: its
/// envelope read again (the header may be readable although the body is
/// not valid).
fn named_release(raw: Vec<u8>, version: &str, limits: xoev_core::Limits) -> Option<String> {
    let (message, _) = xoev_core::Message::parse_keeping_header_error(raw, &limits).ok()?;
    named_specification(&message, version)
}

/// The specification `m` names where it is not the EDM release `version`:
/// another release, or another RegRep profile (then it has no header).
fn named_specification(m: &xoev_core::Message, version: &str) -> Option<String> {
    match m.header.as_ref() {
        Some(h) => other_release(h, version),
        None => m
            .specification
            .clone()
            .filter(|s| !s.starts_with(OOTS_EDM_SPECIFICATION)),
    }
}

/// For a specification of another RegRep profile than the OOTS EDM: what
/// validating it means.
fn profile_note(spec: &str) -> &'static str {
    if spec.starts_with(OOTS_EDM_SPECIFICATION) {
        ""
    } else {
        ", no OOTS EDM release: validated against the RegRep 4 schemas the profiles share; the gateway does not route it"
    }
}

/// An OOTS message's EDM release where it is not `version`, the schema's.
pub(crate) fn other_release(h: &xoev_core::Header, version: &str) -> Option<String> {
    if h.form != HeaderForm::OotsEdm {
        return None;
    }
    let spec = h.message_type.list_uri.as_deref()?;
    let (_, release) = spec.rsplit_once(":v")?;
    (!same_version(release, version)).then(|| spec.to_owned())
}

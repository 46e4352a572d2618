//! `xoev-gateway sign (--key K --cert C | --pkcs12 P --password-env VAR|--password-file F) [--algorithm A] [--out F] FILE`

use super::{Format, Global, Outcome, read_input};
use anyhow::{Context, bail};
use clap::{ArgGroup, Args};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use xoev_dsig::{SignatureAlgorithm, Signer};

/// Arguments of `sign`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("key-source").required(true).args(["key", "pkcs12"])))]
pub struct SignArgs {
    /// Unencrypted PEM private key (PKCS#1, SEC1 or PKCS#8).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// PEM certificate of the key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PKCS#12 file holding key and certificate (password via
    /// --password-env or --password-file, never on the command line).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key", "cert"])]
    pub pkcs12: Option<PathBuf>,
    /// Name of the environment variable holding the PKCS#12 password.
    #[arg(
        long,
        value_name = "VAR",
        requires = "pkcs12",
        conflicts_with_all = ["password_file", "key"]
    )]
    pub password_env: Option<String>,
    /// File whose first line is the PKCS#12 password.
    #[arg(long, value_name = "FILE", requires = "pkcs12", conflicts_with = "key")]
    pub password_file: Option<PathBuf>,
    /// Signature algorithm: `rsa-pss-sha256` (RSASSA-PSS) or `rsa-sha256`
    /// for an RSA key, `ecdsa-sha256` for an EC key [default: rsa-sha256 or
    /// ecdsa-sha256, by the key].
    #[arg(long, value_name = "ALGORITHM", value_parser = ["rsa-sha256", "rsa-pss-sha256", "ecdsa-sha256"])]
    pub algorithm: Option<String>,
    /// Where to write the signed message [default: stdout].
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Message to sign (`-` reads stdin).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Serialize)]
struct Report {
    file: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Where in the input the reason was found, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<String>,
    algorithm: &'static str,
    signer_subject: String,
    signer_cert_sha256: String,
    /// The signed message, when JSON goes to stdout and no --out is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<String>,
}

/// Loads the signer named by the arguments, signing with `--algorithm`.
pub fn load_signer(args: &SignArgs) -> anyhow::Result<Signer> {
    let signer = load_key(args)?;
    match args.algorithm.as_deref() {
        None => Ok(signer),
        Some(name) => {
            let algorithm: SignatureAlgorithm = name.parse().map_err(anyhow::Error::msg)?;
            Ok(signer.with_algorithm(algorithm)?)
        }
    }
}

fn load_key(args: &SignArgs) -> anyhow::Result<Signer> {
    if let (Some(key), Some(cert)) = (&args.key, &args.cert) {
        return Ok(Signer::from_files(key, cert)?);
    }
    let Some(p12) = &args.pkcs12 else {
        bail!("give --key and --cert, or --pkcs12");
    };
    let password = match (&args.password_env, &args.password_file) {
        (Some(var), _) => {
            std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?
        }
        (None, Some(file)) => read_password_file(file)?,
        (None, None) => bail!("--pkcs12 needs --password-env VAR or --password-file FILE"),
    };
    let der = std::fs::read(p12).with_context(|| format!("cannot read {}", p12.display()))?;
    Ok(Signer::from_pkcs12(&der, &password)?)
}

fn read_password_file(file: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// Signs one message.
pub fn run(g: &Global, args: &SignArgs) -> anyhow::Result<Outcome> {
    let signer = load_signer(args)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if signer.not_after() < now {
        eprintln!(
            "warning: the signing certificate has expired; verifiers will refuse this signature"
        );
    }
    let name = args.file.display().to_string();
    let bytes = read_input(&args.file).with_context(|| format!("cannot read {name}"))?;
    let mut report = Report {
        file: name,
        ok: false,
        kind: None,
        reason: None,
        line: None,
        column: None,
        out: args.out.as_ref().map(|p| p.display().to_string()),
        algorithm: signer.algorithm().as_str(),
        signer_subject: signer.subject().to_owned(),
        signer_cert_sha256: signer.cert_sha256().to_owned(),
        document: None,
    };
    // What the gateway would refuse is not signed either: the envelope
    // (encoding other than UTF-8, DOCTYPE, size) first, then the XML.
    // Each failure: its kind, the reason, whether the input is at fault.
    let refused = |e: xoev_schema::SchemaError| {
        let issue = e.issues().into_iter().next();
        (e.kind().as_str(), issue, true)
    };
    let signed: Result<Vec<u8>, (&'static str, Option<xoev_schema::Issue>, bool)> =
        match xoev_core::Message::parse_keeping_header_error(bytes.clone(), &g.limits()) {
            Err(e) => Err(refused(xoev_schema::SchemaError::Message(e))),
            Ok(_) => match xoev_schema::parse_document(&bytes, &g.limits()) {
                Err(e) => Err(refused(e)),
                Ok(doc) => signer
                    .sign(&doc)
                    .map(|()| xoev_dsig::to_bytes(&doc))
                    .map_err(|e| {
                        let issue = xoev_schema::Issue {
                            line: None,
                            column: None,
                            path: None,
                            message: e.detail().to_owned(),
                        };
                        (e.kind().as_str(), Some(issue), e.kind().is_rejection())
                    }),
            },
        };
    let outcome = match signed {
        Err((kind, issue, rejection)) => {
            report.kind = Some(kind);
            if let Some(i) = issue {
                report.reason = Some(i.message);
                report.line = i.line;
                report.column = i.column;
            }
            if rejection {
                Outcome::Rejected
            } else {
                Outcome::IoError
            }
        }
        Ok(signed) => {
            report.ok = true;
            match &args.out {
                Some(path) => std::fs::write(path, &signed)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None if g.format == Format::Json => {
                    report.document = Some(String::from_utf8_lossy(&signed).into_owned())
                }
                None => std::io::stdout()
                    .write_all(&signed)
                    .context("cannot write to stdout")?,
            }
            Outcome::Ok
        }
    };
    match g.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text if !report.ok => {
            let at = xoev_schema::Issue {
                line: report.line,
                column: report.column,
                path: None,
                message: String::new(),
            };
            println!(
                "{}: [{}] {}",
                super::issue_location(&report.file, &at),
                report.kind.unwrap_or("error"),
                report.reason.as_deref().unwrap_or("")
            );
        }
        Format::Text => {
            if let Some(out) = &report.out {
                println!(
                    "{}: signed ({}, {}) -> {out}",
                    report.file, report.algorithm, report.signer_subject
                );
            }
        }
    }
    Ok(outcome)
}

//! `xoev-gateway keys generate --out DIR`: a test PKI for demos and tests;
//! `xoev-gateway keys revoke`: a CRL of that test CA.

use super::{Format, Global, Outcome};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

/// Arguments of `keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// The `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a test CA, RSA-2048 and ECDSA P-256 authority keys and
    /// certificates signed by it, and an expired certificate (for tests).
    /// Test material only, never production keys.
    Generate {
        /// Directory to write into (created if missing; `trust/` inside is a
        /// `--trust` directory).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace the test CA and keys already in DIR (without it, a DIR
        /// that holds a CA is refused: its certificates would no longer
        /// verify against the new one).
        #[arg(long)]
        force: bool,
    },
    /// Write the test CA's next CRL, revoking the given certificates: the
    /// CRL already at `--out` (if any) keeps its entries and is replaced
    /// by one numbered one higher. Put it into the gateway's trust
    /// directory; a running gateway picks it up within `reload_secs` or at
    /// SIGHUP. Test material only: production CRLs come from your CA.
    Revoke {
        /// The test CA's private key (`ca.key.pem` of `keys generate`).
        #[arg(long, value_name = "FILE")]
        ca_key: PathBuf,
        /// The test CA's certificate (`ca.cert.pem`).
        #[arg(long, value_name = "FILE")]
        ca_cert: PathBuf,
        /// The CRL file to write (PEM), e.g. `trust/ca.crl`.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Days until the CRL's next update: after that it no longer counts
        /// as current and messages of the CA's authorities wait. `0`
        /// writes one that is due at once, to test how a stale CRL is met.
        #[arg(long, value_name = "DAYS", default_value_t = 7)]
        days: u32,
        /// Certificates to revoke (PEM); none writes a CRL that revokes
        /// nothing new, e.g. to renew one before it expires.
        #[arg(value_name = "CERT")]
        certs: Vec<PathBuf>,
    },
}

/// Runs `keys`.
pub fn run(g: &Global, args: &KeysArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        KeysCommand::Generate { out, force } => {
            if !force && out.join("ca.key.pem").exists() {
                return Ok(super::cannot(
                    g,
                    format!(
                        "{} already holds a test CA (ca.key.pem): --force replaces it and every key",
                        out.display()
                    ),
                ));
            }
            let generated = xoev_dsig::pki::generate_dir(out)?;
            let files: Vec<String> = generated
                .files
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            match g.format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "files": files }))?
                ),
                Format::Text => files.iter().for_each(|f| println!("{f}")),
            }
            Ok(Outcome::Ok)
        }
        KeysCommand::Revoke {
            ca_key,
            ca_cert,
            out,
            days,
            certs,
        } => revoke(g, ca_key, ca_cert, out, *days, certs),
    }
}

fn revoke(
    g: &Global,
    ca_key: &Path,
    ca_cert: &Path,
    out: &Path,
    days: u32,
    certs: &[PathBuf],
) -> anyhow::Result<Outcome> {
    let total = xoev_dsig::pki::revoke_into(ca_key, ca_cert, out, certs, days)?;
    match g.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "crl": out.display().to_string(),
                "revoked": total,
                "next_update_days": days,
            }))?
        ),
        Format::Text => println!(
            "{}: {total} certificates revoked, next update due in {days} days",
            out.display()
        ),
    }
    Ok(Outcome::Ok)
}

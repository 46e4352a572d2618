//! `xoev-gateway keys generate --out DIR`: a test PKI for demos and tests.

use super::{Format, Global, Outcome};
use clap::{Args, Subcommand};
use std::path::PathBuf;

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
    },
}

/// Runs `keys`.
pub fn run(g: &Global, args: &KeysArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        KeysCommand::Generate { out } => {
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
    }
}

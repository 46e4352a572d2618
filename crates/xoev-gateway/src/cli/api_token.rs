//! `xoev-gateway api-token`: tokens of the HTTP API (docs/http.md).
//!
//! - `api-token authority` makes a new random token and prints it with the
//!   `api_token_sha256` line for `routing/authorities.toml`;
//! - `api-token hash` prints the hash of a token read from stdin;
//! - `api-token citizen --citizen REF` issues a citizen's token with the key
//!   in `XOEV_CITIZEN_TOKEN_SECRET` (what a citizen portal does).

use super::{Format, Global, Outcome};
use crate::http::CITIZEN_TOKEN_ENV;
use crate::http::auth::CitizenTokens;
use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};
use std::io::Read as _;
use xoev_audit::CitizenRef;

/// Arguments of `api-token`.
#[derive(Debug, Args)]
pub struct ApiTokenArgs {
    #[command(subcommand)]
    pub command: ApiTokenCommand,
}

/// The `api-token` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// A new random authority token (244 random bits) and its SHA-256 for
    /// `api_token_sha256` in routing/authorities.toml.
    Authority,
    /// The SHA-256 (hex) of a token read from stdin (one line).
    Hash,
    /// Issue the token of a citizen (key from XOEV_CITIZEN_TOKEN_SECRET).
    Citizen {
        /// The citizen reference (32 lowercase hex digits).
        #[arg(long, value_name = "REF")]
        citizen: String,
    },
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn print(g: &Global, fields: &[(&str, &str)], text: &str) -> anyhow::Result<()> {
    match g.format {
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                .collect();
            println!("{}", serde_json::to_string_pretty(&map)?);
        }
        Format::Text => println!("{text}"),
    }
    Ok(())
}

/// Runs `api-token`.
pub fn run(g: &Global, args: &ApiTokenArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        ApiTokenCommand::Authority => {
            let token = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            let h = hash(&token);
            print(
                g,
                &[("token", &token), ("api_token_sha256", &h)],
                &format!(
                    "token (give it to the authority, keep it nowhere else):\n  {token}\n\
                     for routing/authorities.toml:\n  api_token_sha256 = \"{h}\""
                ),
            )?;
            Ok(Outcome::Ok)
        }
        ApiTokenCommand::Hash => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input)?;
            let token = input.trim();
            if token.is_empty() {
                return Ok(super::cannot(g, "no token on stdin"));
            }
            // a token is one line: two would hash to what no client sends
            if token.lines().count() > 1 {
                return Ok(super::cannot(
                    g,
                    "more than one line on stdin: give one token",
                ));
            }
            let h = hash(token);
            print(g, &[("api_token_sha256", &h)], &h)?;
            Ok(Outcome::Ok)
        }
        ApiTokenCommand::Citizen { citizen } => {
            let Ok(key) = std::env::var(CITIZEN_TOKEN_ENV) else {
                return Ok(super::cannot(g, format!("{CITIZEN_TOKEN_ENV} is not set")));
            };
            let tokens = match CitizenTokens::new(key.into_bytes()) {
                Ok(t) => t,
                Err(e) => {
                    return Ok(super::cannot(g, format!("{CITIZEN_TOKEN_ENV}: {e}")));
                }
            };
            let citizen: CitizenRef = match citizen.parse() {
                Ok(c) => c,
                Err(e) => {
                    // a malformed argument: usage, as `audit show --citizen`
                    return Ok(super::cannot(g, format!("--citizen {citizen:?}: {e}")));
                }
            };
            let token = tokens.issue(&citizen);
            print(
                g,
                &[("citizen", citizen.as_str()), ("token", &token)],
                &token,
            )?;
            Ok(Outcome::Ok)
        }
    }
}

//! `xoev-gateway consent add|revoke|list`: a citizen's consents, as a
//! citizen portal would register them.

use super::audit::{CitizenArgs, StoreArgs, runtime};
use super::{Format, Global, Outcome};
use anyhow::Context;
use clap::{Args, Subcommand};
use time::OffsetDateTime;
use xoev_audit::{Consent, ConsentError, NewConsent, timefmt};

/// Arguments of `consent`.
#[derive(Debug, Args)]
pub struct ConsentArgs {
    #[command(subcommand)]
    pub command: ConsentCommand,
}

/// The `consent` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Register a consent.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        citizen: CitizenArgs,
        /// Consent reference, e.g. C-123 (unique).
        #[arg(long, value_name = "ID")]
        id: String,
        /// The authority allowed to ask, e.g. ags:09162000.
        #[arg(long, value_name = "AUTHORITY")]
        requester: String,
        /// The evidence type it may ask for.
        #[arg(long, value_name = "TYPE")]
        evidence_type: String,
        /// The purpose, e.g. kita-fee-assessment.
        #[arg(long, value_name = "PURPOSE")]
        purpose: String,
        /// Start of validity, RFC 3339 [default: now].
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        from: Option<OffsetDateTime>,
        /// End of validity (exclusive), RFC 3339.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        until: OffsetDateTime,
    },
    /// Revoke a consent of the citizen.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        citizen: CitizenArgs,
        /// Consent reference.
        #[arg(value_name = "ID")]
        id: String,
        /// When the revocation takes effect, RFC 3339 [default: now].
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        at: Option<OffsetDateTime>,
    },
    /// List the citizen's consents with their state now.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        citizen: CitizenArgs,
    },
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    timefmt::parse(s).map_err(|e| format!("not an RFC 3339 time (2026-03-01T10:15:00Z): {e}"))
}

/// Runs a `consent` subcommand.
pub fn run(g: &Global, args: &ConsentArgs) -> anyhow::Result<Outcome> {
    let rt = runtime()?;
    let now = OffsetDateTime::now_utc();
    match &args.command {
        ConsentCommand::Add {
            store,
            citizen,
            id,
            requester,
            evidence_type,
            purpose,
            from,
            until,
        } => {
            let new = NewConsent {
                id: id.clone(),
                citizen: citizen.resolve()?,
                requester: requester.clone(),
                evidence_type: evidence_type.clone(),
                purpose: purpose.clone(),
                valid_from: from.unwrap_or(now),
                valid_until: *until,
            };
            let result = rt.block_on(async {
                store
                    .open_or_create()
                    .await?
                    .register(new)
                    .await
                    .map_err(anyhow::Error::from)
            });
            report(g, result, "registered", now)
        }
        ConsentCommand::Revoke {
            store,
            citizen,
            id,
            at,
        } => {
            let citizen = citizen.resolve()?;
            let result = rt.block_on(async {
                store
                    .open()
                    .await?
                    .revoke(&citizen, id, at.unwrap_or(now))
                    .await
                    .map_err(anyhow::Error::from)
            });
            report(g, result, "revoked", now)
        }
        ConsentCommand::List { store, citizen } => {
            let citizen = citizen.resolve()?;
            let all = rt
                .block_on(async {
                    store
                        .open()
                        .await?
                        .list(&citizen)
                        .await
                        .map_err(anyhow::Error::from)
                })
                .context("cannot list consents")?;
            match g.format {
                Format::Json => {
                    let items: Vec<_> = all.iter().map(|c| json(c, now)).collect();
                    println!("{}", serde_json::to_string_pretty(&items)?);
                }
                Format::Text => {
                    if all.is_empty() {
                        println!("no consents");
                    }
                    for c in &all {
                        println!("{}", line(c, now));
                    }
                }
            }
            Ok(Outcome::Ok)
        }
    }
}

/// Prints the result of add/revoke: a consent decision error exits 1, a
/// store failure is returned (exit 2).
fn report(
    g: &Global,
    result: anyhow::Result<Consent>,
    verb: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Outcome> {
    match result {
        Ok(c) => {
            match g.format {
                Format::Json => println!(
                    "{}",
                    serde_json::json!({ "ok": true, "consent": json(&c, now) })
                ),
                Format::Text => println!("{verb}: {}", line(&c, now)),
            }
            Ok(Outcome::Ok)
        }
        Err(e) => match e.downcast_ref::<ConsentError>() {
            Some(ce) if !matches!(ce, ConsentError::Store(_)) => {
                match g.format {
                    Format::Json => println!(
                        "{}",
                        serde_json::json!({ "ok": false, "kind": ce.as_str(), "error": ce.to_string() })
                    ),
                    Format::Text => println!("refused: [{}] {ce}", ce.as_str()),
                }
                Ok(Outcome::Rejected)
            }
            _ => Err(e),
        },
    }
}

fn json(c: &Consent, now: OffsetDateTime) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("state".into(), c.state_at(now).as_str().into());
    }
    v
}

fn line(c: &Consent, now: OffsetDateTime) -> String {
    format!(
        "{} [{}] {} may fetch {} for {} from {} until {}{}",
        c.id,
        c.state_at(now).as_str(),
        c.requester,
        c.evidence_type,
        c.purpose,
        timefmt::format(c.valid_from),
        timefmt::format(c.valid_until),
        c.revoked_at
            .map(|r| format!(", revoked {}", timefmt::format(r)))
            .unwrap_or_default()
    )
}

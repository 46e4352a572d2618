//! `xoev-gateway audit verify|show|ref`: the access log — check its hash
//! chain, show a citizen's entries in plain language, derive a citizen
//! reference. Also home of the store and citizen options shared with
//! `consent`.

use super::{Format, Global, Outcome};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use xoev_audit::{AuditStore, ChainHead, CitizenRef, CitizenSecret, Names};

/// Where consents and the access log are kept.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store: a directory (embedded store) or a `postgres://` URL.
    #[arg(long, env = "XOEV_AUDIT_STORE", value_name = "DIR|URL")]
    pub store: String,
    /// PostgreSQL schema holding the tables.
    #[arg(long, env = "XOEV_AUDIT_PG_SCHEMA", default_value = xoev_audit::DEFAULT_SCHEMA, value_name = "NAME")]
    pub pg_schema: String,
}

impl StoreArgs {
    /// Opens an existing store (a missing directory is an error, not an
    /// empty log).
    pub async fn open(&self) -> anyhow::Result<Arc<dyn AuditStore>> {
        let is_url =
            self.store.starts_with("postgres://") || self.store.starts_with("postgresql://");
        if !is_url && !std::path::Path::new(&self.store).is_dir() {
            anyhow::bail!("no store directory {}", self.store);
        }
        self.open_or_create().await
    }

    /// Opens the store, creating the directory of an embedded store.
    pub async fn open_or_create(&self) -> anyhow::Result<Arc<dyn AuditStore>> {
        xoev_audit::open(&self.store, Some(&self.pg_schema))
            .await
            .with_context(|| format!("cannot open the store {}", self.store))
    }
}

/// The citizen concerned: a reference, or a tax id turned into one with the
/// secret from `XOEV_CITIZEN_SECRET`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct CitizenArgs {
    /// Pseudonymous citizen reference (32 hex digits).
    #[arg(long, value_name = "REF")]
    pub citizen: Option<String>,
    /// Tax id (Steuer-IdNr); needs XOEV_CITIZEN_SECRET. Never stored.
    #[arg(long, value_name = "ID")]
    pub tax_id: Option<String>,
}

impl CitizenArgs {
    /// The citizen reference, or a usage error.
    pub fn resolve(&self) -> anyhow::Result<CitizenRef> {
        match (&self.citizen, &self.tax_id) {
            (Some(r), _) => r.parse().with_context(|| format!("--citizen {r:?}")),
            (None, Some(id)) => {
                CitizenRef::from_tax_id(id, &secret_from_env()?).context("--tax-id")
            }
            (None, None) => anyhow::bail!("give --citizen REF or --tax-id ID"),
        }
    }
}

/// The citizen-reference secret from `XOEV_CITIZEN_SECRET` (its UTF-8 bytes).
fn secret_from_env() -> anyhow::Result<CitizenSecret> {
    let s = std::env::var("XOEV_CITIZEN_SECRET")
        .context("--tax-id needs the citizen-reference secret in XOEV_CITIZEN_SECRET")?;
    Ok(CitizenSecret::new(s.into_bytes())?)
}

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; exit 1 naming the first broken entry.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// A head noted earlier (`SEQ:HASH`, as printed by verify) that must
        /// still be in the chain: detects entries removed from the end.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<ChainHead>,
    },
    /// Show who fetched a citizen's data, when and for what, in plain language.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        citizen: CitizenArgs,
        /// Plain-language names of authorities, evidence types and purposes (TOML).
        #[arg(long, env = "XOEV_AUDIT_NAMES", value_name = "FILE")]
        names: Option<PathBuf>,
    },
    /// Print the citizen reference of a tax id (secret from XOEV_CITIZEN_SECRET).
    Ref {
        /// Tax id (Steuer-IdNr).
        #[arg(long, value_name = "ID")]
        tax_id: String,
    },
}

/// Runs an `audit` subcommand.
pub fn run(g: &Global, args: &AuditArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        AuditCommand::Verify { store, expect_head } => {
            runtime()?.block_on(verify(g, store, expect_head.as_ref()))
        }
        AuditCommand::Show {
            store,
            citizen,
            names,
        } => {
            let citizen = citizen.resolve()?;
            let names = match names {
                Some(p) => Names::load(p)?,
                None => Names::default(),
            };
            runtime()?.block_on(show(g, store, &citizen, &names))
        }
        AuditCommand::Ref { tax_id } => {
            let r = CitizenRef::from_tax_id(tax_id, &secret_from_env()?).context("--tax-id")?;
            match g.format {
                Format::Json => println!("{}", serde_json::json!({ "citizen": r })),
                Format::Text => println!("{r}"),
            }
            Ok(Outcome::Ok)
        }
    }
}

/// A single-threaded Tokio runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn verify(
    g: &Global,
    store: &StoreArgs,
    expect_head: Option<&ChainHead>,
) -> anyhow::Result<Outcome> {
    let report = store.open().await?.verify(expect_head).await?;
    match g.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => match (&report.first_break, &report.head) {
            (Some(br), _) => println!("broken: {br}"),
            (None, Some(head)) => {
                println!("ok: {} entries, head {head}", report.entries)
            }
            (None, None) => println!("ok: the access log is empty"),
        },
    }
    Ok(if report.is_intact() {
        Outcome::Ok
    } else {
        Outcome::Rejected
    })
}

async fn show(
    g: &Global,
    store: &StoreArgs,
    citizen: &CitizenRef,
    names: &Names,
) -> anyhow::Result<Outcome> {
    let store = store.open().await?;
    let entries = store.entries_for(citizen).await?;
    let events = xoev_audit::citizen_view(&entries, names);
    let intact = store.verify(None).await?.is_intact();
    match g.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "citizen": citizen,
                "chain_intact": intact,
                "events": events,
            }))?
        ),
        Format::Text => {
            if events.is_empty() {
                println!("No authority has asked the gateway for your data.");
            }
            for ev in &events {
                println!("{}", ev.text);
            }
            if !intact {
                println!(
                    "Warning: the access log has been tampered with; run `xoev-gateway audit verify`."
                );
            }
        }
    }
    Ok(Outcome::Ok)
}

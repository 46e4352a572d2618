//! `xoev-gateway schemas`

use super::{Format, Global, Outcome};
use clap::Args;
use serde_json::json;
use std::time::Instant;

/// Arguments of `schemas`.
#[derive(Debug, Args)]
pub struct SchemasArgs {
    /// Also compile every entry, as the service does at start, and report
    /// each one's result (exit 1 if any does not compile): the check after
    /// adding or changing XSDs, before a sample or a restart finds it.
    #[arg(long)]
    pub check: bool,
}

/// One entry's compile result: the time it took, or the error.
type Checked = Result<u128, String>;

/// Lists the catalogue, and with `--check` compiles every entry.
pub fn run(g: &Global, args: &SchemasArgs) -> anyhow::Result<Outcome> {
    let catalogue = g.catalogue()?;
    // Compiling is blocking libxml2 work; the CLI has no async reactor to
    // keep free, so it runs here.
    let checked: Vec<Option<Checked>> = catalogue
        .entries()
        .iter()
        .map(|e| {
            args.check.then(|| {
                let start = Instant::now();
                e.schema()
                    .map(|_| start.elapsed().as_millis())
                    .map_err(|err| err.to_string())
            })
        })
        .collect();
    match g.format {
        Format::Json => {
            let list: Vec<_> = catalogue
                .entries()
                .iter()
                .zip(&checked)
                .map(|(e, c)| {
                    let mut v = json!({
                        "standard": e.name,
                        "version": e.version,
                        "namespaces": e.namespaces,
                        "entry": e.entry,
                        "description": e.description,
                    });
                    match c {
                        Some(Ok(ms)) => {
                            v["compiles"] = json!(true);
                            v["compile_ms"] = json!(ms);
                        }
                        Some(Err(detail)) => {
                            v["compiles"] = json!(false);
                            v["error"] = json!(detail);
                        }
                        None => {}
                    }
                    v
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        Format::Text => {
            println!(
                "{:<14} {:<8} {:<42} NAMESPACES",
                "STANDARD", "VERSION", "ENTRY"
            );
            for e in catalogue.entries() {
                println!(
                    "{:<14} {:<8} {:<42} {}",
                    e.name,
                    e.version,
                    e.entry,
                    e.namespaces.join(" ")
                );
            }
            if args.check {
                println!();
                for (e, c) in catalogue.entries().iter().zip(&checked) {
                    match c {
                        Some(Ok(ms)) => println!("{} {}: compiles ({ms} ms)", e.name, e.version),
                        Some(Err(detail)) => {
                            println!("{} {}: does not compile: {detail}", e.name, e.version);
                        }
                        None => {}
                    }
                }
            }
        }
    }
    let failed = checked.iter().flatten().filter(|c| c.is_err()).count();
    if failed > 0 {
        eprintln!(
            "{failed} of {} schema(s) do not compile",
            catalogue.entries().len()
        );
        return Ok(Outcome::Rejected);
    }
    Ok(Outcome::Ok)
}

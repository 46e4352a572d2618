//! `xoev-gateway schemas`

use super::{Format, Global, Outcome};
use serde_json::json;

/// Lists the catalogue.
pub fn run(g: &Global) -> anyhow::Result<Outcome> {
    let catalogue = g.catalogue()?;
    match g.format {
        Format::Json => {
            let list: Vec<_> = catalogue
                .entries()
                .iter()
                .map(|e| {
                    json!({
                        "standard": e.name,
                        "version": e.version,
                        "namespaces": e.namespaces,
                        "entry": e.entry,
                        "description": e.description,
                    })
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
        }
    }
    Ok(Outcome::Ok)
}

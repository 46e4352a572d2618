//! `xoev-gateway adapters`: lists the adapter registry.

use super::{Format, Global, Outcome};

/// Lists every registered adapter: name, kind, source → target.
pub fn run(g: &Global, cfg: &super::translate::AdapterConfigArgs) -> anyhow::Result<Outcome> {
    let registry = cfg.registry()?;
    let list = registry.list();
    match g.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&list)?),
        Format::Text => {
            println!(
                "{:<24} {:<8} {:<38} DESCRIPTION",
                "NAME", "KIND", "SOURCE → TARGET"
            );
            for a in list {
                let kind = match a.kind {
                    xoev_adapters::AdapterKind::Builtin => "builtin",
                    xoev_adapters::AdapterKind::Xslt => "xslt",
                    _ => "other",
                };
                println!(
                    "{:<24} {:<8} {:<38} {}",
                    a.name,
                    kind,
                    format!("{} → {}", a.source, a.target),
                    a.description
                );
            }
        }
    }
    Ok(Outcome::Ok)
}

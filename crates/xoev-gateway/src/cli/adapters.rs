//! `xoev-gateway adapters`: lists the adapter registry and checks each
//! adapter's standards against the schema catalogue.

use super::{Format, Global, Outcome};

/// Lists every registered adapter: name, kind, source → target; names on
/// stderr each adapter that reads or writes what the catalogue lacks (exit 1).
pub fn run(g: &Global, cfg: &super::translate::AdapterConfigArgs) -> anyhow::Result<Outcome> {
    let registry = cfg.registry()?;
    let list = registry.list();
    match g.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&list)?),
        Format::Text => {
            // Columns as wide as their longest entry (declarative adapters
            // bring names of any length).
            let rows: Vec<[String; 4]> = list
                .iter()
                .map(|a| {
                    let kind = match a.kind {
                        xoev_adapters::AdapterKind::Builtin => "builtin",
                        xoev_adapters::AdapterKind::Xslt => "xslt",
                        _ => "other",
                    };
                    [
                        a.name.clone(),
                        kind.to_owned(),
                        format!("{} → {}", a.source, a.target),
                        a.description.clone(),
                    ]
                })
                .collect();
            let header = ["NAME", "KIND", "SOURCE → TARGET", "DESCRIPTION"].map(str::to_owned);
            let width = |i: usize| {
                std::iter::once(&header)
                    .chain(&rows)
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            };
            let (w0, w1, w2) = (width(0), width(1), width(2));
            for [name, kind, route, description] in std::iter::once(&header).chain(&rows) {
                println!("{name:<w0$}  {kind:<w1$}  {route:<w2$}  {description}");
            }
        }
    }
    // adapters that could never run: what they read or write is not in
    // the schema catalogue as they name it
    let catalogue = match g.catalogue() {
        Ok(c) => c,
        Err(e) => {
            return Ok(super::cannot(
                g,
                format!("cannot load the schema catalogue: {e:#}"),
            ));
        }
    };
    let problems = crate::routing_check::check_adapters(&registry, &catalogue);
    for p in &problems {
        eprintln!("{p}");
    }
    Ok(if problems.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Rejected
    })
}

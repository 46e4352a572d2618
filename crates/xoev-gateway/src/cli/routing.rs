//! `xoev-gateway routing check [--routing DIR]`

use super::translate::AdapterConfigArgs;
use super::{Format, Global, Outcome};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use xoev_routing::{ConfigErrors, Router};
use xoev_schema::Catalogue;

/// Where the routing configuration is, and the adapters it may name.
#[derive(Debug, Args)]
pub struct RoutingDirArgs {
    /// Routing directory: authorities.toml, access.toml and rule files
    /// [default: ./routing if it has authorities.toml, else the repository's routing/]
    #[arg(long, env = "XOEV_ROUTING", value_name = "DIR")]
    pub routing: Option<PathBuf>,
    #[command(flatten)]
    pub adapters: AdapterConfigArgs,
}

impl RoutingDirArgs {
    /// The routing directory in use.
    pub fn dir(&self) -> PathBuf {
        if let Some(d) = &self.routing {
            return d.clone();
        }
        if Path::new("routing/authorities.toml").is_file() {
            return PathBuf::from("routing");
        }
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../routing"))
    }

    /// The configuration root whose adapters the rules may name: see
    /// [`AdapterConfigArgs::root_near`] (beside the routing directory given).
    pub fn config_root(&self) -> PathBuf {
        self.adapters.root_near(self.routing.as_deref())
    }

    /// Loads and checks the routing configuration against the adapter
    /// registry and the schema catalogue (`routing_check`). `Ok(Err(_))`:
    /// the configuration is wrong (every error at once); `Err(_)`: the
    /// adapter registry could not be loaded.
    pub fn load(&self, catalogue: &Catalogue) -> anyhow::Result<Result<Router, ConfigErrors>> {
        let registry = self.adapters.registry_at(&self.config_root())?;
        let known = |a: &str| registry.get(a).is_ok();
        let dir = self.dir();
        Ok(match Router::load(&dir, &known) {
            Ok(router) => {
                let errors = crate::routing_check::check_rules(&router, catalogue, &registry);
                if errors.is_empty() {
                    Ok(router)
                } else {
                    Err(ConfigErrors(errors))
                }
            }
            Err(mut errors) => {
                // Unknown adapters alone fail the load: the rules' other
                // errors are reported with them, not after their repair.
                if let Ok(router) = Router::load(&dir, &|_| true) {
                    errors.0.extend(crate::routing_check::check_rules(
                        &router, catalogue, &registry,
                    ));
                }
                Err(errors)
            }
        })
    }
}

/// Arguments of `routing`.
#[derive(Debug, Args)]
pub struct RoutingArgs {
    #[command(subcommand)]
    pub command: RoutingCommand,
}

/// The `routing` subcommands.
#[derive(Debug, Subcommand)]
pub enum RoutingCommand {
    /// Check the routing configuration without running anything: prints
    /// every error with file and line (exit 1 if there is one).
    Check(RoutingDirArgs),
}

/// Runs `routing …`.
pub fn run(g: &Global, args: &RoutingArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        RoutingCommand::Check(dir) => check(g, dir),
    }
}

fn check(g: &Global, args: &RoutingDirArgs) -> anyhow::Result<Outcome> {
    let dir = args.dir();
    let schemas = g.schemas_near(args.routing.as_deref());
    let config_root = args.config_root();
    // what the check used, so that a copy checked against the repository's
    // adapters or schemas by mistake shows it
    let used = format!(
        "adapters and config from {}, schemas from {}",
        config_root.display(),
        schemas.display()
    );
    let catalogue = match Catalogue::load(&schemas) {
        Ok(c) => c,
        Err(e) => {
            return Ok(super::cannot(
                g,
                format!("cannot load the schema catalogue: {e:#}"),
            ));
        }
    };
    let loaded = match args.load(&catalogue) {
        Ok(l) => l,
        Err(e) => {
            return Ok(super::cannot(
                g,
                format!("cannot load the adapter registry: {e:#}"),
            ));
        }
    };
    match (loaded, g.format) {
        (Ok(r), Format::Text) => {
            println!(
                "{}: ok ({} authorities, {} rules, {} access rules; {used})",
                dir.display(),
                r.directory().authorities().len(),
                r.rules().len(),
                r.access_rules().len()
            );
            Ok(Outcome::Ok)
        }
        (Ok(r), Format::Json) => {
            let json = serde_json::json!({
                "ok": true,
                "dir": dir,
                "config_root": config_root,
                "schemas": schemas,
                "authorities": r.directory().authorities(),
                "rules": r.rules(),
                "access": r.access_rules(),
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
            Ok(Outcome::Ok)
        }
        (Err(errors), Format::Text) => {
            for e in errors.errors() {
                println!("{e}");
            }
            println!(
                "{}: {} error(s) ({used})",
                dir.display(),
                errors.errors().len()
            );
            Ok(Outcome::Rejected)
        }
        (Err(errors), Format::Json) => {
            let errors: Vec<_> = errors
                .errors()
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "kind": e.kind.as_str(),
                        "file": e.file,
                        "line": e.line,
                        "message": e.message,
                    })
                })
                .collect();
            let json = serde_json::json!({
                "ok": false,
                "dir": dir,
                "config_root": config_root,
                "schemas": schemas,
                "errors": errors,
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
            Ok(Outcome::Rejected)
        }
    }
}

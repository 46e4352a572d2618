//! `xoev-gateway queues [--config FILE] [--amqp URL] [--management URL] [--prefix P] [--routing DIR] [--watch SECS]`

use super::{Format, Global, Outcome};
use anyhow::Context as _;
use clap::Args;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;
use xoev_ops::{Ops, OpsConfig, OpsError, OpsErrorKind, QueueReport};
use xoev_routing::Router;
use xoev_transport::TopologyConfig;

/// Where the broker is and which topology to look at (shared by `queues` and
/// `dlq`; accepted before or after a `dlq` subcommand).
#[derive(Debug, Args)]
pub struct OpsArgs {
    /// The service's configuration: `[amqp] url`, `[amqp] prefix` and
    /// `[gateway] routing` are taken from it unless given as options.
    #[arg(long, global = true, env = "XOEV_GATEWAY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// AMQP URL of RabbitMQ [default: amqp://guest:guest@127.0.0.1:5672/%2f]
    #[arg(long, global = true, env = "XOEV_AMQP_URL", value_name = "URL")]
    pub amqp: Option<String>,
    /// RabbitMQ management API (user and password from the URL, else the AMQP
    /// URL's) [default: `[amqp] management_url`, else http://127.0.0.1:15672]
    #[arg(long, global = true, env = "XOEV_MANAGEMENT_URL", value_name = "URL")]
    pub management: Option<String>,
    /// Do not ask the management API (depths and consumers only).
    #[arg(long, global = true)]
    pub no_management: bool,
    /// Prefix of the gateway's exchanges and queues (`[amqp] prefix`) [default: xoev]
    #[arg(long, global = true, env = "XOEV_AMQP_PREFIX", value_name = "P")]
    pub prefix: Option<String>,
    /// Routing directory whose authorities.toml names the inboxes
    /// [default: ./routing if it has authorities.toml, else the repository's routing/]
    #[arg(long, global = true, env = "XOEV_ROUTING", value_name = "DIR")]
    pub routing: Option<PathBuf>,
}

impl OpsArgs {
    /// The operations client: the topology under `--prefix` with the
    /// directory's inboxes (as the service declares them).
    pub fn ops(&self) -> anyhow::Result<Ops> {
        let config = match &self.config {
            Some(path) => Some(crate::config::Config::load(path)?),
            None => None,
        };
        let amqp = config.as_ref().and_then(|c| c.amqp.as_ref());
        let url = self
            .amqp
            .clone()
            .or_else(|| amqp.map(|a| a.url.clone()))
            .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
        let prefix = self
            .prefix
            .clone()
            .or_else(|| amqp.map(|a| a.prefix.clone()))
            .unwrap_or_else(|| "xoev".to_owned());
        let dir = match (&self.routing, &config) {
            (Some(d), _) => d.clone(),
            (None, Some(c)) => c.path(&c.gateway.routing),
            (None, None) if Path::new("routing/authorities.toml").is_file() => {
                PathBuf::from("routing")
            }
            (None, None) => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../routing")),
        };
        // Only the directory is needed here, so any adapter name is accepted.
        let router = Router::load(&dir, &|_: &str| true)
            .map_err(|e| anyhow::anyhow!("routing {}: {e}", dir.display()))?;
        let directory = router.directory();
        let topology = TopologyConfig::with_prefix(&prefix).with_inboxes(directory.inboxes());
        let labels = directory
            .authorities()
            .iter()
            .filter_map(|a| a.inbox.clone().map(|q| (q, a.id.clone())));
        let management = (!self.no_management).then(|| {
            self.management
                .clone()
                .or_else(|| amqp.and_then(|a| a.management_url.clone()))
                .unwrap_or_else(|| xoev_ops::DEFAULT_MANAGEMENT_URL.to_owned())
        });
        let config = OpsConfig::new(url, topology)
            .with_management(management)
            .with_inbox_authorities(labels);
        Ops::new(config).context("broker settings")
    }
}

/// Arguments of `queues`.
#[derive(Debug, Args)]
pub struct QueuesArgs {
    #[command(flatten)]
    pub ops: OpsArgs,
    /// Refresh every SECS seconds until interrupted (JSON: one document per line).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub watch: Option<u64>,
}

/// Shows depth, unacknowledged messages, consumers, rates and the oldest
/// message's age of every queue of the topology.
pub fn run(g: &Global, args: &QueuesArgs) -> anyhow::Result<Outcome> {
    let ops = args.ops.ops()?;
    let format = g.format;
    let watch = args.watch;
    block_on(async move {
        loop {
            match ops.queues().await {
                Ok(report) => print_report(format, &report, watch.is_some())?,
                Err(e) => {
                    print_error(format, &e);
                    if watch.is_none() {
                        return Ok(outcome_of(&e));
                    }
                }
            }
            let Some(secs) = watch else {
                return Ok(Outcome::Ok);
            };
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
                _ = tokio::signal::ctrl_c() => return Ok(Outcome::Ok),
            }
        }
    })?
}

fn print_report(format: Format, r: &QueueReport, watching: bool) -> anyhow::Result<()> {
    if format == Format::Json {
        if watching {
            println!("{}", serde_json::to_string(r)?);
        } else {
            println!("{}", serde_json::to_string_pretty(r)?);
        }
        return Ok(());
    }
    if watching {
        print!("\x1b[2J\x1b[H");
    }
    println!(
        "{:<40} {:<11} {:>7} {:>7} {:>9} {:>8} {:>8} {:>8}  authority",
        "queue", "role", "ready", "unacked", "consumers", "in/s", "out/s", "oldest"
    );
    let num = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    let rate = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    for q in &r.queues {
        if !q.exists {
            println!(
                "{:<40} {:<11} missing (not declared on the broker)",
                q.name,
                q.role.as_str()
            );
            continue;
        }
        println!(
            "{:<40} {:<11} {:>7} {:>7} {:>9} {:>8} {:>8} {:>8}  {}",
            q.name,
            q.role.as_str(),
            num(q.ready),
            num(q.unacked),
            num(q.consumers.map(u64::from)),
            rate(q.publish_rate),
            rate(q.deliver_rate),
            q.oldest_message_age_secs
                .map_or("-".to_owned(), |s| format!("{s}s")),
            q.authority.as_deref().unwrap_or("")
        );
    }
    if let Some(e) = &r.management_error {
        println!("(no management figures: {e})");
    }
    Ok(())
}

/// Prints an operations error on stderr, or as JSON on stdout.
pub(crate) fn print_error(format: Format, e: &OpsError) {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::json!({"ok": false, "kind": e.kind.as_str(), "error": e.message})
        ),
        Format::Text => eprintln!("error: {e}"),
    }
}

/// The exit code of an operations error: "no such dead letter" is a
/// rejection (1), everything else a usage or broker problem (2).
pub(crate) fn outcome_of(e: &OpsError) -> Outcome {
    match e.kind {
        OpsErrorKind::NotFound => Outcome::Rejected,
        _ => Outcome::IoError,
    }
}

/// Runs a future to completion: on the current Tokio runtime if there is
/// one (multi-threaded), else on a new single-threaded one.
pub(crate) fn block_on<F: Future>(f: F) -> anyhow::Result<F::Output> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => Ok(tokio::task::block_in_place(|| h.block_on(f))),
        Err(_) => Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("start the async runtime")?
            .block_on(f)),
    }
}

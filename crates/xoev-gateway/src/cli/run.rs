//! `xoev-gateway run --config gateway.toml`: the service.

use super::{Global, Outcome};
use crate::config::Config;
use crate::service::{self, ServiceOptions};
use crate::trust_reload::{self, TrustWatch};
use crate::{assemble, config};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use xoev_transport::Transport;

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file.
    #[arg(long, short, value_name = "FILE", default_value = "gateway.toml")]
    pub config: PathBuf,
    /// Check the configuration, schemas, routing, keys and stores, then exit
    /// (0 = ready to run) without consuming anything.
    #[arg(long)]
    pub check: bool,
}

/// Loads everything, then consumes until SIGINT/SIGTERM and drains.
pub fn run(_g: &Global, args: &RunArgs) -> anyhow::Result<Outcome> {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        // A configuration that cannot be read or used is the operator's
        // usage error (exit 2), like a lock held by another instance; exit 1
        // is for messages.
        Err(e @ config::ConfigError { .. }) => {
            eprintln!("{e}");
            return Ok(Outcome::IoError);
        }
    };
    let workers = config.gateway.workers;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The pipeline runs on its own `workers` threads (service.rs); tokio's
        // blocking pool only serves the access log's file I/O and the HTTP
        // API's header reads.
        .max_blocking_threads(8)
        .build()?;
    rt.block_on(async {
        let purpose = if args.check {
            assemble::Purpose::Check
        } else {
            assemble::Purpose::Run
        };
        let pipeline = Arc::new(assemble::pipeline(&config, purpose).await?);
        if args.check {
            let trust = pipeline.verifier.trust_store();
            println!(
                "configuration {} is ready: {} schemas, {} authorities, {} rules, {} adapters, \
                 {} trusted certificates",
                args.config.display(),
                pipeline.validator.catalogue().entries().len(),
                pipeline.router.directory().authorities().len(),
                pipeline.router.rules().len(),
                pipeline.registry.list().len(),
                trust.len()
            );
            println!(
                "signing as {} with {}",
                pipeline.signer.subject(),
                pipeline.signer.algorithm()
            );
            return report_crls(&trust);
        }
        let transport: Arc<dyn Transport> =
            Arc::new(assemble::transport(&config, &pipeline).await?);
        let prefetch = config
            .amqp
            .as_ref()
            .map_or(crate::config::AmqpSection::default().prefetch, |a| {
                a.prefetch
            });
        let options = ServiceOptions { workers, prefetch };
        // One signal stops both the consumer and the HTTP API.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let watch = TrustWatch::new(
            &config.path(&config.trust.dir),
            config.trust.revocation,
            pipeline.verifier.clone(),
        );
        tokio::spawn(trust_reload::watch(
            watch,
            Duration::from_secs(config.trust.reload_secs),
            until_stopped(stopped.clone()),
        ));
        let http = crate::http::start(
            &config,
            pipeline.clone(),
            transport.clone(),
            until_stopped(stopped.clone()),
        )
        .await?;
        service::run(pipeline, transport, options, until_stopped(stopped)).await?;
        if let Some(http) = http {
            http.await??;
        }
        Ok(Outcome::Ok)
    })
}

/// Prints the revocation policy and each CRL of the trust store with its
/// dates. A CRL past its `nextUpdate` is a warning, not a failed check:
/// the gateway can run (messages of that CA's authorities wait in the
/// retry queue until a current CRL is in place), and a stale CRL should
/// not stop the traffic of every other authority at the next restart.
fn report_crls(trust: &xoev_dsig::TrustStore) -> anyhow::Result<Outcome> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let crls = trust.crls()?;
    println!(
        "revocation: {} ({} CRLs)",
        trust.revocation().as_str(),
        crls.len()
    );
    for crl in &crls {
        let due = match crl.next_update {
            Some(next) if next < now => {
                eprintln!(
                    "warning: the CRL {} of {} EXPIRED {} ago: messages of its authorities wait until a current CRL is in its place",
                    crl.source,
                    crl.issuer,
                    age(now - next)
                );
                format!("EXPIRED {} ago", age(now - next))
            }
            Some(next) => format!("next update due in {}", age(next - now)),
            None => "no next update named".to_owned(),
        };
        println!(
            "  {}: {} revokes {} certificates; {due}",
            crl.source, crl.issuer, crl.revoked
        );
    }
    Ok(Outcome::Ok)
}

/// A duration in seconds as `3d 4h`, `5h 10m` or `7m`.
fn age(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}

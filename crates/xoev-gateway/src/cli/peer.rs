//! `xoev-gateway peer fee-office|tax-office`: the example back-office
//! systems of the founding case as programs, talking to the gateway over
//! RabbitMQ exactly as an authority would (see [`crate::peers`]).
//!
//! `xoev-gateway demo --install DIR` writes keys, certificates and a
//! `gateway.toml` for them and prints the commands to start all three.

use super::{Global, Outcome};
use crate::peers::{FeeOffice, TaxOffice, serve_tax_office};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use xoev_dsig::{CertMatcher, Signer, Verifier};
use xoev_transport::{AmqpTransport, Envelope, Target, TopologyConfig, Transport};

/// Arguments of `peer`.
#[derive(Debug, Args)]
pub struct PeerArgs {
    /// Which peer.
    #[command(subcommand)]
    pub role: Role,
}

/// Connection and keys of a peer.
#[derive(Debug, Args)]
pub struct PeerCommon {
    /// RabbitMQ URL.
    #[arg(
        long,
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        value_name = "URL"
    )]
    pub amqp: String,
    /// The gateway's queue prefix (`[amqp] prefix`).
    #[arg(long, default_value = "xoev")]
    pub prefix: String,
    /// The authority's inbox queue.
    #[arg(long, value_name = "QUEUE")]
    pub inbox: String,
    /// The authority's PEM private key.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The authority's PEM certificate.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Trust store (directory of PEM CA certificates).
    #[arg(long, value_name = "DIR")]
    pub trust: PathBuf,
    /// The gateway's certificate: what it delivers must be signed with it.
    #[arg(long, value_name = "FILE")]
    pub gateway_cert: PathBuf,
}

/// The two peers.
#[derive(Debug, Subcommand)]
pub enum Role {
    /// A Kita fee office: sends evidence requests, waits for the answers.
    FeeOffice {
        /// Connection and keys.
        #[command(flatten)]
        common: PeerCommon,
        /// The evidence request to send (a new id per copy).
        #[arg(long, value_name = "FILE")]
        request: PathBuf,
        /// How many requests to send.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// How long to wait for all answers, in seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// A tax office: answers assessment-data requests from sample answers.
    TaxOffice {
        /// Connection and keys.
        #[command(flatten)]
        common: PeerCommon,
        /// Its authority id, e.g. `fa:2613`.
        #[arg(long)]
        id: String,
        /// Directory of XEStB answers (0102) and an error answer (0103).
        #[arg(long, value_name = "DIR")]
        answers: PathBuf,
        /// Stop after this many answers (default: run until interrupted).
        #[arg(long)]
        max: Option<usize>,
    },
}

fn read(p: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(p).with_context(|| p.display().to_string())
}

struct Parts {
    signer: Arc<Signer>,
    verifier: Verifier,
    gateway: CertMatcher,
}

fn parts(c: &PeerCommon) -> anyhow::Result<Parts> {
    xoev_dsig::init()?;
    Ok(Parts {
        signer: Arc::new(Signer::from_pem(&read(&c.key)?, &read(&c.cert)?)?),
        verifier: Verifier::from_trust_dir(&c.trust)?,
        gateway: CertMatcher::from_pem(&read(&c.gateway_cert)?)?,
    })
}

async fn connect(c: &PeerCommon) -> anyhow::Result<Arc<dyn Transport>> {
    let topology = TopologyConfig::with_prefix(&c.prefix).with_inboxes([c.inbox.clone()]);
    Ok(Arc::new(AmqpTransport::connect(&c.amqp, topology).await?))
}

/// Runs a peer.
pub fn run(_g: &Global, args: &PeerArgs) -> anyhow::Result<Outcome> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match &args.role {
            Role::TaxOffice {
                common,
                id,
                answers,
                max,
            } => {
                let p = parts(common)?;
                let (answers, not_found) = TaxOffice::load_answers(answers)?;
                let office = Arc::new(TaxOffice {
                    id: id.clone(),
                    signer: p.signer,
                    verifier: p.verifier,
                    gateway: p.gateway,
                    answers,
                    not_found,
                });
                let transport = connect(common).await?;
                println!("tax office {id}: answering requests from {}", common.inbox);
                let n = tokio::select! {
                    n = serve_tax_office(office, transport, &common.inbox, *max) => n?,
                    () = super::run::shutdown_signal() => 0,
                };
                println!("tax office {id}: answered {n} request(s)");
                Ok(Outcome::Ok)
            }
            Role::FeeOffice {
                common,
                request,
                count,
                timeout,
            } => {
                let p = parts(common)?;
                let fee = Arc::new(FeeOffice {
                    signer: p.signer,
                    verifier: p.verifier,
                    gateway: p.gateway,
                    template: read(request)?,
                });
                let transport = connect(common).await?;
                let mut inbox = transport.consume(&common.inbox, 32).await?;
                let mut sent = HashSet::new();
                for _ in 0..*count {
                    let f = fee.clone();
                    let (id, bytes) = tokio::task::spawn_blocking(move || f.request()).await??;
                    transport
                        .publish(Envelope::new(Target::Inbound, id.clone(), bytes))
                        .await?;
                    sent.insert(id);
                }
                println!(
                    "fee office: sent {count} evidence request(s); waiting for answers in {}",
                    common.inbox
                );
                let (mut answers, mut rejections) = (0, 0);
                let deadline = tokio::time::Instant::now() + Duration::from_secs(*timeout);
                let mut seen = HashSet::new();
                while answers + rejections < *count {
                    let next = tokio::time::timeout_at(deadline, inbox.next()).await;
                    let Ok(Some(Ok(d))) = next else { break };
                    let corr = d.properties.correlation_id.clone().unwrap_or_default();
                    let id = d.properties.message_id.clone().unwrap_or_default();
                    if !sent.contains(&corr) || !seen.insert(id.clone()) {
                        d.ack().await?; // not ours, or a duplicate recognised by its id
                        continue;
                    }
                    let bytes = d.payload.to_vec();
                    d.ack().await?;
                    match fee.check_answer(&bytes) {
                        Err(e) => println!("  {corr}: NOT signed by the gateway: {e}"),
                        Ok(_)
                            if String::from_utf8_lossy(&bytes)
                                .contains("gateway.rueckweisung.0001") =>
                        {
                            rejections += 1;
                            match crate::pipeline::rejection::RejectionView::parse(&bytes) {
                                Ok(r) => println!(
                                    "  {corr}: rejected by the gateway at stage {}: [{}] {}",
                                    r.stufe, r.grund, r.beschreibung
                                ),
                                Err(e) => {
                                    println!("  {corr}: rejected (unreadable rejection: {e})")
                                }
                            }
                        }
                        Ok(_) => {
                            answers += 1;
                            if *count <= 10 {
                                println!("  {corr}: answer {id}, signed by the gateway");
                            }
                        }
                    }
                }
                println!("fee office: {answers} answer(s), {rejections} rejection(s) of {count}");
                Ok(if answers == *count {
                    Outcome::Ok
                } else {
                    Outcome::Rejected
                })
            }
        }
    })
}

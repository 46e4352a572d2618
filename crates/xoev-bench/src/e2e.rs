//! End to end through RabbitMQ with the real service loop: the demo
//! installation (`xoev_gateway::demo`), a feeder that publishes signed
//! evidence requests of the fee office to the inbound exchange (confirmed,
//! like a back-office system), `xoev_gateway::service::run` consuming them,
//! and a sink that consumes the translated, signed XEStB requests from the
//! tax office's inbox (acked). Latency is from the feeder's publish to the
//! sink's delivery; RSS is sampled along the way. The feeder and the sink
//! run on a runtime of their own (`xoev-bench-client` threads), so the CPU
//! time of each role can be told apart ([`crate::cpu`]).
//!
//! The same installation carries the size runs: a message of each size sent
//! by its author, collected from its reader's inbox, on a route without
//! adapter ([`Setup::load`]).

use crate::broker::Broker;
use crate::stats::{percentile, proc_status_kib};
use anyhow::Context as _;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use xoev_core::{Limits, Message};
use xoev_gateway::demo::{Demo, DemoOptions, TAX_OFFICE};
use xoev_gateway::service::{self, ServiceOptions};
use xoev_transport::{AmqpTransport, TopologyConfig, Transport};

/// Distinct signed requests the feeder cycles through.
const POOL: usize = 500;
/// Messages in flight (published, not yet delivered to the sink) at most.
const IN_FLIGHT: usize = 1_000;
/// The author and reader of the XWasser receipt of the size runs
/// (`tests/samples/xwasser/administration_receipt.xml`); the bench's
/// installation adds them to the demo's directory.
const WATER_AUTHORITIES: [&str; 2] = ["psw:11113110", "psw:01003110"];
/// RSS is sampled every this many delivered messages.
const RSS_EVERY: usize = 10_000;
/// A run fails when nothing arrives for this long.
const STALL: Duration = Duration::from_secs(60);

/// The result of one run.
#[derive(Debug, Clone)]
pub struct Run {
    /// Messages delivered to the destination.
    pub messages: usize,
    /// Delivered per second (first publish to last delivery).
    pub rate: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// (delivered so far, VmRSS KiB).
    pub rss: Vec<(usize, u64)>,
    /// Peak RSS (VmHWM) in KiB at the end.
    pub peak_kib: u64,
    /// The target rate of a paced run.
    pub paced: Option<f64>,
    /// CPU time per message by role during the run.
    pub cpu: crate::cpu::Use,
    /// Where a message's time in the gateway went, from the service's own
    /// metrics during the run.
    pub times: ServiceTimes,
}

/// Mean times per message from the service's histograms (`/metrics`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceTimes {
    /// The pipeline on its thread (`xoev_pipeline_duration_seconds`).
    pub pipeline: Duration,
    /// The publish until the broker's confirm (`xoev_publish_duration_seconds`).
    pub publish: Duration,
    /// The access-log append after it (`xoev_access_log_duration_seconds`).
    pub access_log: Duration,
    /// A delivery's whole stay, taken up to settled
    /// (`xoev_message_duration_seconds`).
    pub whole: Duration,
}

/// (sum of seconds, count) of a histogram over all its label sets, read
/// from the recorder's Prometheus text.
fn histogram_totals(text: &str, name: &str) -> (f64, u64) {
    let value = |suffix: &str| -> f64 {
        let metric = format!("{name}{suffix}");
        text.lines()
            .filter(|l| {
                l.strip_prefix(metric.as_str())
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    (value("_sum"), value("_count") as u64)
}

/// The service's histogram totals now: pipeline, publish, access log, the
/// whole stay.
fn service_totals() -> [(f64, u64); 4] {
    let text = xoev_gateway::http::metrics::install().render();
    [
        histogram_totals(&text, "xoev_pipeline_duration_seconds"),
        histogram_totals(&text, "xoev_publish_duration_seconds"),
        histogram_totals(&text, "xoev_access_log_duration_seconds"),
        histogram_totals(&text, "xoev_message_duration_seconds"),
    ]
}

/// Mean times between two [`service_totals`].
fn service_times(before: [(f64, u64); 4], after: [(f64, u64); 4]) -> ServiceTimes {
    let mean = |(s0, c0): (f64, u64), (s1, c1): (f64, u64)| {
        let n = c1.saturating_sub(c0);
        if n == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(((s1 - s0) / n as f64).max(0.0))
        }
    };
    ServiceTimes {
        pipeline: mean(before[0], after[0]),
        publish: mean(before[1], after[1]),
        access_log: mean(before[2], after[2]),
        whole: mean(before[3], after[3]),
    }
}

/// What the feeder sends and where the sink collects it.
pub struct Load {
    /// Signed messages by XÖV message id, sent in turn.
    pool: Arc<Vec<(String, Vec<u8>)>>,
    /// The queue they arrive in.
    destination: String,
    /// Messages in flight at most.
    in_flight: usize,
}

impl Load {
    /// Size of the first signed message.
    pub fn signed_bytes(&self) -> usize {
        self.pool.first().map_or(0, |(_, m)| m.len())
    }
}

/// [`Setup::load`], from the demo installation alone (so a test can check
/// it without the broker).
fn load(demo: &Demo, message: &[u8], copies: usize, in_flight: usize) -> anyhow::Result<Load> {
    let parsed = Message::parse(message.to_vec(), &Limits::default())?;
    let header = parsed.require_header()?;
    let party = |a: &Option<xoev_core::Authority>, what: &str| {
        a.as_ref()
            .map(xoev_core::Authority::key)
            .with_context(|| format!("the message names no {what}"))
    };
    let signer = demo.signer(&party(&header.author, "author")?)?;
    let destination = demo.inbox(&party(&header.reader, "reader")?)?;
    let pool = (0..copies.max(1))
        .map(|_| {
            let id = uuid::Uuid::new_v4().to_string();
            // A message that refers to another (an XWasser receipt's
            // `referenzUUID`) is filed under that one's case, by which the
            // sink matches: each copy refers to its own id.
            let xml = xoev_gateway::peers::rewrite(
                message,
                &[
                    ("identifikation.nachricht/nachrichtenUUID", &id),
                    ("nachrichtenkopf.g2g/referenzUUID", &id),
                ],
                None,
            )?;
            Ok((id, signer.sign_bytes(&xml)?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Load {
        pool: Arc::new(pool),
        destination,
        in_flight: in_flight.max(1),
    })
}

/// The directory entries, the route (no adapter) and the access rule of the
/// XWasser receipt of the size runs: the demo's directory has no water
/// authorities. Inboxes under `prefix`, like the demo's. The receipt is
/// message type 0020 (`administration.quittung.0020`; its header says 0010,
/// the root element decides).
fn water_routing(prefix: &str) -> Vec<(String, String)> {
    let [author, reader] = WATER_AUTHORITIES;
    let authority = |id: &str, name: &str| {
        format!(
            "[[authority]]\nid = \"{id}\"\nname = \"{name}\"\ninbox = \"{prefix}.inbox.{}\"\n\n",
            id.replace(':', "-")
        )
    };
    vec![
        (
            "authorities.toml".into(),
            authority(author, "Wasserversorger (xoev-bench)")
                + &authority(reader, "Gesundheitsamt (xoev-bench)"),
        ),
        (
            "rules.toml".into(),
            format!(
                "[[rule]]\nname = \"xoev-bench-water-receipt\"\npriority = 100\n\
                 standard = \"XWasser\"\nversion = \"1.0.0\"\nmessage_type = \"0020\"\n\
                 sender = \"{author}\"\nrecipient = \"reader\"\nadapters = []\n"
            ),
        ),
        (
            "access.toml".into(),
            format!(
                "[[allow]]\nsender = \"{author}\"\nreader = \"{reader}\"\nmessage_type = \"0020\"\n"
            ),
        ),
    ]
}

/// The running installation.
pub struct Setup {
    demo: Demo,
    transport: Arc<AmqpTransport>,
    requests: Load,
    /// The feeder's and the sink's runtime.
    clients: Option<tokio::runtime::Runtime>,
    /// The gateway's lapin I/O threads (alive before the clients connect).
    gateway_io: crate::cpu::GatewayIo,
    inbound_exchange: String,
    dlq: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    service: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// The gateway's case store in an end-to-end run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CaseStore {
    /// In memory, as in the demo.
    Memory,
    /// The journal file of `xoev-gateway run` with a directory store.
    Journal,
}

impl CaseStore {
    /// The name given on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Journal => "journal",
        }
    }
}

impl Setup {
    /// Builds the demo on RabbitMQ under a unique prefix and starts the service.
    pub async fn start(
        root: &Path,
        work: &Path,
        url: &str,
        options: ServiceOptions,
        cases: CaseStore,
    ) -> anyhow::Result<Self> {
        let prefix = format!(
            "xoev-bench-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        // The service records its metrics into the recorder the HTTP API
        // serves at /metrics, as in `xoev-gateway run`; nobody scrapes it
        // during the run (its memory must stay bounded all the same).
        xoev_gateway::http::metrics::install();
        let mut o = DemoOptions::new(root, work.join(&prefix));
        o.inbox_prefix = Some(prefix.clone());
        o.routing_append = water_routing(&prefix);
        if cases == CaseStore::Journal {
            let dir = work.join(&prefix).join("cases");
            let journal =
                tokio::task::spawn_blocking(move || xoev_gateway::cases::FileCases::open(&dir))
                    .await??;
            o.cases = Some(Arc::new(journal));
        }
        let demo = xoev_gateway::demo::setup(o).await?;
        let topology = TopologyConfig::with_prefix(&prefix).with_inboxes(
            demo.pipeline
                .router
                .directory()
                .inboxes()
                .map(str::to_owned),
        );
        let transport = Arc::new(AmqpTransport::connect(url, topology).await?);
        let fee = demo.fee_office()?;
        let pool = tokio::task::spawn_blocking(move || {
            (0..POOL)
                .map(|_| fee.request())
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .await??;
        let t = transport.topology().clone();
        let destination = demo.inbox(TAX_OFFICE)?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let service = tokio::spawn(service::run(
            demo.pipeline.clone(),
            transport.clone() as Arc<dyn Transport>,
            options,
            async move {
                let _ = rx.await;
            },
        ));
        let clients = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("xoev-bench-client")
            .enable_all()
            .build()?;
        Ok(Self {
            demo,
            transport,
            requests: Load {
                pool: Arc::new(pool),
                destination,
                in_flight: IN_FLIGHT,
            },
            clients: Some(clients),
            gateway_io: crate::cpu::lapin_threads(),
            inbound_exchange: t.inbound_exchange,
            dlq: t.dead_letter_queue,
            shutdown: Some(tx),
            service: Some(service),
        })
    }

    /// `copies` copies of `message` (unsigned), each with a message id of
    /// its own, signed by the author its header names; collected from the
    /// inbox of the reader it names; at most `in_flight` at a time.
    pub fn load(&self, message: &[u8], copies: usize, in_flight: usize) -> anyhow::Result<Load> {
        load(&self.demo, message, copies, in_flight)
    }

    /// Feeds `n` fee-office requests and waits until all arrived in the tax
    /// office's inbox; with `paced`, at that many messages per second, else
    /// as fast as the gateway takes them ([`IN_FLIGHT`] at most).
    pub async fn run(&self, url: &str, n: usize, paced: Option<f64>) -> anyhow::Result<Run> {
        self.run_load(url, &self.requests, n, paced).await
    }

    /// Feeds `n` messages of `load` and waits until all arrived; `paced` as
    /// in [`Setup::run`].
    pub async fn run_load(
        &self,
        url: &str,
        load: &Load,
        n: usize,
        paced: Option<f64>,
    ) -> anyhow::Result<Run> {
        let clients = self
            .clients
            .as_ref()
            .context("the clients' runtime is gone")?;
        let (url, exchange, destination, pool, in_flight) = (
            url.to_owned(),
            self.inbound_exchange.clone(),
            load.destination.clone(),
            load.pool.clone(),
            load.in_flight,
        );
        let cpu_before = crate::cpu::sample();
        let totals_before = service_totals();
        let start = Instant::now();
        let ((mut lat, rss), connection) = clients
            .spawn(async move {
                let b = Broker::connect(&url).await?;
                let pub_ch = b.confirm_channel().await?;
                let sink_ch = b.channel().await?;
                let sent: Arc<Mutex<HashMap<String, VecDeque<Instant>>>> = Arc::default();
                let permits = Arc::new(Semaphore::new(in_flight));
                let sink =
                    tokio::spawn(sink(sink_ch, destination, n, sent.clone(), permits.clone()));
                let feeder = feed(&pub_ch, &exchange, &pool, n, paced, sent, permits);
                let sink = async { sink.await.map_err(anyhow::Error::from)? };
                // Whichever fails first ends the run (a stalled sink must not
                // leave the feeder waiting for permits).
                let ((), result) = tokio::try_join!(feeder, sink)?;
                // The connection (and its I/O thread, whose CPU time is
                // counted) lives until after the second CPU sample.
                Ok::<_, anyhow::Error>((result, b))
            })
            .await??;
        let elapsed = start.elapsed();
        let cpu = crate::cpu::diff(&cpu_before, &crate::cpu::sample(), &self.gateway_io, n);
        let times = service_times(totals_before, service_totals());
        drop(connection);
        lat.sort();
        let dead = self.transport.queue_depth(&self.dlq).await.unwrap_or(0);
        anyhow::ensure!(
            dead == 0,
            "{dead} messages were dead-lettered during the run"
        );
        Ok(Run {
            messages: n,
            rate: n as f64 / elapsed.as_secs_f64(),
            p50: percentile(&lat, 50.0),
            p99: percentile(&lat, 99.0),
            rss,
            peak_kib: proc_status_kib("VmHWM").unwrap_or(0),
            paced,
            cpu,
            times,
        })
    }

    /// Stops the service and deletes the topology.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.service.take() {
            match s.await {
                Ok(Err(e)) => eprintln!("warning: the service ended with {e}"),
                Err(e) => eprintln!("warning: the service task failed: {e}"),
                Ok(Ok(())) => {}
            }
        }
        if let Err(e) = self.transport.delete_topology().await {
            eprintln!("warning: topology not deleted: {e}");
        }
        self.transport.close().await;
        if let Some(clients) = self.clients.take() {
            // Not dropped in place: dropping a runtime blocks, and this is async.
            clients.shutdown_background();
        }
        let _ = &self.demo;
    }
}

async fn feed(
    ch: &Channel,
    exchange: &str,
    pool: &[(String, Vec<u8>)],
    n: usize,
    paced: Option<f64>,
    sent: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
    permits: Arc<Semaphore>,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut pending = VecDeque::new();
    // AMQP message ids unique across runs: the transport drops ids it has
    // settled before (its deduplication window).
    let run = uuid::Uuid::new_v4().simple().to_string();
    for i in 0..n {
        if let Some(r) = paced {
            let due = start + Duration::from_secs_f64(i as f64 / r);
            tokio::time::sleep_until(due.into()).await;
        }
        permits.acquire().await?.forget();
        let (id, bytes) = &pool[i % pool.len()];
        sent.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .entry(id.clone())
            .or_default()
            .push_back(Instant::now());
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type(ShortString::from("application/xml".to_owned()))
            .with_message_id(ShortString::from(format!("bench-{}-{i}", &run[..8])));
        let p = ch
            .basic_publish(
                ShortString::from(exchange.to_owned()),
                ShortString::from(String::new()),
                BasicPublishOptions::default(),
                bytes,
                props,
            )
            .await?;
        pending.push_back(p);
        while pending.len() > 256 {
            if let Some(p) = pending.pop_front() {
                p.await?;
            }
        }
    }
    for p in pending {
        p.await?;
    }
    Ok(())
}

type SinkResult = (Vec<Duration>, Vec<(usize, u64)>);

async fn sink(
    ch: Channel,
    queue: String,
    n: usize,
    sent: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
    permits: Arc<Semaphore>,
) -> anyhow::Result<SinkResult> {
    ch.basic_qos(500, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            ShortString::from(queue.clone()),
            ShortString::from(format!("xoev-bench-sink-{}", uuid::Uuid::new_v4().simple())),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut lat = Vec::with_capacity(n);
    let mut rss = vec![(0, proc_status_kib("VmRSS").unwrap_or(0))];
    for i in 1..=n {
        let d = tokio::time::timeout(STALL, consumer.next())
            .await
            .with_context(|| {
                format!(
                    "nothing arrived in {queue} for {STALL:?} ({} of {n})",
                    i - 1
                )
            })?
            .with_context(|| format!("the sink's consumer ended ({} of {n})", i - 1))??;
        let now = Instant::now();
        let id = d
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .context("a forwarded message without correlation id")?;
        let t0 = sent
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .get_mut(&id)
            .and_then(VecDeque::pop_front);
        if let Some(t0) = t0 {
            lat.push(now - t0);
        }
        d.acker.ack(BasicAckOptions::default()).await?;
        permits.add_permits(1);
        if i % RSS_EVERY == 0 || i == n {
            rss.push((i, proc_status_kib("VmRSS").unwrap_or(0)));
        }
    }
    Ok((lat, rss))
}

#[cfg(test)]
mod tests {
    use super::histogram_totals;
    use xoev_gateway::pipeline::Decision;

    /// Every message of the size runs gets through the bench's installation
    /// to the inbox `load` expects it in, signed by the gateway — the
    /// smallest (the XWasser receipt, on the route the bench adds) and a
    /// large XNachweis answer (the demo's route without adapter). A message
    /// refused here would be dead-lettered in the run, which then fails.
    #[test]
    fn the_size_runs_deliver_each_message_to_the_inbox_they_wait_at() {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let work = root
            .join("target/xoev-bench-test")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let prefix = "xoev-bench-test";
        let mut o = super::DemoOptions::new(root, &work);
        o.inbox_prefix = Some(prefix.into());
        o.routing_append = super::water_routing(prefix);
        let demo = rt.block_on(xoev_gateway::demo::setup(o)).expect("demo");
        let fixture = crate::setup::Fixture::new(root).expect("fixture");
        for (target, inbox) in [
            (1024, "xoev-bench-test.inbox.psw-01003110"),
            (100 * 1024, "xoev-bench-test.inbox.ags-06611000"),
        ] {
            let message = crate::stages::sized_message(&fixture, target).expect("message");
            let load = super::load(&demo, &message, 2, 8).expect("load");
            assert_eq!(load.destination, inbox);
            let ids: Vec<_> = load.pool.iter().map(|(id, _)| id.as_str()).collect();
            assert_ne!(ids[0], ids[1], "each copy has an id of its own");
            for (id, signed) in load.pool.iter() {
                match demo.pipeline.process(signed, None, rt.handle()) {
                    Decision::Forward(f) => {
                        assert_eq!(f.queue, inbox);
                        assert_eq!(&f.case_id, id, "the sink matches by this id");
                        demo.fee_office()
                            .expect("fee office")
                            .check_answer(&f.payload)
                            .expect("signed by the gateway");
                    }
                    other => panic!("{target} B: {other:?}"),
                }
            }
        }
        let _ = std::fs::remove_dir_all(&work);
    }

    #[test]
    fn histogram_totals_add_up_every_label_set_of_one_metric_only() {
        let text = "# TYPE xoev_publish_duration_seconds histogram\n\
            xoev_publish_duration_seconds_bucket{outcome=\"ok\",le=\"0.005\"} 3\n\
            xoev_publish_duration_seconds_sum{outcome=\"ok\"} 1.5\n\
            xoev_publish_duration_seconds_count{outcome=\"ok\"} 3\n\
            xoev_publish_duration_seconds_sum{outcome=\"error\"} 0.5\n\
            xoev_publish_duration_seconds_count{outcome=\"error\"} 1\n\
            xoev_publish_duration_seconds_total_sum 9\n\
            xoev_pipeline_duration_seconds_sum 7\n";
        assert_eq!(
            histogram_totals(text, "xoev_publish_duration_seconds"),
            (2.0, 4)
        );
        assert_eq!(
            histogram_totals(text, "xoev_pipeline_duration_seconds"),
            (7.0, 0)
        );
        assert_eq!(histogram_totals(text, "xoev_other"), (0.0, 0));
    }
}

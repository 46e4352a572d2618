//! `xoev-bench`: the gateway's benchmark (issue 12). Prints, from one run on
//! this machine, the per-stage cost per core next to the floor (OpenSSL, one
//! parse, XSD of a parsed document), the Python baseline (lxml +
//! python-xmlsec), the RabbitMQ ceiling (raw lapin), end to end through the
//! real service loop, RSS over a long run, and scaling with size — always
//! as ratios next to the absolute numbers.
//!
//! Run everything: `cargo run --release -p xoev-bench -- all`
//! (quick: `-- all --messages 20000 --secs 0.5 --rounds 1`). See
//! docs/performance.md.

mod broker;
mod cpu;
mod e2e;
mod python;
mod setup;
mod stages;
mod stats;

/// The same allocator as the gateway binary (see its `main.rs`), so the
/// figures are the gateway's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use stats::us;
use std::path::PathBuf;
use xoev_gateway::service::ServiceOptions;

#[derive(Parser)]
#[command(
    name = "xoev-bench",
    about = "Benchmark of the XÖV gateway (issue 12); the options go before or after the command"
)]
struct Cli {
    /// Repository root (schemas/, routing/, adapters/, config/, tests/samples/).
    #[arg(long, global = true, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))]
    root: PathBuf,
    /// RabbitMQ.
    #[arg(
        long,
        global = true,
        env = "XOEV_BENCH_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Seconds per case and round (per-stage and Python).
    #[arg(long, global = true, default_value_t = 1.0)]
    secs: f64,
    /// Rounds per case; the median is reported.
    #[arg(long, global = true, default_value_t = 3)]
    rounds: usize,
    /// Messages of the long end-to-end run (RSS is sampled along the way).
    #[arg(long, global = true, default_value_t = 200_000)]
    messages: usize,
    /// Messages per phase of the broker ceiling.
    #[arg(long, global = true, default_value_t = 20_000)]
    broker_messages: usize,
    /// Gateway workers (messages processed at the same time; the gateway's
    /// default).
    #[arg(long, global = true, default_value_t = 4)]
    workers: usize,
    /// Gateway prefetch (the gateway's default is 32; 256 lets the gateway
    /// keep both cores busy here, see docs/performance.md).
    #[arg(long, global = true, default_value_t = 256)]
    prefetch: u16,
    /// The gateway's case store in the end-to-end runs: `memory` (as the
    /// demo) or `journal` (the `cases.jsonl` journal of `xoev-gateway run`
    /// with a directory store, synced before each forward).
    #[arg(long, global = true, value_enum, default_value_t = e2e::CaseStore::Memory)]
    case_store: e2e::CaseStore,
    /// Only the per-stage cases whose name contains this (for profiling).
    #[arg(long, global = true)]
    only: Option<String>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    /// Everything, in one run, with the summary of ratios.
    All,
    /// Per-stage cost per core and the floor.
    Stages,
    /// The Python baseline (lxml + python-xmlsec).
    Python,
    /// The RabbitMQ ceiling (raw lapin).
    Broker,
    /// Scaling with message size (1 KB … 1 MB): per core, the broker's
    /// ceiling, and end to end through the service.
    Sizes,
    /// End to end through RabbitMQ and RSS over a long run.
    E2e,
}

fn main() -> anyhow::Result<()> {
    xoev_gateway::allocator::purge_freed_memory_promptly();
    let cli = Cli::parse();
    // The gateway's own logs, when asked for (RUST_LOG=info); off by default
    // so that logging does not distort the figures.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let root = cli
        .root
        .canonicalize()
        .with_context(|| format!("repository root {}", cli.root.display()))?;
    let work = root
        .join("target/xoev-bench")
        .join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&work)?;
    let result = run(&cli, &rt, &root, &work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run(
    cli: &Cli,
    rt: &tokio::runtime::Runtime,
    root: &std::path::Path,
    work: &std::path::Path,
) -> anyhow::Result<()> {
    let all = cli.command == Cmd::All;
    let want = |c: Cmd| all || cli.command == c;
    println!("xoev-bench — {}", now());
    println!("machine: {}", stats::hardware());
    println!(
        "load average at start: {} (the machine is shared: figures are side by side from this run)",
        stats::loadavg()
    );
    println!(
        "build: {}; secs/case {}, rounds {} (median)",
        if cfg!(debug_assertions) {
            "DEBUG (use --release)"
        } else {
            "release"
        },
        cli.secs,
        cli.rounds
    );
    let fixture = setup::Fixture::new(root)?;

    let mut stage_report = None;
    if want(Cmd::Stages) {
        // The demo pipeline (in-process) for the Pipeline::process row.
        let demo = rt.block_on(xoev_gateway::demo::setup(
            xoev_gateway::demo::DemoOptions::new(root, work.join("demo-stages")),
        ))?;
        let fee = demo.fee_office()?;
        let requests = (0..200)
            .map(|_| fee.request().map(|r| r.1))
            .collect::<anyhow::Result<Vec<_>>>()?;
        stage_report = Some(stages::run(
            &fixture,
            Some((&demo.pipeline, &requests, rt.handle().clone())),
            cli.secs,
            cli.rounds,
            cli.only.as_deref(),
        )?);
    }

    let mut baseline = None;
    if want(Cmd::Python) {
        println!("\n== Python baseline (lxml + python-xmlsec), one core ==");
        match python::run(&fixture, work, cli.secs, cli.rounds) {
            Ok(b) => {
                println!("{}", b.versions);
                for (k, v) in &b.rates {
                    println!("  {k:<20} {:>10.1} µs {v:>10.0}/s", us(*v));
                }
                baseline = Some(b);
            }
            Err(e) => println!("Python baseline not available: {e:#}"),
        }
    }

    let mut ceiling = None;
    if want(Cmd::Broker) {
        let payload = fixture.ec.signer.sign_bytes(&fixture.request)?;
        println!(
            "\n== RabbitMQ ceiling: raw lapin, {} B persistent messages, durable queue, {} per phase ==",
            payload.len(),
            cli.broker_messages
        );
        let c = rt.block_on(broker::ceiling(
            &cli.amqp_url,
            &payload,
            cli.broker_messages,
        ))?;
        println!(
            "  publish with confirms {:.0}/s; consume with acks {:.0}/s; both at once {:.0}/s",
            c.publish, c.consume, c.both
        );
        ceiling = Some(c);
    }

    let mut e2e_run = None;
    if want(Cmd::E2e) {
        let options = ServiceOptions {
            workers: cli.workers,
            prefetch: cli.prefetch,
        };
        println!(
            "\n== End to end through RabbitMQ: fee-office request → gateway (verify EC, XSD, consent, routing, adapter, sign EC, confirmed publish) → tax office inbox; workers {}, prefetch {}, case store {} ==",
            options.workers,
            options.prefetch,
            cli.case_store.as_str()
        );
        let setup = rt.block_on(e2e::Setup::start(
            root,
            work,
            &cli.amqp_url,
            options,
            cli.case_store,
        ))?;
        let result = rt.block_on(async {
            // Warm-up, then the long run, then latency at half that rate.
            setup
                .run(&cli.amqp_url, 2_000.min(cli.messages), None)
                .await?;
            let long = setup.run(&cli.amqp_url, cli.messages, None).await?;
            let half = long.rate / 2.0;
            let n = ((half * 20.0) as usize).clamp(1_000, cli.messages);
            let paced = setup.run(&cli.amqp_url, n, Some(half)).await?;
            Ok::<_, anyhow::Error>((long, paced))
        });
        rt.block_on(setup.stop());
        let (long, paced) = result?;
        print_e2e(&long, &paced, ceiling.as_ref(), cli.prefetch);
        e2e_run = Some((long, paced));
    }

    // After the long end-to-end run, so that its peak RSS (VmHWM) is not
    // the big sizes' pools and payloads in flight.
    if want(Cmd::Sizes) {
        println!(
            "\n== Scaling with size: parse + verify EC + XSD + sign EC, one core; broker both at once =="
        );
        println!(
            "{:<8} {:>9} {:>10} {:>10} {:>10} {:>12}",
            "size", "bytes", "msg/s", "p50 ms", "p99 ms", "broker/s"
        );
        let rows = stages::sizes(&fixture, cli.secs * 2.0)?;
        let mut broker_rates = Vec::new();
        for row in &rows {
            let signed = fixture.ec.signer.sign_bytes(&row.message)?;
            let n = (20_000_000 / signed.len()).clamp(200, cli.broker_messages);
            let b = rt.block_on(broker::ceiling(&cli.amqp_url, &signed, n))?;
            broker_rates.push(b.both);
            println!(
                "{:<8} {:>9} {:>10.0} {:>10.2} {:>10.2} {:>12.0}",
                row.label,
                row.bytes,
                row.rate,
                row.p50.as_secs_f64() * 1e3,
                row.p99.as_secs_f64() * 1e3,
                b.both
            );
        }
        sizes_end_to_end(cli, rt, root, work, &rows, &broker_rates)?;
    }

    if all {
        summary(
            stage_report.as_ref(),
            baseline.as_ref(),
            ceiling.as_ref(),
            e2e_run.as_ref(),
        );
    }
    Ok(())
}

/// The size runs end to end: each size's message sent by its author
/// through the gateway (verify EC, XSD, access, routing, sign EC, confirmed
/// publish; a route without adapter) to its reader's inbox — saturated for
/// the rate, then at half that rate for the latency.
fn sizes_end_to_end(
    cli: &Cli,
    rt: &tokio::runtime::Runtime,
    root: &std::path::Path,
    work: &std::path::Path,
    rows: &[stages::SizeRow],
    broker_rates: &[f64],
) -> anyhow::Result<()> {
    println!(
        "\n== Scaling with size, end to end: author → gateway (verify EC, XSD, access, routing, sign EC, confirmed publish; no adapter) → reader's inbox; workers {}, prefetch {} ==",
        cli.workers, cli.prefetch
    );
    println!(
        "{:<8} {:>9} {:>9} {:>10} {:>12} {:>14} {:>14}",
        "size", "bytes", "messages", "msg/s", "of broker", "half: p50 ms", "half: p99 ms"
    );
    let options = ServiceOptions {
        workers: cli.workers,
        prefetch: cli.prefetch,
    };
    let setup = rt.block_on(e2e::Setup::start(
        root,
        work,
        &cli.amqp_url,
        options,
        cli.case_store,
    ))?;
    let result = (|| {
        for (row, both) in rows.iter().zip(broker_rates) {
            let size = row.message.len().max(1);
            // Memory, not time, bounds the big sizes: ≈ 32 MiB of distinct
            // messages, ≈ 64 MiB in flight, ≈ 200 MiB per saturated run.
            let load = setup.load(
                &row.message,
                (32 << 20) / size,
                ((64 << 20) / size).min(1_000),
            )?;
            let n = ((200 << 20) / size).clamp(300, 10_000);
            let (long, paced) = rt.block_on(async {
                setup.run_load(&cli.amqp_url, &load, n / 10, None).await?;
                let long = setup.run_load(&cli.amqp_url, &load, n, None).await?;
                let half = long.rate / 2.0;
                let m = ((half * 5.0) as usize).clamp(100, n);
                let paced = setup.run_load(&cli.amqp_url, &load, m, Some(half)).await?;
                Ok::<_, anyhow::Error>((long, paced))
            })?;
            println!(
                "{:<8} {:>9} {:>9} {:>10.0} {:>11.0} % {:>14.2} {:>14.2}",
                row.label,
                load.signed_bytes(),
                n,
                long.rate,
                100.0 * long.rate / both,
                paced.p50.as_secs_f64() * 1e3,
                paced.p99.as_secs_f64() * 1e3,
            );
        }
        Ok::<_, anyhow::Error>(())
    })();
    rt.block_on(setup.stop());
    result
}

fn print_e2e(long: &e2e::Run, paced: &e2e::Run, ceiling: Option<&broker::Ceiling>, prefetch: u16) {
    println!(
        "  saturated: {} messages, {:.0}/s, p50 {:.1} ms, p99 {:.1} ms{}",
        long.messages,
        long.rate,
        long.p50.as_secs_f64() * 1e3,
        long.p99.as_secs_f64() * 1e3,
        ceiling
            .map(|c| format!(
                ", {:.0} % of the broker's both-at-once ceiling",
                100.0 * long.rate / c.both
            ))
            .unwrap_or_default()
    );
    println!(
        "  paced at {:.0}/s (half): {} messages, p50 {:.1} ms, p99 {:.1} ms (target < 20 ms)",
        paced.paced.unwrap_or(0.0),
        paced.messages,
        paced.p50.as_secs_f64() * 1e3,
        paced.p99.as_secs_f64() * 1e3
    );
    print_cpu("saturated", &long.cpu);
    print_budget(&long.cpu);
    print_cpu("paced", &paced.cpu);
    print_times("saturated", long, prefetch);
    print_times("paced", paced, prefetch);
    let samples: Vec<String> = long
        .rss
        .iter()
        .map(|(n, kib)| format!("{}k:{:.0}", n / 1000, *kib as f64 / 1024.0))
        .collect();
    println!("  RSS MiB by messages delivered: {}", samples.join(" "));
    let at = |min: usize| long.rss.iter().find(|(n, _)| *n >= min).map(|r| r.1);
    if let (Some(a), Some((_, b))) = (at(50_000), long.rss.last()) {
        println!(
            "  RSS from 50k to {}k: {:+.1} % (target ± 10 %); peak (VmHWM) {:.0} MiB",
            long.messages / 1000,
            100.0 * (*b as f64 - a as f64) / a as f64,
            long.peak_kib as f64 / 1024.0
        );
    } else {
        println!(
            "  (run fewer than 50,000 messages: no 50k→end RSS comparison); peak (VmHWM) {:.0} MiB",
            long.peak_kib as f64 / 1024.0
        );
    }
}

/// Where a message's time in the gateway went, and the time in flight the
/// prefetch allowed at the run's rate (Little's law: at most `prefetch`
/// messages are unsettled, so rate × time in flight ≤ prefetch).
fn print_times(label: &str, run: &e2e::Run, prefetch: u16) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "  time per message in the gateway ({label}): pipeline on its thread {:.2} ms, publish until confirmed {:.2} ms, access-log append {:.2} ms, taken up to settled {:.2} ms; prefetch {prefetch} at {:.0}/s allows {:.1} ms in flight (delivery to ack)",
        ms(run.times.pipeline),
        ms(run.times.publish),
        ms(run.times.access_log),
        ms(run.times.whole),
        run.rate,
        1e3 * f64::from(prefetch) / run.rate
    );
}

/// Where the cores went during a run, per delivered message.
fn print_cpu(label: &str, c: &cpu::Use) {
    let roles: Vec<String> = c
        .roles
        .iter()
        .map(|(role, us)| format!("{role} {us:.0}"))
        .collect();
    println!(
        "  CPU µs per message ({label}): {}; RabbitMQ {}; whole machine {:.0} ({:.0} % of its cores busy)",
        roles.join(" · "),
        c.broker
            .map(|b| format!("{b:.0}"))
            .unwrap_or_else(|| "(not on this machine)".into()),
        c.machine,
        100.0 * c.machine_busy
    );
}

/// The rate the gateway and the broker alone allow on this machine's cores,
/// at the CPU per message of a (saturated) run.
fn print_budget(c: &cpu::Use) {
    let Some(broker) = c.broker else { return };
    // Everything of this process except the bench's own clients.
    let gateway: f64 = c
        .roles
        .iter()
        .filter(|(role, _)| *role != cpu::CLIENTS)
        .map(|(_, us)| us)
        .sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "  gateway {gateway:.0} + broker {broker:.0} = {:.0} µs of CPU per message: at most {:.0}/s on {cores:.0} cores without the bench's clients",
        gateway + broker,
        cores * 1e6 / (gateway + broker)
    );
}

fn summary(
    s: Option<&stages::StageReport>,
    py: Option<&python::Baseline>,
    c: Option<&broker::Ceiling>,
    e: Option<&(e2e::Run, e2e::Run)>,
) {
    println!("\n== Summary (ratios from this run) ==");
    if let Some(s) = s {
        let r = |k: &str| s.rates.get(k).copied().unwrap_or(f64::NAN);
        let floor = s.floor_us("floor_sign_ec");
        println!(
            "per core, verify EC + XSD + adapter + sign EC: {:.0}/s ({:.0} µs); floor {:.0}/s ({floor:.0} µs): {:.0} % of the floor (target ≥ 80 %)",
            r("pipeline_ec"),
            us(r("pipeline_ec")),
            1e6 / floor,
            100.0 * floor / us(r("pipeline_ec"))
        );
        if let Some(py) = py {
            let p = |k: &str| py.rates.get(k).copied().unwrap_or(f64::NAN);
            println!(
                "vs Python (verify EC + XSD + sign EC, no adapter): ours {:.0}/s vs {:.0}/s = {:.1}×; with RSA signing {:.0}/s vs {:.0}/s = {:.1}×",
                r("pipeline_ec"),
                p("pipeline_ec"),
                r("pipeline_ec") / p("pipeline_ec"),
                r("pipeline_rsa_sign"),
                p("pipeline_rsa_sign"),
                r("pipeline_rsa_sign") / p("pipeline_rsa_sign")
            );
            println!(
                "  by stage vs Python: parse {:.1}×, XSD {:.1}×, parse+verify EC {:.1}×, parse+sign EC {:.1}×",
                r("floor_parse") / p("parse"),
                r("floor_validate") / p("validate_parsed"),
                1.0 / (us(r("floor_parse")) + us(r("verify_ec"))) * 1e6 / p("parse_verify_ec"),
                r("sign_bytes_ec") / p("parse_sign_ec"),
            );
        }
    }
    if let (Some(c), Some((long, paced))) = (c, e) {
        println!(
            "end to end: {:.0}/s (target ≥ 3,000/s) = {:.0} % of the broker ceiling ({:.0}/s both at once); p99 at half rate {:.1} ms (target < 20 ms)",
            long.rate,
            100.0 * long.rate / c.both,
            c.both,
            paced.p99.as_secs_f64() * 1e3
        );
    }
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_go_before_or_after_the_command() {
        // the forms docs/performance.md shows
        let after =
            Cli::try_parse_from(["xoev-bench", "stages", "--only", "verify", "--secs", "0.5"])
                .expect("options after the command");
        assert!(after.command == Cmd::Stages);
        assert_eq!(after.only.as_deref(), Some("verify"));
        assert!((after.secs - 0.5).abs() < f64::EPSILON);
        let before =
            Cli::try_parse_from(["xoev-bench", "--rounds", "1", "--messages", "20000", "all"])
                .expect("options before the command");
        assert!(before.command == Cmd::All);
        assert_eq!((before.rounds, before.messages), (1, 20_000));
        assert!(Cli::try_parse_from(["xoev-bench", "all", "--nope"]).is_err());
    }
}

//! `xoev-gateway demo`: the whole once-only case, narrated.

use super::{Global, Outcome};
use crate::demo::{self, DemoOptions, FEE_OFFICE, TAX_OFFICE};
use crate::peers::text_at;
use crate::service;
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use xoev_core::{Limits, Message};
use xoev_transport::{AmqpTransport, Envelope, MemoryTransport, Target, TopologyConfig, Transport};

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Run over RabbitMQ at this URL instead of the in-process transport.
    #[arg(long, value_name = "URL")]
    pub amqp: Option<String>,
    /// Keep the demo CA's certificate (`demo-ca.pem`) and the access log
    /// here (default: a temporary directory). The keys live only in memory
    /// for the run; `--install DIR` writes an installation with its keys.
    #[arg(long, value_name = "DIR", conflicts_with = "install")]
    pub work: Option<PathBuf>,
    /// Queue prefix on RabbitMQ [default: xoev-demo; for an installation:
    /// xoev].
    #[arg(long)]
    pub prefix: Option<String>,
    /// Instead of running the case, write a whole installation into DIR
    /// (keys, certificates, trust store, routing, `gateway.toml`, the
    /// citizen's consent) and print the commands that run the gateway and
    /// both peers as separate programs over RabbitMQ.
    #[arg(long, value_name = "DIR")]
    pub install: Option<PathBuf>,
}

fn repo_root() -> PathBuf {
    let here = PathBuf::from(".");
    if here.join("schemas/catalogue.toml").is_file() && here.join("routing").is_dir() {
        return here;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Runs the demo.
pub fn run(g: &Global, args: &DemoArgs) -> anyhow::Result<Outcome> {
    if g.format == super::Format::Json {
        eprintln!("demo tells the case as text; --format json is not available here");
        return Ok(Outcome::IoError);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

async fn run_async(args: &DemoArgs) -> anyhow::Result<Outcome> {
    if let Some(dir) = &args.install {
        return install(args, dir).await;
    }
    let temp = tempfile::tempdir()?;
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let prefix = args.prefix.as_deref().unwrap_or("xoev-demo");
    let mut options = DemoOptions::new(repo_root(), &work);
    if args.amqp.is_some() {
        options.inbox_prefix = Some(prefix.to_owned());
    }
    let d = demo::setup(options).await?;
    let topology = TopologyConfig::with_prefix(prefix)
        .with_inboxes(d.pipeline.router.directory().inboxes().map(str::to_owned));
    let transport: Arc<dyn Transport> = match &args.amqp {
        Some(url) => Arc::new(AmqpTransport::connect(url, topology).await?),
        None => Arc::new(MemoryTransport::new(topology)),
    };
    let how = match &args.amqp {
        Some(url) => format!("RabbitMQ at {url} (queues {prefix}.*)"),
        None => "the in-process transport (not durable; `--amqp URL` uses RabbitMQ)".into(),
    };
    println!("xoev-gateway demo: the once-only evidence pull over {how}\n");

    let fee = d.fee_office()?;
    let tax = Arc::new(d.tax_office()?);
    let fee_inbox = d.inbox(FEE_OFFICE)?;
    let tax_inbox = d.inbox(TAX_OFFICE)?;
    let name = |id: &str| {
        d.pipeline
            .router
            .directory()
            .get(id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| id.into())
    };
    let inbound = transport.topology().inbound_queue.clone();
    let mut gateway_in = transport.consume(&inbound, 8).await?;

    // 1. the fee office asks
    let (request_id, request) = fee.request()?;
    let facts = xoev_adapters::RequestFacts::from_xnachweis(&request)?;
    println!(
        "1  {} ({FEE_OFFICE}) signs evidence request {request_id}",
        name(FEE_OFFICE)
    );
    println!(
        "   citizen tax id ***{}, year {}, purpose {}, consent {}",
        &facts.tax_id[facts.tax_id.len().saturating_sub(4)..],
        facts.year,
        facts.purpose,
        facts.consent
    );
    transport
        .publish(Envelope::new(Target::Inbound, request_id.clone(), request))
        .await?;

    // 2. the gateway processes it
    let delivery = next(&mut gateway_in).await?;
    service::handle(&d.pipeline, &transport, delivery).await;
    let status = d
        .pipeline
        .cases
        .status(&request_id)
        .await?
        .context("no status for the request")?;
    if status.state != "forwarded" {
        println!(
            "2  gateway REJECTED it at stage {:?}: {:?}",
            status.stage, status.reason
        );
        return Ok(Outcome::Rejected);
    }
    println!(
        "2  gateway: XSD XNachweis 1.2.0 ok, signature of {FEE_OFFICE} ok, access and consent ok,\n   translated to XEStB (xnachweis-to-xestb), signed by the gateway, published confirmed to {}",
        status.destination.as_deref().unwrap_or("?")
    );

    // 3. the tax office answers
    let t = tax.clone();
    let tax_transport = transport.clone();
    let tax_task = tokio::spawn(async move {
        crate::peers::serve_tax_office(t, tax_transport, &tax_inbox, Some(1)).await
    });
    let answered = tokio::time::timeout(Duration::from_secs(30), tax_task)
        .await
        .context("tax office timed out")???;
    println!(
        "3  {} ({TAX_OFFICE}) verified the gateway's signature and answered {answered} request from its assessment data (XEStB 0102)",
        name(TAX_OFFICE)
    );

    // 4. the gateway processes the answer
    let delivery = next(&mut gateway_in).await?;
    let answer_id = delivery.properties.message_id.clone().unwrap_or_default();
    service::handle(&d.pipeline, &transport, delivery).await;
    let status = d
        .pipeline
        .cases
        .status(&answer_id)
        .await?
        .context("no status for the answer")?;
    if status.state != "forwarded" {
        println!(
            "4  gateway REJECTED the answer at stage {:?}: {:?}",
            status.stage, status.reason
        );
        return Ok(Outcome::Rejected);
    }
    println!(
        "4  gateway: signature of {TAX_OFFICE} ok, matched to request {request_id}, minimised (xestb-to-xnachweis),\n   signed, published confirmed to {}",
        status.destination.as_deref().unwrap_or("?")
    );

    // 5. the fee office pulls its inbox
    let mut inbox = transport.consume(&fee_inbox, 1).await?;
    let delivery = next(&mut inbox).await?;
    let bytes = delivery.payload.to_vec();
    delivery.ack().await?;
    let verified = fee.check_answer(&bytes)?;
    let message = Message::parse(bytes.clone(), &Limits::default())?;
    let (_, doc) = d
        .verifier
        .verify_bytes(&bytes, &Limits::default(), Some(&d.gateway))?;
    xoev_dsig::strip_signature(&doc);
    let entry = d.pipeline.validator.catalogue().lookup(&message)?;
    entry
        .schema()?
        .validate(&doc)
        .map_err(|i| anyhow::anyhow!("answer invalid: {i:?}"))?;
    println!(
        "5  {} received {} {}: signed by {}, valid {} {}",
        name(FEE_OFFICE),
        message.root.local_name,
        message
            .header
            .as_ref()
            .map(|h| h.message_id.to_string())
            .unwrap_or_default(),
        verified.signer_subject,
        entry.name,
        entry.version
    );
    if let Some(b64) = text_at(&bytes, "RepositoryItem/RepositoryItem") {
        use base64::Engine as _;
        let evidence = base64::engine::general_purpose::STANDARD.decode(b64.as_bytes())?;
        println!("   the evidence, all the fee office gets (minimised):");
        for line in String::from_utf8_lossy(&evidence)
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            println!("   | {line}");
        }
    }

    // 6. what the citizen sees
    let entries = d.audit.entries_for(&d.citizen).await?;
    let names_file = d.root.join("config/citizen-view.toml");
    let mut names = xoev_audit::Names::load(&names_file).unwrap_or_default();
    for a in d.pipeline.router.directory().authorities() {
        names
            .authorities
            .entry(a.id.clone())
            .or_insert_with(|| a.name.clone());
    }
    // The portal joins a request and its answer into one event.
    let events = xoev_audit::citizen_view(&entries, &names);
    println!(
        "6  the citizen's access log ({} entries, hash-chained), as the citizen's portal shows it ({} event{}):",
        entries.len(),
        events.len(),
        if events.len() == 1 { "" } else { "s" }
    );
    for event in events {
        println!("   - {}", event.text);
    }
    let report = d.audit.verify(None).await?;
    println!("   chain intact: {}", report.is_intact());
    Ok(Outcome::Ok)
}

/// `demo --install DIR`.
async fn install(args: &DemoArgs, dir: &std::path::Path) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(dir)?;
    let dir = dir.canonicalize()?;
    let store = dir.join("audit").to_string_lossy().into_owned();
    let mut options = DemoOptions::new(repo_root().canonicalize()?, dir.join("work"));
    options.audit_store = Some(store.clone());
    // the shipped routing's inboxes (xoev.inbox.…), or the prefix's
    let prefix = args.prefix.as_deref().unwrap_or("xoev");
    if args.prefix.is_some() {
        options.inbox_prefix = Some(prefix.to_owned());
    }
    let d = demo::setup(options).await?;
    let url = args
        .amqp
        .clone()
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let config = d.write_installation(
        &dir,
        &demo::Services {
            amqp_url: &url,
            prefix,
            audit_store: &store,
            pg_schema: None,
            retry_delay_ms: TopologyConfig::default().retry_delay.as_millis() as u64,
        },
    )?;
    let root = d.root.display();
    let dirs = dir.display();
    let common = |id: &str| {
        let safe = id.replace(':', "-");
        format!(
            "--amqp '{url}' --key {dirs}/keys/{safe}.key.pem --cert {dirs}/certs/{safe}.pem --trust {dirs}/trust --gateway-cert {dirs}/certs/xoev-gateway.pem"
        )
    };
    println!("wrote a demo installation (TEST keys only) to {dirs}; in three terminals:\n");
    println!(
        "  XOEV_CITIZEN_SECRET='{}' xoev-gateway run --config {}",
        String::from_utf8_lossy(demo::DEMO_SECRET),
        config.display()
    );
    println!(
        "  xoev-gateway peer tax-office {} --inbox {} --id {TAX_OFFICE} --answers {root}/{}",
        common(TAX_OFFICE),
        d.inbox(TAX_OFFICE)?,
        demo::ANSWERS
    );
    println!(
        "  xoev-gateway peer fee-office {} --inbox {} --request {root}/{} --count 10",
        common(FEE_OFFICE),
        d.inbox(FEE_OFFICE)?,
        demo::REQUEST
    );
    println!(
        "\nand afterwards: xoev-gateway audit show --store {store} --tax-id {} (with XOEV_CITIZEN_SECRET set)",
        demo::TAX_ID
    );
    Ok(Outcome::Ok)
}

async fn next(c: &mut xoev_transport::Consumer) -> anyhow::Result<xoev_transport::Delivery> {
    match tokio::time::timeout(Duration::from_secs(30), c.next()).await {
        Ok(Some(d)) => Ok(d?),
        Ok(None) => anyhow::bail!("queue closed"),
        Err(_) => anyhow::bail!("nothing arrived within 30 s"),
    }
}

//! Per-stage cost on one core, the floor from the same run, the gateway's
//! own pipeline on one core, and scaling with message size.

use crate::setup::Fixture;
use crate::stats::{self, median, percentile, rate, us};
use anyhow::Context as _;
use openssl::hash::MessageDigest;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use xoev_core::Message;
use xoev_dsig::{Document, Signer};
use xoev_gateway::cases::CaseStore as _;
use xoev_gateway::pipeline::{Decision, Pipeline};
use xoev_schema::{CompiledSchema, parse_document};

/// Rates (operations per second, median of the rounds) by case name.
pub type Rates = BTreeMap<&'static str, f64>;

/// One measured case: a name, a label for the table and the work.
struct Case<'a> {
    name: &'static str,
    label: &'static str,
    run: Box<dyn FnMut() + 'a>,
}

fn case<'a>(name: &'static str, label: &'static str, run: impl FnMut() + 'a) -> Case<'a> {
    Case {
        name,
        label,
        run: Box::new(run),
    }
}

/// Measures `cases` in `rounds` rounds (interleaved, so noise on the shared
/// machine hits every case alike) and returns the median rate of each.
fn measure(cases: &mut [Case<'_>], secs: f64, rounds: usize) -> Rates {
    let mut all: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for _ in 0..rounds.max(1) {
        for c in cases.iter_mut() {
            all.entry(c.name).or_default().push(rate(secs, &mut c.run));
        }
    }
    all.into_iter().map(|(k, v)| (k, median(v))).collect()
}

fn parse(f: &Fixture, bytes: &[u8]) -> anyhow::Result<Document> {
    parse_document(bytes, &f.limits).map_err(|e| anyhow::anyhow!("parse: {e}"))
}

fn xnachweis_schema(f: &Fixture) -> anyhow::Result<Arc<CompiledSchema>> {
    let entry = f
        .validator
        .catalogue()
        .get("XNachweis", "1.2.0")
        .context("XNachweis 1.2.0 is not in the catalogue")?;
    Ok(entry.schema()?)
}

/// What the gateway does to one request on one core, without the stores and
/// the broker: header, one parse, verify, strip, XSD, the request's facts
/// and the adapter chain read from that same document (its output
/// validated), sign, header of the output read from the signed buffer — the
/// same calls, in the same order, as `Pipeline::process` (the signed output
/// serialised by splicing the signature into the adapter's bytes).
fn pipeline_core(
    f: &Fixture,
    schema: &CompiledSchema,
    chain: &xoev_adapters::Chain,
    signed: &[u8],
    signer: &Signer,
) -> anyhow::Result<Vec<u8>> {
    let message = Message::parse(signed.to_vec(), &f.limits)?;
    message.require_header()?;
    let doc = parse(f, signed)?;
    f.verifier.verify(&doc, None)?;
    xoev_dsig::strip_signature(&doc);
    schema
        .validate(&doc)
        .map_err(|i| anyhow::anyhow!("invalid: {i:?}"))?;
    let facts = xoev_adapters::RequestFacts::from_document(&doc)?;
    let mut ctx = f.request_context();
    ctx.municipality = facts.municipality().map(str::to_owned);
    ctx.input_facts = Some(facts);
    let (unsigned, out) = f
        .translator
        .run_validated(chain, &doc, "XNachweis", "1.2.0", &ctx)?;
    drop(doc);
    signer.sign(&out)?;
    let out = Message::parse(xoev_dsig::signed_bytes(&unsigned, &out), &f.limits)?;
    out.require_header()?;
    let raw = out.raw().clone();
    drop(out);
    Ok(Vec::from(raw))
}

/// The adapter step of the pipeline: the request's facts and the chain
/// read from the already parsed, validated document (output validated).
fn adapter_from_document(
    f: &Fixture,
    chain: &xoev_adapters::Chain,
    doc: &Document,
) -> anyhow::Result<Document> {
    let facts = xoev_adapters::RequestFacts::from_document(doc)?;
    let mut ctx = f.request_context();
    ctx.municipality = facts.municipality().map(str::to_owned);
    ctx.input_facts = Some(facts);
    Ok(f.translator
        .run_validated(chain, doc, "XNachweis", "1.2.0", &ctx)?
        .1)
}

/// The per-stage results.
pub struct StageReport {
    /// Rates by case.
    pub rates: Rates,
    /// Size of the signed request.
    pub signed_bytes: usize,
    /// Size of the unsigned request.
    pub request_bytes: usize,
}

impl StageReport {
    /// The floor for verify EC + validate + sign EC: µs per message.
    pub fn floor_us(&self, sign: &str) -> f64 {
        let r = |k: &str| self.rates.get(k).copied().unwrap_or(f64::NAN);
        us(r("floor_parse")) + us(r("floor_validate")) + us(r("floor_verify_ec")) + us(r(sign))
    }
}

/// Checks everything a case relies on once, so a broken setup fails loudly
/// instead of measuring error paths.
fn check(f: &Fixture, schema: &CompiledSchema, signed: &[u8]) -> anyhow::Result<()> {
    let doc = parse(f, signed)?;
    f.verifier.verify(&doc, None)?;
    xoev_dsig::strip_signature(&doc);
    schema
        .validate(&doc)
        .map_err(|i| anyhow::anyhow!("the signed content does not validate: {i:?}"))?;
    let mut tampered = signed.to_vec();
    let at = tampered
        .windows(6)
        .position(|w| w == b"Muster")
        .context("no name to tamper with")?;
    tampered[at + 1] = b'X';
    if f.verifier.verify(&parse(f, &tampered)?, None).is_ok() {
        anyhow::bail!("a tampered message verified");
    }
    Ok(())
}

/// Runs every per-stage case and the floor, and prints them.
pub fn run(
    f: &Fixture,
    pipeline: Option<(&Pipeline, &[Vec<u8>], tokio::runtime::Handle)>,
    secs: f64,
    rounds: usize,
    only: Option<&str>,
) -> anyhow::Result<StageReport> {
    let schema = xnachweis_schema(f)?;
    let signed_ec = f.ec.signer.sign_bytes(&f.request)?;
    let signed_rsa = f.rsa.signer.sign_bytes(&f.request)?;
    let pss = f
        .rsa
        .signer
        .with_algorithm(xoev_dsig::SignatureAlgorithm::RsaPssSha256)?;
    let signed_pss = pss.sign_bytes(&f.request)?;
    check(f, &schema, &signed_ec)?;
    check(f, &schema, &signed_rsa)?;
    check(f, &schema, &signed_pss)?;
    let doc_ec = parse(f, &signed_ec)?;
    let doc_rsa = parse(f, &signed_rsa)?;
    let doc_pss = parse(f, &signed_pss)?;
    let content = parse(f, &f.request)?;
    let req_chain = f.registry.chain(&["xnachweis-to-xestb"])?;
    let ans_chain = f.registry.chain(&["xestb-to-xnachweis"])?;
    let req_adapter = f.registry.get("xnachweis-to-xestb")?;
    let xestb_request = f
        .translator
        .run(&req_chain, &f.request, &f.request_context())?;
    f.translator
        .run(&ans_chain, &f.answer, &f.answer_context())?;
    let out_doc = parse(f, &xestb_request)?;
    let xestb_schema = f
        .validator
        .catalogue()
        .get("XEStB", "1.0.0")
        .context("XEStB 1.0.0 is not in the catalogue")?
        .schema()?;
    xestb_schema
        .validate(&out_doc)
        .map_err(|i| anyhow::anyhow!("the adapter's output does not validate: {i:?}"))?;
    let signed_out = parse(f, &xestb_request)?;
    f.ec.signer.sign(&signed_out)?;
    pipeline_core(f, &schema, &req_chain, &signed_ec, &f.ec.signer)?;
    adapter_from_document(f, &req_chain, &content)?;

    // The floor: the same keys through OpenSSL, no XML.
    let (ec_key, rsa_key) = (&f.ec.issued.key, &f.rsa.issued.key);
    let ec_pub = f.ec.issued.cert.public_key()?;
    let rsa_pub = f.rsa.issued.cert.public_key()?;
    let raw_sign = |key: &openssl::pkey::PKeyRef<openssl::pkey::Private>| {
        let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), key)?;
        s.sign_oneshot_to_vec(&signed_ec)
    };
    let ec_sig = raw_sign(ec_key)?;
    let rsa_sig = raw_sign(rsa_key)?;
    let raw_verify = |key: &openssl::pkey::PKeyRef<openssl::pkey::Public>, sig: &[u8]| {
        openssl::sign::Verifier::new(MessageDigest::sha256(), key)
            .and_then(|mut v| v.verify_oneshot(sig, &signed_ec))
            .unwrap_or(false)
    };
    anyhow::ensure!(raw_verify(&ec_pub, &ec_sig) && raw_verify(&rsa_pub, &rsa_sig));

    let mut next = 0usize;
    let mut cases = vec![
        case("header", "header parse (quick-xml, Message::parse)", || {
            let _ = Message::parse(signed_ec.clone(), &f.limits);
        }),
        case("floor_parse", "parse (hardened libxml2)", || {
            let _ = parse_document(&signed_ec, &f.limits);
        }),
        case(
            "verify_ec",
            "verify ECDSA P-256, parsed, chain cached",
            || {
                let _ = f.verifier.verify(&doc_ec, None);
            },
        ),
        case(
            "verify_rsa",
            "verify RSA-2048, parsed, chain cached",
            || {
                let _ = f.verifier.verify(&doc_rsa, None);
            },
        ),
        case(
            "verify_rsa_pss",
            "verify RSA-PSS-2048, parsed, chain cached",
            || {
                let _ = f.verifier.verify(&doc_pss, None);
            },
        ),
        case(
            "verify_ec_xmlsec",
            "verify ECDSA P-256 with xmlsec1's engine (reference)",
            || {
                let _ = f.verifier.verify_with_xmlsec(&doc_ec, None);
            },
        ),
        case(
            "floor_validate",
            "XSD validation of the parsed document",
            || {
                let _ = schema.validate(&content);
            },
        ),
        case(
            "output_parse",
            "parse the adapter's output (XEStB request)",
            || {
                let _ = parse_document(&xestb_request, &f.limits);
            },
        ),
        case(
            "output_validate",
            "XSD validation of the adapter's output (parsed)",
            || {
                let _ = xestb_schema.validate(&out_doc);
            },
        ),
        case("serialise", "serialise the document (to_bytes)", || {
            let _ = xoev_dsig::to_bytes(&content);
        }),
        case(
            "serialise_signed",
            "serialise the signed output: whole tree (to_bytes)",
            || {
                let _ = xoev_dsig::to_bytes(&signed_out);
            },
        ),
        case(
            "splice_signed",
            "serialise the signed output: splice (signed_bytes)",
            || {
                let _ = xoev_dsig::signed_bytes(&xestb_request, &signed_out);
            },
        ),
        case(
            "adapter_raw",
            "adapter XNachweis→XEStB, translate only",
            || {
                let _ = req_adapter.translate(&f.request, &f.request_context());
            },
        ),
        case(
            "adapter_document",
            "adapter XNachweis→XEStB from the parsed doc (facts + validated out)",
            || {
                let _ = adapter_from_document(f, &req_chain, &content);
            },
        ),
        case(
            "adapter_request",
            "adapter XNachweis→XEStB via Translator (validates in+out)",
            || {
                let _ = f
                    .translator
                    .run(&req_chain, &f.request, &f.request_context());
            },
        ),
        case(
            "adapter_answer",
            "adapter XEStB→XNachweis via Translator (validates in+out)",
            || {
                let _ = f.translator.run(&ans_chain, &f.answer, &f.answer_context());
            },
        ),
        case("sign_ec", "sign ECDSA P-256, parsed document", || {
            let _ = f.ec.signer.sign(&out_doc);
        }),
        case("sign_rsa", "sign RSA-2048, parsed document", || {
            let _ = f.rsa.signer.sign(&out_doc);
        }),
        case("sign_rsa_pss", "sign RSA-PSS-2048, parsed document", || {
            let _ = pss.sign(&out_doc);
        }),
        case(
            "sign_ec_xmlsec",
            "sign ECDSA P-256 with xmlsec1's engine (reference)",
            || {
                let _ = f.ec.signer.sign_with_xmlsec(&out_doc);
            },
        ),
        case(
            "sign_bytes_ec",
            "sign ECDSA from bytes (parse+sign+splice)",
            || {
                let _ = f.ec.signer.sign_bytes(&xestb_request);
            },
        ),
        case(
            "floor_sign_ec",
            "OpenSSL ECDSA P-256 sign (SHA-256 + sign)",
            || {
                let _ = raw_sign(ec_key);
            },
        ),
        case("floor_verify_ec", "OpenSSL ECDSA P-256 verify", || {
            let _ = raw_verify(&ec_pub, &ec_sig);
        }),
        case("floor_sign_rsa", "OpenSSL RSA-2048 sign", || {
            let _ = raw_sign(rsa_key);
        }),
        case("floor_verify_rsa", "OpenSSL RSA-2048 verify", || {
            let _ = raw_verify(&rsa_pub, &rsa_sig);
        }),
        case(
            "pipeline_ec",
            "OURS verify EC + XSD + adapter + sign EC (pipeline calls)",
            || {
                let _ = pipeline_core(f, &schema, &req_chain, &signed_ec, &f.ec.signer);
            },
        ),
        case(
            "pipeline_rsa_sign",
            "OURS verify EC + XSD + adapter + sign RSA",
            || {
                let _ = pipeline_core(f, &schema, &req_chain, &signed_ec, &f.rsa.signer);
            },
        ),
    ];
    if let Some((p, requests, rt_handle)) = pipeline {
        let entry = match p.process(&requests[0], None, &rt_handle) {
            Decision::Forward(f) => f
                .audit
                .context("a forwarded request without access-log entry")?,
            other => anyhow::bail!("the demo pipeline does not forward its request: {other:?}"),
        };
        let (audit, h) = (p.audit.clone(), rt_handle.clone());
        let (audit32, h32, entry32) = (p.audit.clone(), rt_handle.clone(), entry.clone());
        cases.push(case(
            "audit_append",
            "access-log append (service, after publish; demo: file store, fsync)",
            move || {
                let _ = h.block_on(audit.append(entry.clone()));
            },
        ));
        cases.push(case(
            "audit_append_x32",
            "access-log: 32 appends at once (group commit); rate in batches of 32",
            move || {
                h32.block_on(async {
                    let all = (0..32).map(|_| {
                        let (a, e) = (audit32.clone(), entry32.clone());
                        tokio::spawn(async move { a.append(e).await })
                    });
                    for t in all.collect::<Vec<_>>() {
                        let _ = t.await;
                    }
                });
            },
        ));
        // `xoev-gateway run` with a directory store keeps its cases in a
        // journal file (the demo and the end-to-end runs keep them in memory)
        let journal_dir = tempfile::tempdir()?;
        let journal = xoev_gateway::cases::FileCases::open(journal_dir.path())?;
        let facts = xoev_adapters::RequestFacts::from_xnachweis(&f.request)?;
        let status = xoev_gateway::cases::Status {
            state: "forwarded".into(),
            stage: None,
            reason: None,
            detail: None,
            destination: Some("xoev.inbox.fa-2613".into()),
            copies: Vec::new(),
            digest: None,
            forwarded_id: Some("bench".into()),
            sender: Some("ags:06611000".into()),
            updated: "2026-11-26T17:00:00Z".into(),
        };
        let (hc, mut n) = (rt_handle.clone(), 0u64);
        cases.push(case(
            "cases_file",
            "case store, request + flush + status, one caller (run, directory store: journal)",
            move || {
                n += 1;
                let id = format!("bench-{n}");
                let _ = hc.block_on(journal.put_request(&id, &facts));
                let _ = hc.block_on(journal.flush());
                let _ = hc.block_on(journal.set_status(&id, &status));
                let _ = journal_dir.path();
            },
        ));
        cases.push(case(
            "process",
            "OURS Pipeline::process (demo: + consent, routing, case store)",
            move || {
                next = (next + 1) % requests.len();
                let _ = p.process(&requests[next], None, &rt_handle);
            },
        ));
    }
    if let Some(only) = only {
        cases.retain(|c| c.name.contains(only));
    }
    let rates = measure(&mut cases, secs, rounds);
    let report = StageReport {
        rates,
        signed_bytes: signed_ec.len(),
        request_bytes: f.request.len(),
    };
    print(&report, &cases);
    Ok(report)
}

fn print(r: &StageReport, cases: &[Case<'_>]) {
    let rate = |k: &str| r.rates.get(k).copied().unwrap_or(f64::NAN);
    println!(
        "\n== Per stage, one core (request {} B unsigned, {} B signed with ECDSA + 2 certificates) ==",
        r.request_bytes, r.signed_bytes
    );
    println!("{:<62} {:>10} {:>10}", "stage", "µs/msg", "msg/s");
    for c in cases {
        let v = rate(c.name);
        println!("{:<62} {:>10.1} {:>10.0}", c.label, us(v), v);
    }
    let floor_ec = r.floor_us("floor_sign_ec");
    let floor_rsa = r.floor_us("floor_sign_rsa");
    println!(
        "\nfloor = one parse + XSD of the parsed document + OpenSSL verify EC + OpenSSL sign:"
    );
    for (label, ours, floor) in [
        ("sign ECDSA", "pipeline_ec", floor_ec),
        ("sign RSA  ", "pipeline_rsa_sign", floor_rsa),
    ] {
        let o = us(rate(ours));
        println!(
            "  {label}: floor {floor:.0} µs ({:.0}/s); ours {o:.0} µs ({:.0}/s) = {:.2}× the floor, {:.0} % of the floor's rate (target ≥ 80 %)",
            1e6 / floor,
            rate(ours),
            o / floor,
            100.0 * floor / o
        );
    }
    // The same steps measured one by one, each in a loop of its own, next
    // to the sequence: the difference is what the steps cost each other
    // (caches; docs/performance.md, the sixth machine's profiles).
    let steps = [
        ("header", 2.0),
        ("floor_parse", 1.0),
        ("verify_ec", 1.0),
        ("floor_validate", 1.0),
        ("adapter_document", 1.0),
        ("sign_ec", 1.0),
        ("splice_signed", 1.0),
    ];
    if steps.iter().all(|(k, _)| r.rates.contains_key(k)) && r.rates.contains_key("pipeline_ec") {
        let sum: f64 = steps.iter().map(|(k, n)| n * us(rate(k))).sum();
        let o = us(rate("pipeline_ec"));
        println!(
            "  the same steps one by one (2 header reads, parse, verify EC, XSD, adapter from the parsed doc, sign EC, splice): {sum:.0} µs; in sequence {o:.0} µs = {:+.0} %",
            100.0 * (o / sum - 1.0)
        );
    }
    if r.rates.contains_key("process") {
        let o = us(rate("process"));
        println!(
            "  Pipeline::process: {o:.0} µs ({:.0}/s) = {:.2}× the EC floor",
            rate("process"),
            o / floor_ec
        );
    }
}

/// A message of about `target` bytes (unsigned) that validates: the XWasser
/// receipt for the smallest, otherwise an XNachweis evidence answer whose
/// `RepositoryItem` (the evidence document, base64) is filled up.
pub fn sized_message(f: &Fixture, target: usize) -> anyhow::Result<Vec<u8>> {
    if target <= 2048 {
        return Ok(std::fs::read(
            f.root
                .join("tests/samples/xwasser/administration_receipt.xml"),
        )?);
    }
    let template = std::fs::read_to_string(f.root.join(
        "tests/samples/xnachweis/DE.EvidenceResponse.0102.synthetic-kita-kassel-beitragsstufe.xml",
    ))?;
    let open = "<xn-bk:RepositoryItem><xn-bk:RepositoryItem>";
    let flat = template.replace(
        "<xn-bk:RepositoryItem>\n        <xn-bk:RepositoryItem>",
        open,
    );
    let start = flat.find(open).context("template has no RepositoryItem")? + open.len();
    let end = start
        + flat[start..]
            .find("</xn-bk:RepositoryItem>")
            .context("RepositoryItem not closed")?;
    let rest = flat.len() - (end - start);
    let want = target.saturating_sub(rest).max(76);
    let mut raw = vec![0u8; want * 3 / 4];
    openssl::rand::rand_bytes(&mut raw)?;
    let b64 = openssl::base64::encode_block(&raw);
    let mut body = String::with_capacity(b64.len() + b64.len() / 76 + 2);
    for chunk in b64.as_bytes().chunks(76) {
        body.push('\n');
        body.push_str(std::str::from_utf8(chunk)?);
    }
    Ok(format!("{}{body}\n{}", &flat[..start], &flat[end..]).into_bytes())
}

/// Throughput and latency of verify + XSD + sign (ECDSA) per core at each size.
pub struct SizeRow {
    /// Nominal size label.
    pub label: &'static str,
    /// Bytes, signed.
    pub bytes: usize,
    /// The message, unsigned (the same bytes for the broker and end-to-end
    /// runs at this size).
    pub message: Vec<u8>,
    /// Messages per second.
    pub rate: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// The sizes of the scaling table.
pub const SIZES: &[(&str, usize)] = &[
    ("1 KB", 1024),
    ("5 KB", 5 * 1024),
    ("100 KB", 100 * 1024),
    ("1 MB", 1024 * 1024),
];

/// Per-core processing (parse, verify EC, strip, XSD, sign EC, serialise)
/// at each size in [`SIZES`].
pub fn sizes(f: &Fixture, secs: f64) -> anyhow::Result<Vec<SizeRow>> {
    let mut rows = Vec::new();
    for &(label, target) in SIZES {
        let unsigned = sized_message(f, target)?;
        let signed = f.ec.signer.sign_bytes(&unsigned)?;
        let message = Message::parse(unsigned.clone(), &f.limits)?;
        let schema = f.validator.catalogue().lookup(&message)?.schema()?;
        let work = || -> anyhow::Result<Vec<u8>> {
            let doc = parse(f, &signed)?;
            f.verifier.verify(&doc, None)?;
            xoev_dsig::strip_signature(&doc);
            schema
                .validate(&doc)
                .map_err(|i| anyhow::anyhow!("{label}: invalid: {i:?}"))?;
            f.ec.signer.sign(&doc)?;
            Ok(xoev_dsig::to_bytes(&doc))
        };
        work()?;
        // Size the run to the time budget from one timed call.
        let t = std::time::Instant::now();
        work()?;
        let n = ((secs / t.elapsed().as_secs_f64().max(1e-6)) as usize).clamp(30, 20_000);
        let lat = stats::latencies(n, || {
            let _ = work();
        });
        let total: Duration = lat.iter().sum();
        rows.push(SizeRow {
            label,
            bytes: signed.len(),
            message: unsigned,
            rate: lat.len() as f64 / total.as_secs_f64(),
            p50: percentile(&lat, 50.0),
            p99: percentile(&lat, 99.0),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scaling table measures what it says: messages of about the
    /// nominal size that are valid (a broken one would measure error paths).
    #[test]
    fn sized_messages_have_their_size_and_validate() {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let f = Fixture::new(root).expect("fixture");
        for &(label, target) in &SIZES[1..3] {
            let m = sized_message(&f, target).expect("message");
            let ratio = m.len() as f64 / target as f64;
            assert!((0.9..1.1).contains(&ratio), "{label}: {} bytes", m.len());
            let message = Message::parse(m.clone(), &f.limits).expect("header");
            let schema = f
                .validator
                .catalogue()
                .lookup(&message)
                .and_then(|e| e.schema())
                .expect("schema");
            let doc = parse(&f, &m).expect("parses");
            assert!(schema.validate(&doc).is_ok(), "{label} validates");
        }
    }
}

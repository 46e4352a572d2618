//! Signature benchmark (issue 3/12): signatures/s and verifications/s per
//! core for a ~5 KB XÖV message with RSA-2048 and ECDSA P-256, next to
//! `openssl speed` from the same run, as a ratio.
//!
//! Run: `cargo bench -p xoev-dsig --bench dsig` (seconds per case:
//! `XOEV_BENCH_SECS`, default 2). One thread: figures are per core.

use std::process::Command;
use std::time::{Duration, Instant};
use xoev_dsig::pki::{KeyKind, TestCa};
use xoev_dsig::{Signer, TrustStore, Verifier};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml"
);

/// Runs `f` repeatedly for `secs`; returns operations per second.
fn rate(secs: f64, mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f(); // warm up (per-thread keys, caches)
    }
    let budget = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..10 {
            f();
        }
        n += 10;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// `openssl speed` sign/verify per second for rsa2048 and ecdsap256.
fn openssl_speed() -> Option<((f64, f64), (f64, f64))> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "1", "-mr", "rsa2048", "ecdsap256"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rsa = None;
    let mut ec = None;
    for line in text.lines() {
        // +F2:<n>:2048:<sign s>:<verify s>  (RSA);  +F4:<n>:256:<sign s>:<verify s>  (ECDSA)
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 5 {
            let (s, v) = (f[3].parse::<f64>().ok()?, f[4].parse::<f64>().ok()?);
            match (f[0], f[2]) {
                ("+F2", "2048") => rsa = Some((1.0 / s, 1.0 / v)),
                ("+F4", "256") => ec = Some((1.0 / s, 1.0 / v)),
                _ => {}
            }
        }
    }
    Some((rsa?, ec?))
}

fn main() {
    let secs: f64 = std::env::var("XOEV_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    xoev_dsig::init().expect("init");
    let payload = std::fs::read(SAMPLE).expect("sample");
    let ca = TestCa::generate("Bench CA").expect("ca");
    let trust = TrustStore::from_pem(&ca.issued.cert_pem().expect("pem")).expect("trust");
    let verifier = Verifier::new(trust);
    let limits = xoev_core::Limits::default();
    let speed = openssl_speed();
    println!("xoev-dsig benchmark, one thread, {secs} s per case");
    println!(
        "{:<10} {:>9} | {:>12} {:>12} {:>12} | {:>12} {:>12} {:>12}",
        "key",
        "msg bytes",
        "sign/s",
        "parse+sign/s",
        "openssl",
        "verify/s",
        "parse+vfy/s",
        "openssl"
    );
    for (name, kind) in [
        ("RSA-2048", KeyKind::Rsa(2048)),
        ("ECDSA-P256", KeyKind::EcP256),
    ] {
        let issued = ca.issue(name, kind, -1, 365).expect("issue");
        let signer = Signer::from_pem(
            &issued.key_pem().expect("pem"),
            &issued.cert_pem().expect("pem"),
        )
        .expect("signer");
        let doc = xoev_schema::parse_document(&payload, &limits).expect("parse");
        let sign = rate(secs, || signer.sign(&doc).expect("sign"));
        let parse_sign = rate(secs, || {
            signer.sign_bytes(&payload).expect("sign");
        });
        let signed = signer.sign_bytes(&payload).expect("sign");
        let signed_doc = xoev_schema::parse_document(&signed, &limits).expect("parse");
        let verify = rate(secs, || {
            verifier.verify(&signed_doc, None).expect("verify");
        });
        let parse_verify = rate(secs, || {
            verifier
                .verify_bytes(&signed, &limits, None)
                .expect("verify");
        });
        let floor = speed.map(|(rsa, ec)| {
            if matches!(kind, KeyKind::Rsa(_)) {
                rsa
            } else {
                ec
            }
        });
        let (fs, fv) = floor.unwrap_or((f64::NAN, f64::NAN));
        println!(
            "{:<10} {:>9} | {:>12.0} {:>12.0} {:>12.0} | {:>12.0} {:>12.0} {:>12.0}",
            name,
            signed.len(),
            sign,
            parse_sign,
            fs,
            verify,
            parse_verify,
            fv
        );
        println!(
            "{:<10} {:>9} | {:>11.0}% {:>11.0}% {:>12} | {:>11.0}% {:>11.0}% {:>12}",
            "  ratio",
            "",
            100.0 * sign / fs,
            100.0 * parse_sign / fs,
            "100%",
            100.0 * verify / fv,
            100.0 * parse_verify / fv,
            "100%"
        );
    }
    if speed.is_none() {
        println!("(openssl speed was not available: ratios are NaN)");
    }
    println!(
        "sign/s: sign an already parsed document (re-signing strips the old signature first);"
    );
    println!("verify/s: profile check + cached chain + xmlsec1 verify of a parsed document;");
    println!("parse+...: including the hardened libxml2 parse (and serialisation when signing).");
}

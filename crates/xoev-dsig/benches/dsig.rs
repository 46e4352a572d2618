//! Signature benchmark (issue 3/12): signatures/s and verifications/s per
//! core for a ~5 KB XÖV message with RSA-2048 and ECDSA P-256, next to
//! `openssl speed` from the same run, as a ratio.
//!
//! Run: `cargo bench -p xoev-dsig --bench dsig` (seconds per case:
//! `XOEV_BENCH_SECS`, default 2). One thread: figures are per core.

use openssl::hash::MessageDigest;
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
        // +F2:<n>:2048:<sign>:<verify> (RSA); +F4:<n>:256:<sign>:<verify> (ECDSA).
        // OpenSSL 3 prints operations per second; 1.1 printed seconds per op.
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 5 {
            let per_s = |x: &str| {
                x.parse::<f64>()
                    .ok()
                    .map(|v| if v < 1.0 { 1.0 / v } else { v })
            };
            let (s, v) = (per_s(f[3])?, per_s(f[4])?);
            match (f[0], f[2]) {
                ("+F2", "2048") => rsa = Some((s, v)),
                ("+F4", "256") => ec = Some((s, v)),
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
    println!(
        "xoev-dsig benchmark, one thread (per core), {secs} s per case, message {} bytes unsigned",
        payload.len()
    );
    println!(
        "floor = the same key through the openssl crate in this process: SHA-256 of the message + sign/verify (no XML)"
    );
    println!(
        "{:<11} {:<7} {:>10} {:>12} {:>10} {:>14} {:>8} {:>8}",
        "key", "op", "xml op/s", "parse+op/s", "floor/s", "openssl speed", "vs floor", "vs speed"
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
        let signed = signer.sign_bytes(&payload).expect("sign");
        let signed_doc = xoev_schema::parse_document(&signed, &limits).expect("parse");
        let raw_sig = {
            let mut s =
                openssl::sign::Signer::new(MessageDigest::sha256(), &issued.key).expect("signer");
            s.sign_oneshot_to_vec(&signed).expect("sign")
        };
        let public = issued.cert.public_key().expect("public key");
        // Interleave ours and the floor so machine noise hits both alike.
        let sign = rate(secs, || signer.sign(&doc).expect("sign"));
        let floor_sign = rate(secs, || {
            let mut s =
                openssl::sign::Signer::new(MessageDigest::sha256(), &issued.key).expect("signer");
            s.sign_oneshot_to_vec(&signed).expect("sign");
        });
        let parse_sign = rate(secs, || {
            signer.sign_bytes(&payload).expect("sign");
        });
        let verify = rate(secs, || {
            verifier.verify(&signed_doc, None).expect("verify");
        });
        let floor_verify = rate(secs, || {
            let mut v =
                openssl::sign::Verifier::new(MessageDigest::sha256(), &public).expect("verifier");
            assert!(v.verify_oneshot(&raw_sig, &signed).expect("verify"));
        });
        let parse_verify = rate(secs, || {
            verifier
                .verify_bytes(&signed, &limits, None)
                .expect("verify");
        });
        let (ss, sv) = speed
            .map(|(rsa, ec)| {
                if matches!(kind, KeyKind::Rsa(_)) {
                    rsa
                } else {
                    ec
                }
            })
            .unwrap_or((f64::NAN, f64::NAN));
        for (op, ours, parsed, floor, sp) in [
            ("sign", sign, parse_sign, floor_sign, ss),
            ("verify", verify, parse_verify, floor_verify, sv),
        ] {
            println!(
                "{:<11} {:<7} {:>10.0} {:>12.0} {:>10.0} {:>14.0} {:>7.0}% {:>7.0}%",
                name,
                op,
                ours,
                parsed,
                floor,
                sp,
                100.0 * ours / floor,
                100.0 * ours / sp
            );
        }
    }
    if speed.is_none() {
        println!("(openssl speed was not available: ratios are NaN)");
    }
    println!("xml op/s: sign a parsed document (re-signing strips the old signature first),");
    println!(
        "  or verify one (profile check, cached chain, exc-C14N of the tree + digest + signature);"
    );
    println!("parse+op/s: including the hardened libxml2 parse (and serialisation when signing).");
}

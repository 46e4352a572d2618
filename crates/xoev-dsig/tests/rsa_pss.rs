//! RSASSA-PSS with SHA-256 (`xmldsig-more#sha256-rsa-MGF1`, RFC 6931):
//! round trips, the pairings the profile refuses, and interoperability both
//! ways with OpenSSL's own PSS (over `SignedInfo` canonicalised by
//! `xmllint --exc-c14n`): xmlsec1 1.2, the usual peer, has no RSA-PSS.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use xoev_dsig::{DsigErrorKind, SignatureAlgorithm};

fn pss_signer() -> xoev_dsig::Signer {
    let p = pki();
    p.signer(&p.rsa)
        .with_algorithm(SignatureAlgorithm::RsaPssSha256)
        .expect("an RSA key signs PSS")
}

fn verdict(xml: &str) -> Result<xoev_dsig::Verified, xoev_dsig::DsigError> {
    pki().verifier().verify(&parse(xml.as_bytes()), None)
}

/// The text between `open` and `close` (exclusive).
fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).expect("open") + open.len();
    let end = start + text[start..].find(close).expect("close");
    &text[start..end]
}

/// `xmllint <mode>` (`--exc-c14n` or `--c14n`: C14N 1.0 without comments)
/// of `xml`.
fn xmllint(mode: &str, xml: &str, dir: &Path) -> Vec<u8> {
    let f = dir.join("in.xml");
    std::fs::write(&f, xml).expect("write");
    let out = Command::new("xmllint")
        .arg(mode)
        .arg(&f)
        .output()
        .expect("xmllint runs (package libxml2-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `ds:SignedInfo` of `signed` in exclusive canonical form, by libxml2's
/// `xmllint` (the element cut out with its `ds` declaration: exclusive C14N
/// emits only namespaces the subtree uses).
fn canonical_signed_info(signed: &str, dir: &Path) -> Vec<u8> {
    let inner = between(signed, "<ds:SignedInfo>", "</ds:SignedInfo>");
    let alone = format!(
        r#"<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">{inner}</ds:SignedInfo>"#
    );
    xmllint("--exc-c14n", &alone, dir)
}

/// `openssl dgst -sha256` with PSS options over `data`: sign with `key`
/// (returns the signature) or verify `signature` with `cert`'s key.
fn openssl_pss(dir: &Path, data: &[u8], salt: &str, op: Op<'_>) -> (bool, Vec<u8>) {
    let input = dir.join("data.bin");
    std::fs::write(&input, data).expect("write");
    let sig = dir.join("sig.bin");
    let mut cmd = Command::new("openssl");
    cmd.args(["dgst", "-sha256"]);
    for opt in [
        "rsa_padding_mode:pss",
        &format!("rsa_pss_saltlen:{salt}"),
        "rsa_mgf1_md:sha256",
    ] {
        cmd.args(["-sigopt", opt]);
    }
    match op {
        Op::Sign(key) => {
            cmd.arg("-sign").arg(key).arg("-out").arg(&sig);
        }
        Op::Verify(cert, signature) => {
            let public = dir.join("public.pem");
            let out = Command::new("openssl")
                .args(["x509", "-pubkey", "-noout", "-in"])
                .arg(cert)
                .output()
                .expect("openssl x509");
            std::fs::write(&public, out.stdout).expect("write");
            std::fs::write(&sig, signature).expect("write");
            cmd.arg("-verify").arg(&public).arg("-signature").arg(&sig);
        }
    }
    let out = cmd.arg(&input).output().expect("openssl runs");
    let produced = std::fs::read(&sig).unwrap_or_default();
    (out.status.success(), produced)
}

enum Op<'a> {
    Sign(&'a Path),
    Verify(&'a Path, &'a [u8]),
}

#[test]
fn rsa_pss_round_trip_names_its_method_and_is_randomised() {
    let signer = pss_signer();
    assert_eq!(signer.algorithm(), SignatureAlgorithm::RsaPssSha256);
    let a = signed_sample(&signer);
    let b = signed_sample(&signer);
    assert!(
        a.contains(r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"/>"#),
        "{a}"
    );
    // PSS is randomised by its salt: two signatures of the same document
    // differ, both verify.
    assert_ne!(
        between(&a, "<ds:SignatureValue>", "</ds:SignatureValue>"),
        between(&b, "<ds:SignatureValue>", "</ds:SignatureValue>")
    );
    for signed in [&a, &b] {
        let v = verdict(signed).expect("verifies");
        assert_eq!(v.algorithm, SignatureAlgorithm::RsaPssSha256);
        assert!(v.signer_subject.ends_with("CN=Test Authority RSA"));
    }
    let evil = a.replace("Finanzamt Musterstadt", "Finanzamt Boeseburg");
    assert_eq!(
        verdict(&evil).expect_err("tampered").kind(),
        DsigErrorKind::DigestMismatch
    );
}

#[test]
fn the_method_must_match_the_value_and_the_key() {
    let p = pki();
    // A PSS value labelled PKCS#1 v1.5, and a PKCS#1 v1.5 value labelled PSS.
    let pss = signed_sample(&pss_signer());
    let relabelled = pss.replace(xoev_dsig::RSA_PSS_SHA256, xoev_dsig::RSA_SHA256);
    assert_ne!(relabelled, pss);
    assert_eq!(
        verdict(&relabelled).expect_err("relabelled").kind(),
        DsigErrorKind::BadSignatureValue
    );
    let pkcs1 = signed_sample(&p.signer(&p.rsa));
    let relabelled = pkcs1.replace(xoev_dsig::RSA_SHA256, xoev_dsig::RSA_PSS_SHA256);
    assert_ne!(relabelled, pkcs1);
    assert_eq!(
        verdict(&relabelled).expect_err("relabelled").kind(),
        DsigErrorKind::BadSignatureValue
    );
    // PSS named over an EC key's signature: the method does not fit the key.
    let ec = signed_sample(&p.signer(&p.ec));
    let relabelled = ec.replace(xoev_dsig::ECDSA_SHA256, xoev_dsig::RSA_PSS_SHA256);
    let e = verdict(&relabelled).expect_err("EC key");
    assert_eq!(e.kind(), DsigErrorKind::BadSignatureValue);
    assert!(
        e.to_string()
            .contains("does not fit the certificate's EC key"),
        "{e}"
    );
    // An EC signer cannot sign PSS; 1024-bit RSA stays refused under PSS too.
    let e = p
        .signer(&p.ec)
        .with_algorithm(SignatureAlgorithm::RsaPssSha256)
        .expect_err("EC");
    assert_eq!(e.kind(), DsigErrorKind::Key);
    assert_eq!(
        "rsa-pss-sha256".parse::<SignatureAlgorithm>(),
        Ok(SignatureAlgorithm::RsaPssSha256)
    );
    let e = "rsa-pkcs1"
        .parse::<SignatureAlgorithm>()
        .expect_err("unknown");
    assert!(
        e.contains("rsa-sha256, rsa-pss-sha256 or ecdsa-sha256"),
        "{e}"
    );
}

/// xmlsec1 1.2 (the reference engine) has no RSA-PSS: it refuses, by name,
/// instead of producing or accepting something else.
#[test]
fn the_xmlsec1_reference_engine_refuses_rsa_pss_by_name() {
    let signer = pss_signer();
    let doc = parse(sample().as_bytes());
    let e = signer
        .sign_with_xmlsec(&doc)
        .expect_err("no PSS in xmlsec1 1.2");
    assert_eq!(e.kind(), DsigErrorKind::DisallowedAlgorithm);
    assert!(e.to_string().contains("rsa-pss-sha256"), "{e}");
    let signed = signed_sample(&signer);
    let e = pki()
        .verifier()
        .verify_with_xmlsec(&parse(signed.as_bytes()), None)
        .expect_err("no PSS in xmlsec1 1.2");
    assert_eq!(e.kind(), DsigErrorKind::DisallowedAlgorithm);
}

#[test]
fn openssl_verifies_our_rsa_pss_values() {
    let p = pki();
    let dir = tempfile::tempdir().expect("tmp");
    let signed = signed_sample(&pss_signer());
    let canonical = canonical_signed_info(&signed, dir.path());
    let value = openssl::base64::decode_block(
        &between(&signed, "<ds:SignatureValue>", "</ds:SignatureValue>").replace('\n', ""),
    )
    .expect("base64");
    let (ok, _) = openssl_pss(
        dir.path(),
        &canonical,
        "32",
        Op::Verify(&p.cert("rsa"), &value),
    );
    assert!(ok, "openssl refused our PSS value");
    // OpenSSL's check is real: the value over other bytes fails.
    let mut other = canonical.clone();
    other.push(b' ');
    let (ok, _) = openssl_pss(dir.path(), &other, "32", Op::Verify(&p.cert("rsa"), &value));
    assert!(!ok);
}

#[test]
fn our_verifier_accepts_openssls_rsa_pss_values_with_the_rfc_6931_salt() {
    let p = pki();
    let dir = tempfile::tempdir().expect("tmp");
    let signed = signed_sample(&pss_signer());
    let canonical = canonical_signed_info(&signed, dir.path());
    let ours = between(&signed, "<ds:SignatureValue>", "</ds:SignatureValue>");
    let with_value = |salt: &str| {
        let (ok, value) = openssl_pss(dir.path(), &canonical, salt, Op::Sign(&p.key("rsa")));
        assert!(ok, "openssl signs");
        signed.replace(ours, &openssl::base64::encode_block(&value))
    };
    // RFC 6931: the salt is as long as the digest (32 bytes for SHA-256).
    let theirs = with_value("32");
    assert_ne!(theirs, signed);
    let v = verdict(&theirs).expect("OpenSSL's PSS value verifies");
    assert_eq!(v.algorithm, SignatureAlgorithm::RsaPssSha256);
    // Other PSS parameters are another algorithm: refused.
    assert_eq!(
        verdict(&with_value("20")).expect_err("salt 20").kind(),
        DsigErrorKind::BadSignatureValue
    );
}

/// xmlsec1 1.3's own RSA-PSS test vector (Debian's xmlsec1 1.2 cannot
/// verify it): its inclusive C14N and XPath transform are outside the
/// profile, so the canonical forms come from `xmllint --c14n`; its value
/// verifies with the gateway's PSS check — both sides use RFC 6931's
/// parameters — and a value over other bytes does not.
#[test]
fn xmlsec_1_3_rsa_pss_test_vector_verifies_with_our_pss_check() {
    let dir = tempfile::tempdir().expect("tmp");
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/testvectors");
    let xml = std::fs::read_to_string(vectors.join("enveloped-sha256-rsa-pss-sha256.xml"))
        .expect("vector");
    let key = std::fs::read(vectors.join("rsa-4096-pubkey.pem")).expect("key");
    assert!(xml.contains(xoev_dsig::RSA_PSS_SHA256));

    // The reference: the document without the signature (enveloped + XPath
    // `not(ancestor-or-self::dsig:Signature)`), inclusive C14N, SHA-256.
    let start = xml.find("<Signature ").expect("signature");
    let end = xml.find("</Signature>").expect("end") + "</Signature>".len();
    let content = format!("{}{}", &xml[..start], &xml[end..]);
    let digest = openssl::sha::sha256(&xmllint("--c14n", &content, dir.path()));
    assert_eq!(
        openssl::base64::encode_block(&digest),
        between(&xml, "<DigestValue>", "</DigestValue>"),
        "the vector is read as its transforms say"
    );

    // SignedInfo in the scope of its ancestors: only the default namespace
    // of ds:Signature is in scope (it overrides the envelope's).
    let signed_info = format!(
        r#"<SignedInfo xmlns="http://www.w3.org/2000/09/xmldsig#">{}</SignedInfo>"#,
        between(&xml, "<SignedInfo>", "</SignedInfo>")
    );
    let canonical = xmllint("--c14n", &signed_info, dir.path());
    let value = openssl::base64::decode_block(
        &between(&xml, "<SignatureValue>", "</SignatureValue>").replace('\n', ""),
    )
    .expect("base64");
    let check = |data: &[u8], alg| {
        xoev_dsig::relaxed::signature_value_verifies_unchecked(alg, &key, data, &value)
            .expect("an RSA key of 4096 bits")
    };
    assert!(check(&canonical, SignatureAlgorithm::RsaPssSha256));
    let mut other = canonical.clone();
    other.push(b'\n');
    assert!(!check(&other, SignatureAlgorithm::RsaPssSha256));
    assert!(
        !check(&canonical, SignatureAlgorithm::RsaSha256),
        "not PKCS#1 v1.5"
    );
}

//! Certificate revocation: CRLs in the trust store, both policies, stale
//! and forged CRLs, a new CRL for a certificate already cached, and the
//! CRLs written here read by the `openssl` tool.

mod common;

use common::*;
use openssl::x509::{X509Crl, X509CrlBuilder};
use std::path::Path;
use xoev_dsig::pki::{Issued, KeyKind, TestCa};
use xoev_dsig::{DsigErrorKind, Revocation, TrustStore, Verifier};

/// A trust directory holding `ca` and, as `ca.crl`, `crl` (PEM).
fn trust_dir(ca: &TestCa, crl: Option<&X509Crl>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("ca.pem"),
        ca.issued.cert_pem().expect("pem"),
    )
    .expect("write");
    if let Some(crl) = crl {
        std::fs::write(dir.path().join("ca.crl"), crl.to_pem().expect("pem")).expect("write");
    }
    dir
}

fn verifier(dir: &Path, policy: Revocation) -> Verifier {
    Verifier::new(
        TrustStore::from_dir(dir)
            .expect("trust store")
            .with_revocation(policy),
    )
}

fn verify(v: &Verifier, signer: &Issued) -> Result<xoev_dsig::Verified, xoev_dsig::DsigError> {
    let signed = signed_sample(&pki().signer(signer));
    v.verify(&parse(signed.as_bytes()), None)
}

#[test]
fn a_revoked_signing_certificate_is_refused_and_the_others_still_verify() {
    let p = pki();
    let crl = p.ca.crl(&[&p.ec2.cert], 1, -1, 7).expect("crl");
    let dir = trust_dir(&p.ca, Some(&crl));
    let v = verifier(dir.path(), Revocation::IfPublished);
    let err = verify(&v, &p.ec2).expect_err("revoked");
    assert_eq!(err.kind(), DsigErrorKind::RevokedCertificate);
    assert!(err.kind().is_rejection());
    let serial = serial_hex(&p.ec2).to_ascii_lowercase();
    for needle in [
        "the signing certificate (C=DE, O=XOEV Gateway Test, CN=Second Authority EC)",
        "revoked by C=DE, O=XOEV Gateway Test, CN=XOEV Test CA",
        &format!("serial {serial}"),
        "ca.crl",
    ] {
        assert!(err.detail().contains(needle), "{needle:?} not in {err}");
    }
    let ok = verify(&v, &p.ec).expect("not revoked");
    // The verdict holds until the CRL's nextUpdate (7 days), not the
    // certificate's end (a year).
    let week = xoev_now() + 7 * 86_400;
    assert!(
        (ok.chain_valid_until - week).abs() < 120,
        "valid until {} instead of the CRL's next update {week}",
        ok.chain_valid_until
    );
    assert_eq!(v.trust_store().crls().expect("crls").len(), 1);
}

#[test]
fn a_crl_inside_a_pem_file_counts_as_well() {
    let p = pki();
    let crl = p.ca.crl(&[&p.ec2.cert], 1, -1, 7).expect("crl");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pem = p.ca.issued.cert_pem().expect("pem");
    pem.extend(crl.to_pem().expect("pem"));
    std::fs::write(dir.path().join("ca-with-crl.pem"), pem).expect("write");
    let v = verifier(dir.path(), Revocation::IfPublished);
    assert_eq!(v.trust_store().len(), 1);
    assert_eq!(
        verify(&v, &p.ec2).expect_err("revoked").kind(),
        DsigErrorKind::RevokedCertificate
    );
    // DER in a `.crl` file is read too.
    let der = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        der.path().join("ca.pem"),
        p.ca.issued.cert_pem().expect("pem"),
    )
    .expect("write");
    std::fs::write(der.path().join("ca.crl"), crl.to_der().expect("der")).expect("write");
    let v = verifier(der.path(), Revocation::IfPublished);
    assert_eq!(
        verify(&v, &p.ec2).expect_err("revoked").kind(),
        DsigErrorKind::RevokedCertificate
    );
}

/// A sub CA of the test CA, a leaf `cn` under it, and the sample signed by
/// that leaf with the sub CA's certificate sent along.
fn signed_under_a_sub_ca(sub_cn: &str, cn: &str) -> (TestCa, Issued, String) {
    let sub = pki().ca.issue_ca(sub_cn).expect("sub");
    let leaf = sub.issue(cn, KeyKind::EcP256, -1, 365).expect("leaf");
    let mut chain = leaf.cert_pem().expect("pem");
    chain.extend(sub.issued.cert_pem().expect("pem"));
    let signer =
        xoev_dsig::Signer::from_pem(&leaf.key_pem().expect("pem"), &chain).expect("signer");
    let signed = signed_sample(&signer);
    (sub, leaf, signed)
}

#[test]
fn a_revoked_intermediate_ca_refuses_every_certificate_under_it() {
    let p = pki();
    let (sub, _, signed) =
        signed_under_a_sub_ca("XOEV Revoked Sub CA", "Authority under a revoked CA");
    let crl = p.ca.crl(&[&sub.issued.cert], 2, -1, 7).expect("crl");
    let dir = trust_dir(&p.ca, Some(&crl));
    let err = verifier(dir.path(), Revocation::IfPublished)
        .verify(&parse(signed.as_bytes()), None)
        .expect_err("revoked CA");
    assert_eq!(err.kind(), DsigErrorKind::RevokedCertificate);
    assert!(
        err.detail().contains(
            "chain certificate at depth 1 (C=DE, O=XOEV Gateway Test, CN=XOEV Revoked Sub CA)"
        ),
        "{err}"
    );
    // The same message with the root's CRL revoking nothing verifies.
    let clean = p.ca.crl(&[], 3, -1, 7).expect("crl");
    let dir = trust_dir(&p.ca, Some(&clean));
    verifier(dir.path(), Revocation::IfPublished)
        .verify(&parse(signed.as_bytes()), None)
        .expect("not revoked");
}

#[test]
fn the_crl_of_an_intermediate_outside_the_store_is_checked_against_the_chain() {
    let p = pki();
    let (sub, leaf, signed) =
        signed_under_a_sub_ca("XOEV Publishing Sub CA", "Authority revoked by its sub CA");
    // The store holds only the root; the sub CA's CRL lies beside it.
    let dir = trust_dir(&p.ca, None);
    let crl = sub.crl(&[&leaf.cert], 1, -1, 7).expect("crl");
    std::fs::write(dir.path().join("sub.crl"), crl.to_pem().expect("pem")).expect("write");
    let err = verifier(dir.path(), Revocation::IfPublished)
        .verify(&parse(signed.as_bytes()), None)
        .expect_err("revoked by the sub CA");
    assert_eq!(err.kind(), DsigErrorKind::RevokedCertificate);
    assert!(err.detail().contains("CN=XOEV Publishing Sub CA"), "{err}");
    // A CRL in the sub CA's name but signed by another key does not count.
    let impostor = TestCa::generate("XOEV Publishing Sub CA").expect("impostor");
    let forged = impostor.crl(&[&leaf.cert], 9, -1, 7).expect("crl");
    std::fs::write(dir.path().join("sub.crl"), forged.to_pem().expect("pem")).expect("write");
    verifier(dir.path(), Revocation::IfPublished)
        .verify(&parse(signed.as_bytes()), None)
        .expect("a forged CRL revokes nothing");
    let err = verifier(dir.path(), Revocation::Required)
        .verify(&parse(signed.as_bytes()), None)
        .expect_err("and under `required` it is no CRL at all");
    assert_eq!(err.kind(), DsigErrorKind::RevocationUnknown);
}

#[test]
fn an_expired_crl_makes_revocation_unknown_which_is_not_the_senders_fault() {
    let p = pki();
    let crl = p.ca.crl(&[], 4, -10, -1).expect("crl");
    let dir = trust_dir(&p.ca, Some(&crl));
    let err = verify(&verifier(dir.path(), Revocation::IfPublished), &p.ec).expect_err("stale");
    assert_eq!(err.kind(), DsigErrorKind::RevocationUnknown);
    assert!(
        !err.kind().is_rejection(),
        "the gateway's CRL is stale, not the message"
    );
    assert!(err.detail().contains("expired on"), "{err}");
    assert!(err.detail().contains("ca.crl"), "{err}");
    assert!(err.detail().contains("CN=XOEV Test CA"), "{err}");
    // A newer CRL beside the stale one wins.
    let fresh = p.ca.crl(&[], 5, -1, 7).expect("crl");
    std::fs::write(dir.path().join("ca-new.crl"), fresh.to_pem().expect("pem")).expect("write");
    verify(&verifier(dir.path(), Revocation::IfPublished), &p.ec).expect("current CRL");
    // A CRL dated in the future: the clock or the CRL is wrong.
    let future = p.ca.crl(&[], 6, 2, 9).expect("crl");
    let dir = trust_dir(&p.ca, Some(&future));
    let err = verify(&verifier(dir.path(), Revocation::IfPublished), &p.ec).expect_err("future");
    assert_eq!(err.kind(), DsigErrorKind::RevocationUnknown);
    assert!(err.detail().contains("check the clock"), "{err}");
}

#[test]
fn required_revocation_needs_a_current_crl_of_every_ca() {
    let p = pki();
    let none = trust_dir(&p.ca, None);
    verify(&verifier(none.path(), Revocation::IfPublished), &p.ec).expect("not required");
    let err = verify(&verifier(none.path(), Revocation::Required), &p.ec).expect_err("required");
    assert_eq!(err.kind(), DsigErrorKind::RevocationUnknown);
    assert!(err.detail().contains("holds no CRL of its issuer"), "{err}");
    let crl = p.ca.crl(&[], 1, -1, 7).expect("crl");
    let with = trust_dir(&p.ca, Some(&crl));
    let v = verifier(with.path(), Revocation::Required);
    assert_eq!(v.trust_store().revocation(), Revocation::Required);
    verify(&v, &p.ec).expect("a current CRL, not revoked");
    assert_eq!("required".parse::<Revocation>(), Ok(Revocation::Required));
    assert!("sometimes".parse::<Revocation>().is_err());
}

#[test]
fn unusable_crls_are_refused_when_the_store_loads() {
    let p = pki();
    // Signed by another key in the name of a CA of the store.
    let impostor = TestCa::generate("XOEV Test CA").expect("impostor");
    let forged = impostor.crl(&[&p.ec.cert], 1, -1, 7).expect("crl");
    let dir = trust_dir(&p.ca, Some(&forged));
    let err = TrustStore::from_dir(dir.path()).expect_err("forged");
    assert_eq!(err.kind(), DsigErrorKind::TrustStore);
    assert!(err.detail().contains("did not sign it"), "{err}");
    assert!(err.detail().contains("ca.crl"), "{err}");
    // Not a CRL at all.
    std::fs::write(dir.path().join("ca.crl"), "garbage").expect("write");
    let err = TrustStore::from_dir(dir.path()).expect_err("garbage");
    assert_eq!(err.kind(), DsigErrorKind::TrustStore);
    assert!(err.detail().contains("not a CRL"), "{err}");
    // A delta CRL (critical delta indicator): only complete CRLs are read.
    let delta = delta_crl(&p.ca);
    std::fs::write(dir.path().join("ca.crl"), delta.to_pem().expect("pem")).expect("write");
    let err = TrustStore::from_dir(dir.path()).expect_err("delta");
    assert!(err.detail().contains("critical extension"), "{err}");
}

/// A delta CRL of `ca` (the `deltaCRLIndicator` extension, critical).
fn delta_crl(ca: &TestCa) -> X509Crl {
    use openssl::asn1::{Asn1Object, Asn1OctetString, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::x509::X509Extension;
    use openssl::x509::extension::{AuthorityKeyIdentifier, CrlNumber};
    let now = xoev_now();
    let mut b = X509CrlBuilder::new().expect("builder");
    b.set_issuer_name(ca.issued.cert.subject_name())
        .expect("issuer");
    b.set_last_update(&Asn1Time::from_unix(now - 60).expect("time"))
        .expect("last");
    b.set_next_update(&Asn1Time::from_unix(now + 86_400).expect("time"))
        .expect("next");
    let context = openssl::x509::X509Builder::new().expect("context");
    b.append_extension(
        AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&context.x509v3_context(Some(&ca.issued.cert), None))
            .expect("aki"),
    )
    .expect("aki");
    b.append_extension(
        CrlNumber::new(BigNum::from_u32(2).expect("bn"))
            .expect("number")
            .build()
            .expect("number"),
    )
    .expect("number");
    // deltaCRLIndicator (2.5.29.27): the base CRL's number, INTEGER 1.
    let oid = Asn1Object::from_str("2.5.29.27").expect("oid");
    let value = Asn1OctetString::new_from_bytes(&[0x02, 0x01, 0x01]).expect("value");
    b.append_extension(X509Extension::new_from_der(&oid, true, &value).expect("ext"))
        .expect("delta");
    b.sign(&ca.issued.key, MessageDigest::sha256())
        .expect("sign");
    b.build().expect("crl")
}

#[test]
fn a_new_crl_reaches_a_certificate_the_verifier_has_cached() {
    let p = pki();
    let dir = trust_dir(&p.ca, None);
    let v = verifier(dir.path(), Revocation::IfPublished);
    let clone = v.clone();
    verify(&v, &p.ec2).expect("not revoked yet");
    assert_eq!(v.cached_certificates(), 1);
    let crl = p.ca.crl(&[&p.ec2.cert], 7, -1, 7).expect("crl");
    std::fs::write(dir.path().join("ca.crl"), crl.to_pem().expect("pem")).expect("write");
    v.replace_trust(
        TrustStore::from_dir(dir.path())
            .expect("reloaded")
            .with_revocation(Revocation::IfPublished),
    );
    assert_eq!(v.cached_certificates(), 0, "the old verdicts are forgotten");
    // Every clone shares the replaced store.
    assert_eq!(
        verify(&clone, &p.ec2).expect_err("revoked now").kind(),
        DsigErrorKind::RevokedCertificate
    );
    verify(&clone, &p.ec).expect("the others still verify");
}

#[test]
fn crls_written_here_are_read_by_the_openssl_tool() {
    let p = pki();
    let crl = p.ca.crl(&[&p.ec2.cert], 1, -1, 7).expect("crl");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("ca.pem"), p.ca.issued.cert_pem().expect("pem")).expect("write");
    std::fs::write(path("crl.pem"), crl.to_pem().expect("pem")).expect("write");
    for (name, cert) in [("ec2.pem", &p.ec2.cert), ("ec.pem", &p.ec.cert)] {
        std::fs::write(path(name), cert.to_pem().expect("pem")).expect("write");
    }
    let run = |leaf: &str| {
        let out = std::process::Command::new("openssl")
            .args(["verify", "-crl_check", "-CAfile"])
            .arg(path("ca.pem"))
            .arg("-CRLfile")
            .arg(path("crl.pem"))
            .arg(path(leaf))
            .output()
            .expect("openssl runs");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = run("ec.pem");
    assert!(ok, "openssl accepts the CRL and the certificate: {out}");
    let (ok, out) = run("ec2.pem");
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    // The tool reads the revoked serial and the dates as written.
    let text = std::process::Command::new("openssl")
        .args(["crl", "-noout", "-text", "-in"])
        .arg(path("crl.pem"))
        .output()
        .expect("openssl runs");
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    let serial = serial_hex(&p.ec2);
    assert!(text.contains(&format!("Serial Number: {serial}")), "{text}");
    assert!(text.contains("Next Update:"), "{text}");
}

/// The certificate's serial number in hex as OpenSSL prints it (upper case).
fn serial_hex(i: &Issued) -> String {
    i.cert
        .serial_number()
        .to_bn()
        .and_then(|b| b.to_hex_str().map(|s| s.to_string()))
        .expect("serial")
}

fn xoev_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .expect("clock")
}

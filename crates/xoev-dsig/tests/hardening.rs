//! What a security review found: the signing certificate's purpose, limits
//! on the work a signature can demand before it is refused, chain errors
//! that name the certificate at fault, and the shape the profile tolerates.

mod common;

use common::*;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509NameBuilder};
use xoev_dsig::pki::{Issued, KeyKind, TestCa};
use xoev_dsig::{DsigError, DsigErrorKind, Signer, Verified};

fn verdict(xml: &str) -> Result<Verified, DsigError> {
    pki().verifier().verify(&parse(xml.as_bytes()), None)
}

fn refused(xml: &str) -> DsigError {
    match verdict(xml) {
        Ok(v) => panic!("expected a rejection, but verified: {v:?}"),
        Err(e) => e,
    }
}

/// An EC P-256 certificate for `cn` issued by `ca`, with subject and
/// authority key identifiers and the extensions `extend` adds.
fn issue_with(ca: &TestCa, cn: &str, extend: impl FnOnce(&mut X509Builder)) -> Issued {
    let key = xoev_dsig::pki::generate_key(KeyKind::EcP256).expect("key");
    let mut b = X509Builder::new().expect("builder");
    b.set_version(2).expect("version");
    let mut serial = BigNum::new().expect("bn");
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .expect("rand");
    b.set_serial_number(&serial.to_asn1_integer().expect("serial"))
        .expect("serial");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("C", "DE").expect("C");
    name.append_entry_by_text("O", "XOEV Gateway Test")
        .expect("O");
    name.append_entry_by_text("CN", cn).expect("CN");
    b.set_subject_name(&name.build()).expect("subject");
    b.set_issuer_name(ca.issued.cert.subject_name())
        .expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    let day = 86_400;
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("time");
    b.set_not_before(&Asn1Time::from_unix(now - day).expect("time"))
        .expect("not before");
    b.set_not_after(&Asn1Time::from_unix(now + 365 * day).expect("time"))
        .expect("not after");
    extend(&mut b);
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(Some(&ca.issued.cert), None))
        .expect("ski");
    b.append_extension(ski).expect("ski");
    let aki = AuthorityKeyIdentifier::new()
        .keyid(false)
        .build(&b.x509v3_context(Some(&ca.issued.cert), None))
        .expect("aki");
    b.append_extension(aki).expect("aki");
    b.sign(&ca.issued.key, MessageDigest::sha256())
        .expect("sign");
    Issued {
        key,
        cert: b.build(),
    }
}

/// The sample signed with `key_pem` and the certificates of `chain_pem`.
fn signed_with(key_pem: &[u8], chain_pem: &[u8]) -> String {
    signed_sample(&Signer::from_pem(key_pem, chain_pem).expect("signer"))
}

fn signed_by(issued: &Issued) -> String {
    signed_with(
        &issued.key_pem().expect("pem"),
        &issued.cert_pem().expect("pem"),
    )
}

#[test]
fn a_message_signed_with_the_ca_certificate_itself_is_certificate_not_for_signing() {
    let p = pki();
    // basicConstraints CA:TRUE, keyUsage keyCertSign + cRLSign; a trust anchor.
    let err = refused(&signed_by(&p.ca.issued));
    assert_eq!(err.kind(), DsigErrorKind::CertificateNotForSigning, "{err}");
    assert_eq!(err.kind().as_str(), "certificate-not-for-signing");
    assert!(err.kind().is_rejection());
    assert!(
        err.detail()
            .contains("(C=DE, O=XOEV Gateway Test, CN=XOEV Test CA)")
            && err.detail().contains("CA:TRUE"),
        "{err}"
    );
    // The same through the reference engine.
    let doc = parse(signed_by(&p.ca.issued).as_bytes());
    let err = p
        .verifier()
        .verify_with_xmlsec(&doc, None)
        .expect_err("refused");
    assert_eq!(err.kind(), DsigErrorKind::CertificateNotForSigning);
}

#[test]
fn a_key_agreement_certificate_is_certificate_not_for_signing() {
    let p = pki();
    let tls = issue_with(&p.ca, "Finanzamt Kassel TLS", |b| {
        b.append_extension(BasicConstraints::new().critical().build().expect("bc"))
            .expect("bc");
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_agreement()
                .build()
                .expect("ku"),
        )
        .expect("ku");
        b.append_extension(ExtendedKeyUsage::new().server_auth().build().expect("eku"))
            .expect("eku");
    });
    let err = refused(&signed_by(&tls));
    assert_eq!(err.kind(), DsigErrorKind::CertificateNotForSigning, "{err}");
    assert!(
        err.detail().contains("CN=Finanzamt Kassel TLS")
            && err.detail().contains("key usage keyAgreement;")
            && err.detail().contains("digitalSignature or nonRepudiation"),
        "{err}"
    );
    // A CA certificate without any key usage is refused for being a CA.
    let bare_ca = issue_with(&p.ca, "Bare Sub CA", |b| {
        b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
            .expect("bc");
    });
    let err = refused(&signed_by(&bare_ca));
    assert_eq!(err.kind(), DsigErrorKind::CertificateNotForSigning, "{err}");
    assert!(err.detail().contains("CN=Bare Sub CA"), "{err}");
}

#[test]
fn signing_certificates_without_key_usage_or_with_non_repudiation_only_verify() {
    let p = pki();
    let no_extensions = issue_with(&p.ca, "No Key Usage", |_| {});
    let v = verdict(&signed_by(&no_extensions)).expect("no keyUsage: any use is allowed");
    assert!(v.signer_subject.ends_with("CN=No Key Usage"));
    let qualified = issue_with(&p.ca, "Non Repudiation Only", |b| {
        b.append_extension(BasicConstraints::new().critical().build().expect("bc"))
            .expect("bc");
        b.append_extension(
            KeyUsage::new()
                .critical()
                .non_repudiation()
                .build()
                .expect("ku"),
        )
        .expect("ku");
    });
    verdict(&signed_by(&qualified)).expect("nonRepudiation (contentCommitment) signs");
}

/// What `xoev-gateway keys generate` writes passes the signing-certificate
/// check (CA:FALSE, keyUsage digitalSignature + nonRepudiation).
#[test]
fn the_certificates_keys_generate_writes_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    xoev_dsig::pki::generate_dir(dir.path()).expect("generates");
    let verifier = xoev_dsig::Verifier::from_trust_dir(&dir.path().join("trust")).expect("trust");
    for stem in ["authority-rsa", "authority-ec"] {
        let read = |what: &str| {
            std::fs::read(dir.path().join(format!("{stem}.{what}.pem"))).expect("read")
        };
        let signed = signed_with(&read("key"), &read("cert"));
        verifier
            .verify(&parse(signed.as_bytes()), None)
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
    }
}

/// The signed sample with `extra` inserted after its one `X509Certificate`
/// (`KeyInfo` is not signed: the signature still verifies).
fn with_extra_in_x509_data(signed: &str, extra: &str) -> String {
    let end = "</ds:X509Certificate>";
    let at = signed.find(end).expect("certificate") + end.len();
    format!("{}{extra}{}", &signed[..at], &signed[at..])
}

fn certificate_elements(der: &[u8], n: usize) -> String {
    let b64 = openssl::base64::encode_block(der);
    format!("<ds:X509Certificate>{b64}</ds:X509Certificate>").repeat(n)
}

#[test]
fn more_than_ten_certificates_are_refused_before_any_is_parsed() {
    let p = pki();
    let signed = signed_sample(&p.signer(&p.ec));
    let ca = p.ca.issued.cert.to_der().expect("der");
    // The signing certificate and 9 copies of the CA: 10, accepted.
    let ten = with_extra_in_x509_data(&signed, &certificate_elements(&ca, 9));
    verdict(&ten).expect("10 certificates are allowed");
    // 11: refused, saying why.
    let err = refused(&with_extra_in_x509_data(
        &signed,
        &certificate_elements(&ca, 10),
    ));
    assert_eq!(err.kind(), DsigErrorKind::MalformedSignature);
    assert!(
        err.detail()
            .contains("holds 11 ds:X509Certificate elements; the profile allows at most 10"),
        "{err}"
    );
    // Counted before anything is decoded or parsed: junk is not looked at.
    let junk = "<ds:X509Certificate>AAAA</ds:X509Certificate>".repeat(10);
    let err = refused(&with_extra_in_x509_data(&signed, &junk));
    assert!(err.detail().contains("at most 10"), "{err}");
    // The reported case: 15,000 copies of the CA certificate.
    let many = with_extra_in_x509_data(&signed, &certificate_elements(&ca, 15_000));
    let started = std::time::Instant::now();
    let err = refused(&many);
    assert!(
        err.detail().contains("holds 15001 ds:X509Certificate"),
        "{err}"
    );
    // Parsing them took ≈ 5 s; the parse of the XML alone is what is left.
    assert!(started.elapsed().as_secs() < 3, "{:?}", started.elapsed());
}

/// An `ec:InclusiveNamespaces` element naming `prefixes`.
fn inclusive(prefixes: &str) -> String {
    format!(
        r#"<InclusiveNamespaces xmlns="{}" PrefixList="{prefixes}"/>"#,
        xoev_dsig::EXC_C14N
    )
}

/// The sample signed by the `xmlsec1` tool (key `ec`) with `prefixes` in
/// the reference's exclusive C14N transform.
fn xmlsec1_signed_with_prefixes(prefixes: &str) -> String {
    let p = pki();
    let transform = format!(
        r#"<Transform Algorithm="{}">{}</Transform>"#,
        xoev_dsig::EXC_C14N,
        inclusive(prefixes)
    );
    let tmpl = template(
        xoev_dsig::EXC_C14N,
        xoev_dsig::ECDSA_SHA256,
        "",
        &format!("{T_ENVELOPED}{transform}"),
        xoev_dsig::SHA256,
        X509,
    );
    xmlsec1_sign(&sample(), &tmpl, &p.key("ec"), Some(&p.cert("ec")), &[])
}

fn prefix_list(n: usize) -> String {
    (0..n)
        .map(|i| format!("p{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn more_than_64_inclusive_prefixes_are_refused() {
    let at_limit = xmlsec1_signed_with_prefixes(&prefix_list(64));
    verdict(&at_limit).expect("64 prefixes are allowed");
    // A valid signature (xmlsec1 made it) with 65: refused.
    let err = refused(&xmlsec1_signed_with_prefixes(&prefix_list(65)));
    assert_eq!(err.kind(), DsigErrorKind::MalformedSignature);
    assert!(
        err.detail().contains("names more than 64 prefixes")
            && err.detail().contains("ds:Transform"),
        "{err}"
    );
    // One very long prefix: refused by its length.
    let long = "p".repeat(3000);
    let err = refused(&at_limit.replace(&prefix_list(64), &long));
    assert_eq!(err.kind(), DsigErrorKind::MalformedSignature);
    assert!(err.detail().contains("more than 2048 bytes"), "{err}");
    // The same limits on the CanonicalizationMethod's list.
    let p = pki();
    let signed = signed_sample(&p.signer(&p.ec));
    let c14n = format!(
        r#"<ds:CanonicalizationMethod Algorithm="{}"/>"#,
        xoev_dsig::EXC_C14N
    );
    let with = |prefixes: &str| {
        signed.replacen(
            &c14n,
            &format!(
                r#"<ds:CanonicalizationMethod Algorithm="{}">{}</ds:CanonicalizationMethod>"#,
                xoev_dsig::EXC_C14N,
                inclusive(prefixes)
            ),
            1,
        )
    };
    assert_ne!(with("a"), signed);
    let err = refused(&with(&prefix_list(65)));
    assert_eq!(err.kind(), DsigErrorKind::MalformedSignature);
    assert!(err.detail().contains("ds:CanonicalizationMethod"), "{err}");
    // The reported case: 800,000 prefixes (took 5 s), refused at once.
    let huge = with(&"a ".repeat(800_000));
    let started = std::time::Instant::now();
    let err = refused(&huge);
    assert!(err.detail().contains("more than 2048 bytes"), "{err}");
    assert!(started.elapsed().as_secs() < 2, "{:?}", started.elapsed());
}

#[test]
fn a_chain_error_names_the_certificate_at_the_depth_reported() {
    let p = pki();
    // A self-signed CA carrying the real CA's name.
    let fake = TestCa::generate("XOEV Test CA").expect("fake ca");
    let leaf = fake
        .issue("Finanzamt Kassel", KeyKind::EcP256, -1, 365)
        .expect("leaf");
    let mut chain = leaf.cert_pem().expect("pem");
    chain.extend(fake.issued.cert_pem().expect("pem"));
    let err = refused(&signed_with(&leaf.key_pem().expect("pem"), &chain));
    assert_eq!(err.kind(), DsigErrorKind::UntrustedCertificate);
    assert!(
        err.detail().starts_with(
            "chain certificate at depth 1 (C=DE, O=XOEV Gateway Test, CN=XOEV Test CA)"
        ),
        "{err}"
    );
    assert!(!err.detail().contains("Finanzamt Kassel"), "{err}");
    // At depth 0 the signing certificate is named, as before.
    let err = refused(&signed_sample(&p.signer(&p.untrusted)));
    assert!(
        err.detail().starts_with(
            "the signing certificate (C=DE, O=XOEV Gateway Test, CN=Untrusted Authority)"
        ),
        "{err}"
    );
}

#[test]
fn a_certificate_issued_by_an_authoritys_signing_certificate_is_untrusted_saying_why() {
    let p = pki();
    // The authority's own (trusted) signing key used as a CA.
    let authority = TestCa::from_pem(
        &p.ec.key_pem().expect("pem"),
        &p.ec.cert_pem().expect("pem"),
    )
    .expect("authority as issuer");
    let forged = authority
        .issue("Forged Subordinate", KeyKind::EcP256, -1, 365)
        .expect("leaf");
    let mut chain = forged.cert_pem().expect("pem");
    chain.extend(p.ec.cert_pem().expect("pem"));
    let err = refused(&signed_with(&forged.key_pem().expect("pem"), &chain));
    assert_eq!(err.kind(), DsigErrorKind::UntrustedCertificate, "{err}");
    assert!(
        err.detail().contains(
            "C=DE, O=XOEV Gateway Test, CN=Forged Subordinate is issued by \
             C=DE, O=XOEV Gateway Test, CN=Test Authority EC, which is not a CA"
        ),
        "{err}"
    );
}

#[test]
fn text_inside_signed_info_is_refused() {
    let p = pki();
    let tmpl = profile_template(xoev_dsig::ECDSA_SHA256);
    let stray = tmpl.replacen("<SignedInfo>", "<SignedInfo>approved by the mayor", 1);
    assert_ne!(stray, tmpl);
    // xmlsec1 signs it (and would verify it): the text is signed.
    let doc = xmlsec1_sign(&sample(), &stray, &p.key("ec"), Some(&p.cert("ec")), &[]);
    let err = refused(&doc);
    assert_eq!(err.kind(), DsigErrorKind::MalformedSignature);
    assert!(
        err.detail().contains("\"approved by the mayor\"") && err.detail().contains("SignedInfo"),
        "{err}"
    );
    // Deeper inside SignedInfo too.
    let deeper = tmpl.replacen("<DigestMethod", "x<DigestMethod", 1);
    let doc = xmlsec1_sign(&sample(), &deeper, &p.key("ec"), Some(&p.cert("ec")), &[]);
    let err = refused(&doc);
    assert!(err.detail().contains("Reference"), "{err}");
}

/// What docs/signatures.md says the profile tolerates besides its own
/// shape: XML Signature that other signers produce.
#[test]
fn tolerated_variants_of_the_profile_verify() {
    let p = pki();
    // Whitespace (indentation) in SignedInfo, Id and Type attributes on the
    // reference, made by the xmlsec1 tool.
    let tmpl = profile_template(xoev_dsig::ECDSA_SHA256)
        .replacen("<SignedInfo>", "<SignedInfo>\n  ", 1)
        .replacen(
            "<Reference URI=\"\">",
            "<Reference Id=\"ref-1\" URI=\"\" Type=\"http://www.w3.org/2000/09/xmldsig#Object\">\n    ",
            1,
        );
    let doc = xmlsec1_sign(&sample(), &tmpl, &p.key("ec"), Some(&p.cert("ec")), &[]);
    assert!(doc.contains("Type=\"http://www.w3.org/2000/09/xmldsig#Object\""));
    verdict(&doc).expect("Reference Id/Type and whitespace are tolerated");
    // An Id on the signature, X509SubjectName, X509IssuerSerial and
    // X509SKI next to the certificate, text outside SignedInfo: not signed,
    // never used to find a key.
    let signed = signed_sample(&p.signer(&p.ec)).replacen(
        "<ds:Signature ",
        "<ds:Signature Id=\"sig-1\" ",
        1,
    );
    let extra = "<ds:X509SubjectName>CN=Someone Else</ds:X509SubjectName>\
        <ds:X509IssuerSerial><ds:X509IssuerName>CN=Other</ds:X509IssuerName>\
        <ds:X509SerialNumber>1</ds:X509SerialNumber></ds:X509IssuerSerial>\
        <ds:X509SKI>AAAA</ds:X509SKI>";
    let v = verdict(&with_extra_in_x509_data(&signed, extra)).expect("tolerated");
    assert!(v.signer_subject.ends_with("CN=Test Authority EC"));
}

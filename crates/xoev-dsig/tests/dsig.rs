//! Sign/verify round trips, every rejection class with a crafted document,
//! and parallel use from 8 threads.

mod common;

use common::*;
use xoev_dsig::{
    CertMatcher, DsigErrorKind, SignatureAlgorithm, Signer, strip_signature, to_bytes,
};

/// Verifies `xml` with the test trust store; the error kind or "ok".
fn verdict(xml: &str) -> Result<xoev_dsig::Verified, xoev_dsig::DsigError> {
    pki().verifier().verify(&parse(xml.as_bytes()), None)
}

fn kind(xml: &str) -> DsigErrorKind {
    match verdict(xml) {
        Ok(v) => panic!("expected a rejection, but verified: {v:?}"),
        Err(e) => e.kind(),
    }
}

#[test]
fn rsa_and_ecdsa_round_trip_with_signature_as_last_child() {
    let p = pki();
    for (issued, alg, cn) in [
        (&p.rsa, SignatureAlgorithm::RsaSha256, "Test Authority RSA"),
        (&p.ec, SignatureAlgorithm::EcdsaSha256, "Test Authority EC"),
    ] {
        let signer = p.signer(issued);
        let doc = parse(sample().as_bytes());
        let before = to_bytes(&doc);
        signer.sign(&doc).expect("signs");
        let root = doc.get_root_element().expect("root");
        let last = root.get_last_element_child().expect("child");
        assert_eq!(last.get_name(), "Signature");
        let v = p.verifier().verify(&doc, None).expect("verifies");
        assert_eq!(v.algorithm, alg);
        assert_eq!(
            v.signer_subject,
            format!("C=DE, O=XOEV Gateway Test, CN={cn}")
        );
        assert_eq!(v.signer_cert_sha256, signer.cert_sha256());
        assert!(v.signer_issuer.ends_with("CN=XOEV Test CA"));
        // Stripping removes exactly what the enveloped transform excluded.
        assert_eq!(strip_signature(&doc), 1);
        assert_eq!(to_bytes(&doc), before);
    }
}

/// The standard's XSD has no place for `ds:Signature`: the signed tree
/// fails it, the stripped one passes. The `Validator` (`validate`, `route`,
/// the service's header diagnosis) sets an enveloped signature aside as
/// the service does after verifying; one anywhere else stays and fails.
#[test]
fn stripped_signed_message_validates_against_its_xsd_and_signed_one_does_not() {
    let p = pki();
    let signed = signed_sample(&p.signer(&p.ec));
    let schemas = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas");
    let catalogue = std::sync::Arc::new(
        xoev_schema::Catalogue::load(std::path::Path::new(schemas)).expect("catalogue"),
    );
    let validator = xoev_schema::Validator::new(catalogue, xoev_core::Limits::default());
    let entry = validator
        .validate(signed.clone().into_bytes())
        .expect("validated without its enveloped signature");
    assert_eq!(entry.signatures_set_aside, 1);
    let schema = entry.entry.schema().expect("schema");
    let doc = parse(signed.as_bytes());
    let issues = schema
        .validate(&doc)
        .expect_err("ds:Signature has no slot in the XSD");
    assert!(issues[0].message.contains("Signature"), "{issues:?}");
    p.verifier().verify(&doc, None).expect("verifies");
    strip_signature(&doc);
    schema.validate(&doc).expect("content validates");

    // a signature moved into the content is no enveloped one: refused
    let start = signed.find("<ds:Signature").expect("signature");
    let end = signed.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    let without = format!("{}{}", &signed[..start], &signed[end..]);
    let first_end_tag = without.find("</").expect("an end tag");
    let moved = format!(
        "{}{}{}",
        &without[..first_end_tag],
        &signed[start..end],
        &without[first_end_tag..]
    );
    let err = validator
        .validate(moved.into_bytes())
        .err()
        .expect("a nested ds:Signature stays and fails the XSD");
    assert_eq!(err.kind().as_str(), "xsd-invalid");
}

#[test]
fn re_signing_replaces_the_old_signature() {
    let p = pki();
    let once = signed_sample(&p.signer(&p.rsa));
    let doc = parse(once.as_bytes());
    p.signer(&p.ec).sign(&doc).expect("re-signs");
    let xml = String::from_utf8(to_bytes(&doc)).expect("utf-8");
    assert_eq!(xml.matches("<ds:Signature xmlns").count(), 1);
    let v = verdict(&xml).expect("verifies");
    assert_eq!(v.algorithm, SignatureAlgorithm::EcdsaSha256);
}

#[test]
fn unsigned_document_is_no_signature() {
    assert_eq!(kind(&sample()), DsigErrorKind::NoSignature);
}

#[test]
fn tampered_text_is_digest_mismatch() {
    let p = pki();
    for issued in [&p.rsa, &p.ec] {
        let signed = signed_sample(&p.signer(issued));
        let evil = signed.replace("Finanzamt Musterstadt", "Finanzamt Boeseburg");
        assert_ne!(evil, signed);
        assert_eq!(kind(&evil), DsigErrorKind::DigestMismatch);
    }
}

#[test]
fn tampered_attribute_is_digest_mismatch() {
    let p = pki();
    let signed = signed_sample(&p.signer(&p.ec));
    let evil = signed.replacen(r#"test="true""#, r#"test="false""#, 1);
    assert_ne!(evil, signed);
    assert_eq!(kind(&evil), DsigErrorKind::DigestMismatch);
}

/// Flips one base64 character in the SignatureValue.
fn flip_signature_value(signed: &str) -> String {
    let start = signed.find("<ds:SignatureValue>").expect("value") + "<ds:SignatureValue>".len();
    let mut bytes = signed.as_bytes().to_vec();
    bytes[start + 5] = if bytes[start + 5] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("utf-8")
}

#[test]
fn tampered_signature_value_is_bad_signature_value() {
    let p = pki();
    for issued in [&p.rsa, &p.ec] {
        let signed = signed_sample(&p.signer(issued));
        assert_eq!(
            kind(&flip_signature_value(&signed)),
            DsigErrorKind::BadSignatureValue
        );
    }
}

/// Replaces the X509Certificate content with `other`'s certificate.
fn swap_certificate(signed: &str, other: &xoev_dsig::pki::Issued) -> String {
    let a = signed.find("<ds:X509Certificate>").expect("cert") + "<ds:X509Certificate>".len();
    let b = signed.find("</ds:X509Certificate>").expect("cert end");
    let der = other.cert.to_der().expect("der");
    format!(
        "{}{}{}",
        &signed[..a],
        openssl::base64::encode_block(&der),
        &signed[b..]
    )
}

#[test]
fn swapped_certificate_is_bad_signature_value() {
    let p = pki();
    let signed = signed_sample(&p.signer(&p.ec));
    // Another trusted authority's certificate: the chain is fine, the key is not.
    assert_eq!(
        kind(&swap_certificate(&signed, &p.ec2)),
        DsigErrorKind::BadSignatureValue
    );
    // An RSA certificate under an ECDSA signature.
    assert_eq!(
        kind(&swap_certificate(&signed, &p.rsa)),
        DsigErrorKind::BadSignatureValue
    );
}

#[test]
fn expired_and_not_yet_valid_certificates_are_refused() {
    let p = pki();
    assert_eq!(
        kind(&signed_sample(&p.signer(&p.expired))),
        DsigErrorKind::ExpiredCertificate
    );
    assert_eq!(
        kind(&signed_sample(&p.signer(&p.not_yet))),
        DsigErrorKind::CertificateNotYetValid
    );
}

#[test]
fn untrusted_ca_is_refused() {
    let p = pki();
    assert_eq!(
        kind(&signed_sample(&p.signer(&p.untrusted))),
        DsigErrorKind::UntrustedCertificate
    );
}

#[test]
fn weak_rsa_key_is_refused_for_signing_and_verification() {
    let p = pki();
    let err = Signer::from_pem(
        &p.rsa1024.key_pem().expect("pem"),
        &p.rsa1024.cert_pem().expect("pem"),
    )
    .expect_err("weak");
    assert_eq!(err.kind(), DsigErrorKind::WeakKey);
    // Signed by the xmlsec1 tool with the 1024-bit key, certificate chains to the CA.
    let doc = xmlsec1_sign(
        &sample(),
        &profile_template(xoev_dsig::RSA_SHA256),
        &p.key("rsa1024"),
        Some(&p.cert("rsa1024")),
        &[],
    );
    assert_eq!(kind(&doc), DsigErrorKind::WeakKey);
}

#[test]
fn sha1_is_weak_algorithm() {
    let p = pki();
    let rsa_sha1 = template(
        xoev_dsig::EXC_C14N,
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "",
        &format!("{T_ENVELOPED}{T_EXC}"),
        "http://www.w3.org/2000/09/xmldsig#sha1",
        X509,
    );
    let doc = xmlsec1_sign(
        &sample(),
        &rsa_sha1,
        &p.key("rsa"),
        Some(&p.cert("rsa")),
        &[],
    );
    // xmlsec1 itself still accepts SHA-1 (the pitfall) ...
    assert!(
        xmlsec1_verify(&doc, &[]).0,
        "xmlsec1 accepts SHA-1 by default"
    );
    // ... the profile does not.
    assert_eq!(kind(&doc), DsigErrorKind::WeakAlgorithm);
    // SHA-256 signature method but a SHA-1 digest.
    let sha1_digest = template(
        xoev_dsig::EXC_C14N,
        xoev_dsig::RSA_SHA256,
        "",
        &format!("{T_ENVELOPED}{T_EXC}"),
        "http://www.w3.org/2000/09/xmldsig#sha1",
        X509,
    );
    let doc = xmlsec1_sign(
        &sample(),
        &sha1_digest,
        &p.key("rsa"),
        Some(&p.cert("rsa")),
        &[],
    );
    assert_eq!(kind(&doc), DsigErrorKind::WeakAlgorithm);
}

#[test]
fn attacker_bare_key_value_is_refused() {
    let p = pki();
    // The attacker signs a forged message with their own key and ships the
    // public key as a bare KeyValue.
    let forged = sample().replace("Finanzamt Musterstadt", "Finanzamt Boeseburg");
    let tmpl = template(
        xoev_dsig::EXC_C14N,
        xoev_dsig::RSA_SHA256,
        "",
        &format!("{T_ENVELOPED}{T_EXC}"),
        xoev_dsig::SHA256,
        "<KeyValue/>",
    );
    let doc = xmlsec1_sign(&forged, &tmpl, &p.key("attacker-rsa"), None, &[]);
    assert!(doc.contains("<KeyValue>"), "a KeyValue was written: {doc}");
    // xmlsec1's defaults accept it (the pitfall) ...
    assert!(
        xmlsec1_verify(&doc, &[]).0,
        "xmlsec1 accepts a bare KeyValue by default"
    );
    // ... we do not.
    assert_eq!(kind(&doc), DsigErrorKind::KeyInfoNotX509);
    // Not even next to a trusted certificate.
    let both = doc.replace(
        "<KeyValue>",
        &format!(
            "<X509Data><X509Certificate>{}</X509Certificate></X509Data><KeyValue>",
            openssl::base64::encode_block(&p.ec.cert.to_der().expect("der"))
        ),
    );
    assert_eq!(kind(&both), DsigErrorKind::KeyInfoNotX509);
}

#[test]
fn xpath_filter_dropping_the_header_is_disallowed_transform() {
    let p = pki();
    let xpath = r#"<Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><XPath xmlns:xn-bk="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten">not(ancestor-or-self::xn-bk:nachrichtenkopf)</XPath></Transform>"#;
    let tmpl = template(
        xoev_dsig::EXC_C14N,
        xoev_dsig::ECDSA_SHA256,
        "",
        &format!("{T_ENVELOPED}{xpath}{T_EXC}"),
        xoev_dsig::SHA256,
        X509,
    );
    let doc = xmlsec1_sign(&sample(), &tmpl, &p.key("ec"), Some(&p.cert("ec")), &[]);
    // The header (author, reader) is not signed: change the recipient.
    let evil = doc.replace("fa:9198", "fa:6666");
    assert_ne!(evil, doc);
    assert!(
        xmlsec1_verify(&evil, &[]).0,
        "xmlsec1 reports OK for the changed header"
    );
    assert_eq!(kind(&evil), DsigErrorKind::DisallowedTransform);
    assert_eq!(kind(&doc), DsigErrorKind::DisallowedTransform);
}

#[test]
fn two_top_level_signatures_are_refused() {
    let p = pki();
    let signed = signed_sample(&p.signer(&p.ec));
    let a = signed.find("<ds:Signature").expect("sig");
    let b = signed.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    let twice = insert_before_root_end(&signed, &signed[a..b]);
    assert_eq!(kind(&twice), DsigErrorKind::MultipleSignatures);
}

/// The signed message's root start tag, and the element name.
fn split_root(signed: &str) -> (usize, usize) {
    let open = signed.find("<xn-de:DE.EvidenceRequest.0101").expect("root");
    let end = signed.rfind(ROOT_END).expect("root end") + ROOT_END.len();
    (open, end)
}

#[test]
fn wrapping_signed_message_moved_under_an_extension_point_is_refused() {
    let p = pki();
    let signed = signed_sample(&p.signer(&p.ec));
    let (open, end) = split_root(&signed);
    let original = &signed[open..end];
    // A forged message whose extension point carries the original, signed one.
    let forged_body = sample().replace("Finanzamt Musterstadt", "Finanzamt Boeseburg");
    let wrapper = format!(
        "<xn-bk:erweiterung xmlns:xn-bk=\"urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten\">{original}</xn-bk:erweiterung>"
    );
    let wrapped = insert_before_root_end(&forged_body, &wrapper);
    let err = verdict(&wrapped).expect_err("wrapped");
    assert_eq!(err.kind(), DsigErrorKind::NoSignature);
    assert!(err.detail().contains("covers only part"), "{err}");

    // The same, with the signature lifted to the top and pointing at the
    // original message by its id.
    let a = signed.find("<ds:Signature").expect("sig");
    let b = signed.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    let sig = signed[a..b].replace(
        "URI=\"\"",
        "URI=\"#urn:uuid:3f1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1a01\"",
    );
    let original_unsigned = format!("{}{}", &signed[open..a], &signed[b..end]);
    let forged = forged_body.replace(
        "id=\"urn:uuid:3f1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1a01\"",
        "id=\"urn:uuid:evil\"",
    );
    let wrapped = insert_before_root_end(
        &forged,
        &format!(
            "<xn-bk:erweiterung xmlns:xn-bk=\"urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten\">{original_unsigned}</xn-bk:erweiterung>{sig}"
        ),
    );
    assert_eq!(kind(&wrapped), DsigErrorKind::ReferenceNotWholeDocument);
}

#[test]
fn wrapping_by_id_reference_to_the_header_is_refused() {
    let p = pki();
    // A real, valid signature over the header only (by ID), made by xmlsec1.
    let with_id = sample().replacen(
        "<xn-bk:nachrichtenkopf>",
        "<xn-bk:nachrichtenkopf id=\"kopf\">",
        1,
    );
    let tmpl = template(
        xoev_dsig::EXC_C14N,
        xoev_dsig::ECDSA_SHA256,
        "#kopf",
        T_EXC,
        xoev_dsig::SHA256,
        X509,
    );
    let id_attr = [
        "--id-attr:id",
        "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten:nachrichtenkopf",
    ];
    let doc = xmlsec1_sign(&with_id, &tmpl, &p.key("ec"), Some(&p.cert("ec")), &id_attr);
    // The body is not covered: change it.
    let evil = doc.replace("<code>de</code>", "<code>en</code>");
    assert_ne!(evil, doc);
    assert!(
        xmlsec1_verify(&evil, &id_attr).0,
        "xmlsec1 reports OK: the header is intact"
    );
    assert_eq!(kind(&evil), DsigErrorKind::ReferenceNotWholeDocument);

    // A namespaced URI attribute before URI="" (xmlsec1 reads the first
    // attribute named URI, whatever its namespace).
    let ours = signed_sample(&p.signer(&p.ec));
    let sneaky = ours.replacen(
        "<ds:Reference URI=\"\"",
        "<ds:Reference xmlns:foo=\"urn:foo\" foo:URI=\"#kopf\" URI=\"\"",
        1,
    );
    assert_ne!(sneaky, ours);
    assert_eq!(kind(&sneaky), DsigErrorKind::ReferenceNotWholeDocument);

    // A second element with the same id, the reference pointing at it.
    let dup = evil.replacen("<xn-de:lang", "<xn-bk:nachrichtenkopf xmlns:xn-bk=\"urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten\" id=\"kopf\"/><xn-de:lang", 1);
    assert_eq!(kind(&dup), DsigErrorKind::ReferenceNotWholeDocument);
}

#[test]
fn wrong_signer_is_refused_and_expected_signer_accepted() {
    let p = pki();
    let signed = signed_sample(&p.signer(&p.rsa));
    let doc = parse(signed.as_bytes());
    let v = p.verifier();
    let by_rsa = CertMatcher::Subject("C=DE, O=XOEV Gateway Test, CN=Test Authority RSA".into());
    let by_ec = CertMatcher::Subject("C=DE, O=XOEV Gateway Test, CN=Test Authority EC".into());
    v.verify(&doc, Some(&by_rsa)).expect("expected subject");
    let err = v.verify(&doc, Some(&by_ec)).expect_err("other authority");
    assert_eq!(err.kind(), DsigErrorKind::WrongSigner);
    // the directory's form (RFC 4514: most specific first, no spaces)
    // names the same subject; another authority's does not
    let rfc4514 = CertMatcher::Subject("CN=Test Authority RSA,O=XOEV Gateway Test,C=DE".into());
    v.verify(&doc, Some(&rfc4514)).expect("RFC 4514 subject");
    let err = v
        .verify(
            &doc,
            Some(&CertMatcher::Subject(
                "CN=Test Authority EC,O=XOEV Gateway Test,C=DE".into(),
            )),
        )
        .expect_err("other authority, RFC 4514");
    assert_eq!(err.kind(), DsigErrorKind::WrongSigner);
    let fp = p.signer(&p.rsa).cert_sha256().to_ascii_uppercase();
    v.verify(&doc, Some(&CertMatcher::Sha256(fp)))
        .expect("fingerprint");
    let pem = p.ec.cert_pem().expect("pem");
    let err = v
        .verify(&doc, Some(&CertMatcher::from_pem(&pem).expect("matcher")))
        .expect_err("other cert");
    assert_eq!(err.kind(), DsigErrorKind::WrongSigner);
}

#[test]
fn malformed_signatures_are_refused() {
    let p = pki();
    let signed = signed_sample(&p.signer(&p.ec));
    let a = signed.find("<ds:SignatureValue>").expect("sv");
    let b = signed.find("</ds:SignatureValue>").expect("sv end") + "</ds:SignatureValue>".len();
    let no_value = format!("{}{}", &signed[..a], &signed[b..]);
    assert_eq!(kind(&no_value), DsigErrorKind::MalformedSignature);
    let with_object = signed.replace("</ds:Signature>", "<ds:Object>x</ds:Object></ds:Signature>");
    assert_eq!(kind(&with_object), DsigErrorKind::MalformedSignature);
    let garbage_cert = swap_cert_text(&signed, "AAAA");
    assert_eq!(kind(&garbage_cert), DsigErrorKind::MalformedSignature);
}

fn swap_cert_text(signed: &str, text: &str) -> String {
    let a = signed.find("<ds:X509Certificate>").expect("cert") + "<ds:X509Certificate>".len();
    let b = signed.find("</ds:X509Certificate>").expect("cert end");
    format!("{}{}{}", &signed[..a], text, &signed[b..])
}

#[test]
fn inclusive_c14n_and_missing_transforms_are_disallowed() {
    let p = pki();
    let signed = signed_sample(&p.signer(&p.ec));
    let only_enveloped = signed.replacen(
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        "",
        1,
    );
    assert_ne!(only_enveloped, signed);
    assert_eq!(kind(&only_enveloped), DsigErrorKind::DisallowedTransform);
    let inclusive = signed.replacen(
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>",
        1,
    );
    assert_ne!(inclusive, signed);
    assert_eq!(kind(&inclusive), DsigErrorKind::DisallowedTransform);
}

#[test]
fn public_test_vector_verifies_in_relaxed_mode_but_not_under_the_profile() {
    let dir = fixtures().join("testvectors");
    let xml = std::fs::read(dir.join("enveloped-sha256-ecdsa-sha256.xml")).expect("vector");
    let key = std::fs::read(dir.join("ec-prime256v1-pubkey.pem")).expect("key");
    xoev_dsig::relaxed::verify_with_public_key_unchecked(&parse(&xml), &key)
        .expect("the crypto core verifies the W3C-style vector");
    let tampered = String::from_utf8(xml.clone())
        .expect("utf-8")
        .replace("Hello, World!", "Hello, Mars!");
    let err =
        xoev_dsig::relaxed::verify_with_public_key_unchecked(&parse(tampered.as_bytes()), &key)
            .expect_err("tampered");
    assert_eq!(err.kind(), DsigErrorKind::DigestMismatch);
    // The gateway's policy refuses it: inclusive C14N, XPath, KeyName.
    assert_eq!(
        kind(std::str::from_utf8(&xml).expect("utf-8")),
        DsigErrorKind::DisallowedTransform
    );
}

#[test]
fn an_enveloping_signature_is_refused_saying_so() {
    let xml = std::fs::read(
        fixtures()
            .join("testvectors")
            .join("signature-enveloping-p256_sha256.xml"),
    )
    .expect("vector");
    let err = verdict(std::str::from_utf8(&xml).expect("utf-8")).expect_err("refused");
    assert_eq!(err.kind(), DsigErrorKind::NoSignature);
    let text = err.to_string();
    assert!(
        text.contains("enveloping signature") && text.contains("enveloped"),
        "{text}"
    );
    // A message that carries a signature only deeper down is told that.
    let nested = sample().replacen(
        "</xn-bk:nachrichtenkopf>",
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/></xn-bk:nachrichtenkopf>",
        1,
    );
    let err = verdict(&nested).expect_err("refused");
    assert!(err.to_string().contains("covers only part"), "{err}");
}

#[test]
fn verified_chains_are_cached_but_expired_ones_are_not() {
    let p = pki();
    let v = p.verifier();
    let signed = signed_sample(&p.signer(&p.ec));
    let doc = parse(signed.as_bytes());
    assert_eq!(v.cached_certificates(), 0);
    v.verify(&doc, None).expect("verifies");
    v.verify(&doc, None).expect("verifies again");
    assert_eq!(v.cached_certificates(), 1);
    let expired = parse(signed_sample(&p.signer(&p.expired)).as_bytes());
    assert_eq!(
        v.verify(&expired, None).expect_err("expired").kind(),
        DsigErrorKind::ExpiredCertificate
    );
    assert_eq!(v.cached_certificates(), 1);
}

#[test]
fn parallel_sign_and_verify_from_8_threads_is_correct() {
    let p = pki();
    let rsa = p.signer(&p.rsa);
    let ec = p.signer(&p.ec);
    let verifier = p.verifier();
    let payload = sample();
    std::thread::scope(|s| {
        for t in 0..8 {
            let (rsa, ec, verifier, payload) = (&rsa, &ec, &verifier, &payload);
            s.spawn(move || {
                for i in 0..25 {
                    let signer = if (t + i) % 2 == 0 { rsa } else { ec };
                    let text =
                        payload.replace("Finanzamt Musterstadt", &format!("Finanzamt {t}-{i}"));
                    let signed = signer.sign_bytes(text.as_bytes()).expect("signs");
                    let doc = parse(&signed);
                    let v = verifier.verify(&doc, None).expect("verifies");
                    assert_eq!(v.signer_cert_sha256, signer.cert_sha256());
                    let evil = String::from_utf8(signed)
                        .expect("utf-8")
                        .replace(&format!("Finanzamt {t}-{i}"), "Finanzamt X");
                    let err = verifier
                        .verify(&parse(evil.as_bytes()), None)
                        .expect_err("tampered");
                    assert_eq!(err.kind(), DsigErrorKind::DigestMismatch);
                }
            });
        }
    });
}

#[test]
fn error_kinds_have_distinct_stable_ids() {
    use DsigErrorKind::*;
    let all = [
        NoSignature,
        MultipleSignatures,
        DigestMismatch,
        BadSignatureValue,
        UntrustedCertificate,
        ExpiredCertificate,
        CertificateNotYetValid,
        RevokedCertificate,
        RevocationUnknown,
        WeakAlgorithm,
        DisallowedAlgorithm,
        WeakKey,
        CertificateNotForSigning,
        DisallowedTransform,
        ReferenceNotWholeDocument,
        KeyInfoNotX509,
        WrongSigner,
        MalformedSignature,
        MalformedXml,
        Key,
        TrustStore,
        Internal,
    ];
    let ids: std::collections::BTreeSet<_> = all.iter().map(|k| k.as_str()).collect();
    assert_eq!(ids.len(), all.len());
    assert_eq!(
        serde_json::to_string(&WrongSigner).expect("json"),
        "\"wrong-signer\""
    );
}

#[test]
fn interop_documents_signed_by_xmlsec1_verify_here() {
    let p = pki();
    for (stem, method, alg) in [
        ("rsa", xoev_dsig::RSA_SHA256, SignatureAlgorithm::RsaSha256),
        (
            "ec",
            xoev_dsig::ECDSA_SHA256,
            SignatureAlgorithm::EcdsaSha256,
        ),
    ] {
        let doc = xmlsec1_sign(
            &sample(),
            &profile_template(method),
            &p.key(stem),
            Some(&p.cert(stem)),
            &[],
        );
        let v = verdict(&doc).unwrap_or_else(|e| panic!("{stem}: {e}\n{doc}"));
        assert_eq!(v.algorithm, alg);
        // ... and a change after signing is caught.
        let evil = doc.replace("Finanzamt Musterstadt", "Finanzamt Boeseburg");
        assert_eq!(kind(&evil), DsigErrorKind::DigestMismatch);
    }
}

#[test]
fn interop_documents_signed_here_verify_with_xmlsec1() {
    let p = pki();
    for issued in [&p.rsa, &p.ec] {
        let signed = signed_sample(&p.signer(issued));
        let (ok, out) = xmlsec1_verify(&signed, &["--enabled-key-data", "x509"]);
        assert!(ok, "xmlsec1 --verify failed: {out}");
        // xmlsec1 also sees a change after signing.
        let evil = signed.replace("Finanzamt Musterstadt", "Finanzamt Boeseburg");
        assert!(!xmlsec1_verify(&evil, &["--enabled-key-data", "x509"]).0);
    }
    // An untrusted signer is refused by xmlsec1 too (its chain check is real).
    let untrusted = signed_sample(&p.signer(&p.untrusted));
    assert!(!xmlsec1_verify(&untrusted, &["--enabled-key-data", "x509"]).0);
}

#[test]
fn pkcs12_signer_signs_like_pem() {
    let p = pki();
    let pkcs12 = openssl::pkcs12::Pkcs12::builder()
        .name("authority")
        .pkey(&p.ec.key)
        .cert(&p.ec.cert)
        .build2("s3cret")
        .expect("p12")
        .to_der()
        .expect("der");
    let signer = Signer::from_pkcs12(&pkcs12, "s3cret").expect("opens");
    assert_eq!(signer.cert_sha256(), p.signer(&p.ec).cert_sha256());
    verdict(&signed_sample(&signer)).expect("verifies");
    let err = Signer::from_pkcs12(&pkcs12, "wrong").expect_err("wrong password");
    assert_eq!(err.kind(), DsigErrorKind::Key);
    // A key that does not belong to the certificate.
    let err = Signer::from_pem(
        &p.rsa.key_pem().expect("pem"),
        &p.ec.cert_pem().expect("pem"),
    )
    .expect_err("mismatch");
    assert_eq!(err.kind(), DsigErrorKind::Key);
}

#[test]
fn trust_store_loads_a_directory_and_refuses_bad_ones() {
    let p = pki();
    assert_eq!(p.verifier().trust_store().len(), 1);
    let empty = tempfile::tempdir().expect("tempdir");
    let err = xoev_dsig::Verifier::from_trust_dir(empty.path()).expect_err("empty");
    assert_eq!(err.kind(), DsigErrorKind::TrustStore);
    std::fs::write(empty.path().join("junk.pem"), "not a certificate").expect("write");
    let err = xoev_dsig::Verifier::from_trust_dir(empty.path()).expect_err("junk");
    assert_eq!(err.kind(), DsigErrorKind::TrustStore);
    std::fs::remove_file(empty.path().join("junk.pem")).expect("rm");
    std::fs::copy(p.key("ec"), empty.path().join("ec.pem")).expect("copy");
    let err = xoev_dsig::Verifier::from_trust_dir(empty.path()).expect_err("private key");
    assert_eq!(err.kind(), DsigErrorKind::TrustStore);
    assert!(err.detail().contains("private key"), "{err}");
    let err = xoev_dsig::Verifier::from_trust_dir(&p.dir.join("missing")).expect_err("missing");
    assert_eq!(err.kind(), DsigErrorKind::TrustStore);
}

#[test]
fn malformed_xml_is_reported_by_the_byte_helpers() {
    let p = pki();
    let err = p
        .signer(&p.ec)
        .sign_bytes(b"<a><b></a>")
        .expect_err("malformed");
    assert_eq!(err.kind(), DsigErrorKind::MalformedXml);
    let result = p.verifier().verify_bytes(
        b"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>",
        &xoev_core::Limits::default(),
        None,
    );
    assert_eq!(
        result.err().map(|e| e.kind()),
        Some(DsigErrorKind::MalformedXml)
    );
}

#[test]
fn intermediate_ca_chain_is_sent_and_verified() {
    let p = pki();
    let sub = p.ca.issue_ca("XOEV Test Sub CA").expect("sub ca");
    let leaf = sub
        .issue(
            "Authority via Sub CA",
            xoev_dsig::pki::KeyKind::EcP256,
            -1,
            365,
        )
        .expect("leaf");
    let mut chain_pem = leaf.cert_pem().expect("pem");
    chain_pem.extend(sub.issued.cert_pem().expect("pem"));
    let signer = Signer::from_pem(&leaf.key_pem().expect("pem"), &chain_pem).expect("signer");
    let signed = signed_sample(&signer);
    assert_eq!(
        signed.matches("<ds:X509Certificate>").count(),
        2,
        "leaf and intermediate sent"
    );
    // The trust store holds only the root; the signer is the leaf, not the sub CA.
    let v = verdict(&signed).expect("chains through the intermediate");
    assert_eq!(
        v.signer_subject,
        "C=DE, O=XOEV Gateway Test, CN=Authority via Sub CA"
    );
    let (ok, out) = xmlsec1_verify(&signed, &["--enabled-key-data", "x509"]);
    assert!(ok, "xmlsec1 builds the same chain: {out}");
    // Without the intermediate the chain cannot be built.
    let alone = Signer::from_pem(
        &leaf.key_pem().expect("pem"),
        &leaf.cert_pem().expect("pem"),
    )
    .expect("signer");
    assert_eq!(
        kind(&signed_sample(&alone)),
        DsigErrorKind::UntrustedCertificate
    );
}

/// The verifier remembers which certificate of a chain is the signing one
/// (issue 12: parsing the chain on every message cost more than the
/// signature); a remembered list must change no outcome.
#[test]
fn remembered_signing_certificate_changes_no_outcome() {
    let p = pki();
    let sub = p.ca.issue_ca("XOEV Test Sub CA").expect("sub ca");
    let issue = |cn: &str| {
        sub.issue(cn, xoev_dsig::pki::KeyKind::EcP256, -1, 365)
            .expect("leaf")
    };
    let (leaf, other) = (issue("Chained Authority"), issue("Unrelated Authority"));
    let mut chain_pem = leaf.cert_pem().expect("pem");
    chain_pem.extend(sub.issued.cert_pem().expect("pem"));
    let signer = Signer::from_pem(&leaf.key_pem().expect("pem"), &chain_pem).expect("signer");
    let signed = signed_sample(&signer);
    let verifier = p.verifier();
    let check = |xml: &str| verifier.verify(&parse(xml.as_bytes()), None);
    for round in 0..3 {
        let v = check(&signed).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(
            v.signer_subject,
            "C=DE, O=XOEV Gateway Test, CN=Chained Authority"
        );
    }
    // Same certificate list, changed content: still a digest mismatch.
    let tampered = signed.replacen("</", " </", 1);
    assert_ne!(tampered, signed);
    for _ in 0..2 {
        assert_eq!(
            check(&tampered).map_err(|e| e.kind()).err(),
            Some(DsigErrorKind::DigestMismatch)
        );
    }
    // A list with two signing certificates is ambiguous, every time.
    let other_b64: String = String::from_utf8(other.cert_pem().expect("pem"))
        .expect("ascii")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let two_leaves = signed.replacen(
        "<ds:X509Certificate>",
        &format!("<ds:X509Certificate>{other_b64}</ds:X509Certificate><ds:X509Certificate>"),
        1,
    );
    for _ in 0..2 {
        assert_eq!(
            check(&two_leaves).map_err(|e| e.kind()).err(),
            Some(DsigErrorKind::MalformedSignature)
        );
    }
}

/// The text of the first `<ds:{element}>`, whitespace removed.
fn element_text(xml: &str, element: &str) -> String {
    let open = format!("<ds:{element}>");
    let a = xml.find(&open).expect("element") + open.len();
    let b = a + xml[a..].find('<').expect("end");
    xml[a..b].chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn fast_path_and_xmlsec_engine_agree_on_every_outcome() {
    // `verify`/`sign` compute digest and signature value themselves;
    // `verify_with_xmlsec`/`sign_with_xmlsec` let xmlsec1's transform engine
    // do it. Every document, good or tampered, must get the same verdict.
    let p = pki();
    let verifier = p.verifier();
    let outcome = |xml: &str, fast: bool| {
        let doc = parse(xml.as_bytes());
        let r = if fast {
            verifier.verify(&doc, None)
        } else {
            verifier.verify_with_xmlsec(&doc, None)
        };
        r.map(|v| v.signer_cert_sha256).map_err(|e| e.kind())
    };
    let mut checked = 0;
    for issued in [&p.rsa, &p.ec, &p.ec2] {
        let signer = p.signer(issued);
        let fast = signed_sample(&signer);
        let doc = parse(sample().as_bytes());
        signer.sign_with_xmlsec(&doc).expect("xmlsec1 signs");
        let reference = String::from_utf8(to_bytes(&doc)).expect("utf-8");
        // Same content, same digest, whoever computed it.
        assert_eq!(
            element_text(&fast, "DigestValue"),
            element_text(&reference, "DigestValue")
        );
        for signed in [fast, reference] {
            let variants = [
                signed.clone(),
                signed.replace("Finanzamt Musterstadt", "Finanzamt Boeseburg"),
                signed.replacen(r#"test="true""#, r#"test="false""#, 1),
                flip_signature_value(&signed),
                swap_certificate(&signed, &p.ec2),
                swap_certificate(&signed, &p.rsa),
            ];
            for (i, xml) in variants.iter().enumerate() {
                let (a, b) = (outcome(xml, true), outcome(xml, false));
                assert_eq!(a, b, "variant {i} signed by {}", signer.subject());
                if i == 0 {
                    assert_eq!(a.as_deref(), Ok(signer.cert_sha256()));
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 36);
}

#[test]
fn rsa_signature_values_are_byte_identical_to_xmlsec1s() {
    // RSA PKCS#1 v1.5 is deterministic: if both engines canonicalise
    // `SignedInfo` alike, they produce the very same signature value.
    let p = pki();
    let signer = p.signer(&p.rsa);
    let fast = signed_sample(&signer);
    let doc = parse(sample().as_bytes());
    signer.sign_with_xmlsec(&doc).expect("xmlsec1 signs");
    let reference = String::from_utf8(to_bytes(&doc)).expect("utf-8");
    for element in ["DigestValue", "SignatureValue", "X509Certificate"] {
        assert_eq!(
            element_text(&fast, element),
            element_text(&reference, element),
            "{element}"
        );
    }
}

#[test]
fn ecdsa_value_of_the_wrong_length_is_malformed() {
    let p = pki();
    let signed = signed_sample(&p.signer(&p.ec));
    let value = element_text(&signed, "SignatureValue");
    let raw = openssl::base64::decode_block(&value).expect("base64");
    assert_eq!(raw.len(), 64, "P-256 values are r || s, 32 bytes each");
    let short = openssl::base64::encode_block(&raw[..63]);
    let evil = signed.replacen(&value, &short, 1);
    assert_ne!(evil, signed);
    assert_eq!(kind(&evil), DsigErrorKind::MalformedSignature);
}

fn xml_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            xml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "xml") {
            out.push(p);
        }
    }
}

#[test]
fn signed_bytes_splices_the_signature_into_the_unsigned_bytes_of_every_sample() {
    // What the gateway sends: the adapter's bytes with only the new
    // signature serialised and put in. Parsed again, they must give exactly
    // the tree that was signed, and verify.
    let p = pki();
    let signer = p.signer(&p.ec);
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    xml_files(&repo.join("tests/samples"), &mut files);
    let (mut spliced, mut fell_back) = (0, 0);
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        let Ok(doc) = xoev_schema::parse_document(&bytes, &xoev_core::Limits::default()) else {
            continue; // the invalid/broken samples
        };
        if signer.sign(&doc).is_err() {
            continue; // e.g. no root element content to sign
        }
        let out = xoev_dsig::signed_bytes(&bytes, &doc);
        let whole = to_bytes(&doc);
        let reparsed = parse(&out);
        assert_eq!(
            to_bytes(&reparsed),
            whole,
            "{}: spliced bytes parse to another tree",
            f.display()
        );
        p.verifier()
            .verify(&reparsed, None)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        if out == whole {
            fell_back += 1;
        } else {
            // the unsigned bytes are kept as they were, up to the root's end tag
            let head = bytes.len() * 9 / 10;
            assert!(out.starts_with(&bytes[..head]), "{}", f.display());
            spliced += 1;
        }
    }
    assert!(
        spliced >= 10,
        "only {spliced} samples spliced ({fell_back} fell back)"
    );
}

#[test]
fn signed_bytes_falls_back_where_the_bytes_are_not_the_tree() {
    let p = pki();
    let signer = p.signer(&p.ec);
    // re-signing: the old signature is still in the bytes, not in the tree
    let signed = signed_sample(&signer);
    let doc = parse(signed.as_bytes());
    signer.sign(&doc).expect("signs");
    let out = xoev_dsig::signed_bytes(signed.as_bytes(), &doc);
    assert_eq!(out, to_bytes(&doc));
    assert_eq!(
        String::from_utf8_lossy(&out)
            .matches("<ds:Signature ")
            .count(),
        1
    );
    // a comment after the root element
    let commented = format!("{}\n<!-- trailing </x> -->\n", sample().trim_end());
    let doc = parse(commented.as_bytes());
    signer.sign(&doc).expect("signs");
    let out = xoev_dsig::signed_bytes(commented.as_bytes(), &doc);
    assert_eq!(out, to_bytes(&doc));
    p.verifier().verify(&parse(&out), None).expect("verifies");
    // not signed at all: nothing to splice
    let doc = parse(sample().as_bytes());
    assert_eq!(
        xoev_dsig::signed_bytes(sample().as_bytes(), &doc),
        to_bytes(&doc)
    );
}

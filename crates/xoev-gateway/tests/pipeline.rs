//! The pipeline in-process (no broker): the decisions it takes for the
//! founding case's requests and answers.

use std::path::PathBuf;
use xoev_gateway::demo::{self, Demo, DemoOptions, FEE_OFFICE};
use xoev_gateway::pipeline::{Decision, Forward, Reject, Stage};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

async fn demo_with(consent: bool) -> (Demo, tempfile::TempDir) {
    let work = tempfile::tempdir().expect("tmp");
    let mut o = DemoOptions::new(root(), work.path());
    o.consent = consent;
    (demo::setup(o).await.expect("setup"), work)
}

fn process(d: &Demo, bytes: &[u8], correlation: Option<&str>) -> Decision {
    let rt = tokio::runtime::Handle::current();
    let (p, b, c) = (
        d.pipeline.clone(),
        bytes.to_vec(),
        correlation.map(str::to_owned),
    );
    std::thread::scope(|s| {
        s.spawn(move || p.process(&b, c.as_deref(), &rt))
            .join()
            .expect("thread")
    })
}

fn forward(d: Decision) -> Box<Forward> {
    match d {
        Decision::Forward(f) => f,
        other => panic!("expected a forward, got {other:?}"),
    }
}

/// `bytes` signed with the demo key of authority `id`.
fn sign_as(d: &Demo, id: &str, bytes: &[u8]) -> Vec<u8> {
    d.signer(id).expect("key").sign_bytes(bytes).expect("sign")
}

/// Asserts that the forwarded message carries each AMQP header with its value.
fn assert_amqp_headers(f: &Forward, expected: &[(&str, &str)]) {
    for (name, value) in expected {
        assert!(
            f.headers
                .iter()
                .any(|(k, v)| (*k, v.as_str()) == (*name, *value)),
            "{name}: {:?}",
            f.headers
        );
    }
}

fn reject(d: Decision) -> Box<Reject> {
    match d {
        Decision::Reject(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_request_is_forwarded_under_the_same_id() {
    let (d, _w) = demo_with(true).await;
    let (_, request) = d.fee_office().expect("fee").request().expect("request");
    let first = forward(process(&d, &request, None));
    let again = forward(process(&d, &request, None));
    assert_eq!(first.message_id, again.message_id);
    assert_eq!(first.queue, d.inbox(demo::TAX_OFFICE).expect("inbox"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_without_consent_never_reaches_the_tax_office() {
    let (d, _w) = demo_with(false).await;
    let (id, request) = d.fee_office().expect("fee").request().expect("request");
    let r = reject(process(&d, &request, None));
    assert_eq!(r.stage, Stage::Consent);
    assert_eq!(r.kind, "no-consent");
    assert_eq!(r.message_id.as_deref(), Some(id.as_str()));
    let (queue, answer, _) = r.answer.expect("a rejection answer for the fee office");
    assert_eq!(queue, d.inbox(FEE_OFFICE).expect("inbox"));
    assert!(String::from_utf8_lossy(&answer).contains("<gw:grund>no-consent</gw:grund>"));
    assert!(
        r.audit.is_some(),
        "the refusal goes into the citizen's access log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_must_match_a_forwarded_request_once_from_where_it_went() {
    let (d, _w) = demo_with(true).await;
    let tax = d.tax_office().expect("tax");
    let (_, request) = d.fee_office().expect("fee").request().expect("request");
    let f = forward(process(&d, &request, None));
    let (answer_id, answer) = tax.answer(&f.payload).expect("answer");

    // an answer to a request the gateway never forwarded (the signed body
    // reference counts, not the AMQP correlation id)
    let stray = xoev_gateway::peers::rewrite(
        &answer,
        &[("bezug/anfrageUUID", "00000000-0000-4000-8000-000000000000")],
        None,
    )
    .expect("rewrite");
    let stray = sign_as(&d, demo::TAX_OFFICE, &stray);
    let r = reject(process(&d, &stray, Some(&f.message_id)));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Correlation, "no-matching-request")
    );

    // an answer from another tax office, which may answer fee offices but
    // was not sent this request, is refused and claims nothing
    let other = xoev_gateway::peers::rewrite(&answer, &[("autor/kennung", "fa:9198")], None)
        .expect("rewrite");
    let r = reject(process(
        &d,
        &sign_as(&d, "fa:9198", &other),
        Some(&f.message_id),
    ));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Correlation, "answer-from-another-authority"),
        "{}",
        r.detail
    );

    // the right one goes through, minimised, to the fee office
    let ok = forward(process(&d, &answer, Some(&f.message_id)));
    assert_eq!(ok.queue, d.inbox(FEE_OFFICE).expect("inbox"));
    assert_eq!(ok.source_id, answer_id);
    // the same answer again (a retry) is accepted again under the same id
    let again = forward(process(&d, &answer, Some(&f.message_id)));
    assert_eq!(again.message_id, ok.message_id);

    // a second, different answer to the same request is refused
    let (_, second) = tax.answer(&f.payload).expect("answer");
    let r = reject(process(&d, &second, Some(&f.message_id)));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Correlation, "already-answered")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_may_name_its_request_in_upper_case() {
    let (d, _w) = demo_with(true).await;
    let tax = d.tax_office().expect("tax");
    let (_, request) = d.fee_office().expect("fee").request().expect("request");
    let f = forward(process(&d, &request, None));
    let (answer_id, answer) = tax.answer(&f.payload).expect("answer");
    let text = String::from_utf8(answer.clone()).expect("utf-8");
    let between = |open: &str, close: &str| {
        let start = text.find(open).expect(open) + open.len();
        text[start..start + text[start..].find(close).expect(close)].to_owned()
    };
    let original = between("<xestb:ursprungsanfrage>", "</xestb:ursprungsanfrage>");
    assert!(original.starts_with("urn:uuid:"), "{original}");
    assert_eq!(
        between("<xestb:anfrageUUID>", "</xestb:anfrageUUID>"),
        f.message_id
    );
    // the tax office's system writes UUIDs in upper case (RFC 9562: the
    // same UUIDs)
    let upper = xoev_gateway::peers::rewrite(
        &answer,
        &[
            ("bezug/anfrageUUID", &f.message_id.to_ascii_uppercase()),
            ("bezug/ursprungsanfrage", &original.to_ascii_uppercase()),
        ],
        None,
    )
    .expect("rewrite");
    let upper = sign_as(&d, demo::TAX_OFFICE, &upper);
    let ok = forward(process(&d, &upper, None));
    assert_eq!(ok.queue, d.inbox(FEE_OFFICE).expect("inbox"));
    assert_eq!(ok.source_id, answer_id);
    // the fee office gets its request's id as it wrote it
    let out = String::from_utf8_lossy(&ok.payload);
    assert!(out.contains(&format!("requestid=\"{original}\"")), "{out}");
    // and the request is answered: another answer to it is a second one
    let (_, second) = tax.answer(&f.payload).expect("answer");
    let r = reject(process(&d, &second, None));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Correlation, "already-answered")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_message_is_refused_at_the_signature_stage() {
    let (d, _w) = demo_with(true).await;
    let request = std::fs::read(root().join(demo::REQUEST)).expect("request");
    let r = reject(process(&d, &request, None));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Signature, "no-signature")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_signed_by_another_authority_is_refused() {
    let (d, _w) = demo_with(true).await;
    let fee = d.fee_office().expect("fee");
    let (_, request) = fee.request().expect("request");
    // re-sign the fee office's request with the tax office's key
    let forged = sign_as(&d, demo::TAX_OFFICE, &request);
    let r = reject(process(&d, &forged, None));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Signature, "wrong-signer")
    );
}

/// The fee office's certificate revoked by the demo CA: its next request
/// is refused at the signature stage, the other authorities' messages
/// still pass; a stale CRL makes the message wait instead (the gateway's
/// fault, not the sender's).
#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_sender_is_refused_and_a_stale_crl_holds_messages_back() {
    let (d, w) = demo_with(true).await;
    let fee = d.fee_office().expect("fee");
    let (_, request) = fee.request().expect("request");
    let f = forward(process(&d, &request, None));

    let file = |name: &str, bytes: &[u8]| {
        let path = w.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    let ca_key = file("ca.key.pem", &d.ca.issued.key_pem().expect("pem"));
    let ca_cert = file("ca.cert.pem", &d.ca_pem);
    let fee_cert = file("fee.cert.pem", &d.pems[FEE_OFFICE].1);
    let trust = w.path().join("trust");
    std::fs::create_dir_all(&trust).expect("mkdir");
    std::fs::write(trust.join("ca.pem"), &d.ca_pem).expect("write");
    xoev_dsig::pki::revoke_into(&ca_key, &ca_cert, &trust.join("ca.crl"), &[fee_cert], 7)
        .expect("crl");
    d.pipeline
        .verifier
        .replace_trust(xoev_dsig::TrustStore::from_dir(&trust).expect("trust"));

    let (_, again) = fee.request().expect("request");
    let r = reject(process(&d, &again, None));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Signature, "revoked-certificate")
    );
    assert!(r.detail.contains("was revoked by"), "{}", r.detail);
    // The tax office's certificate is not listed: its answer to the
    // request forwarded before still goes through.
    let (_, answer) = d
        .tax_office()
        .expect("tax")
        .answer(&f.payload)
        .expect("answer");
    let ok = forward(process(&d, &answer, Some(&f.message_id)));
    assert_eq!(ok.queue, d.inbox(FEE_OFFICE).expect("inbox"));

    // A CRL past its next update: every message of the CA's authorities waits.
    let mut stale = xoev_dsig::TrustStore::from_pem(&d.ca_pem).expect("trust");
    let expired = d.ca.crl(&[], 2, -10, -1).expect("crl");
    stale.add_crl(&expired.to_pem().expect("pem")).expect("add");
    d.pipeline.verifier.replace_trust(stale);
    match process(&d, &request, None) {
        Decision::Retry {
            stage,
            kind,
            detail,
        } => {
            assert_eq!(
                (stage, kind.as_str()),
                (Stage::Signature, "revocation-unknown")
            );
            assert!(detail.contains("expired on"), "{detail}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_answer_does_not_use_up_its_request() {
    let (d, _w) = demo_with(true).await;
    let tax = d.tax_office().expect("tax");
    let (_, request) = d.fee_office().expect("fee").request().expect("request");
    let f = forward(process(&d, &request, None));

    // an answer about another person: refused by the adapter
    let (_, good) = tax.answer(&f.payload).expect("answer");
    let unsigned = xoev_gateway::peers::rewrite(
        &good,
        &[
            ("steuerpflichtiger/steuerIdNr", "11111111111"),
            (
                "nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID",
                "0b7e4b1c-3c1a-4bd4-9a57-4f4e3d1f2a99",
            ),
        ],
        None,
    )
    .expect("rewrite");
    let wrong = sign_as(&d, demo::TAX_OFFICE, &unsigned);
    let r = reject(process(&d, &wrong, Some(&f.message_id)));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Adapter, "tax-id-mismatch")
    );

    // the corrected answer still finds its request
    let ok = forward(process(&d, &good, Some(&f.message_id)));
    assert_eq!(ok.queue, d.inbox(FEE_OFFICE).expect("inbox"));
}

/// The delivery's bytes go through without a copy and the envelope the
/// pipeline read comes back for the metrics labels: readable → the header,
/// unreadable → none; the decision is the one `process` takes.
#[tokio::test(flavor = "multi_thread")]
async fn process_shared_returns_the_envelope_it_read() {
    let (d, _w) = demo_with(true).await;
    let (id, request) = d.fee_office().expect("fee").request().expect("request");
    let rt = tokio::runtime::Handle::current();
    let p = d.pipeline.clone();
    let (decision, message, garbage) = std::thread::scope(|s| {
        s.spawn(move || {
            let (decision, message) = p.process_shared(&bytes::Bytes::from(request), None, &rt);
            let (garbage, none) =
                p.process_shared(&bytes::Bytes::from_static(b"<not xml"), None, &rt);
            assert!(none.is_none(), "no envelope for unreadable bytes");
            (decision, message, garbage)
        })
        .join()
        .expect("thread")
    });
    let f = forward(decision);
    let header = message.and_then(|m| m.header).expect("the header it read");
    assert_eq!(header.message_id.as_str(), id);
    assert_eq!(f.source_id, id);
    let r = reject(garbage);
    assert_eq!(r.stage, Stage::Header);
    assert_eq!(r.kind, "malformed-xml");
}

/// `text` without its first `<open…` … `close` span.
fn without(text: &str, open: &str, close: &str) -> String {
    let start = text.find(open).expect("open tag");
    let end = start + text[start..].find(close).expect("close tag") + close.len();
    format!("{}{}", &text[..start], &text[end..])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_header_without_an_identified_sender_is_refused_naming_the_element() {
    let (d, _w) = demo_with(true).await;
    // (message, the sender's identification removed, the detail)
    let cases = [
        // xdomea: an Absender named only by its institution (as real
        // archival transfers are) cannot be looked up in the directory.
        (
            "tests/samples/xdomea/pattern-3.0.0_xx_Aussonderung.Aussonderung.0503.xml",
            ("<xdomea:Behoerdenkennung>", "</xdomea:Behoerdenkennung>"),
            "the header names its author only by name (\"AbsXdomeaInstitutionName\"), \
             without an identifier: routing needs Absender with a Behoerdenkennung",
        ),
        // xdomea 4 (the XÖV nachrichtenkopf): no autor at all.
        (
            "tests/samples/xdomea/synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml",
            ("<xdomea:autor>", "</xdomea:autor>"),
            "the header names no author (autor with a kennung)",
        ),
        // An EU OOTS evidence request: no EvidenceRequester slot.
        (
            "tests/samples/oots-edm/2.1_Step_1_Evidence_Request_-_Birth_-_full_example.xml",
            (r#"<rim:Slot name="EvidenceRequester">"#, "</rim:Slot>"),
            "the header names no author (EvidenceRequester (request) or \
             EvidenceProvider/ErrorProvider (response) with an sdg:Identifier)",
        ),
        // The XÖV header (XNachweis): no autor at all.
        (
            demo::REQUEST,
            ("<bn-g2g:autor>", "</bn-g2g:autor>"),
            "the header names no author (autor with a kennung)",
        ),
    ];
    for (file, (open, close), detail) in cases {
        let text = std::fs::read_to_string(root().join(file)).expect("sample");
        let r = reject(process(&d, without(&text, open, close).as_bytes(), None));
        assert_eq!(
            (r.stage, r.kind.as_str()),
            (Stage::Header, "invalid-header"),
            "{file}"
        );
        assert_eq!(r.detail, detail, "{file}");
    }
}

/// A header that cannot be read because the document is wrong is rejected
/// with what the schema says (the XSD's violation with line and path, at
/// the schema stage); one the schema accepts keeps the header's reason.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_header_is_rejected_with_the_schema_reason() {
    let (d, _w) = demo_with(true).await;
    let text = std::fs::read_to_string(root().join(demo::REQUEST)).expect("sample");
    let untyped = without(&text, "<xn-bk:nachrichtentyp", "</xn-bk:nachrichtentyp>");
    let r = reject(process(&d, untyped.as_bytes(), None));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Schema, "xsd-invalid"),
        "{r:?}"
    );
    let issue = &r.issues[0];
    assert!(issue.line.is_some(), "{issue:?}");
    assert!(issue.path.is_some(), "{issue:?}");
    assert!(issue.message.contains("Expected is"), "{issue:?}");
    assert!(issue.message.contains("nachrichtentyp"), "{issue:?}");

    // An OOTS request without IssueDateTime is XSD-valid: the header's reason.
    let oots = std::fs::read_to_string(
        root()
            .join("tests/samples/oots-edm/2.1_Step_1_Evidence_Request_-_Birth_-_full_example.xml"),
    )
    .expect("sample");
    let undated = without(&oots, r#"<rim:Slot name="IssueDateTime">"#, "</rim:Slot>");
    let r = reject(process(&d, undated.as_bytes(), None));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Header, "invalid-header"),
        "{r:?}"
    );
    assert!(r.detail.contains("IssueDateTime"), "{r:?}");
}

/// A fee office that signs with RSASSA-PSS (an RSA certificate, the
/// `sha256-rsa-MGF1` method): its request is verified and forwarded like
/// any other; the same request signed with PKCS#1 v1.5 too.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_signed_with_rsa_pss_is_verified_and_forwarded() {
    let work = tempfile::tempdir().expect("tmp");
    let mut o = DemoOptions::new(root(), work.path());
    o.rsa_authorities = vec![FEE_OFFICE.to_owned()];
    let d = demo::setup(o).await.expect("setup");
    let request = std::fs::read(root().join(demo::REQUEST)).expect("request");
    let rsa = d.signer(FEE_OFFICE).expect("key");
    let pss = rsa
        .with_algorithm(xoev_dsig::SignatureAlgorithm::RsaPssSha256)
        .expect("RSA signs PSS");
    let signed = pss.sign_bytes(&request).expect("sign");
    assert!(
        String::from_utf8_lossy(&signed).contains(xoev_dsig::RSA_PSS_SHA256),
        "signed with PSS"
    );
    let f = forward(process(&d, &signed, None));
    assert_eq!(f.queue, d.inbox(demo::TAX_OFFICE).expect("inbox"));
    // PKCS#1 v1.5 from the same key still passes (a fresh demo: the first
    // request's id is taken).
    let work = tempfile::tempdir().expect("tmp");
    let mut o = DemoOptions::new(root(), work.path());
    o.rsa_authorities = vec![FEE_OFFICE.to_owned()];
    let d = demo::setup(o).await.expect("setup");
    let signed = sign_as(&d, FEE_OFFICE, &request);
    assert!(String::from_utf8_lossy(&signed).contains(xoev_dsig::RSA_SHA256));
    forward(process(&d, &signed, None));
}

/// A root whose namespace names its version (XBeteiligung 1.2) while its
/// free-text `version` attribute names another release, as DiPlan Cockpit
/// sends them: validated against 1.2, routed by a rule for 1.2, and the
/// AMQP version header says 1.2.
#[tokio::test(flavor = "multi_thread")]
async fn a_root_version_attribute_other_than_the_namespace_is_routed_by_the_schema_version() {
    let work = tempfile::tempdir().expect("tmp");
    let mut o = DemoOptions::new(root(), work.path());
    o.routing_append = routing_addition("xbeteiligung-diplan");
    let d = demo::setup(o).await.expect("setup");
    let text = std::fs::read_to_string(root().join(
        "tests/samples/xbeteiligung/xbeteiligung-test-kommunal.Initiieren.0401.gwid-format.xml",
    ))
    .expect("sample");
    // …and whose free-text `standard` attribute is a generator's
    // placeholder: the catalogue entry names the standard the rules match.
    let as_1_1 = text
        .replacen(r#"version="1.2""#, r#"version="1.1""#, 1)
        .replacen(r#"standard="XBeteiligung""#, r#"standard="standard0""#, 1);
    assert!(as_1_1.contains(r#"standard="standard0""#) && as_1_1.contains(r#"version="1.1""#));
    let signed = sign_as(&d, "xyz:0001", as_1_1.as_bytes());
    let f = forward(process(&d, &signed, None));
    assert_eq!(f.queue, "xoev.inbox.xyz-0002");
    assert_amqp_headers(
        &f,
        &[
            (xoev_transport::header::STANDARD, "XBeteiligung"),
            (xoev_transport::header::VERSION, "1.2"),
        ],
    );
    // No adapter: forwarded under its own id and type, as its header says
    // (the header read on the way in, not read again from the output).
    let inbound = xoev_core::Message::parse(signed, &xoev_core::Limits::default()).expect("header");
    let h = inbound.header.expect("header");
    assert_eq!(f.message_id, h.message_id.as_str());
    let out = xoev_core::Message::parse(f.payload.clone(), &xoev_core::Limits::default())
        .expect("output header");
    let out = out.header.expect("output header");
    assert_eq!(out.message_id, h.message_id);
    assert_amqp_headers(
        &f,
        &[(xoev_transport::header::TYPE, h.message_type.code.as_str())],
    );
}

/// XBeteiligung 1.2's code list gives a message type as the element's whole
/// name: a header whose `nachrichtentyp/code` is `kommunal.Initiieren.0401`
/// is routed and access-checked by the rules that name the code `0401`
/// (`tests/routing/xbeteiligung-diplan`), and its AMQP type header keeps
/// what the header says.
#[tokio::test(flavor = "multi_thread")]
async fn a_header_naming_its_type_by_the_whole_element_name_is_routed_by_the_code() {
    let work = tempfile::tempdir().expect("tmp");
    let mut o = DemoOptions::new(root(), work.path());
    o.routing_append = routing_addition("xbeteiligung-diplan");
    let d = demo::setup(o).await.expect("setup");
    let text = std::fs::read_to_string(root().join(
        "tests/samples/xbeteiligung/xbeteiligung-test-kommunal.Initiieren.0401.gwid-format.xml",
    ))
    .expect("sample");
    let named = text.replacen(
        "<code>0401</code>",
        "<code>kommunal.Initiieren.0401</code>",
        1,
    );
    assert_ne!(named, text);
    let signed = sign_as(&d, "xyz:0001", named.as_bytes());
    let f = forward(process(&d, &signed, None));
    assert_eq!(f.queue, "xoev.inbox.xyz-0002");
    assert_amqp_headers(
        &f,
        &[(xoev_transport::header::TYPE, "kommunal.Initiieren.0401")],
    );
}

/// An xdomea 4 handover with a further reader (`WeitererLeser`): the
/// forward names the archive's inbox for a copy; one the directory does
/// not know, or the access rules do not let have it, refuses the whole
/// message naming that reader (a copy the sender asked for is not dropped).
#[tokio::test(flavor = "multi_thread")]
async fn a_further_reader_must_be_known_and_allowed_to_get_its_copy() {
    let work = tempfile::tempdir().expect("tmp");
    let mut o = DemoOptions::new(root(), work.path());
    o.routing_append = routing_addition("xdomea-archive");
    let d = demo::setup(o).await.expect("setup");
    let text = std::fs::read_to_string(
        root().join("tests/samples/xdomea/synthetic-4.0.0_Abgabe.Abgabe.0401.xml"),
    )
    .expect("sample");
    let f = forward(process(
        &d,
        &sign_as(&d, "ags:06411000", text.as_bytes()),
        None,
    ));
    assert_eq!(f.queue, "xoev.inbox.ags-06412000");
    assert_eq!(
        f.copies,
        [(
            "archiv:06411000".to_owned(),
            "xoev.inbox.archiv-06411000".to_owned()
        )]
    );
    // named twice, or the reader itself named again: one copy, none to the reader
    let further = |id: &str| {
        format!(
            "<xdomea:WeitererLeser><xdomea:Behoerdenkennung>\
             <xdomea:verzeichnisdienst listVersionID=\"2\"><code>DVDV</code></xdomea:verzeichnisdienst>\
             <xdomea:kennung>{id}</xdomea:kennung>\
             </xdomea:Behoerdenkennung></xdomea:WeitererLeser>\n  "
        )
    };
    let twice = text.replacen(
        "<xdomea:Importbestaetigung>",
        &format!(
            "{}{}<xdomea:Importbestaetigung>",
            further("archiv:06411000"),
            further("ags:06412000")
        ),
        1,
    );
    assert_ne!(twice, text);
    let f = forward(process(
        &d,
        &sign_as(&d, "ags:06411000", twice.as_bytes()),
        None,
    ));
    assert_eq!(f.copies.len(), 1, "{:?}", f.copies);

    let unknown = text.replacen("archiv:06411000", "archiv:99999999", 1);
    let r = reject(process(
        &d,
        &sign_as(&d, "ags:06411000", unknown.as_bytes()),
        None,
    ));
    assert_eq!(r.kind, "unknown-reader", "{}", r.detail);
    assert!(
        r.detail.starts_with("further reader: ") && r.detail.contains("archiv:99999999"),
        "{}",
        r.detail
    );
    // a tax office is known, but may not have the fee office's files
    let not_allowed = text.replacen("archiv:06411000", "fa:9198", 1);
    let r = reject(process(
        &d,
        &sign_as(&d, "ags:06411000", not_allowed.as_bytes()),
        None,
    ));
    assert_eq!(r.kind, "access-denied", "{}", r.detail);
    assert!(r.detail.contains("fa:9198"), "{}", r.detail);
}

/// Another standard through the whole pipeline, once the directory, the
/// access rules and a rule name it: the fee office's xdomea 4.0.0 offer
/// list, signed by the fee office, is header-read, verified, validated
/// against xdomea 4.0.0, access-checked, routed to the archive the header
/// names, forwarded unchanged and signed by the gateway. The same offer
/// signed by an authority the access rules do not allow is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_xdomea_4_offer_list_goes_to_the_archive_a_rule_names() {
    let work = tempfile::tempdir().expect("tmp");
    let mut o = DemoOptions::new(root(), work.path());
    o.routing_append = routing_addition("xdomea-archive");
    let d = demo::setup(o).await.expect("setup");
    let offer = std::fs::read(
        root()
            .join("tests/samples/xdomea/synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml"),
    )
    .expect("sample");
    let signed = sign_as(&d, "ags:06411000", &offer);
    let f = forward(process(&d, &signed, None));
    assert_eq!(f.queue, "xoev.inbox.archiv-06411000");
    assert_eq!(f.source_id, "0c9e7d42-5b1a-4f68-8e3d-2a7b9c1f4e60");
    // what the archive gets: the offer, signed by the gateway
    d.verifier
        .verify_bytes(&f.payload, &xoev_core::Limits::default(), Some(&d.gateway))
        .expect("signed by the gateway");
    let out = String::from_utf8(f.payload.clone()).expect("utf-8");
    assert!(
        out.contains("<xdomea:Betreff>Kita-Gebühren: Widersprüche 2015</xdomea:Betreff>"),
        "{out}"
    );

    // The archive's receipt, in xdomea 2.4.0 (no standard or version on
    // its root), goes back to the fee office.
    let receipt = std::fs::read(root().join(
        "tests/samples/xdomea/synthetic-2.4.0_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml",
    ))
    .expect("sample");
    let signed_receipt = sign_as(&d, "archiv:06411000", &receipt);
    let f = forward(process(&d, &signed_receipt, None));
    assert_eq!(f.queue, "xoev.inbox.ags-06411000");
    // the AMQP headers name them, from the catalogue
    assert_amqp_headers(
        &f,
        &[
            (xoev_transport::header::STANDARD, "xdomea"),
            (xoev_transport::header::VERSION, "2.4.0"),
        ],
    );

    // The same offer from an authority that may not send it there.
    let wrong = String::from_utf8(offer).expect("utf-8").replace(
        "<xdomea:kennung>ags:06411000</xdomea:kennung>",
        "<xdomea:kennung>ags:06611000</xdomea:kennung>",
    );
    let signed = sign_as(&d, "ags:06611000", wrong.as_bytes());
    let r = reject(process(&d, &signed, None));
    assert_eq!(r.stage, Stage::Access, "{r:?}");
}

/// A header whose message type contradicts the root element is routed and
/// access-checked by the root's type (what the schema validated, what the
/// recipient reads): the archive's receipt (root `…0504`) with an offer's
/// header code (0501) still goes back to the fee office as a 0504 — and
/// the fee office cannot pass a receipt off as an offer to the archive,
/// which the access rules would allow for a real 0501.
#[tokio::test(flavor = "multi_thread")]
async fn a_header_type_contradicting_the_root_is_routed_by_the_root() {
    let work = tempfile::tempdir().expect("tmp");
    let mut o = DemoOptions::new(root(), work.path());
    o.routing_append = routing_addition("xdomea-archive");
    let d = demo::setup(o).await.expect("setup");
    let receipt = std::fs::read_to_string(root().join(
        "tests/samples/xdomea/synthetic-4.0.0_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml",
    ))
    .expect("sample");
    let mislabelled = receipt.replace("<code>0504</code>", "<code>0501</code>");
    assert_ne!(mislabelled, receipt);
    let signed = sign_as(&d, "archiv:06411000", mislabelled.as_bytes());
    let f = forward(process(&d, &signed, None));
    assert_eq!(f.queue, "xoev.inbox.ags-06411000");
    assert_amqp_headers(&f, &[(xoev_transport::header::TYPE, "0504")]);

    // The fee office sends the same document, labelled an offer, to the archive.
    let spoof = mislabelled
        .replace("<xdomea:kennung>ags:06411000</xdomea:kennung>", "READER")
        .replace(
            "<xdomea:kennung>archiv:06411000</xdomea:kennung>",
            "<xdomea:kennung>ags:06411000</xdomea:kennung>",
        )
        .replace("READER", "<xdomea:kennung>archiv:06411000</xdomea:kennung>");
    let signed = sign_as(&d, "ags:06411000", spoof.as_bytes());
    let r = reject(process(&d, &signed, None));
    assert!(
        matches!(r.stage, Stage::Access | Stage::Routing),
        "a receipt from the fee office is no offer: {r:?}"
    );
    assert!(r.detail.contains("0504"), "{r:?}");
}

/// `routing/` with the files of `tests/routing/<addition>/` appended.
fn routing_addition(addition: &str) -> Vec<(String, String)> {
    ["authorities.toml", "access.toml", "rules.toml"]
        .into_iter()
        .map(|f| {
            let path = root().join("tests/routing").join(addition).join(f);
            (f.to_owned(), std::fs::read_to_string(path).expect("read"))
        })
        .collect()
}

/// The demo installation with the EU OOTS addition (`tests/routing/oots-edm/`).
async fn demo_with_oots() -> (Demo, tempfile::TempDir) {
    let work = tempfile::tempdir().expect("tmp");
    let mut o = DemoOptions::new(root(), work.path());
    o.routing_append = routing_addition("oots-edm");
    (demo::setup(o).await.expect("setup"), work)
}

/// The demo request of the Kassel fee office, addressed to a (fictitious)
/// Danish tax agency instead of the Kassel tax office.
fn request_to_denmark() -> Vec<u8> {
    std::fs::read(
        root().join(
            "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel-an-dk.xml",
        ),
    )
    .expect("sample")
}

/// The EU OOTS evidence exchange through the whole pipeline: the public
/// birth-evidence request, signed by the Danish portal, is read by its
/// slots, verified, validated against the OOTS EDM schemas, access-checked
/// and forwarded to the Berlin registry office it names; the registry's
/// response goes back under the request's case (its `requestId`). A
/// response the access rules do not allow is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_eu_oots_evidence_request_and_its_response_are_routed_by_their_agents() {
    let (d, _work) = demo_with_oots().await;
    let sample =
        |f: &str| std::fs::read(root().join("tests/samples/oots-edm").join(f)).expect("sample");

    let request = sample("2.1_Step_1_Evidence_Request_-_Birth_-_full_example.xml");
    let signed = sign_as(&d, "0096:DK22233223", &request);
    let f = forward(process(&d, &signed, None));
    assert_eq!(f.queue, "xoev.inbox.eas-9930-DE73524311");
    let request_id = "urn:uuid:4ffb5281-179d-4578-adf2-39fd13ccc797";
    assert_eq!(f.source_id, request_id);
    assert_eq!(f.case_id, request_id);
    d.verifier
        .verify_bytes(&f.payload, &xoev_core::Limits::default(), Some(&d.gateway))
        .expect("signed by the gateway");
    assert_amqp_headers(
        &f,
        &[
            (xoev_transport::header::TYPE, "EvidenceRequest"),
            (xoev_transport::header::SENDER, "0096:DK22233223"),
            (xoev_transport::header::READER, "9930:DE73524311"),
            (xoev_transport::header::STANDARD, "OOTS-EDM"),
            (xoev_transport::header::VERSION, "1.0.0"),
        ],
    );

    // A deferral first (status Unavailable: the evidence comes later):
    // passed on under the request's case, which it does not close.
    let deferred = sample("synthetic-deferred-response-birth.xml");
    let signed = sign_as(&d, "9930:DE73524311", &deferred);
    let f = forward(process(&d, &signed, None));
    assert_eq!(f.queue, "xoev.inbox.oots-0096-DK22233223");
    assert_eq!(f.source_id, "5b0e7c1a-3d2f-4e8b-9a61-0c4d2e7f9b13");
    assert_eq!(f.case_id, request_id);
    assert_amqp_headers(&f, &[(xoev_transport::header::TYPE, "DeferredResponse")]);

    let response = sample("2.2_Step_2_Evidence_Response_-_Birth_-_full_example.xml");
    let signed = sign_as(&d, "9930:DE73524311", &response);
    let f = forward(process(&d, &signed, None));
    assert_eq!(f.queue, "xoev.inbox.oots-0096-DK22233223");
    assert_eq!(f.source_id, "166155eb-d7a7-4cac-9086-8a85f0116462");
    assert_eq!(
        f.case_id, request_id,
        "the response joins its request's case"
    );

    // The portal may ask, not answer.
    let forged = String::from_utf8(response)
        .expect("utf-8")
        .replace(r#"name="EvidenceProvider""#, r#"name="swap""#)
        .replace(r#"name="EvidenceRequester""#, r#"name="EvidenceProvider""#)
        .replace(r#"name="swap""#, r#"name="EvidenceRequester""#);
    let signed = sign_as(&d, "0096:DK22233223", forged.as_bytes());
    let r = reject(process(&d, &signed, None));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Access, "access-denied"),
        "{r:?}"
    );
    assert_eq!(r.sender.as_deref(), Some("0096:DK22233223"));

    // Signed by someone other than the agent its slots name.
    let signed = sign_as(&d, "9930:DE73524311", &request);
    let r = reject(process(&d, &signed, None));
    assert_eq!(r.stage, Stage::Signature, "{r:?}");
}

/// Out of Germany: the fee office's XNachweis evidence request to a
/// provider abroad is translated to an EU OOTS evidence request, validated
/// against the OOTS EDM schemas, signed by the gateway and handed to the
/// OOTS access point's queue; the output's slots name both agents.
#[tokio::test(flavor = "multi_thread")]
async fn an_xnachweis_request_to_a_provider_abroad_leaves_as_an_oots_request() {
    let (d, _work) = demo_with_oots().await;
    let signed = sign_as(&d, FEE_OFFICE, &request_to_denmark());
    let f = forward(process(&d, &signed, None));
    assert_eq!(f.queue, "xoev.inbox.oots-0184-DK12345678");
    d.verifier
        .verify_bytes(&f.payload, &xoev_core::Limits::default(), Some(&d.gateway))
        .expect("signed by the gateway");
    let out = xoev_core::Message::parse(f.payload.clone(), &xoev_core::Limits::default())
        .expect("envelope");
    assert_eq!(out.root.local_name, "QueryRequest");
    let h = out.require_header().expect("the OOTS slots");
    assert_eq!(h.message_type.code, "EvidenceRequest");
    assert_eq!(h.message_id.as_str(), f.message_id);
    assert_eq!(
        h.author.as_ref().map(|a| a.key()).as_deref(),
        Some("0204:06611000-KITA-01")
    );
    assert_eq!(
        h.reader.as_ref().map(|a| a.key()).as_deref(),
        Some("0184:DK12345678")
    );
    assert_amqp_headers(
        &f,
        &[
            (xoev_transport::header::TYPE, "EvidenceRequest"),
            (xoev_transport::header::STANDARD, "OOTS-EDM"),
            (xoev_transport::header::VERSION, "1.0.0"),
            (xoev_transport::header::READER, "0184:DK12345678"),
        ],
    );
    // the German tax id stays home
    let payload = String::from_utf8(f.payload).expect("utf-8");
    assert!(!payload.contains(demo::TAX_ID), "{payload}");

    // The answer from abroad names the fee office by its EAS id, which the
    // directory knows as another id of ags:06611000, and the request by the
    // id the gateway gave the OOTS request: the gateway matches it to the
    // request it sent, translates it back to XNachweis and delivers it to
    // the fee office's inbox, under the request's case.
    let answer_from_abroad = |sample: &str| {
        let text = std::fs::read_to_string(root().join("tests/samples/oots-edm").join(sample))
            .expect("sample");
        let id = "urn:uuid:3d0c8a52-6f1e-4b7a-9c2d-5e8f10a7b431";
        assert!(text.contains(id));
        sign_as(
            &d,
            "0184:DK12345678",
            text.replace(id, &f.message_id).as_bytes(),
        )
    };
    // A deferral from abroad first (the evidence follows by a date): it
    // reaches the fee office as an XNachweis answer with status
    // Unavailable and the date, under the request's case, which stays
    // open for the answer (it was refused as having no XNachweis form).
    let text = std::fs::read_to_string(
        root().join("tests/samples/oots-edm/synthetic-response-to-kita-kassel.xml"),
    )
    .expect("sample");
    let start = text.find("<rim:RegistryObjectList>").expect("objects");
    let end = text.find("</rim:RegistryObjectList>").expect("objects end")
        + "</rim:RegistryObjectList>".len();
    let deferred = format!("{}<rim:RegistryObjectList/>{}", &text[..start], &text[end..])
        .replace(
            "urn:uuid:3d0c8a52-6f1e-4b7a-9c2d-5e8f10a7b431",
            &f.message_id,
        )
        .replace(
            "ResponseStatusType:Success",
            "ResponseStatusType:Unavailable",
        )
        .replacen(
            r#"<rim:Slot name="EvidenceProvider">"#,
            r#"<rim:Slot name="ResponseAvailableDateTime"><rim:SlotValue xsi:type="rim:DateTimeValueType"><rim:Value>2025-03-10T08:00:00Z</rim:Value></rim:SlotValue></rim:Slot><rim:Slot name="EvidenceProvider">"#,
            1,
        );
    assert!(deferred.contains("ResponseAvailableDateTime"));
    let signed = sign_as(&d, "0184:DK12345678", deferred.as_bytes());
    let later = forward(process(&d, &signed, None));
    assert_eq!(later.queue, d.inbox(FEE_OFFICE).expect("inbox"));
    assert_eq!(
        later.case_id, f.case_id,
        "the deferral joins the request's case"
    );
    assert!(
        later.audit.is_none(),
        "no evidence passed: nothing for the access log"
    );
    let text = String::from_utf8(later.payload.clone()).expect("utf-8");
    assert!(
        text.contains("ResponseStatusType:Unavailable</code>")
            && text.contains("<xn-de:ResponseAvailableDateTime>2025-03-10T08:00:00Z<"),
        "{text}"
    );
    // a deferral from another authority than the one asked claims nothing either
    let foreign = sign_as(&d, "9930:DE73524311", deferred.as_bytes());
    assert!(matches!(process(&d, &foreign, None), Decision::Reject(_)));

    let answer = answer_from_abroad("synthetic-response-to-kita-kassel.xml");
    let back = forward(process(&d, &answer, None));
    assert_eq!(back.queue, d.inbox(FEE_OFFICE).expect("inbox"));
    assert_eq!(
        back.case_id, f.case_id,
        "the answer joins the request's case (the fee office's message id)"
    );
    assert_amqp_headers(
        &back,
        &[
            (xoev_transport::header::SENDER, "0184:DK12345678"),
            (xoev_transport::header::READER, FEE_OFFICE),
            (xoev_transport::header::STANDARD, "XNachweis"),
            (xoev_transport::header::TYPE, "DE.EvidenceResponse.0102"),
        ],
    );
    let out = xoev_core::Message::parse(back.payload.clone(), &xoev_core::Limits::default())
        .expect("envelope");
    let h = out.require_header().expect("XÖV header");
    assert_eq!(h.message_type.code, "DE.EvidenceResponse.0102");
    assert_eq!(
        h.reader.as_ref().map(|a| a.key()).as_deref(),
        Some(FEE_OFFICE)
    );
    d.verifier
        .verify_bytes(
            &back.payload,
            &xoev_core::Limits::default(),
            Some(&d.gateway),
        )
        .expect("signed by the gateway");
    let text = String::from_utf8(back.payload.clone()).expect("utf-8");
    assert!(
        text.contains(r#"href="cid:aarsopgoerelse-2024@skat.example.dk""#),
        "{text}"
    );
    // the access log records the answer for the citizen, as for the tax office's
    let entry = back.audit.as_ref().expect("access-log entry");
    assert_eq!(entry.outcome, xoev_audit::Outcome::Answered);
    assert_eq!(entry.answerer.as_deref(), Some("0184:DK12345678"));
    assert_eq!(entry.request_message_id, f.case_id);

    // a second answer to the same request is refused, also an error answer
    let again = process(
        &d,
        &answer_from_abroad("synthetic-error-to-kita-kassel.xml"),
        None,
    );
    match again {
        Decision::Reject(r) => {
            assert_eq!(
                (r.stage, r.kind.as_str()),
                (Stage::Correlation, "already-answered")
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// An EU OOTS error answer from abroad to a request the gateway sent there
/// reaches the fee office as an XNachweis error answer.
#[tokio::test(flavor = "multi_thread")]
async fn an_oots_error_from_abroad_reaches_the_fee_office_as_an_xnachweis_error() {
    let (d, _work) = demo_with_oots().await;
    let f = forward(process(
        &d,
        &sign_as(&d, FEE_OFFICE, &request_to_denmark()),
        None,
    ));
    let text = std::fs::read_to_string(
        root().join("tests/samples/oots-edm/synthetic-error-to-kita-kassel.xml"),
    )
    .expect("sample")
    .replace(
        "urn:uuid:3d0c8a52-6f1e-4b7a-9c2d-5e8f10a7b431",
        &f.message_id,
    );
    let back = forward(process(
        &d,
        &sign_as(&d, "0184:DK12345678", text.as_bytes()),
        None,
    ));
    assert_eq!(back.queue, d.inbox(FEE_OFFICE).expect("inbox"));
    assert_eq!(back.case_id, f.case_id);
    assert_amqp_headers(
        &back,
        &[(
            xoev_transport::header::TYPE,
            "DE.EvidenceErrorResponse.0103",
        )],
    );
    let text = String::from_utf8(back.payload).expect("utf-8");
    assert!(text.contains("<code>EDM:ERR:0004</code>"), "{text}");
}

/// An OOTS answer whose `requestId` names no request the gateway sent is
/// not matched to any case: where a rule translates it, the adapter lacks
/// the request and the answer is refused at the adapter stage (dead letter
/// and answer), not forwarded half-translated.
#[tokio::test(flavor = "multi_thread")]
async fn an_oots_answer_to_a_request_the_gateway_did_not_send_is_not_translated() {
    let (d, _work) = demo_with_oots().await;
    let text =
        std::fs::read(root().join("tests/samples/oots-edm/synthetic-response-to-kita-kassel.xml"))
            .expect("sample");
    match process(&d, &sign_as(&d, "0184:DK12345678", &text), None) {
        Decision::Reject(r) => {
            assert_eq!(
                (r.stage, r.kind.as_str()),
                (Stage::Adapter, "missing-context"),
                "{}",
                r.detail
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// An adapter whose output the gateway cannot read a header from (here a
/// schema-valid OOTS response without its slots) is refused at the adapter
/// stage with a dead letter and an answer to the sender, not retried: a
/// retry would produce the same output.
#[tokio::test(flavor = "multi_thread")]
async fn an_adapter_output_without_a_readable_header_is_refused_not_retried() {
    // A root like the repository's, with one more declarative adapter.
    let scratch = tempfile::tempdir().expect("tmp");
    let r = scratch.path().join("root");
    std::fs::create_dir_all(r.join("adapters")).expect("mkdir");
    for dir in ["schemas", "routing", "config", "tests"] {
        std::os::unix::fs::symlink(root().join(dir), r.join(dir)).expect("symlink");
    }
    for entry in std::fs::read_dir(root().join("adapters")).expect("adapters") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name");
        std::fs::copy(&path, r.join("adapters").join(name)).expect("copy");
    }
    std::fs::write(
        r.join("adapters/bare.xsl"),
        r#"<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
              xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0">
             <xsl:param name="now"/><xsl:param name="id"/>
             <xsl:template match="/"><query:QueryResponse requestId="urn:uuid:{$id}"
               status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/></xsl:template>
           </xsl:stylesheet>"#,
    )
    .expect("write");
    std::fs::write(
        r.join("adapters/bare.toml"),
        "name = \"bare\"\nstylesheet = \"bare.xsl\"\nsource = { standard = \"XNachweis\", version = \"1.2.0\" }\ntarget = { standard = \"OOTS-EDM\", version = \"1.0.0\" }\n",
    )
    .expect("write");
    let mut o = DemoOptions::new(&r, scratch.path().join("work"));
    o.routing_append = vec![(
        "rules.toml".to_owned(),
        "\n[[rule]]\nname = \"bare\"\npriority = 300\nstandard = \"XNachweis\"\n\
         message_type = \"DE.EvidenceRequest.0101\"\nreader = \"fa:2613\"\nrecipient = \"reader\"\nadapters = [\"bare\"]\n"
            .to_owned(),
    )];
    let d = demo::setup(o).await.expect("setup");
    let (id, request) = d.fee_office().expect("fee").request().expect("request");
    let r = reject(process(&d, &request, None));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Adapter, "output-without-header"),
        "{r:?}"
    );
    // (without the EDM's SpecificationIdentifier slot it is no evidence
    // exchange message, so it carries no header at all)
    assert!(r.detail.contains("none in {urn:oasis"), "{}", r.detail);
    assert_eq!(r.message_id.as_deref(), Some(id.as_str()));
    let (queue, answer, _) = r.answer.expect("an answer for the fee office");
    assert_eq!(queue, d.inbox(FEE_OFFICE).expect("inbox"));
    assert!(
        String::from_utf8_lossy(&answer).contains("<gw:grund>output-without-header</gw:grund>")
    );
}

/// Messages built to make the XML parsers slow are refused before any
/// parser does that work, each with a dead letter naming why: too many
/// declarations on the root (the header pass), too many attributes on an
/// element of the body or too many namespaces in scope (the full parse).
#[tokio::test(flavor = "multi_thread")]
async fn parser_bombs_are_refused_before_the_parsers_work() {
    let (d, _w) = demo_with(true).await;
    let text = std::fs::read_to_string(root().join(demo::REQUEST)).expect("sample");
    let root_tag = "<xn-de:DE.EvidenceRequest.0101";
    let many = |what: &str, n: usize| -> String {
        (0..n).map(|k| format!(" {what}{k}='u:{k}'")).collect()
    };
    let nested: String = (0..3)
        .map(|l| format!("<x{l}{}>", many(&format!("xmlns:p{l}_"), 90)))
        .collect();
    let cases = [
        (
            text.replacen(root_tag, &format!("{root_tag}{}", many("xmlns:p", 300)), 1),
            Stage::Header,
            "too-many-attributes",
        ),
        (
            text.replacen(
                "<xn-bk:GivenName",
                &format!("<xn-bk:GivenName{}", many("a", 300)),
                1,
            ),
            Stage::Schema,
            "too-many-attributes",
        ),
        (
            text.replacen(
                "<xn-de:IssuedToken>",
                &format!("{nested}<p0_0:a/></x2></x1></x0><xn-de:IssuedToken>"),
                1,
            ),
            Stage::Schema,
            "too-many-namespaces",
        ),
    ];
    for (bomb, stage, kind) in cases {
        assert_ne!(bomb, text);
        let r = reject(process(&d, bomb.as_bytes(), None));
        assert_eq!((r.stage, r.kind.as_str()), (stage, kind), "{r:?}");
    }
}

/// XÖV: a message whose root carries `test` must not be processed as
/// productive work. The fee office's test request reaches the tax office
/// as a test request (the XEStB root carries the same `test` text, and the
/// AMQP header `x-xoev-test` says so); a productive one carries neither.
#[tokio::test(flavor = "multi_thread")]
async fn a_test_request_is_forwarded_as_a_test_message_and_a_productive_one_is_not() {
    let root_of = |payload: &[u8]| {
        let text = String::from_utf8_lossy(payload).into_owned();
        let body = &text[text.find("?>").map_or(0, |i| i + 2)..];
        body[..body.find('>').expect("root")].to_owned()
    };
    let request = std::fs::read_to_string(root().join(demo::REQUEST)).expect("request");
    assert!(
        request.contains(" test=\"true\""),
        "the demo's request is a test message"
    );
    let (d, _w) = demo_with(true).await;
    let marked = request.replacen(" test=\"true\"", " test=\"Probebetrieb Kassel\"", 1);
    let f = forward(process(
        &d,
        &sign_as(&d, FEE_OFFICE, marked.as_bytes()),
        None,
    ));
    assert!(
        root_of(&f.payload).contains(" test=\"Probebetrieb Kassel\""),
        "{}",
        root_of(&f.payload)
    );
    assert_amqp_headers(&f, &[(xoev_transport::header::TEST, "Probebetrieb Kassel")]);

    let (d, _w) = demo_with(true).await;
    let productive = request.replacen(" test=\"true\"", "", 1);
    let f = forward(process(
        &d,
        &sign_as(&d, FEE_OFFICE, productive.as_bytes()),
        None,
    ));
    assert!(
        !root_of(&f.payload).contains("test="),
        "{}",
        root_of(&f.payload)
    );
    assert!(
        f.headers
            .iter()
            .all(|(k, _)| *k != xoev_transport::header::TEST),
        "{:?}",
        f.headers
    );
}

/// The body's EvidenceRequester is carried on (into the EU request, the
/// answer): where the directory knows it, it must be the authority that
/// signed — Darmstadt's fee office asking in the name of Kassel's is
/// refused (it was forwarded, the EU request naming Kassel).
#[tokio::test(flavor = "multi_thread")]
async fn a_request_naming_another_authority_as_its_requester_is_refused() {
    let (d, _w) = demo_with(true).await;
    let text = std::fs::read_to_string(
        root().join("tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-darmstadt.xml"),
    )
    .expect("sample");
    let darmstadt = "ags:06411000";
    let own = reject_or_forward(process(&d, &sign_as(&d, darmstadt, text.as_bytes()), None));
    assert_ne!(own.as_deref(), Some("requester-mismatch"));
    let posing = text.replace(">06411000-KITA-01<", ">06611000-KITA-01<");
    assert_ne!(posing, text);
    let r = reject(process(
        &d,
        &sign_as(&d, darmstadt, posing.as_bytes()),
        None,
    ));
    assert_eq!(
        (r.stage, r.kind.as_str()),
        (Stage::Access, "requester-mismatch")
    );
    assert!(
        r.detail
            .contains("0204:06611000-KITA-01 is ags:06611000, but ags:06411000 signed it"),
        "{}",
        r.detail
    );
}

/// The rejection kind, or `None` for a forward.
fn reject_or_forward(d: Decision) -> Option<String> {
    match d {
        Decision::Reject(r) => Some(r.kind),
        _ => None,
    }
}

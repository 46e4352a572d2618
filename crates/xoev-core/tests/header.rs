//! Header parsing on the real samples in tests/samples/ and on broken input.

use xoev_core::{HeaderForm, Limits, Message, MessageErrorKind};

fn sample(rel: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/samples/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse(bytes: &[u8]) -> Message {
    match Message::parse(bytes.to_vec(), &Limits::default()) {
        Ok(m) => m,
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn parse_err(bytes: &[u8]) -> xoev_core::MessageError {
    match Message::parse(bytes.to_vec(), &Limits::default()) {
        Ok(m) => panic!("expected an error, got {m:?}"),
        Err(e) => e,
    }
}

#[test]
fn xnachweis_qualified_nachrichtenkopf() {
    let m = parse(&sample(
        "xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml",
    ));
    assert_eq!(m.root.local_name, "DE.EvidenceRequest.0101");
    assert_eq!(
        m.root.namespace.as_deref(),
        Some("urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots")
    );
    assert_eq!(m.standard.as_deref(), Some("XNachweis"));
    assert_eq!(m.version.as_deref(), Some("1.2.0"));
    assert_eq!(m.product.as_deref(), Some("Gateway-Test"));
    assert_eq!(m.producer.as_deref(), Some("Example"));
    assert_eq!(m.test.as_deref(), Some("true"));
    assert!(m.is_test());
    let h = m.header.as_ref().expect("header");
    assert_eq!(h.form, HeaderForm::Nachrichtenkopf);
    assert_eq!(
        h.message_id.as_str(),
        "3f1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1a02"
    );
    assert_eq!(h.message_type.code, "DE.EvidenceRequest.0101");
    assert_eq!(h.message_type.list_version.as_deref(), Some("1.2.0"));
    assert_eq!(h.created, "2025-03-01T10:15:00+01:00");
    let author = h.author.as_ref().expect("author");
    assert_eq!(author.id, "ags:09162000");
    assert_eq!(author.directory.as_deref(), Some("DVDV"));
    assert!(author.name.as_deref().unwrap_or("").contains("Kita"));
    assert_eq!(h.reader.as_ref().expect("reader").id, "fa:9198");
}

#[test]
fn xwasser_unqualified_g2g() {
    let m = parse(&sample("xwasser/quality_report_minimal.xml"));
    let h = m.header.as_ref().expect("header");
    assert_eq!(h.form, HeaderForm::G2g);
    assert_eq!(
        h.message_id.as_str(),
        "693c64d6-456f-4d14-abe7-fe9681c74aae"
    );
    assert_eq!(h.message_type.code, "2010");
    assert_eq!(
        h.message_type.list_uri.as_deref(),
        Some("urn:xoev-de:xwasser:codeliste:nachrichtentyp")
    );
    assert_eq!(h.created, "2024-05-28T09:00:00");
    // an empty <code></code> is no directory
    assert_eq!(h.reader.as_ref().expect("reader").directory, None);
    assert_eq!(h.reader.as_ref().expect("reader").id, "psw:11113110");
    assert_eq!(h.author.as_ref().expect("author").id, "psw:01003110");
    // the root attribute is unescaped once: the sample really says "H &amp;amp; D"
    assert_eq!(m.producer.as_deref(), Some("H &amp;amp; D GmbH"));
}

#[test]
fn xbeteiligung_qualified_g2g_ignores_contact_kennung() {
    let m = parse(&sample("xbeteiligung/example402FromCockpit.xml"));
    let h = m.header.as_ref().expect("header");
    assert_eq!(h.form, HeaderForm::G2g);
    // DiPlan Cockpit's 0402 carries the header of a 0401: the root decides
    assert_eq!(h.message_type.code, "0402");
    assert_eq!(h.message_type.name, None);
    let stated = h
        .type_in_header
        .as_ref()
        .expect("the header's type is kept");
    assert_eq!(stated.code, "0401");
    assert_eq!(
        stated.name.as_deref(),
        Some("planung2Beteiligung.BeteiligungNeu.0401")
    );
    let reader = h.reader.as_ref().expect("reader");
    // `bn-kom:erreichbarkeit/bn-kom:kennung` is a phone number, not the id
    assert_eq!(reader.id, "xyz:0002");
    assert_eq!(reader.name.as_deref(), Some("behoerde2"));
    assert_eq!(m.version.as_deref(), Some("1.2"));
}

#[test]
fn xdomea_kopf() {
    let m = parse(&sample(
        "xdomea/pattern-3.0.0_xx_Aussonderung.Aussonderung.0503.xml",
    ));
    let h = m.header.as_ref().expect("header");
    assert_eq!(h.form, HeaderForm::XdomeaKopf);
    assert_eq!(
        h.message_id.as_str(),
        "242f44e8-bebf-4503-a086-db252c6a4277:0503:EmpBehoerdenkennungPraefixCode:LATh"
    );
    assert_eq!(
        h.process_id.as_ref().map(|p| p.as_str()),
        Some("242f44e8-bebf-4503-a086-db252c6a4277")
    );
    assert_eq!(h.message_type.code, "0503");
    let author = h.author.as_ref().expect("author");
    assert_eq!(author.id, "LATh");
    assert_eq!(
        author.prefix.as_deref(),
        Some("AbsBehoerdenkennungPraefixCode")
    );
    assert_eq!(author.key(), "AbsBehoerdenkennungPraefixCode:LATh");
}

/// xdomea 2.4: the `Kopf` with `Behoerdenkennung/Kennung` + `Praefix`, and
/// no `standard` or `version` on the root (the catalogue supplies them).
#[test]
fn xdomea_2_4_kopf() {
    let m = parse(&sample(
        "xdomea/synthetic-2.4.0_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml",
    ));
    assert_eq!((m.standard.as_deref(), m.version.as_deref()), (None, None));
    let h = m.header.as_ref().expect("header");
    assert_eq!(h.form, HeaderForm::XdomeaKopf);
    assert_eq!(h.message_type.code, "0504");
    let author = h.author.as_ref().expect("author");
    assert_eq!(
        (author.id.as_str(), author.prefix.as_deref()),
        ("06411000", Some("archiv"))
    );
    assert_eq!(author.key(), "archiv:06411000");
    assert_eq!(author.name.as_deref(), Some("Stadtarchiv Darmstadt"));
    assert_eq!(h.reader.as_ref().expect("reader").key(), "ags:06411000");
}

/// xdomea 4 moved to the XÖV `nachrichtenkopf`, with its authorities as
/// `Behoerdenkennung/verzeichnisdienst` + `kennung` and the institution's
/// name under `NameInstitution`.
#[test]
fn xdomea_4_nachrichtenkopf() {
    let m = parse(&sample(
        "xdomea/synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml",
    ));
    assert_eq!(m.version.as_deref(), Some("4.0.0"));
    let h = m.header.as_ref().expect("header");
    assert_eq!(h.form, HeaderForm::Nachrichtenkopf);
    assert_eq!(
        h.message_id.as_str(),
        "0c9e7d42-5b1a-4f68-8e3d-2a7b9c1f4e60"
    );
    assert_eq!(h.message_type.code, "0501");
    assert_eq!(h.created, "2026-11-18T14:02:31");
    let author = h.author.as_ref().expect("author");
    assert_eq!(author.id, "ags:06411000");
    assert_eq!(author.directory.as_deref(), Some("DVDV"));
    assert_eq!(author.name.as_deref(), Some("Wissenschaftsstadt Darmstadt"));
    assert_eq!(author.key(), "ags:06411000");
    let reader = h.reader.as_ref().expect("reader");
    assert_eq!(reader.id, "archiv:06411000");
    assert_eq!(reader.name.as_deref(), Some("Stadtarchiv Darmstadt"));
}

/// `text` without every `<open…` … `close` span.
fn without_all(text: &str, open: &str, close: &str) -> String {
    let mut out = text.to_owned();
    while let Some(start) = out.find(open) {
        let end = start + out[start..].find(close).expect("close tag") + close.len();
        out.replace_range(start..end, "");
    }
    out
}

/// Archives' xdomea messages often name the authorities only by their
/// institution's name, without a `Behoerdenkennung`: no routable author or
/// reader, but the names are kept for the rejection and `inspect`.
#[test]
fn xdomea_authorities_named_without_an_identifier() {
    // xdomea 3: `Absender`/`Empfaenger` with `Institution/Name` only.
    let text = String::from_utf8(sample(
        "xdomea/pattern-3.0.0_xx_Aussonderung.Aussonderung.0503.xml",
    ))
    .expect("utf-8");
    let text = without_all(
        &text,
        "<xdomea:Behoerdenkennung>",
        "</xdomea:Behoerdenkennung>",
    );
    let m = parse(text.as_bytes());
    let h = m.header.as_ref().expect("header");
    assert_eq!((h.author.as_ref(), h.reader.as_ref()), (None, None));
    assert_eq!(
        h.author_name_only.as_deref(),
        Some("AbsXdomeaInstitutionName")
    );
    assert!(h.reader_name_only.is_some(), "{h:?}");
    assert_eq!(
        h.no_author(),
        "the header names its author only by name (\"AbsXdomeaInstitutionName\"), \
         without an identifier: routing needs Absender with a Behoerdenkennung"
    );

    // xdomea 4: `autor`/`leser` with `NameInstitution/Name` only.
    let text = String::from_utf8(sample(
        "xdomea/synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml",
    ))
    .expect("utf-8");
    let text = without_all(
        &text,
        "<xdomea:Behoerdenkennung>",
        "</xdomea:Behoerdenkennung>",
    );
    let h = parse(text.as_bytes()).header.expect("header");
    assert_eq!((h.author.as_ref(), h.reader.as_ref()), (None, None));
    assert_eq!(
        h.author_name_only.as_deref(),
        Some("Wissenschaftsstadt Darmstadt")
    );
    assert_eq!(h.reader_name_only.as_deref(), Some("Stadtarchiv Darmstadt"));

    // Identified authorities are not repeated as names only; a header
    // without an author says so.
    let m = parse(&sample(
        "xdomea/synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml",
    ));
    let h = m.header.as_ref().expect("header");
    assert_eq!((&h.author_name_only, &h.reader_name_only), (&None, &None));
    let text = String::from_utf8(sample(
        "xdomea/synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml",
    ))
    .expect("utf-8");
    let h = parse(without_all(&text, "<xdomea:autor>", "</xdomea:autor>").as_bytes())
        .header
        .expect("header");
    assert_eq!((&h.author, &h.author_name_only), (&None, &None));
    assert_eq!(
        h.no_author(),
        "the header names no author (autor with a kennung)"
    );
}

#[test]
fn oots_evidence_request_slots_are_its_header() {
    let m = parse(&sample(
        "oots-edm/2.1_Step_1_Evidence_Request_-_Birth_-_full_example.xml",
    ));
    assert_eq!(m.root.local_name, "QueryRequest");
    let h = m.require_header().expect("header");
    assert_eq!(h.form, HeaderForm::OotsEdm);
    assert_eq!(
        h.message_id.as_str(),
        "urn:uuid:4ffb5281-179d-4578-adf2-39fd13ccc797"
    );
    assert_eq!(h.message_type.code, "EvidenceRequest");
    assert_eq!(h.message_type.list_uri.as_deref(), Some("oots-edm:v1.0"));
    assert_eq!(h.created, "2022-05-19T17:08:10.872Z");
    assert_eq!(h.in_reply_to, None);
    let author = h.author.as_ref().expect("requester");
    assert_eq!(author.directory.as_deref(), Some("EAS"));
    assert_eq!(author.prefix.as_deref(), Some("0096"));
    assert_eq!(author.key(), "0096:DK22233223");
    assert_eq!(author.name.as_deref(), Some("Denmark University Portal"));
    let reader = h.reader.as_ref().expect("provider");
    assert_eq!(reader.key(), "9930:DE73524311");
    assert_eq!(
        reader.name.as_deref(),
        Some("Civil Registration Office Berlin I")
    );
}

#[test]
fn oots_evidence_response_answers_its_request() {
    let m = parse(&sample(
        "oots-edm/2.2_Step_2_Evidence_Response_-_Birth_-_full_example.xml",
    ));
    let h = m.require_header().expect("header");
    assert_eq!(h.form, HeaderForm::OotsEdm);
    assert_eq!(h.message_type.code, "EvidenceResponse");
    assert_eq!(
        h.message_id.as_str(),
        "166155eb-d7a7-4cac-9086-8a85f0116462"
    );
    assert_eq!(
        h.in_reply_to.as_ref().map(|i| i.as_str()),
        Some("urn:uuid:4ffb5281-179d-4578-adf2-39fd13ccc797")
    );
    assert_eq!(h.created, "2022-05-19T17:10:10.872Z");
    // the provider answers the requester: the roles of the request swapped
    assert_eq!(
        h.author.as_ref().expect("provider").key(),
        "9930:DE73524311"
    );
    assert_eq!(
        h.reader.as_ref().expect("requester").key(),
        "0096:DK22233223"
    );
}

/// EDM's deferred response (status `Unavailable`: the evidence comes at
/// `ResponseAvailableDateTime`) carries no `rs:Exception`; its header is
/// read as an evidence response's, under its own type.
#[test]
fn oots_deferred_response_is_its_own_type() {
    let m = parse(&sample("oots-edm/synthetic-deferred-response-birth.xml"));
    let h = m.require_header().expect("header");
    assert_eq!(h.message_type.code, "DeferredResponse");
    assert_eq!(
        h.message_id.as_str(),
        "5b0e7c1a-3d2f-4e8b-9a61-0c4d2e7f9b13"
    );
    assert_eq!(h.created, "2022-05-19T17:08:41.020Z");
    assert_eq!(
        h.in_reply_to.as_ref().map(|i| i.as_str()),
        Some("urn:uuid:4ffb5281-179d-4578-adf2-39fd13ccc797")
    );
    assert_eq!(
        h.author.as_ref().expect("provider").key(),
        "9930:DE73524311"
    );
    assert_eq!(
        h.reader.as_ref().expect("requester").key(),
        "0096:DK22233223"
    );
}

#[test]
fn oots_error_responses_are_dated_by_their_exception() {
    for (file, id) in [
        (
            "reference_messages_erreur.xml",
            "1a2b3c4d-0000-4000-8000-000000000007",
        ),
        ("reference_messages_erreurCapaciteNonSupportee.xml", ""),
        ("reference_messages_erreurExpiration.xml", ""),
        ("reference_messages_erreurRequeteInvalide.xml", ""),
    ] {
        let m = parse(&sample(&format!("oots-edm/{file}")));
        let h = m.require_header().unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(h.message_type.code, "ErrorResponse", "{file}");
        if !id.is_empty() {
            assert_eq!(h.message_id.as_str(), id);
            assert_eq!(h.created, "2026-08-06T10:00:00.000Z");
        }
        assert_eq!(
            h.message_type.list_uri.as_deref(),
            Some("oots-edm:v2.0"),
            "{file}"
        );
        assert!(h.created.starts_with("20"), "{file}: {}", h.created);
        assert!(h.in_reply_to.is_some(), "{file}");
        let author = h.author.as_ref().expect("error provider");
        assert_eq!(author.key(), "0009:00000000000001", "{file}");
        assert_eq!(author.directory.as_deref(), Some("EAS"));
        assert_eq!(
            h.reader.as_ref().expect("requester").key(),
            "0009:00000000000002"
        );
    }
    let m = parse(&sample("oots-edm/reference_messages_reponse.xml"));
    let h = m.require_header().expect("header");
    assert_eq!(h.message_type.code, "EvidenceResponse");
    assert_eq!(
        h.author.as_ref().expect("provider").key(),
        "0009:00000000000001"
    );
}

/// A minimal OOTS request: `slots` are put before the query, after the
/// `SpecificationIdentifier` that makes it an evidence exchange message.
fn oots_request(id_attr: &str, slots: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<query:QueryRequest xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0"
  xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:4.0" xmlns:sdg="http://data.europa.eu/p4s" {id_attr}>
{SPECIFICATION}{slots}
<query:ResponseOption returnType="LeafClassWithRepositoryItem"/>
<query:Query queryDefinition="DocumentQuery"><rim:Slot name="EvidenceRequester"><rim:SlotValue><sdg:Agent><sdg:Identifier schemeID="x">not-this-one</sdg:Identifier></sdg:Agent></rim:SlotValue></rim:Slot></query:Query>
</query:QueryRequest>"#
    )
    .into_bytes()
}

const SPECIFICATION: &str = r#"<rim:Slot name="SpecificationIdentifier"><rim:SlotValue><rim:Value>oots-edm:v1.0</rim:Value></rim:SlotValue></rim:Slot>"#;

const ISSUED: &str = r#"<rim:Slot name="IssueDateTime"><rim:SlotValue><rim:Value>2026-11-27T08:00:00Z</rim:Value></rim:SlotValue></rim:Slot>"#;

#[test]
fn oots_request_without_id_or_date_is_a_header_error() {
    let e = parse_err(&oots_request("", ISSUED));
    assert_eq!(e.kind, MessageErrorKind::Header);
    assert!(
        e.to_string()
            .contains("EvidenceRequest has no id attribute"),
        "{e}"
    );
    let e = parse_err(&oots_request(r#"id="urn:uuid:1""#, ""));
    assert_eq!(e.kind, MessageErrorKind::Header);
    assert!(e.to_string().contains("IssueDateTime"), "{e}");
    let e = parse_err(&oots_request(r#"id="urn:uuid:1 2""#, ISSUED));
    assert_eq!(e.kind, MessageErrorKind::Header);
}

#[test]
fn oots_agents_come_from_the_leading_slots_only() {
    // A requester only inside the query is not the message's author; a
    // scheme other than EAS is kept whole as the prefix.
    let m = parse(&oots_request(r#"id="urn:uuid:1""#, ISSUED));
    let h = m.require_header().expect("header");
    assert_eq!(h.author, None);
    let provider = r#"<rim:Slot name="EvidenceProvider"><rim:SlotValue><rim:Element><sdg:Agent>
        <sdg:Identifier schemeID="urn:example:scheme">p-1</sdg:Identifier></sdg:Agent></rim:Element>
        <rim:Element><sdg:Agent><sdg:Identifier schemeID="urn:example:scheme">p-2</sdg:Identifier></sdg:Agent></rim:Element></rim:SlotValue></rim:Slot>"#;
    let m = parse(&oots_request(
        r#"id="urn:uuid:1""#,
        &format!("{ISSUED}{provider}"),
    ));
    let reader = m
        .header
        .as_ref()
        .and_then(|h| h.reader.clone())
        .expect("reader");
    assert_eq!(reader.key(), "urn:example:scheme:p-1");
    assert_eq!(reader.directory, None);
}

#[test]
fn a_regrep_message_of_another_profile_than_oots_edm_has_no_header() {
    // TOOP (DE4A) shares the RegRep roots and slot names, but its
    // SpecificationIdentifier is `toop-edm:v2.0`: no EU OOTS message.
    let oots =
        String::from_utf8(sample("oots-edm/synthetic-error-to-kita-kassel.xml")).expect("utf-8");
    assert!(
        parse(oots.as_bytes()).header.is_some(),
        "the EDM original has one"
    );
    let toop = oots.replacen("oots-edm:v2.0", "toop-edm:v2.0", 1);
    assert_ne!(toop, oots);
    let m = parse(toop.as_bytes());
    assert!(m.header.is_none());
    let why = m.require_header().expect_err("not routed").to_string();
    assert!(
        why.contains("no EU OOTS evidence exchange message")
            && why.contains("oots-edm:")
            && why.contains("other RegRep profiles"),
        "{why}"
    );
    // ... naming what it names
    assert_eq!(m.specification.as_deref(), Some("toop-edm:v2.0"));
    assert!(why.contains("(it names toop-edm:v2.0)"), "{why}");
    assert_eq!(
        parse(oots.as_bytes()).specification.as_deref(),
        Some("oots-edm:v2.0")
    );
    // Whitespace around the identifier is no other profile.
    let spaced = oots.replacen("oots-edm:v2.0", "\n  oots-edm:v2.0\n", 1);
    assert!(parse(spaced.as_bytes()).header.is_some());
}

#[test]
fn other_regrep_roots_have_no_header() {
    // Only the query protocol's request and response are OOTS messages.
    let doc = br#"<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:4.0" id="x"/>"#;
    assert!(parse(doc).header.is_none());
    let doc = br#"<QueryRequest id="urn:uuid:1"><Slot name="IssueDateTime"/></QueryRequest>"#;
    assert!(parse(doc).header.is_none(), "no namespace, no OOTS");
}

#[test]
fn raw_bytes_are_kept_exactly() {
    let bytes = sample("xwasser/quality_report_minimal.xml");
    let m = parse(&bytes);
    assert_eq!(m.raw().as_ref(), bytes.as_slice());
}

#[test]
fn every_sample_with_a_header_parses() {
    let dir = format!("{}/../../tests/samples", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for std_dir in std::fs::read_dir(&dir).expect("samples") {
        let std_dir = std_dir.expect("entry").path();
        let name = std_dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if matches!(name, "unsupported" | "invalid" | "oots-edm") || !std_dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&std_dir).expect("dir") {
            let f = f.expect("entry").path();
            if f.extension().is_none_or(|e| e != "xml") {
                continue; // a README
            }
            let m = Message::parse(std::fs::read(&f).expect("read"), &Limits::default())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert!(m.header.is_some(), "{}: no header", f.display());
            seen += 1;
        }
    }
    assert!(seen >= 20, "only {seen} samples found");
}

const MINIMAL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<m:msg xmlns:m="urn:test" standard="T" version="1">
  <nachrichtenkopf.g2g>
    <identifikation.nachricht>
      <nachrichtenUUID>MSGID</nachrichtenUUID>
      <nachrichtentyp><code>0001</code></nachrichtentyp>
      <erstellungszeitpunkt>2025-01-01T00:00:00Z</erstellungszeitpunkt>
    </identifikation.nachricht>
  </nachrichtenkopf.g2g>
</m:msg>"#;

#[test]
fn minimal_header_without_authorities() {
    let m = parse(MINIMAL.replace("MSGID", "abc-1").as_bytes());
    let h = m.header.expect("header");
    assert_eq!(h.message_id.as_str(), "abc-1");
    assert!(h.author.is_none() && h.reader.is_none());
}

#[test]
fn entities_in_header_text_are_resolved() {
    let m = parse(MINIMAL.replace("MSGID", "a&amp;b&#x41;").as_bytes());
    assert_eq!(m.header.expect("header").message_id.as_str(), "a&bA");
}

#[test]
fn undefined_entity_is_malformed() {
    let e = parse_err(MINIMAL.replace("MSGID", "&xxe;").as_bytes());
    assert_eq!(e.kind, MessageErrorKind::Malformed);
    assert!(e.detail.contains("xxe"), "{e}");
}

#[test]
fn missing_message_id_is_a_header_error() {
    let bad = MINIMAL.replace("<nachrichtenUUID>MSGID</nachrichtenUUID>", "");
    let e = parse_err(bad.as_bytes());
    assert_eq!(e.kind, MessageErrorKind::Header);
    assert!(e.detail.contains("nachrichtenUUID"), "{e}");
}

#[test]
fn message_id_with_spaces_is_refused() {
    let e = parse_err(MINIMAL.replace("MSGID", "a b").as_bytes());
    assert_eq!(e.kind, MessageErrorKind::Header);
}

#[test]
fn missing_type_code_is_a_header_error() {
    let e = parse_err(MINIMAL.replace("<code>0001</code>", "").as_bytes());
    assert_eq!(e.kind, MessageErrorKind::Header);
    assert!(e.detail.contains("nachrichtentyp/code"), "{e}");
}

#[test]
fn doctype_is_refused_with_position() {
    let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<m>&x;</m>"#;
    let e = parse_err(xxe.as_bytes());
    assert_eq!(e.kind, MessageErrorKind::Doctype);
    assert_eq!(e.line, Some(2));
    assert!(
        !e.to_string().contains("root:"),
        "no file content in errors"
    );
}

#[test]
fn other_encodings_are_refused() {
    let e = parse_err(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><m/>");
    assert_eq!(e.kind, MessageErrorKind::Encoding);
    let e = parse_err(b"<?xml version=\"1.0\"?><m>\xe4</m>");
    assert_eq!(e.kind, MessageErrorKind::Encoding);
    assert_eq!(e.column, Some(25));
}

#[test]
fn oversize_is_refused_before_parsing() {
    let limits = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    let e = Message::parse(MINIMAL.as_bytes().to_vec(), &limits).expect_err("oversize");
    assert_eq!(e.kind, MessageErrorKind::Oversize);
}

#[test]
fn malformed_and_empty_inputs() {
    assert_eq!(parse_err(b"").kind, MessageErrorKind::Empty);
    assert_eq!(
        parse_err(b"<!-- only a comment -->").kind,
        MessageErrorKind::Empty
    );
    assert_eq!(parse_err(b"text<m/>").kind, MessageErrorKind::Malformed);
    let e = parse_err(MINIMAL.replace("</nachrichtentyp>", "</typ>").as_bytes());
    assert_eq!(e.kind, MessageErrorKind::Malformed);
    assert!(e.line.is_some());
    let truncated = &MINIMAL[..MINIMAL.find("<erstellungszeitpunkt>").expect("tag")];
    assert_eq!(
        parse_err(truncated.as_bytes()).kind,
        MessageErrorKind::Malformed
    );
}

#[test]
fn deep_header_is_refused() {
    let deep = format!(
        "<m><nachrichtenkopf>{}{}</nachrichtenkopf></m>",
        "<a>".repeat(100),
        "</a>".repeat(100)
    );
    assert_eq!(parse_err(deep.as_bytes()).kind, MessageErrorKind::TooDeep);
}

/// The root's namespace as quick-xml's namespace resolver gives it.
fn resolved_root_namespace(bytes: &[u8]) -> Option<String> {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let mut r = quick_xml::NsReader::from_reader(bytes);
    loop {
        match r.read_resolved_event() {
            Ok((ns, Event::Start(_) | Event::Empty(_))) => {
                return match ns {
                    ResolveResult::Bound(n) => {
                        Some(String::from_utf8_lossy(n.as_ref()).into_owned())
                    }
                    _ => None,
                };
            }
            Ok((_, Event::Eof)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

#[test]
fn root_namespace_is_what_a_namespace_resolver_gives_on_every_sample() {
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(format!(
        "{}/../../tests/samples",
        env!("CARGO_MANIFEST_DIR")
    ))];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "xml") {
                files.push(p);
            }
        }
    }
    let mut compared = 0;
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        if let Ok(m) = Message::parse(bytes.clone(), &Limits::default()) {
            assert_eq!(
                m.root.namespace,
                resolved_root_namespace(&bytes),
                "{}",
                f.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 30, "only {compared} samples compared");
}

#[test]
fn root_namespace_comes_from_the_roots_own_declarations() {
    let cases: &[(&str, Option<&str>)] = &[
        (r#"<p:a xmlns:p="urn:p"/>"#, Some("urn:p")),
        (r#"<a xmlns="urn:d" xmlns:p="urn:p"/>"#, Some("urn:d")),
        (
            r#"<p:a xmlns="urn:d" xmlns:p="urn:p"><b/></p:a>"#,
            Some("urn:p"),
        ),
        (r#"<a xmlns:p="urn:p"/>"#, None),
        (r#"<a xmlns=""/>"#, None),
        (r#"<q:a xmlns:p="urn:p"/>"#, None),
        (r#"<a/>"#, None),
    ];
    for (xml, want) in cases {
        let m = parse(xml.as_bytes());
        assert_eq!(m.root.namespace.as_deref(), *want, "{xml}");
        assert_eq!(m.root.local_name, "a", "{xml}");
        assert_eq!(
            resolved_root_namespace(xml.as_bytes()).as_deref(),
            *want,
            "{xml}"
        );
    }
}

/// Every prefix of the OOTS samples (cut anywhere in the slots, the
/// query or the evidence) gives an envelope or an error, never a panic;
/// a prefix that ends before the slots are read completely is an error.
#[test]
fn every_prefix_of_an_oots_message_is_read_or_refused() {
    for file in [
        "oots-edm/2.1_Step_1_Evidence_Request_-_Birth_-_full_example.xml",
        "oots-edm/reference_messages_erreur.xml",
    ] {
        let text = String::from_utf8(sample(file)).expect("utf-8");
        let full = parse(text.as_bytes());
        let header = full.header.expect("header");
        let mut read = 0;
        for end in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
            if let Ok(m) = Message::parse(text.as_bytes()[..end].to_vec(), &Limits::default()) {
                // Only once everything the header is made of has been seen.
                assert_eq!(m.header.as_ref(), Some(&header), "{file} cut at {end}");
                read += 1;
            }
        }
        assert!(read > 0, "{file}: some prefix with the whole header reads");
    }
}

/// A header of very many elements is refused before it is collected (each
/// element is kept with its path): in an XÖV header and in OOTS slots.
#[test]
fn a_header_of_too_many_elements_is_refused() {
    let xoev = format!(
        "<m><nachrichtenkopf.g2g>{}{}{}</nachrichtenkopf.g2g></m>",
        "<a>".repeat(60),
        "<b/>".repeat(3000),
        "</a>".repeat(60)
    );
    let oots = format!(
        r#"<q:QueryRequest xmlns:q="urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0" id="urn:uuid:1">{}</q:QueryRequest>"#,
        r#"<Slot name="x"></Slot>"#.repeat(3000)
    );
    for doc in [xoev, oots] {
        let e = parse_err(doc.as_bytes());
        assert_eq!(e.kind, MessageErrorKind::Header);
        assert!(e.to_string().contains("more than 2048 elements"), "{e}");
    }
    // a thousand are still read
    let fine = format!(
        r#"<q:QueryRequest xmlns:q="urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0" id="urn:uuid:1">{SPECIFICATION}{}{ISSUED}</q:QueryRequest>"#,
        r#"<Slot name="x"></Slot>"#.repeat(1000)
    );
    assert_eq!(
        parse(fine.as_bytes()).header.expect("header").created,
        "2026-11-27T08:00:00Z"
    );
}

/// More than `MAX_ATTRIBUTES` on the root or on a header element is refused
/// before the parser compares them all with each other; the limit itself is
/// read.
#[test]
fn an_element_with_too_many_attributes_is_refused() {
    use xoev_core::MAX_ATTRIBUTES;
    let decls = |n: usize| -> String { (0..n).map(|k| format!(" xmlns:p{k}='urn:{k}'")).collect() };
    let root = |n: usize| format!("<m{}><nachrichtenkopf.g2g/></m>", decls(n));
    let e = parse_err(root(MAX_ATTRIBUTES + 1).as_bytes());
    assert_eq!(e.kind, MessageErrorKind::TooManyAttributes);
    assert_eq!(e.kind.as_str(), "too-many-attributes");
    assert_eq!((e.line, e.column), (Some(1), Some(1)));
    // at the limit, the root is read (and its empty header refused)
    assert_eq!(
        parse_err(root(MAX_ATTRIBUTES).as_bytes()).kind,
        MessageErrorKind::Header
    );

    let attrs: String = (0..=MAX_ATTRIBUTES).map(|k| format!(" a{k}='1'")).collect();
    let header = format!("<m><nachrichtenkopf.g2g><x{attrs}/></nachrichtenkopf.g2g></m>");
    let e = parse_err(header.as_bytes());
    assert_eq!(e.kind, MessageErrorKind::TooManyAttributes, "{e}");
    assert_eq!(e.column, Some(25));
}

/// The message type is the root element's where the header names another
/// one (real senders copy headers between message types: DiPlan Cockpit's
/// 0402 above, the Thuringian archive's 0502 and 0504 patterns): the root
/// is what the schema validated, so routing and access rules go by it.
/// The header's code is rewritten in the header's own form.
#[test]
fn the_root_element_decides_the_message_type_over_a_contradicting_header() {
    let m = parse(&sample(
        "xdomea/pattern-3.0.0_xx_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml",
    ));
    let h = m.header.as_ref().expect("header");
    assert_eq!(h.message_type.code, "0504");
    assert_eq!(h.type_in_header.as_ref().expect("stated").code, "0501");
    assert_eq!(
        h.type_mismatch().as_deref(),
        Some(
            "the header's Nachrichtentyp says 0501, the root element is message type 0504: the root element decides"
        )
    );

    // XNachweis writes the whole name as the code: it is replaced whole.
    let request = String::from_utf8(sample(
        "xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml",
    ))
    .expect("utf-8");
    let agreeing = parse(request.as_bytes());
    let h = agreeing.header.as_ref().expect("header");
    assert_eq!(h.message_type.code, "DE.EvidenceRequest.0101");
    assert_eq!(h.type_in_header, None);
    assert_eq!(h.type_mismatch(), None);
    let stated = "<code>DE.EvidenceRequest.0101</code>";
    assert!(request.contains(stated), "the sample names its type");
    let other = request.replace(stated, "<code>DE.EvidenceResponse.0102</code>");
    let m = parse(other.as_bytes());
    let h = m.header.as_ref().expect("header");
    assert_eq!(h.message_type.code, "DE.EvidenceRequest.0101");
    assert_eq!(
        h.type_in_header.as_ref().expect("stated").code,
        "DE.EvidenceResponse.0102"
    );

    // A code that is not a number is not compared: the header stands.
    let m = parse(request.replace(stated, "<code>Anfrage</code>").as_bytes());
    let h = m.header.as_ref().expect("header");
    assert_eq!(h.message_type.code, "Anfrage");
    assert_eq!(h.type_in_header, None);
}

/// The OOTS common services' RegRep queries (here the Data Service
/// Directory's answer) share the evidence exchange's root elements but not
/// its slots: no header is read from them (it was misread as an evidence
/// response missing its identifier), and requiring one says what they are.
#[test]
fn an_oots_directory_query_response_is_no_evidence_exchange() {
    let m = parse(&sample(
        "oots-edm/4.3_Query_Response_of_the_DSD_-_Birth_Certificate_Simple_Flow.xml",
    ));
    assert_eq!(m.root.local_name, "QueryResponse");
    assert!(m.header.is_none(), "{:?}", m.header);
    let e = m.require_header().expect_err("no header");
    assert_eq!(e.kind.as_str(), "invalid-header");
    assert!(
        e.detail.contains("no EU OOTS evidence exchange message")
            && e.detail.contains("SpecificationIdentifier"),
        "{e}"
    );
    // An evidence response keeps its header.
    let m = parse(&sample(
        "oots-edm/2.2_Step_2_Evidence_Response_-_Birth_-_full_example.xml",
    ));
    assert!(m.require_header().is_ok());
    // Any other document without a header is told what a header is.
    let e = parse(b"<a xmlns='urn:x'><b/></a>")
        .require_header()
        .map(|_| ())
        .expect_err("no header");
    assert!(e.detail.contains("nachrichtenkopf"), "{e}");
}

/// An xdomea 4 `autor` given only as a contact person (as the Thuringian
/// archive's 4.0.0 patterns do) is no routable author, and the rejection
/// says so without repeating the person's name.
#[test]
fn an_xdomea_author_named_only_by_a_contact_person() {
    let text = String::from_utf8(sample(
        "xdomea/synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml",
    ))
    .expect("utf-8");
    let start = text.find("<xdomea:autor>").expect("autor");
    let end = text.find("</xdomea:autor>").expect("autor end");
    let contact = format!(
        "{}<xdomea:autor><xdomea:NameAnsprechpartner><xdomea:Familienname><xdomea:Name>Mustermann</xdomea:Name></xdomea:Familienname></xdomea:NameAnsprechpartner>{}",
        &text[..start],
        &text[end..]
    );
    let m = parse(contact.as_bytes());
    let h = m.header.as_ref().expect("header");
    assert_eq!(h.author, None);
    assert!(h.author_contact_only);
    assert_eq!(h.author_name_only, None);
    let why = h.no_author();
    assert!(why.contains("only by a contact person"), "{why}");
    assert!(!why.contains("Mustermann"), "{why}");
    assert!(!format!("{h:?}").contains("Mustermann"), "{h:?}");
    // the sample itself names an authority
    let h = parse(text.as_bytes()).header.expect("header");
    assert!(!h.author_contact_only);
    assert!(h.author.is_some());
}

#[test]
fn the_test_attribute_is_free_text_and_its_presence_marks_a_test_message() {
    // A real XMeld reference message (KoSIT test suite): `test` carries text.
    let m = parse(&sample(
        "unsupported/xmeld-FachspezifischBehoerdenauskunft005a-1332.xml",
    ));
    assert_eq!(m.test.as_deref(), Some("Referenznachricht für XMeld"));
    assert!(m.is_test());
    let h = m.header.as_ref().expect("the XÖV header reads");
    assert_eq!(h.message_type.code, "1332");
    // Without the attribute: productive; with a plain "no": productive too.
    let productive = sample("xbeteiligung/example402FromCockpit.xml");
    let m = parse(&productive);
    assert_eq!(m.test, None);
    assert!(!m.is_test());
    let text = String::from_utf8(productive).expect("utf-8");
    let root_end = text.find("standard=").expect("root attribute");
    for (value, is_test) in [("false", false), ("0", false), ("ja", true), ("", true)] {
        let marked = format!(
            "{}test=\"{value}\" {}",
            &text[..root_end],
            &text[root_end..]
        );
        let m = parse(marked.as_bytes());
        assert_eq!(m.is_test(), is_test, "test={value:?}");
    }
}

#[test]
fn an_xinneres_behoerde_names_its_authority_beside_the_identifier() {
    // The header shape of XPersonenstand and XMeld: `behoerdenkennung`
    // (praefix + kennung) and `behoerdenname` side by side.
    let doc = r#"<p:portal2StA.Geburt.081020 xmlns:p="http://xpsw.domap.de/xpsw2611" standard="XPersonenstand" version="26.11" test="test">
  <nachrichtenkopf>
    <identifikation.nachricht>
      <nachrichtenUUID>0f6b2c1e-8d3a-4b7e-9c5f-2a1d0e9b8c7a</nachrichtenUUID>
      <nachrichtentyp listURI="urn:xoev-de:xpersonenstand:codelist:nachrichtentyp" listVersionID="26.11"><code>081020</code><name>portal2StA.Geburt.081020</name></nachrichtentyp>
      <erstellungszeitpunkt>2024-11-01T10:00:00.000+01:00</erstellungszeitpunkt>
    </identifikation.nachricht>
    <leser>
      <behoerdenkennung><praefix><code>psw</code></praefix><kennung><code>11007007</code></kennung></behoerdenkennung>
      <behoerdenname>Standesamt Musterstadt</behoerdenname>
    </leser>
    <autor>
      <behoerdenkennung><praefix><code>sap</code></praefix><kennung><code>000000013</code></kennung></behoerdenkennung>
      <behoerdenname>Portal Musterland</behoerdenname>
    </autor>
  </nachrichtenkopf>
</p:portal2StA.Geburt.081020>"#;
    let m = parse(doc.as_bytes());
    let h = m.header.as_ref().expect("header");
    let author = h.author.as_ref().expect("author");
    assert_eq!(author.key(), "sap:000000013");
    assert_eq!(author.name.as_deref(), Some("Portal Musterland"));
    let reader = h.reader.as_ref().expect("reader");
    assert_eq!(reader.key(), "psw:11007007");
    assert_eq!(reader.name.as_deref(), Some("Standesamt Musterstadt"));
}

/// xdomea has no message id, only the process's `ProzessID`, which every
/// message of an archiving process carries: the offer (0501), the
/// archive's assessment (0502), the transfer (0503) and the receipt (0504)
/// of one process must still be told apart (one id would make the
/// transfer a duplicate of the offer, and the archive's answer another
/// sender's message with a known id).
#[test]
fn the_messages_of_one_xdomea_process_have_distinct_ids() {
    let mut ids = std::collections::HashSet::new();
    for file in [
        "pattern-3.0.0_xx_Aussonderung.Anbieteverzeichnis.0501.xml",
        "pattern-3.0.0_xx_Aussonderung.Bewertungsverzeichnis.0502.xml",
        "pattern-3.0.0_xx_Aussonderung.Aussonderung.0503.xml",
        "pattern-3.0.0_xx_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml",
    ] {
        let m = parse(&sample(&format!("xdomea/{file}")));
        let h = m.require_header().unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            h.process_id.as_ref().map(|p| p.as_str()),
            Some("242f44e8-bebf-4503-a086-db252c6a4277"),
            "{file}"
        );
        assert!(
            ids.insert(h.message_id.to_string()),
            "{file}: {}",
            h.message_id
        );
    }
    // Two receipts of one type in one process, to two readers (xdomea 3's
    // EmpfangsbestaetigungAnInitiator / AnVorgaenger): two ids.
    let receipt = String::from_utf8(sample(
        "xdomea/pattern-3.0.0_xx_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml",
    ))
    .expect("utf-8");
    let other = receipt.replacen(
        "EmpBehoerdenkennungPraefixCode",
        "AndererEmpfaengerPraefix",
        1,
    );
    assert_ne!(other, receipt);
    let id = |t: &str| {
        parse(t.as_bytes())
            .require_header()
            .expect("header")
            .message_id
            .to_string()
    };
    assert_ne!(id(&receipt), id(&other));
    // An XÖV header has no process id.
    let m = parse(MINIMAL.replace("MSGID", "abc-1").as_bytes());
    assert!(m.header.expect("header").process_id.is_none());
}

/// An element's text is read whole: spaces beside an entity, a character
/// reference, a comment or CDATA belong to it (each piece was trimmed:
/// "Bau- &amp; Planungsamt" read as "Bau-&Planungsamt", a reader
/// `xyz:<!-- -->&#x20;0002` as `xyz:0002`, which routed it to another
/// authority); only the whole is trimmed.
#[test]
fn header_text_keeps_its_inner_spaces() {
    let text = String::from_utf8(sample(
        "xbeteiligung/xbeteiligung-test-kommunal.Initiieren.0401.gwid-format.xml",
    ))
    .expect("utf-8");
    let edited = text
        .replacen(
            "<ns3:name>behoerde2</ns3:name>",
            "<ns3:name>\n  Bau- &amp; Planungsamt &lt;Nord&gt; <!-- amt --> Stadt<![CDATA[ Muster ]]>stadt\n</ns3:name>",
            1,
        )
        .replacen(
            "<ns3:kennung>xyz:0001</ns3:kennung>",
            "<ns3:kennung>xyz:<!-- x -->&#x20;0001</ns3:kennung>",
            1,
        );
    assert_ne!(edited, text);
    let m = parse(edited.as_bytes());
    let h = m.require_header().expect("header");
    let reader = h.reader.as_ref().expect("reader");
    assert_eq!(reader.id, "xyz:0002");
    assert_eq!(
        reader.name.as_deref(),
        Some("Bau- & Planungsamt <Nord>  Stadt Muster stadt")
    );
    assert_eq!(h.author.as_ref().expect("author").id, "xyz: 0001");
}

/// An OOTS slot with an intermediary platform (`IP`) beside the agent: the
/// message is from (or to) the agent classified for the slot's role, not
/// whichever comes first (the platform named first became the sender).
#[test]
fn an_oots_agent_is_chosen_by_its_classification_not_its_position() {
    let text = String::from_utf8(sample(
        "oots-edm/2.1_Step_1_Evidence_Request_-_Birth_-_full_example.xml",
    ))
    .expect("utf-8");
    let platform = r#"<rim:Element xsi:type="rim:AnyValueType"><sdg:Agent><sdg:Identifier schemeID="urn:cef.eu:names:identifier:EAS:9930">DE99999999</sdg:Identifier><sdg:Name lang="EN">Platform</sdg:Name><sdg:Classification>IP</sdg:Classification></sdg:Agent></rim:Element>"#;
    let slot = text
        .find(r#"<rim:Slot name="EvidenceRequester">"#)
        .expect("requester slot");
    let at = slot
        + text[slot..]
            .find(r#"<rim:Element xsi:type="rim:AnyValueType">"#)
            .expect("its collection's element");
    let first = format!("{}{platform}{}", &text[..at], &text[at..]);
    assert!(
        first.find("DE99999999") < first.find("DK22233223"),
        "platform first"
    );
    let m = parse(first.as_bytes());
    let h = m.require_header().expect("header");
    assert_eq!(
        h.author.as_ref().map(|a| a.key()).as_deref(),
        Some("0096:DK22233223")
    );
    // the sample as it is: the same requester
    assert_eq!(
        parse(text.as_bytes())
            .require_header()
            .expect("header")
            .author
            .as_ref()
            .map(|a| a.key())
            .as_deref(),
        Some("0096:DK22233223")
    );
}

/// xdomea's `Praefix` written with its colon (`ags:`, as the schema's
/// documentation writes it) or repeated in the `Kennung` gives the same
/// routing key as the plain form (it gave `ags::06411000`,
/// `ags:ags:06411000`).
#[test]
fn an_authority_prefix_is_joined_once() {
    let key = |prefix: Option<&str>, id: &str| {
        xoev_core::Authority {
            directory: None,
            prefix: prefix.map(str::to_owned),
            id: id.to_owned(),
            name: None,
        }
        .key()
    };
    assert_eq!(key(Some("ags"), "06411000"), "ags:06411000");
    assert_eq!(key(Some("ags:"), "06411000"), "ags:06411000");
    assert_eq!(key(Some(" ags "), "06411000"), "ags:06411000");
    assert_eq!(key(Some("ags"), "ags:06411000"), "ags:06411000");
    assert_eq!(key(None, "ags:06411000"), "ags:06411000");
    assert_eq!(key(Some(""), "06411000"), "06411000");
    assert_eq!(key(Some("EAS"), "0204:x"), "EAS:0204:x");
}

/// An OOTS response is evidence, deferred or an error by its status;
/// another status is named (it was read as an error response and refused
/// for "no Timestamp slot in its rs:Exception"), and a deferred response
/// must say when.
#[test]
fn an_oots_response_status_outside_the_edm_is_named() {
    let text =
        String::from_utf8(sample("oots-edm/synthetic-response-to-kita-kassel.xml")).expect("utf-8");
    for status in ["PartialSuccess", "success"] {
        let odd = text.replacen(
            "ResponseStatusType:Success",
            &format!("ResponseStatusType:{status}"),
            1,
        );
        assert_ne!(odd, text);
        let e = parse_err(odd.as_bytes()).to_string();
        assert!(
            e.contains(&format!(
                "has status \"urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:{status}\""
            )) && e.contains("Unavailable (deferred)"),
            "{e}"
        );
    }
    let deferred =
        String::from_utf8(sample("oots-edm/synthetic-deferred-response-birth.xml")).expect("utf-8");
    let h = parse(deferred.as_bytes());
    assert_eq!(
        h.require_header().expect("header").message_type.code,
        "DeferredResponse"
    );
    let start = deferred
        .find(r#"<rim:Slot name="ResponseAvailableDateTime">"#)
        .expect("slot");
    let end = start + deferred[start..].find("</rim:Slot>").expect("end") + "</rim:Slot>".len();
    let undated = format!("{}{}", &deferred[..start], &deferred[end..]);
    let e = parse_err(undated.as_bytes()).to_string();
    assert!(e.contains("no ResponseAvailableDateTime slot"), "{e}");
}

/// XWasser names the message a receipt acknowledges (or a message refers
/// to) in `nachrichtenkopf.g2g/referenzUUID`: it is the header's
/// `in_reply_to` (it was not read).
#[test]
fn an_xwasser_reference_is_the_message_replied_to() {
    let m = parse(&sample("xwasser/administration_receipt.xml"));
    let h = m.require_header().expect("header");
    assert_eq!(
        h.in_reply_to.as_ref().map(|i| i.as_str()),
        Some("693c64d6-456f-4d14-abe7-fe9681c74aae")
    );
}

/// An OOTS header slot given twice is ambiguous and refused (the first
/// won: a second EvidenceProvider was ignored, a second
/// SpecificationIdentifier decided whether it was OOTS at all).
#[test]
fn an_oots_header_slot_given_twice_is_refused() {
    let text =
        String::from_utf8(sample("oots-edm/synthetic-response-to-kita-kassel.xml")).expect("utf-8");
    for slot in ["EvidenceProvider", "SpecificationIdentifier"] {
        let start = text
            .find(&format!(r#"<rim:Slot name="{slot}">"#))
            .expect("slot");
        let end = start + text[start..].find("</rim:Slot>").expect("end") + "</rim:Slot>".len();
        let twice = format!("{}{}{}", &text[..end], &text[start..end], &text[end..]);
        let e = parse_err(twice.as_bytes()).to_string();
        assert!(e.contains(&format!("has the slot {slot} twice")), "{e}");
    }
}

/// xdomea 4 names further readers beside its `nachrichtenkopf`
/// (`WeitererLeser`): the ones with an identifier are read as
/// authorities, the others counted.
#[test]
fn xdomea_4_further_readers_beside_the_header() {
    let m = parse(&sample("xdomea/synthetic-4.0.0_Abgabe.Abgabe.0401.xml"));
    let h = m.header.as_ref().expect("header");
    assert_eq!(
        h.reader.as_ref().map(|r| r.key()).as_deref(),
        Some("ags:06412000")
    );
    let further: Vec<_> = h.further_readers.iter().map(|a| a.key()).collect();
    assert_eq!(further, ["archiv:06411000"]);
    assert_eq!(
        h.further_readers[0].name.as_deref(),
        Some("Stadtarchiv Darmstadt")
    );
    assert_eq!(h.further_readers_without_id, 1);
    // another xdomea 4 message without any: none read, nothing counted
    let m = parse(&sample(
        "xdomea/synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml",
    ));
    let h = m.header.as_ref().expect("header");
    assert!(h.further_readers.is_empty());
    assert_eq!(h.further_readers_without_id, 0);
}

/// xdomea 2/3 name them inside the `Kopf` (`WeitererEmpfaenger`), each
/// in the shapes the `Empfaenger` has.
#[test]
fn xdomea_3_further_recipients_inside_the_kopf() {
    let text = String::from_utf8(sample(
        "xdomea/pattern-3.0.0_xx_Aussonderung.Anbieteverzeichnis.0501.xml",
    ))
    .expect("utf-8");
    let further = r#"<xdomea:WeitererEmpfaenger>
      <xdomea:Behoerdenkennung>
        <xdomea:Behoerdenschluessel><code>0815</code></xdomea:Behoerdenschluessel>
        <xdomea:Praefix><code>ags</code></xdomea:Praefix>
      </xdomea:Behoerdenkennung>
    </xdomea:WeitererEmpfaenger>
    <xdomea:WeitererEmpfaenger>
      <xdomea:Institution><xdomea:Name>Nur ein Name</xdomea:Name></xdomea:Institution>
    </xdomea:WeitererEmpfaenger>
    <xdomea:WeitererEmpfaenger>
      <xdomea:Behoerdenkennung>
        <xdomea:Behoerdenschluessel><code>4711</code></xdomea:Behoerdenschluessel>
      </xdomea:Behoerdenkennung>
    </xdomea:WeitererEmpfaenger>
  </xdomea:Kopf>"#;
    let with = text.replacen("</xdomea:Kopf>", further, 1);
    assert_ne!(with, text);
    let m = parse(with.as_bytes());
    let h = m.header.as_ref().expect("header");
    let keys: Vec<_> = h.further_readers.iter().map(|a| a.key()).collect();
    assert_eq!(keys, ["ags:0815", "4711"]);
    assert_eq!(h.further_readers_without_id, 1);
    // the main reader is still the Empfaenger
    assert_eq!(
        h.reader.as_ref().map(|r| r.key()).as_deref(),
        Some("EmpBehoerdenkennungPraefixCode:LATh")
    );
}

/// The XML declaration belongs at the very start (after a byte order mark
/// at most): after white space or a comment the document is not
/// well-formed, and the header reader says so, as libxml2 would later —
/// the HTTP API answers 400 instead of accepting it first.
#[test]
fn an_xml_declaration_after_anything_is_malformed() {
    let sample = sample("xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml");
    assert!(sample.starts_with(b"<?xml"));
    for prefix in [&b" \n"[..], b"<!-- c -->"] {
        let mut bad = prefix.to_vec();
        bad.extend_from_slice(&sample);
        let e = parse_err(&bad);
        assert_eq!(e.kind, MessageErrorKind::Malformed, "{e}");
        assert!(e.detail.contains("very start"), "{e}");
    }
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&sample);
    parse(&bom);
}

#[test]
fn a_nul_byte_anywhere_is_malformed_not_the_end_of_the_document() {
    // a complete message, then a NUL and a second document: libxml2 would
    // stop at the NUL and never see what follows
    let mut bytes = sample("xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml");
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    bytes.extend_from_slice(b"\n\0<other/>");
    let e = parse_err(&bytes);
    assert_eq!(e.kind, MessageErrorKind::Malformed);
    assert!(e.to_string().contains("NUL byte"), "{e}");
    assert_eq!(
        e.line,
        Some(u32::try_from(lines + 2).expect("lines")),
        "{e}"
    );
}

#[test]
fn only_xml_white_space_is_trimmed_around_header_values() {
    let sample = String::from_utf8(sample(
        "xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml",
    ))
    .expect("utf-8");
    // XML's white space goes
    let spaced = sample.replace(
        "<bn-beh:kennung>ags:09162000</bn-beh:kennung>",
        "<bn-beh:kennung>\n  ags:09162000\t</bn-beh:kennung>",
    );
    let m = parse(spaced.as_bytes());
    let author = m
        .header
        .as_ref()
        .and_then(|h| h.author.as_ref())
        .expect("author");
    assert_eq!(author.key(), "ags:09162000");
    // a no-break space is content to XML: another id, not the same one
    let nbsp = sample.replace(
        "<bn-beh:kennung>ags:09162000</bn-beh:kennung>",
        "<bn-beh:kennung>ags:09162000\u{a0}</bn-beh:kennung>",
    );
    let m = parse(nbsp.as_bytes());
    let author = m
        .header
        .as_ref()
        .and_then(|h| h.author.as_ref())
        .expect("author");
    assert_eq!(author.key(), "ags:09162000\u{a0}");
    let e = parse_err(
        sample
            .replace(
                "3f1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1a02<",
                "3f1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1a02\u{a0}<",
            )
            .as_bytes(),
    );
    assert_eq!(e.kind, MessageErrorKind::Header, "{e}");
}

#[test]
fn an_authority_id_longer_than_255_bytes_is_a_header_error() {
    let sample = String::from_utf8(sample(
        "xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml",
    ))
    .expect("utf-8");
    let at_limit = format!("ags:{}", "0".repeat(251));
    let m = parse(
        sample
            .replace(
                "<bn-beh:kennung>ags:09162000<",
                &format!("<bn-beh:kennung>{at_limit}<"),
            )
            .as_bytes(),
    );
    assert_eq!(
        m.header.and_then(|h| h.author).map(|a| a.key()),
        Some(at_limit)
    );
    let e = parse_err(
        sample
            .replace(
                "<bn-beh:kennung>fa:9198<",
                &format!("<bn-beh:kennung>fa:{}<", "9".repeat(100_000)),
            )
            .as_bytes(),
    );
    assert_eq!(e.kind, MessageErrorKind::Header, "{e}");
    assert!(e.to_string().contains("100003 bytes long (max 255)"), "{e}");
    assert!(e.to_string().len() < 200, "the id is not echoed: {e}");
}

use super::*;
use crate::testutil::*;

fn adapter() -> XNachweisToXEStB {
    XNachweisToXEStB::new(minimisation())
}

fn translate_text(input: &str) -> Result<String, AdapterError> {
    adapter()
        .translate(input.as_bytes(), &ctx())
        .map(|b| String::from_utf8(b).unwrap_or_default())
}

#[test]
fn carries_tax_id_year_purpose_consent_and_correlation() {
    let out = translate_text(&text(KASSEL_REQ)).expect("translates");
    for needle in [
        "<xestb:steuerIdNr>12345678901</xestb:steuerIdNr>",
        "<xestb:veranlagungsjahr>2024</xestb:veranlagungsjahr>",
        "<xestb:zweck>urn:xoev-gateway:zweck:kita-beitrag</xestb:zweck>",
        "<xestb:einwilligungsreferenz>EW-KS-2025-000123</xestb:einwilligungsreferenz>",
        "<xestb:ursprungsanfrage>urn:uuid:7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1011</xestb:ursprungsanfrage>",
        "<bn-beh:kennung>fa:2613</bn-beh:kennung>",
        "<bn-beh:kennung>ags:06611000</bn-beh:kennung>",
        "<bn-g2g:erstellungszeitpunkt>2025-03-03T08:31:00Z</bn-g2g:erstellungszeitpunkt>",
    ] {
        assert!(out.contains(needle), "{needle} missing in\n{out}");
    }
}

#[test]
fn same_input_and_context_give_the_same_bytes() {
    let input = read(KASSEL_REQ);
    let a = adapter().translate(&input, &ctx()).expect("translates");
    let b = adapter().translate(&input, &ctx()).expect("translates");
    assert_eq!(a, b);
    let mut other = ctx();
    other.seed = uuid::Uuid::from_u128(1);
    let c = adapter().translate(&input, &other).expect("translates");
    assert_ne!(a, c, "the message id comes from the seed");
}

#[test]
fn request_without_tax_id_is_refused_naming_the_field() {
    let input = text("crates/xoev-adapters/tests/fixtures/bad/xnachweis-request-without-idnr.xml");
    let err = translate_text(&input).expect_err("must fail");
    assert_eq!(err.as_str(), "missing-field");
    assert_eq!(err.field(), Some(field::IDNR));
}

#[test]
fn the_founding_sample_without_a_year_is_refused_naming_the_year() {
    // The original synthetic request carries no year parameter.
    let input =
        text("tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml");
    let err = translate_text(&input).expect_err("must fail");
    assert_eq!(err.as_str(), "missing-field");
    assert_eq!(err.field(), Some(field::YEAR));
}

#[test]
fn year_in_the_future_is_refused() {
    let input = text(KASSEL_REQ).replace(
        "<xn-bk:AttributeValue>2024</xn-bk:AttributeValue>",
        "<xn-bk:AttributeValue>2031</xn-bk:AttributeValue>",
    );
    let err = translate_text(&input).expect_err("must fail");
    assert_eq!(
        err,
        AdapterError::YearInFuture {
            field: field::YEAR.into(),
            year: 2031,
            current: 2025
        }
    );
    assert_eq!(err.as_str(), "year-in-future");
}

#[test]
fn the_current_year_is_not_over_and_refused_too() {
    let input = text(KASSEL_REQ).replace(
        "<xn-bk:AttributeValue>2024</xn-bk:AttributeValue>",
        "<xn-bk:AttributeValue>2025</xn-bk:AttributeValue>",
    );
    assert_eq!(
        translate_text(&input).expect_err("must fail").as_str(),
        "year-in-future"
    );
}

#[test]
fn malformed_year_is_invalid_field() {
    let input = text(KASSEL_REQ).replace(
        "<xn-bk:AttributeValue>2024</xn-bk:AttributeValue>",
        "<xn-bk:AttributeValue>zwanzig</xn-bk:AttributeValue>",
    );
    let err = translate_text(&input).expect_err("must fail");
    assert_eq!(err.as_str(), "invalid-field");
    assert_eq!(err.field(), Some(field::YEAR));
}

#[test]
fn tax_id_of_wrong_length_is_invalid_field() {
    let input = text(KASSEL_REQ).replace("<xn-bk:IDNr>12345678901<", "<xn-bk:IDNr>1234<");
    let err = translate_text(&input).expect_err("must fail");
    assert_eq!(err.as_str(), "invalid-field");
    assert_eq!(err.field(), Some(field::IDNR));
}

#[test]
fn tax_id_with_leading_zero_is_invalid_field_and_not_quoted() {
    let input = text(KASSEL_REQ).replace("<xn-bk:IDNr>12345678901<", "<xn-bk:IDNr>02345678901<");
    let err = translate_text(&input).expect_err("must fail");
    assert_eq!(err.as_str(), "invalid-field");
    assert_eq!(err.field(), Some(field::IDNR));
    assert!(!err.to_string().contains("02345678901"), "{err}");
}

#[test]
fn missing_consent_is_refused() {
    let input = text(KASSEL_REQ).replace(crate::xnachweis::ATTR_CONSENT, "urn:other");
    let err = translate_text(&input).expect_err("must fail");
    assert_eq!(err.field(), Some(field::CONSENT));
}

#[test]
fn unconfigured_purpose_is_refused_before_asking() {
    let input = text(KASSEL_REQ).replace(
        "urn:xoev-gateway:zweck:kita-beitrag",
        "urn:xoev-gateway:zweck:neugier",
    );
    let err = translate_text(&input).expect_err("must fail");
    assert_eq!(err.as_str(), "purpose-not-allowed");
}

#[test]
fn another_message_type_is_refused() {
    let err = adapter()
        .translate(&read(KASSEL_ANS), &ctx())
        .expect_err("must fail");
    assert_eq!(err.as_str(), "unexpected-message");
}

#[test]
fn not_xml_is_malformed() {
    let err = translate_text("<a><b></a>").expect_err("must fail");
    assert_eq!(err.as_str(), "malformed-input");
}

/// Facts the caller read from the same document are used as they are;
/// facts of another request are ignored and the document is read.
#[test]
fn input_facts_of_the_same_request_are_reused_others_ignored() {
    let bytes = read(KASSEL_REQ);
    let doc = crate::xml::parse(&bytes).expect("parses");
    let plain = adapter().translate(&bytes, &ctx()).expect("translates");
    let facts = RequestFacts::from_document(&doc).expect("facts");

    let mut same = ctx();
    same.input_facts = Some(facts.clone());
    let reused = adapter()
        .translate_document(&doc, &same)
        .expect("translates");
    assert_eq!(reused, plain);

    // The facts are taken as given (here: another consent reference) …
    let mut given = facts.clone();
    given.consent = "EW-GIVEN".into();
    let mut with_given = ctx();
    with_given.input_facts = Some(given);
    let out = String::from_utf8(
        adapter()
            .translate_document(&doc, &with_given)
            .expect("translates"),
    )
    .expect("utf8");
    assert!(out.contains("<xestb:einwilligungsreferenz>EW-GIVEN<"));

    // … but only for the request they belong to.
    let mut other = facts;
    other.request_id = "urn:uuid:00000000-0000-4000-8000-000000000000".into();
    other.consent = "EW-OTHER".into();
    let mut with_other = ctx();
    with_other.input_facts = Some(other);
    assert_eq!(
        adapter()
            .translate_document(&doc, &with_other)
            .expect("translates"),
        plain
    );
}

#[test]
fn a_test_request_is_translated_into_a_test_request_and_a_productive_one_is_not() {
    // The Kassel sample is marked test="true"; XÖV allows any text there.
    let marked = text(KASSEL_REQ);
    assert!(
        marked.contains(" test=\"true\""),
        "the sample is a test message"
    );
    let out = translate_text(&marked.replacen(" test=\"true\"", " test=\"Probebetrieb\"", 1))
        .expect("translates");
    assert!(
        root_tag(&out).contains(" test=\"Probebetrieb\""),
        "{}",
        root_tag(&out)
    );
    let out = translate_text(&marked.replacen(" test=\"true\"", "", 1)).expect("translates");
    assert!(!root_tag(&out).contains("test="), "{}", root_tag(&out));
}

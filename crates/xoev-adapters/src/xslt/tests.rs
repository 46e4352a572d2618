use super::*;
use crate::testutil::*;

/// A fresh directory for one test's adapter files, removed when dropped.
fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("xoev-adapters-{test}-"))
        .tempdir()
        .expect("scratch dir")
}

fn write_adapter(dir: &Path, name: &str, xsl: &str) -> PathBuf {
    std::fs::write(dir.join(format!("{name}.xsl")), xsl).expect("write xsl");
    let toml = format!(
        "name = \"{name}\"\nstylesheet = \"{name}.xsl\"\nsource = {{ standard = \"XNachweis\", version = \"1.2.0\" }}\ntarget = {{ standard = \"XNachweis\", version = \"1.2.0\" }}\n"
    );
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, toml).expect("write toml");
    p
}

const HEAD: &str =
    r#"<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">"#;

#[test]
fn the_shipped_mapping_loads_and_names_the_missing_person() {
    let a = XsltAdapter::load(&repo().join("adapters/xnachweis-to-oots-edm.toml")).expect("loads");
    assert_eq!(a.info().name, "xnachweis-to-oots-edm");
    assert_eq!(a.info().target, StandardRef::new("OOTS-EDM", "1.0.0"));
    // A request about a legal person: the mapping stops with xsl:message.
    let input = text(KASSEL_REQ);
    let start = input.find("<xn-bk:NaturalPerson>").expect("person");
    let end =
        input.find("</xn-bk:NaturalPerson>").expect("person end") + "</xn-bk:NaturalPerson>".len();
    let legal = format!(
        "{}<xn-bk:LegalPerson><xn-bk:LegalName>Beispiel GmbH</xn-bk:LegalName><xn-bk:LevelOfAssurance listVersionID=\"1\"><code>High</code></xn-bk:LevelOfAssurance></xn-bk:LegalPerson>{}",
        &input[..start],
        &input[end..]
    );
    let err = a
        .translate(legal.as_bytes(), &ctx())
        .expect_err("must fail");
    assert_eq!(err.as_str(), "transform-failed");
    assert!(
        err.to_string()
            .contains("Query/LegalOrNaturalPerson/NaturalPerson"),
        "{err}"
    );
}

#[test]
fn document_function_cannot_read_files() {
    let tmp = scratch("document");
    let dir = tmp.path();
    let secret = dir.join("secret.xml");
    std::fs::write(&secret, "<secret>TOP-SECRET-VALUE</secret>").expect("write");
    let xsl = format!(
        r#"{HEAD}<xsl:template match="/"><out><xsl:copy-of select="document('{}')"/></out></xsl:template></xsl:stylesheet>"#,
        secret.display()
    );
    let a = XsltAdapter::load(&write_adapter(dir, "reader", &xsl)).expect("loads");
    match a.translate(&read(KASSEL_REQ), &ctx()) {
        Ok(out) => {
            let out = String::from_utf8_lossy(&out);
            assert!(
                !out.contains("TOP-SECRET-VALUE"),
                "document() read a file: {out}"
            );
        }
        Err(e) => assert_eq!(e.as_str(), "transform-failed", "{e}"),
    }
}

#[test]
fn writing_files_is_refused() {
    let tmp = scratch("write");
    let dir = tmp.path();
    let target = dir.join("written.xml");
    let xsl = format!(
        r#"<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:exsl="http://exslt.org/common" extension-element-prefixes="exsl"><xsl:template match="/"><exsl:document href="{}"><x/></exsl:document><out/></xsl:template></xsl:stylesheet>"#,
        target.display()
    );
    let a = XsltAdapter::load(&write_adapter(dir, "writer", &xsl)).expect("loads");
    let _ = a.translate(&read(KASSEL_REQ), &ctx());
    assert!(!target.exists(), "the stylesheet wrote a file");
}

#[test]
fn includes_are_refused_at_load() {
    let tmp = scratch("include");
    let dir = tmp.path();
    std::fs::write(dir.join("other.xsl"), format!("{HEAD}</xsl:stylesheet>")).expect("write");
    let xsl = format!(r#"{HEAD}<xsl:include href="other.xsl"/></xsl:stylesheet>"#);
    let err = XsltAdapter::load(&write_adapter(dir, "includer", &xsl)).expect_err("must fail");
    assert!(err.contains("includer.xsl"), "{err}");
    // said as what it is, not as a file that cannot be found
    assert!(
        err.contains("xsl:include (line 1) is not supported") && err.contains("self-contained"),
        "{err}"
    );
    let xsl = format!("{HEAD}\n<xsl:import href=\"other.xsl\"/></xsl:stylesheet>");
    let err = XsltAdapter::load(&write_adapter(dir, "importer", &xsl)).expect_err("must fail");
    assert!(
        err.contains("xsl:import (line 2) is not supported"),
        "{err}"
    );
}

#[test]
fn a_broken_stylesheet_is_reported_with_its_file_and_reason() {
    let tmp = scratch("broken");
    let dir = tmp.path();
    let xsl =
        format!(r#"{HEAD}<xsl:template match="/"><xsl:value-of/></xsl:template></xsl:stylesheet>"#);
    let err = XsltAdapter::load(&write_adapter(dir, "broken", &xsl)).expect_err("must fail");
    assert!(err.contains("broken.xsl"), "{err}");
    assert!(err.contains("select"), "libxslt's reason is kept: {err}");
    // libxslt names the stylesheet, not the parse's stand-in name
    assert!(!err.contains("message.xml"), "{err}");
    assert!(err.contains("file broken.xsl"), "{err}");
}

#[test]
fn a_doctype_in_a_stylesheet_is_refused() {
    let tmp = scratch("doctype");
    let dir = tmp.path();
    let xsl = format!(r#"<!DOCTYPE x [<!ENTITY e SYSTEM "/etc/passwd">]>{HEAD}</xsl:stylesheet>"#);
    let err = XsltAdapter::load(&write_adapter(dir, "doctype", &xsl)).expect_err("must fail");
    assert!(err.contains("DOCTYPE"), "{err}");
}

#[test]
fn every_broken_file_of_a_directory_is_reported_at_once() {
    let tmp = scratch("many");
    let dir = tmp.path();
    write_adapter(dir, "one", "not xml");
    write_adapter(dir, "two", &format!("{HEAD}<xsl:bogus/></xsl:stylesheet>"));
    std::fs::write(dir.join("three.toml"), "name = \"three\"\nunknown = 1\n").expect("write");
    let err = XsltAdapter::load_dir(dir).expect_err("must fail");
    assert_eq!(err.problems.len(), 3, "{err}");
    assert!(err.problems.iter().any(|p| p.contains("unknown")), "{err}");
}

#[test]
fn context_parameters_reach_the_stylesheet() {
    let tmp = scratch("params");
    let dir = tmp.path();
    let xsl = format!(
        r#"{HEAD}<xsl:param name="now"/><xsl:param name="id"/><xsl:param name="municipality"/><xsl:template match="/"><out now="{{$now}}" id="{{$id}}" ags="{{$municipality}}"/></xsl:template></xsl:stylesheet>"#
    );
    let a = XsltAdapter::load(&write_adapter(dir, "params", &xsl)).expect("loads");
    let mut c = ctx();
    c.municipality = Some("06411000".into());
    let out = String::from_utf8(a.translate(&read(KASSEL_REQ), &c).expect("runs")).expect("utf8");
    assert!(out.contains("now=\"2025-03-03T08:31:00Z\""), "{out}");
    assert!(
        out.contains(&format!("id=\"urn:uuid:{}\"", c.id("id"))),
        "{out}"
    );
    assert!(out.contains("ags=\"06411000\""), "{out}");
}

const XN_KASSEL_ANSWER: &str =
    "tests/samples/xnachweis/DE.EvidenceResponse.0102.synthetic-kita-kassel-beitragsstufe.xml";
const XN_DARMSTADT_ERROR: &str = "tests/samples/xnachweis/DE.EvidenceErrorResponse.0103.synthetic-kita-darmstadt-kein-bescheid.xml";
const XN_KASSEL_DEFERRED: &str =
    "crates/xoev-adapters/tests/golden/kassel-deferred-answer-to-oots/input.xml";
const STATUS: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:";

/// A shipped declarative adapter (`adapters/<name>.toml`).
fn shipped(name: &str) -> XsltAdapter {
    XsltAdapter::load(&repo().join(format!("adapters/{name}.toml"))).expect("loads")
}

/// The text of the error with which `adapter` refuses `input`.
fn refusal(adapter: &str, input: &str) -> String {
    let err = shipped(adapter)
        .translate(input.as_bytes(), &ctx())
        .expect_err("must be refused");
    assert_eq!(err.as_str(), "transform-failed", "{err}");
    err.to_string()
}

/// `text` with the answer's status code `from` replaced by `to`.
fn with_status(text: &str, from: &str, to: &str) -> String {
    let (from, to) = (
        format!("<code>{STATUS}{from}</code>"),
        format!("<code>{STATUS}{to}</code>"),
    );
    assert!(text.contains(&from), "status {from}");
    text.replacen(&from, &to, 1)
}

#[test]
fn a_partial_success_is_refused_not_passed_on_as_success() {
    let input = with_status(&text(XN_KASSEL_ANSWER), "Success", "PartialSuccess");
    let msg = refusal("xnachweis-response-to-oots-edm", &input);
    assert!(
        msg.contains(&format!("status: {STATUS}PartialSuccess")),
        "{msg}"
    );
    assert!(msg.contains("OOTS EDM 1.0 evidence response"), "{msg}");
}

#[test]
fn a_status_that_contradicts_the_answer_is_refused() {
    // Evidence under a deferred status, a deferred answer under Success,
    // and an error answer that is not a Failure.
    for (input, adapter_status) in [
        (
            with_status(&text(XN_KASSEL_ANSWER), "Success", "Unavailable"),
            "Unavailable",
        ),
        (
            with_status(&text(XN_KASSEL_DEFERRED), "Unavailable", "Success"),
            "Success",
        ),
        (
            with_status(&text(XN_DARMSTADT_ERROR), "Failure", "Success"),
            "Success",
        ),
    ] {
        let msg = refusal("xnachweis-response-to-oots-edm", &input);
        assert!(
            msg.contains(&format!("status: {STATUS}{adapter_status}")),
            "{msg}"
        );
    }
}

const XN_LEGAL_PERSON_ANSWER: &str =
    "crates/xoev-adapters/tests/golden/oots-answer-legal-person/input.xml";
const XN_PERSON_DETAILS_ANSWER: &str =
    "crates/xoev-adapters/tests/golden/oots-answer-person-details/input.xml";

/// `text` without its first element `<tag …>…</tag>` (no nesting of `tag`).
fn without(text: &str, tag: &str) -> String {
    let start = text
        .find(&format!("<{tag}"))
        .unwrap_or_else(|| panic!("{tag}"));
    let close = format!("</{tag}>");
    let end = start + text[start..].find(&close).expect("end tag") + close.len();
    format!("{}{}", &text[..start], &text[end..])
}

#[test]
fn an_address_without_its_country_is_refused_not_dropped() {
    // sdg:AddressType requires AdminUnitLevel1; XNachweis does not.
    let input = without(&text(XN_LEGAL_PERSON_ANSWER), "xn-bk:AdminUnitLevel1");
    let msg = refusal("xnachweis-response-to-oots-edm", &input);
    assert!(
        msg.contains(
            "EvidenceAvailability/RegistryObjectList[1]/LegalOrNaturalPerson/LegalPerson/RegisteredAddress/AdminUnitLevel1: missing"
        ),
        "{msg}"
    );
}

#[test]
fn a_gender_that_is_no_eidas_code_is_refused_without_repeating_it() {
    let input = text(XN_PERSON_DETAILS_ANSWER).replacen(
        "<xn-bk:Gender>Male</xn-bk:Gender>",
        "<xn-bk:Gender>männlich</xn-bk:Gender>",
        1,
    );
    let msg = refusal("xnachweis-response-to-oots-edm", &input);
    assert!(
        msg.contains("NaturalPerson/Gender: not an eIDAS gender code"),
        "{msg}"
    );
    assert!(!msg.contains("männlich"), "{msg}");
}

/// `input` translated by the shipped `adapter` the way the CLI does it: the
/// input validated against the source standard, the output against the
/// target standard.
fn translated(adapter: &str, input: &str) -> String {
    let root = repo();
    let registry =
        crate::Registry::load(&crate::Config::from_root(&root).expect("config")).expect("registry");
    let catalogue = xoev_schema::Catalogue::load(root.join("schemas")).expect("catalogue");
    let translator = crate::Translator::new(xoev_schema::Validator::new(
        std::sync::Arc::new(catalogue),
        xoev_core::Limits::default(),
    ));
    let chain = registry.chain(&[adapter]).expect("chain");
    let out = translator
        .run(&chain, input.as_bytes(), &ctx())
        .unwrap_or_else(|e| panic!("{adapter}: {e}"));
    String::from_utf8(out).expect("UTF-8")
}

/// An XNachweis address in Darmstadt, in XNachweis' element order.
const XN_ADDRESS: &str = concat!(
    "<xn-eu-edm:Address>",
    "<xn-bk:FullAddress>Rheinstraße 12a, 64283 Darmstadt</xn-bk:FullAddress>",
    "<xn-bk:Thoroughfare>Rheinstraße</xn-bk:Thoroughfare>",
    "<xn-bk:LocatorDesignator>12a</xn-bk:LocatorDesignator>",
    r#"<xn-bk:AdminUnitLevel1 listVersionID="2019-02-26"><code>DE</code></xn-bk:AdminUnitLevel1>"#,
    r#"<xn-bk:AdminUnitLevel2 listVersionID="2021"><code>DE71</code></xn-bk:AdminUnitLevel2>"#,
    "<xn-bk:PostCode>64283</xn-bk:PostCode>",
    "<xn-bk:PostCityName>Darmstadt</xn-bk:PostCityName>",
    "</xn-eu-edm:Address>",
);

/// The same address as `sdg:Address`, in the SDG profile's element order.
const SDG_ADDRESS: &str = concat!(
    "<sdg:Address>",
    "<sdg:FullAddress>Rheinstraße 12a, 64283 Darmstadt</sdg:FullAddress>",
    "<sdg:LocatorDesignator>12a</sdg:LocatorDesignator>",
    "<sdg:PostCode>64283</sdg:PostCode>",
    "<sdg:PostCityName>Darmstadt</sdg:PostCityName>",
    "<sdg:Thoroughfare>Rheinstraße</sdg:Thoroughfare>",
    "<sdg:AdminUnitLevel1>DE</sdg:AdminUnitLevel1>",
    "<sdg:AdminUnitLevel2>DE71</sdg:AdminUnitLevel2>",
    "</sdg:Address>",
);

/// `text` with `insert` placed before the first `before` after `after`.
fn insert_before(text: &str, after: &str, before: &str, insert: &str) -> String {
    let from = text.find(after).unwrap_or_else(|| panic!("{after}"));
    let at = from
        + text[from..]
            .find(before)
            .unwrap_or_else(|| panic!("{before}"));
    format!("{}{insert}{}", &text[..at], &text[at..])
}

/// Output without the white space between elements, to compare fragments.
fn compact(out: &str) -> String {
    out.lines().map(str::trim).collect()
}

#[test]
fn the_error_provider_keeps_its_address() {
    let input = insert_before(
        &text(XN_DARMSTADT_ERROR),
        "<xn-de:ErrorProvider>",
        "<xn-eu-edm:Classification",
        XN_ADDRESS,
    );
    let out = compact(&translated("xnachweis-response-to-oots-edm", &input));
    let provider = &out[out
        .find(r#"<rim:Slot name="ErrorProvider">"#)
        .expect("slot")..];
    assert!(
        provider.contains(&format!(
            "<sdg:Name lang=\"DE\">Finanzamt Darmstadt</sdg:Name>{SDG_ADDRESS}<sdg:Classification>"
        )),
        "{out}"
    );
}

#[test]
fn the_answer_names_the_requester_classified_er_not_a_platform_listed_first() {
    let platform = concat!(
        "<xn-de:EvidenceRequester>",
        r#"<xn-bk:Identifier schemeID="urn:cef.eu:names:identifier:EAS:0204">PLATFORM-01</xn-bk:Identifier>"#,
        r#"<xn-bk:Name><xn-bdt:value>Plattform</xn-bdt:value><xn-bdt:lang listVersionID="1"><code>de</code></xn-bdt:lang></xn-bk:Name>"#,
        r#"<xn-eu-edm:Classification listVersionID="1"><code>IP</code></xn-eu-edm:Classification>"#,
        "</xn-de:EvidenceRequester>",
    );
    let input = insert_before(
        &text(XN_KASSEL_ANSWER),
        "</xn-de:EvidenceProvider>",
        "<xn-de:EvidenceRequester>",
        platform,
    );
    let out = translated("xnachweis-response-to-oots-edm", &input);
    let requester = &out[out
        .find(r#"<rim:Slot name="EvidenceRequester">"#)
        .expect("slot")..];
    let requester = &requester[..requester.find("</rim:Slot>").expect("end")];
    assert!(requester.contains(">06611000-KITA-01<"), "{requester}");
    assert!(!requester.contains("PLATFORM-01"), "{requester}");
}

const XN_REQUEST_ADDRESS_GENDER: &str =
    "crates/xoev-adapters/tests/golden/oots-request-address-gender-authrep/input.xml";

#[test]
fn a_request_with_an_address_without_country_or_a_non_eidas_gender_is_refused() {
    let input = text(XN_REQUEST_ADDRESS_GENDER);
    // The second requester's address as the tester sent it: a full address only.
    let second = input.find("06411000-JA-01").expect("second requester");
    let no_country = format!(
        "{}{}",
        &input[..second],
        without(&input[second..], "xn-bk:AdminUnitLevel1")
    );
    let msg = refusal("xnachweis-to-oots-edm", &no_country);
    assert!(
        msg.contains("EvidenceRequester[2]/Address/AdminUnitLevel1: missing"),
        "{msg}"
    );
    let other_gender = input.replacen(
        "<xn-bk:Gender>Male</xn-bk:Gender>",
        "<xn-bk:Gender>divers</xn-bk:Gender>",
        1,
    );
    let msg = refusal("xnachweis-to-oots-edm", &other_gender);
    assert!(
        msg.contains("Query/LegalOrNaturalPerson/NaturalPerson/Gender: not an eIDAS gender code"),
        "{msg}"
    );
    assert!(!msg.contains("divers"), "{msg}");
}

#[test]
fn the_representative_is_checked_like_the_subject_and_named_in_the_message() {
    let input = text(XN_REQUEST_ADDRESS_GENDER);
    let rep = input
        .find("<xn-bk:AuthorizedRepresentative>")
        .expect("representative");
    let no_country = format!(
        "{}{}",
        &input[..rep],
        without(&input[rep..], "xn-bk:AdminUnitLevel1")
    );
    let msg = refusal("xnachweis-to-oots-edm", &no_country);
    assert!(
        msg.contains("Query/AuthorizedRepresentative/CurrentAdress/AdminUnitLevel1: missing"),
        "{msg}"
    );
}

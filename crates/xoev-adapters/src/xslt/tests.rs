use super::*;
use crate::testutil::*;

/// A fresh directory for one test's adapter files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xoev-adapters-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
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
    let dir = scratch("document");
    let secret = dir.join("secret.xml");
    std::fs::write(&secret, "<secret>TOP-SECRET-VALUE</secret>").expect("write");
    let xsl = format!(
        r#"{HEAD}<xsl:template match="/"><out><xsl:copy-of select="document('{}')"/></out></xsl:template></xsl:stylesheet>"#,
        secret.display()
    );
    let a = XsltAdapter::load(&write_adapter(&dir, "reader", &xsl)).expect("loads");
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
    let dir = scratch("write");
    let target = dir.join("written.xml");
    let xsl = format!(
        r#"<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:exsl="http://exslt.org/common" extension-element-prefixes="exsl"><xsl:template match="/"><exsl:document href="{}"><x/></exsl:document><out/></xsl:template></xsl:stylesheet>"#,
        target.display()
    );
    let a = XsltAdapter::load(&write_adapter(&dir, "writer", &xsl)).expect("loads");
    let _ = a.translate(&read(KASSEL_REQ), &ctx());
    assert!(!target.exists(), "the stylesheet wrote a file");
}

#[test]
fn includes_are_refused_at_load() {
    let dir = scratch("include");
    std::fs::write(dir.join("other.xsl"), format!("{HEAD}</xsl:stylesheet>")).expect("write");
    let xsl = format!(r#"{HEAD}<xsl:include href="other.xsl"/></xsl:stylesheet>"#);
    let err = XsltAdapter::load(&write_adapter(&dir, "includer", &xsl)).expect_err("must fail");
    assert!(err.contains("includer.xsl"), "{err}");
}

#[test]
fn a_broken_stylesheet_is_reported_with_its_file_and_reason() {
    let dir = scratch("broken");
    let xsl =
        format!(r#"{HEAD}<xsl:template match="/"><xsl:value-of/></xsl:template></xsl:stylesheet>"#);
    let err = XsltAdapter::load(&write_adapter(&dir, "broken", &xsl)).expect_err("must fail");
    assert!(err.contains("broken.xsl"), "{err}");
    assert!(err.contains("select"), "libxslt's reason is kept: {err}");
}

#[test]
fn a_doctype_in_a_stylesheet_is_refused() {
    let dir = scratch("doctype");
    let xsl = format!(r#"<!DOCTYPE x [<!ENTITY e SYSTEM "/etc/passwd">]>{HEAD}</xsl:stylesheet>"#);
    let err = XsltAdapter::load(&write_adapter(&dir, "doctype", &xsl)).expect_err("must fail");
    assert!(err.contains("DOCTYPE"), "{err}");
}

#[test]
fn every_broken_file_of_a_directory_is_reported_at_once() {
    let dir = scratch("many");
    write_adapter(&dir, "one", "not xml");
    write_adapter(&dir, "two", &format!("{HEAD}<xsl:bogus/></xsl:stylesheet>"));
    std::fs::write(dir.join("three.toml"), "name = \"three\"\nunknown = 1\n").expect("write");
    let err = XsltAdapter::load_dir(&dir).expect_err("must fail");
    assert_eq!(err.problems.len(), 3, "{err}");
    assert!(err.problems.iter().any(|p| p.contains("unknown")), "{err}");
}

#[test]
fn context_parameters_reach_the_stylesheet() {
    let dir = scratch("params");
    let xsl = format!(
        r#"{HEAD}<xsl:param name="now"/><xsl:param name="id"/><xsl:param name="municipality"/><xsl:template match="/"><out now="{{$now}}" id="{{$id}}" ags="{{$municipality}}"/></xsl:template></xsl:stylesheet>"#
    );
    let a = XsltAdapter::load(&write_adapter(&dir, "params", &xsl)).expect("loads");
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
